# shellcheck shell=bash
# hypha from another build (HYPHAD_BASE, e.g. main's), for before/after figures in one run:
#   HYPHAD_BASE=/path/to/old/hyphad sudo bench/run.sh veth hypha-base hypha
# shellcheck disable=SC1091
source "$HERE/systems/hypha.sh"
: "${HYPHAD_BASE:?set HYPHAD_BASE to the hyphad binary to compare against}"
eval "$(declare -f start_node | sed '1s/^start_node/start_node_hypha/')"
start_node() {
  HYPHAD=$HYPHAD_BASE start_node_hypha "$@"
}
