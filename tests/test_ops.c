/* test_ops.c — the op registry: every registered op is gradient-checked
 * (so a newly registered op is tested with no new test code), a broken op
 * is caught and named, forward values match an independent implementation,
 * and declared kinks are honoured. */
#include <config.h>

#include <string.h>

#include <nabla/nabla.h>
#include "testutil.h"

/* Generic: every op in the registry, three seeds, per-coordinate and
 * directional.  _i is the registry index (a loop test). */
START_TEST(test_registry_op_gradcheck)
{
    const nb_op *op = nb_op_at((size_t)_i);
    ck_assert_ptr_nonnull(op);
    char msg[200];
    ck_assert_msg(nb_op_validate(op, msg, sizeof msg) == NB_OK, "%s", msg);
    ck_assert_ptr_eq(nb_op_find(op->name), op);
    for (unsigned long seed = 11; seed < 14; seed++) {
        for (int mode = 0; mode < 2; mode++) {
            nb_gradcheck_opts o;
            nb_gradcheck_opts_init(&o);
            o.seed = seed;
            o.mode = mode ? NB_GC_DIRECTIONAL : NB_GC_PER_COORD;
            nb_gradcheck_report r;
            int st = nb_gradcheck_op(op, NULL, &o, &r);
            ck_assert_msg(st == NB_OK, "%s: %s", op->name, r.error);
            ck_assert_msg(r.passed, "%s (seed %lu, mode %d): %zu of %zu failed, worst %zu ratio %g; %s",
                          op->name, seed, mode, r.n_failed, r.n_checked, r.worst_index,
                          r.worst_ratio, r.error);
            ck_assert_uint_gt(r.n_checked, 0);
            ck_assert(strstr(r.target, op->name) != NULL);
            nb_gradcheck_report_free(&r);
        }
    }
    /* tests/summary.sh collects these lines into "ops checked: N (...)", so
     * `make check` shows that a newly registered op was checked */
    printf("op checked: %s\n", op->name);
    fflush(stdout);
}
END_TEST

/* Registry names are unique and the typed builders reach the same ops. */
START_TEST(test_registry_unique_names)
{
    size_t n = nb_op_count();
    ck_assert_uint_ge(n, 38);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            ck_assert_str_ne(nb_op_at(i)->name, nb_op_at(j)->name);
    ck_assert_ptr_null(nb_op_at(n));
    ck_assert_ptr_null(nb_op_find("nope"));
    ck_assert_ptr_null(nb_op_find(NULL));
    const char *required[] = { "add", "sub", "mul", "div", "neg", "scale", "matmul", "transpose",
                               "sum", "mean", "row_sums", "col_sums", "exp", "log", "square", "sqrt",
                               "pow", "abs", "max", "sigmoid", "tanh", "relu", "leaky_relu", "elu",
                               "softplus", "softsign", "silu", "gelu", "gelu_tanh", "hard_tanh",
                               "identity", "softmax", "log_softmax", "mse", "bce", "bce_logits",
                               "softmax_ce", "l2" };
    for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
        ck_assert_msg(nb_op_find(required[k]) != NULL, "op %s missing", required[k]);
}
END_TEST

