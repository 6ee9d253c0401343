//! Data frames: a routed data packet on a link, sealed once.
//!
//! ```text
//! off 0  type u8 = 0x06 | 1 receiver_index u32 | 5 counter u64
//! off 13 routed header (32), encrypted with the link key
//! off 45 the routed packet's end-to-end ciphertext and tag, as they are
//! end-16 link tag
//! ```
//! The payload of a routed data packet is already sealed end to end, so a link neither
//! encrypts it again nor runs its MAC over it: the link AEAD (ChaCha20-Poly1305, nonce =
//! counter as for transport frames) encrypts the 32-byte routed header, which says who talks
//! to whom, and authenticates as associated data the length of the end-to-end part and its
//! tag (18 bytes, [`aad`]). The end-to-end tag is a MAC over every payload byte under a key
//! only the packet's two ends hold, so the link tag binds the whole frame without the link
//! reading the payload: a relay does no AEAD work over it (link version 7; from version 2 to
//! 6 relays ran Poly1305 over the payload twice per packet, 40 % of a relay's CPU).
//!
//! What a relay can no longer tell is a payload altered on the wire under a genuine header and
//! tag. Such a frame is forwarded once, at its genuine length, and refused by its destination
//! when the end-to-end tag fails; it uses up the genuine frame's link counter. An attacker that
//! can drop frames gains nothing by it, but one that can only observe and inject can now make
//! a routed packet disappear on any hop by racing an altered copy ahead of it (PROTOCOL.md
//! §6.5). No one can inject, replay, resize or redirect a frame.
//!
//! The receiver index selects the key and the counter is the nonce, so neither needs to be in
//! the associated data. Routed packets of other types (hellos, probes) travel inside ordinary
//! transport frames.

use super::WireError;
use crate::wire::routed::{HEADER_LEN as ROUTED_HEADER, TAG_LEN};
use crate::wire::transport::HEADER_LEN;

/// Type byte of a data frame.
pub const TYPE_DATA_FRAME: u8 = 0x06;
/// Shortest data frame: headers, one byte of end-to-end plaintext, both tags.
pub const MIN_LEN: usize = HEADER_LEN + ROUTED_HEADER + 1 + TAG_LEN + TAG_LEN;
/// Longest data frame: the end-to-end part's length must fit the 16 bits of [`aad`] (no
/// datagram is longer anyway; a longer frame from a stream transport is refused, so that two
/// lengths never share one associated data).
pub const MAX_LEN: usize = HEADER_LEN + ROUTED_HEADER + u16::MAX as usize + TAG_LEN;
/// Length of the link AEAD's associated data ([`aad`]).
pub const AAD_LEN: usize = 2 + TAG_LEN;

/// The 13 header bytes of a data frame.
pub fn header(receiver_index: u32, counter: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = TYPE_DATA_FRAME;
    h[1..5].copy_from_slice(&receiver_index.to_be_bytes());
    h[5..13].copy_from_slice(&counter.to_be_bytes());
    h
}

/// Reads (receiver index, counter) of a data frame and checks the length.
pub fn parse(buf: &[u8]) -> Result<(u32, u64), WireError> {
    match buf.first() {
        Some(&TYPE_DATA_FRAME) => {}
        t => return Err(WireError::UnknownType(t.copied().unwrap_or(0))),
    }
    if buf.len() < MIN_LEN {
        return Err(WireError::Truncated);
    }
    if buf.len() > MAX_LEN {
        return Err(WireError::Malformed("data frame too long"));
    }
    Ok((
        u32::from_be_bytes(buf[1..5].try_into().expect("4 bytes")),
        u64::from_be_bytes(buf[5..13].try_into().expect("8 bytes")),
    ))
}

/// The link AEAD's associated data: the length of the routed packet's end-to-end part
/// (`sealed`: ciphertext and tag) as a big-endian u16, then its end-to-end tag. `None` when
/// the length does not fit 16 bits (no frame within [`MAX_LEN`]).
pub fn aad(sealed: &[u8]) -> Option<[u8; AAD_LEN]> {
    let mut a = [0u8; AAD_LEN];
    a[..2].copy_from_slice(&u16::try_from(sealed.len()).ok()?.to_be_bytes());
    match sealed.last_chunk::<TAG_LEN>() {
        // Every parsed frame (MIN_LEN): a fixed-size copy, no call to memcpy.
        Some(tag) => a[2..].copy_from_slice(tag),
        None => a[AAD_LEN - sealed.len()..].copy_from_slice(sealed),
    }
    Some(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip_and_minimum() {
        let mut f = header(7, 9).to_vec();
        f.resize(MIN_LEN, 0);
        assert_eq!(parse(&f), Ok((7, 9)));
        f.pop();
        assert_eq!(parse(&f), Err(WireError::Truncated));
        assert!(parse(&[0x04; 100]).is_err());
        // Link version 4-6's final frames are gone.
        assert_eq!(parse(&[0x08; 100]), Err(WireError::UnknownType(0x08)));
        let mut long = header(7, 9).to_vec();
        long.resize(MAX_LEN, 0);
        assert_eq!(parse(&long), Ok((7, 9)));
        long.push(0);
        assert!(parse(&long).is_err());
    }

    #[test]
    fn associated_data_is_the_length_and_the_tag() {
        let mut sealed = vec![0xaa; 3];
        sealed.extend_from_slice(&[0xbb; TAG_LEN]);
        let a = aad(&sealed).unwrap();
        assert_eq!(a[..2], [0, 19]);
        assert_eq!(a[2..], [0xbb; TAG_LEN]);
        // One byte more or less is another associated data.
        assert_ne!(aad(&sealed[1..]), Some(a));
        // Shorter than a tag (never parsed as a frame): right-aligned, no panic.
        let short = [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2];
        assert_eq!(aad(&[1, 2]), Some(short));
        // 64 KiB would share its associated data with 0 bytes: refused.
        assert_eq!(aad(&vec![0; 65_536]), None);
        assert!(aad(&vec![0; 65_535]).is_some());
    }
}
