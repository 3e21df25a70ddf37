/* partial.c — partial re-evaluation of a tape for per-coordinate graph
 * checks: with one element of a parameter in focus, only the regions of the
 * tape it reaches are recomputed.
 *
 * It works on a private copy of the tape (docs/gradcheck.md, "Threads"):
 * one nb_node per tape node and per parameter, whose inputs point to the
 * copies, with values of its own for every node that can change (the
 * parameters and the op nodes that depend on one) and the graph's own
 * values, read only, for the others (inputs, constants).  The graph itself
 * is the base point: never written while a copy exists, so any number of
 * copies, one per thread, evaluate side by side.  Unfocus copies the base
 * values back over the regions that changed, so every coordinate starts from
 * the same state and gets the same values whatever ran before it, on
 * whichever thread.
 *
 * Products (matmul, affine) update their region from the base value by the
 * change of the one input that moved (nbi_op_region_update), instead of
 * recomputing it over the full inner size: the cost of a coordinate does
 * not grow with the width of the layers downstream of it.
 *
 * It belongs to the checker (its only user); the tape knows nothing of it. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "check/check.h"

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

/* A tape node whose value can change when a parameter moves. */
static int can_change(const nb_node *n) { return n->op && (n->flags & NB_NODE_NEEDS_GRAD); }

static size_t aux_size(const nb_node *n)
{
    if (!n->aux) return 0;
    if (n->op->pointwise) return n->rows * n->cols;
    return n->op->aux ? n->op->aux(n) : 0;
}

/* The copy that stands for x in the private tape: a tape node's or a
 * parameter's copy, or x itself (a node of no concern here, read only). */
static nb_node *copy_of(nbi_partial *P, nb_node *x)
{
    nb_graph *g = P->g;
    if (!x) return NULL;
    if (x->flags & NB_NODE_PARAM) {
        if (x->index < P->np && g->params[x->index] == x) return &P->param[x->index];
        return x;
    }
    if (x->index < P->n && g->tape[x->index] == x) return &P->node[x->index];
    return x;
}

int nbi_partial_init(nbi_partial *P, nb_graph *g, size_t n)
{
    memset(P, 0, sizeof *P);
    P->g = g;
    P->n = n < g->n_tape ? n : g->n_tape;
    P->np = g->n_params;
    size_t total = 0;
    for (size_t k = 0; k < P->n; k++) {
        const nb_node *t = g->tape[k];
        if (can_change(t)) total += t->rows * t->cols + aux_size(t);
    }
    for (size_t k = 0; k < P->np; k++) total += g->params[k]->rows * g->params[k]->cols;
    size_t nn = P->n ? P->n : 1;
    /* Every array is written while other threads evaluate their own copies:
     * none shares a cache line with theirs (nbi_line_alloc). */
    P->node = nbi_line_alloc(nn * sizeof *P->node);
    P->param = nbi_line_alloc((P->np ? P->np : 1) * sizeof *P->param);
    P->rect = nbi_line_alloc(nn * sizeof *P->rect);
    P->in_rect = nbi_line_alloc(nn * sizeof *P->in_rect);
    P->dirty_in = nbi_line_alloc(nn * sizeof *P->dirty_in);
    P->update = nbi_line_alloc(nn * sizeof *P->update);
    P->mem = nbi_line_alloc((total ? total : 1) * sizeof *P->mem);
    if (!P->node || !P->param || !P->rect || !P->in_rect || !P->dirty_in || !P->update ||
        !P->mem) {
        nbi_partial_free(P);
        return NB_ENOMEM;
    }
    double *m = P->mem;
    for (size_t k = 0; k < P->np; k++) {
        const nb_node *p = g->params[k];
        nb_node *c = &P->param[k];
        *c = *p;
        c->grad = NULL;   /* a copy is only evaluated, never differentiated */
        c->value = m;
        memcpy(m, p->value, p->rows * p->cols * sizeof *m);
        m += p->rows * p->cols;
    }
    for (size_t k = 0; k < P->n; k++) {
        const nb_node *t = g->tape[k];
        nb_node *c = &P->node[k];
        *c = *t;
        c->grad = NULL;
        for (size_t i = 0; i < NB_MAX_ARITY; i++) c->in[i] = copy_of(P, t->in[i]);
        P->update[k] = NULL;
        P->rect[k] = (nb_rect){ 0, 0, 0, 0 };
        if (!can_change(t)) continue;   /* value and workspace shared, read only */
        size_t nv = t->rows * t->cols, na = aux_size(t);
        c->value = m;
        memcpy(m, t->value, nv * sizeof *m);
        m += nv;
        if (na) {
            c->aux = m;
            memcpy(m, t->aux, na * sizeof *m);
            m += na;
        }
        if (!t->op->pointwise) P->update[k] = nbi_op_region_update(t->op);
    }
    P->first = P->n;
    P->focus = NULL;
    return NB_OK;
}

