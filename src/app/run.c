/* app/run.c — `nabla run`: a config + a seed -> a run directory.
 *
 * The loop, per step: reset the tape, build the batch's graph (forward runs
 * as nodes are created), backward, optional directional gradient check,
 * optimizer update.  costs.csv gets one row per logged step (full batch:
 * the cost at the parameters after `step` updates, i.e. before update
 * step+1) or per logged epoch (mini-batches: the mean batch cost of the
 * epoch, then validation/test metrics at the epoch's end).  No wall-clock
 * value goes into costs.csv, so a config and a seed give one file, byte for
 * byte; timings go to timing.log.
 *
 * Checkpoints are taken at epoch ends (atomic archive: parameters,
 * optimizer state, random stream, counters and the byte length of the
 * logs); --resume truncates the logs to those lengths and goes on, so a
 * killed run ends with the same costs.csv as an uninterrupted one. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>

#include <nabla/archive.h>
#include <nabla/config.h>
#include <nabla/data.h>
#include <nabla/experiment.h>
#include <nabla/gradcheck.h>
#include <nabla/info.h>
#include <nabla/nn.h>
#include <nabla/ops.h>
#include <nabla/optim.h>
#include <nabla/rng.h>
#include "app/app.h"

extern char **environ;

#define NBI_MAX_LAYERS 16


typedef struct run {
    const nb_run_opts *opts;
    nb_config *cfg;
    nb_error *err;             /* the caller's, or NULL */
    char dir[PATH_MAX];
    char cfgdir[PATH_MAX];   /* directory of the config file: relative data paths */
    unsigned long seed;
    nb_rng rng;
    /* data: train (n, d) inputs and (n, k) targets; optional validation/test */
    nb_dataset train, val, test;
    double *T, *Tval, *Ttest;  /* targets (n, k) */
    double data_scale;         /* data.scale, applied to the inputs */
    size_t k;                  /* output width */
    /* model */
    nb_graph *g;
    nb_dense layer[NBI_MAX_LAYERS];
    size_t n_layers;
    const nb_op *loss_op;      /* loss.kind: a two-input loss op of the registry */
    int half_sse, loss_sum;    /* half_sse: mse scaled to 1/2 sum of squares per example */
    double l2;
    int want_accuracy, want_mae;
    nb_optim *optim;
    int bfgs;
    /* schedule */
    size_t epochs, batch, every, gc_every, patience, ckpt_every;
    int shuffle;
    /* progress */
    size_t step, epoch;
    size_t last_ckpt_step;
    double best_val;
    size_t bad_epochs;
    double *best_params;      /* early stopping */
    int have_best;
    FILE *costs, *gclog, *timing;
    int bar;
    double t_start, t_last_print;
    size_t steps_total;
    double last_cost;
    double final_metric[6];   /* cost, accuracy, val_cost, val_accuracy, test_accuracy, mae */
    int stopped_early;
    char started[32];
    size_t resumed_from;
    int resumed;
} run;

/* ---- small utilities --------------------------------------------------- */

