/* test_map.c -- the neural-network map: gradient of the rollout loss against
 * finite differences, the residual step and its divergence guard, training on
 * a system with a known answer, model-file round trip, determinism. */
#include "internal.h"
#include "learn/map.h"
#include "nm_test.h"
#include "rng.h"

/* Finite differences in float32: central differences with step FD_EPS on a
 * loss of order 1 carry a rounding error of about 1e-7 / 1e-2 = 1e-5 per
 * unit of loss, so analytic and numeric gradients agree to ~1e-3 relative;
 * 2e-2 leaves a margin while a wrong term (a missing residual path, a
 * dropped d_scale factor) is off by O(1). */
#define FD_EPS 1e-2f
#define FD_RTOL 2e-2
#define FD_ATOL 2e-4

static nm_map *tiny_map_u(size_t D, size_t hidden, uint64_t seed, size_t nu)
{
    nm_map *m = nm_calloc(1, sizeof *m);
    m->D = D;
    m->nu = nu;
    m->u_center = 0.2;
    m->u_half = 0.5;
    m->u_lo = -0.3;
    m->u_hi = 0.7;
    size_t sizes[4] = {D + 1 + nu, hidden, hidden, D};
    nm_act acts[3] = {NM_ACT_TANH, NM_ACT_TANH, NM_ACT_IDENTITY};
    m->net = nm_mlp_alloc(3, sizes, acts);
    nm_rng rng;
    nm_rng_seed(&rng, seed);
    nm_mlp_init(m->net, &rng, NM_INIT_XAVIER_UNIFORM);
    for (size_t j = 0; j < D; j++) {
        m->x_mean[j] = 0.1 * (double)j;
        m->A[j * D + j] = 1.0 / (1.0 + 0.5 * (double)j);
        m->A_inv[j * D + j] = 1.0 + 0.5 * (double)j;
        m->d_scale[j] = 0.3 + 0.4 * (double)j; /* unequal on purpose: the gradient must carry it */
    }
    m->p_center = 0;
    m->p_half = 1;
    m->bound = 10;
    return m;
}

static nm_map *tiny_map(size_t D, size_t hidden, uint64_t seed) { return tiny_map_u(D, hidden, seed, 0); }

static void fill_rollout(nm_map_rollout *r, nm_rng *rng)
{
    size_t K = r->K, B = r->B, D = r->D;
    for (size_t i = 0; i < B * D; i++) r->x[i] = (float)nm_rng_gauss(rng);
    for (size_t i = 0; i < (K + 1) * B * D; i++) r->tgt[i] = (float)nm_rng_gauss(rng);
    for (size_t b = 0; b < B; b++) r->ps[b] = (float)(2 * nm_rng_uniform(rng) - 1);
    if (r->nu)
        for (size_t i = 0; i < K * B; i++) r->us[i] = (float)(2 * nm_rng_uniform(rng) - 1);
}

/* nu = 0: the constant-p map; nu = 1: driven by a different input at every
 * step of every row (issue 11's input-conditioned rollout loss). */
