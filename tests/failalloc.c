/* failalloc.c — an LD_PRELOAD shim that makes one allocation fail, for
 * tests/failalloc.sh (docs/testing.md).
 *
 *   NB_FAILALLOC_PROG=nabla    only a program whose argv[0] ends in this
 *                              name is armed (the libtool wrapper script,
 *                              a shell, gnuplot are not)
 *   NB_FAILALLOC=N             the N-th allocation after main() starts
 *                              returns NULL with errno ENOMEM (N >= 1);
 *                              0 or unset: count only, fail nothing
 *   NB_FAILALLOC_REPORT=FILE   at exit, write "COUNT HIT" to FILE: the
 *                              number of allocations seen and 1 when the
 *                              N-th was made to fail
 *
 * Counted: malloc, calloc, realloc (with a non-zero size), reallocarray,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc.  glibc's own
 * strdup, fopen, open_memstream, asprintf, newlocale, ... call malloc
 * through the interposable symbol, so they are counted (and fail) there.
 * Counting starts when the program's main() is entered: the shim wraps
 * __libc_start_main and hands it its own main, so allocations of the
 * dynamic loader and of library constructors (OpenBLAS sets up its
 * buffers there) are never counted.  The armed program also drops
 * LD_PRELOAD from its environment, so the programs it starts (gnuplot)
 * run normally.  One failure only: the calls after the N-th succeed, as
 * when memory comes back; a program that retries would be seen to.
 *
 * Not thread-aware: the test runs nabla with one BLAS thread, so the order
 * of allocations, and thus N, is the same in every run. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* glibc's own entry points, so that the shim never recurses into itself
 * (dlsym would allocate through calloc). */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

static atomic_int armed;
static atomic_ulong count;
static atomic_int hit;
static unsigned long target;

/* 1 when this call is the one to fail. */
static int fail_now(void)
{
    if (!atomic_load_explicit(&armed, memory_order_relaxed)) return 0;
    unsigned long k = atomic_fetch_add(&count, 1) + 1;
    if (target == 0 || k != target) return 0;
    atomic_store(&hit, 1);
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t size) { return fail_now() ? NULL : __libc_malloc(size); }
void *calloc(size_t n, size_t size) { return fail_now() ? NULL : __libc_calloc(n, size); }
void *realloc(void *p, size_t size)
{
    /* realloc(p, 0) frees; it cannot run out of memory. */
    if (size != 0 && fail_now()) return NULL;
    return __libc_realloc(p, size);
}
void *reallocarray(void *p, size_t n, size_t size)
{
    if (size && n > (size_t)-1 / size) { errno = ENOMEM; return NULL; }
    return realloc(p, n * size);
}
void *memalign(size_t align, size_t size) { return fail_now() ? NULL : __libc_memalign(align, size); }
void *aligned_alloc(size_t align, size_t size) { return memalign(align, size); }
void *valloc(size_t size) { return fail_now() ? NULL : __libc_valloc(size); }
void *pvalloc(size_t size) { return fail_now() ? NULL : __libc_pvalloc(size); }
int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    if (fail_now()) return ENOMEM;
    void *p = __libc_memalign(align, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

static void report(void)
{
    atomic_store(&armed, 0);
    const char *path = getenv("NB_FAILALLOC_REPORT");
    if (!path || !*path) return;
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%lu %d\n", atomic_load(&count), atomic_load(&hit));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (n > 0) (void)!write(fd, buf, (size_t)n);
    close(fd);
}

typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;

static int armed_main(int argc, char **argv, char **envp)
{
    const char *prog = getenv("NB_FAILALLOC_PROG");
    const char *base = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
    base = base ? base + 1 : argc > 0 && argv[0] ? argv[0] : "";
    size_t lb = strlen(base), lp = prog ? strlen(prog) : 0;
    /* "nabla", or libtool's "lt-nabla" */
    if (prog && lp && lb >= lp && strcmp(base + lb - lp, prog) == 0) {
        const char *n = getenv("NB_FAILALLOC");
        target = n ? strtoul(n, NULL, 10) : 0;
        unsetenv("LD_PRELOAD");
        atexit(report);
        atomic_store(&armed, 1);
    }
    return real_main(argc, argv, envp);
}

typedef int (*start_fn)(main_fn, int, char **, void (*)(void), void (*)(void),
                        void (*)(void), void *);

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
                      void (*fini)(void), void (*rtld_fini)(void), void *stack_end);
int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
                      void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    start_fn next = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
    real_main = main;
    return next(armed_main, argc, argv, init, fini, rtld_fini, stack_end);
}
