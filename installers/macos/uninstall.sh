#!/bin/sh
# Removes Hypha from this Mac: stops and unloads the daemon, deletes the programs, the launchd
# plist, the tray app and the package receipt. Keeps the node's identity (key, peers, bus
# database, config in /Library/Application Support/Hypha) and the hypha group unless --purge.
#   sudo /usr/local/share/hypha/uninstall.sh [--purge]
set -e
[ "$(id -u)" = 0 ] || { echo "uninstall.sh: run it with sudo" >&2; exit 1; }
LABEL=org.hypha.hyphad
launchctl bootout "system/$LABEL" 2>/dev/null || true
user=$(stat -f %Su /dev/console 2>/dev/null || true)
if [ -n "$user" ] && [ "$user" != root ]; then
  launchctl bootout "gui/$(id -u "$user")/org.hypha.tray" 2>/dev/null || true
fi
rm -f "/Library/LaunchDaemons/$LABEL.plist" /Library/LaunchAgents/org.hypha.tray.plist \
  /usr/local/bin/hyphad /usr/local/bin/hypha
rm -rf /Applications/Hypha.app /var/run/hypha
pkgutil --forget org.hypha.pkg >/dev/null 2>&1 || true
if [ "${1:-}" = --purge ]; then
  rm -rf "/Library/Application Support/Hypha" /var/log/hyphad.log
  dseditgroup -o delete hypha >/dev/null 2>&1 || true
  echo "Hypha removed, with its identity key and the hypha group."
else
  echo "Hypha removed; its identity stays in /Library/Application Support/Hypha (--purge deletes it)."
fi
rm -f /usr/local/share/hypha/uninstall.sh
rmdir /usr/local/share/hypha 2>/dev/null || true
