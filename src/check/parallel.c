/* parallel.c — the checker's threads (pthreads): per-coordinate checks
 * split their coordinates over opts.threads threads.
 *
 * Work is handed out in chunks from a shared counter, so a thread that
 * could not be created (or a slow one: coordinates on a kink cost ten times
 * the others) only shifts work to the others.  Results never depend on
 * which thread computed what: each coordinate is decided from the same
 * state by a private copy of the objective, its entry is written to its own
 * slot, and the caller merges the slots in coordinate order
 * (docs/gradcheck.md, "Threads").  Nothing here touches process-wide state;
 * GSL's error handler is switched off around the whole check by the calling
 * thread, never per thread. */
#include <config.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "check/check.h"

void *nbi_line_alloc(size_t bytes)
{
    if (bytes > SIZE_MAX - NBI_CACHE_LINE) return NULL;
    size_t lines = bytes / NBI_CACHE_LINE + (bytes % NBI_CACHE_LINE != 0);
    return aligned_alloc(NBI_CACHE_LINE, (lines ? lines : 1) * NBI_CACHE_LINE);
}

void nbi_work_init(nbi_work *w, size_t n, size_t chunk)
{
    atomic_init(&w->next, 0);
    w->n = n;
    w->chunk = chunk ? chunk : 1;
}

int nbi_work_next(nbi_work *w, size_t *begin, size_t *end)
{
    size_t b = atomic_fetch_add_explicit(&w->next, w->chunk, memory_order_relaxed);
    if (b >= w->n) return 0;
    *begin = b;
    *end = w->n - b < w->chunk ? w->n : b + w->chunk;
    return 1;
}

typedef struct run_arg {
    void (*fn)(void *arg, size_t t);
    void *arg;
    size_t t;
} run_arg;

static void *run_thread(void *p)
{
    run_arg *a = p;
    a->fn(a->arg, a->t);
    return NULL;
}

size_t nbi_parallel_run(size_t n_threads, void (*fn)(void *arg, size_t t), void *arg)
{
    if (n_threads <= 1) {
        fn(arg, 0);
        return 1;
    }
    pthread_t *tid = malloc((n_threads - 1) * sizeof *tid);
    run_arg *ra = malloc((n_threads - 1) * sizeof *ra);
    size_t started = 0;
    if (tid && ra)
        for (size_t t = 1; t < n_threads; t++) {
            ra[started] = (run_arg){ fn, arg, t };
            if (pthread_create(&tid[started], NULL, run_thread, &ra[started]) != 0) break;
            started++;
        }
    fn(arg, 0);
    for (size_t k = 0; k < started; k++) pthread_join(tid[k], NULL);
    free(tid);
    free(ra);
    return started + 1;
}
