/* nabla/ops.h — the built-in ops as named objects, and their typed builders.
 *
 * Each built-in op is a const object, nb_op_<name> (nb_op_tanh is the op
 * "tanh"), the same one the registry lists: nb_op_find("tanh") == &nb_op_tanh.
 * Each builder is nb_apply() with the op of the same name; all
 * return NULL on error and record the message on the graph (see graph.h).
 * Shapes are (rows, cols).  "Broadcast" means per dimension: equal, or 1 on
 * one side (scalar vs matrix, (1,c) bias row vs (r,c), (r,1) vs (r,c)).
 */
#ifndef NABLA_OPS_H
#define NABLA_OPS_H

#include <nabla/graph.h>
#include <nabla/op.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The built-in ops, by family (nb_op_family). */
extern const nb_op nb_op_add, nb_op_sub, nb_op_mul, nb_op_div, nb_op_max, nb_op_neg, nb_op_scale;
extern const nb_op nb_op_matmul, nb_op_transpose, nb_op_sum, nb_op_mean, nb_op_row_sums,
    nb_op_col_sums, nb_op_affine;
extern const nb_op nb_op_exp, nb_op_log, nb_op_square, nb_op_sqrt, nb_op_pow, nb_op_abs;
extern const nb_op nb_op_sigmoid, nb_op_tanh, nb_op_relu, nb_op_leaky_relu, nb_op_elu,
    nb_op_softplus, nb_op_softsign, nb_op_silu, nb_op_gelu, nb_op_gelu_tanh, nb_op_hard_tanh,
    nb_op_identity;
extern const nb_op nb_op_softmax, nb_op_log_softmax;
extern const nb_op nb_op_mse, nb_op_bce, nb_op_bce_logits, nb_op_softmax_ce, nb_op_l2;

/* arithmetic (src/ops/arith.c) — broadcast */
nb_node *nb_add(nb_graph *g, nb_node *a, nb_node *b);
nb_node *nb_sub(nb_graph *g, nb_node *a, nb_node *b);
nb_node *nb_mul(nb_graph *g, nb_node *a, nb_node *b);   /* element-wise */
nb_node *nb_div(nb_graph *g, nb_node *a, nb_node *b);   /* element-wise */
nb_node *nb_neg(nb_graph *g, nb_node *a);
nb_node *nb_scale(nb_graph *g, nb_node *a, double c);   /* c·a */

/* matrix (src/ops/matrix.c) */
nb_node *nb_matmul(nb_graph *g, nb_node *a, nb_node *b); /* (m,k)x(k,n) -> (m,n) */
/* x w + b, (m,k)x(k,n) + (1,n) -> (m,n): nb_add(nb_matmul(x, w), b) in one
 * node, the same values bit for bit (nb_dense_forward uses it). */
nb_node *nb_affine(nb_graph *g, nb_node *x, nb_node *w, nb_node *b);
nb_node *nb_transpose(nb_graph *g, nb_node *a);         /* (r,c) -> (c,r) */
nb_node *nb_sum(nb_graph *g, nb_node *a);               /* -> (1,1) */
nb_node *nb_mean(nb_graph *g, nb_node *a);              /* -> (1,1) */
nb_node *nb_row_sums(nb_graph *g, nb_node *a);          /* (r,c) -> (r,1) */
nb_node *nb_col_sums(nb_graph *g, nb_node *a);          /* (r,c) -> (1,c) */

/* element-wise maths (src/ops/elementwise.c) */
nb_node *nb_exp(nb_graph *g, nb_node *a);
nb_node *nb_log(nb_graph *g, nb_node *a);               /* a > 0 */
nb_node *nb_square(nb_graph *g, nb_node *a);
nb_node *nb_sqrt(nb_graph *g, nb_node *a);              /* a > 0 for a gradient */
nb_node *nb_pow(nb_graph *g, nb_node *a, double p);     /* a^p, a > 0 */
nb_node *nb_abs(nb_graph *g, nb_node *a);
nb_node *nb_max(nb_graph *g, nb_node *a, nb_node *b);   /* broadcast; ties go to a */

/* activations (src/ops/activation.c) */
nb_node *nb_sigmoid(nb_graph *g, nb_node *a);
nb_node *nb_tanh(nb_graph *g, nb_node *a);
nb_node *nb_relu(nb_graph *g, nb_node *a);
nb_node *nb_leaky_relu(nb_graph *g, nb_node *a, double alpha);
nb_node *nb_elu(nb_graph *g, nb_node *a, double alpha);
nb_node *nb_softplus(nb_graph *g, nb_node *a);
nb_node *nb_softsign(nb_graph *g, nb_node *a);
nb_node *nb_silu(nb_graph *g, nb_node *a);
nb_node *nb_gelu(nb_graph *g, nb_node *a);              /* x·Φ(x), erf form */
nb_node *nb_gelu_tanh(nb_graph *g, nb_node *a);         /* tanh approximation */
nb_node *nb_hard_tanh(nb_graph *g, nb_node *a);
nb_node *nb_identity(nb_graph *g, nb_node *a);

/* row-wise softmax (src/ops/softmax.c) */
nb_node *nb_softmax(nb_graph *g, nb_node *a);
nb_node *nb_log_softmax(nb_graph *g, nb_node *a);

/* losses (src/ops/loss.c), all (1,1) */
/* mean over all elements of (p - t)^2 */
nb_node *nb_mse(nb_graph *g, nb_node *p, nb_node *t);
/* mean of -(t log p + (1-t) log(1-p)); p in (0,1) */
nb_node *nb_bce(nb_graph *g, nb_node *p, nb_node *t);
/* the same on logits z (p = sigmoid(z)), computed stably */
nb_node *nb_bce_logits(nb_graph *g, nb_node *z, nb_node *t);
/* mean over rows of -sum_j t_ij log softmax(z)_ij; fused and stable */
nb_node *nb_softmax_ce(nb_graph *g, nb_node *z, nb_node *t);
/* (lambda/2) * sum of squares */
nb_node *nb_l2(nb_graph *g, nb_node *w, double lambda);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_OPS_H */
