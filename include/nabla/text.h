/* nabla/text.h — numbers as text, the same in every locale, and JSON.
 *
 * A host program may call setlocale(LC_ALL, "") under a locale whose decimal
 * point is a comma; strtod and printf("%g") then read and write "0,5".
 * Every file nabla reads or writes (configs, CSV, checkpoints, costs.csv,
 * results, JSON) uses '.', so every conversion goes through these calls.
 * They never change the locale of the process; the formatting calls switch
 * the calling thread's locale (uselocale) for the call only.
 *
 *     char buf[32];
 *     nb_fprintf(f, "%zu,%.17g\n", step, cost);      // "12,0.5" in any locale
 *     double v = nb_strtod("2.385", NULL);             // 2.385 in any locale
 *     nb_format_double(0.1, buf, sizeof buf);          // "0.1" (shortest exact)
 *
 * JSON: one small writer for the whole project (the checker's reports,
 * run directories' meta.json).  It writes to a FILE* (use open_memstream
 * for a growing buffer), places commas, colons, line breaks and indents,
 * escapes strings, and remembers the first error, which nb_json_finish()
 * returns:
 *
 *     nb_json j;
 *     nb_json_init(&j, stdout, NB_JSON_COMPACT);
 *     nb_json_begin_object(&j, 0);
 *     nb_json_key(&j, "target");  nb_json_string(&j, "op relu");
 *     nb_json_key(&j, "ratio");   nb_json_number(&j, 0.25);
 *     nb_json_end_object(&j);
 *     int st = nb_json_finish(&j);                     // {"target":"op relu","ratio":0.25}\n
 *
 * Strings: '"' and '\' escaped, control characters as \u00XX, valid UTF-8
 * kept as it is, each byte of invalid UTF-8 written as \ufffd (so the
 * output is always valid JSON).  Numbers: finite doubles in the shortest
 * form that reads back exactly (nb_format_double); NaN and infinities,
 * which JSON cannot express, as null.
 */
#ifndef NABLA_TEXT_H
#define NABLA_TEXT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <nabla/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NB_PRINTF_LIKE(a, b) __attribute__((format(printf, a, b)))
#else
#define NB_PRINTF_LIKE(a, b)
#endif

/* ---- numbers ------------------------------------------------------------- */

/* strtod with '.' as the decimal point whatever the locale: the same syntax
 * (inf, nan, hex included), result, end pointer and errno otherwise. */
double nb_strtod(const char *s, char **end);

/* snprintf / vsnprintf / fprintf with '.' as the decimal point whatever the
 * locale; same return values. */
int nb_format(char *buf, size_t cap, const char *fmt, ...) NB_PRINTF_LIKE(3, 4);
int nb_vformat(char *buf, size_t cap, const char *fmt, va_list ap);
int nb_fprintf(FILE *f, const char *fmt, ...) NB_PRINTF_LIKE(2, 3);

/* The shortest of %.15g, %.16g, %.17g that reads back as exactly x
 * (-0 keeps its sign); "nan", "inf", "-inf" for non-finite values.  Returns
 * buf; 32 bytes are always enough. */
const char *nb_format_double(double x, char *buf, size_t cap);

/* ---- JSON ---------------------------------------------------------------- */

#define NB_JSON_MAX_DEPTH 16

/* nb_json_init flags. */
#define NB_JSON_COMPACT 1u   /* "a":1,"b":2 rather than "a": 1, "b": 2 */

typedef struct nb_json {
    FILE *out;
    unsigned flags;
    size_t depth;                                 /* open objects and arrays */
    unsigned char count[NB_JSON_MAX_DEPTH];       /* 1 once a member is written */
    unsigned char multiline[NB_JSON_MAX_DEPTH];   /* one member per line */
    unsigned char is_object[NB_JSON_MAX_DEPTH];
    int want_value;                               /* a key was written */
    int values;                                   /* top-level values written */
    nb_status status;                             /* NB_OK or the first error */
} nb_json;

/* Starts a document on out (flags: 0 or NB_JSON_COMPACT). */
void nb_json_init(nb_json *j, FILE *out, unsigned flags);

/* Containers.  multiline: each member on its own line, indented by two
 * spaces per level; otherwise all on one line. */
void nb_json_begin_object(nb_json *j, int multiline);
void nb_json_end_object(nb_json *j);
void nb_json_begin_array(nb_json *j, int multiline);
void nb_json_end_array(nb_json *j);

/* Inside an object: the key of the next value. */
void nb_json_key(nb_json *j, const char *key);

/* Values. */
void nb_json_string(nb_json *j, const char *s);           /* NULL: null */
void nb_json_number(nb_json *j, double v);                /* non-finite: null */
void nb_json_int(nb_json *j, long long v);
void nb_json_uint(nb_json *j, unsigned long long v);
void nb_json_bool(nb_json *j, int v);
void nb_json_null(nb_json *j);

/* Ends the document with a newline and flushes out.  NB_OK, NB_ENOMEM when
 * the stream ran out of memory (an open_memstream buffer that could not
 * grow), NB_EIO when a write or the flush failed otherwise,
 * NB_ESTATE when the calls did not make one complete value (a container
 * left open, a key without a value, a value without a key inside an
 * object, more than NB_JSON_MAX_DEPTH levels). */
int nb_json_finish(nb_json *j);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_TEXT_H */
