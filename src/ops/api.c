/* ops/api.c — typed builders: each is nb_apply() with the registry op of the
 * same name.  The op is taken at its position in its family's table, which
 * the table pins with a designated initializer (ops/ops.h, NBI_OP_*), and
 * applied through nbi_apply, which skips the validation of ops from outside
 * the registry: a builder costs no name lookup and no registry test. */
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

nb_node *nb_neg(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_arith[NBI_OP_NEG], a, NULL); }
nb_node *nb_transpose(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_matrix[NBI_OP_TRANSPOSE], a, NULL); }
nb_node *nb_sum(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_matrix[NBI_OP_SUM], a, NULL); }
nb_node *nb_mean(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_matrix[NBI_OP_MEAN], a, NULL); }
nb_node *nb_row_sums(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_matrix[NBI_OP_ROW_SUMS], a, NULL); }
nb_node *nb_col_sums(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_matrix[NBI_OP_COL_SUMS], a, NULL); }
nb_node *nb_exp(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_elementwise[NBI_OP_EXP], a, NULL); }
nb_node *nb_log(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_elementwise[NBI_OP_LOG], a, NULL); }
nb_node *nb_square(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_elementwise[NBI_OP_SQUARE], a, NULL); }
nb_node *nb_sqrt(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_elementwise[NBI_OP_SQRT], a, NULL); }
nb_node *nb_abs(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_elementwise[NBI_OP_ABS], a, NULL); }
nb_node *nb_sigmoid(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_activation[NBI_OP_SIGMOID], a, NULL); }
nb_node *nb_tanh(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_activation[NBI_OP_TANH], a, NULL); }
nb_node *nb_relu(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_activation[NBI_OP_RELU], a, NULL); }
nb_node *nb_softplus(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_activation[NBI_OP_SOFTPLUS], a, NULL); }
nb_node *nb_softsign(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_activation[NBI_OP_SOFTSIGN], a, NULL); }
nb_node *nb_silu(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_activation[NBI_OP_SILU], a, NULL); }
nb_node *nb_gelu(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_activation[NBI_OP_GELU], a, NULL); }
nb_node *nb_gelu_tanh(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_activation[NBI_OP_GELU_TANH], a, NULL); }
nb_node *nb_hard_tanh(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_activation[NBI_OP_HARD_TANH], a, NULL); }
nb_node *nb_identity(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_activation[NBI_OP_IDENTITY], a, NULL); }
nb_node *nb_softmax(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_softmax[NBI_OP_SOFTMAX], a, NULL); }
nb_node *nb_log_softmax(nb_graph *g, nb_node *a) { return apply1(g, &nbi_ops_softmax[NBI_OP_LOG_SOFTMAX], a, NULL); }
nb_node *nb_add(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, &nbi_ops_arith[NBI_OP_ADD], a, b); }
nb_node *nb_sub(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, &nbi_ops_arith[NBI_OP_SUB], a, b); }
nb_node *nb_mul(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, &nbi_ops_arith[NBI_OP_MUL], a, b); }
nb_node *nb_div(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, &nbi_ops_arith[NBI_OP_DIV], a, b); }
nb_node *nb_matmul(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, &nbi_ops_matrix[NBI_OP_MATMUL], a, b); }
nb_node *nb_max(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, &nbi_ops_arith[NBI_OP_MAX], a, b); }
nb_node *nb_mse(nb_graph *g, nb_node *p, nb_node *t) { return apply2(g, &nbi_ops_loss[NBI_OP_MSE], p, t); }
nb_node *nb_bce(nb_graph *g, nb_node *p, nb_node *t) { return apply2(g, &nbi_ops_loss[NBI_OP_BCE], p, t); }
nb_node *nb_bce_logits(nb_graph *g, nb_node *z, nb_node *t) { return apply2(g, &nbi_ops_loss[NBI_OP_BCE_LOGITS], z, t); }
nb_node *nb_softmax_ce(nb_graph *g, nb_node *z, nb_node *t) { return apply2(g, &nbi_ops_loss[NBI_OP_SOFTMAX_CE], z, t); }
nb_node *nb_scale(nb_graph *g, nb_node *a, double c) { return apply1(g, &nbi_ops_arith[NBI_OP_SCALE], a, &c); }
nb_node *nb_pow(nb_graph *g, nb_node *a, double p) { return apply1(g, &nbi_ops_elementwise[NBI_OP_POW], a, &p); }
nb_node *nb_leaky_relu(nb_graph *g, nb_node *a, double alpha) { return apply1(g, &nbi_ops_activation[NBI_OP_LEAKY_RELU], a, &alpha); }
nb_node *nb_elu(nb_graph *g, nb_node *a, double alpha) { return apply1(g, &nbi_ops_activation[NBI_OP_ELU], a, &alpha); }
nb_node *nb_l2(nb_graph *g, nb_node *w, double lambda) { return apply1(g, &nbi_ops_loss[NBI_OP_L2], w, &lambda); }
nb_node *nb_affine(nb_graph *g, nb_node *x, nb_node *w, nb_node *b)
{
    nb_node *in[3] = { x, w, b };
    return nbi_apply(g, &nbi_ops_matrix[NBI_OP_AFFINE], in, NULL);
}
