//! The worker threads of the sealer and the opener: each takes slices of jobs in the order
//! given and returns one slice of results per slice, in that order, so the loop can put the
//! results back where the jobs came from.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

struct Thread<J, R> {
    /// `None` once dropping: a closed channel ends the thread's loop.
    jobs: Option<SyncSender<Vec<J>>>,
    done: Receiver<Vec<R>>,
    handle: Option<JoinHandle<()>>,
}

/// Threads that each turn slices of `J` into slices of `R` with one function.
pub(crate) struct Workers<J, R> {
    threads: Vec<Thread<J, R>>,
}

impl<J: Send + 'static, R: Send + 'static> Workers<J, R> {
    /// Starts `n` threads named `{name}-0`, `{name}-1`…, each applying `work` to every job
    /// of a slice; up to `queue` slices may wait on each side of each thread, so neither the
    /// loop nor a worker blocks on a send while fewer are in flight.
    pub fn new(n: usize, name: &str, queue: usize, work: fn(J) -> R) -> std::io::Result<Self> {
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let (jobs, job_rx) = sync_channel::<Vec<J>>(queue);
            let (done_tx, done) = sync_channel::<Vec<R>>(queue);
            let handle = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    // A worker sleeps between slices rather than spin: polling for 30 µs
                    // before sleeping cost this 2-core machine more CPU than it saved.
                    while let Ok(slice) = job_rx.recv() {
                        let results: Vec<R> = slice.into_iter().map(work).collect();
                        if done_tx.send(results).is_err() {
                            break;
                        }
                    }
                })?;
            threads.push(Thread {
                jobs: Some(jobs),
                done,
                handle: Some(handle),
            });
        }
        Ok(Workers { threads })
    }

    /// How many threads there are.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Queues `slice` on thread `i`; gives it back when that thread is gone.
    pub fn send(&self, i: usize, slice: Vec<J>) -> Result<(), Vec<J>> {
        match &self.threads[i].jobs {
            Some(jobs) => jobs.send(slice).map_err(|e| e.0),
            None => Err(slice),
        }
    }

    /// Waits for the results of the oldest slice thread `i` holds; `None` when it died.
    pub fn recv(&self, i: usize) -> Option<Vec<R>> {
        self.threads[i].done.recv().ok()
    }
}

impl<J, R> Drop for Workers<J, R> {
    fn drop(&mut self) {
        for t in &mut self.threads {
            t.jobs = None;
            if let Some(h) = t.handle.take() {
                let _ = h.join();
            }
        }
    }
}

/// `new(threads)`, or with fewer threads as long as the system refuses them (none cannot
/// fail), saying so in the log: for the sealing and the opening workers.
pub(crate) fn start_fewer<T>(
    threads: usize,
    what: &str,
    new: impl Fn(usize) -> std::io::Result<T>,
) -> T {
    for n in (1..=threads).rev() {
        match new(n) {
            Ok(s) => return s,
            Err(e) => tracing::warn!("{n} {what} threads: {e}"),
        }
    }
    new(0).expect("no threads to start cannot fail")
}

/// Where to cut items of these `weights` (bytes to seal or open; `total` their sum) into at
/// most `parts` slices of about equal weight: the index each slice after the first starts
/// at. No slice is empty.
pub(crate) fn cuts(weights: impl Iterator<Item = usize>, total: usize, parts: usize) -> Vec<usize> {
    let share = total.div_ceil(parts.max(1));
    let mut cuts = Vec::with_capacity(parts);
    let mut acc = 0;
    let mut weights = weights.peekable();
    let mut i = 0;
    while let Some(w) = weights.next() {
        acc += w;
        i += 1;
        if acc >= share * (cuts.len() + 1) && cuts.len() + 1 < parts && weights.peek().is_some() {
            cuts.push(i);
        }
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_come_back_in_order_and_a_dropped_pool_joins_its_threads() {
        let w: Workers<u32, u32> = Workers::new(2, "test-worker", 4, |x| x * 2).unwrap();
        for i in 0..2 {
            w.send(i, vec![1, 2, 3]).unwrap();
            w.send(i, vec![10 + i as u32]).unwrap();
        }
        for i in 0..2 {
            assert_eq!(w.recv(i), Some(vec![2, 4, 6]));
            assert_eq!(w.recv(i), Some(vec![20 + 2 * i as u32]));
        }
        drop(w);
    }

    #[test]
    fn a_dead_thread_gives_the_slice_back_and_no_results() {
        let w: Workers<u32, u32> =
            Workers::new(
                1,
                "test-worker",
                1,
                |x| if x == 0 { panic!("bug") } else { x },
            )
            .unwrap();
        w.send(0, vec![0]).unwrap();
        assert_eq!(w.recv(0), None);
        // The thread drops its end of the job channel as it unwinds, perhaps a moment later.
        let gave_back = (0..400).any(|_| {
            let back = w.send(0, vec![1]);
            if back.is_ok() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            back == Err(vec![1])
        });
        assert!(gave_back);
    }

    #[test]
    fn cuts_share_the_weight_and_leave_no_slice_empty() {
        assert_eq!(cuts([10, 10, 10, 10].into_iter(), 40, 2), vec![2]);
        assert_eq!(cuts([10, 10, 10, 10].into_iter(), 40, 4), vec![1, 2, 3]);
        assert_eq!(cuts([30, 1, 1, 8].into_iter(), 40, 2), vec![1]);
        assert_eq!(cuts([5, 5].into_iter(), 10, 5), vec![1]);
        assert!(cuts([40].into_iter(), 40, 3).is_empty());
        assert!(cuts([1, 2, 3].into_iter(), 6, 1).is_empty());
    }
}
