/* archive.c — named double matrices and string metadata in a versioned,
 * checksummed binary file; model files built on it.
 *
 * Layout (docs/formats-archive.md has it byte by byte):
 *
 *     "NABLAARC"  u64 version=1  u64 n_strings  u64 n_tensors
 *     n_strings x { u64 key_len, key, u64 value_len, value }
 *     n_tensors x { u64 name_len, name, u64 rows, u64 cols, rows*cols f64 }
 *     u32 CRC-32 of every byte after the magic and before the CRC
 *
 * all little-endian.  Doubles are written as the bytes of their IEEE-754
 * binary64 pattern (memcpy into a uint64, then shifted out byte by byte), so
 * the file is the same on every host.
 *
 * The reader takes the whole file into one buffer (its size is known from
 * fstat, so that allocation is bounded by what is on disk), checks magic,
 * version and CRC, then parses with every count and size compared to the
 * bytes that remain before anything is allocated for it.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nabla/archive.h>
#include "io/io.h"

#define MAGIC_LEN 8u
#define HEADER_LEN 32u   /* magic, version, n_strings, n_tensors */
#define CRC_LEN 4u
/* Smallest records: a 1-byte key with an empty value; a 1-byte name with
 * (0 x 0) values.  They bound the counts a file of a given size can hold. */
#define MIN_STRING_RECORD 17u
#define MIN_TENSOR_RECORD 25u

typedef struct tensor {
    char *name;
    size_t rows, cols;
    double *data;       /* (rows, cols); never NULL, even when empty */
} tensor;

typedef struct meta {
    char *key;
    char *value;
} meta;

struct nb_archive {
    nb_allocator al;
    tensor *t;
    size_t nt, cap_t;
    meta *s;
    size_t ns, cap_s;
};


/* ---- memory --------------------------------------------------------------- */

nb_archive *nb_archive_alloc_with(const nb_allocator *allocator)
{
    nb_allocator al = nbi_allocator(allocator);
    nb_archive *ar = nbi_alloc(&al, sizeof *ar);
    if (ar == NULL) return NULL;
    memset(ar, 0, sizeof *ar);
    ar->al = al;
    return ar;
}

nb_archive *nb_archive_alloc(void) { return nb_archive_alloc_with(NULL); }

void nb_archive_free(nb_archive *ar)
{
    if (ar == NULL) return;
    for (size_t i = 0; i < ar->nt; i++) {
        nbi_free(&ar->al, ar->t[i].name);
        nbi_free(&ar->al, ar->t[i].data);
    }
    for (size_t i = 0; i < ar->ns; i++) {
        nbi_free(&ar->al, ar->s[i].key);
        nbi_free(&ar->al, ar->s[i].value);
    }
    nbi_free(&ar->al, ar->t);
    nbi_free(&ar->al, ar->s);
    nb_allocator al = ar->al;
    nbi_free(&al, ar);
}

/* ---- lookup and insertion ------------------------------------------------- */

static tensor *find_tensor(const nb_archive *ar, const char *name)
{
    for (size_t i = 0; i < ar->nt; i++)
        if (strcmp(ar->t[i].name, name) == 0) return &ar->t[i];
    return NULL;
}

static meta *find_meta(const nb_archive *ar, const char *key)
{
    for (size_t i = 0; i < ar->ns; i++)
        if (strcmp(ar->s[i].key, key) == 0) return &ar->s[i];
    return NULL;
}

/* Makes room for one more element in *arr (count n, capacity *cap). */
static int grow(nb_archive *ar, void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap) return NB_OK;
    size_t c = *cap ? *cap * 2 : 8;
    if (c > SIZE_MAX / elem) return NB_ENOMEM;
    void *p = nbi_alloc(&ar->al, c * elem);
    if (p == NULL) return NB_ENOMEM;
    if (n) memcpy(p, *arr, n * elem);
    nbi_free(&ar->al, *arr);
    *arr = p;
    *cap = c;
    return NB_OK;
}

static int name_ok(const char *name)
{
    if (name == NULL || name[0] == '\0') return 0;
    return strlen(name) <= NB_ARCHIVE_NAME_MAX;
}

