/* app.h — the application layer's private header (run directories, the
 * training loop, plots).  The application is built on the public API only:
 * it includes no private header of the layers below.  Never installed. */
#ifndef NABLA_APP_PRIVATE_H
#define NABLA_APP_PRIVATE_H

#include <limits.h>
#include <stddef.h>

#include <nabla/nabla.h>

#define NBI_MAX_LAYERS 16

/* Word lists of the schema's enum keys, and the enums that index them (the
 * same order: nb_config_get_enum gives the index).  schema.c owns the
 * words; the run reads only the enums. */
typedef enum nbi_source {
    NBI_SRC_INLINE, NBI_SRC_TRUTH_TABLE, NBI_SRC_MOONS, NBI_SRC_SPIRALS, NBI_SRC_BLOBS,
    NBI_SRC_CSV, NBI_SRC_IDX, NBI_SRC_FASHION_MNIST, NBI_SRC_COUNT_
} nbi_source;
extern const char *const nbi_source_words[];   /* NULL-terminated, nbi_source order */

/* The typed spec of a run: every setting of an experiment config, read and
 * cross-checked once (nbi_run_spec_fill) so that the run never looks a key
 * up by name.  Strings marked "borrowed" point into the nb_config the spec
 * was filled from and live as long as it; "owned" buffers are freed by
 * nbi_run_spec_free. */
typedef struct nb_run_spec {
    struct {
        const char *name;              /* borrowed */
        unsigned long seed;            /* 0..2^32-1 */
    } experiment;
    struct {
        nbi_source source;
        const char *table;             /* truth_table: borrowed */
        size_t n, classes, dim;        /* generators */
        double noise;
        double *inputs, *targets;      /* inline, row-major: owned */
        size_t n_inputs, n_targets, input_dim;
        /* csv/idx files resolved against the config's directory (owned);
         * NULL when the source reads no such file */
        char *path, *labels_path, *test_path, *test_labels_path;
        const char *label_column;      /* csv: borrowed; NULL: the last column */
        const char *dir;               /* fashion_mnist: borrowed; NULL: default */
        const size_t *keep;            /* keep_classes: borrowed; NULL when unset */
        size_t n_keep;
        size_t limit, validation;
        double scale;
        int standardize, shuffle, reseed;
    } data;
    struct {
        size_t width[NBI_MAX_LAYERS + 1];  /* input first */
        size_t n_layers;                   /* dense layers = widths - 1 */
        const char *activation, *output;   /* registry op names: borrowed */
        int has_activation_param;
        double activation_param;
        int bias;
        nb_init_kind init;
        double init_low, init_high, init_std;
        int bias_same;
        double *weights;                   /* fixed initial values: owned; NULL: drawn */
        size_t n_weights;
        size_t n_params;                   /* parameters of the model */
    } model;
    struct {
        const nb_op *op;                   /* loss.kind: a two-input op of the registry's
                                            * loss family (mse for half_sse) */
        int half_sse;                      /* 1/2 sum of squares per example */
        const char *name;                  /* borrowed: loss.kind as written */
        int sum;                           /* reduction = sum */
        double l2;
    } loss;
    struct {
        int bfgs;                          /* GSL's vector_bfgs2 instead of opts */
        nb_optim_opts opts;
        int update_biases;
        double bfgs_tol;
    } optimizer;
    struct {
        size_t epochs, batch_size, patience, checkpoint_every;
        int shuffle;
    } train;
    struct {
        size_t every, gradcheck_every;
        int accuracy, mae, plot;
    } log;
} nb_run_spec;

/* Fills *spec from a loaded, validated config: every key read once, every
 * cross-key rule checked (a file source needs its path, softmax_ce needs
 * two outputs, patience needs a validation set, bfgs the full batch, fixed
 * weights the model's parameter count, ...).  Relative data paths are
 * resolved against cfgdir ("" or NULL: as given).  NB_ECONFIG with a
 * message naming the origin (file:line, --set, default) and the key;
 * NB_ENOMEM.  On failure *spec holds nothing to free; on success free it
 * with nbi_run_spec_free (cfg must outlive it). */
int nbi_run_spec_fill(const nb_config *cfg, const char *cfgdir, nb_run_spec *spec, nb_error *err);
void nbi_run_spec_free(nb_run_spec *spec);

/* Longest experiment.name (bytes): runs/<name>-seed<seed> stays one file
 * name (at most 255 bytes) with the longest seed. */
#define NBI_RUN_NAME_MAX 200

/* plot.c: the path of prog on $PATH into out (1), or 0 when absent. */
int nbi_find_program(const char *prog, char *out, size_t len);

/* s as the inside of a gnuplot single-quoted string (a title): a quote
 * doubled, control characters as spaces, at most max bytes of s (cut at a
 * UTF-8 character boundary, "..." appended).  out holds 2 * max + 4 bytes. */
void nbi_gnuplot_text(char *out, const char *s, size_t max);

/* Runs gnuplot (exe) on script inside dir, without changing this process's
 * working directory (gnuplot's own `cd` moves the child), its output sent
 * to /dev/null.  0 when gnuplot ran and exited 0; -ENOMEM when it could not
 * be started for lack of memory; -1 for any other failure. */
int nbi_gnuplot(const char *exe, const char *dir, const char *script);

#endif
