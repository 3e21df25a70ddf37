/* gradcheck.c — the checker's engine and its targets: a user's
 * gsl_multimin_function_fdf, a gsl_multifit_nlinear_fdf Jacobian, and the
 * parameters of a graph.  Registry ops are in gradcheck_ops.c.
 *
 * How a coordinate is decided (docs/gradcheck.md has the reasoning):
 *   1. numeric, abserr = gsl_deriv_central(f, x_i, h), h = 1e-3 max(1,|x_i|);
 *      tol = K abserr + ulps eps max(|a|,|n|) + K eps |x_i| max(|a|,|n|)/h
 *      (the last term: x_i + h is itself rounded).  |a - n| <= tol: PASS,
 *      provided tol is already as tight as f allows (no narrower step could
 *      do better); a pass against a loose error bar proves little.
 *   2. Otherwise a second look.  The noise sigma of f over the stencil
 *      (fourth divided differences, Moré & Wild): f may be noisier than
 *      GSL's one-ulp assumption (long sums, cancellation, quantisation).
 *      Then GSL's central rule with sigma in its round-off estimate at
 *      h, h/1e3, h/1e6; a narrower step replaces the estimate in hand only
 *      when it is tighter or contradicts it (a kink just beside x_i spoils a
 *      wide stencil but not a narrow one), never merely because its wider
 *      error bar happens to cover a.  |a - n| <= tol of the estimate: PASS.
 *   3. Otherwise GSL's one-sided rules (forward, backward), sigma included,
 *      at the step of that estimate: if they differ beyond their error bars,
 *      x_i sits on a kink; the coordinate is a KINK when a lies between them
 *      (within tolerance), else FAIL.
 */
#include <config.h>

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_deriv.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <nabla/gradcheck.h>
#include "check/check.h"
#include "io/io.h"   /* the one JSON writer */

/* ---- options and reports ----------------------------------------------- */

void nb_gradcheck_opts_init(nb_gradcheck_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->mode = NB_GC_PER_COORD;
    o->tol_factor = 10.0;
    o->ulps = 16.0;
    o->step = 0.0;
    o->n_directions = 4;
    o->seed = 2385;
    o->detect_kinks = 1;
    o->max_report = 10;
    o->n_shapes = 4;
    o->threads = 1;
}

nb_gradcheck_opts nbi_opts(const nb_gradcheck_opts *o)
{
    nb_gradcheck_opts d;
    nb_gradcheck_opts_init(&d);
    if (!o) return d;
    d = *o;
    /* Fields whose zero (or a nonsense value) would make the check
     * meaningless fall back to defaults: tol_factor (0 would fail every
     * coordinate), n_directions, n_shapes.  Others keep their value, zero
     * included (ulps = 0, detect_kinks = 0, max_report = 0, seed = 0 are all
     * legitimate): start from nb_gradcheck_opts_init(), not from {0}. */
    nb_gradcheck_opts def;
    nb_gradcheck_opts_init(&def);
    if (!(d.tol_factor > 0) || !isfinite(d.tol_factor)) d.tol_factor = def.tol_factor;
    if (!(d.ulps >= 0) || !isfinite(d.ulps)) d.ulps = def.ulps;
    if (!(d.step >= 0) || !isfinite(d.step)) d.step = 0.0;
    if (d.n_directions == 0) d.n_directions = def.n_directions;
    if (d.n_shapes == 0) d.n_shapes = def.n_shapes;
    if (d.threads == 0) d.threads = 1;
    if (d.mode != NB_GC_DIRECTIONAL) d.mode = NB_GC_PER_COORD;
    return d;
}

void nbi_report_init(nb_gradcheck_report *r, const nb_gradcheck_opts *o)
{
    memset(r, 0, sizeof *r);
    r->passed = 0;
    r->mode = o->mode;
    r->seed = o->seed;
    r->worst_ratio = 0.0;
    r->rel_diff = NAN;   /* until a check computes it */
}

int nbi_report_error(nb_gradcheck_report *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    r->passed = 0;
    return status;
}

void nbi_report_add(nb_gradcheck_report *r, const nb_gradcheck_entry *e, size_t max_report)
{
    r->n_checked++;
    if (e->verdict == NB_GC_FAIL) r->n_failed++;
    if (e->verdict == NB_GC_KINK) r->n_kinks++;
    /* NaN ratios (numeric not finite) rank as the worst. */
    double ratio = isnan(e->ratio) ? INFINITY : e->ratio;
    if (r->n_checked == 1 || ratio > r->worst_ratio) {
        r->worst_ratio = ratio;
        r->worst_index = e->index;
    }
    if (max_report == 0) return;
    if (!r->entries) {
        r->entries = calloc(max_report, sizeof *r->entries);
        if (!r->entries) return;   /* counts stay right; the table is lost */
    }
    /* Insertion into the list kept sorted by ratio, worst first. */
    size_t n = r->n_entries;
    if (n == max_report) {
        double last = isnan(r->entries[n - 1].ratio) ? INFINITY : r->entries[n - 1].ratio;
        if (ratio <= last) return;
        n--;
    }
    size_t k = n;
    while (k > 0) {
        double rk = isnan(r->entries[k - 1].ratio) ? INFINITY : r->entries[k - 1].ratio;
        if (rk >= ratio) break;
        r->entries[k] = r->entries[k - 1];
        k--;
    }
    r->entries[k] = *e;
    r->n_entries = n + 1;
}

void nbi_report_finish(nb_gradcheck_report *r)
{
    r->passed = r->n_failed == 0 && r->n_checked > 0;
}

const char *nb_gradcheck_verdict_name(int v)
{
    switch (v) {
    case NB_GC_PASS: return "pass";
    case NB_GC_KINK: return "kink";
    case NB_GC_FAIL: return "FAIL";
    default: return "?";
    }
}

/* ---- deciding one coordinate or direction ------------------------------ */

typedef struct line_ctx {
    /* f(t) = f(x + t u): per-coordinate mode moves x_i only (u = e_i). */
    const nbi_objective *obj;
    size_t i;              /* coordinate, or SIZE_MAX for a direction */
    double x0;             /* x_i at t = 0 */
    const double *xs, *u;  /* directional: saved x and direction */
    size_t *n_evals;
} line_ctx;

static double line_fn(double t, void *p)
{
    line_ctx *c = p;
    if (c->i != SIZE_MAX) {
        c->obj->set(c->obj->ctx, c->i, c->x0 + t);
    } else {
        if (c->obj->set_line) c->obj->set_line(c->obj->ctx, c->xs, c->u, t);
        else
            for (size_t k = 0; k < c->obj->n; k++) c->obj->set(c->obj->ctx, k, c->xs[k] + t * c->u[k]);
    }
    double f = NAN;
    (*c->n_evals)++;
    if (c->obj->eval(c->obj->ctx, &f) != NB_OK) return NAN;
    return f;
}

typedef struct decide_in {
    double a;       /* analytic derivative along the line */
    double mag_a;   /* magnitude for the ulps term (>= |a|) */
    double xscale;  /* |x| scale for the rounding of x + t u */
    double h;       /* first step */
    double f0;      /* f at t = 0 (NaN: unknown) */
} decide_in;

static double tolerance(const decide_in *in, double num, double err, double hh,
                        const nb_gradcheck_opts *o)
{
    double mag = fmax(in->mag_a, fabs(num));
    return o->tol_factor * err + o->ulps * DBL_EPSILON * mag +
           o->tol_factor * DBL_EPSILON * in->xscale * mag / hh;
}

static double ratio_of(double diff, double tol)
{
    if (isnan(diff)) return NAN;
    if (diff == 0.0) return 0.0;
    return tol > 0.0 ? diff / tol : INFINITY;
}

/* The smallest error bar a central difference at step hh can have: GSL's
 * round-off estimate alone, 6 eps |f| / hh (one ulp on each of its four
 * values, weighted as in gsl_deriv_central), through tolerance().  A step
 * whose error bar is above this floor for the next, narrower step has not
 * yet resolved the derivative as well as f allows. */
static double tolerance_floor(const decide_in *in, double num, double hh,
                              const nb_gradcheck_opts *o)
{
    double f0 = isfinite(in->f0) ? fabs(in->f0) : 0.0;
    return tolerance(in, num, 6.0 * DBL_EPSILON * f0 / hh, hh, o);
}

/* Noise amplification of the difference rules when each value of f carries
 * an independent error of standard deviation sigma (the error of the rule is
 * then c sigma / h):
 *   GSL's 5-point central rule, r5/h = [(4/3)(f(h/2) - f(-h/2))
 *   - (1/6)(f(h) - f(-h))]/h:             c = sqrt(2 (4/3)^2 + 2 (1/6)^2);
 *   its 4-point one-sided rules, weights (-52/3, 38, -28, 22/3)/h on
 *   f(h/4), f(h/2), f(3h/4), f(h):
 *                          c = sqrt((52/3)^2 + 38^2 + 28^2 + (22/3)^2). */
static double noise_gain_central(void)
{
    return sqrt(2.0 * (16.0 / 9.0) + 2.0 * (1.0 / 36.0));
}

static double noise_gain_onesided(void)
{
    return sqrt((52.0 / 3.0) * (52.0 / 3.0) + 38.0 * 38.0 + 28.0 * 28.0 +
                (22.0 / 3.0) * (22.0 / 3.0));
}

