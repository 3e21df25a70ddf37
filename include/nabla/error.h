/* nabla/error.h — status codes shared by every nabla module.
 *
 * Every fallible call returns an int status: NB_OK (0) on success, one of
 * the codes below otherwise.  nb_strerror() gives a fixed sentence for a code;
 * the detailed message of a failure ("matmul: (3x4) x (5x2): inner sizes
 * differ") is kept on the object the call worked on (see nb_graph_errmsg()).
 *
 * The table is an X-macro so that the enum, the names and the messages
 * cannot drift apart.
 */
#ifndef NABLA_ERROR_H
#define NABLA_ERROR_H

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

/* Fixed sentence for a status code; never NULL ("unknown status" for codes
 * outside the table). */
const char *nb_strerror(int status);

/* The symbol of a status code as a string ("NB_ESHAPE"); never NULL. */
const char *nb_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_ERROR_H */
