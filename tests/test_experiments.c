/* test_experiments.c — the reference experiments reproduce their published
 * numbers through nb_experiment_run (what `nabla run` calls), runs are
 * reproducible byte for byte, resumable, and bad configs fail cleanly.
 * Sources of the numbers: the configs' comments and docs/reproducing.md;
 * full-precision references from the NumPy scripts in experiments/ref/. */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nabla/nabla.h>
#include "testutil.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nabla-exp-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void conf_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/experiments/%s.conf", nb_test_srcdir(), name);
}

/* Runs experiments/<name>.conf into <tmpdir>/<out> with overrides. */
static int run_exp(const char *name, const char *out, const char *const *sets, size_t n_sets,
                   size_t stop_after, int resume, nb_error *err)
{
    char conf[512], dir[512];
    conf_path(conf, sizeof conf, name);
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, out);
    nb_run_opts o;
    nb_run_opts_init(&o);
    o.config_path = conf;
    o.out_dir = dir;
    o.sets = sets;
    o.n_sets = n_sets;
    o.stop_after = stop_after;
    o.resume = resume;
    o.log = NULL;
    return nb_experiment_run(&o, err);
}

static void run_ok(const char *name, const char *out, const char *const *sets, size_t n_sets)
{
    nb_error err = {0};
    char *msg = err.msg;
    int st = run_exp(name, out, sets, n_sets, 0, 0, &err);
    ck_assert_msg(st == NB_OK, "%s: %s (%s)", name, msg, nb_strerror(st));
}

static char *slurp(const char *dir, const char *file, size_t *n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s/%s", tmpdir, dir, file);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap + 1);
            ck_assert_ptr_nonnull(buf);
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got == 0) break;
    }
    fclose(f);
    buf[len] = '\0';
    if (n) *n = len;
    return buf;
}

/* Value of column col in the costs.csv row whose step is step. */
static double csv_at(const char *dir, size_t step, const char *col)
{
    char *text = slurp(dir, "costs.csv", NULL);
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    int want = -1, k = 0;
    for (char *p = line, *e; p; p = e ? e + 1 : NULL, k++) {
        e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (strlen(col) == l && strncmp(p, col, l) == 0) want = k;
    }
    ck_assert_msg(want >= 0, "no column %s in %s/costs.csv", col, dir);
    double v = NAN;
    while ((line = strtok_r(NULL, "\n", &save))) {
        if (strtoul(line, NULL, 10) != step) continue;
        char *p = line;
        for (int i = 0; i < want && p; i++) {
            p = strchr(p, ',');
            if (p) p++;
        }
        if (p) v = strtod(p, NULL);
        break;
    }
    free(text);
    ck_assert_msg(!isnan(v), "no row for step %zu in %s/costs.csv", step, dir);
    return v;
}

/* The numbers on the lines after a header line of results.txt ("[outputs]",
 * or a parameter's "layer1.W (2x2)"), up to a line that is not numbers. */
static size_t results_values(const char *dir, const char *header, double *out, size_t max)
{
    char *text = slurp(dir, "results.txt", NULL);
    char *p = strstr(text, header);
    ck_assert_msg(p != NULL, "no '%s' in %s/results.txt", header, dir);
    p = strchr(p, '\n');
    size_t n = 0;
    while (p && p[1] && n < max) {
        char line[4096];
        char *nl = strchr(p + 1, '\n');
        size_t l = nl ? (size_t)(nl - p - 1) : strlen(p + 1);
        if (l == 0 || l >= sizeof line) break;
        memcpy(line, p + 1, l);
        line[l] = '\0';
        char *q = line, *end;
        size_t before = n;
        for (double v = strtod(q, &end); end != q && n < max; v = strtod(q, &end)) {
            out[n++] = v;
            q = end;
        }
        if (n == before) break;
        p = nl;
    }
    free(text);
    return n;
}

START_TEST(test_neuron)
{
    run_ok("neuron", "neuron", NULL, 0);
    double out[4];
    ck_assert_uint_eq(results_values("neuron", "[outputs]", out, 4), 1);
    NB_ASSERT_NEAR(out[0], 0.9933071490757153, 2e-16);
}
END_TEST

