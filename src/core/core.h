/* core.h — the core layer's private header (nodes, the graph, the arena,
 * finite scans, error helpers), included by every layer above.  Never
 * installed.  Non-static internal names carry the nbi_ prefix and are kept
 * out of the exported symbol list (libtool -export-symbols-regex '^nb_'). */
#ifndef NABLA_CORE_H
#define NABLA_CORE_H

#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <nabla/graph.h>
#include <nabla/op.h>

#define NB_NODE_PARAM      1u  /* lives outside the tape */
#define NB_NODE_NEEDS_GRAD 2u  /* a leaf/param, or depends on one */
#define NB_NODE_LEAF       4u  /* nb_leaf: differentiable tape leaf */
#define NB_NODE_SCALAR     8u  /* made with its op's scalar pair (or pointwise
                                  function) on 1x1 inputs: forward replay and
                                  backward take that path too */
#define NB_NODE_VIEW      16u  /* nb_input_view: its value is the caller's memory */

/* Fields in the order the backward sweep reads them: a 1x1 node's sweep
 * touches op, in, rows, cols, value, grad, aux and flags,
 * which then share the node's first 80 bytes.  112 bytes in all, a multiple
 * of the arena's 16-byte alignment: a scalar graph's working set (nodes and
 * their values) is larger than L2, so every byte per node counts. */
struct nb_node {
    const nb_op *op;              /* NULL for inputs, leaves, parameters */
    nb_node *in[NB_MAX_ARITY];
    size_t rows, cols;
    double *value;                /* (rows, cols) */
    double *grad;                 /* (rows, cols), or NULL */
    double *aux;                  /* op workspace (its size: op->aux, or rows*cols) */
    unsigned flags;
    size_t index;                 /* position on the tape / in the param list */
    double hp[NB_MAX_HYPER];
    char *name;                   /* parameters only */
};

/* Arena: a list of blocks that reset rewinds without freeing. */
typedef struct nbi_block {
    struct nbi_block *next;
    size_t size, used;
    /* data follows, max-aligned */
} nbi_block;

struct nb_graph {
    nb_allocator al;
    nbi_block *blocks;     /* first block */
    nbi_block *cur;        /* block being filled */
    nb_node **tape;        /* tape nodes in creation order */
    size_t n_tape, cap_tape;
    nb_node **params;
    size_t n_params, cap_params;
    int status;
    int check_finite;
    /* Ops nb_apply has validated on this graph (a memo, not state): an op
     * outside the library is validated on its first use, then found here. */
    const nb_op *validated[8];
    unsigned n_validated;
    char errmsg[320];
};

/* Hints for the hot paths of scalar graphs: error branches predicted not
 * taken, and their reporting kept out of line (cold) so that a fast path
 * neither saves the registers nor reserves the stack a message needs. */
#if defined(__GNUC__)
#define NBI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NBI_COLD __attribute__((cold, noinline))
#define NBI_NOINLINE __attribute__((noinline))
#define NBI_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define NBI_UNLIKELY(x) (x)
#define NBI_COLD
#define NBI_NOINLINE
#define NBI_ALWAYS_INLINE inline
#endif

/* An excerpt of user input (a file name, key, value, field, tensor name)
 * for a message: nb_error_escape with nabla's budget of NB_ERROR_ECHO_MAX
 * printed characters, so that the reason after it is never cut off and a
 * message stays on one line.  buf has NB_ERROR_ECHO_LEN bytes. */
static inline const char *nbi_echo(char *buf, const char *s)
{
    return nb_error_escape(buf, NB_ERROR_ECHO_LEN, s, (size_t)-1, NB_ERROR_ECHO_MAX);
}

/* The same for a file name, keeping its end (the file's own name):
 * "...ests/data/truncated.idx" when the escaped path is longer than
 * NB_ERROR_ECHO_MAX characters. */
const char *nbi_echo_path(char *buf, const char *path);

