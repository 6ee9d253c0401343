//! The service loop: one task owns the sans-IO node and moves bytes between it and the
//! sockets, the TUN device and the timers.

use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV6};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use hypha_ipc::{keyfile, paths};
use hypha_proto::discovery::{Discovery, DiscoveryAction};
use hypha_proto::identity::NodeId;
use hypha_proto::link::handshake::NetworkKey;
use hypha_proto::node::{Event, Node, NodeConfig, Remote};
use hypha_proto::time::Timestamp;
use hypha_tun::{OsTun, Tun, TunConfig};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval};

use crate::config::{Config, Endpoint, Transport};
use crate::mcast::Mcast;
use crate::tcp::{Hub, TcpEvent};
use crate::{status, udp};

/// Most extra packets taken from a socket or the TUN per wake-up (bounded so one busy source
/// cannot starve timers and the others).
const BURST: usize = 64;

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

/// Everything the loop owns besides the node.
struct Io {
    udp: UdpSocket,
    udp_v6: bool,
    tun: Option<OsTun>,
    writers: HashMap<u64, mpsc::Sender<Vec<u8>>>,
}

impl Io {
    /// Sends and delivers everything the node has queued.
    async fn flush(&mut self, node: &mut Node) {
        while let Some(t) = node.poll_transmit() {
            match t.remote {
                Remote::Udp(a) => {
                    let a = udp::for_socket(self.udp_v6, a);
                    match self.udp.try_send_to(&t.payload, a) {
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            let _ = self.udp.send_to(&t.payload, a).await;
                        }
                        Err(e) => tracing::trace!("udp send to {a}: {e}"),
                    }
                }
                Remote::Stream(id) => {
                    if let Some(w) = self.writers.get(&id) {
                        // A full connection queue drops, as a congested UDP path would.
                        let _ = w.try_send(t.payload);
                    }
                }
            }
        }
        while let Some(p) = node.poll_tun() {
            if let Some(tun) = &self.tun
                && let Err(e) = tun.send(&p).await
            {
                tracing::debug!("tun write: {e}");
            }
        }
        while let Some(ev) = node.poll_event() {
            match ev {
                Event::LinkUp {
                    node: n, remote, ..
                } => {
                    tracing::info!("link up: {} via {remote}", short(&n));
                }
                Event::LinkDown {
                    node: n, reason, ..
                } => {
                    tracing::info!("link down: {} ({reason})", short(&n));
                }
                Event::Route(rc) => {
                    tracing::debug!(
                        "route {} next hop {:?} metric {}",
                        rc.subnet,
                        rc.next_hop,
                        rc.metric
                    );
                }
                Event::Payload { from, kind, .. } => {
                    tracing::debug!("payload {kind:?} from {}", short(&from));
                }
            }
        }
    }
}

fn short(n: &NodeId) -> String {
    n.to_hex()[..12].to_string()
}

async fn tun_recv(tun: Option<&OsTun>, buf: &mut [u8]) -> std::io::Result<usize> {
    match tun {
        Some(t) => t.recv(buf).await,
        None => std::future::pending().await,
    }
}

