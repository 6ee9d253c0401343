//! macOS: a `utun` device. The name must be `utunN` (or empty: the kernel picks one).

use std::io;

use crate::TunConfig;

pub(crate) fn open(cfg: &TunConfig) -> io::Result<tun_rs::AsyncDevice> {
    let mut b = tun_rs::DeviceBuilder::new()
        .ipv6(cfg.address, cfg.prefix_len)
        .mtu(cfg.mtu)
        // utun is point-to-point: have tun-rs add the overlay route for the prefix.
        .associate_route(true);
    if cfg.name.starts_with("utun") {
        b = b.name(&cfg.name);
    }
    b.build_async()
}
