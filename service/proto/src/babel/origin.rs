//! Route origin authentication: only the holder of a node key can announce its /64 or raise
//! its sequence number.
//!
//! The originator signs `(router id, seqno)` once per seqno ([`origin_signed_bytes`]); every
//! finite update carries that signature and relays pass it on unchanged. A receiver checks it
//! before the update can touch its table, and remembers the last two verified `(seqno,
//! signature)` pairs per router id, so each `(origin, seqno)` costs one ed25519 verification
//! per node however many neighbours repeat it, and a relay can re-advertise the route it
//! selected with the originator's own signature.
//!
//! The metric cannot be signed (every hop adds to it). What a neighbour can still do is lie
//! about its distance to a real, signed route; a node therefore refuses a metric below one
//! hop's minimum cost from any neighbour that is not the originator itself, so the lie is
//! bounded to "I am adjacent to it".

use std::num::NonZeroU32;
use std::sync::Arc;

use super::concurrent::{AppendOnly, ConcurrentIndex};
use super::neighbour::MIN_HOP_COST;
use super::table::{RidIdx, hash_of, seqno_newer};
use super::{Babel, NeighbourId};
use crate::address::Subnet;
use crate::identity::SIGNATURE_LEN;
use crate::wire::babel::RouterId;
use crate::wire::babel::UpdateRepr;
use crate::wire::babel::update::origin_signed_bytes;

/// A verified origin signature: its place in the node's [`SigStore`] (or in its world's,
/// which then stores each signature once for all nodes). Four bytes where a reference-counted
/// copy took eight, twice per router id per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigRef(NonZeroU32);

impl SigRef {
    fn of(i: usize) -> SigRef {
        SigRef(NonZeroU32::new(i as u32 + 1).expect("one past an index"))
    }

    fn index(self) -> usize {
        self.0.get() as usize - 1
    }
}

/// The verified signatures a node holds: its own, or its world's. A node's own are freed when
/// its [`OriginSigs`] drop them; a world's stay (every node may still hold them).
#[derive(Debug, Default)]
pub struct SigStore {
    local: Vec<[u8; SIGNATURE_LEN]>,
    free: Vec<u32>,
    shared: Option<Arc<SharedOrigins>>,
}

impl SigStore {
    /// A node's own store, or a view of `shared`.
    pub fn new(shared: Option<Arc<SharedOrigins>>) -> Self {
        SigStore {
            shared,
            ..Default::default()
        }
    }

    /// The signature at `r`.
    pub fn get(&self, r: SigRef) -> [u8; SIGNATURE_LEN] {
        match &self.shared {
            Some(s) => s.verified.get(r.index()).expect("handed out once pushed").2,
            None => self.local[r.index()],
        }
    }

    /// Checks `sig` for `(rid, seqno)` (once per world when shared). Returns where the
    /// signature is kept if it verified, and whether an ed25519 verification actually ran
    /// (for the counters).
    pub fn verify(
        &mut self,
        rid: &RouterId,
        seqno: u16,
        sig: &[u8; SIGNATURE_LEN],
    ) -> (Option<SigRef>, bool) {
        let check = || rid.node.verify(&origin_signed_bytes(rid, seqno), sig);
        let Some(shared) = &self.shared else {
            if !check() {
                return (None, true);
            }
            let i = match self.free.pop() {
                Some(i) => {
                    self.local[i as usize] = *sig;
                    i as usize
                }
                None => {
                    self.local.push(*sig);
                    self.local.len() - 1
                }
            };
            return (Some(SigRef::of(i)), true);
        };
        // The key is the whole (router id, seqno, signature): hashing it with FxHash costs
        // less than the cryptographic digest it replaced, which was a twentieth of a
        // simulation.
        let key = (*rid, seqno, *sig);
        let mut ran = false;
        // Verified under the writers' lock: a world's nodes run on several threads, and two
        // verifying one signature at once would make the count of verifications depend on
        // timing (and the simulator's report with it).
        let r = shared.verified_index.find_or_insert(
            hash_of(&key),
            |i| shared.verified.get(i as usize) == Some(&key),
            || {
                ran = true;
                check().then(|| shared.verified.push(key) as u32)
            },
            |i| hash_of(shared.verified.get(i as usize).expect("pushed")),
        );
        if ran && let Some(v) = r {
            shared.by_seqno.find_or_insert(
                pair_hash(rid, seqno),
                |i| shared.signs(i, rid, seqno),
                || Some(v),
                |i| {
                    let e = shared.verified.get(i as usize).expect("pushed");
                    pair_hash(&e.0, e.1)
                },
            );
        }
        (r.map(|i| SigRef::of(i as usize)), ran)
    }

