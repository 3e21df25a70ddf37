/* test_optim.c — optimizers against PyTorch, schedules, frozen parameters,
 * refused gradients and options, allocation failures, and checkpoints that
 * continue bit for bit.
 *
 * Reference values: PyTorch 1.13 (float64, ATEN_CPU_CAPABILITY=default),
 * printed with %.17g by tests/ref/optim_ref.py.  Problem: one (2,3)
 * parameter w on L(w) = 0.5 * sum(a * (w - c)^2), gradient a * (w - c) set
 * explicitly before every step; one epoch per step. */
#include <config.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <nabla/nabla.h>
#include "testutil.h"

/* ---- reference values (tests/ref/optim_ref.py, PyTorch 1.13.0a0) -------- */

/* sgd: 1.13.0a0 */
static const double ref_sgd[3][6] = {
    { 2.1964999999999999, -0.6875, 0.3125, 3.6375000000000002, 0.025000000000000022, 1.3125 },
    { 2.02685, -0.265625, 0.13906249999999998, 3.5306250000000001, 0.11500000000000002, 1.1484375 },
    { 1.8741650000000001, 0.05078125, -0.021367187500000051, 3.4290937500000003, 0.16900000000000001, 1.0048828125 },
};
/* sgd_wd: 1.13.0a0 */
static const double ref_sgd_wd[3][6] = {
    { 2.1845749999999997, -0.68125000000000002, 0.31, 3.6187499999999999, 0.025625000000000009, 1.3049999999999999 },
    { 2.0051946249999997, -0.25753124999999999, 0.13519999999999999, 3.4947187500000001, 0.11524687500000001, 1.1353499999999999 },
    { 1.8446491893749997, 0.058139218749999999, -0.025616000000000055, 3.3775092187500002, 0.168571890625, 0.98775449999999987 },
};
/* momentum: 1.13.0a0 */
static const double ref_momentum[3][6] = {
    { 2.1964999999999999, -0.6875, 0.3125, 3.6375000000000002, 0.025000000000000022, 1.3125 },
    { 1.8572, 0.24062500000000009, -0.029687500000000033, 3.4293750000000003, 0.25, 0.97968750000000004 },
    { 1.41611, 1.2657812500000001, -0.48542968749999998, 3.1455937500000002, 0.45250000000000001, 0.55769531249999993 },
};
/* momentum_wd: 1.13.0a0 */
static const double ref_momentum_wd[3][6] = {
    { 2.1845749999999997, -0.68125000000000002, 0.31, 3.6187499999999999, 0.025625000000000009, 1.3049999999999999 },
    { 1.8248121249999998, 0.25434374999999998, -0.035800000000000054, 3.3765937500000001, 0.250809375, 0.95984999999999987 },
    { 1.3594202643749997, 1.2815204687500001, -0.4941560000000001, 3.0479404687500002, 0.45189751562500002, 0.52443449999999991 },
};
/* nesterov: 1.13.0a0 */
static const double ref_nesterov[3][6] = {
    { 2.0268499999999996, -0.18124999999999991, 0.14374999999999999, 3.5362499999999999, 0.16000000000000003, 1.14375 },
    { 1.5840634999999996, 0.8354687500000002, -0.31360937500000002, 3.2516812499999999, 0.34989999999999999, 0.72023437499999998 },
    { 1.1170000849999997, 1.5628867187500002, -0.82084035156250001, 2.9207909062499997, 0.41248600000000002, 0.29668652343749996 },
};
/* nesterov_wd: 1.13.0a0 */
static const double ref_nesterov_wd[3][6] = {
    { 2.0041924999999998, -0.16937499999999983, 0.13900000000000001, 3.5006249999999999, 0.16118750000000004, 1.1294999999999999 },
    { 1.53701184625, 0.84837468750000022, -0.32102800000000009, 3.1709971874999998, 0.34915996874999999, 0.69256349999999989 },
    { 1.049311585798125, 1.5644403076562501, -0.82624894400000015, 2.7912438876562495, 0.40840943842187499, 0.26040896549999981 },
};
/* adam: 1.13.0a0 */
static const double ref_adam[3][6] = {
    { 2.2850000005305038, -1.1500000001777777, 0.40000000053333334, 3.6500000008888889, -0.025000000666666661, 1.4000000005333333 },
    { 2.1851791004220638, -1.0501442684362396, 0.30012718905329239, 3.5501442698721588, 0.073044238855662552, 1.3002390626979463 },
    { 2.0856716501504029, -0.95053872664342998, 0.20047393487983128, 3.450538728816571, 0.16660596441022058, 1.2009028711344603 },
};
/* adamw: 1.13.0a0 */
static const double ref_adamw[3][6] = {
    { 2.2611500005305039, -1.1375000001777777, 0.39500000053333334, 3.6125000008888888, -0.02375000066666666, 1.3850000005333332 },
    { 2.1387731193067356, -1.0262914859679615, 0.29118479931173014, 3.4765888693626676, 0.074487299305801863, 1.2714369978005111 },
    { 2.0180323035328178, -0.91648266251244437, 0.18863869259420107, 3.3424108482207613, 0.16720015121947773, 1.1595201606937693 },
};
/* momentum_steplr: 1.13.0a0 */
static const double ref_momentum_steplr[5][6] = {
    { 2.1964999999999999, -0.6875, 0.3125, 3.6375000000000002, 0.025000000000000022, 1.3125 },
    { 1.8572, 0.24062500000000009, -0.029687500000000033, 3.4293750000000003, 0.25, 0.97968750000000004 },
    { 1.636655, 0.75320312500000008, -0.25755859375000001, 3.2874843750000005, 0.35125000000000001, 0.76869140624999999 },
    { 1.38133175, 1.2453730468750002, -0.52798413085937501, 3.1150957031250006, 0.42212500000000003, 0.53075170898437496 },
    { 1.2444029937500001, 1.4515136962890627, -0.6772759201049805, 3.0173321044921879, 0.43680625000000001, 0.40709285430908199 },
};
/* adam_explr: 1.13.0a0 */
static const double ref_adam_explr[5][6] = {
    { 2.2850000005305038, -1.1500000001777777, 0.40000000053333334, 3.6500000008888889, -0.025000000666666661, 1.4000000005333333 },
    { 2.1951611904329078, -1.0601298416103935, 0.31011447020129651, 3.5601298429738315, 0.063239814903429628, 1.310215156481485 },
    { 2.1145352116613108, -0.97942991668369517, 0.22937850183990877, 3.4794299186437363, 0.13949712015364635, 1.229717853417434 },
    { 2.0422444536949422, -0.90701688107366751, 0.15690619458798238, 3.4070168835778474, 0.20352701703855838, 1.1576420124174556 },
    { 1.9774800280579594, -0.84208038918034511, 0.091886724371165185, 3.3420803921795739, 0.25526896196365273, 1.0931828276184261 },
};
/* lr of steplr, epochs 0..7: 1.13.0a0 */
static const double ref_lr_steplr[8] = { 0.23849999999999999, 0.23849999999999999, 0.23849999999999999, 0.02385, 0.02385, 0.02385, 0.002385, 0.002385 };
/* lr of explr, epochs 0..7: 1.13.0a0 */
static const double ref_lr_explr[8] = { 0.23849999999999999, 0.21465000000000001, 0.19318500000000002, 0.17386650000000003, 0.15647985000000003, 0.14083186500000003, 0.12674867850000002, 0.11407381065000002 };

/* ---- helpers ------------------------------------------------------------ */

static const double W0[6] = { 2.385, -1.25, 0.5, 3.75, -0.125, 1.5 };   /* (2,3) */
static const double A[6] = { 1.0, 2.5, 0.75, 0.5, 4.0, 1.25 };          /* (2,3) */
static const double C[6] = { 0.5, 1.0, -2.0, 1.5, 0.25, 0.0 };          /* (2,3) */

/* grad := a * (w - c), the same two roundings as the reference script. */
static void quad_grad(nb_node *w)
{
    const double *v = nb_node_cvalue(w);
    double *g = nb_node_grad(w);
    for (size_t i = 0; i < 6; i++) g[i] = A[i] * (v[i] - C[i]);
}

/* A deterministic gradient for any parameter: a function of its values and
 * of the epoch. */
static void some_grad(nb_node *p, size_t epoch)
{
    const double *v = nb_node_cvalue(p);
    double *g = nb_node_grad(p);
    for (size_t i = 0; i < nb_node_size(p); i++)
        g[i] = A[i % 6] * (v[i] - C[(i + 1) % 6]) + 0.0125 * (double)epoch - 0.03;
}

static nb_optim_opts opts_of(const nb_optim_type *type, double lr)
{
    nb_optim_opts o;
    nb_optim_opts_init(&o);
    o.type = type;
    o.lr = lr;
    return o;
}

/* nb_optim_step and nb_optim_backward at an epoch. */
static int step_at(nb_optim *opt, size_t epoch, nb_error *err)
{
    if (opt) ck_assert_int_eq(nb_optim_set_epoch(opt, epoch), NB_OK);
    return nb_optim_step(opt, err);
}

static int backward_at(nb_optim *opt, nb_node *loss, size_t epoch, nb_error *err)
{
    if (opt) ck_assert_int_eq(nb_optim_set_epoch(opt, epoch), NB_OK);
    return nb_optim_backward(opt, loss, err);
}

static int same_bits(const double *a, const double *b, size_t n)
{
    return n == 0 || memcmp(a, b, n * sizeof(double)) == 0;
}

/* Two archives hold the same names, shapes, bits and strings. */
static int archives_equal(const nb_archive *a, const nb_archive *b)
{
    if (nb_archive_count(a) != nb_archive_count(b)) return 0;
    if (nb_archive_str_count(a) != nb_archive_str_count(b)) return 0;
    for (size_t i = 0; i < nb_archive_count(a); i++) {
        const char *name = nb_archive_name_at(a, i);
        size_t r1, c1, r2, c2;
        const double *x = nb_archive_get(a, name, &r1, &c1);
        const double *y = nb_archive_get(b, name, &r2, &c2);
        if (y == NULL || r1 != r2 || c1 != c2 || !same_bits(x, y, r1 * c1)) return 0;
    }
    for (size_t i = 0; i < nb_archive_str_count(a); i++) {
        const char *key = nb_archive_key_at(a, i);
        const char *y = nb_archive_get_str(b, key);
        if (y == NULL || strcmp(nb_archive_get_str(a, key), y) != 0) return 0;
    }
    return 1;
}

