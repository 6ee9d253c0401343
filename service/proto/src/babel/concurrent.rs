//! Append-only storage and a hash index that many threads read without taking a lock, for the
//! facts every node of a simulated world shares ([`super::origin::SharedOrigins`]).
//!
//! Readers only load (acquire): no read-modify-write, so two threads reading the same router
//! id do not pass a cache line back and forth the way a reader-writer lock's counter does
//! (every update a node sends or receives reads here two or three times; 3000 simulated nodes
//! took 48.2–48.4 s against 48.6–51.0 behind `RwLock`s, alternating runs). Writers take a
//! mutex; they are rare once a world's router ids and signatures are known.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Entries in the first segment; segment `k` holds `FIRST << k`.
const FIRST: usize = 32;
/// Segments: room for `FIRST * (2^SEGMENTS - 1)` entries (about 4 billion), more than a
/// `u32` index names.
const SEGMENTS: usize = 27;

/// A vector that only grows and never moves what it holds: entries can be read by index
/// while another thread appends.
pub struct AppendOnly<T> {
    segments: [OnceLock<Box<[OnceLock<T>]>>; SEGMENTS],
    len: Mutex<usize>,
}

impl<T> Default for AppendOnly<T> {
    fn default() -> Self {
        AppendOnly {
            segments: std::array::from_fn(|_| OnceLock::new()),
            len: Mutex::new(0),
        }
    }
}

/// Segment and offset of index `i`.
fn place(i: usize) -> (usize, usize) {
    let j = i + FIRST;
    let k = (usize::BITS - 1 - j.leading_zeros()) as usize - FIRST.trailing_zeros() as usize;
    (k, j - (FIRST << k))
}

impl<T> AppendOnly<T> {
    /// The entry at `i`, once its push has completed.
    pub fn get(&self, i: usize) -> Option<&T> {
        let (k, off) = place(i);
        self.segments.get(k)?.get()?.get(off)?.get()
    }

    /// Appends `v`; returns its index.
    pub fn push(&self, v: T) -> usize {
        let mut len = self.len.lock().unwrap_or_else(|e| e.into_inner());
        let i = *len;
        let (k, off) = place(i);
        let seg =
            self.segments[k].get_or_init(|| (0..FIRST << k).map(|_| OnceLock::new()).collect());
        // Only this push, under the lock, sets slot `i`.
        let _ = seg[off].set(v);
        *len += 1;
        i
    }

    /// Entries pushed so far.
    pub fn len(&self) -> usize {
        *self.len.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes of the segments allocated so far.
    pub fn bytes(&self) -> usize {
        self.segments
            .iter()
            .filter_map(OnceLock::get)
            .map(|s| s.len() * core::mem::size_of::<OnceLock<T>>())
            .sum()
    }
}

/// One open-addressing table of a [`ConcurrentIndex`]: entry index + 1 per bucket, 0 empty.
struct Buckets(Box<[AtomicU32]>);

impl Buckets {
    fn with_capacity(n: usize) -> Self {
        Buckets((0..n).map(|_| AtomicU32::new(0)).collect())
    }

    fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.0.len() - 1;
        let mut pos = hash as usize & mask;
        loop {
            match self.0[pos].load(Ordering::Acquire) {
                0 => return None,
                v if eq(v - 1) => return Some(v - 1),
                _ => pos = (pos + 1) & mask,
            }
        }
    }

    /// Only under the index's writer lock, and only for an index not yet in the table.
    fn put(&self, hash: u64, i: u32) {
        let mask = self.0.len() - 1;
        let mut pos = hash as usize & mask;
        while self.0[pos].load(Ordering::Relaxed) != 0 {
            pos = (pos + 1) & mask;
        }
        self.0[pos].store(i + 1, Ordering::Release);
    }
}

/// A hash index over entries kept elsewhere (by their `u32` index), readable without a lock
/// while one writer at a time adds to it. It grows by publishing a table twice the size; the
/// smaller ones stay allocated (together no larger than the newest), since a reader may still
/// be probing one.
pub struct ConcurrentIndex {
    tables: [OnceLock<Buckets>; 32],
    current: AtomicUsize,
    /// Entries in the current table, and the writers' lock.
    writer: Mutex<usize>,
}

impl Default for ConcurrentIndex {
    fn default() -> Self {
        ConcurrentIndex {
            tables: std::array::from_fn(|_| OnceLock::new()),
            current: AtomicUsize::new(0),
            writer: Mutex::new(0),
        }
    }
}

/// Buckets of the first table.
const FIRST_BUCKETS: usize = 64;

