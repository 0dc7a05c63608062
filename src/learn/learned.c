/* learned.c -- a complete learned model (VAE + map): training pipeline,
 * model file, and the runtime used by `neuromap run`, NEURON and Python. */
#include "internal.h"
#include "learn/batch.h"
#include "learn/map.h"
#include "learn/vae.h"
#include "learn/vhead.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Periods of the slowest training regime in a selection window. */
#define LEARN_SELECT_PERIODS 5.0

struct nm_learned {
    nm_vae *vae;
    nm_mlp *dec_cut;      /* the decoder cut to its first output (the newest V):
                             the runtime needs V only, not the whole delay vector */
    nm_mlp *vhead;        /* the V head of the file (vhead.h), NULL without one */
    const nm_mlp *dec_v;  /* what V is decoded with at run time: vhead if there is
                             one, else dec_cut (not owned) */
    nm_map *map;
    nm_mf *mf;            /* everything as stored in the file */
    double dt_ms;         /* map time step */
    double threshold_mv;
    double pmin, pmax;    /* training range of p */
    double *train_p;
    size_t ntrain_p;
    double x0[NM_MAP_MAX_D];
    char p_name[NM_P_NAME_MAX + 1]; /* meta.p_name, default "p" */
    char p_unit[NM_P_UNIT_MAX + 1]; /* meta.p_unit, default "" */
    char u_unit[16];      /* unit of the input channel ("" without one) */
};

void nm_learn_opts_default(nm_learn_opts *o)
{
    memset(o, 0, sizeof *o);
    nm_vae_opts_default(&o->vae);
    /* A weaker KL term than the VAE's own default (1e-3, which reproduces
     * the reference experiment's per-unit KL for `vae-scan`): the map needs
     * sharp latent states more than a tidy prior.  On the SRK grid, maps on
     * beta 1e-3 / 1e-4 / 3e-5 latents reached 65% / 72% / 80% (docs/map.md). */
    o->vae.beta = 3e-5;
    nm_map_opts mo;
    nm_map_opts_default(&mo);
    o->map_nhidden = mo.nhidden;
    memcpy(o->map_hidden, mo.hidden, sizeof o->map_hidden);
    o->map_onestep_epochs = mo.onestep_epochs;
    o->map_lr = mo.lr;
    o->map_noise = mo.noise;
    o->map_nstages = mo.nstages;
    memcpy(o->map_rollout_len, mo.rollout_len, sizeof o->map_rollout_len);
    memcpy(o->map_rollout_iters, mo.rollout_iters, sizeof o->map_rollout_iters);
    o->map_rollout_batch = mo.rollout_batch;
    o->map_rollout_lr = mo.rollout_lr;
    o->map_clip_norm = mo.clip_norm;
    o->map_ema_decay = mo.ema_decay;
    o->map_select_every = mo.select_every;
    /* Three averaged maps: 86% against 74-83% for single maps on the SRK
     * grid (docs/map.md); the step costs three network evaluations. */
    o->map_ensemble = 3;
    o->threshold_mv = -35;
    o->seed = 1;
}

void nm_learned_free(nm_learned *m)
{
    if (!m) return;
    nm_vae_free(m->vae);
    nm_mlp_free(m->dec_cut);
    nm_mlp_free(m->vhead);
    nm_map_free(m->map);
    nm_mf_free(m->mf);
    free(m->train_p);
    free(m);
}

size_t nm_learned_dim(const nm_learned *m) { return m->map->D; }
double nm_learned_dt_ms(const nm_learned *m) { return m->dt_ms; }
double nm_learned_threshold_mv(const nm_learned *m) { return m->threshold_mv; }
const nm_vae *nm_learned_vae(const nm_learned *m) { return m->vae; }
const nm_mf *nm_learned_mf(const nm_learned *m) { return m->mf; }

void nm_learned_p_range(const nm_learned *m, double *pmin, double *pmax)
{
    if (pmin) *pmin = m->pmin;
    if (pmax) *pmax = m->pmax;
}

const double *nm_learned_train_p(const nm_learned *m, size_t *n)
{
    if (n) *n = m->ntrain_p;
    return m->train_p;
}

const char *nm_learned_p_name(const nm_learned *m) { return m->p_name; }
const char *nm_learned_p_unit(const nm_learned *m) { return m->p_unit; }
/* The centre of the training range: every model has a p it was trained at
 * nearby (a fixed default such as SRK's -38 mV diverges for other models). */
double nm_learned_p_default(const nm_learned *m) { return 0.5 * (m->pmin + m->pmax); }

/* meta.p_name / meta.p_unit into m (defaults for files without them; the
 * values were checked by nm_mf_validate). */
