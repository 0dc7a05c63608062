/* input.c -- input-driven NEURON cells (issue 11; include/neuromap.h, "NEURON
 * plugin support"): the exactly integrated current synapse, the nA -> model
 * unit factor and the driven step.
 *
 * The mod files (mod/neuromap_cell.mod, mod/neuromap_clamp.mod) and the
 * offline reference (nm_plugin_syn_means, python/neuromap/runtime.py) call
 * these functions, so a NEURON cell and an offline driven run
 * (nm_learned_run_u) get the same inputs and states bit for bit. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { SYN_I = 0, SYN_T = 1, SYN_Q = 2 };

/* Bring the current and the charge from s[SYN_T] up to t (closed form). */
static void syn_advance(double *s, double tau, double t)
{
    double d = t - s[SYN_T];
    if (!(d > 0)) return;
    if (isinf(tau)) {
        s[SYN_Q] += s[SYN_I] * d;
    } else {
        /* integral of i exp(-u/tau) over [0, d] = i tau (1 - exp(-d/tau)) */
        s[SYN_Q] += s[SYN_I] * (-tau * expm1(-d / tau));
        s[SYN_I] *= exp(-d / tau);
    }
    s[SYN_T] = t;
}

nm_status nm_plugin_syn_init(double *s, double t_ms)
{
    if (!s) return nm_fail(NM_EINVAL, "synapse: NULL state");
    if (!isfinite(t_ms)) return nm_fail(NM_EINVAL, "synapse: the time is not finite (%g)", t_ms);
    s[SYN_I] = 0;
    s[SYN_T] = t_ms;
    s[SYN_Q] = 0;
    return NM_OK;
}

static nm_status check_tau(double tau)
{
    if (!(tau > 0))
        return nm_fail(NM_EINVAL, "synapse: tau_syn = %g ms: it must be > 0 (+inf: a constant current)", tau);
    return NM_OK;
}

nm_status nm_plugin_syn_event(double *s, double tau_ms, double t_ms, double w_na)
{
    if (!s) return nm_fail(NM_EINVAL, "synapse: NULL state");
    if (w_na == 0) return NM_OK;
    nm_status st = check_tau(tau_ms);
    if (st) return st;
    if (!isfinite(w_na))
        return nm_fail(NM_EINVAL, "synapse: the weight wi = %g nA at t = %g ms is not finite", w_na, t_ms);
    if (!isfinite(t_ms)) return nm_fail(NM_EINVAL, "synapse: the event time is not finite (%g)", t_ms);
    syn_advance(s, tau_ms, t_ms);
    s[SYN_I] += w_na;
    return NM_OK;
}

nm_status nm_plugin_syn_mean(double *s, double tau_ms, double t_ms, double dt_ms, double ibias_na,
                             double *mean_na)
{
    if (!s || !mean_na) return nm_fail(NM_EINVAL, "synapse: NULL argument");
    nm_status st = check_tau(tau_ms);
    if (st) return st;
    if (!(dt_ms > 0) || !isfinite(dt_ms))
        return nm_fail(NM_EINVAL, "synapse: the step dt = %g ms must be > 0 and finite", dt_ms);
    if (!isfinite(ibias_na)) return nm_fail(NM_EINVAL, "synapse: ibias = %g nA is not finite", ibias_na);
    if (!isfinite(t_ms)) return nm_fail(NM_EINVAL, "synapse: the time is not finite (%g)", t_ms);
    double save[NM_PLUGIN_SYN_SIZE];
    memcpy(save, s, sizeof save);
    syn_advance(s, tau_ms, t_ms);
    double mean = s[SYN_Q] / dt_ms + ibias_na;
    if (!isfinite(mean)) {
        memcpy(s, save, sizeof save);
        return nm_fail(NM_EINVAL, "synapse: the mean input current over the step ending at t = %g ms is not "
                       "finite (%g nA)", t_ms, mean);
    }
    s[SYN_Q] = 0;
    *mean_na = mean;
    return NM_OK;
}

nm_status nm_plugin_syn_means(double tau_ms, double ibias_na, double t0_ms, double dt_ms, const double *tev_ms,
                              const double *wev_na, size_t nev, size_t nsteps, double *mean_na)
{
    if ((nev && (!tev_ms || !wev_na)) || (nsteps && !mean_na))
        return nm_fail(NM_EINVAL, "synapse means: NULL argument");
    for (size_t j = 0; j < nev; j++) {
        if (!isfinite(tev_ms[j])) return nm_fail(NM_EINVAL, "synapse means: event %zu: time not finite", j);
        if (j && tev_ms[j] < tev_ms[j - 1])
            return nm_fail(NM_EINVAL, "synapse means: event times must be sorted (event %zu at %g ms before "
                           "event %zu at %g ms)", j, tev_ms[j], j - 1, tev_ms[j - 1]);
    }
    double s[NM_PLUGIN_SYN_SIZE];
    nm_status st = nm_plugin_syn_init(s, t0_ms);
    if (st) return st;
    size_t j = 0;
    for (size_t k = 1; k <= nsteps; k++) {
        /* the cells' step time: tstart + (nstep + 1)*dt_map */
        double tk = t0_ms + (double)k * dt_ms;
        for (; j < nev && tev_ms[j] < tk; j++) {
            /* events before t0 count at t0 (as a cell that starts later) */
            if ((st = nm_plugin_syn_event(s, tau_ms, tev_ms[j], wev_na[j])))
                return nm_fail_prefix(st, "synapse means: event %zu", j);
        }
        if ((st = nm_plugin_syn_mean(s, tau_ms, tk, dt_ms, ibias_na, &mean_na[k - 1])))
            return nm_fail_prefix(st, "synapse means: step %zu", k);
    }
    return NM_OK;
}

