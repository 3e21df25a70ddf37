/* check.h — the checker layer's private header: the engine's interface to
 * its targets (gradcheck.c: fdf, Jacobians, graphs; target_ops.c: registry
 * ops) and the partial re-evaluation of a tape (partial.c).  Never installed. */
#ifndef NABLA_GRADCHECK_INTERNAL_H
#define NABLA_GRADCHECK_INTERNAL_H

#include <gsl/gsl_rng.h>
#include <nabla/gradcheck.h>
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
} nbi_objective;

/* Decides coordinate i with analytic derivative a; restores x_i after. */
int nbi_check_coord(const nbi_objective *obj, size_t i, double a,
                    const nb_gradcheck_opts *o, nb_gradcheck_entry *e, size_t *n_evals);

/* Per-coordinate check of grad (n analytic values) against obj.  Adds to
 * report (counts, entries).  index_offset is added to entry indices. */
int nbi_check_coords(const nbi_objective *obj, const double *grad,
                     const nb_gradcheck_opts *o, size_t index_offset,
                     nb_gradcheck_report *report);

/* Directional check: o->n_directions random u drawn from rng; <grad, u>
 * against d/dt f(x + t u) at t = 0.  Entries are numbered from index_offset. */
int nbi_check_directions(const nbi_objective *obj, const double *grad,
                         const nb_gradcheck_opts *o, gsl_rng *rng,
                         size_t index_offset, nb_gradcheck_report *report);

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

/* Partial re-evaluation for per-coordinate checks: with one element of a
 * parameter in focus, only the regions of the tape it reaches are
 * recomputed; unfocus restores their values bit for bit. */
typedef struct nbi_partial {
    nb_graph *g;
    size_t n;            /* tape nodes covered */
    nb_rect *rect;       /* (n) dirty region per node, r0 == r1 when clean */
    double *save;        /* saved values of the dirty regions */
    size_t cap_save, used_save;
    size_t first;        /* first dirty node (n when none) */
} nbi_partial;

/* Covers the first n tape nodes (up to the loss). */
int nbi_partial_init(nbi_partial *P, nb_graph *g, size_t n);
void nbi_partial_free(nbi_partial *P);
void nbi_partial_focus(nbi_partial *P, const nb_node *param, size_t row, size_t col);
void nbi_partial_eval(nbi_partial *P);
void nbi_partial_unfocus(nbi_partial *P);

#endif