impl ConcurrentIndex {
    /// The entry whose hash is `hash` and for which `eq` holds, if one was added (a reader may
    /// miss one being added at that very moment, never one added before it began).
    pub fn find(&self, hash: u64, eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let t = self.tables[self.current.load(Ordering::Acquire)].get()?;
        t.find(hash, eq)
    }

    /// Finds the entry as [`Self::find`] does or, holding the writers' lock, makes it with
    /// `make` (which stores it where `eq` and `hash_at` can see it, and returns its index) and
    /// adds it. `hash_at` gives any added entry's hash, to grow the table.
    pub fn find_or_insert(
        &self,
        hash: u64,
        mut eq: impl FnMut(u32) -> bool,
        make: impl FnOnce() -> Option<u32>,
        hash_at: impl Fn(u32) -> u64,
    ) -> Option<u32> {
        if let Some(i) = self.find(hash, &mut eq) {
            return Some(i);
        }
        let mut n = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // Again under the lock: another writer may have added it since.
        if let Some(i) = self.find(hash, &mut eq) {
            return Some(i);
        }
        let i = make()?;
        let g = self.current.load(Ordering::Relaxed);
        let cap = self.tables[g].get().map_or(0, |t| t.0.len());
        // At most half full, so that probes stay short.
        if (*n + 1) * 2 > cap {
            let next = Buckets::with_capacity((cap * 2).max(FIRST_BUCKETS));
            if let Some(old) = self.tables[g].get() {
                for v in old
                    .0
                    .iter()
                    .map(|b| b.load(Ordering::Relaxed))
                    .filter(|&v| v != 0)
                {
                    next.put(hash_at(v - 1), v - 1);
                }
            }
            let g2 = if self.tables[g].get().is_some() {
                g + 1
            } else {
                g
            };
            // Fully built before it is published.
            let _ = self.tables[g2].set(next);
            self.current.store(g2, Ordering::Release);
        }
        let t = self.tables[self.current.load(Ordering::Relaxed)]
            .get()
            .expect("made above");
        t.put(hash, i);
        *n += 1;
        Some(i)
    }

    /// Entries added.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        *self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when nothing was added.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of every table allocated so far.
    pub fn bytes(&self) -> usize {
        self.tables
            .iter()
            .filter_map(OnceLock::get)
            .map(|t| t.0.len() * 4)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn places_cover_every_index_once_in_order() {
        let mut expect = (0, 0);
        for i in 0..100_000 {
            assert_eq!(place(i), expect, "index {i}");
            expect.1 += 1;
            if expect.1 == FIRST << expect.0 {
                expect = (expect.0 + 1, 0);
            }
        }
    }

    #[test]
    fn entries_keep_their_place_while_the_store_grows() {
        let s = AppendOnly::default();
        for i in 0..5000u32 {
            assert_eq!(s.push(i * 3), i as usize);
        }
        assert_eq!(s.len(), 5000);
        assert!((0..5000).all(|i| s.get(i) == Some(&(i as u32 * 3))));
        assert_eq!(s.get(5000), None);
    }

    #[test]
    fn threads_find_what_any_of_them_added() {
        // Keys hashed badly on purpose (many share a hash) so that probing is exercised.
        let store = Arc::new(AppendOnly::<u64>::default());
        let index = Arc::new(ConcurrentIndex::default());
        let hash = |k: u64| k % 97;
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let (store, index) = (store.clone(), index.clone());
                std::thread::spawn(move || {
                    for k in 0..3000u64 {
                        // Every thread adds the same keys, in different orders.
                        let key = (k * 7 + t * 1000) % 3000;
                        let i = index
                            .find_or_insert(
                                hash(key),
                                |i| store.get(i as usize) == Some(&key),
                                || Some(store.push(key) as u32),
                                |i| hash(*store.get(i as usize).expect("added")),
                            )
                            .expect("made");
                        assert_eq!(store.get(i as usize), Some(&key));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no panic");
        }
        // Each key added once, whichever thread came first.
        assert_eq!(index.len(), 3000);
        assert_eq!(store.len(), 3000);
        for key in 0..3000u64 {
            let i = index
                .find(hash(key), |i| store.get(i as usize) == Some(&key))
                .expect("found");
            assert_eq!(store.get(i as usize), Some(&key));
        }
        assert_eq!(
            index.find(hash(5000), |i| store.get(i as usize) == Some(&5000)),
            None
        );
    }

    #[test]
    fn a_refused_entry_is_not_added() {
        let index = ConcurrentIndex::default();
        assert_eq!(index.find_or_insert(1, |_| false, || None, |_| 1), None);
        assert!(index.is_empty());
    }
}
