/* test_models.c -- the ground-truth models: tables and parameters, the
 * analytic Jacobians, integrator accuracy, HH physiology, option checks,
 * noise reproducibility and concurrent simulation.
 *
 * Reference numbers marked "scipy" come from an independent implementation
 * (scipy solve_ivp LSODA, rtol/atol 1e-10, max_step 0.05 ms for HH;
 * docs/models.md has the script), not from this library. */
#define _POSIX_C_SOURCE 200809L
#include "models/model.h"
#include "nm_test.h"
#include "nm_test_jac.h"

#include <pthread.h>

/* ---- tables, names, parameters ---------------------------------------- */

static void test_type_lookup(void)
{
    CHECK(nm_model_type_find("srk") == nm_model_srk);
    CHECK(nm_model_type_find("SRK") == nm_model_srk);
    CHECK(nm_model_type_find("hh") == nm_model_hh);
    CHECK(nm_model_type_find("nope") == NULL);
    CHECK(strstr(nm_last_error(), "unknown model 'nope'") != NULL);
    CHECK(nm_model_type_find(NULL) == NULL);
    CHECK(nm_model_alloc(NULL) == NULL);
    nm_model_free(NULL); /* no-op */
}

static void test_srk_params(void)
{
    nm_model *m = nm_model_alloc(nm_model_srk);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(strcmp(nm_model_name(m), "srk") == 0);
    CHECK(nm_model_description(m) && strlen(nm_model_description(m)) > 10);
    CHECK(nm_model_nstates(m) == 3);
    CHECK(strcmp(nm_model_state_name(m, 0), "V") == 0);
    CHECK(strcmp(nm_model_state_name(m, 2), "S") == 0);
    CHECK(nm_model_state_name(m, 3) == NULL);

    /* Every documented parameter, its default (design.md section 2, time in
     * ms) and unit. */
    static const struct { const char *name, *unit; double def; } want[] = {
        {"gCa", "1", 3.6},     {"gK", "1", 10},      {"gS", "1", 4},       {"VCa", "mV", 25},
        {"VK", "mV", -75},     {"Vm", "mV", -20},    {"thetam", "mV", 12}, {"Vn", "mV", -16},
        {"thetan", "mV", 5.6}, {"VS", "mV", -38},    {"thetaS", "mV", 10}, {"tau", "ms", 20},
        {"sigma", "1", 0.93},  {"tauS", "ms", 5000},
    };
    size_t nw = sizeof want / sizeof want[0];
    CHECK(nm_model_nparams(m) == nw);
    for (size_t i = 0; i < nw; i++) {
        double v = NAN;
        CHECK_OK(nm_model_get_param(m, want[i].name, &v));
        CHECK_CLOSE(v, want[i].def, 0, 0);
        int idx = nm_model_param_index(m, want[i].name);
        CHECK(idx >= 0);
        if (idx >= 0) {
            CHECK(strcmp(nm_model_param_name(m, (size_t)idx), want[i].name) == 0);
            CHECK(strcmp(nm_model_param_unit(m, (size_t)idx), want[i].unit) == 0);
        }
        /* Every parameter is settable and reads back. */
        CHECK_OK(nm_model_set_param(m, want[i].name, want[i].def * 1.5 + (want[i].def == 0)));
        CHECK_OK(nm_model_get_param(m, want[i].name, &v));
        CHECK_CLOSE(v, want[i].def * 1.5 + (want[i].def == 0), 0, 0);
    }
    CHECK(nm_model_param_name(m, nw) == NULL);
    CHECK(nm_model_param_unit(m, nw) == NULL);

    /* Unknown and miscased names; bad values keep the old value. */
    double v = 0;
    CHECK_FAILS(nm_model_get_param(m, "gca", &v), NM_ENOTFOUND, "unknown parameter 'gca'");
    CHECK(strstr(nm_last_error(), "gCa") != NULL); /* lists the known names */
    CHECK_FAILS(nm_model_set_param(m, "nope", 1.0), NM_ENOTFOUND, "nope");
    CHECK_OK(nm_model_set_param(m, "tau", 20.0));
    CHECK_FAILS(nm_model_set_param(m, "tau", 0.0), NM_EINVAL, "tau must be > 0");
    CHECK_FAILS(nm_model_set_param(m, "tauS", -1.0), NM_EINVAL, "tauS must be > 0");
    CHECK_FAILS(nm_model_set_param(m, "gK", -0.1), NM_EINVAL, "gK must be >= 0");
    CHECK_FAILS(nm_model_set_param(m, "thetaS", 0.0), NM_EINVAL, "thetaS must be nonzero");
    CHECK_FAILS(nm_model_set_param(m, "VCa", NAN), NM_EINVAL, "finite");
    CHECK_FAILS(nm_model_set_param(m, "VCa", INFINITY), NM_EINVAL, "finite");
    CHECK_OK(nm_model_get_param(m, "tau", &v));
    CHECK_CLOSE(v, 20.0, 0, 0);
    CHECK_FAILS(nm_model_get_param(m, "tau", NULL), NM_EINVAL, "NULL");

    /* The control parameter is VS. */
    CHECK(strcmp(nm_model_control_name(m), "VS") == 0);
    CHECK_OK(nm_model_set_control(m, -41.25));
    CHECK_OK(nm_model_get_param(m, "VS", &v));
    CHECK_CLOSE(v, -41.25, 0, 0);
    CHECK_CLOSE(nm_model_control(m), -41.25, 0, 0);
    CHECK_FAILS(nm_model_set_control(m, NAN), NM_EINVAL, "VS must be finite");
    CHECK_CLOSE(nm_model_spike_threshold(m), -35.0, 0, 0);
    double lo = 0, hi = 0;
    nm_model_control_range(m, &lo, &hi);
    CHECK_CLOSE(lo, -46.0, 0, 0);
    CHECK_CLOSE(hi, -30.0, 0, 0);
    double y0[3];
    nm_model_default_state(m, y0);
    CHECK(y0[0] == -50.0 && y0[1] == 0.0 && y0[2] == 0.4);

    /* A clone is independent of its original. */
    nm_model *c = nm_model_clone(m);
    CHECK(c != NULL);
    if (c) {
        CHECK_OK(nm_model_set_control(c, -30.0));
        CHECK_CLOSE(nm_model_control(m), -41.25, 0, 0);
        CHECK_CLOSE(nm_model_control(c), -30.0, 0, 0);
    }
    nm_model_free(c);
    nm_model_free(m);
}

