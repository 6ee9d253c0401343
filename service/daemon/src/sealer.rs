//! Seals outgoing datagrams on more than one core.
//!
//! The node builds each datagram and takes its counters in order, leaving the AEAD seals (most
//! of a data packet's cost) to whoever takes it ([`Unsealed`]). The loop hands what the node
//! queued to the sealer as it goes ([`Sealer::push`], e.g. after each TUN read), and the
//! sealer cuts each batch worth a thread's wake-up into equal slices, one per worker (queued
//! behind what it has) and one it seals on the loop's thread; the loop reads on while the
//! workers seal. [`Sealer::drain`] then waits for them and gives the datagrams back in the
//! order pushed: per-flow and per-link order are exactly what the node decided, and the bytes
//! are the same as sealing on one thread.

use std::collections::VecDeque;

use hypha_proto::node::{Transmit, Unsealed};

use crate::workers::{Workers, cuts};

/// Bytes to seal below which a slice is not handed to a worker: its wake-up (tens of
/// microseconds on a VM) would cost about what sealing this much here does.
const MIN_SLICE_BYTES: usize = 24 * 1024;
/// Workers at most, whatever the core count.
pub const MAX_THREADS: usize = 7;
/// Slices queued on one worker at most: a turn's reads each hand it one, and it seals them
/// in order while the loop reads on.
const MAX_IN_FLIGHT: usize = 16;

/// A run of datagrams in send order: sealed here, or on a worker.
enum Slot {
    Here(Vec<Transmit>),
    Worker(usize),
}

/// What sealing on several threads did, for the status file.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SealStats {
    /// Worker threads.
    pub threads: u64,
    /// Slices handed to workers.
    pub worker_slices: u64,
    /// Datagrams sealed by workers.
    pub worker_datagrams: u64,
    /// Datagrams sealed on the loop's thread.
    pub loop_datagrams: u64,
}

/// The worker threads (none: everything sealed on the loop's thread) and what is pushed but
/// not yet drained.
pub struct Sealer {
    workers: Workers<Unsealed, Transmit>,
    /// Per worker: slices handed to it and not yet drained (it seals and returns them in
    /// order).
    in_flight: Vec<usize>,
    slots: VecDeque<Slot>,
    /// Counters since the start.
    pub stats: SealStats,
}

/// Workers to start when the configuration does not say: one per core beyond the first
/// (the loop's), up to [`MAX_THREADS`].
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .min(MAX_THREADS)
}

