/* simulate.c -- integrate a ground-truth model with GSL odeiv2 and sample it
 * on a uniform grid.
 *
 * The integrator steps adaptively; each sample time is hit exactly (the step
 * that would cross it is shortened; GSL keeps the longer suggested step for
 * the next interval), so samples carry the full integrator accuracy and no
 * interpolation error. */
#include "model.h"

#include "rng.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tolerance limits: below 1e-14 relative the error control asks for less
 * than double rounding and the step size collapses; above 0.1 the error
 * control no longer means anything. */
#define NM_SIM_RTOL_MIN 1e-14
#define NM_SIM_RTOL_MAX 0.1
/* At most this many output samples (8 GB of V alone): a guard against a
 * mistyped dt, not a real limit. */
#define NM_SIM_MAX_SAMPLES ((size_t)1 << 30)
/* |V| beyond this (mV) is divergence, not physiology. */
#define NM_SIM_VMAX_MV 1e4
/* First trial step (ms): shorter than the fastest time scale of either model
 * (HH m gate ~0.1 ms); the error control lengthens it at once. */
#define NM_SIM_H0_MS 1e-2
/* Steps allowed per ms of model time (so an average step of at least 1 us):
 * SRK needs ~0.3/ms and HH at 6.3 degC ~10/ms; more means the solution has
 * become too stiff for the stepper or is blowing up. */
#define NM_SIM_MAX_STEPS_PER_MS 1000.0
#define NM_SIM_MIN_STEPS 100000.0

void nm_sim_opts_default(nm_sim_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    /* The design's SRK protocol: 20 s transient dropped, 60 s recorded,
     * sampled every 5 ms (a spike lasts ~70 ms). */
    o->duration_ms = 60000.0;
    o->dt_ms = 5.0;
    o->transient_ms = 20000.0;
    o->y0 = NULL;
    o->noise_mv = 0.0;
    o->noise_tau_ms = 0.0;
    o->seed = 1;
    /* rtol 1e-8 / atol 1e-10 with RK8PD: spike times within 2e-5 ms of an
     * rtol 1e-12 run over 60 s, at ~10% more cost than rtol 1e-6
     * (docs/models.md); the design's reference table was made at 1e-8. */
    o->rtol = 1e-8;
    o->atol = 1e-10;
    o->record_states = 0;
    o->method = NM_SIM_RK8PD;
    /* No injected current (issue 11). */
    o->input = NULL;
    o->ninput = 0;
    o->input_seed = 1;
}

void nm_model_sim_opts_default(const nm_model *m, nm_sim_opts *o)
{
    if (!o) return;
    nm_sim_opts_default(o);
    if (!m) return;
    o->transient_ms = m->type->sim_transient_ms;
    o->duration_ms = m->type->sim_duration_ms;
    o->dt_ms = m->type->sim_dt_ms;
}

static const char *input_kind_name(nm_input_kind k)
{
    switch (k) {
    case NM_INPUT_STEP: return "step";
    case NM_INPUT_RAMP: return "ramp";
    case NM_INPUT_OU: return "ou";
    case NM_INPUT_POISSON: return "poisson";
    case NM_INPUT_SYN: return "syn";
    }
    return "?";
}

