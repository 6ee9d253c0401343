//! `Node::handle_datagram` and `Node::handle_tun`, the core's doors to the network and to the
//! local stack. Each run links two nodes a and b for real (handshake and all, seeded, so a
//! crash replays), then hands b the fuzzer's records: datagrams from a's address (where a
//! link exists), datagrams from strangers, TUN packets, and the passing of time.
#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use hypha_proto::identity::Identity;
use hypha_proto::node::{Node, NodeConfig, Remote};
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
            0 => b.handle_datagram(now, ra, &mut bytes),
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
