//! Per-neighbour link measurement: hello loss, the neighbour's view of us (IHU), RTT, cost.
//!
//! Cost = max(rxcost, txcost) + RTT penalty, where rxcost = [`MIN_HOP_COST`] scaled by the
//! fraction of the neighbour's last 16 hellos that reached us (ETX-like) and txcost is the
//! neighbour's rxcost of our hellos, learnt from its IHU. The RTT penalty follows Babel-RTT:
//! 0 below 10 ms, linear up to 150 at 120 ms. The effective cost moves only when the computed
//! cost differs by more than 1/8, so RTT jitter does not churn the routing table.

use std::time::Duration;

use super::INFINITY;
use crate::time::Timestamp;
use crate::wire::babel::{HelloRepr, IhuRepr};

/// Every hop costs at least this much (a clean, fast wired link).
pub const MIN_HOP_COST: u16 = 96;
const RTT_MIN_US: u32 = 10_000;
/// Added to the handshake's round trip when it seeds the RTT ([`Neighbour::seed_rtt`]).
pub const SEED_RTT_MARGIN: Duration = Duration::from_millis(10);
const RTT_MAX_US: u32 = 120_000;
const MAX_RTT_PENALTY: u32 = 150;

/// What we know about one neighbour's link.
#[derive(Debug, Clone)]
pub struct Neighbour {
    hist: u16,
    hist_len: u8,
    last_seqno: Option<u16>,
    /// The neighbour's last hello timestamp and when it arrived (for our IHU echo).
    last_hello: Option<(u32, Timestamp)>,
    txcost: u16,
    last_ihu: Option<Timestamp>,
    ihu_interval: Duration,
    srtt_us: Option<u32>,
    cost: u16,
    /// Routes currently stored from this neighbour (for the per-neighbour limit).
    pub route_count: usize,
    /// The neighbour's node id (authenticated by the link), when known.
    pub node: Option<crate::identity::NodeId>,
    /// Set by a forged update; the rest of that frame's updates are dropped unread.
    pub(super) forged_in_frame: bool,
    /// Seqno requests taken from this neighbour and not yet paid back (a leaky bucket: when
    /// last counted, and how many were outstanding then).
    pub(super) request_window: (Timestamp, u32),
    /// Seqno of the next hello we send on this link (per link: gaps mean loss).
    pub hello_seqno_out: u16,
    /// Frames sent to this neighbour that still wait for their acknowledgment.
    pub(super) unacked: Vec<super::acks::Unacked>,
    /// Nonce of the next acknowledgment request.
    pub(super) next_nonce: u16,
    /// This neighbour's number in the routes that name it.
    pub(super) slot: super::table::Slot,
}

impl Neighbour {
    /// A neighbour whose link just authenticated: the handshake proved both directions, so it
    /// starts finite, at the worst RTT penalty until RTT is measured (or seeded from the
    /// handshake, [`Neighbour::seed_rtt`]) — a first estimate meant to go down rather than up,
    /// since a metric increase would make routes through us unfeasible for everyone
    /// downstream.
    pub fn new() -> Self {
        Neighbour {
            hist: 0,
            hist_len: 0,
            last_seqno: None,
            last_hello: None,
            txcost: MIN_HOP_COST,
            last_ihu: None,
            ihu_interval: Duration::from_secs(1),
            srtt_us: None,
            cost: MIN_HOP_COST + MAX_RTT_PENALTY as u16,
            route_count: 0,
            node: None,
            forged_in_frame: false,
            request_window: (Timestamp::ZERO, 0),
            hello_seqno_out: 0,
            unacked: Vec::new(),
            next_nonce: 0,
            slot: super::table::Slot::MIN,
        }
    }

    /// Whether a hello arrived at or after `since` (one that never sent any counts as heard,
    /// so a link that was just set up is not taken for silent).
    pub fn heard_since(&self, since: Timestamp) -> bool {
        self.last_hello.is_none_or(|(_, at)| at >= since)
    }

    /// The effective link cost.
    pub fn cost(&self) -> u16 {
        self.cost
    }