/* One component of an input protocol (k: its index, for messages). */
static nm_status input_check(const nm_input *c, size_t k)
{
    const double A = NM_INPUT_MAX_ABS;
    const char *kn = input_kind_name(c->kind);
    if (c->kind < NM_INPUT_STEP || c->kind > NM_INPUT_SYN)
        return nm_fail(NM_EINVAL, "simulate: input %zu: unknown kind %d", k, (int)c->kind);
    if (c->kind == NM_INPUT_STEP || c->kind == NM_INPUT_RAMP) {
        if (!isfinite(c->t0_ms) || !isfinite(c->t1_ms))
            return nm_fail(NM_EINVAL, "simulate: input %zu (%s): t0_ms and t1_ms must be finite (got %g, %g)",
                           k, kn, c->t0_ms, c->t1_ms);
        if (c->kind == NM_INPUT_RAMP && !(c->t1_ms > c->t0_ms))
            return nm_fail(NM_EINVAL, "simulate: input %zu (ramp): t1_ms (%g) must be > t0_ms (%g)", k, c->t1_ms,
                           c->t0_ms);
    }
    if (!isfinite(c->amp) || fabs(c->amp) > A)
        return nm_fail(NM_EINVAL, "simulate: input %zu (%s): amplitude must be finite with |amp| <= %g (got %g)",
                       k, kn, A, c->amp);
    if (c->kind == NM_INPUT_RAMP && (!isfinite(c->amp1) || fabs(c->amp1) > A))
        return nm_fail(NM_EINVAL, "simulate: input %zu (ramp): end amplitude must be finite with |amp1| <= %g "
                       "(got %g)", k, A, c->amp1);
    if (c->kind == NM_INPUT_OU && (!isfinite(c->sd) || c->sd < 0 || c->sd > A))
        return nm_fail(NM_EINVAL, "simulate: input %zu (ou): sd must be in [0, %g] (got %g)", k, A, c->sd);
    if (c->kind == NM_INPUT_OU || c->kind == NM_INPUT_POISSON || c->kind == NM_INPUT_SYN) {
        if (!isfinite(c->tau_ms) || !(c->tau_ms > 0))
            return nm_fail(NM_EINVAL, "simulate: input %zu (%s): tau_ms must be finite and > 0 (got %g)", k, kn,
                           c->tau_ms);
    }
    if (c->kind == NM_INPUT_POISSON || c->kind == NM_INPUT_SYN) {
        if (!isfinite(c->rate_hz) || c->rate_hz < 0 || c->rate_hz > NM_INPUT_MAX_RATE_HZ)
            return nm_fail(NM_EINVAL, "simulate: input %zu (%s): rate_hz must be in [0, %g] (got %g)", k, kn,
                           NM_INPUT_MAX_RATE_HZ, c->rate_hz);
    }
    if (c->kind == NM_INPUT_SYN) {
        if (c->amp < 0)
            return nm_fail(NM_EINVAL, "simulate: input %zu (syn): the conductance weight must be >= 0 (got %g)",
                           k, c->amp);
        if (!isfinite(c->erev_mv) || fabs(c->erev_mv) > NM_SIM_VMAX_MV)
            return nm_fail(NM_EINVAL, "simulate: input %zu (syn): erev_mv must be finite with |E| <= %g mV "
                           "(got %g)", k, NM_SIM_VMAX_MV, c->erev_mv);
    }
    return NM_OK;
}

