/* test_text.c — nabla/text.h: the one number parser and formatter and the
 * one JSON writer.  (Their behaviour under a decimal-comma locale is
 * test_locale.c's.) */
#define _GNU_SOURCE 1   /* fopencookie: a stream that fails as a memory stream does */
#include <config.h>

#include <errno.h>
#include <float.h>
#include <stdint.h>
#include <string.h>

#include <nabla/nabla.h>
#include "testutil.h"

/* ---- numbers ------------------------------------------------------------- */

/* In the C locale nb_strtod is strtod: value, end pointer and errno. */
START_TEST(test_strtod_is_strtod)
{
    static const char *const cases[] = {
        "2.385", "-0.0", "  +1e-3x", "0x1p-2", "inf", "-INF", "nan", ".5", "5.",
        "1e999", "-1e-400", "4.9406564584124654e-324", "abc", "", "1,5", "0.1e",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *e1, *e2;
        errno = 0;
        double a = strtod(cases[i], &e1);
        int err1 = errno;
        errno = 0;
        double b = nb_strtod(cases[i], &e2);
        int err2 = errno;
        ck_assert_msg(memcmp(&a, &b, sizeof a) == 0 || (a != a && b != b), "'%s': %.17g vs %.17g",
                      cases[i], a, b);
        ck_assert_msg(e1 == e2, "'%s': end pointers differ", cases[i]);
        ck_assert_msg(err1 == err2, "'%s': errno %d vs %d", cases[i], err1, err2);
    }
}
END_TEST

static uint64_t next_u64(uint64_t *s)   /* splitmix64 */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* nb_format_double reads back exactly, with at most 17 significant digits,
 * over random bit patterns (every exponent, subnormals included). */
START_TEST(test_format_double_round_trips)
{
    uint64_t seed = 2385;
    char buf[32];
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = next_u64(&seed);
        double x;
        memcpy(&x, &bits, sizeof x);
        if (!isfinite(x)) continue;
        nb_format_double(x, buf, sizeof buf);
        char *end;
        double y = nb_strtod(buf, &end);
        ck_assert_msg(*end == '\0' && memcmp(&x, &y, sizeof x) == 0, "%a -> '%s' -> %a", x, buf, y);
        ck_assert_uint_le(strlen(buf), 24);
    }
    ck_assert_str_eq(nb_format_double(0.1, buf, sizeof buf), "0.1");
    ck_assert_str_eq(nb_format_double(-0.0, buf, sizeof buf), "-0");
    ck_assert_str_eq(nb_format_double(1.0 / 3.0, buf, sizeof buf), "0.3333333333333333");
    ck_assert_str_eq(nb_format_double(NAN, buf, sizeof buf), "nan");
    ck_assert_str_eq(nb_format_double(-INFINITY, buf, sizeof buf), "-inf");
}
END_TEST

/* ---- JSON ---------------------------------------------------------------- */

/* The calls of build() written through a fresh writer into a string. */
static char *write_json(void (*build)(nb_json *), unsigned flags, int *status)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    nb_json j;
    nb_json_init(&j, f, flags);
    build(&j);
    *status = nb_json_finish(&j);
    ck_assert_int_eq(fclose(f), 0);
    return buf;
}

static void build_report(nb_json *j)
{
    nb_json_begin_object(j, 1);
    nb_json_key(j, "name");
    nb_json_string(j, "moons");
    nb_json_key(j, "seed");
    nb_json_uint(j, 2385);
    nb_json_key(j, "shift");
    nb_json_int(j, -12);
    nb_json_key(j, "ok");
    nb_json_bool(j, 1);
    nb_json_key(j, "none");
    nb_json_null(j);
    nb_json_key(j, "final");
    nb_json_begin_object(j, 0);
    nb_json_key(j, "cost");
    nb_json_number(j, 0.25);
    nb_json_key(j, "bad");
    nb_json_number(j, NAN);
    nb_json_key(j, "big");
    nb_json_number(j, -INFINITY);
    nb_json_end_object(j);
    nb_json_key(j, "list");
    nb_json_begin_array(j, 0);
    nb_json_number(j, 2.385);
    nb_json_number(j, 1e-300);
    nb_json_begin_array(j, 0);
    nb_json_end_array(j);
    nb_json_begin_object(j, 1);
    nb_json_end_object(j);
    nb_json_end_array(j);
    nb_json_end_object(j);
}

START_TEST(test_json_layouts)
{
    int st;
    char *s = write_json(build_report, 0, &st);
    ck_assert_int_eq(st, NB_OK);
    ck_assert_str_eq(s, "{\n"
                        "  \"name\": \"moons\",\n"
                        "  \"seed\": 2385,\n"
                        "  \"shift\": -12,\n"
                        "  \"ok\": true,\n"
                        "  \"none\": null,\n"
                        "  \"final\": {\"cost\": 0.25, \"bad\": null, \"big\": null},\n"
                        "  \"list\": [2.385, 1e-300, [], {}]\n"
                        "}\n");
    free(s);
    s = write_json(build_report, NB_JSON_COMPACT, &st);
    ck_assert_int_eq(st, NB_OK);
    ck_assert_str_eq(s, "{\n"
                        "  \"name\":\"moons\",\n"
                        "  \"seed\":2385,\n"
                        "  \"shift\":-12,\n"
                        "  \"ok\":true,\n"
                        "  \"none\":null,\n"
                        "  \"final\":{\"cost\":0.25,\"bad\":null,\"big\":null},\n"
                        "  \"list\":[2.385,1e-300,[],{}]\n"
                        "}\n");
    free(s);
}
END_TEST

