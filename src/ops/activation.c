/* ops/activation.c — activation functions.
 *
 * An activation is one pointwise function: it returns f(x) and stores f'(x)
 * in *d, forward and backward side by side with their maths in one comment.
 * Add one, then one entry in the table at the bottom, and it is
 * gradient-checked by the test suite, listed by `nabla ops` and usable from
 * configs (docs/extending.md). */
#include <config.h>

#include <math.h>

#include "ops/ops.h"

/* sigmoid: s = 1/(1+e^-x);  ds/dx = s(1-s)   (stable for both signs) */
static double sigmoid_fn(double x, const double *hp, double *d)
{
    (void)hp;
    double s;
    if (x >= 0.0) {
        s = 1.0 / (1.0 + exp(-x));
    } else {
        double e = exp(x);
        s = e / (1.0 + e);
    }
    *d = s * (1.0 - s);
    return s;
}

const nb_op nb_op_sigmoid = {
    .name = "sigmoid", .maths = "s = 1/(1+e^-x); ds/dx = s(1-s)", .arity = 1,
    .domain = { { -4.0, 4.0 } }, .pointwise = sigmoid_fn
};

/* tanh: y = tanh x;  dy/dx = 1 - y^2 */
static double tanh_fn(double x, const double *hp, double *d)
{
    (void)hp;
    double y = tanh(x);
    *d = 1.0 - y * y;
    return y;
}

const nb_op nb_op_tanh = {
    .name = "tanh", .maths = "y = tanh x; dy/dx = 1 - y^2", .arity = 1,
    .pointwise = tanh_fn
};

/* relu: y = max(0, x);  dy/dx = [x > 0]  (0 at the kink) */
static double relu_fn(double x, const double *hp, double *d)
{
    (void)hp;
    *d = x > 0.0 ? 1.0 : 0.0;
    return x > 0.0 ? x : 0.0;
}

/* The same two expressions as relu_fn as whole-array loops, which
 * vectorise: the compare and select of forward, the multiply by [x > 0] of
 * backward (a multiply rather than a select, so that an infinite or NaN
 * upstream gradient propagates exactly as through the generic path). */
static void relu_forward(nb_node *out)
{
    const double *restrict x = out->in[0]->value;
    double *restrict y = out->value;
    size_t n = out->rows * out->cols;
    for (size_t k = 0; k < n; k++) y[k] = x[k] > 0.0 ? x[k] : 0.0;
}

static void relu_backward(nb_node *out)
{
    const double *restrict x = out->in[0]->value, *restrict g = out->grad;
    double *restrict dx = out->in[0]->grad;
    size_t n = out->rows * out->cols;
    for (size_t k = 0; k < n; k++) {
        double d = x[k] > 0.0 ? 1.0 : 0.0;   /* named, so that GCC vectorises it */
        dx[k] = dx[k] + g[k] * d;
    }
}

const nb_op nb_op_relu = {
    .name = "relu", .maths = "y = max(0,x); dy/dx = [x>0]", .arity = 1,
    .n_kinks = 1, .kinks = { { 0.0, 0.0 } }, .pointwise = relu_fn,
    .forward = relu_forward, .backward = relu_backward
};

/* leaky_relu: y = x > 0 ? x : a x;  dy/dx = x > 0 ? 1 : a  (a at the kink) */
static double leaky_relu_fn(double x, const double *hp, double *d)
{
    *d = x > 0.0 ? 1.0 : hp[0];
    return x > 0.0 ? x : hp[0] * x;
}

const nb_op nb_op_leaky_relu = {
    .name = "leaky_relu", .maths = "y = x>0 ? x : a x; dy/dx = x>0 ? 1 : a", .arity = 1,
    .n_hyper = 1, .hyper_names = { "alpha" }, .hyper_default = { 0.01 },
    .n_kinks = 1, .kinks = { { .x = 0.0, .grad_hyper = 1 } }, .pointwise = leaky_relu_fn
};

/* elu: y = x > 0 ? x : a (e^x - 1);  dy/dx = x > 0 ? 1 : a e^x  (a at the kink) */
static double elu_fn(double x, const double *hp, double *d)
{
    if (x > 0.0) {
        *d = 1.0;
        return x;
    }
    double e = exp(x);
    *d = hp[0] * e;
    return hp[0] * expm1(x);
}

const nb_op nb_op_elu = {
    .name = "elu", .maths = "y = x>0 ? x : a(e^x-1); dy/dx = x>0 ? 1 : a e^x", .arity = 1,
    .n_hyper = 1, .hyper_names = { "alpha" }, .hyper_default = { 1.0 },
    .n_kinks = 1, .kinks = { { .x = 0.0, .grad_hyper = 1 } }, .pointwise = elu_fn
};

