/* nabla/nabla.h — umbrella header: everything public in nabla. */
#ifndef NABLA_NABLA_H
#define NABLA_NABLA_H

#include <nabla/error.h>
#include <nabla/text.h>
#include <nabla/info.h>
#include <nabla/graph.h>
#include <nabla/op.h>
#include <nabla/ops.h>
#include <nabla/gradcheck.h>
#include <nabla/config.h>
#include <nabla/archive.h>
#include <nabla/optim.h>
#include <nabla/rng.h>
#include <nabla/data.h>
#include <nabla/nn.h>
#include <nabla/experiment.h>

#endif /* NABLA_NABLA_H */
