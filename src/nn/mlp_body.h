/* mlp_body.h -- the engine, written once over a real type (see nn.h).
 *
 * Included only by mlp_f32.c and mlp_f64.c, each of which defines first:
 *   NN_R                   the real type (float | double)
 *   NN(name)               the public symbol of `name` (nm_##name | nm_##name##_f64)
 *   NN_GEMM                cblas_sgemm | cblas_dgemm
 *   NN_EXP, NN_EXPM1, NN_LOG1P   libm functions of that precision
 *   static void nn_tanh_inplace(size_t n, NN_R *x)    the tanh kernel
 * and includes nn.h, nn_simd.h, internal.h, <cblas.h>, <math.h>, <limits.h>, <stdlib.h>,
 * <string.h>.  No include guard on purpose: it is a template, not a header.
 *
 * Shapes are given as [rows x cols], row-major.  B is the batch (rows). */

typedef NN_R real;

/* Buffers of a workspace start on 64-byte boundaries (a cache line; also
 * what AVX-512 loads like): every buffer is rounded up to this many reals. */
#define NN_ALIGN_BYTES 64
#define NN_ALIGN_REALS (NN_ALIGN_BYTES / sizeof(real))

/* ------------------------------------------------------------------------ */
/* Activations                                                               */
/* ------------------------------------------------------------------------ */

/* x [n] = f(x) in place.  NaN stays NaN in every branch (relu tests x < 0). */
static void act_apply(nm_act a, size_t n, real *x)
{
    switch (a) {
    case NM_ACT_IDENTITY:
        return;
    case NM_ACT_TANH:
        nn_tanh_inplace(n, x);
        return;
    case NM_ACT_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] < 0 ? (real)0 : x[i];
        return;
    case NM_ACT_SOFTPLUS:
        /* log(1 + e^v) = max(v, 0) + log1p(e^-|v|): no overflow for large v. */
        for (size_t i = 0; i < n; i++) {
            real v = x[i], av = v < 0 ? -v : v;
            x[i] = (v > 0 ? v : (real)0) + NN_LOG1P(NN_EXP(-av));
        }
        return;
    case NM_ACT_SIGMOID:
        /* e^-v overflows to inf for v < -89 (float): 1/inf = 0, the limit. */
        for (size_t i = 0; i < n; i++) x[i] = (real)1 / ((real)1 + NN_EXP(-x[i]));
        return;
    }
}

/* gout [n] = gin * f'(z), from the outputs y = f(z).  gout may be gin.
 *   tanh: 1 - y^2;  relu: [y > 0];  softplus: sigmoid(z) = 1 - e^-y;
 *   sigmoid: y (1 - y). */
static void act_grad(nm_act a, size_t n, const real *y, const real *gin, real *gout)
{
    switch (a) {
    case NM_ACT_IDENTITY:
        if (gout != gin) memcpy(gout, gin, n * sizeof(real));
        return;
    case NM_ACT_TANH:
        for (size_t i = 0; i < n; i++) gout[i] = gin[i] * ((real)1 - y[i] * y[i]);
        return;
    case NM_ACT_RELU:
        for (size_t i = 0; i < n; i++) gout[i] = y[i] > 0 ? gin[i] : (real)0;
        return;
    case NM_ACT_SOFTPLUS:
        /* -expm1(-y) keeps full relative accuracy when y (and so z) is tiny. */
        for (size_t i = 0; i < n; i++) gout[i] = gin[i] * -NN_EXPM1(-y[i]);
        return;
    case NM_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) gout[i] = gin[i] * (y[i] * ((real)1 - y[i]));
        return;
    }
}

void NN(nn_act_apply)(nm_act a, size_t n, real *x)
{
    if (x) act_apply(a, n, x);
}

void NN(nn_act_grad)(nm_act a, size_t n, const real *y, real *dy)
{
    if (y && dy) act_grad(a, n, y, dy, dy);
}

/* ------------------------------------------------------------------------ */
/* The dense layer: forward / backward pair                                  */
/* ------------------------------------------------------------------------ */

/* sum a[i] b[i], i < n, with eight partial sums in a fixed order: the
 * compiler vectorises it without -ffast-math, and the result does not depend
 * on the machine. */
