//! Reaching mesh nodes over TCP for SOCKS5, port forwards and exposed ports — the same way
//! whether this node has a TUN device (the kernel's TCP, routed into the TUN) or not (the
//! userspace stack, whose packets the service loop carries like TUN packets).

use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;
use std::time::Duration;

use hypha_ipc::api::{ApiError, ErrorCode, Request, Resolved, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::ipc::ApiCall;

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte stream to or from a mesh node.
pub trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// A boxed [`Conn`].
pub type BoxConn = Box<dyn Conn>;

/// Which TCP/IP stack carries overlay connections.
pub enum Stack {
    /// The kernel's, through the TUN device.
    Kernel,
    /// The userspace stack (no TUN).
    User(hypha_netstack::NetStack),
}

/// Resolves names and opens or accepts overlay connections.
#[derive(Clone)]
pub struct Reach {
    calls: mpsc::Sender<ApiCall>,
    stack: Arc<Stack>,
    /// This node's overlay address.
    pub own: Ipv6Addr,
}

/// Accepts overlay connections on one port.
pub enum Acceptor {
    /// Kernel socket bound to the overlay address.
    Kernel(TcpListener),
    /// Userspace stack listener.
    User(hypha_netstack::Listener),
}

impl Acceptor {
    /// The next connection and who opened it.
    pub async fn accept(&mut self) -> io::Result<(BoxConn, SocketAddr)> {
        match self {
            Acceptor::Kernel(l) => {
                let (s, a) = l.accept().await?;
                let _ = s.set_nodelay(true);
                Ok((Box::new(s), a))
            }
            Acceptor::User(l) => {
                let (s, a) = l.accept().await?;
                Ok((Box::new(s), SocketAddr::V6(a)))
            }
        }
    }
}

impl Reach {
    /// A reach over `stack`; resolution asks the service loop through `calls`.
    pub fn new(calls: mpsc::Sender<ApiCall>, stack: Stack, own: Ipv6Addr) -> Self {
        Reach {
            calls,
            stack: Arc::new(stack),
            own,
        }
    }

    /// Resolves a name, node id or overlay address (see [`Request::Resolve`]).
    pub async fn resolve(&self, name: &str) -> Result<Resolved, ApiError> {
        let (reply, rx) = oneshot::channel();
        let call = ApiCall {
            request: Request::Resolve { name: name.into() },
            reply,
        };
        let gone = || ApiError::new(ErrorCode::Internal, "the service is stopping");
        self.calls.send(call).await.map_err(|_| gone())?;
        match rx.await.map_err(|_| gone())?? {
            Response::Resolved(r) => Ok(r),
            other => Err(ApiError::new(
                ErrorCode::Internal,
                format!("unexpected answer {other:?}"),
            )),
        }
    }

    /// Opens a TCP connection to `addr`:`port` in the overlay.
    pub async fn connect(&self, addr: Ipv6Addr, port: u16) -> io::Result<BoxConn> {
        let to = SocketAddrV6::new(addr, port, 0, 0);
        let attempt = async {
            match &*self.stack {
                Stack::Kernel => {
                    let s = TcpStream::connect(to).await?;
                    let _ = s.set_nodelay(true);
                    Ok(Box::new(s) as BoxConn)
                }
                Stack::User(n) => Ok(Box::new(n.connect(to).await?) as BoxConn),
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    }

    /// Accepts overlay connections on `port` of this node's address.
    pub async fn listen(&self, port: u16) -> io::Result<Acceptor> {
        match &*self.stack {
            Stack::Kernel => Ok(Acceptor::Kernel(
                TcpListener::bind(SocketAddrV6::new(self.own, port, 0, 0)).await?,
            )),
            Stack::User(n) => Ok(Acceptor::User(n.listen(port).await?)),
        }
    }
}

/// Splits `NODE:PORT` (`alice:80`, `alice.hypha:80`, `<hex>:80`, `[0600::1]:80`).
pub fn split_target(target: &str) -> Result<(String, u16), String> {
    let t = target.trim();
    let (host, port) = t
        .rsplit_once(':')
        .ok_or_else(|| format!("{target:?}: expected NODE:PORT, e.g. alice:80"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{target:?}: bad port {port:?}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{target:?}: no node given"));
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split() {
        assert_eq!(split_target("cee:80"), Ok(("cee".into(), 80)));
        assert_eq!(
            split_target("cee.hypha:8080"),
            Ok(("cee.hypha".into(), 8080))
        );
        assert_eq!(split_target("[600:1::2]:443"), Ok(("600:1::2".into(), 443)));
        assert!(split_target("cee").is_err());
        assert!(split_target("cee:0").is_err());
        assert!(split_target(":80").is_err());
        assert!(split_target("cee:http").is_err());
    }
}