static void rollout_gradient(size_t nu)
{
    const size_t D = 3, K = 5, B = 4;
    nm_map *m = tiny_map_u(D, 8, 7, nu);
    nm_map_rollout r;
    CHECK_OK(nm_map_rollout_alloc_u(&r, m->net, K, B, D, nu));
    nm_rng rng;
    nm_rng_seed(&rng, 11);
    fill_rollout(&r, &rng);
    float x0[12];
    memcpy(x0, r.x, sizeof x0);
    double loss;
    nm_mlp_zero_grad(m->net);
    CHECK_OK(nm_map_rollout_loss(m, &r, &loss, 1));
    float g0[12];
    memcpy(g0, r.g, sizeof g0);
    size_t bad = 0;
    double dot = 0, na = 0, nn = 0;
    for (size_t i = 0; i < m->net->nparams; i++) {
        float keep = m->net->params[i];
        double lp, lm;
        m->net->params[i] = keep + FD_EPS;
        memcpy(r.x, x0, sizeof x0);
        nm_map_rollout_loss(m, &r, &lp, 0);
        m->net->params[i] = keep - FD_EPS;
        memcpy(r.x, x0, sizeof x0);
        nm_map_rollout_loss(m, &r, &lm, 0);
        m->net->params[i] = keep;
        double fd = (lp - lm) / (2.0 * FD_EPS), an = m->net->grads[i];
        if (fabs(fd - an) > FD_ATOL + FD_RTOL * fabs(fd)) {
            if (bad++ < 5) fprintf(stderr, "  param %zu: analytic %.6g, finite difference %.6g\n", i, an, fd);
        }
        dot += fd * an;
        na += an * an;
        nn += fd * fd;
    }
    CHECK_MSG(bad == 0, "%zu of %zu parameter gradients off", bad, m->net->nparams);
    CHECK(dot / sqrt(na * nn) > 0.9999);
    /* dL/dx0: through every step of the run. */
    for (size_t i = 0; i < B * D; i++) {
        double lp, lm;
        memcpy(r.x, x0, sizeof x0);
        r.x[i] += FD_EPS;
        nm_map_rollout_loss(m, &r, &lp, 0);
        memcpy(r.x, x0, sizeof x0);
        r.x[i] -= FD_EPS;
        nm_map_rollout_loss(m, &r, &lm, 0);
        CHECK_CLOSE(g0[i], (lp - lm) / (2.0 * FD_EPS), FD_RTOL, FD_ATOL);
    }
    if (nu) {
        /* The input reaches the loss: changing one step's input changes it. */
        double l0, l1;
        memcpy(r.x, x0, sizeof x0);
        nm_map_rollout_loss(m, &r, &l0, 0);
        r.us[2 * B + 1] += 0.5f;
        memcpy(r.x, x0, sizeof x0);
        nm_map_rollout_loss(m, &r, &l1, 0);
        CHECK(fabs(l1 - l0) > 1e-6);
    }
    nm_map_rollout_free(&r);
    nm_map_free(m);
}

static void test_rollout_gradient(void) { rollout_gradient(0); }
static void test_rollout_gradient_input(void) { rollout_gradient(1); }

/* A forced linear system with a known answer: a damped rotation kicked by
 * the input, x(n+1) = 0.95 R x(n) + (0.3 u(n), 0).  A map with an input
 * channel learns it from three input sequences and predicts the response to
 * a fourth (another seed) step by step; a map that ignores the input cannot. */
static void forced_series(uint64_t seed, size_t T, double *x, double *u)
{
    nm_rng rng;
    nm_rng_seed(&rng, seed);
    const double c = 0.95 * cos(0.2), s = 0.95 * sin(0.2);
    double a = 0, b = 0, w = 0;
    for (size_t t = 0; t < T; t++) {
        x[2 * t] = a;
        x[2 * t + 1] = b;
        w = 0.9 * w + 0.45 * nm_rng_gauss(&rng); /* AR(1) input, SD ~1 */
        u[t] = w;
        double na = c * a - s * b + 0.3 * u[t], nb = s * a + c * b;
        a = na;
        b = nb;
    }
}

