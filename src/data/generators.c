/* generators.c — synthetic data sets that reproduce published NumPy /
 * scikit-learn code value for value (see nabla/data.h for each source).
 *
 * Bit-for-bit agreement needs the same roundings as NumPy: no fused
 * multiply-add (see the pragma below), the same libm, and NumPy's own
 * formulas (linspace is start + i*step with the end point set exactly).
 */
#include <config.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/data.h>
#include "data/data.h"

/* NumPy rounds every product and every sum on its own; an FMA would not.
 * Forbid contraction whatever the -std mode or the target (GCC fuses even
 * across statements under -std=gnu* on FMA hardware such as x86-64-v3 or
 * aarch64). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define NB_PI 3.141592653589793238462643383279503


/* Element i of numpy.linspace(start, stop, num) (endpoint=True):
 * start + i * step with step = (stop - start) / (num - 1), the last element
 * exactly stop; num == 1 gives start. */
static double linspace_at(double start, double stop, size_t num, size_t i)
{
    double delta = stop - start, y;

    if (num > 1 && i == num - 1)
        return stop;
    if (num > 1) {
        double div = (double)(num - 1);
        double step = delta / div;
        if (step == 0.0) {              /* NumPy's path for denormal steps */
            double frac = (double)i / div;
            y = frac * delta;
        } else {
            y = (double)i * step;
        }
    } else {
        y = 0.0 * delta;
    }
    return y + start;
}

/* ---- moons -------------------------------------------------------------- */

int nb_make_moons(size_t n, double noise, nb_rng *rng, nb_dataset *out)
{
    size_t n_out = n / 2, n_in = n - n / 2;
    nb_dataset ds;
    int st;

    if (out == NULL)
        return NB_EINVAL;
    memset(out, 0, sizeof *out);
    if (rng == NULL || n == 0)
        return NB_EINVAL;
    if (!(noise >= 0.0) || !isfinite(noise))
        return NB_EDOMAIN;
    st = nb_dataset_init(&ds, n, 2, 2);
    if (st != NB_OK)
        return st;

    for (size_t i = 0; i < n_out; i++) {
        double t = linspace_at(0.0, NB_PI, n_out, i);
        ds.x[2 * i] = cos(t);
        ds.x[2 * i + 1] = sin(t);
        ds.label[i] = 0;
    }
    for (size_t i = 0; i < n_in; i++) {
        double t = linspace_at(0.0, NB_PI, n_in, i);
        double *row = ds.x + 2 * (n_out + i);
        row[0] = 1.0 - cos(t);
        row[1] = 1.0 - sin(t);
        row[1] = row[1] - 0.5;          /* (1 - sin t) - 0.5, as NumPy */
        ds.label[n_out + i] = 1;
    }
    st = nb_dataset_shuffle(&ds, rng);
    if (st != NB_OK) {
        nb_dataset_free(&ds);
        return st;
    }
    for (size_t i = 0; i < 2 * n; i++)
        ds.x[i] += nb_rng_normal(rng, 0.0, noise);
    *out = ds;
    return NB_OK;
}

/* ---- spirals ------------------------------------------------------------ */

int nb_make_spirals(size_t n_per_class, size_t k, double noise, nb_rng *rng,
                    nb_dataset *out)
{
    nb_dataset ds;
    int st;

    if (out == NULL)
        return NB_EINVAL;
    memset(out, 0, sizeof *out);
    if (rng == NULL || n_per_class == 0 || k == 0)
        return NB_EINVAL;
    if (!(noise >= 0.0) || !isfinite(noise))
        return NB_EDOMAIN;
    if (k > NB_DATA_MAX_CLASSES || n_per_class > SIZE_MAX / k)
        return NB_ERANGE;
    st = nb_dataset_init(&ds, n_per_class * k, 2, k);
    if (st != NB_OK)
        return st;

    for (size_t j = 0; j < k; j++) {
        double t0 = 4.0 * (double)j, t1 = 4.0 * (double)(j + 1);
        for (size_t i = 0; i < n_per_class; i++) {
            size_t row = j * n_per_class + i;
            double r = linspace_at(0.0, 1.0, n_per_class, i);
            double jitter = nb_rng_gauss(rng) * noise;
            double t = linspace_at(t0, t1, n_per_class, i) + jitter;
            ds.x[2 * row] = r * sin(t);
            ds.x[2 * row + 1] = r * cos(t);
            ds.label[row] = j;
        }
    }
    *out = ds;
    return NB_OK;
}

/* ---- blobs -------------------------------------------------------------- */

