//! The AEAD used for link frames and end-to-end payloads: ChaCha20-Poly1305 with Noise's
//! nonce layout (4 zero bytes, then the 64-bit counter little-endian), sealing in place.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

/// Tag length.
pub const TAG_LEN: usize = 16;

/// One direction's key.
#[derive(Clone)]
pub struct Cipher(ChaCha20Poly1305);

fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    Nonce::from(n)
}

impl Cipher {
    /// A cipher for a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Cipher(ChaCha20Poly1305::new(&Key::from(*key)))
    }

    /// Encrypts `buf[start..]` in place and appends the tag; `buf[..start]` is the associated
    /// data.
    pub fn seal(&self, counter: u64, buf: &mut Vec<u8>, start: usize) {
        let (aad, msg) = buf.split_at_mut(start);
        let tag = self
            .0
            .encrypt_inout_detached(&nonce(counter), aad, msg.into())
            .expect("plaintext below the AEAD's 256 GiB limit");
        buf.extend_from_slice(&tag);
    }

    /// Encrypts `msg` in place, authenticating `aad` too, and appends the tag to `msg`.
    pub fn seal_detached(&self, counter: u64, aad: &[u8], msg: &mut [u8]) -> [u8; TAG_LEN] {
        let tag = self
            .0
            .encrypt_inout_detached(&nonce(counter), aad, msg.into())
            .expect("plaintext below the AEAD's 256 GiB limit");
        tag.into()
    }

    /// Decrypts `sealed` (ciphertext ‖ tag) in place. On success returns the plaintext part.
    pub fn open<'a>(&self, counter: u64, aad: &[u8], sealed: &'a mut [u8]) -> Option<&'a mut [u8]> {
        let ct_len = sealed.len().checked_sub(TAG_LEN)?;
        let (ct, tag) = sealed.split_at_mut(ct_len);
        let tag = Tag::try_from(&tag[..]).ok()?;
        self.0
            .decrypt_inout_detached(&nonce(counter), aad, (&mut *ct).into(), &tag)
            .ok()?;
        Some(ct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_tamper() {
        let c = Cipher::new(&[5; 32]);
        let mut buf = b"hdrpayload".to_vec();
        c.seal(1, &mut buf, 3);
        assert_eq!(buf.len(), 10 + TAG_LEN);
        let (aad, sealed) = buf.split_at_mut(3);
        let aad = aad.to_vec();
        let mut copy = sealed.to_vec();
        assert_eq!(c.open(1, &aad, &mut copy).unwrap(), b"payload");
        let mut copy = sealed.to_vec();
        assert!(c.open(2, &aad, &mut copy).is_none(), "wrong nonce");
        let mut copy = sealed.to_vec();
        assert!(c.open(1, b"hdx", &mut copy).is_none(), "wrong aad");
    }
}
