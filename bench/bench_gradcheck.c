/* bench_gradcheck.c — throughput of nb_gradcheck_graph on the MLP
 * 784-128-10 (ReLU, softmax cross-entropy, float64) with a batch of the
 * first 4 Fashion-MNIST training images: per-coordinate mode over all
 * 101,770 parameters, and directional mode; the per-coordinate check on 2
 * threads against 1 (opts.threads); and the growth with the width, MLP
 * 784-H-10 for H = 32, 128, 512, 2048 (25k to 1.63M parameters), one
 * thread.
 *
 *     bench_gradcheck [--cap SECONDS] [--stride K] [--full 0|1]
 *                     [--only dir|coord|threads|width] [--reps N] [--widths H,H,...]
 *
 * Threads.  The full per-coordinate check runs --reps times (default 9) on
 * 1 and on 2 threads, in turn with its reference, and reports the median
 * wall time and the median CPU time (CLOCK_PROCESS_CPUTIME_ID) of each, and
 * whether the reports were the same (they must be, bit for bit).  The
 * reference is what a second core is worth on this machine: two 1-thread
 * checks at once in two processes, which share nothing but the machine
 * (pair_check).  On a machine shared with other work the wall-time ratio
 * says little (the second thread waits for a core); the CPU times say how
 * much work the second thread added (their ratio near 1: none).
 *
 * Time cap.  Before the full per-coordinate check, its time is estimated
 * from two checks of the very same loss at the very same point:
 *   (a) the 1,418 coordinates of fc1.b, fc2.W, fc2.b, with fc1.W held as a
 *       constant on the tape (the graph does exactly the work of the full
 *       one per evaluation);
 *   (b) the columns of fc1.W of every K-th hidden unit (K = --stride,
 *       default 8: 16 units, 12,544 coordinates), the other parameters
 *       constant.  The hidden layer is split into two groups of units,
 *       which is the same function (see build_units), so these coordinates
 *       get the same derivatives and the same verdicts as in the full
 *       check.
 * estimate = t(a) + t(b) * 100352 / |b|.  When the library re-evaluates only
 * the region of the graph a coordinate changes, the split graph is cheaper
 * per evaluation than the full one (measured: the estimate was 0.64 of the
 * full time; with whole-graph re-evaluation it was within 10%), so the full
 * check is run and measured when the estimate is at most half the cap
 * (default 120 s, or $NB_BENCH_GC_CAP); otherwise the estimate is reported
 * and marked as extrapolated (coord_measured 0).  --full 1 runs the full
 * check whatever the estimate.
 *
 * nabla has no API to check a subset of coordinates or to stop a check
 * after a time budget (see docs/performance.md), hence the split graph. */
#include <config.h>

#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define NB4 4   /* batch of the check */

typedef struct problem {
    double x[NB4 * BENCH_IN];                      /* (4, 784) */
    double t[NB4 * BENCH_OUT];                     /* (4, 10) one-hot */
    double w1[BENCH_IN * BENCH_HID];               /* (784, 128) */
    double b1[BENCH_HID];                          /* (1, 128) */
    double w2[BENCH_HID * BENCH_OUT];              /* (128, 10) */
    double b2[BENCH_OUT];                          /* (1, 10) */
} problem;

/* What nb_gradcheck_graph reported, and how long it took (wall and CPU
 * time of the process, all threads). */
typedef struct gc_run {
    double seconds, cpu_seconds;
    size_t n_checked, n_failed, n_kinks, n_evals, worst_index;
    double worst_ratio;
    int passed;
} gc_run;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static nb_node *head(nb_graph *g, nb_node *z1, nb_node *b1, nb_node *w2, nb_node *b2,
                     const problem *p)
{
    nb_node *h = nb_relu(g, nb_add(g, z1, b1));
    nb_node *z2 = nb_add(g, nb_matmul(g, h, w2), b2);
    return nb_softmax_ce(g, z2, nb_input(g, NB4, BENCH_OUT, p->t));
}

