/* partial.c — partial re-evaluation of a tape for per-coordinate graph
 * checks: with one element of a parameter in focus, only the regions of the
 * tape it reaches are recomputed, and unfocus restores them bit for bit.
 * It belongs to the checker (its only user); the tape knows nothing of it. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "check/check.h"

/* ---- partial re-evaluation --------------------------------------------- */

static int rect_empty(const nb_rect *r) { return r->r0 >= r->r1 || r->c0 >= r->c1; }

static void rect_union(nb_rect *a, const nb_rect *b)
{
    if (rect_empty(b)) return;
    if (rect_empty(a)) {
        *a = *b;
        return;
    }
    if (b->r0 < a->r0) a->r0 = b->r0;
    if (b->r1 > a->r1) a->r1 = b->r1;
    if (b->c0 < a->c0) a->c0 = b->c0;
    if (b->c1 > a->c1) a->c1 = b->c1;
}

static int rect_full(const nb_rect *r, const nb_node *n)
{
    return r->r0 == 0 && r->c0 == 0 && r->r1 == n->rows && r->c1 == n->cols;
}

int nbi_partial_init(nbi_partial *P, nb_graph *g, size_t n)
{
    memset(P, 0, sizeof *P);
    P->g = g;
    P->n = n < g->n_tape ? n : g->n_tape;
    size_t total = 0;
    for (size_t k = 0; k < P->n; k++) total += g->tape[k]->rows * g->tape[k]->cols;
    P->rect = malloc((P->n ? P->n : 1) * sizeof *P->rect);
    P->save = malloc((total ? total : 1) * sizeof *P->save);
    if (!P->rect || !P->save) {
        nbi_partial_free(P);
        return NB_ENOMEM;
    }
    P->cap_save = total;
    P->first = P->n;
    return NB_OK;
}

void nbi_partial_free(nbi_partial *P)
{
    free(P->rect);
    free(P->save);
    P->rect = NULL;
    P->save = NULL;
}

void nbi_partial_focus(nbi_partial *P, const nb_node *param, size_t row, size_t col)
{
    nb_graph *g = P->g;
    P->first = P->n;
    P->used_save = 0;
    for (size_t k = 0; k < P->n; k++) {
        nb_node *n = g->tape[k];
        nb_rect res = { 0, 0, 0, 0 };
        P->rect[k] = res;
        if (!n->op || !(n->flags & NB_NODE_NEEDS_GRAD)) continue;
        for (size_t i = 0; i < n->op->arity; i++) {
            const nb_node *x = n->in[i];
            nb_rect in = { 0, 0, 0, 0 };
            if (x == param) in = (nb_rect){ row, row + 1, col, col + 1 };
            else if (!(x->flags & NB_NODE_PARAM)) in = P->rect[x->index];
            if (rect_empty(&in)) continue;
            nb_rect out = { 0, n->rows, 0, n->cols };
            if (n->op->pointwise) out = in;
            else if (n->op->region) n->op->region(n, i, &in, &out);
            rect_union(&res, &out);
        }
        if (rect_empty(&res)) continue;
        if (res.r1 > n->rows) res.r1 = n->rows;
        if (res.c1 > n->cols) res.c1 = n->cols;
        P->rect[k] = res;
        if (P->first == P->n) P->first = k;
        /* Keep the region's values for unfocus. */
        for (size_t r = res.r0; r < res.r1; r++) {
            memcpy(P->save + P->used_save, n->value + r * n->cols + res.c0,
                   (res.c1 - res.c0) * sizeof(double));
            P->used_save += res.c1 - res.c0;
        }
    }
}

void nbi_partial_eval(nbi_partial *P)
{
    nb_graph *g = P->g;
    for (size_t k = P->first; k < P->n; k++) {
        const nb_rect *r = &P->rect[k];
        if (rect_empty(r)) continue;
        nb_node *n = g->tape[k];
        if (n->op->pointwise) nbi_pointwise_forward_region(n, r);
        else if (n->op->forward_region && !rect_full(r, n)) n->op->forward_region(n, r);
        else n->op->forward(n);
    }
}

void nbi_partial_unfocus(nbi_partial *P)
{
    nb_graph *g = P->g;
    size_t at = 0;
    for (size_t k = P->first; k < P->n; k++) {
        const nb_rect *r = &P->rect[k];
        if (rect_empty(r)) continue;
        nb_node *n = g->tape[k];
        for (size_t i = r->r0; i < r->r1; i++) {
            memcpy(n->value + i * n->cols + r->c0, P->save + at, (r->c1 - r->c0) * sizeof(double));
            at += r->c1 - r->c0;
        }
    }
    P->first = P->n;
}
