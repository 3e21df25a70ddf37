/* config.c — schema-driven INI-like config files.
 *
 * Contract in include/nabla/config.h, format in docs/config-format.md.
 *
 * Every value is parsed when it is assigned (default at alloc time, file line,
 * --set), into a cval that keeps the unquoted text (for strings, enums and
 * messages) and the typed value, so getters only copy.  A file is parsed into
 * a staging array, one slot per schema key, and committed only when every
 * line is valid: a failed load leaves the config as it was, and a key staged
 * twice is a duplicate.
 */
#include <config.h>

#include <nabla/config.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"

/* Room for the "why" part of a message ("'0.1x' is not a number"). */
#define WHY_LEN 512
/* User text inside a message: nbi_echo's budget (escaped, at most
 * NB_ERROR_ECHO_MAX characters), so the reason after it is never cut. */
#define SHOW_LEN NB_ERROR_ECHO_LEN
/* Names longer than this get no did-you-mean (bounded edit-distance rows). */
#define SUGGEST_MAX 64

enum { ORIGIN_UNSET = 0, ORIGIN_DEFAULT, ORIGIN_FILE, ORIGIN_SET };

typedef struct cval {
    int origin;         /* ORIGIN_* */
    size_t file;        /* ORIGIN_FILE: index into cfg->files */
    size_t line;        /* ORIGIN_FILE: 1-based line */
    char *text;         /* the value after unquoting (owned) */
    union {
        long long i;    /* INT */
        size_t z;       /* SIZE */
        double d;       /* DOUBLE */
        int b;          /* BOOL */
        size_t idx;     /* ENUM with words: index into words */
    } v;
    /* INT_LIST: long long[n]; SIZE_LIST: size_t[n]; WORD_LIST: char *[n]
     * followed in the same block by the words they point to. */
    void *list;
    size_t n;
} cval;

struct nb_config {
    nb_allocator al;
    const nb_config_key *schema;   /* borrowed, (n) */
    size_t n;
    cval *vals;                    /* (n) */
    char **files;                  /* names of loaded files, for origins */
    size_t n_files, cap_files;
};

/* ---- small helpers ----------------------------------------------------- */

#if defined(__GNUC__)
#define NBI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NBI_PRINTF(a, b)
#endif

static void setmsg(char *msg, size_t len, const char *fmt, ...)
    NBI_PRINTF(3, 4);
static void setmsg(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (msg == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
}

/* Appends to the NUL-terminated msg[len]. */
static void catmsg(char *msg, size_t len, const char *fmt, ...)
    NBI_PRINTF(3, 4);
static void catmsg(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    size_t used;
    if (msg == NULL || len == 0)
        return;
    used = strlen(msg);
    if (used + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(msg + used, len - used, fmt, ap);
    va_end(ap);
}

static void clearmsg(char *msg, size_t len)
{
    if (msg != NULL && len > 0)
        msg[0] = '\0';
}

/* User text for a message (nbi_echo); buf has SHOW_LEN bytes. */
static const char *shown(const char *s, char *buf)
{
    return nbi_echo(buf, s);
}

/* A file name for a message: its end kept (nbi_echo_path). */
static const char *shown_path(const char *path, char *buf)
{
    return nbi_echo_path(buf, path);
}

static int is_space(int c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)
        || c == '_' || c == '-';
}

static char *skip_ws(char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

/* Drops trailing blanks of the NUL-terminated s. */
static void trim_end(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        s[--n] = '\0';
}

/* Key and section names: parts of name characters joined by single dots. */
static int valid_name(const char *s)
{
    int need_char = 1;
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        if (*s == '.') {
            if (need_char)
                return 0;
            need_char = 1;
        } else if (is_name_char((unsigned char)*s)) {
            need_char = 0;
        } else {
            return 0;
        }
    }
    return !need_char;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int equal_nocase(const char *a, const char *b)
{
    while (*a != '\0' && lower((unsigned char)*a) == lower((unsigned char)*b)) {
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

/* Offset of the first byte of s[0..len) that is not valid UTF-8 (overlong
 * forms, surrogates and code points above U+10FFFF included), or len. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i], cp, min;
        size_t n, k;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1; cp = c & 0x1F; min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2; cp = c & 0x0F; min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

/* Rejects control characters (tab excepted) and invalid UTF-8 in s[0..len).
 * 0 when clean; else 1 with the reason in why. */
static int bad_text(const char *s, size_t len, char *why, size_t wlen)
{
    size_t i, bad;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0) {
            setmsg(why, wlen, "NUL byte at column %zu", i + 1);
            return 1;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7F) {
            setmsg(why, wlen, "control character 0x%02x at column %zu",
                   (unsigned)c, i + 1);
            return 1;
        }
    }
    bad = utf8_invalid_at((const unsigned char *)s, len);
    if (bad < len) {
        setmsg(why, wlen, "invalid UTF-8 at column %zu", bad + 1);
        return 1;
    }
    return 0;
}

/* ---- did you mean ------------------------------------------------------ */

/* Optimal string alignment distance (Levenshtein plus transposition of
 * adjacent characters: "epcohs" is one edit from "epochs"); both strings at
 * most SUGGEST_MAX bytes. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t rows[3][SUGGEST_MAX + 1];
    size_t *pp = rows[0], *p = rows[1], *c = rows[2], *t;
    size_t la = strlen(a), lb = strlen(b), i, j;
    for (j = 0; j <= lb; j++)
        p[j] = j;
    for (i = 1; i <= la; i++) {
        c[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = p[j] + 1;
            if (c[j - 1] + 1 < v)
                v = c[j - 1] + 1;
            if (p[j - 1] + cost < v)
                v = p[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]
                && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            c[j] = v;
        }
        t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[lb];
}

typedef struct suggestion {
    const char *best;
    size_t dist;
    size_t limit;
} suggestion;

static void suggest_init(suggestion *sg, const char *s)
{
    size_t n = strlen(s);
    sg->best = NULL;
    sg->dist = (size_t)-1;
    /* one edit for short names, up to three for long ones */
    sg->limit = n / 4 < 1 ? 1 : (n / 4 > 3 ? 3 : n / 4);
    if (n > SUGGEST_MAX)
        sg->limit = 0;
}

static void suggest_try(suggestion *sg, const char *s, const char *cand)
{
    size_t d;
    if (sg->limit == 0 || strlen(cand) > SUGGEST_MAX)
        return;
    d = edit_distance(s, cand);
    if (d <= sg->limit && d < sg->dist && d < strlen(s)) {
        sg->best = cand;
        sg->dist = d;
    }
}

static const char *last_part(const char *s)
{
    const char *dot = strrchr(s, '.');
    return dot != NULL ? dot + 1 : s;
}

/* The schema key closest to an unknown one: by edit distance, else a key
 * with the same last part in another section ("train.lr" -> "optimizer.lr"). */
static const char *suggest_key(const nb_config_key *schema, size_t n,
                               const char *key)
{
    suggestion sg;
    size_t i;
    suggest_init(&sg, key);
    for (i = 0; i < n; i++)
        suggest_try(&sg, key, schema[i].name);
    if (sg.best != NULL)
        return sg.best;
    for (i = 0; i < n; i++)
        if (strcmp(last_part(schema[i].name), last_part(key)) == 0)
            return schema[i].name;
    return NULL;
}

/* ---- numbers ----------------------------------------------------------- */

enum { NUM_OK = 0, NUM_SYNTAX, NUM_RANGE };

/* [+-]digits, base 10, nothing else. */
static int parse_ll(const char *s, long long *out)
{
    const char *p = s;
    char *end;
    long long v;
    if (*p == '+' || *p == '-')
        p++;
    if (!is_digit((unsigned char)*p))
        return NUM_SYNTAX;
    while (is_digit((unsigned char)*p))
        p++;
    if (*p != '\0')
        return NUM_SYNTAX;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return NUM_RANGE;
    *out = v;
    return NUM_OK;
}

/* [+]digits, base 10. */
static int parse_sz(const char *s, size_t *out)
{
    const char *p = s;
    char *end;
    unsigned long long v;
    if (*p == '+')
        p++;
    s = p;
    if (!is_digit((unsigned char)*p))
        return NUM_SYNTAX;
    while (is_digit((unsigned char)*p))
        p++;
    if (*p != '\0')
        return NUM_SYNTAX;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno == ERANGE || v > SIZE_MAX)
        return NUM_RANGE;
    *out = (size_t)v;
    return NUM_OK;
}