/* The full model: every weight a parameter. */
static nb_node *build_full(nb_graph *g, const problem *p)
{
    nb_node *x = nb_input(g, NB4, BENCH_IN, p->x);
    nb_node *w1 = nb_param(g, "fc1.W", BENCH_IN, BENCH_HID, p->w1);
    nb_node *b1 = nb_param(g, "fc1.b", 1, BENCH_HID, p->b1);
    nb_node *w2 = nb_param(g, "fc2.W", BENCH_HID, BENCH_OUT, p->w2);
    nb_node *b2 = nb_param(g, "fc2.b", 1, BENCH_OUT, p->b2);
    return head(g, nb_matmul(g, x, w1), b1, w2, b2, p);
}

/* (a): fc1.W a constant, the rest parameters. */
static nb_node *build_rest(nb_graph *g, const problem *p)
{
    nb_node *x = nb_input(g, NB4, BENCH_IN, p->x);
    nb_node *w1 = nb_input(g, BENCH_IN, BENCH_HID, p->w1);
    nb_node *b1 = nb_param(g, "fc1.b", 1, BENCH_HID, p->b1);
    nb_node *w2 = nb_param(g, "fc2.W", BENCH_HID, BENCH_OUT, p->w2);
    nb_node *b2 = nb_param(g, "fc2.b", 1, BENCH_OUT, p->b2);
    return head(g, nb_matmul(g, x, w1), b1, w2, b2, p);
}

/* (b): the columns j % stride == 0 of fc1.W (hidden units S) a parameter,
 * everything else constant.  The hidden layer is split in two groups of
 * units, which is the same function:
 *     z2 = relu(x W1[:,S] + b1[S]) W2[S,:] + relu(x W1[:,~S] + b1[~S]) W2[~S,:] + b2
 * so each checked coordinate sits in a product with the full inner size 784
 * and the checker re-evaluates the same kind of region as in the full graph
 * (a split along the 784 inputs would make that product cheaper and the
 * estimate too low).  *n_units receives |S|. */
static nb_node *build_units(nb_graph *g, const problem *p, size_t stride, size_t *n_units)
{
    size_t na = (BENCH_HID + stride - 1) / stride, nb = BENCH_HID - na;
    double *w1a = malloc(BENCH_IN * na * sizeof *w1a), *w1b = malloc(BENCH_IN * nb * sizeof *w1b);
    double *b1a = malloc(na * sizeof *b1a), *b1b = malloc(nb * sizeof *b1b);
    double *w2a = malloc(na * BENCH_OUT * sizeof *w2a), *w2b = malloc(nb * BENCH_OUT * sizeof *w2b);
    nb_node *loss = NULL;
    *n_units = na;
    if (w1a && w1b && b1a && b1b && w2a && w2b) {
        size_t ja = 0, jb = 0;
        for (size_t j = 0; j < BENCH_HID; j++) {
            int in_a = j % stride == 0;
            size_t c = in_a ? ja++ : jb++;
            double *w1 = in_a ? w1a : w1b, *w2 = in_a ? w2a : w2b;
            size_t cols = in_a ? na : nb;
            for (size_t i = 0; i < BENCH_IN; i++) w1[i * cols + c] = p->w1[i * BENCH_HID + j];
            (in_a ? b1a : b1b)[c] = p->b1[j];
            memcpy(w2 + c * BENCH_OUT, p->w2 + j * BENCH_OUT, BENCH_OUT * sizeof *w2);
        }
        nb_node *x = nb_input(g, NB4, BENCH_IN, p->x);
        nb_node *ha = nb_relu(g, nb_add(g, nb_matmul(g, x, nb_param(g, "fc1.W[:,S]", BENCH_IN, na, w1a)),
                                        nb_input(g, 1, na, b1a)));
        nb_node *hb = nb_relu(g, nb_add(g, nb_matmul(g, x, nb_input(g, BENCH_IN, nb, w1b)),
                                        nb_input(g, 1, nb, b1b)));
        nb_node *z2 = nb_add(g, nb_add(g, nb_matmul(g, ha, nb_input(g, na, BENCH_OUT, w2a)),
                                       nb_matmul(g, hb, nb_input(g, nb, BENCH_OUT, w2b))),
                             nb_input(g, 1, BENCH_OUT, p->b2));
        loss = nb_softmax_ce(g, z2, nb_input(g, NB4, BENCH_OUT, p->t));
    }
    free(w1a);
    free(w1b);
    free(b1a);
    free(b1b);
    free(w2a);
    free(w2b);
    return loss;
}