static void test_train_forced(void)
{
    enum { T = 3000 };
    static double x[3][2 * T], u[3][T], xh[2 * T], uh[T];
    nm_map_series s[3];
    for (size_t i = 0; i < 3; i++) {
        forced_series(100 + i, T, x[i], u[i]);
        s[i] = (nm_map_series){x[i], T, 0.0, NULL, u[i], 0};
    }
    forced_series(999, T, xh, uh);
    nm_map_opts o;
    nm_map_opts_default(&o);
    o.hidden[0] = o.hidden[1] = 32;
    o.onestep_epochs = 30;
    o.batch = 64;
    o.nstages = 1;
    o.rollout_len[0] = 10;
    o.rollout_iters[0] = 150;
    o.rollout_batch = 32;
    o.rollout_lr = 3e-4;
    o.seed = 3;
    nm_map *m = NULL;
    nm_map_report rep;
    CHECK_OK(nm_map_train(s, 3, 2, &o, &m, &rep));
    if (!m) return;
    CHECK(m->nu == 1);
    CHECK(m->u_lo < -2 && m->u_hi > 2);
    /* Driven run over held-out input from the true start: the error stays
     * a small part of the response's size (its SD is ~0.5). */
    double xr[2] = {xh[0], xh[1]}, se = 0, sv = 0;
    for (size_t t = 0; t + 1 < 400; t++) {
        CHECK_OK(nm_map_step_u(m, 0.0, uh[t], xr, xr));
        double e0 = xr[0] - xh[2 * (t + 1)], e1 = xr[1] - xh[2 * (t + 1) + 1];
        se += e0 * e0 + e1 * e1;
        sv += xh[2 * (t + 1)] * xh[2 * (t + 1)] + xh[2 * (t + 1) + 1] * xh[2 * (t + 1) + 1];
    }
    double rel = sqrt(se / sv);
    CHECK_MSG(rel < 0.15, "driven run on held-out input: relative RMS error %.3f", rel);
    /* The input matters: with u = 0 the run misses the response entirely. */
    double x0[2] = {xh[0], xh[1]}, se0 = 0;
    for (size_t t = 0; t + 1 < 400; t++) {
        CHECK_OK(nm_map_step_u(m, 0.0, 0.0, x0, x0));
        double e0 = x0[0] - xh[2 * (t + 1)], e1 = x0[1] - xh[2 * (t + 1) + 1];
        se0 += e0 * e0 + e1 * e1;
    }
    CHECK(sqrt(se0 / sv) > 0.8);
    /* Model-file round trip keeps the input channel, step for step. */
    nm_mf *mf = nm_mf_alloc();
    CHECK_OK(nm_map_to_mf(m, mf));
    nm_map *r = NULL;
    CHECK_OK(nm_map_from_mf(mf, &r));
    if (r) {
        double y1[2], y2[2], z[2] = {0.3, -0.2};
        CHECK(r->nu == 1 && r->u_lo == m->u_lo && r->u_hi == m->u_hi);
        CHECK_OK(nm_map_step_u(m, 0.0, 0.7, z, y1));
        CHECK_OK(nm_map_step_u(r, 0.0, 0.7, z, y2));
        CHECK(y1[0] == y2[0] && y1[1] == y2[1]);
    }
    nm_map_free(r);
    /* A corrupted input scaling is refused with the entry named. */
    nm_mf_remove(mf, "map.u_half");
    nm_mf_add_scalar_f64(mf, "map.u_half", -1.0);
    CHECK_FAILS(nm_map_from_mf(mf, &r), NM_EFORMAT, "input scaling");
    nm_mf_remove(mf, "map.nu");
    CHECK_FAILS(nm_map_from_mf(mf, &r), NM_EFORMAT, "map.sizes");
    nm_mf_free(mf);
    /* A non-finite input in training data is refused. */
    u[1][17] = NAN;
    nm_map *bad = NULL;
    CHECK_FAILS(nm_map_train(s, 3, 2, &o, &bad, NULL), NM_EDATA, "input of series 1");
    u[1][17] = 0;
    nm_map_free(m);
}

/* K = 1: the rollout loss is the one-step MSE of the residual map. */
static void test_rollout_one_step(void)
{
    const size_t D = 2, B = 3;
    nm_map *m = tiny_map(D, 6, 3);
    nm_map_rollout r;
    CHECK_OK(nm_map_rollout_alloc(&r, m->net, 1, B, D));
    nm_rng rng;
    nm_rng_seed(&rng, 5);
    fill_rollout(&r, &rng);
    double loss, want = 0;
    CHECK_OK(nm_map_rollout_loss(m, &r, &loss, 0));
    for (size_t b = 0; b < B; b++) {
        float in[3] = {r.x[b * D], r.x[b * D + 1], r.ps[b]}, out[2];
        nm_mlp_apply1(m->net, in, out);
        for (size_t j = 0; j < D; j++) {
            double e = in[j] + m->d_scale[j] * out[j] - r.tgt[(B + b) * D + j];
            want += e * e / (double)(B * D);
        }
    }
    CHECK_CLOSE(loss, want, 1e-5, 1e-9);
    nm_map_rollout_free(&r);
    nm_map_free(m);
}

