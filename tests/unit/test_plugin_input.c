/* test_plugin_input.c -- input-driven NEURON cells in C (issue 11): the
 * exactly integrated current synapse (nm_plugin_syn_*), the nA -> model unit
 * factor (nm_plugin_unit_factor / nm_plugin_input_factor), the input info and
 * the driven step (nm_plugin_step_u) against nm_learned_run_u bit for bit,
 * with clamping counted; a model without input ignores u.
 *
 * Two tiny models are trained here (what they learn does not matter): HH
 * under OU current (an input channel in uA/cm2) and SRK without input. */
#define _POSIX_C_SOURCE 200809L
#include "neuromap.h"
#include "nm_test.h"
#include "nm_test_model.h"

#include <stdio.h>

static char input_path[512], plain_path[512];

static void test_unit_factor(void)
{
    double f = -1;
    CHECK_OK(nm_plugin_unit_factor("nA", 0, &f));
    CHECK(f == 1);
    CHECK_OK(nm_plugin_unit_factor("pA", 0, &f));
    CHECK(f == 1000);
    CHECK_OK(nm_plugin_unit_factor("uA", 0, &f));
    CHECK(f == 1e-3);
    CHECK_OK(nm_plugin_unit_factor("1", 0, &f));
    CHECK(f == 1);
    CHECK_OK(nm_plugin_unit_factor("", 0, &f));
    CHECK(f == 0);
    /* 1 nA on 1000 um2 (1e-5 cm2) = 1e-3 uA / 1e-5 cm2 = 100 uA/cm2 = 0.1 mA/cm2 */
    CHECK_OK(nm_plugin_unit_factor("uA/cm2", 1000, &f));
    CHECK_CLOSE(f, 100, 1e-15, 0);
    CHECK_OK(nm_plugin_unit_factor("uA_cm2", 1000, &f)); /* the CSV spelling */
    CHECK_CLOSE(f, 100, 1e-15, 0);
    CHECK_OK(nm_plugin_unit_factor("mA/cm2", 1000, &f));
    CHECK_CLOSE(f, 0.1, 1e-15, 0);
    CHECK_OK(nm_plugin_unit_factor("nA", -5, &f)); /* the area is not needed: ignored */
    CHECK(f == 1);
    CHECK_FAILS(nm_plugin_unit_factor("uA/cm2", 0, &f), NM_EINVAL, "area_um2");
    CHECK_FAILS(nm_plugin_unit_factor("mA/cm2", NAN, &f), NM_EINVAL, "mA/cm2");
    CHECK_FAILS(nm_plugin_unit_factor("uA/cm2", INFINITY, &f), NM_EINVAL, "area_um2");
    CHECK_FAILS(nm_plugin_unit_factor("mV", 100, &f), NM_EINVAL, "mV");
    CHECK_FAILS(nm_plugin_unit_factor(NULL, 100, &f), NM_EINVAL, "NULL");
}

