/* graph.c — the tape, its arena, parameters, forward replay and the reverse
 * sweep.  See include/nabla/graph.h for the contracts and
 * docs/architecture.md for the life of one training step. */
#include <config.h>

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/graph.h>
#include <nabla/op.h>
#include "core/core.h"

#define NBI_BLOCK_MIN ((size_t)1 << 16)   /* 64 KiB */

int nbi_graph_error(nb_graph *g, int status, const char *fmt, ...)
{
    if (g == NULL || g->status != NB_OK) return status;
    g->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->errmsg, sizeof g->errmsg, fmt, ap);
    va_end(ap);
    return status;
}

const char *nbi_shape_str(const nb_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "(%zux%zu)", n->rows, n->cols);
    return buf;
}

/* ---- life cycle -------------------------------------------------------- */

nb_graph *nb_graph_alloc_with(const nb_allocator *allocator)
{
    nb_allocator al = nbi_allocator(allocator);
    nb_graph *g = nbi_alloc(&al, sizeof *g);
    if (!g) return NULL;
    memset(g, 0, sizeof *g);
    g->al = al;
    g->check_finite = 1;
    return g;
}

nb_graph *nb_graph_alloc(void) { return nb_graph_alloc_with(NULL); }

static void free_param(nb_graph *g, nb_node *p)
{
    nbi_graph_mfree(g, p->value);
    nbi_graph_mfree(g, p->grad);
    nbi_graph_mfree(g, p->name);
    nbi_graph_mfree(g, p);
}

void nb_graph_free(nb_graph *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n_params; i++) free_param(g, g->params[i]);
    nbi_graph_mfree(g, g->params);
    nbi_graph_mfree(g, g->tape);
    nbi_block *b = g->blocks;
    while (b) {
        nbi_block *next = b->next;
        nbi_graph_mfree(g, b);
        b = next;
    }
    nb_allocator al = g->al;
    nbi_free(&al, g);
}

void nb_graph_reset(nb_graph *g)
{
    if (!g) return;
    for (nbi_block *b = g->blocks; b; b = b->next) b->used = 0;
    g->cur = g->blocks;
    g->n_tape = 0;
    nb_graph_clear_error(g);
}

int nb_graph_status(const nb_graph *g) { return g ? g->status : NB_EINVAL; }

const char *nb_graph_errmsg(const nb_graph *g)
{
    return g ? g->errmsg : "graph is NULL";
}

void nb_graph_clear_error(nb_graph *g)
{
    if (!g) return;
    g->status = NB_OK;
    g->errmsg[0] = '\0';
}

void nb_graph_set_check_finite(nb_graph *g, int on)
{
    if (g) g->check_finite = on != 0;
}

/* ---- arena ------------------------------------------------------------- */

void *nbi_arena_alloc_slow(nb_graph *g, size_t size, int zero)
{
    if (size == 0) size = 1;
    if (size > SIZE_MAX / 2) return NULL;
    size = (size + NBI_ALIGN - 1) & ~(size_t)(NBI_ALIGN - 1);
    /* Walk forward from the current block: blocks kept from earlier steps
     * are reused in order, so a repeated step finds them all again. */
    nbi_block *b = g->cur;
    nbi_block *prev = NULL;
    while (b && b->size - b->used < size) {
        prev = b;
        b = b->next;
        if (b) b->used = 0;   /* blocks after cur are unused in this step */
    }
    if (!b) {
        size_t want = size > NBI_BLOCK_MIN ? size : NBI_BLOCK_MIN;
        /* Grow geometrically with the arena so that few blocks suffice. */
        if (prev && prev->size * 2 > want && prev->size < ((size_t)1 << 28))
            want = prev->size * 2;
        b = nbi_graph_malloc(g, NBI_BLOCK_HEADER + want);
        if (!b) return NULL;
        b->next = NULL;
        b->size = want;
        b->used = 0;
        if (prev) prev->next = b;
        else g->blocks = b;
    }
    g->cur = b;
    void *p = (char *)b + NBI_BLOCK_HEADER + b->used;
    b->used += size;
    if (zero) memset(p, 0, size);
    return p;
}

/* Doubles the capacity *cap of the node list *list (first: the capacity of
 * an empty one), keeping its n entries: the tape and the parameter list.
 * After warm-up a rebuilt graph never gets here. */
static NBI_NOINLINE int grow_list(nb_graph *g, nb_node ***list, size_t n, size_t *cap, size_t first)
{
    size_t c = *cap ? *cap * 2 : first;
    nb_node **t = nbi_graph_malloc(g, c * sizeof *t);
    if (!t) return NB_ENOMEM;
    if (n) memcpy(t, *list, n * sizeof *t);
    nbi_graph_mfree(g, *list);
    *list = t;
    *cap = c;
    return NB_OK;
}

static inline int push_tape(nb_graph *g, nb_node *n)
{
    if (g->n_tape == g->cap_tape &&
        grow_list(g, &g->tape, g->n_tape, &g->cap_tape, 64) != NB_OK)
        return NB_ENOMEM;
    n->index = g->n_tape;
    g->tape[g->n_tape++] = n;
    return NB_OK;
}

