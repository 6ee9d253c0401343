//! Opening received packets on other threads.
//!
//! A receiving node's largest cost is the AEAD over each payload: a transport frame's (a
//! neighbour's packets are sealed by the link alone) or, in a data frame for this node, the
//! end-to-end one; and the node runs on one thread. So the I/O loop may split receiving a
//! batch in three: it asks the node how to open each such payload ([`Node::pre_open`], which
//! changes nothing), opens them wherever it likes ([`PreOpen::open`], any thread), and then
//! hands every datagram of the batch to the node in the order it arrived
//! ([`Node::handle_pre_opened`] for those opened ahead, [`Node::handle_datagram_in_place`]
//! for the rest). The node then does everything it would have done, in the same order,
//! except running the payload's AEAD a second time. (For a data frame, finding the session
//! takes the routed header, which the link encrypts: the node opens a copy of those 32 bytes
//! ahead, and opens them in place again when it takes the frame.)
//!
//! Why that is the same as opening in order: the node decides afresh, when it takes the
//! datagram, whether it is acceptable (its receive index still names a key of a link that is
//! up, its session is still there, neither counter is a replay), so a payload opened ahead
//! under a key that an earlier datagram of the batch retired is refused as it would have
//! been. A link's receive index names one key for its whole life (new keys come with a new
//! index), and so does a session's, so a payload that verified under its index's key verified
//! under the key the node would have used. A datagram whose index was unknown when asked
//! ahead (keys an earlier datagram of the batch brings) is not opened ahead, and the node
//! opens it when it takes it.

use std::ops::Range;

use super::Node;
use super::links::State;
use crate::address::Subnet;
use crate::crypto::{Cipher, TAG_LEN};
use crate::wire::data_frame::{self, TYPE_DATA_FRAME};
use crate::wire::routed::{self, RoutedRepr, TYPE_DATA};
use crate::wire::transport::{HEADER_LEN, TYPE_TRANSPORT, TransportRepr};

/// How to open one payload: its key, its counter and which payload.
#[derive(Clone)]
pub struct PreOpen {
    key: Cipher,
    counter: u64,
    part: Part,
}

#[derive(Clone)]
enum Part {
    /// A transport frame's, after the link header.
    Link,
    /// A data frame's end-to-end payload: where it lies, and the routed header, opened from
    /// a copy (it lies encrypted in the frame), whose bytes its AEAD covers. The node takes
    /// the header from here rather than open it again, once it finds the frame's link
    /// receive index and counter the same.
    EndToEnd {
        body: Range<usize>,
        header: [u8; routed::HEADER_LEN],
        link: (u32, u64),
    },
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
        match &self.part {
            Part::Link if datagram.len() >= HEADER_LEN => {
                let (head, sealed) = datagram.split_at_mut(HEADER_LEN);
                self.key.open(self.counter, head, sealed).is_some()
            }
            Part::Link => false,
            Part::EndToEnd { body, header, .. } => datagram
                .get_mut(body.clone())
                .and_then(|b| self.key.open(self.counter, &header[routed::AAD_START..], b))
                .is_some(),
        }
    }
}

impl Node {
    /// How to open `datagram`'s payload ahead: for a transport frame, or a data frame with a
    /// data packet for this node, whose keys the node holds and whose counters are not
    /// replays. Anything else (handshakes, frames to pass on, unknown keys, a header that does
    /// not open): `None`, and the datagram goes to [`Node::handle_datagram_in_place`] as
    /// usual. Changes nothing, counts nothing: the node counts when it takes the datagram.
    pub fn pre_open(&self, datagram: &[u8]) -> Option<PreOpen> {
        match *datagram.first()? {
            TYPE_TRANSPORT => {
                let t = TransportRepr::parse(datagram).ok()?;
                let key = self.link_key(t.receiver_index, t.counter)?;
                Some(PreOpen {
                    key: key.clone(),
                    counter: t.counter,
                    part: Part::Link,
                })
            }
            TYPE_DATA_FRAME => self.pre_open_frame(datagram),
            _ => None,
        }
    }

    /// The key of link receive index `index`, if `counter` is not a replay there.
    fn link_key(&self, index: u32, counter: u64) -> Option<&Cipher> {
        let id = self.link_rx.get(&index)?;
        let State::Up(est) = &self.links.get(id)?.state else {
            return None;
        };
        let (_, key, replay) = est.receive_slot(index)?;
        replay.check(counter).then_some(key)
    }

    /// A data frame: its routed header opened from a copy, as `handle_data_frame` opens it in
    /// place, then the session the data packet names, if it is for this node.
    fn pre_open_frame(&self, frame: &[u8]) -> Option<PreOpen> {
        let (index, counter) = data_frame::parse(frame).ok()?;
        let key = self.link_key(index, counter)?;
        let len = frame.len();
        let tag: &[u8; TAG_LEN] = frame.last_chunk()?;
        let at = HEADER_LEN + routed::HEADER_LEN;
        let mut header: [u8; routed::HEADER_LEN] = frame.get(HEADER_LEN..at)?.try_into().ok()?;
        let aad = data_frame::aad(frame.get(at..len - TAG_LEN)?)?;
        if !key.open_detached(counter, &aad, &mut header, tag)
            || RoutedRepr::peek_type(&header) != Some(TYPE_DATA)
            || Subnet::of(&RoutedRepr::peek_dst(&header)?) != self.own_subnet
        {
            return None;
        }
        let (session, e2e_counter) = RoutedRepr::peek_data_index(&header)?;
        let key = self.sessions.pre_open(session, e2e_counter)?;
        Some(PreOpen {
            key: key.clone(),
            counter: e2e_counter,
            part: Part::EndToEnd {
                body: at..len - TAG_LEN,
                header,
                link: (index, counter),
            },
        })
    }

    /// [`Node::handle_datagram_in_place`] for a datagram that `pre` opened ([`PreOpen::open`]
    /// returned `verified`): the same, but the payload is not opened again (a transport
    /// frame's is taken as opened where the link would open it, a data frame's where its
    /// session would, and a data frame's routed header comes from `pre`).
    pub fn handle_pre_opened(
        &mut self,
        now: crate::time::Timestamp,
        remote: super::Remote,
        datagram: &mut [u8],
        pre: &PreOpen,
        verified: bool,
    ) -> Option<super::InPlaceOut> {
        self.pre_opened = Some(verified);
        if let Part::EndToEnd { header, link, .. } = &pre.part {
            self.pre_header = Some((*link, *header));
        }
        let out = self.handle_datagram_in_place(now, remote, datagram);
        (self.pre_opened, self.pre_header) = (None, None);
        out
    }
}
