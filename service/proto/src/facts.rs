//! Facts: what nodes know about where other nodes can be reached, and whom to believe.
//!
//! Trust model: a fact is accepted when its signature verifies, it has not expired (nor was
//! issued more than a minute in the future), and either the signer is its subject (a node
//! speaks for its own endpoints) or the signer vouches for an endpoint it observed for
//! another node (a neighbour's NAT mapping) and is itself a member of the mesh (the caller
//! tells: we have a route to it). Each signer may have at most [`MAX_PER_SIGNER`] facts
//! stored, and each link may hand us at most [`MAX_PER_LINK_SECOND`] facts per second, so a
//! member cannot flood the mesh with endpoints. A false endpoint costs at most a handshake
//! attempt: links are authenticated, so it can never impersonate anyone.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::identity::NodeId;
use crate::wire::fact::{ATTR_NAME, ATTR_UDP_ENDPOINT, FactRepr, parse_endpoint, parse_name};

/// Facts one signer may have stored.
pub const MAX_PER_SIGNER: usize = 64;
/// Facts accepted from one link per second.
pub const MAX_PER_LINK_SECOND: u32 = 64;
/// Facts stored in all.
pub const MAX_FACTS: usize = 8192;

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactCounters {
    /// Facts accepted (new or newer).
    pub accepted: u64,
    /// Dropped: signature did not verify.
    pub forged: u64,
    /// Dropped: expired, or issued in the future.
    pub expired: u64,
    /// Dropped: signer neither the subject nor a mesh member, or over its quota.
    pub untrusted: u64,
    /// Dropped: the link sent too many.
    pub rate_limited: u64,
    /// Dropped: malformed frames, or name claims with an invalid name or future claim time.
    pub malformed: u64,
    /// Dropped before any signature check: we hold that fact already, as new or newer.
    pub duplicates: u64,
}

type Key = (NodeId, u8, Vec<u8>, NodeId);

/// The facts a node holds.
#[derive(Default)]
pub struct FactStore {
    facts: BTreeMap<Key, FactRepr>,
    gossip: Vec<FactRepr>,
    /// When this node first accepted a claim by a subject on a name (wall ms): what the name
    /// rule weighs against a claim's own `since_ms` ([`crate::names::settle`]).
    name_first_seen: BTreeMap<(NodeId, String), u64>,
    /// Counters.
    pub counters: FactCounters,
}

