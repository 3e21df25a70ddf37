/* target_second.c — second-order targets: a hand-derived fvv of a
 * gsl_multifit_nlinear_fdf (the second directional derivative GSL's
 * geodesic acceleration takes) and a hand-derived Hessian-vector product
 * of a gsl_multimin_function_fdf.
 *
 * Both reduce to first order along a line: the reference is the derivative
 * at t = 0 of a vector function of one variable t built from the user's
 * own, already verified, first derivatives,
 *     fvv:  d/dt [J(x + t v) v]_i      = (D_v^2 f)_i
 *     hvp:  d/dt [grad f(x + t v)]_i   = (H v)_i,
 * and every component i is decided by the engine exactly as a coordinate
 * (nbi_check_coord: GSL's central difference, its error bar, the second
 * look, kinks).  The whole vector at each t is computed once and reused
 * for every component (a small cache keyed by t). */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <nabla/gradcheck.h>
#include "check/check.h"
#include "io/io.h"

#define NBI_LINE_CACHE 24

/* g(t), a vector of n components, along x + t v. */
typedef struct vec_line {
    size_t n, p;
    const double *x0;    /* (p) */
    const double *v;     /* (p) */
    gsl_vector *xt;      /* (p) x0 + t v */
    gsl_vector *out;     /* (n) */
    gsl_matrix *J;       /* (n, p) fvv: Jacobian scratch */
    const gsl_multifit_nlinear_fdf *nl;
    const gsl_multimin_function_fdf *mm;
    size_t row;          /* component decided */
    double t;
    double key[NBI_LINE_CACHE];
    double *val;         /* (NBI_LINE_CACHE, n) */
    size_t n_cached, next;
    size_t *n_evals;
} vec_line;

static double line_get(void *p, size_t i)
{
    (void)i;
    return ((vec_line *)p)->t;
}

static void line_set(void *p, size_t i, double t)
{
    (void)i;
    ((vec_line *)p)->t = t;
}

/* The vector at x0 + t v into c->out. */
static int line_fill(vec_line *c)
{
    for (size_t k = 0; k < c->p; k++) gsl_vector_set(c->xt, k, c->x0[k] + c->t * c->v[k]);
    (*c->n_evals)++;
    if (c->nl) {   /* J(x + t v) v */
        if (c->nl->df(c->xt, c->nl->params, c->J) != GSL_SUCCESS) return NB_EGSL;
        for (size_t i = 0; i < c->n; i++) {
            double s = 0.0;
            for (size_t k = 0; k < c->p; k++) s += gsl_matrix_get(c->J, i, k) * c->v[k];
            gsl_vector_set(c->out, i, s);
        }
    } else {       /* grad f(x + t v) */
        gsl_vector_set_zero(c->out);
        c->mm->df(c->xt, c->mm->params, c->out);
    }
    return NB_OK;
}

static int line_eval(void *p, double *f)
{
    vec_line *c = p;
    for (size_t e = 0; e < c->n_cached; e++)
        if (memcmp(&c->key[e], &c->t, sizeof c->t) == 0) {
            *f = c->val[e * c->n + c->row];
            return isfinite(*f) ? NB_OK : NB_EDOMAIN;
        }
    int st = line_fill(c);
    if (st != NB_OK) return st;
    size_t e = c->next;
    c->next = (c->next + 1) % NBI_LINE_CACHE;
    if (c->n_cached < NBI_LINE_CACHE) c->n_cached++;
    c->key[e] = c->t;
    for (size_t i = 0; i < c->n; i++) c->val[e * c->n + i] = gsl_vector_get(c->out, i);
    *f = c->val[e * c->n + c->row];
    return isfinite(*f) ? NB_OK : NB_EDOMAIN;
}

/* The direction's name: "e3", "e1+e4" (coordinates named by the blocks). */
static void dir_name(const nb_gradcheck_opts *o, int directional, size_t d, size_t j, size_t k,
                     char *buf, size_t len)
{
    char a[48], b[48];
    if (directional) {
        snprintf(buf, len, "v%zu", d);
        return;
    }
    nbi_block_name(o->blocks, o->n_blocks, j, a, sizeof a);
    if (k == SIZE_MAX) {
        snprintf(buf, len, "%s", a);
        return;
    }
    nbi_block_name(o->blocks, o->n_blocks, k, b, sizeof b);
    snprintf(buf, len, "%s+%s", a, b);
}

