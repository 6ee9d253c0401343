//! Data frames on the wire: what a link seals, what a relay passes on in place, what stays
//! hidden, and the test vectors of docs/PROTOCOL.md.

use super::*;

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
