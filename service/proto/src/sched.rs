//! The forwarding scheduler: how much of the uplink others' traffic may use, and whose goes
//! first.
//!
//! The share counts the bytes of the packets carried (their end-to-end payload), not the
//! overlay's own headers, so that what users measure (e.g. iperf3) is what they set; on the
//! wire, link and overlay headers add about 115 bytes per packet.
//!
//! Only transit traffic — packets this node relays for others — passes through here; the
//! node's own packets and routing control never do, so the owner's traffic is never held to
//! the share. A token bucket refills at `share% × uplink` (burst: 10 ms of it, at least 64 KiB);
//! packets wait in one queue per incoming neighbour and leave in deficit-round-robin order,
//! each queue's quantum proportional to its neighbour's priority weight, so under saturation the
//! neighbours get bandwidth in proportion to their weights. A full queue drops the new packet
//! (counted). Time is an input; nothing here reads a clock.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::time::Timestamp;

/// Identifies a neighbour (the node's link id).
pub type Neighbour = u32;

/// Bytes one queue may hold before dropping.
pub const QUEUE_LIMIT: usize = 512 * 1024;
/// Base DRR quantum (bytes per round for weight 1).
pub const QUANTUM: u64 = 1500;

/// Per-neighbour transit statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NeighbourStats {
    /// Bytes forwarded that came from this neighbour.
    pub forwarded_bytes: u64,
    /// Packets dropped because the share was exhausted and the queue full.
    pub dropped_share: u64,
    /// Smoothed forwarding rate, bits per second.
    pub rate_bps: f64,
}

struct Queue {
    /// (next hop, frame, cost in bytes).
    packets: VecDeque<(u32, Vec<u8>, u32)>,
    bytes: usize,
    deficit: u64,
    stats: NeighbourStats,
    window_bytes: u64,
}

/// The scheduler.
pub struct Scheduler {
    /// Transit rate limit in bytes per second; `None` = unlimited.
    rate: Option<u64>,
    tokens: f64,
    last: Timestamp,
    queues: BTreeMap<Neighbour, Queue>,
    weights: BTreeMap<Neighbour, u32>,
    round: VecDeque<Neighbour>,
    rate_window_start: Timestamp,
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Scheduler {
    /// A scheduler forwarding at most `rate_bytes_per_s` (None: no limit).
    pub fn new(rate_bytes_per_s: Option<u64>) -> Self {
        Scheduler {
            rate: rate_bytes_per_s,
            tokens: 0.0,
            last: Timestamp::ZERO,
            queues: BTreeMap::new(),
            weights: BTreeMap::new(),
            round: VecDeque::new(),
            rate_window_start: Timestamp::ZERO,
        }
    }

    /// Changes the limit (takes effect at once; queued packets keep their place).
    pub fn set_rate(&mut self, rate_bytes_per_s: Option<u64>) {
        self.rate = rate_bytes_per_s;
        self.tokens = self.tokens.min(self.burst());
    }

    /// The limit, bytes per second.
    pub fn rate(&self) -> Option<u64> {
        self.rate
    }

    /// Sets a neighbour's priority weight (1 = normal; 0 is treated as 1).
    pub fn set_weight(&mut self, n: Neighbour, weight: u32) {
        self.weights.insert(n, weight.max(1));
    }

    /// A neighbour's weight.
    pub fn weight(&self, n: Neighbour) -> u32 {
        self.weights.get(&n).copied().unwrap_or(1)
    }

    /// Forgets a neighbour that went away (its queued packets are dropped).
    pub fn remove(&mut self, n: Neighbour) {
        self.queues.remove(&n);
        self.round.retain(|&x| x != n);
    }

    fn burst(&self) -> f64 {
        match self.rate {
            Some(r) => (r as f64 / 100.0).max(64.0 * 1024.0),
            None => f64::INFINITY,
        }
    }

    fn refill(&mut self, now: Timestamp) {
        if let Some(r) = self.rate {
            let dt = now.saturating_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * r as f64).min(self.burst());
        }
        self.last = now;
    }

    /// Queues a transit packet that came from `from` and goes to `next`; `cost` is what it
    /// counts against the share (its carried bytes). Returns false when it was dropped (queue
    /// full), or when the share is zero.
    pub fn enqueue(
        &mut self,
        now: Timestamp,
        from: Neighbour,
        next: u32,
        frame: Vec<u8>,
        cost: u32,
    ) -> bool {
        self.refill(now);
        let q = self.queues.entry(from).or_insert_with(|| Queue {
            packets: VecDeque::new(),
            bytes: 0,
            deficit: 0,
            stats: NeighbourStats::default(),
            window_bytes: 0,
        });
        if self.rate == Some(0) || q.bytes + frame.len() > QUEUE_LIMIT {
            q.stats.dropped_share += 1;
            return false;
        }
        if q.packets.is_empty() && !self.round.contains(&from) {
            self.round.push_back(from);
        }
        q.bytes += frame.len();
        q.packets.push_back((next, frame, cost));
        true
    }

