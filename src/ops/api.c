/* ops/api.c — typed builders: each is nb_apply() with the registry op of the
 * same name (looked up once per call by name; the registry is small). */
#include <config.h>

#include <nabla/ops.h>
#include "internal.h"

static nb_node *apply1(nb_graph *g, const char *name, nb_node *a, const double *hp)
{
    nb_node *in[1] = { a };
    return nb_apply_name(g, name, in, hp);
}

static nb_node *apply2(nb_graph *g, const char *name, nb_node *a, nb_node *b)
{
    nb_node *in[2] = { a, b };
    return nb_apply_name(g, name, in, NULL);
}

nb_node *nb_neg(nb_graph *g, nb_node *a) { return apply1(g, "neg", a, NULL); }
nb_node *nb_transpose(nb_graph *g, nb_node *a) { return apply1(g, "transpose", a, NULL); }
nb_node *nb_sum(nb_graph *g, nb_node *a) { return apply1(g, "sum", a, NULL); }
nb_node *nb_mean(nb_graph *g, nb_node *a) { return apply1(g, "mean", a, NULL); }
nb_node *nb_row_sums(nb_graph *g, nb_node *a) { return apply1(g, "row_sums", a, NULL); }
nb_node *nb_col_sums(nb_graph *g, nb_node *a) { return apply1(g, "col_sums", a, NULL); }
nb_node *nb_exp(nb_graph *g, nb_node *a) { return apply1(g, "exp", a, NULL); }
nb_node *nb_log(nb_graph *g, nb_node *a) { return apply1(g, "log", a, NULL); }
nb_node *nb_square(nb_graph *g, nb_node *a) { return apply1(g, "square", a, NULL); }
nb_node *nb_sqrt(nb_graph *g, nb_node *a) { return apply1(g, "sqrt", a, NULL); }
nb_node *nb_abs(nb_graph *g, nb_node *a) { return apply1(g, "abs", a, NULL); }
nb_node *nb_sigmoid(nb_graph *g, nb_node *a) { return apply1(g, "sigmoid", a, NULL); }
nb_node *nb_tanh(nb_graph *g, nb_node *a) { return apply1(g, "tanh", a, NULL); }
nb_node *nb_relu(nb_graph *g, nb_node *a) { return apply1(g, "relu", a, NULL); }
nb_node *nb_softplus(nb_graph *g, nb_node *a) { return apply1(g, "softplus", a, NULL); }
nb_node *nb_softsign(nb_graph *g, nb_node *a) { return apply1(g, "softsign", a, NULL); }
nb_node *nb_silu(nb_graph *g, nb_node *a) { return apply1(g, "silu", a, NULL); }
nb_node *nb_gelu(nb_graph *g, nb_node *a) { return apply1(g, "gelu", a, NULL); }
nb_node *nb_gelu_tanh(nb_graph *g, nb_node *a) { return apply1(g, "gelu_tanh", a, NULL); }
nb_node *nb_hard_tanh(nb_graph *g, nb_node *a) { return apply1(g, "hard_tanh", a, NULL); }
nb_node *nb_identity(nb_graph *g, nb_node *a) { return apply1(g, "identity", a, NULL); }
nb_node *nb_softmax(nb_graph *g, nb_node *a) { return apply1(g, "softmax", a, NULL); }
nb_node *nb_log_softmax(nb_graph *g, nb_node *a) { return apply1(g, "log_softmax", a, NULL); }
nb_node *nb_add(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, "add", a, b); }
nb_node *nb_sub(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, "sub", a, b); }
nb_node *nb_mul(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, "mul", a, b); }
nb_node *nb_div(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, "div", a, b); }
nb_node *nb_matmul(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, "matmul", a, b); }
nb_node *nb_max(nb_graph *g, nb_node *a, nb_node *b) { return apply2(g, "max", a, b); }
nb_node *nb_mse(nb_graph *g, nb_node *p, nb_node *t) { return apply2(g, "mse", p, t); }
nb_node *nb_bce(nb_graph *g, nb_node *p, nb_node *t) { return apply2(g, "bce", p, t); }
nb_node *nb_bce_logits(nb_graph *g, nb_node *z, nb_node *t) { return apply2(g, "bce_logits", z, t); }
nb_node *nb_softmax_ce(nb_graph *g, nb_node *z, nb_node *t) { return apply2(g, "softmax_ce", z, t); }
nb_node *nb_scale(nb_graph *g, nb_node *a, double c) { return apply1(g, "scale", a, &c); }
nb_node *nb_pow(nb_graph *g, nb_node *a, double p) { return apply1(g, "pow", a, &p); }
nb_node *nb_leaky_relu(nb_graph *g, nb_node *a, double alpha) { return apply1(g, "leaky_relu", a, &alpha); }
nb_node *nb_elu(nb_graph *g, nb_node *a, double alpha) { return apply1(g, "elu", a, &alpha); }
nb_node *nb_l2(nb_graph *g, nb_node *w, double lambda) { return apply1(g, "l2", w, &lambda); }
