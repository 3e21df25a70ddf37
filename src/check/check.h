/* check.h — the checker layer's private header: the engine's interface to
 * its targets (gradcheck.c: fdf, Jacobians, graphs; target_ops.c: registry
 * ops) and the partial re-evaluation of a tape (partial.c).  Never installed. */
#ifndef NABLA_GRADCHECK_INTERNAL_H
#define NABLA_GRADCHECK_INTERNAL_H

#include <stdio.h>
#include <stdalign.h>
#include <stdatomic.h>

#include <gsl/gsl_rng.h>
#include <gsl/gsl_vector.h>
#include <nabla/gradcheck.h>
#include <nabla/text.h>
#include "ops/ops.h"

/* A scalar objective over n coordinates that can be moved one at a time. */
typedef struct nbi_objective {
    size_t n;
    double (*get)(void *ctx, size_t i);
    void (*set)(void *ctx, size_t i, double v);
    /* f at the current point; NB_OK or an error (then *f is ignored). */
    int (*eval)(void *ctx, double *f);
    void *ctx;
    /* Optional: called with on = 1 before the evaluations of coordinate i
     * (per-coordinate mode) and on = 0 after x_i is restored, so an
     * objective can prepare a cheaper evaluation of one coordinate. */
    void (*focus)(void *ctx, size_t i, int on);
    /* Optional: x = xs + t u for every coordinate at once (directional
     * mode), instead of n calls of set. */
    void (*set_line)(void *ctx, const double *xs, const double *u, double t);
    /* Optional, for threads (opts.threads > 1): a private copy of ctx that
     * another thread uses side by side with ctx (its own x and scratch,
     * the same point), or NULL when out of memory; release frees it.
     * Without it, per-coordinate checks run on the calling thread. */
    void *(*clone)(void *ctx);
    void (*release)(void *copy);
} nbi_objective;

/* Every checked entry of a check, by index (entry.index): what the block
 * summaries, the overall rel_diff and the diagnosis read (report.c,
 * diagnose.c).  Indices never written are zero: checked 0. */
typedef struct nbi_result {
    double x, analytic, numeric, tol, ratio;
    int verdict;             /* nb_gradcheck_verdict, when checked */
    int checked;             /* 1: written by nbi_result_set */
} nbi_result;

typedef struct nbi_results {
    nbi_result *e;           /* (cap) compact: one per checked entry */
    size_t n;                /* 1 + the largest index written */
    size_t cap;
    int lost;                /* out of memory once: summaries and diagnosis are skipped */
    size_t jac_p;            /* Jacobians: entry i*p + j is column j of x (0: plain) */
} nbi_results;

/* Records *e at e->index (grows as needed).  NULL res: nothing. */
void nbi_results_put(nbi_results *res, const nb_gradcheck_entry *e);
/* Room for indices 0 .. n - 1, which the caller then writes with
 * nbi_result_set, from any thread, each index from one (the threads of a
 * per-coordinate check write their own coordinates).  NULL when res is NULL
 * or out of memory (res->lost). */
nbi_result *nbi_results_room(nbi_results *res, size_t n);
void nbi_result_set(nbi_result *d, const nb_gradcheck_entry *e);
/* Room for indices 0 .. n - 1 at once (a hint: put grows anyway). */
void nbi_results_reserve(nbi_results *res, size_t n);
void nbi_results_free(nbi_results *res);

/* opts.blocks against n coordinates: each non-empty, inside, no two
 * overlapping; else an error status with r->error naming the block. */
int nbi_check_blocks(nb_gradcheck_report *r, const nb_gradcheck_opts *o, size_t n, const char *who);
/* r->replay: the options that replay the check, as C source ('.' in any
 * locale). */
void nbi_set_replay(nb_gradcheck_report *r, const nb_gradcheck_opts *o);
/* 1 when every element of v is finite; else 0 with the first bad index in
 * *bad (bad may be NULL). */
int nbi_vec_all_finite(const gsl_vector *v, size_t *bad);
/* Appends one summary per block (computed from res) to r->blocks. */
int nbi_report_add_blocks(nb_gradcheck_report *r, const nbi_results *res,
                          const nb_gradcheck_block *blocks, size_t n_blocks);
/* After a check: the overall rel_diff from res, and the names of the kept
 * entries (jac_p > 0: Jacobian entries i*p + j named "J[i][name of j]";
 * jac_p == SIZE_MAX: the entries keep the names the target gave them). */
