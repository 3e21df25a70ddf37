/* diagnose.c — after a per-coordinate check, what kind of mistake the
 * failures of a block point at.
 *
 * For each block with a failure, simple hypotheses on its analytic values
 * a, numeric values n and coordinates x are tested, in this order, and the
 * first that explains the failures within the checker's own error bars
 * (entry.tol, the bar each verdict used) is reported:
 *
 *   numerical     the numeric derivative moves with the step far beyond
 *                 GSL's error estimate, or f is not finite nearby: the
 *                 verdict may come from floating point, not the derivation
 *   zero          a = 0 on every failing coordinate, n != 0 there
 *   sign          a = -n on every coordinate of the block
 *   scale         a = c n on every coordinate, one c != +-1
 *   transpose     a equals n read as the transposed block
 *   proportional  a - n = lambda x on the failing coordinates (an L2 term
 *                 too many, missing or with the wrong sign)
 *   offset        a - n = constant on the failing coordinates
 *   sparse        a few coordinates wrong, the rest right
 *
 * A hypothesis "fits" when every coordinate it covers satisfies it within
 * that coordinate's error bar (scaled as the hypothesis scales n), so a
 * correct gradient, which has no failure, never gets a diagnosis, and a
 * pattern is named only when it accounts for all the evidence.  Kinks are
 * left out of every test (their value is a convention).
 *
 * A Jacobian is read as one n x p matrix first and then column by column
 * (diagnose_jacobian); second-order targets pass their matrices as blocks
 * (target_second.c).  Without an objective to probe, "numerical" is not
 * tried.  In directional mode each entry is one random direction u (a =
 * grad . u, n the slope along u), so only patterns of the whole derivative
 * can show: zero, sign and scale on every direction checked
 * (nbi_diagnose_directions); a wrong derivative of any other kind gives
 * each random direction a ratio a/n of its own, so none of them fits. */
#include <config.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/gradcheck.h>
#include "check/check.h"
#include "io/io.h"

/* The coordinates of one block (or of those outside every block). */
typedef struct group {
    long block;          /* summary index, or -1 */
    const char *name;    /* for messages */
    size_t *idx;         /* (n) coordinate indices, block order */
    size_t n;
    size_t rows, cols;
    int col_major;
    int complete;        /* every coordinate of the block was checked */
    int directions;      /* entries are random directions, not coordinates */
} group;

typedef struct ctx {
    nb_gradcheck_report *r;
    const nbi_results *res;
    const nbi_objective *obj;
    size_t index_offset;
    const nb_gradcheck_opts *o;
    double sigma_dir;   /* noise of f along random directions; NaN: not measured yet */
} ctx;

static const nbi_result *E(const ctx *c, size_t i) { return &c->res->e[i]; }

static int usable(const nbi_result *e)
{
    return e->verdict == NB_GC_PASS || e->verdict == NB_GC_FAIL;
}

static int failing(const nbi_result *e)
{
    return e->verdict == NB_GC_FAIL && isfinite(e->analytic) && isfinite(e->numeric) &&
           isfinite(e->tol);
}

/* Appends a diagnosis; coords (n) copied. */
static void add(ctx *c, const group *g, int kind, double value, const size_t *coords, size_t n,
                const char *text)
{
    nb_gradcheck_report *r = c->r;
    nb_gradcheck_diagnosis *nd = realloc(r->diagnoses, (r->n_diagnoses + 1) * sizeof *nd);
    if (!nd) return;
    r->diagnoses = nd;
    nb_gradcheck_diagnosis *d = &nd[r->n_diagnoses++];
    memset(d, 0, sizeof *d);
    d->block = g->block;
    d->kind = kind;
    d->value = value;
    d->n_coords = n;
    d->coords = n ? malloc(n * sizeof *d->coords) : NULL;
    if (d->coords) memcpy(d->coords, coords, n * sizeof *coords);   /* else: the count stays, the list is lost */
    size_t len = strlen(text);   /* truncated to the field */
    if (len >= sizeof d->text) len = sizeof d->text - 1;
    memcpy(d->text, text, len);
    d->text[len] = '\0';
}

/* ---- describing a set of coordinates ---------------------------------- */

/* A group read as a matrix: every coordinate of a 2-D block checked. */
static int is_matrix(const group *g)
{
    return g->complete && g->rows > 1 && g->cols > 1 && g->n == g->rows * g->cols;
}

