# shellcheck shell=bash
# hypha with a 1280-byte TUN MTU (the IPv6 minimum, which every path carries; the default
# before 1374).
# shellcheck disable=SC1091
source "$HERE/systems/hypha.sh"
# shellcheck disable=SC2034  # read by hypha.sh's start_node
HYPHA_MTU=1280
