//! Names: `alice.hypha` instead of a 64-digit node id.
//!
//! A node claims a name with a self-signed fact ([`crate::wire::fact::ATTR_NAME`]) that is
//! gossiped like endpoint facts and re-signed before it expires. Receivers accept only claims
//! signed by their subject, with a valid name and a claim time not in the future. Several
//! nodes may claim one name; the oldest claim wins, ties go to the smaller node id. A node that
//! later claims a taken name never wins it while the holder keeps its claim alive, and the
//! holder keeps it across restarts because `since_ms` is stored with its settings.
//!
//! `since_ms` is the claimant's word, so it is not taken at face value: a claim counts as made
//! no earlier than [`FIRST_SEEN_GRACE_MS`] before this node first saw it
//! (`max(since_ms, first_seen − grace)`). A node that already knows a holder's claim therefore
//! keeps the holder when a newcomer backdates a claim: the newcomer's claim is first seen now.
//! The grace keeps honest races consistent (two fresh claims reach nodes in different orders
//! within the gossip delay, and are then decided by `since_ms` everywhere).
//!
//! Limits: a node that sees both claims for the first time together (it just joined, or
//! restarted: first-seen times are not stored) cannot tell and goes by `since_ms`, so it may
//! believe the backdated claim; nodes can then disagree. `hypha names` lists the losing claims
//! as contenders, and every node stays reachable by its id.

use std::collections::BTreeMap;

use crate::facts::FactStore;
use crate::identity::NodeId;
use crate::wire::fact::{ATTR_NAME, parse_name};

/// Longest name, bytes (the fact value also carries 8 bytes of claim time).
pub const MAX_NAME: usize = 48;
/// How far before its first sighting here a claim may date itself and still count so.
pub const FIRST_SEEN_GRACE_MS: u64 = 60_000;
/// The zone names live in.
pub const ZONE: &str = "hypha";

/// Why a name is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty or longer than [`MAX_NAME`].
    #[error("a name has 1 to {MAX_NAME} characters")]
    Length,
    /// A character outside `a-z`, `0-9`, `-`.
    #[error("a name has only lowercase letters, digits and '-'")]
    Charset,
    /// Starts or ends with `-`.
    #[error("a name does not start or end with '-'")]
    Hyphen,
}

/// Checks a name (without the `.hypha` zone): a DNS label of lowercase letters, digits and
/// inner hyphens.
pub fn check(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(NameError::Length);
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(NameError::Charset);
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(NameError::Hyphen);
    }
    Ok(())
}

/// Normalises what a person typed (`Alice`, `alice.hypha.`, `alice.HYPHA`) to a name.
pub fn normalise(input: &str) -> String {
    let s = input.trim().trim_end_matches('.').to_ascii_lowercase();
    match s.strip_suffix(ZONE).and_then(|r| r.strip_suffix('.')) {
        Some(r) => r.to_string(),
        None => s,
    }
}

/// One name as settled from the facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameEntry {
    /// The name.
    pub name: String,
    /// Who holds it.
    pub node: NodeId,
    /// When the holder claimed it, ms since the Unix epoch.
    pub since_ms: u64,
    /// Other nodes claiming it (they lose).
    pub contenders: Vec<NodeId>,
}

/// Every claimed name, settled: each subject's newest claim counts, and of several claims on
/// one name the oldest wins, judged by `max(since_ms, first seen here − grace)`, then by
/// `since_ms`, then by the smaller node id.
pub fn settle(facts: &FactStore) -> BTreeMap<String, NameEntry> {
    // Each subject's current claim: the most recently signed one.
    let mut current: BTreeMap<NodeId, (u64, String, u64)> = BTreeMap::new();
    for f in facts.all() {
        if f.attr != ATTR_NAME || f.signer != f.subject {
            continue;
        }
        let Some((name, since)) = parse_name(&f.value) else {
            continue;
        };
        let newer = current
            .get(&f.subject)
            .is_none_or(|(issued, _, _)| f.issued_ms > *issued);
        if newer {
            current.insert(f.subject, (f.issued_ms, name, since));
        }
    }
    let mut by_name: BTreeMap<String, Vec<(u64, u64, NodeId)>> = BTreeMap::new();
    for (node, (_, name, since)) in current {
        let seen = facts
            .name_first_seen(&node, &name)
            .map_or(0, |t| t.saturating_sub(FIRST_SEEN_GRACE_MS));
        by_name
            .entry(name)
            .or_default()
            .push((since.max(seen), since, node));
    }
    by_name
        .into_iter()
        .map(|(name, mut claims)| {
            claims.sort();
            let (_, since_ms, node) = claims[0];
            let contenders = claims[1..].iter().map(|c| c.2).collect();
            let e = NameEntry {
                name: name.clone(),
                node,
                since_ms,
                contenders,
            };
            (name, e)
        })
        .collect()
}

