/* nn.c — initialisers and dense layers. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <nabla/nn.h>
#include <nabla/ops.h>
#include "train/train.h"

static const char *const init_names[] = {
    "zeros", "uniform", "normal", "lecun_normal", "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal",
};

const char *nb_init_name(nb_init_kind k)
{
    return (unsigned)k < sizeof init_names / sizeof init_names[0] ? init_names[k] : NULL;
}

int nb_init_parse(const char *name, nb_init_kind *k)
{
    if (!name || !k) return NB_EINVAL;
    for (size_t i = 0; i < sizeof init_names / sizeof init_names[0]; i++)
        if (strcmp(name, init_names[i]) == 0) {
            *k = (nb_init_kind)i;
            return NB_OK;
        }
    return NB_ENOTFOUND;
}

int nb_init_fill(double *w, size_t fan_in, size_t fan_out, nb_init_kind kind, double a,
                 double b, nb_rng *rng)
{
    if (!w || fan_in == 0 || fan_out == 0) return NB_EINVAL;
    if (kind != NB_INIT_ZEROS && !rng) return NB_EINVAL;
    size_t n = fan_in * fan_out;
    double s;
    switch (kind) {
    case NB_INIT_ZEROS:
        memset(w, 0, n * sizeof *w);
        return NB_OK;
    case NB_INIT_UNIFORM:
        if (!(isfinite(a) && isfinite(b) && a <= b)) return NB_EDOMAIN;
        for (size_t k = 0; k < n; k++) w[k] = (b - a) * nb_rng_uniform(rng) + a;
        return NB_OK;
    case NB_INIT_NORMAL:
        if (!(isfinite(a) && a >= 0)) return NB_EDOMAIN;
        for (size_t k = 0; k < n; k++) w[k] = a * nb_rng_gauss(rng);
        return NB_OK;
    case NB_INIT_LECUN_NORMAL:
        s = sqrt((double)fan_in);
        for (size_t k = 0; k < n; k++) w[k] = nb_rng_gauss(rng) / s;
        return NB_OK;
    case NB_INIT_XAVIER_UNIFORM:
    case NB_INIT_HE_UNIFORM:
        s = kind == NB_INIT_HE_UNIFORM ? sqrt(6.0 / (double)fan_in)
                                       : sqrt(6.0 / (double)(fan_in + fan_out));
        for (size_t k = 0; k < n; k++) w[k] = 2.0 * s * nb_rng_uniform(rng) - s;
        return NB_OK;
    case NB_INIT_XAVIER_NORMAL:
    case NB_INIT_HE_NORMAL:
        s = kind == NB_INIT_HE_NORMAL ? sqrt(2.0 / (double)fan_in)
                                      : sqrt(2.0 / (double)(fan_in + fan_out));
        for (size_t k = 0; k < n; k++) w[k] = s * nb_rng_gauss(rng);
        return NB_OK;
    }
    return NB_EINVAL;
}

int nb_dense_init(nb_dense *layer, nb_graph *g, const char *name, size_t in, size_t out,
                  const char *activation, const double *hyper, int bias)
{
    if (!g) return NB_EINVAL;
    if (nb_graph_status(g) != NB_OK) return nb_graph_status(g);
    if (!layer || !name)
        return nbi_graph_error(g, NB_EINVAL, "dense: %s is NULL", !layer ? "layer" : "name");
    memset(layer, 0, sizeof *layer);
    const nb_op *op = nb_op_find(activation ? activation : "identity");
    if (!op || op->arity != 1)
        return nbi_graph_error(g, NB_ENOTFOUND, "dense '%s': '%s' is not a unary op of the registry",
                               NB_ECHO(name), NB_ECHO(activation));
    layer->act = op;
    for (size_t i = 0; i < op->n_hyper; i++) layer->act_hyper[i] = hyper ? hyper[i] : op->hyper_default[i];
    char pname[256];
    snprintf(pname, sizeof pname, "%s.W", name);
    layer->W = nb_param(g, pname, in, out, NULL);
    if (bias) {
        snprintf(pname, sizeof pname, "%s.b", name);
        layer->b = nb_param(g, pname, 1, out, NULL);
    }
    return nb_graph_status(g);
}

int nb_dense_init_weights(nb_dense *layer, nb_init_kind kind, double a, double b, nb_rng *rng,
                          nb_error *err)
{
    if (!layer || !layer->W || !rng)
        return nb_error_set(err, NB_EINVAL, "dense init: %s is NULL",
                            !layer ? "layer" : !layer->W ? "layer's W (not initialised)" : "rng");
    int st = nb_init_fill(nb_node_value(layer->W), nb_node_rows(layer->W), nb_node_cols(layer->W),
                          kind, a, b, rng);
    if (st != NB_OK)
        return nb_error_set(err, st, "dense init %s: %s", NB_ECHO(nb_node_name(layer->W)),
                            nb_strerror(st));
    return NB_OK;
}

nb_node *nb_dense_forward(nb_graph *g, const nb_dense *layer, nb_node *x)
{
    if (!g || nb_graph_status(g) != NB_OK) return NULL;
    if (!layer || !layer->W || !layer->act) {
        nbi_graph_error(g, NB_EINVAL, "dense: layer is not initialised");
        return NULL;
    }
    nb_node *z = layer->b ? nb_affine(g, x, layer->W, layer->b) : nb_matmul(g, x, layer->W);
    if (strcmp(layer->act->name, "identity") == 0) return z;
    nb_node *in[1] = { z };
    return nb_apply(g, layer->act, in, layer->act_hyper);
}
