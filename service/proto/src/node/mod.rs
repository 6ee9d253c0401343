//! A whole Hypha node, sans IO: links, routing, end-to-end sessions and the data plane.
//!
//! The caller feeds datagrams ([`Node::handle_datagram`]), packets from the TUN
//! ([`Node::handle_tun`]) and timer ticks ([`Node::handle_timeout`]), and drains what the node
//! wants done with [`Node::poll_transmit`], [`Node::poll_tun`], [`Node::poll_event`] and
//! [`Node::poll_timeout`]. The daemon does this over real sockets; the simulator over virtual
//! links.

mod data;
mod direct;
mod guard;
mod handshakes;
mod links;
pub mod pmtu;
mod pre_open;
mod rekey;
mod transmit;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use rustc_hash::FxHashMap;

use crate::babel::{Babel, BabelConfig, NeighbourId, RouteChange, RouteInfo};
use crate::bus::{Bus, BusConfig, BusEvent, Outgoing, SendError};
use crate::identity::{Identity, NodeId};
use crate::link::handshake::NetworkKey;
use crate::time::Timestamp;

pub use links::{LinkInfo, LinkState};
pub use pre_open::PreOpen;
pub use rekey::LinkRekeyConfig;
use transmit::LinkSeal;
pub use transmit::{Remote, Transmit, Unsealed};

/// Identifies a link (its local session index).
pub type LinkId = u32;

/// Something the owner of the node may want to know or act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A neighbour link authenticated and is in use.
    LinkUp {
        /// The link.
        link: LinkId,
        /// The neighbour.
        node: NodeId,
        /// Where it is.
        remote: Remote,
    },
    /// A neighbour link ended.
    LinkDown {
        /// The link.
        link: LinkId,
        /// The neighbour.
        node: NodeId,
        /// Why.
        reason: &'static str,
    },
    /// The forwarding decision for a destination changed.
    Route(RouteChange),
    /// The message bus reports a status change or a received message.
    Bus(BusEvent),
    /// An answer to a trace probe sent with [`Node::send_probe`].
    ProbeReply {
        /// Who answered (a relay on the way, or the destination).
        from: NodeId,
        /// The probe's id, as returned by `send_probe`.
        counter: u64,
        /// Whether `from` is the destination.
        reached: bool,
    },
}

/// Node settings.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Network PSK (the public mesh by default).
    pub network: NetworkKey,
    /// When set, only these nodes get a link.
    pub allow: Option<Vec<NodeId>>,
    /// Routing tunables.
    pub babel: BabelConfig,
    /// A link with nothing received for this long is down.
    pub link_timeout: Duration,
    /// A handshake not finished within this is abandoned.
    pub handshake_timeout: Duration,
    /// Most half-open (responder) handshakes kept at once.
    pub max_pending_handshakes: usize,
    /// End-to-end session tunables (rekeying, limits).
    pub sessions: crate::session::SessionConfig,
    /// When links get new keys.
    pub link_rekey: LinkRekeyConfig,
    /// The TUN MTU: packets up to it are sent where the path carries them ([`pmtu`]).
    pub tun_mtu: u16,
    /// Longest wait between attempts to reach a configured peer.
    pub max_backoff: Duration,
    /// Message-bus tunables.
    pub bus: BusConfig,
    /// Limit on traffic forwarded for others, bytes per second (`None`: no limit; `Some(0)`:
    /// forward nothing and advertise no transit routes).
    pub transit_rate: Option<u64>,
    /// Gossip endpoint facts and upgrade relayed traffic to direct links.
    pub direct_paths: bool,
    /// Wall-clock milliseconds at our time zero (facts carry wall-clock times).
    pub wall_offset_ms: u64,
    /// What the mesh may deliver to this host ([`crate::firewall`]). The core's default lets
    /// everything in (the simulator and tests model no services); the daemon's is
    /// [`crate::firewall::Incoming::Contacts`].
    pub firewall: crate::firewall::Policy,
    /// Testing only: behave as a hostile node against this victim. Offer no transit, send
    /// neighbours forged announcements of the victim's /64 and floods of seqno requests for
    /// it ([`Babel::debug_attack`]) on every maintenance tick, and drop any packet for the
    /// victim that reaches us, so that a forgery that took hold would show as lost traffic.
    pub debug_hostile: Option<NodeId>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            network: NetworkKey::public(),
            allow: None,
            babel: BabelConfig::default(),
            link_timeout: Duration::from_millis(1250),
            handshake_timeout: Duration::from_secs(2),
            max_pending_handshakes: 1024,
            sessions: crate::session::SessionConfig::default(),
            link_rekey: LinkRekeyConfig::default(),
            tun_mtu: pmtu::DEFAULT_TUN_MTU,
            max_backoff: Duration::from_secs(10),
            bus: BusConfig::default(),
            transit_rate: None,
            // Off in the core by default (the simulator does not model endpoints); the daemon
            // turns it on.
            direct_paths: false,
            wall_offset_ms: 0,
            firewall: crate::firewall::Policy {
                incoming: crate::firewall::Incoming::Everyone,
                ..Default::default()
            },
            debug_hostile: None,
        }
    }
}

