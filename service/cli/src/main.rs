//! `hypha`: the command-line tool.

mod api_cmds;
mod firewall_cmds;
mod inspect;
mod invite_cmds;
mod reach_cmds;
mod sim;

use clap::{Parser, Subcommand};
use hypha_ipc::api::Request;

/// Hypha overlay mesh.
#[derive(Parser)]
#[command(name = "hypha", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show a node id's overlay address and /64 (no daemon needed).
    Inspect(inspect::Args),
    /// Run the deterministic many-node simulator.
    Sim(sim::Args),
    /// The node's identity, uptime and counters.
    Status(api_cmds::Conn),
    /// Links and configured peers; `add`/`remove` change them.
    Peers {
        #[command(flatten)]
        conn: api_cmds::Conn,
        #[command(subcommand)]
        cmd: Option<api_cmds::PeersCmd>,
    },
    /// Selected routes.
    Routes(api_cmds::Conn),
    /// Prometheus metrics.
    Metrics(api_cmds::Conn),
    /// Send a message (reliable, end-to-end encrypted); prints its id.
    Send(api_cmds::SendArgs),
    /// Take the oldest unread message (exit code 2 if none arrived in time).
    Recv {
        #[command(flatten)]
        conn: api_cmds::Conn,
        /// Wait up to this many seconds for one to arrive.
        #[arg(long, default_value_t = 0)]
        wait: u64,
        /// Only this topic.
        #[arg(long)]
        topic: Option<String>,
    },
    /// Show or set the share of the uplink forwarded for others (applies live, persists).
    Share {
        #[command(flatten)]
        conn: api_cmds::Conn,
        /// Percent, 0-100 (0: forward nothing; others route around this node).
        percent: Option<u8>,
        /// Uplink capacity, e.g. 100mbit.
        #[arg(long)]
        uplink: Option<String>,
    },
    /// Set a neighbour's forwarding priority weight (1 = normal).
    Priority {
        #[command(flatten)]
        conn: api_cmds::Conn,
        /// The neighbour's node id.
        peer: String,
        /// Weight, 1-1000.
        weight: u32,
    },
    /// Endpoint facts this node holds (who can be reached where, and who says so).
    Facts(api_cmds::Conn),
    /// The outbox (with delivery status) and the inbox.
    Messages(api_cmds::Conn),
    /// This node's name and every name known (`set NAME` claims one, `clear` drops it).
    Name {
        #[command(flatten)]
        conn: api_cmds::Conn,
        #[command(subcommand)]
        cmd: Option<reach_cmds::NameCmd>,
    },
    /// Resolve NAME, NAME.hypha, a node id or an overlay address (no DNS needed).
    Resolve {
        #[command(flatten)]
        conn: api_cmds::Conn,
        /// What to resolve.
        name: String,
    },
    /// Port forwards: `add 127.0.0.1:8080 NODE:80`, `remove 127.0.0.1:8080`; none lists them.
    Forward {
        #[command(flatten)]
        conn: api_cmds::Conn,
        #[command(subcommand)]
        cmd: Option<reach_cmds::ForwardCmd>,
    },
    /// Make a local TCP service reachable from the mesh on overlay PORT (kept across restarts).
    Expose {
        #[command(flatten)]
        conn: api_cmds::Conn,
        /// Overlay port.
        port: u16,
        /// Where the service listens (default 127.0.0.1:PORT).
        #[arg(long)]
        to: Option<String>,
        /// Stop exposing the port instead.
        #[arg(long)]
        remove: bool,
    },
    /// The inbound firewall: who may open connections to this host over the mesh.
    Firewall {
        #[command(flatten)]
        conn: api_cmds::Conn,
        #[command(subcommand)]
        cmd: Option<firewall_cmds::FirewallCmd>,
    },
    /// Print a link another node can join this one with (node id and current endpoints).
    Invite {
        #[command(flatten)]
        conn: api_cmds::Conn,
        /// Refuse it after this long, e.g. 30m, 12h, 7d.
        #[arg(long, value_parser = invite_cmds::parse_duration)]
        expires: Option<u64>,
    },
    /// Link to the node of an invite link (from `hypha invite`).
    Join {
        #[command(flatten)]
        conn: api_cmds::Conn,
        /// The link, hypha://join/...
        link: String,
        /// Also trust the node (the firewall lets it in).
        #[arg(long)]
        contact: bool,
    },
    /// The hops to a node, with round-trip times.
    Trace {
        #[command(flatten)]
        conn: api_cmds::Conn,
        /// Name, node id or overlay address.
        target: String,
        /// Most hops to try.
        #[arg(long)]
        max_hops: Option<u8>,
    },
    /// Follow events (links, routes, messages) as they happen.
    Events {
        #[command(flatten)]
        conn: api_cmds::Conn,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
        /// Also show the once-a-second traffic figures.
        #[arg(long)]
        stats: bool,
    },
}

