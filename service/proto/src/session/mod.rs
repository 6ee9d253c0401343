//! End-to-end sessions: payloads sealed from source node to destination node, under keys that
//! a one-round-trip handshake with fresh ephemeral keys sets up ([`handshake`]).
//!
//! A session is named at each end by a random 32-bit index; data packets carry the
//! receiver's index and a counter, nothing else identifies the sender. Sending to a node
//! without a usable session queues the payload (up to [`SessionConfig::max_queue`]) and sends
//! a hello through the mesh; the answer brings the keys and the queue drains. The initiator
//! may send at once; the responder sends on a session only after the first data packet on it
//! arrived, which proves the initiator holds the keys (a replayed hello thus never changes
//! what the responder sends on).
//!
//! Keys change: a session older than [`SessionConfig::rekey_after`] or past
//! [`SessionConfig::rekey_after_packets`] starts a new handshake the next time it is used for
//! sending, and keeps carrying traffic until the new one is up, so no packet is lost; every
//! session is erased [`SessionConfig::reject_after`] after it was made, whatever its state.
//! A packet for a session that was erased or evicted names an index nobody has: it is
//! refused, so nothing recorded can be replayed once the window state is gone.
//!
//! Time and randomness come from the caller: no clocks here.

pub mod handshake;

use std::collections::VecDeque;
use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rustc_hash::FxHashMap;

use crate::address::Subnet;
use crate::crypto::PendingSeal;
use crate::identity::{Identity, NodeId};
use crate::replay::ReplayWindow;
use crate::time::Timestamp;
use crate::wire::routed::{
    AAD_START, DEFAULT_HOP_LIMIT, HEADER_LEN, PayloadKind, RoutedBody, RoutedRepr, TAG_LEN,
};
use handshake::{Initiator, Keys};

/// Counter values past this are never used: a session this old in packets must rekey.
pub const REJECT_AFTER_PACKETS: u64 = u64::MAX - (1 << 16);

/// Tunables.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// A session this old starts a new handshake when next used for sending.
    pub rekey_after: Duration,
    /// A session that sealed this many packets starts a new handshake.
    pub rekey_after_packets: u64,
    /// Every session is erased this long after it was made.
    pub reject_after: Duration,
    /// A hello with no answer is sent again after this.
    pub retry: Duration,
    /// A handshake with no answer is abandoned after this (its queue is dropped).
    pub give_up: Duration,
    /// Most sessions kept (the least recently used goes first, unconfirmed ones before).
    pub max_sessions: usize,
    /// Most payloads queued per destination while its handshake runs.
    pub max_queue: usize,
    /// Most hellos answered per second (each costs three DH operations).
    pub max_hellos_per_second: u32,
    /// A session we sent on for this long without hearing anything back starts a new
    /// handshake (the peer may have restarted and lost it).
    pub no_reply: Duration,
    /// A session that received in this period but sent nothing sends an empty keepalive, so
    /// one-way flows do not look unanswered.
    pub keepalive: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            rekey_after: Duration::from_secs(120),
            rekey_after_packets: 1 << 40,
            reject_after: Duration::from_secs(180),
            retry: Duration::from_secs(1),
            give_up: Duration::from_secs(6),
            max_sessions: 8192,
            max_queue: 64,
            max_hellos_per_second: 1000,
            no_reply: Duration::from_secs(5),
            keepalive: Duration::from_secs(2),
        }
    }
}

/// Why a routed packet for us was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The peer's node id is not a usable key.
    #[error("peer id is not a valid key")]
    BadPeerKey,
    /// No session has this index (never made, erased or evicted).
    #[error("unknown session")]
    UnknownSession,
    /// Counter already seen or too old.
    #[error("replayed")]
    Replay,
    /// The AEAD did not verify.
    #[error("authentication failed")]
    Auth,
    /// A hello or its answer did not verify.
    #[error("handshake failed")]
    Handshake,
    /// Too many hellos this second.
    #[error("hello rate limit")]
    Limited,
    /// Not a routed packet, or an unknown payload kind.
    #[error("malformed")]
    Malformed,
}

