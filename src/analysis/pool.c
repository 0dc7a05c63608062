/* pool.c -- the deterministic thread pool of the sweeps (see pool.h). */
#define _POSIX_C_SOURCE 200809L
#include "analysis/pool.h"

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define NM_POOL_MSG_LEN 512

typedef struct pool_job {
    const nm_pool_kind *kind;
    const void *shared;
    size_t n, stride, start;
    atomic_size_t *first_fail;   /* lowest failing index seen so far (n if none) */
    size_t fail_index;           /* n if this worker had no failure */
    nm_status fail_status;
    char fail_msg[NM_POOL_MSG_LEN];
} pool_job;

static void pool_record_fail(pool_job *j, size_t i, nm_status st)
{
    j->fail_index = i;
    j->fail_status = st;
    /* The message is thread-local: carry it back to the caller. */
    snprintf(j->fail_msg, sizeof j->fail_msg, "%s", nm_last_error());
    size_t cur = atomic_load(j->first_fail);
    while (i < cur && !atomic_compare_exchange_weak(j->first_fail, &cur, i)) {
    }
}

static void *pool_worker(void *arg)
{
    pool_job *j = arg;
    j->fail_index = j->n;
    void *w = j->kind->worker_alloc(j->shared);
    if (!w) {
        pool_record_fail(j, j->start, NM_ENOMEM);
        return NULL;
    }
    for (size_t i = j->start; i < j->n; i += j->stride) {
        /* A lower index already failed: that one is reported. */
        if (i > atomic_load(j->first_fail)) break;
        nm_status st = j->kind->item(w, j->shared, i);
        if (st) {
            pool_record_fail(j, i, st);
            break;
        }
    }
    j->kind->worker_free(w);
    return NULL;
}

nm_status nm_pool_run(const nm_pool_kind *kind, const void *shared, const char *pname, const double *p,
                      size_t n, int nthreads)
{
    size_t nt = nthreads == 0 ? (size_t)nm_cpu_count() : (size_t)nthreads;
    if (nt > n) nt = n;
    if (nt == 0) return NM_OK;
    pool_job *jobs = nm_calloc(nt, sizeof *jobs);
    pthread_t *tids = nm_calloc(nt, sizeof *tids);
    if (!jobs || !tids) {
        free(jobs);
        free(tids);
        return NM_ENOMEM;
    }
    atomic_size_t first_fail;
    atomic_init(&first_fail, n);
    for (size_t k = 0; k < nt; k++)
        jobs[k] = (pool_job){.kind = kind, .shared = shared, .n = n, .stride = nt, .start = k,
                             .first_fail = &first_fail};

    nm_status st = NM_OK;
    size_t started = 0;
    if (nt == 1) {
        /* One thread: run in the caller's thread (no pthread overhead). */
        pool_worker(&jobs[0]);
        started = 1;
    } else {
        for (; started < nt; started++) {
            if (pthread_create(&tids[started], NULL, pool_worker, &jobs[started]) != 0) {
                st = nm_fail(NM_ETHREAD, "%s: cannot create worker thread %zu of %zu", kind->label,
                             started + 1, nt);
                atomic_store(&first_fail, 0); /* stop the others, then join them */
                break;
            }
        }
        for (size_t k = 0; k < started; k++) pthread_join(tids[k], NULL);
    }
    if (!st) {
        const pool_job *bad = NULL;
        for (size_t k = 0; k < started; k++)
            if (jobs[k].fail_index < n && (!bad || jobs[k].fail_index < bad->fail_index)) bad = &jobs[k];
        if (bad)
            st = nm_fail(bad->fail_status, "%s at %s = %g (point %zu of %zu): %s", kind->label, pname,
                         p[bad->fail_index], bad->fail_index + 1, n, bad->fail_msg);
    }
    free(jobs);
    free(tids);
    return st;
}
