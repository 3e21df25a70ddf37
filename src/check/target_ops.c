/* gradcheck_ops.c — checking an op's backward against its forward.
 *
 * For each trial: shapes drawn at random until the op's shape rule admits
 * them, inputs drawn from the op's domain, a random weight v of the output's
 * shape, and the scalar f(x) = <v, op(x)>, whose gradient is exactly the
 * VJP the op's backward computes when seeded with v.  Then every declared
 * kink: backward must take the declared value there, and the checker must
 * find a kink (or a smooth point) there, not a failure. */
#include <config.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <nabla/gradcheck.h>
#include "check/check.h"
#include "io/io.h"

#define NBI_MAX_DIM 4

typedef struct op_ctx {
    nb_graph *g;
    nb_node *leaf[NB_MAX_ARITY];
    size_t offset[NB_MAX_ARITY + 1];
    size_t arity;
    nb_node *out;
    const double *v;   /* (out rows, out cols) */
} op_ctx;

static double *op_slot(op_ctx *c, size_t i)
{
    size_t k = 0;
    while (k + 1 < c->arity && i >= c->offset[k + 1]) k++;
    return &c->leaf[k]->value[i - c->offset[k]];
}

static double op_get(void *p, size_t i) { return *op_slot(p, i); }
static void op_set(void *p, size_t i, double v) { *op_slot(p, i) = v; }

static int op_eval(void *p, double *f)
{
    op_ctx *c = p;
    int st = nb_graph_forward(c->g);
    if (st != NB_OK) {
        nb_graph_clear_error(c->g);
        return st;
    }
    double s = 0.0;
    for (size_t k = 0; k < c->out->rows * c->out->cols; k++) s += c->v[k] * c->out->value[k];
    *f = s;
    return NB_OK;
}

/* Random shapes admitted by the op's shape rule: a base (r, c, k) and each
 * input dimension one of {r, c, k, 1}, so that matmul's (m,k)x(k,n),
 * broadcasts and same-shape rules are all hit often. */
static int sample_shapes(const nb_op *op, const double *hp, gsl_rng *rng,
                         size_t rows[], size_t cols[])
{
    if (op->pointwise) {
        rows[0] = 1 + gsl_rng_uniform_int(rng, NBI_MAX_DIM);
        cols[0] = 1 + gsl_rng_uniform_int(rng, NBI_MAX_DIM);
        return NB_OK;
    }
    for (int attempt = 0; attempt < 10000; attempt++) {
        size_t base[4] = { 1 + gsl_rng_uniform_int(rng, NBI_MAX_DIM),
                           1 + gsl_rng_uniform_int(rng, NBI_MAX_DIM),
                           1 + gsl_rng_uniform_int(rng, NBI_MAX_DIM), 1 };
        nb_node fake[NB_MAX_ARITY];
        const nb_node *in[NB_MAX_ARITY] = { NULL };
        memset(fake, 0, sizeof fake);
        for (size_t i = 0; i < op->arity; i++) {
            /* Mostly the base shape; sometimes a broadcast or other size. */
            int plain = gsl_rng_uniform(rng) < 0.5;
            fake[i].rows = plain ? base[0] : base[gsl_rng_uniform_int(rng, 4)];
            fake[i].cols = plain ? base[1] : base[gsl_rng_uniform_int(rng, 4)];
            in[i] = &fake[i];
        }
        size_t r, c;
        char msg[128];
        if (op->shape(in, hp, &r, &c, msg, sizeof msg) == NB_OK) {
            for (size_t i = 0; i < op->arity; i++) {
                rows[i] = fake[i].rows;
                cols[i] = fake[i].cols;
            }
            return NB_OK;
        }
    }
    return NB_ESHAPE;
}

static void shapes_str(char *buf, size_t len, size_t arity, const size_t *rows, const size_t *cols)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < arity && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s(%zux%zu)", i ? "," : "", rows[i], cols[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* Backward must add to the inputs' gradients, never overwrite them: an
 * input used twice (x*x built from two nodes, a shared weight) would lose
 * a term, which a check of the op alone cannot see.  So run the op's
 * backward again onto gradients pre-filled with random values and compare
 * what it added with the gradient of the clean run (grad). */