impl FactStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers a fact. `member` tells whether a signer is part of the mesh. Returns true when
    /// it was new (and will be gossiped on).
    pub fn insert(&mut self, f: FactRepr, wall_ms: u64, member: impl Fn(&NodeId) -> bool) -> bool {
        if f.expires_ms() <= wall_ms || f.issued_ms > wall_ms + 60_000 {
            self.counters.expired += 1;
            return false;
        }
        // The cheap check first: a fact we hold already (or a newer one of it) costs a lookup,
        // not a signature check, however often it is replayed.
        let key = (f.subject, f.attr, f.value.clone(), f.signer);
        if self
            .facts
            .get(&key)
            .is_some_and(|old| old.issued_ms >= f.issued_ms)
        {
            self.counters.duplicates += 1;
            return false;
        }
        if !f.verify() {
            self.counters.forged += 1;
            return false;
        }
        if f.attr == ATTR_NAME {
            // Names: only the subject speaks for itself, with a valid name claimed in the past.
            if f.signer != f.subject {
                self.counters.untrusted += 1;
                return false;
            }
            if parse_name(&f.value).is_none_or(|(_, since)| since > f.issued_ms + 60_000) {
                self.counters.malformed += 1;
                return false;
            }
        }
        if f.signer != f.subject && !member(&f.signer) {
            self.counters.untrusted += 1;
            return false;
        }
        if !self.facts.contains_key(&key) {
            let by_signer = self.facts.values().filter(|x| x.signer == f.signer).count();
            if by_signer >= MAX_PER_SIGNER || self.facts.len() >= MAX_FACTS {
                self.counters.untrusted += 1;
                return false;
            }
        }
        self.counters.accepted += 1;
        if f.attr == ATTR_NAME
            && let Some((name, _)) = parse_name(&f.value)
        {
            self.name_first_seen
                .entry((f.subject, name))
                .or_insert(wall_ms);
        }
        self.facts.insert(key, f.clone());
        self.gossip.push(f);
        true
    }

    /// Drops expired facts.
    pub fn expire(&mut self, wall_ms: u64) {
        self.facts.retain(|_, f| f.expires_ms() > wall_ms);
        let claims: std::collections::BTreeSet<(NodeId, String)> = self
            .facts
            .values()
            .filter(|f| f.attr == ATTR_NAME)
            .filter_map(|f| parse_name(&f.value).map(|(n, _)| (f.subject, n)))
            .collect();
        self.name_first_seen.retain(|k, _| claims.contains(k));
    }

    /// When this node first accepted `subject`'s claim on `name` (wall ms), if it holds one.
    pub fn name_first_seen(&self, subject: &NodeId, name: &str) -> Option<u64> {
        self.name_first_seen
            .get(&(*subject, name.to_string()))
            .copied()
    }

    /// Known UDP endpoints of `subject` (own claims first, then vouched ones).
    pub fn endpoints(&self, subject: &NodeId) -> Vec<SocketAddr> {
        let mut own = Vec::new();
        let mut vouched = Vec::new();
        for f in self
            .facts
            .values()
            .filter(|f| f.subject == *subject && f.attr == ATTR_UDP_ENDPOINT)
        {
            if let Some(a) = parse_endpoint(&f.value) {
                let list = if f.signer == f.subject {
                    &mut own
                } else {
                    &mut vouched
                };
                if !list.contains(&a) {
                    list.push(a);
                }
            }
        }
        own.extend(
            vouched
                .into_iter()
                .filter(|a| !own.contains(a))
                .collect::<Vec<_>>(),
        );
        own
    }

    /// Queues a fact for gossip without checking or storing it. Only for tests that need a
    /// node to send what an attacker would (forged or untrusted facts).
    #[doc(hidden)]
    pub fn gossip_unchecked(&mut self, f: FactRepr) {
        self.gossip.push(f);
    }

    /// Facts accepted since the last call (to gossip to neighbours).
    pub fn take_gossip(&mut self) -> Vec<FactRepr> {
        std::mem::take(&mut self.gossip)
    }

    /// Every fact held.
    pub fn all(&self) -> impl Iterator<Item = &FactRepr> {
        self.facts.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::wire::fact::endpoint_value;

    fn ep(s: &str) -> Vec<u8> {
        endpoint_value(&s.parse().unwrap())
    }

    #[test]
    fn trust_model() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let x = Identity::from_seed([3; 32]);
        let mut s = FactStore::new();
        let member = |n: &NodeId| *n == b.node_id();
        // Self-claim: accepted.
        let own = FactRepr::signed(
            &a,
            a.node_id(),
            ATTR_UDP_ENDPOINT,
            ep("10.0.0.1:9651"),
            1000,
            60,
        );
        assert!(s.insert(own.clone(), 2000, member));
        assert!(!s.insert(own.clone(), 2000, member), "not new");
        // A copy of a fact we hold is turned away before its signature is looked at: even a
        // copy with a broken signature counts as a duplicate, not as a forgery.
        let mut broken = own;
        broken.signature[0] ^= 1;
        assert!(!s.insert(broken, 2000, member));
        assert_eq!((s.counters.duplicates, s.counters.forged), (2, 0));
        // A member vouches for what it saw: accepted.
        let seen = FactRepr::signed(
            &b,
            a.node_id(),
            ATTR_UDP_ENDPOINT,
            ep("198.51.100.7:40000"),
            1000,
            60,
        );
        assert!(s.insert(seen, 2000, member));
        // A stranger vouching: refused.
        let lie = FactRepr::signed(
            &x,
            a.node_id(),
            ATTR_UDP_ENDPOINT,
            ep("203.0.113.9:1"),
            1000,
            60,
        );
        assert!(!s.insert(lie, 2000, member));
        assert_eq!(s.counters.untrusted, 1);
        // Forged and expired.
        let mut forged = FactRepr::signed(
            &a,
            a.node_id(),
            ATTR_UDP_ENDPOINT,
            ep("10.0.0.2:9651"),
            1000,
            60,
        );
        forged.value = ep("10.0.0.3:9651");
        assert!(!s.insert(forged, 2000, member));
        let old = FactRepr::signed(
            &a,
            a.node_id(),
            ATTR_UDP_ENDPOINT,
            ep("10.0.0.4:9651"),
            1000,
            1,
        );
        assert!(!s.insert(old, 2000, member));
        assert_eq!((s.counters.forged, s.counters.expired), (1, 1));
        assert_eq!(
            s.endpoints(&a.node_id()),
            vec![
                "10.0.0.1:9651".parse().unwrap(),
                "198.51.100.7:40000".parse().unwrap()
            ]
        );
        assert_eq!(s.take_gossip().len(), 2);
        s.expire(61_001);
        assert!(s.endpoints(&a.node_id()).is_empty());
    }

    #[test]
    fn per_signer_quota() {
        let a = Identity::from_seed([1; 32]);
        let mut s = FactStore::new();
        for i in 0..(MAX_PER_SIGNER + 5) {
            let f = FactRepr::signed(
                &a,
                a.node_id(),
                ATTR_UDP_ENDPOINT,
                ep(&format!("10.0.{}.{}:1", i / 200, i % 200 + 1)),
                1,
                600,
            );
            s.insert(f, 2, |_| false);
        }
        assert_eq!(s.all().count(), MAX_PER_SIGNER);
        assert_eq!(s.counters.untrusted, 5);
    }
}