/* Every typed builder reaches the registry op of its own name. */
START_TEST(test_builders_reach_their_ops)
{
    nb_graph *g = nb_graph_alloc();
    nb_node *a = nb_input(g, 2, 2, (double[]){ 0.5, 1.25, 2.385, 0.75 });
    nb_node *b = nb_input(g, 2, 2, (double[]){ 0.25, 0.5, 0.125, 0.625 });
    struct { nb_node *n; const char *name; } t[] = {
        { nb_add(g, a, b), "add" }, { nb_sub(g, a, b), "sub" }, { nb_mul(g, a, b), "mul" },
        { nb_div(g, a, b), "div" }, { nb_max(g, a, b), "max" }, { nb_neg(g, a), "neg" },
        { nb_scale(g, a, 2.0), "scale" }, { nb_matmul(g, a, b), "matmul" },
        { nb_transpose(g, a), "transpose" }, { nb_sum(g, a), "sum" }, { nb_mean(g, a), "mean" },
        { nb_row_sums(g, a), "row_sums" }, { nb_col_sums(g, a), "col_sums" }, { nb_exp(g, a), "exp" },
        { nb_log(g, a), "log" }, { nb_square(g, a), "square" }, { nb_sqrt(g, a), "sqrt" },
        { nb_pow(g, a, 1.5), "pow" }, { nb_abs(g, a), "abs" }, { nb_sigmoid(g, a), "sigmoid" },
        { nb_tanh(g, a), "tanh" }, { nb_relu(g, a), "relu" }, { nb_leaky_relu(g, a, 0.1), "leaky_relu" },
        { nb_elu(g, a, 1.0), "elu" }, { nb_softplus(g, a), "softplus" }, { nb_softsign(g, a), "softsign" },
        { nb_silu(g, a), "silu" }, { nb_gelu(g, a), "gelu" }, { nb_gelu_tanh(g, a), "gelu_tanh" },
        { nb_hard_tanh(g, a), "hard_tanh" }, { nb_identity(g, a), "identity" },
        { nb_softmax(g, a), "softmax" }, { nb_log_softmax(g, a), "log_softmax" },
        { nb_mse(g, a, b), "mse" }, { nb_bce(g, b, b), "bce" }, { nb_bce_logits(g, a, b), "bce_logits" },
        { nb_softmax_ce(g, a, b), "softmax_ce" }, { nb_l2(g, a, 0.5), "l2" },
    };
    ck_assert_msg(nb_graph_status(g) == NB_OK, "%s", nb_graph_errmsg(g));
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        ck_assert_ptr_nonnull(t[k].n);
        ck_assert_str_eq(nb_node_op(t[k].n)->name, t[k].name);
    }
    nb_graph_free(g);
}
END_TEST

/* A deliberately broken sigmoid: backward forgets the (1 - s) factor. */
static double broken_sigmoid_fn(double x, const double *hp, double *d)
{
    (void)hp;
    double s = 1.0 / (1.0 + exp(-x));
    *d = s;   /* should be s * (1 - s) */
    return s;
}

static const nb_op broken_sigmoid = {
    .name = "broken_sigmoid", .maths = "s = 1/(1+e^-x); ds/dx = s (wrong: forgets 1-s)",
    .arity = 1, .domain = { { -4.0, 4.0 } }, .pointwise = broken_sigmoid_fn,
};

START_TEST(test_broken_op_is_caught)
{
    nb_gradcheck_report r;
    ck_assert_int_eq(nb_gradcheck_op(&broken_sigmoid, NULL, NULL, &r), NB_OK);
    ck_assert_int_eq(r.passed, 0);
    ck_assert_uint_eq(r.n_failed, r.n_checked);   /* wrong everywhere */
    ck_assert(strstr(r.target, "broken_sigmoid") != NULL);
    ck_assert_uint_gt(r.n_entries, 0);
    ck_assert_int_eq(r.entries[0].verdict, NB_GC_FAIL);
    /* The table names the op too. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    nb_gradcheck_report_print(f, &r);
    fclose(f);
    ck_assert(strstr(buf, "broken_sigmoid") != NULL);
    ck_assert(strstr(buf, "FAIL") != NULL);
    free(buf);
    nb_gradcheck_report_free(&r);

    /* In a list with good ops, the summary counts exactly it and names it. */
    const nb_op *ops[3] = { nb_op_find("tanh"), &broken_sigmoid, nb_op_find("sigmoid") };
    size_t n_failed = 0;
    buf = NULL;
    f = open_memstream(&buf, &len);
    int st = nb_gradcheck_ops(ops, 3, NULL, 2, f, 0, &n_failed);
    fclose(f);
    ck_assert_int_eq(st, NB_EDOMAIN);
    ck_assert_uint_eq(n_failed, 1);
    ck_assert_msg(strstr(buf, "broken_sigmoid FAIL") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "3 ops, 2 passed, 1 failed") != NULL, "%s", buf);
    free(buf);
}
END_TEST

