//! The service loop's I/O: the link socket, the TUN (or the userspace stack), TCP link
//! writers and the event broadcast, and the futures the loop waits on.

use std::collections::HashMap;
use std::net::SocketAddr;

use hypha_ipc::api;
use hypha_proto::bus::BusEvent;
use hypha_proto::identity::NodeId;
use hypha_proto::node::{Event, Node, Remote, Transmit};
use hypha_tun::{OsTun, RecvBatch, SendBatch, Tun};
use tokio::sync::{broadcast, mpsc};

use super::short;
use crate::mcast::Mcast;
use crate::sealer::Sealer;
use crate::tcp::Hub;
use crate::udp_io::UdpIo;

/// Everything the loop owns besides the node.
pub(super) struct Io {
    pub(super) udp: UdpIo,
    pub(super) tun: Option<OsTun>,
    /// Packets for the TUN, written together once the node has produced them.
    pub(super) tun_tx: SendBatch,
    /// Packets for this host opened in the link socket's receive buffer: their places there.
    pub(super) in_place: Vec<std::ops::Range<usize>>,
    /// Frames a relay passes on from the same buffer: where to and their places there.
    pub(super) relayed: Vec<(SocketAddr, std::ops::Range<usize>)>,
    /// Where datagrams the node queued go between those: (index in `relayed`, how many of
    /// the node's queued datagrams leave before it). Both took link counters in this order.
    pub(super) relay_barriers: Vec<(usize, usize)>,
    /// Writes those to the TUN without copying them (TCP segments gathered per flow).
    pub(super) gather: hypha_tun::gather::Gather,
    /// Seals what the node queued, on several threads when there is enough of it.
    pub(super) sealer: Sealer,
    /// Sealed datagrams on their way out (kept for its allocation).
    pub(super) sealed: Vec<Transmit>,
    /// The last read's datagrams: senders and places in the receive buffer.
    pub(super) got: Vec<(SocketAddr, std::ops::Range<usize>)>,
    /// Its transport frames opened ahead (places and keys), which datagrams they are, and
    /// whether each verified.
    pub(super) ahead: Vec<(std::ops::Range<usize>, hypha_proto::node::PreOpen)>,
    pub(super) ahead_at: Vec<usize>,
    pub(super) verified: Vec<bool>,
    /// Opens received frames on several threads when a batch holds enough of them.
    pub(super) opener: crate::opener::Opener,
    /// Without a TUN: packets for this node go to the userspace stack.
    pub(super) user_stack: Option<mpsc::Sender<Vec<u8>>>,
    pub(super) writers: HashMap<u64, mpsc::Sender<Vec<u8>>>,
    pub(super) events: broadcast::Sender<api::Event>,
    /// Trace probe answers taken from the node: (from, probe id, reached).
    pub(super) probe_replies: Vec<(NodeId, u64, bool)>,
    /// TCP connections: told when a stranger's link comes up.
    pub(super) hub: Hub,
}

impl Io {
    /// Sends and delivers everything the node has queued. Events are taken first and bus
    /// events handed back: the caller persists a received message before the acknowledgement
    /// that follows it leaves the node, so an acknowledged message is never lost.
    pub(super) async fn flush(&mut self, node: &mut Node) -> Vec<BusEvent> {
        let bus = self.take_events(node);
        self.send_all(node).await;
        bus
    }

    pub(super) async fn send_all(&mut self, node: &mut Node) {
        self.send_transmits(node, usize::MAX).await;
        while let Some(p) = node.poll_tun() {
            if self.tun.is_some() {
                self.tun_tx.push(&p);
                node.recycle(p);
            } else if let Some(stack) = &self.user_stack {
                // A full stack queue drops, as a full TUN queue would; TCP resends.
                let _ = stack.try_send(p);
            }
        }
        if let Some(tun) = &self.tun
            && let Err(e) = tun.send_batch(&mut self.tun_tx).await
        {
            tracing::debug!("tun write: {e}");
        }
    }