    /// A transit packet from `from` costing `cost` may leave at once, bypassing the queues:
    /// with no limit and nothing queued, DRR would release it at once anyway, so this only
    /// saves the queueing (per packet on a relay at full speed). Counted as if dequeued. False:
    /// [`Scheduler::enqueue`] it.
    pub fn pass(&mut self, now: Timestamp, from: Neighbour, cost: u32) -> bool {
        if self.rate.is_some() || !self.round.is_empty() {
            return false;
        }
        let Some(q) = self.queues.get_mut(&from) else {
            return false; // its first packet makes the queue (and its statistics)
        };
        q.stats.forwarded_bytes += cost as u64;
        q.window_bytes += cost as u64;
        self.last = now;
        self.update_rates(now);
        true
    }

    /// Packets allowed out now, as (next hop, frame), in DRR order.
    pub fn dequeue(&mut self, now: Timestamp) -> Vec<(u32, Vec<u8>)> {
        self.refill(now);
        let unlimited = self.rate.is_none();
        let mut out = Vec::new();
        let mut idle_rounds = 0;
        while let Some(&n) = self.round.front() {
            let weight = self.weight(n) as u64;
            let Some(q) = self.queues.get_mut(&n) else {
                self.round.pop_front();
                continue;
            };
            let Some(&(_, _, cost)) = q.packets.front() else {
                q.deficit = 0;
                self.round.pop_front();
                continue;
            };
            let len = cost as u64;
            if !unlimited && self.tokens < len as f64 {
                break; // out of share: wait for the bucket
            }
            if q.deficit < len {
                q.deficit += QUANTUM * weight;
                self.round.rotate_left(1);
                idle_rounds += 1;
                if idle_rounds > self.round.len() * 64 {
                    break; // safety: never spin
                }
                continue;
            }
            idle_rounds = 0;
            let (next, frame, _) = q.packets.pop_front().expect("front");
            q.deficit -= len;
            q.bytes -= frame.len();
            q.stats.forwarded_bytes += len;
            q.window_bytes += len;
            if !unlimited {
                self.tokens -= len as f64;
            }
            if q.packets.is_empty() {
                q.deficit = 0;
                self.round.pop_front();
            }
            out.push((next, frame));
        }
        self.update_rates(now);
        out
    }

    fn update_rates(&mut self, now: Timestamp) {
        let dt = now.saturating_since(self.rate_window_start);
        if dt < Duration::from_millis(250) {
            return;
        }
        for q in self.queues.values_mut() {
            let inst = q.window_bytes as f64 * 8.0 / dt.as_secs_f64();
            q.stats.rate_bps = q.stats.rate_bps * 0.5 + inst * 0.5;
            q.window_bytes = 0;
        }
        self.rate_window_start = now;
    }

