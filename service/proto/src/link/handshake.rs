//! The neighbour link handshake: Noise XXpsk3 (25519, ChaChaPoly, BLAKE2s) via `snow`.
//!
//! XX because a configured peer (`udp://host:port`) or a discovered one need not be known in
//! advance; psk3 because private networks must keep out nodes without the key — on the public
//! mesh the PSK is a published constant, so one pattern serves both. Each side sends its node id
//! (ed25519 public key) as the encrypted handshake payload; the receiver checks that its
//! Montgomery form equals the Noise static key it just authenticated, which binds the link to
//! both node ids. After the handshake the raw split keys drive our own in-place AEAD
//! ([`crate::crypto::Cipher`]) with an explicit counter and replay window.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use snow::params::NoiseParams;
use snow::resolvers::{CryptoResolver, DefaultResolver};
use snow::types::{Cipher as SnowCipher, Dh, Hash, Random};

use crate::crypto::Cipher;
use crate::identity::{Identity, NODE_ID_LEN, NodeId};

/// The Noise protocol name.
pub const NOISE_PARAMS: &str = "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s";
/// Prologue prefix; the network name follows it.
pub const PROLOGUE: &[u8] = b"hypha link v1";

/// The secret that admits a node to a network.
#[derive(Clone)]
pub struct NetworkKey {
    /// Noise PSK.
    pub psk: [u8; 32],
    /// Noise prologue (binds the network name).
    pub prologue: Vec<u8>,
    /// Tag put in discovery hellos so private networks ignore each other.
    pub tag: [u8; 8],
    /// Key of the MAC that ends every handshake datagram, so that a node without the network
    /// key is turned away before any Diffie-Hellman is spent on it.
    pub mac_key: [u8; 32],
}

/// Payload of Noise message 1: zeros that bring an Init up to
/// [`crate::wire::handshake::INIT_MIN_LEN`] (22 header bytes, a 32-byte ephemeral key).
pub const INIT_PADDING: usize = crate::wire::handshake::INIT_MIN_LEN - 22 - 32;

/// Length of the MAC at the end of every handshake datagram.
pub const HANDSHAKE_MAC_LEN: usize = 16;

impl NetworkKey {
    /// The public mesh: anyone may link.
    pub fn public() -> Self {
        Self::derive("", b"")
    }

    /// A private network: a name and a pre-shared secret.
    pub fn private(name: &str, secret: &[u8]) -> Self {
        Self::derive(name, secret)
    }

    fn derive(name: &str, secret: &[u8]) -> Self {
        let mut h = blake3::Hasher::new_derive_key("hypha 2026-11 network psk v1");
        h.update(&(name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
        h.update(secret);
        let psk = *h.finalize().as_bytes();
        let mut prologue = PROLOGUE.to_vec();
        prologue.extend_from_slice(name.as_bytes());
        let t = blake3::derive_key("hypha 2026-11 network tag v1", name.as_bytes());
        let mut tag = [0u8; 8];
        if !name.is_empty() {
            tag.copy_from_slice(&t[..8]);
        }
        let mac_key = blake3::derive_key("hypha 2026-12 handshake mac v2", &psk);
        NetworkKey {
            psk,
            prologue,
            tag,
            mac_key,
        }
    }

    fn mac(&self, datagram: &[u8]) -> [u8; HANDSHAKE_MAC_LEN] {
        let h = blake3::keyed_hash(&self.mac_key, datagram);
        h.as_bytes()[..HANDSHAKE_MAC_LEN]
            .try_into()
            .expect("16 bytes")
    }

    /// Appends the network MAC to a handshake datagram.
    pub fn seal_handshake(&self, datagram: &mut Vec<u8>) {
        let mac = self.mac(datagram);
        datagram.extend_from_slice(&mac);
    }

    /// The datagram without its MAC, if the MAC is right (compared in constant time).
    pub fn open_handshake<'a>(&self, datagram: &'a [u8]) -> Option<&'a [u8]> {
        let body_len = datagram.len().checked_sub(HANDSHAKE_MAC_LEN)?;
        let (body, mac) = datagram.split_at(body_len);
        let want = self.mac(body);
        let diff = want.iter().zip(mac).fold(0u8, |d, (a, b)| d | (a ^ b));
        (diff == 0).then_some(body)
    }
}

impl core::fmt::Debug for NetworkKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NetworkKey")
            .field("tag", &self.tag)
            .finish()
    }
}

