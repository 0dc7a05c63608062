/* test_autoset.c -- settings chosen from the data (src/learn/autoset.c,
 * docs/settings.md): synthetic spike trains with known widths, rates and
 * noise; the reference cases (SRK sampled every 5 ms, HH every 0.1 ms);
 * resampling; bad inputs. */
#include "neuromap.h"
#include "nm_test.h"
#include "rng.h"

#define NSER_MAX 8
#define PI 3.14159265358979323846

/* A train of Gaussian spikes A exp(-t^2 / 2 s^2) on a baseline, one every
 * isi_ms plus a uniform jitter of +-jitter_ms, with white noise of noise_mv:
 * *nspikes gets the number of whole spikes placed. */
static nm_series *gauss_train(double dt, double dur_ms, double base, double amp, double fwhm_ms, double isi_ms,
                              double jitter_ms, double noise_mv, uint64_t seed, size_t *nspikes)
{
    size_t n = (size_t)(dur_ms / dt) + 1;
    nm_series *s = nm_series_alloc(n, 0);
    if (!s) return NULL;
    s->dt_ms = dt;
    nm_rng r;
    nm_rng_seed(&r, seed);
    double sig = fwhm_ms / (2 * sqrt(2 * log(2.0)));
    for (size_t i = 0; i < n; i++) s->v[i] = base;
    size_t c = 0;
    for (double tc = isi_ms / 2; tc + 6 * sig < dur_ms; tc += isi_ms) {
        double t = tc + jitter_ms * (2 * nm_rng_uniform(&r) - 1);
        for (size_t i = 0; i < n; i++) {
            double x = ((double)i * dt - t) / sig;
            if (fabs(x) < 8) s->v[i] += amp * exp(-0.5 * x * x);
        }
        c++;
    }
    for (size_t i = 0; i < n; i++) s->v[i] += noise_mv * nm_rng_gauss(&r);
    if (nspikes) *nspikes = c;
    return s;
}

static size_t count_spikes(const nm_series *s, double thr, double hyst)
{
    double *t = NULL;
    size_t ns = 0;
    if (nm_spikes_detect_hyst(s->v, s->n, s->dt_ms, 0, thr, hyst, &t, &ns)) ns = (size_t)-1;
    free(t);
    return ns;
}

/* The ladder of De values of docs/settings.md nearest (in ratio) to x. */
static size_t ladder(double x)
{
    double best = 8;
    for (double c = 8; c <= 512; c *= (fmod(log2(c), 1.0) == 0 ? 1.5 : 4.0 / 3.0))
        if (fabs(log(c / x)) < fabs(log(best / x))) best = c;
    return (size_t)best;
}

/* Spikes of FWHM 1.4 ms every ~20 ms at 0.1 ms sampling (HH-like), baseline
 * -60 mV, peak +10 mV, with 1 mV white noise: threshold between rest and
 * peak counting every spike, width = FWHM, step kept (14 samples per width),
 * De and rollout by the documented formulas. */
static void test_gaussian_train(void)
{
    for (int noisy = 0; noisy < 2; noisy++) {
        size_t nsp;
        nm_series *s = gauss_train(0.1, 4000, -60, 70, 1.4, 20, 4, noisy ? 1.0 : 0.0, 3, &nsp);
        CHECK(s != NULL);
        nm_autoset_result r;
        const nm_series *const ss[1] = {s};
        CHECK_OK(nm_autoset(ss, 1, NULL, &r));
        CHECK_CLOSE(r.noise_mv, noisy ? 1.0 : 0.0, 0, 0.1);
        CHECK_CLOSE(r.peak_mv, 10, 0, noisy ? 3.0 : 0.1);
        CHECK_CLOSE(r.low_mv, -60, 0, noisy ? 2.0 : 0.01);
        CHECK_CLOSE(r.threshold_mv, 0.5 * (r.low_mv + r.peak_mv), 1e-12, 1e-12);
        CHECK(r.threshold_mv > -50 && r.threshold_mv < 0);
        CHECK_CLOSE(r.hysteresis_mv, noisy ? 6 * r.noise_mv : 2.0, 1e-12, 1e-12);
        CHECK_MSG(r.nspikes == nsp, "%zu spikes found, %zu placed", r.nspikes, nsp);
        CHECK(count_spikes(s, r.threshold_mv, r.hysteresis_mv) == nsp);
        CHECK(r.nspiking == 1);
        /* Width at half the amplitude: the FWHM (a noisy low level sits a
         * little lower, so the level is a little below half height). */
        CHECK_CLOSE(r.spike_width_ms, 1.4, noisy ? 0.06 : 0.01, 0);
        CHECK(r.resample == 1 && r.map_dt_ms == 0.1 && !r.coarse);
        CHECK(r.de == ladder(NM_AUTOSET_WINDOW_WIDTHS * r.spike_width_ms / r.map_dt_ms));
        CHECK(r.de == 32);
        CHECK(r.rollout == 10);
        CHECK(r.latent_dim == 3);
        CHECK(strstr(r.threshold_why, "midway") && strstr(r.dt_why, "14") && strstr(r.de_why, "2.4 spike widths"));
        nm_series_free(s);
    }
}

