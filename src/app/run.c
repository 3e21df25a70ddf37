/* app/run.c — `nabla run`: a config + a seed -> a run directory.
 *
 * The config is read once into a typed spec (spec.c); everything below
 * reads the spec, never a config key.  The data are checked against the
 * model before anything is written: feature counts of every split against
 * the input layer, image shapes of train and test, labels against the
 * loss's range (naming the file and line or record of the first bad one).
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
 * logs).  A checkpoint is untrusted input even when its CRC is valid: every
 * counter is checked against the run it claims to belong to and against
 * the files' real sizes before any file is touched; then --resume truncates
 * the logs to those lengths and goes on, so a killed run ends with the same
 * costs.csv as an uninterrupted one.
 *
 * A run directory is never clobbered: a new run needs an absent or empty
 * directory; --resume continues only an unfinished run and leaves a
 * finished one untouched.  Every write is checked; whole files (results,
 * meta, plots) are written to a temporary name, fsynced and renamed.
 *
 * No process-wide state is changed: gnuplot is spawned with its own working
 * directory (posix_spawn file actions), GSL's error handler is switched off
 * only around the training loop and restored. */
#define _GNU_SOURCE 1   /* the spawn file action that sets the child's working directory */
#include <config.h>

#include <dirent.h>
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

#ifdef NB_HAVE_ZLIB
#include <zlib.h>
#endif

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
#include <nabla/text.h>
#include "app/app.h"

extern char **environ;

/* The counters a checkpoint stores ("state", 1 x 8). */
enum { CK_STEP, CK_EPOCH, CK_COSTS_LEN, CK_GC_LEN, CK_BEST_VAL, CK_BAD_EPOCHS, CK_HAVE_BEST,
       CK_LAST_COST, CK_COUNT };

typedef struct run {
    const nb_run_opts *opts;
    nb_config *cfg;
    nb_run_spec S;             /* the config, typed: the only settings read below */
    nb_error *err;
    char dir[PATH_MAX];
    char cfgdir[PATH_MAX];     /* directory of the config file: relative data paths */
    nb_rng rng;
    /* data: train (n, d) inputs and (n, k) targets; optional validation/test */
    nb_dataset train, val, test;
    double *T, *Tval, *Ttest;  /* targets (n, k) */
    size_t k;                  /* output width */
    /* model */
    nb_graph *g;
    nb_dense layer[NBI_MAX_LAYERS];
    nb_optim *optim;
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
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int fail(run *r, int st, const char *fmt, ...)
{
    if (r->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err->msg, sizeof r->err->msg, fmt, ap);
        va_end(ap);
        r->err->status = st;
    }
    return st;
}

/* A short, escaped piece of user input (paths, names) for messages. */
static const char *esc(char *buf, size_t len, const char *s)
{
    return nb_error_escape(buf, len, s ? s : "", (size_t)-1, NB_ERROR_ECHO_MAX);
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

/* Size of a regular file, -1 when there is none. */
static long long file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    return (long long)st.st_size;
}

/* Writes text atomically: temporary file, flush, fsync, rename.  On any
 * failure the temporary file is removed and the old file (if any) stays. */
static int write_atomic(run *r, const char *name, const char *text, size_t n)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8], e1[NB_ERROR_ECHO_LEN];
    path_join(path, sizeof path, r->dir, name);
    if (!path[0] || snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return fail(r, NB_EIO, "%s: path too long", name);
    FILE *f = fopen(tmp, "wb");
    if (!f) return fail(r, NB_EIO, "%s: %s", esc(e1, sizeof e1, tmp), strerror(errno));
    int e = 0;
    if (fwrite(text, 1, n, f) != n || fflush(f) != 0 || fsync(fileno(f)) != 0) e = errno ? errno : EIO;
    if (fclose(f) != 0 && !e) e = errno ? errno : EIO;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        remove(tmp);
        return fail(r, NB_EIO, "%s: %s", esc(e1, sizeof e1, path), strerror(e));
    }
    return NB_OK;
}

/* A text built in memory (open_memstream) for a file written whole.  A
 * failed fprintf into a memory stream (out of memory) neither sets the
 * stream's error flag nor makes fclose fail: the text would silently end
 * short.  So every piece goes through mt_printf, which remembers a failure,
 * and mt_end fails the write as a whole. */
typedef struct mtext {
    FILE *f;
    char *buf;
    size_t len;
    int bad;
} mtext;

static int mt_open(mtext *m)
{
    memset(m, 0, sizeof *m);
    m->f = open_memstream(&m->buf, &m->len);
    return m->f ? 0 : -1;
}

static void mt_printf(mtext *m, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void mt_printf(mtext *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256], *big = NULL;
    va_list aq;
    va_copy(aq, ap);
    int n = nb_vformat(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small && (big = malloc((size_t)n + 1)) != NULL) nb_vformat(big, (size_t)n + 1, fmt, aq);
    va_end(aq);
    if (n < 0 || (n >= (int)sizeof small && !big) || fwrite(big ? big : small, 1, (size_t)n, m->f) != (size_t)n)
        m->bad = 1;
    free(big);
    va_end(ap);
}

/* Closes the stream; NB_OK with the complete text in m->buf (the caller
 * frees it), or NB_ENOMEM with nothing. */
static int mt_end(run *r, mtext *m, const char *name)
{
    if (ferror(m->f)) m->bad = 1;
    if (fclose(m->f) != 0) m->bad = 1;
    m->f = NULL;
    if (m->bad || !m->buf) {
        free(m->buf);
        m->buf = NULL;
        return fail(r, NB_ENOMEM, "%s: out of memory while formatting", name);
    }
    return NB_OK;
}

/* A log line: fails the run (not only the line) when the disk refuses it. */
static int log_check(run *r, FILE *f, const char *name)
{
    if (ferror(f) || fflush(f) != 0) {
        int e = errno ? errno : EIO;
        char e1[NB_ERROR_ECHO_LEN];
        return fail(r, NB_EIO, "%s/%s: write failed: %s", esc(e1, sizeof e1, r->dir), name, strerror(e));
    }
    return NB_OK;
}

/* ---- data -------------------------------------------------------------- */

/* The line number of data row `row` (0-based) of a CSV file, counted as
 * nb_csv_read counts: the first non-blank line is the header, blank lines
 * are skipped.  0 when the file cannot be read again. */
static size_t csv_line_of_row(const char *path, size_t row)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t line = 1, seen = 0, found = 0;
    int blank = 1, header = 0, c;
    while ((c = getc(f)) != EOF) {
        if (c == '\n') {
            if (!blank) {
                if (!header) header = 1;
                else if (seen++ == row) {
                    found = line;
                    break;
                }
            }
            line++;
            blank = 1;
        } else if (c != ' ' && c != '\t' && c != '\r' && !(line == 1 && (c == 0xEF || c == 0xBB || c == 0xBF))) {
            blank = 0;
        }
    }
    if (!found && c == EOF && !blank && header && seen == row) found = line;   /* no final newline */
    fclose(f);
    return found;
}

/* The dimensions of an IDX file (plain or gzip), from its header; the file
 * was read whole already, so failures here only lose the shape check. */
static int idx_dims(const char *path, size_t dims[NB_IDX_MAX_DIMS], size_t *nd)
{
    unsigned char h[4 + 4 * NB_IDX_MAX_DIMS];
    int got;
#ifdef NB_HAVE_ZLIB
    gzFile z = gzopen(path, "rb");
    if (!z) return -1;
    got = gzread(z, h, sizeof h);
    gzclose(z);
#else
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    got = (int)fread(h, 1, sizeof h, f);
    fclose(f);
#endif
    if (got < 4 || h[3] == 0 || h[3] > NB_IDX_MAX_DIMS || got < 4 + 4 * h[3]) return -1;
    *nd = h[3];
    for (size_t i = 0; i < *nd; i++)
        dims[i] = ((size_t)h[4 + 4 * i] << 24) | ((size_t)h[5 + 4 * i] << 16) |
                  ((size_t)h[6 + 4 * i] << 8) | (size_t)h[7 + 4 * i];
    return 0;
}

static void dims_text(char *buf, size_t len, const size_t *dims, size_t nd)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nd && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%zu", i ? "x" : "", dims[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* Train and test images have the same shape (not only the same count of
 * values: 2x3 and 3x2 images would be silently misaligned). */
