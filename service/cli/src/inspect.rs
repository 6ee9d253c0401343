//! `hypha inspect`: a node id's address and /64, from a key file or a given public key.

use std::path::PathBuf;

use anyhow::{Context, Result};
use hypha_proto::identity::NodeId;
use serde::Serialize;

/// Inspect options.
#[derive(clap::Args)]
pub struct Args {
    /// A public key (64 hex characters). Without it, the key file's key is shown.
    pubkey: Option<String>,
    /// Key file (32-byte seed, hex). Created with a new key if it does not exist.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Out {
    public_key: String,
    address: String,
    subnet: String,
}

pub fn run(a: Args) -> Result<()> {
    let id = match &a.pubkey {
        Some(hex) => NodeId::from_hex(hex).with_context(|| format!("public key {hex:?}"))?,
        None => {
            let path = a
                .key_file
                .clone()
                .unwrap_or_else(hypha_ipc::paths::user_key_file);
            hypha_ipc::keyfile::load_or_create(&path)?.0.node_id()
        }
    };
    let out = Out {
        public_key: id.to_hex(),
        address: id.address().to_string(),
        subnet: id.subnet().to_string(),
    };
    if a.json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!("public key  {}", out.public_key);
        println!("address     {}", out.address);
        println!("subnet      {}", out.subnet);
    }
    Ok(())
}
