//! Opening link frames on other threads.
//!
//! A transport frame's payload is the largest AEAD a receiving node runs (a neighbour's
//! packets are sealed by the link alone), and the node runs on one thread. So the I/O loop
//! may split receiving a batch in three: it asks the node which key opens each transport
//! frame ([`Node::pre_open`], which changes nothing), opens those frames wherever it likes
//! ([`PreOpen::open`], any thread), and then hands every datagram of the batch to the node in
//! the order it arrived ([`Node::handle_pre_opened`] for the frames opened ahead,
//! [`Node::handle_datagram_in_place`] for the rest). The node then does everything it would
//! have done, in the same order, except running the AEAD a second time.
//!
//! Why that is the same as opening in order: the node decides afresh, when it takes the
//! datagram, whether the frame is acceptable (its receive index still names a key of a link
//! that is up, its counter is not a replay), so a frame opened ahead under a key that an
//! earlier datagram of the batch retired is refused as it would have been. A receive index
//! names one key for its whole life (new keys come with a new index), so a frame that
//! verified under its index's key verified under the key the node would have used. A frame
//! whose index was unknown when asked ahead (keys an earlier datagram of the batch brings) is
//! not opened ahead, and the node opens it when it takes it.

use super::Node;
use super::links::State;
use crate::crypto::Cipher;
use crate::wire::transport::{HEADER_LEN, TYPE_TRANSPORT, TransportRepr};

/// How to open one transport frame's payload: its link key and counter.
#[derive(Clone)]
pub struct PreOpen {
    key: Cipher,
    counter: u64,
}

impl std::fmt::Debug for PreOpen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreOpen")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl PreOpen {
    /// Opens the frame `datagram` (the one [`Node::pre_open`] was asked about, unchanged) in
    /// place; true when its tag verified. Runs on any thread.
    pub fn open(&self, datagram: &mut [u8]) -> bool {
        if datagram.len() < HEADER_LEN {
            return false;
        }
        let (head, sealed) = datagram.split_at_mut(HEADER_LEN);
        self.key.open(self.counter, head, sealed).is_some()
    }
}

impl Node {
    /// For a transport frame whose key the node holds and whose counter is not a replay: how
    /// to open it ahead. Nothing else (handshakes, data frames, unknown keys): `None`, and the
    /// datagram goes to [`Node::handle_datagram_in_place`] as usual. Changes nothing, counts
    /// nothing: the node counts when it takes the datagram.
    pub fn pre_open(&self, datagram: &[u8]) -> Option<PreOpen> {
        if datagram.first() != Some(&TYPE_TRANSPORT) {
            return None;
        }
        let t = TransportRepr::parse(datagram).ok()?;
        let id = self.link_rx.get(&t.receiver_index)?;
        let State::Up(est) = &self.links.get(id)?.state else {
            return None;
        };
        let (_, key, replay) = est.receive_slot(t.receiver_index)?;
        replay.check(t.counter).then(|| PreOpen {
            key: key.clone(),
            counter: t.counter,
        })
    }

    /// [`Node::handle_datagram_in_place`] for a datagram that [`PreOpen::open`] opened
    /// (`verified`: what it returned): the same, but the payload is not opened again.
    pub fn handle_pre_opened(
        &mut self,
        now: crate::time::Timestamp,
        remote: super::Remote,
        datagram: &mut [u8],
        verified: bool,
    ) -> Option<super::InPlaceOut> {
        self.pre_opened = Some(verified);
        let out = self.handle_datagram_in_place(now, remote, datagram);
        self.pre_opened = None;
        out
    }
}