impl Sealer {
    /// Starts `threads` workers.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        Ok(Sealer {
            workers: Workers::new(threads, "hypha-seal", MAX_IN_FLIGHT, Unsealed::seal)?,
            in_flight: vec![0; threads],
            slots: VecDeque::new(),
            stats: SealStats {
                threads: threads as u64,
                ..SealStats::default()
            },
        })
    }

    /// Starts `threads` workers, or as many as the system lets it (none: everything is
    /// sealed on the loop's thread), saying so in the log.
    pub fn start(threads: usize) -> Self {
        crate::workers::start_fewer(threads, "sealing", Self::new)
    }

    /// Takes `batch` (the next datagrams in send order): slices of it go to idle workers,
    /// the rest is sealed here, at once.
    pub fn push(&mut self, mut batch: Vec<Unsealed>) {
        if batch.is_empty() {
            return;
        }
        let (parts, total) = self.parts(&batch);
        if parts < 2 {
            self.seal_here(batch);
            return;
        }
        // Cut into `parts` slices of about equal bytes; this thread keeps the first.
        let cuts = cuts(batch.iter().map(Unsealed::seal_len), total, parts);
        // Hand the slices over from the last (split_off takes the end), before sealing ours;
        // the least loaded workers first.
        let mut handed = Vec::with_capacity(cuts.len());
        for &at in cuts.iter().rev() {
            let Some(i) = (0..self.workers.len())
                .filter(|&i| self.in_flight[i] < MAX_IN_FLIGHT && !handed.contains(&i))
                .min_by_key(|&i| self.in_flight[i])
            else {
                break;
            };
            let tail = batch.split_off(at);
            let n = tail.len() as u64;
            match self.workers.send(i, tail) {
                Ok(()) => {
                    self.in_flight[i] += 1;
                    self.stats.worker_slices += 1;
                    self.stats.worker_datagrams += n;
                    handed.push(i);
                }
                // The worker is gone (it panicked): its slice is sealed here, still in order
                // (it goes back on the end, and an earlier cut takes it along).
                Err(tail) => {
                    batch.extend(tail);
                    self.in_flight[i] = MAX_IN_FLIGHT; // never to be used again
                }
            }
        }
        self.seal_here(batch);
        self.slots
            .extend(handed.into_iter().rev().map(Slot::Worker));
    }

    /// Into how many slices `batch` is worth cutting (one per worker with room, and one for
    /// this thread, each at least [`MIN_SLICE_BYTES`]), and the bytes it has to seal.
    fn parts(&self, batch: &[Unsealed]) -> (usize, usize) {
        let idle = self
            .in_flight
            .iter()
            .filter(|&&n| n < MAX_IN_FLIGHT)
            .count();
        if idle == 0 {
            return (1, 0);
        }
        let total: usize = batch.iter().map(Unsealed::seal_len).sum();
        let parts = (total / MIN_SLICE_BYTES).min(idle + 1).min(batch.len());
        (parts, total)
    }

    fn seal_here(&mut self, batch: Vec<Unsealed>) {
        self.stats.loop_datagrams += batch.len() as u64;
        let sealed = batch.into_iter().map(Unsealed::seal);
        match self.slots.back_mut() {
            Some(Slot::Here(v)) => v.extend(sealed),
            _ => self.slots.push_back(Slot::Here(sealed.collect())),
        }
    }

    /// Appends everything pushed, sealed, to `out` in the order pushed. It blocks the
    /// calling thread (the loop, runtime and all) until the workers are done: for about as
    /// long as sealing its slice took the loop, since each worker was given one as large.
    pub fn drain(&mut self, out: &mut Vec<Transmit>) {
        while let Some(slot) = self.slots.pop_front() {
            match slot {
                Slot::Here(v) => out.extend(v),
                Slot::Worker(i) => match self.workers.recv(i) {
                    Some(v) => {
                        self.in_flight[i] -= 1;
                        out.extend(v);
                    }
                    // Only a bug panics a worker; on the loop's thread it would have ended
                    // the daemon, and so it does here, rather than losing datagrams and a
                    // core in silence.
                    None => panic!("sealing thread {i} died"),
                },
            }
        }
    }

    /// Seals `batch` and appends the datagrams to `out` in the same order: [`Sealer::push`]
    /// and [`Sealer::drain`].
    pub fn seal_all(&mut self, batch: Vec<Unsealed>, out: &mut Vec<Transmit>) {
        // Most turns: nothing in flight and too little to split; straight into `out`.
        if self.slots.is_empty() && self.parts(&batch).0 < 2 {
            self.stats.loop_datagrams += batch.len() as u64;
            out.extend(batch.into_iter().map(Unsealed::seal));
            return;
        }
        self.push(batch);
        self.drain(out);
    }
}

/// Two nodes with a link up and packets to seal: for the tests and `benches/seal.rs`.
#[doc(hidden)]
pub mod sample {
    use std::net::SocketAddr;
    use std::time::Duration;

    use hypha_proto::identity::Identity;
    use hypha_proto::node::{Node, NodeConfig, Remote};
    use hypha_proto::time::Timestamp;

    /// The underlay address of node `last` (a name only: nothing is sent).
    pub fn remote(last: u8) -> Remote {
        Remote::Udp(SocketAddr::from(([10, 0, 0, last], 9651)))
    }

    /// Nodes a and b with a link up, built the same way every time (seeded).
    pub fn pair() -> (Node, Node, Timestamp) {
        let mut now = Timestamp::ZERO;
        let cfg = NodeConfig::default();
        let mut a = Node::new(Identity::from_seed([1; 32]), cfg.clone(), now, [1; 32]);
        let mut b = Node::new(Identity::from_seed([2; 32]), cfg, now, [2; 32]);
        a.add_peer(now, remote(2));
        // The handshake, then routing's first updates.
        for _ in 0..40 {
            now = now + Duration::from_millis(50);
            a.handle_timeout(now);
            b.handle_timeout(now);
            while let Some(mut t) = a.poll_transmit() {
                b.handle_datagram(now, remote(1), &mut t.payload);
            }
            while let Some(mut t) = b.poll_transmit() {
                a.handle_datagram(now, remote(2), &mut t.payload);
            }
        }
        // What routing still had to say: the tests' batches hold data alone.
        while a.poll_transmit().is_some() {}
        (a, b, now)
    }

