/* bench_gemm.c — the GEMM-only bound of a training epoch on its own: just
 * the five matrix products of each forward + backward step of the MLP
 * 784-128-10 (bench_gemm_step() in bench_util.c: nabla's shapes, transpose
 * flags and beta), through cblas_dgemm from <gsl/gsl_cblas.h>, linked to
 * the same OpenBLAS as libnabla (the library really bound is printed).
 *
 *     bench_gemm [--epochs R] [--warmup W]
 *
 * An epoch is the same sequence of batch sizes as bench_train's (937 x 64
 * + 1 x 32); the bound is 60000 / (median epoch time): no implementation of
 * this model that calls these products through this BLAS trains faster.
 * (bench_train also times such epochs, interleaved with its own, for the
 * fraction of the bound it reaches.) */
#define _GNU_SOURCE 1
#include <config.h>

#include <dlfcn.h>
#include <errno.h>

#include "bench_util.h"

#define NSAMPLES 60000

static unsigned long arg_ul(const char *s, const char *name)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s) {
        fprintf(stderr, "bench_gemm: %s: '%s' is not a number\n", name, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    size_t epochs = 5, warmup = 50;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--epochs") == 0) epochs = arg_ul(argv[++i], "--epochs");
        else if (i + 1 < argc && strcmp(argv[i], "--warmup") == 0) warmup = arg_ul(argv[++i], "--warmup");
        else {
            fprintf(stderr, "usage: bench_gemm [--epochs R] [--warmup W]\n");
            return 2;
        }
    }
    if (epochs == 0) epochs = 1;
    bench_gemm_bufs b;
    double *epoch_s = malloc(epochs * sizeof *epoch_s);
    if (!epoch_s || bench_gemm_init(&b) != 0) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        return 1;
    }
    for (size_t s = 0; s < warmup; s++) bench_gemm_step(&b, BENCH_BATCH);
    for (size_t e = 0; e < epochs; e++) epoch_s[e] = bench_gemm_epoch(&b, NSAMPLES);
    /* Per-step time of a full batch, for the step breakdown. */
    size_t reps = 500;
    double t0 = bench_now();
    for (size_t s = 0; s < reps; s++) bench_gemm_step(&b, BENCH_BATCH);
    double full_step = (bench_now() - t0) / (double)reps;

    double med = bench_median(epoch_s, epochs);
    const double I = BENCH_IN, H = BENCH_HID, O = BENCH_OUT;
    double flops = 2.0 * NSAMPLES * (I * H + H * O + O * H + H * O + I * H);   /* per epoch */
    Dl_info info;
    const char *lib = "unknown";
    void *sym = dlsym(RTLD_DEFAULT, "cblas_dgemm");
    if (sym && dladdr(sym, &info) && info.dli_fname) lib = info.dli_fname;
    bench_result_str("cblas_dgemm_from", lib);
    bench_result("blas_threads", nb_blas_threads());
    bench_result("epoch_s", med);
    bench_result("samples_per_s", (double)NSAMPLES / med);
    bench_result("step_us", 1e6 * full_step);
    bench_result("gflops", flops / med * 1e-9);
    free(epoch_s);
    bench_gemm_free(&b);
    return 0;
}
