/* compare.c -- nm_compare: a learned model against the ground truth over a
 * grid of control values, the computation behind `neuromap compare`
 * (docs/evaluation.md).  The steps:
 *
 *   1. the protocol: window, transient and classifier options from the
 *      options, the truth model's own protocol or the learned model's file;
 *   2. the truth on the grid (nm_model_sweep_points) or recorded regimes;
 *   3. the learned model on the grid (nm_learned_sweep);
 *   4. the metrics W1 / D_H / D_stsp at the training p values (the truth
 *      simulated again at the map's step) or at recorded truth traces
 *      (resampled to the map's step);
 *   5. the summary: matches, period errors, resting V, transitions and
 *      their offsets (compare_summary.c).
 *
 * Nothing here prints; the sweeps run on the deterministic pool, so the
 * results depend neither on the thread count nor on the chunks the progress
 * callback splits them into. */
#define _POSIX_C_SOURCE 200809L
#include "analysis/compare.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void nm_compare_opts_default(nm_compare_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->duration_ms = o->transient_ms = o->dt_ms = NAN;
    o->bound_steps = NM_COMPARE_BOUND_STEPS;
    o->max_k = 0;
    o->period_tol = NM_MATCH_PERIOD_TOL;
    o->stsp_dim = NM_COMPARE_STSP_DIM;
    o->stsp_tau_ms = NM_COMPARE_STSP_TAU_MS;
    o->dh_sigma_hz = NM_DH_SIGMA_HZ;
    o->nthreads = 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- checking the arguments ---------------------------------------------- */

static nm_status check_regime(const nm_regime *r, size_t i)
{
    if (r->cls != NM_REGIME_SILENT && r->cls != NM_REGIME_PERIODIC && r->cls != NM_REGIME_IRREGULAR)
        return nm_fail(NM_EINVAL, "compare: truth_regimes[%zu]: class %d is not silent (0), periodic (1) or "
                       "irregular (2)", i, (int)r->cls);
    if (r->cls == NM_REGIME_PERIODIC && (r->spikes_per_period < 1 || r->spikes_per_period > 1000))
        return nm_fail(NM_EINVAL, "compare: truth_regimes[%zu]: periodic with %d spikes per period (the limit is "
                       "1..1000)", i, r->spikes_per_period);
    if (!(r->period_ms >= 0) || !isfinite(r->period_ms))
        return nm_fail(NM_EINVAL, "compare: truth_regimes[%zu]: period %g ms (must be finite and >= 0; 0: unknown)",
                       i, r->period_ms);
    return NM_OK;
}

static nm_status check_series(const nm_series *s, size_t k)
{
    if (!s) return nm_fail(NM_EINVAL, "compare: truth_series[%zu] is NULL", k);
    if (!s->v || s->n < 2)
        return nm_fail(NM_EINVAL, "compare: truth_series[%zu] has %zu samples (at least 2)", k, s->v ? s->n : 0);
    if (!(s->dt_ms > 0) || !isfinite(s->dt_ms))
        return nm_fail(NM_EINVAL, "compare: truth_series[%zu]: sampling step %g ms (must be finite and > 0)", k,
                       s->dt_ms);
    if (!isfinite(s->p)) return nm_fail(NM_EINVAL, "compare: truth_series[%zu]: p is not finite (%g)", k, s->p);
    for (size_t i = 0; i < s->n; i++)
        if (!isfinite(s->v[i]))
            return nm_fail(NM_EDATA, "compare: truth_series[%zu] (p = %g): V[%zu] is not finite (%g)", k, s->p, i,
                           s->v[i]);
    return NM_OK;
}

