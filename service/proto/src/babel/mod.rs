//! Babel routing (after RFC 8966) over authenticated unicast links.
//!
//! Each node originates one route: its own /64, under a router id made of its node id and a
//! suffix drawn at start. Link costs come from hello/IHU ([`neighbour`]); routes are selected
//! after every update among *feasible* ones only ([`table`]), which keeps the forwarding graph
//! loop-free at every instant; a node left with only unfeasible routes retracts and asks the
//! originator for a newer sequence number (seqno request). Updates are batched: changes mark a
//! prefix dirty and a flush a few milliseconds later sends them to every neighbour except the
//! selected next hop (split horizon); a full dump goes out periodically and to new neighbours.

mod acks;
mod concurrent;
mod hostile;
pub mod neighbour;
pub mod origin;
mod prefix;
mod requests;
pub mod rids;
mod selection;
mod slot_index;
mod stamp;
pub mod table;
mod updates;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use rustc_hash::FxHashMap;

use crate::address::Subnet;
use crate::identity::{Identity, NodeId};
use crate::time::Timestamp;
pub use crate::wire::babel::INFINITY;
use crate::wire::babel::update::origin_signed_bytes;
use crate::wire::babel::{HelloRepr, RouterId, Tlv, parse_tlvs};
use neighbour::Neighbour;
use origin::{Origins, SharedOrigins, SigStore};
use table::{RidIdx, Slot, Stamp, Table};

/// Identifies a neighbour link (the node's local link index).
pub type NeighbourId = u32;

/// Largest Babel body we put in one link frame.
pub const MAX_BODY: usize = 1200;
/// Hop count of a fresh seqno request.
pub const SEQNO_REQUEST_HOPS: u8 = 64;
/// How long a route's improvement (a lower metric, another next hop) may wait before it is
/// advertised: improvements are collected and sent together, unacknowledged, at most this
/// late (RFC 8966 §3.7.2 asks triggered updates for new routes, retractions, router-id and
/// seqno changes and worse metrics, which still go out within [`BabelConfig::flush_delay`]).
pub const IMPROVEMENT_DELAY: Duration = Duration::from_millis(500);

/// Tunables. The defaults suit both LANs and the simulator.
#[derive(Debug, Clone)]
pub struct BabelConfig {
    /// Hello (and IHU) interval on every link.
    pub hello_interval: Duration,
    /// Interval of periodic full updates; routes expire after 3.5 of them.
    pub update_interval: Duration,
    /// Delay that batches triggered updates. 20 ms rather than 10: a node hears a new route
    /// from each neighbour within a few link latencies, and the longer window sends what it
    /// heard together (simulated 1000 nodes: 12 % fewer updates, 22 MiB less peak memory,
    /// virtual convergence after the cuts 1.55 → 1.7 s).
    pub flush_delay: Duration,
    /// Most routes accepted from one neighbour.
    pub max_routes_per_neighbour: usize,
    /// A better route must beat the selected one by this much to replace it.
    pub hysteresis: u16,
    /// How long feasibility distances are kept after last use.
    pub source_gc: Duration,
    /// Origin signatures already verified, and the router-id table, shared by the nodes of
    /// one process (the simulator); `None` in a real node.
    pub shared_origins: Option<Arc<SharedOrigins>>,
}

impl Default for BabelConfig {
    fn default() -> Self {
        BabelConfig {
            hello_interval: Duration::from_millis(250),
            update_interval: Duration::from_secs(32),
            flush_delay: Duration::from_millis(20),
            max_routes_per_neighbour: 100_000,
            hysteresis: 16,
            source_gc: Duration::from_secs(180),
            shared_origins: None,
        }
    }
}

/// A change of the forwarding decision for a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteChange {
    /// The destination /64.
    pub subnet: Subnet,
    /// New next hop, or `None` when unreachable.
    pub next_hop: Option<NeighbourId>,
    /// New metric ([`INFINITY`] when unreachable).
    pub metric: u16,
}

/// A route as shown to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// Destination /64.
    pub subnet: Subnet,
    /// Destination node.
    pub node: NodeId,
    /// Next hop.
    pub next_hop: NeighbourId,
    /// Metric.
    pub metric: u16,
    /// Originator's sequence number.
    pub seqno: u16,
}

