//! Batched UDP on the link socket: `recvmmsg` with UDP GRO on the way in, UDP GSO on the way
//! out (through quinn-udp), so a burst of datagrams costs a few system calls instead of one
//! each. Buffers are allocated once.
//!
//! Datagrams stay datagrams on the wire: GSO only hands the kernel several equal-sized
//! datagrams in one call, so one lost datagram is still one lost packet.
//!
//! Nor are they fragmented: the socket keeps quinn-udp's "don't fragment", because the node
//! probes each destination's path MTU itself (`hypha_proto::node::pmtu`) and a probe must not
//! arrive in pieces where a data packet of its size would be lost. One exception: a datagram no
//! larger than a data frame carrying a minimum-size (1280-byte) IPv6 packet, which every path
//! must carry, is sent again allowing fragments when the kernel refuses it as too big.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::ops::Range;

use anyhow::Result;
use quinn_udp::{BATCH_SIZE, RecvMeta, Transmit, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::udp;

/// One receive buffer: room for a GRO super-datagram (up to 64 segments).
const RX_BUF: usize = 65_536;
/// Largest datagram sent with GSO: one that fits a 1500-byte link MTU under IPv4 + UDP (IPv6:
/// 20 bytes less). Larger datagrams (a jumbo TUN MTU) go one at a time. A GSO segment larger
/// than the interface MTU makes the kernel refuse the whole send (and quinn-udp stop using
/// GSO): that destination then gets single datagrams, and GSO comes back for the others.
const GSO_MAX_SEGMENT: usize = 1472;
/// IPv6 headers are 20 bytes longer than IPv4's.
const GSO_V6_LESS: usize = 20;
/// Destinations remembered as refusing GSO, at most (then forgotten all at once).
const MAX_NO_GSO: usize = 1024;
/// Datagrams up to this size are sent in fragments rather than not at all.
const MIN_FRAME: usize = hypha_proto::node::pmtu::MIN_MTU + hypha_proto::node::pmtu::DATA_OVERHEAD;
/// Most bytes in one GSO send: the segments travel as one UDP datagram to the kernel, whose
/// length field is 16 bits (64 segments of a 1280-byte TUN MTU would not fit).
const GSO_MAX_BYTES: usize = 65_000;

/// The link socket with its batching state.
pub struct UdpIo {
    /// The socket (also used directly for the rare unbatched sends).
    pub sock: UdpSocket,
    state: UdpSocketState,
    v6: bool,
    rx: Vec<u8>,
    meta: [RecvMeta; BATCH_SIZE],
    tx: Vec<u8>,
    tx_to: Option<SocketAddr>,
    tx_seg: usize,
    tx_n: usize,
    /// Destinations whose interface refused a GSO send (segments larger than its MTU).
    no_gso: std::collections::HashSet<SocketAddr>,
    /// Counters: system calls and datagrams each way.
    pub stats: UdpStats,
}

/// What the batching achieved (datagrams per system call).
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UdpStats {
    /// `recvmmsg` calls that returned data.
    pub recv_calls: u64,
    /// Datagrams received.
    pub recv_datagrams: u64,
    /// `sendmsg` calls.
    pub send_calls: u64,
    /// Datagrams sent.
    pub send_datagrams: u64,
    /// Datagrams the kernel refused as larger than the path MTU.
    pub too_big: u64,
    /// Of those, datagrams sent again allowing fragments (no larger than [`MIN_FRAME`]).
    pub fragmented: u64,
}

impl UdpStats {
    /// The counters under their metric names.
    pub fn named(&self) -> [(&'static str, u64); 6] {
        [
            ("udp_recv_calls", self.recv_calls),
            ("udp_recv_datagrams", self.recv_datagrams),
            ("udp_send_calls", self.send_calls),
            ("udp_send_datagrams", self.send_datagrams),
            ("udp_too_big", self.too_big),
            ("udp_fragmented", self.fragmented),
        ]
    }
}

impl UdpIo {
    /// Wraps a bound, non-blocking socket.
    pub fn new(sock: UdpSocket) -> Result<Self> {
        // quinn-udp sets "don't fragment" (IP_PMTUDISC_PROBE / IPV6_DONTFRAG on Linux): kept.
        let state = UdpSocketState::new((&sock).into())?;
        let v6 = sock.local_addr()?.is_ipv6();
        Ok(UdpIo {
            sock,
            state,
            v6,
            rx: vec![0; RX_BUF * BATCH_SIZE],
            meta: [RecvMeta::default(); BATCH_SIZE],
            tx: Vec::with_capacity(RX_BUF),
            tx_to: None,
            tx_seg: 0,
            tx_n: 0,
            no_gso: Default::default(),
            stats: UdpStats::default(),
        })
    }

    /// The receive buffer: what [`UdpIo::try_recv`] handed to its callback stays here until
    /// the next read.
    pub fn rx(&self) -> &[u8] {
        &self.rx
    }

    /// The receive buffer, to open in place what [`UdpIo::try_recv`] read.
    pub fn rx_mut(&mut self) -> &mut [u8] {
        &mut self.rx
    }

    /// Reads the datagrams queued now (one system call), replacing `got` with each one's
    /// sender and place in the receive buffer ([`UdpIo::rx`]), in the order they came.
    /// `WouldBlock` when there were none.
    pub fn try_recv(&mut self, got: &mut Vec<(SocketAddr, Range<usize>)>) -> io::Result<usize> {
        got.clear();
        let UdpIo {
            sock,
            state,
            rx,
            meta,
            stats,
            ..
        } = self;
        let sock = &*sock;
        let mut chunks = rx.chunks_mut(RX_BUF);
        let mut iovs: [IoSliceMut<'_>; BATCH_SIZE] =
            std::array::from_fn(|_| IoSliceMut::new(chunks.next().expect("BATCH_SIZE chunks")));
        let n = sock.try_io(Interest::READABLE, || {
            state.recv(sock.into(), &mut iovs, meta)
        })?;
        stats.recv_calls += 1;
        for (k, m) in meta[..n].iter().enumerate() {
            let from = udp::normalize(m.addr);
            // GRO: one buffer holds several datagrams from one sender, `stride` bytes apart.
            let stride = if m.stride == 0 { m.len } else { m.stride }.max(1);
            let base = k * RX_BUF;
            let mut at = 0;
            while at < m.len {
                let len = stride.min(m.len - at);
                got.push((from, base + at..base + at + len));
                at += len;
            }
        }
        stats.recv_datagrams += got.len() as u64;
        Ok(got.len())
    }

    /// Queues a datagram. Consecutive datagrams to one address and of one size (the last may
    /// be shorter) leave in one GSO send; anything else first sends what is queued.
    pub async fn send(&mut self, to: SocketAddr, data: &[u8]) {
        let to = udp::for_socket(self.v6, to);
        let (max, max_segment) = self.gso_limits(to);
        let joins = self.tx_to == Some(to)
            && self.tx_n < max
            && data.len() <= self.tx_seg
            && self.tx.len() == self.tx_seg * self.tx_n
            && self.tx.len() + data.len() <= GSO_MAX_BYTES;
        if !joins {
            self.flush().await;
        }
        if self.tx_n == 0 {
            self.tx_to = Some(to);
            self.tx_seg = data.len();
        }
        self.tx.extend_from_slice(data);
        self.tx_n += 1;
        // A shorter datagram ends a GSO run; so does a datagram GSO must not carry.
        if data.len() < self.tx_seg || self.tx_seg > max_segment || max <= 1 {
            self.flush().await;
        }
    }

    /// Most datagrams in one send to `to` (as the socket names it), and the largest datagram
    /// GSO may carry there.
    fn gso_limits(&self, to: SocketAddr) -> (usize, usize) {
        let v4 = udp::normalize(to).is_ipv4();
        let max = if !self.no_gso.is_empty() && self.no_gso.contains(&to) {
            1
        } else {
            self.state.max_gso_segments()
        };
        (max, GSO_MAX_SEGMENT - if v4 { 0 } else { GSO_V6_LESS })
    }

    /// Sends datagrams that lie in the receive buffer (a relay's frames, sealed again where
    /// they arrived), given as (destination, range) in order: consecutive ones to one
    /// address, of one size and next to each other leave in one GSO send, straight from the
    /// buffer. What is queued goes first.
    pub async fn send_from_rx(&mut self, frames: &[(SocketAddr, Range<usize>)]) {
        self.flush().await;
        let mut i = 0;
        while i < frames.len() {
            let (to, first) = (&frames[i].0, &frames[i].1);
            let to = udp::for_socket(self.v6, *to);
            let (max, max_segment) = self.gso_limits(to);
            let seg = first.len();
            let mut end = first.end;
            let mut n = 1;
            if seg <= max_segment {
                while let Some((t, r)) = frames.get(i + n) {
                    let joins = udp::for_socket(self.v6, *t) == to
                        && r.start == end
                        && r.len() <= seg
                        && n < max
                        && r.end - first.start <= GSO_MAX_BYTES;
                    if !joins {
                        break;
                    }
                    end = r.end;
                    n += 1;
                    if r.len() < seg {
                        break;
                    }
                }
            }
            let Self {
                sock,
                state,
                no_gso,
                stats,
                rx,
                ..
            } = self;
            send_run(
                sock,
                state,
                no_gso,
                stats,
                to,
                &rx[first.start..end],
                seg,
                n,
            )
            .await;
            i += n;
        }
    }

    /// Sends one datagram at once with an IP TTL / hop limit of its own (NAT primers), after
    /// what is queued.
    pub async fn send_with_ttl(&mut self, to: SocketAddr, data: &[u8], ttl: u8) {
        self.flush().await;
        udp::send_with_ttl(&self.sock, data, udp::for_socket(self.v6, to), ttl);
        self.stats.send_calls += 1;
        self.stats.send_datagrams += 1;
    }

    /// Sends what is queued.
    pub async fn flush(&mut self) {
        let Some(to) = self.tx_to.take() else {
            return;
        };
        let Self {
            sock,
            state,
            no_gso,
            stats,
            tx,
            tx_seg,
            tx_n,
            ..
        } = self;
        send_run(sock, state, no_gso, stats, to, tx, *tx_seg, *tx_n).await;
        self.tx.clear();
        self.tx_n = 0;
    }
}

/// Sends `n` datagrams of `seg` bytes (the last may be shorter) that lie one after the other
/// in `contents`, in one GSO send when there are several.
#[allow(clippy::too_many_arguments)]
async fn send_run(
    sock: &UdpSocket,
    state: &mut UdpSocketState,
    no_gso: &mut std::collections::HashSet<SocketAddr>,
    stats: &mut UdpStats,
    to: SocketAddr,
    contents: &[u8],
    seg: usize,
    n: usize,
) {
    let segment_size = (n > 1).then_some(seg);
    let t = Transmit {
        destination: to,
        ecn: None,
        contents,
        segment_size,
        src_ip: None,
    };
    loop {
        let r = sock.try_io(Interest::WRITABLE, || state.try_send(sock.into(), &t));
        match r {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if sock.writable().await.is_err() {
                    break;
                }
            }
            Err(e) if segment_size.is_some() => {
                // Send these one by one, so that a refusal (a firewall dropping one
                // datagram, say: EPERM) costs one datagram, not the whole batch.
                tracing::debug!("udp gso send to {to}: {e}; sending datagrams singly");
                if gso_refused(&e) {
                    // GSO itself refused (a segment over this interface's MTU): quinn-udp
                    // then stops using it for every destination. Start it afresh and
                    // remember this destination only.
                    if let Ok(fresh) = UdpSocketState::new(sock.into()) {
                        *state = fresh;
                    }
                    if no_gso.len() >= MAX_NO_GSO {
                        no_gso.clear();
                    }
                    no_gso.insert(to);
                }
                for d in contents.chunks(seg) {
                    let single = Transmit {
                        destination: to,
                        ecn: None,
                        contents: d,
                        segment_size: None,
                        src_ip: None,
                    };
                    if let Err(e) = state.try_send(sock.into(), &single) {
                        refused(sock, stats, to, d, &e);
                    }
                }
                break;
            }
            Err(e) if is_too_big(&e) => {
                refused(sock, stats, to, contents, &e);
                break;
            }
            Err(e) => {
                // A peer that went away answers with ICMP errors: nothing to do.
                tracing::trace!("udp send to {to}: {e}");
                break;
            }
        }
    }
    stats.send_calls += 1;
    stats.send_datagrams += n as u64;
}

/// The kernel refused datagram `d` to `to` as too big: a small one goes again in fragments,
/// a large one is dropped (the sender's path-MTU probes notice).
fn refused(sock: &UdpSocket, stats: &mut UdpStats, to: SocketAddr, d: &[u8], e: &io::Error) {
    if !is_too_big(e) {
        return;
    }
    stats.too_big += 1;
    if d.len() <= MIN_FRAME {
        udp::send_fragmentable(sock, d, to);
        stats.fragmented += 1;
    }
}

/// EINVAL or EIO from a GSO send: the kernel or the device refused segmentation offload.
fn gso_refused(e: &io::Error) -> bool {
    // EINVAL 22, EIO 5 (GSO sends exist on Linux only).
    matches!(e.raw_os_error(), Some(22 | 5))
}

fn is_too_big(e: &io::Error) -> bool {
    // EMSGSIZE (Linux 90, macOS 40), WSAEMSGSIZE.
    let code = if cfg!(target_os = "linux") {
        90
    } else if cfg!(windows) {
        10040
    } else {
        40
    };
    e.raw_os_error() == Some(code)
}
