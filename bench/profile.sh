#!/bin/sh
# bench/profile.sh — where the time goes: profiles of the bench programs, as
# summarised in docs/performance.md.  Not run by `make bench`.
#
#     NB_BENCH_BIN=BUILDDIR/bench sh bench/profile.sh [train|scalar|gcdir|gccoord|all]
#
# Tool choice (docs/performance.md): when hardware counters work
# (`perf stat -e instructions true`), `perf record -g` on cycles; otherwise
# valgrind --tool=callgrind (instruction counts), collecting only inside the
# library calls of the training step so that loading the data is left out.
# When perf works with the software clock (`-e cpu-clock`, as in most VMs)
# a time-sampled profile is taken as well: instruction counts are not time
# (a vectorised dgemm retires few instructions per flop, a scalar loop many).
# Output: NB_PROFILE_DIR (default /tmp/nabla-profile), summaries on stdout.
set -u

bin=${NB_BENCH_BIN:-$(pwd)/bench}
out=${NB_PROFILE_DIR:-/tmp/nabla-profile}
what=${1:-all}
mkdir -p "$out" || exit 2
[ -x "$bin/bench_train" ] || { echo "profile.sh: no bench programs in $bin (make bench first)" >&2; exit 2; }

# The bench programs are libtool wrappers in a build tree: profile the real
# binary, with the build's libnabla on the library path.
lt=$bin/../libtool
exe() {
    if [ -x "$lt" ]; then "$lt" --mode=execute "$@"; else "$@"; fi
}

hw=0
perf stat -e instructions true > /dev/null 2>&1 &&
    ! perf stat -e instructions true 2>&1 | grep -q "not supported" && hw=1
sw=0
perf record -e cpu-clock -o "$out/probe.data" true > /dev/null 2>&1 && sw=1
rm -f "$out/probe.data"
have_vg=0
command -v valgrind > /dev/null 2>&1 && have_vg=1

# args for each program: short runs that still reach the steady state
# (callgrind runs some 50 times slower; perf gets the full-length train run).
args_of() {
    case $1 in
    train) [ "${2:-}" = long ] && echo "bench_train --epochs 3" ||
           echo "bench_train --epochs 1 --warmup 5 --steps 300" ;;
    scalar) echo "bench_scalar --variant default" ;;
    gcdir) echo "bench_gradcheck --only dir" ;;
    gccoord) [ "${2:-}" = long ] && echo "bench_gradcheck --only coord --full 1" ||
             echo "bench_gradcheck --only coord --cap 0 --stride 64" ;;
    esac
}

# Library entry points of one training step (callgrind collects inside them).
toggles="--toggle-collect=nb_graph_reset --toggle-collect=nb_input \
--toggle-collect=nb_dense_forward --toggle-collect=nb_softmax_ce \
--toggle-collect=nb_graph_zero_grad --toggle-collect=nb_backward \
--toggle-collect=nb_optim_step --toggle-collect=nb_dataset_gather"

profile_one() {
    name=$1
    set -- $(args_of "$name")
    prog=$1
    shift
    echo "== $name: $prog $* =="
    if [ $hw = 1 ]; then
        set -- $(args_of "$name" long)
        prog=$1
        shift
        OPENBLAS_NUM_THREADS=1 exe perf record -g -o "$out/$name.perf" "$bin/$prog" "$@" > /dev/null 2>&1
        perf report -i "$out/$name.perf" --no-children --sort dso,symbol -g none 2>/dev/null |
            grep '%' | head -n 25
    elif [ $have_vg = 1 ]; then
        col=""
        [ "$name" = train ] && col="--collect-atstart=no $toggles"
        # shellcheck disable=SC2086
        OPENBLAS_NUM_THREADS=1 exe valgrind --tool=callgrind $col \
            --callgrind-out-file="$out/$name.callgrind" "$bin/$prog" "$@" > /dev/null 2>&1
        echo "-- callgrind, instructions (self), top functions:"
        callgrind_annotate --auto=no "$out/$name.callgrind" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | head -n 25
        echo "-- callgrind, instructions (inclusive):"
        callgrind_annotate --auto=no --inclusive=yes "$out/$name.callgrind" 2>/dev/null |
            grep -E '^ *[0-9,]+ \(' | grep -E 'nb_|nbi_|sweep|dgemm|mem(set|cpy|move)' | head -n 20
    else
        echo "neither hardware perf counters nor valgrind: no instruction profile"
    fi
    if [ $hw = 0 ] && [ $sw = 1 ]; then
        set -- $(args_of "$name" long)
        prog=$1
        shift
        # -D: start sampling after the data is loaded (training, gradcheck).
        delay=""
        case $name in train) delay="-D 2500" ;; gc*) delay="-D 1000" ;; esac
        # shellcheck disable=SC2086
        OPENBLAS_NUM_THREADS=1 exe perf record $delay -e cpu-clock -F 4000 \
            -o "$out/$name.perf" "$bin/$prog" "$@" > /dev/null 2>&1
        echo "-- perf, cpu-clock samples (time), top functions:"
        perf report -i "$out/$name.perf" --no-children --sort dso,symbol 2>/dev/null |
            grep '%' | head -n 25
    fi
    echo
}

case $what in
all) for w in train scalar gcdir gccoord; do profile_one $w; done ;;
train|scalar|gcdir|gccoord) profile_one "$what" ;;
*) echo "usage: profile.sh [train|scalar|gcdir|gccoord|all]" >&2; exit 2 ;;
esac