/// Counters (monotonic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BabelCounters {
    /// Update TLVs received.
    pub updates_received: u64,
    /// Update TLVs sent.
    pub updates_sent: u64,
    /// Updates refused by the subnet filter (not a /64 in the overlay owned by the router id).
    pub rejected_filter: u64,
    /// Updates refused by the per-neighbour route limit.
    pub rejected_limit: u64,
    /// Updates stored but unfeasible.
    pub unfeasible: u64,
    /// Malformed or unknown TLVs.
    pub bad_tlvs: u64,
    /// Seqno requests sent (originated or forwarded).
    pub seqno_requests_sent: u64,
    /// Seqno requests received.
    pub seqno_requests_received: u64,
    /// Routes that expired without refresh.
    pub routes_expired: u64,
    /// Times a destination became unreachable.
    pub routes_lost: u64,
    /// Updates refused as forgeries: an origin signature that does not verify, or a metric
    /// below one hop from a neighbour that is not the originator.
    pub forged_origins: u64,
    /// ed25519 verifications of origin signatures actually run (each (origin, seqno) once).
    pub origin_verifications: u64,
    /// Seqno requests ignored by the per-neighbour and per-origin rate limits.
    pub seqno_requests_limited: u64,
    /// Frames sent again because their acknowledgment did not come in time.
    pub ack_retries: u64,
    /// Acknowledgments received for frames we sent.
    pub acks_received: u64,
    /// Frames left to the periodic dump after [`acks::MAX_TRIES`] unacknowledged sends.
    pub ack_give_ups: u64,
    /// Retries held back because the neighbour had gone silent ([`acks::SILENT_HELLOS`]).
    pub ack_retries_paused: u64,
    /// Updates sent without the origin signature, which the receiver held.
    pub signatures_left_out: u64,
    /// Updates received without a signature that this node does not hold: dropped, and the
    /// route asked for again (answered signed).
    pub signatures_not_held: u64,
}

/// The routing engine of one node.
pub struct Babel {
    cfg: BabelConfig,
    signer: Identity,
    own_rid: RouterId,
    own_subnet: Subnet,
    own_seqno: u16,
    /// Our signature over (own router id, own seqno), made once per seqno.
    own_sig: [u8; crate::identity::SIGNATURE_LEN],
    /// When our seqno last went up at someone's request (at most once a second).
    last_bump: Option<Timestamp>,
    /// When it goes up next: a request for a newer seqno came too soon after the last rise.
    bump_at: Option<Timestamp>,
    rng: ChaCha8Rng,
    neighbours: BTreeMap<NeighbourId, Neighbour>,
    /// The neighbour of each [`Slot`] (slot `i` at index `i - 1`), as routes name them.
    slot_ids: Vec<Option<NeighbourId>>,
    table: Table,
    rids: rids::RouterIds,
    /// Verified origin signatures, indexed like `rids` (shorter when an index of a shared
    /// table was never verified here).
    origins: Origins,
    /// Where the signatures `origins` name are.
    sig_store: SigStore,
    /// Prefixes with an urgent change to send (each once: marked in its [`PrefixState::flags`],
    /// or `own_dirty` for our own /64).
    dirty: Vec<updates::Dest>,
    own_dirty: bool,
    /// Routes that only improved since last advertised, due by `improved_at`.
    improved: Vec<updates::Dest>,
    improved_at: Option<Timestamp>,
    /// Neighbours due the whole table in the next flush, unacknowledged (the periodic dump).
    dump_to: BTreeSet<NeighbourId>,
    /// Neighbours due the whole table in acknowledged frames (new neighbours, requests).
    reliable_dump: BTreeSet<NeighbourId>,
    /// Acknowledgments to send by `ack_at`: (neighbour, nonce).
    pending_acks: Vec<(NeighbourId, u16)>,
    ack_at: Option<Timestamp>,
    /// When the earliest unacknowledged frame is due again (may be early, never late).
    ack_deadline: Option<Timestamp>,
    /// Requests to send to one neighbour at the next flush.
    direct: BTreeMap<NeighbourId, Vec<Tlv>>,
    /// Prefixes to advertise to one neighbour only at the next flush (answers to requests);
    /// generated then, never earlier, so that what is sent is always the current route.
    direct_updates: BTreeMap<NeighbourId, Vec<Subnet>>,
    /// Seqno requests forwarded in the last seconds, by (origin, seqno): when, and to which
    /// neighbour. After cuts a node holds one for most destinations for a few seconds, so
    /// the entries are kept small (12 bytes, packed: a router id's index names its /64 too; the
    /// time to the centisecond). With the /64 and a full timestamp they took 32, and keyed by the
    /// /64 the per-origin counts 24: 3000 simulated nodes peaked 136 MB higher after cuts.
    recent_requests: FxHashMap<requests::Forwarded, requests::Forward>,
    /// Seqno requests forwarded per origin in the current second (storm limit).
    forwarded_per_origin: FxHashMap<RidIdx, (Stamp, u16)>,
    out: VecDeque<(NeighbourId, Vec<u8>)>,
    events: VecDeque<RouteChange>,
    next_hello: Timestamp,
    next_dump: Timestamp,
    next_housekeeping: Timestamp,
    flush_at: Option<Timestamp>,
    /// False when this node forwards nothing for others (sharing 0 %): it then advertises only
    /// its own prefix and retracts the rest, so neighbours route around it.
    transit: bool,
    /// Counters.
    pub counters: BabelCounters,
}

