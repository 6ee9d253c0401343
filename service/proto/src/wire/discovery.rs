//! LAN discovery: signed hellos on a link-local multicast group, answered by a unicast confirm.
//!
//! ```text
//! 0x10 | version u8 | kind u8 (0 hello, 1 confirm) | node_id (32) | seq u64 | port u16 |
//! network_tag (8) | echo_seq u64 | signature (64)          = 125 bytes
//! ```
//! The signature covers [`SIGNING_CONTEXT`] followed by every byte before it. `seq` grows with
//! every hello a node sends (receivers drop a seq not above the last one seen: replay);
//! `network_tag` keeps private networks apart; `echo_seq` is the hello a confirm answers.

use super::{Reader, WireError};
use crate::identity::{Identity, NodeId, SIGNATURE_LEN};

/// Type byte of a discovery datagram.
pub const TYPE_DISCOVERY: u8 = 0x10;
/// Version of the discovery format.
pub const DISCOVERY_VERSION: u8 = 1;
/// Total length of a discovery datagram.
pub const DISCOVERY_LEN: usize = 125;
/// Domain separation for the signature.
pub const SIGNING_CONTEXT: &[u8] = b"hypha discovery v1";

/// Hello (multicast) or confirm (unicast answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryKind {
    /// "I am here", sent to the multicast group.
    Hello = 0,
    /// "I heard you", sent straight back to a hello's sender.
    Confirm = 1,
}

/// A discovery datagram. `parse` checks the layout only; call [`DiscoveryRepr::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryRepr {
    /// Hello or confirm.
    pub kind: DiscoveryKind,
    /// Sender.
    pub node_id: NodeId,
    /// Sender's discovery sequence number.
    pub seq: u64,
    /// UDP port the sender's link listener is on.
    pub port: u16,
    /// First bytes of a hash of the network name (zero for the public mesh).
    pub network_tag: [u8; 8],
    /// For a confirm, the hello `seq` it answers; zero for a hello.
    pub echo_seq: u64,
    /// ed25519 signature.
    pub signature: [u8; SIGNATURE_LEN],
}

impl DiscoveryRepr {
    /// Builds and signs a datagram.
    #[allow(clippy::too_many_arguments)]
    pub fn signed(
        identity: &Identity,
        kind: DiscoveryKind,
        seq: u64,
        port: u16,
        network_tag: [u8; 8],
        echo_seq: u64,
    ) -> Self {
        let mut repr = DiscoveryRepr {
            kind,
            node_id: identity.node_id(),
            seq,
            port,
            network_tag,
            echo_seq,
            signature: [0; SIGNATURE_LEN],
        };
        repr.signature = identity.sign(&repr.signed_bytes());
        repr
    }

    fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(DISCOVERY_LEN);
        b.push(TYPE_DISCOVERY);
        b.push(DISCOVERY_VERSION);
        b.push(self.kind as u8);
        b.extend_from_slice(self.node_id.as_bytes());
        b.extend_from_slice(&self.seq.to_be_bytes());
        b.extend_from_slice(&self.port.to_be_bytes());
        b.extend_from_slice(&self.network_tag);
        b.extend_from_slice(&self.echo_seq.to_be_bytes());
        b
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut m = SIGNING_CONTEXT.to_vec();
        m.extend_from_slice(&self.body());
        m
    }

    /// True when the signature is the sender's.
    pub fn verify(&self) -> bool {
        self.node_id.verify(&self.signed_bytes(), &self.signature)
    }

    /// Parses the fixed-size datagram.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let t = r.u8()?;
        if t != TYPE_DISCOVERY {
            return Err(WireError::UnknownType(t));
        }
        let v = r.u8()?;
        if v != DISCOVERY_VERSION {
            return Err(WireError::Version(v));
        }
        let kind = match r.u8()? {
            0 => DiscoveryKind::Hello,
            1 => DiscoveryKind::Confirm,
            _ => return Err(WireError::Malformed("discovery kind")),
        };
        let repr = DiscoveryRepr {
            kind,
            node_id: NodeId::from_bytes(r.array()?),
            seq: r.u64()?,
            port: r.u16()?,
            network_tag: r.array()?,
            echo_seq: r.u64()?,
            signature: r.array()?,
        };
        r.finish()?;
        Ok(repr)
    }

    /// Appends the datagram to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.body());
        out.extend_from_slice(&self.signature);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_hello_verifies_and_tamper_fails() {
        let id = Identity::from_seed([3; 32]);
        let h = DiscoveryRepr::signed(&id, DiscoveryKind::Hello, 5, 7946, [0; 8], 0);
        let mut buf = Vec::new();
        h.emit(&mut buf);
        assert_eq!(buf.len(), DISCOVERY_LEN);
        let p = DiscoveryRepr::parse(&buf).unwrap();
        assert!(p.verify());
        buf[40] ^= 1; // inside seq
        assert!(!DiscoveryRepr::parse(&buf).unwrap().verify());
    }
}
