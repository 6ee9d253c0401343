//! Counters, status and metrics, built in one place: the status file, the API's `status` and
//! the Prometheus exposition all read [`counter_groups`].

use std::collections::BTreeMap;
use std::path::Path;

use hypha_ipc::api;
use hypha_proto::discovery::DiscoveryCounters;
use hypha_proto::node::{LinkInfo, LinkState, Node};
use serde_json::{Value, json};

/// Every counter, by group then name (camelCase names).
pub fn counter_groups(
    node: &Node,
    disc: Option<&DiscoveryCounters>,
) -> Vec<(&'static str, Vec<(&'static str, u64)>)> {
    let c = &node.counters;
    let b = &node.babel().counters;
    let mut groups = vec![
        (
            "counters",
            vec![
                ("datagramsIn", c.datagrams_in),
                ("datagramsOut", c.datagrams_out),
                ("malformed", c.malformed),
                ("handshakesOk", c.handshakes_ok),
                ("handshakesFailed", c.handshakes_failed),
                ("handshakeBadMac", c.handshake_bad_mac),
                ("refusedNotAllowed", c.refused_not_allowed),
                ("refusedPendingFull", c.refused_pending_full),
                ("refusedPerSource", c.refused_per_source),
                ("refusedInitiatingFull", c.refused_initiating_full),
                ("handshakeReplayed", c.handshake_replayed),
                ("handshakeCookiesSent", c.handshake_cookies_sent),
                ("handshakesResent", c.handshakes_resent),
                ("unknownIndex", c.unknown_index),
                ("linkAuthFailed", c.link_auth_failed),
                ("linkReplayed", c.link_replayed),
                ("linkRekeys", c.link_rekeys),
                ("linkRekeysFailed", c.link_rekeys_failed),
                ("packetTooBig", c.packet_too_big),
                ("pmtuProbes", c.pmtu_probes),
                ("pmtuLowered", c.pmtu_lowered),
                ("forwardedPackets", c.forwarded_packets),
                ("forwardedBytes", c.forwarded_bytes),
                ("forwardedInPlace", c.forwarded_in_place),
                ("deliveredPackets", c.delivered_packets),
                ("sentPackets", c.sent_packets),
                ("noRoute", c.no_route),
                ("hopLimitExceeded", c.hop_limit_exceeded),
                ("bounced", c.bounced),
                ("droppedShare", c.dropped_share),
                ("directAttempts", c.direct_attempts),
                ("tunRejected", c.tun_rejected),
                ("spoofedSource", c.spoofed_source),
                ("e2eAuthFailed", c.e2e_auth_failed),
                ("e2eReplayed", c.e2e_replayed),
                ("e2eUnknownSession", c.e2e_unknown_session),
                ("e2eHellosLimited", c.e2e_hellos_limited),
            ],
        ),
        (
            "routing",
            vec![
                ("updatesReceived", b.updates_received),
                ("updatesSent", b.updates_sent),
                ("rejectedFilter", b.rejected_filter),
                ("rejectedLimit", b.rejected_limit),
                ("unfeasible", b.unfeasible),
                ("badTlvs", b.bad_tlvs),
                ("seqnoRequestsSent", b.seqno_requests_sent),
                ("seqnoRequestsReceived", b.seqno_requests_received),
                ("routesExpired", b.routes_expired),
                ("routesLost", b.routes_lost),
                ("forgedOrigins", b.forged_origins),
                ("originVerifications", b.origin_verifications),
                ("seqnoRequestsLimited", b.seqno_requests_limited),
                ("ackRetries", b.ack_retries),
                ("acksReceived", b.acks_received),
                ("ackGiveUps", b.ack_give_ups),
                ("ackRetriesPaused", b.ack_retries_paused),
                ("signaturesLeftOut", b.signatures_left_out),
                ("signaturesNotHeld", b.signatures_not_held),
            ],
        ),
    ];
    let f = &node.facts().counters;
    groups.push((
        "facts",
        vec![
            ("accepted", f.accepted),
            ("forged", f.forged),
            ("expired", f.expired),
            ("untrusted", f.untrusted),
            ("rateLimited", f.rate_limited),
            ("malformed", f.malformed),
            ("duplicates", f.duplicates),
        ],
    ));
    let m = &node.bus().counters;
    groups.push((
        "bus",
        vec![
            ("chunksSent", m.chunks_sent),
            ("chunksResent", m.chunks_resent),
            ("chunksReceived", m.chunks_received),
            ("chunksDuplicate", m.chunks_duplicate),
            ("acksSent", m.acks_sent),
            ("acksReceived", m.acks_received),
            ("received", m.received),
            ("storeFailed", m.store_failed),
            ("acksRegressed", m.acks_regressed),
            ("probes", m.probes),
            ("delivered", m.delivered),
            ("expired", m.expired),
            ("refused", m.refused),
            ("rejected", m.rejected),
        ],
    ));
    let fw = node.firewall();
    groups.push((
        "firewall",
        vec![
            ("droppedTcp", fw.counters.dropped_tcp),
            ("droppedUdp", fw.counters.dropped_udp),
            ("droppedOther", fw.counters.dropped_other),
            ("flowsEvicted", fw.counters.flows_evicted),
        ],
    ));
    if let Some(d) = disc {
        groups.push((
            "discovery",
            vec![
                ("hellos", d.hellos),
                ("confirms", d.confirms),
                ("badSignature", d.bad_signature),
                ("replayed", d.replayed),
                ("otherNetwork", d.other_network),
                ("malformed", d.malformed),
                ("own", d.own),
                ("offLink", d.off_link),
                ("dialsLimited", d.dials_limited),
            ],
        ));
    }
    groups
}

