/* nabla/op.h — ops are data.
 *
 * An op is a const struct: its name, arity, hyper-parameters, shape rule,
 * forward and backward (vector-Jacobian product), and what the gradient
 * checker needs to test it: the interval its test inputs are drawn from and
 * its kink points with the derivative backward takes there.  The registry is
 * the single list of ops that the test suite, the `nabla` tool and the config
 * parser iterate: an op in the registry is gradient-checked, listed and
 * usable from configs without touching any of them.
 *
 * Element-wise unary ops (activations) only need a pointwise function that
 * returns f(x) and stores f'(x), forward and backward side by side:
 *
 *     // softsign: y = x/(1+|x|);  dy/dx = 1/(1+|x|)^2
 *     static double softsign(double x, const double *hp, double *dy)
 *     {
 *         double a = 1.0 + fabs(x);
 *         *dy = 1.0 / (a * a);
 *         return x / a;
 *     }
 *
 * and one registry entry (see docs/extending.md).
 */
#ifndef NABLA_OP_H
#define NABLA_OP_H

#include <stddef.h>
#include <nabla/graph.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_MAX_ARITY 3
#define NB_MAX_HYPER 2
#define NB_MAX_KINKS 4

/* y = f(x; hp), *dydx = f'(x; hp).  dydx is never NULL. */
typedef double (*nb_pointwise_fn)(double x, const double *hp, double *dydx);

/* Shape rule: from the inputs' shapes, the output's shape; or NB_ESHAPE with a
 * message into msg[len] naming the shapes (the op name is prefixed by the
 * caller). */
typedef int (*nb_shape_fn)(const nb_node *const *in, const double *hp,
                           size_t *rows, size_t *cols, char *msg, size_t len);
/* Computes out's value from its inputs. */
typedef void (*nb_forward_fn)(nb_node *out);
/* Adds (dL/dout)·(dout/din_i) to the gradient of every input whose
 * nb_node_grad() is not NULL.  Never overwrites: gradients accumulate. */
typedef void (*nb_backward_fn)(nb_node *out);
/* Number of doubles of workspace an output node needs (values kept from
 * forward for backward); NULL means none. */
typedef size_t (*nb_aux_fn)(const nb_node *out);

/* Optional: dst = beta*dst + alpha*(the gradient of input slot), that is
 * alpha times the vector-Jacobian product (dL/dout)·(dout/din_slot), as one
 * computation (matmul and affine: one dgemm), into a (rows, cols) buffer
 * of the input's shape.  It reads out's gradient and the values of out's
 * other inputs, never the value of input slot itself, and writes only dst.
 * NB_OK, or NB_EUNSUPPORTED (dst untouched) for a slot the op cannot do
 * this for; with dst NULL it only answers that question.  An op that has
 * it should use it in its own backward (alpha = beta = 1), so that there is
 * one code path.  nb_optim_backward uses it to run an update rule that is
 * linear in the gradient (plain SGD) inside the product, into the weight
 * itself, without a gradient buffer. */
typedef int (*nb_grad_into_fn)(const nb_node *out, size_t slot, double *dst, double alpha,
                               double beta);

/* A rectangle of a node's value: rows [r0, r1), columns [c0, c1). */
typedef struct nb_rect {
    size_t r0, r1, c0, c1;
} nb_rect;

/* Optional, for fast per-coordinate gradient checks: the part of out that a
 * change of input i confined to *in can reach (an over-approximation is
 * fine), written to *res.  NULL: the whole output. */
typedef void (*nb_region_fn)(const nb_node *out, size_t i, const nb_rect *in, nb_rect *res);
/* Optional: recomputes only *res of out's value, with the same arithmetic
 * as forward there.  NULL: forward recomputes everything. */
typedef void (*nb_forward_region_fn)(nb_node *out, const nb_rect *res);

typedef struct nb_interval {
    double lo, hi;
} nb_interval;