int nb_archive_put(nb_archive *ar, const char *name, size_t rows, size_t cols,
                   const double *data)
{
    if (ar == NULL || !name_ok(name)) return NB_EINVAL;
    if (rows != 0 && cols > SIZE_MAX / sizeof(double) / rows) return NB_ERANGE;
    size_t n = rows * cols;
    if (n > 0 && data == NULL) return NB_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(data[i])) return NB_EDOMAIN;

    double *copy = nbi_alloc(&ar->al, n * sizeof(double));
    if (copy == NULL) return NB_ENOMEM;
    if (n) memcpy(copy, data, n * sizeof(double));

    tensor *t = find_tensor(ar, name);
    if (t != NULL) {
        nbi_free(&ar->al, t->data);
        t->data = copy;
        t->rows = rows;
        t->cols = cols;
        return NB_OK;
    }
    char *nm = nbi_strndup(&ar->al, name, strlen(name));
    void *arr = ar->t;
    if (nm == NULL || grow(ar, &arr, ar->nt, &ar->cap_t, sizeof *ar->t) != NB_OK) {
        nbi_free(&ar->al, nm);
        nbi_free(&ar->al, copy);
        return NB_ENOMEM;
    }
    ar->t = arr;
    ar->t[ar->nt++] = (tensor){ nm, rows, cols, copy };
    return NB_OK;
}

int nb_archive_put_str(nb_archive *ar, const char *key, const char *value)
{
    if (ar == NULL || !name_ok(key) || value == NULL) return NB_EINVAL;
    size_t vlen = strlen(value);
    if (vlen > NB_ARCHIVE_VALUE_MAX) return NB_EINVAL;
    char *v = nbi_strndup(&ar->al, value, vlen);
    if (v == NULL) return NB_ENOMEM;
    meta *m = find_meta(ar, key);
    if (m != NULL) {
        nbi_free(&ar->al, m->value);
        m->value = v;
        return NB_OK;
    }
    char *k = nbi_strndup(&ar->al, key, strlen(key));
    void *arr = ar->s;
    if (k == NULL || grow(ar, &arr, ar->ns, &ar->cap_s, sizeof *ar->s) != NB_OK) {
        nbi_free(&ar->al, k);
        nbi_free(&ar->al, v);
        return NB_ENOMEM;
    }
    ar->s = arr;
    ar->s[ar->ns++] = (meta){ k, v };
    return NB_OK;
}

const double *nb_archive_get(const nb_archive *ar, const char *name,
                             size_t *rows, size_t *cols)
{
    const tensor *t = (ar != NULL && name != NULL) ? find_tensor(ar, name) : NULL;
    if (rows) *rows = t ? t->rows : 0;
    if (cols) *cols = t ? t->cols : 0;
    return t ? t->data : NULL;
}

const char *nb_archive_get_str(const nb_archive *ar, const char *key)
{
    const meta *m = (ar != NULL && key != NULL) ? find_meta(ar, key) : NULL;
    return m ? m->value : NULL;
}

size_t nb_archive_count(const nb_archive *ar) { return ar ? ar->nt : 0; }

const char *nb_archive_name_at(const nb_archive *ar, size_t i)
{
    return ar && i < ar->nt ? ar->t[i].name : NULL;
}

size_t nb_archive_str_count(const nb_archive *ar) { return ar ? ar->ns : 0; }

const char *nb_archive_key_at(const nb_archive *ar, size_t i)
{
    return ar && i < ar->ns ? ar->s[i].key : NULL;
}

/* ---- CRC-32 (IEEE 802.3, reflected 0xEDB88320; zlib's crc32()) ------------ */

typedef struct crc32_state {
    uint32_t table[256];
    uint32_t crc;        /* running value, pre-inverted */
} crc32_state;

static void crc32_init(crc32_state *c)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t r = i;
        for (int k = 0; k < 8; k++) r = (r & 1u) ? (r >> 1) ^ 0xEDB88320u : r >> 1;
        c->table[i] = r;
    }
    c->crc = 0xFFFFFFFFu;
}

