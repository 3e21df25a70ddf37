/* optim.c — SGD, momentum, Nesterov and Adam/AdamW updates over a graph's
 * parameters, learning-rate schedules, and checkpoints in an nb_archive.
 *
 * The update rules and the order of every floating-point operation follow
 * PyTorch 1.13's _single_tensor_sgd / _single_tensor_adam(w) (float64) so
 * that tests/test_optim.c can compare with torch to the last few ulps; see
 * include/nabla/optim.h for the rules themselves.
 *
 * State lives in one allocation (llm.c style), made through the graph's
 * allocator: for each parameter, in g's order, nbuf blocks of (rows, cols)
 * doubles (momentum buffer; or exp_avg then exp_avg_sq).
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/optim.h>
#include "train/train.h"

typedef struct slot {
    nb_node *p;
    size_t n;          /* rows*cols */
    double *buf[2];    /* (rows, cols) each: momentum buffer | exp_avg, exp_avg_sq */
    size_t step;       /* updates applied to this parameter (Adam's t) */
    int trainable;
} slot;

struct nb_optim {
    nb_graph *g;
    nb_optim_opts o;
    slot *slots;       /* (n_slots) */
    size_t n_slots;
    size_t nbuf;       /* state buffers per parameter: 0, 1 or 2 */
    double *state;     /* nbuf * sum(rows*cols) doubles */
    size_t steps;
    nbi_fused *fused;      /* (n_slots) scratch of nb_optim_backward */
    unsigned char *want;   /* (n_slots) scratch: the trainable flags */
    char errmsg[320];
};


/* ---- names ---------------------------------------------------------------- */

static const char *const kind_names[] = {
#define NB_X_NAME(sym, name) [sym] = name,
    NB_OPTIM_TABLE(NB_X_NAME)
#undef NB_X_NAME
};

static const char *const schedule_names[] = {
#define NB_X_NAME(sym, name) [sym] = name,
    NB_SCHEDULE_TABLE(NB_X_NAME)
#undef NB_X_NAME
};

const char *nb_optim_kind_name(nb_optim_kind k)
{
    return (unsigned)k < NB_OPTIM_KIND_COUNT_ ? kind_names[k] : "?";
}

const char *nb_schedule_kind_name(nb_schedule_kind k)
{
    return (unsigned)k < NB_SCHEDULE_KIND_COUNT_ ? schedule_names[k] : "?";
}

int nb_optim_kind_parse(const char *name, nb_optim_kind *k)
{
    if (name == NULL || k == NULL) return NB_EINVAL;
    for (unsigned i = 0; i < NB_OPTIM_KIND_COUNT_; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *k = (nb_optim_kind)i;
            return NB_OK;
        }
    return NB_ENOTFOUND;
}

int nb_schedule_kind_parse(const char *name, nb_schedule_kind *k)
{
    if (name == NULL || k == NULL) return NB_EINVAL;
    for (unsigned i = 0; i < NB_SCHEDULE_KIND_COUNT_; i++)
        if (strcmp(name, schedule_names[i]) == 0) {
            *k = (nb_schedule_kind)i;
            return NB_OK;
        }
    return NB_ENOTFOUND;
}

/* ---- options -------------------------------------------------------------- */

void nb_optim_opts_init(nb_optim_opts *o)
{
    if (o == NULL) return;
    memset(o, 0, sizeof *o);
    o->kind = NB_OPTIM_SGD;
    o->lr = 0.01;
    o->momentum = 0.9;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->weight_decay = 0.0;
    o->schedule = NB_SCHEDULE_CONSTANT;
    o->gamma = 0.1;
    o->step_size = 10;
}

