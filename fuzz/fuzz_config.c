/* libFuzzer harness: the config parser (src/io/config.c) over the
 * experiment schema, through its in-memory entry point.  What it accepts is
 * written out and read back (what `nabla run` does with config.conf in a
 * run directory): the written text must parse, and writing the re-read
 * config must reach a fixed point (the first write differs from the second
 * only in its origin comments, "# default" becoming "# written.conf:8"). */
#include "fuzz_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes cfg into a new string (*len bytes); NULL when out of memory. */
static char *write_string(const nb_config *cfg, size_t *len)
{
    char *out = NULL;
    FILE *f = open_memstream(&out, len);
    if (!f) return NULL;
    int st = nb_config_write(cfg, f);
    if (fclose(f) != 0 || st != NB_OK) { free(out); return NULL; }
    return out;
}

/* Parses text as "written.conf" into a new config; aborts when the parser
 * refuses what the writer wrote. */
static nb_config *reparse(const char *text)
{
    size_t n;
    const nb_config_key *schema = nb_experiment_schema(&n);
    nb_config *cfg = nb_config_alloc(schema, n);
    if (!cfg) return NULL;
    nb_error err;
    if (nb_config_parse_string(cfg, text, "written.conf", &err) != NB_OK) {
        fprintf(stderr, "written config does not parse: %s\n--- text:\n%s", err.msg, text);
        abort();
    }
    return cfg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n;
    const nb_config_key *schema = nb_experiment_schema(&n);
    nb_config *cfg = nb_config_alloc(schema, n);
    char *text = malloc(size + 1);
    if (!cfg || !text) { nb_config_free(cfg); free(text); return 0; }
    memcpy(text, data, size);
    text[size] = '\0';
    nb_error err;
    int st = nb_config_parse_string(cfg, text, "fuzz.conf", &err);
    free(text);
    if (st != NB_OK) {
        nb_fuzz_check_message(err.msg, sizeof err.msg);
        nb_config_free(cfg);
        return 0;
    }
    if (nb_config_validate(cfg, &err) != NB_OK)
        nb_fuzz_check_message(err.msg, sizeof err.msg);
    size_t len1 = 0, len2 = 0, len3 = 0;
    char *out1 = write_string(cfg, &len1);
    nb_config *again = out1 ? reparse(out1) : NULL;
    char *out2 = again ? write_string(again, &len2) : NULL;
    nb_config *third = out2 ? reparse(out2) : NULL;
    char *out3 = third ? write_string(third, &len3) : NULL;
    if (out3 && (len2 != len3 || memcmp(out2, out3, len2) != 0)) {
        fprintf(stderr, "config write/read has no fixed point:\n--- 2nd:\n%s--- 3rd:\n%s", out2, out3);
        abort();
    }
    free(out1); free(out2); free(out3);
    nb_config_free(third);
    nb_config_free(again);
    nb_config_free(cfg);
    return 0;
}
