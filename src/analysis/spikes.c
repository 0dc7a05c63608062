/* spikes.c -- spike detection: upward threshold crossings with hysteresis. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

/* After a spike, V must fall this far below the threshold before the next
 * crossing counts.  2 mV rejects the sample-to-sample wobble of a decoded or
 * lightly noisy trace (design: 5 ms sampling, ~0.1-0.5 mV noise) while every
 * real SRK/HH spike repolarises tens of mV below threshold. */
#define NM_SPIKE_DEFAULT_HYSTERESIS_MV 2.0


nm_status nm_spikes_detect_hyst(const double *v, size_t n, double dt_ms, double t0_ms,
                                double threshold_mv, double hysteresis_mv, double **times,
                                size_t *nspikes)
{
    if (!times || !nspikes) return nm_fail(NM_EINVAL, "spike detection: NULL output");
    *times = NULL;
    *nspikes = 0;
    if (!v && n) return nm_fail(NM_EINVAL, "spike detection: NULL voltage array");
    if (!(dt_ms > 0) || !isfinite(dt_ms))
        return nm_fail(NM_EINVAL, "spike detection: dt_ms must be > 0 (got %g)", dt_ms);
    if (!isfinite(threshold_mv) || !isfinite(t0_ms))
        return nm_fail(NM_EINVAL, "spike detection: threshold and t0 must be finite");
    if (!(hysteresis_mv >= 0) || !isfinite(hysteresis_mv))
        return nm_fail(NM_EINVAL, "spike detection: hysteresis must be >= 0 (got %g)", hysteresis_mv);

    size_t cap = 0, count = 0;
    double *t = NULL;
    /* Armed means V has been below threshold - hysteresis since the last
     * spike; a trace that starts above threshold is not a spike at t0. */
    int armed = n > 0 && v[0] < threshold_mv - hysteresis_mv;
    for (size_t i = 1; i < n; i++) {
        if (!isfinite(v[i])) {
            free(t);
            return nm_fail(NM_EDATA, "spike detection: V[%zu] is not finite", i);
        }
        if (!armed) {
            if (v[i] < threshold_mv - hysteresis_mv) armed = 1;
            continue;
        }
        if (v[i - 1] < threshold_mv && v[i] >= threshold_mv) {
            if (count == cap) {
                size_t ncap = cap ? 2 * cap : 64;
                double *nt = realloc(t, ncap * sizeof *nt);
                if (!nt) {
                    free(t);
                    return nm_fail(NM_ENOMEM, "spike detection: out of memory");
                }
                t = nt;
                cap = ncap;
            }
            double frac = (threshold_mv - v[i - 1]) / (v[i] - v[i - 1]);
            t[count++] = t0_ms + ((double)(i - 1) + frac) * dt_ms;
            armed = 0;
        }
    }
    *times = t;
    *nspikes = count;
    return NM_OK;
}

nm_status nm_spikes_detect(const double *v, size_t n, double dt_ms, double t0_ms,
                           double threshold_mv, double **times, size_t *nspikes)
{
    return nm_spikes_detect_hyst(v, n, dt_ms, t0_ms, threshold_mv, NM_SPIKE_DEFAULT_HYSTERESIS_MV,
                                 times, nspikes);
}
