/* nabla/archive.h — a small versioned binary container of named double
 * matrices plus string key/value metadata, and the model files built on it.
 *
 * An archive in memory holds tensors (name, (rows, cols), row-major
 * doubles) and metadata strings (key, value), each kept in insertion order.
 * nb_archive_write() stores it atomically (temporary file, fsync, rename);
 * nb_archive_read() checks everything before handing back an archive.  The
 * byte layout is documented in docs/formats-archive.md: little-endian uint64
 * counts and sizes, IEEE-754 binary64 values, magic "NABLAARC", format
 * version 1, CRC-32 trailer.
 *
 *     nb_archive *ar = nb_archive_alloc();
 *     nb_archive_put(ar, "w1", 2, 3, w);            // (2,3), copied
 *     nb_archive_put_str(ar, "dataset", "moons");
 *     nb_error err;
 *     if (nb_archive_write(ar, "run/ckpt.nbar", &err) != NB_OK)
 *         fprintf(stderr, "%s\n", err.msg);
 *     nb_archive_free(ar);
 *
 * Errors.  Calls that touch files return a status and fill an optional error
 * object (nb_error *err, NULL allowed; nabla/error.h) whose one-line message
 * names the file and the tensor or field at fault (names escaped and cut to
 * about 80 characters).  A call that succeeds leaves err untouched.
 *
 * Limits.  Names and keys are 1..NB_ARCHIVE_NAME_MAX bytes, values at most
 * NB_ARCHIVE_VALUE_MAX bytes; neither may contain a NUL byte (they are C
 * strings).  Tensors may be empty (rows or cols 0) and hold only finite
 * values.  A file's claims are checked against the file's size before
 * anything is allocated, so a forged header cannot make the reader allocate
 * more than the file's own size.
 *
 * An archive is not thread-safe; distinct archives are independent.
 */
#ifndef NABLA_ARCHIVE_H
#define NABLA_ARCHIVE_H

#include <stddef.h>
#include <nabla/error.h>
#include <nabla/graph.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_ARCHIVE_MAGIC      "NABLAARC"   /* 8 bytes, no NUL in the file */
#define NB_ARCHIVE_VERSION    1
#define NB_ARCHIVE_NAME_MAX   4096         /* bytes of a name or key */
#define NB_ARCHIVE_VALUE_MAX  (1u << 20)   /* bytes of a metadata value */

typedef struct nb_archive nb_archive;

/* An empty archive; NULL when out of memory.  nb_archive_alloc_with() uses
 * *allocator (copied; NULL: malloc/free) for every allocation the archive
 * makes, so tests can make the n-th one fail.  nb_archive_free(NULL) is a
 * no-op; freeing releases every tensor and string the archive holds. */
nb_archive *nb_archive_alloc(void);
nb_archive *nb_archive_alloc_with(const nb_allocator *allocator);
void nb_archive_free(nb_archive *ar);

/* Stores a copy of data (rows*cols doubles, row-major; may be NULL when
 * rows*cols == 0) under name, replacing a tensor of the same name in place
 * (its position is kept).  NB_EINVAL for a NULL archive, an empty or too
 * long name, NULL data for a non-empty tensor; NB_ERANGE when rows*cols*8
 * overflows size_t; NB_EDOMAIN when data holds NaN or infinity; NB_ENOMEM.
 * On failure the archive is unchanged. */
int nb_archive_put(nb_archive *ar, const char *name, size_t rows, size_t cols,
                   const double *data);

/* Stores a copy of value under key (metadata), replacing the same key.
 * NB_EINVAL for NULL arguments, an empty or too long key, a too long value;
 * NB_ENOMEM.  On failure the archive is unchanged. */
int nb_archive_put_str(nb_archive *ar, const char *key, const char *value);

/* The tensor stored under name, (rows, cols) row-major, or NULL when absent
 * (rows and cols may be NULL).  Borrowed: valid until the archive is freed
 * or that name is replaced.  Never NULL for a present empty tensor. */
