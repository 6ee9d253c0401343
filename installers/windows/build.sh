#!/usr/bin/env bash
# Cross-builds the Windows setup on Debian: hyphad.exe, hypha.exe and the tray app
# hypha-tray.exe for x86_64-pc-windows-gnu (the tray embeds ui/dist: build the UI first),
# wintun.dll (and its licence) from the `wintun` crate package and WebView2Loader.dll from
# `webview2-com-sys` in the cargo registry, and HyphaSetup-<version>.exe with NSIS; then checks
# that the setup holds them. Prints the setup's path. Installs mingw-w64, nsis and 7zip.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VERSION=${1:-$(grep -m1 '^version' "$ROOT/Cargo.toml" | cut -d'"' -f2)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
if ! command -v x86_64-w64-mingw32-gcc >/dev/null || ! command -v makensis >/dev/null \
   || ! command -v 7z >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 nsis p7zip-full >/dev/null
fi
[ -f "$ROOT/ui/dist/index.html" ] || { echo "ui/dist is missing: build the UI first (cd ui && npm run build)" >&2; exit 1; }
rustup target add x86_64-pc-windows-gnu >/dev/null 2>&1 || true
# The plain release profile, as on Linux, so the build scripts and proc macros the Linux build
# compiled serve here too; symbols are stripped from the staged copies below.
(cd "$ROOT" && cargo build --release --locked --target x86_64-pc-windows-gnu \
  -p hypha-daemon -p hypha-cli -p hypha-tray >&2)
(cd "$ROOT" && cargo fetch --locked >&2)
# The versions Cargo.lock pins, from the registry's unpacked crate sources.
crate_dir() {
  local v
  v=$(grep -A1 "^name = \"$1\"\$" "$ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"$/\1/p' | head -n1)
  find "${CARGO_HOME:-$HOME/.cargo}"/registry/src -maxdepth 2 -type d -name "$1-$v" | head -n1
}
WINTUN="$(crate_dir wintun)/wintun"
[ -f "$WINTUN/bin/amd64/wintun.dll" ] || { echo "wintun.dll not found in the cargo registry" >&2; exit 1; }
WEBVIEW2="$(crate_dir webview2-com-sys)/x64"
[ -f "$WEBVIEW2/WebView2Loader.dll" ] || { echo "WebView2Loader.dll not found in the cargo registry" >&2; exit 1; }
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
WIN="$TARGET/x86_64-pc-windows-gnu/release"
cp "$WIN/hyphad.exe" "$WIN/hypha.exe" "$WIN/hypha-tray.exe" "$WEBVIEW2/WebView2Loader.dll" "$STAGE/"
# Symbols would double the setup and the time NSIS takes to compress it.
x86_64-w64-mingw32-strip --strip-all "$STAGE/hyphad.exe" "$STAGE/hypha.exe" "$STAGE/hypha-tray.exe"
cp "$WINTUN/bin/amd64/wintun.dll" "$STAGE/"
cp "$WINTUN/LICENSE.txt" "$STAGE/wintun-LICENSE.txt"
cp "$ROOT/README.md" "$STAGE/"
makensis -V2 -DVERSION="$VERSION" -DSTAGE="$STAGE" -NOCD "$HERE/hypha.nsi" >&2
mv "HyphaSetup-$VERSION.exe" "$TARGET/"
SETUP="$TARGET/HyphaSetup-$VERSION.exe"
# What the setup holds, read back from the built file.
listing=$(7z l "$SETUP")
for f in hyphad.exe hypha.exe hypha-tray.exe wintun.dll WebView2Loader.dll; do
  grep -q " $f\$" <<<"$listing" || { echo "the setup lacks $f" >&2; echo "$listing" >&2; exit 1; }
done
echo "setup $(du -h "$SETUP" | cut -f1): hyphad.exe, hypha.exe, hypha-tray.exe, wintun.dll, WebView2Loader.dll" >&2
echo "$SETUP"
