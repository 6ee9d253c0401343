# shellcheck shell=bash
# hypha with a 1394-byte TUN MTU: the largest whose datagrams (78 bytes of overlay headers,
# 28 of IPv4 and UDP) fit a 1500-byte underlay without fragments.
# shellcheck disable=SC1091
source "$HERE/systems/hypha.sh"
# shellcheck disable=SC2034  # read by hypha.sh's start_node
HYPHA_MTU=1394
