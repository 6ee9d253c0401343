//! A JSON snapshot of the node, written atomically to a file for scripts and tests (until the
//! IPC API lands, this is how to read counters from outside).

use std::path::Path;

use hypha_proto::discovery::DiscoveryCounters;
use hypha_proto::node::{LinkState, Node, Remote};
use serde_json::{Value, json};

/// The snapshot.
pub fn snapshot(node: &Node, disc: Option<&DiscoveryCounters>, tun: Option<&str>) -> Value {
    let id = node.node_id();
    let links: Vec<Value> = node
        .links()
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "remote": remote(&l.remote),
                "node": l.node.map(|n| n.to_hex()),
                "state": match l.state {
                    LinkState::Handshaking => "handshaking",
                    LinkState::Unconfirmed => "unconfirmed",
                    LinkState::Up => "up",
                },
                "cost": l.cost,
                "rttMs": l.rtt.map(|r| r.as_secs_f64() * 1000.0),
                "rxBytes": l.rx_bytes,
                "txBytes": l.tx_bytes,
            })
        })
        .collect();
    let mut routes: Vec<Value> = node
        .routes()
        .map(|r| {
            json!({
                "subnet": r.subnet.to_string(),
                "node": r.node.to_hex(),
                "nextHop": node.link_node(r.next_hop).map(|n| n.to_hex()),
                "metric": r.metric,
                "seqno": r.seqno,
            })
        })
        .collect();
    routes.sort_by(|a, b| a["subnet"].as_str().cmp(&b["subnet"].as_str()));
    let c = &node.counters;
    let b = &node.babel().counters;
    json!({
        "nodeId": id.to_hex(),
        "address": id.address().to_string(),
        "subnet": id.subnet().to_string(),
        "tun": tun,
        "links": links,
        "routes": routes,
        "counters": {
            "datagramsIn": c.datagrams_in, "datagramsOut": c.datagrams_out,
            "malformed": c.malformed, "handshakesOk": c.handshakes_ok,
            "handshakesFailed": c.handshakes_failed, "refusedNotAllowed": c.refused_not_allowed,
            "refusedPendingFull": c.refused_pending_full, "unknownIndex": c.unknown_index,
            "linkAuthFailed": c.link_auth_failed, "linkReplayed": c.link_replayed,
            "forwardedPackets": c.forwarded_packets, "forwardedBytes": c.forwarded_bytes,
            "deliveredPackets": c.delivered_packets, "sentPackets": c.sent_packets,
            "noRoute": c.no_route, "hopLimitExceeded": c.hop_limit_exceeded,
            "bounced": c.bounced, "tunRejected": c.tun_rejected,
            "spoofedSource": c.spoofed_source, "e2eAuthFailed": c.e2e_auth_failed,
            "e2eReplayed": c.e2e_replayed, "e2eStaleEpoch": c.e2e_stale_epoch,
        },
        "routing": {
            "updatesReceived": b.updates_received, "updatesSent": b.updates_sent,
            "rejectedFilter": b.rejected_filter, "rejectedLimit": b.rejected_limit,
            "unfeasible": b.unfeasible, "badTlvs": b.bad_tlvs,
            "seqnoRequestsSent": b.seqno_requests_sent,
            "seqnoRequestsReceived": b.seqno_requests_received,
            "routesExpired": b.routes_expired, "routesLost": b.routes_lost,
        },
        "discovery": disc.map(|d| json!({
            "hellos": d.hellos, "confirms": d.confirms, "badSignature": d.bad_signature,
            "replayed": d.replayed, "otherNetwork": d.other_network,
            "malformed": d.malformed, "own": d.own,
        })),
    })
}

fn remote(r: &Remote) -> String {
    r.to_string()
}

/// Writes `v` to `path` atomically.
pub fn write(path: &Path, v: &Value) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(v)?)?;
    std::fs::rename(&tmp, path)
}