/* Points of each half of the noise probe, t = 0 included. */
#define NBI_NOISE_HALF 17

/* Standard deviation of the noise of f as the stencil of step h sees it
 * (after Moré & Wild, "Estimating computational noise", SIAM J. Sci.
 * Comput. 33, 2011).  A fourth divided difference sum_i w_i f(t_i) over
 * five points annihilates cubics, so a smooth f contributes only f^(4)/24,
 * while independent errors of standard deviation sigma give it variance
 * sigma^2 sum_i w_i^2.  Each half of the stencil, [-h, 0] and [0, h], is
 * sampled at 17 points about h/16 apart, 13 differences per half; the
 * smaller of the two estimates is kept, so that a kink at t = 0 (which
 * spoils neither half) or on one side of it (which spoils one) is not taken
 * for noise.
 *   The spacing follows the stencil, so noise that shows only beyond a few
 * ulps of x (a cost quantised as (x + 1e8) - 1e8, float intermediates, an
 * inner solver's tolerance) is seen; at a spacing of a few ulps such an f
 * looks exact.  The points are jittered by up to a quarter of their
 * spacing, pseudo-randomly: on a regular grid (or one jittered by a regular
 * sequence such as multiples of the golden ratio) the rounding error of a
 * quantised f can advance by a nearly constant phase from point to point,
 * a nearly linear sequence that fourth differences cancel, and the noise
 * would be missed.  0 when neither half is finite (GSL's one-ulp model then
 * stands). */
static double probe_jitter(uint64_t j)
{
    /* SplitMix64 (Steele, Lea & Flood, OOPSLA 2014) of j: a fixed,
     * stateless sequence, uniform in [-1/4, 1/4). */
    uint64_t z = (j + 1) * UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    return 0.5 * ((double)(z >> 11) * 0x1.0p-53 - 0.5);
}

static double noise_sigma(gsl_function *F, double h)
{
    double best = NAN, t[NBI_NOISE_HALF], f[NBI_NOISE_HALF];
    double delta = h / (NBI_NOISE_HALF - 1);
    double f0 = GSL_FN_EVAL(F, 0.0);
    for (int side = -1; side <= 1; side += 2) {
        t[0] = 0.0;
        f[0] = f0;
        for (int j = 1; j < NBI_NOISE_HALF; j++) {
            t[j] = side * (j + probe_jitter((uint64_t)(side * j + NBI_NOISE_HALF))) * delta;
            f[j] = GSL_FN_EVAL(F, t[j]);
        }
        double ss = 0.0, ww = 0.0;
        int ok = 1;
        for (int i = 0; i + 4 < NBI_NOISE_HALF && ok; i++) {
            double d4 = 0.0;
            for (int k = i; k <= i + 4; k++) {
                double w = 1.0;
                for (int l = i; l <= i + 4; l++)
                    if (l != k) w /= t[k] - t[l];
                d4 += w * f[k];
                ww += w * w;
            }
            if (!isfinite(d4)) ok = 0;
            ss += d4 * d4;
        }
        if (!ok) continue;
        double sigma = sqrt(ss / ww);
        if (isnan(best) || sigma < best) best = sigma;
    }
    return isnan(best) ? 0.0 : best;
}

/* gsl_deriv_central (GSL's deriv/deriv.c) with the measured noise sigma
 * added to its round-off estimate, which otherwise assumes each value of f
 * exact to one ulp: the 5-point rule at step h, its truncation error
 * |r5 - r3|/h, and GSL's choice of a step balancing the two, which now
 * balances truncation against the actual noise.  With sigma at rounding
 * level it returns what gsl_deriv_central returns. */
static void central_noisy(gsl_function *F, double h, double sigma, double *result,
                          double *round, double *trunc)
{
    double fm1 = GSL_FN_EVAL(F, -h), fp1 = GSL_FN_EVAL(F, h);
    double fmh = GSL_FN_EVAL(F, -h / 2.0), fph = GSL_FN_EVAL(F, h / 2.0);
    double r3 = 0.5 * (fp1 - fm1);
    double r5 = (4.0 / 3.0) * (fph - fmh) - (1.0 / 3.0) * r3;
    double e3 = (fabs(fp1) + fabs(fm1)) * DBL_EPSILON;
    double e5 = 2.0 * (fabs(fph) + fabs(fmh)) * DBL_EPSILON + e3;
    *result = r5 / h;
    *trunc = fabs((r5 - r3) / h);
    *round = fabs(e5 / h) + noise_gain_central() * sigma / h;
}

static void deriv_central_noisy(gsl_function *F, double h, double sigma, double *result,
                                double *abserr)
{
    double r0, round, trunc;
    central_noisy(F, h, sigma, &r0, &round, &trunc);
    double error = round + trunc;
    if (round < trunc && round > 0 && trunc > 0) {
        double r_opt, round_opt, trunc_opt;
        double h_opt = h * pow(round / (2.0 * trunc), 1.0 / 3.0);
        central_noisy(F, h_opt, sigma, &r_opt, &round_opt, &trunc_opt);
        double error_opt = round_opt + trunc_opt;
        if (error_opt < error && fabs(r_opt - r0) < 4.0 * error) {
            r0 = r_opt;
            error = error_opt;
        }
    }
    *result = r0;
    *abserr = error;
}

/* gsl_deriv_forward (GSL's deriv/deriv.c) likewise: its 4-point rule on
 * h/4, h/2, 3h/4, h, the truncation estimate |r4 - r2|/h, and its step
 * choice, with the measured noise in the round-off estimate.  Without it a
 * noisy f gives one-sided derivatives at a tiny optimised step whose errors
 * are underestimated, they seem to differ, and a smooth point passes for a
 * kink.  h < 0 gives gsl_deriv_backward. */
static void forward_noisy(gsl_function *F, double h, double sigma, double *result,
                          double *round, double *trunc)
{
    double f1 = GSL_FN_EVAL(F, h / 4.0), f2 = GSL_FN_EVAL(F, h / 2.0);
    double f3 = GSL_FN_EVAL(F, (3.0 / 4.0) * h), f4 = GSL_FN_EVAL(F, h);
    double r2 = 2.0 * (f4 - f2);
    double r4 = (22.0 / 3.0) * (f4 - f3) - (62.0 / 3.0) * (f3 - f2) + (52.0 / 3.0) * (f2 - f1);
    double e4 = 2 * 20.67 * (fabs(f4) + fabs(f3) + fabs(f2) + fabs(f1)) * DBL_EPSILON;
    *result = r4 / h;
    *trunc = fabs((r4 - r2) / h);
    *round = fabs(e4 / h) + noise_gain_onesided() * sigma / fabs(h);
}

static void deriv_onesided_noisy(gsl_function *F, double h, double sigma, double *result,
                                 double *abserr)
{
    double r0, round, trunc;
    forward_noisy(F, h, sigma, &r0, &round, &trunc);
    double error = round + trunc;
    if (round < trunc && round > 0 && trunc > 0) {
        double r_opt, round_opt, trunc_opt;
        double h_opt = h * sqrt(round / trunc);
        forward_noisy(F, h_opt, sigma, &r_opt, &round_opt, &trunc_opt);
        double error_opt = round_opt + trunc_opt;
        if (error_opt < error && fabs(r_opt - r0) < 4.0 * error) {
            r0 = r_opt;
            error = error_opt;
        }
    }
    *result = r0;
    *abserr = error;
}

static void set_estimate(nb_gradcheck_entry *e, double a, double num, double err, double tol)
{
    e->numeric = num;
    e->abserr = err;
    e->tol = tol;
    e->ratio = ratio_of(fabs(a - num), tol);
}