/* Decimal floating point: [+-](digits[.digits]|.digits)[(e|E)[+-]digits].
 * No inf, nan or hex: a config says numbers plainly.  The conversion is
 * nbi_strtod's ('.' whatever the locale). */
static int parse_dbl(const char *s, double *out)
{
    const char *p = s;
    char *end;
    size_t digits = 0;
    double v;
    if (*p == '+' || *p == '-')
        p++;
    while (is_digit((unsigned char)*p)) {
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (is_digit((unsigned char)*p)) {
            p++;
            digits++;
        }
    }
    if (digits == 0)
        return NUM_SYNTAX;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!is_digit((unsigned char)*p))
            return NUM_SYNTAX;
        while (is_digit((unsigned char)*p))
            p++;
    }
    if (*p != '\0')
        return NUM_SYNTAX;
    errno = 0;
    v = nbi_strtod(s, &end);
    if ((errno == ERANGE && fabs(v) == HUGE_VAL) || !isfinite(v))
        return NUM_RANGE;
    *out = v;
    return NUM_OK;
}

/* ---- typed values ------------------------------------------------------ */

static int is_list(nb_config_type t)
{
    return t == NB_CONFIG_INT_LIST || t == NB_CONFIG_SIZE_LIST
        || t == NB_CONFIG_WORD_LIST;
}

/* The scalar type of a numeric key or list element; 0 when not numeric. */
static nb_config_type numeric_base(nb_config_type t)
{
    switch (t) {
    case NB_CONFIG_INT:
    case NB_CONFIG_INT_LIST:
        return NB_CONFIG_INT;
    case NB_CONFIG_SIZE:
    case NB_CONFIG_SIZE_LIST:
        return NB_CONFIG_SIZE;
    case NB_CONFIG_DOUBLE:
        return NB_CONFIG_DOUBLE;
    default:
        return (nb_config_type)0;
    }
}

typedef union num {
    long long i;
    size_t z;
    double d;
} num;

static const char *expected(nb_config_type base)
{
    switch (base) {
    case NB_CONFIG_INT:
        return "an integer";
    case NB_CONFIG_SIZE:
        return "a non-negative integer";
    default:
        return "a number";
    }
}

/* Parses one number of the given base type; NB_ECONFIG with why.  min is the
 * key's minimum (NULL: none), only used to word the message for a negative
 * size the way check_bounds() words other values below the minimum. */
static int parse_num(nb_config_type base, const char *s, num *out,
                     const char *min, char *why, size_t wlen)
{
    char sb[SHOW_LEN];
    long long neg;
    int r;
    if (*s == '\0') {
        setmsg(why, wlen, "empty value (expected %s)", expected(base));
        return NB_ECONFIG;
    }
    if (base == NB_CONFIG_INT)
        r = parse_ll(s, &out->i);
    else if (base == NB_CONFIG_SIZE)
        r = parse_sz(s, &out->z);
    else
        r = parse_dbl(s, &out->d);
    if (r == NUM_SYNTAX && base == NB_CONFIG_SIZE && s[0] == '-'
        && parse_ll(s, &neg) != NUM_SYNTAX) {
        setmsg(why, wlen, "%s is below the minimum %s", shown(s, sb),
               min != NULL ? min : "0");
        return NB_ECONFIG;
    }
    if (r == NUM_SYNTAX) {
        setmsg(why, wlen, "'%s' is not %s", shown(s, sb), expected(base));
        return NB_ECONFIG;
    }
    if (r == NUM_RANGE) {
        setmsg(why, wlen, "'%s' is out of range for %s", shown(s, sb),
               base == NB_CONFIG_DOUBLE ? "a finite double"
               : base == NB_CONFIG_INT ? "a 64-bit integer" : "a size");
        return NB_ECONFIG;
    }
    return NB_OK;
}

static int cmp_num(nb_config_type base, const num *a, const num *b)
{
    if (base == NB_CONFIG_INT)
        return (a->i > b->i) - (a->i < b->i);
    if (base == NB_CONFIG_SIZE)
        return (a->z > b->z) - (a->z < b->z);
    return (a->d > b->d) - (a->d < b->d);
}

/* Checks v (written as text) against the key's bounds (which the schema
 * check has verified to parse). */
static int check_bounds(const nb_config_key *k, const num *v, const char *text,
                        char *why, size_t wlen)
{
    nb_config_type base = numeric_base(k->type);
    char sb[SHOW_LEN];
    num b;
    if (k->min != NULL
        && parse_num(base, k->min, &b, NULL, NULL, 0) == NB_OK) {
        int c = cmp_num(base, v, &b);
        if ((k->flags & NB_CONFIG_MIN_EXCLUSIVE) && c <= 0) {
            setmsg(why, wlen, "%s must be greater than %s", shown(text, sb),
                   k->min);
            return NB_ECONFIG;
        }
        if (c < 0) {
            setmsg(why, wlen, "%s is below the minimum %s", shown(text, sb),
                   k->min);
            return NB_ECONFIG;
        }
    }
    if (k->max != NULL
        && parse_num(base, k->max, &b, NULL, NULL, 0) == NB_OK) {
        int c = cmp_num(base, v, &b);
        if ((k->flags & NB_CONFIG_MAX_EXCLUSIVE) && c >= 0) {
            setmsg(why, wlen, "%s must be less than %s", shown(text, sb),
                   k->max);
            return NB_ECONFIG;
        }
        if (c > 0) {
            setmsg(why, wlen, "%s is above the maximum %s", shown(text, sb),
                   k->max);
            return NB_ECONFIG;
        }
    }
    return NB_OK;
}

/* An ENUM value or WORD_LIST element: in .words (index to *idx) and accepted
 * by .check. */
static int check_word(const nb_config_key *k, const char *w, size_t *idx,
                      char *why, size_t wlen)
{
    char sb[SHOW_LEN];
    if (*w == '\0') {
        setmsg(why, wlen, "empty value (expected a word)");
        return NB_ECONFIG;
    }
    if (k->words != NULL) {
        suggestion sg;
        size_t i;
        for (i = 0; k->words[i] != NULL; i++)
            if (strcmp(k->words[i], w) == 0)
                break;
        if (k->words[i] == NULL) {
            suggest_init(&sg, w);
            setmsg(why, wlen, "'%s' is not one of ", shown(w, sb));
            for (i = 0; k->words[i] != NULL; i++) {
                catmsg(why, wlen, "%s%s", i ? ", " : "", k->words[i]);
                suggest_try(&sg, w, k->words[i]);
            }
            if (sg.best != NULL)
                catmsg(why, wlen, " (did you mean '%s'?)", sg.best);
            return NB_ECONFIG;
        }
        if (idx != NULL)
            *idx = i;
    }
    if (k->check != NULL) {
        char tmp[WHY_LEN];
        tmp[0] = '\0';
        if (k->check(w, k->check_ud, tmp, sizeof tmp) != 0) {
            tmp[sizeof tmp - 1] = '\0';
            if (tmp[0] != '\0')
                setmsg(why, wlen, "%s", tmp);
            else
                setmsg(why, wlen, "'%s' is not accepted", shown(w, sb));
            return NB_ECONFIG;
        }
    }
    return NB_OK;
}

