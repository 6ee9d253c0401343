//! Property tests for every wire parser: arbitrary bytes never panic, and parse(emit(x)) == x.

use hypha_proto::identity::{Identity, NodeId};
use hypha_proto::node::{Node, NodeConfig, Remote};
use hypha_proto::time::Timestamp;
use hypha_proto::wire::babel::update::SIGNATURE_HELD;
use hypha_proto::wire::babel::{
    AckRepr, AckRequestRepr, HelloRepr, IhuRepr, Prefix, RouteRequestRepr, RouterId,
    SeqnoRequestRepr, Tlv, UpdateRepr, parse_tlvs, update_subnets,
};
use hypha_proto::wire::bus_ack::BusAckRepr;
use hypha_proto::wire::bus_chunk::BusChunkRepr;
use hypha_proto::wire::discovery::{DiscoveryKind, DiscoveryRepr};
use hypha_proto::wire::fact::{self, FactRepr};
use hypha_proto::wire::handshake::{HandshakeRepr, LINK_VERSION};
use hypha_proto::wire::inner::InnerRepr;
use hypha_proto::wire::routed::{RoutedBody, RoutedRepr};
use hypha_proto::wire::transport::TransportRepr;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn node_id() -> impl Strategy<Value = NodeId> {
    any::<[u8; 32]>().prop_map(NodeId::from_bytes)
}

fn router_id() -> impl Strategy<Value = RouterId> {
    (node_id(), any::<u32>()).prop_map(|(node, suffix)| RouterId { node, suffix })
}

/// A canonical prefix: bits past the length are zero.
fn prefix() -> impl Strategy<Value = Prefix> {
    // Half of them /64s, the only prefixes routes use.
    (prop_oneof![Just(64u8), 0u8..=128], any::<[u8; 16]>()).prop_map(|(len, mut bytes)| {
        for (i, b) in bytes.iter_mut().enumerate() {
            let bit = i * 8;
            if bit >= len as usize {
                *b = 0;
            } else if bit + 8 > len as usize {
                *b &= 0xff << (8 - (len as usize - bit));
            }
        }
        Prefix { len, bytes }
    })
}