/* A fresh node, every field assigned one by one: a memset of the struct, or
 * a compound literal (which GCC compiles the same way), becomes `rep stos`,
 * whose start-up cost was a tenth of a scalar graph's time. */
static inline void init_node(nb_node *n, const nb_op *op, size_t rows, size_t cols,
                             double *value, unsigned flags)
{
    n->op = op;
    for (size_t i = 0; i < NB_MAX_ARITY; i++) n->in[i] = NULL;
    for (size_t i = 0; i < NB_MAX_HYPER; i++) n->hp[i] = 0.0;
    n->rows = rows;
    n->cols = cols;
    n->value = value;
    n->grad = NULL;
    n->aux = NULL;
    n->flags = flags;
    n->name = NULL;
    n->index = 0;
}

/* ---- leaves ------------------------------------------------------------ */

/* Dimensions both below this (2^30 for a 64-bit size_t) cannot overflow
 * rows * cols * sizeof(double): the product of the sizes is below
 * 2^(bits - 4), the bytes below 2^(bits - 1). */
#define NBI_DIM_SAFE ((size_t)1 << (sizeof(size_t) * CHAR_BIT / 2 - 2))

/* check_dims for an empty or a huge shape. */
static int check_dims_extreme(nb_graph *g, const char *what, size_t rows, size_t cols)
{
    if (rows == 0 || cols == 0)
        return nbi_graph_error(g, NB_ESHAPE, "%s: (%zux%zu): empty matrices are not allowed",
                               what, rows, cols);
    if (rows > SIZE_MAX / sizeof(double) / cols)
        return nbi_graph_error(g, NB_ERANGE, "%s: (%zux%zu): too large", what, rows, cols);
    return NB_OK;
}

static inline int check_dims(nb_graph *g, const char *what, size_t rows, size_t cols)
{
    /* The common case, 1 <= rows, cols < NBI_DIM_SAFE, in two comparisons
     * (0 wraps to SIZE_MAX); the division only for huge shapes. */
    if (rows - 1 < NBI_DIM_SAFE - 1 && cols - 1 < NBI_DIM_SAFE - 1) return NB_OK;
    return check_dims_extreme(g, what, rows, cols);
}

/* The error of check_data_finite: the first non-finite element of data. */
static int report_nonfinite_data(nb_graph *g, const char *what, size_t rows,
                                 size_t cols, const double *data)
{
    for (size_t k = 0; k < rows * cols; k++)
        if (!isfinite(data[k]))
            return nbi_graph_error(g, NB_EDOMAIN,
                                   "%s: (%zux%zu): non-finite value %g at (%zu,%zu)",
                                   what, rows, cols, data[k], k / cols, k % cols);
    return NB_OK;
}

static inline int check_data_finite(nb_graph *g, const char *what, size_t rows,
                                    size_t cols, const double *data)
{
    if (!data || nbi_all_finite(data, rows * cols)) return NB_OK;
    return report_nonfinite_data(g, what, rows, cols, data);
}

/* Inline so that each caller's constants fold: nb_scalar's 1x1 shape and
 * non-NULL data leave a finiteness test, one bump of the arena and the
 * node's stores.  The node and its value come in one bump, as in nbi_apply. */
static NBI_ALWAYS_INLINE nb_node *tape_leaf(nb_graph *g, const char *what, size_t rows,
                                            size_t cols, const double *data, unsigned flags)
{
    if (!g || g->status != NB_OK) return NULL;
    if (check_dims(g, what, rows, cols) != NB_OK) return NULL;
    if (check_data_finite(g, what, rows, cols, data) != NB_OK) return NULL;
    size_t node_bytes = (sizeof(nb_node) + 15) & ~(size_t)15;
    size_t value_bytes = rows * cols * sizeof(double);
    /* Values over SIZE_MAX / 2 bytes fail as the arena fails them, before
     * the sum can wrap. */
    char *block = value_bytes <= SIZE_MAX / 2 ? nbi_arena_alloc(g, node_bytes + value_bytes, 0)
                                              : NULL;
    nb_node *n = (nb_node *)block;
    double *v = block ? (double *)(block + node_bytes) : NULL;
    if (n) init_node(n, NULL, rows, cols, v, flags);
    if (NBI_UNLIKELY(!n || push_tape(g, n) != NB_OK)) {
        nbi_graph_error(g, NB_ENOMEM, "%s: (%zux%zu): out of memory", what, rows, cols);
        return NULL;
    }
    /* For nb_scalar the size is a constant: one store. */
    if (data) memcpy(v, data, rows * cols * sizeof(double));
    else memset(v, 0, rows * cols * sizeof(double));
    return n;
}

nb_node *nb_input(nb_graph *g, size_t rows, size_t cols, const double *data)
{
    return tape_leaf(g, "input", rows, cols, data, 0);
}

