/* test_models_input.c -- ground-truth models driven by an injected current
 * (issue 11): the no-input path is unchanged bit for bit, the gain and sign
 * of the current (analytic first response to a step), HH spikes after a
 * suprathreshold step and not after a subthreshold one, ramps, OU
 * statistics, Poisson counts, conductance synapses, seeds, the stiff
 * stepper, and every bad protocol. */
#define _POSIX_C_SOURCE 200809L
#include "models/model.h"
#include "nm_test.h"

static nm_model *model_at(const nm_model_type *t, double p)
{
    nm_model *m = nm_model_alloc(t);
    nm_model_set_control(m, p);
    return m;
}

/* Values of `neuromap simulate --model hh --p 10 --duration 200 --out hh.npy`
 * (float64) made by the tree before inputs existed (commit c308d35). */
static void test_no_input_unchanged(void)
{
    nm_model *m = model_at(nm_model_hh, 10.0);
    nm_sim_opts o;
    nm_model_sim_opts_default(m, &o);
    CHECK(o.input == NULL && o.ninput == 0 && o.input_seed == 1);
    o.duration_ms = 200.0;
    nm_series *s = NULL;
    CHECK_OK(nm_simulate(m, &o, &s));
    if (s) {
        CHECK(s->n == 8001 && s->u == NULL && s->u_unit[0] == '\0');
        CHECK(s->v[0] == 27.98812147022);
        CHECK(s->v[1234] == -38.57610041762259);
        CHECK(s->v[4321] == -70.70597950913195);
        CHECK(s->v[8000] == -62.301285539550726);
    }
    nm_series_free(s);
    nm_model_free(m);
}

static void test_units(void)
{
    nm_model *m = nm_model_alloc(nm_model_srk);
    CHECK(strcmp(nm_model_input_unit(m), "pA") == 0);
    nm_model_free(m);
    m = nm_model_alloc(nm_model_srk_slow);
    CHECK(strcmp(nm_model_input_unit(m), "pA") == 0);
    nm_model_free(m);
    m = nm_model_alloc(nm_model_hh);
    CHECK(strcmp(nm_model_input_unit(m), "uA/cm2") == 0);
    nm_model_free(m);
    m = nm_model_alloc(nm_model_ml1);
    CHECK(strcmp(nm_model_input_unit(m), "uA/cm2") == 0);
    nm_model_free(m);
    m = nm_model_alloc(nm_model_hr);
    CHECK(strcmp(nm_model_input_unit(m), "1") == 0);
    nm_model_free(m);
    CHECK(nm_model_input_unit(NULL) == NULL);
}

static nm_series *run(const nm_model *m, double transient, double duration, double dt, const nm_input *in,
                      size_t nin, uint64_t seed)
{
    nm_sim_opts o;
    nm_model_sim_opts_default(m, &o);
    o.transient_ms = transient;
    o.duration_ms = duration;
    o.dt_ms = dt;
    o.input = in;
    o.ninput = nin;
    o.input_seed = seed;
    nm_series *s = NULL;
    nm_status st = nm_simulate(m, &o, &s);
    if (st) fprintf(stderr, "simulate: %s\n", nm_last_error());
    return s;
}

static size_t count_up(const nm_series *s, double thr, size_t from, size_t to)
{
    size_t c = 0;
    for (size_t i = from + 1; i < to && i < s->n; i++) c += s->v[i - 1] < thr && s->v[i] >= thr;
    return c;
}

/* Right after a step of I at t0, dV/dt jumps by gain*I: the difference to
 * the run without the step grows as I*delta/C.  HH: C = 1 uF/cm2, so
 * 10 uA/cm2 for 0.05 ms gives 0.5 mV; SRK: C = 5.3 pF, 10 pA for 0.5 ms
 * gives 0.943 mV (before the ionic currents respond, a few % here). */
