/* nabla/gradcheck.h — the gradient checker.
 *
 * Built on GSL's numerical differentiation.  For each coordinate,
 * gsl_deriv_central() gives a numerical derivative *and its error estimate*;
 * the coordinate agrees when
 *
 *     |analytic - numeric| <= tol_factor * abserr
 *                             + ulps * DBL_EPSILON * max(|analytic|, |numeric|)
 *                             + (rounding of x + h itself),
 *
 * so the tolerance follows from GSL's estimate rather than from a fixed
 * rtol/atol pair.  A coordinate that does not agree gets a second look:
 * smaller steps (it may sit just beside a kink), an empirical estimate of
 * how noisy f is (long sums, cancellation), and the one-sided derivatives
 * gsl_deriv_forward/backward: when those disagree far beyond their errors the
 * coordinate sits on a kink, and it is a KINK (not a failure) if the analytic
 * value lies between them.  docs/gradcheck.md explains each verdict.
 *
 * The checker draws from its own random stream (opts.seed): checking never
 * changes the state of a training run.  GSL's error handler is switched off
 * during a check and restored afterwards; the user's handler is never
 * replaced for good.
 */
#ifndef NABLA_GRADCHECK_H
#define NABLA_GRADCHECK_H

#include <stddef.h>
#include <stdio.h>

#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_vector.h>

#include <nabla/graph.h>
#include <nabla/op.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nb_gradcheck_mode {
    NB_GC_PER_COORD = 0,   /* every coordinate, central differences */
    NB_GC_DIRECTIONAL = 1  /* random directions: cost independent of n */
} nb_gradcheck_mode;

typedef enum nb_gradcheck_verdict {
    NB_GC_PASS = 0,  /* analytic agrees with numeric within the error bar */
    NB_GC_KINK = 1,  /* sits on a kink; analytic between the one-sided derivatives */
    NB_GC_FAIL = 2   /* disagrees */
} nb_gradcheck_verdict;

typedef struct nb_gradcheck_opts {
    nb_gradcheck_mode mode;  /* default NB_GC_PER_COORD */
    double tol_factor;       /* multiple of GSL's abserr accepted (default 10) */
    double ulps;             /* ulps of the values accepted on top (default 16) */
    double step;             /* initial step; 0: 1e-3 * max(1, |x_i|) (default 0) */
    size_t n_directions;     /* directional mode: directions tried (default 4) */
    unsigned long seed;      /* the checker's own stream (default 2385) */
    int detect_kinks;        /* compare one-sided derivatives (default 1) */
    size_t max_report;       /* worst coordinates kept in the report (default 10) */
    size_t n_shapes;         /* op checks: random shapes tried (default 4) */
    /* Per-coordinate checks: threads deciding coordinates side by side
     * (default 1; 0 means 1; at most 64 are used).  The report is the same
     * bit for bit whatever the number.  Graph targets give each thread a
     * private copy of what it evaluates (the ops' forward functions must
     * only read their inputs and write their node, as every registry op
     * does).  For nb_gradcheck_fdf
     * and nb_jaccheck_fdf, threads > 1 is the caller's promise that the
     * callbacks (f, df, fdf) are thread-safe: they are called from several
     * threads at once, each with its own copy of x, so they must not write
     * shared state (fdf->params included) without their own locking. */
    size_t threads;
} nb_gradcheck_opts;

/* One checked coordinate (or direction, in directional mode). */
typedef struct nb_gradcheck_entry {
    size_t index;        /* coordinate; i*p + j for Jacobians; direction number */
    double x;            /* value of the coordinate (0 in directional mode) */
    double analytic;     /* what the user's gradient says */
    double numeric;      /* GSL's central difference */
    double abserr;       /* GSL's error estimate of numeric */
    double tol;          /* the error bar used for the verdict */
    double ratio;        /* |analytic - numeric| / tol of the deciding test (<= 1 agrees) */
    double left, right;  /* one-sided derivatives when a kink was examined, else NaN */
    int verdict;         /* nb_gradcheck_verdict */
} nb_gradcheck_entry;

