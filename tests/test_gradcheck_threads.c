/* test_gradcheck_threads.c — per-coordinate checks on several threads
 * (opts.threads) and the products' update from the base point in the
 * partial re-evaluation of graphs.
 *
 * The promises under test:
 *   - the report is the same bit for bit whatever the number of threads, for
 *     graph, fdf and Jacobian targets, failures, kinks and the order of the
 *     worst list included (targets larger than one window of coordinates);
 *   - threads are really used when opts.threads > 1 (fdf callbacks see
 *     several threads) and never when it is 1;
 *   - a product updated from the base point (matmul, affine) gives the same
 *     verdicts as the same function recomputed in full (a user op without
 *     region rules), with numeric derivatives that differ by rounding only,
 *     over random shapes and points.
 * Values such as 2.385 keep a missing factor from hiding. */
#include <check.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_vector.h>

#include <nabla/gradcheck.h>
#include <nabla/graph.h>
#include <nabla/op.h>
#include <nabla/ops.h>

#include "testutil.h"

static const size_t thread_counts[] = { 1, 2, 3, 7 };
#define N_COUNTS (sizeof thread_counts / sizeof thread_counts[0])

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* The report as JSON and as the printed table, in one string (caller frees). */
static char *report_text(const nb_gradcheck_report *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    nb_gradcheck_report_json(f, r);
    nb_gradcheck_report_print(f, r);
    fclose(f);
    return buf;
}

/* Every field of two reports, doubles compared by their bits. */
static void expect_same_report(const nb_gradcheck_report *a, const nb_gradcheck_report *b,
                               const char *what, size_t threads)
{
    ck_assert_msg(a->passed == b->passed && a->mode == b->mode && a->n_checked == b->n_checked &&
                      a->n_failed == b->n_failed && a->n_kinks == b->n_kinks &&
                      a->worst_index == b->worst_index && same_bits(a->worst_ratio, b->worst_ratio) &&
                      a->n_evals == b->n_evals && a->n_fdf_mismatch == b->n_fdf_mismatch &&
                      a->seed == b->seed && a->n_entries == b->n_entries,
                  "%s, %zu threads: counts differ from 1 thread (failed %zu/%zu, evals %zu/%zu, "
                  "worst %zu/%zu)", what, threads, b->n_failed, a->n_failed, b->n_evals, a->n_evals,
                  b->worst_index, a->worst_index);
    for (size_t k = 0; k < a->n_entries; k++) {
        const nb_gradcheck_entry *x = &a->entries[k], *y = &b->entries[k];
        ck_assert_msg(x->index == y->index && x->verdict == y->verdict && same_bits(x->x, y->x) &&
                          same_bits(x->analytic, y->analytic) && same_bits(x->numeric, y->numeric) &&
                          same_bits(x->abserr, y->abserr) && same_bits(x->tol, y->tol) &&
                          same_bits(x->ratio, y->ratio) && same_bits(x->left, y->left) &&
                          same_bits(x->right, y->right),
                      "%s, %zu threads: entry %zu differs (index %zu vs %zu)", what, threads, k,
                      y->index, x->index);
    }
    ck_assert_str_eq(a->target, b->target);
    ck_assert_str_eq(a->replay, b->replay);
    ck_assert_str_eq(a->error, b->error);
    char *ta = report_text(a), *tb = report_text(b);
    ck_assert_msg(strcmp(ta, tb) == 0, "%s, %zu threads: printed reports differ:\n%s\n---\n%s", what,
                  threads, tb, ta);
    free(ta);
    free(tb);
}

/* ---- graph target --------------------------------------------------------- */

/* Distinct threads that called softsign_bad (its evaluations run on the
 * checker's threads). */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t seen[16];
static size_t n_seen;
/* The test's thread, and after how many of its calls it waits (up to 5 s)
 * for a second thread to call (0: never), so that on a loaded machine it
 * cannot take every chunk before another thread is scheduled: set past the
 * full forward passes of the set-up, inside the first coordinates. */
