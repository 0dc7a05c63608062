/* map.c -- training and stepping the neural-network map (see map.h). */
#define _POSIX_C_SOURCE 200809L
#include "learn/map.h"

#include "analysis/pool.h"

#include "internal.h"
#include "rng.h"

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Share of each series (its end) held out to validate the one-step stage. */
#define MAP_VAL_FRAC 0.1
/* A free run whose standardised state leaves this multiple of the largest
 * |xs| seen in training has diverged (design.md: judge boundedness on the
 * latent state, never on the saturated decoded V). */
#define MAP_BOUND_FACTOR 3.0
#define MAP_BOUND_MIN 10.0
/* The last layer starts at this fraction of its Xavier scale so that the
 * initial map is close to the identity (a residual net at rest). */
#define MAP_LAST_LAYER_SCALE 0.1
/* Two regimes "match" when class and k agree and periods are within 25%
 * (the criterion of `neuromap compare`). */
#define MAP_PERIOD_MATCH_RTOL 0.25
/* A map with an input channel keeps the end of every series out of training
 * and selects its checkpoints by driven runs there (held-out input). */
#define MAP_HOLD_FRAC 0.2
/* Coincidence window of that selection (ms; the INCF competition's 2 ms,
 * widened to two map steps for coarse maps). */
#define MAP_GAMMA_DELTA_MS 2.0

void nm_map_opts_default(nm_map_opts *o)
{
    memset(o, 0, sizeof *o);
    o->hidden[0] = 128;
    o->hidden[1] = 128;
    o->nhidden = 2;
    o->onestep_epochs = 20;
    o->batch = 256;
    o->lr = 1e-3;
    o->noise = 0.002;
    o->delta_scaling = 1;
    /* One stage of 10-step rollouts, long and at a high step size: longer
     * rollouts (25, 50) bias the bursts toward fewer spikes (the MSE of a
     * free run hedges against spike-timing errors by damping the last spike),
     * and the slow time scale converges only over thousands of iterations
     * (docs/map.md: 1600 / 2400 / 3200 / 4800 iterations gave a mean
     * agreement over five seeds of 83.4 / 84.3 / 84.6 / 84.6%). */
    o->nstages = 1;
    o->rollout_len[0] = 10;
    o->rollout_iters[0] = 3200;
    o->rollout_batch = 64;
    o->rollout_lr = 1e-3;
    o->clip_norm = 1.0;
    o->ema_decay = 0.995;
    o->select_every = 50;
    o->select_transient_ms = 10000;
    o->select_window_ms = 30000;
    o->dt_ms = 5;
    o->threshold_mv = -35;
    o->ensemble = 1;
    o->threads = 0;
    o->seed = 1;
}

void nm_map_free(nm_map *m)
{
    if (!m) return;
    if (m->nmembers == 0) nm_mlp_free(m->net);
    for (size_t r = 0; r < m->nmembers; r++) nm_mlp_free(m->members[r]);
    free(m);
}

/* ---- the step ---------------------------------------------------------- */

/* Latent x (raw units) <-> map coordinates y = A (x - mean). */
static void map_to_y(const nm_map *m, const double *x, float *y)
{
    size_t D = m->D;
    for (size_t i = 0; i < D; i++) {
        double s = 0;
        for (size_t j = 0; j < D; j++) s += m->A[i * D + j] * (x[j] - m->x_mean[j]);
        y[i] = (float)s;
    }
}

static void map_from_y(const nm_map *m, const float *y, double *x)
{
    size_t D = m->D;
    for (size_t i = 0; i < D; i++) {
        double s = m->x_mean[i];
        for (size_t j = 0; j < D; j++) s += m->A_inv[i * D + j] * y[j];
        x[i] = s;
    }
}

/* Standardised step: xs (D) -> xs_next (D); us is used only by a map with
 * an input channel. */
static void map_step_std(const nm_map *m, double ps, double us, const float *xs, float *xs_next)
{
    float in[NM_MAP_MAX_D + 2], out[NM_MAP_MAX_D];
    size_t D = m->D;
    memcpy(in, xs, D * sizeof *in);
    in[D] = (float)ps;
    if (m->nu) in[D + 1] = (float)us;
    if (m->nmembers <= 1) {
        nm_mlp_apply1(m->net, in, out); /* widths checked at alloc/load */
    } else {
        /* Ensemble: the mean of the members' outputs, summed in a fixed order. */
        float acc[NM_MAP_MAX_D] = {0}, o1[NM_MAP_MAX_D];
        for (size_t r = 0; r < m->nmembers; r++) {
            nm_mlp_apply1(m->members[r], in, o1);
            for (size_t j = 0; j < D; j++) acc[j] += o1[j];
        }
        for (size_t j = 0; j < D; j++) out[j] = acc[j] / (float)m->nmembers;
    }
    for (size_t j = 0; j < D; j++) xs_next[j] = xs[j] + (float)m->d_scale[j] * out[j];
}

static double map_scale_u(const nm_map *m, double u) { return m->nu ? (u - m->u_center) / m->u_half : 0; }

nm_status nm_map_step(const nm_map *m, double p, const double *x, double *x_next)
{
    return nm_map_step_u(m, p, 0, x, x_next);
}

nm_status nm_map_step_u(const nm_map *m, double p, double u, const double *x, double *x_next)
{
    float xs[NM_MAP_MAX_D] = {0}, xn[NM_MAP_MAX_D] = {0};
    size_t D = m->D;
    map_to_y(m, x, xs);
    map_step_std(m, (p - m->p_center) / m->p_half, map_scale_u(m, u), xs, xn);
    for (size_t j = 0; j < D; j++) {
        if (!isfinite(xn[j]) || fabs(xn[j]) > m->bound)
            return nm_fail(NM_ENUMERIC, "map diverged: latent unit %zu reached %g standard deviations (bound %g)",
                           j, (double)xn[j], m->bound);
    }
    map_from_y(m, xn, x_next);
    return NM_OK;
}

/* ---- training data ----------------------------------------------------- */

typedef struct map_data {
    size_t D, nseries, nu;
    float **xs;       /* per series [T x D], standardised */
    float **us;       /* nu: per series [T] scaled input over step t -> t+1 */
    size_t *T;
    size_t *Tfit;     /* states used for training (driven series: without the held-out end) */
    unsigned char *driven; /* nu: series s has a recorded input (else u = 0 and it is
                              judged by free runs like a constant-p series) */
    double *ps;       /* scaled p per series */
} map_data;

/* Scaled input of series s over step t (0 = no input for a series without). */
static float map_data_u(const map_data *d, size_t s, size_t t) { return d->us ? d->us[s][t] : 0.0f; }

static void map_data_free(map_data *d)
{
    if (d->xs)
        for (size_t s = 0; s < d->nseries; s++) free(d->xs[s]);
    if (d->us)
        for (size_t s = 0; s < d->nseries; s++) free(d->us[s]);
    free(d->us);
    free(d->Tfit);
    free(d->driven);
    free(d->xs);
    free(d->T);
    free(d->ps);
}

/* Slow-feature coordinates: solve Cd v = lambda C v for the covariance C of
 * the standardised latent xs and the covariance Cd of its one-step change;
 * with v^T C v = 1 the new coordinates y_i = v_i^T xs are uncorrelated, of
 * unit variance, and ordered by how fast they change (lambda_i = mean squared
 * step).  W (rows v_i^T) and its inverse C V are returned [D x D]. */