static void test_hh_params(void)
{
    nm_model *m = nm_model_alloc(nm_model_hh);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(nm_model_nstates(m) == 4);
    static const char *states[] = {"V", "m", "h", "n"};
    for (size_t i = 0; i < 4; i++) CHECK(strcmp(nm_model_state_name(m, i), states[i]) == 0);
    static const struct { const char *name, *unit; double def; } want[] = {
        {"gNa", "mS/cm2", 120}, {"gK", "mS/cm2", 36}, {"gL", "mS/cm2", 0.3},
        {"ENa", "mV", 50},      {"EK", "mV", -77},    {"EL", "mV", -54.387},
        {"C", "uF/cm2", 1},     {"I", "uA/cm2", 0},   {"celsius", "degC", 6.3},
    };
    CHECK(nm_model_nparams(m) == sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        double v = NAN;
        CHECK_OK(nm_model_get_param(m, want[i].name, &v));
        CHECK_CLOSE(v, want[i].def, 0, 0);
        int idx = nm_model_param_index(m, want[i].name);
        CHECK(idx >= 0 && strcmp(nm_model_param_unit(m, (size_t)idx), want[i].unit) == 0);
    }
    CHECK(strcmp(nm_model_control_name(m), "I") == 0);
    CHECK_CLOSE(nm_model_spike_threshold(m), 0.0, 0, 0);
    CHECK_FAILS(nm_model_set_param(m, "C", 0.0), NM_EINVAL, "C must be > 0");
    CHECK_FAILS(nm_model_set_param(m, "gNa", -1.0), NM_EINVAL, "gNa must be >= 0");
    double v;
    CHECK_FAILS(nm_model_get_param(m, "VS", &v), NM_ENOTFOUND, "unknown parameter 'VS' of model hh");
    nm_model_free(m);
}

