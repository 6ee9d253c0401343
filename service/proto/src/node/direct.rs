//! Direct paths: endpoint facts, their gossip, and upgrading relayed traffic to a direct link.
//!
//! A node signs facts for its own endpoints (the daemon tells it its addresses) and vouches
//! for the address each UDP neighbour is seen at (behind a NAT, that is the mapping the
//! outside world must use). Facts flood to neighbours as they are accepted (see
//! [`crate::facts`] for whom we believe). When this node sends to a destination through a
//! relay and knows endpoints for it, it dials them and sends the destination a punch (its own
//! endpoint facts, end to end through the mesh), which makes the destination dial back at the
//! same time — that opens both NATs' mappings. An authenticated direct link is an ordinary
//! neighbour, so routing prefers it; when it dies, routing falls back to the relay.

use std::net::SocketAddr;
use std::time::Duration;

use super::{LinkId, Node, Remote};
use crate::identity::NodeId;
use crate::time::Timestamp;
use crate::wire::fact::{self, ATTR_NAME, ATTR_UDP_ENDPOINT, FactRepr, endpoint_value, name_value};
use crate::wire::inner::KIND_FACTS;
use crate::wire::routed::PayloadKind;

/// Lifetime of the facts we sign.
const FACT_TTL_S: u16 = 300;
/// How often we re-sign them.
const REFRESH: Duration = Duration::from_secs(60);
/// Least time between two direct attempts towards one node.
const RETRY: Duration = Duration::from_secs(5);
/// After finding no endpoint for a node, how long until its facts are looked at again (the
/// lookup scans the fact store, and relayed packets ask for it every time).
const NO_ENDPOINT_RECHECK: Duration = Duration::from_secs(1);
/// Facts about its sender a punch may carry that are looked at (each costs a signature check).
const MAX_PUNCH_FACTS: usize = 8;
/// Facts per link frame (each is about 160 bytes).
const PER_FRAME: usize = 8;
/// Endpoints tried per attempt.
const MAX_TRIES: usize = 4;
/// TTL of a NAT primer: enough to leave through our own NAT (usually the first hop), too
/// little to reach the far side's.
const PRIMER_TTL: u8 = 2;
/// Delay between the primers and the real dial, so that both sides' primers have opened
/// their NATs before any handshake arrives.
const PRIME_DELAY: Duration = Duration::from_millis(150);
/// How long the side that sends a punch waits before dialling itself. The punch's receiver
/// dials first, 150 ms after its own primer, and its handshake finds our NAT open: our primer
/// left before the punch did. Dialling at once could reach the far NAT before the far primer
/// (a punch relayed by a busy node takes longer than 150 ms), and a Linux NAT keeps such an
/// unsolicited flow and maps the far side's own packets to another port, for as long as our
/// retries keep that flow alive: the link was never made (seen in the two-NAT netns test on
/// a loaded machine, about one run in twenty). Our own dial stays as the fallback for a far
/// side that does not dial back.
const PUNCHER_DIAL_DELAY: Duration = Duration::from_secs(1);

impl Node {
    /// Wall-clock milliseconds (the caller's epoch offset plus our monotonic time).
    pub(super) fn wall_ms(&self, now: Timestamp) -> u64 {
        self.cfg.wall_offset_ms + now.as_micros() / 1000
    }

    /// Tells the node where it can be reached (its addresses with the link port); they are
    /// signed as facts and gossiped.
    pub fn set_own_endpoints(&mut self, now: Timestamp, endpoints: Vec<SocketAddr>) {
        if endpoints != self.own_endpoints {
            self.own_endpoints = endpoints;
            self.sign_facts(now);
        }
    }

    /// Gossips a fact without checking it (see [`crate::facts::FactStore::gossip_unchecked`]).
    #[doc(hidden)]
    pub fn gossip_unchecked(&mut self, f: FactRepr) {
        self.facts.gossip_unchecked(f);
    }

    /// The fact store (for the API).
    pub fn facts(&self) -> &crate::facts::FactStore {
        &self.facts
    }

    /// Claims `name` (with the time it was first claimed, ms since the Unix epoch), or no
    /// name; the claim is gossiped at once and re-signed while it stands.
    pub fn set_name(&mut self, now: Timestamp, name: Option<(String, u64)>) {
        if name != self.own_name {
            self.own_name = name;
            self.sign_facts(now);
        }
    }

