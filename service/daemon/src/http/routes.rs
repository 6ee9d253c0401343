//! The HTTP API's routes and its OpenAPI document, generated from the same types as the socket
//! API (`hypha_ipc::api`). Resources answer with the `data` of the socket API's response;
//! `POST /v1/call` takes any socket request as is and answers its response whole.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::{get, post, put};
use hypha_ipc::api::{self, ApiError, ErrorCode, Request, Response};
use serde::Deserialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use super::{Fail, Http, Reply};

type St = State<Arc<Http>>;

/// The routes that need the token.
pub(super) fn guarded() -> Router<Arc<Http>> {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/peers", get(peers).post(add_peer).delete(remove_peer))
        .route("/v1/peers/{node}/priority", put(set_priority))
        .route("/v1/routes", get(routes))
        .route("/v1/messages", get(messages).post(send))
        .route("/v1/messages/next", get(recv))
        .route("/v1/messages/{id}", get(message))
        .route("/v1/messages/{id}/read", post(mark_read))
        .route("/v1/sharing", get(sharing).put(set_sharing))
        .route("/v1/names", get(names))
        .route("/v1/firewall", get(firewall))
        .route("/v1/events", get(events))
        .route("/v1/call", post(call))
        .route("/metrics", get(metrics))
}

/// Malformed input: a 400 naming what was wrong, counted.
fn bad_input(http: &Http, e: impl std::fmt::Display) -> Fail {
    http.api
        .counters
        .http_bad_requests
        .fetch_add(1, Ordering::Relaxed);
    Fail(ApiError::new(ErrorCode::BadRequest, e.to_string()))
}

async fn ask(http: &Http, req: Request) -> Result<Response, Fail> {
    http.api.call(req).await.map_err(Fail)
}

/// The `data` of a response (what the resource is), or nothing for `done`.
fn data(resp: Response) -> Reply {
    match resp {
        Response::Done => Reply::Empty,
        Response::Metrics(m) => Reply::Metrics(m),
        other => match serde_json::to_value(other) {
            Ok(mut v) => Reply::Json(v["data"].take()),
            Err(e) => Reply::Json(serde_json::json!({ "error": e.to_string() })),
        },
    }
}

async fn simple(http: &Http, req: Request) -> Result<Reply, Fail> {
    ask(http, req).await.map(data)
}

/// Node identity, uptime and every counter.
#[utoipa::path(get, path = "/v1/status", tag = "node",
    responses((status = 200, description = "Node status", body = api::Status)))]
async fn status(State(h): St) -> Result<Reply, Fail> {
    simple(&h, Request::Status).await
}

/// Links and configured peers.
#[utoipa::path(get, path = "/v1/peers", tag = "peers",
    responses((status = 200, description = "Links and configured peers", body = api::Peers)))]
async fn peers(State(h): St) -> Result<Reply, Fail> {
    simple(&h, Request::Peers).await
}

/// A peer URI.
#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
struct PeerUri {
    /// `udp://host:port` or `tcp://host:port`.
    uri: String,
}

/// Adds a configured peer (kept across restarts).
#[utoipa::path(post, path = "/v1/peers", tag = "peers", request_body = PeerUri,
    responses((status = 204, description = "Added"),
              (status = 400, description = "Not a peer URI", body = ApiError)))]
async fn add_peer(State(h): St, body: Result<Json<PeerUri>, JsonRejection>) -> Result<Reply, Fail> {
    let Json(p) = body.map_err(|e| bad_input(&h, e))?;
    simple(&h, Request::AddPeer { uri: p.uri }).await
}

/// Removes a configured peer and closes its link.
#[utoipa::path(delete, path = "/v1/peers", tag = "peers", params(PeerUri),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such peer", body = ApiError)))]
async fn remove_peer(
    State(h): St,
    q: Result<Query<PeerUri>, QueryRejection>,
) -> Result<Reply, Fail> {
    let Query(p) = q.map_err(|e| bad_input(&h, e))?;
    simple(&h, Request::RemovePeer { uri: p.uri }).await
}

/// A forwarding priority weight.
#[derive(Debug, Deserialize, ToSchema)]
struct Weight {
    /// 1–1000 (1 = normal).
    weight: u32,
}