    /// The world's signature of `(rid, seqno)`, in a shared store.
    fn shared_sig(&self, rid: &RouterId, seqno: u16) -> Option<SigRef> {
        self.shared.as_ref()?.sig_for(rid, seqno)
    }

    /// Gives back a signature no longer kept.
    pub fn release(&mut self, r: SigRef) {
        if self.shared.is_none() {
            self.free.push(r.index() as u32);
        }
    }

    /// Bytes this node holds for signatures (a shared store is counted by its world).
    pub fn bytes(&self) -> usize {
        self.local.capacity() * SIGNATURE_LEN + self.free.capacity() * 4
    }
}

/// The hash [`SharedOrigins`]'s `by_seqno` index keys a signed (router id, seqno) by.
fn pair_hash(rid: &RouterId, seqno: u16) -> u64 {
    hash_of(&(rid, seqno))
}

/// A verified signature's cache key: the signed (router id, seqno) and the signature itself.
type VerifiedKey = (RouterId, u16, [u8; SIGNATURE_LEN]);

/// Verified signatures and interned router ids shared by every node of one process: the
/// simulator passes one to all its nodes so that a signature is verified (and stored) once per
/// world, not once per node, and a router id is stored once ([`super::rids`]). A real node has
/// no use for it. Holds no clock and no I/O: the core stays deterministic. Read without locks
/// ([`super::concurrent`]): every update a node handles looks here two or three times.
#[derive(Default)]
pub struct SharedOrigins {
    /// Every signature verified, with what it signs; a [`SigRef`] is a place here.
    verified: AppendOnly<VerifiedKey>,
    verified_index: ConcurrentIndex,
    /// The first signature verified for each (router id, seqno): what a node of the world
    /// that holds that pair passes on ([`HeldSigs`]).
    by_seqno: ConcurrentIndex,
    /// Router ids with the /64 each owns; a [`RidIdx`] is a place here.
    rids: AppendOnly<(RouterId, Subnet)>,
    rid_index: ConcurrentIndex,
}

impl core::fmt::Debug for SharedOrigins {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedOrigins")
            .field("verified", &self.len())
            .field("router_ids", &self.rids.len())
            .finish()
    }
}

impl SharedOrigins {
    /// Number of distinct signatures verified so far.
    pub fn len(&self) -> usize {
        self.verified.len()
    }

    /// True when nothing was verified yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The signature of `(rid, seqno)` first verified in this world.
    pub(super) fn sig_for(&self, rid: &RouterId, seqno: u16) -> Option<SigRef> {
        self.by_seqno
            .find(pair_hash(rid, seqno), |i| self.signs(i, rid, seqno))
            .map(|i| SigRef::of(i as usize))
    }

    /// True when the verified signature at `i` signs `(rid, seqno)`.
    fn signs(&self, i: u32, rid: &RouterId, seqno: u16) -> bool {
        self.verified
            .get(i as usize)
            .is_some_and(|e| e.1 == seqno && e.0 == *rid)
    }

    /// Router ids interned so far.
    pub(super) fn router_ids(&self) -> usize {
        self.rids.len()
    }

    /// The index of `rid`, if any node interned it.
    pub(super) fn find_rid(&self, rid: &RouterId) -> Option<RidIdx> {
        self.rid_index.find(hash_of(rid), |i| {
            self.rids.get(i as usize).is_some_and(|e| e.0 == *rid)
        })
    }

