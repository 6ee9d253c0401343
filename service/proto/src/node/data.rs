//! The data plane: packets from the TUN are sealed end to end and routed hop by hop; relays
//! look only at the routed header; the destination opens and checks the payload.

use super::{LinkId, Node};
use crate::address::{Subnet, in_overlay};
use crate::identity::NodeId;
use crate::session::{Opened, SessionError};
use crate::time::Timestamp;
use crate::wire::bus_ack::BusAckRepr;
use crate::wire::bus_chunk::BusChunkRepr;
use crate::wire::probe::ProbeReplyRepr;
use crate::wire::routed::{DEFAULT_HOP_LIMIT, PayloadKind, RoutedBody, RoutedRepr, TYPE_PROBE};
use crate::wire::transport::{HEADER_LEN, TAG_LEN};

/// Smallest IPv6 packet (the fixed header).
const IPV6_HEADER: usize = 40;
/// What the sharing limit charges a transit packet at least, in bytes.
pub const MIN_TRANSIT_COST: usize = 64;
/// Probe answers a node sends per second, at most.
const MAX_PROBE_ANSWERS_PER_SECOND: u32 = 20;

impl Node {
    /// Handles an IPv6 packet read from the TUN: seals it for its destination node and sends
    /// it to the next hop.
    pub fn handle_tun(&mut self, now: Timestamp, packet: &[u8]) {
        self.now_hint = now;
        if packet.len() < IPV6_HEADER || packet[0] >> 4 != 6 {
            self.counters.tun_rejected += 1;
            return;
        }
        let src: [u8; 16] = packet[8..24].try_into().expect("16 bytes");
        let dst: [u8; 16] = packet[24..40].try_into().expect("16 bytes");
        let own = self.own_subnet;
        if !in_overlay(&dst) || Subnet::of(&src) != own || Subnet::of(&dst) == own {
            self.counters.tun_rejected += 1;
            return;
        }
        if packet.len() > super::pmtu::MIN_MTU
            && let Some(mtu) = self.too_big(now, &dst, packet.len())
        {
            self.counters.packet_too_big += 1;
            let me = self.identity.node_id().address().0;
            let ty = crate::icmp6::PACKET_TOO_BIG;
            if let Some(err) = crate::icmp6::error(me, packet, ty, 0, mtu as u32) {
                self.tun_out.push_back(err);
            }
            return;
        }
        self.firewall.outbound(now, packet);
        let subnet = Subnet::of(&dst);
        // While routing waits for a seqno answer the route is about to come back: drop quietly
        // (the sender retransmits) rather than tell applications the host is unreachable.
        if !self.send_sealed(subnet, PayloadKind::Ipv6, packet) && !self.babel.is_starving(&subnet)
        {
            let (ty, code) = crate::icmp6::UNREACHABLE_NO_ROUTE;
            let me = self.identity.node_id().address().0;
            if let Some(err) = crate::icmp6::error(me, packet, ty, code, 0) {
                self.tun_out.push_back(err);
            }
        }
    }

    /// Sends an end-to-end payload (e.g. a message-bus frame) to a node.
    /// Returns false when there is no route to it.
    pub fn send_payload(
        &mut self,
        dst: &crate::identity::NodeId,
        kind: PayloadKind,
        payload: &[u8],
    ) -> bool {
        self.send_sealed(dst.subnet(), kind, payload)
    }

    /// Sends a trace probe to `dst` that goes at most `hop_limit` hops; the relay where it
    /// runs out, or `dst`, answers with [`super::Event::ProbeReply`]. Returns the probe's id
    /// (none: no route).
    pub fn send_probe(&mut self, dst: &crate::identity::NodeId, hop_limit: u8) -> Option<u64> {
        let Some((next, _)) = self.babel.lookup(&dst.subnet()) else {
            self.counters.no_route += 1;
            return None;
        };
        self.probe_ids += 1;
        let id = self.probe_ids;
        let mut buf = Vec::with_capacity(HEADER_LEN + 1 + crate::wire::routed::PROBE_LEN + 16);
        buf.extend_from_slice(&[0; HEADER_LEN]);
        RoutedRepr {
            hop_limit: hop_limit.max(1),
            flags: 0,
            dst: dst.address().0,
            body: RoutedBody::Probe {
                src: self.identity.node_id(),
                id,
            },
        }
        .emit(&mut buf);
        self.send_routed(next, buf);
        Some(id)
    }

