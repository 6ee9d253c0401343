//! Acknowledgment TLV: `nonce u16` (RFC 8966 §4.6.4), the answer to an
//! [`super::AckRequestRepr`]. Never itself acknowledged.

use crate::wire::{Reader, WireError};

/// An acknowledgment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckRepr {
    /// The nonce of the request being answered.
    pub nonce: u16,
}

impl AckRepr {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let a = AckRepr { nonce: r.u16()? };
        r.finish()?;
        Ok(a)
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.nonce.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_input() {
        let a = AckRepr { nonce: 0x0102 };
        let mut v = Vec::new();
        a.emit(&mut v);
        assert_eq!(v, [1, 2]);
        assert_eq!(AckRepr::parse(&v), Ok(a));
        assert!(AckRepr::parse(&[1]).is_err(), "truncated");
        assert!(AckRepr::parse(&[1, 2, 3]).is_err(), "trailing byte");
    }
}