static pthread_t caller;
static size_t caller_calls, wait_after;

static size_t note(void)
{
    pthread_t me = pthread_self();
    pthread_mutex_lock(&seen_lock);
    int known = 0;
    for (size_t k = 0; k < n_seen; k++) known |= pthread_equal(seen[k], me) != 0;
    if (!known && n_seen < 16) seen[n_seen++] = me;
    size_t n = n_seen;
    pthread_mutex_unlock(&seen_lock);
    return n;
}

static void note_and_wait(void)
{
    note();
    if (!pthread_equal(pthread_self(), caller) || wait_after == 0) return;
    if (++caller_calls < wait_after) return;
    wait_after = 0;
    for (int k = 0; k < 5000 && note() < 2; k++) nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
}

/* softsign with the square forgotten in its derivative: a wrong backward in
 * the first layer, so that hundreds of coordinates fail with ratios of
 * every size. */
static double softsign_bad(double x, const double *hp, double *dydx)
{
    (void)hp;
    note_and_wait();
    double a = 1.0 + fabs(x);
    *dydx = 1.0 / a;
    return x / a;
}
static const nb_op my_softsign_bad = { .name = "my_softsign_bad", .arity = 1,
                                       .pointwise = softsign_bad };

/* X (5, D) -> softsign_bad(X W1 + b1) (5, H) -> relu(. W2 + b2) (5, 4) ->
 * affine (5, 3) -> softmax_ce.  Big, more than 16,384 parameters: more than
 * one window of coordinates. */
static nb_node *net(nb_graph *g, size_t D, size_t H)
{
    double *x = malloc(5 * D * sizeof *x), *w1 = malloc(D * H * sizeof *w1);
    double *b1 = malloc(H * sizeof *b1), *w2 = malloc(H * 4 * sizeof *w2);
    double b2[4] = { 0.125, -0.25, 0.0625, 0.3 }, w3[12], b3[3] = { -0.1, 0.2385, 0.05 };
    double t[15] = { 0 };
    ck_assert(x && w1 && b1 && w2);
    for (size_t k = 0; k < 5 * D; k++) x[k] = sin(0.37 * (double)k + 0.2385);
    for (size_t k = 0; k < D * H; k++) w1[k] = 0.9 * cos(1.13 * (double)k + 0.5) / sqrt((double)D);
    for (size_t k = 0; k < H; k++) b1[k] = 0.01 * (double)(k % 17) - 0.08;
    for (size_t k = 0; k < H * 4; k++) w2[k] = 1.7 * sin(0.71 * (double)k - 0.3) / sqrt((double)H);
    for (size_t k = 0; k < 12; k++) w3[k] = 0.8 * cos(0.9 * (double)k + 1.0);
    for (size_t i = 0; i < 5; i++) t[i * 3 + (i * 2) % 3] = 1.0;
    nb_node *X = nb_input(g, 5, D, x);
    nb_node *W1 = nb_param(g, "W1", D, H, w1), *B1 = nb_param(g, "b1", 1, H, b1);
    nb_node *W2 = nb_param(g, "W2", H, 4, w2), *B2 = nb_param(g, "b2", 1, 4, b2);
    nb_node *W3 = nb_param(g, "W3", 4, 3, w3), *B3 = nb_param(g, "b3", 1, 3, b3);
    nb_node *pre = nb_add(g, nb_matmul(g, X, W1), B1);
    nb_node *h = nb_apply(g, &my_softsign_bad, &pre, NULL);
    nb_node *h2 = nb_relu(g, nb_add(g, nb_matmul(g, h, W2), B2));
    nb_node *loss = nb_softmax_ce(g, nb_affine(g, h2, W3, B3), nb_input(g, 5, 3, t));
    free(x);
    free(w1);
    free(b1);
    free(w2);
    ck_assert_msg(loss != NULL, "%s", nb_graph_errmsg(g));
    return loss;
}

