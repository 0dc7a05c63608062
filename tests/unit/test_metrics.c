/* test_metrics.c -- reconstruction metrics (D_stsp, D_H, Wasserstein-1),
 * sweeps that keep ISIs, and reading a recorded sweep: identities, cases
 * with known analytic values, and bad inputs. */
#include "neuromap.h"
#include "nm_test.h"
#include "nm_test_model.h"
#include "rng.h"

#include <stdio.h>

#define PI 3.14159265358979323846

/* ---------------------------------------------------------------- D_stsp */

static void test_dstsp_identity_and_analytic(void)
{
    enum { N = 30000 };
    double *t = malloc(N * sizeof *t), *g = malloc(N * sizeof *g);
    CHECK(t && g);
    if (!t || !g) goto out;
    /* Truth: evenly spread over [0, 1]. */
    for (size_t i = 0; i < N; i++) t[i] = ((double)i + 0.5) / N;
    double d = -1;
    CHECK_OK(nm_metric_dstsp(t, N, t, N, 1, 1, NM_DSTSP_BINS, &d));
    CHECK_CLOSE(d, 0.0, 0, 1e-12);

    /* Generated: 3/4 of the mass evenly on the lower half, 1/4 on the upper.
     * KL(uniform || that) = 0.5 log(0.5/0.75) + 0.5 log(0.5/0.25) =
     * 0.5 log(4/3).  Tolerance: the bin edges follow the true range
     * [0.5/N, 1-0.5/N], misaligned with 0.5 by O(bins/N) = 1e-3 of a bin's
     * mass; the smoothing (alpha 1e-5 per cell) is far below that. */
    for (size_t i = 0; i < 3 * N / 4; i++) g[i] = 0.5 * ((double)i + 0.5) / (3 * N / 4);
    for (size_t i = 0; i < N / 4; i++) g[3 * N / 4 + i] = 0.5 + 0.5 * ((double)i + 0.5) / (N / 4);
    CHECK_OK(nm_metric_dstsp(t, N, g, N, 1, 1, NM_DSTSP_BINS, &d));
    CHECK_CLOSE(d, 0.5 * log(4.0 / 3.0), 0, 2e-3);
    /* Order does not matter for a 1-D histogram. */
    double d2;
    for (size_t i = 0; i < N / 2; i++) {
        double s = g[i];
        g[i] = g[N - 1 - i];
        g[N - 1 - i] = s;
    }
    CHECK_OK(nm_metric_dstsp(t, N, g, N, 1, 1, NM_DSTSP_BINS, &d2));
    CHECK_CLOSE(d2, d, 1e-12, 0);

    /* Generated entirely outside the true range: every vector lands in the
     * "outside" cell, q = alpha/(N + alpha K) in every box cell, so
     * D = sum_c p_c log(p_c/q) with p_c = (N/30 + a)/(N + 30a) -- about
     * log(N / (30 alpha)) = 18.4; not renormalised to look good. */
    for (size_t i = 0; i < N; i++) g[i] = t[i] + 2.0;
    CHECK_OK(nm_metric_dstsp(t, N, g, N, 1, 1, NM_DSTSP_BINS, &d));
    double a = NM_DSTSP_ALPHA, pc = ((double)N / 30 + a) / (N + 30 * a), q = a / (N + 30 * a);
    CHECK_CLOSE(d, log(pc / q), 1e-9, 0);
    /* Half inside (the lower half of the truth, evenly), half outside:
     * p = 1/30 per cell; q = 1/30 on the lower 15 cells (N/2 points over 15
     * cells of N), ~alpha/N on the upper 15: D = 0.5 log(1/(30 q_upper)). */
    for (size_t i = 0; i < N / 2; i++) g[i] = 0.5 * ((double)i + 0.5) / (N / 2);
    CHECK_OK(nm_metric_dstsp(t, N, g, N, 1, 1, NM_DSTSP_BINS, &d2));
    CHECK(d2 > 5 && d2 < d);
out:
    free(t);
    free(g);
}

/* Why the embedding: two sines of equal amplitude and different frequency
 * have the same 1-D histogram of values, but different delay portraits. */
