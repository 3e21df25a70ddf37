/* app/sweep.c — `nabla sweep`: a sweep file -> many run directories.
 *
 * A cell is nb_experiment_run() on DIR/base.conf with the cell's
 * "key=value" overrides, in a child process (fork, then the library call):
 * the same call as `nabla run DIR/base.conf --set ...`, so the cell's
 * costs.csv and results.txt are those of the standalone run, byte for byte,
 * whatever the number of workers and the order the cells ran in.  A child
 * also isolates a crash, runs BLAS on one thread, and dies with the sweep
 * (PR_SET_PDEATHSIG), so a killed sweep leaves no orphan writing a cell.
 *
 * State lives in files: a cell is finished when its run directory says so
 * (meta.json), failed or diverged when cells.csv says so; anything else is
 * run, resuming from the cell's checkpoint when it has one.  So a sweep
 * killed at any moment resumes (`--resume DIR`) to the same files.
 *
 * docs/sweeps.md is the user's reference. */
#define _GNU_SOURCE 1   /* pipe2, RTLD_DEFAULT */
#include <config.h>

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <nabla/config.h>
#include <nabla/experiment.h>
#include <nabla/rng.h>
#include <nabla/sweep.h>
#include <nabla/text.h>
#include "app/app.h"

extern char **environ;

/* A short, escaped excerpt of user input for a message (valid until the end
 * of the enclosing block). */
#define ESC(s) nb_error_escape((char[128]){ 0 }, 128, (s), (size_t)-1, 80)

#define MAX_CELLS 1000000u     /* a larger product is refused */
#define MAX_ATTEMPTS 3         /* runs of a cell whose process keeps being killed */
#define SWEEP_FILE_MAX (1u << 20)

enum { AX_LIST, AX_UNIFORM, AX_LOGUNIFORM, AX_INT, AX_CHOICE };

/* The final metrics read from a cell's results.txt, in cells.csv order. */
static const char *const metric_names[] = { "steps", "final_cost", "train_accuracy", "train_mae",
                                            "val_cost", "val_accuracy", "test_accuracy" };
#define N_METRICS (sizeof metric_names / sizeof metric_names[0])

typedef struct axis {
    char *key;
    size_t line;
    int kind;
    int type;          /* the key's nb_config_type */
    char **items;      /* AX_LIST, AX_CHOICE: value texts as written (may be quoted) */
    size_t n;
    double a, b;       /* distributions */
    char *spec;        /* the value as written, for the resolved sweep file */
    int numeric;       /* every value is a number (plots against it) */
    int is_seed;       /* experiment.seed: summaries group over it */
    char *label;       /* its part of a cell name */
} axis;

typedef struct cell {
    char *name;
    char **vals;       /* per axis: value text (quotes kept) */
    char **sets;       /* per axis: "key=value" */
    int state;
    int attempts;
    char *msg;
    char metric[N_METRICS][40];
    double seconds;
} cell;

struct nb_sweep {
    char *path;           /* the sweep file as given */
    char *srcdir;         /* its directory ("" for the current one) */
    char *base_path;      /* `base = PATH` resolved against srcdir, or NULL */
    char *base_text;      /* the file without base = and [sweep]: lines kept in place */
    char *text;           /* the whole file */
    axis *ax;
    size_t nax;
    int random;
    size_t samples;
    unsigned long seed;
    int has_seed;
    long blas_threads;
    size_t method_line, samples_line;
    cell *cells;
    size_t ncells;
    char dir[PATH_MAX];
    int lock_fd;
    double t_last_csv;
};

/* ---- small utilities --------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

static int path_join(char *out, size_t len, const char *a, const char *b)
{
    int n = snprintf(out, len, "%s%s%s", a, a[0] ? "/" : "", b);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Numbers as text with '.' whatever the locale: nabla/text.h. */
static void fmt_double(const nb_sweep *sw, char *buf, size_t cap, double x)
{
    (void)sw;
    nb_format_double(x, buf, cap);   /* the shortest text that reads back as x */
}

static void fmt_short(const nb_sweep *sw, char *buf, size_t cap, double x)
{
    (void)sw;
    nb_format(buf, cap, "%.4g", x);
}

/* A whole-text number; 0 when s is one. */
static int parse_double(const nb_sweep *sw, const char *s, double *x)
{
    (void)sw;
    char *end;
    errno = 0;
    *x = nb_strtod(s, &end);
    return end == s || *end || errno || !isfinite(*x) ? -1 : 0;
}

