//! The service loop: one task owns the sans-IO node and moves bytes between it and the
//! sockets, the TUN device, the local API and the timers.

use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV6};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use hypha_ipc::api::{self, Request};
use hypha_ipc::{keyfile, paths};
use hypha_proto::discovery::{Discovery, DiscoveryAction};
use hypha_proto::identity::NodeId;
use hypha_proto::link::handshake::NetworkKey;
use hypha_proto::node::{InPlaceOut, Node, NodeConfig, Remote};
use hypha_proto::time::Timestamp;
use hypha_tun::{RecvBatch, SendBatch, Tun, TunConfig};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

use crate::config::{Config, Endpoint, Transport};
use crate::ipc::{ApiCall, Server};
use crate::mcast::Mcast;
use crate::peers::PeerStore;
use crate::settings::{self, Settings};
use crate::store::{self, Store};
use crate::tcp::{Hub, TcpEvent};
use crate::udp_io::UdpIo;
use crate::{status, udp};

mod chores;
mod firewall;
mod handlers;
mod invite;
mod io;
mod reaching;
mod timer;
mod trace;
mod warm;
use chores::{Chore, Chores};
use handlers::PendingRecv;
use io::{Io, disc_recv, shutdown_signal, stack_recv, tun_recv};
use timer::LoopTimer;
use warm::Warmth;

/// Most extra reads (each a batch) taken from the UDP socket or the TUN per wake-up, bounded
/// so one busy source cannot starve timers and the others.
const BURST: usize = 8;

/// How soon the loop looks again at a deadline the core reached and did not act on.
const STALE_RETRY: Duration = Duration::from_millis(5);

fn wall_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn network_key(cfg: &Config) -> Result<NetworkKey> {
    match (&cfg.network, &cfg.psk_file) {
        (Some(name), Some(file)) => {
            let secret = std::fs::read(file)
                .with_context(|| format!("reading psk file {}", file.display()))?;
            let secret = secret.trim_ascii();
            if secret.len() < 16 {
                bail!(
                    "psk file {}: use at least 16 bytes of secret",
                    file.display()
                );
            }
            Ok(NetworkKey::private(name, secret))
        }
        _ => Ok(NetworkKey::public()),
    }
}

fn short(n: &NodeId) -> String {
    n.to_hex()[..12].to_string()
}