/* The column of the group's k-th coordinate (block order). */
static size_t column_at(const group *g, size_t k)
{
    return g->col_major ? k / g->rows : k % g->cols;
}

/* The column holding every failure (f, a subsequence of g->idx), or
 * SIZE_MAX when they span several or g is not a matrix. */
static size_t one_column(const group *g, const size_t *f, size_t nf)
{
    if (!is_matrix(g) || nf == 0) return SIZE_MAX;
    size_t col = SIZE_MAX;
    for (size_t k = 0, at = 0; k < nf; k++) {
        while (g->idx[at] != f[k]) at++;   /* f is a subsequence of idx */
        size_t cc = column_at(g, at);
        if (col != SIZE_MAX && cc != col) return SIZE_MAX;
        col = cc;
    }
    return col;
}

/* "Theta1[*][0]", or for a Jacobian "J[*][lam]" (the column's parameter). */
static void column_label(const ctx *c, const group *g, size_t col, char *buf, size_t len)
{
    if (c->r->jac_cols) {
        char name[48];
        nbi_column_name(c->r, col, name, sizeof name);
        snprintf(buf, len, "J[*][%s]", name);
    } else {
        snprintf(buf, len, "%s[*][%zu]", g->name, col);
    }
}

/* "column 0 (5 coordinates)", "all but column 0 (15 coordinates)",
 * "Theta1[1][2], Theta1[3][0]", "all 20 coordinates". */
static void describe(const ctx *c, const group *g, const size_t *f, size_t nf, char *buf,
                     size_t len)
{
    size_t n_checked = 0;
    for (size_t k = 0; k < g->n; k++) n_checked += usable(E(c, g->idx[k])) || E(c, g->idx[k])->verdict == NB_GC_KINK;
    if (nf == n_checked) {
        snprintf(buf, len, "all %zu %s", nf, g->directions ? "directions" : "coordinates");
        return;
    }
    if (is_matrix(g)) {
        /* One column, or all but one column? */
        for (int but = 0; but <= 1; but++)
            for (size_t col = 0; col < g->cols; col++) {
                size_t want = but ? g->rows * (g->cols - 1) : g->rows;
                if (nf != want) continue;
                size_t hits = 0;
                for (size_t k = 0, at = 0; k < nf; k++) {
                    while (g->idx[at] != f[k]) at++;   /* f is a subsequence of idx */
                    if ((column_at(g, at) == col) != but) hits++;
                }
                if (hits == nf) {
                    char label[64];
                    column_label(c, g, col, label, sizeof label);
                    snprintf(buf, len, "%s%s (%zu coordinates)", but ? "all but " : "", label, nf);
                    return;
                }
            }
        size_t col = one_column(g, f, nf);   /* part of one column */
        if (col != SIZE_MAX && nf > 1) {
            char label[64];
            column_label(c, g, col, label, sizeof label);
            snprintf(buf, len, "%zu of the %zu coordinates of %s", nf, g->rows, label);
            return;
        }
    }
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < nf && used + 1 < len; k++) {
        char name[64];
        if (g->directions) snprintf(name, sizeof name, "direction %zu", f[k]);
        else nbi_coord_name(c->r, f[k], name, sizeof name);
        if (k == 6) {
            snprintf(buf + used, len - used, ", ... (%zu %s)", nf,
                     g->directions ? "directions" : "coordinates");
            return;
        }
        int w = snprintf(buf + used, len - used, "%s%s", k ? ", " : "", name);
        if (w < 0) return;
        used += (size_t)w;
    }
}

/* A number for a message, in the C locale. */
static const char *num(double v, char *buf, size_t len)
{
    nbi_format(buf, len, "%.4g", v);
    return buf;
}

/* ---- the hypotheses ------------------------------------------------------ */

static const char *const step_name[NBI_PROBE_STEPS] = { "100 h", "10 h", "h", "h/10", "h/100",
                                                        "h/1000" };

/* numerical: f is evaluated with an error that explains the failures.
 * Two signs of it, either enough:
 *   - along random directions f is as noisy as sigma, and a central
 *     difference at the coordinate's step h can then be off by
 *     g sigma / h (g: the rule's noise gain), within a factor K of the
 *     disagreement: rounding makes a term of f a staircase (log(1 - h) for
 *     h near 1), frozen along one coordinate and jumping along others;
 *   - the numeric derivative moves with the step (100 h .. h/1000) far
 *     beyond GSL's error estimate, by as much as the disagreement / K, or
 *     f is not finite within a step.
 * Probes up to 8 failing coordinates; numerical when half of them show it. */
