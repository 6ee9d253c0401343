//! `hyphad`: the Hypha service.

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

use hypha_daemon::config::Config;
use hypha_daemon::service;
#[cfg(windows)]
use hypha_daemon::winsvc;

/// The Hypha overlay mesh service.
#[derive(Parser, Debug)]
#[command(name = "hyphad", version, about)]
struct Flags {
    /// Configuration file (default: the per-OS path; an embedded default if it does not exist).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Peers to link to (`udp://host:port`, `tcp://host:port`, `[v6]:port`); repeatable or
    /// comma-separated. Added to the configured peers.
    #[arg(long, value_delimiter = ',')]
    peers: Vec<String>,
    /// Listen endpoints; replace the configured ones.
    #[arg(long, value_delimiter = ',')]
    listen: Vec<String>,
    /// TUN interface name.
    #[arg(long)]
    tun_name: Option<String>,
    /// Run without a TUN device (no root needed; still relays for others).
    #[arg(long)]
    no_tun: bool,
    /// TUN MTU.
    #[arg(long)]
    mtu: Option<u16>,
    /// Threads sealing outgoing packets besides the main loop, and as many opening received
    /// link frames (0: none).
    #[arg(long)]
    seal_threads: Option<usize>,
    /// Identity key file.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Private network name (with --psk-file).
    #[arg(long)]
    network: Option<String>,
    /// File holding the private network's secret.
    #[arg(long)]
    psk_file: Option<PathBuf>,
    /// Only link with these node ids (hex); repeatable or comma-separated.
    #[arg(long, value_delimiter = ',')]
    allow: Vec<String>,
    /// Do not discover neighbours by LAN multicast.
    #[arg(long)]
    no_multicast: bool,
    /// UDP port of LAN discovery.
    #[arg(long)]
    discovery_port: Option<u16>,
    /// Write a JSON status snapshot to this file every half second.
    #[arg(long)]
    status_file: Option<PathBuf>,
    /// Local API socket path.
    #[arg(long)]
    ipc_socket: Option<PathBuf>,
    /// Uplink capacity, e.g. 100mbit.
    #[arg(long)]
    uplink: Option<String>,
    /// Share of the uplink forwarded for others, 0-100 %.
    #[arg(long)]
    share: Option<u8>,
    /// Do not gossip endpoint facts nor upgrade relayed traffic to direct links.
    #[arg(long)]
    no_direct_paths: bool,
    /// SOCKS5 proxy address (`off` to disable).
    #[arg(long)]
    socks: Option<String>,
    /// DNS responder address for `.hypha` (`off` to disable).
    #[arg(long)]
    dns: Option<String>,
    /// Who may open connections to this host over the mesh: contacts, everyone or nobody.
    #[arg(long)]
    incoming: Option<String>,
    /// HTTP API on this loopback address, e.g. 127.0.0.1:8990 (`off` to disable).
    #[arg(long)]
    api_http: Option<String>,
    /// File holding the HTTP API's bearer token (default: `api-token` in the state directory).
    #[arg(long)]
    api_token_file: Option<std::path::PathBuf>,
    /// Testing only: also gossip forged claims on this name (one with a broken signature,
    /// one for another node's id), so tests can check that receivers refuse them.
    #[arg(long, hide = true)]
    debug_forge_name: Option<String>,
    /// Testing only: act as a hostile node against this node id (forged announcements of its
    /// /64, seqno-request floods, its packets dropped), so tests can check the mesh holds.
    #[arg(long, hide = true)]
    debug_hostile_routes: Option<String>,
    /// Accept bus messages only on these topics; repeatable or comma-separated.
    #[arg(long, value_delimiter = ',')]
    bus_topics: Vec<String>,
    /// Print the HTTP API's OpenAPI document and exit.
    #[arg(long)]
    print_openapi: bool,
}

fn apply(mut c: Config, f: Flags) -> Result<Config> {
    c.peers.extend(f.peers);
    if !f.listen.is_empty() {
        c.listen = f.listen;
    }
    if let Some(n) = f.tun_name {
        c.tun_name = n;
    }
    if f.no_tun {
        c.tun = false;
    }
    if let Some(m) = f.mtu {
        c.mtu = m;
    }
    if f.seal_threads.is_some() {
        c.seal_threads = f.seal_threads;
    }
    if f.key_file.is_some() {
        c.key_file = f.key_file;
    }
    if f.network.is_some() {
        c.network = f.network;
    }
    if f.psk_file.is_some() {
        c.psk_file = f.psk_file;
    }
    c.allow.extend(f.allow);
    if f.no_multicast {
        c.multicast = false;
    }
    if let Some(p) = f.discovery_port {
        c.discovery_port = p;
    }
    if f.status_file.is_some() {
        c.status_file = f.status_file;
    }
    if f.ipc_socket.is_some() {
        c.ipc_socket = f.ipc_socket;
    }
    c.bus_topics.extend(f.bus_topics);
    if f.uplink.is_some() {
        c.uplink = f.uplink;
    }
    if let Some(s) = f.share {
        c.share = s;
    }
    if f.no_direct_paths {
        c.direct_paths = false;
    }
    if let Some(s) = f.socks {
        c.socks = s;
    }
    if let Some(d) = f.dns {
        c.dns = d;
    }
    if let Some(i) = f.incoming {
        c.incoming = i;
    }
    if let Some(a) = f.api_http {
        c.api_http = a;
    }
    if let Some(t) = f.api_token_file {
        c.api_token_file = Some(t);
    }
    c.debug_forge_name = f.debug_forge_name;
    c.debug_hostile_routes = f
        .debug_hostile_routes
        .map(|h| hypha_proto::identity::NodeId::from_hex(&h))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--debug-hostile-routes: {e}"))?;
    c.validate()?;
    Ok(c)
}

/// glibc gives freed memory back to the kernel once 128 KiB lie free at the top of the heap;
/// a data plane that frees a batch of packet buffers and allocates the next at once then pays
/// page faults for every batch. Keep up to 64 MiB instead.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_freed_heap() {
    // SAFETY: mallopt only sets a tunable; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn main() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    keep_freed_heap();
    #[cfg(windows)]
    if std::env::args().nth(1).as_deref() == Some("service") {
        let cmd = std::env::args().nth(2).unwrap_or_default();
        // Under the service manager there is no console: log to a file in ProgramData.
        let log = hypha_ipc::paths::state_dir().join("hyphad.log");
        let _ = std::fs::create_dir_all(hypha_ipc::paths::state_dir());
        if let Ok(f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
        {
            tracing_subscriber::fmt()
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .init();
        }
        if let Err(e) = winsvc::main(&cmd) {
            eprintln!("hyphad: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HYPHA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let flags = Flags::parse();
    if flags.print_openapi {
        println!("{}", hypha_daemon::http::openapi());
        return;
    }
    let path = flags
        .config
        .clone()
        .unwrap_or_else(hypha_ipc::paths::config_file);
    let result = Config::load(&path).and_then(|(c, from_file)| {
        if from_file {
            tracing::info!("config {}", path.display());
        } else {
            tracing::info!("no {}: using the embedded default config", path.display());
        }
        apply(c, flags)
    });
    let result = result.and_then(|cfg| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(service::run(cfg))
    });
    if let Err(e) = result {
        eprintln!("hyphad: {e:#}");
        std::process::exit(1);
    }
}
