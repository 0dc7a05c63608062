/* batch.c -- many cells of one learned model stepped together (issue 12;
 * include/neuromap.h, nm_learned_step_batch).
 *
 * The unbatched step (nm_learned_step_u + nm_learned_decode_v) evaluates
 * every network one vector at a time: nm_mlp_apply1, whose dot products sum
 * in eight partial sums in a fixed order (mlp_body.h, dot()).  Here the cells
 * of a tile (NM_BATCH_TILE of them) are the columns of a matrix and every
 * layer is one matrix-matrix product, W [out x in] times X [in x tile]: each
 * weight is loaded once per tile and multiplied into a vector of tile lanes.
 * Every lane does exactly the floating-point operations of dot() for its
 * cell, in the same order (the eight partial sums are eight vector
 * accumulators, reduced by the same tree, then the tail, then the bias), the
 * activations are the same element-wise kernel (nm_nn_act_apply), and the
 * double-precision parts (map coordinates, p and u scaling, the residual,
 * the bound, the decoder's de-normalisation) are the same expressions.  So a
 * batched step gives the unbatched step's numbers BIT FOR BIT for every cell
 * (tests/unit/test_learned_batch.c), whatever the tile or the batch size.
 * That is why this is not cblas_sgemm: a BLAS kernel sums in its own order
 * (and with FMA), which changes the last bits and, over a chaotic run, the
 * spike times.
 *
 * The vector type is GCC's vector extension (a tile of floats); the kernel
 * is compiled for AVX-512, AVX2 and the baseline (nn_simd.h), each clone
 * doing the same IEEE operations (no FMA contraction: -std=c11). */
#define _POSIX_C_SOURCE 200809L
#include "learn/batch.h"

#include "internal.h"
#include "nn/nn.h"
#include "nn/nn_simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Cells per tile: one 512-bit vector of floats.  Measured on the 4-128-128-3
 * map (docs/neuron.md "Batched stepping"): 16 is as fast as 32 and needs
 * half the accumulator registers. */
#define NM_BATCH_TILE 16

typedef float vlane __attribute__((vector_size(NM_BATCH_TILE * sizeof(float)), aligned(64)));

struct nm_learned_batch {
    size_t maxw;     /* widest input or output of any layer it fits */
    size_t maxd;     /* latent dimension it fits */
    vlane *in;       /* [maxd + 2] network input of the tile */
    vlane *h[2];     /* [maxw] hidden layers (ping-pong) */
    vlane *out;      /* [maxd] network output */
    vlane *acc;      /* [maxd] ensemble sum */
    vlane *mem;
};

/* Widest layer of a network (inputs included). */
static size_t mlp_maxw(const nm_mlp *net)
{
    size_t w = 0;
    for (size_t l = 0; l < net->nlayers; l++) {
        if (net->layer[l].in > w) w = net->layer[l].in;
        if (net->layer[l].out > w) w = net->layer[l].out;
    }
    return w;
}

static size_t model_maxw(const nm_learned *m)
{
    const nm_map *map = nm_learned_map_part(m);
    size_t w = mlp_maxw(nm_learned_dec_v_part(m));
    size_t nmem = map->nmembers > 1 ? map->nmembers : 1;
    for (size_t r = 0; r < nmem; r++) {
        size_t wr = mlp_maxw(map->nmembers > 1 ? map->members[r] : map->net);
        if (wr > w) w = wr;
    }
    return w;
}

nm_learned_batch *nm_learned_batch_alloc(const nm_learned *m)
{
    if (!m) {
        nm_fail(NM_EINVAL, "batch alloc: NULL model");
        return NULL;
    }
    nm_learned_batch *b = nm_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->maxw = model_maxw(m);
    b->maxd = nm_learned_dim(m);
    size_t nv = (b->maxd + 2) + 2 * b->maxw + 2 * b->maxd;
    void *mem = NULL;
    if (posix_memalign(&mem, 64, nv * sizeof(vlane)) != 0) {
        free(b);
        nm_fail(NM_ENOMEM, "batch alloc: out of memory (%zu bytes)", nv * sizeof(vlane));
        return NULL;
    }
    memset(mem, 0, nv * sizeof(vlane));
    b->mem = mem;
    b->in = b->mem;
    b->h[0] = b->in + b->maxd + 2;
    b->h[1] = b->h[0] + b->maxw;
    b->out = b->h[1] + b->maxw;
    b->acc = b->out + b->maxd;
    return b;
}

void nm_learned_batch_free(nm_learned_batch *b)
{
    if (!b) return;
    free(b->mem);
    free(b);
}

