//! The message bus, sans IO: reliable delivery of opaque messages (≤ 1 MiB) between nodes.
//!
//! A message is cut into chunks ([`crate::wire::bus_chunk`]) sent end to end like any routed
//! payload. The receiver reassembles by offset and answers with selective acknowledgements
//! ([`crate::wire::bus_ack`]) — after a short delay while chunks keep coming, at once when the
//! message is complete. The sender keeps at most a window of unacknowledged chunks in flight and
//! resends a chunk when its retransmission timeout passes (ack-clocked, with backoff while no
//! progress is made). Receivers remember which messages they completed, so a sender that
//! restarts and resends gets "complete" back and nothing is delivered twice; the daemon persists
//! both sides so a restart loses nothing. An ack replaces what earlier acks said, so a receiver
//! that lost its half-reassembled message in a crash gets the missing chunks again. Deadlines are wall-clock, so they hold across
//! restarts too.

pub mod ranges;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::identity::NodeId;
use crate::time::Timestamp;
use crate::wire::bus_ack::{BusAckRepr, FLAG_COMPLETE, FLAG_REFUSED, MAX_RANGES};
use crate::wire::bus_chunk::{BusChunkRepr, MAX_MESSAGE_LEN};
use crate::wire::routed::PayloadKind;
use ranges::RangeSet;

/// Most separate byte ranges one message's reassembly may hold. A sender's chunks are
/// contiguous slices of `chunk_len` bytes, so a 1 MiB message has at most 512 holes; more
/// means chunks cut to fragment the receiver's state, and the reassembly is dropped.
pub const MAX_PARTIAL_RANGES: usize = 4096;

/// A message id (random, chosen by the sender).
pub type MsgId = [u8; 16];

/// Where an outgoing message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgStatus {
    /// Waiting for a route to the destination (nothing sent yet).
    Queued,
    /// Chunks are on their way.
    Sent,
    /// The destination has all of it.
    Delivered,
    /// The deadline passed first.
    Expired,
    /// The destination refused it (topic not allowed).
    Failed,
}

impl MsgStatus {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            MsgStatus::Queued => "queued",
            MsgStatus::Sent => "sent",
            MsgStatus::Delivered => "delivered",
            MsgStatus::Expired => "expired",
            MsgStatus::Failed => "failed",
        }
    }

    /// Parses [`MsgStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => MsgStatus::Queued,
            "sent" => MsgStatus::Sent,
            "delivered" => MsgStatus::Delivered,
            "expired" => MsgStatus::Expired,
            "failed" => MsgStatus::Failed,
            _ => return None,
        })
    }

    /// No further change will happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            MsgStatus::Delivered | MsgStatus::Expired | MsgStatus::Failed
        )
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Its id.
    pub id: MsgId,
    /// Destination.
    pub to: NodeId,
    /// Topic (≤ 255 bytes).
    pub topic: String,
    /// The message this one answers.
    pub reply_to: Option<MsgId>,
    /// Contents.
    pub payload: Vec<u8>,
    /// Wall-clock deadline, ms since the Unix epoch.
    pub deadline_ms: Option<u64>,
}

/// A message received whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Its id.
    pub id: MsgId,
    /// Sender.
    pub from: NodeId,
    /// Topic.
    pub topic: String,
    /// The message it answers.
    pub reply_to: Option<MsgId>,
    /// Contents.
    pub payload: Vec<u8>,
}

/// What the bus reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusEvent {
    /// An outgoing message changed status.
    Status {
        /// Which.
        id: MsgId,
        /// Now.
        status: MsgStatus,
    },
    /// A message arrived whole (exactly once per sender and id).
    Received(Incoming),
}

/// Why a message was not accepted for sending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Larger than 1 MiB.
    #[error("message of {0} bytes is over the 1 MiB limit")]
    TooLarge(usize),
    /// Topic over 255 bytes.
    #[error("topic is over 255 bytes")]
    TopicTooLong,
    /// The id is already in the outbox.
    #[error("a message with this id is already queued")]
    Duplicate,
}

