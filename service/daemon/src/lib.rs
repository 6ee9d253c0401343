//! The Hypha service as a library: `hyphad` (`main.rs`) is a thin command line around
//! [`service::run`]; the fuzz targets reach the input parsers through [`fuzzing`].

pub mod config;
mod dns;
mod forward;
pub mod fuzzing;
pub mod http;
mod ipc;
mod mcast;
pub mod opener;
mod peers;
mod reach;
pub mod sealer;
pub mod service;
mod settings;
mod socks;
mod status;
mod store;
mod tcp;
mod udp;
mod udp_io;
#[cfg(windows)]
mod winacl;
#[cfg(windows)]
pub mod winsvc;
mod workers;
