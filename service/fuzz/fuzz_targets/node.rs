//! `Node::handle_datagram` (and its in-place form) and `Node::handle_tun`, the core's doors to
//! the network and to the local stack. Each run links two nodes a and b for real (handshake
//! and all, seeded, so a crash replays), then hands b the fuzzer's records: datagrams from
//! a's address (where a link exists), datagrams from strangers, TUN packets, packets a sends
//! b for real (opened where they lie), and the passing of time.
#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use hypha_proto::identity::Identity;
use hypha_proto::node::{InPlaceOut, Node, NodeConfig, Remote};
use hypha_proto::time::Timestamp;
use libfuzzer_sys::fuzz_target;

fn remote(last: u8, port: u16) -> Remote {
    Remote::Udp(SocketAddr::from(([10, 0, 0, last], port)))
}

/// Delivers what `from` has to send to `to`, once.
fn shuttle(now: Timestamp, from: &mut Node, from_addr: Remote, to: &mut Node) {
    while let Some(mut t) = from.poll_transmit() {
        to.handle_datagram(now, from_addr, &mut t.payload);
    }
}

/// `b.handle_datagram_in_place`, checking that what it says lies in the datagram; with
/// `ahead`, its payload opened first as the I/O loop's opening threads do (`pre_open`).
fn in_place(now: Timestamp, b: &mut Node, from: Remote, d: &mut [u8], ahead: bool) {
    let out = match b.pre_open(d).filter(|_| ahead) {
        Some(p) => {
            let verified = p.open(d);
            b.handle_pre_opened(now, from, d, &p, verified)
        }
        None => b.handle_datagram_in_place(now, from, d),
    };
    match out {
        Some(InPlaceOut::Packet(r)) => assert!(r.start <= r.end && r.end <= d.len()),
        // b has no neighbour but a, and never sends a's frames back to it.
        Some(InPlaceOut::Forward(to)) => panic!("b passed a's frame on to {to}"),
        None => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut now = Timestamp::ZERO;
    let cfg = NodeConfig::default();
    let mut a = Node::new(Identity::from_seed([1; 32]), cfg.clone(), now, [1; 32]);
    let mut b = Node::new(Identity::from_seed([2; 32]), cfg, now, [2; 32]);
    let (ra, rb) = (remote(1, 9651), remote(2, 9651));
    a.add_peer(now, rb);
    for _ in 0..6 {
        now = now + Duration::from_millis(1);
        a.handle_timeout(now);
        b.handle_timeout(now);
        shuttle(now, &mut a, ra, &mut b);
        shuttle(now, &mut b, rb, &mut a);
    }
    let mut rest = data;
    while let [kind, len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        let mut bytes = tail[..n].to_vec();
        rest = &tail[n..];
        match kind % 4 {
            0 if kind & 0x80 != 0 => in_place(now, &mut b, ra, &mut bytes, kind & 0x40 != 0),
            0 => b.handle_datagram(now, ra, &mut bytes),
            // An IPv6 packet a sends to b, end to end and over the link, opened in place.
            2 if kind & 0x80 != 0 => {
                if bytes.len() >= 40 {
                    bytes[0] = 0x60 | (bytes[0] & 0x0f);
                    let n = (bytes.len() - 40) as u16;
                    bytes[4..6].copy_from_slice(&n.to_be_bytes());
                    bytes[8..24].copy_from_slice(&a.node_id().address().0);
                    bytes[24..40].copy_from_slice(&b.node_id().address().0);
                }
                a.handle_tun(now, &bytes);
                while let Some(mut t) = a.poll_transmit() {
                    in_place(now, &mut b, ra, &mut t.payload, kind & 0x40 != 0);
                }
            }
            1 => b.handle_datagram(now, remote(100 + kind / 4, 40_000), &mut bytes),
            2 => b.handle_tun(now, &bytes),
            _ => {
                let ms = bytes.first().copied().unwrap_or(1) as u64 * 40;
                now = now + Duration::from_millis(ms);
                b.handle_timeout(now);
            }
        }
        while b.poll_transmit().is_some() {}
        while b.poll_tun().is_some() {}
        while b.poll_event().is_some() {}
    }
    now = now + Duration::from_secs(10);
    b.handle_timeout(now);
    while b.poll_transmit().is_some() {}
});