/* A matrix op with a transposed gradient is caught as well. */
static int bad_matmul_shape(const nb_node *const *in, const double *hp, size_t *rows,
                            size_t *cols, char *msg, size_t len)
{
    return nb_op_find("matmul")->shape(in, hp, rows, cols, msg, len);
}

static void bad_matmul_forward(nb_node *out) { nb_op_find("matmul")->forward(out); }

/* dA = G B (should be G B^T): only differs when B is not symmetric, and
 * only type-checks for square B. */
static void bad_matmul_backward(nb_node *out)
{
    nb_node *a = nb_node_input(out, 0), *b = nb_node_input(out, 1);
    size_t m = nb_node_rows(a), k = nb_node_cols(a), n = nb_node_cols(b);
    const double *G = nb_node_grad(out), *B = nb_node_cvalue(b), *A = nb_node_cvalue(a);
    if (nb_node_grad(a))
        for (size_t i = 0; i < m; i++)
            for (size_t p = 0; p < k; p++)
                for (size_t j = 0; j < n; j++)
                    nb_node_grad(a)[i * k + p] += G[i * n + j] * B[(k == n ? j * n + p : p * n + j)];
    if (nb_node_grad(b))
        for (size_t p = 0; p < k; p++)
            for (size_t j = 0; j < n; j++)
                for (size_t i = 0; i < m; i++) nb_node_grad(b)[p * n + j] += A[i * k + p] * G[i * n + j];
}

static const nb_op bad_matmul = {
    .name = "bad_matmul", .maths = "C = A B; dA = G B (wrong when B is square)", .arity = 2,
    .shape = bad_matmul_shape, .forward = bad_matmul_forward, .backward = bad_matmul_backward,
};

START_TEST(test_transposed_gradient_caught)
{
    nb_gradcheck_opts o;
    nb_gradcheck_opts_init(&o);
    o.n_shapes = 12;   /* enough draws to hit a square B */
    nb_gradcheck_report r;
    ck_assert_int_eq(nb_gradcheck_op(&bad_matmul, NULL, &o, &r), NB_OK);
    ck_assert_int_eq(r.passed, 0);
    ck_assert_uint_gt(r.n_failed, 0);
    nb_gradcheck_report_free(&r);
}
END_TEST

/* A backward that overwrites (=) instead of adding (+=): right for an op
 * used once, wrong as soon as an input feeds two nodes. */
static void overwrite_backward(nb_node *out)
{
    nb_node *x = nb_node_input(out, 0);
    if (!nb_node_grad(x)) return;
    for (size_t k = 0; k < nb_node_size(out); k++)
        nb_node_grad(x)[k] = nb_node_grad(out)[k] * 2.0 * nb_node_cvalue(x)[k];
}

static void square_forward(nb_node *out)
{
    const nb_node *x = nb_node_input(out, 0);
    for (size_t k = 0; k < nb_node_size(out); k++) nb_node_value(out)[k] = nb_node_cvalue(x)[k] * nb_node_cvalue(x)[k];
}

static const nb_op overwriting_square = {
    .name = "overwriting_square", .maths = "y = x^2; dx = 2 x g (assigned, not added)", .arity = 1,
    .shape = nb_shape_same, .forward = square_forward, .backward = overwrite_backward,
};

START_TEST(test_overwriting_backward_caught)
{
    nb_gradcheck_report r;
    ck_assert_int_eq(nb_gradcheck_op(&overwriting_square, NULL, NULL, &r), NB_OK);
    ck_assert_int_eq(r.passed, 0);
    ck_assert_msg(strstr(r.error, "overwrites") != NULL, "%s", r.error);
    nb_gradcheck_report_free(&r);
}
END_TEST

