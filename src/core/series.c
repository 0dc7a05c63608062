/* series.c -- allocation of nm_series. */
#include "internal.h"

#include <stdlib.h>

nm_series *nm_series_alloc(size_t n, size_t nstates)
{
    nm_series *s = nm_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->n = n;
    s->dt_ms = 1.0;
    s->nstates = nstates;
    s->v = nm_calloc(n ? n : 1, sizeof *s->v);
    if (!s->v) {
        free(s);
        return NULL;
    }
    if (nstates) {
        if (n > SIZE_MAX / nstates / sizeof(double)) {
            nm_fail(NM_ENOMEM, "series of %zu x %zu states is too large", n, nstates);
            nm_series_free(s);
            return NULL;
        }
        s->states = nm_calloc(n * nstates, sizeof *s->states);
        if (!s->states) {
            nm_series_free(s);
            return NULL;
        }
    }
    return s;
}

void nm_series_free(nm_series *s)
{
    if (!s) return;
    free(s->v);
    free(s->states);
    free(s->u);
    free(s);
}
