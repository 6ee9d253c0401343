//! Acknowledgment request TLV: `reserved u16 | nonce u16 | interval_cs u16` (RFC 8966 §4.6.3).
//!
//! Put at the head of a frame whose content must not wait for the next periodic dump if it is
//! lost (triggered updates, retractions, seqno requests, a new neighbour's first table): the
//! receiver answers with an [`super::AckRepr`] carrying the same nonce, and the sender sends
//! the frame's content again, as it stands then, until it does.

use crate::wire::{Reader, WireError};

/// An acknowledgment request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckRequestRepr {
    /// Echoed in the acknowledgment; the sender's own to interpret.
    pub nonce: u16,
    /// How long the sender waits before sending again, centiseconds (informative).
    pub interval_cs: u16,
}

impl AckRequestRepr {
    /// Encoded length of the body.
    pub const LEN: usize = 6;

    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let _reserved = r.u16()?;
        let a = AckRequestRepr {
            nonce: r.u16()?,
            interval_cs: r.u16()?,
        };
        if a.interval_cs == 0 {
            return Err(WireError::Malformed("ack request interval 0"));
        }
        r.finish()?;
        Ok(a)
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&self.interval_cs.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_input() {
        let a = AckRequestRepr {
            nonce: 0xbeef,
            interval_cs: 7,
        };
        let mut v = Vec::new();
        a.emit(&mut v);
        assert_eq!(v, [0, 0, 0xbe, 0xef, 0, 7]);
        assert_eq!(v.len(), AckRequestRepr::LEN);
        assert_eq!(AckRequestRepr::parse(&v), Ok(a));
        assert!(AckRequestRepr::parse(&v[..5]).is_err(), "truncated");
        assert!(
            AckRequestRepr::parse(&[0, 0, 0, 1, 0, 0]).is_err(),
            "interval 0"
        );
        assert!(
            AckRequestRepr::parse(&[0, 0, 0, 1, 0, 1, 9]).is_err(),
            "trailing byte"
        );
    }
}
