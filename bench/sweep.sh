#!/bin/sh
# bench/sweep.sh — sweep throughput: a fixed sweep of 16 short moons cells
# (4 learning rates x 4 seeds, 60,000 full-batch steps each, about 2 s), run with
# `--jobs 1`, `--jobs 2` and `mpirun -n 3` (rank 0 hands out cells, two
# worker ranks run them), in cells per minute.  Each configuration runs
# NB_BENCH_SWEEP_ROUNDS times (default 2), interleaved, and the fastest run
# counts, so a burst of load from elsewhere hits one run, not the ratio.
#
#     make bench                      (run.sh calls this at its end)
#     NB_BENCH_NABLA=BUILDDIR/nabla sh bench/sweep.sh
#
# Targets (docs/sweeps.md): --jobs 2 >= 1.8x --jobs 1 on 2 cores; MPI with
# two workers within 10% of --jobs 2.
set -u
here=$(cd "$(dirname "$0")" && pwd)
nabla=${NB_BENCH_NABLA:-$(pwd)/nabla}
rounds=${NB_BENCH_SWEEP_ROUNDS:-2}
epochs=${NB_BENCH_SWEEP_EPOCHS:-60000}
[ "${NB_BENCH_QUICK:-0}" = 1 ] && rounds=1 epochs=2000
if [ ! -x "$nabla" ]; then
    echo "sweep.sh: $nabla not found (build nabla, or set NB_BENCH_NABLA)" >&2
    exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/nabla-sweep-bench.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT INT TERM
cat >"$work/bench.conf" <<EOF
# the bench sweep: 16 cells of the Britz moons network
base = $here/../experiments/moons.conf
[train]
epochs = $epochs
checkpoint_every = 10000
[log]
every = 100
plot = false
[sweep]
optimizer.lr = 0.002, 0.005, 0.01, 0.02
experiment.seed = 0..3
EOF

now() { date +%s.%N; }
have_mpi=0
if command -v mpirun >/dev/null 2>&1 && "$nabla" sweep --help >/dev/null 2>&1; then
    cfg=$(dirname "$nabla")/config.h
    grep -q 'NB_HAVE_MPI 1' "$cfg" 2>/dev/null && have_mpi=1
fi
mpi_flags="--oversubscribe"
[ "$(id -u)" -eq 0 ] && mpi_flags="$mpi_flags --allow-run-as-root"

# CPU seconds of each run (the sweep and every process under it), when GNU
# time is there: the work must not grow with the number of workers, so the
# wall-clock speed-up is what the cores allow.
timer=""
[ -x /usr/bin/time ] && timer="/usr/bin/time -f %U+%S -o $work/cpu"
best_j1="" best_j2="" best_mpi="" cpu_j1="" cpu_j2="" cpu_mpi=""
better() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
load0=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
echo "sweep bench: 16 moons cells of $epochs steps, $rounds round(s) of --jobs 1, --jobs 2, mpirun -n 3 (load average $load0)" >&2
r=1
while [ "$r" -le "$rounds" ]; do
    for how in j1 j2 mpi; do
        out="$work/$how-$r"
        t0=$(now)
        case $how in
        j1) $timer "$nabla" sweep "$work/bench.conf" --out "$out" --jobs 1 --quiet ;;
        j2) $timer "$nabla" sweep "$work/bench.conf" --out "$out" --jobs 2 --quiet ;;
        mpi)
            [ "$have_mpi" -eq 1 ] || continue
            # shellcheck disable=SC2086
            OMPI_MCA_btl_vader_single_copy_mechanism=none $timer mpirun $mpi_flags -n 3 \
                "$nabla" sweep "$work/bench.conf" --out "$out" --quiet ;;
        esac
        st=$?
        t=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
        if [ "$st" -ne 0 ]; then
            echo "  $how round $r: FAILED (exit $st)" >&2
            continue
        fi
        cpu=""
        [ -n "$timer" ] && [ -s "$work/cpu" ] && cpu=$(awk '{ split($0, a, "+"); printf "%.2f", a[1] + a[2] }' "$work/cpu")
        printf '  %-4s round %d: %6.2f s%s\n' "$how" "$r" "$t" "${cpu:+ (CPU $cpu s)}" >&2
        case $how in
        j1) best_j1=$(better "$best_j1" "$t"); cpu_j1=$(better "$cpu_j1" "$cpu") ;;
        j2) best_j2=$(better "$best_j2" "$t"); cpu_j2=$(better "$cpu_j2" "$cpu") ;;
        mpi) best_mpi=$(better "$best_mpi" "$t"); cpu_mpi=$(better "$cpu_mpi" "$cpu") ;;
        esac
    done
    r=$((r + 1))
done

# the cells are the same whichever way they ran
same=1
for d in "$work"/j1-1/runs/*; do
    for o in "$work"/j2-1 "$work"/mpi-1; do
        [ -d "$o" ] || continue
        cmp -s "$d/costs.csv" "$o/runs/${d##*/}/costs.csv" || same=0
    done
done

load1=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
awk -v c1="$cpu_j1" -v c2="$cpu_j2" -v cm="$cpu_mpi" -v load0="$load0" -v load1="$load1" -v j1="$best_j1" -v j2="$best_j2" -v mpi="$best_mpi" -v same="$same" -v ncpu="$(nproc 2>/dev/null || echo 0)" '
function cpm(t) { return t > 0 ? 16 * 60 / t : 0 }
function mark(ok) { return ok == 1 ? "[holds]  " : (ok == 0 ? "[misses] " : "[n/a]    ") }
BEGIN {
    print ""
    print "6. sweeps: 16 moons cells (nabla sweep), fastest of the rounds"
    printf "sweep --jobs 1      %6.1f cells/min (%.2f s)\n", cpm(j1), j1
    printf "sweep --jobs 2      %6.1f cells/min (%.2f s)   speed-up over --jobs 1: %.2fx\n", cpm(j2), j2, j1 / j2
    if (mpi != "") printf "sweep mpirun -n 3   %6.1f cells/min (%.2f s)   MPI (2 workers) / --jobs 2: %.2f\n", cpm(mpi), mpi, j2 / mpi
    else print "sweep mpirun -n 3   n/a (no mpirun, or nabla built without MPI)"
    printf "  every cell costs.csv identical across --jobs 1, --jobs 2 and MPI: %s\n", same ? "yes" : "NO"
    if (c1 != "" && c2 != "")
        printf "  CPU time of the whole sweep (least of the rounds): --jobs 1 %.1f s, --jobs 2 %.1f s, MPI %s s\n", c1, c2, cm != "" ? cm : "n/a"
    if (load0 + 0 > 0.5 || load1 + 0 > 2.5)
        printf "  WARNING: the machine was busy (load average %s at start, %s at end): the speed-ups are\n  those of a shared machine, not of idle cores\n", load0, load1
    print ""
    print "== sweep targets =="
    ok = (j1 > 0 && j2 > 0) ? (j1 / j2 >= 1.8) : -1
    printf "%s--jobs 2 >= 1.8x --jobs 1 (%d cores): %.2fx\n", mark(ok), ncpu, (j2 > 0) ? j1 / j2 : 0
    ok = (mpi != "" && j2 > 0) ? (mpi <= 1.10 * j2) : -1
    printf "%sMPI with two workers within 10%% of --jobs 2: %s\n", mark(ok), mpi != "" ? sprintf("%.2f", j2 / mpi) : "n/a"
}'
[ "$same" -eq 1 ]