/* One event mid-step: the mean is w tau/dt (1 - exp(-(t1 - tk)/tau)). */
static void test_syn_exact(void)
{
    const double tau = 2.0, dt = 0.1, w = 0.7, t0 = 0, tk = 0.037;
    double s[NM_PLUGIN_SYN_SIZE], mean = 0;
    CHECK_OK(nm_plugin_syn_init(s, t0));
    CHECK_OK(nm_plugin_syn_event(s, tau, tk, w));
    CHECK_OK(nm_plugin_syn_mean(s, tau, dt, dt, 0.0, &mean));
    double want = w * tau / dt * (1 - exp(-(dt - tk) / tau));
    CHECK_CLOSE(mean, want, 1e-14, 0);
    /* the next step: w exp(-(dt - tk)/tau) decaying over a whole step */
    CHECK_OK(nm_plugin_syn_mean(s, tau, 2 * dt, dt, 0.25, &mean));
    want = w * exp(-(dt - tk) / tau) * tau / dt * (1 - exp(-dt / tau)) + 0.25;
    CHECK_CLOSE(mean, want, 1e-14, 0);
    CHECK_CLOSE(s[0], w * exp(-(2 * dt - tk) / tau), 1e-14, 0);

    /* Many steps: the total charge is w tau (1 - exp(-(T - tk)/tau)). */
    double sum = 0;
    CHECK_OK(nm_plugin_syn_init(s, t0));
    CHECK_OK(nm_plugin_syn_event(s, tau, tk, w));
    for (int k = 1; k <= 200; k++) {
        CHECK_OK(nm_plugin_syn_mean(s, tau, k * dt, dt, 0.0, &mean));
        sum += mean * dt;
    }
    CHECK_CLOSE(sum, w * tau * (1 - exp(-(200 * dt - tk) / tau)), 1e-13, 0);

    /* tau = +inf: a step current. */
    CHECK_OK(nm_plugin_syn_init(s, t0));
    CHECK_OK(nm_plugin_syn_event(s, INFINITY, tk, w));
    CHECK_OK(nm_plugin_syn_mean(s, INFINITY, dt, dt, 0.0, &mean));
    CHECK_CLOSE(mean, w * (dt - tk) / dt, 1e-15, 0);
    CHECK_OK(nm_plugin_syn_mean(s, INFINITY, 2 * dt, dt, 0.0, &mean));
    CHECK_CLOSE(mean, w, 1e-15, 0);
    /* a huge tau behaves like a step too (expm1: no cancellation) */
    CHECK_OK(nm_plugin_syn_init(s, t0));
    CHECK_OK(nm_plugin_syn_event(s, 1e300, tk, w));
    CHECK_OK(nm_plugin_syn_mean(s, 1e300, dt, dt, 0.0, &mean));
    CHECK_CLOSE(mean, w * (dt - tk) / dt, 1e-15, 0);

    /* w = 0 does nothing, not even bring the state up to date */
    CHECK_OK(nm_plugin_syn_init(s, t0));
    CHECK_OK(nm_plugin_syn_event(s, tau, tk, 0.0));
    CHECK(s[0] == 0 && s[1] == t0 && s[2] == 0);
}

/* An event exactly at a step time gives the same means before or after the
 * step (NEURON may deliver either first). */
static void test_syn_order(void)
{
    const double tau = 3.0, dt = 0.1, w = 1.3;
    double a[NM_PLUGIN_SYN_SIZE], b[NM_PLUGIN_SYN_SIZE], ma[3], mb[3];
    CHECK_OK(nm_plugin_syn_init(a, 0));
    CHECK_OK(nm_plugin_syn_init(b, 0));
    CHECK_OK(nm_plugin_syn_event(a, tau, 0.05, w));
    CHECK_OK(nm_plugin_syn_event(b, tau, 0.05, w));
    CHECK_OK(nm_plugin_syn_event(a, tau, 0.1, w)); /* event, then step */
    CHECK_OK(nm_plugin_syn_mean(a, tau, 0.1, dt, 0, &ma[0]));
    CHECK_OK(nm_plugin_syn_mean(b, tau, 0.1, dt, 0, &mb[0])); /* step, then event */
    CHECK_OK(nm_plugin_syn_event(b, tau, 0.1, w));
    for (int k = 1; k < 3; k++) {
        CHECK_OK(nm_plugin_syn_mean(a, tau, 0.1 * (k + 1), dt, 0, &ma[k]));
        CHECK_OK(nm_plugin_syn_mean(b, tau, 0.1 * (k + 1), dt, 0, &mb[k]));
    }
    CHECK(memcmp(ma, mb, sizeof ma) == 0);
    /* an event a rounding error before the last time counts at that time */
    double s0[NM_PLUGIN_SYN_SIZE];
    CHECK_OK(nm_plugin_syn_init(s0, 1.0));
    CHECK_OK(nm_plugin_syn_event(s0, tau, 1.0 - 1e-15, w));
    CHECK(s0[0] == w && s0[1] == 1.0 && s0[2] == 0);
}

