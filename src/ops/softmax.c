/* ops/softmax.c — row-wise softmax and log-softmax, computed with the row
 * maximum subtracted so that no exp overflows. */
#include <config.h>

#include <math.h>

#include "ops/ops.h"

/* Row maximum m and s = sum_j e^(x_j - m) of one row of n values: the
 * shifted x_j - m are exact for nearby values, so e^(x_j - m)/s and
 * (x_j - m) - ln s keep full precision even for logits like 1000. */
static double row_max_sum(const double *x, size_t n, double *s)
{
    double m = x[0];
    for (size_t j = 1; j < n; j++)
        if (x[j] > m) m = x[j];
    double e = 0.0;
    for (size_t j = 0; j < n; j++) e += exp(x[j] - m);
    *s = e;
    return m;
}

/* softmax: y_ij = e^(x_ij) / Σ_k e^(x_ik);  dx_ij = y_ij (g_ij - Σ_k g_ik y_ik) */
/* Row-wise ops: a change in rows R reaches rows R, every column. */
static void rows_region(const nb_node *out, size_t i, const nb_rect *in, nb_rect *res)
{
    (void)i;
    *res = (nb_rect){ in->r0, in->r1, 0, out->cols };
}

static void softmax_rows(nb_node *out, size_t r0, size_t r1)
{
    const nb_node *x = out->in[0];
    size_t C = x->cols;
    for (size_t i = r0; i < r1; i++) {
        const double *xr = x->value + i * C;
        double *yr = out->value + i * C;
        double sum, m = row_max_sum(xr, C, &sum);
        for (size_t j = 0; j < C; j++) yr[j] = exp(xr[j] - m) / sum;
    }
}

static void softmax_forward(nb_node *out) { softmax_rows(out, 0, out->rows); }
static void softmax_forward_region(nb_node *out, const nb_rect *r) { softmax_rows(out, r->r0, r->r1); }

static void softmax_backward(nb_node *out)
{
    nb_node *x = out->in[0];
    if (!x->grad) return;
    size_t C = x->cols;
    for (size_t i = 0; i < x->rows; i++) {
        const double *yr = out->value + i * C, *gr = out->grad + i * C;
        double dot = 0.0;
        for (size_t j = 0; j < C; j++) dot += gr[j] * yr[j];
        for (size_t j = 0; j < C; j++) x->grad[i * C + j] += yr[j] * (gr[j] - dot);
    }
}

const nb_op nb_op_softmax = {
    .name = "softmax", .maths = "y_ij = e^x_ij / sum_k e^x_ik; dx = y (g - sum_k g_k y_k)",
    .arity = 1, .shape = nb_shape_same, .forward = softmax_forward,
    .backward = softmax_backward,
    .region = rows_region, .forward_region = softmax_forward_region
};

/* log_softmax: y_ij = x_ij - lse_i;  dx_ij = g_ij - e^(y_ij) Σ_k g_ik */
static void log_softmax_rows(nb_node *out, size_t r0, size_t r1)
{
    const nb_node *x = out->in[0];
    size_t C = x->cols;
    for (size_t i = r0; i < r1; i++) {
        const double *xr = x->value + i * C;
        double sum, m = row_max_sum(xr, C, &sum);
        double ls = log(sum);
        for (size_t j = 0; j < C; j++) out->value[i * C + j] = (xr[j] - m) - ls;
    }
}

static void log_softmax_forward(nb_node *out) { log_softmax_rows(out, 0, out->rows); }
static void log_softmax_forward_region(nb_node *out, const nb_rect *r)
{
    log_softmax_rows(out, r->r0, r->r1);
}

static void log_softmax_backward(nb_node *out)
{
    nb_node *x = out->in[0];
    if (!x->grad) return;
    size_t C = x->cols;
    for (size_t i = 0; i < x->rows; i++) {
        const double *yr = out->value + i * C, *gr = out->grad + i * C;
        double gs = 0.0;
        for (size_t j = 0; j < C; j++) gs += gr[j];
        for (size_t j = 0; j < C; j++) x->grad[i * C + j] += gr[j] - exp(yr[j]) * gs;
    }
}

const nb_op nb_op_log_softmax = {
    .name = "log_softmax", .maths = "y_ij = x_ij - lse_i; dx = g - softmax * sum_k g_k",
    .arity = 1, .shape = nb_shape_same, .forward = log_softmax_forward,
    .backward = log_softmax_backward,
    .region = rows_region, .forward_region = log_softmax_forward_region
};

const nb_op *const nbi_ops_softmax[] = {
    &nb_op_softmax,
    &nb_op_log_softmax,
    NULL,
};