    fn sign_facts(&mut self, now: Timestamp) {
        let wall = self.wall_ms(now);
        let me = self.identity.node_id();
        let mut new = Vec::new();
        if let Some((name, since)) = &self.own_name {
            new.push(FactRepr::signed(
                &self.identity,
                me,
                ATTR_NAME,
                name_value(name, *since),
                wall,
                FACT_TTL_S,
            ));
        }
        let endpoints: &[SocketAddr] = if self.cfg.direct_paths {
            &self.own_endpoints
        } else {
            &[]
        };
        for ep in endpoints {
            new.push(FactRepr::signed(
                &self.identity,
                me,
                ATTR_UDP_ENDPOINT,
                endpoint_value(ep),
                wall,
                FACT_TTL_S,
            ));
        }
        // Vouch for where our UDP neighbours are seen from here.
        for l in self.links.values().filter(|_| self.cfg.direct_paths) {
            if let (Some(node), Remote::Udp(addr)) = (l.node(), l.remote) {
                new.push(FactRepr::signed(
                    &self.identity,
                    node,
                    ATTR_UDP_ENDPOINT,
                    endpoint_value(&addr),
                    wall,
                    FACT_TTL_S,
                ));
            }
        }
        for f in new {
            self.facts.insert(f, wall, |_| true);
        }
        self.next_fact_refresh = now + REFRESH;
    }

