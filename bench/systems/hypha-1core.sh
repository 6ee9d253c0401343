# shellcheck shell=bash
# hypha sealing and opening on its main loop's thread alone (--seal-threads 0): against `hypha`
# in the same run, what sealing and opening on the other cores gives.
# shellcheck disable=SC1091
source "$HERE/systems/hypha.sh"
# shellcheck disable=SC2034  # read by hypha.sh's start_node
HYPHA_SEAL_THREADS=0
