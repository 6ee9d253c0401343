//! Nodes wired together in memory, exchanging real datagrams.

use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::*;
use crate::wire::data_frame;
use crate::wire::routed::{RoutedBody, RoutedRepr};

mod handshake;
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

/// a—b—c: a data packet travels in data frames (payload sealed once, end to end; only the
/// routed header is encrypted per link). A relay refuses a frame whose header, length or
/// end-to-end tag was altered on the wire; one whose payload was altered it cannot tell (it
/// does not read the payload), so it passes it on once and the destination refuses it.
#[test]
fn data_frames_hide_the_header_and_tampered_payloads_die_at_the_destination() {
    let mut m = Mesh::new(3, |_| NodeConfig::default());
    m.link_chain();
    assert!(m.ping(0, 2), "session a—c up");
    let (src, dst) = (
        m.nodes[0].node_id().address(),
        m.nodes[2].node_id().address(),
    );
    let mut pkt = vec![0u8; 200];
    pkt[0] = 0x60;
    pkt[6] = 59;
    pkt[7] = 64;
    pkt[8..24].copy_from_slice(&src.0);
    pkt[24..40].copy_from_slice(&dst.0);
    pkt[40..].copy_from_slice(&[0xAB; 160]);
    m.nodes[0].handle_tun(m.now, &pkt);
    let frame = m.nodes[0].poll_transmit().expect("a sends").payload;
    assert_eq!(frame[0], crate::wire::data_frame::TYPE_DATA_FRAME);
    // One seal of the payload, plus 13 + 32 + 1 + 16 + 16 bytes of headers and tags.
    assert_eq!(frame.len(), pkt.len() + 13 + 32 + 1 + 16 + 16);
    let visible = |needle: &[u8]| frame.windows(needle.len()).any(|w| w == needle);
    assert!(!visible(&dst.0), "destination address readable on the wire");
    assert!(!visible(&[0xAB; 16]), "payload readable on the wire");

    let (fwd, auth) = (
        m.nodes[1].counters.forwarded_packets,
        m.nodes[1].counters.link_auth_failed,
    );
    // The routed header, the end-to-end tag, the length: each is the link's to check.
    for at in [20, frame.len() - 20] {
        let mut bad = frame.clone();
        bad[at] ^= 1;
        m.nodes[1].handle_datagram(m.now, addr(0), &mut bad);
    }
    let mut short = frame.clone();
    short.remove(60);
    m.nodes[1].handle_datagram(m.now, addr(0), &mut short);
    assert_eq!(m.nodes[1].counters.link_auth_failed, auth + 3);
    assert_eq!(m.nodes[1].counters.forwarded_packets, fwd);
    // A payload byte: b forwards the frame once, c refuses it end to end.
    let e2e_c = m.nodes[2].counters.e2e_auth_failed;
    let mut bad = frame.clone();
    bad[60] ^= 1;
    m.nodes[1].handle_datagram(m.now, addr(0), &mut bad);
    assert_eq!(m.nodes[1].counters.forwarded_packets, fwd + 1);
    m.deliver_all();
    assert_eq!(m.nodes[2].counters.e2e_auth_failed, e2e_c + 1);
    assert!(
        m.nodes[2].poll_tun().is_none(),
        "a tampered payload delivered"
    );
    // The tampered copy used up the frame's link counter: the genuine one now counts as a
    // replay, which is all an attacker on the wire gains (it could have dropped the frame).
    let replayed = m.nodes[1].counters.link_replayed;
    m.nodes[1].handle_datagram(m.now, addr(0), &mut frame.clone());
    assert_eq!(m.nodes[1].counters.link_replayed, replayed + 1);
    assert_eq!(m.nodes[1].counters.forwarded_packets, fwd + 1);
    // The next packet goes through, in a data frame on each hop.
    m.nodes[0].handle_tun(m.now, &pkt);
    let next = m.nodes[0].poll_transmit().expect("a sends").payload;
    m.nodes[1].handle_datagram(m.now, addr(0), &mut next.clone());
    let last = m.nodes[1].poll_transmit().expect("b forwards").payload;
    assert_eq!(last[0], data_frame::TYPE_DATA_FRAME);
    assert_eq!(last.len(), next.len());
    m.nodes[2].handle_datagram(m.now, addr(1), &mut last.clone());
    assert_eq!(m.nodes[2].poll_tun().as_deref(), Some(&pkt[..]));
    // A replay of a frame is refused by the link window.
    m.nodes[1].handle_datagram(m.now, addr(0), &mut next.clone());
    assert_eq!(m.nodes[1].counters.link_replayed, replayed + 2);
    assert_eq!(m.nodes[1].counters.forwarded_packets, fwd + 2);

    // Only data packets may travel in data frames: a probe in one (its sender in the clear,
    // under no end-to-end tag) is refused even with a genuine link tag.
    let est = m.nodes[0]
        .links
        .values()
        .find_map(|l| match &l.state {
            links::State::Up(est) if est.node == m.nodes[1].node_id() => Some(est),
            _ => None,
        })
        .expect("a-b link up");
    let (key, index, counter) = (est.keys.send.clone(), est.remote_index, est.send_counter);
    let mut probe = vec![0u8; 13];
    RoutedRepr {
        hop_limit: 8,
        flags: 0,
        dst: dst.0,
        body: RoutedBody::Probe {
            src: m.nodes[0].node_id(),
            id: 1,
        },
    }
    .emit(&mut probe);
    probe.resize(13 + pkt.len() + 33, 0);
    links::seal_data_frame(&key, index, counter + 10, &mut probe);
    let (malformed, auth) = (
        m.nodes[1].counters.malformed,
        m.nodes[1].counters.link_auth_failed,
    );
    m.nodes[1].handle_datagram(m.now, addr(0), &mut probe);
    assert_eq!(
        m.nodes[1].counters.link_auth_failed, auth,
        "the link tag is genuine"
    );
    assert_eq!(m.nodes[1].counters.malformed, malformed + 1);
    assert_eq!(m.nodes[1].counters.forwarded_packets, fwd + 2);
}

