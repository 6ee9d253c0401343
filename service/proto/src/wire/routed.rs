//! The routed overlay packet: what relays see, plus the end-to-end part they cannot read.
//!
//! ```text
//! off 0  hop_limit u8 | 1 flags u8 | 2 type u8 | 3 reserved u8 (0) | 4 dst address (16)
//! type 1, data:       20 receiver_index u32 | 24 counter u64 | 32 ciphertext | tag (16)
//! type 2, hello:      20 sender_index u32   | 24 Noise IK message 1
//! type 3, hello back: 20 sender_index u32   | 24 receiver_index u32 | 28 Noise IK message 2
//! type 4, probe:      20 src node id (32)   | 52 probe id u64 | 60 padding (any length)
//! ```
//! Relays read only `hop_limit`, `type` and `dst` and decrement `hop_limit`. A data packet's
//! AEAD covers bytes 2..32 as associated data (everything but the fields a relay may change);
//! its plaintext starts with a payload kind ([`PayloadKind`]). Hellos set up an end-to-end
//! session with fresh ephemeral keys ([`crate::session`]); the receiver index of a data
//! packet names that session, so a data packet carries no node id at all (32 bytes of
//! header, against 68 in version 1). Probes are not encrypted: they carry their sender in the
//! clear so that relays can answer them (see [`super::probe`]). Padding (zeros, ignored) makes
//! a probe as long as a data packet of the size whose path it tests ([`crate::node`]'s path MTU).

use super::{Reader, WireError};
use crate::identity::NodeId;

/// Length of the part every routed packet starts with (hop limit to `dst`).
pub const PREFIX_LEN: usize = 20;
/// Length of a data packet's header.
pub const HEADER_LEN: usize = 32;
/// Start of the bytes a data packet's AEAD covers as associated data.
pub const AAD_START: usize = 2;
/// Hop limit a sender starts with.
pub const DEFAULT_HOP_LIMIT: u8 = 64;
/// AEAD tag length.
pub const TAG_LEN: usize = 16;
/// Largest Noise message accepted in a hello.
pub const MAX_NOISE_LEN: usize = 256;
/// Length of a probe.
pub const PROBE_LEN: usize = PREFIX_LEN + 32 + 8;

/// Type byte of a data packet.
pub const TYPE_DATA: u8 = 1;
/// Type byte of a session hello (Noise IK message 1).
pub const TYPE_HELLO: u8 = 2;
/// Type byte of a hello's answer (Noise IK message 2).
pub const TYPE_HELLO_BACK: u8 = 3;
/// Type byte of a trace probe.
pub const TYPE_PROBE: u8 = 4;

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
    /// Nothing: confirms a fresh session to its responder when there is nothing else to send.
    Keepalive = 0x04,
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
            0x04 => Ok(PayloadKind::Keepalive),
            0x05 => Ok(PayloadKind::ProbeReply),
            t => Err(WireError::UnknownType(t)),
        }
    }
}

/// What follows the common prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutedBody<'a> {
    /// Sealed payload of an established session.
    Data {
        /// The receiver's session index.
        receiver_index: u32,
        /// Per-session packet counter (AEAD nonce; replay-checked).
        counter: u64,
        /// Ciphertext and tag (at least one byte of plaintext: the payload kind).
        sealed: &'a [u8],
    },
    /// Session hello: Noise IK message 1.
    Hello {
        /// The initiator's session index.
        sender_index: u32,
        /// The Noise message.
        noise: &'a [u8],
    },
    /// Answer to a hello: Noise IK message 2.
    HelloBack {
        /// The responder's session index.
        sender_index: u32,
        /// The initiator's session index, echoed.
        receiver_index: u32,
        /// The Noise message.
        noise: &'a [u8],
    },
    /// A trace probe (unauthenticated).
    Probe {
        /// Who to answer.
        src: NodeId,
        /// The probe's id, echoed in answers.
        id: u64,
    },
}

/// A routed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutedRepr<'a> {
    /// Remaining hops; a relay drops the packet when it would reach zero.
    pub hop_limit: u8,
    /// Reserved flag bits (0 today, not authenticated so relays may mark).
    pub flags: u8,
    /// Destination overlay address.
    pub dst: [u8; 16],
    /// The rest.
    pub body: RoutedBody<'a>,
}