static void crc32_update(crc32_state *c, const unsigned char *p, size_t n)
{
    uint32_t r = c->crc;
    for (size_t i = 0; i < n; i++) r = c->table[(r ^ p[i]) & 0xFFu] ^ (r >> 8);
    c->crc = r;
}

static uint32_t crc32_final(const crc32_state *c) { return c->crc ^ 0xFFFFFFFFu; }

/* ---- little-endian encoding ----------------------------------------------- */

static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* ---- writing -------------------------------------------------------------- */

typedef struct writer {
    FILE *f;
    crc32_state crc;
    int hash;            /* 0 while writing the magic */
    int err;             /* errno of the first failure; 0 when none */
} writer;

static void emit(writer *w, const void *p, size_t n)
{
    if (w->err || n == 0) return;
    if (w->hash) crc32_update(&w->crc, p, n);
    if (fwrite(p, 1, n, w->f) != n) w->err = errno ? errno : EIO;
}

static void emit_u64(writer *w, uint64_t v)
{
    unsigned char b[8];
    put_u64(b, v);
    emit(w, b, 8);
}

static void emit_bytes_with_len(writer *w, const char *s)
{
    size_t n = strlen(s);
    emit_u64(w, (uint64_t)n);
    emit(w, s, n);
}

static void emit_archive(writer *w, const nb_archive *ar)
{
    crc32_init(&w->crc);
    w->hash = 0;
    emit(w, NB_ARCHIVE_MAGIC, MAGIC_LEN);
    w->hash = 1;
    emit_u64(w, NB_ARCHIVE_VERSION);
    emit_u64(w, (uint64_t)ar->ns);
    emit_u64(w, (uint64_t)ar->nt);
    for (size_t i = 0; i < ar->ns; i++) {
        emit_bytes_with_len(w, ar->s[i].key);
        emit_bytes_with_len(w, ar->s[i].value);
    }
    for (size_t i = 0; i < ar->nt; i++) {
        const tensor *t = &ar->t[i];
        emit_bytes_with_len(w, t->name);
        emit_u64(w, (uint64_t)t->rows);
        emit_u64(w, (uint64_t)t->cols);
        unsigned char buf[512 * 8];
        size_t n = t->rows * t->cols;
        for (size_t j = 0; j < n;) {
            size_t k = 0;
            for (; k < 512 && j < n; k++, j++) put_u64(buf + 8 * k, double_bits(t->data[j]));
            emit(w, buf, 8 * k);
        }
    }
    w->hash = 0;
    uint32_t crc = crc32_final(&w->crc);
    unsigned char b[CRC_LEN];
    for (unsigned i = 0; i < CRC_LEN; i++) b[i] = (unsigned char)(crc >> (8 * i));
    emit(w, b, CRC_LEN);
}

/* Directory part of path ("." when none) into buf; 0 when it does not fit. */
static int dir_of(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) return snprintf(buf, len, ".") < (int)len;
    size_t n = (size_t)(slash - path);
    if (n == 0) n = 1;   /* "/file" */
    if (n + 1 > len) return 0;
    memcpy(buf, path, n);
    buf[n] = '\0';
    return 1;
}

