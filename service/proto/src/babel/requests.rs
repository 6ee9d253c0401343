//! Seqno requests: asking for, forwarding and answering them, within rate limits.
//!
//! A request for a newer seqno makes the originator sign a new one and every node on the way
//! send updates, so requests are bounded three ways: per neighbour (a token window per
//! second), per origin when forwarding, and at the originator, whose seqno rises at most once
//! per [`MIN_BUMP_INTERVAL`] however many ask.

use std::time::Duration;

use super::table::{RidIdx, Stamp, seqno_newer};
use super::{Babel, INFINITY, NeighbourId, SEQNO_REQUEST_HOPS};
use crate::address::Subnet;
use crate::time::Timestamp;
use crate::wire::babel::update::origin_signed_bytes;
use crate::wire::babel::{Prefix, SeqnoRequestRepr, Tlv};

/// Seqno requests taken from one neighbour per second, sustained; more are dropped and
/// counted. A burst may reach one request per destination in our table when that is more (a
/// leaky bucket of that size, draining at this rate): a neighbour passing on the requests of
/// every node behind a cut may need one for nearly every destination at once, and a request
/// dropped here is never sent again (its frame was acknowledged), so with a flat 256 a second
/// an originator's only neighbours lost theirs and a whole region of starving nodes waited
/// 2.5 s after 10 % of the links were cut. Sustained, a neighbour still gets no more than
/// this rate, however large the table it made us hold.
pub const MAX_REQUESTS_PER_NEIGHBOUR: u32 = 256;
/// Requests forwarded per destination per second.
pub const MAX_FORWARDS_PER_ORIGIN: u32 = 4;
/// How long a forwarded request stops the same one (origin, seqno) from being forwarded again
/// to the same neighbour.
pub const FORWARD_MEMORY: Duration = Duration::from_secs(2);
/// A seqno request we forwarded: for which router id and seqno (packed to 2-byte alignment with
/// [`Forward`], so that a remembered forward takes 12 bytes, not 16: after cuts a node
/// remembers one for most destinations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C, packed(2))]
pub(super) struct Forwarded {
    rid: RidIdx,
    seqno: u16,
}

/// When a seqno request was forwarded, and to whom.
#[derive(Debug, Clone, Copy)]
#[repr(C, packed(2))]
pub(super) struct Forward {
    pub(super) at: Stamp,
    to: NeighbourId,
}

/// Shortest time between two seqno requests of ours for one destination.
pub const REQUEST_INTERVAL: Duration = Duration::from_millis(500);
/// Our own seqno rises at most this often at others' request.
pub const MIN_BUMP_INTERVAL: Duration = Duration::from_secs(1);

impl Babel {
    /// Counts a request from `from` against its bucket; false when over the limit.
    fn take_request_budget(&mut self, now: Timestamp, from: NeighbourId) -> bool {
        let burst = MAX_REQUESTS_PER_NEIGHBOUR.max(self.table.len().try_into().unwrap_or(u32::MAX));
        let Some(nb) = self.neighbours.get_mut(&from) else {
            return false;
        };
        let (since, outstanding) = &mut nb.request_window;
        // Paid back at MAX_REQUESTS_PER_NEIGHBOUR a second; the time of a part not yet paid
        // back is kept, so that frequent requests do not round the rate down.
        let elapsed = now.saturating_since(*since).as_micros();
        let paid = (elapsed * MAX_REQUESTS_PER_NEIGHBOUR as u128 / 1_000_000) as u64;
        if paid >= *outstanding as u64 {
            *outstanding = 0;
            *since = now;
        } else {
            *outstanding -= paid as u32;
            *since = *since
                + Duration::from_micros(
                    (paid as u128 * 1_000_000 / MAX_REQUESTS_PER_NEIGHBOUR as u128) as u64,
                );
        }
        if *outstanding >= burst {
            return false;
        }
        *outstanding += 1;
        true
    }

    /// Raises our seqno by one and signs it.
    pub(super) fn bump_own_seqno(&mut self, now: Timestamp) {
        self.own_seqno = self.own_seqno.wrapping_add(1);
        self.last_bump = Some(now);
        self.bump_at = None;
        self.own_sig = self
            .signer
            .sign(&origin_signed_bytes(&self.own_rid, self.own_seqno));
    }