static int write_atomic(const char *path, const char *text, size_t n, nb_error *err)
{
    char tmp[PATH_MAX + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return nb_error_set(err, NB_EIO, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return nb_error_set(err, NB_EIO, "%s: %s", tmp, strerror(errno));
    int ok = fwrite(text, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return nb_error_set(err, NB_EIO, "%s: %s", path, strerror(e));
    }
    return NB_OK;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

/* A cell directory that holds no run yet (killed before its first file). */
static int remove_tree(const char *dir) { return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static const nb_config_key *schema_key(const char *key)
{
    size_t n;
    const nb_config_key *s = nb_experiment_schema(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].name, key) == 0) return &s[i];
    return NULL;
}

const char *nb_sweep_state_name(int state)
{
    static const char *const names[] = { "pending", "running", "finished", "failed", "diverged",
                                         "interrupted" };
    return state >= 0 && state <= NB_SWEEP_INTERRUPTED ? names[state] : "unknown";
}

static int state_from_name(const char *s)
{
    for (int i = 0; i <= NB_SWEEP_INTERRUPTED; i++)
        if (strcmp(s, nb_sweep_state_name(i)) == 0) return i;
    return -1;
}

/* ---- checking a value against the experiment schema -------------------- */

/* Checks `key = value` as if it stood at path:line, with the config
 * parser's own checks and messages ("sweep.conf:12: key 'optimizer.lr': 0
 * must be greater than 0", "unknown key ... (did you mean ...)"). */
static int check_value(const nb_sweep *sw, size_t line, const char *key, const char *value, nb_error *err)
{
    size_t n;
    const nb_config_key *schema = nb_experiment_schema(&n);
    nb_config *cfg = nb_config_alloc(schema, n);
    size_t len = (line ? line - 1 : 0) + strlen(key) + strlen(value) + 8;
    char *text = malloc(len);
    if (!cfg || !text) {
        nb_config_free(cfg);
        free(text);
        return nb_error_set(err, NB_ENOMEM, "%s: out of memory", sw->path);
    }
    size_t at = 0;
    for (size_t i = 1; i < line; i++) text[at++] = '\n';   /* messages name the right line */
    snprintf(text + at, len - at, "%s = %s\n", key, value);
    int st = nb_config_parse_string(cfg, text, sw->path, err);
    nb_config_free(cfg);
    free(text);
    return st;
}

/* ---- reading the sweep file -------------------------------------------- */

/* Splits at commas outside quotes and parentheses; items trimmed. */
static int split_items(const nb_sweep *sw, size_t line, const char *key, const char *v, char ***out,
                       size_t *n, nb_error *err)
{
    size_t cap = 8, k = 0;
    char **items = malloc(cap * sizeof *items);
    if (!items) return nb_error_set(err, NB_ENOMEM, "out of memory");
    const char *start = v;
    int q = 0, depth = 0;
    for (const char *p = v;; p++) {
        if (*p && q && *p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '"') q = !q;
        if (!q && *p == '(') depth++;
        if (!q && *p == ')') depth--;
        if (*p == '\0' || (!q && depth == 0 && *p == ',')) {
            char *it = xstrndup(start, (size_t)(p - start));
            if (!it) goto oom;
            char *t = trim(it);
            memmove(it, t, strlen(t) + 1);
            if (!*it) {
                free(it);
                for (size_t i = 0; i < k; i++) free(items[i]);
                free(items);
                return nb_error_set(err, NB_ECONFIG, "%s:%zu: axis '%s': element %zu is empty", sw->path,
                                    line, key, k + 1);
            }
            if (k == cap) {
                char **m = realloc(items, 2 * cap * sizeof *m);
                if (!m) {
                    free(it);
                    goto oom;
                }
                items = m, cap *= 2;
            }
            items[k++] = it;
            if (*p == '\0') break;
            start = p + 1;
        }
    }
    *out = items;
    *n = k;
    return NB_OK;
oom:
    for (size_t i = 0; i < k; i++) free(items[i]);
    free(items);
    return nb_error_set(err, NB_ENOMEM, "out of memory");
}

static void free_items(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++) free(items[i]);
    free(items);
}

/* "a..b" with integers a <= b. 1: it is a range; 0: not one. */
static int parse_range(const char *s, long long *a, long long *b)
{
    const char *dots = strstr(s, "..");
    if (!dots || dots == s) return 0;
    char *end;
    errno = 0;
    *a = strtoll(s, &end, 10);
    if (end != dots || errno) return 0;
    *b = strtoll(dots + 2, &end, 10);
    if (*end || end == dots + 2 || errno) return 0;
    return 1;
}

static int axis_value_push(axis *ax, size_t *cap, char *v)
{
    if (ax->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        char **m = realloc(ax->items, nc * sizeof *m);
        if (!m) return -1;
        ax->items = m, *cap = nc;
    }
    ax->items[ax->n++] = v;
    return 0;
}

static char *unquote(const char *s);

/* A data path value of an axis, made absolute: cells run from DIR/base.conf,
 * and a relative data path is relative to the file that names it. */
static int absolute_path_item(const nb_sweep *sw, char **item)
{
    char *v = unquote(*item);
    if (!v) return NB_ENOMEM;
    char real[PATH_MAX];
    if (!v[0] || v[0] == '/' || !realpath(sw->srcdir[0] ? sw->srcdir : ".", real)) {
        int st = !v[0] || v[0] == '/' ? NB_OK : NB_EIO;
        free(v);
        return st;
    }
    size_t jl = strlen(real) + strlen(v) + 2, o = 0;
    char *joined = malloc(jl), *q = malloc(2 * jl + 3);
    if (!joined || !q) {
        free(v), free(joined), free(q);
        return NB_ENOMEM;
    }
    snprintf(joined, jl, "%s/%s", real, v);
    q[o++] = '"';   /* quoted, so that any file name reads back as it is */
    for (const char *p = joined; *p; p++) {
        if (*p == '"' || *p == '\\') q[o++] = '\\';
        q[o++] = *p;
    }
    q[o++] = '"';
    q[o] = '\0';
    free(v), free(joined), free(*item);
    *item = q;
    return NB_OK;
}

static int is_path_key(const char *key)
{
    return strcmp(key, "data.path") == 0 || strcmp(key, "data.labels_path") == 0 ||
           strcmp(key, "data.test_path") == 0 || strcmp(key, "data.test_labels_path") == 0;
}

/* One axis from `key = value` of the [sweep] section. */
static int parse_axis(nb_sweep *sw, axis *ax, size_t line, const char *key, const char *value,
                      nb_error *err)
{
    memset(ax, 0, sizeof *ax);
    ax->line = line;
    ax->key = xstrdup(key);
    ax->spec = xstrdup(value);
    if (!ax->key || !ax->spec) return nb_error_set(err, NB_ENOMEM, "out of memory");
    const nb_config_key *k = schema_key(key);
    if (!k) return check_value(sw, line, key, "0", err);   /* the parser's unknown-key message */
    ax->type = (int)k->type;
    ax->is_seed = strcmp(key, "experiment.seed") == 0;
    if (!*value)
        return nb_error_set(err, NB_ECONFIG, "%s:%zu: axis '%s': no value (an axis needs at least one)",
                            sw->path, line, key);
    static const struct { const char *name; int kind; } dists[] = {
        { "uniform", AX_UNIFORM }, { "loguniform", AX_LOGUNIFORM }, { "int", AX_INT }, { "choice", AX_CHOICE }
    };
    ax->kind = AX_LIST;
    const char *args = NULL;
    size_t vl = strlen(value);
    for (size_t d = 0; d < 4; d++) {
        size_t nl = strlen(dists[d].name);
        const char *p = value + nl;
        if (strncmp(value, dists[d].name, nl) != 0) continue;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '(' && value[vl - 1] == ')') {
            ax->kind = dists[d].kind;
            args = p + 1;
        }
    }
    size_t cap = 0;
    if (ax->kind == AX_LIST || ax->kind == AX_CHOICE) {
        char **items;
        size_t n;
        char *inner = args ? xstrndup(args, strlen(args) - 1) : xstrdup(value);
        if (!inner) return nb_error_set(err, NB_ENOMEM, "out of memory");
        int st = split_items(sw, line, key, inner, &items, &n, err);
        free(inner);
        if (st != NB_OK) return st;
        for (size_t i = 0; i < n && st == NB_OK; i++) {
            long long a, b;
            if (items[i][0] != '"' && parse_range(items[i], &a, &b)) {
                if (b < a) {
                    st = nb_error_set(err, NB_ECONFIG, "%s:%zu: axis '%s': range %lld..%lld is empty",
                                      sw->path, line, key, a, b);
                    break;
                }
                if ((unsigned long long)(b - a) >= MAX_CELLS) {
                    st = nb_error_set(err, NB_ECONFIG, "%s:%zu: axis '%s': range %lld..%lld is too long",
                                      sw->path, line, key, a, b);
                    break;
                }
                for (long long x = a; x <= b && st == NB_OK; x++) {
                    char t[32];
                    snprintf(t, sizeof t, "%lld", x);
                    char *v = xstrdup(t);
                    if (!v || axis_value_push(ax, &cap, v) != 0) {
                        free(v);
                        st = nb_error_set(err, NB_ENOMEM, "out of memory");
                    }
                }
                free(items[i]);
                items[i] = NULL;
            } else {
                if (axis_value_push(ax, &cap, items[i]) != 0) st = nb_error_set(err, NB_ENOMEM, "out of memory");
                else items[i] = NULL;
            }
        }
        free_items(items, n);
        if (st != NB_OK) return st;
        for (size_t i = 0; i < ax->n; i++)
            if ((st = check_value(sw, line, key, ax->items[i], err)) != NB_OK) return st;
        for (size_t i = 0; i < ax->n && is_path_key(key); i++)
            if ((st = absolute_path_item(sw, &ax->items[i])) != NB_OK)
                return nb_error_set(err, st, "%s:%zu: axis '%s': cannot resolve '%s'", sw->path, line, key, ESC(ax->items[i]));
        ax->numeric = ax->type == NB_CONFIG_INT || ax->type == NB_CONFIG_SIZE || ax->type == NB_CONFIG_DOUBLE;
        return NB_OK;
    }
    /* uniform(a, b), loguniform(a, b), int(a, b) */
    char **items;
    size_t n;
    char *inner = xstrndup(args, strlen(args) - 1);
    if (!inner) return nb_error_set(err, NB_ENOMEM, "out of memory");
    int st = split_items(sw, line, key, inner, &items, &n, err);
    free(inner);
    if (st != NB_OK) return st;
    const char *what = ax->kind == AX_UNIFORM ? "uniform" : ax->kind == AX_LOGUNIFORM ? "loguniform" : "int";
    if (n != 2) st = nb_error_set(err, NB_ECONFIG, "%s:%zu: axis '%s': %s takes two bounds (a, b), not %zu",
                                  sw->path, line, key, what, n);
    if (st == NB_OK && ax->type != NB_CONFIG_INT && ax->type != NB_CONFIG_SIZE && ax->type != NB_CONFIG_DOUBLE)
        st = nb_error_set(err, NB_ECONFIG, "%s:%zu: axis '%s': %s needs a numeric key (use choice(...))",
                          sw->path, line, key, what);
    for (size_t i = 0; i < n && st == NB_OK; i++) {
        double x;
        if (parse_double(sw, items[i], &x) != 0)
            st = nb_error_set(err, NB_ECONFIG, "%s:%zu: axis '%s': %s bound '%s' is not a number",
                              sw->path, line, key, what, ESC(items[i]));
        else if (ax->kind == AX_INT && x != floor(x))
            st = nb_error_set(err, NB_ECONFIG, "%s:%zu: axis '%s': int bound '%s' is not an integer",
                              sw->path, line, key, ESC(items[i]));
        else if (ax->type != NB_CONFIG_DOUBLE || ax->kind == AX_INT) {
            char t[64];
            snprintf(t, sizeof t, "%.0f", x);
            st = check_value(sw, line, key, t, err);
        } else {
            st = check_value(sw, line, key, items[i], err);
        }
        if (i == 0) ax->a = x;
        else ax->b = x;
    }
    free_items(items, n);
    if (st != NB_OK) return st;
    if (!(ax->a < ax->b) && !(ax->kind == AX_INT && ax->a == ax->b))
        return nb_error_set(err, NB_ECONFIG, "%s:%zu: axis '%s': %s(a, b) needs a < b", sw->path, line, key, what);
    if (ax->kind == AX_LOGUNIFORM && !(ax->a > 0))
        return nb_error_set(err, NB_ECONFIG, "%s:%zu: axis '%s': loguniform(a, b) needs 0 < a", sw->path, line, key);
    ax->numeric = 1;
    return NB_OK;
}

/* The value of a line: blanks trimmed, an inline comment (a '#' at the start
 * or after a blank, outside quotes) removed. */
static char *line_value(char *v)
{
    int q = 0;
    for (char *p = v; *p; p++) {
        if (q && *p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '"') q = !q;
        if (!q && *p == '#' && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            break;
        }
    }
    return trim(v);
}

static char *unquote(const char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        char *o = malloc(n), *w = o;
        if (!o) return NULL;
        for (size_t i = 1; i + 1 < n; i++) {
            if (s[i] == '\\' && i + 2 < n) i++;
            *w++ = s[i];
        }
        *w = '\0';
        return o;
    }
    return xstrdup(s);
}