/// What [`Sessions::seal`] did with a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    /// Written to the caller's buffer, ready to send.
    Now,
    /// Queued until a session is up (see [`Sessions::poll_outbox`]).
    Queued,
}

/// What a routed packet for us turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A payload, opened in place: its sender, the sender's /64, the kind and the payload's
    /// range within the packet.
    Data(NodeId, Subnet, PayloadKind, core::ops::Range<usize>),
    /// Handshake traffic or a keepalive: nothing to deliver.
    Control,
}

/// Counters (monotonic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionCounters {
    /// Hellos sent (first tries and retries).
    pub hellos_sent: u64,
    /// Hellos answered.
    pub hellos_answered: u64,
    /// Sessions that completed a handshake (either side).
    pub established: u64,
    /// Handshakes started to replace an ageing session.
    pub rekeys: u64,
    /// Sessions erased because they were too old, and evicted ones.
    pub erased: u64,
    /// Payloads dropped: queue full or handshake abandoned.
    pub queue_dropped: u64,
    /// Handshakes abandoned without an answer.
    pub gave_up: u64,
}

struct Session {
    peer: NodeId,
    /// The peer's address and /64, kept so the data path never hashes a node id.
    peer_addr: [u8; 16],
    peer_subnet: Subnet,
    remote_index: u32,
    keys: Keys,
    send_counter: u64,
    replay: ReplayWindow,
    created: Timestamp,
    /// The initiator's sessions are confirmed at once; the responder's by the first packet.
    confirmed: bool,
    last_used: Timestamp,
    last_rx: Option<Timestamp>,
    last_tx: Option<Timestamp>,
    /// Since when we have been sending without hearing back.
    unanswered_since: Option<Timestamp>,
}

impl Session {
    fn new(peer: NodeId, remote_index: u32, keys: Keys, now: Timestamp, confirmed: bool) -> Self {
        Session {
            peer,
            peer_addr: peer.address().0,
            peer_subnet: peer.subnet(),
            remote_index,
            keys,
            send_counter: 0,
            replay: ReplayWindow::new(),
            created: now,
            confirmed,
            last_used: now,
            last_rx: None,
            last_tx: None,
            unanswered_since: None,
        }
    }

    fn usable(&self, cfg: &SessionConfig, now: Timestamp) -> bool {
        self.confirmed
            && self.send_counter < REJECT_AFTER_PACKETS
            && now.saturating_since(self.created) < cfg.reject_after
    }

    fn ageing(&self, cfg: &SessionConfig, now: Timestamp) -> bool {
        now.saturating_since(self.created) >= cfg.rekey_after
            || self.send_counter >= cfg.rekey_after_packets
            || self
                .unanswered_since
                .is_some_and(|t| now.saturating_since(t) >= cfg.no_reply)
    }

    /// An empty packet on this session, for the outbox.
    fn keepalive(&mut self) -> (Subnet, Vec<u8>) {
        let mut pkt = Vec::with_capacity(HEADER_LEN + 1 + TAG_LEN);
        seal_into(
            self,
            DEFAULT_HOP_LIMIT,
            PayloadKind::Keepalive,
            &[],
            &mut pkt,
        );
        (self.peer_subnet, pkt)
    }
}

struct Pending {
    peer: NodeId,
    hs: Initiator,
    packet: Vec<u8>,
    first: Timestamp,
    sent: Timestamp,
}

struct Queued {
    kind: PayloadKind,
    payload: Vec<u8>,
}

#[derive(Default)]
struct Peer {
    /// The session we send on.
    current: Option<u32>,
    /// Our handshake in flight.
    pending: Option<u32>,
    queue: VecDeque<Queued>,
}

