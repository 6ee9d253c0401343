//! Keeping queues from holding on to a burst's room.
//!
//! A node's outgoing queues fill in bursts (a full routing dump, a flush after a topology
//! change) and are drained at once. Left alone, each keeps the capacity of the largest burst it
//! ever held: a thousand simulated nodes held about 15 MB that way at the busiest moment, all
//! of it empty.

use std::collections::VecDeque;

/// Entries an empty queue keeps room for.
pub const SPARE: usize = 16;

/// Gives back the room of an empty queue beyond [`SPARE`] entries (a burst's worth of
/// reallocation is cheap beside the burst itself).
pub fn shrink_idle<T>(q: &mut VecDeque<T>) {
    if q.is_empty() && q.capacity() > 4 * SPARE {
        q.shrink_to(SPARE);
    }
}