nm_status nm_sim_opts_check(const nm_model *m, const nm_sim_opts *o)
{
    if (!m) return nm_fail(NM_EINVAL, "simulate: model is NULL");
    if (!o) return nm_fail(NM_EINVAL, "simulate: options are NULL");
    if (!isfinite(o->duration_ms) || !(o->duration_ms > 0))
        return nm_fail(NM_EINVAL, "simulate: duration_ms must be finite and > 0 (got %g)",
                       o->duration_ms);
    if (!isfinite(o->dt_ms) || !(o->dt_ms > 0))
        return nm_fail(NM_EINVAL, "simulate: dt_ms must be finite and > 0 (got %g)", o->dt_ms);
    if (o->dt_ms > o->duration_ms)
        return nm_fail(NM_EINVAL, "simulate: dt_ms (%g) must not exceed duration_ms (%g)", o->dt_ms,
                       o->duration_ms);
    if (o->duration_ms / o->dt_ms >= (double)NM_SIM_MAX_SAMPLES)
        return nm_fail(NM_EINVAL, "simulate: duration_ms/dt_ms = %g samples is too many (max %zu)",
                       o->duration_ms / o->dt_ms, NM_SIM_MAX_SAMPLES);
    if (!isfinite(o->transient_ms) || o->transient_ms < 0)
        return nm_fail(NM_EINVAL, "simulate: transient_ms must be finite and >= 0 (got %g)",
                       o->transient_ms);
    if (!isfinite(o->transient_ms + o->duration_ms))
        return nm_fail(NM_EINVAL, "simulate: transient_ms + duration_ms overflows");
    if (!isfinite(o->noise_mv) || o->noise_mv < 0)
        return nm_fail(NM_EINVAL, "simulate: noise_mv must be finite and >= 0 (got %g)", o->noise_mv);
    if (!isfinite(o->noise_tau_ms) || o->noise_tau_ms < 0)
        return nm_fail(NM_EINVAL, "simulate: noise_tau_ms must be finite and >= 0 (got %g)",
                       o->noise_tau_ms);
    if (!isfinite(o->rtol) || o->rtol < NM_SIM_RTOL_MIN || o->rtol > NM_SIM_RTOL_MAX)
        return nm_fail(NM_EINVAL, "simulate: rtol must be in [%g, %g] (got %g)", NM_SIM_RTOL_MIN,
                       NM_SIM_RTOL_MAX, o->rtol);
    /* atol = 0 would make the error target vanish where a state crosses 0. */
    if (!isfinite(o->atol) || !(o->atol > 0))
        return nm_fail(NM_EINVAL, "simulate: atol must be finite and > 0 (got %g)", o->atol);
    if (o->method != NM_SIM_RK8PD && o->method != NM_SIM_MSBDF)
        return nm_fail(NM_EINVAL, "simulate: unknown method %d", (int)o->method);
    if (o->ninput) {
        if (!o->input)
            return nm_fail(NM_EINVAL, "simulate: ninput = %zu but the input list is NULL", o->ninput);
        if (o->ninput > NM_INPUT_MAX_COMPONENTS)
            return nm_fail(NM_EINVAL, "simulate: %zu input components, at most %d", o->ninput,
                           NM_INPUT_MAX_COMPONENTS);
        if (!m->type->input_gain || !m->type->input_unit)
            return nm_fail(NM_EINVAL, "simulate: model %s takes no injected current", m->type->name);
        for (size_t k = 0; k < o->ninput; k++) {
            nm_status st = input_check(&o->input[k], k);
            if (st) return st;
        }
    }
    if (o->y0) {
        for (size_t i = 0; i < m->type->nstates; i++)
            if (!isfinite(o->y0[i]))
                return nm_fail(NM_EINVAL, "simulate: initial state %s = %g is not finite",
                               m->type->state_names[i], o->y0[i]);
        if (fabs(o->y0[0]) > NM_SIM_VMAX_MV)
            return nm_fail(NM_EINVAL, "simulate: initial V = %g mV is out of range (|V| <= %g)",
                           o->y0[0], NM_SIM_VMAX_MV);
    }
    return NM_OK;
}

static const gsl_odeiv2_step_type *stepper(nm_sim_method method)
{
    switch (method) {
    case NM_SIM_MSBDF: return gsl_odeiv2_step_msbdf;
    case NM_SIM_RK8PD: break;
    }
    return gsl_odeiv2_step_rk8pd;
}

/* Measurement noise on V.  Coloured noise: the Ornstein-Uhlenbeck process
 * sampled exactly, e_i = a e_(i-1) + sd sqrt(1 - a^2) g_i with
 * a = exp(-dt/tau), started from its stationary law (e_0 = sd g_0), so every
 * sample has SD sd and lag-k autocorrelation a^k.  White noise (tau = 0) is
 * e_i = sd g_i; none (sd = 0) is 0. */
typedef struct noise_gen {
    nm_rng rng;
    double sd, a, b, e;
    int coloured;
} noise_gen;

static void noise_init(noise_gen *g, const nm_sim_opts *o)
{
    nm_rng_seed(&g->rng, o->seed);
    g->sd = o->noise_mv;
    g->coloured = o->noise_mv > 0 && o->noise_tau_ms > 0;
    g->a = g->coloured ? exp(-o->dt_ms / o->noise_tau_ms) : 0.0;
    g->b = g->coloured ? o->noise_mv * sqrt(-expm1(-2.0 * o->dt_ms / o->noise_tau_ms)) : 0.0;
    g->e = 0.0;
}

/* The noise of sample i (called for i = 0, 1, ... in order). */
static double noise_next(noise_gen *g, size_t i)
{
    if (g->coloured)
        g->e = i == 0 ? g->sd * nm_rng_gauss(&g->rng) : g->a * g->e + g->b * nm_rng_gauss(&g->rng);
    else if (g->sd > 0)
        g->e = g->sd * nm_rng_gauss(&g->rng);
    return g->e;
}

