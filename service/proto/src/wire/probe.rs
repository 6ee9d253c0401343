//! Trace probes: what `hypha trace` sends and what comes back.
//!
//! A probe is a routed packet of type 4 ([`super::routed::TYPE_PROBE`]) sent with a small hop
//! limit. It is not encrypted: it carries its sender's node id and an id in the clear, so a
//! relay that would drop it for its hop limit can answer the sender with a
//! [`ProbeReplyRepr`] (`reached = false`), sealed end to end; the destination answers with
//! `reached = true`. Anyone can send a probe naming someone else as its sender, so every node
//! answers at most 20 probes per second.
//!
//! ```text
//! probe reply:  probe id u64 | reached u8 (0|1)
//! ```

use super::{Reader, WireError};

/// Length of a probe reply.
pub const REPLY_LEN: usize = 9;

/// A relay's or the destination's answer to a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeReplyRepr {
    /// The probe's id.
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