static const char *const bool_true[] = { "true", "yes", "on", "1", NULL };
static const char *const bool_false[] = { "false", "no", "off", "0", NULL };

static int parse_bool(const char *s, int *out)
{
    size_t i;
    for (i = 0; bool_true[i] != NULL; i++) {
        if (equal_nocase(s, bool_true[i])) {
            *out = 1;
            return 0;
        }
        if (equal_nocase(s, bool_false[i])) {
            *out = 0;
            return 0;
        }
    }
    return 1;
}

static void cval_clear(const nb_allocator *al, cval *v)
{
    nbi_free(al, v->text);
    nbi_free(al, v->list);
    memset(v, 0, sizeof *v);
}

/* Splits text at commas into a block of n pointers followed by a copy of the
 * text, each element trimmed.  All-blank text is the empty list (*block
 * NULL).  Empty elements and elements with inner blanks are errors. */
static int split_list(const nb_allocator *al, const char *text, char ***block,
                      size_t *n, char *why, size_t wlen)
{
    const char *p;
    size_t count = 1, tl = strlen(text), i;
    char **el, *copy, *s;
    *block = NULL;
    *n = 0;
    for (p = text; is_space(*p); p++)
        ;
    if (*p == '\0')
        return NB_OK;
    for (p = text; *p != '\0'; p++)
        count += *p == ',';
    if (count > (SIZE_MAX - tl - 1) / sizeof(char *))
        return NB_ENOMEM;
    el = nbi_alloc(al, count * sizeof(char *) + tl + 1);
    if (el == NULL)
        return NB_ENOMEM;
    copy = (char *)(el + count);
    memcpy(copy, text, tl + 1);
    s = copy;
    for (i = 0; i < count; i++) {
        char *comma = strchr(s, ',');
        char *next = comma != NULL ? comma + 1 : s + strlen(s);
        char *q;
        if (comma != NULL)
            *comma = '\0';
        s = skip_ws(s);
        trim_end(s);
        if (*s == '\0') {
            setmsg(why, wlen, "element %zu is empty", i + 1);
            nbi_free(al, el);
            return NB_ECONFIG;
        }
        for (q = s; *q != '\0'; q++) {
            if (is_space(*q)) {
                char sb[SHOW_LEN];
                setmsg(why, wlen, "element %zu '%s' contains a blank "
                       "(separate elements with ',')", i + 1, shown(s, sb));
                nbi_free(al, el);
                return NB_ECONFIG;
            }
        }
        el[i] = s;
        s = next;
    }
    *block = el;
    *n = count;
    return NB_OK;
}

static int check_length(const nb_config_key *k, size_t n, char *why,
                        size_t wlen)
{
    if (n < k->min_len) {
        setmsg(why, wlen, "has %zu element%s, at least %zu needed", n,
               n == 1 ? "" : "s", k->min_len);
        return NB_ECONFIG;
    }
    if (k->max_len != 0 && n > k->max_len) {
        setmsg(why, wlen, "has %zu elements, at most %zu allowed", n,
               k->max_len);
        return NB_ECONFIG;
    }
    return NB_OK;
}

static int parse_list(const nb_allocator *al, const nb_config_key *k,
                      const char *text, cval *out, char *why, size_t wlen)
{
    char **el;
    size_t n, i;
    int st = split_list(al, text, &el, &n, why, wlen);
    if (st != NB_OK)
        return st;
    st = check_length(k, n, why, wlen);
    if (st != NB_OK)
        goto fail;
    if (k->type == NB_CONFIG_WORD_LIST) {
        for (i = 0; i < n; i++) {
            char tmp[WHY_LEN];
            st = check_word(k, el[i], NULL, tmp, sizeof tmp);
            if (st != NB_OK) {
                setmsg(why, wlen, "element %zu: %s", i + 1, tmp);
                goto fail;
            }
        }
        out->list = el;
        out->n = n;
        return NB_OK;
    } else {
        nb_config_type base = numeric_base(k->type);
        size_t size = base == NB_CONFIG_INT ? sizeof(long long)
                                            : sizeof(size_t);
        char *arr = NULL;
        if (n > 0) {
            arr = nbi_alloc(al, n * size);
            if (arr == NULL) {
                st = NB_ENOMEM;
                goto fail;
            }
        }
        for (i = 0; i < n; i++) {
            char tmp[WHY_LEN];
            num v;
            st = parse_num(base, el[i], &v, k->min, tmp, sizeof tmp);
            if (st == NB_OK)
                st = check_bounds(k, &v, el[i], tmp, sizeof tmp);
            if (st != NB_OK) {
                setmsg(why, wlen, "element %zu: %s", i + 1, tmp);
                nbi_free(al, arr);
                goto fail;
            }
            if (base == NB_CONFIG_INT)
                ((long long *)(void *)arr)[i] = v.i;
            else
                ((size_t *)(void *)arr)[i] = v.z;
        }
        nbi_free(al, el);
        out->list = arr;
        out->n = n;
        return NB_OK;
    }
fail:
    nbi_free(al, el);
    return st;
}

/* Parses text (already unquoted) as a value of key k into *out, which is
 * overwritten (origin left UNSET).  NB_ECONFIG with the reason in why;
 * NB_ENOMEM.  *out holds nothing to free on error. */
static int parse_value(const nb_allocator *al, const nb_config_key *k,
                       const char *text, cval *out, char *why, size_t wlen)
{
    char sb[SHOW_LEN];
    int st = NB_OK;
    memset(out, 0, sizeof *out);
    out->text = nbi_strndup(al, text, strlen(text));
    if (out->text == NULL)
        return NB_ENOMEM;
    switch (k->type) {
    case NB_CONFIG_STRING:
        break;
    case NB_CONFIG_INT:
    case NB_CONFIG_SIZE:
    case NB_CONFIG_DOUBLE: {
        num v;
        st = parse_num(numeric_base(k->type), text, &v, k->min, why, wlen);
        if (st == NB_OK)
            st = check_bounds(k, &v, text, why, wlen);
        if (st != NB_OK)
            break;
        if (k->type == NB_CONFIG_INT)
            out->v.i = v.i;
        else if (k->type == NB_CONFIG_SIZE)
            out->v.z = v.z;
        else
            out->v.d = v.d;
        break;
    }
    case NB_CONFIG_BOOL:
        if (parse_bool(text, &out->v.b) != 0) {
            setmsg(why, wlen, "'%s' is not a boolean (use true/false, "
                   "yes/no, on/off or 1/0)", shown(text, sb));
            st = NB_ECONFIG;
        }
        break;
    case NB_CONFIG_ENUM:
        st = check_word(k, text, &out->v.idx, why, wlen);
        break;
    case NB_CONFIG_INT_LIST:
    case NB_CONFIG_SIZE_LIST:
    case NB_CONFIG_WORD_LIST:
        st = parse_list(al, k, text, out, why, wlen);
        break;
    default:
        setmsg(why, wlen, "unknown type %d", (int)k->type);
        st = NB_EINVAL;
        break;
    }
    if (st != NB_OK)
        cval_clear(al, out);
    return st;
}

/* Unescapes the double-quoted string at s (s[0] == '"') into dst (may be s:
 * the result is never longer).  Returns the character after the closing
 * quote, or NULL with why. */
static char *unquote(char *s, char *dst, char *why, size_t wlen)
{
    char *p = s + 1;
    for (;;) {
        if (*p == '\0') {
            setmsg(why, wlen, "unterminated quoted string (missing '\"')");
            return NULL;
        }
        if (*p == '"')
            break;
        if (*p == '\\') {
            if (p[1] != '"' && p[1] != '\\') {
                if (p[1] == '\0')
                    setmsg(why, wlen, "unterminated quoted string "
                           "(missing '\"')");
                else {
                    char c[16];   /* the character escaped: it may be a tab */
                    nb_error_escape(c, sizeof c, p + 1, 1, 4);
                    setmsg(why, wlen, "unknown escape '\\%s' in quoted string "
                           "(only \\\" and \\\\ are allowed)", c);
                }
                return NULL;
            }
            p++;
        }
        *dst++ = *p++;
    }
    *dst = '\0';
    return p + 1;
}

