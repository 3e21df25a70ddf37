/* nabla/optim.h — first-order optimizers (SGD, momentum, Nesterov, Adam /
 * AdamW) over the parameters of a graph, learning-rate schedules, and their
 * checkpoints.
 *
 * The caller owns the training loop (GSL style: set / iterate / test):
 *
 *     nb_optim_opts o;
 *     nb_optim_opts_init(&o);
 *     o.type = &nb_optim_adam;
 *     o.lr = 1e-3;
 *     nb_error err;
 *     nb_optim *opt = nb_optim_alloc(g, &o, &err);
 *     if (!opt) { fprintf(stderr, "%s\n", err.msg); ... }
 *     for (size_t epoch = 0; epoch < n_epochs; epoch++) {
 *         nb_optim_set_epoch(opt, epoch);  // only schedules read it
 *         ... build the loss ...
 *         if (nb_optim_backward(opt, loss, &err) != NB_OK)  // or zero_grad,
 *             fprintf(stderr, "%s\n", err.msg);  // backward, nb_optim_step
 *     }
 *     nb_optim_free(opt);
 *
 * Update rules, exactly as PyTorch 1.13 torch.optim computes them (float64,
 * dampening 0, no amsgrad), with g the gradient of a parameter w, lr the
 * rate the schedule gives for the epoch, wd the weight decay:
 *
 *     sgd       g' = g + wd*w;  w = w - lr*g'
 *     momentum  g' = g + wd*w;  v = mu*v + g';  w = w - lr*v
 *     nesterov  g' = g + wd*w;  v = mu*v + g';  w = w - lr*(g' + mu*v)
 *     adam      t += 1;  (wd > 0: w = w*(1 - lr*wd), decoupled as AdamW)
 *               m = b1*m + (1-b1)*g;  s = b2*s + ((1-b2)*g)*g
 *               w = w - (lr/(1-b1^t))*m / (sqrt(s)/sqrt(1-b2^t) + eps)
 *
 * v, m, s start at zero; t counts the updates of each parameter (a frozen
 * parameter's t does not advance, as in PyTorch where a parameter without a
 * gradient is skipped).
 *
 * Optimizers and schedules are types, GSL style: a const struct per rule
 * (nb_optim_sgd, ..., nb_schedule_step, ...), listed in one table each
 * (nb_optim_type_at, nb_schedule_type_at) that configs, checkpoints and the
 * tests read.  A new optimizer is one nb_optim_type (its update function
 * and a line in the table in src/train/optim.c); a type from outside the
 * table works too, it is only not found by name.
 *
 * The optimizer borrows g: g must outlive it.  It keeps state for the
 * parameters g has when nb_optim_alloc() is called, in g's order; parameters
 * created later are not updated.  State is allocated through g's allocator.
 * Not thread-safe.
 */
#ifndef NABLA_OPTIM_H
#define NABLA_OPTIM_H

#include <stddef.h>
#include <nabla/error.h>
#include <nabla/graph.h>
#include <nabla/archive.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_optim_opts nb_optim_opts;

#define NB_OPTIM_MAX_STATE 4

/* An update rule. */
typedef struct nb_optim_type {
    const char *name;        /* "sgd": configs, checkpoints, messages */
    size_t n_state;          /* state buffers per parameter, 0..NB_OPTIM_MAX_STATE,
                              * each (rows, cols) of the parameter, zero at first */
    const char *state_names[NB_OPTIM_MAX_STATE];  /* their archive names
                              * ("momentum_buffer", "exp_avg": PyTorch's) */
    /* Optional: checks the options this rule needs beyond the ranges every
     * field must respect (nesterov: momentum > 0); NB_OK, or NB_EINVAL
     * with the message in err. */
    int (*check)(const nb_optim_opts *o, nb_error *err);
    /* One update of the n values of w from the gradient g; state[b] (n
     * values each) the rule's buffers; t the parameter's update count, this
     * one included; lr the schedule's rate. */
    void (*update)(double *w, const double *g, double *const *state, size_t n, size_t t,
                   double lr, const nb_optim_opts *o);
    /* Optional, for a rule without state whose update is linear in w and g:
     * w = beta*w + alpha*g.  Gives alpha and beta for the rate lr and must
     * give exactly the update's arithmetic up to rounding.  nb_optim_backward
     * then computes such an update inside the backward product of a weight
     * (an op's grad_into), without a gradient buffer. */
    void (*fused_update)(double lr, const nb_optim_opts *o, double *alpha, double *beta);
} nb_optim_type;

