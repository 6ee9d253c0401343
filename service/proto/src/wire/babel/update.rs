//! Update TLV: `flags u8 | plen u8 | interval_cs u16 | seqno u16 | metric u16 |
//! router_id (36) | prefix (ceil(plen/8))`. Metric 0xFFFF is a retraction.

use super::{Prefix, RouterId};
use crate::wire::{Reader, WireError};

/// A route update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateRepr {
    /// Reserved, zero.
    pub flags: u8,
    /// Interval until the next periodic update, centiseconds (sets the route's expiry).
    pub interval_cs: u16,
    /// Source sequence number.
    pub seqno: u16,
    /// Advertised metric; [`super::INFINITY`] retracts.
    pub metric: u16,
    /// Originator.
    pub router_id: RouterId,
    /// Destination prefix.
    pub prefix: Prefix,
}

impl UpdateRepr {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let flags = r.u8()?;
        if flags != 0 {
            return Err(WireError::Malformed("update flags"));
        }
        let plen = r.u8()?;
        let interval_cs = r.u16()?;
        let seqno = r.u16()?;
        let metric = r.u16()?;
        let router_id = RouterId::read(&mut r)?;
        let prefix = Prefix::read(&mut r, plen)?;
        r.finish()?;
        Ok(UpdateRepr {
            flags,
            interval_cs,
            seqno,
            metric,
            router_id,
            prefix,
        })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.flags);
        out.push(self.prefix.len);
        out.extend_from_slice(&self.interval_cs.to_be_bytes());
        out.extend_from_slice(&self.seqno.to_be_bytes());
        out.extend_from_slice(&self.metric.to_be_bytes());
        self.router_id.write(out);
        self.prefix.write(out);
    }
}
