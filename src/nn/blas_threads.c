/* blas_threads.c -- how many threads OpenBLAS may use inside one GEMM. */
#include "neuromap.h"

#include <cblas.h>

void nm_set_blas_threads(int n)
{
    openblas_set_num_threads(n < 1 ? 1 : n);
}