START_TEST(test_threads_graph_same_report)
{
    static const size_t dims[][2] = { { 6, 5 }, { 140, 120 } };   /* 74 and 17,419 parameters */
    for (size_t c = 0; c < 2; c++) {
        nb_graph *g = nb_graph_alloc();
        nb_node *loss = net(g, dims[c][0], dims[c][1]);
        double lv = nb_node_scalar(loss);
        nb_gradcheck_report ref;
        for (size_t k = 0; k < N_COUNTS; k++) {
            nb_gradcheck_opts o;
            nb_gradcheck_opts_init(&o);
            o.max_report = 40;
            o.threads = thread_counts[k];
            nb_gradcheck_report r;
            n_seen = 0;
            caller = pthread_self();
            caller_calls = 0;
            wait_after = o.threads > 1 && c == 1 ? 3 * 5 * dims[c][1] : 0;
            ck_assert_int_eq(nb_gradcheck_graph(g, loss, &o, &r), NB_OK);
            /* The op's evaluations ran on the checker's threads (on the big
             * graph: the small one's 3 chunks may all go to the first). */
            if (o.threads == 1) ck_assert_uint_eq(n_seen, 1);
            else if (c == 1)
                ck_assert_msg(n_seen > 1, "%zu threads asked, the op saw %zu", o.threads, n_seen);
            ck_assert_int_eq(r.passed, 0);   /* the planted softsign' */
            ck_assert_uint_gt(r.n_failed, 5);
            ck_assert_uint_eq(r.n_checked, nb_graph_param_size(g));
            ck_assert(nb_node_scalar(loss) == lv);   /* the graph is back at x */
            if (k == 0) ref = r;
            else {
                expect_same_report(&ref, &r, "graph", o.threads);
                nb_gradcheck_report_free(&r);
            }
        }
        nb_gradcheck_report_free(&ref);
        nb_graph_free(g);
    }
}
END_TEST

/* ---- fdf target ------------------------------------------------------------ */

/* f(x) = sum_i 2.385 c_i x_i^2 + 0.75 |x_i - s_i| + 1.5 max(0, x_i - q_i):
 * every fifth coordinate sits on a kink of |.| (x_i = s_i exactly), every
 * seventh on one of max; the gradient doubles the quadratic term of every
 * 97th coordinate and flips the sign of every 131st.  The callbacks are
 * pure (thread-safe) and record which threads call them. */
#define FN 1500

typedef struct fdf_data {
    double c[FN], s[FN], q[FN], x0[FN];
    pthread_mutex_t lock;
    pthread_t seen[16];
    size_t n_seen;
    pthread_t caller;   /* the test's thread */
    int wait;           /* 1: the caller's first moved evaluation waits for a second thread */
} fdf_data;

static size_t note_thread(fdf_data *d)
{
    pthread_t me = pthread_self();
    pthread_mutex_lock(&d->lock);
    int known = 0;
    for (size_t k = 0; k < d->n_seen; k++) known |= pthread_equal(d->seen[k], me) != 0;
    if (!known && d->n_seen < 16) d->seen[d->n_seen++] = me;
    size_t n = d->n_seen;
    pthread_mutex_unlock(&d->lock);
    return n;
}

/* On a loaded machine the caller's thread could take every chunk before
 * another thread is scheduled; so, when threads are asked for, its first
 * evaluation away from x0 waits (up to 5 s) until another thread has
 * called f.  The values are unaffected. */
static void wait_for_second(fdf_data *d, const gsl_vector *x)
{
    if (!pthread_equal(pthread_self(), d->caller) || !d->wait) return;
    int moved = 0;
    for (size_t i = 0; i < FN && !moved; i++) moved = gsl_vector_get(x, i) != d->x0[i];
    if (!moved) return;
    d->wait = 0;
    for (int k = 0; k < 5000 && note_thread(d) < 2; k++) nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
}

static double kf(const gsl_vector *x, void *p)
{
    fdf_data *d = p;
    note_thread(d);
    wait_for_second(d, x);
    double s = 0.0;
    for (size_t i = 0; i < FN; i++) {
        double xi = gsl_vector_get(x, i);
        s += 2.385 * d->c[i] * xi * xi + 0.75 * fabs(xi - d->s[i]) + 1.5 * fmax(0.0, xi - d->q[i]);
    }
    return s;
}

