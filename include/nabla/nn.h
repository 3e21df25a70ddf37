/* nabla/nn.h — layers as graph builders, and parameter initialisers.
 *
 * A dense layer owns two parameters on a graph, W (in, out) and b (1, out),
 * and builds y = act(x W + b) for a batch x (n, in) -> (n, out).  The
 * activation is any registry op of arity 1 (so a newly registered
 * activation is usable here, and from configs, at once).
 *
 * Initialisers draw from an explicit nb_rng (NumPy-compatible), row-major
 * over W (in, out), so a published NumPy initialisation such as
 * `2*np.random.random((3,4)) - 1` reproduces exactly. */
#ifndef NABLA_NN_H
#define NABLA_NN_H

#include <stddef.h>
#include <nabla/graph.h>
#include <nabla/op.h>
#include <nabla/rng.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nb_init_kind {
    NB_INIT_ZEROS = 0,
    NB_INIT_UNIFORM,         /* U(a, b): a + (b - a) u  (NumPy 2*rand-1 is a=-1, b=1) */
    NB_INIT_NORMAL,          /* N(0, a^2) */
    NB_INIT_LECUN_NORMAL,    /* N(0, 1) / sqrt(fan_in)  (randn(in,out)/sqrt(in)) */
    NB_INIT_XAVIER_UNIFORM,  /* U(-s, s), s = sqrt(6/(fan_in+fan_out)) */
    NB_INIT_XAVIER_NORMAL,   /* N(0, 2/(fan_in+fan_out)) */
    NB_INIT_HE_UNIFORM,      /* U(-s, s), s = sqrt(6/fan_in) */
    NB_INIT_HE_NORMAL        /* N(0, 2/fan_in) */
} nb_init_kind;

/* "zeros", "uniform", ... ; NULL for an unknown kind. */
const char *nb_init_name(nb_init_kind k);
/* NB_ENOTFOUND for an unknown name. */
int nb_init_parse(const char *name, nb_init_kind *k);

/* Fills w (fan_in * fan_out values, row-major (fan_in, fan_out)).
 * a, b: parameters of UNIFORM (bounds) and NORMAL (a = standard deviation). */
int nb_init_fill(double *w, size_t fan_in, size_t fan_out, nb_init_kind kind, double a,
                 double b, nb_rng *rng);

typedef struct nb_dense {
    nb_node *W;              /* (in, out) parameter */
    nb_node *b;              /* (1, out) parameter, or NULL without bias */
    const nb_op *act;        /* unary registry op */
    double act_hyper[NB_MAX_HYPER];
} nb_dense;

/* Creates the parameters "<name>.W" and "<name>.b" on g (zeros).
 * activation: a unary op's registry name ("tanh", "identity"); hyper NULL:
 * the op's defaults.  Returns the graph's status (message on the graph). */
int nb_dense_init(nb_dense *layer, nb_graph *g, const char *name, size_t in, size_t out,
                  const char *activation, const double *hyper, int bias);

/* Draws the layer's weights W (in, out) with nb_init_fill(kind, a, b) from
 * rng, as `W = init(in, out)` in NumPy; the bias keeps its value (zeros
 * after nb_dense_init).  NB_EINVAL for NULL arguments or a layer without
 * weights; message in err (NULL allowed). */
int nb_dense_init_weights(nb_dense *layer, nb_init_kind kind, double a, double b, nb_rng *rng,
                          nb_error *err);

/* y = act(x W + b): x (n, in) -> (n, out), as the nodes affine (or matmul
 * without a bias) and the activation (none for "identity").  NULL on error
 * (graph message). */
nb_node *nb_dense_forward(nb_graph *g, const nb_dense *layer, nb_node *x);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_NN_H */
