#!/usr/bin/env bash
# End-to-end test of the tray app: two real hyphad nodes on loopback (no TUN, no root needed
# by them), the real hypha-tray binary in a real window under Xvfb, driven over WebDriver
# (tauri-driver + WebKitWebDriver). Writes a screenshot of every view to
# $HYPHA_E2E_OUT (default: target/e2e).
#
# Needs: Debian packages xvfb, webkit2gtk-driver, dbus-daemon, trayer, xdotool, python3-dbus,
# python3-gi and the WebKitGTK/GTK dev packages (installed by .ci/test.sh), Node 20 + npm. Installs tauri-driver with cargo.
# HYPHA_SKIP_BUILD=1 uses the release binaries already built.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! command -v tauri-driver >/dev/null; then
  echo "installing tauri-driver (cargo install, about a minute)"
  cargo install tauri-driver --locked --quiet
fi

# The release binaries: the same build the packages carry. HYPHA_SKIP_BUILD=1 (the test
# command) takes them as they are.
if [ "${HYPHA_SKIP_BUILD:-0}" != 1 ]; then
  (cd ui && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent build)
  cargo build --release --locked -p hypha-tray -p hypha-daemon -p hypha-cli
fi

export HYPHA_BIN="$target/release"
export HYPHA_E2E_OUT="${HYPHA_E2E_OUT:-$target/e2e}"
mkdir -p "$HYPHA_E2E_OUT"
# dbus-run-session: GLib and WebKit want a session bus and leave its daemons behind without one.
# Everything runs in a session of its own, so that whatever the test leaves (tauri-driver,
# WebKitWebDriver, the tray, Xvfb, hyphad) is stopped with it, on success and on failure.
setsid --wait dbus-run-session -- xvfb-run -a -s "-screen 0 1280x900x24" node "$here/tray.test.mjs" &
sid=$!
# shellcheck disable=SC2317  # run by the trap
reap() { kill -TERM -- "-$sid" 2>/dev/null || true; sleep 0.5; kill -KILL -- "-$sid" 2>/dev/null || true; }
trap reap EXIT
rc=0
wait "$sid" || rc=$?
exit "$rc"