/// Tunables.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Payload bytes per chunk (keeps datagrams under a 1500-byte MTU).
    pub chunk_len: usize,
    /// Chunks in flight per message.
    pub window: usize,
    /// First retransmission timeout.
    pub rto: Duration,
    /// Largest retransmission timeout.
    pub max_rto: Duration,
    /// Delay before acknowledging an incomplete message (batches acks).
    pub ack_delay: Duration,
    /// When set, only these topics are accepted.
    pub allowed_topics: Option<Vec<String>>,
    /// Incoming messages reassembled at once.
    pub max_partial: usize,
    /// Completed message ids remembered for duplicate suppression.
    pub remember: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            chunk_len: 1024,
            window: 64,
            rto: Duration::from_millis(250),
            max_rto: Duration::from_secs(4),
            ack_delay: Duration::from_millis(10),
            allowed_topics: None,
            max_partial: 64,
            remember: 100_000,
        }
    }
}

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusCounters {
    /// Chunks sent (first time).
    pub chunks_sent: u64,
    /// Chunks sent again.
    pub chunks_resent: u64,
    /// Chunks received.
    pub chunks_received: u64,
    /// Chunks received that we already had.
    pub chunks_duplicate: u64,
    /// Acks sent.
    pub acks_sent: u64,
    /// Acks received.
    pub acks_received: u64,
    /// Messages delivered to us.
    pub received: u64,
    /// Our messages delivered.
    pub delivered: u64,
    /// Our messages expired.
    pub expired: u64,
    /// Messages refused (topic not allowed), either way.
    pub refused: u64,
    /// Chunks or acks that made no sense (inconsistent lengths, unknown message), and chunks
    /// that cut a reassembly into more than [`MAX_PARTIAL_RANGES`] pieces (it is dropped).
    pub rejected: u64,
    /// Messages received whole that the owner could not store: refused, not acknowledged.
    pub store_failed: u64,
    /// Acks that held less than an earlier one (the receiver lost a reassembly: it
    /// restarted, or dropped a stale one): the chunks it lost are sent again.
    pub acks_regressed: u64,
    /// Chunks sent to ask a receiver that acknowledged every chunk but never reported the
    /// message complete (it restarted before it had the last one).
    pub probes: u64,
}

struct OutState {
    msg: Outgoing,
    status: MsgStatus,
    acked: RangeSet,
    sent_at: Vec<Option<Timestamp>>,
    rto: Duration,
}

impl OutState {
    /// Every byte acknowledged, yet no "complete": the receiver lost its reassembly after
    /// acknowledging (a crash). Its answer to the last chunk, sent again on the usual
    /// timeout, tells what it still holds.
    fn all_acked(&self) -> bool {
        let total = self.msg.payload.len();
        total > 0 && self.acked.covers(0, total as u32)
    }

    /// The bytes chunk `i` carries, as a range of offsets.
    fn chunk(&self, i: usize, chunk_len: usize) -> (u32, u32) {
        let total = self.msg.payload.len();
        (
            (i * chunk_len) as u32,
            ((i + 1) * chunk_len).min(total) as u32,
        )
    }

    /// Chunk `i` needs no more sending: acknowledged, but for the last chunk when every byte
    /// is (`probe`, [`OutState::all_acked`]): that one probes the receiver.
    fn chunk_done(&self, i: usize, chunk_len: usize, probe: bool) -> bool {
        let (s, e) = self.chunk(i, chunk_len);
        !self.msg.payload.is_empty()
            && self.acked.covers(s, e)
            && !(probe && i + 1 == self.sent_at.len())
    }
}

struct Partial {
    total: u32,
    topic: String,
    reply_to: Option<MsgId>,
    have: RangeSet,
    data: Vec<u8>,
    last: Timestamp,
}

