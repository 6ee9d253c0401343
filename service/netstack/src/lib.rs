//! A userspace TCP/IPv6 stack (on smoltcp) for nodes that run without a TUN device.
//!
//! A `--no-tun` node has no kernel interface holding its overlay address, so the kernel cannot
//! open or accept TCP connections over the overlay for it. This crate does that job inside the
//! process: the data plane feeds it every IPv6 packet addressed to the node
//! ([`Packets::inbound`]) and injects every packet it emits into the mesh
//! ([`Packets::outbound`]), exactly as it would with packets read from and written to a TUN
//! device. SOCKS5, port forwards and "expose" then use [`NetStack::connect`] and
//! [`NetStack::listen`] and get tokio-compatible [`TcpStream`]s.
//!
//! The stack owns exactly one address (the node's overlay address) and sends everything else
//! straight out: routing is the mesh's business, not this stack's.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hypha_netstack::{Config, new};
//! let (stack, packets, run) = new(Config::new("600::1".parse().unwrap()));
//! tokio::spawn(run);
//! # let _ = packets;
//! let mut listener = stack.listen(80).await?;
//! let (stream, peer) = listener.accept().await?;
//! # let _ = (stream, peer);
//! # Ok(()) }
//! ```

mod device;
mod stack;
mod stall;
mod stream;

use std::future::Future;
use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

pub use stream::TcpStream;

/// How the stack is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The only address the stack answers to: the node's overlay address.
    pub addr: Ipv6Addr,
    /// Largest IPv6 packet the stack emits; TCP's MSS follows from it.
    pub mtu: usize,
    /// How long [`NetStack::connect`] waits for the handshake before giving up.
    pub connect_timeout: Duration,
    /// Receive and transmit buffer of every socket, in bytes each. It bounds the TCP window, so
    /// it caps throughput at `buffer / RTT`; it is allocated up front for every socket.
    pub buffer: usize,
}

impl Config {
    /// The defaults for `addr`: the IPv6 minimum MTU (the mesh guarantees no more), a 10 s
    /// connect timeout and 256 KiB buffers.
    pub fn new(addr: Ipv6Addr) -> Self {
        Config {
            addr,
            mtu: 1280,
            connect_timeout: Duration::from_secs(10),
            buffer: 256 * 1024,
        }
    }
}

/// The packet pipes between the stack and the data plane.
#[derive(Debug)]
pub struct Packets {
    /// IPv6 packets for the stack. Anything not addressed to [`Config::addr`] or not a valid
    /// IPv6 packet is counted and dropped. When the channel is full the stack is behind, and
    /// the sender should wait (or drop: TCP retransmits).
    pub inbound: mpsc::Sender<Vec<u8>>,
    /// IPv6 packets the stack wants sent into the mesh. The stack stops producing (and holds
    /// data in its socket buffers) while this is full, so a slow reader slows TCP down rather
    /// than losing packets.
    pub outbound: mpsc::Receiver<Vec<u8>>,
}

/// Counters since the stack started, except `sockets`, which is the current number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets taken from [`Packets::inbound`].
    pub packets_in: u64,
    /// Packets handed to [`Packets::outbound`].
    pub packets_out: u64,
    /// Inbound packets that were not well-formed IPv6.
    pub malformed: u64,
    /// Inbound packets for an address other than the stack's own.
    pub foreign: u64,
    /// Outbound packets thrown away because nobody reads [`Packets::outbound`] any more.
    pub dropped_out: u64,
    /// Outgoing connections that completed their handshake.
    pub connections_opened: u64,
    /// Incoming connections handed to a [`Listener`].
    pub connections_accepted: u64,
    /// Outgoing connections the peer answered with a reset.
    pub connections_refused: u64,
    /// Outgoing connections that got no answer within [`Config::connect_timeout`].
    pub connections_timed_out: u64,
    /// Sockets currently in the smoltcp socket set (listening, connecting, open or closing).
    pub sockets: u64,
}

/// Counters shared between the stack task and the handles; relaxed atomics are enough
/// because each is only ever read as an independent number.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub packets_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub malformed: AtomicU64,
    pub foreign: AtomicU64,
    pub dropped_out: AtomicU64,
    pub connections_opened: AtomicU64,
    pub connections_accepted: AtomicU64,
    pub connections_refused: AtomicU64,
    pub connections_timed_out: AtomicU64,
    pub sockets: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            packets_in: get(&self.packets_in),
            packets_out: get(&self.packets_out),
            malformed: get(&self.malformed),
            foreign: get(&self.foreign),
            dropped_out: get(&self.dropped_out),
            connections_opened: get(&self.connections_opened),
            connections_accepted: get(&self.connections_accepted),
            connections_refused: get(&self.connections_refused),
            connections_timed_out: get(&self.connections_timed_out),
            sockets: get(&self.sockets),
        }
    }
}