extern const nb_optim_type nb_optim_sgd;
extern const nb_optim_type nb_optim_momentum;
extern const nb_optim_type nb_optim_nesterov;
extern const nb_optim_type nb_optim_adam;

/* The table of optimizers, in the order above; NULL when i is past it or
 * for a name not in it (exact, lowercase: "sgd"). */
size_t nb_optim_type_count(void);
const nb_optim_type *nb_optim_type_at(size_t i);
const nb_optim_type *nb_optim_type_find(const char *name);

/* A learning-rate schedule: the rate at epoch e from the configured rate
 * lr0 (closed forms, as PyTorch's _get_closed_form_lr, computed with pow()):
 *     constant  lr0
 *     step      lr0 * gamma^floor(e / step_size)   (StepLR)
 *     exp       lr0 * gamma^e                      (ExponentialLR) */
typedef struct nb_schedule_type {
    const char *name;        /* "step" */
    double (*rate)(const nb_optim_opts *o, size_t epoch);
} nb_schedule_type;

extern const nb_schedule_type nb_schedule_constant;
extern const nb_schedule_type nb_schedule_step;
extern const nb_schedule_type nb_schedule_exp;

size_t nb_schedule_type_count(void);
const nb_schedule_type *nb_schedule_type_at(size_t i);
const nb_schedule_type *nb_schedule_type_find(const char *name);

struct nb_optim_opts {
    const nb_optim_type *type; /* default &nb_optim_sgd */
    double lr;                 /* > 0, finite; default 0.01 */
    double momentum;           /* momentum / nesterov, in [0, 1) (nesterov:
                                * (0, 1)); default 0.9 */
    double beta1, beta2, eps;  /* adam: betas in [0, 1), eps > 0; defaults
                                * 0.9, 0.999, 1e-8 */
    double weight_decay;       /* >= 0, finite; default 0.  SGD family: adds
                                * wd*w to the gradient; adam: decoupled
                                * (AdamW) */
    const nb_schedule_type *schedule; /* default &nb_schedule_constant */
    double gamma;              /* step / exp factor, > 0 and finite; default
                                * 0.1 */
    size_t step_size;          /* epochs per step of the step schedule, >= 1;
                                * default 10 */
};

/* Fills *o with the defaults above. */
void nb_optim_opts_init(nb_optim_opts *o);

/* NB_OK when every field of *o is in its range (all fields are checked,
 * whatever the type, then the type's own check); otherwise NB_EINVAL and a
 * message naming the field and its value ("optim: beta2 = 1 is outside
 * [0, 1)") in err (NULL allowed). */
int nb_optim_opts_check(const nb_optim_opts *o, nb_error *err);

typedef struct nb_optim nb_optim;

/* An optimizer with zeroed state (velocity; first and second moments) for
 * every parameter g has now, all trainable, at epoch 0.  o NULL means the
 * defaults.  NULL on error with the reason in err: NB_EINVAL for a NULL
 * graph or bad options (see nb_optim_opts_check()), NB_ENOMEM.  Free with
 * nb_optim_free(); nb_optim_free(NULL) is a no-op. */
nb_optim *nb_optim_alloc(nb_graph *g, const nb_optim_opts *o, nb_error *err);
void nb_optim_free(nb_optim *opt);

/* Options in use (after a restore: the restored ones). */
void nb_optim_get_opts(const nb_optim *opt, nb_optim_opts *o);

/* Excludes (trainable 0) or includes a parameter, by name, from updates:
 * a frozen parameter keeps its value and its state, its gradient is not
 * even read.  NB_ENOTFOUND if the optimizer has no such parameter,
 * NB_EINVAL for NULL arguments (message in err). */
int nb_optim_set_trainable(nb_optim *opt, const char *param_name, int trainable,
                           nb_error *err);
int nb_optim_is_trainable(const nb_optim *opt, const char *param_name); /* 0 if unknown */

/* The epoch the schedule reads (nb_optim_lr), 0 after nb_optim_alloc.  The
 * caller sets it, usually at the start of each epoch; without a schedule
 * it need never be set.  Saved and restored with the checkpoint.
 * nb_optim_set_epoch returns NB_EINVAL for NULL. */
int nb_optim_set_epoch(nb_optim *opt, size_t epoch);
size_t nb_optim_epoch(const nb_optim *opt);

