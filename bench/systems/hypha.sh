# shellcheck shell=bash
# hypha: hyphad from this repository (HYPHAD, default target/release/hyphad), UDP links to the
# neighbours' underlay addresses, no multicast. HYPHA_MTU sets the TUN MTU (empty: hyphad's
# default, 1374); HYPHA_SEAL_THREADS sets --seal-threads (empty: hyphad's default, one per core
# beyond the first).
# The inbound firewall stays at its default (contacts only); the iperf3 port is opened to any
# node with `hypha firewall allow` (the `hypha` binary beside hyphad), as a user would.
# Sourcing this file (again) resets both: the harness keeps variables between systems.
HYPHA_MTU=
HYPHA_SEAL_THREADS=
start_node() {
  local ns=$1 i=$2; shift 2
  local peers bin=${HYPHAD:-$HERE/../target/release/hyphad}
  peers=$(printf 'udp://%s:9651,' "$@"); peers=${peers%,}
  rm -f "$WORK/hypha-$i.json"
  # Each node needs a state directory of its own (key, peers, bus database).
  mkdir -p "$WORK/hypha-$i"
  ip netns exec "$ns" "$bin" --config /nonexistent --key-file "$WORK/hypha-$i/key" \
    --status-file "$WORK/hypha-$i.json" --ipc-socket "$WORK/hypha-$i.sock" \
    --no-multicast --tun-name "hy$i" \
    ${HYPHA_MTU:+--mtu "$HYPHA_MTU"} ${HYPHA_SEAL_THREADS:+--seal-threads "$HYPHA_SEAL_THREADS"} --peers "$peers" >"$WORK/hypha-$i.log" 2>&1 &
  local pid=$!
  for _ in $(seq 50); do [ -s "$WORK/hypha-$i.json" ] && break; sleep 0.1; done
  # Builds from before the firewall have no such command and let everything in.
  if "$bin" --help | grep -q -- --incoming; then
    HYPHA_SOCKET="$WORK/hypha-$i.sock" "$(dirname "$bin")/hypha" firewall allow any 5201 --tcp >/dev/null
  fi
  echo "$pid $(jq -r .address "$WORK/hypha-$i.json")"
}
