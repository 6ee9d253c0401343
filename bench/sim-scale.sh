#!/usr/bin/env bash
# The simulator at growing sizes, each run held to the planetary-scale limits: converged,
# 100 % reachable, no loop, under 10 minutes of wall time and 16 GiB of address space (the
# run is stopped at either limit and reported as over it). Usage:
#   bash bench/sim-scale.sh [NODES ...]        (default: 1000 2000 5000 10000)
# HYPHA=path/to/hypha picks the binary (default: a release build of hypha-cli).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${HYPHA:-}" ]; then
  cargo build --release -q -p hypha-cli
  HYPHA="${CARGO_TARGET_DIR:-target}/release/hypha"
fi
OUT="${OUT:-/tmp/hypha-sim-scale}"
mkdir -p "$OUT"
LIMIT_S=600
LIMIT_BYTES=$((16 * 1024 * 1024 * 1024))
printf '%-7s %-9s %-6s %-9s %-11s %-10s %-10s %s\n' nodes converged loops reachable after_cuts_s wall_s rss_mib B/route
for n in "${@:-1000 2000 5000 10000}"; do
  for nodes in $n; do
    f="$OUT/sim-$nodes.json"
    if timeout "$LIMIT_S" prlimit --as="$LIMIT_BYTES" "$HYPHA" sim --nodes "$nodes" --degree 4 \
        --seed 7 --fail-links 0.1 --json > "$f" 2> "$OUT/sim-$nodes.err"; then
      jq -r '[.nodes, .converged, .loops_seen, .reachable_pairs_pct,
              .virtual_convergence_s.after_cuts, .host.wall_s, .host.max_rss_mib,
              .route_state_bytes_per_destination] | @tsv' "$f"
    else
      rc=$?
      if [ "$rc" = 124 ]; then why="over ${LIMIT_S} s"; else why="stopped (exit $rc: over 16 GiB?)"; fi
      printf '%-7s %s\n' "$nodes" "$why"
    fi
  done
done
