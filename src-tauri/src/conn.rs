//! The tray's link to `hyphad`: one subscribed connection that keeps the [`Snapshot`] current
//! from the service's events, reconnecting by itself, plus one short connection per user
//! action.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hypha_ipc::api::{self, Event, Request, Response, SendRequest};
use hypha_ipc::client::{Client, ClientError};
use tokio::sync::Notify;

use crate::model::{RateSample, ServiceState, Snapshot, payload_text};

/// How the client introduces itself.
const CLIENT: &str = concat!("hypha-tray ", env!("CARGO_PKG_VERSION"));
/// Pause between connection attempts while the service is away.
const RETRY: Duration = Duration::from_secs(1);
/// Received payloads larger than this are not fetched for display.
const MAX_TEXT_FETCH: usize = 64 * 1024;
/// At start, texts are fetched for at most this many of the newest received messages.
const BACKLOG_TEXTS: usize = 200;
/// Topic of messages written in the window.
pub const CHAT_TOPIC: &str = "chat";

/// Where snapshots and notable happenings go (the window and the tray icon).
pub trait Notifier: Send + Sync {
    /// The snapshot changed.
    fn snapshot(&self, snap: &Snapshot);
    /// A message arrived while connected (for a desktop notification); `from` is the sender
    /// as people know it (`carol.hypha`, else the start of its node id).
    fn incoming(&self, from: &str, text: Option<&str>, size: usize);
}

/// State shared by the connection task and the window's commands.
pub struct Shared {
    /// The API socket.
    pub socket: PathBuf,
    snap: Mutex<Snapshot>,
    notifier: OnceLock<Box<dyn Notifier>>,
    retry: Notify,
    /// Where texts of messages sent from here are kept across restarts (the service keeps
    /// only headers of finished outgoing messages).
    texts_file: Option<PathBuf>,
}

impl Shared {
    /// Starts with nothing known; loads remembered texts.
    pub fn new(socket: PathBuf, texts_file: Option<PathBuf>) -> Self {
        let mut snap = Snapshot::new(socket.clone());
        if let Some(f) = &texts_file
            && let Ok(data) = std::fs::read(f)
        {
            match serde_json::from_slice(&data) {
                Ok(t) => snap.texts = t,
                Err(e) => tracing::warn!("ignoring {}: {e}", f.display()),
            }
        }
        Shared {
            socket,
            snap: Mutex::new(snap),
            notifier: OnceLock::new(),
            retry: Notify::new(),
            texts_file,
        }
    }

    /// Sets where changes go (once, when the app is set up).
    pub fn set_notifier(&self, n: Box<dyn Notifier>) {
        let _ = self.notifier.set(n);
    }

