/* test_graph.c — the tape: leaves, parameters, broadcasting, backward,
 * reset, the arena (no malloc after warm-up), and every error path. */
#include <config.h>

#include <string.h>

#include <nabla/nabla.h>
#include "testutil.h"

/* ---- counting / failing allocator -------------------------------------- */


/* ---- values ------------------------------------------------------------ */

START_TEST(test_status_table)
{
    ck_assert_str_eq(nb_strerror(NB_OK), "success");
    ck_assert_str_eq(nb_status_name(NB_ESHAPE), "NB_ESHAPE");
    ck_assert_str_eq(nb_strerror(-7), "unknown status");
    ck_assert_str_eq(nb_strerror(9999), "unknown status");
    for (int s = 0; s < (int)NB_STATUS_COUNT_; s++) {
        ck_assert_ptr_nonnull(nb_strerror(s));
        ck_assert_str_ne(nb_strerror(s), "unknown status");
    }
}
END_TEST

START_TEST(test_broadcast_bias_and_scalar)
{
    nb_graph *g = nb_graph_alloc();
    const double xv[6] = { 2.385, -1.25, 0.5, 3.75, -0.125, 1.5 };   /* (2,3) */
    const double bv[3] = { 0.25, -0.5, 1.125 };                       /* (1,3) */
    const double cv[2] = { 10.0, -20.0 };                             /* (2,1) */
    nb_node *x = nb_leaf(g, 2, 3, xv);
    nb_node *b = nb_leaf(g, 1, 3, bv);
    nb_node *c = nb_leaf(g, 2, 1, cv);
    nb_node *s = nb_leaf(g, 1, 1, (double[]){ 1.5 });
    nb_node *y = nb_add(g, nb_add(g, nb_mul(g, x, s), b), c);
    ck_assert_msg(y != NULL, "%s", nb_graph_errmsg(g));
    ck_assert_uint_eq(nb_node_rows(y), 2);
    ck_assert_uint_eq(nb_node_cols(y), 3);
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 3; j++)
            NB_ASSERT_NEAR(nb_node_value(y)[i * 3 + j], xv[i * 3 + j] * 1.5 + bv[j] + cv[i], 1e-15);
    ck_assert_int_eq(nb_backward_seed(g, y, NULL), NB_OK);
    /* Gradients sum over broadcast dimensions. */
    for (size_t j = 0; j < 3; j++) NB_ASSERT_NEAR(nb_node_grad(b)[j], 2.0, 0.0);
    for (size_t i = 0; i < 2; i++) NB_ASSERT_NEAR(nb_node_grad(c)[i], 3.0, 0.0);
    double sx = 0;
    for (size_t k = 0; k < 6; k++) sx += xv[k];
    NB_ASSERT_NEAR(nb_node_grad(s)[0], sx, 1e-14);
    for (size_t k = 0; k < 6; k++) NB_ASSERT_NEAR(nb_node_grad(x)[k], 1.5, 0.0);
    nb_graph_free(g);
}
END_TEST

/* A view borrows the caller's data: no copy, same checks. */
START_TEST(test_input_view)
{
    nb_graph *g = nb_graph_alloc();
    double x[4] = { 2.385, -1.5, 0.25, 4.0 };
    nb_node *v = nb_input_view(g, 2, 2, x);
    ck_assert_ptr_nonnull(v);
    ck_assert_ptr_eq(nb_node_cvalue(v), x);
    nb_node *s = nb_sum(g, nb_square(g, v));
    NB_ASSERT_NEAR(nb_node_scalar(s), 2.385 * 2.385 + 2.25 + 0.0625 + 16.0, 1e-14);
    x[3] = 1.0;   /* the caller may change it; a replay sees the change */
    ck_assert_int_eq(nb_graph_forward(g), NB_OK);
    NB_ASSERT_NEAR(nb_node_scalar(s), 2.385 * 2.385 + 2.25 + 0.0625 + 1.0, 1e-14);
    nb_graph_reset(g);
    ck_assert_ptr_null(nb_input_view(g, 2, 2, NULL));
    ck_assert_int_eq(nb_graph_status(g), NB_EINVAL);
    nb_graph_reset(g);
    x[1] = NAN;
    ck_assert_ptr_null(nb_input_view(g, 2, 2, x));
    ck_assert_int_eq(nb_graph_status(g), NB_EDOMAIN);
    ck_assert_msg(strstr(nb_graph_errmsg(g), "(0,1)") != NULL, "%s", nb_graph_errmsg(g));
    nb_graph_free(g);
}
END_TEST

