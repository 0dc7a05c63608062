/* autoset.c -- settings chosen from the data (docs/settings.md): the spike
 * threshold, the map time step (resampling by block averaging), the
 * delay-embedding length, the rollout horizon and the latent dimension,
 * each with a one-line reason.  The rules are the library's, so the command,
 * Python and C callers get the same choices. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The low level of V is this quantile (the resting or after-hyperpolarised
 * level, robust to noise and to the odd deep trough). */
#define LOW_QUANTILE 0.05
/* Re-arm hysteresis: this many noise SDs, at least HYST_MIN_MV, at most this
 * share of the spike amplitude. */
#define HYST_NOISE_SDS 6.0
#define HYST_MIN_MV 2.0
#define HYST_MAX_FRAC 0.25
/* A spike must stand this many noise SDs above the low level. */
#define MIN_SPIKE_NOISE_SDS 8.0
/* De is the nearest (in ratio) of the ladder 8, 12, 16, 24, ..., 384, 512
 * (powers of two and their 1.5-fold): steps of about 1.4, coarse enough that
 * the spread of spike widths across p values does not move it.  The rollout
 * horizon is this share of the data's De (the reference: De 32 -> 10). */
#define DE_LADDER_MIN 8.0
#define DE_MAX 512.0
#define ROLLOUT_PER_DE (10.0 / 32.0)
#define LATENT_DEFAULT 3
/* Latent smoothing against measurement noise (docs/map.md, "Noisy
 * recordings"): from 0.5% of the spike amplitude (0.2 mV on SRK's 41 mV;
 * clean simulated series read 0.01-0.03 mV), a Gaussian of SD 2 map steps.
 * On SRK with 1 mV white noise, seed 1: 44.6% without, 72.3% with SD 2. */
#define NM_AUTOSET_SMOOTH_REL_MIN 0.005
#define NM_AUTOSET_SMOOTH_STEPS 2.0
/* Fewest samples a series needs for the statistics here. */
#define MIN_SAMPLES 16

void nm_autoset_opts_default(nm_autoset_opts *o)
{
    if (o) memset(o, 0, sizeof *o);
}

nm_status nm_series_resample(const nm_series *s, size_t factor, nm_series **out)
{
    if (!out) return nm_fail(NM_EINVAL, "resample: NULL output");
    *out = NULL;
    if (!s) return nm_fail(NM_EINVAL, "resample: NULL series");
    if (factor == 0) return nm_fail(NM_EINVAL, "resample: the factor must be >= 1");
    if (!(s->dt_ms > 0) || !isfinite(s->dt_ms))
        return nm_fail(NM_EINVAL, "resample: the series' step must be > 0 (got %g ms)", s->dt_ms);
    if (s->n < factor)
        return nm_fail(NM_EINVAL, "resample: %zu samples cannot be averaged in blocks of %zu", s->n, factor);
    size_t m = s->n / factor, ns = s->states ? s->nstates : 0;
    nm_series *r = nm_series_alloc(m, ns);
    if (!r) return NM_ENOMEM;
    r->dt_ms = s->dt_ms * (double)factor;
    r->t0_ms = s->t0_ms + 0.5 * (double)(factor - 1) * s->dt_ms;
    r->p = s->p;
    const double inv = 1.0 / (double)factor;
    for (size_t k = 0; k < m; k++) {
        double acc = 0;
        for (size_t j = 0; j < factor; j++) acc += s->v[k * factor + j];
        r->v[k] = acc * inv;
        for (size_t c = 0; c < ns; c++) {
            double a = 0;
            for (size_t j = 0; j < factor; j++) a += s->states[(k * factor + j) * ns + c];
            r->states[k * ns + c] = a * inv;
        }
    }
    if (s->u) { /* the injected input, averaged like V (issue 11) */
        r->u = nm_malloc(m * sizeof *r->u);
        if (!r->u) {
            nm_series_free(r);
            return NM_ENOMEM;
        }
        for (size_t k = 0; k < m; k++) {
            double acc = 0;
            for (size_t j = 0; j < factor; j++) acc += s->u[k * factor + j];
            r->u[k] = acc * inv;
        }
        memcpy(r->u_unit, s->u_unit, sizeof r->u_unit);
    }
    *out = r;
    return NM_OK;
}