/* The optimizer's whole state as an archive (to compare before / after). */
static nb_archive *snapshot(const nb_optim *opt)
{
    nb_archive *ar = nb_archive_alloc();
    ck_assert_int_eq(nb_optim_save(opt, ar, "s/"), NB_OK);
    return ar;
}

/* src without the tensor or key named skip, with key set_key := set_value
 * (when set_key is not NULL). */
static nb_archive *copy_archive(const nb_archive *src, const char *skip, const char *set_key,
                                const char *set_value)
{
    nb_archive *ar = nb_archive_alloc();
    for (size_t i = 0; i < nb_archive_count(src); i++) {
        const char *name = nb_archive_name_at(src, i);
        if (skip && strcmp(name, skip) == 0) continue;
        size_t r, c;
        const double *v = nb_archive_get(src, name, &r, &c);
        ck_assert_int_eq(nb_archive_put(ar, name, r, c, v), NB_OK);
    }
    for (size_t i = 0; i < nb_archive_str_count(src); i++) {
        const char *key = nb_archive_key_at(src, i);
        if (skip && strcmp(key, skip) == 0) continue;
        ck_assert_int_eq(nb_archive_put_str(ar, key, nb_archive_get_str(src, key)), NB_OK);
    }
    if (set_key) ck_assert_int_eq(nb_archive_put_str(ar, set_key, set_value), NB_OK);
    return ar;
}

/* Graph with w (2,3), b (1,3), u (3,1). */
static nb_graph *three_params(void)
{
    nb_graph *g = nb_graph_alloc();
    ck_assert_ptr_nonnull(nb_param(g, "w", 2, 3, W0));
    ck_assert_ptr_nonnull(nb_param(g, "b", 1, 3, (double[]){ 0.25, -0.5, 1.125 }));
    ck_assert_ptr_nonnull(nb_param(g, "u", 3, 1, (double[]){ -2.75, 0.0625, 4.5 }));
    return g;
}

static void grads_all(nb_graph *g, size_t epoch)
{
    for (size_t i = 0; i < nb_graph_param_count(g); i++) some_grad(nb_graph_param_at(g, i), epoch);
}

static int graphs_equal(nb_graph *a, nb_graph *b)
{
    for (size_t i = 0; i < nb_graph_param_count(a); i++) {
        nb_node *p = nb_graph_param_at(a, i), *q = nb_graph_param_at(b, i);
        if (!same_bits(nb_node_cvalue(p), nb_node_cvalue(q), nb_node_size(p))) return 0;
    }
    return nb_graph_param_count(a) == nb_graph_param_count(b);
}

/* ---- names and options ---------------------------------------------------- */

START_TEST(test_names)
{
    /* The tables: in order, found by their exact names and nothing else. */
    static const char *const kinds[] = { "sgd", "momentum", "nesterov", "adam" };
    const nb_optim_type *types[] = { &nb_optim_sgd, &nb_optim_momentum, &nb_optim_nesterov,
                                     &nb_optim_adam };
    ck_assert_uint_eq(nb_optim_type_count(), 4);
    for (size_t k = 0; k < 4; k++) {
        ck_assert_ptr_eq(nb_optim_type_at(k), types[k]);
        ck_assert_str_eq(types[k]->name, kinds[k]);
        ck_assert_ptr_eq(nb_optim_type_find(kinds[k]), types[k]);
    }
    static const char *const scheds[] = { "constant", "step", "exp" };
    const nb_schedule_type *stypes[] = { &nb_schedule_constant, &nb_schedule_step,
                                         &nb_schedule_exp };
    ck_assert_uint_eq(nb_schedule_type_count(), 3);
    for (size_t k = 0; k < 3; k++) {
        ck_assert_ptr_eq(nb_schedule_type_at(k), stypes[k]);
        ck_assert_str_eq(stypes[k]->name, scheds[k]);
        ck_assert_ptr_eq(nb_schedule_type_find(scheds[k]), stypes[k]);
    }
    ck_assert_ptr_null(nb_optim_type_find("adamw"));
    ck_assert_ptr_null(nb_optim_type_find("SGD"));
    ck_assert_ptr_null(nb_optim_type_find(""));
    ck_assert_ptr_null(nb_optim_type_find(NULL));
    ck_assert_ptr_null(nb_optim_type_at(4));
    ck_assert_ptr_null(nb_schedule_type_find("cosine"));
    ck_assert_ptr_null(nb_schedule_type_at(3));
}
END_TEST

START_TEST(test_defaults)
{
    nb_optim_opts o;
    memset(&o, 0xA5, sizeof o);
    nb_optim_opts_init(&o);
    ck_assert_ptr_eq(o.type, &nb_optim_sgd);
    ck_assert(o.lr == 0.01 && o.momentum == 0.9);
    ck_assert(o.beta1 == 0.9 && o.beta2 == 0.999 && o.eps == 1e-8);
    ck_assert(o.weight_decay == 0.0);
    ck_assert_ptr_eq(o.schedule, &nb_schedule_constant);
    ck_assert(o.gamma == 0.1);
    ck_assert_uint_eq(o.step_size, 10);
    ck_assert_int_eq(nb_optim_opts_check(&o, NULL), NB_OK);

    nb_graph *g = nb_graph_alloc();
    nb_param(g, "w", 2, 3, W0);
    nb_optim *opt = nb_optim_alloc(g, NULL, NULL);
    ck_assert_ptr_nonnull(opt);
    nb_optim_opts got;
    nb_optim_get_opts(opt, &got);
    ck_assert(got.type == o.type && got.lr == o.lr && got.gamma == o.gamma &&
              got.step_size == o.step_size);
    ck_assert_uint_eq(nb_optim_steps(opt), 0);
    ck_assert_uint_eq(nb_optim_epoch(opt), 0);
    ck_assert_int_eq(nb_optim_set_epoch(NULL, 3), NB_EINVAL);
    ck_assert(nb_optim_is_trainable(opt, "w"));
    nb_optim_free(opt);
    nb_optim_free(NULL);
    nb_graph_free(g);
}
END_TEST

/* A type without an update function, a schedule without a rate. */
static const nb_optim_type half_type = { .name = "half" };
static const nb_schedule_type half_schedule = { .name = "half" };

/* Bad option set number i (an Adam otherwise at the defaults); returns the
 * field the message must name, NULL past the last case. */
static const char *bad_case(int i, nb_optim_opts *o)
{
    nb_optim_opts_init(o);
    o->type = &nb_optim_adam;
    switch (i) {
    case 0: o->lr = 0; return "lr";
    case 1: o->lr = -2.385; return "lr";
    case 2: o->lr = NAN; return "lr";
    case 3: o->lr = INFINITY; return "lr";
    case 4: o->momentum = 1.0; return "momentum";
    case 5: o->momentum = -0.1; return "momentum";
    case 6: o->momentum = NAN; return "momentum";
    case 7: o->type = &nb_optim_nesterov; o->momentum = 0.0; return "nesterov";
    case 8: o->beta1 = 1.0; return "beta1";
    case 9: o->beta1 = -0.5; return "beta1";
    case 10: o->beta2 = 1.0; return "beta2";
    case 11: o->beta2 = NAN; return "beta2";
    case 12: o->eps = 0; return "eps";
    case 13: o->eps = INFINITY; return "eps";
    case 14: o->weight_decay = -0.01; return "weight_decay";
    case 15: o->weight_decay = NAN; return "weight_decay";
    case 16: o->gamma = 0; return "gamma";
    case 17: o->gamma = -0.5; return "gamma";
    case 18: o->gamma = INFINITY; return "gamma";
    case 19: o->step_size = 0; return "step_size";
    case 20: o->type = NULL; return "type";
    case 21: o->schedule = NULL; return "schedule";
    case 22: o->type = &half_type; return "type";
    case 23: o->schedule = &half_schedule; return "schedule";
    default: return NULL;
    }
}

START_TEST(test_bad_options)
{
    nb_graph *g = nb_graph_alloc();
    nb_param(g, "w", 2, 3, W0);
    nb_optim_opts o;
    const char *field;
    int i = 0;
    for (; (field = bad_case(i, &o)) != NULL; i++) {
        nb_error err;
        ck_assert_int_eq(nb_optim_opts_check(&o, &err), NB_EINVAL);
        ck_assert_int_eq(err.status, NB_EINVAL);
        nb_error_clear(&err);
        nb_optim *opt = nb_optim_alloc(g, &o, &err);
        ck_assert_msg(opt == NULL, "case %d (%s) accepted", i, field);
        ck_assert_msg(strstr(err.msg, field) != NULL, "case %d: '%s' lacks '%s'", i, err.msg,
                      field);
    }
    ck_assert_int_eq(i, 24);
    /* Momentum 0 with plain momentum, beta 0 and a huge gamma are fine. */
    nb_optim_opts ok = opts_of(&nb_optim_momentum, 2.385);
    ok.momentum = 0.0;
    ok.beta1 = 0.0;
    ok.gamma = 3.0;
    ck_assert_int_eq(nb_optim_opts_check(&ok, NULL), NB_OK);
    nb_error err;
    ck_assert_ptr_null(nb_optim_alloc(NULL, &ok, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "graph"));
    ck_assert_int_eq(nb_optim_opts_check(NULL, &err), NB_EINVAL);
    nb_graph_free(g);
}
END_TEST

/* ---- updates against PyTorch ---------------------------------------------- */

typedef struct ref_case {
    const char *name;
    const nb_optim_type *kind;
    double wd;
    const nb_schedule_type *schedule;
    double gamma;
    size_t step_size;
    size_t steps;
    const double (*ref)[6];
} ref_case;

static const ref_case ref_cases[] = {
    { "sgd", &nb_optim_sgd, 0.0, &nb_schedule_constant, 0.1, 10, 3, ref_sgd },
    { "sgd_wd", &nb_optim_sgd, 0.05, &nb_schedule_constant, 0.1, 10, 3, ref_sgd_wd },
    { "momentum", &nb_optim_momentum, 0.0, &nb_schedule_constant, 0.1, 10, 3, ref_momentum },
    { "momentum_wd", &nb_optim_momentum, 0.05, &nb_schedule_constant, 0.1, 10, 3, ref_momentum_wd },
    { "nesterov", &nb_optim_nesterov, 0.0, &nb_schedule_constant, 0.1, 10, 3, ref_nesterov },
    { "nesterov_wd", &nb_optim_nesterov, 0.05, &nb_schedule_constant, 0.1, 10, 3, ref_nesterov_wd },
    { "adam", &nb_optim_adam, 0.0, &nb_schedule_constant, 0.1, 10, 3, ref_adam },
    { "adamw", &nb_optim_adam, 0.1, &nb_schedule_constant, 0.1, 10, 3, ref_adamw },
    { "momentum_steplr", &nb_optim_momentum, 0.0, &nb_schedule_step, 0.5, 2, 5, ref_momentum_steplr },
    { "adam_explr", &nb_optim_adam, 0.0, &nb_schedule_exp, 0.9, 10, 5, ref_adam_explr },
};