static int fail(run *r, int st, const char *fmt, ...)
{
    if (r->err) {
        char buf[NB_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        nb_error_set(r->err, st, "%s", buf);
    }
    return st;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void utc_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* dir/name; an over-long result becomes "" (which no file operation accepts). */
static void path_join(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len) out[0] = '\0';
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
    return 0;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Writes text atomically: temporary file, flush, fsync, rename. */
static int write_atomic(run *r, const char *name, const char *text, size_t n)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    path_join(path, sizeof path, r->dir, name);
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return fail(r, NB_EIO, "%s: path too long", name);
    FILE *f = fopen(tmp, "wb");
    if (!f) return fail(r, NB_EIO, "%s: %s", NB_ECHO(tmp), strerror(errno));
    int ok = fwrite(text, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return fail(r, NB_EIO, "%s: %s", NB_ECHO(path), strerror(e));
    }
    return NB_OK;
}

/* Values of a WORD_LIST key as doubles. */
static int get_doubles(run *r, const char *key, double **out, size_t *n)
{
    const char *const *w;
    *out = NULL;
    *n = 0;
    if (!nb_config_is_set(r->cfg, key)) return NB_OK;
    int st = nb_config_get_word_list(r->cfg, key, &w, n);
    if (st != NB_OK) return fail(r, st, "%s: %s", key, nb_strerror(st));
    if (*n == 0) return NB_OK;
    double *v = malloc(*n * sizeof *v);
    if (!v) return fail(r, NB_ENOMEM, "%s: out of memory", key);
    for (size_t i = 0; i < *n; i++) {
        char *end;
        errno = 0;
        v[i] = nb_strtod(w[i], &end);
        if (errno || *end || end == w[i] || !isfinite(v[i])) {
            char origin[128];
            nb_config_origin(r->cfg, key, origin, sizeof origin);
            free(v);
            return fail(r, NB_ECONFIG, "%s: key '%s': element %zu '%s' is not a finite number",
                        origin, key, i + 1, NB_ECHO(w[i]));
        }
    }
    *out = v;
    return NB_OK;
}

static const char *cfg_str(run *r, const char *key)
{
    const char *s = "";
    nb_config_get_string(r->cfg, key, &s);
    return s;
}

static size_t cfg_size(run *r, const char *key)
{
    size_t v = 0;
    nb_config_get_size(r->cfg, key, &v);
    return v;
}

static double cfg_double(run *r, const char *key)
{
    double v = 0;
    nb_config_get_double(r->cfg, key, &v);
    return v;
}

static int cfg_bool(run *r, const char *key)
{
    int v = 0;
    nb_config_get_bool(r->cfg, key, &v);
    return v;
}

static void data_path(run *r, const char *p, char *out, size_t len)
{
    if (p[0] == '/' || !r->cfgdir[0]) snprintf(out, len, "%s", p);
    else snprintf(out, len, "%s/%s", r->cfgdir, p);
}

/* ---- data -------------------------------------------------------------- */

static int keep_classes(run *r, nb_dataset *ds)
{
    const size_t *keep;
    size_t nk;
    if (!nb_config_is_set(r->cfg, "data.keep_classes")) return NB_OK;
    if (nb_config_get_size_list(r->cfg, "data.keep_classes", &keep, &nk) != NB_OK || nk == 0)
        return NB_OK;
    if (!ds->label) return fail(r, NB_ECONFIG, "data.keep_classes: the data set has no labels");
    for (size_t j = 0; j < nk; j++)
        if (keep[j] >= ds->n_classes)
            return fail(r, NB_ECONFIG, "data.keep_classes: class %zu does not exist (%zu classes)",
                        keep[j], ds->n_classes);
    size_t *rows = malloc(ds->n * sizeof *rows), m = 0;
    if (!rows) return fail(r, NB_ENOMEM, "data.keep_classes: out of memory");
    for (size_t i = 0; i < ds->n; i++)
        for (size_t j = 0; j < nk; j++)
            if (ds->label[i] == keep[j]) {
                rows[m++] = i;
                break;
            }
    nb_dataset sub;
    memset(&sub, 0, sizeof sub);
    int st = m ? nb_dataset_subset(ds, rows, m, &sub) : NB_ECONFIG;
    free(rows);
    if (st != NB_OK) return fail(r, st, "data.keep_classes: %s", m ? nb_strerror(st) : "no example left");
    for (size_t i = 0; i < sub.n; i++)
        for (size_t j = 0; j < nk; j++)
            if (sub.label[i] == keep[j]) {
                sub.label[i] = j;
                break;
            }
    sub.n_classes = nk;
    if (sub.class_names) {   /* names no longer match the relabelled classes */
        for (size_t j = 0; j < ds->n_classes; j++) free(sub.class_names[j]);
        free(sub.class_names);
        sub.class_names = NULL;
    }
    nb_dataset_free(ds);
    *ds = sub;
    return NB_OK;
}

static int load_data(run *r)
{
    const char *src = cfg_str(r, "data.source");
    nb_error de = {0};
    int st = NB_OK;
    char p1[PATH_MAX], p2[PATH_MAX];
    if (strcmp(src, "inline") == 0) {
        double *x, *t;
        size_t nx, nt, d = cfg_size(r, "data.input_dim");
        if ((st = get_doubles(r, "data.inputs", &x, &nx)) != NB_OK) return st;
        if ((st = get_doubles(r, "data.targets", &t, &nt)) != NB_OK) {
            free(x);
            return st;
        }
        if (nx == 0 || nx % d != 0) {
            free(x);
            free(t);
            return fail(r, NB_ECONFIG, "data.inputs: %zu values do not make rows of data.input_dim = %zu",
                        nx, d);
        }
        size_t n = nx / d;
        st = nb_dataset_init(&r->train, n, d, 0);
        if (st == NB_OK) memcpy(r->train.x, x, nx * sizeof *x);
        free(x);
        /* inline targets are kept as given: (n, nt/n) */
        if (st == NB_OK && (nt == 0 || nt % n != 0)) {
            free(t);
            return fail(r, NB_ECONFIG, "data.targets: %zu values for %zu input rows", nt, n);
        }
        r->T = t;
        r->k = nt / n;
        if (st != NB_OK) return fail(r, st, "data: %s", nb_strerror(st));
        return NB_OK;
    } else if (strcmp(src, "truth_table") == 0) {
        st = nb_make_truth_table(cfg_str(r, "data.table"), &r->train, &de);
    } else if (strcmp(src, "moons") == 0) {
        st = nb_make_moons(cfg_size(r, "data.n"), cfg_double(r, "data.noise"), &r->rng, &r->train);
    } else if (strcmp(src, "spirals") == 0) {
        st = nb_make_spirals(cfg_size(r, "data.n"), cfg_size(r, "data.classes"),
                             cfg_double(r, "data.noise"), &r->rng, &r->train);
    } else if (strcmp(src, "blobs") == 0) {
        st = nb_make_blobs(cfg_size(r, "data.n"), cfg_size(r, "data.dim"), cfg_size(r, "data.classes"),
                           cfg_double(r, "data.noise"), -10.0, 10.0, &r->rng, &r->train, NULL);
    } else if (strcmp(src, "csv") == 0) {
        const char *lc = cfg_str(r, "data.label_column");
        data_path(r, cfg_str(r, "data.path"), p1, sizeof p1);
        st = nb_csv_read(p1, lc[0] ? lc : NULL, &r->train, &de);
        if (st == NB_OK && cfg_str(r, "data.test_path")[0]) {
            data_path(r, cfg_str(r, "data.test_path"), p2, sizeof p2);
            st = nb_csv_read(p2, lc[0] ? lc : NULL, &r->test, &de);
        }
    } else if (strcmp(src, "idx") == 0) {
        data_path(r, cfg_str(r, "data.path"), p1, sizeof p1);
        data_path(r, cfg_str(r, "data.labels_path"), p2, sizeof p2);
        st = nb_dataset_load_idx(p1, p2, &r->train, &de);
        if (st == NB_OK && cfg_str(r, "data.test_path")[0]) {
            data_path(r, cfg_str(r, "data.test_path"), p1, sizeof p1);
            data_path(r, cfg_str(r, "data.test_labels_path"), p2, sizeof p2);
            st = nb_dataset_load_idx(p1, p2, &r->test, &de);
        }
    } else if (strcmp(src, "fashion_mnist") == 0) {
        const char *dir = cfg_str(r, "data.dir");
        st = nb_dataset_load_fashion_mnist(dir[0] ? dir : NULL, 1, &r->train, &de);
        if (st == NB_OK)
            st = nb_dataset_load_fashion_mnist(dir[0] ? dir : NULL, 0, &r->test, &de);
    }
    if (st != NB_OK) return fail(r, st, "data (%s): %s", src, nb_error_message(&de));
    if ((st = keep_classes(r, &r->train)) != NB_OK) return st;
    if (r->test.n && (st = keep_classes(r, &r->test)) != NB_OK) return st;
    size_t limit = cfg_size(r, "data.limit");
    if (limit && limit < r->train.n) {
        nb_dataset head, tail;
        if ((st = nb_dataset_split(&r->train, limit, &head, &tail)) != NB_OK)
            return fail(r, st, "data.limit: %s", nb_strerror(st));
        nb_dataset_free(&tail);
        nb_dataset_free(&r->train);
        r->train = head;
    }
    double scale = cfg_double(r, "data.scale");
    if (scale != 1.0) {
        nb_dataset_scale(&r->train, scale);
        if (r->test.n) nb_dataset_scale(&r->test, scale);
    }
    if (cfg_bool(r, "data.shuffle") && (st = nb_dataset_shuffle(&r->train, &r->rng)) != NB_OK)
        return fail(r, st, "data.shuffle: %s", nb_strerror(st));
    size_t nval = cfg_size(r, "data.validation");
    if (nval) {
        if (nval >= r->train.n)
            return fail(r, NB_ECONFIG, "data.validation = %zu leaves no training example (of %zu)",
                        nval, r->train.n);
        nb_dataset head, tail;
        if ((st = nb_dataset_split(&r->train, r->train.n - nval, &head, &tail)) != NB_OK)
            return fail(r, st, "data.validation: %s", nb_strerror(st));
        nb_dataset_free(&r->train);
        r->train = head;
        r->val = tail;
    }
    if (cfg_bool(r, "data.standardize")) {
        /* z-scores with the training set's statistics, applied to all sets */
        size_t n = r->train.n, d = r->train.d;
        for (size_t j = 0; j < d; j++) {
            double m = 0, s = 0;
            for (size_t i = 0; i < n; i++) m += r->train.x[i * d + j];
            m /= (double)n;
            for (size_t i = 0; i < n; i++) {
                double e = r->train.x[i * d + j] - m;
                s += e * e;
            }
            s = sqrt(s / (double)n);
            if (s == 0) s = 1;
            nb_dataset *sets[3] = { &r->train, &r->val, &r->test };
            for (int k = 0; k < 3; k++)
                for (size_t i = 0; i < sets[k]->n; i++)
                    sets[k]->x[i * d + j] = (sets[k]->x[i * d + j] - m) / s;
        }
    }
    r->data_scale = scale;
    return NB_OK;
}

/* Targets from labels: one-hot (n, C) when the output has C > 1 columns,
 * the label itself (n, 1) for a single output. */
static int make_targets(run *r, const nb_dataset *ds, double **T)
{
    *T = NULL;
    if (ds->n == 0) return NB_OK;
    if (!ds->label)
        return fail(r, NB_ECONFIG, "data: the data set has no labels to train on");
    *T = calloc(ds->n * r->k, sizeof **T);
    if (!*T) return fail(r, NB_ENOMEM, "targets: out of memory");
    if (r->k == 1) {
        for (size_t i = 0; i < ds->n; i++) (*T)[i] = (double)ds->label[i];
    } else {
        for (size_t i = 0; i < ds->n; i++) {
            if (ds->label[i] >= r->k)
                return fail(r, NB_ECONFIG, "model.layers: output width %zu but label %zu appears",
                            r->k, ds->label[i]);
            (*T)[i * r->k + ds->label[i]] = 1.0;
        }
    }
    return NB_OK;
}

/* ---- model ------------------------------------------------------------- */

static int build_model(run *r)
{
    const size_t *w;
    size_t nw;
    nb_config_get_size_list(r->cfg, "model.layers", &w, &nw);
    if (nw - 1 > NBI_MAX_LAYERS) return fail(r, NB_ECONFIG, "model.layers: at most %d layers", NBI_MAX_LAYERS);
    if (w[0] != r->train.d)
        return fail(r, NB_ECONFIG, "model.layers: input width %zu but the data has %zu features",
                    w[0], r->train.d);
    r->k = w[nw - 1];
    r->n_layers = nw - 1;
    r->g = nb_graph_alloc();
    if (!r->g) return fail(r, NB_ENOMEM, "graph: out of memory");
    int bias = cfg_bool(r, "model.bias");
    double ahp[NB_MAX_HYPER];
    const double *ahpp = NULL;
    if (nb_config_is_set(r->cfg, "model.activation_param")) {
        ahp[0] = ahp[1] = cfg_double(r, "model.activation_param");
        ahpp = ahp;
    }
    for (size_t l = 0; l < r->n_layers; l++) {
        char name[32];
        snprintf(name, sizeof name, "layer%zu", l + 1);
        int last = l + 1 == r->n_layers;
        const char *act = last ? cfg_str(r, "model.output") : cfg_str(r, "model.activation");
        if (nb_dense_init(&r->layer[l], r->g, name, w[l], w[l + 1], act, last ? NULL : ahpp, bias) != NB_OK)
            return fail(r, nb_graph_status(r->g), "model: %s", nb_graph_errmsg(r->g));
    }
    /* Initial values: fixed list, or drawn layer by layer (W then b). */
    double *fixed;
    size_t nf;
    int st = get_doubles(r, "model.weights", &fixed, &nf);
    if (st != NB_OK) return st;
    if (fixed) {
        if (nf != nb_graph_param_size(r->g)) {
            free(fixed);
            return fail(r, NB_ECONFIG, "model.weights: %zu values but the model has %zu parameters",
                        nf, nb_graph_param_size(r->g));
        }
        size_t at = 0;
        for (size_t p = 0; p < nb_graph_param_count(r->g); p++) {
            nb_node *pn = nb_graph_param_at(r->g, p);
            memcpy(nb_node_value(pn), fixed + at, nb_node_size(pn) * sizeof(double));
            at += nb_node_size(pn);
        }
        free(fixed);
        return NB_OK;
    }
    if (cfg_bool(r, "data.reseed")) nb_rng_seed(&r->rng, (uint32_t)r->seed);
    nb_init_kind kind;
    nb_init_parse(cfg_str(r, "model.init"), &kind);
    int bias_same = strcmp(cfg_str(r, "model.bias_init"), "same") == 0;
    double lo = cfg_double(r, "model.init_low"), hi = cfg_double(r, "model.init_high");
    double sd = cfg_double(r, "model.init_std");
    for (size_t l = 0; l < r->n_layers; l++) {
        nb_dense *L = &r->layer[l];
        double a = kind == NB_INIT_NORMAL ? sd : lo;
        st = nb_init_fill(nb_node_value(L->W), w[l], w[l + 1], kind, a, hi, &r->rng);
        if (st == NB_OK && L->b && bias_same)
            st = nb_init_fill(nb_node_value(L->b), 1, w[l + 1], kind, a, hi, &r->rng);
        if (st != NB_OK) return fail(r, st, "model.init: %s", nb_strerror(st));
    }
    return NB_OK;
}

/* The batch's objective J; out receives the network output node. */
/* The loss of the n examples whose inputs and targets are on the tape as
 * x (n, d) and t (n, k); *out receives the network's output. */
static nb_node *build_loss_on(run *r, nb_node *x, nb_node *t, size_t n, nb_node **out)
{
    nb_graph *g = r->g;
    for (size_t l = 0; l < r->n_layers; l++) x = nb_dense_forward(g, &r->layer[l], x);
    *out = x;
    nb_node *L = NULL;
    L = nb_apply(g, r->loss_op, (nb_node *[]){ x, t }, NULL);
    if (r->half_sse) L = nb_scale(g, L, 0.5 * (double)r->k);
    /* bce/bce_logits/mse average over every element; per example is x k. */
    if (r->k > 1 && (r->loss_op == &nb_op_bce || r->loss_op == &nb_op_bce_logits))
        L = nb_scale(g, L, (double)r->k);
    if (r->loss_sum) L = nb_scale(g, L, (double)n);
    if (r->l2 > 0)
        for (size_t l = 0; l < r->n_layers; l++) L = nb_add(g, L, nb_l2(g, r->layer[l].W, r->l2));
    return L;
}

/* The same for inputs X (n, d) and targets T (n, k) borrowed as views. */
static nb_node *build_loss(run *r, const double *X, const double *T, size_t n, nb_node **out)
{
    nb_node *x = nb_input_view(r->g, n, r->train.d, X);
    nb_node *t = nb_input_view(r->g, n, r->k, T);
    return build_loss_on(r, x, t, n, out);
}

/* Cost per example of a batch objective. */
static double per_example(const run *r, double J, size_t n)
{
    return r->loss_sum ? J / (double)n : J;
}

/* The class an output row o (k values) predicts: argmax over outputs; a
 * single output is class 1 above 0.5 (probabilities) or above 0 (logits). */
static size_t predict(const run *r, const double *o)
{
    if (r->k == 1) {
        int logits = r->loss_op == &nb_op_bce_logits ||
                     strcmp(r->layer[r->n_layers - 1].act->name, "identity") == 0;
        return o[0] > (logits ? 0.0 : 0.5);
    }
    size_t pred = 0;
    for (size_t j = 1; j < r->k; j++)
        if (o[j] > o[pred]) pred = j;
    return pred;
}

static void batch_metrics(const run *r, const double *out, const double *T, const size_t *label,
                          size_t n, double *acc, double *mae)
{
    size_t right = 0;
    double ae = 0;
    for (size_t i = 0; i < n; i++) {
        const double *o = out + i * r->k;
        size_t pred = predict(r, o);
        size_t truth = label ? label[i] : (size_t)(r->k == 1 ? T[i] > 0.5 : 0);
        if (!label && r->k > 1) {
            for (size_t j = 1; j < r->k; j++)
                if (T[i * r->k + j] > T[i * r->k + truth]) truth = j;
        }
        right += pred == truth;
        for (size_t j = 0; j < r->k; j++) ae += fabs(T[i * r->k + j] - o[j]);
    }
    *acc = (double)right / (double)n;
    *mae = ae / (double)(n * r->k);
}

/* Forward over a whole evaluation set (no update). */
static int evaluate(run *r, const nb_dataset *ds, const double *T, double *cost, double *acc,
                    double *mae)
{
    nb_graph_reset(r->g);
    nb_node *out;
    nb_node *L = build_loss(r, ds->x, T, ds->n, &out);
    if (!L) return fail(r, nb_graph_status(r->g), "evaluate: %s", nb_graph_errmsg(r->g));
    *cost = per_example(r, nb_node_scalar(L), ds->n);
    batch_metrics(r, nb_node_cvalue(out), T, ds->label, ds->n, acc, mae);
    return NB_OK;
}

/* ---- logs -------------------------------------------------------------- */

static void costs_header(run *r, FILE *f)
{
    fputs("step,epoch,cost", f);
    if (r->want_accuracy) fputs(",accuracy", f);
    if (r->want_mae) fputs(",mae", f);
    if (r->val.n) fputs(",val_cost,val_accuracy", f);
    if (r->test.n) fputs(",test_cost,test_accuracy", f);
    fputc('\n', f);
}

static void costs_row(run *r, double cost, double acc, double mae, const double *vt)
{
    nb_fprintf(r->costs, "%zu,%zu,%.17g", r->step, r->epoch, cost);
    if (r->want_accuracy) nb_fprintf(r->costs, ",%.17g", acc);
    if (r->want_mae) nb_fprintf(r->costs, ",%.17g", mae);
    if (r->val.n) nb_fprintf(r->costs, ",%.17g,%.17g", vt[0], vt[1]);
    if (r->test.n) nb_fprintf(r->costs, ",%.17g,%.17g", vt[2], vt[3]);
    fputc('\n', r->costs);
    fflush(r->costs);
    r->last_cost = cost;
    r->final_metric[0] = cost;
    r->final_metric[1] = acc;
    r->final_metric[5] = mae;
    if (r->val.n) r->final_metric[2] = vt[0], r->final_metric[3] = vt[1];
    if (r->test.n) r->final_metric[4] = vt[3];
}

static void progress(run *r, int force)
{
    FILE *log = r->opts->log;
    if (!log) return;
    double t = now_seconds();
    if (!force && t - r->t_last_print < (r->bar ? 0.1 : 5.0)) return;
    r->t_last_print = t;
    double el = t - r->t_start;
    size_t done = r->step - r->resumed_from;
    double rate = el > 0 ? (double)done / el : 0;
    double left = rate > 0 ? (double)(r->steps_total - r->step) / rate : 0;
    if (r->bar) {
        int width = 24, fill = r->steps_total ? (int)(width * r->step / r->steps_total) : width;
        nb_fprintf(log, "\r[%.*s%.*s] epoch %zu/%zu step %zu/%zu cost %.6g %.0f steps/s ETA %02d:%02d ",
                fill, "########################", width - fill, "........................", r->epoch,
                r->epochs, r->step, r->steps_total, r->last_cost, rate, (int)(left / 60),
                (int)fmod(left, 60));
    } else {
        nb_fprintf(log, "epoch %zu/%zu step %zu/%zu cost %.6g (%.0f steps/s)\n", r->epoch, r->epochs,
                r->step, r->steps_total, r->last_cost, rate);
    }
    fflush(log);
}

/* ---- checkpoints ------------------------------------------------------- */

static int checkpoint(run *r)
{
    nb_archive *ar = nb_archive_alloc();
    if (!ar) return fail(r, NB_ENOMEM, "checkpoint: out of memory");
    int st = nb_model_put(r->g, ar, "param/");
    if (st == NB_OK && r->optim) st = nb_optim_save(r->optim, ar, "optim/");
    double rs[NB_RNG_MT_N + 3];
    for (size_t i = 0; i < NB_RNG_MT_N; i++) rs[i] = (double)r->rng.mt[i];
    rs[NB_RNG_MT_N] = r->rng.left;
    rs[NB_RNG_MT_N + 1] = r->rng.has_gauss;
    rs[NB_RNG_MT_N + 2] = r->rng.has_gauss ? r->rng.gauss : 0.0;
    if (st == NB_OK) st = nb_archive_put(ar, "rng", 1, NB_RNG_MT_N + 3, rs);
    fflush(r->costs);
    if (r->gclog) fflush(r->gclog);
    double counters[8] = { (double)r->step, (double)r->epoch, (double)ftell(r->costs),
                           r->gclog ? (double)ftell(r->gclog) : 0.0,
                           isfinite(r->best_val) ? r->best_val : DBL_MAX, (double)r->bad_epochs,
                           (double)r->have_best, r->last_cost };
    if (st == NB_OK) st = nb_archive_put(ar, "state", 1, 8, counters);
    if (st == NB_OK && r->have_best)
        st = nb_archive_put(ar, "best", 1, nb_graph_param_size(r->g), r->best_params);
    if (st == NB_OK) st = nb_archive_put_str(ar, "kind", "nabla-checkpoint");
    fsync(fileno(r->costs));
    char path[PATH_MAX];
    nb_error ae = {0};
    path_join(path, sizeof path, r->dir, "checkpoint.nbk");
    if (st == NB_OK) st = nb_archive_write(ar, path, &ae);
    nb_archive_free(ar);
    if (st != NB_OK) return fail(r, st, "checkpoint: %s", ae.status ? ae.msg : nb_strerror(st));
    r->last_ckpt_step = r->step;
    return NB_OK;
}

static int restore(run *r, long *costs_len, long *gc_len)
{
    char path[PATH_MAX];
    nb_error ae = {0};
    path_join(path, sizeof path, r->dir, "checkpoint.nbk");
    *costs_len = *gc_len = -1;
    if (!file_exists(path)) return NB_OK;   /* killed before the first checkpoint: start over */
    nb_archive *ar = NULL;
    int st = nb_archive_read(path, &ar, &ae);
    if (st != NB_OK) return fail(r, st, "resume: %s", nb_error_message(&ae));
    size_t rows, cols;
    /* Check everything before changing anything (each restore below checks
     * its own part first; a failure aborts the run, whose state is dropped). */
    const double *rs = nb_archive_get(ar, "rng", &rows, &cols);
    if (!rs || cols != NB_RNG_MT_N + 3)
        st = fail(r, NB_EFORMAT, "resume: %s: no random stream state", NB_ECHO(path));
    const double *c = nb_archive_get(ar, "state", &rows, &cols);
    if (st == NB_OK && (!c || cols != 8)) st = fail(r, NB_EFORMAT, "resume: %s: no counters", NB_ECHO(path));
    if (st == NB_OK && r->optim && (st = nb_optim_restore(r->optim, ar, "optim/", &ae)) != NB_OK)
        fail(r, st, "resume: %s: %s", NB_ECHO(path), nb_error_message(&ae));
    if (st == NB_OK && (st = nb_model_get(r->g, ar, "param/", &ae)) != NB_OK)
        fail(r, st, "resume: %s: %s", NB_ECHO(path), nb_error_message(&ae));
    if (st == NB_OK) {
        for (size_t i = 0; i < NB_RNG_MT_N; i++) r->rng.mt[i] = (uint32_t)rs[i];
        r->rng.left = (int)rs[NB_RNG_MT_N];
        r->rng.has_gauss = (int)rs[NB_RNG_MT_N + 1];
        r->rng.gauss = rs[NB_RNG_MT_N + 2];
        r->step = (size_t)c[0];
        r->epoch = (size_t)c[1];
        *costs_len = (long)c[2];
        *gc_len = (long)c[3];
        r->best_val = c[4] == DBL_MAX ? INFINITY : c[4];
        r->bad_epochs = (size_t)c[5];
        r->have_best = (int)c[6];
        r->last_cost = c[7];
        const double *best = nb_archive_get(ar, "best", &rows, &cols);
        if (r->have_best && best && cols == nb_graph_param_size(r->g))
            memcpy(r->best_params, best, cols * sizeof(double));
        r->last_ckpt_step = r->step;
        r->resumed_from = r->step;
    }
    nb_archive_free(ar);
    return st;
}

/* ---- gradient check during training ------------------------------------ */

static int gradcheck_due(const run *r)
{
    return r->gc_every && r->step % r->gc_every == 0 && r->gclog;
}

/* A check that could not run for lack of memory fails the run (NB_ENOMEM):
 * an "error" row would pass a run whose check never happened. */
static int maybe_gradcheck(run *r, nb_node *loss)
{
    if (!gradcheck_due(r)) return NB_OK;
    nb_gradcheck_opts o;
    nb_gradcheck_opts_init(&o);
    o.mode = NB_GC_DIRECTIONAL;
    o.seed = r->seed * 1000003ul + r->step;   /* its own stream: training is unaffected */
    nb_gradcheck_report rep;
    int st = nb_gradcheck_graph(r->g, loss, &o, &rep);
    if (st == NB_ENOMEM) {
        fail(r, st, "step %zu: gradient check: %s", r->step, rep.error[0] ? rep.error : nb_strerror(st));
        nb_gradcheck_report_free(&rep);
        return st;
    }
    if (st == NB_OK)
        nb_fprintf(r->gclog, "%zu,%s,%zu,%zu,%.6g\n", r->step, rep.passed ? "pass" : "FAIL", rep.n_checked,
                rep.n_failed, rep.worst_ratio);
    else
        fprintf(r->gclog, "%zu,error,0,0,0 # %s\n", r->step, rep.error);
    fflush(r->gclog);
    nb_gradcheck_report_free(&rep);
    return NB_OK;
}

/* ---- training ---------------------------------------------------------- */

static void snapshot_params(run *r, double *buf, int to_buf)
{
    size_t at = 0;
    for (size_t p = 0; p < nb_graph_param_count(r->g); p++) {
        nb_node *pn = nb_graph_param_at(r->g, p);
        size_t n = nb_node_size(pn);
        if (to_buf) memcpy(buf + at, nb_node_value(pn), n * sizeof(double));
        else memcpy(nb_node_value(pn), buf + at, n * sizeof(double));
        at += n;
    }
}

static int epoch_end(run *r, double epoch_cost, double acc, double mae, int log_row)
{
    double vt[4] = { NAN, NAN, NAN, NAN }, unused;
    int st;
    if (r->val.n && (st = evaluate(r, &r->val, r->Tval, &vt[0], &vt[1], &unused)) != NB_OK) return st;
    if (r->test.n && (st = evaluate(r, &r->test, r->Ttest, &vt[2], &vt[3], &unused)) != NB_OK) return st;
    if (log_row) costs_row(r, epoch_cost, acc, mae, vt);
    if (r->patience && r->val.n) {
        if (vt[0] < r->best_val) {
            r->best_val = vt[0];
            r->bad_epochs = 0;
            snapshot_params(r, r->best_params, 1);
            r->have_best = 1;
        } else if (++r->bad_epochs >= r->patience) {
            r->stopped_early = 1;
        }
    }
    return NB_OK;
}

static int train_loop(run *r)
{
    size_t n = r->train.n, d = r->train.d, k = r->k;
    size_t B = r->batch ? (r->batch < n ? r->batch : n) : n;
    int full = B == n && (!r->batch || r->batch >= n);
    size_t nb = (n + B - 1) / B;
    r->steps_total = r->epochs * nb;
    size_t *perm = malloc(n * sizeof *perm), *lb = full ? NULL : malloc(B * sizeof *lb);
    /* Images that are still bytes times the scale are gathered from bytes
     * (nb_input_rows_u8): the same doubles from an eighth of the memory.
     * Only worth it, and only tried, for mini-batches of larger data. */
    unsigned char *x8 = NULL;
    int st = NB_OK;
    if (perm && lb && n * d >= ((size_t)1 << 20))
        st = nb_dataset_to_bytes(&r->train, r->data_scale, &x8);
    if (!perm || (!full && !lb) || st == NB_ENOMEM) {
        free(perm), free(lb);
        return fail(r, NB_ENOMEM, "training: out of memory");
    }
    st = NB_OK;
    double te = now_seconds();
    while (r->epoch < r->epochs && !r->stopped_early) {
        for (size_t i = 0; i < n; i++) perm[i] = i;
        if (!full && r->shuffle) nb_rng_shuffle(&r->rng, perm, n);
        double ecost = 0, eacc = 0, emae = 0;
        for (size_t b = 0; b < nb; b++) {
            size_t lo = b * B, m = lo + B <= n ? B : n - lo;
            const size_t *labels = r->train.label;
            nb_graph_reset(r->g);
            nb_node *x, *t;
            if (full) {
                x = nb_input_view(r->g, n, d, r->train.x);
                t = nb_input_view(r->g, n, k, r->T);
            } else {   /* the batch's rows, gathered onto the tape */
                x = x8 ? nb_input_rows_u8(r->g, x8, r->data_scale, n, d, perm + lo, m)
                          : nb_input_rows(r->g, r->train.x, n, d, perm + lo, m);
                t = nb_input_rows(r->g, r->T, n, k, perm + lo, m);
                for (size_t i = 0; i < m; i++) lb[i] = labels ? labels[perm[lo + i]] : 0;
                labels = labels ? lb : NULL;
            }
            const double *T = nb_node_cvalue(t);
            nb_node *out, *L = build_loss_on(r, x, t, m, &out);
            if (!L) {
                st = fail(r, nb_graph_status(r->g), "step %zu: %s", r->step, nb_graph_errmsg(r->g));
                goto done;
            }
            double cost = per_example(r, nb_node_scalar(L), m), acc = 0, mae = 0;
            if (r->want_accuracy || r->want_mae) batch_metrics(r, nb_node_cvalue(out), T, labels, m, &acc, &mae);
            r->last_cost = cost;
            if (full && r->step % r->every == 0) {
                double vt[4] = { NAN, NAN, NAN, NAN };
                costs_row(r, cost, acc, mae, vt);
            }
            ecost += cost * (double)m, eacc += acc * (double)m, emae += mae * (double)m;
            nb_error oerr;
            nb_optim_set_epoch(r->optim, r->epoch);   /* the schedule's epoch */
            if (gradcheck_due(r)) {   /* the check reads the gradients: the three calls */
                nb_graph_zero_grad(r->g);
                if ((st = nb_backward(r->g, L)) != NB_OK) {
                    fail(r, st, "step %zu: %s", r->step, nb_graph_errmsg(r->g));
                    goto done;
                }
                if ((st = maybe_gradcheck(r, L)) != NB_OK) goto done;
                st = nb_optim_step(r->optim, &oerr);
            } else {   /* plain SGD fuses weight updates into the backward products */
                st = nb_optim_backward(r->optim, L, &oerr);
            }
            if (st != NB_OK) {
                fail(r, st, "step %zu: optimizer: %s", r->step, oerr.msg);
                goto done;
            }
            r->step++;
            progress(r, 0);
            if (r->opts->stop_after && r->step >= r->opts->stop_after) goto done;
        }
        r->epoch++;
        int log_row = !full && r->epoch % r->every == 0;
        if (!full || r->val.n || r->test.n || r->patience) {
            st = epoch_end(r, ecost / (double)n, eacc / (double)n, emae / (double)n, log_row);
            if (st != NB_OK) goto done;
        }
        if (r->timing) {
            double t = now_seconds();
            if (!full || r->epoch % 1000 == 0 || r->epoch == r->epochs) {
                nb_fprintf(r->timing, "epoch %zu step %zu seconds %.6f\n", r->epoch, r->step, t - te);
                fflush(r->timing);
                te = t;
            }
        }
        if (r->step - r->last_ckpt_step >= r->ckpt_every && r->epoch < r->epochs &&
            (st = checkpoint(r)) != NB_OK)
            goto done;
    }
    if (r->stopped_early && r->have_best) snapshot_params(r, r->best_params, 0);
    /* The row after the last update (full batch). */
    if (full && r->step % r->every == 0) {
        double cost, acc, mae, vt[4] = { NAN, NAN, NAN, NAN };
        if ((st = evaluate(r, &r->train, r->T, &cost, &acc, &mae)) != NB_OK) goto done;
        costs_row(r, cost, acc, mae, vt);
    }
done:
    free(perm), free(lb), free(x8);
    progress(r, 1);
    if (r->bar && r->opts->log) fputc('\n', r->opts->log);
    return st;
}

/* ---- BFGS (GSL's vector_bfgs2 fed by the autodiff gradient) ------------ */

static void params_from(run *r, const gsl_vector *x)
{
    size_t at = 0;
    for (size_t p = 0; p < nb_graph_param_count(r->g); p++) {
        nb_node *pn = nb_graph_param_at(r->g, p);
        for (size_t i = 0; i < nb_node_size(pn); i++) nb_node_value(pn)[i] = gsl_vector_get(x, at++);
    }
}

/* The full-batch objective at x; leaves the loss node on the tape. */
static nb_node *bfgs_eval(run *r, const gsl_vector *x)
{
    params_from(r, x);
    nb_graph_reset(r->g);
    nb_node *out;
    return build_loss(r, r->train.x, r->T, r->train.n, &out);
}

static double bfgs_f(const gsl_vector *x, void *p)
{
    nb_node *L = bfgs_eval(p, x);
    return L ? nb_node_scalar(L) : GSL_NAN;
}

static void bfgs_fdf(const gsl_vector *x, void *p, double *f, gsl_vector *gr)
{
    run *r = p;
    nb_node *L = bfgs_eval(r, x);
    *f = L ? nb_node_scalar(L) : GSL_NAN;
    nb_graph_zero_grad(r->g);
    if (!L || nb_backward(r->g, L) != NB_OK) {
        gsl_vector_set_all(gr, GSL_NAN);
        return;
    }
    size_t at = 0;
    for (size_t k = 0; k < nb_graph_param_count(r->g); k++) {
        nb_node *pn = nb_graph_param_at(r->g, k);
        for (size_t i = 0; i < nb_node_size(pn); i++) gsl_vector_set(gr, at++, nb_node_grad(pn)[i]);
    }
}

static void bfgs_df(const gsl_vector *x, void *p, gsl_vector *gr)
{
    double f;
    bfgs_fdf(x, p, &f, gr);
}

/* GSL's vector_bfgs2 on the full-batch objective, fed by the autodiff
 * gradient; one costs.csv row per iteration (bfgs runs are not
 * checkpointed: a resumed bfgs run starts over). */
static int bfgs_loop(run *r)
{
    size_t n = nb_graph_param_size(r->g);
    gsl_vector *x = gsl_vector_alloc(n);
    gsl_multimin_fdfminimizer *s = gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, n);
    if (!x || !s) {
        if (x) gsl_vector_free(x);
        if (s) gsl_multimin_fdfminimizer_free(s);
        return fail(r, NB_ENOMEM, "bfgs: out of memory (%zu parameters)", n);
    }
    size_t at = 0;
    for (size_t k = 0; k < nb_graph_param_count(r->g); k++) {
        nb_node *pn = nb_graph_param_at(r->g, k);
        for (size_t i = 0; i < nb_node_size(pn); i++) gsl_vector_set(x, at++, nb_node_value(pn)[i]);
    }
    gsl_multimin_function_fdf F = { bfgs_f, bfgs_df, bfgs_fdf, n, r };
    int st = NB_OK;
    r->step = r->epoch = 0;
    r->steps_total = r->epochs;
    double tol = cfg_double(r, "optimizer.bfgs_tol");
    if (gsl_multimin_fdfminimizer_set(s, &F, x, 0.01, 0.1) != GSL_SUCCESS) {
        st = fail(r, NB_EGSL, "bfgs: could not start (objective not finite at the initial point?)");
        goto done;
    }
    for (;;) {
        double cost, acc, mae, vt[4] = { NAN, NAN, NAN, NAN };
        params_from(r, s->x);
        if ((st = evaluate(r, &r->train, r->T, &cost, &acc, &mae)) != NB_OK) goto done;
        int converged = gsl_multimin_test_gradient(s->gradient, tol) == GSL_SUCCESS;
        if (r->step % r->every == 0 || converged || r->step == r->epochs) costs_row(r, cost, acc, mae, vt);
        if (converged || r->step == r->epochs) break;
        int gs = gsl_multimin_fdfminimizer_iterate(s);
        r->step++;
        r->epoch = r->step;
        progress(r, 0);
        if (gs == GSL_ENOPROG) {   /* no further progress possible: at the optimum to precision */
            params_from(r, s->x);
            if ((st = evaluate(r, &r->train, r->T, &cost, &acc, &mae)) != NB_OK) goto done;
            costs_row(r, cost, acc, mae, vt);
            break;
        }
        if (gs != GSL_SUCCESS) {
            st = fail(r, NB_EGSL, "bfgs: iteration %zu: %s", r->step, gsl_strerror(gs));
            goto done;
        }
    }
    params_from(r, s->x);
done:
    gsl_vector_free(x);
    gsl_multimin_fdfminimizer_free(s);
    progress(r, 1);
    if (r->bar && r->opts->log) fputc('\n', r->opts->log);
    return st;
}

