/* test_locale.c — a host program that calls setlocale(LC_ALL, ...) with a
 * decimal-comma locale (de_DE.UTF-8) reads and writes nabla's files exactly
 * as a program in the C locale does: the CSV reader, the config parser and
 * writer, the archive (checkpoint) reader and a whole `nabla run` (issue
 * #9, item 7).  Without io/number.c, plain strtod stops at the '.' of "0.0"
 * ("'0.0' is not a number") and fprintf("%.17g") writes "0,5" into
 * costs.csv.
 *
 * The locale must exist on the machine (build.sh generates it); without it
 * the whole program is skipped (exit 77) with a message saying so. */
#include <config.h>

#include <locale.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nabla/nabla.h>
#include "testutil.h"

static const char *comma_locale;   /* the name setlocale accepted */
static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nabla-locale-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tree(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Each test runs in its own process (Check forks): switch it to the
 * decimal-comma locale, and make sure the switch took. */
static void setup(void)
{
    make_tmpdir();
    ck_assert_ptr_nonnull(setlocale(LC_ALL, comma_locale));
    ck_assert_str_eq(localeconv()->decimal_point, ",");
}

static void teardown(void) { remove_tree(); }

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The hazard itself, so that a machine where the locale does not behave
 * this way cannot make the tests below pass vacuously. */
START_TEST(test_locale_is_decimal_comma)
{
    char buf[32], *end;
    snprintf(buf, sizeof buf, "%.3f", 2.385);
    ck_assert_str_eq(buf, "2,385");
    double v = strtod("2.385", &end);
    ck_assert(v == 2.0 && *end == '.');
    /* nb_strtod and nb_format do not care. */
    ck_assert(nb_strtod("2.385", &end) == 2.385 && *end == '\0');
    nb_format(buf, sizeof buf, "%.3f", 2.385);
    ck_assert_str_eq(buf, "2.385");
    ck_assert_str_eq(nb_format_double(-0.1, buf, sizeof buf), "-0.1");
    /* ... and the calling thread's locale is back afterwards. */
    ck_assert_str_eq(localeconv()->decimal_point, ",");
}
END_TEST

START_TEST(test_csv_reader)
{
    char path[512];
    snprintf(path, sizeof path, "%s/points.csv", tmpdir);
    write_file(path, "x1,x2,label\n0.0,2.385,0\n-1.5e-3,0.25,1\n7,1e2,1\n");
    nb_dataset ds = {0};
    nb_error err;
    nb_error_clear(&err);
    int st = nb_csv_read(path, "label", &ds, &err);
    ck_assert_msg(st == NB_OK, "%s", nb_error_message(&err));
    ck_assert_uint_eq(ds.n, 3);
    ck_assert_uint_eq(ds.d, 2);
    const double want[6] = { 0.0, 2.385, -1.5e-3, 0.25, 7.0, 100.0 };
    for (size_t i = 0; i < 6; i++)
        ck_assert_msg(ds.x[i] == want[i], "x[%zu] = %.17g, want %.17g", i, ds.x[i], want[i]);
    ck_assert_uint_eq(ds.label[1], 1);
    nb_dataset_free(&ds);

    /* A field with a decimal comma is refused, as in the C locale. */
    write_file(path, "x1,label\n\"2,385\",0\n");
    ck_assert_int_eq(nb_csv_read(path, "label", &ds, &err), NB_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "is not a number"));
}
END_TEST

static const nb_config_key schema[] = {
    { .name = "lr", .type = NB_CONFIG_DOUBLE, .def = "0.125", .min = "0",
      .flags = NB_CONFIG_MIN_EXCLUSIVE, .help = "learning rate" },
    { .name = "decay", .type = NB_CONFIG_DOUBLE, .def = "1e-3", .help = "decay" },
};

START_TEST(test_config_parser_and_writer)
{
    nb_config *cfg = nb_config_alloc(schema, 2);
    ck_assert_ptr_nonnull(cfg);
    nb_error err;
    nb_error_clear(&err);
    double v = 0;
    ck_assert_int_eq(nb_config_get_double(cfg, "lr", &v), NB_OK);
    ck_assert(v == 0.125);
    int st = nb_config_parse_string(cfg, "lr = 2.385\n", "a.conf", &err);
    ck_assert_msg(st == NB_OK, "%s", nb_error_message(&err));
    ck_assert_int_eq(nb_config_set(cfg, "decay=0.0001", &err), NB_OK);
    ck_assert_int_eq(nb_config_get_double(cfg, "lr", &v), NB_OK);
    ck_assert(v == 2.385);

    /* Written with '.', and read back to the same bits. */
    char path[512];
    snprintf(path, sizeof path, "%s/resolved.conf", tmpdir);
    ck_assert_int_eq(nb_config_save(cfg, path, &err), NB_OK);
    char *text = slurp(path);
    ck_assert_msg(strstr(text, "lr = 2.385") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "decay = 0.0001") != NULL, "%s", text);
    free(text);
    nb_config *back = nb_config_alloc(schema, 2);
    ck_assert_int_eq(nb_config_load(back, path, &err), NB_OK);
    ck_assert_int_eq(nb_config_get_double(back, "decay", &v), NB_OK);
    ck_assert(v == 0.0001);
    nb_config_free(back);
    nb_config_free(cfg);
}
END_TEST

