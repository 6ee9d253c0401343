//! Configuration: a TOML file at the per-OS path (or an embedded default when there is none),
//! with command-line flags on top.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The configuration used when no file exists: a public-mesh node with a TUN device that finds
/// neighbours on the LAN by multicast and listens on UDP and TCP port 9651.
pub const DEFAULT_CONFIG: &str = r#"# hyphad configuration
listen = ["udp://[::]:9651", "tcp://[::]:9651"]
peers = []
tun = true
tun_name = "hypha0"
mtu = 1374
multicast = true
discovery_port = 9652
# SOCKS5 proxy into the mesh (`off` to disable) and DNS responder for the .hypha zone.
socks = "127.0.0.1:1080"
dns = "127.0.0.1:5380"
# Who may open connections to this host over the mesh: `contacts` (and exposed ports and
# firewall rules), `everyone` or `nobody`. Answers to this host's own connections and ping
# always pass.
incoming = "contacts"
# HTTP API with OpenAPI document and Prometheus metrics, e.g. "127.0.0.1:8990" (loopback only;
# every request needs the bearer token in the state directory's `api-token`).
api_http = "off"
"#;

/// Settings, as read from TOML.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to accept links: `udp://addr:port`, `tcp://addr:port` (default UDP and TCP on
    /// port 9651; `[]` accepts none).
    #[serde(default = "default_listen")]
    pub listen: Vec<String>,
    /// Peers to keep links to: `udp://host:port`, `tcp://host:port`, `[v6]:port`, `host:port`.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Create a TUN device (off: the node still routes for others).
    #[serde(default = "yes")]
    pub tun: bool,
    /// TUN interface name.
    #[serde(default = "default_tun_name")]
    pub tun_name: String,
    /// TUN MTU.
    #[serde(default = "default_mtu")]
    pub mtu: u16,
    /// LAN discovery by multicast.
    #[serde(default = "yes")]
    pub multicast: bool,
    /// UDP port of LAN discovery.
    #[serde(default = "default_discovery_port")]
    pub discovery_port: u16,
    /// Identity key file (default: in the state directory).
    pub key_file: Option<PathBuf>,
    /// Private network name (needs `psk_file`).
    pub network: Option<String>,
    /// File holding the private network's pre-shared secret.
    pub psk_file: Option<PathBuf>,
    /// When non-empty, only these node ids (hex) get a link.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Write a JSON status snapshot here every half second.
    pub status_file: Option<PathBuf>,
    /// The local API socket (default: the per-OS path).
    pub ipc_socket: Option<PathBuf>,
    /// When non-empty, the message bus accepts only these topics (others are refused and the
    /// sender sees `failed`).
    #[serde(default)]
    pub bus_topics: Vec<String>,
    /// Uplink capacity (`100mbit`, `1gbit`, `500kbit`, or bits per second). Without it the
    /// service measures the uplink (the highest egress it sustains for 3 s) and the share
    /// applies to that once measured.
    pub uplink: Option<String>,
    /// Share of the uplink forwarded for others, 0–100 % (default 100; 0 stops all
    /// forwarding).
    #[serde(default = "full_share")]
    pub share: u8,
    /// Gossip endpoint facts and upgrade relayed traffic to direct links (default on).
    #[serde(default = "yes")]
    pub direct_paths: bool,
    /// Threads that seal outgoing packets besides the main loop, and as many that open
    /// received link frames (default: one per core beyond the first, at most 7; 0 seals and
    /// opens everything on the loop's thread).
    pub seal_threads: Option<usize>,
    /// SOCKS5 proxy listen address, or `off` (default `127.0.0.1:1080`).
    #[serde(default = "default_socks")]
    pub socks: String,
    /// DNS responder for `.hypha` listen address, or `off` (default `127.0.0.1:5380`).
    #[serde(default = "default_dns")]
    pub dns: String,
    /// Who may open connections to this host over the mesh: `contacts` (default),
    /// `everyone` or `nobody`. Changed at run time with `hypha firewall incoming`, which then
    /// wins.
    #[serde(default = "default_incoming")]
    pub incoming: String,
    /// HTTP API address (loopback only), e.g. `127.0.0.1:8990`, or `off` (the default). Every
    /// request needs the bearer token from `api_token_file`.
    #[serde(default = "off")]
    pub api_http: String,
    /// The HTTP API's bearer token file (default: `api-token` in the state directory; made at
    /// the first start, readable by root and group `hypha`).
    pub api_token_file: Option<PathBuf>,
    /// Testing only (a hidden flag, never from the file): gossip forged claims on this name.
    #[serde(skip)]
    pub debug_forge_name: Option<String>,
    /// Testing only (a hidden flag, never from the file): attack this node's routes.
    #[serde(skip)]
    pub debug_hostile_routes: Option<hypha_proto::identity::NodeId>,
}

