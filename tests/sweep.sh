#!/bin/sh
# `nabla sweep` end to end: grid and random sweeps give cells.csv,
# summary.csv and band plots; every cell's costs.csv and results.txt equal
# the standalone `nabla run` of that cell with --jobs 1, --jobs 2 and
# `mpirun -n 3` alike; a sweep killed with SIGKILL and resumed ends with the
# same files; the lock refuses a second sweep; failures are recorded and
# counted in the exit status; bad axes are refused before anything runs.
set -u
bin=${NB_BUILDDIR:-.}/nabla
src=${NB_SRCDIR:-.}
base=$(cd "$src/experiments" && pwd)/moons.conf
tmp=$(mktemp -d) || exit 99
bg=""
trap '[ -n "$bg" ] && kill -9 $bg 2>/dev/null; rm -rf "$tmp"' EXIT
fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $1"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $1"; }

# Every cell of sweep directory $1 against `nabla run $1/base.conf --set ...`
# (the cell's --set options come from --dry-run of the same sweep file $2).
same_as_standalone() {   # DIR SWEEPFILE LABEL
    sdir=$1 label=$3 n=0 diff=0
    "$bin" sweep "$2" --dry-run | tail -n +2 >"$tmp/cells.txt"
    while read -r name rest; do
        eval "set -- $rest"
        rm -rf "$tmp/alone"
        "$bin" run "$sdir/base.conf" --out "$tmp/alone" --quiet "$@" || diff=$((diff + 1))
        cmp -s "$tmp/alone/costs.csv" "$sdir/runs/$name/costs.csv" || diff=$((diff + 1))
        cmp -s "$tmp/alone/results.txt" "$sdir/runs/$name/results.txt" || diff=$((diff + 1))
        n=$((n + 1))
    done <"$tmp/cells.txt"
    [ "$n" -gt 0 ] && [ "$diff" -eq 0 ] && ok "$label: $n cells byte-identical to standalone nabla run" \
        || bad "$label: $diff differences over $n cells"
}

cat >"$tmp/grid.conf" <<EOF
# lr x activation x 3 seeds on moons, short
base = $base
[train]
epochs = 120
checkpoint_every = 40
[log]
plot = false
[sweep]
optimizer.lr = 0.003, 0.03
model.activation = relu, tanh
experiment.seed = 0..2
EOF

# ---- grid, --jobs 1 -------------------------------------------------------
"$bin" sweep "$tmp/grid.conf" --out "$tmp/g1" --jobs 1 --quiet; rc=$?
[ "$rc" -eq 0 ] && ok "grid sweep --jobs 1 exits 0" || bad "grid sweep --jobs 1 exit $rc"
[ "$(grep -c ',finished,' "$tmp/g1/cells.csv")" -eq 12 ] && ok "cells.csv: 12 finished cells" || bad "cells.csv"
head -1 "$tmp/g1/cells.csv" | grep -q '^cell,optimizer.lr,model.activation,experiment.seed,status,' \
    && ok "cells.csv header names the axes" || bad "cells.csv header"
# summary: 4 groups (lr x activation) of 3 seeds each
[ "$(wc -l <"$tmp/g1/summary.csv")" -eq 5 ] && ok "summary.csv: 4 groups over the seed axis" || bad "summary.csv rows"
head -1 "$tmp/g1/summary.csv" | grep -q 'final_cost_mean,final_cost_sd,final_cost_min,final_cost_max,final_cost_n' \
    && ok "summary.csv: mean, sd, min, max, n" || bad "summary.csv header"
awk -F, 'NR > 1 && $NF != 3 { bad = 1 } END { exit bad }' "$tmp/g1/summary.csv" && ok "each group has n = 3" \
    || bad "group sizes"
# the mean of group 0 is the mean of its three cells' final costs
m=$(awk -F, 'NR > 1 && NR <= 4 { s += $7 } END { printf "%.12g", s / 3 }' "$tmp/g1/cells.csv")
g=$(awk -F, 'NR == 2 { printf "%.12g", $11 }' "$tmp/g1/summary.csv")
[ -n "$m" ] && [ "$m" = "$g" ] && ok "summary mean = mean of the cells ($g)" || bad "summary mean $g vs $m"
if command -v gnuplot >/dev/null 2>&1; then
    [ -s "$tmp/g1/plots/cost-bands.png" ] && [ -s "$tmp/g1/plots/final-train_accuracy-vs-lr.png" ] \
        && ok "band plots made" || bad "band plots"
else
    [ -f "$tmp/g1/plots/plot.txt" ] && ok "no gnuplot: plot.txt says so" || bad "plot.txt"