/* syn_means = the same calls made by hand. */
static void test_syn_means(void)
{
    const double tau = 2.0, dt = 0.1, ib = 0.05, t0 = 0.0;
    const double tev[] = {0.0, 0.037, 0.2, 0.2, 0.333, 1.05};
    const double wev[] = {0.3, 0.7, -0.2, 0.0, 0.5, 2.0};
    const size_t nev = 6, n = 12;
    double got[12], want[12], s[NM_PLUGIN_SYN_SIZE];
    CHECK_OK(nm_plugin_syn_means(tau, ib, t0, dt, tev, wev, nev, n, got));
    CHECK_OK(nm_plugin_syn_init(s, t0));
    size_t j = 0;
    for (size_t k = 1; k <= n; k++) {
        double tk = t0 + (double)k * dt;
        while (j < nev && tev[j] < tk) {
            CHECK_OK(nm_plugin_syn_event(s, tau, tev[j], wev[j]));
            j++;
        }
        CHECK_OK(nm_plugin_syn_mean(s, tau, tk, dt, ib, &want[k - 1]));
    }
    CHECK(memcmp(got, want, sizeof got) == 0);
    /* the last step (1.1 ms) sees the event at 1.05 ms mid-step */
    CHECK(got[10] > ib + 0.5 * 2.0 * 0.9);

    const double bad_t[] = {0.5, 0.2};
    CHECK_FAILS(nm_plugin_syn_means(tau, ib, t0, dt, bad_t, wev, 2, n, got), NM_EINVAL, "sorted");
    const double nan_w[] = {0.3, NAN};
    CHECK_FAILS(nm_plugin_syn_means(tau, ib, t0, dt, tev, nan_w, 2, n, got), NM_EINVAL, "wi");
    CHECK_FAILS(nm_plugin_syn_means(0.0, ib, t0, dt, tev, wev, nev, n, got), NM_EINVAL, "tau_syn");
    CHECK_FAILS(nm_plugin_syn_means(tau, NAN, t0, dt, tev, wev, nev, n, got), NM_EINVAL, "ibias");
    CHECK_FAILS(nm_plugin_syn_means(tau, ib, t0, 0.0, tev, wev, nev, n, got), NM_EINVAL, "dt");
}

static void test_syn_errors(void)
{
    double s[NM_PLUGIN_SYN_SIZE], mean = 0;
    CHECK_OK(nm_plugin_syn_init(s, 0));
    CHECK_OK(nm_plugin_syn_event(s, 2.0, 0.01, 1.0));
    double keep[NM_PLUGIN_SYN_SIZE];
    memcpy(keep, s, sizeof s);
    CHECK_FAILS(nm_plugin_syn_event(s, 0.0, 0.02, 1.0), NM_EINVAL, "tau_syn = 0");
    CHECK_FAILS(nm_plugin_syn_event(s, -1.0, 0.02, 1.0), NM_EINVAL, "> 0");
    CHECK_FAILS(nm_plugin_syn_event(s, NAN, 0.02, 1.0), NM_EINVAL, "tau_syn");
    CHECK_FAILS(nm_plugin_syn_event(s, 2.0, 0.02, NAN), NM_EINVAL, "not finite");
    CHECK_FAILS(nm_plugin_syn_event(s, 2.0, 0.02, INFINITY), NM_EINVAL, "wi");
    CHECK_FAILS(nm_plugin_syn_mean(s, 0.0, 0.1, 0.1, 0, &mean), NM_EINVAL, "tau_syn");
    CHECK_FAILS(nm_plugin_syn_mean(s, 2.0, 0.1, 0.1, NAN, &mean), NM_EINVAL, "ibias");
    CHECK_FAILS(nm_plugin_syn_mean(s, 2.0, 0.1, -0.1, 0, &mean), NM_EINVAL, "dt");
    CHECK(memcmp(keep, s, sizeof s) == 0);
    /* an overflowing mean: refused, the state unchanged */
    CHECK_FAILS(nm_plugin_syn_mean(s, 2.0, 0.1, 1e-320, 0, &mean), NM_EINVAL, "not finite");
    CHECK(memcmp(keep, s, sizeof s) == 0);
    CHECK_FAILS(nm_plugin_syn_init(NULL, 0), NM_EINVAL, "NULL");
    CHECK_FAILS(nm_plugin_syn_init(s, NAN), NM_EINVAL, "time");
}

