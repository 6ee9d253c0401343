//! Links: their state, transport frames, and link lifetime (the handshake steps are in
//! [`super::handshakes`]).
//!
//! A link is named by our random session index. The initiator treats a link as up only after
//! the first authenticated transport frame from the responder (key confirmation: with a wrong
//! PSK the responder rejects message 3 and never sends one). When two links to the same
//! neighbour exist — both sides dialled at once — both sides keep the one whose (initiator id,
//! initiator index) is smaller, so they agree without talking; an older link is simply
//! replaced, since it is most likely left over from before the neighbour restarted.

use std::time::Duration;

use super::handshakes::{InitResend, Resend, RespResend};
use super::rekey::{Pending, PrevKeys};
use super::{Event, LinkId, Node, Remote};
use crate::crypto::{PendingSeal, TAG_LEN};
use crate::identity::NodeId;
use crate::link::handshake::{Handshake, LinkKeys};
use crate::replay::ReplayWindow;
use crate::time::Timestamp;
use crate::wire::data_frame::{self, TYPE_DATA_FRAME};
use crate::wire::handshake::{HandshakeRepr, TYPE_COOKIE, TYPE_FINAL, TYPE_INIT, TYPE_RESP};
use crate::wire::inner::{InnerRepr, KIND_CLOSE};
use crate::wire::routed::{HEADER_LEN as ROUTED_HEADER, RoutedRepr, TYPE_DATA};
use crate::wire::transport::{HEADER_LEN, TYPE_TRANSPORT, TransportRepr};

/// Handshakes we start that may be pending at once.
pub const MAX_INITIATING: usize = 256;

pub(super) struct Established {
    /// Current keys (see [`super::rekey`] for how they are replaced).
    pub(super) keys: LinkKeys,
    /// The index the neighbour puts on frames sealed with `keys.recv`.
    pub(super) rx_index: u32,
    /// The index we put on frames sealed with `keys.send`.
    pub(super) remote_index: u32,
    /// The neighbour's index at the handshake: part of the duplicate tie key, which must not
    /// change when the link rekeys.
    tie_remote: u32,
    pub(super) node: NodeId,
    /// The neighbour's /64: packets it sends in its own name must come from it.
    pub(super) subnet: crate::address::Subnet,
    pub(super) send_counter: u64,
    pub(super) replay: ReplayWindow,
    confirmed: bool,
    pub(super) initiator: bool,
    since: Timestamp,
    /// When `keys` were agreed (the handshake or the last rekey).
    pub(super) keys_since: Timestamp,
    /// Receive keys from before the last rekey, for frames still in flight (boxed, like
    /// `rekey`: held for moments every few minutes, they would otherwise more than double
    /// every link's size, 3.8 kB where it is now 1.5).
    pub(super) prev: Option<Box<PrevKeys>>,
    /// A rekey under way.
    pub(super) rekey: Option<Box<Pending>>,
    /// The initiator's Final, sent again until the neighbour's first frame confirms the link.
    pub(super) final_resend: Option<Box<Resend>>,
    rx_bytes: u64,
    tx_bytes: u64,
}

/// Which of a link's keys a frame names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    Current,
    Previous,
    /// The answerer's new keys, before the offerer has used them.
    Next,
}

impl Established {
    /// A fresh session. The responder's link is confirmed at once (it just authenticated the
    /// initiator's last message); the initiator's waits for the first frame back.
    pub(super) fn new(
        keys: LinkKeys,
        (local_index, remote_index): (u32, u32),
        node: NodeId,
        initiator: bool,
        now: Timestamp,
    ) -> Self {
        Established {
            keys,
            rx_index: local_index,
            remote_index,
            tie_remote: remote_index,
            subnet: node.subnet(),
            node,
            send_counter: 0,
            replay: ReplayWindow::new(),
            confirmed: !initiator,
            initiator,
            since: now,
            keys_since: now,
            prev: None,
            rekey: None,
            final_resend: None,
            rx_bytes: 0,
            tx_bytes: 0,
        }
    }

    /// The key and replay window for frames naming `index`.
    pub(super) fn receive_slot(
        &self,
        index: u32,
    ) -> Option<(Slot, &crate::crypto::Cipher, &ReplayWindow)> {
        if index == self.rx_index {
            return Some((Slot::Current, &self.keys.recv, &self.replay));
        }
        if let Some(p) = &self.prev
            && p.index == index
        {
            return Some((Slot::Previous, &p.recv, &p.replay));
        }
        match self.rekey.as_deref() {
            Some(Pending::Answered {
                keys,
                index: i,
                replay,
                ..
            }) if *i == index => Some((Slot::Next, &keys.recv, replay)),
            _ => None,
        }
    }

