//! The simulated world: nodes, virtual links, an event queue, and the checks.
//!
//! Every node is a real [`hypha_proto::node::Node`]; links deliver the real encrypted
//! datagrams after a per-link latency, or drop them (loss, cuts). Time is virtual and every
//! random choice comes from the seed, so a run is exactly reproducible.
//!
//! The loop check runs after every routing change: a new forwarding loop must contain the
//! edge that just changed, so following next hops from the changed node finds any loop.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use hypha_proto::address::Subnet;
use hypha_proto::babel::origin::SharedOrigins;
use hypha_proto::identity::Identity;
use hypha_proto::node::{Event, LinkId, Node, NodeConfig, Remote};
use hypha_proto::time::Timestamp;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use rustc_hash::FxHashMap;

use crate::SimConfig;
use crate::topology::Graph;

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

impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    // Reversed: BinaryHeap is a max-heap and we want the earliest event first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// Every node's next hop towards every destination node, in one dense matrix of 2 bytes a
/// pair (per-node hash maps took about 18): at 10,000 nodes that is 200 MB, not 1.5 GB.
/// Stored by destination, so that a loop check, which follows next hops towards one
/// destination, reads one row (2 KB at 1,000 nodes) rather than one cache line per hop in
/// rows far apart (the scattered layout spent a twentieth of a simulation waiting on memory).
/// Zero means no route, so untouched rows cost no memory until written.
struct NextHops {
    n: usize,
    hops: Vec<u16>,
}

impl NextHops {
    /// Most nodes a matrix can name (hop `h` is stored as `h + 1`).
    const MAX_NODES: usize = crate::MAX_NODES;

    fn new(n: usize) -> Self {
        assert!(n <= Self::MAX_NODES, "at most {} nodes", Self::MAX_NODES);
        NextHops {
            n,
            hops: vec![0; n * n],
        }
    }

    fn get(&self, at: u32, d: u32) -> Option<u32> {
        let v = self.hops[d as usize * self.n + at as usize];
        (v as u32).checked_sub(1)
    }

    /// Sets (or clears) `at`'s next hop towards `d`; returns the one it replaces.
    fn set(&mut self, at: usize, d: u32, hop: Option<u32>) -> Option<u32> {
        let slot = &mut self.hops[d as usize * self.n + at];
        let old = (*slot as u32).checked_sub(1);
        // `new` bounds the node count, so every hop fits.
        *slot = hop.map_or(0, |h| h as u16 + 1);
        old
    }

    /// The destinations `at` has a next hop for.
    fn destinations(&self, at: usize) -> impl Iterator<Item = u32> + '_ {
        (0..self.n)
            .filter(move |&d| self.hops[d * self.n + at] != 0)
            .map(|d| d as u32)
    }
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
    queue: BinaryHeap<Item>,
    seq: u64,
    in_flight: u64,
    in_flight_bytes: u64,
    scheduled: Vec<Timestamp>,
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
        for _ in 0..n {
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            let mut node_seed = [0u8; 32];
            rng.fill_bytes(&mut node_seed);
            ids.push(Identity::from_seed(seed));
            seeds.push(node_seed);
        }
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
            .into_iter()
            .zip(victim_ids)
            .map(|((id, mut cfg, seed), v)| {
                cfg.debug_hostile = v;
                Node::new(id, cfg, Timestamp::ZERO, seed)
            })
            .collect();
        let (lo, hi) = cfg.latency_ms;
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
            queue: BinaryHeap::new(),
            seq: 0,
            in_flight: 0,
            in_flight_bytes: 0,
            scheduled: vec![NEVER; n],
            edge_of,
            latency,
            loss: cfg.loss,
            rng,
            link_map: vec![FxHashMap::default(); n],
            owner,
            next: NextHops::new(n),
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
        self.queue.push(Item {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// Drains a node's output after it handled something.
    fn after(&mut self, i: usize) {
        while let Some(t) = self.nodes[i].poll_transmit() {
            let j = index_of(&t.remote);
            let Some(&e) = self.edge_of.get(&(i as u32, j as u32)) else {
                self.stats.dropped += 1;
                continue;
            };
            let lost =
                self.loss > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < self.loss;
            if !self.alive[e as usize] || lost {
                self.stats.dropped += 1;
                continue;
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
        while let Some(ev) = self.nodes[i].poll_event() {
            self.on_event(i, ev);
        }
        while let Some(pkt) = self.nodes[i].poll_tun() {
            if pkt.len() >= 48 {
                let id = u64::from_be_bytes(pkt[40..48].try_into().expect("8 bytes"));
                if self.probes.remove(&(i as u32, id)).is_some() {
                    self.stats.probes_delivered += 1;
                }
            }
        }
        let t = self.nodes[i].poll_timeout();
        if t < self.scheduled[i] {
            self.scheduled[i] = t;
            let at = t.max(self.now);
            self.push(at, Ev::Wake { node: i as u32 });
        }
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
                let nh = rc.next_hop.and_then(|l| self.link_map[i].get(&l).copied());
                let stale = self.comp[i] != self.comp[d as usize];
                let had = match nh {
                    Some(n) => self.next.set(i, d, Some(n)).is_some(),
                    None => self.next.set(i, d, None).is_some(),
                };
                match (had, nh.is_some()) {
                    (false, true) => {
                        self.selected_total += 1;
                        self.stale_total += stale as u64;
                    }
                    (true, false) => {
                        self.selected_total -= 1;
                        self.stale_total -= stale as u64;
                    }
                    _ => {}
                }
                if nh.is_some() {
                    self.check_loop(i as u32, d);
                }
            }
            Event::Bus(_) | Event::ProbeReply { .. } => {}
        }
    }

    /// Follows next hops from `from` towards `d`; a walk longer than the network is a loop.
    fn check_loop(&mut self, from: u32, d: u32) {
        self.stats.loop_checks += 1;
        let mut at = from;
        let mut steps = 0;
        while at != d {
            match self.next.get(at, d) {
                Some(n) => at = n,
                None => return,
            }
            steps += 1;
            if steps > self.nodes.len() {
                self.stats.loops_seen += 1;
                return;
            }
        }
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
    pub fn run_until(&mut self, until: Timestamp) {
        while let Some(top) = self.queue.peek() {
            if top.at > until {
                break;
            }
            let item = self.queue.pop().expect("peeked");
            self.now = item.at;
            match item.ev {
                Ev::Deliver {
                    to,
                    from,
                    mut payload,
                } => {
                    self.stats.datagrams += 1;
                    self.stats.bytes += payload.len() as u64;
                    self.in_flight -= 1;
                    self.in_flight_bytes -= payload.len() as u64;
                    self.nodes[to as usize].handle_datagram(
                        self.now,
                        remote_of(from as usize),
                        &mut payload,
                    );
                    self.after(to as usize);
                }
                Ev::Wake { node } => {
                    if self.scheduled[node as usize] != item.at {
                        continue;
                    }
                    self.scheduled[node as usize] = NEVER;
                    self.nodes[node as usize].handle_timeout(self.now);
                    self.after(node as usize);
                }
            }
        }
        self.now = self.now.max(until);
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