static int check_image_shapes(run *r)
{
    size_t a[NB_IDX_MAX_DIMS], b[NB_IDX_MAX_DIMS], na, nb;
    if (idx_dims(r->S.data.path, a, &na) != 0 || idx_dims(r->S.data.test_path, b, &nb) != 0) return NB_OK;
    int same = na == nb;
    for (size_t i = 1; same && i < na; i++) same = a[i] == b[i];
    if (same) return NB_OK;
    char sa[200], sb[200], e1[NB_ERROR_ECHO_LEN], e2[NB_ERROR_ECHO_LEN];
    dims_text(sa, sizeof sa, a + 1, na - 1);
    dims_text(sb, sizeof sb, b + 1, nb - 1);
    return fail(r, NB_ECONFIG, "data.test_path '%s': test images are %s but the training images ('%s') are %s",
                esc(e1, sizeof e1, r->S.data.test_path), sb[0] ? sb : "scalars",
                esc(e2, sizeof e2, r->S.data.path), sa[0] ? sa : "scalars");
}

/* A set's feature count equals the input layer's width. */
static int check_features(run *r, const nb_dataset *ds, const char *key, const char *file)
{
    size_t w = r->S.model.width[0];
    if (ds->d == w) return NB_OK;
    char e1[NB_ERROR_ECHO_LEN];
    if (file)
        return fail(r, NB_ECONFIG, "%s '%s': %zu features per example but the input layer (model.layers) has %zu",
                    key, esc(e1, sizeof e1, file), ds->d, w);
    return fail(r, NB_ECONFIG, "model.layers: input width %zu but the data has %zu features", w, ds->d);
}

/* The largest label the loss accepts: k > 1 outputs take one-hot classes
 * 0..k-1; one bce/bce_logits output takes 0 or 1; one mse/half_sse output
 * regresses on the label itself (no bound: SIZE_MAX). */
static size_t label_max(const run *r)
{
    size_t k = r->S.model.width[r->S.model.n_layers];
    if (k > 1) return k - 1;
    if (r->S.loss.op == &nb_op_bce || r->S.loss.op == &nb_op_bce_logits) return 1;
    return SIZE_MAX;
}

/* Every label of a freshly loaded set within the loss's range; the first
 * bad one is named by file and line (CSV) or record (IDX).  With
 * data.keep_classes the kept classes are renumbered 0..n-1: their count is
 * checked instead, after the selection. */
static int check_labels(run *r, const nb_dataset *ds, const char *file, const char *what)
{
    size_t max = label_max(r), k = r->S.model.width[r->S.model.n_layers];
    if (!ds->label || max == SIZE_MAX || r->S.data.keep) return NB_OK;
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->label[i] <= max) continue;
        char where[PATH_MAX + 160], e1[NB_ERROR_ECHO_LEN], lab[120] = "";
        if (ds->class_names && ds->class_names[ds->label[i]])
            snprintf(lab, sizeof lab, " ('%s')", esc(e1, sizeof e1, ds->class_names[ds->label[i]]));
        if (r->S.data.source == NBI_SRC_CSV) {
            size_t line = csv_line_of_row(file, i);
            if (line) snprintf(where, sizeof where, "%s:%zu", esc(e1, sizeof e1, file), line);
            else snprintf(where, sizeof where, "%s: data row %zu", esc(e1, sizeof e1, file), i + 1);
        } else if (file) {
            snprintf(where, sizeof where, "%s: record %zu", esc(e1, sizeof e1, file), i);
        } else {
            snprintf(where, sizeof where, "%s: example %zu", nbi_source_words[r->S.data.source], i);
        }
        return fail(r, NB_ECONFIG, "%s: label %zu%s of the %s is outside 0..%zu, the range of loss.kind = %s with %zu output%s",
                    where, ds->label[i], lab, what, max, r->S.loss.name, k, k == 1 ? "" : "s");
    }
    return NB_OK;
}

