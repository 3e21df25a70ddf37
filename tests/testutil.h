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