START_TEST(test_against_pytorch)
{
    const ref_case *rc = &ref_cases[_i];
    nb_graph *g = nb_graph_alloc();
    nb_node *w = nb_param(g, "w", 2, 3, W0);
    nb_optim_opts o = opts_of(rc->kind, 0.1);
    o.weight_decay = rc->wd;
    o.schedule = rc->schedule;
    o.gamma = rc->gamma;
    o.step_size = rc->step_size;
    nb_error err;
    nb_optim *opt = nb_optim_alloc(g, &o, &err);
    ck_assert_msg(opt != NULL, "%s", err.msg);
    double maxdiff = 0;
    for (size_t e = 0; e < rc->steps; e++) {
        quad_grad(w);
        ck_assert_int_eq(step_at(opt, e, NULL), NB_OK);
        for (size_t i = 0; i < 6; i++) {
            double d = fabs(nb_node_cvalue(w)[i] - rc->ref[e][i]);
            if (d > maxdiff) maxdiff = d;
            /* A few ulps: PyTorch may fuse a*b+c where C does not. */
            NB_ASSERT_NEAR(nb_node_cvalue(w)[i], rc->ref[e][i], 1e-14);
        }
    }
    ck_assert_uint_eq(nb_optim_steps(opt), rc->steps);
    printf("optim vs PyTorch 1.13 %-16s %zu steps: max |diff| = %.3g\n", rc->name, rc->steps,
           maxdiff);
    nb_optim_free(opt);
    nb_graph_free(g);
}
END_TEST

START_TEST(test_sgd_exact)
{
    /* lr = 1: w - g bit for bit; momentum's first step equals SGD's. */
    const double gv[6] = { 0.1, -2.385, 1e-17, 3.0, -0.0, 1.0 / 3.0 };
    for (size_t kind = 0; kind < 2; kind++) {   /* sgd, momentum */
        nb_graph *g = nb_graph_alloc();
        nb_node *w = nb_param(g, "w", 2, 3, W0);
        memcpy(nb_node_grad(w), gv, sizeof gv);
        nb_optim_opts o = opts_of(nb_optim_type_at(kind), 1.0);
        nb_optim *opt = nb_optim_alloc(g, &o, NULL);
        ck_assert_int_eq(step_at(opt, 0, NULL), NB_OK);
        for (size_t i = 0; i < 6; i++) {
            double want = W0[i] - gv[i];
            ck_assert_msg(nb_node_cvalue(w)[i] == want, "kind %zu [%zu]: %.17g != %.17g", kind,
                          i, nb_node_cvalue(w)[i], want);
        }
        nb_optim_free(opt);
        nb_graph_free(g);
    }
}
END_TEST

/* ---- schedules ------------------------------------------------------------ */

START_TEST(test_schedules)
{
    nb_graph *g = nb_graph_alloc();
    nb_optim_opts o = opts_of(&nb_optim_sgd, 0.2385);
    nb_optim *opt = nb_optim_alloc(g, &o, NULL);
    ck_assert(nb_optim_lr(opt, 0) == 0.2385 && nb_optim_lr(opt, 1000000) == 0.2385);
    nb_optim_free(opt);

    /* PyTorch StepLR / ExponentialLR multiply as they go; nabla uses the
     * closed form with pow(): a few ulps apart at most. */
    o.schedule = &nb_schedule_step;
    o.gamma = 0.1;
    o.step_size = 3;
    opt = nb_optim_alloc(g, &o, NULL);
    for (size_t e = 0; e < 8; e++)
        NB_ASSERT_NEAR(nb_optim_lr(opt, e), ref_lr_steplr[e], 4 * DBL_EPSILON * ref_lr_steplr[e]);
    nb_optim_free(opt);
    o.schedule = &nb_schedule_exp;
    o.gamma = 0.9;
    opt = nb_optim_alloc(g, &o, NULL);
    for (size_t e = 0; e < 8; e++)
        NB_ASSERT_NEAR(nb_optim_lr(opt, e), ref_lr_explr[e], 8 * DBL_EPSILON * ref_lr_explr[e]);
    nb_optim_free(opt);

    /* By hand, exactly: halving every 3 epochs. */
    o = opts_of(&nb_optim_sgd, 0.1);
    o.schedule = &nb_schedule_step;
    o.gamma = 0.5;
    o.step_size = 3;
    opt = nb_optim_alloc(g, &o, NULL);
    const double hand[8] = { 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025 };
    for (size_t e = 0; e < 8; e++) ck_assert(nb_optim_lr(opt, e) == hand[e]);
    nb_optim_free(opt);
    o.schedule = &nb_schedule_exp;
    opt = nb_optim_alloc(g, &o, NULL);
    ck_assert(nb_optim_lr(opt, 4) == 0.1 / 16);
    ck_assert(nb_optim_lr(opt, 5000) == 0.0);   /* underflows: allowed */
    nb_optim_free(opt);
    ck_assert(isnan(nb_optim_lr(NULL, 0)));
    nb_graph_free(g);
}
END_TEST

START_TEST(test_schedule_overflow_refused)
{
    nb_graph *g = nb_graph_alloc();
    nb_node *w = nb_param(g, "w", 2, 3, W0);
    nb_optim_opts o = opts_of(&nb_optim_momentum, 0.1);
    o.schedule = &nb_schedule_exp;
    o.gamma = 10.0;
    nb_optim *opt = nb_optim_alloc(g, &o, NULL);
    quad_grad(w);
    nb_error err;
    ck_assert_int_eq(step_at(opt, 400, &err), NB_EDOMAIN);
    ck_assert_int_eq(err.status, NB_EDOMAIN);
    ck_assert_ptr_nonnull(strstr(err.msg, "epoch 400"));
    ck_assert(same_bits(nb_node_cvalue(w), W0, 6));
    ck_assert_uint_eq(nb_optim_steps(opt), 0);
    /* Underflow to lr 0 is a step that changes no value. */
    o.gamma = 0.5;
    nb_optim *opt2 = nb_optim_alloc(g, &o, NULL);
    nb_error_clear(&err);
    ck_assert_int_eq(step_at(opt2, 5000, &err), NB_OK);
    ck_assert(same_bits(nb_node_cvalue(w), W0, 6));
    ck_assert_int_eq(err.status, NB_OK);   /* success leaves err untouched */
    nb_optim_free(opt2);
    nb_optim_free(opt);
    nb_graph_free(g);
}
END_TEST

/* ---- frozen parameters, refused gradients --------------------------------- */

START_TEST(test_frozen_param)
{
    for (size_t kind = 0; kind < nb_optim_type_count(); kind++) {
        nb_graph *g = three_params();
        nb_node *b = nb_graph_param_find(g, "b");
        double b0[3];
        memcpy(b0, nb_node_cvalue(b), sizeof b0);
        nb_optim_opts o = opts_of(nb_optim_type_at(kind), 0.1);
        o.weight_decay = 0.05;   /* would move b even with a zero gradient */
        nb_optim *opt = nb_optim_alloc(g, &o, NULL);
        ck_assert_int_eq(nb_optim_set_trainable(opt, "b", 0, NULL), NB_OK);
        ck_assert(!nb_optim_is_trainable(opt, "b"));
        ck_assert(nb_optim_is_trainable(opt, "w"));
        for (size_t e = 0; e < 3; e++) {
            grads_all(g, e);
            nb_node_grad(b)[1] = NAN;   /* a frozen gradient is not even read */
            ck_assert_int_eq(step_at(opt, e, NULL), NB_OK);
        }
        ck_assert(same_bits(nb_node_cvalue(b), b0, 3));
        ck_assert(!same_bits(nb_node_cvalue(nb_graph_param_find(g, "w")), W0, 6));

        /* Its update count stayed 0 (Adam's bias correction restarts there). */
        nb_archive *ar = snapshot(opt);
        ck_assert_str_eq(nb_archive_get_str(ar, "s/param/0/step"), "3");
        ck_assert_str_eq(nb_archive_get_str(ar, "s/param/1/step"), "0");
        ck_assert_str_eq(nb_archive_get_str(ar, "s/param/1/trainable"), "0");
        nb_archive_free(ar);

        ck_assert_int_eq(nb_optim_set_trainable(opt, "b", 1, NULL), NB_OK);
        grads_all(g, 3);
        ck_assert_int_eq(step_at(opt, 3, NULL), NB_OK);
        ck_assert(!same_bits(nb_node_cvalue(b), b0, 3));

        nb_error err;
        ck_assert_int_eq(nb_optim_set_trainable(opt, "nope", 0, &err), NB_ENOTFOUND);
        ck_assert_ptr_nonnull(strstr(err.msg, "'nope'"));
        /* A parameter created after the optimizer is not one of its own. */
        ck_assert_ptr_nonnull(nb_param(g, "late", 1, 1, NULL));
        ck_assert_int_eq(nb_optim_set_trainable(opt, "late", 0, NULL), NB_ENOTFOUND);
        ck_assert_int_eq(nb_optim_set_trainable(opt, NULL, 0, NULL), NB_EINVAL);
        ck_assert_int_eq(nb_optim_set_trainable(NULL, "b", 0, NULL), NB_EINVAL);
        ck_assert(!nb_optim_is_trainable(opt, "late"));
        nb_optim_free(opt);
        nb_graph_free(g);
    }
}
END_TEST

