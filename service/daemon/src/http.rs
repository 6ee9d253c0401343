//! The HTTP API: the local API's requests over HTTP/1.1 on a loopback address, for scripts and
//! dashboards that speak HTTP rather than the framed socket protocol. Off by default
//! (`api_http`). Every route but the OpenAPI document needs `Authorization: Bearer <token>`,
//! the token being the contents of a file readable by root and group `hypha` only — the same
//! people the socket lets in. Requests go through the same [`Server::call`] as socket clients,
//! so both front ends answer alike.

mod routes;
mod token;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use hypha_ipc::api::{ApiError, ErrorCode};

use crate::ipc::Server;

pub use routes::openapi;

/// What every route shares.
struct Http {
    api: Server,
    token: String,
}

/// Starts the HTTP API on `addr` (loopback; checked by the configuration) with the token from
/// `token_file` (made when missing), for the life of the process.
pub async fn start(addr: SocketAddr, token_file: &Path, api: Server) -> Result<()> {
    let token = token::load_or_create(token_file)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the HTTP API on {addr}"))?;
    let http = Arc::new(Http { api, token });
    let app = router(http);
    tracing::info!(
        "HTTP API on http://{addr} (token in {}; OpenAPI document at /openapi.json)",
        token_file.display()
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("HTTP API stopped: {e}");
        }
    });
    Ok(())
}

fn router(http: Arc<Http>) -> Router {
    let guarded = routes::guarded().route_layer(axum::middleware::from_fn_with_state(
        http.clone(),
        authorise,
    ));
    Router::new()
        .route("/openapi.json", axum::routing::get(routes::openapi_json))
        .merge(guarded)
        .fallback(not_found)
        .with_state(http)
}

/// Lets a request through with the right bearer token; otherwise 401 (counted).
async fn authorise(
    State(http): State<Arc<Http>>,
    headers: HeaderMap,
    req: axum::extract::Request,
    next: Next,
) -> axum::response::Response {
    let counters = &http.api.counters;
    counters.http_requests.fetch_add(1, Ordering::Relaxed);
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if token::same(t, &http.token) => next.run(req).await,
        _ => {
            counters.http_unauthorized.fetch_add(1, Ordering::Relaxed);
            Fail(ApiError::new(
                ErrorCode::Unauthorized,
                "send `Authorization: Bearer <token>`; the token is in the service's \
                 api-token file (readable by root and group hypha)",
            ))
            .into_response()
        }
    }
}

async fn not_found() -> Fail {
    Fail(ApiError::new(
        ErrorCode::NotFound,
        "no such route; see /openapi.json",
    ))
}

/// An API error as an HTTP answer: its JSON with the matching status code.
struct Fail(ApiError);

impl IntoResponse for Fail {
    fn into_response(self) -> axum::response::Response {
        let status = match self.0.code {
            ErrorCode::BadRequest | ErrorCode::UnsupportedVersion => StatusCode::BAD_REQUEST,
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut r = (status, axum::Json(self.0)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// A successful answer.
enum Reply {
    /// JSON body.
    Json(serde_json::Value),
    /// Prometheus text exposition.
    Metrics(String),
    /// Nothing to say (204).
    Empty,
}

impl IntoResponse for Reply {
    fn into_response(self) -> axum::response::Response {
        match self {
            Reply::Json(v) => axum::Json(v).into_response(),
            Reply::Metrics(m) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                )],
                Body::from(m),
            )
                .into_response(),
            Reply::Empty => StatusCode::NO_CONTENT.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_names_every_route_and_the_bearer_scheme() {
        let doc: serde_json::Value = serde_json::from_str(&openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/v1/status",
            "/v1/peers",
            "/v1/messages",
            "/v1/messages/next",
            "/v1/call",
            "/metrics",
        ] {
            assert!(paths.contains_key(p), "{p} missing from {:?}", paths.keys());
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        // The IPC request type is there whole: every variant is a schema alternative.
        let req = &doc["components"]["schemas"]["Request"];
        assert!(
            req["oneOf"].as_array().map_or(0, |v| v.len()) >= 25,
            "{req}"
        );
    }
}
