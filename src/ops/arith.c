/* ops/arith.c — element-wise arithmetic with broadcasting.
 *
 * Broadcast rule (nb_shape_broadcast2): per dimension the sizes are equal or
 * one of them is 1; the element (i,j) of an input is value[i*rs + j*cs] with
 * stride 0 along a broadcast dimension.  Backward sums the incoming gradient
 * over the dimensions an input was broadcast along (nbi_bcast_accum). */
#include <config.h>

#include "ops/ops.h"

/* Maps f over the (rows, cols) result, reading both inputs through their
 * broadcast strides.  Static and called with constant f, so the compiler
 * specialises it per op. */
static inline void binary_map(nb_node *out, double (*f)(double, double))
{
    const nb_node *a = out->in[0], *b = out->in[1];
    size_t ars, acs, brs, bcs, R = out->rows, C = out->cols;
    if (a->rows == b->rows && a->cols == b->cols) {   /* no broadcast: one flat loop */
        for (size_t k = 0; k < R * C; k++) out->value[k] = f(a->value[k], b->value[k]);
        return;
    }
    nbi_bcast_strides(a, R, C, &ars, &acs);
    nbi_bcast_strides(b, R, C, &brs, &bcs);
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++)
            out->value[i * C + j] = f(a->value[i * ars + j * acs], b->value[i * brs + j * bcs]);
}

/* binary_map over the rectangle r of the result only. */
static inline void binary_map_rect(nb_node *out, const nb_rect *r, double (*f)(double, double))
{
    const nb_node *a = out->in[0], *b = out->in[1];
    size_t ars, acs, brs, bcs, C = out->cols;
    nbi_bcast_strides(a, out->rows, C, &ars, &acs);
    nbi_bcast_strides(b, out->rows, C, &brs, &bcs);
    for (size_t i = r->r0; i < r->r1; i++)
        for (size_t j = r->c0; j < r->c1; j++)
            out->value[i * C + j] = f(a->value[i * ars + j * acs], b->value[i * brs + j * bcs]);
}

static double f_add(double a, double b) { return a + b; }
static double f_sub(double a, double b) { return a - b; }
static double f_mul(double a, double b) { return a * b; }
static double f_div(double a, double b) { return a / b; }

/* add: y = a + b;  da = g, db = g (summed over broadcast dims) */
static void add_forward(nb_node *out) { binary_map(out, f_add); }
static void add_forward_region(nb_node *out, const nb_rect *r) { binary_map_rect(out, r, f_add); }
static void add_backward(nb_node *out)
{
    nbi_bcast_accum(out->in[0], out->grad, NULL, 1.0, out->rows, out->cols);
    nbi_bcast_accum(out->in[1], out->grad, NULL, 1.0, out->rows, out->cols);
}
/* The same on 1x1 inputs, as plain doubles (the sums nbi_bcast_accum makes). */
static double add_scalar_forward(const double *in, const double *hp, double *aux)
{
    (void)hp; (void)aux;
    return f_add(in[0], in[1]);
}
static void add_scalar_backward(double g, const double *in, double y, const double *hp,
                                const double *aux, double *const *grad)
{
    (void)in; (void)y; (void)hp; (void)aux;
    if (grad[0]) *grad[0] += 1.0 * g;
    if (grad[1]) *grad[1] += 1.0 * g;
}

const nb_op nb_op_add = {
    .name = "add", .maths = "y = a + b (broadcast); da = g, db = g", .arity = 2,
    .shape = nb_shape_broadcast2, .forward = add_forward, .backward = add_backward,
    .region = nb_region_broadcast2, .forward_region = add_forward_region,
    .scalar_forward = add_scalar_forward, .scalar_backward = add_scalar_backward
};

