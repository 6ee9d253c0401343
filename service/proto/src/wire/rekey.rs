//! Link rekey messages: inner kind `0x05`, always inside a transport frame, so each one is
//! authenticated (and hidden) by the link keys it is about to replace.
//!
//! ```text
//! 0x05 | step u8 = 1 offer   | sender_index u32 | noise message 1 (48 bytes)
//! 0x05 | step u8 = 2 answer  | sender_index u32 | noise message 2 (48 bytes)
//! 0x05 | step u8 = 3 confirm                                   (sent under the new keys)
//! ```
//! `sender_index` is the index the sender wants on frames sealed with the new keys.

use super::{Reader, WireError};

/// Inner kind of a rekey message.
pub const KIND_REKEY: u8 = 0x05;
/// Length of both Noise messages (an ephemeral key and the tag of an empty payload).
pub const NOISE_LEN: usize = 48;

const STEP_OFFER: u8 = 1;
const STEP_ANSWER: u8 = 2;
const STEP_CONFIRM: u8 = 3;

/// One rekey message (the body after the kind byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekeyRepr<'a> {
    /// Starts a rekey: the offerer's new index and its Noise message.
    Offer {
        /// Index the offerer wants on frames under the new keys.
        sender_index: u32,
        /// Noise `NNpsk0` message 1.
        noise: &'a [u8; NOISE_LEN],
    },
    /// Completes the key agreement.
    Answer {
        /// Index the answerer wants on frames under the new keys.
        sender_index: u32,
        /// Noise `NNpsk0` message 2.
        noise: &'a [u8; NOISE_LEN],
    },
    /// The offerer switched: this frame is already under the new keys.
    Confirm,
}

impl<'a> RekeyRepr<'a> {
    /// Parses a body (the kind byte already removed).
    pub fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let step = r.u8()?;
        if step == STEP_CONFIRM {
            return if r.rest().is_empty() {
                Ok(RekeyRepr::Confirm)
            } else {
                Err(WireError::Malformed("rekey confirm carries no body"))
            };
        }
        let sender_index = r.u32()?;
        if sender_index == 0 {
            return Err(WireError::Malformed("rekey index 0"));
        }
        let noise: &[u8; NOISE_LEN] = r
            .rest()
            .try_into()
            .map_err(|_| WireError::Malformed("rekey noise length"))?;
        match step {
            STEP_OFFER => Ok(RekeyRepr::Offer {
                sender_index,
                noise,
            }),
            STEP_ANSWER => Ok(RekeyRepr::Answer {
                sender_index,
                noise,
            }),
            t => Err(WireError::UnknownType(t)),
        }
    }

    /// Appends the kind byte and the message to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(KIND_REKEY);
        match self {
            RekeyRepr::Offer {
                sender_index,
                noise,
            } => {
                out.push(STEP_OFFER);
                out.extend_from_slice(&sender_index.to_be_bytes());
                out.extend_from_slice(&noise[..]);
            }
            RekeyRepr::Answer {
                sender_index,
                noise,
            } => {
                out.push(STEP_ANSWER);
                out.extend_from_slice(&sender_index.to_be_bytes());
                out.extend_from_slice(&noise[..]);
            }
            RekeyRepr::Confirm => out.push(STEP_CONFIRM),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bad_bodies() {
        let noise = [7u8; NOISE_LEN];
        for m in [
            RekeyRepr::Offer {
                sender_index: 9,
                noise: &noise,
            },
            RekeyRepr::Answer {
                sender_index: 0xdead_beef,
                noise: &noise,
            },
            RekeyRepr::Confirm,
        ] {
            let mut out = Vec::new();
            m.emit(&mut out);
            assert_eq!(out[0], KIND_REKEY);
            assert_eq!(RekeyRepr::parse(&out[1..]), Ok(m));
        }
        assert!(RekeyRepr::parse(&[]).is_err());
        assert!(RekeyRepr::parse(&[3, 0]).is_err());
        assert!(RekeyRepr::parse(&[1, 0, 0, 0, 0]).is_err());
        let mut short = vec![1, 0, 0, 0, 1];
        short.extend_from_slice(&[0; NOISE_LEN - 1]);
        assert!(RekeyRepr::parse(&short).is_err());
        let mut bad_step = vec![9, 0, 0, 0, 1];
        bad_step.extend_from_slice(&[0; NOISE_LEN]);
        assert_eq!(RekeyRepr::parse(&bad_step), Err(WireError::UnknownType(9)));
    }
}