/* Kink values may follow a hyper-parameter: leaky_relu and elu take alpha. */
START_TEST(test_kink_follows_hyper)
{
    nb_gradcheck_report r;
    double alpha = 0.2;
    ck_assert_int_eq(nb_gradcheck_op(nb_op_find("leaky_relu"), &alpha, NULL, &r), NB_OK);
    ck_assert_msg(r.passed, "%s", r.error);
    ck_assert_uint_eq(r.n_kinks, 6);
    nb_gradcheck_report_free(&r);
    alpha = 0.35;
    ck_assert_int_eq(nb_gradcheck_op(nb_op_find("elu"), &alpha, NULL, &r), NB_OK);
    ck_assert_msg(r.passed, "%s", r.error);
    ck_assert_uint_eq(r.n_kinks, 6);
    nb_gradcheck_report_free(&r);
    NB_ASSERT_NEAR(nb_op_kink_grad(nb_op_find("leaky_relu"), 0, (double[]){ 0.3 }), 0.3, 0.0);
    NB_ASSERT_NEAR(nb_op_kink_grad(nb_op_find("relu"), 0, NULL), 0.0, 0.0);
}
END_TEST

/* A kink whose declared backward value is not what backward computes. */
static double relu_half_fn(double x, const double *hp, double *d)
{
    (void)hp;
    *d = x > 0.0 ? 1.0 : 0.0;
    return x > 0.0 ? x : 0.0;
}

static const nb_op relu_wrong_decl = {
    .name = "relu_wrong_decl", .maths = "relu declaring 0.5 at the kink", .arity = 1,
    .n_kinks = 1, .kinks = { { 0.0, 0.5 } }, .pointwise = relu_half_fn,
};

/* A kink where backward takes a value outside the one-sided derivatives. */
static double relu_outside_fn(double x, const double *hp, double *d)
{
    (void)hp;
    *d = x > 0.0 ? 1.0 : x < 0.0 ? 0.0 : 2.0;
    return x > 0.0 ? x : 0.0;
}

static const nb_op relu_outside = {
    .name = "relu_outside", .maths = "relu with derivative 2 at 0", .arity = 1,
    .n_kinks = 1, .kinks = { { 0.0, 2.0 } }, .pointwise = relu_outside_fn,
};

START_TEST(test_kinks)
{
    nb_gradcheck_report r;
    /* The real relu: kinks found and accepted. */
    ck_assert_int_eq(nb_gradcheck_op(nb_op_find("relu"), NULL, NULL, &r), NB_OK);
    ck_assert(r.passed);
    ck_assert_uint_eq(r.n_kinks, 6);   /* the (2x3) kink trial */
    nb_gradcheck_report_free(&r);
    ck_assert_int_eq(nb_gradcheck_op(&relu_wrong_decl, NULL, NULL, &r), NB_OK);
    ck_assert_int_eq(r.passed, 0);
    ck_assert_msg(strstr(r.error, "declares") != NULL, "%s", r.error);
    nb_gradcheck_report_free(&r);
    ck_assert_int_eq(nb_gradcheck_op(&relu_outside, NULL, NULL, &r), NB_OK);
    ck_assert_int_eq(r.passed, 0);
    ck_assert_uint_eq(r.n_failed, 6);
    ck_assert(!isnan(r.entries[0].left));
    nb_gradcheck_report_free(&r);
}
END_TEST

/* Forward values against Python's math module (independent implementation). */
static double apply1(const char *name, double x, const double *hp)
{
    nb_graph *g = nb_graph_alloc();
    nb_node *in[1] = { nb_input(g, 1, 1, &x) };
    nb_node *y = nb_apply_name(g, name, in, hp);
    double v = y ? nb_node_scalar(y) : NAN;
    nb_graph_free(g);
    return v;
}