static int sweep_setting(nb_sweep *sw, size_t line, const char *key, const char *value, nb_error *err)
{
    if (strcmp(key, "method") == 0) {
        sw->method_line = line;
        if (strcmp(value, "grid") == 0) sw->random = 0;
        else if (strcmp(value, "random") == 0) sw->random = 1;
        else return nb_error_set(err, NB_ECONFIG, "%s:%zu: key 'sweep.method': '%s' is not one of grid, random",
                                 sw->path, line, ESC(value));
        return NB_OK;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    int bad = !*value || *end || errno || value[0] == '-';
    if (strcmp(key, "samples") == 0) {
        sw->samples_line = line;
        if (bad || v == 0 || v > MAX_CELLS)
            return nb_error_set(err, NB_ECONFIG, "%s:%zu: key 'sweep.samples': '%s' is not a count from 1 to %u",
                                sw->path, line, ESC(value), MAX_CELLS);
        sw->samples = (size_t)v;
        return NB_OK;
    }
    if (strcmp(key, "seed") == 0) {
        if (bad || v > 4294967295ull)
            return nb_error_set(err, NB_ECONFIG, "%s:%zu: key 'sweep.seed': '%s' is not a seed (0..4294967295)",
                                sw->path, line, ESC(value));
        sw->seed = (unsigned long)v;
        sw->has_seed = 1;
        return NB_OK;
    }
    if (strcmp(key, "blas_threads") == 0) {
        if (bad || v == 0 || v > 4096)
            return nb_error_set(err, NB_ECONFIG, "%s:%zu: key 'sweep.blas_threads': '%s' is not a thread count",
                                sw->path, line, ESC(value));
        sw->blas_threads = (long)v;
        return NB_OK;
    }
    return nb_error_set(err, NB_ECONFIG,
                        "%s:%zu: unknown key 'sweep.%s' (the [sweep] section takes method, samples, seed, "
                        "blas_threads, and axes named by full config keys such as optimizer.lr)",
                        sw->path, line, ESC(key));
}

/* Splits the file into the base config text (every line kept in place,
 * `base =` and the [sweep] section blanked) and the sweep's own keys. */
static int parse_file(nb_sweep *sw, nb_error *err)
{
    size_t len = strlen(sw->text);
    sw->base_text = malloc(len + 1);
    if (!sw->base_text) return nb_error_set(err, NB_ENOMEM, "out of memory");
    char *out = sw->base_text;
    int in_sweep = 0, any_section = 0, st = NB_OK;
    size_t line = 0, axcap = 0;
    const char *p = sw->text;
    while (*p && st == NB_OK) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        line++;
        char *l = xstrndup(p, n);
        if (!l) return nb_error_set(err, NB_ENOMEM, "out of memory");
        char *s = l;
        if (line == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
            s += 3;
        s = trim(s);
        int keep = 1;
        if (s[0] == '[') {
            char *close = strchr(s, ']');
            any_section = 1;
            in_sweep = 0;
            if (close) {
                *close = '\0';
                if (strcmp(trim(s + 1), "sweep") == 0) in_sweep = 1, keep = 0;
            }
        } else if (s[0] && s[0] != '#' && s[0] != ';') {
            char *eq = strchr(s, '=');
            char *key = NULL, *value = NULL;
            if (eq) {
                *eq = '\0';
                key = trim(s);
                value = line_value(eq + 1);
            }
            if (in_sweep) {
                keep = 0;
                if (!eq)
                    st = nb_error_set(err, NB_ECONFIG, "%s:%zu: expected 'key = value' in [sweep]", sw->path, line);
                else if (!strchr(key, '.'))
                    st = sweep_setting(sw, line, key, value, err);
                else {
                    for (size_t i = 0; i < sw->nax && st == NB_OK; i++)
                        if (strcmp(sw->ax[i].key, key) == 0)
                            st = nb_error_set(err, NB_ECONFIG, "%s:%zu: duplicate axis '%s' (first at line %zu)",
                                              sw->path, line, key, sw->ax[i].line);
                    if (st == NB_OK && sw->nax == axcap) {
                        size_t nc = axcap ? 2 * axcap : 8;
                        axis *m = realloc(sw->ax, nc * sizeof *m);
                        if (!m) st = nb_error_set(err, NB_ENOMEM, "out of memory");
                        else sw->ax = m, axcap = nc;
                    }
                    if (st == NB_OK) st = parse_axis(sw, &sw->ax[sw->nax++], line, key, value, err);
                }
            } else if (!any_section && eq && strcmp(key, "base") == 0) {
                keep = 0;
                char *b = unquote(value);
                if (!b) st = nb_error_set(err, NB_ENOMEM, "out of memory");
                else if (!*b) st = nb_error_set(err, NB_ECONFIG, "%s:%zu: key 'base': empty path", sw->path, line);
                else if (sw->base_path)
                    st = nb_error_set(err, NB_ECONFIG, "%s:%zu: duplicate key 'base'", sw->path, line);
                else {
                    size_t bl = strlen(sw->srcdir) + strlen(b) + 2;
                    sw->base_path = malloc(bl);
                    if (!sw->base_path) st = nb_error_set(err, NB_ENOMEM, "out of memory");
                    else if (b[0] == '/' || !sw->srcdir[0]) snprintf(sw->base_path, bl, "%s", b);
                    else snprintf(sw->base_path, bl, "%s/%s", sw->srcdir, b);
                }
                free(b);
            }
        }
        if (keep) {
            memcpy(out, p, n);
            out += n;
        }
        if (eol) *out++ = '\n';
        free(l);
        p = eol ? eol + 1 : p + n;
    }
    *out = '\0';
    if (st != NB_OK) return st;
    if (sw->nax == 0)
        return nb_error_set(err, NB_ECONFIG, "%s: no [sweep] section with an axis (e.g. optimizer.lr = 0.01, 0.1)",
                            sw->path);
    if (sw->random && !sw->samples)
        return nb_error_set(err, NB_ECONFIG, "%s:%zu: method = random needs samples = K", sw->path, sw->method_line);
    if (!sw->random && sw->samples_line)
        return nb_error_set(err, NB_ECONFIG, "%s:%zu: key 'sweep.samples' is for method = random", sw->path,
                            sw->samples_line);
    for (size_t i = 0; i < sw->nax; i++)
        if (!sw->random && sw->ax[i].kind != AX_LIST)
            return nb_error_set(err, NB_ECONFIG, "%s:%zu: axis '%s': %s draws at random: set method = random",
                                sw->path, sw->ax[i].line, sw->ax[i].key, ESC(sw->ax[i].spec));
    return NB_OK;
}

/* The base config: `base = PATH` (if any), then the sweep file's own keys. */
static int load_base(const nb_sweep *sw, nb_config **out, nb_error *err)
{
    size_t n;
    const nb_config_key *schema = nb_experiment_schema(&n);
    nb_config *cfg = nb_config_alloc(schema, n);
    if (!cfg) return nb_error_set(err, NB_ENOMEM, "out of memory");
    int st = NB_OK;
    if (sw->base_path) st = nb_config_load(cfg, sw->base_path, err);
    if (st == NB_OK) st = nb_config_parse_string(cfg, sw->base_text, sw->path, err);
    if (st != NB_OK) {
        nb_config_free(cfg);
        return st;
    }
    *out = cfg;
    return NB_OK;
}

/* ---- cells --------------------------------------------------------------- */

static void name_part(char *out, size_t cap, const char *v)
{
    size_t o = 0;
    int dash = 1;
    if (*v == '"') v++;
    for (; *v && o + 1 < cap && o < 32; v++) {
        unsigned char c = (unsigned char)*v;
        if (isalnum(c) || c == '.' || c == '+' || (c == '-' && !dash)) {
            out[o++] = (char)c;
            dash = c == '-';
        } else if (!dash) {
            out[o++] = '-';
            dash = 1;
        }
    }
    while (o && out[o - 1] == '-') o--;
    if (!o) out[o++] = 'x';
    out[o] = '\0';
}

static int add_cell(nb_sweep *sw, size_t *cap, char **vals, char **names_short)
{
    if (sw->ncells >= MAX_CELLS) return NB_ERANGE;
    if (sw->ncells == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        cell *m = realloc(sw->cells, nc * sizeof *m);
        if (!m) return NB_ENOMEM;
        sw->cells = m, *cap = nc;
    }
    cell *c = &sw->cells[sw->ncells];
    memset(c, 0, sizeof *c);
    c->vals = calloc(sw->nax, sizeof *c->vals);
    c->sets = calloc(sw->nax, sizeof *c->sets);
    if (!c->vals || !c->sets) {
        free(c->vals), free(c->sets);
        return NB_ENOMEM;
    }
    sw->ncells++;
    char name[1024];
    size_t o = 0;   /* the index goes in front once the count is known */
    name[0] = '\0';
    for (size_t i = 0; i < sw->nax; i++) {
        c->vals[i] = xstrdup(vals[i]);
        size_t l = strlen(sw->ax[i].key) + strlen(vals[i]) + 2;
        c->sets[i] = malloc(l);
        if (!c->vals[i] || !c->sets[i]) return NB_ENOMEM;
        snprintf(c->sets[i], l, "%s=%s", sw->ax[i].key, vals[i]);
        char part[40];
        const char *nv = names_short[i] ? names_short[i] : vals[i];
        if (is_path_key(sw->ax[i].key) && strrchr(nv, '/')) nv = strrchr(nv, '/') + 1;   /* the file's name */
        name_part(part, sizeof part, nv);
        if (o < sizeof name) o += (size_t)snprintf(name + o, sizeof name - o, "_%s-%s", sw->ax[i].label, part);
    }
    c->name = xstrdup(name);
    return c->name ? NB_OK : NB_ENOMEM;
}

/* Value text of a draw for the key's type. */
static void draw(nb_sweep *sw, nb_rng *rng, const axis *ax, char *val, size_t cap, char *shrt, size_t scap)
{
    double u, x;
    shrt[0] = '\0';
    switch (ax->kind) {
    case AX_CHOICE:
        snprintf(val, cap, "%s", ax->items[nb_rng_interval(rng, ax->n - 1)]);
        return;
    case AX_INT:
        x = ax->a + (double)nb_rng_interval(rng, (size_t)(ax->b - ax->a));
        snprintf(val, cap, "%.0f", x);
        return;
    default:
        u = nb_rng_uniform(rng);
        x = ax->kind == AX_UNIFORM ? ax->a + (ax->b - ax->a) * u
                                   : exp(log(ax->a) + (log(ax->b) - log(ax->a)) * u);
        if (ax->type != NB_CONFIG_DOUBLE) {
            snprintf(val, cap, "%.0f", nearbyint(x));
        } else {
            fmt_double(sw, val, cap, x);
            fmt_short(sw, shrt, scap, x);
        }
    }
}

static int make_cells(nb_sweep *sw, nb_error *err)
{
    /* labels: the key's last part, or the whole key when two axes share it */
    for (size_t i = 0; i < sw->nax; i++) {
        const char *last = strrchr(sw->ax[i].key, '.');
        last = last ? last + 1 : sw->ax[i].key;
        int clash = 0;
        for (size_t j = 0; j < sw->nax; j++) {
            const char *lj = strrchr(sw->ax[j].key, '.');
            lj = lj ? lj + 1 : sw->ax[j].key;
            if (j != i && strcmp(last, lj) == 0) clash = 1;
        }
        sw->ax[i].label = xstrdup(clash ? sw->ax[i].key : last);
        if (!sw->ax[i].label) return nb_error_set(err, NB_ENOMEM, "out of memory");
    }
    /* lists are crossed (grid); with method = random each of the samples
     * draws every random axis once and is crossed with the list axes */
    size_t total = 1;
    for (size_t i = 0; i < sw->nax; i++)
        if (sw->ax[i].kind == AX_LIST) {
            if (total > MAX_CELLS / sw->ax[i].n)
                return nb_error_set(err, NB_ECONFIG, "%s: more than %u cells", sw->path, MAX_CELLS);
            total *= sw->ax[i].n;
        }
    size_t samples = sw->random ? sw->samples : 1;
    if (total > MAX_CELLS / samples)
        return nb_error_set(err, NB_ECONFIG, "%s: more than %u cells", sw->path, MAX_CELLS);
    nb_rng rng;
    nb_rng_seed(&rng, (uint32_t)sw->seed);
    char **vals = calloc(sw->nax, sizeof *vals), **shrt = calloc(sw->nax, sizeof *shrt);
    char (*buf)[128] = calloc(sw->nax, sizeof *buf), (*sbuf)[32] = calloc(sw->nax, sizeof *sbuf);
    size_t *idx = calloc(sw->nax, sizeof *idx), cap = 0;
    int st = vals && shrt && buf && sbuf && idx ? NB_OK : NB_ENOMEM;
    for (size_t s = 0; s < samples && st == NB_OK; s++) {
        for (size_t i = 0; i < sw->nax && st == NB_OK; i++) {
            if (sw->ax[i].kind == AX_LIST) continue;
            draw(sw, &rng, &sw->ax[i], buf[i], sizeof buf[i], sbuf[i], sizeof sbuf[i]);
            vals[i] = buf[i];
            shrt[i] = sbuf[i][0] ? sbuf[i] : NULL;
            st = check_value(sw, sw->ax[i].line, sw->ax[i].key, buf[i], err);
            if (st != NB_OK) goto done;
        }
        for (size_t i = 0; i < sw->nax; i++) idx[i] = 0;
        for (size_t c = 0; c < total && st == NB_OK; c++) {
            for (size_t i = 0; i < sw->nax; i++)
                if (sw->ax[i].kind == AX_LIST) vals[i] = sw->ax[i].items[idx[i]], shrt[i] = NULL;
            st = add_cell(sw, &cap, vals, shrt);
            for (size_t i = sw->nax; i-- > 0;) {   /* the last axis turns fastest */
                if (sw->ax[i].kind != AX_LIST) continue;
                if (++idx[i] < sw->ax[i].n) break;
                idx[i] = 0;
            }
        }
    }
    if (st == NB_ENOMEM) nb_error_set(err, st, "out of memory");
done:
    free(vals), free(shrt), free(buf), free(sbuf), free(idx);
    return st;
}

int nb_sweep_open(const char *path, nb_sweep **out, nb_error *err)
{
    if (!path || !out) return nb_error_set(err, NB_EINVAL, "nb_sweep_open: NULL argument");
    *out = NULL;
    nb_sweep *sw = calloc(1, sizeof *sw);
    if (!sw) return nb_error_set(err, NB_ENOMEM, "out of memory");
    sw->lock_fd = -1;
    sw->blas_threads = 1;
    sw->seed = 2385;
    sw->path = xstrdup(path);
    const char *slash = strrchr(path, '/');
    sw->srcdir = slash ? xstrndup(path, (size_t)(slash - path) + (slash == path)) : xstrdup("");
    int st = sw->path && sw->srcdir ? NB_OK : nb_error_set(err, NB_ENOMEM, "out of memory");
    FILE *f = st == NB_OK ? fopen(path, "rb") : NULL;
    if (st == NB_OK && !f) st = nb_error_set(err, NB_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (f) {
        sw->text = malloc(SWEEP_FILE_MAX + 1);
        size_t n = sw->text ? fread(sw->text, 1, SWEEP_FILE_MAX + 1, f) : 0;
        fclose(f);
        if (!sw->text) st = nb_error_set(err, NB_ENOMEM, "out of memory");
        else if (n > SWEEP_FILE_MAX) st = nb_error_set(err, NB_ECONFIG, "%s: larger than 1 MiB", path);
        else if (memchr(sw->text, '\0', n)) st = nb_error_set(err, NB_ECONFIG, "%s: holds a NUL byte", path);
        else sw->text[n] = '\0';
    }
    if (st == NB_OK) st = parse_file(sw, err);
    nb_config *cfg = NULL;
    if (st == NB_OK) st = load_base(sw, &cfg, err);
    nb_config_free(cfg);
    if (st == NB_OK) st = make_cells(sw, err);
    if (st == NB_OK && sw->ncells == 0) st = nb_error_set(err, NB_ECONFIG, "%s: the sweep has no cell", path);
    int width = 1;   /* zero-padded indices: `ls` lists cells in order */
    for (size_t t = sw->ncells ? sw->ncells - 1 : 0; t >= 10; t /= 10) width++;
    for (size_t c = 0; c < sw->ncells && st == NB_OK; c++) {
        size_t l = strlen(sw->cells[c].name) + (size_t)width + 24;
        char *nm = malloc(l);
        if (!nm) st = nb_error_set(err, NB_ENOMEM, "out of memory");
        else {
            snprintf(nm, l, "%0*zu%s", width, c, sw->cells[c].name);
            free(sw->cells[c].name);
            sw->cells[c].name = nm;
        }
    }
    if (st == NB_OK) {   /* the first cell must make a complete config */
        st = load_base(sw, &cfg, err);
        for (size_t i = 0; i < sw->nax && st == NB_OK; i++) st = nb_config_set(cfg, sw->cells[0].sets[i], err);
        if (st == NB_OK) st = nb_config_validate(cfg, err);
        nb_config_free(cfg);
    }
    if (st != NB_OK) {
        nb_sweep_free(sw);
        return st;
    }
    *out = sw;
    return NB_OK;
}

void nb_sweep_free(nb_sweep *sw)
{
    if (!sw) return;
    for (size_t i = 0; i < sw->nax; i++) {
        free(sw->ax[i].key), free(sw->ax[i].spec), free(sw->ax[i].label);
        free_items(sw->ax[i].items, sw->ax[i].n);
    }
    free(sw->ax);
    for (size_t c = 0; c < sw->ncells; c++) {
        cell *x = &sw->cells[c];
        if (x->vals) free_items(x->vals, sw->nax);
        if (x->sets) free_items(x->sets, sw->nax);
        free(x->name), free(x->msg);
    }
    free(sw->cells);
    if (sw->lock_fd >= 0) close(sw->lock_fd);
    free(sw->path), free(sw->srcdir), free(sw->base_path), free(sw->base_text), free(sw->text);
    free(sw);
}

size_t nb_sweep_cell_count(const nb_sweep *sw) { return sw ? sw->ncells : 0; }

const char *nb_sweep_cell_name(const nb_sweep *sw, size_t c)
{
    return sw && c < sw->ncells ? sw->cells[c].name : NULL;
}

const char *const *nb_sweep_cell_sets(const nb_sweep *sw, size_t c, size_t *n)
{
    if (n) *n = sw && c < sw->ncells ? sw->nax : 0;
    return sw && c < sw->ncells ? (const char *const *)sw->cells[c].sets : NULL;
}

int nb_sweep_list(const nb_sweep *sw, FILE *out)
{
    if (!sw || !out) return NB_EINVAL;
    fprintf(out, "%zu cells (%s%s), each `nabla run BASE` with:\n", sw->ncells, sw->random ? "random" : "grid",
            sw->random ? ", samples crossed with the list axes" : "");
    for (size_t c = 0; c < sw->ncells; c++) {
        fprintf(out, "%s ", sw->cells[c].name);
        for (size_t i = 0; i < sw->nax; i++) {
            const char *s = sw->cells[c].sets[i];
            int quote = strpbrk(s, " \t\"'$`\\;&|<>()*?[]#~") != NULL;
            fprintf(out, " --set %s%s%s", quote ? "'" : "", s, quote ? "'" : "");
        }
        fputc('\n', out);
    }
    return ferror(out) ? NB_EIO : NB_OK;
}

/* ---- the sweep directory ------------------------------------------------- */

static int dir_path(const nb_sweep *sw, char *out, size_t len, const char *a, const char *b)
{
    char t[PATH_MAX];
    if (path_join(t, sizeof t, sw->dir, a) != 0) return -1;
    return b ? path_join(out, len, t, b) : (snprintf(out, len, "%s", t) >= (int)len ? -1 : 0);
}

static int write_text(const char *dir, const char *name, const char *buf, size_t n, nb_error *err)
{
    char p[PATH_MAX];
    if (path_join(p, sizeof p, dir, name) != 0) return nb_error_set(err, NB_EIO, "%s: path too long", dir);
    return write_atomic(p, buf, n, err);
}

/* Closes the memory stream f, which holds *buf, and says whether its text
 * is whole.  glibc's memory stream reports a failed allocation only through
 * its error flag or a NULL buffer after fclose (fclose itself returns 0), so
 * all three are tested.  On failure *buf is freed and NULL. */
static int close_text(FILE *f, char **buf, const char *name, nb_error *err)
{
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (!bad && *buf) return NB_OK;
    free(*buf);
    *buf = NULL;
    return nb_error_set(err, NB_ENOMEM, "%s: out of memory", name);
}

/* close_text, then the text written to DIR/name atomically; *buf is freed. */
static int finish_text(const nb_sweep *sw, FILE *f, char **buf, size_t *n, const char *name,
                       nb_error *err)
{
    int st = close_text(f, buf, name, err);
    if (st == NB_OK) st = write_text(sw->dir, name, *buf, *n, err);
    free(*buf);
    *buf = NULL;
    return st;
}

/* A plot's two texts built in memory: its data and its gnuplot script. */
typedef struct plot_texts {
    FILE *d, *s;
    char *dat, *gp;
    size_t dn, gn;
} plot_texts;

static int plot_texts_open(plot_texts *t, nb_error *err)
{
    memset(t, 0, sizeof *t);
    t->d = open_memstream(&t->dat, &t->dn);
    t->s = open_memstream(&t->gp, &t->gn);
    if (t->d && t->s) return NB_OK;
    if (t->d) fclose(t->d), free(t->dat);
    if (t->s) fclose(t->s), free(t->gp);
    return nb_error_set(err, NB_ENOMEM, "out of memory");
}

/* Closes both streams (close_text) and writes PDIR/NAME.dat and
 * PDIR/NAME.gp, each atomically; the texts are freed. */
static int plot_texts_write(plot_texts *t, const char *pdir, const char *name, nb_error *err)
{
    char fn[160], fg[160];
    snprintf(fn, sizeof fn, "%s.dat", name);
    snprintf(fg, sizeof fg, "%s.gp", name);
    int st = close_text(t->d, &t->dat, fn, err);
    int st_gp = close_text(t->s, &t->gp, fg, st == NB_OK ? err : NULL);
    if (st == NB_OK) st = st_gp;
    if (st == NB_OK) st = write_text(pdir, fn, t->dat, t->dn, err);
    if (st == NB_OK) st = write_text(pdir, fg, t->gp, t->gn, err);
    free(t->dat), free(t->gp);
    return st;
}

/* The base config with relative data paths made absolute (they were
 * relative to the file that set them), saved as DIR/base.conf. */
static int save_base(nb_sweep *sw, nb_error *err)
{
    nb_config *cfg;
    int st = load_base(sw, &cfg, err);
    if (st != NB_OK) return st;
    static const char *const keys[] = { "data.path", "data.labels_path", "data.test_path", "data.test_labels_path" };
    /* which keys the sweep file sets itself: its own text alone, over defaults */
    size_t nk;
    const nb_config_key *schema = nb_experiment_schema(&nk);
    nb_config *own = nb_config_alloc(schema, nk);
    if (!own) st = nb_error_set(err, NB_ENOMEM, "out of memory");
    else if (nb_config_parse_string(own, sw->base_text, sw->path, NULL) != NB_OK) {
        nb_config_free(own);
        own = NULL;
    }
    for (size_t i = 0; i < 4 && st == NB_OK; i++) {
        const char *v = "";
        char origin[64] = "default";
        if (nb_config_get_string(cfg, keys[i], &v) != NB_OK || !v[0] || v[0] == '/') continue;
        if (own) nb_config_origin(own, keys[i], origin, sizeof origin);
        /* relative to the file that set it: the sweep file, or the base */
        const char *from = strcmp(origin, "default") != 0 || !sw->base_path ? sw->path : sw->base_path;
        char d[PATH_MAX], real[PATH_MAX], abs[2 * PATH_MAX + 8], set[2 * PATH_MAX + 64];
        const char *sl = strrchr(from, '/');
        snprintf(d, sizeof d, "%.*s", sl ? (int)(sl - from) + (sl == from) : 1, sl ? from : ".");
        if (!realpath(d, real)) {
            st = nb_error_set(err, NB_EIO, "%s: %s", d, strerror(errno));
            break;
        }
        snprintf(abs, sizeof abs, "%s/%s", real, v);
        size_t o = (size_t)snprintf(set, sizeof set, "%s=\"", keys[i]);
        for (const char *p = abs; *p && o + 3 < sizeof set; p++) {
            if (*p == '"' || *p == '\\') set[o++] = '\\';
            set[o++] = *p;
        }
        snprintf(set + o, sizeof set - o, "\"");
        st = nb_config_set(cfg, set, err);
    }
    nb_config_free(own);
    char p[PATH_MAX];
    if (st == NB_OK && dir_path(sw, p, sizeof p, "base.conf", NULL) != 0)
        st = nb_error_set(err, NB_EIO, "%s: path too long", sw->dir);
    if (st == NB_OK) st = nb_config_save(cfg, p, err);
    nb_config_free(cfg);
    return st;
}

/* DIR/sweep.conf: what `--resume DIR` reads back (base = base.conf). */
static int save_sweep(nb_sweep *sw, nb_error *err)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return nb_error_set(err, NB_ENOMEM, "out of memory");
    char ep[256];
    fprintf(f, "# nabla sweep, resolved from %s (%s)\n",
            nb_error_escape(ep, sizeof ep, sw->path, (size_t)-1, 200), sw->random ? "random" : "grid");
    fprintf(f, "# every cell is `nabla run base.conf --set KEY=VALUE ...`; `nabla sweep --resume DIR` reads this file\n");
    fprintf(f, "base = base.conf\n\n[sweep]\nmethod = %s\n", sw->random ? "random" : "grid");
    if (sw->random) fprintf(f, "samples = %zu\nseed = %lu\n", sw->samples, sw->seed);
    fprintf(f, "blas_threads = %ld\n", sw->blas_threads);
    for (size_t i = 0; i < sw->nax; i++) {
        if (sw->ax[i].kind == AX_LIST) {
            fprintf(f, "%s = ", sw->ax[i].key);
            for (size_t j = 0; j < sw->ax[i].n; j++) fprintf(f, "%s%s", j ? ", " : "", sw->ax[i].items[j]);
            fputc('\n', f);
        } else {
            fprintf(f, "%s = %s\n", sw->ax[i].key, sw->ax[i].spec);
        }
    }
    int st = finish_text(sw, f, &buf, &n, "sweep.conf", err);
    return st;
}

static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n\r")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"') fputc('"', f);
            fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
}