impl Babel {
    /// A routing engine originating the /64 of `identity`, which signs its announcements.
    pub fn new(identity: &Identity, cfg: BabelConfig, now: Timestamp, seed: [u8; 32]) -> Self {
        let node = identity.node_id();
        let mut rng = ChaCha8Rng::from_seed(seed);
        let own_rid = RouterId {
            node,
            suffix: rng.next_u32(),
        };
        let jitter = |rng: &mut ChaCha8Rng, d: Duration| {
            Duration::from_micros(rng.next_u64() % (d.as_micros() as u64).max(1))
        };
        let next_hello = now + jitter(&mut rng, cfg.hello_interval);
        let next_dump = now + cfg.update_interval / 2 + jitter(&mut rng, cfg.update_interval / 2);
        Babel {
            own_subnet: node.subnet(),
            own_sig: identity.sign(&origin_signed_bytes(&own_rid, 0)),
            signer: Identity::from_seed(identity.seed()),
            own_rid,
            own_seqno: 0,
            last_bump: None,
            bump_at: None,
            rng,
            neighbours: BTreeMap::new(),
            slot_ids: Vec::new(),
            table: Table::default(),
            rids: rids::RouterIds::new(cfg.shared_origins.clone()),
            origins: Origins::new(cfg.shared_origins.is_some()),
            sig_store: SigStore::new(cfg.shared_origins.clone()),
            dirty: Vec::new(),
            own_dirty: false,
            improved: Vec::new(),
            improved_at: None,
            dump_to: BTreeSet::new(),
            reliable_dump: BTreeSet::new(),
            pending_acks: Vec::new(),
            ack_at: None,
            ack_deadline: None,
            direct: BTreeMap::new(),
            direct_updates: BTreeMap::new(),
            recent_requests: FxHashMap::default(),
            forwarded_per_origin: FxHashMap::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            next_hello,
            next_dump,
            next_housekeeping: now + Duration::from_secs(1),
            flush_at: None,
            transit: true,
            counters: BabelCounters::default(),
            cfg,
        }
    }

    /// Our router id.
    pub fn router_id(&self) -> RouterId {
        self.own_rid
    }

    /// Our current sequence number.
    pub fn seqno(&self) -> u16 {
        self.own_seqno
    }

    /// Offers (or stops offering) routes through this node to others.
    pub fn set_transit(&mut self, now: Timestamp, transit: bool) {
        if self.transit != transit {
            self.transit = transit;
            self.reliable_dump.extend(self.neighbours.keys().copied());
            self.schedule_flush(now);
        }
    }

