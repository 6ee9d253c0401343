//! Nodes wired together in memory, exchanging real datagrams.

use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::*;
use crate::wire::data_frame;
use crate::wire::routed::{RoutedBody, RoutedRepr};

mod frames;
mod handshake;
mod pre_open;
mod rekey;

fn addr(i: usize) -> Remote {
    // Documentation prefix: never sent anywhere, only a name for the in-memory link.
    Remote::Udp(SocketAddr::new(
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16 + 1).into(),
        7000,
    ))
}

struct Mesh {
    nodes: Vec<Node>,
    up: Vec<(usize, usize)>,
    now: Timestamp,
    /// Drop about one datagram in n, pseudo-randomly (0: none).
    drop_every: u64,
    sent: u64,
    /// Largest datagram each (from, to) link carries; larger ones are lost (no fragments).
    limits: Vec<((usize, usize), usize)>,
    /// How datagrams reach their node (see [`Batches`]).
    batches: Batches,
    /// Frames opened ahead that verified (with [`Batches::PreOpened`]).
    opened_ahead: u64,
}

/// How the mesh hands datagrams to nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batches {
    /// One at a time, as each is sent ([`Node::handle_datagram`]).
    Off,
    /// As the I/O loop does: what each node was sent in a round, as one batch, in place
    /// ([`Node::handle_datagram_in_place`]).
    InPlace,
    /// The same batches, their transport frames opened ahead ([`Node::pre_open`]) before
    /// any is handed over.
    PreOpened,
}

impl Mesh {
    fn new(n: usize, cfg: impl Fn(usize) -> NodeConfig) -> Self {
        let nodes = (0..n)
            .map(|i| {
                Node::new(
                    Identity::from_seed([i as u8 + 10; 32]),
                    cfg(i),
                    Timestamp::ZERO,
                    [i as u8; 32],
                )
            })
            .collect();
        Mesh {
            nodes,
            up: Vec::new(),
            now: Timestamp::ZERO,
            drop_every: 0,
            sent: 0,
            limits: Vec::new(),
            batches: Batches::Off,
            opened_ahead: 0,
        }
    }

    fn wire(&mut self, a: usize, b: usize) {
        self.up.push((a, b));
        self.up.push((b, a));
    }

    fn cut(&mut self, a: usize, b: usize) {
        self.up
            .retain(|&(x, y)| !((x, y) == (a, b) || (x, y) == (b, a)));
    }

    /// The node at `r`; `usize::MAX` for an address outside the mesh (spoofed sources).
    fn index_of(r: Remote) -> usize {
        match r {
            Remote::Udp(s) if s.port() != 7000 => usize::MAX,
            Remote::Udp(s) => match s.ip() {
                std::net::IpAddr::V6(v6) => v6.segments()[7] as usize - 1,
                _ => unreachable!(),
            },
            _ => unreachable!(),
        }
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now = self.now + Duration::from_millis(1);
            for i in 0..self.nodes.len() {
                if self.nodes[i].poll_timeout() <= self.now {
                    self.nodes[i].handle_timeout(self.now);
                }
            }
            self.deliver_all();
        }
    }

    fn deliver_all(&mut self) {
        if self.batches != Batches::Off {
            return self.deliver_batches();
        }
        loop {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                while let Some(t) = self.nodes[i].poll_transmit() {
                    moved = true;
                    let j = Self::index_of(t.remote);
                    if j >= self.nodes.len() {
                        continue;
                    }
                    self.sent += 1;
                    // A fixed hash of the datagram's number: repeatable, but not periodic.
                    let h = self.sent.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
                    let lost = self.drop_every > 0 && h.is_multiple_of(self.drop_every)
                        || self
                            .limits
                            .iter()
                            .any(|&(l, max)| l == (i, j) && t.payload.len() > max);
                    if self.up.contains(&(i, j)) && !lost {
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

    fn ping(&mut self, a: usize, b: usize) -> bool {
        let src = self.nodes[a].node_id().address();
        let dst = self.nodes[b].node_id().address();
        let mut pkt = vec![0u8; 48];
        pkt[0] = 0x60;
        pkt[5] = 8;
        pkt[6] = 59; // no next header
        pkt[7] = 64;
        pkt[8..24].copy_from_slice(&src.0);
        pkt[24..40].copy_from_slice(&dst.0);
        pkt[40..].copy_from_slice(b"payload!");
        while self.nodes[b].poll_tun().is_some() {}
        self.nodes[a].handle_tun(self.now, &pkt);
        self.deliver_all();
        self.nodes[b].poll_tun().as_deref() == Some(&pkt[..])
    }

    /// Links 0—1—2 (0 and 2 dial 1) and lets routing settle.
    fn link_chain(&mut self) {
        self.wire(0, 1);
        self.wire(1, 2);
        self.nodes[0].add_peer(self.now, addr(1));
        self.nodes[2].add_peer(self.now, addr(1));
        self.run(Duration::from_secs(2));
    }

    fn events(&mut self, i: usize) -> Vec<Event> {
        std::iter::from_fn(|| self.nodes[i].poll_event()).collect()
    }
}

#[test]
fn chain_links_up_and_routes_data_through_relay() {
    let mut m = Mesh::new(3, |_| NodeConfig::default());
    m.link_chain();
    assert!(m.ping(0, 2), "a→c through b");
    assert!(m.ping(2, 0), "c→a through b");
    // The session's hello and its answer, then one packet each way.
    assert_eq!(m.nodes[1].counters.forwarded_packets, 4);
    let ev = m.events(0);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::LinkUp { node, .. } if *node == m.nodes[1].node_id()))
    );
}

