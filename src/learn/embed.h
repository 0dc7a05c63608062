/* embed.h -- normalisation of V and delay embedding (private to libneuromap;
 * the VAE and the map trainer build on it).
 *
 * Normalisation: u = (V - mean) / std with mean and std (mV) over ALL samples
 * of ALL training series (population std, i.e. divided by N), stored in the
 * model file ("norm.v_mean", "norm.v_std").
 *
 * Delay embedding with delay one sample, NEWEST FIRST:
 *     R(n) = [u(n), u(n-1), ..., u(n-De+1)]                       (De floats)
 * A series of N samples gives N - De + 1 rows; row r is R(r + De - 1), i.e.
 * the row belongs to (ends at) sample r + De - 1.  Rows never straddle the
 * boundary between two series: the rows of series k are
 * start[k] .. start[k+1]-1 of one [rows x De] float matrix. */
#ifndef NM_EMBED_H
#define NM_EMBED_H

#include "neuromap.h"

#include <stddef.h>

typedef struct nm_embed {
    size_t de;          /* De */
    size_t nseries;
    size_t rows;        /* total rows = sum_k (n_k - De + 1) */
    size_t *start;      /* [nseries + 1]: first row of each series; start[nseries] = rows */
    double mean, std;   /* normalisation used (mV) */
    float *x;           /* [rows x de] row-major, normalised, newest first */
} nm_embed;

/* Mean and population std (mV) of V over all samples of all series.
 * NM_EINVAL for no series / NULL; NM_EDATA for an empty series, a non-finite
 * value (naming the series and sample) or a constant signal (std too small
 * to normalise: below NM_EMBED_MIN_STD_MV). */
nm_status nm_embed_stats(const nm_series *const *series, size_t nseries, double *mean,
                         double *std);

/* Smallest std (mV) accepted for normalisation: below it, V is constant to
 * within float rounding of a typical membrane potential (|V| ~ 100 mV times
 * float epsilon 1.2e-7 ~ 1e-5 mV) and dividing by it would amplify noise. */
#define NM_EMBED_MIN_STD_MV 1e-4

/* Build the embedding of every series with the given normalisation.
 * NM_EINVAL for de < 1, std <= 0 or non-finite mean/std; NM_EDATA for a
 * series shorter than de samples or a non-finite value (the message names the
 * series index and sample). */
nm_status nm_embed_build(const nm_series *const *series, size_t nseries, size_t de, double mean,
                         double std, nm_embed **out);
void nm_embed_free(nm_embed *e);

/* Row index range of series k: [*first, *first + *count). */
static inline void nm_embed_series_rows(const nm_embed *e, size_t k, size_t *first,
                                        size_t *count)
{
    *first = e->start[k];
    *count = e->start[k + 1] - e->start[k];
}

#endif
