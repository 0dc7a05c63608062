/* sweep.c -- regimes of a model over a grid of control values, on several
 * threads.
 *
 * Point i is computed from (model parameters, p[i], sim, seed + i) alone, so
 * the result does not depend on which thread ran it or in which order.
 * Points are dealt round-robin (thread k takes i = k, k + T, ...): costs
 * grow with p for SRK (more spikes, more steps), and interleaving balances
 * them without a shared work queue. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "models/model.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NM_SWEEP_MSG_LEN 512

typedef struct sweep_job {
    /* shared, read-only */
    const nm_model *model;
    const double *p;
    size_t np;
    const nm_sim_opts *sim;
    const nm_regime_opts *ro;
    size_t stride;
    nm_regime *regimes;
    atomic_size_t *first_fail;   /* lowest failing index seen so far (np if none) */
    /* per worker */
    size_t start;
    size_t fail_index;           /* np if this worker had no failure */
    nm_status fail_status;
    char fail_msg[NM_SWEEP_MSG_LEN];
} sweep_job;

/* Simulate and classify one point with the worker's own model copy. */
static nm_status sweep_point(nm_model *m, const sweep_job *j, size_t i, nm_regime *out)
{
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
        st = nm_regime_classify(times, nspk, window_ms, j->ro, out);
    }
    free(times);
    nm_series_free(s);
    return st;
}

static void *sweep_worker(void *arg)
{
    sweep_job *j = arg;
    j->fail_index = j->np;
    nm_model *m = nm_model_clone(j->model);
    if (!m) {
        j->fail_index = j->start;
        j->fail_status = NM_ENOMEM;
        snprintf(j->fail_msg, sizeof j->fail_msg, "%s", nm_last_error());
        return NULL;
    }
    for (size_t i = j->start; i < j->np; i += j->stride) {
        /* Another worker already failed at a lower index: that one will be
         * reported, nothing after it matters. */
        if (i > atomic_load(j->first_fail)) break;
        nm_status st = sweep_point(m, j, i, &j->regimes[i]);
        if (st) {
            j->fail_index = i;
            j->fail_status = st;
            /* The message is thread-local: carry it back to the caller. */
            snprintf(j->fail_msg, sizeof j->fail_msg, "%s", nm_last_error());
            size_t cur = atomic_load(j->first_fail);
            while (i < cur && !atomic_compare_exchange_weak(j->first_fail, &cur, i)) {
            }
            break;
        }
    }
    nm_model_free(m);
    return NULL;
}

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

    size_t nt = nthreads == 0 ? (size_t)nm_cpu_count() : (size_t)nthreads;
    if (nt > np) nt = np;

    sweep_job *jobs = nm_calloc(nt, sizeof *jobs);
    pthread_t *tids = nm_calloc(nt, sizeof *tids);
    if (!jobs || !tids) {
        free(jobs);
        free(tids);
        return NM_ENOMEM;
    }
    atomic_size_t first_fail;
    atomic_init(&first_fail, np);
    for (size_t k = 0; k < nt; k++) {
        jobs[k] = (sweep_job){.model = m, .p = p, .np = np, .sim = sim, .ro = ro, .stride = nt,
                              .regimes = regimes, .first_fail = &first_fail, .start = k};
    }

    /* One thread: run in the caller's thread (no pthread overhead). */
    size_t started = 0;
    st = NM_OK;
    if (nt == 1) {
        sweep_worker(&jobs[0]);
        started = 1;
    } else {
        for (; started < nt; started++) {
            if (pthread_create(&tids[started], NULL, sweep_worker, &jobs[started]) != 0) {
                st = nm_fail(NM_ETHREAD, "sweep: cannot create worker thread %zu of %zu", started + 1,
                             nt);
                /* Stop the workers already running, then join them. */
                atomic_store(&first_fail, 0);
                break;
            }
        }
        for (size_t k = 0; k < started; k++) pthread_join(tids[k], NULL);
    }

    if (!st) {
        const sweep_job *bad = NULL;
        for (size_t k = 0; k < started; k++)
            if (jobs[k].fail_index < np && (!bad || jobs[k].fail_index < bad->fail_index))
                bad = &jobs[k];
        if (bad)
            st = nm_fail(bad->fail_status, "sweep at %s = %g (point %zu of %zu): %s",
                         nm_model_control_name(m), p[bad->fail_index], bad->fail_index + 1, np,
                         bad->fail_msg);
    }
    free(jobs);
    free(tids);
    return st;
}
