/* bench_train.c — training throughput of the MLP 784-128-10 (ReLU, softmax
 * cross-entropy, SGD lr 0.1, batch 64, float64) on Fashion-MNIST's 60000
 * training images, the way a nabla user writes the loop (and nabla run
 * does): nb_dense layers, the batch gathered onto the tape with
 * nb_input_rows, the tape rebuilt every step, nb_optim_backward.
 *
 *     bench_train [--epochs R] [--warmup W] [--steps S] [--check-finite 0|1] [--bytes 0|1]
 *
 * --bytes 1 (the default) keeps the images as bytes (nb_dataset_to_bytes)
 * and gathers batches with nb_input_rows_u8, the same doubles read from an
 * eighth of the memory; --bytes 0 gathers the doubles (nb_input_rows).
 * --handwritten 1 runs the reference instead of nabla: the same step
 * written by hand in C around the same five dgemm (step_hand), to show how
 * close to the GEMM-only bound any implementation gets on this machine.
 *
 * Threads: OpenBLAS's, from OPENBLAS_NUM_THREADS in the environment (run.sh
 * sets it); nabla itself runs on one thread.
 *
 * Protocol (bench/ref_numpy.py and bench/ref_torch.py follow it exactly, so
 * the first epoch's mean loss is the same number in all three):
 *   weights from bench_init_weights() (NumPy stream BENCH_SEED);
 *   W warm-up steps on rows 0..64W-1 in order (not timed);
 *   R timed epochs, each over perm = shuffle(arange(60000)) drawn from the
 *   same stream: 937 batches of 64 and one of 32, gathered (copied) from
 *   the data set, then reset / build / nb_optim_backward (backward and the
 *   SGD step in one sweep: each weight's update is fused into its product).
 * The figure is 60000 / (median epoch time).  --steps S stops each epoch
 * after S steps (for profiling runs).
 *
 * Fraction of the GEMM bound.  Right after each timed epoch, an epoch of
 * just the five matrix products (bench_gemm_step(), the same shapes and
 * BLAS) is timed too, and the fraction reached is the median over epochs
 * of (GEMM-only time / training time) of each such pair: measured side by
 * side, the two see the same machine state (on a shared host the speed of
 * the BLAS drifts by tens of per cent between processes a minute apart). */
#include <config.h>

#include <errno.h>
#include <stdint.h>

#include "bench_util.h"

#define BATCH BENCH_BATCH

typedef struct model {
    nb_graph *g;
    nb_dense fc1, fc2;
    nb_optim *opt;
    /* --handwritten: the same network as plain C arrays (see step_hand) */
    int hand;
    double *W1, *b1, *W2, *b2, *x, *z1, *z2, *G2, *dh;
} model;

/* The reference for "how close to the products can a training step get":
 * the step written by hand in C, the same five dgemm as nabla (the two
 * weight updates fused the same way) and plain loops for the rest, no
 * checks, no graph.  Same weights and batches, so the same trajectory. */
static int hand_init(model *m, nb_rng *rng)
{
    const size_t I = BENCH_IN, H = BENCH_HID, O = BENCH_OUT, B = BATCH;
    m->hand = 1;
    m->W1 = malloc(I * H * sizeof(double));
    m->W2 = malloc(H * O * sizeof(double));
    m->b1 = calloc(H, sizeof(double));
    m->b2 = calloc(O, sizeof(double));
    m->x = malloc(B * I * sizeof(double));
    m->z1 = malloc(B * H * sizeof(double));
    m->z2 = malloc(B * O * sizeof(double));
    m->G2 = malloc(B * O * sizeof(double));
    m->dh = malloc(B * H * sizeof(double));
    if (!m->W1 || !m->W2 || !m->b1 || !m->b2 || !m->x || !m->z1 || !m->z2 || !m->G2 || !m->dh)
        return NB_ENOMEM;
    return bench_init_weights(rng, m->W1, m->W2);
}