/* Checks the analytic vector an (n) against g'(0) along v for every
 * component; entries d*n + i. */
static void check_line(vec_line *c, const double *an, size_t d, const char *what,
                       const char *dname, const nb_gradcheck_opts *o, nb_gradcheck_report *r,
                       nbi_results *res)
{
    nbi_objective obj = { 1, line_get, line_set, line_eval, c, NULL, NULL, NULL, NULL };
    c->n_cached = c->next = 0;
    c->t = 0.0;
    for (size_t i = 0; i < c->n; i++) {
        c->row = i;
        nb_gradcheck_entry e;
        nbi_check_coord(&obj, 0, an[i], o, &e, &r->n_evals);
        e.index = d * c->n + i;
        e.x = 0.0;
        char comp[48];
        if (c->mm) nbi_block_name(o->blocks, o->n_blocks, i, comp, sizeof comp);
        else snprintf(comp, sizeof comp, "%zu", i);
        char full[256];
        snprintf(full, sizeof full, "%s[%s] along %s", what, comp, dname);
        size_t len = strlen(full);   /* truncated to the field */
        if (len >= sizeof e.name) len = sizeof e.name - 1;
        memcpy(e.name, full, len);
        e.name[len] = '\0';
        nbi_report_add(r, &e, o->max_report);
        nbi_results_put(res, &e);
    }
}

/* The directions of a check: per coordinate e_j, then e_j + e_k (j < k)
 * when pairs is set; directional mode o->n_directions random v. Calls
 * analytic(v, an) then check_line for each. */
typedef int (*analytic_fn)(void *ctx, const gsl_vector *x, const gsl_vector *v, gsl_vector *an);

static int run_directions(vec_line *c, const gsl_vector *x, analytic_fn analytic, void *actx,
                          int pairs, const char *what, const nb_gradcheck_opts *o,
                          nb_gradcheck_report *r, nbi_results *res)
{
    size_t p = c->p;
    gsl_vector *v = gsl_vector_calloc(p), *an = gsl_vector_alloc(c->n);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int st = NB_OK;
    if (!v || !an || !rng) {
        st = nbi_report_error(r, NB_ENOMEM, "%s check: out of memory", what);
        goto done;
    }
    gsl_rng_set(rng, o->seed);
    c->v = v->data;
    int directional = o->mode == NB_GC_DIRECTIONAL;
    size_t n_dir = directional ? o->n_directions : pairs ? p + p * (p - 1) / 2 : p;
    size_t j = 0, k = SIZE_MAX;   /* per coordinate: e_j, then pairs (j, k) */
    for (size_t d = 0; d < n_dir && st == NB_OK; d++) {
        gsl_vector_set_zero(v);
        if (directional) {
            double vmax = 0.0;
            for (size_t q = 0; q < p; q++) {
                double u = gsl_ran_gaussian_ziggurat(rng, 1.0);
                gsl_vector_set(v, q, u);
                vmax = fmax(vmax, fabs(u));
            }
            gsl_vector_scale(v, 1.0 / vmax);
        } else if (d < p) {
            j = d;
            gsl_vector_set(v, j, 1.0);
        } else {
            if (d == p) {
                j = 0;
                k = 1;
            } else if (++k == p) {
                j++;
                k = j + 1;
            }
            gsl_vector_set(v, j, 1.0);
            gsl_vector_set(v, k, 1.0);
        }
        gsl_vector_set_zero(an);
        if (analytic(actx, x, v, an) != GSL_SUCCESS) {
            st = nbi_report_error(r, NB_EGSL, "%s check: the user's %s returned an error status",
                                  what, what);
            break;
        }
        char dname[128];
        dir_name(o, directional, d, j, d < p ? SIZE_MAX : k, dname, sizeof dname);
        check_line(c, an->data, d, what, dname, o, r, res);
    }
done:
    if (v) gsl_vector_free(v);
    if (an) gsl_vector_free(an);
    if (rng) gsl_rng_free(rng);
    return st;
}

