//! A set of byte ranges `[start, end)`, kept sorted and merged.

/// Sorted, disjoint, non-adjacent ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet(Vec<(u32, u32)>);

impl RangeSet {
    /// The empty set.
    pub fn new() -> Self {
        RangeSet(Vec::new())
    }

    /// The ranges.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.0
    }

    /// Adds `[start, end)`.
    pub fn insert(&mut self, start: u32, end: u32) {
        if start >= end {
            return;
        }
        let (mut s, mut e) = (start, end);
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut placed = false;
        for &(a, b) in &self.0 {
            if b < s {
                out.push((a, b));
            } else if a > e {
                if !placed {
                    out.push((s, e));
                    placed = true;
                }
                out.push((a, b));
            } else {
                s = s.min(a);
                e = e.max(b);
            }
        }
        if !placed {
            out.push((s, e));
        }
        self.0 = out;
    }

    /// True when `[start, end)` is wholly inside the set.
    pub fn covers(&self, start: u32, end: u32) -> bool {
        start >= end || self.0.iter().any(|&(a, b)| a <= start && end <= b)
    }

    /// Bytes covered.
    pub fn len(&self) -> u64 {
        self.0.iter().map(|&(a, b)| (b - a) as u64).sum()
    }

    /// True when nothing is covered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
        assert_eq!(r.ranges(), &[(10, 40)]);
        r.insert(0, 5);
        r.insert(50, 60);
        r.insert(4, 51);
        assert_eq!(r.ranges(), &[(0, 60)]);
        assert!(r.covers(0, 60));
        assert!(!r.covers(0, 61));
        assert_eq!(r.len(), 60);
    }
}
