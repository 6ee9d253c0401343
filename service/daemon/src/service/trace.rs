//! `hypha trace`: probes with growing hop limits; each relay where one runs out, and finally
//! the destination, answers (see `hypha_proto::wire::probe`). One probe per hop, one second
//! to answer.

use std::time::Duration;

use hypha_ipc::api::{self, ApiError, ErrorCode, Response};
use hypha_proto::identity::NodeId;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Service;

/// How long a hop has to answer.
const HOP_TIMEOUT: Duration = Duration::from_secs(1);
/// Hops tried when the request gives no limit.
const DEFAULT_MAX_HOPS: u8 = 16;
/// Traces running at once (each costs little, but the answers are rate-limited mesh-wide).
const MAX_TRACES: usize = 8;

type Reply = oneshot::Sender<Result<Response, ApiError>>;

/// A trace in progress.
pub(super) struct PendingTrace {
    dst: NodeId,
    max: u8,
    /// The outstanding probe: its hop limit, id and when it left.
    probe: Option<(u8, u64, Instant)>,
    hops: Vec<api::Hop>,
    reply: Reply,
}

impl Service {
    /// Starts tracing `target`; the answer goes to `reply` when done.
    pub(super) fn start_trace(&mut self, target: &str, max_hops: Option<u8>, reply: Reply) {
        let dst = match self.resolve(target).and_then(|r| {
            // Never trust the id to be a usable key: a bad one is an error, not a panic.
            NodeId::from_hex(&r.node_id)
                .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("{target}: {e}")))
        }) {
            Ok(id) => id,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        if self.traces.len() >= MAX_TRACES {
            let _ = reply.send(Err(ApiError::new(
                ErrorCode::Internal,
                "too many traces running; try again in a few seconds",
            )));
            return;
        }
        if dst == self.node.node_id() {
            let _ = reply.send(Ok(Response::Trace(api::Trace {
                node_id: dst.to_hex(),
                hops: Vec::new(),
                reached: true,
            })));
            return;
        }
        let mut t = PendingTrace {
            dst,
            max: max_hops.unwrap_or(DEFAULT_MAX_HOPS).clamp(1, 64),
            probe: None,
            hops: Vec::new(),
            reply,
        };
        if self.send_probe(&mut t) {
            self.traces.push(t);
        }
    }

    /// Sends the probe for the next hop; false when the trace is over (answered).
    fn send_probe(&mut self, t: &mut PendingTrace) -> bool {
        let ttl = t.hops.len() as u8 + 1;
        if ttl > t.max {
            return false;
        }
        match self.node.send_probe(&t.dst, ttl) {
            Some(id) => {
                t.probe = Some((ttl, id, Instant::now()));
                true
            }
            None => false,
        }
    }

    fn finish(&self, t: PendingTrace) {
        let reached = t.hops.last().and_then(|h| h.node_id.as_ref()) == Some(&t.dst.to_hex());
        if t.hops.is_empty() && !reached {
            let _ = t.reply.send(Err(ApiError::new(
                ErrorCode::NotFound,
                format!("no route to {}", t.dst.to_hex()),
            )));
            return;
        }
        let _ = t.reply.send(Ok(Response::Trace(api::Trace {
            node_id: t.dst.to_hex(),
            hops: t.hops,
            reached,
        })));
    }

    /// Probe answers from the node.
    pub(super) fn on_probe_replies(&mut self, replies: Vec<(NodeId, u64, bool)>) {
        if replies.is_empty() || self.traces.is_empty() {
            return;
        }
        let names = hypha_proto::names::settle(self.node.facts());
        let name_of = |n: &NodeId| {
            names
                .values()
                .find(|e| e.node == *n)
                .map(|e| e.name.clone())
        };
        let mut traces = std::mem::take(&mut self.traces);
        for (from, counter, reached) in replies {
            let Some(i) = traces
                .iter()
                .position(|t| t.probe.is_some_and(|(_, id, _)| id == counter))
            else {
                continue;
            };
            let mut t = traces.swap_remove(i);
            let (ttl, _, sent) = t.probe.take().expect("matched");
            t.hops.push(api::Hop {
                ttl,
                node_id: Some(from.to_hex()),
                name: name_of(&from),
                rtt_ms: Some(sent.elapsed().as_secs_f64() * 1000.0),
            });
            if reached || !self.send_probe(&mut t) {
                self.finish(t);
            } else {
                traces.push(t);
            }
        }
        self.traces.extend(traces);
    }

    /// Hops that did not answer in time.
    pub(super) fn trace_tick(&mut self) {
        let now = Instant::now();
        let mut traces = std::mem::take(&mut self.traces);
        let mut keep = Vec::with_capacity(traces.len());
        for mut t in traces.drain(..) {
            if t.reply.is_closed() {
                continue;
            }
            match t.probe {
                Some((ttl, _, sent)) if now.duration_since(sent) >= HOP_TIMEOUT => {
                    t.probe = None;
                    t.hops.push(api::Hop {
                        ttl,
                        node_id: None,
                        name: None,
                        rtt_ms: None,
                    });
                    if self.send_probe(&mut t) {
                        keep.push(t);
                    } else {
                        self.finish(t);
                    }
                }
                _ => keep.push(t),
            }
        }
        self.traces.extend(keep);
    }
}
