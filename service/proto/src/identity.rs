//! Node identity: one ed25519 key, with the x25519 key for Diffie-Hellman derived from it.
//!
//! The x25519 secret is the clamped ed25519 scalar (SHA-512 of the seed, as libsodium's
//! `crypto_sign_ed25519_sk_to_curve25519`), and the x25519 public key is the Montgomery form of
//! the ed25519 point. So one 32-byte seed lets a node both sign (discovery hellos, name records)
//! and do DH (link handshakes, end-to-end sessions), and anyone holding the node id can compute
//! the DH public key without a separate announcement.

use core::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use x25519_dalek::{PublicKey as XPublic, StaticSecret};

use crate::address::{self, Address, Subnet};

/// Length of a node id (an ed25519 public key) in bytes.
pub const NODE_ID_LEN: usize = 32;
/// Length of an ed25519 signature in bytes.
pub const SIGNATURE_LEN: usize = 64;

/// A node's public identity: its ed25519 public key, as 32 bytes.
///
/// Holding a `NodeId` does not prove the bytes are a valid curve point; use
/// [`NodeId::verifying_key`] / [`NodeId::x25519_public`], which check.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId([u8; NODE_ID_LEN]);

impl NodeId {
    /// Wraps raw bytes (not validated as a curve point).
    pub const fn from_bytes(bytes: [u8; NODE_ID_LEN]) -> Self {
        NodeId(bytes)
    }

    /// The raw 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; NODE_ID_LEN] {
        &self.0
    }

    /// Lower-case hex, 64 characters (used in `<hex>.hypha` names).
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// Parses 64 hex characters; checks the bytes are a valid ed25519 point.
    pub fn from_hex(s: &str) -> Result<Self, IdentityError> {
        let s = s.trim();
        if s.len() != 64 || !s.is_ascii() {
            return Err(IdentityError::BadHex);
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hi = (chunk[0] as char)
                .to_digit(16)
                .ok_or(IdentityError::BadHex)?;
            let lo = (chunk[1] as char)
                .to_digit(16)
                .ok_or(IdentityError::BadHex)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        let id = NodeId(out);
        id.verifying_key()?;
        Ok(id)
    }

    /// The ed25519 verifying key, if the bytes are a valid point of large order.
    ///
    /// Small-order points (the identity among them) are refused: every key verifies some
    /// signatures under them and their Diffie-Hellman result is fixed, so such an id would
    /// prove nothing about who holds it.
    pub fn verifying_key(&self) -> Result<VerifyingKey, IdentityError> {
        let vk = VerifyingKey::from_bytes(&self.0).map_err(|_| IdentityError::InvalidKey)?;
        if vk.is_weak() {
            return Err(IdentityError::InvalidKey);
        }
        Ok(vk)
    }

    /// The x25519 public key this node uses for Diffie-Hellman.
    pub fn x25519_public(&self) -> Result<[u8; 32], IdentityError> {
        Ok(self.verifying_key()?.to_montgomery().to_bytes())
    }

    /// Checks an ed25519 signature by this node over `msg`, strictly: non-canonical `s`,
    /// small-order `R` and weak keys are all refused, so a signature is never malleable.
    pub fn verify(&self, msg: &[u8], sig: &[u8; SIGNATURE_LEN]) -> bool {
        match self.verifying_key() {
            Ok(vk) => vk.verify_strict(msg, &Signature::from_bytes(sig)).is_ok(),
            Err(_) => false,
        }
    }

    /// This node's overlay address.
    pub fn address(&self) -> Address {
        address::address_of(self)
    }

    /// The /64 this node owns.
    pub fn subnet(&self) -> Subnet {
        self.address().subnet()
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Eight hex digits are enough to tell nodes apart in logs.
        write!(f, "NodeId({}…)", &self.to_hex()[..8])
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Errors about keys and identities.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// Not 64 hex characters.
    #[error("a node id is 64 hex characters")]
    BadHex,
    /// The bytes are not a valid ed25519 public key.
    #[error("not a valid ed25519 public key")]
    InvalidKey,
}

/// A node's secret identity. Never logged: `Debug` prints only the public id.
pub struct Identity {
    signing: SigningKey,
    dh: StaticSecret,
    id: NodeId,
    dh_public: [u8; 32],
}

impl Identity {
    /// Builds the identity from its 32-byte ed25519 seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(&seed);
        let dh = StaticSecret::from(signing.to_scalar_bytes());
        let id = NodeId(signing.verifying_key().to_bytes());
        let dh_public = XPublic::from(&dh).to_bytes();
        Identity {
            signing,
            dh,
            id,
            dh_public,
        }
    }

    /// The seed, for storing in the key file.
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public node id.
    pub fn node_id(&self) -> NodeId {
        self.id
    }

    /// The x25519 secret as bytes (what the Noise handshake takes as its static key).
    pub fn dh_secret_bytes(&self) -> [u8; 32] {
        self.dh.to_bytes()
    }

    /// The x25519 public key (equal to `node_id().x25519_public()`).
    pub fn dh_public(&self) -> [u8; 32] {
        self.dh_public
    }

    /// x25519 with a peer's DH public key. Returns `None` for a low-order peer key (all-zero
    /// shared secret), which would let anyone derive the key.
    pub fn dh(&self, peer_dh_public: &[u8; 32]) -> Option<[u8; 32]> {
        let shared = self.dh.diffie_hellman(&XPublic::from(*peer_dh_public));
        shared.was_contributory().then(|| shared.to_bytes())
    }

    /// Signs `msg` with the node's ed25519 key.
    pub fn sign(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.signing.sign(msg).to_bytes()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity").field("id", &self.id).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dh_public_matches_montgomery_form_of_node_id() {
        for i in 0..16u8 {
            let id = Identity::from_seed([i; 32]);
            assert_eq!(id.node_id().x25519_public().unwrap(), id.dh_public());
        }
    }

    #[test]
    fn dh_agrees_both_ways() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let ab = a.dh(&b.node_id().x25519_public().unwrap()).unwrap();
        let ba = b.dh(&a.node_id().x25519_public().unwrap()).unwrap();
        assert_eq!(ab, ba);
    }

    #[test]
    fn low_order_peer_key_is_refused() {
        let a = Identity::from_seed([1; 32]);
        assert_eq!(a.dh(&[0u8; 32]), None);
    }

    #[test]
    fn small_order_ids_are_not_keys() {
        // The identity point (y = 1) and the point of order 2 (y = -1).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        for bytes in [identity, minus_one] {
            let id = NodeId::from_bytes(bytes);
            assert_eq!(id.verifying_key().err(), Some(IdentityError::InvalidKey));
            assert!(id.x25519_public().is_err());
            assert!(!id.verify(b"x", &[0; 64]));
            assert!(NodeId::from_hex(&id.to_hex()).is_err());
        }
    }

    #[test]
    fn sign_verify_and_hex_roundtrip() {
        let a = Identity::from_seed([9; 32]);
        let sig = a.sign(b"hello");
        assert!(a.node_id().verify(b"hello", &sig));
        assert!(!a.node_id().verify(b"hellp", &sig));
        let hex = a.node_id().to_hex();
        assert_eq!(NodeId::from_hex(&hex).unwrap(), a.node_id());
        assert_eq!(NodeId::from_hex("zz"), Err(IdentityError::BadHex));
    }

    #[test]
    fn seed_zero_vector() {
        // RFC 8032 gives no all-zero vector; this pins our derivation (see docs/PROTOCOL.md).
        let id = Identity::from_seed([0; 32]);
        assert_eq!(
            id.node_id().to_hex(),
            "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
        );
    }
}
