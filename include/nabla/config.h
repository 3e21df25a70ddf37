/* nabla/config.h — experiment config files, driven by a schema.
 *
 * A config file is INI-like (full reference: docs/config-format.md):
 *
 *     # moons.conf
 *     seed = 2385
 *     [optimizer]
 *     name = momentum          ; one of sgd|momentum|nesterov|adam
 *     lr   = 0.05              # inline comment after whitespace
 *     [model]
 *     layers = 2, 16, 2
 *
 * A key's full name is "section.key" ("seed" before any section).  The caller
 * declares every key it accepts in a const schema table (type, default,
 * bounds, allowed words, a one-line description); anything else is an error
 * with a message naming the file, the line and the key:
 *
 *     moons.conf:12: key 'optimizer.lr': '0.1x' is not a number
 *     moons.conf:7: unknown key 'optimiser.lr' (did you mean 'optimizer.lr'?)
 *     --set: key 'train.epochs': -3 is below the minimum 1
 *
 * Use:
 *
 *     nb_config *cfg = nb_config_alloc(schema, n);        // defaults applied
 *     nb_error err;                                        // optional
 *     st = nb_config_load(cfg, "moons.conf", &err);
 *     st = nb_config_set(cfg, "train.epochs=50", &err);   // --set
 *     st = nb_config_validate(cfg, &err);                 // required keys
 *     st = nb_config_get_double(cfg, "optimizer.lr", &lr);
 *     nb_config_free(cfg);
 *
 * Precedence: default < file < --set.  A later file overrides an earlier one;
 * a later --set overrides an earlier --set.  Within one file a key may appear
 * once only.
 *
 * Every value is parsed and checked when it is assigned (default, file line or
 * --set), so a getter never meets a malformed value: getters return a status
 * and write the value through a pointer only on NB_OK.
 *
 * Status codes: NB_OK; NB_ECONFIG for anything wrong with the config text
 * (message in err); NB_EIO when a file cannot be read or written; NB_ENOMEM;
 * NB_EINVAL for a caller error (NULL argument, wrong getter for a key's
 * type); NB_ENOTFOUND for a key the schema does not declare.  Calls that can
 * fail for a reason worth a message take an optional error object
 * (nb_error *err, NULL allowed; nabla/error.h), filled only on failure.
 *
 * Failed loads and sets change nothing: a file is applied only when all its
 * lines are valid.  A config object is not thread-safe; nothing here touches
 * global state (numbers are read and written with '.' whatever the locale).
 */
#ifndef NABLA_CONFIG_H
#define NABLA_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <nabla/error.h>
#include <nabla/graph.h>   /* nb_allocator */

