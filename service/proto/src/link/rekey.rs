//! New keys for an established link without a new link: Noise `NNpsk0` run inside the link.
//!
//! The two messages travel in transport frames sealed with the current keys, which already
//! authenticate both ends, so the pattern needs no static keys. Fresh ephemerals on both sides
//! (`ee`) give the new keys forward secrecy: once the old keys and ephemerals are dropped,
//! nothing a node holds decrypts what it sent before. The PSK is the link's chain key, a secret
//! derived from the previous keys, so a rekey is bound to the link it continues and an
//! attacker who somehow injected the messages would still not learn the result.

use snow::params::NoiseParams;

use super::handshake::{LinkKeys, SeededResolver};
use crate::wire::rekey::NOISE_LEN;

/// The Noise protocol name of a link rekey.
pub const REKEY_PARAMS: &str = "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s";
const PROLOGUE: &[u8] = b"hypha link rekey v2";

/// Why a rekey message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("rekey: {0}")]
pub struct RekeyError(String);

impl From<snow::Error> for RekeyError {
    fn from(e: snow::Error) -> Self {
        RekeyError(e.to_string())
    }
}

/// An offered rekey, waiting for the answer.
pub struct Offer {
    noise: snow::HandshakeState,
}

fn state(
    chain: &[u8; 32],
    rng_seed: [u8; 32],
    offerer: bool,
) -> Result<snow::HandshakeState, RekeyError> {
    let params: NoiseParams = REKEY_PARAMS.parse().expect("valid noise params");
    let resolver = SeededResolver(std::sync::Mutex::new(Some(rng_seed)));
    let b = snow::Builder::with_resolver(params, Box::new(resolver))
        .prologue(PROLOGUE)?
        .psk(0, chain)?;
    Ok(if offerer {
        b.build_initiator()?
    } else {
        b.build_responder()?
    })
}

fn split(noise: &mut snow::HandshakeState, offerer: bool) -> Result<LinkKeys, RekeyError> {
    if !noise.is_handshake_finished() {
        return Err(RekeyError("handshake not finished".into()));
    }
    let (o2a, a2o) = noise.dangerously_get_raw_split();
    Ok(LinkKeys::from_split(&o2a, &a2o, offerer))
}

impl Offer {
    /// Starts a rekey on a link whose chain key is `chain`; returns the offer message.
    pub fn new(
        chain: &[u8; 32],
        rng_seed: [u8; 32],
    ) -> Result<(Self, [u8; NOISE_LEN]), RekeyError> {
        let mut noise = state(chain, rng_seed, true)?;
        let mut buf = [0u8; NOISE_LEN];
        let n = noise.write_message(&[], &mut buf)?;
        if n != NOISE_LEN {
            return Err(RekeyError(format!("offer of {n} bytes")));
        }
        Ok((Offer { noise }, buf))
    }

    /// Reads the answer: the new keys (ours to send with, ours to receive with).
    pub fn finish(mut self, answer: &[u8; NOISE_LEN]) -> Result<LinkKeys, RekeyError> {
        let mut scratch = [0u8; NOISE_LEN];
        self.noise.read_message(answer, &mut scratch)?;
        split(&mut self.noise, true)
    }
}

/// Answers an offer: the new keys and the answer message.
pub fn answer(
    chain: &[u8; 32],
    rng_seed: [u8; 32],
    offer: &[u8; NOISE_LEN],
) -> Result<(LinkKeys, [u8; NOISE_LEN]), RekeyError> {
    let mut noise = state(chain, rng_seed, false)?;
    let mut scratch = [0u8; NOISE_LEN];
    noise.read_message(offer, &mut scratch)?;
    let mut buf = [0u8; NOISE_LEN];
    let n = noise.write_message(&[], &mut buf)?;
    if n != NOISE_LEN {
        return Err(RekeyError(format!("answer of {n} bytes")));
    }
    Ok((split(&mut noise, false)?, buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(keys: &LinkKeys, msg: &[u8]) -> Vec<u8> {
        let mut buf = [b"hdr!", msg].concat();
        keys.send.seal(0, &mut buf, 4);
        buf
    }

    fn opens(keys: &LinkKeys, buf: &[u8]) -> bool {
        let mut b = buf.to_vec();
        let (h, rest) = b.split_at_mut(4);
        keys.recv.open(0, h, rest).is_some()
    }

    #[test]
    fn both_sides_agree_and_the_keys_are_new() {
        let chain = [5u8; 32];
        let (offer, m1) = Offer::new(&chain, [1; 32]).unwrap();
        let (answered, m2) = answer(&chain, [2; 32], &m1).unwrap();
        let offered = offer.finish(&m2).unwrap();
        let f = sealed(&offered, b"new keys");
        assert!(opens(&answered, &f));
        let g = sealed(&answered, b"back");
        assert!(opens(&offered, &g));
        // Directions differ, and the next chain key differs from this one.
        assert!(!opens(&offered, &f));
        assert_eq!(offered.chain, answered.chain);
        assert_ne!(*offered.chain, chain);
        // Another run with other ephemerals gives other keys.
        let (offer2, m1b) = Offer::new(&chain, [3; 32]).unwrap();
        let (answered2, m2b) = answer(&chain, [4; 32], &m1b).unwrap();
        let offered2 = offer2.finish(&m2b).unwrap();
        assert!(!opens(&answered2, &f));
        assert_ne!(offered2.chain, offered.chain);
    }

    #[test]
    fn a_wrong_chain_key_is_refused() {
        let (offer, m1) = Offer::new(&[5; 32], [1; 32]).unwrap();
        assert!(answer(&[6; 32], [2; 32], &m1).is_err());
        let (_, m2) = answer(&[5; 32], [2; 32], &m1).unwrap();
        let mut bad = m2;
        bad[40] ^= 1;
        assert!(offer.finish(&bad).is_err());
    }
}