int nb_make_blobs(size_t n, size_t d, size_t k, double std, double box_lo,
                  double box_hi, nb_rng *rng, nb_dataset *out, double *centers)
{
    nb_dataset ds;
    double *c;
    size_t row = 0;
    int st;

    if (out == NULL)
        return NB_EINVAL;
    memset(out, 0, sizeof *out);
    if (rng == NULL || n == 0 || d == 0 || k == 0)
        return NB_EINVAL;
    if (!(std >= 0.0) || !isfinite(std) || !isfinite(box_lo)
        || !isfinite(box_hi) || !isfinite(box_hi - box_lo))
        return NB_EDOMAIN;
    if (k > NB_DATA_MAX_CLASSES || d > NB_DATA_MAX_ELEMENTS / k)
        return NB_ERANGE;
    st = nb_dataset_init(&ds, n, d, k);
    if (st != NB_OK)
        return st;
    /* The centres: the caller's buffer, or a scratch one. */
    c = centers;
    if (c == NULL) {
        c = malloc(k * d * sizeof *c);
        if (c == NULL) {
            nb_dataset_free(&ds);
            return NB_ENOMEM;
        }
    }
    for (size_t i = 0; i < k * d; i++)
        c[i] = nb_rng_uniform_range(rng, box_lo, box_hi);
    for (size_t j = 0; j < k; j++) {
        size_t count = n / k + (j < n % k ? 1 : 0);
        for (size_t i = 0; i < count; i++, row++) {
            for (size_t f = 0; f < d; f++)
                ds.x[row * d + f] = nb_rng_normal(rng, c[j * d + f], std);
            ds.label[row] = j;
        }
    }
    if (c != centers)
        free(c);
    st = nb_dataset_shuffle(&ds, rng);
    if (st != NB_OK) {
        nb_dataset_free(&ds);
        return st;
    }
    *out = ds;
    return NB_OK;
}

/* ---- truth tables ------------------------------------------------------- */

typedef struct truth_table {
    const char *name;
    size_t d;
    double x[4][3];
    size_t y[4];
} truth_table;

static const truth_table tables[] = {
    { "and",    2, { {0, 0}, {0, 1}, {1, 0}, {1, 1} }, { 0, 0, 0, 1 } },
    { "or",     2, { {0, 0}, {0, 1}, {1, 0}, {1, 1} }, { 0, 1, 1, 1 } },
    { "xor",    2, { {0, 0}, {0, 1}, {1, 0}, {1, 1} }, { 0, 1, 1, 0 } },
    { "trask2", 3, { {0, 0, 1}, {0, 1, 1}, {1, 0, 1}, {1, 1, 1} }, { 0, 0, 1, 1 } },
    { "trask3", 3, { {0, 0, 1}, {0, 1, 1}, {1, 0, 1}, {1, 1, 1} }, { 0, 1, 1, 0 } },
};
#define N_TABLES (sizeof tables / sizeof tables[0])

const char *nb_truth_table_name(size_t i)
{
    return i < N_TABLES ? tables[i].name : NULL;
}

int nb_make_truth_table(const char *name, nb_dataset *out, nb_error *err)
{
    const truth_table *t = NULL;
    nb_dataset ds;
    char en[NB_ERROR_ECHO_LEN];
    int st;
    if (out == NULL || name == NULL)
        return nb_error_set(err, NB_EINVAL, "nb_make_truth_table: NULL argument");
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < N_TABLES; i++)
        if (strcmp(tables[i].name, name) == 0)
            t = &tables[i];
    if (t == NULL) {
        char list[128];
        size_t pos = 0;
        list[0] = '\0';
        for (size_t i = 0; i < N_TABLES; i++) {
            int w = snprintf(list + pos, sizeof list - pos, "%s%s",
                             i ? ", " : "", tables[i].name);
            if (w < 0 || (size_t)w >= sizeof list - pos)
                break;
            pos += (size_t)w;
        }
        return nb_error_set(err, NB_ENOTFOUND,
                    "no truth table named '%s' (known: %s)", nbi_echo(en, name), list);
    }
    st = nb_dataset_init(&ds, 4, t->d, 2);
    if (st != NB_OK)
        return nb_error_set(err, st, "truth table '%s': %s", nbi_echo(en, name),
                    nb_strerror(st));
    for (size_t i = 0; i < 4; i++) {
        memcpy(ds.x + i * t->d, t->x[i], t->d * sizeof *ds.x);
        ds.label[i] = t->y[i];
    }
    *out = ds;
    return NB_OK;
}
