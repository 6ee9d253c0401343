#!/usr/bin/env bash
# Runs the Windows binaries where this machine can: under Wine (Debian's wine64). Checks that
#   - hypha.exe inspect gives the same answer as the Linux hypha for the same key;
#   - two hyphad.exe --no-tun on loopback link, each answering hypha.exe status over its named
#     pipe (created with the service's explicit security descriptor);
#   - a bus message sent on one arrives at the other.
# Expects hyphad.exe and hypha.exe in $CARGO_TARGET_DIR/x86_64-pc-windows-gnu/release (build.sh
# builds them) and the Linux hypha in $CARGO_TARGET_DIR/release. Installs wine and mingw.
#
# Two things are Wine's, not Windows': Rust's std needs ProcessPrng from bcryptprimitives.dll,
# which Wine 8 lacks (a shim built from wine/bcryptprimitives.c is put beside the .exe files),
# and Wine's getsockopt(IPV6_V6ONLY) fails on IPv4 sockets, which quinn-udp asks, so the nodes
# listen on [::1] (the default config listens on [::] as well).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WINBIN="$TARGET/x86_64-pc-windows-gnu/release"
LINBIN="$TARGET/release"
WINE=/usr/lib/wine/wine64
if [ ! -x "$WINE" ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    wine wine64 gcc-mingw-w64-x86-64 >/dev/null
fi
for f in "$WINBIN/hyphad.exe" "$WINBIN/hypha.exe" "$LINBIN/hypha"; do
  [ -x "$f" ] || [ -f "$f" ] || { echo "missing $f (run installers/windows/build.sh)" >&2; exit 1; }
done

WORK=$(mktemp -d)
export WINEPREFIX="$WORK/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # Wine's own services (wineserver, services.exe, explorer…) end with the server.
  wineserver -k 2>/dev/null || /usr/lib/wine/wineserver64 -k 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
fail() {
  echo "FAIL - $*" >&2
  for l in "$WORK"/*.log; do [ -f "$l" ] && { echo "--- $l" >&2; tail -n 15 "$l" >&2; }; done
  exit 1
}

cp "$WINBIN/hyphad.exe" "$WINBIN/hypha.exe" "$WORK/"
x86_64-w64-mingw32-gcc -O2 -shared -o "$WORK/bcryptprimitives.dll" \
  "$HERE/wine/bcryptprimitives.c" -ladvapi32
cd "$WORK"
win() { "$WINE" "$WORK/$1" "${@:2}"; }

# The same key on both sides: its public key, address and /64 agree.
"$LINBIN/hypha" inspect --key-file "$WORK/key" --json > linux.json
win hypha.exe inspect --key-file "Z:${WORK//\//\\}\\key" --json > windows.json 2> inspect.log \
  || fail "hypha.exe inspect"
jq -e -s '.[0] == .[1]' linux.json windows.json >/dev/null \
  || fail "inspect differs: $(cat linux.json) vs $(cat windows.json)"
pub=$(jq -r .publicKey linux.json)
win hypha.exe inspect "$pub" --json > windows-pub.json 2>> inspect.log
jq -e -s '.[0] == .[1]' linux.json windows-pub.json >/dev/null || fail "inspect PUBKEY differs"
ok "hypha.exe inspect --json gives what the Linux hypha gives ($(jq -r .address linux.json))"

# Two nodes on [::1], b configured with a as its peer, each with its own pipe and state.
read -r pa pb < <(python3 -c '
import socket
s = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(2)]
for x in s: x.bind(("::1", 0))
print(*[x.getsockname()[1] for x in s])')
start() { # name port [args…]
  win hyphad.exe --no-tun --no-multicast --listen "udp://[::1]:$2" \
    --ipc-socket "\\\\.\\pipe\\hypha-smoke-$1" --key-file "C:\\hypha-$1\\key" \
    --socks off --dns off "${@:3}" > "$WORK/$1.log" 2>&1 &
  pids+=($!)
}
start a "$pa"
start b "$pb" --peers "udp://[::1]:$pa"
status() { win hypha.exe status --json --socket "\\\\.\\pipe\\hypha-smoke-$1" 2>/dev/null; }
for _ in $(seq 1 60); do
  sa=$(status a || true); sb=$(status b || true)
  [ "$(jq -r '.linksUp // 0' <<<"$sa" 2>/dev/null)" = 1 ] \
    && [ "$(jq -r '.linksUp // 0' <<<"$sb" 2>/dev/null)" = 1 ] && break
  sleep 0.5
done
if [ "$(jq -r .linksUp <<<"$sa")" != 1 ] || [ "$(jq -r .linksUp <<<"$sb")" != 1 ]; then
  fail "the two hyphad.exe did not link: a=$sa b=$sb"
fi
a_id=$(jq -r .nodeId <<<"$sa")
b_id=$(jq -r .nodeId <<<"$sb")
ok "two hyphad.exe linked over [::1]; hypha.exe status answers over both named pipes"

text="hello from hyphad.exe $RANDOM"
win hypha.exe send "$a_id" "$text" --topic smoke --socket '\\.\pipe\hypha-smoke-b' > sent.txt \
  || fail "hypha.exe send"
win hypha.exe recv --wait 20 --json --socket '\\.\pipe\hypha-smoke-a' > got.json || fail "hypha.exe recv"
if [ "$(jq -r .payload got.json | base64 -d)" != "$text" ] || [ "$(jq -r .from got.json)" != "$b_id" ]; then
  fail "recv: $(cat got.json)"
fi
ok "a bus message from b arrived at a ($(tr -d '\r\n' < sent.txt))"
echo "wine smoke: $passed checks passed"