int nb_optim_opts_check(const nb_optim_opts *o, char *msg, size_t len)
{
    if (msg != NULL && len > 0) msg[0] = '\0';
    if (o == NULL) return nbi_fail(msg, len, NB_EINVAL, "optim: NULL options");
    if ((unsigned)o->kind >= NB_OPTIM_KIND_COUNT_)
        return nbi_fail(msg, len, NB_EINVAL, "optim: kind %d is not an optimizer", (int)o->kind);
    if (!isfinite(o->lr) || !(o->lr > 0))
        return nbi_fail(msg, len, NB_EINVAL, "optim: lr = %g must be finite and > 0", o->lr);
    if (!(o->momentum >= 0 && o->momentum < 1))
        return nbi_fail(msg, len, NB_EINVAL, "optim: momentum = %g is outside [0, 1)", o->momentum);
    if (o->kind == NB_OPTIM_NESTEROV && !(o->momentum > 0))
        return nbi_fail(msg, len, NB_EINVAL, "optim: nesterov needs momentum > 0 (got %g)",
                    o->momentum);
    if (!(o->beta1 >= 0 && o->beta1 < 1))
        return nbi_fail(msg, len, NB_EINVAL, "optim: beta1 = %g is outside [0, 1)", o->beta1);
    if (!(o->beta2 >= 0 && o->beta2 < 1))
        return nbi_fail(msg, len, NB_EINVAL, "optim: beta2 = %g is outside [0, 1)", o->beta2);
    if (!isfinite(o->eps) || !(o->eps > 0))
        return nbi_fail(msg, len, NB_EINVAL, "optim: eps = %g must be finite and > 0", o->eps);
    if (!isfinite(o->weight_decay) || !(o->weight_decay >= 0))
        return nbi_fail(msg, len, NB_EINVAL, "optim: weight_decay = %g must be finite and >= 0",
                    o->weight_decay);
    if ((unsigned)o->schedule >= NB_SCHEDULE_KIND_COUNT_)
        return nbi_fail(msg, len, NB_EINVAL, "optim: schedule %d is not a schedule",
                    (int)o->schedule);
    if (!isfinite(o->gamma) || !(o->gamma > 0))
        return nbi_fail(msg, len, NB_EINVAL, "optim: gamma = %g must be finite and > 0", o->gamma);
    if (o->step_size == 0)
        return nbi_fail(msg, len, NB_EINVAL, "optim: step_size must be >= 1");
    return NB_OK;
}

static size_t buffers_of(nb_optim_kind k)
{
    switch (k) {
    case NB_OPTIM_MOMENTUM:
    case NB_OPTIM_NESTEROV: return 1;
    case NB_OPTIM_ADAM: return 2;
    default: return 0;
    }
}

/* Archive names of the state buffers, as PyTorch names them in state_dict. */
static const char *buffer_name(nb_optim_kind k, size_t b)
{
    if (k == NB_OPTIM_ADAM) return b == 0 ? "exp_avg" : "exp_avg_sq";
    return "momentum_buffer";
}

/* ---- life cycle ----------------------------------------------------------- */

nb_optim *nb_optim_alloc(nb_graph *g, const nb_optim_opts *o, char *msg, size_t len)
{
    if (msg != NULL && len > 0) msg[0] = '\0';
    if (g == NULL) {
        nbi_fail(msg, len, NB_EINVAL, "optim: NULL graph");
        return NULL;
    }
    nb_optim_opts d;
    if (o == NULL) {
        nb_optim_opts_init(&d);
        o = &d;
    }
    if (nb_optim_opts_check(o, msg, len) != NB_OK) return NULL;

    size_t np = nb_graph_param_count(g);
    size_t nbuf = buffers_of(o->kind);
    size_t total = 0;
    for (size_t i = 0; i < np; i++) {
        size_t n = nb_node_size(nb_graph_param_at(g, i));
        if (n > SIZE_MAX / sizeof(double) / 2 - total) {
            nbi_fail(msg, len, NB_ENOMEM, "optim: state for %zu parameters does not fit in memory",
                 np);
            return NULL;
        }
        total += n;
    }

    nb_optim *opt = nbi_graph_malloc(g, sizeof *opt);
    if (opt == NULL) goto oom;
    memset(opt, 0, sizeof *opt);
    opt->g = g;
    opt->o = *o;
    opt->n_slots = np;
    opt->nbuf = nbuf;
    if (np > 0) {
        opt->slots = nbi_graph_malloc(g, np * sizeof *opt->slots);
        opt->fused = nbi_graph_malloc(g, np * sizeof *opt->fused);
        opt->want = nbi_graph_malloc(g, np);
        if (opt->slots == NULL || opt->fused == NULL || opt->want == NULL) goto oom;
    }
    if (nbuf > 0 && total > 0) {
        opt->state = nbi_graph_malloc(g, nbuf * total * sizeof(double));
        if (opt->state == NULL) goto oom;
        memset(opt->state, 0, nbuf * total * sizeof(double));
    }
    double *s = opt->state;
    for (size_t i = 0; i < np; i++) {
        slot *sl = &opt->slots[i];
        sl->p = nb_graph_param_at(g, i);
        sl->n = nb_node_size(sl->p);
        sl->buf[0] = sl->buf[1] = NULL;
        for (size_t b = 0; b < nbuf; b++) {
            sl->buf[b] = s;
            s += sl->n;
        }
        sl->step = 0;
        sl->trainable = 1;
    }
    return opt;
oom:
    nb_optim_free(opt);
    nbi_fail(msg, len, NB_ENOMEM, "optim: out of memory for %zu parameters (%zu values)", np, total);
    return NULL;
}

