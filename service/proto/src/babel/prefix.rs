//! One destination's routing state: what is selected and advertised, its feasibility
//! distances, and the routes each neighbour offers (a row of the [`super::table::Table`]).
//!
//! Every node holds this once per destination, so its size is most of a node's memory: the
//! common case (one router id per destination, one feasibility distance) is kept inline, and
//! what only an originator's restart brings (a second router id among the routes, more
//! feasibility distances) spills into a [`Spill`] kept beside the table.

use std::num::NonZeroU32;

use smallvec::SmallVec;

use super::INFINITY;
use super::requests::REQUEST_INTERVAL;
use super::table::{Expiry, RidIdx, Slot, Stamp, seqno_newer};
use crate::time::Timestamp;

/// A route learnt from one neighbour, as the table hands it out (a row stores it in a
/// [`Place`] of 6 bytes: the neighbour is the place's position, the router id the
/// destination's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteEntry {
    /// Originator.
    pub rid: RidIdx,
    /// Originator's sequence number.
    pub seqno: u16,
    /// Metric as the neighbour advertised it (before adding our link cost); never
    /// [`INFINITY`]: a retraction removes the route.
    pub refmetric: u16,
    /// When the route disappears unless refreshed.
    pub expires: Expiry,
    /// The neighbour that advertised it.
    pub neigh: Slot,
}

/// Feasibility distance for one source (RFC 8966 §3.5.1). Packed to 2-byte alignment, like
/// [`Selected`] and [`PrefixState`], so that no padding rounds the state up (C layout: the
/// fields are declared in an order that leaves no holes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct Source {
    /// Originator.
    pub rid: RidIdx,
    /// Sequence number of the best advertisement we sent.
    pub seqno: u16,
    /// Smallest metric we advertised with that seqno.
    pub metric: u16,
    /// Forgotten after this (long after any route using it is gone).
    pub gc: Stamp,
}

/// The route currently used for forwarding (10 bytes, and 10 as an `Option`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct Selected {
    /// Originator.
    pub rid: RidIdx,
    /// Originator's seqno.
    pub seqno: u16,
    /// Our metric (link cost + advertised metric).
    pub metric: u16,
    /// Next hop.
    pub neigh: Slot,
}

/// A route's place in a destination's row: 6 bytes, where a [`RouteEntry`] takes 12. The
/// neighbour is the place's position in the row; the router id is the destination's
/// ([`PrefixState::rid`]), or its second one ([`Spill::alt`]) where `tail`'s low bit says
/// so. An empty place has [`INFINITY`] as its metric (no stored route has it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    seqno: u16,
    refmetric: u16,
    /// The expiry (15 bits) above the "second router id" bit.
    tail: u16,
}

impl Place {
    /// The advertised metric as stored, whatever the place holds (to read it into the caches).
    pub(super) fn raw_metric(self) -> u16 {
        self.refmetric
    }

    /// No route.
    pub const EMPTY: Place = Place {
        seqno: 0,
        refmetric: INFINITY,
        tail: 0,
    };

    fn is_empty(self) -> bool {
        self.refmetric == INFINITY
    }

    fn alt(self) -> bool {
        self.tail & 1 != 0
    }

    fn expires(self) -> Expiry {
        Expiry::from_bits(self.tail >> 1)
    }

    fn new(e: &RouteEntry, alt: bool) -> Place {
        Place {
            seqno: e.seqno,
            refmetric: e.refmetric,
            tail: Place::tail(e.expires, alt),
        }
    }

    fn tail(expires: Expiry, alt: bool) -> u16 {
        expires.bits() << 1 | alt as u16
    }
}

/// What a destination holds beyond its inline state, for the rare destination whose
/// originator restarted (a new router id while routes with the old one are still around).
#[derive(Debug, Clone, Default)]
pub struct Spill {
    /// The second router id routes in the row name (places with the "second" bit).
    pub alt: Option<RidIdx>,
    /// Feasibility distances beyond [`PrefixState`]'s inline one.
    pub sources: Vec<Source>,
}

/// The spills of one table: a slab, so that a destination names its spill by a 4-byte index
/// and keeps it when the table moves destinations about.
#[derive(Debug, Default)]
pub struct Spills {
    slab: Vec<Option<Spill>>,
    free: Vec<u32>,
}