static void decide(gsl_function *F, const decide_in *in, const nb_gradcheck_opts *o,
                   nb_gradcheck_entry *e)
{
    double a = in->a, h = in->h;
    e->analytic = a;
    e->left = e->right = NAN;
    e->verdict = NB_GC_FAIL;
    e->numeric = e->abserr = e->tol = e->ratio = NAN;
    /* 1. GSL's central difference at h.  Agreement settles it when the
     * error bar is as tight as f allows (below the round-off floor of the
     * narrower step h/1e3): the usual case for smooth f, at 4-8 evaluations. */
    {
        double num = NAN, err = NAN;
        gsl_deriv_central(F, 0.0, h, &num, &err);
        if (isfinite(num) && isfinite(err)) {
            set_estimate(e, a, num, err, tolerance(in, num, err, h, o));
            if (e->ratio <= 1.0 && e->tol <= tolerance_floor(in, num, h * 1e-3, o)) {
                e->verdict = NB_GC_PASS;
                return;
            }
        }
    }
    if (!isfinite(a)) return;
    /* 2. A second look, when the first estimate disagreed or was loose.
     * (a) The noise of f as the stencil sees it: f may be noisier than
     * GSL's one-ulp assumption (long sums, cancellation, quantisation).
     * (b) The central difference at h, h/1e3, h/1e6, the noise in its error
     * bar.  A narrower step replaces the estimate in hand when it is tighter
     * (a kink or strong curvature within the wider stencil inflated that
     * one's error bar: accepting a against it would let a factor 2 pass a
     * ReLU evaluated just beside its kink), or when the two contradict each
     * other beyond both error bars (the wider stencil was spoiled and its
     * error bar is not to be trusted).  A narrower step that agrees with a
     * wider error bar merely confirms the estimate in hand: round-off grows
     * as 1/h, and accepting a against it would let a bug of 1e-4 pass under
     * the round-off of a 1e-9 step. */
    double sigma = noise_sigma(F, h);
    double hk = h;   /* step of the estimate in hand */
    int have = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        double hh = h * pow(1e-3, attempt);
        double num = NAN, err = NAN;
        deriv_central_noisy(F, hh, sigma, &num, &err);
        if (!isfinite(num) || !isfinite(err)) continue;
        double tol = tolerance(in, num, err, hh, o);
        if (have && tol >= e->tol && fabs(num - e->numeric) <= tol + e->tol) continue;
        set_estimate(e, a, num, err, tol);
        hk = hh;
        have = 1;
    }
    if (!have) {   /* f was not finite around x: nothing to compare with */
        e->numeric = e->abserr = e->tol = e->ratio = NAN;
        return;
    }
    if (e->ratio <= 1.0) {
        e->verdict = NB_GC_PASS;
        return;
    }
    if (!o->detect_kinks) return;
    /* 3. A kink at x: one-sided derivatives, at the step of the estimate in
     * hand (x may sit beside a kink that a narrower step has already
     * resolved: then it is no kink), that differ beyond their error bars,
     * the noise they propagate included (else a noisy f looks kinked, and a
     * wrong a between the two would pass as a kink). */
    double fw = NAN, efw = NAN, bw = NAN, ebw = NAN;
    deriv_onesided_noisy(F, hk, sigma, &fw, &efw);
    deriv_onesided_noisy(F, -hk, sigma, &bw, &ebw);
    if (!isfinite(fw) || !isfinite(bw) || !isfinite(efw) || !isfinite(ebw)) return;
    double tf = tolerance(in, fw, efw, hk, o), tb = tolerance(in, bw, ebw, hk, o);
    if (fabs(fw - bw) <= tf + tb) return;   /* smooth here: a genuine failure */
    e->left = bw;
    e->right = fw;
    double lo = fmin(fw, bw) - fmax(tf, tb), hi = fmax(fw, bw) + fmax(tf, tb);
    double tol = fmax(tf, tb);
    if (a >= lo && a <= hi) {
        e->verdict = NB_GC_KINK;
        e->tol = tol;
        e->ratio = 0.0;
    } else {
        e->tol = tol;
        e->ratio = ratio_of(a < lo ? lo - a : a - hi, tol) + 1.0;
    }
}

/* One coordinate, f0 = f(x) known (NaN: unknown). */
static void check_coord_at(const nbi_objective *obj, size_t i, double a, double f0,
                           const nb_gradcheck_opts *o, nb_gradcheck_entry *e, size_t *n_evals)
{
    double x0 = obj->get(obj->ctx, i);
    line_ctx c = { obj, i, x0, NULL, NULL, n_evals };
    gsl_function F = { line_fn, &c };
    decide_in in = { a, fabs(a), fabs(x0), o->step > 0 ? o->step : 1e-3 * fmax(1.0, fabs(x0)), f0 };
    memset(e, 0, sizeof *e);
    e->index = i;
    e->x = x0;
    if (obj->focus) obj->focus(obj->ctx, i, 1);
    decide(&F, &in, o, e);
    obj->set(obj->ctx, i, x0);
    if (obj->focus) obj->focus(obj->ctx, i, 0);
}

double nbi_noise_gain_central(void) { return noise_gain_central(); }

double nbi_noise_random(const nbi_objective *obj, const nb_gradcheck_opts *o, size_t n_dirs,
                        size_t *n_evals)
{
    size_t n = obj->n;
    double *xs = malloc(n * sizeof *xs), *u = malloc(n * sizeof *u);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double worst = 0.0;
    /* Coordinates moved through set, as a per-coordinate check moves them
     * (a target's set_line may address other storage, e.g. a graph's own
     * parameters rather than the private copy its eval reads). */
    nbi_objective one = *obj;
    one.set_line = NULL;
    if (!xs || !u || !rng) goto done;
    gsl_rng_set(rng, o->seed);
    double xmax = 0.0;
    for (size_t k = 0; k < n; k++) {
        xs[k] = obj->get(obj->ctx, k);
        xmax = fmax(xmax, fabs(xs[k]));
    }
    for (size_t d = 0; d < n_dirs; d++) {
        double umax = 0.0;
        for (size_t k = 0; k < n; k++) {
            u[k] = gsl_ran_gaussian_ziggurat(rng, 1.0);
            umax = fmax(umax, fabs(u[k]));
        }
        for (size_t k = 0; k < n; k++) u[k] /= umax;
        line_ctx c = { &one, SIZE_MAX, 0.0, xs, u, n_evals };
        gsl_function F = { line_fn, &c };
        double sigma = noise_sigma(&F, o->step > 0 ? o->step : 1e-3 * fmax(1.0, xmax));
        if (sigma > worst) worst = sigma;
    }
    for (size_t k = 0; k < n; k++) obj->set(obj->ctx, k, xs[k]);
done:
    free(xs);
    free(u);
    if (rng) gsl_rng_free(rng);
    return worst;
}

/* f at the objective's current point (NaN when it cannot be evaluated). */
static double objective_at(const nbi_objective *obj, size_t *n_evals)
{
    double f = NAN;
    (*n_evals)++;
    if (obj->eval(obj->ctx, &f) != NB_OK) return NAN;
    return f;
}

int nbi_check_coord(const nbi_objective *obj, size_t i, double a,
                    const nb_gradcheck_opts *o, nb_gradcheck_entry *e, size_t *n_evals)
{
    check_coord_at(obj, i, a, objective_at(obj, n_evals), o, e, n_evals);
    return NB_OK;
}

/* A second hand-derived gradient b (fdf()'s) against the first, a (df()'s),
 * along one checked coordinate or direction e.  They disagree when they
 * differ by more than the error bar the check used there: two gradients the
 * check cannot tell apart are equally verified, while a fixed number of
 * ulps would flag the same sum taken in another order (a BLAS call against
 * a loop) near a minimum, where the gradient is small and its terms are
 * not. */
static void compare_second(nb_gradcheck_report *r, const nb_gradcheck_entry *e, double b,
                           const nb_gradcheck_opts *o)
{
    double a = e->analytic;
    double tol = isfinite(e->tol) ? e->tol : o->ulps * DBL_EPSILON * fmax(fabs(a), fabs(b));
    if (fabs(a - b) <= tol) return;
    if (r->n_fdf_mismatch == 0)
        snprintf(r->error, sizeof r->error,
                 "fdf() gradient differs from df() %s %zu: %.17g vs %.17g (error bar %.3g)",
                 o->mode == NB_GC_DIRECTIONAL ? "along direction" : "at coordinate", e->index, b,
                 a, tol);
    r->n_fdf_mismatch++;
}

size_t nbi_check_threads(const nbi_objective *obj, const nb_gradcheck_opts *o, size_t n)
{
    if (!obj->clone || !obj->release || o->threads <= 1) return 1;
    size_t t = o->threads < NBI_MAX_THREADS ? o->threads : NBI_MAX_THREADS;
    size_t most = (n + NBI_COORD_CHUNK - 1) / NBI_COORD_CHUNK;
    return t < most ? t : (most ? most : 1);
}

/* The per-coordinate loop, on one thread or several.  Coordinates are
 * decided a window at a time: the threads take chunks of the window, each
 * with its own copy of the objective, and write each entry to the slot of
 * its coordinate; then the calling thread merges the slots in coordinate
 * order.  Whatever the number of threads, every coordinate is decided from
 * the same state by the same arithmetic and merged in the same order, so
 * the report is the same bit for bit (docs/gradcheck.md, "Threads"). */
typedef struct coords_job {
    nbi_objective obj;          /* ctx replaced by each thread's own */
    void **ctx;                 /* (threads) */
    size_t *n_evals;            /* (threads) */
    const double *grad;
    const nb_gradcheck_opts *o;
    double f0;
    size_t begin;               /* first coordinate of the window */
    nb_gradcheck_entry *slot;   /* (window) */
    nbi_result *res;            /* (index_offset + n) results, or NULL */
    size_t index_offset;
    nbi_work work;
} coords_job;

static_assert(NBI_COORD_CHUNK * sizeof(nb_gradcheck_entry) % NBI_CACHE_LINE == 0,
              "a chunk of slots fills whole cache lines");

static void coords_worker(void *arg, size_t t)
{
    coords_job *J = arg;
    /* What the loop reads, copied to this thread's stack, and what it
     * counts, kept there: the only line of J written by all the threads is
     * the work counter's (nbi_work), so none of them stalls on another's
     * writes (check.h, NBI_CACHE_LINE). */
    nbi_objective obj = J->obj;
    obj.ctx = J->ctx[t];
    const double *grad = J->grad;
    const nb_gradcheck_opts *o = J->o;
    double f0 = J->f0;
    size_t begin = J->begin, b, e, evals = 0;
    nb_gradcheck_entry *slot = J->slot;
    nbi_result *res = J->res ? J->res + J->index_offset + begin : NULL;
    while (nbi_work_next(&J->work, &b, &e))
        for (size_t k = b; k < e; k++) {
            check_coord_at(&obj, begin + k, grad[begin + k], f0, o, &slot[k], &evals);
            if (res) nbi_result_set(&res[k], &slot[k]);
        }
    J->n_evals[t] += evals;
}

