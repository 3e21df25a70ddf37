/* ops/api.c — typed builders: each is nb_apply() with the registry op of the
 * same name.  The op is found at its known position in its family's table
 * (one strcmp confirms it), falling back to a registry search if a table
 * was reordered, so builders cost no lookup on the hot path. */
#include <config.h>

#include <string.h>

#include <nabla/ops.h>
#include "internal.h"

static const nb_op *op_at(const nb_op *table, size_t n, size_t hint, const char *name)
{
    if (hint < n && strcmp(table[hint].name, name) == 0) return &table[hint];
    return nb_op_find(name);
}

static nb_node *apply1(nb_graph *g, const nb_op *op, nb_node *a, const double *hp)
{
    nb_node *in[1] = { a };
    return nb_apply(g, op, in, hp);
}

static nb_node *apply2(nb_graph *g, const nb_op *op, nb_node *a, nb_node *b)
{
    nb_node *in[2] = { a, b };
    return nb_apply(g, op, in, NULL);
}

nb_node *nb_neg(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_arith, nbi_n_ops_arith, 5, "neg"), a, NULL); }
nb_node *nb_transpose(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_matrix, nbi_n_ops_matrix, 1, "transpose"), a, NULL); }
nb_node *nb_sum(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_matrix, nbi_n_ops_matrix, 2, "sum"), a, NULL); }
nb_node *nb_mean(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_matrix, nbi_n_ops_matrix, 3, "mean"), a, NULL); }
nb_node *nb_row_sums(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_matrix, nbi_n_ops_matrix, 4, "row_sums"), a, NULL); }
nb_node *nb_col_sums(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_matrix, nbi_n_ops_matrix, 5, "col_sums"), a, NULL); }
nb_node *nb_exp(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_elementwise, nbi_n_ops_elementwise, 0, "exp"), a, NULL); }
nb_node *nb_log(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_elementwise, nbi_n_ops_elementwise, 1, "log"), a, NULL); }
nb_node *nb_square(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_elementwise, nbi_n_ops_elementwise, 2, "square"), a, NULL); }
nb_node *nb_sqrt(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_elementwise, nbi_n_ops_elementwise, 3, "sqrt"), a, NULL); }
nb_node *nb_abs(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_elementwise, nbi_n_ops_elementwise, 5, "abs"), a, NULL); }
nb_node *nb_sigmoid(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_activation, nbi_n_ops_activation, 0, "sigmoid"), a, NULL); }
nb_node *nb_tanh(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_activation, nbi_n_ops_activation, 1, "tanh"), a, NULL); }
nb_node *nb_relu(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_activation, nbi_n_ops_activation, 2, "relu"), a, NULL); }
nb_node *nb_softplus(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_activation, nbi_n_ops_activation, 5, "softplus"), a, NULL); }
nb_node *nb_softsign(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_activation, nbi_n_ops_activation, 6, "softsign"), a, NULL); }
nb_node *nb_silu(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_activation, nbi_n_ops_activation, 7, "silu"), a, NULL); }
nb_node *nb_gelu(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_activation, nbi_n_ops_activation, 8, "gelu"), a, NULL); }
nb_node *nb_gelu_tanh(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_activation, nbi_n_ops_activation, 9, "gelu_tanh"), a, NULL); }
nb_node *nb_hard_tanh(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_activation, nbi_n_ops_activation, 10, "hard_tanh"), a, NULL); }
nb_node *nb_identity(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_activation, nbi_n_ops_activation, 11, "identity"), a, NULL); }
nb_node *nb_softmax(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_softmax, nbi_n_ops_softmax, 0, "softmax"), a, NULL); }
nb_node *nb_log_softmax(nb_graph *g, nb_node *a) { return apply1(g, op_at(nbi_ops_softmax, nbi_n_ops_softmax, 1, "log_softmax"), a, NULL); }
nb_node *nb_add(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, op_at(nbi_ops_arith, nbi_n_ops_arith, 0, "add"), a, b); }
nb_node *nb_sub(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, op_at(nbi_ops_arith, nbi_n_ops_arith, 1, "sub"), a, b); }
nb_node *nb_mul(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, op_at(nbi_ops_arith, nbi_n_ops_arith, 2, "mul"), a, b); }
nb_node *nb_div(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, op_at(nbi_ops_arith, nbi_n_ops_arith, 3, "div"), a, b); }
nb_node *nb_matmul(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, op_at(nbi_ops_matrix, nbi_n_ops_matrix, 0, "matmul"), a, b); }
nb_node *nb_max(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, op_at(nbi_ops_arith, nbi_n_ops_arith, 4, "max"), a, b); }
nb_node *nb_mse(nb_graph *g, nb_node *p, nb_node *t) { return apply2(g, op_at(nbi_ops_loss, nbi_n_ops_loss, 0, "mse"), p, t); }
nb_node *nb_bce(nb_graph *g, nb_node *p, nb_node *t) { return apply2(g, op_at(nbi_ops_loss, nbi_n_ops_loss, 1, "bce"), p, t); }
nb_node *nb_bce_logits(nb_graph *g, nb_node *z, nb_node *t) { return apply2(g, op_at(nbi_ops_loss, nbi_n_ops_loss, 2, "bce_logits"), z, t); }
nb_node *nb_softmax_ce(nb_graph *g, nb_node *z, nb_node *t) { return apply2(g, op_at(nbi_ops_loss, nbi_n_ops_loss, 3, "softmax_ce"), z, t); }
nb_node *nb_scale(nb_graph *g, nb_node *a, double c) { return apply1(g, op_at(nbi_ops_arith, nbi_n_ops_arith, 6, "scale"), a, &c); }
nb_node *nb_pow(nb_graph *g, nb_node *a, double p) { return apply1(g, op_at(nbi_ops_elementwise, nbi_n_ops_elementwise, 4, "pow"), a, &p); }
nb_node *nb_leaky_relu(nb_graph *g, nb_node *a, double alpha) { return apply1(g, op_at(nbi_ops_activation, nbi_n_ops_activation, 3, "leaky_relu"), a, &alpha); }
nb_node *nb_elu(nb_graph *g, nb_node *a, double alpha) { return apply1(g, op_at(nbi_ops_activation, nbi_n_ops_activation, 4, "elu"), a, &alpha); }
nb_node *nb_l2(nb_graph *g, nb_node *w, double lambda) { return apply1(g, op_at(nbi_ops_loss, nbi_n_ops_loss, 4, "l2"), w, &lambda); }
nb_node *nb_affine(nb_graph *g, nb_node *x, nb_node *w, nb_node *b)
{
    nb_node *in[3] = { x, w, b };
    return nb_apply(g, op_at(nbi_ops_matrix, nbi_n_ops_matrix, 6, "affine"), in, NULL);
}