static nm_status p_label_from_mf(nm_learned *m)
{
    const char *s = NULL;
    nm_status st;
    snprintf(m->p_name, sizeof m->p_name, "p");
    m->p_unit[0] = '\0';
    if (nm_mf_has(m->mf, "meta.p_name")) {
        if ((st = nm_mf_get_str(m->mf, "meta.p_name", &s))) return st;
        snprintf(m->p_name, sizeof m->p_name, "%s", s);
    }
    if (nm_mf_has(m->mf, "meta.p_unit")) {
        if ((st = nm_mf_get_str(m->mf, "meta.p_unit", &s))) return st;
        snprintf(m->p_unit, sizeof m->p_unit, "%s", s);
    }
    return NM_OK;
}

void nm_learned_initial_state(const nm_learned *m, double *x)
{
    memcpy(x, m->x0, m->map->D * sizeof *x);
}

int nm_learned_has_input(const nm_learned *m) { return m->map->nu > 0; }

const char *nm_learned_input_unit(const nm_learned *m) { return m->u_unit; }

void nm_learned_input_range(const nm_learned *m, double *umin, double *umax)
{
    if (umin) *umin = m->map->nu ? m->map->u_lo : 0;
    if (umax) *umax = m->map->nu ? m->map->u_hi : 0;
}

double nm_learned_clamp_input(const nm_learned *m, double u, int *clamped)
{
    double lo = m->map->nu ? m->map->u_lo : 0, hi = m->map->nu ? m->map->u_hi : 0;
    double c = u < lo ? lo : u > hi ? hi : u;
    if (clamped) *clamped = c != u;
    return c;
}

nm_status nm_learned_step_u(const nm_learned *m, double p, double u, const double *x, double *x_next)
{
    if (!isfinite(p)) return nm_fail(NM_EINVAL, "step: p is not finite (%g)", p);
    if (!isfinite(u)) return nm_fail(NM_EINVAL, "step: the input u is not finite (%g)", u);
    return nm_map_step_u(m->map, p, u, x, x_next);
}

nm_status nm_learned_step(const nm_learned *m, double p, const double *x, double *x_next)
{
    /* Not "map diverged": a NaN p (a NEURON RANGE variable never set) is the
     * caller's mistake, not the map's. */
    if (!isfinite(p)) return nm_fail(NM_EINVAL, "step: p is not finite (%g)", p);
    return nm_map_step(m->map, p, x, x_next);
}

/* The decoder restricted to output 0: same hidden layers, last layer = its
 * first row.  Gives the same V as the full decoder, bit for bit (the same
 * dot products in the same order). */
static nm_mlp *decoder_v_only(const nm_vae *vae)
{
    const nm_mlp *dec = vae->dec;
    size_t L = dec->nlayers, sizes[8] = {0};
    nm_act acts[8] = {NM_ACT_IDENTITY};
    if (L + 1 > 8) {
        nm_fail(NM_EFORMAT, "decoder has %zu layers (at most 7)", L);
        return NULL;
    }
    sizes[0] = dec->layer[0].in;
    for (size_t l = 0; l < L; l++) {
        sizes[l + 1] = dec->layer[l].out;
        acts[l] = dec->layer[l].act;
    }
    sizes[L] = 1;
    nm_mlp *d = nm_mlp_alloc(L, sizes, acts);
    if (!d) return NULL;
    for (size_t l = 0; l < L; l++) {
        const nm_dense *src = &dec->layer[l], *dst = &d->layer[l];
        memcpy(d->params + dst->w_off, dec->params + src->w_off, dst->out * dst->in * sizeof(float));
        memcpy(d->params + dst->b_off, dec->params + src->b_off, dst->out * sizeof(float));
    }
    return d;
}

/* Decoded membrane potential (mV) of a latent state. */
static double decode_v(const nm_mlp *dec_v, const nm_vae *vae, const double *x)
{
    float z[NM_MAP_MAX_D], r[1];
    for (size_t j = 0; j < vae->dim; j++) z[j] = (float)x[j];
    /* Widths were checked against NM_MLP_APPLY1_MAX_WIDTH when loading. */
    nm_mlp_apply1(dec_v, z, r);
    return nm_vae_denorm(vae, r[0]);
}

double nm_learned_decode_v(const nm_learned *m, const double *x) { return decode_v(m->dec_v, m->vae, x); }
double nm_learned_decode_v_with(const nm_mlp *dec_v, const nm_vae *vae, const double *x)
{
    return decode_v(dec_v, vae, x);
}

