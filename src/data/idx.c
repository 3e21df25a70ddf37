/* idx.c — IDX files (LeCun's MNIST format), plain or gzip, and the
 * Fashion-MNIST loader built on them.
 *
 * Layout (yann.lecun.com/exdb/mnist): bytes 00 00, a type byte, the number
 * of dimensions, then one big-endian uint32 per dimension, then the values,
 * big-endian, row-major.  Nothing follows the values.
 *
 * A file is read whole into a byte buffer before any double is allocated, so
 * that a header claiming more than the file holds costs nothing: plain
 * regular files are checked against their size before reading, gzip streams
 * grow the buffer geometrically as data actually arrives.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef NB_HAVE_ZLIB
#include <zlib.h>
#endif

#include <nabla/data.h>
#include "data/data.h"


/* ---- byte source: FILE or gzFile ---------------------------------------- */

typedef struct reader {
    const char *path;
    char echo[NB_ERROR_ECHO_LEN];   /* path as messages show it */
    FILE *f;
#ifdef NB_HAVE_ZLIB
    gzFile gz;
#endif
    int gzip;
    int sized;            /* plain regular file: size is known */
    size_t pos;           /* bytes delivered so far (decompressed) */
    size_t size;          /* its size in bytes */
} reader;

static void reader_close(reader *r)
{
    if (r->f != NULL)
        fclose(r->f);
#ifdef NB_HAVE_ZLIB
    if (r->gz != NULL)
        gzclose(r->gz);
#endif
}

static int reader_open(reader *r, const char *path, nb_error *err)
{
    unsigned char magic[2];
    size_t got;
    struct stat sb;

    memset(r, 0, sizeof *r);
    r->path = path;
    nbi_echo_path(r->echo, path);
    r->f = fopen(path, "rb");
    if (r->f == NULL)
        return nb_error_set(err, NB_EIO, "%s: cannot open: %s", r->echo,
                    strerror(errno));
    got = fread(magic, 1, 2, r->f);
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        fclose(r->f);
        r->f = NULL;
        r->gzip = 1;
#ifdef NB_HAVE_ZLIB
        errno = 0;
        r->gz = gzopen(path, "rb");
        if (r->gz == NULL)
            return nb_error_set(err, errno ? NB_EIO : NB_ENOMEM,
                        "%s: cannot open: %s", r->echo,
                        errno ? strerror(errno) : "out of memory");
        gzbuffer(r->gz, 1u << 17);
        return NB_OK;
#else
        return nb_error_set(err, NB_EUNSUPPORTED,
                    "%s: gzip-compressed, but this build of nabla has no "
                    "zlib; decompress it (gunzip -k) or rebuild with zlib",
                    r->echo);
#endif
    }
    if (fseek(r->f, 0, SEEK_SET) != 0) {
        reader_close(r);
        return nb_error_set(err, NB_EIO, "%s: cannot seek: %s", r->echo,
                    strerror(errno));
    }
    if (fstat(fileno(r->f), &sb) == 0 && S_ISREG(sb.st_mode)
        && (uintmax_t)sb.st_size <= SIZE_MAX) {
        r->sized = 1;
        r->size = (size_t)sb.st_size;
    }
    return NB_OK;
}

/* Reads up to len bytes; *got < len only at the end of the data.  Errors:
 * NB_EIO for the system, NB_EFORMAT for a corrupt or cut gzip stream. */
static int reader_read(reader *r, void *buf, size_t len, size_t *got,
                       nb_error *err)
{
    *got = 0;
    if (!r->gzip) {
        *got = fread(buf, 1, len, r->f);
        r->pos += *got;
        if (*got < len && ferror(r->f))
            return nb_error_set(err, NB_EIO, "%s: read error: %s", r->echo,
                        strerror(errno));
        return NB_OK;
    }
#ifdef NB_HAVE_ZLIB
    while (*got < len) {
        size_t want = len - *got;
        int n, errnum;
        if (want > (size_t)INT_MAX / 2)
            want = (size_t)INT_MAX / 2;
        n = gzread(r->gz, (unsigned char *)buf + *got, (unsigned)want);
        if (n > 0) {
            *got += (size_t)n;
            r->pos += (size_t)n;
        }
        if (n < 0 || (size_t)n < want) {
            const char *zmsg = gzerror(r->gz, &errnum);
            size_t plen = strlen(r->path);
            /* zlib prefixes the path: "<path>: unexpected end of file" */
            if (strncmp(zmsg, r->path, plen) == 0 && zmsg[plen] == ':')
                zmsg += plen + (zmsg[plen + 1] == ' ' ? 2 : 1);
            if (errnum == Z_ERRNO)
                return nb_error_set(err, NB_EIO, "%s: read error: %s",
                            r->echo, strerror(errno));
            if (errnum == Z_MEM_ERROR)
                return nb_error_set(err, NB_ENOMEM, "%s: zlib: out of memory",
                            r->echo);
            if (errnum != Z_OK)
                return nb_error_set(err, NB_EFORMAT,
                            "%s: corrupt gzip data after %zu decompressed "
                            "bytes: %s", r->echo, r->pos, zmsg);
            break;  /* clean end of stream */
        }
    }
#endif
    return NB_OK;
}