    fn replay_mut(&mut self, slot: Slot) -> Option<&mut ReplayWindow> {
        match slot {
            Slot::Current => Some(&mut self.replay),
            Slot::Previous => self.prev.as_mut().map(|p| &mut p.replay),
            Slot::Next => match self.rekey.as_deref_mut() {
                Some(Pending::Answered { replay, .. }) => Some(replay),
                _ => None,
            },
        }
    }

    /// Every index the neighbour may put on frames to us now.
    pub(super) fn indexes(&self) -> impl Iterator<Item = u32> + '_ {
        let pending = match self.rekey.as_deref() {
            Some(Pending::Offered { index, .. } | Pending::Answered { index, .. }) => Some(*index),
            None => None,
        };
        std::iter::once(self.rx_index)
            .chain(self.prev.as_ref().map(|p| p.index))
            .chain(pending)
    }
}

pub(super) enum State {
    /// Waiting for the Resp.
    Initiating(Handshake, Box<InitResend>),
    /// Waiting for the Final; the neighbour's index and our Resp, to send again.
    Responding(Handshake, u32, Box<RespResend>),
    Up(Box<Established>),
}

pub(super) struct Link {
    pub(super) remote: Remote,
    pub(super) state: State,
    pub(super) created: Timestamp,
    pub(super) last_rx: Timestamp,
}

impl Link {
    pub(super) fn up(remote: Remote, est: Established, created: Timestamp, now: Timestamp) -> Self {
        Link {
            remote,
            state: State::Up(Box::new(est)),
            created,
            last_rx: now,
        }
    }

    pub(super) fn node(&self) -> Option<NodeId> {
        match &self.state {
            State::Up(e) if e.confirmed => Some(e.node),
            _ => None,
        }
    }
}

/// Public view of a link's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Handshake under way.
    Handshaking,
    /// Keys agreed, waiting for the responder's first frame.
    Unconfirmed,
    /// In use.
    Up,
}

/// A link as shown to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Local session index.
    pub id: LinkId,
    /// Where the neighbour is.
    pub remote: Remote,
    /// The neighbour, once authenticated.
    pub node: Option<NodeId>,
    /// State.
    pub state: LinkState,
    /// Link cost used by routing.
    pub cost: Option<u16>,
    /// Smoothed round-trip time.
    pub rtt: Option<Duration>,
    /// Bytes received (authenticated frames).
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// When the link came up.
    pub since: Option<Timestamp>,
}

impl Node {
    /// Every link, including ones still handshaking.
    pub fn links(&self) -> Vec<LinkInfo> {
        let mut v: Vec<LinkInfo> = self
            .links
            .iter()
            .map(|(id, l)| {
                let (state, node, rx, tx, since) = match &l.state {
                    State::Initiating(..) | State::Responding(..) => {
                        (LinkState::Handshaking, None, 0, 0, None)
                    }
                    State::Up(e) => (
                        if e.confirmed {
                            LinkState::Up
                        } else {
                            LinkState::Unconfirmed
                        },
                        Some(e.node),
                        e.rx_bytes,
                        e.tx_bytes,
                        Some(e.since),
                    ),
                };
                let nb = self.babel.neighbour(*id);
                LinkInfo {
                    id: *id,
                    remote: l.remote,
                    node,
                    state,
                    cost: nb.map(|n| n.cost()),
                    rtt: nb.and_then(|n| n.rtt()),
                    rx_bytes: rx,
                    tx_bytes: tx,
                    since,
                }
            })
            .collect();
        v.sort_by_key(|l| l.id);
        v
    }

    /// Handles one datagram from `remote`. `data` is decrypted in place.
    pub fn handle_datagram(&mut self, now: Timestamp, remote: Remote, data: &mut [u8]) {
        // Left over only if an in-place call panicked midway: not in place now.
        self.in_place = None;
        self.handle_datagram_inner(now, remote, data);
    }