nm_status nm_plugin_unit_factor(const char *unit, double area_um2, double *factor)
{
    if (!unit || !factor) return nm_fail(NM_EINVAL, "input factor: NULL argument");
    const char *u = nm_input_unit_canonical(unit);
    if (!*unit) {
        *factor = 0;
        return NM_OK;
    }
    if (!u) return nm_fail(NM_EINVAL, "input factor: unknown input unit '%s'", unit);
    int per_area = !strcmp(u, "uA/cm2") || !strcmp(u, "mA/cm2");
    if (per_area && (!(area_um2 > 0) || !isfinite(area_um2)))
        return nm_fail(NM_EINVAL, "the model's input is in %s: set the membrane area area_um2 (um2, > 0; got "
                       "%g) to convert the cell's nA", u, area_um2);
    if (!strcmp(u, "nA") || !strcmp(u, "1")) *factor = 1;
    else if (!strcmp(u, "pA")) *factor = 1000;
    else if (!strcmp(u, "uA")) *factor = 1e-3;
    /* 1 nA = 1e-3 uA over area*1e-8 cm2 = 1e5/area uA/cm2 = 100/area mA/cm2 */
    else if (!strcmp(u, "uA/cm2")) *factor = 1e5 / area_um2;
    else if (!strcmp(u, "mA/cm2")) *factor = 100 / area_um2;
    else return nm_fail(NM_EINVAL, "input factor: no conversion from nA to '%s'", u);
    return NM_OK;
}

static nm_status get_model(int handle, const char *what, const nm_learned **m)
{
    *m = nm_plugin_get(handle);
    if (!*m) return nm_fail(NM_EINVAL, "%s: %d is not the handle of a loaded model", what, handle);
    return NM_OK;
}

nm_status nm_plugin_input_factor(int handle, double area_um2, double *factor)
{
    const nm_learned *m;
    nm_status st = get_model(handle, "plugin input factor", &m);
    if (st) return st;
    if (!nm_learned_has_input(m)) {
        if (factor) *factor = 0;
        return NM_OK;
    }
    return nm_plugin_unit_factor(nm_learned_input_unit(m), area_um2, factor);
}

nm_status nm_plugin_input_info(int handle, int *has_input, double *umin, double *umax, char *unit,
                               size_t nunit)
{
    const nm_learned *m;
    nm_status st = get_model(handle, "plugin input info", &m);
    if (st) return st;
    int has = nm_learned_has_input(m);
    if (has_input) *has_input = has;
    nm_learned_input_range(m, umin, umax);
    if (unit && nunit) snprintf(unit, nunit, "%s", has ? nm_learned_input_unit(m) : "");
    return NM_OK;
}

nm_status nm_plugin_step_u(int handle, double p, double u, double *x, double *v, double *u_used,
                           int *clamped)
{
    const nm_learned *m;
    nm_status st = get_model(handle, "plugin step", &m);
    if (st) return st;
    if (!x) return nm_fail(NM_EINVAL, "plugin step: NULL state");
    if (u_used) *u_used = 0;
    if (clamped) *clamped = 0;
    if (!nm_learned_has_input(m)) return nm_plugin_step(handle, p, x, v);
    if (!isfinite(u)) return nm_fail(NM_EINVAL, "plugin step: the input u is not finite (%g)", u);
    int c = 0;
    double uc = nm_learned_clamp_input(m, u, &c);
    /* Through a copy: on failure the caller's state stays as it was. */
    double next[NM_PLUGIN_MAX_DIM];
    if ((st = nm_learned_step_u(m, p, uc, x, next))) return st;
    double vn = nm_learned_decode_v(m, next);
    if (!isfinite(vn))
        return nm_fail(NM_ENUMERIC, "plugin step at p = %g, u = %g: the decoded V is not finite", p, uc);
    memcpy(x, next, nm_learned_dim(m) * sizeof *x);
    if (v) *v = vn;
    if (u_used) *u_used = uc;
    if (clamped) *clamped = c;
    return NM_OK;
}
