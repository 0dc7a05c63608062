/* predict.c -- a learned model under recorded input (issue 11): the map is
 * started from the encoder's state of the series' first delay vector and
 * driven by the series' input; its decoded V is compared with the recorded V
 * spike by spike (coincidence factor), after input steps (first-spike
 * latency) and below threshold (V error). */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nm_predict_opts_default(nm_predict_opts *o)
{
    memset(o, 0, sizeof *o);
    o->p = NAN;
    o->delta_ms = 2.0;
    o->hysteresis_mv = 2.0;
    o->step_frac = 0.25;
    o->spike_exclusion_ms = 5.0;
}

void nm_predict_result_free(nm_predict_result *r)
{
    if (!r) return;
    free(r->v_data);
    free(r->v_model);
    free(r->u);
    free(r->spikes_data);
    free(r->spikes_model);
    free(r->step_t_ms);
    free(r->latency_data_ms);
    free(r->latency_model_ms);
    free(r);
}

/* First spike time in [t0, t1) minus t0, or NaN. */
static double first_after(const double *t, size_t n, double t0, double t1)
{
    for (size_t i = 0; i < n; i++)
        if (t[i] >= t0) return t[i] < t1 ? t[i] - t0 : NAN;
    return NAN;
}

/* Input steps: upward jumps between consecutive samples of at least
 * step_frac of the input's range. */
static nm_status find_steps(nm_predict_result *r, double frac)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < r->n; i++) {
        lo = fmin(lo, r->u[i]);
        hi = fmax(hi, r->u[i]);
    }
    double jump = frac * (hi - lo);
    size_t cap = 0;
    for (size_t i = 1; i < r->n; i++) cap += jump > 0 && r->u[i] - r->u[i - 1] >= jump;
    if (!cap) return NM_OK;
    r->step_t_ms = nm_malloc(cap * sizeof *r->step_t_ms);
    r->latency_data_ms = nm_malloc(cap * sizeof *r->latency_data_ms);
    r->latency_model_ms = nm_malloc(cap * sizeof *r->latency_model_ms);
    if (!r->step_t_ms || !r->latency_data_ms || !r->latency_model_ms) return NM_ENOMEM;
    for (size_t i = 1; i < r->n; i++)
        if (r->u[i] - r->u[i - 1] >= jump) r->step_t_ms[r->nsteps_input++] = r->t0_ms + ((double)i - 0.5) * r->dt_ms;
    double tend = r->t0_ms + (double)r->n * r->dt_ms;
    double sum = 0;
    for (size_t k = 0; k < r->nsteps_input; k++) {
        double a = r->step_t_ms[k], b = k + 1 < r->nsteps_input ? r->step_t_ms[k + 1] : tend;
        double ld = first_after(r->spikes_data, r->nspikes_data, a, b);
        double lm = first_after(r->spikes_model, r->nspikes_model, a, b);
        r->latency_data_ms[k] = ld;
        r->latency_model_ms[k] = lm;
        if (isnan(ld) != isnan(lm)) r->latency_missed++;
        if (!isnan(ld) && !isnan(lm)) {
            double e = fabs(ld - lm);
            sum += e;
            r->latency_max_err_ms = fmax(r->latency_max_err_ms, e);
            r->latency_n++;
        }
    }
    r->latency_mean_err_ms = r->latency_n ? sum / (double)r->latency_n : NAN;
    if (!r->latency_n) r->latency_max_err_ms = NAN;
    return NM_OK;
}

/* RMS V difference over samples away from every spike of either train and
 * below threshold in both. */
static void subthreshold_error(nm_predict_result *r, double thr, double excl)
{
    double se = 0;
    size_t n = 0, a = 0, b = 0;
    for (size_t i = 0; i < r->n; i++) {
        double t = r->t0_ms + (double)i * r->dt_ms;
        while (a < r->nspikes_data && r->spikes_data[a] < t - excl) a++;
        while (b < r->nspikes_model && r->spikes_model[b] < t - excl) b++;
        int near = (a < r->nspikes_data && r->spikes_data[a] <= t + excl) ||
                   (b < r->nspikes_model && r->spikes_model[b] <= t + excl);
        if (near || r->v_data[i] >= thr || r->v_model[i] >= thr) continue;
        double e = r->v_model[i] - r->v_data[i];
        se += e * e;
        n++;
    }
    r->sub_samples = n;
    r->sub_rmse_mv = n ? sqrt(se / (double)n) : NAN;
}

