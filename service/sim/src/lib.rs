//! Deterministic many-node simulator for the Hypha protocol core.
//!
//! `run` builds a random connected graph, starts a real [`hypha_proto::node::Node`] per
//! vertex, lets the mesh converge, cuts a share of the links (silently: nodes notice only by
//! hello timeouts), optionally partitions and heals the network, probes the data plane end to
//! end, and reports JSON. The same arguments give the same report, byte for byte (apart from
//! the `host` block).

mod next_hops;
pub mod report;
pub mod topology;
mod window;
pub mod world;

use std::time::{Duration, Instant};

use rand_core::{Rng, SeedableRng};

pub use report::{Convergence, Host, Report};
use world::World;

/// Most nodes one simulation holds (its next-hop matrix stores 16-bit node numbers).
pub const MAX_NODES: usize = 65_535;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of nodes (at most [`MAX_NODES`]).
    pub nodes: usize,
    /// Average degree.
    pub degree: usize,
    /// Seed for everything random.
    pub seed: u64,
    /// Share of links to cut after the first convergence (0..1).
    pub fail_links: f64,
    /// Per-datagram loss probability on every link.
    pub loss: f64,
    /// Link latency range, milliseconds (uniform per link).
    pub latency_ms: (u64, u64),
    /// Also partition the network in two halves, then heal it.
    pub partition: bool,
    /// End-to-end probes at the end.
    pub probes: usize,
    /// Longest virtual time allowed for each phase.
    pub phase_limit: Duration,
    /// Include wall-clock measurements in the report.
    pub host: bool,
    /// Nodes that attack routing (forged announcements of a victim's /64, seqno-request
    /// floods; they relay nothing and drop the victim's packets).
    pub hostile: usize,
    /// Virtual time run at the end, with nothing changing, to measure steady-state control
    /// traffic (zero: not measured).
    pub steady: Duration,
    /// Threads the nodes run on (zero: one per core). The report does not depend on it.
    pub threads: usize,
    /// Print a line to stderr as each phase ends (virtual and wall time, peak memory), so
    /// that a run stopped at a limit still shows how far it got.
    pub progress: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            nodes: 100,
            degree: 4,
            seed: 1,
            fail_links: 0.1,
            loss: 0.0,
            latency_ms: (1, 20),
            partition: false,
            probes: 1000,
            phase_limit: Duration::from_secs(120),
            host: true,
            hostile: 0,
            steady: Duration::ZERO,
            threads: 0,
            progress: false,
        }
    }
}

fn secs(d: Option<Duration>) -> Option<f64> {
    // Rounded to the millisecond so the JSON stays short and exact.
    d.map(|d| (d.as_millis() as f64) / 1000.0)
}

/// Peak resident set size of this process, MiB (Linux; `None` elsewhere).
pub fn max_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0 * 10.0).round() / 10.0)
}

/// Runs the scenario and reports.
pub fn run(cfg: &SimConfig) -> Report {
    // On a pool thread of its own, so that the windows' parallel work shares that thread
    // instead of waking two others while the caller waits.
    match rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
    {
        Ok(pool) => pool.install(|| run_here(cfg)),
        Err(_) => run_here(cfg),
    }
}

/// A counter summed over every node.
fn sum_nodes(w: &World, f: &dyn Fn(&hypha_proto::node::Node) -> u64) -> u64 {
    w.nodes.iter().map(f).sum()
}

