/* ops/common.c — what every op family shares: shape rules, broadcasting,
 * the generic forward/backward of pointwise ops, op validation. */
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

/* Pointwise ops: forward stores f'(x) in aux so backward is one multiply.
 * An op may add forward/backward loops of its own that compute the same
 * numbers without a call per element (relu); they are used instead, and
 * tests/test_ops.c checks them against the pointwise function bit for bit.
 * The 1x1 case of the generic loops is inline (ops/ops.h); these take the
 * rest, which is also correct for one element. */
void nbi_pointwise_forward_loop(nb_node *out)
{
    if (out->op->forward) {
        out->op->forward(out);
        return;
    }
    const nb_node *x = out->in[0];
    nb_pointwise_fn f = out->op->pointwise;
    size_t n = out->rows * out->cols;
    for (size_t k = 0; k < n; k++) out->value[k] = f(x->value[k], out->hp, &out->aux[k]);
}

void nbi_pointwise_backward_loop(nb_node *out)
{
    nb_node *x = out->in[0];
    if (!x->grad) return;
    if (out->op->backward) {
        out->op->backward(out);
        return;
    }
    size_t n = out->rows * out->cols;
    for (size_t k = 0; k < n; k++) x->grad[k] += out->grad[k] * out->aux[k];
}

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

double nb_op_kink_grad(const nb_op *op, size_t k, const double *hp)
{
    const nb_kink *kk = &op->kinks[k];
    if (kk->grad_hyper > 0 && kk->grad_hyper <= op->n_hyper)
        return hp ? hp[kk->grad_hyper - 1] : op->hyper_default[kk->grad_hyper - 1];
    return kk->grad;
}

nb_interval nb_op_domain(const nb_op *op, size_t i)
{
    nb_interval d = { -2.5, 2.5 };
    if (op && i < NB_MAX_ARITY && !(op->domain[i].lo == 0 && op->domain[i].hi == 0))
        d = op->domain[i];
    return d;
}

int nb_op_validate(const nb_op *op, char *msg, size_t len)
{
    const char *name = op && op->name ? op->name : "(unnamed op)";
    const char *why = NULL;
    if (!op) why = "op is NULL";
    else if (!op->name || !*op->name) why = "has no name";
    else if (op->arity < 1 || op->arity > NB_MAX_ARITY) why = "arity must be 1..3";
    else if (op->n_hyper > NB_MAX_HYPER) why = "too many hyper-parameters";
    else if (op->n_kinks > NB_MAX_KINKS) why = "too many kinks";
    else if (op->pointwise && op->arity != 1) why = "a pointwise op must have arity 1";
    else if (!op->pointwise && (!op->shape || !op->forward || !op->backward))
        why = "needs either pointwise, or shape + forward + backward";
    else if (op->pointwise && !op->forward != !op->backward)
        why = "a pointwise op's own forward and backward loops come as a pair";
    else if (op->n_kinks && op->arity != 1) why = "kinks are declared for unary ops only";
    for (size_t k = 0; !why && op && k < op->n_kinks && k < NB_MAX_KINKS; k++)
        if (op->kinks[k].grad_hyper > op->n_hyper) why = "a kink names a hyper-parameter the op lacks";
    if (!why && op) {
        for (size_t i = 0; i < op->arity; i++) {
            nb_interval d = nb_op_domain(op, i);
            if (!(d.lo < d.hi)) { why = "domain interval must have lo < hi"; break; }
        }
    }
    if (why) {
        if (msg && len) snprintf(msg, len, "%s: invalid op definition: %s", name, why);
        return NB_EINVAL;
    }
    return NB_OK;
}