/* Records an error on g (sticky: kept if one is already set); returns status. */
int nbi_graph_error(nb_graph *g, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The one allocator wrapper (alloc.c).  nbi_allocator: *al when it has
 * both functions, else malloc/free (what an object keeps; al may be NULL).
 * nbi_alloc never asks for 0 bytes (1 instead); nbi_free(al, NULL) is a
 * no-op; nbi_strndup copies n bytes of s and a NUL. */
nb_allocator nbi_allocator(const nb_allocator *al);
void *nbi_alloc(const nb_allocator *al, size_t size);
void nbi_free(const nb_allocator *al, void *p);
char *nbi_strndup(const nb_allocator *al, const char *s, size_t n);

/* Shorthands for the graph's own allocator. */
static inline void *nbi_graph_malloc(nb_graph *g, size_t size) { return nbi_alloc(&g->al, size); }
static inline void nbi_graph_mfree(nb_graph *g, void *p) { nbi_free(&g->al, p); }

#define NBI_ALIGN 16u
/* A block's header, rounded up so that the data after it stays aligned. */
#define NBI_BLOCK_HEADER ((sizeof(nbi_block) + NBI_ALIGN - 1) & ~(size_t)(NBI_ALIGN - 1))

/* The general case of nbi_arena_alloc: moving on to the next block, or
 * allocating one. */
void *nbi_arena_alloc_slow(nb_graph *g, size_t size, int zero);

/* Arena allocation, 16-byte aligned, zeroed when zero != 0; NULL when out of
 * memory (no error recorded).  Inline because a scalar graph makes two or
 * three of these per node: the common case, room left in the current block,
 * is a bump of its `used`; everything else (size 0 or absurd, a full or
 * missing block) is the slow path, which starts over with the same size. */
static inline void *nbi_arena_alloc(nb_graph *g, size_t size, int zero)
{
    nbi_block *b = g->cur;
    /* size - 1 wraps for size 0, so one test keeps sizes 0 and > SIZE_MAX/2
     * for the slow path. */
    if (b && size - 1 < SIZE_MAX / 2) {
        size_t rounded = (size + NBI_ALIGN - 1) & ~(size_t)(NBI_ALIGN - 1);
        if (b->size - b->used >= rounded) {
            void *p = (char *)b + NBI_BLOCK_HEADER + b->used;
            b->used += rounded;
            if (zero) memset(p, 0, rounded);
            return p;
        }
    }
    return nbi_arena_alloc_slow(g, size, zero);
}

/* nb_apply for an op known to be well formed (a built-in op, or one nb_apply
 * has validated): the same checks of inputs, hyper-parameters and shape,
 * the same errors, without the op's validation. */
nb_node *nbi_apply(nb_graph *g, const nb_op *op, nb_node *const *inputs, const double *hyper);

/* Forward and backward of a node of a pointwise op, whole arrays (the op's
 * own loops, or the generic ones: f'(x) kept in aux); core/op.c. */
void nbi_pointwise_forward(nb_node *out);
void nbi_pointwise_backward(nb_node *out);

/* Writes "(RxC)" into buf. */
const char *nbi_shape_str(const nb_node *n, char *buf, size_t len);

/* Facts about a tape for the layers above, and a sweep that leaves some
 * parameters alone.  The tape knows no optimizer: src/train/optim.c decides
 * from these facts which updates it can run inside a backward product
 * (nb_optim_backward; docs/architecture.md, "The optimizer owns its fused
 * updates").
 *
 * nbi_param_uses: for every parameter k < n (n at most the parameter
 * count), how many times it is an input of a tape node up to and including
 * out (a node using it twice counts twice), and the node and input slot of
 * the last such use (the only one when count == 1; node NULL when count ==
 * 0).  NB_EINVAL, every count 0, when out is NULL or not on g's tape
 * (nothing recorded on g). */
typedef struct nbi_param_use {
    nb_node *node;   /* the consumer: node->in[slot] is the parameter */
    size_t slot;
    size_t count;
} nbi_param_use;

int nbi_param_uses(const nb_graph *g, const nb_node *out, nbi_param_use *uses, size_t n);

/* 1 when an input on the tape up to out borrows memory (nb_input_view)
 * that overlaps a parameter's value: updating that parameter in place
 * would change the input under a product that still reads it. */
int nbi_view_aliases_param(const nb_graph *g, const nb_node *out);

/* nb_graph_zero_grad(g) then nb_backward(g, loss), except for each
 * parameter k < n with skip[k] != 0: its gradient buffer is neither cleared
 * nor accumulated into (the ops of the sweep see it as an input that needs
 * no gradient), so afterwards it holds whatever it held before.  The same
 * statuses as nb_backward. */
int nbi_backward_skip(nb_graph *g, nb_node *loss, const unsigned char *skip, size_t n);

/* 1 when every v[0..n) is finite.  A double is NaN or infinite when its
 * exponent bits are all ones; adding one unit of the exponent to the masked
 * bits then carries into the sign bit, so OR-ing those sums and testing the
 * top bit decides the whole array.  AND, ADD and OR of 64-bit lanes exist
 * in baseline SSE2, so the loop vectorises without -march flags (a 64-bit
 * equality test does not, and an isfinite() loop with an early exit does
 * not either); callers look for the offending element only when it fails.
 * One element (scalar graphs) is one isfinite, without the set-up of the
 * vectorised loop. */
static inline uint64_t nbi_nonfinite_bit(uint64_t bits)
{
    /* the sign bit of the result is set when the exponent is all ones */
    return (bits & UINT64_C(0x7ff0000000000000)) + UINT64_C(0x0010000000000000);
}

static inline int nbi_all_finite(const double *v, size_t n)
{
    uint64_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t b;
        memcpy(&b, &v[k], sizeof b);
        bad |= nbi_nonfinite_bit(b);
    }
    return (bad >> 63) == 0;
}

/* Copies s[0..n) to d[0..n) and returns 1 when every value is finite: the
 * test of nbi_all_finite in the same pass as the copy, where it costs
 * nothing beside the memory traffic. */
static inline int nbi_copy_finite(double *restrict d, const double *restrict s, size_t n)
{
    uint64_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t b;
        memcpy(&b, &s[k], sizeof b);
        memcpy(&d[k], &b, sizeof b);
        bad |= nbi_nonfinite_bit(b);
    }
    return (bad >> 63) == 0;
}

/* Transparent huge pages for a large buffer, where the system has them
 * (src/data/dataset.c); a hint that may be ignored. */
void nbi_advise_huge(void *p, size_t bytes);

#endif /* NABLA_CORE_H */
