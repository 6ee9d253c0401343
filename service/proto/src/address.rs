//! Overlay addresses: `0600::/7` + 121 bits of a keyed hash of the node id.
//!
//! The /7 avoids Yggdrasil (`200::/7`) and Mycelium (`400::/7`). A node's address lies inside
//! the /64 it owns, so the /64 is what routing announces: one route per node, and a receiver can
//! check that a route's prefix really belongs to the router id announcing it (the subnet filter
//! in [`crate::babel`]).

use core::fmt;
use std::net::Ipv6Addr;

use crate::identity::NodeId;

/// The overlay prefix, `0600::/7`, as its first byte (the low bit is hash).
pub const PREFIX_BYTE: u8 = 0x06;
/// Length of the overlay prefix in bits.
pub const PREFIX_LEN: u8 = 7;
/// The blake3 `derive_key` context that makes the hash keyed and domain-separated.
pub const ADDRESS_CONTEXT: &str = "hypha 2026-11 overlay address v1";

/// A node's overlay IPv6 address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 16]);

/// A node's /64, as the first eight bytes of its addresses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subnet(pub [u8; 8]);

/// The address derived from a node id.
pub fn address_of(id: &NodeId) -> Address {
    let hash = blake3::derive_key(ADDRESS_CONTEXT, id.as_bytes());
    let mut a = [0u8; 16];
    a.copy_from_slice(&hash[..16]);
    a[0] = PREFIX_BYTE | (a[0] & 0x01);
    Address(a)
}

/// True when `addr` lies in the overlay `/7`.
pub fn in_overlay(addr: &[u8; 16]) -> bool {
    addr[0] & 0xfe == PREFIX_BYTE
}

impl Address {
    /// The /64 containing this address.
    pub fn subnet(&self) -> Subnet {
        let mut s = [0u8; 8];
        s.copy_from_slice(&self.0[..8]);
        Subnet(s)
    }

    /// As a standard library address.
    pub fn to_ipv6(self) -> Ipv6Addr {
        Ipv6Addr::from(self.0)
    }
}

impl Subnet {
    /// The /64 containing any address.
    pub fn of(addr: &[u8; 16]) -> Subnet {
        let mut s = [0u8; 8];
        s.copy_from_slice(&addr[..8]);
        Subnet(s)
    }

    /// The subnet's network address (`prefix::`).
    pub fn to_ipv6(self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a[..8].copy_from_slice(&self.0);
        Ipv6Addr::from(a)
    }

    /// True when the /64 lies inside the overlay /7.
    pub fn in_overlay(&self) -> bool {
        self.0[0] & 0xfe == PREFIX_BYTE
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_ipv6().fmt(f)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/64", self.to_ipv6())
    }
}

impl fmt::Debug for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Subnet({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    #[test]
    fn addresses_are_in_the_overlay_and_inside_their_subnet() {
        for i in 0..64u8 {
            let id = Identity::from_seed([i; 32]).node_id();
            let a = id.address();
            assert!(in_overlay(&a.0), "{a}");
            assert!(a.subnet().in_overlay());
            assert_eq!(Subnet::of(&a.0), id.subnet());
            // Never inside Yggdrasil's or Mycelium's /7.
            assert_ne!(a.0[0] & 0xfe, 0x02);
            assert_ne!(a.0[0] & 0xfe, 0x04);
        }
    }

    #[test]
    fn test_vectors() {
        // Pinned in docs/PROTOCOL.md: seed → node id → address → subnet.
        let id = Identity::from_seed([0; 32]).node_id();
        assert_eq!(id.address().to_string(), VECTOR_SEED0_ADDR);
        assert_eq!(id.subnet().to_string(), VECTOR_SEED0_SUBNET);
        let id = Identity::from_seed([1; 32]).node_id();
        assert_eq!(id.address().to_string(), VECTOR_SEED1_ADDR);
    }

    const VECTOR_SEED0_ADDR: &str = "79e:a4ee:eb9:f6c3:a600:acbf:7d6c:701";
    const VECTOR_SEED0_SUBNET: &str = "79e:a4ee:eb9:f6c3::/64";
    const VECTOR_SEED1_ADDR: &str = "6f4:1e22:def1:b482:3a40:9b44:41ca:1cd1";
}
