/* extending_example.c — defining new ops outside the registry and checking
 * them, as docs/extending.md describes.  Built and run by `make check` as
 * tests/example_extending.
 *
 *   1. mish, a new activation: one pointwise function (f and f' side by side)
 *      and one nb_op; nb_gradcheck_op must pass.  (Inside the library the
 *      same two, the op named nb_op_mish, plus its address on one line of
 *      the activations' table register it: docs/extending.md.)
 *   2. relu6, an activation with two kinks declared with the derivative
 *      backward takes there; nb_gradcheck_op must pass and find the kinks.
 *   3. rms_norm, a general (non-pointwise) op with a hyper-parameter: shape
 *      rule, forward, backward (a VJP that accumulates), an aux workspace and
 *      the optional region rules; nb_gradcheck_op must pass.
 *   4. The new ops in a small graph through nb_apply: forward, backward, and
 *      nb_gradcheck_graph on the parameters (per coordinate, so rms_norm's
 *      region rules are used; the loss must come back bit for bit).
 *   5. mish_bad, mish with a derivative that forgets one chain-rule factor:
 *      nb_gradcheck_op must FAIL, and report.target must name it.
 *
 * Only the public API is used (nabla/nabla.h).  Exit status 0 when every
 * expectation holds, 1 otherwise.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <nabla/nabla.h>

/* ---- 1. a pointwise activation ----------------------------------------- */

/* mish: y = x tanh(sp), sp = ln(1 + e^x);  dy/dx = tanh(sp) + x (1 - tanh^2(sp)) sigmoid(x) */
static double mish_fn(double x, const double *hp, double *d)
{
    (void)hp;
    double sp = fmax(x, 0.0) + log1p(exp(-fabs(x)));   /* softplus, stable */
    double sg = x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
    double t = tanh(sp);
    *d = t + x * (1.0 - t * t) * sg;
    return x * t;
}

static const nb_op mish_op = {
    .name = "mish",
    .maths = "y = x tanh(softplus x); dy/dx = tanh(sp) + x (1 - tanh^2 sp) sigmoid(x)",
    .arity = 1,
    .domain = { { -4.0, 4.0 } },   /* test inputs: both tails and the bend */
    .pointwise = mish_fn,
};

/* The same with a bug: the sigmoid(x) = d(sp)/dx factor of the chain rule
 * is forgotten. */
static double mish_bad_fn(double x, const double *hp, double *d)
{
    (void)hp;
    double sp = fmax(x, 0.0) + log1p(exp(-fabs(x)));
    double t = tanh(sp);
    *d = t + x * (1.0 - t * t);   /* BUG: missing * sigmoid(x) */
    return x * t;
}

static const nb_op mish_bad_op = {
    .name = "mish_bad",
    .maths = "mish with d(softplus)/dx forgotten",
    .arity = 1,
    .domain = { { -4.0, 4.0 } },
    .pointwise = mish_bad_fn,
};

/* ---- 2. an activation with kinks --------------------------------------- */

/* relu6: y = min(max(x, 0), 6);  dy/dx = [0 < x < 6]  (0 at the kinks 0 and 6) */
static double relu6_fn(double x, const double *hp, double *d)
{
    (void)hp;
    *d = x > 0.0 && x < 6.0 ? 1.0 : 0.0;
    return x < 0.0 ? 0.0 : x > 6.0 ? 6.0 : x;
}

static const nb_op relu6_op = {
    .name = "relu6",
    .maths = "y = min(max(x,0),6); dy/dx = [0<x<6]",
    .arity = 1,
    .domain = { { -2.0, 8.0 } },
    .n_kinks = 2,
    .kinks = { { 0.0, 0.0 }, { 6.0, 0.0 } },   /* x, and what backward gives there */
    .pointwise = relu6_fn,
};

/* ---- 3. a general op: row-wise RMS normalisation ----------------------- */

