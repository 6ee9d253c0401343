//! A SOCKS5 proxy into the mesh (RFC 1928, CONNECT, no authentication — it listens on
//! loopback by default). Targets: `<name>.hypha`, `<node id>.hypha` (resolved here, so clients
//! use `socks5h`/`--socks5-hostname`), and overlay IPv6 literals. Anything else is refused
//! with the reply code RFC 1928 has for it, and counted.

use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use hypha_ipc::api::ErrorCode;
use hypha_proto::address::in_overlay;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::reach::Reach;

/// Reply codes (RFC 1928 §6).
pub mod rep {
    /// Succeeded.
    pub const OK: u8 = 0x00;
    /// General SOCKS server failure.
    pub const GENERAL: u8 = 0x01;
    /// Connection not allowed by ruleset (a target outside the mesh).
    pub const NOT_ALLOWED: u8 = 0x02;
    /// Network unreachable.
    pub const NET_UNREACHABLE: u8 = 0x03;
    /// Host unreachable (unknown name, no answer).
    pub const HOST_UNREACHABLE: u8 = 0x04;
    /// Connection refused (the node answered with a reset).
    pub const REFUSED: u8 = 0x05;
    /// Command not supported (BIND, UDP ASSOCIATE).
    pub const COMMAND: u8 = 0x07;
    /// Address type not supported (IPv4: the mesh is IPv6).
    pub const ADDRESS_TYPE: u8 = 0x08;
}

/// Time a client has to finish its greeting and request.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the proxy did.
#[derive(Debug, Default)]
pub struct SocksCounters {
    /// Client connections accepted.
    pub accepted: AtomicU64,
    /// Requests carried into the mesh.
    pub connected: AtomicU64,
    /// Requests answered with an error reply.
    pub failed: AtomicU64,
    /// Connections closed for not speaking SOCKS5 (wrong version, truncated, too slow).
    pub malformed: AtomicU64,
}

/// Where a request wants to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A host name, resolved here.
    Name(String),
    /// An IPv6 literal.
    Addr(Ipv6Addr),
}

/// Why a request gets no connection: a reply code, or nothing at all (not SOCKS5).
#[derive(Debug)]
pub(crate) enum Fail {
    Reply(u8, String),
    Garbage(String),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Fail::Garbage(e.to_string())
    }
}

/// Accepts clients until the listener fails.
pub async fn serve(listener: TcpListener, reach: Reach, counters: Arc<SocksCounters>) {
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors and the like: wait instead of spinning.
                tracing::warn!("socks accept: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        counters.accepted.fetch_add(1, Relaxed);
        let (reach, counters) = (reach.clone(), counters.clone());
        tokio::spawn(async move {
            if let Err(e) = client(stream, &reach, &counters).await {
                tracing::debug!("socks client {from}: {e}");
            }
        });
    }
}

async fn client(mut s: TcpStream, reach: &Reach, counters: &SocksCounters) -> io::Result<()> {
    let _ = s.set_nodelay(true);
    let req = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut s))
        .await
        .unwrap_or_else(|_| Err(Fail::Garbage("handshake timed out".into())));
    let (target, port) = match req {
        Ok(r) => r,
        Err(Fail::Reply(code, why)) => {
            counters.failed.fetch_add(1, Relaxed);
            tracing::debug!("socks: refused ({code:#04x}): {why}");
            return reply(&mut s, code, None).await;
        }
        Err(Fail::Garbage(why)) => {
            counters.malformed.fetch_add(1, Relaxed);
            tracing::debug!("socks: not SOCKS5: {why}");
            return Ok(());
        }
    };
    let mut remote = match open(reach, &target, port).await {
        Ok(r) => r,
        Err((code, why)) => {
            counters.failed.fetch_add(1, Relaxed);
            tracing::debug!("socks: {target:?}:{port}: {why}");
            return reply(&mut s, code, None).await;
        }
    };
    counters.connected.fetch_add(1, Relaxed);
    reply(&mut s, rep::OK, Some(SocketAddr::new(reach.own.into(), 0))).await?;
    tokio::io::copy_bidirectional(&mut s, &mut remote).await?;
    Ok(())
}