    pub(super) fn handle_seqno_request(
        &mut self,
        now: Timestamp,
        from: NeighbourId,
        r: &SeqnoRequestRepr,
    ) {
        self.counters.seqno_requests_received += 1;
        if !self.take_request_budget(now, from) {
            self.counters.seqno_requests_limited += 1;
            return;
        }
        let Some(subnet) = r.prefix.as_subnet() else {
            return;
        };
        if subnet == self.own_subnet {
            let due = self
                .last_bump
                .is_none_or(|t| now.saturating_since(t) >= MIN_BUMP_INTERVAL);
            if r.router_id == self.own_rid && seqno_newer(r.seqno, self.own_seqno) && due {
                self.bump_own_seqno(now);
                // Everyone downstream needs the newer seqno, not just the requester.
                self.mark_dirty(now, subnet);
            } else {
                // Too soon after the last increase (or nothing newer wanted): the requester
                // gets what we have now, and the next number follows as soon as the rate
                // limit allows (asking again would wait out every relay's window: with 2 %
                // loss, a second wave of requests after the cuts took 1.3 s more).
                if r.router_id == self.own_rid && seqno_newer(r.seqno, self.own_seqno) {
                    self.counters.seqno_requests_limited += 1;
                    if let Some(last) = self.last_bump {
                        self.bump_at.get_or_insert(last + MIN_BUMP_INTERVAL);
                    }
                }
                self.queue_direct_update(now, from, subnet);
            }
            return;
        }
        // Never intern from a request: only a signed update makes a router id known — here,
        // not merely to another node sharing the simulator's table.
        let Some(rid) = self
            .rid_of(&r.router_id)
            .filter(|&i| self.rids.subnet(i) == subnet)
            .filter(|&i| self.origins.holds_any(i))
        else {
            return;
        };
        let Some(p) = self.table.get(&subnet) else {
            return;
        };
        let from_slot = self.neighbours.get(&from).map(|nb| nb.slot);
        if let Some(sel) = p.selected {
            if Some(sel.neigh) == from_slot {
                return; // the requester is our next hop: nothing we could tell it
            }
            if sel.rid == rid && !seqno_newer(r.seqno, sel.seqno) {
                self.queue_direct_update(now, from, subnet);
                return;
            }
        }
        if r.hop_count < 2 {
            return;
        }
        // Forward towards the originator: along our selected route, or else to the neighbour
        // with the best (even unfeasible) route that is not the requester.
        let target = p.selected.map(|s| s.neigh).or_else(|| {
            p.entries()
                .filter(|e| Some(e.neigh) != from_slot && e.refmetric != INFINITY)
                .min_by_key(|e| e.refmetric)
                .map(|e| e.neigh)
        });
        let Some(target) = target
            .and_then(|t| self.slot_ids[t.get() as usize - 1])
            .filter(|&t| t != from)
        else {
            return;
        };
        // Forwarded already, to the same neighbour: the answer is on its way. If our selected
        // route has moved since (often: the request went to a neighbour that had just lost
        // the route too), it goes on along the new one, rather than leaving every requester
        // waiting out the two seconds (with 2 % loss, a whole region of starving nodes waited
        // 2.3 s). Without a selected route the target depends on who asked, so there any
        // earlier forward counts.
        let key = Forwarded {
            rid,
            seqno: r.seqno,
        };
        if self
            .recent_requests
            .get(&key)
            .is_some_and(|&Forward { at, to }| {
                (to == target || p.selected.is_none()) && at.elapsed(now) < FORWARD_MEMORY
            })
        {
            return;
        }
        // Requests naming ever newer seqnos all differ; this caps the forwarding per origin.
        let stamp = Stamp::of(now);
        let w = self.forwarded_per_origin.entry(rid).or_insert((stamp, 0));
        if w.0.elapsed(now) >= Duration::from_secs(1) {
            *w = (stamp, 0);
        }
        if u32::from(w.1) >= MAX_FORWARDS_PER_ORIGIN {
            self.counters.seqno_requests_limited += 1;
            return;
        }
        w.1 += 1;
        self.recent_requests.insert(
            key,
            Forward {
                at: stamp,
                to: target,
            },
        );
        self.counters.seqno_requests_sent += 1;
        let fwd = SeqnoRequestRepr {
            hop_count: r.hop_count - 1,
            ..*r
        };
        self.queue_direct(now, target, Tlv::SeqnoRequest(fwd));
    }

    /// Asks the neighbours holding unfeasible routes for a newer seqno.
    pub(super) fn request_seqno(&mut self, now: Timestamp, subnet: Subnet) {
        let Some(mut p) = self.table.get_mut(&subnet) else {
            return;
        };
        if !p.take_request_turn(now) {
            return;
        }
        let mut reqs = Vec::new();
        for e in p.entries() {
            if e.refmetric == INFINITY {
                continue;
            }
            let want = p.source_seqno(e.rid).map_or(e.seqno, |s| s.wrapping_add(1));
            let Some(n) = self.slot_ids[e.neigh.get() as usize - 1] else {
                continue;
            };
            reqs.push((
                n,
                SeqnoRequestRepr {
                    seqno: want,
                    hop_count: SEQNO_REQUEST_HOPS,
                    router_id: self.rids.id(e.rid),
                    prefix: Prefix::from_subnet(subnet),
                },
            ));
        }
        for (n, r) in reqs {
            self.counters.seqno_requests_sent += 1;
            self.queue_direct(now, n, Tlv::SeqnoRequest(r));
        }
    }
}