static nm_status slow_features(const map_data *d, size_t D, double *W, double *Winv)
{
    double C[NM_MAP_MAX_D * NM_MAP_MAX_D] = {0}, Cd[NM_MAP_MAX_D * NM_MAP_MAX_D] = {0};
    size_t n = 0, nd = 0;
    for (size_t s = 0; s < d->nseries; s++)
        for (size_t t = 0; t < d->T[s]; t++) {
            const float *x = d->xs[s] + t * D;
            for (size_t i = 0; i < D; i++)
                for (size_t j = 0; j < D; j++) C[i * D + j] += (double)x[i] * x[j];
            n++;
            if (t + 1 < d->T[s]) {
                for (size_t i = 0; i < D; i++)
                    for (size_t j = 0; j < D; j++)
                        Cd[i * D + j] += (double)(x[D + i] - x[i]) * (double)(x[D + j] - x[j]);
                nd++;
            }
        }
    for (size_t i = 0; i < D * D; i++) {
        C[i] /= (double)n;
        Cd[i] /= (double)(nd ? nd : 1);
    }
    gsl_matrix *A = gsl_matrix_alloc(D, D), *B = gsl_matrix_alloc(D, D), *V = gsl_matrix_alloc(D, D);
    gsl_vector *ev = gsl_vector_alloc(D);
    gsl_eigen_gensymmv_workspace *w = gsl_eigen_gensymmv_alloc(D);
    nm_status st = NM_OK;
    if (!A || !B || !V || !ev || !w) {
        st = nm_fail(NM_ENOMEM, "map: out of memory (slow features)");
        goto done;
    }
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++) {
            gsl_matrix_set(A, i, j, Cd[i * D + j]);
            gsl_matrix_set(B, i, j, C[i * D + j]);
        }
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int rc = gsl_eigen_gensymmv(A, B, ev, V, w);
    gsl_set_error_handler(old);
    if (rc) {
        /* C is not positive definite: a latent unit is a copy of another. */
        st = nm_fail(NM_EDATA, "map: latent units are linearly dependent (slow features: %s)", gsl_strerror(rc));
        goto done;
    }
    gsl_eigen_gensymmv_sort(ev, V, GSL_EIGEN_SORT_VAL_ASC);
    for (size_t k = 0; k < D; k++) {
        double q = 0; /* v^T C v */
        for (size_t i = 0; i < D; i++)
            for (size_t j = 0; j < D; j++) q += gsl_matrix_get(V, i, k) * C[i * D + j] * gsl_matrix_get(V, j, k);
        double sc = 1.0 / sqrt(q);
        /* A fixed sign (largest component positive) keeps results reproducible. */
        size_t arg = 0;
        for (size_t i = 1; i < D; i++)
            if (fabs(gsl_matrix_get(V, i, k)) > fabs(gsl_matrix_get(V, arg, k))) arg = i;
        if (gsl_matrix_get(V, arg, k) < 0) sc = -sc;
        for (size_t i = 0; i < D; i++) W[k * D + i] = gsl_matrix_get(V, i, k) * sc;
    }
    /* W^-1 = C W^T (from W C W^T = I). */
    for (size_t i = 0; i < D; i++)
        for (size_t k = 0; k < D; k++) {
            double acc = 0;
            for (size_t j = 0; j < D; j++) acc += C[i * D + j] * W[k * D + j];
            Winv[i * D + k] = acc;
        }
done:
    gsl_eigen_gensymmv_free(w);
    gsl_vector_free(ev);
    gsl_matrix_free(V);
    gsl_matrix_free(B);
    gsl_matrix_free(A);
    return st;
}

static nm_status map_data_build(const nm_map_series *series, size_t nseries, size_t D, const nm_map_opts *o,
                                nm_map *m, map_data *d)
{
    memset(d, 0, sizeof *d);
    d->D = D;
    d->nseries = nseries;
    double sum[NM_MAP_MAX_D] = {0}, sq[NM_MAP_MAX_D] = {0}, sd[NM_MAP_MAX_D];
    size_t n = 0;
    double pmin = INFINITY, pmax = -INFINITY;
    for (size_t s = 0; s < nseries; s++) {
        for (size_t t = 0; t < series[s].T; t++)
            for (size_t j = 0; j < D; j++) {
                double v = series[s].x[t * D + j];
                if (!isfinite(v)) return nm_fail(NM_EDATA, "map: latent series %zu has a non-finite value at %zu", s, t);
                sum[j] += v;
                sq[j] += v * v;
            }
        n += series[s].T;
        pmin = fmin(pmin, series[s].p);
        pmax = fmax(pmax, series[s].p);
    }
    memset(m->A, 0, sizeof m->A);
    memset(m->A_inv, 0, sizeof m->A_inv);
    for (size_t j = 0; j < D; j++) {
        m->x_mean[j] = sum[j] / (double)n;
        double var = sq[j] / (double)n - m->x_mean[j] * m->x_mean[j];
        /* A collapsed latent unit (variance ~0) is kept but not blown up. */
        sd[j] = var > 1e-12 ? sqrt(var) : 1.0;
        m->A[j * D + j] = 1.0 / sd[j];
        m->A_inv[j * D + j] = sd[j];
    }
    m->p_center = 0.5 * (pmin + pmax);
    m->p_half = pmax > pmin ? 0.5 * (pmax - pmin) : 1.0;
    /* The input channel: scaled so the range seen in training (0 included
     * when some series has no input) maps to [-1, 1], like p. */
    m->nu = 0;
    double umin = INFINITY, umax = -INFINITY;
    int some_without = 0;
    for (size_t s = 0; s < nseries; s++) {
        if (!series[s].u) {
            some_without = 1;
            continue;
        }
        m->nu = 1;
        for (size_t t = 0; t + 1 < series[s].T; t++) {
            double u = series[s].u[t];
            if (!isfinite(u)) return nm_fail(NM_EDATA, "map: input of series %zu is not finite at step %zu", s, t);
            umin = fmin(umin, u);
            umax = fmax(umax, u);
        }
    }
    if (m->nu && some_without) {
        umin = fmin(umin, 0);
        umax = fmax(umax, 0);
    }
    if (m->nu) {
        m->u_lo = umin;
        m->u_hi = umax;
        m->u_center = 0.5 * (umin + umax);
        m->u_half = umax > umin ? 0.5 * (umax - umin) : 1.0;
    }
    d->nu = m->nu;

    d->xs = nm_calloc(nseries, sizeof *d->xs);
    d->T = nm_calloc(nseries, sizeof *d->T);
    d->Tfit = nm_calloc(nseries, sizeof *d->Tfit);
    d->ps = nm_calloc(nseries, sizeof *d->ps);
    if (!d->xs || !d->T || !d->Tfit || !d->ps) return NM_ENOMEM;
    if (m->nu && (!(d->us = nm_calloc(nseries, sizeof *d->us)) || !(d->driven = nm_calloc(nseries, 1))))
        return NM_ENOMEM;
    for (size_t s = 0; s < nseries; s++) {
        d->T[s] = series[s].T;
        if (d->driven) d->driven[s] = series[s].u != NULL;
        d->Tfit[s] = d->driven && d->driven[s] ? series[s].T - (size_t)(MAP_HOLD_FRAC * (double)series[s].T)
                                               : series[s].T;
        if (m->nu) {
            if (!(d->us[s] = nm_malloc(series[s].T * sizeof(float)))) return NM_ENOMEM;
            for (size_t t = 0; t < series[s].T; t++)
                d->us[s][t] = series[s].u ? (float)map_scale_u(m, series[s].u[t]) : (float)map_scale_u(m, 0);
        }
        d->ps[s] = (series[s].p - m->p_center) / m->p_half;
        d->xs[s] = nm_malloc(series[s].T * D * sizeof(float));
        if (!d->xs[s]) return NM_ENOMEM;
        for (size_t t = 0; t < series[s].T; t++) map_to_y(m, series[s].x + t * D, d->xs[s] + t * D);
    }
    if (o->sfa && D > 1) {
        double W[NM_MAP_MAX_D * NM_MAP_MAX_D], Winv[NM_MAP_MAX_D * NM_MAP_MAX_D];
        nm_status st = slow_features(d, D, W, Winv);
        if (st) return st;
        /* A = W diag(1/sd), A_inv = diag(sd) W^-1; re-map the data. */
        for (size_t i = 0; i < D; i++)
            for (size_t j = 0; j < D; j++) {
                m->A[i * D + j] = W[i * D + j] / sd[j];
                m->A_inv[i * D + j] = sd[i] * Winv[i * D + j];
            }
        for (size_t s = 0; s < nseries; s++)
            for (size_t t = 0; t < series[s].T; t++) map_to_y(m, series[s].x + t * D, d->xs[s] + t * D);
    }
    double maxabs = 0;
    for (size_t s = 0; s < nseries; s++)
        for (size_t i = 0; i < d->T[s] * D; i++) maxabs = fmax(maxabs, fabs(d->xs[s][i]));
    m->bound = fmax(MAP_BOUND_MIN, MAP_BOUND_FACTOR * maxabs);
    /* RMS one-step change of each map coordinate. */
    double dsq[NM_MAP_MAX_D] = {0};
    size_t nd = 0;
    for (size_t s = 0; s < nseries; s++)
        for (size_t t = 0; t + 1 < d->T[s]; t++, nd++)
            for (size_t j = 0; j < D; j++) {
                double dd = d->xs[s][(t + 1) * D + j] - d->xs[s][t * D + j];
                dsq[j] += dd * dd;
            }
    for (size_t j = 0; j < D; j++) {
        double r = sqrt(dsq[j] / (double)(nd ? nd : 1));
        m->d_scale[j] = o->delta_scaling && r > 1e-9 ? r : 1.0;
    }
    return NM_OK;
}

/* ---- selection by free runs at the training p values ------------------- */

typedef struct map_truth {
    nm_regime r;
    double *hold_spikes;   /* nu: spike times (ms) in the held-out end, from its start */
    size_t nhold;
} map_truth;

static void map_truth_free(map_truth *t, size_t n)
{
    if (t)
        for (size_t s = 0; s < n; s++) free(t[s].hold_spikes);
    free(t);
}

