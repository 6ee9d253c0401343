//! `hypha firewall`: who may open connections to this host over the mesh.

use hypha_ipc::api::{Firewall, FirewallChange, FirewallRule, Request};

/// `hypha firewall` subcommands. Nodes are a name, node id or overlay address.
#[derive(clap::Subcommand)]
pub enum FirewallCmd {
    /// Who may open connections to this host: contacts (default), everyone or nobody.
    /// Answers to this host's own connections and ping always pass.
    Incoming {
        /// contacts, everyone or nobody.
        mode: String,
    },
    /// Let NODE (or `any` node) reach PORT (every port if none given).
    Allow(RuleArgs),
    /// Remove an opening, given as it was allowed.
    Remove(RuleArgs),
    /// Trust NODE (everything from it passes), or stop trusting it with --remove.
    Contact {
        /// The node.
        node: String,
        /// Stop trusting it.
        #[arg(long)]
        remove: bool,
    },
}

/// An opening, as `allow` and `remove` take it.
#[derive(clap::Args)]
pub struct RuleArgs {
    /// The node, or `any`.
    node: String,
    /// The local port.
    port: Option<u16>,
    /// TCP only.
    #[arg(long, conflicts_with = "udp")]
    tcp: bool,
    /// UDP only.
    #[arg(long)]
    udp: bool,
}

impl From<RuleArgs> for FirewallRule {
    fn from(a: RuleArgs) -> Self {
        FirewallRule {
            node: Some(a.node),
            name: None,
            port: a.port,
            proto: match (a.tcp, a.udp) {
                (true, _) => Some("tcp".into()),
                (_, true) => Some("udp".into()),
                _ => None,
            },
        }
    }
}

/// The request for `hypha firewall [...]`.
pub fn request(cmd: Option<FirewallCmd>) -> Request {
    let change = cmd.map(|c| match c {
        FirewallCmd::Incoming { mode } => FirewallChange::Incoming { mode },
        FirewallCmd::Allow(r) => FirewallChange::Allow(r.into()),
        FirewallCmd::Remove(r) => FirewallChange::Remove(r.into()),
        FirewallCmd::Contact {
            node,
            remove: false,
        } => FirewallChange::AddContact { node },
        FirewallCmd::Contact { node, remove: true } => FirewallChange::RemoveContact { node },
    });
    Request::Firewall { change }
}

/// A node for people: its name if it holds one, and the short id.
pub fn who(id: &str, name: &Option<String>) -> String {
    match name {
        Some(n) => format!("{n}.hypha ({})", &id[..12.min(id.len())]),
        None => id[..12.min(id.len())].to_string(),
    }
}

/// Prints the firewall for people.
pub fn print(f: &Firewall) {
    let note = match f.incoming.as_str() {
        "everyone" => "every mesh node may connect",
        "nobody" => "only answers to this host's connections, and ping",
        _ => "contacts, the openings below and exposed ports; answers and ping always pass",
    };
    println!("incoming  {} ({note})", f.incoming);
    for c in &f.contacts {
        println!("contact   {}", who(&c.node_id, &c.name));
    }
    for r in &f.rules {
        let node = r
            .node
            .as_deref()
            .map_or_else(|| "any node".to_string(), |n| who(n, &r.name));
        let port = r
            .port
            .map_or_else(|| "every port".into(), |p| format!("port {p}"));
        let proto = r.proto.as_deref().unwrap_or("tcp+udp");
        println!("allow     {node}, {port}, {proto}");
    }
    for p in &f.exposed {
        println!("exposed   tcp port {p}, any node");
    }
    println!(
        "dropped   {} tcp, {} udp, {} other; {} flows of this host's own tracked",
        f.dropped_tcp, f.dropped_udp, f.dropped_other, f.flows
    );
}
