/* report.c — what a report says beyond the verdicts: the names of the
 * coordinates (blocks), a summary per block with the relative difference
 * of the courses, the diagnoses, and their human and JSON forms.
 *
 * The engine (gradcheck.c) records every checked entry in an nbi_results
 * by index; everything here is computed from it after the check, so that
 * the order in which coordinates were checked does not matter. */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/gradcheck.h>
#include "check/check.h"
#include "io/io.h"

/* ---- per-coordinate results --------------------------------------------- */

static int grow(nbi_results *res, size_t need)
{
    if (need <= res->cap) return 1;
    size_t cap = res->cap ? res->cap : 64;
    while (cap < need) cap *= 2;
    /* Zeroed memory reads as never written (checked = 0).  calloc's fresh
     * pages cost nothing until they are written, so the threads of a check
     * that write their own coordinates (check_coords) fault them in side by
     * side rather than the calling thread clearing them all first. */
    nbi_result *ne = res->e ? realloc(res->e, cap * sizeof *ne) : calloc(cap, sizeof *ne);
    if (!ne) {
        res->lost = 1;
        return 0;
    }
    if (res->e) memset(ne + res->cap, 0, (cap - res->cap) * sizeof *ne);
    res->e = ne;
    res->cap = cap;
    return 1;
}

void nbi_results_reserve(nbi_results *res, size_t n)
{
    if (res && !res->lost) grow(res, n);
}

nbi_result *nbi_results_room(nbi_results *res, size_t n)
{
    if (!res || res->lost || !grow(res, n)) return NULL;
    if (n > res->n) res->n = n;
    return res->e;
}

void nbi_result_set(nbi_result *d, const nb_gradcheck_entry *e)
{
    d->x = e->x;
    d->analytic = e->analytic;
    d->numeric = e->numeric;
    d->tol = e->tol;
    d->ratio = e->ratio;
    d->verdict = e->verdict;
    d->checked = 1;
}

void nbi_results_put(nbi_results *res, const nb_gradcheck_entry *e)
{
    nbi_result *d = nbi_results_room(res, e->index + 1);
    if (d) nbi_result_set(&d[e->index], e);
}

void nbi_results_free(nbi_results *res)
{
    if (!res) return;
    free(res->e);
    res->e = NULL;
    res->n = res->cap = 0;
}

/* ---- names -------------------------------------------------------------- */

static const nb_gradcheck_block_summary *block_of(const nb_gradcheck_report *r, size_t i)
{
    for (size_t b = 0; b < r->n_blocks; b++) {
        const nb_gradcheck_block_summary *s = &r->blocks[b];
        if (i >= s->offset && i - s->offset < s->rows * s->cols) return s;
    }
    return NULL;
}

static void name_rc(const char *name, size_t rows, size_t cols, int col_major, size_t k,
                    char *buf, size_t len)
{
    size_t row = col_major ? k % rows : k / cols, col = col_major ? k / rows : k % cols;
    if (rows * cols == 1) snprintf(buf, len, "%s", name);
    else if (rows == 1) snprintf(buf, len, "%s[%zu]", name, col);
    else if (cols == 1) snprintf(buf, len, "%s[%zu]", name, row);
    else snprintf(buf, len, "%s[%zu][%zu]", name, row, col);
}

void nbi_column_name(const nb_gradcheck_report *r, size_t j, char *buf, size_t len)
{
    const nb_gradcheck_block_summary *b = block_of(r, j);
    if (!b) snprintf(buf, len, "x[%zu]", j);
    else name_rc(b->name, b->rows, b->cols, b->col_major, j - b->offset, buf, len);
}

void nbi_coord_name(const nb_gradcheck_report *r, size_t i, char *buf, size_t len)
{
    if (!r->jac_cols) {
        nbi_column_name(r, i, buf, len);
        return;
    }
    char col[48];
    nbi_column_name(r, i % r->jac_cols, col, sizeof col);
    snprintf(buf, len, "J[%zu][%s]", i / r->jac_cols, col);
}

void nbi_block_name(const nb_gradcheck_block *blocks, size_t n_blocks, size_t i, char *buf,
                    size_t len)
{
    for (size_t k = 0; blocks && k < n_blocks; k++) {
        const nb_gradcheck_block *b = &blocks[k];
        if (i >= b->offset && i - b->offset < b->rows * b->cols) {
            name_rc(b->name ? b->name : "block", b->rows, b->cols, b->col_major != 0,
                    i - b->offset, buf, len);
            return;
        }
    }
    snprintf(buf, len, "x[%zu]", i);
}