void nb_optim_free(nb_optim *opt)
{
    if (opt == NULL) return;
    nb_graph *g = opt->g;
    nbi_graph_mfree(g, opt->state);
    nbi_graph_mfree(g, opt->slots);
    nbi_graph_mfree(g, opt->fused);
    nbi_graph_mfree(g, opt->want);
    nbi_graph_mfree(g, opt);
}

void nb_optim_get_opts(const nb_optim *opt, nb_optim_opts *o)
{
    if (opt != NULL && o != NULL) *o = opt->o;
}

static slot *find_slot(const nb_optim *opt, const char *name)
{
    for (size_t i = 0; i < opt->n_slots; i++)
        if (strcmp(nb_node_name(opt->slots[i].p), name) == 0) return &opt->slots[i];
    return NULL;
}

int nb_optim_set_trainable(nb_optim *opt, const char *param_name, int trainable)
{
    if (opt == NULL || param_name == NULL) return NB_EINVAL;
    opt->errmsg[0] = '\0';
    slot *s = find_slot(opt, param_name);
    if (s == NULL)
        return nbi_fail(opt->errmsg, sizeof opt->errmsg, NB_ENOTFOUND,
                    "optim: no parameter '%s' (the optimizer has the %zu parameters the graph "
                    "had when it was allocated)", param_name, opt->n_slots);
    s->trainable = trainable != 0;
    return NB_OK;
}

int nb_optim_is_trainable(const nb_optim *opt, const char *param_name)
{
    if (opt == NULL || param_name == NULL) return 0;
    const slot *s = find_slot(opt, param_name);
    return s != NULL && s->trainable;
}

double nb_optim_lr(const nb_optim *opt, size_t epoch)
{
    if (opt == NULL) return NAN;
    const nb_optim_opts *o = &opt->o;
    switch (o->schedule) {
    case NB_SCHEDULE_STEP: return o->lr * pow(o->gamma, (double)(epoch / o->step_size));
    case NB_SCHEDULE_EXP: return o->lr * pow(o->gamma, (double)epoch);
    default: return o->lr;
    }
}

size_t nb_optim_steps(const nb_optim *opt) { return opt ? opt->steps : 0; }

const char *nb_optim_errmsg(const nb_optim *opt) { return opt ? opt->errmsg : ""; }

/* ---- updates -------------------------------------------------------------- */

/* w, g, v: (n).  PyTorch: d_p = g.add(w, alpha=wd); buf.mul_(mu).add_(d_p);
 * nesterov: d_p = d_p.add(buf, alpha=mu); w.add_(d_p, alpha=-lr). */
