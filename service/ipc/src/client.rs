//! A typed async client of the local API, with errors a person can act on.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};

use crate::api::{
    API_VERSION, ApiError, ClientMsg, Event, Hello, Request, Response, ServerMsg, Welcome,
};
use crate::frame::{self, FrameError};

/// Why talking to the service failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No service listens there.
    #[error(
        "hyphad is not running (nothing listens on {0}); start it with `sudo systemctl start hyphad` or `sudo hyphad`"
    )]
    NotRunning(PathBuf),
    /// The socket exists but this user may not use it.
    #[error(
        "permission denied on {0}: add yourself to the `hypha` group (`sudo usermod -aG hypha $USER`, then log in again) or use sudo"
    )]
    PermissionDenied(PathBuf),
    /// The service refused the request.
    #[error("{0}")]
    Api(ApiError),
    /// The connection broke or carried garbage.
    #[error("talking to hyphad: {0}")]
    Frame(#[from] FrameError),
    /// The service answered out of turn.
    #[error("unexpected answer from hyphad: {0}")]
    Protocol(String),
    /// The service did not answer in time.
    #[error(
        "hyphad did not answer on {0} in time: it may be overloaded or stuck (see `journalctl -u hyphad`)"
    )]
    Timeout(PathBuf),
}

/// How long connecting and the version handshake may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a request may take (plus its own wait, for `recv`).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// A connection to `hyphad`.
pub struct Client {
    /// Where the service listens (for error messages).
    path: PathBuf,
    rd: ReadHalf<Box<dyn Stream>>,
    wr: WriteHalf<Box<dyn Stream>>,
    next_id: u64,
    welcome: Welcome,
    pending_events: std::collections::VecDeque<Event>,
}

async fn open(path: &Path) -> Result<Box<dyn Stream>, ClientError> {
    let map = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::PermissionDenied => ClientError::PermissionDenied(path.to_path_buf()),
        _ => ClientError::NotRunning(path.to_path_buf()),
    };
    #[cfg(unix)]
    {
        let s = tokio::net::UnixStream::connect(path).await.map_err(map)?;
        Ok(Box::new(s))
    }
    #[cfg(windows)]
    {
        let s = tokio::net::windows::named_pipe::ClientOptions::new()
            .open(path)
            .map_err(map)?;
        Ok(Box::new(s))
    }
}

impl Client {
    /// Connects and performs the version handshake (at most [`CONNECT_TIMEOUT`]).
    pub async fn connect(path: &Path, client: &str) -> Result<Client, ClientError> {
        tokio::time::timeout(CONNECT_TIMEOUT, Self::connect_now(path, client))
            .await
            .map_err(|_| ClientError::Timeout(path.to_path_buf()))?
    }

    async fn connect_now(path: &Path, client: &str) -> Result<Client, ClientError> {
        let stream = open(path).await?;
        let (mut rd, mut wr) = tokio::io::split(stream);
        frame::write(
            &mut wr,
            &ClientMsg::Hello(Hello {
                version: API_VERSION,
                client: client.to_string(),
            }),
        )
        .await?;
        let welcome = match frame::read::<ServerMsg, _>(&mut rd).await? {
            ServerMsg::Welcome(w) => w,
            ServerMsg::Error(e) => return Err(ClientError::Api(e)),
            other => return Err(ClientError::Protocol(format!("{other:?}"))),
        };
        Ok(Client {
            path: path.to_path_buf(),
            rd,
            wr,
            next_id: 1,
            welcome,
            pending_events: Default::default(),
        })
    }

    /// The service's greeting.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// Sends a request and waits for its answer (events arriving meanwhile are kept for
    /// [`Client::next_event`]), at most [`REQUEST_TIMEOUT`] plus the request's own wait. After
    /// a timeout the connection is out of step: connect again.
    pub async fn request(&mut self, request: Request) -> Result<Response, ClientError> {
        let wait = match &request {
            Request::Recv { wait_ms, .. } => std::time::Duration::from_millis(*wait_ms),
            _ => std::time::Duration::ZERO,
        };
        let path = self.path.clone();
        tokio::time::timeout(REQUEST_TIMEOUT + wait, self.request_now(request))
            .await
            .map_err(|_| ClientError::Timeout(path))?
    }

    async fn request_now(&mut self, request: Request) -> Result<Response, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        frame::write(&mut self.wr, &ClientMsg::Request { id, request }).await?;
        loop {
            match frame::read::<ServerMsg, _>(&mut self.rd).await? {
                ServerMsg::Response { id: rid, result } if rid == id => {
                    return result.map_err(ClientError::Api);
                }
                ServerMsg::Event(e) => self.pending_events.push_back(e),
                ServerMsg::Error(e) => return Err(ClientError::Api(e)),
                other => return Err(ClientError::Protocol(format!("{other:?}"))),
            }
        }
    }

    /// Waits for the next event (after a `subscribe` request).
    pub async fn next_event(&mut self) -> Result<Event, ClientError> {
        if let Some(e) = self.pending_events.pop_front() {
            return Ok(e);
        }
        match frame::read::<ServerMsg, _>(&mut self.rd).await? {
            ServerMsg::Event(e) => Ok(e),
            ServerMsg::Error(e) => Err(ClientError::Api(e)),
            other => Err(ClientError::Protocol(format!("{other:?}"))),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::api::{ServerMsg, Welcome};

    /// A service that accepts but never answers (overloaded, stuck) makes `connect` fail with
    /// `Timeout` after [`CONNECT_TIMEOUT`]; one that greets but never answers a request makes
    /// `request` fail after [`REQUEST_TIMEOUT`]. (Paused clock: the waits take no real time.)
    #[tokio::test(start_paused = true)]
    async fn a_service_that_never_answers_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hypha.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            let (silent, _) = listener.accept().await.unwrap();
            let (greeter, _) = listener.accept().await.unwrap();
            let (mut rd, mut wr) = tokio::io::split(greeter);
            let _hello: ClientMsg = frame::read(&mut rd).await.unwrap();
            let welcome = Welcome {
                version: API_VERSION,
                service: "test".into(),
                node_id: "00".repeat(32),
            };
            frame::write(&mut wr, &ServerMsg::Welcome(welcome))
                .await
                .unwrap();
            let _request: ClientMsg = frame::read(&mut rd).await.unwrap();
            std::future::pending::<()>().await;
            drop((silent, rd, wr));
        });
        let t = tokio::time::Instant::now();
        let err = Client::connect(&path, "test")
            .await
            .err()
            .expect("no welcome");
        assert!(matches!(err, ClientError::Timeout(_)), "{err}");
        assert_eq!(t.elapsed(), CONNECT_TIMEOUT);
        let mut c = Client::connect(&path, "test").await.unwrap();
        let t = tokio::time::Instant::now();
        let err = c.request(Request::Status).await.unwrap_err();
        assert!(matches!(err, ClientError::Timeout(_)), "{err}");
        assert_eq!(t.elapsed(), REQUEST_TIMEOUT);
        server.abort();
    }
}
