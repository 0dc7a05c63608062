/* blas_threads.c -- how many threads OpenBLAS may use inside one GEMM. */
#include "neuromap.h"
#include "nn/nn.h"

#include <cblas.h>
#include <pthread.h>

void nm_set_blas_threads(int n)
{
    openblas_set_num_threads(n < 1 ? 1 : n);
}

/* Nesting count of nm_blas_single_begin and the setting to restore. */
static pthread_mutex_t single_lock = PTHREAD_MUTEX_INITIALIZER;
static int single_depth, single_saved;

void nm_blas_single_begin(void)
{
    pthread_mutex_lock(&single_lock);
    if (single_depth++ == 0) {
        single_saved = openblas_get_num_threads();
        if (single_saved > 1) openblas_set_num_threads(1);
    }
    pthread_mutex_unlock(&single_lock);
}

void nm_blas_single_end(void)
{
    pthread_mutex_lock(&single_lock);
    if (single_depth > 0 && --single_depth == 0 && single_saved > 1)
        openblas_set_num_threads(single_saved);
    pthread_mutex_unlock(&single_lock);
}
