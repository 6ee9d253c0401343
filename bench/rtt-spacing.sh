#!/usr/bin/env bash
# Round-trip time against the spacing of the packets: two namespaces a—b joined by a veth pair,
# hyphad in each, then for each spacing 200 pings over the overlay and 200 over the raw veth,
# and 200 round trips of a minimal userspace UDP echo (python3, one process per namespace) over
# the same veth (its client sleeps the spacing after each round trip, where ping spaces the
# sends: about the same above 1 ms). The echo is the floor any overlay daemon pays: a process in each namespace
# that sleeps until its packet comes. On a VM whose idle CPUs halt, that floor grows with the
# time the machine sat idle before the packet; netns-harness.sh pings every 50 ms.
#
# Usage: sudo bench/rtt-spacing.sh [SPACING_S...]   (default: 0.05 0.005 0.001 0.0002)
# Env:   HYPHAD (default target/release/hyphad)
# Output: one JSON line per spacing (average RTTs in ms). Needs root, iproute2, iputils-ping,
# jq, python3, cc. Traffic stays inside the namespaces it creates.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${HYPHAD:-$HERE/../target/release/hyphad}
WORK=$(mktemp -d /tmp/hypha-rtt.XXXXXX)
P=hrts-
NET=253
TUN=hrt
# shellcheck source=bench/pair.sh
. "$HERE/pair.sh"
pair_up
addr=$ADDR

ip netns exec "${P}b" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.253.1.2", 9700))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)
' &
PIDS+=($!)
cc -O2 -o "$WORK/tunfwd" "$HERE/tunfwd.c"
for n in a b; do
  i=1 peer=2; [ "$n" = b ] && i=2 peer=1
  ip netns exec "${P}$n" "$WORK/tunfwd" "${TUN}f$i" "10.253.1.$i" "10.253.1.$peer" 9702 &
  PIDS+=($!)
done
for n in a b; do
  i=1; [ "$n" = b ] && i=2
  for _ in $(seq 50); do ip -n "${P}$n" link show "${TUN}f$i" >/dev/null 2>&1 && break; sleep 0.1; done
  ip -n "${P}$n" addr add "fd77::$i/64" dev "${TUN}f$i"
  ip -n "${P}$n" link set "${TUN}f$i" up
done
sleep 2 # IPv6 duplicate address detection

avg() { sed -n 's#.*= [0-9.]*/\([0-9.]*\)/.*#\1#p' | head -n1; }
SPACINGS=("$@")
[ ${#SPACINGS[@]} -gt 0 ] || SPACINGS=(0.05 0.005 0.001 0.0002)
for g in "${SPACINGS[@]}"; do
  hypha=$(ip netns exec "${P}a" ping -q -c 200 -i "$g" "$addr" | avg)
  veth=$(ip netns exec "${P}a" ping -q -c 200 -i "$g" 10.253.1.2 | avg)
  floor=$(ip netns exec "${P}a" ping -q -c 200 -i "$g" fd77::2 | avg)
  echo=$(ip netns exec "${P}a" python3 -c '
import socket, sys, time
gap = float(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
total = 0.0
for _ in range(200):
    t = time.perf_counter()
    s.sendto(b"x" * 100, ("10.253.1.2", 9700))
    s.recvfrom(2048)
    total += time.perf_counter() - t
    time.sleep(gap)
print("%.3f" % (total / 200 * 1000))
' "$g")
  jq -nc --argjson s "$g" --arg h "$hypha" --arg v "$veth" --arg e "$echo" --arg f "$floor" \
      '{spacing_s: $s, hypha_ms: ($h | tonumber), veth_ms: ($v | tonumber), udp_echo_ms: ($e | tonumber),
        tunfwd_ms: ($f | tonumber),
        hypha_added_ms: (($h | tonumber) - ($v | tonumber) | . * 1000 | round / 1000),
        tunfwd_added_ms: (($f | tonumber) - ($v | tonumber) | . * 1000 | round / 1000)}'
done
