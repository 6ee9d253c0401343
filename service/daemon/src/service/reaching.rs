//! Reaching services: names, resolution, port forwards and exposed ports (API side), and
//! starting the SOCKS5 proxy, the DNS responder and — without a TUN — the userspace stack.

use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;

use hypha_ipc::api::{self, ApiError, ErrorCode, Response};
use hypha_proto::address::{Subnet, in_overlay};
use hypha_proto::identity::NodeId;
use hypha_proto::names;
use tokio::sync::mpsc;

use super::handlers::internal;
use super::{Service, wall_micros};
use crate::config::Config;
use crate::dns::{self, DnsCounters};
use crate::forward::Forwarding;
use crate::ipc::ApiCall;
use crate::reach::{Reach, Stack};
use crate::settings::{ExposeSetting, ForwardSetting, NameClaim};
use crate::socks::{self, SocksCounters};

/// What the reaching side runs, kept by the service.
pub(super) struct Reaching {
    pub forwarding: Forwarding,
    pub socks: Arc<SocksCounters>,
    pub dns: Arc<DnsCounters>,
    /// Packets for the userspace stack (no TUN), and its counters' handle.
    pub user_stack: Option<(mpsc::Sender<Vec<u8>>, hypha_netstack::NetStack)>,
}

/// Packets the userspace stack sends (into the mesh, like packets read from a TUN).
pub(super) type StackOut = Option<mpsc::Receiver<Vec<u8>>>;

/// Starts the userspace stack (when there is no TUN), the SOCKS5 proxy and the DNS
/// responder.
pub(super) async fn start(
    cfg: &Config,
    own: Ipv6Addr,
    with_tun: bool,
    calls: mpsc::Sender<ApiCall>,
) -> anyhow::Result<(Reaching, StackOut)> {
    let (stack, user_stack, out) = if with_tun {
        (Stack::Kernel, None, None)
    } else {
        let (ns, packets, run) = hypha_netstack::new(hypha_netstack::Config {
            addr: own,
            mtu: cfg.mtu as usize,
            connect_timeout: crate::reach::CONNECT_TIMEOUT,
            buffer: 256 * 1024,
        });
        tokio::spawn(run);
        (
            Stack::User(ns.clone()),
            Some((packets.inbound, ns)),
            Some(packets.outbound),
        )
    };
    let reach = Reach::new(calls, stack, own);
    let socks = Arc::new(SocksCounters::default());
    // A taken port (another proxy on 1080, say) must not keep the mesh down: say so loudly
    // and run without that listener.
    if let Some(addr) = enabled(&cfg.socks)? {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                tracing::info!("SOCKS5 proxy on {addr}");
                if !addr.ip().is_loopback() {
                    // It has no authentication: anyone who reaches it reaches the mesh as us.
                    tracing::warn!(
                        "the SOCKS5 proxy on {addr} is not on loopback: every host that can reach \
                         it can use the mesh in this node's name (it has no authentication)"
                    );
                }
                tokio::spawn(socks::serve(l, reach.clone(), socks.clone()));
            }
            Err(e) => tracing::error!(
                "SOCKS5 proxy on {addr}: {e}; running without it (set `socks` to another address or \"off\")"
            ),
        }
    }
    let dns = Arc::new(DnsCounters::default());
    if let Some(addr) = enabled(&cfg.dns)? {
        match dns::bind(addr).await {
            Ok(s) => {
                tracing::info!("DNS responder for .hypha on {addr}");
                tokio::spawn(dns::serve(s, reach.clone(), dns.clone()));
            }
            Err(e) => tracing::error!(
                "{e:#}; running without it (set `dns` to another address or \"off\")"
            ),
        }
    }
    Ok((
        Reaching {
            forwarding: Forwarding::new(reach),
            socks,
            dns,
            user_stack,
        },
        out,
    ))
}

/// `off` (or empty) disables a listener; otherwise it is an address.
fn enabled(s: &str) -> anyhow::Result<Option<SocketAddr>> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| anyhow::anyhow!("{t:?} is not an address like 127.0.0.1:1080 (or \"off\")"))
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, m)
}

