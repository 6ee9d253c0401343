//! The local API server: a Unix socket (mode 0660, group `hypha`, peer credentials checked) or
//! a Windows named pipe. Each connection is a task; requests go to the service loop, which owns
//! the node, and come back as responses. Bad input ends that connection with a clear error and
//! a counter — never the service.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use hypha_ipc::api::{
    API_VERSION, ApiError, ClientMsg, ErrorCode, Event, Request, Response, ServerMsg, Welcome,
};
use hypha_ipc::frame::{self, FrameError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, mpsc, oneshot};

/// A request on its way to the service loop.
pub struct ApiCall {
    /// What is asked.
    pub request: Request,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Response, ApiError>>,
}

/// Counters of the API server (shown in metrics).
#[derive(Default)]
pub struct IpcCounters {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections refused for credentials.
    pub refused: AtomicU64,
    /// Frames that were not valid messages, or too large.
    pub bad_frames: AtomicU64,
    /// Clients speaking another API version.
    pub bad_version: AtomicU64,
    /// HTTP API requests (before the token check).
    pub http_requests: AtomicU64,
    /// HTTP API requests without the right token.
    pub http_unauthorized: AtomicU64,
    /// HTTP API requests with a body or query that was not valid.
    pub http_bad_requests: AtomicU64,
}

impl IpcCounters {
    /// Every counter as `api.name`, for status and metrics.
    pub fn named(&self) -> [(&'static str, u64); 7] {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        [
            ("api.connections", g(&self.connections)),
            ("api.refused", g(&self.refused)),
            ("api.badFrames", g(&self.bad_frames)),
            ("api.badVersion", g(&self.bad_version)),
            ("api.httpRequests", g(&self.http_requests)),
            ("api.httpUnauthorized", g(&self.http_unauthorized)),
            ("api.httpBadRequests", g(&self.http_bad_requests)),
        ]
    }
}

/// Shared by connection tasks.
#[derive(Clone)]
pub struct Server {
    welcome: Welcome,
    calls: mpsc::Sender<ApiCall>,
    events: broadcast::Sender<Event>,
    /// Counters.
    pub counters: Arc<IpcCounters>,
}

impl Server {
    /// A server answering with `welcome`, forwarding calls to `calls`.
    pub fn new(
        welcome: Welcome,
        calls: mpsc::Sender<ApiCall>,
        events: broadcast::Sender<Event>,
    ) -> Self {
        Server {
            welcome,
            calls,
            events,
            counters: Arc::new(IpcCounters::default()),
        }
    }

