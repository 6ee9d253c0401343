#!/usr/bin/env bash
# Every test of the project, from a fresh Debian/Ubuntu machine with Rust stable (rustup).
# Installs what it needs itself: Debian packages (network tools for the netns tests) and
# rustup components/targets. Run as root (netns tests need it) or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."
HERE="$(pwd)/.ci"
SNAPSHOT=$(mktemp)

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

step() { printf '\n==> %s  [%d s]\n' "$*" "$SECONDS"; }

# Jobs in the background, so that what waits on the network or on timers (apt downloads, the
# netns tests, packaging) leaves its idle CPU to a build: `bg NAME CMD...` starts one with its
# output in a log, `finish NAME` waits for it, prints the log and fails if it failed.
declare -A BG_PID BG_LOG
BG_DIR=$(mktemp -d)
# A failing run stops every job still going, with all its processes (cargo, rustc, apt).
kill_tree() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$c"; done
  kill "$1" 2>/dev/null || true
}
trap 'for p in "${BG_PID[@]}"; do kill_tree "$p"; done; rm -rf "$SNAPSHOT" "$BG_DIR"' EXIT
bg() {
  local name=$1; shift
  BG_LOG[$name]="$BG_DIR/$name.log"
  "$@" >"${BG_LOG[$name]}" 2>&1 </dev/null &
  BG_PID[$name]=$!
}
finish() {
  local name=$1 rc=0 t0=$SECONDS
  wait "${BG_PID[$name]}" || rc=$?
  unset "BG_PID[$name]"
  printf -- '--- %s (background; waited %d s for it)\n' "$name" $((SECONDS - t0))
  cat "${BG_LOG[$name]}"
  [ "$rc" = 0 ] || { echo "$name failed (exit $rc)" >&2; exit "$rc"; }
}
# Builds in the background run in the idle scheduling class: they only get CPU nothing else
# wants, so the timed tests beside them are not slowed.
idle() { if command -v chrt >/dev/null; then chrt --idle 0 "$@"; else nice -n 19 "$@"; fi; }

step "system packages"
# What the build needs (GTK/WebKit for the tray, clang, Node) is installed first; the rest in
# the background while it compiles: network tools for the netns tests; Xvfb, WebKitWebDriver,
# a tray host, xdotool and python3-dbus for the tray's end-to-end test; promtool and a Python
# venv for the HTTP API's checks; mingw, NSIS, 7-Zip and Wine for the Windows setup and its
# smoke test.
build_pkgs=(pkg-config libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev
      librsvg2-dev libxdo-dev clang g++ util-linux)
command -v npm >/dev/null || build_pkgs+=(nodejs npm)
other_pkgs=(iproute2 iputils-ping iperf3 jq procps python3 nftables systemd curl bind9-dnsutils
      rpm desktop-file-utils shellcheck prometheus python3-venv
      xvfb xauth webkit2gtk-driver dbus-daemon trayer xdotool python3-dbus python3-gi
      gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 nsis p7zip-full wine wine64)
missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"
  done
}
apt_install() {
  [ $# -gt 0 ] || return 0
  echo "installing: $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
mapfile -t need_build < <(missing "${build_pkgs[@]}")
mapfile -t need_other < <(missing "${other_pkgs[@]}")
if [ $((${#need_build[@]} + ${#need_other[@]})) -gt 0 ]; then $SUDO apt-get update -qq; fi
apt_install "${need_build[@]}"
bg apt apt_install "${need_other[@]}"

step "rust toolchain"
command -v cargo >/dev/null || { echo "cargo not found: install Rust stable with rustup first" >&2; exit 1; }
cargo nextest --version >/dev/null 2>&1 || cargo install cargo-nextest --locked
if command -v rustup >/dev/null; then
  rustup component add clippy rustfmt >/dev/null 2>&1 || true
  rustup target add x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin >/dev/null 2>&1 || true
fi

step "checkers from PyPI (OpenAPI validator)"
# In a venv of its own that outlives the clone, like the build cache.
TOOLS="${HYPHA_TOOLS:-$HOME/.cache/hypha-tools}"
[ -x "$TOOLS/venv/bin/openapi-spec-validator" ] || {
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check openapi-spec-validator
}
export HYPHA_OPENAPI_VALIDATOR="$TOOLS/venv/bin/openapi-spec-validator"

step "tray front end (npm)"
# The tray binary embeds ui/dist, so it is built before anything compiles the workspace.
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
# CI (.ci/run) gives the clone's files their commit times so that its cached build stays fresh;
# the built front end gets the time of the last commit under ui/ to match, unless ui/ has
# local changes.
if [ "${HYPHA_CI_MTIMES:-0}" = 1 ] && [ -z "$(git status --porcelain -- ui)" ]; then
  t=$(python3 "$HERE/mtimes.py" --latest ui)
  find ui/dist -exec touch -h -d "@$t" {} +
fi

step "format"
cargo fmt --all -- --check

# Everything below uses one profile, release: the binaries the tests start, the packages and
# the tray e2e are the same build, and every dependency is compiled once. (Tests in release
# lose debug assertions; the arithmetic that matters is checked explicitly.)
step "build and lints: every crate, binary and test target, release profile, clippy -D warnings"
# Clippy's driver compiles our crates in this same build (what `cargo clippy` does, but with
# code generation), so lints cost no second pass over the workspace. Exported: every later
# cargo command sees the same compiler and reuses this build.
export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
RUSTC_WORKSPACE_WRAPPER=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver || true)
[ -x "$RUSTC_WORKSPACE_WRAPPER" ] || { echo "clippy-driver not found (rustup component add clippy)" >&2; exit 1; }
cargo build --release --locked --workspace --all-targets --timings
BIN="${CARGO_TARGET_DIR:-target}/release"
# What nextest needs to run the tests without asking cargo (whose lock the Windows build holds).
NEXTEST_META="$BG_DIR/nextest"
mkdir -p "$NEXTEST_META"
cargo nextest list --release --workspace --locked --list-type binaries-only --message-format json \
  >"$NEXTEST_META/binaries.json"
cargo metadata --format-version 1 --locked >"$NEXTEST_META/cargo.json"
finish apt

step "bench scripts: shellcheck, the C floor forwarder compiles"
# Benchmarks are run by hand (README), so nothing else would notice them rot.
shellcheck -x bench/*.sh bench/systems/*.sh
cc -Wall -Wextra -Werror -fsyntax-only bench/tunfwd.c

# From here on the steps use the binaries built above; nothing else compiles in the foreground
# until the macOS checks.
export HYPHA_SKIP_BUILD=1

# The simulator runs before the background builds start, so that the wall time and memory
# it reports (must-shows) are its own, not shared with compilers' caches and memory traffic.
step "simulator: 1000 nodes, degree 4, 10 % of links cut"
"$BIN/hypha" sim --nodes 1000 --degree 4 --seed 7 --fail-links 0.1 --json | tee /tmp/hypha-sim-1000.json
jq -e '.converged == true and .loops_seen == 0 and .reachable_pairs_pct == 100
       and .stale_routes == 0 and .host.wall_s < 45 and .host.max_rss_mib < 512
       and .virtual_convergence_s.after_cuts < 3
       and .probes_delivered == .probes_sent' /tmp/hypha-sim-1000.json >/dev/null \
  || { echo "simulator check failed" >&2; exit 1; }
# Loss: acknowledged updates keep convergence after the cuts within 3 s of virtual time.
"$BIN/hypha" sim --nodes 300 --degree 4 --seed 7 --fail-links 0.1 --loss 0.02 --json \
  | tee /tmp/hypha-sim-300-loss.json
jq -e '.converged == true and .loops_seen == 0 and .reachable_pairs_pct == 100
       and .virtual_convergence_s.after_cuts < 3' /tmp/hypha-sim-300-loss.json >/dev/null \
  || { echo "simulator check (2 % loss) failed" >&2; exit 1; }
echo "simulator check passed"

# The Windows cross build and the instrumented fuzz build run while the tests below wait on
# their timers.
rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu \
  || { echo "target x86_64-pc-windows-gnu not installed (rustup target add x86_64-pc-windows-gnu)" >&2; exit 1; }
# The release build for x86_64-pc-windows-gnu, linted like the Linux one, is the check of every
# Windows-only line the shipped binaries hold (service control, named pipe and its ACL, wintun,
# the tray).
bg windows idle bash installers/windows/build.sh
# Instrumented builds live in a target dir of their own ($CARGO_TARGET_DIR/fuzz).
FUZZ_WORK="$(mktemp -d)"
bg fuzz-build idle env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS FUZZ_BUILD_ONLY=1 bash service/fuzz/run.sh
# The tray e2e drives the window through tauri-driver (built in a target dir of its own).
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
command -v tauri-driver >/dev/null \
  || bg tauri-driver idle env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS -u CARGO_TARGET_DIR \
       cargo install tauri-driver --locked --quiet

"$HERE/leftovers.sh" selftest
"$HERE/leftovers.sh" snapshot "$SNAPSHOT"

step "Linux packages: build, install, run as the unit does, upgrade, remove, purge; rpm; macOS scripts"
bash installers/linux/test-deb.sh
bash installers/linux/test-rpm.sh
bash installers/macos/check.sh

step "tests"
cargo nextest run --no-fail-fast \
  --binaries-metadata "$NEXTEST_META/binaries.json" --cargo-metadata "$NEXTEST_META/cargo.json"

step "Windows: service, CLI and tray cross-built, the setup (NSIS) built and checked"
finish windows

step "Windows binaries under Wine: inspect, two hyphad.exe linked, status over the pipes, a message"
bash installers/windows/wine-smoke.sh

step "macOS (Apple silicon and Intel): cross-target checks and lints"
for t in aarch64-apple-darwin x86_64-apple-darwin; do
  rustup target list --installed 2>/dev/null | grep -qx "$t" \
    || { echo "target $t not installed (rustup target add $t)" >&2; exit 1; }
  cargo clippy --release --locked --target "$t" --workspace --exclude hypha-tray -- -D warnings
done
# The tray apart: its notification plugin needs the macOS SDK, so everything in it but desktop
# notifications is checked (clang for objc2's helper).
env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS CC_aarch64_apple_darwin=clang \
  cargo check --release --locked --target aarch64-apple-darwin -p hypha-tray \
  --no-default-features --features custom-protocol

step "fuzz smoke: every target 20 s, coverage-guided (libFuzzer, stable toolchain)"
# New inputs go to a scratch directory, so the checked-in corpora are only read.
finish fuzz-build
env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS FUZZ_WORK="$FUZZ_WORK" bash service/fuzz/run.sh 20
rm -rf "$FUZZ_WORK"

step "tray app end to end (two hyphad nodes, the real window under Xvfb, WebDriver)"
[ -z "${BG_PID[tauri-driver]:-}" ] || finish tauri-driver
bash ui/e2e/run.sh

step "nothing left running"
"$HERE/leftovers.sh" check "$SNAPSHOT"
printf '\nall steps passed in %d s\n' "$SECONDS"