/* nbi_check_coords, with grad2 (NULL: none) compared along the way. */
static int check_coords(const nbi_objective *obj, const double *grad, const double *grad2,
                        const nb_gradcheck_opts *o, size_t index_offset,
                        nb_gradcheck_report *report, nbi_results *res)
{
    double f0 = objective_at(obj, &report->n_evals);   /* the same for every coordinate */
    size_t n = obj->n, T = nbi_check_threads(obj, o, n);
    size_t window = n < NBI_COORD_WINDOW ? n : NBI_COORD_WINDOW;
    nb_gradcheck_entry one;
    void *ctx1[1] = { obj->ctx };
    size_t evals1[1] = { 0 };
    /* The slots of a chunk fill whole cache lines (NBI_COORD_CHUNK entries
     * of a size that is a multiple of 8 bytes, from an aligned start): the
     * threads never write one line. */
    coords_job J = { *obj, ctx1, evals1, grad, o, f0, 0,
                     nbi_line_alloc(window * sizeof(nb_gradcheck_entry)),
                     nbi_results_room(res, index_offset + n), index_offset, { 0 } };
    if (T > 1) {
        J.ctx = malloc(T * sizeof *J.ctx);
        J.n_evals = calloc(T, sizeof *J.n_evals);
        if (!J.ctx || !J.n_evals) {
            free(J.ctx);
            free(J.n_evals);
            J.ctx = ctx1;
            J.n_evals = evals1;
            T = 1;
        } else {
            J.ctx[0] = obj->ctx;
            for (size_t t = 1; t < T; t++)
                if (!(J.ctx[t] = obj->clone(obj->ctx))) {
                    T = t;   /* out of memory: fewer threads */
                    break;
                }
        }
    }
    if (!J.slot) {   /* out of memory: one coordinate at a time */
        J.slot = &one;
        window = 1;
    }
    for (size_t begin = 0; begin < n; begin += window) {
        size_t cnt = n - begin < window ? n - begin : window;
        J.begin = begin;
        nbi_work_init(&J.work, cnt, NBI_COORD_CHUNK);
        nbi_parallel_run(T, coords_worker, &J);
        for (size_t k = 0; k < cnt; k++) {
            nb_gradcheck_entry *e = &J.slot[k];
            e->index += index_offset;
            if (grad2) compare_second(report, e, grad2[begin + k], o);
            nbi_report_add(report, e, o->max_report);
        }
    }
    for (size_t t = 0; t < T; t++) report->n_evals += J.n_evals[t];
    if (J.ctx != ctx1) {
        for (size_t t = 1; t < T; t++) obj->release(J.ctx[t]);
        free(J.ctx);
        free(J.n_evals);
    }
    if (J.slot != &one) free(J.slot);
    return NB_OK;
}

int nbi_check_coords(const nbi_objective *obj, const double *grad,
                     const nb_gradcheck_opts *o, size_t index_offset,
                     nb_gradcheck_report *report, nbi_results *res)
{
    return check_coords(obj, grad, NULL, o, index_offset, report, res);
}

/* nbi_check_directions, with grad2 (NULL: none) compared along the way. */
static int check_directions(const nbi_objective *obj, const double *grad, const double *grad2,
                            const nb_gradcheck_opts *o, gsl_rng *rng, size_t index_offset,
                            nb_gradcheck_report *report, nbi_results *res)
{
    size_t n = obj->n;
    double *xs = malloc(n * sizeof *xs), *u = malloc(n * sizeof *u);
    if (!xs || !u) {
        free(xs);
        free(u);
        return NB_ENOMEM;
    }
    double xmax = 0.0, asum = 0.0;
    for (size_t k = 0; k < n; k++) {
        xs[k] = obj->get(obj->ctx, k);
        xmax = fmax(xmax, fabs(xs[k]));
        asum += fabs(grad[k]);
    }
    double f0 = objective_at(obj, &report->n_evals);   /* f(x), the same for every direction */
    for (size_t d = 0; d < o->n_directions; d++) {
        /* u ~ N(0, I), scaled so that max |u_k| = 1: each coordinate moves
         * at most as far as a per-coordinate step would move it. */
        double umax = 0.0;
        for (size_t k = 0; k < n; k++) {
            u[k] = gsl_ran_gaussian_ziggurat(rng, 1.0);
            umax = fmax(umax, fabs(u[k]));
        }
        double a = 0.0, b = 0.0;
        for (size_t k = 0; k < n; k++) {
            u[k] /= umax;
            a += grad[k] * u[k];
            if (grad2) b += grad2[k] * u[k];
        }
        line_ctx c = { obj, SIZE_MAX, 0.0, xs, u, &report->n_evals };
        gsl_function F = { line_fn, &c };
        decide_in in = { a, asum, xmax, o->step > 0 ? o->step : 1e-3 * fmax(1.0, xmax), f0 };
        nb_gradcheck_entry e;
        memset(&e, 0, sizeof e);
        e.index = index_offset + d;
        decide(&F, &in, o, &e);
        if (grad2) compare_second(report, &e, b, o);
        nbi_report_add(report, &e, o->max_report);
        nbi_results_put(res, &e);
    }
    for (size_t k = 0; k < n; k++) obj->set(obj->ctx, k, xs[k]);
    free(xs);
    free(u);
    return NB_OK;
}

int nbi_check_directions(const nbi_objective *obj, const double *grad,
                         const nb_gradcheck_opts *o, gsl_rng *rng,
                         size_t index_offset, nb_gradcheck_report *report, nbi_results *res)
{
    return check_directions(obj, grad, NULL, o, rng, index_offset, report, res);
}

/* ---- probing a failing coordinate for the diagnosis --------------------- */

void nbi_probe_coord(const nbi_objective *obj, size_t i, const nb_gradcheck_opts *o,
                     nbi_probe *p, size_t *n_evals)
{
    double x0 = obj->get(obj->ctx, i);
    line_ctx c = { obj, i, x0, NULL, NULL, n_evals };
    gsl_function F = { line_fn, &c };
    p->h = o->step > 0 ? o->step : 1e-3 * fmax(1.0, fabs(x0));
    if (obj->focus) obj->focus(obj->ctx, i, 1);
    p->f0 = GSL_FN_EVAL(&F, 0.0);
    p->sigma = noise_sigma(&F, p->h);
    p->finite = isfinite(p->f0);
    for (int k = 0; k < NBI_PROBE_STEPS; k++) {
        double hh = p->h * pow(10.0, 2 - k);
        deriv_central_noisy(&F, hh, p->sigma, &p->num[k], &p->err[k]);
        if (!isfinite(p->num[k]) || !isfinite(p->err[k])) p->finite = 0;
    }
    obj->set(obj->ctx, i, x0);
    if (obj->focus) obj->focus(obj->ctx, i, 0);
}

/* ---- printing ---------------------------------------------------------- */

void nb_gradcheck_report_print(FILE *out, const nb_gradcheck_report *r)
{
    if (!out || !r) return;
    const char *unit = r->mode == NB_GC_DIRECTIONAL ? "directions" : "coordinates";
    fprintf(out, "gradcheck %s: %s — %zu %s checked, %zu failed, %zu on kinks (%zu evaluations)\n",
            r->target[0] ? r->target : "(target)", r->passed ? "PASS" : "FAIL", r->n_checked,
            unit, r->n_failed, r->n_kinks, r->n_evals);
    if (r->n_fdf_mismatch)
        fprintf(out, "  fdf() disagrees with f()/df() at %zu %s\n", r->n_fdf_mismatch, unit);
    /* No coordinate checked: the check could not run, and this is why. */
    if (r->error[0]) fprintf(out, "  %s: %s\n", r->n_checked ? "note" : "error", r->error);
    if (r->n_entries) {
        int w = 10;   /* the name column fits the longest name */
        for (size_t k = 0; k < r->n_entries; k++)
            if ((int)strlen(r->entries[k].name) > w) w = (int)strlen(r->entries[k].name);
        fprintf(out, "  %-*s %-12s %-22s %-22s %-10s %-10s %s\n", w,
                r->mode == NB_GC_DIRECTIONAL ? "direction" : "coord", "x", "analytic", "numeric",
                "error bar", "ratio", "verdict");
        for (size_t k = 0; k < r->n_entries; k++) {
            const nb_gradcheck_entry *e = &r->entries[k];
            char idx[32];
            snprintf(idx, sizeof idx, "%zu", e->index);
            nbi_fprintf(out, "  %-*s %-12.5g %-22.15g %-22.15g %-10.3g %-10.3g %s", w,
                    e->name[0] ? e->name : idx, e->x, e->analytic, e->numeric, e->tol, e->ratio,
                    nb_gradcheck_verdict_name(e->verdict));
            if (!isnan(e->left))
                nbi_fprintf(out, "  (left %.6g, right %.6g)", e->left, e->right);
            fputc('\n', out);
        }
    }
    if (r->n_checked) {
        char wn[64] = "";
        if (r->mode != NB_GC_DIRECTIONAL) {
            nbi_coord_name(r, r->worst_index, wn, sizeof wn);
            for (size_t k = 0; k < r->n_entries; k++)   /* the name the target gave it */
                if (r->entries[k].index == r->worst_index && r->entries[k].name[0]) {
                    snprintf(wn, sizeof wn, "%s", r->entries[k].name);
                    break;
                }
        }
        nbi_fprintf(out, "  worst: %s %zu%s%s%s (ratio %.3g)\n",
                r->mode == NB_GC_DIRECTIONAL ? "direction" : "coordinate", r->worst_index,
                wn[0] ? " (" : "", wn, wn[0] ? ")" : "", r->worst_ratio);
    }
    nbi_report_print_blocks(out, r);
    if (r->replay[0]) fprintf(out, "  replay: %s\n", r->replay);
}