/* ---- the format --------------------------------------------------------- */

static const char *type_name(unsigned type, size_t *width)
{
    switch (type) {
    case 0x08: *width = 1; return "ubyte";
    case 0x09: *width = 1; return "sbyte";
    case 0x0B: *width = 2; return "int16";
    case 0x0C: *width = 4; return "int32";
    case 0x0D: *width = 4; return "float32";
    case 0x0E: *width = 8; return "float64";
    default:   *width = 0; return NULL;
    }
}

/* "60000x28x28" */
static const char *dims_str(const size_t *dims, size_t ndims, char *buf,
                            size_t len)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ndims && pos < len; i++) {
        int w = snprintf(buf + pos, len - pos, i ? "x%zu" : "%zu", dims[i]);
        if (w < 0)
            break;
        pos += (size_t)w;
    }
    return buf;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8
        | (uint32_t)p[3];
}

/* Converts n big-endian values of the given type; NB_EDOMAIN with *bad set
 * at the first NaN or infinity. */
static int convert(unsigned type, const unsigned char *p, size_t n,
                   double *out, size_t *bad)
{
    size_t i;
    switch (type) {
    case 0x08:
        for (i = 0; i < n; i++)
            out[i] = p[i];
        break;
    case 0x09:
        for (i = 0; i < n; i++)
            out[i] = p[i] < 128 ? (double)p[i] : (double)p[i] - 256.0;
        break;
    case 0x0B:
        for (i = 0; i < n; i++) {
            unsigned u = (unsigned)p[2 * i] << 8 | p[2 * i + 1];
            out[i] = u < 32768u ? (double)u : (double)u - 65536.0;
        }
        break;
    case 0x0C:
        for (i = 0; i < n; i++) {
            uint32_t u = be32(p + 4 * i);
            out[i] = u < 0x80000000u ? (double)u : (double)u - 4294967296.0;
        }
        break;
    case 0x0D:
        for (i = 0; i < n; i++) {
            uint32_t u = be32(p + 4 * i);
            float f;
            memcpy(&f, &u, sizeof f);
            out[i] = f;
        }
        break;
    case 0x0E:
        for (i = 0; i < n; i++) {
            uint64_t u = (uint64_t)be32(p + 8 * i) << 32 | be32(p + 8 * i + 4);
            memcpy(&out[i], &u, sizeof out[i]);
        }
        break;
    }
    if (type == 0x0D || type == 0x0E)
        for (i = 0; i < n; i++)
            if (!isfinite(out[i])) {
                *bad = i;
                return NB_EDOMAIN;
            }
    return NB_OK;
}

/* Reads exactly need bytes of payload into a fresh buffer (*raw), growing it
 * only as data arrives; *got is what was there when the data ended short. */
static int read_payload(reader *r, size_t need, unsigned char **raw,
                        size_t *got, nb_error *err)
{
    size_t cap = r->sized ? need : (need < ((size_t)1 << 20) ? need : (size_t)1 << 20);
    unsigned char *buf = malloc(cap > 0 ? cap : 1);
    int st = NB_OK;

    *raw = NULL;
    *got = 0;
    if (buf == NULL)
        return nb_error_set(err, NB_ENOMEM, "%s: out of memory for %zu bytes",
                    r->echo, need);
    for (;;) {
        size_t n;
        st = reader_read(r, buf + *got, cap - *got, &n, err);
        if (st != NB_OK)
            break;
        *got += n;
        if (*got < cap || cap == need)
            break;  /* end of data, or everything read */
        size_t ncap = cap > need / 2 ? need : 2 * cap;
        unsigned char *nbuf = realloc(buf, ncap);
        if (nbuf == NULL) {
            st = nb_error_set(err, NB_ENOMEM, "%s: out of memory for %zu bytes",
                      r->echo, need);
            break;
        }
        buf = nbuf;
        cap = ncap;
    }
    if (st != NB_OK) {
        free(buf);
        return st;
    }
    *raw = buf;
    return NB_OK;
}

