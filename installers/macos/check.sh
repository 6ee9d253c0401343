#!/usr/bin/env bash
# What of the macOS package can be checked without a Mac: both plists parse (plistlib) and
# hold the keys launchd needs, every script passes `sh -n`/`bash -n` and shellcheck (when
# installed), the payload lays out (build-pkg.sh with HYPHA_STAGE_ONLY=1 and this machine's
# release binaries), and postinstall, run for another volume against stub chown/launchctl/
# dseditgroup, makes the state directory 0700 and touches neither launchd nor the groups.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { echo "FAIL - $*" >&2; exit 1; }
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

python3 - "$HERE/org.hypha.hyphad.plist" "$HERE/org.hypha.tray.plist" <<'PY' || fail "plists"
import plistlib, sys
d = plistlib.load(open(sys.argv[1], "rb"))
assert d["Label"] == "org.hypha.hyphad" and d["ProgramArguments"] == ["/usr/local/bin/hyphad"], d
assert d["RunAtLoad"] is True and d["KeepAlive"] is True, d
assert d["StandardOutPath"] == d["StandardErrorPath"] == "/var/log/hyphad.log", d
t = plistlib.load(open(sys.argv[2], "rb"))
assert t["Label"] == "org.hypha.tray" and t["RunAtLoad"] is True, t
PY
ok "plists parse: daemon runs /usr/local/bin/hyphad, RunAtLoad, KeepAlive, logs to /var/log/hyphad.log"

for f in "$HERE/scripts/preinstall" "$HERE/scripts/postinstall" "$HERE/uninstall.sh"; do
  sh -n "$f" || fail "sh -n $f"
  [ -x "$f" ] || fail "$f is not executable"
done
bash -n "$HERE/build-pkg.sh" "$HERE/check.sh"
if command -v shellcheck >/dev/null; then
  shellcheck -s sh "$HERE/scripts/preinstall" "$HERE/scripts/postinstall" "$HERE/uninstall.sh"
  shellcheck "$HERE/build-pkg.sh" "$HERE/check.sh"
  ok "scripts parse and pass shellcheck"
else
  ok "scripts parse (shellcheck not installed)"
fi

TARGET=${CARGO_TARGET_DIR:-$HERE/../../target}
if [ -x "$TARGET/release/hyphad" ] && [ -x "$TARGET/release/hypha" ]; then
  tray=0
  [ -x "$TARGET/release/hypha-tray" ] && tray=1
  payload=$(HYPHA_STAGE_ONLY=1 HYPHA_TRAY=$tray bash "$HERE/build-pkg.sh" 2>/dev/null)
  for f in usr/local/bin/hyphad usr/local/bin/hypha Library/LaunchDaemons/org.hypha.hyphad.plist \
    usr/local/share/hypha/uninstall.sh; do
    [ -f "$payload/$f" ] || fail "payload lacks $f"
  done
  ok "payload lays out (tray: $tray)"
fi

# postinstall for a volume that is not the running system: files only.
stubs=$SCRATCH/stubs
mkdir -p "$stubs" "$SCRATCH/vol/Library/LaunchDaemons"
cp "$HERE/org.hypha.hyphad.plist" "$SCRATCH/vol/Library/LaunchDaemons/"
for c in chown launchctl dseditgroup dscl; do
  printf '#!/bin/sh\necho "%s $*" >>%s/calls\n' "$c" "$stubs" >"$stubs/$c"
  chmod 0755 "$stubs/$c"
done
PATH="$stubs:$PATH" sh -e "$HERE/scripts/postinstall" pkg / "$SCRATCH/vol/"
[ "$(stat -c %a "$SCRATCH/vol/Library/Application Support/Hypha")" = 700 ] || fail "state dir mode"
! grep -Eq '^(launchctl|dseditgroup|dscl)' "$stubs/calls" || fail "postinstall for another volume: $(cat "$stubs/calls")"
PATH="$stubs:$PATH" sh -e "$HERE/scripts/preinstall" pkg / "$SCRATCH/vol"
! grep -q '^launchctl' "$stubs/calls" || fail "preinstall for another volume touched launchd"
ok "postinstall for another volume: state dir 0700, no launchd, no group changes"
echo "macos: $passed passed, 0 failed"