static void kdf(const gsl_vector *x, void *p, gsl_vector *gr)
{
    fdf_data *d = p;
    for (size_t i = 0; i < FN; i++) {
        double xi = gsl_vector_get(x, i);
        double quad = 2.0 * 2.385 * d->c[i] * xi * (i % 97 == 3 ? 2.0 : 1.0);
        double g = quad + 0.75 * (xi > d->s[i] ? 1.0 : xi < d->s[i] ? -1.0 : 0.0) +
                   (xi > d->q[i] ? 1.5 : 0.0);
        gsl_vector_set(gr, i, i % 131 == 5 ? -g : g);
    }
}

START_TEST(test_threads_fdf_same_report)
{
    fdf_data *d = calloc(1, sizeof *d);
    ck_assert_ptr_nonnull(d);
    pthread_mutex_init(&d->lock, NULL);
    gsl_vector *x = gsl_vector_alloc(FN);
    for (size_t i = 0; i < FN; i++) {
        double xi = 1.1 * sin(0.61 * (double)i + 0.2385);
        gsl_vector_set(x, i, xi);
        d->x0[i] = xi;
        d->c[i] = 0.5 + 0.25 * cos((double)i);
        d->s[i] = i % 5 == 0 ? xi : xi - 0.7;
        d->q[i] = i % 7 == 0 ? xi : xi + 0.9;
    }
    gsl_multimin_function_fdf fdf = { kf, kdf, NULL, FN, d };
    nb_gradcheck_report ref;
    for (size_t k = 0; k < N_COUNTS; k++) {
        nb_gradcheck_opts o;
        nb_gradcheck_opts_init(&o);
        o.max_report = 60;
        o.threads = thread_counts[k];
        d->n_seen = 0;
        d->caller = pthread_self();
        d->wait = o.threads > 1;
        nb_gradcheck_report r;
        ck_assert_int_eq(nb_gradcheck_fdf(&fdf, x, &o, &r), NB_OK);
        ck_assert_int_eq(r.passed, 0);
        ck_assert_uint_gt(r.n_kinks, 100);
        ck_assert_uint_gt(r.n_failed, 20);
        ck_assert_uint_eq(r.n_checked, FN);
        /* One thread stays on the caller's; more are really used. */
        if (o.threads == 1) ck_assert_uint_eq(d->n_seen, 1);
        else ck_assert_msg(d->n_seen > 1, "%zu threads asked, the callbacks saw %zu", o.threads,
                           d->n_seen);
        if (k == 0) ref = r;
        else {
            expect_same_report(&ref, &r, "fdf", o.threads);
            nb_gradcheck_report_free(&r);
        }
    }
    nb_gradcheck_report_free(&ref);
    gsl_vector_free(x);
    pthread_mutex_destroy(&d->lock);
    free(d);
}
END_TEST

/* ---- Jacobian target -------------------------------------------------------- */

/* r_i(x) = sum_j a_ij tanh(x_j) + 0.5 |u| + 0.75 max(0, u) - y_i with
 * u = x_{i mod p} - x0_{i mod p},
 * 30 residuals, 120 parameters: each of the first 30 columns sits on a kink
 * of one residual (J takes the subgradient 0 there, between -0.5 and 1.25);
 * J has a sign flip in every 53rd entry. */
#define JN 30
#define JP 120

typedef struct jac_data {
    double a[JN * JP], x0[JP], y[JN];
} jac_data;

static int jf(const gsl_vector *x, void *p, gsl_vector *f)
{
    const jac_data *d = p;
    for (size_t i = 0; i < JN; i++) {
        double s = -d->y[i];
        for (size_t j = 0; j < JP; j++) s += d->a[i * JP + j] * tanh(gsl_vector_get(x, j));
        size_t m = i % JP;
        double u = gsl_vector_get(x, m) - d->x0[m];
        s += 0.5 * fabs(u) + 0.75 * fmax(0.0, u);
        gsl_vector_set(f, i, s);
    }
    return GSL_SUCCESS;
}

