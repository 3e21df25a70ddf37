/* tutorial.c — the program of docs/tutorial.md: nabla's autodiff from zero,
 * by building three networks.  `make check` builds and runs it
 * (tests/example_tutorial), and tests/docs.sh checks that every C block of
 * the tutorial is an excerpt of this file.
 *
 *   1. Trask's 11-line network (3-4-1, sigmoid, ½ Σ (y − out)², lr 1):
 *      raw parameters, the graph's life cycle, a plain update rule.
 *   2. Britz's two-moons network (2-3-2, tanh, softmax, L2): dense layers,
 *      initialisers, losses as sums, the optimizer module.
 *   3. A small MLP on three spirals: mini-batches, Adam with a schedule,
 *      nb_optim_backward, and a gradient check of the whole graph.
 *
 * Parts 1 and 2 reproduce published numbers; the program exits 1 when they
 * are not met. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <nabla/nabla.h>

static int failures = 0;

static void expect(int ok, const char *what)
{
    printf("%s %s\n", ok ? "ok:    " : "FAILED:", what);
    if (!ok) failures++;
}

/* ---- 1. Trask's network -------------------------------------------------- */

static int trask(void)
{
    /* X (4, 3), y (4, 1): the truth table of Trask's post */
    const double X[12] = { 0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1 };
    const double y[4] = { 0, 1, 1, 0 };

    /* np.random.seed(1); syn0 = 2*np.random.random((3,4)) - 1; syn1 likewise */
    nb_rng rng;
    nb_rng_seed(&rng, 1);
    nb_graph *g = nb_graph_alloc();
    if (!g) return NB_ENOMEM;
    nb_node *syn0 = nb_param(g, "syn0", 3, 4, NULL);
    nb_node *syn1 = nb_param(g, "syn1", 4, 1, NULL);
    nb_init_fill(nb_node_value(syn0), 3, 4, NB_INIT_UNIFORM, -1, 1, &rng);
    nb_init_fill(nb_node_value(syn1), 4, 1, NB_INIT_UNIFORM, -1, 1, &rng);

    double mae = 0;
    for (int j = 0; j < 60000; j++) {
        nb_graph_reset(g);                     /* a new tape; parameters stay */
        nb_node *x = nb_input(g, 4, 3, X), *t = nb_input(g, 4, 1, y);
        nb_node *l1 = nb_sigmoid(g, nb_matmul(g, x, syn0));
        nb_node *l2 = nb_sigmoid(g, nb_matmul(g, l1, syn1));
        nb_node *err = nb_sub(g, t, l2);
        nb_node *loss = nb_scale(g, nb_sum(g, nb_square(g, err)), 0.5);
        if (!loss) {                           /* one check for the whole expression */
            fprintf(stderr, "trask: %s\n", nb_graph_errmsg(g));
            int st = nb_graph_status(g);
            nb_graph_free(g);
            return st;
        }
        if (j == 10000) {                      /* Trask prints mean |y - l2| here */
            mae = 0;
            for (int i = 0; i < 4; i++) mae += fabs(nb_node_value(err)[i]) / 4;
        }
        nb_graph_zero_grad(g);                 /* parameter gradients accumulate */
        nb_backward(g, loss);
        /* syn += l.T.dot(delta) is gradient descent with lr 1 */
        for (size_t k = 0; k < 12; k++) nb_node_value(syn0)[k] -= nb_node_grad(syn0)[k];
        for (size_t k = 0; k < 4; k++) nb_node_value(syn1)[k] -= nb_node_grad(syn1)[k];
    }
    printf("trask: mean |error| at iteration 10000: %.12f\n", mae);
    expect(fabs(mae - 0.00858452565325) < 1e-13, "trask: the published 0.00858452565325");
    nb_graph_free(g);
    return NB_OK;
}

/* ---- 2. Britz's moons network -------------------------------------------- */