/* At x the op is not differentiable; backward uses grad there, which must lie
 * between the one-sided derivatives. */
typedef struct nb_kink {
    double x;
    double grad;
    /* > 0: the value is hyper-parameter number grad_hyper - 1 instead of
     * grad (leaky_relu and elu take alpha at 0). */
    size_t grad_hyper;
} nb_kink;

/* The derivative backward declares at kink k for hyper-parameters hp. */
double nb_op_kink_grad(const nb_op *op, size_t k, const double *hp);

struct nb_op {
    const char *name;        /* registry key, lower case: "leaky_relu" */
    const char *maths;       /* one line: "y = max(x, a x); dy/dx = x > 0 ? 1 : a" */
    size_t arity;            /* 1..NB_MAX_ARITY */
    size_t n_hyper;          /* 0..NB_MAX_HYPER */
    const char *hyper_names[NB_MAX_HYPER];
    double hyper_default[NB_MAX_HYPER];
    /* Test inputs of input i are drawn uniformly from domain[i].  An interval
     * with lo == hi == 0 means the default (-2.5, 2.5). */
    nb_interval domain[NB_MAX_ARITY];
    size_t n_kinks;          /* unary ops: kinks of input 0 */
    nb_kink kinks[NB_MAX_KINKS];
    /* Either pointwise (unary element-wise ops; shape/forward/backward are
     * then generic and may be NULL) or shape + forward + backward.  A
     * pointwise op may also give forward and backward (both or neither):
     * whole-array loops computing exactly what the pointwise function gives
     * (value, and gradient += g * f'(x)), used in place of the generic loops,
     * which call the function per element and keep f'(x) in aux.  The
     * pointwise function stays the definition: the region re-evaluation of
     * the checker uses it, and the test suite compares the loops with it
     * bit for bit (relu has such loops). */
    nb_pointwise_fn pointwise;
    nb_shape_fn shape;
    nb_forward_fn forward;
    nb_backward_fn backward;
    nb_aux_fn aux;
    /* Optional: partial re-evaluation (pointwise ops have it built in). */
    nb_region_fn region;
    nb_forward_region_fn forward_region;
    /* Optional: an input's gradient as one computation, scaled and added
     * into a buffer (see nb_grad_into_fn). */
    nb_grad_into_fn grad_into;
};

/* ---- the registry ------------------------------------------------------ */

size_t nb_op_count(void);
const nb_op *nb_op_at(size_t i);            /* NULL when i >= nb_op_count() */
const nb_op *nb_op_find(const char *name);  /* NULL when unknown */

/* Input domain of input i with the default filled in. */
nb_interval nb_op_domain(const nb_op *op, size_t i);

/* Checks that an op struct is well formed (arity, hyper count, functions
 * present, domain ordered).  NB_OK or NB_EINVAL with a message in msg. */
int nb_op_validate(const nb_op *op, char *msg, size_t len);

/* ---- helpers for op authors -------------------------------------------- */

/* Shape rules shared by many ops. */
/* Same shape for every input (element-wise). */
int nb_shape_same(const nb_node *const *in, const double *hp, size_t *rows,
                  size_t *cols, char *msg, size_t len);
/* Two inputs broadcast per dimension: equal, or 1 on one side (scalar vs
 * matrix, row vector vs matrix for a bias, column vector vs matrix). */
int nb_shape_broadcast2(const nb_node *const *in, const double *hp,
                        size_t *rows, size_t *cols, char *msg, size_t len);
/* Region rule of element-wise ops with nb_shape_broadcast2: a broadcast
 * dimension spreads a change over the whole output dimension. */
void nb_region_broadcast2(const nb_node *out, size_t i, const nb_rect *in, nb_rect *res);

/* A 1x1 result whatever the input shapes (reductions, losses with
 * same-shaped inputs are checked by nb_shape_same first). */
int nb_shape_scalar(const nb_node *const *in, const double *hp, size_t *rows,
                    size_t *cols, char *msg, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_OP_H */
