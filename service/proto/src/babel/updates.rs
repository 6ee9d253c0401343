//! Sending updates: what is queued (urgent changes, improvements, requests, answers), what is
//! said about a prefix to each neighbour, and the flushes that send it (§5.6 of PROTOCOL.md).

use super::acks::Item;
use super::table;
use super::{Babel, IMPROVEMENT_DELAY, MAX_BODY, NeighbourId};
use crate::address::Subnet;
use crate::time::Timestamp;
use crate::wire::babel::update::SIGNATURE_HELD;
use crate::wire::babel::{INFINITY, Prefix, Tlv, UpdateRepr};

/// What one destination's advertisements sent: whether any was finite (its feasibility
/// distance follows), the neighbours (by [`table::slot_bit`]) sent its signature, and how many
/// left the signature out.
#[derive(Default, Clone, Copy)]
pub(super) struct Told {
    finite: bool,
    signed: u8,
    held: u64,
}

/// A destination queued or sent: its place in the table ([`super::table::Table::at`]), or
/// [`OWN`]. Four bytes where its /64 took eight: the lists of what is queued and of what waits
/// for an acknowledgment hold one per update (at the busiest moment of 10,000 simulated nodes,
/// about as many as are in flight), and the flush reaches the state without a hash lookup. A
/// place stays valid until [`super::table::Table::retain`], after which the lists are mapped
/// to the new places ([`Babel::remap_queued`]).
pub(super) type Dest = u32;

/// Our own /64, which has no place in the table.
pub(super) const OWN: Dest = u32::MAX;

/// Whether an update may leave out a signature the receiver holds: not in answers to
/// requests and resends of lost frames, where the receiver may be missing it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Sign {
    /// Leave it out where the receiver holds it.
    IfNeeded,
    /// Always include it.
    Always,
}

impl Babel {
    pub(super) fn schedule_flush(&mut self, now: Timestamp) {
        if self.flush_at.is_none() {
            self.flush_at = Some(now + self.cfg.flush_delay);
        }
    }

    /// The destination `s` is, if it is ours or in the table.
    pub(super) fn dest_of(&self, s: &Subnet) -> Option<Dest> {
        if *s == self.own_subnet {
            return Some(OWN);
        }
        self.table.index_of(s).map(|i| i as Dest)
    }

    /// The /64 of destination `d`.
    pub(super) fn subnet_of(&self, d: Dest) -> Subnet {
        if d == OWN {
            self.own_subnet
        } else {
            self.table.subnet_at(d as usize)
        }
    }

    /// True while destination `d` has `flag` set (our own /64: [`table::DIRTY`] only).
    fn flagged(&self, d: Dest, flag: u8) -> bool {
        if d == OWN {
            return flag == table::DIRTY && self.own_dirty;
        }
        self.table.at(d as usize).flags & flag != 0
    }

    /// Queues prefix `s` (ours or in the table) for the next flush.
    pub(super) fn mark_dirty(&mut self, now: Timestamp, s: Subnet) {
        // Neither ours nor in the table: there is nothing to say about it.
        if let Some(d) = self.dest_of(&s) {
            let fresh = if d == OWN {
                !core::mem::replace(&mut self.own_dirty, true)
            } else {
                let mut p = self.table.at_mut(d as usize);
                let fresh = p.flags & table::DIRTY == 0;
                p.flags |= table::DIRTY;
                fresh
            };
            if fresh {
                self.dirty.push(d);
            }
        }
        self.schedule_flush(now);
    }

    /// Maps the queued destinations to their places after the table dropped some
    /// (`now_at` from [`super::table::Table::retain`]); those gone are left out.
    pub(super) fn remap_queued(&mut self, now_at: &[u32]) {
        let moved = |d: Dest| -> Option<Dest> {
            if d == OWN {
                return Some(OWN);
            }
            now_at
                .get(d as usize)
                .copied()
                .filter(|&n| n != table::GONE)
        };
        self.dirty = self.dirty.iter().filter_map(|&d| moved(d)).collect();
        self.improved = self.improved.iter().filter_map(|&d| moved(d)).collect();
        for nb in self.neighbours.values_mut() {
            for u in &mut nb.unacked {
                u.remap(moved);
            }
        }
    }

