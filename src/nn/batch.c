/* batch.c -- minibatch permutations, the validation split and early-stopping
 * bookkeeping.  Everything random draws from a caller-owned nm_rng, so the
 * same seed gives the same batches. */
#include "nn/nn.h"

#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nm_nn_iota(size_t n, size_t *idx)
{
    for (size_t i = 0; i < n; i++) idx[i] = i;
}

void nm_nn_shuffle(nm_rng *rng, size_t n, size_t *idx)
{
    /* Fisher-Yates (Durstenfeld): position i takes a uniform pick of 0..i. */
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)nm_rng_below(rng, (uint64_t)i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

void nm_nn_gather_rows(const float *src, size_t cols, const size_t *idx, size_t n, float *dst)
{
    for (size_t r = 0; r < n; r++) memcpy(dst + r * cols, src + idx[r] * cols, cols * sizeof *dst);
}

nm_status nm_nn_split(size_t n, double val_frac, nm_rng *rng, size_t *idx, size_t *ntrain,
                      size_t *nval)
{
    if (!idx || !ntrain || !nval) return nm_fail(NM_EINVAL, "split: NULL argument");
    if (!(val_frac >= 0 && val_frac < 1))
        return nm_fail(NM_EINVAL, "split: validation fraction must be in [0, 1) (got %g)",
                       val_frac);
    size_t nv = (size_t)llround((double)n * val_frac);
    if (val_frac > 0 && nv == 0) nv = 1;
    if (n < 1 || nv >= n)
        return nm_fail(NM_EDATA, "split: %zu samples are too few for a validation fraction of %g",
                       n, val_frac);
    nm_nn_iota(n, idx);
    if (rng) nm_nn_shuffle(rng, n, idx);
    *ntrain = n - nv;
    *nval = nv;
    return NM_OK;
}

nm_early_stop *nm_early_stop_alloc(size_t nparams, size_t patience, double min_delta)
{
    if (nparams == 0 || !(min_delta >= 0)) {
        nm_fail(NM_EINVAL, "early stop: need nparams > 0 and min_delta >= 0");
        return NULL;
    }
    nm_early_stop *es = nm_calloc(1, sizeof *es);
    if (!es) return NULL;
    es->best_params = nm_malloc(nparams * sizeof *es->best_params);
    if (!es->best_params) {
        free(es);
        return NULL;
    }
    es->n = nparams;
    es->patience = patience;
    es->min_delta = min_delta;
    es->best = INFINITY;
    return es;
}

void nm_early_stop_free(nm_early_stop *es)
{
    if (!es) return;
    free(es->best_params);
    free(es);
}

int nm_early_stop_update(nm_early_stop *es, double val_loss, const float *params)
{
    if (!es) return 1;
    es->epoch++;
    /* The first finite loss is always an improvement (best starts at +inf). */
    if (isfinite(val_loss) && (es->best_epoch == 0 || val_loss < es->best - es->min_delta)) {
        es->best = val_loss;
        es->best_epoch = es->epoch;
        es->bad = 0;
        if (params) memcpy(es->best_params, params, es->n * sizeof *params);
        return 0;
    }
    es->bad++;
    return es->bad > es->patience;
}

nm_status nm_early_stop_restore(const nm_early_stop *es, float *params)
{
    if (!es || !params) return nm_fail(NM_EINVAL, "early stop restore: NULL argument");
    if (es->best_epoch == 0)
        return nm_fail(NM_EINVAL, "early stop restore: no finite loss recorded yet");
    memcpy(params, es->best_params, es->n * sizeof *params);
    return NM_OK;
}
