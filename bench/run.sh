#!/bin/sh
# bench/run.sh — nabla's performance report: every figure of
# docs/performance.md measured in one run on this machine, each printed next
# to its reference (PyTorch, NumPy, micrograd, the GEMM bound) with the
# ratio, then which targets hold.
#
#     make bench                      builds the bench programs and runs this
#     NB_BENCH_BIN=BUILDDIR/bench sh bench/run.sh
#
# Environment:
#   NB_BENCH_BIN     directory of the built bench programs (make bench sets it;
#                    default: ./bench under the current directory)
#   NB_BENCH_PYTHON  Python for the references (default /usr/bin/python3)
#   NB_BENCH_THREADS thread counts of the training figures (default "1 2")
#   NB_BENCH_EPOCHS  timed epochs per training figure, median taken (default 5)
#   NB_BENCH_GC_CAP  seconds the full per-coordinate check may take before it
#                    is extrapolated from a subset instead (default 120)
#   NB_BENCH_GC_REPS runs of the per-coordinate check on 1 and on 2 threads,
#                    and of the pair of 1-thread checks in two processes (the
#                    machine's own 2-core speed-up), median taken (default 9)
#   NB_BENCH_GC_WIDTHS widths H of the gradcheck width table, MLP 784-H-10
#                    (default 32,128,512,2048)
#   NB_BENCH_QUICK   1: one timed epoch, no PyTorch full gradcheck, widths 32
#                    and 128 only (a smoke test of the script, not a
#                    measurement)
#   NB_BENCH_OUT     file to keep the raw "key value" results in
#
# Threads: nabla's only threads are OpenBLAS's, set through
# OPENBLAS_NUM_THREADS in the environment of each program; NumPy gets the
# same; PyTorch gets torch.set_num_threads(T) plus OMP_NUM_THREADS=T.
# Gradient checks run on one thread, except the figure of opts.threads = 2
# (pthreads of the checker's own, OpenBLAS still on one).  Every program runs in its own process,
# so each peak RSS (getrusage ru_maxrss) is that program's alone.
set -u

here=$(cd "$(dirname "$0")" && pwd)
bin=${NB_BENCH_BIN:-$(pwd)/bench}
py=${NB_BENCH_PYTHON:-/usr/bin/python3}
threads=${NB_BENCH_THREADS:-1 2}
epochs=${NB_BENCH_EPOCHS:-5}
quick=${NB_BENCH_QUICK:-0}
[ "$quick" = 1 ] && epochs=1

for p in bench_train bench_gemm bench_gradcheck bench_scalar; do
    if [ ! -x "$bin/$p" ]; then
        echo "run.sh: $bin/$p not found; run 'make bench' in the build directory" \
             "(or set NB_BENCH_BIN)" >&2
        exit 2
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/nabla-bench.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT INT TERM
res=$work/results
: > "$res"
failed=0

loadavg() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?"; }

# "busy total steal" jiffies of all CPUs (/proc/stat), to tell afterwards
# how many CPUs were busy during a measurement (more than the program's
# threads means another process competed with it) and how much time the
# hypervisor took away (steal).
cpustat() {
    awk '/^cpu / { b = $2 + $3 + $4 + $7 + $8; print b, b + $5 + $6 + $9, $9; exit }' /proc/stat 2>/dev/null ||
        echo "0 0 0"
}
ncpu=$(nproc 2>/dev/null || echo 1)

