/* test_archive.c — the archive container (in memory, on disk, every way a
 * file can be damaged) and model files.
 *
 * Fixtures under tests/data/archive/ come from an independent Python writer
 * (tests/ref/make_archive_fixtures.py, struct + zlib.crc32) that follows
 * docs/formats-archive.md; files damaged in other ways are built here by a
 * second small encoder (forge_*) with its own bitwise CRC-32.  Temporary files
 * go to a mkdtemp() directory that each test removes. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nabla/nabla.h>
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

/* The counting allocator of testutil.h (it records the largest request). */

/* count_alloc counts the failing call as an allocation; the balance below
 * uses successful ones only. */
static size_t live(const counting *c, long failed)
{
    return c->allocs - (size_t)failed - c->frees;
}

static char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *t = malloc(4096);
    ck_assert_ptr_nonnull(t);
    snprintf(t, 4096, "%s/nb-archive-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(t));
    return t;
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* Removes dir and everything below it (one level of subdirectories). */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            chmod(p, 0700);
            remove_tree(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
    rmdir(dir);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    unsigned char *b = malloc(1 << 16);
    ck_assert_ptr_nonnull(b);
    *n = fread(b, 1, 1 << 16, f);
    ck_assert(feof(f));
    fclose(f);
    return b;
}

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void fixture(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/tests/data/archive/%s", nb_test_srcdir(), name);
}

static int same_bits(const double *a, const double *b, size_t n)
{
    return n == 0 || memcmp(a, b, n * sizeof(double)) == 0;
}

/* ---- an independent encoder for forged files ------------------------------ */

/* Bitwise CRC-32 (reflected 0xEDB88320), deliberately not table-driven. */
static uint32_t crc32_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

typedef struct forge {
    unsigned char b[4096];
    size_t n;
} forge;

static void forge_bytes(forge *f, const void *p, size_t n)
{
    ck_assert(f->n + n <= sizeof f->b);
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void forge_u64(forge *f, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    forge_bytes(f, b, 8);
}

static void forge_f64(forge *f, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    forge_u64(f, u);
}

static void forge_name(forge *f, const char *s, size_t n)
{
    forge_u64(f, n);
    forge_bytes(f, s, n);
}

static void forge_header(forge *f, uint64_t version, uint64_t ns, uint64_t nt)
{
    f->n = 0;
    forge_bytes(f, "NABLAARC", 8);
    forge_u64(f, version);
    forge_u64(f, ns);
    forge_u64(f, nt);
}

/* Appends the CRC of everything after the magic and writes the file. */
static void forge_finish(forge *f, const char *path)
{
    uint32_t c = crc32_bitwise(f->b + 8, f->n - 8);
    unsigned char t[4] = { (unsigned char)c, (unsigned char)(c >> 8), (unsigned char)(c >> 16),
                           (unsigned char)(c >> 24) };
    forge_bytes(f, t, 4);
    write_bytes(path, f->b, f->n);
}

/* Reads path expecting status st, *out NULL and no allocation left alive. */
static void expect_read_fails(const char *path, int st, const char *needle)
{
    counting c = { 0, 0, -1, 0 };
    nb_allocator al = { count_alloc, count_free, &c };
    nb_archive *ar = (nb_archive *)&c;   /* must be overwritten with NULL */
    nb_error err = {0};
    char *msg = err.msg;
    int got = nb_archive_read_with(path, &al, &ar, &err);
    ck_assert_msg(got == st, "%s: status %s, expected %s (%s)", path, nb_status_name(got),
                  nb_status_name(st), msg);
    ck_assert_ptr_null(ar);
    ck_assert_uint_eq(c.allocs, c.frees);
    ck_assert_msg(strlen(msg) > 0, "empty message");
    if (needle) ck_assert_msg(strstr(msg, needle) != NULL, "'%s' not in '%s'", needle, msg);
}

/* The content of tests/data/archive/golden-v1.nbar (see the script). */
static const double golden_w[6] = { 2.385, -1.25, 0.5, 3.75, -0.125, 1.5 };
static const double golden_b[3] = { 0.25, -0.0, 5e-324 };
static const double golden_s[1] = { DBL_MAX };

static nb_archive *golden_archive(void)
{
    nb_archive *ar = nb_archive_alloc();
    ck_assert_ptr_nonnull(ar);
    ck_assert_int_eq(nb_archive_put_str(ar, "kind", "nabla-test"), NB_OK);
    ck_assert_int_eq(nb_archive_put_str(ar, "note", "2.385 \xcf\x89"), NB_OK);
    ck_assert_int_eq(nb_archive_put_str(ar, "empty", ""), NB_OK);
    ck_assert_int_eq(nb_archive_put(ar, "w", 2, 3, golden_w), NB_OK);
    ck_assert_int_eq(nb_archive_put(ar, "b", 1, 3, golden_b), NB_OK);
    ck_assert_int_eq(nb_archive_put(ar, "empty", 0, 3, NULL), NB_OK);
    ck_assert_int_eq(nb_archive_put(ar, "s", 1, 1, golden_s), NB_OK);
    return ar;
}

static void check_golden(const nb_archive *ar)
{
    size_t r, c;
    ck_assert_uint_eq(nb_archive_count(ar), 4);
    ck_assert_uint_eq(nb_archive_str_count(ar), 3);
    ck_assert_str_eq(nb_archive_name_at(ar, 0), "w");
    ck_assert_str_eq(nb_archive_name_at(ar, 1), "b");
    ck_assert_str_eq(nb_archive_name_at(ar, 2), "empty");
    ck_assert_str_eq(nb_archive_name_at(ar, 3), "s");
    ck_assert_str_eq(nb_archive_key_at(ar, 0), "kind");
    ck_assert_str_eq(nb_archive_key_at(ar, 2), "empty");
    ck_assert_str_eq(nb_archive_get_str(ar, "kind"), "nabla-test");
    ck_assert_str_eq(nb_archive_get_str(ar, "note"), "2.385 \xcf\x89");
    ck_assert_str_eq(nb_archive_get_str(ar, "empty"), "");
    const double *w = nb_archive_get(ar, "w", &r, &c);
    ck_assert(r == 2 && c == 3 && same_bits(w, golden_w, 6));
    const double *b = nb_archive_get(ar, "b", &r, &c);
    ck_assert(r == 1 && c == 3 && same_bits(b, golden_b, 3));
    ck_assert(signbit(b[1]));
    ck_assert_ptr_nonnull(nb_archive_get(ar, "empty", &r, &c));
    ck_assert(r == 0 && c == 3);
    const double *s = nb_archive_get(ar, "s", &r, &c);
    ck_assert(r == 1 && c == 1 && s[0] == DBL_MAX);
}

/* ---- the archive in memory ------------------------------------------------ */

START_TEST(test_memory_api)
{
    nb_archive_free(NULL);
    nb_archive *ar = nb_archive_alloc();
    ck_assert_uint_eq(nb_archive_count(ar), 0);
    ck_assert_ptr_null(nb_archive_get(ar, "w", NULL, NULL));
    ck_assert_ptr_null(nb_archive_get_str(ar, "k"));
    ck_assert_ptr_null(nb_archive_name_at(ar, 0));
    ck_assert_ptr_null(nb_archive_key_at(ar, 0));

    const double a[6] = { 2.385, -1.25, 0.5, 3.75, -0.125, 1.5 };
    const double b[2] = { 7.125, -0.375 };
    ck_assert_int_eq(nb_archive_put(ar, "a", 2, 3, a), NB_OK);
    ck_assert_int_eq(nb_archive_put(ar, "b", 1, 2, b), NB_OK);
    /* Replacing keeps the position and takes the new shape. */
    ck_assert_int_eq(nb_archive_put(ar, "a", 2, 1, b), NB_OK);
    ck_assert_uint_eq(nb_archive_count(ar), 2);
    ck_assert_str_eq(nb_archive_name_at(ar, 0), "a");
    size_t r = 9, c = 9;
    const double *got = nb_archive_get(ar, "a", &r, &c);
    ck_assert(r == 2 && c == 1 && got[0] == 7.125 && got[1] == -0.375);
    ck_assert_ptr_null(nb_archive_get(ar, "zz", &r, &c));
    ck_assert(r == 0 && c == 0);

    ck_assert_int_eq(nb_archive_put_str(ar, "k", "v1"), NB_OK);
    ck_assert_int_eq(nb_archive_put_str(ar, "k", "v2"), NB_OK);
    ck_assert_uint_eq(nb_archive_str_count(ar), 1);
    ck_assert_str_eq(nb_archive_get_str(ar, "k"), "v2");

    /* Refused puts leave everything as it was. */
    double bad[2] = { 1.0, NAN };
    ck_assert_int_eq(nb_archive_put(ar, "a", 1, 2, bad), NB_EDOMAIN);
    bad[1] = -INFINITY;
    ck_assert_int_eq(nb_archive_put(ar, "c", 1, 2, bad), NB_EDOMAIN);
    ck_assert_int_eq(nb_archive_put(ar, "", 1, 1, a), NB_EINVAL);
    ck_assert_int_eq(nb_archive_put(ar, NULL, 1, 1, a), NB_EINVAL);
    ck_assert_int_eq(nb_archive_put(ar, "c", 1, 1, NULL), NB_EINVAL);
    ck_assert_int_eq(nb_archive_put(ar, "c", SIZE_MAX / 4, 3, a), NB_ERANGE);
    ck_assert_int_eq(nb_archive_put(NULL, "c", 1, 1, a), NB_EINVAL);
    char longname[NB_ARCHIVE_NAME_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(nb_archive_put(ar, longname, 1, 1, a), NB_EINVAL);
    ck_assert_int_eq(nb_archive_put_str(ar, longname, "v"), NB_EINVAL);
    longname[NB_ARCHIVE_NAME_MAX] = '\0';   /* exactly the maximum: fine */
    ck_assert_int_eq(nb_archive_put(ar, longname, 1, 1, a), NB_OK);
    ck_assert_int_eq(nb_archive_put_str(ar, "", "v"), NB_EINVAL);
    ck_assert_int_eq(nb_archive_put_str(ar, "k", NULL), NB_EINVAL);
    ck_assert_uint_eq(nb_archive_count(ar), 3);
    got = nb_archive_get(ar, "a", &r, &c);
    ck_assert(r == 2 && c == 1 && got[0] == 7.125);
    ck_assert_ptr_null(nb_archive_get(ar, "c", NULL, NULL));
    ck_assert_str_eq(nb_archive_get_str(ar, "k"), "v2");

    /* An empty tensor is present (non-NULL) with its shape. */
    ck_assert_int_eq(nb_archive_put(ar, "e", 0, 4, NULL), NB_OK);
    ck_assert_ptr_nonnull(nb_archive_get(ar, "e", &r, &c));
    ck_assert(r == 0 && c == 4);
    nb_archive_free(ar);
}
END_TEST

START_TEST(test_put_allocation_failures)
{
    /* Every allocation of a sequence of puts fails in turn: each put either
     * succeeds or says NB_ENOMEM, the archive stays usable, nothing leaks. */
    for (long k = 0;; k++) {
        counting c = { 0, 0, k, 0 };
        nb_allocator al = { count_alloc, count_free, &c };
        nb_archive *ar = nb_archive_alloc_with(&al);
        if (ar == NULL) {
            ck_assert_uint_eq(c.frees, 0);
            continue;
        }
        int failures = 0;
        char name[16];
        for (int i = 0; i < 12; i++) {
            snprintf(name, sizeof name, "t%d", i % 10);
            int st = nb_archive_put(ar, name, 1, 3, golden_w);
            ck_assert(st == NB_OK || st == NB_ENOMEM);
            failures += st != NB_OK;
            st = nb_archive_put_str(ar, name, "2.385");
            ck_assert(st == NB_OK || st == NB_ENOMEM);
            failures += st != NB_OK;
        }
        for (size_t i = 0; i < nb_archive_count(ar); i++) {
            size_t r, cc;
            const double *v = nb_archive_get(ar, nb_archive_name_at(ar, i), &r, &cc);
            ck_assert(r == 1 && cc == 3 && same_bits(v, golden_w, 3));
        }
        nb_archive_free(ar);
        ck_assert_uint_eq(live(&c, c.allocs > (size_t)k ? 1 : 0), 0);
        if (failures == 0) break;   /* k is past the last allocation */
    }
}
END_TEST

/* ---- files: success ------------------------------------------------------- */

START_TEST(test_round_trip)
{
    char *dir = make_tmpdir();
    char path[4200];
    nb_error err = {0};
    char *msg = err.msg;
    snprintf(path, sizeof path, "%s/a.nbar", dir);

    nb_archive *ar = nb_archive_alloc();
    /* Values chosen so that a lost bit shows: signed zero, the smallest
     * subnormal, the largest double, a repeating binary fraction. */
    const double v[8] = { 2.385, -0.0, 4.9406564584124654e-324, DBL_MAX, -DBL_MAX,
                          1.0 / 3.0, DBL_MIN, -1.25e-300 };
    ck_assert_int_eq(nb_archive_put(ar, "layer1/w", 2, 4, v), NB_OK);
    ck_assert_int_eq(nb_archive_put(ar, "layer1/b", 8, 1, v), NB_OK);
    ck_assert_int_eq(nb_archive_put(ar, "none", 3, 0, NULL), NB_OK);
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(nb_archive_put_str(ar, "big", big), NB_OK);
    ck_assert_int_eq(nb_archive_put_str(ar, "dataset", "moons"), NB_OK);
    ck_assert_int_eq(nb_archive_write(ar, path, &err), NB_OK);
    ck_assert_str_eq(msg, "");
    ck_assert_uint_eq(count_entries(dir), 1);   /* no temporary left */

    nb_archive *back = NULL;
    ck_assert_int_eq(nb_archive_read(path, &back, &err), NB_OK);
    ck_assert_str_eq(msg, "");
    ck_assert_uint_eq(nb_archive_count(back), 3);
    for (size_t i = 0; i < 3; i++)
        ck_assert_str_eq(nb_archive_name_at(back, i), nb_archive_name_at(ar, i));
    size_t r, c;
    ck_assert(same_bits(nb_archive_get(back, "layer1/w", &r, &c), v, 8) && r == 2 && c == 4);
    ck_assert(same_bits(nb_archive_get(back, "layer1/b", &r, &c), v, 8) && r == 8 && c == 1);
    ck_assert(nb_archive_get(back, "none", &r, &c) != NULL && r == 3 && c == 0);
    ck_assert_str_eq(nb_archive_get_str(back, "big"), big);
    ck_assert_str_eq(nb_archive_get_str(back, "dataset"), "moons");
    ck_assert_str_eq(nb_archive_key_at(back, 0), "big");

    /* Writing over an existing archive replaces it. */
    ck_assert_int_eq(nb_archive_put_str(back, "dataset", "spirals"), NB_OK);
    ck_assert_int_eq(nb_archive_write(back, path, &err), NB_OK);
    nb_archive *again = NULL;
    ck_assert_int_eq(nb_archive_read(path, &again, &err), NB_OK);
    ck_assert_str_eq(nb_archive_get_str(again, "dataset"), "spirals");
    ck_assert_uint_eq(count_entries(dir), 1);

    /* A bare file name (current directory) works too. */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(dir), 0);
    ck_assert_int_eq(nb_archive_write(ar, "bare.nbar", &err), NB_OK);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_uint_eq(count_entries(dir), 2);

    nb_archive_free(again);
    nb_archive_free(back);
    nb_archive_free(ar);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_golden_fixture)
{
    char path[4200];
    nb_error err = {0};
    char *msg = err.msg;
    fixture(path, sizeof path, "golden-v1.nbar");
    nb_archive *ar = NULL;
    ck_assert_msg(nb_archive_read(path, &ar, &err) == NB_OK, "%s", msg);
    check_golden(ar);
    nb_archive_free(ar);

    /* nabla writes the same content as the same bytes as the independent
     * Python writer. */
    size_t n_ref, n_ours;
    unsigned char *ref = read_bytes(path, &n_ref);
    char *dir = make_tmpdir();
    char ours[4200];
    snprintf(ours, sizeof ours, "%s/golden.nbar", dir);
    ar = golden_archive();
    ck_assert_int_eq(nb_archive_write(ar, ours, &err), NB_OK);
    unsigned char *got = read_bytes(ours, &n_ours);
    ck_assert_uint_eq(n_ours, n_ref);
    for (size_t i = 0; i < n_ref; i++)
        ck_assert_msg(got[i] == ref[i], "byte %zu: %02x, expected %02x", i, got[i], ref[i]);
    /* The trailer is the CRC-32 of the bytes after the magic. */
    uint32_t crc = crc32_bitwise(ref + 8, n_ref - 12);
    ck_assert_uint_eq(crc, (uint32_t)ref[n_ref - 4] | (uint32_t)ref[n_ref - 3] << 8 |
                      (uint32_t)ref[n_ref - 2] << 16 | (uint32_t)ref[n_ref - 1] << 24);
    ck_assert_uint_eq(crc32_bitwise((const unsigned char *)"123456789", 9), 0xCBF43926u);
    nb_archive_free(ar);
    free(got);
    free(ref);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_read_allocation_failures)
{
    char path[4200];
    fixture(path, sizeof path, "golden-v1.nbar");
    for (long k = 0;; k++) {
        counting c = { 0, 0, k, 0 };
        nb_allocator al = { count_alloc, count_free, &c };
        nb_archive *ar = NULL;
        nb_error err = {0};
        char *msg = err.msg;
        int st = nb_archive_read_with(path, &al, &ar, &err);
        if (st == NB_OK) {
            check_golden(ar);
            nb_archive_free(ar);
            ck_assert_uint_eq(c.allocs, c.frees);   /* nothing failed */
            ck_assert_int_gt(k, 5);
            break;
        }
        ck_assert_msg(st == NB_ENOMEM, "allocation %ld: %s (%s)", k, nb_status_name(st), msg);
        ck_assert_ptr_null(ar);
        ck_assert_uint_eq(live(&c, 1), 0);
    }
}
END_TEST

/* ---- files: damaged ------------------------------------------------------- */

START_TEST(test_truncated_every_length)
{
    char path[4200], src[4200];
    fixture(src, sizeof src, "golden-v1.nbar");
    size_t n;
    unsigned char *b = read_bytes(src, &n);
    char *dir = make_tmpdir();
    snprintf(path, sizeof path, "%s/cut.nbar", dir);
    for (size_t len = 0; len < n; len++) {
        write_bytes(path, b, len);
        counting c = { 0, 0, -1, 0 };
        nb_allocator al = { count_alloc, count_free, &c };
        nb_archive *ar = NULL;
        nb_error err = {0};
        char *msg = err.msg;
        int st = nb_archive_read_with(path, &al, &ar, &err);
        ck_assert_msg(st == NB_EFORMAT || st == NB_ECHECKSUM, "length %zu: %s (%s)", len,
                      nb_status_name(st), msg);
        ck_assert_ptr_null(ar);
        ck_assert_uint_eq(c.allocs, c.frees);
        ck_assert(c.largest <= n);   /* never more than the file itself */
    }
    free(b);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_flipped_byte_anywhere)
{
    char path[4200], src[4200];
    fixture(src, sizeof src, "golden-v1.nbar");
    size_t n;
    unsigned char *b = read_bytes(src, &n);
    char *dir = make_tmpdir();
    snprintf(path, sizeof path, "%s/flip.nbar", dir);
    static const unsigned char masks[] = { 0x01, 0x80, 0xFF };
    for (size_t i = 0; i < n; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            b[i] ^= masks[m];
            write_bytes(path, b, n);
            b[i] ^= masks[m];
            nb_archive *ar = NULL;
            nb_error err = {0};
            char *msg = err.msg;
            int st = nb_archive_read(path, &ar, &err);
            int want = i < 8 ? NB_EFORMAT : i < 16 ? NB_EVERSION : NB_ECHECKSUM;
            ck_assert_msg(st == want, "byte %zu ^ %02x: %s, expected %s (%s)", i, masks[m],
                          nb_status_name(st), nb_status_name(want), msg);
            ck_assert_ptr_null(ar);
        }
    }
    free(b);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_fixture_errors)
{
    char path[4200];
    fixture(path, sizeof path, "bad-magic.nbar");
    expect_read_fails(path, NB_EFORMAT, "magic");
    fixture(path, sizeof path, "version-2.nbar");
    expect_read_fails(path, NB_EVERSION, "version 2");
    fixture(path, sizeof path, "huge-rows.nbar");
    expect_read_fails(path, NB_EFORMAT, "1152921504606846976");
    fixture(path, sizeof path, "nan-value.nbar");
    expect_read_fails(path, NB_EDOMAIN, "'w'");
    fixture(path, sizeof path, "no-such-file.nbar");
    expect_read_fails(path, NB_EIO, "no-such-file.nbar");

    /* The forged 2^60 rows cost no more memory than the file's size. */
    fixture(path, sizeof path, "huge-rows.nbar");
    counting c = { 0, 0, -1, 0 };
    nb_allocator al = { count_alloc, count_free, &c };
    nb_archive *ar = NULL;
    ck_assert_int_eq(nb_archive_read_with(path, &al, &ar, NULL), NB_EFORMAT);
    ck_assert_uint_le(c.largest, 4096);

    /* A directory is not an archive; NULL arguments. */
    nb_error err = {0};
    snprintf(path, sizeof path, "%s/tests/data/archive", nb_test_srcdir());
    expect_read_fails(path, NB_EIO, "archive");
    ck_assert_int_eq(nb_archive_read(NULL, &ar, &err), NB_EINVAL);
    ck_assert_int_eq(nb_archive_read(path, NULL, &err), NB_EINVAL);
}
END_TEST

START_TEST(test_forged_files)
{
    char *dir = make_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/forged.nbar", dir);
    forge f;

    /* The encoder itself: a minimal valid file reads back. */
    forge_header(&f, 1, 1, 1);
    forge_name(&f, "k", 1);
    forge_name(&f, "v", 1);
    forge_name(&f, "w", 1);
    forge_u64(&f, 1);
    forge_u64(&f, 2);
    forge_f64(&f, 2.385);
    forge_f64(&f, -1.5);
    forge_finish(&f, path);
    nb_archive *ar = NULL;
    nb_error err = {0};
    char *msg = err.msg;
    ck_assert_msg(nb_archive_read(path, &ar, &err) == NB_OK, "%s", msg);
    ck_assert_str_eq(nb_archive_get_str(ar, "k"), "v");
    ck_assert(nb_archive_get(ar, "w", NULL, NULL)[0] == 2.385);
    nb_archive_free(ar);

    /* An empty archive is valid. */
    forge_header(&f, 1, 0, 0);
    forge_finish(&f, path);
    ck_assert_int_eq(nb_archive_read(path, &ar, &err), NB_OK);
    ck_assert_uint_eq(nb_archive_count(ar), 0);
    nb_archive_free(ar);

    /* rows * cols overflows 64 bits (2^32 * 2^32 wraps to 0). */
    forge_header(&f, 1, 0, 1);
    forge_name(&f, "w", 1);
    forge_u64(&f, (uint64_t)1 << 32);
    forge_u64(&f, (uint64_t)1 << 32);
    forge_finish(&f, path);
    expect_read_fails(path, NB_EFORMAT, "'w'");

    /* Counts far beyond what the file could hold. */
    forge_header(&f, 1, 0, (uint64_t)1 << 60);
    forge_finish(&f, path);
    expect_read_fails(path, NB_EFORMAT, "tensors");
    forge_header(&f, 1, UINT64_MAX, 0);
    forge_finish(&f, path);
    expect_read_fails(path, NB_EFORMAT, "metadata");

    /* A name longer than the file / than the limit, empty, with a NUL. */
    forge_header(&f, 1, 0, 1);
    forge_u64(&f, (uint64_t)1 << 62);
    forge_bytes(&f, "wwwwwwwwwwwwwwwwwwwwwwwwwwww", 28);
    forge_finish(&f, path);
    expect_read_fails(path, NB_EFORMAT, "name");
    forge_header(&f, 1, 1, 0);
    forge_u64(&f, NB_ARCHIVE_NAME_MAX + 1);
    for (size_t i = 0; i < NB_ARCHIVE_NAME_MAX / 2; i++) forge_bytes(&f, "k", 1);
    forge_finish(&f, path);
    expect_read_fails(path, NB_EFORMAT, "name");
    forge_header(&f, 1, 0, 1);
    forge_name(&f, "", 0);
    forge_u64(&f, 0);
    forge_u64(&f, 0);
    forge_bytes(&f, "padding-padding-padding", 23);
    forge_finish(&f, path);
    expect_read_fails(path, NB_EFORMAT, "empty name");
    forge_header(&f, 1, 0, 1);
    forge_name(&f, "w\0x", 3);
    forge_u64(&f, 0);
    forge_u64(&f, 0);
    forge_finish(&f, path);
    expect_read_fails(path, NB_EFORMAT, "NUL");
    forge_header(&f, 1, 1, 0);
    forge_name(&f, "k", 1);
    forge_name(&f, "a\0b", 3);
    forge_bytes(&f, "padding-padding-padding", 23);
    forge_finish(&f, path);
    expect_read_fails(path, NB_EFORMAT, "NUL");

    /* The same tensor name twice; the same key twice. */
    forge_header(&f, 1, 0, 2);
    for (int i = 0; i < 2; i++) {
        forge_name(&f, "w", 1);
        forge_u64(&f, 1);
        forge_u64(&f, 1);
        forge_f64(&f, 2.385);
    }
    forge_finish(&f, path);
    expect_read_fails(path, NB_EFORMAT, "twice");
    forge_header(&f, 1, 2, 0);
    for (int i = 0; i < 2; i++) {
        forge_name(&f, "kind", 4);
        forge_name(&f, "x", 1);
    }
    forge_finish(&f, path);
    expect_read_fails(path, NB_EFORMAT, "twice");

    /* Bytes after the last record; a record cut short but CRC-valid. */
    forge_header(&f, 1, 0, 1);
    forge_name(&f, "w", 1);
    forge_u64(&f, 1);
    forge_u64(&f, 1);
    forge_f64(&f, 2.385);
    forge_bytes(&f, "junk", 4);
    forge_finish(&f, path);
    expect_read_fails(path, NB_EFORMAT, "unexpected");
    forge_header(&f, 1, 0, 1);
    forge_name(&f, "w", 1);
    forge_u64(&f, 2);
    forge_u64(&f, 3);
    forge_f64(&f, 2.385);
    forge_f64(&f, 2.385);
    forge_finish(&f, path);
    expect_read_fails(path, NB_EFORMAT, "(2x3)");

    /* Infinity, and a version number far from 1. */
    forge_header(&f, 1, 0, 1);
    forge_name(&f, "bias", 4);
    forge_u64(&f, 1);
    forge_u64(&f, 2);
    forge_f64(&f, 2.385);
    forge_f64(&f, -INFINITY);
    forge_finish(&f, path);
    expect_read_fails(path, NB_EDOMAIN, "(0, 1)");
    forge_header(&f, UINT64_MAX, 0, 0);
    forge_finish(&f, path);
    expect_read_fails(path, NB_EVERSION, "18446744073709551615");

    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- files: failing writes ------------------------------------------------ */

START_TEST(test_write_unwritable)
{
    char *dir = make_tmpdir();
    char path[4200];
    nb_error err = {0};
    char *msg = err.msg;
    nb_archive *ar = golden_archive();

    /* A directory that does not exist. */
    snprintf(path, sizeof path, "%s/missing/a.nbar", dir);
    ck_assert_int_eq(nb_archive_write(ar, path, &err), NB_EIO);
    ck_assert_msg(strstr(msg, "missing/a.nbar") != NULL, "%s", msg);
    ck_assert_uint_eq(count_entries(dir), 0);

    /* A path below a regular file. */
    snprintf(path, sizeof path, "%s/file", dir);
    write_bytes(path, (const unsigned char *)"x", 1);
    snprintf(path, sizeof path, "%s/file/a.nbar", dir);
    ck_assert_int_eq(nb_archive_write(ar, path, &err), NB_EIO);
    ck_assert_uint_eq(count_entries(dir), 1);

    /* A read-only directory (meaningless for root, who may write anyway). */
    if (geteuid() != 0) {
        char ro[4100];
        snprintf(ro, sizeof ro, "%s/ro", dir);
        ck_assert_int_eq(mkdir(ro, 0500), 0);
        snprintf(path, sizeof path, "%s/a.nbar", ro);
        ck_assert_int_eq(nb_archive_write(ar, path, &err), NB_EIO);
        ck_assert_uint_eq(count_entries(ro), 0);
        chmod(ro, 0700);
    }

    ck_assert_int_eq(nb_archive_write(NULL, path, &err), NB_EINVAL);
    ck_assert_int_eq(nb_archive_write(ar, NULL, &err), NB_EINVAL);
    ck_assert_int_eq(nb_archive_write(ar, "", NULL), NB_EINVAL);
    nb_archive_free(ar);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_write_over_directory)
{
    /* The target is an existing directory: the rename fails, the temporary
     * goes away, the directory and what it holds are untouched. */
    char *dir = make_tmpdir();
    char path[4200], inner[4300];
    nb_error err = {0};
    char *msg = err.msg;
    snprintf(path, sizeof path, "%s/model.nbar", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(inner, sizeof inner, "%s/keep", path);
    write_bytes(inner, (const unsigned char *)"old", 3);
    nb_archive *ar = golden_archive();
    ck_assert_int_eq(nb_archive_write(ar, path, &err), NB_EIO);
    ck_assert_msg(strstr(msg, "model.nbar") != NULL, "%s", msg);
    ck_assert_uint_eq(count_entries(dir), 1);
    ck_assert_uint_eq(count_entries(path), 1);
    size_t n;
    unsigned char *b = read_bytes(inner, &n);
    ck_assert(n == 3 && memcmp(b, "old", 3) == 0);
    free(b);
    nb_archive_free(ar);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_write_failure_keeps_old_file)
{
    /* An existing archive; the next write fails half-way (file size limit,
     * EFBIG): the old file must still be there, byte for byte, and no
     * temporary may be left. */
    char *dir = make_tmpdir();
    char path[4200];
    nb_error err = {0};
    char *msg = err.msg;
    snprintf(path, sizeof path, "%s/ckpt.nbar", dir);
    nb_archive *ar = golden_archive();
    ck_assert_int_eq(nb_archive_write(ar, path, &err), NB_OK);
    size_t n_old;
    unsigned char *old = read_bytes(path, &n_old);

    double *big = malloc(4096 * sizeof(double));
    for (size_t i = 0; i < 4096; i++) big[i] = 2.385 * (double)i;
    ck_assert_int_eq(nb_archive_put(ar, "big", 64, 64, big), NB_OK);

    struct rlimit saved, small;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    int st = nb_archive_write(ar, path, &err);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, prev);

    ck_assert_msg(st == NB_EIO, "%s (%s)", nb_status_name(st), msg);
    ck_assert_uint_eq(count_entries(dir), 1);
    size_t n_now;
    unsigned char *now = read_bytes(path, &n_now);
    ck_assert(n_now == n_old && memcmp(now, old, n_old) == 0);
    nb_archive *back = NULL;
    ck_assert_int_eq(nb_archive_read(path, &back, &err), NB_OK);
    check_golden(back);
    nb_archive_free(back);
    free(now);
    free(old);
    free(big);
    nb_archive_free(ar);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- models --------------------------------------------------------------- */

static const double m_w1[6] = { 2.385, -1.25, 0.5, 3.75, -0.125, 1.5 };  /* (2,3) */
static const double m_b1[3] = { 0.25, -0.5, 1.125 };                     /* (1,3) */
static const double m_w2[3] = { -2.75, 0.0625, 4.5 };                    /* (3,1) */

/* A graph with params w1 (2,3), b1 (1,3), w2 (shape of the last one given),
 * filled with values + offset. */
static nb_graph *model_graph(double offset, const char *last_name, size_t r2, size_t c2)
{
    nb_graph *g = nb_graph_alloc();
    double w1[6], b1[3], w2[3];
    for (int i = 0; i < 6; i++) w1[i] = m_w1[i] + offset;
    for (int i = 0; i < 3; i++) b1[i] = m_b1[i] + offset;
    for (int i = 0; i < 3; i++) w2[i] = m_w2[i] + offset;
    ck_assert_ptr_nonnull(nb_param(g, "w1", 2, 3, w1));
    ck_assert_ptr_nonnull(nb_param(g, "b1", 1, 3, b1));
    if (last_name) ck_assert_ptr_nonnull(nb_param(g, last_name, r2, c2, w2));
    return g;
}

static int graph_values_equal(nb_graph *a, nb_graph *b)
{
    if (nb_graph_param_count(a) != nb_graph_param_count(b)) return 0;
    for (size_t i = 0; i < nb_graph_param_count(a); i++) {
        nb_node *p = nb_graph_param_at(a, i), *q = nb_graph_param_at(b, i);
        if (nb_node_size(p) != nb_node_size(q) ||
            !same_bits(nb_node_cvalue(p), nb_node_cvalue(q), nb_node_size(p)))
            return 0;
    }
    return 1;
}

START_TEST(test_model_save_load)
{
    char *dir = make_tmpdir();
    char path[4200];
    nb_error err = {0};
    char *msg = err.msg;
    snprintf(path, sizeof path, "%s/model.nbar", dir);
    nb_graph *g1 = model_graph(0.0, "w2", 3, 1);
    nb_graph *g2 = model_graph(10.0, "w2", 3, 1);
    nb_graph *g0 = model_graph(0.0, "w2", 3, 1);
    ck_assert_int_eq(nb_model_save(g1, path, &err), NB_OK);
    ck_assert_uint_eq(count_entries(dir), 1);

    nb_archive *ar = NULL;
    ck_assert_int_eq(nb_archive_read(path, &ar, &err), NB_OK);
    ck_assert_str_eq(nb_archive_get_str(ar, "kind"), "nabla-model");
    ck_assert_str_eq(nb_archive_get_str(ar, "nabla_version"), PACKAGE_VERSION);
    ck_assert_uint_eq(nb_archive_count(ar), 3);
    ck_assert_str_eq(nb_archive_name_at(ar, 2), "w2");
    nb_archive_free(ar);

    ck_assert(!graph_values_equal(g1, g2));
    ck_assert_int_eq(nb_model_load(g2, path, &err), NB_OK);
    ck_assert_str_eq(msg, "");
    ck_assert(graph_values_equal(g1, g2));
    ck_assert(graph_values_equal(g0, g2));

    /* Same names in another order: matched by name, not position. */
    nb_graph *g3 = nb_graph_alloc();
    ck_assert_ptr_nonnull(nb_param(g3, "w2", 3, 1, NULL));
    ck_assert_ptr_nonnull(nb_param(g3, "w1", 2, 3, NULL));
    ck_assert_ptr_nonnull(nb_param(g3, "b1", 1, 3, NULL));
    ck_assert_int_eq(nb_model_load(g3, path, &err), NB_OK);
    ck_assert(same_bits(nb_node_cvalue(nb_graph_param_find(g3, "w2")), m_w2, 3));
    ck_assert(same_bits(nb_node_cvalue(nb_graph_param_find(g3, "w1")), m_w1, 6));

    nb_graph_free(g3);
    nb_graph_free(g0);
    nb_graph_free(g1);
    nb_graph_free(g2);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_model_load_mismatch)
{
    char *dir = make_tmpdir();
    char path[4200], other[4200];
    nb_error err = {0};
    char *msg = err.msg;
    snprintf(path, sizeof path, "%s/model.nbar", dir);
    nb_graph *g1 = model_graph(0.0, "w2", 3, 1);
    ck_assert_int_eq(nb_model_save(g1, path, &err), NB_OK);

    /* The mismatch is in the LAST parameter, so values written before the
     * check would show. */
    struct { const char *name; size_t r, c; int st; const char *needle; } cases[] = {
        { "w2", 1, 3, NB_ESHAPE, "'w2' is (1x3) in the graph, (3x1) in the file" },
        { "w3", 3, 1, NB_ENOTFOUND, "'w3'" },   /* renamed: w3 missing in the file */
        { NULL, 0, 0, NB_ENOTFOUND, "'w2'" },   /* file has w2, graph does not */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        nb_graph *g = model_graph(10.0, cases[k].name, cases[k].r, cases[k].c);
        nb_graph *ref = model_graph(10.0, cases[k].name, cases[k].r, cases[k].c);
        int st = nb_model_load(g, path, &err);
        ck_assert_msg(st == cases[k].st, "case %zu: %s (%s)", k, nb_status_name(st), msg);
        ck_assert_msg(strstr(msg, cases[k].needle) != NULL, "case %zu: '%s'", k, msg);
        ck_assert_msg(graph_values_equal(g, ref), "case %zu: values changed", k);
        nb_graph_free(ref);
        nb_graph_free(g);
    }

    /* An extra parameter in the graph. */
    nb_graph *g = model_graph(10.0, "w2", 3, 1);
    ck_assert_ptr_nonnull(nb_param(g, "a0", 1, 1, (double[]){ 2.385 }));
    ck_assert_int_eq(nb_model_load(g, path, &err), NB_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(msg, "'a0'"));
    ck_assert(nb_node_cvalue(nb_graph_param_find(g, "w1"))[0] == m_w1[0] + 10.0);
    nb_graph_free(g);

    /* An archive that is not a model. */
    snprintf(other, sizeof other, "%s/other.nbar", dir);
    nb_archive *ar = golden_archive();
    ck_assert_int_eq(nb_archive_write(ar, other, &err), NB_OK);
    nb_archive_free(ar);
    g = model_graph(10.0, "w2", 3, 1);
    ck_assert_int_eq(nb_model_load(g, other, &err), NB_EFORMAT);
    ck_assert_ptr_nonnull(strstr(msg, "nabla-test"));
    /* A damaged model, a missing file, bad arguments. */
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    b[n / 2] ^= 0x10;
    write_bytes(other, b, n);
    free(b);
    ck_assert_int_eq(nb_model_load(g, other, &err), NB_ECHECKSUM);
    snprintf(other, sizeof other, "%s/none.nbar", dir);
    ck_assert_int_eq(nb_model_load(g, other, &err), NB_EIO);
    ck_assert_int_eq(nb_model_load(NULL, path, &err), NB_EINVAL);
    ck_assert_int_eq(nb_model_save(g, NULL, &err), NB_EINVAL);
    ck_assert(nb_node_cvalue(nb_graph_param_find(g, "w1"))[0] == m_w1[0] + 10.0);

    /* Saving into a missing directory: NB_EIO, nothing left behind. */
    snprintf(other, sizeof other, "%s/nodir/m.nbar", dir);
    ck_assert_int_eq(nb_model_save(g, other, &err), NB_EIO);
    ck_assert_uint_eq(count_entries(dir), 2);   /* model.nbar, other.nbar */

    nb_graph_free(g);
    nb_graph_free(g1);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* A newline in a tensor name stays on the message's line (issue #9.6): a
 * forged file with the name twice (valid CRC), and a model file whose
 * tensor matches no parameter of the graph. */
START_TEST(test_names_escaped_in_messages)
{
    char *dir = make_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/names.nbar", dir);
    forge f;
    forge_header(&f, 1, 0, 2);
    for (int i = 0; i < 2; i++) {
        forge_name(&f, "w\nA", 3);
        forge_u64(&f, 1);
        forge_u64(&f, 1);
        forge_f64(&f, 2.385);
    }
    forge_finish(&f, path);
    nb_archive *ar = NULL;
    nb_error err;
    nb_error_clear(&err);
    ck_assert_int_eq(nb_archive_read(path, &ar, &err), NB_EFORMAT);
    ck_assert_msg(strstr(err.msg, "tensor 'w\\nA' appears twice") && !strchr(err.msg, '\n'),
                  "%s", err.msg);

    const double v = 2.385;
    snprintf(path, sizeof path, "%s/model.nbm", dir);
    nb_graph *g = nb_graph_alloc();
    nb_param(g, "layer\n1", 1, 1, &v);
    ck_assert_int_eq(nb_model_save(g, path, &err), NB_OK);
    nb_graph *h = nb_graph_alloc();
    ck_assert_int_eq(nb_model_load(h, path, &err), NB_ENOTFOUND);
    ck_assert_msg(strstr(err.msg, "tensor 'layer\\n1' (1x1) matches no parameter")
                  && !strchr(err.msg, '\n'), "%s", err.msg);
    nb_param(h, "other\tname", 1, 1, &v);
    ck_assert_int_eq(nb_model_load(h, path, &err), NB_ENOTFOUND);
    ck_assert_msg(strstr(err.msg, "for parameter 'other\\tname'") && !strchr(err.msg, '\t'),
                  "%s", err.msg);
    nb_graph_free(h);
    nb_graph_free(g);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_model_in_archive)
{
    /* A model under a prefix, next to other tensors: only the prefixed ones
     * are matched against the graph. */
    nb_graph *g1 = model_graph(0.0, "w2", 3, 1);
    nb_archive *ar = nb_archive_alloc();
    ck_assert_int_eq(nb_archive_put(ar, "optim/w1", 1, 1, golden_s), NB_OK);
    ck_assert_int_eq(nb_model_put(g1, ar, "model/"), NB_OK);
    ck_assert_int_eq(nb_archive_put(ar, "w1", 1, 1, golden_s), NB_OK);
    ck_assert_uint_eq(nb_archive_count(ar), 5);
    ck_assert_str_eq(nb_archive_name_at(ar, 1), "model/w1");

    nb_error err = {0};
    char *msg = err.msg;
    nb_graph *g2 = model_graph(10.0, "w2", 3, 1);
    ck_assert_int_eq(nb_model_get(g2, ar, "model/", &err), NB_OK);
    ck_assert(graph_values_equal(g1, g2));

    /* An extra "model/" tensor, a shape mismatch: nothing is loaded. */
    nb_graph *g3 = model_graph(10.0, "w2", 3, 1), *ref = model_graph(10.0, "w2", 3, 1);
    ck_assert_int_eq(nb_archive_put(ar, "model/zz", 1, 1, golden_s), NB_OK);
    ck_assert_int_eq(nb_model_get(g3, ar, "model/", &err), NB_ENOTFOUND);
    ck_assert_msg(strstr(msg, "'model/zz'") != NULL, "%s", msg);
    ck_assert(graph_values_equal(g3, ref));
    nb_graph *g4 = model_graph(10.0, "w2", 1, 3);
    ck_assert_int_eq(nb_model_get(g4, ar, "model/", &err), NB_ESHAPE);
    ck_assert_int_eq(nb_model_get(g4, ar, "nothing/", &err), NB_ENOTFOUND);
    ck_assert_int_eq(nb_model_get(NULL, ar, "", &err), NB_EINVAL);
    ck_assert_int_eq(nb_model_put(g4, NULL, ""), NB_EINVAL);

    /* A parameter holding NaN cannot be stored. */
    nb_node_value(nb_graph_param_find(g4, "b1"))[1] = NAN;
    ck_assert_int_eq(nb_model_put(g4, ar, "m2/"), NB_EDOMAIN);

    nb_graph_free(g4);
    nb_graph_free(ref);
    nb_graph_free(g3);
    nb_graph_free(g2);
    nb_graph_free(g1);
    nb_archive_free(ar);
}
END_TEST

static Suite *archive_suite(void)
{
    Suite *s = suite_create("archive");
    TCase *tc = tcase_create("memory");
    tcase_add_test(tc, test_memory_api);
    tcase_add_test(tc, test_put_allocation_failures);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_golden_fixture);
    tcase_add_test(tc, test_read_allocation_failures);
    tcase_add_test(tc, test_truncated_every_length);
    tcase_add_test(tc, test_flipped_byte_anywhere);
    tcase_add_test(tc, test_fixture_errors);
    tcase_add_test(tc, test_forged_files);
    suite_add_tcase(s, tc);
    tc = tcase_create("writes");
    tcase_add_test(tc, test_write_unwritable);
    tcase_add_test(tc, test_write_over_directory);
    tcase_add_test(tc, test_write_failure_keeps_old_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("models");
    tcase_add_test(tc, test_model_save_load);
    tcase_add_test(tc, test_model_load_mismatch);
    tcase_add_test(tc, test_model_in_archive);
    tcase_add_test(tc, test_names_escaped_in_messages);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return nb_test_run(archive_suite()); }
