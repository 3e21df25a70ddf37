/* alloc.c — the one wrapper around a caller's nb_allocator (Lua style).
 *
 * Every object that accepts an allocator (graph, archive, config) keeps a
 * copy chosen by nbi_allocator() and allocates only through nbi_alloc /
 * nbi_free / nbi_strndup, so a test that counts allocations or makes the
 * n-th one fail sees every allocation the object makes. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static void *default_alloc(void *ud, size_t size) { (void)ud; return malloc(size); }
static void default_free(void *ud, void *p) { (void)ud; free(p); }

nb_allocator nbi_allocator(const nb_allocator *al)
{
    nb_allocator d = { default_alloc, default_free, NULL };
    if (al != NULL && al->alloc != NULL && al->free != NULL) d = *al;
    return d;
}

void *nbi_alloc(const nb_allocator *al, size_t size)
{
    /* Never ask for 0 bytes: malloc(0) may return NULL, which would read
     * as a failure. */
    return al->alloc(al->ud, size ? size : 1);
}

void nbi_free(const nb_allocator *al, void *p)
{
    if (p != NULL) al->free(al->ud, p);
}

char *nbi_strndup(const nb_allocator *al, const char *s, size_t n)
{
    char *d = nbi_alloc(al, n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}