nm_status nm_resample_factor(double data_dt_ms, double map_dt_ms, size_t *factor)
{
    if (!factor) return nm_fail(NM_EINVAL, "resample factor: NULL output");
    *factor = 0;
    if (!(data_dt_ms > 0) || !isfinite(data_dt_ms) || !(map_dt_ms > 0) || !isfinite(map_dt_ms))
        return nm_fail(NM_EINVAL, "resample factor: steps must be > 0 (got data %g ms, map %g ms)", data_dt_ms,
                       map_dt_ms);
    double r = map_dt_ms / data_dt_ms;
    if (r < 0.5 || r > 1e9 || fabs((double)llround(r) * data_dt_ms - map_dt_ms) > 1e-6 * map_dt_ms)
        return nm_fail(NM_EINVAL, "the map step %g ms is not an integer multiple of the data's step %g ms", map_dt_ms,
                       data_dt_ms);
    *factor = (size_t)llround(r);
    return NM_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q in [0, 1] of x[0..n) (sorted in place), linear interpolation. */
static double quantile_sorted_inplace(double *x, size_t n, double q)
{
    qsort(x, n, sizeof *x, cmp_double);
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n) return x[n - 1];
    return x[i] + (pos - (double)i) * (x[i + 1] - x[i]);
}

/* White-noise SD of a series: the median absolute deviation of the second
 * differences (scaled to an SD, 1.4826) over sqrt(6), the SD of a second
 * difference of white noise.  Smooth dynamics sampled finely contribute
 * almost nothing to the median; buf holds n values. */
static double noise_sd(const double *v, size_t n, double *buf)
{
    size_t m = n - 2;
    for (size_t i = 0; i < m; i++) buf[i] = v[i + 2] - 2 * v[i + 1] + v[i];
    double med = quantile_sorted_inplace(buf, m, 0.5);
    for (size_t i = 0; i < m; i++) buf[i] = fabs(buf[i] - med);
    return 1.4826 * quantile_sorted_inplace(buf, m, 0.5) / sqrt(6.0);
}

/* Spikes of one series: upward crossings of `level` by a re-armed trace
 * (armed once V < level - hyst, as nm_spikes_detect_hyst counts them).  A
 * spike ends when V falls below level - hyst; its peak is the maximum in
 * between and its width the time from the upward crossing to the last
 * downward crossing of `level` (interpolated).  A spike still running at
 * the end is counted but has no peak or width.  peaks/widths (may be NULL)
 * get one entry per complete spike, appended at *nc (capacity grown). */
typedef struct spike_acc {
    double *peak, *width;
    size_t n, cap;
} spike_acc;

static nm_status scan_spikes(const double *v, size_t n, double dt, double level, double hyst, spike_acc *acc,
                             size_t *count)
{
    size_t c = 0;
    int armed = v[0] < level - hyst, in = 0;
    double t_up = 0, t_down = 0, peak = 0;
    for (size_t i = 1; i < n; i++) {
        if (in) {
            if (v[i] > peak) peak = v[i];
            if (v[i - 1] >= level && v[i] < level)
                t_down = (double)(i - 1) + (v[i - 1] - level) / (v[i - 1] - v[i]);
            if (v[i] < level - hyst) {
                in = 0;
                armed = 1;
                if (acc) {
                    if (acc->n == acc->cap) {
                        size_t nc = acc->cap ? 2 * acc->cap : 256;
                        double *p = realloc(acc->peak, nc * sizeof *p);
                        if (!p) return nm_fail(NM_ENOMEM, "autoset: out of memory");
                        acc->peak = p;
                        double *w = realloc(acc->width, nc * sizeof *w);
                        if (!w) return nm_fail(NM_ENOMEM, "autoset: out of memory");
                        acc->width = w;
                        acc->cap = nc;
                    }
                    acc->peak[acc->n] = peak;
                    acc->width[acc->n] = (t_down - t_up) * dt;
                    acc->n++;
                }
            }
            continue;
        }
        if (!armed) {
            if (v[i] < level - hyst) armed = 1;
            continue;
        }
        if (v[i - 1] < level && v[i] >= level) {
            in = 1;
            c++;
            t_up = (double)(i - 1) + (level - v[i - 1]) / (v[i] - v[i - 1]);
            t_down = t_up;
            peak = v[i];
        }
    }
    *count = c;
    return NM_OK;
}

