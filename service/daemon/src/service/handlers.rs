//! Answers to the local API: status, peers, sharing, the message bus (with long-poll receive).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hypha_ipc::api::{self, ApiError, ErrorCode, Request, Response};
use hypha_proto::bus::{BusEvent, Outgoing};
use hypha_proto::identity::NodeId;
use hypha_proto::node::LinkState;
use std::time::Duration;
use tokio::time::Instant;

use super::{Service, wall_micros};
use crate::config::Endpoint;
use crate::settings;
use crate::status;
use crate::store;

/// A `recv` waiting for a message.
pub(super) struct PendingRecv {
    until: Instant,
    topic: Option<String>,
    keep: bool,
    reply: tokio::sync::oneshot::Sender<Result<Response, ApiError>>,
}

pub(super) fn internal(e: anyhow::Error) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("{e:#}"))
}

fn in_message(r: &store::InRecord) -> api::InMessage {
    api::InMessage {
        id: r.id.clone(),
        from: r.from.clone(),
        topic: r.topic.clone(),
        reply_to: r.reply_to.clone(),
        size: r.size,
        received_ms: r.received_ms,
        read: r.read,
    }
}

impl Service {
    fn sharing(&self) -> api::Sharing {
        api::Sharing {
            percent: self.share_percent,
            uplink_bps: self.uplink_bps,
            uplink_measured_bps: self.uplink_est.estimate_bps(),
            limit_bps: self.node.transit_rate().map(|r| r * 8),
            neighbours: self
                .node
                .transit_stats()
                .into_iter()
                .map(|(n, weight, s)| api::NeighbourShare {
                    node_id: n.to_hex(),
                    weight,
                    forwarded_bytes: s.forwarded_bytes,
                    dropped_share: s.dropped_share,
                    rate_bps: s.rate_bps,
                })
                .collect(),
        }
    }

    /// The transit limit, bytes per second: the share of the configured uplink, else of the
    /// measured one (none while nothing is measured, at 100 %, or while a probe lifts it).
    fn transit_limit(&self) -> Option<u64> {
        match self.uplink_bps {
            Some(_) => settings::transit_rate(self.share_percent, self.uplink_bps),
            None if self.share_percent == 0 => Some(0),
            None if self.share_percent >= 100 || self.uplink_est.probing() => None,
            None => settings::transit_rate(self.share_percent, self.uplink_est.estimate_bps()),
        }
    }

    pub(super) fn apply_share(&mut self) {
        let now = self.now();
        let rate = self.transit_limit();
        self.node.set_transit_rate(now, rate);
        tracing::info!(
            "sharing {} % of {:?} bit/s ({}): transit limit {:?} bit/s",
            self.share_percent,
            self.uplink_bps.or(self.uplink_est.estimate_bps()),
            if self.uplink_bps.is_some() {
                "configured"
            } else if self.uplink_est.probing() {
                "measured; lifted while probing for more"
            } else {
                "measured"
            },
            rate.map(|r| r * 8)
        );
    }

    /// Every counter of the service as `group.name`: what `status` shows and what metrics
    /// expose, from one list so that neither misses one.
    pub(super) fn all_counters(&self) -> std::collections::BTreeMap<String, u64> {
        let disc = self.mcast.as_ref().map(|(_, d)| &d.counters);
        let mut c = status::flat_counters(&status::counter_groups(&self.node, disc));
        let named = self
            .reaching_counters()
            .into_iter()
            .chain(self.ipc.iter().flat_map(|s| s.counters.named()))
            .map(|(k, v)| (k.to_string(), v));
        c.extend(named);
        let io = self.io.udp.stats.named().into_iter();
        c.extend(
            io.chain(self.hub.stats.named())
                .map(|(k, v)| (status::dotted(k), v)),
        );
        c
    }