int nbi_check_blocks(nb_gradcheck_report *r, const nb_gradcheck_opts *o, size_t n, const char *who)
{
    if (o->n_blocks && !o->blocks)
        return nbi_report_error(r, NB_EINVAL, "%s: opts.n_blocks = %zu but opts.blocks is NULL", who,
                                o->n_blocks);
    for (size_t b = 0; b < o->n_blocks; b++) {
        const nb_gradcheck_block *k = &o->blocks[b];
        char name[48];
        nb_error_escape(name, sizeof name, k->name ? k->name : "(null)", (size_t)-1, 24);
        if (k->rows == 0 || k->cols == 0 || k->rows > n || k->cols > n / k->rows ||
            k->offset > n || k->rows * k->cols > n - k->offset)
            return nbi_report_error(r, NB_ERANGE,
                                    "%s: block %zu '%s' (%zux%zu at offset %zu) does not fit in "
                                    "the %zu coordinates", who, b, name, k->rows, k->cols,
                                    k->offset, n);
        for (size_t c = 0; c < b; c++) {
            const nb_gradcheck_block *q = &o->blocks[c];
            if (k->offset < q->offset + q->rows * q->cols && q->offset < k->offset + k->rows * k->cols)
                return nbi_report_error(r, NB_EINVAL, "%s: blocks %zu and %zu overlap", who, c, b);
        }
    }
    return NB_OK;
}

/* ---- block summaries ------------------------------------------------------ */

static double rel_diff(double ss_diff, double ss_sum)
{
    if (isnan(ss_diff) || isnan(ss_sum)) return NAN;
    if (ss_diff == 0.0) return 0.0;
    return ss_sum > 0.0 ? sqrt(ss_diff) / sqrt(ss_sum) : INFINITY;
}

/* Counts of one entry into a summary and the two sums of squares. */
static void tally(nb_gradcheck_block_summary *s, const nbi_result *e, double *ssd,
                  double *sss)
{
    if (!e->checked) return;
    s->n_checked++;
    if (e->verdict == NB_GC_FAIL) s->n_failed++;
    if (e->verdict == NB_GC_KINK) s->n_kinks++;
    double ratio = isnan(e->ratio) ? INFINITY : e->ratio;
    if (ratio > s->worst_ratio) s->worst_ratio = ratio;
    double d = e->analytic - e->numeric, p = e->analytic + e->numeric;
    *ssd += d * d;
    *sss += p * p;
}

int nbi_report_add_blocks(nb_gradcheck_report *r, const nbi_results *res,
                          const nb_gradcheck_block *blocks, size_t n_blocks)
{
    if (!blocks || n_blocks == 0) return NB_OK;
    if (res && res->lost) return NB_ENOMEM;
    nb_gradcheck_block_summary *nb =
        realloc(r->blocks, (r->n_blocks + n_blocks) * sizeof *nb);
    if (!nb) return NB_ENOMEM;
    r->blocks = nb;
    for (size_t b = 0; b < n_blocks; b++) {
        const nb_gradcheck_block *in = &blocks[b];
        nb_gradcheck_block_summary *s = &r->blocks[r->n_blocks++];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "%s", in->name ? in->name : "block");
        s->offset = in->offset;
        s->rows = in->rows;
        s->cols = in->cols;
        s->col_major = in->col_major != 0;
        double ssd = 0.0, sss = 0.0;
        size_t size = in->rows * in->cols;
        if (res && res->jac_p) {   /* every row of the block's columns */
            size_t p = res->jac_p;
            for (size_t i = 0; i * p < res->n; i++)
                for (size_t k = 0; k < size && in->offset + k < p; k++) {
                    size_t at = i * p + in->offset + k;
                    if (at < res->n) tally(s, &res->e[at], &ssd, &sss);
                }
        } else if (res) {
            for (size_t k = 0; k < size; k++)
                if (in->offset + k < res->n) tally(s, &res->e[in->offset + k], &ssd, &sss);
        }
        s->rel_diff = s->n_checked ? rel_diff(ssd, sss) : NAN;
    }
    return NB_OK;
}

void nbi_report_conclude(nb_gradcheck_report *r, const nbi_results *res, size_t jac_p)
{
    if (res && !res->lost) {
        double ssd = 0.0, sss = 0.0;
        nb_gradcheck_block_summary all;
        memset(&all, 0, sizeof all);
        for (size_t i = 0; i < res->n; i++) tally(&all, &res->e[i], &ssd, &sss);
        r->rel_diff = all.n_checked ? rel_diff(ssd, sss) : NAN;
    } else {
        r->rel_diff = NAN;
    }
    if (r->mode == NB_GC_DIRECTIONAL || jac_p == SIZE_MAX) return;
    r->jac_cols = jac_p;
    for (size_t k = 0; k < r->n_entries; k++) {
        nb_gradcheck_entry *e = &r->entries[k];
        nbi_coord_name(r, e->index, e->name, sizeof e->name);
    }
}

void nb_gradcheck_report_free(nb_gradcheck_report *r)
{
    if (!r) return;
    free(r->entries);
    r->entries = NULL;
    r->n_entries = 0;
    free(r->blocks);
    r->blocks = NULL;
    r->n_blocks = 0;
    for (size_t k = 0; k < r->n_diagnoses; k++) free(r->diagnoses[k].coords);
    free(r->diagnoses);
    r->diagnoses = NULL;
    r->n_diagnoses = 0;
}