/// An accepted connection on its way to a [`Listener`].
pub(crate) type Accepted = (TcpStream, SocketAddrV6);

/// What the handles ask of the stack task.
pub(crate) enum Command {
    Connect {
        to: SocketAddrV6,
        reply: oneshot::Sender<io::Result<TcpStream>>,
    },
    Listen {
        port: u16,
        id: u64,
        reply: oneshot::Sender<io::Result<mpsc::Receiver<Accepted>>>,
    },
    Unlisten {
        port: u16,
        id: u64,
    },
}

/// Queue length of both packet pipes: deep enough to absorb a full TCP window of bursts
/// without making the data plane wait on every packet.
const PACKET_QUEUE: usize = 1024;

/// Creates the stack: a handle, the packet pipes, and the future that runs it (the caller
/// spawns it on tokio). The future ends once every [`NetStack`] clone and the
/// [`Packets::inbound`] sender are dropped; open streams then see their connection end.
pub fn new(cfg: Config) -> (NetStack, Packets, impl Future<Output = ()> + Send + 'static) {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (in_tx, in_rx) = mpsc::channel(PACKET_QUEUE);
    let (out_tx, out_rx) = mpsc::channel(PACKET_QUEUE);
    let counters = Arc::new(Counters::default());
    let run = stack::run(cfg.clone(), cmd_rx, in_rx, out_tx, counters.clone());
    let handle = NetStack {
        cmd: cmd_tx,
        counters,
        cfg: Arc::new(cfg),
    };
    (
        handle,
        Packets {
            inbound: in_tx,
            outbound: out_rx,
        },
        run,
    )
}

/// A cheap, cloneable handle to a running stack.
#[derive(Clone)]
pub struct NetStack {
    cmd: mpsc::UnboundedSender<Command>,
    counters: Arc<Counters>,
    cfg: Arc<Config>,
}

impl std::fmt::Debug for NetStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetStack")
            .field("addr", &self.cfg.addr)
            .finish_non_exhaustive()
    }
}

fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "network stack stopped")
}

impl NetStack {
    /// Opens a TCP connection from an ephemeral port of the stack's address.
    ///
    /// A reset from the peer gives [`io::ErrorKind::ConnectionRefused`]; no answer within
    /// [`Config::connect_timeout`] gives [`io::ErrorKind::TimedOut`]. Dropping the future
    /// abandons the attempt.
    pub async fn connect(&self, to: SocketAddrV6) -> io::Result<TcpStream> {
        let (reply, answer) = oneshot::channel();
        self.cmd
            .send(Command::Connect { to, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Accepts connections to `port` of the stack's address until the [`Listener`] is dropped.
    /// Fails with [`io::ErrorKind::AddrInUse`] if the port is already listened on or is the
    /// local end of an outgoing connection.
    pub async fn listen(&self, port: u16) -> io::Result<Listener> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.cmd
            .send(Command::Listen { port, id, reply })
            .map_err(|_| stopped())?;
        let queue = answer.await.map_err(|_| stopped())??;
        Ok(Listener {
            queue,
            port,
            id,
            cmd: self.cmd.downgrade(),
        })
    }

    /// The counters, and the current socket count.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Sockets in the smoltcp socket set right now; back at its baseline when every connection
    /// has been closed and cleaned up.
    pub fn socket_count(&self) -> u64 {
        self.counters.sockets.load(Ordering::Relaxed)
    }

    /// The stack's own address.
    pub fn addr(&self) -> Ipv6Addr {
        self.cfg.addr
    }
}

/// Incoming connections to one port. Dropping it stops listening; connections not yet
/// accepted are closed.
#[derive(Debug)]
pub struct Listener {
    queue: mpsc::Receiver<Accepted>,
    port: u16,
    id: u64,
    // Weak, so that a forgotten listener does not keep the stack running after its owner
    // dropped every `NetStack`.
    cmd: mpsc::WeakUnboundedSender<Command>,
}

impl Listener {
    /// Waits for the next established incoming connection and its peer's address.
    pub async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddrV6)> {
        self.queue.recv().await.ok_or_else(stopped)
    }

    /// The port listened on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Telling the stack (rather than letting it notice the closed queue) wakes it, so the
        // port is free again as soon as the next command is processed.
        if let Some(cmd) = self.cmd.upgrade() {
            let _ = cmd.send(Command::Unlisten {
                port: self.port,
                id: self.id,
            });
        }
    }
}