    pub(super) fn handle_api(&mut self, request: Request) -> Result<Response, ApiError> {
        match request {
            Request::Status => {
                let id = self.node.node_id();
                let links_up = self
                    .node
                    .links()
                    .iter()
                    .filter(|l| l.state == LinkState::Up)
                    .count();
                Ok(Response::Status(api::Status {
                    node_id: id.to_hex(),
                    address: id.address().to_string(),
                    subnet: id.subnet().to_string(),
                    uptime_s: self.start.elapsed().as_secs(),
                    tun: self.tun_name.clone(),
                    links_up,
                    routes: self.node.babel().route_count(),
                    counters: self.all_counters(),
                    share_percent: self.share_percent,
                    transit_limit_bps: self.node.transit_rate().map(|r| r * 8),
                    name: self.settings.name.as_ref().map(|c| c.name.clone()),
                }))
            }
            Request::Peers => {
                let mut configured: Vec<String> = self.peers.keys().cloned().collect();
                configured.sort();
                Ok(Response::Peers(api::Peers {
                    links: (self.node.links().iter())
                        .map(|l| status::api_link(&self.node, l))
                        .collect(),
                    configured,
                }))
            }
            Request::AddPeer { uri } => {
                Endpoint::parse(&uri)
                    .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("{uri:?}: {e:#}")))?;
                self.store
                    .add(&uri)
                    .map_err(|e| ApiError::new(ErrorCode::Internal, format!("{e:#}")))?;
                self.add_peer(&uri)
                    .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("{e:#}")))?;
                Ok(Response::Done)
            }
            Request::RemovePeer { uri } => {
                let stored = self
                    .store
                    .remove(&uri)
                    .map_err(|e| ApiError::new(ErrorCode::Internal, format!("{e:#}")))?;
                if self.remove_peer(&uri) || stored {
                    Ok(Response::Done)
                } else {
                    Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no configured peer {uri}"),
                    ))
                }
            }
            Request::Routes => Ok(Response::Routes(status::api_routes(&self.node))),
            Request::Metrics => Ok(Response::Metrics(status::metrics(
                &self.node,
                &self.all_counters(),
            ))),
            Request::Send(s) => self.api_send(s),
            Request::Facts => Ok(Response::Facts(
                self.node
                    .facts()
                    .all()
                    .map(|f| api::Fact {
                        subject: f.subject.to_hex(),
                        signer: f.signer.to_hex(),
                        endpoint: hypha_proto::wire::fact::parse_endpoint(&f.value)
                            .map_or_else(|| "?".into(), |a| a.to_string()),
                        issued_ms: f.issued_ms,
                        expires_ms: f.expires_ms(),
                    })
                    .collect(),
            )),
            Request::Share { percent, uplink } => {
                let bad = |m: String| ApiError::new(ErrorCode::BadRequest, m);
                if let Some(p) = percent {
                    if p > 100 {
                        return Err(bad(format!("share {p} is above 100 %")));
                    }
                    self.share_percent = p;
                    self.settings.sharing.percent = Some(p);
                }
                let changed = percent.is_some() || uplink.is_some();
                if let Some(u) = uplink {
                    let bps = crate::config::parse_rate(&u).map_err(|e| bad(format!("{e:#}")))?;
                    self.uplink_bps = Some(bps);
                    self.settings.sharing.uplink_bps = Some(bps);
                }
                // A plain query (no fields) changes nothing and must not rewrite settings.
                if changed {
                    self.settings.save().map_err(internal)?;
                    self.apply_share();
                }
                Ok(Response::Sharing(self.sharing()))
            }
            Request::Priority { peer, weight } => {
                let node = NodeId::from_hex(&peer).map_err(|e| {
                    ApiError::new(ErrorCode::BadRequest, format!("peer {peer:?}: {e}"))
                })?;
                if !(1..=1000).contains(&weight) {
                    return Err(ApiError::new(
                        ErrorCode::BadRequest,
                        "weight must be 1 to 1000",
                    ));
                }
                self.node.set_priority(node, weight);
                self.settings
                    .sharing
                    .priorities
                    .insert(node.to_hex(), weight);
                self.settings.save().map_err(internal)?;
                Ok(Response::Sharing(self.sharing()))
            }
            Request::Messages => {
                let outbox = self
                    .bus_store
                    .outgoing()
                    .map_err(internal)?
                    .into_iter()
                    .map(|r| api::OutMessage {
                        id: r.id,
                        to: r.to,
                        topic: r.topic,
                        status: r.status,
                        size: r.size,
                        created_ms: r.created_ms,
                        deadline_ms: r.deadline_ms,
                    })
                    .collect();
                let inbox = self
                    .bus_store
                    .incoming()
                    .map_err(internal)?
                    .iter()
                    .map(in_message)
                    .collect();
                Ok(Response::Messages(api::Messages { outbox, inbox }))
            }
            r @ (Request::SetName { .. }
            | Request::Names
            | Request::Resolve { .. }
            | Request::Forwards
            | Request::AddForward { .. }
            | Request::RemoveForward { .. }
            | Request::Expose { .. }
            | Request::Unexpose { .. }) => self.handle_reaching(r),
            Request::Firewall { change } => self.handle_firewall(change),
            Request::Invite { expires_s } => self.invite(expires_s),
            Request::Join { link, contact } => self.join(&link, contact),
            Request::MarkRead { id } => {
                if self.bus_store.mark_read(&id).map_err(internal)? {
                    Ok(Response::Done)
                } else {
                    Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no received message {id}"),
                    ))
                }
            }
            Request::Get { id } => {
                let found = self.bus_store.get_incoming(&id).map_err(internal)?;
                Ok(Response::Message(found.map(|(r, p)| api::Message {
                    info: in_message(&r),
                    payload: B64.encode(p),
                })))
            }
            // Handled by the connection itself / by the loop (long poll).
            Request::Subscribe | Request::Recv { .. } | Request::Trace { .. } => Ok(Response::Done),
        }
    }

    /// The node whose /64 holds `addr`, from the selected route to it.
    pub(super) fn node_at(&self, addr: &std::net::Ipv6Addr) -> Option<NodeId> {
        let subnet = hypha_proto::address::Subnet::of(&addr.octets());
        self.node.babel().lookup(&subnet).map(|(_, node)| node)
    }

    fn api_send(&mut self, s: api::SendRequest) -> Result<Response, ApiError> {
        let bad = |m: String| ApiError::new(ErrorCode::BadRequest, m);
        let to = match NodeId::from_hex(&s.to) {
            Ok(id) => id,
            Err(_) => {
                let addr: std::net::Ipv6Addr = s.to.parse().map_err(|_| {
                    bad(format!(
                        "{:?} is neither a node id nor an overlay address",
                        s.to
                    ))
                })?;
                self.node_at(&addr).ok_or_else(|| {
                    bad(format!(
                        "no route to {addr} to learn its node id: give the node id"
                    ))
                })?
            }
        };
        let payload = B64
            .decode(s.payload.as_bytes())
            .map_err(|e| bad(format!("payload is not base64: {e}")))?;
        if payload.len() > hypha_proto::wire::bus_chunk::MAX_MESSAGE_LEN as usize {
            return Err(ApiError::new(
                ErrorCode::TooLarge,
                format!("message of {} bytes is over the 1 MiB limit", payload.len()),
            ));
        }
        if s.topic.len() > 255 {
            return Err(bad("topic is over 255 bytes".into()));
        }
        let reply_to = match &s.reply_to {
            Some(r) => Some(
                store::parse_id(r)
                    .ok_or_else(|| bad(format!("reply-to {r:?} is not a message id")))?,
            ),
            None => None,
        };
        let id = match &s.id {
            Some(h) => {
                let id = store::parse_id(h)
                    .ok_or_else(|| bad(format!("message id {h:?} is not 32 hex digits")))?;
                if let Some(rec) = self.bus_store.get_outgoing(&id).map_err(internal)? {
                    // A retry: the message is queued (or finished) already.
                    if rec.to != to.to_hex() || rec.topic != s.topic || rec.size != payload.len() {
                        return Err(bad(format!(
                            "message id {h} is already used by another message"
                        )));
                    }
                    return Ok(Response::Sent { id: rec.id });
                }
                id
            }
            None => {
                let mut id = [0u8; 16];
                getrandom::fill(&mut id)
                    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
                id
            }
        };
        let now_ms = wall_micros() / 1000;
        let msg = Outgoing {
            id,
            to,
            topic: s.topic,
            reply_to,
            payload,
            deadline_ms: s.deadline_s.map(|d| now_ms + d * 1000),
        };
        // Persist first: once `send` answers, a crash cannot lose the message.
        self.bus_store
            .put_outgoing(&msg, now_ms)
            .map_err(internal)?;
        let now = self.now();
        self.node
            .bus_send(now, msg)
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string()))?;
        Ok(Response::Sent {
            id: store::id_hex(&id),
        })
    }

    /// Persists bus events, tells subscribers, and answers waiting `recv`s.
    pub(super) fn on_bus(&mut self, events: Vec<BusEvent>) {
        let mut received = false;
        for e in events {
            match e {
                BusEvent::Status { id, status } => {
                    if let Err(e) = self.bus_store.set_status(&id, status) {
                        tracing::error!("bus store: {e:#}");
                    }
                    let _ = self.io.events.send(api::Event::MessageStatus {
                        id: store::id_hex(&id),
                        status: status.as_str().into(),
                    });
                }
                BusEvent::Received(m) => {
                    if let Err(e) = self.bus_store.add_incoming(&m, wall_micros() / 1000) {
                        // Never acknowledge what is not stored: the sender sees it failed.
                        let (id, from) = (store::id_hex(&m.id), m.from.to_hex());
                        if e.downcast_ref::<store::QuotaExceeded>().is_some() {
                            tracing::warn!("refusing message {id} from {from}: {e}");
                        } else {
                            tracing::error!("bus store: {e:#}; refusing message {id} from {from}");
                        }
                        let now = self.now();
                        self.node.bus_store_failed(now, m.from, m.id);
                        continue;
                    }
                    received = true;
                    let _ = self.io.events.send(api::Event::MessageReceived {
                        id: store::id_hex(&m.id),
                        from: m.from.to_hex(),
                        topic: m.topic.clone(),
                        size: m.payload.len(),
                    });
                }
            }
        }
        if received {
            self.serve_recvs();
        }
    }

    fn take_message(
        &self,
        topic: Option<&str>,
        keep: bool,
    ) -> Result<Option<api::Message>, ApiError> {
        Ok(self
            .bus_store
            .take_unread(topic, !keep)
            .map_err(internal)?
            .map(|(r, p)| api::Message {
                info: in_message(&r),
                payload: B64.encode(p),
            }))
    }

    /// Answers waiting `recv`s that a stored message now satisfies, oldest first.
    fn serve_recvs(&mut self) {
        let pending = std::mem::take(&mut self.recvs);
        for r in pending {
            if r.reply.is_closed() {
                continue;
            }
            match self.take_message(r.topic.as_deref(), r.keep) {
                Ok(Some(m)) => {
                    let _ = r.reply.send(Ok(Response::Message(Some(m))));
                }
                Ok(None) => self.recvs.push(r),
                Err(e) => {
                    let _ = r.reply.send(Err(e));
                }
            }
        }
    }

    pub(super) fn recv(
        &mut self,
        wait_ms: u64,
        topic: Option<String>,
        keep: bool,
        reply: tokio::sync::oneshot::Sender<Result<Response, ApiError>>,
    ) {
        match self.take_message(topic.as_deref(), keep) {
            Ok(Some(m)) => {
                let _ = reply.send(Ok(Response::Message(Some(m))));
            }
            Ok(None) if wait_ms == 0 => {
                let _ = reply.send(Ok(Response::Message(None)));
            }
            Ok(None) => self.recvs.push(PendingRecv {
                until: Instant::now() + Duration::from_millis(wait_ms.min(3_600_000)),
                topic,
                keep,
                reply,
            }),
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Tells subscribers (if any) the traffic rates since the last call.
    pub(super) fn publish_stats(&mut self) {
        let links = self.node.links();
        let rx: u64 = links.iter().map(|l| l.rx_bytes).sum();
        let tx: u64 = links.iter().map(|l| l.tx_bytes).sum();
        let links_up = links.iter().filter(|l| l.state == LinkState::Up).count();
        let fwd = self.node.counters.forwarded_bytes;
        let dgrams = self.io.udp.stats.send_datagrams;
        let now = Instant::now();
        let prev = self.stats_prev.replace((now, rx, tx, fwd, dgrams));
        let Some((t0, rx0, tx0, fwd0, dgrams0)) = prev else {
            return;
        };
        let secs = now.duration_since(t0).as_secs_f64().max(0.001);
        // Totals over links shrink when a link goes away: count that as no traffic.
        let bps = |a: u64, b: u64| (a.saturating_sub(b) as f64 * 8.0 / secs) as u64;
        // The uplink carries the IP and UDP headers too (28 bytes over IPv4, the common case).
        let headers = dgrams.saturating_sub(dgrams0) * UDP_IP_HEADERS;
        self.measure_uplink(bps(tx + headers, tx0), bps(fwd, fwd0));
        if self.io.events.receiver_count() == 0 {
            return;
        }
        let _ = self.io.events.send(api::Event::Stats {
            rx_bps: bps(rx, rx0),
            tx_bps: bps(tx, tx0),
            forwarded_bps: bps(fwd, fwd0),
            limit_bps: self.node.transit_rate().map(|r| r * 8),
            links_up,
            routes: self.node.babel().route_count(),
        });
    }

    /// Feeds a second's egress to the uplink estimate and, without a configured uplink,
    /// follows the transit limit as the estimate grows or a probe starts or ends.
    fn measure_uplink(&mut self, egress_bps: u64, forwarded_bps: u64) {
        let limited = self.uplink_bps.is_none()
            && (1..100).contains(&self.share_percent)
            && self.node.transit_rate().is_some();
        let own = egress_bps.saturating_sub(forwarded_bps);
        self.uplink_est.sample(self.now(), egress_bps, own, limited);
        if self.uplink_bps.is_some() {
            return;
        }
        let (want, have) = (self.transit_limit(), self.node.transit_rate());
        let moved = match (want, have) {
            (Some(w), Some(h)) => w.abs_diff(h) > h / 50,
            (w, h) => w != h,
        };
        if moved {
            self.apply_share();
        }
    }

    /// On another network (this host's addresses changed: a laptop moved from the office to
    /// a café), the uplink measured before says nothing: measure it again.
    ///
    /// `addresses` as `mcast::local_endpoints` lists them (sorted).
    pub(super) fn note_network(&mut self, addresses: &[std::net::SocketAddr]) {
        if addresses == self.addresses {
            return;
        }
        let moved = !self.addresses.is_empty();
        self.addresses = addresses.to_vec();
        if moved && self.uplink_est.estimate_bps().is_some() {
            tracing::info!("this host's addresses changed: measuring the uplink again");
            self.uplink_est = hypha_proto::uplink::UplinkEstimator::new();
            if self.uplink_bps.is_none() {
                self.apply_share();
            }
        }
    }

    /// Times out waiting `recv`s and expires bus deadlines.
    pub(super) fn tick(&mut self) {
        let now = Instant::now();
        let pending = std::mem::take(&mut self.recvs);
        for r in pending {
            if r.reply.is_closed() {
                continue;
            }
            if r.until <= now {
                let _ = r.reply.send(Ok(Response::Message(None)));
            } else {
                self.recvs.push(r);
            }
        }
        self.node.bus_expire(wall_micros() / 1000);
    }
}

/// IPv4 and UDP header bytes per datagram, counted into the uplink's egress.
const UDP_IP_HEADERS: u64 = 28;
