# shellcheck shell=bash
# hypha with a 16000-byte TUN MTU: the link sockets never fragment, so path MTU probing finds
# what the veths carry (1394) and larger packets get a packet-too-big.
# shellcheck disable=SC1091
source "$HERE/systems/hypha.sh"
# shellcheck disable=SC2034  # read by hypha.sh's start_node
HYPHA_MTU=16000