/* For the batched step (batch.c). */
const nm_map *nm_learned_map_part(const nm_learned *m) { return m->map; }
const nm_mlp *nm_learned_dec_v_part(const nm_learned *m) { return m->dec_v; }
/* The cut decoder whatever decodes at run time: what a V head is fitted to. */
const nm_mlp *nm_learned_decoder_v_part(const nm_learned *m) { return m->dec_cut; }

nm_status nm_learned_run(const nm_learned *m, double p, const double *x0, size_t nsteps, double *v,
                         double *x_traj)
{
    if (!m || (!v && nsteps)) return nm_fail(NM_EINVAL, "run: NULL argument");
    if (!isfinite(p)) return nm_fail(NM_EINVAL, "run: p is not finite");
    size_t D = m->map->D;
    double x[NM_MAP_MAX_D];
    if (x0) {
        if (!nm_all_finite(x0, D)) return nm_fail(NM_EINVAL, "run: initial state is not finite");
        memcpy(x, x0, D * sizeof *x);
    } else {
        memcpy(x, m->x0, D * sizeof *x);
    }
    for (size_t k = 0; k < nsteps; k++) {
        nm_status st = nm_map_step(m->map, p, x, x);
        if (st) return nm_fail_prefix(st, "free run at p = %g, step %zu (t = %g ms)", p, k + 1,
                                      (double)(k + 1) * m->dt_ms);
        v[k] = decode_v(m->dec_v, m->vae, x);
        if (!isfinite(v[k]))
            return nm_fail(NM_ENUMERIC, "free run at p = %g, step %zu (t = %g ms): the decoded V is not finite", p,
                           k + 1, (double)(k + 1) * m->dt_ms);
        if (x_traj) memcpy(x_traj + k * D, x, D * sizeof *x);
    }
    return NM_OK;
}

nm_status nm_learned_run_u(const nm_learned *m, double p, const double *u, const double *x0, size_t nsteps,
                           double *v, double *x_traj, size_t *nclamped)
{
    if (nclamped) *nclamped = 0;
    if (!m || (!v && nsteps) || (!u && nsteps)) return nm_fail(NM_EINVAL, "driven run: NULL argument");
    if (!isfinite(p)) return nm_fail(NM_EINVAL, "driven run: p is not finite");
    size_t D = m->map->D;
    double x[NM_MAP_MAX_D];
    if (x0) {
        if (!nm_all_finite(x0, D)) return nm_fail(NM_EINVAL, "driven run: initial state is not finite");
        memcpy(x, x0, D * sizeof *x);
    } else {
        memcpy(x, m->x0, D * sizeof *x);
    }
    for (size_t k = 0; k < nsteps; k++) {
        if (!isfinite(u[k])) return nm_fail(NM_EINVAL, "driven run: input %zu is not finite (%g)", k, u[k]);
        int c = 0;
        double uk = nm_learned_clamp_input(m, u[k], &c);
        if (nclamped) *nclamped += (size_t)c;
        nm_status st = nm_map_step_u(m->map, p, uk, x, x);
        if (st) return nm_fail_prefix(st, "driven run at p = %g, step %zu (t = %g ms)", p, k + 1,
                                      (double)(k + 1) * m->dt_ms);
        v[k] = decode_v(m->dec_v, m->vae, x);
        if (!isfinite(v[k]))
            return nm_fail(NM_ENUMERIC, "driven run at p = %g, step %zu (t = %g ms): the decoded V is not finite", p,
                           k + 1, (double)(k + 1) * m->dt_ms);
        if (x_traj) memcpy(x_traj + k * D, x, D * sizeof *x);
    }
    return NM_OK;
}

/* ---- model file -------------------------------------------------------- */

