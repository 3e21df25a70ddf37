/* test_sweep.c — Check suite of sweep files and cells (nabla/sweep.h):
 * grid products and their order, names and overrides, random draws (within
 * their bounds, the same for the same seed, every choice and both int
 * bounds reached), file:line:key messages for bad axes, and the directory
 * rules (a new sweep refuses a used directory; the lock refuses a second
 * holder).  Running cells is tests/sweep.sh's job. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nabla/nabla.h>
#include "testutil.h"

static char tmpdir[256];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nabla-test-sweep-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes text to tmpdir/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[400];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* A sweep file: moons.conf from the source tree as base, then body. */
static const char *sweep_file(const char *body)
{
    char text[4096], src[4096];
    ck_assert_ptr_nonnull(realpath(nb_test_srcdir(), src));   /* the sweep file lives elsewhere */
    snprintf(text, sizeof text, "base = %s/experiments/moons.conf\n%s", src, body);
    return write_file("s.conf", text);
}

static double set_value(const nb_sweep *sw, size_t c, size_t axis)
{
    size_t n;
    const char *const *sets = nb_sweep_cell_sets(sw, c, &n);
    ck_assert_uint_gt(n, axis);
    return strtod(strchr(sets[axis], '=') + 1, NULL);
}

START_TEST(test_grid_product_order_names)
{
    nb_error err;
    nb_sweep *sw = NULL;
    const char *p = sweep_file("[train]\nepochs = 7\n[sweep]\n"
                               "optimizer.lr = 0.003, 0.0125, 0.25\n"
                               "model.activation = relu, tanh\n"
                               "experiment.seed = 3..7\n");
    ck_assert_int_eq(nb_sweep_open(p, &sw, &err), NB_OK);
    ck_assert_uint_eq(nb_sweep_cell_count(sw), 3 * 2 * 5);
    /* the last axis turns fastest; indices padded to the widest (29: two digits) */
    ck_assert_str_eq(nb_sweep_cell_name(sw, 0), "00_lr-0.003_activation-relu_seed-3");
    ck_assert_str_eq(nb_sweep_cell_name(sw, 7), "07_lr-0.003_activation-tanh_seed-5");
    ck_assert_str_eq(nb_sweep_cell_name(sw, 29), "29_lr-0.25_activation-tanh_seed-7");
    size_t n;
    const char *const *sets = nb_sweep_cell_sets(sw, 13, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(sets[0], "optimizer.lr=0.0125");
    ck_assert_str_eq(sets[1], "model.activation=relu");
    ck_assert_str_eq(sets[2], "experiment.seed=6");
    ck_assert_ptr_null(nb_sweep_cell_name(sw, 30));
    nb_sweep_free(sw);
}
END_TEST

START_TEST(test_quoted_values_and_mixed_range)
{
    nb_error err;
    nb_sweep *sw = NULL;
    const char *p = sweep_file("[sweep]\nmodel.layers = \"2, 3, 2\", \"2, 16, 2\"  # widths\n"
                               "experiment.seed = 0..2, 10\n");
    ck_assert_int_eq(nb_sweep_open(p, &sw, &err), NB_OK);
    ck_assert_uint_eq(nb_sweep_cell_count(sw), 2 * 4);
    size_t n;
    const char *const *sets = nb_sweep_cell_sets(sw, 7, &n);
    ck_assert_str_eq(sets[0], "model.layers=\"2, 16, 2\"");
    ck_assert_str_eq(sets[1], "experiment.seed=10");
    ck_assert_str_eq(nb_sweep_cell_name(sw, 7), "7_layers-2-16-2_seed-10");
    /* each override is accepted by the config parser as --set */
    size_t nk;
    const nb_config_key *schema = nb_experiment_schema(&nk);
    nb_config *cfg = nb_config_alloc(schema, nk);
    nb_error cerr;
    nb_error_clear(&cerr);
    ck_assert_msg(nb_config_set(cfg, sets[0], &cerr) == NB_OK, "%s", cerr.msg);
    const size_t *w;
    size_t nw;
    ck_assert_int_eq(nb_config_get_size_list(cfg, "model.layers", &w, &nw), NB_OK);
    ck_assert_uint_eq(nw, 3);
    ck_assert_uint_eq(w[1], 16);
    nb_config_free(cfg);
    nb_sweep_free(sw);
}
END_TEST

START_TEST(test_data_path_axis_made_absolute)
{
    /* cells run from DIR/base.conf: a relative data path of an axis is
     * resolved against the sweep file's directory, as nabla run would */
    nb_error err;
    nb_sweep *sw = NULL;
    const char *p = sweep_file("[sweep]\ndata.path = sets/a.csv, /abs/b.csv\n");
    ck_assert_int_eq(nb_sweep_open(p, &sw, &err), NB_OK);
    char real[4096], want[4200];
    ck_assert_ptr_nonnull(realpath(tmpdir, real));
    snprintf(want, sizeof want, "data.path=\"%s/sets/a.csv\"", real);
    size_t n;
    ck_assert_str_eq(nb_sweep_cell_sets(sw, 0, &n)[0], want);
    ck_assert_str_eq(nb_sweep_cell_sets(sw, 1, &n)[0], "data.path=/abs/b.csv");
    ck_assert_str_eq(nb_sweep_cell_name(sw, 0), "0_path-a.csv");
    nb_sweep_free(sw);
}
END_TEST

START_TEST(test_random_draws)
{
    nb_error err;
    nb_sweep *a = NULL, *b = NULL, *c = NULL;
    const char *body = "[sweep]\nmethod = random\nsamples = 400\nseed = %d\n"
                       "optimizer.lr = loguniform(0.0002, 0.5)\n"
                       "optimizer.momentum = uniform(0.25, 0.75)\n"
                       "train.epochs = int(3, 6)\n"
                       "model.activation = choice(relu, tanh, softsign)\n"
                       "experiment.seed = 0, 1\n";
    char text[1024];
    snprintf(text, sizeof text, body, 2385);
    ck_assert_int_eq(nb_sweep_open(sweep_file(text), &a, &err), NB_OK);
    ck_assert_int_eq(nb_sweep_open(sweep_file(text), &b, &err), NB_OK);
    snprintf(text, sizeof text, body, 2386);
    ck_assert_int_eq(nb_sweep_open(sweep_file(text), &c, &err), NB_OK);
    ck_assert_uint_eq(nb_sweep_cell_count(a), 800);
    int seen_int[10] = { 0 }, seen_act[3] = { 0 }, differ = 0, below_mid = 0;
    for (size_t k = 0; k < 800; k++) {
        size_t n;
        const char *const *sa = nb_sweep_cell_sets(a, k, &n), *const *sb = nb_sweep_cell_sets(b, k, &n);
        const char *const *sc = nb_sweep_cell_sets(c, k, &n);
        for (size_t i = 0; i < 5; i++) {
            ck_assert_str_eq(sa[i], sb[i]);   /* the same seed draws the same cells */
            differ += i == 0 && strcmp(sa[i], sc[i]) != 0;
        }
        double lr = set_value(a, k, 0), mo = set_value(a, k, 1), ep = set_value(a, k, 2);
        ck_assert(lr >= 0.0002 && lr < 0.5);
        ck_assert(mo >= 0.25 && mo < 0.75);
        ck_assert(ep == floor(ep) && ep >= 3 && ep <= 6);
        seen_int[(int)ep]++;
        below_mid += lr < sqrt(0.0002 * 0.5);   /* loguniform: half below the geometric mean */
        const char *act = strchr(sa[3], '=') + 1;
        seen_act[strcmp(act, "relu") == 0 ? 0 : strcmp(act, "tanh") == 0 ? 1 : 2]++;
        /* a draw is shared by the seeds crossed with it */
        if (k % 2 == 1) ck_assert_str_eq(sa[0], nb_sweep_cell_sets(a, k - 1, &n)[0]);
        ck_assert_str_eq(sa[4], k % 2 ? "experiment.seed=1" : "experiment.seed=0");
    }
    ck_assert_int_gt(seen_int[3], 0);
    ck_assert_int_gt(seen_int[6], 0);   /* both bounds of int(a, b) are reached */
    for (int i = 0; i < 3; i++) ck_assert_int_gt(seen_act[i], 150);
    ck_assert_int_gt(below_mid, 300);
    ck_assert_int_lt(below_mid, 500);
    ck_assert_int_gt(differ, 790);   /* another seed, other draws */
    nb_sweep_free(a);
    nb_sweep_free(b);
    nb_sweep_free(c);
}
END_TEST

START_TEST(test_integer_key_rounds_draws)
{
    nb_error err;
    nb_sweep *sw = NULL;
    ck_assert_int_eq(nb_sweep_open(sweep_file("[sweep]\nmethod = random\nsamples = 50\n"
                                              "train.batch_size = loguniform(8, 512)\n"),
                                   &sw, &err),
                     NB_OK);
    for (size_t k = 0; k < 50; k++) {
        double v = set_value(sw, k, 0);
        ck_assert(v == floor(v) && v >= 8 && v <= 512);
    }
    nb_sweep_free(sw);
}
END_TEST

/* Bad sweep files: the message names the file, the line and the key. */
static const struct {
    const char *body, *expect;
} bad[] = {
    { "[sweep]\noptimiser.lr = 0.1\n", "s.conf:3: unknown key 'optimiser.lr' (did you mean 'optimizer.lr'?)" },
    { "[sweep]\noptimizer.lr = 0.125, 0\n", "s.conf:3: key 'optimizer.lr': 0 must be greater than 0" },
    { "[sweep]\n\noptimizer.momentum = 0.5, 1.5\n", "s.conf:4: key 'optimizer.momentum': 1.5 must be less than 1" },
    { "[sweep]\nexperiment.seed = 5..3\n", "s.conf:3: axis 'experiment.seed': range 5..3 is empty" },
    { "[sweep]\noptimizer.lr =\n", "s.conf:3: axis 'optimizer.lr': no value" },
    { "[sweep]\noptimizer.lr = 0.125, , 0.25\n", "s.conf:3: axis 'optimizer.lr': element 2 is empty" },
    { "[sweep]\nmodel.activation = relu, relu6\n", "s.conf:3: key 'model.activation': 'relu6' is not a unary op" },
    { "[sweep]\ntrain.epochs = 2, 2.5\n", "s.conf:3: key 'train.epochs': '2.5' is not" },
    { "[sweep]\noptimizer.lr = uniform(0.1, 1)\n", "s.conf:3: axis 'optimizer.lr': uniform(0.1, 1) draws at random" },
    { "[sweep]\nmethod = random\nsamples = 4\noptimizer.lr = loguniform(0, 1)\n",
      "s.conf:5: key 'optimizer.lr': 0 must be greater than 0" },
    { "[sweep]\nmethod = random\nsamples = 4\noptimizer.lr = uniform(0.5, 0.25)\n", "s.conf:5: axis 'optimizer.lr': uniform(a, b) needs a < b" },
    { "[sweep]\nmethod = random\nsamples = 4\nmodel.activation = uniform(1, 2)\n", "needs a numeric key" },
    { "[sweep]\nmethod = random\noptimizer.lr = loguniform(0.01, 1)\n", "s.conf:3: method = random needs samples = K" },
    { "[sweep]\nmethod = random\nsamples = 0\n", "s.conf:4: key 'sweep.samples': '0' is not a count" },
    { "[sweep]\nmethod = spiral\n", "s.conf:3: key 'sweep.method': 'spiral' is not one of grid, random" },
    { "[sweep]\nsamples = 3\noptimizer.lr = 0.5\n", "s.conf:3: key 'sweep.samples' is for method = random" },
    { "[sweep]\nflavour = 3\n", "s.conf:3: unknown key 'sweep.flavour'" },
    { "[sweep]\noptimizer.lr = 0.5\noptimizer.lr = 0.25\n", "s.conf:4: duplicate axis 'optimizer.lr' (first at line 3)" },
    { "[train]\nepochz = 3\n[sweep]\noptimizer.lr = 0.5\n", "s.conf:3: unknown key 'train.epochz'" },
    { "[train]\nepochs = 3\n", "no [sweep] section with an axis" },
};

START_TEST(test_bad_sweep_files)
{
    nb_error err;
    nb_sweep *sw = (nb_sweep *)&err;   /* must come back NULL */
    nb_error_clear(&err);
    int st = nb_sweep_open(sweep_file(bad[_i].body), &sw, &err);
    ck_assert_int_eq(st, NB_ECONFIG);
    ck_assert_ptr_null(sw);
    ck_assert_msg(strstr(err.msg, bad[_i].expect) != NULL, "case %d: got '%s', expected '%s'", _i, err.msg,
                  bad[_i].expect);
}
END_TEST

START_TEST(test_base_relative_and_missing)
{
    nb_error err;
    nb_sweep *sw = NULL;
    char text[512];
    /* a base path is relative to the sweep file's directory */
    snprintf(text, sizeof text, "base = moons.conf\n[sweep]\noptimizer.lr = 0.5\n");
    char sub[300];
    snprintf(sub, sizeof sub, "%s/sub", tmpdir);
    ck_assert_int_eq(mkdir(sub, 0777), 0);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "cp '%s/experiments/moons.conf' '%s/'", nb_test_srcdir(), sub);
    ck_assert_int_eq(system(cmd), 0);
    const char *p = write_file("sub/s.conf", text);
    ck_assert_int_eq(nb_sweep_open(p, &sw, &err), NB_OK);
    nb_sweep_free(sw);
    sw = NULL;
    ck_assert_int_eq(nb_sweep_open(write_file("t.conf", "base = nowhere.conf\n[sweep]\noptimizer.lr = 0.5\n"), &sw, &err),
                     NB_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "nowhere.conf"));
    /* without a base, the file must be a complete config by itself */
    ck_assert_int_eq(nb_sweep_open(write_file("u.conf", "[sweep]\noptimizer.lr = 0.5\n"), &sw, &err), NB_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing required key 'data.source'"));
}
END_TEST