void nbi_report_conclude(nb_gradcheck_report *r, const nbi_results *res, size_t jac_p);
/* The name of coordinate i by r->blocks: "Theta2[1][1]", "b[3]", "w", "x[i]";
 * in a Jacobian report (r->jac_cols = p) "J[i / p][name of column i % p]". */
void nbi_coord_name(const nb_gradcheck_report *r, size_t i, char *buf, size_t len);
/* The name of coordinate j of x by r->blocks (a Jacobian's column). */
void nbi_column_name(const nb_gradcheck_report *r, size_t j, char *buf, size_t len);
/* The same from a list of blocks (opts.blocks), before any summary exists. */
void nbi_block_name(const nb_gradcheck_block *blocks, size_t n_blocks, size_t i, char *buf,
                    size_t len);
/* Printing and JSON of the block table and the diagnoses. */
void nbi_report_print_blocks(FILE *out, const nb_gradcheck_report *r);
void nbi_report_json_blocks(nb_json *j, const nb_gradcheck_report *r);

/* What the diagnosis measures at a failing coordinate: GSL's central rule
 * (the noise of f in its error bar) at steps 100 h, 10 h, h, h/10, h/100,
 * h/1000 (step k is h 10^(2 - k)), and the noise of f (standard deviation
 * sigma, f0 = f(x)). */
#define NBI_PROBE_STEPS 6
typedef struct nbi_probe {
    double h, sigma, f0;
    double num[NBI_PROBE_STEPS], err[NBI_PROBE_STEPS];
    int finite;   /* f finite at every point probed */
} nbi_probe;
void nbi_probe_coord(const nbi_objective *obj, size_t i, const nb_gradcheck_opts *o,
                     nbi_probe *p, size_t *n_evals);
/* The noise of f along n_dirs random directions through x (u ~ N(0, I)
 * scaled to max |u_k| = 1, drawn from opts.seed), at the stencil of the
 * directional step: the largest of their standard deviations.  Along one
 * coordinate a term of f can be frozen by rounding (its staircase wider
 * than the step, so it looks exact there), while the error with which f
 * is evaluated shows along a direction that moves every coordinate.
 * Restores x; 0 when nothing could be measured. */
double nbi_noise_random(const nbi_objective *obj, const nb_gradcheck_opts *o, size_t n_dirs,
                        size_t *n_evals);
/* GSL's central rule turns noise sigma in f into sigma * this / h. */
double nbi_noise_gain_central(void);

/* Diagnoses the failing blocks r->blocks[first .. first + n_blocks) from
 * res, and (when n_blocks == 0 or some coordinates lie outside them) the
 * coordinates index_offset .. index_offset + obj->n - 1 outside every block
 * as block -1.  obj (coordinate index - index_offset) is probed for the
 * numerical hypothesis; it is left as it was. */
void nbi_diagnose(nb_gradcheck_report *r, const nbi_results *res, size_t first, size_t n_blocks,
                  const nbi_objective *obj, size_t index_offset, const nb_gradcheck_opts *o);
/* Directional mode: zero, sign or scale when one holds on every direction
 * checked (block -1). */
void nbi_diagnose_directions(nb_gradcheck_report *r, const nbi_results *res,
                             const nb_gradcheck_opts *o);

/* Decides coordinate i with analytic derivative a; restores x_i after. */
int nbi_check_coord(const nbi_objective *obj, size_t i, double a,
                    const nb_gradcheck_opts *o, nb_gradcheck_entry *e, size_t *n_evals);

/* Per-coordinate check of grad (n analytic values) against obj.  Adds to
 * report (counts, entries).  index_offset is added to entry indices. */
int nbi_check_coords(const nbi_objective *obj, const double *grad,
                     const nb_gradcheck_opts *o, size_t index_offset,
                     nb_gradcheck_report *report, nbi_results *res);

/* Directional check: o->n_directions random u drawn from rng; <grad, u>
 * against d/dt f(x + t u) at t = 0.  Entries are numbered from index_offset. */
int nbi_check_directions(const nbi_objective *obj, const double *grad,
                         const nb_gradcheck_opts *o, gsl_rng *rng,
                         size_t index_offset, nb_gradcheck_report *report, nbi_results *res);

