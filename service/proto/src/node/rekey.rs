//! Link rekeying: an established link gets new keys every two minutes (or 2^40 frames) without
//! going down, so routing, the scheduler and the link's name ([`LinkId`]) carry on.
//!
//! ```text
//!  offerer (link initiator at `after`,              answerer
//!  responder 10 s later, either side at `packets`)
//!  new index o', Offer{o', e_o} under old keys --> new index a', keys K' = NNpsk0(chain, e_o, e_a)
//!                                                  accepts frames on a' under K', sends under old
//!  <-- Answer{a', e_a} under old keys
//!  K' ready: sends under K' to a' at once,
//!  keeps old receive keys 2 s (frames in flight)
//!  Confirm under K' -----------------------------> first frame on a': switches to K',
//!                                                  keeps old receive keys 2 s
//! ```
//! Old send keys, the old chain key and both ephemerals are dropped at the switch; the old
//! receive key 2 s later. A frame sealed before the switch then names an index nobody has.
//! An unanswered offer is repeated every second, byte for byte, and a repeated offer gets the
//! same answer again, so a lost or late answer never leaves the two sides on different keys;
//! when both sides offer at once, the link initiator's offer wins. Keys older than `reject_after` close the link (its
//! peer redials, and a new handshake gives new keys anyway).

use std::time::Duration;

use super::links::State;
use super::{LinkId, Node};
use crate::crypto::Cipher;
use crate::link::handshake::LinkKeys;
use crate::link::rekey::{self, Offer};
use crate::replay::ReplayWindow;
use crate::time::Timestamp;
use crate::wire::rekey::{NOISE_LEN, RekeyRepr};

/// How long receive keys outlive a switch, for frames already in flight.
const GRACE: Duration = Duration::from_secs(2);
/// How often an unanswered offer is repeated.
const RETRY: Duration = Duration::from_secs(1);
/// How much later than the link initiator the responder offers on its own (so that normally
/// only one side offers).
const RESPONDER_DELAY: Duration = Duration::from_secs(10);

/// When links get new keys.
#[derive(Debug, Clone)]
pub struct LinkRekeyConfig {
    /// Keys this old are replaced.
    pub after: Duration,
    /// Keys that sealed this many frames are replaced.
    pub packets: u64,
    /// A link whose keys reach this age (every rekey failed) is closed.
    pub reject_after: Duration,
}

impl Default for LinkRekeyConfig {
    fn default() -> Self {
        LinkRekeyConfig {
            after: Duration::from_secs(120),
            packets: 1 << 40,
            reject_after: Duration::from_secs(180),
        }
    }
}

/// Receive keys from before a switch.
pub(super) struct PrevKeys {
    pub(super) index: u32,
    pub(super) recv: Cipher,
    pub(super) replay: ReplayWindow,
    pub(super) until: Timestamp,
}

/// A rekey under way on one link.
// At most one per link, inside the link's boxed state: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Pending {
    /// We offered; `index` is where we want frames under the new keys.
    Offered {
        offer: Offer,
        msg: [u8; NOISE_LEN],
        index: u32,
        sent: Timestamp,
    },
    /// We answered: frames to `index` open with `keys.recv`; we switch when one arrives.
    Answered {
        keys: LinkKeys,
        index: u32,
        remote_index: u32,
        replay: ReplayWindow,
        /// The offer answered, and the answer (sent again if the same offer comes again).
        offer: [u8; NOISE_LEN],
        answer: [u8; NOISE_LEN],
    },
}

impl super::links::Established {
    /// Makes `keys` current; returns the index whose receive keys were dropped now.
    fn switch(&mut self, now: Timestamp, keys: LinkKeys, rx: u32, remote: u32) -> Option<u32> {
        let old = std::mem::replace(&mut self.keys, keys);
        let old_replay = std::mem::take(&mut self.replay);
        let dropped = self.prev.replace(Box::new(PrevKeys {
            index: self.rx_index,
            recv: old.recv,
            replay: old_replay,
            until: now + GRACE,
        }));
        self.rx_index = rx;
        self.remote_index = remote;
        self.send_counter = 0;
        self.keys_since = now;
        dropped.map(|p| p.index)
    }
}

impl Node {
    fn established_mut(&mut self, id: LinkId) -> Option<&mut super::links::Established> {
        match &mut self.links.get_mut(&id)?.state {
            State::Up(e) => Some(e),
            _ => None,
        }
    }

    /// A rekey message arrived on link `id` (already authenticated).
    pub(super) fn handle_rekey(&mut self, now: Timestamp, id: LinkId, body: &[u8]) {
        match RekeyRepr::parse(body) {
            Ok(RekeyRepr::Offer {
                sender_index,
                noise,
            }) => self.answer_rekey(id, sender_index, noise),
            Ok(RekeyRepr::Answer {
                sender_index,
                noise,
            }) => self.finish_rekey(now, id, sender_index, noise),
            // Arriving under the new keys already made the switch (`rekey_confirmed`).
            Ok(RekeyRepr::Confirm) => {}
            Err(_) => self.counters.malformed += 1,
        }
    }

