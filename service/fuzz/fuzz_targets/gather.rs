//! `Gather::write`, which hands the TUN a TCP flow's segments as one super-packet whose
//! checksum the kernel trusts. Each run builds a receive buffer from the fuzzer's records
//! (valid segments of a few flows, with chosen sequence steps, sizes, flags and damage, and
//! raw bytes) and checks what the kernel would make of the writes: every packet exactly
//! once, each flow's packets in their order, and only well-formed runs gathered.
#![no_main]

use std::io::IoSlice;
use std::ops::Range;

use hypha_tun::gather::{Gather, split};
use libfuzzer_sys::fuzz_target;

/// The one's-complement sum of `b` plus `sum`, folded.
fn csum(b: &[u8], mut sum: u32) -> u16 {
    for c in b.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// A segment of flow `flow` (ports and source address), valid checksum.
fn segment(flow: u8, seq: u32, len: usize, flags: u8, fill: u8) -> Vec<u8> {
    let mut p = vec![0u8; 40 + 20 + len];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&((20 + len) as u16).to_be_bytes());
    p[6] = 6;
    p[7] = 64;
    p[8] = 0x02;
    p[23] = flow >> 2; // a few flows share addresses
    p[24] = 0x02;
    p[39] = 1;
    p[40..42].copy_from_slice(&u16::from(flow).to_be_bytes());
    p[42..44].copy_from_slice(&80u16.to_be_bytes());
    p[44..48].copy_from_slice(&seq.to_be_bytes());
    p[52] = 5 << 4;
    p[53] = flags;
    p[54..56].copy_from_slice(&1000u16.to_be_bytes());
    p[60..].fill(fill);
    let pseudo = csum(&p[8..40], 0) as u32 + (20 + len) as u32 + 6;
    let c = !csum(&p[40..], pseudo);
    p[56..58].copy_from_slice(&c.to_be_bytes());
    p
}

/// What identifies a packet's flow for ordering: addresses and the 4 bytes after the
/// IPv6 header (ports, when it is TCP).
fn flow_of(p: &[u8]) -> Vec<u8> {
    p.get(8..44).map_or_else(Vec::new, <[u8]>::to_vec)
}

/// A packet as the checker compares it: the checksum and PSH left out (the kernel redoes
/// them for a gathered run), and the payload length field, which a run rewrites.
fn canonical(p: &[u8]) -> Vec<u8> {
    let mut p = p.to_vec();
    if p.len() >= 60 && p[6] == 6 {
        p[56..58].fill(0);
        p[53] &= !0x08;
    }
    p
}

fuzz_target!(|data: &[u8]| {
    let mut base = vec![0u8; 7];
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut seqs = [0u32; 8];
    let mut rest = data;
    while let [kind, a, b, c, tail @ ..] = rest {
        rest = tail;
        let p = if kind & 1 == 0 {
            let flow = (kind >> 1) & 7;
            let len = usize::from(*a) * 8 + usize::from(b & 7);
            let s = &mut seqs[usize::from(flow)];
            // Mostly contiguous; sometimes a gap or an overlap.
            *s = match b >> 6 {
                0 | 1 => *s,
                2 => s.wrapping_add(u32::from(*c)),
                _ => s.wrapping_sub(u32::from(*c)),
            };
            let flags = if b & 0x20 != 0 { *c } else { 0x10 | (b & 0x08) };
            let mut p = segment(flow, *s, len, flags, *c);
            *s = s.wrapping_add(len as u32);
            if kind & 0x80 != 0 {
                let at = usize::from(*c) % p.len();
                p[at] ^= a | 1; // damage: a field or the checksum no longer agrees
            }
            p
        } else {
            let n = usize::from(*a).min(rest.len());
            let p = rest[..n].to_vec();
            rest = &rest[n..];
            p
        };
        let at = base.len() + usize::from(kind >> 5);
        base.resize(at, 0xaa);
        base.extend_from_slice(&p);
        ranges.push(at..base.len());
    }
    let mut g = Gather::new();
    let mut writes: Vec<Vec<u8>> = Vec::new();
    let mut fail = 0u8;
    let result = g.write(&base, &ranges, &mut |s: &[IoSlice<'_>]| {
        writes.push(s.iter().flat_map(|s| s.iter().copied()).collect());
        // The device sometimes refuses a write: every write is still made.
        fail = fail.wrapping_add(37);
        if fail < 20 {
            Err(std::io::Error::other("full"))
        } else {
            Ok(0)
        }
    });
    let failed = g.stats.failed;
    assert_eq!(result.is_err(), failed > 0);
    assert_eq!(g.stats.writes + failed, writes.len() as u64);
    let got: Vec<Vec<u8>> = writes.iter().flat_map(|w| split(w)).collect();
    assert_eq!(got.len(), ranges.len(), "every packet exactly once");
    let sent: Vec<Vec<u8>> = ranges.iter().map(|r| base[r.clone()].to_vec()).collect();
    // Each flow's packets in the order received, as the kernel will see them.
    let mut flows: Vec<Vec<u8>> = sent.iter().map(|p| flow_of(p)).collect();
    flows.sort();
    flows.dedup();
    for f in flows {
        let a: Vec<Vec<u8>> = sent
            .iter()
            .filter(|p| flow_of(p) == f)
            .map(|p| canonical(p))
            .collect();
        let b: Vec<Vec<u8>> = got
            .iter()
            .filter(|p| flow_of(p) == f)
            .map(|p| canonical(p))
            .collect();
        assert_eq!(a, b, "a flow's packets, in order");
    }
});