fn default_listen() -> Vec<String> {
    vec!["udp://[::]:9651".into(), "tcp://[::]:9651".into()]
}
fn default_socks() -> String {
    "127.0.0.1:1080".into()
}
fn default_dns() -> String {
    "127.0.0.1:5380".into()
}

fn off() -> String {
    "off".into()
}

fn default_incoming() -> String {
    "contacts".into()
}

fn full_share() -> u8 {
    100
}

/// Parses `100mbit`, `1.5gbit`, `500kbit`, `64000` (bits per second).
pub fn parse_rate(s: &str) -> Result<u64> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(n) = t.strip_suffix("gbit") {
        (n, 1e9)
    } else if let Some(n) = t.strip_suffix("mbit") {
        (n, 1e6)
    } else if let Some(n) = t.strip_suffix("kbit") {
        (n, 1e3)
    } else if let Some(n) = t.strip_suffix("bit") {
        (n, 1.0)
    } else {
        (t.as_str(), 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .with_context(|| format!("rate {s:?}: use e.g. 100mbit"))?;
    if !(v.is_finite() && v > 0.0) {
        bail!("rate {s:?} must be positive");
    }
    // Below 1 kbit/s a share would forward nothing at all: surely a typo (`0.5bit`).
    let bps = v * mult;
    if bps < 1000.0 {
        bail!("rate {s:?} is below 1kbit: use e.g. 100mbit");
    }
    Ok(bps as u64)
}

fn yes() -> bool {
    true
}
fn default_tun_name() -> String {
    "hypha0".into()
}
fn default_mtu() -> u16 {
    hypha_proto::node::pmtu::DEFAULT_TUN_MTU
}
fn default_discovery_port() -> u16 {
    9652
}

impl Config {
    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        let c: Config = toml::from_str(text)?;
        c.validate()?;
        Ok(c)
    }

    /// Reads the file at `path`, or the embedded default if it does not exist.
    pub fn load(path: &std::path::Path) -> Result<(Self, bool)> {
        match std::fs::read_to_string(path) {
            Ok(t) => Ok((
                Self::parse(&t).with_context(|| format!("config {}", path.display()))?,
                true,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((
                Self::parse(DEFAULT_CONFIG).expect("default config parses"),
                false,
            )),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Checks what can be checked without the network.
    pub fn validate(&self) -> Result<()> {
        for l in &self.listen {
            let ep = Endpoint::parse(l).with_context(|| format!("listen {l:?}"))?;
            if ep.host.parse::<std::net::IpAddr>().is_err() {
                bail!("listen {l:?}: give an IP address, not a host name");
            }
        }
        for p in &self.peers {
            Endpoint::parse(p).with_context(|| format!("peer {p:?}"))?;
        }
        if self.mtu < 1280 {
            bail!("mtu {} is below the IPv6 minimum of 1280", self.mtu);
        }
        let max = hypha_proto::node::pmtu::MAX_TUN_MTU;
        if self.mtu > max {
            bail!(
                "mtu {} is above {max}: its packets would not fit one UDP datagram",
                self.mtu
            );
        }
        if let Some(n) = self.seal_threads
            && n > crate::sealer::MAX_THREADS
        {
            bail!(
                "seal_threads {n} is above {}: more would only wait",
                crate::sealer::MAX_THREADS
            );
        }
        if self.network.is_some() != self.psk_file.is_some() {
            bail!("a private network needs both `network` and `psk_file`");
        }
        if hypha_proto::firewall::Incoming::parse(&self.incoming).is_none() {
            bail!(
                "incoming {:?}: must be contacts, everyone or nobody",
                self.incoming
            );
        }
        if self.api_http != "off" {
            let a: SocketAddr = self.api_http.parse().with_context(|| {
                format!(
                    "api_http {:?}: give an address and port, e.g. 127.0.0.1:8990",
                    self.api_http
                )
            })?;
            if !a.ip().is_loopback() {
                bail!(
                    "api_http {:?}: the HTTP API listens on loopback only (127.0.0.1 or [::1])",
                    self.api_http
                );
            }
        }
        if self.share > 100 {
            bail!("share {} is above 100 %", self.share);
        }
        if let Some(u) = &self.uplink {
            parse_rate(u)?;
        }
        for a in &self.allow {
            hypha_proto::identity::NodeId::from_hex(a).with_context(|| format!("allow {a:?}"))?;
        }
        Ok(())
    }
}

/// Link transport of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP (the default).
    Udp,
    /// TCP.
    Tcp,
}

/// A parsed `scheme://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Transport.
    pub transport: Transport,
    /// Host name or IP literal (without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Endpoint {
    /// Parses `udp://h:p`, `tcp://h:p`, `[v6]:p`, `h:p` (UDP).
    pub fn parse(s: &str) -> Result<Self> {
        // Newlines and NULs would end up in the log and in peers.json.
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            bail!("peer {s:?} contains whitespace or control characters");
        }
        let (transport, rest) = match s.split_once("://") {
            Some(("udp", r)) => (Transport::Udp, r),
            Some(("tcp", r)) => (Transport::Tcp, r),
            Some((other, _)) => bail!("unknown transport {other:?} (use udp:// or tcp://)"),
            None => (Transport::Udp, s),
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, p) = r.split_once(']').context("unclosed [")?;
            (h, p.strip_prefix(':').context("missing :port")?)
        } else {
            rest.rsplit_once(':').context("missing :port")?
        };
        if host.is_empty() {
            bail!("missing host");
        }
        let port: u16 = port.parse().context("bad port")?;
        if port == 0 {
            bail!("port 0");
        }
        Ok(Endpoint {
            transport,
            host: host.to_string(),
            port,
        })
    }

    /// Resolves the host (IP literals need no lookup).
    pub async fn resolve(&self) -> Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("resolving {}", self.host))?
            .collect();
        if addrs.is_empty() {
            bail!("{} has no address", self.host);
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("udp://[fe80::1%2]:9651").unwrap();
        assert_eq!(
            (e.transport, e.host.as_str(), e.port),
            (Transport::Udp, "fe80::1%2", 9651)
        );
        let e = Endpoint::parse("tcp://example.org:443").unwrap();
        assert_eq!((e.transport, e.port), (Transport::Tcp, 443));
        let e = Endpoint::parse("10.0.0.1:5").unwrap();
        assert_eq!(e.transport, Transport::Udp);
        assert!(Endpoint::parse("quic://a:1").is_err());
        assert!(Endpoint::parse("a").is_err());
        assert!(Endpoint::parse("a:0").is_err());
        assert!(Endpoint::parse("[::1:5").is_err());
    }

    #[test]
    fn default_config_and_validation() {
        let c = Config::parse(DEFAULT_CONFIG).unwrap();
        assert!(c.tun && c.multicast);
        // A key missing from a file takes the embedded default: an empty file is the default.
        assert_eq!(
            Config::parse("").unwrap(),
            Config::parse(DEFAULT_CONFIG).unwrap()
        );
        assert_eq!(Config::parse("peers = []").unwrap().listen.len(), 2);
        assert!(Config::parse("listen = []").unwrap().listen.is_empty());
        assert!(Config::parse("mtu = 500").is_err());
        assert!(Config::parse("mtu = 65430").is_err());
        assert!(Config::parse("mtu = 65429").is_ok());
        assert!(Endpoint::parse("udp://a\nb:1").is_err());
        assert!(Endpoint::parse("udp://a\0:1").is_err());
        assert!(Endpoint::parse("udp://a b:1").is_err());
        assert!(Endpoint::parse("udp://ab:1").is_ok());
        assert!(Config::parse("bogus = 1").is_err());
        assert!(Config::parse("network = \"x\"").is_err());
        assert!(Config::parse("allow = [\"zz\"]").is_err());
        assert!(Config::parse("listen = [\"udp://host.example:1\"]").is_err());
        assert!(Config::parse("share = 101").is_err());
        assert!(Config::parse("uplink = \"fast\"").is_err());
        assert_eq!(parse_rate("100mbit").unwrap(), 100_000_000);
        assert_eq!(parse_rate("1.5gbit").unwrap(), 1_500_000_000);
        assert_eq!(parse_rate("64000").unwrap(), 64_000);
        assert!(parse_rate("0.5bit").is_err());
        assert!(parse_rate("999").is_err());
        assert_eq!(parse_rate("1kbit").unwrap(), 1000);
    }
}