static void test_step_gain(void)
{
    struct { const nm_model_type *t; double p, amp, t0, delta, want; } c[] = {
        {nm_model_hh, 0.0, 10.0, 20.0, 0.05, 0.5},
        {nm_model_srk, -46.0, 10.0, 2000.0, 0.5, 10.0 * 0.5 / NM_SRK_CM_PF},
        {nm_model_ml1, 0.0, 20.0, 100.0, 0.05, 20.0 * 0.05 / 20.0},
        {nm_model_hr, 1.0, 0.1, 100.0, 0.05, 0.1 * 0.05 * 25.0 / 5.0},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        nm_model *m = model_at(c[k].t, c[k].p);
        nm_input in = {.kind = NM_INPUT_STEP, .t0_ms = c[k].t0, .t1_ms = 0, .amp = c[k].amp};
        nm_input zero = {.kind = NM_INPUT_STEP, .t0_ms = c[k].t0, .amp = 0.0};
        const double dt = c[k].delta;
        nm_series *a = run(m, 0.0, c[k].t0 + 4 * dt, dt, &in, 1, 1);
        nm_series *b = run(m, 0.0, c[k].t0 + 4 * dt, dt, &zero, 1, 1);
        if (a && b) {
            size_t i0 = (size_t)llround(c[k].t0 / dt);
            CHECK_CLOSE(a->v[i0], b->v[i0], 0, 1e-9); /* nothing before the onset */
            CHECK_MSG(fabs((a->v[i0 + 1] - b->v[i0 + 1]) - c[k].want) < 0.05 * c[k].want,
                      "%s: dV after %g ms = %g, want %g", c[k].t->name, dt, a->v[i0 + 1] - b->v[i0 + 1],
                      c[k].want);
            CHECK(a->u && a->u[i0 - 1] == 0.0);
            CHECK(a->u && fabs(a->u[i0] - c[k].amp) < 1e-9 * c[k].amp);
            CHECK(strcmp(a->u_unit, nm_model_input_unit(m)) == 0);
        }
        nm_series_free(a);
        nm_series_free(b);
        nm_model_free(m);
    }
}

/* HH from rest: a 10 uA/cm2 step at 50 ms fires within 5 ms (none before);
 * 2 uA/cm2 does not fire and depolarises by a few mV; the step ends at
 * 150 ms (t1) and the cell returns to rest. */
static void test_hh_steps(void)
{
    nm_model *m = model_at(nm_model_hh, 0.0);
    const double dt = 0.025;
    nm_input supra = {.kind = NM_INPUT_STEP, .t0_ms = 50.0, .t1_ms = 150.0, .amp = 10.0};
    nm_series *s = run(m, 0.0, 300.0, dt, &supra, 1, 1);
    if (s) {
        size_t i0 = (size_t)llround(50.0 / dt), i5 = (size_t)llround(55.0 / dt);
        CHECK(count_up(s, 0.0, 0, i0) == 0);
        CHECK_MSG(count_up(s, 0.0, i0, i5) == 1, "spikes within 5 ms of the step: %zu", count_up(s, 0.0, i0, i5));
        size_t nsp = count_up(s, 0.0, i0, (size_t)llround(150.0 / dt));
        CHECK_MSG(nsp >= 5 && nsp <= 8, "spikes during the 100 ms step: %zu (HH ~ 68 Hz at 10)", nsp);
        CHECK(count_up(s, 0.0, (size_t)llround(160.0 / dt), s->n) == 0);
        CHECK(fabs(s->v[s->n - 1] + 65.0) < 0.5);
        const size_t i1 = (size_t)llround(150.0 / dt);
        CHECK_MSG(s->u[i0 - 1] == 0 && fabs(s->u[i0] - 10.0) < 1e-9 && fabs(s->u[i1 - 1] - 10.0) < 1e-9 &&
                  fabs(s->u[i1]) < 1e-9, "u around the step: %.17g %.17g %.17g %.17g", s->u[i0 - 1], s->u[i0],
                  s->u[i1 - 1], s->u[i1]);
    }
    nm_series_free(s);
    nm_input sub = {.kind = NM_INPUT_STEP, .t0_ms = 50.0, .t1_ms = 0.0, .amp = 2.0};
    s = run(m, 0.0, 300.0, dt, &sub, 1, 1);
    if (s) {
        CHECK(count_up(s, 0.0, 0, s->n) == 0);
        CHECK_MSG(s->v[s->n - 1] > -64.0 && s->v[s->n - 1] < -60.0, "V at 2 uA/cm2: %g", s->v[s->n - 1]);
    }
    nm_series_free(s);
    /* A step from t = 0 for the whole run is the control parameter: the
     * same spikes as hh at p = 10. */
    nm_input whole = {.kind = NM_INPUT_STEP, .t0_ms = 0.0, .amp = 10.0};
    s = run(m, 0.0, 200.0, dt, &whole, 1, 1);
    nm_model *m10 = model_at(nm_model_hh, 10.0);
    nm_series *r = run(m10, 0.0, 200.0, dt, NULL, 0, 1);
    if (s && r) {
        double e = 0;
        for (size_t i = 0; i < s->n; i++) e = fmax(e, fabs(s->v[i] - r->v[i]));
        CHECK_MSG(e < 1e-3, "step from 0 vs p = 10: max |dV| = %g mV", e);
    }
    nm_series_free(s);
    nm_series_free(r);
    nm_model_free(m10);
    nm_model_free(m);
}