/* ---- analytic Jacobians against central differences ------------------- */

static void test_jacobians(void)
{
    nm_model *srk = nm_model_alloc(nm_model_srk);
    nm_model *hh = nm_model_alloc(nm_model_hh);
    CHECK(srk && hh);
    if (!srk || !hh) goto done;
    static const double ys[][3] = {{-50, 0, 0.4}, {-61, 0.01, 0.5}, {-25, 0.3, 0.6}, {10, 0.9, 0.1}};
    for (size_t k = 0; k < 4; k++) check_jacobian(srk, ys[k]);
    /* HH states, including V = -40 and -55 mV where alpha_m and alpha_n are
     * 0/0 (vtrap) and points next to them. */
    static const double yh[][4] = {{-65, 0.05, 0.6, 0.32}, {-40, 0.3, 0.4, 0.5},
                                   {-55, 0.1, 0.5, 0.4},    {-40.00001, 0.3, 0.4, 0.5},
                                   {-54.9999, 0.1, 0.5, 0.4}, {30, 0.9, 0.2, 0.7}};
    for (size_t k = 0; k < 6; k++) check_jacobian(hh, yh[k]);
    CHECK_OK(nm_model_set_param(hh, "celsius", 20.0));
    check_jacobian(hh, yh[1]);
    /* The rate functions are continuous across the 0/0 point. */
    double f0[4], f1[4], par[NM_MODEL_MAX_PARAMS];
    memcpy(par, hh->par, sizeof par);
    double ya[4] = {-40, 0.3, 0.4, 0.5}, yb[4] = {-40 + 1e-9, 0.3, 0.4, 0.5};
    hh->type->rhs(0, ya, f0, par);
    hh->type->rhs(0, yb, f1, par);
    for (size_t i = 0; i < 4; i++) CHECK(isfinite(f0[i]) && fabs(f0[i] - f1[i]) < 1e-6);
done:
    nm_model_free(srk);
    nm_model_free(hh);
}

/* ---- accuracy of the integrator ---------------------------------------- */

static size_t upward_crossings(const nm_series *s, double th, double *t, size_t cap)
{
    size_t k = 0;
    for (size_t i = 1; i < s->n && k < cap; i++)
        if (s->v[i - 1] < th && s->v[i] >= th)
            t[k++] = s->t0_ms + s->dt_ms * ((double)(i - 1) + (th - s->v[i - 1]) / (s->v[i] - s->v[i - 1]));
    return k;
}

/* Spike times (read off the same 5 ms grid, so interpolation bias cancels)
 * of the default options against an rtol 1e-10 run, over 20 s after a 20 s
 * transient.  Measured: 1e-5 ms against rk8pd and 3e-4 ms against msbdf at
 * rtol 1e-10 (the BDF reference's own error dominates).  The reference is
 * made twice: with the same stepper and with a different method family
 * (GSL's variable-order BDF). */
#define ACC_SPIKE_TOL_MS 1e-3
/* Sample-wise V: a spike-time error dt shows up as |dV/dt| dt in V; the
 * upstroke is ~5 mV/ms in SRK but ~400 mV/ms in HH (measured worst case
 * against msbdf: 3e-4 mV SRK, 7e-3 mV HH). */
#define ACC_V_TOL_SRK_MV 1e-3
#define ACC_V_TOL_HH_MV 0.05
#define MAX_SPIKES 4096

static void compare_runs(const nm_series *a, const nm_series *b, double th, double vtol,
                         const char *what)
{
    static double ta[MAX_SPIKES], tb[MAX_SPIKES];
    size_t na = upward_crossings(a, th, ta, MAX_SPIKES), nb = upward_crossings(b, th, tb, MAX_SPIKES);
    CHECK_MSG(na == nb && na > 0, "%s: %zu vs %zu spikes", what, na, nb);
    double worst = 0, worst_v = 0;
    for (size_t i = 0; i < na && i < nb; i++) worst = fmax(worst, fabs(ta[i] - tb[i]));
    for (size_t i = 0; i < a->n && i < b->n; i++) worst_v = fmax(worst_v, fabs(a->v[i] - b->v[i]));
    CHECK_MSG(worst <= ACC_SPIKE_TOL_MS, "%s: spike times differ by up to %g ms", what, worst);
    CHECK_MSG(worst_v <= vtol, "%s: V differs by up to %g mV", what, worst_v);
}

