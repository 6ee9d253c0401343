//! The simulated world: nodes, virtual links, an event queue, and the checks.
//!
//! Every node is a real [`hypha_proto::node::Node`]; links deliver the real encrypted
//! datagrams after a per-link latency, or drop them (loss, cuts). Time is virtual and every
//! random choice comes from the seed, so a run is exactly reproducible.
//!
//! Time moves in windows as long as the shortest link latency, aligned to multiples of it:
//! nothing sent within a window arrives before the next, so the nodes with work in a window
//! run in parallel (rayon), each on its own inputs in time order; their outputs are applied
//! afterwards in (time, node) order, on one thread, except the routing changes: those go to
//! the next-hop mirror together at the end of the window, each destination's in order and
//! the destinations on every core, with a loop check after every change (see
//! [`crate::next_hops`]). Which thread ran what changes nothing (test
//! `the_report_does_not_depend_on_the_number_of_threads`).

use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use hypha_proto::address::Subnet;
use hypha_proto::babel::origin::SharedOrigins;
use hypha_proto::identity::Identity;
use hypha_proto::node::{Event, LinkId, Node, NodeConfig, Remote, Transmit};
use hypha_proto::time::Timestamp;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::SimConfig;
use crate::next_hops::{Change, NextHops};
use crate::topology::Graph;
use crate::window::{Input, Mailbox, Out, SPARE, drain, run_node};

/// The in-memory name of node `i` (documentation prefix; nothing is ever sent there).
pub fn remote_of(i: usize) -> Remote {
    let i = i as u32;
    Remote::Udp(SocketAddr::new(
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, (i >> 16) as u16, i as u16).into(),
        7000,
    ))
}

fn index_of(r: &Remote) -> usize {
    match r {
        Remote::Udp(SocketAddr::V6(a)) => {
            let s = a.ip().segments();
            ((s[6] as usize) << 16) | s[7] as usize
        }
        _ => usize::MAX,
    }
}

enum Ev {
    Deliver {
        to: u32,
        from: u32,
        payload: Vec<u8>,
    },
    Wake {
        node: u32,
    },
}

struct Item {
    at: Timestamp,
    seq: u64,
    ev: Ev,
}

const NEVER: Timestamp = Timestamp::from_micros(u64::MAX);

/// Statistics gathered while running.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Datagrams delivered.
    pub datagrams: u64,
    /// Bytes delivered.
    pub bytes: u64,
    /// Datagrams dropped (loss, cut links).
    pub dropped: u64,
    /// Loops found.
    pub loops_seen: u64,
    /// Loop checks run.
    pub loop_checks: u64,
    /// Probes delivered intact.
    pub probes_delivered: u64,
    /// Datagrams in flight (sent, not yet delivered) at the busiest moment.
    pub peak_in_flight: u64,
    /// Most bytes in flight at one moment (tracked on its own: not necessarily when the most
    /// datagrams were).
    pub peak_in_flight_bytes: u64,
    /// Virtual time of that moment, microseconds.
    pub peak_in_flight_at_us: u64,
}