static void test_dstsp_embedding(void)
{
    enum { N = 24000 };
    double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *c = malloc(N * sizeof *c);
    CHECK(a && b && c);
    if (!a || !b || !c) goto out;
    const double dt = 0.005, F = 0.7317; /* s, Hz */
    for (size_t i = 0; i < N; i++) {
        double t = dt * (double)i;
        /* F Hz is not a whole number of samples per period, so the orbit
         * is sampled densely (an exactly repeating sample set would make
         * "same orbit" depend on which cells the few points hit). */
        a[i] = sin(2 * PI * F * t);
        b[i] = sin(2 * PI * F * t + 1.3); /* same orbit, other phase */
        c[i] = sin(2 * PI * 3 * F * t);   /* other frequency */
    }
    double d1, d2_same, d2_other, d3_same, d3_other;
    CHECK_OK(nm_metric_dstsp(a, N, c, N, 1, 25, NM_DSTSP_BINS, &d1));
    /* tau = 25 samples = 125 ms: a quarter period of the 2 Hz midpoint, so
     * the 1 Hz orbit is an open ellipse and the 3 Hz one a different one. */
    CHECK_OK(nm_metric_dstsp(a, N, b, N, 2, 25, NM_DSTSP_BINS, &d2_same));
    CHECK_OK(nm_metric_dstsp(a, N, c, N, 2, 25, NM_DSTSP_BINS, &d2_other));
    CHECK_OK(nm_metric_dstsp(a, N, b, N, 3, 25, NM_DSTSP_BINS, &d3_same));
    CHECK_OK(nm_metric_dstsp(a, N, c, N, 3, 25, NM_DSTSP_BINS, &d3_other));
    /* Both sines fill 60 (1 Hz) or 180 (3 Hz) whole periods: the value
     * histograms agree to a few points per bin. */
    CHECK_MSG(d1 < 0.01, "1-D D_stsp of equal-amplitude sines %g", d1);
    /* A phase shift keeps the orbit: only discretisation differences. */
    CHECK_MSG(d2_same < 0.05 && d3_same < 0.1, "same orbit: %g (2-D) %g (3-D)", d2_same, d3_same);
    CHECK_MSG(d2_other > 1.0 && d3_other > 1.0, "other orbit: %g (2-D) %g (3-D)", d2_other, d3_other);
out:
    free(a);
    free(b);
    free(c);
}

static void test_dstsp_bad_inputs(void)
{
    double v[100], cst[100], bad[100], d = 0;
    for (size_t i = 0; i < 100; i++) {
        v[i] = sin(0.3 * (double)i);
        cst[i] = -61.0;
        bad[i] = v[i];
    }
    bad[50] = NAN;
    CHECK_FAILS(nm_metric_dstsp(NULL, 100, v, 100, 3, 1, 30, &d), NM_EINVAL, "NULL");
    CHECK(isnan(d));
    CHECK_FAILS(nm_metric_dstsp(v, 100, v, 100, 3, 1, 30, NULL), NM_EINVAL, "NULL");
    CHECK_FAILS(nm_metric_dstsp(v, 100, v, 100, 0, 1, 30, &d), NM_EINVAL, "dimension");
    CHECK_FAILS(nm_metric_dstsp(v, 100, v, 100, 4, 1, 30, &d), NM_EINVAL, "1..3");
    CHECK_FAILS(nm_metric_dstsp(v, 100, v, 100, 2, 0, 30, &d), NM_EINVAL, "delay");
    CHECK_FAILS(nm_metric_dstsp(v, 100, v, 100, 2, 1, 1, &d), NM_EINVAL, "bins");
    CHECK_FAILS(nm_metric_dstsp(v, 100, v, 100, 3, 1, 100, &d), NM_EINVAL, "cells");
    CHECK_FAILS(nm_metric_dstsp(v, 100, v, 10, 3, 5, 30, &d), NM_EDATA, "too short");
    CHECK_FAILS(nm_metric_dstsp(cst, 100, v, 100, 2, 1, 30, &d), NM_EDATA, "constant");
    CHECK_FAILS(nm_metric_dstsp(bad, 100, v, 100, 2, 1, 30, &d), NM_EDATA, "true series is not finite");
    CHECK_FAILS(nm_metric_dstsp(v, 100, bad, 100, 2, 1, 30, &d), NM_EDATA, "generated");
    /* A constant GENERATED series is fine (a learned model at rest). */
    CHECK_OK(nm_metric_dstsp(v, 100, cst, 100, 2, 1, 30, &d));
    CHECK(d > 5);
}

/* ------------------------------------------------------------------- D_H */

