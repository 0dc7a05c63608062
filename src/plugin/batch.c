/* batch.c -- the batched step for the NEURON cells (issue 12;
 * include/neuromap.h, nm_plugin_step_batch): nm_learned_step_batch with the
 * plugin step's rules (input clamped to the trained range, a non-finite
 * decoded V refused, the state of a failed cell unchanged). */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct plugin_batch {
    nm_learned_batch *b;
    size_t cap;       /* cells the buffers below hold */
    double *xn;       /* [cap * NM_PLUGIN_MAX_DIM] next states */
    double *uc;       /* [cap] clamped inputs */
} plugin_batch;

void nm_plugin_batch_free(void *ws)
{
    plugin_batch *w = ws;
    if (!w) return;
    nm_learned_batch_free(w->b);
    free(w->xn);
    free(w->uc);
    free(w);
}

/* A workspace fitting m and n cells (*ws replaced if needed). */
static nm_status batch_ws(void **ws, const nm_learned *m, size_t n, plugin_batch **out)
{
    plugin_batch *w = *ws;
    if (!w) {
        if (!(w = nm_calloc(1, sizeof *w))) return NM_ENOMEM;
        *ws = w;
    }
    if (!nm_learned_batch_fits(w->b, m)) {
        nm_learned_batch_free(w->b);
        if (!(w->b = nm_learned_batch_alloc(m))) return NM_ENOMEM;
    }
    if (n > w->cap) {
        size_t cap = n < 64 ? 64 : n + n / 2;
        double *xn = realloc(w->xn, cap * NM_PLUGIN_MAX_DIM * sizeof *xn);
        if (xn) w->xn = xn;
        double *uc = realloc(w->uc, cap * sizeof *uc);
        if (uc) w->uc = uc;
        if (!xn || !uc) return nm_fail(NM_ENOMEM, "plugin batch step: out of memory (%zu cells)", n);
        w->cap = cap;
    }
    *out = w;
    return NM_OK;
}

nm_status nm_plugin_step_batch(int handle, void **ws, size_t n, const double *p, const double *u, double *x,
                               double *v, double *u_used, int *clamped, int *status)
{
    if (!ws || (n && (!p || !x || !v || !status))) return nm_fail(NM_EINVAL, "plugin batch step: NULL argument");
    const nm_learned *m = nm_plugin_get(handle);
    if (!m) return nm_fail(NM_EINVAL, "plugin step: %d is not the handle of a loaded model", handle);
    if (n == 0) return NM_OK;
    plugin_batch *w = NULL;
    nm_status st = batch_ws(ws, m, n, &w);
    if (st) return st;
    size_t D = nm_learned_dim(m);
    int has = nm_learned_has_input(m);
    for (size_t k = 0; k < n; k++) {
        int c = 0;
        double uk = has && u ? u[k] : 0;
        /* a non-finite u is refused below (nm_learned_step_batch) */
        w->uc[k] = has && isfinite(uk) ? nm_learned_clamp_input(m, uk, &c) : uk;
        if (u_used) u_used[k] = 0;
        if (clamped) clamped[k] = 0;
        if (clamped && has) clamped[k] = c;
    }
    st = nm_learned_step_batch(m, w->b, n, p, has ? w->uc : NULL, x, w->xn, v, status);
    size_t bad = n;
    for (size_t k = 0; k < n; k++) {
        if (status[k] == NM_OK && !isfinite(v[k])) status[k] = NM_ENUMERIC;
        if (status[k] != NM_OK) {
            if (clamped) clamped[k] = 0;
            if (bad == n) bad = k;
            continue;
        }
        memcpy(x + k * D, w->xn + k * D, D * sizeof *x);
        if (u_used && has) u_used[k] = w->uc[k];
    }
    if (bad == n) return NM_OK;
    if (st) return st; /* the library's message names its first failure */
    return nm_fail(NM_ENUMERIC, "plugin step, cell %zu, at p = %g: the decoded V is not finite", bad, p[bad]);
}