fi
[ "$(grep -c '^# group' "$tmp/g1/plots/cost-bands.dat")" -eq 4 ] && ok "cost bands: one block per group" \
    || bad "cost-bands.dat"
grep -q '^set logscale x' "$tmp/g1/plots/final-train_accuracy-vs-lr.gp" && bad "linear lr axis drawn on a log scale" \
    || ok "grid axis spanning 10x: linear scale"
same_as_standalone "$tmp/g1" "$tmp/grid.conf" "grid --jobs 1"
# the base config is the original one: the same as nabla run moons.conf --set ...
rm -rf "$tmp/orig"
"$bin" run "$base" --out "$tmp/orig" --quiet --set train.epochs=120 --set train.checkpoint_every=40 \
    --set log.plot=false --set optimizer.lr=0.03 --set model.activation=tanh --set experiment.seed=2
cmp -s "$tmp/orig/costs.csv" "$tmp/g1/runs/11_lr-0.03_activation-tanh_seed-2/costs.csv" \
    && ok "cell = nabla run moons.conf with the same --set values" || bad "cell vs original config"

# ---- grid, --jobs 2 -------------------------------------------------------
"$bin" sweep "$tmp/grid.conf" --out "$tmp/g2" --jobs 2 --quiet || bad "grid --jobs 2 exit status"
same=1
for d in "$tmp"/g1/runs/*; do
    cmp -s "$d/costs.csv" "$tmp/g2/runs/${d##*/}/costs.csv" || same=0
    cmp -s "$d/results.txt" "$tmp/g2/runs/${d##*/}/results.txt" || same=0
done
[ "$same" -eq 1 ] && ok "grid --jobs 2: every cell identical to --jobs 1 (so to standalone)" || bad "--jobs 2 cells differ"
cmp -s "$tmp/g1/cells.csv" "$tmp/g2/cells.csv" && cmp -s "$tmp/g1/summary.csv" "$tmp/g2/summary.csv" \
    && ok "grid --jobs 2: cells.csv and summary.csv identical" || bad "--jobs 2 csv files differ"

# ---- grid, mpirun -n 3 ----------------------------------------------------
mpi_flags="--oversubscribe"
# Under ASan (./build.sh sanitize), Open MPI's own allocations left at exit
# are not nabla's leaks: no leak report for the MPI runs.
mpi_asan="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
[ "$(id -u)" -eq 0 ] && mpi_flags="$mpi_flags --allow-run-as-root"
have_mpi=0
if ! command -v mpirun >/dev/null 2>&1; then
    echo "skip: mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev): no MPI test"
elif ! grep -q 'NB_HAVE_MPI 1' "${NB_BUILDDIR:-.}/config.h" 2>/dev/null; then
    echo "skip: this nabla was built without MPI (configure found no mpicc): no MPI test"
else
    have_mpi=1
    # shellcheck disable=SC2086
    OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_plm_rsh_agent="" ASAN_OPTIONS="$mpi_asan" \
        timeout 600 mpirun $mpi_flags -n 3 "$bin" sweep "$tmp/grid.conf" --out "$tmp/gm" >"$tmp/mpi.log" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] && grep -q 'MPI: rank 0 hands out cells to 2 worker ranks' "$tmp/mpi.log" \
        && ok "mpirun -n 3: rank 0 hands out cells to 2 workers" || { bad "mpirun -n 3 (exit $rc)"; cat "$tmp/mpi.log"; }
    same=1
    for d in "$tmp"/g1/runs/*; do
        cmp -s "$d/costs.csv" "$tmp/gm/runs/${d##*/}/costs.csv" || same=0
        cmp -s "$d/results.txt" "$tmp/gm/runs/${d##*/}/results.txt" || same=0
    done
    [ "$same" -eq 1 ] && cmp -s "$tmp/g1/cells.csv" "$tmp/gm/cells.csv" \
        && ok "mpirun -n 3: every cell and cells.csv identical to --jobs 1" || bad "MPI cells differ"
fi

# ---- random --------------------------------------------------------------
cat >"$tmp/random.conf" <<EOF
base = $base
[train]
epochs = 80
[log]
plot = false
[sweep]
method = random
samples = 3
seed = 11
optimizer.lr = loguniform(0.001, 0.1)
model.activation = choice(relu, tanh, sigmoid)
experiment.seed = 0, 1
EOF
"$bin" sweep "$tmp/random.conf" --dry-run >"$tmp/d1" && "$bin" sweep "$tmp/random.conf" --dry-run >"$tmp/d2"
cmp -s "$tmp/d1" "$tmp/d2" && [ "$(wc -l <"$tmp/d1")" -eq 7 ] && ok "random: the sweep's seed draws the same 6 cells" \
    || bad "random draws"