    /// Sends a probe to the node of address `dst` (any hop count) padded so that each link
    /// frame carrying it is `frame_len` bytes long; returns its id, `None` without a route.
    /// `tag` is or-ed into the id.
    pub(super) fn send_padded_probe(
        &mut self,
        dst: &[u8; 16],
        frame_len: usize,
        tag: u64,
    ) -> Option<u64> {
        use crate::wire::routed::PROBE_LEN;
        use crate::wire::transport::TAG_LEN;
        let (next, _) = self.babel.lookup(&Subnet::of(dst))?;
        self.probe_ids += 1;
        let id = self.probe_ids | tag;
        let mut buf = Vec::with_capacity(frame_len);
        buf.extend_from_slice(&[0; HEADER_LEN]);
        RoutedRepr {
            hop_limit: DEFAULT_HOP_LIMIT,
            flags: 0,
            dst: *dst,
            body: RoutedBody::Probe {
                src: self.identity.node_id(),
                id,
            },
        }
        .emit(&mut buf);
        // The frame adds the inner kind byte and the tag to what is in `buf`.
        let pad = frame_len.saturating_sub(HEADER_LEN + 1 + PROBE_LEN + TAG_LEN);
        buf.resize(buf.len() + pad, 0);
        self.send_routed(next, buf);
        Some(id)
    }

    /// Seals and sends (or queues while the end-to-end session is set up); false when there
    /// is no route.
    fn send_sealed(&mut self, dst: Subnet, kind: PayloadKind, payload: &[u8]) -> bool {
        let Some((next, node)) = self.babel.lookup(&dst) else {
            self.counters.no_route += 1;
            return false;
        };
        let neighbour = self.link_node(next) == Some(node);
        if neighbour && kind == PayloadKind::Ipv6 {
            self.send_to_neighbour(next, payload);
            self.counters.sent_packets += 1;
            return true;
        }
        // Per packet: nothing beyond a flag test unless direct paths are on.
        if self.cfg.direct_paths && kind != PayloadKind::Punch && !neighbour {
            self.maybe_direct(self.now_hint, node);
        }
        let mut buf = self.buffer(HEADER_LEN + 1 + 32 + 1 + payload.len() + 32);
        buf.extend_from_slice(&[0; HEADER_LEN]);
        let now = self.now_hint;
        // The seal is left to whoever takes the datagram (another thread, perhaps).
        let sealed = self.sessions.seal_later(
            now,
            &self.identity,
            &node,
            kind,
            payload,
            DEFAULT_HOP_LIMIT,
            &mut buf,
        );
        match sealed {
            Ok(Some(e2e)) => {
                self.counters.sent_packets += 1;
                self.send_routed_later(next, buf, Some(e2e));
            }
            Ok(None) => self.counters.sent_packets += 1,
            Err(_) => {
                self.counters.no_route += 1;
                return false;
            }
        }
        self.flush_sessions();
        true
    }

    /// Sends an IPv6 packet to the neighbour it is for, sealed by the link alone (inner kind
    /// [`crate::wire::inner::KIND_PACKET`]): both ends of the link are both ends of the packet.
    pub(super) fn send_to_neighbour(&mut self, link: LinkId, packet: &[u8]) {
        let mut buf = self.buffer(HEADER_LEN + 1 + packet.len() + TAG_LEN);
        buf.extend_from_slice(&[0; HEADER_LEN]);
        buf.push(crate::wire::inner::KIND_PACKET);
        buf.extend_from_slice(packet);
        self.send_frame(link, buf);
    }

    /// An IPv6 packet a neighbour sent in its own name (inner kind
    /// [`crate::wire::inner::KIND_PACKET`]), already authenticated by the link.
    pub(super) fn deliver_from_neighbour(&mut self, now: Timestamp, link: LinkId, packet: &[u8]) {
        let Some((src, subnet)) = self.links.get(&link).and_then(|l| match &l.state {
            super::links::State::Up(est) => Some((est.node, est.subnet)),
            _ => None,
        }) else {
            return;
        };
        self.deliver_ipv6(now, &src, subnet, packet);
    }

