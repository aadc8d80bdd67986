#!/usr/bin/env bash
# Build and run timref's libFuzzer targets (csrc/fuzz).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Each target runs for SECONDS (default 10), two at a time (FUZZ_JOBS), on a
# scratch corpus in build/fuzz/work/<target> seeded from csrc/fuzz/corpus/<target>
# (the seeds are read, never written).  A crash, leak, sanitizer report, hang
# or contract violation fails the run; its input is saved as
# build/fuzz/artifacts/<target>-crash-* (replay: build/fuzz/fuzz/fuzz_<target> FILE).
# Executions per target go to build/fuzz/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-10}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(get_profile modify_profile get_status set_status subscribe_status unsubscribe_status
             subscribe_info unsubscribe_info admin init usersig)
fi
jobs=${FUZZ_JOBS:-2}
B=$PWD/build/fuzz
SEEDS=$PWD/csrc/fuzz/corpus

if [ ! -f $B/CMakeCache.txt ]; then
    CC=clang CXX=clang++ cmake -S csrc -B $B -DTIMREF_FUZZ=ON -DTIMREF_BUILD_TESTS=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build $B --target fuzz_all -j"$jobs" >/dev/null

mkdir -p $B/work $B/artifacts $B/logs
run_one() {
    local t=$1 secs=$2 B=$3 SEEDS=$4
    mkdir -p "$B/work/$t"
    local rc=0
    # -timeout: one input running longer than 60 s is a hang; -rss_limit_mb bounds memory.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$B/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=60 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$B/artifacts/$t-" \
        "$B/work/$t" "$SEEDS/$t" >"$B/logs/$t.log" 2>&1 || rc=$?
    local runs
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$B/logs/$t.log" | grep -o '[0-9]*$' || echo "?")
    if [ $rc -eq 0 ]; then
        echo "$t ok runs=$runs secs=$secs"
    else
        echo "$t FAILED rc=$rc runs=$runs (log: $B/logs/$t.log)"
        grep -E 'ERROR|contract violation|SUMMARY|artifact' "$B/logs/$t.log" | head -5 | sed 's/^/    /'
    fi
}
export -f run_one
start=$(date +%s)
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "$secs" "$B" "$SEEDS" | tee $B/summary.txt
echo "fuzz: ${#targets[@]} targets, ${secs}s each, $(( $(date +%s) - start ))s wall" | tee -a $B/summary.txt
! grep -q FAILED $B/summary.txt
