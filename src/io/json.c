/* json.c — the one JSON writer (contract: nabla/text.h).
 *
 * A small state machine over a FILE*: it knows, per open container, whether
 * a member was written (comma) and whether members go on their own lines
 * (indent), and inside objects whether a key is waiting for its value.
 * Misuse and write errors are remembered, not reported at each call, so a
 * writer is a straight list of calls with one check at nb_json_finish(). */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <nabla/error.h>
#include <nabla/text.h>
#include "io/io.h"

/* A failed write: out of memory when the stream says so (a memory stream
 * whose buffer could not grow), an I/O error otherwise. */
static void write_failed(nb_json *j)
{
    if (j->status == NB_OK) j->status = errno == ENOMEM ? NB_ENOMEM : NB_EIO;
}

static void put(nb_json *j, const char *s, size_t n)
{
    if (j->status != NB_OK || n == 0) return;
    errno = 0;
    if (fwrite(s, 1, n, j->out) != n) write_failed(j);
}

static void emit(nb_json *j, const char *s) { put(j, s, strlen(s)); }

static void misuse(nb_json *j)
{
    if (j->status == NB_OK) j->status = NB_ESTATE;
}

static void newline_indent(nb_json *j, size_t depth)
{
    emit(j, "\n");
    for (size_t i = 0; i < depth; i++) emit(j, "  ");
}

/* What comes before a value (or a key): a comma, a line break, or the
 * check that a key was given. */
static void before_value(nb_json *j)
{
    if (j->depth == 0) {
        if (j->values++ > 0) misuse(j);   /* one value per document */
        return;
    }
    size_t d = j->depth - 1;
    if (j->is_object[d]) {
        if (!j->want_value) misuse(j);
        j->want_value = 0;
        return;
    }
    if (j->count[d]) emit(j, j->flags & NB_JSON_COMPACT || j->multiline[d] ? "," : ", ");
    if (j->multiline[d]) newline_indent(j, j->depth);
    j->count[d] = 1;
}

void nb_json_init(nb_json *j, FILE *out, unsigned flags)
{
    memset(j, 0, sizeof *j);
    j->out = out;
    j->flags = flags;
    j->status = out != NULL ? NB_OK : NB_EIO;
}

static void begin(nb_json *j, int multiline, int object)
{
    before_value(j);
    if (j->depth == NB_JSON_MAX_DEPTH) {
        misuse(j);
        return;
    }
    emit(j, object ? "{" : "[");
    j->count[j->depth] = 0;
    j->multiline[j->depth] = multiline != 0;
    j->is_object[j->depth] = object != 0;
    j->depth++;
}

static void end(nb_json *j, int object)
{
    if (j->depth == 0 || j->is_object[j->depth - 1] != object || j->want_value) {
        misuse(j);
        return;
    }
    j->depth--;
    if (j->multiline[j->depth] && j->count[j->depth]) newline_indent(j, j->depth);
    emit(j, object ? "}" : "]");
}

void nb_json_begin_object(nb_json *j, int multiline) { begin(j, multiline, 1); }
void nb_json_end_object(nb_json *j) { end(j, 1); }
void nb_json_begin_array(nb_json *j, int multiline) { begin(j, multiline, 0); }
void nb_json_end_array(nb_json *j) { end(j, 0); }

/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; min = 0x10000; }
    else return 0;
    unsigned cp = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;   /* also stops at the NUL */
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

static void quoted(nb_json *j, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    emit(j, "\"");
    while (*p) {
        const unsigned char *run = p;
        size_t n;
        /* The longest run that needs no escape, written at once. */
        while (*p && *p != '"' && *p != '\\' && *p >= 0x20 && (n = utf8_len(p)) > 0) p += n;
        put(j, (const char *)run, (size_t)(p - run));
        if (!*p) break;
        char esc[8];
        if (*p == '"' || *p == '\\') snprintf(esc, sizeof esc, "\\%c", *p);
        else if (*p < 0x20) snprintf(esc, sizeof esc, "\\u%04x", *p);
        else snprintf(esc, sizeof esc, "\\ufffd");   /* a byte of invalid UTF-8 */
        emit(j, esc);
        p++;
    }
    emit(j, "\"");
}

void nb_json_key(nb_json *j, const char *key)
{
    if (j->depth == 0 || !j->is_object[j->depth - 1] || j->want_value || key == NULL) {
        misuse(j);
        return;
    }
    size_t d = j->depth - 1;
    int compact = (j->flags & NB_JSON_COMPACT) != 0;
    if (j->count[d]) emit(j, compact || j->multiline[d] ? "," : ", ");
    if (j->multiline[d]) newline_indent(j, j->depth);
    j->count[d] = 1;
    quoted(j, key);
    emit(j, compact ? ":" : ": ");
    j->want_value = 1;
}

void nb_json_string(nb_json *j, const char *s)
{
    if (s == NULL) {
        nb_json_null(j);
        return;
    }
    before_value(j);
    quoted(j, s);
}

void nb_json_number(nb_json *j, double v)
{
    char buf[40];
    before_value(j);
    emit(j, isfinite(v) ? nb_format_double(v, buf, sizeof buf) : "null");
}

void nb_json_int(nb_json *j, long long v)
{
    char buf[32];
    before_value(j);
    snprintf(buf, sizeof buf, "%lld", v);
    emit(j, buf);
}

void nb_json_uint(nb_json *j, unsigned long long v)
{
    char buf[32];
    before_value(j);
    snprintf(buf, sizeof buf, "%llu", v);
    emit(j, buf);
}

void nb_json_bool(nb_json *j, int v)
{
    before_value(j);
    emit(j, v ? "true" : "false");
}

void nb_json_null(nb_json *j)
{
    before_value(j);
    emit(j, "null");
}

int nb_json_finish(nb_json *j)
{
    if (j->depth != 0 || j->want_value || j->values != 1) misuse(j);
    emit(j, "\n");
    if (j->status == NB_OK) {
        errno = 0;
        if (fflush(j->out) != 0 || ferror(j->out)) write_failed(j);
    }
    return j->status;
}