int nb_archive_write(const nb_archive *ar, const char *path, nb_error *err)
{
    if (ar == NULL || path == NULL || path[0] == '\0')
        return nb_error_set(err, NB_EINVAL, "archive write: NULL archive or empty path");
    char ep[NB_ERROR_ECHO_LEN], et[NB_ERROR_ECHO_LEN], ed[NB_ERROR_ECHO_LEN];
    const char *P = nbi_echo_path(ep, path);

    size_t plen = strlen(path);
    size_t tlen = plen + 64;
    char *tmp = nbi_alloc(&ar->al, tlen);
    char *dir = nbi_alloc(&ar->al, plen + 2);
    if (tmp == NULL || dir == NULL) {
        nbi_free(&ar->al, tmp);
        nbi_free(&ar->al, dir);
        return nb_error_set(err, NB_ENOMEM, "%s: out of memory", P);
    }

    /* A fresh temporary next to path: O_EXCL, so two writers (or a leftover
     * of a crashed run with the same pid) never share one. */
    int fd = -1, e = 0;
    for (unsigned attempt = 0; attempt < 1000 && fd < 0; attempt++) {
        snprintf(tmp, tlen, "%s.tmp.%ld.%u", path, (long)getpid(), attempt);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        e = errno;
        int st = nb_error_set(err, NB_EIO, "%s: cannot create a temporary file %s: %s",
                      P, nbi_echo_path(et, tmp), strerror(e));
        nbi_free(&ar->al, tmp);
        nbi_free(&ar->al, dir);
        return st;
    }
    FILE *f = fdopen(fd, "wb");
    if (f == NULL) {
        e = errno;
        close(fd);
        unlink(tmp);
        int st = nb_error_set(err, NB_EIO, "%s: fdopen: %s", nbi_echo_path(et, tmp), strerror(e));
        nbi_free(&ar->al, tmp);
        nbi_free(&ar->al, dir);
        return st;
    }

    writer w = { .f = f };
    errno = 0;
    emit_archive(&w, ar);
    const char *what = "write";
    if (!w.err && fflush(f) != 0) { w.err = errno; what = "fflush"; }
    if (!w.err && fsync(fileno(f)) != 0) { w.err = errno; what = "fsync"; }
    if (fclose(f) != 0 && !w.err) { w.err = errno; what = "close"; }
    if (!w.err && rename(tmp, path) != 0) { w.err = errno; what = "rename"; }
    if (w.err) {
        unlink(tmp);
        int st = nb_error_set(err, NB_EIO, "%s: %s of %s failed: %s (file left untouched)",
                      P, what, nbi_echo_path(et, tmp), strerror(w.err ? w.err : EIO));
        nbi_free(&ar->al, tmp);
        nbi_free(&ar->al, dir);
        return st;
    }
    nbi_free(&ar->al, tmp);

    /* The rename is durable only once the directory entry is. */
    int st = NB_OK;
    if (dir_of(path, dir, plen + 2)) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
            e = errno;
            st = nb_error_set(err, NB_EIO, "%s: written, but its directory %s cannot be opened "
                      "to fsync it: %s", P, nbi_echo_path(ed, dir), strerror(e));
        } else {
            if (fsync(dfd) != 0 && errno != EINVAL && errno != ENOTSUP) {
                e = errno;
                st = nb_error_set(err, NB_EIO, "%s: written, but fsync of directory %s failed: %s",
                          P, nbi_echo_path(ed, dir), strerror(e));
            }
            close(dfd);
        }
    }
    nbi_free(&ar->al, dir);
    return st;
}

/* ---- reading -------------------------------------------------------------- */

typedef struct cursor {
    const unsigned char *p;
    size_t left;
} cursor;

static int take_u64(cursor *c, uint64_t *v)
{
    if (c->left < 8) return 0;
    *v = get_u64(c->p);
    c->p += 8;
    c->left -= 8;
    return 1;
}