/* ---- results, meta, plot ----------------------------------------------- */

static int write_results(run *r)
{
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f) return fail(r, NB_ENOMEM, "results: out of memory");
    fprintf(f, "# nabla run: %s, seed %lu\n", cfg_str(r, "experiment.name"), r->seed);
    nb_fprintf(f, "steps = %zu\nepochs = %zu\nfinal_cost = %.17g\n", r->step, r->epoch, r->final_metric[0]);
    if (r->want_accuracy) nb_fprintf(f, "train_accuracy = %.17g\n", r->final_metric[1]);
    if (r->want_mae) nb_fprintf(f, "train_mae = %.17g\n", r->final_metric[5]);
    if (r->val.n) nb_fprintf(f, "val_cost = %.17g\nval_accuracy = %.17g\n", r->final_metric[2], r->final_metric[3]);
    if (r->test.n) nb_fprintf(f, "test_accuracy = %.17g\n", r->final_metric[4]);
    if (r->stopped_early) fprintf(f, "stopped_early = true\n");
    /* Outputs on the training inputs (small data sets). */
    if (r->train.n * r->k <= 4096) {
        nb_graph_reset(r->g);
        nb_node *out, *L = build_loss(r, r->train.x, r->T, r->train.n, &out);
        if (!L) {
            fclose(f);
            free(buf);
            return fail(r, nb_graph_status(r->g), "results: %s", nb_graph_errmsg(r->g));
        }
        {
            fprintf(f, "\n[outputs]  # network outputs on the training inputs, one row per example\n");
            for (size_t i = 0; i < r->train.n; i++) {
                for (size_t j = 0; j < r->k; j++)
                    nb_fprintf(f, "%s%.17g", j ? " " : "", nb_node_cvalue(out)[i * r->k + j]);
                fputc('\n', f);
            }
        }
    }
    fprintf(f, "\n[parameters]\n");
    for (size_t p = 0; p < nb_graph_param_count(r->g); p++) {
        nb_node *pn = nb_graph_param_at(r->g, p);
        size_t rows = nb_node_rows(pn), cols = nb_node_cols(pn);
        fprintf(f, "%s (%zux%zu)", nb_node_name(pn), rows, cols);
        if (rows * cols > 4096) {
            double s = 0;
            for (size_t i = 0; i < rows * cols; i++) s += nb_node_value(pn)[i] * nb_node_value(pn)[i];
            nb_fprintf(f, ": %zu values, norm %.17g (all values in model.nbm)\n", rows * cols, sqrt(s));
            continue;
        }
        fputc('\n', f);
        for (size_t i = 0; i < rows; i++) {
            for (size_t j = 0; j < cols; j++) nb_fprintf(f, "%s%.17g", j ? " " : "", nb_node_value(pn)[i * cols + j]);
            fputc('\n', f);
        }
    }
    /* Never write a truncated results.txt.  glibc's memory stream reports
     * a failed allocation in fclose by setting the buffer to NULL, not by
     * its status (its final realloc), hence the three tests.  (A failed
     * growth before that sets no error flag either, only fprintf's status:
     * results.txt and meta.json of a small run fit the stream's first
     * buffer, boundary.dat does not and checks every call.) */
    if (ferror(f) | (fclose(f) != 0) || !buf) {
        free(buf);
        return fail(r, NB_ENOMEM, "results.txt: out of memory");
    }
    int st = write_atomic(r, "results.txt", buf, blen);
    free(buf);
    return st;
}