/* A ramp's interval means are the ramp at the interval midpoints; a
 * staircase of steps sums. */
static void test_ramp_and_sum(void)
{
    nm_model *m = model_at(nm_model_hh, 0.0);
    nm_input in[3] = {
        {.kind = NM_INPUT_RAMP, .t0_ms = 10.0, .t1_ms = 30.0, .amp = -1.0, .amp1 = 3.0},
        {.kind = NM_INPUT_STEP, .t0_ms = 20.0, .t1_ms = 40.0, .amp = 0.5},
        {.kind = NM_INPUT_STEP, .t0_ms = 25.0, .amp = 0.25},
    };
    const double dt = 0.5;
    nm_series *s = run(m, 0.0, 50.0, dt, in, 3, 1);
    if (s) {
        double e = 0;
        for (size_t i = 0; i < s->n; i++) {
            double t = (double)i * dt, mid = t + 0.5 * dt, want = 0;
            if (t >= 10 && t < 30) want += -1.0 + 4.0 * (mid - 10.0) / 20.0;
            if (t >= 20 && t < 40) want += 0.5;
            if (t >= 25) want += 0.25;
            e = fmax(e, fabs(s->u[i] - want));
        }
        CHECK_MSG(e < 1e-9, "ramp + steps: max |u - want| = %g", e);
    }
    nm_series_free(s);
    /* A 50-us pulse of 40 uA/cm2 inside one 1-ms sampling interval, off the
     * grid: neither moved to a sample time nor stepped over by the adaptive
     * stepper (at rest it takes steps of several ms).  u[10] = 40 * 0.05;
     * V jumps by I delta / C = 2 mV (1.56 mV left 0.65 ms later). */
    nm_input pulse = {.kind = NM_INPUT_STEP, .t0_ms = 10.3, .t1_ms = 10.35, .amp = 40.0};
    s = run(m, 0.0, 20.0, 1.0, &pulse, 1, 1);
    if (s) {
        double other = 0;
        for (size_t i = 0; i < s->n; i++)
            if (i != 10) other = fmax(other, fabs(s->u[i]));
        CHECK_MSG(fabs(s->u[10] - 2.0) < 1e-9 && other == 0, "pulse: u[10] = %.12g, elsewhere max %g", s->u[10],
                  other);
        CHECK_MSG(s->v[11] - s->v[10] > 1.2 && s->v[11] - s->v[10] < 2.0, "pulse: V rose by %g mV",
                  s->v[11] - s->v[10]);
    }
    nm_series_free(s);
    nm_model_free(m);
}

static double mean_of(const double *x, size_t n)
{
    double a = 0;
    for (size_t i = 0; i < n; i++) a += x[i];
    return a / (double)n;
}

/* OU current: mean, SD and autocorrelation exp(-lag/tau) over a long run
 * (SRK, silent at VS = -46, 1 ms sampling, 200 s: 20,000 correlation
 * times; the standard error of the mean is sd sqrt(2 tau/T) = 0.03). */
