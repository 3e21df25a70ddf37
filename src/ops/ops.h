/* ops.h — the op layer's private header: the helpers op families share
 * (broadcasting) and the family tables the registry lists.  Never
 * installed. */
#ifndef NABLA_OPS_PRIVATE_H
#define NABLA_OPS_PRIVATE_H

#include "core/core.h"
#include <nabla/ops.h>

/* Recomputes only the rectangle r of a pointwise op's value (and f'(x) in
 * its aux), with the pointwise function: the checker's partial
 * re-evaluation. */
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
 * the element (i,j) of input x is x->value[i*rs + j*cs]. */
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
 * Inline for the case without broadcast, one flat loop. */
static inline void nbi_bcast_accum(nb_node *x, const double *g, const double *w, double sign,
                                   size_t rows, size_t cols)
{
    if (!x->grad) return;
    if (x->rows != rows || x->cols != cols) {
        nbi_bcast_accum_broadcast(x, g, w, sign, rows, cols);
        return;
    }
    double *xg = x->grad;
    for (size_t k = 0; k < rows * cols; k++) xg[k] += sign * (w ? g[k] * w[k] : g[k]);
}

/* 1 when op is listed in the registry (the checker's replay line). */
int nbi_op_in_registry(const nb_op *op);

/* Family tables, one per file under src/ops/: the addresses of the family's
 * named ops (nb_op_tanh, ...), NULL-terminated.  registry.c lists them. */
extern const nb_op *const nbi_ops_arith[];
extern const nb_op *const nbi_ops_matrix[];
extern const nb_op *const nbi_ops_elementwise[];
extern const nb_op *const nbi_ops_activation[];
extern const nb_op *const nbi_ops_softmax[];
extern const nb_op *const nbi_ops_loss[];

#endif