/* softplus: y = ln(1 + e^x) = max(x,0) + ln(1 + e^-|x|);  dy/dx = sigmoid(x) */
static double softplus_fn(double x, const double *hp, double *d)
{
    double unused;
    *d = sigmoid_fn(x, hp, &unused);
    return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

const nb_op nb_op_softplus = {
    .name = "softplus", .maths = "y = ln(1+e^x); dy/dx = sigmoid(x)", .arity = 1,
    .pointwise = softplus_fn
};

/* softsign: y = x/(1+|x|);  dy/dx = 1/(1+|x|)^2 */
static double softsign_fn(double x, const double *hp, double *d)
{
    (void)hp;
    double a = 1.0 + fabs(x);
    *d = 1.0 / (a * a);
    return x / a;
}

const nb_op nb_op_softsign = {
    .name = "softsign", .maths = "y = x/(1+|x|); dy/dx = 1/(1+|x|)^2", .arity = 1,
    .pointwise = softsign_fn
};

/* silu (swish): y = x s, s = sigmoid(x);  dy/dx = s + x s (1 - s) */
static double silu_fn(double x, const double *hp, double *d)
{
    double ds;
    double s = sigmoid_fn(x, hp, &ds);
    *d = s + x * ds;
    return x * s;
}

const nb_op nb_op_silu = {
    .name = "silu", .maths = "y = x sigmoid(x); dy/dx = s + x s(1-s)", .arity = 1,
    .pointwise = silu_fn
};

/* gelu (erf form): y = x Φ(x), Φ(x) = (1 + erf(x/√2))/2;  dy/dx = Φ(x) + x φ(x) */
static double gelu_fn(double x, const double *hp, double *d)
{
    (void)hp;
    double cdf = 0.5 * erfc(-x * M_SQRT1_2);
    double pdf = exp(-0.5 * x * x) * (M_2_SQRTPI * M_SQRT1_2 * 0.5);
    *d = cdf + x * pdf;
    return x * cdf;
}

const nb_op nb_op_gelu = {
    .name = "gelu", .maths = "y = x Phi(x); dy/dx = Phi(x) + x phi(x)", .arity = 1,
    .pointwise = gelu_fn
};

/* gelu_tanh: y = x/2 (1 + tanh u), u = √(2/π)(x + 0.044715 x^3);
 *            dy/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) √(2/π)(1 + 3·0.044715 x^2) */
static double gelu_tanh_fn(double x, const double *hp, double *d)
{
    (void)hp;
    const double k = M_2_SQRTPI * M_SQRT1_2;   /* √(2/π) */
    const double c = 0.044715;
    double t = tanh(k * (x + c * x * x * x));
    *d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * c * x * x);
    return 0.5 * x * (1.0 + t);
}

const nb_op nb_op_gelu_tanh = {
    .name = "gelu_tanh",
    .maths = "y = x/2 (1+tanh u), u = sqrt(2/pi)(x+0.044715x^3); dy/dx = (1+t)/2 + x/2 (1-t^2) u'",
    .arity = 1, .pointwise = gelu_tanh_fn
};

/* hard_tanh: y = clamp(x, -1, 1);  dy/dx = [-1 < x < 1]  (0 at the kinks ±1) */
static double hard_tanh_fn(double x, const double *hp, double *d)
{
    (void)hp;
    *d = x > -1.0 && x < 1.0 ? 1.0 : 0.0;
    return x < -1.0 ? -1.0 : x > 1.0 ? 1.0 : x;
}

const nb_op nb_op_hard_tanh = {
    .name = "hard_tanh", .maths = "y = clamp(x,-1,1); dy/dx = [-1<x<1]", .arity = 1,
    .n_kinks = 2, .kinks = { { -1.0, 0.0 }, { 1.0, 0.0 } }, .pointwise = hard_tanh_fn
};

/* identity: y = x;  dy/dx = 1 */
static double identity_fn(double x, const double *hp, double *d)
{
    (void)hp;
    *d = 1.0;
    return x;
}

const nb_op nb_op_identity = {
    .name = "identity", .maths = "y = x; dy/dx = 1", .arity = 1, .pointwise = identity_fn
};

const nb_op *const nbi_ops_activation[] = {
    &nb_op_sigmoid,
    &nb_op_tanh,
    &nb_op_relu,
    &nb_op_leaky_relu,
    &nb_op_elu,
    &nb_op_softplus,
    &nb_op_softsign,
    &nb_op_silu,
    &nb_op_gelu,
    &nb_op_gelu_tanh,
    &nb_op_hard_tanh,
    &nb_op_identity,
    NULL,
};