int nm_learned_batch_fits(const nm_learned_batch *b, const nm_learned *m)
{
    return b && m && model_maxw(m) <= b->maxw && nm_learned_dim(m) <= b->maxd;
}

/* Y [out] = b + W X for a tile: lane c of Y[o] gets exactly
 * b[o] + dot(in, W + o*in, x_c) of mlp_body.h (same partial sums, same
 * reduction tree, same tail).  Two outputs at a time share the loads of X
 * (each with its own eight accumulators: the order per output is
 * unchanged). */
NM_SIMD_CLONES static void dense_tile(size_t in, size_t out, const float *W, const float *bias,
                                      const vlane *X, vlane *Y)
{
    size_t o = 0;
    for (; o + 2 <= out; o += 2) {
        const float *w = W + o * in, *z = w + in;
        vlane a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
        vlane b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0}, b4 = {0}, b5 = {0}, b6 = {0}, b7 = {0};
        size_t i = 0;
        for (; i + 8 <= in; i += 8) {
            vlane x0 = X[i], x1 = X[i + 1], x2 = X[i + 2], x3 = X[i + 3];
            a0 += w[i] * x0;
            b0 += z[i] * x0;
            a1 += w[i + 1] * x1;
            b1 += z[i + 1] * x1;
            a2 += w[i + 2] * x2;
            b2 += z[i + 2] * x2;
            a3 += w[i + 3] * x3;
            b3 += z[i + 3] * x3;
            vlane x4 = X[i + 4], x5 = X[i + 5], x6 = X[i + 6], x7 = X[i + 7];
            a4 += w[i + 4] * x4;
            b4 += z[i + 4] * x4;
            a5 += w[i + 5] * x5;
            b5 += z[i + 5] * x5;
            a6 += w[i + 6] * x6;
            b6 += z[i + 6] * x6;
            a7 += w[i + 7] * x7;
            b7 += z[i + 7] * x7;
        }
        vlane s = ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7));
        vlane t = ((b0 + b4) + (b1 + b5)) + ((b2 + b6) + (b3 + b7));
        for (; i < in; i++) {
            s += w[i] * X[i];
            t += z[i] * X[i];
        }
        Y[o] = bias[o] + s;
        Y[o + 1] = bias[o + 1] + t;
    }
    for (; o < out; o++) {
        const float *w = W + o * in;
        vlane a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
        size_t i = 0;
        for (; i + 8 <= in; i += 8) {
            a0 += w[i] * X[i];
            a1 += w[i + 1] * X[i + 1];
            a2 += w[i + 2] * X[i + 2];
            a3 += w[i + 3] * X[i + 3];
            a4 += w[i + 4] * X[i + 4];
            a5 += w[i + 5] * X[i + 5];
            a6 += w[i + 6] * X[i + 6];
            a7 += w[i + 7] * X[i + 7];
        }
        vlane s = ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7));
        for (; i < in; i++) s += w[i] * X[i];
        Y[o] = bias[o] + s;
    }
}

/* A whole network on a tile: in -> ... -> dst (dst may not be in or a
 * hidden buffer). */
static void mlp_tile(const nm_mlp *net, nm_learned_batch *b, const vlane *in, vlane *dst)
{
    const vlane *cur = in;
    for (size_t l = 0; l < net->nlayers; l++) {
        const nm_dense *L = &net->layer[l];
        vlane *y = l + 1 == net->nlayers ? dst : b->h[l & 1];
        dense_tile(L->in, L->out, net->params + L->w_off, net->params + L->b_off, cur, y);
        nm_nn_act_apply(L->act, L->out * NM_BATCH_TILE, (float *)y);
        cur = y;
    }
}