static int write_meta(run *r, const char *status)
{
    char *buf = NULL, path[512], now[32];
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f) return fail(r, NB_ENOMEM, "meta.json: out of memory");
    utc_now(now, sizeof now);
    nb_json j;
    nb_json_init(&j, f, 0);
    nb_json_begin_object(&j, 1);
    nb_json_key(&j, "nabla_version");
    nb_json_string(&j, nb_version());
    nb_json_key(&j, "blas_bound");
    nb_json_string(&j, nb_blas_name(path, sizeof path));
    nb_json_key(&j, "blas_library");
    nb_json_string(&j, path);
    nb_json_key(&j, "blas_configured");
    nb_json_string(&j, nb_blas_configured());
    nb_json_key(&j, "blas_threads");
    nb_json_int(&j, nb_blas_threads());
    nb_json_key(&j, "seed");
    nb_json_uint(&j, r->seed);
    nb_json_key(&j, "experiment");
    nb_json_string(&j, cfg_str(r, "experiment.name"));
    nb_json_key(&j, "status");
    nb_json_string(&j, status);
    nb_json_key(&j, "started");
    nb_json_string(&j, r->started);
    if (strcmp(status, "running") != 0) {
        nb_json_key(&j, "ended");
        nb_json_string(&j, now);
    }
    if (r->resumed) {
        nb_json_key(&j, "resumed_from_step");
        nb_json_uint(&j, r->resumed_from);
    }
    nb_json_key(&j, "steps");
    nb_json_uint(&j, r->step);
    nb_json_key(&j, "epochs");
    nb_json_uint(&j, r->epoch);
    nb_json_key(&j, "final");
    nb_json_begin_object(&j, 0);
    nb_json_key(&j, "cost");
    nb_json_number(&j, r->final_metric[0]);
    if (r->want_accuracy) nb_json_key(&j, "accuracy"), nb_json_number(&j, r->final_metric[1]);
    if (r->want_mae) nb_json_key(&j, "mae"), nb_json_number(&j, r->final_metric[5]);
    if (r->val.n) {
        nb_json_key(&j, "val_cost"), nb_json_number(&j, r->final_metric[2]);
        nb_json_key(&j, "val_accuracy"), nb_json_number(&j, r->final_metric[3]);
    }
    if (r->test.n) nb_json_key(&j, "test_accuracy"), nb_json_number(&j, r->final_metric[4]);
    nb_json_end_object(&j);
    nb_json_end_object(&j);
    int st = nb_json_finish(&j);
    if (fclose(f) != 0 && st == NB_OK) st = NB_EIO;
    if (!buf && st == NB_OK) st = NB_ENOMEM;   /* see write_results */
    if (st != NB_OK) {
        free(buf);
        return fail(r, st, "meta.json: %s", nb_strerror(st));
    }
    st = write_atomic(r, "meta.json", buf, blen);
    free(buf);
    return st;
}