START_TEST(test_nonfinite_gradient_refused)
{
    static const double bad[] = { NAN, INFINITY, -INFINITY };
    for (size_t kind = 0; kind < nb_optim_type_count(); kind++) {
        for (size_t k = 0; k < 3; k++) {
            nb_graph *g = three_params();
            nb_optim_opts o = opts_of(nb_optim_type_at(kind), 0.1);
            o.weight_decay = 0.01;
            nb_optim *opt = nb_optim_alloc(g, &o, NULL);
            grads_all(g, 0);
            ck_assert_int_eq(step_at(opt, 0, NULL), NB_OK);   /* some state */
            ck_assert_int_eq(nb_optim_set_epoch(opt, 1), NB_OK);

            nb_graph *before = three_params();
            for (size_t i = 0; i < 3; i++)
                memcpy(nb_node_value(nb_graph_param_at(before, i)),
                       nb_node_cvalue(nb_graph_param_at(g, i)),
                       nb_node_size(nb_graph_param_at(g, i)) * sizeof(double));
            nb_archive *s0 = snapshot(opt);

            /* The bad value sits in the LAST parameter: the first two would
             * have been updated already without the up-front scan. */
            grads_all(g, 1);
            nb_node_grad(nb_graph_param_find(g, "u"))[2] = bad[k];
            nb_error err;
            ck_assert_int_eq(step_at(opt, 1, &err), NB_EDOMAIN);
            const char *m = err.msg;
            ck_assert_msg(strstr(m, "'u'") && strstr(m, "(2, 0)"), "%s", m);
            ck_assert(graphs_equal(g, before));
            ck_assert_uint_eq(nb_optim_steps(opt), 1);
            nb_archive *s1 = snapshot(opt);
            ck_assert(archives_equal(s0, s1));

            /* A good gradient goes through afterwards. */
            grads_all(g, 1);
            ck_assert_int_eq(step_at(opt, 1, NULL), NB_OK);
            ck_assert_int_eq(step_at(NULL, 1, &err), NB_EINVAL);
            ck_assert_int_eq(err.status, NB_EINVAL);

            nb_archive_free(s1);
            nb_archive_free(s0);
            nb_graph_free(before);
            nb_optim_free(opt);
            nb_graph_free(g);
        }
    }
}
END_TEST

/* ---- backward and update in one call ------------------------------------- */

/* A 5-4-3 MLP (relu, softmax cross-entropy) on a batch of 6, optionally with
 * fc1.W used a second time (tied: an L2 term on it), built on g's tape. */
typedef struct mlp {
    nb_graph *g;
    nb_node *W1, *b1, *W2, *b2;
} mlp;

static mlp mlp_alloc(const nb_allocator *al)
{
    mlp m;
    m.g = nb_graph_alloc_with(al);
    double w1[5 * 4], w2[4 * 3];
    for (size_t k = 0; k < 20; k++) w1[k] = 0.61 * sin(2.385 * (double)k + 0.3);
    for (size_t k = 0; k < 12; k++) w2[k] = 0.73 * cos(1.17 * (double)k - 0.2);
    m.W1 = nb_param(m.g, "fc1.W", 5, 4, w1);
    m.b1 = nb_param(m.g, "fc1.b", 1, 4, (double[]){ 0.125, -0.25, 0.0625, 0.3 });
    m.W2 = nb_param(m.g, "fc2.W", 4, 3, w2);
    m.b2 = nb_param(m.g, "fc2.b", 1, 3, (double[]){ -0.1, 0.2, 0.05 });
    ck_assert_ptr_nonnull(m.b2);
    return m;
}

/* The loss of batch number step; tie adds 0.0375 * sum(fc1.W^2). */
static nb_node *mlp_loss(mlp *m, size_t step, int tie)
{
    double x[6 * 5], t[6 * 3] = { 0 };
    for (size_t k = 0; k < 30; k++) x[k] = 1.5 * sin(0.37 * (double)(k + 7 * step));
    for (size_t i = 0; i < 6; i++) t[i * 3 + (i + step) % 3] = 1.0;
    nb_graph *g = m->g;
    nb_graph_reset(g);
    nb_node *X = nb_input(g, 6, 5, x), *T = nb_input(g, 6, 3, t);
    nb_node *h = nb_relu(g, nb_add(g, nb_matmul(g, X, m->W1), m->b1));
    nb_node *L = nb_softmax_ce(g, nb_add(g, nb_matmul(g, h, m->W2), m->b2), T);
    if (tie) L = nb_add(g, L, nb_l2(g, m->W1, 0.0375));
    ck_assert_msg(L != NULL, "%s", nb_graph_errmsg(g));
    return L;
}

/* Largest |a - b| / max(1, |a|) over every parameter of two graphs. */
static double params_rel_diff(nb_graph *a, nb_graph *b)
{
    double worst = 0.0;
    for (size_t i = 0; i < nb_graph_param_count(a); i++) {
        const double *p = nb_node_cvalue(nb_graph_param_at(a, i));
        const double *q = nb_node_cvalue(nb_graph_param_at(b, i));
        for (size_t k = 0; k < nb_node_size(nb_graph_param_at(a, i)); k++) {
            double d = fabs(p[k] - q[k]) / fmax(1.0, fabs(p[k]));
            if (d > worst) worst = d;
        }
    }
    return worst;
}

/* nb_optim_backward against nb_graph_zero_grad + nb_backward + nb_optim_step
 * over 12 steps: bit for bit where nothing is fused (momentum, Adam; a tied
 * weight), within a few ulps where SGD fuses a weight's update into its
 * product, with and without weight decay. */
START_TEST(test_backward_matches_three_calls)
{
    for (size_t kind = 0; kind < nb_optim_type_count(); kind++) {
        for (int variant = 0; variant < 3; variant++) {   /* plain, weight decay, tied */
            mlp a = mlp_alloc(NULL), b = mlp_alloc(NULL);
            nb_optim_opts o = opts_of(nb_optim_type_at(kind), 0.2385);
            if (variant == 1) o.weight_decay = 0.0123;
            nb_optim *oa = nb_optim_alloc(a.g, &o, NULL), *ob = nb_optim_alloc(b.g, &o, NULL);
            for (size_t step = 0; step < 12; step++) {
                nb_node *La = mlp_loss(&a, step, variant == 2);
                ck_assert_int_eq(backward_at(oa, La, step, NULL), NB_OK);
                nb_node *Lb = mlp_loss(&b, step, variant == 2);
                nb_graph_zero_grad(b.g);
                ck_assert_int_eq(nb_backward(b.g, Lb), NB_OK);
                ck_assert_int_eq(step_at(ob, step, NULL), NB_OK);
                if (!(nb_optim_type_at(kind)->fused_update && variant != 2))
                    ck_assert(nb_node_scalar(La) == nb_node_scalar(Lb));
            }
            double d = params_rel_diff(a.g, b.g);
            int fused = nb_optim_type_at(kind)->fused_update && variant != 2;
            if (fused) ck_assert_msg(d <= 64 * DBL_EPSILON, "kind %zu variant %d: %g", kind, variant, d);
            else ck_assert_msg(graphs_equal(a.g, b.g), "kind %zu variant %d: %g", kind, variant, d);
            /* Either way the weights moved, and the counts agree. */
            mlp fresh = mlp_alloc(NULL);
            ck_assert(!same_bits(nb_node_cvalue(a.W1), nb_node_cvalue(fresh.W1), 20));
            ck_assert(!same_bits(nb_node_cvalue(a.W2), nb_node_cvalue(fresh.W2), 12));
            nb_graph_free(fresh.g);
            ck_assert_uint_eq(nb_optim_steps(oa), 12);
            nb_archive *sa = snapshot(oa), *sb = snapshot(ob);
            ck_assert(archives_equal(sa, sb));
            nb_archive_free(sa);
            nb_archive_free(sb);
            nb_optim_free(oa);
            nb_optim_free(ob);
            nb_graph_free(a.g);
            nb_graph_free(b.g);
        }
    }
}
END_TEST

/* The fast path is taken: with SGD the gradient buffers of fc1.W and fc2.W
 * are never written (a sentinel survives), the biases' gradients are; with
 * a tied fc1.W (two consumers) its gradient is computed. */
START_TEST(test_backward_fuses_weights)
{
    for (int tie = 0; tie < 2; tie++) {
        mlp m = mlp_alloc(NULL);
        nb_optim_opts o = opts_of(&nb_optim_sgd, 0.1);
        nb_optim *opt = nb_optim_alloc(m.g, &o, NULL);
        nb_node *all[4] = { m.W1, m.b1, m.W2, m.b2 };
        for (size_t i = 0; i < 4; i++)
            for (size_t k = 0; k < nb_node_size(all[i]); k++) nb_node_grad(all[i])[k] = 2.385;
        ck_assert_int_eq(nb_optim_backward(opt, mlp_loss(&m, 1, tie), 0), NB_OK);
        ck_assert(nb_node_grad(m.W1)[7] == 2.385 || tie);
        ck_assert(nb_node_grad(m.W1)[7] != 2.385 || !tie);
        ck_assert(nb_node_grad(m.W2)[5] == 2.385);
        ck_assert(nb_node_grad(m.b1)[0] != 2.385 && nb_node_grad(m.b2)[1] != 2.385);
        nb_optim_free(opt);
        nb_graph_free(m.g);
    }
}
END_TEST

/* Both operands of one product are parameters: one of them has its update
 * fused (the other operand must keep its forward value until then), the
 * other takes the gradient path; the result is the unfused one. */
START_TEST(test_backward_product_of_two_params)
{
    nb_graph *g[2];
    nb_optim *opt[2];
    for (int v = 0; v < 2; v++) {
        g[v] = nb_graph_alloc();
        nb_param(g[v], "A", 2, 3, W0);
        nb_param(g[v], "B", 3, 2, C);
        nb_optim_opts o = opts_of(&nb_optim_sgd, 0.05);
        opt[v] = nb_optim_alloc(g[v], &o, NULL);
    }
    for (size_t step = 0; step < 5; step++) {
        for (int v = 0; v < 2; v++) {
            nb_graph_reset(g[v]);
            nb_node *P = nb_matmul(g[v], nb_graph_param_find(g[v], "A"), nb_graph_param_find(g[v], "B"));
            nb_node *L = nb_sum(g[v], nb_square(g[v], nb_sub(g[v], P, nb_scalar(g[v], 0.75))));
            ck_assert_ptr_nonnull(L);
            if (v == 0) {
                ck_assert_int_eq(backward_at(opt[v], L, step, NULL), NB_OK);
            } else {
                nb_graph_zero_grad(g[v]);
                ck_assert_int_eq(nb_backward(g[v], L), NB_OK);
                ck_assert_int_eq(step_at(opt[v], step, NULL), NB_OK);
            }
        }
    }
    ck_assert_msg(params_rel_diff(g[0], g[1]) <= 64 * DBL_EPSILON, "%g", params_rel_diff(g[0], g[1]));
    for (int v = 0; v < 2; v++) {
        nb_optim_free(opt[v]);
        nb_graph_free(g[v]);
    }
}
END_TEST

