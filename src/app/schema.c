/* app/schema.c — every key an experiment config accepts.
 * docs/experiments.md describes them; `nabla run --help-config` prints them. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include <nabla/experiment.h>
#include <nabla/nn.h>
#include <nabla/op.h>
#include <nabla/optim.h>
#include "app/app.h"

/* Word lists come from the modules that own the words: activations and
 * losses from the op registry (so a newly registered op is usable from
 * configs at once), initialisers from nn.h; optimizers and schedules from
 * their type tables. */

/* An activation: any unary op of the registry. */
static int is_unary_op(const char *word, void *ud, char *why, size_t len)
{
    (void)ud;
    const nb_op *op = nb_op_find(word);
    if (op && op->arity == 1) return 0;
    snprintf(why, len, "'%s' is not a unary op of the registry (see `nabla ops`)", NB_ECHO(word));
    return 1;
}

/* A loss: a two-input op of the registry's loss family (output, target), or
 * half_sse, which the runner makes of mse. */
static int is_loss(const char *word, void *ud, char *why, size_t len)
{
    (void)ud;
    const nb_op *op = nb_op_find(word);
    if (strcmp(word, "half_sse") == 0 ||
        (op && op->arity == 2 && nb_op_family(op) && strcmp(nb_op_family(op), "loss") == 0))
        return 0;
    int used = snprintf(why, len, "'%s' is not a loss: ", NB_ECHO(word));
    for (size_t i = 0; i < nb_op_count() && used >= 0 && (size_t)used < len; i++) {
        op = nb_op_at(i);
        if (op->arity == 2 && strcmp(nb_op_family(op), "loss") == 0)
            used += snprintf(why + used, len - (size_t)used, "%s, ", op->name);
    }
    if (used >= 0 && (size_t)used < len) snprintf(why + used, len - (size_t)used, "half_sse");
    return 1;
}

/* Optimizers and schedules come from the optimizer module's tables
 * (nb_optim_type_at, nb_schedule_type_at), so a new one is usable from
 * configs at once; "bfgs" is the runner's own (GSL's vector_bfgs2). */
static int is_optimizer(const char *word, void *ud, char *why, size_t len)
{
    (void)ud;
    if (nb_optim_type_find(word) || strcmp(word, "bfgs") == 0) return 0;
    size_t n = (size_t)snprintf(why, len, "'%s' is not an optimizer (", NB_ECHO(word));
    for (size_t i = 0; i < nb_optim_type_count() && n < len; i++)
        n += (size_t)snprintf(why + n, len - n, "%s, ", nb_optim_type_at(i)->name);
    if (n < len) snprintf(why + n, len - n, "bfgs)");
    return 1;
}

static int is_schedule(const char *word, void *ud, char *why, size_t len)
{
    (void)ud;
    if (nb_schedule_type_find(word)) return 0;
    size_t n = (size_t)snprintf(why, len, "'%s' is not a schedule (", NB_ECHO(word));
    for (size_t i = 0; i < nb_schedule_type_count() && n < len; i++)
        n += (size_t)snprintf(why + n, len - n, "%s%s", i ? ", " : "",
                              nb_schedule_type_at(i)->name);
    if (n < len) snprintf(why + n, len - n, ")");
    return 1;
}

const char *const nbi_source_words[] = { "inline", "truth_table", "moons", "spirals", "blobs",
                                       "csv", "idx", "fashion_mnist", NULL };
static const char *const bias_inits[] = { "zeros", "same", NULL };
static const char *const reductions[] = { "mean", "sum", NULL };
static const char *const metrics[] = { "accuracy", "mae", NULL };

