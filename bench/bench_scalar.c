/* bench_scalar.c — the per-node overhead of the tape: graphs of thousands
 * of 1x1 nodes, rebuilt every iteration (nb_graph_reset), forward and
 * backward, in node-ops per second.
 *
 *     bench_scalar [--units M] [--variant default|nocheck|cached]
 *
 * The graph (bench/micrograd.py builds the same one with a micrograd Value
 * class):
 *     acc = sum_{i<M} tanh(x_i * w + b)
 * x_i constants made each iteration (nb_scalar), w and b 1x1 parameters;
 * each unit is mul, add, tanh, and (after the first) one add into acc:
 * 4M - 1 op nodes (4,095 for M = 1024), plus M constant leaves.  One
 * iteration = reset + build (which computes the forward values) + zero_grad
 * + backward; node-ops/s = op nodes / (median seconds per iteration).
 *
 * Variants (all the same graph; their samples are interleaved):
 *   default    typed builders (nb_add, ...), finite check on (the default)
 *   nocheck    typed builders, nb_graph_set_check_finite(g, 0)
 *   cached     nb_apply() with the named ops (&nb_op_mul, ...), check off:
 *              the generic entry point, which validates each op on its
 *              first use on the graph (typed builders skip even that) */
#include <config.h>

#include <errno.h>

#include "bench_util.h"

enum variant { V_DEFAULT, V_NOCHECK, V_CACHED };

static nb_node *build(nb_graph *g, enum variant v, const double *x, size_t m, nb_node *w,
                      nb_node *b)
{
    nb_node *acc = NULL;
    for (size_t i = 0; i < m; i++) {
        nb_node *xi = nb_scalar(g, x[i]);
        nb_node *y;
        if (v == V_CACHED) {
            nb_node *in[2] = { xi, w };
            nb_node *u = nb_apply(g, &nb_op_mul, in, NULL);
            nb_node *in2[2] = { u, b };
            nb_node *s = nb_apply(g, &nb_op_add, in2, NULL);
            y = nb_apply(g, &nb_op_tanh, &s, NULL);
            if (acc) {
                nb_node *in3[2] = { acc, y };
                y = nb_apply(g, &nb_op_add, in3, NULL);
            }
        } else {
            y = nb_tanh(g, nb_add(g, nb_mul(g, xi, w), b));
            if (acc) y = nb_add(g, acc, y);
        }
        acc = y;
    }
    return acc;
}

typedef struct timing {
    double per_iter, build, backward;   /* seconds per iteration, medians */
    double value, grad_w;               /* acc and d(acc)/dw, to compare with micrograd */
} timing;

typedef struct setup {
    nb_graph *g;
    enum variant v;
    const double *x;
    size_t m;
    nb_node *w, *b;
} setup;

/* iters iterations; returns their total seconds, build and backward parts
 * through *tb, *tw; NAN on error. */
static double sample(setup *s, size_t iters, double *tb, double *tw, double *value)
{
    *tb = *tw = 0.0;
    double t0 = bench_now();
    for (size_t k = 0; k < iters; k++) {
        double a = bench_now();
        nb_graph_reset(s->g);
        nb_node *loss = build(s->g, s->v, s->x, s->m, s->w, s->b);
        double bt = bench_now();
        nb_graph_zero_grad(s->g);
        if (!loss || nb_backward(s->g, loss) != NB_OK) {
            fprintf(stderr, "bench_scalar: %s\n", nb_graph_errmsg(s->g));
            return NAN;
        }
        *tw += bench_now() - bt;
        *tb += bt - a;
        *value = nb_node_scalar(loss);
    }
    return bench_now() - t0;
}

#define NSAMPLES 9
#define NVARIANTS 3

static int setup_init(setup *s, enum variant v, size_t m, const double *x)
{
    memset(s, 0, sizeof *s);
    s->g = nb_graph_alloc();
    if (!s->g) return NB_ENOMEM;
    s->v = v;
    s->x = x;
    s->m = m;
    nb_graph_set_check_finite(s->g, v == V_DEFAULT);
    s->w = nb_param(s->g, "w", 1, 1, (const double[]){ 0.3 });
    s->b = nb_param(s->g, "b", 1, 1, (const double[]){ 0.1 });
    return s->w && s->b ? NB_OK : NB_EINVAL;
}