nb_node *nb_input_view(nb_graph *g, size_t rows, size_t cols, const double *data)
{
    if (!g || g->status != NB_OK) return NULL;
    if (!data) {
        nbi_graph_error(g, NB_EINVAL, "input_view: (%zux%zu): data is NULL", rows, cols);
        return NULL;
    }
    if (check_dims(g, "input_view", rows, cols) != NB_OK) return NULL;
    if (check_data_finite(g, "input_view", rows, cols, data) != NB_OK) return NULL;
    nb_node *n = nbi_arena_alloc(g, sizeof *n, 0);
    /* value is never written: inputs need no gradient. */
    if (n) init_node(n, NULL, rows, cols, (double *)data, NB_NODE_VIEW);
    if (!n || push_tape(g, n) != NB_OK) {
        nbi_graph_error(g, NB_ENOMEM, "input_view: (%zux%zu): out of memory", rows, cols);
        return NULL;
    }
    return n;
}

/* The node of an input gathered from rows rows[0..k) of an (n, cols)
 * source, its value allocated but not filled; NULL with the error recorded
 * for a NULL source or row list, bad dimensions or a row index >= n. */
static nb_node *rows_node(nb_graph *g, const char *what, const void *src, size_t n,
                          size_t cols, const size_t *rows, size_t k)
{
    if (!g || g->status != NB_OK) return NULL;
    if (!src || !rows) {
        nbi_graph_error(g, NB_EINVAL, "%s: (%zux%zu): %s is NULL", what, k, cols,
                        !src ? "src" : "rows");
        return NULL;
    }
    if (check_dims(g, what, k, cols) != NB_OK) return NULL;
    for (size_t b = 0; b < k; b++)
        if (rows[b] >= n) {
            nbi_graph_error(g, NB_ERANGE,
                            "%s: (%zux%zu): row %zu of the batch is source row %zu, "
                            "but the source has %zu rows", what, k, cols, b, rows[b], n);
            return NULL;
        }
    nb_node *node = nbi_arena_alloc(g, sizeof *node, 1);
    double *v = node ? nbi_arena_alloc(g, k * cols * sizeof(double), 0) : NULL;
    if (!node || !v || push_tape(g, node) != NB_OK) {
        nbi_graph_error(g, NB_ENOMEM, "%s: (%zux%zu): out of memory", what, k, cols);
        return NULL;
    }
    node->rows = k;
    node->cols = cols;
    node->value = v;
    return node;
}

/* The rows of a large source are scattered: ask for row b + 2 while row b
 * is copied (each row starts a new stream that the hardware prefetcher
 * would only pick up after a miss). */
static void prefetch_row(const void *row, size_t bytes)
{
#if defined(__GNUC__)
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch((const char *)row + off);
#else
    (void)row;
    (void)bytes;
#endif
}

nb_node *nb_input_rows(nb_graph *g, const double *src, size_t n, size_t cols,
                       const size_t *rows, size_t k)
{
    nb_node *node = rows_node(g, "input_rows", src, n, cols, rows, k);
    if (!node) return NULL;
    for (size_t b = 0; b < k; b++) {
        if (b + 2 < k) prefetch_row(src + rows[b + 2] * cols, cols * sizeof(double));
        const double *s = src + rows[b] * cols;
        if (nbi_copy_finite(node->value + b * cols, s, cols)) continue;
        size_t j = 0;
        while (isfinite(s[j])) j++;
        nbi_graph_error(g, NB_EDOMAIN,
                        "input_rows: (%zux%zu): non-finite value %g at (%zu,%zu), source row %zu",
                        k, cols, s[j], b, j, rows[b]);
        return NULL;
    }
    return node;
}

nb_node *nb_input_rows_u8(nb_graph *g, const unsigned char *src, double scale, size_t n,
                          size_t cols, const size_t *rows, size_t k)
{
    if (g && g->status == NB_OK && !(isfinite(scale) && isfinite(255.0 * scale))) {
        nbi_graph_error(g, NB_EDOMAIN, "input_rows_u8: (%zux%zu): scale %g is not finite "
                        "(or 255 * scale overflows)", k, cols, scale);
        return NULL;
    }
    nb_node *node = rows_node(g, "input_rows_u8", src, n, cols, rows, k);
    if (!node) return NULL;
    for (size_t b = 0; b < k; b++) {
        if (b + 2 < k) prefetch_row(src + rows[b + 2] * cols, cols);
        const unsigned char *restrict s = src + rows[b] * cols;
        double *restrict v = node->value + b * cols;
        for (size_t j = 0; j < cols; j++) v[j] = (double)s[j] * scale;   /* vectorises */
    }
    return node;
}

nb_node *nb_scalar(nb_graph *g, double value)
{
    return tape_leaf(g, "scalar", 1, 1, &value, 0);
}

nb_node *nb_leaf(nb_graph *g, size_t rows, size_t cols, const double *data)
{
    return tape_leaf(g, "leaf", rows, cols, data, NB_NODE_LEAF | NB_NODE_NEEDS_GRAD);
}