static int check_threads(nb_graph *g, nb_node *loss, nb_gradcheck_mode mode, size_t threads,
                         gc_run *out)
{
    nb_gradcheck_opts o;
    nb_gradcheck_opts_init(&o);
    o.mode = mode;
    o.threads = threads;
    nb_gradcheck_report r;
    double c0 = cpu_now(), t0 = bench_now();
    int st = nb_gradcheck_graph(g, loss, &o, &r);
    out->seconds = bench_now() - t0;
    out->cpu_seconds = cpu_now() - c0;
    if (st != NB_OK) {
        fprintf(stderr, "bench_gradcheck: could not check: %s\n", r.error);
        nb_gradcheck_report_free(&r);
        return st;
    }
    out->n_checked = r.n_checked;
    out->n_failed = r.n_failed;
    out->n_kinks = r.n_kinks;
    out->n_evals = r.n_evals;
    out->worst_index = r.worst_index;
    out->worst_ratio = r.worst_ratio;
    out->passed = r.passed;
    if (!r.passed) nb_gradcheck_report_print(stderr, &r);
    nb_gradcheck_report_free(&r);
    return NB_OK;
}

static int check(nb_graph *g, nb_node *loss, nb_gradcheck_mode mode, gc_run *out)
{
    return check_threads(g, loss, mode, 1, out);
}

/* Builds a fresh graph with build() and checks it. */
typedef nb_node *(*builder)(nb_graph *g, const problem *p);

static int run_check(const problem *p, builder build, nb_gradcheck_mode mode, gc_run *out)
{
    nb_graph *g = nb_graph_alloc();
    if (!g) return NB_ENOMEM;
    nb_node *loss = build(g, p);
    int st = loss ? check(g, loss, mode, out) : nb_graph_status(g);
    if (!loss) fprintf(stderr, "bench_gradcheck: %s\n", nb_graph_errmsg(g));
    nb_graph_free(g);
    return st;
}

/* Median time of one nb_graph_forward of the full graph (one evaluation of
 * f inside the checker), seconds. */
static double eval_time(const problem *p)
{
    nb_graph *g = nb_graph_alloc();
    if (!g || !build_full(g, p)) return NAN;
    double v[9];
    for (size_t r = 0; r < 9; r++) {
        size_t reps = 200;
        double t0 = bench_now();
        for (size_t k = 0; k < reps; k++) nb_graph_forward(g);
        v[r] = (bench_now() - t0) / (double)reps;
    }
    nb_graph_free(g);
    return bench_median(v, 9);
}

/* Busy time of all CPUs so far, seconds (/proc/stat; NaN if unknown). */
static double busy_now(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long u, n, sy, idle, io, irq, sirq, st;
    int got = f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &sy, &idle, &io,
                          &irq, &sirq, &st) == 8;
    if (f) fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    return got && hz > 0 ? (double)(u + n + sy + irq + sirq) / (double)hz : NAN;
}

/* CPU time of the children waited for so far (pair_check's), seconds. */
static double children_cpu(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_CHILDREN, &u) != 0) return NAN;
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/* The reference of the 2-thread figure: two 1-thread checks of the same
 * network at once, each in a process of its own, so that they share
 * nothing but the machine.  The time the pair takes from a common start
 * (the slower of the two) against one check alone is the speed-up this
 * machine gives work that needs no coordination at all: what a second
 * core is worth here, measured in the same run. */