/// Counters flattened as `group.name`.
pub fn flat_counters(groups: &[(&'static str, Vec<(&'static str, u64)>)]) -> BTreeMap<String, u64> {
    groups
        .iter()
        .flat_map(|(g, cs)| cs.iter().map(move |(n, v)| (format!("{g}.{n}"), *v)))
        .collect()
}

fn state_name(s: LinkState) -> &'static str {
    match s {
        LinkState::Handshaking => "handshaking",
        LinkState::Unconfirmed => "unconfirmed",
        LinkState::Up => "up",
    }
}

/// A link as the API shows it.
pub fn api_link(node: &Node, l: &LinkInfo) -> api::Link {
    api::Link {
        priority: l.node.map(|n| node.priority_of(n)),
        node_id: l.node.map(|n| n.to_hex()),
        remote: l.remote.to_string(),
        state: state_name(l.state).to_string(),
        cost: l.cost,
        rtt_ms: l.rtt.map(|r| r.as_secs_f64() * 1000.0),
        rx_bytes: l.rx_bytes,
        tx_bytes: l.tx_bytes,
    }
}

/// Selected routes as the API shows them, sorted by subnet.
pub fn api_routes(node: &Node) -> Vec<api::Route> {
    let mut v: Vec<api::Route> = node
        .routes()
        .map(|r| api::Route {
            subnet: r.subnet.to_string(),
            node_id: r.node.to_hex(),
            next_hop: node.link_node(r.next_hop).map(|n| n.to_hex()),
            metric: r.metric,
        })
        .collect();
    v.sort_by(|a, b| a.subnet.cmp(&b.subnet));
    v
}

/// The status-file snapshot.
pub fn snapshot(node: &Node, disc: Option<&DiscoveryCounters>, tun: Option<&str>) -> Value {
    let id = node.node_id();
    let mut v = json!({
        "nodeId": id.to_hex(),
        "address": id.address().to_string(),
        "subnet": id.subnet().to_string(),
        "tun": tun,
        "links": node.links().iter().map(|l| api_link(node, l)).collect::<Vec<_>>(),
        "routes": api_routes(node),
        "discovery": null,
    });
    for (g, cs) in counter_groups(node, disc) {
        let m: serde_json::Map<String, Value> = cs
            .into_iter()
            .map(|(n, x)| (n.to_string(), json!(x)))
            .collect();
        v[g] = Value::Object(m);
    }
    v
}

fn snake(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// `udp_recv_calls` → `udp.recvCalls`: the I/O counters' names in the status style.
pub fn dotted(snake: &str) -> String {
    let (group, rest) = snake.split_once('_').unwrap_or(("io", snake));
    let mut out = format!("{group}.");
    let mut up = false;
    for ch in rest.chars() {
        if ch == '_' {
            up = true;
        } else if up {
            out.push(ch.to_ascii_uppercase());
            up = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// The metric name of a status counter: `counters.datagramsIn` → `hypha_counters_datagrams_in_total`.
pub fn metric_name(key: &str) -> String {
    let (group, name) = key.split_once('.').unwrap_or(("service", key));
    format!("hypha_{group}_{}_total", snake(name))
}

/// Prometheus text exposition: every counter of `status` (`counters`, see
/// `Service::all_counters`), and gauges.
pub fn metrics(node: &Node, counters: &BTreeMap<String, u64>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let links = node.links();
    let up = links.iter().filter(|l| l.state == LinkState::Up).count();
    let mut gauge = |name: &str, help: &str, v: u64| {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
        );
    };
    gauge("hypha_links_up", "Neighbour links in use.", up as u64);
    gauge(
        "hypha_routes",
        "Destinations with a selected route.",
        node.babel().route_count() as u64,
    );
    gauge(
        "hypha_firewall_flows",
        "Flows of this host's own connections tracked by the inbound firewall.",
        node.firewall().flows() as u64,
    );
    for (key, v) in counters {
        let name = metric_name(key);
        let _ = write!(
            out,
            "# HELP {name} The status counter {key}.\n# TYPE {name} counter\n{name} {v}\n"
        );
    }
    out.push_str(concat!(
        "# HELP hypha_link_rx_bytes_total Bytes received on a neighbour link.\n",
        "# TYPE hypha_link_rx_bytes_total counter\n",
    ));
    for l in links.iter().filter(|l| l.state == LinkState::Up) {
        let peer = l.node.map(|n| n.to_hex()).unwrap_or_default();
        let _ = writeln!(
            out,
            "hypha_link_rx_bytes_total{{peer=\"{peer}\"}} {}",
            l.rx_bytes
        );
    }
    out.push_str(concat!(
        "# HELP hypha_link_tx_bytes_total Bytes sent on a neighbour link.\n",
        "# TYPE hypha_link_tx_bytes_total counter\n",
    ));
    for l in links.iter().filter(|l| l.state == LinkState::Up) {
        let peer = l.node.map(|n| n.to_hex()).unwrap_or_default();
        let _ = writeln!(
            out,
            "hypha_link_tx_bytes_total{{peer=\"{peer}\"}} {}",
            l.tx_bytes
        );
    }
    out
}

/// Writes `v` to `path` atomically.
pub fn write(path: &Path, v: &Value) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(v)?)?;
    std::fs::rename(&tmp, path)
}