/* The state of one integration. */
typedef struct integ {
    gsl_odeiv2_system sys;
    gsl_odeiv2_driver *d;
    const nm_model_type *type;
    double h;     /* current step suggestion (ms) */
    double t;     /* current time (ms) */
    double *y;    /* [nstates] */
} integ;

/* Advance from it->t to exactly t1 (>= it->t). */
static nm_status advance(integ *it, double t1)
{
    const double span = t1 - it->t;
    const double max_steps = NM_SIM_MIN_STEPS + NM_SIM_MAX_STEPS_PER_MS * span;
    double steps = 0;
    while (it->t < t1) {
        int st = gsl_odeiv2_evolve_apply(it->d->e, it->d->c, it->d->s, &it->sys, &it->t, t1, &it->h,
                                         it->y);
        if (st == GSL_EBADFUNC || !nm_all_finite(it->y, it->type->nstates))
            return nm_fail(NM_ENUMERIC, "%s: the solution became non-finite near t = %g ms",
                           it->type->name, it->t);
        if (st != GSL_SUCCESS)
            return nm_fail(NM_ENUMERIC,
                           "%s: the integrator failed at t = %g ms (GSL status %d: %s; step %g ms)",
                           it->type->name, it->t, st, gsl_strerror(st), it->h);
        if (fabs(it->y[0]) > NM_SIM_VMAX_MV)
            return nm_fail(NM_ENUMERIC, "%s: the solution diverged (V = %g mV at t = %g ms)",
                           it->type->name, it->y[0], it->t);
        if (++steps > max_steps)
            return nm_fail(NM_ENUMERIC,
                           "%s: more than %.0f integrator steps for %g ms of model time at t = %g ms "
                           "(step %g ms): too stiff for this method or tolerance",
                           it->type->name, max_steps, span, it->t, it->h);
    }
    return NM_OK;
}

/* ------------------------------------------------------------------------ */
/* Injected current (issue 11; docs/input.md)                                */
/* ------------------------------------------------------------------------ */

/* The protocol's state.  Between two breakpoints (a step edge, an OU update,
 * a synaptic event) the current is a smooth function of t (and of V for
 * conductance synapses): the integrator runs segment by segment and never
 * steps across a breakpoint.  x[k] is component k's value at the start ta
 * of the current segment: STEP level, RAMP on (1) / off (0), OU value,
 * POISSON current, SYN conductance. */
typedef struct inp {
    const nm_input *c;
    size_t nc;
    double *x;       /* [nc] */
    double *next;    /* [nc] next breakpoint of component k (ms), INFINITY if none */
    double *tlast;   /* [nc] OU: time of the last update */
    int *phase;      /* [nc] STEP/RAMP: 0 before t0, 1 on, 2 after */
    nm_rng *rng;     /* [nc] one stream per component */
    double ta;       /* start of the current segment (ms) */
    double gain;     /* dV/dt (mV/ms) per unit of current */
    double grid_t0, grid_dt; /* the sample grid (OU updates) */
} inp;

/* The first sample-grid time grid_t0 + j grid_dt strictly after t (the same
 * expression as the sample times, so the two coincide exactly). */
static double grid_next(const inp *s, double t)
{
    double j = floor((t - s->grid_t0) / s->grid_dt) + 1.0;
    while (s->grid_t0 + (j - 1.0) * s->grid_dt > t) j -= 1.0;
    while (s->grid_t0 + j * s->grid_dt <= t) j += 1.0;
    return s->grid_t0 + j * s->grid_dt;
}

/* Exponential waiting time (ms) of a Poisson process of rate_hz. */
static double poisson_wait(nm_rng *r, double rate_hz)
{
    if (!(rate_hz > 0)) return INFINITY;
    return -log1p(-nm_rng_uniform(r)) * 1000.0 / rate_hz;
}

/* The injected current at time t in the current segment and membrane
 * potential V; optionally its derivatives d/dV and d/dt (for the Jacobian). */
