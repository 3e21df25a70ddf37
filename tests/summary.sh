#!/bin/sh
# Prints every suite's Check summary (automake hides them in tests/*.log)
# and a final "N passed, N failed, N skipped" line.  Exit status 1 when
# anything failed or no test ran.
# usage: tests/summary.sh BUILD_TESTS_DIR
dir=${1:-tests}
passed=0 failed=0 skipped=0 seen=0
for trs in "$dir"/*.trs; do
    [ -f "$trs" ] || continue
    seen=1
    log=${trs%.trs}.log
    name=$(basename "${trs%.trs}")
    result=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
    line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" 2>/dev/null | tail -n 1)
    if [ -n "$line" ]; then
        checks=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
        fails=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
        errs=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
        printf '%-28s %s\n' "$name:" "$line"
        passed=$((passed + checks - fails - errs))
        failed=$((failed + fails + errs))
        # A suite that crashed after its summary, or failed outside Check.
        if [ "$result" = FAIL ] && [ $((fails + errs)) -eq 0 ]; then failed=$((failed + 1)); fi
        # The ops the registry test checked (tests/test_ops.c prints one
        # line per op that passed), so a newly added op is seen checked.
        ops=$(sed -n 's/^op checked: //p' "$log" 2>/dev/null | sort -u)
        if [ -n "$ops" ]; then
            printf '    ops checked: %s (%s)\n' "$(echo "$ops" | wc -l)" "$(echo $ops)"
        fi
        # Show what failed.
        if [ $((fails + errs)) -gt 0 ]; then
            grep -E ':[EF]:' "$log" | head -n 20 | sed 's/^/    /'
        fi
    elif line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" 2>/dev/null | tail -n 1) && [ -n "$line" ]; then
        # shell suites print their own "N passed, N failed" line
        p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
        f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
        printf '%-28s %s\n' "$name:" "$line"
        passed=$((passed + p))
        failed=$((failed + f))
        if [ "$result" = FAIL ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
        [ "$f" -gt 0 ] && grep -E '^FAIL' "$log" | head -n 20 | sed 's/^/    /'
    else
        case "$result" in
        PASS) passed=$((passed + 1)); printf '%-28s %s\n' "$name:" "pass" ;;
        SKIP) skipped=$((skipped + 1)); printf '%-28s %s\n' "$name:" "skipped: $(grep -m1 -i 'skip' "$log" 2>/dev/null)" ;;
        *) failed=$((failed + 1)); printf '%-28s %s\n' "$name:" "FAIL"; tail -n 20 "$log" 2>/dev/null | sed 's/^/    /' ;;
        esac
    fi
done
if [ "$seen" = 0 ]; then
    echo "no test results found under $dir"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
