//! Keeping queues from holding on to a burst's room.
//!
//! A node's outgoing queues fill in bursts (a full routing dump, a flush after a topology
//! change) and are drained at once. Left alone, each keeps the capacity of the largest burst it
//! ever held: a thousand simulated nodes held about 15 MB that way at the busiest moment, all
//! of it empty.

use std::collections::VecDeque;

/// Entries an empty queue keeps room for.
pub const SPARE: usize = 16;

/// A queue whose room can be given back.
pub trait Room {
    /// Entries held.
    fn len(&self) -> usize;
    /// Entries there is room for.
    fn capacity(&self) -> usize;
    /// Gives back room beyond `n` entries (or beyond what is held).
    fn shrink_to(&mut self, n: usize);
}

impl<T> Room for Vec<T> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn capacity(&self) -> usize {
        Vec::capacity(self)
    }
    fn shrink_to(&mut self, n: usize) {
        Vec::shrink_to(self, n)
    }
}

impl<T> Room for VecDeque<T> {
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
    fn capacity(&self) -> usize {
        VecDeque::capacity(self)
    }
    fn shrink_to(&mut self, n: usize) {
        VecDeque::shrink_to(self, n)
    }
}

/// Gives back the room of an empty queue beyond [`SPARE`] entries (a burst's worth of
/// reallocation is cheap beside the burst itself).
pub fn shrink_idle(q: &mut impl Room) {
    if q.len() == 0 && q.capacity() > 4 * SPARE {
        q.shrink_to(SPARE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_empty_queue_gives_its_room_back() {
        let mut q: VecDeque<u32> = (0..1000).collect();
        shrink_idle(&mut q);
        assert!(q.capacity() >= 1000, "a queue in use keeps its room");
        q.clear();
        shrink_idle(&mut q);
        assert!(q.capacity() >= SPARE && q.capacity() < 4 * SPARE);
        let mut small: VecDeque<u32> = VecDeque::with_capacity(3 * SPARE);
        let before = small.capacity();
        shrink_idle(&mut small);
        assert_eq!(small.capacity(), before, "a modest queue is left alone");
    }
}