/* One update of every trainable parameter from its current gradient (see
 * the rules above) at the rate of the current epoch.  Gradients are read,
 * not cleared.  NB_EDOMAIN, changing nothing at all, when a trainable
 * parameter's gradient holds NaN or infinity (the message names the
 * parameter and the element) or when the schedule's rate is not finite
 * (gamma > 1 overflowing; a rate that underflows to 0 is allowed and
 * leaves the values as they are, though Adam still advances its moments).
 * NB_EINVAL for NULL.  Messages in err (NULL allowed). */
int nb_optim_step(nb_optim *opt, nb_error *err);

/* Backward and update in one call: what nb_graph_zero_grad(g),
 * nb_backward(g, loss) and nb_optim_step(opt, err) do, and for a type with
 * fused_update (plain SGD) faster: a trainable weight whose only use on the
 * tape is one input of an op with grad_into (matmul, affine's X and W), and
 * which does not share that op with another such weight, gets its update as
 * one BLAS call into the weight, w = (1 - lr*wd)*w - lr*(A^T G), with no
 * gradient buffer written or read.  All such deferred products run after
 * every gradient and every factor of a product has been checked and before
 * any other parameter changes, so each reads the forward values: the result
 * is that of the three calls up to the rounding of that one product (its
 * sum is split and rounded differently inside BLAS; tests/test_optim.c
 * holds it within 64 ulps of max(1, |w|) over random graphs, registration
 * orders and sharings; the worst seen is under 2).
 * NB_EDOMAIN, no parameter updated, when a gradient or a factor is not
 * finite.  Only an overflow inside the product itself (finite factors
 * beyond ~1e150) can leave non-finite weights, which the next forward pass
 * reports.  Graph errors (loss not 1x1, not on the tape, a sticky error)
 * are returned with the graph's message copied to err.  Afterwards the
 * gradients of fused weights are not computed (nb_node_grad holds stale
 * values); the others hold their gradients.  Types without fused_update,
 * and graphs where a tape input borrows a parameter's memory through
 * nb_input_view (updating the parameter in place would change the input
 * under a product that reads it): exactly the three calls.  NB_EINVAL for
 * NULL opt. */
int nb_optim_backward(nb_optim *opt, nb_node *loss, nb_error *err);

/* Learning rate the schedule gives at epoch (NaN for NULL). */
double nb_optim_lr(const nb_optim *opt, size_t epoch);

/* Successful nb_optim_step() / nb_optim_backward() calls so far (restored by
 * nb_optim_restore()). */
size_t nb_optim_steps(const nb_optim *opt);

/* ---- checkpoints ---------------------------------------------------------- */

/* Stores the whole optimizer state into ar, every name starting with prefix
 * (e.g. "optim/"; NULL means ""):
 *   metadata  <prefix>kind (the type's name), lr, momentum, beta1, beta2,
 *             eps, weight_decay, schedule, gamma, step_size, steps, epoch,
 *             param_count (numbers as "%.17g" / decimal), and for
 *             parameter i:
 *             <prefix>param/<i>/name, .../shape ("RxC"), .../step,
 *             .../trainable ("1" / "0")
 *   tensors   <prefix><state name>/<name> for each of the type's state
 *             buffers: momentum_buffer (momentum, nesterov), exp_avg and
 *             exp_avg_sq (adam)
 * Existing entries with the same names are replaced.  NB_EINVAL for NULL
 * arguments or names longer than NB_ARCHIVE_NAME_MAX; NB_EDOMAIN when the
 * state holds NaN or infinity (a diverged run); NB_ENOMEM.  On failure ar
 * may hold part of the entries. */
int nb_optim_save(const nb_optim *opt, nb_archive *ar, const char *prefix);

/* Restores what nb_optim_save() stored under prefix: state, step counts,
 * trainable flags and the options (like PyTorch's load_state_dict, the
 * hyperparameters come from the checkpoint; a checkpoint without epoch, from
 * before it was saved, restores epoch 0).  Checks first, then writes:
 * NB_EINVAL when the type differs from opt's, NB_ESHAPE when the parameter
 * count, a name or a shape differs from opt's parameters (the message says
 * which), NB_ENOTFOUND for a missing entry, NB_EFORMAT for an entry that does
 * not parse or options out of range; NB_EINVAL for NULL arguments.  No
 * allocation.  On any failure opt is unchanged; the message is in err. */
int nb_optim_restore(nb_optim *opt, const nb_archive *ar, const char *prefix,
                     nb_error *err);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_OPTIM_H */