impl<'a> RoutedRepr<'a> {
    /// Parses a routed packet.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let hop_limit = r.u8()?;
        let flags = r.u8()?;
        let ty = r.u8()?;
        if r.u8()? != 0 {
            return Err(WireError::Malformed("reserved bits set"));
        }
        let dst = r.array()?;
        let noise = |n: &'a [u8]| {
            if n.is_empty() || n.len() > MAX_NOISE_LEN {
                Err(WireError::Malformed("noise message length"))
            } else {
                Ok(n)
            }
        };
        let body = match ty {
            TYPE_DATA => {
                let receiver_index = r.u32()?;
                let counter = r.u64()?;
                let sealed = r.rest();
                if sealed.len() < TAG_LEN + 1 {
                    return Err(WireError::Truncated);
                }
                RoutedBody::Data {
                    receiver_index,
                    counter,
                    sealed,
                }
            }
            TYPE_HELLO => RoutedBody::Hello {
                sender_index: r.u32()?,
                noise: noise(r.rest())?,
            },
            TYPE_HELLO_BACK => RoutedBody::HelloBack {
                sender_index: r.u32()?,
                receiver_index: r.u32()?,
                noise: noise(r.rest())?,
            },
            TYPE_PROBE => {
                let body = RoutedBody::Probe {
                    src: NodeId::from_bytes(r.array()?),
                    id: r.u64()?,
                };
                // The rest is padding.
                let _ = r.rest();
                body
            }
            t => return Err(WireError::UnknownType(t)),
        };
        Ok(RoutedRepr {
            hop_limit,
            flags,
            dst,
            body,
        })
    }

    /// Writes the packet.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let ty = match self.body {
            RoutedBody::Data { .. } => TYPE_DATA,
            RoutedBody::Hello { .. } => TYPE_HELLO,
            RoutedBody::HelloBack { .. } => TYPE_HELLO_BACK,
            RoutedBody::Probe { .. } => TYPE_PROBE,
        };
        out.extend_from_slice(&[self.hop_limit, self.flags, ty, 0]);
        out.extend_from_slice(&self.dst);
        match self.body {
            RoutedBody::Data {
                receiver_index,
                counter,
                sealed,
            } => {
                out.extend_from_slice(&receiver_index.to_be_bytes());
                out.extend_from_slice(&counter.to_be_bytes());
                out.extend_from_slice(sealed);
            }
            RoutedBody::Hello {
                sender_index,
                noise,
            } => {
                out.extend_from_slice(&sender_index.to_be_bytes());
                out.extend_from_slice(noise);
            }
            RoutedBody::HelloBack {
                sender_index,
                receiver_index,
                noise,
            } => {
                out.extend_from_slice(&sender_index.to_be_bytes());
                out.extend_from_slice(&receiver_index.to_be_bytes());
                out.extend_from_slice(noise);
            }
            RoutedBody::Probe { src, id } => {
                out.extend_from_slice(src.as_bytes());
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }

    /// Writes a data packet's 32-byte header (the sealed payload follows).
    pub fn emit_data_header(
        out: &mut Vec<u8>,
        hop_limit: u8,
        dst: &[u8; 16],
        receiver_index: u32,
        counter: u64,
    ) {
        out.extend_from_slice(&[hop_limit, 0, TYPE_DATA, 0]);
        out.extend_from_slice(dst);
        out.extend_from_slice(&receiver_index.to_be_bytes());
        out.extend_from_slice(&counter.to_be_bytes());
    }

    /// The destination address of a routed packet without a full parse (relay fast path).
    pub fn peek_dst(buf: &[u8]) -> Option<[u8; 16]> {
        buf.get(4..20).map(|d| d.try_into().expect("16 bytes"))
    }

    /// The type byte, without a full parse.
    pub fn peek_type(buf: &[u8]) -> Option<u8> {
        buf.get(2).copied()
    }

    /// A data packet's receiver index and counter, without a full parse (its header alone
    /// suffices: the payload is opened elsewhere).
    pub fn peek_data_index(buf: &[u8]) -> Option<(u32, u64)> {
        let index = u32::from_be_bytes(buf.get(20..24)?.try_into().ok()?);
        let counter = u64::from_be_bytes(buf.get(24..32)?.try_into().ok()?);
        Some((index, counter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_header_is_32_bytes_and_roundtrips() {
        let repr = RoutedRepr {
            hop_limit: 64,
            flags: 0,
            dst: [6; 16],
            body: RoutedBody::Data {
                receiver_index: 7,
                counter: 9,
                sealed: &[0; 17],
            },
        };
        let mut buf = Vec::new();
        repr.emit(&mut buf);
        assert_eq!(buf.len(), HEADER_LEN + 17);
        assert_eq!(RoutedRepr::parse(&buf).unwrap(), repr);
        assert_eq!(RoutedRepr::peek_dst(&buf), Some([6; 16]));
        assert_eq!(
            RoutedRepr::peek_data_index(&buf[..HEADER_LEN]),
            Some((7, 9))
        );
        let mut head = Vec::new();
        RoutedRepr::emit_data_header(&mut head, 64, &[6; 16], 7, 9);
        assert_eq!(head, buf[..HEADER_LEN]);
    }

    #[test]
    fn probe_round_trips_with_or_without_padding() {
        let repr = RoutedRepr {
            hop_limit: 3,
            flags: 0,
            dst: [6; 16],
            body: RoutedBody::Probe {
                src: NodeId::from_bytes([1; 32]),
                id: 5,
            },
        };
        let mut buf = Vec::new();
        repr.emit(&mut buf);
        assert_eq!(buf.len(), PROBE_LEN);
        assert_eq!(RoutedRepr::parse(&buf).unwrap(), repr);
        // Padding (path MTU probes) is ignored; a probe cut short is refused.
        buf.resize(1400, 0);
        assert_eq!(RoutedRepr::parse(&buf).unwrap(), repr);
        assert!(RoutedRepr::parse(&buf[..PROBE_LEN - 1]).is_err());
    }
}