/// Sets a neighbour's forwarding priority weight (persists).
#[utoipa::path(put, path = "/v1/peers/{node}/priority", tag = "sharing", request_body = Weight,
    params(("node" = String, Path, description = "The neighbour's node id (hex)")),
    responses((status = 200, description = "Sharing settings after the change", body = api::Sharing),
              (status = 400, description = "Bad node id or weight", body = ApiError)))]
async fn set_priority(
    State(h): St,
    Path(node): Path<String>,
    body: Result<Json<Weight>, JsonRejection>,
) -> Result<Reply, Fail> {
    let Json(w) = body.map_err(|e| bad_input(&h, e))?;
    simple(
        &h,
        Request::Priority {
            peer: node,
            weight: w.weight,
        },
    )
    .await
}

/// Selected routes.
#[utoipa::path(get, path = "/v1/routes", tag = "node",
    responses((status = 200, description = "Selected routes", body = Vec<api::Route>)))]
async fn routes(State(h): St) -> Result<Reply, Fail> {
    simple(&h, Request::Routes).await
}

/// Every message in the outbox and the inbox, with status.
#[utoipa::path(get, path = "/v1/messages", tag = "messages",
    responses((status = 200, description = "Outbox and inbox", body = api::Messages)))]
async fn messages(State(h): St) -> Result<Reply, Fail> {
    simple(&h, Request::Messages).await
}

/// A queued message's id.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Only described: the body is the socket API's `sent` data.
struct Sent {
    /// Message id (32 hex digits).
    id: String,
}

/// Queues a message for reliable delivery.
#[utoipa::path(post, path = "/v1/messages", tag = "messages", request_body = api::SendRequest,
    responses((status = 200, description = "Queued", body = Sent),
              (status = 400, description = "Bad destination, payload or id", body = ApiError)))]
async fn send(
    State(h): St,
    body: Result<Json<api::SendRequest>, JsonRejection>,
) -> Result<Reply, Fail> {
    let Json(s) = body.map_err(|e| bad_input(&h, e))?;
    simple(&h, Request::Send(s)).await
}

/// How to take the next message.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct RecvQuery {
    /// How long to wait for one, milliseconds (default 0: answer at once).
    wait_ms: Option<u64>,
    /// Only this topic.
    topic: Option<String>,
    /// Leave it unread until `POST /v1/messages/{id}/read` (at-least-once).
    keep: Option<bool>,
}

/// Takes the oldest unread message, waiting up to `waitMs` for one.
#[utoipa::path(get, path = "/v1/messages/next", tag = "messages", params(RecvQuery),
    responses((status = 200, description = "The message, with its payload", body = api::Message),
              (status = 204, description = "None arrived in time")))]
async fn recv(State(h): St, q: Result<Query<RecvQuery>, QueryRejection>) -> Result<Reply, Fail> {
    let Query(q) = q.map_err(|e| bad_input(&h, e))?;
    let req = Request::Recv {
        wait_ms: q.wait_ms.unwrap_or(0),
        topic: q.topic,
        keep: q.keep.unwrap_or(false),
    };
    match ask(&h, req).await? {
        Response::Message(None) => Ok(Reply::Empty),
        r => Ok(data(r)),
    }
}

/// A received message by id, without marking it read.
#[utoipa::path(get, path = "/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "Message id (32 hex digits)")),
    responses((status = 200, description = "The message, with its payload", body = api::Message),
              (status = 404, description = "No such message", body = ApiError)))]
async fn message(State(h): St, Path(id): Path<String>) -> Result<Reply, Fail> {
    match ask(&h, Request::Get { id: id.clone() }).await? {
        Response::Message(None) => Err(Fail(ApiError::new(
            ErrorCode::NotFound,
            format!("no received message {id}"),
        ))),
        r => Ok(data(r)),
    }
}

/// Marks a received message read (after taking it with `keep`).
#[utoipa::path(post, path = "/v1/messages/{id}/read", tag = "messages",
    params(("id" = String, Path, description = "Message id (32 hex digits)")),
    responses((status = 204, description = "Marked read"),
              (status = 404, description = "No such message", body = ApiError)))]
async fn mark_read(State(h): St, Path(id): Path<String>) -> Result<Reply, Fail> {
    simple(&h, Request::MarkRead { id }).await
}

/// Sharing settings and per-neighbour transit figures.
#[utoipa::path(get, path = "/v1/sharing", tag = "sharing",
    responses((status = 200, description = "Sharing settings", body = api::Sharing)))]