#[test]
fn both_sides_dialling_leaves_one_link() {
    let mut m = Mesh::new(2, |_| NodeConfig::default());
    m.wire(0, 1);
    m.nodes[0].add_peer(m.now, addr(1));
    m.nodes[1].add_peer(m.now, addr(0));
    m.run(Duration::from_secs(3));
    for i in 0..2 {
        let up: Vec<_> = m.nodes[i]
            .links()
            .into_iter()
            .filter(|l| l.state == LinkState::Up)
            .collect();
        assert_eq!(up.len(), 1, "node {i}: {up:?}");
    }
    assert!(m.ping(0, 1));
}

#[test]
fn wrong_psk_never_links() {
    let mut m = Mesh::new(2, |i| NodeConfig {
        network: if i == 0 {
            NetworkKey::private("lab", b"right")
        } else {
            NetworkKey::private("lab", b"wrong")
        },
        ..NodeConfig::default()
    });
    m.wire(0, 1);
    m.nodes[1].add_peer(m.now, addr(0));
    m.run(Duration::from_secs(5));
    assert!(
        m.nodes
            .iter()
            .all(|n| n.links().iter().all(|l| l.state != LinkState::Up))
    );
    // Turned away by the network MAC on the Init, before any Diffie-Hellman: no handshake
    // state was made and nothing answered.
    assert!(m.nodes[0].counters.handshake_bad_mac > 0);
    assert_eq!(m.nodes[0].counters.handshakes_failed, 0);
    assert_eq!(
        m.nodes[1].counters.handshake_bad_mac, 0,
        "node 0 never answered"
    );
}

#[test]
fn allow_list_refuses_others() {
    let allowed = Identity::from_seed([11; 32]).node_id(); // node 1
    let mut m = Mesh::new(3, |i| NodeConfig {
        allow: (i == 0).then(|| vec![allowed]),
        ..NodeConfig::default()
    });
    m.wire(0, 1);
    m.wire(0, 2);
    m.nodes[1].add_peer(m.now, addr(0));
    m.nodes[2].add_peer(m.now, addr(0));
    m.run(Duration::from_secs(2));
    let nodes: Vec<_> = m.nodes[0]
        .links()
        .into_iter()
        .filter_map(|l| l.node)
        .collect();
    assert_eq!(nodes, vec![allowed]);
    assert!(m.nodes[0].counters.refused_not_allowed >= 1);
}

