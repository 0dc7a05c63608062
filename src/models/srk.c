/* srk.c -- the Sherman-Rinzel-Keizer-type pancreatic beta-cell model of the
 * design (section 2), with time in ms:
 *
 *   tau  dV/dt = -gCa*minf(V)*(V - VCa) - gK*n*(V - VK) - gS*S*(V - VK)
 *   tau  dn/dt = sigma*(ninf(V) - n)
 *   tauS dS/dt = Sinf(V) - S
 *   winf(V) = 1/(1 + exp((Vw - V)/thetaw)),  w in {m, n, S}
 *
 * The conductances are dimensionless (relative to C/tau); V in mV.  Two fast
 * variables (V, n: time scales ~1-20 ms) and one slow (S: tauS = 5000 ms)
 * make it a slow-fast burster; the control parameter is VS (mV). */
#include "model.h"

#include <gsl/gsl_errno.h>
#include <math.h>

enum { P_GCA, P_GK, P_GS, P_VCA, P_VK, P_VM, P_THETAM, P_VN, P_THETAN, P_VS, P_THETAS, P_TAU,
       P_SIGMA, P_TAUS, P_COUNT };

/* Every parameter but tauS (the two variants differ only there). */
#define SRK_COMMON_PARAMS                                                                        \
    [P_GCA] = {"gCa", "1", 3.6, NM_DOMAIN_NONNEG},                                               \
    [P_GK] = {"gK", "1", 10.0, NM_DOMAIN_NONNEG},                                                \
    [P_GS] = {"gS", "1", 4.0, NM_DOMAIN_NONNEG},                                                 \
    [P_VCA] = {"VCa", "mV", 25.0, NM_DOMAIN_ANY},                                                \
    [P_VK] = {"VK", "mV", -75.0, NM_DOMAIN_ANY},                                                 \
    [P_VM] = {"Vm", "mV", -20.0, NM_DOMAIN_ANY},                                                 \
    [P_THETAM] = {"thetam", "mV", 12.0, NM_DOMAIN_NONZERO},                                      \
    [P_VN] = {"Vn", "mV", -16.0, NM_DOMAIN_ANY},                                                 \
    [P_THETAN] = {"thetan", "mV", 5.6, NM_DOMAIN_NONZERO},                                       \
    [P_VS] = {"VS", "mV", -38.0, NM_DOMAIN_ANY},                                                 \
    [P_THETAS] = {"thetaS", "mV", 10.0, NM_DOMAIN_NONZERO},                                      \
    [P_TAU] = {"tau", "ms", 20.0, NM_DOMAIN_POSITIVE},                                           \
    [P_SIGMA] = {"sigma", "1", 0.93, NM_DOMAIN_POSITIVE}

static const nm_param_info srk_params[P_COUNT] = {
    SRK_COMMON_PARAMS,
    /* 5 s (the design's default; 35 s is the classic slower variant). */
    [P_TAUS] = {"tauS", "ms", 5000.0, NM_DOMAIN_POSITIVE},
};

/* srk_slow: the classic slower variant, tauS = 35 s (bursts of 7 to 30
 * spikes instead of 1 to 5). */
static const nm_param_info srk_slow_params[P_COUNT] = {
    SRK_COMMON_PARAMS,
    [P_TAUS] = {"tauS", "ms", 35000.0, NM_DOMAIN_POSITIVE},
};

static const char *const srk_states[] = {"V", "n", "S"};

/* Boltzmann activation 1/(1 + exp((vh - v)/k)).  exp overflows to +inf far
 * below vh, which gives the correct limit 0. */
static double boltz(double v, double vh, double k) { return 1.0 / (1.0 + exp((vh - v) / k)); }

static void srk_default_state(const double *par, double *y0)
{
    (void)par;
    /* The design's protocol: (V, n, S) = (-50 mV, 0, 0.4). */
    y0[0] = -50.0;
    y0[1] = 0.0;
    y0[2] = 0.4;
}

static int srk_rhs(double t, const double y[], double f[], void *params)
{
    (void)t;
    const double *p = params;
    const double V = y[0], n = y[1], S = y[2];
    if (!isfinite(V) || !isfinite(n) || !isfinite(S)) return GSL_EBADFUNC;
    const double minf = boltz(V, p[P_VM], p[P_THETAM]);
    const double ninf = boltz(V, p[P_VN], p[P_THETAN]);
    const double sinf = boltz(V, p[P_VS], p[P_THETAS]);
    f[0] = (-p[P_GCA] * minf * (V - p[P_VCA]) - p[P_GK] * n * (V - p[P_VK]) -
            p[P_GS] * S * (V - p[P_VK])) / p[P_TAU];
    f[1] = p[P_SIGMA] * (ninf - n) / p[P_TAU];
    f[2] = (sinf - S) / p[P_TAUS];
    return GSL_SUCCESS;
}

