/* ops/registry.c — the single list of ops.  The test suite, `nabla ops`,
 * `nabla check` and the config parser all iterate it.  Each family file
 * exports one table; to add an op, add an entry to its family's table (see
 * docs/extending.md); to add a family, add a row below. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "ops/ops.h"

static const struct {
    const nb_op *ops;
    const size_t *n;
} families[] = {
    { nbi_ops_arith, &nbi_n_ops_arith },
    { nbi_ops_matrix, &nbi_n_ops_matrix },
    { nbi_ops_elementwise, &nbi_n_ops_elementwise },
    { nbi_ops_activation, &nbi_n_ops_activation },
    { nbi_ops_softmax, &nbi_n_ops_softmax },
    { nbi_ops_loss, &nbi_n_ops_loss },
};

size_t nb_op_count(void)
{
    size_t n = 0;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) n += *families[f].n;
    return n;
}

const nb_op *nb_op_at(size_t i)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        if (i < *families[f].n) return &families[f].ops[i];
        i -= *families[f].n;
    }
    return NULL;
}

const nb_op *nb_op_find(const char *name)
{
    if (!name) return NULL;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (size_t i = 0; i < *families[f].n; i++)
            if (strcmp(families[f].ops[i].name, name) == 0) return &families[f].ops[i];
    return NULL;
}

int nbi_op_in_registry(const nb_op *op)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        if ((uintptr_t)op >= (uintptr_t)families[f].ops &&
            (uintptr_t)op < (uintptr_t)(families[f].ops + *families[f].n))
            return 1;
    return 0;
}