/* One line of JSON (io/json.c: shortest exact numbers, null for NaN and
 * infinities). */
void nb_gradcheck_report_json(FILE *out, const nb_gradcheck_report *r)
{
    if (!out || !r) return;
    nb_json j;
    nb_json_init(&j, out, NB_JSON_COMPACT);
    nb_json_begin_object(&j, 0);
    nb_json_key(&j, "target");
    nb_json_string(&j, r->target);
    nb_json_key(&j, "passed");
    nb_json_bool(&j, r->passed);
    nb_json_key(&j, "mode");
    nb_json_string(&j, r->mode == NB_GC_DIRECTIONAL ? "directional" : "per-coordinate");
    nb_json_key(&j, "n_checked");
    nb_json_uint(&j, r->n_checked);
    nb_json_key(&j, "n_failed");
    nb_json_uint(&j, r->n_failed);
    nb_json_key(&j, "n_kinks");
    nb_json_uint(&j, r->n_kinks);
    nb_json_key(&j, "worst_index");
    nb_json_uint(&j, r->worst_index);
    nb_json_key(&j, "worst_ratio");
    nb_json_number(&j, r->worst_ratio);
    nb_json_key(&j, "n_evals");
    nb_json_uint(&j, r->n_evals);
    nb_json_key(&j, "n_fdf_mismatch");
    nb_json_uint(&j, r->n_fdf_mismatch);
    nb_json_key(&j, "seed");
    nb_json_uint(&j, r->seed);
    nb_json_key(&j, "replay");
    nb_json_string(&j, r->replay);
    if (r->error[0]) {
        nb_json_key(&j, "error");
        nb_json_string(&j, r->error);
    }
    nb_json_key(&j, "worst");
    nb_json_begin_array(&j, 0);
    for (size_t k = 0; k < r->n_entries; k++) {
        const nb_gradcheck_entry *e = &r->entries[k];
        nb_json_begin_object(&j, 0);
        nb_json_key(&j, "index");
        nb_json_uint(&j, e->index);
        if (e->name[0]) {
            nb_json_key(&j, "name");
            nb_json_string(&j, e->name);
        }
        const struct { const char *key; double v; } num[] = {
            { "x", e->x }, { "analytic", e->analytic }, { "numeric", e->numeric },
            { "abserr", e->abserr }, { "tol", e->tol }, { "ratio", e->ratio },
            { "left", e->left }, { "right", e->right },
        };
        size_t n_num = isnan(e->left) ? 6 : 8;
        for (size_t i = 0; i < n_num; i++) {
            nb_json_key(&j, num[i].key);
            nb_json_number(&j, num[i].v);
        }
        nb_json_key(&j, "verdict");
        nb_json_string(&j, nb_gradcheck_verdict_name(e->verdict));
        nb_json_end_object(&j);
    }
    nb_json_end_array(&j);
    nbi_report_json_blocks(&j, r);
    nb_json_end_object(&j);
    (void)nb_json_finish(&j);   /* the report printers return nothing */
}

/* ---- target: gsl_multimin_function_fdf --------------------------------- */

typedef struct fdf_ctx {
    const gsl_multimin_function_fdf *fdf;
    gsl_vector *x;   /* private copy, moved one coordinate at a time */
} fdf_ctx;

static double vec_get(void *p, size_t i) { return gsl_vector_get(((fdf_ctx *)p)->x, i); }
static void vec_set(void *p, size_t i, double v) { gsl_vector_set(((fdf_ctx *)p)->x, i, v); }

static int fdf_eval(void *p, double *f)
{
    fdf_ctx *c = p;
    *f = c->fdf->f(c->x, c->fdf->params);
    return isfinite(*f) ? NB_OK : NB_EDOMAIN;
}

/* The checker never leaves GSL's abort handler in charge, and hands the
 * caller's handler back when it returns. */
typedef struct handler_guard {
    gsl_error_handler_t *saved;
} handler_guard;

static handler_guard guard_on(void)
{
    handler_guard h = { gsl_set_error_handler_off() };
    return h;
}

static void guard_off(handler_guard h) { gsl_set_error_handler(h.saved); }

/* A copy of x that owns its memory (gsl_vector_free releases it) and sits
 * on cache lines of its own: x is written for every coordinate, while the
 * other threads write their copies (check.h, NBI_CACHE_LINE). */
static gsl_vector *vec_copy(const gsl_vector *x)
{
    const size_t per_line = NBI_CACHE_LINE / sizeof(double);
    gsl_block *b = gsl_block_alloc(x->size + 2 * per_line);
    if (!b) return NULL;
    size_t skip = (NBI_CACHE_LINE - (uintptr_t)b->data % NBI_CACHE_LINE) % NBI_CACHE_LINE;
    gsl_vector *v = gsl_vector_alloc_from_block(b, skip / sizeof(double), x->size, 1);
    if (!v) {
        gsl_block_free(b);
        return NULL;
    }
    v->owner = 1;   /* gsl_vector_free frees the block too */
    gsl_vector_memcpy(v, x);
    return v;
}

/* Another thread's fdf_ctx: its own copy of x (opts.threads > 1, where the
 * caller promised thread-safe callbacks). */
static void *fdf_clone(void *p)
{
    const fdf_ctx *c = p;
    fdf_ctx *d = nbi_line_alloc(sizeof *d);
    if (!d) return NULL;
    d->fdf = c->fdf;
    if (!(d->x = vec_copy(c->x))) {
        free(d);
        return NULL;
    }
    return d;
}

static void fdf_release(void *p)
{
    fdf_ctx *c = p;
    gsl_vector_free(c->x);
    free(c);
}

int nbi_vec_all_finite(const gsl_vector *v, size_t *bad)
{
    for (size_t i = 0; i < v->size; i++)
        if (!isfinite(gsl_vector_get(v, i))) {
            if (bad) *bad = i;
            return 0;
        }
    return 1;
}

/* Whether fdf()'s value f2 is f()'s value f0: equal to a few ulps, or
 * within the rounding noise of f at x (the same long sum taken in another
 * order differs by about that much), measured as in a second look, along
 * coordinate 0. */
static int fdf_same_value(const nbi_objective *obj, double f0, double f2,
                          const nb_gradcheck_opts *o, size_t *n_evals)
{
    double ulps = o->ulps * DBL_EPSILON * fmax(fabs(f0), fabs(f2));
    if (fabs(f2 - f0) <= ulps) return 1;
    if (!isfinite(f2)) return 0;
    double x0 = obj->get(obj->ctx, 0);
    line_ctx c = { obj, 0, x0, NULL, NULL, n_evals };
    gsl_function F = { line_fn, &c };
    double sigma = noise_sigma(&F, o->step > 0 ? o->step : 1e-3 * fmax(1.0, fabs(x0)));
    obj->set(obj->ctx, 0, x0);
    return fabs(f2 - f0) <= ulps + o->tol_factor * sigma;
}