    /// A copy of the current snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.snap.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the snapshot and tells the window and the tray.
    fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        let snap = {
            let mut s = self.snap.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut s);
            s.clone()
        };
        if let Some(n) = self.notifier.get() {
            n.snapshot(&snap);
        }
    }

    /// Cuts the wait before the next connection attempt short.
    pub fn retry_now(&self) {
        self.retry.notify_one();
    }

    fn save_texts(&self) {
        let Some(f) = &self.texts_file else { return };
        let texts = self
            .snap
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .texts
            .clone();
        let write = || -> std::io::Result<()> {
            if let Some(d) = f.parent() {
                std::fs::create_dir_all(d)?;
            }
            let tmp = f.with_extension("tmp");
            std::fs::write(&tmp, serde_json::to_vec(&texts)?)?;
            std::fs::rename(&tmp, f)
        };
        if let Err(e) = write() {
            tracing::warn!("saving {}: {e}", f.display());
        }
    }

    /// One request on a short connection of its own (user actions must not wait behind the
    /// event stream).
    async fn call(&self, request: Request) -> Result<Response, String> {
        let mut c = Client::connect(&self.socket, CLIENT)
            .await
            .map_err(|e| e.to_string())?;
        c.request(request).await.map_err(|e| e.to_string())
    }

    /// Sets the share of the uplink forwarded for others.
    pub async fn set_share(
        &self,
        percent: Option<u8>,
        uplink: Option<String>,
    ) -> Result<(), String> {
        if percent.is_some_and(|p| p > 100) {
            return Err("the share is 0 to 100 %".into());
        }
        match self.call(Request::Share { percent, uplink }).await? {
            Response::Sharing(s) => {
                self.update(|snap| {
                    if let Some(st) = &mut snap.status {
                        st.share_percent = s.percent;
                        st.transit_limit_bps = s.limit_bps;
                    }
                    snap.sharing = Some(s);
                });
                Ok(())
            }
            other => Err(format!("unexpected answer from hyphad: {other:?}")),
        }
    }

    /// Sets a neighbour's forwarding priority.
    pub async fn set_priority(&self, peer: String, weight: u32) -> Result<(), String> {
        match self.call(Request::Priority { peer, weight }).await? {
            Response::Sharing(s) => {
                self.update(|snap| snap.sharing = Some(s));
                Ok(())
            }
            other => Err(format!("unexpected answer from hyphad: {other:?}")),
        }
    }

    /// Changes the inbound firewall (who may connect, contacts).
    pub async fn change_firewall(&self, change: api::FirewallChange) -> Result<(), String> {
        match self
            .call(Request::Firewall {
                change: Some(change),
            })
            .await?
        {
            Response::Firewall(f) => {
                self.update(|snap| snap.firewall = Some(f));
                Ok(())
            }
            other => Err(format!("unexpected answer from hyphad: {other:?}")),
        }
    }

    /// This node's invite link.
    pub async fn invite(&self) -> Result<api::Invite, String> {
        match self.call(Request::Invite { expires_s: None }).await? {
            Response::Invite(i) => Ok(i),
            other => Err(format!("unexpected answer from hyphad: {other:?}")),
        }
    }

    /// Joins the node of an invite link.
    pub async fn join(&self, link: String, contact: bool) -> Result<api::Invite, String> {
        let link = link.trim().to_string();
        if link.is_empty() {
            return Err("paste an invite link (hypha://join/…)".into());
        }
        match self.call(Request::Join { link, contact }).await? {
            Response::Invite(i) => {
                if let Ok(Response::Peers(p)) = self.call(Request::Peers).await {
                    self.update(|snap| snap.peers = Some(p));
                }
                Ok(i)
            }
            other => Err(format!("unexpected answer from hyphad: {other:?}")),
        }
    }

    /// Adds (or removes) a configured peer.
    pub async fn change_peer(&self, uri: String, add: bool) -> Result<(), String> {
        let req = if add {
            Request::AddPeer { uri }
        } else {
            Request::RemovePeer { uri }
        };
        self.call(req).await?;
        if let Ok(Response::Peers(p)) = self.call(Request::Peers).await {
            self.update(|snap| snap.peers = Some(p));
        }
        Ok(())
    }

    /// Queues a text message; returns its id.
    pub async fn send_text(&self, to: String, text: String) -> Result<String, String> {
        let to = to.trim().to_string();
        if to.is_empty() {
            return Err("say whom to send to: a node id or an overlay address".into());
        }
        if text.is_empty() {
            return Err("the message is empty".into());
        }
        let req = Request::Send(SendRequest {
            to,
            topic: CHAT_TOPIC.into(),
            payload: B64.encode(text.as_bytes()),
            deadline_s: None,
            reply_to: None,
            id: None,
        });
        let id = match self.call(req).await? {
            Response::Sent { id } => id,
            other => return Err(format!("unexpected answer from hyphad: {other:?}")),
        };
        let messages = match self.call(Request::Messages).await {
            Ok(Response::Messages(m)) => Some(m),
            _ => None,
        };
        self.update(|snap| {
            snap.remember_text(id.clone(), text);
            if messages.is_some() {
                snap.messages = messages;
            }
        });
        self.save_texts();
        Ok(id)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Keeps a subscribed connection to the service for as long as the app runs.
pub async fn run(shared: Arc<Shared>) {
    loop {
        let err = session(&shared).await;
        let (state, problem) = match &err {
            ClientError::NotRunning(_) => (ServiceState::Down, err.to_string()),
            ClientError::PermissionDenied(_) => (ServiceState::Denied, err.to_string()),
            ClientError::Frame(_) => (
                ServiceState::Down,
                format!(
                    "lost the connection to hyphad ({err}); it has probably stopped — start it \
                     with `sudo systemctl start hyphad` or `sudo hyphad`"
                ),
            ),
            ClientError::Timeout(_) => (ServiceState::Error, err.to_string()),
            ClientError::Api(_) | ClientError::Protocol(_) => (
                ServiceState::Error,
                format!("hyphad answered unexpectedly: {err}"),
            ),
        };
        let changed = {
            let s = shared.snap.lock().unwrap_or_else(|e| e.into_inner());
            s.service != state || s.problem.as_deref() != Some(&problem)
        };
        if changed {
            tracing::info!("service {state:?}: {problem}");
            shared.update(|s| {
                s.service = state;
                s.problem = Some(problem);
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = shared.retry.notified() => {}
        }
    }
}

/// One connection's life: subscribe, load everything, then follow events until it breaks.
async fn session(shared: &Shared) -> ClientError {
    match session_inner(shared).await {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

async fn session_inner(shared: &Shared) -> Result<std::convert::Infallible, ClientError> {
    let mut c = Client::connect(&shared.socket, CLIENT).await?;
    let version = c.welcome().service.clone();
    c.request(Request::Subscribe).await?;
    let mut texts = Vec::new();
    let (st, p, r, sh, m) = (
        status(&mut c).await?,
        peers(&mut c).await?,
        routes(&mut c).await?,
        sharing(&mut c).await?,
        messages(&mut c).await?,
    );
    let (fw, nm) = (firewall(&mut c).await, names(&mut c).await?);
    let known = shared.snapshot().texts;
    for msg in m.inbox.iter().rev().take(BACKLOG_TEXTS) {
        if !known.contains_key(&msg.id)
            && msg.size <= MAX_TEXT_FETCH
            && let Some(t) = fetch_text(&mut c, &msg.id).await?
        {
            texts.push((msg.id.clone(), t));
        }
    }
    tracing::info!("connected to {version} at {}", shared.socket.display());
    shared.update(|s| {
        s.service = ServiceState::Up;
        s.problem = None;
        s.service_version = Some(version);
        s.status = Some(st);
        s.peers = Some(p);
        s.routes = r;
        s.sharing = Some(sh);
        s.messages = Some(m);
        s.firewall = fw;
        s.names = nm;
        for (id, t) in texts {
            s.remember_text(id, t);
        }
    });
    loop {
        match c.next_event().await? {
            Event::Stats {
                rx_bps,
                tx_bps,
                forwarded_bps,
                limit_bps,
                ..
            } => {
                // Once a second, driven by the service: refresh the live figures with it.
                let (st, p, sh) = (
                    status(&mut c).await?,
                    peers(&mut c).await?,
                    sharing(&mut c).await?,
                );
                let (fw, nm) = (firewall(&mut c).await, names(&mut c).await?);
                shared.update(|s| {
                    s.push_rate(RateSample {
                        t_ms: now_ms(),
                        rx_bps,
                        tx_bps,
                        forwarded_bps,
                        limit_bps,
                    });
                    s.status = Some(st);
                    s.peers = Some(p);
                    s.sharing = Some(sh);
                    s.firewall = fw;
                    s.names = nm;
                });
            }
            Event::PeerUp { .. } | Event::PeerDown { .. } => {
                let (st, p, r) = (
                    status(&mut c).await?,
                    peers(&mut c).await?,
                    routes(&mut c).await?,
                );
                shared.update(|s| {
                    s.status = Some(st);
                    s.peers = Some(p);
                    s.routes = r;
                });
            }
            Event::RouteChanged { .. } => {
                let r = routes(&mut c).await?;
                shared.update(|s| s.routes = r);
            }
            Event::MessageStatus { .. } => {
                let m = messages(&mut c).await?;
                shared.update(|s| s.messages = Some(m));
            }
            Event::MessageReceived { id, from, size, .. } => {
                let text = if size <= MAX_TEXT_FETCH {
                    fetch_text(&mut c, &id).await?
                } else {
                    None
                };
                let m = messages(&mut c).await?;
                shared.update(|s| {
                    if let Some(t) = &text {
                        s.remember_text(id.clone(), t.clone());
                    }
                    s.messages = Some(m);
                });
                if let Some(n) = shared.notifier.get() {
                    let who = match shared.snapshot().names.get(&from) {
                        Some(name) => format!("{name}.hypha"),
                        None => format!("{}…", &from[..from.len().min(12)]),
                    };
                    n.incoming(&who, text.as_deref(), size);
                }
            }
        }
    }
}

fn unexpected(r: Response) -> ClientError {
    ClientError::Protocol(format!("{r:?}"))
}

async fn status(c: &mut Client) -> Result<hypha_ipc::api::Status, ClientError> {
    match c.request(Request::Status).await? {
        Response::Status(s) => Ok(s),
        r => Err(unexpected(r)),
    }
}

async fn peers(c: &mut Client) -> Result<hypha_ipc::api::Peers, ClientError> {
    match c.request(Request::Peers).await? {
        Response::Peers(p) => Ok(p),
        r => Err(unexpected(r)),
    }
}

async fn routes(c: &mut Client) -> Result<Vec<hypha_ipc::api::Route>, ClientError> {
    match c.request(Request::Routes).await? {
        Response::Routes(r) => Ok(r),
        r => Err(unexpected(r)),
    }
}

async fn sharing(c: &mut Client) -> Result<hypha_ipc::api::Sharing, ClientError> {
    match c
        .request(Request::Share {
            percent: None,
            uplink: None,
        })
        .await?
    {
        Response::Sharing(s) => Ok(s),
        r => Err(unexpected(r)),
    }
}

/// The firewall, or none from a service that predates it (it answers with an error).
async fn firewall(c: &mut Client) -> Option<hypha_ipc::api::Firewall> {
    match c.request(Request::Firewall { change: None }).await {
        Ok(Response::Firewall(f)) => Some(f),
        _ => None,
    }
}

/// Node id → name for every settled name.
async fn names(c: &mut Client) -> Result<BTreeMap<String, String>, ClientError> {
    match c.request(Request::Names).await? {
        Response::Names(n) => Ok(n.into_iter().map(|r| (r.node_id, r.name)).collect()),
        r => Err(unexpected(r)),
    }
}

async fn messages(c: &mut Client) -> Result<hypha_ipc::api::Messages, ClientError> {
    match c.request(Request::Messages).await? {
        Response::Messages(m) => Ok(m),
        r => Err(unexpected(r)),
    }
}

/// A received message's text, read without taking it from the inbox (so `hypha recv` still
/// gets it).
async fn fetch_text(c: &mut Client, id: &str) -> Result<Option<String>, ClientError> {
    match c.request(Request::Get { id: id.into() }).await? {
        Response::Message(Some(m)) => Ok(B64
            .decode(m.payload.as_bytes())
            .ok()
            .and_then(|p| payload_text(&p))),
        Response::Message(None) => Ok(None),
        r => Err(unexpected(r)),
    }
}
