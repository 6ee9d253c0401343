//! Sharing settings changed through the API, kept in `settings.json` beside the key file.
//! Once the owner changed them at run time, they win over the config file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// What is persisted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Sharing {
    /// Share, %.
    pub percent: Option<u8>,
    /// Uplink, bits per second.
    pub uplink_bps: Option<u64>,
    /// Priority weight per neighbour node id (hex).
    #[serde(default)]
    pub priorities: BTreeMap<String, u32>,
}

/// The file and its contents.
pub struct Settings {
    path: PathBuf,
    /// Current values.
    pub sharing: Sharing,
}

impl Settings {
    /// Loads `dir/settings.json` (defaults if absent).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("settings.json");
        let sharing = crate::peers::read_json_or_default(&path)?;
        Ok(Settings { path, sharing })
    }

    /// Writes the file atomically.
    pub fn save(&self) -> Result<()> {
        hypha_ipc::keyfile::write_private(&self.path, &serde_json::to_vec_pretty(&self.sharing)?)
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// The transit limit in bytes per second for a share of an uplink.
pub fn transit_rate(percent: u8, uplink_bps: Option<u64>) -> Option<u64> {
    match uplink_bps {
        Some(u) => Some(u / 8 * percent.min(100) as u64 / 100),
        None if percent == 0 => Some(0),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(transit_rate(30, Some(100_000_000)), Some(3_750_000));
        assert_eq!(transit_rate(0, None), Some(0));
        assert_eq!(transit_rate(50, None), None);
        assert_eq!(transit_rate(100, Some(8)), Some(1));
    }
}
