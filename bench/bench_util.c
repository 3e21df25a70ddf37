/* bench_util.c — see bench_util.h. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <gsl/gsl_cblas.h>

#include "bench_util.h"

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n-1] (sorts v). */
double bench_median(double *v, size_t n)
{
    if (n == 0) return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Peak resident set of this process, KiB (getrusage ru_maxrss). */
long bench_maxrss_kib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return ru.ru_maxrss;
}

/* A "Vm...:" field of /proc/self/status, KiB; -1 if unknown. */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    size_t len = strlen(field);
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0) kib = strtol(line + len, NULL, 10);
    fclose(f);
    return kib;
}

long bench_rss_kib(void) { return status_kib("VmRSS:"); }

long bench_hwm_kib(void) { return status_kib("VmHWM:"); }

void bench_result(const char *key, double value)
{
    printf("RESULT %s %.17g\n", key, value);
    fflush(stdout);
}

void bench_result_str(const char *key, const char *value)
{
    printf("RESULT %s %s\n", key, value);
    fflush(stdout);
}

/* Loads Fashion-MNIST's training set, pixels / 255.  Prints the reason and
 * returns non-zero when it cannot. */
int bench_load_fashion(nb_dataset *ds)
{
    nb_error err = {0};
    char *msg = err.msg;
    int st = nb_dataset_load_fashion_mnist(NULL, 1, ds, &err);
    if (st == NB_OK) st = nb_dataset_scale(ds, 1.0 / 255.0);
    if (st != NB_OK) {
        fprintf(stderr, "bench: cannot load Fashion-MNIST: %s (%s)\n", msg, nb_strerror(st));
        return 1;
    }
    if (ds->d != BENCH_IN || ds->n_classes != BENCH_OUT) {
        fprintf(stderr, "bench: Fashion-MNIST has d=%zu, %zu classes; expected 784, 10\n",
                ds->d, ds->n_classes);
        return 1;
    }
    return 0;
}

/* The initial weights every implementation uses, drawn from the NumPy
 * legacy stream seeded with BENCH_SEED, in this order:
 *   W1 = uniform(-s1, s1, (784, 128)), W2 = uniform(-s2, s2, (128, 10)),
 *   s = 1/sqrt(fan_in) (the bound of torch.nn.Linear's default init);
 *   biases zero.
 * The stream is left where the batches' permutations continue. */
int bench_init_weights(nb_rng *rng, double *w1, double *w2)
{
    double s1 = 1.0 / sqrt((double)BENCH_IN), s2 = 1.0 / sqrt((double)BENCH_HID);
    int st = nb_init_fill(w1, BENCH_IN, BENCH_HID, NB_INIT_UNIFORM, -s1, s1, rng);
    if (st == NB_OK) st = nb_init_fill(w2, BENCH_HID, BENCH_OUT, NB_INIT_UNIFORM, -s2, s2, rng);
    return st;
}

/* ---- the GEMM-only step ---------------------------------------------------- */

static double *filled(size_t n, nb_rng *rng)
{
    double *p = malloc(n * sizeof *p);
    if (p)
        for (size_t i = 0; i < n; i++) p[i] = nb_rng_uniform_range(rng, -0.05, 0.05);
    return p;
}

int bench_gemm_init(bench_gemm_bufs *b)
{
    const size_t I = BENCH_IN, H = BENCH_HID, O = BENCH_OUT, B = BENCH_BATCH;
    nb_rng rng;
    nb_rng_seed(&rng, BENCH_SEED);
    b->x = filled(B * I, &rng);
    b->W1 = filled(I * H, &rng);
    b->z1 = filled(B * H, &rng);
    b->h = filled(B * H, &rng);
    b->W2 = filled(H * O, &rng);
    b->z2 = filled(B * O, &rng);
    b->G2 = filled(B * O, &rng);
    b->dh = filled(B * H, &rng);
    b->G1 = filled(B * H, &rng);
    b->dW2 = filled(H * O, &rng);
    b->dW1 = filled(I * H, &rng);
    if (b->x && b->W1 && b->z1 && b->h && b->W2 && b->z2 && b->G2 && b->dh && b->G1 && b->dW2 && b->dW1)
        return 0;
    bench_gemm_free(b);
    return 1;
}

void bench_gemm_free(bench_gemm_bufs *b)
{
    double *all[] = { b->x, b->W1, b->z1, b->h, b->W2, b->z2, b->G2, b->dh, b->G1, b->dW2, b->dW1 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    memset(b, 0, sizeof *b);
}

void bench_gemm_step(const bench_gemm_bufs *b, int k)
{
    const int I = BENCH_IN, H = BENCH_HID, O = BENCH_OUT;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, H, I, 1.0, b->x, I, b->W1, H,
                0.0, b->z1, H);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, O, H, 1.0, b->h, H, b->W2, O,
                0.0, b->z2, O);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, H, O, 1.0, b->G2, O, b->W2, O,
                1.0, b->dh, H);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, O, k, 1.0, b->h, H, b->G2, O,
                1.0, b->dW2, O);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, I, H, k, 1.0, b->x, I, b->G1, H,
                1.0, b->dW1, H);
}

double bench_gemm_epoch(const bench_gemm_bufs *b, size_t n)
{
    double t0 = bench_now();
    for (size_t lo = 0; lo < n; lo += BENCH_BATCH)
        bench_gemm_step(b, (int)(n - lo < BENCH_BATCH ? n - lo : BENCH_BATCH));
    return bench_now() - t0;
}
