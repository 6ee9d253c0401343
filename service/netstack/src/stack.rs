//! The stack task: one future that owns the smoltcp interface and every socket.
//!
//! smoltcp is a synchronous, single-owner state machine, so everything that touches it lives
//! here and the handles talk to it through channels and duplex pipes. The task is one
//! `poll_fn`: each round takes commands and packets, polls smoltcp, flushes packets out and
//! moves bytes between sockets and pipes; when a round changes nothing it sleeps until a
//! channel, a pipe or a timer wakes it, so an idle stack costs nothing.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use smoltcp::iface::{Config as IfaceConfig, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, State};
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint, Ipv6Packet};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::mpsc::{self, OwnedPermit};
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

use crate::device::{Device, RX_QUEUE};
use crate::stall::{Acks, Tuple};
use crate::stream::{ConnShared, TcpStream};
use crate::{Accepted, Command, Config, Counters};

/// Local ports for outgoing connections (the IANA dynamic range).
const EPHEMERAL_FIRST: u16 = 49152;
/// How long a dropped stream's connection gets to close with a FIN before it is reset. Under
/// loss smoltcp's retransmission timeout backs off to several seconds, and in LAST-ACK only
/// that timer resends a lost FIN (duplicate ACKs draw challenge ACKs there), so this must
/// cover a few backed-off retransmissions: at 10 s, a FIN waiting on an 8 s timeout had its
/// connection reset in about one run in ten of the 2 %-loss transfer test on a busy machine.
const LINGER: Duration = Duration::from_secs(60);
/// Probe idle connections so that a vanished peer is noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Probe interval while data waits to be sent, so that a lost window update cannot stall a
/// transfer until the next keep-alive (smoltcp probes zero windows itself since 0.13; this is
/// kept as a cheap second line).
const PROBE: Duration = Duration::from_millis(250);
/// A connection with unacknowledged data and no progress for this long gets its retransmission
/// kicked (see `stall`).
const STALL: Duration = Duration::from_secs(1);
/// Abort a connection whose peer has not answered for this long (must exceed `KEEP_ALIVE`).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Abort a half-open incoming connection after this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// Half-open incoming connections per port; beyond that new SYNs are reset. Every socket
/// carries its full buffers, so this bounds what a SYN flood can allocate.
const MAX_HALF_OPEN: usize = 64;
/// Established connections waiting for `accept` per port; beyond that new ones are closed.
const ACCEPT_QUEUE: usize = 128;
/// Bytes buffered in each stream's pipe, on top of the socket buffers.
const PIPE: usize = 64 * 1024;
/// Rounds per wake-up before yielding to other tasks, so a busy stack cannot starve them.
const ROUNDS: usize = 32;

type Reservation =
    Pin<Box<dyn Future<Output = Result<OwnedPermit<Vec<u8>>, SendError<()>>> + Send>>;

/// Runs the stack until every command sender and the inbound packet sender are gone.
pub(crate) async fn run(
    cfg: Config,
    cmds: mpsc::UnboundedReceiver<Command>,
    inbound: mpsc::Receiver<Vec<u8>>,
    out: mpsc::Sender<Vec<u8>>,
    counters: Arc<Counters>,
) {
    let mut stack = Stack::new(cfg, cmds, inbound, out, counters);
    std::future::poll_fn(|cx| stack.poll(cx)).await;
}

struct Connecting {
    handle: SocketHandle,
    to: SocketAddrV6,
    port: u16,
    deadline: Instant,
    reply: oneshot::Sender<io::Result<TcpStream>>,
}

struct Conn {
    handle: SocketHandle,
    /// The stack's end of the stream's pipe.
    io: DuplexStream,
    shared: Arc<ConnShared>,
    /// The ephemeral port to free on removal (outgoing connections only).
    port: Option<u16>,
    /// The application shut down writing (or dropped the stream) and smoltcp was told to FIN.
    fin_sent: bool,
    /// The application was given EOF (or the reset error).
    eof_given: bool,
    /// A FIN from the peer has been seen, so a later CLOSED state is an orderly end.
    peer_fin: bool,
    tuple: Tuple,
    /// Send queue length and state when last looked at, and when they last changed.
    seen: (usize, State),
    moved_at: Instant,
    /// When a dropped stream's connection is reset if it has not closed by then.
    linger: Option<Instant>,
}

