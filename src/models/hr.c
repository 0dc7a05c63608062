/* hr.c -- the Hindmarsh-Rose (1984) bursting neuron, in its dimensionless
 * form with time and voltage rescaled to ms and mV:
 *
 *   dx/ds = y - a x^3 + b x^2 - z + I
 *   dy/ds = c - d x^2 - y
 *   dz/ds = r (sx (x - xR) - z)
 *
 *   V = V0 + Vx x  (mV),   t = tau s  (ms)
 *
 * so that the state is (V, y, z) and V looks like a membrane potential:
 * with V0 = -25 mV and Vx = 25 mV rest is at -65 mV (I = 0) and spikes
 * reach +20 mV; with tau = 5 ms a spike lasts ~9 ms (above -20 mV) and a
 * burst cycle ~0.6 s.  With the classic a = 1, b = 3, c = 1, d = 5,
 * sx = 4, xR = -1.6 and r = 0.006, raising I from 1 to 4 gives rest, bursts
 * of 1, 2, 3, 4 spikes, a period-doubling into a chaotic window
 * (I ~ 2.95 .. 3.25), a reversed period-adding sequence and tonic spiking
 * (docs/models.md). */
#include "model.h"

#include <gsl/gsl_errno.h>
#include <math.h>

enum { P_A, P_B, P_C, P_D, P_SX, P_XR, P_R, P_I, P_V0, P_VX, P_TAU, P_COUNT };

static const nm_param_info hr_params[P_COUNT] = {
    [P_A] = {"a", "1", 1.0, NM_DOMAIN_ANY},
    [P_B] = {"b", "1", 3.0, NM_DOMAIN_ANY},
    [P_C] = {"c", "1", 1.0, NM_DOMAIN_ANY},
    [P_D] = {"d", "1", 5.0, NM_DOMAIN_ANY},
    /* "s" in the literature; sx here so that it cannot be mistaken for a
     * time unit. */
    [P_SX] = {"sx", "1", 4.0, NM_DOMAIN_ANY},
    [P_XR] = {"xR", "1", -1.6, NM_DOMAIN_ANY},
    [P_R] = {"r", "1", 0.006, NM_DOMAIN_POSITIVE},
    [P_I] = {"I", "1", 2.0, NM_DOMAIN_ANY},
    [P_V0] = {"V0", "mV", -25.0, NM_DOMAIN_ANY},
    [P_VX] = {"Vx", "mV", 25.0, NM_DOMAIN_POSITIVE},
    [P_TAU] = {"tau", "ms", 5.0, NM_DOMAIN_POSITIVE},
};

static const char *const hr_states[] = {"V", "y", "z"};

/* The equilibrium equation at I = 0 in x (y and z eliminated):
 * g(x) = -a x^3 + (b - d) x^2 - sx x + c + sx xR. */
static double hr_eq(const double *p, double x)
{
    return -p[P_A] * x * x * x + (p[P_B] - p[P_D]) * x * x - p[P_SX] * x + p[P_C] +
           p[P_SX] * p[P_XR];
}

/* The default state is the lowest equilibrium at I = 0 (the only one for
 * the default parameters: x = -1.6045, V = -65.113 mV): the first sign change of g
 * scanning up from x = -10 in steps of 0.01, refined by bisection; so a run
 * at I != 0 is a current step from rest.  Without a sign change there
 * (unusual parameters) start from x = xR. */
#define HR_EQ_LO (-10.0)
#define HR_EQ_HI 10.0
#define HR_EQ_SCAN 0.01
#define HR_EQ_TOL 1e-13

static void hr_default_state(const double *p, double *y0)
{
    const double x =
        nm_model_first_root(hr_eq, p, HR_EQ_LO, HR_EQ_HI, HR_EQ_SCAN, HR_EQ_TOL, p[P_XR]);
    y0[0] = p[P_V0] + p[P_VX] * x;
    y0[1] = p[P_C] - p[P_D] * x * x;
    y0[2] = p[P_SX] * (x - p[P_XR]);
}

static int hr_rhs(double t, const double y[], double f[], void *params)
{
    (void)t;
    const double *p = params;
    if (!isfinite(y[0]) || !isfinite(y[1]) || !isfinite(y[2])) return GSL_EBADFUNC;
    const double x = (y[0] - p[P_V0]) / p[P_VX], tau = p[P_TAU];
    f[0] = p[P_VX] * (y[1] - p[P_A] * x * x * x + p[P_B] * x * x - y[2] + p[P_I]) / tau;
    f[1] = (p[P_C] - p[P_D] * x * x - y[1]) / tau;
    f[2] = p[P_R] * (p[P_SX] * (x - p[P_XR]) - y[2]) / tau;
    return GSL_SUCCESS;
}

/* dx/dV = 1/Vx. */
static int hr_jac(double t, const double y[], double *J, double dfdt[], void *params)
{
    (void)t;
    const double *p = params;
    if (!isfinite(y[0]) || !isfinite(y[1]) || !isfinite(y[2])) return GSL_EBADFUNC;
    const double x = (y[0] - p[P_V0]) / p[P_VX], tau = p[P_TAU], Vx = p[P_VX];
    /* Row-major 3x3: J[i*3 + j] = d f_i / d y_j, order (V, y, z). */
    J[0] = (-3.0 * p[P_A] * x * x + 2.0 * p[P_B] * x) / tau;
    J[1] = Vx / tau;
    J[2] = -Vx / tau;
    J[3] = -2.0 * p[P_D] * x / (Vx * tau);
    J[4] = -1.0 / tau;
    J[5] = 0.0;
    J[6] = p[P_R] * p[P_SX] / (Vx * tau);
    J[7] = 0.0;
    J[8] = -p[P_R] / tau;
    dfdt[0] = dfdt[1] = dfdt[2] = 0.0; /* autonomous */
    return GSL_SUCCESS;
}

/* Injected input in the units of I (dimensionless), added to I:
 * dV/dt += Vx I_inj / tau. */
static double hr_input_gain(const double *p) { return p[P_VX] / p[P_TAU]; }

static const nm_model_type hr_type = {
    .name = "hr",
    .description = "Hindmarsh-Rose bursting neuron (V, y, z; 5 ms per model time unit, "
                   "V = -25 + 25 x mV), control I (dimensionless)",
    .nstates = 3,
    .state_names = hr_states,
    .nparams = P_COUNT,
    .params = hr_params,
    .control = P_I,
    /* V spans about -65 .. +20 mV; -20 mV (x = 0.2) is mid-spike. */
    .spike_threshold_mv = -20.0,
    /* Rest below I ~ 1.33, tonic spiking above 3.5 (docs/models.md). */
    .pmin = 1.0,
    .pmax = 4.0,
    /* 20 s transient (the slow z relaxes with tau/r = 833 ms), 60 s
     * recorded (~100 burst cycles, enough to tell chaos from long periods),
     * 1 ms sampling (~9 samples per spike). */
    .sim_transient_ms = 20000.0,
    .sim_duration_ms = 60000.0,
    .sim_dt_ms = 1.0,
    .default_state = hr_default_state,
    .rhs = hr_rhs,
    .jac = hr_jac,
    .input_unit = "1",
    .input_gain = hr_input_gain,
};

const nm_model_type *const nm_model_hr = &hr_type;
