/* app.h — the application layer's private header (run directories, the
 * training loop, plots).  The application is built on the public API only:
 * it includes no private header of the layers below.  Never installed. */
#ifndef NABLA_APP_PRIVATE_H
#define NABLA_APP_PRIVATE_H

#include <nabla/nabla.h>

#endif