START_TEST(test_mazur)
{
    /* One step: E before and after, and the updated weights (Mazur 2015). */
    const char *one[] = { "train.epochs=1" };
    run_ok("mazur", "mazur1", one, 1);
    NB_ASSERT_NEAR(csv_at("mazur1", 0, "cost"), 0.298371109, 5e-10);
    NB_ASSERT_NEAR(csv_at("mazur1", 1, "cost"), 0.291027774, 5e-10);
    double w[8];
    /* W2 = [[w5, w7], [w6, w8]] */
    ck_assert_uint_eq(results_values("mazur1", "layer2.W (2x2)", w, 4), 4);
    NB_ASSERT_NEAR(w[0], 0.35891648, 5e-9);
    NB_ASSERT_NEAR(w[2], 0.408666186, 5e-10);
    NB_ASSERT_NEAR(w[1], 0.511301270, 5e-10);
    NB_ASSERT_NEAR(w[3], 0.561370121, 5e-10);
    /* W1 = [[w1, w3], [w2, w4]] */
    ck_assert_uint_eq(results_values("mazur1", "layer1.W (2x2)", w, 4), 4);
    NB_ASSERT_NEAR(w[0], 0.149780716, 5e-10);
    NB_ASSERT_NEAR(w[2], 0.19956143, 5e-9);
    NB_ASSERT_NEAR(w[1], 0.24975114, 5e-9);
    NB_ASSERT_NEAR(w[3], 0.29950229, 5e-9);
    /* Biases were not updated. */
    ck_assert_uint_eq(results_values("mazur1", "layer1.b (1x2)", w, 2), 2);
    NB_ASSERT_NEAR(w[0], 0.35, 0.0);
    /* 10,000 steps. */
    run_ok("mazur", "mazur", NULL, 0);
    NB_ASSERT_NEAR(csv_at("mazur", 10000, "cost"), 3.51019e-5, 5e-11);
}
END_TEST

START_TEST(test_trask2)
{
    run_ok("trask2", "trask2", NULL, 0);
    double out[4];
    ck_assert_uint_eq(results_values("trask2", "[outputs]", out, 4), 4);
    NB_ASSERT_NEAR(out[0], 0.00966449, 5e-9);
    NB_ASSERT_NEAR(out[1], 0.00786506, 5e-9);
    NB_ASSERT_NEAR(out[2], 0.99358898, 5e-9);
    NB_ASSERT_NEAR(out[3], 0.99211957, 5e-9);
}
END_TEST

START_TEST(test_trask3)
{
    run_ok("trask3", "trask3", NULL, 0);
    const double mae[6] = { 0.496410031903, 0.00858452565325, 0.00578945986251,
                            0.00462917677677, 0.00395876528027, 0.00351012256786 };
    for (size_t i = 0; i < 6; i++) {
        double v = csv_at("trask3", i * 10000, "mae");
        /* printed to 12 significant digits */
        NB_ASSERT_NEAR(v, mae[i], 5e-12 * fabs(mae[i]) * 10);
    }
}
END_TEST

START_TEST(test_moons)
{
    run_ok("moons", "moons", NULL, 0);
    /* Britz prints after each update: "iteration 0" is our step 1. */
    NB_ASSERT_NEAR(csv_at("moons", 1, "cost"), 0.432387, 5e-7);
    NB_ASSERT_NEAR(csv_at("moons", 1001, "cost"), 0.068947, 5e-7);
    /* NumPy reference to full precision (experiments/ref/moons.py). */
    NB_ASSERT_NEAR(csv_at("moons", 1, "cost"), 0.43238663152549245, 1e-12);
    NB_ASSERT_NEAR(csv_at("moons", 1001, "cost"), 0.0689465381198407, 1e-12);
    /* From about iteration 1,100 the summed gradient with lr 0.01 drives
     * training into a period-2 oscillation between two losses; last-bit
     * rounding (BLAS order, exp) sets its phase, so the last two steps
     * hold the same pair of values as NumPy's run, in either order
     * (docs/reproducing.md). */
    double a = csv_at("moons", 19999, "cost"), b = csv_at("moons", 20000, "cost");
    double lo = fmin(a, b), hi = fmax(a, b);
    NB_ASSERT_NEAR(lo, 0.07075794586898299, 2e-6);
    NB_ASSERT_NEAR(hi, 0.07131584554296222, 2e-6);
    ck_assert(csv_at("moons", 20000, "accuracy") > 0.95);
    size_t n;
    char *bd = slurp("moons", "boundary.dat", &n);
    ck_assert_uint_gt(n, 1000);
    free(bd);
    bd = slurp("moons", "boundary.gp", &n);
    free(bd);
}
END_TEST

