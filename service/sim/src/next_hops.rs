//! The simulator's mirror of every node's next hop towards every destination node, and the
//! loop check run after every routing change.
//!
//! A new forwarding loop must contain the edge that just changed, so following next hops
//! from the changed node finds any loop. A walk towards destination `d` reads only `d`'s row,
//! and a change towards `d` writes only that row: the changes of one window are applied row
//! by row, each row's in the order they happened, and the rows on every core. Each check sees
//! its row exactly as a one-at-a-time replay would, so the counts do not depend on threads.

use rayon::prelude::*;

/// Every node's next hop towards every destination node, in one dense matrix of 2 bytes a
/// pair (per-node hash maps took about 18): at 10,000 nodes that is 200 MB, not 1.5 GB.
/// Stored by destination, so that a loop check, which follows next hops towards one
/// destination, reads one row (2 KB at 1,000 nodes) rather than one cache line per hop in
/// rows far apart (the scattered layout spent a twentieth of a simulation waiting on memory).
/// Zero means no route, so untouched rows cost no memory until written.
pub(crate) struct NextHops {
    n: usize,
    hops: Vec<u16>,
}

/// A routing change: node `at` now forwards towards node `d` through `hop` (or not at all).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Change {
    pub(crate) d: u32,
    pub(crate) at: u32,
    pub(crate) hop: Option<u32>,
}

/// What applying a batch of changes did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Routes gained minus routes lost.
    pub(crate) selected: i64,
    /// The same, counting only routes towards nodes in another component.
    pub(crate) stale: i64,
    /// Loop checks run.
    pub(crate) checks: u64,
    /// Loops found.
    pub(crate) loops: u64,
}

impl std::ops::Add for Tally {
    type Output = Tally;
    fn add(self, o: Tally) -> Tally {
        Tally {
            selected: self.selected + o.selected,
            stale: self.stale + o.stale,
            checks: self.checks + o.checks,
            loops: self.loops + o.loops,
        }
    }
}

/// Fewer changes than this are applied on the calling thread: handing a few rows to the pool
/// costs more than walking them.
const PARALLEL_FROM: usize = 256;

impl NextHops {
    /// Most nodes a matrix can name (hop `h` is stored as `h + 1`).
    const MAX_NODES: usize = crate::MAX_NODES;

    pub(crate) fn new(n: usize) -> Self {
        assert!(n <= Self::MAX_NODES, "at most {} nodes", Self::MAX_NODES);
        NextHops {
            n,
            hops: vec![0; n * n],
        }
    }

    /// `at`'s next hop towards `d`.
    pub(crate) fn get(&self, at: u32, d: u32) -> Option<u32> {
        let v = self.hops[d as usize * self.n + at as usize];
        (v as u32).checked_sub(1)
    }

    /// The destinations `at` has a next hop for.
    pub(crate) fn destinations(&self, at: usize) -> impl Iterator<Item = u32> + '_ {
        (0..self.n)
            .filter(move |&d| self.hops[d * self.n + at] != 0)
            .map(|d| d as u32)
    }

    /// Applies `changes` (emptied) in their order per destination, with a loop check after
    /// each one that sets a hop; `comp` is every node's component, for the stale count.
    pub(crate) fn apply(&mut self, changes: &mut Vec<Change>, comp: &[usize]) -> Tally {
        if changes.is_empty() {
            return Tally::default();
        }
        // Stable: each destination's changes keep their order.
        changes.sort_by_key(|c| c.d);
        let mut rows = Vec::new();
        let mut rest = self.hops.as_mut_slice();
        let mut consumed = 0;
        for group in changes.chunk_by(|a, b| a.d == b.d) {
            let start = group[0].d as usize * self.n;
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(start - consumed);
            let (row, tail) = tail.split_at_mut(self.n);
            rest = tail;
            consumed = start + self.n;
            rows.push((row, group));
        }
        let tally = if changes.len() < PARALLEL_FROM {
            rows.into_iter()
                .map(|(row, group)| apply_row(row, group, comp))
                .fold(Tally::default(), |a, b| a + b)
        } else {
            rows.into_par_iter()
                .map(|(row, group)| apply_row(row, group, comp))
                .reduce(Tally::default, |a, b| a + b)
        };
        changes.clear();
        tally
    }
}

