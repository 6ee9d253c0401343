//! Sealing a turn's worth of outgoing datagrams as the loop does, on its thread alone and with
//! sealing workers: nine TUN reads of 45 packets of 1300 bytes each (one 58 kB super-packet
//! each, 527 kB in all), pushed one by one, then drained. `cargo bench -p hypha-daemon --bench
//! seal`; the test command only compiles it. With a core free, one worker should nearly halve
//! the time; on a machine whose cores are all busy it cannot.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hypha_daemon::sealer::{Sealer, sample};
use hypha_proto::node::Unsealed;

const READS: usize = 9;
const PER_READ: usize = 45;

fn seal(c: &mut Criterion) {
    let (mut a, b, now) = sample::pair();
    let mut g = c.benchmark_group("seal a turn");
    g.throughput(Throughput::Bytes((READS * PER_READ * 1300) as u64));
    let max = hypha_daemon::sealer::default_threads().max(1);
    for workers in [0, 1, max]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let mut sealer = Sealer::new(workers).expect("threads");
        let mut out = Vec::with_capacity(READS * PER_READ + 8);
        g.bench_function(format!("{workers} workers"), |bench| {
            bench.iter_batched(
                || {
                    (0..READS)
                        .map(|_| {
                            sample::queue(&mut a, &b, now, PER_READ);
                            std::iter::from_fn(|| a.poll_unsealed()).collect::<Vec<Unsealed>>()
                        })
                        .collect::<Vec<_>>()
                },
                |reads| {
                    out.clear();
                    for batch in reads {
                        sealer.push(batch);
                    }
                    sealer.drain(&mut out);
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, seal);
criterion_main!(benches);