static void test_step_and_guard(void)
{
    nm_map *m = tiny_map(2, 4, 1);
    /* A zero last layer: the residual map is the identity. */
    const nm_dense *L = &m->net->layer[2];
    memset(m->net->params + L->w_off, 0, (L->in * L->out + L->out) * sizeof(float));
    double x[2] = {0.7, -1.3}, y[2];
    CHECK_OK(nm_map_step(m, 0.3, x, y));
    CHECK_CLOSE(y[0], 0.7, 1e-6, 1e-6);
    CHECK_CLOSE(y[1], -1.3, 1e-6, 1e-6);
    /* Push unit 1 far out: the step must refuse with a message. */
    m->net->params[L->b_off + 1] = 100.0f;
    CHECK_FAILS(nm_map_step(m, 0.3, x, y), NM_ENUMERIC, "diverged");
    nm_map_free(m);
}

/* A discrete Hopf normal form with control p: radius r' = r + h (p - r^2) r,
 * angle + h w.  For p > 0 the attractor is the circle r = sqrt(p).  Trained at
 * p = 0.25 and p = 1, the map must put the attractor at p = 0.5625 (never
 * seen) near r = 0.75. */
#define HOPF_H 0.05
#define HOPF_W 0.3
static void hopf_series(double p, size_t T, double *x)
{
    double r = 0.2, th = 0;
    for (size_t t = 0; t < T; t++) {
        x[2 * t] = r * cos(th);
        x[2 * t + 1] = r * sin(th);
        r += HOPF_H * (p - r * r) * r;
        th += HOPF_H * HOPF_W * 10;
    }
}

static nm_map *train_hopf_n(uint64_t seed, size_t ensemble);
static nm_map *train_hopf(uint64_t seed) { return train_hopf_n(seed, 1); }

static nm_map *train_hopf_n(uint64_t seed, size_t ensemble)
{
    static double a[2 * 3000], b[2 * 3000], c[2 * 3000];
    hopf_series(0.25, 3000, a);
    hopf_series(1.0, 3000, b);
    hopf_series(0.5, 3000, c);
    nm_map_series s[3] = {{a, 3000, 0.25, NULL, NULL, 0}, {b, 3000, 1.0, NULL, NULL, 0}, {c, 3000, 0.5, NULL, NULL, 0}};
    nm_map_opts o;
    nm_map_opts_default(&o);
    o.hidden[0] = o.hidden[1] = 32;
    o.onestep_epochs = 30;
    o.batch = 64;
    o.nstages = 1;
    o.rollout_len[0] = 10;
    o.rollout_iters[0] = 150;
    o.rollout_batch = 32;
    /* This tiny problem's own step size: 150 iterations at the SRK default
     * (1e-3, meant for 1600 iterations) leave the EMA weights noisy. */
    o.rollout_lr = 3e-4;
    o.seed = seed;
    o.ensemble = ensemble;
    nm_map *m = NULL;
    nm_map_report rep;
    CHECK_OK(nm_map_train(s, 3, 2, &o, &m, &rep));
    CHECK(rep.onestep_loss < 1e-2);
    return m;
}