#[test]
fn datagram_from_outside_any_link_is_not_forwarded() {
    let mut m = Mesh::new(3, |_| NodeConfig::default());
    m.wire(0, 1);
    m.wire(1, 2);
    m.nodes[0].add_peer(m.now, addr(1));
    m.nodes[2].add_peer(m.now, addr(1));
    m.run(Duration::from_secs(2));
    // A well-formed routed packet for c, but wrapped in a frame under no session key.
    let mut routed = Vec::new();
    let c = m.nodes[2].node_id();
    crate::wire::routed::RoutedRepr {
        hop_limit: 64,
        flags: 0,
        dst: c.address().0,
        body: crate::wire::routed::RoutedBody::Data {
            receiver_index: 1,
            counter: 0,
            sealed: &[0x60; 57],
        },
    }
    .emit(&mut routed);
    let mut frame = crate::wire::transport::TransportRepr::header(12345, 0).to_vec();
    frame.push(crate::wire::inner::KIND_ROUTED);
    frame.extend_from_slice(&routed);
    frame.extend_from_slice(&[0; 16]);
    let before = m.nodes[1].counters.forwarded_packets;
    m.nodes[1].handle_datagram(m.now, addr(9), &mut frame);
    m.deliver_all();
    assert_eq!(m.nodes[1].counters.forwarded_packets, before);
    assert_eq!(m.nodes[1].counters.unknown_index, 1);
}

#[test]
fn square_reroutes_within_two_seconds_of_a_silent_cut() {
    // a=0, b=1, c=2, d=3: a-b-d and a-c-d.
    let mut m = Mesh::new(4, |_| NodeConfig::default());
    for (x, y) in [(0, 1), (1, 3), (0, 2), (2, 3)] {
        m.wire(x, y);
        m.nodes[x].add_peer(m.now, addr(y));
    }
    m.run(Duration::from_secs(3));
    assert!(m.ping(0, 3));
    let d = m.nodes[3].node_id().subnet();
    let first_hop = m.nodes[0].babel().lookup(&d).unwrap().0;
    let via = m.nodes[0].link_node(first_hop).unwrap();
    let relay = if via == m.nodes[1].node_id() { 1 } else { 2 };
    m.cut(0, relay);
    let cut_at = m.now;
    let mut recovered = None;
    for _ in 0..300 {
        m.run(Duration::from_millis(10));
        if m.ping(0, 3) {
            recovered = Some(m.now.saturating_since(cut_at));
            break;
        }
    }
    let t = recovered.expect("rerouted");
    assert!(t < Duration::from_secs(2), "took {t:?}");
}

#[test]
fn restart_is_accepted_by_neighbours() {
    // a—b—c: the session a—c crosses b (packets to a neighbour need none).
    let mut m = Mesh::new(3, |_| NodeConfig::default());
    m.link_chain();
    assert!(m.ping(0, 2));
    // Node 2 restarts with the same key and has lost its sessions. Node 0 still sends on
    // its old one, which node 2 no longer knows: after `no_reply` (5 s) without an answer
    // node 0 starts a new handshake.
    m.nodes[2] = Node::new(
        Identity::from_seed([12; 32]),
        NodeConfig::default(),
        m.now,
        [77; 32],
    );
    m.nodes[2].add_peer(m.now, addr(1));
    m.run(Duration::from_secs(3));
    assert!(m.ping(1, 2), "the link came back");
    assert!(!m.ping(0, 2), "node 2 cannot know the old session");
    m.run(Duration::from_secs(6));
    let ok = (0..20).any(|_| {
        m.run(Duration::from_millis(200));
        m.ping(0, 2)
    });
    assert!(ok, "node 0 never made a new session");
    assert!(m.nodes[2].counters.e2e_unknown_session > 0);
    assert!(m.ping(2, 0));
}

/// a—b—c: trace probes name b, then c; names travel by gossip; a forged claim is refused.
#[test]
fn probes_trace_the_path_and_names_spread() {
    let mut m = Mesh::new(3, |_| NodeConfig {
        wall_offset_ms: 1_800_000_000_000,
        ..NodeConfig::default()
    });
    m.link_chain();
    let (b, c) = (m.nodes[1].node_id(), m.nodes[2].node_id());
    m.events(0);
    let mut hops = Vec::new();
    for ttl in 1..=3 {
        let id = m.nodes[0].send_probe(&c, ttl).expect("route to c");
        m.deliver_all();
        let reply = m.events(0).into_iter().find_map(|e| match e {
            Event::ProbeReply {
                from,
                counter,
                reached,
            } if counter == id => Some((from, reached)),
            _ => None,
        });
        let (from, reached) = reply.expect("an answer to every probe");
        hops.push(from);
        if reached {
            break;
        }
    }
    assert_eq!(hops, vec![b, c], "b answers at hop 1, c at hop 2");
    assert_eq!(m.nodes[1].counters.hop_limit_exceeded, 1);

    // Names: c claims one; after gossip a resolves it.
    let now = m.now;
    m.nodes[2].set_name(now, Some(("cee".into(), 1_800_000_000_000)));
    m.run(Duration::from_secs(1));
    assert_eq!(
        crate::names::resolve(m.nodes[0].facts(), "cee.hypha"),
        Some(c)
    );
}