/// Monotonic counters; every drop has a reason here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// Trace probes answered (as relay or destination).
    pub probes_answered: u64,
    /// Trace probe answers withheld by the rate limit.
    pub probes_rate_limited: u64,
    /// Datagrams handed to the node.
    pub datagrams_in: u64,
    /// Datagrams the node asked to send.
    pub datagrams_out: u64,
    /// Datagrams that did not parse.
    pub malformed: u64,
    /// Handshakes completed.
    pub handshakes_ok: u64,
    /// Handshakes that failed (bad identity, corrupted).
    pub handshakes_failed: u64,
    /// Handshake datagrams whose network MAC was wrong (another network, a wrong secret, or
    /// an older protocol version); refused before any Diffie-Hellman.
    pub handshake_bad_mac: u64,
    /// Links refused by the allow-list.
    pub refused_not_allowed: u64,
    /// Handshake initiations dropped because too many were pending.
    pub refused_pending_full: u64,
    /// Dials not started: [`links::MAX_INITIATING`] handshakes of ours were pending.
    pub refused_initiating_full: u64,
    /// Handshake initiations dropped because their source had too many pending.
    pub refused_per_source: u64,
    /// Handshake initiations seen before (replays), dropped.
    pub handshake_replayed: u64,
    /// Cookie replies sent instead of answering an Init (under load).
    pub handshake_cookies_sent: u64,
    /// Handshake messages sent again because no answer came (Init, Final) or the same Init
    /// came again (Resp).
    pub handshakes_resent: u64,
    /// Frames naming a session index we do not have.
    pub unknown_index: u64,
    /// Transport frames that failed authentication.
    pub link_auth_failed: u64,
    /// Transport frames replayed or too old.
    pub link_replayed: u64,
    /// Packets from the TUN answered with an ICMPv6 packet-too-big (larger than the path
    /// to their destination carries).
    pub packet_too_big: u64,
    /// Path MTU probes sent.
    pub pmtu_probes: u64,
    /// Times a path's MTU was lowered because probes of a size went unanswered.
    pub pmtu_lowered: u64,
    /// Links that switched to new keys.
    pub link_rekeys: u64,
    /// Rekey messages refused (wrong chain key, corrupted).
    pub link_rekeys_failed: u64,
    /// Packets forwarded for others.
    pub forwarded_packets: u64,
    /// Bytes forwarded for others.
    pub forwarded_bytes: u64,
    /// Of the packets forwarded, those sealed again and sent from where they arrived
    /// ([`InPlaceOut::Forward`]).
    pub forwarded_in_place: u64,
    /// Packets delivered to this node's TUN.
    pub delivered_packets: u64,
    /// Packets sent from this node's TUN into the mesh.
    pub sent_packets: u64,
    /// Packets with no route to their destination.
    pub no_route: u64,
    /// Packets whose hop limit ran out.
    pub hop_limit_exceeded: u64,
    /// Packets that would go back where they came from.
    pub bounced: u64,
    /// Attempts to reach a relayed destination directly.
    pub direct_attempts: u64,
    /// Transit packets dropped by the sharing limit (queue full, or sharing 0 %).
    pub dropped_share: u64,
    /// TUN packets that were not IPv6 to an overlay address from our /64.
    pub tun_rejected: u64,
    /// Delivered packets whose inner source was not the sender's address.
    pub spoofed_source: u64,
    /// End-to-end payloads that failed authentication.
    pub e2e_auth_failed: u64,
    /// End-to-end payloads replayed.
    pub e2e_replayed: u64,
    /// End-to-end packets naming a session we do not have (never made, erased, evicted).
    pub e2e_unknown_session: u64,
    /// Session hellos refused by the per-second limit.
    pub e2e_hellos_limited: u64,
}

