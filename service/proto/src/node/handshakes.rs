//! Link handshakes on the node: dialling, answering and finishing the three messages, and
//! sending a message again when its answer does not come (the load guard in front of all
//! this is [`super::guard`]).

use std::time::Duration;

use super::links::{Established, Link, MAX_INITIATING, State};
use super::{Node, Remote};
use crate::identity::NodeId;
use crate::link::handshake::Handshake;
use crate::time::Timestamp;
use crate::wire::handshake::{COOKIE_LEN, HandshakeRepr, LINK_VERSION};

/// After a handshake message that got no answer, it is sent again this long after the link
/// was created, then after three times as long: a lost datagram costs one of these instead of
/// the whole handshake timeout and a new dial.
pub(super) const RESEND_AFTER: Duration = Duration::from_millis(400);
/// Most times one handshake message is sent again.
pub(super) const MAX_RESENDS: u8 = 2;

/// Whether a message sent `resent` times so far on a link `age` old is due again.
fn resend_due(age: Duration, resent: u8) -> bool {
    resent < MAX_RESENDS && age >= RESEND_AFTER * ((1u32 << (resent + 1)) - 1)
}

/// What an initiator keeps to send its Init again.
pub(super) struct InitResend {
    /// Noise message 1.
    pub(super) msg1: Box<[u8]>,
    /// The responder's cookie, once it asked for one (a second ask is not answered).
    pub(super) cookie: Option<[u8; COOKIE_LEN]>,
    /// Times sent again.
    pub(super) resent: u8,
}

/// A sealed handshake datagram kept to send again.
pub(super) struct Resend {
    pub(super) datagram: Box<[u8]>,
    /// Times sent again.
    pub(super) resent: u8,
}

/// A responder's Resp, sent again when the same Init comes again (its answer was lost).
pub(super) struct RespResend {
    /// The Init's ephemeral key: the same Init again carries it.
    pub(super) e: [u8; 32],
    pub(super) resp: Resend,
}

impl Node {
    pub(super) fn initiate(&mut self, now: Timestamp, remote: Remote) {
        // Discovery, punches and peers all dial through here: a bound on what they can start.
        let initiating = self
            .links
            .values()
            .filter(|l| matches!(l.state, State::Initiating(..)))
            .count();
        if initiating >= MAX_INITIATING {
            self.counters.refused_initiating_full += 1;
            return;
        }
        let index = self.random_index();
        let seed = self.random_seed();
        let Ok((hs, msg1)) = Handshake::initiate(&self.identity, &self.cfg.network, seed) else {
            self.counters.handshakes_failed += 1;
            return;
        };
        let init = HandshakeRepr::Init {
            version: LINK_VERSION,
            sender_index: index,
            cookie: [0; COOKIE_LEN],
            noise: &msg1,
        };
        self.send_handshake(remote, init);
        let resend = InitResend {
            msg1: msg1.into_boxed_slice(),
            cookie: None,
            resent: 0,
        };
        self.links.insert(
            index,
            Link {
                remote,
                state: State::Initiating(hs, Box::new(resend)),
                created: now,
                last_rx: now,
            },
        );
    }

    /// The same Init again from `remote` while we wait for its Final: our Resp was lost.
    /// Sends that Resp again (at most [`MAX_RESENDS`] times; it costs no Diffie-Hellman and is
    /// smaller than the Init); true when the Init was such a duplicate, answered or not.
    fn repeated_init(&mut self, remote: Remote, sender_index: u32, noise: &[u8]) -> bool {
        let Some(e) = noise.get(..32) else {
            return false;
        };
        let found = self.links.values_mut().find_map(|l| match &mut l.state {
            State::Responding(_, index, r)
                if *index == sender_index && l.remote == remote && r.e[..] == *e =>
            {
                Some(r)
            }
            _ => None,
        });
        let Some(r) = found else {
            return false;
        };
        if r.resp.resent >= MAX_RESENDS {
            self.counters.handshake_replayed += 1;
            return true;
        }
        r.resp.resent += 1;
        let payload = r.resp.datagram.to_vec();
        self.counters.handshakes_resent += 1;
        self.push_datagram(remote, payload);
        true
    }

    /// Emits a handshake datagram, appends the network MAC and queues it for `remote`.
    pub(super) fn send_handshake(&mut self, remote: Remote, h: HandshakeRepr<'_>) {
        let payload = self.sealed_handshake(h);
        self.push_datagram(remote, payload);
    }

    /// A handshake datagram with the network MAC appended.
    fn sealed_handshake(&self, h: HandshakeRepr<'_>) -> Vec<u8> {
        let mut payload = Vec::with_capacity(h.noise().len() + 40);
        h.emit(&mut payload);
        self.cfg.network.seal_handshake(&mut payload);
        payload
    }

    /// Queues a finished datagram for `remote`.
    fn push_datagram(&mut self, remote: Remote, payload: Vec<u8>) {
        self.transmits
            .push_back(super::Unsealed::ready(super::Transmit {
                remote,
                payload,
                ttl: None,
            }));
    }

