//! Batched UDP on the link socket: `recvmmsg` with UDP GRO on the way in, UDP GSO on the way
//! out (through quinn-udp), so a burst of datagrams costs a few system calls instead of one
//! each. Buffers are allocated once.
//!
//! Datagrams stay datagrams on the wire: GSO only hands the kernel several equal-sized
//! datagrams in one call, so one lost datagram is still one lost packet.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;

use anyhow::Result;
use quinn_udp::{BATCH_SIZE, RecvMeta, Transmit, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::udp;

/// One receive buffer: room for a GRO super-datagram (up to 64 segments).
const RX_BUF: usize = 65_536;
/// Largest datagram sent with GSO: one that fits a 1500-byte link MTU under IPv6 + UDP. Larger
/// datagrams (a jumbo TUN MTU) go one at a time, so the kernel may fragment them; a GSO
/// segment larger than the path MTU would make the kernel refuse GSO for good.
const GSO_MAX_SEGMENT: usize = 1452;
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
}

impl UdpStats {
    /// The counters under their metric names.
    pub fn named(&self) -> [(&'static str, u64); 4] {
        [
            ("udp_recv_calls", self.recv_calls),
            ("udp_recv_datagrams", self.recv_datagrams),
            ("udp_send_calls", self.send_calls),
            ("udp_send_datagrams", self.send_datagrams),
        ]
    }
}

impl UdpIo {
    /// Wraps a bound, non-blocking socket.
    pub fn new(sock: UdpSocket) -> Result<Self> {
        let state = UdpSocketState::new((&sock).into())?;
        // quinn-udp forbids fragmentation (it does its own path-MTU probing); until Hypha
        // probes path MTUs itself, a large TUN MTU still relies on the kernel fragmenting.
        udp::allow_fragmentation(&sock);
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
            stats: UdpStats::default(),
        })
    }

    /// Reads the datagrams queued now (one system call), handing each to `f` with its sender.
    /// `WouldBlock` when there were none.
    pub fn try_recv(&mut self, mut f: impl FnMut(SocketAddr, &mut [u8])) -> io::Result<usize> {
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
        let mut count = 0;
        for (m, iov) in meta[..n].iter().zip(iovs.iter_mut()) {
            let from = udp::normalize(m.addr);
            // GRO: one buffer holds several datagrams from one sender, `stride` bytes apart.
            let stride = if m.stride == 0 { m.len } else { m.stride };
            for d in iov[..m.len].chunks_mut(stride.max(1)) {
                f(from, d);
                count += 1;
            }
        }
        stats.recv_datagrams += count as u64;
        Ok(count)
    }

    /// Queues a datagram. Consecutive datagrams to one address and of one size (the last may
    /// be shorter) leave in one GSO send; anything else first sends what is queued.
    pub async fn send(&mut self, to: SocketAddr, data: &[u8]) {
        let to = udp::for_socket(self.v6, to);
        let max = self.state.max_gso_segments();
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
        if data.len() < self.tx_seg || self.tx_seg > GSO_MAX_SEGMENT || max <= 1 {
            self.flush().await;
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
        let segment_size = (self.tx_n > 1).then_some(self.tx_seg);
        let t = Transmit {
            destination: to,
            ecn: None,
            contents: &self.tx,
            segment_size,
            src_ip: None,
        };
        loop {
            let r = self.sock.try_io(Interest::WRITABLE, || {
                self.state.try_send((&self.sock).into(), &t)
            });
            match r {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.sock.writable().await.is_err() {
                        break;
                    }
                }
                Err(e) if segment_size.is_some() => {
                    // GSO refused (quinn-udp then stops using it): send one by one.
                    tracing::debug!("udp gso send to {to}: {e}; sending datagrams singly");
                    for d in self.tx.chunks(self.tx_seg) {
                        let single = Transmit {
                            destination: to,
                            ecn: None,
                            contents: d,
                            segment_size: None,
                            src_ip: None,
                        };
                        let _ = self.state.try_send((&self.sock).into(), &single);
                    }
                    break;
                }
                Err(e) => {
                    // A peer that went away answers with ICMP errors: nothing to do.
                    tracing::trace!("udp send to {to}: {e}");
                    break;
                }
            }
        }
        self.stats.send_calls += 1;
        self.stats.send_datagrams += self.tx_n as u64;
        self.tx.clear();
        self.tx_n = 0;
    }
}