/// All end-to-end sessions of one node.
pub struct Sessions {
    cfg: SessionConfig,
    rng: ChaCha20Rng,
    sessions: FxHashMap<u32, Session>,
    pending: FxHashMap<u32, Pending>,
    peers: FxHashMap<NodeId, Peer>,
    outbox: VecDeque<(Subnet, Vec<u8>)>,
    hello_window: (Timestamp, u32),
    /// Counters.
    pub counters: SessionCounters,
}

impl Sessions {
    /// An empty table; `seed` drives indices and ephemeral keys.
    pub fn new(cfg: SessionConfig, seed: [u8; 32]) -> Self {
        Sessions {
            cfg,
            rng: handshake::rng(seed),
            sessions: FxHashMap::default(),
            pending: FxHashMap::default(),
            peers: FxHashMap::default(),
            outbox: VecDeque::new(),
            hello_window: (Timestamp::ZERO, 0),
            counters: SessionCounters::default(),
        }
    }

    /// Number of sessions (established or awaiting confirmation).
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when there is no session.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Packets the table wants sent (hellos, answers, drained queues), with the destination's
    /// /64 to route them by.
    pub fn poll_outbox(&mut self) -> Option<(Subnet, Vec<u8>)> {
        self.outbox.pop_front()
    }

    fn new_index(&mut self) -> u32 {
        loop {
            let i = rand_core::Rng::next_u32(&mut self.rng);
            if i != 0 && !self.sessions.contains_key(&i) && !self.pending.contains_key(&i) {
                return i;
            }
        }
    }

    /// Seals `kind ‖ payload` for `dst`: appends a routed data packet to `out` when a session
    /// is up, else queues it and starts a handshake.
    #[allow(clippy::too_many_arguments)]
    pub fn seal(
        &mut self,
        now: Timestamp,
        me: &Identity,
        dst: &NodeId,
        kind: PayloadKind,
        payload: &[u8],
        hop_limit: u8,
        out: &mut Vec<u8>,
    ) -> Result<Sealed, SessionError> {
        let sealed = self.seal_later(now, me, dst, kind, payload, hop_limit, out)?;
        Ok(match sealed {
            Some(seal) => {
                seal.apply(out);
                Sealed::Now
            }
            None => Sealed::Queued,
        })
    }

    /// As [`Sessions::seal`], but with a session at hand only the header and the plaintext are
    /// written: the seal that completes the packet is returned, for the caller to make (on
    /// any thread, in any order). `None`: queued until a session is up.
    #[allow(clippy::too_many_arguments)]
    pub fn seal_later(
        &mut self,
        now: Timestamp,
        me: &Identity,
        dst: &NodeId,
        kind: PayloadKind,
        payload: &[u8],
        hop_limit: u8,
        out: &mut Vec<u8>,
    ) -> Result<Option<PendingSeal>, SessionError> {
        // Per packet: one lookup for the peer, one for its session.
        let (current, pending) = self
            .peers
            .get(dst)
            .map_or((None, false), |p| (p.current, p.pending.is_some()));
        let cfg = &self.cfg;
        if let Some(s) = current
            .and_then(|i| self.sessions.get_mut(&i))
            .filter(|s| s.usable(cfg, now))
        {
            s.last_used = now;
            s.last_tx = Some(now);
            s.unanswered_since.get_or_insert(now);
            let seal = seal_later(s, hop_limit, kind, payload, out);
            if s.ageing(cfg, now) && !pending {
                self.counters.rekeys += 1;
                self.start_hello(now, me, dst)?;
            }
            return Ok(Some(seal));
        }
        dst.x25519_public().map_err(|_| SessionError::BadPeerKey)?;
        let max = self.cfg.max_queue;
        let peer = self.peers.entry(*dst).or_default();
        if peer.queue.len() >= max {
            peer.queue.pop_front();
            self.counters.queue_dropped += 1;
        }
        peer.queue.push_back(Queued {
            kind,
            payload: payload.to_vec(),
        });
        if peer.pending.is_none() {
            self.start_hello(now, me, dst)?;
        }
        Ok(None)
    }