START_TEST(test_archive_and_model)
{
    char path[512];
    snprintf(path, sizeof path, "%s/model.nbm", tmpdir);
    nb_graph *g = nb_graph_alloc();
    const double w[6] = { 2.385, -0.5, 1e-300, 0.1, -7.25, 3.0 };
    nb_param(g, "w", 2, 3, w);
    nb_error err;
    nb_error_clear(&err);
    ck_assert_int_eq(nb_model_save(g, path, &err), NB_OK);
    nb_graph *h = nb_graph_alloc();
    nb_node *p = nb_param(h, "w", 2, 3, NULL);
    int st = nb_model_load(h, path, &err);
    ck_assert_msg(st == NB_OK, "%s", nb_error_message(&err));
    ck_assert(memcmp(nb_node_cvalue(p), w, sizeof w) == 0);
    nb_archive *ar = NULL;
    ck_assert_int_eq(nb_archive_read(path, &ar, &err), NB_OK);
    ck_assert_str_eq(nb_archive_get_str(ar, "kind"), NB_MODEL_KIND);
    nb_archive_free(ar);
    nb_graph_free(h);
    nb_graph_free(g);
}
END_TEST

START_TEST(test_json_writer)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    nb_json j;
    nb_json_init(&j, f, NB_JSON_COMPACT);
    nb_json_begin_object(&j, 0);
    nb_json_key(&j, "cost");
    nb_json_number(&j, 2.385);
    nb_json_end_object(&j);
    ck_assert_int_eq(nb_json_finish(&j), NB_OK);
    fclose(f);
    ck_assert_str_eq(buf, "{\"cost\":2.385}\n");
    free(buf);
}
END_TEST

/* A whole run in the comma locale gives the same files, byte for byte, as
 * in the C locale (CSV data, config, costs.csv, results.txt, model). */
static void run_logistic(const char *out, nb_error *err, int *st)
{
    char conf[512], dir[600];
    snprintf(conf, sizeof conf, "%s/experiments/logistic.conf", nb_test_srcdir());
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, out);
    static const char *const sets[] = { "train.epochs=30", "log.plot=false" };
    nb_run_opts o;
    nb_run_opts_init(&o);
    o.config_path = conf;
    o.out_dir = dir;
    o.sets = sets;
    o.n_sets = 2;
    o.log = NULL;
    *st = nb_experiment_run(&o, err);
}

START_TEST(test_nabla_run)
{
    nb_error err;
    nb_error_clear(&err);
    int st;
    ck_assert_ptr_nonnull(setlocale(LC_ALL, "C"));
    run_logistic("c", &err, &st);
    ck_assert_msg(st == NB_OK, "C locale: %s", nb_error_message(&err));
    ck_assert_ptr_nonnull(setlocale(LC_ALL, comma_locale));
    run_logistic("comma", &err, &st);
    ck_assert_msg(st == NB_OK, "%s: %s", comma_locale, nb_error_message(&err));
    static const char *const files[] = { "costs.csv", "results.txt", "config.conf" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char a[700], b[700];
        snprintf(a, sizeof a, "%s/c/%s", tmpdir, files[i]);
        snprintf(b, sizeof b, "%s/comma/%s", tmpdir, files[i]);
        char *ta = slurp(a), *tb = slurp(b);
        ck_assert_msg(strcmp(ta, tb) == 0, "%s differs under %s:\n%.300s", files[i],
                      comma_locale, tb);
        free(ta);
        free(tb);
    }
}
END_TEST

int main(void)
{
    static const char *const names[] = { "de_DE.UTF-8", "de_DE.utf8", "de_DE" };
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !comma_locale; i++)
        if (setlocale(LC_ALL, names[i]) != NULL && strcmp(localeconv()->decimal_point, ",") == 0)
            comma_locale = names[i];
    setlocale(LC_ALL, "C");
    if (!comma_locale) {
        printf("SKIP: no decimal-comma locale (de_DE.UTF-8) on this machine; generate it with\n"
               "  sed -i 's/^# de_DE.UTF-8/de_DE.UTF-8/' /etc/locale.gen && locale-gen\n"
               "(./build.sh does this when run as root or with sudo)\n");
        return 77;
    }
    Suite *s = suite_create("locale");
    TCase *tc = tcase_create(comma_locale);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_locale_is_decimal_comma);
    tcase_add_test(tc, test_csv_reader);
    tcase_add_test(tc, test_config_parser_and_writer);
    tcase_add_test(tc, test_archive_and_model);
    tcase_add_test(tc, test_json_writer);
    tcase_add_test(tc, test_nabla_run);
    suite_add_tcase(s, tc);
    return nb_test_run(s);
}
