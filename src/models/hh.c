/* hh.c -- the Hodgkin-Huxley (1952) squid giant axon, in the modern sign
 * convention (V in mV, rest about -65 mV, inward current negative), with the
 * injected current density I (uA/cm2) as the control parameter:
 *
 *   C dV/dt = I - gNa m^3 h (V - ENa) - gK n^4 (V - EK) - gL (V - EL)
 *   dx/dt   = phi (alpha_x(V) (1 - x) - beta_x(V) x),   x in {m, h, n}
 *   phi     = 3^((celsius - 6.3)/10)
 *
 *   alpha_m = 0.1 vtrap(-(V+40), 10)    beta_m = 4 exp(-(V+65)/18)
 *   alpha_h = 0.07 exp(-(V+65)/20)      beta_h = 1/(1 + exp(-(V+35)/10))
 *   alpha_n = 0.01 vtrap(-(V+55), 10)   beta_n = 0.125 exp(-(V+65)/80)
 *   vtrap(x, y) = x/(exp(x/y) - 1)      (-> y at x = 0: the 0/0 of alpha_m, alpha_n)
 *
 * Rates in 1/ms, conductances in mS/cm2, C in uF/cm2: these are the
 * parameters of NEURON's built-in `hh` mechanism. */
#include "model.h"

#include <gsl/gsl_errno.h>
#include <math.h>

enum { P_GNA, P_GK, P_GL, P_ENA, P_EK, P_EL, P_C, P_I, P_CELSIUS, P_COUNT };

static const nm_param_info hh_params[P_COUNT] = {
    [P_GNA] = {"gNa", "mS/cm2", 120.0, NM_DOMAIN_NONNEG},
    [P_GK] = {"gK", "mS/cm2", 36.0, NM_DOMAIN_NONNEG},
    [P_GL] = {"gL", "mS/cm2", 0.3, NM_DOMAIN_NONNEG},
    [P_ENA] = {"ENa", "mV", 50.0, NM_DOMAIN_ANY},
    [P_EK] = {"EK", "mV", -77.0, NM_DOMAIN_ANY},
    /* -54.387 mV makes the resting potential -65 mV (to 0.01 mV). */
    [P_EL] = {"EL", "mV", -54.387, NM_DOMAIN_ANY},
    [P_C] = {"C", "uF/cm2", 1.0, NM_DOMAIN_POSITIVE},
    [P_I] = {"I", "uA/cm2", 0.0, NM_DOMAIN_ANY},
    [P_CELSIUS] = {"celsius", "degC", 6.3, NM_DOMAIN_ANY},
};

static const char *const hh_states[] = {"V", "m", "h", "n"};

/* Below this |x/y| the series of x/(exp(x/y)-1) is used: its error there,
 * O((x/y)^3) relative, is far below double rounding of the direct form,
 * which loses digits to cancellation as x/y -> 0. */
#define VTRAP_SERIES_BELOW 1e-4

/* vtrap(x, y) = x/(exp(x/y) - 1) and its derivative d/dx. */
static double vtrap(double x, double y, double *dvdx)
{
    const double u = x / y;
    if (fabs(u) < VTRAP_SERIES_BELOW) {
        /* u/(e^u - 1) = 1 - u/2 + u^2/12 + O(u^4) */
        if (dvdx) *dvdx = -0.5 + u / 6.0;
        return y * (1.0 - u / 2.0 + u * u / 12.0);
    }
    const double em1 = expm1(u);
    if (dvdx) {
        /* d/du [u/(e^u-1)] = (e^u - 1 - u e^u)/(e^u - 1)^2; for large u it is
         * (1-u) e^-u, written so that it does not overflow. */
        *dvdx = u > 300.0 ? (1.0 - u) * exp(-u) : (em1 - u * (em1 + 1.0)) / (em1 * em1);
    }
    return x / em1;
}

typedef struct hh_rates {
    double am, bm, ah, bh, an, bn;       /* 1/ms at 6.3 degC */
    double dam, dbm, dah, dbh, dan, dbn; /* d/dV, 1/(ms mV) */
} hh_rates;

static void hh_rates_at(double V, hh_rates *r, int with_derivatives)
{
    double dv;
    /* alpha_m = 0.1 vtrap(-(V+40), 10): d/dV = -0.1 vtrap' */
    r->am = 0.1 * vtrap(-(V + 40.0), 10.0, &dv);
    r->dam = -0.1 * dv;
    r->bm = 4.0 * exp(-(V + 65.0) / 18.0);
    r->ah = 0.07 * exp(-(V + 65.0) / 20.0);
    r->bh = 1.0 / (1.0 + exp(-(V + 35.0) / 10.0));
    r->an = 0.01 * vtrap(-(V + 55.0), 10.0, &dv);
    r->dan = -0.01 * dv;
    r->bn = 0.125 * exp(-(V + 65.0) / 80.0);
    if (with_derivatives) {
        r->dbm = -r->bm / 18.0;
        r->dah = -r->ah / 20.0;
        r->dbh = r->bh * (1.0 - r->bh) / 10.0;
        r->dbn = -r->bn / 80.0;
    }
}

static double hh_phi(const double *p) { return pow(3.0, (p[P_CELSIUS] - 6.3) / 10.0); }

/* Ionic current (uA/cm2, outward positive) with every gate at its steady
 * state for V: zero at a resting state. */
static double hh_steady_current(const double *p, double V, double x[3])
{
    hh_rates r;
    hh_rates_at(V, &r, 0);
    const double m = r.am / (r.am + r.bm), h = r.ah / (r.ah + r.bh), n = r.an / (r.an + r.bn);
    if (x) {
        x[0] = m;
        x[1] = h;
        x[2] = n;
    }
    return p[P_GNA] * m * m * m * h * (V - p[P_ENA]) + p[P_GK] * n * n * n * n * (V - p[P_EK]) +
           p[P_GL] * (V - p[P_EL]);
}

