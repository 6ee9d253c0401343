//! TCP links: each connection carries link datagrams as `u16 length ‖ bytes` frames and is a
//! `Remote::Stream(id)` to the node. Dialled connections reconnect with backoff.
//!
//! Inbound connections are strangers until their link is up, so they are bounded: at most
//! [`MAX_INBOUND`] at once (a new one evicts the oldest whose link is not up, or is refused
//! when every one is up), [`HANDSHAKE_DEADLINE`] to bring a link up, [`IDLE_TIMEOUT`] without a
//! frame, and a frame that cannot be a link datagram closes the connection. Nothing is
//! allocated per connection beyond the frame being read.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Inbound connections kept at once.
pub const MAX_INBOUND: usize = 256;
/// An inbound connection whose link is not up this long after it was accepted is closed.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(5);
/// A connection on which nothing arrived for this long is closed (a link sends 4 hellos a
/// second).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the listener refused or closed, for status and metrics.
#[derive(Debug, Default)]
pub struct TcpStats {
    /// Inbound connections accepted.
    pub accepted: AtomicU64,
    /// Inbound connections closed at once: [`MAX_INBOUND`] reached, every link up.
    pub refused_full: AtomicU64,
    /// Inbound connections without a link closed to make room for a new one.
    pub evicted: AtomicU64,
    /// Inbound connections closed at [`HANDSHAKE_DEADLINE`].
    pub handshake_timeouts: AtomicU64,
    /// Connections closed at [`IDLE_TIMEOUT`].
    pub idle_timeouts: AtomicU64,
    /// Connections closed for a frame that is no link datagram.
    pub garbage: AtomicU64,
}

impl TcpStats {
    /// Name and value of each counter.
    pub fn named(&self) -> [(&'static str, u64); 6] {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        [
            ("tcp_accepted", g(&self.accepted)),
            ("tcp_refused_full", g(&self.refused_full)),
            ("tcp_evicted", g(&self.evicted)),
            ("tcp_handshake_timeouts", g(&self.handshake_timeouts)),
            ("tcp_idle_timeouts", g(&self.idle_timeouts)),
            ("tcp_garbage", g(&self.garbage)),
        ]
    }
}

/// An inbound connection, as the listener sees it.
struct Inbound {
    since: Instant,
    link_up: bool,
    /// Closes the connection.
    kill: Option<oneshot::Sender<()>>,
}

/// Shared by all connection tasks.
#[derive(Clone)]
pub struct Hub {
    tx: mpsc::Sender<TcpEvent>,
    next_id: Arc<AtomicU64>,
    inbound: Arc<Mutex<HashMap<u64, Inbound>>>,
    /// Counters.
    pub stats: Arc<TcpStats>,
}

impl Hub {
    /// A hub whose events arrive on the returned receiver.
    pub fn new() -> (Hub, mpsc::Receiver<TcpEvent>) {
        let (tx, rx) = mpsc::channel(4096);
        (
            Hub {
                tx,
                next_id: Arc::new(AtomicU64::new(1)),
                inbound: Default::default(),
                stats: Default::default(),
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
            let mut last_warning: Option<Instant> = None;
            loop {
                match l.accept().await {
                    Ok((s, peer)) => {
                        let Some((id, kill)) = hub.admit() else {
                            drop(s);
                            continue;
                        };
                        let hub = hub.clone();
                        tokio::spawn(async move { hub.run(s, peer, id, Some(kill), None).await });
                    }
                    Err(e) => {
                        // Out of file descriptors, typically: say so once in a while, not
                        // ten times a second.
                        if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                            tracing::warn!("tcp accept: {e}");
                            last_warning = Some(Instant::now());
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(())
    }

    /// Makes room for a new inbound connection: its id and the handle that closes it, or
    /// `None` when it is refused.
    fn admit(&self) -> Option<(u64, oneshot::Receiver<()>)> {
        let mut m = self.inbound.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_INBOUND {
            let victim = m
                .iter()
                .filter(|(_, c)| !c.link_up)
                .min_by_key(|(_, c)| c.since)
                .map(|(id, _)| *id);
            match victim.and_then(|v| m.remove(&v)) {
                Some(mut c) => {
                    if let Some(k) = c.kill.take() {
                        let _ = k.send(());
                    }
                    self.stats.evicted.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    self.stats.refused_full.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (kill_tx, kill_rx) = oneshot::channel();
        m.insert(
            id,
            Inbound {
                since: Instant::now(),
                link_up: false,
                kill: Some(kill_tx),
            },
        );
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        Some((id, kill_rx))
    }

    /// The link on connection `id` is up: it is no longer a stranger.
    pub fn link_up(&self, id: u64) {
        let mut m = self.inbound.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = m.get_mut(&id) {
            c.link_up = true;
        }
    }

    fn link_is_up(&self, id: u64) -> bool {
        let m = self.inbound.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&id).is_some_and(|c| c.link_up)
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
                                let id = hub.next_id.fetch_add(1, Ordering::Relaxed);
                                hub.run(s, a, id, None, Some(cancel.clone())).await;
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

    /// Runs one connection until either side closes it (or a dialled one is cancelled, or an
    /// inbound one is killed or misses a deadline).
    async fn run(
        &self,
        s: TcpStream,
        peer: SocketAddr,
        id: u64,
        kill: Option<oneshot::Receiver<()>>,
        cancel: Option<watch::Receiver<bool>>,
    ) {
        let dialled = cancel.is_some();
        let inbound = kill.is_some();
        let mut cancel = cancel;
        let mut kill = kill;
        let _ = s.set_nodelay(true);
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
            self.forget(id);
            return;
        }
        let deadline = tokio::time::Instant::now() + HANDSHAKE_DEADLINE;
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
            let killed = async {
                match kill.as_mut() {
                    Some(k) => {
                        let _ = k.await;
                    }
                    None => std::future::pending().await,
                }
            };
            // Until its link is up, an inbound connection lives HANDSHAKE_DEADLINE at most.
            let stranger = inbound && !self.link_is_up(id);
            let handshake_over = async {
                if stranger {
                    tokio::time::sleep_until(deadline).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                r = tokio::time::timeout(IDLE_TIMEOUT, rd.read_exact(&mut len)) => match r {
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        self.stats.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                },
                _ = &mut done_rx => break,
                _ = cancelled => break,
                _ = killed => break,
                _ = handshake_over => {
                    if !self.link_is_up(id) {
                        self.stats.handshake_timeouts.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    continue;
                }
            }
            let n = u16::from_be_bytes(len) as usize;
            let mut data = vec![0u8; n];
            if rd.read_exact(&mut data).await.is_err() {
                break;
            }
            // Anything but a link datagram type is not a Hypha peer.
            if !data
                .first()
                .is_some_and(|&t| hypha_proto::wire::is_link_type(t))
            {
                self.stats.garbage.fetch_add(1, Ordering::Relaxed);
                break;
            }
            if self.tx.send(TcpEvent::Frame { id, data }).await.is_err() {
                break;
            }
        }
        self.forget(id);
        let _ = self.tx.send(TcpEvent::Closed { id }).await;
    }

    fn forget(&self, id: u64) {
        let mut m = self.inbound.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(&id);
    }
}
