//! The TUN device behind one trait.
//!
//! [`open`] creates the OS device (Linux `tun`, macOS `utun`, Windows `wintun`, all through
//! `tun-rs`), assigns the node's overlay address with the overlay prefix length — which also
//! installs the overlay route on the device — and sets the MTU. [`MemoryTun`] is the same
//! interface over channels, for tests and for `--no-tun` nodes.

use std::future::Future;
use std::io;
use std::net::Ipv6Addr;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
mod memory;
#[cfg(windows)]
mod windows;

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

/// An IPv6 packet device.
pub trait Tun: Send + Sync + 'static {
    /// Reads one packet from the local stack into `buf`; returns its length.
    fn recv(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
    /// Reads one packet if one is ready now (`WouldBlock` otherwise): lets the caller drain
    /// a burst without going back to the event loop for each packet.
    fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes one packet to the local stack.
    fn send(&self, packet: &[u8]) -> impl Future<Output = io::Result<usize>> + Send;
    /// The interface name the OS gave the device.
    fn name(&self) -> String;
}

/// The OS TUN device.
pub struct OsTun {
    dev: tun_rs::AsyncDevice,
    name: String,
}

impl Tun for OsTun {
    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.dev.recv(buf).await
    }

    fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.dev.try_recv(buf)
    }

    async fn send(&self, packet: &[u8]) -> io::Result<usize> {
        self.dev.send(packet).await
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
    Ok(OsTun { dev, name })
}
