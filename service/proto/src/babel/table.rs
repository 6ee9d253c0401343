//! The route table of one prefix: routes learnt per neighbour, feasibility distances per
//! source, and what is selected.

use super::{INFINITY, NeighbourId};
use crate::time::Timestamp;

/// Index of an interned router id (router ids are 36 bytes; a node sees each one on many
/// routes, so entries store this index).
pub type RidIdx = u32;

/// `a` is newer than `b` in 16-bit sequence-number arithmetic (RFC 8966 §3.2.1).
pub fn seqno_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

/// A route learnt from one neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteEntry {
    /// The neighbour that advertised it.
    pub neigh: NeighbourId,
    /// Originator.
    pub rid: RidIdx,
    /// Originator's sequence number.
    pub seqno: u16,
    /// Metric as the neighbour advertised it (before adding our link cost).
    pub refmetric: u16,
    /// When the route disappears unless refreshed.
    pub expires: Timestamp,
}

/// Feasibility distance for one source (RFC 8966 §3.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// Originator.
    pub rid: RidIdx,
    /// Sequence number of the best advertisement we sent.
    pub seqno: u16,
    /// Smallest metric we advertised with that seqno.
    pub metric: u16,
    /// Forgotten after this (long after any route using it is gone).
    pub gc: Timestamp,
}

/// The route currently used for forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    /// Next hop.
    pub neigh: NeighbourId,
    /// Originator.
    pub rid: RidIdx,
    /// Originator's seqno.
    pub seqno: u16,
    /// Our metric (link cost + advertised metric).
    pub metric: u16,
}

/// Everything about one destination /64.
#[derive(Debug, Clone, Default)]
pub struct PrefixState {
    /// Routes per neighbour (at most one each).
    pub entries: Vec<RouteEntry>,
    /// Feasibility distances.
    pub sources: Vec<Source>,
    /// The selected route.
    pub selected: Option<Selected>,
    /// After losing the route, we advertise a retraction until then.
    pub retract_until: Option<Timestamp>,
    /// The last route we advertised (to resend as a retraction after losing it).
    pub last_advertised: Option<(RidIdx, u16)>,
    /// Rate limit for seqno requests while starving.
    pub last_request: Option<Timestamp>,
}

impl PrefixState {
    /// True when an advertisement (rid, seqno, metric) passes the feasibility condition.
    pub fn feasible(&self, rid: RidIdx, seqno: u16, metric: u16) -> bool {
        if metric == INFINITY {
            return true;
        }
        match self.sources.iter().find(|s| s.rid == rid) {
            None => true,
            Some(s) => seqno_newer(seqno, s.seqno) || (seqno == s.seqno && metric < s.metric),
        }
    }

    /// Records that we advertised (rid, seqno, metric): lowers or renews the feasibility
    /// distance.
    pub fn note_advertised(&mut self, rid: RidIdx, seqno: u16, metric: u16, gc: Timestamp) {
        if metric == INFINITY {
            return;
        }
        self.last_advertised = Some((rid, seqno));
        match self.sources.iter_mut().find(|s| s.rid == rid) {
            None => self.sources.push(Source {
                rid,
                seqno,
                metric,
                gc,
            }),
            Some(s) => {
                if seqno_newer(seqno, s.seqno) {
                    s.seqno = seqno;
                    s.metric = metric;
                } else if seqno == s.seqno && metric < s.metric {
                    s.metric = metric;
                }
                s.gc = gc;
            }
        }
    }

    /// The feasibility distance's seqno for `rid`, if any.
    pub fn source_seqno(&self, rid: RidIdx) -> Option<u16> {
        self.sources.iter().find(|s| s.rid == rid).map(|s| s.seqno)
    }

    /// The entry learnt from `neigh`.
    pub fn entry(&self, neigh: NeighbourId) -> Option<&RouteEntry> {
        self.entries.iter().find(|e| e.neigh == neigh)
    }

    /// Removes the entry learnt from `neigh`; returns true if there was one.
    pub fn remove_entry(&mut self, neigh: NeighbourId) -> bool {
        match self.entries.iter().position(|e| e.neigh == neigh) {
            Some(i) => {
                self.entries.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Nothing left worth keeping.
    pub fn is_empty(&self, now: Timestamp) -> bool {
        self.entries.is_empty()
            && self.sources.is_empty()
            && self.selected.is_none()
            && self.retract_until.is_none_or(|t| t <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqno_arithmetic_wraps() {
        assert!(seqno_newer(1, 0));
        assert!(seqno_newer(0, 0xffff));
        assert!(!seqno_newer(0, 1));
        assert!(!seqno_newer(5, 5));
    }

    #[test]
    fn feasibility_condition() {
        let mut p = PrefixState::default();
        let t = Timestamp::ZERO;
        assert!(p.feasible(1, 10, 500), "no source: feasible");
        p.note_advertised(1, 10, 300, t);
        assert!(p.feasible(1, 10, 299));
        assert!(!p.feasible(1, 10, 300));
        assert!(!p.feasible(1, 9, 1));
        assert!(p.feasible(1, 11, 60000));
        assert!(p.feasible(1, 10, INFINITY), "retractions always feasible");
        assert!(p.feasible(2, 0, 1000), "other source");
        p.note_advertised(1, 10, 200, t);
        assert!(!p.feasible(1, 10, 250), "FD only decreases within a seqno");
    }
}
