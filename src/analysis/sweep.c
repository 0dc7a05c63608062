/* sweep.c -- regimes of a model over a grid of control values, on several
 * threads.
 *
 * Point i is computed from (model parameters, p[i], sim, seed + i) alone, so
 * the result does not depend on which thread ran it or in which order.
 * Points are dealt round-robin (thread k takes i = k, k + T, ...): costs
 * grow with p for SRK (more spikes, more steps), and interleaving balances
 * them without a shared work queue (the pool of analysis/pool.h). */
#include "analysis/pool.h"
#include "internal.h"
#include "models/model.h"

#include <math.h>
#include <stdlib.h>

typedef struct sweep_shared {
    const nm_model *model;
    const double *p;
    const nm_sim_opts *sim;
    const nm_regime_opts *ro;
    nm_regime *regimes;
} sweep_shared;

static void *sweep_worker_alloc(const void *shared)
{
    return nm_model_clone(((const sweep_shared *)shared)->model);
}

static void sweep_worker_free(void *w) { nm_model_free(w); }

/* Simulate and classify point i with the worker's own model copy. */
static nm_status sweep_point(void *w, const void *shared, size_t i)
{
    nm_model *m = w;
    const sweep_shared *j = shared;
    nm_status st = nm_model_set_control(m, j->p[i]);
    if (st) return st;
    nm_sim_opts o = *j->sim;
    o.seed = j->sim->seed + (uint64_t)i;
    nm_series *s = NULL;
    st = nm_simulate(m, &o, &s);
    if (st) return st;
    double *times = NULL;
    size_t nspk = 0;
    st = nm_spikes_detect(s->v, s->n, s->dt_ms, s->t0_ms, nm_model_spike_threshold(m), &times,
                          &nspk);
    if (!st) {
        /* The analysed window is the recorded span: (n-1) sampling steps. */
        double window_ms = (double)(s->n - 1) * s->dt_ms;
        st = nm_regime_classify(times, nspk, window_ms, j->ro, &j->regimes[i]);
    }
    free(times);
    nm_series_free(s);
    return st;
}

static const nm_pool_kind sweep_kind = {sweep_worker_alloc, sweep_worker_free, sweep_point, "sweep"};

nm_status nm_sweep(const nm_model *m, const double *p, size_t np, const nm_sim_opts *sim,
                   const nm_regime_opts *ro, int nthreads, nm_regime *regimes)
{
    if (!m) return nm_fail(NM_EINVAL, "sweep: model is NULL");
    if (!p || !regimes) return nm_fail(NM_EINVAL, "sweep: NULL control values or output");
    if (np == 0) return nm_fail(NM_EINVAL, "sweep: no control values");
    if (nthreads < 0) return nm_fail(NM_EINVAL, "sweep: nthreads must be >= 0 (got %d)", nthreads);
    nm_sim_opts defaults;
    if (!sim) {
        nm_sim_opts_default(&defaults);
        sim = &defaults;
    }
    nm_status st = nm_sim_opts_check(m, sim);
    if (st) return nm_fail_prefix(st, "sweep");
    for (size_t i = 0; i < np; i++)
        if (!isfinite(p[i]))
            return nm_fail(NM_EINVAL, "sweep: %s value %zu is not finite (%g)",
                           nm_model_control_name(m), i, p[i]);

    sweep_shared sh = {m, p, sim, ro, regimes};
    return nm_pool_run(&sweep_kind, &sh, nm_model_control_name(m), p, np, nthreads);
}