static int regimes_match(const nm_regime *a, const nm_regime *b)
{
    if (a->cls != b->cls) return 0;
    if (a->cls != NM_REGIME_PERIODIC) return 1;
    if (a->spikes_per_period != b->spikes_per_period) return 0;
    return fabs(a->period_ms - b->period_ms) <= MAP_PERIOD_MATCH_RTOL * b->period_ms;
}

/* The classifier of the selection: its ISI slack scaled with the map step,
 * patterns up to o->regime_max_k spikes. */
static void map_regime_opts(const nm_map_opts *o, nm_regime_opts *ro)
{
    nm_regime_opts_default(ro);
    nm_regime_opts_for_step(ro, o->dt_ms);
    if (o->regime_max_k > 0) ro->max_k = o->regime_max_k;
}

/* Free run from standardised start xs0 for transient+window; classify the
 * decoded V of the window.  Returns NM_ENUMERIC if it diverged. */
static nm_status map_free_regime(const nm_map *m, const nm_map_opts *o, double ps, const float *xs0,
                                 nm_regime *r, double *vbuf, size_t nwin)
{
    size_t D = m->D;
    size_t ntr = (size_t)(o->select_transient_ms / o->dt_ms);
    float xs[NM_MAP_MAX_D], xn[NM_MAP_MAX_D];
    double x[NM_MAP_MAX_D];
    memcpy(xs, xs0, D * sizeof *xs);
    for (size_t k = 0; k < ntr + nwin; k++) {
        map_step_std(m, ps, map_scale_u(m, 0), xs, xn);
        for (size_t j = 0; j < D; j++) {
            if (!isfinite(xn[j]) || fabs(xn[j]) > m->bound) return NM_ENUMERIC;
            xs[j] = xn[j];
        }
        if (k >= ntr) {
            map_from_y(m, xs, x);
            vbuf[k - ntr] = o->decode(x, o->decode_ctx);
        }
    }
    double *t = NULL;
    size_t ns = 0;
    nm_status st = nm_spikes_detect(vbuf, nwin, o->dt_ms, 0, o->threshold_mv, &t, &ns);
    if (st) return st;
    nm_regime_opts ro;
    map_regime_opts(o, &ro);
    st = nm_regime_classify(t, ns, (double)nwin * o->dt_ms, &ro, r);
    free(t);
    return st;
}

/* Held-out window of series s for a map with an input channel: steps
 * [Tfit, T) (starting from the true state at Tfit). */
static double map_gamma_delta(const nm_map_opts *o) { return fmax(MAP_GAMMA_DELTA_MS, 2 * o->dt_ms); }

/* Driven run over the held-out end of series s from its true state, decoded
 * V into v; spikes compared with the truth's: Gamma into *gamma.  NM_ENUMERIC
 * if the run diverged. */
static nm_status map_driven_gamma(const nm_map *m, const nm_map_opts *o, const map_data *d, size_t s,
                                  const map_truth *truth, double *v, double *gamma)
{
    size_t D = m->D, t0 = d->Tfit[s], n = d->T[s] - t0;
    float xs[NM_MAP_MAX_D], xn[NM_MAP_MAX_D];
    double x[NM_MAP_MAX_D];
    memcpy(xs, d->xs[s] + t0 * D, D * sizeof *xs);
    map_from_y(m, xs, x);
    v[0] = o->decode(x, o->decode_ctx);
    for (size_t k = 1; k < n; k++) {
        map_step_std(m, d->ps[s], map_data_u(d, s, t0 + k - 1), xs, xn);
        for (size_t j = 0; j < D; j++) {
            if (!isfinite(xn[j]) || fabs(xn[j]) > m->bound) return NM_ENUMERIC;
            xs[j] = xn[j];
        }
        map_from_y(m, xs, x);
        v[k] = o->decode(x, o->decode_ctx);
    }
    double *t = NULL;
    size_t ns = 0;
    double hyst = o->hysteresis_mv > 0 ? o->hysteresis_mv : 2.0;
    nm_status st = nm_spikes_detect_hyst(v, n, o->dt_ms, 0, o->threshold_mv, hyst, &t, &ns);
    if (st) return st;
    nm_coincidence c;
    st = nm_coincidence_factor(truth[s].hold_spikes, truth[s].nhold, t, ns, map_gamma_delta(o),
                               (double)n * o->dt_ms, &c);
    free(t);
    /* A model firing so fast that chance fills the window is as bad as it gets. */
    *gamma = st == NM_OK ? c.gamma : -1;
    return NM_OK;
}

static int map_series_driven(const map_data *d, size_t s) { return d->driven && d->driven[s]; }

/* Score of the current weights, per training series:
 *   - a series without input (every series of a constant-p map): 1000 if
 *     the free run from the start state reaches its regime, minus a
 *     tie-break penalty for period mismatch (so among equal counts the
 *     closest periods win);
 *   - a series with recorded input: 1000 x Gamma of the driven run over its
 *     held-out end (issue 11), counted as a match at Gamma >= 0.9.
 * A map with an input channel trained on both kinds keeps the constant-p
 * regimes and learns the input response. */
static void start_worker_free_(void *w) { free(w); }

/* The free runs of one checkpoint evaluation, one pool item per series (a
 * series' run depends on that series alone, so the results, and the score
 * summed from them in series order below, are the same for any number of
 * threads: bit for bit the serial evaluation). */
typedef struct select_job {
    const nm_map *m;
    const nm_map_opts *o;
    const map_data *d;
    const map_truth *truth;
    const float *xs_start; /* NULL: each series' own first state */
    size_t nwin, nmax;     /* free-run window; buffer length */
    nm_regime *r;          /* [nseries] regime of a free run */
    double *g;             /* [nseries] Gamma of a driven run */
    unsigned char *ok;     /* [nseries] 1: the run did not diverge */
} select_job;

static void *select_worker_alloc(const void *shared)
{
    const select_job *j = shared;
    return malloc((j->nmax ? j->nmax : 1) * sizeof(double));
}

static nm_status select_item(void *w, const void *shared, size_t s)
{
    const select_job *j = shared;
    if (map_series_driven(j->d, s)) {
        j->g[s] = 0;
        j->ok[s] = map_driven_gamma(j->m, j->o, j->d, s, j->truth, w, &j->g[s]) == NM_OK;
    } else {
        const float *start = j->xs_start ? j->xs_start : j->d->xs[s];
        memset(&j->r[s], 0, sizeof j->r[s]);
        j->ok[s] = map_free_regime(j->m, j->o, j->d->ps[s], start, &j->r[s], w, j->nwin) == NM_OK;
    }
    return NM_OK;
}

static const nm_pool_kind select_pool_kind = {select_worker_alloc, start_worker_free_, select_item,
                                              "checkpoint selection"};

/* Score of the current weights, per training series:
 *   - a series without input (every series of a constant-p map): 1000 if
 *     the free run from the start state reaches its regime, minus a
 *     tie-break penalty for period mismatch (so among equal counts the
 *     closest periods win);
 *   - a series with recorded input: 1000 x Gamma of the driven run over its
 *     held-out end (issue 11), counted as a match at Gamma >= 0.9.
 * A map with an input channel trained on both kinds keeps the constant-p
 * regimes and learns the input response.  The runs go on o->threads
 * threads (a single map: distillation, `--ensemble 1`; ensemble members
 * are already one thread each). */
static double map_select_score(const nm_map *m, const nm_map_opts *o, const map_data *d,
                               const map_truth *truth, const float *xs_start, int *nmatch, double *gamma_mean)
{
    double gsum = 0;
    size_t ng = 0, ns = d->nseries;
    *gamma_mean = NAN;
    *nmatch = 0;
    size_t nwin = (size_t)(o->select_window_ms / o->dt_ms), nmax = nwin;
    for (size_t s = 0; s < ns; s++)
        if (map_series_driven(d, s) && d->T[s] - d->Tfit[s] > nmax) nmax = d->T[s] - d->Tfit[s];
    select_job job = {m, o, d, truth, xs_start, nwin, nmax, calloc(ns, sizeof(nm_regime)), calloc(ns, sizeof(double)),
                      calloc(ns, 1)};
    double *pv = malloc(ns * sizeof *pv);
    if (!job.r || !job.g || !job.ok || !pv) {
        free(job.r);
        free(job.g);
        free(job.ok);
        free(pv);
        return -INFINITY;
    }
    for (size_t s = 0; s < ns; s++) pv[s] = d->ps[s];
    double score = 0;
    if (nm_pool_run(&select_pool_kind, &job, "scaled p", pv, ns, o->threads) != NM_OK) score = -INFINITY;
    for (size_t s = 0; s < ns && score > -INFINITY; s++) {
        if (map_series_driven(d, s)) {
            ng++;
            if (!job.ok[s]) {
                score -= 2000; /* diverged */
                gsum -= 1;     /* as a train far below chance */
                continue;
            }
            double g = job.g[s];
            gsum += g;
            score += 1000 * g;
            if (g >= 0.9) (*nmatch)++;
            continue;
        }
        const nm_regime r = job.r[s];
        if (!job.ok[s]) {
            score -= 2000; /* diverged: worse than any wrong regime */
            continue;
        }
        if (regimes_match(&r, &truth[s].r)) {
            (*nmatch)++;
            score += 1000;
        }
        if (r.cls == truth[s].r.cls && r.cls == NM_REGIME_PERIODIC)
            score -= 100 * fabs(log(r.period_ms / truth[s].r.period_ms));
        else if (r.nspikes > 1 && truth[s].r.nspikes > 1)
            score -= 100 * fabs(log(r.isi_mean_ms / truth[s].r.isi_mean_ms)) + 50;
        else
            score -= 200;
    }
    free(job.r);
    free(job.g);
    free(job.ok);
    free(pv);
    if (ng) *gamma_mean = gsum / (double)ng;
    return score;
}

