//! Data frames: a routed data packet on a link, sealed once.
//!
//! ```text
//! off 0  type u8 = 0x06 | 1 receiver_index u32 | 5 counter u64
//! off 13 routed header (32), encrypted with the link key
//! off 45 the routed packet's end-to-end ciphertext and tag, as they are (associated data)
//! end-16 link tag
//! ```
//! The payload of a routed data packet is already sealed end to end, so a link does not
//! encrypt it again: the link AEAD (ChaCha20-Poly1305, nonce = counter as for transport
//! frames) encrypts only the 32-byte routed header, which says who talks to whom, and
//! authenticates the rest as associated data. Every byte of the frame is thus authenticated
//! hop by hop (a relay never forwards a frame it could not verify) while the payload is
//! encrypted once, at its source, and relays run Poly1305 over it but no cipher. The receiver
//! index selects the key and the counter is the nonce, so neither needs to be in the
//! associated data. Routed packets of other types (hellos, probes) travel inside ordinary
//! transport frames.
//!
//! On the last hop, where the neighbour is the packet's destination, the frame is a *final*
//! frame (type 0x08, same layout): its associated data is only the end-to-end tag, because the
//! receiver verifies the payload itself when it opens it end to end, before anything is done
//! with it, and never forwards a final frame. That saves one Poly1305 pass over the payload
//! at each end of the last hop. A relay frame's associated data is at least 17 bytes (one byte
//! of plaintext and the tag) and a final frame's exactly 16, and Poly1305's last block holds
//! the associated data's length, so neither kind's tag verifies as the other's.

use super::WireError;
use crate::wire::routed::{HEADER_LEN as ROUTED_HEADER, TAG_LEN};
use crate::wire::transport::HEADER_LEN;

/// Type byte of a data frame.
pub const TYPE_DATA_FRAME: u8 = 0x06;
/// Type byte of a final data frame (the receiver is the destination).
pub const TYPE_FINAL_FRAME: u8 = 0x08;
/// Shortest data frame: headers, one byte of end-to-end plaintext, both tags.
pub const MIN_LEN: usize = HEADER_LEN + ROUTED_HEADER + 1 + TAG_LEN + TAG_LEN;

/// The 13 header bytes of a data frame (a final one if `last_hop`).
pub fn header(last_hop: bool, receiver_index: u32, counter: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = if last_hop {
        TYPE_FINAL_FRAME
    } else {
        TYPE_DATA_FRAME
    };
    h[1..5].copy_from_slice(&receiver_index.to_be_bytes());
    h[5..13].copy_from_slice(&counter.to_be_bytes());
    h
}

/// Reads (receiver index, counter) of either kind of data frame and checks the length.
pub fn parse(buf: &[u8]) -> Result<(u32, u64), WireError> {
    match buf.first() {
        Some(&TYPE_DATA_FRAME | &TYPE_FINAL_FRAME) => {}
        t => return Err(WireError::UnknownType(t.copied().unwrap_or(0))),
    }
    if buf.len() < MIN_LEN {
        return Err(WireError::Truncated);
    }
    Ok((
        u32::from_be_bytes(buf[1..5].try_into().expect("4 bytes")),
        u64::from_be_bytes(buf[5..13].try_into().expect("8 bytes")),
    ))
}

/// The link AEAD's associated data: the routed packet's whole end-to-end ciphertext and tag
/// (`sealed`), or only its tag in a final frame.
pub fn aad(last_hop: bool, sealed: &[u8]) -> &[u8] {
    if last_hop {
        &sealed[sealed.len().saturating_sub(TAG_LEN)..]
    } else {
        sealed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip_and_minimum() {
        let mut f = header(false, 7, 9).to_vec();
        f.resize(MIN_LEN, 0);
        assert_eq!(parse(&f), Ok((7, 9)));
        let mut last = header(true, 7, 9).to_vec();
        last.resize(MIN_LEN, 0);
        assert_eq!((last[0], parse(&last)), (TYPE_FINAL_FRAME, Ok((7, 9))));
        f.pop();
        assert_eq!(parse(&f), Err(WireError::Truncated));
        assert!(parse(&[0x04; 100]).is_err());
    }
}
