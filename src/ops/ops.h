/* ops.h — the op layer's private header: the helpers op families share
 * (pointwise forward/backward, broadcasting).  Never installed. */
#ifndef NABLA_OPS_PRIVATE_H
#define NABLA_OPS_PRIVATE_H

#include "core/core.h"

/* Generic forward/backward of pointwise ops (aux holds f'(x)) for other than
 * the 1x1 case of an op without loops of its own: whole arrays, or the op's
 * own loops. */
void nbi_pointwise_forward_loop(nb_node *out);
void nbi_pointwise_backward_loop(nb_node *out);

/* Forward of a pointwise op.  Inline because a 1x1 node (scalar graphs) is
 * one call of the pointwise function: a call more, or a loop kept around it,
 * would cost more than the statement. */
static inline void nbi_pointwise_forward(nb_node *out)
{
    const nb_op *op = out->op;
    if (!op->forward && out->rows * out->cols == 1) {
        out->value[0] = op->pointwise(out->in[0]->value[0], out->hp, &out->aux[0]);
        return;
    }
    nbi_pointwise_forward_loop(out);
}

/* Backward of a pointwise op; inline for the same reason (one multiply-add
 * for a 1x1 node, where there is no vectorised loop to set up). */
static inline void nbi_pointwise_backward(nb_node *out)
{
    nb_node *x = out->in[0];
    if (!x->grad) return;
    if (!out->op->backward && out->rows * out->cols == 1) {
        x->grad[0] += out->grad[0] * out->aux[0];
        return;
    }
    nbi_pointwise_backward_loop(out);
}
void nbi_pointwise_forward_region(nb_node *out, const nb_rect *r);

/* Partial re-evaluation from a base point (the gradient checker's, per
 * coordinate): out and base are two copies of one product node, base holding
 * the values at the base point (base->value, base->in[j]->value) and out the
 * current ones, which differ from the base only in input i, inside *in.
 * Writes out's value over *res as the base value plus the change of the
 * product (a rank-|in| update), at a cost independent of the inner size;
 * returns 1, or 0 (nothing written) when the change is too wide for an
 * update to pay.  NULL for ops without one (only matmul and affine have
 * one): chosen once per node by nbi_op_region_update. */
typedef int (*nbi_region_update_fn)(nb_node *out, const nb_node *base, size_t i,
                                    const nb_rect *in, const nb_rect *res);
nbi_region_update_fn nbi_op_region_update(const nb_op *op);

/* Broadcasting helpers for binary element-wise ops.  For an (R,C) result,
 * the element (i,j) of input x is x->value[i*rs + j*cs].  Inline: for the 1x1
 * nodes of scalar graphs a call costs more than the work. */
static inline void nbi_bcast_strides(const nb_node *x, size_t rows, size_t cols,
                                     size_t *rs, size_t *cs)
{
    (void)rows; (void)cols;
    *rs = x->rows == 1 ? 0 : x->cols;
    *cs = x->cols == 1 ? 0 : 1;
}

/* nbi_bcast_accum when x has a broadcast dimension. */
void nbi_bcast_accum_broadcast(nb_node *x, const double *g, const double *w, double sign,
                               size_t rows, size_t cols);

/* Adds g (rows, cols) into x->grad, summing over broadcast dimensions,
 * each element multiplied by w[...] when w != NULL (w has the output shape).
 * Inline for the case without broadcast, one flat loop (and, for 1x1 nodes,
 * one multiply-add where a call would cost more). */
static inline void nbi_bcast_accum(nb_node *x, const double *g, const double *w, double sign,
                                   size_t rows, size_t cols)
{
    if (!x->grad) return;
    if (x->rows != rows || x->cols != cols) {
        nbi_bcast_accum_broadcast(x, g, w, sign, rows, cols);
        return;
    }
    /* rows * cols == 1 (scalar graphs) is one iteration; the test keeps it
     * out of the set-up of the vectorised loop. */
    double *xg = x->grad;
    if (rows * cols == 1) xg[0] += sign * (w ? g[0] * w[0] : g[0]);
    else
        for (size_t k = 0; k < rows * cols; k++) xg[k] += sign * (w ? g[k] * w[k] : g[k]);
}

/* 1 when op points into one of the registry's family tables. */
int nbi_op_in_registry(const nb_op *op);

/* Positions in the family tables of the ops that have a typed builder
 * (ops/api.c), which takes the op's address at its position instead of
 * looking up its name.  The tables place these entries with designated
 * initializers ([NBI_OP_TANH] = { .name = "tanh", ... }), so a position
 * cannot drift from its entry; an op without a builder needs no name here. */
enum nbi_op_arith { NBI_OP_ADD, NBI_OP_SUB, NBI_OP_MUL, NBI_OP_DIV, NBI_OP_MAX, NBI_OP_NEG,
                    NBI_OP_SCALE };
enum nbi_op_matrix { NBI_OP_MATMUL, NBI_OP_TRANSPOSE, NBI_OP_SUM, NBI_OP_MEAN, NBI_OP_ROW_SUMS,
                     NBI_OP_COL_SUMS, NBI_OP_AFFINE };
enum nbi_op_elementwise { NBI_OP_EXP, NBI_OP_LOG, NBI_OP_SQUARE, NBI_OP_SQRT, NBI_OP_POW,
                          NBI_OP_ABS };
enum nbi_op_activation { NBI_OP_SIGMOID, NBI_OP_TANH, NBI_OP_RELU, NBI_OP_LEAKY_RELU, NBI_OP_ELU,
                         NBI_OP_SOFTPLUS, NBI_OP_SOFTSIGN, NBI_OP_SILU, NBI_OP_GELU,
                         NBI_OP_GELU_TANH, NBI_OP_HARD_TANH, NBI_OP_IDENTITY };
enum nbi_op_softmax { NBI_OP_SOFTMAX, NBI_OP_LOG_SOFTMAX };
enum nbi_op_loss { NBI_OP_MSE, NBI_OP_BCE, NBI_OP_BCE_LOGITS, NBI_OP_SOFTMAX_CE, NBI_OP_L2 };

/* Family tables (one per file under src/ops/). */
extern const nb_op nbi_ops_arith[];
extern const size_t nbi_n_ops_arith;
extern const nb_op nbi_ops_matrix[];
extern const size_t nbi_n_ops_matrix;
extern const nb_op nbi_ops_elementwise[];
extern const size_t nbi_n_ops_elementwise;
extern const nb_op nbi_ops_activation[];
extern const size_t nbi_n_ops_activation;
extern const nb_op nbi_ops_softmax[];
extern const size_t nbi_n_ops_softmax;
extern const nb_op nbi_ops_loss[];
extern const size_t nbi_n_ops_loss;

#endif
