# Sourced by the package tests: runs a maintainer script / scriptlet as if systemd were PID 1,
# with systemctl and systemd-sysusers replaced by stubs that only record their arguments, in a
# mount namespace of its own (a tmpfs over /run holding /run/systemd/system), so the host is
# untouched. Runs the script with `sh -e`, which also proves it is `set -e` clean.
#   out=$(run_scriptlet FILE systemd|nosystemd ARGS...)   # the script's output, then the calls
# shellcheck shell=bash
run_scriptlet() {
  local file=$1 mode=$2 stubs log
  shift 2
  stubs=$(mktemp -d)
  log=$stubs/calls
  : >"$log"
  for cmd in systemctl systemd-sysusers; do
    printf '#!/bin/sh\necho "%s $*" >>%s\n' "$cmd" "$log" >"$stubs/$cmd"
    chmod 0755 "$stubs/$cmd"
  done
  STUBS=$stubs unshare -m sh -c '
    mount -t tmpfs tmpfs /run
    if [ "$1" = systemd ]; then mkdir -p /run/systemd/system; fi
    shift
    PATH="$STUBS:$PATH" sh -e "$@"' run "$mode" "$file" "$@" \
    || { echo "scriptlet $file $* failed" >&2; rm -rf "$stubs"; return 1; }
  cat "$log"
  rm -rf "$stubs"
}