static int write_cells_csv(nb_sweep *sw, nb_error *err)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return nb_error_set(err, NB_ENOMEM, "out of memory");
    fputs("cell", f);
    for (size_t i = 0; i < sw->nax; i++) fputc(',', f), csv_field(f, sw->ax[i].key);
    fputs(",status", f);
    for (size_t m = 0; m < N_METRICS; m++) fprintf(f, ",%s", metric_names[m]);
    fputs(",dir,message\n", f);
    for (size_t c = 0; c < sw->ncells; c++) {
        const cell *x = &sw->cells[c];
        csv_field(f, x->name);
        for (size_t i = 0; i < sw->nax; i++) {
            char *u = unquote(x->vals[i]);
            fputc(',', f), csv_field(f, u ? u : "");
            free(u);
        }
        int state = x->state == NB_SWEEP_INTERRUPTED ? NB_SWEEP_PENDING : x->state;
        fprintf(f, ",%s", nb_sweep_state_name(state));
        for (size_t m = 0; m < N_METRICS; m++) fputc(',', f), csv_field(f, x->metric[m]);
        fprintf(f, ",runs/%s,", x->name);
        csv_field(f, x->msg ? x->msg : "");
        fputc('\n', f);
    }
    int st = finish_text(sw, f, &buf, &n, "cells.csv", err);
    sw->t_last_csv = now_seconds();
    return st;
}