static int keep_classes(run *r, nb_dataset *ds)
{
    const size_t *keep = r->S.data.keep;
    size_t nk = r->S.data.n_keep;
    if (!keep) return NB_OK;
    if (!ds->label) return fail(r, NB_ECONFIG, "data.keep_classes: the data set has no labels");
    for (size_t j = 0; j < nk; j++)
        if (keep[j] >= ds->n_classes)
            return fail(r, NB_ECONFIG, "data.keep_classes: class %zu does not exist (%zu classes)",
                        keep[j], ds->n_classes);
    size_t max = label_max(r);
    if (max != SIZE_MAX && nk - 1 > max)
        return fail(r, NB_ECONFIG, "data.keep_classes: %zu classes kept but loss.kind = %s with %zu output%s takes labels 0..%zu",
                    nk, r->S.loss.name, r->S.model.width[r->S.model.n_layers],
                    r->S.model.width[r->S.model.n_layers] == 1 ? "" : "s", max);
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
    const nb_run_spec *S = &r->S;
    const char *src = nbi_source_words[S->data.source];
    nb_error de;
    nb_error_clear(&de);
    int st = NB_OK;
    switch (S->data.source) {
    case NBI_SRC_INLINE: {
        size_t d = S->data.input_dim, n = S->data.n_inputs / d;
        st = nb_dataset_init(&r->train, n, d, 0);
        if (st != NB_OK) return fail(r, st, "data: %s", nb_strerror(st));
        memcpy(r->train.x, S->data.inputs, S->data.n_inputs * sizeof(double));
        /* inline targets are kept as given: (n, k), checked by the spec */
        r->T = malloc(S->data.n_targets * sizeof(double));
        if (!r->T) return fail(r, NB_ENOMEM, "data.targets: out of memory");
        memcpy(r->T, S->data.targets, S->data.n_targets * sizeof(double));
        return check_features(r, &r->train, "data.inputs", NULL);
    }
    case NBI_SRC_TRUTH_TABLE:
        st = nb_make_truth_table(S->data.table, &r->train, &de);
        break;
    case NBI_SRC_MOONS:
        st = nb_make_moons(S->data.n, S->data.noise, &r->rng, &r->train);
        break;
    case NBI_SRC_SPIRALS:
        st = nb_make_spirals(S->data.n, S->data.classes, S->data.noise, &r->rng, &r->train);
        break;
    case NBI_SRC_BLOBS:
        st = nb_make_blobs(S->data.n, S->data.dim, S->data.classes, S->data.noise, -10.0, 10.0, &r->rng,
                           &r->train, NULL);
        break;
    case NBI_SRC_CSV:
        st = nb_csv_read(S->data.path, S->data.label_column, &r->train, &de);
        if (st == NB_OK && S->data.test_path)
            st = nb_csv_read(S->data.test_path, S->data.label_column, &r->test, &de);
        break;
    case NBI_SRC_IDX:
        st = nb_dataset_load_idx(S->data.path, S->data.labels_path, &r->train, &de);
        if (st == NB_OK && S->data.test_path)
            st = nb_dataset_load_idx(S->data.test_path, S->data.test_labels_path, &r->test, &de);
        break;
    case NBI_SRC_FASHION_MNIST:
        st = nb_dataset_load_fashion_mnist(S->data.dir, 1, &r->train, &de);
        if (st == NB_OK) st = nb_dataset_load_fashion_mnist(S->data.dir, 0, &r->test, &de);
        break;
    default:
        st = NB_EINVAL;
    }
    if (st != NB_OK) return fail(r, st, "data (%s): %s", src, nb_error_message(&de));
    /* The data against the model, before anything reads a row with the
     * model's widths. */
    if (S->data.source == NBI_SRC_IDX && S->data.test_path && (st = check_image_shapes(r)) != NB_OK) return st;
    int files = S->data.source == NBI_SRC_CSV || S->data.source == NBI_SRC_IDX;
    if ((st = check_features(r, &r->train, "data.path", files ? S->data.path : NULL)) != NB_OK) return st;
    if (r->test.n &&
        (st = check_features(r, &r->test, files ? "data.test_path" : "test set", files ? S->data.test_path
                                                                                      : "Fashion-MNIST t10k")) != NB_OK)
        return st;
    /* labels: the CSV file's line, or the IDX labels file's record */
    const nb_run_spec *D = S;
    int idx = D->data.source == NBI_SRC_IDX;
    if ((st = check_labels(r, &r->train, files ? (idx ? D->data.labels_path : D->data.path) : NULL,
                           "training set")) != NB_OK)
        return st;
    if (r->test.n && (st = check_labels(r, &r->test, files ? (idx ? D->data.test_labels_path : D->data.test_path) : NULL,
                                        "test set")) != NB_OK)
        return st;
    if ((st = keep_classes(r, &r->train)) != NB_OK) return st;
    if (r->test.n && (st = keep_classes(r, &r->test)) != NB_OK) return st;
    size_t limit = S->data.limit;
    if (limit && limit < r->train.n) {
        nb_dataset head, tail;
        if ((st = nb_dataset_split(&r->train, limit, &head, &tail)) != NB_OK)
            return fail(r, st, "data.limit: %s", nb_strerror(st));
        nb_dataset_free(&tail);
        nb_dataset_free(&r->train);
        r->train = head;
    }
    double scale = S->data.scale;
    if (scale != 1.0) {
        nb_dataset_scale(&r->train, scale);
        if (r->test.n) nb_dataset_scale(&r->test, scale);
    }
    if (S->data.shuffle && (st = nb_dataset_shuffle(&r->train, &r->rng)) != NB_OK)
        return fail(r, st, "data.shuffle: %s", nb_strerror(st));
    size_t nval = S->data.validation;
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
    if (S->data.standardize) {
        /* z-scores with the training set's statistics, applied to all sets
         * (every set has the training set's d: checked above) */
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
    return NB_OK;
}

/* Targets from labels: one-hot (n, C) when the output has C > 1 columns,
 * the label itself (n, 1) for a single output.  Labels were checked
 * against the loss's range when the data were loaded. */
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
    const nb_run_spec *S = &r->S;
    const size_t *w = S->model.width;
    r->k = w[S->model.n_layers];
    r->g = nb_graph_alloc();
    if (!r->g) return fail(r, NB_ENOMEM, "graph: out of memory");
    double ahp[NB_MAX_HYPER];
    const double *ahpp = NULL;
    if (S->model.has_activation_param) {
        ahp[0] = ahp[1] = S->model.activation_param;
        ahpp = ahp;
    }
    for (size_t l = 0; l < S->model.n_layers; l++) {
        char name[32];
        snprintf(name, sizeof name, "layer%zu", l + 1);
        int last = l + 1 == S->model.n_layers;
        const char *act = last ? S->model.output : S->model.activation;
        if (nb_dense_init(&r->layer[l], r->g, name, w[l], w[l + 1], act, last ? NULL : ahpp, S->model.bias) != NB_OK)
            return fail(r, nb_graph_status(r->g), "model: %s", nb_graph_errmsg(r->g));
    }
    /* Initial values: fixed list, or drawn layer by layer (W then b). */
    if (S->model.weights) {
        if (S->model.n_weights != nb_graph_param_size(r->g))
            return fail(r, NB_ECONFIG, "model.weights: %zu values but the model has %zu parameters",
                        S->model.n_weights, nb_graph_param_size(r->g));
        size_t at = 0;
        for (size_t p = 0; p < nb_graph_param_count(r->g); p++) {
            nb_node *pn = nb_graph_param_at(r->g, p);
            memcpy(nb_node_value(pn), S->model.weights + at, nb_node_size(pn) * sizeof(double));
            at += nb_node_size(pn);
        }
        return NB_OK;
    }
    if (S->data.reseed) nb_rng_seed(&r->rng, (uint32_t)S->experiment.seed);
    nb_init_kind kind = S->model.init;
    double lo = S->model.init_low, hi = S->model.init_high, sd = S->model.init_std;
    for (size_t l = 0; l < S->model.n_layers; l++) {
        nb_dense *L = &r->layer[l];
        double a = kind == NB_INIT_NORMAL ? sd : lo;
        int st = nb_init_fill(nb_node_value(L->W), w[l], w[l + 1], kind, a, hi, &r->rng);
        if (st == NB_OK && L->b && S->model.bias_same)
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
    for (size_t l = 0; l < r->S.model.n_layers; l++) x = nb_dense_forward(g, &r->layer[l], x);
    *out = x;
    nb_node *L = NULL;
    /* loss.kind is any two-input op of the loss family (the schema asks
     * the registry); half_sse is mse scaled to 1/2 sum of squares */
    L = nb_apply(g, r->S.loss.op, (nb_node *[]){ x, t }, NULL);
    if (r->S.loss.half_sse) L = nb_scale(g, L, 0.5 * (double)r->k);
    /* bce/bce_logits/mse average over every element; per example is x k. */
    if (r->k > 1 && (r->S.loss.op == &nb_op_bce || r->S.loss.op == &nb_op_bce_logits))
        L = nb_scale(g, L, (double)r->k);
    if (r->S.loss.sum) L = nb_scale(g, L, (double)n);
    if (r->S.loss.l2 > 0)
        for (size_t l = 0; l < r->S.model.n_layers; l++) L = nb_add(g, L, nb_l2(g, r->layer[l].W, r->S.loss.l2));
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
    return r->S.loss.sum ? J / (double)n : J;
}

/* The class an output row o (k values) predicts: argmax over outputs; a
 * single output is class 1 above 0.5 (probabilities) or above 0 (logits). */
static size_t predict(const run *r, const double *o)
{
    if (r->k == 1) {
        int logits = r->S.loss.op == &nb_op_bce_logits ||
                     strcmp(r->layer[r->S.model.n_layers - 1].act->name, "identity") == 0;
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

/* The first line of costs.csv: the columns this run writes. */
static void costs_header_text(const run *r, char *buf, size_t len)
{
    snprintf(buf, len, "step,epoch,cost%s%s%s%s\n", r->S.log.accuracy ? ",accuracy" : "",
             r->S.log.mae ? ",mae" : "", r->val.n ? ",val_cost,val_accuracy" : "",
             r->test.n ? ",test_cost,test_accuracy" : "");
}

static const char gc_header[] = "step,verdict,directions,failed,worst_ratio\n";

static int costs_row(run *r, double cost, double acc, double mae, const double *vt)
{
    nb_fprintf(r->costs, "%zu,%zu,%.17g", r->step, r->epoch, cost);
    if (r->S.log.accuracy) nb_fprintf(r->costs, ",%.17g", acc);
    if (r->S.log.mae) nb_fprintf(r->costs, ",%.17g", mae);
    if (r->val.n) nb_fprintf(r->costs, ",%.17g,%.17g", vt[0], vt[1]);
    if (r->test.n) nb_fprintf(r->costs, ",%.17g,%.17g", vt[2], vt[3]);
    fputc('\n', r->costs);
    r->last_cost = cost;
    r->final_metric[0] = cost;
    r->final_metric[1] = acc;
    r->final_metric[5] = mae;
    if (r->val.n) r->final_metric[2] = vt[0], r->final_metric[3] = vt[1];
    if (r->test.n) r->final_metric[4] = vt[3];
    return log_check(r, r->costs, "costs.csv");
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
                r->S.train.epochs, r->step, r->steps_total, r->last_cost, rate, (int)(left / 60),
                (int)fmod(left, 60));
    } else {
        nb_fprintf(log, "epoch %zu/%zu step %zu/%zu cost %.6g (%.0f steps/s)\n", r->epoch, r->S.train.epochs,
                r->step, r->steps_total, r->last_cost, rate);
    }
    fflush(log);
}

/* ---- checkpoints ------------------------------------------------------- */

/* Batch size B and steps per epoch of this run (full: one batch of all). */
static size_t steps_per_epoch(const run *r, size_t *B_out, int *full_out)
{
    size_t n = r->train.n, batch = r->S.train.batch_size;
    size_t B = batch ? (batch < n ? batch : n) : n;
    if (B_out) *B_out = B;
    if (full_out) *full_out = B == n && (!batch || batch >= n);
    return (n + B - 1) / B;
}

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
    /* The logs are on disk up to the lengths recorded (flush + fsync), or
     * there is no checkpoint. */
    int logs_ok = fflush(r->costs) == 0 && fsync(fileno(r->costs)) == 0;
    if (r->gclog) logs_ok = logs_ok && fflush(r->gclog) == 0 && fsync(fileno(r->gclog)) == 0;
    long costs_len = ftell(r->costs), gc_len = r->gclog ? ftell(r->gclog) : 0;
    if (!logs_ok || costs_len < 0 || gc_len < 0) {
        nb_archive_free(ar);
        return fail(r, NB_EIO, "checkpoint: the logs could not be written to disk: %s", strerror(errno ? errno : EIO));
    }
    double counters[CK_COUNT] = { (double)r->step, (double)r->epoch, (double)costs_len, (double)gc_len,
                                  isfinite(r->best_val) ? r->best_val : DBL_MAX, (double)r->bad_epochs,
                                  (double)r->have_best, r->last_cost };
    if (st == NB_OK) st = nb_archive_put(ar, "state", 1, CK_COUNT, counters);
    if (st == NB_OK && r->have_best)
        st = nb_archive_put(ar, "best", 1, nb_graph_param_size(r->g), r->best_params);
    if (st == NB_OK) st = nb_archive_put_str(ar, "kind", "nabla-checkpoint");
    char path[PATH_MAX];
    nb_error ae;
    nb_error_clear(&ae);
    path_join(path, sizeof path, r->dir, "checkpoint.nbk");
    if (st == NB_OK) st = nb_archive_write(ar, path, &ae);
    nb_archive_free(ar);
    if (st != NB_OK) return fail(r, st, "checkpoint: %s", ae.status ? ae.msg : nb_strerror(st));
    r->last_ckpt_step = r->step;
    return NB_OK;
}