static nm_status map_truth_regimes(const nm_map_series *series, const map_data *d, const nm_map_opts *o,
                                   map_truth *truth)
{
    double hyst = o->hysteresis_mv > 0 ? o->hysteresis_mv : 2.0;
    for (size_t s = 0; s < d->nseries; s++) {
        size_t T = series[s].T;
        double *v = nm_malloc(T * sizeof *v);
        if (!v) return NM_ENOMEM;
        if (series[s].v)
            memcpy(v, series[s].v, T * sizeof *v);
        else
            for (size_t t = 0; t < T; t++) v[t] = o->decode(series[s].x + t * d->D, o->decode_ctx);
        double *times = NULL;
        size_t ns = 0;
        size_t from = map_series_driven(d, s) || series[s].v_from >= T ? 0 : series[s].v_from;
        nm_status st = nm_spikes_detect_hyst(v + from, T - from, o->dt_ms, 0, o->threshold_mv, hyst, &times, &ns);
        nm_regime_opts ro;
        map_regime_opts(o, &ro);
        if (!st) st = nm_regime_classify(times, ns, (double)(T - from) * o->dt_ms, &ro, &truth[s].r);
        if (!st && map_series_driven(d, s)) {
            /* The held-out end's own spikes, detected on its window alone
             * the way the driven runs' are. */
            size_t t0 = d->Tfit[s];
            st = nm_spikes_detect_hyst(v + t0, T - t0, o->dt_ms, 0, o->threshold_mv, hyst, &truth[s].hold_spikes,
                                       &truth[s].nhold);
        }
        free(times);
        free(v);
        if (st) return st;
    }
    return NM_OK;
}

/* ---- training ---------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static nm_status check_opts(const nm_map_opts *o, size_t D)
{
    if (D < 1 || D > NM_MAP_MAX_D) return nm_fail(NM_EINVAL, "map: latent dimension %zu not in 1..%d", D, NM_MAP_MAX_D);
    if (o->nhidden < 1 || o->nhidden > 4) return nm_fail(NM_EINVAL, "map: 1..4 hidden layers (got %zu)", o->nhidden);
    for (size_t i = 0; i < o->nhidden; i++)
        if (o->hidden[i] < 1 || o->hidden[i] > NM_MLP_APPLY1_MAX_WIDTH)
            return nm_fail(NM_EINVAL, "map: hidden width %zu not in 1..%d", o->hidden[i], NM_MLP_APPLY1_MAX_WIDTH);
    if (o->batch < 1 || o->rollout_batch < 1) return nm_fail(NM_EINVAL, "map: batch sizes must be >= 1");
    if (!(o->lr > 0) || !(o->rollout_lr > 0)) return nm_fail(NM_EINVAL, "map: learning rates must be > 0");
    if (!(o->noise >= 0)) return nm_fail(NM_EINVAL, "map: noise must be >= 0");
    if (o->nstages > 6) return nm_fail(NM_EINVAL, "map: at most 6 rollout stages");
    for (size_t i = 0; i < o->nstages; i++)
        if (o->rollout_len[i] < 1 || o->rollout_len[i] > 10000)
            return nm_fail(NM_EINVAL, "map: rollout length %zu not in 1..10000", o->rollout_len[i]);
    if (!(o->dt_ms > 0)) return nm_fail(NM_EINVAL, "map: dt_ms must be > 0");
    if (!(o->ema_decay >= 0 && o->ema_decay < 1)) return nm_fail(NM_EINVAL, "map: ema decay must be in [0, 1)");
    return NM_OK;
}

/* Stage 1: one-step teacher forcing.  Rows: [xs_t + noise, ps] -> target
 * xs_{t+1} - xs_t (the residual). */
static nm_status train_onestep(nm_map *m, const map_data *d, const nm_map_opts *o, nm_rng *rng,
                               nm_adam *adam, double t_start, double *final_val)
{
    size_t D = d->D, B = o->batch, ld = D + 1 + d->nu;
    /* Pair index: (series, t) with t+1 < Tfit; validation = last MAP_VAL_FRAC of each series. */
    size_t ntr = 0, nval = 0;
    for (size_t s = 0; s < d->nseries; s++) {
        size_t np = d->Tfit[s] - 1, nv = (size_t)((double)np * MAP_VAL_FRAC);
        ntr += np - nv;
        nval += nv;
    }
    size_t *tr = nm_malloc((ntr + nval) * 2 * sizeof *tr);
    float *in = nm_malloc(B * ld * sizeof *in), *tg = nm_malloc(B * D * sizeof *tg);
    float *dy = nm_malloc(B * D * sizeof *dy);
    nm_mlp_ws *ws = nm_mlp_ws_alloc(m->net, B);
    nm_status st = NM_OK;
    if (!tr || !in || !tg || !dy || !ws) {
        st = NM_ENOMEM;
        goto done;
    }
    size_t *va = tr + 2 * ntr;
    size_t it = 0, iv = 0;
    for (size_t s = 0; s < d->nseries; s++) {
        size_t np = d->Tfit[s] - 1, nv = (size_t)((double)np * MAP_VAL_FRAC);
        for (size_t t = 0; t < np; t++) {
            size_t *dst = t < np - nv ? tr + 2 * it++ : va + 2 * iv++;
            dst[0] = s;
            dst[1] = t;
        }
    }
    size_t *perm = nm_malloc(ntr * sizeof *perm);
    if (!perm) {
        st = NM_ENOMEM;
        goto done;
    }
    for (size_t e = 0; e < o->onestep_epochs; e++) {
        nm_nn_iota(ntr, perm);
        nm_nn_shuffle(rng, ntr, perm);
        double loss = 0;
        size_t nb = 0;
        for (size_t b0 = 0; b0 + B <= ntr; b0 += B) {
            for (size_t r = 0; r < B; r++) {
                size_t s = tr[2 * perm[b0 + r]], t = tr[2 * perm[b0 + r] + 1];
                const float *x0 = d->xs[s] + t * D, *x1 = x0 + D;
                for (size_t j = 0; j < D; j++) {
                    float noise = (float)(o->noise * nm_rng_gauss(rng));
                    in[r * ld + j] = x0[j] + noise;
                    /* The target is the true next state, so the net also
                     * learns to pull a perturbed state back (denoising). */
                    tg[r * D + j] = (x1[j] - (x0[j] + noise)) / (float)m->d_scale[j];
                }
                in[r * ld + D] = (float)d->ps[s];
                if (d->nu) in[r * ld + D + 1] = map_data_u(d, s, t);
            }
            nm_mlp_zero_grad(m->net);
            st = nm_mlp_forward(m->net, ws, B, in, NULL);
            if (st) goto done;
            memset(dy, 0, B * D * sizeof *dy);
            loss += nm_nn_mse(B * D, nm_mlp_ws_output(ws), tg, 1.0, dy);
            st = nm_mlp_backward(m->net, ws, dy, NULL, m->net->grads);
            if (!st) st = nm_adam_step(adam, m->net->params, m->net->grads, NULL);
            if (st) goto done;
            nb++;
        }
        /* Validation without noise. */
        double vloss = 0;
        size_t vn = 0;
        for (size_t b0 = 0; b0 < nval; b0 += B) {
            size_t bb = nval - b0 < B ? nval - b0 : B;
            for (size_t r = 0; r < bb; r++) {
                size_t s = va[2 * (b0 + r)], t = va[2 * (b0 + r) + 1];
                const float *x0 = d->xs[s] + t * D, *x1 = x0 + D;
                for (size_t j = 0; j < D; j++) {
                    in[r * ld + j] = x0[j];
                    tg[r * D + j] = (x1[j] - x0[j]) / (float)m->d_scale[j];
                }
                in[r * ld + D] = (float)d->ps[s];
                if (d->nu) in[r * ld + D + 1] = map_data_u(d, s, t);
            }
            st = nm_mlp_forward(m->net, ws, bb, in, NULL);
            if (st) goto done;
            vloss += nm_nn_mse(bb * D, nm_mlp_ws_output(ws), tg, 1.0, NULL) * (double)bb;
            vn += bb;
        }
        *final_val = vn ? vloss / (double)vn : 0;
        if (o->progress) {
            nm_train_progress pr = {"map one-step", e + 1, o->onestep_epochs, nb ? loss / (double)nb : 0,
                                    *final_val, 0, 0, now_s() - t_start};
            if (o->progress(&pr, o->progress_ctx)) break;
        }
    }
    free(perm);
done:
    free(tr);
    free(in);
    free(tg);
    free(dy);
    nm_mlp_ws_free(ws);
    return st;
}

