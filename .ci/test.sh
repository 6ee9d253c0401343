#!/usr/bin/env bash
# Every test of the project, from a fresh Debian/Ubuntu machine with Rust stable (rustup).
# Installs what it needs itself: Debian packages (network tools for the netns tests) and
# rustup components/targets. Run as root (netns tests need it) or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."
HERE="$(pwd)/.ci"
SNAPSHOT=$(mktemp)
trap 'rm -f "$SNAPSHOT"' EXIT

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
# Network tools for the netns tests; GTK/WebKit, Xvfb and WebKitWebDriver for the tray app
# and its end-to-end test (with a tray host, xdotool for its menu, and python3-dbus for the
# test's notification daemon); promtool and a Python venv for the HTTP API's checks; mingw,
# NSIS, 7-Zip and Wine for the Windows setup and its smoke test.
pkgs=(iproute2 iputils-ping iperf3 jq procps python3 util-linux nftables systemd curl bind9-dnsutils
      rpm desktop-file-utils shellcheck clang g++ prometheus python3-venv
      libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
      libssl-dev pkg-config xvfb xauth webkit2gtk-driver dbus-daemon
      trayer xdotool python3-dbus python3-gi
      gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 nsis p7zip-full wine wine64)
command -v npm >/dev/null || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

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

step "format"
cargo fmt --all -- --check

# Everything below uses one profile, release: the binaries the tests start, the packages and
# the tray e2e are the same build, and every dependency is compiled once. (Tests in release
# lose debug assertions; the arithmetic that matters is checked explicitly.)
step "build: every crate, binary and test target, release profile"
cargo build --release --locked --workspace --all-targets
BIN="${CARGO_TARGET_DIR:-target}/release"

step "lints"
# Same profile, so build scripts and proc macros are shared with the build above.
cargo clippy --release --locked --workspace --all-targets -- -D warnings

step "Windows: service, CLI and tray cross-built, the setup (NSIS) built and checked"
# The release build for x86_64-pc-windows-gnu is the compile check of every Windows-only line
# the shipped binaries hold (service control, named pipe and its ACL, wintun, the tray).
rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu \
  || { echo "target x86_64-pc-windows-gnu not installed (rustup target add x86_64-pc-windows-gnu)" >&2; exit 1; }
bash installers/windows/build.sh

step "macOS (Apple silicon and Intel): cross-target checks and lints"
for t in aarch64-apple-darwin x86_64-apple-darwin; do
  rustup target list --installed 2>/dev/null | grep -qx "$t" \
    || { echo "target $t not installed (rustup target add $t)" >&2; exit 1; }
  cargo clippy --release --locked --target "$t" --workspace --exclude hypha-tray -- -D warnings
done
# The tray apart: its notification plugin needs the macOS SDK, so everything in it but desktop
# notifications is checked (clang for objc2's helper).
CC_aarch64_apple_darwin=clang cargo check --release --locked --target aarch64-apple-darwin -p hypha-tray \
  --no-default-features --features custom-protocol

# From here on nothing is compiled again (but the fuzz targets, whose coverage instrumentation
# cannot share a build): the steps use the binaries built above.
export HYPHA_SKIP_BUILD=1
"$HERE/leftovers.sh" selftest
"$HERE/leftovers.sh" snapshot "$SNAPSHOT"

step "simulator: 1000 nodes, degree 4, 10 % of links cut"
"$BIN/hypha" sim --nodes 1000 --degree 4 --seed 7 --fail-links 0.1 --json | tee /tmp/hypha-sim-1000.json
jq -e '.converged == true and .loops_seen == 0 and .reachable_pairs_pct == 100
       and .stale_routes == 0 and .host.wall_s < 60 and .host.max_rss_mib < 1024
       and .probes_delivered == .probes_sent' /tmp/hypha-sim-1000.json >/dev/null \
  || { echo "simulator check failed" >&2; exit 1; }
echo "simulator check passed"

step "Linux packages: build, install, run as the unit does, upgrade, remove, purge; rpm; macOS scripts"
bash installers/linux/test-deb.sh
bash installers/linux/test-rpm.sh
bash installers/macos/check.sh

step "tests"
cargo nextest run --release --workspace --locked --no-fail-fast

step "fuzz smoke: every target 20 s, coverage-guided (libFuzzer, stable toolchain)"
# Instrumented builds live in a target dir of their own ($CARGO_TARGET_DIR/fuzz); new inputs
# go to a scratch directory, so the checked-in corpora are only read.
FUZZ_WORK="$(mktemp -d)"
FUZZ_WORK="$FUZZ_WORK" bash service/fuzz/run.sh 20
rm -rf "$FUZZ_WORK"

step "Windows binaries under Wine: inspect, two hyphad.exe linked, status over the pipes, a message"
bash installers/windows/wine-smoke.sh

step "tray app end to end (two hyphad nodes, the real window under Xvfb, WebDriver)"
bash ui/e2e/run.sh

step "nothing left running"
"$HERE/leftovers.sh" check "$SNAPSHOT"
printf '\nall steps passed in %d s\n' "$SECONDS"
