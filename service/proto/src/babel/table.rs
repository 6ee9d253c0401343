//! The route table of one prefix: routes learnt per neighbour, feasibility distances per
//! source, and what is selected.

use std::hash::BuildHasher;
use std::num::NonZeroU16;

use rustc_hash::FxBuildHasher;
use smallvec::SmallVec;

use super::slot_index::SlotIndex;
pub use super::stamp::{Expiry, MAX_AHEAD, STAMP_HORIZON, Stamp};
use crate::address::Subnet;

/// Index of an interned router id (router ids are 36 bytes; a node sees each one on many
/// routes, so entries store this index).
pub type RidIdx = u32;

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

/// `a` is newer than `b` in 16-bit sequence-number arithmetic (RFC 8966 §3.2.1).
pub fn seqno_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

pub use super::prefix::{
    ADVERTISED, DIRTY, IMPROVED, Place, Prefix, PrefixMut, PrefixState, RouteEntry, Selected,
    Source, Spills,
};

/// Every destination's state, stored densely: a hash index from /64 to a slot number, the
/// slots in blocks of [`BLOCK`], and beside each block's slots the routes learnt, one row of
/// [`Table::width`] places per destination (one place per neighbour slot). (A hash map's own
/// buckets, or an index map's vector, which grows to its index's capacity, would sit up to half
/// empty; and a small vector of routes per destination took 56 bytes inline plus a heap block
/// wherever more neighbours offered the destination, where a row takes 6 bytes per
/// neighbour.) What a destination holds beyond that, if its originator restarted, is in
/// `spills`.
///
/// The index holds slot numbers only (2 bytes a bucket below 65,536 destinations), hashing
/// the /64 kept in the slot.
#[derive(Debug, Default)]
pub struct Table {
    index: SlotIndex,
    /// Slot `i` is `blocks[i / BLOCK]`'s `i % BLOCK`-th; every block but the last is full.
    blocks: Vec<Block>,
    width: usize,
    spills: Spills,
}

/// [`Table::retain`]'s mark for a place whose destination went.
pub const GONE: u32 = u32::MAX - 1;

/// Destinations per [`Block`]. A table grows a block at a time and never copies what it holds
/// to grow: one vector that grew by doubling, then by a quarter, copied a 10,000-destination
/// table about four times over into fresh pages while it filled, and still left a sixth of
/// it empty (11,916 places); blocks leave fewer than [`BLOCK`] places empty.
pub const BLOCK: usize = 256;

/// [`BLOCK`] destinations (fewer while the first block grows by doubling, so that a table of
/// a few destinations stays small) and their rows.
#[derive(Debug, Default)]
struct Block {
    slots: Vec<(Subnet, PrefixState)>,
    /// `width` places per slot, in slot order; room for as many slots as `slots` has.
    rows: Vec<Place>,
}

impl Block {
    fn bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<(Subnet, PrefixState)>()
            + self.rows.capacity() * core::mem::size_of::<Place>()
    }
}

/// The /64 in slot `i` of `blocks`.
fn subnet_in(blocks: &[Block], i: usize) -> &Subnet {
    &blocks[i / BLOCK].slots[i % BLOCK].0
}

