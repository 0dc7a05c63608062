/* compare.h -- private parts of nm_compare (compare.c, compare_summary.c). */
#ifndef NM_ANALYSIS_COMPARE_H
#define NM_ANALYSIS_COMPARE_H

#include "neuromap.h"

/* The result with the sweeps its points point into (r first: a
 * nm_compare_result * is a nm_compare_impl *). */
typedef struct nm_compare_impl {
    nm_compare_result r;
    nm_sweep_point *tpts; /* [np] truth points (NULL for recorded truth) */
    nm_sweep_point *lpts; /* [np] learned points (NULL without a model) */
} nm_compare_impl;

/* From r->points (filled): matches, agreement, bounded / diverged counts,
 * period errors, resting V, transitions of both sides and their offsets. */
nm_status nm_compare_summarize(nm_compare_result *r);

#endif
