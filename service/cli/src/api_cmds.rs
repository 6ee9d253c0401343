//! Commands that talk to `hyphad` over the local API.

use std::path::PathBuf;

use std::io::{Read, Write};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hypha_ipc::api::{Event, Request, Response, SendRequest};
use hypha_ipc::client::Client;

/// Where to find the service.
#[derive(clap::Args, Clone)]
pub struct Conn {
    /// API socket (default: $HYPHA_SOCKET, /run/hypha/hypha.sock, then the user runtime dir).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
}

/// `hypha peers` subcommands.
#[derive(clap::Subcommand)]
pub enum PeersCmd {
    /// Add a peer (`udp://host:port`, `tcp://host:port`); kept across restarts.
    Add {
        /// Peer URI.
        uri: String,
    },
    /// Remove a configured peer.
    Remove {
        /// Peer URI as added.
        uri: String,
    },
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

async fn connect(c: &Conn) -> Result<Client> {
    let path = c.socket.clone().unwrap_or_else(hypha_ipc::paths::socket);
    Ok(Client::connect(&path, &format!("hypha-cli {}", env!("CARGO_PKG_VERSION"))).await?)
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `hypha recv`: takes the oldest unread message, prints it, and only then marks it read, so
/// a message is never lost to a crash or a broken pipe between the two (exit 2: none came).
pub fn recv(c: Conn, wait_ms: u64, topic: Option<String>) -> Result<()> {
    runtime()?.block_on(async {
        let mut client = connect(&c).await?;
        let resp = client
            .request(Request::Recv {
                wait_ms,
                topic,
                keep: true,
            })
            .await?;
        let m = match resp {
            Response::Message(Some(m)) => m,
            Response::Message(None) => {
                if c.json {
                    print_json(&serde_json::Value::Null)?;
                } else {
                    eprintln!("no message");
                }
                std::process::exit(2);
            }
            other => bail!("unexpected answer from hyphad: {other:?}"),
        };
        let mut out = std::io::stdout().lock();
        if c.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&m)?)?;
        } else {
            out.write_all(&B64.decode(m.payload.as_bytes()).context("payload")?)?;
        }
        out.flush()?;
        drop(out);
        client
            .request(Request::MarkRead {
                id: m.info.id.clone(),
            })
            .await?;
        Ok(())
    })
}