/* Stage 2: back-propagation through free rollouts of K steps. */
void nm_map_rollout_free(nm_map_rollout *r)
{
    if (r->ws)
        for (size_t k = 0; k < r->K; k++) nm_mlp_ws_free(r->ws[k]);
    free(r->ws);
    free(r->x);
    free(r->in);
    free(r->g);
    free(r->tgt);
    free(r->din);
    free(r->ps);
    free(r->us);
    free(r->dout);
}

nm_status nm_map_rollout_alloc(nm_map_rollout *r, const nm_mlp *net, size_t K, size_t B, size_t D)
{
    return nm_map_rollout_alloc_u(r, net, K, B, D, 0);
}

nm_status nm_map_rollout_alloc_u(nm_map_rollout *r, const nm_mlp *net, size_t K, size_t B, size_t D, size_t nu)
{
    memset(r, 0, sizeof *r);
    if (nu > 1) return nm_fail(NM_EINVAL, "map: at most one input channel (got %zu)", nu);
    const size_t ld = D + 1 + nu;
    r->K = K;
    r->B = B;
    r->D = D;
    r->nu = nu;
    r->x = nm_malloc((K + 1) * B * D * sizeof(float));
    r->in = nm_malloc(K * B * ld * sizeof(float));
    r->g = nm_malloc((K + 1) * B * D * sizeof(float));
    r->tgt = nm_malloc((K + 1) * B * D * sizeof(float));
    r->din = nm_malloc(B * ld * sizeof(float));
    r->ps = nm_malloc(B * sizeof(float));
    r->us = nu ? nm_calloc(K * B, sizeof(float)) : NULL;
    r->dout = nm_malloc(B * D * sizeof(float));
    r->ws = nm_calloc(K, sizeof *r->ws);
    if (!r->x || !r->in || !r->g || !r->tgt || !r->din || !r->ps || (nu && !r->us) || !r->dout || !r->ws)
        return NM_ENOMEM;
    for (size_t k = 0; k < K; k++)
        if (!(r->ws[k] = nm_mlp_ws_alloc(net, B))) return NM_ENOMEM;
    return NM_OK;
}

nm_status nm_map_rollout_loss(nm_map *m, nm_map_rollout *r, double *loss_out, int with_grad)
{
    size_t K = r->K, B = r->B, D = r->D;
    const size_t ld = D + 1 + r->nu;
    nm_status st;
    for (size_t k = 0; k < K; k++) {
        float *xk = r->x + k * B * D, *xn = xk + B * D, *in = r->in + k * B * ld;
        for (size_t b = 0; b < B; b++) {
            memcpy(in + b * ld, xk + b * D, D * sizeof(float));
            in[b * ld + D] = r->ps[b];
            if (r->nu) in[b * ld + D + 1] = r->us[k * B + b];
        }
        if ((st = nm_mlp_forward(m->net, r->ws[k], B, in, NULL))) return st;
        const float *out = nm_mlp_ws_output(r->ws[k]);
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < D; j++) xn[b * D + j] = xk[b * D + j] + (float)m->d_scale[j] * out[b * D + j];
    }
    double loss = 0;
    if (!with_grad) {
        for (size_t k = 1; k <= K; k++)
            loss += nm_nn_mse(B * D, r->x + k * B * D, r->tgt + k * B * D, 1.0 / (double)K, NULL);
        *loss_out = loss;
        return NM_OK;
    }
    /* Backward through time: g[k] = dL/dx[k] collects the loss at step k and,
     * through the residual x[k+1] = x[k] + s .* G([x[k], p]), everything later. */
    memset(r->g, 0, (K + 1) * B * D * sizeof(float));
    for (size_t k = K; k >= 1; k--) {
        float *gk = r->g + k * B * D;
        loss += nm_nn_mse(B * D, r->x + k * B * D, r->tgt + k * B * D, 1.0 / (double)K, gk);
        memset(r->din, 0, B * ld * sizeof(float));
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < D; j++) r->dout[b * D + j] = gk[b * D + j] * (float)m->d_scale[j];
        if ((st = nm_mlp_backward(m->net, r->ws[k - 1], r->dout, r->din, m->net->grads))) return st;
        float *gp = r->g + (k - 1) * B * D;
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < D; j++) gp[b * D + j] += gk[b * D + j] + r->din[b * ld + j];
    }
    *loss_out = loss;
    return NM_OK;
}

/* One rollout minibatch: random starts (a series weighted by length, a time
 * t with t+K inside it), noisy start states, then loss and gradients. */
static nm_status rollout_step(nm_map *m, const map_data *d, const nm_map_opts *o, nm_rng *rng,
                              nm_map_rollout *r, double *loss_out)
{
    size_t K = r->K, B = r->B, D = r->D;
    size_t total = 0;
    for (size_t s = 0; s < d->nseries; s++) total += d->Tfit[s] > K ? d->Tfit[s] - K : 0;
    if (total == 0) return nm_fail(NM_EDATA, "map: series are shorter than the rollout (%zu steps)", K);
    for (size_t b = 0; b < B; b++) {
        size_t u = (size_t)nm_rng_below(rng, total), s = 0;
        for (;;) {
            size_t avail = d->Tfit[s] > K ? d->Tfit[s] - K : 0;
            if (u < avail) break;
            u -= avail;
            s++;
        }
        const float *src = d->xs[s] + u * D;
        for (size_t k = 0; k <= K; k++) memcpy(r->tgt + (k * B + b) * D, src + k * D, D * sizeof(float));
        for (size_t j = 0; j < D; j++) r->x[b * D + j] = src[j] + (float)(o->noise * nm_rng_gauss(rng));
        r->ps[b] = (float)d->ps[s];
        if (r->nu)
            for (size_t k = 0; k < K; k++) r->us[k * B + b] = map_data_u(d, s, u + k);
    }
    return nm_map_rollout_loss(m, r, loss_out, 1);
}

