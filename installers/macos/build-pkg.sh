#!/usr/bin/env bash
# On a Mac (Xcode command-line tools, rustup, Node for the tray): builds hyphad and hypha for
# aarch64-apple-darwin and x86_64-apple-darwin, joins them into universal binaries (lipo), and
# packs Hypha-<version>.pkg (pkgbuild + productbuild): /usr/local/bin/{hyphad,hypha}, the
# launchd daemon org.hypha.hyphad, the uninstaller /usr/local/share/hypha/uninstall.sh and,
# unless HYPHA_TRAY=0, /Applications/Hypha.app (tauri build, universal) with a login agent.
# Prints the package's path.
#   installers/macos/build-pkg.sh [VERSION]
#   HYPHA_TRAY=0 installers/macos/build-pkg.sh                       # service and CLI only
#   HYPHA_SIGN="Developer ID Installer: Name (TEAMID)" installers/macos/build-pkg.sh
#   HYPHA_STAGE_ONLY=1 installers/macos/build-pkg.sh                 # lay out the payload only
#     (any OS: checks the layout with whatever binaries are in $CARGO_TARGET_DIR/release)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VERSION=${1:-$(grep -m1 '^version' "$ROOT/Cargo.toml" | cut -d'"' -f2)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WITH_TRAY=${HYPHA_TRAY:-1}
STAGE_ONLY=${HYPHA_STAGE_ONLY:-0}
ARCHS=(aarch64-apple-darwin x86_64-apple-darwin)
if [ "$STAGE_ONLY" != 1 ] && [ "$(uname -s)" != Darwin ]; then
  echo "build-pkg.sh builds on macOS only (pkgbuild, productbuild, lipo); HYPHA_STAGE_ONLY=1 lays out the payload anywhere" >&2
  exit 1
fi

OUT=$TARGET/macos-pkg
rm -rf "$OUT"
PAYLOAD=$OUT/payload
mkdir -p "$PAYLOAD/usr/local/bin" "$PAYLOAD/usr/local/share/hypha" "$PAYLOAD/Library/LaunchDaemons"

if [ "$STAGE_ONLY" = 1 ]; then
  for b in hyphad hypha; do install -m 0755 "$TARGET/release/$b" "$PAYLOAD/usr/local/bin/$b"; done
else
  rustup target add "${ARCHS[@]}" >&2
  for t in "${ARCHS[@]}"; do
    (cd "$ROOT" && cargo build --release --locked --target "$t" -p hypha-daemon -p hypha-cli >&2)
  done
  for b in hyphad hypha; do
    lipo -create -output "$PAYLOAD/usr/local/bin/$b" \
      "$TARGET/aarch64-apple-darwin/release/$b" "$TARGET/x86_64-apple-darwin/release/$b"
    strip -S "$PAYLOAD/usr/local/bin/$b"
  done
fi
install -m 0644 "$HERE/org.hypha.hyphad.plist" "$PAYLOAD/Library/LaunchDaemons/"
install -m 0755 "$HERE/uninstall.sh" "$PAYLOAD/usr/local/share/hypha/uninstall.sh"

if [ "$WITH_TRAY" = 1 ]; then
  mkdir -p "$PAYLOAD/Applications" "$PAYLOAD/Library/LaunchAgents"
  install -m 0644 "$HERE/org.hypha.tray.plist" "$PAYLOAD/Library/LaunchAgents/"
  if [ "$STAGE_ONLY" = 1 ]; then
    mkdir -p "$PAYLOAD/Applications/Hypha.app/Contents/MacOS"
    install -m 0755 "$TARGET/release/hypha-tray" "$PAYLOAD/Applications/Hypha.app/Contents/MacOS/"
  else
    (cd "$ROOT/ui" && npm ci --no-audit --no-fund --loglevel=error) >&2
    # The Tauri CLI bundles Hypha.app for both architectures (it runs the ui build itself).
    (cd "$ROOT/src-tauri" && npx --yes @tauri-apps/cli@2 build --bundles app --target universal-apple-darwin >&2)
    cp -R "$TARGET/universal-apple-darwin/release/bundle/macos/Hypha.app" "$PAYLOAD/Applications/"
  fi
fi

if [ "$STAGE_ONLY" = 1 ]; then
  (cd "$PAYLOAD" && find . -type f | sort) >&2
  echo "$PAYLOAD"
  exit 0
fi

# Keep Hypha.app where it is put (by default Installer "relocates" bundles it finds elsewhere).
pkgbuild --analyze --root "$PAYLOAD" "$OUT/components.plist" >&2
i=0
while /usr/libexec/PlistBuddy -c "Print :$i" "$OUT/components.plist" >/dev/null 2>&1; do
  /usr/libexec/PlistBuddy -c "Set :$i:BundleIsRelocatable false" "$OUT/components.plist"
  i=$((i + 1))
done
pkgbuild --root "$PAYLOAD" --component-plist "$OUT/components.plist" --scripts "$HERE/scripts" \
  --identifier org.hypha.pkg --version "$VERSION" --install-location / --ownership recommended \
  "$OUT/hypha-component.pkg" >&2
productbuild --synthesize --package "$OUT/hypha-component.pkg" "$OUT/distribution.xml" >&2
PKG=$TARGET/Hypha-$VERSION.pkg
# (macOS's own bash is 3.2: no empty arrays under set -u.)
if [ -n "${HYPHA_SIGN:-}" ]; then
  productbuild --distribution "$OUT/distribution.xml" --package-path "$OUT" --sign "$HYPHA_SIGN" "$PKG" >&2
else
  productbuild --distribution "$OUT/distribution.xml" --package-path "$OUT" "$PKG" >&2
fi
echo "$PKG"
