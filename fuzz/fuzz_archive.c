/* libFuzzer harness: the archive reader (src/io/archive.c), the format of
 * checkpoints and model files.  An archive that reads must hold what it
 * claims: every listed tensor present with finite values, every listed key
 * with a value.  A random mutation almost never keeps the CRC-32 right, so
 * an input refused for its checksum is read a second time with the CRC
 * recomputed: the fuzzer reaches the record parser, and the checksum test
 * itself is still fuzzed on the first read. */
#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nabla/nabla.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* CRC-32 as in the format (docs/formats-archive.md): reflected 0xEDB88320. */
static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static int read_one(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (read_one(data, size) != NB_ECHECKSUM || size < 12) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    uint32_t crc = crc32_of(fixed + 8, size - 12);
    for (int k = 0; k < 4; k++) fixed[size - 4 + k] = (uint8_t)(crc >> (8 * k));
    (void)read_one(fixed, size);
    free(fixed);
    return 0;
}

static int read_one(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = nb_fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return NB_OK;
    nb_archive *ar = NULL;
    nb_error err;
    int st = nb_archive_read(path, &ar, &err);
    close(fd);
    if (st != NB_OK) {
        if (ar) abort();   /* "On any error *out is NULL" */
        nb_fuzz_check_message(err.msg, sizeof err.msg);
        return st;
    }
    for (size_t i = 0; i < nb_archive_count(ar); i++) {
        const char *name = nb_archive_name_at(ar, i);
        size_t rows = 0, cols = 0;
        const double *v = nb_archive_get(ar, name, &rows, &cols);
        if (!v && rows * cols) abort();
        for (size_t j = 0; j < rows * cols; j++)
            if (!isfinite(v[j])) abort();
    }
    for (size_t i = 0; i < nb_archive_str_count(ar); i++) {
        const char *key = nb_archive_key_at(ar, i);
        if (!nb_archive_get_str(ar, key)) abort();
    }
    nb_archive_free(ar);
    return NB_OK;
}