/* The same spikes sampled 5x finer are averaged back to 0.1 ms; sampled 2x
 * coarser (7 samples per width) they keep the data's step with a warning and
 * a shorter De (16) and rollout (5). */
static void test_resampling_choice(void)
{
    const double dts[3] = {0.02, 0.05, 0.2};
    const size_t want_f[3] = {5, 2, 1}, want_de[3] = {32, 32, 16}, want_ro[3] = {10, 10, 5};
    for (int k = 0; k < 3; k++) {
        size_t nsp;
        nm_series *s = gauss_train(dts[k], 2000, -60, 70, 1.4, 20, 4, 0.5, 5, &nsp);
        nm_autoset_result r;
        const nm_series *const ss[1] = {s};
        CHECK_OK(nm_autoset(ss, 1, NULL, &r));
        double spw = r.spike_width_ms / dts[k];
        /* The rule: the factor nearest the aim, never below the floor. */
        double f = fmax(1, fmin(floor(spw / NM_AUTOSET_SAMPLES_MIN), round(spw / NM_AUTOSET_SAMPLES_TARGET)));
        if (spw < NM_AUTOSET_SAMPLES_MIN) f = 1;
        CHECK_MSG(r.resample == (size_t)f && r.resample == want_f[k], "dt %g: factor %zu (want %zu)", dts[k],
                  r.resample, want_f[k]);
        CHECK_CLOSE(r.map_dt_ms, dts[k] * (double)want_f[k], 1e-12, 0);
        CHECK(r.coarse == (k == 2));
        CHECK(r.coarse == (strstr(r.dt_why, "WARNING") != NULL));
        CHECK_MSG(r.de == want_de[k], "dt %g: De %zu", dts[k], r.de);
        CHECK_MSG(r.rollout == want_ro[k], "dt %g: rollout %zu", dts[k], r.rollout);
        CHECK(r.nspikes == nsp);
        /* Given choices are kept: a factor, or a map step. */
        nm_autoset_opts o;
        nm_autoset_opts_default(&o);
        o.resample = 1;
        CHECK_OK(nm_autoset(ss, 1, &o, &r));
        CHECK(r.resample == 1 && r.map_dt_ms == dts[k]);
        CHECK(r.de == ladder(NM_AUTOSET_WINDOW_WIDTHS * r.spike_width_ms / dts[k]));
        CHECK(strstr(r.dt_why, "given"));
        o.resample = 0;
        o.map_dt_ms = 3 * dts[k];
        CHECK_OK(nm_autoset(ss, 1, &o, &r));
        CHECK(r.resample == 3);
        o.map_dt_ms = 2.5 * dts[k];
        CHECK_FAILS(nm_autoset(ss, 1, &o, &r), NM_EINVAL, "not an integer multiple");
        nm_series_free(s);
    }
}