static void update_sgd_family(nb_optim_kind kind, double *w, const double *g, double *v,
                              size_t n, double lr, double mu, double wd)
{
    if (kind == NB_OPTIM_SGD && wd == 0) {   /* the common case, as one vector loop */
        for (size_t i = 0; i < n; i++) w[i] = w[i] - lr * g[i];
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double d = g[i];
        if (wd != 0) d = d + wd * w[i];
        if (kind == NB_OPTIM_MOMENTUM) {
            v[i] = v[i] * mu + d;
            d = v[i];
        } else if (kind == NB_OPTIM_NESTEROV) {
            v[i] = v[i] * mu + d;
            d = d + mu * v[i];
        }
        w[i] = w[i] - lr * d;
    }
}

/* w, g, m, s: (n); t the parameter's update count after this step.
 * PyTorch: exp_avg.mul_(b1).add_(g, alpha=1-b1);
 * exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2);
 * denom = (exp_avg_sq.sqrt() / sqrt(bc2)).add_(eps);
 * w.addcdiv_(exp_avg, denom, value=-lr/bc1)  ==  w + ((-step)*m)/denom. */
static void update_adam(double *w, const double *g, double *m, double *s, size_t n,
                        size_t t, double lr, const nb_optim_opts *o)
{
    const double b1 = o->beta1, b2 = o->beta2;
    if (o->weight_decay != 0) {            /* AdamW: decoupled, before the moments */
        const double f = 1 - lr * o->weight_decay;
        for (size_t i = 0; i < n; i++) w[i] = w[i] * f;
    }
    const double bc1 = 1 - pow(b1, (double)t);
    const double bc2 = 1 - pow(b2, (double)t);
    const double step_size = lr / bc1;
    const double bc2_sqrt = sqrt(bc2);
    for (size_t i = 0; i < n; i++) {
        m[i] = m[i] * b1 + (1 - b1) * g[i];
        s[i] = s[i] * b2 + ((1 - b2) * g[i]) * g[i];
        const double denom = sqrt(s[i]) / bc2_sqrt + o->eps;
        w[i] = w[i] - (step_size * m[i]) / denom;
    }
}

/* The schedule's rate at epoch into *lr; NB_EDOMAIN with the message when
 * it is not finite. */
static int rate(nb_optim *opt, size_t epoch, double *lr)
{
    *lr = nb_optim_lr(opt, epoch);
    if (isfinite(*lr)) return NB_OK;
    return nbi_fail(opt->errmsg, sizeof opt->errmsg, NB_EDOMAIN,
                    "optim: the %s schedule gives lr = %g at epoch %zu; nothing updated",
                    nb_schedule_kind_name(opt->o.schedule), *lr, epoch);
}

/* NB_OK when v[0..rows*cols) is finite; else NB_EDOMAIN naming the
 * parameter, what (its gradient, or a factor of it) and the element. */
static int check_finite(nb_optim *opt, const slot *s, const char *what, const double *v,
                        size_t rows, size_t cols)
{
    if (nbi_all_finite(v, rows * cols)) return NB_OK;
    size_t i = 0;
    while (i + 1 < rows * cols && isfinite(v[i])) i++;
    return nbi_fail(opt->errmsg, sizeof opt->errmsg, NB_EDOMAIN,
                    "optim: %s of parameter '%s' (%zux%zu) is %g at (%zu, %zu); nothing updated",
                    what, nb_node_name(s->p), nb_node_rows(s->p), nb_node_cols(s->p), v[i],
                    i / cols, i % cols);
}

static void update_slot(nb_optim *opt, slot *s, const double *g, double lr)
{
    double *w = nb_node_value(s->p);
    s->step++;
    if (opt->o.kind == NB_OPTIM_ADAM)
        update_adam(w, g, s->buf[0], s->buf[1], s->n, s->step, lr, &opt->o);
    else
        update_sgd_family(opt->o.kind, w, g, s->buf[0], s->n, lr, opt->o.momentum,
                          opt->o.weight_decay);
}

