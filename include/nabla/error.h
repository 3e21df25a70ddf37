/* nabla/error.h — status codes shared by every nabla module.
 *
 * One convention for the whole library:
 *   - graph builders (nb_add, nb_matmul, ...) return NULL and keep a sticky
 *     status and message on the graph (nb_graph_status, nb_graph_errmsg);
 *   - every other fallible call returns an int status, NB_OK (0) on success,
 *     and fills an optional error object (nb_error *err, NULL allowed) with
 *     the status and a message that says what and where ("matmul: (3x4) x
 *     (5x2): inner sizes differ", "data.csv:12: label 7 outside 0..1");
 *   - checks report verdicts in their report and never turn a verdict into
 *     an error status.
 * nb_strerror() gives a fixed sentence for a code.
 *
 * The table is an X-macro so that the enum, the names and the messages
 * cannot drift apart.
 */
#ifndef NABLA_ERROR_H
#define NABLA_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*        symbol           value  message */
#define NB_STATUS_TABLE(X)                                                  \
    X(NB_OK,               0,  "success")                                   \
    X(NB_EINVAL,           1,  "invalid argument")                          \
    X(NB_ENOMEM,           2,  "out of memory")                             \
    X(NB_ESHAPE,           3,  "shape mismatch")                            \
    X(NB_EDOMAIN,          4,  "value outside the domain (NaN, infinity or out of range)") \
    X(NB_ENOTFOUND,        5,  "not found")                                 \
    X(NB_ESTATE,           6,  "operation not valid in the current state")  \
    X(NB_EGSL,             7,  "GSL reported a failure")                    \
    X(NB_EIO,              8,  "input/output error")                        \
    X(NB_EFORMAT,          9,  "malformed or truncated file")               \
    X(NB_EVERSION,         10, "unsupported file format version")           \
    X(NB_ECHECKSUM,        11, "checksum mismatch (corrupted file)")        \
    X(NB_ECONFIG,          12, "invalid configuration")                     \
    X(NB_ERANGE,           13, "size or value out of range")                \
    X(NB_EUNSUPPORTED,     14, "not supported by this build")

typedef enum nb_status {
#define NB_X_ENUM(sym, val, msg) sym = val,
    NB_STATUS_TABLE(NB_X_ENUM)
#undef NB_X_ENUM
    NB_STATUS_COUNT_
} nb_status;

/* The error object of every fallible call that is not a graph builder.
 * The caller owns it (usually on the stack); a call that succeeds leaves it
 * untouched, a call that fails sets both fields.  Messages echo at most a
 * short, escaped piece of any user input (nb_error_escape). */
#define NB_ERROR_MSG_MAX 512
typedef struct nb_error {
    nb_status status;            /* NB_OK when nothing failed */
    char msg[NB_ERROR_MSG_MAX];  /* "" when status is NB_OK */
} nb_error;

/* Sets err to NB_OK with an empty message; err may be NULL. */
void nb_error_clear(nb_error *err);

/* Records status and a printf-style message in err (when err != NULL) and
 * returns status, so that `return nb_error_set(err, NB_EIO, "...")` reports
 * and returns at once.  Usable by code built on nabla (user ops, tools). */
int nb_error_set(nb_error *err, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The message of err, or nb_strerror(err->status) when it has none; "" for
 * NULL or NB_OK. */
const char *nb_error_message(const nb_error *err);

/* Writes a printable excerpt of user input s (n bytes; n = (size_t)-1 for a
 * C string) into buf[len]: control characters and non-ASCII bytes escaped
 * (\n, \t, \xHH), at most max_chars characters printed for the excerpt
 * (an escape counts as the characters it prints, and is never cut), then
 * "... (N more bytes)" when part of s was left out.  Always one line and
 * NUL-terminated; buf needs max_chars + 40 bytes for the whole of it.
 * Returns buf. */
#define NB_ERROR_ECHO_MAX 80   /* what nabla's own messages echo */
#define NB_ERROR_ECHO_LEN (NB_ERROR_ECHO_MAX + 40)

/* For a printf argument (C only): the excerpt of s that nabla's messages
 * echo, in a compound literal that lives until the end of the enclosing
 * block.
 *     nb_error_set(err, NB_EIO, "%s: cannot open: %s", NB_ECHO(path), ...); */
#define NB_ECHO(s)                                                          \
    nb_error_escape((char[NB_ERROR_ECHO_LEN]){ 0 }, NB_ERROR_ECHO_LEN, (s), \
                    (size_t)-1, NB_ERROR_ECHO_MAX)
const char *nb_error_escape(char *buf, size_t len, const char *s, size_t n, size_t max_chars);

/* Fixed sentence for a status code; never NULL ("unknown status" for codes
 * outside the table). */
const char *nb_strerror(int status);

/* The symbol of a status code as a string ("NB_ESHAPE"); never NULL. */
const char *nb_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_ERROR_H */
