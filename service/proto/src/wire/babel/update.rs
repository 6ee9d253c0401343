//! Update TLV: `flags u8 | plen u8 | interval_cs u16 | seqno u16 | metric u16 |
//! router_id (36) | prefix (ceil(plen/8)) | origin signature (64, finite metrics only)`.
//! Metric 0xFFFF is a retraction and carries no signature. A finite update flagged
//! [`SIGNATURE_HELD`] (link version 6) carries none either: the sender knows the receiver
//! already verified that (router id, seqno).
//!
//! The origin signature is the originator's ed25519 signature over (router id, seqno) (see
//! [`origin_signed_bytes`]): relays pass it along unchanged, so nobody but the holder of a node
//! key can announce its /64 or raise its sequence number.

use super::{INFINITY, Prefix, RouterId};
use crate::identity::SIGNATURE_LEN;
use crate::wire::{Reader, WireError};

/// Domain separation of origin signatures.
pub const ORIGIN_CONTEXT: &[u8] = b"hypha route origin v1";
/// Length of the bytes an originator signs.
pub const ORIGIN_SIGNED_LEN: usize = ORIGIN_CONTEXT.len() + RouterId::LEN + 2;

/// What the originator of `router_id` signs to vouch for `seqno`:
/// `"hypha route origin v1" ‖ router_id (36) ‖ seqno u16`. The prefix is not included: it is
/// the /64 derived from the router id's node id, the only one a router id may announce.
pub fn origin_signed_bytes(router_id: &RouterId, seqno: u16) -> [u8; ORIGIN_SIGNED_LEN] {
    let mut out = [0u8; ORIGIN_SIGNED_LEN];
    let (ctx, rest) = out.split_at_mut(ORIGIN_CONTEXT.len());
    ctx.copy_from_slice(ORIGIN_CONTEXT);
    rest[..32].copy_from_slice(router_id.node.as_bytes());
    rest[32..36].copy_from_slice(&router_id.suffix.to_be_bytes());
    rest[36..].copy_from_slice(&seqno.to_be_bytes());
    out
}

/// [`UpdateRepr::flags`]: the signature is left out because the receiver holds it — it sent
/// us this (router id, seqno) itself, or we sent it the signature before. A receiver that does
/// not hold it drops the update and asks for the route again (a route request), which is
/// answered signed. Only on finite updates.
pub const SIGNATURE_HELD: u8 = 0x01;

/// A route update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateRepr {
    /// 0 or [`SIGNATURE_HELD`]; other bits are reserved and refused.
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
    /// The originator's signature over (router id, seqno); present exactly when the metric is
    /// finite and the update is not flagged [`SIGNATURE_HELD`].
    pub signature: Option<[u8; SIGNATURE_LEN]>,
}

impl UpdateRepr {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let flags = r.u8()?;
        if flags & !SIGNATURE_HELD != 0 {
            return Err(WireError::Malformed("update flags"));
        }
        let plen = r.u8()?;
        let interval_cs = r.u16()?;
        let seqno = r.u16()?;
        let metric = r.u16()?;
        let router_id = RouterId::read(&mut r)?;
        let prefix = Prefix::read(&mut r, plen)?;
        let held = flags & SIGNATURE_HELD != 0;
        if held && metric == INFINITY {
            return Err(WireError::Malformed("retraction flagged as signed"));
        }
        let signature = if metric == INFINITY || held {
            None
        } else {
            Some(r.array()?)
        };
        r.finish()?;
        Ok(UpdateRepr {
            flags,
            interval_cs,
            seqno,
            metric,
            router_id,
            prefix,
            signature,
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
        // A finite metric without a signature or the held flag is a programming error; the
        // receiver would refuse the TLV as truncated.
        debug_assert_eq!(
            self.signature.is_some(),
            self.metric != INFINITY && self.flags & SIGNATURE_HELD == 0
        );
        if self.metric != INFINITY
            && let Some(sig) = &self.signature
        {
            out.extend_from_slice(sig);
        }
    }

    /// True when the signature was left out because the receiver holds it.
    pub fn signature_held(&self) -> bool {
        self.flags & SIGNATURE_HELD != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NodeId;

    fn update(flags: u8, metric: u16, signature: Option<[u8; 64]>) -> UpdateRepr {
        let node = NodeId::from_bytes([3; 32]);
        UpdateRepr {
            flags,
            interval_cs: 3200,
            seqno: 9,
            metric,
            router_id: RouterId { node, suffix: 1 },
            prefix: Prefix::from_subnet(node.subnet()),
            signature,
        }
    }

    #[test]
    fn a_held_signature_is_left_out_and_only_on_finite_updates() {
        let signed = update(0, 300, Some([7; 64]));
        let held = update(SIGNATURE_HELD, 300, None);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        signed.emit(&mut a);
        held.emit(&mut b);
        assert_eq!(a.len(), b.len() + 64);
        assert_eq!(UpdateRepr::parse(&a), Ok(signed));
        assert_eq!(UpdateRepr::parse(&b), Ok(held));
        assert!(UpdateRepr::parse(&b).unwrap().signature_held());
        // The flag on a retraction, or any other flag bit, is refused.
        let mut c = Vec::new();
        update(0, INFINITY, None).emit(&mut c);
        c[0] = SIGNATURE_HELD;
        assert!(UpdateRepr::parse(&c).is_err());
        for bit in 1..8 {
            let mut d = b.clone();
            d[0] |= 1 << bit;
            assert!(UpdateRepr::parse(&d).is_err(), "flag bit {bit}");
        }
        // A held update followed by a signature's worth of bytes is not a signed one.
        let mut e = b.clone();
        e.extend_from_slice(&[7; 64]);
        assert!(UpdateRepr::parse(&e).is_err());
    }
}
