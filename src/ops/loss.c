/* ops/loss.c — losses, each a (1,1) result.  Averages are over all N
 * elements (mse, bce, bce_logits) or over the R rows (softmax_ce). */
#include <config.h>

#include <math.h>
#include <stdio.h>

#include "ops/ops.h"

static int same_then_scalar(const nb_node *const *in, const double *hp, size_t *rows,
                            size_t *cols, char *msg, size_t len)
{
    int st = nb_shape_same(in, hp, rows, cols, msg, len);
    if (st == NB_OK) *rows = *cols = 1;
    return st;
}

static size_t numel(const nb_node *n) { return n->rows * n->cols; }

/* mse: L = (1/N) Σ (p - t)^2;  dp = 2 g (p - t)/N, dt = -dp */
static void mse_forward(nb_node *out)
{
    const nb_node *p = out->in[0], *t = out->in[1];
    size_t n = numel(p);
    double s = 0.0;
    for (size_t k = 0; k < n; k++) {
        double e = p->value[k] - t->value[k];
        s += e * e;
    }
    out->value[0] = s / (double)n;
}

static void mse_backward(nb_node *out)
{
    nb_node *p = out->in[0], *t = out->in[1];
    size_t n = numel(p);
    double c = 2.0 * out->grad[0] / (double)n;
    for (size_t k = 0; k < n; k++) {
        double e = c * (p->value[k] - t->value[k]);
        if (p->grad) p->grad[k] += e;
        if (t->grad) t->grad[k] -= e;
    }
}

const nb_op nb_op_mse = {
    .name = "mse", .maths = "L = mean (p-t)^2; dp = 2(p-t)/N, dt = -dp", .arity = 2,
    .shape = same_then_scalar, .forward = mse_forward, .backward = mse_backward
};

/* bce: L = -(1/N) Σ [t ln p + (1-t) ln(1-p)];
 *      dp = g (p - t) / (p (1-p) N),  dt = g (ln(1-p) - ln p) / N */
static void bce_forward(nb_node *out)
{
    const nb_node *p = out->in[0], *t = out->in[1];
    size_t n = numel(p);
    double s = 0.0;
    for (size_t k = 0; k < n; k++) {
        double pk = p->value[k], tk = t->value[k];
        s -= tk * log(pk) + (1.0 - tk) * log1p(-pk);
    }
    out->value[0] = s / (double)n;
}

static void bce_backward(nb_node *out)
{
    nb_node *p = out->in[0], *t = out->in[1];
    size_t n = numel(p);
    double c = out->grad[0] / (double)n;
    for (size_t k = 0; k < n; k++) {
        double pk = p->value[k], tk = t->value[k];
        if (p->grad) p->grad[k] += c * (pk - tk) / (pk * (1.0 - pk));
        if (t->grad) t->grad[k] += c * (log1p(-pk) - log(pk));
    }
}

const nb_op nb_op_bce = {
    .name = "bce",
    .maths = "L = -mean[t ln p + (1-t) ln(1-p)]; dp = (p-t)/(p(1-p)N), dt = ln((1-p)/p)/N",
    .arity = 2, .domain = { { 0.05, 0.95 }, { 0.0, 1.0 } },
    .shape = same_then_scalar, .forward = bce_forward, .backward = bce_backward
};

/* bce_logits: L = (1/N) Σ [max(z,0) - z t + ln(1 + e^-|z|)]  (= bce(sigmoid z, t));
 *             dz = g (sigmoid(z) - t)/N,  dt = -g z/N */
static void bce_logits_forward(nb_node *out)
{
    const nb_node *z = out->in[0], *t = out->in[1];
    size_t n = numel(z);
    double s = 0.0;
    for (size_t k = 0; k < n; k++) {
        double zk = z->value[k];
        s += (zk > 0.0 ? zk : 0.0) - zk * t->value[k] + log1p(exp(-fabs(zk)));
    }
    out->value[0] = s / (double)n;
}

static void bce_logits_backward(nb_node *out)
{
    nb_node *z = out->in[0], *t = out->in[1];
    size_t n = numel(z);
    double c = out->grad[0] / (double)n;
    for (size_t k = 0; k < n; k++) {
        double zk = z->value[k];
        double s = zk >= 0.0 ? 1.0 / (1.0 + exp(-zk)) : exp(zk) / (1.0 + exp(zk));
        if (z->grad) z->grad[k] += c * (s - t->value[k]);
        if (t->grad) t->grad[k] -= c * zk;
    }
}