START_TEST(test_logistic_gd_and_bfgs)
{
    run_ok("logistic", "logistic-gd", NULL, 0);
    const char *bfgs[] = { "optimizer.kind=bfgs", "train.epochs=500", "log.every=1" };
    run_ok("logistic", "logistic-bfgs", bfgs, 3);
    double gd[32], bf[32];
    ck_assert_uint_eq(results_values("logistic-gd", "layer1.W (30x1)", gd, 30), 30);
    ck_assert_uint_eq(results_values("logistic-bfgs", "layer1.W (30x1)", bf, 30), 30);
    char *t = slurp("logistic-gd", "results.txt", NULL);
    double cg = strtod(strstr(t, "final_cost = ") + 13, NULL);
    free(t);
    t = slurp("logistic-bfgs", "results.txt", NULL);
    double cb = strtod(strstr(t, "final_cost = ") + 13, NULL);
    free(t);
    /* The same optimum: BFGS converges fully; gradient descent gets close. */
    ck_assert_msg(fabs(cg - cb) <= 1e-6 * cb, "gd %.12g vs bfgs %.12g", cg, cb);
    ck_assert_msg(cb <= cg + 1e-12, "bfgs %.12g above gd %.12g", cb, cg);
    for (int i = 0; i < 30; i++) NB_ASSERT_NEAR(gd[i], bf[i], 2e-3);
    char *r = slurp("logistic-gd", "results.txt", NULL);
    double acc = strtod(strstr(r, "train_accuracy = ") + 17, NULL);
    free(r);
    ck_assert_msg(acc > 0.97, "train accuracy %g", acc);
}
END_TEST

/* Same config + seed = byte-identical costs.csv; another seed differs. */
START_TEST(test_reproducible)
{
    const char *s[] = { "train.epochs=400" };
    run_ok("moons", "rep-a", s, 1);
    run_ok("moons", "rep-b", s, 1);
    size_t na, nb;
    char *a = slurp("rep-a", "costs.csv", &na), *b = slurp("rep-b", "costs.csv", &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(a, b, na) == 0);
    free(b);
    const char *s2[] = { "train.epochs=400", "experiment.seed=7" };
    run_ok("moons", "rep-c", s2, 2);
    char *c = slurp("rep-c", "costs.csv", &nb);
    ck_assert(na != nb || memcmp(a, c, na) != 0);
    free(a);
    free(c);
    char *meta = slurp("rep-a", "meta.json", NULL);
    ck_assert(strstr(meta, "\"blas_bound\"") != NULL);
    ck_assert(strstr(meta, "\"status\": \"finished\"") != NULL);
    ck_assert(strstr(meta, "\"seed\": 0") != NULL);
    free(meta);
    char *conf = slurp("rep-a", "config.conf", NULL);
    ck_assert(strstr(conf, "epochs = 400") != NULL);
    free(conf);
}
END_TEST

/* A run stopped part-way and resumed ends with the same files as one that
 * ran through: full batch, and mini-batches with Adam's state. */