    fn handle_datagram_inner(&mut self, now: Timestamp, remote: Remote, data: &mut [u8]) {
        self.now_hint = now;
        self.counters.datagrams_in += 1;
        match data.first() {
            Some(&TYPE_TRANSPORT) => self.handle_transport(now, remote, data),
            Some(&TYPE_DATA_FRAME) => self.handle_data_frame(now, remote, data),
            // A NAT primer that made it here (no NAT in between): nothing to do.
            Some(&crate::wire::handshake::TYPE_PRIMER) if data.len() == 1 => {}
            // The network MAC first: a node without the network key costs a hash, no DH.
            Some(&(TYPE_INIT | TYPE_RESP | TYPE_FINAL | TYPE_COOKIE)) => {
                match self.cfg.network.open_handshake(data) {
                    None => self.counters.handshake_bad_mac += 1,
                    Some(body) => match HandshakeRepr::parse(body) {
                        Ok(h) => self.handle_handshake(now, remote, h),
                        Err(_) => self.counters.malformed += 1,
                    },
                }
            }
            _ => self.counters.malformed += 1,
        }
        self.pump_babel();
    }

    /// [`Node::handle_datagram`], except that an IPv6 packet for the local stack that the
    /// datagram carries is left where it was opened, inside `data`: its range is returned,
    /// and the caller writes it to the TUN before it reuses `data`. That saves copying every
    /// received packet once more (the I/O loop copies it into its TUN batch anyway). Anything
    /// else for the TUN (ICMPv6 errors) still comes from [`Node::poll_tun`].
    pub fn handle_datagram_in_place(
        &mut self,
        now: Timestamp,
        remote: Remote,
        data: &mut [u8],
    ) -> Option<super::InPlaceOut> {
        let start = data.as_ptr() as usize;
        self.in_place = Some(super::InPlace {
            start,
            end: start + data.len(),
            packet: None,
            frame: false,
            forward: None,
            forwarded: None,
        });
        self.handle_datagram_inner(now, remote, data);
        let p = self.in_place.take()?;
        match (p.packet, p.forwarded) {
            (Some(r), _) => Some(super::InPlaceOut::Packet(r)),
            (None, Some(to)) => Some(super::InPlaceOut::Forward(to)),
            (None, None) => None,
        }
    }

    fn handle_transport(&mut self, now: Timestamp, remote: Remote, data: &mut [u8]) {
        let Ok(t) = TransportRepr::parse(data) else {
            self.counters.malformed += 1;
            return;
        };
        let (index, counter) = (t.receiver_index, t.counter);
        // Opened ahead, perhaps on another thread (see `pre_open`): not again.
        let pre_opened = self.pre_opened.take();
        let Some((id, slot, recv)) = self.receive_key(index, counter) else {
            return;
        };
        let (head, sealed) = data.split_at_mut(HEADER_LEN);
        let plain_len = match pre_opened {
            Some(verified) => sealed.len().checked_sub(TAG_LEN).filter(|_| verified),
            None => recv.open(counter, head, sealed).map(|p| p.len()),
        };
        let Some(plain_len) = plain_len else {
            self.counters.link_auth_failed += 1;
            return;
        };
        if !self.frame_accepted(now, remote, (id, slot), counter, data.len()) {
            return;
        }
        let plain = &mut data[HEADER_LEN..HEADER_LEN + plain_len];
        match InnerRepr::parse(plain) {
            Ok(InnerRepr::Babel(body)) => self.babel.handle_body(now, id, body),
            Ok(InnerRepr::Routed(_)) => {
                self.handle_routed(now, id, &mut plain[1..]);
                self.pump_bus(now);
            }
            Ok(InnerRepr::Close) => self.drop_link(now, id, "closed by neighbour"),
            Ok(InnerRepr::Facts(body)) => self.handle_facts(now, id, body),
            // Rekey messages from before the last switch are stale.
            Ok(InnerRepr::Rekey(body)) if slot != Slot::Previous => {
                self.handle_rekey(now, id, body)
            }
            Ok(InnerRepr::Rekey(_)) => {}
            Ok(InnerRepr::Packet(body)) => self.deliver_from_neighbour(now, id, body),
            Err(_) => self.counters.malformed += 1,
        }
    }