/* Finds an executable on PATH. */
static int on_path(const char *prog, char *out, size_t len)
{
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    while (*path) {
        const char *c = strchr(path, ':');
        size_t n = c ? (size_t)(c - path) : strlen(path);
        snprintf(out, len, "%.*s/%s", (int)n, path, prog);
        if (n && access(out, X_OK) == 0) return 1;
        path += n + (c ? 1 : 0);
    }
    return 0;
}

/* The plot files.  A failed allocation or write is an error of the run
 * (NB_ENOMEM / NB_EIO): a run never ends "done" with a plot silently cut
 * short.  gnuplot itself failing (a bad terminal, say) is not: the scripts
 * are there to run by hand. */
static int plot(run *r)
{
    int st;
    char gp[PATH_MAX], script[2048];
    int n = snprintf(script, sizeof script,
                     "# gnuplot script: the cost curve of this run (gnuplot cost.gp)\n"
                     "set terminal pngcairo size 900,560 noenhanced\n"
                     "set output 'cost.png'\n"
                     "set datafile separator ','\n"
                     "set title 'nabla run %s (seed %lu)'\n"
                     "set xlabel 'step'\nset ylabel 'cost per example'\n"
                     "set logscale y\nset grid\n"
                     "plot 'costs.csv' using 1:3 skip 1 with lines lw 2 title 'cost'\n",
                     cfg_str(r, "experiment.name"), r->seed);
    if ((st = write_atomic(r, "cost.gp", script, (size_t)n)) != NB_OK) return st;
    int boundary = r->train.d == 2 && r->train.label && r->train.n <= 100000;
    if (boundary) {
        /* Predicted class over a grid spanning the data: the decision boundary. */
        double lo[2] = { INFINITY, INFINITY }, hi[2] = { -INFINITY, -INFINITY };
        for (size_t i = 0; i < r->train.n; i++)
            for (int j = 0; j < 2; j++) {
                lo[j] = fmin(lo[j], r->train.x[i * 2 + j]);
                hi[j] = fmax(hi[j], r->train.x[i * 2 + j]);
            }
        const size_t G = 120;
        double *grid = malloc(G * G * 2 * sizeof *grid), *tg = calloc(G * G * r->k, sizeof *tg);
        char *buf = NULL;
        size_t blen = 0;
        FILE *f = grid && tg ? open_memstream(&buf, &blen) : NULL;
        if (!f) {
            free(grid);
            free(tg);
            return fail(r, NB_ENOMEM, "boundary.dat: out of memory");
        }
        {
            for (size_t a = 0; a < G; a++)
                for (size_t b = 0; b < G; b++) {
                    grid[(a * G + b) * 2] = lo[0] - 0.5 + (hi[0] - lo[0] + 1.0) * (double)b / (double)(G - 1);
                    grid[(a * G + b) * 2 + 1] = lo[1] - 0.5 + (hi[1] - lo[1] + 1.0) * (double)a / (double)(G - 1);
                }
            nb_graph_reset(r->g);
            nb_node *out, *L = build_loss(r, grid, tg, G * G, &out);
            if (!L) {
                fclose(f);
                free(buf);
                free(grid);
                free(tg);
                return fail(r, nb_graph_status(r->g), "boundary.dat: %s", nb_graph_errmsg(r->g));
            }
            /* glibc's memory stream drops what it cannot grow for and
             * sets no error flag: only each call's status tells. */
            int bad = 0;
            {
                for (size_t i = 0; i < G * G; i++) {
                    size_t pred = predict(r, nb_node_cvalue(out) + i * r->k);
                    bad |= nb_fprintf(f, "%.6g %.6g %zu\n", grid[i * 2], grid[i * 2 + 1], pred) < 0;
                    if ((i + 1) % G == 0) bad |= fputc('\n', f) == EOF;
                }
            }
            bad |= fprintf(f, "\n\n") < 0;
            for (size_t i = 0; i < r->train.n; i++)
                bad |= nb_fprintf(f, "%.9g %.9g %zu\n", r->train.x[i * 2], r->train.x[i * 2 + 1],
                                  r->train.label[i]) < 0;
            st = bad | ferror(f) | (fclose(f) != 0) || !buf   /* see write_results */
                     ? fail(r, NB_ENOMEM, "boundary.dat: out of memory")
                     : write_atomic(r, "boundary.dat", buf, blen);
            free(buf);
            if (st != NB_OK) {
                free(grid);
                free(tg);
                return st;
            }
            n = snprintf(script, sizeof script,
                         "# gnuplot script: decision boundary and training points (gnuplot boundary.gp)\n"
                         "set terminal pngcairo size 760,640 noenhanced\n"
                         "set output 'boundary.png'\n"
                         "set title 'nabla run %s: decision boundary'\n"
                         "set view map\nunset colorbox\nset palette defined (0 '#fde0c5', 1 '#c6dbef', 2 '#d9f0d3', 3 '#e7d4e8')\n"
                         "plot 'boundary.dat' index 0 using 1:2:3 with image notitle, \\\n"
                         "     'boundary.dat' index 1 using 1:2:3 with points pt 7 ps 0.7 lc variable notitle\n",
                         cfg_str(r, "experiment.name"));
            st = write_atomic(r, "boundary.gp", script, (size_t)n);
        }
        free(grid);
        free(tg);
        if (st != NB_OK) return st;
    }
    char exe[PATH_MAX];
    if (!on_path("gnuplot", exe, sizeof exe)) {
        const char *note = "gnuplot is not installed: no PNG was made.\n"
                           "Install it (apt-get install gnuplot-nox) and run `gnuplot cost.gp` here.\n";
        return write_atomic(r, "plot.txt", note, strlen(note));
    }
    const char *scripts[2] = { "cost.gp", boundary ? "boundary.gp" : NULL };
    for (int s = 0; s < 2 && scripts[s]; s++) {
        path_join(gp, sizeof gp, r->dir, scripts[s]);
        pid_t pid;
        posix_spawn_file_actions_t fa;
        int e = posix_spawn_file_actions_init(&fa);
        if (e == 0) e = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        if (e == 0) e = posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        if (e != 0) {
            posix_spawn_file_actions_destroy(&fa);
            return fail(r, e == ENOMEM ? NB_ENOMEM : NB_EIO, "gnuplot %s: %s", scripts[s], strerror(e));
        }
        char *argv[] = { "gnuplot", (char *)scripts[s], NULL };
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd) || chdir(r->dir) != 0) {
            posix_spawn_file_actions_destroy(&fa);
            return NB_OK;
        }
        int rc = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
        if (chdir(cwd) != 0) rc = -1;
        posix_spawn_file_actions_destroy(&fa);
        int status;
        if (rc == 0) waitpid(pid, &status, 0);
        else if (rc == ENOMEM) return fail(r, NB_ENOMEM, "gnuplot %s: %s", scripts[s], strerror(rc));
    }
    return NB_OK;
}

