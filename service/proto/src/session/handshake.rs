//! The end-to-end session handshake: Noise IK (25519, ChaChaPoly, BLAKE2s) via `snow`.
//!
//! IK because the initiator already knows the responder's static key (it is derived from the
//! node id it routes to), so one round trip sets up a session. Each side contributes a fresh
//! ephemeral key and the transport keys depend on their DH (`ee`), so a recording of a session
//! stays sealed even if both static keys leak later: forward secrecy. Message 1 carries the
//! initiator's node id (bound to its static key like the link handshake does); message 2
//! carries nothing. Neither carries application data, so a replayed message 1 can make the
//! responder build a session nobody will ever confirm, but never deliver anything.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use snow::params::NoiseParams;

use crate::crypto::Cipher;
use crate::identity::{Identity, NodeId};
use crate::link::handshake::{HandshakeError, SeededResolver, check_identity};

/// The Noise pattern of end-to-end sessions.
pub const NOISE_PARAMS: &str = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
/// Noise prologue of end-to-end sessions (binds the protocol version).
pub const PROLOGUE: &[u8] = b"hypha e2e v2";

/// Both directions' keys of a session.
#[derive(Clone)]
pub struct Keys {
    /// Seals what we send.
    pub send: std::sync::Arc<Cipher>,
    /// Opens what we receive.
    pub recv: Cipher,
}

/// An initiator waiting for message 2.
pub struct Initiator {
    noise: snow::HandshakeState,
}

/// The initiator's state when `remote` (the responder's static key) is given, else the
/// responder's.
fn build(
    me: &Identity,
    seed: [u8; 32],
    remote: Option<&[u8; 32]>,
) -> Result<snow::HandshakeState, HandshakeError> {
    let params: NoiseParams = NOISE_PARAMS.parse().expect("valid noise params");
    let resolver = SeededResolver(std::sync::Mutex::new(Some(seed)));
    let secret = me.dh_secret_bytes();
    let b = snow::Builder::with_resolver(params, Box::new(resolver))
        .local_private_key(&secret)?
        .prologue(PROLOGUE)?;
    Ok(match remote {
        Some(r) => b.remote_public_key(r)?.build_initiator()?,
        None => b.build_responder()?,
    })
}

fn split(noise: &mut snow::HandshakeState, initiator: bool) -> Keys {
    let (i2r, r2i) = noise.dangerously_get_raw_split();
    let (send, recv) = if initiator { (i2r, r2i) } else { (r2i, i2r) };
    Keys {
        send: std::sync::Arc::new(Cipher::new(&send)),
        recv: Cipher::new(&recv),
    }
}

/// Starts a session with `peer`; returns the state and message 1. `seed` drives the
/// ephemeral key, so simulations replay exactly.
pub fn initiate(
    me: &Identity,
    peer: &NodeId,
    seed: [u8; 32],
) -> Result<(Initiator, Vec<u8>), HandshakeError> {
    let remote = peer
        .x25519_public()
        .map_err(|_| HandshakeError::IdentityMismatch)?;
    let mut noise = build(me, seed, Some(&remote))?;
    let mut msg = vec![0u8; 256];
    let n = noise.write_message(me.node_id().as_bytes(), &mut msg)?;
    msg.truncate(n);
    Ok((Initiator { noise }, msg))
}

impl Initiator {
    /// Reads message 2 and returns the session keys.
    pub fn finish(mut self, msg2: &[u8]) -> Result<Keys, HandshakeError> {
        let mut payload = vec![0u8; 64];
        let n = self.noise.read_message(msg2, &mut payload)?;
        if n != 0 || !self.noise.is_handshake_finished() {
            return Err(HandshakeError::Unexpected);
        }
        Ok(split(&mut self.noise, true))
    }
}

/// Answers message 1: returns the keys, the initiator's node id and message 2.
pub fn respond(
    me: &Identity,
    seed: [u8; 32],
    msg1: &[u8],
) -> Result<(Keys, NodeId, Vec<u8>), HandshakeError> {
    let mut noise = build(me, seed, None)?;
    let mut payload = vec![0u8; 64];
    let n = noise.read_message(msg1, &mut payload)?;
    let peer = check_identity(&noise, &payload[..n])?;
    let mut msg = vec![0u8; 128];
    let n = noise.write_message(&[], &mut msg)?;
    msg.truncate(n);
    if !noise.is_handshake_finished() {
        return Err(HandshakeError::Unexpected);
    }
    Ok((split(&mut noise, false), peer, msg))
}

/// Derives a fresh 32-byte seed from a node's RNG for one handshake.
pub fn seed_from(rng: &mut ChaCha20Rng) -> [u8; 32] {
    let mut s = [0u8; 32];
    rand_core::Rng::fill_bytes(rng, &mut s);
    s
}

/// A seeded RNG for a session table.
pub fn rng(seed: [u8; 32]) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_agree_and_sizes_are_as_documented() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let (init, m1) = initiate(&a, &b.node_id(), [3; 32]).unwrap();
        assert_eq!(m1.len(), 32 + 48 + 48);
        let (kb, who, m2) = respond(&b, [4; 32], &m1).unwrap();
        assert_eq!(who, a.node_id());
        assert_eq!(m2.len(), 32 + 16);
        let ka = init.finish(&m2).unwrap();
        let mut msg = b"hello".to_vec();
        let tag = ka.send.seal_detached(0, b"ad", &mut msg);
        msg.extend_from_slice(&tag);
        assert_eq!(kb.recv.open(0, b"ad", &mut msg).unwrap(), b"hello");
    }

    #[test]
    fn a_hello_for_someone_else_fails() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let c = Identity::from_seed([3; 32]);
        let (_, m1) = initiate(&a, &b.node_id(), [3; 32]).unwrap();
        assert!(respond(&c, [4; 32], &m1).is_err());
    }
}
