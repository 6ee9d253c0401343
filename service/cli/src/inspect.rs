//! `hypha inspect`: a node id's address and /64, from a key file or a given public key.

use std::path::PathBuf;

use anyhow::{Context, Result};
use hypha_proto::identity::{Identity, NodeId};
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

/// Default key file for a user running the CLI without the daemon.
fn default_key_file() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("hypha").join("key")
}

/// Reads a seed from `path`, or creates the file with a fresh one (0600, written atomically).
pub fn load_or_create_key(path: &std::path::Path) -> Result<Identity> {
    match std::fs::read_to_string(path) {
        Ok(s) => {
            let s = s.trim();
            let bytes = (0..s.len())
                .step_by(2)
                .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .filter(|b| b.len() == 32)
                .with_context(|| format!("{}: not a 64-hex-digit key", path.display()))?;
            Ok(Identity::from_seed(bytes.try_into().expect("32 bytes")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let id = Identity::from_seed(seed);
            let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
            write_private(path, format!("{hex}\n").as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(id)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes a secret file atomically with mode 0600 (where the OS has modes).
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

pub fn run(a: Args) -> Result<()> {
    let id = match &a.pubkey {
        Some(hex) => NodeId::from_hex(hex).with_context(|| format!("public key {hex:?}"))?,
        None => {
            let path = a.key_file.clone().unwrap_or_else(default_key_file);
            load_or_create_key(&path)?.node_id()
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
