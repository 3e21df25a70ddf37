/* ops/elementwise.c — element-wise maths: exp, log, square, sqrt, pow, abs.
 * Each is one pointwise function returning f(x) and storing f'(x). */
#include <config.h>

#include <math.h>

#include "ops/ops.h"

/* exp: y = e^x;  dy/dx = e^x */
static double exp_fn(double x, const double *hp, double *d)
{
    (void)hp;
    double y = exp(x);
    *d = y;
    return y;
}

const nb_op nb_op_exp = {
    .name = "exp", .maths = "y = e^x; dy/dx = e^x", .arity = 1,
    .domain = { { -2.0, 2.0 } }, .pointwise = exp_fn
};

/* log: y = ln x (x > 0);  dy/dx = 1/x */
static double log_fn(double x, const double *hp, double *d)
{
    (void)hp;
    *d = 1.0 / x;
    return log(x);
}

const nb_op nb_op_log = {
    .name = "log", .maths = "y = ln x; dy/dx = 1/x", .arity = 1,
    .domain = { { 0.1, 3.0 } }, .pointwise = log_fn
};

/* square: y = x^2;  dy/dx = 2x */
static double square_fn(double x, const double *hp, double *d)
{
    (void)hp;
    *d = 2.0 * x;
    return x * x;
}

const nb_op nb_op_square = {
    .name = "square", .maths = "y = x^2; dy/dx = 2x", .arity = 1, .pointwise = square_fn
};

/* sqrt: y = √x (x >= 0);  dy/dx = 1/(2√x) */
static double sqrt_fn(double x, const double *hp, double *d)
{
    (void)hp;
    double y = sqrt(x);
    *d = 0.5 / y;
    return y;
}

const nb_op nb_op_sqrt = {
    .name = "sqrt", .maths = "y = sqrt(x); dy/dx = 1/(2 sqrt(x))", .arity = 1,
    .domain = { { 0.1, 3.0 } }, .pointwise = sqrt_fn
};

/* pow: y = x^p (x > 0 unless p is an integer);  dy/dx = p x^(p-1) */
static double pow_fn(double x, const double *hp, double *d)
{
    double p = hp[0];
    *d = p == 0.0 ? 0.0 : p * pow(x, p - 1.0);
    return pow(x, p);
}

const nb_op nb_op_pow = {
    .name = "pow", .maths = "y = x^p; dy/dx = p x^(p-1)", .arity = 1, .n_hyper = 1,
    .hyper_names = { "p" }, .hyper_default = { 2.385 },
    .domain = { { 0.2, 3.0 } }, .pointwise = pow_fn
};

/* abs: y = |x|;  dy/dx = sign(x), 0 at the kink x = 0 */
static double abs_fn(double x, const double *hp, double *d)
{
    (void)hp;
    *d = x > 0.0 ? 1.0 : x < 0.0 ? -1.0 : 0.0;
    return fabs(x);
}

const nb_op nb_op_abs = {
    .name = "abs", .maths = "y = |x|; dy/dx = sign(x) (0 at x = 0)", .arity = 1,
    .n_kinks = 1, .kinks = { { 0.0, 0.0 } }, .pointwise = abs_fn
};

const nb_op *const nbi_ops_elementwise[] = {
    &nb_op_exp,
    &nb_op_log,
    &nb_op_square,
    &nb_op_sqrt,
    &nb_op_pow,
    &nb_op_abs,
    NULL,
};
