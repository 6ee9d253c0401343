//! Sealing a turn's worth of outgoing datagrams (400 packets of 1300 bytes, 520 kB, as one
//! burst of TUN reads queues) on the loop's thread alone and with sealing workers. `cargo
//! bench -p hypha-daemon --bench seal`; the test command only compiles it. With a core free,
//! one worker should nearly halve the time; on a machine whose cores are all busy it cannot.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hypha_daemon::sealer::{Sealer, sample};
use hypha_proto::node::Unsealed;

const PACKETS: usize = 400;

fn seal(c: &mut Criterion) {
    let (mut a, b, now) = sample::pair();
    let mut g = c.benchmark_group("seal a turn");
    g.throughput(Throughput::Bytes((PACKETS * 1300) as u64));
    let max = hypha_daemon::sealer::default_threads().max(1);
    for workers in [0, 1, max]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let mut sealer = Sealer::new(workers).expect("threads");
        let mut out = Vec::with_capacity(PACKETS + 8);
        g.bench_function(format!("{workers} workers"), |bench| {
            bench.iter_batched(
                || {
                    sample::queue(&mut a, &b, now, PACKETS);
                    std::iter::from_fn(|| a.poll_unsealed()).collect::<Vec<Unsealed>>()
                },
                |batch| {
                    out.clear();
                    sealer.seal_all(batch, &mut out);
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, seal);
criterion_main!(benches);