static void test_series_resample(void)
{
    nm_series *s = nm_series_alloc(10, 2), *r = NULL;
    s->dt_ms = 0.5;
    s->t0_ms = 100;
    s->p = -38;
    for (size_t i = 0; i < 10; i++) {
        s->v[i] = (double)i;
        s->states[2 * i] = (double)i;
        s->states[2 * i + 1] = -(double)i;
    }
    CHECK_OK(nm_series_resample(s, 3, &r));
    CHECK(r && r->n == 3 && r->nstates == 2);
    CHECK_CLOSE(r->dt_ms, 1.5, 0, 1e-15);
    CHECK_CLOSE(r->t0_ms, 100.5, 0, 1e-12);
    CHECK(r->p == -38);
    for (size_t k = 0; k < 3; k++) {
        CHECK_CLOSE(r->v[k], 3.0 * (double)k + 1, 0, 1e-12);
        CHECK_CLOSE(r->states[2 * k + 1], -(3.0 * (double)k + 1), 0, 1e-12);
    }
    nm_series_free(r);
    CHECK_OK(nm_series_resample(s, 1, &r));
    CHECK(r->n == 10 && r->v[7] == 7 && r->dt_ms == 0.5 && r->t0_ms == 100);
    nm_series_free(r);
    CHECK_OK(nm_series_resample(s, 10, &r));
    CHECK(r->n == 1 && fabs(r->v[0] - 4.5) < 1e-12);
    nm_series_free(r);
    CHECK_FAILS(nm_series_resample(s, 0, &r), NM_EINVAL, "factor must be >= 1");
    CHECK(r == NULL);
    CHECK_FAILS(nm_series_resample(s, 11, &r), NM_EINVAL, "blocks of 11");
    CHECK_FAILS(nm_series_resample(NULL, 2, &r), NM_EINVAL, "NULL");
    nm_series_free(s);
    /* The block mean is the anti-alias filter: a sine at the new sampling
     * rate (which would alias to a constant) averages to zero, a slow one
     * passes almost unchanged. */
    s = nm_series_alloc(4000, 0);
    s->dt_ms = 0.1;
    for (size_t i = 0; i < 4000; i++) s->v[i] = sin(2 * PI * (double)i / 8.0) + sin(2 * PI * (double)i / 800.0);
    CHECK_OK(nm_series_resample(s, 8, &r));
    double err = 0;
    for (size_t k = 0; k < r->n; k++) err = fmax(err, fabs(r->v[k] - sin(2 * PI * (8.0 * (double)k + 3.5) / 800.0)));
    CHECK_MSG(err < 2e-3, "max error %g", err);
    nm_series_free(r);
    nm_series_free(s);
    CHECK_FAILS(nm_resample_factor(0.1, 0.25, &(size_t){0}), NM_EINVAL, "not an integer multiple");
    CHECK_FAILS(nm_resample_factor(0.1, 0.04, &(size_t){0}), NM_EINVAL, "not an integer multiple");
    CHECK_FAILS(nm_resample_factor(0.1, -1, &(size_t){0}), NM_EINVAL, "must be > 0");
    size_t f = 0;
    CHECK_OK(nm_resample_factor(0.1, 0.3, &f));
    CHECK(f == 3);
}

/* A silent series next to a spiking one is used for nothing but the noise:
 * the same threshold and width as the spiking one alone.  Only silent
 * series: NM_EDATA. */
static void test_silent_series(void)
{
    size_t nsp;
    nm_series *a = gauss_train(0.1, 3000, -60, 70, 1.4, 20, 4, 1.0, 7, &nsp);
    nm_series *b = gauss_train(0.1, 3000, -70, 0, 1.4, 20, 4, 1.0, 8, NULL);
    nm_autoset_result r1, r2;
    const nm_series *const one[1] = {a}, *const two[2] = {b, a}, *const quiet[1] = {b};
    CHECK_OK(nm_autoset(one, 1, NULL, &r1));
    CHECK_OK(nm_autoset(two, 2, NULL, &r2));
    CHECK(r2.nspiking == 1 && r2.nspikes == nsp);
    CHECK_CLOSE(r2.threshold_mv, r1.threshold_mv, 0, 1e-9);
    CHECK_CLOSE(r2.spike_width_ms, r1.spike_width_ms, 0, 1e-9);
    CHECK(r2.de == r1.de && r2.resample == r1.resample && r2.rollout == r1.rollout);
    CHECK(strstr(r2.threshold_why, "1 of 2 series"));
    CHECK_FAILS(nm_autoset(quiet, 1, NULL, &r1), NM_EDATA, "no spikes in any series");
    /* Subthreshold wobble of 6 mV (less than a spike's 10 mV): no spikes. */
    nm_series *c = gauss_train(0.1, 3000, -70, 6, 1.4, 20, 4, 0.1, 9, NULL);
    const nm_series *const wob[1] = {c};
    CHECK_FAILS(nm_autoset(wob, 1, NULL, &r1), NM_EDATA, "no spikes");
    nm_series_free(a);
    nm_series_free(b);
    nm_series_free(c);
}