START_TEST(test_matmul_values)
{
    nb_graph *g = nb_graph_alloc();
    const double a[6] = { 1.5, -2.0, 0.25, 3.0, 0.5, -1.0 };          /* (2,3) */
    const double b[6] = { 2.385, 1.0, -0.5, 4.0, 1.25, -3.0 };        /* (3,2) */
    nb_node *A = nb_leaf(g, 2, 3, a), *B = nb_leaf(g, 3, 2, b);
    nb_node *C = nb_matmul(g, A, B);
    ck_assert_ptr_nonnull(C);
    /* Hand calculation. */
    NB_ASSERT_NEAR(nb_node_value(C)[0], 1.5 * 2.385 + -2.0 * -0.5 + 0.25 * 1.25, 1e-15);
    NB_ASSERT_NEAR(nb_node_value(C)[3], 3.0 * 1.0 + 0.5 * 4.0 + -1.0 * -3.0, 1e-15);
    nb_node *T = nb_transpose(g, C);
    ck_assert_uint_eq(nb_node_rows(T), 2);
    NB_ASSERT_NEAR(nb_node_value(T)[1], nb_node_value(C)[2], 0.0);
    nb_node *rs = nb_row_sums(g, A), *cs = nb_col_sums(g, A), *m = nb_mean(g, A);
    NB_ASSERT_NEAR(nb_node_value(rs)[1], 2.5, 1e-15);
    ck_assert_uint_eq(nb_node_cols(cs), 3);
    NB_ASSERT_NEAR(nb_node_value(cs)[0], 4.5, 1e-15);
    NB_ASSERT_NEAR(nb_node_scalar(m), 2.25 / 6.0, 1e-15);
    nb_graph_free(g);
}
END_TEST

/* Parameters survive reset, their gradients accumulate until zero_grad. */
START_TEST(test_params_survive_reset)
{
    nb_graph *g = nb_graph_alloc();
    nb_node *w = nb_param(g, "w", 1, 2, (double[]){ 2.385, -0.75 });
    ck_assert_ptr_nonnull(w);
    ck_assert_str_eq(nb_node_name(w), "w");
    ck_assert_int_eq(nb_node_is_param(w), 1);
    for (int step = 0; step < 2; step++) {
        nb_node *x = nb_input(g, 2, 1, (double[]){ 3.0, 4.0 });
        nb_node *y = nb_matmul(g, w, x);
        ck_assert_int_eq(nb_backward(g, y), NB_OK);
        nb_graph_reset(g);
        ck_assert_uint_eq(nb_graph_tape_size(g), 0);
    }
    NB_ASSERT_NEAR(nb_node_grad(w)[0], 6.0, 0.0);
    NB_ASSERT_NEAR(nb_node_grad(w)[1], 8.0, 0.0);
    NB_ASSERT_NEAR(nb_node_value(w)[0], 2.385, 0.0);
    nb_graph_zero_grad(g);
    NB_ASSERT_NEAR(nb_node_grad(w)[0], 0.0, 0.0);
    ck_assert_ptr_eq(nb_graph_param_find(g, "w"), w);
    ck_assert_ptr_null(nb_graph_param_find(g, "nope"));
    ck_assert_uint_eq(nb_graph_param_count(g), 1);
    ck_assert_uint_eq(nb_graph_param_size(g), 2);
    nb_graph_free(g);
}
END_TEST

/* Forward replay after a parameter change gives the new value. */
START_TEST(test_forward_replay)
{
    nb_graph *g = nb_graph_alloc();
    nb_node *w = nb_param(g, NULL, 1, 1, (double[]){ 0.5 });
    nb_node *y = nb_tanh(g, nb_mul(g, w, nb_scalar(g, 2.385)));
    NB_ASSERT_NEAR(nb_node_scalar(y), tanh(0.5 * 2.385), 1e-16);
    nb_node_value(w)[0] = -1.25;
    ck_assert_int_eq(nb_graph_forward(g), NB_OK);
    NB_ASSERT_NEAR(nb_node_scalar(y), tanh(-1.25 * 2.385), 1e-16);
    ck_assert_str_eq(nb_node_name(w), "p0");
    nb_graph_free(g);
}
END_TEST