int nb_idx_read(const char *path, nb_idx *out, nb_error *err)
{
    reader r;
    unsigned char head[4], dimbytes[4 * NB_IDX_MAX_DIMS];
    unsigned char *raw = NULL;
    size_t got, width, need, header_len;
    const char *tname;
    char shape[NB_IDX_MAX_DIMS * 21];
    nb_idx idx;
    int st;
    if (out == NULL || path == NULL)
        return nb_error_set(err, NB_EINVAL, "nb_idx_read: NULL argument");
    memset(out, 0, sizeof *out);
    char ep[NB_ERROR_ECHO_LEN];
    const char *P = nbi_echo_path(ep, path);
    memset(&idx, 0, sizeof idx);

    st = reader_open(&r, path, err);
    if (st != NB_OK)
        return st;

    st = reader_read(&r, head, 4, &got, err);
    if (st != NB_OK)
        goto done;
    if (got < 4) {
        st = nb_error_set(err, NB_EFORMAT,
                  "%s: %zu bytes: too short for an IDX header (4 bytes of "
                  "magic, then the dimensions)", P, got);
        goto done;
    }
    if (head[0] != 0 || head[1] != 0) {
        st = nb_error_set(err, NB_EFORMAT,
                  "%s: not an IDX file: magic %02x %02x %02x %02x, expected "
                  "00 00 <type> <ndims>", P, head[0], head[1], head[2],
                  head[3]);
        goto done;
    }
    tname = type_name(head[2], &width);
    if (tname == NULL) {
        st = nb_error_set(err, NB_EFORMAT,
                  "%s: unknown IDX data type 0x%02x (known: 08 ubyte, 09 sbyte, "
                  "0b int16, 0c int32, 0d float32, 0e float64)", P, head[2]);
        goto done;
    }
    idx.type = (nb_idx_type)head[2];
    idx.ndims = head[3];
    if (idx.ndims == 0) {
        st = nb_error_set(err, NB_EFORMAT, "%s: IDX header with 0 dimensions",
                  P);
        goto done;
    }
    if (idx.ndims > NB_IDX_MAX_DIMS) {
        st = nb_error_set(err, NB_EUNSUPPORTED,
                  "%s: %zu dimensions; nabla reads at most %d", P,
                  idx.ndims, NB_IDX_MAX_DIMS);
        goto done;
    }
    st = reader_read(&r, dimbytes, 4 * idx.ndims, &got, err);
    if (st != NB_OK)
        goto done;
    if (got < 4 * idx.ndims) {
        st = nb_error_set(err, NB_EFORMAT,
                  "%s: truncated header: %zu dimensions need %zu bytes of "
                  "sizes, found %zu", P, idx.ndims, 4 * idx.ndims, got);
        goto done;
    }
    idx.size = 1;
    for (size_t i = 0; i < idx.ndims; i++) {
        idx.dims[i] = be32(dimbytes + 4 * i);
        if (idx.dims[i] == 0) {
            st = nb_error_set(err, NB_EFORMAT, "%s: dimension %zu is 0", P,
                      i + 1);
            goto done;
        }
    }
    for (size_t i = 0; i < idx.ndims; i++) {
        if (idx.dims[i] > NB_DATA_MAX_ELEMENTS / idx.size) {
            st = nb_error_set(err, NB_ERANGE,
                      "%s: %s %s is more than %zu values", P,
                      dims_str(idx.dims, idx.ndims, shape, sizeof shape),
                      tname, NB_DATA_MAX_ELEMENTS);
            goto done;
        }
        idx.size *= idx.dims[i];
    }
    dims_str(idx.dims, idx.ndims, shape, sizeof shape);
    need = idx.size * width;   /* <= 2^34: no overflow with 64-bit size_t */
    if (need / width != idx.size) {
        st = nb_error_set(err, NB_ERANGE, "%s: %s %s is too large for this "
                  "platform", P, shape, tname);
        goto done;
    }
    header_len = 4 + 4 * idx.ndims;
    if (r.sized && r.size != header_len + need) {
        if (r.size < header_len + need)
            st = nb_error_set(err, NB_EFORMAT,
                      "%s: truncated: %s %s needs %zu bytes of data, found %zu",
                      P, shape, tname, need, r.size - header_len);
        else
            st = nb_error_set(err, NB_EFORMAT,
                      "%s: %zu unexpected bytes after the %zu bytes of data "
                      "of %s %s", P, r.size - header_len - need, need, shape,
                      tname);
        goto done;
    }

    st = read_payload(&r, need, &raw, &got, err);
    if (st != NB_OK)
        goto done;
    if (got < need) {
        st = nb_error_set(err, NB_EFORMAT,
                  "%s: truncated: %s %s needs %zu bytes of data, found %zu%s",
                  P, shape, tname, need, got,
                  r.gzip ? " (after decompression)" : "");
        goto done;
    }
    {
        unsigned char extra;
        st = reader_read(&r, &extra, 1, &got, err);
        if (st != NB_OK)
            goto done;
        if (got > 0) {
            st = nb_error_set(err, NB_EFORMAT,
                      "%s: unexpected bytes after the %zu bytes of data of "
                      "%s %s", P, need, shape, tname);
            goto done;
        }
    }

    idx.data = malloc(idx.size * sizeof *idx.data);
    if (idx.data == NULL) {
        st = nb_error_set(err, NB_ENOMEM, "%s: out of memory for %zu values",
                  P, idx.size);
        goto done;
    }
    nbi_advise_huge(idx.data, idx.size * sizeof *idx.data);
    {
        size_t bad = 0;
        st = convert(idx.type, raw, idx.size, idx.data, &bad);
        if (st != NB_OK) {
            st = nb_error_set(err, NB_EDOMAIN,
                      "%s: value %zu (0-based, row-major) is %g", P, bad,
                      idx.data[bad]);
            goto done;
        }
    }
    *out = idx;
    idx.data = NULL;

done:
    free(raw);
    free(idx.data);
    reader_close(&r);
    return st;
}