static void sine(double *x, size_t n, double dt_s, double f, double amp, double phase, double offset)
{
    for (size_t i = 0; i < n; i++) x[i] = offset + amp * sin(2 * PI * f * dt_s * (double)i + phase);
}

static void test_dh(void)
{
    enum { N = 12000 }; /* 60 s at 5 ms: 2^5 3 5^3, frequency step 1/60 Hz */
    double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    CHECK(a && b);
    if (!a || !b) goto out;
    const double dt_ms = 5.0;
    double d = -1;
    sine(a, N, 1e-3 * dt_ms, 1.0, 1.0, 0.0, 0.0);
    CHECK_OK(nm_metric_dh(a, N, a, N, dt_ms, NM_DH_SIGMA_HZ, &d));
    CHECK_CLOSE(d, 0.0, 0, 1e-12);
    /* Amplitude, phase and mean do not enter (normalised, mean removed). */
    sine(b, N, 1e-3 * dt_ms, 1.0, 7.0, 2.0, -60.0);
    CHECK_OK(nm_metric_dh(a, N, b, N, dt_ms, NM_DH_SIGMA_HZ, &d));
    CHECK_CLOSE(d, 0.0, 0, 1e-6);

    /* Different frequencies far apart (1 vs 3 Hz, 20 sigma): no overlap. */
    sine(b, N, 1e-3 * dt_ms, 3.0, 1.0, 0.0, 0.0);
    CHECK_OK(nm_metric_dh(a, N, b, N, dt_ms, NM_DH_SIGMA_HZ, &d));
    CHECK_MSG(d > 0.999, "D_H of 1 Hz vs 3 Hz sines = %g", d);
    /* Without smoothing too. */
    CHECK_OK(nm_metric_dh(a, N, b, N, dt_ms, 0.0, &d));
    CHECK_MSG(d > 0.999, "D_H (no smoothing) = %g", d);

    /* Two lines 0.2 Hz apart, on bin centres (60 and 72 whole cycles).  Each
     * smoothed spectrum is a Gaussian of variance s^2 = sigma^2 + w^2, where
     * sigma = 0.1 Hz = 6 bins and w^2 = 1/3 bin^2 is the variance of the
     * Hann line shape (power 1/16, 1/4, 1/16 at -1, 0, +1 bins), so
     * BC = exp(-d^2 / (8 s^2)), D_H = sqrt(1 - BC) = 0.6255 with d = 12
     * bins.  Tolerance 0.005: the Gaussian kernel is sampled on integer bins
     * and cut at 4 sigma. */
    sine(b, N, 1e-3 * dt_ms, 1.2, 1.0, 0.0, 0.0);
    CHECK_OK(nm_metric_dh(a, N, b, N, dt_ms, 0.1, &d));
    double s2 = 36.0 + 1.0 / 3.0, expect = sqrt(1.0 - exp(-144.0 / (8.0 * s2)));
    CHECK_CLOSE(d, expect, 0, 0.005);
    /* More smoothing, more overlap: monotone in sigma. */
    double d_wide;
    CHECK_OK(nm_metric_dh(a, N, b, N, dt_ms, 0.3, &d_wide));
    CHECK(d_wide < d);

    /* Unequal lengths: both cut to the same smooth length (11999 -> 11664). */
    CHECK_OK(nm_metric_dh(a, N, a, N - 1, dt_ms, NM_DH_SIGMA_HZ, &d));
    CHECK_CLOSE(d, 0.0, 0, 1e-12);
    /* A prime length is cut, not transformed in O(n^2): 10007 -> 10000. */
    CHECK_OK(nm_metric_dh(a, 10007, b, 10007, dt_ms, NM_DH_SIGMA_HZ, &d));
    CHECK(d > 0.3);

    /* Bad inputs. */
    double cst[64];
    for (size_t i = 0; i < 64; i++) cst[i] = -61.0;
    CHECK_FAILS(nm_metric_dh(NULL, N, a, N, dt_ms, 0.1, &d), NM_EINVAL, "NULL");
    CHECK_FAILS(nm_metric_dh(a, N, a, N, dt_ms, 0.1, NULL), NM_EINVAL, "NULL");
    CHECK_FAILS(nm_metric_dh(a, N, a, N, 0.0, 0.1, &d), NM_EINVAL, "dt_ms");
    CHECK_FAILS(nm_metric_dh(a, N, a, N, dt_ms, -1.0, &d), NM_EINVAL, "smoothing");
    CHECK_FAILS(nm_metric_dh(a, N, a, 8, dt_ms, 0.1, &d), NM_EDATA, "too short");
    CHECK_FAILS(nm_metric_dh(cst, 64, a, 64, dt_ms, 0.1, &d), NM_EDATA, "true series is constant");
    CHECK_FAILS(nm_metric_dh(a, 64, cst, 64, dt_ms, 0.1, &d), NM_EDATA, "generated series is constant");
    b[3] = INFINITY;
    CHECK_FAILS(nm_metric_dh(a, N, b, N, dt_ms, 0.1, &d), NM_EDATA, "not finite");
out:
    free(a);
    free(b);
}

