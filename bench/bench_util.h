/* bench_util.h — what the bench programs share: a monotonic clock, medians,
 * peak resident memory, the Fashion-MNIST batch set-up and the result
 * lines run.sh collects.
 *
 * Output protocol.  Every program prints its figures as lines
 *
 *     RESULT <key> <value>
 *
 * on stdout (anything else is commentary for a human); bench/run.sh
 * collects them and prints the report.  Not installed, not part of the
 * library (bench_util.c is compiled into each bench program). */
#ifndef NABLA_BENCH_UTIL_H
#define NABLA_BENCH_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>

/* The model of the issue: MLP 784-128-10, ReLU, softmax cross-entropy. */
#define BENCH_IN 784
#define BENCH_HID 128
#define BENCH_OUT 10
#define BENCH_BATCH 64
/* Seed of the NumPy legacy stream shared with the Python references, so all
 * three implementations start from the same weights and see the same
 * batches (their first-epoch losses must then agree). */
#define BENCH_SEED 2385u

/* Seconds on a monotonic clock. */
double bench_now(void);

/* Median of v[0..n-1] (sorts v); NaN when n == 0. */
double bench_median(double *v, size_t n);

/* Peak resident set of this process, KiB (getrusage ru_maxrss). */
long bench_maxrss_kib(void);

/* Current resident set, KiB (VmRSS of /proc/self/status; -1 if unknown). */
long bench_rss_kib(void);

/* Peak resident set so far, KiB (VmHWM of /proc/self/status; -1 if unknown). */
long bench_hwm_kib(void);

/* "RESULT key value" lines on stdout. */
void bench_result(const char *key, double value);
void bench_result_str(const char *key, const char *value);

/* Loads Fashion-MNIST's training set, pixels / 255, into *ds (zeroed
 * struct).  Prints the reason and returns non-zero when it cannot. */
int bench_load_fashion(nb_dataset *ds);

/* The initial weights every implementation uses, drawn from the NumPy
 * legacy stream rng (seeded with BENCH_SEED), in this order:
 *   W1 = uniform(-s1, s1, (784, 128)), W2 = uniform(-s2, s2, (128, 10)),
 *   s = 1/sqrt(fan_in) (the bound of torch.nn.Linear's default init);
 *   biases zero.  The stream is left where the batches' permutations
 *   continue.  w1 (784, 128), w2 (128, 10). */
int bench_init_weights(nb_rng *rng, double *w1, double *w2);

/* The GEMM-only bound: the five matrix products of one forward + backward
 * step, with the shapes, transpose flags and beta of nabla's matmul op,
 * through cblas_dgemm (<gsl/gsl_cblas.h>, linked to the same OpenBLAS as
 * libnabla).  Batch k (64, and 32 for the last batch of an epoch):
 *   forward   z1 (k,128)  = x (k,784)  W1 (784,128)          beta 0
 *             z2 (k,10)   = h (k,128)  W2 (128,10)           beta 0
 *   backward  dh (k,128) += G2 (k,10)  W2^T (10,128)         beta 1
 *             dW2 (128,10) += h^T (128,k) G2 (k,10)          beta 1
 *             dW1 (784,128) += x^T (784,k) G1 (k,128)        beta 1
 * (x is an input: no dx product.)  nabla's training step
 * (nb_optim_backward with SGD) runs the last two into the weights
 * themselves, W -= lr h^T G2 and W1 -= lr x^T G1: the same shapes, flags
 * and beta, alpha -lr instead of 1. */
typedef struct bench_gemm_bufs {
    double *x, *W1, *z1, *h, *W2, *z2, *G2, *dh, *G1, *dW2, *dW1;
} bench_gemm_bufs;

/* Allocates and fills the buffers (for a batch of at most 64); non-zero when
 * out of memory. */
int bench_gemm_init(bench_gemm_bufs *b);
void bench_gemm_free(bench_gemm_bufs *b);
/* The five products for a batch of k rows. */
void bench_gemm_step(const bench_gemm_bufs *b, int k);
/* The products of an epoch of n samples (batches of 64, the last one
 * smaller), seconds. */
double bench_gemm_epoch(const bench_gemm_bufs *b, size_t n);

#endif /* NABLA_BENCH_UTIL_H */
