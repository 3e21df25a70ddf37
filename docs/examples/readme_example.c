/* readme_example.c — the README's "Check your own gradient" snippet in a
 * complete program: a hand-derived gradient of Rosenbrock's function given
 * to nabla as the gsl_multimin_function_fdf GSL's minimisers take.  `make
 * check` builds and runs it (tests/example_readme); tests/docs.sh checks
 * that the README's block is an excerpt of this file. */
#include <stdio.h>

#include <gsl/gsl_multimin.h>

#include <nabla/nabla.h>

/* f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 */
static double rosen_f(const gsl_vector *v, void *params)
{
    (void)params;
    double x = gsl_vector_get(v, 0), y = gsl_vector_get(v, 1);
    return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
}

/* df/dx = -2 (1 - x) - 400 x (y - x^2),  df/dy = 200 (y - x^2) */
static void rosen_df(const gsl_vector *v, void *params, gsl_vector *g)
{
    (void)params;
    double x = gsl_vector_get(v, 0), y = gsl_vector_get(v, 1);
    gsl_vector_set(g, 0, -2 * (1 - x) - 400 * x * (y - x * x));
    gsl_vector_set(g, 1, 200 * (y - x * x));
}

static void rosen_fdf(const gsl_vector *v, void *params, double *f, gsl_vector *g)
{
    *f = rosen_f(v, params);
    rosen_df(v, params, g);
}

int main(void)
{
    gsl_multimin_function_fdf my_fdf = { rosen_f, rosen_df, rosen_fdf, 2, NULL };
    gsl_vector *x = gsl_vector_alloc(2);
    if (!x) return 2;
    gsl_vector_set(x, 0, -1.2385);
    gsl_vector_set(x, 1, 2.385);

    nb_gradcheck_report r;
    int st = nb_gradcheck_fdf(&my_fdf, x, NULL, &r);   /* NULL: default options */
    int passed = st == NB_OK && r.passed;                 /* the verdict */
    if (st != NB_OK) fprintf(stderr, "could not check: %s\n", r.error);
    else nb_gradcheck_report_print(stdout, &r);           /* verdict + worst coordinates */
    nb_gradcheck_report_free(&r);

    gsl_vector_free(x);
    return passed ? 0 : 1;
}
