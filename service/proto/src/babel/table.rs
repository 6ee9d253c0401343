//! The route table of one prefix: routes learnt per neighbour, feasibility distances per
//! source, and what is selected.

use std::hash::BuildHasher;
use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use smallvec::SmallVec;

use super::INFINITY;
use crate::address::Subnet;
use crate::time::Timestamp;

/// Index of an interned router id (router ids are 36 bytes; a node sees each one on many
/// routes, so entries store this index).
pub type RidIdx = u32;

/// A point in time to the centisecond in 32 bits, for the deadlines every route keeps (seconds
/// to minutes ahead): half the size of a [`Timestamp`], compared with wrap-around arithmetic
/// (valid within ±248 days of now), so it never runs out however long a node runs.
/// Never zero, so that an `Option<Stamp>` takes no more room than a stamp (the one
/// centisecond in 2^32 that would be zero counts as the next one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(NonZeroU32);

impl Stamp {
    /// `t`, to the centisecond below.
    pub fn of(t: Timestamp) -> Stamp {
        // Truncating to 32 bits is the wrap-around.
        Stamp(NonZeroU32::new((t.as_micros() / 10_000) as u32).unwrap_or(NonZeroU32::MIN))
    }

    /// True once `now` is at or past this stamp.
    pub fn reached(self, now: Timestamp) -> bool {
        Stamp::of(now).0.get().wrapping_sub(self.0.get()) < 1 << 31
    }

    /// Time from this stamp to `now` (zero if `now` is before it).
    pub fn elapsed(self, now: Timestamp) -> Duration {
        let d = Stamp::of(now).0.get().wrapping_sub(self.0.get());
        if d < 1 << 31 {
            Duration::from_millis(d as u64 * 10)
        } else {
            Duration::ZERO
        }
    }
}

/// A neighbour's number in one node's routing state (from 1; see `Babel`'s slot table):
/// every route stores these two bytes instead of the neighbour's four-byte link id.
pub type Slot = NonZeroU16;

/// The bit of [`PrefixState::signed_to`] for neighbour `slot` (none past slot 8: those
/// always get the signature unless they offered us the route themselves).
pub fn slot_bit(slot: Slot) -> u8 {
    match slot.get() {
        s @ 1..=8 => 1 << (s - 1),
        _ => 0,
    }
}

/// A deadline to the decisecond in 16 bits, for when a route expires (at most minutes ahead):
/// compared with wrap-around arithmetic, so valid within ±54 minutes of now. Expired routes
/// are removed within a second by housekeeping, long before a stamp could wrap round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry(u16);

impl Expiry {
    /// Longest lifetime an expiry can hold (beyond it, comparisons would wrap).
    pub const MAX: Duration = Duration::from_secs(3000);

    /// `t`, to the decisecond below.
    pub fn of(t: Timestamp) -> Expiry {
        // Truncating to 16 bits is the wrap-around.
        Expiry((t.as_micros() / 100_000) as u16)
    }

    /// True once `now` is at or past this deadline.
    pub fn reached(self, now: Timestamp) -> bool {
        Expiry::of(now).0.wrapping_sub(self.0) < 1 << 15
    }
}

/// `a` is newer than `b` in 16-bit sequence-number arithmetic (RFC 8966 §3.2.1).
pub fn seqno_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

/// A route learnt from one neighbour (12 bytes, and 12 as an `Option`: one per neighbour slot
/// in each destination's row of the [`Table`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteEntry {
    /// Originator.
    pub rid: RidIdx,
    /// Originator's sequence number.
    pub seqno: u16,
    /// Metric as the neighbour advertised it (before adding our link cost).
    pub refmetric: u16,
    /// When the route disappears unless refreshed.
    pub expires: Expiry,
    /// The neighbour that advertised it.
    pub neigh: Slot,
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
    pub gc: Stamp,
}

