//! End-to-end sessions: payloads sealed from source node to destination node.
//!
//! Keys are per destination and per direction: `blake3::derive_key(E2E_CONTEXT, dh ‖ sender ‖
//! receiver ‖ epoch)` where `dh` is x25519 of the two static keys (derived from the node ids,
//! so no handshake round trip is needed before the first packet). The sender's `epoch` grows
//! across its restarts (the daemon passes its start time), so restarting counters never reuse a
//! nonce under the same key; the receiver accepts only the newest epoch it has authenticated
//! for a sender and runs a replay window per epoch. Forward secrecy is not provided by this
//! layer: the link layer (Noise XX, ephemeral keys) protects traffic between neighbours.

use rustc_hash::FxHashMap;

use crate::address::Subnet;
use crate::crypto::{Cipher, TAG_LEN};
use crate::identity::{Identity, NodeId};
use crate::replay::ReplayWindow;
use crate::wire::routed::{AAD_START, HEADER_LEN, PayloadKind, RoutedRepr};

/// blake3 context for end-to-end keys.
pub const E2E_CONTEXT: &str = "hypha 2026-11 e2e v1";
/// Peers kept before the least recently used is dropped.
pub const MAX_PEERS: usize = 4096;

/// Why a sealed payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The peer's node id is not a usable key.
    #[error("peer id is not a valid key")]
    BadPeerKey,
    /// The packet is from an older epoch than one already authenticated.
    #[error("stale epoch")]
    StaleEpoch,
    /// Counter already seen or too old.
    #[error("replayed")]
    Replay,
    /// The AEAD did not verify.
    #[error("authentication failed")]
    Auth,
    /// Not a routed packet.
    #[error("malformed")]
    Malformed,
}

struct RecvState {
    epoch: u64,
    cipher: Cipher,
    replay: ReplayWindow,
}

struct Peer {
    /// The peer's /64, kept so the data path does not hash its id for every packet.
    subnet: Subnet,
    shared: [u8; 32],
    send: Cipher,
    recv: Option<RecvState>,
    last_used: u64,
}

/// All end-to-end sessions of one node.
pub struct Sessions {
    epoch: u64,
    /// One counter for every destination: a peer whose state was evicted and re-created can
    /// never reuse a nonce under the same key.
    next_counter: u64,
    peers: FxHashMap<NodeId, Peer>,
    tick: u64,
}

fn derive(shared: &[u8; 32], sender: &NodeId, receiver: &NodeId, epoch: u64) -> Cipher {
    let mut h = blake3::Hasher::new_derive_key(E2E_CONTEXT);
    h.update(shared);
    h.update(sender.as_bytes());
    h.update(receiver.as_bytes());
    h.update(&epoch.to_be_bytes());
    Cipher::new(h.finalize().as_bytes())
}

impl Sessions {
    /// Sessions whose outgoing epoch is `epoch`.
    pub fn new(epoch: u64) -> Self {
        Sessions {
            epoch,
            next_counter: 0,
            peers: FxHashMap::default(),
            tick: 0,
        }
    }

    /// The /64 of a peer with session state (no hashing).
    pub fn subnet_of(&self, id: &NodeId) -> Option<Subnet> {
        self.peers.get(id).map(|p| p.subnet)
    }