static void hand_free(model *m)
{
    double *all[] = { m->W1, m->b1, m->W2, m->b2, m->x, m->z1, m->z2, m->G2, m->dh };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

/* z1 = x W1 + b1; h = relu(z1) in place; z2 = h W2 + b2; loss and
 * G2 = (softmax(z2) - t) / k; dh = G2 W2^T; W2 -= lr h^T G2; G1 = dh [z1 > 0];
 * W1 -= lr x^T G1; biases -= lr * column sums.  Returns the mean loss. */
static double step_hand(model *m, const unsigned char *x8, const double *t, const size_t *rows,
                        size_t k)
{
    const int I = BENCH_IN, H = BENCH_HID, O = BENCH_OUT, K = (int)k;
    const double lr = 0.1;
    double *x = m->x, *h = m->z1, *z2 = m->z2, *G2 = m->G2, *dh = m->dh;
    for (size_t r = 0; r < k; r++) {
        const unsigned char *src = x8 + rows[r] * BENCH_IN;
        for (int c = 0; c < I; c++) x[r * I + c] = (double)src[c] * (1.0 / 255.0);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, H, I, 1.0, x, I, m->W1, H, 0.0, h, H);
    for (int r = 0; r < K; r++)
        for (int c = 0; c < H; c++) {
            double z = h[r * H + c] + m->b1[c];
            h[r * H + c] = z > 0.0 ? z : 0.0;
        }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, O, H, 1.0, h, H, m->W2, O, 0.0, z2, O);
    double loss = 0.0;
    for (int r = 0; r < K; r++) {
        double *z = z2 + r * O, mx = -INFINITY, e = 0.0;
        const double *tr = t + rows[r] * BENCH_OUT;
        for (int c = 0; c < O; c++) z[c] += m->b2[c], mx = z[c] > mx ? z[c] : mx;
        for (int c = 0; c < O; c++) e += exp(z[c] - mx);
        double ls = log(e);
        for (int c = 0; c < O; c++) {
            double lp = (z[c] - mx) - ls;
            loss -= tr[c] * lp;
            G2[r * O + c] = (exp(lp) - tr[c]) / (double)K;
        }
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, H, O, 1.0, G2, O, m->W2, O, 0.0, dh, H);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, O, K, -lr, h, H, G2, O, 1.0, m->W2, O);
    for (int r = 0; r < K; r++)
        for (int c = 0; c < O; c++) m->b2[c] -= lr * G2[r * O + c];
    for (int q = 0; q < K * H; q++) dh[q] = h[q] > 0.0 ? dh[q] : 0.0;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, I, H, K, -lr, x, I, dh, H, 1.0, m->W1, H);
    for (int r = 0; r < K; r++)
        for (int c = 0; c < H; c++) m->b1[c] -= lr * dh[r * H + c];
    return loss / (double)K;
}

static int model_init(model *m, nb_rng *rng, int check_finite)
{
    memset(m, 0, sizeof *m);
    m->g = nb_graph_alloc();
    if (!m->g) return NB_ENOMEM;
    nb_graph_set_check_finite(m->g, check_finite);
    int st = nb_dense_init(&m->fc1, m->g, "fc1", BENCH_IN, BENCH_HID, "relu", NULL, 1);
    if (st == NB_OK) st = nb_dense_init(&m->fc2, m->g, "fc2", BENCH_HID, BENCH_OUT, "identity", NULL, 1);
    if (st != NB_OK) {
        fprintf(stderr, "bench_train: %s\n", nb_graph_errmsg(m->g));
        return st;
    }
    st = bench_init_weights(rng, nb_node_value(m->fc1.W), nb_node_value(m->fc2.W));
    if (st != NB_OK) return st;
    nb_optim_opts o;
    nb_optim_opts_init(&o);
    o.type = &nb_optim_sgd;
    o.lr = 0.1;
    nb_error err;
    m->opt = nb_optim_alloc(m->g, &o, &err);
    if (!m->opt) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return NB_EINVAL;
    }
    return NB_OK;
}

static void model_free(model *m)
{
    if (m->hand) hand_free(m);
    nb_optim_free(m->opt);
    nb_graph_free(m->g);
}

/* Seconds spent in each part of the steps of one epoch. */
typedef struct phases {
    double gather, build, backward_update;
} phases;

/* One SGD step on the batch of rows rows[0..k) of the data set (pixels as
 * bytes x8 when not NULL, else the doubles of ds) and its one-hot targets t
 * (n, 10); adds k * loss to *loss_sum. */
