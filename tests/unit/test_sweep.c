/* test_sweep.c -- nm_sweep: results independent of the thread count, the
 * model left untouched, per-point seeds, failures named by their p, and bad
 * arguments. */
#include "neuromap.h"
#include "nm_test.h"

#define NP 12

static void sweep_grid(double *p)
{
    /* Spread over the whole SRK range: silent, bursting and tonic points cost
     * very different times, so threads finish out of order. */
    for (size_t i = 0; i < NP; i++) p[i] = -46.0 + 16.0 * (double)i / (NP - 1);
}

static void short_opts(nm_sim_opts *o)
{
    nm_sim_opts_default(o);
    o->transient_ms = 10000;
    o->duration_ms = 20000;
}

static void test_threads_identical(void)
{
    nm_model *m = nm_model_alloc(nm_model_srk);
    CHECK(m != NULL);
    if (!m) return;
    CHECK_OK(nm_model_set_control(m, -40.0));
    double p[NP];
    sweep_grid(p);
    nm_sim_opts o;
    short_opts(&o);
    o.noise_mv = 0.3; /* noise on: the per-point seed must not depend on the thread */
    static const int threads[] = {1, 2, 3, 0};
    nm_regime r[4][NP];
    memset(r, 0xA5, sizeof r); /* garbage: every entry must be written */
    for (size_t k = 0; k < 4; k++) CHECK_OK(nm_sweep(m, p, NP, &o, NULL, threads[k], r[k]));
    for (size_t k = 1; k < 4; k++)
        CHECK_MSG(memcmp(r[0], r[k], sizeof r[0]) == 0, "nthreads %d differs from nthreads 1", threads[k]);
    /* The sweep did real work: the grid has silent, bursting and tonic points. */
    CHECK(r[0][0].cls == NM_REGIME_SILENT);
    CHECK(r[0][NP - 1].cls == NM_REGIME_PERIODIC && r[0][NP - 1].spikes_per_period == 1);
    size_t bursting = 0;
    for (size_t i = 0; i < NP; i++)
        bursting += r[0][i].cls == NM_REGIME_PERIODIC && r[0][i].spikes_per_period >= 2;
    CHECK(bursting >= 3);
    /* The caller's model is not modified. */
    CHECK_CLOSE(nm_model_control(m), -40.0, 0, 0);

    /* A point of the sweep equals a single simulation at that p with seed
     * sim.seed + i (the documented per-point seed). */
    size_t i = 7;
    nm_model *c = nm_model_clone(m);
    CHECK(c && nm_model_set_control(c, p[i]) == NM_OK);
    nm_sim_opts oi = o;
    oi.seed = o.seed + i;
    nm_series *s = NULL;
    CHECK_OK(nm_simulate(c, &oi, &s));
    if (s) {
        double *t = NULL;
        size_t ns = 0;
        nm_regime one;
        CHECK_OK(nm_spikes_detect(s->v, s->n, s->dt_ms, s->t0_ms, nm_model_spike_threshold(c), &t, &ns));
        CHECK_OK(nm_regime_classify(t, ns, (double)(s->n - 1) * s->dt_ms, NULL, &one));
        CHECK(memcmp(&one, &r[0][i], sizeof one) == 0);
        free(t);
    }
    nm_series_free(s);
    nm_model_free(c);
    nm_model_free(m);
}

static void test_failure_names_p(void)
{
    /* HH with I = 1e300 uA/cm2 diverges at once: the point fails with
     * NM_ENUMERIC, and the sweep reports the first failing point. */
    nm_model *m = nm_model_alloc(nm_model_hh);
    CHECK(m != NULL);
    if (!m) return;
    nm_sim_opts o;
    nm_sim_opts_default(&o);
    o.transient_ms = 0;
    o.duration_ms = 50;
    o.dt_ms = 0.1;
    double p[5] = {0.0, 1e300, 5.0, -1e300, 10.0};
    nm_regime r[5];
    for (int nt = 1; nt <= 3; nt++) {
        CHECK_FAILS(nm_sweep(m, p, 5, &o, NULL, nt, r), NM_ENUMERIC, "sweep at I = 1e+300 (point 2 of 5)");
        CHECK(strstr(nm_last_error(), "hh:") != NULL); /* the simulator's own message follows */
    }
    nm_model_free(m);
}

