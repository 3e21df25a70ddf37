/* number.c — the one number parser and the one number formatter of the
 * library, both independent of the locale (contract: nabla/text.h).
 *
 * A host program may call setlocale(LC_ALL, "") under a locale whose decimal
 * point is a comma; strtod and printf("%g") then read and write "0,5".  Files
 * nabla reads and writes (configs, CSV, checkpoints, logs) always use '.',
 * so every conversion goes through these two functions, which use a C
 * locale object of their own: strtod_l to parse, and a thread-local
 * uselocale() around snprintf to format (the calling thread's locale is
 * restored before returning; no other thread is affected).
 *
 * The C locale object is created once (pthread_once) and never changed or
 * freed: immutable after initialisation, it is not mutable global state. */
/* strtod_l and uselocale are GNU/POSIX-2008 extensions */
#define _GNU_SOURCE 1
#include <config.h>

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/text.h>
#include "io/io.h"

static pthread_once_t c_once = PTHREAD_ONCE_INIT;
static locale_t c_locale = (locale_t)0;

static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static locale_t the_c_locale(void)
{
    pthread_once(&c_once, make_c_locale);
    return c_locale;
}

double nb_strtod(const char *s, char **end)
{
    locale_t c = the_c_locale();
    if (c != (locale_t)0) return strtod_l(s, end, c);
    /* newlocale failed (out of memory at the first call): try a locale
     * object for this call alone; plain strtod only if that fails too. */
    c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (c == (locale_t)0) return strtod(s, end);
    double v = strtod_l(s, end, c);
    freelocale(c);
    return v;
}

int nb_vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
    locale_t c = the_c_locale();
    locale_t old = c != (locale_t)0 ? uselocale(c) : (locale_t)0;
    int n = vsnprintf(buf, cap, fmt, ap);
    if (old != (locale_t)0) uselocale(old);
    return n;
}

int nb_format(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = nb_vformat(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

int nb_fprintf(FILE *f, const char *fmt, ...)
{
    locale_t c = the_c_locale();
    locale_t old = c != (locale_t)0 ? uselocale(c) : (locale_t)0;
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    if (old != (locale_t)0) uselocale(old);
    return n;
}

const char *nb_format_double(double x, char *buf, size_t cap)
{
    if (cap == 0) return buf;
    if (!isfinite(x)) {
        nb_format(buf, cap, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
        return buf;
    }
    for (int prec = 15; prec <= 17; prec++) {
        nb_format(buf, cap, "%.*g", prec, x);
        if (prec == 17 || nb_strtod(buf, NULL) == x) break;
    }
    return buf;
}
