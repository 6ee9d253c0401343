//! Reusable packet batches: what a TUN read hands over and what a TUN write takes.
//!
//! On Linux with offloads the kernel hands over one TCP/UDP super-packet (up to 64 KiB) per
//! read, split here into MTU-sized packets, and takes coalesced super-packets on write; on the
//! other systems a batch holds one packet per read and is written packet by packet. Either way
//! the buffers are allocated once and reused, so the hot path does not allocate.

/// Packets read in one go: at most [`RecvBatch::capacity`] packets of at most `mtu` bytes.
pub struct RecvBatch {
    /// Raw read buffer: the OS header plus a whole super-packet (Linux offload only).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) raw: Vec<u8>,
    pub(crate) bufs: Vec<Vec<u8>>,
    pub(crate) sizes: Vec<usize>,
    pub(crate) len: usize,
}

/// Packets a TCP super-packet can split into at the smallest MTU (64 KiB / 1280 B), with room.
pub const BATCH_PACKETS: usize = 128;
/// Largest super-packet the kernel hands over, plus the virtio header.
const RAW_LEN: usize = 65_535 + 16;

impl RecvBatch {
    /// Buffers for packets of at most `mtu` bytes.
    pub fn new(mtu: usize) -> Self {
        RecvBatch {
            raw: vec![0; RAW_LEN],
            bufs: vec![vec![0; mtu.max(1280)]; BATCH_PACKETS],
            sizes: vec![0; BATCH_PACKETS],
            len: 0,
        }
    }

    /// Most packets one read can yield.
    pub fn capacity(&self) -> usize {
        self.bufs.len()
    }

    /// Number of packets from the last read.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the last read yielded nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The packets of the last read, in order.
    pub fn packets(&self) -> impl Iterator<Item = &[u8]> {
        self.bufs[..self.len]
            .iter()
            .zip(&self.sizes[..self.len])
            .map(|(b, &n)| &b[..n])
    }
}

/// Packets queued for one write to the device. Each buffer keeps [`HEADROOM`] bytes in front
/// of its packet for the OS header (Linux: the virtio-net header that tells the kernel how to
/// treat a coalesced super-packet).
pub struct SendBatch {
    pub(crate) bufs: Vec<Vec<u8>>,
    pub(crate) len: usize,
    #[cfg(target_os = "linux")]
    pub(crate) gro: tun_rs::GROTable,
}

/// Bytes kept in front of every queued packet.
pub const HEADROOM: usize = 16;

impl Default for SendBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl SendBatch {
    /// An empty batch.
    pub fn new() -> Self {
        SendBatch {
            bufs: Vec::new(),
            len: 0,
            #[cfg(target_os = "linux")]
            gro: tun_rs::GROTable::new(),
        }
    }

    /// Queues a copy of `packet` (reusing an earlier buffer when there is one).
    pub fn push(&mut self, packet: &[u8]) {
        if self.len == self.bufs.len() {
            // Full-size from the start: tun-rs coalesces a TCP flow's segments into the first
            // buffer only where its *capacity* has room for it and twice the headroom (as
            // wireguard-go does), so
            // packet-sized buffers silently turn coalescing off (measured: the receiving
            // daemon's CPU per bit more than doubled). 64 buffers × 64 KiB = 4 MiB, once.
            self.bufs.push(Vec::with_capacity(2 * HEADROOM + 65_535));
        }
        let b = &mut self.bufs[self.len];
        b.clear();
        b.resize(HEADROOM, 0);
        b.extend_from_slice(packet);
        self.len += 1;
    }

    /// Number of queued packets.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets the queued packets (keeps the buffers).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The queued packets, without their headroom.
    pub fn packets(&self) -> impl Iterator<Item = &[u8]> {
        self.bufs[..self.len].iter().map(|b| &b[HEADROOM..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_batch_reuses_buffers() {
        let mut b = SendBatch::new();
        b.push(&[1, 2, 3]);
        b.push(&[4]);
        assert_eq!(
            b.packets().collect::<Vec<_>>(),
            vec![&[1, 2, 3][..], &[4][..]]
        );
        let first = b.bufs[0].as_ptr();
        b.clear();
        assert!(b.is_empty());
        b.push(&[5, 6]);
        assert_eq!(b.bufs[0].as_ptr(), first, "the buffer is reused");
        assert_eq!(b.packets().collect::<Vec<_>>(), vec![&[5, 6][..]]);
        // Room to coalesce a whole 64 KiB flow into any buffer.
        assert!(b.bufs.iter().all(|x| x.capacity() >= 2 * HEADROOM + 65_535));
    }
}
