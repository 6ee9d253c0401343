#!/usr/bin/env bash
# Daemon CPU per byte, a figure the machine's noise moves far less than throughput: two
# namespaces a—b joined by a veth pair, hyphad in each, one fixed-size iperf3 TCP transfer
# a→b per run, and the CPU time (perf's task-clock) each daemon spent on it. With RELAY=1 a
# third namespace c hangs off b and the transfer goes a→c, relayed by b (cpu_ms_c added).
#
# Usage: sudo bench/cpu-per-byte.sh [MTU...]     (default: 1280 1374 1280 1374 1280 1374)
# Env:   HYPHAD (default target/release/hyphad), SIZE (iperf3 -n, default 3G), RELAY (0/1),
#        STREAMS (iperf3 -P, default 1), SEAL_THREADS (hyphad --seal-threads; empty: its
#        default)
# Output: one JSON line per run: Mbit/s, each daemon's CPU time (cpu_ms_*, perf task-clock) and
# the part of it spent in the kernel (kernel_ms_*, from /proc, 10 ms ticks); a failed transfer
# gives a line with `error`.
# Needs root, iproute2, iputils-ping, iperf3, jq, perf. Traffic stays inside the namespaces it creates.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${HYPHAD:-$HERE/../target/release/hyphad}
SIZE=${SIZE:-3G}
RELAY=${RELAY:-0}
STREAMS=${STREAMS:-1}
WORK=$(mktemp -d /tmp/hypha-cpu.XXXXXX)
P=hcpb-
PIDS=()

cleanup() {
  # iperf3's server leaves by itself after one transfer, but not when the client failed.
  if [ -s "$WORK/iperf.pid" ]; then kill "$(cat "$WORK/iperf.pid")" 2>/dev/null || true; rm -f "$WORK/iperf.pid"; fi
  for pid in "${PIDS[@]:-}"; do if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; done
  # The next run's daemons reuse the names (TUN, socket): wait for these to be gone.
  for pid in "${PIDS[@]:-}"; do
    for _ in $(seq 50); do if [ -z "$pid" ] || [ ! -e "/proc/$pid" ]; then break; fi; sleep 0.1; done
  done
  PIDS=()
  for n in a b c; do ip netns del "$P$n" 2>/dev/null || true; done
}
trap 'cleanup; rm -rf "$WORK"' EXIT

start() { # NS INDEX MTU PEER... -> pid
  local ns=$1 i=$2 mtu=$3 peers; shift 3
  peers=$(printf 'udp://%s:9651,' "$@"); peers=${peers%,}
  mkdir -p "$WORK/h$i"
  ip netns exec "$ns" "$BIN" --config /nonexistent --key-file "$WORK/h$i/key" \
    --status-file "$WORK/h$i.json" --ipc-socket "$WORK/h$i.sock" --no-multicast \
    --tun-name "hcp$i" --mtu "$mtu" --incoming everyone --peers "$peers" \
    ${SEAL_THREADS:+--seal-threads "$SEAL_THREADS"} \
    >"$WORK/h$i.log" 2>&1 &
  echo $!
}

cpu_of() { # PID -> task-clock ms of its threads, from perf's output in $out
  local tids
  tids=$(cd "/proc/$1/task" && printf '%s\n' * | paste -sd'|')
  echo "$out" | awk -v p="-($tids)$" '$1 ~ p {gsub(",", "", $2); s += $2} END {printf "%.2f", s}'
}

sys_ticks() { # PID -> kernel time its threads used so far, in clock ticks (/proc/PID/stat)
  awk '{print $15}' "/proc/$1/stat"
}