static inline real dot(size_t n, const real *a, const real *b)
{
    real acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    real s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* y [B x out] = x W^T + b by rows: the small-batch path (B = 1 is a free-run
 * step).  dot() is inlined into it.  Cloned for AVX2 and the baseline only
 * (nn_simd.h): GCC's AVX-512 version of the 8-way reduction shuffles lanes
 * and measured 3x slower than the AVX2 one. */
NM_SIMD_CLONES_AVX2 static void matvec_rows(size_t B, size_t in, size_t out, const real *W,
                                            const real *b, const real *x, real *y)
{
    for (size_t r = 0; r < B; r++)
        for (size_t o = 0; o < out; o++) y[r * out + o] = b[o] + dot(in, W + o * in, x + r * in);
}

/* x [B x in], W [out x in], b [out] -> y [B x out] = f(x W^T + b). */
static void dense_forward(const nm_dense *L, const real *params, size_t B, const real *x,
                          real *y)
{
    const real *W = params + L->w_off, *b = params + L->b_off;
    const size_t in = L->in, out = L->out;
    if (B <= NM_MLP_SMALL_BATCH) {
        matvec_rows(B, in, out, W, b, x, y);
    } else {
        NN_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)out, (int)in, (real)1, x,
                (int)in, W, (int)in, (real)0, y, (int)out);
        for (size_t r = 0; r < B; r++) {
            real *row = y + r * out;
            for (size_t o = 0; o < out; o++) row[o] += b[o];
        }
    }
    act_apply(L->act, B * out, y);
}

/* dz [B x out] = dL/d(x W^T + b); x [B x in] the layer's input.
 *   grads != NULL:  dW [out x in] += dz^T x,   db [out] += sum over rows of dz
 *   dx != NULL:     dx [B x in] = beta dx + dz W                              */
static void dense_backward(const nm_dense *L, const real *params, size_t B, const real *x,
                           const real *dz, real *grads, real *dx, real beta)
{
    const size_t in = L->in, out = L->out;
    if (grads) {
        real *dW = grads + L->w_off, *db = grads + L->b_off;
        NN_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)B, (real)1, dz,
                (int)out, x, (int)in, (real)1, dW, (int)in);
        for (size_t r = 0; r < B; r++) {
            const real *row = dz + r * out;
            for (size_t o = 0; o < out; o++) db[o] += row[o];
        }
    }
    if (dx)
        NN_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)in, (int)out, (real)1, dz,
                (int)out, params + L->w_off, (int)in, beta, dx, (int)in);
}

/* ------------------------------------------------------------------------ */
/* The MLP object                                                            */
/* ------------------------------------------------------------------------ */

/* The object and its layer table, without parameter blocks. */
static NN(mlp) *mlp_new(size_t nlayers, const size_t *sizes, const nm_act *acts)
{
    if (!sizes || !acts) {
        nm_fail(NM_EINVAL, "mlp alloc: NULL size or activation table");
        return NULL;
    }
    if (nlayers == 0) {
        nm_fail(NM_EINVAL, "mlp alloc: an MLP needs at least one layer");
        return NULL;
    }
    NN(mlp) *m = nm_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->layer = nm_calloc(nlayers, sizeof *m->layer);
    if (!m->layer || nm_mlp_layout(nlayers, sizes, acts, m->layer, &m->nparams) != NM_OK) {
        free(m->layer);
        free(m);
        return NULL;
    }
    m->nlayers = nlayers;
    for (size_t l = 0; l <= nlayers; l++)
        if (sizes[l] > m->max_width) m->max_width = sizes[l];
    return m;
}

NN(mlp) *NN(mlp_alloc)(size_t nlayers, const size_t *sizes, const nm_act *acts)
{
    NN(mlp) *m = mlp_new(nlayers, sizes, acts);
    if (!m) return NULL;
    m->params = nm_calloc(m->nparams, sizeof(real));
    m->grads = m->params ? nm_calloc(m->nparams, sizeof(real)) : NULL;
    m->owns_blocks = 1;
    if (!m->grads) {
        NN(mlp_free)(m);
        return NULL;
    }
    return m;
}

NN(mlp) *NN(mlp_alloc_view)(size_t nlayers, const size_t *sizes, const nm_act *acts,
                            real *params, real *grads)
{
    if (!params || !grads) {
        nm_fail(NM_EINVAL, "mlp alloc view: NULL parameter or gradient block");
        return NULL;
    }
    NN(mlp) *m = mlp_new(nlayers, sizes, acts);
    if (!m) return NULL;
    m->params = params;
    m->grads = grads;
    m->owns_blocks = 0;
    return m;
}