nm_status nm_autoset(const nm_series *const *series, size_t n, const nm_autoset_opts *opts, nm_autoset_result *out)
{
    if (!out) return nm_fail(NM_EINVAL, "autoset: NULL output");
    memset(out, 0, sizeof *out);
    nm_autoset_opts def;
    if (!opts) {
        nm_autoset_opts_default(&def);
        opts = &def;
    }
    if (!series || n == 0) return nm_fail(NM_EINVAL, "autoset: no series");
    if (!(opts->map_dt_ms >= 0) || !isfinite(opts->map_dt_ms))
        return nm_fail(NM_EINVAL, "autoset: the map step must be >= 0 (got %g ms)", opts->map_dt_ms);
    if (opts->resample && opts->map_dt_ms > 0)
        return nm_fail(NM_EINVAL, "autoset: give the resampling factor or the map step, not both");
    double dt = 0;
    size_t total = 0, nmax = 0;
    for (size_t i = 0; i < n; i++) {
        const nm_series *s = series[i];
        if (!s || (!s->v && s->n)) return nm_fail(NM_EINVAL, "autoset: series %zu is NULL", i);
        if (!(s->dt_ms > 0) || !isfinite(s->dt_ms))
            return nm_fail(NM_EINVAL, "autoset: series %zu: the step must be > 0 (got %g ms)", i, s->dt_ms);
        if (i == 0) dt = s->dt_ms;
        else if (fabs(s->dt_ms - dt) > 1e-6 * dt)
            return nm_fail(NM_EINVAL, "autoset: series %zu has step %g ms but series 0 has %g ms: resample them to one step", i, s->dt_ms,
                           dt);
        if (s->n < MIN_SAMPLES)
            return nm_fail(NM_EDATA, "autoset: series %zu has %zu samples (at least %d needed)", i, s->n,
                           MIN_SAMPLES);
        for (size_t k = 0; k < s->n; k++)
            if (!isfinite(s->v[k]))
                return nm_fail(NM_EDATA, "autoset: series %zu: V[%zu] is not finite", i, k);
        total += s->n;
        if (s->n > nmax) nmax = s->n;
    }
    out->data_dt_ms = dt;

    nm_status st = NM_OK;
    spike_acc acc = {0};
    size_t *count = nm_calloc(n, sizeof *count);
    double *buf = nm_malloc(total * sizeof *buf), *noise = nm_malloc(n * sizeof *noise);
    if (!count || !buf || !noise) {
        st = NM_ENOMEM;
        goto done;
    }

    /* Noise, the pooled low level and the highest value. */
    double top = -INFINITY;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const nm_series *s = series[i];
        noise[i] = noise_sd(s->v, s->n, buf);
        for (size_t k = 0; k < s->n; k++) top = fmax(top, s->v[k]);
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + off, series[i]->v, series[i]->n * sizeof *buf);
        off += series[i]->n;
    }
    double low_all = quantile_sorted_inplace(buf, total, LOW_QUANTILE);
    if (!(buf[total - 1] - buf[0] > 1e-6)) {
        st = nm_fail(NM_EDATA, "autoset: V is constant (%g mV) in every series: no spikes to choose settings from",
                     buf[0]);
        goto done;
    }
    double sigma = quantile_sorted_inplace(noise, n, 0.5);
    out->noise_mv = sigma;
    double min_amp = fmax(NM_AUTOSET_MIN_SPIKE_MV, MIN_SPIKE_NOISE_SDS * sigma);
    if (top - low_all < min_amp) {
        st = nm_fail(NM_EDATA,
                     "autoset: no spikes in any series (V spans %.3g mV above its 5th percentile %.4g mV; a spike "
                     "needs %.3g mV): set the threshold, De, rollout and map step yourself",
                     top - low_all, low_all, min_amp);
        goto done;
    }

    /* First pass: excursions above the midpoint of the low level and the
     * top find the spiking series and the spike peaks. */
    double level0 = 0.5 * (low_all + top);
    double hyst0 = fmin(fmax(HYST_MIN_MV, HYST_NOISE_SDS * sigma), HYST_MAX_FRAC * (top - low_all));
    for (size_t i = 0; i < n; i++) {
        size_t before = acc.n;
        if ((st = scan_spikes(series[i]->v, series[i]->n, dt, level0, hyst0, &acc, &count[i]))) goto done;
        count[i] = acc.n - before; /* complete excursions only */
    }
    size_t nspiking = 0;
    off = 0;
    for (size_t i = 0; i < n; i++)
        if (count[i]) {
            nspiking++;
            memcpy(buf + off, series[i]->v, series[i]->n * sizeof *buf);
            off += series[i]->n;
        }
    if (!nspiking || acc.n == 0) {
        st = nm_fail(NM_EDATA, "autoset: no complete spike in any series: set the threshold, De, rollout "
                               "and map step yourself");
        goto done;
    }
    double low = quantile_sorted_inplace(buf, off, LOW_QUANTILE);
    double peak = quantile_sorted_inplace(acc.peak, acc.n, 0.5);
    double amp = peak - low;
    if (amp < min_amp) {
        st = nm_fail(NM_EDATA,
                     "autoset: the median spike rises %.3g mV above the low level %.4g mV (a spike needs %.3g mV): "
                     "set the threshold, De, rollout and map step yourself",
                     amp, low, min_amp);
        goto done;
    }
    double thr = 0.5 * (low + peak);
    double hyst = fmin(fmax(HYST_MIN_MV, HYST_NOISE_SDS * sigma), HYST_MAX_FRAC * amp);
    out->low_mv = low;
    out->peak_mv = peak;
    out->threshold_mv = thr;
    out->hysteresis_mv = hyst;

    /* Second pass: spikes and their widths at the threshold. */
    acc.n = 0;
    size_t nspk = 0;
    nspiking = 0;
    for (size_t i = 0; i < n; i++) {
        if ((st = scan_spikes(series[i]->v, series[i]->n, dt, thr, hyst, &acc, &count[i]))) goto done;
        nspk += count[i];
        nspiking += count[i] > 0;
    }
    if (acc.n == 0) {
        st = nm_fail(NM_EDATA, "autoset: no complete spike at the threshold %.4g mV", thr);
        goto done;
    }
    double w = quantile_sorted_inplace(acc.width, acc.n, 0.5);
    if (!(w > 0)) w = dt; /* a spike above threshold for less than one sample */
    out->nspikes = nspk;
    out->nspiking = nspiking;
    out->spike_width_ms = w;
    snprintf(out->threshold_why, sizeof out->threshold_why,
             "midway between the low level %.1f mV (5%% quantile of V) and the median spike peak %.1f mV; "
             "hysteresis %.1f mV for noise %.2f mV; %zu spikes in %zu of %zu series",
             low, peak, hyst, sigma, nspk, nspiking, n);

    /* Map step. */
    double spw = w / dt;
    size_t f;
    if (opts->map_dt_ms > 0) {
        if ((st = nm_resample_factor(dt, opts->map_dt_ms, &f))) goto done;
    } else {
        f = opts->resample;
    }
    if (f) {
        snprintf(out->dt_why, sizeof out->dt_why,
                 "given: blocks of %zu samples of %g ms; %.1f samples per spike width (%.3g ms) at the map step", f,
                 dt, spw / (double)f, w);
    } else if (spw < NM_AUTOSET_SAMPLES_MIN) {
        f = 1;
        out->coarse = 1;
        snprintf(out->dt_why, sizeof out->dt_why,
                 "the data's step; WARNING: a spike (width %.3g ms) spans only %.1f samples, fewer than the %g wanted: "
                 "sample finer if you can",
                 w, spw, NM_AUTOSET_SAMPLES_MIN);
    } else {
        /* The factor that brings the width nearest the aim, but never below
         * the floor. */
        double a = floor(spw / NM_AUTOSET_SAMPLES_MIN), b = (double)llround(spw / NM_AUTOSET_SAMPLES_TARGET);
        f = (size_t)fmax(1.0, fmin(a, b));
        if (f == 1)
            snprintf(out->dt_why, sizeof out->dt_why,
                     "the data's step: a spike (width %.3g ms) spans %.1f samples, near the %g aimed at (at least %g)",
                     w, spw, NM_AUTOSET_SAMPLES_TARGET, NM_AUTOSET_SAMPLES_MIN);
        else
            snprintf(out->dt_why, sizeof out->dt_why,
                     "blocks of %zu samples of %g ms averaged: a spike (width %.3g ms) spans %.1f samples, %.1f after "
                     "(aimed at %g, at least %g)",
                     f, dt, w, spw, spw / (double)f, NM_AUTOSET_SAMPLES_TARGET, NM_AUTOSET_SAMPLES_MIN);
    }
    if (f > nmax / MIN_SAMPLES) {
        st = nm_fail(NM_EINVAL, "autoset: averaging blocks of %zu samples leaves fewer than %d samples of the longest "
                                "series (%zu)", f, MIN_SAMPLES, nmax);
        goto done;
    }
    out->resample = f;
    out->map_dt_ms = dt * (double)f;

    /* Embedding window and rollout horizon, in map steps. */
    double steps = w / out->map_dt_ms;
    double de_raw = NM_AUTOSET_WINDOW_WIDTHS * steps;
    double de = DE_LADDER_MIN;
    for (double c = DE_LADDER_MIN; c <= DE_MAX; c *= (fmod(log2(c), 1.0) == 0 ? 1.5 : 4.0 / 3.0))
        if (fabs(log(c / de_raw)) < fabs(log(de / de_raw))) de = c;
    out->de = (size_t)de;
    snprintf(out->de_why, sizeof out->de_why,
             "%g spike widths = %.1f steps of %g ms, the nearest of 8, 12, 16, 24, 32, 48, ...: a %g ms window",
             NM_AUTOSET_WINDOW_WIDTHS, de_raw, out->map_dt_ms, de * out->map_dt_ms);
    double ro = fmax(2.0, (double)llround(ROLLOUT_PER_DE * de));
    out->rollout = (size_t)ro;
    snprintf(out->rollout_why, sizeof out->rollout_why,
             "10/32 of De: %g ms, %.2f spike widths (the reference's 10 steps at De 32)", ro * out->map_dt_ms,
             ro / steps);
    out->latent_dim = LATENT_DEFAULT;
    snprintf(out->latent_why, sizeof out->latent_why,
             "the default: the reference's active units at D >= 3; `neuromap vae-scan` measures it");
    /* Measurement noise: its share of the spike amplitude at the map step
     * (block averaging of r samples divides white noise by sqrt r). */
    double spike_amp = out->peak_mv - out->low_mv;
    double rel = spike_amp > 0 ? out->noise_mv / sqrt((double)out->resample) / spike_amp : 0;
    if (rel >= NM_AUTOSET_SMOOTH_REL_MIN) {
        out->smooth_steps = NM_AUTOSET_SMOOTH_STEPS;
        snprintf(out->smooth_why, sizeof out->smooth_why,
                 "noise %.2g mV is %.2g%% of the %.3g mV spike amplitude (>= %g%%): the latent trajectories "
                 "are smoothed, SD %g steps",
                 out->noise_mv, 100 * rel, spike_amp, 100 * NM_AUTOSET_SMOOTH_REL_MIN, NM_AUTOSET_SMOOTH_STEPS);
    } else {
        out->smooth_steps = 0;
        snprintf(out->smooth_why, sizeof out->smooth_why,
                 "noise %.2g mV is %.2g%% of the %.3g mV spike amplitude (< %g%%): no smoothing", out->noise_mv,
                 100 * rel, spike_amp, 100 * NM_AUTOSET_SMOOTH_REL_MIN);
    }
