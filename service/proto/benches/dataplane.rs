//! Data-plane micro-benchmarks of the sans-IO core: the cipher alone, and a real three-node
//! chain a—b—c in memory — a seals a 1280-byte IPv6 packet for c, b forwards it, c opens it —
//! one packet at a time and in batches of 64; and a packet from a to its neighbour b. `cargo bench -p hypha-proto`; the test command
//! only compiles them.

use std::cell::RefCell;
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hypha_proto::crypto::Cipher;
use hypha_proto::identity::Identity;
use hypha_proto::node::{Node, NodeConfig, Remote, Transmit};
use hypha_proto::time::Timestamp;

const PACKET: usize = 1280;

fn addr(i: usize) -> Remote {
    // Documentation prefix: only a name for the in-memory link.
    Remote::Udp(SocketAddr::new(
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16 + 1).into(),
        7000,
    ))
}

fn index_of(r: Remote) -> usize {
    match r {
        Remote::Udp(s) => match s.ip() {
            std::net::IpAddr::V6(v6) => v6.segments()[7] as usize - 1,
            std::net::IpAddr::V4(_) => unreachable!("bench addresses are IPv6"),
        },
        Remote::Stream(_) => unreachable!("bench links are UDP"),
    }
}

/// Three nodes a—b—c with links up and routes settled.
struct Chain {
    nodes: Vec<Node>,
    now: Timestamp,
}

impl Chain {
    fn new() -> Self {
        let mut c = Chain {
            nodes: (0..3)
                .map(|i| {
                    Node::new(
                        Identity::from_seed([i as u8 + 10; 32]),
                        NodeConfig::default(),
                        Timestamp::ZERO,
                        [i as u8; 32],
                    )
                })
                .collect(),
            now: Timestamp::ZERO,
        };
        c.nodes[0].add_peer(c.now, addr(1));
        c.nodes[2].add_peer(c.now, addr(1));
        for _ in 0..3000 {
            c.now = c.now + Duration::from_millis(1);
            for n in &mut c.nodes {
                if n.poll_timeout() <= c.now {
                    n.handle_timeout(c.now);
                }
            }
            c.deliver_all();
        }
        assert!(c.send_a_to_c(), "the chain carries a packet");
        c
    }

