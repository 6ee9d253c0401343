//! The plaintext inside a transport frame: one kind byte, then the body.
//!
//! ```text
//! 0x01 | Babel TLVs            routing control for this link
//! 0x02 | routed packet         overlay data (see `routed`)
//! 0x03                         close: the sender is tearing the link down
//! 0x04 | facts                 signed endpoint facts (see `fact`)
//! 0x05 | rekey message         new link keys (see `rekey`)
//! 0x06 | IPv6 packet           from the neighbour itself, for this node (link version 5)
//! ```
//!
//! A packet whose source and destination are the two ends of the link needs no end-to-end
//! seal on top of the link's: both keys belong to the same two nodes (the link handshake
//! authenticates each side's node id and gives forward secrecy), so it travels as kind 0x06,
//! encrypted and authenticated once, with 30 bytes of overhead instead of a data frame's 78.

use super::WireError;

/// Inner kind: Babel TLVs.
pub const KIND_BABEL: u8 = 0x01;
/// Inner kind: a routed overlay packet.
pub const KIND_ROUTED: u8 = 0x02;
/// Inner kind: link close.
pub const KIND_CLOSE: u8 = 0x03;
/// Inner kind: facts gossiped to a neighbour.
pub const KIND_FACTS: u8 = 0x04;
/// Inner kind: an IPv6 packet from the neighbour to this node.
pub const KIND_PACKET: u8 = 0x06;

pub use super::rekey::KIND_REKEY;

/// What a decrypted transport frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InnerRepr<'a> {
    /// Babel TLVs (parse with [`super::babel::parse_tlvs`]).
    Babel(&'a [u8]),
    /// A routed packet (parse with [`super::routed::RoutedRepr`]).
    Routed(&'a [u8]),
    /// The peer closes the link.
    Close,
    /// Facts (parse with [`super::fact::parse_list`]).
    Facts(&'a [u8]),
    /// A rekey message (parse with [`super::rekey::RekeyRepr`]).
    Rekey(&'a [u8]),
    /// An IPv6 packet from the neighbour to this node.
    Packet(&'a [u8]),
}

impl<'a> InnerRepr<'a> {
    /// Splits the kind byte from the body.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let (&kind, body) = buf.split_first().ok_or(WireError::Truncated)?;
        match kind {
            KIND_BABEL => Ok(InnerRepr::Babel(body)),
            KIND_ROUTED => Ok(InnerRepr::Routed(body)),
            KIND_CLOSE if body.is_empty() => Ok(InnerRepr::Close),
            KIND_CLOSE => Err(WireError::Malformed("close carries no body")),
            KIND_FACTS => Ok(InnerRepr::Facts(body)),
            KIND_REKEY => Ok(InnerRepr::Rekey(body)),
            KIND_PACKET => Ok(InnerRepr::Packet(body)),
            t => Err(WireError::UnknownType(t)),
        }
    }

    /// Appends the kind byte and body to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        match self {
            InnerRepr::Babel(b) => {
                out.push(KIND_BABEL);
                out.extend_from_slice(b);
            }
            InnerRepr::Routed(b) => {
                out.push(KIND_ROUTED);
                out.extend_from_slice(b);
            }
            InnerRepr::Close => out.push(KIND_CLOSE),
            InnerRepr::Facts(b) => {
                out.push(KIND_FACTS);
                out.extend_from_slice(b);
            }
            InnerRepr::Rekey(b) => {
                out.push(KIND_REKEY);
                out.extend_from_slice(b);
            }
            InnerRepr::Packet(b) => {
                out.push(KIND_PACKET);
                out.extend_from_slice(b);
            }
        }
    }
}