static nm_status train_member(const nm_map_series *series, size_t nseries, size_t D, const nm_map_opts *opts,
                              nm_map **out, nm_map_report *report)
{
    if (!out) return nm_fail(NM_EINVAL, "map: NULL output");
    *out = NULL;
    nm_map_opts def;
    if (!opts) {
        nm_map_opts_default(&def);
        opts = &def;
    }
    nm_status st = check_opts(opts, D);
    if (st) return st;
    if (!series || nseries == 0) return nm_fail(NM_EINVAL, "map: no training series");
    size_t Tmin = SIZE_MAX;
    for (size_t s = 0; s < nseries; s++) {
        if (!series[s].x || series[s].T < 20)
            return nm_fail(NM_EDATA, "map: training series %zu has %zu states (need >= 20)", s, series[s].T);
        if (!isfinite(series[s].p)) return nm_fail(NM_EINVAL, "map: p of series %zu is not finite", s);
        if (series[s].T < Tmin) Tmin = series[s].T;
    }
    /* Selection free runs need not be longer than the series they are
     * judged against: the window is at most the shortest series, the
     * transient at most half the window.  For SRK (200 s series) nothing
     * changes; for short, finely sampled series (HH: 2 s every 0.1 ms) the
     * selection costs 1/16 of the 10 s + 30 s default. */
    nm_map_opts oo = *opts;
    oo.select_window_ms = fmin(oo.select_window_ms, (double)Tmin * oo.dt_ms);
    oo.select_transient_ms = fmin(oo.select_transient_ms, 0.5 * oo.select_window_ms);
    const nm_map_opts *o = &oo;
    double t0 = now_s();
    nm_map *m = nm_calloc(1, sizeof *m);
    if (!m) return NM_ENOMEM;
    m->D = D;
    map_data d;
    nm_rng rng;
    nm_rng_seed(&rng, o->seed);
    nm_adam *adam = NULL;
    nm_ema *ema = NULL;
    map_truth *truth = NULL;
    float *best = NULL, *saved = NULL;
    nm_map_report rep;
    memset(&rep, 0, sizeof rep);
    rep.select_gamma = NAN;

    st = map_data_build(series, nseries, D, o, m, &d);
    if (st) goto fail;
    /* Selection runs start where the model will be run from. */
    float xs_start[NM_MAP_MAX_D] = {0};
    if (o->select_x0) {
        if (!nm_all_finite(o->select_x0, D)) {
            st = nm_fail(NM_EINVAL, "map: selection start state is not finite");
            goto fail;
        }
        map_to_y(m, o->select_x0, xs_start);
    }
    size_t sizes[6];
    nm_act acts[5];
    sizes[0] = D + 1 + m->nu;
    for (size_t i = 0; i < o->nhidden; i++) {
        sizes[i + 1] = o->hidden[i];
        acts[i] = NM_ACT_TANH;
    }
    sizes[o->nhidden + 1] = D;
    acts[o->nhidden] = NM_ACT_IDENTITY;
    m->net = nm_mlp_alloc(o->nhidden + 1, sizes, acts);
    if (!m->net) {
        st = NM_ENOMEM;
        goto fail;
    }
    st = nm_mlp_init(m->net, &rng, NM_INIT_XAVIER_UNIFORM);
    if (st) goto fail;
    {
        const nm_dense *L = &m->net->layer[m->net->nlayers - 1];
        for (size_t i = 0; i < L->in * L->out; i++) m->net->params[L->w_off + i] *= (float)MAP_LAST_LAYER_SCALE;
    }
    nm_adam_opts ao;
    nm_adam_opts_default(&ao);
    ao.lr = o->lr;
    adam = nm_adam_alloc(m->net->nparams, &ao);
    if (!adam) {
        st = NM_ENOMEM;
        goto fail;
    }
    st = train_onestep(m, &d, o, &rng, adam, t0, &rep.onestep_loss);
    if (st) goto fail;

    /* Stage 2 + 3. */
    int selecting = o->decode && o->select_every > 0;
    double best_score = -INFINITY;
    if (selecting) {
        truth = nm_calloc(nseries, sizeof *truth);
        best = nm_malloc(m->net->nparams * sizeof *best);
        saved = nm_malloc(m->net->nparams * sizeof *saved);
        if (!truth || !best || !saved) {
            st = NM_ENOMEM;
            goto fail;
        }
        st = map_truth_regimes(series, &d, o, truth);
        if (st) goto fail;
    }
    if (o->ema_decay > 0) {
        ema = nm_ema_alloc(m->net->nparams, o->ema_decay);
        if (!ema) {
            st = NM_ENOMEM;
            goto fail;
        }
    }
    size_t total_iters = 0, iter = 0;
    for (size_t sg = 0; sg < o->nstages; sg++) total_iters += o->rollout_iters[sg];
    nm_adam_free(adam);
    ao.lr = o->rollout_lr;
    ao.clip_norm = o->clip_norm;
    adam = nm_adam_alloc(m->net->nparams, &ao);
    if (!adam) {
        st = NM_ENOMEM;
        goto fail;
    }
    for (size_t sg = 0; sg < o->nstages; sg++) {
        nm_map_rollout rb;
        st = nm_map_rollout_alloc_u(&rb, m->net, o->rollout_len[sg], o->rollout_batch, D, m->nu);
        if (st) {
            nm_map_rollout_free(&rb);
            goto fail;
        }
        double acc = 0;
        size_t nacc = 0;
        for (size_t i = 0; i < o->rollout_iters[sg]; i++, iter++) {
            double loss = 0;
            nm_mlp_zero_grad(m->net);
            st = rollout_step(m, &d, o, &rng, &rb, &loss);
            if (!st) st = nm_adam_step(adam, m->net->params, m->net->grads, NULL);
            if (st == NM_ENUMERIC) {
                /* A rare exploding rollout: skip the update, keep going. */
                st = NM_OK;
                continue;
            }
            if (st) {
                nm_map_rollout_free(&rb);
                goto fail;
            }
            if (ema) nm_ema_update(ema, m->net->params);
            acc += loss;
            nacc++;
            rep.rollout_loss = loss;
            int last = (iter + 1 == total_iters);
            if (selecting && ((iter + 1) % o->select_every == 0 || last)) {
                /* Evaluate the averaged weights (if any) by free runs. */
                memcpy(saved, m->net->params, m->net->nparams * sizeof *saved);
                if (ema) memcpy(m->net->params, ema->shadow, m->net->nparams * sizeof *saved);
                int nmatch = 0;
                double gmean;
                double sc = map_select_score(m, o, &d, truth, o->select_x0 ? xs_start : NULL, &nmatch, &gmean);
                if (sc >= best_score) {
                    best_score = sc;
                    memcpy(best, m->net->params, m->net->nparams * sizeof *best);
                    rep.select_score = nmatch;
                    rep.select_iter = iter + 1;
                    rep.select_gamma = gmean; /* NaN without driven series */
                }
                memcpy(m->net->params, saved, m->net->nparams * sizeof *saved);
            }
            if (o->progress && ((i + 1) % 50 == 0 || i + 1 == o->rollout_iters[sg])) {
                char stage[48];
                snprintf(stage, sizeof stage, "map rollout %zu", o->rollout_len[sg]);
                nm_train_progress pr = {stage, i + 1, o->rollout_iters[sg], acc / (double)(nacc ? nacc : 1),
                                        (double)rep.select_score, 0, 0, now_s() - t0};
                acc = 0;
                nacc = 0;
                if (o->progress(&pr, o->progress_ctx)) break;
            }
        }
        nm_map_rollout_free(&rb);
    }
    if (selecting && best_score > -INFINITY) memcpy(m->net->params, best, m->net->nparams * sizeof *best);
    else if (ema && ema->updates) memcpy(m->net->params, ema->shadow, m->net->nparams * sizeof(float));
    rep.seconds = now_s() - t0;
    if (report) *report = rep;
    m->nmembers = 1;
    m->members[0] = m->net;
    *out = m;
    m = NULL;
fail:
    map_data_free(&d);
    nm_adam_free(adam);
    nm_ema_free(ema);
    map_truth_free(truth, nseries);
    free(best);
    free(saved);
    nm_map_free(m);
    return st;
}

/* ---- ensembles --------------------------------------------------------- */

typedef struct member_job {
    const nm_map_series *series;
    size_t nseries, D;
    nm_map_opts o;        /* with this member's seed */
    nm_map *out;
    nm_map_report rep;
    nm_status st;
    char err[512];        /* the worker thread's error message */
} member_job;

typedef struct member_pool {
    member_job *jobs;
    size_t njobs, next;
    pthread_mutex_t lock;
} member_pool;

static void *member_worker(void *arg)
{
    member_pool *pool = arg;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        size_t i = pool->next++;
        pthread_mutex_unlock(&pool->lock);
        if (i >= pool->njobs) return NULL;
        member_job *j = &pool->jobs[i];
        j->st = train_member(j->series, j->nseries, j->D, &j->o, &j->out, &j->rep);
        if (j->st) snprintf(j->err, sizeof j->err, "%s", nm_last_error());
    }
}

nm_status nm_map_train(const nm_map_series *series, size_t nseries, size_t D, const nm_map_opts *opts,
                       nm_map **out, nm_map_report *report)
{
    if (!out) return nm_fail(NM_EINVAL, "map: NULL output");
    *out = NULL;
    nm_map_opts def;
    if (!opts) {
        nm_map_opts_default(&def);
        opts = &def;
    }
    size_t R = opts->ensemble;
    if (R < 1 || R > NM_MAP_MAX_ENSEMBLE)
        return nm_fail(NM_EINVAL, "map: ensemble size %zu not in 1..%d", R, NM_MAP_MAX_ENSEMBLE);
    if (R == 1) return train_member(series, nseries, D, opts, out, report);

    member_job *jobs = nm_calloc(R, sizeof *jobs);
    if (!jobs) return NM_ENOMEM;
    for (size_t r = 0; r < R; r++) {
        jobs[r].series = series;
        jobs[r].nseries = nseries;
        jobs[r].D = D;
        jobs[r].o = *opts;
        jobs[r].o.seed = opts->seed + r;
        jobs[r].o.threads = 1; /* the members are the threads: no pools inside them */
        /* Only member 0 reports progress: lines from several threads would interleave. */
        if (r) jobs[r].o.progress = NULL;
    }
    member_pool pool = {jobs, R, 0, PTHREAD_MUTEX_INITIALIZER};
    size_t nthreads = opts->threads > 0 ? (size_t)opts->threads : (size_t)nm_cpu_count();
    if (nthreads > R) nthreads = R;
    pthread_t tid[NM_MAP_MAX_ENSEMBLE];
    size_t started = 0;
    for (; started + 1 < nthreads; started++)
        if (pthread_create(&tid[started], NULL, member_worker, &pool) != 0) break;
    member_worker(&pool); /* the calling thread works too */
    for (size_t t = 0; t < started; t++) pthread_join(tid[t], NULL);

    nm_status st = NM_OK;
    for (size_t r = 0; r < R && !st; r++)
        if (jobs[r].st) st = nm_fail(jobs[r].st, "map ensemble member %zu: %s", r + 1, jobs[r].err);
    nm_map *m = NULL;
    if (!st) {
        /* Members share the coordinates (a function of the data alone). */
        m = jobs[0].out;
        jobs[0].out = NULL;
        for (size_t r = 1; r < R; r++) {
            m->members[r] = jobs[r].out->net;
            jobs[r].out->net = NULL;
            jobs[r].out->nmembers = 0;
        }
        m->nmembers = R;
        if (report) {
            *report = jobs[0].rep;
            report->seconds = 0;
            for (size_t r = 0; r < R; r++) report->seconds = fmax(report->seconds, jobs[r].rep.seconds);
        }
    }
    for (size_t r = 0; r < R; r++) nm_map_free(jobs[r].out);
    free(jobs);
    *out = m;
    return st;
}