void nbi_partial_free(nbi_partial *P)
{
    free(P->node);
    free(P->param);
    free(P->rect);
    free(P->in_rect);
    free(P->dirty_in);
    free(P->update);
    free(P->mem);
    memset(P, 0, sizeof *P);
}

nb_node *nbi_partial_param(nbi_partial *P, size_t k) { return k < P->np ? &P->param[k] : NULL; }

nb_node *nbi_partial_node(nbi_partial *P, const nb_node *n)
{
    return n && n->index < P->n && P->g->tape[n->index] == n ? &P->node[n->index] : NULL;
}

/* The base values back into every copy that can change (after a whole
 * evaluation of the copy). */
static void restore_all(nbi_partial *P)
{
    for (size_t k = 0; k < P->n; k++) {
        const nb_node *t = P->g->tape[k];
        if (can_change(t)) memcpy(P->node[k].value, t->value, t->rows * t->cols * sizeof(double));
    }
    P->stale = 0;
}

void nbi_partial_eval_all(nbi_partial *P)
{
    if (P->focus) nbi_partial_unfocus(P);
    for (size_t k = 0; k < P->n; k++) {
        nb_node *n = &P->node[k];
        if (!can_change(n)) continue;
        if (n->op->pointwise) nbi_pointwise_forward(n);
        else n->op->forward(n);
    }
    P->stale = 1;
}

void nbi_partial_focus(nbi_partial *P, size_t param, size_t row, size_t col)
{
    if (P->stale) restore_all(P);
    P->first = P->n;
    P->focus = param < P->np ? &P->param[param] : NULL;
    P->focus_k = row * (P->focus ? P->focus->cols : 0) + col;
    if (!P->focus) return;
    const nb_rect point = { row, row + 1, col, col + 1 };
    for (size_t k = 0; k < P->n; k++) {
        nb_node *n = &P->node[k];
        nb_rect res = { 0, 0, 0, 0 };
        P->rect[k] = res;
        if (!can_change(n)) continue;
        size_t n_dirty = 0;
        for (size_t i = 0; i < n->op->arity; i++) {
            const nb_node *x = n->in[i];
            nb_rect in = { 0, 0, 0, 0 };
            if (x == P->focus) in = point;
            else if (x >= P->node && x < P->node + P->n) in = P->rect[x - P->node];
            if (rect_empty(&in)) continue;
            if (n_dirty++ == 0) {
                P->dirty_in[k] = (int)i;
                P->in_rect[k] = in;
            }
            nb_rect out = { 0, n->rows, 0, n->cols };
            if (n->op->pointwise) out = in;
            else if (n->op->region) n->op->region(n, i, &in, &out);
            rect_union(&res, &out);
        }
        if (n_dirty > 1) P->dirty_in[k] = -1;   /* two inputs moved: no update */
        if (rect_empty(&res)) continue;
        if (res.r1 > n->rows) res.r1 = n->rows;
        if (res.c1 > n->cols) res.c1 = n->cols;
        P->rect[k] = res;
        if (P->first == P->n) P->first = k;
    }
}

void nbi_partial_eval(nbi_partial *P)
{
    nb_graph *g = P->g;
    for (size_t k = P->first; k < P->n; k++) {
        const nb_rect *r = &P->rect[k];
        if (rect_empty(r)) continue;
        nb_node *n = &P->node[k];
        if (P->update[k] && P->dirty_in[k] >= 0 &&
            P->update[k](n, g->tape[k], (size_t)P->dirty_in[k], &P->in_rect[k], r))
            continue;
        if (n->op->pointwise) nbi_pointwise_forward_region(n, r);
        else if (n->op->forward_region && !rect_full(r, n)) n->op->forward_region(n, r);
        else n->op->forward(n);
    }
}

void nbi_partial_unfocus(nbi_partial *P)
{
    nb_graph *g = P->g;
    for (size_t k = P->first; k < P->n; k++) {
        const nb_rect *r = &P->rect[k];
        if (rect_empty(r)) continue;
        nb_node *n = &P->node[k];
        const double *base = g->tape[k]->value;
        for (size_t i = r->r0; i < r->r1; i++)
            memcpy(n->value + i * n->cols + r->c0, base + i * n->cols + r->c0,
                   (r->c1 - r->c0) * sizeof(double));
    }
    if (P->focus) P->focus->value[P->focus_k] = g->params[P->focus - P->param]->value[P->focus_k];
    P->first = P->n;
    P->focus = NULL;
}