START_TEST(test_directory_rules_and_lock)
{
    nb_error err;
    nb_sweep *a = NULL, *b = NULL;
    const char *p = sweep_file("[sweep]\noptimizer.lr = 0.5, 0.25\n");
    ck_assert_int_eq(nb_sweep_open(p, &a, &err), NB_OK);
    ck_assert_int_eq(nb_sweep_open(p, &b, &err), NB_OK);
    char dir[300], f[400];
    snprintf(dir, sizeof dir, "%s/out/sw", tmpdir);   /* parents are made */
    ck_assert_int_eq(nb_sweep_attach(a, dir, NB_SWEEP_NEW, &err), NB_OK);
    const char *files[] = { "sweep.conf", "base.conf", "cells.csv", "sweep.lock" };
    for (int i = 0; i < 4; i++) {
        snprintf(f, sizeof f, "%s/%s", dir, files[i]);
        ck_assert_msg(access(f, F_OK) == 0, "%s missing", files[i]);
    }
    /* the lock is held: a resume by another sweep object is refused */
    ck_assert_int_eq(nb_sweep_attach(b, dir, NB_SWEEP_RESUME, &err), NB_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "in use by another nabla sweep"));
    nb_sweep_free(a);   /* releases the lock */
    ck_assert_int_eq(nb_sweep_attach(b, dir, NB_SWEEP_RESUME, &err), NB_OK);
    nb_sweep_free(b);
    /* a new sweep into a directory holding one is refused */
    ck_assert_int_eq(nb_sweep_open(p, &a, &err), NB_OK);
    ck_assert_int_eq(nb_sweep_attach(a, dir, NB_SWEEP_NEW, &err), NB_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "already holds a sweep"));
    nb_sweep_free(a);
    /* the resolved sweep file reads back to the same cells */
    snprintf(f, sizeof f, "%s/sweep.conf", dir);
    ck_assert_int_eq(nb_sweep_open(f, &a, &err), NB_OK);
    ck_assert_uint_eq(nb_sweep_cell_count(a), 2);
    ck_assert_str_eq(nb_sweep_cell_name(a, 1), "1_lr-0.25");
    nb_sweep_free(a);
}
END_TEST

static Suite *sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_grid_product_order_names);
    tcase_add_test(tc, test_quoted_values_and_mixed_range);
    tcase_add_test(tc, test_data_path_axis_made_absolute);
    tcase_add_test(tc, test_random_draws);
    tcase_add_test(tc, test_integer_key_rounds_draws);
    tcase_add_loop_test(tc, test_bad_sweep_files, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, test_base_relative_and_missing);
    tcase_add_test(tc, test_directory_rules_and_lock);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return nb_test_run(sweep_suite()); }