static void test_accuracy_srk(void)
{
    nm_model *m = nm_model_alloc(nm_model_srk);
    CHECK(m != NULL);
    if (!m) return;
    static const double vs[] = {-38.0, -34.5, -31.0};
    for (size_t k = 0; k < 3; k++) {
        CHECK_OK(nm_model_set_control(m, vs[k]));
        nm_sim_opts o;
        nm_sim_opts_default(&o);
        o.duration_ms = 20000;
        nm_series *def = NULL, *tight = NULL, *bdf = NULL;
        CHECK_OK(nm_simulate(m, &o, &def));
        o.rtol = 1e-10;
        o.atol = 1e-12;
        CHECK_OK(nm_simulate(m, &o, &tight));
        o.method = NM_SIM_MSBDF;
        CHECK_OK(nm_simulate(m, &o, &bdf));
        if (def && tight && bdf) {
            CHECK(def->n == 4001 && def->dt_ms == 5.0 && def->t0_ms == 20000.0 && def->p == vs[k]);
            char what[64];
            snprintf(what, sizeof what, "SRK VS=%g default vs rk8pd 1e-10", vs[k]);
            compare_runs(def, tight, -35.0, ACC_V_TOL_SRK_MV, what);
            snprintf(what, sizeof what, "SRK VS=%g default vs msbdf 1e-10", vs[k]);
            compare_runs(def, bdf, -35.0, ACC_V_TOL_SRK_MV, what);
            /* Range of V over a burst (design: about -64 .. -22 mV). */
            double lo = INFINITY, hi = -INFINITY;
            for (size_t i = 0; i < def->n; i++) {
                lo = fmin(lo, def->v[i]);
                hi = fmax(hi, def->v[i]);
            }
            CHECK(lo > -66 && lo < -53 && hi > -25 && hi < -21);
        }
        nm_series_free(def);
        nm_series_free(tight);
        nm_series_free(bdf);
    }
    nm_model_free(m);
}

static void test_accuracy_hh(void)
{
    nm_model *m = nm_model_alloc(nm_model_hh);
    CHECK(m != NULL);
    if (!m) return;
    CHECK_OK(nm_model_set_control(m, 10.0));
    nm_sim_opts o;
    nm_sim_opts_default(&o);
    o.transient_ms = 0;
    o.duration_ms = 300;
    o.dt_ms = 0.025;
    nm_series *def = NULL, *tight = NULL, *bdf = NULL;
    CHECK_OK(nm_simulate(m, &o, &def));
    o.rtol = 1e-10;
    o.atol = 1e-12;
    CHECK_OK(nm_simulate(m, &o, &tight));
    o.method = NM_SIM_MSBDF;
    CHECK_OK(nm_simulate(m, &o, &bdf));
    if (def && tight && bdf) {
        compare_runs(def, tight, 0.0, ACC_V_TOL_HH_MV, "HH I=10 default vs rk8pd 1e-10");
        compare_runs(def, bdf, 0.0, ACC_V_TOL_HH_MV, "HH I=10 default vs msbdf 1e-10");
    }
    nm_series_free(def);
    nm_series_free(tight);
    nm_series_free(bdf);
    nm_model_free(m);
}

/* ---- HH physiology ------------------------------------------------------ */

/* scipy: resting potential -64.99638 mV at the default parameters. */
#define HH_REST_MV (-64.99638)
#define HH_REST_TOL_MV 1e-3

static size_t spikes_after(const nm_series *s, double th, double after_ms, double *first, double *last)
{
    static double t[MAX_SPIKES];
    size_t n = upward_crossings(s, th, t, MAX_SPIKES), k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < after_ms) continue;
        if (k == 0 && first) *first = t[i];
        if (last) *last = t[i];
        k++;
    }
    return k;
}