nm_status nm_predict(const nm_learned *m, const nm_series *s, const nm_predict_opts *opts, nm_predict_result **out)
{
    if (!out) return nm_fail(NM_EINVAL, "predict: NULL output");
    *out = NULL;
    if (!m || !s) return nm_fail(NM_EINVAL, "predict: NULL model or series");
    nm_predict_opts def;
    if (!opts) {
        nm_predict_opts_default(&def);
        opts = &def;
    }
    if (!(opts->delta_ms > 0) || !isfinite(opts->delta_ms))
        return nm_fail(NM_EINVAL, "predict: the coincidence window %g ms must be finite and > 0", opts->delta_ms);
    if (!(opts->hysteresis_mv >= 0) || !isfinite(opts->hysteresis_mv))
        return nm_fail(NM_EINVAL, "predict: hysteresis %g mV must be finite and >= 0", opts->hysteresis_mv);
    if (!(opts->step_frac > 0 && opts->step_frac <= 1))
        return nm_fail(NM_EINVAL, "predict: step_frac %g must be in (0, 1]", opts->step_frac);
    if (!(opts->spike_exclusion_ms >= 0) || !isfinite(opts->spike_exclusion_ms))
        return nm_fail(NM_EINVAL, "predict: spike exclusion %g ms must be finite and >= 0", opts->spike_exclusion_ms);
    if (!isnan(opts->p) && !isfinite(opts->p)) return nm_fail(NM_EINVAL, "predict: p is not finite");
    int has_in = nm_learned_has_input(m);
    if (has_in && !s->u)
        return nm_fail(NM_EINVAL,
                       "predict: the series has no input column, but the model was trained with input in %s "
                       "(CSV header t_ms,V_mV,I_<unit>, docs/input.md)",
                       nm_learned_input_unit(m));
    if (has_in && strcmp(s->u_unit, nm_learned_input_unit(m)) != 0)
        return nm_fail(NM_EINVAL, "predict: the series' input is in '%s' but the model was trained with '%s'",
                       s->u_unit, nm_learned_input_unit(m));
    double p = opts->p;
    if (isnan(p)) {
        double lo, hi;
        nm_learned_p_range(m, &lo, &hi);
        p = 0.5 * (lo + hi);
    }

    /* The series at the map's step. */
    size_t factor;
    nm_status st = nm_resample_factor(s->dt_ms, nm_learned_dt_ms(m), &factor);
    if (st) return nm_fail_prefix(st, "predict: the series' step %g ms cannot become the model's %g ms", s->dt_ms,
                                  nm_learned_dt_ms(m));
    nm_series *rs = NULL;
    if ((st = nm_series_resample(s, factor, &rs))) return st;
    const nm_vae *vae = nm_learned_vae(m);
    size_t De = nm_vae_embedding_len(vae);
    nm_predict_result *r = NULL;
    double *mu = NULL, *u = NULL;
    size_t rows = 0;
    if (rs->n < De + 2) {
        st = nm_fail(NM_EDATA, "predict: the series has %zu samples at the model's step %g ms; at least %zu (De + 2) "
                     "are needed", rs->n, rs->dt_ms, De + 2);
        goto done;
    }
    /* Only the first delay vector's state is needed: encode the first De samples. */
    {
        nm_series head = *rs;
        head.n = De;
        head.u = NULL;
        head.states = NULL;
        head.nstates = 0;
        if ((st = nm_vae_encode(vae, &head, &mu, &rows))) goto done;
    }
    size_t j0 = De - 1, nsteps = rs->n - De; /* steps from sample j0 to j0 + nsteps */
    r = nm_calloc(1, sizeof *r);
    u = nm_malloc(nsteps * sizeof *u);
    if (!r || !u) {
        st = NM_ENOMEM;
        goto done;
    }
    r->n = nsteps;
    r->dt_ms = rs->dt_ms;
    r->t0_ms = rs->t0_ms + (double)(j0 + 1) * rs->dt_ms;
    r->p = p;
    r->delta_ms = opts->delta_ms;
    r->v_data = nm_malloc(nsteps * sizeof *r->v_data);
    r->v_model = nm_malloc(nsteps * sizeof *r->v_model);
    r->u = nm_malloc(nsteps * sizeof *r->u);
    if (!r->v_data || !r->v_model || !r->u) {
        st = NM_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < nsteps; k++) {
        size_t j = j0 + k;
        /* The input over the step from sample j to j + 1: the mean of the
         * two block means, as in training (learned.c). */
        u[k] = rs->u ? 0.5 * (rs->u[j] + rs->u[j + 1]) : 0;
        r->u[k] = rs->u ? rs->u[j + 1] : 0;
        r->v_data[k] = rs->v[j + 1];
    }
    if ((st = nm_learned_run_u(m, p, u, mu, nsteps, r->v_model, NULL, &r->nclamped))) goto done;
    double thr = nm_learned_threshold_mv(m);
    if ((st = nm_spikes_detect_hyst(r->v_data, nsteps, r->dt_ms, r->t0_ms, thr, opts->hysteresis_mv, &r->spikes_data,
                                    &r->nspikes_data)) ||
        (st = nm_spikes_detect_hyst(r->v_model, nsteps, r->dt_ms, r->t0_ms, thr, opts->hysteresis_mv,
                                    &r->spikes_model, &r->nspikes_model)))
        goto done;
    double dur = (double)nsteps * r->dt_ms;
    if ((st = nm_coincidence_factor(r->spikes_data, r->nspikes_data, r->spikes_model, r->nspikes_model,
                                    opts->delta_ms, dur, &r->coincidence)))
        goto done;
    if ((st = find_steps(r, opts->step_frac))) goto done;
    subthreshold_error(r, thr, opts->spike_exclusion_ms);
    *out = r;
    r = NULL;
done:
    nm_series_free(rs);
    free(mu);
    free(u);
    nm_predict_result_free(r);
    return st;
}