    /// `n` packets of 1300 bytes a sends b (content: their index), queued in a.
    pub fn queue(a: &mut Node, b: &Node, now: Timestamp, n: usize) {
        for i in 0..n {
            let mut p = vec![i as u8; 1300];
            p[0] = 0x60;
            p[4..6].copy_from_slice(&1260u16.to_be_bytes());
            p[6] = 59;
            p[7] = 64;
            p[8..24].copy_from_slice(&a.node_id().address().0);
            p[24..40].copy_from_slice(&b.node_id().address().0);
            a.handle_tun(now, &p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sample::{pair, queue, remote};
    use super::*;

    #[test]
    fn sealing_on_threads_gives_the_same_datagrams_in_the_same_order() {
        let (mut a, mut b, now) = pair();
        let (mut a2, _, _) = pair();
        queue(&mut a, &b, now, 200);
        queue(&mut a2, &b, now, 200);
        // The packets, and what else a has to say as traffic starts (path MTU probes).
        let batch: Vec<Unsealed> = std::iter::from_fn(|| a.poll_unsealed()).collect();
        assert!(batch.len() >= 200);
        let mut sealer = Sealer::new(3).unwrap();
        let mut out = Vec::new();
        sealer.seal_all(batch, &mut out);
        assert_eq!(
            sealer.stats.worker_slices, 3,
            "split across the three workers"
        );
        assert!(sealer.stats.worker_datagrams >= 100, "{:?}", sealer.stats);
        let alone: Vec<Transmit> = std::iter::from_fn(|| a2.poll_transmit()).collect();
        assert!(
            out == alone,
            "the same bytes, in the same order, as sealed on one thread"
        );
        // And b takes every one of them, in order.
        for mut t in out {
            b.handle_datagram(now, remote(1), &mut t.payload);
        }
        let got: Vec<u8> = std::iter::from_fn(|| b.poll_tun())
            .filter(|p| p[6] == 59)
            .map(|p| p[40])
            .collect();
        assert_eq!(got, (0..200).map(|i| i as u8).collect::<Vec<_>>());
        // A small batch stays on the loop's thread.
        queue(&mut a, &b, now, 3);
        let batch: Vec<Unsealed> = std::iter::from_fn(|| a.poll_unsealed()).collect();
        let mut out = Vec::new();
        sealer.seal_all(batch, &mut out);
        assert!(out.len() >= 3);
        assert_eq!(sealer.stats.worker_slices, 3);
        drop(sealer); // the workers stop and are joined
    }

    #[test]
    fn pushes_while_workers_are_busy_come_out_in_the_order_pushed() {
        let (mut a, b, now) = pair();
        let (mut a2, _, _) = pair();
        let mut sealer = Sealer::new(1).unwrap();
        let mut out = Vec::new();
        // Large batches are cut in two, the worker's half queued behind what it has; small
        // ones stay here; past MAX_IN_FLIGHT slices on the worker everything stays here. The
        // slots interleave, and the order pushed must survive all of it.
        let sizes = [100, 2, 60, 80, 3].repeat(6);
        for &n in &sizes {
            queue(&mut a, &b, now, n);
            queue(&mut a2, &b, now, n);
            sealer.push(std::iter::from_fn(|| a.poll_unsealed()).collect());
        }
        assert_eq!(sealer.stats.worker_slices, MAX_IN_FLIGHT as u64);
        sealer.drain(&mut out);
        let alone: Vec<Transmit> = std::iter::from_fn(|| a2.poll_transmit()).collect();
        assert_eq!(out.len(), alone.len());
        assert!(out == alone, "the order pushed");
        // Drained, the worker takes slices again.
        queue(&mut a, &b, now, 100);
        sealer.push(std::iter::from_fn(|| a.poll_unsealed()).collect());
        assert_eq!(sealer.stats.worker_slices, MAX_IN_FLIGHT as u64 + 1);
        out.clear();
        sealer.drain(&mut out);
        assert!(out.len() >= 100);
    }
}
