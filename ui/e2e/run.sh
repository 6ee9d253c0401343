#!/usr/bin/env bash
# End-to-end test of the tray app: two real hyphad nodes on loopback (no TUN, no root needed
# by them), the real hypha-tray binary in a real window under Xvfb, driven over WebDriver
# (tauri-driver + WebKitWebDriver). Writes a screenshot of every view to
# $HYPHA_E2E_OUT (default: target/e2e).
#
# Needs: Debian packages xvfb, webkit2gtk-driver, dbus-daemon and the WebKitGTK/GTK dev
# packages (installed by .ci/test.sh), Node 20 + npm. Installs tauri-driver with cargo.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

if ! command -v tauri-driver >/dev/null; then
  echo "installing tauri-driver (cargo install, about a minute)"
  cargo install tauri-driver --locked --quiet
fi
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

(cd ui && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent build)
cargo build --locked -p hypha-tray -p hypha-daemon -p hypha-cli

export HYPHA_BIN="$target/debug"
export HYPHA_E2E_OUT="${HYPHA_E2E_OUT:-$target/e2e}"
mkdir -p "$HYPHA_E2E_OUT"
# dbus-run-session: GLib and WebKit want a session bus and leave its daemons behind without one.
exec dbus-run-session -- xvfb-run -a -s "-screen 0 1280x900x24" node "$here/tray.test.mjs"
