//! Neighbour links: handshakes, established sessions, and their frames.

pub mod handshake;
pub mod rekey;
