//! `hypha name`, `names`, `resolve`, `forward`, `expose`, `forwards` and `trace`: reaching
//! services on mesh nodes.

use hypha_ipc::api::{Request, Response};

use crate::api_cmds::Conn;

/// `hypha name` subcommands.
#[derive(clap::Subcommand)]
pub enum NameCmd {
    /// Claim a name: this node becomes reachable as NAME.hypha (kept across restarts).
    Set {
        /// Lowercase letters, digits and inner '-', up to 48.
        name: String,
    },
    /// Drop the claim (others stop resolving it within five minutes).
    Clear,
}

/// `hypha forward` subcommands.
#[derive(clap::Subcommand)]
pub enum ForwardCmd {
    /// Listen on LISTEN and carry each connection to NODE:PORT in the mesh.
    Add {
        /// Local address, e.g. 127.0.0.1:8080.
        listen: String,
        /// NODE:PORT — a name (alice or alice.hypha), node id or [overlay address].
        target: String,
    },
    /// Stop a forward.
    Remove {
        /// Its local address.
        listen: String,
    },
}

/// The request for `hypha name [set|clear]`.
pub fn name_request(cmd: Option<NameCmd>) -> Request {
    match cmd {
        None => Request::Names,
        Some(NameCmd::Set { name }) => Request::SetName { name: Some(name) },
        Some(NameCmd::Clear) => Request::SetName { name: None },
    }
}

/// The request for `hypha forward [add|remove]`.
pub fn forward_request(cmd: Option<ForwardCmd>) -> Request {
    match cmd {
        None => Request::Forwards,
        Some(ForwardCmd::Add { listen, target }) => Request::AddForward { listen, target },
        Some(ForwardCmd::Remove { listen }) => Request::RemoveForward { listen },
    }
}

/// A forward's or exposed port's state, for people.
fn state(error: &Option<String>, active: bool) -> String {
    match (error, active) {
        (Some(e), _) => format!("failed: {e}"),
        (None, true) => "listening".into(),
        (None, false) => "stopped".into(),
    }
}

/// Prints a reaching answer for people.
pub fn print(r: Response) {
    match r {
        Response::Names(names) => {
            if names.is_empty() {
                println!("no names known");
            }
            for n in names {
                println!(
                    "{:<24} {:<40} {}",
                    format!("{}.hypha", n.name),
                    n.address,
                    &n.node_id[..12]
                );
                for c in n.contenders {
                    println!("  also claimed by {} (later claim: loses)", &c[..12]);
                }
            }
        }
        Response::Resolved(r) => {
            println!("{}", r.address);
            eprintln!(
                "node {}{}{}",
                r.node_id,
                r.name.map(|n| format!(" ({n}.hypha)")).unwrap_or_default(),
                if r.reachable { "" } else { ", no route now" }
            );
        }
        Response::Forwards(f) => {
            if f.forwards.is_empty() && f.exposed.is_empty() {
                println!("no forwards, nothing exposed");
            }
            for x in f.forwards {
                let state = state(&x.error, x.active);
                println!(
                    "forward {:<22} → {:<30} {} connections, {state}",
                    x.listen, x.target, x.connections
                );
            }
            for x in f.exposed {
                let state = state(&x.error, x.active);
                println!(
                    "expose  overlay port {:<8} → {:<22} {} connections, {state}",
                    x.port, x.to, x.connections
                );
            }
        }
        Response::Trace(t) => {
            for h in &t.hops {
                match (&h.node_id, h.rtt_ms) {
                    (Some(n), Some(rtt)) => println!(
                        "{:>2}  {}  {:<20} {rtt:.2} ms",
                        h.ttl,
                        &n[..12],
                        h.name
                            .as_deref()
                            .map(|n| format!("{n}.hypha"))
                            .unwrap_or_default()
                    ),
                    _ => println!("{:>2}  *", h.ttl),
                }
            }
            if !t.reached {
                println!("{} not reached", &t.node_id[..12]);
            }
        }
        other => println!("{other:?}"),
    }
}

/// Runs one of these commands.
pub fn run(c: Conn, request: Request) -> anyhow::Result<()> {
    crate::api_cmds::run(c, request)
}
