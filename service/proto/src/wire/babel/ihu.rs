//! IHU ("I heard you") TLV: `rxcost u16 | interval_cs u16 | echo_timestamp u32 | hold_us u32`.
//!
//! `rxcost` is what the sender measured of hellos arriving from the receiver; `echo_timestamp`
//! is the last hello timestamp received and `hold_us` how long the sender held it, so
//! RTT = now − echo_timestamp − hold_us on the receiver's own clock.

use crate::wire::{Reader, WireError};

/// An IHU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IhuRepr {
    /// Cost of the link in the receiver → sender direction.
    pub rxcost: u16,
    /// IHU interval, centiseconds.
    pub interval_cs: u16,
    /// The receiver's hello timestamp being echoed.
    pub echo_timestamp: u32,
    /// Microseconds between receiving that hello and sending this IHU.
    pub hold_us: u32,
}

impl IhuRepr {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let i = IhuRepr {
            rxcost: r.u16()?,
            interval_cs: r.u16()?,
            echo_timestamp: r.u32()?,
            hold_us: r.u32()?,
        };
        if i.interval_cs == 0 {
            return Err(WireError::Malformed("ihu interval 0"));
        }
        r.finish()?;
        Ok(i)
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.rxcost.to_be_bytes());
        out.extend_from_slice(&self.interval_cs.to_be_bytes());
        out.extend_from_slice(&self.echo_timestamp.to_be_bytes());
        out.extend_from_slice(&self.hold_us.to_be_bytes());
    }
}
