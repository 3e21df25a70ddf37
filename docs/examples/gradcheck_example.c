/* gradcheck_example.c — checking your own hand-derived gradient with nabla.
 *
 * The program of docs/gradcheck.md, built and run by `make check` as
 * tests/example_gradcheck.  It
 *
 *   1. defines an L2-regularised logistic regression cost (bias not
 *      regularised) with its hand-derived gradient, as the very
 *      gsl_multimin_function_fdf one would give to GSL's minimisers;
 *   2. checks it with nb_gradcheck_fdf (per coordinate) and prints the report;
 *   3. checks two buggy gradients (a regularised bias; a missing 1/m) and
 *      expects them to FAIL on the right coordinates;
 *   4. repeats the check in directional mode;
 *   5. checks the hand-derived Jacobian of a least-squares model
 *      (y = A e^(-lambda t) + b) with nb_jaccheck_fdf, right and with a sign
 *      error.
 *
 * Exit status 0 when every expectation holds, 1 otherwise.
 */
#include <math.h>
#include <stdio.h>

#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_vector.h>

#include <nabla/nabla.h>

/* ---- the data: m = 8 examples, d = 3 features, labels 0/1 ------------- */

#define M 8
#define D 3

static const double X[M][D] = {
    { 0.50, -1.20, 2.385 }, { -0.75, 0.30, 1.10 }, { 1.80, 0.95, -0.40 },
    { -1.35, -0.60, 0.25 }, { 0.20, 1.75, -1.30 }, { 2.10, -0.15, 0.80 },
    { -0.45, -1.90, -0.70 }, { 1.05, 0.65, 1.60 },
};
static const double Y[M] = { 1, 0, 1, 0, 1, 1, 0, 1 };

/* Parameters theta = (w_0, w_1, w_2, b): n = D + 1, the bias last. */
#define N_THETA (D + 1)
#define BIAS D

typedef struct logreg {
    double lambda;   /* L2 strength */
    int bug;         /* 0: correct gradient; see enum below */
} logreg;

enum { BUG_NONE = 0, BUG_REGULARISED_BIAS = 1, BUG_MISSING_1_OVER_M = 2 };

/* Cost:  J(w, b) = (1/m) sum_i [ ln(1 + e^z_i) - y_i z_i ] + (lambda / 2m) |w|^2,
 *        z_i = w . x_i + b          (the bias is not regularised)
 * Gradient (by hand):
 *        dJ/dw_j = (1/m) sum_i (sigmoid(z_i) - y_i) x_ij + (lambda/m) w_j
 *        dJ/db   = (1/m) sum_i (sigmoid(z_i) - y_i)                          */
static double softplus(double z) { return fmax(z, 0.0) + log1p(exp(-fabs(z))); }
static double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)); }

static double z_of(const gsl_vector *th, size_t i)
{
    double z = gsl_vector_get(th, BIAS);
    for (size_t j = 0; j < D; j++) z += gsl_vector_get(th, j) * X[i][j];
    return z;
}

static double logreg_f(const gsl_vector *th, void *params)
{
    const logreg *p = params;
    double s = 0.0, w2 = 0.0;
    for (size_t i = 0; i < M; i++) {
        double z = z_of(th, i);
        s += softplus(z) - Y[i] * z;
    }
    for (size_t j = 0; j < D; j++) w2 += gsl_vector_get(th, j) * gsl_vector_get(th, j);
    return s / M + p->lambda / (2.0 * M) * w2;
}

static void logreg_df(const gsl_vector *th, void *params, gsl_vector *g)
{
    const logreg *p = params;
    gsl_vector_set_zero(g);
    for (size_t i = 0; i < M; i++) {
        double r = sigmoid(z_of(th, i)) - Y[i];
        for (size_t j = 0; j < D; j++) *gsl_vector_ptr(g, j) += r * X[i][j];
        *gsl_vector_ptr(g, BIAS) += r;
    }
    gsl_vector_scale(g, 1.0 / M);
    double reg = p->bug == BUG_MISSING_1_OVER_M ? p->lambda : p->lambda / M;
    for (size_t j = 0; j < D; j++) *gsl_vector_ptr(g, j) += reg * gsl_vector_get(th, j);
    if (p->bug == BUG_REGULARISED_BIAS)   /* the classic slip: w and b regularised alike */
        *gsl_vector_ptr(g, BIAS) += p->lambda / M * gsl_vector_get(th, BIAS);
}