/// A packet for the neighbour itself is sealed once, by the link (inner kind 0x06, 30 bytes of
/// overhead), needs no end-to-end session, and is held to the link's checks: tampered frames
/// and replays are refused, and a neighbour cannot speak for another node's address.
#[test]
fn packets_to_a_neighbour_are_sealed_once_by_the_link() {
    let mut m = Mesh::new(3, |_| NodeConfig::default());
    m.link_chain();
    let mut pkt = packet(&m, 0, 1, 200);
    pkt[40..].copy_from_slice(&[0xAB; 160]);
    let hellos = m.nodes[0].counters.e2e_auth_failed;
    m.nodes[0].handle_tun(m.now, &pkt);
    let frame = m.nodes[0].poll_transmit().expect("a sends").payload;
    assert!(m.nodes[0].poll_transmit().is_none(), "no session handshake");
    assert_eq!(frame[0], crate::wire::transport::TYPE_TRANSPORT);
    assert_eq!(frame.len(), pkt.len() + 13 + 1 + 16);
    let visible = |needle: &[u8]| frame.windows(needle.len()).any(|w| w == needle);
    let dst = m.nodes[1].node_id().address();
    assert!(!visible(&dst.0), "destination address readable on the wire");
    assert!(!visible(&[0xAB; 16]), "payload readable on the wire");

    let auth = m.nodes[1].counters.link_auth_failed;
    let mut bad = frame.clone();
    bad[100] ^= 1;
    m.nodes[1].handle_datagram(m.now, addr(0), &mut bad);
    assert_eq!(m.nodes[1].counters.link_auth_failed, auth + 1);
    assert!(
        m.nodes[1].poll_tun().is_none(),
        "a tampered packet delivered"
    );
    m.nodes[1].handle_datagram(m.now, addr(0), &mut frame.clone());
    assert_eq!(m.nodes[1].poll_tun().as_deref(), Some(&pkt[..]));
    let replayed = m.nodes[1].counters.link_replayed;
    m.nodes[1].handle_datagram(m.now, addr(0), &mut frame.clone());
    assert_eq!(m.nodes[1].counters.link_replayed, replayed + 1);
    assert!(m.nodes[1].poll_tun().is_none(), "a replay delivered");
    assert_eq!(m.nodes[0].counters.e2e_auth_failed, hellos);

    // a, sealing with its own link key a packet whose source is c's address: refused.
    let link = *m.nodes[0]
        .links
        .iter()
        .find(|(_, l)| l.node() == Some(m.nodes[1].node_id()))
        .expect("link a—b")
        .0;
    let spoofed = packet(&m, 2, 1, 100);
    let before = m.nodes[1].counters.spoofed_source;
    m.nodes[0].send_to_neighbour(link, &spoofed);
    m.deliver_all();
    assert_eq!(m.nodes[1].counters.spoofed_source, before + 1);
    assert!(
        m.nodes[1].poll_tun().is_none(),
        "a spoofed packet delivered"
    );
    // Through a relay, the payload is still sealed end to end (data frames).
    assert!(m.ping(0, 2));
}

