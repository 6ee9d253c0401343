#!/usr/bin/env bash
# How often an idle daemon wakes: two namespaces a—b joined by a veth pair, hyphad in each
# (linked, no traffic after the first ping), then the voluntary context switches of every
# thread of daemon a over SECS seconds: each is one wake-up from sleep. With PING set, a
# ping every PING seconds from a to b over the overlay runs meanwhile (a sparse flow), and
# the CPU both daemons used is reported too.
#
# Usage: sudo bench/idle-wakeups.sh
# Env:   HYPHAD (default target/release/hyphad), SECS (default 10), STRACE (1: strace first),
#        PING (seconds between pings; default none)
# Output: one JSON line: wake-ups per second in total and per thread name; CPU ms of daemon
# a and b over the SECS seconds; with PING, the pings' average RTT in ms.
# Needs root, iproute2, iputils-ping, jq (strace for STRACE=1). Traffic stays inside the namespaces it creates.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${HYPHAD:-$HERE/../target/release/hyphad}
SECS=${SECS:-10}
WORK=$(mktemp -d /tmp/hypha-idle.XXXXXX)
P=hidl-
NET=254
TUN=hid
# shellcheck source=bench/pair.sh
. "$HERE/pair.sh"
pair_up
sleep 2
# STRACE=1: first show two seconds of daemon a's system calls (what wakes it, and when).
if [ -n "${STRACE:-}" ]; then
  timeout 2 strace -f -tt -e trace=epoll_wait,sendmsg,sendmmsg,recvmmsg,write,rename \
    -p "${PIDS[0]}" 2>&1 | cut -c1-120 >&2 || true
fi

switches() { # PID -> "name count" per thread
  for t in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(tr ' ' _ <"$t/comm")" "$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")"
  done
}
cpu_ms() { # PID -> user + system CPU time in ms
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' /proc/"$1"/stat
}
before=$(switches "${PIDS[0]}")
cpu_a=$(cpu_ms "${PIDS[0]}") cpu_b=$(cpu_ms "${PIDS[1]}")
rtt=null
if [ -n "${PING:-}" ]; then
  count=$(awk -v s="$SECS" -v i="$PING" 'BEGIN {print int(s / i)}')
  rtt=$(ip netns exec "${P}a" ping -q -c "$count" -i "$PING" "$ADDR" |
    sed -n 's#.*= [0-9.]*/\([0-9.]*\)/.*#\1#p')
else
  sleep "$SECS"
fi
after=$(switches "${PIDS[0]}")
cpu_a=$(awk -v x="$(cpu_ms "${PIDS[0]}")" -v y="$cpu_a" 'BEGIN {print x - y}')
cpu_b=$(awk -v x="$(cpu_ms "${PIDS[1]}")" -v y="$cpu_b" 'BEGIN {print x - y}')
# Threads are matched by name and summed: a pool thread that came or went in between counts
# from zero or is left out.
join -a2 <(echo "$before" | awk '{s[$1]+=$2} END {for (k in s) print k, s[k]}' | sort) \
  <(echo "$after" | awk '{s[$1]+=$2} END {for (k in s) print k, s[k]}' | sort) |
  awk -v secs="$SECS" '{b = (NF == 3 ? $2 : 0); a = $NF; printf "%s %.1f\n", $1, (a - b) / secs}' |
  jq -Rn --argjson secs "$SECS" --argjson a "$cpu_a" --argjson b "$cpu_b" --argjson rtt "$rtt" \
    '[inputs | split(" ") | {(.[0]): (.[1] | tonumber)}] | add as $t
    | {secs: $secs, wakeups_per_s: ([$t[]] | add * 10 | round / 10), per_thread: $t,
       cpu_ms_a: $a, cpu_ms_b: $b, ping_rtt_ms: $rtt}' -c