/* nb_apply validates an op on its first use on a graph and remembers the
 * last eight it validated; a malformed op is refused every time.  The op
 * below counts the calls of its shape rule: nb_op_validate calls it once
 * (an op with a scalar pair must map 1x1 to 1x1), and applying it to 1x1
 * inputs does not (the scalar path). */
static size_t shape_calls;
static int counting_shape(const nb_node *const *in, const double *hp, size_t *rows, size_t *cols,
                          char *msg, size_t len)
{
    shape_calls++;
    return nb_shape_same(in, hp, rows, cols, msg, len);
}
static double twice_fwd(const double *in, const double *hp, double *aux)
{
    (void)hp; (void)aux;
    return 2.0 * in[0];
}
static void twice_bwd(double g, const double *in, double y, const double *hp, const double *aux,
                      double *const *grad)
{
    (void)in; (void)y; (void)hp; (void)aux;
    if (grad[0]) *grad[0] += 2.0 * g;
}

START_TEST(test_apply_validates_on_first_use)
{
    nb_op twice = { .name = "twice", .maths = "y = 2x; dx = 2g", .arity = 1,
                    .shape = counting_shape, .forward = nb_op_sum.forward,
                    .backward = nb_op_sum.backward, .scalar_forward = twice_fwd,
                    .scalar_backward = twice_bwd };
    nb_graph *g = nb_graph_alloc();
    nb_node *x = nb_leaf(g, 1, 1, (double[]){ 2.385 });
    shape_calls = 0;
    nb_node *y = x;
    for (int k = 0; k < 5; k++) y = nb_apply(g, &twice, &y, NULL);
    ck_assert_msg(y != NULL, "%s", nb_graph_errmsg(g));
    ck_assert_uint_eq(shape_calls, 1);
    NB_ASSERT_NEAR(nb_node_scalar(y), 32.0 * 2.385, 1e-13);
    ck_assert_int_eq(nb_backward(g, y), NB_OK);
    ck_assert(nb_node_grad(x)[0] == 32.0);
    /* Eight other ops push it out of the memo: validated again. */
    const nb_op *others[] = { &nb_op_tanh, &nb_op_sigmoid, &nb_op_exp, &nb_op_neg, &nb_op_abs,
                              &nb_op_square, &nb_op_identity, &nb_op_softsign };
    for (size_t k = 0; k < 8; k++) ck_assert_ptr_nonnull(nb_apply(g, others[k], &x, NULL));
    ck_assert_ptr_nonnull(nb_apply(g, &twice, &x, NULL));
    ck_assert_uint_eq(shape_calls, 2);
    /* A malformed op, every time. */
    nb_op bad = twice;
    bad.scalar_backward = NULL;
    for (int k = 0; k < 2; k++) {
        ck_assert_ptr_null(nb_apply(g, &bad, &x, NULL));
        ck_assert_int_eq(nb_graph_status(g), NB_EINVAL);
        ck_assert_msg(strstr(nb_graph_errmsg(g), "twice: invalid op definition") != NULL, "%s",
                      nb_graph_errmsg(g));
        nb_graph_clear_error(g);
    }
    nb_graph_free(g);
}
END_TEST

/* A training step that rebuilds the same graph does no allocation once the
 * arena has grown (counting allocator). */