static int jdf(const gsl_vector *x, void *p, gsl_matrix *J)
{
    const jac_data *d = p;
    for (size_t i = 0; i < JN; i++)
        for (size_t j = 0; j < JP; j++) {
            double t = tanh(gsl_vector_get(x, j));
            double v = d->a[i * JP + j] * (1.0 - t * t);
            if ((i * JP + j) % 53 == 11) v = -v;
            gsl_matrix_set(J, i, j, v);
        }
    return GSL_SUCCESS;
}

START_TEST(test_threads_jacobian_same_report)
{
    jac_data *d = malloc(sizeof *d);
    ck_assert_ptr_nonnull(d);
    gsl_vector *x = gsl_vector_alloc(JP);
    for (size_t j = 0; j < JP; j++) {
        gsl_vector_set(x, j, 0.9 * cos(0.83 * (double)j + 0.2385));
        d->x0[j] = gsl_vector_get(x, j);
    }
    for (size_t k = 0; k < JN * JP; k++) d->a[k] = sin(0.29 * (double)k + 1.0);
    for (size_t i = 0; i < JN; i++) d->y[i] = 0.1 * (double)i;
    gsl_multifit_nlinear_fdf fdf;
    memset(&fdf, 0, sizeof fdf);
    fdf.f = jf;
    fdf.df = jdf;
    fdf.n = JN;
    fdf.p = JP;
    fdf.params = d;
    nb_gradcheck_report ref;
    for (size_t k = 0; k < N_COUNTS; k++) {
        nb_gradcheck_opts o;
        nb_gradcheck_opts_init(&o);
        o.max_report = 50;
        o.threads = thread_counts[k];
        nb_gradcheck_report r;
        ck_assert_int_eq(nb_jaccheck_fdf(&fdf, x, &o, &r), NB_OK);
        ck_assert_int_eq(r.passed, 0);
        ck_assert_uint_gt(r.n_failed, 50);
        ck_assert_uint_ge(r.n_kinks, JN / 2);
        ck_assert_uint_eq(r.n_checked, JN * JP);
        if (k == 0) ref = r;
        else {
            expect_same_report(&ref, &r, "jacobian", o.threads);
            nb_gradcheck_report_free(&r);
        }
    }
    nb_gradcheck_report_free(&ref);
    gsl_vector_free(x);
    free(d);
}
END_TEST

/* ---- the products' update against a full recomputation ------------------ */

/* plain_matmul: C = A B by loops, with no region rules: the partial
 * re-evaluation recomputes it whole at every evaluation (the plain path). */
static int plain_shape(const nb_node *const *in, const double *hp, size_t *rows, size_t *cols,
                       char *msg, size_t len)
{
    (void)hp;
    if (nb_node_cols(in[0]) != nb_node_rows(in[1])) {
        snprintf(msg, len, "inner sizes differ");
        return NB_ESHAPE;
    }
    *rows = nb_node_rows(in[0]);
    *cols = nb_node_cols(in[1]);
    return NB_OK;
}

static void plain_forward(nb_node *out)
{
    const nb_node *a = nb_node_input(out, 0), *b = nb_node_input(out, 1);
    size_t m = nb_node_rows(a), k = nb_node_cols(a), n = nb_node_cols(b);
    const double *A = nb_node_cvalue(a), *B = nb_node_cvalue(b);
    double *C = nb_node_value(out);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0.0;
            for (size_t q = 0; q < k; q++) s += A[i * k + q] * B[q * n + j];
            C[i * n + j] = s;
        }
}

/* dA += G B^T, dB += A^T G */
static void plain_backward(nb_node *out)
{
    nb_node *a = nb_node_input(out, 0), *b = nb_node_input(out, 1);
    size_t m = nb_node_rows(a), k = nb_node_cols(a), n = nb_node_cols(b);
    const double *G = nb_node_grad(out), *A = nb_node_cvalue(a), *B = nb_node_cvalue(b);
    double *dA = nb_node_grad(a), *dB = nb_node_grad(b);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            for (size_t q = 0; q < k; q++) {
                if (dA) dA[i * k + q] += G[i * n + j] * B[q * n + j];
                if (dB) dB[q * n + j] += A[i * k + q] * G[i * n + j];
            }
}