/// A packet for this host is handed back where it was opened, inside the received datagram
/// (`handle_datagram_in_place`), whether a neighbour sealed it on the link or it came end to
/// end through a relay; it is then not queued for the TUN too, and a refused datagram hands
/// back nothing.
#[test]
fn a_packet_for_this_host_is_handed_back_in_place() {
    let mut m = Mesh::new(3, |_| NodeConfig::default());
    m.link_chain();
    let mut pkt = packet(&m, 0, 1, 200);
    pkt[40..].copy_from_slice(&[0xAB; 160]);
    m.nodes[0].handle_tun(m.now, &pkt);
    let mut frame = m.nodes[0].poll_transmit().expect("a sends").payload;
    let mut bad = frame.clone();
    bad[100] ^= 1;
    assert_eq!(
        m.nodes[1].handle_datagram_in_place(m.now, addr(0), &mut bad),
        None
    );
    let delivered = m.nodes[1].counters.delivered_packets;
    let Some(InPlaceOut::Packet(r)) =
        m.nodes[1].handle_datagram_in_place(m.now, addr(0), &mut frame)
    else {
        panic!("not handed back in place");
    };
    assert_eq!(&frame[r], &pkt[..]);
    assert_eq!(m.nodes[1].counters.delivered_packets, delivered + 1);
    assert!(
        m.nodes[1].poll_tun().is_none(),
        "queued for the TUN as well"
    );
    // The plain call, after it, still queues what it delivers.
    assert!(carried(&mut m, 0, 1, &pkt));

    // End to end through b, once the session is up.
    let mut pkt = packet(&m, 0, 2, 300);
    pkt[40..].copy_from_slice(&[0xCD; 260]);
    assert!(carried(&mut m, 0, 2, &pkt));
    m.nodes[0].handle_tun(m.now, &pkt);
    let mut frame = m.nodes[0].poll_transmit().expect("a sends").payload;
    m.nodes[1].handle_datagram(m.now, addr(0), &mut frame);
    let mut relayed = m.nodes[1].poll_transmit().expect("b forwards").payload;
    let copy = relayed.clone();
    let Some(InPlaceOut::Packet(r)) =
        m.nodes[2].handle_datagram_in_place(m.now, addr(1), &mut relayed)
    else {
        panic!("not handed back in place");
    };
    assert_eq!(&relayed[r], &pkt[..]);
    assert!(
        m.nodes[2].poll_tun().is_none(),
        "queued for the TUN as well"
    );
    // The same datagram again is a replay: nothing.
    let replayed = m.nodes[2].counters.link_replayed;
    assert_eq!(
        m.nodes[2].handle_datagram_in_place(m.now, addr(1), &mut copy.clone()),
        None
    );
    assert_eq!(m.nodes[2].counters.link_replayed, replayed + 1);
}

