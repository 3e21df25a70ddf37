/* test_messages.c — messages that echo user input keep their point (issue
 * #9, item 6): at most ~80 escaped characters of the input are echoed, so
 * the reason after it is never cut off, and a control character in the
 * input never splits a message over two lines.  One test per reader or
 * call that echoes input: CSV fields and file names, IDX and archive file
 * names, config file names and keys, graph parameter names, and `nabla run
 * --out` (archive tensor and model parameter names: test_archive.c). */
#include <config.h>

#include <string.h>
#include <unistd.h>

#include <nabla/nabla.h>
#include "testutil.h"

static char tmpdir[256];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nabla-msg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A message that kept its point: one line, not cut, holding the reason,
 * and echoing no more than the budget of each piece of input. */
static void assert_message(const char *msg, const char *reason)
{
    ck_assert_msg(strstr(msg, reason) != NULL, "reason '%s' lost: %s", reason, msg);
    ck_assert_msg(strchr(msg, '\n') == NULL && strchr(msg, '\r') == NULL,
                  "message over two lines: %s", msg);
    ck_assert_msg(strlen(msg) + 1 < NB_ERROR_MSG_MAX, "message cut: %s", msg);
    for (const char *p = msg; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
                      "unescaped byte 0x%02x in: %s", (unsigned char)*p, msg);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* A 10 MB field that is not a number: the message names the file, line
 * and column, echoes the start of the field, and says why. */
START_TEST(test_csv_huge_field)
{
    size_t n = 10u << 20;
    char *text = malloc(n + 64);
    ck_assert_ptr_nonnull(text);
    int h = sprintf(text, "x,label\n");
    memset(text + h, 'z', n);
    strcpy(text + h + n, ",1\n");
    char path[512];
    snprintf(path, sizeof path, "%s/huge.csv", tmpdir);
    write_bytes(path, text, strlen(text));
    free(text);
    nb_dataset ds;
    nb_error err;
    nb_error_clear(&err);
    ck_assert_int_eq(nb_csv_read(path, "label", &ds, &err), NB_EFORMAT);
    assert_message(err.msg, "is not a number");
    ck_assert_ptr_nonnull(strstr(err.msg, "huge.csv:2: column 1 'x': 'zzzz"));
    ck_assert_ptr_nonnull(strstr(err.msg, "... (10485680 more bytes)"));
}
END_TEST

/* A field and a column name with control characters and a newline. */
START_TEST(test_csv_control_characters)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ctl.csv", tmpdir);
    const char *text = "\"a\x1b[31mb\",label\n\"1\rx\",0\n";
    write_bytes(path, text, strlen(text));
    nb_dataset ds;
    nb_error err;
    nb_error_clear(&err);
    ck_assert_int_eq(nb_csv_read(path, "label", &ds, &err), NB_EFORMAT);
    assert_message(err.msg, "is not a number");
    ck_assert_ptr_nonnull(strstr(err.msg, "column 1 'a\\x1B[31mb': '1\\rx'"));
    /* No such label column: the list of columns is escaped too. */
    ck_assert_int_eq(nb_csv_read(path, "lab\nel", &ds, &err), NB_ENOTFOUND);
    assert_message(err.msg, "no column named 'lab\\nel' (columns: 'a\\x1B[31mb', 'label')");
}
END_TEST

/* A file name longer than any message: its end (the file's own name) and
 * the reason are kept, for every reader. */
START_TEST(test_long_file_names)
{
    char *dir = repeat('d', 3000);
    char path[3200];
    snprintf(path, sizeof path, "%s/%s/data.file", tmpdir, dir);
    free(dir);
    nb_error err;
    nb_error_clear(&err);
    nb_dataset ds;
    nb_idx idx;
    nb_archive *ar = NULL;
    ck_assert_int_eq(nb_csv_read(path, NULL, &ds, &err), NB_EIO);
    assert_message(err.msg, "/data.file: cannot open: ");
    ck_assert_int_eq(nb_idx_read(path, &idx, &err), NB_EIO);
    assert_message(err.msg, "/data.file: cannot open: ");
    ck_assert_int_eq(nb_archive_read(path, &ar, &err), NB_EIO);
    assert_message(err.msg, "/data.file: cannot open: ");
    ar = nb_archive_alloc();
    ck_assert_int_eq(nb_archive_write(ar, path, &err), NB_EIO);
    assert_message(err.msg, "cannot create a temporary file");
    nb_archive_free(ar);
    nb_config *cfg = nb_config_alloc(NULL, 0);
    ck_assert_int_eq(nb_config_load(cfg, path, &err), NB_EIO);
    assert_message(err.msg, "/data.file': ");
    nb_config_free(cfg);
}
END_TEST