/* v is a whole number in [0, max]: finite, integral, in range, so that a
 * cast to size_t is defined. */
static int counter_ok(double v, double max)
{
    return isfinite(v) && v >= 0 && v <= max && v == floor(v);
}

/* A log of the run, checked against the length a checkpoint records for
 * it: the file exists, is at least that long, starts with the header this
 * run writes, and the recorded length ends a line. */
static int check_log(run *r, const char *ck, const char *name, const char *header, double len)
{
    char p[PATH_MAX], e1[NB_ERROR_ECHO_LEN];
    path_join(p, sizeof p, r->dir, name);
    long long size = file_size(p);
    size_t hl = strlen(header);
    if (size < 0)
        return fail(r, NB_EFORMAT, "resume: %s records %s but '%s' is missing: the run directory is incomplete",
                    ck, name, esc(e1, sizeof e1, p));
    if (!counter_ok(len, (double)LONG_MAX) || len < (double)hl)
        return fail(r, NB_EFORMAT, "resume: %s: recorded length of %s (%.17g) is not a byte count of at least %zu",
                    ck, name, len, hl);
    if (len > (double)size)
        return fail(r, NB_EFORMAT,
                    "resume: %s records %.0f bytes of %s but the file has %lld: the log was cut after the "
                    "checkpoint; nothing changed",
                    ck, len, name, size);
    FILE *f = fopen(p, "rb");
    if (!f) return fail(r, NB_EIO, "resume: %s: %s", esc(e1, sizeof e1, p), strerror(errno));
    char buf[512];
    size_t got = fread(buf, 1, hl < sizeof buf ? hl : sizeof buf, f);
    int last = -1;
    if (fseeko(f, (off_t)len - 1, SEEK_SET) == 0) last = getc(f);
    fclose(f);
    if (got != hl || memcmp(buf, header, hl) != 0)
        return fail(r, NB_EFORMAT, "resume: '%s' does not start with the columns this run writes (%.*s)",
                    esc(e1, sizeof e1, p), (int)(hl - 1), header);
    if (last != '\n')
        return fail(r, NB_EFORMAT, "resume: %s records %.0f bytes of %s, which is not the end of a row", ck, len, name);
    return NB_OK;
}

/* Reads and checks the checkpoint of an unfinished run; nothing is changed
 * (no file, no state) unless every part of it is consistent with this run
 * and with the files in the run directory. */
static int restore(run *r, long *costs_len, long *gc_len)
{
    char path[PATH_MAX], ck[PATH_MAX + 16], e1[NB_ERROR_ECHO_LEN];
    nb_error ae;
    nb_error_clear(&ae);
    path_join(path, sizeof path, r->dir, "checkpoint.nbk");
    snprintf(ck, sizeof ck, "%s", esc(e1, sizeof e1, path));
    *costs_len = *gc_len = -1;
    if (!file_exists(path)) return NB_OK;   /* killed before the first checkpoint: start over */
    if (r->S.optimizer.bfgs)
        return fail(r, NB_EFORMAT, "resume: %s: bfgs runs are not checkpointed, so this checkpoint is not this run's", ck);
    nb_archive *ar = NULL;
    int st = nb_archive_read(path, &ar, &ae);
    if (st != NB_OK) return fail(r, st, "resume: %s", nb_error_message(&ae));
    size_t rrows = 0, rcols = 0, crows = 0, ccols = 0;
    const char *kind = nb_archive_get_str(ar, "kind");
    const double *rs = nb_archive_get(ar, "rng", &rrows, &rcols);
    const double *c = nb_archive_get(ar, "state", &crows, &ccols);
    size_t brows = 0, bcols = 0;
    const double *best = nb_archive_get(ar, "best", &brows, &bcols);
    /* Counters against the run they claim to belong to. */
    size_t nb = steps_per_epoch(r, NULL, NULL), E = r->S.train.epochs;
    double max_steps = (double)nb * (double)E;
    if (!kind || strcmp(kind, "nabla-checkpoint") != 0)
        st = fail(r, NB_EFORMAT, "resume: %s is not a nabla checkpoint", ck);
    else if (!rs || rrows != 1 || rcols != NB_RNG_MT_N + 3)
        st = fail(r, NB_EFORMAT, "resume: %s: no random stream state", ck);
    else if (!c || crows != 1 || ccols != CK_COUNT)
        st = fail(r, NB_EFORMAT, "resume: %s: no counters", ck);
    else if (!counter_ok(c[CK_EPOCH], (double)E))
        st = fail(r, NB_EFORMAT, "resume: %s: epoch %.17g is not a whole number in 0..%zu (train.epochs)", ck,
                  c[CK_EPOCH], E);
    else if (!counter_ok(c[CK_STEP], max_steps) || c[CK_STEP] != c[CK_EPOCH] * (double)nb)
        st = fail(r, NB_EFORMAT,
                  "resume: %s: step %.17g does not belong to this run (epoch %.17g x %zu steps per epoch, at most %.0f)",
                  ck, c[CK_STEP], c[CK_EPOCH], nb, max_steps);
    else if (!counter_ok(c[CK_BAD_EPOCHS], c[CK_EPOCH]) ||
             (r->S.train.patience ? c[CK_BAD_EPOCHS] > (double)r->S.train.patience : c[CK_BAD_EPOCHS] != 0))
        st = fail(r, NB_EFORMAT, "resume: %s: %.17g epochs without improvement is not possible in this run", ck,
                  c[CK_BAD_EPOCHS]);
    else if (!(c[CK_HAVE_BEST] == 0 || (c[CK_HAVE_BEST] == 1 && r->S.train.patience)))
        st = fail(r, NB_EFORMAT, "resume: %s: best-parameters flag %.17g is not possible in this run", ck,
                  c[CK_HAVE_BEST]);
    else if (c[CK_HAVE_BEST] == 1 && (!best || brows != 1 || bcols != nb_graph_param_size(r->g)))
        st = fail(r, NB_EFORMAT, "resume: %s: the best parameters (%zu of them) are missing", ck,
                  nb_graph_param_size(r->g));
    else if (!(isfinite(c[CK_BEST_VAL]) || c[CK_BEST_VAL] == DBL_MAX))
        st = fail(r, NB_EFORMAT, "resume: %s: best validation cost %.17g is not finite", ck, c[CK_BEST_VAL]);
    if (st == NB_OK) {
        for (size_t i = 0; i < NB_RNG_MT_N && st == NB_OK; i++)
            if (!counter_ok(rs[i], 4294967295.0))
                st = fail(r, NB_EFORMAT, "resume: %s: random stream word %zu (%.17g) is not a 32-bit word", ck, i, rs[i]);
        if (st == NB_OK && (!counter_ok(rs[NB_RNG_MT_N], NB_RNG_MT_N) || !counter_ok(rs[NB_RNG_MT_N + 1], 1) ||
                            !isfinite(rs[NB_RNG_MT_N + 2])))
            st = fail(r, NB_EFORMAT, "resume: %s: random stream position is out of range", ck);
    }
    /* The logs the counters describe. */
    char header[256];
    costs_header_text(r, header, sizeof header);
    if (st == NB_OK) st = check_log(r, ck, "costs.csv", header, c[CK_COSTS_LEN]);
    if (st == NB_OK) {
        if (r->S.log.gradcheck_every) st = check_log(r, ck, "gradcheck.log", gc_header, c[CK_GC_LEN]);
        else if (c[CK_GC_LEN] != 0)
            st = fail(r, NB_EFORMAT, "resume: %s records a gradcheck.log length of %.17g but this run keeps none", ck,
                      c[CK_GC_LEN]);
    }
    /* The parts restored by their owners check themselves first. */
    if (st == NB_OK && r->optim && (st = nb_optim_restore(r->optim, ar, "optim/", &ae)) != NB_OK)
        fail(r, st, "resume: %s: %s", ck, nb_error_message(&ae));
    if (st == NB_OK && (st = nb_model_get(r->g, ar, "param/", &ae)) != NB_OK)
        fail(r, st, "resume: %s: %s", ck, nb_error_message(&ae));
    if (st == NB_OK) {
        for (size_t i = 0; i < NB_RNG_MT_N; i++) r->rng.mt[i] = (uint32_t)rs[i];
        r->rng.left = (int)rs[NB_RNG_MT_N];
        r->rng.has_gauss = (int)rs[NB_RNG_MT_N + 1];
        r->rng.gauss = rs[NB_RNG_MT_N + 2];
        r->step = (size_t)c[CK_STEP];
        r->epoch = (size_t)c[CK_EPOCH];
        *costs_len = (long)c[CK_COSTS_LEN];
        *gc_len = r->S.log.gradcheck_every ? (long)c[CK_GC_LEN] : -1;
        r->best_val = c[CK_BEST_VAL] == DBL_MAX ? INFINITY : c[CK_BEST_VAL];
        r->bad_epochs = (size_t)c[CK_BAD_EPOCHS];
        r->have_best = (int)c[CK_HAVE_BEST];
        /* checkpointed in the epoch that ran out of patience: stop as the
         * uninterrupted run did */
        r->stopped_early = r->S.train.patience && r->bad_epochs >= r->S.train.patience;
        r->last_cost = c[CK_LAST_COST];
        if (r->have_best) memcpy(r->best_params, best, bcols * sizeof(double));
        r->last_ckpt_step = r->step;
        r->resumed_from = r->step;
    }
    nb_archive_free(ar);
    return st;
}