void NN(mlp_free)(NN(mlp) *m)
{
    if (!m) return;
    if (m->owns_blocks) {
        free(m->params);
        free(m->grads);
    }
    free(m->layer);
    free(m);
}

NN(mlp) *NN(mlp_clone)(const NN(mlp) *m)
{
    if (!m) {
        nm_fail(NM_EINVAL, "mlp clone: NULL network");
        return NULL;
    }
    NN(mlp) *c = nm_calloc(1, sizeof *c);
    if (!c) return NULL;
    *c = *m;
    c->layer = nm_malloc(m->nlayers * sizeof *c->layer);
    c->params = c->layer ? nm_malloc(m->nparams * sizeof(real)) : NULL;
    c->grads = c->params ? nm_calloc(m->nparams, sizeof(real)) : NULL;
    c->owns_blocks = 1;
    if (!c->grads) {
        free(c->layer);
        free(c->params);
        free(c);
        return NULL;
    }
    memcpy(c->layer, m->layer, m->nlayers * sizeof *c->layer);
    memcpy(c->params, m->params, m->nparams * sizeof(real));
    return c;
}

void NN(mlp_zero_grad)(NN(mlp) *m)
{
    if (m) memset(m->grads, 0, m->nparams * sizeof(real));
}

nm_status NN(mlp_init)(NN(mlp) *m, nm_rng *rng, nm_init scheme)
{
    if (!m || !rng) return nm_fail(NM_EINVAL, "mlp init: NULL argument");
    if ((unsigned)scheme > NM_INIT_HE_NORMAL)
        return nm_fail(NM_EINVAL, "mlp init: unknown scheme %d", (int)scheme);
    for (size_t l = 0; l < m->nlayers; l++) {
        const nm_dense *L = &m->layer[l];
        nm_init s = scheme;
        if (s == NM_INIT_AUTO)
            s = L->act == NM_ACT_RELU ? NM_INIT_HE_NORMAL : NM_INIT_XAVIER_UNIFORM;
        double fan_in = (double)L->in, fan_sum = (double)(L->in + L->out);
        real *W = m->params + L->w_off;
        size_t nw = L->in * L->out;
        if (s == NM_INIT_XAVIER_UNIFORM || s == NM_INIT_HE_UNIFORM) {
            /* U(-a, a) has variance a^2/3: a = sqrt(6/n) gives 2/n. */
            double a = sqrt(6.0 / (s == NM_INIT_XAVIER_UNIFORM ? fan_sum : fan_in));
            for (size_t i = 0; i < nw; i++) W[i] = (real)(a * (2.0 * nm_rng_uniform(rng) - 1.0));
        } else {
            double sd = sqrt(2.0 / (s == NM_INIT_XAVIER_NORMAL ? fan_sum : fan_in));
            for (size_t i = 0; i < nw; i++) W[i] = (real)(sd * nm_rng_gauss(rng));
        }
        memset(m->params + L->b_off, 0, L->out * sizeof(real));
    }
    return NM_OK;
}

/* ------------------------------------------------------------------------ */
/* Workspaces, forward, backward                                             */
/* ------------------------------------------------------------------------ */

static size_t round_up_reals(size_t n)
{
    return (n + NN_ALIGN_REALS - 1) / NN_ALIGN_REALS * NN_ALIGN_REALS;
}

