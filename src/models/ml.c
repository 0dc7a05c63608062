/* ml.c -- the Morris-Lecar (1981) model in the form and with the two
 * parameter sets of Rinzel & Ermentrout (1989) and Ermentrout & Terman,
 * "Mathematical Foundations of Neuroscience" (2010), Table 3.1; V in mV,
 * time in ms, the applied current density I (uA/cm2) is the control:
 *
 *   C dV/dt = I - gL (V - VL) - gCa minf(V) (V - VCa) - gK w (V - VK)
 *   dw/dt   = phi cosh((V - V3)/(2 V4)) (winf(V) - w)
 *   minf(V) = (1 + tanh((V - V1)/V2))/2,   winf(V) = (1 + tanh((V - V3)/V4))/2
 *
 * ml1 is the class-I set (saddle-node on an invariant circle: firing starts
 * at an arbitrarily low rate), ml2 the class-II set (subcritical Hopf:
 * firing starts at a finite rate, with a bistable window below the Hopf
 * point).  Both share one right-hand side and Jacobian; only the defaults,
 * range and protocol differ. */
#include "model.h"

#include <gsl/gsl_errno.h>
#include <math.h>

enum { P_C, P_GL, P_GCA, P_GK, P_VL, P_VCA, P_VK, P_V1, P_V2, P_V3, P_V4, P_PHI, P_I, P_COUNT };

/* Common to both sets: C 20 uF/cm2, gL 2, gK 8 mS/cm2, VL -60, VCa 120,
 * VK -84 mV, V1 -1.2, V2 18 mV. */
#define ML_COMMON_PARAMS                                                                         \
    [P_C] = {"C", "uF/cm2", 20.0, NM_DOMAIN_POSITIVE},                                           \
    [P_GL] = {"gL", "mS/cm2", 2.0, NM_DOMAIN_NONNEG},                                            \
    [P_GK] = {"gK", "mS/cm2", 8.0, NM_DOMAIN_NONNEG},                                            \
    [P_VL] = {"VL", "mV", -60.0, NM_DOMAIN_ANY},                                                 \
    [P_VCA] = {"VCa", "mV", 120.0, NM_DOMAIN_ANY},                                               \
    [P_VK] = {"VK", "mV", -84.0, NM_DOMAIN_ANY},                                                 \
    [P_V1] = {"V1", "mV", -1.2, NM_DOMAIN_ANY},                                                  \
    [P_V2] = {"V2", "mV", 18.0, NM_DOMAIN_NONZERO},                                              \
    [P_I] = {"I", "uA/cm2", 0.0, NM_DOMAIN_ANY}

/* Class I (SNLC row of Table 3.1): gCa 4, V3 12, V4 17.4, phi 1/15. */
static const nm_param_info ml1_params[P_COUNT] = {
    ML_COMMON_PARAMS,
    [P_GCA] = {"gCa", "mS/cm2", 4.0, NM_DOMAIN_NONNEG},
    [P_V3] = {"V3", "mV", 12.0, NM_DOMAIN_ANY},
    [P_V4] = {"V4", "mV", 17.4, NM_DOMAIN_NONZERO},
    [P_PHI] = {"phi", "1/ms", 1.0 / 15.0, NM_DOMAIN_POSITIVE},
};

/* Class II (Hopf row of Table 3.1): gCa 4.4, V3 2, V4 30, phi 0.04. */
static const nm_param_info ml2_params[P_COUNT] = {
    ML_COMMON_PARAMS,
    [P_GCA] = {"gCa", "mS/cm2", 4.4, NM_DOMAIN_NONNEG},
    [P_V3] = {"V3", "mV", 2.0, NM_DOMAIN_ANY},
    [P_V4] = {"V4", "mV", 30.0, NM_DOMAIN_NONZERO},
    [P_PHI] = {"phi", "1/ms", 0.04, NM_DOMAIN_POSITIVE},
};

static const char *const ml_states[] = {"V", "w"};

static double half_tanh(double v, double vh, double k) { return 0.5 * (1.0 + tanh((v - vh) / k)); }

/* Steady-state ionic current (uA/cm2, outward positive) with w at winf(V);
 * zero at an equilibrium of the I = 0 system. */
static double ml_steady_current(const double *p, double V)
{
    return p[P_GL] * (V - p[P_VL]) + p[P_GCA] * half_tanh(V, p[P_V1], p[P_V2]) * (V - p[P_VCA]) +
           p[P_GK] * half_tanh(V, p[P_V3], p[P_V4]) * (V - p[P_VK]);
}

/* The default state is the lowest resting state at I = 0 (so a run at
 * I != 0 is a current step from rest, as for hh): the first sign change of
 * the steady-state current scanning up from -100 mV in 0.5 mV steps, refined
 * by bisection.  For both default sets it is the only equilibrium at I = 0
 * below -20 mV (ml1 -59.474 mV, ml2 -60.855 mV).  Without a sign change
 * (unusual parameters) start from -60 mV with w = winf. */
#define ML_REST_LO_MV (-100.0)
#define ML_REST_HI_MV (0.0)
#define ML_REST_SCAN_MV 0.5
#define ML_REST_TOL_MV 1e-10