nb_node *nb_param(nb_graph *g, const char *name, size_t rows, size_t cols,
                  const double *init)
{
    if (!g || g->status != NB_OK) return NULL;
    if (check_dims(g, "param", rows, cols) != NB_OK) return NULL;
    if (check_data_finite(g, "param", rows, cols, init) != NB_OK) return NULL;
    char autoname[32];
    if (!name) {
        snprintf(autoname, sizeof autoname, "p%zu", g->n_params);
        name = autoname;
    }
    if (!*name) {
        nbi_graph_error(g, NB_EINVAL, "param: empty name");
        return NULL;
    }
    if (nb_graph_param_find(g, name)) {
        nbi_graph_error(g, NB_EINVAL, "param: name '%s' is already used", NB_ECHO(name));
        return NULL;
    }
    if (g->n_params == g->cap_params &&
        grow_list(g, &g->params, g->n_params, &g->cap_params, 16) != NB_OK)
        goto oom;
    nb_node *n = nbi_graph_malloc(g, sizeof *n);
    if (!n) goto oom;
    memset(n, 0, sizeof *n);
    size_t bytes = rows * cols * sizeof(double);
    size_t nlen = strlen(name) + 1;
    n->value = nbi_graph_malloc(g, bytes);
    n->grad = nbi_graph_malloc(g, bytes);
    n->name = nbi_graph_malloc(g, nlen);
    if (!n->value || !n->grad || !n->name) {
        free_param(g, n);
        goto oom;
    }
    memcpy(n->name, name, nlen);
    if (init) memcpy(n->value, init, bytes);
    else memset(n->value, 0, bytes);
    memset(n->grad, 0, bytes);
    n->rows = rows;
    n->cols = cols;
    n->flags = NB_NODE_PARAM | NB_NODE_NEEDS_GRAD;
    n->index = g->n_params;
    g->params[g->n_params++] = n;
    return n;
oom:
    nbi_graph_error(g, NB_ENOMEM, "param '%s': (%zux%zu): out of memory", NB_ECHO(name), rows, cols);
    return NULL;
}

size_t nb_graph_param_count(const nb_graph *g) { return g ? g->n_params : 0; }

nb_node *nb_graph_param_at(const nb_graph *g, size_t i)
{
    return g && i < g->n_params ? g->params[i] : NULL;
}

nb_node *nb_graph_param_find(const nb_graph *g, const char *name)
{
    if (!g || !name) return NULL;
    for (size_t i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i]->name, name) == 0) return g->params[i];
    return NULL;
}

size_t nb_graph_param_size(const nb_graph *g)
{
    size_t n = 0;
    if (g)
        for (size_t i = 0; i < g->n_params; i++)
            n += g->params[i]->rows * g->params[i]->cols;
    return n;
}

void nb_graph_zero_grad(nb_graph *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n_params; i++) {
        nb_node *p = g->params[i];
        memset(p->grad, 0, p->rows * p->cols * sizeof(double));
    }
}

size_t nb_graph_tape_size(const nb_graph *g) { return g ? g->n_tape : 0; }

/* ---- applying ops ------------------------------------------------------ */

/* The error of scan_finite: the first non-finite element of n's value, and
 * the input's value there when input 0 has n's shape. */
static NBI_COLD int report_nonfinite(nb_graph *g, const nb_node *n)
{
    size_t sz = n->rows * n->cols;
    for (size_t k = 0; k < sz; k++) {
        if (!isfinite(n->value[k])) {
            char sh[48], ish[48];
            const nb_node *x = n->in[0];
            double xv = x && x->rows == n->rows && x->cols == n->cols ? x->value[k] : NAN;
            if (isnan(xv))
                return nbi_graph_error(g, NB_EDOMAIN,
                                       "%s: %s: non-finite result %g at (%zu,%zu)",
                                       n->op->name, nbi_shape_str(n, sh, sizeof sh),
                                       n->value[k], k / n->cols, k % n->cols);
            return nbi_graph_error(g, NB_EDOMAIN,
                                   "%s: %s -> %s: non-finite result %g at (%zu,%zu) from input %g",
                                   n->op->name, nbi_shape_str(x, ish, sizeof ish),
                                   nbi_shape_str(n, sh, sizeof sh), n->value[k],
                                   k / n->cols, k % n->cols, xv);
        }
    }
    return NB_OK;
}

static inline int scan_finite(nb_graph *g, const nb_node *n)
{
    if (NBI_UNLIKELY(!nbi_all_finite(n->value, n->rows * n->cols))) return report_nonfinite(g, n);
    return NB_OK;
}

/* n's value (and aux) again through its op's scalar pair, or its
 * pointwise function, on plain doubles, as apply_scalar made it: n has
 * NB_NODE_SCALAR (every input 1x1). */