/* ---- schema ------------------------------------------------------------ */

static size_t find_key(const nb_config_key *schema, size_t n, const char *key)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(schema[i].name, key) == 0)
            return i;
    return (size_t)-1;
}

/* Checks of entry i that need no allocation. */
static int check_entry(const nb_config_key *schema, size_t i, char *msg,
                       size_t len)
{
    const nb_config_key *k = &schema[i];
    nb_config_type base;
    size_t j;
    num lo = { 0 }, hi = { 0 };
    if (k->name == NULL || !valid_name(k->name)) {
        setmsg(msg, len, "schema entry %zu: invalid key name '%s' (letters, "
               "digits, '_', '-' and '.' between parts)", i,
               k->name != NULL ? k->name : "(null)");
        return NB_EINVAL;
    }
    for (j = 0; j < i; j++) {
        if (strcmp(schema[j].name, k->name) == 0) {
            setmsg(msg, len, "schema entry %zu: duplicate key '%s' (also "
                   "entry %zu)", i, k->name, j);
            return NB_EINVAL;
        }
    }
    if (k->type < NB_CONFIG_STRING || k->type > NB_CONFIG_WORD_LIST) {
        setmsg(msg, len, "schema entry %zu '%s': unknown type %d", i, k->name,
               (int)k->type);
        return NB_EINVAL;
    }
    if (k->required && k->def != NULL) {
        setmsg(msg, len, "schema entry %zu '%s': a required key cannot have "
               "a default", i, k->name);
        return NB_EINVAL;
    }
    if (k->help != NULL && strpbrk(k->help, "\r\n") != NULL) {
        setmsg(msg, len, "schema entry %zu '%s': help must be one line", i,
               k->name);
        return NB_EINVAL;
    }
    base = numeric_base(k->type);
    if (base == 0 && (k->min != NULL || k->max != NULL || k->flags != 0)) {
        setmsg(msg, len, "schema entry %zu '%s': bounds given for a "
               "non-numeric type", i, k->name);
        return NB_EINVAL;
    }
    if ((k->flags & ~(NB_CONFIG_MIN_EXCLUSIVE | NB_CONFIG_MAX_EXCLUSIVE)) != 0
        || ((k->flags & NB_CONFIG_MIN_EXCLUSIVE) && k->min == NULL)
        || ((k->flags & NB_CONFIG_MAX_EXCLUSIVE) && k->max == NULL)) {
        setmsg(msg, len, "schema entry %zu '%s': bad flags 0x%x (an exclusive "
               "flag needs its bound)", i, k->name, k->flags);
        return NB_EINVAL;
    }
    if (k->min != NULL
        && parse_num(base, k->min, &lo, NULL, NULL, 0) != NB_OK) {
        setmsg(msg, len, "schema entry %zu '%s': minimum '%s' is not %s", i,
               k->name, k->min, expected(base));
        return NB_EINVAL;
    }
    if (k->max != NULL
        && parse_num(base, k->max, &hi, NULL, NULL, 0) != NB_OK) {
        setmsg(msg, len, "schema entry %zu '%s': maximum '%s' is not %s", i,
               k->name, k->max, expected(base));
        return NB_EINVAL;
    }
    if (k->min != NULL && k->max != NULL && cmp_num(base, &lo, &hi) > 0) {
        setmsg(msg, len, "schema entry %zu '%s': minimum %s is above the "
               "maximum %s", i, k->name, k->min, k->max);
        return NB_EINVAL;
    }
    if (!is_list(k->type) && (k->min_len != 0 || k->max_len != 0)) {
        setmsg(msg, len, "schema entry %zu '%s': min_len/max_len given for a "
               "type that is not a list", i, k->name);
        return NB_EINVAL;
    }
    if (k->max_len != 0 && k->min_len > k->max_len) {
        setmsg(msg, len, "schema entry %zu '%s': min_len %zu is above max_len "
               "%zu", i, k->name, k->min_len, k->max_len);
        return NB_EINVAL;
    }
    if (k->type != NB_CONFIG_ENUM && k->type != NB_CONFIG_WORD_LIST
        && (k->words != NULL || k->check != NULL)) {
        setmsg(msg, len, "schema entry %zu '%s': words/check given for a type "
               "that takes no words", i, k->name);
        return NB_EINVAL;
    }
    if (k->type == NB_CONFIG_ENUM && k->words == NULL && k->check == NULL) {
        setmsg(msg, len, "schema entry %zu '%s': an enum needs words or a "
               "check function", i, k->name);
        return NB_EINVAL;
    }
    if (k->words != NULL) {
        if (k->words[0] == NULL) {
            setmsg(msg, len, "schema entry %zu '%s': empty word list", i,
                   k->name);
            return NB_EINVAL;
        }
        for (j = 0; k->words[j] != NULL; j++) {
            if (k->words[j][0] == '\0'
                || strpbrk(k->words[j], " \t,\"#") != NULL) {
                setmsg(msg, len, "schema entry %zu '%s': word %zu '%s' is "
                       "empty or holds a blank, ',', '\"' or '#'", i, k->name,
                       j, k->words[j]);
                return NB_EINVAL;
            }
        }
    }
    return NB_OK;
}

static int check_schema(const nb_allocator *al, const nb_config_key *schema,
                        size_t n, char *msg, size_t len)
{
    size_t i;
    if (schema == NULL && n > 0) {
        setmsg(msg, len, "schema is NULL");
        return NB_EINVAL;
    }
    for (i = 0; i < n; i++) {
        int st = check_entry(schema, i, msg, len);
        if (st != NB_OK)
            return st;
    }
    for (i = 0; i < n; i++) {
        char why[WHY_LEN];
        cval v;
        int st;
        if (schema[i].def == NULL)
            continue;
        st = parse_value(al, &schema[i], schema[i].def, &v, why, sizeof why);
        if (st == NB_ENOMEM) {
            setmsg(msg, len, "schema check: out of memory");
            return st;
        }
        if (st != NB_OK) {
            setmsg(msg, len, "schema entry %zu '%s': default: %s", i,
                   schema[i].name, why);
            return NB_EINVAL;
        }
        cval_clear(al, &v);
    }
    clearmsg(msg, len);
    return NB_OK;
}

/* Every public call below fills an nb_error from the message its worker
 * wrote into a local buffer, and only when it failed: a call that succeeds
 * leaves err untouched. */
static int report(nb_error *err, int st, const char *msg)
{
    if (st != NB_OK)
        nb_error_set(err, st, "%s", msg[0] ? msg : nb_strerror(st));
    return st;
}

int nb_config_schema_check(const nb_config_key *schema, size_t n, nb_error *err)
{
    char msg[NB_ERROR_MSG_MAX] = "";
    nb_allocator al = nbi_allocator(NULL);
    return report(err, check_schema(&al, schema, n, msg, sizeof msg), msg);
}

/* ---- life cycle -------------------------------------------------------- */

nb_config *nb_config_alloc(const nb_config_key *schema, size_t n)
{
    return nb_config_alloc_with(schema, n, NULL);
}

