#!/bin/sh
# Allocation-failure injection of whole commands (docs/testing.md).
#
# `nabla check --op sigmoid` and `nabla run` on a tiny experiment
# (tests/data/failalloc/tiny.conf) are run once to count the allocations
# made after main() starts (N), then N times more with the k-th allocation
# failing (k = 1..N), through the LD_PRELOAD shim tests/failalloc.c.  Every
# point is covered; none is sampled.  Each injected run must end in one of
# two ways:
#
# * exit 0 and exactly what the run without injection gives: the same
#   stdout for check; for run, the same files with the same bytes, except
#   timing.log (durations: only its line count is compared) and the
#   "started"/"ended" times of meta.json;
# * a clean error: the documented status (check: 2; run: 1, "the run
#   failed", docs/experiments.md, or 2, which main() gives when it cannot
#   even start the run), a message on stderr, and for check no
#   "ok" verdict and no summary on stdout.  For run, "no file half-written"
#   means, file by file:
#     - config.conf, config.dir and the final products (results.txt,
#       model.nbm, the plot scripts, data and PNGs): absent, or identical
#       to the reference run's;
#     - costs.csv and gradcheck.log, logs written as training goes: a
#       prefix of the reference's that ends at a line end; timing.log: no
#       more lines than the reference's;
#     - meta.json: complete (it ends with its closing brace) and not
#       claiming "finished";
#     - checkpoint.nbk (atomic): allowed, and then `nabla run --resume`
#       without injection must finish the run with exit 0 and a directory
#       identical to the reference, as above (but for timing.log, which
#       also times the epochs run again, and meta.json's
#       "resumed_from_step");
#     - nothing else: a temporary file left behind is a failure.
#   Any other exit status (134 abort, 139 segfault, ...) is a failure.
#
# Skipped in sanitizer builds (ASan's allocator is linked into the program
# and would not see the shim).  NB_SKIP_SLOW=1 (distcheck) skips the run
# sweep, which takes about a minute on two cores; the check sweep still runs.
# NB_FAILALLOC_JOBS sets how many injected runs go in parallel (default 2);
# NB_FAILALLOC_ONLY=check or =run sweeps one command only (while debugging).
set -u
build=${NB_BUILDDIR:-.}
src=${NB_SRCDIR:-.}
bin=$build/nabla
shim=$build/tests/.libs/libfailalloc.so
jobs=${NB_FAILALLOC_JOBS:-2}
if [ -n "${NB_SANITIZE:-}" ]; then
    echo "SKIP: sanitizer build ($NB_SANITIZE): the shim cannot interpose on ASan's allocator"
    exit 77
fi
if [ ! -f "$shim" ]; then
    echo "SKIP: $shim not built"
    exit 77