static void scalar_forward(nb_node *n)
{
    const nb_op *op = n->op;
    if (op->pointwise) {
        n->value[0] = op->pointwise(n->in[0]->value[0], n->hp, n->aux);
        return;
    }
    double v[NB_MAX_ARITY];
    for (size_t i = 0; i < NB_MAX_ARITY; i++) v[i] = n->in[i] ? n->in[i]->value[0] : 0.0;
    n->value[0] = op->scalar_forward(v, n->hp, n->aux);
}

/* n's value from its inputs: the path chosen when n was made. */
static inline void run_forward(nb_node *n)
{
    if (n->flags & NB_NODE_SCALAR) scalar_forward(n);
    else if (n->op->pointwise) nbi_pointwise_forward(n);
    else n->op->forward(n);
}

/* 1 when g has validated op before (the memo of nb_apply). */
static inline int validated_before(const nb_graph *g, const nb_op *op)
{
    for (size_t i = 0; i < sizeof g->validated / sizeof g->validated[0]; i++)
        if (g->validated[i] == op) return 1;
    return 0;
}

nb_node *nb_apply(nb_graph *g, const nb_op *op, nb_node *const *inputs,
                  const double *hyper)
{
    if (!g || g->status != NB_OK) return NULL;
    if (!op) {
        nbi_graph_error(g, NB_EINVAL, "apply: op is NULL");
        return NULL;
    }
    /* Every op is validated on its first use on this graph, built-in or
     * not; the last eight are remembered. */
    if (!validated_before(g, op)) {
        char msg[256];
        if (nb_op_validate(op, msg, sizeof msg) != NB_OK) {
            nbi_graph_error(g, NB_EINVAL, "%s", msg);
            return NULL;
        }
        g->validated[g->n_validated++ % (sizeof g->validated / sizeof g->validated[0])] = op;
    }
    return nbi_apply(g, op, inputs, hyper);
}

/* The shape of op's result through its shape rule, from the inputs in[]
 * (NULL past the arity: shape rules may look there); NB_OK, or the error
 * recorded on g.  Out of line: its message buffer would otherwise enlarge
 * nbi_apply's frame for every node. */
static NBI_NOINLINE int apply_shape_rule(nb_graph *g, const nb_op *op, nb_node *const *inputs,
                                         const double *hp, size_t *rows, size_t *cols)
{
    char msg[256];
    msg[0] = '\0';
    int st = op->shape((const nb_node *const *)inputs, hp, rows, cols, msg, sizeof msg);
    if (st != NB_OK)
        return nbi_graph_error(g, st, "%s: %s", op->name, msg[0] ? msg : nb_strerror(st));
    /* A shape equal to input 0's was checked when that node was made. */
    if (*rows == inputs[0]->rows && *cols == inputs[0]->cols) return NB_OK;
    return check_dims(g, op->name, *rows, *cols);
}

/* The workspace size of op's aux rule, which reads the inputs and the shape
 * only; out of line for the probe node it needs. */
static NBI_NOINLINE size_t apply_aux(const nb_op *op, nb_node *const *inputs, size_t rows,
                                     size_t cols)
{
    nb_node probe;
    init_node(&probe, op, rows, cols, NULL, 0);
    for (size_t i = 0; i < op->arity; i++) probe.in[i] = inputs[i];
    return op->aux(&probe);
}

/* The errors of nbi_apply's input checks: the first NULL input. */
static NBI_COLD void report_null_input(nb_graph *g, const nb_op *op, nb_node *const *inputs)
{
    if (!inputs) {
        nbi_graph_error(g, NB_EINVAL, "%s: inputs array is NULL", op->name);
        return;
    }
    for (size_t i = 0; i < op->arity; i++)
        if (!inputs[i]) {
            nbi_graph_error(g, NB_EINVAL, "%s: input %zu of %zu is NULL", op->name, i + 1,
                            op->arity);
            return;
        }
}

/* op's hyper-parameters (hyper, or the defaults) into hp; NB_OK, or the
 * error recorded for the first non-finite one.  Out of line: the ops of
 * scalar graphs have none. */
static NBI_NOINLINE int read_hyper(nb_graph *g, const nb_op *op, const double *hyper, double *hp)
{
    for (size_t i = 0; i < op->n_hyper; i++) {
        hp[i] = hyper ? hyper[i] : op->hyper_default[i];
        if (!isfinite(hp[i]))
            return nbi_graph_error(g, NB_EDOMAIN, "%s: hyper-parameter %s = %g is not finite",
                                   op->name, op->hyper_names[i] ? op->hyper_names[i] : "?",
                                   hp[i]);
    }
    return NB_OK;
}

static NBI_COLD nb_node *apply_oom(nb_graph *g, const nb_op *op, size_t rows, size_t cols)
{
    nbi_graph_error(g, NB_ENOMEM, "%s: (%zux%zu): out of memory", op->name, rows, cols);
    return NULL;
}

_Static_assert(NB_MAX_ARITY == 3, "nbi_apply handles the inputs one by one");

