//! What a received update does, and which route wins: the update's checks (filter, origin
//! signature, feasibility), the route table entry it changes, and route selection with what a
//! change of the selected route makes urgent for the neighbours.

use std::time::Duration;

use super::origin::Origin;
use super::table::{self, Expiry, RouteEntry, Selected, Stamp};
use super::updates::Dest;
use super::{Babel, INFINITY, NeighbourId, RouteChange, SEQNO_REQUEST_HOPS};
use crate::address::Subnet;
use crate::time::Timestamp;
use crate::wire::babel::{RouteRequestRepr, SeqnoRequestRepr, Tlv, UpdateRepr};

impl Babel {
    pub(super) fn handle_update(&mut self, now: Timestamp, from: NeighbourId, u: &UpdateRepr) {
        self.counters.updates_received += 1;
        let Some(subnet) = u.prefix.as_subnet().filter(|s| s.in_overlay()) else {
            self.counters.rejected_filter += 1;
            return;
        };
        if subnet == self.own_subnet {
            return;
        }
        // A known router id was checked to own its /64 when it was interned: deriving the
        // /64 (a BLAKE3 key derivation) once per router id, not once per update, was a tenth
        // of the simulator's time.
        let known = self.rid_of(&u.router_id);
        let owns = match known {
            Some(i) => self.rids.subnet(i) == subnet,
            None => u.router_id.node.subnet() == subnet,
        };
        if !owns {
            self.counters.rejected_filter += 1;
            return;
        }
        let lifetime = Duration::from_millis(u.interval_cs as u64 * 10) * 7 / 2;
        let expires = Expiry::of(now + lifetime.min(Expiry::MAX));
        let limit = self.cfg.max_routes_per_neighbour;
        if u.metric == INFINITY {
            // A retraction only withdraws what this neighbour itself said: no signature needed.
            let Some(slot) = self.neighbours.get(&from).map(|nb| nb.slot) else {
                return;
            };
            let Some(i) = self.table.index_of(&subnet) else {
                return;
            };
            if self.table.at_mut(i).remove_entry(slot) {
                if let Some(nb) = self.neighbours.get_mut(&from) {
                    nb.route_count -= 1;
                }
                self.select_at(now, i, subnet);
            }
            return;
        }
        let rid = match self.authenticate(from, u, subnet, known) {
            Origin::Verified(rid) => rid,
            Origin::Forged => return,
            Origin::NotHeld => {
                // Asked for again: the answer is signed (it may be that our copy was dropped,
                // or the update carrying the signature lost).
                let req = RouteRequestRepr { prefix: u.prefix };
                self.queue_direct(now, from, Tlv::RouteRequest(req));
                return;
            }
        };
        let Some(nb) = self.neighbours.get_mut(&from) else {
            return;
        };
        let slot = nb.slot;
        let i = self.table.index_or_insert(subnet);
        let mut p = self.table.at_mut(i);
        if !p.feasible(rid, u.seqno, u.metric) {
            self.counters.unfeasible += 1;
            // RFC 8966 §3.5.4: an unfeasible update for the selected route from the same
            // source may be ignored. Keeping the route (with the metric it was selected at)
            // stays loop-free and avoids retracting it from everyone downstream; a seqno
            // request fetches a newer, feasible advertisement instead.
            if p.selected
                .is_some_and(|sel| sel.neigh == slot && sel.rid == rid)
            {
                p.set_expiry(slot, expires);
                let want = p.source_seqno(rid).map_or(u.seqno, |s| s.wrapping_add(1));
                if p.take_request_turn(now) {
                    self.counters.seqno_requests_sent += 1;
                    let req = SeqnoRequestRepr {
                        seqno: want,
                        hop_count: SEQNO_REQUEST_HOPS,
                        router_id: u.router_id,
                        prefix: u.prefix,
                    };
                    self.queue_direct(now, from, Tlv::SeqnoRequest(req));
                }
                return;
            }
        }
        let entry = RouteEntry {
            rid,
            seqno: u.seqno,
            refmetric: u.metric,
            expires,
            neigh: slot,
        };
        let new = p.entry(slot).is_none();
        if new && nb.route_count >= limit {
            self.counters.rejected_limit += 1;
            return;
        }
        // Every neighbour's slot is within the table's width (`add_neighbour`).
        let Some(evicted) = p.set_entry(entry) else {
            return;
        };
        if new {
            nb.route_count += 1;
        }
        for s in evicted {
            if let Some(nb) =
                self.slot_ids[s.get() as usize - 1].and_then(|id| self.neighbours.get_mut(&id))
            {
                nb.route_count -= 1;
            }
        }
        self.select_at(now, i, subnet);
    }

    pub(super) fn handle_route_request(
        &mut self,
        now: Timestamp,
        from: NeighbourId,
        r: &RouteRequestRepr,
    ) {
        if r.prefix.len == 0 {
            self.reliable_dump.insert(from);
            self.schedule_flush(now);
        } else if let Some(s) = r.prefix.as_subnet() {
            self.queue_direct_update(now, from, s);
        }
    }

    /// Re-selects every prefix that has a route through `n` (its cost changed).
    pub(super) fn reselect_via(&mut self, now: Timestamp, n: NeighbourId) {
        let Some(slot) = self.neighbours.get(&n).map(|nb| nb.slot) else {
            return;
        };
        let affected: Vec<Subnet> = self
            .table
            .iter()
            .filter(|(_, p)| p.entry(slot).is_some())
            .map(|(s, _)| *s)
            .collect();
        for s in affected {
            self.select(now, s);
        }
    }