impl Spills {
    fn get(&self, i: Option<NonZeroU32>) -> Option<&Spill> {
        self.slab.get(i?.get() as usize - 1)?.as_ref()
    }

    fn get_mut(&mut self, i: Option<NonZeroU32>) -> Option<&mut Spill> {
        self.slab.get_mut(i?.get() as usize - 1)?.as_mut()
    }

    fn alloc(&mut self) -> NonZeroU32 {
        let i = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(Spill::default());
                i
            }
            None => {
                self.slab.push(Some(Spill::default()));
                (self.slab.len() - 1) as u32
            }
        };
        NonZeroU32::new(i + 1).expect("one past an index")
    }

    /// Gives back spill `i`.
    pub(super) fn release(&mut self, i: NonZeroU32) {
        let k = i.get() - 1;
        if let Some(place) = self.slab.get_mut(k as usize)
            && place.take().is_some()
        {
            self.free.push(k);
        }
    }

    /// Bytes held, from the containers' capacities.
    pub fn bytes(&self) -> usize {
        self.slab.capacity() * core::mem::size_of::<Option<Spill>>()
            + self.free.capacity() * 4
            + self
                .slab
                .iter()
                .flatten()
                .map(|s| s.sources.capacity() * core::mem::size_of::<Source>())
                .sum::<usize>()
    }

    /// Spills in use.
    pub fn len(&self) -> usize {
        self.slab.len() - self.free.len()
    }

    /// True when no destination spilled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything about one destination /64 but the routes learnt for it (those are in the
/// table's rows). Every node holds one per destination (48 bytes with its /64).
#[derive(Debug, Clone, Copy)]
#[repr(C, packed(2))]
pub struct PrefixState {
    /// The feasibility distance (one per router id of the destination: more, only after it
    /// restarted, are in the spill).
    source: Option<Source>,
    /// The selected route.
    pub selected: Option<Selected>,
    /// After losing the route, we advertise a retraction until then.
    pub retract_until: Option<Stamp>,
    /// The router id of the last route we advertised (to resend as a retraction after losing
    /// it), valid when [`ADVERTISED`] is set in `flags` (an `Option` would take 8 bytes, not
    /// 4). Its seqno is that router id's feasibility distance's: every advertisement raises
    /// the distance's seqno to its own, and a route older than the distance is never selected
    /// (not feasible), so never advertised.
    last_advertised_rid: RidIdx,
    /// When we last asked for a newer seqno ([`super::requests::REQUEST_INTERVAL`] apart while
    /// starving); forgotten by housekeeping once that long ago.
    pub last_request: Option<Stamp>,
    /// The router id the row's routes name (but those marked as naming [`Spill::alt`]).
    rid: RidIdx,
    /// Where this destination's [`Spill`] is, if it has one.
    spill: Option<NonZeroU32>,
    /// [`DIRTY`], [`IMPROVED`], [`ADVERTISED`]: queued to be advertised (kept here rather
    /// than in sets of prefixes; the byte fits in the struct's padding).
    pub flags: u8,
    /// Neighbours (by [`super::table::slot_bit`]) sent the selected route's origin signature
    /// since its router id or seqno last changed: updates to them leave it out
    /// ([`crate::wire::babel::update::SIGNATURE_HELD`]).
    pub signed_to: u8,
    /// The metric of the last finite advertisement ([`INFINITY`] before any): a metric that
    /// creeps up in small steps becomes urgent once it is 1/8 above what neighbours last
    /// heard, not above the previous step.
    pub advertised_metric: u16,
}

/// [`PrefixState::flags`]: an urgent change is queued for the next flush.
pub const DIRTY: u8 = 1;
/// [`PrefixState::flags`]: an improvement is queued.
pub const IMPROVED: u8 = 2;
/// [`PrefixState::flags`]: a route was advertised (see [`PrefixState::last_advertised`]).
pub const ADVERTISED: u8 = 4;

impl Default for PrefixState {
    fn default() -> Self {
        PrefixState {
            source: None,
            selected: None,
            retract_until: None,
            last_advertised_rid: 0,
            last_request: None,
            rid: 0,
            spill: None,
            flags: 0,
            signed_to: 0,
            advertised_metric: INFINITY,
        }
    }
}

impl PrefixState {
    /// The router id of the last route we advertised.
    pub fn last_advertised_rid(&self) -> Option<RidIdx> {
        (self.flags & ADVERTISED != 0).then_some(self.last_advertised_rid)
    }

