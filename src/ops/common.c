/* ops/common.c — what every op family shares: shape rules, broadcasting,
 * the region re-evaluation of pointwise ops. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "ops/ops.h"

int nb_shape_same(const nb_node *const *in, const double *hp, size_t *rows,
                  size_t *cols, char *msg, size_t len)
{
    (void)hp;
    const nb_node *a = in[0];
    for (size_t i = 1; i < NB_MAX_ARITY && in[i]; i++) {
        if (in[i]->rows != a->rows || in[i]->cols != a->cols) {
            snprintf(msg, len, "(%zux%zu) and (%zux%zu): shapes differ (input %zu vs 1)",
                     a->rows, a->cols, in[i]->rows, in[i]->cols, i + 1);
            return NB_ESHAPE;
        }
    }
    *rows = a->rows;
    *cols = a->cols;
    return NB_OK;
}

int nb_shape_broadcast2(const nb_node *const *in, const double *hp,
                        size_t *rows, size_t *cols, char *msg, size_t len)
{
    (void)hp;
    const nb_node *a = in[0], *b = in[1];
    int rok = a->rows == b->rows || a->rows == 1 || b->rows == 1;
    int cok = a->cols == b->cols || a->cols == 1 || b->cols == 1;
    if (!rok || !cok) {
        snprintf(msg, len,
                 "(%zux%zu) and (%zux%zu): cannot broadcast (%s differ and neither is 1)",
                 a->rows, a->cols, b->rows, b->cols, !rok ? "rows" : "columns");
        return NB_ESHAPE;
    }
    *rows = a->rows > b->rows ? a->rows : b->rows;
    *cols = a->cols > b->cols ? a->cols : b->cols;
    return NB_OK;
}

int nb_shape_scalar(const nb_node *const *in, const double *hp, size_t *rows,
                    size_t *cols, char *msg, size_t len)
{
    (void)in; (void)hp; (void)msg; (void)len;
    *rows = 1;
    *cols = 1;
    return NB_OK;
}

void nb_region_broadcast2(const nb_node *out, size_t i, const nb_rect *in, nb_rect *res)
{
    const nb_node *x = out->in[i];
    *res = *in;
    if (x->rows == 1 && out->rows > 1) res->r0 = 0, res->r1 = out->rows;
    if (x->cols == 1 && out->cols > 1) res->c0 = 0, res->c1 = out->cols;
}

void nbi_bcast_accum_broadcast(nb_node *x, const double *g, const double *w, double sign,
                               size_t rows, size_t cols)
{
    double *xg = x->grad;
    if (x->rows == 1 && x->cols == cols) {   /* a bias row: column sums, row by row */
        for (size_t i = 0; i < rows; i++) {
            const double *gi = g + i * cols, *wi = w ? w + i * cols : NULL;
            if (wi)
                for (size_t j = 0; j < cols; j++) xg[j] += sign * (gi[j] * wi[j]);
            else   /* the bias of a dense layer: a loop that vectorises */
                for (size_t j = 0; j < cols; j++) xg[j] += sign * gi[j];
        }
        return;
    }
    size_t rs, cs;
    nbi_bcast_strides(x, rows, cols, &rs, &cs);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            size_t k = i * cols + j;
            xg[i * rs + j * cs] += sign * (w ? g[k] * w[k] : g[k]);
        }
}

/* Pointwise ops: forward stores f'(x) in aux so backward is one multiply
 * (core/op.c runs them); the checker's partial re-evaluation recomputes a
 * rectangle with the pointwise function here. */
void nbi_pointwise_forward_region(nb_node *out, const nb_rect *r)
{
    const nb_node *x = out->in[0];
    nb_pointwise_fn f = out->op->pointwise;
    for (size_t i = r->r0; i < r->r1; i++)
        for (size_t j = r->c0; j < r->c1; j++) {
            size_t k = i * out->cols + j;
            out->value[k] = f(x->value[k], out->hp, &out->aux[k]);
        }
}