/* Runs the variants selected in on[], their samples interleaved (variant 0,
 * 1, 2, 0, 1, 2, ...) so that a slow spell of the machine hits all of them
 * alike and their ratios stay meaningful. */
static int run_all(const int *on, size_t m, const double *x, timing *out)
{
    setup s[NVARIANTS];
    size_t iters[NVARIANTS] = { 0 };
    double per[NVARIANTS][NSAMPLES], bld[NVARIANTS][NSAMPLES], bwd[NVARIANTS][NSAMPLES];
    int st = NB_OK;
    for (int v = 0; v < NVARIANTS; v++) s[v].g = NULL;
    for (int v = 0; v < NVARIANTS && st == NB_OK; v++) {
        if (!on[v]) continue;
        st = setup_init(&s[v], (enum variant)v, m, x);
        /* Warm-up, which also sizes a sample to about 0.1 s. */
        double tb, tw, dt;
        iters[v] = 1;
        while (st == NB_OK && (dt = sample(&s[v], iters[v], &tb, &tw, &out[v].value)) < 0.1 &&
               iters[v] < ((size_t)1 << 24))
            iters[v] *= 2;
        if (st == NB_OK && isnan(dt)) st = NB_EINVAL;
    }
    for (size_t k = 0; k < NSAMPLES && st == NB_OK; k++)
        for (int v = 0; v < NVARIANTS && st == NB_OK; v++) {
            if (!on[v]) continue;
            double tb, tw, dt = sample(&s[v], iters[v], &tb, &tw, &out[v].value);
            if (isnan(dt)) st = NB_EINVAL;
            per[v][k] = dt / (double)iters[v];
            bld[v][k] = tb / (double)iters[v];
            bwd[v][k] = tw / (double)iters[v];
        }
    for (int v = 0; v < NVARIANTS; v++) {
        if (on[v] && st == NB_OK) {
            out[v].per_iter = bench_median(per[v], NSAMPLES);
            out[v].build = bench_median(bld[v], NSAMPLES);
            out[v].backward = bench_median(bwd[v], NSAMPLES);
            out[v].grad_w = nb_node_grad(s[v].w)[0];
        }
        nb_graph_free(s[v].g);
    }
    return st;
}

int main(int argc, char **argv)
{
    size_t m = 1024;
    int only = -1;   /* --variant: run just that one (for profiling) */
    static const char *names[] = { "default", "nocheck", "cached" };
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--units") == 0) {
            char *end;
            errno = 0;
            m = strtoul(argv[++i], &end, 10);
            if (errno || *end || m == 0) {
                fprintf(stderr, "bench_scalar: --units: bad number\n");
                return 2;
            }
        } else if (i + 1 < argc && strcmp(argv[i], "--variant") == 0) {
            i++;
            for (int v = V_DEFAULT; v <= V_CACHED; v++)
                if (strcmp(argv[i], names[v]) == 0) only = v;
            if (only < 0) {
                fprintf(stderr, "bench_scalar: --variant: default, nocheck or cached\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: bench_scalar [--units M] [--variant default|nocheck|cached]\n");
            return 2;
        }
    }
    double *x = malloc(m * sizeof *x);
    if (!x) return 1;
    for (size_t i = 0; i < m; i++) x[i] = sin((double)i);   /* the same in micrograd.py */
    int on[NVARIANTS];
    for (int v = 0; v < NVARIANTS; v++) on[v] = only < 0 || v == only;
    timing all[NVARIANTS];
    if (run_all(on, m, x, all) != NB_OK) return 1;
    for (int v = V_DEFAULT; v <= V_CACHED; v++) {
        if (!on[v]) continue;
        const timing t = all[v];
        double n_ops = (double)(4 * m - 1);
        char key[64];
        snprintf(key, sizeof key, "%s.node_ops_per_s", names[v]);
        bench_result(key, n_ops / t.per_iter);
        snprintf(key, sizeof key, "%s.ns_per_node_build", names[v]);
        bench_result(key, 1e9 * t.build / n_ops);
        snprintf(key, sizeof key, "%s.ns_per_node_backward", names[v]);
        bench_result(key, 1e9 * t.backward / n_ops);
        if (v == V_DEFAULT) {
            bench_result("node_ops", n_ops);
            bench_result("value", t.value);
            bench_result("grad_w", t.grad_w);
        }
    }
    bench_result("maxrss_kib", (double)bench_maxrss_kib());
    free(x);
    return 0;
}