static int step(model *m, const nb_dataset *ds, const unsigned char *x8, const double *t,
                const size_t *rows, size_t k, double *loss_sum, phases *ph)
{
    if (m->hand) {
        double t0 = bench_now();
        *loss_sum += (double)k * step_hand(m, x8, t, rows, k);
        ph->build += bench_now() - t0;
        return NB_OK;
    }
    nb_graph *g = m->g;
    double t0 = bench_now();
    nb_graph_reset(g);
    /* The batch is gathered straight onto the tape (as in nabla run's loop,
     * src/app/run.c): from bytes, pixel * (1/255) as the doubles
     * hold, or from the doubles, checked as they are copied. */
    nb_node *in = x8 ? nb_input_rows_u8(g, x8, 1.0 / 255.0, ds->n, BENCH_IN, rows, k)
                     : nb_input_rows(g, ds->x, ds->n, BENCH_IN, rows, k);
    nb_node *target = nb_input_rows(g, t, ds->n, BENCH_OUT, rows, k);
    double tg = bench_now();
    nb_node *h = nb_dense_forward(g, &m->fc1, in);
    nb_node *z = nb_dense_forward(g, &m->fc2, h);
    nb_node *loss = nb_softmax_ce(g, z, target);
    if (!loss) {
        fprintf(stderr, "bench_train: %s\n", nb_graph_errmsg(g));
        return nb_graph_status(g);
    }
    double t1 = bench_now();
    /* Backward and SGD update in one sweep: fc1.W and fc2.W get theirs
     * inside the weight-gradient dgemm (nb_optim_backward). */
    nb_error err;
    int st = nb_optim_backward(m->opt, loss, &err);
    double t2 = bench_now();
    if (st != NB_OK) {
        fprintf(stderr, "bench_train: step: %s\n", err.msg);
        return st;
    }
    *loss_sum += (double)k * nb_node_scalar(loss);
    ph->gather += tg - t0;
    ph->build += t1 - tg;
    ph->backward_update += t2 - t1;
    return NB_OK;
}