fi
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
case $shim in /*) ;; *) shim=$(pwd)/$shim ;; esac
conf=$(cd "$src/tests/data/failalloc" && pwd)/tiny.conf
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
# One BLAS thread: allocations happen in the same order in every run.
OPENBLAS_NUM_THREADS=1; export OPENBLAS_NUM_THREADS
NB_FAILALLOC_PROG=nabla; export NB_FAILALLOC_PROG

# injected K OUT ERR REPORT ARGS...: nabla ARGS with the K-th allocation
# failing (0: none), stdout to OUT, stderr to ERR; prints the exit status.
injected() {
    k=$1 out=$2 err=$3 rep=$4
    shift 4
    NB_FAILALLOC=$k NB_FAILALLOC_REPORT=$rep LD_PRELOAD=$shim "$bin" "$@" >"$out" 2>"$err"
    echo $?
}

# ---- nabla check --op sigmoid -------------------------------------------
check_point() {   # K: prints "K ok" or "K FAIL reason"
    k=$1 d=$tmp/check$1
    rc=$(injected "$k" "$d.out" "$d.err" "$d.rep" check --op sigmoid)
    if [ "$rc" -eq 0 ]; then
        cmp -s "$d.out" "$tmp/check.ref" && echo "$k ok" \
            || echo "$k FAIL exit 0 but stdout differs: $(diff "$tmp/check.ref" "$d.out" | sed -n 2p)"
    elif [ "$rc" -eq 2 ]; then
        if [ ! -s "$d.err" ]; then echo "$k FAIL exit 2 without a message on stderr"
        elif grep -q ' ok \|passed, 0 failed' "$d.out"; then echo "$k FAIL exit 2 but stdout says ok: $(grep ' ok \|passed, 0 failed' "$d.out" | head -n 1)"
        else echo "$k ok"; fi
    else
        echo "$k FAIL exit $rc: $(head -c 200 "$d.err" | tr '\n' ' ')"
    fi
    rm -f "$d.out" "$d.err" "$d.rep"
}

# ---- nabla run ------------------------------------------------------------
meta_core() { grep -v '"started"\|"ended"\|"resumed_from_step"' "$1"; }

same_as_ref() {   # DIR [resumed]: prints what differs from the reference run
    dir=$1 ref=$tmp/ref resumed=${2:-}
    [ -d "$dir" ] || { echo "no run directory"; return; }
    [ "$(cd "$dir" && ls)" = "$(cd "$ref" && ls)" ] \
        || { echo "files: $(cd "$dir" && ls | tr '\n' ' ')instead of $(cd "$ref" && ls | tr '\n' ' ')"; return; }
    for f in $(cd "$ref" && ls); do
        case $f in
        timing.log)   # a resumed run times the epochs it ran again
            [ -n "$resumed" ] || [ "$(wc -l <"$dir/$f")" -eq "$(wc -l <"$ref/$f")" ] || echo "$f lines" ;;
        meta.json) [ "$(meta_core "$dir/$f")" = "$(meta_core "$ref/$f")" ] || echo "$f" ;;
        *) cmp -s "$dir/$f" "$ref/$f" || echo "$f" ;;
        esac
    done
}

is_prefix() {   # FILE REF: FILE is REF's first bytes, ending at a line end
    [ -s "$1" ] || return 0
    [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ] || return 1
    cmp -s -n "$(wc -c <"$1")" "$1" "$2"
}

partial_ok() {   # DIR of a failed run: prints what is half-written
    dir=$1 ref=$tmp/ref
    [ -d "$dir" ] || return 0
    for f in $(cd "$dir" && ls -A); do
        case $f in
        costs.csv|gradcheck.log) is_prefix "$dir/$f" "$ref/$f" || echo "$f not a prefix" ;;
        timing.log) [ "$(wc -l <"$dir/$f")" -le "$(wc -l <"$ref/$f")" ] || echo "$f too long" ;;
        meta.json)
            [ "$(tail -n 1 "$dir/$f")" = "}" ] || echo "$f incomplete"
            grep -q '"status": "finished"' "$dir/$f" && echo "$f says finished" ;;
        checkpoint.nbk) ;;
        *) if [ -f "$ref/$f" ]; then cmp -s "$dir/$f" "$ref/$f" || echo "$f differs"
           else echo "$f left behind"; fi ;;
        esac
    done
}

run_point() {   # K
    k=$1 d=$tmp/run$1
    rc=$(injected "$k" "$d.out" "$d.err" "$d.rep" run "$conf" --out "$d" --quiet)
    if [ "$rc" -eq 0 ]; then
        diffs=$(same_as_ref "$d" | tr '\n' ' ')
        [ -z "$diffs" ] && echo "$k ok" || echo "$k FAIL exit 0 but differs: $diffs"
    elif [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ]; then
        bad=$(partial_ok "$d" | tr '\n' ' ')
        if [ ! -s "$d.err" ]; then echo "$k FAIL exit $rc without a message on stderr"
        elif [ -n "$bad" ]; then echo "$k FAIL half-written: $bad($(head -c 120 "$d.err" | tr '\n' ' '))"
        elif [ -f "$d/checkpoint.nbk" ]; then
            rc=$(injected 0 "$d.out" "$d.err" "$d.rep" run --resume "$d" --quiet)
            diffs=$(same_as_ref "$d" resumed | tr '\n' ' ')
            if [ "$rc" -ne 0 ]; then echo "$k FAIL resume after the failure: exit $rc: $(head -c 120 "$d.err")"
            elif [ -n "$diffs" ]; then echo "$k FAIL resume after the failure differs: $diffs"
            else echo "$k ok"; fi
        else
            echo "$k ok"
        fi
    else
        echo "$k FAIL exit $rc: $(head -c 200 "$d.err" | tr '\n' ' ')"
    fi
    rm -rf "$d" "$d.out" "$d.err" "$d.rep"
}

# sweep NAME N: runs NAME_point for k = 1..N in $jobs parallel workers.
sweep() {
    name=$1 n=$2 w=0
    while [ "$w" -lt "$jobs" ]; do
        ( k=$((w + 1)); while [ "$k" -le "$n" ]; do "${name}_point" "$k"; k=$((k + jobs)); done \
            >"$tmp/$name.res.$w" ) &
        w=$((w + 1))
    done
    wait
    cat "$tmp/$name".res.* | sort -n >"$tmp/$name.res"
}

fails=0 checks=0
report() {   # NAME N: counts and shows the outcome of a sweep
    name=$1 n=$2
    got=$(wc -l <"$tmp/$name.res")
    bad=$(grep -c ' FAIL' "$tmp/$name.res")
    [ "$got" -eq "$n" ] || { bad=$((bad + 1)); echo "FAIL: $name: $got results for $n points"; }
    checks=$((checks + n)); fails=$((fails + bad))
    if [ "$bad" -eq 0 ]; then
        echo "ok: $name: all $n allocation points fail cleanly"
    else
        echo "FAIL: $name: $bad of $n allocation points:"
        grep ' FAIL' "$tmp/$name.res" | head -n "${NB_FAILALLOC_SHOW:-25}" | sed 's/^/FAIL:   point /'
    fi
}

count() {   # REPORT: the allocations the shim counted
    c=$(cut -d' ' -f1 "$1" 2>/dev/null)
    [ -n "$c" ] && [ "$c" -gt 0 ] && echo "$c" || echo 0
}

rc=$(injected 0 "$tmp/check.ref" "$tmp/check.err" "$tmp/check.rep" check --op sigmoid)
n_check=$(count "$tmp/check.rep")
if [ "$rc" -ne 0 ] || [ "$n_check" -eq 0 ]; then
    echo "FAIL: check without injection: exit $rc, $n_check allocations counted (is the shim loaded?)"
    cat "$tmp/check.err"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "nabla check --op sigmoid: $n_check allocations after main()"
if [ "${NB_FAILALLOC_ONLY:-check}" = check ]; then
    sweep check "$n_check"
    report check "$n_check"
fi

if [ -n "${NB_SKIP_SLOW:-}" ] || [ "${NB_FAILALLOC_ONLY:-run}" != run ]; then
    echo "skip: nabla run sweep (NB_SKIP_SLOW)"
else
    rc=$(injected 0 "$tmp/run.out" "$tmp/run.err" "$tmp/run.rep" run "$conf" --out "$tmp/ref" --quiet)
    n_run=$(count "$tmp/run.rep")
    if [ "$rc" -ne 0 ] || [ "$n_run" -eq 0 ] || [ ! -f "$tmp/ref/results.txt" ]; then
        echo "FAIL: run without injection: exit $rc, $n_run allocations counted"
        cat "$tmp/run.err"
        fails=$((fails + 1)); checks=$((checks + 1))
    else
        echo "nabla run tiny.conf: $n_run allocations after main(); files: $(cd "$tmp/ref" && ls | tr '\n' ' ')"
        sweep run "$n_run"
        report run "$n_run"
    fi
fi

echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