    /// Asks the service loop (every API front end goes through here).
    pub async fn call(&self, request: Request) -> Result<Response, ApiError> {
        let stopping = || ApiError::new(ErrorCode::Internal, "service stopping");
        let (tx, rx) = oneshot::channel();
        self.calls
            .send(ApiCall { request, reply: tx })
            .await
            .map_err(|_| stopping())?;
        rx.await.unwrap_or_else(|_| Err(stopping()))
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Serves one connection until it ends.
    async fn conversation<S: AsyncRead + AsyncWrite + Unpin>(&self, stream: S) {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let fail = |e: &FrameError| match e {
            FrameError::TooLarge(_) => Some(ApiError::new(ErrorCode::TooLarge, e.to_string())),
            FrameError::Malformed(_) => Some(ApiError::new(ErrorCode::BadRequest, e.to_string())),
            _ => None,
        };
        let hello = tokio::time::timeout(
            Duration::from_secs(10),
            frame::read::<ClientMsg, _>(&mut rd),
        )
        .await;
        match hello {
            Ok(Ok(ClientMsg::Hello(h))) if h.version == API_VERSION => {
                tracing::debug!("api client {:?}", h.client);
                if frame::write(&mut wr, &ServerMsg::Welcome(self.welcome.clone()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Ok(Ok(ClientMsg::Hello(h))) => {
                self.counters.bad_version.fetch_add(1, Ordering::Relaxed);
                let e = ApiError::new(
                    ErrorCode::UnsupportedVersion,
                    format!(
                        "API version {} is not supported; this hyphad speaks {API_VERSION}",
                        h.version
                    ),
                );
                let _ = frame::write(&mut wr, &ServerMsg::Error(e)).await;
                return;
            }
            Ok(Ok(_)) => {
                self.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                let e = ApiError::new(ErrorCode::BadRequest, "the first message must be hello");
                let _ = frame::write(&mut wr, &ServerMsg::Error(e)).await;
                return;
            }
            Ok(Err(e)) => {
                if let Some(err) = fail(&e) {
                    self.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                    let _ = frame::write(&mut wr, &ServerMsg::Error(err)).await;
                }
                return;
            }
            Err(_) => return,
        }
        let mut events: Option<broadcast::Receiver<Event>> = None;
        loop {
            let next_event = async {
                match events.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = frame::read::<ClientMsg, _>(&mut rd) => {
                    let (id, request) = match msg {
                        Ok(ClientMsg::Request { id, request }) => (id, request),
                        Ok(ClientMsg::Hello(_)) => {
                            self.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                            let e = ApiError::new(ErrorCode::BadRequest, "hello was already sent");
                            let _ = frame::write(&mut wr, &ServerMsg::Error(e)).await;
                            return;
                        }
                        Err(e) => {
                            if let Some(err) = fail(&e) {
                                self.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                                let _ = frame::write(&mut wr, &ServerMsg::Error(err)).await;
                            }
                            return;
                        }
                    };
                    let result = if request == Request::Subscribe {
                        events = Some(self.subscribe());
                        Ok(Response::Done)
                    } else {
                        self.call(request).await
                    };
                    if frame::write(&mut wr, &ServerMsg::Response { id, result }).await.is_err() {
                        return;
                    }
                }
                ev = next_event => match ev {
                    Ok(ev) => {
                        if frame::write(&mut wr, &ServerMsg::Event(ev)).await.is_err() {
                            return;
                        }
                    }
                    // A slow reader missed events; it keeps the connection and the newer ones.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }

    /// Listens on `path` for the life of the process.
    #[cfg(unix)]
    pub fn listen(self, path: PathBuf) -> Result<()> {
        use anyhow::Context;
        use std::os::unix::fs::PermissionsExt;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // A socket file left by a previous run that nobody answers on is stale.
        if path.exists() && std::os::unix::net::UnixStream::connect(&path).is_err() {
            let _ = std::fs::remove_file(&path);
        }
        let listener = tokio::net::UnixListener::bind(&path)
            .with_context(|| format!("binding the API socket {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))?;
        let group = nix::unistd::Group::from_name("hypha").ok().flatten();
        match &group {
            Some(g) => {
                nix::unistd::chown(&path, None, Some(g.gid))
                    .with_context(|| format!("giving {} to group hypha", path.display()))?;
            }
            None => tracing::warn!(
                "no `hypha` group: only root can use {} (create the group to let users in)",
                path.display()
            ),
        }
        let hypha_gid = group.map(|g| g.gid.as_raw());
        tracing::info!("API on {}", path.display());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                self.counters.connections.fetch_add(1, Ordering::Relaxed);
                let server = self.clone();
                tokio::spawn(async move {
                    let allowed = stream
                        .peer_cred()
                        .map(|c| authorised(c.uid(), c.gid(), c.pid(), hypha_gid))
                        .unwrap_or(false);
                    if !allowed {
                        server.counters.refused.fetch_add(1, Ordering::Relaxed);
                        let (_, mut wr) = tokio::io::split(stream);
                        let e = ApiError::new(
                            ErrorCode::PermissionDenied,
                            "not root and not in the `hypha` group",
                        );
                        let _ = frame::write(&mut wr, &ServerMsg::Error(e)).await;
                        return;
                    }
                    server.conversation(stream).await;
                });
            }
        });
        Ok(())
    }

    /// Listens on the named pipe `path` for the life of the process. Its descriptor
    /// ([`crate::winacl::PIPE_SDDL`]) lets SYSTEM, Administrators and interactive users in;
    /// remote clients are refused.
    #[cfg(windows)]
    pub fn listen(self, path: PathBuf) -> Result<()> {
        use crate::winacl;
        use tokio::net::windows::named_pipe::ServerOptions;
        let desc = winacl::Descriptor::from_sddl(winacl::PIPE_SDDL)?;
        let mut first = ServerOptions::new();
        first.first_pipe_instance(true).reject_remote_clients(true);
        let mut server = winacl::create_pipe(&first, &path, &desc)?;
        let mut next = ServerOptions::new();
        next.reject_remote_clients(true);
        tracing::info!("API on {}", path.display());
        tokio::spawn(async move {
            loop {
                if server.connect().await.is_err() {
                    continue;
                }
                let connected = server;
                server = match winacl::create_pipe(&next, &path, &desc) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!("named pipe: {e}");
                        return;
                    }
                };
                self.counters.connections.fetch_add(1, Ordering::Relaxed);
                let me = self.clone();
                tokio::spawn(async move { me.conversation(connected).await });
            }
        });
        Ok(())
    }
}

/// Root, the service's own user, and members of the `hypha` group may use the API.
#[cfg(unix)]
fn authorised(uid: u32, gid: u32, pid: Option<i32>, hypha_gid: Option<u32>) -> bool {
    if uid == 0 || uid == nix::unistd::geteuid().as_raw() {
        return true;
    }
    let Some(hg) = hypha_gid else {
        return false;
    };
    if gid == hg {
        return true;
    }
    // Supplementary groups are not in the peer credentials. On Linux the connecting process's
    // own groups are in procfs (what the kernel checked against the socket's mode); elsewhere,
    // look the user up in the group database.
    if let Some(pid) = pid
        && let Ok(st) = std::fs::read_to_string(format!("/proc/{pid}/status"))
        && let Some(line) = st.lines().find(|l| l.starts_with("Groups:"))
    {
        return line
            .split_whitespace()
            .skip(1)
            .any(|g| g.parse::<u32>() == Ok(hg));
    }
    let Ok(Some(user)) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) else {
        return false;
    };
    matches!(
        nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(hg)),
        Ok(Some(g)) if g.mem.contains(&user.name)
    )
}