static unsigned long arg_ul(const char *s, const char *name)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s) {
        fprintf(stderr, "bench_train: %s: '%s' is not a number\n", name, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    size_t epochs = 3, warmup = 20, max_steps = SIZE_MAX;
    int check_finite = 1, bytes = 1, hand = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--epochs") == 0) epochs = arg_ul(argv[++i], "--epochs");
        else if (i + 1 < argc && strcmp(argv[i], "--warmup") == 0) warmup = arg_ul(argv[++i], "--warmup");
        else if (i + 1 < argc && strcmp(argv[i], "--steps") == 0) max_steps = arg_ul(argv[++i], "--steps");
        else if (i + 1 < argc && strcmp(argv[i], "--check-finite") == 0)
            check_finite = arg_ul(argv[++i], "--check-finite") != 0;
        else if (i + 1 < argc && strcmp(argv[i], "--bytes") == 0)
            bytes = arg_ul(argv[++i], "--bytes") != 0;
        else if (i + 1 < argc && strcmp(argv[i], "--handwritten") == 0)
            hand = arg_ul(argv[++i], "--handwritten") != 0;
        else {
            fprintf(stderr, "usage: bench_train [--epochs R] [--warmup W] [--steps S] [--check-finite 0|1] [--bytes 0|1] [--handwritten 0|1]\n");
            return 2;
        }
    }
    if (epochs == 0) epochs = 1;

    double t_load = bench_now();
    nb_dataset ds = { 0 };
    if (bench_load_fashion(&ds) != 0) return 77;
    t_load = bench_now() - t_load;
    const size_t n = ds.n;
    unsigned char *x8 = NULL;
    if (bytes && nb_dataset_to_bytes(&ds, 1.0 / 255.0, &x8) != NB_OK) {
        fprintf(stderr, "bench_train: the images are not bytes / 255\n");
        return 1;
    }
    long rss_loaded = bench_rss_kib(), hwm_loaded = bench_hwm_kib();

    nb_rng rng;
    nb_rng_seed(&rng, BENCH_SEED);
    model m;
    if (hand) {   /* the C reference: images as bytes, no graph */
        memset(&m, 0, sizeof m);
        if (!x8 || hand_init(&m, &rng) != NB_OK) {
            fprintf(stderr, "bench_train: --handwritten needs --bytes 1 and memory\n");
            return 1;
        }
    } else if (model_init(&m, &rng, check_finite) != NB_OK) {
        return 1;
    }

    double *onehot = malloc(n * BENCH_OUT * sizeof *onehot);   /* (n, 10) */
    size_t *perm = malloc(n * sizeof *perm);
    double *epoch_s = malloc(epochs * sizeof *epoch_s);
    double *bound_s = malloc(epochs * sizeof *bound_s), *frac = malloc(epochs * sizeof *frac);
    bench_gemm_bufs gb;
    if (!onehot || nb_dataset_onehot(&ds, onehot) != NB_OK || !perm || !epoch_s || !bound_s || !frac || bench_gemm_init(&gb) != 0) {
        fprintf(stderr, "bench_train: out of memory\n");
        return 1;
    }

    /* Warm-up: the arena grows to its working size, OpenBLAS starts its
     * threads, caches and the branch predictor learn the loop. */
    phases ph = { 0 };
    double loss_sum = 0.0;
    for (size_t s = 0; s < warmup; s++) {
        size_t rows[BATCH];
        for (size_t b = 0; b < BATCH; b++) rows[b] = (s * BATCH + b) % n;
        if (step(&m, &ds, x8, onehot, rows, BATCH, &loss_sum, &ph) != NB_OK) return 1;
    }

    phases total = { 0 };
    double loss_epoch1 = NAN;
    size_t steps_per_epoch = 0, samples_per_epoch = 0;
    for (size_t e = 0; e < epochs; e++) {
        for (size_t i = 0; i < n; i++) perm[i] = i;
        nb_rng_shuffle(&rng, perm, n);
        memset(&ph, 0, sizeof ph);
        loss_sum = 0.0;
        size_t steps = 0, samples = 0;
        double t0 = bench_now();
        for (size_t lo = 0; lo < n && steps < max_steps; lo += BATCH, steps++) {
            size_t k = n - lo < BATCH ? n - lo : BATCH;
            if (step(&m, &ds, x8, onehot, perm + lo, k, &loss_sum, &ph) != NB_OK) return 1;
            samples += k;
        }
        epoch_s[e] = bench_now() - t0;
        bound_s[e] = bench_gemm_epoch(&gb, samples);
        frac[e] = bound_s[e] / epoch_s[e];
        if (e == 0) loss_epoch1 = loss_sum / (double)samples;
        total.gather += ph.gather;
        total.build += ph.build;
        total.backward_update += ph.backward_update;
        steps_per_epoch = steps;
        samples_per_epoch = samples;
        fprintf(stderr, "bench_train: epoch %zu: %.3f s, mean loss %.6f; GEMM only %.3f s\n", e + 1,
                epoch_s[e], loss_sum / (double)samples, bound_s[e]);
    }
    double sum_s = 0.0;
    for (size_t e = 0; e < epochs; e++) sum_s += epoch_s[e];
    double med = bench_median(epoch_s, epochs);
    double bound_med = bench_median(bound_s, epochs), frac_med = bench_median(frac, epochs);
    double per_step = 1e6 / (double)(steps_per_epoch * epochs);

    char blas[512] = "";
    const char *bname = nb_blas_name(blas, sizeof blas);
    bench_result_str("blas", bname);
    bench_result("blas_threads", nb_blas_threads());
    bench_result("check_finite", check_finite);
    bench_result("bytes", bytes);
    bench_result("handwritten", hand);
    bench_result("samples_per_epoch", (double)samples_per_epoch);
    bench_result("epochs_timed", (double)epochs);
    bench_result("epoch_s", med);
    bench_result("samples_per_s", (double)samples_per_epoch / med);
    bench_result("loss_epoch1", loss_epoch1);
    bench_result("bound_samples_per_s", (double)samples_per_epoch / bound_med);
    bench_result("bound_fraction", frac_med);
    bench_result("step_us_gather", total.gather * per_step);
    bench_result("step_us_build_forward", total.build * per_step);
    bench_result("step_us_backward_update", total.backward_update * per_step);
    bench_result("step_us_total", sum_s * per_step);
    bench_result("load_s", t_load);
    bench_result("rss_after_load_kib", (double)rss_loaded);
    bench_result("hwm_after_load_kib", (double)hwm_loaded);
    bench_result("rss_end_kib", (double)bench_rss_kib());
    bench_result("maxrss_kib", (double)bench_maxrss_kib());

    free(onehot);
    free(x8);
    free(perm);
    free(epoch_s);
    free(bound_s);
    free(frac);
    bench_gemm_free(&gb);
    model_free(&m);
    nb_dataset_free(&ds);
    return 0;
}
