/* test_config.c — Check suite of the config-file module (nabla/config.h).
 *
 * Fixtures live in $NB_SRCDIR/tests/data/config (NB_SRCDIR is set by the
 * Makefile to $(srcdir); "." when unset).  Files that must hold bytes a
 * source tree should not (NUL, invalid UTF-8, a 5000-byte line) are written
 * at run time into $TMPDIR.
 *
 * Expected values are those written in the fixture or the test text itself;
 * the numbers are deliberately not 0 or 1 (2.385, 0.875, -12 ...), so a value
 * taken from the wrong key or a default that wins over the file shows.
 */
#include <nabla/config.h>

#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the schema under test --------------------------------------------- */

static const char *const optimizers[] = { "sgd", "momentum", "nesterov", "adam", NULL };
static const char *const losses[] = { "mse", "cross_entropy", NULL };

/* Stands for the op registry the experiment layer checks activations
 * against. */
typedef struct known_words {
    const char *const *words;
    size_t calls;   /* counts calls, to prove the callback ran */
} known_words;

static const char *const activation_names[] = { "tanh", "sigmoid", "relu", "softmax", NULL };

static int check_activation(const char *word, void *ud, char *why, size_t len)
{
    known_words *kw = ud;
    size_t i;
    kw->calls++;
    for (i = 0; kw->words[i] != NULL; i++)
        if (strcmp(kw->words[i], word) == 0)
            return 0;
    snprintf(why, len, "'%s' is not an activation of the registry", word);
    return 1;
}

static known_words registry = { activation_names, 0 };

static const nb_config_key schema[] = {
    { .name = "seed", .type = NB_CONFIG_SIZE, .def = "2385",
      .help = "seed of the run's random stream" },
    { .name = "name", .type = NB_CONFIG_STRING, .def = "unnamed",
      .help = "name of the run" },
    { .name = "data.train", .type = NB_CONFIG_STRING, .required = 1,
      .help = "training set file" },
    { .name = "data.test", .type = NB_CONFIG_STRING,
      .help = "test set file (optional)" },
    { .name = "data.shuffle", .type = NB_CONFIG_BOOL, .def = "yes",
      .help = "shuffle the training set every epoch" },
    { .name = "model.layers", .type = NB_CONFIG_SIZE_LIST, .required = 1,
      .min = "1", .min_len = 2, .max_len = 6,
      .help = "layer widths, input first" },
    { .name = "model.activations", .type = NB_CONFIG_WORD_LIST,
      .def = "tanh, softmax", .check = check_activation, .check_ud = &registry,
      .help = "activation of each layer" },
    { .name = "model.offsets", .type = NB_CONFIG_INT_LIST, .def = "-2, 0, 3",
      .min = "-10", .max = "10", .help = "signed offsets" },
    { .name = "model.hidden", .type = NB_CONFIG_ENUM, .def = "relu",
      .check = check_activation, .check_ud = &registry,
      .help = "hidden activation, checked by the caller" },
    { .name = "loss.name", .type = NB_CONFIG_ENUM, .def = "cross_entropy",
      .words = losses, .help = "loss function" },
    { .name = "optimizer.name", .type = NB_CONFIG_ENUM, .def = "sgd",
      .words = optimizers, .help = "update rule" },
    { .name = "optimizer.lr", .type = NB_CONFIG_DOUBLE, .def = "0.1",
      .min = "0", .flags = NB_CONFIG_MIN_EXCLUSIVE, .help = "learning rate" },
    { .name = "optimizer.momentum", .type = NB_CONFIG_DOUBLE, .def = "0.9",
      .min = "0", .max = "1", .flags = NB_CONFIG_MAX_EXCLUSIVE,
      .help = "momentum coefficient" },
    { .name = "optimizer.decay", .type = NB_CONFIG_DOUBLE, .def = "-0.375",
      .help = "weight decay (any finite value)" },
    { .name = "train.epochs", .type = NB_CONFIG_SIZE, .def = "10", .min = "1",
      .max = "100000", .help = "passes over the training set" },
    { .name = "train.batch", .type = NB_CONFIG_SIZE, .def = "32", .min = "1",
      .help = "mini-batch size" },
    { .name = "train.shift", .type = NB_CONFIG_INT, .def = "-7", .min = "-100",
      .max = "100", .help = "a signed integer" },
    { .name = "train.big", .type = NB_CONFIG_INT, .def = "5",
      .help = "an unbounded signed integer" },
    { .name = "log.interval", .type = NB_CONFIG_SIZE, .def = "100", .min = "1",
      .help = "steps between log lines" },
    { .name = "log.verbose", .type = NB_CONFIG_BOOL, .def = "off",
      .help = "log every step" },
};
#define N_SCHEMA (sizeof schema / sizeof schema[0])

/* ---- helpers ----------------------------------------------------------- */

static nb_error err;
static char *const msg = err.msg;

static const char *srcdir(void)
{
    const char *d = getenv("NB_SRCDIR");
    return d != NULL && d[0] != '\0' ? d : ".";
}

static const char *fixture(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/tests/data/config/%s", srcdir(), name);
    return buf;
}

static const char *tmpdir(void)
{
    const char *d = getenv("TMPDIR");
    return d != NULL && d[0] != '\0' ? d : "/tmp";
}

