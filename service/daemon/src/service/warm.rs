//! Keeps the loop from sleeping long while packets flow: a loop that has turned recently
//! handles the next packet sooner.
//!
//! On the VM this was measured on, a daemon that slept 50 ms between pings answered each
//! one ~0.15 ms later than one that had woken, for nothing, within the last 20–40 ms: an
//! overlay ping wakes three daemons' loops in turn, each paying for a cold start. A
//! machine-wide cause was ruled out (another process waking every 20 ms changed nothing): the
//! daemon's own loop must have turned recently, which points at its code and data staying
//! in the CPU's caches (not proven further). When the daemon's chores ran on tokio intervals
//! of their own (44 wake-ups a second when idle), the loop was warm by accident; once they
//! rode on one schedule (15 a second), the ping across one hop went from ~0.24 to ~0.39 ms
//! above the underlay's.
//!
//! So for [`LINGER`] after the last data packet the loop sleeps at most a [`GAP`] (at least
//! half of one: see [`Warmth::wake_by`]). An idle mesh carries no data packets and keeps its
//! 15 wake-ups a second. A sparse flow pays for it (`PING=0.05 bench/idle-wakeups.sh`, a
//! ping every 50 ms over one hop): daemon a woke 135 times a second instead of 44–46 and
//! each daemon used 0.8–1.1 % of a core instead of 0.4–0.6 %, for a ping RTT of 0.27–0.31 ms
//! instead of 0.38–0.44 (veth alone: 0.045). Gaps of 5, 10, 20 and 40 ms gave 0.21–0.24,
//! 0.22–0.26, 0.30 and 0.28–0.36 ms added over the veth (`bench/rtt-spacing.sh`). A busy
//! flow keeps the loop turning anyway: no difference in CPU per byte.

use std::time::Duration;

use hypha_proto::node::NodeCounters;
use tokio::time::Instant;

/// Longest the loop sleeps while warm.
pub(super) const GAP: Duration = Duration::from_millis(10);
/// How long after the last data packet the loop stays warm.
pub(super) const LINGER: Duration = Duration::from_secs(1);

/// Whether data flowed recently, and so how long the loop may sleep.
#[derive(Debug, Default)]
pub(super) struct Warmth {
    until: Option<Instant>,
    /// The wake-up time last given.
    at: Option<Instant>,
    /// Data packets the node had sent, delivered or forwarded when last counted.
    packets: u64,
}

impl Warmth {
    /// Looks at the node's data-packet counters at `now`: warm if they moved. (Counting,
    /// rather than marking reads, leaves out what the node drops: the router solicitations
    /// and MLD reports the host's stack sends to the TUN would keep an idle loop warm.)
    pub(super) fn count(&mut self, c: &NodeCounters, now: Instant) {
        let packets = c.sent_packets + c.delivered_packets + c.forwarded_packets;
        if packets != self.packets {
            self.packets = packets;
            self.traffic(now);
        }
    }

    /// A data packet came or went at `now`.
    fn traffic(&mut self, now: Instant) {
        self.until = Some(now + LINGER);
    }

    /// The latest a loop turning at `now` may sleep until, while warm: between half a
    /// [`GAP`] and a whole one from now. The time moves on only once half a gap has passed,
    /// so a loop busy with traffic re-arms its timer at most every 5 ms, not on every turn.
    pub(super) fn wake_by(&mut self, now: Instant) -> Option<Instant> {
        match self.until {
            Some(u) if now < u => {
                let at = match self.at {
                    Some(at) if at >= now + GAP / 2 => at,
                    _ => now + GAP,
                };
                self.at = Some(at);
                Some(at.min(u))
            }
            _ => {
                (self.until, self.at) = (None, None);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_data_packets_that_moved() {
        let t0 = Instant::now();
        let mut w = Warmth::default();
        let mut c = NodeCounters::default();
        w.count(&c, t0);
        assert_eq!(w.wake_by(t0), None);
        c.forwarded_packets += 1;
        w.count(&c, t0);
        assert_eq!(w.wake_by(t0), Some(t0 + GAP));
        // Nothing moved since: it cools down when the spell ends.
        w.count(&c, t0 + LINGER);
        assert_eq!(w.wake_by(t0 + LINGER), None);
    }

    #[test]
    fn warm_for_a_while_after_traffic_then_cold() {
        let t0 = Instant::now();
        let mut w = Warmth::default();
        assert_eq!(w.wake_by(t0), None, "no traffic yet");
        w.traffic(t0);
        assert_eq!(w.wake_by(t0), Some(t0 + GAP));
        // Kept while at least half a gap away, then moved on.
        let half = t0 + GAP / 2;
        assert_eq!(w.wake_by(half), Some(t0 + GAP));
        let later = half + Duration::from_micros(1);
        assert_eq!(w.wake_by(later), Some(later + GAP));
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(w.wake_by(t1), Some(t1 + GAP));
        // Never past the end of the warm spell.
        let t2 = t0 + LINGER - Duration::from_millis(3);
        assert_eq!(w.wake_by(t2), Some(t0 + LINGER));
        assert_eq!(w.wake_by(t0 + LINGER), None);
        assert_eq!(w.wake_by(t0 + LINGER * 2), None);
        // More traffic warms it again.
        let t3 = t0 + LINGER * 3;
        w.traffic(t3);
        assert_eq!(w.wake_by(t3), Some(t3 + GAP));
    }
}