static nm_status check_args(const nm_learned *m, const nm_model *truth, const nm_compare_opts *o,
                            nm_compare_result **out)
{
    if (!out) return nm_fail(NM_EINVAL, "compare: the result pointer is NULL");
    if (!o) return nm_fail(NM_EINVAL, "compare: options are NULL (fill them with nm_compare_opts_default)");
    if (!truth && !o->truth_regimes)
        return nm_fail(NM_EINVAL, "compare: no ground truth: give a truth model or opts->truth_regimes");
    if (truth && o->truth_regimes)
        return nm_fail(NM_EINVAL, "compare: give a truth model or opts->truth_regimes, not both");
    if (o->np == 0) return nm_fail(NM_EINVAL, "compare: no control values (opts->np is 0)");
    if (!o->p) return nm_fail(NM_EINVAL, "compare: opts->p is NULL with np = %zu", o->np);
    if (o->np > NM_COMPARE_MAX_POINTS)
        return nm_fail(NM_EINVAL, "compare: %zu control values; the limit is %d", o->np, NM_COMPARE_MAX_POINTS);
    for (size_t i = 0; i < o->np; i++) {
        if (!isfinite(o->p[i])) return nm_fail(NM_EINVAL, "compare: p[%zu] is not finite (%g)", i, o->p[i]);
        if (i && !(o->p[i] > o->p[i - 1]))
            return nm_fail(NM_EINVAL, "compare: the control values must increase: p[%zu] = %g after p[%zu] = %g", i,
                           o->p[i], i - 1, o->p[i - 1]);
    }
    if (o->truth_regimes)
        for (size_t i = 0; i < o->np; i++) {
            nm_status st = check_regime(&o->truth_regimes[i], i);
            if (st) return st;
        }
    if (o->ntruth_series) {
        if (o->ntruth_series > NM_COMPARE_MAX_SERIES)
            return nm_fail(NM_EINVAL, "compare: %zu truth series; the limit is %d", o->ntruth_series,
                           NM_COMPARE_MAX_SERIES);
        if (!o->truth_series)
            return nm_fail(NM_EINVAL, "compare: opts->truth_series is NULL with ntruth_series = %zu",
                           o->ntruth_series);
        if (!m) return nm_fail(NM_EINVAL, "compare: truth series need a learned model to compare with");
        for (size_t k = 0; k < o->ntruth_series; k++) {
            nm_status st = check_series(o->truth_series[k], k);
            if (st) return st;
        }
    }
    if (o->max_k < 0 || o->max_k > 1000)
        return nm_fail(NM_EINVAL, "compare: max_k must be 1..1000, or 0 for the model's (got %d)", o->max_k);
    if (!(o->period_tol >= 0) || !isfinite(o->period_tol))
        return nm_fail(NM_EINVAL, "compare: period_tol must be finite and >= 0 (got %g)", o->period_tol);
    if (o->stsp_dim < 1 || o->stsp_dim > NM_DSTSP_MAX_DIM)
        return nm_fail(NM_EINVAL, "compare: stsp_dim must be 1..%d (got %zu)", NM_DSTSP_MAX_DIM, o->stsp_dim);
    if (!(o->stsp_tau_ms > 0) || !isfinite(o->stsp_tau_ms))
        return nm_fail(NM_EINVAL, "compare: stsp_tau_ms must be finite and > 0 (got %g)", o->stsp_tau_ms);
    if (m && o->stsp_tau_ms / nm_learned_dt_ms(m) > 1e15)
        return nm_fail(NM_EINVAL, "compare: stsp_tau_ms %g is more than 1e15 map steps of %g ms", o->stsp_tau_ms,
                       nm_learned_dt_ms(m));
    if (!(o->dh_sigma_hz >= 0) || !isfinite(o->dh_sigma_hz))
        return nm_fail(NM_EINVAL, "compare: dh_sigma_hz must be finite and >= 0 (got %g)", o->dh_sigma_hz);
    if (o->nthreads < 0) return nm_fail(NM_EINVAL, "compare: nthreads must be >= 0 (got %d)", o->nthreads);
    static const char *const names[] = {"duration_ms", "transient_ms", "dt_ms"};
    const double vals[] = {o->duration_ms, o->transient_ms, o->dt_ms};
    for (size_t k = 0; k < 3; k++)
        if (isinf(vals[k]))
            return nm_fail(NM_EINVAL, "compare: %s is infinite (NaN means the default)", names[k]);
    return NM_OK;
}

/* ---- sweeps in chunks (for the progress callback) ------------------------- */

/* One chunk [from, from + n) of a stage's points. */
typedef nm_status (*chunk_fn)(void *ctx, size_t from, size_t n);

/* The pool names a failing point "(point i of n)" within the call; with
 * chunks, renumber it within the whole grid. */