async fn sharing(State(h): St) -> Result<Reply, Fail> {
    let req = Request::Share {
        percent: None,
        uplink: None,
    };
    simple(&h, req).await
}

/// A change to the sharing settings.
#[derive(Debug, Deserialize, ToSchema)]
struct ShareChange {
    /// Share of the uplink forwarded for others, 0–100 %.
    percent: Option<u8>,
    /// Uplink capacity, e.g. `100mbit`.
    uplink: Option<String>,
}

/// Changes the sharing settings (at once; persists).
#[utoipa::path(put, path = "/v1/sharing", tag = "sharing", request_body = ShareChange,
    responses((status = 200, description = "Sharing settings after the change", body = api::Sharing),
              (status = 400, description = "Out of range", body = ApiError)))]
async fn set_sharing(
    State(h): St,
    body: Result<Json<ShareChange>, JsonRejection>,
) -> Result<Reply, Fail> {
    let Json(c) = body.map_err(|e| bad_input(&h, e))?;
    let req = Request::Share {
        percent: c.percent,
        uplink: c.uplink,
    };
    simple(&h, req).await
}

/// Every name known in the mesh.
#[utoipa::path(get, path = "/v1/names", tag = "node",
    responses((status = 200, description = "Names", body = Vec<api::NameRecord>)))]
async fn names(State(h): St) -> Result<Reply, Fail> {
    simple(&h, Request::Names).await
}

/// The inbound firewall.
#[utoipa::path(get, path = "/v1/firewall", tag = "node",
    responses((status = 200, description = "Policy, openings and drops", body = api::Firewall)))]
async fn firewall(State(h): St) -> Result<Reply, Fail> {
    simple(&h, Request::Firewall { change: None }).await
}

/// Events as they happen (server-sent events; each `data:` line is one event as JSON).
#[utoipa::path(get, path = "/v1/events", tag = "node",
    responses((status = 200, description = "An event stream", content_type = "text/event-stream",
               body = api::Event)))]
async fn events(
    State(h): St,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, std::convert::Infallible>>> {
    let rx = h.api.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    let data = serde_json::to_string(&ev).unwrap_or_default();
                    return Some((Ok(SseEvent::default().data(data)), rx));
                }
                // A slow reader skips what it missed, as over the socket.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Any socket API request, answered with its socket API response (`{"type": …, "data": …}`).
#[utoipa::path(post, path = "/v1/call", tag = "call", request_body = api::Request,
    responses((status = 200, description = "The response", body = api::Response),
              (status = 400, description = "Not a request, or refused", body = ApiError),
              (status = 404, description = "The thing named does not exist", body = ApiError)))]
async fn call(
    State(h): St,
    body: Result<Json<Request>, JsonRejection>,
) -> Result<Json<Response>, Fail> {
    let Json(req) = body.map_err(|e| bad_input(&h, e))?;
    if req == Request::Subscribe {
        return Err(bad_input(&h, "subscribe: use GET /v1/events"));
    }
    Ok(Json(ask(&h, req).await?))
}

/// Every counter of `status`, and gauges, in Prometheus' text format.
#[utoipa::path(get, path = "/metrics", tag = "node",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain",
               body = String)))]
async fn metrics(State(h): St) -> Result<Reply, Fail> {
    simple(&h, Request::Metrics).await
}

/// The OpenAPI document (needs no token).
pub(super) async fn openapi_json() -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi(),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hypha service API",
        description = "The local API of hyphad over HTTP: the same requests as its socket API. \
                       Every route but this document needs `Authorization: Bearer <token>` \
                       (the service's api-token file)."
    ),
    paths(status, peers, add_peer, remove_peer, set_priority, routes, messages, send, recv,
          message, mark_read, sharing, set_sharing, names, firewall, events, call, metrics),
    components(schemas(api::Request, api::Response, api::Event, ApiError)),
    modifiers(&Bearer),
    security(("bearer" = []))
)]
struct Doc;

/// The bearer scheme, and its 401 on every route.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
        let comps = doc.components.get_or_insert_with(Default::default);
        comps.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let unauthorised = ResponseBuilder::new()
            .description("No token, or a wrong one")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "ApiError",
                    ))))
                    .build(),
            )
            .build();
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                op.responses
                    .responses
                    .insert("401".into(), RefOr::T(unauthorised.clone()));
            }
        }
    }
}

/// The OpenAPI 3.1 document, as JSON.
pub fn openapi() -> String {
    Doc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
}