/* ------------------------------------------------------------------- W1 */

static void test_wasserstein(void)
{
    double w = -1;
    const double z[] = {0.0}, one[] = {1.0}, zo[] = {1.0, 0.0}, two[] = {2.0, 0.0}, ones[] = {1.0, 1.0};
    CHECK_OK(nm_metric_wasserstein1(z, 1, one, 1, &w));
    CHECK_CLOSE(w, 1.0, 0, 1e-15);
    CHECK_OK(nm_metric_wasserstein1(zo, 2, z, 1, &w)); /* unsorted input */
    CHECK_CLOSE(w, 0.5, 0, 1e-15);
    CHECK_OK(nm_metric_wasserstein1(two, 2, ones, 2, &w));
    CHECK_CLOSE(w, 1.0, 0, 1e-15);
    CHECK_OK(nm_metric_wasserstein1(ones, 2, two, 2, &w)); /* symmetric */
    CHECK_CLOSE(w, 1.0, 0, 1e-15);
    CHECK_OK(nm_metric_wasserstein1(two, 2, two, 2, &w));
    CHECK_CLOSE(w, 0.0, 0, 0);

    /* Gaussian samples, the second shifted by 3 (independent draws): W1 = 3
     * plus sampling error of order 1/sqrt(N) (about 0.01 for N = 20000);
     * tolerance 0.05 is 5x that. */
    enum { N = 20000 };
    double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    CHECK(a && b);
    if (a && b) {
        nm_rng r;
        nm_rng_seed(&r, 42);
        for (size_t i = 0; i < N; i++) a[i] = 250.0 + nm_rng_gauss(&r);
        for (size_t i = 0; i < N; i++) b[i] = 253.0 + nm_rng_gauss(&r);
        CHECK_OK(nm_metric_wasserstein1(a, N, b, N, &w));
        CHECK_CLOSE(w, 3.0, 0, 0.05);
        CHECK_OK(nm_metric_wasserstein1(a, N, a, N, &w));
        CHECK_CLOSE(w, 0.0, 0, 0);
        /* A scaled copy: W1 between N(0,1) and N(0,4) is E|X|*(2-1) = sqrt(2/pi). */
        for (size_t i = 0; i < N; i++) b[i] = 250.0 + 2.0 * (a[i] - 250.0);
        CHECK_OK(nm_metric_wasserstein1(a, N, b, N, &w));
        CHECK_CLOSE(w, sqrt(2.0 / PI), 0, 0.03);
    }
    free(a);
    free(b);

    CHECK_FAILS(nm_metric_wasserstein1(z, 0, one, 1, &w), NM_EDATA, "empty");
    CHECK(isnan(w));
    CHECK_FAILS(nm_metric_wasserstein1(NULL, 1, one, 1, &w), NM_EINVAL, "NULL");
    CHECK_FAILS(nm_metric_wasserstein1(z, 1, one, 1, NULL), NM_EINVAL, "NULL");
    const double nanv[] = {NAN};
    CHECK_FAILS(nm_metric_wasserstein1(nanv, 1, one, 1, &w), NM_EDATA, "not finite");
}

/* ------------------------------------------------- sweeps that keep ISIs */