static void test_bad_inputs(void)
{
    nm_model *m = nm_model_alloc(nm_model_srk);
    CHECK(m != NULL);
    if (!m) return;
    double p[2] = {-40.0, -35.0};
    nm_regime r[2];
    nm_sim_opts o;
    short_opts(&o);
    CHECK_FAILS(nm_sweep(NULL, p, 2, &o, NULL, 1, r), NM_EINVAL, "model is NULL");
    CHECK_FAILS(nm_sweep(m, NULL, 2, &o, NULL, 1, r), NM_EINVAL, "NULL control values");
    CHECK_FAILS(nm_sweep(m, p, 2, &o, NULL, 1, NULL), NM_EINVAL, "NULL control values or output");
    CHECK_FAILS(nm_sweep(m, p, 0, &o, NULL, 1, r), NM_EINVAL, "no control values");
    CHECK_FAILS(nm_sweep(m, p, 2, &o, NULL, -1, r), NM_EINVAL, "nthreads must be >= 0");
    double bad[2] = {-40.0, NAN};
    CHECK_FAILS(nm_sweep(m, bad, 2, &o, NULL, 1, r), NM_EINVAL, "VS value 1 is not finite");
    o.dt_ms = 0;
    CHECK_FAILS(nm_sweep(m, p, 2, &o, NULL, 2, r), NM_EINVAL, "sweep: simulate: dt_ms");
    short_opts(&o);
    nm_regime_opts ro;
    nm_regime_opts_default(&ro);
    ro.max_k = 0;
    CHECK_FAILS(nm_sweep(m, p, 2, &o, &ro, 2, r), NM_EINVAL, "sweep at VS = -40 (point 1 of 2)");
    /* More threads than points is fine. */
    CHECK_OK(nm_sweep(m, p, 2, &o, NULL, 8, r));
    CHECK(r[0].cls == NM_REGIME_PERIODIC && r[0].spikes_per_period == 2);
    nm_model_free(m);
}

/* A second model through the same path, with its own protocol
 * (nm_model_sim_opts_default: 500 ms transient, 2 s at 0.025 ms).  scipy:
 * sustained firing from 6.2595 uA/cm2 (steps from rest); at I = 10 the
 * period is 14.64 ms (68.32 Hz), at 20 11.57 ms (86.47 Hz). */
static void test_hh_sweep(void)
{
    nm_model *m = nm_model_alloc(nm_model_hh);
    CHECK(m != NULL);
    if (!m) return;
    nm_sim_opts o;
    nm_model_sim_opts_default(m, &o);
    CHECK(o.transient_ms == 500.0 && o.duration_ms == 2000.0 && o.dt_ms == 0.025);
    double p[5] = {0.0, 5.0, 6.2, 10.0, 20.0};
    nm_regime r[5];
    CHECK_OK(nm_sweep(m, p, 5, &o, NULL, 2, r));
    for (size_t i = 0; i < 3; i++) CHECK_MSG(r[i].cls == NM_REGIME_SILENT && r[i].nspikes == 0, "I = %g", p[i]);
    CHECK(r[3].cls == NM_REGIME_PERIODIC && r[3].spikes_per_period == 1);
    CHECK(r[4].cls == NM_REGIME_PERIODIC && r[4].spikes_per_period == 1);
    CHECK_CLOSE(r[3].period_ms, 1000.0 / 68.32, 2e-3, 0);
    CHECK_CLOSE(r[4].period_ms, 1000.0 / 86.47, 2e-3, 0);
    nm_model_free(m);
}

int main(void)
{
    NM_RUN(test_threads_identical);
    NM_RUN(test_hh_sweep);
    NM_RUN(test_failure_names_p);
    NM_RUN(test_bad_inputs);
    return nm_test_report();
}