/* ---- gradient check during training ------------------------------------ */

static int gradcheck_due(const run *r)
{
    return r->S.log.gradcheck_every && r->step % r->S.log.gradcheck_every == 0 && r->gclog;
}

static int maybe_gradcheck(run *r, nb_node *loss)
{
    if (!gradcheck_due(r)) return NB_OK;
    nb_gradcheck_opts o;
    nb_gradcheck_opts_init(&o);
    o.mode = NB_GC_DIRECTIONAL;
    o.seed = r->S.experiment.seed * 1000003ul + r->step;   /* its own stream: training is unaffected */
    nb_gradcheck_report rep;
    int st = nb_gradcheck_graph(r->g, loss, &o, &rep);
    if (st == NB_ENOMEM) {   /* an "error" row would pass a run whose check never happened */
        fail(r, st, "step %zu: gradient check: %s", r->step, rep.error[0] ? rep.error : nb_strerror(st));
        nb_gradcheck_report_free(&rep);
        return st;
    }
    if (st == NB_OK)
        nb_fprintf(r->gclog, "%zu,%s,%zu,%zu,%.6g\n", r->step, rep.passed ? "pass" : "FAIL", rep.n_checked,
                rep.n_failed, rep.worst_ratio);
    else
        nb_fprintf(r->gclog, "%zu,error,0,0,0 # %s\n", r->step, rep.error);
    nb_gradcheck_report_free(&rep);
    return log_check(r, r->gclog, "gradcheck.log");
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
    if (log_row && (st = costs_row(r, epoch_cost, acc, mae, vt)) != NB_OK) return st;
    if (r->S.train.patience && r->val.n) {
        if (vt[0] < r->best_val) {
            r->best_val = vt[0];
            r->bad_epochs = 0;
            snapshot_params(r, r->best_params, 1);
            r->have_best = 1;
        } else if (++r->bad_epochs >= r->S.train.patience) {
            r->stopped_early = 1;
        }
    }
    return NB_OK;
}