    /// True when a seqno request for this destination may go now (none within
    /// [`REQUEST_INTERVAL`]); the request is noted as sent.
    pub fn take_request_turn(&mut self, now: Timestamp) -> bool {
        if self
            .last_request
            .is_some_and(|t| t.elapsed(now) < REQUEST_INTERVAL)
        {
            return false;
        }
        self.last_request = Some(Stamp::of(now));
        true
    }

    /// Forgets the last request once it no longer limits anything (a stamp much older could
    /// pass for a new one).
    pub fn forget_old_request(&mut self, now: Timestamp) {
        if self
            .last_request
            .is_some_and(|t| t.elapsed(now) >= REQUEST_INTERVAL)
        {
            self.last_request = None;
        }
    }

    /// Records the router id of the last route we advertised.
    pub fn set_last_advertised(&mut self, rid: RidIdx) {
        self.last_advertised_rid = rid;
        self.flags |= ADVERTISED;
    }

    /// Where this destination's spill is (the table releases it with the destination).
    pub(super) fn spill_index(&self) -> Option<NonZeroU32> {
        self.spill
    }

    /// Nothing left worth keeping, given that no routes are left either.
    fn is_idle(&self, now: Timestamp) -> bool {
        self.source.is_none()
            && self.selected.is_none()
            && self.retract_until.is_none_or(|t| t.reached(now))
    }
}

/// A destination's state with the routes learnt for it: one [`Place`] per neighbour slot
/// (slot `i` at index `i - 1`).
#[derive(Debug, Clone, Copy)]
pub struct Prefix<'a> {
    /// The state.
    pub state: &'a PrefixState,
    row: &'a [Place],
    spill: Option<&'a Spill>,
}

impl core::ops::Deref for Prefix<'_> {
    type Target = PrefixState;
    fn deref(&self) -> &PrefixState {
        self.state
    }
}

impl<'a> Prefix<'a> {
    /// A view of `state` with its row, looking its spill up in `spills`.
    pub(super) fn new(state: &'a PrefixState, row: &'a [Place], spills: &'a Spills) -> Self {
        Prefix {
            state,
            row,
            spill: spills.get(state.spill),
        }
    }

    fn rid(&self, p: Place) -> RidIdx {
        match self.spill.and_then(|s| s.alt) {
            Some(alt) if p.alt() => alt,
            _ => self.state.rid,
        }
    }

    /// The route in place `p`, learnt from `neigh`, if there is one.
    fn route(self, p: Place, neigh: Slot) -> Option<RouteEntry> {
        (!p.is_empty()).then(|| RouteEntry {
            rid: self.rid(p),
            seqno: p.seqno,
            refmetric: p.refmetric,
            expires: p.expires(),
            neigh,
        })
    }

    /// The routes learnt, in slot order.
    pub fn entries(self) -> impl Iterator<Item = RouteEntry> + 'a {
        self.row
            .iter()
            .enumerate()
            .filter_map(move |(k, &p)| self.route(p, Slot::new(k as u16 + 1).expect("from one")))
    }

    /// The entry learnt from `neigh`.
    pub fn entry(self, neigh: Slot) -> Option<RouteEntry> {
        self.route(*self.row.get(neigh.get() as usize - 1)?, neigh)
    }

    /// Feasibility distances, one per router id.
    pub fn sources(self) -> impl Iterator<Item = &'a Source> + 'a {
        self.state
            .source
            .iter()
            .chain(self.spill.into_iter().flat_map(|s| &s.sources))
    }

    /// True when an advertisement (rid, seqno, metric) passes the feasibility condition.
    pub fn feasible(self, rid: RidIdx, seqno: u16, metric: u16) -> bool {
        if metric == INFINITY {
            return true;
        }
        match self.sources().find(|s| s.rid == rid) {
            None => true,
            Some(s) => seqno_newer(seqno, s.seqno) || (seqno == s.seqno && metric < s.metric),
        }
    }

    /// The feasibility distance's seqno for `rid`, if any.
    pub fn source_seqno(self, rid: RidIdx) -> Option<u16> {
        self.sources().find(|s| s.rid == rid).map(|s| s.seqno)
    }

    /// The last route we advertised: its router id and seqno (while its feasibility distance
    /// is kept, see [`PrefixState::last_advertised_rid`]).
    pub fn last_advertised(self) -> Option<(RidIdx, u16)> {
        let rid = self.state.last_advertised_rid()?;
        Some((rid, self.source_seqno(rid)?))
    }

    /// Nothing left worth keeping.
    pub fn is_empty(&self, now: Timestamp) -> bool {
        self.row.iter().all(|p| p.is_empty()) && self.state.is_idle(now)
    }
}