struct Peer {
    remote: Remote,
    next_attempt: Timestamp,
    backoff: Duration,
}

/// One node.
pub struct Node {
    identity: Identity,
    /// This node's /64 (derived from its id by a hash: kept, since every packet needs it).
    own_subnet: crate::address::Subnet,
    cfg: NodeConfig,
    rng: ChaCha20Rng,
    links: FxHashMap<LinkId, links::Link>,
    /// Every index a neighbour may put on a frame to us now, and the link it names (a link
    /// that rekeyed is still named by the index it started with).
    link_rx: FxHashMap<u32, LinkId>,
    /// Init checks: cookies, answered ephemerals ([`guard`]).
    guard: guard::InitGuard,
    /// Path MTU per destination ([`pmtu`]).
    pmtu: FxHashMap<crate::address::Subnet, pmtu::PathMtu>,
    /// The TUN MTU: the largest packet the local stack sends.
    tun_mtu: usize,
    /// Path MTU candidates for this TUN MTU, largest first.
    pmtu_sizes: Vec<usize>,
    peers: Vec<Peer>,
    babel: Babel,
    bus: Bus,
    sched: crate::sched::Scheduler,
    firewall: crate::firewall::Firewall,
    priorities: FxHashMap<NodeId, u32>,
    facts: crate::facts::FactStore,
    own_endpoints: Vec<SocketAddr>,
    /// The name this node claims and since when (ms since the Unix epoch).
    own_name: Option<(String, u64)>,
    next_fact_refresh: Timestamp,
    /// Per destination: no direct attempt until then. Pruned on the maintenance tick.
    direct_attempts: FxHashMap<NodeId, Timestamp>,
    /// Per destination whose facts gave no endpoint: not looked at again until then (a punch
    /// from it clears the entry). Pruned on the maintenance tick.
    direct_unknown: FxHashMap<NodeId, Timestamp>,
    fact_rate: FxHashMap<LinkId, (Timestamp, u32)>,
    /// Probe answers sent in the current second (answers are rate-limited).
    probe_window: (Timestamp, u32),
    /// Ids of the probes we sent (the last one).
    probe_ids: u64,
    pending_dials: Vec<(Timestamp, Remote)>,
    sessions: crate::session::Sessions,
    transmits: VecDeque<Unsealed>,
    tun_out: VecDeque<Vec<u8>>,
    /// While [`Node::handle_datagram_in_place`] runs: the datagram's place in memory and the
    /// packet for the TUN found in it.
    in_place: Option<InPlace>,
    /// While [`Node::handle_pre_opened`] runs: whether the payload, already opened in place,
    /// verified.
    pre_opened: Option<bool>,
    /// And for a data frame: its link receive index and counter, and its routed header
    /// opened ahead.
    pre_header: Option<((u32, u64), [u8; crate::wire::routed::HEADER_LEN])>,
    /// See [`Node::queued_before_forward`].
    queued_before_forward: usize,
    /// Packet buffers handed back by the I/O loop ([`Node::recycle`]), so that the data plane
    /// allocates nothing per packet.
    spare: Vec<Vec<u8>>,
    events: VecDeque<Event>,
    next_maintenance: Timestamp,
    /// The latest time the node was given (for work triggered from calls without one).
    now_hint: Timestamp,
    /// Counters.
    pub counters: NodeCounters,
}