static void test_ou_statistics(void)
{
    nm_model *m = model_at(nm_model_srk, -46.0);
    nm_input ou = {.kind = NM_INPUT_OU, .amp = 2.0, .sd = 3.0, .tau_ms = 10.0};
    nm_series *s = run(m, 1000.0, 200000.0, 1.0, &ou, 1, 42);
    if (s) {
        const size_t n = s->n;
        double mu = mean_of(s->u, n), var = 0;
        for (size_t i = 0; i < n; i++) var += (s->u[i] - mu) * (s->u[i] - mu);
        var /= (double)(n - 1);
        CHECK_MSG(fabs(mu - 2.0) < 0.15, "OU mean %g, want 2", mu);
        CHECK_MSG(fabs(sqrt(var) - 3.0) < 0.15, "OU SD %g, want 3", sqrt(var));
        for (size_t lag = 1; lag <= 20; lag *= 2) {
            double c = 0;
            for (size_t i = 0; i + lag < n; i++) c += (s->u[i] - mu) * (s->u[i + lag] - mu);
            c /= (double)(n - lag) * var;
            double want = exp(-(double)lag / 10.0);
            CHECK_MSG(fabs(c - want) < 0.03, "OU autocorrelation at lag %zu ms: %g, want %g", lag, c, want);
        }
        /* held over each sampling interval: every u is an exact OU sample */
        CHECK(s->v[0] < -55.0); /* silent: the cell stays near rest (mean 2 pA) */
    }
    nm_series_free(s);
    nm_model_free(m);
}

/* Current-based Poisson events with a decay (0.2 ms) much shorter than the
 * sampling step (1 ms): each event delivers the charge W tau, so the charge
 * counts the events.  Over 100 s at 100 Hz: 10,000 +- 3 sqrt(10,000); per
 * 1-s window the variance over the mean (Fano factor) is ~1.  The events
 * must not be smeared or missed by the adaptive stepper. */
static void test_poisson_counts(void)
{
    nm_model *m = model_at(nm_model_srk, -46.0);
    const double W = 5.0, tau = 0.2, rate = 100.0, T = 100000.0, dt = 1.0;
    nm_input ps = {.kind = NM_INPUT_POISSON, .amp = W, .tau_ms = tau, .rate_hz = rate};
    nm_series *s = run(m, 100.0, T - dt, dt, &ps, 1, 3);
    if (s) {
        double q = 0;
        for (size_t i = 0; i < s->n; i++) q += s->u[i] * dt;
        double nev = q / (W * tau), want = rate * T / 1000.0;
        CHECK_MSG(fabs(nev - want) < 3.0 * sqrt(want), "Poisson events %g, want %g +- %g", nev, want,
                  3.0 * sqrt(want));
        /* counts in 1-s windows */
        const size_t w = 1000, nw = s->n / w;
        double c[100], cm = 0, cv = 0;
        for (size_t k = 0; k < nw && k < 100; k++) {
            c[k] = 0;
            for (size_t i = 0; i < w; i++) c[k] += s->u[k * w + i] * dt / (W * tau);
            cm += c[k];
        }
        cm /= (double)nw;
        for (size_t k = 0; k < nw; k++) cv += (c[k] - cm) * (c[k] - cm);
        cv /= (double)(nw - 1);
        CHECK_MSG(cv / cm > 0.6 && cv / cm < 1.5, "Fano factor %g (mean count %g)", cv / cm, cm);
        /* every interval's mean is a whole number of decayed events: u >= 0 */
        double umin = 0;
        for (size_t i = 0; i < s->n; i++) umin = fmin(umin, s->u[i]);
        CHECK(umin >= 0);
    }
    nm_series_free(s);
    /* Negative weights (inhibitory currents) give negative u. */
    ps.amp = -W;
    s = run(m, 100.0, 10000.0, dt, &ps, 1, 3);
    if (s) {
        double umax = 0;
        for (size_t i = 0; i < s->n; i++) umax = fmax(umax, s->u[i]);
        CHECK(umax <= 0 && mean_of(s->u, s->n) < -0.05);
    }
    nm_series_free(s);
    nm_model_free(m);
}

/* Conductance synapses: the same seed and component index give the same
 * event times as a current-based train, so with the cell near rest the
 * current is the conductance times (E - V): u_syn ~ u_poisson (E - V).
 * Excitatory (E = 0) depolarises (u > 0), inhibitory (E = -90 mV, V about
 * -61 mV) hyperpolarises (u < 0). */