static int pair_check(const problem *p, double *seconds)
{
    int go[2], back[2];
    if (pipe(go) != 0) return -1;
    if (pipe(back) != 0) {
        close(go[0]);
        close(go[1]);
        return -1;
    }
    pid_t pid[2] = { -1, -1 };
    for (size_t k = 0; k < 2; k++) {
        fflush(stdout);
        pid[k] = fork();
        if (pid[k] == 0) {   /* the child: build, warm up, wait for the start, check, report */
            nb_graph *g = nb_graph_alloc();
            nb_node *loss = g ? build_full(g, p) : NULL;
            gc_run run;
            char start;
            double s = -1.0;
            close(go[1]);
            close(back[0]);
            /* One check before the start: a fresh process would otherwise
             * page-fault in the memory that the long-lived process measured
             * against already has (glibc keeps freed blocks of that size
             * for reuse). */
            if (loss && check_threads(g, loss, NB_GC_PER_COORD, 1, &run) == NB_OK &&
                read(go[0], &start, 1) == 1 &&
                check_threads(g, loss, NB_GC_PER_COORD, 1, &run) == NB_OK)
                s = run.seconds;
            ssize_t wr = write(back[1], &s, sizeof s);
            _exit(wr == (ssize_t)sizeof s ? 0 : 1);
        }
    }
    close(go[0]);
    close(back[1]);
    int ok = pid[0] > 0 && pid[1] > 0;
    if (ok && write(go[1], "gg", 2) != 2) ok = 0;
    close(go[1]);
    double s[2] = { -1.0, -1.0 };
    for (size_t k = 0; k < 2 && ok; k++)
        if (read(back[0], &s[k], sizeof s[k]) != (ssize_t)sizeof s[k] || s[k] < 0) ok = 0;
    close(back[0]);
    for (size_t k = 0; k < 2; k++)
        if (pid[k] > 0) waitpid(pid[k], NULL, 0);
    *seconds = s[0] > s[1] ? s[0] : s[1];
    return ok ? 0 : -1;
}

/* The per-coordinate check of the full network on 1 and on 2 threads, and
 * the pair of 1-thread checks in two processes (pair_check), reps times
 * each, in turn (so that a change of the machine's load falls on all three
 * alike). */
static int bench_threads(const problem *p, size_t reps)
{
    double w[2][32], c[2][32], pair[32];
    gc_run first[2], run;
    int same = 1;
    if (reps > 32) reps = 32;
    double b0 = busy_now(), c0 = cpu_now(), k0 = children_cpu(), t0 = bench_now();
    for (size_t k = 0; k < reps; k++) {
        if (pair_check(p, &pair[k]) != 0) {
            fprintf(stderr, "bench_gradcheck: the pair of 1-thread checks failed\n");
            return 1;
        }
        for (size_t t = 0; t < 2; t++) {
            nb_graph *g = nb_graph_alloc();
            nb_node *loss = g ? build_full(g, p) : NULL;
            if (!loss || check_threads(g, loss, NB_GC_PER_COORD, t + 1, &run) != NB_OK) {
                if (g) fprintf(stderr, "bench_gradcheck: %s\n", nb_graph_errmsg(g));
                nb_graph_free(g);
                return 1;
            }
            nb_graph_free(g);
            w[t][k] = run.seconds;
            c[t][k] = run.cpu_seconds;
            if (k == 0) first[t] = run;
            else if (run.n_evals != first[t].n_evals) same = 0;
        }
    }
    /* The counts, the worst coordinate and its ratio, on 2 threads as on 1
     * (the test suite compares whole reports bit for bit). */
    if (first[0].n_checked != first[1].n_checked || first[0].n_failed != first[1].n_failed ||
        first[0].n_kinks != first[1].n_kinks || first[0].n_evals != first[1].n_evals ||
        first[0].worst_index != first[1].worst_index ||
        memcmp(&first[0].worst_ratio, &first[1].worst_ratio, sizeof(double)) != 0)
        same = 0;
    /* CPUs kept busy by other processes meanwhile: all the busy time less
     * this process's own, over the wall time. */
    double others = (busy_now() - b0 - (cpu_now() - c0) - (children_cpu() - k0)) / (bench_now() - t0);
    double w1 = bench_median(w[0], reps), w2 = bench_median(w[1], reps);
    double c1 = bench_median(c[0], reps), c2 = bench_median(c[1], reps);
    bench_result("threads_reps", (double)reps);
    bench_result("threads_same_report", same);
    bench_result("t1_wall_s", w1);
    bench_result("t1_wall_s_min", w[0][0]);   /* bench_median sorted them */
    bench_result("t1_cpu_s", c1);
    bench_result("t2_wall_s", w2);
    bench_result("t2_wall_s_min", w[1][0]);
    bench_result("t2_cpu_s", c2);
    bench_result("threads_speedup_wall", w1 / w2);
    bench_result("threads_speedup_wall_best", w[0][0] / w[1][0]);
    bench_result("threads_cpu_ratio", c2 / c1);
    bench_result("threads_others_busy_cpus", others);
    /* The machine's own speed-up: two checks in the time the pair took,
     * against one alone (both medians). */
    double wp = bench_median(pair, reps);
    bench_result("pair_wall_s", wp);
    bench_result("pair_wall_s_min", pair[0]);
    bench_result("pair_speedup", 2.0 * w1 / wp);
    bench_result("pair_speedup_best", 2.0 * w[0][0] / pair[0]);
    return 0;
}

