//! The route table's hash index from a /64 to its slot number, two bytes a bucket while the
//! slot numbers fit in two bytes.
//!
//! Every node holds one bucket per destination and then some (a power of two at most 7/8
//! full): with four-byte slot numbers and hashbrown's control byte that was 5 bytes a bucket,
//! ≈ 8 bytes per destination at 10,000 destinations; two-byte numbers take 3. Tables past
//! 65,536 destinations switch to four-byte numbers once, as they grow past that.

use hashbrown::HashTable;

/// Slot numbers by the hash of their /64 (the /64 itself stays in the slot: callers compare).
#[derive(Debug)]
pub(super) enum SlotIndex {
    /// Every slot number below 2^16.
    Narrow(HashTable<u16>),
    /// Some slot number is not.
    Wide(HashTable<u32>),
}

impl Default for SlotIndex {
    fn default() -> Self {
        SlotIndex::Narrow(HashTable::new())
    }
}

impl SlotIndex {
    /// The slot with hash `hash` for which `eq` holds.
    pub(super) fn find(&self, hash: u64, mut eq: impl FnMut(usize) -> bool) -> Option<usize> {
        match self {
            SlotIndex::Narrow(t) => t.find(hash, |&i| eq(i as usize)).map(|&i| i as usize),
            SlotIndex::Wide(t) => t.find(hash, |&i| eq(i as usize)).map(|&i| i as usize),
        }
    }

    /// Adds slot `i` (not yet present) under `hash`; `rehash` gives any slot's hash, for
    /// growing.
    pub(super) fn insert(&mut self, hash: u64, i: usize, rehash: impl Fn(usize) -> u64) {
        if let SlotIndex::Narrow(t) = self {
            match u16::try_from(i) {
                Ok(n) => {
                    t.insert_unique(hash, n, |&j| rehash(j as usize));
                    return;
                }
                Err(_) => {
                    let mut wide = HashTable::with_capacity(t.len() + 1);
                    for &j in t.iter() {
                        wide.insert_unique(rehash(j as usize), u32::from(j), |&k: &u32| {
                            rehash(k as usize)
                        });
                    }
                    *self = SlotIndex::Wide(wide);
                }
            }
        }
        if let SlotIndex::Wide(t) = self {
            let n = u32::try_from(i).expect("fewer than 2^32 destinations");
            t.insert_unique(hash, n, |&j| rehash(j as usize));
        }
    }

    /// Removes slot `i`, held under `hash`.
    pub(super) fn remove(&mut self, hash: u64, i: usize) {
        match self {
            SlotIndex::Narrow(t) => {
                if let Ok(e) = t.find_entry(hash, |&j| j as usize == i) {
                    e.remove();
                }
            }
            SlotIndex::Wide(t) => {
                if let Ok(e) = t.find_entry(hash, |&j| j as usize == i) {
                    e.remove();
                }
            }
        }
    }

    /// Renames slot `from`, held under `hash`, to `to` (smaller: a slot moved into a hole).
    pub(super) fn renumber(&mut self, hash: u64, from: usize, to: usize) {
        match self {
            SlotIndex::Narrow(t) => {
                if let Some(j) = t.find_mut(hash, |&j| j as usize == from) {
                    *j = to as u16;
                }
            }
            SlotIndex::Wide(t) => {
                if let Some(j) = t.find_mut(hash, |&j| j as usize == from) {
                    *j = to as u32;
                }
            }
        }
    }

    /// Bytes held, sized as hashbrown sizes its buckets.
    pub(super) fn bytes(&self) -> usize {
        match self {
            SlotIndex::Narrow(t) => super::table::index_bytes(t.capacity(), 2),
            SlotIndex::Wide(t) => super::table::index_bytes(t.capacity(), 4),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: usize) -> u64 {
        super::super::table::hash_of(&(i as u64 * 7919))
    }

    #[test]
    fn widens_past_two_bytes_and_keeps_every_slot() {
        let mut ix = SlotIndex::default();
        let n = 70_000;
        for i in 0..n {
            ix.insert(h(i), i, h);
            if i == 65_535 {
                assert!(matches!(ix, SlotIndex::Narrow(_)), "65,535 still fits");
            }
        }
        assert!(matches!(ix, SlotIndex::Wide(_)));
        for i in (0..n).step_by(97) {
            assert_eq!(ix.find(h(i), |j| j == i), Some(i));
        }
        ix.remove(h(5), 5);
        assert_eq!(ix.find(h(5), |j| j == 5), None);
        ix.renumber(h(n - 1), n - 1, 5);
        assert_eq!(ix.find(h(n - 1), |j| j == 5), Some(5));
        assert_eq!(ix.find(h(n - 1), |j| j == n - 1), None);
    }

    #[test]
    fn a_narrow_index_takes_three_bytes_a_bucket() {
        let mut ix = SlotIndex::default();
        for i in 0..10_000 {
            ix.insert(h(i), i, h);
        }
        // 10,000 at ≤ 7/8 load: 16,384 buckets.
        assert_eq!(ix.bytes(), 16_384 * 3);
    }
}