/// A configured peer, by URI.
enum PeerHandle {
    /// UDP: the address once resolved.
    Udp(Option<Remote>),
    /// TCP: dropping the sender stops the dialler and closes its connection.
    Tcp(#[allow(dead_code)] watch::Sender<bool>),
}

/// The running service.
struct Service {
    node: Node,
    io: Io,
    hub: Hub,
    start: Instant,
    peers: HashMap<String, PeerHandle>,
    store: PeerStore,
    resolved_tx: mpsc::Sender<(String, SocketAddr)>,
    mcast: Option<(Mcast, Discovery)>,
    tun_name: Option<String>,
    ipc: Option<Server>,
    bus_store: Store,
    recvs: Vec<PendingRecv>,
    traces: Vec<trace::PendingTrace>,
    /// When the last traffic figures were published, and the totals then (rx, tx and
    /// forwarded bytes, UDP datagrams sent).
    stats_prev: Option<(Instant, u64, u64, u64, u64)>,
    settings: Settings,
    reaching: reaching::Reaching,
    share_percent: u8,
    uplink_bps: Option<u64>,
    /// The config file's `incoming` (settings changed at run time win over it).
    incoming_default: String,
    /// The UDP link socket's address, if it listens (for invites).
    udp_listen: Option<SocketAddr>,
    /// Joins waiting for one of their endpoints to link.
    joins: Vec<invite::PendingJoin>,
    /// The uplink's capacity as measured (the share applies to it without a configured one).
    uplink_est: hypha_proto::uplink::UplinkEstimator,
    /// This host's addresses when last looked at (a change means another network).
    addresses: Vec<SocketAddr>,
    /// Times the core's timers ran and left their deadline where it was (see the loop).
    stale_deadlines: u64,
}

impl Service {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.start.elapsed().as_micros() as u64)
    }

    /// Ends a turn of the loop: a bus message that arrived is stored and probe answers are
    /// passed on before what the node queued (its acknowledgement among it) leaves.
    async fn finish_turn(&mut self) {
        let events = self.io.take_events(&mut self.node);
        self.on_bus(events);
        let probes = std::mem::take(&mut self.io.probe_replies);
        self.on_probe_replies(probes);
        self.io.send_all(&mut self.node).await;
    }

    /// Starts keeping a link to `uri`.
    fn add_peer(&mut self, uri: &str) -> Result<()> {
        if self.peers.contains_key(uri) {
            return Ok(());
        }
        let ep = Endpoint::parse(uri)?;
        match ep.transport {
            Transport::Tcp => {
                let (tx, rx) = watch::channel(false);
                self.hub.dial_forever(ep, rx);
                self.peers.insert(uri.to_string(), PeerHandle::Tcp(tx));
            }
            Transport::Udp => {
                let tx = self.resolved_tx.clone();
                let uri_owned = uri.to_string();
                tokio::spawn(async move {
                    let mut wait = Duration::from_secs(1);
                    loop {
                        match ep.resolve().await {
                            Ok(addrs) => {
                                let _ = tx.send((uri_owned, udp::normalize(addrs[0]))).await;
                                return;
                            }
                            Err(e) => tracing::warn!("peer {uri_owned}: {e:#}"),
                        }
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(60));
                    }
                });
                self.peers.insert(uri.to_string(), PeerHandle::Udp(None));
            }
        }
        Ok(())
    }

    fn remove_peer(&mut self, uri: &str) -> bool {
        let now = self.now();
        match self.peers.remove(uri) {
            Some(PeerHandle::Udp(Some(r))) => {
                self.node.remove_peer(now, r);
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    async fn on_discovery(&mut self, n: usize, from: SocketAddr, dbuf: &[u8]) {
        let now = self.now();
        let Some((m, d)) = self.mcast.as_mut() else {
            return;
        };
        // Hellos never leave the link: a datagram from anything but a link-local address was
        // routed here on purpose.
        let link_local = match from {
            SocketAddr::V6(v6) => (v6.ip().segments()[0] & 0xffc0) == 0xfe80,
            SocketAddr::V4(_) => false,
        };
        if !link_local {
            d.counters.off_link += 1;
            return;
        }
        let links = self.node.links();
        let actions = d.handle(self.node.identity(), &dbuf[..n], wall_micros(), |id| {
            links.iter().any(|l| l.node == Some(*id))
        });
        for a in actions {
            match a {
                DiscoveryAction::Reply(bytes) => {
                    let _ = m.sock.send_to(&bytes, from).await;
                }
                DiscoveryAction::Connect { port, .. } => {
                    let to = match from {
                        SocketAddr::V6(v6) => {
                            SocketAddr::V6(SocketAddrV6::new(*v6.ip(), port, 0, v6.scope_id()))
                        }
                        SocketAddr::V4(v4) => SocketAddr::new((*v4.ip()).into(), port),
                    };
                    let remote = Remote::Udp(udp::normalize(to));
                    if !links.iter().any(|l| l.remote == remote) {
                        self.node.connect(now, remote);
                    }
                }
            }
        }
    }
}

/// A missing key file beside the state of an existing identity (peers, settings, messages)
/// means the key was lost or misplaced: starting would silently make a new identity, re-send
/// queued messages under it and give up the old address and name. Refuse, and say what to do.
fn refuse_lost_identity(key_path: &std::path::Path) -> Result<()> {
    if key_path.exists() {
        return Ok(());
    }
    let Some(dir) = key_path.parent() else {
        return Ok(());
    };
    let state: Vec<String> = ["peers.json", "settings.json", "bus.redb"]
        .iter()
        .filter(|f| dir.join(f).exists())
        .map(|f| f.to_string())
        .collect();
    if state.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "the identity key {} is missing, but {} holds the state of an existing node ({}): \
         restore the key file from a backup to keep this node's address, or move those files \
         away to start as a new node",
        key_path.display(),
        dir.display(),
        state.join(", ")
    )
}

/// Runs the service until SIGINT/SIGTERM.
pub async fn run(cfg: Config) -> Result<()> {
    run_until(cfg, shutdown_signal()).await
}

/// Runs the service until `shutdown` completes (the Windows service manager's stop request,
/// or a signal).
pub async fn run_until(cfg: Config, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
    let key_path = cfg.key_file.clone().unwrap_or_else(paths::key_file);
    #[cfg(windows)]
    if let Some(dir) = key_path.parent() {
        // Before the key is made: ProgramData would let every user read it.
        crate::winacl::lock_state_dir(dir).with_context(|| {
            format!("restricting {} to SYSTEM and Administrators", dir.display())
        })?;
    }
    refuse_lost_identity(&key_path)?;
    let (identity, created) = keyfile::load_or_create(&key_path)?;
    if created {
        tracing::info!("created a new identity key in {}", key_path.display());
    }
    let state_dir = key_path
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(paths::state_dir);
    let store = PeerStore::load(&state_dir)?;
    let network = network_key(&cfg)?;
    let allow = if cfg.allow.is_empty() {
        None
    } else {
        Some(
            cfg.allow
                .iter()
                .map(|a| NodeId::from_hex(a))
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let start = Instant::now();
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let settings = Settings::load(&state_dir)?;
    let share_percent = settings.sharing.percent.unwrap_or(cfg.share);
    let uplink_bps = match settings.sharing.uplink_bps {
        Some(u) => Some(u),
        None => cfg
            .uplink
            .as_deref()
            .map(crate::config::parse_rate)
            .transpose()?,
    };
    let node_cfg = NodeConfig {
        wall_offset_ms: wall_micros() / 1000,
        direct_paths: cfg.direct_paths,
        transit_rate: settings::transit_rate(share_percent, uplink_bps),
        network: network.clone(),
        allow,
        debug_hostile: cfg.debug_hostile_routes,
        tun_mtu: cfg.mtu,
        firewall: settings
            .firewall_policy(Some(&cfg.incoming))
            .map_err(|e| anyhow::anyhow!("firewall: {e}"))?,
        bus: hypha_proto::bus::BusConfig {
            allowed_topics: (!cfg.bus_topics.is_empty()).then(|| cfg.bus_topics.clone()),
            ..Default::default()
        },
        ..NodeConfig::default()
    };
    let node = Node::new(identity, node_cfg, Timestamp::ZERO, seed);
    let id = node.node_id();
    tracing::info!(
        "node {} address {} subnet {}",
        id.to_hex(),
        id.address(),
        id.subnet()
    );

    let (hub, mut tcp_rx) = Hub::new();
    let mut udp_sock = None;
    for l in &cfg.listen {
        let ep = Endpoint::parse(l)?;
        let addr = SocketAddr::new(ep.host.parse()?, ep.port);
        match ep.transport {
            Transport::Udp if udp_sock.is_some() => bail!("only one udp listener is supported"),
            Transport::Udp => udp_sock = Some(udp::bind(addr)?),
            Transport::Tcp => hub.listen(addr).await?,
        }
        tracing::info!("listening on {l}");
    }
    let udp_sock = match udp_sock {
        Some(s) => s,
        None => {
            let s = udp::bind("[::]:0".parse().expect("literal"))?;
            tracing::warn!(
                "no udp listen address (`listen` has none): links only to configured peers, \
                 from UDP port {}, which changes at every start",
                s.local_addr().map(|a| a.port()).unwrap_or(0)
            );
            s
        }
    };
    let local = udp_sock.local_addr()?;

    let tun = if cfg.tun {
        let wintun_dll = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("wintun.dll")));
        let t = hypha_tun::open(&TunConfig {
            name: cfg.tun_name.clone(),
            address: id.address().to_ipv6(),
            prefix_len: hypha_proto::address::PREFIX_LEN,
            mtu: cfg.mtu,
            wintun_dll,
        })
        .with_context(|| {
            format!(
                "creating TUN {} (needs CAP_NET_ADMIN; run as root or with --no-tun)",
                cfg.tun_name
            )
        })?;
        tracing::info!(
            "tun {} up, mtu {}, offload {}",
            t.name(),
            cfg.mtu,
            if t.offload() { "on" } else { "off" }
        );
        Some(t)
    } else {
        tracing::info!("running without TUN: relaying only");
        None
    };
    let tun_name = tun.as_ref().map(|t| t.name());

    let mcast = if cfg.multicast {
        let m = Mcast::open(cfg.discovery_port, tun_name.clone())?;
        let d = Discovery::new(local.port(), network.tag, wall_micros());
        Some((m, d))
    } else {
        None
    };

    let (events_tx, _) = broadcast::channel(1024);
    let (api_tx, mut api_rx) = mpsc::channel::<ApiCall>(256);
    let (reaching, mut stack_out) =
        reaching::start(&cfg, id.address().to_ipv6(), tun.is_some(), api_tx.clone()).await?;
    let server = Server::new(
        api::Welcome {
            version: api::API_VERSION,
            service: format!("hyphad {}", env!("CARGO_PKG_VERSION")),
            node_id: id.to_hex(),
        },
        api_tx,
        events_tx.clone(),
    );
    let socket_path = cfg.ipc_socket.clone().unwrap_or_else(paths::system_socket);
    let ipc = match server.clone().listen(socket_path.clone()) {
        Ok(()) => Some(server),
        Err(e) if cfg.ipc_socket.is_none() => {
            // Unprivileged development runs cannot write /run: use the user's runtime dir.
            match paths::user_socket() {
                Some(user) => {
                    tracing::warn!("{e:#}; using {}", user.display());
                    server.clone().listen(user)?;
                    Some(server)
                }
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    if let (Some(server), Ok(addr)) = (&ipc, cfg.api_http.parse::<SocketAddr>()) {
        let token = cfg
            .api_token_file
            .clone()
            .unwrap_or_else(|| state_dir.join("api-token"));
        crate::http::start(addr, &token, server.clone()).await?;
    }

    let bus_store = Store::open(&state_dir.join("bus.redb"))?;
    let (resolved_tx, mut resolved_rx) = mpsc::channel::<(String, SocketAddr)>(64);
    let mut svc = Service {
        node,
        io: Io {
            udp: UdpIo::new(udp_sock)?,
            tun,
            tun_tx: SendBatch::new(),
            in_place: Vec::new(),
            relayed: Vec::new(),
            relay_barriers: Vec::new(),
            gather: hypha_tun::gather::Gather::new(),
            sealer: crate::sealer::Sealer::start(
                cfg.seal_threads
                    .unwrap_or_else(crate::sealer::default_threads),
            ),
            sealed: Vec::new(),
            got: Vec::new(),
            ahead: Vec::new(),
            ahead_at: Vec::new(),
            verified: Vec::new(),
            opener: crate::opener::Opener::start(
                cfg.seal_threads
                    .unwrap_or_else(crate::sealer::default_threads),
            ),
            user_stack: reaching.user_stack.as_ref().map(|(tx, _)| tx.clone()),
            writers: HashMap::new(),
            events: events_tx,
            probe_replies: Vec::new(),
            hub: hub.clone(),
        },
        hub,
        start,
        peers: HashMap::new(),
        store,
        resolved_tx,
        mcast,
        tun_name,
        ipc,
        bus_store,
        recvs: Vec::new(),
        traces: Vec::new(),
        stats_prev: None,
        settings,
        reaching,
        share_percent,
        uplink_bps,
        incoming_default: cfg.incoming.clone(),
        udp_listen: cfg
            .listen
            .iter()
            .any(|l| l.starts_with("udp://"))
            .then_some(local),
        joins: Vec::new(),
        uplink_est: hypha_proto::uplink::UplinkEstimator::new(),
        addresses: Vec::new(),
        stale_deadlines: 0,
    };
    svc.restore_reaching();
    let priorities: Vec<(String, u32)> = svc
        .settings
        .sharing
        .priorities
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    for (n, w) in priorities {
        if let Ok(id) = NodeId::from_hex(&n) {
            svc.node.set_priority(id, w);
        }
    }
    // The bus starts where it stopped: delivered ids stay known, pending messages go again.
    for r in svc.bus_store.incoming()? {
        if let (Ok(from), Some(id)) = (NodeId::from_hex(&r.from), store::parse_id(&r.id)) {
            svc.node.bus_remember(from, id);
        }
    }
    let pending = svc.bus_store.pending_outgoing()?;
    if !pending.is_empty() {
        tracing::info!(
            "{} queued message(s) from before the restart",
            pending.len()
        );
    }
    for m in pending {
        let now = svc.now();
        if let Err(e) = svc.node.bus_send(now, m) {
            tracing::warn!("reloading a queued message: {e}");
        }
    }
    for p in &cfg.peers {
        svc.add_peer(p)
            .with_context(|| format!("configured peer {p:?}"))?;
    }
    // A bad entry in peers.json (edited by hand, or written by an older version) is skipped,
    // not a reason to stay down.
    for p in svc.store.uris.clone() {
        if let Err(e) = svc.add_peer(&p) {
            tracing::warn!("{}: skipping peer {p:?}: {e:#}", svc.store.path.display());
        }
    }

    let mut off = Vec::new();
    if svc.mcast.is_none() {
        off.push(Chore::Hello);
    }
    if cfg.status_file.is_none() {
        off.push(Chore::Status);
    }
    let mut chores = Chores::new(Instant::now(), &off);
    tokio::pin!(shutdown);
    let mut trx = RecvBatch::new(cfg.mtu as usize);
    let mut dbuf = vec![0u8; 2048];
    let mut timer = LoopTimer::new().context("creating the loop's timer")?;
    // A deadline the core had already reached when it last ran its timers and still
    // reports: the core did nothing for it, and waking for it at once would spin a core
    // until it moves (a bug in the core, as the bus had; counted in the status file). The
    // time to look again is fixed when the deadline is found stale: reckoned afresh on every
    // turn, traffic would keep pushing it back and the core's timers would never run. Only
    // the timer's own turns find one (the core ran its timers there), so the count is of
    // those.
    let mut stale: Option<(Timestamp, Instant)> = None;
    let mut warmth = Warmth::default();
    loop {
        let poll = svc.node.poll_timeout();
        let node_deadline = if let Some((t, retry)) = stale
            && t == poll
        {
            retry
        } else {
            start + Duration::from_micros(poll.as_micros())
        };
        let deadline = [chores.wake_by(), warmth.wake_by(Instant::now())]
            .into_iter()
            .flatten()
            .fold(node_deadline, Instant::min);
        timer.set(deadline);
        tokio::select! {
            r = svc.io.udp.sock.readable() => if r.is_ok() {
                let now = svc.now();
                // Drain what is queued (a few batches) before returning to the loop.
                for _ in 0..BURST {
                    let node = &mut svc.node;
                    let io = &mut svc.io;
                    // With a TUN, a packet for this host stays in the receive buffer, where
                    // it was opened, and goes to the TUN from there once the batch is read.
                    let to_tun = io.tun.is_some();
                    let read = io.udp.try_recv(&mut io.got);
                    // Transport frames opened ahead, on the workers too, when the batch is
                    // worth it; the node then takes every datagram in the order it came.
                    io.ahead.clear();
                    io.ahead_at.clear();
                    io.verified.clear();
                    let bytes: usize = io.got.iter().map(|(_, r)| r.len()).sum();
                    if io.opener.worth(bytes) {
                        let rx = io.udp.rx();
                        // Asking costs a data frame its routed header's AEAD, once more when
                        // it is passed on: a relay's batch stops asking at its first one.
                        let mut frames = true;
                        for (k, (_, r)) in io.got.iter().enumerate() {
                            let d = &rx[r.clone()];
                            let frame = d.first() == Some(&hypha_proto::wire::data_frame::TYPE_DATA_FRAME);
                            if frame && !frames {
                                continue;
                            }
                            match node.pre_open(d) {
                                Some(p) => {
                                    io.ahead.push((r.clone(), p));
                                    io.ahead_at.push(k);
                                }
                                None => frames &= !frame,
                            }
                        }
                        io.opener.open_all(io.udp.rx_mut(), &io.ahead, &mut io.verified);
                    }
                    // A relay's data frames are sealed again where they arrived and leave
                    // from there too, after what the node queued before them.
                    let mut queued = 0;
                    let mut next = 0;
                    let rx = io.udp.rx_mut();
                    for (k, (from, r)) in io.got.iter().enumerate() {
                        let (at, d, remote) = (r.start, &mut rx[r.clone()], Remote::Udp(*from));
                        let out = if io.ahead_at.get(next) == Some(&k) {
                            next += 1;
                            node.handle_pre_opened(now, remote, d, &io.ahead[next - 1].1, io.verified[next - 1])
                        } else {
                            node.handle_datagram_in_place(now, remote, d)
                        };
                        match out {
                            Some(InPlaceOut::Packet(r)) if to_tun => {
                                io.in_place.push(at + r.start..at + r.end);
                            }
                            // Without a TUN the userspace stack takes a copy.
                            Some(InPlaceOut::Packet(r)) => node.deliver_copy(&d[r]),
                            Some(InPlaceOut::Forward(Remote::Udp(to))) => {
                                let q = node.queued_before_forward();
                                if q > queued {
                                    io.relay_barriers.push((io.relayed.len(), q));
                                    queued = q;
                                }
                                io.relayed.push((to, at..at + d.len()));
                            }
                            Some(InPlaceOut::Forward(Remote::Stream(_))) | None => {}
                        }
                    }
                    // Both before the next read reuses the buffer.
                    if let Some(tun) = &io.tun && !io.in_place.is_empty() {
                        if let Err(e) = tun.write_in_place(&mut io.gather, io.udp.rx(), &io.in_place, &mut io.tun_tx) {
                            tracing::debug!("tun write: {e}");
                        }
                        io.in_place.clear();
                    }
                    if !svc.io.relayed.is_empty() {
                        // What the node queued goes out with the relayed frames: a bus
                        // message that arrived meanwhile is stored before its acknowledgement
                        // leaves (as at the end of every turn).
                        let events = svc.io.take_events(&mut svc.node);
                        svc.on_bus(events);
                        svc.io.send_relayed(&mut svc.node).await;
                    }
                    match read {
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        // ICMP port unreachable from a peer that is down: nothing to do.
                        Err(e) => tracing::trace!("udp recv: {e}"),
                    }
                }
            },
            r = tun_recv(svc.io.tun.as_ref(), &mut trx) => match r {
                Ok(()) => {
                    let now = svc.now();
                    for p in trx.packets() {
                        svc.node.handle_tun(now, p);
                    }
                    // Sealing workers start on each read's packets while the loop reads on.
                    svc.io.seal_ahead(&mut svc.node);
                    for _ in 0..BURST {
                        let Some(tun) = &svc.io.tun else { break };
                        if tun.try_recv_batch(&mut trx).is_err() {
                            break;
                        }
                        for p in trx.packets() {
                            svc.node.handle_tun(now, p);
                        }
                        svc.io.seal_ahead(&mut svc.node);
                    }
                }
                // Not the device failing but a super-packet that does not split: drop it.
                Err(e) if e.raw_os_error().is_none() && e.kind() != std::io::ErrorKind::BrokenPipe => {
                    tracing::debug!("tun read: {e}");
                }
                Err(e) => bail!("tun read: {e}"),
            },
            Some(p) = stack_recv(&mut stack_out) => {
                let now = svc.now();
                svc.node.handle_tun(now, &p);
            },
            r = disc_recv(svc.mcast.as_ref().map(|(m, _)| m), &mut dbuf) => {
                if let Ok((n, from)) = r {
                    svc.on_discovery(n, from, &dbuf).await;
                }
            },
            Some(ev) = tcp_rx.recv() => {
                let now = svc.now();
                match ev {
                    TcpEvent::Connected { id, writer, dialled, peer } => {
                        tracing::debug!("tcp connection {id} with {peer}");
                        svc.io.writers.insert(id, writer);
                        if dialled {
                            svc.node.connect(now, Remote::Stream(id));
                        }
                    }
                    TcpEvent::Frame { id, mut data } => {
                        svc.node.handle_datagram(now, Remote::Stream(id), &mut data);
                    }
                    TcpEvent::Closed { id } => {
                        svc.io.writers.remove(&id);
                        svc.node.remote_closed(now, Remote::Stream(id));
                    }
                }
            },
            Some((uri, addr)) = resolved_rx.recv() => {
                // The peer may have been removed while its name was being resolved.
                if let Some(PeerHandle::Udp(slot)) = svc.peers.get_mut(&uri) {
                    *slot = Some(Remote::Udp(addr));
                    let now = svc.now();
                    svc.node.add_peer(now, Remote::Udp(addr));
                }
            },
            Some(call) = api_rx.recv() => match call.request {
                Request::Recv {
                    wait_ms,
                    topic,
                    keep,
                } => svc.recv(wait_ms, topic, keep, call.reply),
                Request::Trace { target, max_hops } => svc.start_trace(&target, max_hops, call.reply),
                request => {
                    let r = svc.handle_api(request);
                    let _ = call.reply.send(r);
                }
            },
            _ = timer.wait() => {
                let now = svc.now();
                svc.node.handle_timeout(now);
                let next = svc.node.poll_timeout();
                stale = (next <= now).then(|| (next, Instant::now() + STALE_RETRY));
                svc.stale_deadlines += stale.is_some() as u64;
            },
            _ = &mut shutdown => {
                tracing::info!("shutting down");
                let now = svc.now();
                svc.node.shutdown(now);
                let events = svc.io.flush(&mut svc.node).await;
                svc.on_bus(events);
                if cfg!(unix) {
                    let _ = std::fs::remove_file(&socket_path);
                }
                return Ok(());
            }
        }
        svc.finish_turn().await;
        warmth.count(&svc.node.counters, Instant::now());
        // Chores ride on whatever woke the loop, after what that turn produced has left: a
        // packet that woke it does not wait for a status file or an interface scan.
        let now = Instant::now();
        if chores.any_due(now) {
            for c in chores.take_due(now) {
                svc.chore(c, &cfg, local).await;
            }
            svc.finish_turn().await;
        }
    }
}
