/* embed.c -- normalisation of V and delay embedding (see embed.h). */
#include "learn/embed.h"

#include "internal.h"

#include <math.h>
#include <stdlib.h>

/* The first non-finite sample of series k, as an NM_EDATA message. */
static nm_status check_finite(const nm_series *s, size_t k)
{
    for (size_t i = 0; i < s->n; i++)
        if (!isfinite(s->v[i]))
            return nm_fail(NM_EDATA, "series %zu (p = %g): V[%zu] is not finite", k + 1, s->p, i);
    return NM_OK;
}

static nm_status check_list(const nm_series *const *series, size_t nseries)
{
    if (!series || nseries == 0) return nm_fail(NM_EINVAL, "embedding: no series given");
    for (size_t k = 0; k < nseries; k++) {
        if (!series[k] || (series[k]->n > 0 && !series[k]->v))
            return nm_fail(NM_EINVAL, "embedding: series %zu is NULL", k + 1);
        if (series[k]->n == 0) return nm_fail(NM_EDATA, "embedding: series %zu is empty", k + 1);
    }
    return NM_OK;
}

nm_status nm_embed_stats(const nm_series *const *series, size_t nseries, double *mean,
                         double *std)
{
    if (!mean || !std) return nm_fail(NM_EINVAL, "embedding stats: NULL output");
    nm_status st = check_list(series, nseries);
    if (st) return st;
    /* Two passes (mean, then squared deviations) in double: one-pass sums of
     * V^2 lose digits when the mean (~ -50 mV) dwarfs the spread. */
    double sum = 0;
    size_t n = 0;
    for (size_t k = 0; k < nseries; k++) {
        if ((st = check_finite(series[k], k))) return st;
        for (size_t i = 0; i < series[k]->n; i++) sum += series[k]->v[i];
        n += series[k]->n;
    }
    const double m = sum / (double)n;
    double ss = 0;
    for (size_t k = 0; k < nseries; k++)
        for (size_t i = 0; i < series[k]->n; i++) {
            double d = series[k]->v[i] - m;
            ss += d * d;
        }
    const double sd = sqrt(ss / (double)n);
    if (!(sd >= NM_EMBED_MIN_STD_MV))
        return nm_fail(NM_EDATA,
                       "embedding: V is constant (std %g mV over %zu samples): nothing to learn",
                       sd, n);
    *mean = m;
    *std = sd;
    return NM_OK;
}

void nm_embed_free(nm_embed *e)
{
    if (!e) return;
    free(e->start);
    free(e->x);
    free(e);
}

nm_status nm_embed_build(const nm_series *const *series, size_t nseries, size_t de, double mean,
                         double std, nm_embed **out)
{
    if (!out) return nm_fail(NM_EINVAL, "embedding: NULL output");
    *out = NULL;
    if (de < 1) return nm_fail(NM_EINVAL, "embedding: De must be >= 1 (got %zu)", de);
    if (!isfinite(mean) || !(std > 0) || !isfinite(std))
        return nm_fail(NM_EINVAL, "embedding: bad normalisation (mean %g, std %g mV)", mean, std);
    nm_status st = check_list(series, nseries);
    if (st) return st;
    size_t rows = 0;
    for (size_t k = 0; k < nseries; k++) {
        if (series[k]->n < de)
            return nm_fail(NM_EDATA,
                           "embedding: series %zu (p = %g) has %zu samples, fewer than De = %zu",
                           k + 1, series[k]->p, series[k]->n, de);
        if ((st = check_finite(series[k], k))) return st;
        rows += series[k]->n - de + 1;
    }
    if (rows > SIZE_MAX / de / sizeof(float))
        return nm_fail(NM_EINVAL, "embedding: %zu rows x De %zu is too large", rows, de);

    nm_embed *e = nm_calloc(1, sizeof *e);
    if (!e) return NM_ENOMEM;
    e->start = nm_malloc((nseries + 1) * sizeof *e->start);
    e->x = nm_malloc(rows * de * sizeof *e->x);
    if (!e->start || !e->x) {
        nm_embed_free(e);
        return NM_ENOMEM;
    }
    e->de = de;
    e->nseries = nseries;
    e->rows = rows;
    e->mean = mean;
    e->std = std;
    size_t r = 0;
    for (size_t k = 0; k < nseries; k++) {
        const nm_series *s = series[k];
        e->start[k] = r;
        /* Row for newest sample i = de-1 .. n-1: [u(i), u(i-1), ..., u(i-de+1)]. */
        for (size_t i = de - 1; i < s->n; i++, r++) {
            float *row = e->x + r * de;
            for (size_t j = 0; j < de; j++) row[j] = (float)((s->v[i - j] - mean) / std);
        }
    }
    e->start[nseries] = r;
    *out = e;
    return NM_OK;
}