static const nb_op plain_matmul = { .name = "plain_matmul", .maths = "C = A B; dA = G B^T, dB = A^T G",
                                    .arity = 2, .shape = plain_shape, .forward = plain_forward,
                                    .backward = plain_backward };

/* A random chain through products: X (m, k0) -> tanh(X W1 [+ b1]) -> .. W2
 * [+ b2] -> sum of squares, with matmul and affine (fast) or plain_matmul
 * and add (plain), the same parameters either way. */
static nb_node *chain(nb_graph *g, gsl_rng *rng, int plain, int use_affine, size_t m, size_t k0,
                      size_t k1, size_t k2)
{
    size_t nx = m * k0, n1 = k0 * k1, n2 = k1 * k2;
    double *v = malloc((nx + n1 + k1 + n2 + k2) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < nx + n1 + k1 + n2 + k2; i++) v[i] = 2.385 * (gsl_rng_uniform(rng) - 0.5);
    nb_node *X = nb_input(g, m, k0, v);
    nb_node *W1 = nb_param(g, "W1", k0, k1, v + nx), *b1 = nb_param(g, "b1", 1, k1, v + nx + n1);
    nb_node *W2 = nb_param(g, "W2", k1, k2, v + nx + n1 + k1);
    nb_node *b2 = nb_param(g, "b2", 1, k2, v + nx + n1 + k1 + n2);
    nb_node *in1[2] = { X, W1 };
    nb_node *z1 = plain ? nb_add(g, nb_apply(g, &plain_matmul, in1, NULL), b1)
                        : use_affine ? nb_affine(g, X, W1, b1) : nb_add(g, nb_matmul(g, X, W1), b1);
    nb_node *h = nb_tanh(g, z1);
    nb_node *in2[2] = { h, W2 };
    nb_node *z2 = plain ? nb_add(g, nb_apply(g, &plain_matmul, in2, NULL), b2)
                        : use_affine ? nb_affine(g, h, W2, b2) : nb_add(g, nb_matmul(g, h, W2), b2);
    nb_node *loss = nb_sum(g, nb_square(g, nb_tanh(g, z2)));
    free(v);
    ck_assert_msg(loss != NULL, "%s", nb_graph_errmsg(g));
    return loss;
}

static const nb_gradcheck_entry *entry_of(const nb_gradcheck_report *r, size_t index)
{
    for (size_t k = 0; k < r->n_entries; k++)
        if (r->entries[k].index == index) return &r->entries[k];
    return NULL;
}