    /// Hands an IPv6 packet from node `src` (of /64 `src_subnet`) to the local stack if it
    /// is one that node may send us and the firewall lets it in.
    fn deliver_ipv6(&mut self, now: Timestamp, src: &NodeId, src_subnet: Subnet, payload: &[u8]) {
        // The inner packet must come from the sender's own /64 and be for ours: a node
        // cannot speak for addresses it does not own.
        let ok = payload.len() >= IPV6_HEADER
            && payload[0] >> 4 == 6
            && Subnet::of(payload[8..24].try_into().expect("16")) == src_subnet
            && Subnet::of(payload[24..40].try_into().expect("16")) == self.own_subnet;
        if !ok {
            self.counters.spoofed_source += 1;
            return;
        }
        if !self.firewall.inbound(now, src, payload) {
            return; // counted by the firewall
        }
        self.counters.delivered_packets += 1;
        // Handled in place: the caller takes the packet from its own buffer.
        if let Some(ip) = &mut self.in_place
            && ip.packet.is_none()
        {
            let at = payload.as_ptr() as usize;
            if at >= ip.start && at + payload.len() <= ip.end {
                ip.packet = Some(at - ip.start..at - ip.start + payload.len());
                return;
            }
        }
        self.deliver_copy(payload);
    }

    /// Queues a copy of `packet` for the TUN ([`Node::poll_tun`]): for a caller that was
    /// handed a packet in place ([`super::InPlaceOut::Packet`]) but cannot write it from there.
    pub fn deliver_copy(&mut self, packet: &[u8]) {
        let mut p = self.buffer(packet.len());
        p.extend_from_slice(packet);
        self.tun_out.push_back(p);
    }

    /// Routes what the session table wants sent: hellos, their answers, drained queues.
    pub(super) fn flush_sessions(&mut self) {
        while let Some((subnet, pkt)) = self.sessions.poll_outbox() {
            let Some((next, _)) = self.babel.lookup(&subnet) else {
                self.counters.no_route += 1;
                continue;
            };
            let mut buf = Vec::with_capacity(HEADER_LEN + 1 + pkt.len() + 16);
            buf.extend_from_slice(&[0; HEADER_LEN]);
            buf.extend_from_slice(&pkt);
            self.send_routed(next, buf);
        }
    }

    /// Answers a probe (as the relay where it ran out, or as its destination), within the
    /// rate limit: the probe flag is not authenticated, so answers must stay cheap.
    fn answer_probe(&mut self, now: Timestamp, routed: &[u8], reached: bool) {
        let Ok(RoutedRepr {
            body: RoutedBody::Probe { src, id },
            ..
        }) = RoutedRepr::parse(routed)
        else {
            self.counters.malformed += 1;
            return;
        };
        if now.saturating_since(self.probe_window.0) >= std::time::Duration::from_secs(1) {
            self.probe_window = (now, 0);
        }
        if self.probe_window.1 >= MAX_PROBE_ANSWERS_PER_SECOND {
            self.counters.probes_rate_limited += 1;
            return;
        }
        self.probe_window.1 += 1;
        let mut reply = Vec::with_capacity(crate::wire::probe::REPLY_LEN);
        ProbeReplyRepr {
            counter: id,
            reached,
        }
        .emit(&mut reply);
        if self.send_payload(&src, PayloadKind::ProbeReply, &reply) {
            self.counters.probes_answered += 1;
        }
    }

