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

/* A named block of the coordinates: a matrix parameter unrolled into x.
 * Coordinates offset .. offset + rows*cols - 1 belong to it, row-major
 * (col_major = 0: element [r][c] at offset + r*cols + c) or column-major
 * (col_major = 1, parameters unrolled the Octave way: [r][c] at
 * offset + c*rows + r).  Reports then name a coordinate "Theta2[1][1]"
 * (0-based; "b[3]" for a vector, "w" for a 1x1 block) instead of "x[i]",
 * summarise each block and diagnose failures block by block.  name is
 * borrowed for the duration of the check (the report copies it). */
typedef struct nb_gradcheck_block {
    const char *name;
    size_t offset, rows, cols;
    int col_major;
} nb_gradcheck_block;

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
    /* Named blocks of x (fdf, Jacobian and second-order targets; graph
     * targets name their parameters themselves).  Each must be non-empty
     * and inside x, no two may overlap (else the check returns NB_ERANGE /
     * NB_EINVAL and says which); coordinates outside every block keep the
     * name x[i].  Default none. */
    const nb_gradcheck_block *blocks;
    size_t n_blocks;
    /* Batch size m of the cost, when it is an average over m examples:
     * lets the diagnosis name a scale factor m or 1/m (a missing or extra
     * 1/m).  0: unknown (default). */
    size_t batch_size;
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
    char name[64];       /* "Theta2[1][1]" (block name, 0-based), else "x[i]" (per
                            coordinate) or "J[i][name]" (Jacobians); "" for directions */
} nb_gradcheck_entry;

/* Summary of one block (per-coordinate mode). */
typedef struct nb_gradcheck_block_summary {
    char name[48];
    size_t offset, rows, cols;   /* as declared */
    int col_major;
    size_t n_checked, n_failed, n_kinks;
    double worst_ratio;
    /* ||a - n|| / ||a + n|| over the block (a analytic, n numeric): the
     * relative difference of the courses (Octave's checkNNGradients);
     * 0 when both are zero, infinity when a = -n exactly. */
    double rel_diff;
} nb_gradcheck_block_summary;

/* What kind of mistake a failing block's pattern points at. */
typedef enum nb_gradcheck_diagnosis_kind {
    NB_GC_DIAG_SIGN = 0,         /* a = -n */
    NB_GC_DIAG_SCALE = 1,        /* a = c n, one c != +-1 (value: c) */
    NB_GC_DIAG_TRANSPOSE = 2,    /* a is n read as the transposed block */
    NB_GC_DIAG_PROPORTIONAL = 3, /* a - n = lambda x on the failing coordinates (value: lambda) */
    NB_GC_DIAG_OFFSET = 4,       /* a - n constant on the failing coordinates (value: it) */
    NB_GC_DIAG_ZERO = 5,         /* a = 0 where n != 0: a gradient never written */
    NB_GC_DIAG_SPARSE = 6,       /* a few coordinates wrong, the rest right */
    NB_GC_DIAG_NUMERICAL = 7     /* finite differences unstable here, not (only) a wrong derivation */
} nb_gradcheck_diagnosis_kind;

