/* model.c — a graph's parameters saved to and loaded from an archive
 * (nb_model_put/get/save/load, docs/formats-archive.md). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/archive.h>
#include "train/train.h"

/* Name of parameter p under prefix into buf; 0 when too long. */
static int prefixed(char *buf, size_t len, const char *prefix, const char *name)
{
    int n = snprintf(buf, len, "%s%s", prefix, name);
    return n >= 0 && (size_t)n < len;
}


int nb_model_put(nb_graph *g, nb_archive *ar, const char *prefix)
{
    if (g == NULL || ar == NULL) return NB_EINVAL;
    if (prefix == NULL) prefix = "";
    char key[NB_ARCHIVE_NAME_MAX + 2];
    for (size_t i = 0; i < nb_graph_param_count(g); i++) {
        nb_node *p = nb_graph_param_at(g, i);
        if (!prefixed(key, sizeof key, prefix, nb_node_name(p))) return NB_EINVAL;
        int st = nb_archive_put(ar, key, nb_node_rows(p), nb_node_cols(p), nb_node_cvalue(p));
        if (st != NB_OK) return st;
    }
    return NB_OK;
}

/* nb_model_get() with messages starting with where (a path, or "archive"). */
static int model_get(nb_graph *g, const nb_archive *ar, const char *prefix, const char *where,
                     nb_error *err)
{
    char en[NB_ERROR_ECHO_LEN], ex[NB_ERROR_ECHO_LEN];
    char key[NB_ARCHIVE_NAME_MAX + 2];
    size_t np = nb_graph_param_count(g), plen = strlen(prefix);
    /* Every check before the first value is written. */
    for (size_t i = 0; i < np; i++) {
        nb_node *p = nb_graph_param_at(g, i);
        size_t r, c;
        if (!prefixed(key, sizeof key, prefix, nb_node_name(p)) ||
            nb_archive_get(ar, key, &r, &c) == NULL)
            return nb_error_set(err, NB_ENOTFOUND, "%s: no tensor '%s%s' for parameter '%s' "
                        "(%zux%zu)", where, nbi_echo(ex, prefix), nbi_echo(en, nb_node_name(p)), nbi_echo(en, nb_node_name(p)),
                        nb_node_rows(p), nb_node_cols(p));
        if (r != nb_node_rows(p) || c != nb_node_cols(p))
            return nb_error_set(err, NB_ESHAPE, "%s: parameter '%s' is (%zux%zu) in the graph, "
                        "(%zux%zu) in the file", where, nbi_echo(en, nb_node_name(p)), nb_node_rows(p),
                        nb_node_cols(p), r, c);
    }
    for (size_t i = 0; i < nb_archive_count(ar); i++) {
        const char *name = nb_archive_name_at(ar, i);
        if (strncmp(name, prefix, plen) != 0) continue;
        if (nb_graph_param_find(g, name + plen) == NULL) {
            size_t r, c;
            nb_archive_get(ar, name, &r, &c);
            return nb_error_set(err, NB_ENOTFOUND, "%s: tensor '%s' (%zux%zu) matches no "
                        "parameter of the graph", where, nbi_echo(en, name), r, c);
        }
    }
    for (size_t i = 0; i < np; i++) {
        nb_node *p = nb_graph_param_at(g, i);
        prefixed(key, sizeof key, prefix, nb_node_name(p));
        const double *v = nb_archive_get(ar, key, NULL, NULL);
        if (nb_node_size(p)) memcpy(nb_node_value(p), v, nb_node_size(p) * sizeof(double));
    }
    return NB_OK;
}

int nb_model_get(nb_graph *g, const nb_archive *ar, const char *prefix, nb_error *err)
{
    if (g == NULL || ar == NULL)
        return nb_error_set(err, NB_EINVAL, "model get: NULL graph or archive");
    return model_get(g, ar, prefix ? prefix : "", "archive", err);
}

int nb_model_save(nb_graph *g, const char *path, nb_error *err)
{
    char ep[NB_ERROR_ECHO_LEN], en[NB_ERROR_ECHO_LEN];
    const char *P = path ? nbi_echo_path(ep, path) : "(null)";
    if (g == NULL || path == NULL)
        return nb_error_set(err, NB_EINVAL, "model save: NULL graph or path");
    nb_archive *ar = nb_archive_alloc();
    if (ar == NULL) return nb_error_set(err, NB_ENOMEM, "%s: out of memory", P);
    int st = nb_archive_put_str(ar, "kind", NB_MODEL_KIND);
    if (st == NB_OK) st = nb_archive_put_str(ar, "nabla_version", PACKAGE_VERSION);
    if (st != NB_OK) {
        nb_archive_free(ar);
        return nb_error_set(err, st, "%s: %s", P, nb_strerror(st));
    }
    for (size_t i = 0; i < nb_graph_param_count(g); i++) {
        nb_node *p = nb_graph_param_at(g, i);
        st = nb_archive_put(ar, nb_node_name(p), nb_node_rows(p), nb_node_cols(p),
                            nb_node_cvalue(p));
        if (st != NB_OK) {
            nb_archive_free(ar);
            if (st == NB_EDOMAIN)
                return nb_error_set(err, st, "%s: parameter '%s' (%zux%zu) holds NaN or infinity",
                            P, nbi_echo(en, nb_node_name(p)), nb_node_rows(p), nb_node_cols(p));
            return nb_error_set(err, st, "%s: parameter '%s' (%zux%zu): %s", P, nbi_echo(en, nb_node_name(p)),
                        nb_node_rows(p), nb_node_cols(p), nb_strerror(st));
        }
    }
    st = nb_archive_write(ar, path, err);
    nb_archive_free(ar);
    return st;
}

int nb_model_load(nb_graph *g, const char *path, nb_error *err)
{
    char ep[NB_ERROR_ECHO_LEN], en[NB_ERROR_ECHO_LEN];
    const char *P = path ? nbi_echo_path(ep, path) : "(null)";
    if (g == NULL || path == NULL)
        return nb_error_set(err, NB_EINVAL, "model load: NULL graph or path");
    nb_archive *ar = NULL;
    int st = nb_archive_read(path, &ar, err);
    if (st != NB_OK) return st;
    const char *kind = nb_archive_get_str(ar, "kind");
    if (kind == NULL || strcmp(kind, NB_MODEL_KIND) != 0)
        st = nb_error_set(err, NB_EFORMAT, "%s: not a nabla model (metadata kind is %s%s%s, "
                  "expected '%s')", P, kind ? "'" : "", kind ? nbi_echo(en, kind) : "missing",
                  kind ? "'" : "", NB_MODEL_KIND);
    else
        st = model_get(g, ar, "", P, err);
    nb_archive_free(ar);
    return st;
}
