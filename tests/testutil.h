/* testutil.h — small helpers shared by the Check suites. */
#ifndef NABLA_TESTUTIL_H
#define NABLA_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* |a - b| <= tol, with both values in the failure message. */
#define NB_ASSERT_NEAR(a, b, tol)                                                   \
    do {                                                                            \
        double a_ = (a), b_ = (b), t_ = (tol);                                      \
        ck_assert_msg(fabs(a_ - b_) <= t_, "%s = %.17g, expected %.17g (tol %g, diff %g)", \
                      #a, a_, b_, t_, fabs(a_ - b_));                               \
    } while (0)

/* Directory of test fixtures: $NB_SRCDIR (set by make check) or ".". */
static inline const char *nb_test_srcdir(void)
{
    const char *s = getenv("NB_SRCDIR");
    return s && *s ? s : ".";
}

/* A counting allocator for nb_allocator (ud = the counter), whose
 * fail_at-th allocation fails (-1: none), for allocation-failure tests and
 * the no-malloc-per-step test. */
typedef struct counting {
    size_t allocs, frees;
    long fail_at;   /* the allocation number that fails; -1: never */
    size_t largest; /* the largest request seen */
} counting;

static inline void *count_alloc(void *ud, size_t n)
{
    counting *c = ud;
    if (n > c->largest) c->largest = n;
    if (c->fail_at >= 0 && (long)c->allocs == c->fail_at) {
        c->allocs++;
        return NULL;
    }
    c->allocs++;
    return malloc(n);
}

static inline void count_free(void *ud, void *p)
{
    counting *c = ud;
    if (p) c->frees++;
    free(p);
}

/* Runs a suite and returns the process exit status (0 when all passed). */
static inline int nb_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
