//! The uplink's capacity, estimated from what the node sends, so that "share 30 %" means
//! something without the owner typing their uplink speed.
//!
//! Once a second the owner reports the node's egress on the underlay (all links, every kind
//! of traffic). The estimate is the highest rate sustained for [`SUSTAIN`] seconds in a row:
//! a saturated uplink shows as a plateau at its capacity, a burst does not count. It only
//! rises, so it can be low but is never above what the uplink has carried.
//!
//! A low estimate would hold transit below what the owner meant to share, and with transit
//! capped nothing but the owner's own traffic could show more capacity. So while a share
//! limit is in force, every [`PROBE_EVERY`] the limit is lifted for [`PROBE_FOR`] (only when
//! the owner's own traffic is idle, so it never competes with them) and whatever transit is
//! waiting shows what the uplink carries.

use std::time::Duration;

use crate::time::Timestamp;

/// Seconds a rate must hold to count.
pub const SUSTAIN: usize = 3;
/// Below this nothing is known: the node has not sent enough to tell.
pub const MIN_ESTIMATE_BPS: u64 = 1_000_000;
/// How often a share limit based on the estimate is lifted to look for more capacity.
pub const PROBE_EVERY: Duration = Duration::from_secs(600);
/// How long it is lifted (more than [`SUSTAIN`] seconds, so that a plateau can register).
pub const PROBE_FOR: Duration = Duration::from_secs(5);

/// See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct UplinkEstimator {
    /// The last per-second egress rates, bits per second, newest last.
    recent: Vec<u64>,
    peak_bps: u64,
    probe_until: Option<Timestamp>,
    next_probe: Option<Timestamp>,
}

impl UplinkEstimator {
    /// A new estimator: nothing known.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one second's figures: all egress and the node's own part of it (bits per
    /// second), and whether transit is held by a limit derived from the estimate.
    pub fn sample(&mut self, now: Timestamp, egress_bps: u64, own_bps: u64, limited: bool) {
        self.recent.push(egress_bps);
        if self.recent.len() > SUSTAIN {
            self.recent.remove(0);
        }
        if self.recent.len() == SUSTAIN {
            let sustained = self.recent.iter().copied().min().unwrap_or(0);
            self.peak_bps = self.peak_bps.max(sustained);
        }
        if let Some(until) = self.probe_until {
            if now >= until {
                self.probe_until = None;
            }
            return;
        }
        let Some(estimate) = self.estimate_bps() else {
            return;
        };
        if !limited {
            self.next_probe = None;
            return;
        }
        let next = *self.next_probe.get_or_insert(now + PROBE_EVERY);
        if now >= next && own_bps < estimate / 10 {
            self.probe_until = Some(now + PROBE_FOR);
            self.next_probe = Some(now + PROBE_EVERY);
        }
    }

    /// The capacity, bits per second, once the node has sustained at least
    /// [`MIN_ESTIMATE_BPS`].
    pub fn estimate_bps(&self) -> Option<u64> {
        (self.peak_bps >= MIN_ESTIMATE_BPS).then_some(self.peak_bps)
    }

    /// Whether the share limit is lifted now to look for more capacity.
    pub fn probing(&self) -> bool {
        self.probe_until.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> Timestamp {
        Timestamp::from_micros(s * 1_000_000)
    }

    #[test]
    fn a_plateau_counts_a_burst_does_not() {
        let mut u = UplinkEstimator::new();
        let mut t = 0;
        let mut feed = |u: &mut UplinkEstimator, rates: &[u64]| {
            for &r in rates {
                t += 1;
                u.sample(at(t), r, r, false);
            }
        };
        feed(&mut u, &[200_000, 300_000, 250_000]);
        assert_eq!(u.estimate_bps(), None, "too little to tell");
        // One second at 90 Mbit/s between quiet ones: a burst.
        feed(&mut u, &[1_000_000, 90_000_000, 2_000_000, 1_500_000]);
        assert_eq!(u.estimate_bps(), Some(1_500_000));
        // Three seconds at ~50: the plateau.
        feed(&mut u, &[49_000_000, 51_000_000, 50_000_000, 3_000_000]);
        assert_eq!(u.estimate_bps(), Some(49_000_000));
        // It never falls.
        feed(&mut u, &[0; 10]);
        assert_eq!(u.estimate_bps(), Some(49_000_000));
    }

    #[test]
    fn a_held_limit_is_lifted_now_and_then_when_the_owner_is_idle() {
        let mut u = UplinkEstimator::new();
        for s in 1..=3 {
            u.sample(at(s), 10_000_000, 10_000_000, false);
        }
        assert_eq!(u.estimate_bps(), Some(10_000_000));
        let first = PROBE_EVERY.as_secs();
        let (mut probes, mut was) = (Vec::new(), false);
        for s in 4..4 + 3 * first {
            // The owner is busy for the first probe's moment: it waits.
            let own = if s == 4 + first { 5_000_000 } else { 0 };
            u.sample(at(s), 3_000_000, own, true);
            if u.probing() && !was {
                probes.push(s);
            }
            was = u.probing();
        }
        assert_eq!(probes.len(), 2, "{probes:?}");
        assert_eq!(
            probes[0],
            5 + first,
            "the first waited a second for the owner"
        );
        // While lifted, transit found more room: the estimate follows.
        let p = probes[1];
        for s in p..p + 6 {
            u.sample(at(s), 40_000_000, 0, true);
        }
        assert_eq!(u.estimate_bps(), Some(40_000_000));
        assert!(!u.probing(), "a probe ends after {PROBE_FOR:?}");
    }
}
