# Sourced by the two-namespace benchmarks (rtt-spacing.sh, idle-wakeups.sh): namespaces
# ${P}a—${P}b joined by a veth pair, 10.$NET.1.1 and 10.$NET.1.2, hyphad in each linked to
# the other over UDP, and the overlay up. The caller sets BIN (hyphad), WORK (a scratch
# directory, removed on exit), P (namespace prefix), NET and TUN (TUN name prefix).
# After `pair_up`: PIDS holds both daemons (a first; add what else should be stopped) and
# ADDR is b's overlay address.
# shellcheck shell=bash

PIDS=()

pair_cleanup() {
  for pid in "${PIDS[@]:-}"; do if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; done
  for pid in "${PIDS[@]:-}"; do
    for _ in $(seq 50); do if [ -z "$pid" ] || [ ! -e "/proc/$pid" ]; then break; fi; sleep 0.1; done
  done
  for n in a b; do ip netns del "$P$n" 2>/dev/null || true; done
  rm -rf "$WORK"
}

pair_up() {
  trap pair_cleanup EXIT
  for n in a b; do ip netns add "$P$n"; ip -n "$P$n" link set lo up; done
  ip link add "${P}ab" netns "${P}a" type veth peer name "${P}ba" netns "${P}b"
  ip -n "${P}a" addr add "10.$NET.1.1/24" dev "${P}ab"
  ip -n "${P}b" addr add "10.$NET.1.2/24" dev "${P}ba"
  ip -n "${P}a" link set "${P}ab" up
  ip -n "${P}b" link set "${P}ba" up

  local i=0 n peer up=0
  for n in a b; do
    peer=10.$NET.1.2; [ "$n" = b ] && peer=10.$NET.1.1
    mkdir -p "$WORK/$n"
    ip netns exec "$P$n" "$BIN" --config /nonexistent --key-file "$WORK/$n/key" \
      --status-file "$WORK/$n.json" --ipc-socket "$WORK/$n.sock" --no-multicast \
      --tun-name "$TUN$i" --incoming everyone --peers "udp://$peer:9651" >"$WORK/$n.log" 2>&1 &
    PIDS+=($!)
    i=$((i + 1))
  done
  for _ in $(seq 50); do [ -s "$WORK/b.json" ] && break; sleep 0.1; done
  ADDR=$(jq -r .address "$WORK/b.json")
  for _ in $(seq 60); do
    if ip netns exec "${P}a" ping -c1 -W1 "$ADDR" >/dev/null 2>&1; then up=1; break; fi
    sleep 0.5
  done
  [ "$up" = 1 ] || { echo "the overlay did not come up; daemon logs:" >&2; cat "$WORK"/*.log >&2; exit 1; }
}