nm_status nm_learned_from_mf(const nm_mf *mf_in, const char *label, nm_learned **out)
{
    if (!out) return nm_fail(NM_EINVAL, "learned: NULL output");
    *out = NULL;
    if (!mf_in) return nm_fail(NM_EINVAL, "learned: NULL container");
    if (!label) label = "<model>";
    nm_learned *m = nm_calloc(1, sizeof *m);
    if (!m) return NM_ENOMEM;
    nm_status st;
    unsigned char *buf = NULL;
    size_t len = 0;
    /* The one validation (model_check.c), before anything is allocated from
     * the file's dimensions; what follows re-checks only as a safety net. */
    if ((st = nm_mf_validate(mf_in, label, NM_MF_KIND_LEARNED))) {
        free(m);
        return st;
    }
    /* Keep a private copy of the container: save() writes it back. */
    if ((st = nm_mf_encode(mf_in, &buf, &len)) || (st = nm_mf_decode(buf, len, label, &m->mf))) goto fail;
    if ((st = nm_vae_from_mf(m->mf, &m->vae))) goto fail;
    if (m->vae->de > NM_MLP_APPLY1_MAX_WIDTH || m->vae->dim > NM_MAP_MAX_D) {
        st = nm_fail(NM_EFORMAT, "VAE with De = %zu, D = %zu: the runtime handles De <= %d and D <= %d", m->vae->de,
                     m->vae->dim, NM_MLP_APPLY1_MAX_WIDTH, NM_MAP_MAX_D);
        goto fail;
    }
    for (size_t l = 0; l < m->vae->dec->nlayers; l++)
        if (m->vae->dec->layer[l].out > NM_MLP_APPLY1_MAX_WIDTH) {
            st = nm_fail(NM_EFORMAT, "decoder layer %zu is %zu wide (the runtime handles <= %d)", l,
                         m->vae->dec->layer[l].out, NM_MLP_APPLY1_MAX_WIDTH);
            goto fail;
        }
    if (!(m->dec_v = m->dec_cut = decoder_v_only(m->vae))) {
        st = NM_ENOMEM;
        goto fail;
    }
    /* A V head (vhead.h) replaces the cut decoder at run time; nm_mf_validate
     * checked it (widths <= NM_MLP_APPLY1_MAX_WIDTH, one output). */
    if ((st = nm_vhead_from_mf(m->mf, &m->vhead))) goto fail;
    if (m->vhead) {
        if (m->vhead->layer[0].in != m->vae->dim) {
            st = nm_fail(NM_EFORMAT, "entry 'vhead.sizes' starts at %zu, but the VAE's latent dimension is %zu",
                         m->vhead->layer[0].in, m->vae->dim);
            goto fail;
        }
        m->dec_v = m->vhead;
    }
    if (!nm_mf_has(m->mf, "map.D")) {
        st = nm_fail(NM_EFORMAT, "it holds a VAE but no map (train one with `neuromap train`)");
        goto fail;
    }
    if ((st = nm_map_from_mf(m->mf, &m->map))) goto fail;
    if (m->map->D != m->vae->dim) {
        st = nm_fail(NM_EFORMAT, "map.D = %zu but the VAE's latent dimension is %zu", m->map->D, m->vae->dim);
        goto fail;
    }
    const double *x0, *tp;
    size_t ntp;
    if ((st = nm_mf_get_scalar_f64(m->mf, "map.dt_ms", &m->dt_ms)) ||
        (st = nm_mf_get_scalar_f64(m->mf, "map.threshold_mv", &m->threshold_mv)) ||
        (st = nm_mf_get_f64(m->mf, "map.x0", m->map->D, &x0, NULL)) ||
        (st = nm_mf_get_f64(m->mf, "meta.train_p", NM_MF_ANY, &tp, &ntp)))
        goto fail;
    if (!(m->dt_ms > 0)) {
        st = nm_fail(NM_EFORMAT, "map.dt_ms must be > 0 (got %g)", m->dt_ms);
        goto fail;
    }
    if (ntp == 0) {
        st = nm_fail(NM_EFORMAT, "meta.train_p is empty");
        goto fail;
    }
    memcpy(m->x0, x0, m->map->D * sizeof *x0);
    if (m->map->nu && nm_mf_has(m->mf, "meta.u_unit")) {
        const char *uu = NULL;
        if ((st = nm_mf_get_str(m->mf, "meta.u_unit", &uu))) goto fail;
        snprintf(m->u_unit, sizeof m->u_unit, "%s", uu);
    }
    m->train_p = nm_malloc(ntp * sizeof *m->train_p);
    if (!m->train_p) {
        st = NM_ENOMEM;
        goto fail;
    }
    memcpy(m->train_p, tp, ntp * sizeof *tp);
    m->ntrain_p = ntp;
    if ((st = p_label_from_mf(m))) goto fail;
    m->pmin = INFINITY;
    m->pmax = -INFINITY;
    for (size_t i = 0; i < ntp; i++) {
        m->pmin = fmin(m->pmin, tp[i]);
        m->pmax = fmax(m->pmax, tp[i]);
    }
    free(buf);
    *out = m;
    return NM_OK;
fail:
    free(buf);
    nm_learned_free(m);
    /* Messages from the container already name the file; add it to ours. */
    if (strncmp(nm_last_error(), label, strlen(label)) == 0) return st;
    return nm_fail_prefix(st, "%s", label);
}

nm_status nm_learned_load(const char *path, nm_learned **out)
{
    if (!out) return nm_fail(NM_EINVAL, "learned: NULL output");
    *out = NULL;
    if (!path) return nm_fail(NM_EINVAL, "learned: NULL path");
    nm_mf *mf = NULL;
    nm_status st = nm_mf_read(path, &mf);
    if (st) return st;
    st = nm_learned_from_mf(mf, path, out);
    nm_mf_free(mf);
    return st;
}