/* d/dV of boltz = w (1 - w) / k. */
static int srk_jac(double t, const double y[], double *J, double dfdt[], void *params)
{
    (void)t;
    const double *p = params;
    const double V = y[0], n = y[1], S = y[2];
    if (!isfinite(V) || !isfinite(n) || !isfinite(S)) return GSL_EBADFUNC;
    const double minf = boltz(V, p[P_VM], p[P_THETAM]);
    const double ninf = boltz(V, p[P_VN], p[P_THETAN]);
    const double sinf = boltz(V, p[P_VS], p[P_THETAS]);
    const double dminf = minf * (1 - minf) / p[P_THETAM];
    const double dninf = ninf * (1 - ninf) / p[P_THETAN];
    const double dsinf = sinf * (1 - sinf) / p[P_THETAS];
    const double tau = p[P_TAU], tauS = p[P_TAUS];
    /* Row-major 3x3: J[i*3 + j] = d f_i / d y_j. */
    J[0] = (-p[P_GCA] * (dminf * (V - p[P_VCA]) + minf) - p[P_GK] * n - p[P_GS] * S) / tau;
    J[1] = -p[P_GK] * (V - p[P_VK]) / tau;
    J[2] = -p[P_GS] * (V - p[P_VK]) / tau;
    J[3] = p[P_SIGMA] * dninf / tau;
    J[4] = -p[P_SIGMA] / tau;
    J[5] = 0.0;
    J[6] = dsinf / tauS;
    J[7] = 0.0;
    J[8] = -1.0 / tauS;
    dfdt[0] = dfdt[1] = dfdt[2] = 0.0; /* autonomous */
    return GSL_SUCCESS;
}

/* Injected current I in pA: C dV/dt = ... + I with C = NM_SRK_CM_PF pF, the
 * equations being scaled by tau = C/g_ref (g_ref = C/tau = 265 pS at the
 * defaults, which makes gCa 954 pS, gK 2650 pS: the conductances of the
 * Sherman-Rinzel-Keizer beta cell), so dV/dt += I/C in mV/ms. */
static double srk_input_gain(const double *par)
{
    (void)par;
    return 1.0 / NM_SRK_CM_PF;
}

static const nm_model_type srk_type = {
    .name = "srk",
    .description = "Sherman-Rinzel-Keizer-type pancreatic beta cell (V, n, S; tauS = 5 s), "
                   "control VS (mV)",
    .nstates = 3,
    .state_names = srk_states,
    .nparams = P_COUNT,
    .params = srk_params,
    .control = P_VS,
    /* Spikes span about -64 .. -22 mV; -35 mV is the design's threshold. */
    .spike_threshold_mv = -35.0,
    .pmin = -46.0,
    .pmax = -30.0,
    /* The design's protocol: 20 s transient, 60 s at 5 ms. */
    .sim_transient_ms = 20000.0,
    .sim_duration_ms = 60000.0,
    .sim_dt_ms = 5.0,
    .default_state = srk_default_state,
    .rhs = srk_rhs,
    .jac = srk_jac,
    .input_unit = "pA",
    .input_gain = srk_input_gain,
};

/* The same equations with tauS = 35 s: the slow variable is 7x slower, so
 * each burst carries 7x more spikes (7 .. 30 over VS = -44.5 .. -34 mV) and
 * lasts up to ~10 s; 100 s of transient and 300 s recorded (~20 burst
 * cycles at the slowest) at the same 5 ms sampling (docs/models.md). */
static const nm_model_type srk_slow_type = {
    .name = "srk_slow",
    .description = "Sherman-Rinzel-Keizer-type beta cell, slow variant (tauS = 35 s, bursts of "
                   "7-30 spikes), control VS (mV)",
    .nstates = 3,
    .state_names = srk_states,
    .nparams = P_COUNT,
    .params = srk_slow_params,
    .control = P_VS,
    .spike_threshold_mv = -35.0,
    .pmin = -46.0,
    .pmax = -30.0,
    .sim_transient_ms = 100000.0,
    .sim_duration_ms = 300000.0,
    .sim_dt_ms = 5.0,
    .default_state = srk_default_state,
    .rhs = srk_rhs,
    .jac = srk_jac,
    .input_unit = "pA",
    .input_gain = srk_input_gain,
};

const nm_model_type *const nm_model_srk = &srk_type;
const nm_model_type *const nm_model_srk_slow = &srk_slow_type;