const char *nb_gradcheck_diagnosis_name(int kind)
{
    switch (kind) {
    case NB_GC_DIAG_SIGN: return "sign";
    case NB_GC_DIAG_SCALE: return "scale";
    case NB_GC_DIAG_TRANSPOSE: return "transpose";
    case NB_GC_DIAG_PROPORTIONAL: return "proportional";
    case NB_GC_DIAG_OFFSET: return "offset";
    case NB_GC_DIAG_ZERO: return "zero";
    case NB_GC_DIAG_SPARSE: return "sparse";
    case NB_GC_DIAG_NUMERICAL: return "numerical";
    default: return "?";
    }
}

/* ---- printing ------------------------------------------------------------- */

void nbi_report_print_blocks(FILE *out, const nb_gradcheck_report *r)
{
    if (r->n_blocks) {
        fprintf(out, "  %-16s %-9s %7s %7s %7s %-10s %s\n", "block", "shape", "checked", "failed",
                "kinks", "worst", "rel_diff");
        for (size_t b = 0; b < r->n_blocks; b++) {
            const nb_gradcheck_block_summary *s = &r->blocks[b];
            char shape[32];
            snprintf(shape, sizeof shape, "%zux%zu", s->rows, s->cols);
            nbi_fprintf(out, "  %-16s %-9s %7zu %7zu %7zu %-10.3g %.3g\n", s->name, shape,
                        s->n_checked, s->n_failed, s->n_kinks, s->worst_ratio, s->rel_diff);
        }
    }
    if (r->n_checked && !isnan(r->rel_diff))
        nbi_fprintf(out, "  rel_diff ||a - n|| / ||a + n||: %.3g\n", r->rel_diff);
    for (size_t k = 0; k < r->n_diagnoses; k++) {
        const nb_gradcheck_diagnosis *d = &r->diagnoses[k];
        fprintf(out, "  diagnosis: %s: %s\n", nb_gradcheck_diagnosis_name(d->kind), d->text);
    }
}

void nbi_report_json_blocks(nb_json *j, const nb_gradcheck_report *r)
{
    nb_json_key(j, "rel_diff");
    nb_json_number(j, r->rel_diff);
    nb_json_key(j, "blocks");
    nb_json_begin_array(j, 0);
    for (size_t b = 0; b < r->n_blocks; b++) {
        const nb_gradcheck_block_summary *s = &r->blocks[b];
        nb_json_begin_object(j, 0);
        nb_json_key(j, "name");
        nb_json_string(j, s->name);
        const struct { const char *key; size_t v; } counts[] = {
            { "offset", s->offset }, { "rows", s->rows }, { "cols", s->cols },
        };
        for (size_t i = 0; i < 3; i++) {
            nb_json_key(j, counts[i].key);
            nb_json_uint(j, counts[i].v);
        }
        nb_json_key(j, "col_major");
        nb_json_bool(j, s->col_major);
        const struct { const char *key; size_t v; } tallies[] = {
            { "n_checked", s->n_checked }, { "n_failed", s->n_failed }, { "n_kinks", s->n_kinks },
        };
        for (size_t i = 0; i < 3; i++) {
            nb_json_key(j, tallies[i].key);
            nb_json_uint(j, tallies[i].v);
        }
        nb_json_key(j, "worst_ratio");
        nb_json_number(j, s->worst_ratio);
        nb_json_key(j, "rel_diff");
        nb_json_number(j, s->rel_diff);
        nb_json_end_object(j);
    }
    nb_json_end_array(j);
    nb_json_key(j, "diagnosis");
    nb_json_begin_array(j, 0);
    for (size_t k = 0; k < r->n_diagnoses; k++) {
        const nb_gradcheck_diagnosis *d = &r->diagnoses[k];
        nb_json_begin_object(j, 0);
        nb_json_key(j, "block");
        if (d->block >= 0 && (size_t)d->block < r->n_blocks) nb_json_string(j, r->blocks[d->block].name);
        else if (r->jac_cols) nb_json_string(j, "J");   /* the whole Jacobian */
        else nb_json_null(j);
        nb_json_key(j, "kind");
        nb_json_string(j, nb_gradcheck_diagnosis_name(d->kind));
        nb_json_key(j, "value");
        nb_json_number(j, d->value);
        nb_json_key(j, "n_coords");
        nb_json_uint(j, d->n_coords);
        nb_json_key(j, "coords");
        nb_json_begin_array(j, 0);
        for (size_t c = 0; c < d->n_coords && d->coords; c++) {
            char name[64];
            nbi_coord_name(r, d->coords[c], name, sizeof name);
            nb_json_string(j, name);
        }
        nb_json_end_array(j);
        nb_json_key(j, "text");
        nb_json_string(j, d->text);
        nb_json_end_object(j);
    }
    nb_json_end_array(j);
}