static void check_resume(const char *name, const char *const *sets, size_t n_sets, size_t stop)
{
    char ref[64], cut[64];
    nb_error err = {0};
    char *msg = err.msg;
    snprintf(ref, sizeof ref, "%s-ref", name);
    snprintf(cut, sizeof cut, "%s-cut", name);
    run_ok(name, ref, sets, n_sets);
    int st = run_exp(name, cut, sets, n_sets, stop, 0, &err);
    ck_assert_msg(st == NB_OK, "%s", msg);
    char p[600];
    snprintf(p, sizeof p, "%s/%s/checkpoint.nbk", tmpdir, cut);
    ck_assert_msg(access(p, F_OK) == 0, "no checkpoint after stopping at %zu", stop);
    st = run_exp(name, cut, NULL, 0, 0, 1, &err);
    ck_assert_msg(st == NB_OK, "resume: %s", msg);
    size_t na, nb;
    char *a = slurp(ref, "costs.csv", &na), *b = slurp(cut, "costs.csv", &nb);
    ck_assert_msg(na == nb && memcmp(a, b, na) == 0, "costs.csv differs after resume");
    free(a);
    free(b);
    a = slurp(ref, "results.txt", &na);
    b = slurp(cut, "results.txt", &nb);
    ck_assert_msg(na == nb && memcmp(a, b, na) == 0, "results.txt differs after resume");
    free(a);
    free(b);
    char *meta = slurp(cut, "meta.json", NULL);
    ck_assert(strstr(meta, "resumed_from_step") != NULL);
    free(meta);
}

START_TEST(test_resume_full_batch)
{
    const char *s[] = { "train.epochs=2500", "train.checkpoint_every=500", "log.every=10" };
    check_resume("moons", s, 3, 1733);
}
END_TEST

START_TEST(test_resume_minibatch_adam)
{
    const char *s[] = { "optimizer.kind=adam", "optimizer.lr=0.01", "train.batch_size=16",
                        "train.epochs=12", "train.checkpoint_every=20", "data.validation=40",
                        "log.metrics=accuracy" };
    check_resume("moons", s, 7, 51);
}
END_TEST