"$bin" sweep "$tmp/random.conf" --out "$tmp/r" --jobs 2 --quiet; rc=$?
[ "$rc" -eq 0 ] && [ "$(grep -c ',finished,' "$tmp/r/cells.csv")" -eq 6 ] && ok "random sweep: 6 finished cells" \
    || bad "random sweep (exit $rc)"
[ "$(wc -l <"$tmp/r/summary.csv")" -eq 4 ] && ok "random summary: 3 samples grouped over 2 seeds" || bad "random summary"
grep -q '^set logscale x' "$tmp/r/plots/final-train_accuracy-vs-lr.gp" && ok "loguniform axis plotted on a log scale" \
    || bad "loguniform axis scale"
if command -v gnuplot >/dev/null 2>&1; then
    [ -s "$tmp/r/plots/cost-bands.png" ] && ok "random: band plot made" || bad "random band plot"
fi
same_as_standalone "$tmp/r" "$tmp/random.conf" "random --jobs 2"

# ---- SIGKILL mid-way, the lock, --resume ----------------------------------
cat >"$tmp/long.conf" <<EOF
base = $base
[train]
epochs = 3000
checkpoint_every = 300
[log]
plot = false
[sweep]
optimizer.lr = 0.003, 0.01
experiment.seed = 0..2
EOF
"$bin" sweep "$tmp/long.conf" --out "$tmp/ref" --jobs 2 --quiet || bad "uninterrupted sweep"
"$bin" sweep "$tmp/long.conf" --out "$tmp/cut" --jobs 2 --quiet &
bg=$!
i=0
while ! ls "$tmp"/cut/runs/*/checkpoint.nbk >/dev/null 2>&1 && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
"$bin" sweep --resume "$tmp/cut" --quiet 2>"$tmp/lockerr"; rc=$?
[ "$rc" -eq 2 ] && grep -q 'in use by another nabla sweep' "$tmp/lockerr" \
    && ok "the lock refuses a second sweep on the directory" || bad "lock (exit $rc: $(cat "$tmp/lockerr"))"
kill -9 "$bg" 2>/dev/null
wait "$bg" 2>/dev/null
bg=""
left=$(grep -c -v ',finished,' "$tmp/cut/cells.csv")
ls "$tmp"/cut/runs/*/checkpoint.nbk >/dev/null 2>&1 && ok "killed mid-way (unfinished cells with checkpoints)" \
    || bad "the sweep finished before it could be killed"
"$bin" sweep --resume "$tmp/cut" --jobs 2 --quiet && ok "resume exits 0" || bad "resume"
same=1
for f in cells.csv summary.csv plots/cost-bands.dat plots/final-train_accuracy-vs-lr.dat; do
    cmp -s "$tmp/ref/$f" "$tmp/cut/$f" || { same=0; echo "differs: $f"; }
done
for d in "$tmp"/ref/runs/*; do
    for f in costs.csv results.txt model.nbm; do
        cmp -s "$d/$f" "$tmp/cut/runs/${d##*/}/$f" || { same=0; echo "differs: ${d##*/}/$f"; }
    done
    # config.conf names the base file it came from: the same but for the directory
    sed "s#$tmp/ref/#DIR/#g" "$d/config.conf" >"$tmp/c1"
    sed "s#$tmp/cut/#DIR/#g" "$tmp/cut/runs/${d##*/}/config.conf" >"$tmp/c2"
    cmp -s "$tmp/c1" "$tmp/c2" || { same=0; echo "differs: ${d##*/}/config.conf"; }
done
[ "$same" -eq 1 ] && ok "killed + resumed sweep ends identical to the uninterrupted one ($left rows were unfinished)" \
    || bad "resumed sweep differs"
"$bin" sweep "$tmp/long.conf" --out "$tmp/cut" --quiet 2>"$tmp/err"; rc=$?
[ "$rc" -eq 2 ] && grep -q 'already holds a sweep' "$tmp/err" && ok "a new sweep into a used directory is refused" \
    || bad "new sweep over an old one (exit $rc)"

# ---- SIGKILL of one worker process: its cell runs again from its checkpoint --
"$bin" sweep "$tmp/long.conf" --out "$tmp/kw" --jobs 2 >"$tmp/kw.log" 2>&1 &
bg=$!
i=0
while ! ls "$tmp"/kw/runs/*/checkpoint.nbk >/dev/null 2>&1 && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
kid=$(pgrep -P "$bg" | head -n 1)
[ -n "$kid" ] && kill -9 "$kid"
wait "$bg"; rc=$?
bg=""
same=1
for d in "$tmp"/ref/runs/*; do cmp -s "$d/costs.csv" "$tmp/kw/runs/${d##*/}/costs.csv" || same=0; done
[ "$rc" -eq 0 ] && [ -n "$kid" ] && grep -q 'killed by signal 9; running it again from its checkpoint' "$tmp/kw.log" \
    && [ "$same" -eq 1 ] && cmp -s "$tmp/ref/cells.csv" "$tmp/kw/cells.csv" \
    && ok "a killed worker's cell reruns from its checkpoint; the sweep ends identical" \
    || { bad "killed worker (exit $rc)"; cat "$tmp/kw.log"; }