static int train_loop(run *r)
{
    size_t n = r->train.n, d = r->train.d, k = r->k;
    size_t B;
    int full;
    size_t nb = steps_per_epoch(r, &B, &full);
    r->steps_total = r->S.train.epochs * nb;
    size_t *perm = malloc(n * sizeof *perm), *lb = full ? NULL : malloc(B * sizeof *lb);
    /* Images that are still bytes times the scale are gathered from bytes
     * (nb_input_rows_u8): the same doubles from an eighth of the memory.
     * Only worth it, and only tried, for mini-batches of larger data. */
    unsigned char *x8 = NULL;
    int st = NB_OK;
    if (perm && lb && n * d >= ((size_t)1 << 20))
        st = nb_dataset_to_bytes(&r->train, r->S.data.scale, &x8);
    if (!perm || (!full && !lb) || st == NB_ENOMEM) {
        free(perm), free(lb);
        return fail(r, NB_ENOMEM, "training: out of memory");
    }
    st = NB_OK;
    double te = now_seconds();
    while (r->epoch < r->S.train.epochs && !r->stopped_early) {
        for (size_t i = 0; i < n; i++) perm[i] = i;
        if (!full && r->S.train.shuffle) nb_rng_shuffle(&r->rng, perm, n);
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
                x = x8 ? nb_input_rows_u8(r->g, x8, r->S.data.scale, n, d, perm + lo, m)
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
            if (r->S.log.accuracy || r->S.log.mae) batch_metrics(r, nb_node_cvalue(out), T, labels, m, &acc, &mae);
            r->last_cost = cost;
            if (full && r->step % r->S.log.every == 0) {
                double vt[4] = { NAN, NAN, NAN, NAN };
                if ((st = costs_row(r, cost, acc, mae, vt)) != NB_OK) goto done;
            }
            ecost += cost * (double)m, eacc += acc * (double)m, emae += mae * (double)m;
            nb_error oerr;
            nb_error_clear(&oerr);
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
                fail(r, st, "step %zu: optimizer: %s", r->step, nb_error_message(&oerr));
                goto done;
            }
            r->step++;
            progress(r, 0);
            if (r->opts->stop_after && r->step >= r->opts->stop_after) goto done;
        }
        r->epoch++;
        int log_row = !full && r->epoch % r->S.log.every == 0;
        if (!full || r->val.n || r->test.n || r->S.train.patience) {
            st = epoch_end(r, ecost / (double)n, eacc / (double)n, emae / (double)n, log_row);
            if (st != NB_OK) goto done;
        }
        if (r->timing) {
            double t = now_seconds();
            if (!full || r->epoch % 1000 == 0 || r->epoch == r->S.train.epochs) {
                nb_fprintf(r->timing, "epoch %zu step %zu seconds %.6f\n", r->epoch, r->step, t - te);
                if ((st = log_check(r, r->timing, "timing.log")) != NB_OK) goto done;
                te = t;
            }
        }
        if (r->step - r->last_ckpt_step >= r->S.train.checkpoint_every && r->epoch < r->S.train.epochs &&
            (st = checkpoint(r)) != NB_OK)
            goto done;
    }
    if (r->stopped_early && r->have_best) snapshot_params(r, r->best_params, 0);
    /* The row after the last update (full batch). */
    if (full && r->step % r->S.log.every == 0) {
        double cost, acc, mae, vt[4] = { NAN, NAN, NAN, NAN };
        if ((st = evaluate(r, &r->train, r->T, &cost, &acc, &mae)) != NB_OK) goto done;
        st = costs_row(r, cost, acc, mae, vt);
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
    r->steps_total = r->S.train.epochs;
    double tol = r->S.optimizer.bfgs_tol;
    if (gsl_multimin_fdfminimizer_set(s, &F, x, 0.01, 0.1) != GSL_SUCCESS) {
        st = fail(r, NB_EGSL, "bfgs: could not start (objective not finite at the initial point?)");
        goto done;
    }
    for (;;) {
        double cost, acc, mae, vt[4] = { NAN, NAN, NAN, NAN };
        params_from(r, s->x);
        if ((st = evaluate(r, &r->train, r->T, &cost, &acc, &mae)) != NB_OK) goto done;
        int converged = gsl_multimin_test_gradient(s->gradient, tol) == GSL_SUCCESS;
        if ((r->step % r->S.log.every == 0 || converged || r->step == r->S.train.epochs) &&
            (st = costs_row(r, cost, acc, mae, vt)) != NB_OK)
            goto done;
        if (converged || r->step == r->S.train.epochs) break;
        int gs = gsl_multimin_fdfminimizer_iterate(s);
        r->step++;
        r->epoch = r->step;
        progress(r, 0);
        if (gs == GSL_ENOPROG) {   /* no further progress possible: at the optimum to precision */
            params_from(r, s->x);
            if ((st = evaluate(r, &r->train, r->T, &cost, &acc, &mae)) != NB_OK) goto done;
            if ((st = costs_row(r, cost, acc, mae, vt)) != NB_OK) goto done;
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
    mtext m, *f = &m;
    if (mt_open(f) != 0) return fail(r, NB_ENOMEM, "results.txt: out of memory");
    mt_printf(f, "# nabla run: %s, seed %lu\n", r->S.experiment.name, r->S.experiment.seed);
    mt_printf(f, "steps = %zu\nepochs = %zu\nfinal_cost = %.17g\n", r->step, r->epoch, r->final_metric[0]);
    if (r->S.log.accuracy) mt_printf(f, "train_accuracy = %.17g\n", r->final_metric[1]);
    if (r->S.log.mae) mt_printf(f, "train_mae = %.17g\n", r->final_metric[5]);
    if (r->val.n) mt_printf(f, "val_cost = %.17g\nval_accuracy = %.17g\n", r->final_metric[2], r->final_metric[3]);
    if (r->test.n) mt_printf(f, "test_accuracy = %.17g\n", r->final_metric[4]);
    if (r->stopped_early) mt_printf(f, "stopped_early = true\n");
    /* Outputs on the training inputs (small data sets). */
    if (r->train.n * r->k <= 4096) {
        nb_graph_reset(r->g);
        nb_node *out, *L = build_loss(r, r->train.x, r->T, r->train.n, &out);
        if (L) {
            mt_printf(f, "\n[outputs]  # network outputs on the training inputs, one row per example\n");
            for (size_t i = 0; i < r->train.n; i++) {
                for (size_t j = 0; j < r->k; j++)
                    mt_printf(f, "%s%.17g", j ? " " : "", nb_node_cvalue(out)[i * r->k + j]);
                mt_printf(f, "%c", '\n');
            }
        }
    }
    mt_printf(f, "\n[parameters]\n");
    for (size_t p = 0; p < nb_graph_param_count(r->g); p++) {
        nb_node *pn = nb_graph_param_at(r->g, p);
        size_t rows = nb_node_rows(pn), cols = nb_node_cols(pn);
        mt_printf(f, "%s (%zux%zu)", nb_node_name(pn), rows, cols);
        if (rows * cols > 4096) {
            double s = 0;
            for (size_t i = 0; i < rows * cols; i++) s += nb_node_value(pn)[i] * nb_node_value(pn)[i];
            mt_printf(f, ": %zu values, norm %.17g (all values in model.nbm)\n", rows * cols, sqrt(s));
            continue;
        }
        mt_printf(f, "%c", '\n');
        for (size_t i = 0; i < rows; i++) {
            for (size_t j = 0; j < cols; j++) mt_printf(f, "%s%.17g", j ? " " : "", nb_node_value(pn)[i * cols + j]);
            mt_printf(f, "%c", '\n');
        }
    }
    int st = mt_end(r, f, "results.txt");
    if (st == NB_OK) st = write_atomic(r, "results.txt", f->buf, f->len);
    free(f->buf);
    return st;
}

static int write_meta(run *r, const char *status)
{
    char path[512], now[32];
    mtext m, *f = &m;
    if (mt_open(f) != 0) return fail(r, NB_ENOMEM, "meta.json: out of memory");
    utc_now(now, sizeof now);
    nb_json j;
    nb_json_init(&j, f->f, 0);
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
    nb_json_uint(&j, r->S.experiment.seed);
    nb_json_key(&j, "experiment");
    nb_json_string(&j, r->S.experiment.name);
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
    if (r->S.log.accuracy) nb_json_key(&j, "accuracy"), nb_json_number(&j, r->final_metric[1]);
    if (r->S.log.mae) nb_json_key(&j, "mae"), nb_json_number(&j, r->final_metric[5]);
    if (r->val.n) {
        nb_json_key(&j, "val_cost"), nb_json_number(&j, r->final_metric[2]);
        nb_json_key(&j, "val_accuracy"), nb_json_number(&j, r->final_metric[3]);
    }
    if (r->test.n) nb_json_key(&j, "test_accuracy"), nb_json_number(&j, r->final_metric[4]);
    nb_json_end_object(&j);
    nb_json_end_object(&j);
    if (nb_json_finish(&j) != NB_OK) f->bad = 1;
    int st = mt_end(r, f, "meta.json");
    if (st == NB_OK) st = write_atomic(r, "meta.json", f->buf, f->len);
    free(f->buf);
    return st;
}

/* The plot files, then gnuplot on them.  A failed allocation or write is
 * an error of the run; gnuplot itself failing (a bad terminal, say) is
 * noted in plot.txt, not an error: the scripts are there to run by hand. */
static int plot(run *r)
{
    char script[2048], name[2 * 200 + 4];
    /* The name goes inside gnuplot's quotes: a quote in it would end the
     * string and the script with it. */
    nbi_gnuplot_text(name, r->S.experiment.name, 200);
    int n = snprintf(script, sizeof script,
                     "# gnuplot script: the cost curve of this run (gnuplot cost.gp)\n"
                     "set terminal pngcairo size 900,560 noenhanced\n"
                     "set output 'cost.png'\n"
                     "set datafile separator ','\n"
                     "set title 'nabla run %s (seed %lu)'\n"
                     "set xlabel 'step'\nset ylabel 'cost per example'\n"
                     "set logscale y\nset grid\n"
                     "plot 'costs.csv' using 1:3 skip 1 with lines lw 2 title 'cost'\n",
                     name, r->S.experiment.seed);
    if (n < 0 || (size_t)n >= sizeof script) return fail(r, NB_ERANGE, "cost.gp: experiment.name is too long");
    int st = write_atomic(r, "cost.gp", script, (size_t)n);
    if (st != NB_OK) return st;
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
        mtext m, *f = &m;
        if (!grid || !tg || mt_open(f) != 0) {
            free(grid);
            free(tg);
            return fail(r, NB_ENOMEM, "boundary.dat: out of memory");
        }
        for (size_t a = 0; a < G; a++)
            for (size_t b = 0; b < G; b++) {
                grid[(a * G + b) * 2] = lo[0] - 0.5 + (hi[0] - lo[0] + 1.0) * (double)b / (double)(G - 1);
                grid[(a * G + b) * 2 + 1] = lo[1] - 0.5 + (hi[1] - lo[1] + 1.0) * (double)a / (double)(G - 1);
            }
        nb_graph_reset(r->g);
        nb_node *out, *L = build_loss(r, grid, tg, G * G, &out);
        if (!L) st = fail(r, nb_graph_status(r->g), "boundary.dat: %s", nb_graph_errmsg(r->g));
        for (size_t i = 0; L && i < G * G; i++) {
            size_t pred = predict(r, nb_node_cvalue(out) + i * r->k);
            mt_printf(f, "%.6g %.6g %zu\n", grid[i * 2], grid[i * 2 + 1], pred);
            if ((i + 1) % G == 0) mt_printf(f, "%c", '\n');
        }
        mt_printf(f, "\n\n");
        for (size_t i = 0; i < r->train.n; i++)
            mt_printf(f, "%.9g %.9g %zu\n", r->train.x[i * 2], r->train.x[i * 2 + 1], r->train.label[i]);
        int mst = mt_end(r, f, "boundary.dat");
        if (st == NB_OK) st = mst;
        if (st == NB_OK) st = write_atomic(r, "boundary.dat", f->buf, f->len);
        free(f->buf);
        free(grid);
        free(tg);
        if (st != NB_OK) return st;
        n = snprintf(script, sizeof script,
                     "# gnuplot script: decision boundary and training points (gnuplot boundary.gp)\n"
                     "set terminal pngcairo size 760,640 noenhanced\n"
                     "set output 'boundary.png'\n"
                     "set title 'nabla run %s: decision boundary'\n"
                     "set view map\nunset colorbox\nset palette defined (0 '#fde0c5', 1 '#c6dbef', 2 '#d9f0d3', 3 '#e7d4e8')\n"
                     "plot 'boundary.dat' index 0 using 1:2:3 with image notitle, \\\n"
                     "     'boundary.dat' index 1 using 1:2:3 with points pt 7 ps 0.7 lc variable notitle\n",
                     name);
        if (n < 0 || (size_t)n >= sizeof script) return fail(r, NB_ERANGE, "boundary.gp: experiment.name is too long");
        if ((st = write_atomic(r, "boundary.gp", script, (size_t)n)) != NB_OK) return st;
    }
    char exe[PATH_MAX];
    if (!nbi_find_program("gnuplot", exe, sizeof exe)) {
        const char *note = "gnuplot is not installed: no PNG was made.\n"
                           "Install it (apt-get install gnuplot-nox) and run `gnuplot cost.gp` here.\n";
        return write_atomic(r, "plot.txt", note, strlen(note));
    }
    const char *scripts[2] = { "cost.gp", boundary ? "boundary.gp" : NULL };
    for (int s = 0; s < 2 && scripts[s]; s++) {
        int sp = nbi_gnuplot(exe, r->dir, scripts[s]);
        if (sp == -ENOMEM) return fail(r, NB_ENOMEM, "gnuplot %s: %s", scripts[s], strerror(ENOMEM));
        if (sp != 0) {
            char note[256];
            n = snprintf(note, sizeof note, "gnuplot failed on %s: no PNG was made from it.\n", scripts[s]);
            return write_atomic(r, "plot.txt", note, (size_t)n);
        }
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
    char path[PATH_MAX], e1[NB_ERROR_ECHO_LEN];
    if (o->resume) {
        if (!o->out_dir || !o->out_dir[0]) return fail(r, NB_EINVAL, "resume: no run directory given");
        path_join(path, sizeof path, o->out_dir, "config.conf");
        if (!path[0]) return fail(r, NB_EINVAL, "resume: '%s': path too long", esc(e1, sizeof e1, o->out_dir));
        if (o->n_sets || o->has_seed)
            return fail(r, NB_EINVAL, "resume: --set and --seed cannot change a run being resumed");
    } else {
        if (!o->config_path) return fail(r, NB_EINVAL, "run: no config file given");
        if (snprintf(path, sizeof path, "%s", o->config_path) >= (int)sizeof path)
            return fail(r, NB_EINVAL, "run: config path too long");
    }
    int st;
    if (!o->resume) {
        if ((st = nb_config_load(r->cfg, path, r->err)) != NB_OK) return st;
        for (size_t i = 0; i < o->n_sets; i++)
            if ((st = nb_config_set(r->cfg, o->sets[i], r->err)) != NB_OK) return st;
        if (o->has_seed) {
            char a[64];
            snprintf(a, sizeof a, "experiment.seed=%lu", o->seed);
            if ((st = nb_config_set(r->cfg, a, r->err)) != NB_OK) return st;
        }
        /* Relative data paths are relative to the original config file. */
        const char *slash = strrchr(o->config_path, '/');
        if (slash) snprintf(r->cfgdir, sizeof r->cfgdir, "%.*s", (int)(slash - o->config_path), o->config_path);
        if ((st = nb_config_validate(r->cfg, r->err)) != NB_OK) return st;
        if ((st = nbi_run_spec_fill(r->cfg, r->cfgdir, &r->S, r->err)) != NB_OK) return st;
        if (o->out_dir) snprintf(r->dir, sizeof r->dir, "%s", o->out_dir);
        else snprintf(r->dir, sizeof r->dir, "runs/%s-seed%lu", r->S.experiment.name, r->S.experiment.seed);
        return NB_OK;
    }
    /* A resumed run keeps its directory and the config directory recorded
     * at its start; the spec is filled once the directory is known to hold
     * an unfinished run (see run_dir_state). */
    snprintf(r->dir, sizeof r->dir, "%s", o->out_dir);
    char p[PATH_MAX];
    path_join(p, sizeof p, o->out_dir, "config.dir");
    FILE *f = fopen(p, "r");
    if (f) {
        if (fgets(r->cfgdir, sizeof r->cfgdir, f)) r->cfgdir[strcspn(r->cfgdir, "\n")] = '\0';
        fclose(f);
    }
    return NB_OK;
}

/* What a directory holds, judged before anything is written to it. */
typedef enum dir_state {
    DIR_ABSENT,       /* nothing there: a new run may start */
    DIR_EMPTY,        /* an empty directory: likewise */
    DIR_UNFINISHED,   /* a nabla run that has not finished: --resume continues it */
    DIR_FINISHED,     /* a finished nabla run: left alone */
    DIR_INCOMPLETE,   /* a nabla run directory missing files it must have */
    DIR_FOREIGN,      /* anything else: never written into */
    DIR_UNREADABLE    /* cannot be looked at (errno says why) */
} dir_state;

/* The status recorded in DIR/meta.json ("running", "finished", "stopped
 * early"); "" when there is no nabla meta.json. */
static void meta_status(const char *dir, char *status, size_t len, char *started, size_t slen)
{
    char p[PATH_MAX], line[512];
    status[0] = '\0';
    if (started && slen) started[0] = '\0';
    path_join(p, sizeof p, dir, "meta.json");
    FILE *f = fopen(p, "r");
    if (!f) return;
    int nabla = 0;
    char buf[64];
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "\"nabla_version\":")) nabla = 1;
        if (sscanf(line, " \"status\": \"%63[^\"]\"", buf) == 1) snprintf(status, len, "%s", buf);
        if (started && sscanf(line, " \"started\": \"%31[^\"]\"", buf) == 1) snprintf(started, slen, "%.31s", buf);
    }
    fclose(f);
    if (!nabla) status[0] = '\0';
}