/// The route currently used for forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Everything about one destination /64 but the routes learnt for it (those are in
/// [`Table`]'s entry rows). Every node holds one per destination, so its size is most of the
/// routing table's size: the one feasibility distance is kept inline (no allocation of its
/// own); more, which only an originator's restart brings, spill to the heap.
#[derive(Debug, Clone)]
pub struct PrefixState {
    /// Feasibility distances (one per router id of the destination: more only after it
    /// restarted).
    pub sources: SmallVec<[Source; 1]>,
    /// The selected route.
    pub selected: Option<Selected>,
    /// After losing the route, we advertise a retraction until then.
    pub retract_until: Option<Stamp>,
    /// The last route we advertised (to resend as a retraction after losing it), valid
    /// when [`ADVERTISED`] is set in `flags` (an `Option` would take 12 bytes, not 6).
    last_advertised: (RidIdx, u16),
    /// Rate limit for seqno requests while starving.
    pub last_request: Option<Stamp>,
    /// [`DIRTY`], [`IMPROVED`], [`ADVERTISED`]: queued to be advertised (kept here rather than in sets of
    /// prefixes; the byte fits in the struct's padding).
    pub flags: u8,
    /// Neighbours (by [`slot_bit`]) sent the selected route's origin signature since its
    /// router id or seqno last changed: updates to them leave it out
    /// ([`crate::wire::babel::update::SIGNATURE_HELD`]). In the struct's padding too.
    pub signed_to: u8,
    /// The metric of the last finite advertisement ([`INFINITY`] before any; kept in the
    /// padding too): a metric that creeps up in small steps becomes urgent once it is 1/8
    /// above what neighbours last heard, not above the previous step.
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
            sources: SmallVec::new(),
            selected: None,
            retract_until: None,
            last_advertised: (0, 0),
            last_request: None,
            flags: 0,
            signed_to: 0,
            advertised_metric: INFINITY,
        }
    }
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
        self.set_last_advertised(rid, seqno);
        self.advertised_metric = metric;
        match self.sources.iter_mut().find(|s| s.rid == rid) {
            None => self.sources.push(Source {
                rid,
                seqno,
                metric,
                gc: Stamp::of(gc),
            }),
            Some(s) => {
                if seqno_newer(seqno, s.seqno) {
                    s.seqno = seqno;
                    s.metric = metric;
                } else if seqno == s.seqno && metric < s.metric {
                    s.metric = metric;
                }
                s.gc = Stamp::of(gc);
            }
        }
    }

    /// The last route we advertised: its router id and seqno.
    pub fn last_advertised(&self) -> Option<(RidIdx, u16)> {
        (self.flags & ADVERTISED != 0).then_some(self.last_advertised)
    }

    /// Records the last route we advertised.
    pub fn set_last_advertised(&mut self, rid: RidIdx, seqno: u16) {
        self.last_advertised = (rid, seqno);
        self.flags |= ADVERTISED;
    }

    /// The feasibility distance's seqno for `rid`, if any.
    pub fn source_seqno(&self, rid: RidIdx) -> Option<u16> {
        self.sources.iter().find(|s| s.rid == rid).map(|s| s.seqno)
    }

    /// Nothing left worth keeping, given that no routes are left either.
    fn is_idle(&self, now: Timestamp) -> bool {
        self.sources.is_empty()
            && self.selected.is_none()
            && self.retract_until.is_none_or(|t| t.reached(now))
    }
}

/// A destination's state with the routes learnt for it: one [`RouteEntry`] place per
/// neighbour slot (slot `i` at index `i - 1`), `None` where that neighbour offers none.
#[derive(Debug, Clone, Copy)]
pub struct Prefix<'a> {
    /// The state.
    pub state: &'a PrefixState,
    row: &'a [Option<RouteEntry>],
}

impl core::ops::Deref for Prefix<'_> {
    type Target = PrefixState;
    fn deref(&self) -> &PrefixState {
        self.state
    }
}

impl<'a> Prefix<'a> {
    /// The routes learnt, in slot order.
    pub fn entries(self) -> impl Iterator<Item = &'a RouteEntry> + 'a {
        self.row.iter().flatten()
    }

    /// The entry learnt from `neigh`.
    pub fn entry(self, neigh: Slot) -> Option<&'a RouteEntry> {
        self.row.get(neigh.get() as usize - 1)?.as_ref()
    }

    /// Nothing left worth keeping.
    pub fn is_empty(&self, now: Timestamp) -> bool {
        self.row.iter().all(Option::is_none) && self.state.is_idle(now)
    }
}

/// [`Prefix`], to change.
#[derive(Debug)]
pub struct PrefixMut<'a> {
    /// The state.
    pub state: &'a mut PrefixState,
    row: &'a mut [Option<RouteEntry>],
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

