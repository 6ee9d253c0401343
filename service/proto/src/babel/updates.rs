//! Sending updates: what is queued (urgent changes, improvements, requests, answers), what is
//! said about a prefix to each neighbour, and the flushes that send it (§5.6 of PROTOCOL.md).

use super::acks::Item;
use super::table::{self, Slot};
use super::{Babel, IMPROVEMENT_DELAY, MAX_BODY, NeighbourId};
use crate::address::Subnet;
use crate::time::Timestamp;
use crate::wire::babel::update::SIGNATURE_HELD;
use crate::wire::babel::{INFINITY, Prefix, Tlv, UpdateRepr};

/// What a flush advertised: the prefixes sent with a finite metric (their feasibility
/// distances follow, [`Babel::note_sent`]), to whom a signature went with them, and how many
/// updates left theirs out.
#[derive(Default)]
pub(super) struct Sent {
    subnets: Vec<Subnet>,
    signed: Vec<(Subnet, Slot)>,
    held: u64,
}

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

    /// Sets `flag` on prefix `s` (our own /64 for [`table::DIRTY`]: `own_dirty`); true if it
    /// was not set. A prefix without state is reported fresh every time: it can only get
    /// sent twice.
    pub(super) fn raise(&mut self, s: Subnet, flag: u8) -> bool {
        if s == self.own_subnet {
            return flag == table::DIRTY && !core::mem::replace(&mut self.own_dirty, true);
        }
        self.table.get_mut(&s).is_none_or(|mut p| {
            let fresh = p.flags & flag == 0;
            p.flags |= flag;
            fresh
        })
    }

    /// True while prefix `s` has `flag` set.
    pub(super) fn flagged(&self, s: &Subnet, flag: u8) -> bool {
        if *s == self.own_subnet {
            return flag == table::DIRTY && self.own_dirty;
        }
        self.table.get(s).is_some_and(|p| p.flags & flag != 0)
    }

    pub(super) fn mark_dirty(&mut self, now: Timestamp, s: Subnet) {
        if self.raise(s, table::DIRTY) {
            self.dirty.push(s);
        }
        self.schedule_flush(now);
    }

    pub(super) fn mark_improved(&mut self, now: Timestamp, s: Subnet) {
        if self.raise(s, table::IMPROVED) {
            self.improved.push(s);
        }
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

    /// What we tell neighbour `to` about `subnet` now, if anything.
    pub(super) fn advertisement(
        &self,
        now: Timestamp,
        subnet: Subnet,
        to: NeighbourId,
        sign: Sign,
    ) -> Option<Tlv> {
        let interval_cs = Self::interval_cs(self.cfg.update_interval);
        if subnet == self.own_subnet {
            return Some(Tlv::Update(UpdateRepr {
                flags: 0,
                interval_cs,
                seqno: self.own_seqno,
                metric: 0,
                router_id: self.own_rid,
                prefix: Prefix::from_subnet(subnet),
                signature: Some(self.own_sig),
            }));
        }
        let p = self.table.get(&subnet)?;
        let to_slot = self.neighbours.get(&to).map(|nb| nb.slot);
        match p.selected {
            Some(sel) if to_slot == Some(sel.neigh) => None, // split horizon
            Some(sel) if !self.transit => Some(Tlv::Update(UpdateRepr {
                flags: 0,
                interval_cs,
                seqno: sel.seqno,
                metric: INFINITY,
                router_id: self.rids.id(sel.rid),
                prefix: Prefix::from_subnet(subnet),
                signature: None,
            })),
            // Passed on with the originator's signature; if it is no longer kept (two newer
            // seqnos arrived while we still use an older one) we say nothing until we switch.
            Some(sel) => {
                let sig = self.sig_store.get(self.sigs(sel.rid)?.get(sel.seqno)?);
                // The receiver verified this (router id, seqno) if it offered us the same
                // route, or if we sent it the signature since the route last changed.
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
                Some(Tlv::Update(UpdateRepr {
                    flags: if held { SIGNATURE_HELD } else { 0 },
                    interval_cs,
                    seqno: sel.seqno,
                    metric: sel.metric,
                    router_id: self.rids.id(sel.rid),
                    prefix: Prefix::from_subnet(subnet),
                    signature: (!held).then_some(sig),
                }))
            }
            None => {
                let (rid, seqno) = p.last_advertised()?;
                p.retract_until.filter(|t| !t.reached(now))?;
                Some(Tlv::Update(UpdateRepr {
                    flags: 0,
                    interval_cs,
                    seqno,
                    metric: INFINITY,
                    router_id: self.rids.id(rid),
                    prefix: Prefix::from_subnet(subnet),
                    signature: None,
                }))
            }
        }
    }

    /// Sends pending updates, dumps and direct TLVs. Changes, requests and a new neighbour's
    /// table go in acknowledged frames ([`acks`]); the rest of a periodic dump does not.
    pub(super) fn flush(&mut self, now: Timestamp) {
        self.flush_at = None;
        let dumps = core::mem::take(&mut self.dump_to);
        let reliable_dumps = core::mem::take(&mut self.reliable_dump);
        let dirty = core::mem::take(&mut self.dirty);
        let all: Vec<Subnet> = if dumps.is_empty() && reliable_dumps.is_empty() {
            Vec::new()
        } else {
            core::iter::once(self.own_subnet)
                .chain(self.table.keys().copied())
                .collect()
        };
        // Prefixes dirty now go in the acknowledged part, not in the periodic one.
        let periodic_all: Vec<Subnet> = if dumps.is_empty() {
            Vec::new()
        } else {
            all.iter()
                .copied()
                .filter(|s| !self.flagged(s, table::DIRTY))
                .collect()
        };
        // What goes out now is current: it needs no improvement later.
        self.own_dirty = false;
        for s in &dirty {
            if let Some(mut p) = self.table.get_mut(s) {
                p.flags &= !(table::DIRTY | table::IMPROVED);
            }
        }
        let mut advertised = Sent::default();
        let ns: Vec<NeighbourId> = self.neighbours.keys().copied().collect();
        for n in ns {
            let requests = self.direct.remove(&n).unwrap_or_default();
            let extra = self.direct_updates.remove(&n).unwrap_or_default();
            let mut reliable: Vec<Item> = requests.into_iter().map(Item::Request).collect();
            let whole = reliable_dumps.contains(&n);
            let urgent = if whole { &all } else { &dirty };
            let urgent = urgent.iter().map(|&s| (s, Sign::IfNeeded));
            // Answers to requests: the neighbour may be asking because it lacks the signature.
            let answers = extra.iter().map(|&s| (s, Sign::Always));
            for (s, sign) in urgent.chain(answers) {
                if let Some(tlv) = self.advertise(now, s, n, sign, &mut advertised) {
                    reliable.push(Item::Update(s, tlv));
                }
            }
            let mut periodic = Vec::new();
            if dumps.contains(&n) && !whole {
                for &s in &periodic_all {
                    periodic.extend(self.advertise(now, s, n, Sign::IfNeeded, &mut advertised));
                }
            }
            self.send_tlvs(n, &periodic);
            self.send_reliable(now, n, reliable, 0);
        }
        self.note_sent(now, advertised);
    }

    /// Sends the improved routes not sent since, unacknowledged (a lost one costs only a
    /// better route until the periodic dump).
    pub(super) fn flush_improved(&mut self, now: Timestamp) {
        self.improved_at = None;
        // Those sent with an urgent change since are no longer flagged; clearing the flag as
        // each is taken also drops a prefix listed twice.
        let mut improved = core::mem::take(&mut self.improved);
        let states = &mut self.table;
        improved.retain(|s| match states.get_mut(s) {
            Some(mut p) if p.flags & table::IMPROVED != 0 => {
                p.flags &= !table::IMPROVED;
                true
            }
            _ => false,
        });
        let mut advertised = Sent::default();
        let ns: Vec<NeighbourId> = self.neighbours.keys().copied().collect();
        for n in ns {
            let tlvs: Vec<Tlv> = improved
                .iter()
                .filter_map(|&s| self.advertise(now, s, n, Sign::IfNeeded, &mut advertised))
                .collect();
            self.send_tlvs(n, &tlvs);
        }
        self.note_sent(now, advertised);
    }

    /// [`Babel::advertisement`], noting in `advertised` each finite one and each signature
    /// sent or left out (see [`Babel::note_sent`]).
    pub(super) fn advertise(
        &self,
        now: Timestamp,
        s: Subnet,
        to: NeighbourId,
        sign: Sign,
        advertised: &mut Sent,
    ) -> Option<Tlv> {
        let tlv = self.advertisement(now, s, to, sign)?;
        if let Tlv::Update(u) = &tlv
            && u.metric != INFINITY
        {
            advertised.subnets.push(s);
            advertised.held += u.signature_held() as u64;
            if u.signature.is_some()
                && s != self.own_subnet
                && let Some(nb) = self.neighbours.get(&to)
            {
                advertised.signed.push((s, nb.slot));
            }
        }
        Some(tlv)
    }

    /// Feasibility distances follow exactly what was sent (RFC 8966 §3.7.3): every finite
    /// advertisement in `sent` came from the current selected route. Neighbours sent its
    /// signature are marked, so that later updates of the same route leave it out.
    pub(super) fn note_sent(&mut self, now: Timestamp, sent: Sent) {
        let Sent {
            mut subnets,
            signed,
            held,
        } = sent;
        self.counters.signatures_left_out += held;
        subnets.sort_unstable();
        subnets.dedup();
        let gc = table::Stamp::ahead(now, self.cfg.source_gc);
        for s in subnets {
            if let Some(mut p) = self.table.get_mut(&s)
                && let Some(sel) = p.selected
            {
                p.note_advertised(sel.rid, sel.seqno, sel.metric, gc);
            }
        }
        for (s, slot) in signed {
            if let Some(mut p) = self.table.get_mut(&s) {
                p.signed_to |= table::slot_bit(slot);
            }
        }
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