nm_status nm_learned_save(const nm_learned *m, const char *path)
{
    if (!m || !path) return nm_fail(NM_EINVAL, "learned save: NULL argument");
    return nm_mf_write(m->mf, path);
}

/* ---- the pipeline ------------------------------------------------------ */

/* A deep copy of a trained autoencoder, through its model-file form (the
 * one serialisation there is, so a copy is exactly what a reload gives). */
static nm_status vae_copy(const nm_vae *src, nm_vae **out)
{
    nm_mf *mf = nm_mf_alloc();
    if (!mf) return NM_ENOMEM;
    nm_status st = nm_vae_to_mf(src, mf);
    if (!st) st = nm_vae_from_mf(mf, out);
    nm_mf_free(mf);
    return st;
}

static double decode_cb(const double *x, void *ctx)
{
    const nm_learned *m = ctx;
    return decode_v(m->dec_v, m->vae, x);
}

/* Zero-phase Gaussian smoothing of each column of x [T x D] in time (SD
 * sigma steps, kernel cut at 3 SD, edges mirrored). */
static nm_status smooth_columns(double *x, size_t T, size_t D, double sigma)
{
    size_t h = (size_t)ceil(3 * sigma);
    if (h == 0 || T < 2) return NM_OK;
    double *k = nm_malloc((2 * h + 1) * sizeof *k), *col = nm_malloc(T * sizeof *col);
    if (!k || !col) {
        free(k);
        free(col);
        return NM_ENOMEM;
    }
    double ks = 0;
    for (size_t i = 0; i <= 2 * h; i++) {
        double u = ((double)i - (double)h) / sigma;
        ks += k[i] = exp(-0.5 * u * u);
    }
    for (size_t i = 0; i <= 2 * h; i++) k[i] /= ks;
    for (size_t j = 0; j < D; j++) {
        for (size_t t = 0; t < T; t++) col[t] = x[t * D + j];
        for (size_t t = 0; t < T; t++) {
            double acc = 0;
            for (size_t i = 0; i <= 2 * h; i++) {
                long u = (long)t + (long)i - (long)h;
                if (u < 0) u = -u;
                if (u >= (long)T) u = 2 * (long)T - 2 - u;
                if (u < 0) u = 0;
                acc += k[i] * col[u];
            }
            x[t * D + j] = acc;
        }
    }
    free(k);
    free(col);
    return NM_OK;
}

/* The most spikes per period in any training series (0 if none is
 * periodic), looked for up to NM_REGIME_MAX_K_AUTO in the decoded V; the
 * slowest period (or longest ISI of an irregular series) in *slowest_ms. */
static int longest_pattern(const nm_map_series *ms, size_t nseries, double dt_ms, double threshold_mv,
                           double hyst_mv, double *slowest_ms)
{
    int kmax = 0;
    *slowest_ms = 0;
    for (size_t i = 0; i < nseries; i++) {
        double *t = NULL;
        size_t ns = 0;
        if (nm_spikes_detect_hyst(ms[i].v, ms[i].T, dt_ms, 0, threshold_mv, hyst_mv > 0 ? hyst_mv : 2.0, &t, &ns))
            continue;
        nm_regime_opts ro;
        nm_regime_opts_default(&ro);
        nm_regime_opts_for_step(&ro, dt_ms);
        ro.max_k = NM_REGIME_MAX_K_AUTO;
        nm_regime r;
        if (nm_regime_classify(t, ns, (double)ms[i].T * dt_ms, &ro, &r) == NM_OK) {
            if (r.cls == NM_REGIME_PERIODIC && r.spikes_per_period > kmax) kmax = r.spikes_per_period;
            /* The slowest time scale a free run must show: the period, or
             * for an irregular train its longest ISI. */
            double slow = r.cls == NM_REGIME_PERIODIC ? r.period_ms : r.isi_max_ms;
            if (slow > *slowest_ms) *slowest_ms = slow;
        }
        free(t);
    }
    return kmax;
}

static double min_span_ms(const nm_series *const *series, size_t nseries)
{
    double span = INFINITY;
    for (size_t i = 0; i < nseries; i++) span = fmin(span, (double)series[i]->n * series[i]->dt_ms);
    return span;
}

/* meta.start_regimes: one line per training series, "p truth got" with the
 * regime of the training series and of the free run from the stored start
 * ("diverged" if it blew up) and whether they match (class, k, period within
 * 25%), e.g. "-34.5 periodic:5/3610ms periodic:4/3020ms missed". */