/// One request, printed.
pub fn run(c: Conn, request: Request) -> Result<()> {
    // `join` answers with the invite it joined, printed differently from `invite`'s.
    let joined = matches!(request, Request::Join { .. });
    runtime()?.block_on(async {
        let mut client = connect(&c).await?;
        let resp = client.request(request).await?;
        if c.json {
            return match resp {
                Response::Status(s) => print_json(&s),
                Response::Peers(p) => print_json(&p),
                Response::Routes(r) => print_json(&r),
                Response::Metrics(m) => print_json(&serde_json::json!({ "metrics": m })),
                Response::Done => print_json(&serde_json::json!({ "ok": true })),
                Response::Sent { id } => print_json(&serde_json::json!({ "id": id })),
                Response::Messages(m) => print_json(&m),
                Response::Message(None) => {
                    // Like the text form: "no message" is exit status 2, not success.
                    print_json(&serde_json::Value::Null)?;
                    std::process::exit(2);
                }
                Response::Message(m) => print_json(&m),
                Response::Sharing(s) => print_json(&s),
                Response::Facts(f) => print_json(&f),
                Response::Names(n) => print_json(&n),
                Response::Resolved(r) => print_json(&r),
                Response::Forwards(f) => print_json(&f),
                Response::Trace(t) => print_json(&t),
                Response::Firewall(f) => print_json(&f),
                Response::Invite(i) => print_json(&i),
            };
        }
        match resp {
            Response::Status(s) => {
                println!("node     {}", s.node_id);
                println!("address  {}", s.address);
                println!("subnet   {}", s.subnet);
                println!(
                    "tun      {}",
                    s.tun.as_deref().unwrap_or("none (relay only)")
                );
                println!("uptime   {} s", s.uptime_s);
                println!("links    {} up", s.links_up);
                println!("routes   {}", s.routes);
                if let Some(n) = &s.name {
                    println!("name     {n}.hypha");
                }
            }
            Response::Peers(p) => {
                if p.links.is_empty() {
                    println!("no links");
                }
                for l in &p.links {
                    println!(
                        "{:<12} {:<11} {:<28} cost {:<5} rtt {:>7} priority {:<4} rx {} tx {}",
                        l.node_id.as_deref().map(|n| &n[..12]).unwrap_or("?"),
                        l.state,
                        l.remote,
                        l.cost.map_or("-".into(), |c| c.to_string()),
                        l.rtt_ms.map_or("-".into(), |r| format!("{r:.2}ms")),
                        l.priority.map_or("-".into(), |p| p.to_string()),
                        l.rx_bytes,
                        l.tx_bytes
                    );
                }
                for u in &p.configured {
                    println!("configured {u}");
                }
            }
            Response::Routes(rs) => {
                if rs.is_empty() {
                    println!("no routes");
                }
                for r in rs {
                    println!(
                        "{:<26} via {:<12} metric {}",
                        r.subnet,
                        r.next_hop.as_deref().map(|n| &n[..12]).unwrap_or("?"),
                        r.metric
                    );
                }
            }
            Response::Metrics(m) => print!("{m}"),
            Response::Done => println!("ok"),
            Response::Sent { id } => println!("{id}"),
            Response::Messages(m) => {
                for o in &m.outbox {
                    println!(
                        "out {} to {} {:<9} {:>8} B topic {:?}",
                        o.id,
                        &o.to[..12],
                        o.status,
                        o.size,
                        o.topic
                    );
                }
                for i in &m.inbox {
                    let state = if i.read { "read" } else { "unread" };
                    println!(
                        "in  {} from {} {:<9} {:>8} B topic {:?}",
                        i.id,
                        &i.from[..12],
                        state,
                        i.size,
                        i.topic
                    );
                }
                if m.outbox.is_empty() && m.inbox.is_empty() {
                    println!("no messages");
                }
            }
            Response::Sharing(s) => {
                let mbit = |b: Option<u64>| {
                    b.map_or("unlimited".to_string(), |b| {
                        format!("{:.1} Mbit/s", b as f64 / 1e6)
                    })
                };
                let uplink = match (s.uplink_bps, s.uplink_measured_bps) {
                    (Some(u), _) => format!("{} (configured)", mbit(Some(u))),
                    (None, Some(m)) => format!("≈ {}, measured", mbit(Some(m))),
                    (None, None) => "not measured yet".into(),
                };
                println!(
                    "sharing {} % of uplink {uplink}: forwarding limit {}",
                    s.percent,
                    mbit(s.limit_bps)
                );
                for n in &s.neighbours {
                    println!(
                        "{} weight {:<4} forwarded {:>12} B  dropped {:>8}  now {:.1} Mbit/s",
                        &n.node_id[..12],
                        n.weight,
                        n.forwarded_bytes,
                        n.dropped_share,
                        n.rate_bps / 1e6
                    );
                }
            }
            Response::Facts(fs) => {
                if fs.is_empty() {
                    println!("no facts");
                }
                for f in fs {
                    let who = if f.subject == f.signer {
                        "self".to_string()
                    } else {
                        f.signer[..12].to_string()
                    };
                    println!("{} at {:<40} said by {}", &f.subject[..12], f.endpoint, who);
                }
            }
            Response::Message(None) => {
                eprintln!("no message");
                std::process::exit(2);
            }
            Response::Message(Some(m)) => {
                let bytes = B64.decode(m.payload.as_bytes()).context("payload")?;
                std::io::stdout().write_all(&bytes)?;
            }
            Response::Firewall(f) => crate::firewall_cmds::print(&f),
            Response::Invite(i) => crate::invite_cmds::print_invite(&i, joined),
            r @ (Response::Names(_)
            | Response::Resolved(_)
            | Response::Forwards(_)
            | Response::Trace(_)) => crate::reach_cmds::print(r),
        }
        Ok(())
    })
}

/// Follows events until interrupted (or `count` events).
pub fn events(c: Conn, count: Option<usize>, stats: bool) -> Result<()> {
    runtime()?.block_on(async {
        let mut client = connect(&c).await?;
        if client.request(Request::Subscribe).await? != Response::Done {
            bail!("unexpected answer to subscribe");
        }
        let mut seen = 0;
        while count.is_none_or(|n| seen < n) {
            let e: Event = client.next_event().await?;
            if !stats && matches!(e, Event::Stats { .. }) {
                continue;
            }
            if c.json {
                println!("{}", serde_json::to_string(&e)?);
            } else {
                println!("{e:?}");
            }
            seen += 1;
        }
        Ok(())
    })
}

/// What `hypha send` takes.
#[derive(clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    conn: Conn,
    /// Destination: node id (hex) or overlay address.
    to: String,
    /// The message text; without it (and without --file) the message is read from stdin.
    message: Option<String>,
    /// Send this file's contents.
    #[arg(long, conflicts_with = "message")]
    file: Option<PathBuf>,
    /// Topic.
    #[arg(long, default_value = "")]
    topic: String,
    /// Give up after this many seconds.
    #[arg(long)]
    deadline: Option<u64>,
    /// The message id this one answers.
    #[arg(long)]
    reply_to: Option<String>,
    /// This message's id (32 hex digits), so that running the same command again after a
    /// crash sends it once.
    #[arg(long)]
    id: Option<String>,
}

/// `hypha send`.
pub fn send(a: SendArgs) -> Result<()> {
    let payload = match (&a.message, &a.file) {
        (Some(m), _) => m.clone().into_bytes(),
        (None, Some(f)) => std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
        (None, None) => {
            let mut v = Vec::new();
            std::io::stdin().read_to_end(&mut v)?;
            v
        }
    };
    run(
        a.conn,
        Request::Send(SendRequest {
            to: a.to,
            topic: a.topic,
            payload: B64.encode(payload),
            deadline_s: a.deadline,
            reply_to: a.reply_to,
            id: a.id,
        }),
    )
}
