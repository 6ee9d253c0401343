//! `hypha sim`.

use std::time::Duration;

use anyhow::{Result, bail};

/// Simulator options.
#[derive(clap::Args)]
pub struct Args {
    /// Number of nodes.
    #[arg(long, default_value_t = 100)]
    nodes: usize,
    /// Average degree of the random graph.
    #[arg(long, default_value_t = 4)]
    degree: usize,
    /// Seed: the same seed gives the same report.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of links cut after the first convergence (0 to 1).
    #[arg(long, default_value_t = 0.1)]
    fail_links: f64,
    /// Loss probability per datagram on every link (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Smallest per-link latency, ms (at least 1).
    #[arg(long, default_value_t = 1)]
    latency_min_ms: u64,
    /// Largest per-link latency, ms.
    #[arg(long, default_value_t = 20)]
    latency_max_ms: u64,
    /// Also split the network in two halves, then heal it.
    #[arg(long)]
    partition: bool,
    /// End-to-end probes sent at the end.
    #[arg(long, default_value_t = 1000)]
    probes: usize,
    /// Longest virtual time per phase, seconds.
    #[arg(long, default_value_t = 120)]
    phase_limit_s: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Leave out wall-clock measurements, so that the output depends only on the arguments.
    #[arg(long)]
    deterministic: bool,
    /// Make this many nodes hostile: each forges announcements of a random victim's /64 and
    /// floods seqno requests for it (they relay nothing; the checks leave them out).
    #[arg(long, default_value_t = 0)]
    hostile: usize,
    /// Run this many virtual seconds at the end with nothing changing and report the
    /// steady-state control traffic per link (0: not measured).
    #[arg(long, default_value_t = 0)]
    steady_s: u64,
    /// Threads to run the nodes on (0: one per core); the report is the same for any number.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Print a line to stderr as each phase ends (virtual and wall time, peak memory).
    #[arg(long)]
    progress: bool,
}

pub fn run(a: Args) -> Result<()> {
    if a.nodes < 2 || a.nodes > hypha_sim::MAX_NODES {
        bail!("--nodes must be between 2 and {}", hypha_sim::MAX_NODES);
    }
    if a.hostile > a.nodes / 2 {
        bail!("--hostile must be at most half of --nodes");
    }
    if a.degree < 1 {
        bail!("--degree must be at least 1");
    }
    if !(0.0..=1.0).contains(&a.fail_links) || !(0.0..1.0).contains(&a.loss) {
        bail!("--fail-links must be in [0, 1] and --loss in [0, 1)");
    }
    if a.latency_min_ms == 0 {
        // The simulator runs nodes in parallel for as long as the shortest link takes.
        bail!("--latency-min-ms must be at least 1");
    }
    if a.latency_min_ms > a.latency_max_ms {
        bail!("--latency-min-ms is above --latency-max-ms");
    }
    let cfg = hypha_sim::SimConfig {
        nodes: a.nodes,
        degree: a.degree,
        seed: a.seed,
        fail_links: a.fail_links,
        loss: a.loss,
        latency_ms: (a.latency_min_ms, a.latency_max_ms),
        partition: a.partition,
        probes: a.probes,
        phase_limit: Duration::from_secs(a.phase_limit_s),
        host: !a.deterministic,
        hostile: a.hostile,
        steady: Duration::from_secs(a.steady_s),
        threads: a.threads,
        progress: a.progress,
    };
    let r = hypha_sim::run(&cfg);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        let c = &r.virtual_convergence_s;
        let f = |x: Option<f64>| x.map_or("no".to_string(), |s| format!("{s:.3} s"));
        println!(
            "nodes {}  links {}  cut {}  components after cuts {}",
            r.nodes, r.links, r.links_cut, r.components_after_cuts
        );
        println!(
            "converged {}  reachable pairs {:.3} %  loops {}  stale routes {}",
            r.converged, r.reachable_pairs_pct, r.loops_seen, r.stale_routes
        );
        println!(
            "convergence: initial {}  after cuts {}  partition {}  heal {}",
            f(c.initial),
            f(c.after_cuts),
            f(c.partition),
            f(c.heal)
        );
        println!(
            "probes {}/{}  datagrams {}  updates {}  seqno requests {}",
            r.probes_delivered, r.probes_sent, r.datagrams, r.updates_sent, r.seqno_requests_sent
        );
        println!(
            "route origins: {} verified, {} forged refused; seqno requests rate-limited {}",
            r.origin_verifications, r.forged_origins, r.seqno_requests_limited
        );
        println!(
            "signatures left out of {} updates (receiver held them); {} missing, asked again",
            r.signatures_left_out, r.signatures_not_held
        );
        println!(
            "routing state {:.0} bytes per destination; control traffic {}; acknowledged frames resent {}",
            r.route_state_bytes_per_destination,
            r.control_bytes_per_link_s
                .map_or("not measured (--steady-s)".to_string(), |b| format!(
                    "{b:.0} B/s per link"
                )),
            r.ack_retries
        );
        if let Some(h) = &r.host {
            println!("wall {:.2} s  max rss {:?} MiB", h.wall_s, h.max_rss_mib);
        }
    }
    Ok(())
}
