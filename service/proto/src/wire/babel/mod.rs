//! Babel TLVs (after RFC 8966, simplified for unicast authenticated links).
//!
//! A Babel body is a sequence of `type u8 | length u8 | body` TLVs. Unknown types are skipped
//! (forward compatibility); a malformed known TLV is reported and the rest still parsed.

pub mod ack;
pub mod ack_request;
pub mod hello;
pub mod ihu;
pub mod route_request;
pub mod seqno_request;
pub mod update;

use super::{Reader, WireError};
use crate::identity::NodeId;

pub use ack::AckRepr;
pub use ack_request::AckRequestRepr;
pub use hello::HelloRepr;
pub use ihu::IhuRepr;
pub use route_request::RouteRequestRepr;
pub use seqno_request::SeqnoRequestRepr;
pub use update::UpdateRepr;

/// The infinite metric: a retraction.
pub const INFINITY: u16 = 0xFFFF;

/// TLV type numbers.
pub mod tlv_type {
    /// Acknowledgment request.
    pub const ACK_REQUEST: u8 = 2;
    /// Acknowledgment.
    pub const ACK: u8 = 3;
    /// Hello.
    pub const HELLO: u8 = 4;
    /// I Heard You.
    pub const IHU: u8 = 5;
    /// Update.
    pub const UPDATE: u8 = 8;
    /// Route request.
    pub const ROUTE_REQUEST: u8 = 9;
    /// Seqno request.
    pub const SEQNO_REQUEST: u8 = 10;
}

/// Babel router id: the node id plus a suffix drawn at every start, so that a restarted node's
/// fresh sequence numbers are never judged against the feasibility distances of its past life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouterId {
    /// The originating node.
    pub node: NodeId,
    /// Random per start.
    pub suffix: u32,
}

impl RouterId {
    /// Encoded length.
    pub const LEN: usize = 36;

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(RouterId {
            node: NodeId::from_bytes(r.array()?),
            suffix: r.u32()?,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.node.as_bytes());
        out.extend_from_slice(&self.suffix.to_be_bytes());
    }
}

/// An IPv6 prefix in canonical form (bits past `len` are zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// Prefix length in bits, 0..=128.
    pub len: u8,
    /// Address bytes.
    pub bytes: [u8; 16],
}

impl Prefix {
    /// A /64 from its eight bytes.
    pub fn from_subnet(s: crate::address::Subnet) -> Self {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&s.0);
        Prefix { len: 64, bytes }
    }

    /// The /64, if this is one.
    pub fn as_subnet(&self) -> Option<crate::address::Subnet> {
        (self.len == 64).then(|| crate::address::Subnet::of(&self.bytes))
    }

    fn wire_bytes(len: u8) -> usize {
        (len as usize).div_ceil(8)
    }

    pub(crate) fn read(r: &mut Reader<'_>, len: u8) -> Result<Self, WireError> {
        if len > 128 {
            return Err(WireError::Malformed("prefix length"));
        }
        let n = Self::wire_bytes(len);
        let mut bytes = [0u8; 16];
        bytes[..n].copy_from_slice(r.take(n)?);
        if !len.is_multiple_of(8) && bytes[n - 1] & (0xff >> (len % 8)) != 0 {
            return Err(WireError::Malformed("prefix bits past its length"));
        }
        Ok(Prefix { len, bytes })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.bytes[..Self::wire_bytes(self.len)]);
    }
}

/// One parsed TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tlv {
    /// Acknowledgment request.
    AckRequest(AckRequestRepr),
    /// Acknowledgment.
    Ack(AckRepr),
    /// Hello.
    Hello(HelloRepr),
    /// I Heard You.
    Ihu(IhuRepr),
    /// Route update or retraction.
    Update(UpdateRepr),
    /// Route request.
    RouteRequest(RouteRequestRepr),
    /// Seqno request.
    SeqnoRequest(SeqnoRequestRepr),
}

