/* ops/api.c — typed builders: each is nb_apply() with the named op of the
 * same name (nb_tanh applies nb_op_tanh), through nbi_apply, which skips the
 * validation of ops from outside the library: a builder costs no name
 * lookup and no validation. */
#include <config.h>

#include <nabla/ops.h>
#include "ops/ops.h"

static nb_node *apply1(nb_graph *g, const nb_op *op, nb_node *a, const double *hp)
{
    nb_node *in[1] = { a };
    return nbi_apply(g, op, in, hp);
}

static nb_node *apply2(nb_graph *g, const nb_op *op, nb_node *a, nb_node *b)
{
    nb_node *in[2] = { a, b };
    return nbi_apply(g, op, in, NULL);
}

nb_node *nb_neg(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_neg, a, NULL); }
nb_node *nb_transpose(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_transpose, a, NULL); }
nb_node *nb_sum(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_sum, a, NULL); }
nb_node *nb_mean(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_mean, a, NULL); }
nb_node *nb_row_sums(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_row_sums, a, NULL); }
nb_node *nb_col_sums(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_col_sums, a, NULL); }
nb_node *nb_exp(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_exp, a, NULL); }
nb_node *nb_log(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_log, a, NULL); }
nb_node *nb_square(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_square, a, NULL); }
nb_node *nb_sqrt(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_sqrt, a, NULL); }
nb_node *nb_abs(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_abs, a, NULL); }
nb_node *nb_sigmoid(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_sigmoid, a, NULL); }
nb_node *nb_tanh(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_tanh, a, NULL); }
nb_node *nb_relu(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_relu, a, NULL); }
nb_node *nb_softplus(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_softplus, a, NULL); }
nb_node *nb_softsign(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_softsign, a, NULL); }
nb_node *nb_silu(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_silu, a, NULL); }
nb_node *nb_gelu(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_gelu, a, NULL); }
nb_node *nb_gelu_tanh(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_gelu_tanh, a, NULL); }
nb_node *nb_hard_tanh(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_hard_tanh, a, NULL); }
nb_node *nb_identity(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_identity, a, NULL); }
nb_node *nb_softmax(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_softmax, a, NULL); }
nb_node *nb_log_softmax(nb_graph *g, nb_node *a) { return apply1(g, &nb_op_log_softmax, a, NULL); }
nb_node *nb_add(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, &nb_op_add, a, b); }
nb_node *nb_sub(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, &nb_op_sub, a, b); }
nb_node *nb_mul(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, &nb_op_mul, a, b); }
nb_node *nb_div(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, &nb_op_div, a, b); }
nb_node *nb_matmul(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, &nb_op_matmul, a, b); }
nb_node *nb_max(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, &nb_op_max, a, b); }
nb_node *nb_mse(nb_graph *g, nb_node *p, nb_node *t) { return apply2(g, &nb_op_mse, p, t); }
nb_node *nb_bce(nb_graph *g, nb_node *p, nb_node *t) { return apply2(g, &nb_op_bce, p, t); }
nb_node *nb_bce_logits(nb_graph *g, nb_node *z, nb_node *t) { return apply2(g, &nb_op_bce_logits, z, t); }
nb_node *nb_softmax_ce(nb_graph *g, nb_node *z, nb_node *t) { return apply2(g, &nb_op_softmax_ce, z, t); }
nb_node *nb_scale(nb_graph *g, nb_node *a, double c) { return apply1(g, &nb_op_scale, a, &c); }
nb_node *nb_pow(nb_graph *g, nb_node *a, double p) { return apply1(g, &nb_op_pow, a, &p); }
nb_node *nb_leaky_relu(nb_graph *g, nb_node *a, double alpha) { return apply1(g, &nb_op_leaky_relu, a, &alpha); }
nb_node *nb_elu(nb_graph *g, nb_node *a, double alpha) { return apply1(g, &nb_op_elu, a, &alpha); }
nb_node *nb_l2(nb_graph *g, nb_node *w, double lambda) { return apply1(g, &nb_op_l2, w, &lambda); }
nb_node *nb_affine(nb_graph *g, nb_node *x, nb_node *w, nb_node *b)
{
    nb_node *in[3] = { x, w, b };
    return nbi_apply(g, &nb_op_affine, in, NULL);
}