static int moons(void)
{
    /* np.random.seed(0); X, y = make_moons(200, noise=0.20) */
    nb_rng rng;
    nb_rng_seed(&rng, 0);
    nb_dataset ds;
    nb_error err;
    if (nb_make_moons(200, 0.20, &rng, &ds) != NB_OK) return NB_ENOMEM;
    double *Y = malloc(200 * 2 * sizeof *Y);   /* one-hot targets (200, 2) */
    nb_graph *g = nb_graph_alloc();
    if (!Y || !g) {
        free(Y);
        nb_graph_free(g);
        nb_dataset_free(&ds);
        return NB_ENOMEM;
    }
    nb_dataset_onehot(&ds, Y);

    /* np.random.seed(0); W1 = randn(2, 3)/sqrt(2), b1 = 0; W2 = randn(3, 2)/sqrt(3) */
    nb_dense hidden, out;
    nb_dense_init(&hidden, g, "hidden", 2, 3, "tanh", NULL, 1);
    nb_dense_init(&out, g, "out", 3, 2, "identity", NULL, 1);
    nb_rng_seed(&rng, 0);
    nb_dense_init_weights(&hidden, NB_INIT_LECUN_NORMAL, 0, 0, &rng, NULL);
    nb_dense_init_weights(&out, NB_INIT_LECUN_NORMAL, 0, 0, &rng, NULL);

    /* epsilon = 0.01, no schedule: the defaults but for lr */
    nb_optim_opts oo;
    nb_optim_opts_init(&oo);
    oo.lr = 0.01;
    nb_optim *opt = nb_optim_alloc(g, &oo, &err);
    if (!opt) {
        fprintf(stderr, "moons: %s\n", nb_error_message(&err));
        free(Y);
        nb_graph_free(g);
        nb_dataset_free(&ds);
        return err.status;
    }

    double cost = 0;
    int st = NB_OK;
    for (int step = 0; step <= 1001 && st == NB_OK; step++) {
        nb_graph_reset(g);
        nb_node *x = nb_input(g, 200, 2, ds.x), *t = nb_input(g, 200, 2, Y);
        nb_node *logits = nb_dense_forward(g, &out, nb_dense_forward(g, &hidden, x));
        /* Britz sums the loss over the examples; nb_softmax_ce is the mean */
        nb_node *data_loss = nb_scale(g, nb_softmax_ce(g, logits, t), 200);
        /* reg_lambda/2 (sum W1^2 + sum W2^2), biases not regularised */
        nb_node *loss = nb_add(g, data_loss, nb_add(g, nb_l2(g, hidden.W, 0.01),
                                                    nb_l2(g, out.W, 0.01)));
        if (!loss) {
            fprintf(stderr, "moons: %s\n", nb_graph_errmsg(g));
            st = nb_graph_status(g);
            break;
        }
        cost = nb_node_scalar(loss) / 200;     /* Britz prints the loss per example */
        if (step == 1) printf("moons: loss after iteration 0: %.9f\n", cost);
        if (step == 1001) break;               /* the loss after 1001 updates */
        st = nb_optim_backward(opt, loss, &err);  /* backward + update in one call */
        if (st != NB_OK) fprintf(stderr, "moons: %s\n", nb_error_message(&err));
    }
    printf("moons: loss after iteration 1000: %.9f\n", cost);
    expect(st == NB_OK && fabs(cost - 0.068947) < 5e-7, "moons: the published 0.068947");
    nb_optim_free(opt);
    nb_graph_free(g);
    free(Y);
    nb_dataset_free(&ds);
    return st;
}

/* ---- 3. A small MLP on spirals --------------------------------------------- */

