//! The routed overlay packet: what relays see, plus the sealed end-to-end payload.
//!
//! ```text
//! hop_limit u8 | flags u8 | reserved u16 (0) | dst address (16) | src node id (32) |
//! epoch u64 | counter u64 | ciphertext | tag (16)                  header = 68 bytes
//! ```
//! Relays read only `dst` (route lookup) and decrement `hop_limit`. The AEAD's associated data
//! is bytes 4..68 (everything but the fields a relay may change). The plaintext starts with a
//! payload kind: see [`PayloadKind`].

use super::{Reader, WireError};
use crate::identity::NodeId;

/// Length of the routed header.
pub const HEADER_LEN: usize = 68;
/// Start of the bytes covered as associated data.
pub const AAD_START: usize = 4;
/// Hop limit a sender starts with.
pub const DEFAULT_HOP_LIMIT: u8 = 64;
/// AEAD tag length.
pub const TAG_LEN: usize = 16;

/// The first plaintext byte of a sealed payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PayloadKind {
    /// An IPv6 packet for the destination's TUN.
    Ipv6 = 0x00,
    /// A message-bus chunk.
    BusChunk = 0x01,
    /// A message-bus acknowledgement.
    BusAck = 0x02,
    /// "Let us try a direct link": the sender's endpoint facts; both sides then dial at once.
    Punch = 0x03,
    /// A trace probe (see [`super::probe`]).
    Probe = 0x04,
    /// The answer to a trace probe.
    ProbeReply = 0x05,
}

impl PayloadKind {
    /// Maps the byte back; unknown kinds are an error the receiver counts.
    pub fn from_byte(b: u8) -> Result<Self, WireError> {
        match b {
            0x00 => Ok(PayloadKind::Ipv6),
            0x01 => Ok(PayloadKind::BusChunk),
            0x02 => Ok(PayloadKind::BusAck),
            0x03 => Ok(PayloadKind::Punch),
            0x04 => Ok(PayloadKind::Probe),
            0x05 => Ok(PayloadKind::ProbeReply),
            t => Err(WireError::UnknownType(t)),
        }
    }
}

/// A routed packet's header and its still-sealed payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutedRepr<'a> {
    /// Remaining hops; a relay drops the packet when it would reach zero.
    pub hop_limit: u8,
    /// Reserved flag bits (0 today, not authenticated so relays may mark).
    pub flags: u8,
    /// Destination overlay address.
    pub dst: [u8; 16],
    /// Sender's node id (the receiver derives the session key from it).
    pub src: NodeId,
    /// Sender's session epoch (grows across the sender's restarts).
    pub epoch: u64,
    /// Per-session packet counter (AEAD nonce; replay-checked).
    pub counter: u64,
    /// Ciphertext and tag.
    pub sealed: &'a [u8],
}

impl<'a> RoutedRepr<'a> {
    /// Parses a routed packet.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let hop_limit = r.u8()?;
        let flags = r.u8()?;
        if r.u16()? != 0 {
            return Err(WireError::Malformed("reserved bits set"));
        }
        let repr = RoutedRepr {
            hop_limit,
            flags,
            dst: r.array()?,
            src: NodeId::from_bytes(r.array()?),
            epoch: r.u64()?,
            counter: r.u64()?,
            sealed: r.rest(),
        };
        if repr.sealed.len() < TAG_LEN + 1 {
            return Err(WireError::Truncated);
        }
        Ok(repr)
    }

    /// Writes the 68-byte header.
    pub fn emit_header(&self, out: &mut Vec<u8>) {
        out.push(self.hop_limit);
        out.push(self.flags);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.dst);
        out.extend_from_slice(self.src.as_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.counter.to_be_bytes());
    }

    /// Writes header and sealed payload.
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.emit_header(out);
        out.extend_from_slice(self.sealed);
    }

    /// The destination address of a routed packet without a full parse (relay fast path).
    pub fn peek_dst(buf: &[u8]) -> Option<[u8; 16]> {
        buf.get(4..20).map(|d| d.try_into().expect("16 bytes"))
    }

    /// Reads the sender's node id of a whole routed header (none if shorter than one).
    pub fn peek_src(buf: &[u8]) -> Option<NodeId> {
        if buf.len() < HEADER_LEN {
            return None;
        }
        Some(NodeId::from_bytes(
            buf[20..52].try_into().expect("32 bytes"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_68_bytes_and_roundtrips() {
        let repr = RoutedRepr {
            hop_limit: 64,
            flags: 0,
            dst: [6; 16],
            src: NodeId::from_bytes([1; 32]),
            epoch: 3,
            counter: 9,
            sealed: &[0; 17],
        };
        let mut buf = Vec::new();
        repr.emit(&mut buf);
        assert_eq!(buf.len(), HEADER_LEN + 17);
        assert_eq!(RoutedRepr::parse(&buf).unwrap(), repr);
        assert_eq!(RoutedRepr::peek_dst(&buf), Some([6; 16]));
    }
}