#[test]
fn probe_answers_are_rate_limited() {
    let mut m = Mesh::new(3, |_| NodeConfig::default());
    m.link_chain();
    let c = m.nodes[2].node_id();
    for _ in 0..50 {
        m.nodes[0].send_probe(&c, 1);
    }
    m.deliver_all();
    let answers = m
        .events(0)
        .into_iter()
        .filter(|e| matches!(e, Event::ProbeReply { .. }))
        .count();
    assert_eq!(answers, 20);
    assert_eq!(m.nodes[1].counters.probes_rate_limited, 30);
}

/// A bus message its receiver's owner could not store (a full inbox, say) is refused, never
/// acknowledged: the sender sees it failed. The owner learns of the message from the node's
/// events and refuses it before it next drives the node's timers.
#[test]
fn a_bus_message_the_owner_cannot_store_is_refused_not_acknowledged() {
    let mut m = Mesh::new(2, |_| NodeConfig::default());
    m.wire(0, 1);
    m.nodes[0].add_peer(m.now, addr(1));
    m.run(Duration::from_secs(2));
    let to = m.nodes[1].node_id();
    for (id, refuse) in [([1; 16], true), ([2; 16], false)] {
        let msg = crate::bus::Outgoing {
            id,
            to,
            topic: "t".into(),
            reply_to: None,
            payload: vec![7; 5000],
            deadline_ms: None,
        };
        m.nodes[0].bus_send(m.now, msg).unwrap();
        let mut received = false;
        for _ in 0..2000 {
            m.run(Duration::from_millis(1));
            while let Some(e) = m.nodes[1].poll_event() {
                if let Event::Bus(BusEvent::Received(r)) = e {
                    received = true;
                    if refuse {
                        m.nodes[1].bus_store_failed(m.now, r.from, r.id);
                    }
                }
            }
        }
        assert!(received, "b received message {id:?}");
        let statuses: Vec<_> = std::iter::from_fn(|| m.nodes[0].poll_event())
            .filter_map(|e| match e {
                Event::Bus(BusEvent::Status { id: i, status }) if i == id => Some(status),
                _ => None,
            })
            .collect();
        let last = if refuse {
            crate::bus::MsgStatus::Failed
        } else {
            crate::bus::MsgStatus::Delivered
        };
        assert_eq!(statuses.last(), Some(&last), "{statuses:?}");
        assert!(!statuses.contains(&crate::bus::MsgStatus::Delivered) || !refuse);
    }
}