/* MLP 784-hid-10 on the same batch, W1 and W2 drawn as bench_init_weights
 * draws them (for hid = 128, the very same weights), biases zero. */
static nb_node *build_width(nb_graph *g, const problem *p, size_t hid)
{
    double *w1 = malloc(BENCH_IN * hid * sizeof *w1), *w2 = malloc(hid * BENCH_OUT * sizeof *w2);
    double *b1 = calloc(hid, sizeof *b1), b2[BENCH_OUT] = { 0 };
    nb_node *loss = NULL;
    nb_rng rng;
    nb_rng_seed(&rng, BENCH_SEED);
    double s1 = 1.0 / sqrt((double)BENCH_IN), s2 = 1.0 / sqrt((double)hid);
    if (w1 && w2 && b1 &&
        nb_init_fill(w1, BENCH_IN, hid, NB_INIT_UNIFORM, -s1, s1, &rng) == NB_OK &&
        nb_init_fill(w2, hid, BENCH_OUT, NB_INIT_UNIFORM, -s2, s2, &rng) == NB_OK) {
        nb_node *x = nb_input(g, NB4, BENCH_IN, p->x);
        nb_node *W1 = nb_param(g, "fc1.W", BENCH_IN, hid, w1);
        nb_node *B1 = nb_param(g, "fc1.b", 1, hid, b1);
        nb_node *W2 = nb_param(g, "fc2.W", hid, BENCH_OUT, w2);
        nb_node *B2 = nb_param(g, "fc2.b", 1, BENCH_OUT, b2);
        loss = head(g, nb_matmul(g, x, W1), B1, W2, B2, p);
    }
    free(w1);
    free(w2);
    free(b1);
    return loss;
}

