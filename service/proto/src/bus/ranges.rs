//! A set of byte ranges `[start, end)`, kept sorted and merged.
//!
//! A sender picks the offsets of its chunks, so a hostile one can make a reassembly hold
//! hundreds of thousands of ranges: every operation here is logarithmic in their number (a
//! sorted map, not a vector rebuilt on each insert), and the bus caps how many one message may
//! have ([`super::MAX_PARTIAL_RANGES`]).

use std::collections::BTreeMap;

/// Sorted, disjoint, non-adjacent ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start → end.
    map: BTreeMap<u32, u32>,
    /// Bytes covered.
    covered: u64,
}

impl RangeSet {
    /// The empty set.
    pub fn new() -> Self {
        RangeSet::default()
    }

    /// The ranges, in order.
    pub fn ranges(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.map.iter().map(|(&s, &e)| (s, e))
    }

    /// How many ranges.
    pub fn count(&self) -> usize {
        self.map.len()
    }

    /// Adds `[start, end)`.
    pub fn insert(&mut self, start: u32, end: u32) {
        if start >= end {
            return;
        }
        let (mut s, mut e) = (start, end);
        // The range starting at or before `s` absorbs us if it reaches `s`.
        if let Some((&ps, &pe)) = self.map.range(..=s).next_back()
            && pe >= s
        {
            self.map.remove(&ps);
            self.covered -= u64::from(pe - ps);
            s = ps;
            e = e.max(pe);
        }
        // Then every range starting inside (or touching) `[s, e]` merges in.
        while let Some((&ns, &ne)) = self.map.range(s..=e).next() {
            self.map.remove(&ns);
            self.covered -= u64::from(ne - ns);
            e = e.max(ne);
        }
        self.map.insert(s, e);
        self.covered += u64::from(e - s);
    }

    /// True when `[start, end)` is wholly inside the set.
    pub fn covers(&self, start: u32, end: u32) -> bool {
        start >= end
            || self
                .map
                .range(..=start)
                .next_back()
                .is_some_and(|(_, &e)| end <= e)
    }

    /// Bytes covered.
    pub fn len(&self) -> u64 {
        self.covered
    }

    /// True when nothing is covered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_covers() {
        let mut r = RangeSet::new();
        r.insert(10, 20);
        r.insert(30, 40);
        r.insert(20, 30);
        assert_eq!(r.ranges().collect::<Vec<_>>(), [(10, 40)]);
        r.insert(0, 5);
        r.insert(50, 60);
        r.insert(4, 51);
        assert_eq!(r.ranges().collect::<Vec<_>>(), [(0, 60)]);
        assert!(r.covers(0, 60));
        assert!(!r.covers(0, 61));
        assert_eq!(r.len(), 60);
        r.insert(70, 80);
        r.insert(65, 66);
        r.insert(59, 75);
        assert_eq!(r.ranges().collect::<Vec<_>>(), [(0, 80)]);
        assert_eq!((r.len(), r.count()), (80, 1));
    }

    /// Agrees with a byte map on a pseudo-random sequence of inserts.
    #[test]
    fn agrees_with_a_bitmap() {
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut r = RangeSet::new();
        let mut bits = vec![false; 600];
        for _ in 0..2000 {
            let s = next(590) as u32;
            let e = s + next(12) as u32;
            r.insert(s, e);
            bits[s as usize..e as usize]
                .iter_mut()
                .for_each(|b| *b = true);
            assert_eq!(r.len(), bits.iter().filter(|b| **b).count() as u64);
            let (a, b) = (next(600) as u32, next(600) as u32);
            let (a, b) = (a.min(b), a.max(b));
            assert_eq!(
                r.covers(a, b),
                bits[a as usize..b as usize].iter().all(|b| *b)
            );
        }
        let ranges: Vec<_> = r.ranges().collect();
        assert!(ranges.windows(2).all(|w| w[0].1 < w[1].0), "sorted, apart");
    }

    /// 200,000 one-byte ranges (what a hostile sender's chunks can make) take moments, not the
    /// hours a vector rebuilt on every insert took.
    #[test]
    fn many_ranges_stay_cheap() {
        let t = std::time::Instant::now();
        let mut r = RangeSet::new();
        for i in (0..200_000u32).rev() {
            r.insert(i * 2, i * 2 + 1);
        }
        for i in 0..200_000u32 {
            assert!(r.covers(i * 2, i * 2 + 1));
        }
        assert_eq!((r.count(), r.len()), (200_000, 200_000));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }
}