/* ---- the start state ---------------------------------------------------- */

/* Candidate start states: of every series, the states at 0, 1/3 and 2/3 of
 * its length (different phases of its cycle); candidate 0 is the first state
 * of series 0, the start stored before this choice existed. */
#define MAP_START_PHASES 3

typedef struct start_job {
    const nm_map *m;
    const nm_map_opts *o;
    const map_data *d;
    const map_truth *truth;
    const float *cand;     /* [ncand x D] standardised */
    unsigned char *match;  /* [ncand x nseries] */
    nm_regime *got;        /* [ncand x nseries] */
    unsigned char *div;    /* [ncand x nseries] */
} start_job;

/* Pool worker context: the decoded-V buffer of one free-run window. */
static void *start_worker_alloc(const void *shared)
{
    const start_job *j = shared;
    return malloc((size_t)(j->o->select_window_ms / j->o->dt_ms) * sizeof(double));
}

static void start_worker_free(void *w) { free(w); }

/* Item c: every training p free-run from candidate c. */
static nm_status start_item(void *w, const void *shared, size_t c)
{
    const start_job *j = shared;
    size_t nwin = (size_t)(j->o->select_window_ms / j->o->dt_ms);
    size_t ns = j->d->nseries, D = j->d->D;
    for (size_t s = 0; s < ns; s++) {
        nm_regime r;
        memset(&r, 0, sizeof r);
        nm_status st = map_free_regime(j->m, j->o, j->d->ps[s], j->cand + c * D, &r, w, nwin);
        if (st && st != NM_ENUMERIC) return st;
        j->div[c * ns + s] = st == NM_ENUMERIC;
        j->got[c * ns + s] = r;
        j->match[c * ns + s] = !st && regimes_match(&r, &j->truth[s].r);
    }
    return NM_OK;
}

static const nm_pool_kind start_pool_kind = {start_worker_alloc, start_worker_free, start_item,
                                             "start-state choice"};

void nm_map_start_report_free(nm_map_start_report *rep)
{
    if (!rep) return;
    free(rep->truth);
    free(rep->got);
    free(rep->diverged);
    free(rep->match);
    memset(rep, 0, sizeof *rep);
}

nm_status nm_map_choose_start(const nm_map *m, const nm_map_series *series, size_t nseries, const nm_map_opts *opts,
                              double *x0, nm_map_start_report *rep)
{
    if (!m || !series || !nseries || !opts || !x0 || !rep || !opts->decode)
        return nm_fail(NM_EINVAL, "map start: NULL argument");
    memset(rep, 0, sizeof *rep);
    size_t D = m->D, Tmin = SIZE_MAX;
    for (size_t s = 0; s < nseries; s++) {
        if (!series[s].x || series[s].T < 20)
            return nm_fail(NM_EDATA, "map start: training series %zu has %zu states (need >= 20)", s, series[s].T);
        Tmin = series[s].T < Tmin ? series[s].T : Tmin;
    }
    /* The selection's windows (see train_member). */
    nm_map_opts oo = *opts;
    oo.select_window_ms = fmin(oo.select_window_ms, (double)Tmin * oo.dt_ms);
    oo.select_transient_ms = fmin(oo.select_transient_ms, 0.5 * oo.select_window_ms);
    if ((size_t)(oo.select_window_ms / oo.dt_ms) < 2) return nm_fail(NM_EINVAL, "map start: window too short");

    /* map_data in the model's coordinates (no new standardisation). */
    map_data d;
    memset(&d, 0, sizeof d);
    d.D = D;
    d.nseries = nseries;
    size_t ncand = nseries * MAP_START_PHASES;
    nm_status st = NM_OK;
    map_truth *truth = nm_calloc(nseries, sizeof *truth);
    float *cand = nm_calloc(ncand * D, sizeof *cand);
    unsigned char *match = nm_calloc(ncand * nseries, 1), *div = nm_calloc(ncand * nseries, 1);
    nm_regime *got = nm_calloc(ncand * nseries, sizeof *got);
    d.xs = nm_calloc(nseries, sizeof *d.xs);
    d.T = nm_calloc(nseries, sizeof *d.T);
    d.ps = nm_calloc(nseries, sizeof *d.ps);
    rep->truth = nm_calloc(nseries, sizeof *rep->truth);
    rep->got = nm_calloc(nseries, sizeof *rep->got);
    rep->diverged = nm_calloc(nseries, sizeof *rep->diverged);
    rep->match = nm_calloc(nseries, sizeof *rep->match);
    if (!rep->match ||!truth || !cand || !match || !div || !got || !d.xs || !d.T || !d.ps || !rep->truth || !rep->got ||
        !rep->diverged) {
        st = NM_ENOMEM;
        goto done;
    }
    for (size_t s = 0; s < nseries; s++) {
        d.T[s] = series[s].T;
        d.ps[s] = (series[s].p - m->p_center) / m->p_half;
        for (size_t ph = 0; ph < MAP_START_PHASES; ph++) {
            size_t t = ph * series[s].T / MAP_START_PHASES;
            map_to_y(m, series[s].x + t * D, cand + (s * MAP_START_PHASES + ph) * D);
        }
    }
    /* Truth regimes come from the decoded series; map_truth_regimes reads
     * only d.D and d.nseries. */
    if ((st = map_truth_regimes(series, &d, &oo, truth))) goto done;

    /* Candidates on the sweeps' deterministic pool; messages name the
     * candidate's index. */
    double *cidx = nm_malloc(ncand * sizeof *cidx);
    if (!cidx) {
        st = NM_ENOMEM;
        goto done;
    }
    for (size_t c = 0; c < ncand; c++) cidx[c] = (double)c;
    start_job job = {m, &oo, &d, truth, cand, match, got, div};
    st = nm_pool_run(&start_pool_kind, &job, "candidate", cidx, ncand, oo.threads);
    free(cidx);
    if (st) goto done;

    size_t best = 0, best_n = 0, total = 0;
    for (size_t c = 0; c < ncand; c++) {
        size_t n = 0;
        for (size_t s = 0; s < nseries; s++) n += match[c * nseries + s];
        total += n;
        if (n > best_n) {
            best_n = n;
            best = c;
        }
    }
    map_from_y(m, cand + best * D, x0);
    rep->nmatch = best_n;
    rep->chosen = best;
    rep->ncandidates = ncand;
    rep->robust = (double)total / (double)(ncand * nseries);
    for (size_t s = 0; s < nseries; s++) {
        rep->truth[s] = truth[s].r;
        rep->got[s] = got[best * nseries + s];
        rep->diverged[s] = div[best * nseries + s];
        rep->match[s] = match[best * nseries + s];
    }
done:
    map_truth_free(truth, nseries);
    free(cand);
    free(match);
    free(div);
    free(got);
    free(d.xs);
    free(d.T);
    free(d.ps);
    if (st) nm_map_start_report_free(rep);
    return st;
}

/* ---- model file -------------------------------------------------------- */

