//! The TUN device behind one trait.
//!
//! [`open`] creates the OS device (Linux `tun`, macOS `utun`, Windows `wintun`, all through
//! `tun-rs`), assigns the node's overlay address with the overlay prefix length — which also
//! installs the overlay route on the device — and sets the MTU. [`MemoryTun`] is the same
//! interface over channels, for tests and for `--no-tun` nodes.

use std::future::Future;
use std::io;
use std::net::Ipv6Addr;

mod batch;
pub mod gather;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
mod memory;
#[cfg(windows)]
mod windows;

pub use batch::{BATCH_PACKETS, HEADROOM, RecvBatch, SendBatch};
pub use memory::{MemoryTun, MemoryTunHandle};

/// What the device should look like.
#[derive(Debug, Clone)]
pub struct TunConfig {
    /// Interface name (Linux: any; macOS: `utunN` or empty for the next free one;
    /// Windows: the adapter name).
    pub name: String,
    /// The node's overlay address.
    pub address: Ipv6Addr,
    /// Prefix length assigned with it (the overlay /7, so the kernel routes the whole overlay
    /// to the device).
    pub prefix_len: u8,
    /// Device MTU.
    pub mtu: u16,
    /// Windows only: path of `wintun.dll` (shipped next to the service executable).
    pub wintun_dll: Option<std::path::PathBuf>,
}

/// An IPv6 packet device, read and written in batches.
pub trait Tun: Send + Sync + 'static {
    /// Waits for packets from the local stack and reads what one read yields into `batch`
    /// (Linux with offloads: a whole TCP super-packet, split into MTU-sized packets).
    fn recv_batch(&self, batch: &mut RecvBatch) -> impl Future<Output = io::Result<()>> + Send;
    /// Like [`Tun::recv_batch`] but only if packets are ready now (`WouldBlock` otherwise):
    /// lets the caller drain a burst without going back to the event loop for each read.
    fn try_recv_batch(&self, batch: &mut RecvBatch) -> io::Result<()>;
    /// Writes the queued packets to the local stack and empties the batch (Linux with
    /// offloads: consecutive segments of one TCP flow go as one super-packet).
    fn send_batch(&self, batch: &mut SendBatch) -> impl Future<Output = io::Result<()>> + Send;
    /// The interface name the OS gave the device.
    fn name(&self) -> String;
}

/// The OS TUN device.
pub struct OsTun {
    dev: tun_rs::AsyncDevice,
    name: String,
    /// Linux: offloads are on (every read and write carries a virtio-net header).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    offload: bool,
    /// Linux with offloads: the device's descriptor again, for vectored writes.
    #[cfg(target_os = "linux")]
    gather_fd: Option<std::fs::File>,
}

impl OsTun {
    /// True when the kernel hands over and takes super-packets (Linux `IFF_VNET_HDR` with
    /// TSO): the daemon logs it, the benchmarks depend on it.
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// Writes `packets`, ranges of `base` in the order they came, to the local stack. With
    /// offloads (Linux) they go straight from `base`, a TCP flow's consecutive segments
    /// gathered into one write ([`gather`]); otherwise they are copied into `fallback`, which
    /// the next [`Tun::send_batch`] writes.
    pub fn write_in_place(
        &self,
        g: &mut gather::Gather,
        base: &[u8],
        packets: &[std::ops::Range<usize>],
        fallback: &mut SendBatch,
    ) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(mut f) = self.gather_fd.as_ref() {
            use std::io::Write;
            return g.write(base, packets, &mut |iov| f.write_vectored(iov));
        }
        let _ = g;
        for r in packets {
            fallback.push(&base[r.clone()]);
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
impl Tun for OsTun {
    async fn recv_batch(&self, b: &mut RecvBatch) -> io::Result<()> {
        b.len = 0;
        b.len = self
            .dev
            .recv_multiple(&mut b.raw, &mut b.bufs, &mut b.sizes, 0)
            .await?;
        Ok(())
    }

    fn try_recv_batch(&self, b: &mut RecvBatch) -> io::Result<()> {
        b.len = 0;
        b.len = self
            .dev
            .try_recv_multiple(&mut b.raw, &mut b.bufs, &mut b.sizes, 0)?;
        Ok(())
    }

    async fn send_batch(&self, b: &mut SendBatch) -> io::Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        let n = b.len;
        b.len = 0;
        self.dev
            .send_multiple(&mut b.gro, &mut b.bufs[..n], batch::HEADROOM)
            .await
            .map(|_| ())
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

#[cfg(not(target_os = "linux"))]
impl Tun for OsTun {
    async fn recv_batch(&self, b: &mut RecvBatch) -> io::Result<()> {
        b.len = 0;
        b.sizes[0] = self.dev.recv(&mut b.bufs[0]).await?;
        b.len = 1;
        Ok(())
    }

    fn try_recv_batch(&self, b: &mut RecvBatch) -> io::Result<()> {
        b.len = 0;
        b.sizes[0] = self.dev.try_recv(&mut b.bufs[0])?;
        b.len = 1;
        Ok(())
    }

    async fn send_batch(&self, b: &mut SendBatch) -> io::Result<()> {
        let n = b.len;
        b.len = 0;
        let mut result = Ok(());
        for buf in &b.bufs[..n] {
            // One failed packet does not stop the rest; the first error is reported.
            if let Err(e) = self.dev.send(&buf[batch::HEADROOM..]).await
                && result.is_ok()
            {
                result = Err(e);
            }
        }
        result
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

/// Creates and configures the OS device. Needs CAP_NET_ADMIN (Linux), root (macOS) or
/// Administrator (Windows).
pub fn open(cfg: &TunConfig) -> io::Result<OsTun> {
    #[cfg(target_os = "linux")]
    let dev = linux::open(cfg)?;
    #[cfg(target_os = "macos")]
    let dev = macos::open(cfg)?;
    #[cfg(windows)]
    let dev = windows::open(cfg)?;
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    let dev: tun_rs::AsyncDevice = {
        let _ = cfg;
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no TUN backend for this OS",
        ));
    };
    let name = dev.name().unwrap_or_else(|_| cfg.name.clone());
    #[cfg(target_os = "linux")]
    {
        let offload = dev.tcp_gso();
        let gather_fd = if offload {
            Some(linux::dup_fd(&dev)?)
        } else {
            None
        };
        Ok(OsTun {
            dev,
            name,
            offload,
            gather_fd,
        })
    }
    #[cfg(not(target_os = "linux"))]
    Ok(OsTun {
        dev,
        name,
        offload: false,
    })
}
