//! Port forwards (a local listener carried to a port on a mesh node) and exposed ports (an
//! overlay port carried to a local service). Both run as tasks beside the service loop and
//! survive restarts through the settings file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use hypha_ipc::api;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::reach::{Reach, split_target};

/// How a forward's listen address is keyed (and persisted): the parsed address in canonical
/// form, so `127.0.0.1:08080` and `127.0.0.1:8080` are one forward.
pub fn listen_key(listen: &str) -> String {
    listen
        .trim()
        .parse::<SocketAddr>()
        .map_or_else(|_| listen.trim().to_string(), |a| a.to_string())
}

/// A running forward or exposed port.
struct Entry {
    target: String,
    task: JoinHandle<()>,
    stats: Arc<Stats>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        // Stops accepting; connections already carried finish on their own.
        self.task.abort();
    }
}

#[derive(Default)]
struct Stats {
    connections: AtomicU64,
    failed: AtomicU64,
    /// Why it is not listening (none: listening or about to).
    error: Mutex<Option<String>>,
}

impl Stats {
    fn fail(&self, why: String) {
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
    fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Every forward and exposed port.
pub struct Forwarding {
    reach: Reach,
    forwards: BTreeMap<String, Entry>,
    exposed: BTreeMap<u16, Entry>,
}

impl Forwarding {
    /// Nothing forwarded yet.
    pub fn new(reach: Reach) -> Self {
        Forwarding {
            reach,
            forwards: BTreeMap::new(),
            exposed: BTreeMap::new(),
        }
    }

    /// Listens on `listen` and carries each connection to `target` (`NODE:PORT`). Binding
    /// happens now, so a taken address is an error the caller sees.
    pub fn add_forward(&mut self, listen: &str, target: &str) -> Result<String, String> {
        let addr: SocketAddr = listen
            .trim()
            .parse()
            .map_err(|_| format!("{listen:?}: expected a local address like 127.0.0.1:8080"))?;
        let (host, port) = split_target(target)?;
        let key = addr.to_string();
        // Replacing a forward on the same address: free the port before binding it again.
        self.forwards.remove(&key);
        let std = std::net::TcpListener::bind(addr).map_err(|e| format!("{addr}: {e}"))?;
        std.set_nonblocking(true).map_err(|e| e.to_string())?;
        let listener = TcpListener::from_std(std).map_err(|e| e.to_string())?;
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(forward_task(
            listener,
            self.reach.clone(),
            host,
            port,
            stats.clone(),
        ));
        self.forwards.insert(
            key.clone(),
            Entry {
                target: target.trim().to_string(),
                task,
                stats,
            },
        );
        Ok(key)
    }

    /// Stops a forward; false if there was none.
    pub fn remove_forward(&mut self, listen: &str) -> bool {
        self.forwards.remove(&listen_key(listen)).is_some()
    }

    /// Accepts overlay connections on `port` and carries them to `to` (a local address).
    pub fn expose(&mut self, port: u16, to: &str) -> Result<(), String> {
        if port == 0 {
            return Err("port 0 cannot be exposed".into());
        }
        let to: SocketAddr = to
            .trim()
            .parse()
            .map_err(|_| format!("{to:?}: expected a local address like 127.0.0.1:8000"))?;
        self.exposed.remove(&port);
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(expose_task(self.reach.clone(), port, to, stats.clone()));
        self.exposed.insert(
            port,
            Entry {
                target: to.to_string(),
                task,
                stats,
            },
        );
        Ok(())
    }

    /// Stops exposing `port`; false if it was not.
    pub fn unexpose(&mut self, port: u16) -> bool {
        self.exposed.remove(&port).is_some()
    }

    /// What runs, for the API.
    pub fn list(&self) -> api::Forwards {
        let show = |e: &Entry| {
            let error = e.stats.error();
            (
                e.stats.connections.load(Relaxed),
                error.is_none() && !e.task.is_finished(),
                error,
            )
        };
        api::Forwards {
            forwards: self
                .forwards
                .iter()
                .map(|(listen, e)| {
                    let (connections, active, error) = show(e);
                    api::Forward {
                        listen: listen.clone(),
                        target: e.target.clone(),
                        connections,
                        active,
                        error,
                    }
                })
                .collect(),
            exposed: self
                .exposed
                .iter()
                .map(|(port, e)| {
                    let (connections, active, error) = show(e);
                    api::Exposed {
                        port: *port,
                        to: e.target.clone(),
                        connections,
                        active,
                        error,
                    }
                })
                .collect(),
        }
    }

    /// Connections that failed to reach their other end, over all entries (for counters).
    pub fn failures(&self) -> u64 {
        self.forwards
            .values()
            .chain(self.exposed.values())
            .map(|e| e.stats.failed.load(Relaxed))
            .sum()
    }
}

async fn forward_task(
    listener: TcpListener,
    reach: Reach,
    host: String,
    port: u16,
    stats: Arc<Stats>,
) {
    loop {
        let (mut local, from) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("forward accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        stats.connections.fetch_add(1, Relaxed);
        let (reach, host, stats) = (reach.clone(), host.clone(), stats.clone());
        tokio::spawn(async move {
            // Resolved per connection, so a node that changes address or name is followed.
            let remote = match reach.resolve(&host).await {
                Ok(r) => match r.address.parse() {
                    Ok(a) => reach.connect(a, port).await.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("bad address {}", r.address)),
                },
                Err(e) => Err(e.message),
            };
            match remote {
                Ok(mut remote) => {
                    let _ = local.set_nodelay(true);
                    if let Err(e) = tokio::io::copy_bidirectional(&mut local, &mut remote).await {
                        tracing::debug!("forward {from} → {host}:{port}: {e}");
                    }
                }
                Err(e) => {
                    stats.failed.fetch_add(1, Relaxed);
                    tracing::info!("forward {from} → {host}:{port}: {e}");
                }
            }
        });
    }
}

async fn expose_task(reach: Reach, port: u16, to: SocketAddr, stats: Arc<Stats>) {
    let mut acceptor = match reach.listen(port).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!("expose overlay port {port}: {e}");
            stats.fail(format!("overlay port {port}: {e}"));
            return;
        }
    };
    loop {
        let (mut remote, from) = match acceptor.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("expose {port} accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        stats.connections.fetch_add(1, Relaxed);
        let stats = stats.clone();
        tokio::spawn(async move {
            match TcpStream::connect(to).await {
                Ok(mut local) => {
                    let _ = local.set_nodelay(true);
                    if let Err(e) = tokio::io::copy_bidirectional(&mut remote, &mut local).await {
                        tracing::debug!("expose {from} → {to}: {e}");
                    }
                }
                Err(e) => {
                    stats.failed.fetch_add(1, Relaxed);
                    tracing::info!("expose {from} → {to}: {e}");
                }
            }
        });
    }
}