/// A relay passes a data frame on where it arrived (`handle_datagram_in_place` says where
/// to send the datagram, sealed again for the next link, and queues nothing), and the next
/// node opens it; a frame the sharing scheduler holds back is copied and queued instead.
#[test]
fn a_relay_passes_a_data_frame_on_in_place() {
    let mut m = Mesh::new(3, |_| NodeConfig::default());
    m.link_chain();
    let pkt = packet(&m, 0, 2, 300);
    assert!(carried(&mut m, 0, 2, &pkt), "a session a–c");
    let mut seen = Vec::new();
    for i in 0..3u8 {
        let mut pkt = packet(&m, 0, 2, 300);
        pkt[40..].fill(i);
        m.nodes[0].handle_tun(m.now, &pkt);
        let mut frame = m.nodes[0].poll_transmit().expect("a sends").payload;
        let before = frame.clone();
        let forwarded = m.nodes[1].counters.forwarded_packets;
        let out = m.nodes[1].handle_datagram_in_place(m.now, addr(0), &mut frame);
        assert_eq!(out, Some(InPlaceOut::Forward(addr(2))));
        assert!(
            m.nodes[1].poll_transmit().is_none(),
            "b queued a copy as well"
        );
        assert_eq!(m.nodes[1].counters.forwarded_packets, forwarded + 1);
        assert_eq!(frame.len(), before.len());
        assert_ne!(frame[..60], before[..60], "sealed again for the b–c link");
        // c takes it as b sent it.
        let Some(InPlaceOut::Packet(r)) =
            m.nodes[2].handle_datagram_in_place(m.now, addr(1), &mut frame)
        else {
            panic!("c did not open b's frame");
        };
        assert_eq!(frame[r.clone()].len(), pkt.len());
        assert_eq!(frame[r.start + 40..r.end], pkt[40..]);
        assert_eq!(
            frame[r.start + 7],
            pkt[7],
            "the inner packet's hop limit kept"
        );
        seen.push(frame[r.start + 40]);
    }
    assert_eq!(seen, [0, 1, 2]);

    // b's own packet for c, queued before a frame b passes on in place, took the earlier
    // counter on the b–c link: the node says it is to go first.
    let own = packet(&m, 1, 2, 200);
    m.nodes[1].handle_tun(m.now, &own);
    assert_eq!(m.nodes[1].queued_transmits(), 1);
    m.nodes[0].handle_tun(m.now, &pkt);
    let mut frame = m.nodes[0].poll_transmit().expect("a sends").payload;
    let out = m.nodes[1].handle_datagram_in_place(m.now, addr(0), &mut frame);
    assert_eq!(out, Some(InPlaceOut::Forward(addr(2))));
    assert_eq!(m.nodes[1].queued_before_forward(), 1);
    let mut first = m.nodes[1].poll_transmit().expect("b's own packet");
    for d in [&mut first.payload, &mut frame] {
        let Some(InPlaceOut::Packet(_)) = m.nodes[2].handle_datagram_in_place(m.now, addr(1), d)
        else {
            panic!("c refused one of b's frames sent in counter order");
        };
    }

    // With a sharing limit, transit goes through the scheduler's queues: a copy is queued
    // and the datagram is not passed on in place. A generous limit, its tokens filled for a
    // millisecond, lets the copy out at once.
    m.nodes[1].set_transit_rate(m.now, Some(1 << 30));
    m.now = m.now + Duration::from_millis(1);
    m.nodes[0].handle_tun(m.now, &pkt);
    let mut frame = m.nodes[0].poll_transmit().expect("a sends").payload;
    let in_place = m.nodes[1].counters.forwarded_in_place;
    let out = m.nodes[1].handle_datagram_in_place(m.now, addr(0), &mut frame);
    assert_eq!(out, None, "passed on in place past the sharing limit");
    assert_eq!(m.nodes[1].counters.forwarded_in_place, in_place);
    assert_eq!(m.nodes[1].queued_transmits(), 1, "b queued a copy");
    let mut copy = m.nodes[1].poll_transmit().expect("b's copy");
    assert_eq!(copy.remote, addr(2));
    let Some(InPlaceOut::Packet(r)) =
        m.nodes[2].handle_datagram_in_place(m.now, addr(1), &mut copy.payload)
    else {
        panic!("c did not open b's copy");
    };
    assert_eq!(copy.payload[r], pkt[..]);
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

/// The data-frame test vectors of docs/PROTOCOL.md §6.5 (checked against Python's
/// `cryptography` ChaCha20Poly1305): link key 32 × 0x42, receiver index 0x01020304, counter
/// 7, routed header 00 01 … 1f, end-to-end ciphertext aa aa aa aa and tag 16 × 0xbb. The
/// frame opens again with the same key, and not under another length.
#[test]
fn data_frame_test_vectors() {
    let key = crate::crypto::Cipher::new(&[0x42; 32]);
    let mut buf = vec![0u8; 13];
    buf.extend((0u8..32).collect::<Vec<_>>());
    buf.extend([0xaa; 4]);
    buf.extend([0xbb; 16]);
    links::seal_data_frame(&key, 0x0102_0304, 7, &mut buf);
    let got: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        got,
        "060102030400000000000000070978b4cc8b7513cf371938a15773a7f6cd6b416a1ec8b955555396e7033d9e\
         baaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb82c91a2389733c830fb3355e0618f3a"
    );
    let len = buf.len();
    let (front, tag) = buf.split_at_mut(len - 16);
    let tag: [u8; 16] = (&*tag).try_into().unwrap();
    let (header, sealed) = front[13..].split_at_mut(32);
    assert!(key.open_detached(7, &data_frame::aad(sealed).unwrap(), header, &tag));
    assert_eq!(header, (0u8..32).collect::<Vec<_>>());
    assert!(!key.open_detached(7, &data_frame::aad(&sealed[1..]).unwrap(), header, &tag));
    // A packet to a neighbour (inner kind 0x06 in a transport frame, PROTOCOL.md §6.7).
    let mut packet = vec![0x60, 0, 0, 0, 0, 0, 0x3b, 0x40];
    packet.resize(40, 0);
    let mut buf = crate::wire::transport::TransportRepr::header(0x0102_0304, 7).to_vec();
    crate::wire::inner::InnerRepr::Packet(&packet).emit(&mut buf);
    key.seal(7, &mut buf, 13);
    let got: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        got,
        "040102030400000000000000070f19b6cf8f7015f37f1032aa5b7ea9f9dd7a53790addaf424d4a8cfc1f2080a5\
         ccb36a100859d9201a119538e7a629c1eed4c783a5f787d74f"
    );
    let (head, sealed) = buf.split_at_mut(13);
    let plain = key.open(7, head, sealed).expect("opens");
    assert_eq!(plain[0], crate::wire::inner::KIND_PACKET);
    assert_eq!(&plain[1..], &packet[..]);
}