static double inp_current(const inp *s, double t, double V, double *dIdV, double *dIdt)
{
    double I = 0, dv = 0, dt = 0;
    for (size_t k = 0; k < s->nc; k++) {
        const nm_input *c = &s->c[k];
        switch (c->kind) {
        case NM_INPUT_STEP:
        case NM_INPUT_OU: I += s->x[k]; break;
        case NM_INPUT_RAMP:
            if (s->x[k] != 0) {
                const double slope = (c->amp1 - c->amp) / (c->t1_ms - c->t0_ms);
                I += c->amp + slope * (t - c->t0_ms);
                dt += slope;
            }
            break;
        case NM_INPUT_POISSON: {
            const double e = s->x[k] * exp(-(t - s->ta) / c->tau_ms);
            I += e;
            dt -= e / c->tau_ms;
            break;
        }
        case NM_INPUT_SYN: {
            const double g = s->x[k] * exp(-(t - s->ta) / c->tau_ms);
            I += g * (c->erev_mv - V);
            dv -= g;
            dt -= g / c->tau_ms * (c->erev_mv - V);
            break;
        }
        }
    }
    if (dIdV) *dIdV = dv;
    if (dIdt) *dIdt = dt;
    return I;
}

/* Move the segment start to t (decaying the synaptic components exactly)
 * and apply every breakpoint at or before t.  Returns 1 if the current
 * jumped (the integrator must then restart). */
static int inp_advance_to(inp *s, double t)
{
    int jump = 0;
    for (size_t k = 0; k < s->nc; k++) {
        const nm_input *c = &s->c[k];
        if ((c->kind == NM_INPUT_POISSON || c->kind == NM_INPUT_SYN) && t != s->ta)
            s->x[k] *= exp(-(t - s->ta) / c->tau_ms);
        while (s->next[k] <= t) {
            jump = 1;
            switch (c->kind) {
            case NM_INPUT_STEP:
            case NM_INPUT_RAMP:
                if (s->phase[k] == 0) {
                    s->phase[k] = 1;
                    s->x[k] = c->kind == NM_INPUT_STEP ? c->amp : 1.0;
                    s->next[k] = c->t1_ms > c->t0_ms ? c->t1_ms : INFINITY;
                } else {
                    s->phase[k] = 2;
                    s->x[k] = 0.0;
                    s->next[k] = INFINITY;
                }
                break;
            case NM_INPUT_OU: {
                /* exact update over the elapsed time h: mean + a (x - mean) + sd sqrt(1 - a^2) g */
                const double h = s->next[k] - s->tlast[k];
                const double a = exp(-h / c->tau_ms);
                s->x[k] = c->amp + a * (s->x[k] - c->amp) +
                          c->sd * sqrt(-expm1(-2.0 * h / c->tau_ms)) * nm_rng_gauss(&s->rng[k]);
                s->tlast[k] = s->next[k];
                s->next[k] = grid_next(s, s->next[k]);
                break;
            }
            case NM_INPUT_POISSON:
            case NM_INPUT_SYN:
                /* an event at next[k] <= t: its weight has decayed by t - next[k]
                 * (0 unless several events fall in one breakpoint's rounding) */
                s->x[k] += c->amp * exp(-(t - s->next[k]) / c->tau_ms);
                s->next[k] += poisson_wait(&s->rng[k], c->rate_hz);
                break;
            }
        }
    }
    s->ta = t;
    return jump;
}

static void inp_free(inp *s)
{
    free(s->x);
    free(s->next);
    free(s->tlast);
    free(s->phase);
    free(s->rng);
}

/* Start the protocol at t = 0: steps and ramps wait for t0, the OU value is
 * drawn from its stationary law, each Poisson train draws its first event;
 * then every breakpoint at t <= 0 is applied. */