static const char *string_input;
static void build_string(nb_json *j) { nb_json_string(j, string_input); }

static char *json_string_of(const char *in)
{
    int st;
    string_input = in;
    char *s = write_json(build_string, NB_JSON_COMPACT, &st);
    ck_assert_int_eq(st, NB_OK);
    return s;
}

START_TEST(test_json_strings)
{
    static const struct { const char *in, *out; } cases[] = {
        { "plain", "\"plain\"\n" },
        { "a\"b\\c", "\"a\\\"b\\\\c\"\n" },
        { "line\nbreak\ttab\x01\x1f", "\"line\\u000abreak\\u0009tab\\u0001\\u001f\"\n" },
        { "caf\xC3\xA9 \xE2\x88\x87 \xF0\x9F\x99\x82", "\"caf\xC3\xA9 \xE2\x88\x87 \xF0\x9F\x99\x82\"\n" },
        { "\xFF", "\"\\ufffd\"\n" },                     /* never valid */
        { "\xC0\x80", "\"\\ufffd\\ufffd\"\n" },          /* overlong NUL */
        { "\xED\xA0\x80", "\"\\ufffd\\ufffd\\ufffd\"\n" },  /* a surrogate */
        { "\xE2\x88", "\"\\ufffd\\ufffd\"\n" },          /* cut short at the end */
        { "\x7F", "\"\x7F\"\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = json_string_of(cases[i].in);
        ck_assert_msg(strcmp(s, cases[i].out) == 0, "case %zu: '%s'", i, s);
        free(s);
    }
}
END_TEST

/* Decodes the JSON string at s (escapes of the kinds the writer uses) into
 * out; returns 0 when s is not such a string with only printable ASCII or
 * UTF-8 between the quotes. */
static int decode(const char *s, char *out)
{
    if (*s++ != '"') return 0;
    while (*s != '"') {
        unsigned char c = (unsigned char)*s;
        if (c == '\0' || c < 0x20) return 0;
        if (c != '\\') {
            *out++ = *s++;
            continue;
        }
        s++;
        if (*s == '"' || *s == '\\') *out++ = *s++;
        else if (*s == 'u') {
            unsigned v;
            if (sscanf(s + 1, "%4x", &v) != 1) return 0;
            if (v == 0xFFFD) memcpy(out, "\xEF\xBF\xBD", 3), out += 3;
            else if (v < 0x20) *out++ = (char)v;
            else return 0;
            s += 5;
        } else return 0;
    }
    *out = '\0';
    return strcmp(s, "\"\n") == 0;
}

/* Random bytes: the writer's string decodes to the input with each byte of
 * invalid UTF-8 replaced by U+FFFD, and every valid sequence kept. */
START_TEST(test_json_strings_random)
{
    uint64_t seed = 17;
    for (int t = 0; t < 3000; t++) {
        char in[40], want[40 * 3 + 1], got[40 * 6 + 8];
        size_t n = next_u64(&seed) % 32, w = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = next_u64(&seed);
            /* Mostly ASCII, some continuation and lead bytes. */
            in[i] = (char)(r % 4 == 0 ? 0x80 + (r >> 8) % 0x80 : 1 + (r >> 8) % 0x7F);
        }
        in[n] = '\0';
        /* Expected decoding, with an independent validity rule (RFC 3629). */
        for (size_t i = 0; i < n;) {
            const unsigned char *p = (const unsigned char *)in + i;
            size_t len = p[0] < 0x80 ? 1 : p[0] >= 0xC2 && p[0] <= 0xDF ? 2
                       : p[0] >= 0xE0 && p[0] <= 0xEF ? 3 : p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : 0;
            int ok = len > 0 && i + len <= n;
            for (size_t k = 1; ok && k < len; k++) ok = (p[k] & 0xC0) == 0x80;
            if (ok && len == 3) ok = !(p[0] == 0xE0 && p[1] < 0xA0) && !(p[0] == 0xED && p[1] >= 0xA0);
            if (ok && len == 4) ok = !(p[0] == 0xF0 && p[1] < 0x90) && !(p[0] == 0xF4 && p[1] >= 0x90);
            if (!ok) {
                memcpy(want + w, "\xEF\xBF\xBD", 3);
                w += 3;
                i++;
            } else {
                memcpy(want + w, p, len);
                w += len;
                i += len;
            }
        }
        want[w] = '\0';
        char *s = json_string_of(in);
        ck_assert_msg(decode(s, got), "case %d: not a JSON string: %s", t, s);
        ck_assert_msg(strcmp(got, want) == 0, "case %d: decodes to '%s', want '%s'", t, got, want);
        free(s);
    }
}
END_TEST