# run PREFIX THREADS COMMAND...: runs COMMAND with THREADS BLAS/OpenMP
# threads; its "RESULT key value" lines go to the results as PREFIX.key;
# exit 77 records PREFIX.skipped with the program's SKIP reason.
run() {
    prefix=$1 t=$2
    shift 2
    printf '  %-34s' "$prefix" >&2
    start=$(date +%s)
    c0=$(cpustat)
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t \
        "$@" > "$work/out" 2> "$work/err"
    st=$?
    c1=$(cpustat)
    sed -n "s/^RESULT \([^ ]*\) \(.*\)$/$prefix.\1 \2/p" "$work/out" >> "$res"
    echo "$c0 $c1" | awk -v p="$prefix" -v n="$ncpu" -v t="$t" \
        '$5 > $2 { printf "%s.cpus_busy %.2f\n%s.steal %.3f\n%s.threads %d\n", p, n * ($4 - $1) / ($5 - $2), p, ($6 - $3) / ($5 - $2), p, t }' >> "$res"
    if [ $st -eq 77 ]; then
        why=$(sed -n 's/^SKIP //p' "$work/out" | head -n 1)
        echo "$prefix.skipped ${why:-skipped}" >> "$res"
        echo "skipped: ${why:-exit 77}" >&2
    elif [ $st -ne 0 ]; then
        echo "FAILED (exit $st):" >&2
        sed 's/^/      /' "$work/err" >&2
        echo "$prefix.failed $st" >> "$res"
        failed=1
    else
        echo "$(( $(date +%s) - start )) s" >&2
    fi
}

# Python references: skipped with a message when the interpreter is absent.
runpy() {
    prefix=$1 t=$2
    shift 2
    if [ ! -x "$py" ] && ! command -v "$py" > /dev/null 2>&1; then
        printf '  %-34sskipped: no Python at %s\n' "$prefix" "$py" >&2
        echo "$prefix.skipped no Python interpreter at $py" >> "$res"
        return
    fi
    run "$prefix" "$t" "$py" "$@"
}

t_start=$(date +%s)
load_start=$(loadavg)
echo "nabla bench: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'), $(nproc 2>/dev/null || echo '?') cores, load average $load_start" >&2
echo "running (each line is one process):" >&2

for t in $threads; do
    run "gemm.c.$t" "$t" "$bin/bench_gemm"
    runpy "gemm.numpy.$t" "$t" "$here/ref_numpy.py" bound --epochs 5
    run "train.nabla.$t" "$t" "$bin/bench_train" --epochs "$epochs"
    run "train.handc.$t" "$t" "$bin/bench_train" --epochs "$epochs" --handwritten 1
    runpy "train.torch.$t" "$t" "$here/ref_torch.py" train --threads "$t" --epochs "$epochs"
    # OpenMP's threads spin while they wait (OMP_WAIT_POLICY=ACTIVE is
    # libgomp's default for a while), competing with OpenBLAS's own threads;
    # a user who sees that sets PASSIVE, so both are reported.
    if [ "$t" -gt 1 ] && command -v "$py" > /dev/null 2>&1; then
        run "train.torch_passive.$t" "$t" env OMP_WAIT_POLICY=PASSIVE "$py" "$here/ref_torch.py" train \
            --threads "$t" --epochs "$epochs"
    fi
    runpy "train.torch32.$t" "$t" "$here/ref_torch.py" train --threads "$t" --epochs "$epochs" --dtype float32
    runpy "train.numpy.$t" "$t" "$here/ref_numpy.py" train --epochs "$epochs"
done
t1=$(echo "$threads" | cut -d' ' -f1)
run "train.nabla_nocheck.$t1" "$t1" "$bin/bench_train" --epochs "$epochs" --check-finite 0
if [ "$quick" = 1 ]; then
    run "gc.nabla" 1 "$bin/bench_gradcheck" --cap 0 --reps 1 --widths 32,128
    echo "gc.torch.skipped NB_BENCH_QUICK=1" >> "$res"
else
    NB_BENCH_GC_CAP=${NB_BENCH_GC_CAP:-120}
    export NB_BENCH_GC_CAP
    run "gc.nabla" 1 "$bin/bench_gradcheck" --reps "${NB_BENCH_GC_REPS:-9}" \
        --widths "${NB_BENCH_GC_WIDTHS:-32,128,512,2048}"
    runpy "gc.torch" 1 "$here/ref_torch.py" gradcheck --threads 1
fi
run "scalar.nabla" 1 "$bin/bench_scalar"
runpy "scalar.micrograd" 1 "$here/micrograd.py"

