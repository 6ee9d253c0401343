//! The local API, defined once: what the CLI, the tray app and scripts send to `hyphad`, and
//! what they get back. Every frame is one JSON object (see [`crate::frame`]).
//!
//! A connection starts with the client's [`Hello`]; the service answers [`ServerMsg::Welcome`]
//! or, for an API version it does not speak, [`ServerMsg::Error`] and closes. Then the client
//! sends [`ClientMsg::Request`]s, each answered by a [`ServerMsg::Response`] with the same id;
//! after a `subscribe` request, [`ServerMsg::Event`]s arrive as things happen (no polling).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The API version this build speaks.
pub const API_VERSION: u32 = 1;

/// First frame from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hello {
    /// API version the client speaks.
    pub version: u32,
    /// Who is asking (for logs), e.g. `hypha-cli 0.1.0`.
    pub client: String,
}

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ClientMsg {
    /// Opens the conversation.
    Hello(Hello),
    /// A request; the response carries the same id.
    Request {
        /// Chosen by the client.
        id: u64,
        /// What is asked.
        request: Request,
    },
}

/// What can be asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Request {
    /// Node identity, uptime, counters.
    Status,
    /// Links and configured peers.
    Peers,
    /// Adds a configured peer (`udp://host:port`, `tcp://host:port`); kept across restarts.
    AddPeer {
        /// Peer URI.
        uri: String,
    },
    /// Removes a configured peer and closes its link.
    RemovePeer {
        /// Peer URI as added.
        uri: String,
    },
    /// Selected routes.
    Routes,
    /// Prometheus text exposition of the service's metrics.
    Metrics,
    /// Start receiving events on this connection.
    Subscribe,
    /// Queues a message for reliable delivery.
    Send(SendRequest),
    /// Every message in the outbox and inbox, with status.
    Messages,
    /// Shows or changes the sharing settings (both fields optional; changes apply at once and
    /// persist).
    Share {
        /// Share of the uplink forwarded for others, 0–100 %.
        percent: Option<u8>,
        /// Uplink capacity, e.g. `100mbit`, `1gbit`, `500kbit`.
        uplink: Option<String>,
    },
    /// Sets a neighbour's forwarding priority weight (1 = normal); persists.
    Priority {
        /// The neighbour's node id (hex).
        peer: String,
        /// Weight, 1–1000.
        weight: u32,
    },
    /// Endpoint facts this node holds.
    Facts,
    /// Claims a name for this node (`alice`: reachable as `alice.hypha`), or drops the claim
    /// (`None`); persists.
    SetName {
        /// The name, or none.
        name: Option<String>,
    },
    /// Every name known in the mesh, settled.
    Names,
    /// Resolves `alice`, `alice.hypha`, a node id (hex, optionally `.hypha`) or an overlay
    /// address to a node.
    Resolve {
        /// What to resolve.
        name: String,
    },
    /// Port forwards and exposed ports.
    Forwards,
    /// Forwards a local TCP listener to a port on a mesh node; persists.
    AddForward {
        /// Local address to listen on, e.g. `127.0.0.1:8080`.
        listen: String,
        /// `NODE:PORT`: a name, node id or `[overlay address]`, and a port.
        target: String,
    },
    /// Stops a port forward.
    RemoveForward {
        /// Its local address, as added.
        listen: String,
    },
    /// Makes a local TCP service reachable from the mesh on an overlay port; persists.
    Expose {
        /// The overlay port.
        port: u16,
        /// Where the service listens (default `127.0.0.1:<port>`).
        to: Option<String>,
    },
    /// Stops exposing an overlay port.
    Unexpose {
        /// The overlay port.
        port: u16,
    },
    /// The hops to a node, with round-trip times.
    Trace {
        /// Name, node id or overlay address.
        target: String,
        /// Most hops to try (default 16).
        max_hops: Option<u8>,
    },
    /// A received message by id, with its payload, without marking it read.
    Get {
        /// Message id (32 hex digits).
        id: String,
    },
    /// Takes the oldest unread message, waiting up to `wait_ms` for one to arrive.
    Recv {
        /// How long to wait (0: answer at once).
        wait_ms: u64,
        /// Only this topic.
        topic: Option<String>,
        /// Leave the message unread until the client confirms it holds it with
        /// [`Request::MarkRead`]; until then a `recv` returns it again (at-least-once, so a
        /// client that crashes mid-way loses nothing).
        #[serde(default)]
        keep: bool,
    },
    /// Marks a received message read (after a `recv` with `keep`).
    MarkRead {
        /// Message id (32 hex digits).
        id: String,
    },
    /// A link others can join this node with: its node id and current endpoints.
    Invite {
        /// The link stops being accepted after this many seconds (none: never).
        expires_s: Option<u64>,
    },
    /// Links to the node of an invite link (its endpoints become configured peers; once one
    /// links, the others are dropped again).
    Join {
        /// The link (`hypha://join/…`).
        link: String,
        /// Also mark the node a contact (trusted by the firewall).
        #[serde(default)]
        contact: bool,
    },
    /// Shows the inbound firewall, or changes it first (changes apply at once and persist).
    Firewall {
        /// The change, if any.
        change: Option<FirewallChange>,
    },
}