START_TEST(test_update_agrees_with_recompute)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (unsigned long seed = 1; seed <= 24; seed++) {
        gsl_rng_set(rng, seed);
        size_t m = 1 + gsl_rng_uniform_int(rng, 5), k0 = 1 + gsl_rng_uniform_int(rng, 9);
        size_t k1 = 1 + gsl_rng_uniform_int(rng, 12), k2 = 1 + gsl_rng_uniform_int(rng, 6);
        int use_affine = (int)(seed % 2);
        nb_gradcheck_report r[2];
        for (int plain = 0; plain < 2; plain++) {
            gsl_rng_set(rng, 1000 + seed);   /* the same values both times */
            nb_graph *g = nb_graph_alloc();
            nb_node *loss = chain(g, rng, plain, use_affine, m, k0, k1, k2);
            nb_gradcheck_opts o;
            nb_gradcheck_opts_init(&o);
            o.max_report = nb_graph_param_size(g);   /* every coordinate's entry */
            ck_assert_int_eq(nb_gradcheck_graph(g, loss, &o, &r[plain]), NB_OK);
            nb_graph_free(g);
        }
        ck_assert_msg(r[0].passed && r[1].passed, "seed %lu (%zu,%zu,%zu,%zu): fast %d plain %d", seed,
                      m, k0, k1, k2, r[0].passed, r[1].passed);
        ck_assert_uint_eq(r[0].n_checked, r[1].n_checked);
        ck_assert_uint_eq(r[0].n_entries, r[0].n_checked);
        for (size_t i = 0; i < r[0].n_checked; i++) {
            const nb_gradcheck_entry *f = entry_of(&r[0], i), *p = entry_of(&r[1], i);
            ck_assert(f && p);
            ck_assert_int_eq(f->verdict, p->verdict);
            ck_assert(same_bits(f->x, p->x));
            /* The analytic values come from the same kind of backward;
             * the numeric ones differ by rounding, inside both error bars. */
            ck_assert_msg(fabs(f->numeric - p->numeric) <= f->tol + p->tol,
                          "seed %lu, coordinate %zu: update %.17g, recomputed %.17g (bars %g, %g)",
                          seed, i, f->numeric, p->numeric, f->tol, p->tol);
        }
        nb_gradcheck_report_free(&r[0]);
        nb_gradcheck_report_free(&r[1]);
    }
    gsl_rng_free(rng);
}
END_TEST

/* The update catches what the recomputation catches: a wrong backward
 * downstream of a product is found on exactly the same coordinates. */
static double cube_bad(double x, const double *hp, double *d)
{
    (void)hp;
    *d = 2.0 * x * x;   /* wrong: should be 3 x^2 */
    return x * x * x;
}
static const nb_op my_cube_bad = { .name = "my_cube_bad", .arity = 1, .pointwise = cube_bad };

START_TEST(test_update_catches_like_recompute)
{
    double w1[12], w2[8], x[6] = { 0.3, -0.8, 1.1, 0.45, -0.2385, 0.7 };
    for (int k = 0; k < 12; k++) w1[k] = 0.5 * sin(0.9 * k + 0.1);
    for (int k = 0; k < 8; k++) w2[k] = 0.75 * cos(0.6 * k - 0.2);
    size_t failed[2], worst[2];
    for (int plain = 0; plain < 2; plain++) {
        nb_graph *g = nb_graph_alloc();
        nb_node *X = nb_input(g, 2, 3, x), *W1 = nb_param(g, "W1", 3, 4, w1);
        nb_node *W2 = nb_param(g, "W2", 4, 2, w2);
        nb_node *in1[2] = { X, W1 };
        nb_node *z = plain ? nb_apply(g, &plain_matmul, in1, NULL) : nb_matmul(g, X, W1);
        nb_node *h = nb_apply(g, &my_cube_bad, &z, NULL);
        nb_node *in2[2] = { h, W2 };
        nb_node *y = plain ? nb_apply(g, &plain_matmul, in2, NULL) : nb_matmul(g, h, W2);
        nb_node *loss = nb_sum(g, nb_square(g, y));
        ck_assert_msg(loss != NULL, "%s", nb_graph_errmsg(g));
        nb_gradcheck_report r;
        ck_assert_int_eq(nb_gradcheck_graph(g, loss, NULL, &r), NB_OK);
        ck_assert_int_eq(r.passed, 0);
        failed[plain] = r.n_failed;
        worst[plain] = r.worst_index;
        nb_gradcheck_report_free(&r);
        nb_graph_free(g);
    }
    ck_assert_uint_eq(failed[0], failed[1]);
    ck_assert_uint_eq(failed[0], 12);   /* every W1 coordinate, no W2 one */
    ck_assert_uint_eq(worst[0], worst[1]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gradcheck_threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_threads_graph_same_report);
    tcase_add_test(tc, test_threads_fdf_same_report);
    tcase_add_test(tc, test_threads_jacobian_same_report);
    suite_add_tcase(s, tc);
    tc = tcase_create("update");
    tcase_add_test(tc, test_update_agrees_with_recompute);
    tcase_add_test(tc, test_update_catches_like_recompute);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return nb_test_run(suite()); }