static nm_status inp_init(inp *s, const nm_sim_opts *o, double gain)
{
    memset(s, 0, sizeof *s);
    const size_t nc = o->ninput;
    s->c = o->input;
    s->nc = nc;
    s->gain = gain;
    s->grid_t0 = o->transient_ms;
    s->grid_dt = o->dt_ms;
    s->x = nm_calloc(nc, sizeof *s->x);
    s->next = nm_calloc(nc, sizeof *s->next);
    s->tlast = nm_calloc(nc, sizeof *s->tlast);
    s->phase = nm_calloc(nc, sizeof *s->phase);
    s->rng = nm_calloc(nc, sizeof *s->rng);
    if (!s->x || !s->next || !s->tlast || !s->phase || !s->rng) {
        inp_free(s);
        return NM_ENOMEM;
    }
    for (size_t k = 0; k < nc; k++) {
        const nm_input *c = &s->c[k];
        /* Component k's stream: seeded (through splitmix64) from the input
         * seed and k, so adding a component does not change the others. */
        nm_rng_seed(&s->rng[k], o->input_seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(k + 1)));
        switch (c->kind) {
        case NM_INPUT_STEP:
        case NM_INPUT_RAMP: s->next[k] = c->t0_ms; break;
        case NM_INPUT_OU:
            s->x[k] = c->amp + c->sd * nm_rng_gauss(&s->rng[k]);
            s->tlast[k] = 0.0;
            s->next[k] = grid_next(s, 0.0);
            break;
        case NM_INPUT_POISSON:
        case NM_INPUT_SYN: s->next[k] = poisson_wait(&s->rng[k], c->rate_hz); break;
        }
    }
    inp_advance_to(s, 0.0);
    return NM_OK;
}

/* The model extended by the injected current and by its running integral
 * Q = y[ns] (the charge since the last sample, for the interval mean). */
typedef struct aug_sys {
    const nm_model_type *type;
    double *par;
    inp *in;
    double jbuf[NM_MODEL_MAX_STATES * NM_MODEL_MAX_STATES];
} aug_sys;

static int aug_rhs(double t, const double y[], double f[], void *params)
{
    aug_sys *a = params;
    int st = a->type->rhs(t, y, f, a->par);
    if (st != GSL_SUCCESS) return st;
    const double I = inp_current(a->in, t, y[0], NULL, NULL);
    f[0] += a->in->gain * I;
    f[a->type->nstates] = I;
    return GSL_SUCCESS;
}

static int aug_jac(double t, const double y[], double *J, double dfdt[], void *params)
{
    aug_sys *a = params;
    const size_t ns = a->type->nstates, m = ns + 1;
    int st = a->type->jac(t, y, a->jbuf, dfdt, a->par);
    if (st != GSL_SUCCESS) return st;
    double dIdV, dIdt;
    inp_current(a->in, t, y[0], &dIdV, &dIdt);
    for (size_t i = 0; i < ns; i++) {
        for (size_t j = 0; j < ns; j++) J[i * m + j] = a->jbuf[i * ns + j];
        J[i * m + ns] = 0.0;
    }
    J[0] += a->in->gain * dIdV;
    dfdt[0] += a->in->gain * dIdt;
    for (size_t j = 0; j < m; j++) J[ns * m + j] = 0.0;
    J[ns * m] = dIdV;
    dfdt[ns] = dIdt;
    return GSL_SUCCESS;
}