void nb_idx_free(nb_idx *idx)
{
    if (idx == NULL)
        return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}

/* ---- image/label pairs -------------------------------------------------- */

int nb_dataset_load_idx(const char *images_path, const char *labels_path,
                        nb_dataset *out, nb_error *err)
{
    nb_idx img, lab;
    nb_dataset ds = {0};
    size_t max = 0;
    int st;
    if (out == NULL || images_path == NULL)
        return nb_error_set(err, NB_EINVAL, "nb_dataset_load_idx: NULL argument");
    memset(out, 0, sizeof *out);
    char ei[NB_ERROR_ECHO_LEN], el[NB_ERROR_ECHO_LEN];
    const char *EI = nbi_echo_path(ei, images_path);
    const char *EL = labels_path ? nbi_echo_path(el, labels_path) : "";
    memset(&lab, 0, sizeof lab);

    st = nb_idx_read(images_path, &img, err);
    if (st != NB_OK)
        return st;
    if (labels_path != NULL) {
        st = nb_idx_read(labels_path, &lab, err);
        if (st != NB_OK)
            goto done;
        if (lab.ndims != 1) {
            char shape[NB_IDX_MAX_DIMS * 21];
            st = nb_error_set(err, NB_ESHAPE,
                      "%s: labels must be 1-d, got %s", EL,
                      dims_str(lab.dims, lab.ndims, shape, sizeof shape));
            goto done;
        }
        if (lab.dims[0] != img.dims[0]) {
            st = nb_error_set(err, NB_ESHAPE,
                      "%s has %zu images but %s has %zu labels", EI,
                      img.dims[0], EL, lab.dims[0]);
            goto done;
        }
        for (size_t i = 0; i < lab.size; i++) {
            double v = lab.data[i];
            if (!(v >= 0.0 && v <= 255.0 && v == floor(v))) {
                st = nb_error_set(err, NB_ERANGE,
                          "%s: label %g at index %zu is not a class in 0..255",
                          EL, v, i);
                goto done;
            }
            if ((size_t)v > max)
                max = (size_t)v;
        }
    }

    ds.n = img.dims[0];
    ds.d = img.size / img.dims[0];
    if (labels_path != NULL) {
        ds.label = malloc(ds.n * sizeof *ds.label);
        if (ds.label == NULL) {
            st = nb_error_set(err, NB_ENOMEM, "%s: out of memory", EL);
            goto done;
        }
        for (size_t i = 0; i < ds.n; i++)
            ds.label[i] = (size_t)lab.data[i];
        ds.n_classes = max + 1;
    }
    ds.x = img.data;      /* ownership moves to the data set */
    img.data = NULL;
    *out = ds;

done:
    nb_idx_free(&img);
    nb_idx_free(&lab);
    return st;
}

