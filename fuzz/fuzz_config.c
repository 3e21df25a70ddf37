/* libFuzzer harness: the config parser (src/io/config.c) over the
 * experiment schema, through its in-memory entry point, then the resolved
 * config written back out and parsed again (what `nabla run` does with
 * config.conf in a run directory). */
#include "fuzz_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nabla/nabla.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n;
    const nb_config_key *schema = nb_experiment_schema(&n);
    nb_config *cfg = nb_config_alloc(schema, n);
    if (!cfg) return 0;
    char *text = malloc(size + 1);
    if (!text) { nb_config_free(cfg); return 0; }
    memcpy(text, data, size);
    text[size] = '\0';
    char msg[256];
    int st = nb_config_parse_string(cfg, text, "fuzz.conf", msg, sizeof msg);
    if (st != NB_OK) {
        nb_fuzz_check_message(msg, sizeof msg);
    } else {
        (void)nb_config_validate(cfg, msg, sizeof msg);
        /* Round trip: what the parser accepted, written out, must parse
         * again into a config that writes out identically. */
        char *out1 = NULL, *out2 = NULL;
        size_t len1 = 0, len2 = 0;
        FILE *f = open_memstream(&out1, &len1);
        if (f && nb_config_write(cfg, f) == NB_OK && fclose(f) == 0) {
            nb_config *again = nb_config_alloc(schema, n);
            if (again) {
                st = nb_config_parse_string(again, out1, "written.conf", msg, sizeof msg);
                if (st != NB_OK) {
                    fprintf(stderr, "written config does not parse: %s\n", msg);
                    abort();
                }
                FILE *g = open_memstream(&out2, &len2);
                if (g && nb_config_write(again, g) == NB_OK && fclose(g) == 0) {
                    if (len1 != len2 || memcmp(out1, out2, len1) != 0) {
                        fprintf(stderr, "config round trip differs\n");
                        abort();
                    }
                }
                nb_config_free(again);
            }
        }
        free(out1);
        free(out2);
    }
    free(text);
    nb_config_free(cfg);
    return 0;
}
