/* dataset.c — the nb_dataset type and its row helpers. */
#define _DEFAULT_SOURCE 1   /* MADV_HUGEPAGE */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/data.h>
#if defined(HAVE_SYS_MMAN_H) && defined(HAVE_MADVISE)
#include <sys/mman.h>
#endif
#include "data/data.h"

/* Mini-batches read scattered rows of a large data set: with 4 KiB pages
 * a 6 KiB row crosses one or two page boundaries, each a TLB miss and a
 * restart of the hardware prefetcher.  On Linux, ask for transparent huge
 * pages over the 2 MiB-aligned interior of a buffer of 8 MiB or more
 * (Fashion-MNIST's 359 MiB of doubles; the gather of a batch took 10% less
 * time in bench/).  A hint: when it is refused nothing changes. */
void nbi_advise_huge(void *p, size_t bytes)
{
#if defined(HAVE_SYS_MMAN_H) && defined(HAVE_MADVISE) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)1 << 21;
    if (p == NULL || bytes < 4 * huge)
        return;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

/* a * b into *out unless it overflows or exceeds NB_DATA_MAX_ELEMENTS. */
static int elements(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > NB_DATA_MAX_ELEMENTS / a)
        return NB_ERANGE;
    *out = a * b;
    return NB_OK;
}

int nb_dataset_init(nb_dataset *out, size_t n, size_t d, size_t n_classes)
{
    size_t nd;
    nb_dataset ds = {0};

    if (out == NULL)
        return NB_EINVAL;
    memset(out, 0, sizeof *out);
    if (n == 0 || d == 0)
        return NB_EINVAL;
    if (elements(n, d, &nd) != NB_OK || n_classes > NB_DATA_MAX_CLASSES)
        return NB_ERANGE;
    ds.n = n;
    ds.d = d;
    ds.x = calloc(nd, sizeof *ds.x);
    if (ds.x == NULL)
        return NB_ENOMEM;
    nbi_advise_huge(ds.x, nd * sizeof *ds.x);
    if (n_classes > 0) {
        ds.label = calloc(n, sizeof *ds.label);
        if (ds.label == NULL) {
            free(ds.x);
            return NB_ENOMEM;
        }
        ds.n_classes = n_classes;
    }
    *out = ds;
    return NB_OK;
}