static int gradcheck_fdf_run(const gsl_multimin_function_fdf *fdf, const gsl_vector *x,
                             const nb_gradcheck_opts *o, nb_gradcheck_report *r)
{
    size_t n = x->size, bad = 0;
    if (!nbi_vec_all_finite(x, &bad))
        return nbi_report_error(r, NB_EDOMAIN, "gradcheck_fdf: x[%zu] = %g is not finite", bad,
                                gsl_vector_get(x, bad));
    gsl_vector *xc = vec_copy(x);
    gsl_vector *g = gsl_vector_calloc(n);
    gsl_vector *g2 = fdf->fdf ? gsl_vector_calloc(n) : NULL;
    int st = NB_OK;
    if (!xc || !g || (fdf->fdf && !g2)) {
        st = nbi_report_error(r, NB_ENOMEM, "gradcheck_fdf: out of memory (n = %zu)", n);
        goto done;
    }
    double f0 = fdf->f(xc, fdf->params);
    r->n_evals++;
    if (!isfinite(f0)) {
        st = nbi_report_error(r, NB_EDOMAIN, "gradcheck_fdf: f(x) = %g is not finite", f0);
        goto done;
    }
    fdf->df(xc, fdf->params, g);
    double f2 = NAN;
    if (fdf->fdf) fdf->fdf(xc, fdf->params, &f2, g2);
    double *grad = malloc(n * sizeof *grad), *grad2 = g2 ? malloc(n * sizeof *grad2) : NULL;
    if (!grad || (g2 && !grad2)) {
        free(grad);
        free(grad2);
        st = nbi_report_error(r, NB_ENOMEM, "gradcheck_fdf: out of memory (n = %zu)", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        grad[i] = gsl_vector_get(g, i);
        if (grad2) grad2[i] = gsl_vector_get(g2, i);
    }
    /* Re-read x into the private copy: df might have written into it. */
    gsl_vector_memcpy(xc, x);
    fdf_ctx c = { fdf, xc };
    nbi_objective obj = { n, vec_get, vec_set, fdf_eval, &c, NULL, NULL, fdf_clone, fdf_release };
    nbi_results res = { NULL, 0, 0, 0, 0 };
    nbi_results_reserve(&res, o->mode == NB_GC_DIRECTIONAL ? o->n_directions : n);
    if (fdf->fdf && !fdf_same_value(&obj, f0, f2, o, &r->n_evals)) {
        r->n_fdf_mismatch++;
        snprintf(r->error, sizeof r->error, "fdf() returns f = %.17g but f() returns %.17g", f2,
                 f0);
    }
    /* fdf()'s gradient is compared with df()'s along every checked
     * coordinate or direction (compare_second). */
    if (o->mode == NB_GC_DIRECTIONAL) {
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        if (!rng) {
            free(grad);
            free(grad2);
            st = nbi_report_error(r, NB_ENOMEM, "gradcheck_fdf: out of memory");
            goto done;
        }
        gsl_rng_set(rng, o->seed);
        st = check_directions(&obj, grad, grad2, o, rng, 0, r, &res);
        gsl_rng_free(rng);
        if (st == NB_OK) nbi_diagnose_directions(r, &res, o);
    } else {
        st = check_coords(&obj, grad, grad2, o, 0, r, &res);
        /* The explanation: the caller's blocks, then the diagnosis. */
        if (st == NB_OK && nbi_report_add_blocks(r, &res, o->blocks, o->n_blocks) == NB_OK)
            nbi_diagnose(r, &res, 0, r->n_blocks, &obj, 0, o);
    }
    nbi_report_conclude(r, &res, 0);
    nbi_results_free(&res);
    free(grad2);
    free(grad);
    if (st != NB_OK) nbi_report_error(r, st, "gradcheck_fdf: %s", nb_strerror(st));
done:
    gsl_vector_free(xc);
    gsl_vector_free(g);
    if (g2) gsl_vector_free(g2);
    return st;
}

void nbi_set_replay(nb_gradcheck_report *r, const nb_gradcheck_opts *o)
{
    /* C source to paste back: '.' and every digit needed, whatever the locale. */
    char tf[32], step[32];
    nbi_format(r->replay, sizeof r->replay,
               "opts.mode = %s; opts.seed = %lu; opts.tol_factor = %s; opts.step = %s",
               o->mode == NB_GC_DIRECTIONAL ? "NB_GC_DIRECTIONAL" : "NB_GC_PER_COORD", o->seed,
               nbi_format_double(o->tol_factor, tf, sizeof tf),
               nbi_format_double(o->step, step, sizeof step));
}

int nb_gradcheck_fdf(const gsl_multimin_function_fdf *fdf, const gsl_vector *x,
                     const nb_gradcheck_opts *opts, nb_gradcheck_report *report)
{
    if (!report) return NB_EINVAL;
    nb_gradcheck_opts o = nbi_opts(opts);
    nbi_report_init(report, &o);
    if (!fdf || !x)
        return nbi_report_error(report, NB_EINVAL, "gradcheck_fdf: %s is NULL",
                                !fdf ? "fdf" : "x");
    if (!fdf->f || !fdf->df)
        return nbi_report_error(report, NB_EINVAL, "gradcheck_fdf: fdf->%s is NULL",
                                !fdf->f ? "f" : "df");
    if (fdf->n != x->size)
        return nbi_report_error(report, NB_ESHAPE,
                                "gradcheck_fdf: fdf->n = %zu but x has %zu elements", fdf->n,
                                x->size);
    if (x->size == 0)
        return nbi_report_error(report, NB_ESHAPE, "gradcheck_fdf: x is empty");
    int bs = nbi_check_blocks(report, &o, x->size, "gradcheck_fdf");
    if (bs != NB_OK) return bs;
    snprintf(report->target, sizeof report->target, "fdf (n=%zu)", x->size);
    nbi_set_replay(report, &o);
    handler_guard h = guard_on();
    int st = gradcheck_fdf_run(fdf, x, &o, report);
    guard_off(h);
    if (st == NB_OK) {
        nbi_report_finish(report);
        if (report->n_fdf_mismatch) report->passed = 0;
    }
    return st;
}

/* ---- target: gsl_multifit_nlinear_fdf ---------------------------------- */

#define NBI_JAC_CACHE 24

typedef struct jac_ctx {
    const gsl_multifit_nlinear_fdf *fdf;
    gsl_vector *x;       /* (p) private copy */
    gsl_vector *f;       /* (n) residuals scratch */
    size_t row;          /* residual being differentiated, or SIZE_MAX for <v, f> */
    const double *v;     /* (n) directional weights */
    size_t col;          /* coordinate being moved (cache key) */
    /* Evaluations of the whole residual vector at x_col = key, reused for
     * every row of the column. */
    double key[NBI_JAC_CACHE];
    double *val;         /* (NBI_JAC_CACHE, n) */
    size_t n_cached, next;
    size_t *n_evals;
} jac_ctx;

static double jac_get(void *p, size_t i) { return gsl_vector_get(((jac_ctx *)p)->x, i); }
static void jac_set(void *p, size_t i, double v) { gsl_vector_set(((jac_ctx *)p)->x, i, v); }

static int jac_full_eval(jac_ctx *c, const double **fv)
{
    size_t n = c->fdf->n;
    if (c->row != SIZE_MAX) {
        double k = gsl_vector_get(c->x, c->col);
        for (size_t e = 0; e < c->n_cached; e++)
            if (memcmp(&c->key[e], &k, sizeof k) == 0) {
                *fv = c->val + e * n;
                return NB_OK;
            }
    }
    (*c->n_evals)++;
    int gs = c->fdf->f(c->x, c->fdf->params, c->f);
    if (gs != GSL_SUCCESS) return NB_EGSL;
    if (c->row == SIZE_MAX) {
        *fv = c->f->data;
        return NB_OK;
    }
    size_t e = c->next;
    c->next = (c->next + 1) % NBI_JAC_CACHE;
    if (c->n_cached < NBI_JAC_CACHE) c->n_cached++;
    c->key[e] = gsl_vector_get(c->x, c->col);
    for (size_t i = 0; i < n; i++) c->val[e * n + i] = gsl_vector_get(c->f, i);
    *fv = c->val + e * n;
    return NB_OK;
}

static int jac_eval(void *p, double *out)
{
    jac_ctx *c = p;
    const double *fv;
    int st = jac_full_eval(c, &fv);
    if (st != NB_OK) return st;
    if (c->row != SIZE_MAX) {
        *out = fv[c->row];
    } else {
        double s = 0.0;
        for (size_t i = 0; i < c->fdf->n; i++) s += c->v[i] * fv[i];
        *out = s;
    }
    return isfinite(*out) ? NB_OK : NB_EDOMAIN;
}

/* Another thread's jac_ctx: its own x, residuals and cache (opts.threads >
 * 1, where the caller promised thread-safe callbacks). */
static jac_ctx *jac_clone(const jac_ctx *c)
{
    jac_ctx *d = nbi_line_alloc(sizeof *d);   /* written per coordinate */
    if (!d) return NULL;
    *d = *c;
    d->x = vec_copy(c->x);
    d->f = gsl_vector_alloc(c->fdf->n);
    d->val = malloc(NBI_JAC_CACHE * c->fdf->n * sizeof *d->val);
    if (!d->x || !d->f || !d->val) {
        if (d->x) gsl_vector_free(d->x);
        if (d->f) gsl_vector_free(d->f);
        free(d->val);
        free(d);
        return NULL;
    }
    return d;
}

static void jac_release(jac_ctx *c)
{
    gsl_vector_free(c->x);
    gsl_vector_free(c->f);
    free(c->val);
    free(c);
}

/* Per-coordinate Jacobian check, on one thread or several: the columns of
 * a window are handed out to the threads, each with its own jac_ctx, and
 * the entries merged in the order of one thread (column by column, rows in
 * order), as in check_coords. */
typedef struct jac_job {
    jac_ctx **ctx;             /* (threads) */
    size_t *n_evals;           /* (threads) */
    const gsl_matrix *J;
    const nb_gradcheck_opts *o;
    size_t col0;               /* first column of the window */
    nb_gradcheck_entry *slot;  /* (columns of the window, n) */
    nbi_work work;
} jac_job;

static void jac_worker(void *arg, size_t t)
{
    jac_job *W = arg;
    jac_ctx *c = W->ctx[t];
    size_t n = c->fdf->n, p = c->fdf->p, b, e, evals = 0;
    size_t *keep = c->n_evals;
    c->n_evals = &evals;   /* counted on this thread's stack (coords_worker) */
    nbi_objective obj = { p, jac_get, jac_set, jac_eval, c, NULL, NULL, NULL, NULL };
    while (nbi_work_next(&W->work, &b, &e))
        for (size_t q = b; q < e; q++) {
            size_t j = W->col0 + q;
            c->col = j;
            c->n_cached = c->next = 0;
            for (size_t i = 0; i < n; i++) {
                nb_gradcheck_entry *en = &W->slot[q * n + i];
                c->row = i;
                nbi_check_coord(&obj, j, gsl_matrix_get(W->J, i, j), W->o, en, c->n_evals);
                en->index = i * p + j;
            }
        }
    c->n_evals = keep;
    W->n_evals[t] += evals;
}

static int jac_coords(jac_ctx *c, const gsl_matrix *J, const nb_gradcheck_opts *o,
                      nb_gradcheck_report *r,
                      nbi_results *res)
{
    size_t n = c->fdf->n, p = c->fdf->p;
    size_t T = o->threads < NBI_MAX_THREADS ? o->threads : NBI_MAX_THREADS;
    if (T > p) T = p;
    if (T < 1) T = 1;
    size_t cols = NBI_COORD_WINDOW / n;
    if (cols < T) cols = T;
    if (cols > p) cols = p;
    jac_ctx *ctx1[1] = { c };
    size_t evals1[1] = { 0 };
    jac_job W = { ctx1, evals1, J, o, 0, nbi_line_alloc(cols * n * sizeof(nb_gradcheck_entry)),
                  { 0 } };
    if (!W.slot) return NB_ENOMEM;
    if (T > 1) {
        W.ctx = malloc(T * sizeof *W.ctx);
        W.n_evals = calloc(T, sizeof *W.n_evals);
        if (!W.ctx || !W.n_evals) {
            free(W.ctx);
            free(W.n_evals);
            W.ctx = ctx1;
            W.n_evals = evals1;
            T = 1;
        } else {
            W.ctx[0] = c;
            for (size_t t = 1; t < T; t++)
                if (!(W.ctx[t] = jac_clone(c))) {
                    T = t;   /* out of memory: fewer threads */
                    break;
                }
        }
    }
    size_t *own = c->n_evals;
    for (size_t j0 = 0; j0 < p; j0 += cols) {
        size_t cnt = p - j0 < cols ? p - j0 : cols;
        W.col0 = j0;
        nbi_work_init(&W.work, cnt, 1);
        nbi_parallel_run(T, jac_worker, &W);
        for (size_t k = 0; k < cnt * n; k++) {
            nbi_report_add(r, &W.slot[k], o->max_report);
            nbi_results_put(res, &W.slot[k]);
        }
    }
    c->n_evals = own;
    for (size_t t = 0; t < T; t++) r->n_evals += W.n_evals[t];
    if (W.ctx != ctx1) {
        for (size_t t = 1; t < T; t++) jac_release(W.ctx[t]);
        free(W.ctx);
        free(W.n_evals);
    }
    free(W.slot);
    return NB_OK;
}

static int jaccheck_run(const gsl_multifit_nlinear_fdf *fdf, const gsl_vector *x,
                        const nb_gradcheck_opts *o, nb_gradcheck_report *r)
{
    size_t n = fdf->n, p = fdf->p, bad = 0;
    if (!nbi_vec_all_finite(x, &bad))
        return nbi_report_error(r, NB_EDOMAIN, "jaccheck_fdf: x[%zu] = %g is not finite", bad,
                                gsl_vector_get(x, bad));
    int st = NB_OK;
    gsl_vector *xc = vec_copy(x), *f = gsl_vector_alloc(n);
    gsl_matrix *J = gsl_matrix_calloc(n, p);
    double *val = malloc(NBI_JAC_CACHE * n * sizeof *val);
    double *v = malloc(n * sizeof *v), *jtv = malloc(p * sizeof *jtv);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!xc || !f || !J || !val || !v || !jtv || !rng) {
        st = nbi_report_error(r, NB_ENOMEM, "jaccheck_fdf: out of memory (n = %zu, p = %zu)", n, p);
        goto done;
    }
    gsl_rng_set(rng, o->seed);
    r->n_evals++;
    if (fdf->f(xc, fdf->params, f) != GSL_SUCCESS) {
        st = nbi_report_error(r, NB_EGSL, "jaccheck_fdf: f(x) returned an error status");
        goto done;
    }
    if (!nbi_vec_all_finite(f, &bad)) {
        st = nbi_report_error(r, NB_EDOMAIN, "jaccheck_fdf: residual f_%zu(x) = %g is not finite",
                              bad, gsl_vector_get(f, bad));
        goto done;
    }
    if (fdf->df(xc, fdf->params, J) != GSL_SUCCESS) {
        st = nbi_report_error(r, NB_EGSL, "jaccheck_fdf: df(x) returned an error status");
        goto done;
    }
    gsl_vector_memcpy(xc, x);
    jac_ctx c = { fdf, xc, f, 0, v, 0, { 0 }, val, 0, 0, &r->n_evals };
    nbi_results res = { NULL, 0, 0, 0, p };
    nbi_results_reserve(&res, o->mode == NB_GC_DIRECTIONAL ? o->n_directions : n * p);
    nbi_objective obj = { p, jac_get, jac_set, jac_eval, &c, NULL, NULL, NULL, NULL };
    if (o->mode == NB_GC_DIRECTIONAL) {
        /* One fresh pair (v, u) per direction: v^T J u against d/dt <v, f(x + t u)>. */
        nb_gradcheck_opts one = *o;
        one.n_directions = 1;
        c.row = SIZE_MAX;
        for (size_t d = 0; d < o->n_directions && st == NB_OK; d++) {
            for (size_t i = 0; i < n; i++) v[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
            for (size_t j = 0; j < p; j++) {
                double s = 0.0;
                for (size_t i = 0; i < n; i++) s += v[i] * gsl_matrix_get(J, i, j);
                jtv[j] = s;
            }
            st = nbi_check_directions(&obj, jtv, &one, rng, d, r, &res);
        }
        if (st == NB_OK) nbi_diagnose_directions(r, &res, o);
    } else {
        st = jac_coords(&c, J, o, r, &res);
        if (st != NB_OK)
            nbi_report_error(r, st, "jaccheck_fdf: out of memory (n = %zu, p = %zu)", n, p);
        /* The caller's blocks name the columns (J[i][Theta2[1][1]]) and
         * are summarised over every row; the diagnosis reads the whole
         * Jacobian as one n x p matrix (no 'numerical': its entries are
         * not coordinates of one function the checker could probe). */
        r->jac_cols = p;
        if (st == NB_OK && nbi_report_add_blocks(r, &res, o->blocks, o->n_blocks) == NB_OK)
            nbi_diagnose(r, &res, 0, 0, NULL, 0, o);
    }
    nbi_report_conclude(r, &res, p);
    nbi_results_free(&res);
done:
    if (xc) gsl_vector_free(xc);
    if (f) gsl_vector_free(f);
    if (J) gsl_matrix_free(J);
    free(val);
    free(v);
    free(jtv);
    if (rng) gsl_rng_free(rng);
    return st;
}

int nb_jaccheck_fdf(const gsl_multifit_nlinear_fdf *fdf, const gsl_vector *x,
                    const nb_gradcheck_opts *opts, nb_gradcheck_report *report)
{
    if (!report) return NB_EINVAL;
    nb_gradcheck_opts o = nbi_opts(opts);
    nbi_report_init(report, &o);
    if (!fdf || !x)
        return nbi_report_error(report, NB_EINVAL, "jaccheck_fdf: %s is NULL", !fdf ? "fdf" : "x");
    if (!fdf->f)
        return nbi_report_error(report, NB_EINVAL, "jaccheck_fdf: fdf->f is NULL");
    if (!fdf->df)
        return nbi_report_error(report, NB_EINVAL,
                                "jaccheck_fdf: fdf->df is NULL (nothing hand-derived to check)");
    if (fdf->p != x->size)
        return nbi_report_error(report, NB_ESHAPE,
                                "jaccheck_fdf: fdf->p = %zu but x has %zu elements", fdf->p,
                                x->size);
    if (fdf->n == 0 || fdf->p == 0)
        return nbi_report_error(report, NB_ESHAPE, "jaccheck_fdf: empty problem (n = %zu, p = %zu)",
                                fdf->n, fdf->p);
    int bs = nbi_check_blocks(report, &o, fdf->p, "jaccheck_fdf");
    if (bs != NB_OK) return bs;
    snprintf(report->target, sizeof report->target, "jacobian (n=%zu, p=%zu)", fdf->n, fdf->p);
    nbi_set_replay(report, &o);
    handler_guard h = guard_on();
    int st = jaccheck_run(fdf, x, &o, report);
    guard_off(h);
    if (st == NB_OK) nbi_report_finish(report);
    return st;
}

/* ---- target: the parameters of a graph --------------------------------- */

typedef struct graph_ctx {
    nb_graph *g;
    nb_node *loss;
    size_t *offset;   /* (n_params + 1) cumulative sizes */
    size_t np;
    /* Per-coordinate mode: a private copy of the tape (partial.c), whose
     * parameters are this context's x; one context per thread.  Without it
     * (directional mode, or no memory for it) x is the graph's parameters
     * and every evaluation a full forward pass. */
    nbi_partial partial;
    int partial_ok;
    nb_node *loss_copy;   /* the loss in the copy */
    size_t focused;       /* coordinate in focus, or SIZE_MAX */
    double *slot;         /* its value */
} graph_ctx;

/* The parameter holding coordinate i: its number, and i's offset *k inside
 * it. */
static size_t graph_locate(const graph_ctx *c, size_t i, size_t *k)
{
    size_t lo = 0, hi = c->np;   /* offset[lo] <= i < offset[hi] */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (c->offset[mid] <= i) lo = mid;
        else hi = mid;
    }
    *k = i - c->offset[lo];
    return lo;
}

