#!/bin/sh
# Runs every libFuzzer harness of fuzz/ for a fixed budget on a copy of its
# seed corpus (the seeds themselves stay untouched), with its dictionary.
#   NB_FUZZ_BIN      directory of the built harnesses (default: fuzz)
#   NB_FUZZ_TIME     seconds per harness (default 30)
#   NB_FUZZ_WORK     where the grown corpora and crash files go
#                    (default: $NB_FUZZ_BIN/work)
#   NB_FUZZ_RESULTS  when set, a NAME.log/NAME.trs pair per harness is
#                    written there, so tests/summary.sh counts the harnesses
#   NB_FUZZ_ONLY     run only these harnesses (e.g. "csv idx")
#   NB_FUZZ_RUNS     when set, a fixed number of inputs per harness instead
#                    of a time budget: with the fixed seed below the run is
#                    then the same on every machine (what CI uses, so that a
#                    CI run cannot fail on a path no other run took; the
#                    time budget stays as a cap)
#   NB_FUZZ_SEED     libFuzzer's random seed (default 2385)
# A crash, leak, timeout or out-of-memory stops that harness; the input
# that caused it is kept as $NB_FUZZ_WORK/NAME/crash-... and printed in
# hex.  Fix the bug, then copy the input into fuzz/corpus/NAME/ (and add a
# regression test to the normal suite).  Exit status 1 if any harness failed.
set -u
src=$(cd "$(dirname "$0")" && pwd)
bin=${NB_FUZZ_BIN:-fuzz}
budget=${NB_FUZZ_TIME:-30}
work=${NB_FUZZ_WORK:-$bin/work}
only=${NB_FUZZ_ONLY:-config idx csv archive}
failed=0 passed=0
for name in $only; do
    exe=$bin/fuzz_$name
    if [ ! -x "$exe" ]; then
        echo "fuzz_$name: not built ($exe); ./build.sh fuzz builds it"
        failed=$((failed + 1))
        continue
    fi
    dir=$work/$name
    mkdir -p "$dir/corpus" "$dir/artifacts"
    log=$dir/fuzz.log
    # -rss_limit_mb: a reader must not allocate gigabytes on a small file's
    # word; -timeout: nor loop.  Leak detection is on (ASan's default).
    "$exe" "$dir/corpus" "$src/corpus/$name" -dict="$src/$name.dict" \
        ${NB_FUZZ_RUNS:+-runs="$NB_FUZZ_RUNS"} -seed="${NB_FUZZ_SEED:-2385}" \
        -max_total_time="$budget" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$dir/artifacts/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1)); result=PASS
        line="fuzz_$name: ok, ${runs:-?} inputs (at most ${budget} s), corpus $(ls "$dir/corpus" | wc -l) files"
    else
        failed=$((failed + 1)); result=FAIL
        line="fuzz_$name: FAILED (exit $rc), log $log"
    fi
    echo "$line"
    if [ "$rc" -ne 0 ]; then
        grep -E 'ERROR|SUMMARY|runtime error|^message|round trip|Test unit written' "$log" | head -n 20 | sed 's/^/    /'
        for f in "$dir"/artifacts/*; do
            [ -f "$f" ] || continue
            echo "    input $f:"
            od -A d -t x1z "$f" | head -n 16 | sed 's/^/      /'
        done
    fi
    if [ -n "${NB_FUZZ_RESULTS:-}" ]; then
        mkdir -p "$NB_FUZZ_RESULTS"
        { echo "$line"; [ "$result" = PASS ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"; } \
            >"$NB_FUZZ_RESULTS/fuzz_$name.log"
        printf ':test-result: %s\n' "$result" >"$NB_FUZZ_RESULTS/fuzz_$name.trs"
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
