/* error.c — status names and messages, from the X-macro table in error.h. */
#include <stdarg.h>
#include <stdio.h>

#include <nabla/error.h>
#include "internal.h"

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

int nbi_fail(char *msg, size_t len, int status, const char *fmt, ...)
{
    if (msg != NULL && len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, len, fmt, ap);
        va_end(ap);
    }
    return status;
}