int nb_optim_step(nb_optim *opt, size_t epoch)
{
    if (opt == NULL) return NB_EINVAL;
    opt->errmsg[0] = '\0';
    double lr;
    int st = rate(opt, epoch, &lr);
    /* Scan first so that a bad gradient changes nothing at all. */
    for (size_t k = 0; st == NB_OK && k < opt->n_slots; k++) {
        const slot *s = &opt->slots[k];
        const double *g = nb_node_grad(s->p);
        if (s->trainable && g != NULL)
            st = check_finite(opt, s, "gradient", g, nb_node_rows(s->p), nb_node_cols(s->p));
    }
    if (st != NB_OK) return st;
    for (size_t k = 0; k < opt->n_slots; k++) {
        slot *s = &opt->slots[k];
        const double *g = nb_node_grad(s->p);
        if (s->trainable && g != NULL) update_slot(opt, s, g, lr);
    }
    opt->steps++;
    return NB_OK;
}

/* Plain SGD needs no gradient buffer for a weight that enters one matrix
 * product: w = (1 - lr*wd)*w - lr*(A^T G) is one dgemm with alpha = -lr
 * and beta = 1 - lr*wd into w itself, run after the sweep (deferred, so
 * that every gradient is checked before anything changes).  That saves
 * writing the gradient, reading it back and a separate pass over w. */
int nb_optim_backward(nb_optim *opt, nb_node *loss, size_t epoch)
{
    if (opt == NULL) return NB_EINVAL;
    nb_graph *g = opt->g;
    opt->errmsg[0] = '\0';
    int st;
    if (opt->o.kind != NB_OPTIM_SGD) {   /* they need the gradient itself */
        nb_graph_zero_grad(g);
        st = nb_backward(g, loss);
    } else {
        for (size_t k = 0; k < opt->n_slots; k++) opt->want[k] = (unsigned char)opt->slots[k].trainable;
        st = nbi_backward_fused(g, loss, opt->want, opt->fused, opt->n_slots);
    }
    if (st != NB_OK)
        return nbi_fail(opt->errmsg, sizeof opt->errmsg, st, "%s", nb_graph_errmsg(g));
    if (opt->o.kind != NB_OPTIM_SGD) return nb_optim_step(opt, epoch);

    double lr;
    st = rate(opt, epoch, &lr);
    for (size_t k = 0; st == NB_OK && k < opt->n_slots; k++) {
        const slot *s = &opt->slots[k];
        const nbi_fused *f = &opt->fused[k];
        if (!s->trainable) continue;
        if (!f->node) {
            st = check_finite(opt, s, "gradient", nb_node_grad(s->p), nb_node_rows(s->p),
                              nb_node_cols(s->p));
            continue;
        }
        /* The factors of the product: the consumer's output gradient, and
         * the other operand unless the forward pass checked it already. */
        const nb_node *x;
        char what[96];
        nbi_grad_product_operands(f->node, f->slot, &x);
        snprintf(what, sizeof what, "the factor dL/d(%s) (%zux%zu) of the gradient",
                 f->node->op->name, f->node->rows, f->node->cols);
        st = check_finite(opt, s, what, f->node->grad, f->node->rows, f->node->cols);
        snprintf(what, sizeof what, "the factor %s (%zux%zu) of the gradient",
                 f->slot == 0 ? "B" : "A", x->rows, x->cols);
        if (st == NB_OK && !g->check_finite)
            st = check_finite(opt, s, what, x->value, x->rows, x->cols);
    }
    if (st != NB_OK) return st;
    const double decay = 1.0 - lr * opt->o.weight_decay;
    for (size_t k = 0; k < opt->n_slots; k++) {
        slot *s = &opt->slots[k];
        const nbi_fused *f = &opt->fused[k];
        if (!s->trainable) continue;
        if (f->node) {
            s->step++;
            nbi_grad_product(f->node, f->slot, nb_node_value(s->p), -lr, decay);
        } else {
            update_slot(opt, s, nb_node_grad(s->p), lr);
        }
    }
    opt->steps++;
    return NB_OK;
}

/* ---- checkpoints ---------------------------------------------------------- */

#define KEY_LEN (NB_ARCHIVE_NAME_MAX + 2)