/// An invite link and what is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Invite {
    /// `hypha://join/<node id>?ep=<endpoint>,…[&exp=<unix seconds>]`.
    pub link: String,
    /// The inviting node.
    pub node_id: String,
    /// Its name, if it holds one.
    pub name: Option<String>,
    /// UDP endpoints in the link.
    pub endpoints: Vec<String>,
    /// When it expires, ms since the Unix epoch.
    pub expires_ms: Option<u64>,
}

/// A change to the inbound firewall. Nodes are given as a name, node id or overlay address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum FirewallChange {
    /// Who may open connections: `contacts`, `everyone` or `nobody`.
    Incoming {
        /// The choice.
        mode: String,
    },
    /// Opens `port` (any if none) over `proto` (`tcp`, `udp`; both if none) to `node` (any
    /// node if none).
    Allow(FirewallRule),
    /// Removes an opening given exactly as it was allowed.
    Remove(FirewallRule),
    /// Marks a node trusted: everything from it passes (unless `nobody`).
    AddContact {
        /// The node.
        node: String,
    },
    /// No longer trusts a node.
    RemoveContact {
        /// The node.
        node: String,
    },
}

/// An opening in the inbound firewall.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FirewallRule {
    /// The node (none: any node). In answers: its node id.
    pub node: Option<String>,
    /// Its name, if it holds one (answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The local port (none: any).
    pub port: Option<u16>,
    /// `tcp` or `udp` (none: both).
    pub proto: Option<String>,
}

/// A trusted node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Node id.
    pub node_id: String,
    /// Its name, if it holds one.
    pub name: Option<String>,
}

/// The inbound firewall: policy and what it dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Firewall {
    /// `contacts`, `everyone` or `nobody`.
    pub incoming: String,
    /// Trusted nodes.
    pub contacts: Vec<Contact>,
    /// Openings.
    pub rules: Vec<FirewallRule>,
    /// TCP ports exposed to the mesh (open to every node unless `nobody`).
    pub exposed: Vec<u16>,
    /// Flows of this host's own connections being tracked.
    pub flows: u64,
    /// Inbound TCP packets dropped.
    pub dropped_tcp: u64,
    /// Inbound UDP packets dropped.
    pub dropped_udp: u64,
    /// Other inbound packets dropped.
    pub dropped_other: u64,
}

/// What `send` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SendRequest {
    /// Destination: node id (hex) or overlay address.
    pub to: String,
    /// Topic (may be empty; ≤ 255 bytes).
    #[serde(default)]
    pub topic: String,
    /// The payload, base64 (standard alphabet), ≤ 1 MiB decoded.
    pub payload: String,
    /// Give up after this many seconds (none: keep trying).
    pub deadline_s: Option<u64>,
    /// The message this one answers (32 hex digits).
    pub reply_to: Option<String>,
    /// A message id of the client's choosing (32 hex digits; none: the service draws one).
    /// Sending the same id again — a retry after a crash or a lost answer — queues nothing
    /// new and answers with the same id.
    #[serde(default)]
    pub id: Option<String>,
}

/// Frames the service sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ServerMsg {
    /// Answer to [`Hello`].
    Welcome(Welcome),
    /// Answer to a request.
    Response {
        /// The request's id.
        id: u64,
        /// The outcome.
        result: Result<Response, ApiError>,
    },
    /// Something happened (after `subscribe`).
    Event(Event),
    /// A problem with the connection itself (bad frame, version); the service closes it.
    Error(ApiError),
}

/// The service's greeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    /// API version the service speaks.
    pub version: u32,
    /// Service build, e.g. `hyphad 0.1.0`.
    pub service: String,
    /// The node's id.
    pub node_id: String,
}

/// Successful answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "data", rename_all = "camelCase")]
pub enum Response {
    /// For `status`.
    Status(Status),
    /// For `peers`.
    Peers(Peers),
    /// For `routes`.
    Routes(Vec<Route>),
    /// For `metrics`.
    Metrics(String),
    /// For `send`: the new message's id (32 hex digits).
    Sent {
        /// Message id.
        id: String,
    },
    /// For `messages`.
    Messages(Messages),
    /// For `recv` and `get`: a message, or none (the wait ran out / no such message).
    Message(Option<Message>),
    /// For `share` and `priority`.
    Sharing(Sharing),
    /// For `facts`.
    Facts(Vec<Fact>),
    /// For `setName` and `names`.
    Names(Vec<NameRecord>),
    /// For `resolve`.
    Resolved(Resolved),
    /// For `forwards`, `addForward`, `removeForward`, `expose`, `unexpose`.
    Forwards(Forwards),
    /// For `trace`.
    Trace(Trace),
    /// For `firewall`.
    Firewall(Firewall),
    /// For `invite`, and for `join` (what was joined).
    Invite(Invite),
    /// For requests that only change something.
    Done,
}