/* Reads the whole file into a buffer allocated through al. */
static int slurp(const char *path, const nb_allocator *al, unsigned char **buf,
                 size_t *size, nb_error *err)
{
    *buf = NULL;
    *size = 0;
    char ep[NB_ERROR_ECHO_LEN];
    const char *P = nbi_echo_path(ep, path);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return nb_error_set(err, NB_EIO, "%s: cannot open: %s", P, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        int e = errno;
        fclose(f);
        return nb_error_set(err, NB_EIO, "%s: fstat: %s", P, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        fclose(f);
        return nb_error_set(err, NB_EIO, "%s: not a regular file", P);
    }
    if ((uintmax_t)sb.st_size > (uintmax_t)(SIZE_MAX - 1)) {
        fclose(f);
        return nb_error_set(err, NB_ERANGE, "%s: %jd bytes do not fit in memory", P,
                    (intmax_t)sb.st_size);
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *b = nbi_alloc(al, n);
    if (b == NULL) {
        fclose(f);
        return nb_error_set(err, NB_ENOMEM, "%s: out of memory for %zu bytes", P, n);
    }
    size_t got = n ? fread(b, 1, n, f) : 0;
    int e = ferror(f) ? errno : 0;
    int more = (got == n && getc(f) != EOF);
    fclose(f);
    if (got != n || more || e) {
        nbi_free(al, b);
        return nb_error_set(err, NB_EIO, "%s: read failed%s%s", P, e ? ": " : " (file changed "
                    "while being read)", e ? strerror(e) : "");
    }
    *buf = b;
    *size = n;
    return NB_OK;
}

/* Checks a name of n bytes at c (not yet consumed). */
static int check_name(const cursor *c, uint64_t n, const char *what, size_t index,
                      const char *path, nb_error *err)
{
    if (n == 0)
        return nb_error_set(err, NB_EFORMAT, "%s: %s %zu has an empty name", path, what, index);
    if (n > NB_ARCHIVE_NAME_MAX)
        return nb_error_set(err, NB_EFORMAT, "%s: %s %zu: name of %ju bytes (at most %u allowed)",
                    path, what, index, (uintmax_t)n, (unsigned)NB_ARCHIVE_NAME_MAX);
    if (n > c->left)
        return nb_error_set(err, NB_EFORMAT, "%s: %s %zu: name of %ju bytes, only %zu bytes left",
                    path, what, index, (uintmax_t)n, c->left);
    if (memchr(c->p, 0, (size_t)n) != NULL)
        return nb_error_set(err, NB_EFORMAT, "%s: %s %zu: name holds a NUL byte", path, what, index);
    return NB_OK;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Fails when two of the n names repeat (sorted copy of the pointers). */
static int check_unique(nb_archive *ar, const char **names, size_t n, const char *what,
                        const char *path, nb_error *err)
{
    char en[NB_ERROR_ECHO_LEN];
    if (n < 2) return NB_OK;
    qsort(names, n, sizeof *names, cmp_str_ptr);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return nb_error_set(err, NB_EFORMAT, "%s: %s '%s' appears twice", path, what, nbi_echo(en, names[i]));
    (void)ar;
    return NB_OK;
}

/* Parses the verified body (after version, before the CRC) into ar. */
/* (Here and above, path is the file name as messages show it, already
 * escaped and cut by nbi_echo_path.) */
static int parse_body(nb_archive *ar, cursor *c, const char *path, nb_error *err)
{
    char en[NB_ERROR_ECHO_LEN];
    uint64_t ns, nt;
    if (!take_u64(c, &ns) || !take_u64(c, &nt))
        return nb_error_set(err, NB_EFORMAT, "%s: truncated header", path);
    if (ns > c->left / MIN_STRING_RECORD)
        return nb_error_set(err, NB_EFORMAT, "%s: header claims %ju metadata entries, the file "
                    "holds at most %zu", path, (uintmax_t)ns, c->left / MIN_STRING_RECORD);
    if (nt > (c->left - ns * MIN_STRING_RECORD) / MIN_TENSOR_RECORD)
        return nb_error_set(err, NB_EFORMAT, "%s: header claims %ju tensors, the file holds at "
                    "most %zu", path, (uintmax_t)nt,
                    (size_t)((c->left - ns * MIN_STRING_RECORD) / MIN_TENSOR_RECORD));

    /* Both counts are now bounded by the file size. */
    if (ns) {
        ar->s = nbi_alloc(&ar->al, (size_t)ns * sizeof *ar->s);
        if (ar->s == NULL) return nb_error_set(err, NB_ENOMEM, "%s: out of memory", path);
        ar->cap_s = (size_t)ns;
    }
    if (nt) {
        ar->t = nbi_alloc(&ar->al, (size_t)nt * sizeof *ar->t);
        if (ar->t == NULL) return nb_error_set(err, NB_ENOMEM, "%s: out of memory", path);
        ar->cap_t = (size_t)nt;
    }

    for (size_t i = 0; i < (size_t)ns; i++) {
        uint64_t kl, vl;
        if (!take_u64(c, &kl))
            return nb_error_set(err, NB_EFORMAT, "%s: metadata entry %zu: truncated", path, i);
        int st = check_name(c, kl, "metadata entry", i, path, err);
        if (st != NB_OK) return st;
        const unsigned char *kp = c->p;
        c->p += kl;
        c->left -= (size_t)kl;
        if (!take_u64(c, &vl))
            return nb_error_set(err, NB_EFORMAT, "%s: metadata entry %zu: truncated", path, i);
        if (vl > NB_ARCHIVE_VALUE_MAX || vl > c->left)
            return nb_error_set(err, NB_EFORMAT, "%s: metadata entry %zu: value of %ju bytes (%zu "
                        "left, at most %u allowed)", path, i, (uintmax_t)vl, c->left,
                        (unsigned)NB_ARCHIVE_VALUE_MAX);
        if (memchr(c->p, 0, (size_t)vl) != NULL)
            return nb_error_set(err, NB_EFORMAT, "%s: metadata entry %zu: value holds a NUL byte",
                        path, i);
        char *k = nbi_strndup(&ar->al, (const char *)kp, (size_t)kl);
        char *v = k ? nbi_strndup(&ar->al, (const char *)c->p, (size_t)vl) : NULL;
        if (v == NULL) {
            nbi_free(&ar->al, k);
            return nb_error_set(err, NB_ENOMEM, "%s: out of memory", path);
        }
        c->p += vl;
        c->left -= (size_t)vl;
        ar->s[ar->ns++] = (meta){ k, v };
    }

    for (size_t i = 0; i < (size_t)nt; i++) {
        uint64_t nl, rows, cols;
        if (!take_u64(c, &nl))
            return nb_error_set(err, NB_EFORMAT, "%s: tensor %zu: truncated", path, i);
        int st = check_name(c, nl, "tensor", i, path, err);
        if (st != NB_OK) return st;
        char *name = nbi_strndup(&ar->al, (const char *)c->p, (size_t)nl);
        if (name == NULL) return nb_error_set(err, NB_ENOMEM, "%s: out of memory", path);
        c->p += nl;
        c->left -= (size_t)nl;
        if (!take_u64(c, &rows) || !take_u64(c, &cols)) {
            st = nb_error_set(err, NB_EFORMAT, "%s: tensor '%s': truncated shape", path, nbi_echo(en, name));
            nbi_free(&ar->al, name);
            return st;
        }
        /* rows*cols doubles must fit in what is left: no overflow, no
         * allocation larger than the file. */
        size_t cap = c->left / 8;
        if (rows > SIZE_MAX || cols > SIZE_MAX || (cols != 0 && rows > cap / cols)) {
            st = nb_error_set(err, NB_EFORMAT, "%s: tensor '%s' claims (%jux%ju) values, only %zu "
                      "bytes left", path, nbi_echo(en, name), (uintmax_t)rows, (uintmax_t)cols, c->left);
            nbi_free(&ar->al, name);
            return st;
        }
        if (rows != 0 && cols > SIZE_MAX / sizeof(double) / rows) {
            st = nb_error_set(err, NB_EFORMAT, "%s: tensor '%s': (%jux%ju) is too large", path,
                      nbi_echo(en, name), (uintmax_t)rows, (uintmax_t)cols);
            nbi_free(&ar->al, name);
            return st;
        }
        size_t n = (size_t)rows * (size_t)cols;
        double *data = nbi_alloc(&ar->al, n * sizeof(double));
        if (data == NULL) {
            nbi_free(&ar->al, name);
            return nb_error_set(err, NB_ENOMEM, "%s: out of memory", path);
        }
        for (size_t j = 0; j < n; j++) {
            data[j] = bits_double(get_u64(c->p + 8 * j));
            if (!isfinite(data[j])) {
                st = nb_error_set(err, NB_EDOMAIN, "%s: tensor '%s' (%jux%ju): value %g at "
                          "(%zu, %zu)", path, nbi_echo(en, name), (uintmax_t)rows, (uintmax_t)cols, data[j],
                          j / (size_t)cols, j % (size_t)cols);
                nbi_free(&ar->al, name);
                nbi_free(&ar->al, data);
                return st;
            }
        }
        c->p += 8 * n;
        c->left -= 8 * n;
        ar->t[ar->nt++] = (tensor){ name, (size_t)rows, (size_t)cols, data };
    }
    if (c->left != 0)
        return nb_error_set(err, NB_EFORMAT, "%s: %zu unexpected bytes after the last tensor",
                    path, c->left);

    /* Names must be unique (get and put rely on it). */
    size_t most = ar->ns > ar->nt ? ar->ns : ar->nt;
    if (most >= 2) {
        const char **names = nbi_alloc(&ar->al, most * sizeof *names);
        if (names == NULL) return nb_error_set(err, NB_ENOMEM, "%s: out of memory", path);
        for (size_t i = 0; i < ar->ns; i++) names[i] = ar->s[i].key;
        int st = check_unique(ar, names, ar->ns, "metadata key", path, err);
        if (st == NB_OK) {
            for (size_t i = 0; i < ar->nt; i++) names[i] = ar->t[i].name;
            st = check_unique(ar, names, ar->nt, "tensor", path, err);
        }
        nbi_free(&ar->al, names);
        if (st != NB_OK) return st;
    }
    return NB_OK;
}

int nb_archive_read_with(const char *path, const nb_allocator *allocator,
                         nb_archive **out, nb_error *err)
{
    if (out != NULL) *out = NULL;
    if (path == NULL || out == NULL)
        return nb_error_set(err, NB_EINVAL, "archive read: NULL path or output");
    nb_allocator al = nbi_allocator(allocator);
    /* Every message names the file as P: escaped, at most
     * NB_ERROR_ECHO_MAX characters (its end kept). */
    char ep[NB_ERROR_ECHO_LEN];
    const char *P = nbi_echo_path(ep, path);

    unsigned char *buf;
    size_t size;
    int st = slurp(path, &al, &buf, &size, err);
    if (st != NB_OK) return st;

    if (size < MAGIC_LEN || memcmp(buf, NB_ARCHIVE_MAGIC, MAGIC_LEN) != 0) {
        st = nb_error_set(err, NB_EFORMAT, "%s: not a nabla archive (%s)", P,
                  size < MAGIC_LEN ? "shorter than the magic" : "magic is not \"NABLAARC\"");
        goto done;
    }
    if (size < MAGIC_LEN + 8) {
        st = nb_error_set(err, NB_EFORMAT, "%s: truncated before the format version", P);
        goto done;
    }
    /* The version comes before the checksum: another version may lay out
     * (and checksum) its bytes differently. */
    uint64_t version = get_u64(buf + MAGIC_LEN);
    if (version != NB_ARCHIVE_VERSION) {
        st = nb_error_set(err, NB_EVERSION, "%s: archive format version %ju; this nabla reads "
                  "version %d", P, (uintmax_t)version, NB_ARCHIVE_VERSION);
        goto done;
    }
    if (size < HEADER_LEN + CRC_LEN) {
        st = nb_error_set(err, NB_EFORMAT, "%s: truncated: %zu bytes, a valid archive has at "
                  "least %u", P, size, HEADER_LEN + CRC_LEN);
        goto done;
    }
    crc32_state crc;
    crc32_init(&crc);
    crc32_update(&crc, buf + MAGIC_LEN, size - MAGIC_LEN - CRC_LEN);
    uint32_t want = 0;
    for (unsigned i = 0; i < CRC_LEN; i++) want |= (uint32_t)buf[size - CRC_LEN + i] << (8 * i);
    if (crc32_final(&crc) != want) {
        st = nb_error_set(err, NB_ECHECKSUM, "%s: CRC-32 is %08lx, the file says %08lx (corrupted "
                  "or truncated)", P, (unsigned long)crc32_final(&crc), (unsigned long)want);
        goto done;
    }

    nb_archive *ar = nb_archive_alloc_with(&al);
    if (ar == NULL) {
        st = nb_error_set(err, NB_ENOMEM, "%s: out of memory", P);
        goto done;
    }
    cursor c = { buf + MAGIC_LEN + 8, size - MAGIC_LEN - 8 - CRC_LEN };
    st = parse_body(ar, &c, P, err);
    if (st != NB_OK) nb_archive_free(ar);
    else *out = ar;
done:
    nbi_free(&al, buf);
    return st;
}

int nb_archive_read(const char *path, nb_archive **out, nb_error *err)
{
    return nb_archive_read_with(path, NULL, out, err);
}
