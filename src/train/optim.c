/* optim.c — optimizers as types (SGD, momentum, Nesterov, Adam/AdamW),
 * learning-rate schedules as types, the update of a graph's parameters
 * (alone, or fused into the backward products), and checkpoints in an
 * nb_archive.
 *
 * The update rules and the order of every floating-point operation follow
 * PyTorch 1.13's _single_tensor_sgd / _single_tensor_adam(w) (float64) so
 * that tests/test_optim.c can compare with torch to the last few ulps; see
 * include/nabla/optim.h for the rules themselves.
 *
 * State lives in one allocation (llm.c style), made through the graph's
 * allocator: for each parameter, in g's order, type->n_state blocks of
 * (rows, cols) doubles (momentum buffer; or exp_avg then exp_avg_sq).
 *
 * This file owns the fused update of nb_optim_backward (below, before the
 * function): it decides from generic facts of the tape (nbi_param_uses)
 * and the ops' grad_into hook which updates run inside a backward product,
 * and in which order, so that the result is the one of the three calls.
 */
#include <config.h>

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
    size_t n;                           /* rows*cols */
    double *buf[NB_OPTIM_MAX_STATE];    /* (rows, cols) each: the type's state */
    size_t step;                        /* updates applied to this parameter (Adam's t) */
    int trainable;
} slot;

struct nb_optim {
    nb_graph *g;
    nb_optim_opts o;
    slot *slots;       /* (n_slots) */
    size_t n_slots;
    double *state;     /* n_state * sum(rows*cols) doubles */
    size_t steps;
    size_t epoch;
    /* scratch of nb_optim_backward, (n_slots) each */
    nbi_param_use *uses;
    unsigned char *fused;  /* 1: this parameter's update runs in its consumer's product */
};

/* ---- update rules --------------------------------------------------------- */

/* w, g, v: (n).  PyTorch: d_p = g.add(w, alpha=wd); buf.mul_(mu).add_(d_p);
 * nesterov: d_p = d_p.add(buf, alpha=mu); w.add_(d_p, alpha=-lr). */
static void sgd_update(double *w, const double *g, double *const *state, size_t n, size_t t,
                       double lr, const nb_optim_opts *o)
{
    (void)state; (void)t;
    const double wd = o->weight_decay;
    if (wd == 0) {   /* the common case, as one vector loop */
        for (size_t i = 0; i < n; i++) w[i] = w[i] - lr * g[i];
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double d = g[i] + wd * w[i];
        w[i] = w[i] - lr * d;
    }
}

/* w = beta*w + alpha*g with beta = 1 - lr*wd, alpha = -lr: sgd_update up
 * to rounding (there w - lr*(g + wd*w)). */
static void sgd_fused_update(double lr, const nb_optim_opts *o, double *alpha, double *beta)
{
    *alpha = -lr;
    *beta = 1.0 - lr * o->weight_decay;
}

static void momentum_update(double *w, const double *g, double *const *state, size_t n,
                            size_t t, double lr, const nb_optim_opts *o)
{
    (void)t;
    double *v = state[0];
    const double wd = o->weight_decay, mu = o->momentum;
    for (size_t i = 0; i < n; i++) {
        double d = g[i];
        if (wd != 0) d = d + wd * w[i];
        v[i] = v[i] * mu + d;
        w[i] = w[i] - lr * v[i];
    }
}

static void nesterov_update(double *w, const double *g, double *const *state, size_t n,
                            size_t t, double lr, const nb_optim_opts *o)
{
    (void)t;
    double *v = state[0];
    const double wd = o->weight_decay, mu = o->momentum;
    for (size_t i = 0; i < n; i++) {
        double d = g[i];
        if (wd != 0) d = d + wd * w[i];
        v[i] = v[i] * mu + d;
        d = d + mu * v[i];
        w[i] = w[i] - lr * d;
    }
}