    fn answer_rekey(&mut self, id: LinkId, their_index: u32, offer: &[u8; NOISE_LEN]) {
        let seed = self.random_seed();
        let index = self.random_index();
        let Some(est) = self.established_mut(id) else {
            return;
        };
        if matches!(est.rekey.as_deref(), Some(Pending::Offered { .. })) && est.initiator {
            // Both offered at once: ours wins, the neighbour will answer it.
            return;
        }
        if let Some(Pending::Answered {
            index,
            offer: o,
            answer,
            ..
        }) = est.rekey.as_deref()
            && o == offer
        {
            // Our answer was lost or is late: the same answer again, keys unchanged.
            let (index, answer) = (*index, *answer);
            self.send_answer(id, index, &answer);
            return;
        }
        let (keys, answer) = match rekey::answer(&est.keys.chain, seed, offer) {
            Ok(r) => r,
            Err(_) => {
                self.counters.link_rekeys_failed += 1;
                return;
            }
        };
        let replaced = est.rekey.replace(Box::new(Pending::Answered {
            keys,
            index,
            remote_index: their_index,
            replay: ReplayWindow::new(),
            offer: *offer,
            answer,
        }));
        if let Some(Pending::Offered { index: i, .. } | Pending::Answered { index: i, .. }) =
            replaced.as_deref()
        {
            self.link_rx.remove(i);
        }
        self.link_rx.insert(index, id);
        self.send_answer(id, index, &answer);
    }

    fn send_answer(&mut self, id: LinkId, index: u32, answer: &[u8; NOISE_LEN]) {
        let mut msg = Vec::with_capacity(6 + NOISE_LEN);
        RekeyRepr::Answer {
            sender_index: index,
            noise: answer,
        }
        .emit(&mut msg);
        self.send_inner(id, &msg);
    }

    fn finish_rekey(
        &mut self,
        now: Timestamp,
        id: LinkId,
        their_index: u32,
        answer: &[u8; NOISE_LEN],
    ) {
        let Some(est) = self.established_mut(id) else {
            return;
        };
        // A late answer to an offer we replaced, or one we never made: nothing to finish (and
        // an answer of ours that waits for its first frame stays: taking it would strand its
        // index in `link_rx` and its keys with it).
        if !matches!(est.rekey.as_deref(), Some(Pending::Offered { .. })) {
            return;
        }
        let Some(Pending::Offered { offer, index, .. }) = est.rekey.take().map(|p| *p) else {
            return;
        };
        let dropped = match offer.finish(answer) {
            Ok(keys) => est.switch(now, keys, index, their_index),
            Err(_) => {
                // The next maintenance tick offers again.
                self.counters.link_rekeys_failed += 1;
                self.link_rx.remove(&index);
                return;
            }
        };
        if let Some(i) = dropped {
            self.link_rx.remove(&i);
        }
        self.counters.link_rekeys += 1;
        let mut msg = Vec::with_capacity(2);
        RekeyRepr::Confirm.emit(&mut msg);
        self.send_inner(id, &msg);
    }

    /// The offerer's first frame under the keys we answered with: switch to them.
    pub(super) fn rekey_confirmed(&mut self, now: Timestamp, id: LinkId) {
        let Some(est) = self.established_mut(id) else {
            return;
        };
        let Some(Pending::Answered {
            keys,
            index,
            remote_index,
            replay,
            ..
        }) = est.rekey.take().map(|p| *p)
        else {
            return;
        };
        let dropped = est.switch(now, keys, index, remote_index);
        // That window already holds the frame that confirmed.
        est.replay = replay;
        if let Some(i) = dropped {
            self.link_rx.remove(&i);
        }
        self.counters.link_rekeys += 1;
    }

    /// Expires old receive keys, starts and repeats offers, closes links whose keys are too old.
    pub(super) fn maintain_rekeys(&mut self, now: Timestamp) {
        let cfg = self.cfg.link_rekey.clone();
        let mut expired = Vec::new();
        let mut offers = Vec::new();
        let mut overdue = Vec::new();
        for (id, l) in &mut self.links {
            let State::Up(e) = &mut l.state else {
                continue;
            };
            if e.prev.as_ref().is_some_and(|p| p.until <= now) {
                expired.extend(e.prev.take().map(|p| p.index));
            }
            let age = now.saturating_since(e.keys_since);
            if age >= cfg.reject_after {
                overdue.push(*id);
                continue;
            }
            let due_at = if e.initiator {
                cfg.after
            } else {
                cfg.after + RESPONDER_DELAY
            };
            let due = age >= due_at || e.send_counter >= cfg.packets;
            match e.rekey.as_deref() {
                None if due => offers.push(*id),
                Some(Pending::Offered { sent, .. }) if now.saturating_since(*sent) >= RETRY => {
                    offers.push(*id)
                }
                _ => {}
            }
        }
        for i in expired {
            self.link_rx.remove(&i);
        }
        offers.sort_unstable();
        for id in offers {
            self.offer_rekey(now, id);
        }
        overdue.sort_unstable();
        for id in overdue {
            self.close_link(now, id, "keys too old (rekey failed)");
        }
    }

    /// Sends an offer on link `id`: the one waiting for an answer again, or a new one.
    fn offer_rekey(&mut self, now: Timestamp, id: LinkId) {
        let seed = self.random_seed();
        let fresh = self.random_index();
        let Some(est) = self.established_mut(id) else {
            return;
        };
        let (index, msg1) = match est.rekey.as_deref_mut() {
            Some(Pending::Offered {
                index, msg, sent, ..
            }) => {
                *sent = now;
                (*index, *msg)
            }
            _ => {
                let Ok((offer, msg)) = Offer::new(&est.keys.chain, seed) else {
                    self.counters.link_rekeys_failed += 1;
                    return;
                };
                est.rekey = Some(Box::new(Pending::Offered {
                    offer,
                    msg,
                    index: fresh,
                    sent: now,
                }));
                self.link_rx.insert(fresh, id);
                (fresh, msg)
            }
        };
        let mut msg = Vec::with_capacity(6 + NOISE_LEN);
        RekeyRepr::Offer {
            sender_index: index,
            noise: &msg1,
        }
        .emit(&mut msg);
        self.send_inner(id, &msg);
    }
}
