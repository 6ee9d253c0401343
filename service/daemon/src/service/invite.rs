//! Invite links (API side): `invite` lists where this node can be reached, `join` links to the
//! node of a link and, once one of its endpoints has linked, forgets the others.

use std::net::SocketAddr;
use std::time::Duration;

use hypha_ipc::api::{self, ApiError, ErrorCode, FirewallChange, Response};
use hypha_ipc::invite::{InviteLink, MAX_ENDPOINTS};
use hypha_proto::identity::NodeId;
use hypha_proto::node::{LinkState, Remote};
use hypha_proto::wire::fact::{ATTR_UDP_ENDPOINT, parse_endpoint};
use tokio::time::Instant;

use super::{Service, wall_micros};
use crate::config::Endpoint;

/// How long a join keeps trying every endpoint of its link before it leaves them all
/// configured (as peers added by hand would be).
const JOIN_WINDOW: Duration = Duration::from_secs(120);

/// A join whose endpoints are all configured until one of them links.
pub(super) struct PendingJoin {
    node: NodeId,
    uris: Vec<String>,
    until: Instant,
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, m.into())
}

impl Service {
    fn describe(&self, link: &InviteLink) -> api::Invite {
        let names = hypha_proto::names::settle(self.node.facts());
        api::Invite {
            link: link.to_link(),
            node_id: link.node.to_hex(),
            name: names
                .into_values()
                .find(|e| e.node == link.node)
                .map(|e| e.name),
            endpoints: link.endpoints.iter().map(|e| e.to_string()).collect(),
            expires_ms: link.expires_s.map(|s| s * 1000),
        }
    }

    /// Handles [`api::Request::Invite`]: the endpoints others have seen this node at (from
    /// signed facts: what a NAT maps it to), then its own interface addresses.
    pub(super) fn invite(&self, expires_s: Option<u64>) -> Result<Response, ApiError> {
        let listen = self
            .udp_listen
            .ok_or_else(|| bad("this node listens on no UDP port, so nobody could join it"))?;
        let me = self.node.node_id();
        let mut endpoints: Vec<SocketAddr> = Vec::new();
        // Vouched for by neighbours (a NAT's mapping); this node's own claims are its
        // interface addresses, added below when it listens on all of them.
        let seen = self.node.facts().all().filter(|f| f.subject == me);
        let seen = seen.filter(|f| f.attr == ATTR_UDP_ENDPOINT && f.signer != me);
        // Bound to one address, the node is reachable there only (even on loopback).
        let local = match listen.ip().is_unspecified() {
            true => crate::mcast::local_endpoints(listen.port()),
            false => vec![crate::udp::normalize(listen)],
        };
        for ep in seen.filter_map(|f| parse_endpoint(&f.value)).chain(local) {
            if !endpoints.contains(&ep) && endpoints.len() < MAX_ENDPOINTS {
                endpoints.push(ep);
            }
        }
        if endpoints.is_empty() {
            return Err(bad("this node has no address others could reach"));
        }
        let now_s = wall_micros() / 1_000_000;
        let link = InviteLink {
            node: me,
            endpoints,
            expires_s: expires_s.map(|e| now_s + e),
        };
        Ok(Response::Invite(self.describe(&link)))
    }

    /// Handles [`api::Request::Join`].
    pub(super) fn join(&mut self, text: &str, contact: bool) -> Result<Response, ApiError> {
        let link = InviteLink::parse(text).map_err(|e| bad(format!("invite link: {e}")))?;
        let now_s = wall_micros() / 1_000_000;
        if let Some(exp) = link.expires_s.filter(|&e| e < now_s) {
            return Err(bad(format!(
                "this invite expired {} minutes ago; ask for a new one",
                (now_s - exp) / 60
            )));
        }
        if link.node == self.node.node_id() {
            return Err(bad("that is this node's own invite"));
        }
        let internal = |e: anyhow::Error| ApiError::new(ErrorCode::Internal, format!("{e:#}"));
        let mut uris = Vec::new();
        for ep in &link.endpoints {
            let uri = format!("udp://{ep}");
            Endpoint::parse(&uri).map_err(|e| bad(format!("{uri}: {e:#}")))?;
            self.store.add(&uri).map_err(internal)?;
            self.add_peer(&uri).map_err(internal)?;
            uris.push(uri);
        }
        if contact {
            let node = link.node.to_hex();
            self.handle_firewall(Some(FirewallChange::AddContact { node }))?;
        }
        tracing::info!("joining {} at {}", link.node.to_hex(), uris.join(" "));
        self.joins.retain(|j| j.node != link.node);
        self.joins.push(PendingJoin {
            node: link.node,
            uris,
            until: Instant::now() + JOIN_WINDOW,
        });
        Ok(Response::Invite(self.describe(&link)))
    }

    /// Once a joined node has linked through one of its endpoints, drops the others from the
    /// configured peers, so that dead addresses are not dialled forever. Called every few
    /// seconds.
    pub(super) fn check_joins(&mut self) {
        if self.joins.is_empty() {
            return;
        }
        let links = self.node.links();
        let mut joins = std::mem::take(&mut self.joins);
        joins.retain(|j| {
            let linked = links.iter().find_map(|l| match l.remote {
                Remote::Udp(a) if l.state == LinkState::Up && l.node == Some(j.node) => Some(a),
                _ => None,
            });
            let Some(at) = linked else {
                if Instant::now() >= j.until {
                    tracing::warn!(
                        "joining {}: no endpoint linked in {} s; they stay configured peers",
                        j.node.to_hex(),
                        JOIN_WINDOW.as_secs()
                    );
                    return false;
                }
                return true;
            };
            let at = crate::udp::normalize(at);
            let used = |u: &String| {
                u.strip_prefix("udp://")
                    .and_then(|a| a.parse::<SocketAddr>().ok())
                    .is_some_and(|a| crate::udp::normalize(a) == at)
            };
            // A link that came in from the other side (or through an address not in the
            // link) leaves nothing to tell apart: keep them all.
            if j.uris.iter().any(used) {
                for u in j.uris.iter().filter(|u| !used(u)) {
                    let _ = self.store.remove(u);
                    self.remove_peer(u);
                }
            }
            tracing::info!("joined {} via {at}", j.node.to_hex());
            false
        });
        self.joins = joins;
    }
}