static void test_hh_rest_and_pulse(void)
{
    nm_model *m = nm_model_alloc(nm_model_hh);
    CHECK(m != NULL);
    if (!m) return;
    double y0[4];
    nm_model_default_state(m, y0);
    CHECK_CLOSE(y0[0], HH_REST_MV, 0, HH_REST_TOL_MV);
    /* scipy steady-state gates at rest: m 0.05296, h 0.59599, n 0.31773. */
    CHECK_CLOSE(y0[1], 0.05296, 0, 1e-4);
    CHECK_CLOSE(y0[2], 0.59599, 0, 1e-4);
    CHECK_CLOSE(y0[3], 0.31773, 0, 1e-4);

    /* At rest it stays at rest. */
    nm_sim_opts o;
    nm_sim_opts_default(&o);
    o.transient_ms = 0;
    o.duration_ms = 200;
    o.dt_ms = 0.05;
    o.record_states = 1;
    nm_series *s = NULL;
    CHECK_OK(nm_simulate(m, &o, &s));
    if (s) {
        double dev = 0;
        for (size_t i = 0; i < s->n; i++) dev = fmax(dev, fabs(s->v[i] - HH_REST_MV));
        CHECK_MSG(dev < HH_REST_TOL_MV, "rest drifts by %g mV", dev);
        CHECK(s->nstates == 4 && s->states != NULL);
    }
    nm_series_free(s);

    /* A brief pulse: I for 1 ms from rest (record_states carries the state
     * over), then I = 0 for 100 ms.  scipy: 10 uA/cm2 gives exactly one spike
     * (peak +39.1 mV), 5 uA/cm2 none (peak -60.8 mV). */
    static const struct { double amp; size_t nspk; double peak; } pulses[] = {{10.0, 1, 39.07},
                                                                             {5.0, 0, -60.79}};
    for (size_t k = 0; k < 2; k++) {
        nm_series *on = NULL, *off = NULL;
        CHECK_OK(nm_model_set_control(m, pulses[k].amp));
        o.duration_ms = 1.0;
        o.dt_ms = 0.01;
        CHECK_OK(nm_simulate(m, &o, &on));
        if (!on) continue;
        CHECK_OK(nm_model_set_control(m, 0.0));
        nm_sim_opts o2 = o;
        o2.y0 = on->states + (on->n - 1) * 4;
        o2.duration_ms = 100.0;
        CHECK_OK(nm_simulate(m, &o2, &off));
        if (off) {
            double peak = -INFINITY;
            for (size_t i = 0; i < off->n; i++) peak = fmax(peak, off->v[i]);
            CHECK(spikes_after(off, 0.0, 0.0, NULL, NULL) == pulses[k].nspk);
            CHECK_CLOSE(peak, pulses[k].peak, 0, 0.05);
            CHECK_CLOSE(off->v[off->n - 1], HH_REST_MV, 0, 0.01); /* back at rest */
        }
        nm_series_free(on);
        nm_series_free(off);
    }
    nm_model_free(m);
}

/* Sustained current steps from rest, 1 s, rate over 200..1000 ms.
 * scipy: the rheobase of sustained firing is 6.2595 uA/cm2 (at 6.2 three
 * spikes and then rest; at 6.3 52.4 Hz); at I = 10, 68.32 Hz. */
#define HH_RATE_I10_HZ 68.32
#define HH_RATE_REL_TOL 0.05

static void test_hh_firing(void)
{
    nm_model *m = nm_model_alloc(nm_model_hh);
    CHECK(m != NULL);
    if (!m) return;
    nm_sim_opts o;
    nm_sim_opts_default(&o);
    o.transient_ms = 0;
    o.duration_ms = 1000;
    o.dt_ms = 0.025;
    static const struct { double I; int sustained; } steps[] = {{6.2, 0}, {6.3, 1}, {10.0, 1}};
    for (size_t k = 0; k < 3; k++) {
        CHECK_OK(nm_model_set_control(m, steps[k].I));
        nm_series *s = NULL;
        CHECK_OK(nm_simulate(m, &o, &s));
        if (!s) continue;
        double first = 0, last = 0;
        size_t late = spikes_after(s, 0.0, 200.0, &first, &last);
        size_t all = spikes_after(s, 0.0, 0.0, NULL, NULL);
        if (!steps[k].sustained) {
            CHECK_MSG(late == 0 && all == 3, "I=%g: %zu spikes, %zu after 200 ms", steps[k].I, all, late);
        } else {
            CHECK_MSG(late > 30, "I=%g: only %zu spikes after 200 ms", steps[k].I, late);
        }
        if (steps[k].I == 10.0 && late > 1) {
            double rate = 1000.0 * (double)(late - 1) / (last - first);
            CHECK_CLOSE(rate, HH_RATE_I10_HZ, HH_RATE_REL_TOL, 0);
            /* Our integrator should in fact agree far better than 5%. */
            CHECK_CLOSE(rate, HH_RATE_I10_HZ, 2e-3, 0);
        }
        nm_series_free(s);
    }
    nm_model_free(m);
}