#ifdef __cplusplus
extern "C" {
#endif

/* Longest accepted line of a config file, and longest --set argument, in
 * bytes without the line ending.  Longer lines are an NB_ECONFIG error. */
#define NB_CONFIG_MAX_LINE 4096

/* Value types.  They start at 1 so that a schema entry whose .type was
 * forgotten (0) is rejected. */
typedef enum nb_config_type {
    NB_CONFIG_STRING = 1, /* any text; "..." keeps spaces, \" and \\ escapes */
    NB_CONFIG_INT,        /* long long, decimal: -12 */
    NB_CONFIG_SIZE,       /* size_t, decimal, no sign: 784 */
    NB_CONFIG_DOUBLE,     /* finite double: 2.385, 1e-3 (no inf, nan, hex) */
    NB_CONFIG_BOOL,       /* true/false yes/no on/off 1/0, any case */
    NB_CONFIG_ENUM,       /* one word out of .words and/or accepted by .check */
    NB_CONFIG_INT_LIST,   /* comma-separated long long: -1, 0, 5 */
    NB_CONFIG_SIZE_LIST,  /* comma-separated size_t: 784, 30, 10 */
    NB_CONFIG_WORD_LIST   /* comma-separated words: tanh, softmax */
} nb_config_type;

/* Flags of a schema entry. */
#define NB_CONFIG_MIN_EXCLUSIVE 1u  /* value must be > min rather than >= min */
#define NB_CONFIG_MAX_EXCLUSIVE 2u  /* value must be < max rather than <= max */

/* Caller validation of a word (ENUM value, or each WORD_LIST element), so a
 * key can be checked against a list only the caller knows, e.g. the op
 * registry:
 *
 *     static int is_activation(const char *word, void *ud, char *why,
 *                              size_t len)
 *     {
 *         if (nb_op_find(word) != NULL) return 0;
 *         snprintf(why, len, "'%s' is not an op of the registry", word);
 *         return 1;
 *     }
 *
 * Return 0 to accept the word, nonzero to reject it; on rejection write the
 * reason into why[len] (len >= 1; left empty, a generic reason is used).  ud
 * is the entry's .check_ud. */
typedef int (*nb_config_check_fn)(const char *word, void *ud, char *why,
                                  size_t len);

/* One schema entry.  Use designated initializers; unused fields stay 0/NULL:
 *
 *     static const char *const optimizers[] =
 *         { "sgd", "momentum", "nesterov", "adam", NULL };
 *     static const nb_config_key schema[] = {
 *         { .name = "optimizer.name", .type = NB_CONFIG_ENUM, .def = "sgd",
 *           .words = optimizers, .help = "update rule" },
 *         { .name = "optimizer.lr", .type = NB_CONFIG_DOUBLE, .def = "0.1",
 *           .min = "0", .flags = NB_CONFIG_MIN_EXCLUSIVE,
 *           .help = "learning rate" },
 *         { .name = "train.epochs", .type = NB_CONFIG_SIZE, .required = 1,
 *           .min = "1", .help = "passes over the training set" },
 *         { .name = "model.layers", .type = NB_CONFIG_SIZE_LIST,
 *           .min = "1", .min_len = 2, .help = "layer widths, input first" },
 *     };
 *
 * The table is borrowed: it must outlive every nb_config made from it. */
typedef struct nb_config_key {
    const char *name;       /* full key: "section.key" or "key"; letters,
                               digits, '_', '-', and '.' between parts */
    nb_config_type type;
    const char *def;        /* default as text, parsed like a file value;
                               NULL: none (the key is unset until given) */
    int required;           /* nonzero: must come from a file or --set;
                               a required key has no default */
    const char *help;       /* one-line description (written by
                               nb_config_write), or NULL */
    /* Numeric types and their lists (bounds apply to each element): bounds as
     * text in the key's own type, NULL for none; see the flags above. */
    const char *min, *max;
    unsigned flags;
    /* Lists: allowed number of elements; max_len 0 means no maximum. */
    size_t min_len, max_len;
    /* ENUM and WORD_LIST: NULL-terminated allowed words (case-sensitive), or
     * NULL.  An ENUM needs words, check, or both (both: a word must pass
     * both).  A WORD_LIST with neither accepts any word. */
    const char *const *words;
    nb_config_check_fn check;
    void *check_ud;
} nb_config_key;

typedef struct nb_config nb_config;

/* ---- life cycle -------------------------------------------------------- */

/* Checks a schema without making a config: names, types, bounds, words, and
 * that every default parses and respects its bounds.  NB_EINVAL with a
 * message ("schema entry 3 'train.epochs': default '0' is below the minimum
 * 1") when the table is wrong; NB_ENOMEM.  Meant for the tests of the code
 * that owns the schema. */
int nb_config_schema_check(const nb_config_key *schema, size_t n,
                           nb_error *err);

/* A config over schema[0..n-1] (borrowed, see above), holding every default.
 * NULL when out of memory or when the schema is invalid (then
 * nb_config_schema_check() says why).  nb_config_alloc_with() copies
 * *allocator (NULL: malloc/free) and uses it for every allocation, so tests
 * can make the k-th allocation fail.  nb_config_free(NULL) is a no-op. */
nb_config *nb_config_alloc(const nb_config_key *schema, size_t n);
nb_config *nb_config_alloc_with(const nb_config_key *schema, size_t n,
                                const nb_allocator *allocator);
void nb_config_free(nb_config *cfg);

/* ---- reading ----------------------------------------------------------- */

/* Reads the file at path and applies its values over the current ones.
 * Messages name path as given ("moons.conf:12: ...").  NB_EIO when the file
 * cannot be opened or read; NB_ECONFIG for any syntax or value error; on any
 * error cfg is unchanged. */
int nb_config_load(nb_config *cfg, const char *path, nb_error *err);

/* The same for a NUL-terminated text in memory; name stands for the file name
 * in messages and origins (NULL: "<string>"). */
int nb_config_parse_string(nb_config *cfg, const char *text, const char *name,
                           nb_error *err);

/* A command-line override "key=value": full key name, whitespace around key
 * and value ignored, value as in a file (may be "quoted") except that '#'
 * starts no comment.  Origin "--set".  NB_ECONFIG for an argument without
 * '=', an unknown key or a bad value; cfg unchanged on error. */
int nb_config_set(nb_config *cfg, const char *assignment, nb_error *err);

/* Checks that every required key has a value.  NB_ECONFIG naming the first
 * missing key (and how many more are missing).  Call it after the last load
 * and set, before reading values. */
int nb_config_validate(const nb_config *cfg, nb_error *err);

/* ---- typed getters ----------------------------------------------------- */

/* Each getter returns NB_OK and writes the resolved value to *out;
 * otherwise *out is untouched and the status is
 *   NB_ENOTFOUND  key is not in the schema,
 *   NB_EINVAL     NULL argument, or the getter does not match the key's
 *                 type (get_double on an NB_CONFIG_SIZE key, say),
 *   NB_ECONFIG    the key has no value (no default, never set).
 * Strings and lists are borrowed from cfg: valid until the key is assigned
 * again (load/set) or cfg is freed. */
int nb_config_get_string(const nb_config *cfg, const char *key,
                         const char **out);           /* STRING or ENUM */
int nb_config_get_int(const nb_config *cfg, const char *key, long long *out);
int nb_config_get_size(const nb_config *cfg, const char *key, size_t *out);
int nb_config_get_double(const nb_config *cfg, const char *key, double *out);
int nb_config_get_bool(const nb_config *cfg, const char *key, int *out);
/* ENUM with .words: the index of the value in .words.  NB_EINVAL for an
 * ENUM validated by .check only (use nb_config_get_string). */
int nb_config_get_enum(const nb_config *cfg, const char *key, size_t *index);
/* Lists: *n elements at *values (NULL when *n == 0). */
int nb_config_get_int_list(const nb_config *cfg, const char *key,
                           const long long **values, size_t *n);
int nb_config_get_size_list(const nb_config *cfg, const char *key,
                            const size_t **values, size_t *n);
int nb_config_get_word_list(const nb_config *cfg, const char *key,
                            const char *const **words, size_t *n);

/* 1 when the key has a value (default, file or --set), 0 otherwise
 * (including unknown keys and NULL arguments). */
int nb_config_is_set(const nb_config *cfg, const char *key);

/* Where the key's value comes from, written into buf[len]: "default",
 * "moons.conf:12", "--set", or "unset"; for messages of the caller's own
 * cross-key checks ("moons.conf:5: model.layers: ...").  The file name is
 * shown as in messages: escaped, its end kept when long (nb_error_escape).  NB_ENOTFOUND for an
 * unknown key, NB_EINVAL for NULL arguments or len 0. */
int nb_config_origin(const nb_config *cfg, const char *key, char *buf,
                     size_t len);

/* ---- writing ----------------------------------------------------------- */

/* Writes the resolved config: every schema key (defaults included) in schema
 * order, grouped by section (sections in order of first appearance, keys
 * without a section first), each preceded by its help line and followed by a
 * comment naming its origin; unset keys as comment lines.  Reading the output
 * back gives exactly the same values (doubles are written with up to 17
 * significant digits).  NB_EIO on a write error, NB_ENOMEM. */
int nb_config_write(const nb_config *cfg, FILE *out);

/* nb_config_write() to path, safely: writes "path.tmp", flushes, fsyncs,
 * then renames it over path (so path is either the old or the complete new
 * file).  NB_EIO with a message naming the file. */
int nb_config_save(const nb_config *cfg, const char *path, nb_error *err);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_CONFIG_H */