static int try_numerical(ctx *c, const group *g, const size_t *f, size_t nf)
{
    if (!c->obj) return 0;
    size_t n_probe = nf < 8 ? nf : 8, unstable = 0, probed = 0;
    char detail[320] = "";
    double K = c->o->tol_factor;
    if (isnan(c->sigma_dir)) {
        size_t evals = 0;
        c->sigma_dir = nbi_noise_random(c->obj, c->o, 4, &evals);
        c->r->n_evals += evals;
    }
    for (size_t q = 0; q < n_probe; q++) {
        size_t i = f[q * nf / n_probe];
        if (i < c->index_offset || i - c->index_offset >= c->obj->n) continue;
        const nbi_result *e = E(c, i);
        double diff = fabs(e->analytic - e->numeric);
        nbi_probe p;
        size_t evals = 0;
        nbi_probe_coord(c->obj, i - c->index_offset, c->o, &p, &evals);
        c->r->n_evals += evals;
        probed++;
        int bad = !p.finite, klo = 0, khi = 0;
        double spread = nbi_noise_gain_central() * c->sigma_dir / p.h;
        int noisy = K * spread >= diff;
        for (int k = 0; k < NBI_PROBE_STEPS && !bad; k++)
            for (int l = k + 1; l < NBI_PROBE_STEPS; l++) {
                double d = fabs(p.num[k] - p.num[l]);
                if (d > K * (p.err[k] + p.err[l]) && d >= diff / K) {
                    bad = 1;
                    klo = k;
                    khi = l;
                }
            }
        if (!bad && !noisy) continue;
        unstable++;
        if (detail[0]) continue;
        char name[64], b1[32], b2[32], b3[32];
        nbi_coord_name(c->r, i, name, sizeof name);
        if (!p.finite)
            snprintf(detail, sizeof detail, "f is not finite within a step of %s", name);
        else if (noisy)
            snprintf(detail, sizeof detail,
                     "f carries rounding noise %s along random directions, enough to move a "
                     "difference quotient at step h by %s; %s disagrees by %s",
                     num(c->sigma_dir, b1, sizeof b1), num(spread, b2, sizeof b2), name,
                     num(diff, b3, sizeof b3));
        else
            snprintf(detail, sizeof detail,
                     "at %s the numeric derivative moves from %s to %s between steps %s and "
                     "%s, beyond its error bar %s",
                     name, num(p.num[klo], b1, sizeof b1), num(p.num[khi], b2, sizeof b2),
                     step_name[klo], step_name[khi], num(p.err[klo] + p.err[khi], b3, sizeof b3));
    }
    if (probed == 0 || 2 * unstable < probed) return 0;
    char text[768];
    snprintf(text, sizeof text,
             "%zu of %zu failing coordinates probed: %s; the verdict may come from floating "
             "point, not the derivation: rewrite f stably (log1p, softplus) or try another point",
             unstable, probed, detail);
    add(c, g, NB_GC_DIAG_NUMERICAL, NAN, f, nf, text);
    return 1;
}

static int try_zero(ctx *c, const group *g, const size_t *f, size_t nf)
{
    for (size_t k = 0; k < nf; k++) {
        const nbi_result *e = E(c, f[k]);
        if (e->analytic != 0.0 || !(fabs(e->numeric) > e->tol)) return 0;
    }
    char where[160], text[512];
    describe(c, g, f, nf, where, sizeof where);
    snprintf(text, sizeof text,
             "the analytic derivative is 0 where the numeric one is not, on %s: a term "
             "never written (or overwritten with 0)?", where);
    add(c, g, NB_GC_DIAG_ZERO, NAN, f, nf, text);
    return 1;
}

/* "every coordinate of Theta1", or "every direction checked". */
static void every(const group *g, char *buf, size_t len)
{
    if (g->directions) snprintf(buf, len, "every direction checked");
    else snprintf(buf, len, "every coordinate of %s", g->name);
}