/* ---- options ------------------------------------------------------------ */

static void test_bad_options(void)
{
    nm_model *m = nm_model_alloc(nm_model_srk);
    CHECK(m != NULL);
    if (!m) return;
    nm_sim_opts o;
    nm_series *s = (nm_series *)&o; /* must be reset to NULL on failure */
#define BAD(field, value, needle)                                                                \
    do {                                                                                         \
        nm_sim_opts_default(&o);                                                                 \
        o.field = value;                                                                         \
        s = (nm_series *)&o;                                                                     \
        CHECK_FAILS(nm_simulate(m, &o, &s), NM_EINVAL, needle);                                  \
        CHECK(s == NULL);                                                                        \
    } while (0)
    BAD(dt_ms, 0.0, "dt_ms must be finite and > 0");
    BAD(dt_ms, -5.0, "dt_ms must be finite and > 0");
    BAD(dt_ms, NAN, "dt_ms must be finite and > 0");
    BAD(dt_ms, 1e6, "dt_ms (1e+06) must not exceed duration_ms");
    BAD(dt_ms, 1e-6, "too many");
    BAD(duration_ms, 0.0, "duration_ms must be finite and > 0");
    BAD(duration_ms, -1.0, "duration_ms must be finite and > 0");
    BAD(duration_ms, INFINITY, "duration_ms must be finite and > 0");
    BAD(transient_ms, -1.0, "transient_ms must be finite and >= 0");
    BAD(transient_ms, NAN, "transient_ms must be finite and >= 0");
    BAD(noise_mv, -0.1, "noise_mv must be finite and >= 0");
    BAD(noise_mv, INFINITY, "noise_mv must be finite and >= 0");
    BAD(rtol, 0.0, "rtol must be in");
    BAD(rtol, 1e-16, "rtol must be in");
    BAD(rtol, 0.5, "rtol must be in");
    BAD(rtol, NAN, "rtol must be in");
    BAD(atol, 0.0, "atol must be finite and > 0");
    BAD(atol, -1e-9, "atol must be finite and > 0");
    BAD(method, (nm_sim_method)2, "unknown method 2");
    double bad_y0[3] = {-50, NAN, 0.4};
    BAD(y0, bad_y0, "initial state n = nan is not finite");
    double far_y0[3] = {-2e4, 0, 0.4};
    BAD(y0, far_y0, "initial V");
#undef BAD
    nm_sim_opts_default(&o);
    CHECK_FAILS(nm_simulate(NULL, &o, &s), NM_EINVAL, "model is NULL");
    CHECK_FAILS(nm_simulate(m, NULL, &s), NM_EINVAL, "options are NULL");
    CHECK_FAILS(nm_simulate(m, &o, NULL), NM_EINVAL, "NULL output");

    /* The sample count is floor(duration/dt)+1, robust to rounding. */
    o.transient_ms = 0;
    o.duration_ms = 0.3;
    o.dt_ms = 0.1;
    s = NULL;
    CHECK_OK(nm_simulate(m, &o, &s));
    CHECK(s && s->n == 4);
    nm_series_free(s);

    /* Divergence is a numerical failure, not a crash or NaN output: with
     * n = -1e6 the K+ term turns into a huge inward current and V explodes
     * within microseconds. */
    nm_sim_opts_default(&o);
    o.transient_ms = 0;
    o.duration_ms = 10;
    double wild[3] = {-50, -1e6, 0.4};
    o.y0 = wild;
    s = (nm_series *)&o;
    CHECK_FAILS(nm_simulate(m, &o, &s), NM_ENUMERIC, "srk: the solution");
    CHECK(s == NULL);
    nm_model_free(m);
}

