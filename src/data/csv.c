/* csv.c — numeric CSV tables with a header row and an optional class column.
 *
 * The file is read whole; fields are cut in place (NUL-terminated inside the
 * buffer), so parsing allocates only the output and one pointer per column.
 * Blank lines are counted but skipped, so line numbers in messages are the
 * ones an editor shows.
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/data.h>
#include "data/data.h"


static int read_all(const char *path, char **text, size_t *size, nb_error *err)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, len = 0;
    char *buf, ep[NB_ERROR_ECHO_LEN];
    const char *P = nbi_echo_path(ep, path);

    *text = NULL;
    if (f == NULL)
        return nb_error_set(err, NB_EIO, "%s: cannot open: %s", P,
                    strerror(errno));
    buf = malloc(cap);
    while (buf != NULL) {
        len += fread(buf + len, 1, cap - 1 - len, f);
        if (len < cap - 1)
            break;
        char *nbuf = cap <= SIZE_MAX / 2 ? realloc(buf, 2 * cap) : NULL;
        if (nbuf == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nbuf;
        cap *= 2;
    }
    if (buf == NULL) {
        fclose(f);
        return nb_error_set(err, NB_ENOMEM, "%s: out of memory reading the file",
                    P);
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(buf);
        return nb_error_set(err, NB_EIO, "%s: read error: %s", P, strerror(e));
    }
    fclose(f);
    buf[len] = '\0';
    *text = buf;
    *size = len;
    return NB_OK;
}

/* ---- lines and fields --------------------------------------------------- */

typedef struct cursor {
    char *p, *end;        /* unread text */
    size_t line;          /* number of the line last returned */
} cursor;

/* Next line (without its \n or \r\n), NUL-terminated in place; NULL at the
 * end of the text. */
static char *next_line(cursor *c, size_t *len)
{
    char *start = c->p, *nl;

    if (c->p >= c->end)
        return NULL;
    nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    if (nl == NULL)
        nl = c->end;
    c->p = nl < c->end ? nl + 1 : c->end;
    if (nl > start && nl[-1] == '\r')
        nl--;
    *nl = '\0';
    *len = (size_t)(nl - start);
    c->line++;
    return start;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Spaces, tabs and stray carriage returns only.  The row count and the
 * row loop must agree on this. */
static int is_blank_char(char ch)
{
    return is_space(ch) || ch == '\r';
}

static int is_blank(const char *s)
{
    while (is_blank_char(*s))
        s++;
    return *s == '\0';
}

/* Cuts line into fields in place: stores at most max of them in fields[],
 * returns how many there are (or 0 with *bad set to the 1-based column of
 * a quoting error and *why to its description).  Unquoted fields are
 * trimmed; quoted ones keep their spaces and turn "" into ". */
static size_t split(char *line, char **fields, size_t max, size_t *bad,
                    const char **why)
{
    size_t nf = 0;
    char *p = line;

    for (;;) {
        char *start, *w;
        while (is_space(*p))
            p++;
        if (*p == '"') {
            start = w = ++p;
            for (;;) {
                if (*p == '\0') {
                    *bad = nf + 1;
                    *why = "unterminated quote";
                    return 0;
                }
                if (*p == '"') {
                    if (p[1] != '"')
                        break;
                    p++;
                }
                *w++ = *p++;
            }
            p++;   /* closing quote */
            while (is_space(*p))
                p++;
            if (*p != ',' && *p != '\0') {
                *bad = nf + 1;
                *why = "text after the closing quote";
                return 0;
            }
        } else {
            start = p;
            while (*p != ',' && *p != '\0')
                p++;
            w = p;
            while (w > start && is_space(w[-1]))
                w--;
        }
        int last = *p == '\0';
        *w = '\0';
        if (nf < max)
            fields[nf] = start;
        nf++;
        if (last)
            return nf;
        p++;   /* the comma */
    }
}

/* ---- distinct labels ---------------------------------------------------- */

typedef struct label_set {
    const char **name;    /* (count) in order of first appearance */
    size_t *line;         /* (count) where each first appeared */
    size_t count, cap;
    size_t *slot;         /* (nslots) open addressing, index + 1, 0 = free */
    size_t nslots;
} label_set;

static size_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603u;   /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return (size_t)h;
}

static void label_set_free(label_set *ls)
{
    free(ls->name);
    free(ls->line);
    free(ls->slot);
}