    /// Number of peers with session state.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// True when no session exists.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    fn shared_secret(me: &Identity, id: &NodeId) -> Result<[u8; 32], SessionError> {
        let xpub = id.x25519_public().map_err(|_| SessionError::BadPeerKey)?;
        me.dh(&xpub).ok_or(SessionError::BadPeerKey)
    }

    fn peer(&mut self, me: &Identity, id: &NodeId) -> Result<&mut Peer, SessionError> {
        self.tick += 1;
        if !self.peers.contains_key(id) {
            let shared = Self::shared_secret(me, id)?;
            self.insert_peer(me, id, shared);
        }
        let p = self.peers.get_mut(id).expect("inserted above");
        p.last_used = self.tick;
        Ok(p)
    }

    fn insert_peer(&mut self, me: &Identity, id: &NodeId, shared: [u8; 32]) {
        {
            if self.peers.len() >= MAX_PEERS {
                let oldest = self
                    .peers
                    .iter()
                    .min_by_key(|(_, p)| p.last_used)
                    .map(|(k, _)| *k);
                if let Some(k) = oldest {
                    self.peers.remove(&k);
                }
            }
            let send = derive(&shared, &me.node_id(), id, self.epoch);
            self.peers.insert(
                *id,
                Peer {
                    subnet: id.subnet(),
                    shared,
                    send,
                    recv: None,
                    last_used: self.tick,
                },
            );
        }
    }

    /// Appends a routed packet (header + sealed `kind ‖ payload`) for `dst` to `out`.
    pub fn seal(
        &mut self,
        me: &Identity,
        dst: &NodeId,
        hop_limit: u8,
        kind: PayloadKind,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SessionError> {
        let epoch = self.epoch;
        let counter = self.next_counter;
        self.peer(me, dst)?;
        self.next_counter += 1;
        let peer = self.peers.get_mut(dst).expect("created above");
        let start = out.len();
        RoutedRepr {
            hop_limit,
            flags: 0,
            dst: dst.address().0,
            src: me.node_id(),
            epoch,
            counter,
            sealed: &[],
        }
        .emit_header(out);
        out.push(kind as u8);
        out.extend_from_slice(payload);
        let (head, body) = out[start..].split_at_mut(HEADER_LEN);
        let tag = peer.send.seal_detached(counter, &head[AAD_START..], body);
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Opens a routed packet addressed to us, in place. Returns the sender, the payload kind and
    /// the payload's range within `routed`.
    pub fn open(
        &mut self,
        me: &Identity,
        routed: &mut [u8],
    ) -> Result<(NodeId, PayloadKind, core::ops::Range<usize>), SessionError> {
        let repr = RoutedRepr::parse(routed).map_err(|_| SessionError::Malformed)?;
        let (src, epoch, counter) = (repr.src, repr.epoch, repr.counter);
        // A sender we have no state for gets state only once its packet authenticates, so
        // forged sources can neither fill the table nor evict real peers.
        if !self.peers.contains_key(&src) {
            let shared = Self::shared_secret(me, &src)?;
            let cipher = derive(&shared, &src, &me.node_id(), epoch);
            let (head, body) = routed.split_at_mut(HEADER_LEN);
            let plain_len = cipher
                .open(counter, &head[AAD_START..], body)
                .ok_or(SessionError::Auth)?
                .len();
            let kind = PayloadKind::from_byte(body[0]).map_err(|_| SessionError::Malformed)?;
            self.tick += 1;
            self.insert_peer(me, &src, shared);
            let mut replay = ReplayWindow::new();
            replay.mark(counter);
            self.peers.get_mut(&src).expect("inserted").recv = Some(RecvState {
                epoch,
                cipher,
                replay,
            });
            return Ok((src, kind, HEADER_LEN + 1..HEADER_LEN + plain_len));
        }
        let peer = self.peer(me, &src)?;
        let candidate = match &peer.recv {
            Some(r) if epoch < r.epoch => return Err(SessionError::StaleEpoch),
            Some(r) if epoch == r.epoch => {
                if !r.replay.check(counter) {
                    return Err(SessionError::Replay);
                }
                None
            }
            _ => Some(derive(&peer.shared, &src, &me.node_id(), epoch)),
        };
        let (head, body) = routed.split_at_mut(HEADER_LEN);
        let cipher = candidate
            .as_ref()
            .unwrap_or_else(|| &peer.recv.as_ref().expect("checked").cipher);
        let plain_len = cipher
            .open(counter, &head[AAD_START..], body)
            .ok_or(SessionError::Auth)?
            .len();
        if let Some(cipher) = candidate {
            peer.recv = Some(RecvState {
                epoch,
                cipher,
                replay: ReplayWindow::new(),
            });
        }
        peer.recv.as_mut().expect("set").replay.mark(counter);
        debug_assert!(plain_len + TAG_LEN == body.len());
        let kind = PayloadKind::from_byte(body[0]).map_err(|_| SessionError::Malformed)?;
        Ok((src, kind, HEADER_LEN + 1..HEADER_LEN + plain_len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_replay_and_epochs() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let mut sa = Sessions::new(10);
        let mut sb = Sessions::new(20);
        let mut pkt = Vec::new();
        sa.seal(&a, &b.node_id(), 64, PayloadKind::Ipv6, b"hello", &mut pkt)
            .unwrap();
        let mut copy = pkt.clone();
        let (src, kind, range) = sb.open(&b, &mut copy).unwrap();
        assert_eq!((src, kind), (a.node_id(), PayloadKind::Ipv6));
        assert_eq!(&copy[range], b"hello");
        // Replay.
        let mut copy = pkt.clone();
        assert_eq!(sb.open(&b, &mut copy), Err(SessionError::Replay));
        // Tampered destination (bound as associated data).
        let mut fresh = Vec::new();
        sa.seal(
            &a,
            &b.node_id(),
            64,
            PayloadKind::Ipv6,
            b"hello",
            &mut fresh,
        )
        .unwrap();
        fresh[10] ^= 1;
        assert_eq!(sb.open(&b, &mut fresh), Err(SessionError::Auth));
        // A restarted sender (new epoch) is accepted, and then the old epoch is stale.
        let mut sa2 = Sessions::new(11);
        let mut pkt2 = Vec::new();
        sa2.seal(&a, &b.node_id(), 64, PayloadKind::Ipv6, b"again", &mut pkt2)
            .unwrap();
        assert!(sb.open(&b, &mut pkt2.clone()).is_ok());
        let mut old = Vec::new();
        sa.seal(&a, &b.node_id(), 64, PayloadKind::Ipv6, b"old", &mut old)
            .unwrap();
        assert_eq!(sb.open(&b, &mut old), Err(SessionError::StaleEpoch));
    }

    #[test]
    fn forged_sources_get_no_state_and_counters_never_repeat() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let mut sb = Sessions::new(1);
        // A packet claiming to come from a that a did not seal: refused, and no state kept.
        let mut forged = Vec::new();
        RoutedRepr {
            hop_limit: 64,
            flags: 0,
            dst: b.node_id().address().0,
            src: a.node_id(),
            epoch: 1,
            counter: 0,
            sealed: &[0u8; 40],
        }
        .emit(&mut forged);
        assert_eq!(sb.open(&b, &mut forged), Err(SessionError::Auth));
        assert!(sb.is_empty());
        // Counters are shared by all destinations: no (key, nonce) pair ever repeats, even
        // when a peer's state is dropped and made again.
        let mut sa = Sessions::new(1);
        let c = Identity::from_seed([3; 32]).node_id();
        let mut seen = std::collections::BTreeSet::new();
        for dst in [b.node_id(), c, b.node_id()] {
            let mut pkt = Vec::new();
            sa.seal(&a, &dst, 64, PayloadKind::Ipv6, b"x", &mut pkt)
                .unwrap();
            let r = RoutedRepr::parse(&pkt).unwrap();
            assert!(seen.insert(r.counter));
            sa.peers.remove(&dst);
        }
    }

    #[test]
    fn hop_limit_is_not_authenticated_but_everything_else_is() {
        let a = Identity::from_seed([1; 32]);
        let b = Identity::from_seed([2; 32]);
        let mut sa = Sessions::new(1);
        let mut sb = Sessions::new(1);
        let mut pkt = Vec::new();
        sa.seal(&a, &b.node_id(), 64, PayloadKind::Ipv6, b"x", &mut pkt)
            .unwrap();
        pkt[0] = 3; // a relay decremented it
        assert!(sb.open(&b, &mut pkt).is_ok());
    }
}
