/* nabla/optim.h — first-order optimizers (SGD, momentum, Nesterov, Adam /
 * AdamW) over the parameters of a graph, learning-rate schedules, and their
 * checkpoints.
 *
 * The caller owns the training loop (GSL style: set / iterate / test):
 *
 *     nb_optim_opts o;
 *     nb_optim_opts_init(&o);
 *     o.kind = NB_OPTIM_ADAM;
 *     o.lr = 1e-3;
 *     char msg[256];
 *     nb_optim *opt = nb_optim_alloc(g, &o, msg, sizeof msg);
 *     if (!opt) { fprintf(stderr, "%s\n", msg); ... }
 *     for (size_t epoch = 0; epoch < n_epochs; epoch++) {
 *         nb_graph_zero_grad(g);          // gradients accumulate otherwise
 *         ... build the loss, nb_backward(g, loss) ...
 *         if (nb_optim_step(opt, epoch) != NB_OK)
 *             fprintf(stderr, "%s\n", nb_optim_errmsg(opt));
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

/*        symbol               name */
#define NB_OPTIM_TABLE(X)               \
    X(NB_OPTIM_SGD,            "sgd")      \
    X(NB_OPTIM_MOMENTUM,       "momentum") \
    X(NB_OPTIM_NESTEROV,       "nesterov") \
    X(NB_OPTIM_ADAM,           "adam")

#define NB_SCHEDULE_TABLE(X)             \
    X(NB_SCHEDULE_CONSTANT,    "constant") \
    X(NB_SCHEDULE_STEP,        "step")     \
    X(NB_SCHEDULE_EXP,         "exp")

typedef enum nb_optim_kind {
#define NB_X_ENUM(sym, name) sym,
    NB_OPTIM_TABLE(NB_X_ENUM)
#undef NB_X_ENUM
    NB_OPTIM_KIND_COUNT_
} nb_optim_kind;

/* Learning rate at epoch e, lr0 the configured rate (closed forms, as
 * PyTorch's _get_closed_form_lr; computed with pow()):
 *     constant  lr0
 *     step      lr0 * gamma^floor(e / step_size)   (StepLR)
 *     exp       lr0 * gamma^e                      (ExponentialLR) */
typedef enum nb_schedule_kind {
#define NB_X_ENUM(sym, name) sym,
    NB_SCHEDULE_TABLE(NB_X_ENUM)
#undef NB_X_ENUM
    NB_SCHEDULE_KIND_COUNT_
} nb_schedule_kind;

typedef struct nb_optim_opts {
    nb_optim_kind kind;        /* default NB_OPTIM_SGD */
    double lr;                 /* > 0, finite; default 0.01 */
    double momentum;           /* momentum / nesterov, in [0, 1) (nesterov:
                                * (0, 1)); default 0.9 */
    double beta1, beta2, eps;  /* adam: betas in [0, 1), eps > 0; defaults
                                * 0.9, 0.999, 1e-8 */
    double weight_decay;       /* >= 0, finite; default 0.  SGD family: adds
                                * wd*w to the gradient; adam: decoupled
                                * (AdamW) */
    nb_schedule_kind schedule; /* default NB_SCHEDULE_CONSTANT */
    double gamma;              /* step / exp factor, > 0 and finite; default
                                * 0.1 */
    size_t step_size;          /* epochs per step of the step schedule, >= 1;
                                * default 10 */
} nb_optim_opts;

/* Fills *o with the defaults above. */
void nb_optim_opts_init(nb_optim_opts *o);

/* NB_OK when every field of *o is in its range (all fields are checked,
 * whatever the kind); otherwise NB_EINVAL and a message naming the field and
 * its value ("optim: beta2 = 1 is outside [0, 1)"). */
int nb_optim_opts_check(const nb_optim_opts *o, char *msg, size_t len);

/* "sgd", "momentum", "nesterov", "adam"; "constant", "step", "exp".  "?" for
 * a value outside the enum.  The parsers match these exact (lowercase)
 * names: NB_ENOTFOUND for another name (then *k is unchanged), NB_EINVAL
 * for NULL. */
const char *nb_optim_kind_name(nb_optim_kind k);
int nb_optim_kind_parse(const char *name, nb_optim_kind *k);
const char *nb_schedule_kind_name(nb_schedule_kind k);
int nb_schedule_kind_parse(const char *name, nb_schedule_kind *k);

typedef struct nb_optim nb_optim;

/* An optimizer with zeroed state (velocity; first and second moments) for
 * every parameter g has now, all trainable.  o NULL means the defaults.
 * NULL on error with the reason in msg: NB_EINVAL for a NULL graph or bad
 * options (see nb_optim_opts_check()), NB_ENOMEM.  Free with
 * nb_optim_free(); nb_optim_free(NULL) is a no-op. */