static int label_set_grow_slots(label_set *ls)
{
    size_t n = ls->nslots ? 2 * ls->nslots : 64;
    size_t *slot = calloc(n, sizeof *slot);
    if (slot == NULL)
        return NB_ENOMEM;
    for (size_t i = 0; i < ls->count; i++) {
        size_t h = hash_str(ls->name[i]) & (n - 1);
        while (slot[h] != 0)
            h = (h + 1) & (n - 1);
        slot[h] = i + 1;
    }
    free(ls->slot);
    ls->slot = slot;
    ls->nslots = n;
    return NB_OK;
}

/* *cls := class index of name, adding it when new.  name must outlive ls. */
static int label_set_index(label_set *ls, const char *name, size_t line,
                           size_t *cls)
{
    size_t h;

    if (2 * (ls->count + 1) > ls->nslots && label_set_grow_slots(ls) != NB_OK)
        return NB_ENOMEM;
    h = hash_str(name) & (ls->nslots - 1);
    while (ls->slot[h] != 0) {
        if (strcmp(ls->name[ls->slot[h] - 1], name) == 0) {
            *cls = ls->slot[h] - 1;
            return NB_OK;
        }
        h = (h + 1) & (ls->nslots - 1);
    }
    if (ls->count == NB_DATA_MAX_CLASSES)
        return NB_ERANGE;
    if (ls->count == ls->cap) {
        size_t cap = ls->cap ? 2 * ls->cap : 16;
        const char **nname = realloc(ls->name, cap * sizeof *nname);
        if (nname == NULL)
            return NB_ENOMEM;
        ls->name = nname;
        size_t *nline = realloc(ls->line, cap * sizeof *nline);
        if (nline == NULL)
            return NB_ENOMEM;
        ls->line = nline;
        ls->cap = cap;
    }
    ls->name[ls->count] = name;
    ls->line[ls->count] = line;
    ls->slot[h] = ls->count + 1;
    *cls = ls->count++;
    return NB_OK;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* ---- the reader --------------------------------------------------------- */

/* "'a', 'b', 'c'" into buf, each name escaped and cut to 24 characters;
 * "... (N more)" when the list does not fit. */
static const char *column_list(char *const *names, size_t n, char *buf,
                               size_t len)
{
    size_t pos = 0, i;
    buf[0] = '\0';
    for (i = 0; i < n; i++) {
        char e[64];
        nb_error_escape(e, sizeof e, names[i], (size_t)-1, 24);
        if (pos + strlen(e) + 4 + 24 >= len)
            break;
        pos += (size_t)snprintf(buf + pos, len - pos, "%s'%s'", i ? ", " : "", e);
    }
    if (i < n)
        snprintf(buf + pos, len - pos, "%s... (%zu more)", i ? ", " : "", n - i);
    return buf;
}

static size_t count_char(const char *s, char ch)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == ch;
    return n;
}

