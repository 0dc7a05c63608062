/* test_nn_grad.c -- gradients of the nn engine against central finite
 * differences, in the double twin (mlp_f64.c: the same source as the float
 * engine, compiled over double), for every activation, the dense layer in
 * both code paths (plain loops for small batches, GEMM for larger), MSE, the
 * Gaussian KL term, the reparameterisation, a whole VAE chain (encoder ->
 * sample -> decoder) and a map unrolled through time.  Then the float engine
 * against the double one on the same weights, and the fast tanh against libm.
 */
#include "nm_test.h"
#include "nn/nn.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Central differences in double with step h on O(1) functions: truncation
 * error ~ h^2 |f'''| / 6 ~ 1e-13, rounding ~ 1e-16 |f| / h ~ 1e-10.  So an
 * analytic gradient must agree to FD_ATOL + FD_RTOL |fd| -- a thousand times
 * above the FD noise, and far below any real error (a wrong term or a missing
 * factor shows up at 1e-2 or more). */
#define FD_STEP 1e-6
#define FD_RTOL 1e-6
#define FD_ATOL 1e-8

/* Float engine against the double twin on the same weights (O(1) values,
 * widths <= 16): float rounding (6e-8 per operation, sums of <= 16 terms)
 * and the rational tanh (< 5e-7) give errors ~ 1e-6; 2e-5 leaves 20x. */
#define F32_VS_F64_TOL 2e-5

/* The rational tanh of mlp_f32.c: measured max relative error 4.1e-7 over
 * [-10, 10] (coefficients from Eigen's generic_fast_tanh_float). */
#define NM_FAST_TANH_RTOL 1e-6

static const nm_act ALL_ACTS[NM_ACT_COUNT] = {NM_ACT_IDENTITY, NM_ACT_TANH, NM_ACT_RELU,
                                              NM_ACT_SOFTPLUS, NM_ACT_SIGMOID};

/* ---- a generic finite-difference driver ------------------------------------ */

typedef double (*loss_fn)(void *ctx);

/* Compare grad[i] with the central difference of loss() in x[i], for all i < n.
 * Returns the number of mismatches (each also counted as a failed CHECK). */
static int fd_check(const char *what, loss_fn loss, void *ctx, double *x, const double *grad,
                    size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + FD_STEP;
        double lp = loss(ctx);
        x[i] = keep - FD_STEP;
        double lm = loss(ctx);
        x[i] = keep;
        double fd = (lp - lm) / (2 * FD_STEP);
        if (!(fabs(grad[i] - fd) <= FD_ATOL + FD_RTOL * fabs(fd))) {
            if (bad < 5)
                fprintf(stderr, "  %s[%zu]: analytic %.12g, finite difference %.12g\n", what, i,
                        grad[i], fd);
            bad++;
        }
    }
    CHECK_MSG(bad == 0, "%s: %d of %zu gradients disagree", what, bad, n);
    return bad;
}

static void fill_uniform(nm_rng *r, size_t n, double *x, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * nm_rng_uniform(r);
}

/* Randomise biases too (init sets them to 0, which would hide bias bugs). */
static void randomise_mlp(nm_mlp_f64 *m, nm_rng *r)
{
    CHECK_OK(nm_mlp_init_f64(m, r, NM_INIT_XAVIER_NORMAL));
    for (size_t l = 0; l < m->nlayers; l++)
        fill_uniform(r, m->layer[l].out, m->params + m->layer[l].b_off, -0.5, 0.5);
}

/* ---- activations ----------------------------------------------------------- */

typedef struct act_ctx {
    nm_act a;
    double *z;
    const double *c;
    size_t n;
} act_ctx;

/* L = sum c_i f(z_i) */
static double act_loss(void *p)
{
    act_ctx *k = p;
    double y[16];
    memcpy(y, k->z, k->n * sizeof *y);
    nm_nn_act_apply_f64(k->a, k->n, y);
    double s = 0;
    for (size_t i = 0; i < k->n; i++) s += k->c[i] * y[i];
    return s;
}

static void test_activation_grads(void)
{
    /* Points on both sides of 0 and far out (saturation), none on the relu
     * kink; softplus at -30 checks the tiny-sigmoid branch (-expm1(-y)). */
    double z[12] = {-30, -8, -3.1, -1.2, -0.4, -0.01, 0.013, 0.37, 1.1, 2.9, 7.5, 25};
    double c[12];
    nm_rng r;
    nm_rng_seed(&r, 11);
    fill_uniform(&r, 12, c, -1, 1);
    for (int ai = 0; ai < NM_ACT_COUNT; ai++) {
        act_ctx k = {ALL_ACTS[ai], z, c, 12};
        double y[12], g[12];
        memcpy(y, z, sizeof y);
        nm_nn_act_apply_f64(k.a, 12, y);
        memcpy(g, c, sizeof g);
        nm_nn_act_grad_f64(k.a, 12, y, g);
        char what[64];
        snprintf(what, sizeof what, "activation %s", nm_act_name(k.a));
        fd_check(what, act_loss, &k, z, g, 12);
    }
    /* Values, spot checks against closed forms. */
    double v[4] = {-2, 0, 1, 40};
    nm_nn_act_apply_f64(NM_ACT_SOFTPLUS, 4, v);
    CHECK_CLOSE(v[0], log1p(exp(-2.0)), 1e-15, 0);
    CHECK_CLOSE(v[1], log(2.0), 1e-15, 0);
    CHECK_CLOSE(v[3], 40.0, 1e-15, 0); /* no overflow in e^40 */
    double s[3] = {-1, 0, 3};
    nm_nn_act_apply_f64(NM_ACT_SIGMOID, 3, s);
    CHECK_CLOSE(s[0], 1 / (1 + exp(1.0)), 1e-15, 0);
    CHECK(s[1] == 0.5);
    double rl[3] = {-1, 0, 3};
    nm_nn_act_apply_f64(NM_ACT_RELU, 3, rl);
    CHECK(rl[0] == 0 && rl[1] == 0 && rl[2] == 3);
}

/* ---- the MLP: every activation in every position, both code paths --------- */

typedef struct mlp_ctx {
    nm_mlp_f64 *m;
    nm_mlp_ws_f64 *ws;
    size_t B;
    double *x, *t, *c; /* input [B x in], target and projection [B x out] */
} mlp_ctx;

/* L = 0.7 MSE(y, t) + sum c_i y_i; adds dL/dy into dy if not NULL. */
static double mlp_loss_grad(mlp_ctx *k, double *dy)
{
    CHECK_OK(nm_mlp_forward_f64(k->m, k->ws, k->B, k->x, NULL));
    const double *y = nm_mlp_ws_output_f64(k->ws);
    size_t n = k->B * k->m->layer[k->m->nlayers - 1].out;
    double L = nm_nn_mse_f64(n, y, k->t, 0.7, dy);
    for (size_t i = 0; i < n; i++) {
        L += k->c[i] * y[i];
        if (dy) dy[i] += k->c[i];
    }
    return L;
}

static double mlp_loss(void *p) { return mlp_loss_grad(p, NULL); }

static void check_mlp(const size_t *sizes, size_t nlayers, const nm_act *acts, size_t B,
                      uint64_t seed, const char *label)
{
    nm_rng r;
    nm_rng_seed(&r, seed);
    nm_mlp_f64 *m = nm_mlp_alloc_f64(nlayers, sizes, acts);
    nm_mlp_ws_f64 *ws = m ? nm_mlp_ws_alloc_f64(m, B) : NULL;
    CHECK(m && ws);
    if (!m || !ws) return;
    randomise_mlp(m, &r);
    size_t in = sizes[0], out = sizes[nlayers];
    double *x = malloc(B * in * sizeof *x), *dx = calloc(B * in, sizeof *dx);
    double *t = malloc(B * out * sizeof *t), *c = malloc(B * out * sizeof *c);
    double *dy = calloc(B * out, sizeof *dy);
    fill_uniform(&r, B * in, x, -1.5, 1.5);
    fill_uniform(&r, B * out, t, -1, 1);
    fill_uniform(&r, B * out, c, -1, 1);
    mlp_ctx k = {m, ws, B, x, t, c};

    nm_mlp_zero_grad_f64(m);
    mlp_loss_grad(&k, dy);
    CHECK_OK(nm_mlp_backward_f64(m, ws, dy, dx, m->grads));
    char what[128];
    snprintf(what, sizeof what, "%s params", label);
    fd_check(what, mlp_loss, &k, m->params, m->grads, m->nparams);
    snprintf(what, sizeof what, "%s input", label);
    fd_check(what, mlp_loss, &k, x, dx, B * in);

    /* Accumulation: a second backward of the same tape adds the same again. */
    double *g1 = malloc(m->nparams * sizeof *g1), *dx1 = malloc(B * in * sizeof *dx1);
    memcpy(g1, m->grads, m->nparams * sizeof *g1);
    memcpy(dx1, dx, B * in * sizeof *dx1);
    mlp_loss_grad(&k, NULL); /* re-record the tape at the unperturbed point */
    CHECK_OK(nm_mlp_backward_f64(m, ws, dy, dx, m->grads));
    int acc_ok = 1;
    for (size_t i = 0; i < m->nparams; i++)
        if (fabs(m->grads[i] - 2 * g1[i]) > 1e-12 * (1 + fabs(g1[i]))) acc_ok = 0;
    for (size_t i = 0; i < B * in; i++)
        if (fabs(dx[i] - 2 * dx1[i]) > 1e-12 * (1 + fabs(dx1[i]))) acc_ok = 0;
    CHECK_MSG(acc_ok, "%s: gradients do not accumulate", label);

    /* grads = NULL and dx = NULL are allowed (frozen net / unused input). */
    CHECK_OK(nm_mlp_backward_f64(m, ws, dy, NULL, NULL));

    free(g1);
    free(dx1);
    free(x);
    free(dx);
    free(t);
    free(c);
    free(dy);
    nm_mlp_ws_free_f64(ws);
    nm_mlp_free_f64(m);
}

static void test_mlp_grads(void)
{
    const size_t sizes[4] = {3, 6, 5, 2};
    for (int ai = 0; ai < NM_ACT_COUNT; ai++) {
        nm_act a = ALL_ACTS[ai];
        /* a in every position; then a hidden-only variant with identity out. */
        const nm_act all[3] = {a, a, a};
        const nm_act hidden[3] = {a, a, NM_ACT_IDENTITY};
        const size_t batches[2] = {1, 5}; /* plain loops; GEMM (> NM_MLP_SMALL_BATCH) */
        for (int bi = 0; bi < 2; bi++) {
            char label[96];
            snprintf(label, sizeof label, "mlp[%s x3] B=%zu", nm_act_name(a), batches[bi]);
            check_mlp(sizes, 3, all, batches[bi], 100 + (uint64_t)ai, label);
            snprintf(label, sizeof label, "mlp[%s,%s,identity] B=%zu", nm_act_name(a),
                     nm_act_name(a), batches[bi]);
            check_mlp(sizes, 3, hidden, batches[bi], 200 + (uint64_t)ai, label);
        }
    }
    /* One layer only (the first layer is also the last), and a mixed stack. */
    const size_t s1[2] = {4, 3};
    const nm_act a1[1] = {NM_ACT_TANH};
    check_mlp(s1, 1, a1, 3, 7, "single layer");
    const size_t s5[6] = {2, 7, 4, 9, 3, 2};
    const nm_act a5[5] = {NM_ACT_TANH, NM_ACT_SOFTPLUS, NM_ACT_RELU, NM_ACT_SIGMOID,
                          NM_ACT_IDENTITY};
    check_mlp(s5, 5, a5, 4, 8, "mixed 5 layers");
}

/* ---- losses: MSE, KL, reparameterisation ---------------------------------- */

typedef struct loss_ctx {
    size_t B, D, ld;
    double *h;   /* [B x ld]: mu at column 0, logvar at column D */
    double *eps; /* [B x D] */
    double *t, *c;
} loss_ctx;

static double kl_loss(void *p)
{
    loss_ctx *k = p;
    return nm_nn_kl_gauss_f64(k->B, k->D, k->h, k->h + k->D, k->ld, 0.3, NULL, NULL, NULL);
}

/* L = sum c z + MSE(z, t), z = reparam(mu, logvar, eps) */
static double reparam_loss_grad(loss_ctx *k, double *dz)
{
    double z[64];
    nm_nn_reparam_forward_f64(k->B, k->D, k->h, k->h + k->D, k->ld, k->eps, z);
    double L = nm_nn_mse_f64(k->B * k->D, z, k->t, 1.3, dz);
    for (size_t i = 0; i < k->B * k->D; i++) {
        L += k->c[i] * z[i];
        if (dz) dz[i] += k->c[i];
    }
    return L;
}

static double reparam_loss(void *p) { return reparam_loss_grad(p, NULL); }

static double mse_loss(void *p)
{
    loss_ctx *k = p;
    return nm_nn_mse_f64(k->B * k->ld, k->h, k->t, 0.9, NULL);
}

static void test_loss_grads(void)
{
    enum { B = 4, D = 3, LD = 7 }; /* one spare column: the stride matters */
    nm_rng r;
    nm_rng_seed(&r, 5);
    double h[B * LD], eps[B * D], t[B * LD], c[B * D], g[B * LD];
    fill_uniform(&r, B * LD, h, -1.5, 1.5);
    nm_nn_gauss_fill_f64(&r, B * D, eps);
    fill_uniform(&r, B * LD, t, -1, 1);
    fill_uniform(&r, B * D, c, -1, 1);
    loss_ctx k = {B, D, LD, h, eps, t, c};

    /* MSE */
    memset(g, 0, sizeof g);
    nm_nn_mse_f64(B * LD, h, t, 0.9, g);
    fd_check("mse", mse_loss, &k, h, g, B * LD);

    /* KL: gradients into the strided mu / logvar columns, nothing elsewhere. */
    memset(g, 0, sizeof g);
    double unit[D] = {0, 0, 0};
    double L = nm_nn_kl_gauss_f64(B, D, h, h + D, LD, 0.3, g, g + D, unit);
    fd_check("kl", kl_loss, &k, h, g, B * LD);
    for (size_t b = 0; b < B; b++) CHECK(g[b * LD + 2 * D] == 0.0);
    CHECK_CLOSE(0.3 * (unit[0] + unit[1] + unit[2]) / B, L, 1e-14, 0);

    /* Reparameterisation */
    memset(g, 0, sizeof g);
    double dz[B * D];
    memset(dz, 0, sizeof dz);
    reparam_loss_grad(&k, dz);
    nm_nn_reparam_backward_f64(B, D, h + D, LD, eps, dz, g, g + D);
    fd_check("reparam", reparam_loss, &k, h, g, B * LD);

    /* KL closed forms: KL(N(0,1)||N(0,1)) = 0; mu = 1: 0.5; var = 2:
     * 0.5 (2 - 1 - ln 2). */
    double mu[3] = {0, 1, 0}, lv[3] = {0, 0, log(2.0)}, u[3] = {0, 0, 0};
    double kl = nm_nn_kl_gauss_f64(1, 3, mu, lv, 3, 1.0, NULL, NULL, u);
    CHECK_CLOSE(u[0], 0.0, 0, 1e-15);
    CHECK_CLOSE(u[1], 0.5, 1e-15, 0);
    CHECK_CLOSE(u[2], 0.5 * (1 - log(2.0)), 1e-14, 0);
    CHECK_CLOSE(kl, 0.5 + 0.5 * (1 - log(2.0)), 1e-14, 0);
    /* z = mu + sigma eps */
    double zz[1], m1[1] = {0.25}, l1[1] = {log(4.0)}, e1[1] = {-1.5};
    nm_nn_reparam_forward_f64(1, 1, m1, l1, 1, e1, zz);
    CHECK_CLOSE(zz[0], 0.25 + 2.0 * -1.5, 1e-15, 0);
}

/* ---- a whole VAE: encoder -> (mu, logvar) -> z -> decoder ------------------- */

typedef struct vae_ctx {
    nm_mlp_f64 *enc, *dec;
    nm_mlp_ws_f64 *wse, *wsd;
    size_t B, D, in;
    double *x, *eps, *z;
    double beta;
} vae_ctx;

/* L = MSE(dec(z), x) + beta KL, z = mu + exp(logvar/2) eps, [mu, logvar] = enc(x).
 * With grads: the chain of nn.h's "VAE" paragraph. */
static double vae_loss_grad(vae_ctx *k, int grads)
{
    const size_t B = k->B, D = k->D, in = k->in;
    CHECK_OK(nm_mlp_forward_f64(k->enc, k->wse, B, k->x, NULL));
    const double *h = nm_mlp_ws_output_f64(k->wse); /* [B x 2D] */
    nm_nn_reparam_forward_f64(B, D, h, h + D, 2 * D, k->eps, k->z);
    CHECK_OK(nm_mlp_forward_f64(k->dec, k->wsd, B, k->z, NULL));
    const double *xr = nm_mlp_ws_output_f64(k->wsd);
    double dxr[64], dz[64], dh[64];
    memset(dxr, 0, sizeof dxr);
    memset(dz, 0, sizeof dz);
    memset(dh, 0, sizeof dh);
    double L = nm_nn_mse_f64(B * in, xr, k->x, 1.0, grads ? dxr : NULL);
    L += nm_nn_kl_gauss_f64(B, D, h, h + D, 2 * D, k->beta, grads ? dh : NULL,
                            grads ? dh + D : NULL, NULL);
    if (grads) {
        CHECK_OK(nm_mlp_backward_f64(k->dec, k->wsd, dxr, dz, k->dec->grads));
        nm_nn_reparam_backward_f64(B, D, h + D, 2 * D, k->eps, dz, dh, dh + D);
        CHECK_OK(nm_mlp_backward_f64(k->enc, k->wse, dh, NULL, k->enc->grads));
    }
    return L;
}

static double vae_loss(void *p) { return vae_loss_grad(p, 0); }

static void test_vae_chain(void)
{
    enum { B = 3, IN = 5, D = 2 };
    const size_t se[3] = {IN, 6, 2 * D}, sd[3] = {D, 6, IN};
    const nm_act ae[2] = {NM_ACT_TANH, NM_ACT_IDENTITY}, ad[2] = {NM_ACT_TANH, NM_ACT_IDENTITY};
    /* Encoder and decoder share one block, as the VAE will do. */
    size_t ne = nm_mlp_count_params(2, se), nd = nm_mlp_count_params(2, sd);
    double *P = calloc(ne + nd, sizeof *P), *Gr = calloc(ne + nd, sizeof *Gr);
    nm_mlp_f64 *enc = nm_mlp_alloc_view_f64(2, se, ae, P, Gr);
    nm_mlp_f64 *dec = nm_mlp_alloc_view_f64(2, sd, ad, P + ne, Gr + ne);
    CHECK(enc && dec);
    if (!enc || !dec) return;
    nm_rng r;
    nm_rng_seed(&r, 77);
    randomise_mlp(enc, &r);
    randomise_mlp(dec, &r);
    double x[B * IN], eps[B * D], z[B * D];
    fill_uniform(&r, B * IN, x, -1, 1);
    nm_nn_gauss_fill_f64(&r, B * D, eps);
    vae_ctx k = {enc, dec, nm_mlp_ws_alloc_f64(enc, B), nm_mlp_ws_alloc_f64(dec, B), B, D, IN,
                 x, eps, z, 0.05};
    memset(Gr, 0, (ne + nd) * sizeof *Gr);
    vae_loss_grad(&k, 1);
    fd_check("vae (encoder+decoder block)", vae_loss, &k, P, Gr, ne + nd);
    nm_mlp_ws_free_f64(k.wse);
    nm_mlp_ws_free_f64(k.wsd);
    nm_mlp_free_f64(enc);
    nm_mlp_free_f64(dec);
    free(P);
    free(Gr);
}

/* ---- a map unrolled through time: x(t+1) = F(x(t)), one tape per step ------ */

enum { RB = 2, RN = 3, RT = 4 };

typedef struct roll_ctx {
    nm_mlp_f64 *F;
    nm_mlp_ws_f64 *ws[RT];
    double *x0;             /* [RB x RN] */
    double *target;         /* [RT x RB x RN]: target for x(t+1) */
} roll_ctx;

/* L = sum_t MSE(x(t+1), target(t+1)); with grads: nn.h's rollout recipe. */
static double roll_loss_grad(roll_ctx *k, double *dx0)
{
    double x[RT + 1][RB * RN], g[RT + 1][RB * RN];
    memcpy(x[0], k->x0, sizeof x[0]);
    for (int t = 0; t < RT; t++) CHECK_OK(nm_mlp_forward_f64(k->F, k->ws[t], RB, x[t], x[t + 1]));
    memset(g, 0, sizeof g);
    double L = 0;
    for (int t = RT - 1; t >= 0; t--) {
        L += nm_nn_mse_f64(RB * RN, x[t + 1], k->target + t * RB * RN, 1.0, dx0 ? g[t + 1] : NULL);
        if (dx0) CHECK_OK(nm_mlp_backward_f64(k->F, k->ws[t], g[t + 1], g[t], k->F->grads));
    }
    if (dx0) memcpy(dx0, g[0], sizeof g[0]);
    return L;
}

static double roll_loss(void *p) { return roll_loss_grad(p, NULL); }

static void test_rollout(void)
{
    const size_t s[3] = {RN, 8, RN};
    const nm_act a[2] = {NM_ACT_TANH, NM_ACT_IDENTITY};
    roll_ctx k;
    k.F = nm_mlp_alloc_f64(2, s, a);
    CHECK(k.F != NULL);
    if (!k.F) return;
    for (int t = 0; t < RT; t++) k.ws[t] = nm_mlp_ws_alloc_f64(k.F, RB);
    nm_rng r;
    nm_rng_seed(&r, 31);
    randomise_mlp(k.F, &r);
    double x0[RB * RN], target[RT * RB * RN], dx0[RB * RN];
    fill_uniform(&r, RB * RN, x0, -1, 1);
    fill_uniform(&r, RT * RB * RN, target, -1, 1);
    k.x0 = x0;
    k.target = target;
    nm_mlp_zero_grad_f64(k.F);
    roll_loss_grad(&k, dx0);
    fd_check("rollout params", roll_loss, &k, k.F->params, k.F->grads, k.F->nparams);
    fd_check("rollout start state", roll_loss, &k, x0, dx0, RB * RN);
    for (int t = 0; t < RT; t++) nm_mlp_ws_free_f64(k.ws[t]);
    nm_mlp_free_f64(k.F);
}

/* ---- float engine: fast tanh, and the same network against the double twin - */

static void test_fast_tanh(void)
{
    enum { N = 200001 };
    float *x = malloc(N * sizeof *x);
    /* A grid symmetric about 0 bit for bit: x[N-1-i] = -x[i]. */
    for (int i = 0; i <= N / 2; i++) {
        x[i] = -10.0f + 20.0f * (float)i / (N - 1);
        x[N - 1 - i] = -x[i];
    }
    float *y = malloc(N * sizeof *y);
    memcpy(y, x, N * sizeof *y);
    nm_nn_act_apply(NM_ACT_TANH, N, y);
    double worst = 0;
    int bounded = 1, odd = 1;
    for (int i = 0; i < N; i++) {
        double t = tanh((double)x[i]);
        double rel = t != 0 ? fabs(y[i] - t) / fabs(t) : fabs(y[i]);
        if (rel > worst) worst = rel;
        if (fabsf(y[i]) > 1.0f) bounded = 0;
        if (y[i] != -y[N - 1 - i]) odd = 0; /* the grid is symmetric */
    }
    CHECK_MSG(worst < NM_FAST_TANH_RTOL, "fast tanh max relative error %.3g", worst);
    CHECK(bounded);
    CHECK(odd);
    /* tiny arguments, saturation, NaN */
    float s[6] = {1e-20f, -3e-8f, 50.0f, -1e30f, INFINITY, NAN};
    nm_nn_act_apply(NM_ACT_TANH, 6, s);
    CHECK_CLOSE(s[0], 1e-20, 1e-6, 0);
    CHECK_CLOSE(s[1], -3e-8, 1e-6, 0);
    CHECK(s[2] == 1.0f && s[3] == -1.0f && s[4] == 1.0f);
    CHECK(isnan(s[5]));
    free(x);
    free(y);
}

static void test_float_vs_double(void)
{
    enum { B = 9 };
    const size_t sizes[4] = {5, 16, 12, 4};
    for (int ai = 0; ai < NM_ACT_COUNT; ai++) {
        const nm_act acts[3] = {ALL_ACTS[ai], ALL_ACTS[ai], NM_ACT_IDENTITY};
        nm_mlp *mf = nm_mlp_alloc(3, sizes, acts);
        nm_mlp_f64 *md = nm_mlp_alloc_f64(3, sizes, acts);
        nm_mlp_ws *wf = nm_mlp_ws_alloc(mf, B);
        nm_mlp_ws_f64 *wd = nm_mlp_ws_alloc_f64(md, B);
        nm_rng r;
        nm_rng_seed(&r, 900 + (uint64_t)ai);
        CHECK_OK(nm_mlp_init(mf, &r, NM_INIT_AUTO));
        CHECK_OK(nm_mlp_params_to_f64(mf, md));
        float xf[B * 5], dyf[B * 4], dxf[B * 5];
        double xd[B * 5], dyd[B * 4], dxd[B * 5];
        for (int i = 0; i < B * 5; i++) xd[i] = xf[i] = (float)(4 * nm_rng_uniform(&r) - 2);
        for (int i = 0; i < B * 4; i++) dyd[i] = dyf[i] = (float)(2 * nm_rng_uniform(&r) - 1);
        memset(dxf, 0, sizeof dxf);
        memset(dxd, 0, sizeof dxd);
        CHECK_OK(nm_mlp_forward(mf, wf, B, xf, NULL));
        CHECK_OK(nm_mlp_forward_f64(md, wd, B, xd, NULL));
        CHECK_OK(nm_mlp_backward(mf, wf, dyf, dxf, mf->grads));
        CHECK_OK(nm_mlp_backward_f64(md, wd, dyd, dxd, md->grads));
        const float *yf = nm_mlp_ws_output(wf);
        const double *yd = nm_mlp_ws_output_f64(wd);
        double ey = 0, eg = 0, gmax = 0, ex = 0;
        for (int i = 0; i < B * 4; i++) ey = fmax(ey, fabs(yf[i] - yd[i]));
        for (size_t i = 0; i < md->nparams; i++) {
            eg = fmax(eg, fabs(mf->grads[i] - md->grads[i]));
            gmax = fmax(gmax, fabs(md->grads[i]));
        }
        for (int i = 0; i < B * 5; i++) ex = fmax(ex, fabs(dxf[i] - dxd[i]));
        CHECK_MSG(ey < F32_VS_F64_TOL, "%s: float output off by %.3g", nm_act_name(acts[0]), ey);
        CHECK_MSG(eg < F32_VS_F64_TOL * (1 + gmax), "%s: float grads off by %.3g (max %.3g)",
                  nm_act_name(acts[0]), eg, gmax);
        CHECK_MSG(ex < F32_VS_F64_TOL, "%s: float dx off by %.3g", nm_act_name(acts[0]), ex);

        /* One row through forward1 (plain loops) = that row of the batch
         * (GEMM), up to float rounding in a different summation order. */
        float y1[4];
        nm_mlp_ws *w1 = nm_mlp_ws_alloc(mf, 1);
        CHECK_OK(nm_mlp_forward(mf, wf, B, xf, NULL));
        CHECK_OK(nm_mlp_forward1(mf, w1, xf + 5 * 3, y1));
        for (int j = 0; j < 4; j++) CHECK_CLOSE(y1[j], nm_mlp_ws_output(wf)[3 * 4 + j], 0, 1e-5);
        float y2[4];
        CHECK_OK(nm_mlp_apply1(mf, xf + 5 * 3, y2));
        CHECK(memcmp(y1, y2, sizeof y1) == 0);
        nm_mlp_ws_free(w1);

        nm_mlp_ws_free(wf);
        nm_mlp_ws_free_f64(wd);
        nm_mlp_free(mf);
        nm_mlp_free_f64(md);
    }
}

/* ---- errors ---------------------------------------------------------------- */

static void test_errors(void)
{
    const size_t s[3] = {3, 4, 2}, s2[3] = {3, 5, 2}, s0[3] = {3, 0, 2};
    const nm_act a[2] = {NM_ACT_TANH, NM_ACT_IDENTITY}, bad[2] = {NM_ACT_TANH, (nm_act)17};
    CHECK(nm_mlp_alloc(2, s0, a) == NULL);
    CHECK(strstr(nm_last_error(), "width 0") != NULL);
    CHECK(nm_mlp_alloc(2, s, bad) == NULL);
    CHECK(strstr(nm_last_error(), "activation 17") != NULL);
    CHECK(nm_mlp_alloc(0, s, a) == NULL);
    CHECK(nm_mlp_count_params(2, s) == 3 * 4 + 4 + 4 * 2 + 2);
    CHECK(nm_mlp_count_params(2, s0) == 0);

    nm_mlp *m = nm_mlp_alloc(2, s, a), *m2 = nm_mlp_alloc(2, s2, a);
    nm_mlp_ws *ws = nm_mlp_ws_alloc(m, 2), *ws2 = nm_mlp_ws_alloc(m2, 2);
    float x[9] = {0}, y[6];
    CHECK_FAILS(nm_mlp_forward(m, ws, 3, x, y), NM_EINVAL, "exceeds");
    CHECK_FAILS(nm_mlp_forward(m, ws2, 1, x, y), NM_EINVAL, "other layer widths");
    CHECK_FAILS(nm_mlp_backward(m, ws2, y, NULL, m->grads), NM_EINVAL, "other layer widths");
    CHECK_OK(nm_mlp_forward(m, ws, 0, NULL, NULL));
    CHECK_OK(nm_mlp_backward(m, ws, NULL, NULL, m->grads)); /* nothing recorded */
    CHECK_OK(nm_mlp_forward(m, ws, 1, x, y));
    CHECK_FAILS(nm_mlp_backward(m, ws, NULL, NULL, m->grads), NM_EINVAL, "NULL output gradient");
    /* Layout: W_0 [4 x 3], b_0 [4], W_1 [2 x 4], b_1 [2], back to back. */
    CHECK(m->layer[0].w_off == 0 && m->layer[0].b_off == 12);
    CHECK(m->layer[1].w_off == 16 && m->layer[1].b_off == 24 && m->nparams == 26);
    /* A clone has the same values in its own block. */
    m->params[5] = 0.25f;
    nm_mlp *c = nm_mlp_clone(m);
    CHECK(c && c->params != m->params && c->params[5] == 0.25f && c->nparams == 26);
    nm_mlp_free(c);
    /* apply1 keeps its buffers on the stack: wider networks are refused. */
    const size_t wide[3] = {3, NM_MLP_APPLY1_MAX_WIDTH + 1, 2};
    nm_mlp *mw = nm_mlp_alloc(2, wide, a);
    CHECK_FAILS(nm_mlp_apply1(mw, x, y), NM_EINVAL, "exceeds");
    nm_mlp_free(mw);
    nm_act parsed;
    CHECK_OK(nm_act_parse("softplus", &parsed));
    CHECK(parsed == NM_ACT_SOFTPLUS);
    CHECK_FAILS(nm_act_parse("gelu", &parsed), NM_ENOTFOUND, "gelu");
    CHECK(nm_act_name((nm_act)9) == NULL);
    nm_mlp_ws_free(ws);
    nm_mlp_ws_free(ws2);
    nm_mlp_free(m);
    nm_mlp_free(m2);
    nm_mlp_free(NULL);
    nm_mlp_ws_free(NULL);
}

int main(void)
{
    NM_RUN(test_activation_grads);
    NM_RUN(test_mlp_grads);
    NM_RUN(test_loss_grads);
    NM_RUN(test_vae_chain);
    NM_RUN(test_rollout);
    NM_RUN(test_fast_tanh);
    NM_RUN(test_float_vs_double);
    NM_RUN(test_errors);
    return nm_test_report();
}