static dir_state run_dir_state(const char *dir, const char **missing, int *err_no)
{
    struct stat st;
    *missing = NULL;
    *err_no = 0;
    if (stat(dir, &st) != 0) {
        *err_no = errno;
        return errno == ENOENT ? DIR_ABSENT : DIR_UNREADABLE;
    }
    if (!S_ISDIR(st.st_mode)) return DIR_FOREIGN;
    DIR *d = opendir(dir);
    if (!d) {
        *err_no = errno;
        return DIR_UNREADABLE;
    }
    int empty = 1;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    if (empty) return DIR_EMPTY;
    char status[64], p[PATH_MAX];
    meta_status(dir, status, sizeof status, NULL, 0);
    int running = strcmp(status, "running") == 0;
    int done = strcmp(status, "finished") == 0 || strcmp(status, "stopped early") == 0;
    if (!running && !done) return DIR_FOREIGN;
    static const char *const must[] = { "config.conf", "costs.csv", "results.txt", "model.nbm" };
    for (size_t i = 0; i < (done ? 4u : 2u); i++) {
        path_join(p, sizeof p, dir, must[i]);
        if (!file_exists(p)) {
            *missing = must[i];
            return DIR_INCOMPLETE;
        }
    }
    return done ? DIR_FINISHED : DIR_UNFINISHED;
}

static int setup_training(run *r)
{
    r->best_val = INFINITY;
    if (r->S.optimizer.bfgs) return NB_OK;
    nb_error oerr;
    nb_error_clear(&oerr);
    r->optim = nb_optim_alloc(r->g, &r->S.optimizer.opts, &oerr);
    if (!r->optim) return fail(r, oerr.status == NB_ENOMEM ? NB_ENOMEM : NB_ECONFIG, "optimizer: %s", nb_error_message(&oerr));
    if (!r->S.optimizer.update_biases)
        for (size_t l = 0; l < r->S.model.n_layers; l++)
            if (r->layer[l].b) nb_optim_set_trainable(r->optim, nb_node_name(r->layer[l].b), 0, NULL);
    return NB_OK;
}

static int open_logs(run *r, long costs_len, long gc_len)
{
    char p[PATH_MAX], e1[NB_ERROR_ECHO_LEN], header[256];
    path_join(p, sizeof p, r->dir, "costs.csv");
    /* Lengths were checked against the files by restore(). */
    if (r->resumed && costs_len > 0) {
        if (truncate(p, costs_len) != 0) return fail(r, NB_EIO, "%s: %s", esc(e1, sizeof e1, p), strerror(errno));
        r->costs = fopen(p, "a");
    } else {
        r->costs = fopen(p, "w");
        if (r->costs) {
            costs_header_text(r, header, sizeof header);
            fputs(header, r->costs);
        }
    }
    if (!r->costs) return fail(r, NB_EIO, "%s: %s", esc(e1, sizeof e1, p), strerror(errno));
    int st = log_check(r, r->costs, "costs.csv");
    if (st != NB_OK) return st;
    if (r->S.log.gradcheck_every) {
        path_join(p, sizeof p, r->dir, "gradcheck.log");
        if (r->resumed && gc_len > 0) {
            if (truncate(p, gc_len) != 0) return fail(r, NB_EIO, "%s: %s", esc(e1, sizeof e1, p), strerror(errno));
            r->gclog = fopen(p, "a");
        } else {
            r->gclog = fopen(p, "w");
            if (r->gclog) fputs(gc_header, r->gclog);
        }
        if (!r->gclog) return fail(r, NB_EIO, "%s: %s", esc(e1, sizeof e1, p), strerror(errno));
        if ((st = log_check(r, r->gclog, "gradcheck.log")) != NB_OK) return st;
    }
    path_join(p, sizeof p, r->dir, "timing.log");
    r->timing = fopen(p, r->resumed ? "a" : "w");
    if (!r->timing)
        return fail(r, errno == ENOMEM ? NB_ENOMEM : NB_EIO, "%s: %s", esc(e1, sizeof e1, p), strerror(errno));
    return NB_OK;
}

/* Decides, before anything is written, whether this run may use its
 * directory.  *finished is set for a --resume of a finished run: the
 * caller then stops with success and changes nothing. */