/* ---- the run ----------------------------------------------------------- */

void nb_run_opts_init(nb_run_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->progress = -1;
}

static int setup_config(run *r)
{
    size_t n;
    const nb_config_key *schema = nb_experiment_schema(&n);
    r->cfg = nb_config_alloc(schema, n);
    if (!r->cfg) return fail(r, NB_ENOMEM, "config: out of memory");
    const nb_run_opts *o = r->opts;
    char path[PATH_MAX];
    if (o->resume) {
        if (!o->out_dir) return fail(r, NB_EINVAL, "resume: no run directory given");
        path_join(path, sizeof path, o->out_dir, "config.conf");
        if (!file_exists(path))
            return fail(r, NB_ESTATE, "resume: '%s' holds no run (no config.conf)", NB_ECHO(o->out_dir));
    } else {
        if (!o->config_path) return fail(r, NB_EINVAL, "run: no config file given");
        snprintf(path, sizeof path, "%s", o->config_path);
    }
    int st = nb_config_load(r->cfg, path, r->err);
    if (st != NB_OK) return st;
    if (!o->resume) {
        for (size_t i = 0; i < o->n_sets; i++)
            if ((st = nb_config_set(r->cfg, o->sets[i], r->err)) != NB_OK) return st;
        if (o->has_seed) {
            char a[64];
            snprintf(a, sizeof a, "experiment.seed=%lu", o->seed);
            if ((st = nb_config_set(r->cfg, a, r->err)) != NB_OK) return st;
        }
    } else if (o->n_sets || o->has_seed) {
        return fail(r, NB_EINVAL, "resume: --set and --seed cannot change a run being resumed");
    }
    if ((st = nb_config_validate(r->cfg, r->err)) != NB_OK) return st;
    /* Relative data paths are relative to the original config file. */
    const char *cp = o->resume ? NULL : o->config_path;
    r->cfgdir[0] = '\0';
    if (cp) {
        const char *slash = strrchr(cp, '/');
        if (slash) snprintf(r->cfgdir, sizeof r->cfgdir, "%.*s", (int)(slash - cp), cp);
    } else {
        /* a resumed run keeps the directory recorded at its start */
        char p[PATH_MAX];
        path_join(p, sizeof p, o->out_dir, "config.dir");
        FILE *f = fopen(p, "r");
        if (f) {
            if (fgets(r->cfgdir, sizeof r->cfgdir, f)) r->cfgdir[strcspn(r->cfgdir, "\n")] = '\0';
            fclose(f);
        }
    }
    long long seed = 0;
    nb_config_get_int(r->cfg, "experiment.seed", &seed);
    r->seed = (unsigned long)seed;
    if (o->out_dir) snprintf(r->dir, sizeof r->dir, "%s", o->out_dir);
    else snprintf(r->dir, sizeof r->dir, "runs/%s-seed%lu", cfg_str(r, "experiment.name"), r->seed);
    return NB_OK;
}