    /// Improvements go out [`IMPROVEMENT_DELAY`] after the first one pending.
    pub(super) fn schedule_improvements(&mut self, now: Timestamp) {
        if self.improved_at.is_none() {
            self.improved_at = Some(now + IMPROVEMENT_DELAY);
        }
    }

    pub(super) fn queue_direct_update(&mut self, now: Timestamp, n: NeighbourId, s: Subnet) {
        self.direct_updates.entry(n).or_default().push(s);
        self.schedule_flush(now);
    }

    pub(super) fn queue_direct(&mut self, now: Timestamp, n: NeighbourId, tlv: Tlv) {
        self.direct.entry(n).or_default().push(tlv);
        self.schedule_flush(now);
    }

    /// What we tell each of `targets` (a caller's number for each, and the neighbour) about
    /// destination `d` now, handed to `emit` in the order of `targets`; what was sent is
    /// returned for [`Babel::note_one`]. One look at the destination serves every neighbour:
    /// a flush that looked it up once per neighbour, neighbour after neighbour, found it gone
    /// from the CPU's caches each time.
    pub(super) fn advertisements(
        &self,
        now: Timestamp,
        d: Dest,
        targets: &[(usize, NeighbourId)],
        sign: Sign,
        mut emit: impl FnMut(usize, Tlv),
    ) -> Told {
        let mut told = Told::default();
        let interval_cs = Self::interval_cs(self.cfg.update_interval);
        let prefix = Prefix::from_subnet(self.subnet_of(d));
        if d == OWN {
            for &(k, _) in targets {
                told.finite = true;
                emit(
                    k,
                    Tlv::Update(UpdateRepr {
                        flags: 0,
                        interval_cs,
                        seqno: self.own_seqno,
                        metric: 0,
                        router_id: self.own_rid,
                        prefix,
                        signature: Some(self.own_sig),
                    }),
                );
            }
            return told;
        }
        let p = self.table.at(d as usize);
        let slot_of = |n: NeighbourId| self.neighbours.get(&n).map(|nb| nb.slot);
        match p.selected {
            Some(sel) if !self.transit => {
                let router_id = self.rids.id(sel.rid);
                for &(k, n) in targets {
                    if slot_of(n) == Some(sel.neigh) {
                        continue; // split horizon
                    }
                    emit(
                        k,
                        Tlv::Update(UpdateRepr {
                            flags: 0,
                            interval_cs,
                            seqno: sel.seqno,
                            metric: INFINITY,
                            router_id,
                            prefix,
                            signature: None,
                        }),
                    );
                }
            }
            // Passed on with the originator's signature; if it is no longer kept (two newer
            // seqnos arrived while we still use an older one) we say nothing until we switch.
            Some(sel) => {
                let Some(sig) = self.held_sig(sel.rid, sel.seqno) else {
                    return told;
                };
                let router_id = self.rids.id(sel.rid);
                for &(k, n) in targets {
                    let to_slot = slot_of(n);
                    if to_slot == Some(sel.neigh) {
                        continue; // split horizon
                    }
                    // The receiver verified this (router id, seqno) if it offered us the same
                    // route, or if we told it the signature since the route last changed.
                    let held = sign == Sign::IfNeeded
                        && to_slot.is_some_and(|t| {
                            p.signed_to & table::slot_bit(t) != 0
                                || p.entries().any(|e| {
                                    e.neigh == t
                                        && e.rid == sel.rid
                                        && e.seqno == sel.seqno
                                        && e.refmetric != INFINITY
                                })
                        });
                    told.finite = true;
                    if held {
                        told.held += 1;
                    } else if let Some(t) = to_slot {
                        told.signed |= table::slot_bit(t);
                    }
                    emit(
                        k,
                        Tlv::Update(UpdateRepr {
                            flags: if held { SIGNATURE_HELD } else { 0 },
                            interval_cs,
                            seqno: sel.seqno,
                            metric: sel.metric,
                            router_id,
                            prefix,
                            signature: (!held).then_some(sig),
                        }),
                    );
                }
            }
            None => {
                let Some((rid, seqno)) = p.last_advertised() else {
                    return told;
                };
                if p.retract_until.is_none_or(|t| t.reached(now)) {
                    return told;
                }
                let router_id = self.rids.id(rid);
                for &(k, _) in targets {
                    emit(
                        k,
                        Tlv::Update(UpdateRepr {
                            flags: 0,
                            interval_cs,
                            seqno,
                            metric: INFINITY,
                            router_id,
                            prefix,
                            signature: None,
                        }),
                    );
                }
            }
        }
        told
    }