impl Service {
    /// Re-creates persisted forwards and exposed ports, and the name claim, at start.
    pub(super) fn restore_reaching(&mut self) {
        for f in self.settings.forwards.clone() {
            if let Err(e) = self.reaching.forwarding.add_forward(&f.listen, &f.target) {
                tracing::warn!("forward {} → {}: {e}", f.listen, f.target);
            }
        }
        for x in self.settings.exposed.clone() {
            if let Err(e) = self.reaching.forwarding.expose(x.port, &x.to) {
                tracing::warn!("expose {} → {}: {e}", x.port, x.to);
            }
        }
        if let Some(c) = self.settings.name.clone() {
            let now = self.now();
            self.node.set_name(now, Some((c.name, c.since_ms)));
        }
    }

    /// Resolves a name, node id or overlay address (see [`api::Request::Resolve`]).
    pub(super) fn resolve(&self, input: &str) -> Result<api::Resolved, ApiError> {
        let s = input.trim().trim_end_matches('.').to_ascii_lowercase();
        let me = self.node.node_id();
        let base = s.strip_suffix(".hypha").unwrap_or(&s);
        // Over DNS a node id (64 digits) must be split into labels of at most 63.
        let joined = base.replace('.', "");
        let node = if let Ok(id) = NodeId::from_hex(base).or_else(|_| NodeId::from_hex(&joined)) {
            id
        } else if let Ok(addr) = s.trim_matches(['[', ']']).parse::<Ipv6Addr>() {
            if !in_overlay(&addr.octets()) {
                return Err(bad(format!("{addr} is not a mesh address")));
            }
            if Subnet::of(&addr.octets()) == me.subnet() {
                me
            } else {
                self.node_at(&addr).ok_or_else(|| {
                    ApiError::new(ErrorCode::NotFound, format!("no route to {addr}"))
                })?
            }
        } else {
            names::check(base).map_err(|e| bad(format!("{input:?}: {e}")))?;
            names::resolve(self.node.facts(), base).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("no node is named {base}.hypha"),
                )
            })?
        };
        let name = names::settle(self.node.facts())
            .into_values()
            .find(|e| e.node == node)
            .map(|e| e.name);
        Ok(api::Resolved {
            node_id: node.to_hex(),
            address: node.address().to_string(),
            name,
            reachable: node == me || self.node.babel().lookup(&node.subnet()).is_some(),
        })
    }

    fn names(&self) -> Vec<api::NameRecord> {
        names::settle(self.node.facts())
            .into_values()
            .map(|e| api::NameRecord {
                name: e.name,
                node_id: e.node.to_hex(),
                address: e.node.address().to_string(),
                since_ms: e.since_ms,
                contenders: e.contenders.iter().map(|n| n.to_hex()).collect(),
            })
            .collect()
    }

    /// Claims (or drops) this node's name.
    pub(super) fn set_name(&mut self, name: Option<String>) -> Result<Response, ApiError> {
        let claim = match name {
            Some(n) => {
                let n = names::normalise(&n);
                names::check(&n).map_err(|e| bad(format!("{n:?}: {e}")))?;
                // Re-claiming the same name keeps its age, which is what wins conflicts.
                let since_ms = match &self.settings.name {
                    Some(c) if c.name == n => c.since_ms,
                    _ => wall_micros() / 1000,
                };
                Some(NameClaim { name: n, since_ms })
            }
            None => None,
        };
        self.settings.name = claim.clone();
        self.settings.save().map_err(internal)?;
        let now = self.now();
        self.node.set_name(now, claim.map(|c| (c.name, c.since_ms)));
        Ok(Response::Names(self.names()))
    }

    /// The API's names, resolution and forwarding requests.
    pub(super) fn handle_reaching(&mut self, request: api::Request) -> Result<Response, ApiError> {
        use api::Request as R;
        let fwd = |s: &Self| Ok(Response::Forwards(s.reaching.forwarding.list()));
        match request {
            R::SetName { name } => self.set_name(name),
            R::Names => Ok(Response::Names(self.names())),
            R::Resolve { name } => self.resolve(&name).map(Response::Resolved),
            R::Forwards => fwd(self),
            R::AddForward { listen, target } => {
                let key = self
                    .reaching
                    .forwarding
                    .add_forward(&listen, &target)
                    .map_err(bad)?;
                self.settings.forwards.retain(|f| f.listen != key);
                self.settings.forwards.push(ForwardSetting {
                    listen: key,
                    target: target.trim().to_string(),
                });
                self.settings.save().map_err(internal)?;
                fwd(self)
            }
            R::RemoveForward { listen } => {
                let had = self.reaching.forwarding.remove_forward(&listen);
                let before = self.settings.forwards.len();
                let key = crate::forward::listen_key(&listen);
                self.settings.forwards.retain(|f| f.listen != key);
                if !had && before == self.settings.forwards.len() {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no forward on {listen}"),
                    ));
                }
                self.settings.save().map_err(internal)?;
                fwd(self)
            }
            R::Expose { port, to } => {
                let to = to.unwrap_or_else(|| format!("127.0.0.1:{port}"));
                self.reaching.forwarding.expose(port, &to).map_err(bad)?;
                self.settings.exposed.retain(|x| x.port != port);
                self.settings.exposed.push(ExposeSetting { port, to });
                self.settings.save().map_err(internal)?;
                self.apply_firewall();
                fwd(self)
            }
            R::Unexpose { port } => {
                let had = self.reaching.forwarding.unexpose(port);
                let before = self.settings.exposed.len();
                self.settings.exposed.retain(|x| x.port != port);
                if !had && before == self.settings.exposed.len() {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("port {port} is not exposed"),
                    ));
                }
                self.settings.save().map_err(internal)?;
                self.apply_firewall();
                fwd(self)
            }
            other => Err(ApiError::new(
                ErrorCode::Internal,
                format!("not a reaching request: {other:?}"),
            )),
        }
    }

    /// Testing only (`--debug-forge-name`): gossips a claim on `name` whose signature no
    /// longer matches, and a claim on it for a neighbour's id signed by this node.
    pub(super) fn gossip_forgeries(&mut self, name: &str) {
        use hypha_proto::wire::fact::{ATTR_NAME, FactRepr, name_value};
        let me = self.node.node_id();
        let wall = wall_micros() / 1000;
        let mut forged = FactRepr::signed(
            self.node.identity(),
            me,
            ATTR_NAME,
            name_value(name, 1),
            wall,
            300,
        );
        forged.value = name_value(name, 0);
        self.node.gossip_unchecked(forged);
        // Without a neighbour there is nobody else to speak for (a claim for our own id would
        // be a valid one, not a forgery).
        let Some(other) = self.node.links().iter().find_map(|l| l.node) else {
            return;
        };
        let vouched = FactRepr::signed(
            self.node.identity(),
            other,
            ATTR_NAME,
            name_value(name, 0),
            wall,
            300,
        );
        self.node.gossip_unchecked(vouched);
    }

    /// Counters of the proxy, the responder and forwards, for status and metrics.
    pub(super) fn reaching_counters(&self) -> Vec<(&'static str, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        let (s, d) = (&self.reaching.socks, &self.reaching.dns);
        vec![
            ("socks.accepted", s.accepted.load(Relaxed)),
            ("socks.connected", s.connected.load(Relaxed)),
            ("socks.failed", s.failed.load(Relaxed)),
            ("socks.malformed", s.malformed.load(Relaxed)),
            ("dns.answered", d.answered.load(Relaxed)),
            ("dns.nxdomain", d.nxdomain.load(Relaxed)),
            ("dns.refused", d.refused.load(Relaxed)),
            ("dns.malformed", d.malformed.load(Relaxed)),
            ("forwards.failed", self.reaching.forwarding.failures()),
        ]
    }
}