fn run_here(cfg: &SimConfig) -> Report {
    let wall = Instant::now();
    let progress = |phase: &str, w: &World, took: Option<Duration>| {
        if cfg.progress {
            let updates = sum_nodes(w, &|n| n.babel().counters.updates_sent);
            eprintln!(
                "sim: {phase}: converged {}, virtual {:.2} s, wall {:.1} s, peak RSS {} MiB, \
                 {updates} updates so far",
                took.map_or("no".into(), |d| format!("after {:.2} s", d.as_secs_f64())),
                w.now
                    .saturating_since(hypha_proto::time::Timestamp::ZERO)
                    .as_secs_f64(),
                wall.elapsed().as_secs_f64(),
                max_rss_mib().map_or("?".into(), |m| m.to_string()),
            );
        }
    };
    let mut w = World::new(cfg);
    progress("started", &w, None);
    let initial = w.run_to_convergence(cfg.phase_limit);
    progress("initial", &w, initial);
    let settle = w.now + Duration::from_secs(1);
    w.run_until(settle);
    progress("settled", &w, initial);

    // Cut a share of the links, chosen by the seed.
    let m = w.graph.edges.len();
    let to_cut = ((m as f64) * cfg.fail_links).round() as usize;
    let mut order: Vec<usize> = (0..m).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed);
    for i in (1..m).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    for &e in &order[..to_cut] {
        w.set_edge(e, false);
    }
    w.recompute_components();
    let components_after_cuts = w.components();
    let after_cuts = w.run_to_convergence(cfg.phase_limit);
    progress("after cuts", &w, after_cuts);

    let (mut partition, mut heal) = (None, None);
    if cfg.partition {
        let half = cfg.nodes / 2;
        let crossing: Vec<usize> = (0..m)
            .filter(|&e| {
                let (a, b) = w.graph.edges[e];
                w.alive[e] && ((a < half) != (b < half))
            })
            .collect();
        for &e in &crossing {
            w.set_edge(e, false);
        }
        w.recompute_components();
        partition = w.run_to_convergence(cfg.phase_limit);
        for &e in &crossing {
            w.set_edge(e, true);
        }
        w.recompute_components();
        heal = w.run_to_convergence(cfg.phase_limit);
    }

    let probes_sent = w.probe(cfg.probes, Duration::from_secs(2));
    let control_bytes_per_link_s = (!cfg.steady.is_zero()).then(|| {
        let before = w.stats.bytes;
        let until = w.now + cfg.steady;
        w.run_until(until);
        let links = w.alive.iter().filter(|&&a| a).count().max(1);
        let per = (w.stats.bytes - before) as f64 / links as f64 / cfg.steady.as_secs_f64();
        per.round()
    });
    let destinations: usize = w.nodes.iter().map(|n| n.babel().destinations()).sum();
    // What the nodes share (router ids, verified signatures) is counted once.
    let state: usize = w
        .nodes
        .iter()
        .map(|n| n.babel().state_bytes())
        .sum::<usize>()
        + w.shared.bytes();
    let route_state_bytes_per_destination =
        (state as f64 / destinations.max(1) as f64 * 10.0).round() / 10.0;
    let (connected, reachable) = w.reachability();
    let converged = w.counts_match() && connected == reachable;
    let sum = |f: &dyn Fn(&hypha_proto::node::Node) -> u64| sum_nodes(&w, f);
    Report {
        nodes: cfg.nodes,
        links: m,
        degree: cfg.degree,
        seed: cfg.seed,
        loss: cfg.loss,
        links_cut: to_cut,
        components_after_cuts,
        converged,
        connected_pairs: connected,
        reachable_pairs: reachable,
        reachable_pairs_pct: if connected == 0 {
            100.0
        } else {
            ((reachable as f64 / connected as f64) * 100_000.0).round() / 1000.0
        },
        stale_routes: w.stale_routes(),
        loops_seen: w.stats.loops_seen,
        loop_checks: w.stats.loop_checks,
        virtual_convergence_s: Convergence {
            initial: secs(initial),
            after_cuts: secs(after_cuts),
            partition: secs(partition),
            heal: secs(heal),
        },
        virtual_s: secs(Some(
            w.now.saturating_since(hypha_proto::time::Timestamp::ZERO),
        ))
        .unwrap_or(0.0),
        probes_sent,
        probes_delivered: w.stats.probes_delivered,
        datagrams: w.stats.datagrams,
        bytes: w.stats.bytes,
        datagrams_dropped: w.stats.dropped,
        peak_in_flight_datagrams: w.stats.peak_in_flight,
        peak_in_flight_bytes: w.stats.peak_in_flight_bytes,
        peak_in_flight_at_s: (w.stats.peak_in_flight_at_us / 1000) as f64 / 1000.0,
        updates_sent: sum(&|n| n.babel().counters.updates_sent),
        seqno_requests_sent: sum(&|n| n.babel().counters.seqno_requests_sent),
        routes_lost: sum(&|n| n.babel().counters.routes_lost),
        seqno_bumps: sum(&|n| n.babel().seqno() as u64),
        handshakes: sum(&|n| n.counters.handshakes_ok),
        hostile: cfg.hostile,
        forged_origins: sum(&|n| n.babel().counters.forged_origins),
        origin_verifications: sum(&|n| n.babel().counters.origin_verifications),
        seqno_requests_limited: sum(&|n| n.babel().counters.seqno_requests_limited),
        route_state_bytes_per_destination,
        control_bytes_per_link_s,
        ack_retries: sum(&|n| n.babel().counters.ack_retries),
        ack_give_ups: sum(&|n| n.babel().counters.ack_give_ups),
        ack_retries_paused: sum(&|n| n.babel().counters.ack_retries_paused),
        signatures_left_out: sum(&|n| n.babel().counters.signatures_left_out),
        signatures_not_held: sum(&|n| n.babel().counters.signatures_not_held),
        host: cfg.host.then(|| Host {
            wall_s: (wall.elapsed().as_millis() as f64) / 1000.0,
            max_rss_mib: max_rss_mib(),
        }),
    }
}
