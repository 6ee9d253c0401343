#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation on the stable toolchain
# (the flags `cargo fuzz` passes, minus the nightly-only sanitizer) and runs each for a while.
#
#   service/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# FUZZ_BUILD_ONLY=1 builds the targets and runs none.
#
# Default: 20 s per target, every target: the smoke run the test command does. The corpora
# in service/fuzz/corpus/<target> are read, never written: new inputs go to a scratch
# directory (FUZZ_WORK, default /tmp/hypha-fuzz) so a run leaves the checkout clean. To grow
# the checked-in corpora after a long run: FUZZ_MERGE=1 service/fuzz/run.sh 3600
# Exits non-zero, keeping the crashing input, if any target finds a crash.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
secs="${1:-20}"
shift || true
all=(wire node bus ipc socks dns gather)
targets=("${@:-${all[@]}}")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
host="$(rustc -vV | sed -n 's/^host: //p')"
# Instrumented builds must not mix with normal ones: a target dir of their own.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$here/../../target}/fuzz}"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# --target keeps the flags off build scripts and proc macros (they run on the host).
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo build --locked --release --manifest-path "$here/Cargo.toml" --target "$host" "${bins[@]}"
# FUZZ_BUILD_ONLY=1: build and stop (the test command builds while other steps run).
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0
work="${FUZZ_WORK:-/tmp/hypha-fuzz}"
status=0
for t in "${targets[@]}"; do
    mkdir -p "$work/$t" "$work/crashes/$t" "$here/corpus/$t"
    bin="$CARGO_TARGET_DIR/$host/release/$t"
    log="$work/$t.log"
    if "$bin" -max_total_time="$secs" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$work/crashes/$t/" \
        "$work/$t" "$here/corpus/$t" >"$log" 2>&1; then
        runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
        cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1)"
        echo "fuzz $t: ${secs} s, ${runs:-?} executions, ${cov:-cov: ?}, no crash"
    else
        echo "fuzz $t: CRASH; input in $work/crashes/$t/" >&2
        tail -40 "$log" >&2
        status=1
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        "$bin" -merge=1 "$here/corpus/$t" "$work/$t" >/dev/null 2>&1
    fi
done
exit $status