async fn disc_recv(m: Option<&Mcast>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match m {
        Some(m) => m.sock.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn shutdown_signal() {
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

/// Runs the service until SIGINT/SIGTERM.
pub async fn run(cfg: Config) -> Result<()> {
    let key_path = cfg.key_file.clone().unwrap_or_else(paths::key_file);
    let (identity, created) = keyfile::load_or_create(&key_path)?;
    if created {
        tracing::info!("created a new identity key in {}", key_path.display());
    }
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
    let clock = move || Timestamp::from_micros(start.elapsed().as_micros() as u64);
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let node_cfg = NodeConfig {
        network: network.clone(),
        allow,
        epoch: wall_micros(),
        ..NodeConfig::default()
    };
    let mut node = Node::new(identity, node_cfg, clock(), seed);
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
        None => udp::bind("[::]:0".parse().expect("literal"))?,
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
        tracing::info!("tun {} up, mtu {}", t.name(), cfg.mtu);
        Some(t)
    } else {
        tracing::info!("running without TUN: relaying only");
        None
    };
    let tun_name = tun.as_ref().map(|t| t.name());

    // UDP peers by name are resolved in the background until they resolve.
    let (peer_tx, mut peer_rx) = mpsc::channel::<SocketAddr>(64);
    for p in &cfg.peers {
        let ep = Endpoint::parse(p)?;
        match ep.transport {
            Transport::Tcp => hub.dial_forever(ep),
            Transport::Udp => {
                let tx = peer_tx.clone();
                tokio::spawn(async move {
                    let mut wait = Duration::from_secs(1);
                    loop {
                        match ep.resolve().await {
                            Ok(addrs) => {
                                let _ = tx.send(udp::normalize(addrs[0])).await;
                                return;
                            }
                            Err(e) => tracing::warn!("peer udp://{}:{}: {e:#}", ep.host, ep.port),
                        }
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(60));
                    }
                });
            }
        }
    }

    let mut mcast = if cfg.multicast {
        let m = Mcast::open(cfg.discovery_port, tun_name.clone())?;
        let d = Discovery::new(local.port(), network.tag, wall_micros());
        Some((m, d))
    } else {
        None
    };

    let mut io = Io {
        udp_v6: local.is_ipv6(),
        udp: udp_sock,
        tun,
        writers: HashMap::new(),
    };
    let mut hello_tick = interval(Duration::from_secs(1));
    let mut rescan_tick = interval(Duration::from_secs(2));
    let mut status_tick = interval(Duration::from_millis(500));
    for t in [&mut hello_tick, &mut rescan_tick, &mut status_tick] {
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    }
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut ubuf = vec![0u8; 65536];
    let mut tbuf = vec![0u8; 65536];
    let mut dbuf = vec![0u8; 2048];
    // One timer, moved rather than re-created each turn of the loop.
    let timer = tokio::time::sleep_until(start);
    tokio::pin!(timer);
    loop {
        let deadline = start + Duration::from_micros(node.poll_timeout().as_micros());
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        tokio::select! {
            r = io.udp.recv_from(&mut ubuf) => match r {
                Ok((n, from)) => {
                    node.handle_datagram(clock(), Remote::Udp(udp::normalize(from)), &mut ubuf[..n]);
                    // Drain what else is already queued before returning to the loop.
                    for _ in 0..BURST {
                        match io.udp.try_recv_from(&mut ubuf) {
                            Ok((n, from)) => node.handle_datagram(
                                clock(), Remote::Udp(udp::normalize(from)), &mut ubuf[..n]),
                            Err(_) => break,
                        }
                    }
                }
                // ICMP port unreachable from a peer that is down: nothing to do.
                Err(e) => tracing::trace!("udp recv: {e}"),
            },
            r = tun_recv(io.tun.as_ref(), &mut tbuf) => match r {
                Ok(n) => {
                    node.handle_tun(clock(), &tbuf[..n]);
                    if let Some(tun) = &io.tun {
                        for _ in 0..BURST {
                            match tun.try_recv(&mut tbuf) {
                                Ok(n) => node.handle_tun(clock(), &tbuf[..n]),
                                Err(_) => break,
                            }
                        }
                    }
                }
                Err(e) => bail!("tun read: {e}"),
            },
            r = disc_recv(mcast.as_ref().map(|(m, _)| m), &mut dbuf) => {
                if let (Ok((n, from)), Some((m, d))) = (r, mcast.as_mut()) {
                    let links = node.links();
                    let actions = d.handle(node.identity(), &dbuf[..n], wall_micros(), |id| {
                        links.iter().any(|l| l.node == Some(*id))
                    });
                    for a in actions {
                        match a {
                            DiscoveryAction::Reply(bytes) => {
                                let _ = m.sock.send_to(&bytes, from).await;
                            }
                            DiscoveryAction::Connect { port, .. } => {
                                let to = match from {
                                    SocketAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(
                                        *v6.ip(), port, 0, v6.scope_id())),
                                    SocketAddr::V4(v4) => SocketAddr::new((*v4.ip()).into(), port),
                                };
                                let remote = Remote::Udp(udp::normalize(to));
                                if !links.iter().any(|l| l.remote == remote) {
                                    node.connect(clock(), remote);
                                }
                            }
                        }
                    }
                }
            },
            Some(ev) = tcp_rx.recv() => match ev {
                TcpEvent::Connected { id, writer, dialled, peer } => {
                    tracing::debug!("tcp connection {id} with {peer}");
                    io.writers.insert(id, writer);
                    if dialled {
                        node.connect(clock(), Remote::Stream(id));
                    }
                }
                TcpEvent::Frame { id, mut data } => {
                    node.handle_datagram(clock(), Remote::Stream(id), &mut data);
                }
                TcpEvent::Closed { id } => {
                    io.writers.remove(&id);
                    node.remote_closed(clock(), Remote::Stream(id));
                }
            },
            Some(addr) = peer_rx.recv() => node.add_peer(clock(), Remote::Udp(addr)),
            _ = &mut timer => node.handle_timeout(clock()),
            _ = hello_tick.tick(), if mcast.is_some() => {
                if let Some((m, d)) = mcast.as_mut() {
                    let hello = d.hello(node.identity(), wall_micros());
                    m.send_all(&hello).await;
                }
            },
            _ = rescan_tick.tick(), if mcast.is_some() => {
                if let Some((m, _)) = mcast.as_mut() {
                    m.rescan();
                }
            },
            _ = status_tick.tick(), if cfg.status_file.is_some() => {
                if let Some(path) = &cfg.status_file {
                    let snap = status::snapshot(&node, mcast.as_ref().map(|(_, d)| &d.counters), tun_name.as_deref());
                    if let Err(e) = status::write(path, &snap) {
                        tracing::warn!("status file {}: {e}", path.display());
                    }
                }
            },
            _ = &mut shutdown => {
                tracing::info!("shutting down");
                node.shutdown(clock());
                io.flush(&mut node).await;
                return Ok(());
            }
        }
        io.flush(&mut node).await;
    }
}
