/* model.h -- private: the layout of a model type table and of a model
 * instance, shared by model.c (generic lookup), srk.c, hh.c (the tables)
 * and simulate.c (the integrator).  Not installed. */
#ifndef NM_MODELS_MODEL_H
#define NM_MODELS_MODEL_H

#include "internal.h"

#include <stddef.h>

/* Upper bounds that let a model instance be one flat struct (no pointers to
 * own, so cloning is a copy). */
#define NM_MODEL_MAX_PARAMS 24
#define NM_MODEL_MAX_STATES 8

/* The domain a parameter value must lie in (checked by nm_model_set_param). */
typedef enum nm_param_domain {
    NM_DOMAIN_ANY = 0,   /* any finite value (reversal potentials, currents) */
    NM_DOMAIN_NONNEG,    /* >= 0 (conductances) */
    NM_DOMAIN_POSITIVE,  /* > 0 (time constants, capacitance, rate factors) */
    NM_DOMAIN_NONZERO    /* != 0 (slope factors of Boltzmann functions) */
} nm_param_domain;

typedef struct nm_param_info {
    const char *name;
    const char *unit;
    double def;              /* default value */
    nm_param_domain domain;
} nm_param_info;

/* Right-hand side and Jacobian in the gsl_odeiv2_system signature; params
 * points to the model's parameter array (const double[nparams], in the
 * order of the type's table).  Both return GSL_EBADFUNC when handed a
 * non-finite state, so the integrator stops instead of propagating NaN. */
typedef int (*nm_model_rhs_fn)(double t, const double y[], double dydt[], void *params);
typedef int (*nm_model_jac_fn)(double t, const double y[], double *dfdy, double dfdt[],
                               void *params);

struct nm_model_type {
    const char *name;            /* "srk" */
    const char *description;     /* one line for `neuromap info` and docs */
    size_t nstates;              /* state 0 is V (mV) */
    const char *const *state_names;
    size_t nparams;
    const nm_param_info *params;
    size_t control;              /* index of the control parameter in params */
    double spike_threshold_mv;
    double pmin, pmax;           /* sensible control range */
    /* Protocol for nm_model_sim_opts_default (ms). */
    double sim_transient_ms, sim_duration_ms, sim_dt_ms;
    void (*default_state)(const double *params, double *y0);
    nm_model_rhs_fn rhs;
    nm_model_jac_fn jac;
    /* Injected current (issue 11): its unit, and dV/dt (mV/ms) per unit of
     * it at the given parameters; simulate.c adds gain * I(t) to f[0]. */
    const char *input_unit;
    double (*input_gain)(const double *params);
};

struct nm_model {
    const nm_model_type *type;
    double par[NM_MODEL_MAX_PARAMS];
};

/* Check every field of o (and o->y0 against m's state count) without
 * simulating; NM_EINVAL with a message naming the option on failure. */
nm_status nm_sim_opts_check(const nm_model *m, const nm_sim_opts *o);

/* Index of parameter `name` in m's table, or -1. */
int nm_model_param_index(const nm_model *m, const char *name);

/* The lowest root of f(par, x) in [lo, hi]: the first sign change of f on
 * the grid lo + k step, refined by bisection to a bracket narrower than tol;
 * `fallback` when f does not change sign there.  For default states at
 * rest (ml.c, hr.c). */
double nm_model_first_root(double (*f)(const double *par, double x), const double *par, double lo,
                           double hi, double step, double tol, double fallback);

#endif
