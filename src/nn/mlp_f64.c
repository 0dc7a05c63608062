/* mlp_f64.c -- the double twin of the engine: mlp_body.h over double,
 * cblas_dgemm and libm tanh.  It exists for the finite-difference gradient
 * checks (tests/unit/test_nn_grad.c): in float, central differences carry
 * rounding errors of order 1e-7/h that hide real bugs.  libm tanh here (not
 * the rational approximation) so that 1 - y^2 is the exact derivative of
 * the forward function, to double precision. */
#include "nn/nn.h"
#include "nn/nn_simd.h"

#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NN_R double
#define NN(name) nm_##name##_f64
#define NN_GEMM cblas_dgemm
#define NN_EXP exp
#define NN_EXPM1 expm1
#define NN_LOG1P log1p

static void nn_tanh_inplace(size_t n, double *x)
{
    for (size_t i = 0; i < n; i++) x[i] = tanh(x[i]);
}

#include "nn/mlp_body.h"