# ---- SIGKILL of an MPI worker rank: mpirun ends the job; --resume finishes it --
if [ "$have_mpi" -eq 1 ]; then
    # shellcheck disable=SC2086
    OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_plm_rsh_agent="" ASAN_OPTIONS="$mpi_asan" \
        timeout 600 mpirun $mpi_flags -n 3 "$bin" sweep "$tmp/long.conf" --out "$tmp/mk" --quiet >"$tmp/mk.log" 2>&1 &
    bg=$!
    i=0
    while ! ls "$tmp"/mk/runs/*/checkpoint.nbk >/dev/null 2>&1 && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
    killed=""
    launcher=$(pgrep -P "$bg" -x mpirun | head -n 1)   # bg is timeout; its child mpirun
    for r in $(pgrep -P "${launcher:-0}"); do   # the ranks; a worker running a cell has a child
        pgrep -P "$r" >/dev/null 2>&1 && { kill -9 "$r"; killed=$r; break; }
    done
    wait "$bg"; rc=$?
    bg=""
    "$bin" sweep --resume "$tmp/mk" --jobs 2 --quiet; rc2=$?
    same=1
    for d in "$tmp"/ref/runs/*; do cmp -s "$d/costs.csv" "$tmp/mk/runs/${d##*/}/costs.csv" || same=0; done
    [ -n "$killed" ] && [ "$rc" -ne 0 ] && [ "$rc2" -eq 0 ] && [ "$same" -eq 1 ] && cmp -s "$tmp/ref/cells.csv" "$tmp/mk/cells.csv" \
        && ok "SIGKILL of an MPI rank ends the job; --resume ends identical" \
        || { bad "killed rank (killed '$killed', mpirun exit $rc, resume exit $rc2)"; cat "$tmp/mk.log"; }
fi

# ---- failures -------------------------------------------------------------
cat >"$tmp/fail.conf" <<EOF
base = $base
[train]
epochs = 60
[log]
plot = false
[sweep]
optimizer.lr = 0.01, 1e6
model.layers = "2, 3, 2", "2, 3, 1"
EOF
"$bin" sweep "$tmp/fail.conf" --out "$tmp/f" --jobs 2 --quiet; rc=$?
[ "$rc" -eq 13 ] && ok "exit status 13 = 10 + three failed cells" || bad "failure exit status $rc"
grep -q '^2_lr-1e6_layers-2-3-2,1e6,"2, 3, 2",diverged,.*non-finite' "$tmp/f/cells.csv" \
    && ok "diverged cell recorded with its message" || bad "diverged cell"
grep -q '^1_lr-0.01_layers-2-3-1,.*,failed,.*softmax_ce needs an output width' "$tmp/f/cells.csv" \
    && ok "failed cell recorded with its message" || bad "failed cell"
grep -q ',finished,' "$tmp/f/cells.csv" && ok "the sweep went on past failures" || bad "no finished cell"

# ---- bad axes: refused before anything runs --------------------------------
check_bad() {   # AXIS-LINE EXPECTED-MESSAGE
    printf 'base = %s\n[sweep]\n%s\n' "$base" "$1" >"$tmp/bad.conf"
    rm -rf "$tmp/b"
    "$bin" sweep "$tmp/bad.conf" --out "$tmp/b" 2>"$tmp/err"; rc=$?
    if [ "$rc" -eq 2 ] && grep -qF "$2" "$tmp/err" && [ ! -e "$tmp/b" ]; then ok "refused: $1"
    else bad "bad axis '$1' (exit $rc: $(cat "$tmp/err"))"; fi
}
check_bad "optimiser.lr = 0.1" "bad.conf:3: unknown key 'optimiser.lr' (did you mean 'optimizer.lr'?)"
check_bad "optimizer.lr = 0.1, 0" "bad.conf:3: key 'optimizer.lr': 0 must be greater than 0"
check_bad "experiment.seed = 5..3" "bad.conf:3: axis 'experiment.seed': range 5..3 is empty"
check_bad "model.activation = relu, relu6" "bad.conf:3: key 'model.activation': 'relu6' is not a unary op"
check_bad "optimizer.lr = uniform(0.1, 1)" "set method = random"
check_bad "optimizer.lr =" "bad.conf:3: axis 'optimizer.lr': no value"

echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