    /// A data frame (a routed data packet sealed once, see [`crate::wire::data_frame`]): the
    /// link checks the header, the length and the end-to-end tag, not the payload, which its
    /// destination verifies when it opens it.
    fn handle_data_frame(&mut self, now: Timestamp, remote: Remote, data: &mut [u8]) {
        let Ok((index, counter)) = data_frame::parse(data) else {
            self.counters.malformed += 1;
            return;
        };
        // Opened ahead from a copy (see `pre_open`), under this index's key: not again.
        let pre_header = self.pre_header.take();
        let Some((id, slot, recv)) = self.receive_key(index, counter) else {
            return;
        };
        let len = data.len();
        let (front, tag) = data.split_at_mut(len - TAG_LEN);
        let tag: &[u8; TAG_LEN] = (&*tag).try_into().expect("16 bytes");
        let (header, sealed) = front[HEADER_LEN..].split_at_mut(ROUTED_HEADER);
        // parse() bounds the length, so the associated data always exists.
        let Some(aad) = data_frame::aad(sealed) else {
            self.counters.malformed += 1;
            return;
        };
        match pre_header {
            Some((link, opened)) if link == (index, counter) => header.copy_from_slice(&opened),
            _ if !recv.open_detached(counter, &aad, header, tag) => {
                self.counters.link_auth_failed += 1;
                return;
            }
            _ => {}
        }
        if !self.frame_accepted(now, remote, (id, slot), counter, len) {
            return;
        }
        // Only data packets are sealed end to end, so only they may travel in a data frame,
        // whose link tag does not cover the payload (a probe's sender would be unprotected).
        let routed = &mut data[HEADER_LEN..len - TAG_LEN];
        if RoutedRepr::peek_type(routed) != Some(TYPE_DATA) {
            self.counters.malformed += 1;
            return;
        }
        if let Some(p) = &mut self.in_place {
            p.frame = true;
        }
        self.handle_routed(now, id, routed);
        let next = self.in_place.as_mut().and_then(|p| {
            p.frame = false;
            p.forward.take()
        });
        if let Some(next) = next {
            let to = self.reseal_in_place(next, data);
            self.counters.forwarded_in_place += u64::from(to.is_some());
            self.counters.datagrams_out += u64::from(to.is_some());
            // What was queued before this frame took its counter (routing may queue more,
            // with later counters, before the call returns).
            self.queued_before_forward = self.transmits.len();
            if let Some(p) = &mut self.in_place {
                p.forwarded = to;
            }
        }
    }

    /// True when a data frame for neighbour `id` can leave from where it arrived: the link is
    /// up over UDP (a TCP link's writer needs a buffer of its own).
    pub(super) fn forwards_in_place(&self, id: LinkId) -> bool {
        self.in_place.as_ref().is_some_and(|p| p.frame)
            && self.links.get(&id).is_some_and(|l| {
                matches!(l.remote, Remote::Udp(_)) && matches!(l.state, State::Up(_))
            })
    }

    /// Seals data frame `frame` (as received: header, routed header, the rest, tag) again for
    /// link `id`, where it lies; where to send it.
    fn reseal_in_place(&mut self, id: LinkId, frame: &mut [u8]) -> Option<Remote> {
        let link = self.links.get_mut(&id)?;
        let State::Up(est) = &mut link.state else {
            return None;
        };
        let len = frame.len();
        let (front, tag) = frame.split_at_mut(len - TAG_LEN);
        let (link_header, rest) = front.split_at_mut(HEADER_LEN);
        let (header, sealed) = rest.split_at_mut(ROUTED_HEADER);
        // A counter is taken only for a frame that leaves.
        let aad = data_frame::aad(sealed)?;
        let counter = est.send_counter;
        est.send_counter += 1;
        link_header.copy_from_slice(&data_frame::header(est.remote_index, counter));
        tag.copy_from_slice(&est.keys.send.seal_detached(counter, &aad, header));
        est.tx_bytes += len as u64;
        Some(link.remote)
    }

    /// The link, keys and key that open frame `counter` sent to our index `index`, once the
    /// replay window allows it (refusals counted).
    fn receive_key(
        &mut self,
        index: u32,
        counter: u64,
    ) -> Option<(LinkId, Slot, &crate::crypto::Cipher)> {
        let found = self.link_rx.get(&index).and_then(|id| {
            let State::Up(est) = &self.links.get(id)?.state else {
                return None;
            };
            Some((*id, est.receive_slot(index)?))
        });
        let Some((id, (slot, key, replay))) = found else {
            self.counters.unknown_index += 1;
            return None;
        };
        if !replay.check(counter) {
            self.counters.link_replayed += 1;
            return None;
        }
        Some((id, slot, key))
    }

