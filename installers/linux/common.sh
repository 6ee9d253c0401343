# Shared by build-deb.sh and build-rpm.sh (sourced, not run): builds the release binaries and
# lays out the files of the two packages, so the .deb and the .rpm carry the same content.
#   HYPHA_TRAY=0        leave out the tray app (no GTK/WebKit needed to build; servers)
#   HYPHA_SKIP_BUILD=1  use the binaries already in $CARGO_TARGET_DIR/release as they are
# shellcheck shell=bash
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VERSION=${VERSION:-$(grep -m1 '^version' "$ROOT/Cargo.toml" | cut -d'"' -f2)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WITH_TRAY=${HYPHA_TRAY:-1}

build_release() {
  [ "${HYPHA_SKIP_BUILD:-0}" = 1 ] && return 0
  local pkgs=(-p hypha-daemon -p hypha-cli)
  if [ "$WITH_TRAY" = 1 ]; then
    # The tray embeds the built front end at compile time.
    if [ ! -f "$ROOT/ui/dist/index.html" ]; then
      (cd "$ROOT/ui" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build) >&2
    fi
    pkgs+=(-p hypha-tray)
  fi
  (cd "$ROOT" && cargo build --release --locked "${pkgs[@]}" >&2)
}

# install_bin SRC DEST: packages carry the binaries without debug info (the release profile
# has none, but a `profiling` build copied in would); symbols stay, so backtraces name functions.
install_bin() {
  install -D -m 0755 "$1" "$2"
  strip --strip-debug "$2"
}

# stage_service DIR UNITDIR: hyphad, hypha, the unit, the sysusers entry, the README.
stage_service() {
  local d=$1 unitdir=$2
  install_bin "$TARGET/release/hyphad" "$d/usr/bin/hyphad"
  install_bin "$TARGET/release/hypha" "$d/usr/bin/hypha"
  install -D -m 0644 "$HERE/hyphad.service" "$d$unitdir/hyphad.service"
  install -D -m 0644 "$HERE/hypha.sysusers" "$d/usr/lib/sysusers.d/hypha.conf"
  install -D -m 0644 "$ROOT/README.md" "$d/usr/share/doc/hypha/README.md"
}

# stage_tray DIR: the tray app, its menu entry, icons, and its autostart in desktop sessions.
stage_tray() {
  local d=$1 size
  install_bin "$TARGET/release/hypha-tray" "$d/usr/bin/hypha-tray"
  install -D -m 0644 "$HERE/hypha-tray.desktop" "$d/usr/share/applications/hypha-tray.desktop"
  install -D -m 0644 "$HERE/hypha-tray-autostart.desktop" "$d/etc/xdg/autostart/hypha-tray.desktop"
  for size in 32 128 256; do
    install -D -m 0644 "$ROOT/assets/icons/icon-$size.png" \
      "$d/usr/share/icons/hicolor/${size}x${size}/apps/hypha.png"
  done
  install -D -m 0644 "$ROOT/README.md" "$d/usr/share/doc/hypha-tray/README.md"
}

# What the tray's postinst/%post prints on a fresh install (users are never modified).
# shellcheck disable=SC2034,SC2016  # used by the scripts sourcing this; expanded at install time
TRAY_HINT='user=${SUDO_USER:-}
if [ -z "$user" ] || [ "$user" = root ] || ! id -nG "$user" 2>/dev/null | tr " " "\n" | grep -qx hypha; then
  echo "hypha-tray: the tray uses the service API (/run/hypha/hypha.sock), open to root and group hypha."
  echo "hypha-tray: to use it as ${user:-your user}: sudo usermod -aG hypha ${user:-\$USER}, then log in again."
fi'