/* ---- noise ---------------------------------------------------------------- */

static void test_noise_seed(void)
{
    nm_model *m = nm_model_alloc(nm_model_srk);
    CHECK(m != NULL);
    if (!m) return;
    nm_sim_opts o;
    nm_sim_opts_default(&o);
    o.duration_ms = 20000;
    nm_series *clean = NULL, *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(nm_simulate(m, &o, &clean));
    o.noise_mv = 0.5;
    o.seed = 42;
    o.record_states = 1;
    CHECK_OK(nm_simulate(m, &o, &a));
    o.record_states = 0;
    CHECK_OK(nm_simulate(m, &o, &b));
    o.seed = 43;
    CHECK_OK(nm_simulate(m, &o, &c));
    if (clean && a && b && c) {
        CHECK(memcmp(a->v, b->v, a->n * sizeof *a->v) == 0); /* same seed: identical */
        size_t same = 0;
        for (size_t i = 0; i < a->n; i++) same += a->v[i] == c->v[i];
        CHECK(same == 0); /* another seed: different everywhere */
        /* The noise is added to V only, with the requested std: the sample
         * std of n draws lies within 5 standard errors (0.5/sqrt(2n)). */
        double sum = 0, sq = 0;
        for (size_t i = 0; i < a->n; i++) {
            double d = a->v[i] - clean->v[i];
            sum += d;
            sq += d * d;
        }
        double mean = sum / (double)a->n, sd = sqrt(sq / (double)a->n - mean * mean);
        CHECK_CLOSE(sd, 0.5, 0, 5 * 0.5 / sqrt(2.0 * (double)a->n));
        CHECK(fabs(mean) < 5 * 0.5 / sqrt((double)a->n));
        for (size_t i = 0; i < a->n; i++) CHECK(a->states[i * 3] == clean->v[i]);
    }
    nm_series_free(clean);
    nm_series_free(a);
    nm_series_free(b);
    nm_series_free(c);
    nm_model_free(m);
}

/* ---- concurrency: one model, simulated from two threads at once --------- */

typedef struct { const nm_model *m; nm_series *s; nm_status st; } sim_job;

static void *sim_thread(void *arg)
{
    sim_job *j = arg;
    nm_sim_opts o;
    nm_sim_opts_default(&o);
    o.duration_ms = 10000;
    o.noise_mv = 1.0;
    j->st = nm_simulate(j->m, &o, &j->s);
    return NULL;
}

static void test_concurrent(void)
{
    nm_model *m = nm_model_alloc(nm_model_srk);
    CHECK(m != NULL);
    if (!m) return;
    sim_job j[3] = {{m, NULL, 0}, {m, NULL, 0}, {m, NULL, 0}};
    pthread_t t[2];
    for (int k = 0; k < 2; k++) CHECK(pthread_create(&t[k], NULL, sim_thread, &j[k]) == 0);
    sim_thread(&j[2]);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 3; k++) CHECK(j[k].st == NM_OK && j[k].s != NULL);
    if (j[0].s && j[1].s && j[2].s) {
        CHECK(memcmp(j[0].s->v, j[2].s->v, j[2].s->n * sizeof(double)) == 0);
        CHECK(memcmp(j[1].s->v, j[2].s->v, j[2].s->n * sizeof(double)) == 0);
    }
    for (int k = 0; k < 3; k++) nm_series_free(j[k].s);
    nm_model_free(m);
}

int main(void)
{
    NM_RUN(test_type_lookup);
    NM_RUN(test_srk_params);
    NM_RUN(test_hh_params);
    NM_RUN(test_jacobians);
    NM_RUN(test_accuracy_srk);
    NM_RUN(test_accuracy_hh);
    NM_RUN(test_hh_rest_and_pulse);
    NM_RUN(test_hh_firing);
    NM_RUN(test_bad_options);
    NM_RUN(test_noise_seed);
    NM_RUN(test_concurrent);
    return nm_test_report();
}
