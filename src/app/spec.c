/* app/spec.c — a loaded config becomes a typed run spec, once.
 *
 * Every key of the experiment schema is read here and nowhere else; every
 * rule that ties keys together is checked here, before any data is read or
 * any file written, with a message naming where the offending value came
 * from ("moons.conf:12: key 'loss.kind': ...", "--set: key ...", "key
 * 'data.path' (default): ..."). */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/experiment.h>
#include <nabla/text.h>
#include "app/app.h"

/* "<origin>: key 'k': <text>", the origin being the file:line or --set the
 * value came from ("key 'k' (default): ..." for defaults and unset keys). */
static int bad(const nb_config *cfg, nb_error *err, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int bad(const nb_config *cfg, nb_error *err, const char *key, const char *fmt, ...)
{
    char origin[256] = "unset", text[NB_ERROR_MSG_MAX];
    nb_config_origin(cfg, key, origin, sizeof origin);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (strcmp(origin, "default") == 0 || strcmp(origin, "unset") == 0)
        return nb_error_set(err, NB_ECONFIG, "key '%s' (%s): %s", key, origin, text);
    return nb_error_set(err, NB_ECONFIG, "%s: key '%s': %s", origin, key, text);
}

/* The getters cannot fail on a key of the schema once the config is
 * validated; a failure means the schema and this file disagree. */
static int get_str(const nb_config *cfg, nb_error *err, const char *key, const char **v)
{
    int st = nb_config_get_string(cfg, key, v);
    return st == NB_OK ? NB_OK : nb_error_set(err, st, "config: key '%s': %s", key, nb_strerror(st));
}
static int get_size(const nb_config *cfg, nb_error *err, const char *key, size_t *v)
{
    int st = nb_config_get_size(cfg, key, v);
    return st == NB_OK ? NB_OK : nb_error_set(err, st, "config: key '%s': %s", key, nb_strerror(st));
}
static int get_double(const nb_config *cfg, nb_error *err, const char *key, double *v)
{
    int st = nb_config_get_double(cfg, key, v);
    return st == NB_OK ? NB_OK : nb_error_set(err, st, "config: key '%s': %s", key, nb_strerror(st));
}
static int get_bool(const nb_config *cfg, nb_error *err, const char *key, int *v)
{
    int st = nb_config_get_bool(cfg, key, v);
    return st == NB_OK ? NB_OK : nb_error_set(err, st, "config: key '%s': %s", key, nb_strerror(st));
}
static int get_enum(const nb_config *cfg, nb_error *err, const char *key, size_t *v)
{
    int st = nb_config_get_enum(cfg, key, v);
    return st == NB_OK ? NB_OK : nb_error_set(err, st, "config: key '%s': %s", key, nb_strerror(st));
}

/* A word list of finite numbers (inline data, fixed weights): owned copy,
 * NULL and 0 when the key is unset or empty. */
static int get_doubles(const nb_config *cfg, nb_error *err, const char *key, double **out, size_t *n)
{
    const char *const *w;
    *out = NULL;
    *n = 0;
    if (!nb_config_is_set(cfg, key)) return NB_OK;
    size_t m = 0;
    int st = nb_config_get_word_list(cfg, key, &w, &m);
    if (st != NB_OK) return nb_error_set(err, st, "config: key '%s': %s", key, nb_strerror(st));
    if (m == 0) return NB_OK;
    double *v = malloc(m * sizeof *v);
    if (!v) return nb_error_set(err, NB_ENOMEM, "config: key '%s': out of memory (%zu values)", key, m);
    for (size_t i = 0; i < m; i++) {
        char *end;
        errno = 0;
        v[i] = nb_strtod(w[i], &end);
        if (errno || *end || end == w[i] || !isfinite(v[i])) {
            char esc[128];
            nb_error_escape(esc, sizeof esc, w[i], (size_t)-1, 40);
            free(v);
            return bad(cfg, err, key, "element %zu '%s' is not a finite number", i + 1, esc);
        }
    }
    *out = v;
    *n = m;
    return NB_OK;
}

/* A data file key: required (non-empty) or optional; resolved against the
 * config file's directory.  *out NULL when optional and empty. */
static int get_path(const nb_config *cfg, nb_error *err, const char *cfgdir, const char *key,
                    const char *why_required, char **out)
{
    const char *p;
    *out = NULL;
    int st = get_str(cfg, err, key, &p);
    if (st != NB_OK) return st;
    if (!p[0]) return why_required ? bad(cfg, err, key, "not set: %s", why_required) : NB_OK;
    int rel = p[0] != '/' && cfgdir && cfgdir[0];
    size_t n = strlen(p) + (rel ? strlen(cfgdir) + 1 : 0) + 1;
    if (n > PATH_MAX) return bad(cfg, err, key, "the path is longer than %d bytes", PATH_MAX);
    char *s = malloc(n);
    if (!s) return nb_error_set(err, NB_ENOMEM, "config: key '%s': out of memory", key);
    if (rel) snprintf(s, n, "%s/%s", cfgdir, p);
    else snprintf(s, n, "%s", p);
    *out = s;
    return NB_OK;
}

void nbi_run_spec_free(nb_run_spec *spec)
{
    if (!spec) return;
    free(spec->data.inputs);
    free(spec->data.targets);
    free(spec->data.path);
    free(spec->data.labels_path);
    free(spec->data.test_path);
    free(spec->data.test_labels_path);
    free(spec->model.weights);
    memset(spec, 0, sizeof *spec);
}

static int fill_data(const nb_config *cfg, const char *cfgdir, nb_run_spec *s, nb_error *err)
{
    size_t e;
    int st;
    if ((st = get_enum(cfg, err, "data.source", &e)) != NB_OK) return st;
    if (e >= NBI_SRC_COUNT_) return bad(cfg, err, "data.source", "unknown source");
    s->data.source = (nbi_source)e;
    if ((st = get_str(cfg, err, "data.table", &s->data.table)) != NB_OK ||
        (st = get_size(cfg, err, "data.n", &s->data.n)) != NB_OK ||
        (st = get_size(cfg, err, "data.classes", &s->data.classes)) != NB_OK ||
        (st = get_size(cfg, err, "data.dim", &s->data.dim)) != NB_OK ||
        (st = get_double(cfg, err, "data.noise", &s->data.noise)) != NB_OK ||
        (st = get_size(cfg, err, "data.input_dim", &s->data.input_dim)) != NB_OK ||
        (st = get_size(cfg, err, "data.limit", &s->data.limit)) != NB_OK ||
        (st = get_size(cfg, err, "data.validation", &s->data.validation)) != NB_OK ||
        (st = get_double(cfg, err, "data.scale", &s->data.scale)) != NB_OK ||
        (st = get_bool(cfg, err, "data.standardize", &s->data.standardize)) != NB_OK ||
        (st = get_bool(cfg, err, "data.shuffle", &s->data.shuffle)) != NB_OK ||
        (st = get_bool(cfg, err, "data.reseed", &s->data.reseed)) != NB_OK)
        return st;
    const char *lc, *dir;
    if ((st = get_str(cfg, err, "data.label_column", &lc)) != NB_OK ||
        (st = get_str(cfg, err, "data.dir", &dir)) != NB_OK)
        return st;
    s->data.label_column = lc[0] ? lc : NULL;
    s->data.dir = dir[0] ? dir : NULL;
    if (nb_config_is_set(cfg, "data.keep_classes")) {
        st = nb_config_get_size_list(cfg, "data.keep_classes", &s->data.keep, &s->data.n_keep);
        if (st != NB_OK) return nb_error_set(err, st, "config: key 'data.keep_classes': %s", nb_strerror(st));
        if (s->data.n_keep == 0) s->data.keep = NULL;
        for (size_t i = 0; i < s->data.n_keep; i++)
            for (size_t j = 0; j < i; j++)
                if (s->data.keep[i] == s->data.keep[j])
                    return bad(cfg, err, "data.keep_classes", "class %zu is listed twice", s->data.keep[i]);
    }
    switch (s->data.source) {
    case NBI_SRC_INLINE: {
        if ((st = get_doubles(cfg, err, "data.inputs", &s->data.inputs, &s->data.n_inputs)) != NB_OK ||
            (st = get_doubles(cfg, err, "data.targets", &s->data.targets, &s->data.n_targets)) != NB_OK)
            return st;
        size_t d = s->data.input_dim;
        if (s->data.n_inputs == 0) return bad(cfg, err, "data.inputs", "not set: data.source = inline needs inputs");
        if (s->data.n_inputs % d != 0)
            return bad(cfg, err, "data.inputs", "%zu values do not make rows of data.input_dim = %zu",
                       s->data.n_inputs, d);
        size_t n = s->data.n_inputs / d;
        if (s->data.n_targets == 0 || s->data.n_targets % n != 0)
            return bad(cfg, err, "data.targets", "%zu values for %zu input rows", s->data.n_targets, n);
        break;
    }
    case NBI_SRC_CSV:
        if ((st = get_path(cfg, err, cfgdir, "data.path", "data.source = csv needs a file", &s->data.path)) != NB_OK ||
            (st = get_path(cfg, err, cfgdir, "data.test_path", NULL, &s->data.test_path)) != NB_OK)
            return st;
        break;
    case NBI_SRC_IDX:
        if ((st = get_path(cfg, err, cfgdir, "data.path", "data.source = idx needs an images file",
                           &s->data.path)) != NB_OK ||
            (st = get_path(cfg, err, cfgdir, "data.labels_path", "data.source = idx needs a labels file",
                           &s->data.labels_path)) != NB_OK ||
            (st = get_path(cfg, err, cfgdir, "data.test_path", NULL, &s->data.test_path)) != NB_OK)
            return st;
        if (s->data.test_path &&
            (st = get_path(cfg, err, cfgdir, "data.test_labels_path",
                           "data.test_path is set: the test images need their labels",
                           &s->data.test_labels_path)) != NB_OK)
            return st;
        if (!s->data.test_path) {
            const char *tl;
            if ((st = get_str(cfg, err, "data.test_labels_path", &tl)) != NB_OK) return st;
            if (tl[0]) return bad(cfg, err, "data.test_labels_path", "set, but data.test_path (the test images) is not");
        }
        break;
    default:
        break;
    }
    return NB_OK;
}

static int fill_model(const nb_config *cfg, nb_run_spec *s, nb_error *err)
{
    const size_t *w;
    size_t nw;
    int st = nb_config_get_size_list(cfg, "model.layers", &w, &nw);
    if (st != NB_OK) return nb_error_set(err, st, "config: key 'model.layers': %s", nb_strerror(st));
    if (nw < 2) return bad(cfg, err, "model.layers", "needs the input and the output width");
    if (nw - 1 > NBI_MAX_LAYERS) return bad(cfg, err, "model.layers", "at most %d layers", NBI_MAX_LAYERS);
    memcpy(s->model.width, w, nw * sizeof *w);
    s->model.n_layers = nw - 1;
    size_t e;
    const char *init;
    if ((st = get_str(cfg, err, "model.activation", &s->model.activation)) != NB_OK ||
        (st = get_str(cfg, err, "model.output", &s->model.output)) != NB_OK ||
        (st = get_bool(cfg, err, "model.bias", &s->model.bias)) != NB_OK ||
        (st = get_str(cfg, err, "model.init", &init)) != NB_OK ||
        (st = get_double(cfg, err, "model.init_low", &s->model.init_low)) != NB_OK ||
        (st = get_double(cfg, err, "model.init_high", &s->model.init_high)) != NB_OK ||
        (st = get_double(cfg, err, "model.init_std", &s->model.init_std)) != NB_OK ||
        (st = get_enum(cfg, err, "model.bias_init", &e)) != NB_OK)
        return st;
    s->model.bias_same = e == 1;   /* zeros, same */
    if (nb_init_parse(init, &s->model.init) != NB_OK)
        return bad(cfg, err, "model.init", "unknown initialiser");
    s->model.has_activation_param = nb_config_is_set(cfg, "model.activation_param");
    if (s->model.has_activation_param &&
        (st = get_double(cfg, err, "model.activation_param", &s->model.activation_param)) != NB_OK)
        return st;
    size_t np = 0;
    for (size_t l = 0; l < s->model.n_layers; l++)
        np += w[l] * w[l + 1] + (s->model.bias ? w[l + 1] : 0);
    s->model.n_params = np;
    if ((st = get_doubles(cfg, err, "model.weights", &s->model.weights, &s->model.n_weights)) != NB_OK) return st;
    if (s->model.weights && s->model.n_weights != np)
        return bad(cfg, err, "model.weights", "%zu values but the model has %zu parameters", s->model.n_weights, np);
    return NB_OK;
}

static int fill_training(const nb_config *cfg, nb_run_spec *s, nb_error *err)
{
    size_t e;
    int st;
    /* The schema accepted a loss op of the registry, or half_sse. */
    if ((st = get_str(cfg, err, "loss.kind", &s->loss.name)) != NB_OK) return st;
    s->loss.half_sse = strcmp(s->loss.name, "half_sse") == 0;
    s->loss.op = s->loss.half_sse ? &nb_op_mse : nb_op_find(s->loss.name);
    if (!s->loss.op || s->loss.op->arity != 2)
        return bad(cfg, err, "loss.kind", "'%s' is not a two-input loss op", NB_ECHO(s->loss.name));
    if ((st = get_enum(cfg, err, "loss.reduction", &e)) != NB_OK) return st;
    s->loss.sum = e == 1;   /* mean, sum */
    if ((st = get_double(cfg, err, "loss.l2", &s->loss.l2)) != NB_OK) return st;

    const char *kind, *sched;
    nb_optim_opts *o = &s->optimizer.opts;
    nb_optim_opts_init(o);
    if ((st = get_str(cfg, err, "optimizer.kind", &kind)) != NB_OK ||
        (st = get_double(cfg, err, "optimizer.lr", &o->lr)) != NB_OK ||
        (st = get_double(cfg, err, "optimizer.momentum", &o->momentum)) != NB_OK ||
        (st = get_double(cfg, err, "optimizer.beta1", &o->beta1)) != NB_OK ||
        (st = get_double(cfg, err, "optimizer.beta2", &o->beta2)) != NB_OK ||
        (st = get_double(cfg, err, "optimizer.eps", &o->eps)) != NB_OK ||
        (st = get_double(cfg, err, "optimizer.weight_decay", &o->weight_decay)) != NB_OK ||
        (st = get_str(cfg, err, "optimizer.schedule", &sched)) != NB_OK ||
        (st = get_double(cfg, err, "optimizer.gamma", &o->gamma)) != NB_OK ||
        (st = get_size(cfg, err, "optimizer.step_size", &o->step_size)) != NB_OK ||
        (st = get_bool(cfg, err, "optimizer.update_biases", &s->optimizer.update_biases)) != NB_OK ||
        (st = get_double(cfg, err, "optimizer.bfgs_tol", &s->optimizer.bfgs_tol)) != NB_OK)
        return st;
    s->optimizer.bfgs = strcmp(kind, "bfgs") == 0;
    if (!s->optimizer.bfgs && (o->type = nb_optim_type_find(kind)) == NULL)
        return bad(cfg, err, "optimizer.kind", "unknown optimizer");
    if ((o->schedule = nb_schedule_type_find(sched)) == NULL)
        return bad(cfg, err, "optimizer.schedule", "unknown schedule");

    if ((st = get_size(cfg, err, "train.epochs", &s->train.epochs)) != NB_OK ||
        (st = get_size(cfg, err, "train.batch_size", &s->train.batch_size)) != NB_OK ||
        (st = get_bool(cfg, err, "train.shuffle", &s->train.shuffle)) != NB_OK ||
        (st = get_size(cfg, err, "train.patience", &s->train.patience)) != NB_OK ||
        (st = get_size(cfg, err, "train.checkpoint_every", &s->train.checkpoint_every)) != NB_OK ||
        (st = get_size(cfg, err, "log.every", &s->log.every)) != NB_OK ||
        (st = get_size(cfg, err, "log.gradcheck_every", &s->log.gradcheck_every)) != NB_OK ||
        (st = get_bool(cfg, err, "log.plot", &s->log.plot)) != NB_OK)
        return st;
    if (nb_config_is_set(cfg, "log.metrics")) {
        const char *const *m;
        size_t nm = 0;
        if ((st = nb_config_get_word_list(cfg, "log.metrics", &m, &nm)) != NB_OK)
            return nb_error_set(err, st, "config: key 'log.metrics': %s", nb_strerror(st));
        for (size_t i = 0; i < nm; i++) {
            if (strcmp(m[i], "accuracy") == 0) s->log.accuracy = 1;
            if (strcmp(m[i], "mae") == 0) s->log.mae = 1;
        }
    }
    return NB_OK;
}

/* Rules between sections. */
static int cross_check(const nb_config *cfg, nb_run_spec *s, nb_error *err)
{
    size_t k = s->model.width[s->model.n_layers];
    if (s->loss.op == &nb_op_softmax_ce && k < 2)
        return bad(cfg, err, "loss.kind", "softmax_ce needs an output width of at least 2 (model.layers ends with %zu)", k);
    if (s->train.patience && !s->data.validation)
        return bad(cfg, err, "train.patience", "early stopping needs a validation set (data.validation > 0)");
    if (s->optimizer.bfgs && s->train.batch_size)
        return bad(cfg, err, "train.batch_size", "optimizer.kind = bfgs works on the full batch (train.batch_size = 0)");
    if (s->data.source == NBI_SRC_INLINE) {
        size_t n = s->data.n_inputs / s->data.input_dim, per_row = s->data.n_targets / n;
        if (per_row != k)
            return bad(cfg, err, "data.targets", "%zu values per row but the output layer (model.layers) has %zu",
                       per_row, k);
        if (s->data.keep)
            return bad(cfg, err, "data.keep_classes", "inline data has targets, not classes");
        if (s->loss.op == &nb_op_bce || s->loss.op == &nb_op_bce_logits)
            for (size_t i = 0; i < s->data.n_targets; i++)
                if (!(s->data.targets[i] >= 0 && s->data.targets[i] <= 1))
                    return bad(cfg, err, "data.targets", "element %zu is %.17g, outside [0, 1] (loss.kind = %s)",
                               i + 1, s->data.targets[i], s->loss.name);
    }
    return NB_OK;
}

/* experiment.name names the default run directory, runs/<name>-seed<seed>,
 * and titles the plots and logs: one directory name, printable. */
static int check_name(const nb_config *cfg, const char *name, nb_error *err)
{
    const char *key = "experiment.name";
    if (!name[0]) return bad(cfg, err, key, "is empty: it names the run directory runs/<name>-seed<seed>");
    if (strlen(name) > NBI_RUN_NAME_MAX)
        return bad(cfg, err, key, "is %zu bytes long; at most %d (it names a directory)", strlen(name),
                   NBI_RUN_NAME_MAX);
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        if (*c == '/')
            return bad(cfg, err, key, "contains '/': it is one directory name, runs/<name>-seed<seed> "
                                      "(--out DIR chooses another place)");
        if (*c < 0x20 || *c == 0x7F)
            return bad(cfg, err, key, "contains the control character 0x%02X", *c);
    }
    return NB_OK;
}

