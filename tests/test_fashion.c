/* test_fashion.c — the two Fashion-MNIST reference experiments (slow).
 * Skipped (exit 77) with a message when Debian's dataset-fashion-mnist is
 * not installed, or when NB_SKIP_SLOW is set (make distcheck sets it). */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nabla/nabla.h>
#include "testutil.h"

static char tmpdir[256];

/* Final test accuracy of experiments/<name>.conf (results.txt). */
static double run_fashion(const char *name)
{
    char conf[512], dir[600];
    nb_error err = {0};
    char *msg = err.msg;
    snprintf(conf, sizeof conf, "%s/experiments/%s.conf", nb_test_srcdir(), name);
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    nb_run_opts o;
    nb_run_opts_init(&o);
    o.config_path = conf;
    o.out_dir = dir;
    o.log = stderr;
    o.progress = 0;
    int st = nb_experiment_run(&o, &err);
    ck_assert_msg(st == NB_OK, "%s: %s", name, msg);
    char path[700];
    snprintf(path, sizeof path, "%s/results.txt", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    double acc = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "test_accuracy = ", 16) == 0) acc = strtod(line + 16, NULL);
    fclose(f);
    fprintf(stderr, "%s: test accuracy %.4f\n", name, acc);
    return acc;
}

/* Nielsen's network.py set-up: sigmoid, quadratic cost, eta 3.0, 30 epochs. */
START_TEST(test_nielsen_fashion)
{
    double acc = run_fashion("nielsen-fashion");
    ck_assert_msg(acc >= 0.83, "test accuracy %.4f below 0.83", acc);
}
END_TEST

/* The modern MLP: at least 88.5% (the benchmark's MLPClassifier: 87.1%). */
START_TEST(test_fashion_mlp)
{
    double acc = run_fashion("fashion-mlp");
    ck_assert_msg(acc >= 0.885, "test accuracy %.4f below 0.885", acc);
}
END_TEST

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nabla-fashion-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

int main(void)
{
    const char *skip = getenv("NB_SKIP_SLOW");
    if (skip && *skip && strcmp(skip, "0") != 0) {
        printf("SKIP: NB_SKIP_SLOW is set: the Fashion-MNIST experiments are not run\n");
        return 77;
    }
    char dir[512];
    if (nb_fashion_mnist_dir(dir, sizeof dir) != NB_OK) {
        printf("SKIP: Fashion-MNIST not found (apt-get install dataset-fashion-mnist, "
               "or set NABLA_FASHION_MNIST_DIR)\n");
        return 77;
    }
    Suite *s = suite_create("fashion");
    TCase *tc = tcase_create("reference");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 1800);
    tcase_add_test(tc, test_nielsen_fashion);
    tcase_add_test(tc, test_fashion_mlp);
    suite_add_tcase(s, tc);
    return nb_test_run(s);
}
