#!/usr/bin/env bash
# Builds the .rpm packages (on Debian, with Debian's rpm) and checks them without a Fedora:
# the file lists, the requirements (shared libraries by soname, the tray on the service), the
# scriptlets (run with $1 = 1/2/0 against stubbed systemctl/systemd-sysusers, as under systemd
# and without it), and an install, verify, edit and erase in a scratch root (rpm --root, no
# scripts). Needs root (mount namespace for the scriptlets). Prints "rpm: N passed, 0 failed".
#   HYPHA_TRAY=0 installers/linux/test-rpm.sh      # only the service package
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "test-rpm.sh needs root" >&2; exit 1; }
# shellcheck source=installers/linux/harness.sh
. "$HERE/harness.sh"
WITH_TRAY=${HYPHA_TRAY:-1}
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { echo "FAIL - $*" >&2; exit 1; }
# expect WHAT ACTUAL EXPECTED: the two multi-line texts must be equal.
expect() { [ "$2" = "$3" ] || fail "$1: got
$2
expected
$3"; }

if ! command -v rpmbuild >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rpm >/dev/null
fi
mapfile -t RPMS < <(bash "$HERE/build-rpm.sh")
SVC=${RPMS[0]}
[ -f "$SVC" ] || fail "no package: ${RPMS[*]}"
for f in "${RPMS[@]}"; do echo "built $(basename "$f") ($(du -k "$f" | cut -f1) KiB)"; done

expect "hypha files" "$(rpm -qlp "$SVC")" "/usr/bin/hypha
/usr/bin/hyphad
/usr/lib/systemd/system/hyphad.service
/usr/lib/sysusers.d/hypha.conf
/usr/share/doc/hypha/README.md"
ok "hypha: files"
req=$(rpm -qpR "$SVC")
grep -qx 'libc.so.6()(64bit)' <<<"$req" || fail "hypha does not require libc: $req"
! grep -Eq 'gtk|webkit|appindicator|hypha' <<<"$req" || fail "hypha requires desktop libraries: $req"
ok "hypha: requires libc, nothing of a desktop"

# The scriptlets, as rpm runs them ($1 = number of instances after the transaction).
script() { rpm -qp --qf "%{$2}" "$1" >"$SCRATCH/$2" && echo "$SCRATCH/$2"; }
post=$(script "$SVC" POSTIN)
preun=$(script "$SVC" PREUN)
postun=$(script "$SVC" POSTUN)
expect "%post 1" "$(run_scriptlet "$post" systemd 1)" "systemd-sysusers /usr/lib/sysusers.d/hypha.conf
systemctl daemon-reload
systemctl enable hyphad.service
systemctl start hyphad.service"
ok "install: user and group, enable, start"
expect "%post 2" "$(run_scriptlet "$post" systemd 2)" "systemd-sysusers /usr/lib/sysusers.d/hypha.conf
systemctl daemon-reload
systemctl restart hyphad.service"
ok "upgrade: restart"
expect "%preun 1" "$(run_scriptlet "$preun" systemd 1)" ""
expect "%postun 1" "$(run_scriptlet "$postun" systemd 1)" "systemctl daemon-reload"
ok "upgrade: the old package's %preun/%postun leave the service running"
expect "%preun 0" "$(run_scriptlet "$preun" systemd 0)" "systemctl disable --now hyphad.service"
out=$(run_scriptlet "$postun" systemd 0)
grep -qx "systemctl daemon-reload" <<<"$out" || fail "%postun 0: $out"
! rpm -qp --scripts "$SVC" | grep -v '^ *echo' | grep -q 'rm ' || fail "a scriptlet deletes files"
ok "removal: stop and disable; the key is kept (rpm has no purge)"
expect "%post 1 without systemd" "$(run_scriptlet "$post" nosystemd 1)" "systemd-sysusers /usr/lib/sysusers.d/hypha.conf"
expect "%preun 0 without systemd" "$(run_scriptlet "$preun" nosystemd 0)" ""
ok "without systemd as PID 1: only the user and group"

if [ "$WITH_TRAY" = 1 ]; then
  TRAY=${RPMS[1]}
  expect "hypha-tray files" "$(rpm -qlp "$TRAY")" "/etc/xdg/autostart/hypha-tray.desktop
/usr/bin/hypha-tray
/usr/share/applications/hypha-tray.desktop
/usr/share/doc/hypha-tray/README.md
/usr/share/icons/hicolor/128x128/apps/hypha.png
/usr/share/icons/hicolor/256x256/apps/hypha.png
/usr/share/icons/hicolor/32x32/apps/hypha.png"
  rpm -qpc "$TRAY" | grep -qx /etc/xdg/autostart/hypha-tray.desktop || fail "autostart is not %config"
  ok "hypha-tray: files; the autostart entry is a config file"
  req=$(rpm -qpR "$TRAY")
  for r in "hypha = $(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$SVC")" 'libwebkit2gtk-4.1.so.0()(64bit)' \
    'libgtk-3.so.0()(64bit)' '(libayatana-appindicator3.so.1()(64bit) or libappindicator3.so.1()(64bit))'; do
    grep -qxF "$r" <<<"$req" || fail "hypha-tray does not require $r: $req"
  done
  ok "hypha-tray: requires hypha (same version), WebKitGTK 4.1, GTK 3, an AppIndicator library"
  out=$(SUDO_USER=nobody run_scriptlet "$(script "$TRAY" POSTIN)" systemd 1)
  grep -q "sudo usermod -aG hypha nobody" <<<"$out" || fail "no group hint: $out"
  ! grep -q '^systemctl\|^systemd-sysusers' <<<"$out" || fail "tray %post touches systemd: $out"
  ok "hypha-tray: install prints how to join group hypha, modifies no user"
fi

# Into a scratch root: rpm's own database there, no scripts (they would run chrooted).
R=$SCRATCH/root
# Debian's rpm warns against installing outside alien unless told it is meant.
DEB=()
rpm --help 2>/dev/null | grep -q -- --force-debian && DEB=(--force-debian)
rpm --root "$R" --initdb
rpm --root "$R" "${DEB[@]}" --nodeps --noscripts -i "${RPMS[@]}"
for f in $(rpm -qlp "${RPMS[@]}"); do [ -f "$R$f" ] || fail "$f did not land"; done
stat -c '%a %U:%G' "$R/usr/bin/hyphad" | grep -qx '755 root:root' || fail "hyphad mode/owner"
"$R/usr/bin/hypha" --help >/dev/null || fail "the packaged hypha does not run"
v=$(rpm --root "$R" -Va --nodeps) || fail "rpm -V: $v"
ok "scratch root: every file lands, rpm -V is clean, the packaged CLI runs"
if [ "$WITH_TRAY" = 1 ]; then
  echo "Hidden=true" >>"$R/etc/xdg/autostart/hypha-tray.desktop"
  rpm --root "$R" "${DEB[@]}" --nodeps --noscripts -e hypha-tray 2>/dev/null
  [ -f "$R/etc/xdg/autostart/hypha-tray.desktop.rpmsave" ] || fail "edited autostart entry not saved"
  [ ! -e "$R/usr/bin/hypha-tray" ] || fail "hypha-tray left after erase"
  ok "erase hypha-tray: files gone, the edited autostart entry kept as .rpmsave"
fi
rpm --root "$R" "${DEB[@]}" --nodeps --noscripts -e hypha
[ ! -e "$R/usr/bin/hyphad" ] || fail "hyphad left after erase"
ok "erase hypha: files gone"
echo "rpm: $passed passed, 0 failed"