/// A datagram being handled in place: its bytes' addresses (only compared, never
/// dereferenced: they tell whether a packet to deliver lies within the datagram) and where in
/// it the packet for the TUN is.
#[derive(Debug)]
struct InPlace {
    start: usize,
    end: usize,
    packet: Option<core::ops::Range<usize>>,
    /// The datagram is a data frame being routed: a relay may pass it on in place.
    frame: bool,
    /// The neighbour to pass it on to, once routing chose to.
    forward: Option<LinkId>,
    /// Where it went, sealed again for that neighbour's link.
    forwarded: Option<Remote>,
}

/// What [`Node::handle_datagram_in_place`] left in the datagram for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InPlaceOut {
    /// An IPv6 packet for this host lies at this range: write it to the TUN.
    Packet(core::ops::Range<usize>),
    /// The whole datagram is now a frame for this neighbour (a relay passing a data frame on,
    /// sealed again for the next link): send it as it is.
    Forward(Remote),
}

/// Longest time between two maintenance runs (link and handshake timeouts, retries, probes).
/// Maintenance also runs on every routing hello tick, and at most this long after the last
/// run: with the default 250 ms hellos, both fall on the same wake-ups, eight a second, where
/// a 100 ms cadence of its own, the hellos and routing housekeeping woke an idle node fifteen
/// times a second.
const MAINTENANCE: Duration = Duration::from_millis(125);
/// Recycled packet buffers kept at most: a few batches' worth.
const MAX_SPARE_BUFFERS: usize = 512;
/// Larger buffers (rare: a TCP link's jumbo frame) go back to the allocator.
const MAX_SPARE_CAPACITY: usize = 16 * 1024;
/// Smallest capacity a packet buffer is given: room for a full-size frame at the default MTU.
/// Buffers of every use share one pool, so a small one (an acknowledgement's frame) taken for
/// a full-size packet would be reallocated, and freed small again later: per-packet malloc
/// and free (5 % of a receiving daemon's time before this floor).
const MIN_BUFFER: usize = 2048;

impl Node {
    /// A node with this identity. `seed` drives every random choice (session indices,
    /// ephemeral keys, jitter), so a simulator replays a run exactly.
    pub fn new(identity: Identity, cfg: NodeConfig, now: Timestamp, seed: [u8; 32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut babel_seed = [0u8; 32];
        rng.fill_bytes(&mut babel_seed);
        let mut sessions_seed = [0u8; 32];
        rng.fill_bytes(&mut sessions_seed);
        let mut cookie_secret = [0u8; 32];
        rng.fill_bytes(&mut cookie_secret);
        let mut babel = Babel::new(&identity, cfg.babel.clone(), now, babel_seed);
        babel.set_transit(
            now,
            cfg.transit_rate != Some(0) && cfg.debug_hostile.is_none(),
        );
        Node {
            sessions: crate::session::Sessions::new(cfg.sessions.clone(), sessions_seed),
            bus: Bus::new(cfg.bus.clone()),
            sched: crate::sched::Scheduler::new(cfg.transit_rate),
            firewall: crate::firewall::Firewall::new(cfg.firewall.clone()),
            priorities: FxHashMap::default(),
            facts: crate::facts::FactStore::new(),
            own_endpoints: Vec::new(),
            own_name: None,
            next_fact_refresh: now,
            direct_attempts: FxHashMap::default(),
            direct_unknown: FxHashMap::default(),
            fact_rate: FxHashMap::default(),
            probe_window: (now, 0),
            probe_ids: 0,
            pending_dials: Vec::new(),
            own_subnet: identity.node_id().subnet(),
            identity,
            rng,
            links: FxHashMap::default(),
            link_rx: FxHashMap::default(),
            guard: guard::InitGuard::new(now, cookie_secret),
            pmtu: FxHashMap::default(),
            tun_mtu: usize::from(cfg.tun_mtu).max(pmtu::MIN_MTU),
            pmtu_sizes: pmtu::candidates(usize::from(cfg.tun_mtu)),
            peers: Vec::new(),
            babel,
            transmits: VecDeque::new(),
            tun_out: VecDeque::new(),
            in_place: None,
            pre_opened: None,
            pre_header: None,
            queued_before_forward: 0,
            spare: Vec::new(),
            events: VecDeque::new(),
            next_maintenance: now,
            now_hint: now,
            counters: NodeCounters::default(),
            cfg,
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.identity.node_id()
    }

    /// This node's identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The routing engine (for inspection).
    pub fn babel(&self) -> &Babel {
        &self.babel
    }

    /// Adds a configured peer; the node keeps a link to it, retrying with backoff.
    pub fn add_peer(&mut self, now: Timestamp, remote: Remote) {
        if self.peers.iter().any(|p| p.remote == remote) {
            return;
        }
        self.peers.push(Peer {
            remote,
            next_attempt: now,
            backoff: Duration::from_secs(1),
        });
        self.maintain_peers(now);
    }

    /// Removes a configured peer and closes its link.
    pub fn remove_peer(&mut self, now: Timestamp, remote: Remote) -> bool {
        let before = self.peers.len();
        self.peers.retain(|p| p.remote != remote);
        let ids: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| l.remote == remote)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.close_link(now, id, "peer removed");
        }
        self.peers.len() != before
    }