static int try_sign(ctx *c, const group *g, const size_t *f, size_t nf)
{
    for (size_t k = 0; k < g->n; k++) {
        const nbi_result *e = E(c, g->idx[k]);
        if (!usable(e)) continue;
        if (!(fabs(e->analytic + e->numeric) <= e->tol)) return 0;
    }
    char where[160], all[96], text[512];
    describe(c, g, f, nf, where, sizeof where);
    every(g, all, sizeof all);
    snprintf(text, sizeof text, "a = -n on %s (%s failing): a sign flipped", all, where);
    add(c, g, NB_GC_DIAG_SIGN, NAN, f, nf, text);
    return 1;
}

/* What a scale factor suggests, or NULL. */
static const char *scale_name(double s, size_t m, char *buf, size_t len)
{
    double near = 1e-6 * fabs(s);
    if (m > 1 && fabs(s - (double)m) <= near) {
        snprintf(buf, len, "a factor m = %zu: a missing 1/m?", m);
        return buf;
    }
    if (m > 1 && fabs(s - 1.0 / (double)m) <= near) {
        snprintf(buf, len, "a factor 1/m = 1/%zu: a 1/m too many?", m);
        return buf;
    }
    if (fabs(s - 2.0) <= near) return "a factor 2: d(x^2) = 2x counted twice, or a 1/2 lost?";
    if (fabs(s - 0.5) <= near) return "a factor 1/2: a 2 lost (d(x^2) = 2x)?";
    return NULL;
}

static int try_scale(ctx *c, const group *g, const size_t *f, size_t nf)
{
    double san = 0.0, snn = 0.0;
    size_t informative = 0;   /* coordinates where n stands out of its error bar */
    for (size_t k = 0; k < g->n; k++) {
        const nbi_result *e = E(c, g->idx[k]);
        if (!usable(e) || !(e->tol > 0) || !isfinite(e->tol)) continue;
        informative += fabs(e->numeric) > e->tol;
        double w = 1.0 / (e->tol * e->tol);
        san += w * e->analytic * e->numeric;
        snn += w * e->numeric * e->numeric;
    }
    /* one coordinate fits any c = a/n: that says nothing */
    if (informative < 2 || !(snn > 0) || !isfinite(san / snn)) return 0;
    double s = san / snn;
    if (fabs(s - 1.0) <= 1e-6 || fabs(s + 1.0) <= 1e-6 || s == 0.0) return 0;
    for (size_t k = 0; k < g->n; k++) {
        const nbi_result *e = E(c, g->idx[k]);
        if (!usable(e)) continue;
        if (!(fabs(e->analytic - s * e->numeric) <= (1.0 + fabs(s)) * e->tol)) return 0;
    }
    char nb[96], b1[32], all[96], text[512];
    const char *named = scale_name(s, c->o->batch_size, nb, sizeof nb);
    every(g, all, sizeof all);
    snprintf(text, sizeof text, "a = %s n on %s (%zu failing)%s%s", num(s, b1, sizeof b1), all,
             nf, named ? ": " : "", named ? named : "");
    add(c, g, NB_GC_DIAG_SCALE, s, f, nf, text);
    return 1;
}

/* Index of the numeric value that coordinate k of the block holds when the
 * block is read transposed: the (cols x rows) transpose in the same layout. */
static size_t transposed_at(const group *g, size_t k)
{
    if (g->col_major) {   /* k = j*cols + i: N^T(i, j) = N(j, i), at i*rows + j */
        size_t i = k % g->cols, j = k / g->cols;
        return i * g->rows + j;
    }
    size_t i = k / g->rows, j = k % g->rows;   /* k = i*rows + j: N(j, i) at j*cols + i */
    return j * g->cols + i;
}

static int try_transpose(ctx *c, const group *g, const size_t *f, size_t nf)
{
    if (g->block < 0 || !g->complete || g->rows < 2 || g->cols < 2) return 0;
    for (size_t k = 0; k < g->n; k++) {
        const nbi_result *e = E(c, g->idx[k]), *t = E(c, g->idx[transposed_at(g, k)]);
        if (e->verdict == NB_GC_KINK) continue;
        if (!isfinite(e->tol) || !isfinite(t->tol)) return 0;
        if (!(fabs(e->analytic - t->numeric) <= e->tol + t->tol)) return 0;
    }
    char text[512];
    snprintf(text, sizeof text,
             "a equals n read as the transposed block: the gradient of %s (%zux%zu) was "
             "written as its (%zux%zu) transpose (%zu failing)",
             g->name, g->rows, g->cols, g->cols, g->rows, nf);
    add(c, g, NB_GC_DIAG_TRANSPOSE, NAN, f, nf, text);
    return 1;
}