/// The simulated network.
pub struct World {
    /// The graph.
    pub graph: Graph,
    /// The nodes.
    pub nodes: Vec<Node>,
    /// Virtual time.
    pub now: Timestamp,
    /// Events by window (virtual time divided by `lookahead`), unordered within one.
    queue: BTreeMap<u64, Vec<Item>>,
    seq: u64,
    in_flight: u64,
    in_flight_bytes: u64,
    scheduled: Vec<Timestamp>,
    mail: Vec<Mailbox>,
    /// Nodes with something to do in the current window.
    active: Vec<u32>,
    /// The smallest link latency: nothing a node sends arrives sooner, so the nodes can run
    /// this far ahead of each other.
    lookahead: Duration,
    /// Where a window's outputs are (time, node, index in its mailbox), merged into order.
    merged: Vec<(Timestamp, u32, u32)>,
    /// The window's datagrams (arrival time, length), to take out of flight in time order.
    landed: Vec<(Timestamp, u64)>,
    edge_of: FxHashMap<(u32, u32), u32>,
    /// Whether each edge carries traffic.
    pub alive: Vec<bool>,
    latency: Vec<Duration>,
    loss: f64,
    rng: ChaCha8Rng,
    link_map: Vec<FxHashMap<LinkId, u32>>,
    owner: FxHashMap<Subnet, u32>,
    /// Mirror of every node's next hop per destination node (from route events).
    next: NextHops,
    /// Routing changes applied to `next` as a batch at the end of a window, in their order.
    changes: Vec<Change>,
    comp: Vec<usize>,
    comp_size: Vec<u64>,
    selected_total: u64,
    stale_total: u64,
    expected_total: u64,
    probes: FxHashMap<(u32, u64), ()>,
    /// Nodes running the hostile test mode: they relay nothing, so the checks treat them as
    /// outside the network (neither relays nor endpoints of the pairs checked).
    pub hostile: Vec<bool>,
    /// Statistics.
    pub stats: Stats,
    /// What every node shares: verified origin signatures and interned router ids.
    pub shared: std::sync::Arc<SharedOrigins>,
}

