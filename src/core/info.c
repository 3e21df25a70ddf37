/* info.c — version and the BLAS bound at run time.
 *
 * Which CBLAS serves GSL's calls is decided by the dynamic linker (on
 * Debian, `-lgsl -lopenblas` binds OpenBLAS while `-lopenblas -lgsl` falls
 * back to gslcblas under --as-needed), so we ask it rather than trust what
 * configure intended. */
#include <config.h>

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_cblas.h>

#include <nabla/info.h>

const char *nb_version(void) { return PACKAGE_VERSION; }

const char *nb_blas_configured(void) { return NB_BLAS_CONFIGURED; }

const char *nb_blas_name(char *path, size_t len)
{
    /* The symbol gsl_blas_dgemm calls resolves the same way as ours. */
    void *sym = dlsym(RTLD_DEFAULT, "cblas_dgemm");
    Dl_info info;
    const char *name = "unknown";
    if (path && len) path[0] = '\0';
    if (sym && dladdr(sym, &info) && info.dli_fname) {
        if (path && len) snprintf(path, len, "%s", info.dli_fname);
        if (strstr(info.dli_fname, "openblas")) name = "openblas";
        else if (strstr(info.dli_fname, "gslcblas")) name = "gslcblas";
        else if (strstr(info.dli_fname, "blas")) name = "blas (other)";
    }
    return name;
}

int nb_blas_threads(void)
{
    int (*get)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    return get ? get() : 1;
}

const char *nb_blas_config(void)
{
    char *(*cfg)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_config");
    return cfg ? cfg() : "";
}