nb_config *nb_config_alloc_with(const nb_config_key *schema, size_t n,
                                const nb_allocator *allocator)
{
    nb_allocator al = nbi_allocator(allocator);
    nb_config *cfg;
    size_t i;
    /* A half-filled allocator is a caller error, not a request for malloc. */
    if ((allocator != NULL && (allocator->alloc == NULL || allocator->free == NULL))
        || (schema == NULL && n > 0))
        return NULL;
    for (i = 0; i < n; i++)
        if (check_entry(schema, i, NULL, 0) != NB_OK)
            return NULL;
    if (n > SIZE_MAX / sizeof(cval))
        return NULL;
    cfg = nbi_alloc(&al, sizeof *cfg);
    if (cfg == NULL)
        return NULL;
    memset(cfg, 0, sizeof *cfg);
    cfg->al = al;
    cfg->schema = schema;
    cfg->n = n;
    cfg->vals = nbi_alloc(&al, n * sizeof(cval));
    if (cfg->vals == NULL) {
        nbi_free(&al, cfg);
        return NULL;
    }
    memset(cfg->vals, 0, n * sizeof(cval));
    for (i = 0; i < n; i++) {
        char why[WHY_LEN];
        if (schema[i].def == NULL)
            continue;
        if (parse_value(&cfg->al, &schema[i], schema[i].def, &cfg->vals[i],
                        why, sizeof why) != NB_OK) {
            nb_config_free(cfg);
            return NULL;
        }
        cfg->vals[i].origin = ORIGIN_DEFAULT;
    }
    return cfg;
}

void nb_config_free(nb_config *cfg)
{
    nb_allocator al;
    size_t i;
    if (cfg == NULL)
        return;
    al = cfg->al;
    for (i = 0; i < cfg->n; i++)
        cval_clear(&al, &cfg->vals[i]);
    for (i = 0; i < cfg->n_files; i++)
        nbi_free(&al, cfg->files[i]);
    nbi_free(&al, cfg->files);
    nbi_free(&al, cfg->vals);
    nbi_free(&al, cfg);
}

/* ---- files ------------------------------------------------------------- */

typedef struct parser {
    nb_config *cfg;
    const char *name;        /* file name */
    char echo[SHOW_LEN];     /* the file name as messages show it */
    size_t file;             /* its index in cfg->files */
    cval *stage;             /* (cfg->n): values of this file */
    char *msg;
    size_t len;
    int in_section;
    char section[NB_CONFIG_MAX_LINE + 1];
    char key[2 * NB_CONFIG_MAX_LINE + 8];      /* full key of the line */
    char line[NB_CONFIG_MAX_LINE + 2];
} parser;

static int line_error(parser *ps, size_t lineno, const char *fmt, ...)
    NBI_PRINTF(3, 4);