/* One CSV record (quotes as written above) into fields; returns the count. */
static size_t csv_split(char *line, char **fields, size_t max)
{
    size_t k = 0;
    char *p = line;
    while (k < max) {
        char *w = p;
        fields[k++] = w;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '"' && p[1] == '"') *w++ = '"', p += 2;
                else if (*p == '"') {
                    p++;
                    break;
                } else if (!*p) break;
                else *w++ = *p++;
            }
            while (*p && *p != ',') p++;
        } else {
            while (*p && *p != ',') w++, p++;
        }
        int more = *p == ',';
        *w = '\0';
        if (!more) break;
        p++;
    }
    return k;
}

/* meta.json's status of a run directory: 1 finished (or stopped early). */
static int run_finished(const char *rundir)
{
    char p[PATH_MAX], line[512];
    if (path_join(p, sizeof p, rundir, "meta.json") != 0) return 0;
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    int done = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "\"status\": \"finished\"") || strstr(line, "\"status\": \"stopped early\"")) done = 1;
    fclose(f);
    return done;
}

/* The headline lines of results.txt ("final_cost = ...") before its first
 * [section], copied as text: they are the run's own %.17g numbers. */
static void read_metrics(const nb_sweep *sw, cell *x)
{
    char p[PATH_MAX], line[512];
    for (size_t m = 0; m < N_METRICS; m++) x->metric[m][0] = '\0';
    if (dir_path(sw, p, sizeof p, "runs", x->name) != 0) return;
    strncat(p, "/results.txt", sizeof p - strlen(p) - 1);
    FILE *f = fopen(p, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '[') break;
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#') continue;
        *eq = '\0';
        char *k = trim(line), *v = trim(eq + 1);
        v[strcspn(v, "\n")] = '\0';
        for (size_t m = 0; m < N_METRICS; m++)
            if (strcmp(k, metric_names[m]) == 0) snprintf(x->metric[m], sizeof x->metric[m], "%s", v);
    }
    fclose(f);
}

static int take_lock(nb_sweep *sw, nb_error *err)
{
    char p[PATH_MAX];
    if (dir_path(sw, p, sizeof p, "sweep.lock", NULL) != 0) return nb_error_set(err, NB_EIO, "path too long");
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return nb_error_set(err, NB_EIO, "%s: %s", p, strerror(errno));
    char host[64] = "?";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    /* A sweep killed a moment ago still holds the lock through its cell
     * processes until they have died of PR_SET_PDEATHSIG: when the holder
     * named in the file is a process of this host that is gone, wait for
     * them (a few seconds at most) instead of refusing. */
    int locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
    char who[128] = "";
    if (!locked) {
        ssize_t n = pread(fd, who, sizeof who - 1, 0);
        who[n > 0 ? n : 0] = '\0';
        who[strcspn(who, "\n")] = '\0';
        long pid = 0;
        char h[64] = "";
        if (sscanf(who, "pid %ld on %63s", &pid, h) == 2 && strcmp(h, host) == 0 && pid > 0 &&
            kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            for (int i = 0; i < 100 && !locked; i++) {
                struct timespec ts = { 0, 50000000L };
                nanosleep(&ts, NULL);
                locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
            }
    }
    if (!locked) {
        close(fd);
        return nb_error_set(err, NB_ESTATE, "sweep directory '%s' is in use by another nabla sweep%s%s%s: "
                            "wait for it to end (two sweeps never write one directory)",
                            sw->dir, who[0] ? " (" : "", who, who[0] ? ")" : "");
    }
    int n = snprintf(who, sizeof who, "pid %ld on %s\n", (long)getpid(), host);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, who, (size_t)n, 0) != n) { /* the lock holds without the note */ }
    sw->lock_fd = fd;
    return NB_OK;
}