    /// Everything queued, delivered along the links that exist (0—1, 1—2).
    fn deliver_all(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..3 {
                while let Some(t) = self.nodes[i].poll_transmit() {
                    moved = true;
                    let j = index_of(t.remote);
                    if i.abs_diff(j) == 1 {
                        let mut p = t.payload;
                        self.nodes[j].handle_datagram(self.now, addr(i), &mut p);
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn packet(&self) -> Vec<u8> {
        self.packet_to(2)
    }

    /// A packet from a to node `to`.
    fn packet_to(&self, to: usize) -> Vec<u8> {
        let src = self.nodes[0].node_id().address();
        let dst = self.nodes[to].node_id().address();
        let mut pkt = vec![0u8; PACKET];
        pkt[0] = 0x60;
        pkt[4..6].copy_from_slice(&((PACKET - 40) as u16).to_be_bytes());
        pkt[6] = 59; // no next header
        pkt[7] = 64;
        pkt[8..24].copy_from_slice(&src.0);
        pkt[24..40].copy_from_slice(&dst.0);
        pkt
    }

    fn send_a_to_c(&mut self) -> bool {
        let pkt = self.packet();
        self.nodes[0].handle_tun(self.now, &pkt);
        self.deliver_all();
        self.nodes[2].poll_tun().is_some_and(|p| p == pkt)
    }

    /// a seals `n` packets; returns the datagrams for b.
    fn seal_at_a(&mut self, pkt: &[u8], n: usize) -> Vec<Transmit> {
        for _ in 0..n {
            self.nodes[0].handle_tun(self.now, pkt);
        }
        std::iter::from_fn(|| self.nodes[0].poll_transmit()).collect()
    }

    /// b forwards the datagrams; returns the ones for c.
    fn forward_at_b(&mut self, from_a: Vec<Transmit>) -> Vec<Transmit> {
        for mut t in from_a {
            self.nodes[1].handle_datagram(self.now, addr(0), &mut t.payload);
        }
        std::iter::from_fn(|| self.nodes[1].poll_transmit()).collect()
    }

    /// b opens datagrams from a that are for b itself; returns how many reached its TUN.
    fn open_at_b(&mut self, from_a: Vec<Transmit>) -> usize {
        for mut t in from_a {
            self.nodes[1].handle_datagram(self.now, addr(0), &mut t.payload);
        }
        std::iter::from_fn(|| self.nodes[1].poll_tun()).count()
    }

    /// c opens the datagrams; returns how many packets reached its TUN.
    fn open_at_c(&mut self, from_b: Vec<Transmit>) -> usize {
        for mut t in from_b {
            self.nodes[2].handle_datagram(self.now, addr(1), &mut t.payload);
        }
        std::iter::from_fn(|| self.nodes[2].poll_tun()).count()
    }
}

fn cipher(c: &mut Criterion) {
    let mut g = c.benchmark_group("cipher");
    g.throughput(Throughput::Bytes(PACKET as u64));
    let k = Cipher::new(&[7; 32]);
    let mut buf = vec![0u8; PACKET];
    let mut counter = 0u64;
    g.bench_function("seal 1280 B", |b| {
        b.iter(|| {
            counter += 1;
            k.seal_detached(counter, &[0; 16], &mut buf)
        })
    });
    let mut sealed = vec![0u8; PACKET];
    let tag = k.seal_detached(1, &[0; 16], &mut sealed);
    sealed.extend_from_slice(&tag);
    g.bench_function("open 1280 B", |b| {
        b.iter_batched_ref(
            || sealed.clone(),
            |s| assert!(k.open(1, &[0; 16], s).is_some()),
            BatchSize::SmallInput,
        )
    });
    // What a relay does per data frame: the 32-byte routed header, 18 bytes of associated
    // data (PROTOCOL.md §6.5), sealed then opened.
    let mut header = [0u8; 32];
    g.bench_function("seal 32 B header", |b| {
        b.iter(|| {
            counter += 1;
            k.seal_detached(counter, &[0; 18], &mut header)
        })
    });
    let tag = k.seal_detached(1, &[0; 18], &mut header);
    let sealed_header = header;
    g.bench_function("open 32 B header", |b| {
        b.iter_batched_ref(
            || sealed_header,
            |h| assert!(k.open_detached(1, &[0; 18], h, &tag)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn chain(c: &mut Criterion) {
    // Setup and measured routine both drive the same nodes (one after the other).
    let ch = RefCell::new(Chain::new());
    let pkt = ch.borrow().packet();
    for n in [1usize, 64] {
        let mut g = c.benchmark_group(format!("chain, {n} packet(s)"));
        g.throughput(Throughput::Bytes((PACKET * n) as u64));
        g.bench_function("a: seal and send", |b| {
            b.iter(|| ch.borrow_mut().seal_at_a(&pkt, n));
        });
        g.bench_function("b: forward", |b| {
            b.iter_batched(
                || ch.borrow_mut().seal_at_a(&pkt, n),
                |d| ch.borrow_mut().forward_at_b(d),
                BatchSize::SmallInput,
            );
        });
        g.bench_function("c: receive and open", |b| {
            b.iter_batched(
                || {
                    let mut ch = ch.borrow_mut();
                    let d = ch.seal_at_a(&pkt, n);
                    ch.forward_at_b(d)
                },
                |d| assert_eq!(ch.borrow_mut().open_at_c(d), n),
                BatchSize::SmallInput,
            );
        });
        g.finish();
    }
}

/// a—b, b the destination: what each end does for a packet to a neighbour.
fn neighbour(c: &mut Criterion) {
    let ch = RefCell::new(Chain::new());
    let pkt = ch.borrow().packet_to(1);
    {
        // Whatever the first packet sets up (a session, with end-to-end sealing) is set up.
        let mut ch = ch.borrow_mut();
        let now = ch.now;
        ch.nodes[0].handle_tun(now, &pkt);
        ch.deliver_all();
        assert!(ch.nodes[1].poll_tun().is_some_and(|p| p == pkt));
    }
    let mut g = c.benchmark_group("neighbour, 1 packet(s)");
    g.throughput(Throughput::Bytes(PACKET as u64));
    g.bench_function("a: seal and send", |b| {
        b.iter(|| ch.borrow_mut().seal_at_a(&pkt, 1));
    });
    g.bench_function("b: receive and open", |b| {
        b.iter_batched(
            || ch.borrow_mut().seal_at_a(&pkt, 1),
            |d| assert_eq!(ch.borrow_mut().open_at_b(d), 1),
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

criterion_group!(benches, cipher, chain, neighbour);
criterion_main!(benches);