    fn start_hello(
        &mut self,
        now: Timestamp,
        me: &Identity,
        dst: &NodeId,
    ) -> Result<(), SessionError> {
        let index = self.new_index();
        let seed = handshake::seed_from(&mut self.rng);
        let (hs, msg1) =
            handshake::initiate(me, dst, seed).map_err(|_| SessionError::BadPeerKey)?;
        let mut packet = Vec::with_capacity(24 + msg1.len());
        RoutedRepr {
            hop_limit: DEFAULT_HOP_LIMIT,
            flags: 0,
            dst: dst.address().0,
            body: RoutedBody::Hello {
                sender_index: index,
                noise: &msg1,
            },
        }
        .emit(&mut packet);
        self.outbox.push_back((dst.subnet(), packet.clone()));
        self.counters.hellos_sent += 1;
        self.pending.insert(
            index,
            Pending {
                peer: *dst,
                hs,
                packet,
                first: now,
                sent: now,
            },
        );
        self.peers.entry(*dst).or_default().pending = Some(index);
        Ok(())
    }

    /// Opens a routed packet addressed to us (data, hello or hello answer), in place.
    ///
    /// `pre_opened`: a data packet's payload was already opened in place, with the key
    /// [`Sessions::pre_open`] gave (and whether it verified): it is not opened again.
    pub fn open(
        &mut self,
        now: Timestamp,
        me: &Identity,
        routed: &mut [u8],
        pre_opened: Option<bool>,
    ) -> Result<Opened, SessionError> {
        let repr = RoutedRepr::parse(routed).map_err(|_| SessionError::Malformed)?;
        match repr.body {
            RoutedBody::Data {
                receiver_index,
                counter,
                ..
            } => self.open_data(now, receiver_index, counter, routed, pre_opened),
            RoutedBody::Hello {
                sender_index,
                noise,
            } => {
                let noise = noise.to_vec();
                self.on_hello(now, me, sender_index, &noise)
            }
            RoutedBody::HelloBack {
                sender_index,
                receiver_index,
                noise,
            } => {
                let noise = noise.to_vec();
                self.on_hello_back(now, sender_index, receiver_index, &noise)
            }
            RoutedBody::Probe { .. } => Err(SessionError::Malformed),
        }
    }

    /// The key of session `index`, if `counter` is not a replay there: to open a data
    /// packet's payload ahead, off this thread (see [`Sessions::open`]). Changes nothing.
    pub fn pre_open(&self, index: u32, counter: u64) -> Option<&crate::crypto::Cipher> {
        let s = self.sessions.get(&index)?;
        s.replay.check(counter).then_some(&s.keys.recv)
    }

    fn open_data(
        &mut self,
        now: Timestamp,
        index: u32,
        counter: u64,
        routed: &mut [u8],
        pre_opened: Option<bool>,
    ) -> Result<Opened, SessionError> {
        let reject_after = self.cfg.reject_after;
        let s = self
            .sessions
            .get_mut(&index)
            .filter(|s| now.saturating_since(s.created) < reject_after)
            .ok_or(SessionError::UnknownSession)?;
        if !s.replay.check(counter) {
            return Err(SessionError::Replay);
        }
        let (head, body) = routed.split_at_mut(HEADER_LEN);
        let plain_len = match pre_opened {
            Some(verified) => body.len().checked_sub(TAG_LEN).filter(|_| verified),
            None => s
                .keys
                .recv
                .open(counter, &head[AAD_START..], body)
                .map(|p| p.len()),
        }
        .ok_or(SessionError::Auth)?;
        s.replay.mark(counter);
        s.last_used = now;
        s.last_rx = Some(now);
        s.unanswered_since = None;
        let (peer, subnet) = (s.peer, s.peer_subnet);
        let kind = PayloadKind::from_byte(body[0]).map_err(|_| SessionError::Malformed);
        if !s.confirmed {
            // The initiator holds the keys: this session may now carry our traffic too.
            s.confirmed = true;
            let created = s.created;
            let p = self.peers.entry(peer).or_default();
            let newer = p
                .current
                .and_then(|c| self.sessions.get(&c))
                .is_none_or(|c| c.created <= created);
            if newer {
                p.current = Some(index);
            }
            self.drain(now, &peer);
        }
        debug_assert!(plain_len + TAG_LEN == body.len());
        match kind? {
            PayloadKind::Keepalive => Ok(Opened::Control),
            k => Ok(Opened::Data(
                peer,
                subnet,
                k,
                HEADER_LEN + 1..HEADER_LEN + plain_len,
            )),
        }
    }