static void test_bad_inputs(void)
{
    nm_autoset_result r;
    nm_series *a = gauss_train(0.1, 500, -60, 70, 1.4, 20, 4, 0, 1, NULL);
    const nm_series *const one[1] = {a};
    CHECK_FAILS(nm_autoset(NULL, 1, NULL, &r), NM_EINVAL, "no series");
    CHECK_FAILS(nm_autoset(one, 0, NULL, &r), NM_EINVAL, "no series");
    CHECK_FAILS(nm_autoset(one, 1, NULL, NULL), NM_EINVAL, "NULL output");
    const nm_series *const withnull[2] = {a, NULL};
    CHECK_FAILS(nm_autoset(withnull, 2, NULL, &r), NM_EINVAL, "series 1 is NULL");
    nm_series *e = nm_series_alloc(0, 0);
    e->dt_ms = 0.1;
    const nm_series *const empty[1] = {e};
    CHECK_FAILS(nm_autoset(empty, 1, NULL, &r), NM_EDATA, "0 samples");
    nm_series *k = nm_series_alloc(1000, 0);
    k->dt_ms = 0.1;
    for (size_t i = 0; i < 1000; i++) k->v[i] = -65;
    const nm_series *const cst[1] = {k};
    CHECK_FAILS(nm_autoset(cst, 1, NULL, &r), NM_EDATA, "constant");
    k->v[500] = NAN;
    CHECK_FAILS(nm_autoset(cst, 1, NULL, &r), NM_EDATA, "V[500] is not finite");
    k->v[500] = INFINITY;
    CHECK_FAILS(nm_autoset(cst, 1, NULL, &r), NM_EDATA, "not finite");
    k->v[500] = -65;
    k->dt_ms = 0.2;
    const nm_series *const mixed[2] = {a, k};
    CHECK_FAILS(nm_autoset(mixed, 2, NULL, &r), NM_EINVAL, "series 1 has step 0.2 ms but series 0 has 0.1 ms");
    k->dt_ms = NAN;
    CHECK_FAILS(nm_autoset(cst, 1, NULL, &r), NM_EINVAL, "step must be > 0");
    nm_autoset_opts o;
    nm_autoset_opts_default(&o);
    o.resample = 2;
    o.map_dt_ms = 0.2;
    CHECK_FAILS(nm_autoset(one, 1, &o, &r), NM_EINVAL, "not both");
    o.resample = 0;
    o.map_dt_ms = -1;
    CHECK_FAILS(nm_autoset(one, 1, &o, &r), NM_EINVAL, "map step must be >= 0");
    o.map_dt_ms = 0;
    o.resample = 1000;
    CHECK_FAILS(nm_autoset(one, 1, &o, &r), NM_EINVAL, "blocks of 1000");
    nm_series_free(a);
    nm_series_free(e);
    nm_series_free(k);
}

/* Simulate `model` at p[0..np) with noise; returns the number of series. */
static size_t simulate(const char *model, const double *p, size_t np, double dt, double dur, double transient,
                       double noise, nm_series **out)
{
    nm_model *m = nm_model_alloc(nm_model_type_find(model));
    nm_sim_opts o;
    nm_model_sim_opts_default(m, &o);
    o.dt_ms = dt;
    o.duration_ms = dur;
    o.transient_ms = transient;
    o.noise_mv = noise;
    for (size_t i = 0; i < np; i++) {
        o.seed = 11 + i;
        CHECK_OK(nm_model_set_control(m, p[i]));
        CHECK_OK(nm_simulate(m, &o, &out[i]));
    }
    nm_model_free(m);
    return np;
}

/* The reference cases: the measured good settings (docs/map.md). */
static void check_reference(const char *model, const double *p, size_t np, double dt, double dur, double transient,
                            double ref_thr, double want_dt, size_t want_f)
{
    nm_series *clean[NSER_MAX] = {0}, *noisy[NSER_MAX] = {0};
    simulate(model, p, np, dt, dur, transient, 0, clean);
    simulate(model, p, np, dt, dur, transient, 1.0, noisy);
    for (int k = 0; k < 2; k++) {
        nm_series **s = k ? noisy : clean;
        nm_autoset_result r;
        CHECK_OK(nm_autoset((const nm_series *const *)s, np, NULL, &r));
        fprintf(stderr, "  %s dt %g%s: threshold %.2f (%s); map dt %g; De %zu; rollout %zu\n", model, dt,
                k ? " noise 1 mV" : "", r.threshold_mv, r.threshold_why, r.map_dt_ms, r.de, r.rollout);
        CHECK_MSG(r.resample == want_f, "%s: factor %zu", model, r.resample);
        CHECK_CLOSE(r.map_dt_ms, want_dt, 1e-9, 0);
        CHECK_MSG(r.de == 32, "%s: De %zu", model, r.de);
        CHECK_MSG(r.rollout == 10, "%s: rollout %zu", model, r.rollout);
        CHECK(r.latent_dim == 3);
        /* The same spikes as the reference threshold on the clean series. */
        for (size_t i = 0; i < np; i++) {
            size_t want = count_spikes(clean[i], ref_thr, 2.0), got = count_spikes(s[i], r.threshold_mv, r.hysteresis_mv);
            CHECK_MSG(got == want, "%s p = %g%s: %zu spikes at %.2f mV, %zu at the reference %g mV", model, p[i],
                      k ? " (noisy)" : "", got, r.threshold_mv, want, ref_thr);
        }
    }
    for (size_t i = 0; i < np; i++) {
        nm_series_free(clean[i]);
        nm_series_free(noisy[i]);
    }
}

