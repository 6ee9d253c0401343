//! Trace probes: the end-to-end payloads behind `hypha trace`.
//!
//! A probe is a routed packet of kind [`PayloadKind::Probe`] sent with a small hop limit and
//! the [`FLAG_PROBE`] header flag. A relay that would drop it for its hop limit instead
//! answers the sender with a [`ProbeReplyRepr`] (`reached = false`); the destination answers
//! with `reached = true`. Both name the probe by the routed header's counter, which the
//! sender knows and relays can read (it is in the clear, as associated data), so relays never
//! need to open the probe.
//!
//! ```text
//! probe:        (empty)
//! probe reply:  counter u64 | reached u8 (0|1)
//! ```
//!
//! [`PayloadKind::Probe`]: super::routed::PayloadKind::Probe

use super::{Reader, WireError};

/// Routed-header flag: answer when the hop limit runs out (set by the sender of a probe; not
/// authenticated, so a relay's answer is rate-limited and only ever goes to the claimed
/// sender, sealed end to end).
pub const FLAG_PROBE: u8 = 0x01;
/// Length of a probe reply.
pub const REPLY_LEN: usize = 9;

/// A relay's or the destination's answer to a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeReplyRepr {
    /// The probe's routed-header counter.
    pub counter: u64,
    /// Whether the answer comes from the destination (else from a relay on the way).
    pub reached: bool,
}

impl ProbeReplyRepr {
    /// Parses a reply.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let counter = r.u64()?;
        let reached = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(WireError::Malformed("probe reply flag")),
        };
        r.finish()?;
        Ok(ProbeReplyRepr { counter, reached })
    }

    /// Appends the reply.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.counter.to_be_bytes());
        out.push(self.reached as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let r = ProbeReplyRepr {
            counter: 0x0102_0304_0506_0708,
            reached: true,
        };
        let mut b = Vec::new();
        r.emit(&mut b);
        assert_eq!(b.len(), REPLY_LEN);
        assert_eq!(ProbeReplyRepr::parse(&b), Ok(r));
        assert!(ProbeReplyRepr::parse(&b[..8]).is_err());
        b[8] = 2;
        assert!(ProbeReplyRepr::parse(&b).is_err());
        b[8] = 0;
        b.push(0);
        assert!(ProbeReplyRepr::parse(&b).is_err());
    }
}