impl PrefixMut<'_> {
    /// The routes learnt, in slot order.
    pub fn entries(&self) -> impl Iterator<Item = &RouteEntry> + '_ {
        self.as_ref().entries()
    }

    /// The entry learnt from `neigh`.
    pub fn entry(&self, neigh: Slot) -> Option<&RouteEntry> {
        self.as_ref().entry(neigh)
    }

    /// The entry learnt from `neigh`, to change.
    pub fn entry_mut(&mut self, neigh: Slot) -> Option<&mut RouteEntry> {
        self.row.get_mut(neigh.get() as usize - 1)?.as_mut()
    }

    /// Stores `e` as the route learnt from `e.neigh`; false (nothing stored) for a slot past
    /// the table's width (see [`Table::widen`]).
    pub fn set_entry(&mut self, e: RouteEntry) -> bool {
        match self.row.get_mut(e.neigh.get() as usize - 1) {
            Some(place) => {
                *place = Some(e);
                true
            }
            None => false,
        }
    }

    /// Removes the entry learnt from `neigh`; returns true if there was one.
    pub fn remove_entry(&mut self, neigh: Slot) -> bool {
        self.row
            .get_mut(neigh.get() as usize - 1)
            .and_then(Option::take)
            .is_some()
    }

    /// Removes the entries `gone` says so of; returns them.
    pub fn remove_entries_if(
        &mut self,
        mut gone: impl FnMut(&RouteEntry) -> bool,
    ) -> SmallVec<[RouteEntry; 4]> {
        let mut removed = SmallVec::new();
        for place in self.row.iter_mut() {
            if place.as_ref().is_some_and(&mut gone) {
                removed.extend(place.take());
            }
        }
        removed
    }

    /// Read-only view.
    pub fn as_ref(&self) -> Prefix<'_> {
        Prefix {
            state: self.state,
            row: self.row,
        }
    }
}

/// Every destination's state, stored densely: a hash index from /64 to a slot, the slots in
/// one vector that grows by doubling, and the routes learnt in a second vector, one row of
/// [`Table::width`] places per destination (one place per neighbour slot). (A hash map's own
/// buckets, or an index map's vector, which grows to its index's capacity, would sit up to half
/// empty; and a small vector of routes per destination took 56 bytes inline plus a heap block
/// wherever more neighbours offered the destination, where a row takes 12 bytes per
/// neighbour.)
///
/// The index holds slot numbers only (4 bytes a bucket), hashing the /64 kept in the slot.
#[derive(Debug, Default)]
pub struct Table {
    index: HashTable<u32>,
    slots: Vec<(Subnet, PrefixState)>,
    /// `width` places per slot, in slot order.
    rows: Vec<Option<RouteEntry>>,
    width: usize,
}

/// The hash the slot-number indexes (this table's, the router-id interning's) use for keys.
pub(super) fn hash_of<T: core::hash::Hash>(x: &T) -> u64 {
    FxBuildHasher.hash_one(x)
}

/// Bytes of a hash index holding `cap` entries of `slot` bytes, sized as hashbrown sizes it:
/// buckets a power of two at ≤ 7/8 load, one control byte each.
pub(super) fn index_bytes(cap: usize, slot: usize) -> usize {
    if cap == 0 {
        return 0;
    }
    (cap * 8 / 7).next_power_of_two() * (slot + 1)
}

impl Table {
    /// Destinations held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when no destination is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Neighbour slots each destination has a place for.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Makes room for neighbour slots up to `slots` (rows are laid out again, once per new
    /// highest slot: neighbours come and go far more rarely than routes change).
    pub fn widen(&mut self, slots: usize) {
        if slots > self.width {
            self.set_width(slots);
        }
    }

    /// Gives back the places of slots past `slots`, which must hold no routes (every
    /// neighbour numbered above it is gone): a crowd of short-lived neighbours does not leave
    /// every destination wide for good.
    pub fn narrow(&mut self, slots: usize) {
        if slots < self.width {
            self.set_width(slots);
        }
    }

    fn set_width(&mut self, slots: usize) {
        let keep = self.width.min(slots);
        let mut rows = Vec::with_capacity(self.slots.capacity() * slots);
        if self.width == 0 {
            rows.resize(self.slots.len() * slots, None);
        } else {
            for row in self.rows.chunks_exact(self.width) {
                rows.extend_from_slice(&row[..keep]);
                rows.extend(core::iter::repeat_n(None, slots - keep));
            }
        }
        self.rows = rows;
        self.width = slots;
    }

    /// The slot of `s`.
    fn slot(&self, s: &Subnet) -> Option<usize> {
        self.index
            .find(hash_of(s), |&i| self.slots[i as usize].0 == *s)
            .map(|&i| i as usize)
    }

