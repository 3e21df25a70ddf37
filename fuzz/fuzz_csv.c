/* libFuzzer harness: the CSV reader (src/data/csv.c), with the label in
 * the last column, with no label column, and with a named one. */
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
    static const char *const label[] = { NULL, "", "label" };
    for (size_t k = 0; k < sizeof label / sizeof *label; k++) {
        nb_dataset ds = {0};
        nb_error err;
        int st = nb_csv_read(path, label[k], &ds, &err);
        if (st == NB_OK) {
            volatile double sum = 0;
            for (size_t i = 0; i < ds.n * ds.d; i++) sum += ds.x[i];
            for (size_t i = 0; ds.label && i < ds.n; i++)
                if (ds.label[i] >= ds.n_classes) abort();
            (void)sum;
            nb_dataset_free(&ds);
        } else {
            nb_fuzz_check_message(err.msg, sizeof err.msg);
        }
    }
    close(fd);
    return 0;
}