static nm_status simulate_input(const nm_model *m, const nm_sim_opts *o, size_t n, nm_series **out)
{
    const nm_model_type *type = m->type;
    const size_t ns = type->nstates;
    double par[NM_MODEL_MAX_PARAMS];
    memcpy(par, m->par, sizeof par);
    double y[NM_MODEL_MAX_STATES + 1];
    if (o->y0)
        memcpy(y, o->y0, ns * sizeof *y);
    else
        type->default_state(par, y);
    y[ns] = 0.0;

    nm_series *s = nm_series_alloc(n, o->record_states ? ns : 0);
    if (!s) return NM_ENOMEM;
    s->dt_ms = o->dt_ms;
    s->t0_ms = o->transient_ms;
    s->p = par[type->control];
    s->u = nm_calloc(n, sizeof *s->u);
    if (!s->u) {
        nm_series_free(s);
        return NM_ENOMEM;
    }
    snprintf(s->u_unit, sizeof s->u_unit, "%s", type->input_unit);

    inp in;
    nm_status st = inp_init(&in, o, type->input_gain(par));
    if (st) {
        nm_series_free(s);
        return st;
    }
    aug_sys a = {.type = type, .par = par, .in = &in};
    integ it = {.sys = {aug_rhs, aug_jac, ns + 1, &a}, .type = type, .h = NM_SIM_H0_MS, .t = 0.0, .y = y};
    if (it.h > o->dt_ms) it.h = o->dt_ms;
    it.d = gsl_odeiv2_driver_alloc_y_new(&it.sys, stepper(o->method), it.h, o->atol, o->rtol);
    if (!it.d) {
        inp_free(&in);
        nm_series_free(s);
        return nm_fail(NM_ENOMEM, "simulate: cannot allocate the GSL integrator");
    }

    noise_gen noise;
    noise_init(&noise, o);
    /* Stops: every breakpoint and every sample time t_i, i = 0..n (t_n only
     * closes the interval of u[n-1]).  At t_i the charge Q since t_(i-1)
     * gives u[i-1] and is reset. */
    size_t i = 0;
    double ts = o->transient_ms;
    while (i <= n) {
        double tnext = ts;
        for (size_t k = 0; k < in.nc; k++)
            if (in.next[k] < tnext) tnext = in.next[k];
        if (tnext > it.t) {
            st = advance(&it, tnext);
            if (st) break;
        }
        int restart = inp_advance_to(&in, tnext);
        if (tnext == ts) {
            if (i > 0) s->u[i - 1] = y[ns] / o->dt_ms;
            y[ns] = 0.0;
            restart = 1;
            if (i < n) {
                s->v[i] = y[0] + noise_next(&noise, i);
                if (s->states) memcpy(s->states + i * ns, y, ns * sizeof *y);
            }
            i++;
            ts = o->transient_ms + (double)i * o->dt_ms;
        }
        if (restart) {
            gsl_odeiv2_evolve_reset(it.d->e);
            gsl_odeiv2_step_reset(it.d->s);
        }
    }
    gsl_odeiv2_driver_free(it.d);
    inp_free(&in);
    if (st) {
        nm_series_free(s);
        return st;
    }
    *out = s;
    return NM_OK;
}

nm_status nm_simulate(const nm_model *m, const nm_sim_opts *o, nm_series **out)
{
    if (!out) return nm_fail(NM_EINVAL, "simulate: NULL output pointer");
    *out = NULL;
    nm_status st = nm_sim_opts_check(m, o);
    if (st) return st;

    const nm_model_type *type = m->type;
    const size_t ns = type->nstates;
    /* floor(duration/dt)+1 samples; the 1e-9 absorbs rounding in the
     * quotient (0.3/0.1 = 2.9999999999999996). */
    const size_t n = (size_t)floor(o->duration_ms / o->dt_ms + 1e-9) + 1;
    if (o->ninput) return simulate_input(m, o, n, out);

    /* Private copies: the model is only read here, once, so other threads may
     * use it concurrently. */
    double par[NM_MODEL_MAX_PARAMS];
    memcpy(par, m->par, sizeof par);
    double y[NM_MODEL_MAX_STATES];
    if (o->y0)
        memcpy(y, o->y0, ns * sizeof *y);
    else
        type->default_state(par, y);

    nm_series *s = nm_series_alloc(n, o->record_states ? ns : 0);
    if (!s) return NM_ENOMEM;
    s->dt_ms = o->dt_ms;
    s->t0_ms = o->transient_ms;
    s->p = par[type->control];

    integ it = {.sys = {type->rhs, type->jac, ns, par}, .type = type, .h = NM_SIM_H0_MS, .t = 0.0,
                .y = y};
    if (it.h > o->dt_ms) it.h = o->dt_ms;
    it.d = gsl_odeiv2_driver_alloc_y_new(&it.sys, stepper(o->method), it.h, o->atol, o->rtol);
    if (!it.d) {
        nm_series_free(s);
        return nm_fail(NM_ENOMEM, "simulate: cannot allocate the GSL integrator");
    }

    noise_gen noise;
    noise_init(&noise, o);
    st = advance(&it, o->transient_ms);
    for (size_t i = 0; i < n && !st; i++) {
        /* t_i by multiplication, not accumulation: no drift over 1e4+ samples. */
        st = advance(&it, o->transient_ms + (double)i * o->dt_ms);
        if (st) break;
        s->v[i] = y[0] + noise_next(&noise, i);
        if (s->states) memcpy(s->states + i * ns, y, ns * sizeof *y);
    }
    gsl_odeiv2_driver_free(it.d);
    if (st) {
        nm_series_free(s);
        return st;
    }
    *out = s;
    return NM_OK;
}