/// Node status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Node id (hex).
    pub node_id: String,
    /// Overlay address.
    pub address: String,
    /// The node's /64.
    pub subnet: String,
    /// Seconds since the service started.
    pub uptime_s: u64,
    /// TUN interface, if any.
    pub tun: Option<String>,
    /// Links up.
    pub links_up: usize,
    /// Destinations with a route.
    pub routes: usize,
    /// Every counter, by name.
    pub counters: BTreeMap<String, u64>,
    /// Share of the uplink forwarded for others, %.
    #[serde(default)]
    pub share_percent: u8,
    /// The resulting limit on forwarded traffic, bits per second (none: unlimited).
    #[serde(default)]
    pub transit_limit_bps: Option<u64>,
    /// The name this node claims (without `.hypha`).
    #[serde(default)]
    pub name: Option<String>,
}

/// A name in the mesh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NameRecord {
    /// The name (without `.hypha`).
    pub name: String,
    /// Who holds it.
    pub node_id: String,
    /// The holder's overlay address.
    pub address: String,
    /// When the holder claimed it, ms since the Unix epoch.
    pub since_ms: u64,
    /// Others claiming it (they lose: the oldest claim wins).
    pub contenders: Vec<String>,
}

/// A resolved node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
    /// Node id.
    pub node_id: String,
    /// Overlay address.
    pub address: String,
    /// Its name, if it holds one.
    pub name: Option<String>,
    /// Whether a route to it exists now.
    pub reachable: bool,
}

/// Port forwards and exposed ports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Forwards {
    /// Local listeners carried to mesh nodes.
    pub forwards: Vec<Forward>,
    /// Overlay ports carried to local services.
    pub exposed: Vec<Exposed>,
}

/// One port forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Forward {
    /// Local listen address.
    pub listen: String,
    /// `NODE:PORT` as given.
    pub target: String,
    /// Connections carried so far.
    pub connections: u64,
    /// Listening now (false: the address could not be bound, see `error`).
    pub active: bool,
    /// Why it is not active.
    pub error: Option<String>,
}

/// One exposed port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Exposed {
    /// Overlay port.
    pub port: u16,
    /// Local service address.
    pub to: String,
    /// Connections carried so far.
    pub connections: u64,
    /// Listening now.
    pub active: bool,
    /// Why it is not active.
    pub error: Option<String>,
}

/// The hops to a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    /// The destination.
    pub node_id: String,
    /// Hops in order; the last is the destination when it answered.
    pub hops: Vec<Hop>,
    /// Whether the destination answered.
    pub reached: bool,
}

/// One hop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Hop {
    /// 1 for the first hop.
    pub ttl: u8,
    /// The node that answered (none: no answer in time).
    pub node_id: Option<String>,
    /// Its name, if any.
    pub name: Option<String>,
    /// Round-trip time, milliseconds.
    pub rtt_ms: Option<f64>,
}

/// Links and configured peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Peers {
    /// Every link, including ones still handshaking.
    pub links: Vec<Link>,
    /// Configured peer URIs.
    pub configured: Vec<String>,
}

/// One link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Link {
    /// The neighbour's node id, once authenticated.
    pub node_id: Option<String>,
    /// Where it is (`udp://…` or `tcp#n`).
    pub remote: String,
    /// `handshaking`, `unconfirmed` or `up`.
    pub state: String,
    /// Routing cost of the link.
    pub cost: Option<u16>,
    /// Smoothed RTT, milliseconds.
    pub rtt_ms: Option<f64>,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// The neighbour's forwarding priority weight (1 = normal), once authenticated.
    #[serde(default)]
    pub priority: Option<u32>,
}

/// Sharing settings and what they do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Sharing {
    /// Share of the uplink for others' traffic, %.
    pub percent: u8,
    /// Configured uplink, bits per second.
    pub uplink_bps: Option<u64>,
    /// The uplink as measured (the highest egress sustained for 3 s), bits per second; the
    /// share applies to it when no uplink is configured.
    #[serde(default)]
    pub uplink_measured_bps: Option<u64>,
    /// The resulting limit on forwarded traffic, bits per second (none: unlimited).
    pub limit_bps: Option<u64>,
    /// Per neighbour: weight and transit statistics.
    pub neighbours: Vec<NeighbourShare>,
}

