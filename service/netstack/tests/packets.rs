//! Raw packets at the stack's edge: garbage, ICMPv6 echo, shutting down.

mod common;

use std::time::Duration;

use common::*;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Packet, Ipv6Repr};

fn echo_request(src: std::net::Ipv6Addr, dst: std::net::Ipv6Addr, data: &[u8]) -> Vec<u8> {
    let icmp = Icmpv6Repr::EchoRequest {
        ident: 0x1234,
        seq_no: 7,
        data,
    };
    let ip = Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Icmpv6,
        payload_len: icmp.buffer_len(),
        hop_limit: 64,
    };
    let mut buf = vec![0; ip.buffer_len() + icmp.buffer_len()];
    let mut packet = Ipv6Packet::new_unchecked(&mut buf[..]);
    ip.emit(&mut packet);
    let mut payload = Icmpv6Packet::new_unchecked(packet.payload_mut());
    icmp.emit(&src, &dst, &mut payload, &ChecksumCapabilities::default());
    buf
}

#[tokio::test]
async fn answers_icmpv6_echo() {
    let (a, mut pa) = stack(A, |_| {});
    pa.inbound.send(echo_request(B, A, b"ping!")).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(2), pa.outbound.recv())
        .await
        .unwrap()
        .unwrap();
    let ip = Ipv6Packet::new_checked(&reply[..]).unwrap();
    assert_eq!((ip.src_addr(), ip.dst_addr()), (A, B));
    let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
    let repr = Icmpv6Repr::parse(
        &ip.src_addr(),
        &ip.dst_addr(),
        &icmp,
        &ChecksumCapabilities::default(),
    )
    .unwrap();
    assert_eq!(
        repr,
        Icmpv6Repr::EchoReply {
            ident: 0x1234,
            seq_no: 7,
            data: b"ping!"
        }
    );
    assert_eq!(a.stats().packets_out, 1);
}

#[tokio::test]
async fn garbage_is_counted_and_dropped() {
    let (a, b) = {
        let (a, pa) = stack(A, |_| {});
        let (b, pb) = stack(B, |_| {});
        // Garbage goes into A through the same pipe as B's packets.
        let garbage_in = pa.inbound.clone();
        forward(pa.outbound, pb.inbound, 0);
        forward(pb.outbound, pa.inbound, 0);
        let mut bad: Vec<Vec<u8>> = vec![vec![], vec![0x60], vec![0x45; 20], pattern(5, 39)];
        bad.extend((0..200).map(|i| pattern(i, (i as usize * 37) % 1500)));
        let mut valid_header = echo_request(B, A, b"x");
        valid_header[0] = 0x40; // IPv4 version nibble on an IPv6 packet
        bad.push(valid_header);
        let mut long = echo_request(B, A, b"x");
        long[5] = 0xff; // payload length beyond the packet
        bad.push(long);
        let mut bad_checksum = echo_request(B, A, b"hello");
        *bad_checksum.last_mut().unwrap() ^= 1;
        bad.push(bad_checksum);
        // Well-formed headers with garbage transport payloads, for our own address.
        for (i, proto) in [6u8, 58, 17, 0, 43, 44, 60, 59].into_iter().enumerate() {
            let mut p = echo_request(B, A, &pattern(i as u64 + 100, 60));
            p[6] = proto;
            let len = p.len() - 40;
            p[40..].copy_from_slice(&pattern(i as u64 + 200, len));
            bad.push(p);
        }
        bad.push(echo_request(B, "600::77".parse().unwrap(), b"not for A"));
        for p in bad {
            garbage_in.send(p).await.unwrap();
        }
        (a, b)
    };
    eventually(2, || a.stats().packets_in >= 216).await;
    let stats = a.stats();
    assert!(stats.malformed >= 200, "{stats:?}");
    assert!(stats.foreign >= 1, "{stats:?}");
    // Still alive and working.
    let mut listener = b.listen(1).await.unwrap();
    let _client = a.connect(addr(B, 1)).await.unwrap();
    listener.accept().await.unwrap();
}

#[tokio::test]
async fn run_ends_when_handles_and_inbound_are_dropped() {
    let (stack, packets, run) = hypha_netstack::new(hypha_netstack::Config::new(A));
    let run = tokio::spawn(run);
    let listener = stack.listen(1).await.unwrap();
    let stats = stack.clone();
    drop(stack);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!run.is_finished(), "a clone is still alive");
    drop(stats);
    drop(packets.inbound);
    tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .unwrap()
        .unwrap();
    let mut listener = listener;
    assert!(listener.accept().await.is_err());
}
