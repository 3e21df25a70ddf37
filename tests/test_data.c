/* test_data.c — data sets: IDX and CSV readers (every error path, on the
 * fixtures of tests/data/, made by tests/ref/make_fixtures.py), the row
 * helpers, Fashion-MNIST, and the generators against scikit-learn / NumPy.
 *
 * Golden values: tests/ref/sklearn_data.py run with Debian's python3-numpy
 * 1.24.2 and python3-sklearn 1.2.1, pasted with %.17g.  The make_blobs
 * labels are also printed in scikit-learn's own make_blobs docstring.
 * Fixtures are found through $NB_SRCDIR (the Makefile sets it to $(srcdir);
 * "." when unset).  Files a test writes go to a mkdtemp directory that the
 * test removes.
 */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include <nabla/data.h>
#include <nabla/graph.h>
#include <nabla/rng.h>

/* ---- helpers ------------------------------------------------------------ */

static const char *fixture(char *buf, size_t len, const char *name)
{
    const char *dir = getenv("NB_SRCDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = ".";
    int w = snprintf(buf, len, "%s/tests/data/%s", dir, name);
    ck_assert_msg(w > 0 && (size_t)w < len, "fixture path too long");
    return buf;
}

static int have_zlib(void)
{
#ifdef NB_HAVE_ZLIB
    return 1;
#else
    return 0;
#endif
}

/* A fresh temporary directory (under $TMPDIR or /tmp). */
static void make_tmpdir(char *buf, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    snprintf(buf, len, "%s/nabla-test-data-XXXXXX", tmp);
    ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp(%s) failed", buf);
}

static void write_file(const char *dir, const char *name, const void *data,
                       size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void remove_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    remove(path);
}

static int is_zero_dataset(const nb_dataset *ds)
{
    return ds->n == 0 && ds->d == 0 && ds->x == NULL && ds->label == NULL
        && ds->n_classes == 0 && ds->feature_names == NULL
        && ds->class_names == NULL;
}

/* Fills a struct with a non-zero pattern so that "zeroed on error" shows. */
static void scribble(void *p, size_t len)
{
    memset(p, 0x5a, len);
}

#define ck_assert_contains(haystack, needle)                                \
    ck_assert_msg(strstr((haystack), (needle)) != NULL,                     \
                  "message \"%s\" lacks \"%s\"", (haystack), (needle))

static double max_abs_diff(const double *a, const double *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (d > m || d != d)
            m = d;
    }
    return m;
}

/* ---- IDX ---------------------------------------------------------------- */

static const unsigned char tiny_pixels[18] = {
    0, 17, 255, 128, 3, 64,
    200, 1, 2, 99, 254, 31,
    7, 77, 177, 250, 0, 12,
};

static void check_tiny_images(const nb_idx *idx)
{
    ck_assert_uint_eq(idx->type, 0x08);
    ck_assert_uint_eq(idx->ndims, 3);
    ck_assert_uint_eq(idx->dims[0], 3);
    ck_assert_uint_eq(idx->dims[1], 2);
    ck_assert_uint_eq(idx->dims[2], 3);
    ck_assert_uint_eq(idx->size, 18);
    for (size_t i = 0; i < 18; i++)
        ck_assert_msg(idx->data[i] == tiny_pixels[i], "data[%zu] = %g", i,
                      idx->data[i]);
}

START_TEST(test_idx_plain)
{
    char path[512];
    nb_error err = {0};
    char *msg = err.msg;
    nb_idx idx;
    scribble(&idx, sizeof idx);
    int st = nb_idx_read(fixture(path, sizeof path, "tiny-images-idx3-ubyte"),
                         &idx, &err);
    ck_assert_msg(st == NB_OK, "%s", msg);
    check_tiny_images(&idx);
    nb_idx_free(&idx);
    ck_assert_ptr_null(idx.data);
    nb_idx_free(&idx);     /* twice: a no-op */
    nb_idx_free(NULL);
}
END_TEST

START_TEST(test_idx_gzip)
{
    char path[512];
    nb_error err = {0};
    char *msg = err.msg;
    nb_idx idx;
    int st = nb_idx_read(fixture(path, sizeof path, "tiny-images-idx3-ubyte.gz"),
                         &idx, &err);
    if (have_zlib()) {
        ck_assert_msg(st == NB_OK, "%s", msg);
        check_tiny_images(&idx);
        nb_idx_free(&idx);
    } else {
        ck_assert_int_eq(st, NB_EUNSUPPORTED);
        ck_assert_contains(msg, "zlib");
        ck_assert_ptr_null(idx.data);
    }
}
END_TEST

/* Every IDX type: big-endian, signed where the type is. */
START_TEST(test_idx_types)
{
    static const struct {
        const char *file;
        unsigned type;
        size_t ndims, dims[2];
        double values[4];
    } cases[] = {
        { "sbyte.idx",   0x09, 1, { 4, 0 }, { -128, -1, 0, 127 } },
        { "int16.idx",   0x0B, 2, { 2, 2 }, { -32768, -1, 0, 32767 } },
        { "int32.idx",   0x0C, 1, { 3, 0 }, { -2147483648.0, -7, 123456789 } },
        { "float32.idx", 0x0D, 2, { 2, 2 }, { 1.5, -2.25, 0.375, 1e10 } },
        /* float64 is exact; -0.1 and 2.385 are not representable in float */
        { "float64.idx", 0x0E, 1, { 3, 0 }, { -0.1, 2.385, 6.02214076e23 } },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[512];
        nb_error err = {0};
        char *msg = err.msg;
        nb_idx idx;
        int st = nb_idx_read(fixture(path, sizeof path, cases[c].file), &idx,
                             &err);
        ck_assert_msg(st == NB_OK, "%s: %s", cases[c].file, msg);
        ck_assert_uint_eq(idx.type, cases[c].type);
        ck_assert_uint_eq(idx.ndims, cases[c].ndims);
        size_t size = 1;
        for (size_t i = 0; i < idx.ndims; i++) {
            ck_assert_uint_eq(idx.dims[i], cases[c].dims[i]);
            size *= cases[c].dims[i];
        }
        ck_assert_uint_eq(idx.size, size);
        for (size_t i = 0; i < size; i++)
            ck_assert_msg(idx.data[i] == cases[c].values[i],
                          "%s[%zu] = %.17g, want %.17g", cases[c].file, i,
                          idx.data[i], cases[c].values[i]);
        nb_idx_free(&idx);
    }
}
END_TEST

typedef struct error_case {
    const char *file;
    int status;
    const char *fragment;   /* must appear in the message */
} error_case;

static void expect_idx_error(const error_case *ec)
{
    char path[512];
    nb_error err = {0};
    char *msg = err.msg;
    nb_idx idx;
    scribble(&idx, sizeof idx);
    msg[0] = 'x';
    msg[1] = '\0';
    int st = nb_idx_read(fixture(path, sizeof path, ec->file), &idx, &err);
    printf("  %-24s %-16s %s\n", ec->file, nb_status_name(st), msg);
    ck_assert_msg(st == ec->status, "%s: status %s, want %s (%s)", ec->file,
                  nb_status_name(st), nb_status_name(ec->status), msg);
    ck_assert_contains(msg, ec->file);
    ck_assert_contains(msg, ec->fragment);
    ck_assert_ptr_null(idx.data);
    ck_assert_uint_eq(idx.ndims, 0);
    ck_assert_uint_eq(idx.size, 0);
}

