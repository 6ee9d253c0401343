#!/usr/bin/env bash
# Runs the netns benchmark: Hypha next to raw veth, yggdrasil, nebula and tinc on the same run,
# and prints a table of medians with ratios. Needs root. Not part of the test suite.
#   sudo bench/run.sh                 # SECS=10 REPS=3, all systems
#   SECS=5 REPS=1 sudo bench/run.sh veth hypha yggdrasil
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/.."
systems=("$@")
[ ${#systems[@]} -gt 0 ] || systems=(veth hypha hypha-jumbo yggdrasil nebula tinc)
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  iproute2 iputils-ping iperf3 jq yggdrasil nebula tinc >/dev/null
[ -n "${HYPHAD:-}" ] || cargo build --release -p hypha-daemon -p hypha-cli
export HYPHAD=${HYPHAD:-${CARGO_TARGET_DIR:-$PWD/target}/release/hyphad}
export WORK=${WORK:-/tmp/hypha-bench}
mkdir -p "$WORK"
bash "$HERE/netns-harness.sh" "${systems[@]}" | tee "$WORK/results.jsonl"
jq -rs '
  def med: sort | if length == 0 then 0 else .[(length / 2 | floor)] end;
  def num: if type == "string" then (tonumber? // null) else . end;
  group_by(.system) | map({system: .[0].system,
      ab: (map(.ab_mbit) | med), ab4: (map(.ab_p4_mbit) | med), ac: (map(.ac_mbit) | med),
      rtt_ab: (map(.rtt_ab_ms | num) | map(select(. != null)) | med),
      rtt_ac: (map(.rtt_ac_ms | num) | map(select(. != null)) | med),
      cpu_a: (map(.cpu_a_pct) | med), cpu_b: (map(.cpu_b_pct) | med)}) as $rows
  | ($rows | map(select(.system == "veth"))[0].ab // 1) as $veth
  | ($rows | map(select(.system == "yggdrasil"))[0].ab // null) as $ygg
  | ["system", "a→b Mbit/s", "a→b ×4", "a→c Mbit/s", "RTT a→b ms", "RTT a→c ms",
     "CPU a %", "CPU b %", "a→b per daemon core", "a→b / veth", "a→b / yggdrasil"],
    ($rows[] | [.system, .ab, .ab4, .ac, .rtt_ab, .rtt_ac, .cpu_a, .cpu_b,
       # Mbit/s for each core the busier of the two daemons used (the raw underlay has none).
       (if ([.cpu_a, .cpu_b] | max) > 0 then (.ab / (([.cpu_a, .cpu_b] | max) / 100) | floor) else "-" end),
       ((.ab / $veth * 1000 | floor) / 1000),
       (if $ygg then ((.ab / $ygg * 100 | floor) / 100) else "-" end)])
  | @tsv' "$WORK/results.jsonl" | column -t -s $'\t'
bash "$HERE/chart.sh" "$WORK/results.jsonl" >"$WORK/chart.svg"
echo "chart: $WORK/chart.svg"