static void test_srk_reference(void)
{
    const double p[5] = {-42, -38, -36, -34.5, -31};
    check_reference("srk", p, 5, 5, 100000, 20000, -35, 5, 1);
    /* Sampled every 1 ms: block averages of 5 bring it to the 5 ms step. */
    check_reference("srk", p, 5, 1, 60000, 20000, -35, 5, 5);
}

static void test_hh_reference(void)
{
    const double p[6] = {0, 5, 7, 10, 15, 20};
    check_reference("hh", p, 6, 0.1, 2000, 500, 0, 0.1, 1);
    /* The HH default sampling (0.025 ms): averaged to 0.1 ms. */
    check_reference("hh", p, 6, 0.025, 1000, 500, 0, 0.1, 4);
}

static void test_model_file_entries(void)
{
    size_t nsp;
    nm_series *a = gauss_train(0.1, 1000, -60, 70, 1.4, 20, 4, 0, 1, &nsp);
    const nm_series *const one[1] = {a};
    nm_autoset_result r;
    CHECK_OK(nm_autoset(one, 1, NULL, &r));
    nm_mf *mf = nm_mf_alloc();
    CHECK_OK(nm_autoset_to_mf(&r, NM_AUTOSET_THRESHOLD | NM_AUTOSET_DE, mf));
    double x = 0;
    int32_t i = 0;
    const char *s = NULL;
    CHECK_OK(nm_mf_get_scalar_f64(mf, "meta.auto_threshold_mv", &x));
    CHECK(x == r.threshold_mv);
    CHECK_OK(nm_mf_get_scalar_i32(mf, "meta.auto_de", &i));
    CHECK(i == 32);
    CHECK_OK(nm_mf_get_str(mf, "meta.auto_de_why", &s));
    CHECK(s && strcmp(s, r.de_why) == 0);
    CHECK_OK(nm_mf_get_scalar_f64(mf, "meta.auto_spike_width_ms", &x));
    CHECK(x == r.spike_width_ms);
    /* Choices not flagged as used (given by the caller) are not stored. */
    CHECK(!nm_mf_has(mf, "meta.auto_rollout") && !nm_mf_has(mf, "meta.auto_map_dt_ms") &&
          !nm_mf_has(mf, "meta.auto_latent"));
    CHECK_FAILS(nm_autoset_to_mf(NULL, 0, mf), NM_EINVAL, "NULL");
    nm_mf_free(mf);
    nm_series_free(a);
}

/* Latent smoothing follows the noise's share of the spike amplitude (70 mV
 * here): 1 mV (1.4%) turns it on at 2 steps, 0.1 mV (0.14%) and none leave
 * it off; block averaging counts (0.5 mV at 0.02 ms resampled by 5 reads
 * 0.22 mV: 0.32%, off). */
static void test_smoothing_rule(void)
{
    const double noise[3] = {1.0, 0.1, 0.0};
    for (int k = 0; k < 3; k++) {
        nm_series *s = gauss_train(0.1, 4000, -60, 70, 1.4, 20, 4, noise[k], 11, NULL);
        nm_autoset_result r;
        const nm_series *const ss[1] = {s};
        CHECK_OK(nm_autoset(ss, 1, NULL, &r));
        CHECK_MSG(r.smooth_steps == (k == 0 ? 2.0 : 0.0), "noise %g mV: smoothing %g", noise[k], r.smooth_steps);
        CHECK(strstr(r.smooth_why, k == 0 ? "smoothed" : "no smoothing") != NULL);
        nm_series_free(s);
    }
    nm_series *s = gauss_train(0.02, 2000, -60, 70, 1.4, 20, 4, 0.5, 5, NULL);
    nm_autoset_result r;
    const nm_series *const ss[1] = {s};
    CHECK_OK(nm_autoset(ss, 1, NULL, &r));
    CHECK(r.resample == 5 && r.smooth_steps == 0.0);
    nm_series_free(s);
}

int main(void)
{
    NM_RUN(test_gaussian_train);
    NM_RUN(test_resampling_choice);
    NM_RUN(test_smoothing_rule);
    NM_RUN(test_series_resample);
    NM_RUN(test_silent_series);
    NM_RUN(test_bad_inputs);
    NM_RUN(test_srk_reference);
    NM_RUN(test_hh_reference);
    NM_RUN(test_model_file_entries);
    return nm_test_report();
}
