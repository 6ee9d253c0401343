//! Keeping link handshakes cheap for strangers (the responder's side of an Init).
//!
//! - **No amplification**: an Init is at least as long as its answer (`INIT_MIN_LEN`), and a
//!   cookie reply is shorter than an Init, so a spoofed source never gets more bytes than were
//!   sent in its name.
//! - **No replays**: the ephemeral key of every Init answered is remembered for two periods of
//!   [`SEEN_PERIOD`]; the same Init again is dropped (`handshake_replayed`) instead of answered.
//! - **Cookies under load** (as WireGuard's): once [`LOAD_PENDING`] half-open handshakes are
//!   pending, an Init is answered only if it carries the cookie for its source address
//!   (a keyed hash of the address under a secret that changes every two minutes); otherwise it
//!   gets a 37-byte cookie reply (`handshake_cookies_sent`) and costs nothing more. A real
//!   initiator sends its Init again with the cookie one round trip later; a flood from spoofed
//!   addresses never sees its cookies, so it cannot fill the pending table.
//! - **Per source**: at most [`MAX_PENDING_PER_SOURCE`] pending handshakes per source address
//!   (`refused_per_source`), so one real address cannot fill the table either.
//!
//! The checks run after the network MAC (a keyed hash) and before any Diffie-Hellman.

use std::net::IpAddr;
use std::time::Duration;

use rustc_hash::FxHashSet;

use super::links::State;
use super::{Node, Remote};
use crate::time::Timestamp;
use crate::wire::handshake::{COOKIE_LEN, HandshakeRepr};

/// Pending responder handshakes from which cookies are required.
pub const LOAD_PENDING: usize = 64;
/// Pending responder handshakes per source address.
pub const MAX_PENDING_PER_SOURCE: usize = 8;
/// How often the cookie secret changes (the previous one is still accepted).
const COOKIE_PERIOD: Duration = Duration::from_secs(120);
/// How long an answered Init's ephemeral key is remembered: between one and two periods.
const SEEN_PERIOD: Duration = Duration::from_secs(4);
/// Ephemeral keys remembered per period, at most (beyond, under a flood, cookies protect).
const MAX_SEEN: usize = 65_536;

/// The responder's memory for Init checks.
pub(super) struct InitGuard {
    /// Cookie secrets: current and previous.
    secrets: [[u8; 32]; 2],
    secret_since: Timestamp,
    /// Ephemeral keys of Inits answered: this period and the last.
    seen: [FxHashSet<[u8; 32]>; 2],
    seen_since: Timestamp,
}

impl InitGuard {
    pub(super) fn new(now: Timestamp, secret: [u8; 32]) -> Self {
        InitGuard {
            secrets: [secret, secret],
            secret_since: now,
            seen: Default::default(),
            seen_since: now,
        }
    }

    fn cookie(secret: &[u8; 32], remote: &Remote) -> [u8; COOKIE_LEN] {
        let mut h = blake3::Hasher::new_keyed(secret);
        match remote {
            Remote::Udp(a) => {
                match a.ip() {
                    IpAddr::V4(ip) => h.update(&ip.octets()),
                    IpAddr::V6(ip) => h.update(&ip.octets()),
                };
                h.update(&a.port().to_be_bytes());
            }
            Remote::Stream(n) => {
                h.update(&n.to_be_bytes());
            }
        }
        h.finalize().as_bytes()[..COOKIE_LEN]
            .try_into()
            .expect("16 bytes")
    }
}

/// The address a remote counts against for the per-source limit.
fn source(remote: &Remote) -> Option<IpAddr> {
    match remote {
        Remote::Udp(a) => Some(a.ip().to_canonical()),
        // A stream is one connection: its own source.
        Remote::Stream(_) => None,
    }
}

impl Node {
    fn rotate_guard(&mut self, now: Timestamp) {
        if now.saturating_since(self.guard.secret_since) >= COOKIE_PERIOD {
            let fresh = self.random_seed();
            let g = &mut self.guard;
            g.secrets = [fresh, g.secrets[0]];
            g.secret_since = now;
        }
        let g = &mut self.guard;
        if now.saturating_since(g.seen_since) >= SEEN_PERIOD {
            g.seen[1] = std::mem::take(&mut g.seen[0]);
            g.seen_since = now;
        }
    }

    /// Whether to answer an Init from `remote` (refusals counted; may send a cookie reply).
    pub(super) fn admit_init(
        &mut self,
        now: Timestamp,
        remote: Remote,
        sender_index: u32,
        cookie: &[u8; COOKIE_LEN],
        noise: &[u8],
    ) -> bool {
        self.rotate_guard(now);
        let src = source(&remote);
        let (pending, from_src) = self
            .links
            .values()
            .filter(|l| matches!(l.state, State::Responding(..)))
            .fold((0, 0), |(p, s), l| {
                let same = src.is_some() && source(&l.remote) == src;
                (p + 1, s + usize::from(same))
            });
        let stream = matches!(remote, Remote::Stream(_));
        if pending >= LOAD_PENDING && !stream {
            let ok = self
                .guard
                .secrets
                .iter()
                .any(|s| InitGuard::cookie(s, &remote) == *cookie);
            if !ok {
                let cookie = InitGuard::cookie(&self.guard.secrets[0], &remote);
                let receiver_index = sender_index;
                self.send_handshake(
                    remote,
                    HandshakeRepr::Cookie {
                        receiver_index,
                        cookie,
                    },
                );
                self.counters.handshake_cookies_sent += 1;
                return false;
            }
        }
        let Some(e) = noise.get(..32).and_then(|e| <[u8; 32]>::try_from(e).ok()) else {
            self.counters.malformed += 1;
            return false;
        };
        if self.guard.seen.iter().any(|s| s.contains(&e)) {
            self.counters.handshake_replayed += 1;
            return false;
        }
        if from_src >= MAX_PENDING_PER_SOURCE {
            self.counters.refused_per_source += 1;
            return false;
        }
        if pending >= self.cfg.max_pending_handshakes {
            self.counters.refused_pending_full += 1;
            return false;
        }
        if self.guard.seen[0].len() < MAX_SEEN {
            self.guard.seen[0].insert(e);
        }
        true
    }

    /// A responder under load asks us (initiator of link `index`) for its cookie: send the
    /// Init again, carrying it.
    pub(super) fn handle_cookie(&mut self, remote: Remote, index: u32, cookie: [u8; COOKIE_LEN]) {
        let waiting = match self.links.get_mut(&index) {
            Some(l) if l.remote == remote => match &mut l.state {
                // Once: a second cookie for the same handshake is not answered.
                State::Initiating(_, r) if r.cookie.is_none() => {
                    r.cookie = Some(cookie);
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if !waiting {
            self.counters.unknown_index += 1;
            return;
        }
        self.resend_init(remote, index);
    }
}