done:
    free(acc.peak);
    free(acc.width);
    free(count);
    free(buf);
    free(noise);
    return st;
}

nm_status nm_autoset_to_mf(const nm_autoset_result *r, unsigned used, nm_mf *mf)
{
    if (!r || !mf) return nm_fail(NM_EINVAL, "autoset: NULL argument");
    nm_status st = NM_OK;
#define ADD(expr) \
    if (!st) st = (expr)
    ADD(nm_mf_add_scalar_f64(mf, "meta.auto_spike_width_ms", r->spike_width_ms));
    ADD(nm_mf_add_scalar_f64(mf, "meta.auto_low_mv", r->low_mv));
    ADD(nm_mf_add_scalar_f64(mf, "meta.auto_peak_mv", r->peak_mv));
    ADD(nm_mf_add_scalar_f64(mf, "meta.auto_noise_mv", r->noise_mv));
    ADD(nm_mf_add_scalar_f64(mf, "meta.auto_data_dt_ms", r->data_dt_ms));
    if (used & NM_AUTOSET_THRESHOLD) {
        ADD(nm_mf_add_scalar_f64(mf, "meta.auto_threshold_mv", r->threshold_mv));
        ADD(nm_mf_add_scalar_f64(mf, "meta.auto_hysteresis_mv", r->hysteresis_mv));
        ADD(nm_mf_add_str(mf, "meta.auto_threshold_why", r->threshold_why));
    }
    if (used & NM_AUTOSET_DT) {
        ADD(nm_mf_add_scalar_i32(mf, "meta.auto_resample", (int32_t)r->resample));
        ADD(nm_mf_add_scalar_f64(mf, "meta.auto_map_dt_ms", r->map_dt_ms));
        ADD(nm_mf_add_str(mf, "meta.auto_map_dt_why", r->dt_why));
    }
    if (used & NM_AUTOSET_DE) {
        ADD(nm_mf_add_scalar_i32(mf, "meta.auto_de", (int32_t)r->de));
        ADD(nm_mf_add_str(mf, "meta.auto_de_why", r->de_why));
    }
    if (used & NM_AUTOSET_ROLLOUT) {
        ADD(nm_mf_add_scalar_i32(mf, "meta.auto_rollout", (int32_t)r->rollout));
        ADD(nm_mf_add_str(mf, "meta.auto_rollout_why", r->rollout_why));
    }
    if (used & NM_AUTOSET_SMOOTH) {
        ADD(nm_mf_add_scalar_f64(mf, "meta.auto_smooth_steps", r->smooth_steps));
        ADD(nm_mf_add_str(mf, "meta.auto_smooth_why", r->smooth_why));
    }
    if (used & NM_AUTOSET_LATENT) {
        ADD(nm_mf_add_scalar_i32(mf, "meta.auto_latent", (int32_t)r->latent_dim));
        ADD(nm_mf_add_str(mf, "meta.auto_latent_why", r->latent_why));
    }
#undef ADD
    return st;
}
