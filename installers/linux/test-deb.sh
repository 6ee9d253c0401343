#!/usr/bin/env bash
# Installs the .debs on this machine and walks them through their life: files, user/group, unit
# (systemd-analyze verify), the maintainer scripts' systemd branch (run against stubs), starting
# hyphad the way the unit does (its user, capabilities and directories; inside a network
# namespace of its own so the host's network is untouched), `hypha status` over the socket; the
# tray package (files, desktop entries validated, conffile, dependencies, group hint); upgrade
# over itself (key kept), remove (key kept), purge (key and autostart entry gone). Needs root.
# Prints "deb: N passed, 0 failed" at the end. HYPHA_TRAY=0 leaves the tray package out.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "test-deb.sh needs root" >&2; exit 1; }
# shellcheck source=installers/linux/harness.sh
. "$HERE/harness.sh"
WITH_TRAY=${HYPHA_TRAY:-1}
SCRATCH=$(mktemp -d)
NS=hypha-deb-test
PID=""
cleanup() {
  stop
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$SCRATCH"
}
# Stops hyphad and waits for it; anything else still inside the namespace goes too.
stop() {
  if [ -n "$PID" ]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
  fi
  local p
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { echo "FAIL - $*" >&2; exit 1; }

if [ "$WITH_TRAY" = 1 ] && ! command -v desktop-file-validate >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends desktop-file-utils >/dev/null
fi
mapfile -t DEBS < <(bash "$HERE/build-deb.sh")
DEB=${DEBS[0]}
TRAY=${DEBS[1]:-}
[ -f "$DEB" ] && { [ "$WITH_TRAY" != 1 ] || [ -f "$TRAY" ]; } || fail "packages not built: ${DEBS[*]}"
for f in "${DEBS[@]}"; do echo "built $(basename "$f") ($(du -k "$f" | cut -f1) KiB)"; done
dpkg -P hypha-tray hypha >/dev/null 2>&1 || true
rm -rf /var/lib/hypha /run/hypha

# The service package alone, as on a server.
dpkg -i "$DEB" >/dev/null
for f in /usr/bin/hyphad /usr/bin/hypha /lib/systemd/system/hyphad.service /usr/lib/sysusers.d/hypha.conf; do
  [ -e "$f" ] || fail "missing $f"
done
[ ! -e /usr/bin/hypha-tray ] || fail "the service package carries the tray"
! dpkg-query -W -f='${Depends}' hypha | grep -Eq 'gtk|webkit|appindicator' || fail "hypha depends on desktop libraries"
ok "files installed; no tray, no desktop libraries"
getent group hypha >/dev/null && getent passwd hypha >/dev/null || fail "no hypha user/group"
ok "hypha user and group"
{ systemd-analyze verify /lib/systemd/system/hyphad.service 2>&1 || true; } | { grep -v -e "^$" -e "Cannot add dependency job" || true; } | tee /tmp/hypha-verify.txt
[ ! -s /tmp/hypha-verify.txt ] || fail "systemd-analyze verify complained"
ok "unit verifies"

# The maintainer scripts as they run under systemd (calls recorded by stubs).
dpkg-deb -e "$DEB" "$SCRATCH/ctl"
calls=$(run_scriptlet "$SCRATCH/ctl/postinst" systemd configure)
[ "$calls" = "systemd-sysusers /usr/lib/sysusers.d/hypha.conf
systemctl daemon-reload
systemctl enable hyphad.service
systemctl start hyphad.service" ] || fail "postinst configure: $calls"
calls=$(run_scriptlet "$SCRATCH/ctl/postinst" systemd configure 0.0.9)
[ "$(tail -n1 <<<"$calls")" = "systemctl restart hyphad.service" ] || fail "postinst upgrade: $calls"
calls=$(run_scriptlet "$SCRATCH/ctl/prerm" systemd upgrade 0.1.1)
[ -z "$calls" ] || fail "prerm upgrade: $calls"
calls=$(run_scriptlet "$SCRATCH/ctl/prerm" systemd remove)
[ "$calls" = "systemctl disable --now hyphad.service" ] || fail "prerm remove: $calls"
ok "under systemd: start on install, restart on upgrade, stop and disable on removal"

# Debian's udev rules make /dev/net/tun 0666 (access is then a matter of CAP_NET_ADMIN); some
# containers ship it 0600, which no capability of a non-root user gets past.
if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
  echo "note: /dev/net/tun was $(stat -c %a /dev/net/tun); setting Debian's default 0666"
  chmod 0666 /dev/net/tun
fi

# Start it as the unit would: the directories systemd creates, the unit's user and capabilities.
start() {
  install -d -o hypha -g hypha -m 0700 /var/lib/hypha
  install -d -o hypha -g hypha -m 0755 /run/hypha
  ip netns add "$NS" 2>/dev/null || true
  ip -n "$NS" link set lo up
  exec_line=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/hyphad.service)
  # exec all the way down (ip netns exec and setpriv exec too), so $! is hyphad itself.
  (umask 0007; exec ip netns exec "$NS" setpriv --reuid=hypha --regid=hypha --init-groups \
      --inh-caps=+net_admin,+net_raw --ambient-caps=+net_admin,+net_raw $exec_line \
      >/tmp/hypha-deb-hyphad.log 2>&1) &
  PID=$!
  for _ in $(seq 50); do [ -S /run/hypha/hypha.sock ] && break; sleep 0.1; done
  [ -S /run/hypha/hypha.sock ] || { cat /tmp/hypha-deb-hyphad.log >&2; fail "no API socket"; }
}

start
stat -c '%a %G' /run/hypha/hypha.sock | grep -qx '660 hypha' || fail "socket mode/group: $(stat -c '%a %G' /run/hypha/hypha.sock)"
ok "API socket 0660 group hypha"
ID=$(hypha status --json | jq -r .nodeId)
[ ${#ID} = 64 ] || fail "hypha status: $ID"
grep -q "tun hypha0 up" /tmp/hypha-deb-hyphad.log || fail "no TUN as user hypha: $(cat /tmp/hypha-deb-hyphad.log)"
ok "hyphad runs as hypha with a TUN; hypha status answers ($ID)"
stat -c '%a %U' /var/lib/hypha/key | grep -qx '600 hypha' || fail "key file mode/owner"
ok "key 0600 owned by hypha"
stop

AUTOSTART=/etc/xdg/autostart/hypha-tray.desktop
if [ "$WITH_TRAY" = 1 ]; then
  out=$(SUDO_USER=nobody dpkg -i "$TRAY")
  for f in /usr/bin/hypha-tray /usr/share/applications/hypha-tray.desktop "$AUTOSTART" \
    /usr/share/icons/hicolor/{32x32,128x128,256x256}/apps/hypha.png; do
    [ -e "$f" ] || fail "missing $f"
  done
  for s in 32 128 256; do
    # A PNG's width and height are the big-endian words at bytes 16 and 20.
    wh=$(od -An -tu1 -j16 -N8 "/usr/share/icons/hicolor/${s}x${s}/apps/hypha.png" | awk '{print $3*256+$4 "x" $7*256+$8}')
    [ "$wh" = "${s}x${s}" ] || fail "icon ${s}x${s} is $wh"
  done
  ok "tray files installed, icons the sizes their directories say"
  desktop-file-validate /usr/share/applications/hypha-tray.desktop "$AUTOSTART" || fail "desktop entries"
  grep -qx 'Exec=hypha-tray' /usr/share/applications/hypha-tray.desktop && grep -qx 'Icon=hypha' "$AUTOSTART" \
    && grep -qx 'X-GNOME-Autostart-enabled=true' "$AUTOSTART" || fail "desktop entry contents"
  ok "menu and autostart entries validate"
  dpkg-query -W -f='${Conffiles}' hypha-tray | grep -q "^ $AUTOSTART " || fail "autostart entry is not a conffile"
  deps=$(dpkg-query -W -f='${Depends}' hypha-tray)
  for d in "hypha (= $(dpkg-query -W -f='${Version}' hypha))" libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1; do
    grep -qF "$d" <<<"$deps" || fail "hypha-tray does not depend on $d: $deps"
  done
  ! ldd /usr/bin/hypha-tray | grep -q 'not found' || fail "hypha-tray: $(ldd /usr/bin/hypha-tray | grep 'not found')"
  ok "autostart entry is a conffile; depends on hypha, WebKitGTK, GTK, AppIndicator; every library resolves"
  grep -q "sudo usermod -aG hypha nobody" <<<"$out" || fail "no group hint: $out"
  ! getent group hypha | grep -q nobody || fail "a user was added to group hypha"
  ok "install prints how to join group hypha and modifies no user"
  ! dpkg -r hypha >/dev/null 2>&1 || fail "hypha removed while hypha-tray needs it"
  ok "hypha cannot be removed under hypha-tray"
fi

dpkg -i "${DEBS[@]}" >/dev/null
start
[ "$(hypha status --json | jq -r .nodeId)" = "$ID" ] || fail "identity changed on upgrade"
ok "upgrade over itself keeps the identity"
stop

PKGS=(hypha)
[ "$WITH_TRAY" = 1 ] && PKGS=(hypha-tray hypha)
dpkg -r "${PKGS[@]}" >/dev/null
[ ! -e /usr/bin/hyphad ] && [ ! -e /usr/bin/hypha-tray ] || fail "binaries left after remove"
[ -s /var/lib/hypha/key ] || fail "remove deleted the key"
if [ "$WITH_TRAY" = 1 ]; then
  grep -qx 'TryExec=hypha-tray' "$AUTOSTART" || fail "the kept autostart entry would start a missing program"
fi
ok "remove keeps the key (and the autostart conffile, inert through TryExec)"
dpkg -P "${PKGS[@]}" >/dev/null
[ ! -e /var/lib/hypha ] || fail "purge left /var/lib/hypha"
[ ! -e "$AUTOSTART" ] || fail "purge left $AUTOSTART"
ok "purge removes the key and the autostart entry"
echo "deb: $passed passed, 0 failed"
