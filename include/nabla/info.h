/* nabla/info.h — what this build of nabla is bound to. */
#ifndef NABLA_INFO_H
#define NABLA_INFO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0" */
const char *nb_version(void);

/* The CBLAS actually bound at run time for GSL's BLAS calls: "openblas" or
 * "gslcblas" (or "unknown"), found by asking the dynamic linker which
 * library provides cblas_dgemm.  path receives that library's file name
 * when path != NULL (len bytes). */
const char *nb_blas_name(char *path, size_t len);

/* What configure chose ("openblas" or "gsl"). */
const char *nb_blas_configured(void);

/* BLAS threads (OpenBLAS's count; 1 for gslcblas). */
int nb_blas_threads(void);

/* OpenBLAS's configuration string, or "" when not OpenBLAS. */
const char *nb_blas_config(void);

#ifdef __cplusplus
}
#endif
#endif