static void logreg_fdf(const gsl_vector *th, void *params, double *f, gsl_vector *g)
{
    *f = logreg_f(th, params);
    logreg_df(th, params, g);
}

/* ---- a least-squares model: y = A e^(-lambda t) + b -------------------- */

#define NT 10

typedef struct expfit {
    double t[NT], y[NT];
    int bug;   /* 1: the sign of dr/dlambda is lost */
} expfit;

/* Residuals r_i = A e^(-lambda t_i) + b - y_i;  Jacobian (n = NT, p = 3):
 *   dr_i/dA = e^(-lambda t_i),  dr_i/dlambda = -t_i A e^(-lambda t_i),  dr_i/db = 1 */
static int expfit_f(const gsl_vector *x, void *params, gsl_vector *r)
{
    const expfit *e = params;
    double A = gsl_vector_get(x, 0), lam = gsl_vector_get(x, 1), b = gsl_vector_get(x, 2);
    for (size_t i = 0; i < NT; i++) gsl_vector_set(r, i, A * exp(-lam * e->t[i]) + b - e->y[i]);
    return GSL_SUCCESS;
}

static int expfit_df(const gsl_vector *x, void *params, gsl_matrix *J)
{
    const expfit *e = params;
    double A = gsl_vector_get(x, 0), lam = gsl_vector_get(x, 1);
    for (size_t i = 0; i < NT; i++) {
        double ex = exp(-lam * e->t[i]);
        gsl_matrix_set(J, i, 0, ex);
        gsl_matrix_set(J, i, 1, (e->bug ? 1.0 : -1.0) * e->t[i] * A * ex);
        gsl_matrix_set(J, i, 2, 1.0);
    }
    return GSL_SUCCESS;
}

/* ---- expectations ------------------------------------------------------ */

static int failures = 0;

static void expect(int ok, const char *what)
{
    printf("%s: %s\n\n", ok ? "ok  " : "FAILED", what);
    if (!ok) failures++;
}