    /// The router id and /64 at `i`.
    pub(super) fn rid_at(&self, i: RidIdx) -> (RouterId, Subnet) {
        *self.rids.get(i as usize).expect("handed out once pushed")
    }

    /// Interns `rid` (owning `subnet`) if no node did yet; returns its index.
    pub(super) fn insert_rid(&self, rid: RouterId, subnet: Subnet) -> RidIdx {
        self.rid_index
            .find_or_insert(
                hash_of(&rid),
                |i| self.rids.get(i as usize).is_some_and(|e| e.0 == rid),
                || Some(self.rids.push((rid, subnet)) as u32),
                |i| hash_of(&self.rid_at(i).0),
            )
            .expect("always made")
    }

    /// Bytes held for the whole world: the router-id table and the verified signatures.
    pub fn bytes(&self) -> usize {
        self.verified.bytes()
            + self.verified_index.bytes()
            + self.by_seqno.bytes()
            + self.rids.bytes()
            + self.rid_index.bytes()
    }
}

/// The last verified signatures of one router id: its newest seqno and the one before, which
/// is what selected routes use while a newer seqno spreads. 12 bytes, once per router id per
/// node; in a world that shares its signatures, 6 ([`HeldSigs`]: which seqnos the node
/// verified, their signatures looked up in the world's store).
#[derive(Debug, Clone)]
pub struct OriginSigs<R = SigRef> {
    /// Seqno of each slot; meaningful where `sigs` holds one.
    seqnos: [u16; 2],
    sigs: [Option<R>; 2],
}

/// [`OriginSigs`] of a node whose world shares its verified signatures: the seqnos it holds.
pub type HeldSigs = OriginSigs<()>;

impl<R> Default for OriginSigs<R> {
    fn default() -> Self {
        OriginSigs {
            seqnos: [0; 2],
            sigs: [None, None],
        }
    }
}

/// Every router id's [`OriginSigs`] on one node, by router-id index.
#[derive(Debug)]
pub enum Origins {
    /// A node of its own: its signatures are its own.
    Local(Vec<OriginSigs>),
    /// A node of a world that shares its verified signatures.
    Shared(Vec<HeldSigs>),
}

/// Runs `$e` on whichever list `$o` holds, named `$v` (the two differ only in what a slot
/// keeps, so everything but lookups of the signature reads them alike).
macro_rules! each {
    ($o:expr, $v:ident => $e:expr) => {
        match $o {
            Origins::Local($v) => $e,
            Origins::Shared($v) => $e,
        }
    };
}

impl Origins {
    /// Empty, for a node of its own or of a world sharing `shared`.
    pub fn new(shared: bool) -> Self {
        if shared {
            Origins::Shared(Vec::new())
        } else {
            Origins::Local(Vec::new())
        }
    }

    /// Router ids with a place.
    pub fn len(&self) -> usize {
        each!(self, v => v.len())
    }

    /// True when no router id has a place.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Places for router ids up to `len`, with room for `room`.
    fn grow(&mut self, len: usize, room: usize) {
        each!(self, v => {
            v.reserve_exact(room - v.len());
            v.resize(len, Default::default());
        })
    }

    /// Gives back spare room beyond a quarter.
    pub fn shrink(&mut self) {
        each!(self, v => if v.capacity() > v.len() + v.len() / 4 + 16 {
            v.shrink_to_fit();
        })
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        fn bytes<T>(v: &Vec<T>) -> usize {
            v.capacity() * core::mem::size_of::<T>()
        }
        each!(self, v => bytes(v))
    }

    /// True when router id `i` has a signature kept.
    pub fn holds_any(&self, i: RidIdx) -> bool {
        each!(self, v => v.get(i as usize).is_some_and(|o| !o.is_empty()))
    }

    /// True when `(i, seqno)` was verified and is still kept.
    pub fn holds(&self, i: RidIdx, seqno: u16) -> bool {
        each!(self, v => v.get(i as usize).is_some_and(|o| o.get(seqno).is_some()))
    }
}

