#!/usr/bin/env bash
# Every test of the project, from a fresh Debian/Ubuntu machine with Rust stable (rustup).
# Installs what it needs itself: Debian packages (network tools for the netns tests) and
# rustup components/targets. Run as root (netns tests need it) or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
missing=()
for pair in iproute2:ip iputils-ping:ping iperf3:iperf3 jq:jq procps:ps python3:/usr/bin/python3 util-linux:setpriv nftables:nft systemd:systemd-analyze; do
  command -v "${pair#*:}" >/dev/null 2>&1 || missing+=("${pair%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

step "rust toolchain"
command -v cargo >/dev/null || { echo "cargo not found: install Rust stable with rustup first" >&2; exit 1; }
if command -v rustup >/dev/null; then
  rustup component add clippy rustfmt >/dev/null 2>&1 || true
  rustup target add x86_64-pc-windows-gnu aarch64-apple-darwin >/dev/null 2>&1 || true
fi

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cross-target checks (Windows, macOS)"
for t in x86_64-pc-windows-gnu aarch64-apple-darwin; do
  if rustup target list --installed 2>/dev/null | grep -qx "$t"; then
    cargo check --locked --target "$t" --workspace
  else
    echo "target $t not installed: skipped (rustup target add $t)"; exit 1
  fi
done

step "simulator: 1000 nodes, degree 4, 10 % of links cut"
cargo build --release --locked -p hypha-cli
"${CARGO_TARGET_DIR:-target}/release/hypha" sim --nodes 1000 --degree 4 --seed 7 --fail-links 0.1 --json | tee /tmp/hypha-sim-1000.json
jq -e '.converged == true and .loops_seen == 0 and .reachable_pairs_pct == 100
       and .stale_routes == 0 and .host.wall_s < 60 and .host.max_rss_mib < 1024
       and .probes_delivered == .probes_sent' /tmp/hypha-sim-1000.json >/dev/null \
  || { echo "simulator check failed" >&2; exit 1; }
echo "simulator check passed"

step "Linux package: build, install, run as the unit does, upgrade, remove, purge"
bash installers/linux/test-deb.sh

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
