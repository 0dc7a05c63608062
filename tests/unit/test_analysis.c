/* test_analysis.c -- spike detection and regime classification on
 * constructed traces and spike trains with known answers. */
#include "internal.h"
#include "nm_test.h"

/* A trace with triangular spikes peaking at the given times: V rises
 * linearly from -60 to +20 over 10 ms, then falls back over 10 ms. */
static void make_trace(double *v, size_t n, double dt, const double *peaks, size_t np)
{
    for (size_t i = 0; i < n; i++) {
        double t = (double)i * dt, x = -60.0;
        for (size_t k = 0; k < np; k++) {
            double d = fabs(t - peaks[k]);
            if (d < 10.0) x = fmax(x, 20.0 - 8.0 * d);
        }
        v[i] = x;
    }
}

static void test_spike_times_interpolated(void)
{
    double peaks[3] = {100.0, 250.0, 433.3};
    size_t n = 1000;
    double v[1000];
    make_trace(v, n, 0.5, peaks, 3);
    double *t = NULL;
    size_t ns = 0;
    CHECK_OK(nm_spikes_detect(v, n, 0.5, 7.0, -35.0, &t, &ns));
    CHECK(ns == 3);
    /* Crossing of -35 on the rising flank: 20 - 8 d = -35 -> d = 6.875 ms
     * before the peak; linear trace -> interpolation is exact. */
    for (size_t k = 0; k < ns && k < 3; k++) CHECK_CLOSE(t[k], 7.0 + peaks[k] - 6.875, 0, 1e-9);
    free(t);
    /* Starting above threshold is not a spike at t0. */
    CHECK_OK(nm_spikes_detect(v + 198, n - 198, 0.5, 0.0, -35.0, &t, &ns));
    CHECK(ns == 2);
    free(t);
}

static void test_spike_hysteresis(void)
{
    /* Wobble around threshold: -35.5, -34.5, -35.5, -34.5 ... one spike with
     * 2 mV hysteresis, many without. */
    double v[40];
    v[0] = -60;
    for (int i = 1; i < 40; i++) v[i] = (i % 2) ? -34.5 : -35.5;
    double *t = NULL;
    size_t ns = 0;
    CHECK_OK(nm_spikes_detect(v, 40, 1.0, 0.0, -35.0, &t, &ns));
    CHECK(ns == 1);
    free(t);
    CHECK_OK(nm_spikes_detect_hyst(v, 40, 1.0, 0.0, -35.0, 0.0, &t, &ns));
    CHECK(ns == 20);
    free(t);
}

static void test_spike_bad_inputs(void)
{
    double v[4] = {-60, -50, NAN, 0};
    double *t = NULL;
    size_t ns = 7;
    CHECK_FAILS(nm_spikes_detect(v, 4, 1.0, 0, -35, &t, &ns), NM_EDATA, "V[2]");
    CHECK(t == NULL && ns == 0);
    CHECK_FAILS(nm_spikes_detect(v, 2, 0.0, 0, -35, &t, &ns), NM_EINVAL, "dt_ms");
    CHECK_FAILS(nm_spikes_detect(v, 2, 1.0, 0, NAN, &t, &ns), NM_EINVAL, "finite");
    CHECK_FAILS(nm_spikes_detect_hyst(v, 2, 1.0, 0, -35, -1, &t, &ns), NM_EINVAL, "hysteresis");
    CHECK_OK(nm_spikes_detect(v, 0, 1.0, 0, -35, &t, &ns));
    CHECK(ns == 0);
}

/* Bursts of k spikes: intra-burst ISI a, then a long gap b. */
static size_t burst_train(double *t, size_t cap, int k, double a, double b, double jitter)
{
    size_t n = 0;
    double now = 0;
    uint64_t x = 12345;
    while (n < cap) {
        for (int j = 0; j < k && n < cap; j++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(x >> 11) * 0x1.0p-53 - 0.5;
            t[n++] = now + jitter * u;
            now += a;
        }
        now += b - a;
    }
    return n;
}

static void test_regime_periodic(void)
{
    double t[200];
    nm_regime r;
    char buf[32];
    for (int k = 1; k <= 6; k++) {
        size_t n = burst_train(t, 20 * (size_t)k, k, 150.0, 2500.0, 0.0);
        CHECK_OK(nm_regime_classify(t, n, t[n - 1] + 100, NULL, &r));
        CHECK_MSG(r.cls == NM_REGIME_PERIODIC && r.spikes_per_period == k, "k=%d got %s", k,
                  nm_regime_format(&r, buf, sizeof buf));
        CHECK_CLOSE(r.period_ms, 150.0 * (k - 1) + 2500.0, 1e-12, 1e-9);
    }
    /* Jitter of +-2.5 ms (a trace sampled every 5 ms) still reads as bursts of 3. */
    size_t n = burst_train(t, 60, 3, 150.0, 2000.0, 5.0);
    CHECK_OK(nm_regime_classify(t, n, t[n - 1], NULL, &r));
    CHECK(r.cls == NM_REGIME_PERIODIC && r.spikes_per_period == 3);
    CHECK_CLOSE(r.period_ms, 2300.0, 0.01, 0);
    CHECK(strcmp(nm_regime_format(&r, buf, sizeof buf), "periodic:3") == 0);
}