START_TEST(test_forward_values)
{
    /* math.erf: 0.5*(1+erf(1/sqrt 2)) */
    NB_ASSERT_NEAR(apply1("gelu", 1.0, NULL), 0.8413447460685429, 2e-16);
    /* math.log1p(math.exp(2.385)) */
    NB_ASSERT_NEAR(apply1("softplus", 2.385, NULL), 2.473092357134353, 4e-16);
    NB_ASSERT_NEAR(apply1("tanh", 0.915, NULL), 0.7235234536550119, 2e-16);
    NB_ASSERT_NEAR(apply1("sigmoid", -750.0, NULL), 0.0, 1e-300);   /* no overflow */
    NB_ASSERT_NEAR(apply1("sigmoid", 5.0, NULL), 0.9933071490757153, 2e-16);
    NB_ASSERT_NEAR(apply1("leaky_relu", -2.0, (double[]){ 0.2 }), -0.4, 1e-16);
    NB_ASSERT_NEAR(apply1("elu", -1.0, (double[]){ 1.5 }), 1.5 * (exp(-1.0) - 1.0), 1e-16);
    NB_ASSERT_NEAR(apply1("hard_tanh", 2.385, NULL), 1.0, 0.0);
    NB_ASSERT_NEAR(apply1("softsign", 3.0, NULL), 0.75, 0.0);
    NB_ASSERT_NEAR(apply1("silu", 2.0, NULL), 2.0 / (1.0 + exp(-2.0)), 2e-16);
    /* torch.nn.functional.gelu(torch.tensor(1.0, dtype=float64), approximate='tanh') */
    NB_ASSERT_NEAR(apply1("gelu_tanh", 1.0, NULL), 0.8411919906082768, 2e-16);
    NB_ASSERT_NEAR(apply1("pow", 2.0, (double[]){ 2.385 }), pow(2.0, 2.385), 0.0);

    /* Softmax cross-entropy stays finite for huge logits (fused, stable). */
    nb_graph *g = nb_graph_alloc();
    nb_node *z = nb_input(g, 1, 3, (double[]){ 1000.0, -1000.0, 999.0 });
    nb_node *t = nb_input(g, 1, 3, (double[]){ 0.0, 0.0, 1.0 });
    nb_node *L = nb_softmax_ce(g, z, t);
    ck_assert_msg(L != NULL, "%s", nb_graph_errmsg(g));
    NB_ASSERT_NEAR(nb_node_scalar(L), log1p(exp(-1.0)) + 1.0, 1e-12);
    nb_node *Lb = nb_bce_logits(g, nb_input(g, 1, 2, (double[]){ 800.0, -800.0 }),
                                nb_input(g, 1, 2, (double[]){ 0.0, 1.0 }));
    ck_assert_msg(Lb != NULL, "%s", nb_graph_errmsg(g));
    NB_ASSERT_NEAR(nb_node_scalar(Lb), 800.0, 1e-12);
    nb_node *sm = nb_softmax(g, z);
    double s = 0;
    for (int k = 0; k < 3; k++) s += nb_node_value(sm)[k];
    NB_ASSERT_NEAR(s, 1.0, 1e-15);
    nb_graph_free(g);
}
END_TEST

/* nb_op_validate refuses malformed definitions. */
/* A pointwise op with loops of its own (relu) must compute exactly what its
 * pointwise function gives, value and gradient, bit for bit: at its kinks,
 * at signed zeros, across its domain and far outside it.  Any op that adds
 * such loops is covered here with no new test code. */
