#!/usr/bin/env bash
# The simulator at growing sizes, each run held to the planetary-scale limits: converged,
# 100 % reachable, no loop, under 10 minutes of wall time and 16 GiB of resident memory (a
# watchdog reads the run's RSS twice a second and stops it at either limit; a stopped run is
# reported as over it, with the last phase it finished). Usage:
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
LIMIT_S="${LIMIT_S:-600}"
LIMIT_KB=$((${LIMIT_GIB:-16} * 1024 * 1024))
printf '%-7s %-9s %-6s %-9s %-11s %-10s %-10s %s\n' nodes converged loops reachable after_cuts_s wall_s rss_mib B/route

# Peak RSS (VmHWM) of process $1 in KiB, or empty once it is gone.
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }

[ $# -gt 0 ] || set -- 1000 2000 5000 10000
for nodes in "$@"; do
  f="$OUT/sim-$nodes.json"
  err="$OUT/sim-$nodes.err"
  "$HYPHA" sim --nodes "$nodes" --degree 4 --seed 7 --fail-links 0.1 --json --progress \
    > "$f" 2> "$err" &
  pid=$!
  start=$SECONDS
  why=""
  peak=0
  while kill -0 "$pid" 2>/dev/null; do
    kb=$(hwm_kb "$pid")
    if [ -n "$kb" ] && [ "$kb" -gt "$peak" ]; then peak=$kb; fi
    if [ "$peak" -gt "$LIMIT_KB" ]; then why="over ${LIMIT_GIB:-16} GiB RSS"; fi
    if [ $((SECONDS - start)) -ge "$LIMIT_S" ]; then why="over ${LIMIT_S} s"; fi
    if [ -n "$why" ]; then
      kill "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.5
  done
  if wait "$pid" && [ -z "$why" ]; then
    jq -r '[.nodes, .converged, .loops_seen, .reachable_pairs_pct,
            .virtual_convergence_s.after_cuts, .host.wall_s, .host.max_rss_mib,
            .route_state_bytes_per_destination] | @tsv' "$f"
  else
    [ -n "$why" ] || why="failed"
    printf '%-7s %s after %d s, peak RSS %d MiB; last phase: %s\n' "$nodes" "$why" \
      $((SECONDS - start)) $((peak / 1024)) "$(grep '^sim:' "$err" | tail -1)"
  fi
done
