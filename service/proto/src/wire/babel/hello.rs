//! Hello TLV: `seqno u16 | interval_cs u16 | timestamp u32` (8 bytes).
//!
//! Sent on every link each hello interval. `timestamp` is the sender's clock in microseconds
//! (low 32 bits); the neighbour echoes it in its IHU so the sender can measure RTT.

use crate::wire::{Reader, WireError};

/// A hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloRepr {
    /// Hello sequence number (gaps reveal loss).
    pub seqno: u16,
    /// Interval until the next hello, centiseconds.
    pub interval_cs: u16,
    /// Sender's clock, µs, low 32 bits.
    pub timestamp: u32,
}

impl HelloRepr {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let h = HelloRepr {
            seqno: r.u16()?,
            interval_cs: r.u16()?,
            timestamp: r.u32()?,
        };
        if h.interval_cs == 0 {
            return Err(WireError::Malformed("hello interval 0"));
        }
        r.finish()?;
        Ok(h)
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.seqno.to_be_bytes());
        out.extend_from_slice(&self.interval_cs.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
    }
}
