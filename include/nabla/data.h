/* nabla/data.h — data sets: IDX (MNIST) and CSV readers, Fashion-MNIST,
 * seeded generators (moons, spirals, blobs, truth tables) and the row
 * helpers a training loop needs (one-hot targets, splits, mini-batches).
 *
 * A data set is n rows of d doubles, row-major, with an optional class label
 * per row.  The struct is the caller's (usually on the stack); its buffers
 * belong to the library that filled them and are released by
 * nb_dataset_free().  Start from a zeroed struct:
 *
 *     nb_dataset ds = {0};
 *     nb_error err;
 *     int st = nb_csv_read("iris.csv", "species", &ds, &err);
 *     if (st != NB_OK) fprintf(stderr, "%s\n", err.msg);   // "iris.csv:17: ..."
 *     ...
 *     nb_dataset_free(&ds);
 *
 * Errors.  Every fallible call returns NB_OK or a status of nabla/error.h.
 * Calls that read files also fill an optional error object (nb_error *err,
 * NULL allowed; see nabla/error.h) whose one-line message names the file
 * and, where it applies, the line and the column, and echoes at most a short,
 * escaped piece of the offending field.  A call that succeeds leaves err
 * untouched.  A call that fails leaves
 * no half-built result: an output struct is set to all zeros (so freeing it
 * is safe), caller-provided buffers may have been partly written.  An output
 * struct is overwritten, not freed: free what it held before reusing it.
 *
 * Sizes.  A data set, an IDX array or a CSV table holds at most
 * NB_DATA_MAX_ELEMENTS values (2^31; 16 GiB of doubles) and at most
 * NB_DATA_MAX_CLASSES classes; larger claims in a file are NB_ERANGE before
 * anything is allocated, so a corrupt header cannot make us allocate
 * terabytes.
 *
 * Randomness comes only from the nb_rng passed in (see nabla/rng.h); with
 * the same seed the generators reproduce the NumPy / scikit-learn code they
 * name, value for value.
 */
#ifndef NABLA_DATA_H
#define NABLA_DATA_H

#include <stddef.h>
#include <nabla/error.h>
#include <nabla/rng.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_DATA_MAX_ELEMENTS ((size_t)1 << 31)
#define NB_DATA_MAX_CLASSES  65536
#define NB_IDX_MAX_DIMS      8

typedef struct nb_dataset {
    size_t n, d;
    double *x;            /* (n, d) row-major */
    size_t *label;        /* (n), each < n_classes; NULL when unlabelled */
    size_t n_classes;     /* 0 when unlabelled */
    char **feature_names; /* (d) or NULL (CSV header names) */
    char **class_names;   /* (n_classes) or NULL (CSV string labels,
                           * Fashion-MNIST) */
} nb_dataset;

/* ---- the data set itself ------------------------------------------------ */

/* Allocates a zero-filled (n, d) data set; labels (all 0) when
 * n_classes > 0, none when n_classes == 0.  NB_EINVAL for n or d == 0,
 * NB_ERANGE beyond the limits above, NB_ENOMEM.  Free with
 * nb_dataset_free(). */
int nb_dataset_init(nb_dataset *out, size_t n, size_t d, size_t n_classes);

/* Frees everything ds holds and zeroes it; ds itself is the caller's.
 * nb_dataset_free(NULL) and freeing a zeroed struct are no-ops. */
void nb_dataset_free(nb_dataset *ds);

/* out (n, n_classes) := one-hot rows of the labels.  NB_EINVAL when ds has
 * no labels. */
int nb_dataset_onehot(const nb_dataset *ds, double *out);

/* x *= factor for every value (e.g. 1.0/255 for pixels).  NB_EDOMAIN when
 * factor is not finite (x is then unchanged). */
int nb_dataset_scale(nb_dataset *ds, double factor);

/* The values as bytes, for gathering mini-batches from an eighth of the
 * memory (nb_input_rows_u8): on NB_OK *bytes (n*d, row-major, malloc'd;
 * free() it) holds b_i with x[i] == (double)b_i * scale exactly for every
 * i: images loaded from bytes then scaled by nb_dataset_scale(ds, scale),
 * or unscaled with scale 1.  NB_EDOMAIN (nothing allocated) when some value
 * is not such a byte times scale (standardised features, say) or scale is
 * not finite and positive; NB_EINVAL for NULL arguments; NB_ENOMEM.  One
 * pass over x (~50 ms for Fashion-MNIST).  A copy: later changes to x are
 * not reflected. */
