/* sweep.c -- regimes of a model over a grid of control values, on several
 * threads.
 *
 * Point i is computed from (model parameters, p[i], sim, seed + i) alone, so
 * the result does not depend on which thread ran it or in which order.
 * Points are dealt round-robin (thread k takes i = k, k + T, ...): costs
 * grow with p for SRK (more spikes, more steps), and interleaving balances
 * them without a shared work queue.  nm_sweep is nm_model_sweep_points
 * (learned_sweep.c, on the pool of analysis/pool.h) keeping only the regimes. */
#include "internal.h"
#include "models/model.h"

#include <stdlib.h>

nm_status nm_sweep(const nm_model *m, const double *p, size_t np, const nm_sim_opts *sim,
                   const nm_regime_opts *ro, int nthreads, nm_regime *regimes)
{
    if (!m) return nm_fail(NM_EINVAL, "sweep: model is NULL");
    if (!p || !regimes) return nm_fail(NM_EINVAL, "sweep: NULL control values or output");
    if (np == 0) return nm_fail(NM_EINVAL, "sweep: no control values");
    nm_sim_opts defaults;
    if (!sim) {
        nm_sim_opts_default(&defaults);
        sim = &defaults;
    }
    nm_status st = nm_sim_opts_check(m, sim);
    if (st) return nm_fail_prefix(st, "sweep");
    /* The evaluation sweep does the work (same seeds, same pool, same
     * messages); only the regimes are kept. */
    nm_sweep_point *pts = nm_calloc(np, sizeof *pts);
    if (!pts) return NM_ENOMEM;
    st = nm_model_sweep_points(m, p, np, sim, ro, nthreads, 0, pts);
    if (!st)
        for (size_t i = 0; i < np; i++) regimes[i] = pts[i].regime;
    nm_sweep_points_clear(pts, np);
    free(pts);
    return st;
}