/* Writes n bytes to a fresh temporary file; its path into path[len]. */
static void write_temp(const char *bytes, size_t n, char *path, size_t len)
{
    int fd;
    FILE *f;
    snprintf(path, len, "%s/nb_test_config_XXXXXX", tmpdir());
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static nb_config *fresh(void)
{
    nb_config *cfg = nb_config_alloc(schema, N_SCHEMA);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

/* A config with the two required keys, from an in-memory file "base". */
static nb_config *fresh_valid(void)
{
    nb_config *cfg = fresh();
    ck_assert_int_eq(nb_config_parse_string(cfg,
        "[data]\ntrain = t.csv\n[model]\nlayers = 2, 3\n", "base",
        &err), NB_OK);
    return cfg;
}

static double get_d(const nb_config *cfg, const char *key)
{
    double v = NAN;
    ck_assert_int_eq(nb_config_get_double(cfg, key, &v), NB_OK);
    return v;
}

static size_t get_z(const nb_config *cfg, const char *key)
{
    size_t v = 0;
    ck_assert_int_eq(nb_config_get_size(cfg, key, &v), NB_OK);
    return v;
}

static long long get_i(const nb_config *cfg, const char *key)
{
    long long v = 0;
    ck_assert_int_eq(nb_config_get_int(cfg, key, &v), NB_OK);
    return v;
}

static int get_b(const nb_config *cfg, const char *key)
{
    int v = -1;
    ck_assert_int_eq(nb_config_get_bool(cfg, key, &v), NB_OK);
    return v;
}

static const char *get_s(const nb_config *cfg, const char *key)
{
    const char *v = NULL;
    ck_assert_int_eq(nb_config_get_string(cfg, key, &v), NB_OK);
    return v;
}

static const char *origin(const nb_config *cfg, const char *key)
{
    static char buf[512];
    ck_assert_int_eq(nb_config_origin(cfg, key, buf, sizeof buf), NB_OK);
    return buf;
}

/* Message of a failing parse_string of text as file "t.conf". */
static int parse_err(const char *text)
{
    nb_config *cfg = fresh();
    int st = nb_config_parse_string(cfg, text, "t.conf", &err);
    nb_config_free(cfg);
    return st;
}

static int set_err(const char *assignment)
{
    nb_config *cfg = fresh();
    int st = nb_config_set(cfg, assignment, &err);
    nb_config_free(cfg);
    return st;
}

/* ---- schema ------------------------------------------------------------ */

START_TEST(test_schema_valid)
{
    nb_error_set(&err, NB_EIO, "stale");   /* success leaves err untouched */
    ck_assert_int_eq(nb_config_schema_check(schema, N_SCHEMA, &err), NB_OK);
    ck_assert_str_eq(msg, "stale");
    ck_assert_int_eq(err.status, NB_EIO);
    ck_assert_int_eq(nb_config_schema_check(NULL, 0, &err), NB_OK);
}
END_TEST

static const char *const no_words[] = { NULL };
static const char *const blank_word[] = { "a b", NULL };

/* Each row: a bad two-entry schema (the first entry is fine) and the message
 * nb_config_schema_check gives. */
static const struct {
    nb_config_key bad;
    const char *expect;
} bad_schemas[] = {
    { { .name = "a..b", .type = NB_CONFIG_INT },
      "schema entry 1: invalid key name 'a..b' (letters, digits, '_', '-' and '.' between parts)" },
    { { .name = "has space", .type = NB_CONFIG_INT },
      "schema entry 1: invalid key name 'has space' (letters, digits, '_', '-' and '.' between parts)" },
    { { .name = NULL, .type = NB_CONFIG_INT },
      "schema entry 1: invalid key name '(null)' (letters, digits, '_', '-' and '.' between parts)" },
    { { .name = "ok.first", .type = NB_CONFIG_INT },
      "schema entry 1: duplicate key 'ok.first' (also entry 0)" },
    { { .name = "x", .def = "3" },
      "schema entry 1 'x': unknown type 0" },
    { { .name = "x", .type = NB_CONFIG_INT, .required = 1, .def = "3" },
      "schema entry 1 'x': a required key cannot have a default" },
    { { .name = "x", .type = NB_CONFIG_SIZE, .def = "0", .min = "1" },
      "schema entry 1 'x': default: 0 is below the minimum 1" },
    { { .name = "x", .type = NB_CONFIG_DOUBLE, .def = "2.385x" },
      "schema entry 1 'x': default: '2.385x' is not a number" },
    { { .name = "x", .type = NB_CONFIG_DOUBLE, .min = "2.5", .max = "1.5" },
      "schema entry 1 'x': minimum 2.5 is above the maximum 1.5" },
    { { .name = "x", .type = NB_CONFIG_INT, .min = "one" },
      "schema entry 1 'x': minimum 'one' is not an integer" },
    { { .name = "x", .type = NB_CONFIG_STRING, .max = "3" },
      "schema entry 1 'x': bounds given for a non-numeric type" },
    { { .name = "x", .type = NB_CONFIG_INT, .flags = NB_CONFIG_MAX_EXCLUSIVE },
      "schema entry 1 'x': bad flags 0x2 (an exclusive flag needs its bound)" },
    { { .name = "x", .type = NB_CONFIG_INT, .min_len = 2 },
      "schema entry 1 'x': min_len/max_len given for a type that is not a list" },
    { { .name = "x", .type = NB_CONFIG_INT_LIST, .min_len = 3, .max_len = 2 },
      "schema entry 1 'x': min_len 3 is above max_len 2" },
    { { .name = "x", .type = NB_CONFIG_ENUM },
      "schema entry 1 'x': an enum needs words or a check function" },
    { { .name = "x", .type = NB_CONFIG_ENUM, .words = no_words },
      "schema entry 1 'x': empty word list" },
    { { .name = "x", .type = NB_CONFIG_ENUM, .words = blank_word },
      "schema entry 1 'x': word 0 'a b' is empty or holds a blank, ',', '\"' or '#'" },
    { { .name = "x", .type = NB_CONFIG_BOOL, .words = optimizers },
      "schema entry 1 'x': words/check given for a type that takes no words" },
    { { .name = "x", .type = NB_CONFIG_ENUM, .words = optimizers, .def = "adamw" },
      "schema entry 1 'x': default: 'adamw' is not one of sgd, momentum, nesterov, adam (did you mean 'adam'?)" },
    { { .name = "x", .type = NB_CONFIG_STRING, .help = "two\nlines" },
      "schema entry 1 'x': help must be one line" },
};

START_TEST(test_schema_errors)
{
    nb_config_key two[2] = {
        { .name = "ok.first", .type = NB_CONFIG_DOUBLE, .def = "2.385" },
    };
    two[1] = bad_schemas[_i].bad;
    ck_assert_int_eq(nb_config_schema_check(two, 2, &err), NB_EINVAL);
    ck_assert_str_eq(msg, bad_schemas[_i].expect);
    /* the first entry alone is fine, the pair is refused by alloc too */
    ck_assert_int_eq(nb_config_schema_check(two, 1, &err), NB_OK);
    ck_assert_ptr_null(nb_config_alloc(two, 2));
}
END_TEST

START_TEST(test_alloc_free)
{
    nb_config_free(NULL);
    ck_assert_ptr_null(nb_config_alloc(NULL, 3));
    nb_config *empty = nb_config_alloc(NULL, 0);
    ck_assert_ptr_nonnull(empty);
    ck_assert_int_eq(nb_config_parse_string(empty, "# nothing\n", NULL, &err), NB_OK);
    ck_assert_int_eq(nb_config_parse_string(empty, "a = 1\n", NULL, &err), NB_ECONFIG);
    ck_assert_str_eq(msg, "<string>:1: unknown key 'a'");
    nb_config_free(empty);
}
END_TEST

/* ---- defaults, files, precedence ---------------------------------------- */

START_TEST(test_defaults)
{
    nb_config *cfg = fresh();
    const size_t *layers;
    const long long *offs;
    const char *const *words;
    size_t n = 99, idx = 99;
    const char *s;

    ck_assert_uint_eq(get_z(cfg, "seed"), 2385);
    ck_assert_str_eq(get_s(cfg, "name"), "unnamed");
    ck_assert_int_eq(get_b(cfg, "data.shuffle"), 1);
    ck_assert_int_eq(get_b(cfg, "log.verbose"), 0);
    ck_assert(get_d(cfg, "optimizer.lr") == 0.1);
    ck_assert(get_d(cfg, "optimizer.decay") == -0.375);
    ck_assert_int_eq(get_i(cfg, "train.shift"), -7);
    ck_assert_int_eq(nb_config_get_enum(cfg, "optimizer.name", &idx), NB_OK);
    ck_assert_uint_eq(idx, 0);
    ck_assert_int_eq(nb_config_get_enum(cfg, "loss.name", &idx), NB_OK);
    ck_assert_uint_eq(idx, 1);
    ck_assert_int_eq(nb_config_get_int_list(cfg, "model.offsets", &offs, &n), NB_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(offs[0], -2);
    ck_assert_int_eq(offs[1], 0);
    ck_assert_int_eq(offs[2], 3);
    ck_assert_int_eq(nb_config_get_word_list(cfg, "model.activations", &words, &n), NB_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(words[0], "tanh");
    ck_assert_str_eq(words[1], "softmax");
    ck_assert_str_eq(origin(cfg, "optimizer.lr"), "default");

    /* required and optional keys without a default are unset */
    ck_assert_int_eq(nb_config_is_set(cfg, "data.train"), 0);
    ck_assert_int_eq(nb_config_is_set(cfg, "data.test"), 0);
    ck_assert_int_eq(nb_config_is_set(cfg, "seed"), 1);
    ck_assert_str_eq(origin(cfg, "data.test"), "unset");
    s = "untouched";
    ck_assert_int_eq(nb_config_get_string(cfg, "data.test", &s), NB_ECONFIG);
    ck_assert_str_eq(s, "untouched");
    layers = NULL;
    ck_assert_int_eq(nb_config_get_size_list(cfg, "model.layers", &layers, &n), NB_ECONFIG);
    ck_assert_ptr_null(layers);

    ck_assert_int_eq(nb_config_validate(cfg, &err), NB_ECONFIG);
    ck_assert_str_eq(msg, "missing required key 'data.train' (training set file) and 1 more; "
                     "set it in the config file or with --set data.train=VALUE");
    nb_config_free(cfg);
}
END_TEST

START_TEST(test_load_fixture)
{
    char path[1024], where[1100];
    nb_config *cfg = fresh();
    const size_t *layers;
    const long long *offs;
    const char *const *acts;
    size_t n, idx;

    fixture("moons.conf", path, sizeof path);
    nb_error_set(&err, NB_EIO, "stale");   /* success leaves err untouched */
    ck_assert_int_eq(nb_config_load(cfg, path, &err), NB_OK);
    ck_assert_str_eq(msg, "stale");
    ck_assert_int_eq(err.status, NB_EIO);
    ck_assert_int_eq(nb_config_validate(cfg, &err), NB_OK);

    ck_assert_uint_eq(get_z(cfg, "seed"), 2385);
    ck_assert_str_eq(get_s(cfg, "name"), "moons \"small\" run # 1");
    ck_assert_str_eq(get_s(cfg, "data.train"), "data/moons-train.csv");
    ck_assert_int_eq(get_b(cfg, "data.shuffle"), 0);
    ck_assert_int_eq(nb_config_get_size_list(cfg, "model.layers", &layers, &n), NB_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(layers[0], 2);
    ck_assert_uint_eq(layers[1], 16);
    ck_assert_uint_eq(layers[2], 16);
    ck_assert_uint_eq(layers[3], 2);
    ck_assert_int_eq(nb_config_get_word_list(cfg, "model.activations", &acts, &n), NB_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(acts[0], "tanh");
    ck_assert_str_eq(acts[1], "tanh");
    ck_assert_str_eq(acts[2], "softmax");
    ck_assert_int_eq(nb_config_get_int_list(cfg, "model.offsets", &offs, &n), NB_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(offs[0], -3);
    ck_assert_int_eq(offs[1], 4);
    ck_assert_str_eq(get_s(cfg, "model.hidden"), "sigmoid");
    ck_assert_int_eq(nb_config_get_enum(cfg, "optimizer.name", &idx), NB_OK);
    ck_assert_uint_eq(idx, 1);
    ck_assert_str_eq(get_s(cfg, "optimizer.name"), "momentum");
    ck_assert(get_d(cfg, "optimizer.lr") == 2.385e-2);
    ck_assert(get_d(cfg, "optimizer.momentum") == 0.875);
    ck_assert_uint_eq(get_z(cfg, "train.epochs"), 40);
    ck_assert_int_eq(get_i(cfg, "train.shift"), -12);
    ck_assert_uint_eq(get_z(cfg, "log.interval"), 25);
    ck_assert_int_eq(get_b(cfg, "log.verbose"), 1);
    /* not in the file: defaults */
    ck_assert_uint_eq(get_z(cfg, "train.batch"), 32);
    ck_assert_str_eq(origin(cfg, "train.batch"), "default");

    snprintf(where, sizeof where, "%s:19", path);
    ck_assert_str_eq(origin(cfg, "optimizer.lr"), where);
    snprintf(where, sizeof where, "%s:4", path);
    ck_assert_str_eq(origin(cfg, "seed"), where);
    snprintf(where, sizeof where, "%s:15", path);
    ck_assert_str_eq(origin(cfg, "model.hidden"), where);
    nb_config_free(cfg);
}
END_TEST

START_TEST(test_precedence)
{
    char path[1024], over[1024], where[1100];
    nb_config *cfg = fresh();

    /* default < file */
    ck_assert_uint_eq(get_z(cfg, "train.epochs"), 10);
    ck_assert_int_eq(nb_config_load(cfg, fixture("moons.conf", path, sizeof path),
                                    &err), NB_OK);
    ck_assert_uint_eq(get_z(cfg, "train.epochs"), 40);
    /* file < --set, and a later --set wins over an earlier one */
    ck_assert_int_eq(nb_config_set(cfg, "train.epochs=55", &err), NB_OK);
    ck_assert_uint_eq(get_z(cfg, "train.epochs"), 55);
    ck_assert_str_eq(origin(cfg, "train.epochs"), "--set");
    ck_assert_int_eq(nb_config_set(cfg, "  train.epochs =  66 ", &err), NB_OK);
    ck_assert_uint_eq(get_z(cfg, "train.epochs"), 66);
    ck_assert_int_eq(nb_config_set(cfg, "optimizer.lr=2.385", &err), NB_OK);
    ck_assert(get_d(cfg, "optimizer.lr") == 2.385);
    /* a later file overrides an earlier file and an earlier --set */
    ck_assert_int_eq(nb_config_load(cfg, fixture("override.conf", over, sizeof over),
                                    &err), NB_OK);
    ck_assert_uint_eq(get_z(cfg, "train.epochs"), 77);
    ck_assert(get_d(cfg, "optimizer.lr") == 0.0625);
    snprintf(where, sizeof where, "%s:5", over);
    ck_assert_str_eq(origin(cfg, "train.epochs"), where);
    /* keys the second file does not name keep their first-file origin */
    snprintf(where, sizeof where, "%s:20", path);
    ck_assert_str_eq(origin(cfg, "optimizer.momentum"), where);
    ck_assert(get_d(cfg, "optimizer.momentum") == 0.875);
    nb_config_free(cfg);
}
END_TEST

START_TEST(test_required)
{
    char path[1024];
    nb_config *cfg = fresh();
    ck_assert_int_eq(nb_config_load(cfg, fixture("required.conf", path, sizeof path),
                                    &err), NB_OK);
    ck_assert_uint_eq(get_z(cfg, "seed"), 7);
    ck_assert_int_eq(nb_config_validate(cfg, &err), NB_ECONFIG);
    ck_assert_ptr_nonnull(strstr(msg, ": missing required key 'data.train' (training set file) "
                                 "and 1 more; set it in the config file or with --set "
                                 "data.train=VALUE"));
    ck_assert_ptr_nonnull(strstr(msg, "required.conf"));
    ck_assert_int_eq(nb_config_set(cfg, "data.train=moons.csv", &err), NB_OK);
    ck_assert_int_eq(nb_config_validate(cfg, &err), NB_ECONFIG);
    ck_assert_ptr_nonnull(strstr(msg, "missing required key 'model.layers' (layer widths, "
                                 "input first); set it"));
    ck_assert_ptr_null(strstr(msg, "more"));
    ck_assert_int_eq(nb_config_set(cfg, "model.layers=2,8,2", &err), NB_OK);
    nb_error_set(&err, NB_EIO, "stale");   /* success leaves err untouched */
    ck_assert_int_eq(nb_config_validate(cfg, &err), NB_OK);
    ck_assert_str_eq(msg, "stale");
    ck_assert_int_eq(err.status, NB_EIO);
    nb_config_free(cfg);
}
END_TEST

/* ---- syntax ------------------------------------------------------------ */

START_TEST(test_syntax)
{
    nb_config *cfg = fresh();
    const size_t *layers;
    size_t n;
    const char *text =
        "\xEF\xBB\xBF# a byte order mark starts this text\r\n"
        "   ; indented comment\r\n"
        "\t\r\n"
        "name=\"  spaces kept  \"\r\n"
        "[ data ]   # section with blanks inside the brackets\r\n"
        "train =\t\"a\\\\b \\\"c\\\" # d\"   # comment after a quoted value\r\n"
        "test = plain value with inner  blanks   \r\n"
        "[model]\r\n"
        "layers=3,4 , 5\r\n"
        "[train]\r\n"
        "batch = 24 #comment\r\n"
        "shift = -5#not a comment: no blank before '#'";
    ck_assert_int_eq(nb_config_parse_string(cfg, "shift = 3\n", NULL, &err),
                     NB_ECONFIG); /* a key before any section has no prefix */
    ck_assert_str_eq(msg, "<string>:1: unknown key 'shift' (did you mean 'train.shift'?)");
    ck_assert_int_eq(nb_config_parse_string(cfg, text, "s.conf", &err),
                     NB_ECONFIG);
    ck_assert_str_eq(msg, "s.conf:12: key 'train.shift': '-5#not a comment: no blank before "
                     "'#'' is not an integer");
    /* the same text without its last line */
    {
        char buf[1024];
        const char *last = strstr(text, "shift = -5#");
        memcpy(buf, text, (size_t)(last - text));
        buf[last - text] = '\0';
        ck_assert_int_eq(nb_config_parse_string(cfg, buf, "s.conf", &err), NB_OK);
    }
    ck_assert_str_eq(get_s(cfg, "name"), "  spaces kept  ");
    ck_assert_str_eq(get_s(cfg, "data.train"), "a\\b \"c\" # d");
    ck_assert_str_eq(get_s(cfg, "data.test"), "plain value with inner  blanks");
    ck_assert_int_eq(nb_config_get_size_list(cfg, "model.layers", &layers, &n), NB_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(layers[0], 3);
    ck_assert_uint_eq(layers[1], 4);
    ck_assert_uint_eq(layers[2], 5);
    ck_assert_uint_eq(get_z(cfg, "train.batch"), 24);
    ck_assert_str_eq(origin(cfg, "train.batch"), "s.conf:11");

    /* "#" right after '=' and blanks is a comment: an empty string value */
    ck_assert_int_eq(nb_config_parse_string(cfg, "[data]\ntest = # nothing\n", NULL,
                                            &err), NB_OK);
    ck_assert_str_eq(get_s(cfg, "data.test"), "");
    /* an empty quoted string; a ';' inside a value is not a comment */
    ck_assert_int_eq(nb_config_parse_string(cfg, "name = \"\"\n[data]\ntest = a;b ; c\n",
                                            NULL, &err), NB_OK);
    ck_assert_str_eq(get_s(cfg, "name"), "");
    ck_assert_str_eq(get_s(cfg, "data.test"), "a;b ; c");
    /* an error on a later line: the earlier lines are not applied either */
    ck_assert_int_eq(nb_config_parse_string(cfg, "[optimizer]\nlr = 0.25\n[model]\n"
                                            "[]\n", NULL, &err), NB_ECONFIG);
    ck_assert_str_eq(msg, "<string>:4: empty section name");
    ck_assert(get_d(cfg, "optimizer.lr") == 0.1);
    /* a dotted key after a section header gets the section prefix too */
    ck_assert_int_eq(nb_config_parse_string(cfg, "[train]\nx.y = 1\n", NULL, &err),
                     NB_ECONFIG);
    ck_assert_str_eq(msg, "<string>:2: unknown key 'train.x.y'");
    nb_config_free(cfg);
}
END_TEST

START_TEST(test_dotted_names)
{
    static const nb_config_key dotted[] = {
        { .name = "a.b.c", .type = NB_CONFIG_DOUBLE, .def = "2.385" },
        { .name = "top", .type = NB_CONFIG_INT, .def = "-4" },
    };
    nb_config *cfg = nb_config_alloc(dotted, 2);
    double v = 0;
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(nb_config_parse_string(cfg, "[a]\nb.c = 4.5\n", NULL, &err),
                     NB_OK);
    ck_assert_int_eq(nb_config_get_double(cfg, "a.b.c", &v), NB_OK);
    ck_assert(v == 4.5);
    ck_assert_int_eq(nb_config_parse_string(cfg, "[a.b]\nc = 5.25\n", NULL, &err),
                     NB_OK);
    ck_assert_int_eq(nb_config_get_double(cfg, "a.b.c", &v), NB_OK);
    ck_assert(v == 5.25);
    nb_config_free(cfg);
}
END_TEST

/* ---- errors, one per row: text parsed as "t.conf", expected message ------ */

static const struct {
    const char *text;
    const char *expect;
} file_errors[] = {
    /* the examples of the brief */
    { "[data]\ntrain = x\n\n\n\n\n\n\n\n\n[optimizer]\nlr = 0.1x\n",
      "t.conf:12: key 'optimizer.lr': '0.1x' is not a number" },
    { "\n\n\n\n[optimizer]\n\noptimiser.lr = 2\n",
      "t.conf:7: unknown key 'optimizer.optimiser.lr' (did you mean 'optimizer.lr'?)" },
    { "\n\n\n\n\n\noptimiser.lr = 2\n",
      "t.conf:7: unknown key 'optimiser.lr' (did you mean 'optimizer.lr'?)" },
    /* did-you-mean: a transposition, a wrong section, a near section */
    { "[train]\nepcohs = 3\n",
      "t.conf:2: unknown key 'train.epcohs' (did you mean 'train.epochs'?)" },
    { "[train]\nlr = 0.5\n",
      "t.conf:2: unknown key 'train.lr' (did you mean 'optimizer.lr'?)" },
    { "[optimizr]\nmomentum = 0.5\n",
      "t.conf:2: unknown key 'optimizr.momentum' (did you mean 'optimizer.momentum'?)" },
    { "[zzz]\nqqq = 1\n", "t.conf:2: unknown key 'zzz.qqq'" },
    /* numbers */
    { "[train]\nepochs = 3.5\n", "t.conf:2: key 'train.epochs': '3.5' is not a non-negative integer" },
    { "[train]\nepochs = 1e3\n", "t.conf:2: key 'train.epochs': '1e3' is not a non-negative integer" },
    { "[train]\nepochs = 0x10\n", "t.conf:2: key 'train.epochs': '0x10' is not a non-negative integer" },
    { "[train]\nepochs =\n", "t.conf:2: key 'train.epochs': empty value (expected a non-negative integer)" },
    { "[train]\nepochs = 0\n", "t.conf:2: key 'train.epochs': 0 is below the minimum 1" },
    { "[train]\nepochs = -3\n", "t.conf:2: key 'train.epochs': -3 is below the minimum 1" },
    { "[train]\nepochs = 100001\n", "t.conf:2: key 'train.epochs': 100001 is above the maximum 100000" },
    { "[train]\nepochs = 99999999999999999999999\n",
      "t.conf:2: key 'train.epochs': '99999999999999999999999' is out of range for a size" },
    { "[train]\nshift = 2.385\n", "t.conf:2: key 'train.shift': '2.385' is not an integer" },
    { "[train]\nshift = - 4\n", "t.conf:2: key 'train.shift': '- 4' is not an integer" },
    { "[train]\nshift = -101\n", "t.conf:2: key 'train.shift': -101 is below the minimum -100" },
    { "[train]\nbig = 9223372036854775808\n",
      "t.conf:2: key 'train.big': '9223372036854775808' is out of range for a 64-bit integer" },
    { "[optimizer]\nlr = 0\n", "t.conf:2: key 'optimizer.lr': 0 must be greater than 0" },
    { "[optimizer]\nlr = -2.385\n", "t.conf:2: key 'optimizer.lr': -2.385 must be greater than 0" },
    { "[optimizer]\nmomentum = 1.0\n", "t.conf:2: key 'optimizer.momentum': 1.0 must be less than 1" },
    { "[optimizer]\nmomentum = -0.125\n", "t.conf:2: key 'optimizer.momentum': -0.125 is below the minimum 0" },
    { "[optimizer]\ndecay = inf\n", "t.conf:2: key 'optimizer.decay': 'inf' is not a number" },
    { "[optimizer]\ndecay = nan\n", "t.conf:2: key 'optimizer.decay': 'nan' is not a number" },
    { "[optimizer]\ndecay = 0x1p3\n", "t.conf:2: key 'optimizer.decay': '0x1p3' is not a number" },
    { "[optimizer]\ndecay = 1e\n", "t.conf:2: key 'optimizer.decay': '1e' is not a number" },
    { "[optimizer]\ndecay = 2,385\n", "t.conf:2: key 'optimizer.decay': '2,385' is not a number" },
    { "[optimizer]\ndecay = 1e999\n",
      "t.conf:2: key 'optimizer.decay': '1e999' is out of range for a finite double" },
    /* booleans and enums */
    { "[log]\nverbose = maybe\n",
      "t.conf:2: key 'log.verbose': 'maybe' is not a boolean (use true/false, yes/no, on/off or 1/0)" },
    { "[optimizer]\nname = adamm\n",
      "t.conf:2: key 'optimizer.name': 'adamm' is not one of sgd, momentum, nesterov, adam (did you mean 'adam'?)" },
    { "[optimizer]\nname = Adam\n",
      "t.conf:2: key 'optimizer.name': 'Adam' is not one of sgd, momentum, nesterov, adam (did you mean 'adam'?)" },
    { "[optimizer]\nname = lbfgs\n",
      "t.conf:2: key 'optimizer.name': 'lbfgs' is not one of sgd, momentum, nesterov, adam" },
    { "[optimizer]\nname =\n", "t.conf:2: key 'optimizer.name': empty value (expected a word)" },
    { "[model]\nhidden = relu6\n",
      "t.conf:2: key 'model.hidden': 'relu6' is not an activation of the registry" },
    /* lists */
    { "[model]\nlayers = 2\n", "t.conf:2: key 'model.layers': has 1 element, at least 2 needed" },
    { "[model]\nlayers =\n", "t.conf:2: key 'model.layers': has 0 elements, at least 2 needed" },
    { "[model]\nlayers = 1,2,3,4,5,6,7\n", "t.conf:2: key 'model.layers': has 7 elements, at most 6 allowed" },
    { "[model]\nlayers = 2,,3\n", "t.conf:2: key 'model.layers': element 2 is empty" },
    { "[model]\nlayers = 2, 3,\n", "t.conf:2: key 'model.layers': element 3 is empty" },
    { "[model]\nlayers = 2, 0\n", "t.conf:2: key 'model.layers': element 2: 0 is below the minimum 1" },
    { "[model]\nlayers = 2, -4\n", "t.conf:2: key 'model.layers': element 2: -4 is below the minimum 1" },
    { "[model]\nlayers = 2, 3x\n", "t.conf:2: key 'model.layers': element 2: '3x' is not a non-negative integer" },
    { "[model]\nlayers = 2 3\n",
      "t.conf:2: key 'model.layers': element 1 '2 3' contains a blank (separate elements with ',')" },
    { "[model]\noffsets = 4, 11\n", "t.conf:2: key 'model.offsets': element 2: 11 is above the maximum 10" },
    { "[model]\nactivations = tanh, sofmax\n",
      "t.conf:2: key 'model.activations': element 2: 'sofmax' is not an activation of the registry" },
    /* syntax */
    { "[data]\ntrain = a\ntest = b\n\ntrain = c\n",
      "t.conf:5: duplicate key 'data.train' (first set at line 2)" },
    { "[data\ntrain = a\n", "t.conf:1: malformed section header: missing ']'" },
    { "[]\n", "t.conf:1: empty section name" },
    { "[  ]\n", "t.conf:1: empty section name" },
    { "[da ta]\n",
      "t.conf:1: invalid section name 'da ta' (letters, digits, '_', '-' and '.' between parts)" },
    { "[.data]\n",
      "t.conf:1: invalid section name '.data' (letters, digits, '_', '-' and '.' between parts)" },
    { "[data] extra\n", "t.conf:1: unexpected text 'extra' after section header" },
    { "[data]\njust some words\n",
      "t.conf:2: expected 'key = value', '[section]' or a comment, not 'just some words'" },
    { "= 3\n", "t.conf:1: missing key name before '='" },
    { "bad key = 3\n",
      "t.conf:1: invalid key name 'bad key' (letters, digits, '_', '-' and '.' between parts)" },
    { "name = \"abc\n", "t.conf:1: key 'name': unterminated quoted string (missing '\"')" },
    { "name = \"abc\\\"\n", "t.conf:1: key 'name': unterminated quoted string (missing '\"')" },
    { "name = \"abc\\\n", "t.conf:1: key 'name': unterminated quoted string (missing '\"')" },
    { "name = \"a\\nb\"\n",
      "t.conf:1: key 'name': unknown escape '\\n' in quoted string (only \\\" and \\\\ are allowed)" },
    { "name = \"abc\" def\n", "t.conf:1: key 'name': unexpected text after the closing quote" },
    /* bytes */
    { "name = a\x01" "b\n", "t.conf:1: control character 0x01 at column 9" },
    { "# ok\nname = caf\xC3\n", "t.conf:2: invalid UTF-8 at column 11" },
    { "name = \xC0\xAF\n", "t.conf:1: invalid UTF-8 at column 8" },          /* overlong '/' */
    { "name = \xED\xA0\x80\n", "t.conf:1: invalid UTF-8 at column 8" },      /* surrogate */
    { "name = \xF4\x90\x80\x80\n", "t.conf:1: invalid UTF-8 at column 8" },  /* > U+10FFFF */
};

START_TEST(test_file_errors)
{
    ck_assert_int_eq(parse_err(file_errors[_i].text), NB_ECONFIG);
    ck_assert_str_eq(msg, file_errors[_i].expect);
}
END_TEST

START_TEST(test_error_changes_nothing)
{
    nb_config *cfg = fresh_valid();
    char before[64];
    ck_assert_int_eq(nb_config_parse_string(cfg,
        "[train]\nepochs = 12\nbatch = 16\n[optimizer]\nlr = 0.1x\n", "t.conf",
        &err), NB_ECONFIG);
    ck_assert_str_eq(msg, "t.conf:5: key 'optimizer.lr': '0.1x' is not a number");
    ck_assert_uint_eq(get_z(cfg, "train.epochs"), 10);
    ck_assert_uint_eq(get_z(cfg, "train.batch"), 32);
    ck_assert_str_eq(origin(cfg, "train.batch"), "default");
    ck_assert_str_eq(origin(cfg, "data.train"), "base:2");
    ck_assert_int_eq(nb_config_set(cfg, "train.epochs=-3", &err), NB_ECONFIG);
    ck_assert_uint_eq(get_z(cfg, "train.epochs"), 10);
    /* a good file after a bad one: origins name the right file */
    ck_assert_int_eq(nb_config_parse_string(cfg, "[train]\n\nbatch = 48\n", "good.conf",
                                            &err), NB_OK);
    ck_assert_str_eq(origin(cfg, "train.batch"), "good.conf:3");
    strcpy(before, origin(cfg, "data.train"));
    ck_assert_str_eq(before, "base:2");
    nb_config_free(cfg);
}
END_TEST

START_TEST(test_duplicate_fixture)
{
    char path[1024];
    nb_config *cfg = fresh();
    ck_assert_int_eq(nb_config_load(cfg, fixture("duplicate.conf", path, sizeof path),
                                    &err), NB_ECONFIG);
    ck_assert_ptr_nonnull(strstr(msg, "duplicate.conf:7: duplicate key 'train.epochs' "
                                 "(first set at line 5)"));
    ck_assert_uint_eq(get_z(cfg, "train.batch"), 32);   /* nothing applied */
    nb_config_free(cfg);
}
END_TEST

START_TEST(test_typo_fixture)
{
    char path[1024], expect[1200];
    nb_config *cfg = fresh();
    fixture("typo.conf", path, sizeof path);
    ck_assert_int_eq(nb_config_load(cfg, path, &err), NB_ECONFIG);
    snprintf(expect, sizeof expect, "%s:7: unknown key 'optimizer.optimiser.lr' "
             "(did you mean 'optimizer.lr'?)", path);
    ck_assert_str_eq(msg, expect);
    nb_config_free(cfg);
}
END_TEST

/* ---- overrides ---------------------------------------------------------- */

static const struct {
    const char *arg;
    const char *expect;
} set_errors[] = {
    { "train.epochs=-3", "--set: key 'train.epochs': -3 is below the minimum 1" },
    { "train.epochs", "--set: 'train.epochs' has no '=' (expected --set key=value)" },
    { "", "--set: '' has no '=' (expected --set key=value)" },
    { "=5", "--set: missing key name before '='" },
    { "  = 5", "--set: missing key name before '='" },
    { "train.epoch=5", "--set: unknown key 'train.epoch' (did you mean 'train.epochs'?)" },
    { "epochs=5", "--set: unknown key 'epochs' (did you mean 'train.epochs'?)" },
    { "nothing.like.it=5", "--set: unknown key 'nothing.like.it'" },
    { "optimizer.lr=0.1x", "--set: key 'optimizer.lr': '0.1x' is not a number" },
    { "optimizer.lr=0.1 # comment", "--set: key 'optimizer.lr': '0.1 # comment' is not a number" },
    { "optimizer.name=adma", "--set: key 'optimizer.name': 'adma' is not one of sgd, momentum, "
      "nesterov, adam (did you mean 'adam'?)" },
    { "name=\"abc", "--set: key 'name': unterminated quoted string (missing '\"')" },
    { "name=\"abc\"x", "--set: key 'name': unexpected text after the closing quote" },
    { "name=a\tb\x7f", "--set: control character 0x7f at column 9" },
    { "name=\xff", "--set: invalid UTF-8 at column 6" },
};

START_TEST(test_set_errors)
{
    ck_assert_int_eq(set_err(set_errors[_i].arg), NB_ECONFIG);
    ck_assert_str_eq(msg, set_errors[_i].expect);
}
END_TEST

START_TEST(test_set_values)
{
    nb_config *cfg = fresh();
    char *longarg;
    size_t n;
    const char *const *w;
    ck_assert_int_eq(nb_config_set(cfg, "name = \" quoted # kept \" ", &err), NB_OK);
    ck_assert_str_eq(get_s(cfg, "name"), " quoted # kept ");
    ck_assert_int_eq(nb_config_set(cfg, "data.test=a = b # c", &err), NB_OK);
    ck_assert_str_eq(get_s(cfg, "data.test"), "a = b # c");
    ck_assert_int_eq(nb_config_set(cfg, "model.activations=relu,sigmoid , tanh", &err), NB_OK);
    ck_assert_int_eq(nb_config_get_word_list(cfg, "model.activations", &w, &n), NB_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(w[0], "relu");
    ck_assert_str_eq(w[1], "sigmoid");
    ck_assert_str_eq(w[2], "tanh");
    /* an argument at the length limit is read; one byte more is refused */
    longarg = malloc(NB_CONFIG_MAX_LINE + 2);
    ck_assert_ptr_nonnull(longarg);
    memcpy(longarg, "name=", 5);
    memset(longarg + 5, 'x', NB_CONFIG_MAX_LINE - 5);
    longarg[NB_CONFIG_MAX_LINE] = '\0';
    ck_assert_int_eq(nb_config_set(cfg, longarg, &err), NB_OK);
    ck_assert_uint_eq(strlen(get_s(cfg, "name")), NB_CONFIG_MAX_LINE - 5);
    longarg[NB_CONFIG_MAX_LINE] = 'x';
    longarg[NB_CONFIG_MAX_LINE + 1] = '\0';
    ck_assert_int_eq(nb_config_set(cfg, longarg, &err), NB_ECONFIG);
    ck_assert_str_eq(msg, "--set: argument longer than 4096 bytes");
    free(longarg);
    ck_assert_int_eq(nb_config_set(NULL, "a=1", &err), NB_EINVAL);
    ck_assert_int_eq(nb_config_set(cfg, NULL, &err), NB_EINVAL);
    /* err may be NULL */
    ck_assert_int_eq(nb_config_set(cfg, "train.epochs=0", NULL), NB_ECONFIG);
    nb_config_free(cfg);
}
END_TEST

/* ---- types ------------------------------------------------------------- */

START_TEST(test_booleans)
{
    static const struct { const char *text; int value; } rows[] = {
        { "true", 1 }, { "TRUE", 1 }, { "yes", 1 }, { "Yes", 1 }, { "on", 1 }, { "1", 1 },
        { "false", 0 }, { "False", 0 }, { "no", 0 }, { "NO", 0 }, { "off", 0 }, { "0", 0 },
    };
    nb_config *cfg = fresh();
    char arg[64];
    size_t i;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        /* set the opposite first so a stale value cannot pass */
        ck_assert_int_eq(nb_config_set(cfg, rows[i].value ? "log.verbose=no" : "log.verbose=yes",
                                       &err), NB_OK);
        snprintf(arg, sizeof arg, "log.verbose=%s", rows[i].text);
        ck_assert_int_eq(nb_config_set(cfg, arg, &err), NB_OK);
        ck_assert_int_eq(get_b(cfg, "log.verbose"), rows[i].value);
    }
    ck_assert_int_eq(nb_config_set(cfg, "log.verbose=2", &err), NB_ECONFIG);
    ck_assert_int_eq(nb_config_set(cfg, "log.verbose=yess", &err), NB_ECONFIG);
    ck_assert_int_eq(nb_config_set(cfg, "log.verbose=", &err), NB_ECONFIG);
    nb_config_free(cfg);
}
END_TEST

START_TEST(test_numbers)
{
    static const struct { const char *text; double value; } doubles[] = {
        { "2.385", 2.385 }, { "-2.385", -2.385 }, { "+2.385", 2.385 }, { ".5", 0.5 },
        { "5.", 5.0 }, { "2385e-3", 2.385 }, { "2.385E+2", 238.5 }, { "007.25", 7.25 },
        { "1.7976931348623157e308", 1.7976931348623157e308 }, { "4.9406564584124654e-324", 4.9406564584124654e-324 },
    };
    nb_config *cfg = fresh();
    char arg[128];
    size_t i;
    for (i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
        snprintf(arg, sizeof arg, "optimizer.decay=%s", doubles[i].text);
        ck_assert_int_eq(nb_config_set(cfg, arg, &err), NB_OK);
        ck_assert(get_d(cfg, "optimizer.decay") == doubles[i].value);
    }
    /* -0 keeps its sign */
    ck_assert_int_eq(nb_config_set(cfg, "optimizer.decay=-0.0", &err), NB_OK);
    ck_assert(signbit(get_d(cfg, "optimizer.decay")));
    /* the extremes of long long and size_t */
    ck_assert_int_eq(nb_config_set(cfg, "train.big=-9223372036854775808", &err), NB_OK);
    ck_assert(get_i(cfg, "train.big") == LLONG_MIN);
    ck_assert_int_eq(nb_config_set(cfg, "train.big=+9223372036854775807", &err), NB_OK);
    ck_assert(get_i(cfg, "train.big") == LLONG_MAX);
    snprintf(arg, sizeof arg, "train.batch=%zu", (size_t)SIZE_MAX);
    ck_assert_int_eq(nb_config_set(cfg, arg, &err), NB_OK);
    ck_assert(get_z(cfg, "train.batch") == SIZE_MAX);
    /* bounds are inclusive unless flagged exclusive */
    ck_assert_int_eq(nb_config_set(cfg, "train.epochs=1", &err), NB_OK);
    ck_assert_int_eq(nb_config_set(cfg, "train.epochs=100000", &err), NB_OK);
    ck_assert_int_eq(nb_config_set(cfg, "optimizer.momentum=0", &err), NB_OK);
    ck_assert_int_eq(nb_config_set(cfg, "optimizer.momentum=0.99999", &err), NB_OK);
    ck_assert_int_eq(nb_config_set(cfg, "train.shift=-100", &err), NB_OK);
    ck_assert_int_eq(get_i(cfg, "train.shift"), -100);
    ck_assert_int_eq(nb_config_set(cfg, "train.shift=100", &err), NB_OK);
    ck_assert_int_eq(nb_config_set(cfg, "train.shift=101", &err), NB_ECONFIG);
    ck_assert_str_eq(msg, "--set: key 'train.shift': 101 is above the maximum 100");
    nb_config_free(cfg);
}
END_TEST

START_TEST(test_lists)
{
    nb_config *cfg = fresh();
    const long long *v;
    const size_t *z;
    const char *const *w;
    size_t n = 99;
    /* an empty int list is allowed (min_len 0) and has no storage */
    ck_assert_int_eq(nb_config_set(cfg, "model.offsets=", &err), NB_OK);
    ck_assert_int_eq(nb_config_get_int_list(cfg, "model.offsets", &v, &n), NB_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(v);
    ck_assert_int_eq(nb_config_set(cfg, "model.offsets=-10,10,+7", &err), NB_OK);
    ck_assert_int_eq(nb_config_get_int_list(cfg, "model.offsets", &v, &n), NB_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(v[0], -10);
    ck_assert_int_eq(v[1], 10);
    ck_assert_int_eq(v[2], 7);
    ck_assert_int_eq(nb_config_parse_string(cfg, "[model]\nlayers = \"784, 30, 10\"\n", NULL,
                                            &err), NB_OK);
    ck_assert_int_eq(nb_config_get_size_list(cfg, "model.layers", &z, &n), NB_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(z[0], 784);
    ck_assert_uint_eq(z[1], 30);
    ck_assert_uint_eq(z[2], 10);
    ck_assert_int_eq(nb_config_set(cfg, "model.activations=softmax", &err), NB_OK);
    ck_assert_int_eq(nb_config_get_word_list(cfg, "model.activations", &w, &n), NB_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(w[0], "softmax");
    nb_config_free(cfg);
}
END_TEST

START_TEST(test_callback)
{
    nb_config *cfg = fresh();
    size_t calls = registry.calls, idx = 42;
    ck_assert_int_eq(nb_config_set(cfg, "model.hidden=sigmoid", &err), NB_OK);
    ck_assert_uint_gt(registry.calls, calls);
    ck_assert_str_eq(get_s(cfg, "model.hidden"), "sigmoid");
    /* an enum checked by a callback only has no index */
    ck_assert_int_eq(nb_config_get_enum(cfg, "model.hidden", &idx), NB_EINVAL);
    ck_assert_uint_eq(idx, 42);
    ck_assert_int_eq(nb_config_set(cfg, "model.hidden=swish", &err), NB_ECONFIG);
    ck_assert_str_eq(msg, "--set: key 'model.hidden': 'swish' is not an activation of the registry");
    ck_assert_str_eq(get_s(cfg, "model.hidden"), "sigmoid");
    nb_config_free(cfg);
}
END_TEST

/* A callback that rejects without a reason, and words plus a callback. */
static int reject_b(const char *word, void *ud, char *why, size_t len)
{
    (void)ud; (void)why; (void)len;
    return word[0] == 'b';
}

START_TEST(test_callback_with_words)
{
    static const char *const abc[] = { "alpha", "beta", "gamma", NULL };
    static const nb_config_key k[] = {
        { .name = "w", .type = NB_CONFIG_ENUM, .def = "gamma", .words = abc, .check = reject_b },
    };
    nb_config *cfg = nb_config_alloc(k, 1);
    size_t idx = 0;
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(nb_config_get_enum(cfg, "w", &idx), NB_OK);
    ck_assert_uint_eq(idx, 2);
    ck_assert_int_eq(nb_config_set(cfg, "w=beta", &err), NB_ECONFIG);
    ck_assert_str_eq(msg, "--set: key 'w': 'beta' is not accepted");
    ck_assert_int_eq(nb_config_set(cfg, "w=betta", &err), NB_ECONFIG);
    ck_assert_str_eq(msg, "--set: key 'w': 'betta' is not one of alpha, beta, gamma (did you mean 'beta'?)");
    ck_assert_int_eq(nb_config_set(cfg, "w=delta", &err), NB_ECONFIG);
    ck_assert_str_eq(msg, "--set: key 'w': 'delta' is not one of alpha, beta, gamma");
    ck_assert_int_eq(nb_config_set(cfg, "w=alpha", &err), NB_OK);
    ck_assert_int_eq(nb_config_get_enum(cfg, "w", &idx), NB_OK);
    ck_assert_uint_eq(idx, 0);
    nb_config_free(cfg);
}
END_TEST

START_TEST(test_getter_misuse)
{
    nb_config *cfg = fresh_valid();
    double d = 2.385;
    long long i = -5;
    size_t z = 7, n = 9;
    const char *s = "keep";
    const long long *il;
    const size_t *zl;
    int b = 3;
    /* wrong type: the value is left alone */
    ck_assert_int_eq(nb_config_get_double(cfg, "train.epochs", &d), NB_EINVAL);
    ck_assert(d == 2.385);
    ck_assert_int_eq(nb_config_get_int(cfg, "train.epochs", &i), NB_EINVAL);
    ck_assert_int_eq(i, -5);
    ck_assert_int_eq(nb_config_get_size(cfg, "train.shift", &z), NB_EINVAL);
    ck_assert_int_eq(nb_config_get_string(cfg, "seed", &s), NB_EINVAL);
    ck_assert_str_eq(s, "keep");
    ck_assert_int_eq(nb_config_get_bool(cfg, "name", &b), NB_EINVAL);
    ck_assert_int_eq(b, 3);
    ck_assert_int_eq(nb_config_get_enum(cfg, "name", &z), NB_EINVAL);
    ck_assert_int_eq(nb_config_get_int_list(cfg, "model.layers", &il, &n), NB_EINVAL);
    ck_assert_int_eq(nb_config_get_size_list(cfg, "model.offsets", &zl, &n), NB_EINVAL);
    ck_assert_uint_eq(n, 9);
    ck_assert_uint_eq(z, 7);
    /* unknown key, NULL arguments */
    ck_assert_int_eq(nb_config_get_double(cfg, "optimizer.lrr", &d), NB_ENOTFOUND);
    ck_assert_int_eq(nb_config_get_double(NULL, "optimizer.lr", &d), NB_EINVAL);
    ck_assert_int_eq(nb_config_get_double(cfg, NULL, &d), NB_EINVAL);
    ck_assert_int_eq(nb_config_get_double(cfg, "optimizer.lr", NULL), NB_EINVAL);
    ck_assert_int_eq(nb_config_get_size_list(cfg, "model.layers", NULL, &n), NB_EINVAL);
    ck_assert_int_eq(nb_config_is_set(NULL, "seed"), 0);
    ck_assert_int_eq(nb_config_is_set(cfg, "no.such"), 0);
    ck_assert_int_eq(nb_config_origin(cfg, "no.such", msg, sizeof err.msg), NB_ENOTFOUND);
    ck_assert_int_eq(nb_config_origin(cfg, "seed", msg, 0), NB_EINVAL);
    ck_assert_int_eq(nb_config_validate(NULL, &err), NB_EINVAL);
    ck_assert_int_eq(nb_config_parse_string(cfg, NULL, NULL, &err), NB_EINVAL);
    ck_assert_int_eq(nb_config_load(cfg, NULL, &err), NB_EINVAL);
    ck_assert_int_eq(nb_config_write(NULL, stdout), NB_EINVAL);
    ck_assert(d == 2.385);
    nb_config_free(cfg);
}
END_TEST

/* ---- files: I/O errors and hostile bytes -------------------------------- */

START_TEST(test_io_errors)
{
    char path[1024];
    nb_config *cfg = fresh();
    snprintf(path, sizeof path, "%s/tests/data/config/no-such-file.conf", srcdir());
    ck_assert_int_eq(nb_config_load(cfg, path, &err), NB_EIO);
    ck_assert_ptr_nonnull(strstr(msg, "cannot open '"));
    ck_assert_ptr_nonnull(strstr(msg, "no-such-file.conf': No such file or directory"));
    snprintf(path, sizeof path, "%s/tests/data/config", srcdir());
    ck_assert_int_eq(nb_config_load(cfg, path, &err), NB_EIO);
    ck_assert_ptr_nonnull(strstr(msg, "tests/data/config"));
    nb_config_free(cfg);
}
END_TEST

START_TEST(test_hostile_files)
{
    char path[1024], expect[1200];
    nb_config *cfg = fresh_valid();
    char *big;
    size_t n;

    /* a NUL byte */
    write_temp("seed = 12\nname = ab\0cd\n", 23, path, sizeof path);
    ck_assert_int_eq(nb_config_load(cfg, path, &err), NB_ECONFIG);
    snprintf(expect, sizeof expect, "%s:2: NUL byte at column 10", path);
    ck_assert_str_eq(msg, expect);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_uint_eq(get_z(cfg, "seed"), 2385);

    /* invalid UTF-8 */
    write_temp("seed = 12\n# \xfe\xff\n", 15, path, sizeof path);
    ck_assert_int_eq(nb_config_load(cfg, path, &err), NB_ECONFIG);
    snprintf(expect, sizeof expect, "%s:2: invalid UTF-8 at column 3", path);
    ck_assert_str_eq(msg, expect);
    ck_assert_int_eq(remove(path), 0);

    /* lines of exactly NB_CONFIG_MAX_LINE bytes (with and without \r\n) are
     * read; one byte more is refused, in a file and in a string */
    n = NB_CONFIG_MAX_LINE + 64;
    big = malloc(n);
    ck_assert_ptr_nonnull(big);
    memcpy(big, "name = ", 7);
    memset(big + 7, 'y', NB_CONFIG_MAX_LINE - 7);
    memcpy(big + NB_CONFIG_MAX_LINE, "\r\nseed = 12\n", 13);
    write_temp(big, strlen(big), path, sizeof path);
    ck_assert_int_eq(nb_config_load(cfg, path, &err), NB_OK);
    ck_assert_uint_eq(strlen(get_s(cfg, "name")), NB_CONFIG_MAX_LINE - 7);
    ck_assert_uint_eq(get_z(cfg, "seed"), 12);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(nb_config_parse_string(cfg, big, "big", &err), NB_OK);

    memcpy(big + NB_CONFIG_MAX_LINE, "y\nseed = 13\n", 13);
    write_temp(big, strlen(big), path, sizeof path);
    ck_assert_int_eq(nb_config_load(cfg, path, &err), NB_ECONFIG);
    snprintf(expect, sizeof expect, "%s:1: line longer than 4096 bytes", path);
    ck_assert_str_eq(msg, expect);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(nb_config_parse_string(cfg, big, "big", &err), NB_ECONFIG);
    ck_assert_str_eq(msg, "big:1: line longer than 4096 bytes");

    /* far longer, no newline at all */
    {
        size_t huge = 3 * NB_CONFIG_MAX_LINE;
        char *h = malloc(huge + 1);
        ck_assert_ptr_nonnull(h);
        memset(h, '#', huge);
        h[huge] = '\0';
        write_temp(h, huge, path, sizeof path);
        ck_assert_int_eq(nb_config_load(cfg, path, &err), NB_ECONFIG);
        ck_assert_ptr_nonnull(strstr(msg, ":1: line longer than 4096 bytes"));
        ck_assert_int_eq(remove(path), 0);
        ck_assert_int_eq(nb_config_parse_string(cfg, h, "h", &err), NB_ECONFIG);
        ck_assert_str_eq(msg, "h:1: line longer than 4096 bytes");
        free(h);
    }
    ck_assert_uint_eq(get_z(cfg, "seed"), 12);
    free(big);

    /* a file without final newline, and an empty file */
    write_temp("seed = 14", 9, path, sizeof path);
    ck_assert_int_eq(nb_config_load(cfg, path, &err), NB_OK);
    ck_assert_uint_eq(get_z(cfg, "seed"), 14);
    ck_assert_int_eq(remove(path), 0);
    write_temp("", 0, path, sizeof path);
    ck_assert_int_eq(nb_config_load(cfg, path, &err), NB_OK);
    ck_assert_uint_eq(get_z(cfg, "seed"), 14);
    ck_assert_int_eq(remove(path), 0);
    nb_config_free(cfg);
}
END_TEST

/* ---- the resolved dump --------------------------------------------------- */

/* Every schema key has the same state and value in a and b. */
static void assert_same(const nb_config *a, const nb_config *b)
{
    size_t i, j;
    for (i = 0; i < N_SCHEMA; i++) {
        const char *key = schema[i].name;
        ck_assert_int_eq(nb_config_is_set(a, key), nb_config_is_set(b, key));
        if (!nb_config_is_set(a, key))
            continue;
        switch (schema[i].type) {
        case NB_CONFIG_STRING:
        case NB_CONFIG_ENUM:
            ck_assert_str_eq(get_s(a, key), get_s(b, key));
            break;
        case NB_CONFIG_INT:
            ck_assert(get_i(a, key) == get_i(b, key));
            break;
        case NB_CONFIG_SIZE:
            ck_assert(get_z(a, key) == get_z(b, key));
            break;
        case NB_CONFIG_DOUBLE: {
            double x = get_d(a, key), y = get_d(b, key);
            ck_assert_msg(memcmp(&x, &y, sizeof x) == 0, "%s: %.17g != %.17g", key, x, y);
            break;
        }
        case NB_CONFIG_BOOL:
            ck_assert_int_eq(get_b(a, key), get_b(b, key));
            break;
        case NB_CONFIG_INT_LIST: {
            const long long *x, *y;
            size_t nx, ny;
            ck_assert_int_eq(nb_config_get_int_list(a, key, &x, &nx), NB_OK);
            ck_assert_int_eq(nb_config_get_int_list(b, key, &y, &ny), NB_OK);
            ck_assert_uint_eq(nx, ny);
            for (j = 0; j < nx; j++)
                ck_assert(x[j] == y[j]);
            break;
        }
        case NB_CONFIG_SIZE_LIST: {
            const size_t *x, *y;
            size_t nx, ny;
            ck_assert_int_eq(nb_config_get_size_list(a, key, &x, &nx), NB_OK);
            ck_assert_int_eq(nb_config_get_size_list(b, key, &y, &ny), NB_OK);
            ck_assert_uint_eq(nx, ny);
            for (j = 0; j < nx; j++)
                ck_assert(x[j] == y[j]);
            break;
        }
        case NB_CONFIG_WORD_LIST: {
            const char *const *x, *const *y;
            size_t nx, ny;
            ck_assert_int_eq(nb_config_get_word_list(a, key, &x, &nx), NB_OK);
            ck_assert_int_eq(nb_config_get_word_list(b, key, &y, &ny), NB_OK);
            ck_assert_uint_eq(nx, ny);
            for (j = 0; j < nx; j++)
                ck_assert_str_eq(x[j], y[j]);
            break;
        }
        }
    }
}

/* nb_config_write into a malloc'ed string. */
static char *dump(const nb_config *cfg)
{
    FILE *f = tmpfile();
    long size;
    char *text;
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(nb_config_write(cfg, f), NB_OK);
    size = ftell(f);
    ck_assert_int_gt(size, 0);
    rewind(f);
    text = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    fclose(f);
    return text;
}

/* Cuts the "  # origin" comment off every value line of a dump, in place. */
static void strip_origins(char *text)
{
    char *src = text, *dst = text;
    while (*src != '\0') {
        char *nl = strchr(src, '\n');
        size_t n = nl != NULL ? (size_t)(nl - src) : strlen(src), keep = n;
        if (src[0] != '#' && src[0] != '[' && n > 0) {
            char *p, *last = NULL;
            for (p = src; p + 4 <= src + n; p++)
                if (memcmp(p, "  # ", 4) == 0)
                    last = p;
            ck_assert_ptr_nonnull(last);
            keep = (size_t)(last - src);
        }
        memmove(dst, src, keep);
        dst += keep;
        if (nl == NULL)
            break;
        *dst++ = '\n';
        src = nl + 1;
    }
    *dst = '\0';
}

START_TEST(test_roundtrip)
{
    char path[1024], line[1200];
    nb_config *a = fresh(), *b = fresh();
    char *text, *again;
    ck_assert_int_eq(nb_config_load(a, fixture("moons.conf", path, sizeof path),
                                    &err), NB_OK);
    /* values whose text is awkward to write back */
    ck_assert_int_eq(nb_config_set(a, "name=\"  a \\\"q\\\" \\\\ # not a comment  \"", &err), NB_OK);
    ck_assert_int_eq(nb_config_set(a, "data.test=#starts with a hash; \"caf\xC3\xA9\"", &err), NB_OK);
    ck_assert_int_eq(nb_config_set(a, "optimizer.lr=0.30000000000000004", &err), NB_OK);
    ck_assert_int_eq(nb_config_set(a, "optimizer.momentum=0.1", &err), NB_OK);
    ck_assert_int_eq(nb_config_set(a, "optimizer.decay=-4.9406564584124654e-324", &err), NB_OK);
    ck_assert_int_eq(nb_config_set(a, "train.big=-9223372036854775808", &err), NB_OK);
    ck_assert_int_eq(nb_config_set(a, "model.offsets=", &err), NB_OK);

    text = dump(a);
    /* grouped by section, in schema order, with origins */
    ck_assert_ptr_nonnull(strstr(text, "\n# seed of the run's random stream\nseed = 2385  # "));
    ck_assert_ptr_nonnull(strstr(text, "\n[data]\n# training set file\ntrain = \"data/moons-train.csv\"  # "));
    snprintf(line, sizeof line, "\nepochs = 40  # %s:23\n", path);
    ck_assert_ptr_nonnull(strstr(text, line));
    ck_assert_ptr_nonnull(strstr(text, "\nbatch = 32  # default\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nlr = 0.30000000000000004  # --set\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nmomentum = 0.1  # --set\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nlayers = 2, 16, 16, 2  # "));
    ck_assert_ptr_nonnull(strstr(text, "\noffsets = \"\"  # --set\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nname = \"  a \\\"q\\\" \\\\ # not a comment  \"  # --set\n"));
    ck_assert_ptr_nonnull(strstr(text, "\ntest = \"#starts with a hash; \\\"caf\xC3\xA9\\\"\"  # --set\n"));
    ck_assert_ptr_null(strstr(strstr(text, "[optimizer]") + 1, "[optimizer]"));
    ck_assert_ptr_nonnull(strstr(text, "[log]"));
    ck_assert(strstr(text, "[data]") < strstr(text, "[model]"));
    ck_assert(strstr(text, "[model]") < strstr(text, "[loss]"));
    ck_assert(strstr(text, "[train]") < strstr(text, "[log]"));

    /* re-reading the dump gives the same configuration */
    ck_assert_int_eq(nb_config_parse_string(b, text, "dump", &err), NB_OK);
    assert_same(a, b);
    ck_assert(signbit(get_d(b, "optimizer.decay")));

    /* and writing that again gives the same text, origins aside */
    again = dump(b);
    ck_assert_ptr_nonnull(strstr(again, "\nepochs = 40  # dump:"));
    strip_origins(text);
    strip_origins(again);
    ck_assert_str_eq(text, again);
    free(again);
    free(text);

    /* unset optional keys are written as comments and stay unset */
    nb_config_free(b);
    b = fresh_valid();
    text = dump(b);
    ck_assert_ptr_nonnull(strstr(text, "\n# test set file (optional)\n# test = (unset, no default)\n"));
    nb_config_free(a);
    a = fresh();
    ck_assert_int_eq(nb_config_parse_string(a, text, "dump", &err), NB_OK);
    ck_assert_int_eq(nb_config_is_set(a, "data.test"), 0);
    assert_same(a, b);
    free(text);
    /* a required key not set yet is written as a comment too */
    nb_config_free(a);
    a = fresh();
    text = dump(a);
    ck_assert_ptr_nonnull(strstr(text, "\n# train = (unset, required)\n"));
    free(text);
    nb_config_free(a);
    nb_config_free(b);
}
END_TEST

START_TEST(test_save)
{
    char dir[1024], path[1100], tmp[1200];
    nb_config *a = fresh_valid(), *b = fresh();
    ck_assert_int_eq(nb_config_set(a, "optimizer.lr=2.385", &err), NB_OK);
    snprintf(dir, sizeof dir, "%s/nb_test_config_XXXXXX", tmpdir());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/resolved.conf", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    nb_error_set(&err, NB_EIO, "stale");   /* success leaves err untouched */
    ck_assert_int_eq(nb_config_save(a, path, &err), NB_OK);
    ck_assert_str_eq(msg, "stale");
    ck_assert_int_eq(err.status, NB_EIO);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    ck_assert_int_eq(nb_config_load(b, path, &err), NB_OK);
    assert_same(a, b);
    ck_assert(get_d(b, "optimizer.lr") == 2.385);
    /* saving again replaces the file */
    ck_assert_int_eq(nb_config_set(a, "optimizer.lr=0.875", &err), NB_OK);
    ck_assert_int_eq(nb_config_save(a, path, &err), NB_OK);
    nb_config_free(b);
    b = fresh();
    ck_assert_int_eq(nb_config_load(b, path, &err), NB_OK);
    ck_assert(get_d(b, "optimizer.lr") == 0.875);
    ck_assert_int_eq(remove(path), 0);
    /* into a directory that does not exist */
    snprintf(path, sizeof path, "%s/missing/resolved.conf", dir);
    ck_assert_int_eq(nb_config_save(a, path, &err), NB_EIO);
    ck_assert_ptr_nonnull(strstr(msg, "cannot create '"));
    ck_assert_ptr_nonnull(strstr(msg, "missing/resolved.conf.tmp': No such file or directory"));
    ck_assert_int_eq(rmdir(dir), 0);
    nb_config_free(a);
    nb_config_free(b);
}
END_TEST

/* ---- allocation failures ------------------------------------------------ */

typedef struct failing {
    size_t fail_at;   /* the fail_at-th allocation returns NULL (0: never) */
    size_t count;     /* allocations attempted */
    size_t live;      /* blocks not freed yet */
} failing;

static void *failing_alloc(void *ud, size_t size)
{
    failing *f = ud;
    void *p;
    if (++f->count == f->fail_at)
        return NULL;
    p = malloc(size);
    if (p != NULL)
        f->live++;
    return p;
}

static void failing_free(void *ud, void *ptr)
{
    failing *f = ud;
    if (ptr != NULL) {
        f->live--;
        free(ptr);
    }
}

/* alloc, load, set, parse, write, save with the k-th allocation failing:
 * every step either succeeds or reports NB_ENOMEM (NULL for alloc), and
 * everything is freed.  Returns 1 when no allocation failed. */
static int run_failing(size_t k, const char *path, const char *save_path)
{
    failing f = { k, 0, 0 };
    nb_allocator al = { failing_alloc, failing_free, &f };
    nb_config *cfg = nb_config_alloc_with(schema, N_SCHEMA, &al);
    FILE *out;
    int st;
    if (cfg == NULL) {
        ck_assert_uint_eq(f.count, k);
        ck_assert_uint_eq(f.live, 0);
        return 0;
    }
    st = nb_config_load(cfg, path, &err);
    ck_assert_msg(st == NB_OK || st == NB_ENOMEM, "load k=%zu: %s", k, msg);
    if (st == NB_ENOMEM)
        ck_assert_ptr_nonnull(strstr(msg, "out of memory"));
    if (st == NB_OK) {
        st = nb_config_set(cfg, "model.activations=relu, relu, softmax", &err);
        ck_assert_msg(st == NB_OK || st == NB_ENOMEM, "set k=%zu: %s", k, msg);
    }
    if (st == NB_OK) {
        st = nb_config_parse_string(cfg, "[model]\nlayers = 3, 5\n", "s", &err);
        ck_assert_msg(st == NB_OK || st == NB_ENOMEM, "parse k=%zu: %s", k, msg);
    }
    if (st == NB_OK) {
        out = tmpfile();
        ck_assert_ptr_nonnull(out);
        st = nb_config_write(cfg, out);
        ck_assert_msg(st == NB_OK || st == NB_ENOMEM, "write k=%zu: %d", k, st);
        fclose(out);
    }
    if (st == NB_OK) {
        st = nb_config_save(cfg, save_path, &err);
        ck_assert_msg(st == NB_OK || st == NB_ENOMEM, "save k=%zu: %s", k, msg);
    }
    if (st == NB_OK) {
        /* the values are those of the file and the overrides */
        const char *const *w;
        size_t n;
        ck_assert_int_eq(nb_config_get_word_list(cfg, "model.activations", &w, &n), NB_OK);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(w[0], "relu");
    }
    nb_config_free(cfg);
    ck_assert_uint_eq(f.live, 0);
    if (k != 0 && f.count >= k)
        ck_assert_int_eq(st, NB_ENOMEM);
    return f.count < k || k == 0;
}

START_TEST(test_out_of_memory)
{
    char path[1024], dir[1024], save_path[1100];
    size_t k;
    fixture("moons.conf", path, sizeof path);
    snprintf(dir, sizeof dir, "%s/nb_test_config_XXXXXX", tmpdir());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(save_path, sizeof save_path, "%s/out.conf", dir);
    ck_assert_int_eq(run_failing(0, path, save_path), 1);
    for (k = 1; k < 10000; k++)
        if (run_failing(k, path, save_path))
            break;
    ck_assert_uint_gt(k, 20);        /* many allocation points were tested */
    ck_assert_uint_lt(k, 10000);
    remove(save_path);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("schema");
    tcase_add_test(tc, test_schema_valid);
    tcase_add_loop_test(tc, test_schema_errors, 0,
                        (int)(sizeof bad_schemas / sizeof bad_schemas[0]));
    tcase_add_test(tc, test_alloc_free);
    suite_add_tcase(s, tc);

    tc = tcase_create("read");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_load_fixture);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_required);
    tcase_add_test(tc, test_syntax);
    tcase_add_test(tc, test_dotted_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_file_errors, 0,
                        (int)(sizeof file_errors / sizeof file_errors[0]));
    tcase_add_test(tc, test_error_changes_nothing);
    tcase_add_test(tc, test_duplicate_fixture);
    tcase_add_test(tc, test_typo_fixture);
    tcase_add_loop_test(tc, test_set_errors, 0,
                        (int)(sizeof set_errors / sizeof set_errors[0]));
    tcase_add_test(tc, test_io_errors);
    tcase_add_test(tc, test_hostile_files);
    tcase_add_test(tc, test_getter_misuse);
    suite_add_tcase(s, tc);

    tc = tcase_create("types");
    tcase_add_test(tc, test_set_values);
    tcase_add_test(tc, test_booleans);
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_lists);
    tcase_add_test(tc, test_callback);
    tcase_add_test(tc, test_callback_with_words);
    suite_add_tcase(s, tc);

    tc = tcase_create("write");
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_save);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