    /// Smoothed RTT, if measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.srtt_us.map(|us| Duration::from_micros(us as u64))
    }

    /// Records a hello. Returns true for the first hello from this neighbour.
    pub fn on_hello(&mut self, now: Timestamp, h: &HelloRepr) -> bool {
        let first = self.last_seqno.is_none();
        match self.last_seqno {
            None => {
                self.hist = 1;
                self.hist_len = 1;
            }
            Some(prev) => {
                let gap = h.seqno.wrapping_sub(prev) as i16;
                if gap <= 0 && gap > -16 {
                    return false; // duplicate or reordered: already counted
                }
                if !(1..=16).contains(&gap) {
                    // The neighbour restarted its counter or we lost a long run: start over.
                    self.hist = 1;
                    self.hist_len = 1;
                } else {
                    // Shifted in 32 bits: a gap of 16 must empty the 16-bit history, not
                    // overflow the shift (a panic in debug builds, a wrong cost in release).
                    self.hist = ((u32::from(self.hist) << gap) as u16) | 1;
                    self.hist_len = (self.hist_len as i16 + gap).min(16) as u8;
                }
            }
        }
        self.last_seqno = Some(h.seqno);
        self.last_hello = Some((h.timestamp, now));
        first
    }

    /// Takes the link handshake's round trip, plus [`SEED_RTT_MARGIN`], as the first RTT
    /// sample, so that the first routes learnt from this neighbour already carry about their
    /// final cost (with the worst penalty assumed instead, every one of them improved a moment
    /// later, and start-up sent each route about twice). The margin keeps the first estimate
    /// high: one handshake is one sample, and later ones may see queueing (the whole table
    /// goes out right after link-up) or jitter; a later rise within the margin moves the
    /// cost by less than its 1/8 hysteresis. Below 10 ms there is no penalty either way.
    pub fn seed_rtt(&mut self, now: Timestamp, rtt: Duration) {
        if self.srtt_us.is_none() && rtt < Duration::from_secs(1) {
            self.srtt_us = Some((rtt + SEED_RTT_MARGIN).as_micros() as u32);
            self.refresh_cost(now);
        }
    }

    /// Records an IHU: the neighbour's cost of our hellos and an RTT sample.
    pub fn on_ihu(&mut self, now: Timestamp, ihu: &IhuRepr) {
        self.txcost = ihu.rxcost;
        self.last_ihu = Some(now);
        self.ihu_interval = Duration::from_millis(ihu.interval_cs as u64 * 10);
        if ihu.echo_timestamp != 0 {
            let rtt = now
                .wire_micros()
                .wrapping_sub(ihu.echo_timestamp)
                .wrapping_sub(ihu.hold_us) as i32;
            // Negative or absurd samples come from clock wrap or a stale echo: skip them.
            if (0..10_000_000).contains(&rtt) {
                let rtt = rtt as u32;
                self.srtt_us = Some(match self.srtt_us {
                    None => rtt,
                    Some(s) => ((s as u64 * 7 + rtt as u64) / 8) as u32,
                });
            }
        }
    }

    /// Our rxcost of this neighbour's hellos (sent back in our IHU).
    pub fn rxcost(&self) -> u16 {
        let received = (self.hist & mask(self.hist_len)).count_ones();
        if self.hist_len == 0 {
            return MIN_HOP_COST;
        }
        if received == 0 {
            return INFINITY;
        }
        let c = MIN_HOP_COST as u32 * self.hist_len as u32 / received;
        c.min(INFINITY as u32 - 1) as u16
    }

    /// The IHU to send back, if we heard a hello.
    pub fn ihu(&self, now: Timestamp, interval: Duration) -> IhuRepr {
        let (echo, hold) = match self.last_hello {
            Some((ts, at)) => (ts, now.saturating_since(at).as_micros() as u32),
            None => (0, 0),
        };
        IhuRepr {
            rxcost: self.rxcost(),
            interval_cs: (interval.as_millis() / 10).clamp(1, u16::MAX as u128) as u16,
            echo_timestamp: echo,
            hold_us: hold,
        }
    }

    fn computed_cost(&self, now: Timestamp) -> u16 {
        let tx = match self.last_ihu {
            Some(at) if now.saturating_since(at) > self.ihu_interval * 7 / 2 => INFINITY,
            _ => self.txcost,
        };
        let base = self.rxcost().max(tx);
        if base == INFINITY {
            return INFINITY;
        }
        let penalty = match self.srtt_us {
            None => MAX_RTT_PENALTY,
            Some(r) if r > RTT_MIN_US => {
                let r = r.min(RTT_MAX_US);
                MAX_RTT_PENALTY * (r - RTT_MIN_US) / (RTT_MAX_US - RTT_MIN_US)
            }
            Some(_) => 0,
        };
        (base as u32 + penalty).min(INFINITY as u32 - 1) as u16
    }

    /// Recomputes the effective cost; returns true when it changed (routes via this neighbour
    /// must then be re-selected).
    pub fn refresh_cost(&mut self, now: Timestamp) -> bool {
        let new = self.computed_cost(now);
        let old = self.cost;
        let changed = if new == INFINITY || old == INFINITY {
            new != old
        } else {
            new.abs_diff(old) > old / 8
        };
        if changed {
            self.cost = new;
        }
        changed
    }
}

impl Default for Neighbour {
    fn default() -> Self {
        Self::new()
    }
}

fn mask(len: u8) -> u16 {
    if len >= 16 {
        u16::MAX
    } else {
        (1u16 << len) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(seqno: u16) -> HelloRepr {
        HelloRepr {
            seqno,
            interval_cs: 25,
            timestamp: 1,
        }
    }

    #[test]
    fn loss_raises_rxcost() {
        let mut n = Neighbour::new();
        let t = Timestamp::ZERO;
        for s in 0..16 {
            n.on_hello(t, &hello(s));
        }
        assert_eq!(n.rxcost(), MIN_HOP_COST);
        let mut n = Neighbour::new();
        for s in (0..32).step_by(2) {
            n.on_hello(t, &hello(s));
        }
        assert_eq!(n.rxcost(), MIN_HOP_COST * 2);
    }

    #[test]
    fn a_gap_of_sixteen_hellos_is_fifteen_lost() {
        // 16 received, then 15 lost and the 16th after them arrives: the history holds
        // 1 of the last 16 (an overflowing shift used to keep the old 16 instead).
        let mut n = Neighbour::new();
        let t = Timestamp::ZERO;
        for s in 0..16 {
            n.on_hello(t, &hello(s));
        }
        n.on_hello(t, &hello(31));
        assert_eq!(n.rxcost(), MIN_HOP_COST * 16);
    }

    #[test]
    fn rtt_from_ihu_echo() {
        let mut n = Neighbour::new();
        let sent = Timestamp::from_micros(1_000_000);
        let now = Timestamp::from_micros(1_080_000);
        n.on_ihu(
            now,
            &IhuRepr {
                rxcost: 96,
                interval_cs: 25,
                echo_timestamp: sent.wire_micros(),
                hold_us: 20_000,
            },
        );
        assert_eq!(n.rtt(), Some(Duration::from_millis(60)));
        assert!(n.refresh_cost(now));
        assert_eq!(n.cost(), 96 + 150 * 50 / 110);
    }
}
