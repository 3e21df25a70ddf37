/* io.h — the io layer's private header (archive, config).  Never installed. */
#ifndef NABLA_IO_PRIVATE_H
#define NABLA_IO_PRIVATE_H

#include "core/core.h"

#endif