/// [`Prefix`], to change.
#[derive(Debug)]
pub struct PrefixMut<'a> {
    /// The state.
    pub state: &'a mut PrefixState,
    row: &'a mut [Place],
    spills: &'a mut Spills,
}

impl core::ops::Deref for PrefixMut<'_> {
    type Target = PrefixState;
    fn deref(&self) -> &PrefixState {
        self.state
    }
}

impl core::ops::DerefMut for PrefixMut<'_> {
    fn deref_mut(&mut self) -> &mut PrefixState {
        self.state
    }
}

impl<'a> PrefixMut<'a> {
    /// A changeable view of `state` with its row and the table's spills.
    pub(super) fn new(
        state: &'a mut PrefixState,
        row: &'a mut [Place],
        spills: &'a mut Spills,
    ) -> Self {
        PrefixMut { state, row, spills }
    }

    /// Read-only view.
    pub fn as_ref(&self) -> Prefix<'_> {
        Prefix::new(self.state, self.row, self.spills)
    }

    /// The routes learnt, in slot order.
    pub fn entries(&self) -> impl Iterator<Item = RouteEntry> + '_ {
        self.as_ref().entries()
    }

    /// The entry learnt from `neigh`.
    pub fn entry(&self, neigh: Slot) -> Option<RouteEntry> {
        self.as_ref().entry(neigh)
    }

    /// See [`Prefix::feasible`].
    pub fn feasible(&self, rid: RidIdx, seqno: u16, metric: u16) -> bool {
        self.as_ref().feasible(rid, seqno, metric)
    }

    /// See [`Prefix::source_seqno`].
    pub fn source_seqno(&self, rid: RidIdx) -> Option<u16> {
        self.as_ref().source_seqno(rid)
    }

    fn spill_mut(&mut self) -> &mut Spill {
        if self.spills.get(self.state.spill).is_none() {
            self.state.spill = Some(self.spills.alloc());
        }
        self.spills.get_mut(self.state.spill).expect("just made")
    }

    fn alt(&self) -> Option<RidIdx> {
        self.spills.get(self.state.spill).and_then(|s| s.alt)
    }

    /// Gives the spill back once it holds nothing.
    fn tidy_spill(&mut self) {
        if let Some(s) = self.spills.get(self.state.spill)
            && s.alt.is_none()
            && s.sources.is_empty()
        {
            let spill = self.state.spill.expect("has one");
            self.state.spill = None;
            self.spills.release(spill);
        }
    }

    /// Renews the expiry of the route learnt from `neigh`, if there is one.
    pub fn set_expiry(&mut self, neigh: Slot, expires: Expiry) {
        if let Some(p) = self.row.get_mut(neigh.get() as usize - 1)
            && !p.is_empty()
        {
            p.tail = Place::tail(expires, p.alt());
        }
    }

    /// Stores `e` as the route learnt from `e.neigh` (an [`INFINITY`] metric removes it
    /// instead). `None` (nothing stored) for a slot past the table's width (see
    /// [`super::table::Table::widen`]); otherwise the neighbours whose routes had to go to
    /// make room for a third router id (a destination names two at most: its originator
    /// restarted twice while routes from the first start were still about; the ones the
    /// selected route does not use go).
    pub fn set_entry(&mut self, e: RouteEntry) -> Option<SmallVec<[Slot; 2]>> {
        let k = e.neigh.get() as usize - 1;
        if k >= self.row.len() {
            return None;
        }
        let mut evicted = SmallVec::new();
        // The place's old route is gone first: if it was its router id's last, that id no
        // longer counts as one of the row's two.
        self.row[k] = Place::EMPTY;
        self.normalise();
        if e.refmetric == INFINITY {
            return Some(evicted);
        }
        let alt = if self.row.iter().all(|p| p.is_empty()) {
            self.state.rid = e.rid;
            if let Some(s) = self.spills.get_mut(self.state.spill) {
                s.alt = None;
            }
            false
        } else if e.rid == self.state.rid {
            false
        } else if self.alt() == Some(e.rid) {
            true
        } else if self.alt().is_none() {
            self.spill_mut().alt = Some(e.rid);
            true
        } else {
            // A third router id: keep the one the selected route uses (unless that route is
            // the one being replaced).
            let keep_alt = self
                .state
                .selected
                .is_some_and(|s| s.neigh != e.neigh && Some(s.rid) == self.alt());
            for (j, p) in self.row.iter_mut().enumerate() {
                if !p.is_empty() && p.alt() != keep_alt {
                    *p = Place::EMPTY;
                    evicted.push(Slot::new(j as u16 + 1).expect("from one"));
                }
            }
            if keep_alt {
                self.promote_alt();
            }
            self.spill_mut().alt = Some(e.rid);
            true
        };
        self.row[k] = Place::new(&e, alt);
        self.normalise();
        Some(evicted)
    }

    /// Makes the second router id the first (every route left names it).
    fn promote_alt(&mut self) {
        let Some(alt) = self.alt() else {
            return;
        };
        self.state.rid = alt;
        for p in self.row.iter_mut().filter(|p| !p.is_empty()) {
            p.tail &= !1;
        }
        self.spill_mut().alt = None;
    }

    /// After routes went: forgets a second router id no route names, and makes it the first
    /// if no route names the first any more.
    fn normalise(&mut self) {
        if self.alt().is_none() {
            self.tidy_spill();
            return;
        }
        let (mut first, mut second) = (false, false);
        for p in self.row.iter().filter(|p| !p.is_empty()) {
            if p.alt() {
                second = true;
            } else {
                first = true;
            }
        }
        if !second {
            self.spill_mut().alt = None;
        } else if !first {
            self.promote_alt();
        }
        self.tidy_spill();
    }

    /// Removes the entry learnt from `neigh`; returns true if there was one.
    pub fn remove_entry(&mut self, neigh: Slot) -> bool {
        let Some(p) = self.row.get_mut(neigh.get() as usize - 1) else {
            return false;
        };
        let had = !p.is_empty();
        *p = Place::EMPTY;
        if had {
            self.normalise();
        }
        had
    }

    /// Removes the entries `gone` says so of; returns them.
    pub fn remove_entries_if(
        &mut self,
        mut gone: impl FnMut(&RouteEntry) -> bool,
    ) -> SmallVec<[RouteEntry; 4]> {
        let removed: SmallVec<[RouteEntry; 4]> =
            self.as_ref().entries().filter(|e| gone(e)).collect();
        for e in &removed {
            self.row[e.neigh.get() as usize - 1] = Place::EMPTY;
        }
        if !removed.is_empty() {
            self.normalise();
        }
        removed
    }

    /// Records that we advertised (rid, seqno, metric): lowers or renews the feasibility
    /// distance.
    pub fn note_advertised(&mut self, rid: RidIdx, seqno: u16, metric: u16, gc: Stamp) {
        if metric == INFINITY {
            return;
        }
        self.state.set_last_advertised(rid);
        self.state.advertised_metric = metric;
        let found = match &mut self.state.source {
            Some(s) if s.rid == rid => Some(s),
            _ => self
                .spills
                .get_mut(self.state.spill)
                .and_then(|sp| sp.sources.iter_mut().find(|s| s.rid == rid)),
        };
        match found {
            Some(s) => {
                if seqno_newer(seqno, s.seqno) {
                    s.seqno = seqno;
                    s.metric = metric;
                } else if seqno == s.seqno && metric < s.metric {
                    s.metric = metric;
                }
                s.gc = gc;
            }
            None => {
                let new = Source {
                    rid,
                    seqno,
                    metric,
                    gc,
                };
                if self.state.source.is_none() {
                    self.state.source = Some(new);
                } else {
                    self.spill_mut().sources.push(new);
                }
            }
        }
    }

    /// Forgets the feasibility distances whose time is up.
    pub fn gc_sources(&mut self, now: Timestamp) {
        if let Some(sp) = self.spills.get_mut(self.state.spill) {
            sp.sources.retain(|s| !s.gc.reached(now));
        }
        if self.state.source.is_some_and(|s| s.gc.reached(now)) {
            self.state.source = self
                .spills
                .get_mut(self.state.spill)
                .and_then(|sp| sp.sources.pop());
        }
        self.tidy_spill();
    }
}
