/* io.h — the io layer's private header (numbers, JSON, archive, config).
 * It sits just above core: every layer that reads or writes text (the
 * checker's JSON, optimizers' schedule strings, CSV, configs, run
 * directories) uses its one locale-independent number parser and formatter
 * and its one JSON writer.  Never installed. */
#ifndef NABLA_IO_PRIVATE_H
#define NABLA_IO_PRIVATE_H

#include <stdarg.h>
#include <stdio.h>

#include "core/core.h"

/* The one number parser and formatter (number.c) and the one JSON writer
 * (json.c) are public, in nabla/text.h, because the application layer
 * (libnabla-app, public API only) writes run directories through them too.
 * Library code may use either spelling: nbi_strtod is nb_strtod. */
#include <nabla/text.h>
#define nbi_strtod        nb_strtod
#define nbi_format        nb_format
#define nbi_vformat       nb_vformat
#define nbi_fprintf       nb_fprintf
#define nbi_format_double nb_format_double

#endif