impl Tlv {
    /// Appends `type | length | body`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0, 0]);
        let t = match self {
            Tlv::AckRequest(x) => {
                x.emit(out);
                tlv_type::ACK_REQUEST
            }
            Tlv::Ack(x) => {
                x.emit(out);
                tlv_type::ACK
            }
            Tlv::Hello(x) => {
                x.emit(out);
                tlv_type::HELLO
            }
            Tlv::Ihu(x) => {
                x.emit(out);
                tlv_type::IHU
            }
            Tlv::Update(x) => {
                x.emit(out);
                tlv_type::UPDATE
            }
            Tlv::RouteRequest(x) => {
                x.emit(out);
                tlv_type::ROUTE_REQUEST
            }
            Tlv::SeqnoRequest(x) => {
                x.emit(out);
                tlv_type::SEQNO_REQUEST
            }
        };
        let len = out.len() - start - 2;
        debug_assert!(len <= 255);
        out[start] = t;
        out[start + 1] = len as u8;
    }

    /// Encoded size including the two header bytes.
    pub fn encoded_len(&self) -> usize {
        let mut v = Vec::new();
        self.emit(&mut v);
        v.len()
    }
}

/// Parses a Babel body into TLVs. Unknown TLV types are skipped; a malformed TLV yields an
/// `Err` item and parsing continues with the next one (its length byte is trusted only to stay
/// inside the buffer); a truncated header ends the iteration with an error.
pub fn parse_tlvs(buf: &[u8]) -> impl Iterator<Item = Result<Tlv, WireError>> + '_ {
    let mut rest = buf;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() < 2 {
            rest = &[];
            return Some(Err(WireError::Truncated));
        }
        let (t, len) = (rest[0], rest[1] as usize);
        if rest.len() < 2 + len {
            rest = &[];
            return Some(Err(WireError::Truncated));
        }
        let body = &rest[2..2 + len];
        rest = &rest[2 + len..];
        let parsed = match t {
            tlv_type::ACK_REQUEST => AckRequestRepr::parse(body).map(Tlv::AckRequest),
            tlv_type::ACK => AckRepr::parse(body).map(Tlv::Ack),
            tlv_type::HELLO => HelloRepr::parse(body).map(Tlv::Hello),
            tlv_type::IHU => IhuRepr::parse(body).map(Tlv::Ihu),
            tlv_type::UPDATE => UpdateRepr::parse(body).map(Tlv::Update),
            tlv_type::ROUTE_REQUEST => RouteRequestRepr::parse(body).map(Tlv::RouteRequest),
            tlv_type::SEQNO_REQUEST => SeqnoRequestRepr::parse(body).map(Tlv::SeqnoRequest),
            _ => return Some(Err(WireError::UnknownType(t))),
        };
        Some(parsed)
    })
}

/// The /64 each update in a Babel body names, read without parsing anything else: a hint,
/// to look the destinations up before handling them (every update is parsed in full then).
pub fn update_subnets(buf: &[u8]) -> impl Iterator<Item = crate::address::Subnet> + '_ {
    // flags, plen, interval, seqno, metric, router id: the prefix follows.
    const PREFIX_AT: usize = 8 + RouterId::LEN;
    let mut rest = buf;
    core::iter::from_fn(move || {
        loop {
            let (&[t, len], tail) = rest.split_first_chunk::<2>()?;
            let len = len as usize;
            let body = tail.get(..len)?;
            rest = &tail[len..];
            if t == tlv_type::UPDATE
                && body.get(1) == Some(&64)
                && let Some(Ok(b)) = body.get(PREFIX_AT..PREFIX_AT + 8).map(<[u8; 8]>::try_from)
            {
                return Some(crate::address::Subnet(b));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tlvs_are_skipped_not_fatal() {
        let mut buf = vec![99, 3, 1, 2, 3];
        Tlv::Hello(HelloRepr {
            seqno: 1,
            interval_cs: 25,
            timestamp: 5,
        })
        .emit(&mut buf);
        let items: Vec<_> = parse_tlvs(&buf).collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0], Err(WireError::UnknownType(99)));
        assert!(matches!(items[1], Ok(Tlv::Hello(_))));
    }

    #[test]
    fn non_canonical_prefix_rejected() {
        let mut r = Reader::new(&[0xff]);
        assert!(Prefix::read(&mut r, 4).is_err());
        let mut r = Reader::new(&[0xf0]);
        assert_eq!(Prefix::read(&mut r, 4).unwrap().bytes[0], 0xf0);
    }
}
