//! Two stacks wired back to back, as the tests' network.

#![allow(dead_code)] // each test file uses a different part

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::Duration;

use hypha_netstack::{Config, NetStack, Packets};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const A: Ipv6Addr = Ipv6Addr::new(0x600, 0, 0, 0, 0, 0, 0, 1);
pub const B: Ipv6Addr = Ipv6Addr::new(0x600, 0, 0, 0, 0, 0, 0, 2);

pub fn addr(ip: Ipv6Addr, port: u16) -> SocketAddrV6 {
    SocketAddrV6::new(ip, port, 0, 0)
}

/// A running stack and its packet pipes.
pub fn stack(ip: Ipv6Addr, tweak: impl FnOnce(&mut Config)) -> (NetStack, Packets) {
    let mut cfg = Config::new(ip);
    tweak(&mut cfg);
    let (stack, packets, run) = hypha_netstack::new(cfg);
    tokio::spawn(run);
    (stack, packets)
}

/// Moves one stack's outbound packets into the other's inbound, dropping every
/// `drop_every`-th packet (0: none) so that retransmission has work to do.
pub fn forward(
    mut from: tokio::sync::mpsc::Receiver<Vec<u8>>,
    to: tokio::sync::mpsc::Sender<Vec<u8>>,
    drop_every: u64,
) {
    tokio::spawn(async move {
        let mut n = 0u64;
        while let Some(packet) = from.recv().await {
            n += 1;
            let dropped = n.checked_rem(drop_every) == Some(0);
            watch(&packet, dropped);
            if dropped {
                continue;
            }
            if to.send(packet).await.is_err() {
                break;
            }
        }
    });
}

/// Like [`forward`], but drops `pct` % of the packets at pseudo-random (a fixed sequence per
/// direction, so a failure replays).
pub fn forward_lossy(
    mut from: tokio::sync::mpsc::Receiver<Vec<u8>>,
    to: tokio::sync::mpsc::Sender<Vec<u8>>,
    pct: u64,
    seed: u64,
) {
    tokio::spawn(async move {
        let mut x = seed | 1;
        while let Some(packet) = from.recv().await {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let dropped = x % 100 < pct;
            watch(&packet, dropped);
            if dropped {
                continue;
            }
            if to.send(packet).await.is_err() {
                break;
            }
        }
    });
}

/// The last TCP headers seen on the wire (and whether each was dropped), printed when a reset
/// goes by so that a test failing with "connection reset" shows how it came about.
fn watch(packet: &[u8], dropped: bool) {
    static RECENT: std::sync::Mutex<std::collections::VecDeque<([u8; 20], usize, bool)>> =
        std::sync::Mutex::new(std::collections::VecDeque::new());
    let Some(tcp) = packet.get(40..60).filter(|_| packet[6] == 6) else {
        return;
    };
    let header: [u8; 20] = tcp.try_into().unwrap();
    let len = (packet.len() - 40).saturating_sub(usize::from(header[12] >> 4) * 4);
    let mut recent = RECENT.lock().unwrap();
    if recent.len() == 80 {
        recent.pop_front();
    }
    recent.push_back((header, len, dropped));
    if header[13] & 0x04 == 0 {
        return;
    }
    eprintln!("reset on the wire; the last packets:");
    for (h, len, dropped) in recent.iter() {
        let be16 = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        let be32 = |i: usize| u32::from_be_bytes(h[i..i + 4].try_into().unwrap());
        let flags: String = [(0x01, 'F'), (0x02, 'S'), (0x04, 'R'), (0x10, '.')]
            .iter()
            .filter(|(bit, _)| h[13] & bit != 0)
            .map(|&(_, c)| c)
            .collect();
        eprintln!(
            "  {}>{} [{flags}] seq {} ack {} win {} len {len}{}",
            be16(0),
            be16(2),
            be32(4),
            be32(8),
            be16(14),
            if *dropped { " DROPPED" } else { "" }
        );
    }
}

/// Stacks at `A` and `B` wired back to back through `pct` % random loss each way.
pub fn pair_lossy(pct: u64, tweak: impl Fn(&mut Config)) -> (NetStack, NetStack) {
    let (a, pa) = stack(A, &tweak);
    let (b, pb) = stack(B, &tweak);
    forward_lossy(pa.outbound, pb.inbound, pct, 0x1234_5678);
    forward_lossy(pb.outbound, pa.inbound, pct, 0x9abc_def0);
    (a, b)
}

/// Stacks at `A` and `B`, wired back to back.
pub fn pair(drop_every: u64, tweak: impl Fn(&mut Config)) -> (NetStack, NetStack) {
    let (a, pa) = stack(A, &tweak);
    let (b, pb) = stack(B, &tweak);
    forward(pa.outbound, pb.inbound, drop_every);
    forward(pb.outbound, pa.inbound, drop_every);
    (a, b)
}

/// Deterministic pseudo-random bytes (xorshift), so both ends know what to expect.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// FNV-1a, enough to tell whether two byte streams match.
pub fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Writes `data` in uneven chunks, then shuts down writing.
pub async fn send_all(w: &mut (impl AsyncWriteExt + Unpin), data: &[u8]) {
    for chunk in data.chunks(40_000) {
        w.write_all(chunk).await.unwrap();
    }
    w.shutdown().await.unwrap();
}

/// Reads to EOF.
pub async fn recv_all(r: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut got = Vec::new();
    r.read_to_end(&mut got).await.unwrap();
    got
}

/// Waits until `cond` holds, failing after `secs`.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