/* The resting state at I = 0: bisection for the zero of the steady-state
 * current, bracketed from -100 to -30 mV (for the default parameters the
 * only zero below the spike range, at -65.0 mV).  If the parameters leave
 * no sign change there, start from -65 mV with steady-state gates. */
#define HH_REST_LO_MV (-100.0)
#define HH_REST_HI_MV (-30.0)
#define HH_REST_TOL_MV 1e-10

static void hh_default_state(const double *p, double *y0)
{
    double lo = HH_REST_LO_MV, hi = HH_REST_HI_MV;
    double flo = hh_steady_current(p, lo, NULL), fhi = hh_steady_current(p, hi, NULL);
    double V = -65.0;
    if (flo < 0 && fhi > 0) {
        while (hi - lo > HH_REST_TOL_MV) {
            double mid = 0.5 * (lo + hi);
            if (hh_steady_current(p, mid, NULL) < 0)
                lo = mid;
            else
                hi = mid;
        }
        V = 0.5 * (lo + hi);
    }
    double x[3];
    hh_steady_current(p, V, x);
    y0[0] = V;
    y0[1] = x[0];
    y0[2] = x[1];
    y0[3] = x[2];
}

static int hh_rhs(double t, const double y[], double f[], void *params)
{
    (void)t;
    const double *p = params;
    const double V = y[0], m = y[1], h = y[2], n = y[3];
    if (!isfinite(V) || !isfinite(m) || !isfinite(h) || !isfinite(n)) return GSL_EBADFUNC;
    hh_rates r;
    hh_rates_at(V, &r, 0);
    const double phi = hh_phi(p);
    const double ina = p[P_GNA] * m * m * m * h * (V - p[P_ENA]);
    const double ik = p[P_GK] * n * n * n * n * (V - p[P_EK]);
    const double il = p[P_GL] * (V - p[P_EL]);
    f[0] = (p[P_I] - ina - ik - il) / p[P_C];
    f[1] = phi * (r.am * (1 - m) - r.bm * m);
    f[2] = phi * (r.ah * (1 - h) - r.bh * h);
    f[3] = phi * (r.an * (1 - n) - r.bn * n);
    return GSL_SUCCESS;
}

static int hh_jac(double t, const double y[], double *J, double dfdt[], void *params)
{
    (void)t;
    const double *p = params;
    const double V = y[0], m = y[1], h = y[2], n = y[3];
    if (!isfinite(V) || !isfinite(m) || !isfinite(h) || !isfinite(n)) return GSL_EBADFUNC;
    hh_rates r;
    hh_rates_at(V, &r, 1);
    const double phi = hh_phi(p), C = p[P_C];
    const double m3h = m * m * m * h, n4 = n * n * n * n;
    /* Row-major 4x4: J[i*4 + j] = d f_i / d y_j, order (V, m, h, n). */
    J[0] = -(p[P_GNA] * m3h + p[P_GK] * n4 + p[P_GL]) / C;
    J[1] = -3.0 * p[P_GNA] * m * m * h * (V - p[P_ENA]) / C;
    J[2] = -p[P_GNA] * m * m * m * (V - p[P_ENA]) / C;
    J[3] = -4.0 * p[P_GK] * n * n * n * (V - p[P_EK]) / C;
    J[4] = phi * (r.dam * (1 - m) - r.dbm * m);
    J[5] = -phi * (r.am + r.bm);
    J[6] = 0.0;
    J[7] = 0.0;
    J[8] = phi * (r.dah * (1 - h) - r.dbh * h);
    J[9] = 0.0;
    J[10] = -phi * (r.ah + r.bh);
    J[11] = 0.0;
    J[12] = phi * (r.dan * (1 - n) - r.dbn * n);
    J[13] = 0.0;
    J[14] = 0.0;
    J[15] = -phi * (r.an + r.bn);
    dfdt[0] = dfdt[1] = dfdt[2] = dfdt[3] = 0.0; /* autonomous: I is constant */
    return GSL_SUCCESS;
}

/* Injected current density (uA/cm2), added to I: dV/dt += I_inj / C. */
static double hh_input_gain(const double *p) { return 1.0 / p[P_C]; }

static const nm_model_type hh_type = {
    .name = "hh",
    .description = "Hodgkin-Huxley 1952 squid giant axon (V, m, h, n; 6.3 degC), "
                   "control I (uA/cm2)",
    .nstates = 4,
    .state_names = hh_states,
    .nparams = P_COUNT,
    .params = hh_params,
    .control = P_I,
    /* Spikes overshoot to about +40 mV from rest at -65 mV. */
    .spike_threshold_mv = 0.0,
    /* Rheobase of sustained firing is about 6.3 uA/cm2 (steps from rest);
     * the range covers rest, the onset and fast tonic firing (~86 Hz at 20). */
    .pmin = 0.0,
    .pmax = 20.0,
    /* A spike lasts ~2 ms: sample at NEURON's default 0.025 ms.  500 ms of
     * transient lets firing near the rheobase settle (at 6.2 uA/cm2 the
     * last of the onset spikes comes at ~41 ms). */
    .sim_transient_ms = 500.0,
    .sim_duration_ms = 2000.0,
    .sim_dt_ms = 0.025,
    .default_state = hh_default_state,
    .rhs = hh_rhs,
    .jac = hh_jac,
    .input_unit = "uA/cm2",
    .input_gain = hh_input_gain,
};

const nm_model_type *const nm_model_hh = &hh_type;