struct Listening {
    id: u64,
    queue: mpsc::Sender<Accepted>,
    /// Sockets in LISTEN or SYN-RECEIVED for this port.
    handles: Vec<SocketHandle>,
}

struct Stack {
    cfg: Config,
    start: Instant,
    iface: Interface,
    dev: Device,
    sockets: SocketSet<'static>,
    cmds: mpsc::UnboundedReceiver<Command>,
    cmds_open: bool,
    inbound: mpsc::Receiver<Vec<u8>>,
    inbound_open: bool,
    out: mpsc::Sender<Vec<u8>>,
    out_wait: Option<Reservation>,
    out_closed: bool,
    sleep: Pin<Box<Sleep>>,
    connecting: Vec<Connecting>,
    conns: Vec<Conn>,
    listeners: HashMap<u16, Listening>,
    /// Local ports of outgoing connections.
    ports: HashSet<u16>,
    acks: Acks,
    next_port: u16,
    counters: Arc<Counters>,
}

/// Whether the socket waits for the peer to acknowledge data or its FIN.
fn owes_ack(socket: &tcp::Socket) -> bool {
    socket.send_queue() > 0
        || matches!(
            socket.state(),
            State::FinWait1 | State::Closing | State::LastAck
        )
}

fn v6(ep: IpEndpoint) -> SocketAddrV6 {
    #[allow(unreachable_patterns)] // IPv4 exists only if another crate turns it on
    let ip = match ep.addr {
        IpAddress::Ipv6(a) => a,
        _ => Ipv6Addr::UNSPECIFIED,
    };
    SocketAddrV6::new(ip, ep.port, 0, 0)
}