/* Records one checked entry in the report (keeps the worst max_report). */
void nbi_report_add(nb_gradcheck_report *r, const nb_gradcheck_entry *e, size_t max_report);
void nbi_report_init(nb_gradcheck_report *r, const nb_gradcheck_opts *o);
void nbi_report_finish(nb_gradcheck_report *r);
int nbi_report_error(nb_gradcheck_report *r, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Effective options (defaults when o is NULL). */
nb_gradcheck_opts nbi_opts(const nb_gradcheck_opts *o);

/* Threads (parallel.c).  nbi_parallel_run runs fn(arg, t) for t = 0 ..
 * n_threads - 1 at once, t = 0 on the calling thread, and returns when all
 * have returned; it returns how many ran (fewer when a thread could not be
 * created), so fn takes its work from an nbi_work counter rather than
 * assuming every t runs. */
size_t nbi_parallel_run(size_t n_threads, void (*fn)(void *arg, size_t t), void *arg);

/* What one thread writes while the others run sits on cache lines of its
 * own: two threads writing the same line (false sharing) pass it back and
 * forth between their cores on every write, which cost the per-coordinate
 * check a tenth of its speed-up on 2 threads.  nbi_line_alloc: memory
 * aligned to a line, its size rounded up to whole lines (NULL when out of
 * memory; free() releases it). */
#define NBI_CACHE_LINE 64
void *nbi_line_alloc(size_t bytes);

/* Chunks [begin, end) of [0, n), chunk items each, handed out in order to
 * whichever thread asks.  The counter every thread writes has a line of
 * its own, apart from what they only read. */
typedef struct nbi_work {
    alignas(NBI_CACHE_LINE) atomic_size_t next;
    alignas(NBI_CACHE_LINE) size_t n, chunk;
} nbi_work;
void nbi_work_init(nbi_work *w, size_t n, size_t chunk);
/* The next chunk: 1, or 0 when none is left. */
int nbi_work_next(nbi_work *w, size_t *begin, size_t *end);

/* Threads a per-coordinate check of n items uses: opts.threads, at most
 * NBI_MAX_THREADS and one per NBI_COORD_CHUNK items, 1 without obj->clone. */
size_t nbi_check_threads(const nbi_objective *obj, const nb_gradcheck_opts *o, size_t n);
#define NBI_MAX_THREADS 64
#define NBI_COORD_CHUNK 32
#define NBI_COORD_WINDOW 16384

/* Partial re-evaluation for per-coordinate checks (partial.c): a private
 * copy of the tape up to the loss, whose parameters and dependent values
 * belong to it alone; the graph's own values are the base point, read and
 * never written, so one copy per thread evaluates side by side.  With one
 * element of a parameter in focus, only the regions of the tape it reaches
 * are recomputed (products by an update from the base value); unfocus puts
 * the base values back. */
typedef struct nbi_partial {
    nb_graph *g;          /* the base point, read only */
    size_t n;             /* tape nodes covered */
    size_t np;            /* parameters */
    nb_node *node;        /* (n) copies of the tape nodes */
    nb_node *param;       /* (np) copies of the parameters: this copy's x */
    double *mem;          /* values and workspaces of the copies that change */
    nb_rect *rect;        /* (n) dirty region per node, empty when clean */
    nb_rect *in_rect;     /* (n) dirty region of the one input that moved */
    int *dirty_in;        /* (n) that input, -1 when more than one moved */
    nbi_region_update_fn *update;   /* (n) the op's update from the base, or NULL */
    size_t first;         /* first dirty node (n when none) */
    nb_node *focus;       /* parameter copy in focus, or NULL */
    size_t focus_k;       /* its element in focus */
    int stale;            /* values left by nbi_partial_eval_all, not the base */
} nbi_partial;

/* Covers the first n tape nodes (up to the loss).  NB_OK or NB_ENOMEM. */
int nbi_partial_init(nbi_partial *P, nb_graph *g, size_t n);
void nbi_partial_free(nbi_partial *P);
/* The copy of parameter k (NULL when k is out of range). */
nb_node *nbi_partial_param(nbi_partial *P, size_t k);
/* The copy of tape node n (NULL when n is not covered). */
nb_node *nbi_partial_node(nbi_partial *P, const nb_node *n);
/* Element (row, col) of parameter k in focus: marks what it reaches. */
void nbi_partial_focus(nbi_partial *P, size_t param, size_t row, size_t col);
/* Recomputes what the element in focus reaches, at its current value. */
void nbi_partial_eval(nbi_partial *P);
/* Puts the base values back, the element in focus included. */
void nbi_partial_unfocus(nbi_partial *P);
/* A whole forward pass of the copy at its parameters' current values (no
 * element in focus: several may have moved); the next focus puts the base
 * values back first. */
void nbi_partial_eval_all(nbi_partial *P);

#endif
