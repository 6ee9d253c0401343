//! Sliding replay window over 64-bit counters (RFC 6479's bitmap, as WireGuard uses).
//!
//! `check` runs before decryption (cheap rejection), `mark` only after the AEAD accepted the
//! frame, so forged frames cannot move the window.

const WORDS: usize = 32;
/// How far behind the highest counter seen a frame may arrive and still be accepted.
pub const WINDOW: u64 = ((WORDS - 1) * 64) as u64;

/// Replay state for one receiving direction.
#[derive(Clone, Debug, Default)]
pub struct ReplayWindow {
    highest: u64,
    seen_any: bool,
    bits: [u64; WORDS],
}

impl ReplayWindow {
    /// A fresh window.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when `counter` is new and inside the window.
    pub fn check(&self, counter: u64) -> bool {
        if !self.seen_any || counter > self.highest {
            return true;
        }
        if self.highest - counter > WINDOW {
            return false;
        }
        let word = self.bits[((counter >> 6) as usize) % WORDS];
        word & (1 << (counter & 63)) == 0
    }

    /// Records `counter` as received. Call only after `check` passed and the frame
    /// authenticated.
    pub fn mark(&mut self, counter: u64) {
        if !self.seen_any || counter > self.highest {
            let cur = counter >> 6;
            if self.seen_any {
                let old = self.highest >> 6;
                let diff = (cur - old).min(WORDS as u64);
                for i in 1..=diff {
                    self.bits[((old + i) as usize) % WORDS] = 0;
                }
            } else {
                self.bits = [0; WORDS];
            }
            self.highest = counter;
            self.seen_any = true;
        }
        self.bits[((counter >> 6) as usize) % WORDS] |= 1 << (counter & 63);
    }

    /// `check` then `mark`, for callers that have already authenticated.
    pub fn accept(&mut self, counter: u64) -> bool {
        let ok = self.check(counter);
        if ok {
            self.mark(counter);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_old_rejected_reorder_accepted() {
        let mut w = ReplayWindow::new();
        assert!(w.accept(0));
        assert!(!w.accept(0));
        assert!(w.accept(5));
        assert!(w.accept(3));
        assert!(!w.accept(3));
        assert!(w.accept(5000));
        assert!(!w.accept(5000 - WINDOW - 1));
        assert!(w.accept(5000 - WINDOW + 1));
        assert!(w.accept(4999));
        assert!(!w.accept(5));
    }

    #[test]
    fn big_jump_clears_bitmap() {
        let mut w = ReplayWindow::new();
        for c in 0..100 {
            assert!(w.accept(c));
        }
        assert!(w.accept(1_000_000));
        // Counters that alias old bit positions must not be seen as duplicates.
        assert!(w.accept(1_000_000 - 64));
    }
}