/* rms_norm: y_ij = x_ij r_i, r_i = (mean_j x_ij^2 + eps)^(-1/2), (R,C) -> (R,C);
 *           dx_ij = r_i g_ij - (r_i^3 / C) x_ij sum_k g_ik x_ik
 * aux keeps r_i from forward, one double per row. */
static int rms_norm_shape(const nb_node *const *in, const double *hp, size_t *rows,
                          size_t *cols, char *msg, size_t len)
{
    (void)hp; (void)msg; (void)len;
    *rows = nb_node_rows(in[0]);
    *cols = nb_node_cols(in[0]);
    return NB_OK;
}

static size_t rms_norm_aux(const nb_node *out) { return nb_node_rows(out); }

/* Rows [i0, i1) of the output; forward and the region forward share it, so
 * both do the same arithmetic. */
static void rms_norm_rows(nb_node *out, size_t i0, size_t i1)
{
    nb_node *x = nb_node_input(out, 0);
    const double *xv = nb_node_cvalue(x);   /* (R, C) */
    double *y = nb_node_value(out);          /* (R, C) */
    double *r = nb_node_aux(out);            /* (R) */
    double eps = nb_node_hyper(out)[0];
    size_t C = nb_node_cols(x);
    for (size_t i = i0; i < i1; i++) {
        double ms = 0.0;
        for (size_t j = 0; j < C; j++) ms += xv[i * C + j] * xv[i * C + j];
        r[i] = 1.0 / sqrt(ms / (double)C + eps);
        for (size_t j = 0; j < C; j++) y[i * C + j] = xv[i * C + j] * r[i];
    }
}

static void rms_norm_forward(nb_node *out) { rms_norm_rows(out, 0, nb_node_rows(out)); }

/* Optional, for fast per-coordinate graph checks: a change in rows [r0, r1)
 * of x reaches rows [r0, r1) of y, all columns; recompute just those. */
static void rms_norm_region(const nb_node *out, size_t i, const nb_rect *in, nb_rect *res)
{
    (void)i;
    *res = (nb_rect){ in->r0, in->r1, 0, nb_node_cols(out) };
}

static void rms_norm_forward_region(nb_node *out, const nb_rect *r)
{
    rms_norm_rows(out, r->r0, r->r1);
}

static void rms_norm_backward(nb_node *out)
{
    nb_node *x = nb_node_input(out, 0);
    double *dx = nb_node_grad(x);   /* NULL: x needs no gradient */
    if (!dx) return;
    const double *xv = nb_node_cvalue(x), *g = nb_node_grad(out), *r = nb_node_aux(out);
    size_t R = nb_node_rows(x), C = nb_node_cols(x);
    for (size_t i = 0; i < R; i++) {
        double gx = 0.0;
        for (size_t k = 0; k < C; k++) gx += g[i * C + k] * xv[i * C + k];
        double c = r[i] * r[i] * r[i] * gx / (double)C;
        for (size_t j = 0; j < C; j++)   /* += : gradients accumulate */
            dx[i * C + j] += r[i] * g[i * C + j] - c * xv[i * C + j];
    }
}

static const nb_op rms_norm_op = {
    .name = "rms_norm",
    .maths = "y_ij = x_ij / sqrt(mean_j x_ij^2 + eps); dx = r g - (r^3/C) x <g, x>_row",
    .arity = 1,
    .n_hyper = 1,
    .hyper_names = { "eps" },
    .hyper_default = { 0.01 },
    .shape = rms_norm_shape,
    .forward = rms_norm_forward,
    .backward = rms_norm_backward,
    .aux = rms_norm_aux,
    .region = rms_norm_region,
    .forward_region = rms_norm_forward_region,
};

/* ---- expectations ------------------------------------------------------ */

static int failures = 0;

static void expect(int ok, const char *what)
{
    printf("%s: %s\n\n", ok ? "ok  " : "FAILED", what);
    if (!ok) failures++;
}

