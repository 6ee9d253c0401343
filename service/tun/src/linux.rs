//! Linux: `/dev/net/tun`, address and MTU set by tun-rs over netlink/ioctl.

use std::io;

use crate::TunConfig;

pub(crate) fn open(cfg: &TunConfig) -> io::Result<tun_rs::AsyncDevice> {
    tun_rs::DeviceBuilder::new()
        .name(&cfg.name)
        .ipv6(cfg.address, cfg.prefix_len)
        .mtu(cfg.mtu)
        .build_async()
}
