//! Link handshake datagrams: the three Noise XXpsk3 messages, with session indices.
//!
//! ```text
//! Init  : 0x01 | version u8 | sender_index u32 | noise message 1
//! Resp  : 0x02 | sender_index u32 | receiver_index u32 | noise message 2
//! Final : 0x03 | receiver_index u32 | noise message 3
//! ```
//! On the wire each of them is followed by a 16-byte MAC keyed by the network key
//! ([`crate::link::handshake::NetworkKey::seal_handshake`]); these types parse and emit the
//! datagram without it.
//! Indices are chosen at random by each side and name the session in later transport frames
//! (as WireGuard does), so a link survives a change of the peer's source address.

use super::{Reader, WireError};

/// Type byte of a handshake initiation.
pub const TYPE_INIT: u8 = 0x01;
/// Type byte of a handshake response.
pub const TYPE_RESP: u8 = 0x02;
/// Type byte of the final handshake message.
pub const TYPE_FINAL: u8 = 0x03;
/// Type byte of a NAT primer: one byte sent with a short TTL before a direct dial, to open
/// our own NAT's mapping without reaching (and poisoning) the far side's NAT.
pub const TYPE_PRIMER: u8 = 0x05;
/// The link protocol version this code speaks.
pub const LINK_VERSION: u8 = 2;
/// Largest Noise message we accept in a handshake datagram.
pub const MAX_NOISE_LEN: usize = 512;

/// A handshake datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeRepr<'a> {
    /// First message (initiator → responder).
    Init {
        /// Protocol version of the initiator.
        version: u8,
        /// Initiator's session index.
        sender_index: u32,
        /// Noise message 1.
        noise: &'a [u8],
    },
    /// Second message (responder → initiator).
    Resp {
        /// Responder's session index.
        sender_index: u32,
        /// The initiator's index, echoed.
        receiver_index: u32,
        /// Noise message 2.
        noise: &'a [u8],
    },
    /// Third message (initiator → responder).
    Final {
        /// The responder's index.
        receiver_index: u32,
        /// Noise message 3.
        noise: &'a [u8],
    },
}

impl<'a> HandshakeRepr<'a> {
    /// Parses a handshake datagram (type byte included).
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let repr = match r.u8()? {
            TYPE_INIT => {
                let version = r.u8()?;
                if version != LINK_VERSION {
                    return Err(WireError::Version(version));
                }
                HandshakeRepr::Init {
                    version,
                    sender_index: r.u32()?,
                    noise: r.rest(),
                }
            }
            TYPE_RESP => HandshakeRepr::Resp {
                sender_index: r.u32()?,
                receiver_index: r.u32()?,
                noise: r.rest(),
            },
            TYPE_FINAL => HandshakeRepr::Final {
                receiver_index: r.u32()?,
                noise: r.rest(),
            },
            t => return Err(WireError::UnknownType(t)),
        };
        let noise = repr.noise();
        if noise.is_empty() || noise.len() > MAX_NOISE_LEN {
            return Err(WireError::Malformed("noise message length"));
        }
        Ok(repr)
    }

    /// The Noise message carried.
    pub fn noise(&self) -> &'a [u8] {
        match self {
            HandshakeRepr::Init { noise, .. }
            | HandshakeRepr::Resp { noise, .. }
            | HandshakeRepr::Final { noise, .. } => noise,
        }
    }

    /// Appends the datagram to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        match *self {
            HandshakeRepr::Init {
                version,
                sender_index,
                noise,
            } => {
                out.push(TYPE_INIT);
                out.push(version);
                out.extend_from_slice(&sender_index.to_be_bytes());
                out.extend_from_slice(noise);
            }
            HandshakeRepr::Resp {
                sender_index,
                receiver_index,
                noise,
            } => {
                out.push(TYPE_RESP);
                out.extend_from_slice(&sender_index.to_be_bytes());
                out.extend_from_slice(&receiver_index.to_be_bytes());
                out.extend_from_slice(noise);
            }
            HandshakeRepr::Final {
                receiver_index,
                noise,
            } => {
                out.push(TYPE_FINAL);
                out.extend_from_slice(&receiver_index.to_be_bytes());
                out.extend_from_slice(noise);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_bytes() {
        let mut out = Vec::new();
        HandshakeRepr::Init {
            version: 2,
            sender_index: 0x0102_0304,
            noise: &[0xaa; 3],
        }
        .emit(&mut out);
        assert_eq!(out, [1, 2, 1, 2, 3, 4, 0xaa, 0xaa, 0xaa]);
        assert!(matches!(
            HandshakeRepr::parse(&out),
            Ok(HandshakeRepr::Init {
                sender_index: 0x0102_0304,
                ..
            })
        ));
    }

    #[test]
    fn rejects_wrong_version_and_empty_noise() {
        assert_eq!(
            HandshakeRepr::parse(&[1, 9, 0, 0, 0, 0, 1]),
            Err(WireError::Version(9))
        );
        assert!(HandshakeRepr::parse(&[3, 0, 0, 0, 0]).is_err());
    }
}
