/* training_step.c — the training loop of docs/architecture.md ("The life of
 * one training step"), built and run by `make check` as
 * tests/example_training.  A 2-4-1 tanh network learns XOR with plain SGD:
 *
 *   1. the loop of the document, with the three calls nb_graph_zero_grad,
 *      nb_backward and nb_optim_step, from fixed initial weights;
 *   2. the same loop with the one call nb_optim_backward, which runs the
 *      weights' updates inside their backward products: the same costs up
 *      to rounding.
 *
 * Exit status 0 when the cost falls below 0.01 both ways and the two runs
 * end within 1e-9 of each other, 1 otherwise.
 */
#include <math.h>
#include <stdio.h>

#include <nabla/nabla.h>

/* XOR: inputs (4,2), targets (4,1). */
static const double X[8] = { 0, 0, 0, 1, 1, 0, 1, 1 };
static const double T[4] = { 0, 1, 1, 0 };
/* Initial weights W1 (2,4), W2 (4,1). */
static const double w1[8] = { 0.8, -0.55, 0.3, 0.91, -0.62, 0.45, 0.71, -0.38 };
static const double w2[4] = { 0.5, -0.7, 0.65, -0.42 };

/* The loop of the document; returns the first and the last cost. */
static int three_calls(size_t steps, double *first, double *cost)
{
    nb_graph *g = nb_graph_alloc();
    /* Parameters: outside the tape, created once, survive every reset. */
    nb_node *W1 = nb_param(g, "W1", 2, 4, w1), *b1 = nb_param(g, "b1", 1, 4, NULL);
    nb_node *W2 = nb_param(g, "W2", 4, 1, w2), *b2 = nb_param(g, "b2", 1, 1, NULL);
    nb_optim_opts oo;
    nb_optim_opts_init(&oo);                                  /* SGD */
    oo.lr = 0.5;
    nb_error err;
    nb_optim *opt = nb_optim_alloc(g, &oo, &err);             /* state for W1, b1, W2, b2 */

    for (size_t step = 0; step < steps; step++) {
        nb_graph_reset(g);                                    /* 1. rewind the arena */
        nb_node *x = nb_input(g, 4, 2, X), *t = nb_input(g, 4, 1, T);
        nb_node *h = nb_tanh(g, nb_add(g, nb_matmul(g, x, W1), b1));   /* 2. build = forward */
        nb_node *loss = nb_bce_logits(g, nb_add(g, nb_matmul(g, h, W2), b2), t);
        if (!loss) { fprintf(stderr, "%s\n", nb_graph_errmsg(g)); break; }
        *cost = nb_node_scalar(loss);                         /* before this step's update */
        nb_graph_zero_grad(g);                                /* 3. parameter grads accumulate */
        nb_backward(g, loss);                                 /* 4. one reverse sweep */
        if (nb_optim_step(opt, &err) != NB_OK) {              /* 5. update the parameters */
            fprintf(stderr, "%s\n", err.msg);
            break;
        }
        if (step == 0) *first = *cost;
    }
    nb_optim_free(opt);
    nb_graph_free(g);
    return NB_OK;
}

/* The same with nb_optim_backward in place of steps 3-5. */
static int one_call(size_t steps, double *cost)
{
    nb_graph *g = nb_graph_alloc();
    nb_node *W1 = nb_param(g, "W1", 2, 4, w1), *b1 = nb_param(g, "b1", 1, 4, NULL);
    nb_node *W2 = nb_param(g, "W2", 4, 1, w2), *b2 = nb_param(g, "b2", 1, 1, NULL);
    nb_optim_opts oo;
    nb_optim_opts_init(&oo);
    oo.lr = 0.5;
    nb_error err;
    nb_optim *opt = nb_optim_alloc(g, &oo, &err);
    int st = opt ? NB_OK : err.status;
    for (size_t step = 0; st == NB_OK && step < steps; step++) {
        nb_graph_reset(g);
        nb_node *x = nb_input(g, 4, 2, X), *t = nb_input(g, 4, 1, T);
        nb_node *h = nb_tanh(g, nb_add(g, nb_matmul(g, x, W1), b1));
        nb_node *loss = nb_bce_logits(g, nb_add(g, nb_matmul(g, h, W2), b2), t);
        if (!loss) {
            fprintf(stderr, "%s\n", nb_graph_errmsg(g));
            st = nb_graph_status(g);
            break;
        }
        *cost = nb_node_scalar(loss);
        if ((st = nb_optim_backward(opt, loss, &err)) != NB_OK) fprintf(stderr, "%s\n", err.msg);
    }
    nb_optim_free(opt);
    nb_graph_free(g);
    return st;
}

int main(void)
{
    const size_t steps = 3000;
    double first = NAN, a = NAN, b = NAN;
    int st = three_calls(steps, &first, &a);
    if (st == NB_OK) st = one_call(steps, &b);
    printf("XOR, 2-4-1 tanh, SGD lr 0.5: cost %.4g at the first step, %.4g at the last of %zu "
           "(three calls), %.4g (nb_optim_backward)\n", first, a, steps, b);
    int ok = st == NB_OK && a < 0.01 && b < 0.01 && fabs(a - b) <= 1e-9;
    printf("%s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