    /// Sends pending updates, dumps and direct TLVs. Changes, requests and a new neighbour's
    /// table go in acknowledged frames ([`acks`]); the rest of a periodic dump does not.
    /// Built destination by destination (each looked up once for every neighbour), sent
    /// neighbour by neighbour; each neighbour's frames carry the same updates in the same
    /// order as if built for it alone.
    pub(super) fn flush(&mut self, now: Timestamp) {
        self.flush_at = None;
        let dumps = core::mem::take(&mut self.dump_to);
        let reliable_dumps = core::mem::take(&mut self.reliable_dump);
        let dirty = core::mem::take(&mut self.dirty);
        let all: Vec<Dest> = if dumps.is_empty() && reliable_dumps.is_empty() {
            Vec::new()
        } else {
            core::iter::once(OWN)
                .chain(0..self.table.len() as Dest)
                .collect()
        };
        // Prefixes dirty now go in the acknowledged part, not in the periodic one.
        let periodic_all: Vec<Dest> = if dumps.is_empty() {
            Vec::new()
        } else {
            all.iter()
                .copied()
                .filter(|&d| !self.flagged(d, table::DIRTY))
                .collect()
        };
        // What goes out now is current: it needs no improvement later.
        self.own_dirty = false;
        let ns: Vec<NeighbourId> = self.neighbours.keys().copied().collect();
        let mut reliable: Vec<Vec<Item>> = ns
            .iter()
            .map(|n| {
                let requests = self.direct.remove(n).unwrap_or_default();
                // Sized once: an item is large, and growing copies them all.
                let urgent = if reliable_dumps.contains(n) {
                    all.len()
                } else {
                    dirty.len()
                };
                let mut items = Vec::with_capacity(requests.len() + urgent);
                items.extend(requests.into_iter().map(Item::Request));
                items
            })
            .collect();
        let answers: Vec<Vec<Dest>> = ns
            .iter()
            .map(|n| {
                let asked = self.direct_updates.remove(n).unwrap_or_default();
                asked.iter().filter_map(|s| self.dest_of(s)).collect()
            })
            .collect();
        let mut periodic: Vec<Vec<Tlv>> = vec![Vec::new(); ns.len()];
        let targets = |pick: &dyn Fn(&NeighbourId) -> bool| -> Vec<(usize, NeighbourId)> {
            ns.iter()
                .copied()
                .enumerate()
                .filter(|(_, n)| pick(n))
                .collect()
        };
        let partial = targets(&|n| !reliable_dumps.contains(n));
        let whole = targets(&|n| reliable_dumps.contains(n));
        let dumped = targets(&|n| dumps.contains(n) && !reliable_dumps.contains(n));
        for &s in &dirty {
            let told = self.advertisements(now, s, &partial, Sign::IfNeeded, |k, tlv| {
                reliable[k].push(Item::Update(s, tlv));
            });
            if s != OWN {
                self.table.at_mut(s as usize).flags &= !(table::DIRTY | table::IMPROVED);
            }
            self.note_one(now, s, told);
        }
        // A new neighbour's table (or one asked for whole), acknowledged.
        if !whole.is_empty() {
            for &s in &all {
                let told = self.advertisements(now, s, &whole, Sign::IfNeeded, |k, tlv| {
                    reliable[k].push(Item::Update(s, tlv));
                });
                self.note_one(now, s, told);
            }
        }
        // The periodic dump, not acknowledged.
        if !dumped.is_empty() {
            for &s in &periodic_all {
                let told = self.advertisements(now, s, &dumped, Sign::IfNeeded, |k, tlv| {
                    periodic[k].push(tlv);
                });
                self.note_one(now, s, told);
            }
        }
        // Answers to requests: the neighbour may be asking because it lacks the signature.
        for (k, list) in answers.iter().enumerate() {
            for &s in list {
                let told = self.advertisements(now, s, &[(k, ns[k])], Sign::Always, |k, tlv| {
                    reliable[k].push(Item::Update(s, tlv));
                });
                self.note_one(now, s, told);
            }
        }
        for ((n, reliable), periodic) in ns.into_iter().zip(reliable).zip(periodic) {
            self.send_tlvs(n, &periodic);
            self.send_reliable(now, n, reliable, 0);
        }
    }

