//! The JSON report of a run. Everything outside `host` is a pure function of the arguments,
//! so the same seed gives byte-identical output; `host` holds wall-clock measurements.

use serde::Serialize;

/// Convergence times in virtual seconds (`None`: did not converge within the limit).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Convergence {
    /// From start until every pair reaches each other.
    pub initial: Option<f64>,
    /// From the link cuts until every still-connected pair reaches each other and no node
    /// keeps a route to a node it is cut off from.
    pub after_cuts: Option<f64>,
    /// From the partition until both halves are consistent on their own (if run).
    pub partition: Option<f64>,
    /// From healing the partition until everyone reaches everyone again (if run).
    pub heal: Option<f64>,
}

/// Measurements of the machine, not of the protocol: they differ between runs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Host {
    /// Wall-clock seconds of the whole run.
    pub wall_s: f64,
    /// Peak resident memory of the process, MiB (Linux only).
    pub max_rss_mib: Option<f64>,
}

/// The result of a simulation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Nodes simulated.
    pub nodes: usize,
    /// Links in the initial graph.
    pub links: usize,
    /// Requested average degree.
    pub degree: usize,
    /// Seed.
    pub seed: u64,
    /// Per-link loss probability.
    pub loss: f64,
    /// Links cut.
    pub links_cut: usize,
    /// Connected components after the cuts.
    pub components_after_cuts: usize,
    /// True when the final state is fully converged.
    pub converged: bool,
    /// Ordered pairs still connected in the graph after the cuts.
    pub connected_pairs: u64,
    /// Of those, pairs whose forwarding path reaches the destination.
    pub reachable_pairs: u64,
    /// `reachable_pairs / connected_pairs × 100`.
    pub reachable_pairs_pct: f64,
    /// Routes to nodes in another component (should be 0 when converged).
    pub stale_routes: u64,
    /// Forwarding loops found by the check that runs after every routing change.
    pub loops_seen: u64,
    /// How many loop checks ran.
    pub loop_checks: u64,
    /// Convergence times.
    pub virtual_convergence_s: Convergence,
    /// Virtual time simulated.
    pub virtual_s: f64,
    /// End-to-end IPv6 probes sent between random connected pairs at the end.
    pub probes_sent: u64,
    /// Probes that arrived intact.
    pub probes_delivered: u64,
    /// Datagrams delivered between nodes.
    pub datagrams: u64,
    /// Bytes delivered between nodes.
    pub bytes: u64,
    /// Datagrams dropped by simulated loss or cut links.
    pub datagrams_dropped: u64,
    /// Most datagrams in flight (sent, not yet delivered) at one moment.
    pub peak_in_flight_datagrams: u64,
    /// Most bytes in flight at one moment (the simulator holds them: part of its memory).
    pub peak_in_flight_bytes: u64,
    /// When the most bytes were in flight, virtual seconds.
    pub peak_in_flight_at_s: f64,
    /// Babel update TLVs sent, all nodes.
    pub updates_sent: u64,
    /// Seqno requests sent, all nodes.
    pub seqno_requests_sent: u64,
    /// Routes lost (became unreachable) across all nodes.
    pub routes_lost: u64,
    /// Times an originator raised its seqno (each new seqno reaches every node), all nodes.
    pub seqno_bumps: u64,
    /// Handshakes completed.
    pub handshakes: u64,
    /// Hostile nodes (left out of every pair checked).
    pub hostile: usize,
    /// Updates refused as forged route origins, all nodes.
    pub forged_origins: u64,
    /// Origin signatures verified (ed25519), all nodes; one per (origin, seqno) per node, or
    /// per world when the simulator shares its cache.
    pub origin_verifications: u64,
    /// Seqno requests ignored by rate limits, all nodes.
    pub seqno_requests_limited: u64,
    /// Routing state per (node, destination), bytes: every node's
    /// [`hypha_proto::babel::Babel::state_bytes`] over every node's destination count.
    pub route_state_bytes_per_destination: f64,
    /// Bytes per second crossing one live link (both directions) in the steady state: measured
    /// over `--steady-s` of virtual time after everything else (`None` when not measured).
    pub control_bytes_per_link_s: Option<f64>,
    /// Routing frames sent again for want of an acknowledgment, all nodes.
    pub ack_retries: u64,
    /// Routing frames left to the periodic dump after every retry went unacknowledged.
    pub ack_give_ups: u64,
    /// Retries held back while the neighbour was silent (a cut link not yet noticed).
    pub ack_retries_paused: u64,
    /// Updates sent without their origin signature because the receiver held it, all nodes.
    pub signatures_left_out: u64,
    /// Updates received without a signature the receiver did not hold (asked for again).
    pub signatures_not_held: u64,
    /// Wall-clock measurements (left out with `--deterministic`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<Host>,
}