NN(mlp_ws) *NN(mlp_ws_alloc)(const NN(mlp) *m, size_t max_batch)
{
    if (!m || max_batch == 0) {
        nm_fail(NM_EINVAL, "mlp workspace: NULL network or zero batch");
        return NULL;
    }
    /* BLAS takes int dimensions; rows x width must fit in one. */
    if (max_batch > (size_t)INT_MAX / m->max_width) {
        nm_fail(NM_EINVAL, "mlp workspace: batch %zu x width %zu is too large", max_batch,
                m->max_width);
        return NULL;
    }
    const size_t L = m->nlayers;
    size_t total = 2 * round_up_reals(max_batch * m->max_width);
    for (size_t l = 0; l <= L; l++)
        total += round_up_reals(max_batch * (l == 0 ? m->layer[0].in : m->layer[l - 1].out));

    NN(mlp_ws) *ws = nm_calloc(1, sizeof *ws);
    if (!ws) return NULL;
    ws->width = nm_calloc(L + 1, sizeof *ws->width);
    ws->act = nm_calloc(L + 1, sizeof *ws->act);
    ws->mem = aligned_alloc(NN_ALIGN_BYTES, total * sizeof(real));
    if (!ws->width || !ws->act || !ws->mem) {
        if (!ws->mem) nm_fail(NM_ENOMEM, "mlp workspace: out of memory (%zu bytes)",
                              total * sizeof(real));
        NN(mlp_ws_free)(ws);
        return NULL;
    }
    /* Zeroed so that reading a buffer before any forward is defined. */
    memset(ws->mem, 0, total * sizeof(real));
    ws->max_batch = max_batch;
    ws->nlayers = L;
    real *p = ws->mem;
    for (size_t l = 0; l <= L; l++) {
        ws->width[l] = l == 0 ? m->layer[0].in : m->layer[l - 1].out;
        ws->act[l] = p;
        p += round_up_reals(max_batch * ws->width[l]);
    }
    ws->delta[0] = p;
    p += round_up_reals(max_batch * m->max_width);
    ws->delta[1] = p;
    return ws;
}

void NN(mlp_ws_free)(NN(mlp_ws) *ws)
{
    if (!ws) return;
    free(ws->mem);
    free(ws->act);
    free(ws->width);
    free(ws);
}

/* Whether ws was made for a network of m's widths. */
static int ws_fits(const NN(mlp) *m, const NN(mlp_ws) *ws)
{
    if (ws->nlayers != m->nlayers) return 0;
    for (size_t l = 0; l < m->nlayers; l++)
        if (ws->width[l] != m->layer[l].in || ws->width[l + 1] != m->layer[l].out) return 0;
    return 1;
}

nm_status NN(mlp_forward)(const NN(mlp) *m, NN(mlp_ws) *ws, size_t B, const real *x, real *y)
{
    if (!m || !ws || (B > 0 && !x)) return nm_fail(NM_EINVAL, "mlp forward: NULL argument");
    if (!ws_fits(m, ws))
        return nm_fail(NM_EINVAL, "mlp forward: the workspace was made for other layer widths");
    if (B > ws->max_batch)
        return nm_fail(NM_EINVAL, "mlp forward: batch of %zu rows exceeds the workspace's %zu",
                       B, ws->max_batch);
    ws->batch = B;
    if (B == 0) return NM_OK;
    const size_t L = m->nlayers;
    /* memmove: x may be the output of another workspace or even this one's. */
    memmove(ws->act[0], x, B * ws->width[0] * sizeof(real));
    for (size_t l = 0; l < L; l++)
        dense_forward(&m->layer[l], m->params, B, ws->act[l], ws->act[l + 1]);
    if (y) memmove(y, ws->act[L], B * ws->width[L] * sizeof(real));
    return NM_OK;
}

nm_status NN(mlp_forward1)(const NN(mlp) *m, NN(mlp_ws) *ws, const real *x, real *y)
{
    /* B = 1 <= NM_MLP_SMALL_BATCH: dense_forward takes its plain loops. */
    return NN(mlp_forward)(m, ws, 1, x, y);
}

nm_status NN(mlp_apply1)(const NN(mlp) *m, const real *x, real *y)
{
    real buf[2][NM_MLP_APPLY1_MAX_WIDTH];
    if (!m || !x || !y) return nm_fail(NM_EINVAL, "mlp apply1: NULL argument");
    if (m->max_width > NM_MLP_APPLY1_MAX_WIDTH)
        return nm_fail(NM_EINVAL, "mlp apply1: width %zu exceeds %d; use nm_mlp_forward1",
                       m->max_width, NM_MLP_APPLY1_MAX_WIDTH);
    const real *in = x;
    for (size_t l = 0; l < m->nlayers; l++) {
        const nm_dense *L = &m->layer[l];
        real *out = l + 1 == m->nlayers ? y : buf[l & 1];
        /* the same two calls as dense_forward's small-batch path: same bits */
        matvec_rows(1, L->in, L->out, m->params + L->w_off, m->params + L->b_off, in, out);
        act_apply(L->act, L->out, out);
        in = out;
    }
    return NM_OK;
}