START_TEST(test_gradcheck_during_training)
{
    const char *s[] = { "train.epochs=50", "log.gradcheck_every=10" };
    run_ok("moons", "gc", s, 2);
    char *g = slurp("gc", "gradcheck.log", NULL);
    ck_assert(strstr(g, "step,verdict") == g);
    ck_assert(strstr(g, "\n0,pass,") != NULL);
    ck_assert(strstr(g, "\n40,pass,") != NULL);
    ck_assert(strstr(g, "FAIL") == NULL);
    free(g);
    /* Checking never changes training. */
    const char *s0[] = { "train.epochs=50" };
    run_ok("moons", "nogc", s0, 1);
    size_t na, nb;
    char *a = slurp("gc", "costs.csv", &na), *b = slurp("nogc", "costs.csv", &nb);
    ck_assert(na == nb && memcmp(a, b, na) == 0);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_errors)
{
    nb_error err = {0};
    char *msg = err.msg;
    /* Unknown key and bad value: named with the origin. */
    const char *bad1[] = { "optimizer.lrr=0.1" };
    ck_assert_int_eq(run_exp("moons", "e1", bad1, 1, 0, 0, &err), NB_ECONFIG);
    ck_assert_msg(strstr(msg, "optimizer.lrr") && strstr(msg, "optimizer.lr"), "%s", msg);
    const char *bad2[] = { "optimizer.lr=-2" };
    ck_assert_int_eq(run_exp("moons", "e2", bad2, 1, 0, 0, &err), NB_ECONFIG);
    ck_assert_msg(strstr(msg, "optimizer.lr"), "%s", msg);
    const char *bad3[] = { "model.activation=nonsense" };
    ck_assert_int_eq(run_exp("moons", "e3", bad3, 1, 0, 0, &err), NB_ECONFIG);
    ck_assert_msg(strstr(msg, "nonsense"), "%s", msg);
    /* Shapes that do not fit the data. */
    const char *bad4[] = { "model.layers=3, 4, 2" };
    ck_assert_int_eq(run_exp("moons", "e4", bad4, 1, 0, 0, &err), NB_ECONFIG);
    ck_assert_msg(strstr(msg, "input width 3") && strstr(msg, "2 features"), "%s", msg);
    /* Missing data file: named. */
    const char *bad5[] = { "data.path=does-not-exist.csv" };
    ck_assert_int_ne(run_exp("logistic", "e5", bad5, 1, 0, 0, &err), NB_OK);
    ck_assert_msg(strstr(msg, "does-not-exist.csv"), "%s", msg);
    /* Nothing written for any of them. */
    char p[600];
    for (int i = 1; i <= 5; i++) {
        snprintf(p, sizeof p, "%s/e%d", tmpdir, i);
        ck_assert_msg(access(p, F_OK) != 0, "%s was created", p);
    }
    /* An existing run is not overwritten; resuming nothing is refused. */
    const char *s[] = { "train.epochs=5" };
    run_ok("moons", "twice", s, 1);
    ck_assert_int_eq(run_exp("moons", "twice", s, 1, 0, 0, &err), NB_ESTATE);
    ck_assert_msg(strstr(msg, "--resume"), "%s", msg);
    snprintf(p, sizeof p, "%s/empty", tmpdir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    ck_assert_int_ne(run_exp("moons", "empty", NULL, 0, 0, 1, &err), NB_OK);
    /* A missing config file. */
    nb_run_opts o;
    nb_run_opts_init(&o);
    o.config_path = "/nonexistent/x.conf";
    ck_assert_int_eq(nb_experiment_run(&o, &err), NB_EIO);
    ck_assert_msg(strstr(msg, "/nonexistent/x.conf"), "%s", msg);
    ck_assert_int_eq(nb_experiment_run(NULL, &err), NB_EINVAL);
}
END_TEST

/* experiment.name names the default run directory runs/<name>-seed<seed>
 * and titles the plots: a name that is not one printable directory name is
 * refused with the reason, before anything is written; a quote in it is
 * doubled inside gnuplot's quotes (it used to end the title's string, and
 * gnuplot then failed on the rest of the script). */
START_TEST(test_run_name)
{
    nb_error err = {0};
    char *msg = err.msg;
    const char *empty[] = { "experiment.name=" };
    ck_assert_int_eq(run_exp("moons", "n1", empty, 1, 0, 0, &err), NB_ECONFIG);
    ck_assert_msg(strstr(msg, "experiment.name") && strstr(msg, "is empty"), "%s", msg);
    const char *slash[] = { "experiment.name=lr/2.385" };
    ck_assert_int_eq(run_exp("moons", "n2", slash, 1, 0, 0, &err), NB_ECONFIG);
    ck_assert_msg(strstr(msg, "contains '/'"), "%s", msg);
    const char *tab[] = { "experiment.name=lr\t2.385" };
    ck_assert_int_eq(run_exp("moons", "n3", tab, 1, 0, 0, &err), NB_ECONFIG);
    ck_assert_msg(strstr(msg, "control character 0x09"), "%s", msg);
    char longname[300] = "experiment.name=";
    memset(longname + strlen(longname), 'n', 201);
    const char *longset[] = { longname };
    ck_assert_int_eq(run_exp("moons", "n4", longset, 1, 0, 0, &err), NB_ECONFIG);
    ck_assert_msg(strstr(msg, "201 bytes long; at most 200"), "%s", msg);
    char p[600];
    for (int i = 1; i <= 4; i++) {
        snprintf(p, sizeof p, "%s/n%d", tmpdir, i);
        ck_assert_msg(access(p, F_OK) != 0, "%s was created", p);
    }
    const char *quoted[] = { "experiment.name=\"it's 2.385\"", "train.epochs=2" };
    run_ok("moons", "quoted", quoted, 2);
    size_t n;
    char *gp = slurp("quoted", "cost.gp", &n);
    ck_assert_msg(strstr(gp, "set title 'nabla run it''s 2.385 (seed "), "%s", gp);
    free(gp);
    gp = slurp("quoted", "boundary.gp", &n);
    ck_assert_msg(strstr(gp, "set title 'nabla run it''s 2.385: decision boundary'"), "%s", gp);
    free(gp);
}
END_TEST

/* Rewrites counter idx of DIR/checkpoint.nbk through the archive API, so
 * that the file is well formed and its CRC valid: only its sense is wrong. */
static void forge_counter(const char *dir, size_t idx, double v)
{
    char path[600];
    nb_error err;
    nb_error_clear(&err);
    const char *msg = err.msg;
    snprintf(path, sizeof path, "%s/%s/checkpoint.nbk", tmpdir, dir);
    nb_archive *ar = NULL;
    ck_assert_msg(nb_archive_read(path, &ar, &err) == NB_OK, "%s", msg);
    size_t rows, cols;
    const double *c = nb_archive_get(ar, "state", &rows, &cols);
    ck_assert(c != NULL && rows == 1 && cols == 8 && idx < cols);
    double cc[8];
    memcpy(cc, c, sizeof cc);
    cc[idx] = v;
    ck_assert_int_eq(nb_archive_put(ar, "state", 1, 8, cc), NB_OK);
    ck_assert_msg(nb_archive_write(ar, path, &err) == NB_OK, "%s", msg);
    nb_archive_free(ar);
}

/* A checkpoint is untrusted input even with a valid CRC: forged counters
 * and a log shorter than recorded are refused before any file is touched
 * (issue #9.3: 1e12 grew costs.csv into a 1 TB sparse file, -5 dropped
 * every row, 1e300 was cast to size_t, a short log was padded with NULs). */
START_TEST(test_forged_checkpoints)
{
    const char *s[] = { "train.epochs=200", "train.checkpoint_every=50", "log.every=1",
                        "log.gradcheck_every=40", "log.plot=false" };
    struct {
        size_t idx;      /* counter; 99: cut costs.csv instead */
        double v;
        const char *says;
    } cases[] = {
        { 2, 1e12, "the file has" },            /* costs.csv length beyond the file */
        { 2, -5, "not a byte count" },          /* negative length (NaN cannot be stored: archives refuse it) */
        { 2, 100.5, "not a byte count" },
        { 2, 20, "not a byte count" },          /* shorter than the header */
        { 2, 2000, "not the end of a row" },    /* inside a row */
        { 3, 1e12, "gradcheck.log" },
        { 0, 1e300, "step" },                   /* was cast to size_t: UB */
        { 0, 7, "step" },                       /* not epoch x steps per epoch */
        { 1, 1e300, "epoch" },
        { 1, 500, "epoch" },                    /* beyond train.epochs */
        { 5, 3, "without improvement" },        /* bad epochs without patience */
        { 6, 1, "best-parameters" },
        { 99, 0, "the file has" },              /* costs.csv cut after the checkpoint */
    };
    nb_error err;
    const char *msg = err.msg;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[32];
        snprintf(dir, sizeof dir, "forged%zu", i);
        nb_error_clear(&err);
        ck_assert_msg(run_exp("moons", dir, s, 5, 120, 0, &err) == NB_OK, "%s", msg);
        if (cases[i].idx == 99) {
            char p[600];
            snprintf(p, sizeof p, "%s/%s/costs.csv", tmpdir, dir);
            struct stat st;
            ck_assert_int_eq(stat(p, &st), 0);
            /* the checkpoint was taken at step 100; rows to 120 follow: cut
             * into the checkpointed part */
            size_t n;
            char *text = slurp(dir, "costs.csv", &n);
            char *row = strstr(text, "\n90,90,");
            ck_assert_ptr_nonnull(row);
            ck_assert_int_eq(truncate(p, (off_t)(row - text + 1)), 0);
            free(text);
        } else {
            forge_counter(dir, cases[i].idx, cases[i].v);
        }
        size_t nc0, ng0, nm0;
        char *c0 = slurp(dir, "costs.csv", &nc0), *g0 = slurp(dir, "gradcheck.log", &ng0),
             *m0 = slurp(dir, "meta.json", &nm0);
        int st = run_exp("moons", dir, NULL, 0, 0, 1, &err);
        ck_assert_msg(st == NB_EFORMAT, "case %zu: status %s (%s)", i, nb_status_name(st), msg);
        ck_assert_msg(strstr(msg, cases[i].says) != NULL, "case %zu: '%s' lacks '%s'", i, msg, cases[i].says);
        size_t nc1, ng1, nm1;
        char *c1 = slurp(dir, "costs.csv", &nc1), *g1 = slurp(dir, "gradcheck.log", &ng1),
             *m1 = slurp(dir, "meta.json", &nm1);
        ck_assert_msg(nc0 == nc1 && memcmp(c0, c1, nc0) == 0, "case %zu: costs.csv changed", i);
        ck_assert_msg(ng0 == ng1 && memcmp(g0, g1, ng0) == 0, "case %zu: gradcheck.log changed", i);
        ck_assert_msg(nm0 == nm1 && memcmp(m0, m1, nm0) == 0, "case %zu: meta.json changed", i);
        free(c0), free(g0), free(m0), free(c1), free(g1), free(m1);
    }
    /* The same run, unforged, resumes to the uninterrupted run's files. */
    run_ok("moons", "forged-ref", s, 5);
    ck_assert_msg(run_exp("moons", "forged-ok", s, 5, 120, 0, &err) == NB_OK, "%s", msg);
    ck_assert_msg(run_exp("moons", "forged-ok", NULL, 0, 0, 1, &err) == NB_OK, "%s", msg);
    size_t na, nb;
    char *a = slurp("forged-ref", "costs.csv", &na), *b = slurp("forged-ok", "costs.csv", &nb);
    ck_assert(na == nb && memcmp(a, b, na) == 0);
    free(a), free(b);
}
END_TEST