    fn on_hello(
        &mut self,
        now: Timestamp,
        me: &Identity,
        sender_index: u32,
        noise: &[u8],
    ) -> Result<Opened, SessionError> {
        if now.saturating_since(self.hello_window.0) >= Duration::from_secs(1) {
            self.hello_window = (now, 0);
        }
        if self.hello_window.1 >= self.cfg.max_hellos_per_second {
            return Err(SessionError::Limited);
        }
        self.hello_window.1 += 1;
        let seed = handshake::seed_from(&mut self.rng);
        let (keys, peer, msg2) =
            handshake::respond(me, seed, noise).map_err(|_| SessionError::Handshake)?;
        let index = self.new_index();
        self.make_room(now);
        self.sessions
            .insert(index, Session::new(peer, sender_index, keys, now, false));
        let mut packet = Vec::with_capacity(28 + msg2.len());
        RoutedRepr {
            hop_limit: DEFAULT_HOP_LIMIT,
            flags: 0,
            dst: peer.address().0,
            body: RoutedBody::HelloBack {
                sender_index: index,
                receiver_index: sender_index,
                noise: &msg2,
            },
        }
        .emit(&mut packet);
        self.outbox.push_back((peer.subnet(), packet));
        self.counters.hellos_answered += 1;
        self.counters.established += 1;
        Ok(Opened::Control)
    }

    fn on_hello_back(
        &mut self,
        now: Timestamp,
        sender_index: u32,
        receiver_index: u32,
        noise: &[u8],
    ) -> Result<Opened, SessionError> {
        let pending = self
            .pending
            .remove(&receiver_index)
            .ok_or(SessionError::UnknownSession)?;
        let peer = pending.peer;
        let Ok(keys) = pending.hs.finish(noise) else {
            // Someone else answered (or garbage): keep waiting for the real answer.
            return Err(SessionError::Handshake);
        };
        self.make_room(now);
        self.sessions.insert(
            receiver_index,
            Session::new(peer, sender_index, keys, now, true),
        );
        self.counters.established += 1;
        let p = self.peers.entry(peer).or_default();
        if p.pending == Some(receiver_index) {
            p.pending = None;
        }
        p.current = Some(receiver_index);
        let had_queue = !p.queue.is_empty();
        self.drain(now, &peer);
        if !had_queue {
            // Confirm the session to the responder so it can send on it too.
            let s = self.sessions.get_mut(&receiver_index).expect("inserted");
            self.outbox.push_back(s.keepalive());
        }
        Ok(Opened::Control)
    }

