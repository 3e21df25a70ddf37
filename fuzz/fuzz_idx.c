/* libFuzzer harness: the IDX reader (src/data/idx.c), plain and gzip
 * (the reader decides by the first two bytes), then the image/label pair
 * loader with the same bytes as both files. */
#include "fuzz_util.h"

#include <stdint.h>
#include <unistd.h>

#include <nabla/nabla.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = nb_fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    nb_idx idx;
    nb_error err;
    int st = nb_idx_read(path, &idx, &err);
    if (st == NB_OK) {
        /* Touch every value: a size that disagrees with the buffer is a
         * finding for ASan. */
        volatile double sum = 0;
        for (size_t i = 0; i < idx.size; i++) sum += idx.data[i];
        (void)sum;
        nb_idx_free(&idx);
    } else {
        nb_fuzz_check_message(err.msg, sizeof err.msg);
    }
    nb_dataset ds = {0};
    st = nb_dataset_load_idx(path, size % 2 ? path : NULL, &ds, &err);
    if (st == NB_OK) nb_dataset_free(&ds);
    else nb_fuzz_check_message(err.msg, sizeof err.msg);
    close(fd);
    return 0;
}
