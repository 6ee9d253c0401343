//! Windows: a wintun adapter; `wintun.dll` is loaded at run time from next to the service
//! executable (the installer ships the signed DLL).

use std::io;

use crate::TunConfig;

pub(crate) fn open(cfg: &TunConfig) -> io::Result<tun_rs::AsyncDevice> {
    let mut b = tun_rs::DeviceBuilder::new()
        .name(&cfg.name)
        .description("Hypha overlay")
        .ipv6(cfg.address, cfg.prefix_len)
        .mtu(cfg.mtu);
    if let Some(dll) = &cfg.wintun_dll {
        b = b.wintun_file(dll.to_string_lossy().into_owned());
    }
    b.build_async()
}
