//! The application's end of a connection.
//!
//! A [`TcpStream`] is one end of a `tokio::io::duplex` pipe; the stack task shuttles the other
//! end to and from the smoltcp socket. The pipe gives tokio's readiness and backpressure for
//! free, and keeps smoltcp (which is not thread-safe) confined to the stack task.

use std::io;
use std::net::SocketAddrV6;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

/// What the stack task and the application share about one connection.
#[derive(Debug, Default)]
pub(crate) struct ConnShared {
    /// The connection ended without an orderly close (reset by the peer, or timed out), so the
    /// end of the pipe means an error rather than EOF.
    pub reset: AtomicBool,
}

/// An open TCP connection through the stack: tokio [`AsyncRead`] + [`AsyncWrite`].
///
/// `shutdown()` sends a FIN (the peer reads EOF) while reading goes on; EOF on read means the
/// peer sent its FIN. Dropping the stream closes the connection: a FIN once the written data
/// has gone out, a reset if that takes too long.
#[derive(Debug)]
pub struct TcpStream {
    io: DuplexStream,
    local: SocketAddrV6,
    peer: SocketAddrV6,
    // Its strong count tells the stack whether the application still holds the stream.
    shared: Arc<ConnShared>,
}

impl TcpStream {
    pub(crate) fn new(
        io: DuplexStream,
        local: SocketAddrV6,
        peer: SocketAddrV6,
        shared: Arc<ConnShared>,
    ) -> Self {
        TcpStream {
            io,
            local,
            peer,
            shared,
        }
    }

    /// The remote end's address and port.
    pub fn peer_addr(&self) -> SocketAddrV6 {
        self.peer
    }

    /// The stack's address and this connection's port.
    pub fn local_addr(&self) -> SocketAddrV6 {
        self.local
    }

    fn reset_error(&self) -> Option<io::Error> {
        self.shared
            .reset
            .load(Ordering::Acquire)
            .then(|| io::Error::new(io::ErrorKind::ConnectionReset, "connection reset"))
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            // End of the pipe: EOF for an orderly close, an error for a reset.
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                match this.reset_error() {
                    Some(e) => Poll::Ready(Err(e)),
                    None => Poll::Ready(Ok(())),
                }
            }
            other => other,
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(this.reset_error().unwrap_or(e))),
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