    /// A routed packet arrived on link `from`: deliver it or pass it on.
    pub(super) fn handle_routed(&mut self, now: Timestamp, from: LinkId, routed: &mut [u8]) {
        let Some(dst) = RoutedRepr::peek_dst(routed) else {
            self.counters.malformed += 1;
            return;
        };
        let dst = Subnet::of(&dst);
        if dst == self.own_subnet {
            self.deliver(now, routed);
            return;
        }
        if self.cfg.debug_hostile.is_some_and(|v| v.subnet() == dst) {
            return; // a hostile node black-holes its victim's traffic (tests only)
        }
        if routed[0] <= 1 {
            self.counters.hop_limit_exceeded += 1;
            if RoutedRepr::peek_type(routed) == Some(TYPE_PROBE) {
                self.answer_probe(now, routed, false);
            }
            return;
        }
        let Some((next, _)) = self.babel.lookup(&dst) else {
            self.counters.no_route += 1;
            return;
        };
        if next == from {
            self.counters.bounced += 1;
            return;
        }
        routed[0] -= 1;
        // Transit goes through the sharing scheduler; our own traffic never does. It counts
        // the carried bytes: the routed packet less its header, payload kind and tag, and at
        // least MIN_TRANSIT_COST, so that no packet (a probe, a hello) passes for free.
        let cost = routed
            .len()
            .saturating_sub(crate::wire::routed::HEADER_LEN + 1 + 16)
            .max(MIN_TRANSIT_COST) as u32;
        if self.sched.pass(now, from, cost) {
            self.counters.forwarded_packets += 1;
            self.counters.forwarded_bytes += (HEADER_LEN + routed.len()) as u64;
            // A data frame passing straight on is sealed again where it arrived and leaves
            // from there (the caller sends it): no copy.
            if self.forwards_in_place(next) {
                if let Some(p) = &mut self.in_place {
                    p.forward = Some(next);
                }
                return;
            }
            let buf = self.routed_copy(routed);
            self.send_routed(next, buf);
            return;
        }
        let buf = self.routed_copy(routed);
        if !self.sched.enqueue(now, from, next, buf, cost) {
            self.counters.dropped_share += 1;
        }
        self.release_transit(now);
    }

    /// `routed` in a buffer of its own, behind room for the link header.
    fn routed_copy(&mut self, routed: &[u8]) -> Vec<u8> {
        let mut buf = self.buffer(HEADER_LEN + 1 + routed.len() + 16);
        buf.extend_from_slice(&[0; HEADER_LEN]);
        buf.extend_from_slice(routed);
        buf
    }

    fn deliver(&mut self, now: Timestamp, routed: &mut [u8]) {
        if RoutedRepr::peek_type(routed) == Some(TYPE_PROBE) {
            self.answer_probe(now, routed, true);
            return;
        }
        // A data frame's payload the I/O loop opened ahead (`pre_open`); a routed packet in a
        // transport frame never is (the frame's own flag was taken first).
        let pre_opened = self.pre_opened.take();
        let opened = self.sessions.open(now, &self.identity, routed, pre_opened);
        self.flush_sessions();
        let (src, src_subnet, kind, range) = match opened {
            Ok(Opened::Data(src, subnet, kind, range)) => (src, subnet, kind, range),
            Ok(Opened::Control) => return,
            Err(SessionError::Replay) => {
                self.counters.e2e_replayed += 1;
                return;
            }
            Err(SessionError::UnknownSession) => {
                self.counters.e2e_unknown_session += 1;
                return;
            }
            Err(SessionError::Malformed) => {
                self.counters.malformed += 1;
                return;
            }
            Err(SessionError::Limited) => {
                self.counters.e2e_hellos_limited += 1;
                return;
            }
            Err(SessionError::Auth | SessionError::BadPeerKey | SessionError::Handshake) => {
                self.counters.e2e_auth_failed += 1;
                return;
            }
        };
        let payload = &routed[range];
        match kind {
            PayloadKind::Ipv6 => self.deliver_ipv6(now, &src, src_subnet, payload),
            // The bus answers acks (next chunks) at once; other packets leave it alone, so
            // bulk traffic does not poll it per packet. A chunk's own ack waits for the next
            // timeout (it is due now): a message just received whole is first handed to the
            // owner, who may refuse it (`bus_store_failed`) before it is acknowledged.
            PayloadKind::BusChunk => match BusChunkRepr::parse(payload) {
                Ok(c) => {
                    self.bus.on_chunk(now, src, &c);
                    self.pump_bus_events();
                }
                Err(_) => self.counters.malformed += 1,
            },
            PayloadKind::BusAck => match BusAckRepr::parse(payload) {
                Ok(a) => {
                    self.bus.on_ack(src, &a);
                    self.pump_bus(now);
                }
                Err(_) => self.counters.malformed += 1,
            },
            PayloadKind::Punch => {
                let p = payload.to_vec();
                self.handle_punch(now, src, &p);
            }
            PayloadKind::Keepalive => {}
            PayloadKind::ProbeReply => match ProbeReplyRepr::parse(payload) {
                Ok(r) if r.reached && self.pmtu_answer(now, &src, r.counter) => {}
                Ok(r) => self.events.push_back(super::Event::ProbeReply {
                    from: src,
                    counter: r.counter,
                    reached: r.reached,
                }),
                Err(_) => self.counters.malformed += 1,
            },
        }
    }
}