const double *nb_archive_get(const nb_archive *ar, const char *name,
                             size_t *rows, size_t *cols);

/* The metadata value stored under key, or NULL.  Borrowed, as above. */
const char *nb_archive_get_str(const nb_archive *ar, const char *key);

/* Tensors in insertion order: their count and the i-th name (NULL when out
 * of range). */
size_t nb_archive_count(const nb_archive *ar);
const char *nb_archive_name_at(const nb_archive *ar, size_t i);

/* Metadata in insertion order: their count and the i-th key (NULL when out
 * of range). */
size_t nb_archive_str_count(const nb_archive *ar);
const char *nb_archive_key_at(const nb_archive *ar, size_t i);

/* Writes ar to path atomically: a temporary file in the same directory
 * (path + ".tmp.<pid>.<n>", mode 0666 minus umask), fwrite, fflush, fsync,
 * rename over path, fsync the directory.  On any failure before the rename
 * the temporary is removed and path is untouched (old content intact).
 * NB_EINVAL for NULL arguments; NB_EIO for any system call failure (the
 * message names the file and strerror(errno)); NB_ENOMEM.  When only the
 * final fsync of the directory fails the new file is in place but NB_EIO is
 * returned (its durability is not guaranteed). */
int nb_archive_write(const nb_archive *ar, const char *path, nb_error *err);

/* Reads the archive at path into a new archive (*out, free it with
 * nb_archive_free()).  Strict: NB_EIO when the file cannot be opened or
 * read; NB_EFORMAT for a wrong magic, a truncated file, sizes that exceed
 * what the file holds, names that are empty, too long, hold a NUL byte or
 * repeat, bytes after the last record; NB_EVERSION for another format
 * version (the message says which); NB_ECHECKSUM when the CRC-32 differs;
 * NB_EDOMAIN for a NaN or infinite value (the message names the tensor and
 * the index); NB_ENOMEM.  On any error *out is NULL and nothing is kept.
 * nb_archive_read_with() allocates through *allocator (NULL: malloc). */
int nb_archive_read(const char *path, nb_archive **out, nb_error *err);
int nb_archive_read_with(const char *path, const nb_allocator *allocator,
                         nb_archive **out, nb_error *err);

/* ---- models -------------------------------------------------------------- */

/* Metadata "kind" of a model file. */
#define NB_MODEL_KIND "nabla-model"

/* Saves every parameter of g as a tensor named after it, in g's parameter
 * order, with metadata "kind" = NB_MODEL_KIND and "nabla_version".  Atomic,
 * as nb_archive_write().  NB_EINVAL for NULL arguments. */
int nb_model_save(nb_graph *g, const char *path, nb_error *err);

/* Loads a model file into g's parameters (values only; gradients are left
 * alone; call nb_graph_forward() to propagate).  Every name and shape is
 * checked against g BEFORE any value is written: NB_EFORMAT when the file is
 * not a model (metadata "kind"), NB_ENOTFOUND when a parameter of g has no
 * tensor in the file or the file has a tensor g has no parameter for,
 * NB_ESHAPE when shapes differ (the message names the parameter and both
 * shapes); any read error of nb_archive_read().  On any failure g is
 * unchanged. */
int nb_model_load(nb_graph *g, const char *path, nb_error *err);

/* The same in memory: nb_model_put() stores every parameter of g into ar as
 * prefix + its name (prefix NULL: ""; NB_EINVAL when too long, NB_EDOMAIN
 * for a non-finite value, NB_ENOMEM), so that one checkpoint file can hold
 * the model next to the optimizer state (nb_optim_save()).  nb_model_get()
 * checks as nb_model_load() does, considering only the tensors whose names
 * start with prefix, ignores metadata, and writes nothing on failure.
 * A failed nb_model_put() may leave part of the tensors in ar. */
int nb_model_put(nb_graph *g, nb_archive *ar, const char *prefix);
int nb_model_get(nb_graph *g, const nb_archive *ar, const char *prefix,
                 nb_error *err);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_ARCHIVE_H */
