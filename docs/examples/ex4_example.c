/* ex4_example.c — what the checker says about the classic backprop bugs.
 *
 * The worked example of docs/gradcheck.md ("Finding the bug"), built and
 * run by `make check` as tests/example_ex4; tests/ex4_doc.sh compares its
 * output with the text shown in the document.  It checks the Coursera ex4
 * network (3-5-3, m = 5, ex4_net.h) written by hand as a
 * gsl_multimin_function_fdf, with its parameters named by two blocks
 * (Theta1, Theta2, unrolled column-major as Octave does), then:
 *
 *   1. the correct gradient: PASS, no diagnosis;
 *   2. each classic bug, with the checker's block table and diagnosis;
 *   3. the naive cost log(1 - h) at extreme weights N(0, 10^2): FAIL,
 *      diagnosed numerical; its stable rewrite with softplus: PASS.
 *
 * Exit status 0 when every expectation holds, 1 otherwise.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <nabla/nabla.h>

#include "ex4_net.h"

static int failures = 0;

static void expect(int ok, const char *what)
{
    printf("%s: %s\n\n", ok ? "ok  " : "FAILED", what);
    if (!ok) failures++;
}

/* The first diagnosis of the report, if it has this kind (and value). */
static int diagnosed(const nb_gradcheck_report *r, int kind, double value)
{
    if (r->n_diagnoses == 0 || r->diagnoses[0].kind != kind) return 0;
    return isnan(value) || fabs(r->diagnoses[0].value - value) <= 1e-6 * fabs(value);
}

int main(void)
{
    double x0[EX4_N];
    ex4_debug_weights(x0);
    gsl_vector_view x = gsl_vector_view_array(x0, EX4_N);
    ex4 net;
    gsl_multimin_function_fdf fdf = { ex4_f, ex4_df, NULL, EX4_N, &net };

    nb_gradcheck_opts opts;
    nb_gradcheck_opts_init(&opts);
    opts.blocks = ex4_blocks;   /* name the coordinates Theta1[r][c], Theta2[r][c] */
    opts.n_blocks = 2;
    opts.batch_size = EX4_M;    /* lets the diagnosis name a factor m */
    opts.max_report = 3;
    nb_gradcheck_report rep;

    static const struct {
        ex4_bug bug;
        double lambda;
        const char *what;
        int kind;        /* expected diagnosis; -1: none */
        double value;    /* expected value (NaN: none) */
    } cases[] = {
        { EX4_CORRECT, 3.0, "the correct gradient passes, with no diagnosis", -1, NAN },
        { EX4_NO_1_OVER_M, 3.0, "a forgotten 1/m: scale m = 5 in both blocks",
          NB_GC_DIAG_SCALE, 5.0 },
        { EX4_REG_BIAS, 3.0, "a regularised bias column: proportional, lambda/m = 0.6, column 0",
          NB_GC_DIAG_PROPORTIONAL, 0.6 },
        { EX4_REG_SIGN, 3.0, "a sign flip on the regularisation: proportional, -2 lambda/m = -1.2",
          NB_GC_DIAG_PROPORTIONAL, -1.2 },
        { EX4_GRAD_TRANSPOSE, 3.0, "Theta1_grad written transposed: transpose",
          NB_GC_DIAG_TRANSPOSE, NAN },
        { EX4_DELTA_TRANSPOSE, 3.0, "Theta2 transposed in the delta: Theta1 fails, Theta2 passes",
          -1, NAN },
        { EX4_SIGMOID_PRIME, 3.0, "sigmoid' computed as sigmoid: Theta1 fails, Theta2 passes",
          -1, NAN },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ex4_init(&net, cases[k].lambda, cases[k].bug);
        int st = nb_gradcheck_fdf(&fdf, &x.vector, &opts, &rep);
        if (st != NB_OK) {   /* the check could not run: rep.error says why */
            fprintf(stderr, "gradcheck: %s: %s\n", nb_strerror(st), rep.error);
            return 1;
        }
        nb_gradcheck_report_print(stdout, &rep);
        int ok;
        if (cases[k].bug == EX4_CORRECT)
            ok = rep.passed && rep.n_diagnoses == 0;
        else if (cases[k].kind >= 0)
            ok = !rep.passed && diagnosed(&rep, cases[k].kind, cases[k].value);
        else   /* no simple pattern: the block table localises it */
            ok = !rep.passed && rep.blocks[0].n_failed > 0 && rep.blocks[1].n_failed == 0;
        expect(ok, cases[k].what);
        nb_gradcheck_report_free(&rep);
    }

    /* Extreme weights, N(0, 10^2): the naive log(1 - h) loses every digit
     * of 1 - h when h is near 1, and the checker cannot tell such a cost
     * from a wrong gradient by the verdict alone. */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 2385);
    for (int p = 0; p < 5; p++)   /* the fifth point of the stream */
        for (size_t k = 0; k < EX4_N; k++) x0[k] = gsl_ran_gaussian(rng, 10.0);
    gsl_rng_free(rng);
    ex4_init(&net, 3.0, EX4_CORRECT);
    int st = nb_gradcheck_fdf(&fdf, &x.vector, &opts, &rep);
    nb_gradcheck_report_print(stdout, &rep);
    expect(st == NB_OK && !rep.passed && diagnosed(&rep, NB_GC_DIAG_NUMERICAL, NAN),
           "the naive log(1 - h) at extreme weights: diagnosed numerical");
    nb_gradcheck_report_free(&rep);

    net.stable = 1;   /* log h = -softplus(-z), log(1 - h) = -softplus(z) */
    st = nb_gradcheck_fdf(&fdf, &x.vector, &opts, &rep);
    nb_gradcheck_report_print(stdout, &rep);
    expect(st == NB_OK && rep.passed && rep.n_diagnoses == 0,
           "its stable rewrite with softplus passes");
    nb_gradcheck_report_free(&rep);

    if (failures) printf("%d expectation(s) did not hold\n", failures);
    else printf("all expectations hold\n");
    return failures ? 1 : 0;
}