static void free_names(char **names, size_t count)
{
    if (names == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

void nb_dataset_free(nb_dataset *ds)
{
    if (ds == NULL)
        return;
    free(ds->x);
    free(ds->label);
    free_names(ds->feature_names, ds->d);
    free_names(ds->class_names, ds->n_classes);
    memset(ds, 0, sizeof *ds);
}

static char **copy_names(char *const *names, size_t count, int *status)
{
    char **copy;

    *status = NB_OK;
    if (names == NULL)
        return NULL;
    copy = calloc(count, sizeof *copy);
    if (copy == NULL) {
        *status = NB_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(names[i]) + 1;
        copy[i] = malloc(len);
        if (copy[i] == NULL) {
            free_names(copy, i);
            *status = NB_ENOMEM;
            return NULL;
        }
        memcpy(copy[i], names[i], len);
    }
    return copy;
}

int nb_dataset_onehot(const nb_dataset *ds, double *out)
{
    if (ds == NULL || out == NULL || ds->label == NULL || ds->n_classes == 0)
        return NB_EINVAL;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->label[i] >= ds->n_classes)
            return NB_ERANGE;
    memset(out, 0, ds->n * ds->n_classes * sizeof *out);
    for (size_t i = 0; i < ds->n; i++)
        out[i * ds->n_classes + ds->label[i]] = 1.0;
    return NB_OK;
}

int nb_dataset_scale(nb_dataset *ds, double factor)
{
    if (ds == NULL || (ds->x == NULL && ds->n * ds->d > 0))
        return NB_EINVAL;
    if (!isfinite(factor))
        return NB_EDOMAIN;
    for (size_t i = 0; i < ds->n * ds->d; i++)
        ds->x[i] *= factor;
    return NB_OK;
}

int nb_dataset_to_bytes(const nb_dataset *ds, double scale, unsigned char **bytes)
{
    if (bytes != NULL)
        *bytes = NULL;
    if (ds == NULL || bytes == NULL || ds->x == NULL)
        return NB_EINVAL;
    if (!isfinite(scale) || !(scale > 0) || !isfinite(255.0 * scale))
        return NB_EDOMAIN;
    const size_t nd = ds->n * ds->d;
    unsigned char *out = malloc(nd > 0 ? nd : 1);
    if (out == NULL)
        return NB_ENOMEM;
    nbi_advise_huge(out, nd);   /* it is read in scattered rows too */
    /* x / scale is within a few ulps of the byte that gives x, so rounding
     * x * (1/scale) to an integer (adding and subtracting 2^52 does it in
     * double arithmetic) finds the only candidate; the exact test is then
     * byte * scale == x, and -0.0 (equal to 0 but not the same bits) is
     * refused too.  No branches in the loop; a NaN fails the tests. */
    const double inv = 1.0 / scale, round = 0x1p52;
    int bad = 0;
    for (size_t i = 0; i < nd; i++) {
        double b = (ds->x[i] * inv + round) - round;
        int ok = (b >= 0.0) & (b <= 255.0) & (b * scale == ds->x[i]) &
                 (copysign(1.0, ds->x[i]) > 0.0);
        out[i] = (unsigned char)(int)(ok ? b : 0.0);
        bad |= !ok;
    }
    if (bad) {
        free(out);
        return NB_EDOMAIN;
    }
    *bytes = out;
    return NB_OK;
}

int nb_dataset_gather(const nb_dataset *src, const size_t *rows, size_t k,
                      double *x, double *y, size_t *label)
{
    if (src == NULL || rows == NULL || x == NULL)
        return NB_EINVAL;
    if ((y != NULL || label != NULL) && (src->label == NULL || src->n_classes == 0))
        return NB_EINVAL;
    for (size_t b = 0; b < k; b++) {
        if (rows[b] >= src->n)
            return NB_ERANGE;
        if (src->label != NULL && src->label[rows[b]] >= src->n_classes)
            return NB_ERANGE;
    }
    for (size_t b = 0; b < k; b++) {
        size_t r = rows[b];
        memcpy(x + b * src->d, src->x + r * src->d, src->d * sizeof *x);
        if (y != NULL) {
            memset(y + b * src->n_classes, 0, src->n_classes * sizeof *y);
            y[b * src->n_classes + src->label[r]] = 1.0;
        }
        if (label != NULL)
            label[b] = src->label[r];
    }
    return NB_OK;
}

int nb_dataset_subset(const nb_dataset *src, const size_t *rows, size_t k,
                      nb_dataset *out)
{
    nb_dataset ds;
    int st;

    if (out == NULL)
        return NB_EINVAL;
    memset(out, 0, sizeof *out);
    if (src == NULL || src->x == NULL || k == 0)
        return NB_EINVAL;
    if (rows == NULL && k > src->n)
        return NB_ERANGE;
    if (rows != NULL)
        for (size_t b = 0; b < k; b++)
            if (rows[b] >= src->n)
                return NB_ERANGE;

    st = nb_dataset_init(&ds, k, src->d, src->label ? src->n_classes : 0);
    if (st != NB_OK)
        return st;
    for (size_t b = 0; b < k; b++) {
        size_t r = rows ? rows[b] : b;
        memcpy(ds.x + b * src->d, src->x + r * src->d, src->d * sizeof *ds.x);
        if (ds.label != NULL)
            ds.label[b] = src->label[r];
    }
    ds.feature_names = copy_names(src->feature_names, src->d, &st);
    if (st == NB_OK && ds.label != NULL)
        ds.class_names = copy_names(src->class_names, src->n_classes, &st);
    if (st != NB_OK) {
        nb_dataset_free(&ds);
        return st;
    }
    *out = ds;
    return NB_OK;
}

int nb_dataset_split(const nb_dataset *src, size_t k, nb_dataset *head,
                     nb_dataset *tail)
{
    size_t *rest;
    int st;

    if (head == NULL || tail == NULL)
        return NB_EINVAL;
    memset(head, 0, sizeof *head);
    memset(tail, 0, sizeof *tail);
    if (src == NULL)
        return NB_EINVAL;
    if (k == 0 || k >= src->n)
        return NB_ERANGE;
    rest = malloc((src->n - k) * sizeof *rest);
    if (rest == NULL)
        return NB_ENOMEM;
    for (size_t i = k; i < src->n; i++)
        rest[i - k] = i;
    st = nb_dataset_subset(src, NULL, k, head);
    if (st == NB_OK) {
        st = nb_dataset_subset(src, rest, src->n - k, tail);
        if (st != NB_OK)
            nb_dataset_free(head);
    }
    free(rest);
    return st;
}

int nb_dataset_shuffle(nb_dataset *ds, nb_rng *rng)
{
    size_t *perm, *label = NULL;
    double *x;

    if (ds == NULL || rng == NULL || ds->x == NULL)
        return NB_EINVAL;
    if (ds->n > SIZE_MAX / sizeof *perm || ds->n * ds->d > SIZE_MAX / sizeof *x)
        return NB_ERANGE;
    perm = malloc(ds->n * sizeof *perm);
    x = malloc(ds->n * ds->d * sizeof *x);
    if (ds->label != NULL)
        label = malloc(ds->n * sizeof *label);
    if (perm == NULL || x == NULL || (ds->label != NULL && label == NULL)) {
        free(perm);
        free(x);
        free(label);
        return NB_ENOMEM;
    }
    /* sklearn.utils.shuffle: indices = arange(n); rng.shuffle(indices);
     * X = X[indices]. */
    nb_rng_permutation(rng, perm, ds->n);
    for (size_t i = 0; i < ds->n; i++) {
        memcpy(x + i * ds->d, ds->x + perm[i] * ds->d, ds->d * sizeof *x);
        if (label != NULL)
            label[i] = ds->label[perm[i]];
    }
    free(ds->x);
    ds->x = x;
    if (label != NULL) {
        free(ds->label);
        ds->label = label;
    }
    free(perm);
    return NB_OK;
}