/* sub: y = a - b;  da = g, db = -g */
static void sub_forward(nb_node *out) { binary_map(out, f_sub); }
static void sub_forward_region(nb_node *out, const nb_rect *r) { binary_map_rect(out, r, f_sub); }
static void sub_backward(nb_node *out)
{
    nbi_bcast_accum(out->in[0], out->grad, NULL, 1.0, out->rows, out->cols);
    nbi_bcast_accum(out->in[1], out->grad, NULL, -1.0, out->rows, out->cols);
}
static double sub_scalar_forward(const double *in, const double *hp, double *aux)
{
    (void)hp; (void)aux;
    return f_sub(in[0], in[1]);
}
static void sub_scalar_backward(double g, const double *in, double y, const double *hp,
                                const double *aux, double *const *grad)
{
    (void)in; (void)y; (void)hp; (void)aux;
    if (grad[0]) *grad[0] += 1.0 * g;
    if (grad[1]) *grad[1] += -1.0 * g;
}

const nb_op nb_op_sub = {
    .name = "sub", .maths = "y = a - b (broadcast); da = g, db = -g", .arity = 2,
    .shape = nb_shape_broadcast2, .forward = sub_forward, .backward = sub_backward,
    .region = nb_region_broadcast2, .forward_region = sub_forward_region,
    .scalar_forward = sub_scalar_forward, .scalar_backward = sub_scalar_backward
};

/* mul: y = a ⊙ b;  da = g ⊙ b, db = g ⊙ a */
static void mul_forward(nb_node *out) { binary_map(out, f_mul); }
static void mul_forward_region(nb_node *out, const nb_rect *r) { binary_map_rect(out, r, f_mul); }
/* a's gradient gets g b before b's gets g a, which matters when a and b
 * are one node (x*x). */
static void mul_backward(nb_node *out)
{
    nb_node *an = out->in[0], *bn = out->in[1];
    size_t ars, acs, brs, bcs, R = out->rows, C = out->cols;
    nbi_bcast_strides(an, R, C, &ars, &acs);
    nbi_bcast_strides(bn, R, C, &brs, &bcs);
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++) {
            double g = out->grad[i * C + j];
            size_t ka = i * ars + j * acs, kb = i * brs + j * bcs;
            if (an->grad) an->grad[ka] += g * bn->value[kb];
            if (bn->grad) bn->grad[kb] += g * an->value[ka];
        }
}
static double mul_scalar_forward(const double *in, const double *hp, double *aux)
{
    (void)hp; (void)aux;
    return f_mul(in[0], in[1]);
}
static void mul_scalar_backward(double g, const double *in, double y, const double *hp,
                                const double *aux, double *const *grad)
{
    (void)y; (void)hp; (void)aux;
    if (grad[0]) *grad[0] += g * in[1];
    if (grad[1]) *grad[1] += g * in[0];
}

const nb_op nb_op_mul = {
    .name = "mul", .maths = "y = a*b element-wise (broadcast); da = g b, db = g a", .arity = 2,
    .shape = nb_shape_broadcast2, .forward = mul_forward, .backward = mul_backward,
    .region = nb_region_broadcast2, .forward_region = mul_forward_region,
    .scalar_forward = mul_scalar_forward, .scalar_backward = mul_scalar_backward
};

/* div: y = a / b;  da = g / b, db = -g a / b^2 = -g y / b */
static void div_forward(nb_node *out) { binary_map(out, f_div); }
static void div_forward_region(nb_node *out, const nb_rect *r) { binary_map_rect(out, r, f_div); }
static void div_backward(nb_node *out)
{
    nb_node *an = out->in[0], *bn = out->in[1];
    size_t ars, acs, brs, bcs, R = out->rows, C = out->cols;
    nbi_bcast_strides(an, R, C, &ars, &acs);
    nbi_bcast_strides(bn, R, C, &brs, &bcs);
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++) {
            size_t k = i * C + j;
            double g = out->grad[k];
            size_t ka = i * ars + j * acs, kb = i * brs + j * bcs;
            double b = bn->value[kb];
            if (an->grad) an->grad[ka] += g / b;
            if (bn->grad) bn->grad[kb] -= g * out->value[k] / b;
        }
}
static double div_scalar_forward(const double *in, const double *hp, double *aux)
{
    (void)hp; (void)aux;
    return f_div(in[0], in[1]);
}
static void div_scalar_backward(double g, const double *in, double y, const double *hp,
                                const double *aux, double *const *grad)
{
    (void)hp; (void)aux;
    if (grad[0]) *grad[0] += g / in[1];
    if (grad[1]) *grad[1] -= g * y / in[1];
}