static void accumulate_probe(const nb_op *op, op_ctx *c, const double *grad, gsl_rng *rng,
                             size_t index_offset, const nb_gradcheck_opts *o,
                             nb_gradcheck_report *r)
{
    double *pre = malloc(c->offset[op->arity] * sizeof *pre);
    if (!pre) return;
    for (size_t k = 0; k < c->offset[op->arity]; k++) pre[k] = 2.385 * gsl_ran_gaussian_ziggurat(rng, 1.0);
    for (size_t i = 0; i < op->arity; i++)
        for (size_t k = 0; k < nb_node_size(c->leaf[i]); k++) c->leaf[i]->grad[k] = pre[c->offset[i] + k];
    if (op->pointwise) nbi_pointwise_backward(c->out);
    else op->backward(c->out);
    for (size_t i = 0; i < op->arity; i++)
        for (size_t k = 0; k < nb_node_size(c->leaf[i]); k++) {
            size_t at = c->offset[i] + k;
            double added = c->leaf[i]->grad[k] - pre[at];
            double tol = 16 * DBL_EPSILON * (fabs(pre[at]) + fabs(grad[at]));
            if (fabs(added - grad[at]) <= tol) continue;
            nb_gradcheck_entry e;
            memset(&e, 0, sizeof e);
            e.index = index_offset + at;
            e.analytic = added;
            e.numeric = grad[at];
            e.tol = tol;
            e.ratio = INFINITY;
            e.left = e.right = NAN;
            e.verdict = NB_GC_FAIL;
            nbi_report_add(r, &e, o->max_report);
            if (!r->error[0])
                snprintf(r->error, sizeof r->error,
                         "%s: backward overwrites the gradient of input %zu instead of adding to it",
                         op->name, i + 1);
            free(pre);
            return;
        }
    free(pre);
}

/* One trial: given shapes and input values, check.  at_kink: every input
 * value is the kink x (declared backward value is then verified too). */
static int run_trial(const nb_op *op, const double *hp, const size_t *rows, const size_t *cols,
                     gsl_rng *rng, const nb_gradcheck_opts *o, const nb_kink *kink, double kink_grad,
                     size_t index_offset, nb_gradcheck_report *r)
{
    int st = NB_OK;
    nb_graph *g = nb_graph_alloc();
    double *v = NULL, *grad = NULL;
    if (!g) return nbi_report_error(r, NB_ENOMEM, "%s: out of memory", op->name);
    op_ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.arity = op->arity;
    for (size_t i = 0; i < op->arity; i++) {
        c.leaf[i] = nb_leaf(g, rows[i], cols[i], NULL);
        if (!c.leaf[i]) break;
        nb_interval d = nb_op_domain(op, i);
        for (size_t k = 0; k < rows[i] * cols[i]; k++)
            c.leaf[i]->value[k] = kink ? kink->x : d.lo + (d.hi - d.lo) * gsl_rng_uniform(rng);
        c.offset[i + 1] = c.offset[i] + rows[i] * cols[i];
    }
    nb_node *in[NB_MAX_ARITY] = { c.leaf[0], c.leaf[1], c.leaf[2] };
    c.out = nb_apply(g, op, in, hp);
    if (!c.out) {
        /* Inputs come from the op's own domain: failing there is an op bug. */
        st = nbi_report_error(r, nb_graph_status(g), "%s", nb_graph_errmsg(g));
        goto done;
    }
    size_t nout = c.out->rows * c.out->cols, n = c.offset[op->arity];
    v = malloc(nout * sizeof *v);
    grad = malloc(n * sizeof *grad);
    if (!v || !grad) {
        st = nbi_report_error(r, NB_ENOMEM, "%s: out of memory", op->name);
        goto done;
    }
    if (kink) {
        /* The declared value at the kink, with a seed of ones. */
        for (size_t k = 0; k < nout; k++) v[k] = 1.0;
        if ((st = nb_backward_seed(g, c.out, v)) != NB_OK) goto graph_error;
        double got = c.leaf[0]->grad[0];
        if (!(fabs(got - kink_grad) <= 4 * DBL_EPSILON * fmax(1.0, fabs(kink_grad)))) {
            nb_gradcheck_entry e;
            memset(&e, 0, sizeof e);
            e.index = index_offset;
            e.x = kink->x;
            e.analytic = got;
            e.numeric = kink_grad;
            e.ratio = INFINITY;
            e.left = e.right = NAN;
            e.verdict = NB_GC_FAIL;
            nbi_report_add(r, &e, o->max_report);
            snprintf(r->error, sizeof r->error,
                     "%s: backward at the kink x = %g gives %.17g, the op declares %.17g",
                     op->name, kink->x, got, kink_grad);
        }
    }
    for (size_t k = 0; k < nout; k++) v[k] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    if ((st = nb_backward_seed(g, c.out, v)) != NB_OK) goto graph_error;
    for (size_t i = 0; i < op->arity; i++)
        memcpy(grad + c.offset[i], c.leaf[i]->grad, rows[i] * cols[i] * sizeof(double));
    if (!kink) accumulate_probe(op, &c, grad, rng, index_offset, o, r);
    c.v = v;
    nbi_objective obj = { n, op_get, op_set, op_eval, &c, NULL, NULL, NULL, NULL };
    /* Kink trials are per-coordinate in every mode: with all inputs on the
     * kink, a random direction crosses every kink at once, and the
     * convention value need not lie between the one-sided directional
     * derivatives. */
    if (o->mode == NB_GC_DIRECTIONAL && !kink)
        st = nbi_check_directions(&obj, grad, o, rng, index_offset, r);
    else
        st = nbi_check_coords(&obj, grad, o, index_offset, r);
    goto done;
graph_error:
    nbi_report_error(r, st, "%s", nb_graph_errmsg(g));
done:
    free(v);
    free(grad);
    nb_graph_free(g);
    return st;
}

