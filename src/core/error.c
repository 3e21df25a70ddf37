/* error.c — status names and messages, from the X-macro table in error.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <nabla/error.h>
#include "core/core.h"

static const char *const nb_messages[] = {
#define NB_X_MSG(sym, val, msg) [val] = msg,
    NB_STATUS_TABLE(NB_X_MSG)
#undef NB_X_MSG
};

static const char *const nb_names[] = {
#define NB_X_NAME(sym, val, msg) [val] = #sym,
    NB_STATUS_TABLE(NB_X_NAME)
#undef NB_X_NAME
};

const char *nb_strerror(int status)
{
    if (status < 0 || status >= (int)NB_STATUS_COUNT_ || !nb_messages[status])
        return "unknown status";
    return nb_messages[status];
}

const char *nb_status_name(int status)
{
    if (status < 0 || status >= (int)NB_STATUS_COUNT_ || !nb_names[status])
        return "NB_UNKNOWN";
    return nb_names[status];
}

void nb_error_clear(nb_error *err)
{
    if (err == NULL) return;
    err->status = NB_OK;
    err->msg[0] = '\0';
}

int nb_error_set(nb_error *err, int status, const char *fmt, ...)
{
    if (err != NULL) {
        err->status = (nb_status)status;
        err->msg[0] = '\0';
        if (fmt != NULL) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err->msg, sizeof err->msg, fmt, ap);
            va_end(ap);
        }
    }
    return status;
}

const char *nb_error_message(const nb_error *err)
{
    if (err == NULL || err->status == NB_OK) return "";
    return err->msg[0] ? err->msg : nb_strerror(err->status);
}

/* The printed form of one byte of user input into piece[8]. */
static size_t escape_byte(unsigned char c, char *piece)
{
    if (c == '\n') return (size_t)snprintf(piece, 8, "\\n");
    if (c == '\r') return (size_t)snprintf(piece, 8, "\\r");
    if (c == '\t') return (size_t)snprintf(piece, 8, "\\t");
    if (c < 0x20 || c >= 0x7f) return (size_t)snprintf(piece, 8, "\\x%02X", c);
    piece[0] = (char)c;
    piece[1] = '\0';
    return 1;
}

const char *nbi_echo_path(char *buf, const char *path)
{
    if (path == NULL) return nbi_echo(buf, path);
    size_t n = strlen(path), start = n, shown = 0;
    char piece[8];
    /* The longest tail that prints in NB_ERROR_ECHO_MAX - 3 characters. */
    while (start > 0) {
        size_t pl = escape_byte((unsigned char)path[start - 1], piece);
        if (shown + pl > NB_ERROR_ECHO_MAX - 3) break;
        shown += pl;
        start--;
    }
    if (start == 0) return nbi_echo(buf, path);
    memcpy(buf, "...", 3);
    nb_error_escape(buf + 3, NB_ERROR_ECHO_LEN - 3, path + start, n - start, NB_ERROR_ECHO_MAX);
    return buf;
}

const char *nb_error_escape(char *buf, size_t len, const char *s, size_t n, size_t max_chars)
{
    if (buf == NULL || len == 0) return buf;
    buf[0] = '\0';
    if (s == NULL) {
        snprintf(buf, len, "(null)");
        return buf;
    }
    if (n == (size_t)-1) n = strlen(s);
    size_t o = 0, k = 0;
    for (; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        char piece[8];
        size_t pl = escape_byte(c, piece);
        /* max_chars bounds what is printed (an escape never cut in two),
         * so that a message can budget its echoes. */
        if (o + pl > max_chars || o + pl + 1 > len) break;
        memcpy(buf + o, piece, pl);
        o += pl;
    }
    buf[o] = '\0';
    if (k < n) {
        char tail[48];
        snprintf(tail, sizeof tail, "... (%zu more bytes)", n - k);
        size_t tl = strlen(tail);
        if (o + tl + 1 <= len) memcpy(buf + o, tail, tl + 1);
    }
    return buf;
}