/* key := prefix + formatted suffix; 0 when longer than an archive name. */
static int make_key(char *key, const char *prefix, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int make_key(char *key, const char *prefix, const char *fmt, ...)
{
    int n = snprintf(key, KEY_LEN, "%s", prefix);
    if (n < 0 || n >= KEY_LEN) return 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(key + n, KEY_LEN - (size_t)n, fmt, ap);
    va_end(ap);
    return m >= 0 && (size_t)n + (size_t)m <= NB_ARCHIVE_NAME_MAX;
}

/* Stores metadata prefix+suffix := formatted value. */
static int put_meta(nb_archive *ar, const char *prefix, const char *suffix,
                    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int put_meta(nb_archive *ar, const char *prefix, const char *suffix,
                    const char *fmt, ...)
{
    char key[KEY_LEN];
    char value[64 + NB_ARCHIVE_NAME_MAX];
    if (!make_key(key, prefix, "%s", suffix)) return NB_EINVAL;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof value) return NB_EINVAL;
    return nb_archive_put_str(ar, key, value);
}

int nb_optim_save(const nb_optim *opt, nb_archive *ar, const char *prefix)
{
    if (opt == NULL || ar == NULL) return NB_EINVAL;
    if (prefix == NULL) prefix = "";
    const nb_optim_opts *o = &opt->o;
    const struct { const char *key; double value; } reals[] = {
        { "lr", o->lr }, { "momentum", o->momentum }, { "beta1", o->beta1 },
        { "beta2", o->beta2 }, { "eps", o->eps }, { "weight_decay", o->weight_decay },
        { "gamma", o->gamma },
    };
    int st = put_meta(ar, prefix, "kind", "%s", nb_optim_kind_name(o->kind));
    for (size_t i = 0; i < sizeof reals / sizeof reals[0] && st == NB_OK; i++)
        st = put_meta(ar, prefix, reals[i].key, "%.17g", reals[i].value);
    if (st == NB_OK) st = put_meta(ar, prefix, "schedule", "%s", nb_schedule_kind_name(o->schedule));
    if (st == NB_OK) st = put_meta(ar, prefix, "step_size", "%zu", o->step_size);
    if (st == NB_OK) st = put_meta(ar, prefix, "steps", "%zu", opt->steps);
    if (st == NB_OK) st = put_meta(ar, prefix, "param_count", "%zu", opt->n_slots);

    for (size_t i = 0; i < opt->n_slots && st == NB_OK; i++) {
        const slot *s = &opt->slots[i];
        const char *name = nb_node_name(s->p);
        char suffix[64];
        snprintf(suffix, sizeof suffix, "param/%zu/name", i);
        st = put_meta(ar, prefix, suffix, "%s", name);
        snprintf(suffix, sizeof suffix, "param/%zu/shape", i);
        if (st == NB_OK)
            st = put_meta(ar, prefix, suffix, "%zux%zu", nb_node_rows(s->p), nb_node_cols(s->p));
        snprintf(suffix, sizeof suffix, "param/%zu/step", i);
        if (st == NB_OK) st = put_meta(ar, prefix, suffix, "%zu", s->step);
        snprintf(suffix, sizeof suffix, "param/%zu/trainable", i);
        if (st == NB_OK) st = put_meta(ar, prefix, suffix, "%d", s->trainable);
        for (size_t b = 0; b < opt->nbuf && st == NB_OK; b++) {
            char key[KEY_LEN];
            if (!make_key(key, prefix, "%s/%s", buffer_name(o->kind, b), name)) return NB_EINVAL;
            st = nb_archive_put(ar, key, nb_node_rows(s->p), nb_node_cols(s->p), s->buf[b]);
        }
    }
    return st;
}

/* Strict parsers: the whole string, no sign, no spaces. */
static int parse_size(const char *s, size_t *out)
{
    if (s == NULL || *s < '0' || *s > '9') return 0;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > SIZE_MAX) return 0;
    *out = (size_t)v;
    return 1;
}