static void renumber(nm_status st, size_t offset, size_t total)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", nm_last_error());
    char *q = strstr(msg, "(point ");
    size_t k = 0, n = 0;
    int used = 0;
    if (!q || sscanf(q, "(point %zu of %zu)%n", &k, &n, &used) != 2 || used <= 0) return;
    *q = '\0';
    nm_fail(st, "%s(point %zu of %zu)%s", msg, k + offset, total, q + used);
}

static nm_status run_stage(const nm_compare_opts *o, const char *stage, size_t n, chunk_fn fn, void *ctx,
                           double *seconds)
{
    double t0 = now_s();
    size_t chunk = n;
    if (o->progress) {
        /* One point per thread (a stop request waits for one point at
         * most), at most ~50 chunks. */
        size_t threads = (size_t)(o->nthreads > 0 ? o->nthreads : nm_cpu_count());
        chunk = threads;
        if (chunk < (n + 49) / 50) chunk = (n + 49) / 50;
        if (chunk > n) chunk = n;
    }
    for (size_t from = 0; from < n; from += chunk) {
        size_t c = n - from < chunk ? n - from : chunk;
        nm_status st = fn(ctx, from, c);
        if (st) {
            if (c < n) renumber(st, from, n);
            return st;
        }
        if (o->progress) {
            nm_train_progress pr = {stage, from + c, n, 0, 0, 0, 0, now_s() - t0};
            if (o->progress(&pr, o->progress_ctx))
                return nm_fail(NM_EINVAL, "compare: stopped by the progress callback (%s, %zu of %zu points)",
                               stage, from + c, n);
        }
    }
    if (seconds) *seconds = now_s() - t0;
    return NM_OK;
}

typedef struct truth_chunk {
    const nm_model *truth;
    const double *p;
    const nm_sim_opts *so;
    const nm_regime_opts *ro;
    int nthreads, keep_v;
    nm_sweep_point *pts;
} truth_chunk;

static nm_status truth_chunk_run(void *ctx, size_t from, size_t n)
{
    const truth_chunk *c = ctx;
    nm_sim_opts so = *c->so;
    so.seed = c->so->seed + (uint64_t)from; /* point i keeps seed + i */
    return nm_model_sweep_points(c->truth, c->p + from, n, &so, c->ro, c->nthreads, c->keep_v, c->pts + from);
}

typedef struct learned_chunk {
    const nm_learned *m;
    const double *p;
    const nm_learned_sweep_opts *lo;
    nm_sweep_point *pts;
} learned_chunk;

static nm_status learned_chunk_run(void *ctx, size_t from, size_t n)
{
    const learned_chunk *c = ctx;
    return nm_learned_sweep(c->m, c->p + from, n, c->lo, c->pts + from);
}

/* ---- metrics --------------------------------------------------------------- */

/* Linear interpolation of s onto the step dt (ms), from its first sample to
 * its last. */
static nm_status resample_linear(const nm_series *s, double dt, double **out, size_t *n)
{
    double span = (double)(s->n - 1) * s->dt_ms;
    double mf = floor(span / dt + 1e-9) + 1;
    if (!(mf <= 1e9))
        return nm_fail(NM_EINVAL, "compare: a truth series of %g ms is more than 1e9 map steps of %g ms", span, dt);
    size_t m = (size_t)mf;
    double *v = nm_malloc(m * sizeof *v);
    if (!v) return NM_ENOMEM;
    for (size_t i = 0; i < m; i++) {
        double x = (double)i * dt / s->dt_ms;
        size_t k = (size_t)x;
        if (k >= s->n - 1) {
            v[i] = s->v[s->n - 1];
            continue;
        }
        double f = x - (double)k;
        v[i] = (1 - f) * s->v[k] + f * s->v[k + 1];
    }
    *out = v;
    *n = m;
    return NM_OK;
}

static void note(nm_compare_metric *m, const char *what, const char *msg)
{
    size_t len = strlen(m->why);
    snprintf(m->why + len, sizeof m->why - len, "%s%s: %s", len ? "; " : "", what, msg);
}