START_TEST(test_pointwise_loops_agree)
{
    size_t with_loops = 0;
    for (size_t i = 0; i < nb_op_count(); i++) {
        const nb_op *op = nb_op_at(i);
        if (!op->pointwise || !op->forward) continue;
        with_loops++;
        nb_interval d = nb_op_domain(op, 0);
        double x[7 * 9], gs[7 * 9];
        for (size_t k = 0; k < 63; k++) {
            x[k] = d.lo + (d.hi - d.lo) * (0.5 + 0.5 * sin(2.385 * (double)k));
            gs[k] = 1.25 * cos(0.7 * (double)k) - 0.125;
        }
        for (size_t k = 0; k < op->n_kinks; k++) x[3 + 5 * k] = op->kinks[k].x;
        x[0] = 0.0;
        x[1] = -0.0;
        x[2] = 1e300;
        x[60] = -1e300;
        x[61] = 5e-324;
        x[62] = -5e-324;
        nb_graph *g = nb_graph_alloc();
        nb_node *X = nb_leaf(g, 7, 9, x);
        nb_node *Y = nb_apply(g, op, (nb_node *[]){ X }, NULL);
        ck_assert_msg(Y != NULL, "%s: %s", op->name, nb_graph_errmsg(g));
        ck_assert_int_eq(nb_backward_seed(g, Y, gs), NB_OK);
        for (size_t k = 0; k < 63; k++) {
            double dy, y = op->pointwise(x[k], op->hyper_default, &dy);
            double grad = 0.0 + gs[k] * dy;
            ck_assert_msg(memcmp(&y, &nb_node_value(Y)[k], sizeof y) == 0,
                          "%s forward at x = %g: loop %.17g, pointwise %.17g", op->name, x[k],
                          nb_node_value(Y)[k], y);
            ck_assert_msg(memcmp(&grad, &nb_node_grad(X)[k], sizeof grad) == 0,
                          "%s backward at x = %g: loop %.17g, pointwise %.17g", op->name, x[k],
                          nb_node_grad(X)[k], grad);
        }
        nb_graph_free(g);
    }
    ck_assert_uint_ge(with_loops, 1);   /* relu */
    /* Loops come in pairs. */
    char msg[200];
    nb_op half = *nb_op_find("relu");
    half.backward = NULL;
    ck_assert_int_eq(nb_op_validate(&half, msg, sizeof msg), NB_EINVAL);
    ck_assert_msg(strstr(msg, "pair") != NULL, "%s", msg);
}
END_TEST

/* affine(x, W, b) is matmul then add, bit for bit: values and all three
 * gradients (nb_dense_forward relies on it). */
START_TEST(test_affine_is_matmul_add)
{
    double x[5 * 4], w[4 * 3], b[3] = { 0.125, -2.385, 0.75 }, seed[5 * 3];
    for (size_t k = 0; k < 20; k++) x[k] = 1.7 * sin(2.385 * (double)k);
    for (size_t k = 0; k < 12; k++) w[k] = 0.9 * cos(1.31 * (double)k + 0.4);
    for (size_t k = 0; k < 15; k++) seed[k] = 0.5 - 0.37 * (double)k;
    nb_graph *g[2];
    nb_node *X[2], *W[2], *B[2], *Y[2];
    for (int v = 0; v < 2; v++) {
        g[v] = nb_graph_alloc();
        X[v] = nb_leaf(g[v], 5, 4, x);
        W[v] = nb_param(g[v], "W", 4, 3, w);
        B[v] = nb_param(g[v], "b", 1, 3, b);
        Y[v] = v == 0 ? nb_affine(g[v], X[v], W[v], B[v])
                      : nb_add(g[v], nb_matmul(g[v], X[v], W[v]), B[v]);
        ck_assert_msg(Y[v] != NULL, "%s", nb_graph_errmsg(g[v]));
        ck_assert_int_eq(nb_backward_seed(g[v], Y[v], seed), NB_OK);
    }
    ck_assert(memcmp(nb_node_value(Y[0]), nb_node_value(Y[1]), 15 * sizeof(double)) == 0);
    ck_assert(memcmp(nb_node_grad(X[0]), nb_node_grad(X[1]), 20 * sizeof(double)) == 0);
    ck_assert(memcmp(nb_node_grad(W[0]), nb_node_grad(W[1]), 12 * sizeof(double)) == 0);
    ck_assert(memcmp(nb_node_grad(B[0]), nb_node_grad(B[1]), 3 * sizeof(double)) == 0);
    /* A bias that is not (1 x n) is refused with the shapes. */
    nb_node *bad = nb_param(g[0], "bad", 2, 3, NULL);
    ck_assert_ptr_null(nb_affine(g[0], X[0], W[0], bad));
    ck_assert_int_eq(nb_graph_status(g[0]), NB_ESHAPE);
    ck_assert_msg(strstr(nb_graph_errmsg(g[0]), "affine") && strstr(nb_graph_errmsg(g[0]), "(1x3)"),
                  "%s", nb_graph_errmsg(g[0]));
    nb_graph_free(g[0]);
    nb_graph_free(g[1]);
}
END_TEST

