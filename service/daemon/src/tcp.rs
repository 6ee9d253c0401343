//! TCP links: each connection carries link datagrams as `u16 length ‖ bytes` frames and is a
//! `Remote::Stream(id)` to the node. Dialled connections reconnect with backoff.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::Endpoint;

/// What the connection tasks tell the service loop.
pub enum TcpEvent {
    /// A connection is ready; frames for it go to `writer`.
    Connected {
        /// Connection id (the node's `Remote::Stream`).
        id: u64,
        /// Sends frames on the connection; dropping it closes the connection.
        writer: mpsc::Sender<Vec<u8>>,
        /// We dialled it (so we start the handshake).
        dialled: bool,
        /// The other end.
        peer: SocketAddr,
    },
    /// A frame arrived.
    Frame {
        /// Connection id.
        id: u64,
        /// The datagram.
        data: Vec<u8>,
    },
    /// The connection ended.
    Closed {
        /// Connection id.
        id: u64,
    },
}

/// Shared by all connection tasks.
#[derive(Clone)]
pub struct Hub {
    tx: mpsc::Sender<TcpEvent>,
    next_id: Arc<AtomicU64>,
}

impl Hub {
    /// A hub whose events arrive on the returned receiver.
    pub fn new() -> (Hub, mpsc::Receiver<TcpEvent>) {
        let (tx, rx) = mpsc::channel(4096);
        (
            Hub {
                tx,
                next_id: Arc::new(AtomicU64::new(1)),
            },
            rx,
        )
    }

    /// Accepts connections on `addr` for the life of the process.
    pub async fn listen(&self, addr: SocketAddr) -> Result<()> {
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding tcp {addr}"))?;
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok((s, peer)) => {
                        let hub = hub.clone();
                        tokio::spawn(async move { hub.run(s, peer, None).await });
                    }
                    Err(e) => {
                        tracing::warn!("tcp accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(())
    }

    /// Keeps a connection to `ep` open, reconnecting with backoff (1 s doubling to 10 s),
    /// until `cancel` turns true (or its sender is dropped).
    pub fn dial_forever(&self, ep: Endpoint, cancel: watch::Receiver<bool>) {
        let hub = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                if *cancel.borrow() || cancel.has_changed().is_err() {
                    return;
                }
                match ep.resolve().await {
                    Ok(addrs) => {
                        for a in addrs {
                            if let Ok(Ok(s)) =
                                tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(a))
                                    .await
                            {
                                backoff = Duration::from_secs(1);
                                hub.run(s, a, Some(cancel.clone())).await;
                                break;
                            }
                        }
                    }
                    Err(e) => tracing::warn!("peer tcp://{}:{}: {e:#}", ep.host, ep.port),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        });
    }

    /// Runs one connection until either side closes it (or a dialled one is cancelled).
    async fn run(&self, s: TcpStream, peer: SocketAddr, cancel: Option<watch::Receiver<bool>>) {
        let dialled = cancel.is_some();
        let mut cancel = cancel;
        let _ = s.set_nodelay(true);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (mut rd, mut wr) = s.into_split();
        let (wtx, mut wrx) = mpsc::channel::<Vec<u8>>(1024);
        let (done_tx, mut done_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            while let Some(frame) = wrx.recv().await {
                let len = (frame.len() as u16).to_be_bytes();
                if wr.write_all(&len).await.is_err() || wr.write_all(&frame).await.is_err() {
                    break;
                }
            }
            let _ = wr.shutdown().await;
            let _ = done_tx.send(());
        });
        if self
            .tx
            .send(TcpEvent::Connected {
                id,
                writer: wtx,
                dialled,
                peer,
            })
            .await
            .is_err()
        {
            return;
        }
        let mut buf = vec![0u8; 65535];
        loop {
            let mut len = [0u8; 2];
            let cancelled = async {
                match cancel.as_mut() {
                    Some(c) => {
                        let _ = c.wait_for(|&v| v).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = rd.read_exact(&mut len) => if r.is_err() { break },
                _ = &mut done_rx => break,
                _ = cancelled => break,
            }
            let n = u16::from_be_bytes(len) as usize;
            if rd.read_exact(&mut buf[..n]).await.is_err() {
                break;
            }
            if self
                .tx
                .send(TcpEvent::Frame {
                    id,
                    data: buf[..n].to_vec(),
                })
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = self.tx.send(TcpEvent::Closed { id }).await;
    }
}