const nb_op nb_op_div = {
    .name = "div", .maths = "y = a/b element-wise (broadcast); da = g/b, db = -g a/b^2",
    .arity = 2, .domain = { { -2.5, 2.5 }, { 0.5, 2.5 } },
    .shape = nb_shape_broadcast2, .forward = div_forward, .backward = div_backward,
    .region = nb_region_broadcast2, .forward_region = div_forward_region,
    .scalar_forward = div_scalar_forward, .scalar_backward = div_scalar_backward
};

/* max: y = max(a, b) element-wise (broadcast);  da = g [a >= b], db = g [a < b]
 * (ties send the gradient to a) */
static double f_max(double a, double b) { return a >= b ? a : b; }
static void max_forward(nb_node *out) { binary_map(out, f_max); }
static void max_forward_region(nb_node *out, const nb_rect *r) { binary_map_rect(out, r, f_max); }
static void max_backward(nb_node *out)
{
    nb_node *an = out->in[0], *bn = out->in[1];
    size_t ars, acs, brs, bcs, R = out->rows, C = out->cols;
    nbi_bcast_strides(an, R, C, &ars, &acs);
    nbi_bcast_strides(bn, R, C, &brs, &bcs);
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++) {
            double g = out->grad[i * C + j];
            size_t ka = i * ars + j * acs, kb = i * brs + j * bcs;
            if (an->value[ka] >= bn->value[kb]) {
                if (an->grad) an->grad[ka] += g;
            } else if (bn->grad) {
                bn->grad[kb] += g;
            }
        }
}
static double max_scalar_forward(const double *in, const double *hp, double *aux)
{
    (void)hp; (void)aux;
    return f_max(in[0], in[1]);
}
static void max_scalar_backward(double g, const double *in, double y, const double *hp,
                                const double *aux, double *const *grad)
{
    (void)y; (void)hp; (void)aux;
    if (in[0] >= in[1]) {
        if (grad[0]) *grad[0] += g;
    } else if (grad[1]) {
        *grad[1] += g;
    }
}

const nb_op nb_op_max = {
    .name = "max", .maths = "y = max(a,b) element-wise (broadcast); da = g [a>=b], db = g [a<b]",
    .arity = 2, .shape = nb_shape_broadcast2, .forward = max_forward, .backward = max_backward,
    .region = nb_region_broadcast2, .forward_region = max_forward_region,
    .scalar_forward = max_scalar_forward, .scalar_backward = max_scalar_backward
};

/* neg: y = -x;  dx = -g */
static double neg_fn(double x, const double *hp, double *d) { (void)hp; *d = -1.0; return -x; }

const nb_op nb_op_neg = {
    .name = "neg", .maths = "y = -x; dx = -g", .arity = 1, .pointwise = neg_fn
};

/* scale: y = c x;  dx = c g */
static double scale_fn(double x, const double *hp, double *d) { *d = hp[0]; return hp[0] * x; }

const nb_op nb_op_scale = {
    .name = "scale", .maths = "y = c x; dx = c g", .arity = 1, .n_hyper = 1,
    .hyper_names = { "c" }, .hyper_default = { -1.735 }, .pointwise = scale_fn
};

const nb_op *const nbi_ops_arith[] = {
    &nb_op_add,
    &nb_op_sub,
    &nb_op_mul,
    &nb_op_div,
    &nb_op_max,
    &nb_op_neg,
    &nb_op_scale,
    NULL,
};
