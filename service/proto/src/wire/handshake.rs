//! Link handshake datagrams: the three Noise XXpsk3 messages, with session indices.
//!
//! ```text
//! Init  : 0x01 | version u8 | sender_index u32 | cookie (16) | noise message 1 (padded)
//! Resp  : 0x02 | sender_index u32 | receiver_index u32 | noise message 2
//! Final : 0x03 | receiver_index u32 | noise message 3
//! Cookie: 0x07 | receiver_index u32 | cookie (16)
//! ```
//! An Init is at least [`INIT_MIN_LEN`] bytes, so answering it never sends more than was
//! received (no amplification for a spoofed source). Its cookie is zero unless a responder
//! under load sent a Cookie: then the initiator sends its Init again carrying it, which proves
//! it receives at its source address (see `node/links.rs`).
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
/// Type byte of a cookie reply.
pub const TYPE_COOKIE: u8 = 0x07;
/// The link protocol version this code speaks.
pub const LINK_VERSION: u8 = 7;
/// Length of a cookie.
pub const COOKIE_LEN: usize = 16;
/// Shortest Init (without its MAC): longer than a Resp with its MAC (153 bytes).
pub const INIT_MIN_LEN: usize = 144;
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
        /// The responder's cookie for our address, or zeros.
        cookie: [u8; COOKIE_LEN],
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
    /// "Busy: send your Init again with this cookie" (responder → initiator).
    Cookie {
        /// The initiator's index, echoed.
        receiver_index: u32,
        /// What the initiator puts in its next Init.
        cookie: [u8; COOKIE_LEN],
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
                if buf.len() < INIT_MIN_LEN {
                    return Err(WireError::Malformed("init shorter than its answer"));
                }
                HandshakeRepr::Init {
                    version,
                    sender_index: r.u32()?,
                    cookie: r.array()?,
                    noise: r.rest(),
                }
            }
            TYPE_COOKIE => {
                let c = HandshakeRepr::Cookie {
                    receiver_index: r.u32()?,
                    cookie: r.array()?,
                };
                r.finish()?;
                return Ok(c);
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
            HandshakeRepr::Cookie { .. } => &[],
        }
    }

    /// Appends the datagram to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        match *self {
            HandshakeRepr::Init {
                version,
                sender_index,
                cookie,
                noise,
            } => {
                out.push(TYPE_INIT);
                out.push(version);
                out.extend_from_slice(&sender_index.to_be_bytes());
                out.extend_from_slice(&cookie);
                out.extend_from_slice(noise);
            }
            HandshakeRepr::Cookie {
                receiver_index,
                cookie,
            } => {
                out.push(TYPE_COOKIE);
                out.extend_from_slice(&receiver_index.to_be_bytes());
                out.extend_from_slice(&cookie);
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
        let noise = [0xaa; 122];
        HandshakeRepr::Init {
            version: LINK_VERSION,
            sender_index: 0x0102_0304,
            cookie: [7; COOKIE_LEN],
            noise: &noise,
        }
        .emit(&mut out);
        assert_eq!(out[..6], [1, LINK_VERSION, 1, 2, 3, 4]);
        assert_eq!(out[6..22], [7; 16]);
        assert!(matches!(
            HandshakeRepr::parse(&out),
            Ok(HandshakeRepr::Init {
                sender_index: 0x0102_0304,
                cookie: [7, ..],
                ..
            })
        ));
        // One byte short of the minimum: refused, so nobody answers a small Init.
        assert!(HandshakeRepr::parse(&out[..INIT_MIN_LEN - 1]).is_err());
    }

    #[test]
    fn cookie_bytes() {
        let mut out = Vec::new();
        let c = HandshakeRepr::Cookie {
            receiver_index: 9,
            cookie: [3; COOKIE_LEN],
        };
        c.emit(&mut out);
        assert_eq!(out.len(), 21);
        assert_eq!(HandshakeRepr::parse(&out), Ok(c));
        out.push(0);
        assert!(HandshakeRepr::parse(&out).is_err());
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