/// `hypha sim` runs its nodes on every core, and a datagram is freed by the node that receives
/// it, usually on another thread than the one that allocated it. glibc's malloc serialises
/// such frees on the allocating thread's arena: 1000 nodes took 10.4–11.7 s with it, 8.0–9.8 s
/// with mimalloc, whose cross-thread frees take no lock (same day, alternating runs).
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Inspect(a) => inspect::run(a),
        Cmd::Sim(a) => sim::run(a),
        Cmd::Status(c) => api_cmds::run(c, Request::Status),
        Cmd::Peers { conn, cmd } => api_cmds::run(
            conn,
            match cmd {
                None => Request::Peers,
                Some(api_cmds::PeersCmd::Add { uri }) => Request::AddPeer { uri },
                Some(api_cmds::PeersCmd::Remove { uri }) => Request::RemovePeer { uri },
            },
        ),
        Cmd::Routes(c) => api_cmds::run(c, Request::Routes),
        Cmd::Metrics(c) => api_cmds::run(c, Request::Metrics),
        Cmd::Events { conn, count, stats } => api_cmds::events(conn, count, stats),
        Cmd::Send(a) => api_cmds::send(a),
        Cmd::Recv { conn, wait, topic } => api_cmds::recv(conn, wait * 1000, topic),
        Cmd::Messages(c) => api_cmds::run(c, Request::Messages),
        Cmd::Facts(c) => api_cmds::run(c, Request::Facts),
        Cmd::Share {
            conn,
            percent,
            uplink,
        } => api_cmds::run(conn, Request::Share { percent, uplink }),
        Cmd::Priority { conn, peer, weight } => {
            api_cmds::run(conn, Request::Priority { peer, weight })
        }
        Cmd::Name { conn, cmd } => reach_cmds::run(conn, reach_cmds::name_request(cmd)),
        Cmd::Resolve { conn, name } => reach_cmds::run(conn, Request::Resolve { name }),
        Cmd::Forward { conn, cmd } => reach_cmds::run(conn, reach_cmds::forward_request(cmd)),
        Cmd::Expose {
            conn,
            port,
            to,
            remove,
        } => reach_cmds::run(
            conn,
            if remove {
                Request::Unexpose { port }
            } else {
                Request::Expose { port, to }
            },
        ),
        Cmd::Invite { conn, expires } => {
            api_cmds::run(conn, Request::Invite { expires_s: expires })
        }
        Cmd::Join {
            conn,
            link,
            contact,
        } => api_cmds::run(conn, Request::Join { link, contact }),
        Cmd::Firewall { conn, cmd } => api_cmds::run(conn, firewall_cmds::request(cmd)),
        Cmd::Trace {
            conn,
            target,
            max_hops,
        } => reach_cmds::run(conn, Request::Trace { target, max_hops }),
    };
    if let Err(e) = result {
        eprintln!("hypha: {e:#}");
        std::process::exit(1);
    }
}