/* ---- Fashion-MNIST ------------------------------------------------------ */

#define FASHION_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

static const char *const fashion_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

/* buf := dir/name.gz if it exists, else dir/name if it exists. */
static int find_file(const char *dir, const char *name, char *buf, size_t len)
{
    struct stat sb;
    int w;

    w = snprintf(buf, len, "%s/%s.gz", dir, name);
    if (w < 0 || (size_t)w >= len)
        return NB_ERANGE;
    if (stat(buf, &sb) == 0 && !S_ISDIR(sb.st_mode))
        return NB_OK;
    buf[w - 3] = '\0';
    if (stat(buf, &sb) == 0 && !S_ISDIR(sb.st_mode))
        return NB_OK;
    return NB_ENOTFOUND;
}

int nb_fashion_mnist_dir(char *buf, size_t len)
{
    const char *dir = getenv("NABLA_FASHION_MNIST_DIR");
    char probe[4096];

    if (buf == NULL || len == 0)
        return NB_EINVAL;
    if (dir == NULL || dir[0] == '\0')
        dir = FASHION_DEFAULT_DIR;
    if (strlen(dir) >= len) {
        buf[0] = '\0';
        return NB_ERANGE;
    }
    memcpy(buf, dir, strlen(dir) + 1);
    return find_file(dir, "train-images-idx3-ubyte", probe, sizeof probe)
        == NB_OK ? NB_OK : NB_ENOTFOUND;
}

int nb_dataset_load_fashion_mnist(const char *dir, int train, nb_dataset *out,
                                  nb_error *err)
{
    char dirbuf[4096], images[4200], labels[4200];
    const char *set = train ? "train" : "t10k";
    char name[64];
    nb_dataset ds;
    int st;
    if (out == NULL)
        return nb_error_set(err, NB_EINVAL,
                    "nb_dataset_load_fashion_mnist: NULL argument");
    memset(out, 0, sizeof *out);
    char ed[NB_ERROR_ECHO_LEN], ei[NB_ERROR_ECHO_LEN];
    if (dir == NULL) {
        st = nb_fashion_mnist_dir(dirbuf, sizeof dirbuf);
        if (st == NB_ERANGE)
            return nb_error_set(err, st, "fashion-mnist: directory name too long");
        dir = dirbuf;
    }
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", set);
    st = find_file(dir, name, images, sizeof images);
    if (st == NB_OK) {
        snprintf(name, sizeof name, "%s-labels-idx1-ubyte", set);
        st = find_file(dir, name, labels, sizeof labels);
    }
    if (st == NB_ERANGE)
        return nb_error_set(err, st, "fashion-mnist: directory name too long");
    if (st != NB_OK)
        return nb_error_set(err, st,
                    "fashion-mnist: no %s/%s(.gz); install the "
                    "dataset-fashion-mnist package or set "
                    "NABLA_FASHION_MNIST_DIR", nbi_echo_path(ed, dir), name);

    st = nb_dataset_load_idx(images, labels, &ds, err);
    if (st != NB_OK)
        return st;
    if (ds.d != 28 * 28 || ds.n_classes > 10) {
        st = nb_error_set(err, NB_EFORMAT,
                  "%s: %zu values per image and %zu classes; Fashion-MNIST "
                  "has 784 (28x28) and 10", nbi_echo_path(ei, images), ds.d, ds.n_classes);
        nb_dataset_free(&ds);
        return st;
    }
    ds.n_classes = 10;    /* even if a subset lacks the last class */
    ds.class_names = calloc(10, sizeof *ds.class_names);
    if (ds.class_names == NULL)
        goto nomem;
    for (size_t c = 0; c < 10; c++) {
        size_t n = strlen(fashion_classes[c]) + 1;
        ds.class_names[c] = malloc(n);
        if (ds.class_names[c] == NULL)
            goto nomem;
        memcpy(ds.class_names[c], fashion_classes[c], n);
    }
    *out = ds;
    return NB_OK;

nomem:
    nb_dataset_free(&ds);
    return nb_error_set(err, NB_ENOMEM, "fashion-mnist: out of memory");
}
