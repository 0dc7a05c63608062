/* coincidence.c -- the spike coincidence factor Gamma (Kistler, Gerstner &
 * van Hemmen 1997, Neural Comput 9:1015; the measure of the INCF
 * quantitative single-neuron modelling competition, Jolivet et al. 2008).
 *
 *   Gamma = (N_coinc - <N_coinc>) / (0.5 (N_data + N_model)) / (1 - 2 nu delta)
 *
 * N_coinc: data spikes with a model spike within +-delta (each model spike
 * used once); <N_coinc> = 2 nu delta N_data, the count a Poisson train of the
 * model's rate nu = N_model / T would reach by chance.  1 for identical
 * trains, about 0 for chance, negative below chance. */
#include "internal.h"

#include <math.h>
#include <string.h>

nm_status nm_coincidence_factor(const double *t_data, size_t n_data, const double *t_model, size_t n_model,
                                double delta_ms, double duration_ms, nm_coincidence *out)
{
    if (!out) return nm_fail(NM_EINVAL, "coincidence factor: NULL output");
    memset(out, 0, sizeof *out);
    if ((n_data && !t_data) || (n_model && !t_model)) return nm_fail(NM_EINVAL, "coincidence factor: NULL spike times");
    if (!(delta_ms > 0) || !isfinite(delta_ms))
        return nm_fail(NM_EINVAL, "coincidence factor: delta %g ms must be finite and > 0", delta_ms);
    if (!(duration_ms > 0) || !isfinite(duration_ms))
        return nm_fail(NM_EINVAL, "coincidence factor: duration %g ms must be finite and > 0", duration_ms);
    for (size_t i = 0; i < n_data; i++)
        if (!isfinite(t_data[i]) || (i && t_data[i] < t_data[i - 1]))
            return nm_fail(NM_EINVAL, "coincidence factor: data spike %zu is not finite or not in time order", i);
    for (size_t i = 0; i < n_model; i++)
        if (!isfinite(t_model[i]) || (i && t_model[i] < t_model[i - 1]))
            return nm_fail(NM_EINVAL, "coincidence factor: model spike %zu is not finite or not in time order", i);
    double nu = (double)n_model / duration_ms; /* per ms */
    double norm = 1.0 - 2.0 * nu * delta_ms;
    if (!(norm > 0))
        return nm_fail(NM_EDATA,
                       "coincidence factor: the model's rate (%zu spikes in %g ms) leaves no room for chance "
                       "coincidences within +-%g ms",
                       n_model, duration_ms, delta_ms);
    /* Greedy matching in time order: a data spike takes the earliest unused
     * model spike within +-delta.  For trains whose ISIs exceed 2 delta this
     * is the maximum matching. */
    size_t j = 0, nc = 0;
    for (size_t i = 0; i < n_data; i++) {
        while (j < n_model && t_model[j] < t_data[i] - delta_ms) j++;
        if (j < n_model && t_model[j] <= t_data[i] + delta_ms) {
            nc++;
            j++;
        }
    }
    out->n_data = n_data;
    out->n_model = n_model;
    out->n_coinc = nc;
    out->delta_ms = delta_ms;
    if (n_data == 0 && n_model == 0) {
        out->gamma = 1; /* both silent: a perfect prediction */
        return NM_OK;
    }
    double expected = 2.0 * nu * delta_ms * (double)n_data;
    out->gamma = ((double)nc - expected) / (0.5 * (double)(n_data + n_model)) / norm;
    return NM_OK;
}
