/* core/op.c — what the core needs to know about an op: whether its struct
 * is well formed, its declared domain and kinks, and how a pointwise op
 * runs on a whole node (the generic loops; f'(x) is kept in aux).  The core
 * applies ops through this contract (include/nabla/op.h) and knows no op
 * by name. */
#include <config.h>

#include <stdio.h>

#include "core/core.h"

void nbi_pointwise_forward(nb_node *out)
{
    const nb_op *op = out->op;
    if (op->forward) {   /* the op's own loops */
        op->forward(out);
        return;
    }
    const nb_node *x = out->in[0];
    nb_pointwise_fn f = op->pointwise;
    size_t n = out->rows * out->cols;
    for (size_t k = 0; k < n; k++) out->value[k] = f(x->value[k], out->hp, &out->aux[k]);
}

void nbi_pointwise_backward(nb_node *out)
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

/* 1 when op's shape rule maps 1x1 inputs (default hyper-parameters) to a
 * 1x1 result: the promise an op with a scalar pair makes, on which nb_apply
 * skips the rule for such inputs. */
static int scalar_shape_ok(const nb_op *op)
{
    nb_node probe[NB_MAX_ARITY];
    const nb_node *in[NB_MAX_ARITY] = { NULL, NULL, NULL };
    double v = 0.0;
    for (size_t i = 0; i < op->arity; i++) {
        memset(&probe[i], 0, sizeof probe[i]);
        probe[i].rows = probe[i].cols = 1;
        probe[i].value = &v;
        in[i] = &probe[i];
    }
    size_t rows = 0, cols = 0;
    char msg[64];
    return op->shape(in, op->hyper_default, &rows, &cols, msg, sizeof msg) == NB_OK && rows == 1 &&
           cols == 1;
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
    else if (!op->scalar_forward != !op->scalar_backward)
        why = "scalar_forward and scalar_backward come as a pair";
    else if (op->pointwise && op->scalar_forward)
        why = "a pointwise op's scalar pair is its pointwise function: give none";
    else if (op->scalar_forward && !scalar_shape_ok(op))
        why = "an op with a scalar pair must map 1x1 inputs to a 1x1 result";
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
