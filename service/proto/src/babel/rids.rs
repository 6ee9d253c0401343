//! Interned router ids: every route entry names its originator by a 4-byte index into this
//! table instead of the 36-byte router id.
//!
//! A real node keeps its own table. The nodes of one simulated world share one (through
//! [`SharedOrigins`]): a router id and the /64 it owns are the same facts in every node, so
//! storing them once per world instead of once per node saves 50 bytes per (node,
//! destination). What a node has *verified* stays its own (its [`super::origin::OriginSigs`]),
//! so sharing changes no decision: a router id another node interned but this one never
//! verified has no signature here and is checked as if unknown.

use std::sync::Arc;

use hashbrown::HashTable;

use super::origin::SharedOrigins;
use super::table::{RidIdx, hash_of, index_bytes};
use crate::address::Subnet;
use crate::wire::babel::RouterId;

/// Router ids with the /64 each owns, in insertion order, with a hash index by router id.
#[derive(Debug, Default)]
pub struct RidTable {
    ids: Vec<(RouterId, Subnet)>,
    index: HashTable<RidIdx>,
}

impl RidTable {
    /// The index of `rid`, if interned.
    pub fn find(&self, rid: &RouterId) -> Option<RidIdx> {
        self.index
            .find(hash_of(rid), |&i| self.ids[i as usize].0 == *rid)
            .copied()
    }

    /// The router id and /64 at `i`.
    pub fn get(&self, i: RidIdx) -> (RouterId, Subnet) {
        self.ids[i as usize]
    }

    /// Interns `rid` (owning `subnet`) if it is not yet; returns its index.
    pub fn insert(&mut self, rid: RouterId, subnet: Subnet) -> RidIdx {
        if let Some(i) = self.find(&rid) {
            return i;
        }
        let i = self.ids.len() as RidIdx;
        self.ids.push((rid, subnet));
        let ids = &self.ids;
        self.index
            .insert_unique(hash_of(&rid), i, |&j| hash_of(&ids[j as usize].0));
        i
    }

    /// Bytes held, from the containers' capacities.
    pub fn bytes(&self) -> usize {
        self.ids.capacity() * core::mem::size_of::<(RouterId, Subnet)>()
            + index_bytes(self.index.capacity(), core::mem::size_of::<RidIdx>())
    }

    fn shrink(&mut self) {
        if self.ids.capacity() > self.ids.len() + self.ids.len() / 4 + 16 {
            self.ids.shrink_to_fit();
        }
    }
}

/// A node's view of the router-id table: its own, or its world's.
#[derive(Debug)]
pub struct RouterIds {
    local: RidTable,
    shared: Option<Arc<SharedOrigins>>,
}

impl RouterIds {
    /// A node's own table, or a view of `shared`.
    pub fn new(shared: Option<Arc<SharedOrigins>>) -> Self {
        RouterIds {
            local: RidTable::default(),
            shared,
        }
    }

    /// The index of `rid`, if interned (in a shared table: by any node of the world).
    pub fn find(&self, rid: &RouterId) -> Option<RidIdx> {
        match &self.shared {
            Some(s) => s.find_rid(rid),
            None => self.local.find(rid),
        }
    }

    fn get(&self, i: RidIdx) -> (RouterId, Subnet) {
        match &self.shared {
            Some(s) => s.rid_at(i),
            None => self.local.get(i),
        }
    }

    /// The router id at `i`.
    pub fn id(&self, i: RidIdx) -> RouterId {
        self.get(i).0
    }

    /// The /64 the router id at `i` owns.
    pub fn subnet(&self, i: RidIdx) -> Subnet {
        self.get(i).1
    }

    /// Interns `rid`, which owns `subnet`.
    pub fn insert(&mut self, rid: RouterId, subnet: Subnet) -> RidIdx {
        match &self.shared {
            Some(s) => s.insert_rid(rid, subnet),
            None => self.local.insert(rid, subnet),
        }
    }

    /// How many router ids a shared table holds (its nodes', so far); `None` for a node's own.
    pub fn shared_len(&self) -> Option<usize> {
        self.shared.as_ref().map(|s| s.router_ids())
    }

    /// Bytes this node holds for router ids (a shared table is counted by its world).
    pub fn bytes(&self) -> usize {
        self.local.bytes()
    }

    /// Gives back spare capacity.
    pub fn shrink(&mut self) {
        self.local.shrink();
    }
}