/* Truth V/ISIs against the learned point's V/ISIs, both sampled every dt ms. */
static void metrics_at(nm_compare_metric *m, const double *vt, size_t nt, const double *isit, size_t nisit,
                       const nm_sweep_point *lp, double dt, size_t stsp_dim, size_t stsp_tau, double dh_sigma)
{
    m->w1 = m->w1_rel = m->dh = m->dstsp = NAN;
    m->learned = lp->regime;
    m->diverged = lp->diverged;
    if (lp->diverged) {
        note(m, "learned", "run diverged");
        return;
    }
    if (nisit && lp->nisi) {
        if (nm_metric_wasserstein1(isit, nisit, lp->isi, lp->nisi, &m->w1) == NM_OK) {
            double mean = 0;
            for (size_t k = 0; k < nisit; k++) mean += isit[k];
            m->w1_rel = m->w1 / (mean / (double)nisit);
        }
    } else {
        note(m, "W1", nisit ? "learned has no ISIs" : "truth has no ISIs");
    }
    if (nm_metric_dh(vt, nt, lp->v, lp->nv, dt, dh_sigma, &m->dh)) note(m, "D_H", nm_last_error());
    if (nm_metric_dstsp(vt, nt, lp->v, lp->nv, stsp_dim, stsp_tau, NM_DSTSP_BINS, &m->dstsp))
        note(m, "D_stsp", nm_last_error());
}

/* The metrics against recorded truth series: each resampled to the map's
 * step, its spikes taken at the model's threshold. */
static nm_status metrics_recorded(const nm_learned *m, const nm_compare_opts *o, const nm_sweep_point *ml,
                                  size_t tau, nm_compare_metric *rows)
{
    double ldt = nm_learned_dt_ms(m);
    for (size_t k = 0; k < o->ntruth_series; k++) {
        const nm_series *s = o->truth_series[k];
        double *v = NULL, *times = NULL, *isi = NULL;
        size_t nv = 0, ns = 0, nisi = 0;
        nm_status st = resample_linear(s, ldt, &v, &nv);
        if (!st) st = nm_spikes_detect(v, nv, ldt, 0, nm_learned_threshold_mv(m), &times, &ns);
        if (!st && ns >= 2) {
            if (!(isi = nm_malloc((ns - 1) * sizeof *isi))) st = NM_ENOMEM;
            else {
                for (size_t q = 0; q + 1 < ns; q++) isi[q] = times[q + 1] - times[q];
                nisi = ns - 1;
            }
        }
        if (!st) {
            rows[k].p = s->p;
            rows[k].recorded = 1;
            rows[k].series = k;
            metrics_at(&rows[k], v, nv, isi, nisi, &ml[k], ldt, o->stsp_dim, tau, o->dh_sigma_hz);
        }
        free(v);
        free(times);
        free(isi);
        if (st) return st;
    }
    return NM_OK;
}

/* Steps 4: the metric points (training p, or the truth series). */
static nm_status compare_metrics(const nm_learned *m, const nm_model *truth, const nm_compare_opts *o,
                                 const nm_sim_opts *so, const nm_regime_opts *ro, const nm_learned_sweep_opts *lo,
                                 nm_compare_result *r)
{
    size_t nm = 0;
    const double *mp = NULL;
    double *own = NULL;
    if (o->ntruth_series) {
        nm = o->ntruth_series;
        if (!(own = nm_malloc(nm * sizeof *own))) return NM_ENOMEM;
        for (size_t k = 0; k < nm; k++) own[k] = o->truth_series[k]->p;
        mp = own;
    } else if (truth) {
        mp = nm_learned_train_p(m, &nm);
        if (!mp) nm = 0;
    }
    if (!nm) return NM_OK;
    double ldt = nm_learned_dt_ms(m);
    double t0 = now_s();
    nm_sweep_point *ml = nm_calloc(nm, sizeof *ml), *mt = NULL;
    nm_status st = ml ? NM_OK : NM_ENOMEM;
    if (!st && !(r->metrics = nm_calloc(nm, sizeof *r->metrics))) st = NM_ENOMEM;
    nm_learned_sweep_opts mo = *lo;
    mo.keep_v = 1;
    mo.bound_steps = 0;
    if (!st) st = nm_learned_sweep(m, mp, nm, &mo, ml);
    size_t tau = (size_t)lround(o->stsp_tau_ms / ldt);
    if (tau < 1) tau = 1;
    r->stsp_tau_steps = tau;
    if (!st && o->ntruth_series) {
        st = metrics_recorded(m, o, ml, tau, r->metrics);
    } else if (!st) {
        /* The truth at the map's step, same window. */
        nm_sim_opts mso = *so;
        mso.dt_ms = ldt;
        if (!(mt = nm_calloc(nm, sizeof *mt))) st = NM_ENOMEM;
        if (!st) st = nm_model_sweep_points(truth, mp, nm, &mso, ro, o->nthreads, 1, mt);
        for (size_t k = 0; !st && k < nm; k++) {
            nm_compare_metric *row = &r->metrics[k];
            row->p = mp[k];
            row->truth = mt[k].regime;
            metrics_at(row, mt[k].v, mt[k].nv, mt[k].isi, mt[k].nisi, &ml[k], ldt, o->stsp_dim, tau,
                       o->dh_sigma_hz);
        }
    }
    if (!st) r->nmetrics = nm;
    if (!st && o->progress) {
        nm_train_progress pr = {"compare metrics", nm, nm, 0, 0, 0, 0, now_s() - t0};
        if (o->progress(&pr, o->progress_ctx))
            st = nm_fail(NM_EINVAL, "compare: stopped by the progress callback (compare metrics)");
    }
    if (ml) nm_sweep_points_clear(ml, nm);
    if (mt) nm_sweep_points_clear(mt, nm);
    free(ml);
    free(mt);
    free(own);
    return st;
}

