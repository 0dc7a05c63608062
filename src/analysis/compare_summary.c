/* compare_summary.c -- the summary of nm_compare from its points: the
 * agreement, period errors of matched periodic points, the resting V where
 * both sides are silent, the transitions of each side and, for every truth
 * transition, the offset of the learned one (docs/evaluation.md, "The
 * summary"). */
#include "analysis/compare.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "diverged" for a learned run without a regime, else the regime's name. */
static void point_label(const nm_regime *r, int diverged, char *buf, size_t len)
{
    if (diverged) snprintf(buf, len, "diverged");
    else nm_regime_format(r, buf, len);
}

static int same_label(const nm_regime *a, int a_div, const nm_regime *b, int b_div)
{
    if (a_div || b_div) return a_div == b_div;
    return a->cls == b->cls && (a->cls != NM_REGIME_PERIODIC || a->spikes_per_period == b->spikes_per_period);
}

/* Changes of regime between consecutive grid points (at most np - 1) of the
 * truth (learned = 0) or of the learned model. */
static size_t find_transitions(const nm_compare_result *r, int learned, nm_compare_transition *out)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < r->np; i++) {
        const nm_compare_point *a = &r->points[i], *b = &r->points[i + 1];
        const nm_regime *ra = learned ? &a->learned : &a->truth, *rb = learned ? &b->learned : &b->truth;
        int da = learned && a->diverged, db = learned && b->diverged;
        if (same_label(ra, da, rb, db)) continue;
        out[n].p = 0.5 * (a->p + b->p);
        point_label(ra, da, out[n].from, sizeof out[n].from);
        point_label(rb, db, out[n].to, sizeof out[n].to);
        n++;
    }
    return n;
}

/* For every truth transition A -> B, the nearest learned transition with
 * the same change; failing that, the nearest learned onset of B (entered
 * from another regime, e.g. through a short window of a third one) within
 * the onset window. */
static void find_offsets(nm_compare_result *r)
{
    const nm_compare_transition *tt = r->truth_transitions, *lt = r->learned_transitions;
    for (size_t k = 0; k < r->ntruth_transitions; k++) {
        const nm_compare_transition *same = NULL, *onset = NULL;
        for (size_t j = 0; j < r->nlearned_transitions; j++) {
            if (strcmp(tt[k].to, lt[j].to)) continue;
            if (!strcmp(tt[k].from, lt[j].from) && (!same || fabs(lt[j].p - tt[k].p) < fabs(same->p - tt[k].p)))
                same = &lt[j];
            if (fabs(lt[j].p - tt[k].p) <= r->onset_window &&
                (!onset || fabs(lt[j].p - tt[k].p) < fabs(onset->p - tt[k].p)))
                onset = &lt[j];
        }
        const nm_compare_transition *hit = same ? same : onset;
        r->offsets[k].found = same ? 1 : onset ? 2 : 0;
        r->offsets[k].dp = hit ? hit->p - tt[k].p : NAN;
        r->offsets[k].learned = hit ? (size_t)(hit - lt) : 0;
    }
}

nm_status nm_compare_summarize(nm_compare_result *r)
{
    size_t np = r->np;
    r->matches = r->bounded = r->diverged = r->nperiod = r->nrest = 0;
    double per_err_sum = 0, per_err_max = 0, rest_sum = 0, rest_max = 0;
    for (size_t i = 0; r->has_model && i < np; i++) {
        nm_compare_point *pt = &r->points[i];
        pt->match = !pt->diverged && nm_regime_match(&pt->truth, &pt->learned, r->period_tol);
        r->matches += (size_t)pt->match;
        r->bounded += (size_t)pt->bounded;
        r->diverged += (size_t)pt->diverged;
        if (pt->match && pt->truth.cls == NM_REGIME_PERIODIC && pt->truth.period_ms > 0) {
            double e = fabs(pt->learned.period_ms - pt->truth.period_ms) / pt->truth.period_ms;
            per_err_sum += e;
            per_err_max = fmax(per_err_max, e);
            r->nperiod++;
        }
        /* Resting potential where both sides are silent (a learned fixed
         * point should decode to the ODE's rest). */
        if (!r->truth_recorded && pt->truth.cls == NM_REGIME_SILENT && !pt->diverged &&
            pt->learned.cls == NM_REGIME_SILENT) {
            double d = fabs(pt->learned_v_end - pt->truth_v_end);
            rest_max = fmax(rest_max, d);
            rest_sum += d;
            r->nrest++;
        }
    }
    r->agreement = r->has_model ? (double)r->matches / (double)np : NAN;
    r->period_err_mean = r->nperiod ? per_err_sum / (double)r->nperiod : NAN;
    r->period_err_max = r->nperiod ? per_err_max : NAN;
    r->rest_err_mean = r->nrest ? rest_sum / (double)r->nrest : NAN;
    r->rest_err_max = r->nrest ? rest_max : NAN;
    r->onset_window = NM_COMPARE_ONSET_WINDOW * (r->points[np - 1].p - r->points[0].p);

    r->truth_transitions = nm_calloc(np, sizeof *r->truth_transitions);
    if (!r->truth_transitions) return NM_ENOMEM;
    r->ntruth_transitions = find_transitions(r, 0, r->truth_transitions);
    if (r->has_model) {
        r->learned_transitions = nm_calloc(np, sizeof *r->learned_transitions);
        r->offsets = nm_calloc(np, sizeof *r->offsets);
        if (!r->learned_transitions || !r->offsets) return NM_ENOMEM;
        r->nlearned_transitions = find_transitions(r, 1, r->learned_transitions);
        find_offsets(r);
    }
    return NM_OK;
}
