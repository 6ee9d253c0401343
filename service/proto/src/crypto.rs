//! The AEAD used for link frames and end-to-end payloads: ChaCha20-Poly1305 with Noise's
//! nonce layout (4 zero bytes, then the 64-bit counter little-endian), sealing in place.
//!
//! On Linux the cipher is ring's (hand-tuned assembly, about three times RustCrypto's speed
//! per core here); elsewhere RustCrypto's `chacha20poly1305`, because ring's C and assembly do
//! not cross-check for macOS without its SDK. Both compute the same bytes (tested below).

/// Tag length.
pub const TAG_LEN: usize = 16;

fn nonce_bytes(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n
}

#[cfg(target_os = "linux")]
mod imp {
    use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, Tag, UnboundKey};

    use super::{TAG_LEN, nonce_bytes};

    #[derive(Clone)]
    pub struct Key(LessSafeKey);

    impl Key {
        pub fn new(key: &[u8; 32]) -> Self {
            Key(LessSafeKey::new(
                UnboundKey::new(&CHACHA20_POLY1305, key).expect("32-byte key"),
            ))
        }

        pub fn seal(&self, counter: u64, aad: &[u8], msg: &mut [u8]) -> [u8; TAG_LEN] {
            let tag = self
                .0
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce_bytes(counter)),
                    Aad::from(aad),
                    msg,
                )
                .expect("plaintext below the AEAD's 256 GiB limit");
            let mut out = [0u8; TAG_LEN];
            out.copy_from_slice(tag.as_ref());
            out
        }

        pub fn open(&self, counter: u64, aad: &[u8], ct: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
            let Ok(tag) = Tag::try_from(&tag[..]) else {
                return false;
            };
            let len = ct.len();
            self.0
                .open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce_bytes(counter)),
                    Aad::from(aad),
                    tag,
                    ct,
                    0..,
                )
                .is_ok_and(|pt| pt.len() == len)
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use chacha20poly1305::aead::{AeadInOut, KeyInit};
    use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag};

    use super::{TAG_LEN, nonce_bytes};

    #[derive(Clone)]
    pub struct Key(ChaCha20Poly1305);

    impl Key {
        pub fn new(key: &[u8; 32]) -> Self {
            Key(ChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key)))
        }

        pub fn seal(&self, counter: u64, aad: &[u8], msg: &mut [u8]) -> [u8; TAG_LEN] {
            self.0
                .encrypt_inout_detached(&Nonce::from(nonce_bytes(counter)), aad, msg.into())
                .expect("plaintext below the AEAD's 256 GiB limit")
                .into()
        }

        pub fn open(&self, counter: u64, aad: &[u8], ct: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
            self.0
                .decrypt_inout_detached(
                    &Nonce::from(nonce_bytes(counter)),
                    aad,
                    ct.into(),
                    &Tag::from(*tag),
                )
                .is_ok()
        }
    }
}

/// One direction's key.
#[derive(Clone)]
pub struct Cipher(imp::Key);

impl Cipher {
    /// A cipher for a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Cipher(imp::Key::new(key))
    }

    /// Encrypts `buf[start..]` in place and appends the tag; `buf[..start]` is the associated
    /// data.
    pub fn seal(&self, counter: u64, buf: &mut Vec<u8>, start: usize) {
        let (aad, msg) = buf.split_at_mut(start);
        let tag = self.0.seal(counter, aad, msg);
        buf.extend_from_slice(&tag);
    }

    /// Encrypts `msg` in place, authenticating `aad` too, and returns the tag.
    pub fn seal_detached(&self, counter: u64, aad: &[u8], msg: &mut [u8]) -> [u8; TAG_LEN] {
        self.0.seal(counter, aad, msg)
    }

    /// Decrypts `ct` in place against a tag kept elsewhere; true when it verified.
    pub fn open_detached(
        &self,
        counter: u64,
        aad: &[u8],
        ct: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> bool {
        self.0.open(counter, aad, ct, tag)
    }

    /// Decrypts `sealed` (ciphertext ‖ tag) in place. On success returns the plaintext part.
    pub fn open<'a>(&self, counter: u64, aad: &[u8], sealed: &'a mut [u8]) -> Option<&'a mut [u8]> {
        let ct_len = sealed.len().checked_sub(TAG_LEN)?;
        let (ct, tag) = sealed.split_at_mut(ct_len);
        let tag: [u8; TAG_LEN] = (&*tag).try_into().ok()?;
        self.0.open(counter, aad, ct, &tag).then_some(ct)
    }
}

/// An AEAD seal decided (key, counter, the bytes it covers) but not yet made: it can be made
/// later, on any thread, with the same result. Sealing is most of a data packet's cost.
#[derive(Clone)]
pub struct PendingSeal {
    /// Shared with the link or session: a cipher is hundreds of bytes (ring keeps room for
    /// an AES key schedule), and this moves between queues and threads.
    key: std::sync::Arc<Cipher>,
    counter: u64,
    /// The associated data is `buf[aad_start..msg_start]`; the message is `buf[msg_start..]`
    /// as it stands when the seal is made, and the tag is appended.
    aad_start: usize,
    msg_start: usize,
}

impl PendingSeal {
    /// A seal of `buf[msg_start..]` under `key` and `counter`, authenticating
    /// `buf[aad_start..msg_start]`.
    pub fn new(
        key: &std::sync::Arc<Cipher>,
        counter: u64,
        aad_start: usize,
        msg_start: usize,
    ) -> Self {
        PendingSeal {
            key: key.clone(),
            counter,
            aad_start,
            msg_start,
        }
    }

    /// Bytes it will encrypt in `buf`.
    pub fn len(&self, buf: &[u8]) -> usize {
        buf.len().saturating_sub(self.msg_start)
    }

    /// Makes the seal: encrypts in place and appends the tag.
    pub fn apply(&self, buf: &mut Vec<u8>) {
        let (head, msg) = buf.split_at_mut(self.msg_start);
        let tag = self
            .key
            .seal_detached(self.counter, &head[self.aad_start..], msg);
        buf.extend_from_slice(&tag);
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

    /// ring (Linux) and RustCrypto (elsewhere) must produce the same bytes: nodes on
    /// different systems talk to each other.
    #[cfg(target_os = "linux")]
    #[test]
    fn ring_and_rustcrypto_agree() {
        use chacha20poly1305::aead::{AeadInOut, KeyInit};
        use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
        let key = [7u8; 32];
        let rc = ChaCha20Poly1305::new(&Key::from(key));
        for len in [0usize, 1, 63, 64, 65, 1280, 1400] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 31 + 5) as u8).collect();
            let aad = b"routed header";
            let mut a = msg.clone();
            let tag = Cipher::new(&key).seal_detached(42, aad, &mut a);
            let mut b = msg.clone();
            let tag_rc: [u8; TAG_LEN] = rc
                .encrypt_inout_detached(&Nonce::from(nonce_bytes(42)), aad, (&mut b[..]).into())
                .unwrap()
                .into();
            assert_eq!((a.clone(), tag), (b, tag_rc), "length {len}");
            let mut sealed = a;
            sealed.extend_from_slice(&tag);
            assert_eq!(
                Cipher::new(&key).open(42, aad, &mut sealed).unwrap(),
                &msg[..]
            );
        }
    }
}