/* Per-coordinate mode: a summary and a diagnosis (diagnose.c) of the
 * matrices the entries make, column d holding direction d (entry d n + i
 * at row i, column-major):
 *   hvp  "H"          n x n, the Hessian, H[i][j] = (H e_j)_i;
 *   fvv  "fvv"        n x p, residual i along e_j (the second derivatives
 *                     d2 r_i / dx_j^2);
 *        "fvv_pairs"  n x p(p-1)/2, residual i along e_j + e_k, the pairs
 *                     (0,1), (0,2), ..., (1,2), ... in that order.
 * So a factor 2 on the whole Hessian is named scale 2, a few wrong entries
 * are listed as H[i][j].  The reference is a derivative of the user's own
 * first derivatives, not of a function the checker can probe, so the
 * numerical hypothesis is not tried. */
static void explain(const vec_line *c, int pairs, nb_gradcheck_report *r, const nbi_results *res,
                    const nb_gradcheck_opts *o)
{
    nb_gradcheck_block b[2] = { { c->mm ? "H" : "fvv", 0, c->n, c->p, 1 },
                                { "fvv_pairs", c->n * c->p, c->n, c->p * (c->p - 1) / 2, 1 } };
    size_t nb = pairs && c->p > 1 ? 2 : 1;
    if (nbi_report_add_blocks(r, res, b, nb) == NB_OK) nbi_diagnose(r, res, 0, nb, NULL, 0, o);
}

/* Runs a prepared line check and finishes the report. */
static int second_run(vec_line *c, const gsl_vector *x, analytic_fn analytic, void *actx,
                      int pairs, const char *what, const nb_gradcheck_opts *o,
                      nb_gradcheck_report *r)
{
    double *x0 = malloc(c->p * sizeof *x0);
    c->xt = gsl_vector_alloc(c->p);
    c->out = gsl_vector_alloc(c->n);
    c->val = malloc(NBI_LINE_CACHE * c->n * sizeof *c->val);
    c->n_evals = &r->n_evals;
    nbi_results res = { NULL, 0, 0, 0, 0 };
    int st = NB_OK;
    if (!x0 || !c->xt || !c->out || !c->val || (c->nl && !c->J)) {
        st = nbi_report_error(r, NB_ENOMEM, "%s check: out of memory", what);
    } else {
        for (size_t k = 0; k < c->p; k++) x0[k] = gsl_vector_get(x, k);
        c->x0 = x0;
        gsl_error_handler_t *saved = gsl_set_error_handler_off();
        st = run_directions(c, x, analytic, actx, pairs, what, o, r, &res);
        gsl_set_error_handler(saved);
    }
    if (st == NB_OK && o->mode == NB_GC_PER_COORD) explain(c, pairs, r, &res, o);
    if (st == NB_OK && o->mode == NB_GC_DIRECTIONAL) nbi_diagnose_directions(r, &res, o);
    if (st == NB_OK) {
        nbi_report_conclude(r, &res, SIZE_MAX);   /* entries keep their names */
        nbi_report_finish(r);
    }
    nbi_results_free(&res);
    free(x0);
    if (c->xt) gsl_vector_free(c->xt);
    if (c->out) gsl_vector_free(c->out);
    free(c->val);
    return st;
}

/* ---- fvv ----------------------------------------------------------------- */

static int fvv_analytic(void *ctx, const gsl_vector *x, const gsl_vector *v, gsl_vector *an)
{
    const gsl_multifit_nlinear_fdf *fdf = ctx;
    return fdf->fvv(x, v, fdf->params, an);
}