static void test_conductance_synapse(void)
{
    nm_model *m = model_at(nm_model_srk, -46.0);
    const double dt = 1.0;
    nm_input syn = {.kind = NM_INPUT_SYN, .amp = 0.05, .tau_ms = 5.0, .rate_hz = 200.0, .erev_mv = 0.0};
    nm_input cur = {.kind = NM_INPUT_POISSON, .amp = 0.05, .tau_ms = 5.0, .rate_hz = 200.0};
    nm_series *a = run(m, 1000.0, 20000.0, dt, &syn, 1, 11);
    nm_series *b = run(m, 1000.0, 20000.0, dt, &cur, 1, 11);
    if (a && b) {
        double emax = 0, umin = 1;
        for (size_t i = 0; i + 1 < a->n; i++) {
            double vmid = 0.5 * (a->v[i] + a->v[i + 1]);
            emax = fmax(emax, fabs(a->u[i] - b->u[i] * (0.0 - vmid)));
            umin = fmin(umin, a->u[i]);
        }
        double scale = 0;
        for (size_t i = 0; i < a->n; i++) scale = fmax(scale, fabs(a->u[i]));
        CHECK_MSG(emax < 0.02 * scale, "u_syn vs g (E - V): max error %g of %g", emax, scale);
        CHECK(umin >= 0 && mean_of(a->u, a->n) > 1.0);
        double vmean_a = mean_of(a->v, a->n);
        nm_series *r = run(m, 1000.0, 20000.0, dt, NULL, 0, 11);
        CHECK(r && vmean_a > mean_of(r->v, r->n) + 0.5); /* depolarised */
        nm_series_free(r);
    }
    nm_series_free(a);
    nm_series_free(b);
    syn.erev_mv = -90.0;
    a = run(m, 1000.0, 5000.0, dt, &syn, 1, 11);
    if (a) {
        double umax = -1;
        for (size_t i = 0; i < a->n; i++) umax = fmax(umax, a->u[i]);
        CHECK(umax <= 0 && mean_of(a->u, a->n) < -0.5);
    }
    nm_series_free(a);
    nm_model_free(m);
}

static int same_series(const nm_series *a, const nm_series *b)
{
    if (!a || !b || a->n != b->n) return 0;
    return memcmp(a->v, b->v, a->n * sizeof *a->v) == 0 && memcmp(a->u, b->u, a->n * sizeof *a->u) == 0;
}

/* Same seed, same series (bit for bit); another seed, another; the noise
 * seed does not change the input. */
static void test_seeds(void)
{
    nm_model *m = model_at(nm_model_hh, 0.0);
    nm_input in[2] = {{.kind = NM_INPUT_OU, .amp = 5.0, .sd = 4.0, .tau_ms = 2.0},
                      {.kind = NM_INPUT_SYN, .amp = 0.1, .tau_ms = 3.0, .rate_hz = 50.0, .erev_mv = 0.0}};
    nm_series *a = run(m, 50.0, 200.0, 0.1, in, 2, 5);
    nm_series *b = run(m, 50.0, 200.0, 0.1, in, 2, 5);
    nm_series *c = run(m, 50.0, 200.0, 0.1, in, 2, 6);
    CHECK(same_series(a, b));
    CHECK(a && c && !same_series(a, c));
    nm_sim_opts o;
    nm_model_sim_opts_default(m, &o);
    o.transient_ms = 50.0;
    o.duration_ms = 200.0;
    o.dt_ms = 0.1;
    o.input = in;
    o.ninput = 2;
    o.input_seed = 5;
    o.noise_mv = 1.0;
    o.seed = 99;
    nm_series *d = NULL;
    CHECK_OK(nm_simulate(m, &o, &d));
    CHECK(a && d && memcmp(a->u, d->u, a->n * sizeof *a->u) == 0);
    /* the stiff stepper with the extended Jacobian agrees */
    o.noise_mv = 0;
    o.method = NM_SIM_MSBDF;
    o.rtol = 1e-9;
    o.atol = 1e-11;
    nm_series *e = NULL;
    CHECK_OK(nm_simulate(m, &o, &e));
    if (a && e) {
        double dv = 0, du = 0;
        for (size_t i = 0; i < a->n; i++) {
            dv = fmax(dv, fabs(a->v[i] - e->v[i]));
            du = fmax(du, fabs(a->u[i] - e->u[i]));
        }
        CHECK_MSG(dv < 0.05 && du < 0.01, "msbdf vs rk8pd: |dV| %g mV, |du| %g", dv, du);
    }
    nm_series_free(a);
    nm_series_free(b);
    nm_series_free(c);
    nm_series_free(d);
    nm_series_free(e);
    nm_model_free(m);
}