/// The capacity a block of `cap` slots grows to when full: doubling from 4 to [`BLOCK`].
fn grown(cap: usize) -> usize {
    (cap * 2).clamp(4, BLOCK)
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
        self.blocks
            .last()
            .map_or(0, |b| (self.blocks.len() - 1) * BLOCK + b.slots.len())
    }

    /// True when no destination is held.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
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
        for b in &mut self.blocks {
            let mut rows = Vec::with_capacity(b.slots.capacity() * slots);
            if self.width == 0 {
                rows.resize(b.slots.len() * slots, Place::EMPTY);
            } else {
                for row in b.rows.chunks_exact(self.width) {
                    rows.extend_from_slice(&row[..keep]);
                    rows.extend(core::iter::repeat_n(Place::EMPTY, slots - keep));
                }
            }
            b.rows = rows;
        }
        self.width = slots;
    }

    /// The /64 in slot `i`.
    fn subnet(&self, i: usize) -> &Subnet {
        subnet_in(&self.blocks, i)
    }

    /// The slot of `s`.
    fn slot(&self, s: &Subnet) -> Option<usize> {
        self.index.find(hash_of(s), |i| self.subnet(i) == s)
    }

    fn view(&self, i: usize) -> Prefix<'_> {
        let (b, k, w) = (&self.blocks[i / BLOCK], i % BLOCK, self.width);
        Prefix::new(&b.slots[k].1, &b.rows[k * w..(k + 1) * w], &self.spills)
    }

    fn view_mut(&mut self, i: usize) -> PrefixMut<'_> {
        let (b, k, w) = (&mut self.blocks[i / BLOCK], i % BLOCK, self.width);
        PrefixMut::new(
            &mut b.slots[k].1,
            &mut b.rows[k * w..(k + 1) * w],
            &mut self.spills,
        )
    }

    /// Reads `s`'s slot and the first place of its row, if it has one, only to bring them
    /// into the CPU's caches before they are needed.
    pub fn touch(&self, s: &Subnet) -> Option<u16> {
        let i = self.slot(s)?;
        let (b, k) = (&self.blocks[i / BLOCK], i % BLOCK);
        Some(
            b.slots[k].1.advertised_metric
                ^ b.rows.get(k * self.width).map_or(0, |p| p.raw_metric()),
        )
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

    /// The place of `s` in the table, which stays its own until [`Table::retain`] drops a
    /// destination.
    pub fn index_of(&self, s: &Subnet) -> Option<usize> {
        self.slot(s)
    }

    /// The state at place `i` (from [`Table::index_of`] or [`Table::index_or_insert`], with no
    /// [`Table::retain`] since).
    pub fn at(&self, i: usize) -> Prefix<'_> {
        self.view(i)
    }

    /// The /64 at place `i`.
    pub fn subnet_at(&self, i: usize) -> Subnet {
        *self.subnet(i)
    }

    /// The state at place `i` (from [`Table::index_of`] or [`Table::index_or_insert`], with no
    /// [`Table::retain`] since), to change.
    pub fn at_mut(&mut self, i: usize) -> PrefixMut<'_> {
        self.view_mut(i)
    }

    /// The state of `s`, made empty if there was none.
    pub fn get_or_default(&mut self, s: Subnet) -> PrefixMut<'_> {
        let i = self.index_or_insert(s);
        self.view_mut(i)
    }

    /// The place of `s`, made with an empty state if there was none.
    pub fn index_or_insert(&mut self, s: Subnet) -> usize {
        match self.slot(&s) {
            Some(i) => i,
            None => {
                let i = self.len();
                if i.is_multiple_of(BLOCK) {
                    // Past the first block, a block is made whole at once.
                    let cap = if i == 0 { 0 } else { BLOCK };
                    self.blocks.push(Block {
                        slots: Vec::with_capacity(cap),
                        rows: Vec::with_capacity(cap * self.width),
                    });
                }
                let w = self.width;
                let b = self.blocks.last_mut().expect("just made if there was none");
                if b.slots.len() == b.slots.capacity() {
                    let cap = grown(b.slots.capacity());
                    b.slots.reserve_exact(cap - b.slots.len());
                    b.rows.reserve_exact(cap * w - b.rows.len());
                }
                b.slots.push((s, PrefixState::default()));
                b.rows.extend(core::iter::repeat_n(Place::EMPTY, w));
                let blocks = &self.blocks;
                self.index
                    .insert(hash_of(&s), i, |j| hash_of(subnet_in(blocks, j)));
                i
            }
        }
    }

    /// Every destination with its state.
    pub fn iter(&self) -> impl Iterator<Item = (&Subnet, Prefix<'_>)> {
        (0..self.len()).map(|i| (self.subnet(i), self.view(i)))
    }

    /// Calls `f` with every destination and its state, to change.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&Subnet, PrefixMut<'_>)) {
        for i in 0..self.len() {
            let s = *self.subnet(i);
            f(&s, self.view_mut(i));
        }
    }

    /// Every destination.
    pub fn keys(&self) -> impl Iterator<Item = &Subnet> {
        self.blocks
            .iter()
            .flat_map(|b| b.slots.iter().map(|(s, _)| s))
    }

    /// Every state.
    pub fn values(&self) -> impl Iterator<Item = Prefix<'_>> {
        (0..self.len()).map(|i| self.view(i))
    }

    /// Keeps the destinations for which `keep` is true (the last slot moves into each hole;
    /// a block left empty is given back). If any went, returns where each place went: the
    /// new place of old place `i` at `i`, or [`GONE`].
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&Subnet, Prefix<'_>) -> bool,
    ) -> Option<Vec<u32>> {
        let w = self.width;
        let old_len = self.len();
        let mut i = 0;
        // The old place of what each place holds now, made at the first removal.
        let mut was: Option<Vec<u32>> = None;
        while i < self.len() {
            if keep(self.subnet(i), self.view(i)) {
                i += 1;
                continue;
            }
            let last = self.len() - 1;
            let was = was.get_or_insert_with(|| (0..=last as u32).collect());
            was[i] = was[last];
            was.pop();
            let gone = *self.subnet(i);
            // The last slot and its row move into the hole.
            let tail = self.blocks.last_mut().expect("a slot is held");
            let moved = tail.slots.pop().expect("the last block is never empty");
            let row_at = tail.rows.len() - w;
            let row: SmallVec<[Place; 8]> = tail.rows.drain(row_at..).collect();
            if tail.slots.is_empty() {
                self.blocks.pop();
            }
            let hole = if i == last {
                moved
            } else {
                let b = &mut self.blocks[i / BLOCK];
                let k = i % BLOCK;
                b.rows[k * w..(k + 1) * w].copy_from_slice(&row);
                core::mem::replace(&mut b.slots[k], moved)
            };
            if let Some(spill) = hole.1.spill_index() {
                self.spills.release(spill);
            }
            self.index.remove(hash_of(&gone), i);
            if i != last {
                self.index.renumber(hash_of(self.subnet(i)), last, i);
            }
        }
        let was = was?;
        let mut now_at = vec![GONE; old_len];
        for (new, &old) in was.iter().enumerate() {
            now_at[old as usize] = new as u32;
        }
        Some(now_at)
    }

    /// Bytes held, from the containers' capacities.
    pub fn bytes(&self) -> usize {
        self.blocks.iter().map(Block::bytes).sum::<usize>()
            + self.blocks.capacity() * core::mem::size_of::<Block>()
            + self.spills.bytes()
            + self.index.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::super::INFINITY;
    use super::*;
    use crate::time::Timestamp;
    use std::time::Duration;

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
            t.get_or_default(sub(i)).set_last_advertised(i as u32);
        }
        let before: Vec<Subnet> = (0..t.len()).map(|i| t.subnet_at(i)).collect();
        let now_at = t.retain(|s, _| s.0[7] % 3 == 0).expect("some went");
        assert_eq!(t.len(), 17);
        // Every old place maps to where its destination is now, or to GONE.
        for (old, s) in before.iter().enumerate() {
            match now_at[old] {
                GONE => assert!(s.0[7] % 3 != 0, "{s:?} kept"),
                new => assert_eq!(t.subnet_at(new as usize), *s),
            }
        }
        assert!(t.retain(|_, _| true).is_none(), "nothing went: no map");
        for i in 0..50 {
            let kept = t.get(&sub(i)).map(|p| p.last_advertised_rid());
            if i % 3 == 0 {
                assert_eq!(kept, Some(Some(i as u32)), "{i}");
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
    fn blocks_fill_and_empty_without_losing_a_destination() {
        let mut t = Table::default();
        let sub = |i: u16| {
            let [hi, lo] = i.to_be_bytes();
            Subnet([0x06, 0, 0, 0, 0, 0, hi, lo])
        };
        let slot = |n: u16| Slot::new(n).unwrap();
        let entry = |i: u16| RouteEntry {
            rid: i as u32,
            seqno: i,
            refmetric: 1 + i % 500,
            expires: Expiry(i % 1000),
            neigh: slot(1 + i % 3),
        };
        t.widen(3);
        let n = 3 * BLOCK as u16 + 17;
        for i in 0..n {
            t.get_or_default(sub(i)).set_entry(entry(i));
        }
        assert_eq!(t.len(), n as usize);
        // The first block doubled up to a whole block; the others were made whole; the last
        // has room for a block at most.
        assert_eq!(t.blocks.len(), 4);
        assert!(t.blocks.iter().all(|b| b.slots.capacity() == BLOCK));
        // Widening mid-way keeps every route where it was.
        t.widen(4);
        // Remove all but every seventh: the last block and then two more empty and go.
        t.retain(|s, _| u16::from_be_bytes([s.0[6], s.0[7]]) % 7 == 0);
        let kept = (0..n).filter(|i| i % 7 == 0).count();
        assert_eq!(t.len(), kept);
        assert_eq!(t.blocks.len(), kept.div_ceil(BLOCK));
        for i in 0..n {
            let got = t.get(&sub(i)).map(|p| p.entries().collect::<Vec<_>>());
            if i % 7 == 0 {
                assert_eq!(got, Some(vec![entry(i)]), "{i}");
            } else {
                assert_eq!(got, None, "{i}");
            }
        }
        assert_eq!(t.keys().count(), kept);
        // And it fills again past a block boundary.
        for i in n..n + BLOCK as u16 {
            t.get_or_default(sub(i)).set_entry(entry(i));
        }
        assert_eq!(t.len(), kept + BLOCK);
        assert_eq!(
            t.get(&sub(n + 5)).unwrap().entries().next(),
            Some(entry(n + 5))
        );
        assert_eq!(t.get(&sub(7)).unwrap().entries().next(), Some(entry(7)));
    }

    #[test]
    fn routes_stay_with_their_destination_through_widening_and_removals() {
        let mut t = Table::default();
        let sub = |i: u8| Subnet([0x06, 0, 0, 0, 0, 0, 0, i]);
        let slot = |n: u16| Slot::new(n).unwrap();
        let entry = |i: u8, n: u16| RouteEntry {
            rid: 7,
            seqno: n,
            refmetric: 100 + i as u16,
            expires: Expiry(i as u16),
            neigh: slot(n),
        };
        // Destinations before any neighbour: rows of no places.
        t.get_or_default(sub(0));
        t.widen(2);
        for i in 0..40 {
            let mut p = t.get_or_default(sub(i));
            assert_eq!(
                p.set_entry(entry(i, 1 + (i as u16 % 2))).map(|e| e.len()),
                Some(0)
            );
            assert!(
                p.set_entry(entry(i, 3)).is_none(),
                "slot 3 is past the width"
            );
        }
        t.widen(3);
        for i in (0..40).step_by(3) {
            assert!(t.get_mut(&sub(i)).unwrap().set_entry(entry(i, 3)).is_some());
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
                Some(p) => assert_eq!(p.entries().collect::<Vec<_>>(), want, "{i}"),
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
            assert_eq!(t.get(s).unwrap().entries().collect::<Vec<_>>(), want, "{i}");
        }
        assert!(
            t.get_mut(&kept[0])
                .unwrap()
                .set_entry(entry(0, 3))
                .is_none()
        );
    }

    #[test]
    fn route_state_stays_small() {
        // Every node holds one slot per destination: its size is the routing table's size.
        assert_eq!(core::mem::size_of::<Place>(), 6);
        assert_eq!(core::mem::size_of::<Option<Selected>>(), 10);
        assert_eq!(core::mem::size_of::<Option<Source>>(), 10);
        // 48: a block of 256 fills a 12 KiB allocation (mimalloc's size classes round 50 up
        // to what 56 took).
        assert_eq!(core::mem::size_of::<(Subnet, PrefixState)>(), 48);
    }

    #[test]
    fn feasibility_condition() {
        let mut table = Table::default();
        let mut p = table.get_or_default(Subnet([0x06, 0, 0, 0, 0, 0, 0, 1]));
        let t = Timestamp::ZERO;
        assert!(p.feasible(1, 10, 500), "no source: feasible");
        p.note_advertised(1, 10, 300, Stamp::of(t));
        assert!(p.feasible(1, 10, 299));
        assert!(!p.feasible(1, 10, 300));
        assert!(!p.feasible(1, 9, 1));
        assert!(p.feasible(1, 11, 60000));
        assert!(p.feasible(1, 10, INFINITY), "retractions always feasible");
        assert!(p.feasible(2, 0, 1000), "other source");
        p.note_advertised(1, 10, 200, Stamp::of(t));
        assert!(!p.feasible(1, 10, 250), "FD only decreases within a seqno");
        // A second source (the originator restarted) spills; both hold.
        let later = t + Duration::from_secs(60);
        p.note_advertised(2, 3, 400, Stamp::of(later));
        assert!(!p.feasible(2, 3, 400));
        assert!(!p.feasible(1, 10, 250));
        assert_eq!(p.source_seqno(2), Some(3));
        assert_eq!(table.spills.len(), 1);
        // The first is forgotten first; the second moves inline and the spill goes.
        let mut p = table.get_mut(&Subnet([0x06, 0, 0, 0, 0, 0, 0, 1])).unwrap();
        p.gc_sources(t + Duration::from_secs(1));
        assert!(p.feasible(1, 10, 250));
        assert!(!p.feasible(2, 3, 400));
        assert_eq!(table.spills.len(), 0);
    }

    /// A route of router id `rid` from neighbour slot `n`.
    fn route(rid: u32, n: u16) -> RouteEntry {
        RouteEntry {
            rid,
            seqno: 1,
            refmetric: 256,
            expires: Expiry::of(Timestamp::from_micros(9_000_000)),
            neigh: Slot::new(n).unwrap(),
        }
    }

    /// The (slot, router id) of each route `t` holds for `s`.
    fn rids_of(t: &Table, s: &Subnet) -> Vec<(u16, u32)> {
        t.get(s)
            .unwrap()
            .entries()
            .map(|e| (e.neigh.get(), e.rid))
            .collect()
    }

    #[test]
    fn a_row_names_two_router_ids_at_most() {
        let mut t = Table::default();
        t.widen(4);
        let s = Subnet([0x06, 0, 0, 0, 0, 0, 0, 2]);
        let e = route;
        let rids = |t: &Table| rids_of(t, &s);
        let mut p = t.get_or_default(s);
        assert_eq!(p.set_entry(e(10, 1)).unwrap().len(), 0);
        assert_eq!(p.set_entry(e(11, 2)).unwrap().len(), 0);
        assert_eq!(p.set_entry(e(10, 3)).unwrap().len(), 0);
        assert_eq!(rids(&t), [(1, 10), (2, 11), (3, 10)]);
        assert_eq!(t.spills.len(), 1);
        // The selected route names the second id: a third evicts the first's routes.
        let mut p = t.get_mut(&s).unwrap();
        p.selected = Some(Selected {
            rid: 11,
            seqno: 5,
            metric: 300,
            neigh: Slot::new(2).unwrap(),
        });
        let gone = p.set_entry(e(12, 4)).unwrap();
        assert_eq!(
            gone.as_slice(),
            [Slot::new(1).unwrap(), Slot::new(3).unwrap()]
        );
        assert_eq!(rids(&t), [(2, 11), (4, 12)]);
        // A neighbour changing its route's id; then the first id's last route goes: the
        // second becomes the first and the spill is given back.
        let mut p = t.get_mut(&s).unwrap();
        assert_eq!(p.set_entry(e(12, 2)).unwrap().len(), 0);
        assert_eq!(rids(&t), [(2, 12), (4, 12)]);
        assert_eq!(t.spills.len(), 0);
        let mut p = t.get_mut(&s).unwrap();
        assert_eq!(p.set_entry(e(13, 1)).unwrap().len(), 0);
        assert!(p.remove_entry(Slot::new(2).unwrap()));
        assert!(p.remove_entries_if(|e| e.neigh.get() == 4).len() == 1);
        assert_eq!(rids(&t), [(1, 13)]);
        assert_eq!(t.spills.len(), 0);
        // An expiry renewed keeps the id; a retraction's metric removes.
        let mut p = t.get_mut(&s).unwrap();
        let later = Expiry::of(Timestamp::from_micros(20_000_000));
        p.set_expiry(Slot::new(1).unwrap(), later);
        assert_eq!(
            p.entry(Slot::new(1).unwrap()).map(|e| (e.rid, e.expires)),
            Some((13, later))
        );
        let mut gone = e(13, 1);
        gone.refmetric = INFINITY;
        assert_eq!(p.set_entry(gone).unwrap().len(), 0);
        assert!(p.entries().next().is_none());
    }

    #[test]
    fn a_route_replaced_by_a_new_router_id_evicts_nothing_it_need_not() {
        let mut t = Table::default();
        t.widen(3);
        let s = Subnet([0x06, 0, 0, 0, 0, 0, 0, 3]);
        let e = route;
        let rids = |t: &Table| rids_of(t, &s);
        let select = |p: &mut PrefixMut<'_>, rid: u32, n: u16| {
            p.selected = Some(Selected {
                rid,
                seqno: 1,
                metric: 300,
                neigh: Slot::new(n).unwrap(),
            });
        };
        // Slot 2's route (the second id, selected) becomes a third id's: slot 2 held the
        // second id's only route, so two ids remain and nothing goes.
        let mut p = t.get_or_default(s);
        p.set_entry(e(10, 1)).unwrap();
        p.set_entry(e(11, 2)).unwrap();
        select(&mut p, 11, 2);
        assert_eq!(p.set_entry(e(12, 2)).unwrap().len(), 0);
        assert_eq!(rids(&t), [(1, 10), (2, 12)]);
        // The same with the first id: slot 1 (selected) moves to a third id.
        let mut p = t.get_mut(&s).unwrap();
        select(&mut p, 10, 1);
        assert_eq!(p.set_entry(e(13, 1)).unwrap().len(), 0);
        assert_eq!(rids(&t), [(1, 13), (2, 12)]);
        // A real third id, nothing selected: the second id's routes go (13's: when slot 1
        // lost 10's last route, 12 became the first id and 13 the second).
        let mut p = t.get_mut(&s).unwrap();
        p.selected = None;
        p.set_entry(e(12, 3)).unwrap();
        let gone = p.set_entry(e(14, 3)).unwrap();
        assert_eq!(rids(&t), [(2, 12), (3, 14)]);
        assert_eq!(gone.as_slice(), [Slot::new(1).unwrap()]);
        // Everything removed: the destination holds no spill.
        let mut p = t.get_mut(&s).unwrap();
        assert_eq!(p.remove_entries_if(|_| true).len(), 2);
        assert_eq!(t.spills.len(), 0);
        t.retain(|_, p| !p.is_empty(Timestamp::ZERO));
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn a_removed_destination_gives_its_spill_back_for_another() {
        let mut t = Table::default();
        t.widen(2);
        let a = Subnet([0x06, 0, 0, 0, 0, 0, 0, 4]);
        let b = Subnet([0x06, 0, 0, 0, 0, 0, 0, 5]);
        let gc = Timestamp::from_micros(60_000_000);
        for s in [a, b] {
            let mut p = t.get_or_default(s);
            p.note_advertised(1, 1, 100, Stamp::of(gc));
            p.note_advertised(2, 1, 100, Stamp::of(gc));
        }
        assert_eq!(t.spills.len(), 2);
        // `a` goes (its sources expire); `b`'s spill stays `b`'s.
        t.get_mut(&a).unwrap().gc_sources(gc);
        assert_eq!(t.spills.len(), 1);
        t.retain(|s, p| *s != a || !p.is_empty(gc));
        assert!(t.get(&a).is_none());
        let mut c = t.get_or_default(Subnet([0x06, 0, 0, 0, 0, 0, 0, 6]));
        c.note_advertised(7, 3, 50, Stamp::of(gc + Duration::from_secs(60)));
        c.note_advertised(8, 3, 50, Stamp::of(gc + Duration::from_secs(60)));
        assert_eq!(t.spills.len(), 2);
        let b = t.get(&b).unwrap();
        assert_eq!((b.source_seqno(1), b.source_seqno(2)), (Some(1), Some(1)));
        assert_eq!(b.source_seqno(8), None);
    }
}
