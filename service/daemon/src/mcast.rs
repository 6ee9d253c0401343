//! LAN discovery sockets: signed hellos to a link-local multicast group on every interface
//! that has an IPv6 link-local address (re-scanned as interfaces come and go).

use std::collections::BTreeSet;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::UdpSocket;

/// The discovery group, `ff02::4879:7068` ("Hyph").
pub const GROUP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0x4879, 0x7068);

/// The discovery socket and the interfaces it serves.
pub struct Mcast {
    /// The socket (bound to the discovery port on `[::]`).
    pub sock: UdpSocket,
    port: u16,
    joined: BTreeSet<u32>,
    exclude: Option<String>,
}

/// Interfaces that are up, can multicast and have an IPv6 link-local address, by index (the
/// TUN itself excluded).
#[cfg(unix)]
fn link_local_interfaces(exclude: Option<&str>) -> BTreeSet<u32> {
    use nix::net::if_::InterfaceFlags;
    let Ok(list) = nix::ifaddrs::getifaddrs() else {
        return BTreeSet::new();
    };
    list.filter(|i| {
        i.flags.contains(InterfaceFlags::IFF_UP)
            && i.flags.contains(InterfaceFlags::IFF_MULTICAST)
            && !i.flags.contains(InterfaceFlags::IFF_LOOPBACK)
            && Some(i.interface_name.as_str()) != exclude
    })
    .filter_map(|i| {
        let a = i.address?.as_sockaddr_in6()?.ip();
        (a.segments()[0] & 0xffc0 == 0xfe80).then_some(i.interface_name)
    })
    .filter_map(|name| nix::net::if_::if_nametoindex(name.as_str()).ok())
    .collect()
}

/// Windows: interfaces as `if-addrs` lists them (it hides link-local addresses, so any
/// interface with an IPv6 address counts).
#[cfg(windows)]
fn link_local_interfaces(exclude: Option<&str>) -> BTreeSet<u32> {
    let Ok(list) = if_addrs::get_if_addrs() else {
        return BTreeSet::new();
    };
    list.into_iter()
        .filter(|i| !i.is_loopback() && Some(i.name.as_str()) != exclude)
        .filter(|i| matches!(i.addr, if_addrs::IfAddr::V6(_)))
        .filter_map(|i| i.index)
        .collect()
}

impl Mcast {
    /// Binds the discovery port; `exclude` is the TUN's name.
    pub fn open(port: u16, exclude: Option<String>) -> Result<Mcast> {
        let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_only_v6(true)?;
        s.set_reuse_address(true)?;
        s.set_nonblocking(true)?;
        s.set_multicast_loop_v6(false)?;
        s.set_multicast_hops_v6(1)?;
        let bind = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0));
        s.bind(&bind.into())
            .with_context(|| format!("binding discovery port {port}"))?;
        let mut m = Mcast {
            sock: UdpSocket::from_std(s.into())?,
            port,
            joined: BTreeSet::new(),
            exclude,
        };
        m.rescan();
        Ok(m)
    }

    /// Joins the group on interfaces that appeared since the last scan.
    pub fn rescan(&mut self) {
        let now = link_local_interfaces(self.exclude.as_deref());
        for &idx in now.difference(&self.joined.clone()) {
            match self.sock.join_multicast_v6(&GROUP, idx) {
                Ok(()) => {
                    tracing::debug!("discovery: joined {GROUP} on interface {idx}");
                }
                Err(e) => tracing::debug!("discovery: join on interface {idx}: {e}"),
            }
        }
        self.joined = now;
    }

    /// Multicasts one datagram on every interface.
    pub async fn send_all(&self, data: &[u8]) {
        for &idx in &self.joined {
            if SockRef::from(&self.sock).set_multicast_if_v6(idx).is_err() {
                continue;
            }
            let to = SocketAddr::V6(SocketAddrV6::new(GROUP, self.port, 0, idx));
            if let Err(e) = self.sock.send_to(data, to).await {
                tracing::debug!("discovery: send on interface {idx}: {e}");
            }
        }
    }
}

/// This host's addresses that others might reach (not loopback, not link-local), with `port`:
/// the endpoints this node claims in its facts.
#[cfg(unix)]
pub fn local_endpoints(port: u16) -> Vec<SocketAddr> {
    use nix::net::if_::InterfaceFlags;
    let Ok(list) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut v: Vec<SocketAddr> = list
        .filter(|i| {
            i.flags.contains(InterfaceFlags::IFF_UP)
                && !i.flags.contains(InterfaceFlags::IFF_LOOPBACK)
        })
        .filter_map(|i| {
            let a = i.address?;
            if let Some(v4) = a.as_sockaddr_in() {
                Some(SocketAddr::new(v4.ip().into(), port))
            } else {
                let v6 = a.as_sockaddr_in6()?.ip();
                // Link-local needs a scope, and the overlay's own addresses are not underlay.
                let skip =
                    v6.segments()[0] & 0xffc0 == 0xfe80 || v6.segments()[0] & 0xfe00 == 0x0600;
                (!skip).then(|| SocketAddr::new(v6.into(), port))
            }
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Windows: addresses as `if-addrs` lists them.
#[cfg(windows)]
pub fn local_endpoints(port: u16) -> Vec<SocketAddr> {
    let Ok(list) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    let mut v: Vec<SocketAddr> = list
        .into_iter()
        .filter(|i| !i.is_loopback())
        .map(|i| SocketAddr::new(i.ip(), port))
        .filter(
            |a| !matches!(a.ip(), std::net::IpAddr::V6(v6) if v6.segments()[0] & 0xfe00 == 0x0600),
        )
        .collect();
    v.sort();
    v.dedup();
    v
}