int nb_fvvcheck_fdf(const gsl_multifit_nlinear_fdf *fdf, const gsl_vector *x,
                    const nb_gradcheck_opts *opts, nb_gradcheck_report *report)
{
    if (!report) return NB_EINVAL;
    nb_gradcheck_opts o = nbi_opts(opts);
    nbi_report_init(report, &o);
    if (!fdf || !x)
        return nbi_report_error(report, NB_EINVAL, "fvvcheck_fdf: %s is NULL", !fdf ? "fdf" : "x");
    if (!fdf->fvv)
        return nbi_report_error(report, NB_EINVAL,
                                "fvvcheck_fdf: fdf->fvv is NULL (nothing hand-derived to check)");
    if (!fdf->df)
        return nbi_report_error(report, NB_EINVAL,
                                "fvvcheck_fdf: fdf->df is NULL (the reference is d/dt J(x + t v) v)");
    if (fdf->p != x->size)
        return nbi_report_error(report, NB_ESHAPE,
                                "fvvcheck_fdf: fdf->p = %zu but x has %zu elements", fdf->p, x->size);
    if (fdf->n == 0 || fdf->p == 0)
        return nbi_report_error(report, NB_ESHAPE, "fvvcheck_fdf: empty problem (n = %zu, p = %zu)",
                                fdf->n, fdf->p);
    if (!nbi_vec_all_finite(x, NULL))
        return nbi_report_error(report, NB_EDOMAIN, "fvvcheck_fdf: x is not finite");
    int bs = nbi_check_blocks(report, &o, fdf->p, "fvvcheck_fdf");
    if (bs != NB_OK) return bs;
    snprintf(report->target, sizeof report->target, "fvv (n=%zu, p=%zu)", fdf->n, fdf->p);
    nbi_set_replay(report, &o);
    vec_line c;
    memset(&c, 0, sizeof c);
    c.n = fdf->n;
    c.p = fdf->p;
    c.nl = fdf;
    c.J = gsl_matrix_alloc(fdf->n, fdf->p);
    int st = second_run(&c, x, fvv_analytic, (void *)fdf, 1, "fvv", &o, report);
    if (c.J) gsl_matrix_free(c.J);
    return st;
}

/* ---- Hessian-vector products --------------------------------------------- */

typedef struct hvp_ctx {
    const gsl_multimin_function_fdf *fdf;
    nb_hvp_fn hvp;
} hvp_ctx;

static int hvp_analytic(void *ctx, const gsl_vector *x, const gsl_vector *v, gsl_vector *an)
{
    hvp_ctx *h = ctx;
    h->hvp(x, v, h->fdf->params, an);
    return GSL_SUCCESS;
}

int nb_hvpcheck_fdf(const gsl_multimin_function_fdf *fdf, nb_hvp_fn hvp, const gsl_vector *x,
                    const nb_gradcheck_opts *opts, nb_gradcheck_report *report)
{
    if (!report) return NB_EINVAL;
    nb_gradcheck_opts o = nbi_opts(opts);
    nbi_report_init(report, &o);
    if (!fdf || !x || !hvp)
        return nbi_report_error(report, NB_EINVAL, "hvpcheck_fdf: %s is NULL",
                                !fdf ? "fdf" : !x ? "x" : "hvp");
    if (!fdf->df)
        return nbi_report_error(report, NB_EINVAL,
                                "hvpcheck_fdf: fdf->df is NULL (the reference is d/dt grad f(x + t v))");
    if (fdf->n != x->size)
        return nbi_report_error(report, NB_ESHAPE,
                                "hvpcheck_fdf: fdf->n = %zu but x has %zu elements", fdf->n, x->size);
    if (x->size == 0) return nbi_report_error(report, NB_ESHAPE, "hvpcheck_fdf: x is empty");
    if (!nbi_vec_all_finite(x, NULL))
        return nbi_report_error(report, NB_EDOMAIN, "hvpcheck_fdf: x is not finite");
    int bs = nbi_check_blocks(report, &o, x->size, "hvpcheck_fdf");
    if (bs != NB_OK) return bs;
    snprintf(report->target, sizeof report->target, "hessian-vector product (n=%zu)", x->size);
    nbi_set_replay(report, &o);
    vec_line c;
    memset(&c, 0, sizeof c);
    c.n = c.p = x->size;
    c.mm = fdf;
    hvp_ctx h = { fdf, hvp };
    return second_run(&c, x, hvp_analytic, &h, 0, "Hv", &o, report);
}