fn tlv() -> impl Strategy<Value = Tlv> {
    prop_oneof![
        (any::<u16>(), 1u16.., any::<u32>()).prop_map(|(seqno, interval_cs, timestamp)| {
            Tlv::Hello(HelloRepr {
                seqno,
                interval_cs,
                timestamp,
            })
        }),
        (any::<u16>(), 1u16.., any::<u32>(), any::<u32>()).prop_map(|(rxcost, i, e, h)| {
            Tlv::Ihu(IhuRepr {
                rxcost,
                interval_cs: i,
                echo_timestamp: e,
                hold_us: h,
            })
        }),
        (
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            router_id(),
            prefix(),
            any::<[u8; 32]>(),
            any::<bool>(),
        )
            .prop_map(
                |(interval_cs, seqno, metric, router_id, prefix, sig, held)| {
                    // Retractions carry no signature; finite metrics do unless flagged as held.
                    let held = held && metric != 0xFFFF;
                    let signature = (metric != 0xFFFF && !held).then(|| {
                        let mut s = [0u8; 64];
                        s[..32].copy_from_slice(&sig);
                        s[32..].copy_from_slice(&sig);
                        s
                    });
                    Tlv::Update(UpdateRepr {
                        flags: if held { SIGNATURE_HELD } else { 0 },
                        interval_cs,
                        seqno,
                        metric,
                        router_id,
                        prefix,
                        signature,
                    })
                }
            ),
        prefix().prop_map(|prefix| Tlv::RouteRequest(RouteRequestRepr { prefix })),
        (any::<u16>(), 1u16..).prop_map(|(nonce, interval_cs)| {
            Tlv::AckRequest(AckRequestRepr { nonce, interval_cs })
        }),
        any::<u16>().prop_map(|nonce| Tlv::Ack(AckRepr { nonce })),
        (any::<u16>(), 1u8.., router_id(), prefix()).prop_map(
            |(seqno, hop_count, router_id, prefix)| {
                Tlv::SeqnoRequest(SeqnoRequestRepr {
                    seqno,
                    hop_count,
                    router_id,
                    prefix,
                })
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(600)) {
        let _ = HandshakeRepr::parse(&data);
        let _ = TransportRepr::parse(&data);
        let _ = DiscoveryRepr::parse(&data).map(|d| d.verify());
        let _ = InnerRepr::parse(&data);
        let _ = hypha_proto::wire::rekey::RekeyRepr::parse(&data);
        let _ = RoutedRepr::parse(&data);
        let _ = RoutedRepr::peek_dst(&data);
        let _ = BusChunkRepr::parse(&data);
        let _ = BusAckRepr::parse(&data);
        let _ = HelloRepr::parse(&data);
        let _ = IhuRepr::parse(&data);
        let _ = UpdateRepr::parse(&data);
        let _ = RouteRequestRepr::parse(&data);
        let _ = SeqnoRequestRepr::parse(&data);
        let _ = AckRequestRepr::parse(&data);
        let _ = AckRepr::parse(&data);
        let _ = fact::parse_list(&data).map(|l| l.iter().filter(|f| f.verify()).count());
        let _ = fact::parse_endpoint(&data);
        for t in parse_tlvs(&data) {
            let _ = t;
        }
        let _ = update_subnets(&data).count();
    }

    #[test]
    fn handshake_roundtrip(kind in 0u8..4, a in any::<u32>(), b in any::<u32>(), cookie in any::<[u8; 16]>(), noise in proptest::collection::vec(any::<u8>(), 122..512)) {
        let repr = match kind {
            0 => HandshakeRepr::Init { version: LINK_VERSION, sender_index: a, cookie, noise: &noise },
            1 => HandshakeRepr::Resp { sender_index: a, receiver_index: b, noise: &noise },
            2 => HandshakeRepr::Cookie { receiver_index: a, cookie },
            _ => HandshakeRepr::Final { receiver_index: a, noise: &noise },
        };
        let mut buf = Vec::new();
        repr.emit(&mut buf);
        prop_assert_eq!(HandshakeRepr::parse(&buf).unwrap(), repr);
    }

    #[test]
    fn transport_roundtrip(index in any::<u32>(), counter in any::<u64>(), sealed in proptest::collection::vec(any::<u8>(), 16..300)) {
        let repr = TransportRepr { receiver_index: index, counter, sealed: &sealed };
        let mut buf = Vec::new();
        repr.emit(&mut buf);
        prop_assert_eq!(TransportRepr::parse(&buf).unwrap(), repr);
    }

    #[test]
    fn discovery_roundtrip(confirm in any::<bool>(), node in node_id(), seq in any::<u64>(), port in any::<u16>(), tag in any::<[u8; 8]>(), echo in any::<u64>(), sig_lo in any::<[u8; 32]>(), sig_hi in any::<[u8; 32]>()) {
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&sig_lo);
        signature[32..].copy_from_slice(&sig_hi);
        let repr = DiscoveryRepr {
            kind: if confirm { DiscoveryKind::Confirm } else { DiscoveryKind::Hello },
            node_id: node, seq, port, network_tag: tag, echo_seq: echo, signature,
        };
        let mut buf = Vec::new();
        repr.emit(&mut buf);
        prop_assert_eq!(DiscoveryRepr::parse(&buf).unwrap(), repr);
    }

    #[test]
    fn signed_discovery_verifies_only_untampered(seed in any::<[u8; 32]>(), seq in any::<u64>(), flip in 0usize..125) {
        let id = Identity::from_seed(seed);
        let repr = DiscoveryRepr::signed(&id, DiscoveryKind::Hello, seq, 7000, [0; 8], 0);
        let mut buf = Vec::new();
        repr.emit(&mut buf);
        prop_assert!(DiscoveryRepr::parse(&buf).unwrap().verify());
        buf[flip] ^= 0x01;
        if let Ok(p) = DiscoveryRepr::parse(&buf) {
            prop_assert!(!p.verify());
        }
    }

    #[test]
    fn inner_roundtrip(kind in 0u8..3, body in bytes(300)) {
        let repr = match kind {
            0 => InnerRepr::Babel(&body),
            1 => InnerRepr::Routed(&body),
            _ => InnerRepr::Close,
        };
        let mut buf = Vec::new();
        repr.emit(&mut buf);
        prop_assert_eq!(InnerRepr::parse(&buf).unwrap(), repr);
    }

    #[test]
    fn routed_roundtrip(hop in any::<u8>(), flags in any::<u8>(), dst in any::<[u8; 16]>(), src in node_id(), which in 0u8..4, a in any::<u32>(), b in any::<u32>(), counter in any::<u64>(), sealed in proptest::collection::vec(any::<u8>(), 17..256)) {
        let body = match which {
            0 => RoutedBody::Data { receiver_index: a, counter, sealed: &sealed },
            1 => RoutedBody::Hello { sender_index: a, noise: &sealed },
            2 => RoutedBody::HelloBack { sender_index: a, receiver_index: b, noise: &sealed },
            _ => RoutedBody::Probe { src, id: counter },
        };
        let repr = RoutedRepr { hop_limit: hop, flags, dst, body };
        let mut buf = Vec::new();
        repr.emit(&mut buf);
        prop_assert_eq!(RoutedRepr::parse(&buf).unwrap(), repr);
    }

    #[test]
    fn bus_chunk_roundtrip(id in any::<[u8; 16]>(), topic in "[a-z0-9/ é]{0,60}", reply in proptest::option::of(any::<[u8; 16]>()), data in proptest::collection::vec(any::<u8>(), 1..400), before in 0u32..10_000, after in 0u32..10_000) {
        let total_len = before + data.len() as u32 + after;
        let repr = BusChunkRepr { msg_id: id, total_len, offset: before, topic: &topic, reply_to: reply, data: &data };
        let mut buf = Vec::new();
        repr.emit(&mut buf);
        prop_assert_eq!(BusChunkRepr::parse(&buf).unwrap(), repr);
    }

    #[test]
    fn bus_ack_roundtrip(id in any::<[u8; 16]>(), flags in 0u8..4, cuts in proptest::collection::btree_set(any::<u32>(), 0..40)) {
        // Sorted distinct points, paired into disjoint, non-touching ranges.
        let pts: Vec<u32> = cuts.into_iter().collect();
        let ranges: Vec<(u32, u32)> = pts
            .chunks_exact(2)
            .enumerate()
            .filter(|(i, c)| c[0] < c[1] && (*i == 0 || c[0] > 0))
            .map(|(_, c)| (c[0], c[1]))
            .collect();
        let ranges: Vec<(u32, u32)> = ranges
            .iter()
            .enumerate()
            .filter(|(i, r)| *i == 0 || r.0 > ranges[i - 1].1)
            .map(|(_, r)| *r)
            .collect();
        let repr = BusAckRepr { msg_id: id, flags, ranges };
        let mut buf = Vec::new();
        repr.emit(&mut buf);
        prop_assert_eq!(BusAckRepr::parse(&buf).unwrap(), repr);
    }

    #[test]
    fn babel_tlvs_roundtrip(tlvs in proptest::collection::vec(tlv(), 0..20)) {
        let mut buf = Vec::new();
        for t in &tlvs {
            t.emit(&mut buf);
        }
        let parsed: Vec<Tlv> = parse_tlvs(&buf).map(|t| t.unwrap()).collect();
        // The hint that looks destinations up ahead finds every update's /64, and only those.
        let subnets: Vec<_> = parsed
            .iter()
            .filter_map(|t| match t {
                Tlv::Update(u) => u.prefix.as_subnet(),
                _ => None,
            })
            .collect();
        prop_assert_eq!(update_subnets(&buf).collect::<Vec<_>>(), subnets);
        prop_assert_eq!(parsed, tlvs);
    }

    #[test]
    fn fact_list_roundtrip(facts in proptest::collection::vec((node_id(), any::<u8>(), any::<u64>(), any::<u16>(), proptest::collection::vec(any::<u8>(), 0..64), node_id(), any::<[u8; 32]>(), any::<[u8; 32]>()), 0..8)) {
        let facts: Vec<FactRepr> = facts
            .into_iter()
            .map(|(subject, attr, issued_ms, ttl_s, value, signer, lo, hi)| {
                let mut signature = [0u8; 64];
                signature[..32].copy_from_slice(&lo);
                signature[32..].copy_from_slice(&hi);
                FactRepr { subject, attr, issued_ms, ttl_s, value, signer, signature }
            })
            .collect();
        let mut buf = Vec::new();
        fact::emit_list(&facts, &mut buf);
        prop_assert_eq!(fact::parse_list(&buf).unwrap(), facts);
    }

    #[test]
    fn endpoint_value_roundtrip(ip in any::<std::net::IpAddr>(), port in 1u16..) {
        let a = std::net::SocketAddr::new(ip, port);
        prop_assert_eq!(fact::parse_endpoint(&fact::endpoint_value(&a)), Some(a));
    }

    #[test]
    fn node_survives_arbitrary_datagrams(datagrams in proptest::collection::vec(bytes(300), 1..20)) {
        let mut node = Node::new(Identity::from_seed([1; 32]), NodeConfig::default(), Timestamp::ZERO, [0; 32]);
        let remote = Remote::Stream(1);
        for mut d in datagrams {
            node.handle_datagram(Timestamp::from_micros(1), remote, &mut d);
            node.handle_tun(Timestamp::from_micros(1), &d);
        }
        node.handle_timeout(Timestamp::from_micros(5_000_000));
        while node.poll_transmit().is_some() {}
    }
}