/// Reads the greeting and the request; answers the greeting.
pub(crate) async fn handshake(
    s: &mut (impl AsyncRead + AsyncWrite + Unpin),
) -> Result<(Target, u16), Fail> {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await?;
    if head[0] != 5 {
        return Err(Fail::Garbage(format!("version {}", head[0])));
    }
    let mut methods = vec![0u8; head[1] as usize];
    s.read_exact(&mut methods).await?;
    if !methods.contains(&0) {
        // No acceptable method: the one answer RFC 1928 has, then close.
        s.write_all(&[5, 0xff]).await?;
        return Err(Fail::Garbage("no acceptable authentication method".into()));
    }
    s.write_all(&[5, 0]).await?;
    let mut req = [0u8; 4];
    s.read_exact(&mut req).await?;
    if req[0] != 5 {
        return Err(Fail::Garbage(format!("request version {}", req[0])));
    }
    let target = match req[3] {
        1 => {
            let mut a = [0u8; 6];
            s.read_exact(&mut a).await?;
            return Err(Fail::Reply(
                rep::ADDRESS_TYPE,
                "IPv4 target: the mesh is IPv6".into(),
            ));
        }
        3 => {
            let mut n = [0u8; 1];
            s.read_exact(&mut n).await?;
            let mut name = vec![0u8; n[0] as usize];
            s.read_exact(&mut name).await?;
            let name = String::from_utf8(name)
                .map_err(|_| Fail::Reply(rep::HOST_UNREACHABLE, "name is not UTF-8".into()))?;
            match name.trim_matches(['[', ']']).parse::<Ipv6Addr>() {
                Ok(a) => Target::Addr(a),
                Err(_) => Target::Name(name),
            }
        }
        4 => {
            let mut a = [0u8; 16];
            s.read_exact(&mut a).await?;
            Target::Addr(a.into())
        }
        t => return Err(Fail::Reply(rep::ADDRESS_TYPE, format!("address type {t}"))),
    };
    let mut port = [0u8; 2];
    s.read_exact(&mut port).await?;
    let port = u16::from_be_bytes(port);
    match req[1] {
        1 => Ok((target, port)),
        2 => Err(Fail::Reply(rep::COMMAND, "BIND is not supported".into())),
        3 => Err(Fail::Reply(
            rep::COMMAND,
            "UDP ASSOCIATE is not supported".into(),
        )),
        c => Err(Fail::Reply(rep::COMMAND, format!("command {c}"))),
    }
}

/// Resolves and connects; on failure, the reply code that says why.
async fn open(
    reach: &Reach,
    target: &Target,
    port: u16,
) -> Result<crate::reach::BoxConn, (u8, String)> {
    let addr = match target {
        Target::Addr(a) if in_overlay(&a.octets()) => *a,
        Target::Addr(a) => return Err((rep::NOT_ALLOWED, format!("{a} is outside the mesh"))),
        Target::Name(n) => {
            let lower = n.trim_end_matches('.').to_ascii_lowercase();
            if !lower.ends_with(".hypha") {
                return Err((
                    rep::NOT_ALLOWED,
                    format!("{n}: only .hypha names go through the mesh"),
                ));
            }
            match reach.resolve(&lower).await {
                Ok(r) => r
                    .address
                    .parse()
                    .map_err(|_| (rep::GENERAL, format!("bad address {}", r.address)))?,
                Err(e) if e.code == ErrorCode::NotFound || e.code == ErrorCode::BadRequest => {
                    return Err((rep::HOST_UNREACHABLE, e.message));
                }
                Err(e) => return Err((rep::GENERAL, e.message)),
            }
        }
    };
    reach.connect(addr, port).await.map_err(|e| {
        let code = match e.kind() {
            io::ErrorKind::ConnectionRefused => rep::REFUSED,
            io::ErrorKind::NetworkUnreachable => rep::NET_UNREACHABLE,
            io::ErrorKind::HostUnreachable | io::ErrorKind::TimedOut => rep::HOST_UNREACHABLE,
            _ => rep::GENERAL,
        };
        (code, format!("[{addr}]:{port}: {e}"))
    })
}

/// Sends a reply; the bound address is the node's own for successes.
async fn reply(s: &mut TcpStream, code: u8, bound: Option<SocketAddr>) -> io::Result<()> {
    let mut r = vec![5, code, 0];
    match bound {
        Some(SocketAddr::V6(a)) => {
            r.push(4);
            r.extend_from_slice(&a.ip().octets());
            r.extend_from_slice(&a.port().to_be_bytes());
        }
        _ => r.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0]),
    }
    s.write_all(&r).await
}