typedef struct nb_gradcheck_report {
    int passed;              /* 1 when n_failed == 0 */
    int mode;                /* nb_gradcheck_mode used */
    size_t n_checked;        /* coordinates (or directions) checked */
    size_t n_failed;
    size_t n_kinks;
    size_t worst_index;      /* coordinate with the largest ratio */
    double worst_ratio;
    size_t n_evals;          /* evaluations of f */
    size_t n_fdf_mismatch;   /* fdf targets: coordinates (directions, in directional mode)
                                where fdf() disagrees with f()/df() beyond the error bar */
    unsigned long seed;
    size_t n_entries;        /* entries below, worst first (<= opts.max_report) */
    nb_gradcheck_entry *entries;
    char target[128];        /* what was checked: "fdf (n=3)", "op sigmoid (2x3)" */
    char replay[256];        /* how to replay the same check */
    char error[256];         /* why the check could not run (error return), or, with NB_OK,
                                what else failed: fdf() disagreeing with f()/df(), a kink
                                whose declared backward value is wrong */
} nb_gradcheck_report;

/* Every check initialises *report from scratch: free a report's contents
 * (nb_gradcheck_report_free) before passing it to another check, or its
 * entries leak. */

/* Fills *opts with the defaults above.  Always start from it: a zeroed
 * struct means ulps = 0, detect_kinks = 0, max_report = 0 and seed = 0. */
void nb_gradcheck_opts_init(nb_gradcheck_opts *opts);

/* Checks a user's own cost and hand-derived gradient, the very struct given
 * to GSL's minimisers, at x.  Uses fdf->f and fdf->df; when fdf->fdf is not
 * NULL its value and gradient are compared too (a coordinate where fdf()
 * disagrees with df() is a failure).  Returns NB_OK (0) when the check ran,
 * whatever its verdict; an error status when it could not (NULL arguments,
 * fdf->n != x->size, f not finite at x) with report->error saying why.
 * The report is always initialised; free it with nb_gradcheck_report_free. */
int nb_gradcheck_fdf(const gsl_multimin_function_fdf *fdf, const gsl_vector *x,
                     const nb_gradcheck_opts *opts, nb_gradcheck_report *report);

/* The same for a hand-derived Jacobian of a nonlinear least-squares model:
 * fdf->f gives the n residuals, fdf->df the (n, p) Jacobian.  worst_index is
 * i * p + j.  fdf->df NULL (GSL's own finite differences) is an error. */
int nb_jaccheck_fdf(const gsl_multifit_nlinear_fdf *fdf, const gsl_vector *x,
                    const nb_gradcheck_opts *opts, nb_gradcheck_report *report);

/* Checks d(loss)/d(parameters) of a graph: loss is a 1x1 tape node; the
 * graph is re-evaluated (nb_graph_forward) at perturbed parameters.
 * Parameter values and gradients are left as they were. */
int nb_gradcheck_graph(nb_graph *g, nb_node *loss, const nb_gradcheck_opts *opts,
                       nb_gradcheck_report *report);

/* Checks an op's backward against its forward: opts.n_shapes random shapes
 * admitted by its shape rule, inputs drawn from its domain, the scalar
 * <v, op(x)> for a random v; then every declared kink (the backward must
 * take the declared value there, and the point must be found to be a kink
 * or smooth).  hyper NULL: the op's defaults. */
int nb_gradcheck_op(const nb_op *op, const double *hyper,
                    const nb_gradcheck_opts *opts, nb_gradcheck_report *report);

/* Checks a list of ops (ops == NULL: the whole registry) with n_seeds
 * seeds each (opts->seed, opts->seed + 1, ...), printing one line per op
 * and a summary to out (NULL: silent), or one JSON object per op when json.
 * *n_failed (may be NULL) receives the number of ops that failed or could
 * not be checked.  Returns NB_OK when every op passed, NB_EDOMAIN when one
 * failed, another status when a check could not run. */
int nb_gradcheck_ops(const nb_op *const *ops, size_t n_ops, const nb_gradcheck_opts *opts,
                     size_t n_seeds, FILE *out, int json, size_t *n_failed);

/* Frees what a check allocated inside *report (not report itself).
 * NULL-safe, and safe on a report a failed check initialised. */
void nb_gradcheck_report_free(nb_gradcheck_report *report);

/* "pass", "kink", "FAIL". */
const char *nb_gradcheck_verdict_name(int verdict);

/* Human table of the worst coordinates with counts and the replay line. */
void nb_gradcheck_report_print(FILE *out, const nb_gradcheck_report *report);
/* One JSON object on one line (counts, seed, replay, worst entries). */
void nb_gradcheck_report_json(FILE *out, const nb_gradcheck_report *report);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_GRADCHECK_H */