    /// Sends the improved routes not sent since, unacknowledged (a lost one costs only a
    /// better route until the periodic dump).
    pub(super) fn flush_improved(&mut self, now: Timestamp) {
        self.improved_at = None;
        let improved = core::mem::take(&mut self.improved);
        let ns: Vec<(usize, NeighbourId)> = self.neighbours.keys().copied().enumerate().collect();
        let mut tlvs: Vec<Vec<Tlv>> = ns
            .iter()
            .map(|_| Vec::with_capacity(improved.len()))
            .collect();
        for s in improved {
            // Those sent with an urgent change since are no longer flagged; clearing the flag
            // as each is taken also drops a prefix listed twice.
            let mut p = self.table.at_mut(s as usize);
            if p.flags & table::IMPROVED == 0 {
                continue;
            }
            p.flags &= !table::IMPROVED;
            let told = self.advertisements(now, s, &ns, Sign::IfNeeded, |k, tlv| {
                tlvs[k].push(tlv);
            });
            self.note_one(now, s, told);
        }
        for ((_, n), tlvs) in ns.into_iter().zip(tlvs) {
            self.send_tlvs(n, &tlvs);
        }
    }

    /// Feasibility distances follow exactly what was sent (RFC 8966 §3.7.3): every finite
    /// advertisement in `told` came from the current selected route. Neighbours sent its
    /// signature are marked, so that later updates of the same route leave it out. Called
    /// for each destination just after its advertisements were built (while its state is
    /// still in the CPU's caches): no later advertisement of the same flush reads what this
    /// changes, since a destination's other updates in it go to other neighbours, or are
    /// answers and resends, which always carry the signature.
    pub(super) fn note_one(&mut self, now: Timestamp, d: Dest, sent: Told) {
        self.counters.signatures_left_out += sent.held;
        if !sent.finite && sent.signed == 0 {
            return;
        }
        let gc = table::Stamp::ahead(now, self.cfg.source_gc);
        if d == OWN {
            return;
        }
        let mut p = self.table.at_mut(d as usize);
        if sent.finite
            && let Some(sel) = p.selected
        {
            p.note_advertised(sel.rid, sel.seqno, sel.metric, gc);
        }
        p.signed_to |= sent.signed;
    }

    pub(super) fn send_tlvs(&mut self, n: NeighbourId, tlvs: &[Tlv]) {
        let mut body = Vec::with_capacity(MAX_BODY);
        for t in tlvs {
            let start = body.len();
            t.emit(&mut body);
            if matches!(t, Tlv::Update(_)) {
                self.counters.updates_sent += 1;
            }
            if body.len() > MAX_BODY {
                let tail = body.split_off(start);
                self.out.push_back((n, core::mem::replace(&mut body, tail)));
            }
        }
        if !body.is_empty() {
            self.out.push_back((n, body));
        }
    }
}