nb_optim *nb_optim_alloc(nb_graph *g, const nb_optim_opts *o, char *msg, size_t len);
void nb_optim_free(nb_optim *opt);

/* Options in use (after a restore: the restored ones). */
void nb_optim_get_opts(const nb_optim *opt, nb_optim_opts *o);

/* Excludes (trainable 0) or includes a parameter, by name, from updates:
 * a frozen parameter keeps its value and its state, its gradient is not
 * even read.  NB_ENOTFOUND if the optimizer has no such parameter,
 * NB_EINVAL for NULL arguments. */
int nb_optim_set_trainable(nb_optim *opt, const char *param_name, int trainable);
int nb_optim_is_trainable(const nb_optim *opt, const char *param_name); /* 0 if unknown */

/* One update of every trainable parameter from its current gradient (see
 * the rules above); epoch selects the learning rate (nb_optim_lr()).
 * Gradients are read, not cleared.  NB_EDOMAIN, changing nothing at all,
 * when a trainable parameter's gradient holds NaN or infinity (the message,
 * nb_optim_errmsg(), names the parameter and the element) or when the
 * schedule's rate at epoch is not finite (gamma > 1 overflowing; a rate that
 * underflows to 0 is allowed and leaves the values as they are, though Adam
 * still advances its moments).  NB_EINVAL for NULL. */
int nb_optim_step(nb_optim *opt, size_t epoch);

/* Backward and update in one call: what nb_graph_zero_grad(g),
 * nb_backward(g, loss) and nb_optim_step(opt, epoch) do, faster for plain
 * SGD.  There a weight whose only use on the tape is one matmul gets its
 * update as one BLAS call, w = (1 - lr*wd)*w - lr*(A^T G), with no gradient
 * buffer written or read (the same update up to rounding: about one ulp
 * per step); the other parameters take nb_optim_step's path.  Every
 * gradient, or for a fused weight both factors of its product, is checked
 * before anything changes: NB_EDOMAIN (message in nb_optim_errmsg()), no
 * parameter updated.  Only an overflow inside the product itself (finite
 * factors beyond ~1e150) can leave non-finite weights, which the next
 * forward pass reports.  Graph errors (loss not 1x1, not on the tape, a
 * sticky error) are returned with the graph's message copied to
 * nb_optim_errmsg().  Afterwards the gradients of fused weights are not
 * computed (nb_node_grad holds stale values); the others hold their
 * gradients.  Other optimizer kinds: exactly the three calls.  NB_EINVAL
 * for NULL opt. */
int nb_optim_backward(nb_optim *opt, nb_node *loss, size_t epoch);
/* Learning rate the schedule gives at epoch (NaN for NULL). */
double nb_optim_lr(const nb_optim *opt, size_t epoch);

/* Successful nb_optim_step() calls so far (restored by nb_optim_restore()). */
size_t nb_optim_steps(const nb_optim *opt);

/* Message of the last failed nb_optim_step() / nb_optim_set_trainable()
 * ("" when none). */
const char *nb_optim_errmsg(const nb_optim *opt);

/* ---- checkpoints ---------------------------------------------------------- */

/* Stores the whole optimizer state into ar, every name starting with prefix
 * (e.g. "optim/"; NULL means ""):
 *   metadata  <prefix>kind, lr, momentum, beta1, beta2, eps, weight_decay,
 *             schedule, gamma, step_size, steps, param_count (numbers as
 *             "%.17g" / decimal), and for parameter i:
 *             <prefix>param/<i>/name, .../shape ("RxC"), .../step,
 *             .../trainable ("1" / "0")
 *   tensors   <prefix>momentum_buffer/<name> (momentum, nesterov),
 *             <prefix>exp_avg/<name>, <prefix>exp_avg_sq/<name> (adam)
 * Existing entries with the same names are replaced.  NB_EINVAL for NULL
 * arguments or names longer than NB_ARCHIVE_NAME_MAX; NB_EDOMAIN when the
 * state holds NaN or infinity (a diverged run); NB_ENOMEM.  On failure ar
 * may hold part of the entries. */
int nb_optim_save(const nb_optim *opt, nb_archive *ar, const char *prefix);

/* Restores what nb_optim_save() stored under prefix: state, step counts,
 * trainable flags and the options (like PyTorch's load_state_dict, the
 * hyperparameters come from the checkpoint).  Checks first, then writes:
 * NB_EINVAL when the kind differs from opt's, NB_ESHAPE when the parameter
 * count, a name or a shape differs from opt's parameters (the message says
 * which), NB_ENOTFOUND for a missing entry, NB_EFORMAT for an entry that does
 * not parse or options out of range; NB_EINVAL for NULL arguments.  No
 * allocation.  On any failure opt is unchanged. */
int nb_optim_restore(nb_optim *opt, const nb_archive *ar, const char *prefix,
                     char *msg, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_OPTIM_H */