const nb_op nb_op_bce_logits = {
    .name = "bce_logits",
    .maths = "L = mean[max(z,0) - z t + ln(1+e^-|z|)]; dz = (sigmoid(z)-t)/N, dt = -z/N",
    .arity = 2, .domain = { { -4.0, 4.0 }, { 0.0, 1.0 } },
    .shape = same_then_scalar, .forward = bce_logits_forward, .backward = bce_logits_backward
};

/* softmax_ce: L = (1/R) Σ_i Σ_j t_ij (lse_i - z_ij), fused and stable;
 *             dz_ij = g (softmax_ij T_i - t_ij)/R with T_i = Σ_j t_ij,
 *             dt_ij = g (lse_i - z_ij)/R.
 * aux keeps the row-wise log-softmax z - lse from forward. */
static size_t softmax_ce_aux(const nb_node *out) { return numel(out->in[0]); }

static void softmax_ce_forward(nb_node *out)
{
    const nb_node *z = out->in[0], *t = out->in[1];
    size_t R = z->rows, C = z->cols;
    double s = 0.0;
    for (size_t i = 0; i < R; i++) {
        const double *zr = z->value + i * C, *tr = t->value + i * C;
        double *lr = out->aux + i * C;
        double m = zr[0];
        for (size_t j = 1; j < C; j++)
            if (zr[j] > m) m = zr[j];
        double e = 0.0;
        for (size_t j = 0; j < C; j++) e += exp(zr[j] - m);
        double ls = log(e);
        for (size_t j = 0; j < C; j++) {
            lr[j] = (zr[j] - m) - ls;
            s -= tr[j] * lr[j];
        }
    }
    out->value[0] = s / (double)R;
}

static void softmax_ce_backward(nb_node *out)
{
    nb_node *z = out->in[0], *t = out->in[1];
    size_t R = z->rows, C = z->cols;
    double c = out->grad[0] / (double)R;
    for (size_t i = 0; i < R; i++) {
        const double *tr = t->value + i * C, *lr = out->aux + i * C;
        double T = 0.0;
        for (size_t j = 0; j < C; j++) T += tr[j];
        for (size_t j = 0; j < C; j++) {
            if (z->grad) z->grad[i * C + j] += c * (exp(lr[j]) * T - tr[j]);
            if (t->grad) t->grad[i * C + j] -= c * lr[j];
        }
    }
}

const nb_op nb_op_softmax_ce = {
    .name = "softmax_ce",
    .maths = "L = (1/R) sum_ij t_ij (lse_i - z_ij); dz = (softmax T - t)/R, dt = (lse - z)/R",
    .arity = 2, .domain = { { -3.0, 3.0 }, { 0.0, 1.0 } },
    .shape = same_then_scalar, .forward = softmax_ce_forward,
    .backward = softmax_ce_backward, .aux = softmax_ce_aux
};

/* l2: L = (λ/2) Σ w^2;  dw = g λ w */
static void l2_forward(nb_node *out)
{
    const nb_node *w = out->in[0];
    double s = 0.0;
    for (size_t k = 0; k < numel(w); k++) s += w->value[k] * w->value[k];
    out->value[0] = 0.5 * out->hp[0] * s;
}

static void l2_backward(nb_node *out)
{
    nb_node *w = out->in[0];
    if (!w->grad) return;
    double c = out->grad[0] * out->hp[0];
    for (size_t k = 0; k < numel(w); k++) w->grad[k] += c * w->value[k];
}

const nb_op nb_op_l2 = {
    .name = "l2", .maths = "L = (lambda/2) sum w^2; dw = lambda w", .arity = 1, .n_hyper = 1,
    .hyper_names = { "lambda" }, .hyper_default = { 0.0135 },
    .shape = nb_shape_scalar, .forward = l2_forward, .backward = l2_backward
};

const nb_op *const nbi_ops_loss[] = {
    &nb_op_mse,
    &nb_op_bce,
    &nb_op_bce_logits,
    &nb_op_softmax_ce,
    &nb_op_l2,
    NULL,
};
