//! Received packets written to the TUN from where they were opened, without copying them.
//!
//! The daemon opens each datagram in its receive buffer. Copying every packet into a write
//! batch and then coalescing the batch (what `tun_rs`'s GRO does) costs two copies of every
//! byte before the kernel's own, and each buffer of that batch is 64 KiB apart, so even
//! reading a packet's first byte back misses the cache. Here consecutive segments of one TCP
//! flow are gathered instead: one vectored write hands the kernel a header built for the whole
//! run (with a virtio-net header saying how to split it), followed by each segment's payload
//! where it lies. Anything that does not coalesce goes on its own, in order within its flow.
//!
//! The rules are Linux's own for TCP GRO: same addresses, ports, traffic class, flow label,
//! hop limit, acknowledgement number, window and options; contiguous sequence numbers; equal
//! segment sizes but for a shorter last one; no flag but ACK, and PSH only on the last. Like
//! Linux GRO, each segment's checksum is verified before it joins a run: the kernel does not
//! check a gathered write's (`NEEDS_CSUM`), so a bad segment is written alone, where it does.

use std::io::{self, IoSlice};
use std::ops::Range;

/// Bytes of the virtio-net header in front of every write on an offloading TUN.
pub const VNET_LEN: usize = 10;
const IPV6: usize = 40;
const TCP: u8 = 6;
const MAX_TCP_HEADER: usize = 60;
/// Segments in one write, at most (Linux GRO's own limit).
const MAX_SEGMENTS: usize = 64;
/// Flows gathered at the same time; one more flushes the oldest.
const MAX_OPEN: usize = 8;
const FLAG_PSH: u8 = 0x08;
const FLAG_ACK: u8 = 0x10;
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
/// Where the TCP checksum sits in its header.
const TCP_CSUM: usize = 16;

/// What gathering achieved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GatherStats {
    /// Writes to the device.
    pub writes: u64,
    /// Packets in them.
    pub packets: u64,
    /// Writes the device refused (the packets in them are lost, as on a full queue).
    pub failed: u64,
}

/// A run of segments of one TCP flow being gathered.
#[derive(Default)]
struct Group {
    /// Where the first packet starts in the caller's buffer (its headers are the run's).
    first: usize,
    /// IPv6 + TCP header bytes.
    hdr_len: usize,
    /// Payload bytes of the first segment: every segment but the last has as many.
    gso: usize,
    next_seq: u32,
    /// Payload bytes gathered.
    total: usize,
    psh: bool,
    /// A shorter or PSH segment ended the run.
    closed: bool,
    payloads: Vec<Range<usize>>,
}

/// Reusable state for gathering (no allocation once warm).
pub struct Gather {
    open: Vec<Group>,
    spare: Vec<Group>,
    hdr: Vec<u8>,
    /// Counters since the start.
    pub stats: GatherStats,
}

/// A coalescable TCP segment: its header length and payload length.
fn segment(p: &[u8]) -> Option<(usize, usize)> {
    if p.len() < IPV6 + 20 || p[0] >> 4 != 6 || p[6] != TCP {
        return None;
    }
    if usize::from(u16::from_be_bytes([p[4], p[5]])) != p.len() - IPV6 {
        return None;
    }
    let tcp = &p[IPV6..];
    let doff = usize::from(tcp[12] >> 4) * 4;
    if doff < 20 || doff > tcp.len() || tcp[13] & !(FLAG_PSH | FLAG_ACK) != 0 {
        return None;
    }
    if tcp[13] & FLAG_ACK == 0 || tcp.len() == doff {
        return None;
    }
    if fold(sum16(tcp, u64::from(pseudo_sum(p, tcp.len())))) != 0xffff {
        return None;
    }
    Some((IPV6 + doff, tcp.len() - doff))
}

/// True when packet `p` may belong to the flow of run `run` (a coalescable segment): same
/// addresses, and same ports unless `p` is not plain TCP (an extension header hides them).
fn same_flow(run: &[u8], p: &[u8]) -> bool {
    p.len() >= IPV6 + 4
        && run[8..IPV6] == p[8..IPV6]
        && (p[6] != TCP || run[IPV6..IPV6 + 4] == p[IPV6..IPV6 + 4])
}