    fn view(&self, i: usize) -> Prefix<'_> {
        Prefix {
            state: &self.slots[i].1,
            row: &self.rows[i * self.width..(i + 1) * self.width],
        }
    }

    fn view_mut(&mut self, i: usize) -> PrefixMut<'_> {
        PrefixMut {
            state: &mut self.slots[i].1,
            row: &mut self.rows[i * self.width..(i + 1) * self.width],
        }
    }

    /// The state of `s`.
    pub fn get(&self, s: &Subnet) -> Option<Prefix<'_>> {
        Some(self.view(self.slot(s)?))
    }

    /// The state of `s`, to change.
    pub fn get_mut(&mut self, s: &Subnet) -> Option<PrefixMut<'_>> {
        let i = self.slot(s)?;
        Some(self.view_mut(i))
    }

    /// The state of `s`, made empty if there was none.
    pub fn get_or_default(&mut self, s: Subnet) -> PrefixMut<'_> {
        let i = match self.slot(&s) {
            Some(i) => i,
            None => {
                let i = self.slots.len();
                self.slots.push((s, PrefixState::default()));
                // The rows grow with the slots (and by the same doubling).
                let rows = self.slots.capacity() * self.width;
                if self.rows.capacity() < rows {
                    self.rows.reserve_exact(rows - self.rows.len());
                }
                self.rows.extend(core::iter::repeat_n(None, self.width));
                let slots = &self.slots;
                self.index
                    .insert_unique(hash_of(&s), i as u32, |&j| hash_of(&slots[j as usize].0));
                i
            }
        };
        self.view_mut(i)
    }

    /// Every destination with its state.
    pub fn iter(&self) -> impl Iterator<Item = (&Subnet, Prefix<'_>)> {
        (0..self.slots.len()).map(|i| (&self.slots[i].0, self.view(i)))
    }

    /// Every destination with its state, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Subnet, PrefixMut<'_>)> {
        let w = self.width;
        let rows: Box<dyn Iterator<Item = &mut [Option<RouteEntry>]>> = if w == 0 {
            Box::new(core::iter::repeat_with(|| &mut [][..]))
        } else {
            Box::new(self.rows.chunks_exact_mut(w))
        };
        self.slots
            .iter_mut()
            .zip(rows)
            .map(|((s, state), row)| (&*s, PrefixMut { state, row }))
    }

    /// Every destination.
    pub fn keys(&self) -> impl Iterator<Item = &Subnet> {
        self.slots.iter().map(|(s, _)| s)
    }

    /// Every state.
    pub fn values(&self) -> impl Iterator<Item = Prefix<'_>> {
        (0..self.slots.len()).map(|i| self.view(i))
    }

    /// Keeps the destinations for which `keep` is true (the last slot moves into each hole).
    pub fn retain(&mut self, mut keep: impl FnMut(&Subnet, Prefix<'_>) -> bool) {
        let w = self.width;
        let mut i = 0;
        while i < self.slots.len() {
            if keep(&self.slots[i].0, self.view(i)) {
                i += 1;
                continue;
            }
            let last = (self.slots.len() - 1) as u32;
            let (gone, _) = self.slots.swap_remove(i);
            // The last row moves into the hole the same way.
            let end = self.rows.len() - w;
            self.rows.copy_within(end.., i * w);
            self.rows.truncate(end);
            if let Ok(e) = self.index.find_entry(hash_of(&gone), |&j| j == i as u32) {
                e.remove();
            }
            if let Some((moved, _)) = self.slots.get(i)
                && let Some(j) = self.index.find_mut(hash_of(moved), |&j| j == last)
            {
                *j = i as u32;
            }
        }
        if self.slots.capacity() > self.slots.len() * 2 + 16 {
            self.slots
                .shrink_to(self.slots.len() + self.slots.len() / 4);
            self.rows.shrink_to(self.slots.capacity() * w);
        }
    }

    /// Bytes held, from the containers' capacities.
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<(Subnet, PrefixState)>()
            + self.rows.capacity() * core::mem::size_of::<Option<RouteEntry>>()
            + index_bytes(self.index.capacity(), core::mem::size_of::<u32>())
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
    fn table_keeps_its_index_right_through_removals() {
        let mut t = Table::default();
        let sub = |i: u8| Subnet([0x06, 0, 0, 0, 0, 0, 0, i]);
        for i in 0..50 {
            t.get_or_default(sub(i)).set_last_advertised(i as u32, 0);
        }
        t.retain(|s, _| s.0[7] % 3 == 0);
        assert_eq!(t.len(), 17);
        for i in 0..50 {
            let kept = t.get(&sub(i)).map(|p| p.last_advertised());
            if i % 3 == 0 {
                assert_eq!(kept, Some(Some((i as u32, 0))), "{i}");
            } else {
                assert_eq!(kept, None, "{i}");
            }
        }
        assert_eq!(t.keys().count(), 17);
        t.get_or_default(sub(1));
        assert_eq!(t.len(), 18);
        assert!(t.get_mut(&sub(1)).is_some());
    }

    #[test]
    fn routes_stay_with_their_destination_through_widening_and_removals() {
        let mut t = Table::default();
        let sub = |i: u8| Subnet([0x06, 0, 0, 0, 0, 0, 0, i]);
        let slot = |n: u16| Slot::new(n).unwrap();
        let entry = |i: u8, n: u16| RouteEntry {
            rid: i as u32,
            seqno: n,
            refmetric: 100 + i as u16,
            expires: Expiry(0),
            neigh: slot(n),
        };
        // Destinations before any neighbour: rows of no places.
        t.get_or_default(sub(0));
        t.widen(2);
        for i in 0..40 {
            let mut p = t.get_or_default(sub(i));
            assert!(p.set_entry(entry(i, 1 + (i as u16 % 2))));
            assert!(!p.set_entry(entry(i, 3)), "slot 3 is past the width");
        }
        t.widen(3);
        for i in (0..40).step_by(3) {
            assert!(t.get_mut(&sub(i)).unwrap().set_entry(entry(i, 3)));
        }
        // Drop the destinations whose slot-1 route is gone.
        for i in (0..40).step_by(2) {
            assert!(t.get_mut(&sub(i)).unwrap().remove_entry(slot(1)));
        }
        t.retain(|_, p| !p.is_empty(Timestamp::ZERO));
        for i in 0..40u8 {
            let p = t.get(&sub(i));
            let want: Vec<RouteEntry> = [
                (i % 2 == 1).then(|| entry(i, 2)),
                (i % 3 == 0).then(|| entry(i, 3)),
            ]
            .into_iter()
            .flatten()
            .collect();
            match p {
                Some(p) => assert_eq!(p.entries().copied().collect::<Vec<_>>(), want, "{i}"),
                None => assert!(want.is_empty(), "{i}"),
            }
        }
        assert_eq!(
            t.len(),
            (0..40).filter(|i| i % 2 == 1 || i % 3 == 0).count()
        );
        // Slot 3's neighbour leaves: its places go, the others' routes stay.
        let kept: Vec<Subnet> = t.keys().copied().collect();
        for s in &kept {
            t.get_mut(s).unwrap().remove_entry(slot(3));
        }
        t.narrow(2);
        assert_eq!(t.width(), 2);
        for s in &kept {
            let i = s.0[7];
            let want: Vec<RouteEntry> = (i % 2 == 1).then(|| entry(i, 2)).into_iter().collect();
            assert_eq!(
                t.get(s).unwrap().entries().copied().collect::<Vec<_>>(),
                want,
                "{i}"
            );
        }
        assert!(!t.get_mut(&kept[0]).unwrap().set_entry(entry(0, 3)));
    }

    #[test]
    fn stamps_wrap_around() {
        let t = Timestamp::from_micros(5_000_000);
        let s = Stamp::of(t);
        assert!(s.reached(t));
        assert!(!s.reached(Timestamp::from_micros(4_990_000)));
        assert_eq!(
            s.elapsed(t + Duration::from_millis(730)),
            Duration::from_millis(730)
        );
        assert_eq!(s.elapsed(Timestamp::ZERO), Duration::ZERO);
        // 2^32 centiseconds (497 days) later the counter has wrapped; comparisons still hold.
        let late = Timestamp::from_micros((1u64 << 32) * 10_000 + 123_000_000);
        let d = Stamp::of(late + Duration::from_secs(28));
        assert!(!d.reached(late));
        assert!(d.reached(late + Duration::from_secs(28)));
    }

    #[test]
    fn route_state_stays_small() {
        // Every node holds one slot per destination: its size is the routing table's size.
        assert_eq!(core::mem::size_of::<RouteEntry>(), 12);
        assert_eq!(core::mem::size_of::<Option<Selected>>(), 12);
        assert_eq!(core::mem::size_of::<Option<RouteEntry>>(), 12);
        assert_eq!(core::mem::size_of::<(Subnet, PrefixState)>(), 64);
    }

    #[test]
    fn expiries_wrap_around() {
        let t = Timestamp::from_micros(7_000_000);
        let e = Expiry::of(t + Duration::from_secs(112));
        assert!(!e.reached(t));
        assert!(!e.reached(t + Duration::from_millis(111_900)));
        assert!(e.reached(t + Duration::from_secs(112)));
        assert!(e.reached(t + Duration::from_secs(113)));
        // 2^16 deciseconds (109 minutes) later the counter has wrapped; still right.
        let late = t + Duration::from_secs(6553) + Duration::from_millis(600);
        let e = Expiry::of(late + Expiry::MAX);
        assert!(!e.reached(late));
        assert!(e.reached(late + Expiry::MAX));
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