/* The per-coordinate checker re-evaluates only the region a coordinate
 * reaches (each op's region rule); a rule that left out part of affine's
 * output would make the differences of some coordinates stale and fail
 * here.  Every input of affine is a parameter, and two ops follow it. */
START_TEST(test_affine_regions_in_graph_check)
{
    nb_graph *g = nb_graph_alloc();
    double x[3 * 4], w[4 * 5], b[5];
    for (size_t k = 0; k < 12; k++) x[k] = 0.8 * sin(0.9 * (double)k + 0.2);
    for (size_t k = 0; k < 20; k++) w[k] = 0.6 * cos(2.385 * (double)k);
    for (size_t k = 0; k < 5; k++) b[k] = 0.1 * (double)k - 0.2;
    nb_node *X = nb_param(g, "x", 3, 4, x), *W = nb_param(g, "W", 4, 5, w), *B = nb_param(g, "b", 1, 5, b);
    nb_node *L = nb_sum(g, nb_square(g, nb_tanh(g, nb_affine(g, X, W, B))));
    ck_assert_msg(L != NULL, "%s", nb_graph_errmsg(g));
    nb_gradcheck_opts o;
    nb_gradcheck_opts_init(&o);
    nb_gradcheck_report r;
    ck_assert_int_eq(nb_gradcheck_graph(g, L, &o, &r), NB_OK);
    ck_assert_msg(r.passed && r.n_checked == 12 + 20 + 5, "%zu checked, %zu failed", r.n_checked,
                  r.n_failed);
    nb_gradcheck_report_free(&r);
    nb_graph_free(g);
}
END_TEST

START_TEST(test_op_validate)
{
    char msg[200];
    nb_op o1 = { .name = "x", .arity = 0, .pointwise = broken_sigmoid_fn };
    ck_assert_int_eq(nb_op_validate(&o1, msg, sizeof msg), NB_EINVAL);
    nb_op o2 = { .name = "x", .arity = 2, .pointwise = broken_sigmoid_fn };
    ck_assert_int_eq(nb_op_validate(&o2, msg, sizeof msg), NB_EINVAL);
    ck_assert(strstr(msg, "pointwise") != NULL);
    nb_op o3 = { .name = "x", .arity = 1, .pointwise = broken_sigmoid_fn, .domain = { { 2.0, 1.0 } } };
    ck_assert_int_eq(nb_op_validate(&o3, msg, sizeof msg), NB_EINVAL);
    ck_assert_int_eq(nb_op_validate(NULL, msg, sizeof msg), NB_EINVAL);
    nb_gradcheck_report r;
    ck_assert_int_eq(nb_gradcheck_op(&o3, NULL, NULL, &r), NB_EINVAL);
    ck_assert(strstr(r.error, "domain") != NULL);
    nb_gradcheck_report_free(&r);
    ck_assert_int_eq(nb_gradcheck_op(NULL, NULL, NULL, &r), NB_EINVAL);
    nb_gradcheck_report_free(&r);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("registry");
    tcase_add_loop_test(tc, test_registry_op_gradcheck, 0, (int)nb_op_count());
    tcase_add_test(tc, test_registry_unique_names);
    tcase_add_test(tc, test_builders_reach_their_ops);
    tcase_add_test(tc, test_broken_op_is_caught);
    tcase_add_test(tc, test_transposed_gradient_caught);
    tcase_add_test(tc, test_kinks);
    tcase_add_test(tc, test_overwriting_backward_caught);
    tcase_add_test(tc, test_kink_follows_hyper);
    tcase_add_test(tc, test_forward_values);
    tcase_add_test(tc, test_op_validate);
    tcase_add_test(tc, test_pointwise_loops_agree);
    tcase_add_test(tc, test_affine_is_matmul_add);
    tcase_add_test(tc, test_affine_regions_in_graph_check);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return nb_test_run(ops_suite()); }