int main(void)
{
    /* 1. The correct gradient, per coordinate (the default mode). */
    logreg lr = { .lambda = 0.7, .bug = BUG_NONE };
    gsl_multimin_function_fdf fdf = { logreg_f, logreg_df, logreg_fdf, N_THETA, &lr };
    double th0[N_THETA] = { 0.35, -0.8, 0.6, 0.45 };   /* w_0, w_1, w_2, b */
    gsl_vector_view th = gsl_vector_view_array(th0, N_THETA);

    nb_gradcheck_opts opts;
    nb_gradcheck_opts_init(&opts);   /* always start from the defaults */
    nb_gradcheck_report rep;

    int st = nb_gradcheck_fdf(&fdf, &th.vector, &opts, &rep);
    if (st != NB_OK) {   /* the check could not run: rep.error says why */
        fprintf(stderr, "gradcheck: %s: %s\n", nb_strerror(st), rep.error);
        return 1;
    }
    nb_gradcheck_report_print(stdout, &rep);
    expect(rep.passed && rep.n_failed == 0, "the hand-derived gradient passes");
    nb_gradcheck_report_free(&rep);

    /* 2. Bug: the bias regularised in the gradient but not in the cost.
     *    Only coordinate 3 (b) is wrong, by lambda b / m = 0.039. */
    lr.bug = BUG_REGULARISED_BIAS;
    st = nb_gradcheck_fdf(&fdf, &th.vector, &opts, &rep);
    nb_gradcheck_report_print(stdout, &rep);
    expect(st == NB_OK && !rep.passed && rep.n_failed == 1 && rep.worst_index == BIAS,
           "a regularised bias FAILS, on coordinate 3 (b) only");
    nb_gradcheck_report_free(&rep);

    /* 3. Bug: lambda w instead of (lambda/m) w: every weight is wrong, the
     *    bias is right. */
    lr.bug = BUG_MISSING_1_OVER_M;
    st = nb_gradcheck_fdf(&fdf, &th.vector, &opts, &rep);
    nb_gradcheck_report_print(stdout, &rep);
    int bias_ok = 1;
    for (size_t k = 0; k < rep.n_entries; k++)
        if (rep.entries[k].index == BIAS && rep.entries[k].verdict != NB_GC_PASS) bias_ok = 0;
    expect(st == NB_OK && !rep.passed && rep.n_failed == D && rep.worst_index != BIAS && bias_ok,
           "a missing 1/m FAILS on the three weights, not on the bias");
    nb_gradcheck_report_free(&rep);

    /* 4. Directional mode: n_directions random directions, whatever n.
     *    It tells you that something is wrong, not where. */
    opts.mode = NB_GC_DIRECTIONAL;
    lr.bug = BUG_NONE;
    st = nb_gradcheck_fdf(&fdf, &th.vector, &opts, &rep);
    nb_gradcheck_report_print(stdout, &rep);
    expect(st == NB_OK && rep.passed && rep.n_checked == opts.n_directions,
           "directional mode: the correct gradient passes");
    nb_gradcheck_report_free(&rep);

    lr.bug = BUG_REGULARISED_BIAS;
    st = nb_gradcheck_fdf(&fdf, &th.vector, &opts, &rep);
    nb_gradcheck_report_print(stdout, &rep);
    expect(st == NB_OK && !rep.passed, "directional mode: the regularised bias FAILS");
    /* The same report as one line of JSON, for scripts. */
    nb_gradcheck_report_json(stdout, &rep);
    putchar('\n');
    nb_gradcheck_report_free(&rep);

    /* 5. A hand-derived Jacobian: gsl_multifit_nlinear_fdf, checked entry
     *    by entry (index i*p + j) with nb_jaccheck_fdf. */
    expfit ef = { .bug = 0 };
    for (size_t i = 0; i < NT; i++) {
        ef.t[i] = 0.5 * (double)i;
        ef.y[i] = 5.0 * exp(-0.4 * ef.t[i]) + 1.0 + 0.05 * sin(2.385 * (double)i);
    }
    gsl_multifit_nlinear_fdf jf = { .f = expfit_f, .df = expfit_df, .fvv = NULL,
                                    .n = NT, .p = 3, .params = &ef };
    double x0[3] = { 4.2, 0.35, 0.8 };   /* A, lambda, b */
    gsl_vector_view xv = gsl_vector_view_array(x0, 3);

    opts.mode = NB_GC_PER_COORD;
    st = nb_jaccheck_fdf(&jf, &xv.vector, &opts, &rep);
    nb_gradcheck_report_print(stdout, &rep);
    expect(st == NB_OK && rep.passed && rep.n_checked == NT * 3,
           "the hand-derived Jacobian passes (30 entries)");
    nb_gradcheck_report_free(&rep);

    ef.bug = 1;
    st = nb_jaccheck_fdf(&jf, &xv.vector, &opts, &rep);
    nb_gradcheck_report_print(stdout, &rep);
    /* Column 1 is wrong except in row 0, where t = 0 makes the entry 0. */
    expect(st == NB_OK && !rep.passed && rep.n_failed == NT - 1 && rep.worst_index % 3 == 1,
           "a lost minus sign in dr/dlambda FAILS in column 1 (lambda)");
    nb_gradcheck_report_free(&rep);

    opts.mode = NB_GC_DIRECTIONAL;
    st = nb_jaccheck_fdf(&jf, &xv.vector, &opts, &rep);
    expect(st == NB_OK && !rep.passed, "directional mode catches the Jacobian's sign error too");
    nb_gradcheck_report_free(&rep);

    if (failures) printf("%d expectation(s) did not hold\n", failures);
    else printf("all expectations hold\n");
    return failures ? 1 : 0;
}