static int try_proportional(ctx *c, const group *g, const size_t *f, size_t nf)
{
    if (nf < 2) return 0;
    double sdx = 0.0, sxx = 0.0, xmin = INFINITY, xmax = -INFINITY;
    for (size_t k = 0; k < nf; k++) {
        const nbi_result *e = E(c, f[k]);
        double w = 1.0 / (e->tol * e->tol);
        sdx += w * (e->analytic - e->numeric) * e->x;
        sxx += w * e->x * e->x;
        xmin = fmin(xmin, e->x);
        xmax = fmax(xmax, e->x);
    }
    /* x must vary, or a constant offset fits as well */
    if (!(sxx > 0) || !(xmax - xmin > 1e-3 * fmax(fabs(xmin), fabs(xmax)))) return 0;
    double lam = sdx / sxx;
    for (size_t k = 0; k < nf; k++) {
        const nbi_result *e = E(c, f[k]);
        if (!(fabs(e->analytic - e->numeric - lam * e->x) <= 2.0 * e->tol)) return 0;
    }
    char where[160], b1[32], text[512];
    describe(c, g, f, nf, where, sizeof where);
    snprintf(text, sizeof text,
             "a - n = %s x on %s: a term lambda x too many, missing or with the wrong sign "
             "(a regularised bias, a flipped regularisation)?",
             num(lam, b1, sizeof b1), where);
    add(c, g, NB_GC_DIAG_PROPORTIONAL, lam, f, nf, text);
    return 1;
}

static int try_offset(ctx *c, const group *g, const size_t *f, size_t nf)
{
    if (nf < 2) return 0;
    double sd = 0.0, sw = 0.0;
    for (size_t k = 0; k < nf; k++) {
        const nbi_result *e = E(c, f[k]);
        double w = 1.0 / (e->tol * e->tol);
        sd += w * (e->analytic - e->numeric);
        sw += w;
    }
    double off = sd / sw;
    for (size_t k = 0; k < nf; k++) {
        const nbi_result *e = E(c, f[k]);
        if (!(fabs(e->analytic - e->numeric - off) <= 2.0 * e->tol)) return 0;
    }
    char where[160], b1[32], text[512];
    describe(c, g, f, nf, where, sizeof where);
    snprintf(text, sizeof text, "a - n = %s, the same on %s: a constant term too many or missing?",
             num(off, b1, sizeof b1), where);
    add(c, g, NB_GC_DIAG_OFFSET, off, f, nf, text);
    return 1;
}

/* A few: at most a fifth of the block (at least 3), or all in one column
 * of several (one parameter's column of a Jacobian, a Hessian's column, a
 * pair of directions of fvv). */
static int try_sparse(ctx *c, const group *g, const size_t *f, size_t nf)
{
    size_t n_checked = 0;
    for (size_t k = 0; k < g->n; k++) n_checked += usable(E(c, g->idx[k]));
    size_t few = n_checked / 5 > 3 ? n_checked / 5 : 3;
    if ((nf > few && one_column(g, f, nf) == SIZE_MAX) || nf >= n_checked) return 0;
    char where[160], text[512];
    describe(c, g, f, nf, where, sizeof where);
    snprintf(text, sizeof text, "%zu of %zu coordinates of %s wrong, the rest right: %s", nf,
             n_checked, g->name, where);
    add(c, g, NB_GC_DIAG_SPARSE, NAN, f, nf, text);
    return 1;
}

/* Tries the hypotheses in order on g's failures (sparse last, and only
 * when allowed); 1 when one explained them, 0 when none did or nothing
 * failed.  A group of random directions, each of which mixes every
 * coordinate, can only show patterns of the whole derivative: zero, sign
 * and scale. */
static int explain_group(ctx *c, const group *g, int allow_sparse)
{
    size_t *f = malloc((g->n ? g->n : 1) * sizeof *f), nf = 0;
    if (!f) return 0;
    for (size_t k = 0; k < g->n; k++)
        if (failing(E(c, g->idx[k]))) f[nf++] = g->idx[k];
    int done = nf > 0 &&
               (try_numerical(c, g, f, nf) || try_zero(c, g, f, nf) || try_sign(c, g, f, nf) ||
                try_scale(c, g, f, nf) ||
                (!g->directions &&
                 (try_transpose(c, g, f, nf) || try_proportional(c, g, f, nf) ||
                  try_offset(c, g, f, nf) || (allow_sparse && try_sparse(c, g, f, nf)))));
    free(f);
    return done;
}

