//! Opens received link frames on more than one core.
//!
//! A neighbour's packets are sealed by the link alone, so the receiving end's largest cost is
//! opening each transport frame's payload, and the node runs on the loop's thread. The loop
//! reads a batch, asks the node how to open each transport frame in it
//! ([`hypha_proto::node::Node::pre_open`], which changes nothing), and hands the batch here:
//! the frames are cut into equal slices by bytes, one per worker and one opened on the loop's
//! thread, and [`Opener::open_all`] returns once all are open. The loop then gives the node
//! every datagram in the order it arrived, and the node does the rest as if it had opened
//! them itself (see `hypha_proto::node::pre_open` for why that is the same).

use std::ops::Range;

use hypha_proto::node::PreOpen;

use crate::workers::{Workers, cuts};

/// Bytes below which a slice is not handed to a worker (as for sealing: its wake-up would
/// cost about what opening this much here does).
pub const MIN_SLICE_BYTES: usize = 24 * 1024;

/// One frame for a worker: where it lies and how to open it.
struct Job {
    at: *mut u8,
    len: usize,
    open: PreOpen,
}

// SAFETY: a job names bytes of the loop's receive buffer that `open_all` borrows mutably for
// as long as any worker holds the job, and no two jobs name the same bytes (checked there).
#[allow(unsafe_code)]
unsafe impl Send for Job {}

impl Job {
    fn open(self) -> bool {
        // SAFETY: see `Send` above: these bytes are this job's alone while it runs.
        #[allow(unsafe_code)]
        let d = unsafe { std::slice::from_raw_parts_mut(self.at, self.len) };
        self.open.open(d)
    }
}

/// What opening on several threads did, for the status file.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenStats {
    /// Worker threads.
    pub threads: u64,
    /// Slices handed to workers.
    pub worker_slices: u64,
    /// Frames opened by workers.
    pub worker_frames: u64,
    /// Frames opened ahead on the loop's thread.
    pub loop_frames: u64,
}

/// The worker threads (none: the node opens everything itself).
pub struct Opener {
    workers: Workers<Job, bool>,
    /// Counters since the start.
    pub stats: OpenStats,
}

impl Opener {
    /// Starts `threads` workers.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        Ok(Opener {
            // One slice per worker per batch, and the loop waits for each.
            workers: Workers::new(threads, "hypha-open", 1, Job::open)?,
            stats: OpenStats {
                threads: threads as u64,
                ..OpenStats::default()
            },
        })
    }

    /// Starts `threads` workers, or as many as the system lets it, saying so in the log.
    pub fn start(threads: usize) -> Self {
        crate::workers::start_fewer(threads, "opening", Self::new)
    }

    /// Whether a batch of `bytes` is worth opening ahead: there is a worker, and a slice for
    /// it and one for the loop would each be large enough.
    pub fn worth(&self, bytes: usize) -> bool {
        !self.workers.is_empty() && bytes >= 2 * MIN_SLICE_BYTES
    }

    /// Opens each frame `frames` names (a range of `buf`, ascending and apart, and how to
    /// open it), and appends to `verified` whether each did, in order.
    pub fn open_all(
        &mut self,
        buf: &mut [u8],
        frames: &[(Range<usize>, PreOpen)],
        verified: &mut Vec<bool>,
    ) {
        // The ranges must not overlap: each becomes a slice of its own on some thread.
        let mut end = 0;
        for (r, _) in frames {
            assert!(end <= r.start && r.start <= r.end && r.end <= buf.len());
            end = r.end;
        }
        let total: usize = frames.iter().map(|(r, _)| r.len()).sum();
        let parts = (total / MIN_SLICE_BYTES)
            .min(self.workers.len() + 1)
            .min(frames.len());
        // Cut by bytes; this thread keeps the first slice.
        let cuts = cuts(frames.iter().map(|(r, _)| r.len()), total, parts);
        let base = buf.as_mut_ptr();
        let mut handed = Vec::with_capacity(cuts.len());
        let ends = cuts.iter().skip(1).copied().chain([frames.len()]);
        for (w, (from, to)) in cuts.iter().copied().zip(ends).enumerate() {
            let jobs: Vec<Job> = frames[from..to]
                .iter()
                .map(|(r, open)| Job {
                    // SAFETY: in bounds (checked above).
                    #[allow(unsafe_code)]
                    at: unsafe { base.add(r.start) },
                    len: r.len(),
                    open: open.clone(),
                })
                .collect();
            let n = jobs.len() as u64;
            match self.workers.send(w, jobs) {
                Ok(()) => {
                    self.stats.worker_slices += 1;
                    self.stats.worker_frames += n;
                    handed.push((w, from..to));
                }
                // Only a bug ends a worker: as on the loop's thread, that ends the daemon.
                Err(_) => panic!("opening thread {w} died"),
            }
        }
        let here = cuts.first().copied().unwrap_or(frames.len());
        let start = verified.len();
        for (r, open) in &frames[..here] {
            // SAFETY: these bytes are not in any worker's slice; through `base`, like theirs,
            // since `buf` itself is not used again until the workers are done.
            #[allow(unsafe_code)]
            let d = unsafe { std::slice::from_raw_parts_mut(base.add(r.start), r.len()) };
            verified.push(open.open(d));
        }
        self.stats.loop_frames += here as u64;
        verified.resize(start + frames.len(), false);
        for (w, range) in handed {
            match self.workers.recv(w) {
                Some(v) if v.len() == range.len() => {
                    verified[start + range.start..start + range.end].copy_from_slice(&v)
                }
                _ => panic!("opening thread {w} died"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealer::sample::{pair, queue};

    /// Frames opened on workers verify, and tampered ones fail, in their places: the same
    /// answers and bytes as opening each on one thread.
    #[test]
    fn workers_open_each_frame_where_it_lies() {
        let (mut a, b, now) = pair();
        queue(&mut a, &b, now, 90);
        let mut buf = Vec::new();
        let mut ranges = Vec::new();
        while let Some(t) = a.poll_transmit() {
            if t.payload[0] == hypha_proto::wire::transport::TYPE_TRANSPORT {
                ranges.push(buf.len()..buf.len() + t.payload.len());
                buf.extend_from_slice(&t.payload);
            }
        }
        assert!(ranges.len() >= 90);
        let jobs: Vec<(Range<usize>, PreOpen)> = ranges
            .iter()
            .map(|r| (r.clone(), b.pre_open(&buf[r.clone()]).expect("b's key")))
            .collect();
        // Every seventh frame tampered with.
        for r in ranges.iter().skip(3).step_by(7) {
            buf[r.start + 20] ^= 1;
        }
        let mut one = buf.clone();
        let alone: Vec<bool> = jobs
            .iter()
            .map(|(r, p)| p.open(&mut one[r.clone()]))
            .collect();
        assert_eq!(
            alone.iter().filter(|v| !**v).count(),
            ranges.len().saturating_sub(3).div_ceil(7)
        );
        for threads in [0, 1, 3] {
            let mut opener = Opener::new(threads).unwrap();
            let mut many = buf.clone();
            let mut verified = vec![true];
            opener.open_all(&mut many, &jobs, &mut verified);
            assert!(verified[0], "what was there stays");
            assert_eq!(&verified[1..], &alone[..], "{threads} threads");
            assert!(many == one, "{threads} threads: other bytes");
            assert_eq!(opener.stats.worker_slices, threads.min(3) as u64);
            assert_eq!(
                opener.stats.worker_frames + opener.stats.loop_frames,
                ranges.len() as u64
            );
        }
    }
}