/* nbi_apply on 1x1 inputs in[] for an op with a scalar pair or a pointwise
 * function: a 1x1 node (a promise nb_op_validate checks for the pair, so
 * the shape rule is not asked) computed on plain doubles and marked
 * NB_NODE_SCALAR, so that replay and backward take the same path. */
static NBI_ALWAYS_INLINE nb_node *apply_scalar(nb_graph *g, const nb_op *op, nb_node *const *in,
                                               const double *hp)
{
    /* The input values and flags in straight code (in[0] always exists). */
    double v[NB_MAX_ARITY] = { in[0]->value[0], 0.0, 0.0 };
    unsigned flags = in[0]->flags;
    if (in[1]) {
        v[1] = in[1]->value[0];
        flags |= in[1]->flags;
    }
    if (in[2]) {
        v[2] = in[2]->value[0];
        flags |= in[2]->flags;
    }
    nb_pointwise_fn f = op->pointwise;
    size_t n_aux = f ? 1 : op->aux ? apply_aux(op, in, 1, 1) : 0;
    size_t node_bytes = (sizeof(nb_node) + 15) & ~(size_t)15;
    char *block = nbi_arena_alloc(g, node_bytes + 16 + n_aux * sizeof(double), 0);
    if (NBI_UNLIKELY(!block)) return apply_oom(g, op, 1, 1);
    nb_node *n = (nb_node *)block;
    double *value = (double *)(block + node_bytes), *aux = NULL;
    init_node(n, op, 1, 1, value, (flags & NB_NODE_NEEDS_GRAD) | NB_NODE_SCALAR);
    n->in[0] = in[0];
    n->in[1] = in[1];
    n->in[2] = in[2];
    memcpy(n->hp, hp, sizeof n->hp);
    if (n_aux) {
        aux = (double *)(block + node_bytes + 16);
        if (f) aux[0] = 0.0;
        else memset(aux, 0, n_aux * sizeof(double));
        n->aux = aux;
    }
    if (NBI_UNLIKELY(push_tape(g, n) != NB_OK)) return apply_oom(g, op, 1, 1);
    double y = f ? f(v[0], hp, aux) : op->scalar_forward(v, hp, aux);
    value[0] = y;
    if (g->check_finite && NBI_UNLIKELY(!isfinite(y))) {
        report_nonfinite(g, n);
        return NULL;
    }
    return n;
}

nb_node *nbi_apply(nb_graph *g, const nb_op *op, nb_node *const *inputs, const double *hyper)
{
    if (!g || g->status != NB_OK) return NULL;
    /* The inputs copied into in[] (NULL past the arity) and tested in
     * straight code, the reporting (which input is NULL) only on failure;
     * written out for NB_MAX_ARITY == 3 because loops of op->arity
     * iterations cost several times as much.  An op here has arity 1..3
     * (validated, or built in). */
    size_t arity = op->arity;
    nb_node *in[NB_MAX_ARITY] = { NULL, NULL, NULL };
    if (NBI_UNLIKELY(!inputs)) {
        report_null_input(g, op, inputs);
        return NULL;
    }
    in[0] = inputs[0];
    if (arity > 1) in[1] = inputs[1];
    if (arity > 2) in[2] = inputs[2];
    if (NBI_UNLIKELY(!in[0] || (arity > 1 && !in[1]) || (arity > 2 && !in[2]))) {
        report_null_input(g, op, inputs);
        return NULL;
    }
    double hp[NB_MAX_HYPER] = { 0 };
    if (op->n_hyper && read_hyper(g, op, hyper, hp) != NB_OK) return NULL;
    /* The one choice of the scalar path: every input 1x1 (rows | cols is 1
     * only then) and an op with a scalar pair or a pointwise function. */
    size_t dims = in[0]->rows | in[0]->cols;
    if (in[1]) dims |= in[1]->rows | in[1]->cols;
    if (in[2]) dims |= in[2]->rows | in[2]->cols;
    if (dims == 1 && (op->pointwise || op->scalar_forward)) return apply_scalar(g, op, in, hp);
    /* A pointwise result has its input's shape, checked when that was made. */
    size_t rows = in[0]->rows, cols = in[0]->cols;
    size_t n_aux = rows * cols;   /* f'(x) per element */
    if (!op->pointwise) {
        if (apply_shape_rule(g, op, in, hp, &rows, &cols) != NB_OK) return NULL;
        n_aux = op->aux ? apply_aux(op, in, rows, cols) : 0;
    }
    /* The node, its value and its workspace in one bump of the arena. */
    size_t node_bytes = (sizeof(nb_node) + 15) & ~(size_t)15;
    size_t value_bytes = (rows * cols * sizeof(double) + 15) & ~(size_t)15;
    char *block = nbi_arena_alloc(g, node_bytes + value_bytes + n_aux * sizeof(double), 0);
    if (NBI_UNLIKELY(!block)) return apply_oom(g, op, rows, cols);
    nb_node *n = (nb_node *)block;
    /* The flags gathered in a local: stores to n->flags could alias the
     * inputs' flags, and would be reloaded and stored once per input. */
    unsigned flags = in[0]->flags;
    if (in[1]) flags |= in[1]->flags;
    if (in[2]) flags |= in[2]->flags;
    init_node(n, op, rows, cols, (double *)(block + node_bytes), flags & NB_NODE_NEEDS_GRAD);
    n->in[0] = in[0];
    n->in[1] = in[1];
    n->in[2] = in[2];
    memcpy(n->hp, hp, sizeof hp);
    if (n_aux) {
        n->aux = (double *)(block + node_bytes + value_bytes);
        memset(n->aux, 0, n_aux * sizeof(double));
    }
    if (NBI_UNLIKELY(push_tape(g, n) != NB_OK)) return apply_oom(g, op, rows, cols);
    if (op->pointwise) nbi_pointwise_forward(n);
    else op->forward(n);
    if (g->check_finite && scan_finite(g, n) != NB_OK) return NULL;
    return n;
}