static nm_status start_regimes_to_mf(nm_mf *mf, const nm_map_start_report *r, const nm_series *const *series,
                                     size_t nseries)
{
    size_t cap = 128 * nseries + 1, len = 0;
    char *buf = nm_malloc(cap);
    if (!buf) return NM_ENOMEM;
    buf[0] = 0;
    for (size_t i = 0; i < nseries; i++) {
        char a[48], b[48], pa[32] = "", pb[32] = "";
        nm_regime_format(&r->truth[i], a, sizeof a);
        nm_regime_format(&r->got[i], b, sizeof b);
        if (r->truth[i].cls == NM_REGIME_PERIODIC) snprintf(pa, sizeof pa, "/%.0fms", r->truth[i].period_ms);
        if (r->got[i].cls == NM_REGIME_PERIODIC) snprintf(pb, sizeof pb, "/%.0fms", r->got[i].period_ms);
        int n = snprintf(buf + len, cap - len, "%s%.6g %s%s %s%s %s", i ? "; " : "", series[i]->p, a, pa,
                         r->diverged[i] ? "diverged" : b, r->diverged[i] ? "" : pb, r->match[i] ? "ok" : "missed");
        if (n < 0 || (size_t)n >= cap - len) break;
        len += (size_t)n;
    }
    nm_status st = nm_mf_add_str(mf, "meta.start_regimes", buf);
    free(buf);
    return st;
}

