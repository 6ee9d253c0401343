//! The service loop's one timer: the earliest of the core's deadline and the daemon's chores.
//!
//! On Linux it is a timerfd. tokio's timer wheel keeps a deadline more than 64 ms away in a
//! coarser slot and wakes the runtime at that slot's start to move it on, then sleeps again
//! until the deadline itself: every such deadline cost an idle daemon two wake-ups instead of
//! one (seen with strace as an `epoll_wait` of ~114 ms followed by one of ~12 ms). A timerfd
//! fires once, at the deadline. Elsewhere tokio's sleep serves.

use tokio::time::Instant;

#[cfg(target_os = "linux")]
pub(super) use linux::LoopTimer;
#[cfg(not(target_os = "linux"))]
pub(super) use other::LoopTimer;

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, RawFd};

    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    use super::Instant;

    /// nix's timerfd lends its fd (`AsFd`); tokio's reactor wants a raw one.
    struct Fd(TimerFd);

    impl AsRawFd for Fd {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_fd().as_raw_fd()
        }
    }

    /// A one-shot timerfd on the monotonic clock, read through tokio's reactor.
    pub(in crate::service) struct LoopTimer {
        fd: AsyncFd<Fd>,
        armed: Option<Instant>,
    }

    impl LoopTimer {
        /// A timer not yet set.
        #[allow(unsafe_code)]
        pub(in crate::service) fn new() -> io::Result<LoopTimer> {
            let t = TimerFd::new(
                ClockId::CLOCK_MONOTONIC,
                TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
            )?;
            Ok(LoopTimer {
                // SAFETY: `Fd` owns the timerfd, which stays open, and gives its one fd,
                // until the `AsyncFd` is dropped.
                fd: unsafe { AsyncFd::register_with_interest(Fd(t), Interest::READABLE) }
                    .map_err(io::Error::from)?,
                armed: None,
            })
        }

        /// Fires at `deadline` (at once if it has passed). A syscall only when it changes.
        pub(in crate::service) fn set(&mut self, deadline: Instant) {
            if self.armed == Some(deadline) {
                return;
            }
            // Relative to now: std's Instant is CLOCK_MONOTONIC but does not expose its value.
            // A zero time would disarm the timer, so a deadline already passed gets 1 ns.
            let d = deadline
                .saturating_duration_since(Instant::now())
                .max(std::time::Duration::from_nanos(1));
            match self.fd.get_ref().0.set(
                Expiration::OneShot(TimeSpec::from_duration(d)),
                TimerSetTimeFlags::empty(),
            ) {
                Ok(()) => self.armed = Some(deadline),
                // Cannot happen with a valid fd and time; if it did, the loop would still
                // wake for its sockets, and the next turn tries again.
                Err(e) => {
                    tracing::warn!("loop timer: {e}");
                    self.armed = None;
                }
            }
        }

        /// Waits until the deadline set last has passed. Cancel-safe: nothing is consumed
        /// unless it returns.
        pub(in crate::service) async fn wait(&mut self) {
            loop {
                let Ok(mut guard) = self.fd.readable().await else {
                    return std::future::pending().await;
                };
                let mut ticks = [0u8; 8];
                match nix::unistd::read(self.fd.get_ref().0.as_fd(), &mut ticks) {
                    Ok(_) => {
                        self.armed = None;
                        return;
                    }
                    // Readiness left over from a time since re-set.
                    Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
                    Err(e) => {
                        tracing::warn!("loop timer: {e}");
                        guard.clear_ready();
                    }
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod other {
    use std::io;
    use std::pin::Pin;

    use tokio::time::Sleep;

    use super::Instant;

    /// tokio's sleep, moved rather than re-created each turn of the loop.
    pub(in crate::service) struct LoopTimer(Pin<Box<Sleep>>);

    impl LoopTimer {
        /// A timer not yet set (it would fire at once).
        pub(in crate::service) fn new() -> io::Result<LoopTimer> {
            Ok(LoopTimer(Box::pin(
                tokio::time::sleep_until(Instant::now()),
            )))
        }

        /// Fires at `deadline`.
        pub(in crate::service) fn set(&mut self, deadline: Instant) {
            if self.0.deadline() != deadline {
                self.0.as_mut().reset(deadline);
            }
        }

        /// Waits until the deadline set last has passed.
        pub(in crate::service) async fn wait(&mut self) {
            self.0.as_mut().await
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn fires_at_the_latest_deadline_set() {
        let mut t = LoopTimer::new().unwrap();
        let t0 = Instant::now();
        t.set(t0 + Duration::from_secs(3600));
        // Moved earlier before it fired: the later time is forgotten.
        t.set(t0 + Duration::from_millis(30));
        t.wait().await;
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(30), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        // A deadline already passed fires at once.
        t.set(t0);
        tokio::time::timeout(Duration::from_secs(5), t.wait())
            .await
            .expect("a past deadline fires");
        // Moved later: it does not fire at the earlier time.
        let t1 = Instant::now();
        t.set(t1 + Duration::from_millis(20));
        t.set(t1 + Duration::from_millis(200));
        t.wait().await;
        assert!(t1.elapsed() >= Duration::from_millis(200));
    }
}