    /// A link to node `node` came up: greet it and send it our whole table.
    pub fn add_neighbour(&mut self, now: Timestamp, n: NeighbourId, node: NodeId) {
        let slot = match self.neighbours.get(&n) {
            Some(old) => old.slot,
            None => {
                let free = self.slot_ids.iter().position(Option::is_none);
                let i = free.unwrap_or(self.slot_ids.len());
                // 65,535 neighbours at once: far beyond any link limit.
                let Some(slot) = u16::try_from(i + 1).ok().and_then(Slot::new) else {
                    return;
                };
                match free {
                    Some(i) => self.slot_ids[i] = Some(n),
                    None => self.slot_ids.push(Some(n)),
                }
                self.table.widen(self.slot_ids.len());
                slot
            }
        };
        let mut nb = Neighbour::new();
        nb.node = Some(node);
        nb.slot = slot;
        self.neighbours.insert(n, nb);
        self.send_hello(now, n);
        self.reliable_dump.insert(n);
        self.schedule_flush(now);
    }

    /// The round trip the link's handshake took, as neighbour `n`'s first RTT sample (see
    /// [`Neighbour::seed_rtt`]).
    pub fn seed_rtt(&mut self, now: Timestamp, n: NeighbourId, rtt: Duration) {
        if let Some(nb) = self.neighbours.get_mut(&n) {
            nb.seed_rtt(now, rtt);
        }
    }

    /// A link went down: forget its routes and re-select.
    pub fn remove_neighbour(&mut self, now: Timestamp, n: NeighbourId) {
        let Some(nb) = self.neighbours.remove(&n) else {
            return;
        };
        let slot = nb.slot;
        self.dump_to.remove(&n);
        self.reliable_dump.remove(&n);
        self.direct.remove(&n);
        self.direct_updates.remove(&n);
        let mut affected: Vec<Subnet> = Vec::new();
        self.table.for_each_mut(|s, mut p| {
            // The slot goes to the next neighbour: it has been sent nothing yet.
            p.signed_to &= !table::slot_bit(slot);
            if p.remove_entry(slot) {
                affected.push(*s);
            }
        });
        for s in affected {
            self.select(now, s);
        }
        // Free only now: the selections above still had to name the old next hop.
        self.slot_ids[slot.get() as usize - 1] = None;
    }

    /// The neighbour numbered `slot`.
    fn id_of(slot_ids: &[Option<NeighbourId>], slot: Slot) -> NeighbourId {
        slot_ids[slot.get() as usize - 1].expect("routes only name neighbours that are linked")
    }

    /// The link to `n`, for display.
    pub fn neighbour(&self, n: NeighbourId) -> Option<&Neighbour> {
        self.neighbours.get(&n)
    }

    /// Handles a Babel body received from neighbour `from`.
    pub fn handle_body(&mut self, now: Timestamp, from: NeighbourId, body: &[u8]) {
        if !self.neighbours.contains_key(&from) {
            return;
        }
        // Every destination of the frame looked up first, in a loop of nothing else: the
        // lookups' cache misses then overlap instead of waiting one at a time behind each
        // update's handling (the first lookup of a received update's /64 was an eighth of a
        // simulation's time).
        for s in crate::wire::babel::update_subnets(body) {
            core::hint::black_box(self.table.touch(&s));
        }
        for tlv in parse_tlvs(body) {
            if matches!(tlv, Ok(Tlv::Update(_)))
                && self
                    .neighbours
                    .get(&from)
                    .is_some_and(|nb| nb.forged_in_frame)
            {
                // One forgery spoils the rest of its frame: a neighbour cannot make us run
                // more than one failing verification per frame.
                self.counters.forged_origins += 1;
                continue;
            }
            match tlv {
                Ok(Tlv::Hello(h)) => {
                    let first = self
                        .neighbours
                        .get_mut(&from)
                        .is_some_and(|nb| nb.on_hello(now, &h));
                    if first {
                        // Answer at once so the neighbour measures RTT without waiting a tick.
                        self.send_hello(now, from);
                    }
                }
                Ok(Tlv::Ihu(i)) => {
                    let changed = self.neighbours.get_mut(&from).is_some_and(|nb| {
                        nb.on_ihu(now, &i);
                        nb.refresh_cost(now)
                    });
                    if changed {
                        self.reselect_via(now, from);
                    }
                }
                Ok(Tlv::Update(u)) => self.handle_update(now, from, &u),
                Ok(Tlv::RouteRequest(r)) => self.handle_route_request(now, from, &r),
                Ok(Tlv::SeqnoRequest(r)) => self.handle_seqno_request(now, from, &r),
                Ok(Tlv::AckRequest(r)) => self.handle_ack_request(now, from, &r),
                Ok(Tlv::Ack(a)) => self.handle_ack(from, &a),
                Err(_) => self.counters.bad_tlvs += 1,
            }
        }
        if let Some(nb) = self.neighbours.get_mut(&from) {
            nb.forged_in_frame = false;
        }
    }