static const nb_config_key schema[] = {
    { .name = "experiment.name", .type = NB_CONFIG_STRING, .def = "run",
      .help = "name of the run: one directory name, no '/', at most 200 bytes "
              "(default run directory runs/<name>-seed<seed>)" },
    { .name = "experiment.seed", .type = NB_CONFIG_INT, .def = "0", .min = "0",
      .max = "4294967295", .help = "seed of the NumPy-compatible stream (numpy.random.seed)" },

    { .name = "data.source", .type = NB_CONFIG_ENUM, .required = 1, .words = nbi_source_words,
      .help = "inline|truth_table|moons|spirals|blobs|csv|idx|fashion_mnist" },
    { .name = "data.table", .type = NB_CONFIG_STRING, .def = "xor",
      .help = "truth_table: trask2, trask3, xor, and, or" },
    { .name = "data.n", .type = NB_CONFIG_SIZE, .def = "200", .min = "1",
      .help = "moons/blobs: examples; spirals: examples per class" },
    { .name = "data.noise", .type = NB_CONFIG_DOUBLE, .def = "0.2", .min = "0",
      .help = "moons/spirals: noise; blobs: standard deviation" },
    { .name = "data.classes", .type = NB_CONFIG_SIZE, .def = "3", .min = "1",
      .help = "spirals/blobs: number of classes" },
    { .name = "data.dim", .type = NB_CONFIG_SIZE, .def = "2", .min = "1",
      .help = "blobs: input dimension" },
    { .name = "data.inputs", .type = NB_CONFIG_WORD_LIST,
      .help = "inline: input values, row-major (n, data.input_dim)" },
    { .name = "data.input_dim", .type = NB_CONFIG_SIZE, .def = "1", .min = "1",
      .help = "inline: values per input row" },
    { .name = "data.targets", .type = NB_CONFIG_WORD_LIST,
      .help = "inline: target values, row-major (n, output width)" },
    { .name = "data.path", .type = NB_CONFIG_STRING, .def = "",
      .help = "csv: file; idx: images file (relative to the config file's directory)" },
    { .name = "data.labels_path", .type = NB_CONFIG_STRING, .def = "", .help = "idx: labels file" },
    { .name = "data.test_path", .type = NB_CONFIG_STRING, .def = "", .help = "csv/idx: test set file" },
    { .name = "data.test_labels_path", .type = NB_CONFIG_STRING, .def = "",
      .help = "idx: test labels file" },
    { .name = "data.label_column", .type = NB_CONFIG_STRING, .def = "",
      .help = "csv: label column name (empty: the last column)" },
    { .name = "data.dir", .type = NB_CONFIG_STRING, .def = "",
      .help = "fashion_mnist: directory (empty: $NABLA_FASHION_MNIST_DIR or Debian's package)" },
    { .name = "data.keep_classes", .type = NB_CONFIG_SIZE_LIST,
      .help = "keep only these classes, relabelled 0, 1, ... in this order" },
    { .name = "data.limit", .type = NB_CONFIG_SIZE, .def = "0",
      .help = "use only the first N training examples (0: all)" },
    { .name = "data.scale", .type = NB_CONFIG_DOUBLE, .def = "1",
      .help = "multiply every feature (e.g. 0.00392156862745098 = 1/255 for pixels)" },
    { .name = "data.standardize", .type = NB_CONFIG_BOOL, .def = "false",
      .help = "z-score each feature with the training set's mean and standard deviation" },
    { .name = "data.shuffle", .type = NB_CONFIG_BOOL, .def = "false",
      .help = "shuffle the training set once after loading (before the validation split)" },
    { .name = "data.validation", .type = NB_CONFIG_SIZE, .def = "0",
      .help = "hold out the last N training examples as a validation set" },
    { .name = "data.reseed", .type = NB_CONFIG_BOOL, .def = "false",
      .help = "seed the stream again (experiment.seed) after the data, before the weights" },

    { .name = "model.layers", .type = NB_CONFIG_SIZE_LIST, .required = 1, .min = "1",
      .min_len = 2, .help = "layer widths, input first: 784, 30, 10" },
    { .name = "model.activation", .type = NB_CONFIG_ENUM, .def = "tanh", .check = is_unary_op,
      .help = "hidden-layer activation (any unary registry op)" },
    { .name = "model.activation_param", .type = NB_CONFIG_DOUBLE,
      .help = "hyper-parameter of the hidden activation (leaky_relu/elu alpha); unset: default" },
    { .name = "model.output", .type = NB_CONFIG_ENUM, .def = "identity", .check = is_unary_op,
      .help = "output activation (identity for logits)" },
    { .name = "model.bias", .type = NB_CONFIG_BOOL, .def = "true", .help = "layers have biases" },
    { .name = "model.init", .type = NB_CONFIG_ENUM, .def = "xavier_uniform", .words = nb_init_names,
      .help = "weight initialiser" },
    { .name = "model.init_low", .type = NB_CONFIG_DOUBLE, .def = "-1", .help = "uniform: lower bound" },
    { .name = "model.init_high", .type = NB_CONFIG_DOUBLE, .def = "1", .help = "uniform: upper bound" },
    { .name = "model.init_std", .type = NB_CONFIG_DOUBLE, .def = "1", .min = "0",
      .help = "normal: standard deviation" },
    { .name = "model.bias_init", .type = NB_CONFIG_ENUM, .def = "zeros", .words = bias_inits,
      .help = "zeros, or same (drawn like the weights, after each layer's weights)" },
    { .name = "model.weights", .type = NB_CONFIG_WORD_LIST,
      .help = "fixed initial values: W1 row-major (in, out), b1, W2, b2, ... (overrides init)" },

    { .name = "loss.kind", .type = NB_CONFIG_ENUM, .def = "softmax_ce", .check = is_loss,
      .help = "a two-input op of the registry's loss family (`nabla ops`), or half_sse "
              "(1/2 sum of squares per example)" },
    { .name = "loss.reduction", .type = NB_CONFIG_ENUM, .def = "mean", .words = reductions,
      .help = "mean or sum over the examples of a batch" },
    { .name = "loss.l2", .type = NB_CONFIG_DOUBLE, .def = "0", .min = "0",
      .help = "lambda of the penalty lambda/2 sum W^2 over weights (not biases)" },

    { .name = "optimizer.kind", .type = NB_CONFIG_ENUM, .def = "sgd", .check = is_optimizer,
      .help = "sgd|momentum|nesterov|adam|bfgs (GSL's vector_bfgs2, full batch)" },
    { .name = "optimizer.lr", .type = NB_CONFIG_DOUBLE, .def = "0.01", .min = "0",
      .flags = NB_CONFIG_MIN_EXCLUSIVE, .help = "learning rate" },
    { .name = "optimizer.momentum", .type = NB_CONFIG_DOUBLE, .def = "0.9", .min = "0",
      .max = "1", .flags = NB_CONFIG_MAX_EXCLUSIVE, .help = "momentum/nesterov coefficient" },
    { .name = "optimizer.beta1", .type = NB_CONFIG_DOUBLE, .def = "0.9", .min = "0", .max = "1",
      .flags = NB_CONFIG_MAX_EXCLUSIVE, .help = "adam beta1" },
    { .name = "optimizer.beta2", .type = NB_CONFIG_DOUBLE, .def = "0.999", .min = "0",
      .max = "1", .flags = NB_CONFIG_MAX_EXCLUSIVE, .help = "adam beta2" },
    { .name = "optimizer.eps", .type = NB_CONFIG_DOUBLE, .def = "1e-08", .min = "0",
      .flags = NB_CONFIG_MIN_EXCLUSIVE, .help = "adam epsilon" },
    { .name = "optimizer.weight_decay", .type = NB_CONFIG_DOUBLE, .def = "0", .min = "0",
      .help = "weight decay (adam: decoupled, AdamW)" },
    { .name = "optimizer.schedule", .type = NB_CONFIG_ENUM, .def = "constant", .check = is_schedule,
      .help = "learning-rate schedule over epochs: constant, step, exp" },
    { .name = "optimizer.gamma", .type = NB_CONFIG_DOUBLE, .def = "0.1", .min = "0",
      .flags = NB_CONFIG_MIN_EXCLUSIVE, .help = "schedule factor" },
    { .name = "optimizer.step_size", .type = NB_CONFIG_SIZE, .def = "10", .min = "1",
      .help = "step schedule: epochs between decays" },
    { .name = "optimizer.update_biases", .type = NB_CONFIG_BOOL, .def = "true",
      .help = "false: biases keep their initial values" },
    { .name = "optimizer.bfgs_tol", .type = NB_CONFIG_DOUBLE, .def = "1e-08", .min = "0",
      .flags = NB_CONFIG_MIN_EXCLUSIVE, .help = "bfgs: stop when the gradient norm is below" },

    { .name = "train.epochs", .type = NB_CONFIG_SIZE, .def = "1",
      .help = "passes over the training set (full batch: one step each; 0: evaluate only)" },
    { .name = "train.batch_size", .type = NB_CONFIG_SIZE, .def = "0",
      .help = "mini-batch size (0: full batch)" },
    { .name = "train.shuffle", .type = NB_CONFIG_BOOL, .def = "true",
      .help = "mini-batches: reshuffle the training set every epoch" },
    { .name = "train.patience", .type = NB_CONFIG_SIZE, .def = "0",
      .help = "early stopping: epochs without validation improvement (0: off)" },
    { .name = "train.checkpoint_every", .type = NB_CONFIG_SIZE, .def = "1000", .min = "1",
      .help = "checkpoint at the first epoch end after this many steps" },

    { .name = "log.every", .type = NB_CONFIG_SIZE, .def = "1", .min = "1",
      .help = "a costs.csv row every N steps (full batch) or N epochs (mini-batches)" },
    { .name = "log.metrics", .type = NB_CONFIG_WORD_LIST, .words = metrics,
      .help = "extra columns: accuracy, mae" },
    { .name = "log.gradcheck_every", .type = NB_CONFIG_SIZE, .def = "0",
      .help = "directional gradient check every N steps into gradcheck.log (0: off)" },
    { .name = "log.plot", .type = NB_CONFIG_BOOL, .def = "true",
      .help = "plot the cost curve (and a 2-D decision boundary) with gnuplot" },
};

const nb_config_key *nb_experiment_schema(size_t *n)
{
    if (n) *n = sizeof schema / sizeof schema[0];
    return schema;
}
