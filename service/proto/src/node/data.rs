//! The data plane: packets from the TUN are sealed end to end and routed hop by hop; relays
//! look only at the routed header; the destination opens and checks the payload.

use super::{LinkId, Node};
use crate::address::{Subnet, in_overlay};
use crate::session::SessionError;
use crate::time::Timestamp;
use crate::wire::bus_ack::BusAckRepr;
use crate::wire::bus_chunk::BusChunkRepr;
use crate::wire::inner::KIND_ROUTED;
use crate::wire::routed::{DEFAULT_HOP_LIMIT, PayloadKind, RoutedRepr};
use crate::wire::transport::HEADER_LEN;

/// Smallest IPv6 packet (the fixed header).
const IPV6_HEADER: usize = 40;

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
        let own = self.identity.node_id().subnet();
        if !in_overlay(&dst) || Subnet::of(&src) != own || Subnet::of(&dst) == own {
            self.counters.tun_rejected += 1;
            return;
        }
        let subnet = Subnet::of(&dst);
        // While routing waits for a seqno answer the route is about to come back: drop quietly
        // (the sender retransmits) rather than tell applications the host is unreachable.
        if !self.send_payload_to_subnet(subnet, PayloadKind::Ipv6, packet)
            && !self.babel.is_starving(&subnet)
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
        self.send_payload_to_subnet(dst.subnet(), kind, payload)
    }

    fn send_payload_to_subnet(&mut self, dst: Subnet, kind: PayloadKind, payload: &[u8]) -> bool {
        let Some((next, node)) = self.babel.lookup(&dst) else {
            self.counters.no_route += 1;
            return false;
        };
        // Per packet: nothing beyond a flag test unless direct paths are on.
        if self.cfg.direct_paths && kind != PayloadKind::Punch && self.link_node(next) != Some(node)
        {
            self.maybe_direct(self.now_hint, node);
        }
        let mut buf = Vec::with_capacity(HEADER_LEN + 1 + 68 + 1 + payload.len() + 32);
        buf.extend_from_slice(&[0; HEADER_LEN]);
        buf.push(KIND_ROUTED);
        if let Err(e) = self.sessions.seal(
            &self.identity,
            &node,
            DEFAULT_HOP_LIMIT,
            kind,
            payload,
            &mut buf,
        ) {
            debug_assert_eq!(e, SessionError::BadPeerKey);
            self.counters.no_route += 1;
            return false;
        }
        self.counters.sent_packets += 1;
        self.send_frame(next, buf);
        true
    }

    /// A routed packet arrived on link `from`: deliver it or pass it on.
    pub(super) fn handle_routed(&mut self, now: Timestamp, from: LinkId, routed: &mut [u8]) {
        let Some(dst) = RoutedRepr::peek_dst(routed) else {
            self.counters.malformed += 1;
            return;
        };
        let dst = Subnet::of(&dst);
        if dst == self.identity.node_id().subnet() {
            self.deliver(now, routed);
            return;
        }
        if routed[0] <= 1 {
            self.counters.hop_limit_exceeded += 1;
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
        let mut buf = Vec::with_capacity(HEADER_LEN + 1 + routed.len() + 16);
        buf.extend_from_slice(&[0; HEADER_LEN]);
        buf.push(KIND_ROUTED);
        buf.extend_from_slice(routed);
        // Transit goes through the sharing scheduler; our own traffic never does. It counts
        // the carried bytes: the routed packet less its header, payload kind and tag.
        let cost = routed
            .len()
            .saturating_sub(crate::wire::routed::HEADER_LEN + 1 + 16) as u32;
        if !self.sched.enqueue(now, from, next, buf, cost) {
            self.counters.dropped_share += 1;
        }
        self.release_transit(now);
    }

    fn deliver(&mut self, now: Timestamp, routed: &mut [u8]) {
        let (src, kind, range) = match self.sessions.open(&self.identity, routed) {
            Ok(x) => x,
            Err(SessionError::Replay) => {
                self.counters.e2e_replayed += 1;
                return;
            }
            Err(SessionError::StaleEpoch) => {
                self.counters.e2e_stale_epoch += 1;
                return;
            }
            Err(SessionError::Malformed) => {
                self.counters.malformed += 1;
                return;
            }
            Err(SessionError::Auth | SessionError::BadPeerKey) => {
                self.counters.e2e_auth_failed += 1;
                return;
            }
        };
        let payload = &routed[range];
        match kind {
            PayloadKind::Ipv6 => {
                // The inner packet must come from the sender's own /64 and be for ours: a node
                // cannot speak for addresses it does not own.
                let ok = payload.len() >= IPV6_HEADER
                    && payload[0] >> 4 == 6
                    && Subnet::of(payload[8..24].try_into().expect("16")) == src.subnet()
                    && Subnet::of(payload[24..40].try_into().expect("16"))
                        == self.identity.node_id().subnet();
                if !ok {
                    self.counters.spoofed_source += 1;
                    return;
                }
                self.counters.delivered_packets += 1;
                self.tun_out.push_back(payload.to_vec());
            }
            PayloadKind::BusChunk => match BusChunkRepr::parse(payload) {
                Ok(c) => self.bus.on_chunk(now, src, &c),
                Err(_) => self.counters.malformed += 1,
            },
            PayloadKind::BusAck => match BusAckRepr::parse(payload) {
                Ok(a) => self.bus.on_ack(src, &a),
                Err(_) => self.counters.malformed += 1,
            },
            PayloadKind::Punch => {
                let p = payload.to_vec();
                self.handle_punch(now, src, &p);
            }
        }
    }
}
