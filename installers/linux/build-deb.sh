#!/usr/bin/env bash
# Builds hypha_<version>_<arch>.deb: hyphad, hypha, a hardened systemd unit, the hypha
# user/group (sysusers), and maintainer scripts (start on install, restart on upgrade, stop on
# removal, keep the identity key unless purged); and hypha-tray_<version>_<arch>.deb: the tray
# app, its menu entry, icons and autostart in desktop sessions (a package of its own, so a
# server never pulls in GTK/WebKit). Prints the packages' paths, one a line, hypha first.
#   installers/linux/build-deb.sh [VERSION]
#   HYPHA_TRAY=0 installers/linux/build-deb.sh     # only the service package
set -euo pipefail
VERSION=${1:-}
# shellcheck source=installers/linux/common.sh
. "$(dirname "$0")/common.sh"
ARCH=$(dpkg --print-architecture)
build_release
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
P=$STAGE/pkg
stage_service "$P" /lib/systemd/system
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

[ "$WITH_TRAY" = 1 ] || exit 0
T=$STAGE/tray
stage_tray "$T"
mkdir -p "$T/DEBIAN"
cat >"$T/DEBIAN/control" <<CTRL
Package: hypha-tray
Version: $VERSION
Architecture: $ARCH
Maintainer: Hypha developers <dev@hypha.invalid>
Depends: hypha (= $VERSION), libc6, libwebkit2gtk-4.1-0, libgtk-3-0, libayatana-appindicator3-1
Section: net
Priority: optional
Description: Hypha overlay mesh (tray app)
 Tray icon and window for the Hypha service: status, peers, routes, messages and
 bandwidth sharing, over the service's local API. Starts with desktop sessions.
CTRL
# Files under /etc are the admin's: dpkg keeps their edits and removes them only on purge.
echo /etc/xdg/autostart/hypha-tray.desktop >"$T/DEBIAN/conffiles"
{
  printf '#!/bin/sh\nset -e\n'
  printf 'if [ "$1" = configure ] && [ -z "$2" ]; then\n%s\nfi\n' "$TRAY_HINT"
} >"$T/DEBIAN/postinst"
chmod 0755 "$T/DEBIAN/postinst"
OUT="$TARGET/hypha-tray_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group --build "$T" "$OUT" >&2
echo "$OUT"