    pub(super) fn handle_handshake(
        &mut self,
        now: Timestamp,
        remote: Remote,
        h: HandshakeRepr<'_>,
    ) {
        match h {
            HandshakeRepr::Cookie {
                receiver_index,
                cookie,
            } => self.handle_cookie(remote, receiver_index, cookie),
            HandshakeRepr::Init {
                sender_index,
                cookie,
                noise,
                ..
            } => {
                if self.repeated_init(remote, sender_index, noise)
                    || !self.admit_init(now, remote, sender_index, &cookie, noise)
                {
                    return;
                }
                let index = self.random_index();
                let seed = self.random_seed();
                match Handshake::respond(&self.identity, &self.cfg.network, seed, noise) {
                    Ok((hs, msg2)) => {
                        let payload = self.sealed_handshake(HandshakeRepr::Resp {
                            sender_index: index,
                            receiver_index: sender_index,
                            noise: &msg2,
                        });
                        let mut e = [0; 32];
                        e.copy_from_slice(&noise[..32]); // admit_init checked the length
                        let resend = RespResend {
                            e,
                            resp: Resend {
                                datagram: payload.clone().into_boxed_slice(),
                                resent: 0,
                            },
                        };
                        self.links.insert(
                            index,
                            Link {
                                remote,
                                state: State::Responding(hs, sender_index, Box::new(resend)),
                                created: now,
                                last_rx: now,
                            },
                        );
                        self.push_datagram(remote, payload);
                    }
                    Err(_) => self.counters.handshakes_failed += 1,
                }
            }
            HandshakeRepr::Resp {
                sender_index,
                receiver_index,
                noise,
            } => {
                let Some(link) = self.links.remove(&receiver_index) else {
                    self.counters.unknown_index += 1;
                    return;
                };
                let State::Initiating(hs, _) = link.state else {
                    // Not waiting for a response: put it back untouched.
                    self.links.insert(receiver_index, link);
                    self.counters.unknown_index += 1;
                    return;
                };
                match hs.finish_initiator(&self.identity, noise) {
                    Ok((keys, node, msg3)) => {
                        let payload = self.sealed_handshake(HandshakeRepr::Final {
                            receiver_index: sender_index,
                            noise: &msg3,
                        });
                        let final_resend = Resend {
                            datagram: payload.clone().into_boxed_slice(),
                            resent: 0,
                        };
                        self.push_datagram(remote, payload);
                        if !self.allowed(&node) {
                            return;
                        }
                        let indexes = (receiver_index, sender_index);
                        let mut est = Established::new(keys, indexes, node, true, now);
                        est.final_resend = Some(Box::new(final_resend));
                        self.link_rx.insert(receiver_index, receiver_index);
                        self.links
                            .insert(receiver_index, Link::up(remote, est, link.created, now));
                    }
                    Err(_) => self.counters.handshakes_failed += 1,
                }
            }
            HandshakeRepr::Final {
                receiver_index,
                noise,
            } => {
                let Some(link) = self.links.remove(&receiver_index) else {
                    self.counters.unknown_index += 1;
                    return;
                };
                let State::Responding(hs, remote_index, _) = link.state else {
                    self.links.insert(receiver_index, link);
                    self.counters.unknown_index += 1;
                    return;
                };
                match hs.finish_responder(noise) {
                    Ok((keys, node)) => {
                        if !self.allowed(&node) {
                            return;
                        }
                        let indexes = (receiver_index, remote_index);
                        let est = Established::new(keys, indexes, node, false, now);
                        self.link_rx.insert(receiver_index, receiver_index);
                        self.links
                            .insert(receiver_index, Link::up(remote, est, link.created, now));
                        self.link_established(now, receiver_index);
                    }
                    Err(_) => self.counters.handshakes_failed += 1,
                }
            }
        }
    }

    fn allowed(&mut self, node: &NodeId) -> bool {
        let ok = *node != self.identity.node_id()
            && self.cfg.allow.as_ref().is_none_or(|a| a.contains(node));
        if !ok {
            self.counters.refused_not_allowed += 1;
        }
        ok
    }

    /// Sends again the Inits and Finals of our handshakes that got no answer in time.
    pub(super) fn resend_handshakes(&mut self, now: Timestamp) {
        let mut due = Vec::new();
        for (id, l) in &mut self.links {
            let age = now.saturating_since(l.created);
            match &mut l.state {
                State::Initiating(_, r) if resend_due(age, r.resent) => {
                    r.resent += 1;
                    due.push((*id, l.remote, None));
                }
                State::Up(e) => {
                    if let Some(r) = e.final_resend.as_deref_mut()
                        && resend_due(age, r.resent)
                    {
                        r.resent += 1;
                        due.push((*id, l.remote, Some(r.datagram.to_vec())));
                    }
                }
                _ => {}
            }
        }
        due.sort_by_key(|(id, ..)| *id);
        for (id, remote, datagram) in due {
            self.counters.handshakes_resent += 1;
            match datagram {
                Some(payload) => self.push_datagram(remote, payload),
                None => self.resend_init(remote, id),
            }
        }
    }

    /// Sends the Init of link `index` again (with the responder's cookie, if it asked).
    pub(super) fn resend_init(&mut self, remote: Remote, index: u32) {
        let Some(l) = self.links.get(&index) else {
            return;
        };
        let State::Initiating(_, r) = &l.state else {
            return;
        };
        let msg1 = r.msg1.clone();
        let init = HandshakeRepr::Init {
            version: LINK_VERSION,
            sender_index: index,
            cookie: r.cookie.unwrap_or([0; COOKIE_LEN]),
            noise: &msg1,
        };
        self.send_handshake(remote, init);
    }
}