START_TEST(test_idx_errors)
{
    static const error_case cases[] = {
        { "no-such-file.idx",     NB_EIO,    "cannot open" },
        { "empty.idx",            NB_EFORMAT, "0 bytes: too short" },
        { "short-magic.idx",      NB_EFORMAT, "3 bytes: too short" },
        { "bad-magic.idx",        NB_EFORMAT, "not an IDX file: magic 50 35 0a 32" },
        { "bad-type.idx",         NB_EFORMAT, "unknown IDX data type 0x07" },
        { "zero-ndims.idx",       NB_EFORMAT, "0 dimensions" },
        { "too-many-dims.idx",    NB_EUNSUPPORTED, "9 dimensions; nabla reads at most 8" },
        { "zero-dim.idx",         NB_EFORMAT, "dimension 1 is 0" },
        { "truncated-header.idx", NB_EFORMAT, "truncated header: 3 dimensions need 12 bytes of sizes, found 6" },
        { "truncated.idx",        NB_EFORMAT, "truncated: 3x2x3 ubyte needs 18 bytes of data, found 10" },
        { "trailing.idx",         NB_EFORMAT, "2 unexpected bytes after the 3 bytes of data of 3 ubyte" },
        { "absurd-dims.idx",      NB_ERANGE, "65536x65536x65536 ubyte is more than 2147483648 values" },
        { "overflow-dims.idx",    NB_ERANGE, "is more than 2147483648 values" },
        { "float32-nan.idx",      NB_EDOMAIN, "value 2 (0-based, row-major) is nan" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        expect_idx_error(&cases[c]);
}
END_TEST

START_TEST(test_idx_gzip_errors)
{
    static const error_case with_zlib[] = {
        { "cut-stream.idx.gz", NB_EFORMAT, "corrupt gzip data" },
        { "truncated.idx.gz",  NB_EFORMAT, "needs 18 bytes of data, found 10 (after decompression)" },
        { "junk.gz",           NB_EFORMAT, "corrupt gzip data" },
    };
    static const error_case without_zlib[] = {
        { "cut-stream.idx.gz", NB_EUNSUPPORTED, "no zlib" },
        { "truncated.idx.gz",  NB_EUNSUPPORTED, "no zlib" },
        { "junk.gz",           NB_EUNSUPPORTED, "no zlib" },
    };
    for (size_t c = 0; c < 3; c++)
        expect_idx_error(have_zlib() ? &with_zlib[c] : &without_zlib[c]);
}
END_TEST

START_TEST(test_idx_msg_optional)
{
    /* err NULL is allowed; a failure sets status and message; a success
     * leaves err untouched. */
    char path[512];
    nb_error err;
    nb_idx idx;
    fixture(path, sizeof path, "truncated.idx");
    ck_assert_int_eq(nb_idx_read(path, &idx, NULL), NB_EFORMAT);
    nb_error_clear(&err);
    ck_assert_int_eq(nb_idx_read(path, &idx, &err), NB_EFORMAT);
    ck_assert_int_eq(err.status, NB_EFORMAT);
    ck_assert_contains(err.msg, "truncated.idx");
    ck_assert_int_eq(nb_idx_read(NULL, &idx, &err), NB_EINVAL);
    ck_assert_int_eq(err.status, NB_EINVAL);
    ck_assert_int_eq(nb_idx_read(path, NULL, &err), NB_EINVAL);
    nb_error_set(&err, NB_EIO, "stale");
    ck_assert_int_eq(nb_idx_read(fixture(path, sizeof path, "tiny-images-idx3-ubyte"),
                                 &idx, &err), NB_OK);
    ck_assert_int_eq(err.status, NB_EIO);
    ck_assert_str_eq(err.msg, "stale");
    nb_idx_free(&idx);
}
END_TEST

START_TEST(test_load_idx)
{
    char ipath[512], lpath[512];
    nb_error err = {0};
    char *msg = err.msg;
    nb_dataset ds;
    static const char *const pairs[2][2] = {
        { "tiny-images-idx3-ubyte", "tiny-labels-idx1-ubyte" },
        { "tiny-images-idx3-ubyte.gz", "tiny-labels-idx1-ubyte.gz" },
    };
    for (size_t p = 0; p < (have_zlib() ? 2u : 1u); p++) {
        int st = nb_dataset_load_idx(fixture(ipath, sizeof ipath, pairs[p][0]),
                                     fixture(lpath, sizeof lpath, pairs[p][1]),
                                     &ds, &err);
        ck_assert_msg(st == NB_OK, "%s", msg);
        ck_assert_uint_eq(ds.n, 3);
        ck_assert_uint_eq(ds.d, 6);           /* 2x3 images, flattened */
        ck_assert_uint_eq(ds.n_classes, 8);   /* max label 7, plus one */
        ck_assert_uint_eq(ds.label[0], 2);
        ck_assert_uint_eq(ds.label[1], 0);
        ck_assert_uint_eq(ds.label[2], 7);
        for (size_t i = 0; i < 18; i++)
            ck_assert(ds.x[i] == tiny_pixels[i]);
        ck_assert_ptr_null(ds.class_names);
        nb_dataset_free(&ds);
        ck_assert(is_zero_dataset(&ds));
    }
    /* Without labels. */
    int st = nb_dataset_load_idx(fixture(ipath, sizeof ipath, pairs[0][0]),
                                 NULL, &ds, &err);
    ck_assert_msg(st == NB_OK, "%s", msg);
    ck_assert_uint_eq(ds.n, 3);
    ck_assert_ptr_null(ds.label);
    ck_assert_uint_eq(ds.n_classes, 0);
    ck_assert(ds.x[6] == 200.0);
    nb_dataset_free(&ds);
}
END_TEST

START_TEST(test_load_idx_errors)
{
    static const error_case cases[] = {
        { "labels-2-idx1-ubyte",  NB_ESHAPE, "has 3 images but" },
        { "labels-2d-idx2-ubyte", NB_ESHAPE, "labels must be 1-d, got 3x1" },
        { "labels-300.idx",       NB_ERANGE, "label 300 at index 1 is not a class in 0..255" },
        { "labels-negative.idx",  NB_ERANGE, "label -1 at index 1" },
        { "labels-fraction.idx",  NB_ERANGE, "label 2.5 at index 1" },
        { "truncated.idx",        NB_EFORMAT, "truncated" },
    };
    char ipath[512], lpath[512];
    nb_error err = {0};
    char *msg = err.msg;
    nb_dataset ds;
    fixture(ipath, sizeof ipath, "tiny-images-idx3-ubyte");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        scribble(&ds, sizeof ds);
        int st = nb_dataset_load_idx(ipath, fixture(lpath, sizeof lpath,
                                                    cases[c].file),
                                     &ds, &err);
        printf("  %-24s %-16s %s\n", cases[c].file, nb_status_name(st), msg);
        ck_assert_msg(st == cases[c].status, "%s: %s", cases[c].file, msg);
        ck_assert_contains(msg, cases[c].file);
        ck_assert_contains(msg, cases[c].fragment);
        ck_assert(is_zero_dataset(&ds));
    }
    /* A bad image file. */
    scribble(&ds, sizeof ds);
    ck_assert_int_eq(nb_dataset_load_idx(fixture(ipath, sizeof ipath, "bad-magic.idx"),
                                         lpath, &ds, &err), NB_EFORMAT);
    ck_assert(is_zero_dataset(&ds));
}
END_TEST

/* ---- Fashion-MNIST ------------------------------------------------------ */

/* An IDX header for (n, 28, 28) ubyte or (n) ubyte. */
static size_t idx_header(unsigned char *h, size_t n, int images)
{
    unsigned char *p = h;
    *p++ = 0; *p++ = 0; *p++ = 0x08; *p++ = images ? 3 : 1;
    size_t dims[3] = { n, 28, 28 };
    for (int i = 0; i < (images ? 3 : 1); i++) {
        *p++ = (unsigned char)(dims[i] >> 24);
        *p++ = (unsigned char)(dims[i] >> 16);
        *p++ = (unsigned char)(dims[i] >> 8);
        *p++ = (unsigned char)dims[i];
    }
    return (size_t)(p - h);
}

START_TEST(test_fashion_env_override)
{
    /* A fake Fashion-MNIST of two 28x28 images (plain files), found via
     * NABLA_FASHION_MNIST_DIR. */
    char dir[256], buf[512];
    nb_error err = {0};
    char *msg = err.msg;
    unsigned char img[16 + 2 * 784], lab[8 + 2];
    size_t h = idx_header(img, 2, 1);
    for (size_t i = 0; i < 2 * 784; i++)
        img[h + i] = (unsigned char)((i * 37) % 256);
    size_t hl = idx_header(lab, 2, 0);
    lab[hl] = 9;
    lab[hl + 1] = 4;

    /* Restored at the end, for CK_FORK=no runs. */
    const char *user = getenv("NABLA_FASHION_MNIST_DIR");
    char *saved = user ? strdup(user) : NULL;
    make_tmpdir(dir, sizeof dir);
    ck_assert_int_eq(setenv("NABLA_FASHION_MNIST_DIR", dir, 1), 0);
    ck_assert_int_eq(nb_fashion_mnist_dir(buf, sizeof buf), NB_ENOTFOUND);
    ck_assert_str_eq(buf, dir);
    write_file(dir, "t10k-images-idx3-ubyte", img, h + 2 * 784);
    write_file(dir, "t10k-labels-idx1-ubyte", lab, hl + 2);
    write_file(dir, "train-images-idx3-ubyte", img, h + 784);   /* cut */
    write_file(dir, "train-labels-idx1-ubyte", lab, hl + 2);
    ck_assert_int_eq(nb_fashion_mnist_dir(buf, sizeof buf), NB_OK);
    ck_assert_str_eq(buf, dir);
    ck_assert_int_eq(nb_fashion_mnist_dir(buf, 4), NB_ERANGE);

    nb_dataset ds;
    int st = nb_dataset_load_fashion_mnist(NULL, 0, &ds, &err);
    ck_assert_msg(st == NB_OK, "%s", msg);
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_uint_eq(ds.d, 784);
    ck_assert_uint_eq(ds.n_classes, 10);
    ck_assert_uint_eq(ds.label[1], 4);
    ck_assert_str_eq(ds.class_names[9], "Ankle boot");
    ck_assert_str_eq(ds.class_names[0], "T-shirt/top");
    ck_assert(ds.x[784 + 5] == (double)(((784 + 5) * 37) % 256));
    nb_dataset_free(&ds);

    st = nb_dataset_load_fashion_mnist(NULL, 1, &ds, &err);
    ck_assert_int_eq(st, NB_EFORMAT);
    ck_assert_contains(msg, "train-images-idx3-ubyte: truncated: 2x28x28 ubyte needs 1568 bytes of data, found 784");
    ck_assert(is_zero_dataset(&ds));

    /* Largest label 8 (max + 1 would be 9): still Fashion-MNIST's 10. */
    lab[hl] = 1;
    lab[hl + 1] = 8;
    write_file(dir, "t10k-labels-idx1-ubyte", lab, hl + 2);
    ck_assert_int_eq(nb_dataset_load_fashion_mnist(dir, 0, &ds, &err), NB_OK);
    ck_assert_uint_eq(ds.n_classes, 10);
    nb_dataset_free(&ds);

    /* Not 28x28: refused. */
    remove_file(dir, "t10k-images-idx3-ubyte");
    char tpath[512];
    FILE *src = fopen(fixture(tpath, sizeof tpath, "tiny-images-idx3-ubyte"), "rb");
    ck_assert_ptr_nonnull(src);
    unsigned char tiny[64];
    size_t tn = fread(tiny, 1, sizeof tiny, src);
    fclose(src);
    write_file(dir, "t10k-images-idx3-ubyte", tiny, tn);
    unsigned char lab3[8 + 3] = { 0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3 };
    write_file(dir, "t10k-labels-idx1-ubyte", lab3, sizeof lab3);
    ck_assert_int_eq(nb_dataset_load_fashion_mnist(dir, 0, &ds, &err),
                     NB_EFORMAT);
    ck_assert_contains(msg, "6 values per image");

    /* Missing files. */
    remove_file(dir, "t10k-images-idx3-ubyte");
    ck_assert_int_eq(nb_dataset_load_fashion_mnist(dir, 0, &ds, &err),
                     NB_ENOTFOUND);
    ck_assert_contains(msg, "t10k-images-idx3-ubyte(.gz)");
    ck_assert_contains(msg, "NABLA_FASHION_MNIST_DIR");

    /* An empty variable means the default directory. */
    ck_assert_int_eq(setenv("NABLA_FASHION_MNIST_DIR", "", 1), 0);
    (void)nb_fashion_mnist_dir(buf, sizeof buf);
    ck_assert_str_eq(buf, "/usr/share/datasets/fashion-mnist");
    if (saved != NULL)
        setenv("NABLA_FASHION_MNIST_DIR", saved, 1);
    else
        unsetenv("NABLA_FASHION_MNIST_DIR");
    free(saved);

    remove_file(dir, "t10k-labels-idx1-ubyte");
    remove_file(dir, "train-images-idx3-ubyte");
    remove_file(dir, "train-labels-idx1-ubyte");
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static double elapsed(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

/* The real files, when installed.  Golden values: tests/ref/sklearn_data.py
 * (gzip + numpy.frombuffer, an independent reader). */
START_TEST(test_fashion_real)
{
    static const struct {
        int train;
        size_t n;
        size_t first_labels[12];
        double sum0, pixel0, sum_last, total;
    } sets[2] = {
        { 1, 60000, { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9 },
          76247, 217, 16684, 3431114169.0 },
        { 0, 10000, { 9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5 },
          33456, 110, 24390, 573469082.0 },
    };
    char dir[512];
    nb_error err = {0};
    char *msg = err.msg;
    if (nb_fashion_mnist_dir(dir, sizeof dir) != NB_OK) {
        printf("SKIP: Fashion-MNIST not installed in %s "
               "(apt-get install dataset-fashion-mnist)\n", dir);
        return;
    }
    for (size_t s = 0; s < 2; s++) {
        nb_dataset ds;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int st = nb_dataset_load_fashion_mnist(NULL, sets[s].train, &ds, &err);
        double secs = elapsed(&t0);
        if (st == NB_EUNSUPPORTED && !have_zlib()) {
            printf("SKIP: %s\n", msg);
            return;
        }
        ck_assert_msg(st == NB_OK, "%s", msg);
        printf("Fashion-MNIST %s: %zu x %zu loaded in %.2f s\n",
               sets[s].train ? "train" : "test", ds.n, ds.d, secs);
        ck_assert_uint_eq(ds.n, sets[s].n);
        ck_assert_uint_eq(ds.d, 784);
        ck_assert_uint_eq(ds.n_classes, 10);
        for (size_t i = 0; i < 12; i++)
            ck_assert_uint_eq(ds.label[i], sets[s].first_labels[i]);
        size_t counts[10] = {0};
        for (size_t i = 0; i < ds.n; i++)
            counts[ds.label[i]]++;
        for (size_t c = 0; c < 10; c++)
            ck_assert_uint_eq(counts[c], ds.n / 10);
        double sum0 = 0.0, sum_last = 0.0, total = 0.0;
        for (size_t j = 0; j < 784; j++) {
            sum0 += ds.x[j];
            sum_last += ds.x[(ds.n - 1) * 784 + j];
        }
        for (size_t i = 0; i < ds.n * 784; i++)
            total += ds.x[i];
        ck_assert(sum0 == sets[s].sum0);
        ck_assert(ds.x[14 * 28 + 14] == sets[s].pixel0);
        ck_assert(sum_last == sets[s].sum_last);
        ck_assert(total == sets[s].total);
        ck_assert_int_eq(nb_dataset_scale(&ds, 1.0 / 255.0), NB_OK);
        ck_assert(ds.x[14 * 28 + 14] == sets[s].pixel0 * (1.0 / 255.0));
        nb_dataset_free(&ds);
    }
}
END_TEST

/* ---- CSV ---------------------------------------------------------------- */

START_TEST(test_csv_string_labels)
{
    char path[512];
    nb_error err = {0};
    char *msg = err.msg;
    nb_dataset ds;
    int st = nb_csv_read(fixture(path, sizeof path, "iris-mini.csv"), "species",
                         &ds, &err);
    ck_assert_msg(st == NB_OK, "%s", msg);
    ck_assert_uint_eq(ds.n, 5);
    ck_assert_uint_eq(ds.d, 3);
    ck_assert_uint_eq(ds.n_classes, 3);
    static const size_t labels[5] = { 0, 1, 2, 0, 1 };
    static const double x[15] = {
        5.1, 3.5, 1.4, 7.0, 3.2, 4.7, 6.3, 3.3, 6.0, 4.9, 3.0, 1.4,
        6.4, 3.2, 4.5,
    };
    for (size_t i = 0; i < 5; i++)
        ck_assert_uint_eq(ds.label[i], labels[i]);
    ck_assert(max_abs_diff(ds.x, x, 15) == 0.0);
    ck_assert_str_eq(ds.class_names[0], "setosa");
    ck_assert_str_eq(ds.class_names[1], "versicolor");
    ck_assert_str_eq(ds.class_names[2], "virginica");
    ck_assert_str_eq(ds.feature_names[0], "sepal_length");
    ck_assert_str_eq(ds.feature_names[2], "petal, length");   /* quoted */
    nb_dataset_free(&ds);

    /* NULL: the last column is the label, here the same one. */
    ck_assert_int_eq(nb_csv_read(path, NULL, &ds, &err), NB_OK);
    ck_assert_uint_eq(ds.n_classes, 3);
    nb_dataset_free(&ds);
}
END_TEST

START_TEST(test_csv_crlf_int_labels)
{
    /* BOM, CRLF, label column in the middle with spaces around its name,
     * a quoted number, blank lines inside and at the end. */
    char path[512];
    nb_error err = {0};
    char *msg = err.msg;
    nb_dataset ds;
    int st = nb_csv_read(fixture(path, sizeof path, "labels-crlf.csv"), "label",
                         &ds, &err);
    ck_assert_msg(st == NB_OK, "%s", msg);
    ck_assert_uint_eq(ds.n, 3);
    ck_assert_uint_eq(ds.d, 2);
    ck_assert_uint_eq(ds.n_classes, 4);    /* labels 1, 3, 0 */
    ck_assert_uint_eq(ds.label[0], 1);
    ck_assert_uint_eq(ds.label[1], 3);
    ck_assert_uint_eq(ds.label[2], 0);
    ck_assert_ptr_null(ds.class_names);
    static const double x[6] = { 0.25, -2.5e-3, 1.75, 4.0, -8.0, 16.0 };
    ck_assert(max_abs_diff(ds.x, x, 6) == 0.0);
    ck_assert_str_eq(ds.feature_names[0], "x1");
    ck_assert_str_eq(ds.feature_names[1], "x2");
    nb_dataset_free(&ds);
}
END_TEST

START_TEST(test_csv_label_modes)
{
    char path[512];
    nb_error err = {0};
    char *msg = err.msg;
    nb_dataset ds;
    fixture(path, sizeof path, "no-final-newline.csv");   /* a,b,y */

    ck_assert_int_eq(nb_csv_read(path, NULL, &ds, &err), NB_OK);
    ck_assert_uint_eq(ds.n, 2);
    ck_assert_uint_eq(ds.d, 2);
    ck_assert_uint_eq(ds.n_classes, 2);
    ck_assert(ds.x[3] == 4.5);             /* the line without a newline */
    ck_assert_uint_eq(ds.label[1], 1);
    nb_dataset_free(&ds);

    ck_assert_int_eq(nb_csv_read(path, "", &ds, &err), NB_OK);
    ck_assert_uint_eq(ds.d, 3);
    ck_assert_ptr_null(ds.label);
    ck_assert_uint_eq(ds.n_classes, 0);
    ck_assert(ds.x[5] == 1.0);
    ck_assert_str_eq(ds.feature_names[2], "y");
    nb_dataset_free(&ds);

    /* A numeric column that holds no class indices. */
    scribble(&ds, sizeof ds);
    ck_assert_int_eq(nb_csv_read(path, "a", &ds, &err), NB_ERANGE);
    ck_assert_contains(msg, "no-final-newline.csv:2: column 1 'a': label '1.5' is not a class index in 0..65535");
    ck_assert(is_zero_dataset(&ds));
}
END_TEST

typedef struct csv_error_case {
    const char *file;
    const char *label;
    int status;
    const char *fragment;
} csv_error_case;

START_TEST(test_csv_errors)
{
    static const csv_error_case cases[] = {
        { "no-such-file.csv", NULL, NB_EIO, "no-such-file.csv: cannot open" },
        { "empty.csv", NULL, NB_EFORMAT, "empty.csv: empty file: no header row" },
        { "blank.csv", NULL, NB_EFORMAT, "blank.csv: empty file: no header row" },
        { "header-only.csv", NULL, NB_EFORMAT, "header-only.csv:1: header but no data rows" },
        { "ragged.csv", NULL, NB_EFORMAT, "ragged.csv:4: 2 fields, but the header has 3 columns" },
        { "nan.csv", NULL, NB_EDOMAIN, "nan.csv:3: column 2 'b': 'NaN' is not a finite number" },
        { "inf.csv", NULL, NB_EDOMAIN, "inf.csv:2: column 2 'b': '-inf' is not a finite number" },
        { "not-a-number.csv", "y", NB_EFORMAT, "not-a-number.csv:5: column 3 'petal': 'abc' is not a number" },
        { "empty-field.csv", NULL, NB_EFORMAT, "empty-field.csv:2: column 2 'b': empty field" },
        { "unterminated-quote.csv", NULL, NB_EFORMAT, "unterminated-quote.csv:1: column 2: unterminated quote" },
        { "negative-label.csv", NULL, NB_ERANGE, "negative-label.csv:3: column 3 'y': label '-1' is not a class index" },
        { "fraction-label.csv", "y", NB_ERANGE, "fraction-label.csv:2: column 3 'y': label '0.5'" },
        { "duplicate-column.csv", "y", NB_EFORMAT, "duplicate-column.csv:1: columns 1 and 3 are both named 'y'" },
        { "only-label.csv", NULL, NB_EFORMAT, "only-label.csv:1: no feature column" },
        { "iris-mini.csv", "class", NB_ENOTFOUND, "iris-mini.csv:1: no column named 'class' (columns: 'sepal_length', 'sepal_width', 'petal, length', 'species')" },
        { "nul-byte.csv", NULL, NB_EFORMAT, "nul-byte.csv:3: NUL byte" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[512];
        nb_error err = {0};
        char *msg = err.msg;
        nb_dataset ds;
        scribble(&ds, sizeof ds);
        int st = nb_csv_read(fixture(path, sizeof path, cases[c].file),
                             cases[c].label, &ds, &err);
        printf("  %-24s %-12s %s\n", cases[c].file, nb_status_name(st), msg);
        ck_assert_msg(st == cases[c].status, "%s: status %s, want %s (%s)",
                      cases[c].file, nb_status_name(st),
                      nb_status_name(cases[c].status), msg);
        ck_assert_contains(msg, cases[c].fragment);
        ck_assert(is_zero_dataset(&ds));
    }
}
END_TEST

START_TEST(test_csv_written)
{
    /* Many rows and string classes through a file written here: exercises
     * the growing read buffer and the label hash table beyond one block. */
    char dir[256], path[512];
    nb_error err = {0};
    char *msg = err.msg;
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/big.csv", dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "u,v,class\n");
    for (size_t i = 0; i < 20000; i++)
        fprintf(f, "%zu.25,%.17g,c%zu\n", i, -0.001 * (double)i, (i * 7) % 100);
    ck_assert_int_eq(fclose(f), 0);

    nb_dataset ds;
    int st = nb_csv_read(path, "class", &ds, &err);
    ck_assert_msg(st == NB_OK, "%s", msg);
    ck_assert_uint_eq(ds.n, 20000);
    ck_assert_uint_eq(ds.n_classes, 100);
    /* Classes in order of first appearance: c0, c7, c14, ... */
    ck_assert_str_eq(ds.class_names[1], "c7");
    for (size_t i = 0; i < 20000; i++) {
        ck_assert(ds.x[2 * i] == (double)i + 0.25);
        ck_assert(ds.x[2 * i + 1] == -0.001 * (double)i);
        char want[16];
        snprintf(want, sizeof want, "c%zu", (i * 7) % 100);
        ck_assert_str_eq(ds.class_names[ds.label[i]], want);
    }
    nb_dataset_free(&ds);
    remove(path);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- the data set helpers ----------------------------------------------- */

START_TEST(test_dataset_init_free)
{
    nb_dataset ds;
    ck_assert_int_eq(nb_dataset_init(&ds, 4, 3, 5), NB_OK);
    ck_assert_uint_eq(ds.n, 4);
    ck_assert_uint_eq(ds.d, 3);
    ck_assert_uint_eq(ds.n_classes, 5);
    for (size_t i = 0; i < 12; i++)
        ck_assert(ds.x[i] == 0.0);
    ck_assert_uint_eq(ds.label[3], 0);
    nb_dataset_free(&ds);
    ck_assert(is_zero_dataset(&ds));
    nb_dataset_free(&ds);
    nb_dataset_free(NULL);

    ck_assert_int_eq(nb_dataset_init(&ds, 4, 3, 0), NB_OK);
    ck_assert_ptr_null(ds.label);
    nb_dataset_free(&ds);

    scribble(&ds, sizeof ds);
    ck_assert_int_eq(nb_dataset_init(&ds, 0, 3, 2), NB_EINVAL);
    ck_assert(is_zero_dataset(&ds));
    ck_assert_int_eq(nb_dataset_init(&ds, SIZE_MAX / 2, 3, 2), NB_ERANGE);
    ck_assert_int_eq(nb_dataset_init(&ds, (size_t)1 << 16, (size_t)1 << 16, 0), NB_ERANGE);
    ck_assert_int_eq(nb_dataset_init(&ds, 2, 2, NB_DATA_MAX_CLASSES + 1), NB_ERANGE);
    ck_assert(is_zero_dataset(&ds));
    ck_assert_int_eq(nb_dataset_init(NULL, 2, 2, 2), NB_EINVAL);
}
END_TEST

START_TEST(test_onehot)
{
    nb_dataset ds, un;
    nb_error err = {0};
    ck_assert_int_eq(nb_make_truth_table("xor", &ds, &err), NB_OK);
    double y[8];
    static const double want[8] = { 1, 0, 0, 1, 0, 1, 1, 0 };
    ck_assert_int_eq(nb_dataset_onehot(&ds, y), NB_OK);
    ck_assert(max_abs_diff(y, want, 8) == 0.0);
    ck_assert_int_eq(nb_dataset_init(&un, 2, 2, 0), NB_OK);
    ck_assert_int_eq(nb_dataset_onehot(&un, y), NB_EINVAL);
    ck_assert_int_eq(nb_dataset_onehot(&ds, NULL), NB_EINVAL);
    ds.label[2] = 2;                       /* corrupt: >= n_classes */
    ck_assert_int_eq(nb_dataset_onehot(&ds, y), NB_ERANGE);
    nb_dataset_free(&ds);
    nb_dataset_free(&un);
}
END_TEST

START_TEST(test_scale)
{
    char ipath[512];
    nb_error err = {0};
    nb_dataset ds;
    ck_assert_int_eq(nb_dataset_load_idx(fixture(ipath, sizeof ipath,
                                                 "tiny-images-idx3-ubyte"),
                                         NULL, &ds, &err), NB_OK);
    ck_assert_int_eq(nb_dataset_scale(&ds, 1.0 / 255.0), NB_OK);
    ck_assert(ds.x[2] == 255.0 * (1.0 / 255.0));
    ck_assert(ds.x[1] == 17.0 * (1.0 / 255.0));
    ck_assert_int_eq(nb_dataset_scale(&ds, NAN), NB_EDOMAIN);
    ck_assert_int_eq(nb_dataset_scale(&ds, INFINITY), NB_EDOMAIN);
    ck_assert(ds.x[1] == 17.0 * (1.0 / 255.0));   /* unchanged */
    ck_assert_int_eq(nb_dataset_scale(NULL, 2.0), NB_EINVAL);
    nb_dataset_free(&ds);
}
END_TEST

START_TEST(test_subset_split_gather)
{
    char path[512];
    nb_error err = {0};
    nb_dataset src, sub, head, tail;
    ck_assert_int_eq(nb_csv_read(fixture(path, sizeof path, "iris-mini.csv"),
                                 NULL, &src, &err), NB_OK);

    static const size_t rows[3] = { 4, 0, 4 };
    ck_assert_int_eq(nb_dataset_subset(&src, rows, 3, &sub), NB_OK);
    ck_assert_uint_eq(sub.n, 3);
    ck_assert_uint_eq(sub.d, 3);
    ck_assert_uint_eq(sub.n_classes, 3);   /* kept, though class 2 is absent */
    ck_assert(sub.x[0] == 6.4 && sub.x[3] == 5.1 && sub.x[8] == 4.5);
    ck_assert_uint_eq(sub.label[0], 1);
    ck_assert_uint_eq(sub.label[1], 0);

    ck_assert_int_eq(nb_dataset_split(&src, 2, &head, &tail), NB_OK);
    ck_assert_uint_eq(head.n, 2);
    ck_assert_uint_eq(tail.n, 3);
    ck_assert(head.x[3] == 7.0);
    ck_assert(tail.x[0] == 6.3);
    ck_assert_uint_eq(tail.label[0], 2);

    /* Mini-batch into caller buffers: x (2, 3), one-hot y (2, 3), labels. */
    static const size_t batch[2] = { 2, 3 };
    double bx[6], by[6];
    size_t bl[2];
    ck_assert_int_eq(nb_dataset_gather(&src, batch, 2, bx, by, bl), NB_OK);
    static const double wx[6] = { 6.3, 3.3, 6.0, 4.9, 3.0, 1.4 };
    static const double wy[6] = { 0, 0, 1, 1, 0, 0 };
    ck_assert(max_abs_diff(bx, wx, 6) == 0.0);
    ck_assert(max_abs_diff(by, wy, 6) == 0.0);
    ck_assert_uint_eq(bl[0], 2);
    ck_assert_uint_eq(bl[1], 0);
    ck_assert_int_eq(nb_dataset_gather(&src, batch, 2, bx, NULL, NULL), NB_OK);

    /* Copies are deep: the source can go first. */
    nb_dataset_free(&src);
    ck_assert_str_eq(sub.feature_names[2], "petal, length");
    ck_assert_str_eq(tail.class_names[2], "virginica");
    ck_assert_str_eq(head.class_names[1], "versicolor");

    /* Errors leave outputs zeroed. */
    static const size_t bad_rows[2] = { 1, 5 };
    ck_assert_int_eq(nb_dataset_gather(&sub, bad_rows, 2, bx, by, bl), NB_ERANGE);
    nb_dataset bad;
    scribble(&bad, sizeof bad);
    ck_assert_int_eq(nb_dataset_subset(&sub, bad_rows, 2, &bad), NB_ERANGE);
    ck_assert(is_zero_dataset(&bad));
    ck_assert_int_eq(nb_dataset_subset(&sub, NULL, 4, &bad), NB_ERANGE);
    ck_assert_int_eq(nb_dataset_subset(&sub, NULL, 0, &bad), NB_EINVAL);
    nb_dataset h2, t2;
    scribble(&h2, sizeof h2);
    scribble(&t2, sizeof t2);
    ck_assert_int_eq(nb_dataset_split(&sub, 3, &h2, &t2), NB_ERANGE);
    ck_assert(is_zero_dataset(&h2) && is_zero_dataset(&t2));
    ck_assert_int_eq(nb_dataset_split(&sub, 0, &h2, &t2), NB_ERANGE);

    nb_dataset unl;
    ck_assert_int_eq(nb_dataset_init(&unl, 2, 3, 0), NB_OK);
    ck_assert_int_eq(nb_dataset_gather(&unl, batch, 1, bx, by, NULL), NB_EINVAL);
    ck_assert_int_eq(nb_dataset_gather(&unl, batch, 1, bx, NULL, NULL), NB_ERANGE);
    nb_dataset_free(&unl);

    nb_dataset_free(&sub);
    nb_dataset_free(&head);
    nb_dataset_free(&tail);
}
END_TEST

/* A (7, 5) data set of bytes scaled by 1/255, as the image loaders give. */
static nb_dataset byte_images(void)
{
    nb_dataset ds;
    ck_assert_int_eq(nb_dataset_init(&ds, 7, 5, 3), NB_OK);
    for (size_t i = 0; i < 35; i++) ds.x[i] = (double)((i * 37 + 11) % 256);
    ds.x[4] = 255.0;
    ds.x[9] = 0.0;
    ck_assert_int_eq(nb_dataset_scale(&ds, 1.0 / 255.0), NB_OK);
    return ds;
}

START_TEST(test_dataset_to_bytes)
{
    nb_dataset ds = byte_images();
    unsigned char *b = NULL;
    ck_assert_int_eq(nb_dataset_to_bytes(&ds, 1.0 / 255.0, &b), NB_OK);
    for (size_t i = 0; i < 35; i++) {
        ck_assert_uint_eq(b[i], (i == 4) ? 255 : (i == 9) ? 0 : (i * 37 + 11) % 256);
        ck_assert((double)b[i] * (1.0 / 255.0) == ds.x[i]);
    }
    free(b);
    /* Not bytes times this scale: refused, nothing allocated. */
    b = (unsigned char *)&ds;
    ck_assert_int_eq(nb_dataset_to_bytes(&ds, 1.0 / 256.0, &b), NB_EDOMAIN);
    ck_assert_ptr_null(b);
    double keep = ds.x[3];
    ds.x[3] = keep + 1e-12;   /* one value off by a little */
    ck_assert_int_eq(nb_dataset_to_bytes(&ds, 1.0 / 255.0, &b), NB_EDOMAIN);
    ds.x[3] = 256.0 / 255.0;  /* beyond a byte */
    ck_assert_int_eq(nb_dataset_to_bytes(&ds, 1.0 / 255.0, &b), NB_EDOMAIN);
    ds.x[3] = NAN;
    ck_assert_int_eq(nb_dataset_to_bytes(&ds, 1.0 / 255.0, &b), NB_EDOMAIN);
    ds.x[3] = -0.0;           /* 0 as a byte would give +0.0, not these bits */
    ck_assert_int_eq(nb_dataset_to_bytes(&ds, 1.0 / 255.0, &b), NB_EDOMAIN);
    ds.x[3] = keep;
    ck_assert_int_eq(nb_dataset_to_bytes(&ds, 0.0, &b), NB_EDOMAIN);
    ck_assert_int_eq(nb_dataset_to_bytes(&ds, NAN, &b), NB_EDOMAIN);
    ck_assert_int_eq(nb_dataset_to_bytes(&ds, 1e308, &b), NB_EDOMAIN);
    ck_assert_int_eq(nb_dataset_to_bytes(NULL, 1.0, &b), NB_EINVAL);
    ck_assert_int_eq(nb_dataset_to_bytes(&ds, 1.0, NULL), NB_EINVAL);
    nb_dataset_free(&ds);
}
END_TEST

/* Mini-batches gathered onto a tape: from the doubles (checked while
 * copied) and from the bytes, the same values bit for bit; bad rows, NaN,
 * NULL and a bad scale are errors that name what is wrong. */
START_TEST(test_input_rows)
{
    nb_dataset ds = byte_images();
    unsigned char *b = NULL;
    ck_assert_int_eq(nb_dataset_to_bytes(&ds, 1.0 / 255.0, &b), NB_OK);
    nb_graph *g = nb_graph_alloc();
    const size_t rows[4] = { 6, 0, 3, 3 };
    nb_node *x = nb_input_rows(g, ds.x, ds.n, ds.d, rows, 4);
    nb_node *y = nb_input_rows_u8(g, b, 1.0 / 255.0, ds.n, ds.d, rows, 4);
    ck_assert_msg(x && y, "%s", nb_graph_errmsg(g));
    ck_assert_uint_eq(nb_node_rows(x), 4);
    ck_assert_uint_eq(nb_node_cols(y), 5);
    for (size_t r = 0; r < 4; r++)
        ck_assert(memcmp(nb_node_cvalue(x) + r * 5, ds.x + rows[r] * 5, 5 * sizeof(double)) == 0);
    ck_assert(memcmp(nb_node_cvalue(x), nb_node_cvalue(y), 20 * sizeof(double)) == 0);

    const size_t far[2] = { 1, 7 };
    ck_assert_ptr_null(nb_input_rows(g, ds.x, ds.n, ds.d, far, 2));
    ck_assert_int_eq(nb_graph_status(g), NB_ERANGE);
    ck_assert_msg(strstr(nb_graph_errmsg(g), "source row 7") != NULL, "%s", nb_graph_errmsg(g));
    nb_graph_reset(g);
    ck_assert_ptr_null(nb_input_rows_u8(g, b, 1.0 / 255.0, ds.n, ds.d, far, 2));
    ck_assert_int_eq(nb_graph_status(g), NB_ERANGE);
    nb_graph_reset(g);
    ck_assert_ptr_null(nb_input_rows_u8(g, b, INFINITY, ds.n, ds.d, rows, 4));
    ck_assert_int_eq(nb_graph_status(g), NB_EDOMAIN);
    nb_graph_reset(g);
    ck_assert_ptr_null(nb_input_rows(g, NULL, ds.n, ds.d, rows, 4));
    ck_assert_int_eq(nb_graph_status(g), NB_EINVAL);
    nb_graph_reset(g);
    ck_assert_ptr_null(nb_input_rows(g, ds.x, ds.n, ds.d, rows, 0));
    ck_assert_int_eq(nb_graph_status(g), NB_ESHAPE);
    nb_graph_reset(g);
    ds.x[3 * 5 + 2] = -INFINITY;
    ck_assert_ptr_null(nb_input_rows(g, ds.x, ds.n, ds.d, rows, 4));
    ck_assert_int_eq(nb_graph_status(g), NB_EDOMAIN);
    ck_assert_msg(strstr(nb_graph_errmsg(g), "-inf at (2,2), source row 3") != NULL, "%s",
                  nb_graph_errmsg(g));
    nb_graph_free(g);
    free(b);
    nb_dataset_free(&ds);
}
END_TEST

START_TEST(test_dataset_shuffle)
{
    /* Row i after the shuffle is old row perm[i], perm = permutation(10)
     * of seed 0 = [2 8 4 9 1 6 7 3 0 5] (NumPy; test_rng.c's shuffle10). */
    static const size_t perm[10] = { 2, 8, 4, 9, 1, 6, 7, 3, 0, 5 };
    nb_dataset ds;
    nb_rng rng;
    ck_assert_int_eq(nb_dataset_init(&ds, 10, 2, 3), NB_OK);
    for (size_t i = 0; i < 10; i++) {
        ds.x[2 * i] = 1.5 * (double)i;
        ds.x[2 * i + 1] = -(double)i;
        ds.label[i] = i % 3;
    }
    nb_rng_seed(&rng, 0);
    ck_assert_int_eq(nb_dataset_shuffle(&ds, &rng), NB_OK);
    for (size_t i = 0; i < 10; i++) {
        ck_assert(ds.x[2 * i] == 1.5 * (double)perm[i]);
        ck_assert(ds.x[2 * i + 1] == -(double)perm[i]);
        ck_assert_uint_eq(ds.label[i], perm[i] % 3);
    }
    nb_dataset_free(&ds);
}
END_TEST

/* ---- generators --------------------------------------------------------- */

typedef struct point {
    size_t i;
    double x0, x1;
} point;

static void expect_points(const char *what, const nb_dataset *ds,
                          const point *pts, size_t n, double tol)
{
    double maxdiff = 0.0;
    for (size_t k = 0; k < n; k++) {
        const double *row = ds->x + 2 * pts[k].i;
        double d0 = fabs(row[0] - pts[k].x0), d1 = fabs(row[1] - pts[k].x1);
        maxdiff = fmax(maxdiff, fmax(d0, d1));
        ck_assert_msg(d0 <= tol && d1 <= tol,
                      "%s row %zu: (%.17g, %.17g), reference (%.17g, %.17g)",
                      what, pts[k].i, row[0], row[1], pts[k].x0, pts[k].x1);
    }
    printf("%s: %zu points, max |diff| %g\n", what, n, maxdiff);
}

static void expect_labels(const nb_dataset *ds, const char *digits)
{
    ck_assert_uint_eq(strlen(digits), ds->n);
    for (size_t i = 0; i < ds->n; i++)
        ck_assert_msg(ds->label[i] == (size_t)(digits[i] - '0'),
                      "label[%zu] = %zu, reference %c", i, ds->label[i], digits[i]);
}

START_TEST(test_moons_sklearn)
{
    /* np.random.seed(0); sklearn.datasets.make_moons(200, noise=0.20) */
    static const point pts[] = {
        { 0, 0.74346117619553931, 0.46465632837724596 },
        { 1, 1.6575566177861694, -0.63203156909788949 },
        { 2, -0.15878874793151554, 0.25584464713632282 },
        { 50, -0.89704330298158408, 0.87690996117364317 },
        { 99, 0.041675623561613348, -0.074620924749174478 },
        { 100, 1.4042643510094612, -0.93206382315571823 },
        { 137, -1.1330548304042349, 0.11109961968039769 },
        { 198, 0.25919429397928573, 1.0410421256723896 },
        { 199, 1.5215204998025176, -0.12589229565958063 },
    };
    static const char labels[] =
        "01101101010111000100110101111000110110011001100011011010010010101001"
        "00101110100110111000110010111101110001001000000101100010100111000111"
        "1010110000110111001011001101110111000011100010111001000000101101";
    nb_rng rng;
    nb_dataset ds;
    nb_rng_seed(&rng, 0);
    ck_assert_int_eq(nb_make_moons(200, 0.20, &rng, &ds), NB_OK);
    ck_assert_uint_eq(ds.n, 200);
    ck_assert_uint_eq(ds.d, 2);
    ck_assert_uint_eq(ds.n_classes, 2);
    expect_points("make_moons(200, 0.2)", &ds, pts, sizeof pts / sizeof pts[0], 1e-15);
    expect_labels(&ds, labels);
    double s0 = 0.0, s1 = 0.0;
    for (size_t i = 0; i < 200; i++) {
        s0 += ds.x[2 * i];
        s1 += ds.x[2 * i + 1];
    }
    ck_assert_double_eq_tol(s0, 97.184690251312375, 1e-12);
    ck_assert_double_eq_tol(s1, 51.773376577821153, 1e-12);
    /* As many draws as scikit-learn: the global stream continues alike. */
    ck_assert(nb_rng_uniform(&rng) == 0.76499444756608037);
    nb_dataset_free(&ds);
}
END_TEST

START_TEST(test_moons_odd_noiseless)
{
    /* make_moons(7, noise=0.0, random_state=RandomState(3)): 3 outer and 4
     * inner points (linspace ends exactly at pi), shuffled. */
    static const point pts[] = {
        { 0, 0.49999999999999989, -0.3660254037844386 },
        { 1, 2, 0.49999999999999989 },
        { 2, 1.4999999999999998, -0.36602540378443871 },
        { 3, 0, 0.5 },
        { 4, 6.123233995736766e-17, 1 },
        { 5, 1, 0 },
        { 6, -1, 1.2246467991473532e-16 },
    };
    nb_rng rng;
    nb_dataset ds;
    nb_rng_seed(&rng, 3);
    ck_assert_int_eq(nb_make_moons(7, 0.0, &rng, &ds), NB_OK);
    expect_points("make_moons(7, 0)", &ds, pts, 7, 1e-15);
    expect_labels(&ds, "1111000");
    nb_dataset_free(&ds);
}
END_TEST

START_TEST(test_generator_errors)
{
    nb_rng rng;
    nb_dataset ds;
    nb_rng_seed(&rng, 1);
    scribble(&ds, sizeof ds);
    ck_assert_int_eq(nb_make_moons(0, 0.1, &rng, &ds), NB_EINVAL);
    ck_assert(is_zero_dataset(&ds));
    ck_assert_int_eq(nb_make_moons(10, -0.1, &rng, &ds), NB_EDOMAIN);
    ck_assert_int_eq(nb_make_moons(10, NAN, &rng, &ds), NB_EDOMAIN);
    ck_assert_int_eq(nb_make_moons(10, 0.1, NULL, &ds), NB_EINVAL);
    ck_assert_int_eq(nb_make_spirals(0, 3, 0.2, &rng, &ds), NB_EINVAL);
    ck_assert_int_eq(nb_make_spirals(5, 0, 0.2, &rng, &ds), NB_EINVAL);
    ck_assert_int_eq(nb_make_spirals(5, 3, INFINITY, &rng, &ds), NB_EDOMAIN);
    ck_assert_int_eq(nb_make_spirals(SIZE_MAX / 2, 3, 0.2, &rng, &ds), NB_ERANGE);
    ck_assert_int_eq(nb_make_blobs(10, 2, 0, 1.0, -1, 1, &rng, &ds, NULL), NB_EINVAL);
    ck_assert_int_eq(nb_make_blobs(10, 2, 3, -1.0, -1, 1, &rng, &ds, NULL), NB_EDOMAIN);
    ck_assert_int_eq(nb_make_blobs(10, 2, 3, 1.0, -INFINITY, 1, &rng, &ds, NULL), NB_EDOMAIN);
    ck_assert(is_zero_dataset(&ds));
    /* None of the refused calls drew from the stream. */
    nb_rng fresh;
    nb_rng_seed(&fresh, 1);
    ck_assert_uint_eq(nb_rng_uint32(&rng), nb_rng_uint32(&fresh));
}
END_TEST

START_TEST(test_spirals_cs231n)
{
    /* The CS231n code with N = 5, K = 3, noise 0.2 after np.random.seed(1). */
    static const point pts[] = {
        { 0, 0, 0 },
        { 1, 0.19230965681797474, 0.15974040157252886 },
        { 2, 0.47405329211527569, -0.15897633860002278 },
        { 3, 0.26152689265891643, -0.70292509161088534 },
        { 4, -0.85806453820582695, -0.51354186613519726 },
        { 5, -0.0, -0.0 },
        { 6, -0.201034352804181, 0.14861086431551387 },
        { 7, -0.21089865648821207, 0.45334507463020607 },
        { 8, 0.52779137635123829, 0.53285670029499077 },
        { 9, 0.99538169683253719, -0.09599623748240925 },
        { 10, 0, -0.0 },
        { 11, 0.18562687945390122, -0.16745943277166211 },
        { 12, -0.24441086069426818, -0.43619185133916366 },
        { 13, -0.7480360035837974, -0.054241472531460388 },
        { 14, -0.33312573420178199, 0.94288241324808031 },
    };
    nb_rng rng;
    nb_dataset ds;
    nb_rng_seed(&rng, 1);
    ck_assert_int_eq(nb_make_spirals(5, 3, 0.2, &rng, &ds), NB_OK);
    ck_assert_uint_eq(ds.n, 15);
    ck_assert_uint_eq(ds.n_classes, 3);
    expect_points("spiral N=5 K=3", &ds, pts, 15, 1e-15);
    expect_labels(&ds, "000001111122222");
    nb_dataset_free(&ds);
}
END_TEST

START_TEST(test_blobs_sklearn)
{
    /* make_blobs(n_samples=10, centers=3, n_features=2, random_state=0);
     * the labels are those of scikit-learn's docstring example. */
    static const point pts[] = {
        { 0, 1.1203136497073731, 5.7580608344113653 },
        { 1, 1.7373078036934886, 4.4254623439412182 },
        { 2, 2.3683352230837791, 0.043567920636212065 },
        { 3, 0.87305122675293723, 4.714385829386762 },
        { 4, -0.66246781436239965, 2.175717240926681 },
        { 5, 0.74285061076570225, 1.463516586734358 },
        { 6, -4.0798938290559841, 3.5715008567734836 },
        { 7, 3.5493465945904843, 0.69250539617213591 },
        { 8, 2.4991307541783034, 1.2313379873122037 },
        { 9, 1.9263584960720843, 4.1524301191506918 },
    };
    static const double centers[6] = {
        0.97627007854649506, 4.30378732744839, 2.0552675214328779,
        0.89766365993793684, -1.5269040132219054, 2.9178822613331228,
    };
    nb_rng rng;
    nb_dataset ds;
    double c[6];
    nb_rng_seed(&rng, 0);
    ck_assert_int_eq(nb_make_blobs(10, 2, 3, 1.0, -10.0, 10.0, &rng, &ds, c), NB_OK);
    expect_points("make_blobs(10, 3 centres)", &ds, pts, 10, 1e-15);
    expect_labels(&ds, "0010222110");
    ck_assert(max_abs_diff(c, centers, 6) <= 1e-15);
    nb_dataset_free(&ds);

    /* make_blobs(n_samples=11, centers=4, n_features=3, cluster_std=0.5,
     * center_box=(-2, 3), random_state=RandomState(9)): 11 % 4 = 3 centres
     * get an extra point. */
    static const double row0[3] = {
        -0.021116276070026918, -0.6248364694516948, -1.014471115784908 };
    static const double row10[3] = {
        -1.176764417827457, 0.059012375035349507, 0.41030396048172779 };
    nb_rng_seed(&rng, 9);
    ck_assert_int_eq(nb_make_blobs(11, 3, 4, 0.5, -2.0, 3.0, &rng, &ds, NULL), NB_OK);
    ck_assert_uint_eq(ds.d, 3);
    ck_assert_uint_eq(ds.n_classes, 4);
    ck_assert(max_abs_diff(ds.x, row0, 3) <= 1e-15);
    ck_assert(max_abs_diff(ds.x + 30, row10, 3) <= 1e-15);
    expect_labels(&ds, "22101233100");
    nb_dataset_free(&ds);
}
END_TEST

START_TEST(test_truth_tables)
{
    static const struct {
        const char *name;
        size_t d;
        size_t y[4];
    } want[] = {
        { "and", 2, { 0, 0, 0, 1 } },
        { "or", 2, { 0, 1, 1, 1 } },
        { "xor", 2, { 0, 1, 1, 0 } },
        { "trask2", 3, { 0, 0, 1, 1 } },
        { "trask3", 3, { 0, 1, 1, 0 } },
    };
    static const double x3[12] = { 0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1 };
    static const double x2[8] = { 0, 0, 0, 1, 1, 0, 1, 1 };
    nb_error err = {0};
    char *msg = err.msg;
    size_t count = 0;
    while (nb_truth_table_name(count) != NULL)
        count++;
    ck_assert_uint_eq(count, sizeof want / sizeof want[0]);
    for (size_t t = 0; t < count; t++) {
        nb_dataset ds;
        ck_assert_str_eq(nb_truth_table_name(t), want[t].name);
        ck_assert_int_eq(nb_make_truth_table(want[t].name, &ds, &err), NB_OK);
        ck_assert_uint_eq(ds.n, 4);
        ck_assert_uint_eq(ds.d, want[t].d);
        ck_assert_uint_eq(ds.n_classes, 2);
        ck_assert(max_abs_diff(ds.x, want[t].d == 3 ? x3 : x2, 4 * ds.d) == 0.0);
        for (size_t i = 0; i < 4; i++)
            ck_assert_uint_eq(ds.label[i], want[t].y[i]);
        nb_dataset_free(&ds);
    }
    nb_dataset ds;
    scribble(&ds, sizeof ds);
    ck_assert_int_eq(nb_make_truth_table("nand", &ds, &err), NB_ENOTFOUND);
    ck_assert_str_eq(msg, "no truth table named 'nand' (known: and, or, xor, trask2, trask3)");
    ck_assert(is_zero_dataset(&ds));
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *idx = tcase_create("idx");
    tcase_add_test(idx, test_idx_plain);
    tcase_add_test(idx, test_idx_gzip);
    tcase_add_test(idx, test_idx_types);
    tcase_add_test(idx, test_idx_errors);
    tcase_add_test(idx, test_idx_gzip_errors);
    tcase_add_test(idx, test_idx_msg_optional);
    tcase_add_test(idx, test_load_idx);
    tcase_add_test(idx, test_load_idx_errors);
    suite_add_tcase(s, idx);

    TCase *fashion = tcase_create("fashion-mnist");
    tcase_set_timeout(fashion, 300);   /* 420 MB of doubles under valgrind */
    tcase_add_test(fashion, test_fashion_env_override);
    tcase_add_test(fashion, test_fashion_real);
    suite_add_tcase(s, fashion);

    TCase *csv = tcase_create("csv");
    tcase_add_test(csv, test_csv_string_labels);
    tcase_add_test(csv, test_csv_crlf_int_labels);
    tcase_add_test(csv, test_csv_label_modes);
    tcase_add_test(csv, test_csv_errors);
    tcase_add_test(csv, test_csv_written);
    suite_add_tcase(s, csv);

    TCase *ds = tcase_create("dataset");
    tcase_add_test(ds, test_dataset_init_free);
    tcase_add_test(ds, test_onehot);
    tcase_add_test(ds, test_scale);
    tcase_add_test(ds, test_subset_split_gather);
    tcase_add_test(ds, test_dataset_shuffle);
    tcase_add_test(ds, test_dataset_to_bytes);
    tcase_add_test(ds, test_input_rows);
    suite_add_tcase(s, ds);

    TCase *gen = tcase_create("generators");
    tcase_add_test(gen, test_moons_sklearn);
    tcase_add_test(gen, test_moons_odd_noiseless);
    tcase_add_test(gen, test_generator_errors);
    tcase_add_test(gen, test_spirals_cs231n);
    tcase_add_test(gen, test_blobs_sklearn);
    tcase_add_test(gen, test_truth_tables);
    suite_add_tcase(s, gen);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(data_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