static int read_cells_csv(nb_sweep *sw, nb_error *err)
{
    char p[PATH_MAX];
    if (dir_path(sw, p, sizeof p, "cells.csv", NULL) != 0) return nb_error_set(err, NB_EIO, "path too long");
    FILE *f = fopen(p, "r");
    if (!f) return NB_OK;   /* killed before the first write: every cell is pending */
    size_t cap = 1 << 16, nf = sw->nax + N_METRICS + 4;
    char *line = malloc(cap);
    char **fields = malloc(nf * sizeof *fields);
    int st = line && fields ? NB_OK : nb_error_set(err, NB_ENOMEM, "out of memory");
    size_t row = 0;
    while (st == NB_OK && fgets(line, (int)cap, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (row++ == 0) continue;   /* header */
        size_t k = csv_split(line, fields, nf);
        size_t c = row - 2;
        if (k != nf || c >= sw->ncells || strcmp(fields[0], sw->cells[c].name) != 0) {
            st = nb_error_set(err, NB_EFORMAT, "%s:%zu: does not match the cells of %s/sweep.conf", p, row, sw->dir);
            break;
        }
        int s = state_from_name(fields[sw->nax + 1]);
        if (s == NB_SWEEP_FAILED || s == NB_SWEEP_DIVERGED) {
            sw->cells[c].state = s;
            free(sw->cells[c].msg);
            sw->cells[c].msg = xstrdup(fields[nf - 1]);
            read_metrics(sw, &sw->cells[c]);
        }
    }
    fclose(f);
    free(line);
    free(fields);
    return st;
}

int nb_sweep_attach(nb_sweep *sw, const char *dir, int mode, nb_error *err)
{
    if (!sw || !dir || !*dir) return nb_error_set(err, NB_EINVAL, "nb_sweep_attach: no directory");
    if (snprintf(sw->dir, sizeof sw->dir, "%s", dir) >= (int)sizeof sw->dir)
        return nb_error_set(err, NB_EIO, "%s: path too long", dir);
    size_t l = strlen(sw->dir);
    while (l > 1 && sw->dir[l - 1] == '/') sw->dir[--l] = '\0';
    if (mode == NB_SWEEP_WORKER) return NB_OK;
    char p[PATH_MAX];
    int st;
    if (mode == NB_SWEEP_NEW) {
        for (char *q = sw->dir + 1; *q; q++)   /* parents first (sweeps/NAME) */
            if (*q == '/') {
                *q = '\0';
                int bad = mkdir(sw->dir, 0777) != 0 && errno != EEXIST;
                *q = '/';
                if (bad) return nb_error_set(err, NB_EIO, "sweep directory '%s': %s", sw->dir, strerror(errno));
            }
        if (mkdir(sw->dir, 0777) != 0) {
            if (errno != EEXIST) return nb_error_set(err, NB_EIO, "sweep directory '%s': %s", sw->dir, strerror(errno));
            int empty = 1;
            struct stat stt;
            if (stat(sw->dir, &stt) != 0 || !S_ISDIR(stt.st_mode))
                return nb_error_set(err, NB_EIO, "'%s' is not a directory", sw->dir);
            if (dir_path(sw, p, sizeof p, "sweep.conf", NULL) == 0 && file_exists(p)) empty = 0;
            if (dir_path(sw, p, sizeof p, "runs", NULL) == 0 && file_exists(p)) empty = 0;
            if (!empty)
                return nb_error_set(err, NB_ESTATE, "'%s' already holds a sweep: use --resume %s, or another --out",
                                    sw->dir, sw->dir);
        }
        if ((st = take_lock(sw, err)) != NB_OK) return st;
        if ((st = save_base(sw, err)) != NB_OK) return st;
        if ((st = save_sweep(sw, err)) != NB_OK) return st;
    } else {
        if (dir_path(sw, p, sizeof p, "sweep.conf", NULL) != 0 || !file_exists(p))
            return nb_error_set(err, NB_ESTATE, "resume: '%s' holds no sweep (no sweep.conf)", sw->dir);
        if ((st = take_lock(sw, err)) != NB_OK) return st;
        if ((st = read_cells_csv(sw, err)) != NB_OK) return st;
        for (size_t c = 0; c < sw->ncells; c++) {
            cell *x = &sw->cells[c];
            if (x->state == NB_SWEEP_FAILED || x->state == NB_SWEEP_DIVERGED) continue;
            if (dir_path(sw, p, sizeof p, "runs", x->name) == 0 && run_finished(p)) {
                x->state = NB_SWEEP_FINISHED;
                read_metrics(sw, x);
            }
        }
    }
    const char *sub[] = { "runs", "logs" };
    for (int i = 0; i < 2; i++)
        if (dir_path(sw, p, sizeof p, sub[i], NULL) != 0 || (mkdir(p, 0777) != 0 && errno != EEXIST))
            return nb_error_set(err, NB_EIO, "%s: %s", p, strerror(errno));
    return write_cells_csv(sw, err);
}

/* ---- running one cell ---------------------------------------------------- */

static void set_blas_threads(long n)
{
    void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (set) set((int)n);
}

/* The cell's run, in this process: fresh, or resumed from its checkpoint. */
static void run_cell_here(const nb_sweep *sw, size_t c, nb_sweep_outcome *out)
{
    const cell *x = &sw->cells[c];
    char rundir[PATH_MAX], base[PATH_MAX], logp[PATH_MAX];
    memset(out, 0, sizeof *out);
    if (dir_path(sw, rundir, sizeof rundir, "runs", x->name) != 0 || dir_path(sw, base, sizeof base, "base.conf", NULL) != 0 ||
        dir_path(sw, logp, sizeof logp, "logs", x->name) != 0) {
        out->state = NB_SWEEP_FAILED, out->status = NB_EIO;
        snprintf(out->msg, sizeof out->msg, "%.200s: path too long", sw->dir);
        return;
    }
    if (run_finished(rundir)) {
        out->state = NB_SWEEP_FINISHED;
        return;
    }
    int resume = 0;
    if (file_exists(rundir)) {
        char cc[PATH_MAX + 16], cs[PATH_MAX + 16];
        snprintf(cc, sizeof cc, "%s/config.conf", rundir);
        snprintf(cs, sizeof cs, "%s/costs.csv", rundir);
        if (file_exists(cc) && file_exists(cs)) resume = 1;
        else remove_tree(rundir);   /* killed before the run wrote its first files */
    }
    strncat(logp, ".log", sizeof logp - strlen(logp) - 1);
    FILE *log = fopen(logp, "a");
    nb_run_opts o;
    nb_run_opts_init(&o);
    o.out_dir = rundir;
    o.resume = resume;
    o.config_path = resume ? NULL : base;
    o.sets = resume ? NULL : (const char *const *)x->sets;
    o.n_sets = resume ? 0 : sw->nax;
    o.progress = 0;
    o.log = log;
    nb_error rerr;
    nb_error_clear(&rerr);
    int st = nb_experiment_run(&o, &rerr);
    if (st != NB_OK) snprintf(out->msg, sizeof out->msg, "%s", nb_error_message(&rerr));
    out->status = st;
    out->state = st == NB_OK ? NB_SWEEP_FINISHED : st == NB_EDOMAIN ? NB_SWEEP_DIVERGED : NB_SWEEP_FAILED;
    if (log) {
        if (st != NB_OK) fprintf(log, "nabla sweep: cell %s %s: %s\n", x->name, nb_sweep_state_name(out->state), out->msg);
        fclose(log);
    }
}

typedef struct child {
    pid_t pid;
    int fd;
    size_t cell;
    double t0;
} child;

static int spawn_cell(const nb_sweep *sw, size_t c, child *ch, nb_error *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return nb_error_set(err, NB_EIO, "pipe: %s", strerror(errno));
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]), close(fds[1]);
        return nb_error_set(err, NB_EIO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* no orphan writes a cell of a killed sweep */
#endif
        if (getppid() != parent) _exit(3);
        set_blas_threads(sw->blas_threads);
        nb_sweep_outcome out;
        run_cell_here(sw, c, &out);
        const char *b = (const char *)&out;
        size_t left = sizeof out;
        while (left) {
            ssize_t w = write(fds[1], b, left);
            if (w <= 0) break;
            b += w, left -= (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    ch->pid = pid;
    ch->fd = fds[0];
    ch->cell = c;
    ch->t0 = now_seconds();
    return NB_OK;
}

/* The report of a child that closed its pipe, and its exit. */
static void reap_cell(child *ch, nb_sweep_outcome *out)
{
    memset(out, 0, sizeof *out);
    char *b = (char *)out;
    size_t got = 0;
    while (got < sizeof *out) {
        ssize_t r = read(ch->fd, b + got, sizeof *out - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(ch->fd);
    int status = 0;
    while (waitpid(ch->pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFSIGNALED(status) || got != sizeof *out) {
        memset(out, 0, sizeof *out);
        out->state = NB_SWEEP_INTERRUPTED;
        out->status = NB_EIO;
        if (WIFSIGNALED(status)) snprintf(out->msg, sizeof out->msg, "its process was killed by signal %d", WTERMSIG(status));
        else snprintf(out->msg, sizeof out->msg, "its process exited (status %d) without a report", WEXITSTATUS(status));
    }
    out->msg[sizeof out->msg - 1] = '\0';
    ch->pid = 0;
    ch->fd = -1;
}

int nb_sweep_run_cell(const nb_sweep *sw, size_t c, nb_sweep_outcome *out)
{
    if (!sw || !out || c >= sw->ncells) return NB_EINVAL;
    child ch;
    nb_error err;
    nb_error_clear(&err);
    if (spawn_cell(sw, c, &ch, &err) != NB_OK) {
        memset(out, 0, sizeof *out);
        out->state = NB_SWEEP_INTERRUPTED;
        out->status = err.status;
        snprintf(out->msg, sizeof out->msg, "%s", err.msg);
        return err.status;
    }
    reap_cell(&ch, out);
    return NB_OK;
}

/* The local transport: one child process per running cell. */
typedef struct local_exec {
    const nb_sweep *sw;
    child *kids;
    size_t n;
} local_exec;

static int local_start(void *ud, size_t slot, size_t c, nb_error *err)
{
    local_exec *le = ud;
    return spawn_cell(le->sw, c, &le->kids[slot], err);
}

static int local_wait(void *ud, int timeout_ms, size_t *slot, nb_sweep_outcome *out, nb_error *err)
{
    local_exec *le = ud;
    struct pollfd pf[1024];
    size_t map[1024], k = 0;
    for (size_t i = 0; i < le->n && k < 1024; i++)
        if (le->kids[i].pid > 0) pf[k].fd = le->kids[i].fd, pf[k].events = POLLIN, pf[k].revents = 0, map[k++] = i;
    if (k == 0) return nb_error_set(err, NB_ESTATE, "no cell is running"), -1;
    int r = poll(pf, (nfds_t)k, timeout_ms);
    if (r < 0 && errno != EINTR) return nb_error_set(err, NB_EIO, "poll: %s", strerror(errno)), -1;
    for (size_t j = 0; r > 0 && j < k; j++)
        if (pf[j].revents) {
            *slot = map[j];
            reap_cell(&le->kids[map[j]], out);
            return 1;
        }
    return 0;
}

/* ---- the sweep ---------------------------------------------------------- */

void nb_sweep_run_opts_init(nb_sweep_run_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->progress = -1;
}

static void fmt_clock(char *buf, size_t cap, double s)
{
    if (!(s >= 0) || s > 359999) s = 359999;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%02ld:%02ld", t / 60, t % 60);
}

typedef struct progress {
    FILE *log;
    int bar, drawn;
    size_t total, done, failed, done_here;
    double t0;
} progress;

static void bar_draw(progress *pg, size_t running)
{
    if (!pg->log || !pg->bar) return;
    double el = now_seconds() - pg->t0;
    double left = pg->done_here ? el / (double)pg->done_here * (double)(pg->total - pg->done) : -1;
    char eta[32] = "--:--", elapsed[32];
    if (left >= 0) fmt_clock(eta, sizeof eta, left);
    fmt_clock(elapsed, sizeof elapsed, el);
    int width = 30, fill = pg->total ? (int)((size_t)width * pg->done / pg->total) : width;
    fprintf(pg->log, "\r[%.*s%.*s] %zu/%zu cells, %zu running, %zu failed, %s elapsed, ETA %s \033[K", fill,
            "##############################", width - fill, "..............................", pg->done, pg->total,
            running, pg->failed, elapsed, eta);
    fflush(pg->log);
    pg->drawn = 1;
}

static void cell_line(progress *pg, const nb_sweep *sw, const cell *x, double secs)
{
    if (!pg->log) return;
    if (pg->drawn) fputs("\r\033[K", pg->log);
    int width = 1;
    for (size_t t = pg->total; t >= 10; t /= 10) width++;
    fprintf(pg->log, "[%*zu/%zu] %s %s", width, pg->done, pg->total, x->name, nb_sweep_state_name(x->state));
    if (x->state == NB_SWEEP_FINISHED) {
        for (size_t m = 1; m < N_METRICS; m++)
            if (x->metric[m][0]) {
                double v;
                char s[40];
                if (parse_double(sw, x->metric[m], &v) == 0) fmt_short(sw, s, sizeof s, v);
                else snprintf(s, sizeof s, "%s", x->metric[m]);
                fprintf(pg->log, " %s %s", metric_names[m], s);
            }
    } else if (x->msg) {
        fprintf(pg->log, ": %s", x->msg);
    }
    fprintf(pg->log, " (%.1f s)\n", secs);
    fflush(pg->log);
}

int nb_sweep_execute(nb_sweep *sw, const nb_sweep_run_opts *o, size_t *failed, nb_error *err)
{
    if (!sw || !sw->dir[0]) return nb_error_set(err, NB_EINVAL, "nb_sweep_execute: the sweep has no directory");
    nb_sweep_run_opts def;
    if (!o) nb_sweep_run_opts_init(&def), o = &def;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    local_exec le = { sw, NULL, 0 };
    nb_sweep_executor local = { 0, &le, local_start, local_wait };
    const nb_sweep_executor *ex = o->executor;
    if (!ex) {
        le.n = o->jobs ? o->jobs : cores > 0 ? (size_t)cores : 1;
        if (le.n > 1024) le.n = 1024;
        le.kids = calloc(le.n, sizeof *le.kids);
        if (!le.kids) return nb_error_set(err, NB_ENOMEM, "out of memory");
        local.slots = le.n;
        ex = &local;
    }
    size_t slots = ex->slots;
    size_t *todo = malloc((sw->ncells + 1) * sizeof *todo), ntodo = 0, next = 0;
    size_t *slot_cell = malloc((slots + 1) * sizeof *slot_cell);
    double *slot_t0 = calloc(slots + 1, sizeof *slot_t0);
    char *busy = calloc(slots + 1, 1);
    int st = todo && slot_cell && slot_t0 && busy ? NB_OK : nb_error_set(err, NB_ENOMEM, "out of memory");
    progress pg = { o->log, 0, 0, sw->ncells, 0, 0, 0, now_seconds() };
    pg.bar = o->log && (o->progress == 1 || (o->progress < 0 && isatty(fileno(o->log))));
    for (size_t c = 0; st == NB_OK && c < sw->ncells; c++) {
        int s = sw->cells[c].state;
        if (s == NB_SWEEP_FINISHED || s == NB_SWEEP_FAILED || s == NB_SWEEP_DIVERGED) {
            pg.done++;
            pg.failed += s != NB_SWEEP_FINISHED;
        } else {
            todo[ntodo++] = c;
        }
    }
    if (st == NB_OK && o->log && pg.done)
        fprintf(o->log, "nabla sweep: %zu of %zu cells already done, %zu to run\n", pg.done, sw->ncells, ntodo);
    size_t running = 0;
    /* A cell requeued after its process was killed goes to the end of todo,
     * a ring of ncells + 1 places: a cell is in it at most once at a time. */
    while (st == NB_OK && (next < ntodo || running > 0)) {
        for (size_t s = 0; s < slots && next < ntodo && st == NB_OK; s++) {
            if (busy[s]) continue;
            size_t c = todo[next++ % (sw->ncells + 1)];
            if ((st = ex->start(ex->ud, s, c, err)) != NB_OK) break;
            busy[s] = 1, slot_cell[s] = c, slot_t0[s] = now_seconds(), running++;
            sw->cells[c].state = NB_SWEEP_RUNNING;
        }
        if (st != NB_OK) break;
        if (pg.done_here || pg.drawn) bar_draw(&pg, running);
        if (now_seconds() - sw->t_last_csv > 1.0 && (st = write_cells_csv(sw, err)) != NB_OK) break;
        size_t s;
        nb_sweep_outcome out;
        int r = ex->wait(ex->ud, pg.bar ? 250 : 1000, &s, &out, err);
        if (r < 0) {
            st = err && err->status ? err->status : NB_EIO;
            break;
        }
        if (r == 0) {
            bar_draw(&pg, running);
            continue;
        }
        if (s >= slots || !busy[s]) continue;
        busy[s] = 0, running--;
        cell *x = &sw->cells[slot_cell[s]];
        double secs = now_seconds() - slot_t0[s];
        x->attempts++;
        if (out.state == NB_SWEEP_INTERRUPTED && x->attempts < MAX_ATTEMPTS) {
            x->state = NB_SWEEP_PENDING;   /* again, from its checkpoint */
            todo[ntodo++ % (sw->ncells + 1)] = slot_cell[s];
            if (o->log) {
                if (pg.drawn) fputs("\r\033[K", o->log);
                fprintf(o->log, "nabla sweep: cell %s: %s; running it again from its checkpoint\n", x->name, out.msg);
            }
            continue;
        }
        if (out.state == NB_SWEEP_INTERRUPTED) out.state = NB_SWEEP_FAILED;
        x->state = out.state;
        free(x->msg);
        x->msg = out.state == NB_SWEEP_FINISHED ? NULL : xstrdup(out.msg);
        read_metrics(sw, x);
        pg.done++, pg.done_here++;
        if (x->state != NB_SWEEP_FINISHED) pg.failed++;
        /* failures are only known from cells.csv: record them at once */
        if (x->state != NB_SWEEP_FINISHED && (st = write_cells_csv(sw, err)) != NB_OK) break;
        cell_line(&pg, sw, x, secs);
    }
    if (st != NB_OK && ex == &local) {   /* stop what still runs: it resumes later */
        for (size_t s = 0; s < le.n; s++)
            if (le.kids[s].pid > 0) {
                kill(le.kids[s].pid, SIGKILL);
                nb_sweep_outcome out;
                reap_cell(&le.kids[s], &out);
            }
    }
    if (pg.drawn && o->log) fputs("\r\033[K", o->log);
    free(todo), free(slot_cell), free(slot_t0), free(busy), free(le.kids);
    if (st != NB_OK) return st;
    if ((st = write_cells_csv(sw, err)) != NB_OK) return st;
    if ((st = nb_sweep_report(sw, err)) != NB_OK) return st;
    if (failed) *failed = pg.failed;
    if (o->log) {
        /* the coordinator's own CPU time (not its cells'): its cost per cell */
        struct rusage ru;
        double cpu = getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                                                            (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec
                                                      : 0;
        fprintf(o->log, "nabla sweep: %zu cells, %zu finished, %zu failed or diverged -> %s (cells.csv, summary.csv, plots/)\n"
                        "nabla sweep: %.1f s; the coordinator used %.2f ms of CPU per cell run here\n",
                sw->ncells, sw->ncells - pg.failed, pg.failed, sw->dir, now_seconds() - pg.t0,
                pg.done_here ? 1e3 * cpu / (double)pg.done_here : 0.0);
    }
    return NB_OK;
}


/* ---- summary.csv and plots ------------------------------------------------ */

typedef struct group {
    size_t *cells;   /* members, in cell order */
    size_t n, cap;
} group;

/* Cells grouped over the seed axis: same values on every other axis. */
static int make_groups(const nb_sweep *sw, group **out, size_t *ng)
{
    group *g = calloc(sw->ncells, sizeof *g);
    size_t k = 0;
    if (!g) return NB_ENOMEM;
    for (size_t c = 0; c < sw->ncells; c++) {
        size_t j;
        for (j = 0; j < k; j++) {
            const cell *a = &sw->cells[g[j].cells[0]], *b = &sw->cells[c];
            size_t i;
            for (i = 0; i < sw->nax; i++)
                if (!sw->ax[i].is_seed && strcmp(a->vals[i], b->vals[i]) != 0) break;
            if (i == sw->nax) break;
        }
        if (j == k) k++;
        if (g[j].n == g[j].cap) {
            size_t nc = g[j].cap ? 2 * g[j].cap : 4;
            size_t *m = realloc(g[j].cells, nc * sizeof *m);
            if (!m) {
                for (size_t t = 0; t < k; t++) free(g[t].cells);
                free(g);
                return NB_ENOMEM;
            }
            g[j].cells = m, g[j].cap = nc;
        }
        g[j].cells[g[j].n++] = c;
    }
    *out = g;
    *ng = k;
    return NB_OK;
}

static void free_groups(group *g, size_t ng)
{
    for (size_t j = 0; g && j < ng; j++) free(g[j].cells);
    free(g);
}

typedef struct stats {
    double mean, sd, min, max;
    size_t n;
} stats;

/* Mean, sample standard deviation (n - 1; NaN for one value), min, max of
 * metric m over the finished cells of a group. */
static stats group_stats(const nb_sweep *sw, const group *g, size_t m)
{
    stats s = { 0, NAN, INFINITY, -INFINITY, 0 };
    double sum = 0;
    for (size_t i = 0; i < g->n; i++) {
        const cell *x = &sw->cells[g->cells[i]];
        double v;
        if (x->state != NB_SWEEP_FINISHED || parse_double(sw, x->metric[m], &v) != 0) continue;
        sum += v, s.n++;
        s.min = fmin(s.min, v), s.max = fmax(s.max, v);
    }
    if (!s.n) return s;
    s.mean = sum / (double)s.n;
    if (s.n > 1) {
        double q = 0;
        for (size_t i = 0; i < g->n; i++) {
            const cell *x = &sw->cells[g->cells[i]];
            double v;
            if (x->state != NB_SWEEP_FINISHED || parse_double(sw, x->metric[m], &v) != 0) continue;
            q += (v - s.mean) * (v - s.mean);
        }
        s.sd = sqrt(q / (double)(s.n - 1));
    }
    return s;
}

static void put_num(const nb_sweep *sw, FILE *f, double v)
{
    char b[40];
    if (isfinite(v)) {
        fmt_double(sw, b, sizeof b, v);
        fputs(b, f);
    }
}

static int metric_present(const nb_sweep *sw, size_t m)
{
    for (size_t c = 0; c < sw->ncells; c++)
        if (sw->cells[c].state == NB_SWEEP_FINISHED && sw->cells[c].metric[m][0]) return 1;
    return 0;
}

static int write_summary(const nb_sweep *sw, group *g, size_t ng, nb_error *err)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return nb_error_set(err, NB_ENOMEM, "out of memory");
    fputs("group", f);
    for (size_t i = 0; i < sw->nax; i++)
        if (!sw->ax[i].is_seed) fputc(',', f), csv_field(f, sw->ax[i].key);
    fputs(",cells,finished", f);
    for (size_t m = 0; m < N_METRICS; m++)
        if (metric_present(sw, m))
            fprintf(f, ",%s_mean,%s_sd,%s_min,%s_max,%s_n", metric_names[m], metric_names[m], metric_names[m],
                    metric_names[m], metric_names[m]);
    fputc('\n', f);
    for (size_t j = 0; j < ng; j++) {
        const cell *x0 = &sw->cells[g[j].cells[0]];
        size_t fin = 0;
        for (size_t i = 0; i < g[j].n; i++) fin += sw->cells[g[j].cells[i]].state == NB_SWEEP_FINISHED;
        fprintf(f, "%zu", j);
        for (size_t i = 0; i < sw->nax; i++)
            if (!sw->ax[i].is_seed) {
                char *u = unquote(x0->vals[i]);
                fputc(',', f), csv_field(f, u ? u : "");
                free(u);
            }
        fprintf(f, ",%zu,%zu", g[j].n, fin);
        for (size_t m = 0; m < N_METRICS; m++) {
            if (!metric_present(sw, m)) continue;
            stats s = group_stats(sw, &g[j], m);
            fputc(',', f), put_num(sw, f, s.mean);
            fputc(',', f), put_num(sw, f, s.sd);
            fputc(',', f), put_num(sw, f, s.min);
            fputc(',', f), put_num(sw, f, s.max);
            fprintf(f, ",%zu", s.n);
        }
        fputc('\n', f);
    }
    int st = finish_text(sw, f, &buf, &n, "summary.csv", err);
    return st;
}

/* A group's label for legends: its values on the non-seed axes. */
static void group_label(const nb_sweep *sw, const group *g, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sw->nax && o + 1 < cap; i++) {
        if (sw->ax[i].is_seed) continue;
        const char *v = sw->cells[g->cells[0]].vals[i];
        double d;
        char s[40];
        if (parse_double(sw, v, &d) == 0) fmt_short(sw, s, sizeof s, d);
        else snprintf(s, sizeof s, "%s", v);
        for (char *q = s; *q; q++)
            if (*q == '\'' || *q == '"') *q = ' ';
        o += (size_t)snprintf(out + o, cap - o, "%s%s=%s", o ? " " : "", sw->ax[i].label, s);
    }
    if (!out[0]) snprintf(out, cap, "all cells");
}

/* Steps and costs of a finished cell's costs.csv (columns step, epoch, cost). */
static int read_costs(const nb_sweep *sw, const cell *x, double **step, double **cost, size_t *n)
{
    char p[PATH_MAX], line[4096];
    *step = *cost = NULL;
    *n = 0;
    if (dir_path(sw, p, sizeof p, "runs", x->name) != 0) return -1;
    strncat(p, "/costs.csv", sizeof p - strlen(p) - 1);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    size_t cap = 0;
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        if (first) {
            first = 0;
            continue;
        }
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        if (!c2) continue;
        *c1 = '\0';
        char *c3 = strpbrk(c2 + 1, ",\n");
        if (c3) *c3 = '\0';
        double s, v;
        if (parse_double(sw, line, &s) != 0 || parse_double(sw, c2 + 1, &v) != 0) continue;
        if (*n == cap) {
            size_t nc = cap ? 2 * cap : 256;
            double *a = realloc(*step, nc * sizeof *a);
            if (a) *step = a;
            double *b = a ? realloc(*cost, nc * sizeof *b) : NULL;
            if (b) *cost = b;
            if (!a || !b) break;
            cap = nc;
        }
        (*step)[*n] = s, (*cost)[*n] = v, (*n)++;
    }
    fclose(f);
    return 0;
}

/* plots/cost-bands.{dat,gp,png}: per group, the cost per logged step, mean
 * and mean ± one sd over the group's finished cells. */
static int plot_bands(const nb_sweep *sw, const char *pdir, group *g, size_t ng, nb_error *err)
{
    plot_texts pt;
    if (plot_texts_open(&pt, err) != NB_OK) return NB_ENOMEM;
    FILE *d = pt.d, *s = pt.s;
    int positive = 1;
    size_t blocks = 0;
    char (*labels)[160] = calloc(ng ? ng : 1, sizeof *labels);
    for (size_t j = 0; j < ng && labels; j++) {
        double *sum = NULL, *sq = NULL, *steps = NULL;
        size_t *cnt = NULL, len = 0, members = 0;
        for (size_t i = 0; i < g[j].n; i++) {
            const cell *x = &sw->cells[g[j].cells[i]];
            if (x->state != NB_SWEEP_FINISHED) continue;
            double *st, *co;
            size_t n;
            if (read_costs(sw, x, &st, &co, &n) != 0) continue;
            if (n > len) {
                double *a = realloc(sum, n * sizeof *a), *b = a ? realloc(sq, n * sizeof *b) : NULL;
                if (a) sum = a;
                if (b) sq = b;
                double *c3 = b ? realloc(steps, n * sizeof *c3) : NULL;
                if (c3) steps = c3;
                size_t *c4 = c3 ? realloc(cnt, n * sizeof *c4) : NULL;
                if (c4) cnt = c4;
                if (!c4) {
                    free(st), free(co);
                    break;
                }
                for (size_t t = len; t < n; t++) sum[t] = sq[t] = 0, cnt[t] = 0, steps[t] = st[t];
                len = n;
            }
            for (size_t t = 0; t < n; t++) sum[t] += co[t], sq[t] += co[t] * co[t], cnt[t]++;
            members++;
            free(st), free(co);
        }
        if (members) {
            group_label(sw, &g[j], labels[blocks], sizeof labels[blocks]);
            fprintf(d, "# group %zu: %s\n", j, labels[blocks]);
            for (size_t t = 0; t < len; t++) {
                double m = sum[t] / (double)cnt[t];
                double var = cnt[t] > 1 ? (sq[t] - (double)cnt[t] * m * m) / (double)(cnt[t] - 1) : 0;
                double sd = var > 0 ? sqrt(var) : 0;
                if (m - sd <= 0) positive = 0;
                put_num(sw, d, steps[t]), fputc(' ', d), put_num(sw, d, m), fputc(' ', d), put_num(sw, d, sd);
                fputc('\n', d);
            }
            fputs("\n\n", d);
            blocks++;
        }
        free(sum), free(sq), free(steps), free(cnt);
    }
    fprintf(s, "# gnuplot script (gnuplot cost-bands.gp): cost per step, mean +/- 1 sd over seeds per group\n"
               "set terminal pngcairo size 960,640 noenhanced\nset output 'cost-bands.png'\n"
               "set title 'nabla sweep: cost, mean +/- 1 sd over seeds'\nset xlabel 'step'\n"
               "set ylabel 'cost per example'\nset key outside right top\nset style fill transparent solid 0.2 noborder\n%s",
            positive ? "set logscale y\n" : "");
    if (blocks) {
        fputs("plot ", s);
        for (size_t b = 0; b < blocks; b++)
            fprintf(s, "%s'cost-bands.dat' index %zu using 1:($2-$3):($2+$3) with filledcurves lc %zu notitle, \\\n"
                       "     'cost-bands.dat' index %zu using 1:2 with lines lw 2 lc %zu title '%s'",
                    b ? ", \\\n     " : "", b, b + 1, b, b + 1, labels[b]);
        fputc('\n', s);
    } else {
        fputs("set label 1 'no finished cell' at graph 0.5, 0.5 center\nplot [0:1] [0:1] NaN notitle\n", s);
    }
    free(labels);
    return plot_texts_write(&pt, pdir, "cost-bands", err);
}

/* plots/final-<metric>-vs-<axis>.{dat,gp,png}: each finished cell, and each
 * group's mean ± one sd, against a numeric axis (log scale for loguniform
 * axes and for positive grids spanning a factor of 100 or more). */
static int plot_axis(const nb_sweep *sw, const char *pdir, group *g, size_t ng, size_t i, size_t m, char *name,
                     size_t cap, nb_error *err)
{
    const axis *ax = &sw->ax[i];
    plot_texts pt;
    if (plot_texts_open(&pt, err) != NB_OK) return NB_ENOMEM;
    FILE *d = pt.d, *s = pt.s;
    double lo = INFINITY, hi = -INFINITY;
    fprintf(d, "# %s %s (every finished cell)\n", ax->key, metric_names[m]);
    for (size_t c = 0; c < sw->ncells; c++) {
        const cell *x = &sw->cells[c];
        double xv, yv;
        if (x->state != NB_SWEEP_FINISHED || parse_double(sw, x->vals[i], &xv) != 0 ||
            parse_double(sw, x->metric[m], &yv) != 0)
            continue;
        lo = fmin(lo, xv), hi = fmax(hi, xv);
        put_num(sw, d, xv), fputc(' ', d), put_num(sw, d, yv), fputc('\n', d);
    }
    fprintf(d, "\n\n# %s mean sd (per group)\n", ax->key);
    for (size_t j = 0; j < ng; j++) {
        double xv;
        stats st = group_stats(sw, &g[j], m);
        if (!st.n || parse_double(sw, sw->cells[g[j].cells[0]].vals[i], &xv) != 0) continue;
        put_num(sw, d, xv), fputc(' ', d), put_num(sw, d, st.mean), fputc(' ', d);
        put_num(sw, d, st.n > 1 ? st.sd : 0), fputc('\n', d);
    }
    int logx = ax->kind == AX_LOGUNIFORM || (lo > 0 && hi >= 100 * lo);
    char safe[64];
    snprintf(safe, sizeof safe, "%s", ax->label);
    for (char *q = safe; *q; q++)
        if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_') *q = '_';
    snprintf(name, cap, "final-%s-vs-%s", metric_names[m], safe);
    fprintf(s, "# gnuplot script (gnuplot %s.gp)\nset terminal pngcairo size 800,560 noenhanced\n"
               "set output '%s.png'\nset title 'nabla sweep: %s against %s'\nset xlabel '%s%s'\n"
               "set ylabel '%s'\nset key bottom right\nset offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n%s"
               "plot '%s.dat' index 0 using 1:2 with points pt 7 ps 0.8 lc rgb '#9ecae1' title 'cell', \\\n"
               "     '%s.dat' index 1 using 1:2:3 with yerrorbars pt 5 ps 1.1 lc rgb '#08519c' title 'mean +/- 1 sd over seeds'\n",
            name, name, metric_names[m], ax->key, ax->key, logx ? " (log scale)" : "", metric_names[m],
            logx ? "set logscale x\n" : "", name, name);
    return plot_texts_write(&pt, pdir, name, err);
}

int nb_sweep_report(nb_sweep *sw, nb_error *err)
{
    if (!sw || !sw->dir[0]) return nb_error_set(err, NB_EINVAL, "nb_sweep_report: the sweep has no directory");
    group *g;
    size_t ng;
    if (make_groups(sw, &g, &ng) != NB_OK) return nb_error_set(err, NB_ENOMEM, "out of memory");
    int st = write_summary(sw, g, ng, err);
    char pdir[PATH_MAX];
    if (st == NB_OK && (dir_path(sw, pdir, sizeof pdir, "plots", NULL) != 0 || (mkdir(pdir, 0777) != 0 && errno != EEXIST)))
        st = nb_error_set(err, NB_EIO, "%s/plots: %s", sw->dir, strerror(errno));
    char scripts[64][128];
    size_t ns = 0;
    if (st == NB_OK && (st = plot_bands(sw, pdir, g, ng, err)) == NB_OK) snprintf(scripts[ns++], 128, "cost-bands.gp");
    /* the headline metric: accuracy on the most held-out set there is, else the cost */
    static const size_t prefer[] = { 6, 5, 2, 1 };
    size_t m = 1;
    for (size_t k = 0; k < 4; k++)
        if (metric_present(sw, prefer[k])) {
            m = prefer[k];
            break;
        }
    for (size_t i = 0; i < sw->nax && st == NB_OK && ns < 64; i++) {
        if (!sw->ax[i].numeric || sw->ax[i].is_seed) continue;
        char name[120];
        if ((st = plot_axis(sw, pdir, g, ng, i, m, name, sizeof name, err)) == NB_OK)
            snprintf(scripts[ns++], 128, "%s.gp", name);
    }
    free_groups(g, ng);
    if (st != NB_OK) return st;
    char exe[PATH_MAX];
    if (!nbi_find_program("gnuplot", exe, sizeof exe)) {
        const char *note = "gnuplot is not installed: no PNG was made.\n"
                           "Install it (apt-get install gnuplot-nox) and run `gnuplot NAME.gp` here for each script.\n";
        return write_text(pdir, "plot.txt", note, strlen(note), err);
    }
    for (size_t k = 0; k < ns; k++) (void)nbi_gnuplot(exe, pdir, scripts[k]);
    return NB_OK;
}