int nb_dataset_to_bytes(const nb_dataset *ds, double scale, unsigned char **bytes);

/* out := the k rows rows[0..k-1] of src, in that order (repeats allowed),
 * with src's n_classes and copies of its names, so that one-hot widths of a
 * subset and its source agree.  rows NULL means the first k rows.  Allocates
 * out (free with nb_dataset_free()).  NB_EINVAL for k == 0, NB_ERANGE for
 * an index >= src->n or k > src->n with rows NULL. */
int nb_dataset_subset(const nb_dataset *src, const size_t *rows, size_t k,
                      nb_dataset *out);

/* head := the first k rows of src, tail := the other n - k (a validation
 * split: shuffle first if the rows are ordered).  Needs 0 < k < n.  On
 * error both are zeroed. */
int nb_dataset_split(const nb_dataset *src, size_t k, nb_dataset *head,
                     nb_dataset *tail);

/* A mini-batch without allocation: for b < k, row rows[b] of src goes to
 * x[b] (x: (k, d)), its one-hot target to y[b] (y: (k, n_classes), or NULL)
 * and its label to label[b] (label: (k), or NULL).  y or label non-NULL
 * need a labelled src.  NB_ERANGE for an index >= src->n. */
int nb_dataset_gather(const nb_dataset *src, const size_t *rows, size_t k,
                      double *x, double *y, size_t *label);

/* Shuffles the rows in place exactly like sklearn.utils.shuffle(X, y,
 * random_state=rng): perm := permutation(n); row i := old row perm[i].
 * Allocates a temporary copy (NB_ENOMEM leaves ds unchanged). */
int nb_dataset_shuffle(nb_dataset *ds, nb_rng *rng);

/* ---- IDX files (the MNIST format) --------------------------------------- */

/* The IDX type byte (all types big-endian in the file). */
typedef enum nb_idx_type {
    NB_IDX_UBYTE   = 0x08,
    NB_IDX_SBYTE   = 0x09,
    NB_IDX_INT16   = 0x0B,
    NB_IDX_INT32   = 0x0C,
    NB_IDX_FLOAT32 = 0x0D,
    NB_IDX_FLOAT64 = 0x0E
} nb_idx_type;

/* An IDX array: dims[0] x ... x dims[ndims-1], row-major, converted to
 * double; type is the file's type byte. */
typedef struct nb_idx {
    nb_idx_type type;
    size_t ndims;
    size_t dims[NB_IDX_MAX_DIMS];
    size_t size;          /* product of dims */
    double *data;         /* (size) */
} nb_idx;

/* Reads an IDX file, plain or gzip-compressed (recognised by its first two
 * bytes, 1f 8b, whatever its name).  Without zlib in the build a gzip file
 * is NB_EUNSUPPORTED.  Checks: magic 00 00 <type> <ndims> (NB_EFORMAT),
 * 1 <= ndims <= NB_IDX_MAX_DIMS (else NB_EFORMAT / NB_EUNSUPPORTED), no
 * zero dimension (NB_EFORMAT), product of dims <= NB_DATA_MAX_ELEMENTS
 * (NB_ERANGE, overflow included), exactly the announced number of data
 * bytes: a short file is NB_EFORMAT ("needs 18 bytes of data, found 10"),
 * and so are bytes after the data (an IDX file has no trailer; extra bytes
 * mean a wrong or concatenated file).  NaN or infinity in float data is
 * NB_EDOMAIN.  Cannot open / read: NB_EIO.  Allocates out->data (free with
 * nb_idx_free()); out is zeroed on error. */
int nb_idx_read(const char *path, nb_idx *out, nb_error *err);

/* Frees idx->data and zeroes idx; NULL is a no-op. */
void nb_idx_free(nb_idx *idx);

/* An image/label pair: images (n, ...) become n rows of d = product of the
 * other dims (28*28 = 784 for MNIST), values as stored (0..255 for bytes;
 * use nb_dataset_scale() for [0, 1]).  labels must be 1-d with the same n
 * (else NB_ESHAPE) and hold integers in 0..255 (else NB_ERANGE);
 * n_classes = max label + 1.  labels_path NULL gives an unlabelled set. */
int nb_dataset_load_idx(const char *images_path, const char *labels_path,
                        nb_dataset *out, nb_error *err);

/* Fashion-MNIST directory: $NABLA_FASHION_MNIST_DIR when set and not
 * empty, else /usr/share/datasets/fashion-mnist (Debian's
 * dataset-fashion-mnist package).  Writes it into buf (NB_ERANGE if len is too
 * small) and returns NB_OK when it holds train-images-idx3-ubyte(.gz),
 * NB_ENOTFOUND otherwise (buf still names where we looked). */