static int parse_double(const char *s, double *out)
{
    if (s == NULL || *s == '\0' || isspace((unsigned char)*s)) return 0;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static int parse_shape(const char *s, size_t *rows, size_t *cols)
{
    if (s == NULL) return 0;
    const char *x = strchr(s, 'x');
    if (x == NULL || x == s || (size_t)(x - s) >= 32) return 0;
    char head[32];
    memcpy(head, s, (size_t)(x - s));
    head[x - s] = '\0';
    return parse_size(head, rows) && parse_size(x + 1, cols);
}

/* Looks up prefix+suffix; NB_ENOTFOUND with a message when absent. */
static int get_meta(const nb_archive *ar, const char *prefix, const char *suffix,
                    const char **value, char *msg, size_t len)
{
    char key[KEY_LEN];
    if (!make_key(key, prefix, "%s", suffix))
        return nbi_fail(msg, len, NB_EINVAL, "optim restore: prefix '%s' is too long", prefix);
    *value = nb_archive_get_str(ar, key);
    if (*value == NULL)
        return nbi_fail(msg, len, NB_ENOTFOUND, "optim restore: no metadata '%s'", key);
    return NB_OK;
}

/* One pass over the checkpoint: checks everything and, when commit is set,
 * writes it into opt.  Run once with commit 0, then (it cannot fail then,
 * the archive being unchanged) with commit 1. */
static int restore_pass(nb_optim *opt, const nb_archive *ar, const char *prefix, int commit,
                        char *msg, size_t len)
{
    const char *v;
    int st;
    nb_optim_opts o = opt->o;

    if ((st = get_meta(ar, prefix, "kind", &v, msg, len)) != NB_OK) return st;
    nb_optim_kind kind;
    if (nb_optim_kind_parse(v, &kind) != NB_OK)
        return nbi_fail(msg, len, NB_EFORMAT, "optim restore: %skind = '%s' is not an optimizer",
                    prefix, v);
    if (kind != opt->o.kind)
        return nbi_fail(msg, len, NB_EINVAL, "optim restore: the checkpoint is for a '%s' "
                    "optimizer, this one is '%s'", v, nb_optim_kind_name(opt->o.kind));

    size_t np;
    if ((st = get_meta(ar, prefix, "param_count", &v, msg, len)) != NB_OK) return st;
    if (!parse_size(v, &np))
        return nbi_fail(msg, len, NB_EFORMAT, "optim restore: %sparam_count = '%s'", prefix, v);
    if (np != opt->n_slots)
        return nbi_fail(msg, len, NB_ESHAPE, "optim restore: the checkpoint has %zu parameters, "
                    "this optimizer %zu", np, opt->n_slots);

    const struct { const char *key; double *value; } reals[] = {
        { "lr", &o.lr }, { "momentum", &o.momentum }, { "beta1", &o.beta1 },
        { "beta2", &o.beta2 }, { "eps", &o.eps }, { "weight_decay", &o.weight_decay },
        { "gamma", &o.gamma },
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        if ((st = get_meta(ar, prefix, reals[i].key, &v, msg, len)) != NB_OK) return st;
        if (!parse_double(v, reals[i].value))
            return nbi_fail(msg, len, NB_EFORMAT, "optim restore: %s%s = '%s' is not a finite "
                        "number", prefix, reals[i].key, v);
    }
    if ((st = get_meta(ar, prefix, "schedule", &v, msg, len)) != NB_OK) return st;
    if (nb_schedule_kind_parse(v, &o.schedule) != NB_OK)
        return nbi_fail(msg, len, NB_EFORMAT, "optim restore: %sschedule = '%s' is not a schedule",
                    prefix, v);
    if ((st = get_meta(ar, prefix, "step_size", &v, msg, len)) != NB_OK) return st;
    if (!parse_size(v, &o.step_size))
        return nbi_fail(msg, len, NB_EFORMAT, "optim restore: %sstep_size = '%s'", prefix, v);
    char why[200];
    if (nb_optim_opts_check(&o, why, sizeof why) != NB_OK)
        return nbi_fail(msg, len, NB_EFORMAT, "optim restore: checkpoint options: %s", why);
    size_t steps;
    if ((st = get_meta(ar, prefix, "steps", &v, msg, len)) != NB_OK) return st;
    if (!parse_size(v, &steps))
        return nbi_fail(msg, len, NB_EFORMAT, "optim restore: %ssteps = '%s'", prefix, v);

    for (size_t i = 0; i < np; i++) {
        slot *s = &opt->slots[i];
        const char *name = nb_node_name(s->p);
        char suffix[64];
        snprintf(suffix, sizeof suffix, "param/%zu/name", i);
        if ((st = get_meta(ar, prefix, suffix, &v, msg, len)) != NB_OK) return st;
        if (strcmp(v, name) != 0)
            return nbi_fail(msg, len, NB_ESHAPE, "optim restore: parameter %zu is '%s' in the "
                        "checkpoint, '%s' here", i, v, name);
        size_t r, c, step;
        snprintf(suffix, sizeof suffix, "param/%zu/shape", i);
        if ((st = get_meta(ar, prefix, suffix, &v, msg, len)) != NB_OK) return st;
        if (!parse_shape(v, &r, &c))
            return nbi_fail(msg, len, NB_EFORMAT, "optim restore: %s%s = '%s'", prefix, suffix, v);
        if (r != nb_node_rows(s->p) || c != nb_node_cols(s->p))
            return nbi_fail(msg, len, NB_ESHAPE, "optim restore: parameter '%s' is (%zux%zu) in "
                        "the checkpoint, (%zux%zu) here", name, r, c, nb_node_rows(s->p),
                        nb_node_cols(s->p));
        snprintf(suffix, sizeof suffix, "param/%zu/step", i);
        if ((st = get_meta(ar, prefix, suffix, &v, msg, len)) != NB_OK) return st;
        if (!parse_size(v, &step))
            return nbi_fail(msg, len, NB_EFORMAT, "optim restore: %s%s = '%s'", prefix, suffix, v);
        snprintf(suffix, sizeof suffix, "param/%zu/trainable", i);
        if ((st = get_meta(ar, prefix, suffix, &v, msg, len)) != NB_OK) return st;
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
            return nbi_fail(msg, len, NB_EFORMAT, "optim restore: %s%s = '%s' (expected 0 or 1)",
                        prefix, suffix, v);
        int trainable = v[0] == '1';

        const double *bufs[2] = { NULL, NULL };
        for (size_t b = 0; b < opt->nbuf; b++) {
            char key[KEY_LEN];
            if (!make_key(key, prefix, "%s/%s", buffer_name(kind, b), name))
                return nbi_fail(msg, len, NB_EINVAL, "optim restore: state name for '%s' is too "
                            "long", name);
            bufs[b] = nb_archive_get(ar, key, &r, &c);
            if (bufs[b] == NULL)
                return nbi_fail(msg, len, NB_ENOTFOUND, "optim restore: no tensor '%s'", key);
            if (r != nb_node_rows(s->p) || c != nb_node_cols(s->p))
                return nbi_fail(msg, len, NB_ESHAPE, "optim restore: tensor '%s' is (%zux%zu), "
                            "parameter '%s' is (%zux%zu)", key, r, c, name, nb_node_rows(s->p),
                            nb_node_cols(s->p));
        }
        if (commit) {
            s->step = step;
            s->trainable = trainable;
            for (size_t b = 0; b < opt->nbuf; b++)
                if (s->n) memcpy(s->buf[b], bufs[b], s->n * sizeof(double));
        }
    }
    if (commit) {
        opt->o = o;
        opt->steps = steps;
    }
    return NB_OK;
}

int nb_optim_restore(nb_optim *opt, const nb_archive *ar, const char *prefix, char *msg,
                     size_t len)
{
    if (msg != NULL && len > 0) msg[0] = '\0';
    if (opt == NULL || ar == NULL)
        return nbi_fail(msg, len, NB_EINVAL, "optim restore: NULL optimizer or archive");
    if (prefix == NULL) prefix = "";
    int st = restore_pass(opt, ar, prefix, 0, msg, len);
    if (st == NB_OK) st = restore_pass(opt, ar, prefix, 1, msg, len);
    return st;
}