/* Checks one op with the default options; returns its verdict (1 passed). */
static int check_op(const nb_op *op, nb_gradcheck_report *rep)
{
    nb_gradcheck_opts opts;
    nb_gradcheck_opts_init(&opts);
    int st = nb_gradcheck_op(op, NULL, &opts, rep);
    nb_gradcheck_report_print(stdout, rep);
    if (st != NB_OK) printf("  could not check: %s\n", nb_strerror(st));
    return st == NB_OK && rep->passed;
}

int main(void)
{
    nb_gradcheck_report rep;

    /* 1-3. Each new op against its own forward. */
    expect(check_op(&mish_op, &rep), "mish: backward agrees with forward");
    nb_gradcheck_report_free(&rep);

    int ok = check_op(&relu6_op, &rep);
    expect(ok && rep.n_kinks > 0, "relu6: passes, and its declared kinks are found as kinks");
    nb_gradcheck_report_free(&rep);

    expect(check_op(&rms_norm_op, &rep), "rms_norm (general op, aux workspace): passes");
    nb_gradcheck_report_free(&rep);

    /* 4. In a graph: loss = mse(rms_norm(mish(X W + b)), T), with W and b
     *    parameters (outside the tape) and X, T constants on the tape. */
    nb_graph *g = nb_graph_alloc();
    if (!g) return 1;
    const double Xv[4 * 3] = { 0.5, -1.2, 2.385, -0.75, 0.3, 1.1,
                               1.8, 0.95, -0.4, -1.35, -0.6, 0.25 };      /* (4,3) */
    const double Wv[3 * 2] = { 0.4, -0.7, 0.25, 0.9, -0.55, 0.15 };      /* (3,2) */
    const double bv[2] = { 0.1, -0.2 };                                   /* (1,2) */
    const double Tv[4 * 2] = { 1, -1, -1, 1, 1, 1, -1, -1 };              /* (4,2) */
    nb_node *W = nb_param(g, "W", 3, 2, Wv);
    nb_node *b = nb_param(g, "b", 1, 2, bv);
    nb_node *X = nb_input(g, 4, 3, Xv);
    nb_node *T = nb_input(g, 4, 2, Tv);
    nb_node *h = nb_add(g, nb_matmul(g, X, W), b);                      /* (4,2) */
    nb_node *a = nb_apply(g, &mish_op, (nb_node *[]){ h }, NULL);        /* (4,2) */
    double eps = 0.05;
    nb_node *y = nb_apply(g, &rms_norm_op, (nb_node *[]){ a }, &eps);   /* (4,2) */
    nb_node *loss = nb_mse(g, y, T);                                     /* (1,1) */
    if (!loss) {   /* one check for the whole expression: the first error is kept */
        fprintf(stderr, "graph: %s\n", nb_graph_errmsg(g));
        nb_graph_free(g);
        return 1;
    }
    int st = nb_backward(g, loss);
    double lv = nb_node_scalar(loss), gw = nb_node_grad(W)[0];
    printf("loss = %.10f, dloss/dW[0] = %.10f\n", lv, gw);
    st = st == NB_OK ? nb_gradcheck_graph(g, loss, NULL, &rep) : st;
    if (st == NB_OK) nb_gradcheck_report_print(stdout, &rep);
    expect(st == NB_OK && rep.passed && rep.n_checked == 8,
           "the graph's gradient w.r.t. W and b (8 parameters) passes");
    expect(nb_node_scalar(loss) == lv && nb_node_grad(W)[0] == gw,
           "the check leaves the graph's values and gradients as they were, bit for bit");
    nb_gradcheck_report_free(&rep);
    nb_graph_free(g);

    /* 5. A wrong backward is caught, and the report names the op. */
    ok = check_op(&mish_bad_op, &rep);
    expect(!ok && rep.n_failed > 0 && strcmp(rep.target, "op mish_bad") == 0,
           "mish_bad: the forgotten chain-rule factor FAILS, report.target names it");
    nb_gradcheck_report_free(&rep);

    if (failures) printf("%d expectation(s) did not hold\n", failures);
    else printf("all expectations hold\n");
    return failures ? 1 : 0;
}