/* Config: a file name with a newline in line errors, a 5000-character
 * unknown key from --set. */
START_TEST(test_config_names)
{
    static const nb_config_key schema[] = {
        { .name = "train.epochs", .type = NB_CONFIG_SIZE, .def = "3", .help = "passes" },
    };
    nb_config *cfg = nb_config_alloc(schema, 1);
    ck_assert_ptr_nonnull(cfg);
    nb_error err;
    nb_error_clear(&err);
    ck_assert_int_eq(nb_config_parse_string(cfg, "bogus = 1\n", "evil\nname.conf", &err),
                     NB_ECONFIG);
    assert_message(err.msg, "evil\\nname.conf:1: unknown key 'bogus'");
    char *key = repeat('k', 4000);
    char set[4100];
    snprintf(set, sizeof set, "%s=1", key);
    free(key);
    ck_assert_int_eq(nb_config_set(cfg, set, &err), NB_ECONFIG);
    assert_message(err.msg, "--set: unknown key 'kkkk");
    ck_assert_ptr_nonnull(strstr(err.msg, "more bytes)'"));
    nb_config_free(cfg);
}
END_TEST

/* A 5,000-character parameter name used twice: the graph's message keeps
 * "is already used". */
START_TEST(test_graph_param_name)
{
    char *name = repeat('p', 5000);
    nb_graph *g = nb_graph_alloc();
    ck_assert_ptr_nonnull(nb_param(g, name, 1, 1, NULL));
    ck_assert_ptr_null(nb_param(g, name, 1, 1, NULL));
    assert_message(nb_graph_errmsg(g), "is already used");
    nb_graph_free(g);
    free(name);
}
END_TEST

/* `nabla run --out` with a 5,000-character directory: the message keeps
 * the system's reason. */
START_TEST(test_run_long_out)
{
    char conf[512];
    snprintf(conf, sizeof conf, "%s/experiments/trask3.conf", nb_test_srcdir());
    char *dir = repeat('o', 5000);
    nb_run_opts o;
    nb_run_opts_init(&o);
    o.config_path = conf;
    o.out_dir = dir;
    nb_error err;
    nb_error_clear(&err);
    ck_assert_int_ne(nb_experiment_run(&o, &err), NB_OK);
    assert_message(err.msg, "': File name too long");
    ck_assert_ptr_nonnull(strstr(err.msg, "run directory 'oooo"));
    free(dir);
}
END_TEST

/* nb_error_escape itself: escapes are never cut, the budget counts what
 * is printed, the tail counts what was left out. */
START_TEST(test_escape_budget)
{
    char buf[NB_ERROR_ECHO_LEN];
    char in[200];
    memset(in, '\n', sizeof in - 1);
    in[sizeof in - 1] = '\0';
    nb_error_escape(buf, sizeof buf, in, (size_t)-1, NB_ERROR_ECHO_MAX);
    ck_assert_uint_eq(strspn(buf, "\\n"), 80);   /* 40 escapes of two characters */
    ck_assert_ptr_nonnull(strstr(buf, "... (159 more bytes)"));
    nb_error_escape(buf, sizeof buf, "\x01\x02\x03", (size_t)-1, 10);
    ck_assert_str_eq(buf, "\\x01\\x02... (1 more bytes)");
    ck_assert_str_eq(NB_ECHO("caf\xC3\xA9\t"), "caf\\xC3\\xA9\\t");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("messages");
    TCase *tc = tcase_create("echo");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_csv_huge_field);
    tcase_add_test(tc, test_csv_control_characters);
    tcase_add_test(tc, test_long_file_names);
    tcase_add_test(tc, test_config_names);
    tcase_add_test(tc, test_graph_param_name);
    tcase_add_test(tc, test_run_long_out);
    tcase_add_test(tc, test_escape_budget);
    suite_add_tcase(s, tc);
    return nb_test_run(s);
}