static void test_train_hopf(void)
{
    nm_map *m = train_hopf(42);
    if (!m) return;
    double x[2] = {0.1, 0.0};
    double rmin = INFINITY, rmax = 0;
    for (int k = 0; k < 4000; k++) {
        CHECK_OK(nm_map_step(m, 0.5625, x, x));
        if (k >= 3000) {
            double r = hypot(x[0], x[1]);
            rmin = fmin(rmin, r);
            rmax = fmax(rmax, r);
        }
    }
    /* Interpolated between trained p values: within 10% of sqrt(0.5625). */
    CHECK_CLOSE(rmin, 0.75, 0.10, 0);
    CHECK_CLOSE(rmax, 0.75, 0.10, 0);
    /* Same seed, same parameters bit for bit. */
    nm_map *m2 = train_hopf(42);
    if (m2) CHECK(memcmp(m->net->params, m2->net->params, m->net->nparams * sizeof(float)) == 0);
    nm_map_free(m2);

    /* Model-file round trip: identical steps. */
    nm_mf *mf = nm_mf_alloc();
    CHECK_OK(nm_map_to_mf(m, mf));
    nm_map *r = NULL;
    CHECK_OK(nm_map_from_mf(mf, &r));
    if (r) {
        double y1[2], y2[2], z[2] = {0.3, -0.2};
        CHECK_OK(nm_map_step(m, 0.4, z, y1));
        CHECK_OK(nm_map_step(r, 0.4, z, y2));
        CHECK(y1[0] == y2[0] && y1[1] == y2[1]);
    }
    nm_map_free(r);
    /* Inconsistent sizes are refused with the entry named. */
    nm_mf_remove(mf, "map.params");
    float junk[10] = {0};
    nm_mf_add_f32(mf, "map.params", junk, 10);
    CHECK_FAILS(nm_map_from_mf(mf, &r), NM_EFORMAT, "map.params");
    nm_mf_remove(mf, "map.params");
    CHECK(nm_map_from_mf(mf, &r) != NM_OK);
    nm_mf_free(mf);
    mf = nm_mf_alloc();
    CHECK_OK(nm_map_to_mf(m, mf));
    nm_mf_remove(mf, "map.A_inv");
    double notinv[4] = {1, 0, 0, 2};
    nm_mf_add_f64(mf, "map.A_inv", notinv, 4);
    CHECK_FAILS(nm_map_from_mf(mf, &r), NM_EFORMAT, "not the identity");
    nm_mf_free(mf);
    nm_map_free(m);
}

/* Slow-feature coordinates: a slow and a fast oscillation mixed by a
 * rotation.  The first map coordinate must be the slow source again (up to
 * sign and scale), and A A_inv = I. */
static void test_slow_features(void)
{
    enum { T = 4000 };
    static double x[2 * T];
    const double c = cos(0.6), s = sin(0.6);
    for (size_t t = 0; t < T; t++) {
        double slow = sin(0.002 * (double)t), fast = 0.7 * sin(0.3 * (double)t);
        x[2 * t] = c * slow - s * fast + 1.0;
        x[2 * t + 1] = s * slow + c * fast - 2.0;
    }
    nm_map_series ser = {x, T, 0.0, NULL, NULL, 0};
    nm_map_opts o;
    nm_map_opts_default(&o);
    o.sfa = 1;
    o.hidden[0] = o.hidden[1] = 4;
    o.onestep_epochs = 1;
    o.nstages = 0;
    nm_map *m = NULL;
    CHECK_OK(nm_map_train(&ser, 1, 2, &o, &m, NULL));
    if (!m) return;
    double sxy = 0, sxx = 0, syy = 0, mslow = 0;
    for (size_t t = 0; t < T; t++) mslow += sin(0.002 * (double)t) / T;
    for (size_t t = 0; t < T; t++) {
        double slow = sin(0.002 * (double)t) - mslow;
        double y0 = m->A[0] * (x[2 * t] - m->x_mean[0]) + m->A[1] * (x[2 * t + 1] - m->x_mean[1]);
        sxy += y0 * slow;
        sxx += y0 * y0;
        syy += slow * slow;
    }
    CHECK(fabs(sxy) / sqrt(sxx * syy) > 0.999);
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 2; j++)
            CHECK_CLOSE(m->A[i * 2] * m->A_inv[j] + m->A[i * 2 + 1] * m->A_inv[2 + j], i == j ? 1.0 : 0.0, 0, 1e-9);
    /* The slow coordinate gets the small step scale. */
    CHECK(m->d_scale[0] < 0.1 * m->d_scale[1]);
    nm_map_free(m);
}

/* An ensemble of two: member r is the single map trained with seed + r,
 * and a step is the mean of the members' steps (residual maps average). */
