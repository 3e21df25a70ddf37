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

/* The forward of a binary op: a 1x1 result (scalar graphs) in one statement,
 * anything else through binary_map in a function of its own.  Kept apart
 * (noinline), the loops' register saves and set-up are not paid by the 1x1
 * case, which the compiler could not otherwise compile without them. */
#define BINARY_FORWARD(name, f)                                                           \
    static NBI_NOINLINE void name##_forward_loops(nb_node *out) { binary_map(out, f); } \
    static void name##_forward(nb_node *out)                                            \
    {                                                                                   \
        if (out->rows * out->cols == 1) {                                               \
            out->value[0] = f(out->in[0]->value[0], out->in[1]->value[0]);              \
            return;                                                                     \
        }                                                                               \
        name##_forward_loops(out);                                                      \
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
BINARY_FORWARD(add, f_add)
static void add_forward_region(nb_node *out, const nb_rect *r) { binary_map_rect(out, r, f_add); }
/* The backward of add (sign 1) and sub (sign -1) for a 1x1 result, whose
 * inputs are 1x1 too: the sums nbi_bcast_accum would make (sign * g is
 * exact), without its shape tests.  0 for other results. */
static inline int addsub_backward_1x1(nb_node *out, double sign)
{
    if (out->rows * out->cols != 1) return 0;
    nb_node *a = out->in[0], *b = out->in[1];
    double g = out->grad[0];
    if (a->grad) a->grad[0] += g;
    if (b->grad) b->grad[0] += sign * g;
    return 1;
}
static void add_backward(nb_node *out)
{
    if (addsub_backward_1x1(out, 1.0)) return;
    nbi_bcast_accum(out->in[0], out->grad, NULL, 1.0, out->rows, out->cols);
    nbi_bcast_accum(out->in[1], out->grad, NULL, 1.0, out->rows, out->cols);
}

/* sub: y = a - b;  da = g, db = -g */
BINARY_FORWARD(sub, f_sub)
static void sub_forward_region(nb_node *out, const nb_rect *r) { binary_map_rect(out, r, f_sub); }
static void sub_backward(nb_node *out)
{
    if (addsub_backward_1x1(out, -1.0)) return;
    nbi_bcast_accum(out->in[0], out->grad, NULL, 1.0, out->rows, out->cols);
    nbi_bcast_accum(out->in[1], out->grad, NULL, -1.0, out->rows, out->cols);
}

/* mul: y = a ⊙ b;  da = g ⊙ b, db = g ⊙ a */
BINARY_FORWARD(mul, f_mul)
static void mul_forward_region(nb_node *out, const nb_rect *r) { binary_map_rect(out, r, f_mul); }
/* One element of mul's backward: a's gradient at ka gets g b, b's at kb gets
 * g a (a before b, which matters when a and b are one node: x*x). */
static inline void mul_grad_at(nb_node *an, nb_node *bn, double g, size_t ka, size_t kb)
{
    if (an->grad) an->grad[ka] += g * bn->value[kb];
    if (bn->grad) bn->grad[kb] += g * an->value[ka];
}
/* mul's backward for other than a 1x1 result; out of line for the reason
 * given at BINARY_FORWARD. */
static NBI_NOINLINE void mul_backward_loops(nb_node *out)
{
    nb_node *an = out->in[0], *bn = out->in[1];
    size_t ars, acs, brs, bcs, R = out->rows, C = out->cols;
    nbi_bcast_strides(an, R, C, &ars, &acs);
    nbi_bcast_strides(bn, R, C, &brs, &bcs);
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++)
            mul_grad_at(an, bn, out->grad[i * C + j], i * ars + j * acs, i * brs + j * bcs);
}
static void mul_backward(nb_node *out)
{
    if (out->rows * out->cols == 1) {   /* scalar graphs: no loop to set up */
        mul_grad_at(out->in[0], out->in[1], out->grad[0], 0, 0);
        return;
    }
    mul_backward_loops(out);
}

/* div: y = a / b;  da = g / b, db = -g a / b^2 = -g y / b */
BINARY_FORWARD(div, f_div)
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

/* max: y = max(a, b) element-wise (broadcast);  da = g [a >= b], db = g [a < b]
 * (ties send the gradient to a) */
static double f_max(double a, double b) { return a >= b ? a : b; }
BINARY_FORWARD(max, f_max)
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

/* neg: y = -x;  dx = -g */
static double neg_fn(double x, const double *hp, double *d) { (void)hp; *d = -1.0; return -x; }

/* scale: y = c x;  dx = c g */
static double scale_fn(double x, const double *hp, double *d) { *d = hp[0]; return hp[0] * x; }

const nb_op nbi_ops_arith[] = {
    [NBI_OP_ADD] = { .name = "add", .maths = "y = a + b (broadcast); da = g, db = g", .arity = 2,
      .shape = nb_shape_broadcast2, .forward = add_forward, .backward = add_backward,
      .region = nb_region_broadcast2, .forward_region = add_forward_region },
    [NBI_OP_SUB] = { .name = "sub", .maths = "y = a - b (broadcast); da = g, db = -g", .arity = 2,
      .shape = nb_shape_broadcast2, .forward = sub_forward, .backward = sub_backward,
      .region = nb_region_broadcast2, .forward_region = sub_forward_region },
    [NBI_OP_MUL] = { .name = "mul", .maths = "y = a*b element-wise (broadcast); da = g b, db = g a", .arity = 2,
      .shape = nb_shape_broadcast2, .forward = mul_forward, .backward = mul_backward,
      .region = nb_region_broadcast2, .forward_region = mul_forward_region },
    [NBI_OP_DIV] = { .name = "div", .maths = "y = a/b element-wise (broadcast); da = g/b, db = -g a/b^2",
      .arity = 2, .domain = { { -2.5, 2.5 }, { 0.5, 2.5 } },
      .shape = nb_shape_broadcast2, .forward = div_forward, .backward = div_backward,
      .region = nb_region_broadcast2, .forward_region = div_forward_region },
    [NBI_OP_MAX] = { .name = "max", .maths = "y = max(a,b) element-wise (broadcast); da = g [a>=b], db = g [a<b]",
      .arity = 2, .shape = nb_shape_broadcast2, .forward = max_forward, .backward = max_backward,
      .region = nb_region_broadcast2, .forward_region = max_forward_region },
    [NBI_OP_NEG] = { .name = "neg", .maths = "y = -x; dx = -g", .arity = 1, .pointwise = neg_fn },
    [NBI_OP_SCALE] = { .name = "scale", .maths = "y = c x; dx = c g", .arity = 1, .n_hyper = 1,
      .hyper_names = { "c" }, .hyper_default = { -1.735 }, .pointwise = scale_fn },
};
const size_t nbi_n_ops_arith = sizeof nbi_ops_arith / sizeof nbi_ops_arith[0];