static void test_model_sweep_points(void)
{
    nm_model *m = nm_model_alloc(nm_model_srk);
    CHECK(m != NULL);
    if (!m) return;
    /* silent, single spikes, bursts of 2 and 3, tonic */
    const double p[] = {-45.5, -44.0, -41.0, -38.0, -31.0};
    enum { NP = sizeof p / sizeof p[0] };
    nm_sim_opts o;
    nm_sim_opts_default(&o);
    o.transient_ms = 20000;
    o.duration_ms = 30000;
    nm_regime ref[NP];
    nm_sweep_point a[NP], b[NP];
    CHECK_OK(nm_sweep(m, p, NP, &o, NULL, 2, ref));
    CHECK_OK(nm_model_sweep_points(m, p, NP, &o, NULL, 1, 1, a));
    CHECK_OK(nm_model_sweep_points(m, p, NP, &o, NULL, 2, 0, b));
    for (size_t i = 0; i < NP; i++) {
        /* The same regime as nm_sweep, point for point, on any thread count. */
        CHECK_MSG(memcmp(&a[i].regime, &ref[i], sizeof ref[i]) == 0, "p = %g differs from nm_sweep", p[i]);
        CHECK(memcmp(&b[i].regime, &ref[i], sizeof ref[i]) == 0);
        CHECK(a[i].p == p[i] && a[i].bounded && !a[i].diverged);
        CHECK(a[i].nisi == (ref[i].nspikes >= 2 ? ref[i].nspikes - 1 : 0));
        CHECK(b[i].nisi == a[i].nisi && b[i].v == NULL);
        if (a[i].nisi && b[i].nisi) CHECK(memcmp(a[i].isi, b[i].isi, a[i].nisi * sizeof(double)) == 0);
        /* ISIs lie between the classifier's min and max. */
        for (size_t k = 0; k < a[i].nisi; k++)
            CHECK(a[i].isi[k] >= ref[i].isi_min_ms && a[i].isi[k] <= ref[i].isi_max_ms);
        /* keep_v: the window, floor(duration/dt)+1 samples, as nm_simulate. */
        CHECK(a[i].nv == 6001 && a[i].v != NULL && a[i].dt_ms == 5.0);
    }
    CHECK(a[0].regime.cls == NM_REGIME_SILENT && a[0].nisi == 0);
    /* v_end is the last sample of the window; at -45.5 mV the SRK cell
     * rests near -61 mV (design.md: "V about -61 mV"). */
    for (size_t i = 0; i < NP; i++) CHECK(a[i].v_end == a[i].v[a[i].nv - 1] && b[i].v_end == a[i].v_end);
    CHECK(a[0].v_end > -64 && a[0].v_end < -58);
    CHECK(a[3].regime.cls == NM_REGIME_PERIODIC && a[3].regime.spikes_per_period == 3);
    nm_sweep_points_clear(a, NP);
    nm_sweep_points_clear(b, NP);
    CHECK(a[0].v == NULL && a[1].isi == NULL);

    /* Failures: named by p; the points are left empty. */
    const double badp[] = {-40.0, NAN};
    CHECK_FAILS(nm_model_sweep_points(m, badp, 2, &o, NULL, 2, 0, a), NM_EINVAL, "not finite");
    CHECK_FAILS(nm_model_sweep_points(NULL, p, NP, &o, NULL, 2, 0, a), NM_EINVAL, "NULL");
    CHECK_FAILS(nm_model_sweep_points(m, p, 0, &o, NULL, 2, 0, a), NM_EINVAL, "no control values");
    CHECK_FAILS(nm_model_sweep_points(m, p, NP, &o, NULL, -1, 0, a), NM_EINVAL, "nthreads");
    nm_sim_opts bad = o;
    bad.dt_ms = -1;
    CHECK_FAILS(nm_model_sweep_points(m, p, NP, &bad, NULL, 2, 1, a), NM_EINVAL, "VS = -45.5");
    for (size_t i = 0; i < NP; i++) CHECK(a[i].isi == NULL && a[i].v == NULL);
    nm_model_free(m);
}

/* ------------------------------------------------- learned-model sweeps */

/* A tiny model trained here (well under a second): 3 SRK series of 30 s,
 * small networks, few epochs.  What it learned does not matter; the sweep
 * must report it faithfully. */
static nm_learned *tiny_model(void)
{
    nm_learn_opts o;
    nm_test_small_opts(&o);
    return nm_test_tiny_model(30000, &o);
}

/* The regime of one point computed the long way: one nm_learned_run over
 * transient + window, then detection and classification. */
static void reference_point(const nm_learned *lm, double p, size_t ntr, size_t nwin, nm_regime *r, size_t *nspk)
{
    double *v = malloc((ntr + nwin) * sizeof *v), *t = NULL;
    *nspk = 0;
    memset(r, 0, sizeof *r);
    if (!v) return;
    double dt = nm_learned_dt_ms(lm);
    if (nm_learned_run(lm, p, NULL, ntr + nwin, v, NULL) == NM_OK &&
        nm_spikes_detect(v + ntr, nwin, dt, (double)(ntr + 1) * dt, nm_learned_threshold_mv(lm), &t, nspk) ==
            NM_OK)
        CHECK_OK(nm_regime_classify(t, *nspk, (double)(nwin - 1) * dt, NULL, r));
    free(t);
    free(v);
}

