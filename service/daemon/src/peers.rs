//! Peers added through the API, kept in `peers.json` beside the key file so a restart keeps
//! them (peers from the config file and flags are not written here).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The persisted list.
pub struct PeerStore {
    /// The file (`peers.json`).
    pub path: PathBuf,
    /// URIs, in the order added.
    pub uris: Vec<String>,
}

/// Reads a JSON state file, or the default when it does not exist yet.
pub fn read_json_or_default<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).with_context(|| format!("{}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

impl PeerStore {
    /// Loads `dir/peers.json` (empty if absent).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("peers.json");
        let uris = read_json_or_default(&path)?;
        Ok(PeerStore { path, uris })
    }

    /// Adds (if new) and saves.
    pub fn add(&mut self, uri: &str) -> Result<()> {
        if !self.uris.iter().any(|u| u == uri) {
            self.uris.push(uri.to_string());
            self.save()?;
        }
        Ok(())
    }

    /// Removes (if present) and saves.
    pub fn remove(&mut self, uri: &str) -> Result<bool> {
        let before = self.uris.len();
        self.uris.retain(|u| u != uri);
        if self.uris.len() != before {
            self.save()?;
        }
        Ok(self.uris.len() != before)
    }

    fn save(&self) -> Result<()> {
        hypha_ipc::keyfile::write_private(&self.path, &serde_json::to_vec_pretty(&self.uris)?)
            .with_context(|| format!("writing {}", self.path.display()))
    }
}