    /// When queued packets can next leave (None: nothing queued, or no limit).
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let rate = self.rate.filter(|&r| r > 0)?;
        let need = self
            .round
            .front()
            .and_then(|n| self.queues.get(n))
            .and_then(|q| q.packets.front())
            .map(|&(_, _, cost)| cost as f64)?;
        let missing = (need - self.tokens).max(0.0);
        // Rounded up to the microsecond a timestamp holds: rounded down, the deadline could
        // come a fraction of a byte's worth of tokens too soon, and find nothing to release.
        let wait_us = (missing * 1e6 / rate as f64).ceil();
        Some(self.last + Duration::from_micros(wait_us as u64))
    }

    /// Statistics for every neighbour that sent transit traffic.
    pub fn stats(&self) -> impl Iterator<Item = (Neighbour, NeighbourStats)> + '_ {
        self.queues.iter().map(|(n, q)| (*n, q.stats))
    }

    /// True when packets are waiting.
    pub fn has_queued(&self) -> bool {
        !self.round.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offers `offered` bytes/s per neighbour in 1200-byte packets for `secs` from second
    /// `start`, draining every millisecond; returns bytes forwarded per neighbour.
    fn simulate_from(
        s: &mut Scheduler,
        offered: &[(Neighbour, u64)],
        start: u64,
        secs: u64,
    ) -> BTreeMap<Neighbour, u64> {
        let mut got = BTreeMap::new();
        let mut credit: BTreeMap<Neighbour, f64> = BTreeMap::new();
        for ms in start * 1000 + 1..=(start + secs) * 1000 {
            let now = Timestamp::from_micros(ms * 1000);
            for &(n, rate) in offered {
                let c = credit.entry(n).or_default();
                *c += rate as f64 / 1000.0;
                while *c >= 1200.0 {
                    *c -= 1200.0;
                    s.enqueue(now, n, 9, vec![n as u8; 1200], 1200);
                }
            }
            for (_, f) in s.dequeue(now) {
                *got.entry(f[0] as Neighbour).or_default() += f.len() as u64;
            }
        }
        got
    }

    fn simulate(
        s: &mut Scheduler,
        offered: &[(Neighbour, u64)],
        secs: u64,
    ) -> BTreeMap<Neighbour, u64> {
        simulate_from(s, offered, 0, secs)
    }

    fn within(actual: f64, target: f64, pct: f64) -> bool {
        (actual - target).abs() <= target * pct / 100.0
    }

    #[test]
    fn unlimited_transit_passes_without_queueing_and_is_counted() {
        let mut s = Scheduler::new(None);
        let t = Timestamp::ZERO;
        // A neighbour's first packet is queued (it makes the queue), the next ones pass.
        assert!(!s.pass(t, 1, 1000));
        assert!(s.enqueue(t, 1, 9, vec![0; 1100], 1000));
        assert!(!s.pass(t, 2, 1000), "something is queued");
        assert_eq!(s.dequeue(t).len(), 1);
        assert!(s.pass(t, 1, 1000));
        let stats: Vec<_> = s.stats().collect();
        assert_eq!(stats[0].1.forwarded_bytes, 2000);
        // A limit queues everything again.
        s.set_rate(Some(1_000_000));
        assert!(!s.pass(t, 1, 1000));
    }

    /// Woken only at its own deadlines (as the daemon and the simulator do), the scheduler
    /// releases a packet on every wake-up: a deadline a fraction of a microsecond early would
    /// find too few tokens, leave the deadline where it was, and be woken for again at once.
    #[test]
    fn every_deadline_it_gives_releases_something() {
        // 7 bytes/s does not divide a microsecond evenly.
        for rate in [7, 1_000_003, 3_750_000] {
            let mut s = Scheduler::new(Some(rate));
            let mut now = Timestamp::ZERO;
            for _ in 0..50 {
                s.enqueue(now, 1, 9, vec![1; 1200], 1200);
            }
            let mut released = s.dequeue(now).len();
            for _ in 0..20 {
                let t = s.poll_timeout().expect("packets are queued");
                assert!(t > now, "rate {rate}: deadline {t:?} not after {now:?}");
                now = t;
                let n = s.dequeue(now).len();
                assert!(
                    n > 0,
                    "rate {rate}: woken at its deadline, released nothing"
                );
                released += n;
            }
            assert!(released >= 20);
        }
    }

    #[test]
    fn share_limits_transit_to_the_target_rate() {
        // 100 Mbit/s uplink, 30 % share = 3.75 MB/s; offered 10 MB/s.
        let rate = 100_000_000 / 8 * 30 / 100;
        let mut s = Scheduler::new(Some(rate));
        let got = simulate(&mut s, &[(1, 10_000_000)], 10);
        let r = got[&1] as f64 / 10.0;
        assert!(within(r, rate as f64, 2.0), "{r} vs {rate}");
        assert!(s.stats().next().unwrap().1.dropped_share > 0);
    }

    #[test]
    fn weights_split_a_saturated_share() {
        let rate = 5_000_000;
        let mut s = Scheduler::new(Some(rate));
        s.set_weight(1, 3);
        s.set_weight(2, 1);
        let got = simulate(&mut s, &[(1, 8_000_000), (2, 8_000_000)], 10);
        let total = (got[&1] + got[&2]) as f64;
        assert!(within(total / 10.0, rate as f64, 2.0));
        let share1 = got[&1] as f64 / total;
        assert!((share1 - 0.75).abs() < 0.02, "split {share1}");
    }

    #[test]
    fn an_idle_neighbour_leaves_its_share_to_others() {
        let rate = 5_000_000;
        let mut s = Scheduler::new(Some(rate));
        s.set_weight(1, 3);
        let got = simulate(&mut s, &[(2, 8_000_000)], 5);
        assert!(within(got[&2] as f64 / 5.0, rate as f64, 2.0));
    }

    #[test]
    fn rate_changes_apply_at_once_and_zero_forwards_nothing() {
        let mut s = Scheduler::new(Some(1_000_000));
        let first = simulate_from(&mut s, &[(1, 4_000_000)], 0, 2);
        assert!(within(first[&1] as f64 / 2.0, 1_000_000.0, 2.0));
        s.set_rate(Some(2_000_000));
        let then = simulate_from(&mut s, &[(1, 4_000_000)], 2, 4);
        assert!(
            within(then[&1] as f64 / 4.0, 2_000_000.0, 2.0),
            "{}",
            then[&1]
        );
        let mut s = Scheduler::new(Some(0));
        assert!(!s.enqueue(Timestamp::ZERO, 1, 2, vec![0; 100], 100));
        assert!(s.dequeue(Timestamp::from_micros(1_000_000)).is_empty());
        let mut s = Scheduler::new(None);
        let got = simulate(&mut s, &[(1, 4_000_000)], 1);
        assert!(
            within(got[&1] as f64, 4_000_000.0, 1.0),
            "unlimited forwards all"
        );
    }

    #[test]
    fn next_release_time_is_when_tokens_suffice() {
        let mut s = Scheduler::new(Some(1_000_000));
        let t0 = Timestamp::ZERO; // the bucket starts empty
        assert!(s.enqueue(t0, 1, 2, vec![0; 1000], 1000));
        assert!(s.dequeue(t0).is_empty());
        let t = s.poll_timeout().unwrap();
        assert_eq!(t.saturating_since(t0), Duration::from_millis(1));
        assert_eq!(s.dequeue(t).len(), 1);
    }
}