static void test_learned_sweep(void)
{
    nm_learned *lm = tiny_model();
    CHECK(lm != NULL);
    if (!lm) return;
    const double p[] = {-46, -44, -42, -40, -38, -36, -34, -32, -30};
    enum { NP = sizeof p / sizeof p[0] };
    nm_learned_sweep_opts o;
    nm_learned_sweep_opts_default(&o);
    CHECK(o.transient_ms == 20000 && o.duration_ms == 60000 && o.nthreads == 0);
    o.transient_ms = 10000;
    o.duration_ms = 20000;
    o.bound_steps = 9000; /* > the 6000 steps of transient + window */
    o.keep_v = 1;
    nm_sweep_point a[NP], b[NP];
    o.nthreads = 1;
    CHECK_OK(nm_learned_sweep(lm, p, NP, &o, a));
    o.nthreads = 2;
    o.keep_v = 0;
    CHECK_OK(nm_learned_sweep(lm, p, NP, &o, b));
    const double dt = nm_learned_dt_ms(lm);
    const size_t ntr = (size_t)lround(o.transient_ms / dt), nwin = (size_t)lround(o.duration_ms / dt);
    size_t periodic = 0;
    for (size_t i = 0; i < NP; i++) {
        /* Independent of the thread count. */
        CHECK(memcmp(&a[i].regime, &b[i].regime, sizeof a[i].regime) == 0);
        CHECK(a[i].nisi == b[i].nisi && a[i].bounded == b[i].bounded && a[i].diverged == b[i].diverged);
        CHECK(a[i].steps_run == b[i].steps_run && a[i].latent_max_abs == b[i].latent_max_abs);
        if (a[i].nisi && a[i].nisi == b[i].nisi) CHECK(memcmp(a[i].isi, b[i].isi, a[i].nisi * sizeof(double)) == 0);
        CHECK(a[i].p == p[i] && a[i].dt_ms == dt);
        if (a[i].diverged) {
            CHECK(!a[i].bounded && a[i].message[0] && a[i].nisi == 0 && a[i].v == NULL);
            continue;
        }
        /* The same regime as one long free run analysed by hand. */
        nm_regime r;
        size_t nspk;
        reference_point(lm, p[i], ntr, nwin, &r, &nspk);
        CHECK_MSG(memcmp(&r, &a[i].regime, sizeof r) == 0, "p = %g: sweep and a single run differ", p[i]);
        CHECK(a[i].nisi == (nspk >= 2 ? nspk - 1 : 0));
        CHECK(a[i].nv == nwin && a[i].v && a[i].v_end == a[i].v[nwin - 1] && b[i].v == NULL);
        CHECK(a[i].latent_max_abs > 0 && isfinite(a[i].latent_max_abs));
        if (a[i].bounded) CHECK(a[i].steps_run == 9000 && !a[i].message[0]);
        else CHECK(a[i].steps_run >= ntr + nwin && a[i].steps_run < 9000 && a[i].message[0]);
        periodic += a[i].regime.cls == NM_REGIME_PERIODIC;
    }
    fprintf(stderr, "  tiny model: %zu of %d points periodic\n", periodic, NP);
    nm_sweep_points_clear(a, NP);
    nm_sweep_points_clear(b, NP);

    /* Divergence on purpose: the same model with its bounded region shrunk
     * to 1e-3 standard deviations (model-file entry map.bound) leaves it at
     * the first step -- a point marked diverged, not a failed call. */
    nm_mf *mf = nm_mf_alloc();
    const nm_mf *src = nm_learned_mf(lm);
    for (size_t k = 0; mf && k < nm_mf_count(src); k++) {
        const char *name;
        nm_mf_type type;
        size_t n;
        const void *data;
        CHECK_OK(nm_mf_entry(src, k, &name, &type, &n, &data));
        if (strcmp(name, "map.bound")) CHECK_OK(nm_mf_add(mf, name, type, data, n));
    }
    nm_learned *tight = NULL;
    CHECK(nm_mf_has(src, "map.bound"));
    CHECK_OK(nm_mf_add_scalar_f64(mf, "map.bound", 1e-3));
    CHECK_OK(nm_learned_from_mf(mf, "tight", &tight));
    if (tight) {
        o.keep_v = 1;
        o.nthreads = 1; /* in the caller's thread: its error message is at stake */
        nm_clear_error();
        CHECK_OK(nm_learned_sweep(tight, p, 3, &o, a));
        for (size_t i = 0; i < 3; i++) {
            CHECK(a[i].diverged && !a[i].bounded && a[i].steps_run == 0);
            CHECK(a[i].regime.cls == NM_REGIME_SILENT && a[i].nisi == 0 && a[i].v == NULL);
            CHECK_MSG(strstr(a[i].message, "diverged") != NULL, "message: %s", a[i].message);
        }
        /* The divergence message does not leak into the caller's error. */
        CHECK(nm_last_error()[0] == '\0');
        nm_sweep_points_clear(a, 3);
    }
    nm_learned_free(tight);
    nm_mf_free(mf);

    /* Bad arguments. */
    CHECK_FAILS(nm_learned_sweep(NULL, p, NP, &o, a), NM_EINVAL, "model is NULL");
    CHECK_FAILS(nm_learned_sweep(lm, p, 0, &o, a), NM_EINVAL, "no control values");
    CHECK_FAILS(nm_learned_sweep(lm, NULL, NP, &o, a), NM_EINVAL, "NULL");
    nm_learned_sweep_opts bad = o;
    bad.nthreads = -1;
    CHECK_FAILS(nm_learned_sweep(lm, p, NP, &bad, a), NM_EINVAL, "nthreads");
    bad = o;
    bad.duration_ms = dt; /* one step: no window to classify */
    CHECK_FAILS(nm_learned_sweep(lm, p, NP, &bad, a), NM_EINVAL, "less than 2 map steps");
    bad = o;
    bad.duration_ms = 1e12;
    CHECK_FAILS(nm_learned_sweep(lm, p, NP, &bad, a), NM_EINVAL, "map steps");
    bad = o;
    bad.transient_ms = -1;
    CHECK_FAILS(nm_learned_sweep(lm, p, NP, &bad, a), NM_EINVAL, "transient");
    bad = o;
    bad.bound_steps = (size_t)2e9;
    CHECK_FAILS(nm_learned_sweep(lm, p, NP, &bad, a), NM_EINVAL, "map steps per point");
    const double nanp[] = {-40, NAN};
    CHECK_FAILS(nm_learned_sweep(lm, nanp, 2, &o, a), NM_EINVAL, "not finite");
    nm_learned_free(lm);
}

