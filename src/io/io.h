/* io.h — the io layer's private header (archive, config, numbers).  It sits
 * just above core: every layer that reads or writes text (the checker's
 * JSON, optimizers' schedule strings, CSV, configs, run directories) uses
 * its one locale-independent number parser and formatter.  Never
 * installed. */
#ifndef NABLA_IO_PRIVATE_H
#define NABLA_IO_PRIVATE_H

#include <stdarg.h>
#include <stdio.h>

#include "core/core.h"

/* strtod with '.' as decimal point whatever the locale (strtod_l with a C
 * locale object): the same syntax, results, end pointer and errno. */
double nbi_strtod(const char *s, char **end);

/* snprintf / vsnprintf / fprintf in the C locale ('.' as decimal point);
 * the calling thread's locale is restored before returning. */
int nbi_format(char *buf, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int nbi_vformat(char *buf, size_t cap, const char *fmt, va_list ap);
int nbi_fprintf(FILE *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The shortest of %.15g, %.16g, %.17g that reads back as exactly x ("nan",
 * "inf", "-inf" for non-finite values); returns buf (at least 32 bytes). */
const char *nbi_format_double(double x, char *buf, size_t cap);

#endif
