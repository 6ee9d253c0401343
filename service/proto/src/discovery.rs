//! LAN discovery logic (sans IO): signed hellos, replay protection, who dials whom.
//!
//! Every node multicasts a signed hello each second on every interface. A receiver drops
//! hellos with a bad signature, from another network, or with a sequence number not above the
//! last one it accepted from that node (replay), counting each. A valid hello from a node we
//! have no link to is answered by a unicast confirm, and the node with the smaller id starts the
//! link handshake — so exactly one side dials and the other learns of it within one round trip.
//! Sequence numbers are the sender's wall-clock microseconds, so they keep growing across
//! restarts.
//!
//! Strangers on the LAN are kept cheap: the replay check (a table lookup) runs before the
//! signature check, and hellos make us dial at most [`DIALS_PER_SECOND`] new nodes a second
//! (burst [`DIAL_BURST`]), so a flood of hellos from throwaway identities cannot turn the node
//! into a handshake cannon aimed at ports of the attacker's choosing. (The daemon also drops
//! discovery datagrams whose source is not link-local: hellos never leave the link.)

use rustc_hash::FxHashMap;

use crate::identity::{Identity, NodeId};
use crate::wire::discovery::{DiscoveryKind, DiscoveryRepr};

/// What the caller should do after a discovery datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryAction {
    /// Send this confirm back to the datagram's source.
    Reply(Vec<u8>),
    /// Start a link handshake to the sender's address at this UDP port.
    Connect {
        /// The discovered node.
        node: NodeId,
        /// Its link port.
        port: u16,
    },
}

/// Discovery counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryCounters {
    /// Valid hellos accepted.
    pub hellos: u64,
    /// Valid confirms accepted.
    pub confirms: u64,
    /// Dropped: signature did not verify.
    pub bad_signature: u64,
    /// Dropped: sequence number not above the last accepted one.
    pub replayed: u64,
    /// Dropped: another network's tag.
    pub other_network: u64,
    /// Dropped: not a discovery datagram.
    pub malformed: u64,
    /// Our own hellos looped back.
    pub own: u64,
    /// Dropped by the daemon: the source was not a link-local address.
    pub off_link: u64,
    /// Dials not made: more new nodes than [`DIALS_PER_SECOND`] asked for one.
    pub dials_limited: u64,
}

/// New nodes dialled per second because of their hellos, at most.
pub const DIALS_PER_SECOND: f64 = 4.0;
/// How many such dials may come at once.
pub const DIAL_BURST: f64 = 8.0;

/// Discovery state of one node.
pub struct Discovery {
    port: u16,
    tag: [u8; 8],
    next_seq: u64,
    last_seen: FxHashMap<NodeId, u64>,
    /// Dial budget (token bucket) and when it was last topped up (µs).
    dial_tokens: f64,
    dial_at_us: u64,
    /// Counters.
    pub counters: DiscoveryCounters,
}

/// Most nodes remembered for replay protection; beyond it the oldest entries go.
const MAX_REMEMBERED: usize = 4096;

impl Discovery {
    /// `port` is our link port; `tag` the network tag; `clock_us` the wall clock (µs) that
    /// seeds the sequence numbers.
    pub fn new(port: u16, tag: [u8; 8], clock_us: u64) -> Self {
        Discovery {
            port,
            tag,
            next_seq: clock_us.max(1),
            last_seen: FxHashMap::default(),
            dial_tokens: DIAL_BURST,
            dial_at_us: clock_us,
            counters: DiscoveryCounters::default(),
        }
    }

    fn seq(&mut self, clock_us: u64) -> u64 {
        self.next_seq = self.next_seq.max(clock_us) + 1;
        self.next_seq
    }

    /// The next hello to multicast.
    pub fn hello(&mut self, me: &Identity, clock_us: u64) -> Vec<u8> {
        let seq = self.seq(clock_us);
        let mut out = Vec::new();
        DiscoveryRepr::signed(me, DiscoveryKind::Hello, seq, self.port, self.tag, 0).emit(&mut out);
        out
    }

    /// Handles a datagram from the discovery socket. `linked` tells whether a link to a node
    /// already exists.
    pub fn handle(
        &mut self,
        me: &Identity,
        data: &[u8],
        clock_us: u64,
        linked: impl Fn(&NodeId) -> bool,
    ) -> Vec<DiscoveryAction> {
        let Ok(d) = DiscoveryRepr::parse(data) else {
            self.counters.malformed += 1;
            return Vec::new();
        };
        if d.node_id == me.node_id() {
            self.counters.own += 1;
            return Vec::new();
        }
        if d.network_tag != self.tag {
            self.counters.other_network += 1;
            return Vec::new();
        }
        // The cheap check first: a replay costs a lookup, not a signature verification.
        if self.last_seen.get(&d.node_id).is_some_and(|&s| d.seq <= s) {
            self.counters.replayed += 1;
            return Vec::new();
        }
        if !d.verify() {
            self.counters.bad_signature += 1;
            return Vec::new();
        }
        if self.last_seen.len() >= MAX_REMEMBERED && !self.last_seen.contains_key(&d.node_id) {
            // Forgetting a node only weakens replay protection for it; its link is unaffected.
            if let Some(k) = self.last_seen.keys().next().copied() {
                self.last_seen.remove(&k);
            }
        }
        self.last_seen.insert(d.node_id, d.seq);
        let mut actions = Vec::new();
        match d.kind {
            DiscoveryKind::Hello => self.counters.hellos += 1,
            DiscoveryKind::Confirm => self.counters.confirms += 1,
        }
        if linked(&d.node_id) {
            return actions;
        }
        if d.kind == DiscoveryKind::Hello {
            let seq = self.seq(clock_us);
            let mut out = Vec::new();
            DiscoveryRepr::signed(me, DiscoveryKind::Confirm, seq, self.port, self.tag, d.seq)
                .emit(&mut out);
            actions.push(DiscoveryAction::Reply(out));
        }
        if me.node_id() < d.node_id {
            if self.take_dial(clock_us) {
                actions.push(DiscoveryAction::Connect {
                    node: d.node_id,
                    port: d.port,
                });
            } else {
                self.counters.dials_limited += 1;
            }
        }
        actions
    }

