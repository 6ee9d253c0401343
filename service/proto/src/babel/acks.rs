//! Acknowledged frames. Whatever must not wait for the next periodic dump when a datagram is
//! lost — triggered updates and retractions, answers to requests, seqno requests, a new
//! neighbour's first table — goes out in frames that open with an acknowledgment request
//! (RFC 8966 §3.3). A frame not acknowledged within an RTT-scaled timeout is sent again, with
//! its routes as they stand *then* (never a stale copy), backing off, at most [`MAX_TRIES`]
//! times; after that the periodic dump, which is never acknowledged, is the fallback. So one
//! lost update costs about one round trip instead of an update interval.

use std::time::Duration;

use super::updates::{Dest, Sign};
use super::{Babel, MAX_BODY, NeighbourId};
use crate::time::Timestamp;
use crate::wire::babel::{AckRepr, AckRequestRepr, Tlv};

/// Sends of one frame's content, the first included, before leaving it to the periodic dump.
pub const MAX_TRIES: u8 = 6;
/// Hellos a neighbour may miss before its retries wait for it.
pub const SILENT_HELLOS: u32 = 3;
/// Shortest wait for an acknowledgment.
pub const MIN_RTO: Duration = Duration::from_millis(30);
/// Longest wait for an acknowledgment (after backing off).
pub const MAX_RTO: Duration = Duration::from_secs(2);
/// Longest an acknowledgment waits to share its frame with others to the same neighbour (far
/// below [`MIN_RTO`]).
pub const ACK_DELAY: Duration = Duration::from_millis(1);
/// Wait for an acknowledgment while the link's RTT is not measured yet.
pub const FIRST_RTO: Duration = Duration::from_millis(200);

/// What one acknowledged frame carried, kept until its acknowledgment arrives: 48 bytes and
/// its /64s, where vectors with their spare room took 64 and about 90 (as many frames wait
/// as are in flight: 1.3 GB of them at the busiest moment of 10,000 simulated nodes).
#[derive(Debug, Clone)]
pub(super) struct Unacked {
    nonce: u16,
    retry_at: Timestamp,
    /// Sends so far, this one included.
    tries: u8,
    subnets: Box<[Dest]>,
    requests: Box<[Tlv]>,
}

impl Unacked {
    /// Maps its destinations to their new places (see [`Babel::remap_queued`]).
    pub(super) fn remap(&mut self, moved: impl Fn(Dest) -> Option<Dest>) {
        self.subnets = self.subnets.iter().filter_map(|&d| moved(d)).collect();
    }

    /// The destinations it carried.
    #[cfg(test)]
    pub(super) fn dests(&self) -> &[Dest] {
        &self.subnets
    }
}

/// A frame being filled: what it carries so far.
struct Filling {
    nonce: u16,
    subnets: Vec<Dest>,
    requests: Vec<Tlv>,
}

impl Filling {
    fn close(self, retry_at: Timestamp, tries: u8) -> Unacked {
        Unacked {
            nonce: self.nonce,
            retry_at,
            tries,
            subnets: self.subnets.into_boxed_slice(),
            requests: self.requests.into_boxed_slice(),
        }
    }
}

/// One piece of an acknowledged send.
pub(super) enum Item {
    /// A seqno or route request: sent again as it was.
    Request(Tlv),
    /// The update for a destination: sent again as the route then stands.
    Update(Dest, Tlv),
}

/// Wait before sending the `tries`-th copy again: twice the smoothed RTT (at least
/// [`MIN_RTO`]), doubled for every earlier try, at most [`MAX_RTO`].
pub fn rto(rtt: Option<Duration>, tries: u8) -> Duration {
    let base = rtt.map_or(FIRST_RTO, |r| (r * 2).max(MIN_RTO));
    base.saturating_mul(1 << tries.saturating_sub(1).min(8))
        .min(MAX_RTO)
}

impl Babel {
    /// Sends `items` to `n` in frames that each ask for an acknowledgment; `tries` is how many
    /// times this content went out before.
    pub(super) fn send_reliable(
        &mut self,
        now: Timestamp,
        n: NeighbourId,
        items: Vec<Item>,
        tries: u8,
    ) {
        if items.is_empty() {
            return;
        }
        let Some(nb) = self.neighbours.get(&n) else {
            return;
        };
        let tries = tries + 1;
        let wait = rto(nb.rtt(), tries);
        let retry_at = now + wait;
        let interval_cs = Self::interval_cs(wait);
        let mut nonce = nb.next_nonce;
        let mut frames: Vec<(Vec<u8>, Filling)> = Vec::new();
        // A frame holds at most this many signed updates (118 bytes each): sized once rather
        // than grown through 1, 2, 4, 8 and 16.
        let per_frame = items.len().min(MAX_BODY / 118 + 1);
        let open = |nonce: &mut u16| {
            let mut body = Vec::with_capacity(MAX_BODY);
            Tlv::AckRequest(AckRequestRepr {
                nonce: *nonce,
                interval_cs,
            })
            .emit(&mut body);
            let u = Filling {
                nonce: *nonce,
                subnets: Vec::with_capacity(per_frame),
                requests: Vec::new(),
            };
            *nonce = nonce.wrapping_add(1);
            (body, u)
        };
        let (mut body, mut pending) = open(&mut nonce);
        let header = body.len();
        for item in items {
            let tlv = match &item {
                Item::Request(t) | Item::Update(_, t) => t,
            };
            let mark = body.len();
            tlv.emit(&mut body);
            if body.len() > MAX_BODY && mark > header {
                body.truncate(mark);
                let (next_body, next_pending) = open(&mut nonce);
                frames.push((core::mem::replace(&mut body, next_body), pending));
                pending = next_pending;
                tlv.emit(&mut body);
            }
            match item {
                Item::Request(t) => pending.requests.push(t),
                Item::Update(s, _) => {
                    self.counters.updates_sent += 1;
                    pending.subnets.push(s);
                }
            }
        }
        frames.push((body, pending));
        if tries > 1 {
            self.counters.ack_retries += frames.len() as u64;
        }
        let Some(nb) = self.neighbours.get_mut(&n) else {
            return;
        };
        nb.next_nonce = nonce;
        for (body, pending) in frames {
            nb.unacked.push(pending.close(retry_at, tries));
            self.out.push_back((n, body));
        }
        self.ack_deadline = Some(self.ack_deadline.map_or(retry_at, |t| t.min(retry_at)));
    }

