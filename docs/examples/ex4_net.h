/* ex4_net.h — the Coursera ex4 network written by hand in C, with its
 * classic bugs behind a switch.  Used by docs/examples/ex4_example.c (the
 * worked example of docs/gradcheck.md) and by tests/test_gradcheck.c.
 *
 * A 3-5-3 network with sigmoid units, m = 5 examples, the data and weights
 * of ex4's checkNNGradients (debugInitializeWeights: sin(1..numel)/10,
 * reshaped column-major; labels y_i = 1 + (i mod 3)).  The parameters are
 * unrolled the Octave way, nn_params = [Theta1(:); Theta2(:)]:
 *
 *     Theta1 (5x4): x[0..19],  Theta1(r, c) at x[c*5 + r]   (column 0: bias)
 *     Theta2 (3x6): x[20..37], Theta2(r, c) at x[20 + c*3 + r]
 *
 * Cost (cross-entropy, regularised without the bias columns):
 *     a1 = [1 x_i],  z2 = Theta1 a1,  a2 = [1 sigmoid(z2)],  z3 = Theta2 a2,
 *     h = sigmoid(z3)
 *     J = (1/m) sum_i sum_k [-y_ik log h_ik - (1 - y_ik) log(1 - h_ik)]
 *         + (lambda/2m) (sum Theta1(:,2:end)^2 + sum Theta2(:,2:end)^2)
 * Gradient (backpropagation):
 *     d3 = h - y,  d2 = Theta2(:,2:end)' d3 .* sigmoid'(z2)
 *     Theta2_grad = (1/m) sum_i d3 a2' + (lambda/m) [0 Theta2(:,2:end)]
 *     Theta1_grad = (1/m) sum_i d2 a1' + (lambda/m) [0 Theta1(:,2:end)]
 */
#ifndef EX4_NET_H
#define EX4_NET_H

#include <math.h>
#include <stddef.h>
#include <string.h>

#include <gsl/gsl_multimin.h>
#include <gsl/gsl_vector.h>

#include <nabla/gradcheck.h>

#define EX4_IN 3
#define EX4_HID 5
#define EX4_OUT 3
#define EX4_M 5
#define EX4_N1 (EX4_HID * (EX4_IN + 1))    /* 20 */
#define EX4_N2 (EX4_OUT * (EX4_HID + 1))   /* 18 */
#define EX4_N (EX4_N1 + EX4_N2)            /* 38 */

typedef enum ex4_bug {
    EX4_CORRECT = 0,
    EX4_NO_1_OVER_M,        /* gradient = Delta + lambda Theta: the 1/m forgotten */
    EX4_REG_BIAS,           /* the bias column regularised in the gradient */
    EX4_REG_SIGN,           /* - (lambda/m) Theta instead of + */
    EX4_DELTA_TRANSPOSE,    /* Theta2 read with the transposed stride in d2 */
    EX4_SIGMOID_PRIME,      /* sigmoid'(z) computed as sigmoid(z) */
    EX4_GRAD_TRANSPOSE      /* Theta1_grad written as its transpose (4x5) */
} ex4_bug;

typedef struct ex4 {
    double X[EX4_M][EX4_IN];
    double Y[EX4_M][EX4_OUT];   /* one-hot labels */
    double lambda;
    ex4_bug bug;
    int stable;   /* 1: log h and log(1 - h) as -softplus(-z), -softplus(z) */
} ex4;

static double ex4_sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

/* softplus(z) = log(1 + e^z), without overflow or cancellation. */
static double ex4_softplus(double z) { return fmax(z, 0.0) + log1p(exp(-fabs(z))); }

/* The checkNNGradients data: X = sin(1:15)/10 reshaped (5x3) column-major,
 * y = 1 + mod(1:m, 3). */
static void ex4_init(ex4 *e, double lambda, ex4_bug which)
{
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < EX4_M; i++) {
        for (size_t j = 0; j < EX4_IN; j++) e->X[i][j] = sin((double)(1 + i + EX4_M * j)) / 10.0;
        e->Y[i][(i + 1) % EX4_OUT] = 1.0;
    }
    e->lambda = lambda;
    e->bug = which;
}

/* debugInitializeWeights for both matrices: x[k] = sin(k + 1)/10 in each. */
static void ex4_debug_weights(double *x)
{
    for (size_t k = 0; k < EX4_N1; k++) x[k] = sin((double)(k + 1)) / 10.0;
    for (size_t k = 0; k < EX4_N2; k++) x[EX4_N1 + k] = sin((double)(k + 1)) / 10.0;
}

#define EX4_T1(x, r, c) ((x)[(c) * EX4_HID + (r)])
#define EX4_T2(x, r, c) ((x)[EX4_N1 + (c) * EX4_OUT + (r)])