/* The case of issue 8: B registered before A, loss = sum((A B - 0.75)^2) +
 * l2(B, 0.1).  B has two uses, so it takes the gradient path; A's update
 * runs in the product's dgemm, which reads B.  It must read B's forward
 * value: run after B's update, it read the updated B and the fused run
 * drifted from the three calls (A[0] 0.31603 against 0.31480 after three
 * steps at lr 0.01 in the run).  Both registration orders, two
 * rates: the same result up to the rounding of the product. */
START_TEST(test_backward_b_before_a)
{
    static const double a0[6] = { 0.35, -0.2385, 0.5, 0.125, -0.4, 0.2 };
    static const double b0[6] = { 0.3, -0.15, 0.45, 0.2385, -0.25, 0.6 };
    static const double rates[2] = { 0.01, 0.5 };
    for (int b_first = 0; b_first < 2; b_first++) {
        for (size_t r = 0; r < 2; r++) {
            nb_graph *g[2];
            nb_optim *opt[2];
            for (int v = 0; v < 2; v++) {
                g[v] = nb_graph_alloc();
                if (b_first) nb_param(g[v], "B", 3, 2, b0);
                nb_param(g[v], "A", 2, 3, a0);
                if (!b_first) nb_param(g[v], "B", 3, 2, b0);
                nb_optim_opts o = opts_of(&nb_optim_sgd, rates[r]);
                opt[v] = nb_optim_alloc(g[v], &o, NULL);
            }
            double sentinel_left = 0;
            for (size_t step = 0; step < 3; step++) {
                for (int v = 0; v < 2; v++) {
                    nb_graph *h = g[v];
                    nb_node *pa = nb_graph_param_find(h, "A"), *pb = nb_graph_param_find(h, "B");
                    nb_graph_reset(h);
                    nb_node *P = nb_matmul(h, pa, pb);
                    nb_node *L = nb_sum(h, nb_square(h, nb_sub(h, P, nb_scalar(h, 0.75))));
                    L = nb_add(h, L, nb_l2(h, pb, 0.1));
                    ck_assert_msg(L != NULL, "%s", nb_graph_errmsg(h));
                    if (v == 0) {
                        nb_node_grad(pa)[0] = 2.385;
                        ck_assert_int_eq(nb_optim_backward(opt[v], L, NULL), NB_OK);
                        sentinel_left += nb_node_grad(pa)[0] == 2.385;   /* A was fused */
                    } else {
                        nb_graph_zero_grad(h);
                        ck_assert_int_eq(nb_backward(h, L), NB_OK);
                        ck_assert_int_eq(nb_optim_step(opt[v], NULL), NB_OK);
                    }
                }
            }
            ck_assert(sentinel_left == 3);   /* the fast path was taken */
            double d = params_rel_diff(g[0], g[1]);
            ck_assert_msg(d <= 64 * DBL_EPSILON, "B first %d, lr %g: A[0] %.17g fused, %.17g "
                          "three calls (rel. diff %g)", b_first, rates[r],
                          nb_node_cvalue(nb_graph_param_find(g[0], "A"))[0],
                          nb_node_cvalue(nb_graph_param_find(g[1], "A"))[0], d);
            for (int v = 0; v < 2; v++) {
                nb_optim_free(opt[v]);
                nb_graph_free(g[v]);
            }
        }
    }
}
END_TEST

/* An input that borrows a parameter's memory (nb_input_view): V is A's
 * memory, B's product dB = V^T G reads it, and A's own update (fused into
 * its product with the constant K) writes it.  With A registered first its
 * product ran first and B's update read the new A: the fused run left the
 * three calls behind by far more than rounding.  Such a graph now takes
 * the three calls exactly, bit for bit. */
START_TEST(test_backward_view_of_a_param)
{
    static const double a0[6] = { 0.35, -0.2385, 0.5, 0.125, -0.4, 0.2 };
    static const double b0[6] = { 0.3, -0.15, 0.45, 0.2385, -0.25, 0.6 };
    static const double k0[6] = { 0.7, 0.1, -0.3, 0.8, 0.25, -0.45 };
    nb_graph *g[2];
    nb_optim *opt[2];
    for (int v = 0; v < 2; v++) {
        g[v] = nb_graph_alloc();
        nb_param(g[v], "A", 2, 3, a0);
        nb_param(g[v], "B", 3, 2, b0);
        nb_optim_opts o = opts_of(&nb_optim_sgd, 0.1);
        opt[v] = nb_optim_alloc(g[v], &o, NULL);
    }
    for (size_t step = 0; step < 3; step++) {
        for (int v = 0; v < 2; v++) {
            nb_graph *h = g[v];
            nb_node *pa = nb_graph_param_find(h, "A"), *pb = nb_graph_param_find(h, "B");
            nb_graph_reset(h);
            nb_node *V = nb_input_view(h, 2, 3, nb_node_value(pa));
            nb_node *y1 = nb_matmul(h, V, pb), *y2 = nb_matmul(h, pa, nb_input(h, 3, 2, k0));
            nb_node *L = nb_add(h, nb_sum(h, nb_square(h, nb_sub(h, y1, nb_scalar(h, 0.75)))),
                                nb_sum(h, nb_square(h, nb_sub(h, y2, nb_scalar(h, 0.5)))));
            ck_assert_msg(L != NULL, "%s", nb_graph_errmsg(h));
            if (v == 0) {
                nb_node_grad(pa)[0] = 2.385;
                ck_assert_int_eq(nb_optim_backward(opt[v], L, NULL), NB_OK);
                ck_assert(nb_node_grad(pa)[0] != 2.385);   /* A's gradient was computed */
            } else {
                nb_graph_zero_grad(h);
                ck_assert_int_eq(nb_backward(h, L), NB_OK);
                ck_assert_int_eq(nb_optim_step(opt[v], NULL), NB_OK);
            }
        }
    }
    for (size_t k = 0; k < 2; k++) {
        const char *name = k ? "B" : "A";
        ck_assert_mem_eq(nb_node_cvalue(nb_graph_param_find(g[0], name)),
                         nb_node_cvalue(nb_graph_param_find(g[1], name)), 6 * sizeof(double));
    }
    for (int v = 0; v < 2; v++) {
        nb_optim_free(opt[v]);
        nb_graph_free(g[v]);
    }
}
END_TEST

/* ---- the fused update as a property over random graphs ------------------ */

/* xorshift64*: the test's own explicit stream. */
typedef struct prop_rng {
    uint64_t s;
} prop_rng;

static uint64_t prop_next(prop_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * UINT64_C(2685821657736338717);
}

static size_t prop_below(prop_rng *r, size_t n) { return (size_t)(prop_next(r) % n); }
static double prop_unit(prop_rng *r) { return (double)(prop_next(r) >> 11) * 0x1p-53; }

/* What one random trial builds.  Parameters (by name, shapes from three
 * widths and a batch size):
 *   W1 (d0,d1)  first layer: matmul(X, W1) or affine(X, W1, b1)
 *   b1 (1,d1)
 *   P  (m,d0)   X itself a parameter: both operands of the product trainable
 *   W2 (d1,d2)  second layer (or W1 again: tied weights, then d0 = d1 = d2)
 *   b2 (1,d2)   second layer's bias, through affine or through add
 *   S  (d2,d2)  a term sum(S S): one parameter twice in one product
 * and optional l2 terms on any of them (a second use), activations tanh or
 * sigmoid between the layers.  The parameters are registered in a random
 * order.  The same seed builds the same graph on every call. */
#define PROP_NP 6
static const char *const prop_names[PROP_NP] = { "W1", "b1", "P", "W2", "b2", "S" };