int nb_csv_read(const char *path, const char *label_column, nb_dataset *out,
                nb_error *err)
{
    char *text = NULL, *line, **fields = NULL, **header = NULL;
    size_t size = 0, len, nf, lab = SIZE_MAX, rows_max = 0, nd, bad = 0;
    size_t row = 0, *cls = NULL;
    const char *why = NULL;
    cursor c, data;
    label_set ls = {0};
    nb_dataset ds = {0};
    int st = NB_OK;
    if (out == NULL || path == NULL)
        return nb_error_set(err, NB_EINVAL, "nb_csv_read: NULL argument");
    memset(out, 0, sizeof *out);
    /* Messages echo at most NB_ERROR_ECHO_MAX escaped characters of the
     * file name, a column name, a field or a label (nbi_echo), so the
     * reason is never cut off, however long the field. */
    char ep[NB_ERROR_ECHO_LEN], eh[NB_ERROR_ECHO_LEN], ef[NB_ERROR_ECHO_LEN];
    char el[NB_ERROR_ECHO_LEN];
    const char *P = nbi_echo_path(ep, path);

    st = read_all(path, &text, &size, err);
    if (st != NB_OK)
        return st;
    {
        const char *nul = memchr(text, '\0', size);
        if (nul != NULL) {
            size_t at = 1;
            for (const char *q = text; q < nul; q++)
                at += *q == '\n';
            st = nb_error_set(err, NB_EFORMAT,
                      "%s:%zu: NUL byte: not a text file", P, at);
            goto done;
        }
    }
    c.p = text;
    c.end = text + size;
    c.line = 0;
    if (size >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        c.p += 3;   /* UTF-8 byte-order mark */

    /* Header: the first non-blank line.  Commas + 1 bounds its fields. */
    while ((line = next_line(&c, &len)) != NULL && is_blank(line))
        ;
    if (line == NULL) {
        st = nb_error_set(err, NB_EFORMAT, "%s: empty file: no header row", P);
        goto done;
    }
    nf = count_char(line, ',') + 1;
    header = malloc(nf * sizeof *header);
    fields = malloc(nf * sizeof *fields);
    if (header == NULL || fields == NULL) {
        st = nb_error_set(err, NB_ENOMEM, "%s: out of memory", P);
        goto done;
    }
    nf = split(line, header, nf, &bad, &why);
    if (nf == 0) {
        st = nb_error_set(err, NB_EFORMAT, "%s:%zu: column %zu: %s", P,
                  c.line, bad, why);
        goto done;
    }

    /* The label column. */
    if (label_column == NULL) {
        lab = nf - 1;
    } else if (label_column[0] != '\0') {
        for (size_t j = 0; j < nf; j++) {
            if (strcmp(header[j], label_column) != 0)
                continue;
            if (lab != SIZE_MAX) {
                st = nb_error_set(err, NB_EFORMAT,
                          "%s:%zu: columns %zu and %zu are both named '%s'",
                          P, c.line, lab + 1, j + 1, nbi_echo(el, label_column));
                goto done;
            }
            lab = j;
        }
        if (lab == SIZE_MAX) {
            char list[256];
            st = nb_error_set(err, NB_ENOTFOUND,
                      "%s:%zu: no column named '%s' (columns: %s)", P,
                      c.line, nbi_echo(el, label_column),
                      column_list(header, nf, list, sizeof list));
            goto done;
        }
    }
    nd = lab == SIZE_MAX ? nf : nf - 1;
    if (nd == 0) {
        st = nb_error_set(err, NB_EFORMAT,
                  "%s:%zu: no feature column (only the label column '%s')",
                  P, c.line, nbi_echo(eh, header[lab]));
        goto done;
    }

    /* Count the data rows (non-blank lines) to allocate once. */
    for (const char *q = c.p; q < c.end;) {
        const char *nl = memchr(q, '\n', (size_t)(c.end - q));
        const char *e = nl ? nl : c.end;
        for (const char *t = q; t < e; t++)
            if (!is_blank_char(*t)) {
                rows_max++;
                break;
            }
        q = nl ? nl + 1 : c.end;
    }
    if (rows_max == 0) {
        st = nb_error_set(err, NB_EFORMAT, "%s:%zu: header but no data rows",
                  P, c.line);
        goto done;
    }
    st = nb_dataset_init(&ds, rows_max, nd, 0);
    if (st == NB_ERANGE) {
        st = nb_error_set(err, st, "%s: %zu rows x %zu columns is more than "
                  "%zu values", P, rows_max, nd, NB_DATA_MAX_ELEMENTS);
        goto done;
    }
    if (st != NB_OK) {
        st = nb_error_set(err, st, "%s: out of memory for %zu x %zu values",
                  P, rows_max, nd);
        goto done;
    }
    if (lab != SIZE_MAX) {
        cls = malloc(rows_max * sizeof *cls);
        if (cls == NULL) {
            st = nb_error_set(err, NB_ENOMEM, "%s: out of memory", P);
            goto done;
        }
    }

    /* The rows. */
    data = c;
    while ((line = next_line(&data, &len)) != NULL) {
        size_t n, k = 0;
        if (is_blank(line))
            continue;
        if (row == rows_max) {   /* cannot happen: rows_max counted them */
            st = nb_error_set(err, NB_EFORMAT, "%s:%zu: more rows than counted",
                      P, data.line);
            goto done;
        }
        n = split(line, fields, nf, &bad, &why);
        if (n == 0) {
            st = nb_error_set(err, NB_EFORMAT, "%s:%zu: column %zu: %s", P,
                      data.line, bad, why);
            goto done;
        }
        if (n != nf) {
            st = nb_error_set(err, NB_EFORMAT,
                      "%s:%zu: %zu fields, but the header has %zu columns",
                      P, data.line, n, nf);
            goto done;
        }
        for (size_t j = 0; j < nf; j++) {
            const char *f = fields[j];
            if (f[0] == '\0') {
                st = nb_error_set(err, NB_EFORMAT,
                          "%s:%zu: column %zu '%s': empty field", P,
                          data.line, j + 1, nbi_echo(eh, header[j]));
                goto done;
            }
            if (j == lab) {
                st = label_set_index(&ls, f, data.line, &cls[row]);
                if (st == NB_ERANGE) {
                    st = nb_error_set(err, st,
                              "%s:%zu: column %zu '%s': more than %d classes",
                              P, data.line, j + 1, nbi_echo(eh, header[j]),
                              NB_DATA_MAX_CLASSES);
                    goto done;
                }
                if (st != NB_OK) {
                    st = nb_error_set(err, st, "%s: out of memory", P);
                    goto done;
                }
                continue;
            }
            char *end;
            double v = nbi_strtod(f, &end);
            if (end == f || *end != '\0') {
                st = nb_error_set(err, NB_EFORMAT,
                          "%s:%zu: column %zu '%s': '%s' is not a number", P,
                          data.line, j + 1, nbi_echo(eh, header[j]), nbi_echo(ef, f));
                goto done;
            }
            if (!isfinite(v)) {
                st = nb_error_set(err, NB_EDOMAIN,
                          "%s:%zu: column %zu '%s': '%s' is not a finite number",
                          P, data.line, j + 1, nbi_echo(eh, header[j]), nbi_echo(ef, f));
                goto done;
            }
            ds.x[row * nd + k++] = v;
        }
        row++;
    }

    /* Labels: class indices when all are numbers, else names. */
    if (lab != SIZE_MAX) {
        int numeric = 1;
        size_t max = 0, *value;
        for (size_t i = 0; i < ls.count && numeric; i++) {
            char *end;
            (void)nbi_strtod(ls.name[i], &end);
            numeric = end != ls.name[i] && *end == '\0';
        }
        value = malloc(ls.count * sizeof *value);
        if (value == NULL) {
            st = nb_error_set(err, NB_ENOMEM, "%s: out of memory", P);
            goto done;
        }
        for (size_t i = 0; i < ls.count && numeric; i++) {
            double v = nbi_strtod(ls.name[i], NULL);
            if (!(v >= 0.0 && v < NB_DATA_MAX_CLASSES && v == floor(v))) {
                free(value);
                st = nb_error_set(err, NB_ERANGE,
                          "%s:%zu: column %zu '%s': label '%s' is not a class "
                          "index in 0..%d", P, ls.line[i], lab + 1,
                          nbi_echo(eh, header[lab]), nbi_echo(ef, ls.name[i]), NB_DATA_MAX_CLASSES - 1);
                goto done;
            }
            value[i] = (size_t)v;
            if (value[i] > max)
                max = value[i];
        }
        ds.label = cls;
        cls = NULL;
        if (numeric) {
            for (size_t i = 0; i < ds.n; i++)
                ds.label[i] = value[ds.label[i]];
            ds.n_classes = max + 1;
        } else {
            ds.n_classes = ls.count;
            ds.class_names = calloc(ls.count, sizeof *ds.class_names);
            for (size_t i = 0; ds.class_names != NULL && i < ls.count; i++)
                if ((ds.class_names[i] = dup_str(ls.name[i])) == NULL)
                    st = NB_ENOMEM;
            if (ds.class_names == NULL)
                st = NB_ENOMEM;
        }
        free(value);
    }
    if (st == NB_OK) {
        ds.feature_names = calloc(nd, sizeof *ds.feature_names);
        if (ds.feature_names == NULL)
            st = NB_ENOMEM;
        for (size_t j = 0, k = 0; st == NB_OK && j < nf; j++) {
            if (j == lab)
                continue;
            if ((ds.feature_names[k++] = dup_str(header[j])) == NULL)
                st = NB_ENOMEM;
        }
    }
    if (st != NB_OK) {
        st = nb_error_set(err, st, "%s: out of memory", P);
        goto done;
    }
    *out = ds;
    memset(&ds, 0, sizeof ds);

done:
    nb_dataset_free(&ds);
    free(cls);
    free(fields);
    free(header);
    free(text);
    label_set_free(&ls);
    return st;
}