static double *graph_slot(graph_ctx *c, size_t i)
{
    if (i == c->focused) return c->slot;
    size_t k, pk = graph_locate(c, i, &k);
    nb_node *pn = c->partial_ok ? nbi_partial_param(&c->partial, pk) : nb_graph_param_at(c->g, pk);
    return &pn->value[k];
}

/* Per-coordinate mode re-evaluates only what the coordinate reaches: the
 * rows or columns of each product, bias and activation downstream of it
 * (nbi_partial_*), instead of the whole forward pass. */
static void graph_focus(void *p, size_t i, int on)
{
    graph_ctx *c = p;
    if (!c->partial_ok) return;
    if (!on) {
        nbi_partial_unfocus(&c->partial);
        c->focused = SIZE_MAX;
        return;
    }
    size_t k, pk = graph_locate(c, i, &k);
    nb_node *pn = nbi_partial_param(&c->partial, pk);
    nbi_partial_focus(&c->partial, pk, k / pn->cols, k % pn->cols);
    c->slot = &pn->value[k];
    c->focused = i;
}

static double graph_get(void *p, size_t i) { return *graph_slot(p, i); }

static void graph_set_line(void *p, const double *xs, const double *u, double t)
{
    graph_ctx *c = p;
    for (size_t k = 0; k < c->np; k++) {
        nb_node *pn = nb_graph_param_at(c->g, k);
        size_t off = c->offset[k], n = pn->rows * pn->cols;
        for (size_t i = 0; i < n; i++) pn->value[i] = xs[off + i] + t * u[off + i];
    }
}
static void graph_set(void *p, size_t i, double v) { *graph_slot(p, i) = v; }