/// One neighbour's transit figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NeighbourShare {
    /// Node id.
    pub node_id: String,
    /// Priority weight.
    pub weight: u32,
    /// Bytes forwarded for it.
    pub forwarded_bytes: u64,
    /// Packets dropped by the share limit.
    pub dropped_share: u64,
    /// Current forwarding rate, bits per second.
    pub rate_bps: f64,
}

/// A signed endpoint fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Fact {
    /// Whom it is about.
    pub subject: String,
    /// Who signed it (the subject itself, or a neighbour that saw the endpoint).
    pub signer: String,
    /// The endpoint.
    pub endpoint: String,
    /// Signed at, ms since the Unix epoch.
    pub issued_ms: u64,
    /// Expires at, ms since the Unix epoch.
    pub expires_ms: u64,
}

/// The outbox and the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Messages {
    /// Sent by this node.
    pub outbox: Vec<OutMessage>,
    /// Received by this node.
    pub inbox: Vec<InMessage>,
}

/// An outgoing message's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OutMessage {
    /// Message id.
    pub id: String,
    /// Destination node id.
    pub to: String,
    /// Topic.
    pub topic: String,
    /// `queued`, `sent`, `delivered`, `expired` or `failed`.
    pub status: String,
    /// Payload bytes.
    pub size: usize,
    /// Queued at, ms since the Unix epoch.
    pub created_ms: u64,
    /// Deadline, ms since the Unix epoch.
    pub deadline_ms: Option<u64>,
}

/// A received message's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InMessage {
    /// Message id.
    pub id: String,
    /// Sender node id.
    pub from: String,
    /// Topic.
    pub topic: String,
    /// The message it answers.
    pub reply_to: Option<String>,
    /// Payload bytes.
    pub size: usize,
    /// Arrived at, ms since the Unix epoch.
    pub received_ms: u64,
    /// Already taken by `recv`.
    pub read: bool,
}

/// A received message with its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Record.
    #[serde(flatten)]
    pub info: InMessage,
    /// Payload, base64.
    pub payload: String,
}

/// One selected route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// Destination /64.
    pub subnet: String,
    /// Destination node id.
    pub node_id: String,
    /// Next hop's node id.
    pub next_hop: Option<String>,
    /// Metric.
    pub metric: u16,
}

/// Pushed to subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    /// A neighbour link came up.
    PeerUp {
        /// Neighbour.
        node_id: String,
        /// Where.
        remote: String,
    },
    /// A neighbour link went down.
    PeerDown {
        /// Neighbour.
        node_id: String,
        /// Why.
        reason: String,
    },
    /// An outgoing message changed status.
    MessageStatus {
        /// Message id.
        id: String,
        /// New status.
        status: String,
    },
    /// A message arrived.
    MessageReceived {
        /// Message id.
        id: String,
        /// Sender.
        from: String,
        /// Topic.
        topic: String,
        /// Payload bytes.
        size: usize,
    },
    /// Once a second: traffic rates, so that displays stay live without polling.
    Stats {
        /// Bits per second received on all links.
        rx_bps: u64,
        /// Bits per second sent on all links.
        tx_bps: u64,
        /// Bits per second forwarded for others.
        forwarded_bps: u64,
        /// The limit on forwarded traffic (none: unlimited).
        limit_bps: Option<u64>,
        /// Links up.
        links_up: usize,
        /// Destinations with a route.
        routes: usize,
    },
    /// The route to a destination changed.
    RouteChanged {
        /// Destination /64.
        subnet: String,
        /// Reachable now.
        reachable: bool,
    },
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("{message}")]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    /// Machine-readable kind.
    pub code: ErrorCode,
    /// For people.
    pub message: String,
}

/// Kinds of [`ApiError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    /// The frame was not a valid message.
    BadRequest,
    /// The client's API version is not spoken here.
    UnsupportedVersion,
    /// The frame was larger than allowed.
    TooLarge,
    /// The thing named does not exist.
    NotFound,
    /// The caller may not do this.
    PermissionDenied,
    /// The HTTP API was called without its token, or with a wrong one.
    Unauthorized,
    /// The service failed.
    Internal,
}

impl ApiError {
    /// An error of `code` with a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_is_stable() {
        let m = ClientMsg::Request {
            id: 3,
            request: Request::AddPeer {
                uri: "udp://[::1]:9651".into(),
            },
        };
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(
            j,
            r#"{"request":{"id":3,"request":{"type":"addPeer","uri":"udp://[::1]:9651"}}}"#
        );
        assert_eq!(serde_json::from_str::<ClientMsg>(&j).unwrap(), m);
        let r = ServerMsg::Response {
            id: 3,
            result: Err(ApiError::new(ErrorCode::NotFound, "no such peer")),
        };
        let j = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<ServerMsg>(&j).unwrap(), r);
    }
}