/* ---- the whole comparison ------------------------------------------------------ */

void nm_compare_result_free(nm_compare_result *r)
{
    if (!r) return;
    nm_compare_impl *c = (nm_compare_impl *)r;
    if (c->tpts) nm_sweep_points_clear(c->tpts, r->np);
    if (c->lpts) nm_sweep_points_clear(c->lpts, r->np);
    free(c->tpts);
    free(c->lpts);
    free(r->points);
    free(r->truth_transitions);
    free(r->learned_transitions);
    free(r->offsets);
    free(r->metrics);
    free(c);
}

/* Step 1: the protocol (as `neuromap compare` has always chosen it). */
static void protocol(const nm_learned *m, const nm_model *truth, const nm_compare_opts *o, nm_sim_opts *so,
                     nm_regime_opts *ro)
{
    nm_regime_opts_default(ro);
    const nm_mf *mf = m ? nm_learned_mf(m) : NULL;
    if (o->max_k) {
        ro->max_k = o->max_k;
    } else if (mf && nm_mf_has(mf, "map.regime_max_k")) {
        int32_t k = 0;
        if (nm_mf_get_scalar_i32(mf, "map.regime_max_k", &k) == NM_OK && k > 0) ro->max_k = k;
    }
    if (truth) {
        nm_model_sim_opts_default(truth, so);
        if (!isnan(o->duration_ms)) so->duration_ms = o->duration_ms;
        if (!isnan(o->dt_ms)) so->dt_ms = o->dt_ms;
        if (!isnan(o->transient_ms)) so->transient_ms = o->transient_ms;
        /* ISI slack from the coarser of the two traces' steps. */
        nm_regime_opts_for_step(ro, m ? fmax(so->dt_ms, nm_learned_dt_ms(m)) : so->dt_ms);
    } else {
        /* No truth model to take a protocol from: the learned model's time
         * scales (its shortest training series, at most 60 s, after half
         * as much), else the SRK protocol (the sweep's). */
        nm_sim_opts_default(so);
        double span = 0;
        if (mf && nm_mf_has(mf, "meta.train_min_span_ms") &&
            nm_mf_get_scalar_f64(mf, "meta.train_min_span_ms", &span) == NM_OK && span > 0) {
            so->duration_ms = fmin(so->duration_ms, span);
            so->transient_ms = 0.5 * so->duration_ms;
        }
        if (m) nm_regime_opts_for_step(ro, nm_learned_dt_ms(m));
        if (!isnan(o->duration_ms)) so->duration_ms = o->duration_ms;
        if (!isnan(o->transient_ms)) so->transient_ms = o->transient_ms;
    }
    /* The truth is the noiseless model. */
    so->noise_mv = 0;
    so->noise_tau_ms = 0;
    so->seed = 0;
    so->record_states = 0;
}