    /// The next hop and destination node for a /64.
    pub fn lookup(&self, subnet: &Subnet) -> Option<(NeighbourId, NodeId)> {
        let sel = self.table.get(subnet)?.selected?;
        Some((
            Self::id_of(&self.slot_ids, sel.neigh),
            self.rids.id(sel.rid).node,
        ))
    }

    /// True when the destination has no selected route but neighbours still offer (unfeasible)
    /// ones: a seqno request is on its way and a route should be back shortly.
    pub fn is_starving(&self, subnet: &Subnet) -> bool {
        self.table
            .get(subnet)
            .is_some_and(|p| p.selected.is_none() && p.entries().any(|e| e.refmetric != INFINITY))
    }

    /// Every selected route.
    pub fn routes(&self) -> impl Iterator<Item = RouteInfo> + '_ {
        self.table.iter().filter_map(|(s, p)| {
            p.selected.map(|sel| RouteInfo {
                subnet: *s,
                node: self.rids.id(sel.rid).node,
                next_hop: Self::id_of(&self.slot_ids, sel.neigh),
                metric: sel.metric,
                seqno: sel.seqno,
            })
        })
    }

    /// Number of destinations with a selected route.
    pub fn route_count(&self) -> usize {
        self.table.values().filter(|p| p.selected.is_some()).count()
    }

    /// Destinations the table holds state for (selected or not).
    pub fn destinations(&self) -> usize {
        self.table.len()
    }

    /// Bytes the per-destination routing state occupies, from the capacities of its
    /// containers (the allocator's own overhead is not counted): the table, what spilled out of
    /// its inline vectors, and the interned router ids with their signatures.
    pub fn state_bytes(&self) -> usize {
        let rids = self.rids.bytes() + self.origins.bytes() + self.sig_store.bytes();
        self.table.bytes() + rids
    }

    /// Next Babel body to send, with its neighbour.
    pub fn poll_output(&mut self) -> Option<(NeighbourId, Vec<u8>)> {
        let o = self.out.pop_front();
        if o.is_none() {
            crate::queue::shrink_idle(&mut self.out);
        }
        o
    }

    /// Next forwarding change.
    pub fn poll_event(&mut self) -> Option<RouteChange> {
        let e = self.events.pop_front();
        if e.is_none() {
            // A lost neighbour changes most routes at once; kept, that burst's room would stay
            // with every node for good.
            crate::queue::shrink_idle(&mut self.events);
        }
        e
    }

    /// When the next hellos go out (the node runs its own maintenance on the same wake-up).
    pub fn next_hello(&self) -> Timestamp {
        self.next_hello
    }

    /// When [`Babel::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Timestamp {
        let mut t = self
            .next_hello
            .min(self.next_dump)
            .min(self.next_housekeeping);
        if let Some(f) = self.flush_at {
            t = t.min(f);
        }
        if let Some(a) = self.ack_deadline {
            t = t.min(a);
        }
        if let Some(i) = self.improved_at {
            t = t.min(i);
        }
        if let Some(a) = self.ack_at {
            t = t.min(a);
        }
        if let Some(b) = self.bump_at {
            t = t.min(b);
        }
        t
    }

    /// Runs due timers: hellos, periodic dumps, flushes, expiry, unacknowledged frames.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.ack_at.is_some_and(|t| now >= t) {
            self.send_acks();
        }
        if self.ack_deadline.is_some_and(|t| now >= t) {
            self.retry_unacked(now);
        }
        if now >= self.next_hello {
            let ns: Vec<NeighbourId> = self.neighbours.keys().copied().collect();
            for n in ns {
                self.send_hello(now, n);
            }
            self.next_hello = now + self.cfg.hello_interval;
        }
        if now >= self.next_housekeeping {
            self.housekeeping(now);
            self.next_housekeeping = now + Duration::from_secs(1);
        }
        if self.bump_at.is_some_and(|t| now >= t) {
            self.bump_own_seqno(now);
            self.mark_dirty(now, self.own_subnet);
        }
        if self.improved_at.is_some_and(|t| now >= t) {
            self.flush_improved(now);
        }
        if now >= self.next_dump {
            self.dump_to.extend(self.neighbours.keys().copied());
            let jitter = self.rng.next_u64() % (self.cfg.update_interval.as_micros() as u64 / 4);
            self.next_dump = now + (self.cfg.update_interval - Duration::from_micros(jitter));
            self.flush(now);
        } else if self.flush_at.is_some_and(|f| now >= f) {
            self.flush(now);
        }
    }

    fn interval_cs(d: Duration) -> u16 {
        (d.as_millis() / 10).clamp(1, u16::MAX as u128) as u16
    }

    fn send_hello(&mut self, now: Timestamp, n: NeighbourId) {
        let Some(nb) = self.neighbours.get_mut(&n) else {
            return;
        };
        let seqno = nb.hello_seqno_out;
        nb.hello_seqno_out = seqno.wrapping_add(1);
        let mut body = Vec::with_capacity(32);
        Tlv::Hello(HelloRepr {
            seqno,
            interval_cs: Self::interval_cs(self.cfg.hello_interval),
            // Zero means "no timestamp" in an IHU echo; avoid sending it.
            timestamp: now.wire_micros().max(1),
        })
        .emit(&mut body);
        Tlv::Ihu(nb.ihu(now, self.cfg.hello_interval)).emit(&mut body);
        self.out.push_back((n, body));
    }

    fn housekeeping(&mut self, now: Timestamp) {
        // Link costs decay when IHUs stop.
        let changed: Vec<NeighbourId> = self
            .neighbours
            .iter_mut()
            .filter_map(|(id, n)| n.refresh_cost(now).then_some(*id))
            .collect();
        for n in changed {
            self.reselect_via(now, n);
        }
        let mut reselect = Vec::new();
        let mut starving = Vec::new();
        self.table.for_each_mut(|s, mut p| {
            let expired = p.remove_entries_if(|e| e.expires.reached(now));
            for e in &expired {
                if let Some(nb) = self.slot_ids[e.neigh.get() as usize - 1]
                    .and_then(|id| self.neighbours.get_mut(&id))
                {
                    nb.route_count -= 1;
                }
            }
            if !expired.is_empty() {
                self.counters.routes_expired += expired.len() as u64;
                reselect.push(*s);
            } else if p.selected.is_none() && p.entries().next().is_some() {
                starving.push(*s);
            }
            p.gc_sources(now);
            // Forgotten once passed (a stamp much older than that could pass for a new one).
            if p.retract_until.is_some_and(|t| t.reached(now)) {
                p.retract_until = None;
            }
            p.forget_old_request(now);
        });
        for s in reselect {
            self.select(now, s);
        }
        for s in starving {
            self.request_seqno(now, s);
        }
        if let Some(now_at) = self.table.retain(|_, p| !p.is_empty(now)) {
            self.remap_queued(&now_at);
        }
        // Slots above the highest neighbour still linked hold no routes any more
        // (`remove_neighbour` removed them): give their places back.
        while self.slot_ids.last().is_some_and(Option::is_none) {
            self.slot_ids.pop();
        }
        self.table.narrow(self.slot_ids.len());
        self.origins.shrink();
        self.rids.shrink();
        // Kept as long as a forward can stop another (`handle_seqno_request`), no longer.
        self.recent_requests
            .retain(|_, f| { f.at }.elapsed(now) < requests::FORWARD_MEMORY);
        self.forwarded_per_origin
            .retain(|_, (t, _)| t.elapsed(now) < Duration::from_secs(1));
        // Both fill during a wave of requests (after cuts, one entry per destination) and a
        // hash map keeps its room: at 2000 simulated nodes, 80 MB of it after the wave.
        if self.recent_requests.capacity() > 4 * self.recent_requests.len() + 64 {
            self.recent_requests.shrink_to_fit();
        }
        if self.forwarded_per_origin.capacity() > 4 * self.forwarded_per_origin.len() + 64 {
            self.forwarded_per_origin.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests;