    fn take_dial(&mut self, clock_us: u64) -> bool {
        let dt = clock_us.saturating_sub(self.dial_at_us) as f64 / 1e6;
        self.dial_at_us = self.dial_at_us.max(clock_us);
        self.dial_tokens = (self.dial_tokens + dt * DIALS_PER_SECOND).min(DIAL_BURST);
        if self.dial_tokens < 1.0 {
            return false;
        }
        self.dial_tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_confirm_and_one_dialler() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let (small, big) = if a.node_id() < b.node_id() {
            (&a, &b)
        } else {
            (&b, &a)
        };
        let mut ds = Discovery::new(1000, [0; 8], 10);
        let mut db = Discovery::new(2000, [0; 8], 10);
        let hello = db.hello(big, 20);
        let acts = ds.handle(small, &hello, 30, |_| false);
        assert!(matches!(acts[0], DiscoveryAction::Reply(_)));
        assert_eq!(
            acts[1],
            DiscoveryAction::Connect {
                node: big.node_id(),
                port: 2000
            }
        );
        // The bigger id answers a confirm but does not dial.
        let DiscoveryAction::Reply(confirm) = &acts[0] else {
            unreachable!()
        };
        assert!(db.handle(big, confirm, 40, |_| false).is_empty());
        assert_eq!(db.counters.confirms, 1);
    }

    /// Hellos from 200 throwaway identities at once make us dial at most the burst, then four
    /// a second; every hello is still answered.
    #[test]
    fn hellos_from_many_strangers_make_us_dial_a_few_a_second() {
        let me = Identity::from_seed([0; 32]);
        let mut d = Discovery::new(1, [0; 8], 0);
        let strangers: Vec<Identity> = (1..=200u8)
            .map(|i| Identity::from_seed([i; 32]))
            .filter(|s| s.node_id() > me.node_id())
            .collect();
        assert!(strangers.len() > 50);
        let hellos: Vec<Vec<u8>> = strangers
            .iter()
            .map(|s| Discovery::new(9, [0; 8], 5).hello(s, 5))
            .collect();
        let dials = |d: &mut Discovery, hs: &[Vec<u8>], at: u64| {
            hs.iter()
                .flat_map(|h| d.handle(&me, h, at, |_| false))
                .filter(|a| matches!(a, DiscoveryAction::Connect { .. }))
                .count()
        };
        let (first, rest) = hellos.split_at(hellos.len() / 2);
        assert_eq!(dials(&mut d, first, 1_000), DIAL_BURST as usize);
        assert_eq!(
            d.counters.dials_limited,
            first.len() as u64 - DIAL_BURST as u64
        );
        assert_eq!(d.counters.hellos, first.len() as u64);
        // One second later: four more.
        assert_eq!(dials(&mut d, rest, 1_001_000), DIALS_PER_SECOND as usize);
    }

    #[test]
    fn replay_forgery_and_other_network_are_dropped_and_counted() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let mut da = Discovery::new(1, [0; 8], 0);
        let mut db = Discovery::new(2, [0; 8], 0);
        let hello = db.hello(&b, 100);
        assert!(!da.handle(&a, &hello, 0, |_| false).is_empty());
        assert!(da.handle(&a, &hello, 0, |_| false).is_empty());
        assert_eq!(da.counters.replayed, 1);
        // A replay is refused before its signature is looked at: one with a broken signature
        // counts as replayed, not as forged.
        let mut stale = hello.clone();
        *stale.last_mut().unwrap() ^= 0xff;
        assert!(
            !DiscoveryRepr::parse(&stale).unwrap().verify(),
            "really forged"
        );
        assert!(da.handle(&a, &stale, 0, |_| false).is_empty());
        assert_eq!((da.counters.replayed, da.counters.bad_signature), (2, 0));
        let mut forged = db.hello(&b, 200);
        forged[40] ^= 0xff;
        assert!(da.handle(&a, &forged, 0, |_| false).is_empty());
        assert_eq!(da.counters.bad_signature, 1);
        let mut other = Discovery::new(3, [9; 8], 0);
        let h = other.hello(&b, 300);
        assert!(da.handle(&a, &h, 0, |_| false).is_empty());
        assert_eq!(da.counters.other_network, 1);
        assert!(da.handle(&a, b"junk", 0, |_| false).is_empty());
        assert_eq!(da.counters.malformed, 1);
    }
}