START_TEST(test_no_malloc_after_warmup)
{
    counting c = { 0, 0, -1, 0 };
    nb_allocator al = { count_alloc, count_free, &c };
    nb_graph *g = nb_graph_alloc_with(&al);
    double w1[4 * 8], w2[8 * 3], x[16 * 4], t[16 * 3];
    for (size_t k = 0; k < 32; k++) w1[k] = 0.1 * sin(1.0 + k);
    for (size_t k = 0; k < 24; k++) w2[k] = 0.1 * cos(2.0 + k);
    for (size_t k = 0; k < 64; k++) x[k] = sin(0.37 * k);
    for (size_t k = 0; k < 48; k++) t[k] = (k % 3 == (k / 3) % 3) ? 1.0 : 0.0;
    nb_node *W1 = nb_param(g, "W1", 4, 8, w1), *W2 = nb_param(g, "W2", 8, 3, w2);
    nb_node *b1 = nb_param(g, "b1", 1, 8, NULL);
    size_t after[6];
    for (int step = 0; step < 6; step++) {
        nb_graph_reset(g);
        nb_node *X = nb_input(g, 16, 4, x), *T = nb_input(g, 16, 3, t);
        nb_node *h = nb_relu(g, nb_add(g, nb_matmul(g, X, W1), b1));
        nb_node *L = nb_add(g, nb_softmax_ce(g, nb_matmul(g, h, W2), T), nb_l2(g, W2, 0.01));
        ck_assert_msg(L != NULL, "%s", nb_graph_errmsg(g));
        nb_graph_zero_grad(g);
        ck_assert_int_eq(nb_backward(g, L), NB_OK);
        for (size_t k = 0; k < nb_graph_param_count(g); k++) {
            nb_node *p = nb_graph_param_at(g, k);
            for (size_t i = 0; i < nb_node_size(p); i++) nb_node_value(p)[i] -= 0.1 * nb_node_grad(p)[i];
        }
        after[step] = c.allocs;
    }
    ck_assert_msg(after[5] == after[1], "allocations grew after warm-up: %zu -> %zu", after[1], after[5]);
    nb_graph_free(g);
    ck_assert_uint_eq(c.allocs, c.frees);
}
END_TEST