static int line_error(parser *ps, size_t lineno, const char *fmt, ...)
{
    char why[WHY_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    setmsg(ps->msg, ps->len, "%s:%zu: %s", ps->echo, lineno, why);
    return NB_ECONFIG;
}

/* Interprets ps->line (len bytes, NUL-terminated, no '\n'). */
static int parse_line(parser *ps, size_t len, size_t lineno)
{
    char why[WHY_LEN], sb[SHOW_LEN];
    char *line = ps->line, *p, *eq, *key, *val;
    const char *sug;
    size_t idx;
    int st;

    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    if (len > NB_CONFIG_MAX_LINE)
        return line_error(ps, lineno, "line longer than %d bytes",
                          NB_CONFIG_MAX_LINE);
    if (lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;   /* UTF-8 byte order mark */
        len -= 3;
    }
    if (bad_text(line, len, why, sizeof why))
        return line_error(ps, lineno, "%s", why);

    p = skip_ws(line);
    if (*p == '\0' || *p == '#' || *p == ';')
        return NB_OK;

    if (*p == '[') {
        char *close = strchr(p, ']'), *rest, *name;
        if (close == NULL)
            return line_error(ps, lineno, "malformed section header: "
                              "missing ']'");
        rest = skip_ws(close + 1);
        if (*rest != '\0' && *rest != '#' && *rest != ';')
            return line_error(ps, lineno, "unexpected text '%s' after "
                              "section header", shown(rest, sb));
        *close = '\0';
        name = skip_ws(p + 1);
        trim_end(name);
        if (*name == '\0')
            return line_error(ps, lineno, "empty section name");
        if (!valid_name(name))
            return line_error(ps, lineno, "invalid section name '%s' "
                              "(letters, digits, '_', '-' and '.' between "
                              "parts)", shown(name, sb));
        strcpy(ps->section, name);
        ps->in_section = 1;
        return NB_OK;
    }

    eq = strchr(p, '=');
    if (eq == NULL)
        return line_error(ps, lineno, "expected 'key = value', '[section]' "
                          "or a comment, not '%s'", shown(p, sb));
    *eq = '\0';
    key = p;
    trim_end(key);
    if (*key == '\0')
        return line_error(ps, lineno, "missing key name before '='");
    if (!valid_name(key))
        return line_error(ps, lineno, "invalid key name '%s' (letters, "
                          "digits, '_', '-' and '.' between parts)",
                          shown(key, sb));
    if (ps->in_section)
        snprintf(ps->key, sizeof ps->key, "%s.%s", ps->section, key);
    else
        snprintf(ps->key, sizeof ps->key, "%s", key);

    val = skip_ws(eq + 1);
    if (*val == '"') {
        char *rest = unquote(val, val, why, sizeof why);
        if (rest == NULL)
            return line_error(ps, lineno, "key '%s': %s",
                              shown(ps->key, sb), why);
        rest = skip_ws(rest);
        if (*rest != '\0' && *rest != '#')
            return line_error(ps, lineno, "key '%s': unexpected text after "
                              "the closing quote", shown(ps->key, sb));
    } else {
        char *q;
        for (q = val; *q != '\0'; q++) {
            if (*q == '#' && (q == val || is_space(q[-1]))) {
                *q = '\0';
                break;
            }
        }
        trim_end(val);
    }

    idx = find_key(ps->cfg->schema, ps->cfg->n, ps->key);
    if (idx == (size_t)-1) {
        sug = suggest_key(ps->cfg->schema, ps->cfg->n, ps->key);
        if (sug != NULL)
            return line_error(ps, lineno, "unknown key '%s' (did you mean "
                              "'%s'?)", shown(ps->key, sb), sug);
        return line_error(ps, lineno, "unknown key '%s'", shown(ps->key, sb));
    }
    if (ps->stage[idx].origin != ORIGIN_UNSET)
        return line_error(ps, lineno, "duplicate key '%s' (first set at "
                          "line %zu)", ps->key, ps->stage[idx].line);
    st = parse_value(&ps->cfg->al, &ps->cfg->schema[idx], val,
                     &ps->stage[idx], why, sizeof why);
    if (st == NB_ENOMEM) {
        setmsg(ps->msg, ps->len, "%s:%zu: out of memory", ps->echo, lineno);
        return st;
    }
    if (st != NB_OK)
        return line_error(ps, lineno, "key '%s': %s", ps->key, why);
    ps->stage[idx].origin = ORIGIN_FILE;
    ps->stage[idx].file = ps->file;
    ps->stage[idx].line = lineno;
    return NB_OK;
}

/* Registers the file name and allocates the parser; NULL when out of
 * memory. */
static parser *parser_begin(nb_config *cfg, const char *name, char *msg,
                            size_t len)
{
    const nb_allocator *al = &cfg->al;
    parser *ps;
    char *copy;
    if (cfg->n_files == cfg->cap_files) {
        size_t cap = cfg->cap_files ? 2 * cfg->cap_files : 4;
        char **files = nbi_alloc(al, cap * sizeof(char *));
        if (files == NULL)
            return NULL;
        if (cfg->n_files > 0)
            memcpy(files, cfg->files, cfg->n_files * sizeof(char *));
        nbi_free(al, cfg->files);
        cfg->files = files;
        cfg->cap_files = cap;
    }
    copy = nbi_strndup(al, name, strlen(name));
    if (copy == NULL)
        return NULL;
    ps = nbi_alloc(al, sizeof *ps);
    if (ps == NULL) {
        nbi_free(al, copy);
        return NULL;
    }
    ps->stage = nbi_alloc(al, cfg->n * sizeof(cval));
    if (ps->stage == NULL) {
        nbi_free(al, ps);
        nbi_free(al, copy);
        return NULL;
    }
    memset(ps->stage, 0, cfg->n * sizeof(cval));
    ps->cfg = cfg;
    ps->name = copy;
    nbi_echo_path(ps->echo, copy);
    ps->file = cfg->n_files;
    cfg->files[cfg->n_files++] = copy;
    ps->msg = msg;
    ps->len = len;
    ps->in_section = 0;
    ps->section[0] = '\0';
    return ps;
}

/* Commits the staged values when st is NB_OK, drops them otherwise (and the
 * file name with them, unless a committed value refers to it). */
static int parser_end(parser *ps, int st)
{
    nb_config *cfg = ps->cfg;
    size_t i;
    for (i = 0; i < cfg->n; i++) {
        if (ps->stage[i].origin == ORIGIN_UNSET)
            continue;
        if (st == NB_OK) {
            cval_clear(&cfg->al, &cfg->vals[i]);
            cfg->vals[i] = ps->stage[i];
        } else {
            cval_clear(&cfg->al, &ps->stage[i]);
        }
    }
    if (st != NB_OK) {
        cfg->n_files--;
        nbi_free(&cfg->al, cfg->files[cfg->n_files]);
    } else {
        clearmsg(ps->msg, ps->len);
    }
    nbi_free(&cfg->al, ps->stage);
    nbi_free(&cfg->al, ps);
    return st;
}

static int parse_string_msg(nb_config *cfg, const char *text, const char *name,
                            char *msg, size_t len)
{
    parser *ps;
    size_t lineno = 0;
    int st = NB_OK;
    char sb[SHOW_LEN];
    if (cfg == NULL || text == NULL) {
        setmsg(msg, len, "nb_config_parse_string: NULL argument");
        return NB_EINVAL;
    }
    if (name == NULL)
        name = "<string>";
    ps = parser_begin(cfg, name, msg, len);
    if (ps == NULL) {
        setmsg(msg, len, "%s: out of memory", shown_path(name, sb));
        return NB_ENOMEM;
    }
    while (*text != '\0') {
        const char *nl = strchr(text, '\n');
        size_t n = nl != NULL ? (size_t)(nl - text) : strlen(text);
        lineno++;
        if (n > NB_CONFIG_MAX_LINE + 1) {
            st = line_error(ps, lineno, "line longer than %d bytes",
                            NB_CONFIG_MAX_LINE);
            break;
        }
        memcpy(ps->line, text, n);
        ps->line[n] = '\0';
        st = parse_line(ps, n, lineno);
        if (st != NB_OK || nl == NULL)
            break;
        text = nl + 1;
    }
    return parser_end(ps, st);
}

int nb_config_parse_string(nb_config *cfg, const char *text, const char *name,
                           nb_error *err)
{
    char msg[NB_ERROR_MSG_MAX] = "";
    return report(err, parse_string_msg(cfg, text, name, msg, sizeof msg), msg);
}

static int load_msg(nb_config *cfg, const char *path, char *msg, size_t len)
{
    char sb[SHOW_LEN];
    parser *ps;
    FILE *f;
    size_t lineno = 0;
    int st = NB_OK, c = 0;
    if (cfg == NULL || path == NULL) {
        setmsg(msg, len, "nb_config_load: NULL argument");
        return NB_EINVAL;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        setmsg(msg, len, "cannot open '%s': %s", shown_path(path, sb), strerror(errno));
        return NB_EIO;
    }
    ps = parser_begin(cfg, path, msg, len);
    if (ps == NULL) {
        fclose(f);
        setmsg(msg, len, "%s: out of memory", shown_path(path, sb));
        return NB_ENOMEM;
    }
    while (c != EOF) {
        size_t n = 0;
        while ((c = getc(f)) != EOF && c != '\n') {
            if (n == NB_CONFIG_MAX_LINE + 1)
                break;
            if (c == '\0')
                break;
            ps->line[n++] = (char)c;
        }
        if (c == EOF && n == 0)
            break;
        lineno++;
        if (c == '\0') {
            st = line_error(ps, lineno, "NUL byte at column %zu", n + 1);
            break;
        }
        if (n == NB_CONFIG_MAX_LINE + 1 && c != EOF && c != '\n') {
            st = line_error(ps, lineno, "line longer than %d bytes",
                            NB_CONFIG_MAX_LINE);
            break;
        }
        ps->line[n] = '\0';
        st = parse_line(ps, n, lineno);
        if (st != NB_OK)
            break;
    }
    if (st == NB_OK && ferror(f)) {
        setmsg(msg, len, "error reading '%s': %s", shown_path(path, sb), strerror(errno));
        st = NB_EIO;
    }
    fclose(f);
    return parser_end(ps, st);
}

int nb_config_load(nb_config *cfg, const char *path, nb_error *err)
{
    char msg[NB_ERROR_MSG_MAX] = "";
    return report(err, load_msg(cfg, path, msg, sizeof msg), msg);
}

/* ---- overrides --------------------------------------------------------- */

static int set_msg(nb_config *cfg, const char *assignment, char *msg,
                   size_t len)
{
    char why[WHY_LEN], sb[SHOW_LEN];
    const char *eq;
    char *buf, *key, *val;
    size_t n, idx;
    cval v;
    int st;
    if (cfg == NULL || assignment == NULL) {
        setmsg(msg, len, "nb_config_set: NULL argument");
        return NB_EINVAL;
    }
    n = strlen(assignment);
    if (n > NB_CONFIG_MAX_LINE) {
        setmsg(msg, len, "--set: argument longer than %d bytes",
               NB_CONFIG_MAX_LINE);
        return NB_ECONFIG;
    }
    if (bad_text(assignment, n, why, sizeof why)) {
        setmsg(msg, len, "--set: %s", why);
        return NB_ECONFIG;
    }
    eq = strchr(assignment, '=');
    if (eq == NULL) {
        setmsg(msg, len, "--set: '%s' has no '=' (expected --set key=value)",
               shown(assignment, sb));
        return NB_ECONFIG;
    }
    buf = nbi_strndup(&cfg->al, assignment, n);
    if (buf == NULL) {
        setmsg(msg, len, "--set: out of memory");
        return NB_ENOMEM;
    }
    buf[eq - assignment] = '\0';
    key = skip_ws(buf);
    trim_end(key);
    val = skip_ws(buf + (eq - assignment) + 1);
    st = NB_ECONFIG;
    if (*key == '\0') {
        setmsg(msg, len, "--set: missing key name before '='");
        goto out;
    }
    idx = find_key(cfg->schema, cfg->n, key);
    if (idx == (size_t)-1) {
        const char *sug = suggest_key(cfg->schema, cfg->n, key);
        if (sug != NULL)
            setmsg(msg, len, "--set: unknown key '%s' (did you mean '%s'?)",
                   shown(key, sb), sug);
        else
            setmsg(msg, len, "--set: unknown key '%s'", shown(key, sb));
        goto out;
    }
    if (*val == '"') {
        char *rest = unquote(val, val, why, sizeof why);
        if (rest == NULL) {
            setmsg(msg, len, "--set: key '%s': %s", key, why);
            goto out;
        }
        if (*skip_ws(rest) != '\0') {
            setmsg(msg, len, "--set: key '%s': unexpected text after the "
                   "closing quote", key);
            goto out;
        }
    } else {
        trim_end(val);
    }
    st = parse_value(&cfg->al, &cfg->schema[idx], val, &v, why, sizeof why);
    if (st == NB_ENOMEM) {
        setmsg(msg, len, "--set: out of memory");
        goto out;
    }
    if (st != NB_OK) {
        setmsg(msg, len, "--set: key '%s': %s", key, why);
        goto out;
    }
    v.origin = ORIGIN_SET;
    cval_clear(&cfg->al, &cfg->vals[idx]);
    cfg->vals[idx] = v;
    clearmsg(msg, len);
out:
    nbi_free(&cfg->al, buf);
    return st;
}

int nb_config_set(nb_config *cfg, const char *assignment, nb_error *err)
{
    char msg[NB_ERROR_MSG_MAX] = "";
    return report(err, set_msg(cfg, assignment, msg, sizeof msg), msg);
}

static int validate_msg(const nb_config *cfg, char *msg, size_t len)
{
    size_t i, first = (size_t)-1, missing = 0;
    if (cfg == NULL) {
        setmsg(msg, len, "nb_config_validate: NULL argument");
        return NB_EINVAL;
    }
    for (i = 0; i < cfg->n; i++) {
        if (cfg->schema[i].required && cfg->vals[i].origin == ORIGIN_UNSET) {
            if (missing++ == 0)
                first = i;
        }
    }
    if (missing == 0) {
        clearmsg(msg, len);
        return NB_OK;
    }
    char sb[SHOW_LEN];
    setmsg(msg, len, "%s%smissing required key '%s'",
           cfg->n_files > 0 ? shown_path(cfg->files[cfg->n_files - 1], sb) : "",
           cfg->n_files > 0 ? ": " : "", cfg->schema[first].name);
    if (cfg->schema[first].help != NULL)
        catmsg(msg, len, " (%s)", cfg->schema[first].help);
    if (missing > 1)
        catmsg(msg, len, " and %zu more", missing - 1);
    catmsg(msg, len, "; set it in the config file or with --set %s=VALUE",
           cfg->schema[first].name);
    return NB_ECONFIG;
}

int nb_config_validate(const nb_config *cfg, nb_error *err)
{
    char msg[NB_ERROR_MSG_MAX] = "";
    return report(err, validate_msg(cfg, msg, sizeof msg), msg);
}

/* ---- getters ----------------------------------------------------------- */

/* The value of key if its type is t1 or t2. */
static int lookup(const nb_config *cfg, const char *key, nb_config_type t1,
                  nb_config_type t2, const cval **v, size_t *index)
{
    size_t i;
    if (cfg == NULL || key == NULL)
        return NB_EINVAL;
    i = find_key(cfg->schema, cfg->n, key);
    if (i == (size_t)-1)
        return NB_ENOTFOUND;
    if (cfg->schema[i].type != t1 && cfg->schema[i].type != t2)
        return NB_EINVAL;
    if (cfg->vals[i].origin == ORIGIN_UNSET)
        return NB_ECONFIG;
    *v = &cfg->vals[i];
    if (index != NULL)
        *index = i;
    return NB_OK;
}

int nb_config_get_string(const nb_config *cfg, const char *key,
                         const char **out)
{
    const cval *v;
    int st;
    if (out == NULL)
        return NB_EINVAL;
    st = lookup(cfg, key, NB_CONFIG_STRING, NB_CONFIG_ENUM, &v, NULL);
    if (st == NB_OK)
        *out = v->text;
    return st;
}

int nb_config_get_int(const nb_config *cfg, const char *key, long long *out)
{
    const cval *v;
    int st;
    if (out == NULL)
        return NB_EINVAL;
    st = lookup(cfg, key, NB_CONFIG_INT, NB_CONFIG_INT, &v, NULL);
    if (st == NB_OK)
        *out = v->v.i;
    return st;
}

int nb_config_get_size(const nb_config *cfg, const char *key, size_t *out)
{
    const cval *v;
    int st;
    if (out == NULL)
        return NB_EINVAL;
    st = lookup(cfg, key, NB_CONFIG_SIZE, NB_CONFIG_SIZE, &v, NULL);
    if (st == NB_OK)
        *out = v->v.z;
    return st;
}

int nb_config_get_double(const nb_config *cfg, const char *key, double *out)
{
    const cval *v;
    int st;
    if (out == NULL)
        return NB_EINVAL;
    st = lookup(cfg, key, NB_CONFIG_DOUBLE, NB_CONFIG_DOUBLE, &v, NULL);
    if (st == NB_OK)
        *out = v->v.d;
    return st;
}

int nb_config_get_bool(const nb_config *cfg, const char *key, int *out)
{
    const cval *v;
    int st;
    if (out == NULL)
        return NB_EINVAL;
    st = lookup(cfg, key, NB_CONFIG_BOOL, NB_CONFIG_BOOL, &v, NULL);
    if (st == NB_OK)
        *out = v->v.b;
    return st;
}

int nb_config_get_enum(const nb_config *cfg, const char *key, size_t *index)
{
    const cval *v;
    size_t i;
    int st;
    if (index == NULL)
        return NB_EINVAL;
    st = lookup(cfg, key, NB_CONFIG_ENUM, NB_CONFIG_ENUM, &v, &i);
    if (st != NB_OK)
        return st;
    if (cfg->schema[i].words == NULL)
        return NB_EINVAL;
    *index = v->v.idx;
    return NB_OK;
}

int nb_config_get_int_list(const nb_config *cfg, const char *key,
                           const long long **values, size_t *n)
{
    const cval *v;
    int st;
    if (values == NULL || n == NULL)
        return NB_EINVAL;
    st = lookup(cfg, key, NB_CONFIG_INT_LIST, NB_CONFIG_INT_LIST, &v, NULL);
    if (st == NB_OK) {
        *values = v->list;
        *n = v->n;
    }
    return st;
}

int nb_config_get_size_list(const nb_config *cfg, const char *key,
                            const size_t **values, size_t *n)
{
    const cval *v;
    int st;
    if (values == NULL || n == NULL)
        return NB_EINVAL;
    st = lookup(cfg, key, NB_CONFIG_SIZE_LIST, NB_CONFIG_SIZE_LIST, &v, NULL);
    if (st == NB_OK) {
        *values = v->list;
        *n = v->n;
    }
    return st;
}

int nb_config_get_word_list(const nb_config *cfg, const char *key,
                            const char *const **words, size_t *n)
{
    const cval *v;
    int st;
    if (words == NULL || n == NULL)
        return NB_EINVAL;
    st = lookup(cfg, key, NB_CONFIG_WORD_LIST, NB_CONFIG_WORD_LIST, &v, NULL);
    if (st == NB_OK) {
        *words = (const char *const *)v->list;
        *n = v->n;
    }
    return st;
}

int nb_config_is_set(const nb_config *cfg, const char *key)
{
    size_t i;
    if (cfg == NULL || key == NULL)
        return 0;
    i = find_key(cfg->schema, cfg->n, key);
    return i != (size_t)-1 && cfg->vals[i].origin != ORIGIN_UNSET;
}

static void origin_text(const nb_config *cfg, const cval *v, char *buf,
                        size_t len)
{
    char sb[SHOW_LEN];
    switch (v->origin) {
    case ORIGIN_DEFAULT:
        setmsg(buf, len, "default");
        break;
    case ORIGIN_FILE:
        setmsg(buf, len, "%s:%zu", shown_path(cfg->files[v->file], sb), v->line);
        break;
    case ORIGIN_SET:
        setmsg(buf, len, "--set");
        break;
    default:
        setmsg(buf, len, "unset");
        break;
    }
}

int nb_config_origin(const nb_config *cfg, const char *key, char *buf,
                     size_t len)
{
    size_t i;
    if (cfg == NULL || key == NULL || buf == NULL || len == 0)
        return NB_EINVAL;
    i = find_key(cfg->schema, cfg->n, key);
    if (i == (size_t)-1)
        return NB_ENOTFOUND;
    origin_text(cfg, &cfg->vals[i], buf, len);
    return NB_OK;
}

/* ---- writing ----------------------------------------------------------- */

/* Growable text through the config's allocator. */
typedef struct strbuf {
    const nb_allocator *al;
    char *p;
    size_t n, cap;
    int oom;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *p;
        while (cap < b->n + n + 1)
            cap *= 2;
        p = nbi_alloc(b->al, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        if (b->n > 0)
            memcpy(p, b->p, b->n);
        nbi_free(b->al, b->p);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_reset(strbuf *b)
{
    b->n = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

static void sb_str(strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* The value of key i as text that parses back to the same value. */
static void value_text(const nb_config *cfg, size_t i, strbuf *b)
{
    const cval *v = &cfg->vals[i];
    char tmp[64];
    size_t j;
    switch (cfg->schema[i].type) {
    case NB_CONFIG_INT:
        snprintf(tmp, sizeof tmp, "%lld", v->v.i);
        sb_str(b, tmp);
        break;
    case NB_CONFIG_SIZE:
        snprintf(tmp, sizeof tmp, "%zu", v->v.z);
        sb_str(b, tmp);
        break;
    case NB_CONFIG_DOUBLE:
        nbi_format_double(v->v.d, tmp, sizeof tmp);
        sb_str(b, tmp);
        break;
    case NB_CONFIG_BOOL:
        sb_str(b, v->v.b ? "true" : "false");
        break;
    case NB_CONFIG_INT_LIST:
        for (j = 0; j < v->n; j++) {
            snprintf(tmp, sizeof tmp, "%s%lld", j ? ", " : "",
                     ((const long long *)v->list)[j]);
            sb_str(b, tmp);
        }
        break;
    case NB_CONFIG_SIZE_LIST:
        for (j = 0; j < v->n; j++) {
            snprintf(tmp, sizeof tmp, "%s%zu", j ? ", " : "",
                     ((const size_t *)v->list)[j]);
            sb_str(b, tmp);
        }
        break;
    case NB_CONFIG_WORD_LIST:
        for (j = 0; j < v->n; j++) {
            if (j)
                sb_str(b, ", ");
            sb_str(b, ((char *const *)v->list)[j]);
        }
        break;
    default: /* STRING, ENUM */
        sb_str(b, v->text);
        break;
    }
    sb_add(b, "", 0);   /* b->p is a string even for an empty value */
}

/* Whether s, written bare after "key = ", would read back differently. */
static int needs_quotes(const char *s)
{
    size_t n = strlen(s), i;
    if (n == 0 || is_space(s[0]) || is_space(s[n - 1]) || s[0] == '"'
        || s[0] == '#')
        return 1;
    for (i = 1; i < n; i++)
        if (s[i] == '#' && is_space(s[i - 1]))
            return 1;
    return 0;
}

static void put_value(FILE *out, const char *s, int quote)
{
    if (!quote) {
        fputs(s, out);
        return;
    }
    putc('"', out);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            putc('\\', out);
        putc(*s, out);
    }
    putc('"', out);
}

static void write_key(const nb_config *cfg, size_t i, size_t prefix,
                      strbuf *b, FILE *out)
{
    const nb_config_key *k = &cfg->schema[i];
    const cval *v = &cfg->vals[i];
    if (k->help != NULL)
        fprintf(out, "# %s\n", k->help);
    if (v->origin == ORIGIN_UNSET) {
        fprintf(out, "# %s = (unset%s)\n", k->name + prefix,
                k->required ? ", required" : ", no default");
        return;
    }
    sb_reset(b);
    value_text(cfg, i, b);
    if (b->oom)
        return;
    fprintf(out, "%s = ", k->name + prefix);
    put_value(out, b->p, k->type == NB_CONFIG_STRING || needs_quotes(b->p));
    if (v->origin == ORIGIN_FILE) {
        /* a file name is the caller's: a newline in it must not end the
         * comment and turn the rest into a config line */
        const char *f;
        fputs("  # ", out);
        for (f = cfg->files[v->file]; *f != '\0'; f++)
            putc(((unsigned char)*f < 0x20 || *f == 0x7F) ? '?' : *f, out);
        fprintf(out, ":%zu\n", v->line);
    } else
        fprintf(out, "  # %s\n", v->origin == ORIGIN_SET ? "--set" : "default");
}

int nb_config_write(const nb_config *cfg, FILE *out)
{
    strbuf b;
    size_t i, j;
    if (cfg == NULL || out == NULL)
        return NB_EINVAL;
    b.al = &cfg->al;
    b.p = NULL;
    b.n = b.cap = 0;
    b.oom = 0;
    fputs("# nabla configuration, resolved: every key of the schema with its\n"
          "# value and, after it, where the value comes from (default,\n"
          "# FILE:LINE or --set).  Reading this file back gives the same\n"
          "# configuration.\n", out);
    for (i = 0; i < cfg->n && !b.oom; i++) {
        if (strchr(cfg->schema[i].name, '.') != NULL)
            continue;
        fputc('\n', out);
        write_key(cfg, i, 0, &b, out);
    }
    /* sections in order of first appearance, keys in schema order */
    for (i = 0; i < cfg->n && !b.oom; i++) {
        const char *name = cfg->schema[i].name;
        const char *dot = strrchr(name, '.');
        size_t sl;
        int seen = 0;
        if (dot == NULL)
            continue;
        sl = (size_t)(dot - name);
        for (j = 0; j < i && !seen; j++) {
            const char *other = cfg->schema[j].name;
            const char *od = strrchr(other, '.');
            seen = od != NULL && (size_t)(od - other) == sl
                && memcmp(other, name, sl) == 0;
        }
        if (seen)
            continue;
        fprintf(out, "\n[%.*s]\n", (int)sl, name);
        for (j = i; j < cfg->n && !b.oom; j++) {
            const char *other = cfg->schema[j].name;
            const char *od = strrchr(other, '.');
            if (od != NULL && (size_t)(od - other) == sl
                && memcmp(other, name, sl) == 0)
                write_key(cfg, j, sl + 1, &b, out);
        }
    }
    nbi_free(b.al, b.p);
    if (b.oom)
        return NB_ENOMEM;
    if (fflush(out) != 0 || ferror(out))
        return NB_EIO;
    return NB_OK;
}

static int save_msg(const nb_config *cfg, const char *path, char *msg,
                    size_t len)
{
    char sb[SHOW_LEN], sb2[SHOW_LEN];
    char *tmp;
    size_t pl;
    FILE *f;
    int st;
    if (cfg == NULL || path == NULL) {
        setmsg(msg, len, "nb_config_save: NULL argument");
        return NB_EINVAL;
    }
    pl = strlen(path);
    tmp = nbi_alloc(&cfg->al, pl + 5);
    if (tmp == NULL) {
        setmsg(msg, len, "%s: out of memory", shown_path(path, sb));
        return NB_ENOMEM;
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    f = fopen(tmp, "w");
    if (f == NULL) {
        setmsg(msg, len, "cannot create '%s': %s", shown_path(tmp, sb), strerror(errno));
        nbi_free(&cfg->al, tmp);
        return NB_EIO;
    }
    st = nb_config_write(cfg, f);
    if (st == NB_OK && fsync(fileno(f)) != 0)
        st = NB_EIO;
    if (st == NB_EIO)
        setmsg(msg, len, "cannot write '%s': %s", shown_path(tmp, sb), strerror(errno));
    else if (st == NB_ENOMEM)
        setmsg(msg, len, "%s: out of memory", shown_path(path, sb));
    if (fclose(f) != 0 && st == NB_OK) {
        setmsg(msg, len, "cannot write '%s': %s", shown_path(tmp, sb), strerror(errno));
        st = NB_EIO;
    }
    if (st == NB_OK && rename(tmp, path) != 0) {
        setmsg(msg, len, "cannot rename '%s' to '%s': %s", shown_path(tmp, sb), shown_path(path, sb2),
               strerror(errno));
        st = NB_EIO;
    }
    if (st != NB_OK)
        remove(tmp);
    else
        clearmsg(msg, len);
    nbi_free(&cfg->al, tmp);
    return st;
}

int nb_config_save(const nb_config *cfg, const char *path, nb_error *err)
{
    char msg[NB_ERROR_MSG_MAX] = "";
    return report(err, save_msg(cfg, path, msg, sizeof msg), msg);
}