/// The bus of one node.
pub struct Bus {
    cfg: BusConfig,
    out: BTreeMap<MsgId, OutState>,
    partial: FxHashMap<(NodeId, MsgId), Partial>,
    completed: FxHashSet<(NodeId, MsgId)>,
    completed_order: VecDeque<(NodeId, MsgId)>,
    acks_due: BTreeMap<(NodeId, MsgId), (Timestamp, u8)>,
    /// When the first chunk in flight times out, as of the last [`Bus::poll_transmit`]. Not
    /// worked out from `out` in [`Bus::poll_timeout`]: a chunk already acknowledged, one
    /// waiting for a window slot and a message without a route keep a time in the past that
    /// `poll_transmit` does not act on, and the node's timer fired again at once, over and
    /// over (a sending daemon spun a core for as long as a lossy transfer lasted).
    resend_at: Option<Timestamp>,
    events: VecDeque<BusEvent>,
    /// Counters.
    pub counters: BusCounters,
}

impl Bus {
    /// An empty bus.
    pub fn new(cfg: BusConfig) -> Self {
        Bus {
            cfg,
            out: BTreeMap::new(),
            partial: FxHashMap::default(),
            completed: FxHashSet::default(),
            completed_order: VecDeque::new(),
            acks_due: BTreeMap::new(),
            resend_at: None,
            events: VecDeque::new(),
            counters: BusCounters::default(),
        }
    }

    /// Queues a message (also used to reload the outbox after a restart).
    pub fn send(&mut self, msg: Outgoing) -> Result<(), SendError> {
        if msg.payload.len() > MAX_MESSAGE_LEN as usize {
            return Err(SendError::TooLarge(msg.payload.len()));
        }
        if msg.topic.len() > 255 {
            return Err(SendError::TopicTooLong);
        }
        if self.out.contains_key(&msg.id) {
            return Err(SendError::Duplicate);
        }
        let chunks = msg.payload.len().div_ceil(self.cfg.chunk_len).max(1);
        self.out.insert(
            msg.id,
            OutState {
                msg,
                status: MsgStatus::Queued,
                acked: RangeSet::new(),
                sent_at: vec![None; chunks],
                rto: self.cfg.rto,
            },
        );
        Ok(())
    }

    /// Status of a message still in the outbox.
    pub fn status(&self, id: &MsgId) -> Option<MsgStatus> {
        self.out.get(id).map(|o| o.status)
    }

    /// Remembers that `(from, id)` was already delivered (reloaded from the inbox), so a
    /// resend is acknowledged without delivering it again.
    pub fn remember_completed(&mut self, from: NodeId, id: MsgId) {
        if self.completed.insert((from, id)) {
            self.completed_order.push_back((from, id));
            while self.completed_order.len() > self.cfg.remember {
                if let Some(old) = self.completed_order.pop_front() {
                    self.completed.remove(&old);
                }
            }
        }
    }