impl<R: Copy + PartialEq> OriginSigs<R> {
    /// The signature of `seqno`, if it was verified and is still kept.
    pub fn get(&self, seqno: u16) -> Option<R> {
        (0..2).find_map(|i| self.sigs[i].filter(|_| self.seqnos[i] == seqno))
    }

    /// True when no signature is kept (never verified by this node).
    pub fn is_empty(&self) -> bool {
        self.sigs.iter().all(Option::is_none)
    }

    /// Keeps a verified signature, dropping the older of the two kept if needed. Returns the
    /// signature no longer kept (the one dropped, or `sig` itself if it was older than both),
    /// for the store to free.
    #[must_use]
    pub fn insert(&mut self, seqno: u16, sig: R) -> Option<R> {
        let slot = |i: usize| self.sigs[i].map(|_| self.seqnos[i]);
        if let Some(i) = (0..2).find(|&i| slot(i) == Some(seqno)) {
            return self.sigs[i].replace(sig).filter(|&old| old != sig);
        }
        let victim = match (slot(0), slot(1)) {
            (None, _) => 0,
            (_, None) => 1,
            (Some(a), Some(b)) => {
                if seqno_newer(a, b) {
                    1
                } else {
                    0
                }
            }
        };
        // Never let an older seqno push out both newer ones.
        if slot(victim).is_some_and(|kept| seqno_newer(kept, seqno))
            && slot(1 - victim).is_some_and(|o| seqno_newer(o, seqno))
        {
            return Some(sig);
        }
        self.seqnos[victim] = seqno;
        self.sigs[victim].replace(sig)
    }
}

impl Babel {
    /// Interns a router id that owns `subnet`; `None` (nothing stored) when it does not. Only
    /// called once an origin signature by that router id verified, so a neighbour cannot grow
    /// the table with router ids it does not hold the keys of.
    pub(super) fn intern(&mut self, rid: RouterId, subnet: Subnet) -> Option<RidIdx> {
        let i = match self.rids.find(&rid) {
            Some(i) => (self.rids.subnet(i) == subnet).then_some(i)?,
            None => {
                if rid.node.subnet() != subnet {
                    return None;
                }
                self.rids.insert(rid, subnet)
            }
        };
        // A shared table may hand out an index past the ones this node has signatures for.
        if self.origins.len() <= i as usize {
            // Grown by an eighth, not doubled: every node keeps one per router id it knows. In
            // a shared table, to every router id its world knows so far, with no spare: the
            // nodes all end up knowing nearly all of them, and an eighth spare was 1.5 bytes
            // per destination on every node.
            let len = i as usize + 1;
            let room = match self.rids.shared_len() {
                Some(known) => known.max(len),
                None => len + len / 8,
            };
            self.origins.grow(len, room);
        }
        Some(i)
    }

    /// The interned index of `rid`, if it is known.
    pub(super) fn rid_of(&self, rid: &RouterId) -> Option<RidIdx> {
        self.rids.find(rid)
    }

    /// The signature of `(i, seqno)` if this node verified it and still keeps it.
    pub(super) fn held_sig(&self, i: RidIdx, seqno: u16) -> Option<[u8; SIGNATURE_LEN]> {
        let r = match &self.origins {
            Origins::Local(v) => v.get(i as usize)?.get(seqno)?,
            Origins::Shared(v) => {
                v.get(i as usize)?.get(seqno)?;
                self.sig_store.shared_sig(&self.rids.id(i), seqno)?
            }
        };
        Some(self.sig_store.get(r))
    }

    /// Keeps `r`, verified for `(i, seqno)`, releasing what is no longer kept.
    fn keep_sig(&mut self, i: RidIdx, seqno: u16, r: SigRef) {
        let old = match &mut self.origins {
            Origins::Local(v) => v[i as usize].insert(seqno, r),
            // The world keeps the signature; the node, that it verified this pair.
            Origins::Shared(v) => v[i as usize].insert(seqno, ()).map(|()| r),
        };
        if let Some(old) = old {
            self.sig_store.release(old);
        }
    }