    /// Bookkeeping once a frame authenticated: replay window, byte count, roaming, key
    /// confirmation. False when the link is gone (it lost a duplicate-link tie-break).
    fn frame_accepted(
        &mut self,
        now: Timestamp,
        remote: Remote,
        (index, slot): (LinkId, Slot),
        counter: u64,
        len: usize,
    ) -> bool {
        let Some(link) = self.links.get_mut(&index) else {
            return false;
        };
        let State::Up(est) = &mut link.state else {
            return false;
        };
        if let Some(replay) = est.replay_mut(slot) {
            replay.mark(counter);
        }
        est.rx_bytes += len as u64;
        link.last_rx = now;
        // A neighbour that moved (NAT rebinding, new address) keeps its link.
        if let Remote::Udp(_) = remote {
            link.remote = remote;
        }
        let newly_confirmed = !est.confirmed;
        est.confirmed = true;
        est.final_resend = None;
        if slot == Slot::Next {
            // The offerer used the new keys: it has them, so we switch too.
            self.rekey_confirmed(now, index);
        }
        if newly_confirmed {
            self.link_established(now, index);
            return self.links.contains_key(&index);
        }
        true
    }

    /// Sends a routed packet to neighbour `id`; `buf` is [`HEADER_LEN`] reserved bytes and
    /// the routed packet. Data packets go in a data frame (header-only link encryption),
    /// everything else in a transport frame.
    pub(super) fn send_routed(&mut self, id: LinkId, buf: Vec<u8>) {
        self.send_routed_later(id, buf, None);
    }

    /// As [`Node::send_routed`], for a routed data packet whose end-to-end seal `e2e` is
    /// still to be made (by whoever takes the datagram, see [`super::Unsealed`]).
    pub(super) fn send_routed_later(
        &mut self,
        id: LinkId,
        mut buf: Vec<u8>,
        e2e: Option<PendingSeal>,
    ) {
        let e2e_tag = if e2e.is_some() { TAG_LEN } else { 0 };
        let data = buf.get(HEADER_LEN + 2) == Some(&TYPE_DATA)
            && (data_frame::MIN_LEN..=data_frame::MAX_LEN)
                .contains(&(buf.len() + e2e_tag + TAG_LEN));
        if !data {
            if let Some(e) = e2e {
                e.apply(&mut buf); // before the bytes it covers move
            }
            buf.insert(HEADER_LEN, crate::wire::inner::KIND_ROUTED);
            self.send_frame(id, buf);
            return;
        }
        let Some(link) = self.links.get_mut(&id) else {
            return;
        };
        let State::Up(est) = &mut link.state else {
            return;
        };
        let counter = est.send_counter;
        est.send_counter += 1;
        est.tx_bytes += (buf.len() + e2e_tag + TAG_LEN) as u64;
        self.transmits.push_back(super::Unsealed {
            transmit: super::Transmit {
                remote: link.remote,
                payload: buf,
                ttl: None,
            },
            e2e,
            link: super::LinkSeal::Data {
                key: est.keys.send.clone(),
                remote_index: est.remote_index,
                counter,
            },
        });
    }

    /// A link just became usable: resolve duplicates, then hand it to routing.
    pub(super) fn link_established(&mut self, now: Timestamp, id: LinkId) {
        self.counters.handshakes_ok += 1;
        let (node, remote, key, (created, keyed)) = {
            let l = &self.links[&id];
            let State::Up(e) = &l.state else { return };
            (e.node, l.remote, self.tie_key(id, e), (l.created, e.since))
        };
        let other = self.links.iter().find_map(|(oid, l)| match &l.state {
            State::Up(e) if *oid != id && e.confirmed && e.node == node => {
                Some((*oid, e.since, self.tie_key(*oid, e)))
            }
            _ => None,
        });
        if let Some((oid, since, okey)) = other {
            let simultaneous = now.saturating_since(since) < self.cfg.link_timeout;
            if simultaneous && okey < key {
                self.close_link(now, id, "duplicate link");
                return;
            }
            self.close_link(now, oid, "replaced by a newer link");
        }
        self.reset_backoff(remote);
        if let Some(&w) = self.priorities.get(&node) {
            self.sched.set_weight(id, w);
        }
        self.babel.add_neighbour(now, id, node);
        // Initiator: from its first message to the answer; responder: from the answer it sent
        // at once to the last message. One round trip either way.
        self.babel
            .seed_rtt(now, id, keyed.saturating_since(created));
        self.on_link_up_facts(now, id);
        self.events.push_back(Event::LinkUp {
            link: id,
            node,
            remote,
        });
    }

    fn tie_key(&self, id: LinkId, e: &Established) -> (NodeId, u32) {
        if e.initiator {
            (self.identity.node_id(), id)
        } else {
            (e.node, e.tie_remote)
        }
    }

