/* nabla/graph.h — the tape: a define-by-run reverse-mode autodiff on dense
 * double matrices.
 *
 * Every node holds a dense row-major matrix of doubles, (rows, cols); a
 * scalar is the 1x1 case.  Creating a node through an op appends it to the
 * graph's tape, so the tape is already in topological order and backward is
 * a single reverse sweep of vector-Jacobian products.
 *
 * Memory.  Tape nodes (inputs, leaves and op results) and their buffers live
 * in an arena owned by the graph: nb_graph_reset() frees all of them at once
 * and keeps the arena's blocks, so a training step that builds the same graph
 * again performs no malloc once the arena has grown to its working size.
 * Parameters (nb_param) live outside the tape: they keep their values and
 * gradient buffers across resets, until nb_graph_free().
 *
 * Errors.  Builders return NULL on failure and record a status and a message
 * on the graph ("matmul: (3x4) x (5x2): inner sizes differ"); the status is
 * sticky: once set, further builders return NULL without overwriting the
 * first message, so a whole expression can be built and checked once:
 *
 *     nb_node *y = nb_sigmoid(g, nb_add(g, nb_matmul(g, x, w), b));
 *     if (y == NULL) fprintf(stderr, "%s\n", nb_graph_errmsg(g));
 *
 * Nothing in nabla aborts or exits.  A graph is not thread-safe; use one
 * graph per thread.
 */
#ifndef NABLA_GRAPH_H
#define NABLA_GRAPH_H

#include <stddef.h>
#include <nabla/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_graph nb_graph;
typedef struct nb_node nb_node;
typedef struct nb_op nb_op;

/* Optional allocator (Lua style).  ud is passed back unchanged.  Used for
 * every allocation the graph makes, so tests can count allocations or make
 * the n-th one fail. */
typedef struct nb_allocator {
    void *(*alloc)(void *ud, size_t size); /* like malloc; NULL on failure */
    void (*free)(void *ud, void *ptr);     /* like free; ptr may be NULL */
    void *ud;
} nb_allocator;

/* Graph life cycle.  nb_graph_alloc() returns NULL when out of memory.
 * nb_graph_alloc_with() copies *allocator (NULL: malloc/free).
 * nb_graph_free(NULL) is a no-op. */
nb_graph *nb_graph_alloc(void);
nb_graph *nb_graph_alloc_with(const nb_allocator *allocator);
void nb_graph_free(nb_graph *g);

/* Drops every tape node (inputs, leaves, op results) at once and clears the
 * error status.  Parameters, their values and gradients are kept.  Node
 * pointers of tape nodes are invalid afterwards. */
void nb_graph_reset(nb_graph *g);

/* Sticky error status of the graph (NB_OK when none) and its message ("" when
 * none).  The message names the op and the shapes involved. */
int nb_graph_status(const nb_graph *g);
const char *nb_graph_errmsg(const nb_graph *g);
void nb_graph_clear_error(nb_graph *g);

/* By default every op result is scanned for NaN/Inf and a non-finite value
 * is an NB_EDOMAIN error naming the op.  Pass 0 to skip the scan (faster;
 * NaN then propagates silently). */
void nb_graph_set_check_finite(nb_graph *g, int on);

/* ---- leaves ------------------------------------------------------------ */

/* A constant on the tape: data (rows*cols doubles, row-major) is copied.
 * data NULL gives zeros.  NaN/Inf in data is an NB_EDOMAIN error. */
nb_node *nb_input(nb_graph *g, size_t rows, size_t cols, const double *data);

/* The same without the copy: the node's value is data itself, borrowed.
 * data must stay valid and unchanged until the next reset (nabla never
 * writes to it).  For mini-batches gathered into the caller's buffer. */
nb_node *nb_input_view(nb_graph *g, size_t rows, size_t cols, const double *data);

/* A mini-batch straight onto the tape: the (k, cols) input whose row b is
 * row rows[b] of src, a row-major (n, cols) matrix (a data set), copied
 * into the graph's arena and checked for NaN/Inf in the same pass: one
 * pass over the batch where gathering into a buffer and nb_input_view
 * make two.  A non-finite value is an NB_EDOMAIN error naming the batch
 * row, the column and the source row; a row index >= n is NB_ERANGE; NULL
 * src or rows NB_EINVAL.  No allocation once the arena has grown. */
nb_node *nb_input_rows(nb_graph *g, const double *src, size_t n, size_t cols,
                       const size_t *rows, size_t k);

