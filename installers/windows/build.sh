#!/usr/bin/env bash
# Cross-builds the Windows setup on Debian: hyphad.exe and hypha.exe for x86_64-pc-windows-gnu,
# wintun.dll (and its licence) from the `wintun` crate package in the cargo registry, and
# HyphaSetup-<version>.exe with NSIS. Prints the setup's path. Installs mingw-w64 and nsis.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VERSION=${1:-$(grep -m1 '^version' "$ROOT/Cargo.toml" | cut -d'"' -f2)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
command -v x86_64-w64-mingw32-gcc >/dev/null && command -v makensis >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64 nsis >/dev/null
}
rustup target add x86_64-pc-windows-gnu >/dev/null 2>&1 || true
(cd "$ROOT" && cargo build --release --locked --target x86_64-pc-windows-gnu -p hypha-daemon -p hypha-cli >&2)
(cd "$ROOT" && cargo fetch --locked >&2)
WINTUN=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/wintun-0.5*/wintun 2>/dev/null | tail -n1)
[ -f "$WINTUN/bin/amd64/wintun.dll" ] || { echo "wintun.dll not found in the cargo registry" >&2; exit 1; }
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
cp "$TARGET/x86_64-pc-windows-gnu/release/hyphad.exe" "$TARGET/x86_64-pc-windows-gnu/release/hypha.exe" "$STAGE/"
cp "$WINTUN/bin/amd64/wintun.dll" "$STAGE/"
cp "$WINTUN/LICENSE.txt" "$STAGE/wintun-LICENSE.txt"
cp "$ROOT/README.md" "$STAGE/"
makensis -V2 -DVERSION="$VERSION" -DSTAGE="$STAGE" -NOCD "$HERE/hypha.nsi" >&2
mv "HyphaSetup-$VERSION.exe" "$TARGET/"
echo "$TARGET/HyphaSetup-$VERSION.exe"
