//! Small deterministic networks of routing engines wired directly (no links, no crypto).

use super::*;
use crate::identity::Identity;

struct Net {
    nodes: Vec<Babel>,
    ids: Vec<NodeId>,
    /// Neighbour id `n` on node `i` is node `n` (neighbour ids are node indices here).
    edges: BTreeSet<(usize, usize)>,
    now: Timestamp,
}

impl Net {
    fn new(n: usize) -> Self {
        let ids: Vec<NodeId> = (0..n)
            .map(|i| Identity::from_seed([i as u8 + 1; 32]).node_id())
            .collect();
        let nodes = ids
            .iter()
            .enumerate()
            .map(|(i, id)| Babel::new(*id, BabelConfig::default(), Timestamp::ZERO, [i as u8; 32]))
            .collect();
        Net {
            nodes,
            ids,
            edges: BTreeSet::new(),
            now: Timestamp::ZERO,
        }
    }

    fn link(&mut self, a: usize, b: usize) {
        self.edges.insert((a, b));
        self.edges.insert((b, a));
        self.nodes[a].add_neighbour(self.now, b as u32);
        self.nodes[b].add_neighbour(self.now, a as u32);
    }

    fn cut(&mut self, a: usize, b: usize) {
        self.edges.remove(&(a, b));
        self.edges.remove(&(b, a));
        self.nodes[a].remove_neighbour(self.now, b as u32);
        self.nodes[b].remove_neighbour(self.now, a as u32);
    }

    /// Runs for `d` of virtual time in 1 ms steps, delivering instantly; checks loops throughout.
    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now = self.now + Duration::from_millis(1);
            for i in 0..self.nodes.len() {
                if self.nodes[i].poll_timeout() <= self.now {
                    self.nodes[i].handle_timeout(self.now);
                }
            }
            loop {
                let mut moved = false;
                for i in 0..self.nodes.len() {
                    while let Some((n, body)) = self.nodes[i].poll_output() {
                        moved = true;
                        if self.edges.contains(&(i, n as usize)) {
                            self.nodes[n as usize].handle_body(self.now, i as u32, &body);
                        }
                    }
                }
                if !moved {
                    break;
                }
                self.assert_loop_free();
            }
        }
    }

    fn path(&self, from: usize, to: usize) -> Option<Vec<usize>> {
        let dst = self.ids[to].subnet();
        let mut at = from;
        let mut path = vec![from];
        while at != to {
            let (n, _) = self.nodes[at].lookup(&dst)?;
            at = n as usize;
            assert!(!path.contains(&at), "forwarding loop {path:?} -> {at}");
            path.push(at);
        }
        Some(path)
    }

    fn assert_loop_free(&self) {
        for a in 0..self.nodes.len() {
            for b in 0..self.nodes.len() {
                if a != b {
                    let _ = self.path(a, b);
                }
            }
        }
    }
}

#[test]
fn chain_converges() {
    let mut net = Net::new(4);
    net.link(0, 1);
    net.link(1, 2);
    net.link(2, 3);
    net.run(Duration::from_millis(500));
    assert_eq!(net.path(0, 3), Some(vec![0, 1, 2, 3]));
    assert_eq!(net.path(3, 0), Some(vec![3, 2, 1, 0]));
    assert_eq!(net.nodes[0].route_count(), 3);
}

#[test]
fn square_reroutes_after_cut_and_retracts_after_partition() {
    // 0-1-3 and 0-2-3.
    let mut net = Net::new(4);
    net.link(0, 1);
    net.link(1, 3);
    net.link(0, 2);
    net.link(2, 3);
    net.run(Duration::from_secs(2));
    let p = net.path(0, 3).unwrap();
    let via = p[1];
    net.cut(0, via);
    net.run(Duration::from_millis(300));
    let p2 = net.path(0, 3).unwrap();
    assert_ne!(p2[1], via);
    // Partition 3 completely: everyone must drop the route, without loops on the way.
    net.cut(1, 3);
    net.cut(2, 3);
    net.run(Duration::from_secs(1));
    for i in 0..3 {
        assert_eq!(
            net.path(i, 3),
            None,
            "node {i} still routes to a partitioned node"
        );
    }
}

#[test]
fn ring_survives_many_cuts_without_loops() {
    let n = 12;
    let mut net = Net::new(n);
    for i in 0..n {
        net.link(i, (i + 1) % n);
    }
    net.link(0, 6);
    net.link(3, 9);
    net.run(Duration::from_secs(3));
    for (a, b) in [(0, 1), (3, 9), (6, 7)] {
        net.cut(a, b);
        net.run(Duration::from_secs(2));
        for s in 0..n {
            for d in 0..n {
                if s != d && net.path(s, d).is_none() {
                    let sub = net.ids[d].subnet();
                    for (i, node) in net.nodes.iter().enumerate() {
                        eprintln!("node {i}: {:?}", node.table.get(&sub));
                    }
                    panic!("{s}->{d} unreachable after cutting {a}-{b}");
                }
            }
        }
    }
}

#[test]
fn subnet_filter_rejects_foreign_prefix() {
    let mut net = Net::new(2);
    net.link(0, 1);
    let victim = Identity::from_seed([99; 32]).node_id();
    let mut body = Vec::new();
    Tlv::Update(UpdateRepr {
        flags: 0,
        interval_cs: 800,
        seqno: 1,
        metric: 10,
        // Claims the victim's /64 under node 1's router id.
        router_id: RouterId {
            node: net.ids[1],
            suffix: 1,
        },
        prefix: Prefix::from_subnet(victim.subnet()),
    })
    .emit(&mut body);
    net.nodes[0].handle_body(Timestamp::ZERO, 1, &body);
    assert_eq!(net.nodes[0].counters.rejected_filter, 1);
    assert!(net.nodes[0].lookup(&victim.subnet()).is_none());
}

#[test]
fn route_limit_per_neighbour() {
    let mut net = Net::new(2);
    net.nodes[0].cfg.max_routes_per_neighbour = 2;
    net.link(0, 1);
    for seed in 50..55u8 {
        let id = Identity::from_seed([seed; 32]).node_id();
        let mut body = Vec::new();
        Tlv::Update(UpdateRepr {
            flags: 0,
            interval_cs: 800,
            seqno: 1,
            metric: 10,
            router_id: RouterId {
                node: id,
                suffix: 0,
            },
            prefix: Prefix::from_subnet(id.subnet()),
        })
        .emit(&mut body);
        net.nodes[0].handle_body(Timestamp::ZERO, 1, &body);
    }
    assert_eq!(net.nodes[0].route_count(), 2);
    assert_eq!(net.nodes[0].counters.rejected_limit, 3);
}