nm_status nm_compare(const nm_learned *m, const nm_model *truth, const nm_compare_opts *o,
                     nm_compare_result **out)
{
    if (out) *out = NULL;
    nm_status st = check_args(m, truth, o, out);
    if (st) return st;
    size_t np = o->np;
    const double *p = o->p;
    nm_compare_impl *c = nm_calloc(1, sizeof *c);
    if (!c) return NM_ENOMEM;
    nm_compare_result *r = &c->r;
    r->np = np;
    r->has_model = m != NULL;
    r->truth_recorded = truth == NULL;
    r->period_tol = o->period_tol;
    r->bound_steps = o->bound_steps;
    r->stsp_dim = o->stsp_dim;
    r->dh_sigma_hz = o->dh_sigma_hz;
    nm_regime *tr = nm_malloc(np * sizeof *tr);
    r->points = nm_calloc(np, sizeof *r->points);
    if (!tr || !r->points) {
        st = NM_ENOMEM;
        goto fail;
    }

    nm_sim_opts so;
    nm_regime_opts ro;
    protocol(m, truth, o, &so, &ro);
    r->regime = ro;
    r->duration_ms = so.duration_ms;
    r->transient_ms = so.transient_ms;
    r->truth_dt_ms = truth ? so.dt_ms : 0;
    r->map_dt_ms = m ? nm_learned_dt_ms(m) : 0;

    /* Step 2: the truth on the grid. */
    if (truth) {
        if (!(c->tpts = nm_calloc(np, sizeof *c->tpts))) {
            st = NM_ENOMEM;
            goto fail;
        }
        truth_chunk tc = {truth, p, &so, &ro, o->nthreads, 0, c->tpts};
        if ((st = run_stage(o, "compare truth", np, truth_chunk_run, &tc, &r->truth_seconds))) goto fail;
        for (size_t i = 0; i < np; i++) tr[i] = c->tpts[i].regime;
    } else {
        memcpy(tr, o->truth_regimes, np * sizeof *tr);
    }

    /* Step 3: the learned model on the same grid. */
    nm_learned_sweep_opts lo;
    nm_learned_sweep_opts_default(&lo);
    lo.transient_ms = so.transient_ms;
    lo.duration_ms = so.duration_ms;
    lo.bound_steps = o->bound_steps;
    lo.nthreads = o->nthreads;
    lo.regime = ro;
    if (m) {
        if (!(c->lpts = nm_calloc(np, sizeof *c->lpts))) {
            st = NM_ENOMEM;
            goto fail;
        }
        learned_chunk lc = {m, p, &lo, c->lpts};
        if ((st = run_stage(o, "compare learned", np, learned_chunk_run, &lc, &r->learned_seconds))) goto fail;
    }

    /* Step 4: the metrics. */
    if (m && (st = compare_metrics(m, truth, o, &so, &ro, &lo, r))) goto fail;

    /* Step 5: the table and the summary. */
    for (size_t i = 0; i < np; i++) {
        nm_compare_point *pt = &r->points[i];
        pt->p = p[i];
        pt->truth = tr[i];
        pt->bounded = 1;
        pt->truth_v_end = c->tpts ? c->tpts[i].v_end : NAN;
        pt->learned_v_end = NAN;
        if (c->tpts) {
            pt->truth_isi = c->tpts[i].isi;
            pt->truth_nisi = c->tpts[i].nisi;
        }
        if (c->lpts) {
            const nm_sweep_point *l = &c->lpts[i];
            pt->learned = l->regime;
            pt->diverged = l->diverged;
            pt->bounded = l->bounded;
            pt->steps_run = l->steps_run;
            pt->latent_max_abs = l->latent_max_abs;
            snprintf(pt->message, sizeof pt->message, "%s", l->message);
            if (!l->diverged) pt->learned_v_end = l->v_end;
            pt->learned_isi = l->isi;
            pt->learned_nisi = l->nisi;
        }
    }
    if ((st = nm_compare_summarize(r))) goto fail;
    if (m) {
        double ldt = nm_learned_dt_ms(m);
        /* As nm_learned_sweep counts them: transient + window, or more. */
        r->run_steps = (size_t)llround(so.transient_ms / ldt) + (size_t)llround(so.duration_ms / ldt);
        if (o->bound_steps > r->run_steps) r->run_steps = o->bound_steps;
    }
    free(tr);
    nm_clear_error();
    *out = r;
    return NM_OK;
fail:
    free(tr);
    nm_compare_result_free(r);
    return st;
}