/// Why a handshake failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandshakeError {
    /// Noise rejected the message (wrong PSK, corrupted, wrong order).
    #[error("noise: {0}")]
    Noise(String),
    /// The payload is not a node id matching the authenticated static key.
    #[error("peer's node id does not match its handshake key")]
    IdentityMismatch,
    /// A message arrived that this side does not expect now.
    #[error("unexpected handshake message")]
    Unexpected,
}

impl From<snow::Error> for HandshakeError {
    fn from(e: snow::Error) -> Self {
        HandshakeError::Noise(e.to_string())
    }
}

/// Keys for both directions of an established link.
#[derive(Clone)]
pub struct LinkKeys {
    /// Seals what we send.
    pub send: std::sync::Arc<Cipher>,
    /// Opens what we receive.
    pub recv: Cipher,
    /// Secret that keys the next rekey ([`super::rekey`]); wiped when dropped.
    pub chain: zeroize::Zeroizing<[u8; 32]>,
}

impl LinkKeys {
    /// Keys from a Noise split (`i2r`, `r2i`), seen from the initiator's side or not.
    pub(crate) fn from_split(i2r: &[u8; 32], r2i: &[u8; 32], initiator: bool) -> Self {
        let mut h = blake3::Hasher::new_derive_key("hypha 2026-12 link rekey chain v2");
        h.update(i2r);
        h.update(r2i);
        let chain = zeroize::Zeroizing::new(*h.finalize().as_bytes());
        let (send, recv) = if initiator { (i2r, r2i) } else { (r2i, i2r) };
        LinkKeys {
            send: std::sync::Arc::new(Cipher::new(send)),
            recv: Cipher::new(recv),
            chain,
        }
    }
}

/// An in-progress handshake.
pub struct Handshake {
    noise: snow::HandshakeState,
    initiator: bool,
}

struct SeededRandom(ChaCha20Rng);

impl Random for SeededRandom {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

/// Feeds snow's ephemeral key generation from a seed we draw, so simulations replay exactly.
/// (snow wants a `Sync` resolver, hence the mutex; it asks for the RNG once per handshake.)
pub(crate) struct SeededResolver(pub(crate) std::sync::Mutex<Option<[u8; 32]>>);

impl CryptoResolver for SeededResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        let seed = self.0.lock().ok()?.take()?;
        Some(Box::new(SeededRandom(ChaCha20Rng::from_seed(seed))))
    }
    fn resolve_dh(&self, choice: &snow::params::DHChoice) -> Option<Box<dyn Dh>> {
        DefaultResolver.resolve_dh(choice)
    }
    fn resolve_hash(&self, choice: &snow::params::HashChoice) -> Option<Box<dyn Hash>> {
        DefaultResolver.resolve_hash(choice)
    }
    fn resolve_cipher(&self, choice: &snow::params::CipherChoice) -> Option<Box<dyn SnowCipher>> {
        DefaultResolver.resolve_cipher(choice)
    }
}

fn builder_state(
    identity: &Identity,
    net: &NetworkKey,
    rng_seed: [u8; 32],
    initiator: bool,
) -> Result<snow::HandshakeState, HandshakeError> {
    let params: NoiseParams = NOISE_PARAMS.parse().expect("valid noise params");
    let resolver = SeededResolver(std::sync::Mutex::new(Some(rng_seed)));
    let secret = identity.dh_secret_bytes();
    let b = snow::Builder::with_resolver(params, Box::new(resolver))
        .local_private_key(&secret)?
        .prologue(&net.prologue)?
        .psk(3, &net.psk)?;
    Ok(if initiator {
        b.build_initiator()?
    } else {
        b.build_responder()?
    })
}

pub(crate) fn check_identity(
    noise: &snow::HandshakeState,
    payload: &[u8],
) -> Result<NodeId, HandshakeError> {
    let bytes: [u8; NODE_ID_LEN] = payload
        .try_into()
        .map_err(|_| HandshakeError::IdentityMismatch)?;
    let id = NodeId::from_bytes(bytes);
    let expected = id
        .x25519_public()
        .map_err(|_| HandshakeError::IdentityMismatch)?;
    match noise.get_remote_static() {
        Some(rs) if rs == expected => Ok(id),
        _ => Err(HandshakeError::IdentityMismatch),
    }
}