    /// Seals everything queued for `peer` on its current session into the outbox.
    fn drain(&mut self, now: Timestamp, peer: &NodeId) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let Some(i) = p.current else {
            return;
        };
        let queue = core::mem::take(&mut p.queue);
        let Some(s) = self.sessions.get_mut(&i) else {
            return;
        };
        s.last_used = now;
        for q in queue {
            let mut pkt = Vec::with_capacity(HEADER_LEN + 1 + q.payload.len() + TAG_LEN);
            seal_into(s, DEFAULT_HOP_LIMIT, q.kind, &q.payload, &mut pkt);
            self.outbox.push_back((s.peer_subnet, pkt));
        }
    }

    /// Keeps the table under its limit: evicts unconfirmed sessions first, then the least
    /// recently used.
    fn make_room(&mut self, _now: Timestamp) {
        while self.sessions.len() >= self.cfg.max_sessions {
            let victim = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| (s.confirmed, s.last_used))
                .map(|(i, _)| *i);
            let Some(v) = victim else { break };
            self.erase(v);
        }
    }

    fn erase(&mut self, index: u32) {
        if let Some(s) = self.sessions.remove(&index) {
            self.counters.erased += 1;
            if let Some(p) = self.peers.get_mut(&s.peer)
                && p.current == Some(index)
            {
                p.current = None;
            }
        }
    }

    /// Retries and abandons handshakes, erases old sessions. Call every 100 ms or so.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let (retry, give_up) = (self.cfg.retry, self.cfg.give_up);
        let mut abandon = Vec::new();
        for (i, p) in self.pending.iter_mut() {
            if now.saturating_since(p.first) >= give_up {
                abandon.push(*i);
            } else if now.saturating_since(p.sent) >= retry {
                p.sent = now;
                self.outbox.push_back((p.peer.subnet(), p.packet.clone()));
                self.counters.hellos_sent += 1;
            }
        }
        for i in abandon {
            let p = self.pending.remove(&i).expect("listed");
            self.counters.gave_up += 1;
            if let Some(peer) = self.peers.get_mut(&p.peer) {
                peer.pending = None;
                self.counters.queue_dropped += peer.queue.len() as u64;
                peer.queue.clear();
            }
        }
        // Passive keepalives: answer one-way traffic on the session each peer sends on.
        let ka = self.cfg.keepalive;
        for p in self.peers.values() {
            let Some(s) = p.current.and_then(|i| self.sessions.get_mut(&i)) else {
                continue;
            };
            let heard = s.last_rx.is_some_and(|t| now.saturating_since(t) < ka);
            let quiet = s.last_tx.is_none_or(|t| now.saturating_since(t) >= ka);
            if heard && quiet && s.confirmed {
                s.last_tx = Some(now);
                self.outbox.push_back(s.keepalive());
            }
        }
        let reject_after = self.cfg.reject_after;
        let old: Vec<u32> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                now.saturating_since(s.created) >= reject_after
                    || (!s.confirmed && now.saturating_since(s.created) >= give_up)
            })
            .map(|(i, _)| *i)
            .collect();
        for i in old {
            self.erase(i);
        }
        self.peers
            .retain(|_, p| p.current.is_some() || p.pending.is_some() || !p.queue.is_empty());
    }

    /// Testing only: forgets every session and handshake (as eviction would).
    #[doc(hidden)]
    pub fn debug_forget_all(&mut self) {
        let all: Vec<u32> = self.sessions.keys().copied().collect();
        for i in all {
            self.erase(i);
        }
        self.pending.clear();
        self.peers.clear();
    }
}

/// Appends one data packet sealed on `s`.
fn seal_into(s: &mut Session, hop_limit: u8, kind: PayloadKind, payload: &[u8], out: &mut Vec<u8>) {
    seal_later(s, hop_limit, kind, payload, out).apply(out);
}

/// Writes the packet's header and plaintext to `out`; the seal that makes it the packet.
fn seal_later(
    s: &mut Session,
    hop_limit: u8,
    kind: PayloadKind,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> PendingSeal {
    let counter = s.send_counter;
    s.send_counter += 1;
    let start = out.len();
    RoutedRepr::emit_data_header(out, hop_limit, &s.peer_addr, s.remote_index, counter);
    out.push(kind as u8);
    out.extend_from_slice(payload);
    PendingSeal::new(&s.keys.send, counter, start + AAD_START, start + HEADER_LEN)
}

#[cfg(test)]
mod tests;
