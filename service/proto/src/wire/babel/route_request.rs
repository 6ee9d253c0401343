//! Route request TLV: `plen u8 | prefix`. `plen` 0 asks for a full table dump.

use super::Prefix;
use crate::wire::{Reader, WireError};

/// A route request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRequestRepr {
    /// The prefix wanted (length 0 = every route).
    pub prefix: Prefix,
}

impl RouteRequestRepr {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let plen = r.u8()?;
        let prefix = Prefix::read(&mut r, plen)?;
        r.finish()?;
        Ok(RouteRequestRepr { prefix })
    }

    /// Appends the body.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.prefix.len);
        self.prefix.write(out);
    }
}