static void ml_default_state(const double *p, double *y0)
{
    const double V = nm_model_first_root(ml_steady_current, p, ML_REST_LO_MV, ML_REST_HI_MV,
                                         ML_REST_SCAN_MV, ML_REST_TOL_MV, -60.0);
    y0[0] = V;
    y0[1] = half_tanh(V, p[P_V3], p[P_V4]);
}

static int ml_rhs(double t, const double y[], double f[], void *params)
{
    (void)t;
    const double *p = params;
    const double V = y[0], w = y[1];
    if (!isfinite(V) || !isfinite(w)) return GSL_EBADFUNC;
    const double minf = half_tanh(V, p[P_V1], p[P_V2]);
    const double winf = half_tanh(V, p[P_V3], p[P_V4]);
    f[0] = (p[P_I] - p[P_GL] * (V - p[P_VL]) - p[P_GCA] * minf * (V - p[P_VCA]) -
            p[P_GK] * w * (V - p[P_VK])) / p[P_C];
    f[1] = p[P_PHI] * cosh((V - p[P_V3]) / (2.0 * p[P_V4])) * (winf - w);
    return GSL_SUCCESS;
}

/* d/dV (1 + tanh((V - vh)/k))/2 = (1 - tanh^2)/(2k). */
static int ml_jac(double t, const double y[], double *J, double dfdt[], void *params)
{
    (void)t;
    const double *p = params;
    const double V = y[0], w = y[1];
    if (!isfinite(V) || !isfinite(w)) return GSL_EBADFUNC;
    const double tm = tanh((V - p[P_V1]) / p[P_V2]), tw = tanh((V - p[P_V3]) / p[P_V4]);
    const double minf = 0.5 * (1.0 + tm), winf = 0.5 * (1.0 + tw);
    const double dminf = (1.0 - tm * tm) / (2.0 * p[P_V2]);
    const double dwinf = (1.0 - tw * tw) / (2.0 * p[P_V4]);
    const double u = (V - p[P_V3]) / (2.0 * p[P_V4]);
    const double ch = cosh(u), sh = sinh(u), C = p[P_C];
    /* Row-major 2x2: J[i*2 + j] = d f_i / d y_j, order (V, w). */
    J[0] = (-p[P_GL] - p[P_GCA] * (dminf * (V - p[P_VCA]) + minf) - p[P_GK] * w) / C;
    J[1] = -p[P_GK] * (V - p[P_VK]) / C;
    J[2] = p[P_PHI] * (sh / (2.0 * p[P_V4]) * (winf - w) + ch * dwinf);
    J[3] = -p[P_PHI] * ch;
    dfdt[0] = dfdt[1] = 0.0; /* autonomous: I is constant */
    return GSL_SUCCESS;
}

/* Injected current density (uA/cm2), added to I: dV/dt += I_inj / C. */
static double ml_input_gain(const double *p) { return 1.0 / p[P_C]; }

static const nm_model_type ml1_type = {
    .name = "ml1",
    .description = "Morris-Lecar, class-I set (saddle-node on invariant circle; V, w), "
                   "control I (uA/cm2)",
    .nstates = 2,
    .state_names = ml_states,
    .nparams = P_COUNT,
    .params = ml1_params,
    .control = P_I,
    /* Spikes overshoot to about +25 mV from rest near -60 mV. */
    .spike_threshold_mv = 0.0,
    /* Rest below the saddle-node at 39.96 uA/cm2, arbitrarily slow firing
     * just above it, ~25 Hz at 110, depolarisation block from ~116.5
     * (docs/models.md). */
    .pmin = 30.0,
    .pmax = 125.0,
    /* A spike lasts ~10 ms (V above -20 mV): 0.5 ms sampling; near the
     * onset the period exceeds 1 s, so 10 s are recorded after 2 s. */
    .sim_transient_ms = 2000.0,
    .sim_duration_ms = 10000.0,
    .sim_dt_ms = 0.5,
    .default_state = ml_default_state,
    .rhs = ml_rhs,
    .jac = ml_jac,
    .input_unit = "uA/cm2",
    .input_gain = ml_input_gain,
};

static const nm_model_type ml2_type = {
    .name = "ml2",
    .description = "Morris-Lecar, class-II set (subcritical Hopf; V, w), control I (uA/cm2)",
    .nstates = 2,
    .state_names = ml_states,
    .nparams = P_COUNT,
    .params = ml2_params,
    .control = P_I,
    .spike_threshold_mv = 0.0,
    /* Rest up to the onset at ~88.3 uA/cm2 (a bistable window below the
     * Hopf point at 93.86), tonic firing at 8-16 Hz above, depolarisation
     * block from ~212 (docs/models.md). */
    .pmin = 60.0,
    .pmax = 240.0,
    .sim_transient_ms = 2000.0,
    .sim_duration_ms = 10000.0,
    .sim_dt_ms = 0.5,
    .default_state = ml_default_state,
    .rhs = ml_rhs,
    .jac = ml_jac,
    .input_unit = "uA/cm2",
    .input_gain = ml_input_gain,
};

const nm_model_type *const nm_model_ml1 = &ml1_type;
const nm_model_type *const nm_model_ml2 = &ml2_type;
