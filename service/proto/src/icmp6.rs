//! ICMPv6 errors the node hands back to its local stack (RFC 4443), so that applications see
//! "no route" or "packet too big" at once instead of a silent timeout.

/// Destination unreachable, code 0: no route to destination.
pub const UNREACHABLE_NO_ROUTE: (u8, u8) = (1, 0);
/// Packet too big.
pub const PACKET_TOO_BIG: u8 = 2;

/// An ICMPv6 error about `invoking` (an IPv6 packet from the local stack), sent from `src`
/// back to the invoking packet's source. `value` is the 32-bit field after the checksum (the
/// MTU for packet-too-big, 0 otherwise). `None` when `invoking` is not an IPv6 packet or is
/// itself an ICMPv6 error (never answer an error with an error).
pub fn error(src: [u8; 16], invoking: &[u8], ty: u8, code: u8, value: u32) -> Option<Vec<u8>> {
    if invoking.len() < 40 || invoking[0] >> 4 != 6 {
        return None;
    }
    if invoking[6] == 58 && invoking.get(40).is_some_and(|&t| t < 128) {
        return None;
    }
    let dst: [u8; 16] = invoking[8..24].try_into().ok()?;
    // The whole error must fit the IPv6 minimum MTU.
    let quoted = invoking.len().min(1280 - 40 - 8);
    let plen = 8 + quoted;
    let mut p = Vec::with_capacity(40 + plen);
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(plen as u16).to_be_bytes());
    p.push(58);
    p.push(64);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&[ty, code, 0, 0]);
    p.extend_from_slice(&value.to_be_bytes());
    p.extend_from_slice(&invoking[..quoted]);
    let sum = checksum(&src, &dst, &p[40..]);
    p[42..44].copy_from_slice(&sum.to_be_bytes());
    Some(p)
}

/// The ICMPv6 checksum over the pseudo-header and `body`.
pub fn checksum(src: &[u8; 16], dst: &[u8; 16], body: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
        }
    };
    add(src);
    add(dst);
    add(&(body.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(body);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_checksums_to_zero_and_quotes_the_packet() {
        let mut inv = vec![0u8; 100];
        inv[0] = 0x60;
        inv[6] = 17;
        inv[8] = 0x06;
        inv[24] = 0x07;
        let e = error([0x06; 16], &inv, 1, 0, 0).unwrap();
        assert_eq!(e.len(), 40 + 8 + 100);
        assert_eq!(&e[24..40], &inv[8..24], "goes back to the sender");
        let src: [u8; 16] = e[8..24].try_into().unwrap();
        let dst: [u8; 16] = e[24..40].try_into().unwrap();
        // Recomputing over a body that includes the checksum yields 0.
        assert_eq!(checksum(&src, &dst, &e[40..]), 0);
    }

    #[test]
    fn never_answers_an_error_or_garbage() {
        let mut inv = vec![0u8; 48];
        inv[0] = 0x60;
        inv[6] = 58;
        inv[40] = 1; // destination unreachable
        assert!(error([0; 16], &inv, 1, 0, 0).is_none());
        assert!(error([0; 16], &[1, 2, 3], 1, 0, 0).is_none());
    }
}