impl Stack {
    fn new(
        cfg: Config,
        cmds: mpsc::UnboundedReceiver<Command>,
        inbound: mpsc::Receiver<Vec<u8>>,
        out: mpsc::Sender<Vec<u8>>,
        counters: Arc<Counters>,
    ) -> Self {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let start = Instant::now();
        let mut dev = Device::new(cfg.mtu);
        let mut icfg = IfaceConfig::new(HardwareAddress::Ip);
        icfg.random_seed = seed;
        let mut iface = Interface::new(icfg, &mut dev, SmolInstant::ZERO);
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv6(cfg.addr), 128));
        });
        // Medium::Ip has no neighbours to resolve, so the gateway is never used: the route only
        // tells smoltcp that every destination is reachable.
        let _ = iface
            .routes_mut()
            .add_default_ipv6_route(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
        let span = u64::from(u16::MAX - EPHEMERAL_FIRST) + 1;
        Stack {
            next_port: EPHEMERAL_FIRST + (seed % span) as u16,
            cfg,
            start,
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
            cmds,
            cmds_open: true,
            inbound,
            inbound_open: true,
            out,
            out_wait: None,
            out_closed: false,
            sleep: Box::pin(tokio::time::sleep_until(start)),
            connecting: Vec::new(),
            conns: Vec::new(),
            listeners: HashMap::new(),
            ports: HashSet::new(),
            acks: Acks::default(),
            counters,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..ROUNDS {
            let mut progress = false;
            while self.cmds_open {
                match self.cmds.poll_recv(cx) {
                    Poll::Ready(Some(cmd)) => {
                        self.command(cmd);
                        progress = true;
                    }
                    Poll::Ready(None) => self.cmds_open = false,
                    Poll::Pending => break,
                }
            }
            while self.inbound_open && self.dev.rx.len() < RX_QUEUE {
                match self.inbound.poll_recv(cx) {
                    Poll::Ready(Some(packet)) => {
                        self.take_packet(packet);
                        progress = true;
                    }
                    Poll::Ready(None) => self.inbound_open = false,
                    Poll::Pending => break,
                }
            }
            if !self.cmds_open && !self.inbound_open {
                return Poll::Ready(());
            }
            self.dev.syn_taken = false;
            let now = self.smol_now();
            progress |= self.iface.poll(now, &mut self.dev, &mut self.sockets)
                == PollResult::SocketStateChanged;
            progress |= self.flush(cx);
            progress |= self.service(cx);
            // Packets held back (a second SYN, or loopback) go in next round.
            progress |= !self.dev.rx.is_empty();
            if !progress {
                let Some(deadline) = self.next_deadline() else {
                    return Poll::Pending;
                };
                self.sleep.as_mut().reset(deadline);
                if self.sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn smol_now(&self) -> SmolInstant {
        SmolInstant::from_micros(self.start.elapsed().as_micros() as i64)
    }

    /// The earliest of smoltcp's timers, connect deadlines and linger deadlines.
    fn next_deadline(&mut self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        // While the device is full smoltcp wants to send "now", and the outbound reservation
        // is what wakes the task, so its timer would only make it spin.
        let delay = match self.dev.tx_full() {
            true => None,
            false => self.iface.poll_delay(self.smol_now(), &self.sockets),
        };
        if let Some(delay) = delay {
            consider(Instant::now() + Duration::from_micros(delay.total_micros()));
        }
        self.connecting.iter().for_each(|c| consider(c.deadline));
        self.conns
            .iter()
            .filter_map(|c| c.linger)
            .for_each(&mut consider);
        for c in &self.conns {
            if owes_ack(self.sockets.get::<tcp::Socket>(c.handle)) {
                consider(c.moved_at + STALL);
            }
        }
        next
    }

    fn take_packet(&mut self, packet: Vec<u8>) {
        Counters::bump(&self.counters.packets_in);
        match Ipv6Packet::new_checked(&packet[..]) {
            Ok(ip) if ip.version() == 6 => {
                if ip.dst_addr() == self.cfg.addr {
                    self.acks.observe(&ip);
                    self.dev.rx.push_back(packet);
                } else {
                    Counters::bump(&self.counters.foreign);
                }
            }
            _ => Counters::bump(&self.counters.malformed),
        }
    }

    /// Moves emitted packets to the outbound pipe; packets for our own address loop back.
    fn flush(&mut self, cx: &mut Context<'_>) -> bool {
        let mut moved = false;
        loop {
            if let Some(wait) = self.out_wait.as_mut() {
                match wait.as_mut().poll(cx) {
                    Poll::Pending => return moved,
                    Poll::Ready(Ok(permit)) => {
                        self.out_wait = None;
                        if let Some(packet) = self.dev.tx.pop_front() {
                            permit.send(packet);
                            Counters::bump(&self.counters.packets_out);
                            moved = true;
                        }
                    }
                    Poll::Ready(Err(_)) => {
                        self.out_wait = None;
                        self.out_closed = true;
                    }
                }
            }
            let Some(packet) = self.dev.tx.pop_front() else {
                return moved;
            };
            let to_self =
                Ipv6Packet::new_checked(&packet[..]).is_ok_and(|ip| ip.dst_addr() == self.cfg.addr);
            if to_self {
                self.dev.rx.push_back(packet);
                moved = true;
                continue;
            }
            if self.out_closed {
                Counters::bump(&self.counters.dropped_out);
                moved = true;
                continue;
            }
            match self.out.try_send(packet) {
                Ok(()) => {
                    Counters::bump(&self.counters.packets_out);
                    moved = true;
                }
                Err(TrySendError::Full(packet)) => {
                    self.dev.tx.push_front(packet);
                    self.out_wait = Some(Box::pin(self.out.clone().reserve_owned()));
                }
                Err(TrySendError::Closed(_)) => {
                    self.out_closed = true;
                    Counters::bump(&self.counters.dropped_out);
                    moved = true;
                }
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Connect { to, reply } => self.connect(to, reply),
            Command::Listen { port, id, reply } => self.listen(port, id, reply),
            Command::Unlisten { port, id } => {
                let mine = self.listeners.get(&port).is_some_and(|l| l.id == id);
                let removed = if mine {
                    self.listeners.remove(&port)
                } else {
                    None
                };
                if let Some(l) = removed {
                    l.handles.into_iter().for_each(|h| self.remove_socket(h));
                }
            }
        }
    }

    fn new_socket(&mut self) -> SocketHandle {
        let buffer = || tcp::SocketBuffer::new(vec![0; self.cfg.buffer]);
        let mut socket = tcp::Socket::new(buffer(), buffer());
        // Proxied streams write in large chunks; Nagle would only add latency to the small
        // request/response exchanges in between.
        socket.set_nagle_enabled(false);
        // smoltcp 0.12.0 panics ("subtract sequence numbers with underflow", upstream issues
        // 1048/1051) when, with window scaling, the peer legitimately fills a window edge that
        // rounding has since moved back, and the socket is asked about window updates before it
        // has acknowledged that data. Acknowledging every segment at once means the ACK always
        // goes out first; `next_deadline` never asks smoltcp for timers while an ACK may be
        // stuck behind a full device. It costs one ACK per segment instead of per two.
        socket.set_ack_delay(None);
        socket.set_keep_alive(Some(KEEP_ALIVE.into()));
        socket.set_congestion_control(tcp::CongestionControl::None);
        self.counters.sockets.fetch_add(1, Ordering::Relaxed);
        self.sockets.add(socket)
    }

    fn remove_socket(&mut self, handle: SocketHandle) {
        self.sockets.remove(handle);
        self.counters.sockets.fetch_sub(1, Ordering::Relaxed);
    }

    fn alloc_port(&mut self) -> Option<u16> {
        for _ in EPHEMERAL_FIRST..=u16::MAX {
            let port = self.next_port;
            self.next_port = port.checked_add(1).unwrap_or(EPHEMERAL_FIRST);
            if !self.ports.contains(&port) && !self.listeners.contains_key(&port) {
                return Some(port);
            }
        }
        None
    }

    fn connect(&mut self, to: SocketAddrV6, reply: oneshot::Sender<io::Result<TcpStream>>) {
        let Some(port) = self.alloc_port() else {
            let _ = reply.send(Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "no free local port",
            )));
            return;
        };
        let handle = self.new_socket();
        let socket = self.sockets.get_mut::<tcp::Socket>(handle);
        let remote = IpEndpoint::new(IpAddress::Ipv6(*to.ip()), to.port());
        if let Err(e) = socket.connect(self.iface.context(), remote, port) {
            self.remove_socket(handle);
            let _ = reply.send(Err(io::Error::new(io::ErrorKind::InvalidInput, e)));
            return;
        }
        self.ports.insert(port);
        let deadline = Instant::now() + self.cfg.connect_timeout;
        self.connecting.push(Connecting {
            handle,
            to,
            port,
            deadline,
            reply,
        });
    }

    fn listen(
        &mut self,
        port: u16,
        id: u64,
        reply: oneshot::Sender<io::Result<mpsc::Receiver<Accepted>>>,
    ) {
        let error = if port == 0 {
            Some(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot listen on port 0",
            ))
        } else if self.listeners.contains_key(&port) || self.ports.contains(&port) {
            Some(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("port {port} is in use"),
            ))
        } else {
            None
        };
        if let Some(e) = error {
            let _ = reply.send(Err(e));
            return;
        }
        let (queue, rx) = mpsc::channel(ACCEPT_QUEUE);
        if reply.send(Ok(rx)).is_ok() {
            // The listening socket itself is opened by `service_listeners`.
            self.listeners.insert(
                port,
                Listening {
                    id,
                    queue,
                    handles: Vec::new(),
                },
            );
        }
    }

    fn service(&mut self, cx: &mut Context<'_>) -> bool {
        let now = Instant::now();
        let a = self.service_connecting(now);
        let b = self.service_listeners();
        let c = self.service_conns(cx, now);
        a || b || c
    }

    /// Resolves connect attempts that were answered, reset, abandoned or timed out.
    fn service_connecting(&mut self, now: Instant) -> bool {
        let mut progress = false;
        let mut i = 0;
        while i < self.connecting.len() {
            let c = &self.connecting[i];
            let socket = self.sockets.get_mut::<tcp::Socket>(c.handle);
            let outcome = match socket.state() {
                State::SynSent | State::SynReceived if c.reply.is_closed() => Some(Err(None)),
                State::SynSent | State::SynReceived if now >= c.deadline => {
                    Counters::bump(&self.counters.connections_timed_out);
                    Some(Err(Some(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection timed out",
                    ))))
                }
                State::SynSent | State::SynReceived => None,
                State::Closed => {
                    Counters::bump(&self.counters.connections_refused);
                    Some(Err(Some(io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        "connection refused",
                    ))))
                }
                // Established, or further on if the peer closed at once: open either way.
                _ => Some(Ok(())),
            };
            let Some(outcome) = outcome else {
                i += 1;
                continue;
            };
            progress = true;
            let c = self.connecting.swap_remove(i);
            match outcome {
                Ok(()) => {
                    Counters::bump(&self.counters.connections_opened);
                    let socket = self.sockets.get_mut::<tcp::Socket>(c.handle);
                    socket.set_timeout(Some(IDLE_TIMEOUT.into()));
                    let local = SocketAddrV6::new(self.cfg.addr, c.port, 0, 0);
                    let stream = self.open_conn(c.handle, Some(c.port), local, c.to);
                    // If the caller gave up meanwhile, the dropped stream closes the connection.
                    let _ = c.reply.send(Ok(stream));
                }
                Err(error) => {
                    self.remove_socket(c.handle);
                    self.ports.remove(&c.port);
                    if let Some(e) = error {
                        let _ = c.reply.send(Err(e));
                    }
                }
            }
        }
        progress
    }

    /// Hands established incoming connections to their listener and keeps one socket per
    /// listened port in LISTEN.
    fn service_listeners(&mut self) -> bool {
        let mut progress = false;
        let mut listeners = std::mem::take(&mut self.listeners);
        listeners.retain(|&port, l| {
            if l.queue.is_closed() {
                l.handles.drain(..).for_each(|h| self.remove_socket(h));
                progress = true;
                return false;
            }
            let mut listening = 0;
            let mut j = 0;
            while j < l.handles.len() {
                let h = l.handles[j];
                let socket = self.sockets.get_mut::<tcp::Socket>(h);
                match socket.state() {
                    State::Listen => {
                        listening += 1;
                        j += 1;
                    }
                    State::SynReceived => j += 1,
                    State::Closed => {
                        l.handles.swap_remove(j);
                        self.remove_socket(h);
                        progress = true;
                    }
                    _ => {
                        l.handles.swap_remove(j);
                        progress = true;
                        let peer = socket.remote_endpoint().map(v6);
                        let peer =
                            peer.unwrap_or(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0));
                        socket.set_timeout(Some(IDLE_TIMEOUT.into()));
                        let local = SocketAddrV6::new(self.cfg.addr, port, 0, 0);
                        let stream = self.open_conn(h, None, local, peer);
                        // A full queue drops the stream, which closes the connection.
                        if l.queue.try_send((stream, peer)).is_ok() {
                            Counters::bump(&self.counters.connections_accepted);
                        }
                    }
                }
            }
            if listening == 0 && l.handles.len() < MAX_HALF_OPEN {
                let h = self.new_socket();
                let socket = self.sockets.get_mut::<tcp::Socket>(h);
                socket.set_timeout(Some(HANDSHAKE_TIMEOUT.into()));
                if socket.listen(port).is_ok() {
                    l.handles.push(h);
                } else {
                    self.remove_socket(h);
                }
                progress = true;
            }
            true
        });
        self.listeners = listeners;
        progress
    }

    fn open_conn(
        &mut self,
        handle: SocketHandle,
        port: Option<u16>,
        local: SocketAddrV6,
        peer: SocketAddrV6,
    ) -> TcpStream {
        let tuple = (*peer.ip(), peer.port(), local.port());
        let (app, io) = tokio::io::duplex(PIPE);
        let shared = Arc::new(ConnShared::default());
        self.conns.push(Conn {
            handle,
            io,
            shared: shared.clone(),
            port,
            fin_sent: false,
            eof_given: false,
            peer_fin: false,
            tuple,
            seen: (0, State::Established),
            moved_at: Instant::now(),
            linger: None,
        });
        self.acks.track(tuple);
        TcpStream::new(app, local, peer, shared)
    }

    fn service_conns(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progress = false;
        let mut i = 0;
        while i < self.conns.len() {
            let (moved, done) = self.service_conn(cx, i, now);
            progress |= moved;
            if done {
                let c = self.conns.swap_remove(i);
                self.acks.forget(&c.tuple);
                self.remove_socket(c.handle);
                if let Some(port) = c.port {
                    self.ports.remove(&port);
                }
                progress = true;
            } else {
                i += 1;
            }
        }
        progress
    }

    /// Moves bytes both ways for one connection, as far as the buffers on the receiving side
    /// allow (never further, so nothing is dropped), and says whether it can be removed.
    fn service_conn(&mut self, cx: &mut Context<'_>, i: usize, now: Instant) -> (bool, bool) {
        let c = &mut self.conns[i];
        let socket = self.sockets.get_mut::<tcp::Socket>(c.handle);
        let mut progress = false;
        let gone = Arc::strong_count(&c.shared) == 1;
        if gone && c.linger.is_none() {
            c.linger = Some(now + LINGER);
        }
        let state = socket.state();
        if matches!(
            state,
            State::CloseWait | State::LastAck | State::Closing | State::TimeWait
        ) {
            c.peer_fin = true;
        }

        let probe = if socket.send_queue() > 0 {
            PROBE
        } else {
            KEEP_ALIVE
        };
        if socket.keep_alive() != Some(probe.into()) {
            socket.set_keep_alive(Some(probe.into()));
        }

        // Application → network, only as much as the socket's transmit buffer has room for.
        while !c.fin_sent && socket.can_send() {
            let read = socket.send(|buf| {
                let mut rb = ReadBuf::new(buf);
                match Pin::new(&mut c.io).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) => (rb.filled().len(), Some(rb.filled().len())),
                    Poll::Ready(Err(_)) => (0, Some(0)),
                    Poll::Pending => (0, None),
                }
            });
            match read {
                Ok(Some(0)) => {
                    socket.close();
                    c.fin_sent = true;
                    progress = true;
                }
                Ok(Some(_)) => progress = true,
                Ok(None) | Err(_) => break,
            }
        }

        // Network → application, only as much as the pipe has room for.
        if !c.eof_given {
            while socket.can_recv() {
                let written = socket.recv(|buf| {
                    if gone {
                        return (buf.len(), true); // nobody will read it
                    }
                    match Pin::new(&mut c.io).poll_write(cx, buf) {
                        Poll::Ready(Ok(n)) => (n, n > 0),
                        Poll::Ready(Err(_)) => (buf.len(), true),
                        Poll::Pending => (0, false),
                    }
                });
                if written != Ok(true) {
                    break;
                }
                progress = true;
            }
            if !socket.can_recv() && !socket.may_recv() {
                if state == State::Closed && !c.peer_fin {
                    c.shared.reset.store(true, Ordering::Release);
                }
                let _ = Pin::new(&mut c.io).poll_shutdown(cx);
                c.eof_given = true;
                progress = true;
            }
        }

        let seen = (socket.send_queue(), socket.state());
        if seen != c.seen {
            c.seen = seen;
            c.moved_at = now;
        } else if owes_ack(socket) && now >= c.moved_at + STALL {
            c.moved_at = now;
            let kick = self.acks.duplicates(&c.tuple, self.cfg.addr);
            progress |= !kick.is_empty();
            self.dev.rx.extend(kick);
        }

        if c.linger.is_some_and(|t| now >= t) && state != State::Closed {
            socket.abort();
            progress = true;
        }
        let finished = match state {
            State::TimeWait => true,
            // Once the tuple is gone, any reset owed to the peer has been sent.
            State::Closed => socket.remote_endpoint().is_none(),
            _ => false,
        };
        (progress, finished && (c.eof_given || gone))
    }
}