static void test_ensemble(void)
{
    nm_map *e = train_hopf_n(42, 2), *a = train_hopf(42), *b = train_hopf(43);
    if (!e || !a || !b) goto done;
    CHECK(e->nmembers == 2);
    CHECK(memcmp(e->members[0]->params, a->net->params, a->net->nparams * sizeof(float)) == 0);
    CHECK(memcmp(e->members[1]->params, b->net->params, b->net->nparams * sizeof(float)) == 0);
    double x[2] = {0.4, -0.3}, ye[2], ya[2], yb[2];
    CHECK_OK(nm_map_step(e, 0.6, x, ye));
    CHECK_OK(nm_map_step(a, 0.6, x, ya));
    CHECK_OK(nm_map_step(b, 0.6, x, yb));
    for (int j = 0; j < 2; j++) CHECK_CLOSE(ye[j], 0.5 * (ya[j] + yb[j]), 1e-6, 1e-7);
    nm_mf *mf = nm_mf_alloc();
    CHECK_OK(nm_map_to_mf(e, mf));
    nm_map *r = NULL;
    CHECK_OK(nm_map_from_mf(mf, &r));
    if (r) {
        double yr[2];
        CHECK(r->nmembers == 2);
        CHECK_OK(nm_map_step(r, 0.6, x, yr));
        CHECK(yr[0] == ye[0] && yr[1] == ye[1]);
    }
    nm_map_free(r);
    nm_mf_free(mf);
done:
    nm_map_free(e);
    nm_map_free(a);
    nm_map_free(b);
}

static void test_bad_inputs(void)
{
    double x[100] = {0};
    nm_map_series s = {x, 50, 0.0, NULL, NULL, 0};
    nm_map *m = NULL;
    nm_map_opts o;
    nm_map_opts_default(&o);
    CHECK_FAILS(nm_map_train(&s, 1, 0, &o, &m, NULL), NM_EINVAL, "latent dimension");
    CHECK_FAILS(nm_map_train(&s, 0, 2, &o, &m, NULL), NM_EINVAL, "no training series");
    s.T = 5;
    CHECK_FAILS(nm_map_train(&s, 1, 2, &o, &m, NULL), NM_EDATA, "need >= 20");
    s.T = 50;
    x[7] = NAN;
    CHECK_FAILS(nm_map_train(&s, 1, 2, &o, &m, NULL), NM_EDATA, "non-finite");
    x[7] = 0;
    o.noise = -1;
    CHECK_FAILS(nm_map_train(&s, 1, 2, &o, &m, NULL), NM_EINVAL, "noise");
    CHECK(m == NULL);
}

/* The stored start state: the decoded "V" of the Hopf map is 100 x[0], so
 * every training series spikes periodically (one spike per turn); from each
 * candidate start the limit cycle is reached, so all three regimes match and
 * the chosen start is one of the series' own states. */
static double hopf_decode(const double *x, void *ctx)
{
    (void)ctx;
    return 100 * x[0];
}