/* Every allocation failure is reported cleanly (no crash, no leak under ASan). */
START_TEST(test_alloc_failures)
{
    for (long k = 0; k < 40; k++) {
        counting c = { 0, 0, k, 0 };
        nb_allocator al = { count_alloc, count_free, &c };
        nb_graph *g = nb_graph_alloc_with(&al);
        if (!g) {
            ck_assert_int_eq(k, 0);
            continue;
        }
        nb_node *w = nb_param(g, "w", 3, 300, NULL);
        nb_node *x = nb_input(g, 5, 3, NULL);
        nb_node *y = nb_sum(g, nb_tanh(g, nb_matmul(g, x, w)));
        if (y) {
            int st = nb_backward(g, y);
            ck_assert(st == NB_OK || st == NB_ENOMEM);
        } else {
            ck_assert_int_eq(nb_graph_status(g), NB_ENOMEM);
            ck_assert_msg(strstr(nb_graph_errmsg(g), "out of memory") != NULL, "%s", nb_graph_errmsg(g));
        }
        nb_graph_free(g);
        ck_assert_uint_eq(c.allocs - (c.fail_at < (long)c.allocs ? 1 : 0), c.frees);
    }
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

START_TEST(test_error_shape_mismatch_message)
{
    nb_graph *g = nb_graph_alloc();
    nb_node *a = nb_input(g, 3, 4, NULL), *b = nb_input(g, 5, 2, NULL);
    ck_assert_ptr_null(nb_matmul(g, a, b));
    ck_assert_int_eq(nb_graph_status(g), NB_ESHAPE);
    ck_assert_str_eq(nb_graph_errmsg(g), "matmul: (3x4) x (5x2): inner sizes differ");
    /* Sticky: the first message stays, later builders return NULL. */
    ck_assert_ptr_null(nb_add(g, a, a));
    ck_assert_str_eq(nb_graph_errmsg(g), "matmul: (3x4) x (5x2): inner sizes differ");
    nb_graph_clear_error(g);
    ck_assert_ptr_null(nb_add(g, a, b));
    ck_assert_int_eq(nb_graph_status(g), NB_ESHAPE);
    ck_assert_msg(strstr(nb_graph_errmsg(g), "add: (3x4) and (5x2)") != NULL, "%s", nb_graph_errmsg(g));
    nb_graph_reset(g);
    ck_assert_int_eq(nb_graph_status(g), NB_OK);
    nb_node *p = nb_input(g, 2, 3, NULL), *q = nb_input(g, 3, 2, NULL);
    ck_assert_ptr_null(nb_mse(g, p, q));
    ck_assert_msg(strstr(nb_graph_errmsg(g), "mse: (2x3) and (3x2)") != NULL, "%s", nb_graph_errmsg(g));
    nb_graph_free(g);
}
END_TEST

START_TEST(test_error_nan_input)
{
    nb_graph *g = nb_graph_alloc();
    double v[4] = { 1.0, 2.0, NAN, 4.0 };
    ck_assert_ptr_null(nb_input(g, 2, 2, v));
    ck_assert_int_eq(nb_graph_status(g), NB_EDOMAIN);
    ck_assert_msg(strstr(nb_graph_errmsg(g), "(1,0)") != NULL, "%s", nb_graph_errmsg(g));
    nb_graph_reset(g);
    v[2] = INFINITY;
    ck_assert_ptr_null(nb_param(g, "w", 2, 2, v));
    ck_assert_int_eq(nb_graph_status(g), NB_EDOMAIN);
    nb_graph_reset(g);
    /* log of a negative number: the op result is not finite. */
    nb_node *x = nb_input(g, 1, 2, (double[]){ 2.385, -1.5 });
    ck_assert_ptr_null(nb_log(g, x));
    ck_assert_int_eq(nb_graph_status(g), NB_EDOMAIN);
    ck_assert_msg(strstr(nb_graph_errmsg(g), "log:") == nb_graph_errmsg(g), "%s", nb_graph_errmsg(g));
    ck_assert_msg(strstr(nb_graph_errmsg(g), "-1.5") != NULL, "%s", nb_graph_errmsg(g));
    /* Non-finite hyper-parameter. */
    nb_graph_reset(g);
    ck_assert_ptr_null(nb_scale(g, nb_input(g, 1, 1, NULL), NAN));
    ck_assert_int_eq(nb_graph_status(g), NB_EDOMAIN);
    /* With the scan off, NaN propagates silently. */
    nb_graph_reset(g);
    nb_graph_set_check_finite(g, 0);
    nb_node *y = nb_log(g, nb_input(g, 1, 1, (double[]){ -2.0 }));
    ck_assert_ptr_nonnull(y);
    ck_assert(isnan(nb_node_scalar(y)));
    nb_graph_free(g);
}
END_TEST

START_TEST(test_error_null_and_misuse)
{
    nb_graph *g = nb_graph_alloc();
    ck_assert_ptr_null(nb_add(NULL, NULL, NULL));
    ck_assert_ptr_null(nb_add(g, NULL, nb_scalar(g, 1.0)));
    ck_assert_int_eq(nb_graph_status(g), NB_EINVAL);
    ck_assert_msg(strstr(nb_graph_errmsg(g), "add: input 1 of 2 is NULL") != NULL, "%s", nb_graph_errmsg(g));
    nb_graph_reset(g);
    ck_assert_ptr_null(nb_apply(g, NULL, NULL, NULL));
    ck_assert_int_eq(nb_graph_status(g), NB_EINVAL);
    nb_graph_reset(g);
    ck_assert_ptr_null(nb_apply_name(g, "no_such_op", NULL, NULL));
    ck_assert_int_eq(nb_graph_status(g), NB_ENOTFOUND);
    ck_assert_msg(strstr(nb_graph_errmsg(g), "no_such_op") != NULL, "%s", nb_graph_errmsg(g));
    nb_graph_reset(g);
    ck_assert_ptr_null(nb_input(g, 0, 3, NULL));
    ck_assert_int_eq(nb_graph_status(g), NB_ESHAPE);
    nb_graph_reset(g);
    ck_assert_ptr_nonnull(nb_param(g, "w", 1, 1, NULL));
    ck_assert_ptr_null(nb_param(g, "w", 1, 1, NULL));
    ck_assert_int_eq(nb_graph_status(g), NB_EINVAL);
    nb_graph_reset(g);
    /* backward on a non-scalar without a seed, on NULL, on a param. */
    nb_node *x = nb_leaf(g, 2, 2, NULL);
    ck_assert_int_eq(nb_backward(g, x), NB_ESHAPE);
    ck_assert_msg(strstr(nb_graph_errmsg(g), "(2x2)") != NULL, "%s", nb_graph_errmsg(g));
    nb_graph_reset(g);
    ck_assert_int_eq(nb_backward(g, NULL), NB_EINVAL);
    nb_graph_reset(g);
    ck_assert_int_eq(nb_backward(g, nb_graph_param_at(g, 0)), NB_EINVAL);
    ck_assert_int_eq(nb_backward(NULL, NULL), NB_EINVAL);
    ck_assert_int_eq(nb_graph_forward(NULL), NB_EINVAL);
    /* A node from another graph is refused. */
    nb_graph_reset(g);
    nb_graph *h = nb_graph_alloc();
    nb_node *other = nb_sum(h, nb_leaf(h, 1, 3, NULL));
    ck_assert_int_eq(nb_backward(g, other), NB_EINVAL);
    nb_graph_free(h);
    /* A broken op definition is refused. */
    nb_graph_reset(g);
    nb_op bad = { .name = "bad", .arity = 2 };
    nb_node *in[2] = { nb_scalar(g, 1.0), nb_scalar(g, 2.0) };
    ck_assert_ptr_null(nb_apply(g, &bad, in, NULL));
    ck_assert_int_eq(nb_graph_status(g), NB_EINVAL);
    ck_assert_msg(strstr(nb_graph_errmsg(g), "bad: invalid op definition") != NULL, "%s", nb_graph_errmsg(g));
    /* Accessors are NULL-safe. */
    ck_assert_uint_eq(nb_node_rows(NULL), 0);
    ck_assert(isnan(nb_node_scalar(NULL)));
    ck_assert_int_eq(nb_graph_status(NULL), NB_EINVAL);
    nb_graph_free(g);
    nb_graph_free(NULL);
    nb_graph_reset(NULL);
}
END_TEST

/* The error object: set/message/clear, and the escaped excerpt of user
 * input that messages echo (control characters escaped, long input cut). */
START_TEST(test_error_object)
{
    nb_error err;
    nb_error_clear(&err);
    ck_assert_int_eq(err.status, NB_OK);
    ck_assert_str_eq(nb_error_message(&err), "");
    ck_assert_int_eq(nb_error_set(&err, NB_ESHAPE, "matmul: (%dx%d)", 3, 4), NB_ESHAPE);
    ck_assert_int_eq(err.status, NB_ESHAPE);
    ck_assert_str_eq(nb_error_message(&err), "matmul: (3x4)");
    nb_error_set(&err, NB_EIO, NULL);
    ck_assert_str_eq(nb_error_message(&err), nb_strerror(NB_EIO));
    ck_assert_int_eq(nb_error_set(NULL, NB_ENOMEM, "x"), NB_ENOMEM);
    ck_assert_str_eq(nb_error_message(NULL), "");

    char buf[128];
    ck_assert_str_eq(nb_error_escape(buf, sizeof buf, "a\nb\tc\x01", (size_t)-1, 80),
                     "a\\nb\\tc\\x01");
    char big[300];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    nb_error_escape(buf, sizeof buf, big, (size_t)-1, 80);
    ck_assert_ptr_nonnull(strstr(buf, "... (219 more bytes)"));
    ck_assert_uint_eq(strspn(buf, "q"), 80);
    /* a buffer too small for the excerpt is still terminated */
    char tiny[5];
    nb_error_escape(tiny, sizeof tiny, "abcdefgh", (size_t)-1, 80);
    ck_assert_str_eq(tiny, "abcd");
}
END_TEST

static Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("tape");
    tcase_add_test(tc, test_status_table);
    tcase_add_test(tc, test_broadcast_bias_and_scalar);
    tcase_add_test(tc, test_input_view);
    tcase_add_test(tc, test_matmul_values);
    tcase_add_test(tc, test_params_survive_reset);
    tcase_add_test(tc, test_forward_replay);
    tcase_add_test(tc, test_apply_validates_on_first_use);
    tcase_add_test(tc, test_no_malloc_after_warmup);
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("errors");
    tcase_add_test(te, test_error_shape_mismatch_message);
    tcase_add_test(te, test_error_nan_input);
    tcase_add_test(te, test_error_null_and_misuse);
    tcase_add_test(te, test_error_object);
    suite_add_tcase(s, te);
    return s;
}

int main(void) { return nb_test_run(graph_suite()); }