    /// The transport under `remote` is gone (a TCP connection closed): its links end now.
    pub fn remote_closed(&mut self, now: Timestamp, remote: Remote) {
        let mut ids: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| l.remote == remote)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            self.drop_link(now, id, "connection closed");
        }
        self.pump_babel();
    }

    /// Sends a Close on the link (if up) and forgets it.
    pub(super) fn close_link(&mut self, now: Timestamp, id: LinkId, reason: &'static str) {
        self.send_inner(id, &[KIND_CLOSE]);
        self.drop_link(now, id, reason);
    }

    pub(super) fn drop_link(&mut self, now: Timestamp, id: LinkId, reason: &'static str) {
        let Some(link) = self.links.remove(&id) else {
            return;
        };
        self.sched.remove(id);
        self.fact_rate.remove(&id);
        if let State::Up(e) = &link.state {
            for i in e.indexes() {
                self.link_rx.remove(&i);
            }
        }
        if let State::Up(e) = link.state
            && e.confirmed
        {
            self.babel.remove_neighbour(now, id);
            self.events.push_back(Event::LinkDown {
                link: id,
                node: e.node,
                reason,
            });
        }
    }

    /// [`Node::send_inner`] of `kind ‖ body`, without assembling it first.
    pub(super) fn send_inner_parts(&mut self, id: LinkId, kind: &[u8], body: &[u8]) {
        let mut buf = Vec::with_capacity(HEADER_LEN + kind.len() + body.len() + TAG_LEN);
        buf.extend_from_slice(&[0; HEADER_LEN]);
        buf.extend_from_slice(kind);
        buf.extend_from_slice(body);
        self.send_frame(id, buf);
    }

    /// Encrypts `inner` (kind byte + body) for the link and queues it.
    pub(super) fn send_inner(&mut self, id: LinkId, inner: &[u8]) {
        self.send_inner_parts(id, &[], inner);
    }

    /// Seals a frame whose first [`HEADER_LEN`] bytes are reserved for the header.
    pub(super) fn send_frame(&mut self, id: LinkId, mut buf: Vec<u8>) {
        let Some(link) = self.links.get_mut(&id) else {
            return;
        };
        let State::Up(est) = &mut link.state else {
            return;
        };
        let counter = est.send_counter;
        est.send_counter += 1;
        buf[..HEADER_LEN].copy_from_slice(&TransportRepr::header(est.remote_index, counter));
        est.tx_bytes += (buf.len() + TAG_LEN) as u64;
        let seal = PendingSeal::new(&est.keys.send, counter, 0, HEADER_LEN);
        self.transmits.push_back(super::Unsealed {
            transmit: super::Transmit {
                remote: link.remote,
                payload: buf,
                ttl: None,
            },
            e2e: None,
            link: super::LinkSeal::Frame(seal),
        });
    }

    pub(super) fn maintain_links(&mut self, now: Timestamp) {
        let mut dead = Vec::new();
        for (id, l) in &self.links {
            match &l.state {
                State::Up(e) if e.confirmed => {
                    if now.saturating_since(l.last_rx) > self.cfg.link_timeout {
                        dead.push((*id, "timeout"));
                    }
                }
                _ => {
                    if now.saturating_since(l.created) > self.cfg.handshake_timeout {
                        dead.push((*id, "handshake timeout"));
                    }
                }
            }
        }
        dead.sort_by_key(|(id, _)| *id);
        for (id, reason) in dead {
            self.drop_link(now, id, reason);
        }
        self.resend_handshakes(now);
        self.maintain_rekeys(now);
    }
}

/// Seals a data frame in place: `buf` is [`HEADER_LEN`] reserved bytes, the routed header and
/// the end-to-end sealed rest; the link header is written and the link tag appended (see
/// [`data_frame`] for what is encrypted and what only authenticated).
pub(super) fn seal_data_frame(
    key: &crate::crypto::Cipher,
    remote_index: u32,
    counter: u64,
    buf: &mut Vec<u8>,
) {
    buf[..HEADER_LEN].copy_from_slice(&data_frame::header(remote_index, counter));
    let (header, sealed) = buf[HEADER_LEN..].split_at_mut(ROUTED_HEADER);
    let aad = data_frame::aad(sealed).expect("callers keep frames within data_frame::MAX_LEN");
    let tag = key.seal_detached(counter, &aad, header);
    buf.extend_from_slice(&tag);
}
