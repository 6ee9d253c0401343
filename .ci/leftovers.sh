#!/usr/bin/env bash
# Finds processes and network namespaces that the test command started and left behind.
#   leftovers.sh snapshot FILE   record what runs now (before the tests)
#   leftovers.sh check FILE      fail, naming each one, if a watched process or a network
#                                namespace exists now that FILE did not record
#   leftovers.sh selftest        plant a leftover and make sure `check` catches it
# Watched: the programs the tests start (by their kernel name, so a renamed argv does not hide
# one; programs under Wine by their .exe name), anything running as user hypha, and anything
# whose binary has been deleted (a purged package's daemon).
set -euo pipefail

NAMES='^(hyphad|hypha|hypha-tray|tauri-driver|WebKitWebDriver|Xvfb|iperf3|dbus-daemon|trayer|wineserver|wineserver64|.*\.exe)$'

# One line per watched process: "pid comm user exe".
watched() {
  local d pid comm user exe
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" = $$ ] && continue
    comm=$(cat "$d/comm" 2>/dev/null) || continue
    # A zombie has already exited; it only waits for its new parent to reap it.
    [ "$(awk '{print $3}' "$d/stat" 2>/dev/null)" != Z ] || continue
    user=$(stat -c %U "$d" 2>/dev/null) || continue
    exe=$(readlink "$d/exe" 2>/dev/null || true)
    if [[ $comm =~ $NAMES ]] || [ "$user" = hypha ] || [[ $exe == *" (deleted)" && $exe != /memfd:* ]]; then
      printf '%s %s %s %s\n' "$pid" "$comm" "$user" "${exe:--}"
    fi
  done
}

snapshot() {
  {
    watched | awk '{print "proc " $1}'
    ip netns list 2>/dev/null | awk '{print "netns " $1}'
  } >"$1"
}

# Processes that were just told to stop get a few seconds to go.
check() {
  local _
  for _ in $(seq 10); do
    check_once "$1" 2>/dev/null && { echo "no leftover processes or network namespaces"; return 0; }
    sleep 0.5
  done
  check_once "$1"
}

check_once() {
  local before=$1 found=0 pid line ns
  while read -r line; do
    pid=${line%% *}
    grep -qx "proc $pid" "$before" && continue
    echo "leftover process: pid $line ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-160))" >&2
    found=1
  done < <(watched)
  while read -r ns; do
    [ -n "$ns" ] || continue
    grep -qx "netns $ns" "$before" && continue
    echo "leftover network namespace: $ns" >&2
    found=1
  done < <(ip netns list 2>/dev/null | awk '{print $1}')
  [ "$found" = 0 ] || { echo "the test command left the above behind" >&2; return 1; }
}

# Plants a "hyphad" (a copy of sleep, its binary then deleted, as after a purge) in a namespace
# of its own, and a stray namespace; check must name both, then pass once they are gone.
selftest() {
  local dir snap ns=hypha-leftover-selftest pid out
  dir=$(mktemp -d)
  snap="$dir/snap"
  snapshot "$snap"
  cp "$(command -v sleep)" "$dir/hyphad"
  ip netns add "$ns"
  ip netns exec "$ns" "$dir/hyphad" 300 &
  pid=$!
  sleep 0.2
  rm -f "$dir/hyphad"
  if out=$(check "$snap" 2>&1); then
    kill "$pid"; wait "$pid" 2>/dev/null || true; ip netns del "$ns"; rm -rf "$dir"
    echo "leftovers selftest: check missed a planted leftover: $out" >&2
    return 1
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  ip netns del "$ns"
  if ! grep -q "leftover process: pid $pid hyphad" <<<"$out" || ! grep -q "leftover network namespace: $ns" <<<"$out"; then
    rm -rf "$dir"; echo "leftovers selftest: check did not name the planted leftovers: $out" >&2; return 1
  fi
  check "$snap" >/dev/null || { rm -rf "$dir"; echo "leftovers selftest: check fails with nothing planted" >&2; return 1; }
  rm -rf "$dir"
  echo "leftovers selftest: a planted process and namespace are caught and named"
}

case "${1:-}" in
  snapshot) snapshot "$2" ;;
  check) check "$2" ;;
  selftest) selftest ;;
  *) echo "usage: $0 snapshot FILE | check FILE | selftest" >&2; exit 2 ;;
esac