nm_status nm_learned_step_batch(const nm_learned *m, nm_learned_batch *b, size_t n, const double *p,
                                const double *u, const double *x, double *x_next, double *v, int *status)
{
    if (!m || !b || (n && (!p || !x || !x_next || !v)))
        return nm_fail(NM_EINVAL, "batch step: NULL argument");
    if (!nm_learned_batch_fits(b, m))
        return nm_fail(NM_EINVAL, "batch step: the workspace was made for a smaller model (widths %zu, D %zu)",
                       b->maxw, b->maxd);
    const nm_map *map = nm_learned_map_part(m);
    const nm_mlp *dec = nm_learned_dec_v_part(m);
    const nm_vae *vae = nm_learned_vae(m);
    const size_t D = map->D, T = NM_BATCH_TILE;
    nm_status first = NM_OK;
    size_t first_cell = 0;
    double first_val = 0;
    int first_what = 0; /* 1 p, 2 u, 3 bound, 4 V */
    size_t first_unit = 0;

    for (size_t c0 = 0; c0 < n; c0 += T) {
        size_t nt = n - c0 < T ? n - c0 : T;
        int ok[NM_BATCH_TILE];
        float xs[NM_BATCH_TILE][NM_MAP_MAX_D];
        /* the map's input: y = A (x - mean), scaled p and u (map.c) */
        for (size_t c = 0; c < T; c++) {
            ok[c] = 0;
            for (size_t j = 0; j < D + 2; j++) b->in[j][c] = 0;
            if (c >= nt) continue;
            size_t k = c0 + c;
            double uk = u ? u[k] : 0;
            if (!isfinite(p[k]) || !isfinite(uk)) {
                if (status) status[k] = NM_EINVAL;
                if (!first) {
                    first = NM_EINVAL;
                    first_cell = k;
                    first_what = isfinite(p[k]) ? 2 : 1;
                    first_val = isfinite(p[k]) ? uk : p[k];
                }
                continue;
            }
            ok[c] = 1;
            const double *xk = x + k * D;
            for (size_t i = 0; i < D; i++) {
                double s = 0;
                for (size_t j = 0; j < D; j++) s += map->A[i * D + j] * (xk[j] - map->x_mean[j]);
                xs[c][i] = (float)s;
                b->in[i][c] = xs[c][i];
            }
            b->in[D][c] = (float)((p[k] - map->p_center) / map->p_half);
            if (map->nu) b->in[D + 1][c] = (float)(map->nu ? (uk - map->u_center) / map->u_half : 0);
        }
        /* G: one member, or the members' mean summed in member order */
        if (map->nmembers <= 1) {
            mlp_tile(map->net, b, b->in, b->out);
        } else {
            for (size_t j = 0; j < D; j++) b->acc[j] = (vlane){0};
            for (size_t r = 0; r < map->nmembers; r++) {
                mlp_tile(map->members[r], b, b->in, b->out);
                for (size_t j = 0; j < D; j++) b->acc[j] += b->out[j];
            }
            for (size_t j = 0; j < D; j++) b->out[j] = b->acc[j] / (float)map->nmembers;
        }
        /* the residual, the bound, back to latent units; the decoder's input */
        for (size_t c = 0; c < T; c++) {
            for (size_t j = 0; j < D; j++) b->in[j][c] = 0;
            if (!ok[c]) continue;
            size_t k = c0 + c;
            float xn[NM_MAP_MAX_D];
            for (size_t j = 0; j < D; j++) xn[j] = xs[c][j] + (float)map->d_scale[j] * b->out[j][c];
            for (size_t j = 0; j < D; j++) {
                if (!isfinite(xn[j]) || fabs(xn[j]) > map->bound) {
                    ok[c] = 0;
                    if (status) status[k] = NM_ENUMERIC;
                    if (!first) {
                        first = NM_ENUMERIC;
                        first_cell = k;
                        first_what = 3;
                        first_unit = j;
                        first_val = xn[j];
                    }
                    break;
                }
            }
            if (!ok[c]) continue;
            double *xo = x_next + k * D;
            for (size_t i = 0; i < D; i++) {
                double s = map->x_mean[i];
                for (size_t j = 0; j < D; j++) s += map->A_inv[i * D + j] * xn[j];
                xo[i] = s;
                b->in[i][c] = (float)s;
            }
        }
        /* decoded V (learned.c, decode_v) */
        mlp_tile(dec, b, b->in, b->out);
        for (size_t c = 0; c < nt; c++) {
            size_t k = c0 + c;
            if (!ok[c]) {
                if (x_next != x) memcpy(x_next + k * D, x + k * D, D * sizeof *x);
                v[k] = NAN;
                continue;
            }
            v[k] = nm_vae_denorm(vae, b->out[0][c]);
            if (status) status[k] = NM_OK;
        }
    }
    if (first) {
        switch (first_what) {
        case 1: return nm_fail(first, "batch step, cell %zu: p is not finite (%g)", first_cell, first_val);
        case 2: return nm_fail(first, "batch step, cell %zu: the input u is not finite (%g)", first_cell, first_val);
        default:
            return nm_fail(first, "batch step, cell %zu: map diverged: latent unit %zu reached %g standard "
                           "deviations (bound %g)", first_cell, first_unit, first_val, map->bound);
        }
    }
    return NM_OK;
}
