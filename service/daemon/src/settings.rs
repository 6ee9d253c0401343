//! Settings changed through the API (sharing, the node's name, port forwards, exposed ports),
//! kept in `settings.json` beside the key file. Once the owner changed them at run time, they
//! win over the config file. Files written before names and forwards existed hold only the
//! sharing fields at the top level, which is where they still live.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hypha_proto::firewall::{Incoming, Policy};
use hypha_proto::identity::NodeId;
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

/// The node's name claim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NameClaim {
    /// The name (without `.hypha`).
    pub name: String,
    /// When it was first claimed, ms since the Unix epoch (kept: the oldest claim wins).
    pub since_ms: u64,
}

/// A persisted port forward.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ForwardSetting {
    /// Local listen address.
    pub listen: String,
    /// `NODE:PORT`.
    pub target: String,
}

/// A persisted exposed port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExposeSetting {
    /// Overlay port.
    pub port: u16,
    /// Local service address.
    pub to: String,
}

/// A persisted firewall opening (see `hypha_proto::firewall::Rule`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RuleSetting {
    /// Node id (hex), or none for any node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Local port, or none for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `tcp`, `udp`, or none for both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
}

/// The inbound firewall's settings changed at run time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FirewallSetting {
    /// `contacts`, `everyone` or `nobody`; none: the config file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming: Option<String>,
    /// Trusted node ids (hex).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    /// Openings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleSetting>,
}

impl FirewallSetting {
    fn is_empty(&self) -> bool {
        *self == FirewallSetting::default()
    }
}

/// Everything in the file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    /// Sharing (top level, as in the first version of the file).
    #[serde(flatten)]
    pub sharing: Sharing,
    /// The node's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<NameClaim>,
    /// Port forwards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwards: Vec<ForwardSetting>,
    /// Exposed ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<ExposeSetting>,
    /// The inbound firewall.
    #[serde(default, skip_serializing_if = "FirewallSetting::is_empty")]
    pub firewall: FirewallSetting,
}

/// The file and its contents.
pub struct Settings {
    path: PathBuf,
    stored: Stored,
}

impl std::ops::Deref for Settings {
    type Target = Stored;
    fn deref(&self) -> &Stored {
        &self.stored
    }
}

impl std::ops::DerefMut for Settings {
    fn deref_mut(&mut self) -> &mut Stored {
        &mut self.stored
    }
}

impl Settings {
    /// Loads `dir/settings.json` (defaults if absent).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("settings.json");
        let stored: Stored = crate::peers::read_json_or_default(&path)?;
        if let Some(p) = stored.sharing.percent.filter(|&p| p > 100) {
            anyhow::bail!(
                "{}: sharing \"percent\" is {p}; it must be 0 to 100 (fix or delete the entry)",
                path.display()
            );
        }
        stored.firewall_policy(None).map_err(|e| {
            anyhow::anyhow!(
                "{}: firewall: {e} (fix or delete the entry)",
                path.display()
            )
        })?;
        Ok(Settings { path, stored })
    }

    /// Writes the file atomically.
    pub fn save(&self) -> Result<()> {
        hypha_ipc::keyfile::write_private(&self.path, &serde_json::to_vec_pretty(&self.stored)?)
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

impl Stored {
    /// The firewall policy these settings describe, on top of the config file's `incoming`
    /// (`None`: check the entries only). Exposed ports are open to the mesh.
    pub fn firewall_policy(&self, incoming: Option<&str>) -> Result<Policy, String> {
        use hypha_proto::firewall::{Proto, Rule};
        let fw = &self.firewall;
        let word = fw.incoming.as_deref().or(incoming).unwrap_or("contacts");
        let incoming = Incoming::parse(word)
            .ok_or_else(|| format!("incoming {word:?} is not contacts, everyone or nobody"))?;
        let node = |hex: &str| NodeId::from_hex(hex).map_err(|e| format!("node {hex:?}: {e}"));
        let contacts = fw
            .contacts
            .iter()
            .map(|c| node(c))
            .collect::<Result<_, _>>()?;
        let rules = fw
            .rules
            .iter()
            .map(|r| {
                let proto = r
                    .proto
                    .as_deref()
                    .map(|p| Proto::parse(p).ok_or(format!("protocol {p:?} is not tcp or udp")))
                    .transpose()?;
                Ok::<_, String>(Rule {
                    node: r.node.as_deref().map(node).transpose()?,
                    port: r.port,
                    proto,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Policy {
            incoming,
            contacts,
            rules,
            exposed: self.exposed.iter().map(|e| e.port).collect(),
        })
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
    fn files_of_the_first_version_still_load() {
        let old = r#"{"percent": 30, "uplinkBps": 100000000, "priorities": {"ab": 3}}"#;
        let s: Stored = serde_json::from_str(old).unwrap();
        assert_eq!(s.sharing.percent, Some(30));
        assert_eq!(s.sharing.priorities["ab"], 3);
        assert!(s.name.is_none() && s.forwards.is_empty());
        let mut s2 = s.clone();
        s2.name = Some(NameClaim {
            name: "cee".into(),
            since_ms: 5,
        });
        let back: Stored = serde_json::from_str(&serde_json::to_string(&s2).unwrap()).unwrap();
        assert_eq!(back, s2);
    }

    #[test]
    fn a_share_above_100_percent_is_refused_with_the_file_named() {
        let dir = std::env::temp_dir().join(format!("hypha-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("settings.json"), r#"{"percent": 250}"#).unwrap();
        let e = Settings::load(&dir).err().expect("refused").to_string();
        assert!(e.contains("settings.json") && e.contains("250"), "{e}");
        std::fs::write(dir.join("settings.json"), r#"{"percent": 100}"#).unwrap();
        assert_eq!(Settings::load(&dir).unwrap().sharing.percent, Some(100));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rates() {
        assert_eq!(transit_rate(30, Some(100_000_000)), Some(3_750_000));
        assert_eq!(transit_rate(0, None), Some(0));
        assert_eq!(transit_rate(50, None), None);
        assert_eq!(transit_rate(100, Some(8)), Some(1));
    }
}