typedef struct nb_gradcheck_diagnosis {
    long block;        /* index into report->blocks, or -1 (no block / all of x) */
    int kind;          /* nb_gradcheck_diagnosis_kind */
    double value;      /* c (scale), lambda (proportional), the offset; NaN when none */
    size_t n_coords;   /* coordinates it explains */
    size_t *coords;    /* (n_coords) their indices (as entry.index) */
    char text[384];    /* one line for a human */
} nb_gradcheck_diagnosis;

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
    /* Per-coordinate mode: one summary per named block (opts.blocks, a
     * graph's parameters, an op's inputs), in order. */
    size_t n_blocks;
    nb_gradcheck_block_summary *blocks;
    double rel_diff;          /* ||a - n|| / ||a + n|| over every checked entry */
    /* Explanations of the failures, only those that explain them within
     * the checker's error bars; none for correct code.  Directional mode:
     * only zero, sign or scale holding on every direction checked. */
    size_t n_diagnoses;
    nb_gradcheck_diagnosis *diagnoses;
    /* Per-coordinate Jacobian checks (nb_jaccheck_fdf): p, and coordinate
     * i*p + j is J[i][j] (named "J[i][<name of column j>]"); else 0. */
    size_t jac_cols;
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
 * i * p + j.  Per-coordinate reports set jac_cols = p and diagnose the
 * Jacobian as a whole, then column by column (block -1, "J" in the JSON;
 * never "numerical").  fdf->df NULL (GSL's own finite differences) is an error. */
int nb_jaccheck_fdf(const gsl_multifit_nlinear_fdf *fdf, const gsl_vector *x,
                    const nb_gradcheck_opts *opts, nb_gradcheck_report *report);

/* Second order.  Checks the hand-derived second directional derivative
 * fdf->fvv (what GSL's geodesic acceleration takes: (D_v^2 f)_i =
 * sum_jk v_j v_k d^2 f_i / dx_j dx_k) against the derivative along v of
 * the Jacobian-vector product J(x + t v) v computed with the user's own
 * fdf->df (check that one first with nb_jaccheck_fdf).  Per-coordinate
 * mode tries v = e_j for every j and v = e_j + e_k for every pair j < k,
 * so every second partial derivative, cross terms included, is covered:
 * n (p + p(p-1)/2) entries, index d*n + i for direction d and residual i,
 * named "fvv[i] along x[j]+x[k]" (opts.blocks name the coordinates).
 * Directional mode tries opts.n_directions random v.  Same error bars,
 * verdicts and report as the first-order checks; per-coordinate reports
 * summarise and diagnose the blocks "fvv" (n x p, along e_j) and
 * "fvv_pairs" (n x p(p-1)/2, along e_j + e_k), column-major (never
 * "numerical").  fdf->fvv or fdf->df NULL is an error. */
int nb_fvvcheck_fdf(const gsl_multifit_nlinear_fdf *fdf, const gsl_vector *x,
                    const nb_gradcheck_opts *opts, nb_gradcheck_report *report);

/* A user's Hessian-vector product: hv = H(x) v (n). */
typedef void (*nb_hvp_fn)(const gsl_vector *x, const gsl_vector *v, void *params, gsl_vector *hv);

/* Checks hvp (called with fdf->params) against the derivative along v of
 * the user's gradient fdf->df: per-coordinate mode v = e_j for every j
 * (the Hessian column by column: entry j*n + i is H[i][j], named
 * "Hv[x[i]] along x[j]"; summarised and diagnosed as the block "H", n x n,
 * never "numerical"), directional mode opts.n_directions random v. */
int nb_hvpcheck_fdf(const gsl_multimin_function_fdf *fdf, nb_hvp_fn hvp, const gsl_vector *x,
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
 * not be checked.  A verdict is a result, not an error: returns NB_OK when
 * every check ran, whatever the verdicts (read *n_failed), and an error
 * status only when a check could not run (the last such status). */
int nb_gradcheck_ops(const nb_op *const *ops, size_t n_ops, const nb_gradcheck_opts *opts,
                     size_t n_seeds, FILE *out, int json, size_t *n_failed);

/* Frees what a check allocated inside *report (not report itself).
 * NULL-safe, and safe on a report a failed check initialised. */
void nb_gradcheck_report_free(nb_gradcheck_report *report);

/* "pass", "kink", "FAIL". */
const char *nb_gradcheck_verdict_name(int verdict);

/* "sign", "scale", "transpose", "proportional", "offset", "zero", "sparse",
 * "numerical"; "?" otherwise. */
const char *nb_gradcheck_diagnosis_name(int kind);

/* Human table of the worst coordinates with counts, the block table, the
 * diagnoses and the replay line. */
void nb_gradcheck_report_print(FILE *out, const nb_gradcheck_report *report);
/* One JSON object on one line (counts, seed, replay, worst entries,
 * "blocks", "diagnosis"). */
void nb_gradcheck_report_json(FILE *out, const nb_gradcheck_report *report);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_GRADCHECK_H */