    /// Checks a finite update's origin: the signature of (router id, seqno), verified once per
    /// pair, and a metric no smaller than one hop unless the neighbour is the originator.
    /// `known` is the router id's interned index, if it has one. An update that left the
    /// signature out ([`crate::wire::babel::update::SIGNATURE_HELD`]) passes when this node
    /// verified that pair before.
    pub(super) fn authenticate(
        &mut self,
        from: NeighbourId,
        u: &UpdateRepr,
        subnet: Subnet,
        known: Option<RidIdx>,
    ) -> Origin {
        let from_origin = self
            .neighbours
            .get(&from)
            .and_then(|nb| nb.node)
            .is_some_and(|n| n == u.router_id.node);
        let floor = from_origin || u.metric >= MIN_HOP_COST;
        let Some(sig) = u.signature else {
            // Without the floor it is a forgery whatever the signature.
            if !floor {
                return self.forged(from);
            }
            return match known.filter(|&i| self.origins.holds(i, u.seqno)) {
                Some(i) => Origin::Verified(i),
                None => {
                    self.counters.signatures_not_held += 1;
                    Origin::NotHeld
                }
            };
        };
        let mut interned = known;
        let held = |i: RidIdx| self.held_sig(i, u.seqno) == Some(sig);
        let ok = floor
            && (known.is_some_and(held) || {
                let (checked, ran) = self.sig_store.verify(&u.router_id, u.seqno, &sig);
                self.counters.origin_verifications += ran as u64;
                match checked.map(|r| (r, self.intern(u.router_id, subnet))) {
                    Some((r, Some(i))) => {
                        self.keep_sig(i, u.seqno, r);
                        interned = Some(i);
                        true
                    }
                    Some((r, None)) => {
                        self.sig_store.release(r);
                        false
                    }
                    None => false,
                }
            });
        match interned {
            Some(i) if ok => Origin::Verified(i),
            _ => self.forged(from),
        }
    }

    fn forged(&mut self, from: NeighbourId) -> Origin {
        self.counters.forged_origins += 1;
        if let Some(nb) = self.neighbours.get_mut(&from) {
            nb.forged_in_frame = true;
        }
        Origin::Forged
    }
}