fn packet(m: &Mesh, a: usize, b: usize, len: usize) -> Vec<u8> {
    let mut pkt = vec![0u8; len];
    pkt[0] = 0x60;
    pkt[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
    pkt[6] = 59;
    pkt[7] = 64;
    pkt[8..24].copy_from_slice(&m.nodes[a].node_id().address().0);
    pkt[24..40].copy_from_slice(&m.nodes[b].node_id().address().0);
    pkt
}

/// Sends `pkt` from node `a` and says whether node `b` got it.
fn carried(m: &mut Mesh, a: usize, b: usize, pkt: &[u8]) -> bool {
    while m.nodes[b].poll_tun().is_some() {}
    m.nodes[a].handle_tun(m.now, pkt);
    m.deliver_all();
    std::iter::from_fn(|| m.nodes[b].poll_tun()).any(|p| p == pkt)
}

/// A 1400-byte underlay MTU in the middle of a path: probes find what the path carries within
/// a second, larger packets then get an ICMPv6 packet-too-big naming it, and packets of that
/// size go through; the path without the narrow link keeps the whole TUN MTU.
#[test]
fn path_mtu_is_found_by_probes_and_enforced_with_packet_too_big() {
    let mut m = Mesh::new(3, |_| NodeConfig {
        tun_mtu: 1394,
        ..NodeConfig::default()
    });
    // Link 1—2 carries datagrams of 1400 − 28 bytes (an IPv4 underlay with a 1400 MTU).
    m.limits = vec![((1, 2), 1372), ((2, 1), 1372)];
    m.link_chain();
    assert!(m.ping(0, 2), "small packets pass");
    let big = packet(&m, 0, 2, 1394);
    // The first one is sent (the path is not known yet) and lost on the narrow link.
    assert!(!carried(&mut m, 0, 2, &big));
    assert_eq!(m.nodes[0].counters.packet_too_big, 0);
    let big_b = packet(&m, 0, 1, 1394);
    assert!(carried(&mut m, 0, 1, &big_b));
    m.run(Duration::from_secs(1));
    let c = m.nodes[2].node_id();
    assert_eq!(m.nodes[0].path_mtu(&c), Some((1294, true)));
    assert_eq!(
        m.nodes[0].path_mtu(&m.nodes[1].node_id()),
        Some((1394, true))
    );
    assert!(m.nodes[0].counters.pmtu_lowered >= 1);

    // Now a packet-too-big comes back at once, naming 1294.
    while m.nodes[0].poll_tun().is_some() {}
    assert!(!carried(&mut m, 0, 2, &big));
    let ptb = m.nodes[0].poll_tun().expect("packet too big");
    assert_eq!((ptb[6], ptb[40], ptb[41]), (58, 2, 0));
    assert_eq!(&ptb[44..48], &1294u32.to_be_bytes());
    assert_eq!(&ptb[24..40], &big[8..24], "to the sender");
    assert_eq!(m.nodes[0].counters.packet_too_big, 1);
    let fits = packet(&m, 0, 2, 1294);
    assert!(carried(&mut m, 0, 2, &fits));
    assert!(carried(&mut m, 0, 1, &big_b));
    // Probe answers never reach the user as trace events.
    assert!(
        !m.events(0)
            .iter()
            .any(|e| matches!(e, Event::ProbeReply { .. }))
    );
}

/// Small transit packets are charged too: a flood of 60-byte probes through a relay sharing
/// 6,400 bytes a second gets about 100 of them a second through, not all of them.
#[test]
fn small_transit_packets_are_not_free() {
    let mut m = Mesh::new(3, |i| NodeConfig {
        transit_rate: (i == 1).then_some(6_400),
        ..NodeConfig::default()
    });
    m.link_chain();
    let c = m.nodes[2].node_id();
    let before = m.nodes[1].counters.forwarded_packets;
    for _ in 0..2000 {
        m.nodes[0].send_probe(&c, 64);
    }
    m.deliver_all();
    m.run(Duration::from_secs(1));
    let forwarded = m.nodes[1].counters.forwarded_packets - before;
    // 100 a second at 64 bytes each, plus what the bucket held (at 11 bytes each, the old
    // charge, it would be over 580).
    assert!(forwarded <= 400, "{forwarded} probes forwarded in a second");
}

/// A relayed destination nobody knows an endpoint for is looked up in the fact store once a
/// second, not on every packet; one with endpoints is dialled at most every 5 s; and both
/// rate-limit maps forget their entries.
#[test]
fn direct_path_lookups_are_rate_limited_and_forgotten() {
    // Only a tries direct paths, so nobody vouches for c's address: a knows no endpoint.
    let mut m = Mesh::new(3, |i| NodeConfig {
        direct_paths: i == 0,
        ..NodeConfig::default()
    });
    m.link_chain();
    let c = m.nodes[2].node_id();
    for _ in 0..100 {
        assert!(m.ping(0, 2));
    }
    assert!(
        m.nodes[0].direct_unknown.contains_key(&c),
        "c has no endpoint"
    );
    assert_eq!(m.nodes[0].counters.direct_attempts, 0);
    m.run(Duration::from_secs(2));
    assert!(m.nodes[0].direct_unknown.is_empty(), "unknowns pruned");

    // Everyone on: b vouches for c's address, so a dials it, once for 100 packets (the
    // direct datagrams go nowhere here: a and c are not wired).
    let mut m = Mesh::new(3, |_| NodeConfig {
        direct_paths: true,
        ..NodeConfig::default()
    });
    m.link_chain();
    let c = m.nodes[2].node_id();
    for _ in 0..100 {
        assert!(m.ping(0, 2));
    }
    assert_eq!(
        m.nodes[0].counters.direct_attempts, 1,
        "one attempt, not one per packet"
    );
    assert!(m.nodes[0].direct_attempts.contains_key(&c));
    m.run(Duration::from_secs(6));
    assert!(m.nodes[0].direct_attempts.is_empty(), "attempts pruned");
}
