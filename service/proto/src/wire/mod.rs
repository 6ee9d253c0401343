//! Every wire format, as `Repr` types that parse untrusted bytes once, checking everything, and
//! emit into a buffer. Nothing here panics on network input (property-tested in
//! `tests/wire_props.rs`). Byte layouts are documented in `docs/PROTOCOL.md`.
//!
//! Layering, outermost first:
//! - link datagrams ([`handshake`], [`transport`]) and LAN discovery ([`discovery`]);
//! - inside a transport frame, an [`inner`] kind: Babel TLVs ([`babel`]) or a routed packet;
//! - a routed packet ([`routed`]) carries a sealed end-to-end payload, whose first byte says
//!   what it is: an IPv6 packet or a message-bus frame ([`bus_chunk`], [`bus_ack`]).

pub mod babel;
pub mod bus_ack;
pub mod bus_chunk;
pub mod data_frame;
pub mod discovery;
pub mod fact;
pub mod handshake;
pub mod inner;
pub mod probe;
pub mod rekey;
pub mod routed;
pub mod transport;

/// Whether `t` opens a link datagram (handshake, transport, data frames, NAT primer): what a
/// stream transport may carry. LAN discovery has a socket of its own.
pub fn is_link_type(t: u8) -> bool {
    use data_frame::TYPE_DATA_FRAME;
    use handshake::{TYPE_COOKIE, TYPE_FINAL, TYPE_INIT, TYPE_PRIMER, TYPE_RESP};
    use transport::TYPE_TRANSPORT;
    matches!(
        t,
        TYPE_INIT
            | TYPE_RESP
            | TYPE_FINAL
            | TYPE_COOKIE
            | TYPE_PRIMER
            | TYPE_TRANSPORT
            | TYPE_DATA_FRAME
    )
}

/// Why bytes did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the format needs.
    #[error("truncated")]
    Truncated,
    /// A type byte we do not know.
    #[error("unknown message type {0:#04x}")]
    UnknownType(u8),
    /// A protocol version we do not speak.
    #[error("unsupported version {0}")]
    Version(u8),
    /// A field holds a value the format forbids.
    #[error("malformed field: {0}")]
    Malformed(&'static str),
}

/// A cursor over untrusted bytes; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.buf.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// Fails unless every byte was consumed (fixed-size formats reject trailing junk).
    pub(crate) fn finish(self) -> Result<(), WireError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(WireError::Malformed("trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn link_types_are_the_datagram_types_and_nothing_else() {
        let link: Vec<u8> = (0..=255).filter(|&t| super::is_link_type(t)).collect();
        // 0x08 was the final data frame of link versions 4-6.
        assert_eq!(link, (1..=7).collect::<Vec<u8>>());
        assert!(!super::is_link_type(super::discovery::TYPE_DISCOVERY));
    }
}
