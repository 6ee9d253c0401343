//! Sans-IO protocol core of Hypha.
//!
//! Nothing here reads a clock, opens a socket or spawns a task: time ([`time::Timestamp`]) and
//! randomness (a seed) come in as arguments, and output is pulled with `poll_*` calls on
//! [`node::Node`]. The daemon (`hyphad`) and the simulator (`hypha sim`) drive the same code.

pub mod address;
pub mod babel;
pub mod bus;
pub mod crypto;
pub mod discovery;
pub mod facts;
pub mod firewall;
pub mod icmp6;
pub mod identity;
pub mod link;
pub mod names;
pub mod node;
mod queue;
pub mod replay;
pub mod sched;
pub mod session;
pub mod time;
pub mod uplink;
pub mod wire;