int nb_gradcheck_op(const nb_op *op, const double *hyper, const nb_gradcheck_opts *opts,
                    nb_gradcheck_report *report)
{
    if (!report) return NB_EINVAL;
    nb_gradcheck_opts o = nbi_opts(opts);
    nbi_report_init(report, &o);
    char msg[200];
    if (!op) return nbi_report_error(report, NB_EINVAL, "gradcheck_op: op is NULL");
    if (nb_op_validate(op, msg, sizeof msg) != NB_OK)
        return nbi_report_error(report, NB_EINVAL, "%s", msg);
    double hp[NB_MAX_HYPER] = { 0 };
    for (size_t i = 0; i < op->n_hyper; i++) hp[i] = hyper ? hyper[i] : op->hyper_default[i];
    snprintf(report->target, sizeof report->target, "op %s", op->name);
    if (op->n_hyper) {
        size_t used = strlen(report->target);
        for (size_t i = 0; i < op->n_hyper && used < sizeof report->target; i++) {
            int w = nbi_format(report->target + used, sizeof report->target - used, "%s%s=%g",
                             i ? ", " : " (", op->hyper_names[i] ? op->hyper_names[i] : "h", hp[i]);
            if (w < 0) break;
            used += (size_t)w;
        }
        if (used + 1 < sizeof report->target) strcat(report->target, ")");
    }
    if (nbi_op_in_registry(op) && !hyper)
        snprintf(report->replay, sizeof report->replay, "nabla check --op %s --seed %lu%s", op->name,
                 o.seed, o.mode == NB_GC_DIRECTIONAL ? " --directional" : "");
    else   /* not reachable from the command line: the options that replay it */
        snprintf(report->replay, sizeof report->replay,
                 "nb_gradcheck_op(&%s, hyper, opts) with opts.seed = %lu, opts.mode = %s, "
                 "opts.n_shapes = %zu", op->name, o.seed,
                 o.mode == NB_GC_DIRECTIONAL ? "NB_GC_DIRECTIONAL" : "NB_GC_PER_COORD", o.n_shapes);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng) return nbi_report_error(report, NB_ENOMEM, "gradcheck_op: out of memory");
    gsl_rng_set(rng, o.seed);
    gsl_error_handler_t *saved = gsl_set_error_handler_off();
    int st = NB_OK;
    size_t offset = 0;
    for (size_t t = 0; t < o.n_shapes && st == NB_OK; t++) {
        size_t rows[NB_MAX_ARITY] = { 0 }, cols[NB_MAX_ARITY] = { 0 };
        if (sample_shapes(op, hp, rng, rows, cols) != NB_OK) {
            st = nbi_report_error(report, NB_ESHAPE,
                                  "%s: no input shapes up to %dx%d satisfy its shape rule",
                                  op->name, NBI_MAX_DIM, NBI_MAX_DIM);
            break;
        }
        size_t before = report->n_failed;
        st = run_trial(op, hp, rows, cols, rng, &o, NULL, 0.0, offset, report);
        if (st == NB_OK && report->n_failed > before && !report->error[0]) {
            char sh[96];
            shapes_str(sh, sizeof sh, op->arity, rows, cols);
            snprintf(report->error, sizeof report->error, "%s: first failure at input shapes %s",
                     op->name, sh);
        }
        for (size_t i = 0; i < op->arity; i++) offset += rows[i] * cols[i];
    }
    for (size_t k = 0; k < op->n_kinks && st == NB_OK; k++) {
        size_t rows[1] = { 2 }, cols[1] = { 3 };
        st = run_trial(op, hp, rows, cols, rng, &o, &op->kinks[k], nb_op_kink_grad(op, k, hp), offset,
                       report);
        offset += 6;
    }
    gsl_set_error_handler(saved);
    gsl_rng_free(rng);
    if (st == NB_OK) nbi_report_finish(report);
    return st;
}