run() { # MTU
  cleanup
  for n in a b; do ip netns add "$P$n"; ip -n "$P$n" link set lo up; done
  ip link add "${P}ab" netns "${P}a" type veth peer name "${P}ba" netns "${P}b"
  ip -n "${P}a" addr add 10.252.1.1/24 dev "${P}ab"; ip -n "${P}a" link set "${P}ab" up
  ip -n "${P}b" addr add 10.252.1.2/24 dev "${P}ba"; ip -n "${P}b" link set "${P}ba" up
  rm -f "$WORK"/h*.json
  local pa pb pc="" dst=b di=1 addr out mbit ca cb cc=null
  if [ "$RELAY" = 1 ]; then
    ip netns add "${P}c"; ip -n "${P}c" link set lo up
    ip link add "${P}bc" netns "${P}b" type veth peer name "${P}cb" netns "${P}c"
    ip -n "${P}b" addr add 10.252.2.1/24 dev "${P}bc"; ip -n "${P}b" link set "${P}bc" up
    ip -n "${P}c" addr add 10.252.2.2/24 dev "${P}cb"; ip -n "${P}c" link set "${P}cb" up
    dst=c di=2
  fi
  pa=$(start "${P}a" 0 "$1" 10.252.1.2); PIDS+=("$pa")
  if [ "$RELAY" = 1 ]; then
    pb=$(start "${P}b" 1 "$1" 10.252.1.1 10.252.2.2); PIDS+=("$pb")
    pc=$(start "${P}c" 2 "$1" 10.252.2.1); PIDS+=("$pc")
  else
    pb=$(start "${P}b" 1 "$1" 10.252.1.1); PIDS+=("$pb")
  fi
  for _ in $(seq 50); do [ -s "$WORK/h$di.json" ] && break; sleep 0.1; done
  addr=$(jq -r .address "$WORK/h$di.json")
  local up=0
  for _ in $(seq 60); do
    if ip netns exec "${P}a" ping -c1 -W1 "$addr" >/dev/null 2>&1; then up=1; break; fi
    sleep 0.5
  done
  if [ "$up" != 1 ]; then
    echo "the overlay did not come up (is ping installed?); daemon logs:" >&2
    cat "$WORK"/h*.log >&2
    exit 1
  fi
  ip netns exec "$P$dst" iperf3 -s -1 -D -I "$WORK/iperf.pid" >/dev/null 2>&1
  sleep 0.3
  local sa sb sc=""
  sa=$(sys_ticks "$pa"); sb=$(sys_ticks "$pb"); [ -n "$pc" ] && sc=$(sys_ticks "$pc")
  out=$(perf stat -e task-clock --per-thread -p "$pa,$pb${pc:+,$pc}" -- \
    ip netns exec "${P}a" iperf3 -c "$addr" -n "$SIZE" -P "$STREAMS" -J 2>&1) || true
  local json; json=$(echo "$out" | sed -n '/^{/,/^}/p')
  mbit=$(echo "$json" | jq -r '.end.sum_received.bits_per_second // empty | . / 1e6 | floor' 2>/dev/null || true)
  if ! [[ "$mbit" =~ ^[0-9]+$ ]]; then
    # A failed transfer is a line that says why, not a silent gap in the series.
    local why
    why=$(echo "$json" | jq -r '.error // empty' 2>/dev/null || true)
    [ -n "$why" ] || why=$(echo "$out" | grep -m1 -i 'iperf3' || echo "iperf3 printed no result")
    jq -cn --argjson mtu "$1" --arg e "$why" '{mtu: $mtu, error: $e}'
    return 0
  fi
  sa=$(( $(sys_ticks "$pa") - sa )); sb=$(( $(sys_ticks "$pb") - sb ))
  [ -n "$pc" ] && sc=$(( $(sys_ticks "$pc") - sc ))
  # perf names a thread after its command and id: a daemon's CPU is that of all its threads
  # (the loop, the sealing workers, tokio's blocking pool).
  ca=$(cpu_of "$pa"); cb=$(cpu_of "$pb")
  if [ -n "$pc" ]; then cc=$(cpu_of "$pc"); fi
  local hz; hz=$(getconf CLK_TCK)
  jq -cn --argjson mtu "$1" --argjson mbit "$mbit" --arg size "$SIZE" \
    --argjson a "${ca//,/}" --argjson b "${cb//,/}" --argjson c "${cc//,/}" \
    --argjson streams "$STREAMS" --argjson hz "$hz" \
    --argjson sa "$sa" --argjson sb "$sb" --argjson sc "${sc:-null}" \
    '{mtu:$mtu, streams:$streams, mbit:$mbit, size:$size, cpu_ms_a:$a, cpu_ms_b:$b}
     + (if $c == null then {} else {cpu_ms_c:$c} end)
     + {kernel_ms_a: ($sa * 1000 / $hz), kernel_ms_b: ($sb * 1000 / $hz)}
     + (if $sc == null then {} else {kernel_ms_c: ($sc * 1000 / $hz)} end)'
}

for m in "${@:-1280 1374 1280 1374 1280 1374}"; do
  # shellcheck disable=SC2086
  for mtu in $m; do run "$mtu"; done
done
