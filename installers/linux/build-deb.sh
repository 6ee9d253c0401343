#!/usr/bin/env bash
# Builds hypha_<version>_<arch>.deb: hyphad, hypha, a hardened systemd unit, the hypha
# user/group (sysusers), and maintainer scripts (start on install, restart on upgrade, stop on
# removal, keep the identity key unless purged). Prints the package's path.
#   installers/linux/build-deb.sh [VERSION]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VERSION=${1:-$(grep -m1 '^version' "$ROOT/Cargo.toml" | cut -d'"' -f2)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
ARCH=$(dpkg --print-architecture)
(cd "$ROOT" && cargo build --release --locked -p hypha-daemon -p hypha-cli >&2)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
P=$STAGE/pkg
install -D -m 0755 "$TARGET/release/hyphad" "$P/usr/bin/hyphad"
install -D -m 0755 "$TARGET/release/hypha" "$P/usr/bin/hypha"
install -D -m 0644 "$HERE/hyphad.service" "$P/lib/systemd/system/hyphad.service"
install -D -m 0644 "$HERE/hypha.sysusers" "$P/usr/lib/sysusers.d/hypha.conf"
install -D -m 0644 "$ROOT/README.md" "$P/usr/share/doc/hypha/README.md"
mkdir -p "$P/DEBIAN"
cat >"$P/DEBIAN/control" <<CTRL
Package: hypha
Version: $VERSION
Architecture: $ARCH
Maintainer: Hypha developers <dev@hypha.invalid>
Depends: libc6
Section: net
Priority: optional
Description: Hypha overlay mesh (service and command-line tool)
 End-to-end encrypted IPv6 overlay mesh with self-healing routing, bandwidth sharing and a
 reliable message bus.
CTRL
cat >"$P/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers /usr/lib/sysusers.d/hypha.conf
  elif ! getent passwd hypha >/dev/null; then
    getent group hypha >/dev/null || groupadd --system hypha
    useradd --system --gid hypha --home-dir /var/lib/hypha --no-create-home --shell /usr/sbin/nologin hypha
  fi
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable hyphad.service >/dev/null
    if [ -n "$2" ]; then systemctl restart hyphad.service; else systemctl start hyphad.service; fi
  fi
fi
SCRIPT
cat >"$P/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl disable --now hyphad.service >/dev/null 2>&1 || true
fi
SCRIPT
cat >"$P/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
# The identity key is the node's identity: only a purge removes it.
if [ "$1" = purge ]; then rm -rf /var/lib/hypha /etc/hypha; fi
SCRIPT
chmod 0755 "$P/DEBIAN/postinst" "$P/DEBIAN/prerm" "$P/DEBIAN/postrm"
OUT="$TARGET/hypha_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group --build "$P" "$OUT" >&2
echo "$OUT"