    /// Sends up to `max` of the datagrams the node has queued, in order, sealed on as many
    /// threads as the batch is worth.
    async fn send_transmits(&mut self, node: &mut Node, max: usize) {
        let mut batch = Vec::new();
        while batch.len() < max {
            let Some(u) = node.poll_unsealed() else {
                break;
            };
            batch.push(u);
        }
        let mut sealed = std::mem::take(&mut self.sealed);
        // After what was handed over earlier in this turn (see `seal_ahead`).
        self.sealer.seal_all(batch, &mut sealed);
        for t in sealed.drain(..) {
            match t.remote {
                Remote::Udp(a) => {
                    match t.ttl {
                        Some(ttl) => self.udp.send_with_ttl(a, &t.payload, ttl).await,
                        None => self.udp.send(a, &t.payload).await,
                    }
                    node.recycle(t.payload);
                }
                Remote::Stream(id) => {
                    if let Some(w) = self.writers.get(&id) {
                        // A full connection queue drops, as a congested UDP path would.
                        let _ = w.try_send(t.payload);
                    }
                }
            }
        }
        self.sealed = sealed;
        self.udp.flush().await;
    }

    /// Hands what the node has queued to the sealer now, so that its workers seal it while
    /// the loop reads on; it is sent, in order, at the end of the turn.
    pub(super) fn seal_ahead(&mut self, node: &mut Node) {
        let batch: Vec<_> = std::iter::from_fn(|| node.poll_unsealed()).collect();
        self.sealer.push(batch);
    }

    /// Sends the frames a relay passed on in place from the receive buffer, and the datagrams
    /// the node queued meanwhile, in the order they took their link counters; then whatever
    /// else the node has queued. Before the next read reuses the buffer.
    pub(super) async fn send_relayed(&mut self, node: &mut Node) {
        let relayed = std::mem::take(&mut self.relayed);
        let barriers = std::mem::take(&mut self.relay_barriers);
        let (mut from, mut sent) = (0, 0);
        for &(at, queued) in &barriers {
            self.udp.send_from_rx(&relayed[from..at]).await;
            self.send_transmits(node, queued - sent).await;
            (from, sent) = (at, queued);
        }
        self.udp.send_from_rx(&relayed[from..]).await;
        self.send_transmits(node, usize::MAX).await;
        self.relayed = relayed;
        self.relayed.clear();
        self.relay_barriers = barriers;
        self.relay_barriers.clear();
    }

    pub(super) fn take_events(&mut self, node: &mut Node) -> Vec<BusEvent> {
        let mut bus = Vec::new();
        while let Some(ev) = node.poll_event() {
            // Nobody subscribed is fine: send only fails when there is no receiver.
            let _ = match ev {
                Event::LinkUp {
                    node: n, remote, ..
                } => {
                    tracing::info!("link up: {} via {remote}", short(&n));
                    if let hypha_proto::node::Remote::Stream(id) = remote {
                        self.hub.link_up(id);
                    }
                    self.events.send(api::Event::PeerUp {
                        node_id: n.to_hex(),
                        remote: remote.to_string(),
                    })
                }
                Event::LinkDown {
                    node: n, reason, ..
                } => {
                    tracing::info!("link down: {} ({reason})", short(&n));
                    self.events.send(api::Event::PeerDown {
                        node_id: n.to_hex(),
                        reason: reason.to_string(),
                    })
                }
                Event::Route(rc) => {
                    tracing::debug!(
                        "route {} next hop {:?} metric {}",
                        rc.subnet,
                        rc.next_hop,
                        rc.metric
                    );
                    self.events.send(api::Event::RouteChanged {
                        subnet: rc.subnet.to_string(),
                        reachable: rc.next_hop.is_some(),
                    })
                }
                Event::Bus(e) => {
                    bus.push(e);
                    Ok(0)
                }
                Event::ProbeReply {
                    from,
                    counter,
                    reached,
                } => {
                    self.probe_replies.push((from, counter, reached));
                    Ok(0)
                }
            };
        }
        bus
    }
}

/// The next packet the userspace stack sends (never, without one).
pub(super) async fn stack_recv(out: &mut Option<mpsc::Receiver<Vec<u8>>>) -> Option<Vec<u8>> {
    match out {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

pub(super) async fn tun_recv(tun: Option<&OsTun>, batch: &mut RecvBatch) -> std::io::Result<()> {
    match tun {
        Some(t) => t.recv_batch(batch).await,
        None => std::future::pending().await,
    }
}

pub(super) async fn disc_recv(
    m: Option<&Mcast>,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr)> {
    match m {
        Some(m) => m.sock.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

pub(super) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