int nb_fashion_mnist_dir(char *buf, size_t len);

/* Loads the training (train != 0: 60000 images) or test set (10000) of
 * Fashion-MNIST from dir (NULL: nb_fashion_mnist_dir()): files
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte, each .gz or plain.
 * 28x28 images as 784 values in 0..255, 10 classes with their names. */
int nb_dataset_load_fashion_mnist(const char *dir, int train, nb_dataset *out,
                                  nb_error *err);

/* ---- CSV files ---------------------------------------------------------- */

/* Reads a CSV table: a header row of column names, then one row per data
 * point, comma-separated.  label_column names the column holding the class
 * (NULL: the last column; "": none, every column is a feature).  All other
 * columns must hold finite numbers (strtod syntax, with '.' as the decimal
 * point whatever the locale of the calling program).
 *
 * Labels: when every label field is a number, each must be an integer in
 * 0..NB_DATA_MAX_CLASSES-1 and n_classes = max + 1; otherwise the labels
 * are names, numbered 0, 1, ... in order of first appearance, and
 * class_names lists them.  feature_names lists the other headers.
 *
 * Lenient about: CRLF line ends, a missing final newline, blank lines
 * (skipped wherever they are), spaces around fields, a UTF-8 byte-order
 * mark, fields in double quotes ("" for a quote; no newline inside).
 * Errors, each naming file:line and the column number and name:
 * NB_EIO (cannot open/read), NB_EFORMAT (empty file, no data rows, a row
 * with the wrong number of fields, an empty field, not a number, a bad
 * quote, a NUL byte, no feature column, two columns named label_column),
 * NB_EDOMAIN (NaN or infinity), NB_ENOTFOUND (no column label_column; the
 * message lists the columns), NB_ERANGE (label out of range, too many
 * values or classes).  out zeroed on error. */
int nb_csv_read(const char *path, const char *label_column, nb_dataset *out,
                nb_error *err);

/* ---- generators --------------------------------------------------------- */

/* sklearn.datasets.make_moons(n_samples=n, shuffle=True, noise=noise,
 * random_state=rng), value for value: n/2 points on the upper half circle
 * (label 0), n - n/2 on the lower one shifted by (1, -0.5) (label 1), rows
 * shuffled (nb_dataset_shuffle), then N(0, noise^2) added to x then y of
 * each row.  noise 0 still draws (like noise=0.0 in scikit-learn).
 * NB_EINVAL for n == 0, NB_EDOMAIN for noise < 0 or not finite. */
int nb_make_moons(size_t n, double noise, nb_rng *rng, nb_dataset *out);

/* The CS231n spiral (cs231n.github.io/neural-networks-case-study): for
 * class j < k, n_per_class points with r = linspace(0, 1, N) and
 * t = linspace(4j, 4(j+1), N) + noise * randn(N), x = (r sin t, r cos t);
 * rows ordered by class, not shuffled.  noise 0 still draws. */
int nb_make_spirals(size_t n_per_class, size_t k, double noise, nb_rng *rng,
                    nb_dataset *out);

/* sklearn.datasets.make_blobs(n_samples=n, n_features=d, centers=k,
 * cluster_std=std, center_box=(box_lo, box_hi), shuffle=True,
 * random_state=rng): k centres uniform in the box, n/k points per centre
 * (the first n % k centres get one more) drawn N(centre, std^2), rows
 * shuffled.  centers (k, d) receives the centres when not NULL. */
int nb_make_blobs(size_t n, size_t d, size_t k, double std, double box_lo,
                  double box_hi, nb_rng *rng, nb_dataset *out,
                  double *centers);

/* Truth tables of two inputs, 4 rows, 2 classes, by name:
 *   "and", "or", "xor"  x = (0,0), (0,1), (1,0), (1,1)
 *   "trask2"            x = (0,0,1), (0,1,1), (1,0,1), (1,1,1), y = 0 0 1 1
 *   "trask3"            the same x, y = 0 1 1 0 (XOR with a bias column)
 * (trask2/3: the 2- and 3-layer examples of A. Trask, "A Neural Network in
 * 11 lines of Python", 2015.)  NB_ENOTFOUND, with the known names in err,
 * for any other name. */
int nb_make_truth_table(const char *name, nb_dataset *out, nb_error *err);

/* Name of the i-th truth table, NULL past the last one (to iterate). */
const char *nb_truth_table_name(size_t i);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_DATA_H */