static void test_choose_start(void)
{
    static double a[2 * 3000], b[2 * 3000], c[2 * 3000];
    hopf_series(0.25, 3000, a);
    hopf_series(1.0, 3000, b);
    hopf_series(0.5, 3000, c);
    nm_map_series s[3] = {{a, 3000, 0.25, NULL, NULL, 0}, {b, 3000, 1.0, NULL, NULL, 0}, {c, 3000, 0.5, NULL, NULL, 0}};
    nm_map *m = train_hopf(42);
    if (!m) return;
    nm_map_opts o;
    nm_map_opts_default(&o);
    o.dt_ms = 1;
    o.threshold_mv = 20;
    o.decode = hopf_decode;
    /* The amplitude settles slowly from the small first state of series 0
     * (r = 0.2); the ISI slack scaled to the 1 ms step (0.4 ms) calls a
     * still-drifting train irregular, so the transient is long. */
    o.select_transient_ms = 1500;
    o.select_window_ms = 2000;
    double x0[2];
    nm_map_start_report rep;
    CHECK_OK(nm_map_choose_start(m, s, 3, &o, x0, &rep));
    CHECK(rep.ncandidates == 9);
    CHECK(rep.nmatch == 3);
    CHECK(rep.robust > 0.99 && rep.robust <= 1.0);
    for (size_t i = 0; i < 3; i++) {
        CHECK(rep.truth[i].cls == NM_REGIME_PERIODIC && rep.truth[i].spikes_per_period == 1);
        CHECK(rep.got[i].cls == NM_REGIME_PERIODIC && rep.match[i] && !rep.diverged[i]);
        /* the free run's period is the series' within the match tolerance */
        CHECK_CLOSE(rep.got[i].period_ms, rep.truth[i].period_ms, 0.25, 0);
    }
    /* ties go to the first candidate: the first state of series 0 */
    CHECK(rep.chosen == 0);
    CHECK_CLOSE(x0[0], a[0], 1e-6, 1e-6);
    CHECK_CLOSE(x0[1], a[1], 1e-6, 1e-6);
    nm_map_start_report_free(&rep);
    CHECK(rep.truth == NULL);
    /* Same inputs, same choice, whatever the thread count. */
    o.threads = 1;
    double x1[2];
    CHECK_OK(nm_map_choose_start(m, s, 3, &o, x1, &rep));
    CHECK(x1[0] == x0[0] && x1[1] == x0[1]);
    nm_map_start_report_free(&rep);
    /* With recorded V given, the training regimes are read from it, not from
     * the decoded states: a flat recording is silent, so no start matches. */
    static double flat[3000];
    for (size_t t = 0; t < 3000; t++) flat[t] = -60 + 0.5 * sin(0.7 * (double)t); /* noise-like, below 20 */
    nm_map_series sv[3] = {{a, 3000, 0.25, flat, NULL, 0}, {b, 3000, 1.0, flat, NULL, 0}, {c, 3000, 0.5, flat, NULL, 0}};
    CHECK_OK(nm_map_choose_start(m, sv, 3, &o, x1, &rep));
    for (size_t i = 0; i < 3; i++) CHECK(rep.truth[i].cls == NM_REGIME_SILENT && !rep.match[i]);
    CHECK(rep.nmatch == 0);
    nm_map_start_report_free(&rep);
    /* v_from (distillation's runs from a start state): the regime is read
     * from state v_from on.  A recording spiking like series 0 for its first
     * 2000 states and flat after: silent read from 2000, not read from 0. */
    static double early[3000];
    for (size_t t = 0; t < 3000; t++) early[t] = t < 2000 ? hopf_decode(a + 2 * t, NULL) : flat[t];
    nm_map_series sl[2] = {{a, 3000, 0.25, early, NULL, 0}, {a, 3000, 0.25, early, NULL, 2000}};
    CHECK_OK(nm_map_choose_start(m, sl, 2, &o, x1, &rep));
    CHECK(rep.truth[0].cls != NM_REGIME_SILENT && rep.truth[0].nspikes > 10);
    CHECK(rep.truth[1].cls == NM_REGIME_SILENT && rep.truth[1].nspikes == 0);
    nm_map_start_report_free(&rep);
    /* Bad inputs. */
    o.decode = NULL;
    CHECK_FAILS(nm_map_choose_start(m, s, 3, &o, x1, &rep), NM_EINVAL, "NULL");
    o.decode = hopf_decode;
    nm_map_series shortser = {a, 10, 0.25, NULL, NULL, 0};
    CHECK_FAILS(nm_map_choose_start(m, &shortser, 1, &o, x1, &rep), NM_EDATA, "need >= 20");
    nm_map_free(m);
}

int main(void)
{
    NM_RUN(test_rollout_gradient);
    NM_RUN(test_rollout_gradient_input);
    NM_RUN(test_train_forced);
    NM_RUN(test_rollout_one_step);
    NM_RUN(test_step_and_guard);
    NM_RUN(test_train_hopf);
    NM_RUN(test_slow_features);
    NM_RUN(test_ensemble);
    NM_RUN(test_choose_start);
    NM_RUN(test_bad_inputs);
    return nm_test_report();
}
