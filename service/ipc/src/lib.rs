//! What the Hypha service (`hyphad`) and its clients (`hypha`, the tray app) share locally:
//! per-OS paths and the identity key file format.

pub mod keyfile;
pub mod paths;
