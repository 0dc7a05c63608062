/* pool.h -- the deterministic thread pool of the sweeps (private).
 *
 * Item i (0..n-1) is computed from (shared, i) alone with a worker context
 * of its own (a model copy, buffers), items are dealt round-robin (thread k
 * takes k, k + T, ...: costs grow with p, interleaving balances them), so
 * the results do not depend on the number of threads.  The first failing
 * item (lowest index) is the one reported, with its thread's message:
 *     "<label> at <pname> = <p[i]> (point i+1 of n): <message>". */
#ifndef NM_POOL_H
#define NM_POOL_H

#include "neuromap.h"

typedef struct nm_pool_kind {
    void *(*worker_alloc)(const void *shared);  /* NULL + message on failure */
    void (*worker_free)(void *worker);
    nm_status (*item)(void *worker, const void *shared, size_t i);
    const char *label;                          /* "sweep", "learned sweep" */
} nm_pool_kind;

/* Run items 0..n-1 on nthreads threads (0 = all cores; 1 = the caller's
 * thread).  p[i] and pname only name the failing item in the message. */
nm_status nm_pool_run(const nm_pool_kind *kind, const void *shared, const char *pname, const double *p,
                      size_t n, int nthreads);

#endif