int nb_gradcheck_ops(const nb_op *const *ops, size_t n_ops, const nb_gradcheck_opts *opts,
                     size_t n_seeds, FILE *out, int json, size_t *n_failed)
{
    nb_gradcheck_opts o = nbi_opts(opts);
    size_t total = ops ? n_ops : nb_op_count(), failed = 0;
    int worst_status = NB_OK;
    if (n_seeds == 0) n_seeds = 1;
    for (size_t k = 0; k < total; k++) {
        const nb_op *op = ops ? ops[k] : nb_op_at(k);
        size_t checked = 0, n_fail = 0, kinks = 0, evals = 0;
        double worst = 0.0;
        int ok = 1, status = NB_OK;
        nb_gradcheck_report r, bad;
        memset(&bad, 0, sizeof bad);
        int have_bad = 0;
        for (size_t s = 0; s < n_seeds; s++) {
            nb_gradcheck_opts os = o;
            os.seed = o.seed + s;
            int st = nb_gradcheck_op(op, NULL, &os, &r);
            checked += r.n_checked;
            n_fail += r.n_failed;
            kinks += r.n_kinks;
            evals += r.n_evals;
            if (r.worst_ratio > worst) worst = r.worst_ratio;
            if (st != NB_OK || !r.passed) {
                ok = 0;
                if (st != NB_OK) status = st;
                if (!have_bad) {   /* keep the first bad report to show */
                    bad = r;
                    have_bad = 1;
                    continue;
                }
            }
            if (json && out) nb_gradcheck_report_json(out, &r);
            nb_gradcheck_report_free(&r);
        }
        const char *name = op && op->name ? op->name : "(null)";
        if (!ok) {
            failed++;
            if (status != NB_OK) worst_status = status;
            else if (worst_status == NB_OK) worst_status = NB_EDOMAIN;
        }
        if (out && json && have_bad) nb_gradcheck_report_json(out, &bad);
        if (out && !json) {
            fprintf(out, "  %-12s %-4s  %5zu coords, %zu failed, %zu kinks, worst ratio %-8.3g %zu evals\n",
                    name, ok ? "ok" : "FAIL", checked, n_fail, kinks, worst, evals);
            if (have_bad) nb_gradcheck_report_print(out, &bad);
        }
        nb_gradcheck_report_free(&bad);
    }
    if (out && !json)
        fprintf(out, "nabla check: %zu ops, %zu passed, %zu failed (seeds %lu..%lu)\n", total,
                total - failed, failed, o.seed, o.seed + n_seeds - 1);
    if (n_failed) *n_failed = failed;
    return worst_status;
}
