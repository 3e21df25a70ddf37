/* test_golden.c — worked examples built node by node, against published
 * values and an independent hand calculation. */
#include <config.h>

#include <nabla/nabla.h>
#include "testutil.h"

/* The seed's single neuron: inputs (1, 0), weights (7, 3), bias -2:
 * sigmoid(7*1 + 3*0 - 2) = sigmoid(5) = 0.9933071490757153
 * (1/(1+exp(-5)) evaluated in Python's math module). */
START_TEST(test_single_neuron)
{
    nb_graph *g = nb_graph_alloc();
    const double xv[2] = { 1.0, 0.0 }, wv[2] = { 7.0, 3.0 }, bv = -2.0;
    nb_node *w = nb_param(g, "w", 2, 1, wv);
    nb_node *b = nb_param(g, "b", 1, 1, &bv);
    nb_node *x = nb_input(g, 1, 2, xv);
    nb_node *y = nb_sigmoid(g, nb_add(g, nb_matmul(g, x, w), b));
    ck_assert_msg(y != NULL, "%s", nb_graph_errmsg(g));
    ck_assert_uint_eq(nb_node_rows(y), 1);
    ck_assert_uint_eq(nb_node_cols(y), 1);
    NB_ASSERT_NEAR(nb_node_scalar(y), 0.9933071490757153, 2e-16);
    /* dy/dw = s(1-s) x, dy/db = s(1-s) */
    ck_assert_int_eq(nb_backward(g, y), NB_OK);
    double s = 0.9933071490757153, ds = s * (1 - s);
    NB_ASSERT_NEAR(nb_node_grad(w)[0], ds * 1.0, 1e-17);
    NB_ASSERT_NEAR(nb_node_grad(w)[1], 0.0, 0.0);
    NB_ASSERT_NEAR(nb_node_grad(b)[0], ds, 1e-17);
    nb_graph_free(g);
}
END_TEST

/* Mazur, "A Step by Step Backpropagation Example" (2015): 2-2-2 sigmoid
 * network, w1..w8 = .15 .20 .25 .30 .40 .45 .50 .55, b1 = .35 and b2 = .60
 * shared per layer, inputs .05 .10, targets .01 .99, E = 1/2 sum (t - o)^2.
 * Published: E_total = 0.298371109; dE/dw5..w8 = 0.082167041, 0.082667628,
 * -0.022602540, -0.022740242; dE/dw1..w4 = 0.000438568, 0.000877135,
 * 0.000497713, 0.000995425 (9 decimals; re-derived by hand in Python). */
static double mazur_w[8] = { 0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55 };

/* h = sigmoid(x W1 + b1), W1 = [[w1, w3], [w2, w4]] so h1 = w1 i1 + w2 i2 + b1;
 * o = sigmoid(h W2 + b2), W2 = [[w5, w7], [w6, w8]]. */
static nb_node *mazur_build(nb_graph *g, nb_node **W1, nb_node **W2)
{
    const double w1[4] = { mazur_w[0], mazur_w[2], mazur_w[1], mazur_w[3] };
    const double w2[4] = { mazur_w[4], mazur_w[6], mazur_w[5], mazur_w[7] };
    const double x[2] = { 0.05, 0.10 }, t[2] = { 0.01, 0.99 }, b1 = 0.35, b2 = 0.60;
    *W1 = nb_param(g, "W1", 2, 2, w1);
    *W2 = nb_param(g, "W2", 2, 2, w2);
    nb_node *B1 = nb_param(g, "b1", 1, 1, &b1);
    nb_node *B2 = nb_param(g, "b2", 1, 1, &b2);
    nb_node *h = nb_sigmoid(g, nb_add(g, nb_matmul(g, nb_input(g, 1, 2, x), *W1), B1));
    nb_node *o = nb_sigmoid(g, nb_add(g, nb_matmul(g, h, *W2), B2));
    return nb_scale(g, nb_sum(g, nb_square(g, nb_sub(g, nb_input(g, 1, 2, t), o))), 0.5);
}

START_TEST(test_mazur_forward_backward)
{
    nb_graph *g = nb_graph_alloc();
    nb_node *W1, *W2;
    nb_node *E = mazur_build(g, &W1, &W2);
    ck_assert_msg(E != NULL, "%s", nb_graph_errmsg(g));
    NB_ASSERT_NEAR(nb_node_scalar(E), 0.298371109, 5e-10);
    ck_assert_int_eq(nb_backward(g, E), NB_OK);
    const double *g1 = nb_node_grad(W1), *g2 = nb_node_grad(W2);
    /* W2 = [[w5, w7], [w6, w8]] */
    NB_ASSERT_NEAR(g2[0], 0.082167041, 5e-10);   /* w5 */
    NB_ASSERT_NEAR(g2[2], 0.082667628, 5e-10);   /* w6 */
    NB_ASSERT_NEAR(g2[1], -0.022602540, 5e-10);  /* w7 */
    NB_ASSERT_NEAR(g2[3], -0.022740242, 5e-10);  /* w8 */
    /* W1 = [[w1, w3], [w2, w4]] */
    NB_ASSERT_NEAR(g1[0], 0.000438568, 5e-10);   /* w1 */
    NB_ASSERT_NEAR(g1[2], 0.000877135, 5e-10);   /* w2 */
    NB_ASSERT_NEAR(g1[1], 0.000497713, 5e-10);   /* w3 */
    NB_ASSERT_NEAR(g1[3], 0.000995425, 5e-10);   /* w4 */
    /* The hand calculation to full precision (Python, same formulas). */
    NB_ASSERT_NEAR(nb_node_scalar(E), 0.2983711087600027, 1e-15);
    NB_ASSERT_NEAR(g2[0], 0.08216704056423077, 1e-16);
    NB_ASSERT_NEAR(g1[3], 0.0009954254705217198, 1e-17);
    nb_graph_free(g);
}
END_TEST

/* The checker agrees with the worked example's backward. */
START_TEST(test_mazur_gradcheck)
{
    nb_graph *g = nb_graph_alloc();
    nb_node *W1, *W2;
    nb_node *E = mazur_build(g, &W1, &W2);
    ck_assert_ptr_nonnull(E);
    nb_gradcheck_report r;
    ck_assert_int_eq(nb_gradcheck_graph(g, E, NULL, &r), NB_OK);
    ck_assert_msg(r.passed, "mazur gradcheck failed at %zu", r.worst_index);
    ck_assert_uint_eq(r.n_checked, 10);
    ck_assert_uint_eq(r.n_failed, 0);
    nb_gradcheck_report_free(&r);
    nb_graph_free(g);
}
END_TEST

static Suite *golden_suite(void)
{
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("worked examples");
    tcase_add_test(tc, test_single_neuron);
    tcase_add_test(tc, test_mazur_forward_backward);
    tcase_add_test(tc, test_mazur_gradcheck);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return nb_test_run(golden_suite()); }