/* --resume of a finished run changes nothing and succeeds (issue #12.4:
 * it trained the run again from step 0). */
START_TEST(test_resume_finished)
{
    const char *s[] = { "train.epochs=30", "log.plot=false" };
    run_ok("moons", "done", s, 2);
    const char *files[] = { "costs.csv", "results.txt", "meta.json", "model.nbm", "config.conf", "timing.log" };
    char *before[6];
    size_t nb4[6];
    for (int i = 0; i < 6; i++) before[i] = slurp("done", files[i], &nb4[i]);
    nb_error err;
    nb_error_clear(&err);
    ck_assert_msg(run_exp("moons", "done", NULL, 0, 0, 1, &err) == NB_OK, "%s", err.msg);
    for (int i = 0; i < 6; i++) {
        size_t n;
        char *after = slurp("done", files[i], &n);
        ck_assert_msg(n == nb4[i] && memcmp(after, before[i], n) == 0, "%s changed", files[i]);
        free(after);
        free(before[i]);
    }
}
END_TEST

/* Every key of the schema is valid, and every reference config parses. */
START_TEST(test_schema_and_configs)
{
    size_t n;
    const nb_config_key *k = nb_experiment_schema(&n);
    nb_error err = {0};
    char *msg = err.msg;
    ck_assert_msg(nb_config_schema_check(k, n, &err) == NB_OK, "%s", msg);
    const char *names[] = { "neuron", "mazur", "trask2", "trask3", "moons", "logistic",
                            "nielsen-fashion", "fashion-mlp" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        nb_config *c = nb_config_alloc(k, n);
        char conf[512];
        conf_path(conf, sizeof conf, names[i]);
        ck_assert_msg(nb_config_load(c, conf, &err) == NB_OK, "%s", msg);
        ck_assert_msg(nb_config_validate(c, &err) == NB_OK, "%s", msg);
        nb_config_free(c);
    }
}
END_TEST