impl Handshake {
    /// Starts as initiator; returns the state and Noise message 1.
    pub fn initiate(
        identity: &Identity,
        net: &NetworkKey,
        rng_seed: [u8; 32],
    ) -> Result<(Self, Vec<u8>), HandshakeError> {
        let mut noise = builder_state(identity, net, rng_seed, true)?;
        let mut buf = vec![0u8; 256];
        // Zeros as payload make the Init as long as its answer (no amplification).
        let n = noise.write_message(&[0; INIT_PADDING], &mut buf)?;
        buf.truncate(n);
        Ok((
            Handshake {
                noise,
                initiator: true,
            },
            buf,
        ))
    }

    /// Answers Noise message 1 as responder; returns the state and message 2.
    pub fn respond(
        identity: &Identity,
        net: &NetworkKey,
        rng_seed: [u8; 32],
        msg1: &[u8],
    ) -> Result<(Self, Vec<u8>), HandshakeError> {
        let mut noise = builder_state(identity, net, rng_seed, false)?;
        let mut scratch = vec![0u8; 256];
        noise.read_message(msg1, &mut scratch)?;
        let mut buf = vec![0u8; 256];
        let n = noise.write_message(identity.node_id().as_bytes(), &mut buf)?;
        buf.truncate(n);
        Ok((
            Handshake {
                noise,
                initiator: false,
            },
            buf,
        ))
    }

    /// Initiator: reads message 2, writes message 3; the link keys are ready.
    pub fn finish_initiator(
        mut self,
        identity: &Identity,
        msg2: &[u8],
    ) -> Result<(LinkKeys, NodeId, Vec<u8>), HandshakeError> {
        if !self.initiator {
            return Err(HandshakeError::Unexpected);
        }
        let mut payload = vec![0u8; 256];
        let n = self.noise.read_message(msg2, &mut payload)?;
        let peer = check_identity(&self.noise, &payload[..n])?;
        let mut buf = vec![0u8; 256];
        let n = self
            .noise
            .write_message(identity.node_id().as_bytes(), &mut buf)?;
        buf.truncate(n);
        let keys = self.split()?;
        Ok((keys, peer, buf))
    }

    /// Responder: reads message 3; the link keys are ready.
    pub fn finish_responder(mut self, msg3: &[u8]) -> Result<(LinkKeys, NodeId), HandshakeError> {
        if self.initiator {
            return Err(HandshakeError::Unexpected);
        }
        let mut payload = vec![0u8; 256];
        let n = self.noise.read_message(msg3, &mut payload)?;
        let peer = check_identity(&self.noise, &payload[..n])?;
        Ok((self.split()?, peer))
    }

    fn split(&mut self) -> Result<LinkKeys, HandshakeError> {
        if !self.noise.is_handshake_finished() {
            return Err(HandshakeError::Unexpected);
        }
        let (i2r, r2i) = self.noise.dangerously_get_raw_split();
        Ok(LinkKeys::from_split(&i2r, &r2i, self.initiator))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        a: &Identity,
        b: &Identity,
        na: &NetworkKey,
        nb: &NetworkKey,
    ) -> Result<(LinkKeys, LinkKeys, NodeId, NodeId), HandshakeError> {
        let (hi, m1) = Handshake::initiate(a, na, [1; 32])?;
        let (hr, m2) = Handshake::respond(b, nb, [2; 32], &m1)?;
        let (ki, peer_of_a, m3) = hi.finish_initiator(a, &m2)?;
        let (kr, peer_of_b) = hr.finish_responder(&m3)?;
        Ok((ki, kr, peer_of_a, peer_of_b))
    }

    #[test]
    fn handshake_binds_ids_and_keys_match() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let n = NetworkKey::public();
        let (ki, kr, pa, pb) = run(&a, &b, &n, &n).unwrap();
        assert_eq!(pa, b.node_id());
        assert_eq!(pb, a.node_id());
        let mut buf = b"xxxxping".to_vec();
        ki.send.seal(0, &mut buf, 4);
        let aad = buf[..4].to_vec();
        assert_eq!(kr.recv.open(0, &aad, &mut buf[4..]).unwrap(), b"ping");
    }

    #[test]
    fn wrong_psk_fails_at_responder() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let good = NetworkKey::private("lab", b"secret");
        let bad = NetworkKey::private("lab", b"guess");
        assert!(run(&a, &b, &bad, &good).is_err());
        assert!(run(&a, &b, &good, &bad).is_err());
        let other_name = NetworkKey::private("lab2", b"secret");
        assert!(run(&a, &b, &other_name, &good).is_err());
    }
}