static int spirals(void)
{
    enum { PER_CLASS = 100, K = 3, N = PER_CLASS * K, BATCH = 30, H = 32 };
    nb_rng rng;
    nb_rng_seed(&rng, 2385);
    nb_dataset ds;
    nb_error err;
    if (nb_make_spirals(PER_CLASS, K, 0.2, &rng, &ds) != NB_OK) return NB_ENOMEM;
    double *Y = malloc((size_t)N * K * sizeof *Y);
    size_t *order = malloc(N * sizeof *order);
    nb_graph *g = nb_graph_alloc();
    nb_optim *opt = NULL;
    int st = NB_ENOMEM;
    if (!Y || !order || !g) goto out;
    nb_dataset_onehot(&ds, Y);

    nb_dense l1, l2, l3;
    nb_dense_init(&l1, g, "l1", 2, H, "relu", NULL, 1);
    nb_dense_init(&l2, g, "l2", H, H, "relu", NULL, 1);
    nb_dense_init(&l3, g, "l3", H, K, "identity", NULL, 1);
    nb_dense_init_weights(&l1, NB_INIT_HE_NORMAL, 0, 0, &rng, NULL);
    nb_dense_init_weights(&l2, NB_INIT_HE_NORMAL, 0, 0, &rng, NULL);
    nb_dense_init_weights(&l3, NB_INIT_XAVIER_UNIFORM, 0, 0, &rng, NULL);

    /* Adam, the rate halved every 40 epochs */
    nb_optim_opts oo;
    nb_optim_opts_init(&oo);
    oo.type = &nb_optim_adam;
    oo.lr = 0.01;
    oo.schedule = &nb_schedule_step;
    oo.gamma = 0.5;
    oo.step_size = 40;
    opt = nb_optim_alloc(g, &oo, &err);
    if (!opt) {
        st = err.status;
        fprintf(stderr, "spirals: %s\n", nb_error_message(&err));
        goto out;
    }
    for (size_t i = 0; i < N; i++) order[i] = i;

    nb_node *loss = NULL;
    double epoch_cost = 0;
    st = NB_OK;
    for (size_t epoch = 0; epoch < 120 && st == NB_OK; epoch++) {
        nb_optim_set_epoch(opt, epoch);        /* the schedule reads it */
        nb_rng_shuffle(&rng, order, N);
        epoch_cost = 0;
        for (size_t lo = 0; lo < N && st == NB_OK; lo += BATCH) {
            nb_graph_reset(g);
            /* the batch's rows, gathered onto the tape */
            nb_node *x = nb_input_rows(g, ds.x, N, 2, order + lo, BATCH);
            nb_node *t = nb_input_rows(g, Y, N, K, order + lo, BATCH);
            nb_node *z = nb_dense_forward(g, &l3, nb_dense_forward(g, &l2,
                                          nb_dense_forward(g, &l1, x)));
            loss = nb_softmax_ce(g, z, t);     /* the mean over the batch */
            if (!loss) {
                fprintf(stderr, "spirals: %s\n", nb_graph_errmsg(g));
                st = nb_graph_status(g);
                break;
            }
            epoch_cost += nb_node_scalar(loss) * BATCH / N;
            st = nb_optim_backward(opt, loss, &err);
            if (st != NB_OK) fprintf(stderr, "spirals: %s\n", nb_error_message(&err));
        }
    }
    if (st != NB_OK) goto out;
    printf("spirals: mean loss of the last epoch: %.4f\n", epoch_cost);
    expect(epoch_cost < 0.2, "spirals: the network learned (loss below 0.2)");

    /* The gradients of the last batch's graph, checked coordinate by
     * coordinate against GSL's numerical derivatives. */
    nb_gradcheck_report rep;
    st = nb_gradcheck_graph(g, loss, NULL, &rep);
    if (st == NB_OK) {
        printf("spirals: gradient check: %s, %zu coordinates\n",
               rep.passed ? "passed" : "FAILED", rep.n_checked);
        expect(rep.passed, "spirals: the graph's gradients agree with GSL's derivatives");
    } else {
        fprintf(stderr, "spirals: could not check: %s\n", rep.error);
    }
    nb_gradcheck_report_free(&rep);
out:
    nb_optim_free(opt);
    nb_graph_free(g);
    free(order);
    free(Y);
    nb_dataset_free(&ds);
    return st;
}

int main(void)
{
    if (trask() != NB_OK || moons() != NB_OK || spirals() != NB_OK) return 2;
    if (failures) printf("%d expectation(s) did not hold\n", failures);
    else printf("all expectations hold\n");
    return failures ? 1 : 0;
}