static int nesterov_check(const nb_optim_opts *o, nb_error *err)
{
    if (o->momentum > 0) return NB_OK;
    return nb_error_set(err, NB_EINVAL, "optim: nesterov needs momentum > 0 (got %g)",
                        o->momentum);
}

/* w, g, m, s: (n); t the parameter's update count after this step.
 * PyTorch: exp_avg.mul_(b1).add_(g, alpha=1-b1);
 * exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2);
 * denom = (exp_avg_sq.sqrt() / sqrt(bc2)).add_(eps);
 * w.addcdiv_(exp_avg, denom, value=-lr/bc1)  ==  w + ((-step)*m)/denom. */
static void adam_update(double *w, const double *g, double *const *state, size_t n, size_t t,
                        double lr, const nb_optim_opts *o)
{
    double *m = state[0], *s = state[1];
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

const nb_optim_type nb_optim_sgd = {
    .name = "sgd", .n_state = 0, .update = sgd_update, .fused_update = sgd_fused_update,
};
const nb_optim_type nb_optim_momentum = {
    .name = "momentum", .n_state = 1, .state_names = { "momentum_buffer" },
    .update = momentum_update,
};
const nb_optim_type nb_optim_nesterov = {
    .name = "nesterov", .n_state = 1, .state_names = { "momentum_buffer" },
    .check = nesterov_check, .update = nesterov_update,
};
const nb_optim_type nb_optim_adam = {
    .name = "adam", .n_state = 2, .state_names = { "exp_avg", "exp_avg_sq" },
    .update = adam_update,
};

/* The table: configs, checkpoints and the tests find optimizers here. */
static const nb_optim_type *const optim_types[] = {
    &nb_optim_sgd, &nb_optim_momentum, &nb_optim_nesterov, &nb_optim_adam,
};

size_t nb_optim_type_count(void) { return sizeof optim_types / sizeof optim_types[0]; }

const nb_optim_type *nb_optim_type_at(size_t i)
{
    return i < nb_optim_type_count() ? optim_types[i] : NULL;
}

const nb_optim_type *nb_optim_type_find(const char *name)
{
    for (size_t i = 0; name && i < nb_optim_type_count(); i++)
        if (strcmp(name, optim_types[i]->name) == 0) return optim_types[i];
    return NULL;
}

/* ---- schedules ------------------------------------------------------------ */

static double constant_rate(const nb_optim_opts *o, size_t epoch)
{
    (void)epoch;
    return o->lr;
}

static double step_rate(const nb_optim_opts *o, size_t epoch)
{
    return o->lr * pow(o->gamma, (double)(epoch / o->step_size));
}

static double exp_rate(const nb_optim_opts *o, size_t epoch)
{
    return o->lr * pow(o->gamma, (double)epoch);
}

const nb_schedule_type nb_schedule_constant = { .name = "constant", .rate = constant_rate };
const nb_schedule_type nb_schedule_step = { .name = "step", .rate = step_rate };
const nb_schedule_type nb_schedule_exp = { .name = "exp", .rate = exp_rate };

static const nb_schedule_type *const schedule_types[] = {
    &nb_schedule_constant, &nb_schedule_step, &nb_schedule_exp,
};

size_t nb_schedule_type_count(void) { return sizeof schedule_types / sizeof schedule_types[0]; }

const nb_schedule_type *nb_schedule_type_at(size_t i)
{
    return i < nb_schedule_type_count() ? schedule_types[i] : NULL;
}

const nb_schedule_type *nb_schedule_type_find(const char *name)
{
    for (size_t i = 0; name && i < nb_schedule_type_count(); i++)
        if (strcmp(name, schedule_types[i]->name) == 0) return schedule_types[i];
    return NULL;
}

/* ---- options -------------------------------------------------------------- */

void nb_optim_opts_init(nb_optim_opts *o)
{
    if (o == NULL) return;
    memset(o, 0, sizeof *o);
    o->type = &nb_optim_sgd;
    o->lr = 0.01;
    o->momentum = 0.9;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->weight_decay = 0.0;
    o->schedule = &nb_schedule_constant;
    o->gamma = 0.1;
    o->step_size = 10;
}

int nb_optim_opts_check(const nb_optim_opts *o, nb_error *err)
{
    if (o == NULL) return nb_error_set(err, NB_EINVAL, "optim: NULL options");
    const nb_optim_type *t = o->type;
    if (t == NULL || t->name == NULL || t->update == NULL || t->n_state > NB_OPTIM_MAX_STATE)
        return nb_error_set(err, NB_EINVAL, "optim: the type is %s",
                            t == NULL ? "NULL" : "incomplete (name, update, n_state <= "
                                                 "NB_OPTIM_MAX_STATE)");
    for (size_t b = 0; b < t->n_state; b++)
        if (t->state_names[b] == NULL)
            return nb_error_set(err, NB_EINVAL, "optim: type '%s': state buffer %zu has no name",
                                t->name, b);
    if (!isfinite(o->lr) || !(o->lr > 0))
        return nb_error_set(err, NB_EINVAL, "optim: lr = %g must be finite and > 0", o->lr);
    if (!(o->momentum >= 0 && o->momentum < 1))
        return nb_error_set(err, NB_EINVAL, "optim: momentum = %g is outside [0, 1)", o->momentum);
    if (!(o->beta1 >= 0 && o->beta1 < 1))
        return nb_error_set(err, NB_EINVAL, "optim: beta1 = %g is outside [0, 1)", o->beta1);
    if (!(o->beta2 >= 0 && o->beta2 < 1))
        return nb_error_set(err, NB_EINVAL, "optim: beta2 = %g is outside [0, 1)", o->beta2);
    if (!isfinite(o->eps) || !(o->eps > 0))
        return nb_error_set(err, NB_EINVAL, "optim: eps = %g must be finite and > 0", o->eps);
    if (!isfinite(o->weight_decay) || !(o->weight_decay >= 0))
        return nb_error_set(err, NB_EINVAL, "optim: weight_decay = %g must be finite and >= 0",
                            o->weight_decay);
    if (o->schedule == NULL || o->schedule->name == NULL || o->schedule->rate == NULL)
        return nb_error_set(err, NB_EINVAL, "optim: the schedule is %s",
                            o->schedule == NULL ? "NULL" : "incomplete (name, rate)");
    if (!isfinite(o->gamma) || !(o->gamma > 0))
        return nb_error_set(err, NB_EINVAL, "optim: gamma = %g must be finite and > 0", o->gamma);
    if (o->step_size == 0)
        return nb_error_set(err, NB_EINVAL, "optim: step_size must be >= 1");
    return t->check ? t->check(o, err) : NB_OK;
}

/* ---- life cycle ----------------------------------------------------------- */

nb_optim *nb_optim_alloc(nb_graph *g, const nb_optim_opts *o, nb_error *err)
{
    if (g == NULL) {
        nb_error_set(err, NB_EINVAL, "optim: NULL graph");
        return NULL;
    }
    nb_optim_opts d;
    if (o == NULL) {
        nb_optim_opts_init(&d);
        o = &d;
    }
    if (nb_optim_opts_check(o, err) != NB_OK) return NULL;

    size_t np = nb_graph_param_count(g);
    size_t nbuf = o->type->n_state;
    size_t total = 0;
    for (size_t i = 0; i < np; i++) {
        size_t n = nb_node_size(nb_graph_param_at(g, i));
        if (n > SIZE_MAX / sizeof(double) / NB_OPTIM_MAX_STATE - total) {
            nb_error_set(err, NB_ENOMEM, "optim: state for %zu parameters does not fit in memory",
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
    if (np > 0) {
        opt->slots = nbi_graph_malloc(g, np * sizeof *opt->slots);
        opt->uses = nbi_graph_malloc(g, np * sizeof *opt->uses);
        opt->fused = nbi_graph_malloc(g, np);
        if (opt->slots == NULL || opt->uses == NULL || opt->fused == NULL) goto oom;
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
        for (size_t b = 0; b < NB_OPTIM_MAX_STATE; b++) sl->buf[b] = NULL;
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
    nb_error_set(err, NB_ENOMEM, "optim: out of memory for %zu parameters (%zu values)", np,
                 total);
    return NULL;
}

void nb_optim_free(nb_optim *opt)
{
    if (opt == NULL) return;
    nb_graph *g = opt->g;
    nbi_graph_mfree(g, opt->state);
    nbi_graph_mfree(g, opt->slots);
    nbi_graph_mfree(g, opt->uses);
    nbi_graph_mfree(g, opt->fused);
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

int nb_optim_set_trainable(nb_optim *opt, const char *param_name, int trainable, nb_error *err)
{
    if (opt == NULL || param_name == NULL)
        return nb_error_set(err, NB_EINVAL, "optim: NULL optimizer or parameter name");
    slot *s = find_slot(opt, param_name);
    if (s == NULL)
        return nb_error_set(err, NB_ENOTFOUND,
                            "optim: no parameter '%s' (the optimizer has the %zu parameters the "
                            "graph had when it was allocated)", NB_ECHO(param_name), opt->n_slots);
    s->trainable = trainable != 0;
    return NB_OK;
}

int nb_optim_is_trainable(const nb_optim *opt, const char *param_name)
{
    if (opt == NULL || param_name == NULL) return 0;
    const slot *s = find_slot(opt, param_name);
    return s != NULL && s->trainable;
}

int nb_optim_set_epoch(nb_optim *opt, size_t epoch)
{
    if (opt == NULL) return NB_EINVAL;
    opt->epoch = epoch;
    return NB_OK;
}

size_t nb_optim_epoch(const nb_optim *opt) { return opt ? opt->epoch : 0; }

double nb_optim_lr(const nb_optim *opt, size_t epoch)
{
    if (opt == NULL) return NAN;
    return opt->o.schedule->rate(&opt->o, epoch);
}

size_t nb_optim_steps(const nb_optim *opt) { return opt ? opt->steps : 0; }

/* ---- updates -------------------------------------------------------------- */

/* The schedule's rate at the current epoch into *lr; NB_EDOMAIN with the
 * message when it is not finite. */
static int rate(const nb_optim *opt, double *lr, nb_error *err)
{
    *lr = nb_optim_lr(opt, opt->epoch);
    if (isfinite(*lr)) return NB_OK;
    return nb_error_set(err, NB_EDOMAIN,
                        "optim: the %s schedule gives lr = %g at epoch %zu; nothing updated",
                        opt->o.schedule->name, *lr, opt->epoch);
}

/* NB_OK when v[0..rows*cols) is finite; else NB_EDOMAIN naming the
 * parameter, what (its gradient, or a factor of it) and the element. */
static int check_finite(const slot *s, const char *what, const double *v, size_t rows,
                        size_t cols, nb_error *err)
{
    if (nbi_all_finite(v, rows * cols)) return NB_OK;
    size_t i = 0;
    while (i + 1 < rows * cols && isfinite(v[i])) i++;
    return nb_error_set(err, NB_EDOMAIN,
                        "optim: %s of parameter '%s' (%zux%zu) is %g at (%zu, %zu); nothing "
                        "updated", what, nb_node_name(s->p), nb_node_rows(s->p),
                        nb_node_cols(s->p), v[i], i / cols, i % cols);
}

static void update_slot(nb_optim *opt, slot *s, const double *g, double lr)
{
    s->step++;
    opt->o.type->update(nb_node_value(s->p), g, s->buf, s->n, s->step, lr, &opt->o);
}

int nb_optim_step(nb_optim *opt, nb_error *err)
{
    if (opt == NULL) return nb_error_set(err, NB_EINVAL, "optim: NULL optimizer");
    double lr;
    int st = rate(opt, &lr, err);
    /* Scan first so that a bad gradient changes nothing at all. */
    for (size_t k = 0; st == NB_OK && k < opt->n_slots; k++) {
        const slot *s = &opt->slots[k];
        const double *g = nb_node_grad(s->p);
        if (s->trainable && g != NULL)
            st = check_finite(s, "gradient", g, nb_node_rows(s->p), nb_node_cols(s->p), err);
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

/* ---- the fused update ------------------------------------------------------
 *
 * A type whose update is linear in w and g without state (fused_update: w =
 * beta*w + alpha*g) needs no gradient buffer for a weight whose gradient is
 * one product: the consumer's grad_into computes beta*w + alpha*(A^T G)
 * into w itself (one dgemm for matmul).  That saves clearing the gradient,
 * writing it and reading it back, and a separate pass over w.
 *
 * When that is exact, i.e. equal to zero_grad + backward + step up to the
 * rounding of the product, and how it is ensured:
 *   - the parameter is trainable and has exactly one use on the tape up to
 *     the loss (nbi_param_uses), whose op has grad_into for that input: its
 *     gradient is then that one product, nothing else adds to it;
 *   - the product reads the consumer's output gradient (final after the
 *     sweep, on the tape, never written by an update) and the values of
 *     the consumer's other inputs, which must be their forward values.  So
 *     every deferred product runs before any ordinary update (a parameter
 *     updated the usual way may be another input of the consumer: the
 *     B-before-A case of tests/test_optim.c), and no two inputs of one
 *     consumer are fused (the first product would change the value the
 *     second reads); a fused parameter has one use, so no other product
 *     reads it;
 *   - a bad gradient changes nothing: every ordinary gradient and both
 *     factors of every product are checked before the first write;
 *   - no input on the tape borrows a parameter's memory (nb_input_view):
 *     the products read inputs after some parameters are already updated,
 *     and such an input would then not hold its forward value.
 * The order is: plan, sweep (skipping the fused parameters), check
 * everything, run the deferred products, run the ordinary updates. */

/* Marks in opt->fused the parameters whose update nb_optim_backward runs in
 * their consumer's product; returns how many. */
static size_t plan_fused(nb_optim *opt, const nb_node *loss)
{
    size_t n = opt->n_slots, count = 0;
    memset(opt->fused, 0, n);
    if (nbi_param_uses(opt->g, loss, opt->uses, n) != NB_OK) return 0;
    /* An input borrowing a parameter's memory (nb_input_view) would change
     * under a product that reads it once that parameter is updated in
     * place: no fusion at all then, the three calls exactly. */
    if (nbi_view_aliases_param(opt->g, loss)) return 0;
    for (size_t k = 0; k < n; k++) {
        const nbi_param_use *u = &opt->uses[k];
        if (!opt->slots[k].trainable || u->count != 1) continue;
        const nb_op *op = u->node->op;
        if (!op->grad_into || op->grad_into(u->node, u->slot, NULL, 0.0, 0.0) != NB_OK) continue;
        int shared = 0;   /* another input of the consumer already fused */
        for (size_t j = 0; j < k && !shared; j++)
            shared = opt->fused[j] && opt->uses[j].node == u->node;
        if (shared) continue;
        opt->fused[k] = 1;
        count++;
    }
    return count;
}

/* The factors a deferred product reads: the consumer's output gradient,
 * and its other inputs' values unless the forward pass checked them. */
static int check_factors(const nb_optim *opt, const slot *s, const nbi_param_use *u,
                         nb_error *err)
{
    const nb_node *c = u->node;
    char what[160];
    snprintf(what, sizeof what, "the factor dL/d(%s) (%zux%zu) of the gradient",
             c->op->name, c->rows, c->cols);
    int st = check_finite(s, what, c->grad, c->rows, c->cols, err);
    if (opt->g->check_finite) return st;
    for (size_t i = 0; st == NB_OK && i < c->op->arity; i++) {
        const nb_node *x = c->in[i];
        if (i == u->slot) continue;
        snprintf(what, sizeof what, "the factor %s input %zu (%zux%zu) of the gradient",
                 c->op->name, i, x->rows, x->cols);
        st = check_finite(s, what, x->value, x->rows, x->cols, err);
    }
    return st;
}

int nb_optim_backward(nb_optim *opt, nb_node *loss, nb_error *err)
{
    if (opt == NULL) return nb_error_set(err, NB_EINVAL, "optim: NULL optimizer");
    nb_graph *g = opt->g;
    const nb_optim_type *t = opt->o.type;
    size_t n_fused = t->fused_update ? plan_fused(opt, loss) : 0;
    int st;
    if (n_fused == 0) {
        nb_graph_zero_grad(g);
        st = nb_backward(g, loss);
    } else {
        st = nbi_backward_skip(g, loss, opt->fused, opt->n_slots);
    }
    if (st != NB_OK) return nb_error_set(err, st, "%s", nb_graph_errmsg(g));
    if (n_fused == 0) return nb_optim_step(opt, err);

    double lr;
    st = rate(opt, &lr, err);
    for (size_t k = 0; st == NB_OK && k < opt->n_slots; k++) {
        const slot *s = &opt->slots[k];
        if (!s->trainable) continue;
        if (opt->fused[k]) st = check_factors(opt, s, &opt->uses[k], err);
        else st = check_finite(s, "gradient", nb_node_grad(s->p), nb_node_rows(s->p),
                               nb_node_cols(s->p), err);
    }
    if (st != NB_OK) return st;
    double alpha, beta;
    t->fused_update(lr, &opt->o, &alpha, &beta);
    for (size_t k = 0; k < opt->n_slots; k++) {   /* every product first */
        slot *s = &opt->slots[k];
        if (!opt->fused[k]) continue;
        const nbi_param_use *u = &opt->uses[k];
        s->step++;
        u->node->op->grad_into(u->node, u->slot, nb_node_value(s->p), alpha, beta);
    }
    for (size_t k = 0; k < opt->n_slots; k++) {
        slot *s = &opt->slots[k];
        if (s->trainable && !opt->fused[k]) update_slot(opt, s, nb_node_grad(s->p), lr);
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
    int n = nbi_vformat(value, sizeof value, fmt, ap);   /* "%.17g" whatever the locale */
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
    int st = put_meta(ar, prefix, "kind", "%s", o->type->name);
    for (size_t i = 0; i < sizeof reals / sizeof reals[0] && st == NB_OK; i++)
        st = put_meta(ar, prefix, reals[i].key, "%.17g", reals[i].value);
    if (st == NB_OK) st = put_meta(ar, prefix, "schedule", "%s", o->schedule->name);
    if (st == NB_OK) st = put_meta(ar, prefix, "step_size", "%zu", o->step_size);
    if (st == NB_OK) st = put_meta(ar, prefix, "steps", "%zu", opt->steps);
    if (st == NB_OK) st = put_meta(ar, prefix, "epoch", "%zu", opt->epoch);
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
        for (size_t b = 0; b < o->type->n_state && st == NB_OK; b++) {
            char key[KEY_LEN];
            if (!make_key(key, prefix, "%s/%s", o->type->state_names[b], name)) return NB_EINVAL;
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
    if (s == NULL || *s == '\0' || *s == ' ' || (*s >= '\t' && *s <= '\r')) return 0;
    errno = 0;
    char *end;
    double v = nbi_strtod(s, &end);
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
                    const char **value, nb_error *err)
{
    char key[KEY_LEN];
    if (!make_key(key, prefix, "%s", suffix))
        return nb_error_set(err, NB_EINVAL, "optim restore: prefix '%s' is too long",
                            NB_ECHO(prefix));
    *value = nb_archive_get_str(ar, key);
    if (*value == NULL)
        return nb_error_set(err, NB_ENOTFOUND, "optim restore: no metadata '%s'", NB_ECHO(key));
    return NB_OK;
}

/* One pass over the checkpoint: checks everything and, when commit is set,
 * writes it into opt.  Run once with commit 0, then (it cannot fail then,
 * the archive being unchanged) with commit 1. */
static int restore_pass(nb_optim *opt, const nb_archive *ar, const char *prefix, int commit,
                        nb_error *err)
{
    const char *v;
    int st;
    nb_optim_opts o = opt->o;
    /* the checkpoint is untrusted: its text is echoed escaped and cut */
    const char *pre = NB_ECHO(prefix);

    if ((st = get_meta(ar, prefix, "kind", &v, err)) != NB_OK) return st;
    if (strcmp(v, o.type->name) != 0)
        return nb_error_set(err, nb_optim_type_find(v) ? NB_EINVAL : NB_EFORMAT,
                            "optim restore: the checkpoint is for a '%s' optimizer, this one is "
                            "'%s'", NB_ECHO(v), o.type->name);

    size_t np;
    if ((st = get_meta(ar, prefix, "param_count", &v, err)) != NB_OK) return st;
    if (!parse_size(v, &np))
        return nb_error_set(err, NB_EFORMAT, "optim restore: %sparam_count = '%s'", pre,
                            NB_ECHO(v));
    if (np != opt->n_slots)
        return nb_error_set(err, NB_ESHAPE, "optim restore: the checkpoint has %zu parameters, "
                            "this optimizer %zu", np, opt->n_slots);

    const struct { const char *key; double *value; } reals[] = {
        { "lr", &o.lr }, { "momentum", &o.momentum }, { "beta1", &o.beta1 },
        { "beta2", &o.beta2 }, { "eps", &o.eps }, { "weight_decay", &o.weight_decay },
        { "gamma", &o.gamma },
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        if ((st = get_meta(ar, prefix, reals[i].key, &v, err)) != NB_OK) return st;
        if (!parse_double(v, reals[i].value))
            return nb_error_set(err, NB_EFORMAT, "optim restore: %s%s = '%s' is not a finite "
                                "number", pre, reals[i].key, NB_ECHO(v));
    }
    if ((st = get_meta(ar, prefix, "schedule", &v, err)) != NB_OK) return st;
    if ((o.schedule = nb_schedule_type_find(v)) == NULL)
        return nb_error_set(err, NB_EFORMAT, "optim restore: %sschedule = '%s' is not a schedule",
                            pre, NB_ECHO(v));
    if ((st = get_meta(ar, prefix, "step_size", &v, err)) != NB_OK) return st;
    if (!parse_size(v, &o.step_size))
        return nb_error_set(err, NB_EFORMAT, "optim restore: %sstep_size = '%s'", pre,
                            NB_ECHO(v));
    nb_error why;
    if (nb_optim_opts_check(&o, &why) != NB_OK)
        return nb_error_set(err, NB_EFORMAT, "optim restore: checkpoint options: %s", why.msg);
    size_t steps, epoch = 0;
    if ((st = get_meta(ar, prefix, "steps", &v, err)) != NB_OK) return st;
    if (!parse_size(v, &steps))
        return nb_error_set(err, NB_EFORMAT, "optim restore: %ssteps = '%s'", pre, NB_ECHO(v));
    char key[KEY_LEN];
    /* epoch: absent from checkpoints written before it was saved */
    if (make_key(key, prefix, "epoch") && (v = nb_archive_get_str(ar, key)) != NULL &&
        !parse_size(v, &epoch))
        return nb_error_set(err, NB_EFORMAT, "optim restore: %sepoch = '%s'", pre, NB_ECHO(v));

    for (size_t i = 0; i < np; i++) {
        slot *s = &opt->slots[i];
        const char *name = nb_node_name(s->p);
        char suffix[64];
        snprintf(suffix, sizeof suffix, "param/%zu/name", i);
        if ((st = get_meta(ar, prefix, suffix, &v, err)) != NB_OK) return st;
        if (strcmp(v, name) != 0)
            return nb_error_set(err, NB_ESHAPE, "optim restore: parameter %zu is '%s' in the "
                                "checkpoint, '%s' here", i, NB_ECHO(v), name);
        size_t r, c, step;
        snprintf(suffix, sizeof suffix, "param/%zu/shape", i);
        if ((st = get_meta(ar, prefix, suffix, &v, err)) != NB_OK) return st;
        if (!parse_shape(v, &r, &c))
            return nb_error_set(err, NB_EFORMAT, "optim restore: %s%s = '%s'", pre, suffix,
                                NB_ECHO(v));
        if (r != nb_node_rows(s->p) || c != nb_node_cols(s->p))
            return nb_error_set(err, NB_ESHAPE, "optim restore: parameter '%s' is (%zux%zu) in "
                                "the checkpoint, (%zux%zu) here", name, r, c, nb_node_rows(s->p),
                                nb_node_cols(s->p));
        snprintf(suffix, sizeof suffix, "param/%zu/step", i);
        if ((st = get_meta(ar, prefix, suffix, &v, err)) != NB_OK) return st;
        if (!parse_size(v, &step))
            return nb_error_set(err, NB_EFORMAT, "optim restore: %s%s = '%s'", pre, suffix,
                                NB_ECHO(v));
        snprintf(suffix, sizeof suffix, "param/%zu/trainable", i);
        if ((st = get_meta(ar, prefix, suffix, &v, err)) != NB_OK) return st;
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
            return nb_error_set(err, NB_EFORMAT, "optim restore: %s%s = '%s' (expected 0 or 1)",
                                pre, suffix, NB_ECHO(v));
        int trainable = v[0] == '1';

        const double *bufs[NB_OPTIM_MAX_STATE] = { NULL };
        for (size_t b = 0; b < o.type->n_state; b++) {
            if (!make_key(key, prefix, "%s/%s", o.type->state_names[b], name))
                return nb_error_set(err, NB_EINVAL, "optim restore: state name for '%s' is too "
                                    "long", name);
            bufs[b] = nb_archive_get(ar, key, &r, &c);
            if (bufs[b] == NULL)
                return nb_error_set(err, NB_ENOTFOUND, "optim restore: no tensor '%s'",
                                    NB_ECHO(key));
            if (r != nb_node_rows(s->p) || c != nb_node_cols(s->p))
                return nb_error_set(err, NB_ESHAPE, "optim restore: tensor '%s' is (%zux%zu), "
                                    "parameter '%s' is (%zux%zu)", NB_ECHO(key), r, c, name,
                                    nb_node_rows(s->p), nb_node_cols(s->p));
        }
        if (commit) {
            s->step = step;
            s->trainable = trainable;
            for (size_t b = 0; b < o.type->n_state; b++)
                if (s->n) memcpy(s->buf[b], bufs[b], s->n * sizeof(double));
        }
    }
    if (commit) {
        opt->o = o;
        opt->steps = steps;
        opt->epoch = epoch;
    }
    return NB_OK;
}

int nb_optim_restore(nb_optim *opt, const nb_archive *ar, const char *prefix, nb_error *err)
{
    if (opt == NULL || ar == NULL)
        return nb_error_set(err, NB_EINVAL, "optim restore: NULL optimizer or archive");
    if (prefix == NULL) prefix = "";
    int st = restore_pass(opt, ar, prefix, 0, err);
    if (st == NB_OK) st = restore_pass(opt, ar, prefix, 1, err);
    return st;
}
