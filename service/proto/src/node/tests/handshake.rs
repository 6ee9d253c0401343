//! Link handshakes: lost messages, replays, floods, bounds.

use std::time::Duration;

use super::*;

/// An Init is never smaller than what answers it. The same Init again, from the same source,
/// while its Final is awaited, gets the same Resp (its answer was lost; no new handshake), at
/// most twice; from anywhere else, or a third time, it goes unanswered.
#[test]
fn inits_outweigh_their_answers_and_replays_go_unanswered() {
    let mut m = Mesh::new(2, |_| NodeConfig::default());
    m.wire(0, 1);
    m.nodes[0].initiate(m.now, addr(1));
    let init = m.nodes[0].poll_transmit().unwrap().payload;
    m.nodes[1].handle_datagram(m.now, addr(0), &mut init.clone());
    let resp = m.nodes[1].poll_transmit().unwrap().payload;
    assert!(init.len() >= resp.len(), "{} < {}", init.len(), resp.len());
    for _ in 0..2 {
        m.nodes[1].handle_datagram(m.now, addr(0), &mut init.clone());
        let again = m.nodes[1].poll_transmit().map(|t| t.payload);
        assert_eq!(
            again.as_ref(),
            Some(&resp),
            "a repeated Init gets the same Resp"
        );
    }
    assert_eq!(m.nodes[1].counters.handshakes_resent, 2);
    m.nodes[1].handle_datagram(m.now, addr(0), &mut init.clone());
    m.nodes[1].handle_datagram(m.now, addr(2), &mut init.clone());
    assert!(
        m.nodes[1].poll_transmit().is_none(),
        "a replayed Init was answered"
    );
    assert_eq!(m.nodes[1].counters.handshake_replayed, 2);
    assert_eq!(m.nodes[1].counters.handshakes_failed, 0);
    assert_eq!(m.nodes[1].links().len(), 1, "one handshake, not several");
    m.nodes[0].handle_datagram(m.now, addr(1), &mut resp.clone());
    m.deliver_all();
    m.run(Duration::from_millis(50));
    assert!(m.ping(0, 1));
}

/// Whether node `i` has a link up.
fn up(m: &Mesh, i: usize) -> bool {
    m.nodes[i].links().iter().any(|l| l.state == LinkState::Up)
}

/// Each of the three handshake messages lost once: the link comes up 400 ms after the dial,
/// when the message is sent again, not after the 2 s handshake timeout and a new dial.
#[test]
fn a_lost_handshake_message_is_sent_again_within_half_a_second() {
    for lost in 0..3 {
        let mut m = Mesh::new(2, |_| NodeConfig::default());
        m.wire(0, 1);
        m.nodes[0].initiate(m.now, addr(1));
        let init = m.nodes[0].poll_transmit().unwrap().payload;
        if lost > 0 {
            m.nodes[1].handle_datagram(m.now, addr(0), &mut init.clone());
            let resp = m.nodes[1].poll_transmit().unwrap().payload;
            if lost > 1 {
                m.nodes[0].handle_datagram(m.now, addr(1), &mut resp.clone());
                let _final = m.nodes[0].poll_transmit().unwrap();
            }
        }
        m.run(Duration::from_millis(390));
        assert!(
            !up(&m, 0) && !up(&m, 1),
            "message {lost}: up before any resend"
        );
        m.run(Duration::from_millis(120));
        assert!(
            up(&m, 0) && up(&m, 1),
            "message {lost} lost: no link at 510 ms"
        );
        assert_eq!(m.nodes[0].counters.handshakes_resent, 1, "message {lost}");
        assert_eq!(m.nodes[1].counters.handshakes_resent, u64::from(lost == 1));
        assert!(m.ping(0, 1));
    }
}

/// 10,000 Inits a second from spoofed addresses: the responder answers them with cookies
/// (shorter than the Inits), its pending table stays small, and a real peer that dials in the
/// middle of the flood links within a few milliseconds.
#[test]
fn a_spoofed_init_flood_gets_cookies_and_a_real_peer_links_at_once() {
    use crate::link::handshake::{Handshake, NetworkKey};
    use crate::wire::handshake::{COOKIE_LEN, HandshakeRepr, LINK_VERSION};
    let mut m = Mesh::new(2, |_| NodeConfig::default());
    m.wire(0, 1);
    let net = NetworkKey::public();
    let flooder = Identity::from_seed([99; 32]);
    let inits: Vec<Vec<u8>> = (0..10_000u32)
        .map(|k| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&k.to_be_bytes());
            let (_, msg1) = Handshake::initiate(&flooder, &net, seed).unwrap();
            let mut d = Vec::new();
            HandshakeRepr::Init {
                version: LINK_VERSION,
                sender_index: k + 1,
                cookie: [0; COOKIE_LEN],
                noise: &msg1,
            }
            .emit(&mut d);
            net.seal_handshake(&mut d);
            d
        })
        .collect();
    let spoofed = |k: usize| {
        Remote::Udp(SocketAddr::new(
            Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 0, 0, 0, (k >> 16) as u16, k as u16).into(),
            9,
        ))
    };
    let mut linked_after = None;
    for ms in 0..1000usize {
        for (k, init) in inits.iter().enumerate().skip(ms * 10).take(10) {
            m.nodes[1].handle_datagram(m.now, spoofed(k), &mut init.clone());
        }
        if ms == 500 {
            m.nodes[0].add_peer(m.now, addr(1));
        }
        m.run(Duration::from_millis(1));
        if ms >= 500
            && linked_after.is_none()
            && m.nodes[0].links().iter().any(|l| l.state == LinkState::Up)
        {
            linked_after = Some(ms - 500);
        }
        let pending = m.nodes[1]
            .links()
            .iter()
            .filter(|l| l.state == LinkState::Handshaking)
            .count();
        assert!(
            pending <= guard::LOAD_PENDING,
            "{pending} pending at {ms} ms"
        );
    }
    let c = &m.nodes[1].counters;
    assert!(c.handshake_cookies_sent >= 9_000, "{c:?}");
    // The first dial waits for the next maintenance tick (≤ 125 ms), then one round trip more.
    let after = linked_after.expect("the real peer never linked");
    println!(
        "linked {after} ms after dialling; {} cookies sent",
        c.handshake_cookies_sent
    );
    assert!(after <= 110, "linked {after} ms after dialling");
    assert!(m.ping(0, 1));
}

/// However many dials are asked for (discovery, punches, peers), at most MAX_INITIATING
/// handshakes of ours are pending at once.
#[test]
fn pending_dials_are_bounded() {
    let mut m = Mesh::new(1, |_| NodeConfig::default());
    for k in 0..1000u16 {
        let r = Remote::Udp(SocketAddr::new(
            Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, k).into(),
            9,
        ));
        m.nodes[0].connect(m.now, r);
    }
    assert_eq!(m.nodes[0].links().len(), links::MAX_INITIATING);
    assert_eq!(
        m.nodes[0].counters.refused_initiating_full,
        1000 - links::MAX_INITIATING as u64
    );
}
