/* mlp_f32.c -- the float engine: mlp_body.h over float, cblas_sgemm, and a
 * fast rational tanh (the activation dominates small layers, see below). */
#include "nn/nn.h"
#include "nn/nn_simd.h"

#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NN_R float
#define NN(name) nm_##name
#define NN_GEMM cblas_sgemm
#define NN_EXP expf
#define NN_EXPM1 expm1f
#define NN_LOG1P log1pf

/* tanh as the [13/6] rational function x P(x^2) / Q(x^2) on |x| <= 7.9053,
 * saturating to +-1 beyond.  The coefficients are those of Eigen's
 * generic_fast_tanh_float (a minimax fit for float).  Our own check
 * (tests/unit/test_nn_grad.c, NM_FAST_TANH_RTOL) against double tanh on a
 * dense grid over [-10, 10] finds a relative error below 5e-7; libm tanhf
 * costs about 18 ns a value here, this about 0.5 ns, which matters: a
 * 32-128-128-6 / 3-128-128-32 VAE evaluates 512 tanh per sample per forward
 * pass.  NaN propagates (both clamps compare false). */
#define NM_TANH_CLAMP 7.90531110763549805f

/* Work in chunks of this many values: the clamp and the rational function
 * are two branch-free loops over a chunk, which GCC vectorises at -O2 and
 * -O3 without -ffast-math (fused into one loop, the clamps' compares plus
 * the division stop if-conversion under the default -ftrapping-math).  The
 * scalar tail runs the same operations, so every value gets the same bits
 * whichever path it takes. */
#define NM_TANH_CHUNK 64

static inline void tanh_clamp(size_t k, const float *restrict x, float *restrict v)
{
    for (size_t i = 0; i < k; i++) {
        float a = x[i];
        a = a < -NM_TANH_CLAMP ? -NM_TANH_CLAMP : a;
        a = a > NM_TANH_CLAMP ? NM_TANH_CLAMP : a;
        v[i] = a;
    }
}

static inline void tanh_rational(size_t k, const float *restrict v, float *restrict y)
{
    const float a1 = 4.89352455891786e-03f, a3 = 6.37261928875436e-04f,
                a5 = 1.48572235717979e-05f, a7 = 5.12229709037114e-08f,
                a9 = -8.60467152213735e-11f, a11 = 2.00018790482477e-13f,
                a13 = -2.76076847742355e-16f;
    const float b0 = 4.89352518554385e-03f, b2 = 2.26843463243900e-03f,
                b4 = 1.18534705686654e-04f, b6 = 1.19825839466702e-06f;
    for (size_t i = 0; i < k; i++) {
        float a = v[i], a2 = a * a;
        float p = a13;
        p = p * a2 + a11;
        p = p * a2 + a9;
        p = p * a2 + a7;
        p = p * a2 + a5;
        p = p * a2 + a3;
        p = p * a2 + a1;
        p = p * a;
        float q = b6;
        q = q * a2 + b4;
        q = q * a2 + b2;
        q = q * a2 + b0;
        y[i] = p / q;
    }
}

NM_SIMD_CLONES static void nn_tanh_inplace(size_t n, float *x)
{
    float v[NM_TANH_CHUNK];
    size_t s = 0;
    for (; s + NM_TANH_CHUNK <= n; s += NM_TANH_CHUNK) {
        tanh_clamp(NM_TANH_CHUNK, x + s, v);
        tanh_rational(NM_TANH_CHUNK, v, x + s);
    }
    tanh_clamp(n - s, x + s, v);
    tanh_rational(n - s, v, x + s);
}

#include "nn/mlp_body.h"
