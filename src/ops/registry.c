/* ops/registry.c — the single list of ops.  The test suite, `nabla ops`,
 * `nabla check` and the config parser all iterate it.  Each family file
 * defines its ops as named objects (nb_op_tanh, ...) and lists their
 * addresses in one NULL-terminated table; to add an op, define it and add
 * one line to its family's table (see docs/extending.md); to add a family,
 * add a row below. */
#include <config.h>

#include <string.h>

#include "ops/ops.h"

static const struct {
    const char *name;
    const nb_op *const *ops;
} families[] = {
    { "arith", nbi_ops_arith },
    { "matrix", nbi_ops_matrix },
    { "elementwise", nbi_ops_elementwise },
    { "activation", nbi_ops_activation },
    { "softmax", nbi_ops_softmax },
    { "loss", nbi_ops_loss },
};
#define N_FAMILIES (sizeof families / sizeof families[0])

size_t nb_op_count(void)
{
    size_t n = 0;
    for (size_t f = 0; f < N_FAMILIES; f++)
        for (const nb_op *const *p = families[f].ops; *p; p++) n++;
    return n;
}

const nb_op *nb_op_at(size_t i)
{
    for (size_t f = 0; f < N_FAMILIES; f++)
        for (const nb_op *const *p = families[f].ops; *p; p++)
            if (i-- == 0) return *p;
    return NULL;
}

const nb_op *nb_op_find(const char *name)
{
    if (!name) return NULL;
    for (size_t f = 0; f < N_FAMILIES; f++)
        for (const nb_op *const *p = families[f].ops; *p; p++)
            if (strcmp((*p)->name, name) == 0) return *p;
    return NULL;
}

const char *nb_op_family(const nb_op *op)
{
    for (size_t f = 0; op && f < N_FAMILIES; f++)
        for (const nb_op *const *p = families[f].ops; *p; p++)
            if (*p == op) return families[f].name;
    return NULL;
}

int nbi_op_in_registry(const nb_op *op) { return nb_op_family(op) != NULL; }

nb_node *nb_apply_name(nb_graph *g, const char *op_name, nb_node *const *inputs,
                       const double *hyper)
{
    if (!g || nb_graph_status(g) != NB_OK) return NULL;
    const nb_op *op = nb_op_find(op_name);
    if (!op) {
        nbi_graph_error(g, NB_ENOTFOUND, "apply: unknown op '%s' (see `nabla ops`)",
                        NB_ECHO(op_name));
        return NULL;
    }
    return nb_apply(g, op, inputs, hyper);
}