static void misuse_close_unopened(nb_json *j) { nb_json_end_object(j); }
static void misuse_key_in_array(nb_json *j)
{
    nb_json_begin_array(j, 0);
    nb_json_key(j, "k");
    nb_json_end_array(j);
}
static void misuse_value_without_key(nb_json *j)
{
    nb_json_begin_object(j, 0);
    nb_json_number(j, 2.385);
    nb_json_end_object(j);
}
static void misuse_key_without_value(nb_json *j)
{
    nb_json_begin_object(j, 0);
    nb_json_key(j, "k");
    nb_json_end_object(j);
}
static void misuse_two_documents(nb_json *j)
{
    nb_json_number(j, 1.5);
    nb_json_number(j, 2.5);
}
static void misuse_left_open(nb_json *j) { nb_json_begin_array(j, 1); }
static void misuse_wrong_closer(nb_json *j)
{
    nb_json_begin_array(j, 0);
    nb_json_end_object(j);
}
static void misuse_too_deep(nb_json *j)
{
    for (int i = 0; i <= NB_JSON_MAX_DEPTH; i++) nb_json_begin_array(j, 0);
    for (int i = 0; i <= NB_JSON_MAX_DEPTH; i++) nb_json_end_array(j);
}
static void misuse_nothing(nb_json *j) { (void)j; }
static void deepest(nb_json *j)
{
    for (int i = 0; i < NB_JSON_MAX_DEPTH; i++) nb_json_begin_array(j, 0);
    for (int i = 0; i < NB_JSON_MAX_DEPTH; i++) nb_json_end_array(j);
}

START_TEST(test_json_misuse)
{
    void (*const cases[])(nb_json *) = {
        misuse_close_unopened, misuse_key_in_array, misuse_value_without_key,
        misuse_key_without_value, misuse_two_documents, misuse_left_open,
        misuse_wrong_closer, misuse_too_deep, misuse_nothing,
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st;
        free(write_json(cases[i], 0, &st));
        ck_assert_msg(st == NB_ESTATE, "case %zu: %s", i, nb_status_name(st));
    }
    /* The deepest allowed nesting is fine. */
    int st;
    char *s = write_json(deepest, NB_JSON_COMPACT, &st);
    ck_assert_int_eq(st, NB_OK);
    ck_assert_uint_eq(strlen(s), 2 * NB_JSON_MAX_DEPTH + 1);
    free(s);
}
END_TEST

static void build_big(nb_json *j)
{
    nb_json_begin_array(j, 0);
    for (int i = 0; i < 20000; i++) nb_json_number(j, 2.385 * i);
    nb_json_end_array(j);
}

START_TEST(test_json_write_error)
{
    FILE *f = fopen("/dev/full", "w");
    if (f == NULL) {
        printf("SKIP part: no /dev/full\n");
        return;
    }
    nb_json j;
    nb_json_init(&j, f, 0);
    build_big(&j);
    ck_assert_int_eq(nb_json_finish(&j), NB_EIO);
    fclose(f);
    nb_json_init(&j, NULL, 0);
    nb_json_null(&j);
    ck_assert_int_eq(nb_json_finish(&j), NB_EIO);
}
END_TEST

/* A stream that takes 100 bytes, then fails every write with errno err. */
typedef struct failing_sink {
    size_t taken;
    int err;
} failing_sink;

static ssize_t failing_write(void *cookie, const char *buf, size_t n)
{
    failing_sink *k = cookie;
    (void)buf;
    if (k->taken + n > 100) {
        errno = k->err;
        return -1;
    }
    k->taken += n;
    return (ssize_t)n;
}

/* Out of memory in the stream (what open_memstream's buffer does when it
 * cannot grow) is NB_ENOMEM, not an I/O error; any other failure NB_EIO. */
START_TEST(test_json_write_out_of_memory)
{
    const int errs[2] = { ENOMEM, ENOSPC };
    const int want[2] = { NB_ENOMEM, NB_EIO };
    for (int k = 0; k < 2; k++) {
        failing_sink sink = { 0, errs[k] };
        FILE *f = fopencookie(&sink, "w", (cookie_io_functions_t){ NULL, failing_write, NULL, NULL });
        ck_assert_ptr_nonnull(f);
        nb_json j;
        nb_json_init(&j, f, 0);
        build_big(&j);
        ck_assert_int_eq(nb_json_finish(&j), want[k]);
        fclose(f);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text");
    TCase *tn = tcase_create("numbers");
    tcase_add_test(tn, test_strtod_is_strtod);
    tcase_add_test(tn, test_format_double_round_trips);
    suite_add_tcase(s, tn);
    TCase *tj = tcase_create("json");
    tcase_add_test(tj, test_json_layouts);
    tcase_add_test(tj, test_json_strings);
    tcase_add_test(tj, test_json_strings_random);
    tcase_add_test(tj, test_json_misuse);
    tcase_add_test(tj, test_json_write_error);
    tcase_add_test(tj, test_json_write_out_of_memory);
    suite_add_tcase(s, tj);
    return nb_test_run(s);
}
