/* data.h — the data layer's private header (IDX, CSV, generators, data sets).  Never installed. */
#ifndef NABLA_DATA_PRIVATE_H
#define NABLA_DATA_PRIVATE_H

#include "io/io.h"   /* nbi_strtod: numbers read the same in every locale */

#endif
