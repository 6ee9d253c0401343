//! Seqno request TLV: `plen u8 | seqno u16 | hop_count u8 | router_id (36) | prefix`.
//!
//! Asks the originator (forwarded hop by hop towards it) for an update with a sequence number
//! of at least `seqno`, so that a node whose routes all became unfeasible gets a feasible one.

use super::{Prefix, RouterId};
use crate::wire::{Reader, WireError};

/// A seqno request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqnoRequestRepr {
    /// Wanted sequence number (at least).
    pub seqno: u16,
    /// Remaining forwarding hops.
    pub hop_count: u8,
    /// Originator whose seqno is wanted.
    pub router_id: RouterId,
    /// The prefix.
    pub prefix: Prefix,
}

impl SeqnoRequestRepr {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let plen = r.u8()?;
        let seqno = r.u16()?;
        let hop_count = r.u8()?;
        if hop_count == 0 {
            return Err(WireError::Malformed("seqno request hop count 0"));
        }
        let router_id = RouterId::read(&mut r)?;
        let prefix = Prefix::read(&mut r, plen)?;
        r.finish()?;
        Ok(SeqnoRequestRepr {
            seqno,
            hop_count,
            router_id,
            prefix,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.prefix.len);
        out.extend_from_slice(&self.seqno.to_be_bytes());
        out.push(self.hop_count);
        self.router_id.write(out);
        self.prefix.write(out);
    }
}