/* The per-coordinate check of MLP 784-H-10 for each H, one thread. */
static int bench_width(const problem *p, const char *widths)
{
    const char *s = widths;
    while (*s) {
        char *end;
        unsigned long hid = strtoul(s, &end, 10);
        if (end == s || hid == 0) {
            fprintf(stderr, "bench_gradcheck: --widths: '%s' is not a list of widths\n", widths);
            return 2;
        }
        s = *end == ',' ? end + 1 : end;
        nb_graph *g = nb_graph_alloc();
        nb_node *loss = g ? build_width(g, p, hid) : NULL;
        gc_run run;
        if (!loss || check(g, loss, NB_GC_PER_COORD, &run) != NB_OK) {
            if (g) fprintf(stderr, "bench_gradcheck: H = %lu: %s\n", hid, nb_graph_errmsg(g));
            nb_graph_free(g);
            return 1;
        }
        nb_graph_free(g);
        char key[64];
        snprintf(key, sizeof key, "width_%lu_params", hid);
        bench_result(key, (double)run.n_checked);
        snprintf(key, sizeof key, "width_%lu_s", hid);
        bench_result(key, run.seconds);
        snprintf(key, sizeof key, "width_%lu_cpu_s", hid);
        bench_result(key, run.cpu_seconds);
        snprintf(key, sizeof key, "width_%lu_us_per_coord", hid);
        bench_result(key, 1e6 * run.seconds / (double)run.n_checked);
        snprintf(key, sizeof key, "width_%lu_evals", hid);
        bench_result(key, (double)run.n_evals);
        snprintf(key, sizeof key, "width_%lu_passed", hid);
        bench_result(key, run.passed);
        fprintf(stderr, "bench_gradcheck: H = %lu: %zu parameters in %.2f s\n", hid, run.n_checked,
                run.seconds);
    }
    bench_result_str("widths", widths);
    return 0;
}