nm_status nm_map_to_mf(const nm_map *m, nm_mf *mf)
{
    const nm_mlp *net = m->net;
    int32_t sizes[8], acts[8];
    sizes[0] = (int32_t)net->layer[0].in;
    for (size_t l = 0; l < net->nlayers; l++) {
        sizes[l + 1] = (int32_t)net->layer[l].out;
        acts[l] = (int32_t)net->layer[l].act;
    }
    nm_status st;
    if ((st = nm_mf_add_scalar_i32(mf, "map.D", (int32_t)m->D))) return st;
    if ((st = nm_mf_add_i32(mf, "map.sizes", sizes, net->nlayers + 1))) return st;
    if ((st = nm_mf_add_i32(mf, "map.acts", acts, net->nlayers))) return st;
    if ((st = nm_mf_add_scalar_i32(mf, "map.members", (int32_t)m->nmembers))) return st;
    /* Members' parameter blocks one after the other. */
    float *all = nm_malloc(m->nmembers * net->nparams * sizeof *all);
    if (!all) return NM_ENOMEM;
    for (size_t r = 0; r < m->nmembers; r++)
        memcpy(all + r * net->nparams, m->members[r]->params, net->nparams * sizeof *all);
    st = nm_mf_add_f32(mf, "map.params", all, m->nmembers * net->nparams);
    free(all);
    if (st) return st;
    if ((st = nm_mf_add_f64(mf, "map.x_mean", m->x_mean, m->D))) return st;
    if ((st = nm_mf_add_f64(mf, "map.A", m->A, m->D * m->D))) return st;
    if ((st = nm_mf_add_f64(mf, "map.A_inv", m->A_inv, m->D * m->D))) return st;
    if ((st = nm_mf_add_scalar_f64(mf, "map.p_center", m->p_center))) return st;
    if ((st = nm_mf_add_scalar_f64(mf, "map.p_half", m->p_half))) return st;
    if ((st = nm_mf_add_f64(mf, "map.d_scale", m->d_scale, m->D))) return st;
    if ((st = nm_mf_add_scalar_f64(mf, "map.bound", m->bound))) return st;
    if (m->nu) {
        /* Written only for maps with an input channel: files without them
         * are the constant-p maps they always were. */
        if ((st = nm_mf_add_scalar_i32(mf, "map.nu", (int32_t)m->nu))) return st;
        if ((st = nm_mf_add_scalar_f64(mf, "map.u_center", m->u_center))) return st;
        if ((st = nm_mf_add_scalar_f64(mf, "map.u_half", m->u_half))) return st;
        if ((st = nm_mf_add_scalar_f64(mf, "map.u_lo", m->u_lo))) return st;
        if ((st = nm_mf_add_scalar_f64(mf, "map.u_hi", m->u_hi))) return st;
    }
    return NM_OK;
}

nm_status nm_map_from_mf(const nm_mf *mf, nm_map **out)
{
    *out = NULL;
    int32_t D;
    const int32_t *sizes, *acts;
    const float *params;
    const double *mean, *A, *Ainv;
    size_t nsz, nact, np;
    nm_status st;
    if ((st = nm_mf_get_scalar_i32(mf, "map.D", &D))) return st;
    if (D < 1 || D > NM_MAP_MAX_D) return nm_fail(NM_EFORMAT, "map.D = %d is not in 1..%d", (int)D, NM_MAP_MAX_D);
    if ((st = nm_mf_get_i32(mf, "map.sizes", NM_MF_ANY, &sizes, &nsz))) return st;
    if (nsz < 2 || nsz > 6) return nm_fail(NM_EFORMAT, "map.sizes has %zu entries (need 2..6)", nsz);
    if ((st = nm_mf_get_i32(mf, "map.acts", nsz - 1, &acts, &nact))) return st;
    int32_t nu = 0; /* files without map.nu: no input channel */
    double u_center = 0, u_half = 1, u_lo = 0, u_hi = 0;
    if (nm_mf_has(mf, "map.nu")) {
        if ((st = nm_mf_get_scalar_i32(mf, "map.nu", &nu))) return st;
        if (nu < 0 || nu > 1) return nm_fail(NM_EFORMAT, "map.nu = %d is not 0 or 1", (int)nu);
        if (nu && ((st = nm_mf_get_scalar_f64(mf, "map.u_center", &u_center)) ||
                   (st = nm_mf_get_scalar_f64(mf, "map.u_half", &u_half)) ||
                   (st = nm_mf_get_scalar_f64(mf, "map.u_lo", &u_lo)) ||
                   (st = nm_mf_get_scalar_f64(mf, "map.u_hi", &u_hi))))
            return st;
        if (nu && (!isfinite(u_center) || !(u_half > 0) || !isfinite(u_half) || !isfinite(u_lo) ||
                   !isfinite(u_hi) || u_lo > u_hi))
            return nm_fail(NM_EFORMAT, "map input scaling (u_center %g, u_half %g, range %g..%g) is not valid",
                           u_center, u_half, u_lo, u_hi);
    }
    if (sizes[0] != D + 1 + nu || sizes[nsz - 1] != D)
        return nm_fail(NM_EFORMAT, "map.sizes runs %d..%d, expected %d..%d for D = %d", (int)sizes[0],
                       (int)sizes[nsz - 1], (int)(D + 1 + nu), (int)D, (int)D);
    size_t usz[6];
    nm_act uact[5];
    for (size_t i = 0; i < nsz; i++) {
        if (sizes[i] < 1 || sizes[i] > NM_MLP_APPLY1_MAX_WIDTH)
            return nm_fail(NM_EFORMAT, "map.sizes[%zu] = %d is out of range", i, (int)sizes[i]);
        usz[i] = (size_t)sizes[i];
    }
    for (size_t i = 0; i + 1 < nsz; i++) {
        if (acts[i] < 0 || acts[i] >= NM_ACT_COUNT)
            return nm_fail(NM_EFORMAT, "map.acts[%zu] = %d is not an activation", i, (int)acts[i]);
        uact[i] = (nm_act)acts[i];
    }
    int32_t members = 1; /* files written before ensembles have no map.members */
    if (nm_mf_has(mf, "map.members") && (st = nm_mf_get_scalar_i32(mf, "map.members", &members))) return st;
    if (members < 1 || members > NM_MAP_MAX_ENSEMBLE)
        return nm_fail(NM_EFORMAT, "map.members = %d is not in 1..%d", (int)members, NM_MAP_MAX_ENSEMBLE);
    size_t want = nm_mlp_count_params(nsz - 1, usz);
    if ((st = nm_mf_get_f32(mf, "map.params", want * (size_t)members, &params, &np))) return st;
    if ((st = nm_mf_get_f64(mf, "map.x_mean", (size_t)D, &mean, NULL))) return st;
    if ((st = nm_mf_get_f64(mf, "map.A", (size_t)(D * D), &A, NULL))) return st;
    if ((st = nm_mf_get_f64(mf, "map.A_inv", (size_t)(D * D), &Ainv, NULL))) return st;
    /* A A_inv must be the identity: a corrupted matrix is refused. */
    for (size_t i = 0; i < (size_t)D; i++)
        for (size_t j = 0; j < (size_t)D; j++) {
            double acc = 0;
            for (size_t k = 0; k < (size_t)D; k++) acc += A[i * D + k] * Ainv[k * D + j];
            if (fabs(acc - (i == j)) > 1e-6)
                return nm_fail(NM_EFORMAT, "map.A times map.A_inv is not the identity (entry %zu,%zu = %g)", i, j, acc);
        }
    const double *dsc;
    if ((st = nm_mf_get_f64(mf, "map.d_scale", (size_t)D, &dsc, NULL))) return st;
    nm_map *m = nm_calloc(1, sizeof *m);
    if (!m) return NM_ENOMEM;
    m->D = (size_t)D;
    m->nu = (size_t)nu;
    m->u_center = u_center;
    m->u_half = u_half;
    m->u_lo = u_lo;
    m->u_hi = u_hi;
    memcpy(m->A, A, (size_t)(D * D) * sizeof *A);
    memcpy(m->A_inv, Ainv, (size_t)(D * D) * sizeof *Ainv);
    if ((st = nm_mf_get_scalar_f64(mf, "map.p_center", &m->p_center)) ||
        (st = nm_mf_get_scalar_f64(mf, "map.p_half", &m->p_half)) ||
        (st = nm_mf_get_scalar_f64(mf, "map.bound", &m->bound))) {
        free(m);
        return st;
    }
    if (!(m->p_half > 0) || !(m->bound > 0)) {
        free(m);
        return nm_fail(NM_EFORMAT, "map.p_half and map.bound must be > 0");
    }
    for (size_t j = 0; j < (size_t)D; j++) {
        if (!(dsc[j] > 0)) {
            free(m);
            return nm_fail(NM_EFORMAT, "map.d_scale[%zu] must be > 0", j);
        }
        m->x_mean[j] = mean[j];
        m->d_scale[j] = dsc[j];
    }
    for (size_t r = 0; r < (size_t)members; r++) {
        m->members[r] = nm_mlp_alloc(nsz - 1, usz, uact);
        if (!m->members[r]) {
            nm_map_free(m);
            return NM_ENOMEM;
        }
        m->nmembers = r + 1;
        memcpy(m->members[r]->params, params + r * want, want * sizeof *params);
    }
    m->net = m->members[0];
    *out = m;
    return NM_OK;
}
