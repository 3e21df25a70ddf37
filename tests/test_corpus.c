/* test_corpus.c — every seed of the fuzz corpora (fuzz/corpus/NAME/),
 * replayed through its reader in the normal suite.
 *
 * The fuzz harnesses need clang and run only in `./build.sh fuzz` and CI's
 * fuzz step; this suite replays the seeds with every compiler and under
 * `./build.sh sanitize`, with the harnesses' contract: no crash, an error
 * leaves its output empty, and a message is one printable line (control
 * characters of the input escaped).  A seed named msg-* is an input the
 * fuzzer found that broke that last rule (docs/testing.md). */
#include <config.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <nabla/nabla.h>

#include "testutil.h"

/* Calls fn(path, ud) for each regular file of fuzz/corpus/name; returns how
 * many there were. */
static size_t each_seed(const char *name, void (*fn)(const char *path, void *ud), void *ud)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", nb_test_srcdir(), name);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        fn(path, ud);
        n++;
    }
    closedir(d);
    return n;
}

static void assert_one_line(const nb_error *err, const char *path)
{
    ck_assert_msg(err->msg[0] != '\0', "%s: an error without a message", path);
    for (const char *c = err->msg; *c; c++)
        ck_assert_msg((unsigned char)*c >= 0x20 && *c != 0x7f,
                      "%s: message holds control character 0x%02x: %s", path,
                      (unsigned char)*c, err->msg);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    size_t got;
    while ((got = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) s = realloc(s, cap *= 2);
        ck_assert_ptr_nonnull(s);
    }
    fclose(f);
    s[n] = '\0';
    return s;
}

static void config_seed(const char *path, void *ud)
{
    size_t n, *errors = ud;
    const nb_config_key *schema = nb_experiment_schema(&n);
    nb_config *cfg = nb_config_alloc(schema, n);
    ck_assert_ptr_nonnull(cfg);
    char *text = slurp(path);
    nb_error err;
    nb_error_clear(&err);
    if (nb_config_parse_string(cfg, text, "seed.conf", &err) != NB_OK) {
        assert_one_line(&err, path);
        ++*errors;
    }
    free(text);
    nb_config_free(cfg);
}

static void idx_seed(const char *path, void *ud)
{
    size_t *errors = ud;
    nb_idx idx;
    nb_error err;
    nb_error_clear(&err);
    if (nb_idx_read(path, &idx, &err) == NB_OK) {
        ck_assert_uint_gt(idx.size, 0);
        nb_idx_free(&idx);
    } else {
        ck_assert_ptr_null(idx.data);
        assert_one_line(&err, path);
        ++*errors;
    }
}

static void csv_seed(const char *path, void *ud)
{
    size_t *errors = ud;
    nb_dataset ds = { 0 };
    nb_error err;
    nb_error_clear(&err);
    if (nb_csv_read(path, NULL, &ds, &err) == NB_OK) {
        for (size_t i = 0; ds.label && i < ds.n; i++) ck_assert_uint_lt(ds.label[i], ds.n_classes);
        nb_dataset_free(&ds);
    } else {
        ck_assert_ptr_null(ds.x);
        assert_one_line(&err, path);
        ++*errors;
    }
}

static void archive_seed(const char *path, void *ud)
{
    size_t *errors = ud;
    nb_archive *ar = NULL;
    nb_error err;
    nb_error_clear(&err);
    if (nb_archive_read(path, &ar, &err) == NB_OK) {
        ck_assert_ptr_nonnull(ar);
        nb_archive_free(ar);
    } else {
        ck_assert_ptr_null(ar);
        assert_one_line(&err, path);
        ++*errors;
    }
}

/* Each corpus holds seeds the reader refuses (at least the msg-* one) and
 * seeds it accepts. */
START_TEST(test_config_seeds)
{
    size_t errors = 0, n = each_seed("config", config_seed, &errors);
    ck_assert_uint_gt(errors, 0);
    ck_assert_uint_lt(errors, n);
}
END_TEST

START_TEST(test_idx_seeds)
{
    size_t errors = 0, n = each_seed("idx", idx_seed, &errors);
    ck_assert_uint_gt(errors, 0);
    ck_assert_uint_lt(errors, n);
}
END_TEST

START_TEST(test_csv_seeds)
{
    size_t errors = 0, n = each_seed("csv", csv_seed, &errors);
    ck_assert_uint_gt(errors, 0);
    ck_assert_uint_lt(errors, n);
}
END_TEST

START_TEST(test_archive_seeds)
{
    size_t errors = 0, n = each_seed("archive", archive_seed, &errors);
    ck_assert_uint_gt(errors, 0);
    ck_assert_uint_lt(errors, n);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("corpus");
    TCase *tc = tcase_create("seeds");
    tcase_add_test(tc, test_config_seeds);
    tcase_add_test(tc, test_idx_seeds);
    tcase_add_test(tc, test_csv_seeds);
    tcase_add_test(tc, test_archive_seeds);
    suite_add_tcase(s, tc);
    return nb_test_run(s);
}
