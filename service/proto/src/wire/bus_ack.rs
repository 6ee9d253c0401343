//! A message-bus acknowledgement (sealed end to end, payload kind 0x02).
//!
//! ```text
//! msg_id (16) | flags u8 | count u8 | count × (start u32, end u32)
//! ```
//! Ranges are the byte ranges received so far, sorted and disjoint (selective ack), so the
//! sender retransmits only the gaps. Flag 1: the whole message is in; flag 2: refused
//! (e.g. topic not allowed), the sender stops and marks the message failed.

use super::{Reader, WireError};

/// Flag: the message is complete at the receiver.
pub const FLAG_COMPLETE: u8 = 0x01;
/// Flag: the receiver refuses the message.
pub const FLAG_REFUSED: u8 = 0x02;
/// Most ranges one ack carries.
pub const MAX_RANGES: usize = 64;

/// An acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusAckRepr {
    /// The acknowledged message.
    pub msg_id: [u8; 16],
    /// `FLAG_*` bits.
    pub flags: u8,
    /// Received byte ranges `[start, end)`.
    pub ranges: Vec<(u32, u32)>,
}

impl BusAckRepr {
    /// Parses and checks the ranges are sorted, disjoint and non-empty.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let msg_id = r.array()?;
        let flags = r.u8()?;
        if flags & !(FLAG_COMPLETE | FLAG_REFUSED) != 0 {
            return Err(WireError::Malformed("unknown ack flags"));
        }
        let count = r.u8()? as usize;
        if count > MAX_RANGES {
            return Err(WireError::Malformed("too many ranges"));
        }
        let mut ranges = Vec::with_capacity(count);
        let mut prev_end = 0u32;
        for i in 0..count {
            let (s, e) = (r.u32()?, r.u32()?);
            if s >= e || (i > 0 && s <= prev_end) {
                return Err(WireError::Malformed("ack ranges"));
            }
            prev_end = e;
            ranges.push((s, e));
        }
        r.finish()?;
        Ok(BusAckRepr {
            msg_id,
            flags,
            ranges,
        })
    }

    /// Appends the ack to `out` (at most [`MAX_RANGES`] ranges are written).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.msg_id);
        out.push(self.flags);
        let n = self.ranges.len().min(MAX_RANGES);
        out.push(n as u8);
        for &(s, e) in &self.ranges[..n] {
            out.extend_from_slice(&s.to_be_bytes());
            out.extend_from_slice(&e.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_rejects_overlap() {
        let a = BusAckRepr {
            msg_id: [2; 16],
            flags: FLAG_COMPLETE,
            ranges: vec![(0, 10), (20, 30)],
        };
        let mut buf = Vec::new();
        a.emit(&mut buf);
        assert_eq!(BusAckRepr::parse(&buf).unwrap(), a);
        let b = BusAckRepr {
            ranges: vec![(0, 10), (5, 30)],
            ..a
        };
        let mut buf = Vec::new();
        b.emit(&mut buf);
        assert!(BusAckRepr::parse(&buf).is_err());
    }
}