/* ------------------------------------------------- recorded sweep tables */

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    nm_test_path(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    if (!f) return path;
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_regime_table(void)
{
    double *p = NULL;
    nm_regime *r = NULL;
    size_t n = 0;
    /* The CSV of `neuromap sweep`, rows out of order, a comment, CRLF. */
    const char *path = write_file("metrics_table_ok.csv",
                                  "# recorded\r\n"
                                  "p,regime,spikes_per_period,period_ms,spikes,rate_hz\r\n"
                                  "-40, periodic:2 ,2,2512.5,48,0.8\r\n"
                                  "\r\n"
                                  "-46,silent,0,0,0,0\r\n"
                                  "-35,irregular,0,0,90,1.5\r\n");
    CHECK_OK(nm_regime_table_read(path, &p, &r, &n));
    CHECK(n == 3);
    if (n == 3) {
        CHECK(p[0] == -46 && p[1] == -40 && p[2] == -35);
        CHECK(r[0].cls == NM_REGIME_SILENT && r[2].cls == NM_REGIME_IRREGULAR);
        CHECK(r[1].cls == NM_REGIME_PERIODIC && r[1].spikes_per_period == 2);
        CHECK_CLOSE(r[1].period_ms, 2512.5, 0, 0);
    }
    free(p);
    free(r);
    /* Columns in another order, no period column. */
    path = write_file("metrics_table_min.csv", "regime,p\nperiodic:1,-31\n");
    CHECK_OK(nm_regime_table_read(path, &p, &r, &n));
    CHECK(n == 1 && p[0] == -31 && r[0].spikes_per_period == 1 && r[0].period_ms == 0);
    free(p);
    free(r);

    struct {
        const char *name, *text, *needle;
        nm_status code;
    } bad[] = {
        {"t_nop.csv", "VS,regime\n-40,silent\n", "missing 'p'", NM_EFORMAT},
        {"t_noreg.csv", "p,period_ms\n-40,3\n", "missing 'regime'", NM_EFORMAT},
        {"t_num.csv", "p,regime\n-40,silent\nabc,silent\n", "t_num.csv:3: column 'p': 'abc'", NM_EFORMAT},
        {"t_nan.csv", "p,regime\nnan,silent\n", "not a finite number", NM_EFORMAT},
        {"t_reg.csv", "p,regime\n-40,bursting\n", "t_reg.csv:2: column 'regime': 'bursting'", NM_EFORMAT},
        {"t_div.csv", "p,regime\n-40,diverged\n", "cannot serve as ground truth", NM_EDATA},
        {"t_dup.csv", "p,regime\n-40,silent\n-41,silent\n-40,silent\n", "appears twice", NM_EDATA},
        {"t_short.csv", "p,x,regime\n-40,1\n", "t_short.csv:2: 2 columns", NM_EFORMAT},
        {"t_per.csv", "p,regime,period_ms\n-40,periodic:1,-5\n", "negative", NM_EFORMAT},
        {"t_empty.csv", "", "empty", NM_EFORMAT},
        {"t_norows.csv", "# only\np,regime\n", "no rows", NM_EDATA},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        path = write_file(bad[k].name, bad[k].text);
        p = (double *)1;
        CHECK_FAILS(nm_regime_table_read(path, &p, &r, &n), bad[k].code, bad[k].needle);
        CHECK(p == NULL && r == NULL && n == 0);
    }
    CHECK_FAILS(nm_regime_table_read("/nonexistent/table.csv", &p, &r, &n), NM_EIO, "/nonexistent/table.csv");
    CHECK_FAILS(nm_regime_table_read(NULL, &p, &r, &n), NM_EINVAL, "NULL");
}

static void test_regime_match(void)
{
    nm_regime t = {.cls = NM_REGIME_PERIODIC, .spikes_per_period = 3, .period_ms = 2000};
    nm_regime l = t;
    CHECK(nm_regime_match(&t, &l, NM_MATCH_PERIOD_TOL));
    l.period_ms = 2499; /* 24.95% */
    CHECK(nm_regime_match(&t, &l, NM_MATCH_PERIOD_TOL));
    l.period_ms = 1501;
    CHECK(nm_regime_match(&t, &l, NM_MATCH_PERIOD_TOL));
    l.period_ms = 2501; /* 25.05% */
    CHECK(!nm_regime_match(&t, &l, NM_MATCH_PERIOD_TOL));
    l.period_ms = 1499;
    CHECK(!nm_regime_match(&t, &l, NM_MATCH_PERIOD_TOL));
    CHECK(nm_regime_match(&t, &l, 0.26));
    l = t;
    l.spikes_per_period = 4;
    CHECK(!nm_regime_match(&t, &l, NM_MATCH_PERIOD_TOL));
    t.period_ms = 0; /* unknown period (a recorded table): K decides */
    CHECK(!nm_regime_match(&t, &l, NM_MATCH_PERIOD_TOL));
    l.spikes_per_period = 3;
    l.period_ms = 99999;
    CHECK(nm_regime_match(&t, &l, NM_MATCH_PERIOD_TOL));
    nm_regime s = {.cls = NM_REGIME_SILENT}, s2 = {.cls = NM_REGIME_SILENT, .nspikes = 2};
    nm_regime irr = {.cls = NM_REGIME_IRREGULAR, .nspikes = 50};
    CHECK(nm_regime_match(&s, &s2, NM_MATCH_PERIOD_TOL));
    CHECK(!nm_regime_match(&s, &irr, NM_MATCH_PERIOD_TOL));
    CHECK(!nm_regime_match(&irr, &l, NM_MATCH_PERIOD_TOL));
    CHECK(nm_regime_match(&irr, &irr, NM_MATCH_PERIOD_TOL));
    CHECK(!nm_regime_match(NULL, &irr, NM_MATCH_PERIOD_TOL));
}

int main(void)
{
    NM_RUN(test_dstsp_identity_and_analytic);
    NM_RUN(test_dstsp_embedding);
    NM_RUN(test_dstsp_bad_inputs);
    NM_RUN(test_dh);
    NM_RUN(test_wasserstein);
    NM_RUN(test_model_sweep_points);
    NM_RUN(test_learned_sweep);
    NM_RUN(test_regime_table);
    NM_RUN(test_regime_match);
    return nm_test_report();
}