/* ---- evaluation -------------------------------------------------------- */

int nb_graph_forward(nb_graph *g)
{
    if (!g) return NB_EINVAL;
    if (g->status != NB_OK) return g->status;
    for (size_t i = 0; i < g->n_tape; i++) {
        nb_node *n = g->tape[i];
        if (!n->op) continue;
        run_forward(n);
        if (g->check_finite && scan_finite(g, n) != NB_OK) return g->status;
    }
    return NB_OK;
}

/* A loss must be 1x1; other outputs need nb_backward_seed. */
static int check_loss(nb_graph *g, const nb_node *loss)
{
    if (g && g->status == NB_OK && loss && (loss->rows != 1 || loss->cols != 1)) {
        char sh[48];
        return nbi_graph_error(g, NB_ESHAPE,
                               "backward: loss must be (1x1), got %s; use nb_backward_seed for a VJP",
                               nbi_shape_str(loss, sh, sizeof sh));
    }
    return NB_OK;
}

int nbi_param_uses(const nb_graph *g, const nb_node *out, nbi_param_use *uses, size_t n)
{
    for (size_t k = 0; k < n; k++) uses[k] = (nbi_param_use){ NULL, 0, 0 };
    if (!g || !out || (out->flags & NB_NODE_PARAM) || out->index >= g->n_tape ||
        g->tape[out->index] != out)
        return NB_EINVAL;
    if (n > g->n_params) n = g->n_params;
    for (size_t i = 0; i <= out->index; i++) {
        nb_node *t = g->tape[i];
        if (!t->op) continue;
        for (size_t s = 0; s < t->op->arity; s++) {
            const nb_node *p = t->in[s];
            if (!(p->flags & NB_NODE_PARAM) || p->index >= n) continue;
            nbi_param_use *u = &uses[p->index];
            u->count++;
            u->node = t;
            u->slot = s;
        }
    }
    return NB_OK;
}

int nbi_view_aliases_param(const nb_graph *g, const nb_node *out)
{
    if (!g || !out || (out->flags & NB_NODE_PARAM) || out->index >= g->n_tape) return 0;
    for (size_t i = 0; i <= out->index; i++) {
        const nb_node *t = g->tape[i];
        if (!(t->flags & NB_NODE_VIEW)) continue;
        uintptr_t v0 = (uintptr_t)t->value, v1 = v0 + t->rows * t->cols * sizeof(double);
        for (size_t k = 0; k < g->n_params; k++) {
            const nb_node *p = g->params[k];
            uintptr_t p0 = (uintptr_t)p->value, p1 = p0 + p->rows * p->cols * sizeof(double);
            if (v0 < p1 && p0 < v1) return 1;
        }
    }
    return 0;
}

/* The backward of a node made with NB_NODE_SCALAR: its op's scalar pair,
 * or for a pointwise op the one multiply-add by f'(x) kept in aux, on plain
 * doubles. */
static NBI_ALWAYS_INLINE void scalar_backward(nb_node *n)
{
    const nb_op *op = n->op;
    double g = n->grad[0];
    if (op->pointwise) {
        double *dx = n->in[0]->grad;
        if (dx) dx[0] += g * n->aux[0];
        return;
    }
    /* Entries past the arity are left unset: the pair reads in[0..arity). */
    nb_node *a = n->in[0], *b = n->in[1], *c = n->in[2];
    double v[NB_MAX_ARITY], *grad[NB_MAX_ARITY];
    v[0] = a->value[0];
    grad[0] = a->grad;
    if (b) {
        v[1] = b->value[0];
        grad[1] = b->grad;
    }
    if (c) {
        v[2] = c->value[0];
        grad[2] = c->grad;
    }
    op->scalar_backward(g, v, n->value[0], n->hp, n->aux, grad);
}

/* The reverse sweep from out (seeded with seed, or ones).  With skip !=
 * NULL, first what nb_graph_zero_grad does, except that each parameter k <
 * n_skip with skip[k] keeps its buffer as it is and is hidden from the
 * sweep (grad NULL, its buffer parked in the otherwise unused aux field of
 * the parameter node), so no op accumulates into it. */