/// What [`Babel::authenticate`] found of an update's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Signed by the router id's key (the router id's interned index).
    Verified(RidIdx),
    /// A signature that does not verify, or a metric below one hop (counted).
    Forged,
    /// The signature was left out but this node does not hold it (counted).
    NotHeld,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn signed(id: &Identity, rid: &RouterId, seqno: u16) -> [u8; SIGNATURE_LEN] {
        id.sign(&origin_signed_bytes(rid, seqno))
    }

    #[test]
    fn only_the_key_holder_signs_and_the_cache_verifies_once() {
        let v = Identity::from_seed([7; 32]);
        let m = Identity::from_seed([8; 32]);
        let rid = RouterId {
            node: v.node_id(),
            suffix: 5,
        };
        let good = signed(&v, &rid, 3);
        let mut own = SigStore::new(None);
        let (r, ran) = own.verify(&rid, 3, &good);
        assert!(ran);
        assert_eq!(own.get(r.unwrap()), good);
        // The same signature for another seqno, another suffix, or made by someone else.
        assert!(own.verify(&rid, 4, &good).0.is_none());
        let other = RouterId { suffix: 6, ..rid };
        assert!(own.verify(&other, 3, &good).0.is_none());
        assert!(own.verify(&rid, 3, &signed(&m, &rid, 3)).0.is_none());
        // A node's own store reuses what it released.
        own.release(r.unwrap());
        assert_eq!(own.verify(&rid, 3, &good).0, r);
        let shared = Arc::new(SharedOrigins::default());
        let (mut a, mut b) = (
            SigStore::new(Some(shared.clone())),
            SigStore::new(Some(shared.clone())),
        );
        let (r, ran) = a.verify(&rid, 3, &good);
        assert!(r.is_some() && ran);
        let (again, ran) = b.verify(&rid, 3, &good);
        assert!(again == r && !ran);
        assert_eq!(b.get(r.unwrap()), good);
        // A forgery is checked every time and never cached.
        let bad = signed(&m, &rid, 3);
        assert_eq!(a.verify(&rid, 3, &bad), (None, true));
        assert_eq!(b.verify(&rid, 3, &bad), (None, true));
        assert_eq!(shared.len(), 1);
        // What a world's node holding (rid, 3) passes on: the signature verified, found by
        // the pair; never a forgery, nothing for a pair not verified.
        assert_eq!(b.shared_sig(&rid, 3), r);
        assert_eq!(b.get(b.shared_sig(&rid, 3).unwrap()), good);
        assert_eq!(b.shared_sig(&rid, 4), None);
        assert_eq!(b.shared_sig(&other, 3), None);
        let (r4, _) = b.verify(&rid, 4, &signed(&v, &rid, 4));
        assert_eq!(a.shared_sig(&rid, 4), r4);
        assert_eq!(a.shared_sig(&rid, 3), r, "the earlier seqno stays found");
        assert_eq!(
            own.shared_sig(&rid, 3),
            None,
            "a node's own store has no world"
        );
    }

    #[test]
    fn a_released_signature_is_never_one_still_kept() {
        // As `Babel::authenticate` does: verify, keep, release what is no longer kept.
        let v = Identity::from_seed([9; 32]);
        let rid = |suffix| RouterId {
            node: v.node_id(),
            suffix,
        };
        let mut store = SigStore::new(None);
        let mut kept = [OriginSigs::default(), OriginSigs::default()];
        let mut offer = |store: &mut SigStore, k: usize, suffix: u32, seqno: u16| {
            let sig = signed(&v, &rid(suffix), seqno);
            let r = store.verify(&rid(suffix), seqno, &sig).0.expect("valid");
            if let Some(old) = kept[k].insert(seqno, r) {
                store.release(old);
            }
            kept[k].clone()
        };
        for seqno in [1, 2, 3, 1] {
            offer(&mut store, 0, 1, seqno);
        }
        let first = offer(&mut store, 1, 2, 7);
        let zero = offer(&mut store, 0, 1, 3);
        for (o, suffix, seqno) in [(&zero, 1, 2), (&zero, 1, 3), (&first, 2, 7)] {
            let r = o.get(seqno).expect("kept");
            assert_eq!(store.get(r), signed(&v, &rid(suffix), seqno));
        }
        assert!(zero.get(1).is_none());
    }

    #[test]
    fn keeps_the_two_newest() {
        let mut o = OriginSigs::default();
        let s = |b: usize| SigRef::of(b);
        assert_eq!(o.insert(1, s(1)), None);
        assert_eq!(o.insert(2, s(2)), None);
        assert_eq!(o.insert(3, s(3)), Some(s(1)), "the oldest goes");
        assert!(o.get(1).is_none());
        assert_eq!((o.get(2), o.get(3)), (Some(s(2)), Some(s(3))));
        assert_eq!(o.insert(1, s(11)), Some(s(11)), "older than both: refused");
        assert!(o.get(1).is_none() && o.get(2).is_some());
        // Older than 0 in wrapping order, and than 2 and 3.
        assert_eq!(o.insert(0xffff, s(9)), Some(s(9)));
        assert!(o.get(0xffff).is_none());
        assert_eq!(o.insert(4, s(4)), Some(s(2)));
        assert!(o.get(2).is_none() && o.get(3).is_some() && o.get(4).is_some());
        // The same seqno with another signature replaces it.
        assert_eq!(o.insert(4, s(5)), Some(s(4)));
        assert_eq!(o.insert(4, s(5)), None);
        assert_eq!(core::mem::size_of::<OriginSigs>(), 12);
        assert_eq!(core::mem::size_of::<HeldSigs>(), 6);
    }
}