    /// Route selection for one prefix (after every change that could affect it).
    pub(super) fn select(&mut self, now: Timestamp, subnet: Subnet) {
        if let Some(i) = self.table.index_of(&subnet) {
            self.select_at(now, i, subnet);
        }
    }

    /// [`Babel::select`] for the destination at place `i` of the table (`subnet`'s): a
    /// received update has just looked it up, and every lookup hashes and probes again.
    pub(super) fn select_at(&mut self, now: Timestamp, i: usize, subnet: Subnet) {
        let mut p = self.table.at_mut(i);
        let mut best: Option<Selected> = None;
        let mut current: Option<Selected> = None;
        let mut starving = false;
        for e in p.entries() {
            let cost = self.slot_ids[e.neigh.get() as usize - 1]
                .and_then(|id| self.neighbours.get(&id))
                .map_or(INFINITY, |n| n.cost());
            if cost == INFINITY || e.refmetric == INFINITY {
                continue;
            }
            if !p.feasible(e.rid, e.seqno, e.refmetric) {
                starving = true;
                continue;
            }
            let metric = (cost as u32 + e.refmetric as u32).min(INFINITY as u32 - 1) as u16;
            let cand = Selected {
                rid: e.rid,
                seqno: e.seqno,
                metric,
                neigh: e.neigh,
            };
            if p.selected.is_some_and(|s| s.neigh == e.neigh) {
                current = Some(cand);
            }
            // Ties go to the lower neighbour slot so that every run picks the same route.
            if best.is_none_or(|b| (metric, e.neigh) < (b.metric, b.neigh)) {
                best = Some(cand);
            }
        }
        let chosen = match (current, best) {
            (Some(c), Some(b)) if b.metric.saturating_add(self.cfg.hysteresis) >= c.metric => {
                Some(c)
            }
            (_, b) => b,
        };
        let old = p.selected;
        p.selected = chosen;
        if old.map(|o| (o.rid, o.seqno)) != chosen.map(|c| (c.rid, c.seqno)) {
            // Who was sent the old route's signature does not hold the new one's.
            p.signed_to = 0;
        }
        let advertised = p.advertised_metric;
        // Urgent: what neighbours must learn at once (a route appeared or went, a new seqno
        // that may end someone's starvation, a metric much worse). Improved: what only makes
        // their routes better (a lower metric, another next hop) and can wait for
        // [`IMPROVEMENT_DELAY`]; at start-up, when every link's cost drops as its RTT is
        // measured, this halves the updates sent. One exception: after a change of next hop,
        // the old one hears at once (an acknowledged update to it alone), since split horizon
        // kept it uninformed and it has often just lost the route that made us move.
        //
        // Every newer seqno is urgent everywhere, not only on the way back to the node that
        // asked: sending it only where a request passed (RFC 8966 leaves this open) cut the
        // updates after 10 % link cuts by a third but took convergence from 1.55 s to 8 s, and
        // to 78 s with 2 % loss, since requests are rate-limited per origin.
        let (significant, improved) = match (old, chosen) {
            (None, None) => (false, false),
            (Some(_), None) | (None, Some(_)) => (true, false),
            (Some(o), Some(c)) => {
                // Worse than what neighbours last heard (or, before any advertisement, than
                // the route it replaces) by more than 1/8.
                let base = if advertised == INFINITY {
                    o.metric
                } else {
                    advertised
                };
                let urgent = o.rid != c.rid
                    || o.seqno != c.seqno
                    || c.metric > base.saturating_add(base / 8);
                let better = o.neigh != c.neigh || o.metric.abs_diff(c.metric) > o.metric / 8;
                (urgent, !urgent && better)
            }
        };
        if chosen.is_none() && old.is_some() {
            p.retract_until = Some(Stamp::ahead(now, self.cfg.update_interval * 2));
            self.counters.routes_lost += 1;
        } else if chosen.is_some() {
            p.retract_until = None;
        }
        // Queued on the state at hand (as `mark_dirty` would, looking it up again).
        let flag = if significant {
            table::DIRTY
        } else {
            table::IMPROVED
        };
        let fresh = (significant || improved) && p.flags & flag == 0;
        if significant || improved {
            p.flags |= flag;
        }
        let starving = chosen.is_none() && starving;
        if old.map(|s| s.neigh) != chosen.map(|s| s.neigh) {
            self.events.push_back(RouteChange {
                subnet,
                next_hop: chosen.map(|s| Self::id_of(&self.slot_ids, s.neigh)),
                metric: chosen.map_or(INFINITY, |s| s.metric),
            });
        }
        if significant {
            if fresh {
                self.dirty.push(i as Dest);
            }
            self.schedule_flush(now);
        } else if improved {
            if fresh {
                self.improved.push(i as Dest);
            }
            self.schedule_improvements(now);
            // Not to a neighbour gone silent (most often the very link whose loss made us
            // move): the update would only wait for an acknowledgment that cannot come.
            let heard = now.saturating_sub(self.cfg.hello_interval * 2);
            if let (Some(o), Some(c)) = (old, chosen)
                && o.neigh != c.neigh
                && let Some(old_id) = self.slot_ids[o.neigh.get() as usize - 1]
                && self
                    .neighbours
                    .get(&old_id)
                    .is_some_and(|nb| nb.heard_since(heard))
            {
                self.queue_direct_update(now, old_id, subnet);
            }
        }
        if starving {
            self.request_seqno(now, subnet);
        }
    }
}