/* Forward pass of example i: z2, a2 (with its bias 1), z3, h. */
static void ex4_forward(const double *x, const ex4 *e, size_t i, double z2[EX4_HID],
                        double a2[EX4_HID + 1], double z3[EX4_OUT], double h[EX4_OUT])
{
    a2[0] = 1.0;
    for (size_t r = 0; r < EX4_HID; r++) {
        double s = EX4_T1(x, r, 0);
        for (size_t j = 0; j < EX4_IN; j++) s += EX4_T1(x, r, j + 1) * e->X[i][j];
        z2[r] = s;
        a2[r + 1] = ex4_sigmoid(s);
    }
    for (size_t k = 0; k < EX4_OUT; k++) {
        double s = 0.0;
        for (size_t c = 0; c <= EX4_HID; c++) s += EX4_T2(x, k, c) * a2[c];
        z3[k] = s;
        h[k] = ex4_sigmoid(s);
    }
}

static double ex4_f(const gsl_vector *v, void *params)
{
    const ex4 *e = params;
    const double *x = v->data;   /* the checker passes a contiguous vector */
    double J = 0.0, z2[EX4_HID], a2[EX4_HID + 1], z3[EX4_OUT], h[EX4_OUT];
    for (size_t i = 0; i < EX4_M; i++) {
        ex4_forward(x, e, i, z2, a2, z3, h);
        for (size_t k = 0; k < EX4_OUT; k++) {
            double y = e->Y[i][k];
            if (e->stable)   /* log h = -softplus(-z), log(1 - h) = -softplus(z) */
                J += y * ex4_softplus(-z3[k]) + (1.0 - y) * ex4_softplus(z3[k]);
            else
                J += -y * log(h[k]) - (1.0 - y) * log(1.0 - h[k]);
        }
    }
    J /= EX4_M;
    double reg = 0.0;
    for (size_t r = 0; r < EX4_HID; r++)
        for (size_t c = 1; c <= EX4_IN; c++) reg += EX4_T1(x, r, c) * EX4_T1(x, r, c);
    for (size_t r = 0; r < EX4_OUT; r++)
        for (size_t c = 1; c <= EX4_HID; c++) reg += EX4_T2(x, r, c) * EX4_T2(x, r, c);
    return J + e->lambda / (2.0 * EX4_M) * reg;
}

static void ex4_df(const gsl_vector *v, void *params, gsl_vector *gv)
{
    const ex4 *e = params;
    const double *x = v->data;
    double D1[EX4_HID][EX4_IN + 1] = { { 0 } }, D2[EX4_OUT][EX4_HID + 1] = { { 0 } };
    double z2[EX4_HID], a2[EX4_HID + 1], z3[EX4_OUT], h[EX4_OUT], d3[EX4_OUT], d2[EX4_HID];
    for (size_t i = 0; i < EX4_M; i++) {
        ex4_forward(x, e, i, z2, a2, z3, h);
        for (size_t k = 0; k < EX4_OUT; k++) d3[k] = h[k] - e->Y[i][k];
        for (size_t j = 0; j < EX4_HID; j++) {
            double s = 0.0;
            for (size_t k = 0; k < EX4_OUT; k++)
                s += (e->bug == EX4_DELTA_TRANSPOSE ? x[EX4_N1 + k * (EX4_HID + 1) + j + 1]
                                                    : EX4_T2(x, k, j + 1)) * d3[k];
            double sg = ex4_sigmoid(z2[j]);
            d2[j] = s * (e->bug == EX4_SIGMOID_PRIME ? sg : sg * (1.0 - sg));
        }
        for (size_t k = 0; k < EX4_OUT; k++)
            for (size_t c = 0; c <= EX4_HID; c++) D2[k][c] += d3[k] * a2[c];
        for (size_t j = 0; j < EX4_HID; j++) {
            D1[j][0] += d2[j];
            for (size_t c = 0; c < EX4_IN; c++) D1[j][c + 1] += d2[j] * e->X[i][c];
        }
    }
    double *g = gv->data, inv_m = e->bug == EX4_NO_1_OVER_M ? 1.0 : 1.0 / EX4_M;
    double reg = e->lambda * inv_m * (e->bug == EX4_REG_SIGN ? -1.0 : 1.0);
    size_t c0 = e->bug == EX4_REG_BIAS ? 0 : 1;   /* first regularised column */
    for (size_t r = 0; r < EX4_HID; r++)
        for (size_t c = 0; c <= EX4_IN; c++) {
            double gr = D1[r][c] * inv_m + (c >= c0 ? reg * EX4_T1(x, r, c) : 0.0);
            if (e->bug == EX4_GRAD_TRANSPOSE) g[r * (EX4_IN + 1) + c] = gr;   /* (4x5)(:) */
            else EX4_T1(g, r, c) = gr;
        }
    for (size_t r = 0; r < EX4_OUT; r++)
        for (size_t c = 0; c <= EX4_HID; c++)
            EX4_T2(g, r, c) = D2[r][c] * inv_m + (c >= c0 ? reg * EX4_T2(x, r, c) : 0.0);
}

/* The blocks that name the coordinates: Octave's unrolled matrices. */
static const nb_gradcheck_block ex4_blocks[2] = {
    { "Theta1", 0, EX4_HID, EX4_IN + 1, 1 },
    { "Theta2", EX4_N1, EX4_OUT, EX4_HID + 1, 1 },
};

#endif