/* The driven step against nm_learned_run_u, bit for bit, clamping counted. */
static void test_step_u(void)
{
    int h = 0, has = -1;
    CHECK_OK(nm_plugin_acquire(input_path, &h));
    if (!h) return;
    double lo = 0, hi = 0, f = 0;
    char unit[16] = "x";
    CHECK_OK(nm_plugin_input_info(h, &has, &lo, &hi, unit, sizeof unit));
    CHECK(has == 1 && lo < hi && strcmp(unit, "uA/cm2") == 0);
    CHECK_FAILS(nm_plugin_input_factor(h, 0, &f), NM_EINVAL, "uA/cm2");
    CHECK_OK(nm_plugin_input_factor(h, 1000, &f));
    CHECK_CLOSE(f, 100, 1e-15, 0);

    const nm_learned *m = nm_plugin_get(h);
    size_t D = nm_learned_dim(m), n = 300;
    double u[300], v[300], xs[300 * NM_PLUGIN_MAX_DIM];
    for (size_t k = 0; k < n; k++) {
        /* within range, then above, then below it */
        u[k] = k < 100 ? lo + (hi - lo) * (0.5 + 0.4 * sin(0.1 * (double)k)) : k < 200 ? hi + 5 : lo - 5;
    }
    size_t nclamped = 0;
    CHECK_OK(nm_learned_run_u(m, 0.0, u, NULL, n, v, xs, &nclamped));
    CHECK(nclamped == 200);
    double x[NM_PLUGIN_MAX_DIM], vv = 0, used = 0;
    CHECK_OK(nm_plugin_init(h, x, &vv));
    int c = 0, nc = 0, same = 1;
    for (size_t k = 0; k < n; k++) {
        CHECK_OK(nm_plugin_step_u(h, 0.0, u[k], x, &vv, &used, &c));
        nc += c;
        same = same && vv == v[k] && memcmp(x, xs + k * D, D * sizeof *x) == 0;
        if (k == 150) CHECK(c == 1 && used == hi);
        if (k == 250) CHECK(c == 1 && used == lo);
        if (k == 50) CHECK(c == 0 && used == u[k]);
    }
    CHECK_MSG(same, "nm_plugin_step_u differs from nm_learned_run_u");
    CHECK(nc == 200);
    double keep[NM_PLUGIN_MAX_DIM];
    memcpy(keep, x, sizeof x);
    CHECK_FAILS(nm_plugin_step_u(h, 0.0, NAN, x, &vv, &used, &c), NM_EINVAL, "input u");
    CHECK_FAILS(nm_plugin_step_u(h, NAN, 1.0, x, &vv, &used, &c), NM_EINVAL, "p");
    CHECK(memcmp(keep, x, D * sizeof *x) == 0);
    CHECK_FAILS(nm_plugin_step_u(h + 7, 0.0, 1.0, x, &vv, &used, &c), NM_EINVAL, "handle");
    CHECK_OK(nm_plugin_release(h));
}

/* A model without input: u is ignored, the step is nm_plugin_step's. */
static void test_no_input(void)
{
    int h = 0, has = -1;
    CHECK_OK(nm_plugin_acquire(plain_path, &h));
    if (!h) return;
    double lo = 1, hi = 1, f = -1;
    char unit[16] = "x";
    CHECK_OK(nm_plugin_input_info(h, &has, &lo, &hi, unit, sizeof unit));
    CHECK(has == 0 && lo == 0 && hi == 0 && unit[0] == '\0');
    CHECK_OK(nm_plugin_input_factor(h, 0, &f));
    CHECK(f == 0);
    double a[NM_PLUGIN_MAX_DIM], b[NM_PLUGIN_MAX_DIM], va = 0, vb = 0, used = 1;
    int c = 1;
    CHECK_OK(nm_plugin_init(h, a, &va));
    CHECK_OK(nm_plugin_init(h, b, &vb));
    for (int k = 0; k < 50; k++) {
        CHECK_OK(nm_plugin_step(h, -38.0, a, &va));
        CHECK_OK(nm_plugin_step_u(h, -38.0, 1e6 * (k + 1), b, &vb, &used, &c));
        CHECK(va == vb && used == 0 && c == 0);
    }
    CHECK(memcmp(a, b, nm_learned_dim(nm_plugin_get(h)) * sizeof a[0]) == 0);
    CHECK_OK(nm_plugin_release(h));
}

int main(void)
{
    NM_RUN(test_unit_factor);
    NM_RUN(test_syn_exact);
    NM_RUN(test_syn_order);
    NM_RUN(test_syn_means);
    NM_RUN(test_syn_errors);

    nm_learn_opts o;
    nm_test_fast_opts(&o, 3);
    nm_learned *a = nm_test_input_model(&o);
    nm_test_fast_opts(&o, 1);
    nm_learned *b = nm_test_tiny_model(20000, &o);
    CHECK(a && b);
    if (a && b) {
        CHECK(nm_learned_has_input(a) && !nm_learned_has_input(b));
        nm_test_path(input_path, sizeof input_path, "plugin_input_model.nmap");
        nm_test_path(plain_path, sizeof plain_path, "plugin_plain_model.nmap");
        CHECK_OK(nm_learned_save(a, input_path));
        CHECK_OK(nm_learned_save(b, plain_path));
        NM_RUN(test_step_u);
        NM_RUN(test_no_input);
        remove(input_path);
        remove(plain_path);
    }
    nm_learned_free(a);
    nm_learned_free(b);
    return nm_test_report();
}
