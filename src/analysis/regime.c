/* regime.c -- classify a spike train: silent, periodic with k spikes per
 * period, or irregular. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NM_REGIME_MAX_K_DEFAULT 12
/* Absolute ISI slack: 0.4 sampling steps (linear interpolation of a sampled
 * upstroke misplaces a crossing by a fraction of a step), at most 2 ms. */
#define NM_REGIME_ABS_TOL_PER_STEP 0.4
#define NM_REGIME_ABS_TOL_MAX_MS 2.0

void nm_regime_opts_default(nm_regime_opts *o)
{
    if (!o) return;
    /* Patterns up to 12 spikes per period: the SRK spike-adding cascade shows
     * bursts of up to 5-6 spikes and some longer mixed patterns near it. */
    o->max_k = NM_REGIME_MAX_K_DEFAULT;
    /* ISIs of a periodic orbit repeat to integrator accuracy; 3% + 2 ms
     * absorbs the jitter of spike times read off a trace sampled every 5 ms
     * (linear interpolation) while telling a drifting or chaotic train apart. */
    o->rel_tol = 0.03;
    o->abs_tol_ms = NM_REGIME_ABS_TOL_MAX_MS;
    o->min_repeats = 3;
    /* Fewer than 3 spikes in the window (typically 60 s): silent. */
    o->min_spikes = 3;
}

void nm_regime_opts_for_step(nm_regime_opts *o, double dt_ms)
{
    if (!o || !(dt_ms > 0) || !isfinite(dt_ms)) return;
    o->abs_tol_ms = fmin(NM_REGIME_ABS_TOL_MAX_MS, NM_REGIME_ABS_TOL_PER_STEP * dt_ms);
}

int nm_regime_max_k_for(int kmax)
{
    int k = kmax > 0 ? (int)ceil(1.25 * kmax) : 0;
    if (k < NM_REGIME_MAX_K_DEFAULT) k = NM_REGIME_MAX_K_DEFAULT;
    return k > NM_REGIME_MAX_K_AUTO ? NM_REGIME_MAX_K_AUTO : k;
}

/* Is the ISI sequence periodic with k ISIs per period?  Every ISI must lie
 * within tolerance of the mean ISI at its phase (i mod k).  Comparing with
 * the phase mean, not with the neighbour one period later, halves the effect
 * of timing jitter and catches a slow drift that pairwise checks let through.
 * means: scratch of k doubles. */
static int repeats_with_period(const double *isi, size_t m, size_t k, const nm_regime_opts *o,
                               double *means)
{
    for (size_t j = 0; j < k; j++) {
        double sum = 0;
        size_t c = 0;
        for (size_t i = j; i < m; i += k, c++) sum += isi[i];
        means[j] = sum / (double)c;
    }
    for (size_t i = 0; i < m; i++) {
        double mu = means[i % k];
        if (fabs(isi[i] - mu) > o->abs_tol_ms + o->rel_tol * mu) return 0;
    }
    return 1;
}

nm_status nm_regime_classify(const double *times, size_t nspikes, double duration_ms,
                             const nm_regime_opts *opts, nm_regime *out)
{
    if (!out) return nm_fail(NM_EINVAL, "regime: NULL output");
    memset(out, 0, sizeof *out);
    nm_regime_opts defaults;
    if (!opts) {
        nm_regime_opts_default(&defaults);
        opts = &defaults;
    }
    if (!(duration_ms > 0) || !isfinite(duration_ms))
        return nm_fail(NM_EINVAL, "regime: duration must be > 0 ms (got %g)", duration_ms);
    if (opts->max_k < 1 || opts->max_k > 1000 || opts->min_repeats < 1 || !(opts->rel_tol >= 0) || !(opts->abs_tol_ms >= 0))
        return nm_fail(NM_EINVAL, "regime: invalid options (max_k %d, min_repeats %d, rel_tol %g, abs_tol %g)",
                       opts->max_k, opts->min_repeats, opts->rel_tol, opts->abs_tol_ms);
    if (nspikes && !times) return nm_fail(NM_EINVAL, "regime: NULL spike times");
    for (size_t i = 0; i < nspikes; i++) {
        if (!isfinite(times[i])) return nm_fail(NM_EDATA, "regime: spike time %zu is not finite", i);
        if (i && times[i] < times[i - 1])
            return nm_fail(NM_EDATA, "regime: spike times are not sorted (index %zu)", i);
    }

    out->nspikes = nspikes;
    out->rate_hz = 1000.0 * (double)nspikes / duration_ms;
    if (nspikes >= 2) {
        out->isi_min_ms = INFINITY;
        for (size_t i = 0; i + 1 < nspikes; i++) {
            double d = times[i + 1] - times[i];
            out->isi_min_ms = fmin(out->isi_min_ms, d);
            out->isi_max_ms = fmax(out->isi_max_ms, d);
        }
        out->isi_mean_ms = (times[nspikes - 1] - times[0]) / (double)(nspikes - 1);
    }
    if (nspikes < opts->min_spikes || nspikes < 2) {
        out->cls = NM_REGIME_SILENT;
        return NM_OK;
    }

    size_t m = nspikes - 1;
    double *isi = nm_malloc((m + (size_t)opts->max_k) * sizeof *isi);
    if (!isi) return NM_ENOMEM;
    double *means = isi + m;
    for (size_t i = 0; i < m; i++) isi[i] = times[i + 1] - times[i];

    out->cls = NM_REGIME_IRREGULAR;
    for (size_t k = 1; k <= (size_t)opts->max_k; k++) {
        /* Only claim a period that was seen min_repeats times in full. */
        if (m < k * (size_t)opts->min_repeats) break;
        if (!repeats_with_period(isi, m, k, opts, means)) continue;
        out->cls = NM_REGIME_PERIODIC;
        out->spikes_per_period = (int)k;
        /* Mean of t[i+k]-t[i] over every complete period in the train. */
        size_t periods = m / k;
        out->period_ms = (times[periods * k] - times[0]) / (double)periods;
        break;
    }
    free(isi);
    return NM_OK;
}

char *nm_regime_format(const nm_regime *r, char *buf, size_t len)
{
    if (!buf || !len) return buf;
    if (!r) {
        snprintf(buf, len, "?");
        return buf;
    }
    switch (r->cls) {
    case NM_REGIME_SILENT: snprintf(buf, len, "silent"); break;
    case NM_REGIME_PERIODIC: snprintf(buf, len, "periodic:%d", r->spikes_per_period); break;
    case NM_REGIME_IRREGULAR: snprintf(buf, len, "irregular"); break;
    default: snprintf(buf, len, "?"); break;
    }
    return buf;
}

nm_status nm_regime_parse(const char *s, nm_regime *out)
{
    if (!s || !out) return nm_fail(NM_EINVAL, "regime: NULL argument");
    memset(out, 0, sizeof *out);
    if (strcmp(s, "silent") == 0) {
        out->cls = NM_REGIME_SILENT;
        return NM_OK;
    }
    if (strcmp(s, "irregular") == 0) {
        out->cls = NM_REGIME_IRREGULAR;
        return NM_OK;
    }
    if (strncmp(s, "periodic:", 9) == 0) {
        char *end = NULL;
        long k = strtol(s + 9, &end, 10);
        if (end != s + 9 && *end == '\0' && k >= 1 && k <= 1000) {
            out->cls = NM_REGIME_PERIODIC;
            out->spikes_per_period = (int)k;
            return NM_OK;
        }
    }
    return nm_fail(NM_EFORMAT, "'%s' is not a regime (expected silent, periodic:K or irregular)", s);
}
