//! The UDP link socket: dual-stack, so IPv4 peers appear as IPv4 addresses everywhere.

use std::net::{SocketAddr, SocketAddrV6};

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

/// Binds a UDP socket; an IPv6 wildcard also accepts IPv4.
pub fn bind(addr: SocketAddr) -> Result<UdpSocket> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(false)?;
    }
    // Large buffers: bursts of routing dumps and data must not be dropped by the kernel.
    set_buffers(&s, SOCKET_BUFFER);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())
        .with_context(|| format!("binding udp {addr}"))?;
    Ok(UdpSocket::from_std(s.into())?)
}

/// Receive and send buffer size asked for the link socket.
const SOCKET_BUFFER: usize = 4 << 20;

/// Sets both socket buffers to `size`. Linux caps what an ordinary request gets at
/// `net.core.rmem_max`/`wmem_max` (about 208 KiB on a stock system, where a burst of
/// GSO datagrams overflows it and TCP over the mesh backs off); a privileged service may go
/// past the cap (`SO_RCVBUFFORCE`, CAP_NET_ADMIN), so it asks that way first.
fn set_buffers(s: &Socket, size: usize) {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{setsockopt, sockopt};
        if setsockopt(s, sockopt::RcvBufForce, &size).is_err() {
            let _ = s.set_recv_buffer_size(size);
        }
        if setsockopt(s, sockopt::SndBufForce, &size).is_err() {
            let _ = s.set_send_buffer_size(size);
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = s.set_recv_buffer_size(size);
        let _ = s.set_send_buffer_size(size);
    }
}

/// IPv4-mapped IPv6 addresses become plain IPv4 (so a configured `udp://10.0.0.1:9651` and a
/// datagram from it have the same name).
pub fn normalize(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => a,
        },
        v4 => v4,
    }
}

/// What to pass to `send_to` on `sock` for a peer address (IPv4 on a dual-stack socket goes
/// as an IPv4-mapped IPv6 address).
pub fn for_socket(sock_is_v6: bool, a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V4(v4) if sock_is_v6 => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        other => other,
    }
}

/// Sends one datagram with a given IP TTL / IPv6 hop limit, then restores the default.
/// Best effort: a primer that cannot be sent is simply not sent.
pub fn send_with_ttl(sock: &UdpSocket, data: &[u8], to: SocketAddr, ttl: u8) {
    let s = socket2::SockRef::from(sock);
    let v6 = sock.local_addr().map(|a| a.is_ipv6()).unwrap_or(false);
    let (old4, old6) = (
        s.ttl_v4().ok(),
        if v6 { s.unicast_hops_v6().ok() } else { None },
    );
    // A dual-stack socket sends IPv4-mapped destinations as IPv4: set both.
    let _ = s.set_ttl_v4(ttl as u32);
    if v6 {
        let _ = s.set_unicast_hops_v6(ttl as u32);
    }
    let _ = sock.try_send_to(data, to);
    if let Some(t) = old4 {
        let _ = s.set_ttl_v4(t);
    }
    if let Some(h) = old6 {
        let _ = s.set_unicast_hops_v6(h);
    }
}

/// Sends one datagram allowing the kernel to fragment it (the socket otherwise forbids
/// fragments, see `udp_io`), then restores the socket's options. Best effort; used only for
/// datagrams small enough that every path must carry them, when the kernel refused one.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
pub fn send_fragmentable(sock: &UdpSocket, data: &[u8], to: SocketAddr) {
    use std::os::fd::AsRawFd;
    let fd = sock.as_raw_fd();
    let get = |level: libc::c_int, name: libc::c_int| -> Option<libc::c_int> {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `fd` is an open socket owned by `sock` for the whole call; `value` and `len`
        // are valid for writes of a c_int and its size.
        let r = unsafe {
            libc::getsockopt(
                fd,
                level,
                name,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        (r == 0).then_some(value)
    };
    let set = |level: libc::c_int, name: libc::c_int, value: libc::c_int| {
        // SAFETY: as above; the option value is a c_int whose size is passed with it.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        }
    };
    let v6 = sock.local_addr().map(|a| a.is_ipv6()).unwrap_or(false);
    let mut options = vec![(
        libc::IPPROTO_IP,
        libc::IP_MTU_DISCOVER,
        libc::IP_PMTUDISC_WANT,
    )];
    if v6 {
        options.push((
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_WANT,
        ));
        options.push((libc::IPPROTO_IPV6, libc::IPV6_DONTFRAG, 0));
    }
    let saved: Vec<_> = options
        .iter()
        .map(|&(level, name, value)| {
            let old = get(level, name);
            set(level, name, value);
            (level, name, old)
        })
        .collect();
    let _ = sock.try_send_to(data, for_socket(v6, to));
    for (level, name, old) in saved {
        if let Some(v) = old {
            set(level, name, v);
        }
    }
}

/// Elsewhere: one more plain try (the platform may fragment).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn send_fragmentable(sock: &UdpSocket, data: &[u8], to: SocketAddr) {
    let v6 = sock.local_addr().map(|a| a.is_ipv6()).unwrap_or(false);
    let _ = sock.try_send_to(data, for_socket(v6, to));
}