static int claim_dir(run *r, int *finished)
{
    const nb_run_opts *o = r->opts;
    const char *missing;
    char e1[NB_ERROR_ECHO_LEN];
    const char *d = esc(e1, sizeof e1, r->dir);
    *finished = 0;
    int err_no;
    dir_state ds = run_dir_state(r->dir, &missing, &err_no);
    if (ds == DIR_UNREADABLE)
        return fail(r, o->resume ? NB_ESTATE : NB_EIO, "%srun directory '%s': %s", o->resume ? "resume: " : "", d,
                    strerror(err_no));
    if (!o->resume) {
        switch (ds) {
        case DIR_ABSENT:
        case DIR_EMPTY:
            return NB_OK;
        case DIR_UNFINISHED:
            return fail(r, NB_ESTATE, "run directory '%s' already holds an unfinished run: continue it with "
                        "--resume %s, or choose another --out", d, d);
        case DIR_FINISHED:
            return fail(r, NB_ESTATE, "run directory '%s' already holds a finished run (left untouched): choose "
                        "another --out (--resume continues only unfinished runs)", d);
        case DIR_INCOMPLETE:
            return fail(r, NB_ESTATE, "run directory '%s' holds an incomplete nabla run (no %s): left untouched; "
                        "choose another --out or remove it", d, missing);
        default:
            return fail(r, NB_ESTATE, "'%s' exists and is not an empty directory or a nabla run: refusing to "
                        "write into it; choose another --out (or a new directory)", d);
        }
    }
    switch (ds) {
    case DIR_UNFINISHED:
        return NB_OK;
    case DIR_FINISHED:
        *finished = 1;
        return NB_OK;
    case DIR_INCOMPLETE:
        return fail(r, NB_ESTATE, "resume: '%s' is an incomplete run directory (no %s): it cannot be resumed; "
                    "start the run again in a new directory", d, missing);
    default:
        return fail(r, NB_ESTATE, "resume: '%s' holds no run (no nabla meta.json with a status)", d);
    }
}

static int experiment_run(run *r)
{
    const nb_run_opts *o = r->opts;
    int st = setup_config(r);
    if (st != NB_OK) return st;
    int finished;
    if ((st = claim_dir(r, &finished)) != NB_OK) return st;
    if (finished) {
        char status[64];
        meta_status(r->dir, status, sizeof status, NULL, 0);
        if (o->log) {
            char e1[NB_ERROR_ECHO_LEN];
            nb_fprintf(o->log, "nabla run: '%s' is already %s: nothing to resume, nothing changed\n",
                    esc(e1, sizeof e1, r->dir), status);
        }
        return NB_OK;
    }
    char p[PATH_MAX];
    if (o->resume) {
        path_join(p, sizeof p, r->dir, "config.conf");
        if ((st = nb_config_load(r->cfg, p, r->err)) != NB_OK ||
            (st = nb_config_validate(r->cfg, r->err)) != NB_OK ||
            (st = nbi_run_spec_fill(r->cfg, r->cfgdir, &r->S, r->err)) != NB_OK)
            return st;
    }
    /* Everything the run needs, and every check of the data against the
     * model, before the first byte is written. */
    nb_rng_seed(&r->rng, (uint32_t)r->S.experiment.seed);
    if ((st = load_data(r)) != NB_OK) return st;
    if ((st = build_model(r)) != NB_OK) return st;
    /* Inline data brings its targets; labelled data gets them made here. */
    if (!r->T && (st = make_targets(r, &r->train, &r->T)) != NB_OK) return st;
    if ((st = make_targets(r, &r->val, &r->Tval)) != NB_OK) return st;
    if ((st = make_targets(r, &r->test, &r->Ttest)) != NB_OK) return st;
    if ((st = setup_training(r)) != NB_OK) return st;
    r->best_params = calloc(nb_graph_param_size(r->g), sizeof(double));
    if (!r->best_params) return fail(r, NB_ENOMEM, "out of memory");
    long costs_len = -1, gc_len = -1;
    char e1[NB_ERROR_ECHO_LEN];
    if (o->resume) {
        r->resumed = 1;
        if ((st = restore(r, &costs_len, &gc_len)) != NB_OK) return st;
        meta_status(r->dir, (char[64]){ 0 }, 64, r->started, sizeof r->started);   /* keep the start time */
        if (!r->started[0]) utc_now(r->started, sizeof r->started);
    } else {
        if (mkdir_p(r->dir) != 0)
            return fail(r, NB_EIO, "run directory '%s': %s", esc(e1, sizeof e1, r->dir), strerror(errno));
        utc_now(r->started, sizeof r->started);
        /* meta.json first: it marks the directory as a nabla run */
        if ((st = write_meta(r, "running")) != NB_OK) return st;
        path_join(p, sizeof p, r->dir, "config.conf");
        if ((st = nb_config_save(r->cfg, p, r->err)) != NB_OK) return st;
        if ((st = write_atomic(r, "config.dir", r->cfgdir, strlen(r->cfgdir))) != NB_OK) return st;
    }
    if ((st = open_logs(r, costs_len, gc_len)) != NB_OK) return st;
    if ((st = write_meta(r, "running")) != NB_OK) return st;
    r->bar = o->progress == NB_PROGRESS_BAR || (o->progress == NB_PROGRESS_AUTO && o->log && isatty(fileno(o->log)));
    r->t_start = r->t_last_print = now_seconds();
    if (o->log && !o->resume)
        nb_fprintf(o->log, "nabla run %s: seed %lu, %zu training examples, %zu parameters -> %s\n",
                r->S.experiment.name, r->S.experiment.seed, r->train.n, nb_graph_param_size(r->g),
                esc(e1, sizeof e1, r->dir));
    else if (o->log)
        nb_fprintf(o->log, "nabla run %s: resuming at step %zu (epoch %zu) in %s\n", r->S.experiment.name, r->step,
                r->epoch, esc(e1, sizeof e1, r->dir));
    gsl_error_handler_t *saved = gsl_set_error_handler_off();
    st = r->S.optimizer.bfgs ? bfgs_loop(r) : train_loop(r);
    gsl_set_error_handler(saved);
    if (st != NB_OK) return st;
    if (o->stop_after && r->step >= o->stop_after && r->epoch < r->S.train.epochs && !r->stopped_early) {
        if (o->log) nb_fprintf(o->log, "nabla run: stopped after %zu steps as asked\n", r->step);
        return NB_OK;
    }
    /* The logs are complete on disk before the results claim the run. */
    if (fflush(r->costs) != 0 || fsync(fileno(r->costs)) != 0)
        return fail(r, NB_EIO, "%s/costs.csv: %s", esc(e1, sizeof e1, r->dir), strerror(errno));
    if ((st = write_results(r)) != NB_OK) return st;
    nb_error me;
    nb_error_clear(&me);
    path_join(p, sizeof p, r->dir, "model.nbm");
    if ((st = nb_model_save(r->g, p, &me)) != NB_OK) return fail(r, st, "model.nbm: %s", nb_error_message(&me));
    if (r->S.log.plot && (st = plot(r)) != NB_OK) return st;
    path_join(p, sizeof p, r->dir, "checkpoint.nbk");
    if (remove(p) != 0 && errno != ENOENT)   /* finished: nothing to resume */
        return fail(r, NB_EIO, "%s: %s", esc(e1, sizeof e1, p), strerror(errno));
    if ((st = write_meta(r, r->stopped_early ? "stopped early" : "finished")) != NB_OK) return st;
    if (o->log)
        nb_fprintf(o->log, "nabla run %s: done, %zu steps, final cost %.9g%s -> %s\n", r->S.experiment.name, r->step,
                r->final_metric[0], r->stopped_early ? " (stopped early)" : "", esc(e1, sizeof e1, r->dir));
    return NB_OK;
}

int nb_experiment_run(const nb_run_opts *o, nb_error *out_err)
{
    if (!o) return nb_error_set(out_err, NB_EINVAL, "nb_experiment_run: NULL options");
    nb_error err;   /* the run's own: out_err may be NULL */
    nb_error_clear(&err);
    run *r = calloc(1, sizeof *r);
    if (!r) return nb_error_set(out_err, NB_ENOMEM, "run: out of memory");
    r->opts = o;
    r->err = &err;
    int st = experiment_run(r);
    if (r->costs && fclose(r->costs) != 0 && st == NB_OK) st = fail(r, NB_EIO, "costs.csv: %s", strerror(errno));
    if (r->gclog && fclose(r->gclog) != 0 && st == NB_OK) st = fail(r, NB_EIO, "gradcheck.log: %s", strerror(errno));
    if (r->timing && fclose(r->timing) != 0 && st == NB_OK) st = fail(r, NB_EIO, "timing.log: %s", strerror(errno));
    nb_optim_free(r->optim);
    nb_graph_free(r->g);
    nbi_run_spec_free(&r->S);
    nb_config_free(r->cfg);
    nb_dataset_free(&r->train);
    nb_dataset_free(&r->val);
    nb_dataset_free(&r->test);
    free(r->T);
    free(r->Tval);
    free(r->Ttest);
    free(r->best_params);
    free(r);
    if (st != NB_OK) nb_error_set(out_err, st, "%s", err.msg[0] ? err.msg : nb_strerror(st));
    return st;
}
