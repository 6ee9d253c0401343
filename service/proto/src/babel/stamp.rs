//! Deadlines kept in a few bits: [`Stamp`] (the routing state's per-destination deadlines)
//! and [`Expiry`] (a learnt route's), both compared with wrap-around arithmetic and swept by
//! housekeeping long before they could wrap.

use std::num::NonZeroU16;
use std::time::Duration;

use crate::time::Timestamp;

/// A point in time to the centisecond in 16 bits, for the deadlines every route keeps (seconds
/// to three minutes ahead): a quarter of the size of a [`Timestamp`], compared with
/// wrap-around arithmetic, so valid within ±327 seconds of now. Every holder forgets its
/// stamps within [`STAMP_HORIZON`] (housekeeping sweeps them each second), so none lives long
/// enough to be taken for its wrapped-around twin. Never zero, so that an `Option<Stamp>`
/// takes no more room than a stamp (the one centisecond in 2^16 that would be zero counts as
/// the next one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(NonZeroU16);

/// How far ahead of now or behind it a [`Stamp`] may lie and still compare right.
pub const STAMP_HORIZON: Duration = Duration::from_millis(327_670);

/// The furthest ahead a deadline kept as a [`Stamp`] is set (longer configured times are cut
/// to it), leaving the sweeps [`STAMP_HORIZON`] minus this to forget it once it has passed.
pub const MAX_AHEAD: Duration = Duration::from_secs(300);

impl Stamp {
    /// `t`, to the centisecond below.
    pub fn of(t: Timestamp) -> Stamp {
        // Truncating to 16 bits is the wrap-around.
        Stamp(NonZeroU16::new((t.as_micros() / 10_000) as u16).unwrap_or(NonZeroU16::MIN))
    }

    /// `d` after `now`, but at most [`MAX_AHEAD`]: the deadline a configured time gives.
    pub fn ahead(now: Timestamp, d: Duration) -> Stamp {
        Stamp::of(now + d.min(MAX_AHEAD))
    }

    /// True once `now` is at or past this stamp.
    pub fn reached(self, now: Timestamp) -> bool {
        Stamp::of(now).0.get().wrapping_sub(self.0.get()) < 1 << 15
    }

    /// Time from this stamp to `now` (zero if `now` is before it).
    pub fn elapsed(self, now: Timestamp) -> Duration {
        let d = Stamp::of(now).0.get().wrapping_sub(self.0.get());
        if d < 1 << 15 {
            Duration::from_millis(d as u64 * 10)
        } else {
            Duration::ZERO
        }
    }
}

/// A deadline to a fifth of a second in 15 bits, for when a route expires (at most minutes
/// ahead): compared with wrap-around arithmetic, so valid within ±54 minutes of now. Expired
/// routes are removed within a second by housekeeping, long before a stamp could wrap round.
/// (15 bits, not 16: a route's place in a row keeps one more bit beside it; see
/// [`super::prefix::Place`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry(pub(super) u16);

impl Expiry {
    /// Longest lifetime an expiry can hold (beyond it, comparisons would wrap).
    pub const MAX: Duration = Duration::from_secs(3000);

    /// `t`, to the fifth of a second below.
    pub fn of(t: Timestamp) -> Expiry {
        // Truncating to 15 bits is the wrap-around.
        Expiry((t.as_micros() / 200_000) as u16 & 0x7fff)
    }

    /// True once `now` is at or past this deadline.
    pub fn reached(self, now: Timestamp) -> bool {
        Expiry::of(now).0.wrapping_sub(self.0) & 0x7fff < 1 << 14
    }

    /// The 15 bits.
    pub(super) fn bits(self) -> u16 {
        self.0
    }

    /// From [`Expiry::bits`].
    pub(super) fn from_bits(b: u16) -> Expiry {
        Expiry(b & 0x7fff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_wrap_around() {
        let t = Timestamp::from_micros(5_000_000);
        let s = Stamp::of(t);
        assert!(s.reached(t));
        assert!(!s.reached(Timestamp::from_micros(4_990_000)));
        assert_eq!(
            s.elapsed(t + Duration::from_millis(730)),
            Duration::from_millis(730)
        );
        assert_eq!(s.elapsed(Timestamp::ZERO), Duration::ZERO);
        // 2^16 centiseconds (655 s) later the counter has wrapped; comparisons still hold,
        // as far ahead as a deadline is ever set.
        for wraps in [1u64, 7, 1 << 20] {
            let late = Timestamp::from_micros(wraps * (1 << 16) * 10_000 + 123_000_000);
            let d = Stamp::of(late + MAX_AHEAD);
            assert!(!d.reached(late));
            assert!(!d.reached(late + (MAX_AHEAD - Duration::from_millis(10))));
            assert!(d.reached(late + MAX_AHEAD));
            assert!(d.reached(late + STAMP_HORIZON));
            assert_eq!(
                Stamp::of(late).elapsed(late + MAX_AHEAD),
                MAX_AHEAD,
                "a stamp ages right up to the horizon"
            );
        }
    }

    #[test]
    fn expiries_wrap_around() {
        let t = Timestamp::from_micros(7_000_000);
        let e = Expiry::of(t + Duration::from_secs(112));
        assert!(!e.reached(t));
        assert!(!e.reached(t + Duration::from_millis(111_900)));
        assert!(e.reached(t + Duration::from_secs(112)));
        assert!(e.reached(t + Duration::from_secs(113)));
        // 2^15 fifths of a second (109 minutes) later the counter has wrapped; still right.
        let late = t + Duration::from_secs(6553) + Duration::from_millis(600);
        let e = Expiry::of(late + Expiry::MAX);
        assert!(!e.reached(late));
        assert!(e.reached(late + Expiry::MAX));
    }
}
