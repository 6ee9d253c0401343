//! Simulator scenarios: convergence, cuts, partitions, loss, reproducibility.

use std::time::Duration;

use hypha_sim::{SimConfig, run};

fn cfg(nodes: usize, seed: u64) -> SimConfig {
    SimConfig {
        nodes,
        degree: 4,
        seed,
        fail_links: 0.1,
        probes: 200,
        phase_limit: Duration::from_secs(60),
        host: false,
        ..SimConfig::default()
    }
}

#[test]
fn converges_loop_free_after_cuts_and_delivers_probes() {
    let r = run(&cfg(150, 7));
    assert!(r.converged, "{r:#?}");
    assert_eq!(r.loops_seen, 0);
    assert!(r.loop_checks > 1000, "the loop check must actually run");
    assert_eq!(r.reachable_pairs_pct, 100.0);
    assert_eq!(r.stale_routes, 0);
    assert!(r.virtual_convergence_s.initial.is_some());
    assert!(r.virtual_convergence_s.after_cuts.unwrap() < 5.0, "{r:#?}");
    assert_eq!(r.probes_delivered, r.probes_sent);
}

#[test]
fn same_seed_same_report_other_seed_other_report() {
    let a = serde_json::to_string(&run(&cfg(60, 11))).unwrap();
    let b = serde_json::to_string(&run(&cfg(60, 11))).unwrap();
    let c = serde_json::to_string(&run(&cfg(60, 12))).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

/// The nodes of a window run on several threads; nothing they decide may depend on which
/// thread ran what, or when.
#[test]
fn the_report_does_not_depend_on_the_number_of_threads() {
    let with = |threads| {
        let mut c = cfg(120, 5);
        c.loss = 0.02;
        c.threads = threads;
        serde_json::to_string(&run(&c)).unwrap()
    };
    let one = with(1);
    assert_eq!(one, with(3));
    assert_eq!(one, with(4));
}

#[test]
fn partition_and_heal() {
    let r = run(&SimConfig {
        partition: true,
        ..cfg(100, 3)
    });
    assert!(r.converged, "{r:#?}");
    assert_eq!(r.loops_seen, 0);
    assert!(r.virtual_convergence_s.partition.is_some(), "{r:#?}");
    assert!(r.virtual_convergence_s.heal.is_some(), "{r:#?}");
}

#[test]
fn lossy_links_still_converge() {
    // A lost update is sent again after about one round trip, not at the next periodic dump
    // (24–32 s): with 2 % loss the mesh settles after the cuts about as fast as without. One
    // seed's figure swings with which datagrams happen to be lost (over 16 seeds at 80 nodes,
    // 1.5–3.75 s after the cuts), so five seeds are run and their median is held to 3 s and
    // each run to well below one dump interval.
    let mut initial = Vec::new();
    let mut after_cuts = Vec::new();
    for seed in 5..10 {
        let r = run(&SimConfig {
            loss: 0.02,
            ..cfg(80, seed)
        });
        assert!(r.converged, "{r:#?}");
        assert_eq!(r.loops_seen, 0);
        assert!(r.datagrams_dropped > 0);
        assert!(r.ack_retries > 0, "{r:#?}");
        initial.push(r.virtual_convergence_s.initial.unwrap());
        after_cuts.push(r.virtual_convergence_s.after_cuts.unwrap());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    assert!(
        initial.iter().chain(&after_cuts).all(|&s| s < 8.0),
        "{initial:?} {after_cuts:?}"
    );
    assert!(median(&mut initial) < 3.0, "{initial:?}");
    assert!(median(&mut after_cuts) < 3.0, "{after_cuts:?}");
}

#[test]
fn hostile_nodes_cannot_take_over_routes() {
    // Five attackers forge announcements of their victims' /64s every 100 ms and flood seqno
    // requests for them, and drop whatever reaches them for their victims: any forgery that
    // took hold would show as unreachable pairs, lost probes or a loop.
    let r = run(&SimConfig {
        hostile: 5,
        ..cfg(100, 9)
    });
    assert!(r.converged, "{r:#?}");
    assert_eq!(r.loops_seen, 0);
    assert_eq!(r.reachable_pairs_pct, 100.0, "{r:#?}");
    assert_eq!(r.probes_delivered, r.probes_sent, "{r:#?}");
    assert!(r.forged_origins > 1000, "{r:#?}");
    assert!(r.seqno_requests_limited > 1000, "{r:#?}");
}

#[test]
fn steady_state_traffic_and_route_state_are_measured_and_bounded() {
    let r = run(&SimConfig {
        steady: Duration::from_secs(16),
        ..cfg(60, 9)
    });
    assert!(r.converged, "{r:#?}");
    // Hellos with IHUs (4 a second each way) and the periodic dump of 60 routes (every 6–8 s
    // each way) come to about 1 kB/s per link, now that the dump leaves out the signatures the
    // neighbour holds (it was about 3 kB/s with them, link version 5).
    let per_link = r.control_bytes_per_link_s.expect("measured");
    assert!((500.0..2_000.0).contains(&per_link), "{r:#?}");
    assert!(
        r.signatures_left_out > 0 && r.signatures_not_held == 0,
        "{r:#?}"
    );
    // The table keeps a destination's few routes inline: no allocation per route.
    assert!(r.route_state_bytes_per_destination > 100.0, "{r:#?}");
    assert!(r.route_state_bytes_per_destination < 400.0, "{r:#?}");
    let quiet = run(&cfg(60, 9));
    assert_eq!(quiet.control_bytes_per_link_s, None);
}