impl World {
    /// Builds the graph and the nodes; every edge's lower-numbered end dials the other.
    pub fn new(cfg: &SimConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let graph = Graph::random(cfg.nodes, cfg.degree, &mut rng);
        let n = cfg.nodes;
        let mut nodes = Vec::with_capacity(n);
        let mut owner = FxHashMap::default();
        let mut ids = Vec::with_capacity(n);
        let mut seeds = Vec::with_capacity(n);
        let mut id_seeds = Vec::with_capacity(n);
        for _ in 0..n {
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            let mut node_seed = [0u8; 32];
            rng.fill_bytes(&mut node_seed);
            id_seeds.push(seed);
            seeds.push(node_seed);
        }
        // Key generation is a tenth of a 1000-node run done one by one.
        ids.par_extend(id_seeds.into_par_iter().map(Identity::from_seed));
        // Hostile nodes and their victims, drawn from their own stream so that runs without
        // them stay as they were.
        let mut hostile = vec![false; n];
        let mut victim = vec![None; n];
        let mut hrng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x0405_711e);
        let k = cfg.hostile.min(n / 2);
        while hostile.iter().filter(|&&h| h).count() < k {
            hostile[(hrng.next_u64() % n as u64) as usize] = true;
        }
        for (h, v) in hostile.iter().zip(victim.iter_mut()) {
            if *h {
                let honest: Vec<usize> = (0..n).filter(|&j| !hostile[j]).collect();
                *v = Some(honest[(hrng.next_u64() % honest.len() as u64) as usize]);
            }
        }
        // Every node checks origin signatures, but a signature is verified once per world.
        let shared = std::sync::Arc::new(SharedOrigins::default());
        for (i, (id, node_seed)) in ids.into_iter().zip(seeds).enumerate() {
            owner.insert(id.node_id().subnet(), i as u32);
            // Endpoint facts are not simulated: every node is reachable only over its edges.
            let mut cfg = NodeConfig::default();
            cfg.babel.shared_origins = Some(shared.clone());
            nodes.push((id, cfg, node_seed));
        }
        let victim_ids: Vec<_> = victim
            .iter()
            .map(|v| v.map(|j: usize| nodes[j].0.node_id()))
            .collect();
        let nodes: Vec<Node> = nodes
            .into_par_iter()
            .zip(victim_ids)
            .map(|((id, mut cfg, seed), v)| {
                cfg.debug_hostile = v;
                Node::new(id, cfg, Timestamp::ZERO, seed)
            })
            .collect();
        let (lo, hi) = cfg.latency_ms;
        assert!(lo >= 1, "links take at least 1 ms");
        let mut edge_of = FxHashMap::default();
        let mut latency = Vec::with_capacity(graph.edges.len());
        for (e, &(a, b)) in graph.edges.iter().enumerate() {
            edge_of.insert((a as u32, b as u32), e as u32);
            edge_of.insert((b as u32, a as u32), e as u32);
            let ms = lo + rng.next_u64() % (hi - lo + 1);
            latency.push(Duration::from_millis(ms));
        }
        let mut w = World {
            alive: vec![true; graph.edges.len()],
            nodes,
            now: Timestamp::ZERO,
            queue: BTreeMap::new(),
            seq: 0,
            in_flight: 0,
            in_flight_bytes: 0,
            scheduled: vec![NEVER; n],
            mail: (0..n).map(|_| Mailbox::default()).collect(),
            active: Vec::new(),
            lookahead: Duration::from_millis(lo),
            merged: Vec::new(),
            landed: Vec::new(),
            edge_of,
            latency,
            loss: cfg.loss,
            rng,
            link_map: vec![FxHashMap::default(); n],
            owner,
            next: NextHops::new(n),
            changes: Vec::new(),
            comp: vec![0; n],
            comp_size: vec![0; n],
            selected_total: 0,
            stale_total: 0,
            expected_total: 0,
            probes: FxHashMap::default(),
            hostile,
            stats: Stats::default(),
            shared,
            graph,
        };
        w.recompute_components();
        let edges = w.graph.edges.clone();
        for (a, b) in edges {
            w.nodes[a].add_peer(Timestamp::ZERO, remote_of(b));
        }
        for i in 0..n {
            w.after(i);
        }
        w
    }

    fn push(&mut self, at: Timestamp, ev: Ev) {
        self.seq += 1;
        let window = at.as_micros() / self.lookahead.as_micros() as u64;
        self.queue.entry(window).or_default().push(Item {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// Drains a node's output after it handled something outside a window (start-up,
    /// probes), and applies it at once.
    fn after(&mut self, i: usize) {
        let mut out = std::mem::take(&mut self.mail[i].out);
        drain(&mut self.nodes[i], self.now, &mut out);
        for (_, o) in out.drain(..) {
            self.apply(i, o.expect("not taken"));
        }
        self.settle_routes();
        self.mail[i].out = out;
        let t = self.nodes[i].poll_timeout();
        // An overdue timer is due now: a wake recorded earlier than the one queued would be
        // taken for stale, and the node would later run its timers before the window.
        let t = t.max(self.now);
        if t < self.scheduled[i] {
            self.scheduled[i] = t;
            self.push(t, Ev::Wake { node: i as u32 });
        }
    }

    /// Applies one thing node `i` produced at `self.now`.
    fn apply(&mut self, i: usize, o: Out) {
        match o {
            Out::Send(t) => self.send(i, t),
            Out::Event(ev) => self.on_event(i, ev),
            Out::Tun(pkt) => {
                if pkt.len() >= 48 {
                    let id = u64::from_be_bytes(pkt[40..48].try_into().expect("8 bytes"));
                    if self.probes.remove(&(i as u32, id)).is_some() {
                        self.stats.probes_delivered += 1;
                    }
                }
            }
        }
    }

    /// A datagram of `bytes` arrived: it is no longer in flight.
    fn land(&mut self, bytes: u64) {
        self.in_flight -= 1;
        self.in_flight_bytes -= bytes;
    }

    /// Puts a datagram node `i` sent on its link, unless the link is down or loses it.
    fn send(&mut self, i: usize, t: Transmit) {
        let j = index_of(&t.remote);
        let Some(&e) = self.edge_of.get(&(i as u32, j as u32)) else {
            self.stats.dropped += 1;
            return;
        };
        let lost = self.loss > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < self.loss;
        if !self.alive[e as usize] || lost {
            self.stats.dropped += 1;
            return;
        }
        let at = self.now + self.latency[e as usize];
        self.in_flight += 1;
        self.in_flight_bytes += t.payload.len() as u64;
        self.stats.peak_in_flight = self.stats.peak_in_flight.max(self.in_flight);
        if self.in_flight_bytes > self.stats.peak_in_flight_bytes {
            self.stats.peak_in_flight_bytes = self.in_flight_bytes;
            self.stats.peak_in_flight_at_us = self.now.as_micros();
        }
        self.push(
            at,
            Ev::Deliver {
                to: j as u32,
                from: i as u32,
                payload: t.payload,
            },
        );
    }

    fn on_event(&mut self, i: usize, ev: Event) {
        match ev {
            Event::LinkUp { link, remote, .. } => {
                self.link_map[i].insert(link, index_of(&remote) as u32);
            }
            Event::LinkDown { link, .. } => {
                self.link_map[i].remove(&link);
            }
            Event::Route(rc) => {
                let Some(&d) = self.owner.get(&rc.subnet) else {
                    return;
                };
                if self.hostile[i] || self.hostile[d as usize] {
                    return;
                }
                let hop = rc.next_hop.and_then(|l| self.link_map[i].get(&l).copied());
                self.changes.push(Change {
                    d,
                    at: i as u32,
                    hop,
                });
            }
            Event::Bus(_) | Event::ProbeReply { .. } => {}
        }
    }

    /// Applies the routing changes gathered so far to the next-hop mirror, loop checks
    /// included, and the totals that follow from them.
    fn settle_routes(&mut self) {
        let t = self.next.apply(&mut self.changes, &self.comp);
        self.selected_total = self.selected_total.wrapping_add_signed(t.selected);
        self.stale_total = self.stale_total.wrapping_add_signed(t.stale);
        self.stats.loop_checks += t.checks;
        self.stats.loops_seen += t.loops;
    }

    /// Recomputes components from the live edges, and the route totals that depend on them.
    pub fn recompute_components(&mut self) {
        let alive = self.alive.clone();
        let (edges, hostile) = (&self.graph.edges, &self.hostile);
        // Hostile nodes relay nothing: edges touching them do not connect anyone.
        self.comp = self
            .graph
            .components(|e| alive[e] && !hostile[edges[e].0] && !hostile[edges[e].1]);
        self.comp_size = vec![0; self.nodes.len()];
        for (i, &c) in self.comp.iter().enumerate() {
            self.comp_size[c] += !self.hostile[i] as u64;
        }
        self.expected_total = (0..self.nodes.len())
            .filter(|&i| !self.hostile[i])
            .map(|i| self.comp_size[self.comp[i]] - 1)
            .sum();
        self.stale_total = 0;
        for i in 0..self.nodes.len() {
            for d in self.next.destinations(i) {
                if self.comp[i] != self.comp[d as usize] {
                    self.stale_total += 1;
                }
            }
        }
    }

    /// Number of connected components.
    pub fn components(&self) -> usize {
        self.comp_size.iter().filter(|&&s| s > 0).count()
    }

    /// True when two distinct honest nodes are in one component.
    fn pair(&self, s: usize, d: usize) -> bool {
        s != d && !self.hostile[s] && !self.hostile[d] && self.comp[s] == self.comp[d]
    }

    /// Processes events until virtual time `until`.
    ///
    /// In windows as long as the smallest link latency: nothing a node sends within a window
    /// arrives before it ends, so the nodes with something to do in it run independently (on
    /// every core), each in its own time order; what they produced is then applied in the
    /// order of (time, node), loop checks included. No choice depends on which thread ran
    /// what, so a run stays reproducible.
    pub fn run_until(&mut self, until: Timestamp) {
        while let Some(end) = self.take_window(until) {
            self.run_window(end);
            self.merge_window();
        }
        self.now = self.now.max(until);
    }

    /// Takes the next window's events up to `until` off the queue into the mailboxes of their
    /// nodes, each node's in time order; returns where the window ends. Windows are aligned to
    /// multiples of the lookahead, so what is sent in one arrives in a later one.
    fn take_window(&mut self, until: Timestamp) -> Option<Timestamp> {
        let step = self.lookahead.as_micros() as u64;
        let mut entry = self.queue.first_entry()?;
        let start = *entry.key() * step;
        // A window cut short by `until` leaves its later events in place.
        if entry.get().iter().all(|it| it.at > until) {
            return None;
        }
        let end = Timestamp::from_micros((start + step).min(until.as_micros() + 1));
        let mut items = entry
            .get_mut()
            .extract_if(.., |it| it.at < end)
            .collect::<Vec<_>>();
        if entry.get().is_empty() {
            entry.remove();
        }
        // Per node, the order the queue gave them; between nodes it does not matter.
        items.sort_unstable_by_key(|it| (it.at, it.seq));
        for item in items {
            let node = match item.ev {
                Ev::Deliver { to, from, payload } => {
                    self.stats.datagrams += 1;
                    self.stats.bytes += payload.len() as u64;
                    self.landed.push((item.at, payload.len() as u64));
                    self.mail[to as usize].inbox.push(Input {
                        at: item.at,
                        from,
                        payload,
                    });
                    to
                }
                Ev::Wake { node } => {
                    if self.scheduled[node as usize] != item.at {
                        continue;
                    }
                    node
                }
            };
            let m = &mut self.mail[node as usize];
            if !m.busy {
                m.busy = true;
                m.wake_in = self.scheduled[node as usize];
                self.active.push(node);
            }
        }
        Some(end)
    }

    /// Runs every node with something to do up to `end`: on the thread pool when there is
    /// enough work to share.
    fn run_window(&mut self, end: Timestamp) {
        let work: usize = self
            .active
            .iter()
            .map(|&i| self.mail[i as usize].inbox.len() + 1)
            .sum();
        if work < 64 {
            for &i in &self.active {
                let i = i as usize;
                run_node(&mut self.nodes[i], &mut self.mail[i], end);
            }
        } else {
            self.nodes
                .par_iter_mut()
                .zip(self.mail.par_iter_mut())
                .with_min_len(16)
                .filter(|(_, m)| m.busy)
                .for_each(|(node, m)| run_node(node, m, end));
        }
    }

    /// Applies what the window's nodes produced, in the order of (time, node), and sets
    /// their timers.
    fn merge_window(&mut self) {
        let mut active = std::mem::take(&mut self.active);
        let mut merged = std::mem::take(&mut self.merged);
        let mut last = self.now;
        for &i in &active {
            let m = &self.mail[i as usize];
            last = last.max(m.last);
            merged.extend(
                m.out
                    .iter()
                    .enumerate()
                    .map(|(k, &(t, _))| (t, i, k as u32)),
            );
        }
        // Only the places are sorted: the outputs stay in their mailboxes until applied.
        merged.sort_unstable();
        // Datagrams stay in flight until their moment in the window: the peaks count what
        // arrives after an output as still on its way, as one event at a time did.
        let mut landed = std::mem::take(&mut self.landed);
        landed.sort_unstable();
        let mut next = 0;
        for &(t, i, k) in &merged {
            while let Some(&(_, bytes)) = landed.get(next).filter(|(at, _)| *at <= t) {
                self.land(bytes);
                next += 1;
            }
            self.now = t;
            let o = self.mail[i as usize].out[k as usize]
                .1
                .take()
                .expect("once");
            self.apply(i as usize, o);
        }
        for &(_, bytes) in &landed[next..] {
            self.land(bytes);
        }
        self.settle_routes();
        landed.clear();
        self.landed = landed;
        merged.clear();
        self.merged = merged;
        for &i in &active {
            let m = &mut self.mail[i as usize];
            m.out.clear();
            if m.out.capacity() > SPARE {
                m.out = Vec::new();
            }
            m.busy = false;
            let wake = m.wake_out;
            if wake != self.scheduled[i as usize] {
                self.scheduled[i as usize] = wake;
                if wake < NEVER {
                    self.push(wake, Ev::Wake { node: i });
                }
            }
        }
        active.clear();
        self.active = active;
        self.now = last;
    }

    /// Routes held to nodes in another component.
    pub fn stale_routes(&self) -> u64 {
        self.stale_total
    }

    /// Cheap test: right number of routes, none to unreachable nodes.
    pub fn counts_match(&self) -> bool {
        self.selected_total == self.expected_total && self.stale_total == 0
    }

    fn edge_alive(&self, a: u32, b: u32) -> bool {
        self.edge_of
            .get(&(a, b))
            .is_some_and(|&e| self.alive[e as usize])
    }

    /// Ordered pairs in the same component, and how many of them the forwarding state
    /// delivers (following next hops over live edges only).
    pub fn reachability(&self) -> (u64, u64) {
        let n = self.nodes.len();
        let (mut connected, mut reachable) = (0u64, 0u64);
        // state: 0 unknown, 1 on the current walk, 2 reaches d, 3 does not.
        let mut state = vec![0u8; n];
        let mut walk = Vec::new();
        for d in 0..n as u32 {
            state.iter_mut().for_each(|s| *s = 0);
            state[d as usize] = 2;
            for s in 0..n as u32 {
                if !self.pair(s as usize, d as usize) {
                    continue;
                }
                connected += 1;
                walk.clear();
                let mut at = s;
                let verdict = loop {
                    match state[at as usize] {
                        2 => break 2,
                        1 | 3 => break 3,
                        _ => {}
                    }
                    state[at as usize] = 1;
                    walk.push(at);
                    match self.next.get(at, d) {
                        Some(nh) if self.edge_alive(at, nh) => at = nh,
                        _ => break 3,
                    }
                };
                for &w in &walk {
                    state[w as usize] = verdict;
                }
                if verdict == 2 {
                    reachable += 1;
                }
            }
        }
        (connected, reachable)
    }

    /// Runs until the network is converged (checked every 50 ms of virtual time, fully at
    /// most every 250 ms) or `limit` passes. Returns the virtual time it took.
    pub fn run_to_convergence(&mut self, limit: Duration) -> Option<Duration> {
        let start = self.now;
        let mut next_full = start;
        while self.now.saturating_since(start) < limit {
            let t = self.now + Duration::from_millis(50);
            self.run_until(t);
            if self.counts_match() && self.now >= next_full {
                next_full = self.now + Duration::from_millis(250);
                let (c, r) = self.reachability();
                if c == r {
                    return Some(self.now.saturating_since(start));
                }
            }
        }
        None
    }

    /// Sends `count` IPv6 probes between random connected pairs and runs `wait` for them.
    pub fn probe(&mut self, count: usize, wait: Duration) -> u64 {
        let n = self.nodes.len();
        let mut sent = 0;
        let mut tries = 0;
        while sent < count && tries < count * 20 && n > 1 {
            tries += 1;
            let s = (self.rng.next_u64() % n as u64) as usize;
            let d = (self.rng.next_u64() % n as u64) as usize;
            if !self.pair(s, d) {
                continue;
            }
            let id = self.rng.next_u64();
            let mut pkt = vec![0u8; 48];
            pkt[0] = 0x60;
            pkt[5] = 8;
            pkt[6] = 59;
            pkt[7] = 64;
            pkt[8..24].copy_from_slice(&self.nodes[s].node_id().address().0);
            pkt[24..40].copy_from_slice(&self.nodes[d].node_id().address().0);
            pkt[40..48].copy_from_slice(&id.to_be_bytes());
            self.probes.insert((d as u32, id), ());
            let now = self.now;
            self.nodes[s].handle_tun(now, &pkt);
            self.after(s);
            sent += 1;
        }
        let until = self.now + wait;
        self.run_until(until);
        sent as u64
    }

    /// Cuts (or restores) an edge.
    pub fn set_edge(&mut self, e: usize, alive: bool) {
        self.alive[e] = alive;
    }
}