static int sweep(nb_graph *g, nb_node *out, const double *seed, const unsigned char *skip,
                 size_t n_skip)
{
    if (!g) return NB_EINVAL;
    if (g->status != NB_OK) return g->status;
    if (!out) return nbi_graph_error(g, NB_EINVAL, "backward: output node is NULL");
    int on_tape = !(out->flags & NB_NODE_PARAM) && out->index < g->n_tape &&
                  g->tape[out->index] == out;
    if (!on_tape)
        return nbi_graph_error(g, NB_EINVAL,
                               "backward: the output node is not on this graph's tape");
    /* Fresh gradient buffers for every tape node up to out that needs one
     * (last in a local: the stores could alias out->index). */
    size_t last = out->index;
    for (size_t i = 0; i <= last; i++) {
        nb_node *n = g->tape[i];
        if (!(n->flags & NB_NODE_NEEDS_GRAD)) continue;
        size_t sz = n->rows * n->cols;
        if (!n->grad) {
            n->grad = nbi_arena_alloc(g, sz * sizeof(double), 0);
            if (!n->grad)
                return nbi_graph_error(g, NB_ENOMEM, "backward: out of memory");
        }
        if (n->flags & NB_NODE_SCALAR) n->grad[0] = 0.0;
        else memset(n->grad, 0, sz * sizeof(double));
    }
    if (skip) {
        for (size_t k = 0; k < g->n_params; k++) {
            nb_node *p = g->params[k];
            if (k < n_skip && skip[k]) {
                p->aux = p->grad;
                p->grad = NULL;
            } else {
                memset(p->grad, 0, p->rows * p->cols * sizeof(double));
            }
        }
    }
    if (out->flags & NB_NODE_NEEDS_GRAD) {   /* else nothing depends on a variable */
        size_t sz = out->rows * out->cols;
        for (size_t k = 0; k < sz; k++) out->grad[k] = seed ? seed[k] : 1.0;
        for (size_t i = last + 1; i-- > 0;) {
            nb_node *n = g->tape[i];
            if (!n->op || !(n->flags & NB_NODE_NEEDS_GRAD)) continue;
            /* Inputs that need no gradient have grad == NULL: backward skips
             * them.  The path is the one chosen when n was made. */
            if (n->flags & NB_NODE_SCALAR) scalar_backward(n);
            else if (n->op->pointwise) nbi_pointwise_backward(n);
            else n->op->backward(n);
        }
    }
    for (size_t k = 0; skip && k < n_skip && k < g->n_params; k++) {
        nb_node *p = g->params[k];
        if (skip[k]) {
            p->grad = p->aux;
            p->aux = NULL;
        }
    }
    return NB_OK;
}

int nbi_backward_skip(nb_graph *g, nb_node *loss, const unsigned char *skip, size_t n)
{
    int st = check_loss(g, loss);
    return st != NB_OK ? st : sweep(g, loss, NULL, skip, n);
}

int nb_backward(nb_graph *g, nb_node *loss)
{
    int st = check_loss(g, loss);
    return st != NB_OK ? st : sweep(g, loss, NULL, NULL, 0);
}

int nb_backward_seed(nb_graph *g, nb_node *out, const double *seed)
{
    if (g && g->status == NB_OK && out && seed) {
        if (check_data_finite(g, "backward seed", out->rows, out->cols, seed) != NB_OK)
            return g->status;
    }
    return sweep(g, out, seed, NULL, 0);
}

/* ---- node access ------------------------------------------------------- */

size_t nb_node_rows(const nb_node *n) { return n ? n->rows : 0; }
size_t nb_node_cols(const nb_node *n) { return n ? n->cols : 0; }
size_t nb_node_size(const nb_node *n) { return n ? n->rows * n->cols : 0; }
double *nb_node_value(nb_node *n) { return n ? n->value : NULL; }
const double *nb_node_cvalue(const nb_node *n) { return n ? n->value : NULL; }
double *nb_node_grad(nb_node *n) { return n ? n->grad : NULL; }
double nb_node_scalar(const nb_node *n)
{
    return n && n->rows == 1 && n->cols == 1 ? n->value[0] : NAN;
}
const char *nb_node_name(const nb_node *n) { return n ? n->name : NULL; }
const nb_op *nb_node_op(const nb_node *n) { return n ? n->op : NULL; }
nb_node *nb_node_input(const nb_node *n, size_t i)
{
    return n && n->op && i < n->op->arity ? n->in[i] : NULL;
}
const double *nb_node_hyper(const nb_node *n) { return n ? n->hp : NULL; }
double *nb_node_aux(nb_node *n) { return n ? n->aux : NULL; }
int nb_node_is_param(const nb_node *n) { return n && (n->flags & NB_NODE_PARAM) != 0; }
int nb_node_needs_grad(const nb_node *n)
{
    return n && (n->flags & NB_NODE_NEEDS_GRAD) != 0;
}
