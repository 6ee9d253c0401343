#!/usr/bin/env bash
# Development mode: runs the tray app against a real hyphad started as you, without root
# (`--no-tun`: no TUN device, but it links, routes, relays and carries messages).
#
#   ui/dev.sh                       # one node, tray with the built UI
#   ui/dev.sh --hot                 # the UI from vite's dev server, reloading on save
#   ui/dev.sh -- --peers udp://[fd00::2]:9651   # extra hyphad flags after --
#
# State (key, settings, inbox) lives in $HYPHA_DEV_DIR (default ~/.cache/hypha-dev) and the
# API socket beside it, so it never touches a system install.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
hot=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --hot) hot=1 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown option $1 (see the top of $0)" >&2; exit 2 ;;
  esac
  shift
done
dir="${HYPHA_DEV_DIR:-$HOME/.cache/hypha-dev}"
mkdir -p "$dir"
export HYPHA_SOCKET="$dir/hypha.sock"
target="${CARGO_TARGET_DIR:-$root/target}"

cd "$root"
[ -d ui/node_modules ] || (cd ui && npm ci)
cargo build -p hypha-daemon -p hypha-cli
HYPHA_CONFIG="$dir/hyphad.toml" "$target/debug/hyphad" --no-tun --key-file "$dir/key" \
  --ipc-socket "$HYPHA_SOCKET" --listen "udp://[::]:${HYPHA_DEV_PORT:-19651}" "${extra[@]}" &
daemon=$!
pids=("$daemon")
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
echo "hyphad (pid $daemon) on $HYPHA_SOCKET; try: $target/debug/hypha status --socket $HYPHA_SOCKET"

if [ "$hot" = 1 ]; then
  (cd ui && npm run dev) &
  pids+=("$!")
  cargo run -p hypha-tray --no-default-features
else
  (cd ui && npm run build)
  cargo run -p hypha-tray
fi