/// Applies one destination's changes to its row, in order.
fn apply_row(row: &mut [u16], changes: &[Change], comp: &[usize]) -> Tally {
    let mut t = Tally::default();
    for c in changes {
        let slot = &mut row[c.at as usize];
        let had = *slot != 0;
        // `NextHops::new` bounds the node count, so every hop fits.
        *slot = c.hop.map_or(0, |h| h as u16 + 1);
        let stale = (comp[c.at as usize] != comp[c.d as usize]) as i64;
        match (had, c.hop.is_some()) {
            (false, true) => {
                t.selected += 1;
                t.stale += stale;
            }
            (true, false) => {
                t.selected -= 1;
                t.stale -= stale;
            }
            _ => {}
        }
        if c.hop.is_some() {
            t.checks += 1;
            t.loops += loops(row, c.at, c.d) as u64;
        }
    }
    t
}

/// Follows next hops from `from` towards `d` in `d`'s row; a walk longer than the network is
/// a loop.
fn loops(row: &[u16], from: u32, d: u32) -> bool {
    let mut at = from;
    let mut steps = 0;
    while at != d {
        match (row[at as usize] as u32).checked_sub(1) {
            Some(n) => at = n,
            None => return false,
        }
        steps += 1;
        if steps > row.len() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(at: u32, d: u32, hop: Option<u32>) -> Change {
        Change { d, at, hop }
    }

    /// Applies the changes one at a time, as the simulator did before batching them.
    fn one_by_one(m: &mut NextHops, changes: &[Change], comp: &[usize]) -> Tally {
        changes
            .iter()
            .map(|&c| m.apply(&mut vec![c], comp))
            .fold(Tally::default(), |a, b| a + b)
    }

    #[test]
    fn a_loop_is_found_when_the_change_that_closes_it_is_applied() {
        let comp = vec![0; 4];
        let mut m = NextHops::new(4);
        // 1 → 2 → 3 (the destination), then 2 turns back to 1: a loop; then 2 goes to 3 again.
        let t = m.apply(
            &mut vec![
                change(1, 3, Some(2)),
                change(2, 3, Some(3)),
                change(2, 3, Some(1)),
                change(2, 3, Some(3)),
            ],
            &comp,
        );
        assert_eq!(t.loops, 1);
        assert_eq!(t.checks, 4);
        assert_eq!(t.selected, 2);
        assert_eq!(m.get(2, 3), Some(3));
    }

    #[test]
    fn a_batch_counts_what_one_change_at_a_time_counts() {
        // Many destinations, changes interleaved between them, some closing loops, some
        // removing routes, some towards another component: the batch (on the pool, past
        // PARALLEL_FROM) and the one-at-a-time replay must agree on every count and cell.
        let n = 64u32;
        let comp: Vec<usize> = (0..n as usize).map(|i| (i >= 60) as usize).collect();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let changes: Vec<Change> = (0..4000)
            .map(|_| {
                let d = (next() % n as u64) as u32;
                let at = (next() % n as u64) as u32;
                let hop = (next() % 5 != 0).then(|| (next() % n as u64) as u32);
                change(at, d, hop)
            })
            .filter(|c| c.at != c.d)
            .collect();
        let mut batched = NextHops::new(n as usize);
        let mut single = NextHops::new(n as usize);
        let a = batched.apply(&mut changes.clone(), &comp);
        let b = one_by_one(&mut single, &changes, &comp);
        assert_eq!(a, b);
        assert!(
            a.loops > 0 && a.stale != 0,
            "the test exercises loops and stale routes"
        );
        assert_eq!(batched.hops, single.hops);
    }
}