static void test_regime_silent_and_irregular(void)
{
    nm_regime r;
    double t[100];
    CHECK_OK(nm_regime_classify(NULL, 0, 60000, NULL, &r));
    CHECK(r.cls == NM_REGIME_SILENT && r.nspikes == 0 && r.rate_hz == 0);
    t[0] = 10;
    t[1] = 500;
    CHECK_OK(nm_regime_classify(t, 2, 60000, NULL, &r));
    CHECK(r.cls == NM_REGIME_SILENT);
    /* Logistic-map ISIs (chaotic, r = 3.9): irregular. */
    double x = 0.3, now = 0;
    for (int i = 0; i < 100; i++) {
        x = 3.9 * x * (1 - x);
        now += 100 + 400 * x;
        t[i] = now;
    }
    CHECK_OK(nm_regime_classify(t, 100, now, NULL, &r));
    CHECK(r.cls == NM_REGIME_IRREGULAR && r.spikes_per_period == 0);
    CHECK_CLOSE(r.rate_hz, 100.0 / now * 1000.0, 1e-12, 0);
    /* A period seen fewer than min_repeats times is not claimed. */
    size_t n = burst_train(t, 10, 5, 100, 1000, 0);
    CHECK_OK(nm_regime_classify(t, n, t[n - 1], NULL, &r));
    CHECK(r.cls == NM_REGIME_IRREGULAR);
}

static void test_regime_parse_and_bad(void)
{
    nm_regime r;
    CHECK_OK(nm_regime_parse("periodic:4", &r));
    CHECK(r.cls == NM_REGIME_PERIODIC && r.spikes_per_period == 4);
    CHECK_OK(nm_regime_parse("silent", &r));
    CHECK(r.cls == NM_REGIME_SILENT);
    CHECK_FAILS(nm_regime_parse("periodic:", &r), NM_EFORMAT, "periodic:");
    CHECK_FAILS(nm_regime_parse("bursting", &r), NM_EFORMAT, "bursting");
    double t[3] = {3, 2, 1};
    CHECK_FAILS(nm_regime_classify(t, 3, 100, NULL, &r), NM_EDATA, "sorted");
    CHECK_FAILS(nm_regime_classify(t, 3, -1, NULL, &r), NM_EINVAL, "duration");
    nm_regime_opts o;
    nm_regime_opts_default(&o);
    o.max_k = 0;
    CHECK_FAILS(nm_regime_classify(t, 0, 100, &o, &r), NM_EINVAL, "max_k");
}

/* The ISI slack scales with the sampling step: fast spiking at 6 ms ISIs
 * with a 0.5 ms drift per ISI pair is periodic under the flat 2 ms slack
 * (wrongly) and irregular with the slack of a 0.1 ms trace.  Slow bursts of
 * 20 spikes are periodic only when max_k reaches 20. */
static void test_regime_scaled_tolerance_and_max_k(void)
{
    nm_regime_opts o;
    nm_regime_opts_default(&o);
    CHECK_CLOSE(o.abs_tol_ms, 2.0, 0, 1e-12);
    nm_regime_opts_for_step(&o, 5.0);
    CHECK_CLOSE(o.abs_tol_ms, 2.0, 0, 1e-12);   /* SRK: unchanged */
    nm_regime_opts_for_step(&o, 0.1);
    CHECK_CLOSE(o.abs_tol_ms, 0.04, 0, 1e-12);
    nm_regime_opts_for_step(&o, -1);           /* ignored */
    CHECK_CLOSE(o.abs_tol_ms, 0.04, 0, 1e-12);

    double t[40];
    t[0] = 0;
    for (int i = 1; i < 40; i++) t[i] = t[i - 1] + (i % 2 ? 6.0 : 7.0); /* ISIs 6, 7, 6, 7: mean 6.5 */
    nm_regime r, r2;
    nm_regime_opts flat;
    nm_regime_opts_default(&flat);
    CHECK_OK(nm_regime_classify(t, 40, 300, &flat, &r));
    CHECK(r.cls == NM_REGIME_PERIODIC && r.spikes_per_period == 1); /* 0.5 ms off: inside 2 ms */
    CHECK_OK(nm_regime_classify(t, 40, 300, &o, &r2));
    CHECK(r2.cls == NM_REGIME_PERIODIC && r2.spikes_per_period == 2); /* the real pattern */

    CHECK(nm_regime_max_k_for(0) == 12);
    CHECK(nm_regime_max_k_for(5) == 12);
    CHECK(nm_regime_max_k_for(20) == 25);
    CHECK(nm_regime_max_k_for(1000) == NM_REGIME_MAX_K_AUTO);
    /* bursts of 20 spikes (ISI 50 ms) every 3 s, 4 bursts */
    double b[80];
    size_t n = 0;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 20; i++) b[n++] = 3000.0 * k + 50.0 * i;
    nm_regime_opts ko;
    nm_regime_opts_default(&ko);
    CHECK_OK(nm_regime_classify(b, n, 12000, &ko, &r));
    CHECK(r.cls == NM_REGIME_IRREGULAR); /* k = 20 > 12: not looked for */
    ko.max_k = nm_regime_max_k_for(20);
    CHECK_OK(nm_regime_classify(b, n, 12000, &ko, &r));
    CHECK(r.cls == NM_REGIME_PERIODIC && r.spikes_per_period == 20);
    CHECK_CLOSE(r.period_ms, 3000, 1e-9, 0);
}

int main(void)
{
    NM_RUN(test_spike_times_interpolated);
    NM_RUN(test_spike_hysteresis);
    NM_RUN(test_spike_bad_inputs);
    NM_RUN(test_regime_periodic);
    NM_RUN(test_regime_silent_and_irregular);
    NM_RUN(test_regime_parse_and_bad);
    NM_RUN(test_regime_scaled_tolerance_and_max_k);
    return nm_test_report();
}