static void diagnose_group(ctx *c, const group *g) { (void)explain_group(c, g, 1); }

/* A Jacobian (n x p, row-major, coordinate i*p + j): first as a whole (the
 * residual's sign, a factor throughout), then, when no pattern covers it
 * all, column by column: each column is one parameter's derivatives, where
 * a hand derivation goes wrong ("J[*][lam]": a = 0.23 n, a factor lost). */
static void diagnose_jacobian(ctx *c, const nbi_results *res)
{
    size_t p = res->jac_p, m = res->n / p;
    size_t *all = malloc((m * p > 0 ? m * p : 1) * sizeof *all);
    if (!all) return;
    group g = { -1, "J", all, 0, m, p, 0, 1, 0 };
    for (size_t i = 0; i < m * p; i++) {
        if (res->e[i].checked) all[g.n++] = i;
        else g.complete = 0;
    }
    if (g.n && !explain_group(c, &g, 0)) {
        for (size_t j = 0; j < p; j++) {
            char name[64], col[48];
            nbi_column_name(c->r, j, col, sizeof col);
            snprintf(name, sizeof name, "J[*][%s]", col);
            group cg = { -1, name, all, 0, m, 1, 0, 1, 0 };
            for (size_t i = 0; i < m; i++)
                if (res->e[i * p + j].checked) all[cg.n++] = i * p + j;
            cg.rows = cg.n;
            if (cg.n) diagnose_group(c, &cg);
        }
    }
    free(all);
}

void nbi_diagnose_directions(nb_gradcheck_report *r, const nbi_results *res,
                             const nb_gradcheck_opts *o)
{
    if (!r || !res || res->lost || r->mode != NB_GC_DIRECTIONAL || r->n_failed == 0) return;
    ctx c = { r, res, NULL, 0, o, NAN };
    size_t *idx = malloc((res->n ? res->n : 1) * sizeof *idx);
    if (!idx) return;
    group g = { -1, "directions", idx, 0, 0, 1, 0, 1, 1 };
    for (size_t i = 0; i < res->n; i++)
        if (res->e[i].checked) idx[g.n++] = i;
    g.rows = g.n;
    diagnose_group(&c, &g);
    free(idx);
}

void nbi_diagnose(nb_gradcheck_report *r, const nbi_results *res, size_t first, size_t n_blocks,
                  const nbi_objective *obj, size_t index_offset, const nb_gradcheck_opts *o)
{
    if (!r || !res || res->lost || r->mode == NB_GC_DIRECTIONAL) return;
    if (r->n_failed == 0) return;   /* nothing to explain */
    ctx c = { r, res, obj, index_offset, o, NAN };
    if (res->jac_p) {
        diagnose_jacobian(&c, res);
        return;
    }
    size_t lo = index_offset, hi = obj ? index_offset + obj->n : res->n;
    if (hi > res->n) hi = res->n;
    if (lo >= hi) return;
    unsigned char *in_block = calloc(hi - lo, 1);
    size_t *idx = malloc((hi - lo) * sizeof *idx);
    if (!in_block || !idx) goto done;
    for (size_t b = first; b < first + n_blocks && b < r->n_blocks; b++) {
        const nb_gradcheck_block_summary *s = &r->blocks[b];
        if (s->n_failed == 0) {
            for (size_t k = 0; k < s->rows * s->cols; k++)
                if (s->offset + k >= lo && s->offset + k < hi) in_block[s->offset + k - lo] = 1;
            continue;
        }
        group g = { (long)b, s->name, idx, 0, s->rows, s->cols, s->col_major, 1, 0 };
        for (size_t k = 0; k < s->rows * s->cols; k++) {
            size_t i = s->offset + k;
            if (i < lo || i >= hi || !res->e[i].checked) {
                g.complete = 0;
                continue;
            }
            in_block[i - lo] = 1;
            idx[g.n++] = i;
        }
        diagnose_group(&c, &g);
    }
    /* The coordinates outside every block, as one column "x". */
    group g = { -1, "x", idx, 0, 0, 1, 0, 1, 0 };
    for (size_t i = lo; i < hi; i++)
        if (!in_block[i - lo] && res->e[i].checked) idx[g.n++] = i;
    g.rows = g.n;
    if (g.n) diagnose_group(&c, &g);
done:
    free(in_block);
    free(idx);
}
