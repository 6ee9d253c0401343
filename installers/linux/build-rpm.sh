#!/usr/bin/env bash
# Builds hypha-<version>-1.<arch>.rpm (hyphad, hypha, the hardened unit, the sysusers entry,
# scriptlets that behave like the .deb's maintainer scripts) and hypha-tray-<version>-1.<arch>.rpm
# (the tray app, menu entry, icons, autostart) from the release binaries, with hypha.spec.
# Works on Fedora and on Debian (apt-get install rpm). Prints the packages' paths, hypha first.
#   installers/linux/build-rpm.sh [VERSION]
#   HYPHA_TRAY=0 installers/linux/build-rpm.sh     # only the service package
set -euo pipefail
VERSION=${1:-}
# shellcheck source=installers/linux/common.sh
. "$(dirname "$0")/common.sh"
command -v rpmbuild >/dev/null || { echo "build-rpm.sh needs rpmbuild (Debian: apt-get install rpm; Fedora: dnf install rpm-build)" >&2; exit 1; }
ARCH=$(uname -m)
build_release
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
stage_service "$STAGE/root" /usr/lib/systemd/system
[ "$WITH_TRAY" = 1 ] && stage_tray "$STAGE/root"
printf '%s\n' "$TRAY_HINT" >"$STAGE/tray-hint.sh"
isa64=()
[ "$(getconf LONG_BIT)" = 64 ] && isa64=(--define "hypha_isa64 1")
rpmbuild -bb --nodeps --target "$ARCH" \
  --define "_topdir $STAGE/rpmbuild" \
  --define "hypha_version $VERSION" \
  --define "hypha_stage $STAGE/root" \
  --define "hypha_tray $WITH_TRAY" \
  --define "hypha_tray_hint %(cat $STAGE/tray-hint.sh)" \
  "${isa64[@]}" \
  "$HERE/hypha.spec" >"$STAGE/rpmbuild.log" 2>&1 || { cat "$STAGE/rpmbuild.log" >&2; exit 1; }
for name in hypha hypha-tray; do
  [ "$name" = hypha-tray ] && [ "$WITH_TRAY" != 1 ] && continue
  f="$name-$VERSION-1.$ARCH.rpm"
  cp "$STAGE/rpmbuild/RPMS/$ARCH/$f" "$TARGET/$f"
  echo "$TARGET/$f"
done