/// The node holding `name` (normalised first), if any.
pub fn resolve(facts: &FactStore, name: &str) -> Option<NodeId> {
    settle(facts).get(&normalise(name)).map(|e| e.node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::wire::fact::{FactRepr, name_value};

    const NOW: u64 = 1_800_000_000_000;

    fn claim(id: &Identity, name: &str, since: u64, issued: u64) -> FactRepr {
        FactRepr::signed(
            id,
            id.node_id(),
            ATTR_NAME,
            name_value(name, since),
            issued,
            300,
        )
    }

    #[test]
    fn names_are_checked_and_normalised() {
        assert_eq!(check("cee"), Ok(()));
        assert_eq!(check("a-1"), Ok(()));
        assert_eq!(check(""), Err(NameError::Length));
        assert_eq!(check(&"a".repeat(49)), Err(NameError::Length));
        assert_eq!(check("Alice"), Err(NameError::Charset));
        assert_eq!(check("a.b"), Err(NameError::Charset));
        assert_eq!(check("-a"), Err(NameError::Hyphen));
        assert_eq!(normalise(" Alice.HYPHA. "), "alice");
        assert_eq!(normalise("bob"), "bob");
    }

    #[test]
    fn oldest_claim_wins_and_order_does_not_matter() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let fa = claim(&a, "cee", NOW - 5000, NOW);
        let fb = claim(&b, "cee", NOW - 9000, NOW);
        for order in [[&fa, &fb], [&fb, &fa]] {
            let mut s = FactStore::new();
            for f in order {
                assert!(s.insert(f.clone(), NOW, |_| false));
            }
            let e = &settle(&s)["cee"];
            assert_eq!(e.node, b.node_id());
            assert_eq!(e.contenders, vec![a.node_id()]);
        }
        // Same claim time: the smaller node id wins, everywhere.
        let mut s = FactStore::new();
        s.insert(claim(&a, "x", NOW, NOW), NOW, |_| false);
        s.insert(claim(&b, "x", NOW, NOW), NOW, |_| false);
        let min = a.node_id().min(b.node_id());
        assert_eq!(resolve(&s, "X.hypha"), Some(min));
    }

    #[test]
    fn a_backdated_claim_does_not_take_a_known_name() {
        let holder = Identity::from_seed([1; 32]);
        let thief = Identity::from_seed([2; 32]);
        const DAY: u64 = 86_400_000;
        // This node learnt the holder's ten-day-old claim an hour ago.
        let mut s = FactStore::new();
        s.insert(
            claim(&holder, "cee", NOW - 10 * DAY, NOW - 3_600_000),
            NOW - 3_600_000,
            |_| false,
        );
        // Now a newcomer claims the name, dated a day earlier still.
        s.insert(claim(&thief, "cee", NOW - 11 * DAY, NOW), NOW, |_| false);
        let e = &settle(&s)["cee"];
        assert_eq!(e.node, holder.node_id());
        assert_eq!(e.contenders, vec![thief.node_id()]);
        // Re-signing keeps the first sighting: the holder's renewals change nothing.
        s.insert(
            claim(&holder, "cee", NOW - 10 * DAY, NOW + 1),
            NOW + 1,
            |_| false,
        );
        assert_eq!(settle(&s)["cee"].node, holder.node_id());
        // The documented limit: a node that meets both claims at once goes by since_ms.
        let mut fresh = FactStore::new();
        fresh.insert(claim(&holder, "cee", NOW - 10 * DAY, NOW), NOW, |_| false);
        fresh.insert(claim(&thief, "cee", NOW - 11 * DAY, NOW), NOW, |_| false);
        assert_eq!(settle(&fresh)["cee"].node, thief.node_id());
    }

    #[test]
    fn honest_races_settle_the_same_everywhere() {
        // Two fresh claims a few seconds apart reach two nodes in opposite orders.
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let (fa, fb) = (
            claim(&a, "x", NOW, NOW),
            claim(&b, "x", NOW + 3000, NOW + 3000),
        );
        let mut one = FactStore::new();
        one.insert(fa.clone(), NOW + 100, |_| false);
        one.insert(fb.clone(), NOW + 3100, |_| false);
        let mut two = FactStore::new();
        two.insert(fb, NOW + 3100, |_| false);
        two.insert(fa, NOW + 9000, |_| false);
        assert_eq!(settle(&one)["x"].node, a.node_id());
        assert_eq!(settle(&two)["x"].node, a.node_id());
    }

    #[test]
    fn a_rename_replaces_the_old_name() {
        let a = Identity::from_seed([1; 32]);
        let mut s = FactStore::new();
        s.insert(claim(&a, "old", NOW - 10, NOW - 10), NOW, |_| false);
        s.insert(claim(&a, "new", NOW, NOW), NOW, |_| false);
        assert_eq!(resolve(&s, "new"), Some(a.node_id()));
        assert_eq!(resolve(&s, "old"), None);
    }

    #[test]
    fn forged_and_vouched_claims_are_refused() {
        let a = Identity::from_seed([1; 32]);
        let m = Identity::from_seed([3; 32]);
        let mut s = FactStore::new();
        // A claim for a's id signed by someone else: not a self-claim.
        let vouched = FactRepr::signed(&m, a.node_id(), ATTR_NAME, name_value("cee", 1), NOW, 300);
        assert!(!s.insert(vouched, NOW, |_| true));
        assert_eq!(s.counters.untrusted, 1);
        // A claim whose bytes were altered after signing.
        let mut forged = claim(&a, "cee", 1, NOW);
        forged.value = name_value("dee", 1);
        assert!(!s.insert(forged, NOW, |_| true));
        assert_eq!(s.counters.forged, 1);
        // An invalid name, or a claim dated in the future.
        assert!(!s.insert(claim(&a, "Bad Name", 1, NOW), NOW, |_| true));
        assert!(!s.insert(claim(&a, "later", NOW + 120_000, NOW), NOW, |_| true));
        assert_eq!(s.counters.malformed, 2);
        assert_eq!(resolve(&s, "cee"), None);
    }
}