    /// Configured peers.
    pub fn peers(&self) -> impl Iterator<Item = Remote> + '_ {
        self.peers.iter().map(|p| p.remote)
    }

    /// Starts a handshake to `remote` now (for discovered neighbours; configured peers are
    /// dialled by the node itself).
    pub fn connect(&mut self, now: Timestamp, remote: Remote) {
        self.initiate(now, remote);
    }

    /// Every selected route.
    pub fn routes(&self) -> impl Iterator<Item = RouteInfo> + '_ {
        self.babel.routes()
    }

    /// Neighbour id → node id of an established link.
    pub fn link_node(&self, link: NeighbourId) -> Option<NodeId> {
        self.links.get(&link).and_then(|l| l.node())
    }

    /// Closes every link politely (the neighbours reroute at once instead of timing out).
    pub fn shutdown(&mut self, now: Timestamp) {
        let ids: Vec<LinkId> = self.links.keys().copied().collect();
        for id in ids {
            self.close_link(now, id, "shutdown");
        }
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.poll_unsealed().map(Unsealed::seal)
    }

    /// Next datagram to send, its seals still to be made: a caller with several threads
    /// takes a batch of these, seals them in parallel and sends them in the order taken.
    pub fn poll_unsealed(&mut self) -> Option<Unsealed> {
        self.pump_babel();
        let t = self.transmits.pop_front();
        match t {
            Some(_) => self.counters.datagrams_out += 1,
            None => crate::queue::shrink_idle(&mut self.transmits),
        }
        t
    }

    /// How many datagrams wait for [`Node::poll_transmit`].
    pub fn queued_transmits(&self) -> usize {
        self.transmits.len()
    }

    /// How many of the datagrams waiting for [`Node::poll_transmit`] were queued before the
    /// frame last passed on in place ([`InPlaceOut::Forward`]) took its link counter: an I/O
    /// loop sends those first, so that a link's frames leave in counter order.
    pub fn queued_before_forward(&self) -> usize {
        self.queued_before_forward
    }

    /// Next IPv6 packet for the local TUN.
    pub fn poll_tun(&mut self) -> Option<Vec<u8>> {
        self.tun_out.pop_front()
    }

    /// Hands back a buffer from [`Node::poll_tun`] or a [`Transmit`] once it has been written,
    /// for the next packet to reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.spare.len() < MAX_SPARE_BUFFERS && buf.capacity() <= MAX_SPARE_CAPACITY {
            buf.clear();
            self.spare.push(buf);
        }
    }

    /// An empty buffer with room for `len` bytes, recycled when one is at hand.
    pub(super) fn buffer(&mut self, len: usize) -> Vec<u8> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.reserve(len.max(MIN_BUFFER));
        buf
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.pump_babel();
        let e = self.events.pop_front();
        if e.is_none() {
            // Routing bursts pass through here (every route change is an event): 3000
            // simulated nodes kept 166 MB of drained room at the busiest moment, a tenth of
            // the heap.
            crate::queue::shrink_idle(&mut self.events);
        }
        e
    }

    /// When to call [`Node::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Timestamp {
        let t = self.next_maintenance.min(self.babel.poll_timeout());
        let t = self.sched.poll_timeout().map_or(t, |s| t.min(s));
        let t = self
            .pending_dials
            .iter()
            .map(|(d, _)| *d)
            .fold(t, Timestamp::min);
        self.bus.poll_timeout().map_or(t, |b| t.min(b))
    }

    /// Sets the limit on transit traffic (bytes per second; `Some(0)` forwards nothing and
    /// withdraws transit routes, `None` lifts the limit). Applies at once.
    pub fn set_transit_rate(&mut self, now: Timestamp, rate: Option<u64>) {
        self.cfg.transit_rate = rate;
        self.sched.set_rate(rate);
        self.babel
            .set_transit(now, rate != Some(0) && self.cfg.debug_hostile.is_none());
        self.pump_babel();
    }

    /// The transit limit, bytes per second.
    pub fn transit_rate(&self) -> Option<u64> {
        self.cfg.transit_rate
    }

    /// Replaces the inbound firewall's policy (flows already open stay open).
    pub fn set_firewall(&mut self, policy: crate::firewall::Policy) {
        self.firewall.set_policy(policy);
    }

    /// The inbound firewall: its policy, flows and counters.
    pub fn firewall(&self) -> &crate::firewall::Firewall {
        &self.firewall
    }

    /// Sets the forwarding priority weight of a neighbour (1 = normal), now and whenever its
    /// link comes up again.
    pub fn set_priority(&mut self, node: NodeId, weight: u32) {
        self.priorities.insert(node, weight.max(1));
        let links: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| l.node() == Some(node))
            .map(|(id, _)| *id)
            .collect();
        for id in links {
            self.sched.set_weight(id, weight);
        }
    }

    /// Priority weights set so far.
    pub fn priorities(&self) -> impl Iterator<Item = (NodeId, u32)> + '_ {
        self.priorities.iter().map(|(n, w)| (*n, *w))
    }

    /// The forwarding priority weight of `node` (1 unless set).
    pub fn priority_of(&self, node: NodeId) -> u32 {
        self.priorities.get(&node).copied().unwrap_or(1)
    }

    /// Transit statistics per neighbour currently linked.
    pub fn transit_stats(&self) -> Vec<(NodeId, u32, crate::sched::NeighbourStats)> {
        let mut v: Vec<_> = self
            .sched
            .stats()
            .filter_map(|(l, s)| Some((self.link_node(l)?, self.sched.weight(l), s)))
            .collect();
        v.sort_by_key(|(n, _, _)| *n);
        v
    }

    /// Sends the transit packets the scheduler lets out now.
    pub(super) fn release_transit(&mut self, now: Timestamp) {
        for (next, frame) in self.sched.dequeue(now) {
            self.counters.forwarded_packets += 1;
            self.counters.forwarded_bytes += frame.len() as u64;
            self.send_routed(next, frame);
        }
    }

    /// The message bus (for inspection).
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Queues a message for reliable delivery; progress is reported as [`Event::Bus`].
    pub fn bus_send(&mut self, now: Timestamp, msg: Outgoing) -> Result<(), SendError> {
        self.now_hint = now;
        self.bus.send(msg)?;
        self.pump_bus(now);
        Ok(())
    }

    /// Expires bus messages whose wall-clock deadline (ms since the Unix epoch) has passed.
    pub fn bus_expire(&mut self, wall_ms: u64) {
        self.bus.expire(wall_ms);
        self.pump_bus_events();
    }

    /// The message `id` from `from` just reported received could not be stored: refuse it
    /// instead of acknowledging it ([`crate::bus::Bus::store_failed`]). The acknowledgement
    /// waits for the node's next [`Node::handle_timeout`] (due at once), so an owner that
    /// stores what [`Event::Bus`] reports before it next drives the node's timers refuses in
    /// time.
    pub fn bus_store_failed(&mut self, now: Timestamp, from: NodeId, id: crate::bus::MsgId) {
        self.bus.store_failed(now, from, id);
    }

    /// Records a message already delivered before a restart (so it is not delivered twice).
    pub fn bus_remember(&mut self, from: NodeId, id: crate::bus::MsgId) {
        self.bus.remember_completed(from, id);
    }

    /// Sends what the bus has due and surfaces its events.
    pub(super) fn pump_bus(&mut self, now: Timestamp) {
        let babel = &self.babel;
        let sends = self
            .bus
            .poll_transmit(now, |n| babel.lookup(&n.subnet()).is_some());
        for (dst, kind, payload) in sends {
            self.send_payload(&dst, kind, &payload);
        }
        self.pump_bus_events();
    }

    pub(super) fn pump_bus_events(&mut self) {
        while let Some(e) = self.bus.poll_event() {
            self.events.push_back(Event::Bus(e));
        }
    }

    /// Runs due timers.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.now_hint = now;
        // Never later than the next hello tick (see below), so due on every one.
        let maintain = now >= self.next_maintenance;
        if maintain {
            self.maintain_links(now);
            self.maintain_peers(now);
            self.maintain_facts(now);
            self.maintain_pmtu(now);
            self.firewall.sweep(now);
            if let Some(victim) = self.cfg.debug_hostile {
                self.babel.debug_attack(&victim);
            }
            self.sessions.handle_timeout(now);
            self.flush_sessions();
        }
        self.run_pending_dials(now);
        if now >= self.babel.poll_timeout() {
            self.babel.handle_timeout(now);
        }
        if maintain {
            // The next hello tick, if it comes first (it is past now: hellos just went).
            self.next_maintenance = (now + MAINTENANCE).min(self.babel.next_hello());
        }
        self.pump_babel();
        self.pump_bus(now);
        self.release_transit(now);
    }

    /// Moves routing output onto links and routing events into the event queue.
    fn pump_babel(&mut self) {
        while let Some((n, body)) = self.babel.poll_output() {
            self.send_inner_parts(n, &[crate::wire::inner::KIND_BABEL], &body);
        }
        while let Some(ev) = self.babel.poll_event() {
            self.events.push_back(Event::Route(ev));
        }
    }

    fn random_index(&mut self) -> LinkId {
        loop {
            let i = self.rng.next_u32();
            if i != 0 && !self.links.contains_key(&i) && !self.link_rx.contains_key(&i) {
                return i;
            }
        }
    }

    fn random_seed(&mut self) -> [u8; 32] {
        let mut s = [0u8; 32];
        self.rng.fill_bytes(&mut s);
        s
    }

    fn maintain_peers(&mut self, now: Timestamp) {
        for i in 0..self.peers.len() {
            let remote = self.peers[i].remote;
            if self.links.values().any(|l| l.remote == remote) {
                continue;
            }
            if now < self.peers[i].next_attempt {
                continue;
            }
            let p = &mut self.peers[i];
            p.next_attempt = now + p.backoff;
            p.backoff = (p.backoff * 2).min(self.cfg.max_backoff);
            self.initiate(now, remote);
        }
    }

    fn reset_backoff(&mut self, remote: Remote) {
        if let Some(p) = self.peers.iter_mut().find(|p| p.remote == remote) {
            p.backoff = Duration::from_secs(1);
        }
    }
}

#[cfg(test)]
mod tests;