nm_status NN(mlp_backward)(const NN(mlp) *m, NN(mlp_ws) *ws, const real *dy, real *dx,
                           real *grads)
{
    if (!m || !ws) return nm_fail(NM_EINVAL, "mlp backward: NULL argument");
    if (!ws_fits(m, ws))
        return nm_fail(NM_EINVAL, "mlp backward: the workspace was made for other layer widths");
    const size_t B = ws->batch;
    if (B == 0) return NM_OK; /* nothing recorded, nothing to propagate */
    if (!dy) return nm_fail(NM_EINVAL, "mlp backward: NULL output gradient");

    /* cur = dL/d(output of layer k).  It starts as the caller's dy (read
     * only); after the first layer it lives in one of the two scratch
     * buffers (cur_own), where the activation derivative is applied in
     * place and the next GEMM writes into the other buffer. */
    const real *cur = dy;
    real *cur_own = NULL;
    for (size_t k = m->nlayers; k-- > 0;) {
        const nm_dense *L = &m->layer[k];
        const real *dz = cur; /* dL/d(pre-activation) [B x out] */
        real *dz_own = cur_own;
        if (L->act != NM_ACT_IDENTITY) {
            dz_own = cur_own ? cur_own : ws->delta[0];
            act_grad(L->act, B * L->out, ws->act[k + 1], cur, dz_own);
            dz = dz_own;
        }
        if (k > 0) {
            real *next = dz_own == ws->delta[0] ? ws->delta[1] : ws->delta[0];
            dense_backward(L, m->params, B, ws->act[k], dz, grads, next, (real)0);
            cur = next;
            cur_own = next;
        } else {
            dense_backward(L, m->params, B, ws->act[0], dz, grads, dx, (real)1);
        }
    }
    return NM_OK;
}

/* ------------------------------------------------------------------------ */
/* Losses and the VAE pieces                                                 */
/* ------------------------------------------------------------------------ */

double NN(nn_mse)(size_t n, const real *y, const real *t, double weight, real *dy)
{
    if (n == 0 || !y || !t) return 0.0;
    double sum = 0.0;
    const real g = (real)(2.0 * weight / (double)n);
    for (size_t i = 0; i < n; i++) {
        real d = y[i] - t[i];
        sum += (double)d * (double)d;
        if (dy) dy[i] += g * d;
    }
    return weight * sum / (double)n;
}

double NN(nn_kl_gauss)(size_t B, size_t D, const real *mu, const real *logvar, size_t ld,
                       double weight, real *dmu, real *dlogvar, double *unit_kl)
{
    if (B == 0 || D == 0 || !mu || !logvar) return 0.0;
    double sum = 0.0;
    const real g = (real)(weight / (double)B);
    for (size_t b = 0; b < B; b++) {
        const real *m = mu + b * ld, *lv = logvar + b * ld;
        for (size_t j = 0; j < D; j++) {
            real e = NN_EXP(lv[j]);
            double kl = 0.5 * ((double)m[j] * m[j] + (double)e - 1.0 - (double)lv[j]);
            sum += kl;
            if (unit_kl) unit_kl[j] += kl;
            if (dmu) dmu[b * ld + j] += g * m[j];
            if (dlogvar) dlogvar[b * ld + j] += g * (real)0.5 * (e - (real)1);
        }
    }
    return weight * sum / (double)B;
}

void NN(nn_reparam_forward)(size_t B, size_t D, const real *mu, const real *logvar, size_t ld,
                            const real *eps, real *z)
{
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < D; j++)
            z[b * D + j] = mu[b * ld + j] + NN_EXP((real)0.5 * logvar[b * ld + j]) * eps[b * D + j];
}

void NN(nn_reparam_backward)(size_t B, size_t D, const real *logvar, size_t ld, const real *eps,
                             const real *dz, real *dmu, real *dlogvar)
{
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < D; j++) {
            real g = dz[b * D + j];
            if (dmu) dmu[b * ld + j] += g;
            if (dlogvar)
                dlogvar[b * ld + j] +=
                    g * eps[b * D + j] * (real)0.5 * NN_EXP((real)0.5 * logvar[b * ld + j]);
        }
}

void NN(nn_gauss_fill)(nm_rng *rng, size_t n, real *x)
{
    for (size_t i = 0; i < n; i++) x[i] = (real)nm_rng_gauss(rng);
}
