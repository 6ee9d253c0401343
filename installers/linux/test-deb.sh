#!/usr/bin/env bash
# Installs the .deb on this machine and walks it through its life: files, user/group, unit
# (systemd-analyze verify), starting hyphad the way the unit does (its user, capabilities and
# directories; inside a network namespace of its own so the host's network is untouched),
# `hypha status` over the socket, upgrade over itself (key kept), remove (key kept), purge
# (key gone). Needs root. Prints "deb: N passed, 0 failed" at the end.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "test-deb.sh needs root" >&2; exit 1; }
NS=hypha-deb-test
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { echo "FAIL - $*" >&2; exit 1; }

DEB=$(bash "$HERE/build-deb.sh" | tail -n1)
dpkg -P hypha >/dev/null 2>&1 || true
rm -rf /var/lib/hypha /run/hypha

dpkg -i "$DEB" >/dev/null
for f in /usr/bin/hyphad /usr/bin/hypha /lib/systemd/system/hyphad.service /usr/lib/sysusers.d/hypha.conf; do
  [ -e "$f" ] || fail "missing $f"
done
ok "files installed"
getent group hypha >/dev/null && getent passwd hypha >/dev/null || fail "no hypha user/group"
ok "hypha user and group"
{ systemd-analyze verify /lib/systemd/system/hyphad.service 2>&1 || true; } | { grep -v -e "^$" -e "Cannot add dependency job" || true; } | tee /tmp/hypha-verify.txt
[ ! -s /tmp/hypha-verify.txt ] || fail "systemd-analyze verify complained"
ok "unit verifies"

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
  (umask 0007; ip netns exec "$NS" setpriv --reuid=hypha --regid=hypha --init-groups \
      --inh-caps=+net_admin,+net_raw --ambient-caps=+net_admin,+net_raw $exec_line \
      >/tmp/hypha-deb-hyphad.log 2>&1) &
  PID=$!
  for _ in $(seq 50); do [ -S /run/hypha/hypha.sock ] && break; sleep 0.1; done
  [ -S /run/hypha/hypha.sock ] || { cat /tmp/hypha-deb-hyphad.log >&2; fail "no API socket"; }
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; }

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

dpkg -i "$DEB" >/dev/null
start
[ "$(hypha status --json | jq -r .nodeId)" = "$ID" ] || fail "identity changed on upgrade"
ok "upgrade over itself keeps the identity"
stop

dpkg -r hypha >/dev/null
[ ! -e /usr/bin/hyphad ] || fail "hyphad left after remove"
[ -s /var/lib/hypha/key ] || fail "remove deleted the key"
ok "remove keeps the key"
dpkg -P hypha >/dev/null
[ ! -e /var/lib/hypha ] || fail "purge left /var/lib/hypha"
ok "purge removes the key"
echo "deb: $passed passed, 0 failed"
