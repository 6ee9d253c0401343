# hypha with a 16000-byte TUN MTU: the kernel fragments the UDP datagrams on the veth (fine on a
# LAN; across the internet fragments may be dropped).
# shellcheck disable=SC1091
source "$HERE/systems/hypha.sh"
HYPHA_MTU=16000