/* The config's word lists come from the modules that own the words: every
 * unary registry op is an activation, every two-input op of the loss family
 * (and half_sse) a loss, and model.init takes exactly nb_init_names, indexed
 * by nb_init_kind. */
START_TEST(test_config_words_from_owners)
{
    size_t n;
    const nb_config_key *k = nb_experiment_schema(&n);
    nb_config *c = nb_config_alloc(k, n);
    char set[96];
    nb_error err;
    size_t losses = 0;
    for (size_t i = 0; i < nb_op_count(); i++) {
        const nb_op *op = nb_op_at(i);
        int is_loss = op->arity == 2 && strcmp(nb_op_family(op), "loss") == 0;
        losses += is_loss;
        snprintf(set, sizeof set, "loss.kind=%s", op->name);
        ck_assert_msg((nb_config_set(c, set, &err) == NB_OK) == is_loss, "%s: %s", set, err.msg);
        snprintf(set, sizeof set, "model.activation=%s", op->name);
        ck_assert_msg((nb_config_set(c, set, &err) == NB_OK) == (op->arity == 1), "%s: %s",
                      set, err.msg);
    }
    ck_assert_uint_ge(losses, 4);   /* mse bce bce_logits softmax_ce, and any added */
    ck_assert_int_eq(nb_config_set(c, "loss.kind=half_sse", &err), NB_OK);
    ck_assert_int_eq(nb_config_set(c, "loss.kind=l2", &err), NB_ECONFIG);
    ck_assert_msg(strstr(err.msg, "not a loss") && strstr(err.msg, "softmax_ce") &&
                      strstr(err.msg, "half_sse"),
                  "%s", err.msg);
    size_t inits = 0;
    for (; nb_init_names[inits]; inits++) {
        snprintf(set, sizeof set, "model.init=%s", nb_init_names[inits]);
        ck_assert_msg(nb_config_set(c, set, &err) == NB_OK, "%s: %s", set, err.msg);
        size_t idx;
        ck_assert_int_eq(nb_config_get_enum(c, "model.init", &idx), NB_OK);
        ck_assert_str_eq(nb_init_name((nb_init_kind)idx), nb_init_names[inits]);
    }
    ck_assert_uint_eq(inits, NB_INIT_HE_NORMAL + 1);
    ck_assert_int_eq(nb_config_set(c, "model.init=glorot", &err), NB_ECONFIG);
    nb_config_free(c);
}
END_TEST