static double arg_d(const char *s, const char *name)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s) {
        fprintf(stderr, "bench_gradcheck: %s: '%s' is not a number\n", name, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    double cap = 120.0;
    const char *env = getenv("NB_BENCH_GC_CAP");
    if (env && *env) cap = arg_d(env, "NB_BENCH_GC_CAP");
    size_t stride = 8;
    int force_full = 0;
    const char *only = "";   /* "dir", "coord", "threads" or "width": one part only */
    const char *widths = "32,128,512,2048";
    size_t reps = 9;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--cap") == 0) cap = arg_d(argv[++i], "--cap");
        else if (i + 1 < argc && strcmp(argv[i], "--stride") == 0) stride = (size_t)arg_d(argv[++i], "--stride");
        else if (i + 1 < argc && strcmp(argv[i], "--full") == 0) force_full = arg_d(argv[++i], "--full") != 0;
        else if (i + 1 < argc && strcmp(argv[i], "--only") == 0) only = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--reps") == 0) reps = (size_t)arg_d(argv[++i], "--reps");
        else if (i + 1 < argc && strcmp(argv[i], "--widths") == 0) widths = argv[++i];
        else {
            fprintf(stderr, "usage: bench_gradcheck [--cap SECONDS] [--stride K] [--full 0|1]\n"
                            "       [--only dir|coord|threads|width] [--reps N] [--widths H,H,...]\n");
            return 2;
        }
    }
    if (stride < 1) stride = 1;
    if (reps < 1) reps = 1;

    nb_dataset ds = { 0 };
    if (bench_load_fashion(&ds) != 0) return 77;
    static problem p;
    nb_dataset_gather(&ds, (const size_t[NB4]){ 0, 1, 2, 3 }, NB4, p.x, p.t, NULL);
    nb_dataset_free(&ds);
    nb_rng rng;
    nb_rng_seed(&rng, BENCH_SEED);
    if (bench_init_weights(&rng, p.w1, p.w2) != NB_OK) return 1;
    const size_t n_w1 = BENCH_IN * BENCH_HID;
    const size_t n_all = n_w1 + BENCH_HID + BENCH_HID * BENCH_OUT + BENCH_OUT;

    if (strcmp(only, "threads") == 0) return bench_threads(&p, reps);
    if (strcmp(only, "width") == 0) return bench_width(&p, widths);

    double t_eval = eval_time(&p);
    bench_result("eval_us", 1e6 * t_eval);

    /* Directional: median of 3 (100 with --only dir, for a profile). */
    size_t n_dir = strcmp(only, "dir") == 0 ? 100 : 3;
    gc_run d[100];
    double ds_s[100];
    for (size_t r = 0; r < n_dir && strcmp(only, "coord") != 0; r++) {
        if (run_check(&p, build_full, NB_GC_DIRECTIONAL, &d[r]) != NB_OK) return 1;
        ds_s[r] = d[r].seconds;
    }
    if (strcmp(only, "coord") == 0) goto per_coord;
    double dir_s = bench_median(ds_s, n_dir);
    bench_result("dir_s", dir_s);
    bench_result("dir_directions", (double)d[0].n_checked);
    bench_result("dir_evals", (double)d[0].n_evals);
    bench_result("dir_failed", (double)d[0].n_failed);
    bench_result("dir_passed", d[0].passed);
    bench_result("dir_coords_per_s", (double)n_all / dir_s);
    if (strcmp(only, "dir") == 0) return 0;

per_coord:;

    /* Per-coordinate: estimate first. */
    gc_run rest, units;
    if (run_check(&p, build_rest, NB_GC_PER_COORD, &rest) != NB_OK) return 1;
    nb_graph *g = nb_graph_alloc();
    size_t n_units = 0;
    nb_node *loss = g ? build_units(g, &p, stride, &n_units) : NULL;
    if (!loss || check(g, loss, NB_GC_PER_COORD, &units) != NB_OK) {
        if (g) fprintf(stderr, "bench_gradcheck: %s\n", nb_graph_errmsg(g));
        return 1;
    }
    nb_graph_free(g);
    double est = rest.seconds + units.seconds * (double)n_w1 / (double)units.n_checked;
    double evals_per_coord = (double)(rest.n_evals + units.n_evals) / (double)(rest.n_checked + units.n_checked);
    bench_result("sub_coords", (double)(rest.n_checked + units.n_checked));
    bench_result("sub_s", rest.seconds + units.seconds);
    bench_result("sub_failed", (double)(rest.n_failed + units.n_failed));
    bench_result("sub_kinks", (double)(rest.n_kinks + units.n_kinks));
    bench_result("sub_w1_coords_per_s", (double)units.n_checked / units.seconds);
    bench_result("sub_rest_coords_per_s", (double)rest.n_checked / rest.seconds);
    bench_result("evals_per_coord", evals_per_coord);
    bench_result("coord_estimate_s", est);
    bench_result("coord_cap_s", cap);
    fprintf(stderr, "bench_gradcheck: per-coordinate estimate %.1f s (cap %.0f s): %s\n", est, cap,
            est <= cap / 2 || force_full ? "running the full check" : "extrapolating");

    if (est <= cap / 2 || force_full) {
        /* Median of three full checks (the counts are the same each time):
         * one run of ~2 s on a shared host swings by tens of per cent. */
        gc_run full;
        double secs[3];
        for (size_t k = 0; k < 3; k++) {
            if (run_check(&p, build_full, NB_GC_PER_COORD, &full) != NB_OK) return 1;
            secs[k] = full.seconds;
        }
        full.seconds = bench_median(secs, 3);
        bench_result("coord_measured", 1);
        bench_result("coord_runs", 3);
        bench_result("coord_s_min", secs[0]);   /* bench_median sorted them */
        bench_result("coord_s_max", secs[2]);
        bench_result("coord_s", full.seconds);
        bench_result("coord_n", (double)full.n_checked);
        bench_result("coord_evals", (double)full.n_evals);
        bench_result("coord_failed", (double)full.n_failed);
        bench_result("coord_kinks", (double)full.n_kinks);
        bench_result("coord_passed", full.passed);
        bench_result("coord_per_s", (double)full.n_checked / full.seconds);
    } else {
        bench_result("coord_measured", 0);
        bench_result("coord_s", est);
        bench_result("coord_n", (double)n_all);
        bench_result("coord_evals", evals_per_coord * (double)n_all);
        bench_result("coord_failed", (double)(rest.n_failed + units.n_failed));
        bench_result("coord_kinks", (double)(rest.n_kinks + units.n_kinks));
        bench_result("coord_passed", rest.passed && units.passed);
        bench_result("coord_per_s", (double)n_all / est);
    }
    if (strcmp(only, "coord") != 0) {
        if (bench_threads(&p, reps) != 0) return 1;
        if (bench_width(&p, widths) != 0) return 1;
    }
    bench_result("maxrss_kib", (double)bench_maxrss_kib());
    return 0;
}