int nbi_run_spec_fill(const nb_config *cfg, const char *cfgdir, nb_run_spec *spec, nb_error *err)
{
    if (!cfg || !spec) return nb_error_set(err, NB_EINVAL, "run spec: NULL argument");
    memset(spec, 0, sizeof *spec);
    long long seed = 0;
    int st = get_str(cfg, err, "experiment.name", &spec->experiment.name);
    if (st == NB_OK) st = check_name(cfg, spec->experiment.name, err);
    if (st == NB_OK && (st = nb_config_get_int(cfg, "experiment.seed", &seed)) != NB_OK)
        nb_error_set(err, st, "config: key 'experiment.seed': %s", nb_strerror(st));
    spec->experiment.seed = (unsigned long)seed;   /* the schema bounds it to 0..2^32-1 */
    if (st == NB_OK) st = fill_data(cfg, cfgdir, spec, err);
    if (st == NB_OK) st = fill_model(cfg, spec, err);
    if (st == NB_OK) st = fill_training(cfg, spec, err);
    if (st == NB_OK) st = cross_check(cfg, spec, err);
    if (st != NB_OK) nbi_run_spec_free(spec);
    return st;
}

int nb_experiment_check_config(const nb_config *cfg, nb_error *err)
{
    nb_run_spec spec;
    int st = nbi_run_spec_fill(cfg, NULL, &spec, err);
    if (st == NB_OK) nbi_run_spec_free(&spec);
    return st;
}
