//! What the Hypha service (`hyphad`) and its clients (`hypha`, the tray app) share locally:
//! the API ([`api`]), its framing ([`frame`]) and a client ([`client`]); per-OS paths; the
//! identity key file format.

pub mod api;
pub mod client;
pub mod frame;
pub mod invite;
pub mod keyfile;
pub mod paths;