static int setup_training(run *r)
{
    const char *lk = cfg_str(r, "loss.kind");
    /* The schema accepted a loss op of the registry, or half_sse. */
    r->half_sse = strcmp(lk, "half_sse") == 0;
    r->loss_op = r->half_sse ? &nb_op_mse : nb_op_find(lk);
    if (!r->loss_op) return fail(r, NB_ECONFIG, "loss.kind: '%s' is not a loss op", NB_ECHO(lk));
    r->loss_sum = strcmp(cfg_str(r, "loss.reduction"), "sum") == 0;
    r->l2 = cfg_double(r, "loss.l2");
    const char *const *m;
    size_t nm = 0;
    if (nb_config_is_set(r->cfg, "log.metrics") &&
        nb_config_get_word_list(r->cfg, "log.metrics", &m, &nm) == NB_OK)
        for (size_t i = 0; i < nm; i++) {
            if (strcmp(m[i], "accuracy") == 0) r->want_accuracy = 1;
            if (strcmp(m[i], "mae") == 0) r->want_mae = 1;
        }
    r->epochs = cfg_size(r, "train.epochs");
    r->batch = cfg_size(r, "train.batch_size");
    r->shuffle = cfg_bool(r, "train.shuffle");
    r->patience = cfg_size(r, "train.patience");
    r->ckpt_every = cfg_size(r, "train.checkpoint_every");
    r->every = cfg_size(r, "log.every");
    r->gc_every = cfg_size(r, "log.gradcheck_every");
    r->best_val = INFINITY;
    if (r->patience && !r->val.n)
        return fail(r, NB_ECONFIG, "train.patience needs a validation set (data.validation > 0)");
    if (r->loss_op == &nb_op_softmax_ce && r->k < 2)
        return fail(r, NB_ECONFIG, "loss.kind = softmax_ce needs an output width of at least 2");
    const char *ok = cfg_str(r, "optimizer.kind");
    if (strcmp(ok, "bfgs") == 0) {
        r->bfgs = 1;
        if (r->batch) return fail(r, NB_ECONFIG, "optimizer.kind = bfgs works on the full batch (train.batch_size = 0)");
        return NB_OK;
    }
    nb_optim_opts oo;
    nb_optim_opts_init(&oo);
    if ((oo.type = nb_optim_type_find(ok)) == NULL)
        return fail(r, NB_ECONFIG, "optimizer.kind: unknown optimizer '%s'", NB_ECHO(ok));
    oo.lr = cfg_double(r, "optimizer.lr");
    oo.momentum = cfg_double(r, "optimizer.momentum");
    oo.beta1 = cfg_double(r, "optimizer.beta1");
    oo.beta2 = cfg_double(r, "optimizer.beta2");
    oo.eps = cfg_double(r, "optimizer.eps");
    oo.weight_decay = cfg_double(r, "optimizer.weight_decay");
    const char *sc = cfg_str(r, "optimizer.schedule");
    if ((oo.schedule = nb_schedule_type_find(sc)) == NULL)
        return fail(r, NB_ECONFIG, "optimizer.schedule: unknown schedule '%s'", NB_ECHO(sc));
    oo.gamma = cfg_double(r, "optimizer.gamma");
    oo.step_size = cfg_size(r, "optimizer.step_size");
    nb_error oerr;
    r->optim = nb_optim_alloc(r->g, &oo, &oerr);
    if (!r->optim) return fail(r, NB_ECONFIG, "optimizer: %s", oerr.msg);
    if (!cfg_bool(r, "optimizer.update_biases"))
        for (size_t l = 0; l < r->n_layers; l++)
            if (r->layer[l].b) nb_optim_set_trainable(r->optim, nb_node_name(r->layer[l].b), 0, NULL);
    return NB_OK;
}