    /// An acknowledgment request from `from`: answered within [`ACK_DELAY`], together with the
    /// others due to it by then (see [`Babel::send_acks`]).
    pub(super) fn handle_ack_request(
        &mut self,
        now: Timestamp,
        from: NeighbourId,
        r: &AckRequestRepr,
    ) {
        // Answered within ACK_DELAY, every acknowledgment due to one neighbour in one frame:
        // answering each at once, in a datagram of its own, made acknowledgments nearly half
        // of all routing datagrams while tables fill.
        self.pending_acks.push((from, r.nonce));
        if self.ack_at.is_none() {
            self.ack_at = Some(now + ACK_DELAY);
        }
    }

    /// Sends the acknowledgments collected since the last call, one frame per neighbour.
    pub(super) fn send_acks(&mut self) {
        self.ack_at = None;
        let mut acks = core::mem::take(&mut self.pending_acks);
        // Stable: each neighbour's acknowledgments keep their order.
        acks.sort_by_key(|&(n, _)| n);
        for group in acks.chunk_by(|a, b| a.0 == b.0) {
            let n = group[0].0;
            if self.neighbours.contains_key(&n) {
                let tlvs: Vec<Tlv> = group
                    .iter()
                    .map(|&(_, nonce)| Tlv::Ack(AckRepr { nonce }))
                    .collect();
                self.send_tlvs(n, &tlvs);
            }
        }
    }

    /// An acknowledgment from `from`: that frame needs no resending.
    pub(super) fn handle_ack(&mut self, from: NeighbourId, a: &AckRepr) {
        let Some(nb) = self.neighbours.get_mut(&from) else {
            return;
        };
        let before = nb.unacked.len();
        nb.unacked.retain(|u| u.nonce != a.nonce);
        if nb.unacked.len() != before {
            self.counters.acks_received += 1;
        }
        crate::queue::shrink_idle(&mut nb.unacked);
    }

    /// Sends again every frame whose acknowledgment is overdue. A neighbour that missed its
    /// last [`SILENT_HELLOS`] hellos is probably gone (a cut link, a crashed node): its frames
    /// wait, not counted as tries, until it is heard again or the link goes down.
    pub(super) fn retry_unacked(&mut self, now: Timestamp) {
        let ns: Vec<NeighbourId> = self.neighbours.keys().copied().collect();
        let silent_since = now.saturating_sub(self.cfg.hello_interval * SILENT_HELLOS);
        for n in ns {
            let Some(nb) = self.neighbours.get_mut(&n) else {
                continue;
            };
            if !nb.heard_since(silent_since) {
                for u in nb.unacked.iter_mut().filter(|u| u.retry_at <= now) {
                    u.retry_at = now + self.cfg.hello_interval;
                    self.counters.ack_retries_paused += 1;
                }
                continue;
            }
            let (due, keep): (Vec<Unacked>, Vec<Unacked>) =
                nb.unacked.drain(..).partition(|u| u.retry_at <= now);
            nb.unacked = keep;
            for u in due {
                if u.tries >= MAX_TRIES {
                    self.counters.ack_give_ups += 1;
                    continue;
                }
                let mut items: Vec<Item> = u.requests.into_iter().map(Item::Request).collect();
                for s in u.subnets {
                    // Signed again: the lost frame may have carried the first signature.
                    let told = self.advertisements(now, s, &[(0, n)], Sign::Always, |_, tlv| {
                        items.push(Item::Update(s, tlv));
                    });
                    self.note_one(now, s, told);
                }
                self.send_reliable(now, n, items, u.tries);
            }
        }
        self.ack_deadline = self
            .neighbours
            .values()
            .flat_map(|nb| nb.unacked.iter().map(|u| u.retry_at))
            .min();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_frame_stays_small() {
        assert_eq!(core::mem::size_of::<Unacked>(), 48);
    }

    #[test]
    fn rto_scales_with_rtt_and_backs_off() {
        assert_eq!(rto(None, 1), FIRST_RTO);
        assert_eq!(rto(Some(Duration::from_millis(1)), 1), MIN_RTO);
        assert_eq!(
            rto(Some(Duration::from_millis(40)), 1),
            Duration::from_millis(80)
        );
        assert_eq!(
            rto(Some(Duration::from_millis(40)), 2),
            Duration::from_millis(160)
        );
        assert_eq!(rto(Some(Duration::from_millis(40)), 6), MAX_RTO);
        assert_eq!(rto(Some(Duration::from_secs(30)), 1), MAX_RTO);
    }
}