/* The optimizer and schedule words come from the optimizer module's tables:
 * each of their names (and bfgs) is accepted and named in the key's help,
 * another word is refused with the names listed. */
START_TEST(test_schema_optimizer_words)
{
    size_t n;
    const nb_config_key *k = nb_experiment_schema(&n);
    const char *help_kind = NULL, *help_sched = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(k[i].name, "optimizer.kind") == 0) help_kind = k[i].help;
        if (strcmp(k[i].name, "optimizer.schedule") == 0) help_sched = k[i].help;
    }
    ck_assert(help_kind != NULL && help_sched != NULL);
    nb_config *c = nb_config_alloc(k, n);
    char set[128];
    nb_error err;
    for (size_t i = 0; i <= nb_optim_type_count(); i++) {
        const char *name = i < nb_optim_type_count() ? nb_optim_type_at(i)->name : "bfgs";
        snprintf(set, sizeof set, "optimizer.kind=%s", name);
        ck_assert_msg(nb_config_set(c, set, &err) == NB_OK, "%s", err.msg);
        ck_assert_msg(strstr(help_kind, name) != NULL, "help lacks %s", name);
    }
    for (size_t i = 0; i < nb_schedule_type_count(); i++) {
        const char *name = nb_schedule_type_at(i)->name;
        snprintf(set, sizeof set, "optimizer.schedule=%s", name);
        ck_assert_msg(nb_config_set(c, set, &err) == NB_OK, "%s", err.msg);
        ck_assert_msg(strstr(help_sched, name) != NULL, "help lacks %s", name);
    }
    ck_assert_int_eq(nb_config_set(c, "optimizer.kind=adamw", &err), NB_ECONFIG);
    ck_assert_msg(strstr(err.msg, "nesterov") && strstr(err.msg, "bfgs"), "%s", err.msg);
    ck_assert_int_eq(nb_config_set(c, "optimizer.schedule=cosine", &err), NB_ECONFIG);
    ck_assert_msg(strstr(err.msg, "exp"), "%s", err.msg);
    nb_config_free(c);
}
END_TEST

static void setup(void) { make_tmpdir(); }
static void teardown(void) { remove_tree(tmpdir); }

static Suite *experiments_suite(void)
{
    Suite *s = suite_create("experiments");
    TCase *tc = tcase_create("reference");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_schema_and_configs);
    tcase_add_test(tc, test_config_words_from_owners);
    tcase_add_test(tc, test_schema_optimizer_words);
    tcase_add_test(tc, test_neuron);
    tcase_add_test(tc, test_mazur);
    tcase_add_test(tc, test_trask2);
    tcase_add_test(tc, test_trask3);
    tcase_add_test(tc, test_moons);
    tcase_add_test(tc, test_logistic_gd_and_bfgs);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("runs");
    tcase_add_checked_fixture(tr, setup, teardown);
    tcase_set_timeout(tr, 600);
    tcase_add_test(tr, test_reproducible);
    tcase_add_test(tr, test_resume_full_batch);
    tcase_add_test(tr, test_resume_minibatch_adam);
    tcase_add_test(tr, test_gradcheck_during_training);
    tcase_add_test(tr, test_errors);
    tcase_add_test(tr, test_run_name);
    tcase_add_test(tr, test_forged_checkpoints);
    tcase_add_test(tr, test_resume_finished);
    suite_add_tcase(s, tr);
    return s;
}

int main(void) { return nb_test_run(experiments_suite()); }