    /// Periodic work: refresh, expire, gossip.
    pub(super) fn maintain_facts(&mut self, now: Timestamp) {
        if now >= self.next_fact_refresh {
            self.sign_facts(now);
        }
        self.facts.expire(self.wall_ms(now));
        self.direct_attempts.retain(|_, until| *until > now);
        self.direct_unknown.retain(|_, until| *until > now);
        let gossip = self.facts.take_gossip();
        if gossip.is_empty() {
            return;
        }
        let links: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| l.node().is_some())
            .map(|(id, _)| *id)
            .collect();
        self.send_facts(&links, &gossip);
    }

    /// A new neighbour: vouch for the address we see it at (behind a NAT that is its public
    /// mapping, which nobody else can know) and send it every fact we hold.
    pub(super) fn on_link_up_facts(&mut self, now: Timestamp, link: LinkId) {
        if self.cfg.direct_paths
            && let Some(l) = self.links.get(&link)
            && let (Some(node), Remote::Udp(addr)) = (l.node(), l.remote)
        {
            let wall = self.wall_ms(now);
            let f = FactRepr::signed(
                &self.identity,
                node,
                ATTR_UDP_ENDPOINT,
                endpoint_value(&addr),
                wall,
                FACT_TTL_S,
            );
            self.facts.insert(f, wall, |_| true);
        }
        let all: Vec<FactRepr> = self.facts.all().cloned().collect();
        if !all.is_empty() {
            self.send_facts(&[link], &all);
        }
    }

    /// Sends `facts` to each of `links`, a few per frame.
    fn send_facts(&mut self, links: &[LinkId], facts: &[FactRepr]) {
        for chunk in facts.chunks(PER_FRAME) {
            let mut frame = vec![KIND_FACTS];
            fact::emit_list(chunk, &mut frame);
            for &l in links {
                self.send_inner(l, &frame);
            }
        }
    }

    /// Parses a fact list from a neighbour or a punch; `None` (counted) when malformed.
    fn parse_facts(&mut self, body: &[u8]) -> Option<Vec<FactRepr>> {
        let list = fact::parse_list(body).ok();
        if list.is_none() {
            self.facts.counters.malformed += 1;
        }
        list
    }

    /// Facts arrived from a neighbour.
    pub(super) fn handle_facts(&mut self, now: Timestamp, link: LinkId, body: &[u8]) {
        let Some(list) = self.parse_facts(body) else {
            return;
        };
        let window = self.fact_rate.entry(link).or_insert((now, 0));
        if now.saturating_since(window.0) >= Duration::from_secs(1) {
            *window = (now, 0);
        }
        let wall = self.wall_ms(now);
        for f in list {
            let w = self.fact_rate.get_mut(&link).expect("inserted");
            if w.1 >= crate::facts::MAX_PER_LINK_SECOND {
                self.facts.counters.rate_limited += 1;
                continue;
            }
            w.1 += 1;
            let via = self.links.get(&link).and_then(|l| l.node());
            self.accept_fact(f, wall, via);
        }
    }

    /// Offers a fact to the store under the trust model: members are the nodes we route to,
    /// plus `via`, the neighbour that handed it over — authenticated by that very link even
    /// before routing has a route to it.
    fn accept_fact(&mut self, f: FactRepr, wall: u64, via: Option<NodeId>) {
        // Without direct paths, endpoints are of no use here: neither kept nor passed on.
        if !self.cfg.direct_paths && f.attr == ATTR_UDP_ENDPOINT {
            return;
        }
        let babel = &self.babel;
        self.facts.insert(f, wall, |n| {
            Some(*n) == via || babel.lookup(&n.subnet()).is_some()
        });
    }

    /// Traffic to `dst` is leaving through a relay: try to reach it directly.
    pub(super) fn maybe_direct(&mut self, now: Timestamp, dst: NodeId) {
        if !self.cfg.direct_paths || !self.try_direct(now, dst, PUNCHER_DIAL_DELAY) {
            return;
        }
        // Ask the destination to dial us at the same time (NATs open both ways).
        let mine: Vec<FactRepr> = self
            .facts
            .all()
            .filter(|f| f.subject == self.identity.node_id())
            .take(32)
            .cloned()
            .collect();
        if !mine.is_empty() {
            let mut payload = Vec::new();
            fact::emit_list(&mine, &mut payload);
            self.send_payload(&dst, PayloadKind::Punch, &payload);
        }
    }

    /// Primes our NAT towards `dst`'s known endpoints and dials them `dial_after` later
    /// (rate-limited). Returns true when an attempt was made.
    fn try_direct(&mut self, now: Timestamp, dst: NodeId, dial_after: Duration) -> bool {
        // Runs for relayed packets: the rate limit (one lookup) goes before the link scan.
        if self.direct_attempts.get(&dst).is_some_and(|&t| now < t)
            || self.direct_unknown.get(&dst).is_some_and(|&t| now < t)
        {
            return false;
        }
        if self.links.values().any(|l| l.node() == Some(dst)) {
            return false;
        }
        let endpoints = self.facts.endpoints(&dst);
        if endpoints.is_empty() {
            self.direct_unknown.insert(dst, now + NO_ENDPOINT_RECHECK);
            return false;
        }
        self.direct_attempts.insert(dst, now + RETRY);
        self.counters.direct_attempts += 1;
        // Linux-style NATs map a flow to a new port when an unsolicited packet from the far
        // side arrived first; so first open our own mapping with a primer that dies on the way,
        // and dial for real later, when the far side has primed its NAT too.
        for ep in endpoints.into_iter().take(MAX_TRIES) {
            let remote = Remote::Udp(ep);
            if self.links.values().any(|l| l.remote == remote) {
                continue;
            }
            self.transmits
                .push_back(super::Unsealed::ready(super::Transmit {
                    remote,
                    payload: vec![crate::wire::handshake::TYPE_PRIMER],
                    ttl: Some(PRIMER_TTL),
                }));
            self.pending_dials.push((now + dial_after, remote));
        }
        true
    }

    /// Dials the endpoints whose primers have had time to open the NATs.
    pub(super) fn run_pending_dials(&mut self, now: Timestamp) {
        let (due, later): (Vec<_>, Vec<_>) =
            self.pending_dials.drain(..).partition(|(t, _)| *t <= now);
        self.pending_dials = later;
        for (_, remote) in due {
            if !self.links.values().any(|l| l.remote == remote) {
                self.initiate(now, remote);
            }
        }
    }

    /// A punch arrived: learn the sender's endpoints and dial them now.
    pub(super) fn handle_punch(&mut self, now: Timestamp, from: NodeId, payload: &[u8]) {
        if !self.cfg.direct_paths {
            return;
        }
        let Some(list) = self.parse_facts(payload) else {
            return;
        };
        let wall = self.wall_ms(now);
        // Only facts about the sender count, and only a few: each costs a signature check.
        for f in list
            .into_iter()
            .filter(|f| f.subject == from)
            .take(MAX_PUNCH_FACTS)
        {
            self.accept_fact(f, wall, None);
        }
        // Its endpoints may be new: dial back now, together with its own dial.
        self.direct_unknown.remove(&from);
        self.try_direct(now, from, PRIME_DELAY);
    }
}
