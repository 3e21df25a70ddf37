/* data.h — the data layer's private header (IDX, CSV, generators, data sets).  Never installed. */
#ifndef NABLA_DATA_PRIVATE_H
#define NABLA_DATA_PRIVATE_H

#include "core/core.h"

#endif
