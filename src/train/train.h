/* train.h — the training layer's private header (layers, optimizers, models).  Never installed. */
#ifndef NABLA_TRAIN_PRIVATE_H
#define NABLA_TRAIN_PRIVATE_H

#include "io/io.h"
#include "ops/ops.h"

#endif