static nb_node *prop_build(nb_graph *g, uint64_t seed, size_t step, int create)
{
    prop_rng r = { seed * 2 + 1 };
    for (int k = 0; k < 4; k++) prop_next(&r);
    size_t m = 1 + prop_below(&r, 3), d0 = 1 + prop_below(&r, 3), d1 = 1 + prop_below(&r, 3),
           d2 = 1 + prop_below(&r, 3);
    int affine1 = (int)prop_below(&r, 2);
    int x_param = prop_below(&r, 3) == 0;
    size_t layer2 = prop_below(&r, 4);   /* 0 none, 1 matmul, 2 affine, 3 tied W1 */
    int bias2_add = prop_below(&r, 2) == 0;
    int self_product = prop_below(&r, 3) == 0;
    size_t act = prop_below(&r, 3);      /* none, tanh, sigmoid */
    unsigned l2_mask = (unsigned)prop_below(&r, 64) & (unsigned)prop_below(&r, 64);
    if (layer2 == 3) d1 = d2 = d0;
    size_t rows[PROP_NP] = { d0, 1, m, d1, 1, d2 }, cols[PROP_NP] = { d1, d1, d0, d2, d2, d2 };
    int used[PROP_NP] = { 1, affine1, x_param, layer2 == 1 || layer2 == 2, layer2 != 0,
                          self_product };
    size_t order[PROP_NP];
    for (size_t i = 0; i < PROP_NP; i++) order[i] = i;
    for (size_t i = PROP_NP; i-- > 1;) {
        size_t j = prop_below(&r, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    double init[PROP_NP][9];
    for (size_t i = 0; i < PROP_NP; i++)
        for (size_t k = 0; k < 9; k++) init[i][k] = 1.6 * prop_unit(&r) - 0.8;
    if (create)
        for (size_t i = 0; i < PROP_NP; i++)
            if (used[order[i]])
                ck_assert_ptr_nonnull(nb_param(g, prop_names[order[i]], rows[order[i]],
                                               cols[order[i]], init[order[i]]));
    nb_node *p[PROP_NP];
    for (size_t i = 0; i < PROP_NP; i++) p[i] = nb_graph_param_find(g, prop_names[i]);

    nb_graph_reset(g);
    double x[9];
    for (size_t k = 0; k < 9; k++) x[k] = sin(1.3 * (double)k + 0.7 * (double)step + (double)seed);
    nb_node *X = x_param ? p[2] : nb_input(g, m, d0, x);
    nb_node *h = affine1 ? nb_affine(g, X, p[0], p[1]) : nb_matmul(g, X, p[0]);
    if (act == 1) h = nb_tanh(g, h);
    if (act == 2) h = nb_sigmoid(g, h);
    if (layer2 == 1) h = nb_matmul(g, h, p[3]);
    if (layer2 == 2) h = bias2_add ? nb_add(g, nb_matmul(g, h, p[3]), p[4])
                                   : nb_affine(g, h, p[3], p[4]);
    if (layer2 == 3) h = nb_add(g, nb_matmul(g, h, p[0]), p[4]);   /* W1 tied */
    nb_node *L = nb_sum(g, nb_square(g, nb_sub(g, h, nb_scalar(g, 0.75))));
    if (self_product) L = nb_add(g, L, nb_scale(g, nb_sum(g, nb_matmul(g, p[5], p[5])), 0.3));
    for (size_t i = 0; i < PROP_NP; i++)
        if (used[i] && (l2_mask >> i & 1u)) L = nb_add(g, L, nb_l2(g, p[i], 0.0625));
    ck_assert_msg(L != NULL, "seed %llu: %s", (unsigned long long)seed, nb_graph_errmsg(g));
    return L;
}

/* nb_optim_backward equals nb_graph_zero_grad + nb_backward + nb_optim_step
 * over random small graphs, registration orders and sharings, for every
 * optimizer of the table, with and without weight decay, over 4 steps:
 * bit for bit for a type without fused_update, and for a type with it
 * within the documented rounding, 64 ulps of max(1, |w|) (the measured
 * worst is printed).  The trials are counted to show that they reach the
 * cases that matter: fused updates, and fused updates whose product reads
 * another parameter that takes the gradient path (the B-before-A case). */
START_TEST(test_backward_property)
{
    size_t trials = 400, fused_trials = 0, hazard_trials = 0;
    double worst = 0.0;
    for (uint64_t seed = 1; seed <= trials; seed++) {
        for (size_t kind = 0; kind < nb_optim_type_count(); kind++) {
            for (int wd = 0; wd < 2; wd++) {
                nb_graph *g[2];
                nb_optim *opt[2];
                nb_optim_opts o = opts_of(nb_optim_type_at(kind), 0.05);
                o.weight_decay = wd ? 0.0123 : 0.0;
                for (int v = 0; v < 2; v++) {
                    g[v] = nb_graph_alloc();
                    prop_build(g[v], seed, 0, 1);
                    opt[v] = nb_optim_alloc(g[v], &o, NULL);
                }
                int fused_any = 0, hazard = 0;
                for (size_t step = 0; step < 4; step++) {
                    nb_node *La = prop_build(g[0], seed, step, 0);
                    size_t np = nb_graph_param_count(g[0]);
                    for (size_t i = 0; i < np; i++) {
                        nb_node *q = nb_graph_param_at(g[0], i);
                        for (size_t k = 0; k < nb_node_size(q); k++) nb_node_grad(q)[k] = 2.385;
                    }
                    nb_error err;
                    ck_assert_msg(backward_at(opt[0], La, step, &err) == NB_OK, "%s", err.msg);
                    for (size_t i = 0; i < np; i++)
                        fused_any |= nb_node_grad(nb_graph_param_at(g[0], i))[0] == 2.385;
                    /* X = P and W1 both parameters, one fused, the other on the
                     * gradient path: the fused product reads the other's value */
                    nb_node *P = nb_graph_param_find(g[0], "P"), *W1 = nb_graph_param_find(g[0], "W1");
                    if (P && (nb_node_grad(P)[0] == 2.385) != (nb_node_grad(W1)[0] == 2.385))
                        hazard = 1;
                    nb_node *Lb = prop_build(g[1], seed, step, 0);
                    nb_graph_zero_grad(g[1]);
                    ck_assert_int_eq(nb_backward(g[1], Lb), NB_OK);
                    ck_assert_int_eq(step_at(opt[1], step, NULL), NB_OK);
                }
                if (nb_optim_type_at(kind)->fused_update) {
                    double d = params_rel_diff(g[0], g[1]);
                    if (d > worst) worst = d;
                    ck_assert_msg(d <= 64 * DBL_EPSILON, "seed %llu, %s, wd %d: %g",
                                  (unsigned long long)seed, o.type->name, wd, d);
                    fused_trials += fused_any;
                    hazard_trials += hazard;
                } else {
                    ck_assert_msg(graphs_equal(g[0], g[1]), "seed %llu, %s, wd %d: %g",
                                  (unsigned long long)seed, o.type->name, wd,
                                  params_rel_diff(g[0], g[1]));
                    ck_assert(!fused_any);
                }
                nb_archive *sa = snapshot(opt[0]), *sb = snapshot(opt[1]);
                ck_assert(archives_equal(sa, sb));
                nb_archive_free(sa);
                nb_archive_free(sb);
                for (int v = 0; v < 2; v++) {
                    nb_optim_free(opt[v]);
                    nb_graph_free(g[v]);
                }
            }
        }
    }
    printf("fused vs three calls: %zu random trials x %zu optimizers x 2: %zu with fused "
           "updates, %zu with a fused product beside a gradient-path parameter; worst rel. "
           "diff %.3g (bound %.3g)\n", (size_t)trials, nb_optim_type_count(), fused_trials,
           hazard_trials, worst, 64 * DBL_EPSILON);
    ck_assert_uint_ge(fused_trials, trials / 2);
    ck_assert_uint_ge(hazard_trials, trials / 20);
}
END_TEST

/* A new optimizer is one type: here a damped SGD (w -= lr*g/2, weight
 * decay as SGD's) from outside the table, with its fused form.  It runs
 * through nb_optim_step and, fused, through nb_optim_backward (the weights'
 * gradient buffers stay untouched), with the same result as the three
 * calls; its checkpoints carry its name. */
static void half_update(double *w, const double *g, double *const *state, size_t n, size_t t,
                        double lr, const nb_optim_opts *o)
{
    (void)state; (void)t;
    for (size_t i = 0; i < n; i++) w[i] = w[i] - (0.5 * lr) * (g[i] + o->weight_decay * w[i]);
}

static void half_fused(double lr, const nb_optim_opts *o, double *alpha, double *beta)
{
    *alpha = -0.5 * lr;
    *beta = 1.0 - 0.5 * lr * o->weight_decay;
}

static const nb_optim_type half_sgd = {
    .name = "half_sgd", .update = half_update, .fused_update = half_fused,
};

START_TEST(test_custom_type)
{
    for (int wd = 0; wd < 2; wd++) {
        mlp a = mlp_alloc(NULL), b = mlp_alloc(NULL);
        nb_optim_opts o = opts_of(&half_sgd, 0.2385);
        o.weight_decay = wd ? 0.0123 : 0.0;
        nb_optim *oa = nb_optim_alloc(a.g, &o, NULL), *ob = nb_optim_alloc(b.g, &o, NULL);
        ck_assert_ptr_nonnull(oa);
        for (size_t step = 0; step < 6; step++) {
            nb_node_grad(a.W1)[3] = 2.385;
            ck_assert_int_eq(backward_at(oa, mlp_loss(&a, step, 0), step, NULL), NB_OK);
            ck_assert(nb_node_grad(a.W1)[3] == 2.385);   /* fused */
            nb_node *Lb = mlp_loss(&b, step, 0);
            nb_graph_zero_grad(b.g);
            ck_assert_int_eq(nb_backward(b.g, Lb), NB_OK);
            ck_assert_int_eq(step_at(ob, step, NULL), NB_OK);
        }
        double d = params_rel_diff(a.g, b.g);
        ck_assert_msg(d <= 64 * DBL_EPSILON, "wd %d: %g", wd, d);
        mlp fresh = mlp_alloc(NULL);
        ck_assert(!same_bits(nb_node_cvalue(a.W1), nb_node_cvalue(fresh.W1), 20));
        nb_graph_free(fresh.g);
        nb_archive *sa = snapshot(oa);
        ck_assert_str_eq(nb_archive_get_str(sa, "s/kind"), "half_sgd");
        nb_error err;
        ck_assert_int_eq(nb_optim_restore(ob, sa, "s/", &err), NB_OK);
        nb_archive_free(sa);
        nb_optim_free(oa);
        nb_optim_free(ob);
        nb_graph_free(a.g);
        nb_graph_free(b.g);
    }
    ck_assert_ptr_null(nb_optim_type_find("half_sgd"));   /* not in the table */
}
END_TEST

/* A frozen weight is not updated by nb_optim_backward, and its gradient is
 * computed as nb_backward would (only trainable weights are fused). */
START_TEST(test_backward_frozen)
{
    mlp m = mlp_alloc(NULL), r = mlp_alloc(NULL);
    nb_optim_opts o = opts_of(&nb_optim_sgd, 0.1);
    nb_optim *opt = nb_optim_alloc(m.g, &o, NULL);
    ck_assert_int_eq(nb_optim_set_trainable(opt, "fc1.W", 0, NULL), NB_OK);
    double w1[20];
    memcpy(w1, nb_node_cvalue(m.W1), sizeof w1);
    nb_node *L = mlp_loss(&m, 3, 0);
    ck_assert_int_eq(backward_at(opt, L, 0, NULL), NB_OK);
    ck_assert(same_bits(nb_node_cvalue(m.W1), w1, 20));
    nb_node *Lr = mlp_loss(&r, 3, 0);
    nb_graph_zero_grad(r.g);
    ck_assert_int_eq(nb_backward(r.g, Lr), NB_OK);
    ck_assert(same_bits(nb_node_grad(m.W1), nb_node_grad(r.W1), 20));
    ck_assert(!same_bits(nb_node_cvalue(m.W2), nb_node_cvalue(r.W2), 12));
    nb_optim_free(opt);
    nb_graph_free(m.g);
    nb_graph_free(r.g);
}
END_TEST

/* A NaN reaching the factor of a fused product (sqrt'(0) = inf times
 * abs'(0) = 0), a rate that overflows, a loss that is not 1x1: an error
 * with a message, and no parameter changed. */
START_TEST(test_backward_refusals)
{
    nb_graph *g = nb_graph_alloc();
    nb_node *W = nb_param(g, "W", 2, 2, (double[]){ 2.385, 1.0, 2.385, 3.0 });
    nb_node *b = nb_param(g, "b", 1, 2, (double[]){ 0.5, -0.25 });
    nb_optim_opts o = opts_of(&nb_optim_sgd, 0.1);
    nb_optim *opt = nb_optim_alloc(g, &o, NULL);
    double w0[4], b0[2];
    memcpy(w0, nb_node_cvalue(W), sizeof w0);
    memcpy(b0, nb_node_cvalue(b), sizeof b0);

    /* x W = (0, -2): abs then sqrt meets 0. */
    nb_node *X = nb_input(g, 1, 2, (double[]){ 1.0, -1.0 });
    nb_node *L = nb_sum(g, nb_sqrt(g, nb_abs(g, nb_add(g, nb_matmul(g, X, W), nb_scalar(g, 0.0)))));
    L = nb_add(g, L, nb_sum(g, nb_square(g, b)));
    ck_assert_msg(L != NULL, "%s", nb_graph_errmsg(g));
    nb_error err;
    ck_assert_int_eq(backward_at(opt, L, 0, &err), NB_EDOMAIN);
    const char *m = err.msg;
    ck_assert_msg(strstr(m, "'W'") && strstr(m, "matmul") && strstr(m, "nothing updated"), "%s", m);
    ck_assert(same_bits(nb_node_cvalue(W), w0, 4));
    ck_assert(same_bits(nb_node_cvalue(b), b0, 2));
    ck_assert_uint_eq(nb_optim_steps(opt), 0);

    /* Not a 1x1 loss: the graph's error, also in the optimizer's message. */
    nb_graph_reset(g);
    nb_node *P = nb_matmul(g, nb_input(g, 1, 2, (double[]){ 1.5, 2.5 }), W);
    ck_assert_int_eq(backward_at(opt, P, 0, &err), NB_ESHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "(1x1)"));
    ck_assert(same_bits(nb_node_cvalue(W), w0, 4));
    nb_graph_clear_error(g);

    /* A schedule whose rate overflows at this epoch. */
    nb_optim_free(opt);
    o.schedule = &nb_schedule_exp;
    o.gamma = 10.0;
    opt = nb_optim_alloc(g, &o, NULL);
    nb_graph_reset(g);
    L = nb_sum(g, nb_matmul(g, nb_input(g, 1, 2, (double[]){ 1.5, 2.5 }), W));
    ck_assert_int_eq(backward_at(opt, L, 400, &err), NB_EDOMAIN);
    ck_assert_ptr_nonnull(strstr(err.msg, "lr = inf"));
    ck_assert(same_bits(nb_node_cvalue(W), w0, 4));
    ck_assert_int_eq(backward_at(opt, L, 1, NULL), NB_OK);
    ck_assert(!same_bits(nb_node_cvalue(W), w0, 4));
    ck_assert_int_eq(backward_at(NULL, L, 1, NULL), NB_EINVAL);
    nb_optim_free(opt);
    nb_graph_free(g);
}
END_TEST

/* With check_finite off the graph did not scan the other operand of a fused
 * product, so the optimizer does: a NaN input is refused by name. */
START_TEST(test_backward_unchecked_operand)
{
    nb_graph *g = nb_graph_alloc();
    nb_graph_set_check_finite(g, 0);
    nb_node *W = nb_param(g, "W", 2, 1, (double[]){ 2.385, -1.5 });
    nb_optim_opts o = opts_of(&nb_optim_sgd, 0.1);
    nb_optim *opt = nb_optim_alloc(g, &o, NULL);
    double x[2] = { 0.5, 1.25 };
    nb_node *X = nb_input_view(g, 1, 2, x);
    nb_node *L = nb_sum(g, nb_matmul(g, X, W));
    x[1] = NAN;   /* the view is borrowed: changed after the build */
    nb_error err;
    ck_assert_int_eq(backward_at(opt, L, 0, &err), NB_EDOMAIN);
    ck_assert_msg(strstr(err.msg, "factor matmul input 0 (1x2)") != NULL, "%s", err.msg);
    ck_assert(same_bits(nb_node_cvalue(W), (double[]){ 2.385, -1.5 }, 2));
    nb_optim_free(opt);
    nb_graph_free(g);
}
END_TEST

/* Training steps through nb_optim_backward allocate nothing once the arena
 * has grown (counting allocator), for every optimizer kind. */
START_TEST(test_backward_no_malloc_after_warmup)
{
    for (size_t kind = 0; kind < nb_optim_type_count(); kind++) {
        counting c = { 0, 0, -1, 0 };
        nb_allocator al = { count_alloc, count_free, &c };
        mlp m = mlp_alloc(&al);
        nb_optim_opts o = opts_of(nb_optim_type_at(kind), 0.1);
        nb_optim *opt = nb_optim_alloc(m.g, &o, NULL);
        size_t after[6];
        for (size_t step = 0; step < 6; step++) {
            ck_assert_int_eq(backward_at(opt, mlp_loss(&m, step, step % 2), step, NULL), NB_OK);
            after[step] = c.allocs;
        }
        ck_assert_msg(after[5] == after[1], "kind %zu: allocations grew: %zu -> %zu", kind,
                      after[1], after[5]);
        nb_optim_free(opt);
        nb_graph_free(m.g);
        ck_assert_uint_eq(c.allocs, c.frees);
    }
}
END_TEST

/* ---- memory --------------------------------------------------------------- */


START_TEST(test_allocation_failures)
{
    for (size_t kind = 0; kind < nb_optim_type_count(); kind++) {
        for (long k = 0;; k++) {
            counting c = { 0, 0, -1, 0 };
            nb_allocator al = { count_alloc, count_free, &c };
            nb_graph *g = nb_graph_alloc_with(&al);
            nb_param(g, "w", 2, 3, W0);
            nb_param(g, "b", 1, 3, NULL);
            size_t base = c.allocs;
            c.fail_at = (long)base + k;
            nb_optim_opts o = opts_of(nb_optim_type_at(kind), 0.1);
            nb_error err;
            nb_optim *opt = nb_optim_alloc(g, &o, &err);
            c.fail_at = -1;
            if (opt == NULL) {
                ck_assert_int_eq(err.status, NB_ENOMEM);
                ck_assert_msg(strstr(err.msg, "out of memory") != NULL, "%s", err.msg);
                nb_graph_free(g);
                ck_assert_uint_eq(c.allocs - 1, c.frees);
                continue;
            }
            nb_optim_free(opt);
            nb_graph_free(g);
            ck_assert_uint_eq(c.allocs, c.frees);
            ck_assert_int_ge(k, 2);   /* struct, slots (+ state) */
            break;
        }
    }
}
END_TEST

START_TEST(test_no_params)
{
    nb_graph *g = nb_graph_alloc();
    nb_optim_opts o = opts_of(&nb_optim_adam, 0.1);
    nb_optim *opt = nb_optim_alloc(g, &o, NULL);
    ck_assert_ptr_nonnull(opt);
    ck_assert_int_eq(step_at(opt, 0, NULL), NB_OK);
    ck_assert_uint_eq(nb_optim_steps(opt), 1);
    nb_archive *ar = nb_archive_alloc();
    ck_assert_int_eq(nb_optim_save(opt, ar, NULL), NB_OK);
    nb_optim *opt2 = nb_optim_alloc(g, &o, NULL);
    ck_assert_int_eq(nb_optim_restore(opt2, ar, NULL, NULL), NB_OK);
    ck_assert_uint_eq(nb_optim_steps(opt2), 1);
    nb_archive_free(ar);
    nb_optim_free(opt2);
    nb_optim_free(opt);
    nb_graph_free(g);
}
END_TEST

/* ---- checkpoints ---------------------------------------------------------- */

typedef struct cont_case {
    const nb_optim_type *kind;
    double wd;
    const nb_schedule_type *schedule;
} cont_case;

static const cont_case cont_cases[] = {
    { &nb_optim_sgd, 0.0, &nb_schedule_constant },
    { &nb_optim_sgd, 0.05, &nb_schedule_step },
    { &nb_optim_momentum, 0.0, &nb_schedule_constant },
    { &nb_optim_momentum, 0.05, &nb_schedule_exp },
    { &nb_optim_nesterov, 0.0, &nb_schedule_step },
    { &nb_optim_nesterov, 0.05, &nb_schedule_constant },
    { &nb_optim_adam, 0.0, &nb_schedule_step },
    { &nb_optim_adam, 0.1, &nb_schedule_exp },
};

START_TEST(test_save_restore_continuation)
{
    const cont_case *cc = &cont_cases[_i];
    nb_optim_opts o = opts_of(cc->kind, 0.05);
    o.weight_decay = cc->wd;
    o.schedule = cc->schedule;
    o.gamma = cc->schedule == &nb_schedule_exp ? 0.9 : 0.5;
    o.step_size = 3;
    o.momentum = 0.8;
    o.beta1 = 0.85;
    o.beta2 = 0.995;
    o.eps = 2.385e-7;

    nb_graph *ga = three_params();
    nb_error err;
    nb_optim *a = nb_optim_alloc(ga, &o, &err);
    ck_assert_msg(a != NULL, "%s", err.msg);
    for (size_t e = 0; e < 5; e++) {
        grads_all(ga, e);
        ck_assert_int_eq(step_at(a, e, NULL), NB_OK);
        if (e == 2) ck_assert_int_eq(nb_optim_set_trainable(a, "u", 0, NULL), NB_OK);
    }

    /* One checkpoint file: the model under "model/", the optimizer under
     * "optim/", plus metadata of the caller. */
    const char *base = getenv("TMPDIR");
    char dir[4096], cpath[4200];
    snprintf(dir, sizeof dir, "%s/nb-optim-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cpath, sizeof cpath, "%s/ckpt.nbar", dir);
    nb_archive *ck = nb_archive_alloc();
    ck_assert_int_eq(nb_archive_put_str(ck, "kind", "nabla-checkpoint"), NB_OK);
    ck_assert_int_eq(nb_model_put(ga, ck, "model/"), NB_OK);
    ck_assert_int_eq(nb_optim_save(a, ck, "optim/"), NB_OK);
    ck_assert_int_eq(nb_archive_write(ck, cpath, NULL), NB_OK);
    nb_archive_free(ck);

    /* A fresh graph and a fresh optimizer built with default options: the
     * checkpoint brings the hyperparameters along. */
    nb_graph *gb = nb_graph_alloc();
    nb_param(gb, "w", 2, 3, NULL);
    nb_param(gb, "b", 1, 3, NULL);
    nb_param(gb, "u", 3, 1, NULL);
    nb_optim_opts dflt = opts_of(cc->kind, 0.01);
    nb_optim *b = nb_optim_alloc(gb, &dflt, NULL);
    nb_archive *back = NULL;
    ck_assert_int_eq(nb_archive_read(cpath, &back, NULL), NB_OK);
    nb_error_clear(&err);
    ck_assert_msg(nb_model_get(gb, back, "model/", &err) == NB_OK, "%s", err.msg);
    ck_assert_msg(nb_optim_restore(b, back, "optim/", &err) == NB_OK, "%s", err.msg);
    ck_assert_str_eq(err.msg, "");
    ck_assert_uint_eq(nb_optim_epoch(b), 4);
    nb_archive_free(back);
    unlink(cpath);
    rmdir(dir);

    nb_optim_opts oa, ob;
    nb_optim_get_opts(a, &oa);
    nb_optim_get_opts(b, &ob);
    ck_assert(oa.type == ob.type && oa.lr == ob.lr && oa.momentum == ob.momentum &&
              oa.beta1 == ob.beta1 && oa.beta2 == ob.beta2 && oa.eps == ob.eps &&
              oa.weight_decay == ob.weight_decay && oa.schedule == ob.schedule &&
              oa.gamma == ob.gamma && oa.step_size == ob.step_size);
    ck_assert_uint_eq(nb_optim_steps(b), 5);
    ck_assert(!nb_optim_is_trainable(b, "u"));
    ck_assert(graphs_equal(ga, gb));

    for (size_t e = 5; e < 10; e++) {
        grads_all(ga, e);
        grads_all(gb, e);
        ck_assert_int_eq(step_at(a, e, NULL), NB_OK);
        ck_assert_int_eq(step_at(b, e, NULL), NB_OK);
        if (e == 7) {
            nb_optim_set_trainable(a, "u", 1, NULL);
            nb_optim_set_trainable(b, "u", 1, NULL);
        }
    }
    ck_assert_msg(graphs_equal(ga, gb), "continuation differs for %s",
                  cc->kind->name);
    nb_archive *sa = snapshot(a), *sb = snapshot(b);
    ck_assert(archives_equal(sa, sb));
    ck_assert_uint_eq(nb_optim_steps(b), 10);
    nb_archive_free(sa);
    nb_archive_free(sb);
    nb_optim_free(a);
    nb_optim_free(b);
    nb_graph_free(ga);
    nb_graph_free(gb);
}
END_TEST

START_TEST(test_restore_refused)
{
    nb_graph *g = three_params();
    nb_optim_opts o = opts_of(&nb_optim_adam, 0.1);
    nb_optim *src = nb_optim_alloc(g, &o, NULL);
    for (size_t e = 0; e < 3; e++) {
        grads_all(g, e);
        step_at(src, e, NULL);
    }
    nb_archive *ck = nb_archive_alloc();
    ck_assert_int_eq(nb_optim_save(src, ck, "optim/"), NB_OK);
    ck_assert_ptr_nonnull(nb_archive_get(ck, "optim/exp_avg/w", NULL, NULL));
    ck_assert_ptr_nonnull(nb_archive_get(ck, "optim/exp_avg_sq/u", NULL, NULL));
    ck_assert_str_eq(nb_archive_get_str(ck, "optim/kind"), "adam");
    ck_assert_str_eq(nb_archive_get_str(ck, "optim/param/2/shape"), "3x1");

    /* Target: a fresh Adam on a graph of the same layout. */
    nb_graph *h = three_params();
    nb_optim *dst = nb_optim_alloc(h, &o, NULL);
    nb_archive *fresh = snapshot(dst);
    nb_error err;
    const char *msg = err.msg;

    struct { const char *skip, *key, *value; int st; const char *needle; } cases[] = {
        { "optim/exp_avg_sq/u", NULL, NULL, NB_ENOTFOUND, "optim/exp_avg_sq/u" },
        { "optim/param/1/step", NULL, NULL, NB_ENOTFOUND, "param/1/step" },
        { NULL, "optim/lr", "abc", NB_EFORMAT, "lr" },
        { NULL, "optim/lr", "0.1 ", NB_EFORMAT, "lr" },
        { NULL, "optim/beta2", "1", NB_EFORMAT, "beta2" },
        { NULL, "optim/kind", "sgd", NB_EINVAL, "'sgd'" },
        { NULL, "optim/kind", "rmsprop", NB_EFORMAT, "rmsprop" },
        { NULL, "optim/steps", "-1", NB_EFORMAT, "steps" },
        { NULL, "optim/epoch", "two", NB_EFORMAT, "epoch" },
        { NULL, "optim/param_count", "4", NB_ESHAPE, "4 parameters" },
        { NULL, "optim/param/2/name", "v", NB_ESHAPE, "'v'" },
        { NULL, "optim/param/2/shape", "1x3", NB_ESHAPE, "(1x3)" },
        { NULL, "optim/param/2/shape", "3by1", NB_EFORMAT, "shape" },
        { NULL, "optim/param/2/trainable", "2", NB_EFORMAT, "trainable" },
        { NULL, "optim/schedule", "cosine", NB_EFORMAT, "cosine" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        nb_archive *bad = copy_archive(ck, cases[k].skip, cases[k].key, cases[k].value);
        int st = nb_optim_restore(dst, bad, "optim/", &err);
        ck_assert_msg(st == cases[k].st, "case %zu: %s (%s)", k, nb_status_name(st), msg);
        ck_assert_msg(strstr(msg, cases[k].needle) != NULL, "case %zu: '%s'", k, msg);
        /* Nothing was written: not the parameters checked before the fault. */
        nb_archive *now = snapshot(dst);
        ck_assert_msg(archives_equal(fresh, now), "case %zu: state changed", k);
        ck_assert_uint_eq(nb_optim_steps(dst), 0);
        nb_archive_free(now);
        nb_archive_free(bad);
    }
    /* A tensor of the wrong shape. */
    nb_archive *bad = copy_archive(ck, NULL, NULL, NULL);
    ck_assert_int_eq(nb_archive_put(bad, "optim/exp_avg/b", 3, 1, W0), NB_OK);
    ck_assert_int_eq(nb_optim_restore(dst, bad, "optim/", &err), NB_ESHAPE);
    ck_assert_ptr_nonnull(strstr(msg, "optim/exp_avg/b"));
    nb_archive_free(bad);

    /* Another prefix, another layout of graph, another kind. */
    ck_assert_int_eq(nb_optim_restore(dst, ck, "other/", &err), NB_ENOTFOUND);
    nb_graph *h2 = nb_graph_alloc();
    nb_param(h2, "w", 2, 3, NULL);
    nb_param(h2, "b", 1, 3, NULL);
    nb_optim *two = nb_optim_alloc(h2, &o, NULL);
    ck_assert_int_eq(nb_optim_restore(two, ck, "optim/", &err), NB_ESHAPE);
    ck_assert_ptr_nonnull(strstr(msg, "3 parameters"));
    nb_optim_opts m = opts_of(&nb_optim_momentum, 0.1);
    nb_optim *mom = nb_optim_alloc(h, &m, NULL);
    ck_assert_int_eq(nb_optim_restore(mom, ck, "optim/", &err), NB_EINVAL);
    ck_assert_ptr_nonnull(strstr(msg, "'adam'"));
    ck_assert_int_eq(nb_optim_restore(NULL, ck, "optim/", &err), NB_EINVAL);
    ck_assert_int_eq(nb_optim_save(NULL, ck, "optim/"), NB_EINVAL);
    ck_assert_int_eq(nb_optim_save(src, NULL, "optim/"), NB_EINVAL);

    /* A checkpoint from before the epoch was saved restores epoch 0. */
    ck_assert_str_eq(nb_archive_get_str(ck, "optim/epoch"), "2");
    bad = copy_archive(ck, "optim/epoch", NULL, NULL);
    ck_assert_int_eq(nb_optim_set_epoch(dst, 7), NB_OK);
    ck_assert_int_eq(nb_optim_restore(dst, bad, "optim/", &err), NB_OK);
    ck_assert_uint_eq(nb_optim_epoch(dst), 0);
    nb_archive_free(bad);

    /* And the untouched checkpoint does restore. */
    ck_assert_int_eq(nb_optim_restore(dst, ck, "optim/", &err), NB_OK);
    ck_assert_uint_eq(nb_optim_steps(dst), 3);
    ck_assert_uint_eq(nb_optim_epoch(dst), 2);

    nb_optim_free(mom);
    nb_optim_free(two);
    nb_graph_free(h2);
    nb_archive_free(fresh);
    nb_archive_free(ck);
    nb_optim_free(dst);
    nb_optim_free(src);
    nb_graph_free(h);
    nb_graph_free(g);
}
END_TEST

START_TEST(test_save_diverged_state_refused)
{
    /* A momentum buffer that overflowed cannot go into an archive. */
    nb_graph *g = nb_graph_alloc();
    nb_node *w = nb_param(g, "w", 1, 2, (double[]){ 2.385, 1.0 });
    nb_optim_opts o = opts_of(&nb_optim_momentum, 0.1);
    nb_optim *opt = nb_optim_alloc(g, &o, NULL);
    nb_node_grad(w)[0] = DBL_MAX;
    nb_node_grad(w)[1] = DBL_MAX;
    ck_assert_int_eq(step_at(opt, 0, NULL), NB_OK);
    ck_assert_int_eq(step_at(opt, 1, NULL), NB_OK);   /* v = 0.9*MAX + MAX = inf */
    nb_archive *ar = nb_archive_alloc();
    ck_assert_int_eq(nb_optim_save(opt, ar, "o/"), NB_EDOMAIN);
    nb_archive_free(ar);
    nb_optim_free(opt);
    nb_graph_free(g);
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_bad_options);
    suite_add_tcase(s, tc);
    tc = tcase_create("updates");
    tcase_add_loop_test(tc, test_against_pytorch, 0, (int)(sizeof ref_cases / sizeof ref_cases[0]));
    tcase_add_test(tc, test_sgd_exact);
    tcase_add_test(tc, test_schedules);
    tcase_add_test(tc, test_schedule_overflow_refused);
    tcase_add_test(tc, test_frozen_param);
    tcase_add_test(tc, test_nonfinite_gradient_refused);
    tcase_add_test(tc, test_backward_matches_three_calls);
    tcase_add_test(tc, test_backward_fuses_weights);
    tcase_add_test(tc, test_backward_product_of_two_params);
    tcase_add_test(tc, test_backward_b_before_a);
    tcase_add_test(tc, test_backward_view_of_a_param);
    tcase_add_test(tc, test_backward_property);
    tcase_add_test(tc, test_custom_type);
    tcase_add_test(tc, test_backward_frozen);
    tcase_add_test(tc, test_backward_refusals);
    tcase_add_test(tc, test_backward_unchecked_operand);
    tcase_add_test(tc, test_backward_no_malloc_after_warmup);
    tcase_add_test(tc, test_allocation_failures);
    tcase_add_test(tc, test_no_params);
    suite_add_tcase(s, tc);
    tc = tcase_create("checkpoints");
    tcase_add_loop_test(tc, test_save_restore_continuation, 0,
                        (int)(sizeof cont_cases / sizeof cont_cases[0]));
    tcase_add_test(tc, test_restore_refused);
    tcase_add_test(tc, test_save_diverged_state_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return nb_test_run(optim_suite()); }
