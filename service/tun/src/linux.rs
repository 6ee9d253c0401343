//! Linux: `/dev/net/tun`, address and MTU set by tun-rs over netlink/ioctl, with offloads
//! (`IFF_VNET_HDR` + TSO): the kernel's TCP hands over 64 KiB super-packets, and coalesced
//! segments go back up as one, so the local stack does per-packet work once per 64 KiB.

use std::io;

use crate::TunConfig;

pub(crate) fn open(cfg: &TunConfig) -> io::Result<tun_rs::AsyncDevice> {
    tun_rs::DeviceBuilder::new()
        .name(&cfg.name)
        .ipv6(cfg.address, cfg.prefix_len)
        .mtu(cfg.mtu)
        .offload(true)
        .build_async()
}

/// A second descriptor for the device's queue, as a `File` (vectored writes go through it).
#[allow(unsafe_code)]
pub(crate) fn dup_fd(dev: &tun_rs::AsyncDevice) -> io::Result<std::fs::File> {
    use std::os::fd::{AsRawFd, BorrowedFd};
    // SAFETY: `dev` owns this descriptor and outlives the borrow, which only lasts for the dup.
    let fd = unsafe { BorrowedFd::borrow_raw(dev.as_raw_fd()) };
    Ok(std::fs::File::from(fd.try_clone_to_owned()?))
}