static void bad(const nm_input *in, size_t nin, const char *needle)
{
    nm_model *m = nm_model_alloc(nm_model_hh);
    nm_sim_opts o;
    nm_model_sim_opts_default(m, &o);
    o.duration_ms = 10;
    o.input = in;
    o.ninput = nin;
    nm_series *s = (nm_series *)1;
    CHECK_FAILS(nm_simulate(m, &o, &s), NM_EINVAL, needle);
    CHECK(s == NULL);
    nm_model_free(m);
}

static void test_bad_protocols(void)
{
    nm_input in = {.kind = NM_INPUT_STEP, .amp = 1};
    bad(NULL, 1, "ninput = 1 but the input list is NULL");
    bad(&in, NM_INPUT_MAX_COMPONENTS + 1, "1025 input components, at most 1024");
    in.kind = (nm_input_kind)9;
    bad(&in, 1, "input 0: unknown kind 9");
    nm_input c[2] = {{.kind = NM_INPUT_STEP, .amp = 1}, {.kind = NM_INPUT_STEP, .amp = NAN}};
    bad(c, 2, "input 1 (step): amplitude must be finite with |amp| <= 1e+06 (got nan)");
    c[1].amp = 2e6;
    bad(c, 2, "input 1 (step): amplitude must be finite");
    c[1] = (nm_input){.kind = NM_INPUT_STEP, .t0_ms = INFINITY};
    bad(c, 2, "input 1 (step): t0_ms and t1_ms must be finite");
    c[1] = (nm_input){.kind = NM_INPUT_RAMP, .t0_ms = 10, .t1_ms = 10};
    bad(c, 2, "input 1 (ramp): t1_ms (10) must be > t0_ms (10)");
    c[1] = (nm_input){.kind = NM_INPUT_RAMP, .t0_ms = 10, .t1_ms = 20, .amp1 = -1e7};
    bad(c, 2, "input 1 (ramp): end amplitude");
    c[1] = (nm_input){.kind = NM_INPUT_OU, .sd = -1, .tau_ms = 1};
    bad(c, 2, "input 1 (ou): sd must be in [0, 1e+06] (got -1)");
    c[1] = (nm_input){.kind = NM_INPUT_OU, .sd = 1, .tau_ms = 0};
    bad(c, 2, "input 1 (ou): tau_ms must be finite and > 0 (got 0)");
    c[1] = (nm_input){.kind = NM_INPUT_POISSON, .amp = 1, .tau_ms = 1, .rate_hz = -1};
    bad(c, 2, "input 1 (poisson): rate_hz must be in [0, 100000] (got -1)");
    c[1].rate_hz = 2e5;
    bad(c, 2, "input 1 (poisson): rate_hz must be in [0, 100000] (got 200000)");
    c[1] = (nm_input){.kind = NM_INPUT_SYN, .amp = -0.1, .tau_ms = 1, .rate_hz = 10};
    bad(c, 2, "input 1 (syn): the conductance weight must be >= 0 (got -0.1)");
    c[1] = (nm_input){.kind = NM_INPUT_SYN, .amp = 0.1, .tau_ms = 1, .rate_hz = 10, .erev_mv = NAN};
    bad(c, 2, "input 1 (syn): erev_mv must be finite");
    c[1] = (nm_input){.kind = NM_INPUT_SYN, .amp = 0.1, .tau_ms = -1, .rate_hz = 10};
    bad(c, 2, "input 1 (syn): tau_ms must be finite and > 0");
}

int main(void)
{
    NM_RUN(test_no_input_unchanged);
    NM_RUN(test_units);
    NM_RUN(test_step_gain);
    NM_RUN(test_hh_steps);
    NM_RUN(test_ramp_and_sum);
    NM_RUN(test_ou_statistics);
    NM_RUN(test_poisson_counts);
    NM_RUN(test_conductance_synapse);
    NM_RUN(test_seeds);
    NM_RUN(test_bad_protocols);
    return nm_test_report();
}