static int graph_eval(void *p, double *f)
{
    graph_ctx *c = p;
    if (c->focused != SIZE_MAX) {
        nbi_partial_eval(&c->partial);
        *f = c->loss_copy->value[0];
        return isfinite(*f) ? NB_OK : NB_EDOMAIN;
    }
    if (c->partial_ok) {   /* unfocused: a whole pass of the copy, at its x */
        nbi_partial_eval_all(&c->partial);
        *f = c->loss_copy->value[0];
        return isfinite(*f) ? NB_OK : NB_EDOMAIN;
    }
    /* Without a copy, x is the graph's parameters (one thread only). */
    int st = nb_graph_forward(c->g);
    if (st != NB_OK) {
        nb_graph_clear_error(c->g);   /* a perturbed point left the domain */
        return st;
    }
    *f = c->loss->value[0];
    return NB_OK;
}

/* Sets up c's private copy of the tape; 0 when there is no memory for it. */
static int graph_partial(graph_ctx *c)
{
    c->focused = SIZE_MAX;
    c->partial_ok = nbi_partial_init(&c->partial, c->g, c->loss->index + 1) == NB_OK;
    if (c->partial_ok) c->loss_copy = nbi_partial_node(&c->partial, c->loss);
    return c->partial_ok;
}

/* Another thread's context: a copy of the tape of its own. */
static void *graph_clone(void *p)
{
    const graph_ctx *c = p;
    if (!c->partial_ok) return NULL;   /* the graph itself cannot be shared */
    graph_ctx *d = nbi_line_alloc(sizeof *d);   /* written per coordinate */
    if (!d) return NULL;
    *d = *c;
    if (!graph_partial(d)) {
        free(d);
        return NULL;
    }
    return d;
}

static void graph_release(void *p)
{
    graph_ctx *c = p;
    nbi_partial_free(&c->partial);
    free(c);
}

int nb_gradcheck_graph(nb_graph *g, nb_node *loss, const nb_gradcheck_opts *opts,
                       nb_gradcheck_report *report)
{
    if (!report) return NB_EINVAL;
    nb_gradcheck_opts o = nbi_opts(opts);
    nbi_report_init(report, &o);
    if (!g || !loss)
        return nbi_report_error(report, NB_EINVAL, "gradcheck_graph: %s is NULL", !g ? "graph" : "loss");
    if (nb_graph_status(g) != NB_OK)
        return nbi_report_error(report, nb_graph_status(g),
                                "gradcheck_graph: the graph holds an error: %s", nb_graph_errmsg(g));
    if (loss->rows != 1 || loss->cols != 1)
        return nbi_report_error(report, NB_ESHAPE, "gradcheck_graph: loss must be (1x1), got (%zux%zu)",
                                loss->rows, loss->cols);
    size_t np = nb_graph_param_count(g), n = nb_graph_param_size(g);
    if (n == 0) return nbi_report_error(report, NB_EINVAL, "gradcheck_graph: the graph has no parameters");
    snprintf(report->target, sizeof report->target, "graph (%zu parameters in %zu tensors)", n, np);
    nbi_set_replay(report, &o);
    int st = NB_OK;
    size_t *offset = malloc((np + 1) * sizeof *offset);
    double *saved = malloc(n * sizeof *saved), *grad = malloc(n * sizeof *grad);
    gsl_rng *rng = NULL;
    if (!offset || !saved || !grad) {
        st = nbi_report_error(report, NB_ENOMEM, "gradcheck_graph: out of memory (%zu parameters)", n);
        goto done;
    }
    offset[0] = 0;
    for (size_t k = 0; k < np; k++) {
        nb_node *pk = nb_graph_param_at(g, k);
        memcpy(saved + offset[k], pk->grad, pk->rows * pk->cols * sizeof(double));
        offset[k + 1] = offset[k] + pk->rows * pk->cols;
    }
    /* Analytic gradient from a clean backward; the caller's accumulated
     * parameter gradients are put back afterwards. */
    nb_graph_zero_grad(g);
    st = nb_graph_forward(g);
    if (st == NB_OK) st = nb_backward(g, loss);
    if (st != NB_OK) {
        nbi_report_error(report, st, "gradcheck_graph: %s", nb_graph_errmsg(g));
        goto restore;
    }
    for (size_t k = 0; k < np; k++) {
        nb_node *pk = nb_graph_param_at(g, k);
        memcpy(grad + offset[k], pk->grad, pk->rows * pk->cols * sizeof(double));
    }
    graph_ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.loss = loss;
    c.offset = offset;
    c.np = np;
    c.focused = SIZE_MAX;
    /* Without memory for it, every evaluation is a full forward pass. */
    if (o.mode == NB_GC_PER_COORD) graph_partial(&c);
    nbi_objective obj = { n, graph_get, graph_set, graph_eval, &c, graph_focus, graph_set_line,
                          graph_clone, graph_release };
    nbi_results res = { NULL, 0, 0, 0, 0 };
    nbi_results_reserve(&res, o.mode == NB_GC_DIRECTIONAL ? o.n_directions : n);
    handler_guard h = guard_on();
    if (o.mode == NB_GC_DIRECTIONAL) {
        rng = gsl_rng_alloc(gsl_rng_mt19937);
        if (!rng) st = nbi_report_error(report, NB_ENOMEM, "gradcheck_graph: out of memory");
        else {
            gsl_rng_set(rng, o.seed);
            st = nbi_check_directions(&obj, grad, &o, rng, 0, report, &res);
            if (st == NB_OK) nbi_diagnose_directions(report, &res, &o);
        }
    } else {
        st = nbi_check_coords(&obj, grad, &o, 0, report, &res);
        /* Blocks named after the parameters, then the diagnosis. */
        nb_gradcheck_block *blocks = calloc(np, sizeof *blocks);
        if (st == NB_OK && blocks) {
            for (size_t k = 0; k < np; k++) {
                nb_node *pk = nb_graph_param_at(g, k);
                const char *name = nb_node_name(pk);
                blocks[k] = (nb_gradcheck_block){ name && name[0] ? name : "param", offset[k],
                                                  pk->rows, pk->cols, 0 };
            }
            if (nbi_report_add_blocks(report, &res, blocks, np) == NB_OK)
                nbi_diagnose(report, &res, 0, report->n_blocks, &obj, 0, &o);
        }
        free(blocks);
    }
    nbi_report_conclude(report, &res, 0);
    nbi_results_free(&res);
    guard_off(h);
    if (c.partial_ok) nbi_partial_free(&c.partial);
    /* Values back at x (every coordinate was restored exactly). */
    nb_graph_clear_error(g);
    nb_graph_forward(g);
restore:
    for (size_t k = 0; k < np; k++) {
        nb_node *pk = nb_graph_param_at(g, k);
        memcpy(pk->grad, saved + offset[k], pk->rows * pk->cols * sizeof(double));
    }
    if (st == NB_OK) nbi_report_finish(report);
done:
    free(offset);
    free(saved);
    free(grad);
    if (rng) gsl_rng_free(rng);
    return st;
}
