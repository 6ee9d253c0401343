//! Time as an input: the core never reads a clock.
//!
//! The daemon maps its monotonic clock onto [`Timestamp`]; the simulator runs a virtual one.
//! Using our own type (rather than `std::time::Instant`) lets the simulator start at zero and
//! makes every run byte-for-byte reproducible.

use core::ops::{Add, Sub};
use std::time::Duration;

/// A point in time, in microseconds since an epoch the caller chooses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch itself.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Timestamp(micros)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time elapsed since `earlier`, or zero if `earlier` is in the future.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }

    /// `d` before this timestamp, or the epoch.
    pub fn saturating_sub(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(d.as_micros() as u64))
    }

    /// The low 32 bits of the microsecond count, as carried in hellos for RTT measurement
    /// (wraps every ~71 minutes; only differences are ever used).
    pub const fn wire_micros(self) -> u32 {
        self.0 as u32
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(rhs.as_micros() as u64))
    }
}

impl Sub<Timestamp> for Timestamp {
    type Output = Duration;
    fn sub(self, rhs: Timestamp) -> Duration {
        self.saturating_since(rhs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_micros(1_000);
        assert_eq!(t + Duration::from_millis(1), Timestamp::from_micros(2_000));
        assert_eq!(Timestamp::ZERO - t, Duration::ZERO);
        assert_eq!(t - Timestamp::ZERO, Duration::from_millis(1));
    }
}
