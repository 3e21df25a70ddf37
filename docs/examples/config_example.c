/* config_example.c — the program behind docs/config-format.md's C blocks:
 * a schema of its own ("Declaring keys"), a config file read with --set
 * style overrides and validated ("Reading a run's config").  `make check`
 * builds and runs it (tests/example_config); tests/docs.sh checks that the
 * page's blocks are excerpts of this file. */
#include <stdio.h>
#include <stdlib.h>

#include <nabla/config.h>
#include <nabla/op.h>

static const char *const optimizers[] =
    { "sgd", "momentum", "nesterov", "adam", NULL };

/* Activations are checked against the op registry, which only the caller
 * knows: return 0 to accept, nonzero (with a reason) to reject. */
static int is_activation(const char *word, void *ud, char *why, size_t len)
{
    (void)ud;
    if (nb_op_find(word) != NULL)
        return 0;
    snprintf(why, len, "'%s' is not an op of the registry", word);
    return 1;
}

static const nb_config_key schema[] = {
    { .name = "seed", .type = NB_CONFIG_SIZE, .def = "2385",
      .help = "seed of the run's random stream" },
    { .name = "data.train", .type = NB_CONFIG_STRING, .required = 1,
      .help = "training set file" },
    { .name = "model.layers", .type = NB_CONFIG_SIZE_LIST, .required = 1,
      .min = "1", .min_len = 2, .help = "layer widths, input first" },
    { .name = "model.activations", .type = NB_CONFIG_WORD_LIST,
      .def = "tanh, softmax", .check = is_activation,
      .help = "activation of each layer" },
    { .name = "optimizer.name", .type = NB_CONFIG_ENUM, .def = "sgd",
      .words = optimizers, .help = "update rule" },
    { .name = "optimizer.lr", .type = NB_CONFIG_DOUBLE, .def = "0.1",
      .min = "0", .flags = NB_CONFIG_MIN_EXCLUSIVE, .help = "learning rate" },
    { .name = "train.epochs", .type = NB_CONFIG_SIZE, .def = "10",
      .min = "1", .help = "passes over the training set" },
};

/* Reads path with the overrides, as a program built on the config module
 * would; returns the status and the learning rate through *lr. */
static int read_config(const char *path, const char *const *overrides, size_t n_overrides,
                       double *out_lr)
{
    size_t i;
    double lr = 0;
    nb_error err;   /* filled on failure only; NULL is allowed instead of &err */
    nb_config *cfg = nb_config_alloc(schema, sizeof schema / sizeof schema[0]);
    int st = cfg ? nb_config_load(cfg, path, &err) : NB_ENOMEM;
    for (i = 0; st == NB_OK && i < n_overrides; i++)
        st = nb_config_set(cfg, overrides[i], &err);
    if (st == NB_OK)
        st = nb_config_validate(cfg, &err);
    if (st == NB_OK)
        st = nb_config_get_double(cfg, "optimizer.lr", &lr);  /* NB_OK now */
    else if (st != NB_ENOMEM || cfg)
        fprintf(stderr, "%s\n", nb_error_message(&err));
    nb_config_free(cfg);
    *out_lr = lr;
    return st;
}

int main(void)
{
    char path[] = "/tmp/nabla-config-example-XXXXXX";
    FILE *f = fdopen(mkstemp(path), "w");
    if (!f) return 2;
    fputs("[data]\ntrain = moons.csv\n\n[model]\nlayers = 2, 16, 2\n"
          "activations = tanh, softmax\n\n[optimizer]\nname = momentum\n", f);
    fclose(f);

    int failures = 0;
    double lr;
    const char *good[] = { "optimizer.lr=0.05", "train.epochs = 40" };
    if (read_config(path, good, 2, &lr) != NB_OK || lr != 0.05) failures++;
    printf("lr from --set: %g\n", lr);
    const char *bad[] = { "model.activations = tanh, nosuchop" };
    if (read_config(path, bad, 1, &lr) != NB_ECONFIG) failures++;   /* message on stderr */
    remove(path);
    printf(failures ? "%d expectation(s) did not hold\n" : "all expectations hold\n", failures);
    return failures ? 1 : 0;
}