nm_status nm_learn(const nm_series *const *series, size_t nseries, const nm_learn_opts *opts, nm_learned **out)
{
    if (!out) return nm_fail(NM_EINVAL, "learn: NULL output");
    *out = NULL;
    nm_learn_opts def;
    if (!opts) {
        nm_learn_opts_default(&def);
        opts = &def;
    }
    if (!series || nseries == 0) return nm_fail(NM_EINVAL, "learn: no training series");
    double dt = series[0]->dt_ms;
    for (size_t i = 0; i < nseries; i++) {
        if (!series[i]) return nm_fail(NM_EINVAL, "learn: series %zu is NULL", i);
        if (fabs(series[i]->dt_ms - dt) > 1e-9 * dt)
            return nm_fail(NM_EINVAL, "learn: series %zu has step %g ms but series 0 has %g ms: resample them to one step",
                           i, series[i]->dt_ms, dt);
        if (!isfinite(series[i]->p)) return nm_fail(NM_EINVAL, "learn: p of series %zu is not finite", i);
    }
    if (!isfinite(opts->threshold_mv)) return nm_fail(NM_EINVAL, "learn: threshold is not finite");
    if (nm_learned_check_p_label(opts->p_name, opts->p_unit)) return nm_fail_prefix(NM_EINVAL, "learn");
    /* Series with an input channel must agree on its unit. */
    const char *u_unit = NULL;
    for (size_t i = 0; i < nseries; i++) {
        if (!series[i]->u) continue;
        if (!u_unit) u_unit = series[i]->u_unit;
        else if (strcmp(u_unit, series[i]->u_unit) != 0)
            return nm_fail(NM_EINVAL, "learn: series %zu has input in '%s' but an earlier series in '%s'", i,
                           series[i]->u_unit, u_unit);
        if (!nm_all_finite(series[i]->u, series[i]->n))
            return nm_fail(NM_EDATA, "learn: the input of series %zu is not finite", i);
    }

    nm_status st;
    nm_map_start_report srep = {0}; /* freed at done: on every path */
    double **vdec = NULL;           /* [nseries] decoded V of each latent series */
    nm_learned *m = nm_calloc(1, sizeof *m);
    if (!m) return NM_ENOMEM;
    nm_map_series *ms = nm_calloc(nseries, sizeof *ms);
    double **lat = nm_calloc(nseries, sizeof *lat);
    double **uin = nm_calloc(nseries, sizeof *uin); /* input over each map step */
    if (!ms || !lat || !uin) {
        st = NM_ENOMEM;
        goto done;
    }
    if (opts->vae_pretrained) {
        if ((st = vae_copy(opts->vae_pretrained, &m->vae))) goto done;
        if (fabs(m->vae->dt_ms - dt) > 1e-9 * dt) {
            st = nm_fail(NM_EINVAL, "learn: the given autoencoder was trained on samples every %g ms, the series have %g ms",
                         m->vae->dt_ms, dt);
            goto done;
        }
    } else {
        nm_vae_opts vo = opts->vae;
        vo.seed = opts->seed;
        vo.progress = opts->progress;
        vo.progress_ctx = opts->progress_ctx;
        nm_vae_report vrep;
        if ((st = nm_vae_train(series, nseries, &vo, &m->vae, &vrep))) goto done;
    }
    size_t D = m->vae->dim;
    for (size_t i = 0; i < nseries; i++) {
        size_t rows;
        if ((st = nm_vae_encode(m->vae, series[i], &lat[i], &rows))) goto done;
        if (opts->latent_smooth > 0 && (st = smooth_columns(lat[i], rows, D, opts->latent_smooth))) goto done;
        ms[i].x = lat[i];
        ms[i].T = rows;
        ms[i].p = series[i]->p;
        if (series[i]->u) {
            /* Latent row t is the state at sample j = t + De - 1; the step
             * to row t + 1 spans samples j..j+1, whose input is the mean of
             * the two (the samples are block means after resampling). */
            size_t De = m->vae->de, n = series[i]->n;
            const double *u = series[i]->u;
            if (!(uin[i] = nm_malloc(rows * sizeof *uin[i]))) {
                st = NM_ENOMEM;
                goto done;
            }
            for (size_t t = 0; t < rows; t++) {
                size_t j = t + De - 1;
                uin[i][t] = j + 1 < n ? 0.5 * (u[j] + u[j + 1]) : u[j];
            }
            ms[i].u = uin[i];
        }
    }
    nm_map_opts mo;
    nm_map_opts_default(&mo);
    mo.nhidden = opts->map_nhidden;
    memcpy(mo.hidden, opts->map_hidden, sizeof mo.hidden);
    mo.onestep_epochs = opts->map_onestep_epochs;
    mo.lr = opts->map_lr;
    mo.noise = opts->map_noise;
    mo.nstages = opts->map_nstages;
    memcpy(mo.rollout_len, opts->map_rollout_len, sizeof mo.rollout_len);
    memcpy(mo.rollout_iters, opts->map_rollout_iters, sizeof mo.rollout_iters);
    mo.rollout_batch = opts->map_rollout_batch;
    mo.rollout_lr = opts->map_rollout_lr;
    mo.clip_norm = opts->map_clip_norm;
    mo.ema_decay = opts->map_ema_decay;
    mo.select_every = opts->map_select_every;
    mo.ensemble = opts->map_ensemble;
    mo.threads = opts->threads;
    mo.dt_ms = dt;
    mo.threshold_mv = opts->threshold_mv;
    mo.hysteresis_mv = opts->hysteresis_mv;
    if (!(m->dec_v = m->dec_cut = decoder_v_only(m->vae))) {
        st = NM_ENOMEM;
        goto done;
    }
    mo.decode = decode_cb;
    mo.decode_ctx = m;
    /* Checkpoints are judged from the start state the model is run from
     * (first state of series 0) at every training p, not each series' own. */
    mo.select_x0 = lat[0];
    /* The regime each training series shows, as the selection aims at it,
     * is read off its decoded V: the autoencoder's reconstruction, which
     * does not follow measurement noise the way the recorded V does (1 mV
     * of noise moves threshold crossings by milliseconds and turns bursts
     * into 'irregular' or spurious 36-spike patterns). */
    if (!(vdec = nm_calloc(nseries, sizeof *vdec))) {
        st = NM_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < nseries; i++) {
        if (!(vdec[i] = nm_malloc(ms[i].T * sizeof *vdec[i]))) {
            st = NM_ENOMEM;
            goto done;
        }
        for (size_t t = 0; t < ms[i].T; t++) vdec[i][t] = decode_v(m->dec_v, m->vae, ms[i].x + t * D);
        ms[i].v = vdec[i];
    }
    /* Patterns as long as the training data have (slow bursters: 13..30
     * spikes per burst), so the selection can tell them apart. */
    double slowest_ms = 0;
    mo.regime_max_k = nm_regime_max_k_for(
        longest_pattern(ms, nseries, dt, opts->threshold_mv, opts->hysteresis_mv, &slowest_ms));
    /* Selection windows long enough to see the slowest training regime
     * repeat: MAP_SELECT_PERIODS periods after one period of transient (at
     * least the defaults, 30 s + 10 s; nm_map_train caps them at the
     * shortest series).  SRK's longest period, 2.2 s, leaves the defaults;
     * srk_slow's 11 s bursts need 55 s (30 s held fewer than the 3 periods
     * the classifier needs, so selection was blind there). */
    mo.select_window_ms = fmax(mo.select_window_ms, LEARN_SELECT_PERIODS * slowest_ms);
    mo.select_transient_ms = fmax(mo.select_transient_ms, slowest_ms);
    mo.seed = opts->seed;
    mo.progress = opts->progress;
    mo.progress_ctx = opts->progress_ctx;
    nm_map_report mrep;
    if ((st = nm_map_train(ms, nseries, D, &mo, &m->map, &mrep))) goto done;

    m->dt_ms = dt;
    m->threshold_mv = opts->threshold_mv;
    /* The stored start state: the one (of a few states of each training
     * series) from which the whole ensemble reaches most training regimes;
     * what it reaches is recorded so `train` can report every miss. */
    if ((st = nm_map_choose_start(m->map, ms, nseries, &mo, m->x0, &srep))) goto done;
    m->ntrain_p = nseries;
    m->train_p = nm_malloc(nseries * sizeof *m->train_p);
    if (!m->train_p) {
        st = NM_ENOMEM;
        goto done;
    }
    m->pmin = INFINITY;
    m->pmax = -INFINITY;
    for (size_t i = 0; i < nseries; i++) {
        m->train_p[i] = series[i]->p;
        m->pmin = fmin(m->pmin, series[i]->p);
        m->pmax = fmax(m->pmax, series[i]->p);
    }
    m->mf = nm_mf_alloc();
    if (!m->mf) {
        st = NM_ENOMEM;
        goto done;
    }
    if ((st = nm_vae_to_mf(m->vae, m->mf)) || (st = nm_map_to_mf(m->map, m->mf)) ||
        (st = nm_mf_add_scalar_f64(m->mf, "map.dt_ms", dt)) ||
        (st = nm_mf_add_scalar_f64(m->mf, "map.threshold_mv", opts->threshold_mv)) ||
        (st = nm_mf_add_f64(m->mf, "map.x0", m->x0, D)) ||
        (st = nm_mf_add_scalar_f64(m->mf, "map.onestep_val_mse", mrep.onestep_loss)) ||
        (st = nm_mf_add_scalar_f64(m->mf, "map.rollout_mse", mrep.rollout_loss)) ||
        (st = nm_mf_add_scalar_i32(m->mf, "map.select_matches", mrep.select_score)) ||
        (st = nm_mf_add_scalar_i32(m->mf, "map.start_matches", (int32_t)srep.nmatch)) ||
        (st = nm_mf_add_scalar_i32(m->mf, "map.regime_max_k", mo.regime_max_k)) ||
        (st = nm_mf_add_scalar_f64(m->mf, "meta.latent_smooth_steps", opts->latent_smooth)) ||
        (st = nm_mf_add_scalar_f64(m->mf, "meta.train_min_span_ms", min_span_ms(series, nseries))) ||
        (st = nm_mf_add_scalar_f64(m->mf, "map.start_robust", srep.robust)) ||
        (st = start_regimes_to_mf(m->mf, &srep, series, nseries)) ||
        (st = nm_mf_add_f64(m->mf, "meta.train_p", m->train_p, nseries)) ||
        (st = nm_mf_add_scalar_u64(m->mf, "meta.seed", opts->seed)) ||
        (st = nm_mf_add_str(m->mf, "meta.library", nm_version())))
        goto done;
    if (opts->command && (st = nm_mf_add_str(m->mf, "meta.command", opts->command))) goto done;
    /* The control parameter's name and unit, always stored (docs/model-format.md). */
    if ((st = nm_learned_check_p_label(opts->p_name, opts->p_unit)) ||
        (st = nm_mf_add_str(m->mf, "meta.p_name", opts->p_name ? opts->p_name : "p")) ||
        (st = nm_mf_add_str(m->mf, "meta.p_unit", opts->p_unit ? opts->p_unit : "")) ||
        (st = p_label_from_mf(m)))
        goto done;
    if (m->map->nu) {
        snprintf(m->u_unit, sizeof m->u_unit, "%s", u_unit ? u_unit : "");
        if ((st = nm_mf_add_str(m->mf, "meta.u_unit", m->u_unit))) goto done;
        if (isfinite(mrep.select_gamma) && (st = nm_mf_add_scalar_f64(m->mf, "map.select_gamma", mrep.select_gamma)))
            goto done;
    }
    if (opts->autoset && (st = nm_autoset_to_mf(opts->autoset, opts->autoset_used, m->mf))) goto done;
    *out = m;
    m = NULL;
done:
    nm_map_start_report_free(&srep);
    if (vdec)
        for (size_t i = 0; i < nseries; i++) free(vdec[i]);
    free(vdec);
    if (lat)
        for (size_t i = 0; i < nseries; i++) free(lat[i]);
    free(lat);
    if (uin)
        for (size_t i = 0; i < nseries; i++) free(uin[i]);
    free(uin);
    free(ms);
    nm_learned_free(m);
    return st;
}
