//! Transport frames: an authenticated, encrypted link frame between two neighbours.
//!
//! ```text
//! 0x04 | receiver_index u32 | counter u64 | ciphertext (inner frame) | tag (16)
//! ```
//! The nonce is the counter (Noise's ChaChaPoly nonce: 4 zero bytes + counter little-endian).
//! The 13 header bytes are the AEAD's associated data.

use super::{Reader, WireError};

/// Type byte of a transport frame.
pub const TYPE_TRANSPORT: u8 = 0x04;
/// Bytes before the ciphertext.
pub const HEADER_LEN: usize = 13;
/// AEAD tag length.
pub const TAG_LEN: usize = 16;

/// A parsed transport frame (ciphertext still sealed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportRepr<'a> {
    /// The receiver's session index.
    pub receiver_index: u32,
    /// The sender's frame counter (AEAD nonce).
    pub counter: u64,
    /// Ciphertext followed by the tag.
    pub sealed: &'a [u8],
}

impl<'a> TransportRepr<'a> {
    /// Parses a transport frame (type byte included).
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let t = r.u8()?;
        if t != TYPE_TRANSPORT {
            return Err(WireError::UnknownType(t));
        }
        let receiver_index = r.u32()?;
        let counter = r.u64()?;
        let sealed = r.rest();
        if sealed.len() < TAG_LEN {
            return Err(WireError::Truncated);
        }
        Ok(TransportRepr {
            receiver_index,
            counter,
            sealed,
        })
    }

    /// Writes the 13-byte header for a frame.
    pub fn header(receiver_index: u32, counter: u64) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0] = TYPE_TRANSPORT;
        h[1..5].copy_from_slice(&receiver_index.to_be_bytes());
        h[5..13].copy_from_slice(&counter.to_be_bytes());
        h
    }

    /// Appends the frame to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::header(self.receiver_index, self.counter));
        out.extend_from_slice(self.sealed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let mut out = Vec::new();
        TransportRepr {
            receiver_index: 7,
            counter: 258,
            sealed: &[0; 16],
        }
        .emit(&mut out);
        assert_eq!(&out[..13], &[4, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(TransportRepr::parse(&out).unwrap().counter, 258);
        assert_eq!(TransportRepr::parse(&out[..20]), Err(WireError::Truncated));
    }
}