fn seq(p: &[u8]) -> u32 {
    u32::from_be_bytes(p[IPV6 + 4..IPV6 + 8].try_into().expect("4 bytes"))
}

/// The one's-complement sum of `b` added to `sum` (not folded), as big-endian 16-bit words.
/// The bulk is summed as native-endian 32-bit words, which the compiler vectorises: 2^16 ≡ 1
/// modulo 0xffff, so folding gives the sum of 16-bit words, and a one's-complement sum taken
/// in the other byte order is the same sum byte-swapped (RFC 1071).
fn sum16(b: &[u8], mut sum: u64) -> u64 {
    let mut chunks = b.chunks_exact(4);
    let mut native = 0u64;
    for c in &mut chunks {
        native += u64::from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]]));
    }
    sum += u64::from(u16::from_be(fold(native)));
    let mut rest = chunks.remainder().chunks_exact(2);
    for c in &mut rest {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = rest.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The IPv6 pseudo-header's sum for a TCP segment of `len` bytes (header included), folded
/// but not complemented: what a checksum left to the kernel (`NEEDS_CSUM`) starts from.
fn pseudo_sum(p: &[u8], len: usize) -> u16 {
    let s = sum16(&p[8..IPV6], 0) + (len as u64 >> 16) + (len as u64 & 0xffff) + u64::from(TCP);
    fold(s)
}

impl Group {
    /// Adds segment `p` (at `at` in the buffer) if it continues the run.
    fn extend(&mut self, base: &[u8], at: usize, p: &[u8], hdr_len: usize, len: usize) -> bool {
        let first = &base[self.first..];
        let (h0, h) = (&first[..self.hdr_len], &p[..hdr_len]);
        let (t0, t) = (&h0[IPV6..], &h[IPV6..]);
        let fits = !self.closed
            && self.payloads.len() < MAX_SEGMENTS
            && hdr_len == self.hdr_len
            && len <= self.gso
            && self.hdr_len - IPV6 + self.total + len <= usize::from(u16::MAX)
            && seq(p) == self.next_seq
            // Traffic class, flow label, hop limit; acknowledgement; offset, window, urgent
            // pointer, options.
            && h0[..4] == h[..4]
            && h0[7] == h[7]
            && t0[8..13] == t[8..13]
            && t0[13] & !FLAG_PSH == t[13] & !FLAG_PSH
            && t0[14..16] == t[14..16]
            && t0[18..] == t[18..];
        if !fits {
            return false;
        }
        self.add(
            at + hdr_len..at + hdr_len + len,
            p[IPV6 + 13] & FLAG_PSH != 0,
        );
        true
    }

    fn add(&mut self, payload: Range<usize>, psh: bool) {
        let len = payload.len();
        self.next_seq = self.next_seq.wrapping_add(len as u32);
        self.total += len;
        self.psh |= psh;
        self.closed = psh || len < self.gso;
        self.payloads.push(payload);
    }
}

impl Default for Gather {
    fn default() -> Self {
        Self::new()
    }
}

impl Gather {
    /// Empty state.
    pub fn new() -> Self {
        Gather {
            open: Vec::with_capacity(MAX_OPEN),
            spare: Vec::new(),
            hdr: Vec::with_capacity(VNET_LEN + IPV6 + MAX_TCP_HEADER),
            stats: GatherStats::default(),
        }
    }

    /// Writes `packets` (ranges of `base`, in the order received) through `write`, which
    /// takes one device write as slices: a virtio-net header, then the packet or the run's
    /// headers and payloads. Returns the first error `write` gave; the other writes are still
    /// made.
    pub fn write(
        &mut self,
        base: &[u8],
        packets: &[Range<usize>],
        write: &mut impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> io::Result<()> {
        let mut result = Ok(());
        let mut keep = |r: io::Result<()>| {
            if let Err(e) = r
                && result.is_ok()
            {
                result = Err(e);
            }
        };
        for range in packets {
            let p = &base[range.clone()];
            let Some((hdr_len, len)) = segment(p) else {
                // A flow's earlier segments go first; other flows' runs stay open.
                while let Some(i) = self
                    .open
                    .iter()
                    .position(|g| same_flow(&base[g.first..], p))
                {
                    keep(self.flush(i, base, write));
                }
                keep(self.write_one(p, write));
                continue;
            };
            if let Some(i) = self
                .open
                .iter()
                .position(|g| same_flow(&base[g.first..], p))
            {
                if self.open[i].extend(base, range.start, p, hdr_len, len) {
                    continue;
                }
                keep(self.flush(i, base, write));
            } else if self.open.len() == MAX_OPEN {
                keep(self.flush(0, base, write));
            }
            let mut g = self.spare.pop().unwrap_or_default();
            g.first = range.start;
            g.hdr_len = hdr_len;
            g.gso = len;
            g.next_seq = seq(p);
            g.total = 0;
            g.psh = false;
            g.payloads.clear();
            g.add(
                range.start + hdr_len..range.end,
                p[IPV6 + 13] & FLAG_PSH != 0,
            );
            self.open.push(g);
        }
        while !self.open.is_empty() {
            keep(self.flush(0, base, write));
        }
        result
    }

    fn write_one(
        &mut self,
        p: &[u8],
        write: &mut impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> io::Result<()> {
        let r = write(&[IoSlice::new(&[0; VNET_LEN]), IoSlice::new(p)]);
        self.count(1, r)
    }

    fn count(&mut self, packets: usize, r: io::Result<usize>) -> io::Result<()> {
        match r {
            Ok(_) => {
                self.stats.writes += 1;
                self.stats.packets += packets as u64;
                Ok(())
            }
            Err(e) => {
                self.stats.failed += 1;
                Err(e)
            }
        }
    }

    /// Writes open run `i` and takes it off the open list (order among the rest kept).
    fn flush(
        &mut self,
        i: usize,
        base: &[u8],
        write: &mut impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> io::Result<()> {
        let g = self.open.remove(i);
        let first = &base[g.first..];
        let n = g.payloads.len();
        let r = if n == 1 {
            let end = g.payloads[0].end;
            self.write_one(&base[g.first..end], write)
        } else {
            let tcp_len = g.hdr_len - IPV6 + g.total;
            let hdr = &mut self.hdr;
            hdr.clear();
            hdr.push(VIRTIO_NET_HDR_F_NEEDS_CSUM);
            hdr.push(VIRTIO_NET_HDR_GSO_TCPV6);
            for v in [g.hdr_len, g.gso, IPV6, TCP_CSUM] {
                hdr.extend_from_slice(&(v as u16).to_ne_bytes());
            }
            hdr.extend_from_slice(&first[..g.hdr_len]);
            let ip = &mut hdr[VNET_LEN..];
            ip[4..6].copy_from_slice(&(tcp_len as u16).to_be_bytes());
            if g.psh {
                ip[IPV6 + 13] |= FLAG_PSH;
            }
            let csum = pseudo_sum(ip, tcp_len);
            ip[IPV6 + TCP_CSUM..IPV6 + TCP_CSUM + 2].copy_from_slice(&csum.to_be_bytes());
            let mut slices: [IoSlice<'_>; MAX_SEGMENTS + 1] =
                std::array::from_fn(|_| IoSlice::new(&[]));
            slices[0] = IoSlice::new(&self.hdr);
            for (s, r) in slices[1..].iter_mut().zip(&g.payloads) {
                *s = IoSlice::new(&base[r.clone()]);
            }
            let r = write(&slices[..=n]);
            self.count(n, r)
        };
        self.spare.push(g);
        r
    }
}

/// What the kernel makes of one write [`Gather::write`] made: the packets it stands for,
/// as they would have been without gathering (but for each segment's checksum and PSH, which
/// the kernel recomputes). Panics when the write is inconsistent: tests and the fuzz target
/// use it as their oracle.
#[doc(hidden)]
pub fn split(w: &[u8]) -> Vec<Vec<u8>> {
    let (vnet, pkt) = w.split_at(VNET_LEN);
    if vnet[1] == 0 {
        assert_eq!(vnet, [0; VNET_LEN], "a single packet carries no offload");
        return vec![pkt.to_vec()];
    }
    assert_eq!(vnet[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_eq!(vnet[1], VIRTIO_NET_HDR_GSO_TCPV6);
    let hdr_len = usize::from(u16::from_ne_bytes([vnet[2], vnet[3]]));
    let gso = usize::from(u16::from_ne_bytes([vnet[4], vnet[5]]));
    assert_eq!(u16::from_ne_bytes([vnet[6], vnet[7]]) as usize, IPV6);
    assert_eq!(u16::from_ne_bytes([vnet[8], vnet[9]]) as usize, TCP_CSUM);
    assert!(gso > 0 && hdr_len >= IPV6 + 20 && pkt.len() > hdr_len + gso);
    assert!(pkt.len() - IPV6 <= usize::from(u16::MAX));
    // The partial checksum completes to a valid one over the whole run.
    let tcp_len = pkt.len() - IPV6;
    assert_eq!(
        usize::from(u16::from_be_bytes([pkt[4], pkt[5]])),
        tcp_len,
        "IPv6 payload length"
    );
    assert_eq!(
        u16::from_be_bytes([pkt[IPV6 + 16], pkt[IPV6 + 17]]),
        pseudo_sum(pkt, tcp_len),
        "the checksum field holds the pseudo-header sum"
    );
    let seq0 = seq(pkt);
    pkt[hdr_len..]
        .chunks(gso)
        .enumerate()
        .map(|(i, body)| {
            let mut p = pkt[..hdr_len].to_vec();
            p[4..6].copy_from_slice(&((hdr_len - IPV6 + body.len()) as u16).to_be_bytes());
            p[IPV6 + 4..IPV6 + 8]
                .copy_from_slice(&seq0.wrapping_add((i * gso) as u32).to_be_bytes());
            p.extend_from_slice(body);
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv6/TCP segment of flow `port` with sequence number `seq`, `len` payload bytes
    /// (byte i is `seq + i`), flags ACK (+ PSH), a timestamp option, and a valid checksum.
    fn seg(port: u16, seq: u32, len: usize, psh: bool) -> Vec<u8> {
        let mut p = vec![0u8; IPV6 + 32 + len];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&((32 + len) as u16).to_be_bytes());
        p[6] = TCP;
        p[7] = 64;
        p[8] = 0x02;
        p[23] = 1;
        p[24] = 0x02;
        p[39] = 2;
        let t = &mut p[IPV6..];
        t[0..2].copy_from_slice(&port.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[8..12].copy_from_slice(&7u32.to_be_bytes());
        t[12] = 8 << 4;
        t[13] = FLAG_ACK | if psh { FLAG_PSH } else { 0 };
        t[14..16].copy_from_slice(&500u16.to_be_bytes());
        t[20..22].copy_from_slice(&[1, 1]);
        t[22..24].copy_from_slice(&[8, 10]);
        t[24..28].copy_from_slice(&99u32.to_be_bytes());
        for (i, b) in t[32..].iter_mut().enumerate() {
            *b = seq.wrapping_add(i as u32) as u8;
        }
        fix_csum(&mut p);
        p
    }

    /// Makes segment `p`'s checksum valid again after a change.
    fn fix_csum(p: &mut [u8]) {
        p[IPV6 + TCP_CSUM..IPV6 + TCP_CSUM + 2].fill(0);
        let c = !fold(sum16(&p[IPV6..], pseudo_sum(p, p.len() - IPV6) as u64));
        p[IPV6 + TCP_CSUM..IPV6 + TCP_CSUM + 2].copy_from_slice(&c.to_be_bytes());
    }

    /// Ports (the flow) and sequence numbers of the segments the writes carry, in order.
    fn segments(writes: &[Vec<u8>]) -> Vec<(u16, u32)> {
        writes
            .iter()
            .flat_map(|w| split(w))
            .map(|p| (u16::from_be_bytes([p[IPV6], p[IPV6 + 1]]), seq(&p)))
            .collect()
    }

    /// The packets laid out in one buffer, as a receive buffer holds them, and their ranges.
    fn layout(pkts: &[Vec<u8>]) -> (Vec<u8>, Vec<Range<usize>>) {
        let mut base = vec![0xee; 3];
        let mut ranges = Vec::new();
        for p in pkts {
            let at = base.len() + 5;
            base.resize(at, 0xee);
            base.extend_from_slice(p);
            ranges.push(at..base.len());
        }
        (base, ranges)
    }

    /// The writes made, each as its bytes.
    fn run(pkts: &[Vec<u8>]) -> (Vec<Vec<u8>>, GatherStats) {
        let (base, ranges) = layout(pkts);
        let mut g = Gather::new();
        let mut writes = Vec::new();
        g.write(&base, &ranges, &mut |s: &[IoSlice<'_>]| {
            writes.push(
                s.iter()
                    .flat_map(|s| s.iter().copied())
                    .collect::<Vec<u8>>(),
            );
            Ok(0)
        })
        .unwrap();
        (writes, g.stats)
    }

    fn payload(p: &[u8]) -> &[u8] {
        &p[IPV6 + 32..]
    }

    #[test]
    fn consecutive_segments_of_a_flow_go_in_one_write() {
        let pkts: Vec<_> = (0..5)
            .map(|i| seg(1000, 1000 + 1200 * i, 1200, i == 4))
            .collect();
        let (writes, stats) = run(&pkts);
        assert_eq!(writes.len(), 1);
        assert_eq!(
            stats,
            GatherStats {
                writes: 1,
                packets: 5,
                failed: 0
            }
        );
        let out = split(&writes[0]);
        assert_eq!(out.len(), 5);
        for (o, p) in out.iter().zip(&pkts) {
            assert_eq!(payload(o), payload(p));
            assert_eq!(seq(o), seq(p));
        }
        // The PSH of the last segment is on the run's header.
        assert_ne!(writes[0][VNET_LEN + IPV6 + 13] & FLAG_PSH, 0);
        // The whole run's checksum, completed as the kernel would, is valid.
        let w = &writes[0][VNET_LEN..];
        let tcp_len = w.len() - IPV6;
        let c = !fold(sum16(&w[IPV6..], 0));
        let mut whole = w.to_vec();
        whole[IPV6 + 16..IPV6 + 18].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            fold(sum16(&whole[IPV6..], pseudo_sum(&whole, tcp_len) as u64)),
            0xffff,
            "completed checksum verifies"
        );
    }

    #[test]
    fn a_gap_a_short_segment_or_other_flags_end_the_run() {
        let pkts = vec![
            seg(1, 0, 1000, false),
            seg(1, 1000, 1000, false),
            seg(1, 2500, 1000, false), // a gap: a new run
            seg(1, 3500, 400, false),  // shorter: ends that run
            seg(1, 3900, 1000, false), // after a short one: a new run
        ];
        let (writes, stats) = run(&pkts);
        assert_eq!(writes.len(), 3);
        assert_eq!(stats.packets, 5);
        let segs: Vec<Vec<u8>> = writes.iter().flat_map(|w| split(w)).collect();
        let seqs: Vec<u32> = segs.iter().map(|p| seq(p)).collect();
        assert_eq!(seqs, vec![0, 1000, 2500, 3500, 3900], "order kept");
        // A different window or acknowledgement number does not coalesce.
        let mut other = seg(1, 1000, 1000, false);
        other[IPV6 + 15] ^= 1;
        let (writes, _) = run(&[seg(1, 0, 1000, false), other]);
        assert_eq!(writes.len(), 2);
        assert!(
            writes.iter().all(|w| w[1] == 0),
            "single packets carry no GSO"
        );
    }

    #[test]
    fn flows_interleave_and_other_packets_keep_their_flow_order() {
        let mut fin = seg(1, 2000, 0, false);
        fin[IPV6 + 13] |= 0x01;
        let pkts = vec![
            seg(1, 0, 1000, false),
            seg(2, 50, 1000, false),
            seg(1, 1000, 1000, false),
            seg(2, 1050, 1000, false),
            fin, // flow 1's FIN: its run goes first, flow 2's stays open
            seg(2, 2050, 1000, false),
        ];
        let (writes, stats) = run(&pkts);
        assert_eq!(stats.packets, 6);
        assert_eq!(writes.len(), 3, "flow 1 run, the FIN, flow 2 run");
        let ports: Vec<u16> = writes
            .iter()
            .map(|w| u16::from_be_bytes([w[VNET_LEN + IPV6], w[VNET_LEN + IPV6 + 1]]))
            .collect();
        assert_eq!(ports, vec![1, 1, 2]);
        assert_eq!(split(&writes[0]).len(), 2);
        assert_eq!(writes[1][VNET_LEN + IPV6 + 13] & 0x01, 1);
        assert_eq!(split(&writes[2]).len(), 3);
    }

    #[test]
    fn non_tcp_and_malformed_packets_go_alone_and_nothing_panics() {
        let mut udp = seg(1, 0, 100, false);
        udp[6] = 17;
        let mut bad_len = seg(1, 0, 100, false);
        bad_len[5] ^= 0x40;
        let mut bad_doff = seg(1, 0, 100, false);
        bad_doff[IPV6 + 12] = 0x40;
        let short = vec![0x60; 30];
        let (writes, stats) = run(&[udp.clone(), bad_len, bad_doff, short.clone()]);
        assert_eq!(writes.len(), 4);
        assert_eq!(stats.packets, 4);
        assert_eq!(&writes[0][VNET_LEN..], &udp[..]);
        assert_eq!(&writes[3][VNET_LEN..], &short[..]);
        // A failing device: every write is tried, the first error returned and counted.
        let (base, ranges) = layout(&[seg(1, 0, 10, true), seg(2, 0, 10, true)]);
        let mut g = Gather::new();
        let mut tries = 0;
        let r = g.write(&base, &ranges, &mut |_: &[IoSlice<'_>]| {
            tries += 1;
            Err(io::Error::other("full"))
        });
        assert!(r.is_err());
        assert_eq!((tries, g.stats.failed, g.stats.writes), (2, 2, 0));
    }

    #[test]
    fn a_run_stops_at_sixty_four_segments_and_at_sixty_four_kib() {
        let pkts: Vec<_> = (0..70).map(|i| seg(1, 100 * i, 100, false)).collect();
        let (writes, _) = run(&pkts);
        assert_eq!(
            writes.iter().map(|w| split(w).len()).collect::<Vec<_>>(),
            [64, 6]
        );
        let pkts: Vec<_> = (0..60).map(|i| seg(1, 1300 * i, 1300, false)).collect();
        let (writes, _) = run(&pkts);
        assert!(writes.iter().all(|w| w.len() - VNET_LEN <= IPV6 + 65_535));
        assert_eq!(writes.iter().map(|w| split(w).len()).sum::<usize>(), 60);
    }

    #[test]
    fn the_checksum_sum_is_the_plain_one() {
        // The definition, word by word, against the vectorised sum, at every length and
        // alignment up to 67 bytes, on bytes that carry often.
        let data: Vec<u8> = (0..200u32).map(|i| (i * 97 + 200) as u8 | 0x80).collect();
        for start in 0..4 {
            for len in 0..68 {
                let b = &data[start..start + len];
                let mut plain = 7u64;
                for (i, x) in b.iter().enumerate() {
                    plain += u64::from(*x) << if i % 2 == 0 { 8 } else { 0 };
                }
                assert_eq!(fold(sum16(b, 7)), fold(plain), "start {start} len {len}");
            }
        }
    }

    #[test]
    fn a_segment_with_a_bad_checksum_goes_alone_for_the_kernel_to_refuse() {
        let mut bad = seg(1, 1000, 1000, false);
        bad[IPV6 + 40] ^= 0x55;
        let pkts = vec![
            seg(1, 0, 1000, false),
            bad.clone(),
            seg(1, 2000, 1000, false),
        ];
        let (writes, stats) = run(&pkts);
        assert_eq!(writes.len(), 3, "nothing coalesced across the bad segment");
        assert!(writes.iter().all(|w| w[..VNET_LEN] == [0; VNET_LEN]));
        assert_eq!(&writes[1][VNET_LEN..], &bad[..], "written as received");
        assert_eq!(stats.packets, 3);
        // A valid odd-length segment passes the check (the last byte is padded).
        let (writes, _) = run(&[seg(1, 0, 1001, false), seg(1, 1001, 999, false)]);
        assert_eq!(writes.len(), 1);
    }

    #[test]
    fn a_run_carries_on_across_the_sequence_number_wrap() {
        let start = u32::MAX - 1500;
        let pkts: Vec<_> = (0..3)
            .map(|i| seg(1, start.wrapping_add(1000 * i), 1000, false))
            .collect();
        let (writes, _) = run(&pkts);
        assert_eq!(writes.len(), 1);
        let out = split(&writes[0]);
        for (o, p) in out.iter().zip(&pkts) {
            assert_eq!((seq(o), payload(o)), (seq(p), payload(p)));
        }
    }

    #[test]
    fn other_ip_fields_or_congestion_flags_do_not_coalesce() {
        let base = || vec![seg(1, 0, 1000, false), seg(1, 1000, 1000, false)];
        // Traffic class, flow label, hop limit (none in the checksum).
        for (at, bit) in [(0, 0x01), (1, 0x10), (3, 0x01), (7, 0x01)] {
            let mut pkts = base();
            pkts[1][at] ^= bit;
            let (writes, _) = run(&pkts);
            assert_eq!(writes.len(), 2, "byte {at} differs");
        }
        // CWR, ECE, URG: the segment goes alone, after its flow's run.
        for flag in [0x80, 0x40, 0x20] {
            let mut pkts = base();
            pkts[1][IPV6 + 13] |= flag;
            fix_csum(&mut pkts[1]);
            pkts.push(seg(1, 2000, 1000, false));
            let (writes, _) = run(&pkts);
            assert_eq!(writes.len(), 3, "flag {flag:#x}");
            assert_eq!(writes[1][VNET_LEN + IPV6 + 13] & flag, flag);
            assert_eq!(segments(&writes), [(1, 0), (1, 1000), (1, 2000)]);
        }
    }

    #[test]
    fn a_ninth_flow_flushes_the_oldest_and_every_flow_keeps_its_order() {
        let mut pkts: Vec<_> = (1..=8u16).map(|port| seg(port, 0, 1000, false)).collect();
        pkts.push(seg(9, 0, 1000, false)); // flushes flow 1, the oldest
        pkts.extend((2..=8u16).map(|port| seg(port, 1000, 1000, false)));
        pkts.push(seg(1, 1000, 1000, false)); // flushes flow 2, now the oldest
        let (writes, stats) = run(&pkts);
        assert_eq!(stats.packets, 17);
        let runs: Vec<Vec<(u16, u32)>> = writes
            .iter()
            .map(|w| segments(std::slice::from_ref(w)))
            .collect();
        assert_eq!(runs[0], [(1, 0)]);
        assert_eq!(runs[1], [(2, 0), (2, 1000)]);
        assert_eq!(runs.len(), 10, "flows 3–8 gathered in twos, 9 and 1 alone");
        assert!(runs[2..8].iter().all(|r| r.len() == 2));
        assert_eq!(runs[9], [(1, 1000)]);
    }

    #[test]
    fn a_packet_with_an_extension_header_goes_after_runs_between_its_addresses() {
        // Hop-by-hop options in front of TCP: the ports are not where a plain segment has
        // them, so every open run between the same addresses goes first.
        let mut ext = seg(1, 1000, 100, false);
        ext[6] = 0;
        let mut other = seg(3, 0, 1000, false);
        other[23] = 9; // another source address
        fix_csum(&mut other);
        let pkts = vec![
            seg(1, 0, 1000, false),
            seg(2, 0, 1000, false),
            other,
            ext.clone(),
        ];
        let (writes, _) = run(&pkts);
        assert_eq!(writes.len(), 4);
        assert_eq!(
            &writes[2][VNET_LEN..],
            &ext[..],
            "after both runs of its addresses"
        );
        assert_eq!(
            writes[3][VNET_LEN + 23],
            9,
            "the other source's run stayed open"
        );
    }
}