load_end=$(loadavg)
elapsed=$(( $(date +%s) - t_start ))
[ -n "${NB_BENCH_OUT:-}" ] && cp "$res" "$NB_BENCH_OUT"

# ---- the report -----------------------------------------------------------
awk -v threads="$threads" -v load0="$load_start" -v load1="$load_end" \
    -v elapsed="$elapsed" -v quick="$quick" -v ncores="$(nproc 2>/dev/null || echo 0)" '
function has(k) { return (k in V) }
function v(k) { return (k in V) ? V[k] + 0 : -1 }
# 12345.6 -> "12,346"
function commas(x,    s, neg, out) {
    if (x < 0) { neg = 1; x = -x }
    s = sprintf("%.0f", x); out = ""
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    return (neg ? "-" : "") s out
}
function secs(x) { return x < 1 ? sprintf("%.3f s", x) : sprintf("%.1f s", x) }
function mib(kib) { return sprintf("%.0f MiB", kib / 1024) }
function ratio(a, b) { return (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "n/a" }
function why(p) { return has(p ".skipped") ? "n/a (" V[p ".skipped"] ")" : "n/a" }
# "pytorch 72,000" or "pytorch n/a (reason)"
function fig(name, p, k) { return has(p "." k) ? name " " commas(v(p "." k)) : name " " why(p) }
function mark(ok) { return ok == 1 ? "[holds]  " : (ok == 0 ? "[misses] " : "[n/a]    ") }
{ k = $1; $1 = ""; sub(/^ /, ""); V[k] = $0 }
END {
    n = split(threads, T, " ")
    print ""
    print "== nabla performance report =="
    printf "machine: %d cores; load average %s at start, %s at end; %d s in all%s\n", ncores, load0, load1, elapsed, quick == 1 ? "; QUICK MODE (smoke test, not a measurement)" : ""
    if (load0 + 0 > 0.5) print "WARNING: the machine was busy when the run started (load average " load0 "); figures are noisy."
    printf "nabla BLAS: %s (libnabla), cblas_dgemm from %s; numpy %s; pytorch %s\n", \
        has("train.nabla." T[1] ".blas") ? V["train.nabla." T[1] ".blas"] : "?", \
        has("gemm.c." T[1] ".cblas_dgemm_from") ? V["gemm.c." T[1] ".cblas_dgemm_from"] : "?", \
        has("train.numpy." T[1] ".numpy_version") ? V["train.numpy." T[1] ".numpy_version"] : "n/a", \
        has("train.torch." T[1] ".torch_version") ? V["train.torch." T[1] ".torch_version"] : "n/a"
    print ""
    print "1. training, MLP 784-128-10, one epoch of Fashion-MNIST (60,000 images), float64, median of the timed epochs"
    for (i = 1; i <= n; i++) {
        t = T[i]; a = v("train.nabla." t ".samples_per_s"); f = v("train.nabla." t ".bound_fraction")
        printf "training %d thread%s   nabla %s samples/s   %s   %s   nabla/pytorch %s   nabla/numpy %s   nabla/bound %s\n", \
            t, t == 1 ? " " : "s", commas(a), fig("pytorch", "train.torch." t, "samples_per_s"), \
            fig("numpy", "train.numpy." t, "samples_per_s"), ratio(a, v("train.torch." t ".samples_per_s")), \
            ratio(a, v("train.numpy." t ".samples_per_s")), (f > 0) ? sprintf("%.2f", f) : "n/a"
        frac[t] = f
    }
    for (i = 1; i <= n; i++) {
        t = T[i]; p = "train.handc." t
        if (has(p ".samples_per_s"))
            printf "  the same step written by hand in C (same five dgemm, plain loops, no checks), %d thread%s: %s samples/s, bound fraction %.2f; nabla/hand-written %s\n", \
                t, t == 1 ? "" : "s", commas(v(p ".samples_per_s")), v(p ".bound_fraction"), \
                ratio(v("train.nabla." t ".samples_per_s"), v(p ".samples_per_s"))
    }
    for (i = 1; i <= n; i++) {
        t = T[i]
        if (has("train.torch_passive." t ".samples_per_s"))
            printf "  pytorch with OMP_WAIT_POLICY=PASSIVE (OpenMP threads sleep instead of spinning), %d threads: %s samples/s; nabla/pytorch %s\n", \
                t, commas(v("train.torch_passive." t ".samples_per_s")), \
                ratio(v("train.nabla." t ".samples_per_s"), v("train.torch_passive." t ".samples_per_s"))
        if (has("train.torch32." t ".samples_per_s"))
            printf "  pytorch in float32 (what float64 costs), %d thread%s: %s samples/s; nabla (float64)/pytorch (float32) %s\n", \
                t, t == 1 ? "" : "s", commas(v("train.torch32." t ".samples_per_s")), \
                ratio(v("train.nabla." t ".samples_per_s"), v("train.torch32." t ".samples_per_s"))
    }
    t = T[1]
    if (has("train.nabla_nocheck." t ".samples_per_s"))
        printf "  nabla with nb_graph_set_check_finite(g, 0), %d thread: %s samples/s (bound fraction %.2f)\n", t, \
            commas(v("train.nabla_nocheck." t ".samples_per_s")), v("train.nabla_nocheck." t ".bound_fraction")
    for (i = 1; i <= n; i++) {
        t = T[i]; p = "train.nabla." t
        if (has(p ".step_us_total"))
            printf "  nabla step, %d thread%s: %.0f us = gather %.0f + build/forward %.0f + backward with the SGD update (nb_optim_backward) %.0f; the five dgemm alone: %.0f us\n", \
                t, t == 1 ? " " : "s", v(p ".step_us_total"), v(p ".step_us_gather"), v(p ".step_us_build_forward"), \
                v(p ".step_us_backward_update"), v("gemm.c." t ".step_us")
    }
    t = T[1]
    if (has("train.nabla." t ".loss_epoch1"))
        printf "  same model and batches: first-epoch mean loss nabla %.10f   pytorch %s   numpy %s\n", v("train.nabla." t ".loss_epoch1"), \
            has("train.torch." t ".loss_epoch1") ? sprintf("%.10f", v("train.torch." t ".loss_epoch1")) : "n/a", \
            has("train.numpy." t ".loss_epoch1") ? sprintf("%.10f", v("train.numpy." t ".loss_epoch1")) : "n/a"
    print ""
    print "2. GEMM-only bound: the five dgemm of each step (same shapes, same BLAS), per epoch; nabla/bound pairs each"
    print "   training epoch with a GEMM-only epoch timed right after it in the same process (median of the ratios)"
    for (i = 1; i <= n; i++) {
        t = T[i]
        printf "gemm bound %d thread%s   C/cblas_dgemm %s samples/s (%.1f GFLOP/s; paired with nabla: %s)   %s   nabla reaches %s of it (target >= 0.90)\n", \
            t, t == 1 ? " " : "s", commas(v("gemm.c." t ".samples_per_s")), v("gemm.c." t ".gflops"), \
            commas(v("train.nabla." t ".bound_samples_per_s")), \
            fig("numpy np.dot", "gemm.numpy." t, "samples_per_s"), (frac[t] > 0) ? sprintf("%.2f", frac[t]) : "n/a"
    }
    print ""
    print "3. gradient check, all 101,770 parameters, batch of 4, one thread (except the 2-thread figure)"
    p = "gc.nabla"
    if (has(p ".coord_s")) {
        printf "gradcheck per-coordinate   nabla %s (%s coords/s, %s evaluations, %s)%s   pytorch fast_mode=False %s   nabla/pytorch speed %s\n", \
            secs(v(p ".coord_s")), commas(v(p ".coord_per_s")), commas(v(p ".coord_evals")), \
            v(p ".coord_passed") == 1 ? "pass" : "FAIL", \
            v(p ".coord_measured") == 1 ? "" : sprintf(" [EXTRAPOLATED from %s coordinates checked in %s: the estimate is above half the %.0f s cap]", commas(v(p ".sub_coords")), secs(v(p ".sub_s")), v(p ".coord_cap_s")), \
            has("gc.torch.full_s") ? sprintf("%s (%s coords/s)", secs(v("gc.torch.full_s")), commas(v("gc.torch.full_coords_per_s"))) : why("gc.torch"), \
            ratio(v("gc.torch.full_s"), v(p ".coord_s"))
        printf "  nabla: %.2f evaluations per coordinate, %.1f us per evaluation on average (a full nb_graph_forward: %.0f us); subset estimate was %s\n", \
            v(p ".coord_evals") / v(p ".coord_n"), 1e6 * v(p ".coord_s") / v(p ".coord_evals"), v(p ".eval_us"), secs(v(p ".coord_estimate_s"))
        if (has(p ".coord_runs"))
            printf "  nabla: median of %d full checks, %s to %s\n", v(p ".coord_runs"), secs(v(p ".coord_s_min")), secs(v(p ".coord_s_max"))
        printf "gradcheck directional      nabla %s (%d directions, %s evaluations, %s coords/s, %s)   pytorch fast_mode=True %s   nabla/pytorch speed %s\n", \
            secs(v(p ".dir_s")), v(p ".dir_directions"), commas(v(p ".dir_evals")), commas(v(p ".dir_coords_per_s")), \
            v(p ".dir_passed") == 1 ? "pass" : "FAIL", \
            has("gc.torch.fast_s") ? sprintf("%s (%s coords/s)", secs(v("gc.torch.fast_s")), commas(v("gc.torch.fast_coords_per_s"))) : why("gc.torch"), \
            ratio(v("gc.torch.fast_s"), v(p ".dir_s"))
        if (has(p ".t1_wall_s")) {
            printf "gradcheck per-coordinate on 2 threads (opts.threads = 2) vs 1, median of %d each, alternating: 1 thread %s wall (%s CPU), 2 threads %s wall (%s CPU): speed-up %.2fx (best runs %.2fx); CPU time 2 threads / 1: %.2f; same report: %s\n", \
                v(p ".threads_reps"), secs(v(p ".t1_wall_s")), secs(v(p ".t1_cpu_s")), secs(v(p ".t2_wall_s")), secs(v(p ".t2_cpu_s")), \
                v(p ".threads_speedup_wall"), v(p ".threads_speedup_wall_best"), v(p ".threads_cpu_ratio"), v(p ".threads_same_report") == 1 ? "yes" : "NO"
            if (has(p ".pair_speedup"))
                printf "  reference: two 1-thread checks at once, each in a process of its own (nothing shared but the machine), %s for the pair: a second core is worth %.2fx here (best runs %.2fx); the threads reach %.0f%% of that\n", \
                    secs(v(p ".pair_wall_s")), v(p ".pair_speedup"), v(p ".pair_speedup_best"), 100 * v(p ".threads_speedup_wall") / v(p ".pair_speedup")
            if (v(p ".threads_others_busy_cpus") > 0.3)
                printf "  (other processes kept %.1f of the %d CPUs busy meanwhile: the wall-time speed-up is not a measurement of the threads)\n", v(p ".threads_others_busy_cpus"), ncores
        }
        nw = split(V[p ".widths"], W, ",")
        if (nw > 0 && has(p ".width_" W[1] "_s")) {
            print "gradcheck growth with width: MLP 784-H-10, batch 4, per-coordinate over all parameters, one thread"
            printf "  %6s %12s %10s %10s %16s %s\n", "H", "parameters", "time", "CPU", "us/coordinate", "verdict"
            for (i = 1; i <= nw; i++) {
                q = p ".width_" W[i]
                if (has(q "_s"))
                    printf "  %6d %12s %10s %10s %16.2f %s\n", W[i], commas(v(q "_params")), secs(v(q "_s")), secs(v(q "_cpu_s")), \
                        v(q "_us_per_coord"), v(q "_passed") == 1 ? "pass" : "FAIL"
            }
            wl = W[nw]; wf = W[1]
            if (nw > 1 && v(p ".width_" wf "_cpu_s") > 0)
                printf "  %s times the parameters (H = %d to %d) cost %.1f times the CPU time\n", \
                    sprintf("%.0f", v(p ".width_" wl "_params") / v(p ".width_" wf "_params")), wf, wl, v(p ".width_" wl "_cpu_s") / v(p ".width_" wf "_cpu_s")
        }
    } else print "gradcheck   nabla " why(p)
    print ""
    print "4. scalar graphs: acc = sum of tanh(x_i w + b), 1024 units, 4,095 1x1 op nodes, rebuilt each iteration, forward + backward"
    p = "scalar.nabla"
    printf "scalar graph   nabla %s node-ops/s   %s   nabla/micrograd %s\n", commas(v(p ".default.node_ops_per_s")), \
        fig("micrograd", "scalar.micrograd", "node_ops_per_s"), ratio(v(p ".default.node_ops_per_s"), v("scalar.micrograd.node_ops_per_s"))
    printf "  nabla per node: build+forward %.0f ns, backward %.0f ns; finite check off: %s node-ops/s; nb_apply with cached op pointers, check off: %s node-ops/s\n", \
        v(p ".default.ns_per_node_build"), v(p ".default.ns_per_node_backward"), commas(v(p ".nocheck.node_ops_per_s")), commas(v(p ".cached.node_ops_per_s"))
    if (has("scalar.micrograd.value"))
        printf "  same graph: value nabla %.12g micrograd %.12g; d/dw nabla %.12g micrograd %.12g\n", v(p ".value"), v("scalar.micrograd.value"), v(p ".grad_w"), v("scalar.micrograd.grad_w")
    print ""
    print "5. peak resident memory (getrusage ru_maxrss of each process; the float64 data set alone is 359 MiB)"
    for (i = 1; i <= n; i++) {
        t = T[i]
        printf "memory training %d thread%s   nabla %s   %s   %s\n", t, t == 1 ? " " : "s", mib(v("train.nabla." t ".maxrss_kib")), \
            has("train.torch." t ".maxrss_kib") ? "pytorch " mib(v("train.torch." t ".maxrss_kib")) : "pytorch " why("train.torch." t), \
            has("train.numpy." t ".maxrss_kib") ? "numpy " mib(v("train.numpy." t ".maxrss_kib")) : "numpy " why("train.numpy." t)
    }
    t = T[1]
    printf "  %d thread: after loading the data: resident / peak so far   nabla %s / %s   pytorch %s   numpy %s\n", t, \
        mib(v("train.nabla." t ".rss_after_load_kib")), mib(v("train.nabla." t ".hwm_after_load_kib")), \
        has("train.torch." t ".rss_after_load_kib") ? mib(v("train.torch." t ".rss_after_load_kib")) " / " mib(v("train.torch." t ".hwm_after_load_kib")) : "n/a", \
        has("train.numpy." t ".rss_after_load_kib") ? mib(v("train.numpy." t ".rss_after_load_kib")) " / " mib(v("train.numpy." t ".hwm_after_load_kib")) : "n/a"
    printf "  %d thread: resident growth during training (end - after load)   nabla %+.1f MiB   pytorch %s   numpy %s\n", t, \
        (v("train.nabla." t ".rss_end_kib") - v("train.nabla." t ".rss_after_load_kib")) / 1024, \
        has("train.torch." t ".rss_end_kib") ? sprintf("%+.1f MiB", (v("train.torch." t ".rss_end_kib") - v("train.torch." t ".rss_after_load_kib")) / 1024) : "n/a", \
        has("train.numpy." t ".rss_end_kib") ? sprintf("%+.1f MiB", (v("train.numpy." t ".rss_end_kib") - v("train.numpy." t ".rss_after_load_kib")) / 1024) : "n/a"
    printf "memory scalar graphs   nabla %s   %s\n", \
        mib(v("scalar.nabla.maxrss_kib")), has("scalar.micrograd.maxrss_kib") ? "micrograd " mib(v("scalar.micrograd.maxrss_kib")) : "micrograd n/a"
    print ""
    print "== targets =="
    for (i = 1; i <= n; i++) {
        t = T[i]
        ok = frac[t] < 0 ? -1 : (frac[t] >= 0.90)
        printf "%straining at %d thread%s reaches >= 90%% of the GEMM bound: %s\n", mark(ok), t, t == 1 ? "" : "s", frac[t] < 0 ? "n/a" : sprintf("%.0f%%", 100 * frac[t])
        h = v("train.handc." t ".bound_fraction")
        if (h > 0) printf "         (the step written by hand in C reaches %.0f%%)\n", 100 * h
    }
    c = v("gc.nabla.coord_s"); ok = c < 0 ? -1 : (c < 2)
    printf "%sper-coordinate gradcheck of all parameters < 2 s (stretch): %s%s\n", mark(ok), c < 0 ? "n/a" : secs(c), v("gc.nabla.coord_measured") == 0 ? " (extrapolated)" : ""
    # Not decidable while others keep a CPU busy: the second thread then
    # waits for a core, and a miss would measure the other processes.
    sp = v("gc.nabla.threads_speedup_wall"); ok = sp < 0 ? -1 : (sp >= 1.8)
    if (ok == 0 && v("gc.nabla.threads_others_busy_cpus") > 0.3) ok = -1
    printf "%sper-coordinate gradcheck on 2 threads >= 1.8x faster than on 1: %s%s%s\n", mark(ok), sp < 0 ? "n/a" : sprintf("%.2fx", sp), \
        has("gc.nabla.pair_speedup") ? sprintf(" (two independent checks at once: %.2fx)", v("gc.nabla.pair_speedup")) : "", \
        (sp >= 0 && v("gc.nabla.threads_others_busy_cpus") > 0.3) ? sprintf(" (other processes kept %.1f CPUs busy: re-measure on a quiet machine)", v("gc.nabla.threads_others_busy_cpus")) : ""
    w = v("gc.nabla.width_2048_s"); ok = w < 0 ? -1 : (w < 10)
    printf "%sper-coordinate gradcheck of 1.63M parameters (784-2048-10) < 10 s on one thread: %s\n", mark(ok), w < 0 ? "n/a" : secs(w)
    d = v("gc.nabla.dir_s"); ok = d < 0 ? -1 : (d < 0.1)
    printf "%sdirectional gradcheck < 0.1 s: %s\n", mark(ok), d < 0 ? "n/a" : secs(d)
    s = v("scalar.nabla.default.node_ops_per_s"); ok = s < 0 ? -1 : (s >= 2e7)
    printf "%sscalar graphs >= 20,000,000 node-ops/s: %s\n", mark(ok), s < 0 ? "n/a" : commas(s)
    m = v("scalar.micrograd.node_ops_per_s")
    if (s > 0 && m > 0) printf "         (that is %.0fx micrograd; the issue puts 20M at about 100x)\n", s / m
    for (k in V) if (k ~ /\.failed$/) printf "[error]  %s exited with status %s\n", substr(k, 1, length(k) - 7), V[k]
    nd = 0
    for (k in V) if (k ~ /\.cpus_busy$/) {
        p = substr(k, 1, length(k) - 10)
        if (V[k] + 0 > V[p ".threads"] + 0.5) { dist[++nd] = sprintf("%s (%.1f CPUs busy, %d thread%s)", p, V[k], V[p ".threads"], V[p ".threads"] == 1 ? "" : "s") }
        if (V[p ".steal"] + 0 > 0.02) { dist[++nd] = sprintf("%s (the hypervisor stole %.0f%% of the CPU time)", p, 100 * V[p ".steal"]) }
    }
    if (nd > 0) {
        print ""
        print "Possibly disturbed (other processes busy, or CPU time stolen by the hypervisor):"
        for (i = 1; i <= nd; i++) print "  " dist[i]
    }
}' "$res"

# 6. sweep throughput: its own script (bench/sweep.sh), after the report above
NB_BENCH_NABLA=${NB_BENCH_NABLA:-$bin/../nabla} sh "$here/sweep.sh" || failed=1

exit $failed