static int open_logs(run *r, long costs_len, long gc_len)
{
    char p[PATH_MAX];
    path_join(p, sizeof p, r->dir, "costs.csv");
    if (r->resumed && costs_len > 0) {
        if (truncate(p, costs_len) != 0) return fail(r, NB_EIO, "%s: %s", NB_ECHO(p), strerror(errno));
        r->costs = fopen(p, "a");
    } else {
        r->costs = fopen(p, "w");
        if (r->costs) costs_header(r, r->costs);
    }
    if (!r->costs) return fail(r, NB_EIO, "%s: %s", NB_ECHO(p), strerror(errno));
    if (r->gc_every) {
        path_join(p, sizeof p, r->dir, "gradcheck.log");
        if (r->resumed && gc_len > 0) {
            if (truncate(p, gc_len) != 0) return fail(r, NB_EIO, "%s: %s", NB_ECHO(p), strerror(errno));
            r->gclog = fopen(p, "a");
        } else {
            r->gclog = fopen(p, "w");
            if (r->gclog) fputs("step,verdict,directions,failed,worst_ratio\n", r->gclog);
        }
        if (!r->gclog) return fail(r, NB_EIO, "%s: %s", NB_ECHO(p), strerror(errno));
    }
    path_join(p, sizeof p, r->dir, "timing.log");
    r->timing = fopen(p, r->resumed ? "a" : "w");
    if (!r->timing) return fail(r, errno == ENOMEM ? NB_ENOMEM : NB_EIO, "%s: %s", p, strerror(errno));
    return NB_OK;
}

int nb_experiment_run(const nb_run_opts *o, nb_error *err)
{
    if (!o) return nb_error_set(err, NB_EINVAL, "nb_experiment_run: NULL options");
    run R, *r = &R;
    memset(r, 0, sizeof *r);
    r->opts = o;
    r->err = err;
    int st = setup_config(r);
    if (st != NB_OK) goto out;
    char p[PATH_MAX];
    path_join(p, sizeof p, r->dir, "costs.csv");
    if (!o->resume && file_exists(p)) {
        st = fail(r, NB_ESTATE, "run directory '%s' already holds a run: use --resume %s, or another --out",
                  NB_ECHO(r->dir), NB_ECHO(r->dir));
        goto out;
    }
    if (o->resume && !file_exists(p)) {
        st = fail(r, NB_ESTATE, "resume: '%s' holds no run (no costs.csv)", NB_ECHO(r->dir));
        goto out;
    }
    nb_rng_seed(&r->rng, (uint32_t)r->seed);
    if ((st = load_data(r)) != NB_OK) goto out;
    if ((st = build_model(r)) != NB_OK) goto out;
    /* Inline data brings its targets; labelled data gets them made here. */
    if (!r->T && (st = make_targets(r, &r->train, &r->T)) != NB_OK) goto out;
    if ((st = make_targets(r, &r->val, &r->Tval)) != NB_OK) goto out;
    if ((st = make_targets(r, &r->test, &r->Ttest)) != NB_OK) goto out;
    if ((st = setup_training(r)) != NB_OK) goto out;
    r->best_params = calloc(nb_graph_param_size(r->g), sizeof(double));
    if (!r->best_params) {
        st = fail(r, NB_ENOMEM, "out of memory");
        goto out;
    }
    if (mkdir_p(r->dir) != 0) {
        st = fail(r, NB_EIO, "run directory '%s': %s", NB_ECHO(r->dir), strerror(errno));
        goto out;
    }
    long costs_len = -1, gc_len = -1;
    if (o->resume) {
        r->resumed = 1;
        if ((st = restore(r, &costs_len, &gc_len)) != NB_OK) goto out;
        char mp[PATH_MAX];
        path_join(mp, sizeof mp, r->dir, "meta.json");
        FILE *mf = fopen(mp, "r");
        r->started[0] = '\0';
        if (mf) {   /* keep the original start time */
            char line[256];
            while (fgets(line, sizeof line, mf))
                if (sscanf(line, " \"started\": \"%31[^\"]\"", r->started) == 1) break;
            fclose(mf);
        }
        if (!r->started[0]) utc_now(r->started, sizeof r->started);
    } else {
        utc_now(r->started, sizeof r->started);
        path_join(p, sizeof p, r->dir, "config.conf");
        if ((st = nb_config_save(r->cfg, p, err)) != NB_OK) goto out;
        if ((st = write_atomic(r, "config.dir", r->cfgdir, strlen(r->cfgdir))) != NB_OK) goto out;
    }
    if ((st = open_logs(r, costs_len, gc_len)) != NB_OK) goto out;
    if ((st = write_meta(r, "running")) != NB_OK) goto out;
    r->bar = o->progress == 1 || (o->progress < 0 && o->log && isatty(fileno(o->log)));
    r->t_start = r->t_last_print = now_seconds();
    if (o->log && !o->resume)
        fprintf(o->log, "nabla run %s: seed %lu, %zu training examples, %zu parameters -> %s\n",
                cfg_str(r, "experiment.name"), r->seed, r->train.n, nb_graph_param_size(r->g), r->dir);
    else if (o->log)
        fprintf(o->log, "nabla run %s: resuming at step %zu (epoch %zu) in %s\n",
                cfg_str(r, "experiment.name"), r->step, r->epoch, r->dir);
    gsl_error_handler_t *saved = gsl_set_error_handler_off();
    st = r->bfgs ? bfgs_loop(r) : train_loop(r);
    gsl_set_error_handler(saved);
    if (st != NB_OK) goto out;
    if (o->stop_after && r->step >= o->stop_after && r->epoch < r->epochs && !r->stopped_early) {
        if (o->log) fprintf(o->log, "nabla run: stopped after %zu steps as asked\n", r->step);
        goto out;
    }
    if ((st = write_results(r)) != NB_OK) goto out;
    nb_error me = {0};
    path_join(p, sizeof p, r->dir, "model.nbm");
    if ((st = nb_model_save(r->g, p, &me)) != NB_OK) {
        fail(r, st, "model.nbm: %s", nb_error_message(&me));
        goto out;
    }
    if (cfg_bool(r, "log.plot") && (st = plot(r)) != NB_OK) goto out;
    path_join(p, sizeof p, r->dir, "checkpoint.nbk");
    remove(p);   /* finished: nothing to resume */
    if ((st = write_meta(r, r->stopped_early ? "stopped early" : "finished")) != NB_OK) goto out;
    if (o->log)
        nb_fprintf(o->log, "nabla run %s: done, %zu steps, final cost %.9g%s -> %s\n",
                cfg_str(r, "experiment.name"), r->step, r->final_metric[0],
                r->stopped_early ? " (stopped early)" : "", r->dir);
out:
    if (r->costs) fclose(r->costs);
    if (r->gclog) fclose(r->gclog);
    if (r->timing) fclose(r->timing);
    nb_optim_free(r->optim);
    nb_graph_free(r->g);
    nb_config_free(r->cfg);
    nb_dataset_free(&r->train);
    nb_dataset_free(&r->val);
    nb_dataset_free(&r->test);
    free(r->T);
    free(r->Tval);
    free(r->Ttest);
    free(r->best_params);
    return st;
}