/* The same from a data set kept as bytes (images): row b of the input is
 * (double)src[rows[b]*cols + j] * scale, exactly the values a data set of
 * doubles scaled by nb_dataset_scale(ds, scale) holds (see
 * nb_dataset_to_bytes), read from an eighth of the memory.  NB_EDOMAIN for
 * a scale that is not finite or overflows at 255; otherwise as
 * nb_input_rows (no finite check is needed: bytes times a finite scale are
 * finite). */
nb_node *nb_input_rows_u8(nb_graph *g, const unsigned char *src, double scale, size_t n,
                          size_t cols, const size_t *rows, size_t k);

/* A 1x1 constant. */
nb_node *nb_scalar(nb_graph *g, double value);

/* A differentiable leaf on the tape: like nb_input, but backward fills its
 * gradient (read it with nb_node_grad()).  Freed by reset. */
nb_node *nb_leaf(nb_graph *g, size_t rows, size_t cols, const double *data);

/* A trainable parameter: lives outside the tape and survives reset.  name is
 * copied and must be unique in the graph (NULL: "p<index>"); init NULL gives
 * zeros.  Its gradient accumulates over backward calls until
 * nb_graph_zero_grad(). */
nb_node *nb_param(nb_graph *g, const char *name, size_t rows, size_t cols,
                  const double *init);

size_t nb_graph_param_count(const nb_graph *g);
nb_node *nb_graph_param_at(const nb_graph *g, size_t i);   /* NULL if out of range */
nb_node *nb_graph_param_find(const nb_graph *g, const char *name);
/* Total number of scalar parameters (sum of rows*cols). */
size_t nb_graph_param_size(const nb_graph *g);
void nb_graph_zero_grad(nb_graph *g);

/* Number of nodes currently on the tape (parameters excluded). */
size_t nb_graph_tape_size(const nb_graph *g);

/* ---- applying ops ------------------------------------------------------ */

/* Appends op(inputs; hyper) to the tape and computes its value.  inputs has
 * op->arity entries; hyper has op->n_hyper entries (NULL: the op's
 * defaults).  NULL on error (see above).  The op is validated
 * (nb_op_validate) on its first use on g; the graph remembers the ops it
 * validated by address, so an op must not change while g uses it. */
nb_node *nb_apply(nb_graph *g, const nb_op *op, nb_node *const *inputs,
                  const double *hyper);
/* The same, looking the op up by registry name ("tanh"). */
nb_node *nb_apply_name(nb_graph *g, const char *op_name, nb_node *const *inputs,
                       const double *hyper);

/* ---- evaluation -------------------------------------------------------- */

/* Recomputes every op node of the tape in order from the current values of
 * leaves and parameters (after you changed a parameter, say). */
int nb_graph_forward(nb_graph *g);

/* Reverse sweep from a 1x1 node: d(loss)/d(node) for every node that depends
 * on a leaf or parameter.  Tape gradients are recomputed from zero; parameter
 * gradients accumulate. */
int nb_backward(nb_graph *g, nb_node *loss);

/* Vector-Jacobian product from any node: seeds its gradient with seed
 * (rows*cols doubles; NULL means all ones) and sweeps backward. */
int nb_backward_seed(nb_graph *g, nb_node *out, const double *seed);

/* ---- node access ------------------------------------------------------- */

size_t nb_node_rows(const nb_node *n);
size_t nb_node_cols(const nb_node *n);
size_t nb_node_size(const nb_node *n);              /* rows*cols */
/* Value, (rows, cols) row-major; writable for leaves and parameters (call
 * nb_graph_forward() afterwards to propagate a change). */
double *nb_node_value(nb_node *n);
const double *nb_node_cvalue(const nb_node *n);
/* Gradient, (rows, cols).  Parameters always have one (zeros until a
 * backward reaches them); tape nodes get one at the first backward that
 * reaches them, NULL before and for nodes that need none (constants). */
double *nb_node_grad(nb_node *n);
/* Scalar value of a 1x1 node (NaN for NULL or non-1x1). */
double nb_node_scalar(const nb_node *n);
const char *nb_node_name(const nb_node *n);          /* parameters; else NULL */
const nb_op *nb_node_op(const nb_node *n);           /* NULL for leaves */
nb_node *nb_node_input(const nb_node *n, size_t i);  /* NULL out of range */
const double *nb_node_hyper(const nb_node *n);
double *nb_node_aux(nb_node *n);                     /* op workspace */
int nb_node_is_param(const nb_node *n);
int nb_node_needs_grad(const nb_node *n);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_GRAPH_H */