    /// The owner could not store message `id` from `from` (a full disk, say), which the bus
    /// has just reported as received: it is refused instead of acknowledged, so its sender
    /// sees it failed rather than delivered. Call before the node sends again.
    pub fn store_failed(&mut self, now: Timestamp, from: NodeId, id: MsgId) {
        self.completed.remove(&(from, id));
        self.acks_due.insert((from, id), (now, FLAG_REFUSED));
        self.counters.store_failed += 1;
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<BusEvent> {
        self.events.pop_front()
    }

    fn finish(&mut self, id: MsgId, status: MsgStatus) {
        if self.out.remove(&id).is_some() {
            self.events.push_back(BusEvent::Status { id, status });
        }
    }

    /// Expires messages whose deadline passed (`wall_ms`: ms since the Unix epoch).
    pub fn expire(&mut self, wall_ms: u64) {
        let due: Vec<MsgId> = self
            .out
            .values()
            .filter(|o| o.msg.deadline_ms.is_some_and(|d| d <= wall_ms))
            .map(|o| o.msg.id)
            .collect();
        for id in due {
            self.counters.expired += 1;
            self.finish(id, MsgStatus::Expired);
        }
    }

    /// A chunk arrived from `from`.
    pub fn on_chunk(&mut self, now: Timestamp, from: NodeId, c: &BusChunkRepr<'_>) {
        self.counters.chunks_received += 1;
        let key = (from, c.msg_id);
        if self.completed.contains(&key) {
            self.counters.chunks_duplicate += 1;
            self.acks_due.insert(key, (now, FLAG_COMPLETE));
            return;
        }
        if let Some(allowed) = &self.cfg.allowed_topics
            && !allowed.iter().any(|t| t == c.topic)
        {
            self.counters.refused += 1;
            self.acks_due.insert(key, (now, FLAG_REFUSED));
            return;
        }
        if !self.partial.contains_key(&key) && self.partial.len() >= self.cfg.max_partial {
            // Make room by dropping the stalest reassembly; its sender will resend.
            if let Some(old) = self
                .partial
                .iter()
                .min_by_key(|(_, p)| p.last)
                .map(|(k, _)| *k)
            {
                self.partial.remove(&old);
            }
        }
        let p = self.partial.entry(key).or_insert_with(|| Partial {
            total: c.total_len,
            topic: c.topic.to_string(),
            reply_to: c.reply_to,
            have: RangeSet::new(),
            data: vec![0; c.total_len as usize],
            last: now,
        });
        if p.total != c.total_len || p.topic != c.topic {
            self.counters.rejected += 1;
            return;
        }
        let (s, e) = (c.offset, c.offset + c.data.len() as u32);
        if p.have.covers(s, e) && e > s {
            self.counters.chunks_duplicate += 1;
        }
        p.data[s as usize..e as usize].copy_from_slice(c.data);
        p.have.insert(s, e);
        p.last = now;
        if p.have.count() > MAX_PARTIAL_RANGES {
            self.partial.remove(&key);
            self.counters.rejected += 1;
            return;
        }
        if p.have.covers(0, p.total) {
            let p = self.partial.remove(&key).expect("present");
            self.remember_completed(from, c.msg_id);
            self.counters.received += 1;
            self.events.push_back(BusEvent::Received(Incoming {
                id: c.msg_id,
                from,
                topic: p.topic,
                reply_to: p.reply_to,
                payload: p.data,
            }));
            self.acks_due.insert(key, (now, FLAG_COMPLETE));
        } else {
            let at = now + self.cfg.ack_delay;
            self.acks_due.entry(key).or_insert((at, 0));
        }
    }

    /// An acknowledgement arrived from `from`.
    pub fn on_ack(&mut self, from: NodeId, a: &BusAckRepr) {
        self.counters.acks_received += 1;
        let Some(o) = self.out.get_mut(&a.msg_id).filter(|o| o.msg.to == from) else {
            self.counters.rejected += 1;
            return;
        };
        if a.flags & FLAG_REFUSED != 0 {
            self.counters.refused += 1;
            self.finish(a.msg_id, MsgStatus::Failed);
            return;
        }
        if a.flags & FLAG_COMPLETE != 0 {
            self.counters.delivered += 1;
            self.finish(a.msg_id, MsgStatus::Delivered);
            return;
        }
        // An ack states everything the receiver holds now, so it replaces what earlier acks
        // said rather than adding to it: a receiver that restarted (or dropped a stale
        // reassembly to make room) has lost chunks it once acknowledged, and they must go
        // again. Only a full ack (MAX_RANGES ranges) may have left ranges out, past its last.
        let before = o.acked.len();
        let total = o.msg.payload.len() as u32;
        let mut acked = RangeSet::new();
        for &(s, e) in &a.ranges {
            acked.insert(s, e.min(total));
        }
        if let Some(&(_, last)) = a.ranges.last().filter(|_| a.ranges.len() >= MAX_RANGES) {
            for (s, e) in o.acked.ranges() {
                acked.insert(s.max(last), e);
            }
        }
        if acked.len() < before {
            self.counters.acks_regressed += 1;
        }
        o.acked = acked;
        if o.acked.len() > before {
            o.rto = self.cfg.rto; // progress: back to the base timeout
        }
    }

    /// Chunks and acks to send now, as (destination, kind, payload). `routable` tells whether
    /// a destination can be reached at the moment (messages without a route wait, queued).
    pub fn poll_transmit(
        &mut self,
        now: Timestamp,
        routable: impl Fn(&NodeId) -> bool,
    ) -> Vec<(NodeId, PayloadKind, Vec<u8>)> {
        let mut out = Vec::new();
        let due: Vec<(NodeId, MsgId)> = self
            .acks_due
            .iter()
            .filter(|(_, (t, _))| *t <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let (_, flags) = self.acks_due.remove(&key).expect("present");
            let ranges = self
                .partial
                .get(&key)
                .map(|p| p.have.ranges().take(MAX_RANGES).collect())
                .unwrap_or_default();
            let mut buf = Vec::new();
            BusAckRepr {
                msg_id: key.1,
                flags,
                ranges,
            }
            .emit(&mut buf);
            self.counters.acks_sent += 1;
            out.push((key.0, PayloadKind::BusAck, buf));
        }
        let chunk_len = self.cfg.chunk_len;
        let mut status_changes = Vec::new();
        let mut resend_at: Option<Timestamp> = None;
        for o in self.out.values_mut() {
            // A message without a route waits for one: the node pumps the bus whenever its
            // timers run (at least every maintenance tick).
            if !routable(&o.msg.to) {
                continue;
            }
            let total = o.msg.payload.len();
            let probe = o.all_acked();
            let mut in_flight = 0;
            let mut resent = false;
            for i in 0..o.sent_at.len() {
                if o.chunk_done(i, chunk_len, probe) {
                    continue;
                }
                let (s, e) = o.chunk(i, chunk_len);
                // The same test as for `resend_at` below, to the microsecond: a chunk that is
                // neither resent nor waited for would wait for the next maintenance tick.
                match o.sent_at[i] {
                    Some(t) if t + o.rto > now => {
                        in_flight += 1;
                        continue;
                    }
                    Some(_) => resent = true,
                    None => {}
                }
                if in_flight >= self.cfg.window {
                    break;
                }
                let mut buf = Vec::with_capacity(chunk_len + 64);
                BusChunkRepr {
                    msg_id: o.msg.id,
                    total_len: total as u32,
                    offset: s,
                    topic: &o.msg.topic,
                    reply_to: o.msg.reply_to,
                    data: &o.msg.payload[s as usize..e as usize],
                }
                .emit(&mut buf);
                if probe {
                    self.counters.probes += 1;
                }
                if o.sent_at[i].is_some() {
                    self.counters.chunks_resent += 1;
                } else {
                    self.counters.chunks_sent += 1;
                }
                o.sent_at[i] = Some(now);
                in_flight += 1;
                out.push((o.msg.to, PayloadKind::BusChunk, buf));
            }
            if resent {
                o.rto = (o.rto * 3 / 2).min(self.cfg.max_rto);
            }
            // Chunks still expired here wait for a window slot, which the first chunk in
            // flight to time out (or an acknowledgement) frees.
            let first_sent = (0..o.sent_at.len())
                .filter_map(|i| o.sent_at[i].map(|t| (i, t)))
                .filter(|&(i, t)| t + o.rto > now && !o.chunk_done(i, chunk_len, probe))
                .map(|(_, t)| t)
                .min();
            if let Some(t) = first_sent {
                let due = t + o.rto;
                resend_at = Some(resend_at.map_or(due, |r| r.min(due)));
            }
            if o.status == MsgStatus::Queued && o.sent_at.iter().any(Option::is_some) {
                o.status = MsgStatus::Sent;
                status_changes.push(o.msg.id);
            }
        }
        for id in status_changes {
            self.events.push_back(BusEvent::Status {
                id,
                status: MsgStatus::Sent,
            });
        }
        self.resend_at = resend_at;
        out
    }

    /// When the bus next has something to do (a retransmission or a delayed ack).
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let acks = self.acks_due.values().map(|(t, _)| *t).min();
        match (acks, self.resend_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests;
