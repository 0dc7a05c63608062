/* distill.c -- a lean copy of a learned model (issue 12): the teacher's
 * ensemble of maps distilled into one smaller map, and its decoder's V
 * output into a small V head.
 *
 * Why: a learned cell's cost is its networks.  The default model averages
 * three 128-128 maps (3 x 17.3k multiply-adds a step) and decodes V with a
 * 3-128-128-1 network (16.9k); NEURON pays that at every map step of every
 * cell.  A single narrower map and a 3-32-32-1 head cost a fraction of it.
 *
 * How (data-free: the teacher is the only source):
 *   1. the teacher is free-run from its start state at a grid of p values
 *      spanning its training range and beyond (the student must follow the
 *      teacher where it extrapolates, which is where the method's interest
 *      lies), each run recorded from its first state: the transient from the
 *      start state is part of what a cell shows;
 *      (a model with an input channel: at its training p, under
 *      Ornstein-Uhlenbeck inputs spanning its trained input range);
 *   2. a V head is fitted to the teacher's decoder on the visited states
 *      (vhead.c) and stored as vhead.*; the runtime then decodes with it,
 *      and so do the student's checkpoint runs below;
 *   3. those latent trajectories, with the teacher's decoded V, are the
 *      training series of one map (nm_map_train: one-step teacher forcing,
 *      rollouts, checkpoints selected by the regimes of free runs at every
 *      grid p against the teacher's regimes there, read after the transient;
 *      driven runs and Gamma for an input channel);
 *   4. the start state is chosen among the training-p runs as `train` does.
 * The result is a complete model file: the teacher's autoencoder and
 * metadata, the student map, the head, distill.* entries saying how it was
 * made.  Measured: docs/map.md "Distillation". */
#include "internal.h"
#include "learn/batch.h"
#include "learn/map.h"
#include "learn/vae.h"
#include "learn/vhead.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* States the V head is fitted on: at most this many, spread evenly over all
 * trajectories (more costs time without changing the fit measurably). */
#define DISTILL_VHEAD_ROWS 120000

void nm_distill_opts_default(nm_distill_opts *o)
{
    memset(o, 0, sizeof *o);
    o->map_nhidden = 2;
    o->map_hidden[0] = 96;
    o->map_hidden[1] = 96;
    o->np = 89;
    o->p_min = NAN;
    o->p_max = NAN;
    o->p_extend = 0.5;
    o->duration_ms = NAN; /* distill_duration_ms */
    o->rollout_iters = 8000;
    o->vhead = 1;
    o->vhead_nhidden = 2;
    o->vhead_hidden[0] = 32;
    o->vhead_hidden[1] = 32;
    o->input_protocols = 4;
    o->input_tau_ms = 3;
    o->seed = 1;
}

/* Length of each teacher run: as given, else the teacher's shortest
 * training series (meta.train_min_span_ms: the time scale its regimes were
 * seen on), at most DISTILL_MAX_AUTO_MS and at least 100 map steps.  SRK's
 * 200 s series give 40 s (89 runs of 8,000 steps); Morris-Lecar's 10 s at
 * 0.5 ms give 10 s (20,000 steps), not 80,000 steps a run.  A model with an
 * input channel gets DISTILL_MAX_AUTO_MS: its few runs (one per protocol)
 * are where the input's variety comes from. */
#define DISTILL_MAX_AUTO_MS 40000.0
static double distill_duration_ms(const nm_learned *t, const nm_distill_opts *o)
{
    if (!isnan(o->duration_ms)) return o->duration_ms;
    if (nm_learned_has_input(t)) return fmax(DISTILL_MAX_AUTO_MS, 100 * nm_learned_dt_ms(t));
    double span = DISTILL_MAX_AUTO_MS, dt = nm_learned_dt_ms(t);
    const nm_mf *mf = nm_learned_mf(t);
    if (nm_mf_has(mf, "meta.train_min_span_ms") && !nm_mf_get_scalar_f64(mf, "meta.train_min_span_ms", &span) &&
        !(span > 0))
        span = DISTILL_MAX_AUTO_MS;
    return fmax(fmin(span, DISTILL_MAX_AUTO_MS), 100 * dt);
}

static nm_status check_opts(const nm_learned *t, const nm_distill_opts *o)
{
    if (o->map_nhidden < 1 || o->map_nhidden > 4)
        return nm_fail(NM_EINVAL, "distill: the map needs 1..4 hidden layers (got %zu)", o->map_nhidden);
    for (size_t i = 0; i < o->map_nhidden; i++)
        if (o->map_hidden[i] < 1 || o->map_hidden[i] > NM_MLP_APPLY1_MAX_WIDTH)
            return nm_fail(NM_EINVAL, "distill: map hidden width %zu is %zu (the runtime handles 1..%d)", i + 1,
                           o->map_hidden[i], NM_MLP_APPLY1_MAX_WIDTH);
    if (o->np < 2 || o->np > 1000) return nm_fail(NM_EINVAL, "distill: np = %zu is not in 2..1000", o->np);
    if (!(o->p_extend >= 0 && o->p_extend <= 10))
        return nm_fail(NM_EINVAL, "distill: p_extend = %g is not in 0..10", o->p_extend);
    if (isnan(o->p_min) != isnan(o->p_max))
        return nm_fail(NM_EINVAL, "distill: give both ends of the p range or neither");
    if (!isnan(o->p_min) && !(isfinite(o->p_min) && isfinite(o->p_max) && o->p_min < o->p_max))
        return nm_fail(NM_EINVAL, "distill: the p range %g .. %g is not an increasing finite range", o->p_min,
                       o->p_max);
    double dt = nm_learned_dt_ms(t);
    if (!isnan(o->duration_ms) && !(o->duration_ms >= 100 * dt && o->duration_ms <= 1e7))
        return nm_fail(NM_EINVAL, "distill: duration %g ms is not in %g (100 map steps) .. 1e7 ms", o->duration_ms,
                       100 * dt);
    if (o->rollout_iters < 1 || o->rollout_iters > 10000000)
        return nm_fail(NM_EINVAL, "distill: rollout_iters = %zu is not in 1..1e7", o->rollout_iters);
    if (o->vhead && (o->vhead_nhidden < 1 || o->vhead_nhidden > 4))
        return nm_fail(NM_EINVAL, "distill: the V head needs 1..4 hidden layers (got %zu)", o->vhead_nhidden);
    if (o->vhead)
        for (size_t i = 0; i < o->vhead_nhidden; i++)
            if (o->vhead_hidden[i] < 1 || o->vhead_hidden[i] > NM_MLP_APPLY1_MAX_WIDTH)
                return nm_fail(NM_EINVAL, "distill: V head hidden width %zu is %zu (the runtime handles 1..%d)",
                               i + 1, o->vhead_hidden[i], NM_MLP_APPLY1_MAX_WIDTH);
    if (nm_learned_has_input(t)) {
        if (o->input_protocols < 1 || o->input_protocols > 100)
            return nm_fail(NM_EINVAL, "distill: input_protocols = %zu is not in 1..100", o->input_protocols);
        if (!(o->input_tau_ms > 0 && o->input_tau_ms <= 1e6))
            return nm_fail(NM_EINVAL, "distill: input_tau_ms = %g is not in (0, 1e6] ms", o->input_tau_ms);
    }
    return NM_OK;
}

/* The p grid: np points evenly over [lo, hi], plus every training p not
 * already on it (the runs the start state is chosen on).  *is_train[i]
 * marks those. */
static nm_status p_grid(const nm_learned *t, const nm_distill_opts *o, double **pv, int **is_train, size_t *n)
{
    double pmin, pmax, lo, hi;
    nm_learned_p_range(t, &pmin, &pmax);
    if (!isnan(o->p_min)) {
        lo = o->p_min;
        hi = o->p_max;
    } else {
        double w = pmax - pmin;
        if (!(w > 0)) w = fmax(1.0, fabs(pmin)) * 0.1; /* one training p: a span around it */
        lo = pmin - o->p_extend * w;
        hi = pmax + o->p_extend * w;
    }
    size_t ntp;
    const double *tp = nm_learned_train_p(t, &ntp);
    /* A model with an input channel is distilled at its training p only:
     * its behaviour varies with the input, which the protocols span. */
    size_t ngrid = nm_learned_has_input(t) ? 0 : o->np;
    *pv = nm_malloc((o->np + ntp) * sizeof **pv);
    *is_train = nm_calloc(o->np + ntp, sizeof **is_train);
    if (!*pv || !*is_train) return NM_ENOMEM;
    size_t k = 0;
    /* Training p first: the start state is chosen among these runs, and
     * its ties go to series 0's first state, the teacher's own start. */
    for (size_t i = 0; i < ntp; i++) {
        int dup = 0;
        for (size_t j = 0; j < k; j++) dup |= fabs((*pv)[j] - tp[i]) <= 1e-9 * fmax(1, fabs(tp[i]));
        if (dup) continue;
        (*is_train)[k] = 1;
        (*pv)[k++] = tp[i];
    }
    for (size_t i = 0; i < ngrid; i++) {
        double p = lo + (hi - lo) * (double)i / (double)(o->np - 1);
        int dup = 0;
        for (size_t j = 0; j < k; j++) dup |= fabs((*pv)[j] - p) <= 1e-9 * fmax(1, fabs(p));
        if (!dup) (*pv)[k++] = p;
    }
    *n = k;
    return NM_OK;
}

/* The selection's decoder: the V head if there is one (what the lean model
 * decodes with; 15x cheaper than the teacher's decoder), else the teacher's. */
typedef struct teacher_ref {
    const nm_learned *t;
    const nm_mlp *head; /* NULL: none */
    const nm_vae *vae;
} teacher_ref;
static double teacher_decode(const double *x, void *ctx)
{
    const teacher_ref *r = ctx;
    return r->head ? nm_learned_decode_v_with(r->head, r->vae, x) : nm_learned_decode_v(r->t, x);
}

/* Multiply-adds of one map step plus one V decode (batch.c counts the same). */
static size_t mlp_macs(const nm_mlp *n)
{
    size_t s = 0;
    for (size_t l = 0; l < n->nlayers; l++) s += n->layer[l].in * n->layer[l].out;
    return s;
}

size_t nm_learned_step_macs(const nm_learned *m)
{
    const nm_map *mp = nm_learned_map_part(m);
    return mp->nmembers * mlp_macs(mp->net) + mlp_macs(nm_learned_dec_v_part(m));
}

typedef struct run_buf {
    double *x; /* [T x D] from the start state */
    double *v; /* [T] decoded V */
    double *u; /* [T] input over each step (models with an input channel), else NULL */
} run_buf;

/* Input protocol k of K for a model with an input channel: an
 * Ornstein-Uhlenbeck current (time constant tau_ms) with its mean at
 * (k + 1) / (K + 1) of the trained input range and an SD of a sixth of the
 * range, sampled as the mean over each map step (exact discretisation of
 * the OU process at the map step), clamped to the trained range.  u[T]. */
static void input_protocol(const nm_learned *t, size_t k, size_t K, double tau_ms, uint64_t seed, size_t T,
                           double *u)
{
    double lo, hi, dt = nm_learned_dt_ms(t);
    nm_learned_input_range(t, &lo, &hi);
    double mean = lo + (hi - lo) * (double)(k + 1) / (double)(K + 1), sd = (hi - lo) / 6;
    double a = exp(-dt / tau_ms), b = sd * sqrt(1 - a * a);
    nm_rng rng;
    nm_rng_seed(&rng, seed * 1000003u + k);
    double y = mean;
    for (size_t n = 0; n < T; n++) {
        y = mean + a * (y - mean) + b * nm_rng_gauss(&rng);
        u[n] = y < lo ? lo : y > hi ? hi : y;
    }
}

nm_status nm_learned_distill(const nm_learned *t, const nm_distill_opts *opts, nm_learned **out,
                             nm_distill_report *report)
{
    if (!out) return nm_fail(NM_EINVAL, "distill: NULL output");
    *out = NULL;
    if (!t) return nm_fail(NM_EINVAL, "distill: NULL teacher");
    nm_distill_opts def;
    if (!opts) {
        nm_distill_opts_default(&def);
        opts = &def;
    }
    nm_status st = check_opts(t, opts);
    if (st) return st;
    const nm_mf *tmf = nm_learned_mf(t);
    size_t D = nm_learned_dim(t);
    double dt = nm_learned_dt_ms(t);
    size_t T = (size_t)llround(distill_duration_ms(t, opts) / dt);
    nm_distill_report rep;
    memset(&rep, 0, sizeof rep);

    double *pv = NULL;
    int *is_train = NULL;
    size_t np = 0, nok = 0, ntrain_ok = 0, njobs = 0;
    run_buf *runs = NULL;
    nm_map_series *ms = NULL, *ms_train = NULL;
    nm_map *student = NULL;
    nm_mlp *head = NULL;
    nm_mf *mf = NULL;
    double *hx = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    nm_map_start_report srep = {0};
    double x0[NM_MAP_MAX_D];

    if ((st = p_grid(t, opts, &pv, &is_train, &np))) goto done;
    /* Runs: one per grid p; a model with an input channel, one per training p
     * and input protocol. */
    int driven = nm_learned_has_input(t);
    size_t K = driven ? opts->input_protocols : 1;
    njobs = np * K;
    runs = nm_calloc(njobs, sizeof *runs);
    ms = nm_calloc(njobs, sizeof *ms);
    ms_train = nm_calloc(njobs, sizeof *ms_train);
    if (!runs || !ms || !ms_train) {
        st = NM_ENOMEM;
        goto done;
    }
    /* 1. Teacher runs.  A run that diverges is left out: the student need
     *    not learn where the teacher itself has no answer. */
    nm_learned_initial_state(t, x0);
    /* The teacher's regime at each p is read after the transient the
     * selection's free runs skip (nm_map_train's window and transient for
     * series of T states), not from the approach from the start state. */
    nm_map_opts mdef;
    nm_map_opts_default(&mdef);
    double win_ms = fmin(mdef.select_window_ms, (double)T * dt), from_ms = fmin(mdef.select_transient_ms, 0.5 * win_ms);
    size_t from = (size_t)llround(from_ms / dt);
    for (size_t job = 0; job < njobs; job++) {
        size_t i = job / K;
        run_buf *r = &runs[nok];
        r->x = nm_malloc(T * D * sizeof *r->x);
        r->v = nm_malloc(T * sizeof *r->v);
        if (driven) r->u = nm_malloc(T * sizeof *r->u);
        if (!r->x || !r->v || (driven && !r->u)) {
            free(r->x);
            free(r->v);
            free(r->u);
            r->x = r->v = r->u = NULL;
            st = NM_ENOMEM;
            goto done;
        }
        memcpy(r->x, x0, D * sizeof *x0);
        r->v[0] = nm_learned_decode_v(t, x0);
        nm_status rs;
        if (driven) {
            input_protocol(t, job % K, K, opts->input_tau_ms, opts->seed, T, r->u);
            rs = nm_learned_run_u(t, pv[i], r->u, x0, T - 1, r->v + 1, r->x + D, NULL);
        } else {
            rs = nm_learned_run(t, pv[i], x0, T - 1, r->v + 1, r->x + D);
        }
        if (rs == NM_ENUMERIC || !isfinite(r->v[0])) {
            free(r->x);
            free(r->v);
            free(r->u);
            r->x = r->v = r->u = NULL;
            rep.ndiverged++;
            continue;
        }
        if (rs) {
            st = rs;
            goto done;
        }
        ms[nok] = (nm_map_series){r->x, T, pv[i], r->v, r->u, from};
        if (is_train[i]) ms_train[ntrain_ok++] = ms[nok];
        nok++;
        if (opts->progress && ((job + 1) % 10 == 0 || job + 1 == njobs)) {
            nm_train_progress pr = {"teacher runs", job + 1, njobs, 0, 0, 0, 0, 0};
            if (opts->progress(&pr, opts->progress_ctx)) {
                st = nm_fail(NM_EINVAL, "distill: stopped by the progress callback");
                goto done;
            }
        }
    }
    rep.nruns = nok;
    if (ntrain_ok == 0 || nok < 2) {
        st = nm_fail(NM_ENUMERIC, "distill: the teacher diverged at %s (%zu of %zu runs)",
                     ntrain_ok == 0 ? "every training p" : "almost every p", rep.ndiverged, njobs);
        goto done;
    }

    /* 2. The V head on the visited states (evenly thinned), first: the
     *    student's selection runs decode with it, as the lean model will. */
    if (opts->vhead) {
        size_t total = nok * T, stride = (total + DISTILL_VHEAD_ROWS - 1) / DISTILL_VHEAD_ROWS, nh = 0;
        if (stride < 1) stride = 1;
        if (!(hx = nm_malloc(((total + stride - 1) / stride) * D * sizeof *hx))) {
            st = NM_ENOMEM;
            goto done;
        }
        for (size_t g = 0; g < total; g += stride) {
            memcpy(hx + nh * D, runs[g / T].x + (g % T) * D, D * sizeof *hx);
            nh++;
        }
        nm_vhead_opts vo;
        nm_vhead_opts_default(&vo);
        vo.nhidden = opts->vhead_nhidden;
        memcpy(vo.hidden, opts->vhead_hidden, sizeof vo.hidden);
        vo.seed = opts->seed;
        nm_vhead_report vr;
        if ((st = nm_vhead_fit(nm_learned_decoder_v_part(t), nm_learned_vae(t), hx, nh, D, &vo, &head, &vr)))
            goto done;
        rep.vhead_rms_mv = vr.rms_mv;
        rep.vhead_max_mv = vr.max_mv;
    }

    /* 3. The student map, trained as `train` trains one member. */
    nm_map_opts mo;
    nm_map_opts_default(&mo);
    mo.nhidden = opts->map_nhidden;
    memcpy(mo.hidden, opts->map_hidden, sizeof mo.hidden);
    mo.rollout_iters[0] = opts->rollout_iters;
    mo.ensemble = 1;
    mo.threads = opts->threads;
    mo.dt_ms = dt;
    mo.threshold_mv = nm_learned_threshold_mv(t);
    if (nm_mf_has(tmf, "meta.auto_hysteresis_mv")) nm_mf_get_scalar_f64(tmf, "meta.auto_hysteresis_mv", &mo.hysteresis_mv);
    int32_t kmax = 0;
    if (nm_mf_has(tmf, "map.regime_max_k") && !nm_mf_get_scalar_i32(tmf, "map.regime_max_k", &kmax))
        mo.regime_max_k = kmax;
    /* The teacher's runs start where the student will be run from, so the
     * selection's free runs are judged on exactly the teacher's runs. */
    mo.select_x0 = x0;
    mo.decode = teacher_decode;
    teacher_ref tref = {t, head, nm_learned_vae(t)};
    mo.decode_ctx = &tref;
    /* About 64 checkpoint evaluations whatever the iterations (each is a
     * free run at every grid p: most of the time of a distillation). */
    mo.select_every = opts->rollout_iters / 64 > 50 ? opts->rollout_iters / 64 : 50;
    mo.seed = opts->seed;
    mo.progress = opts->progress;
    mo.progress_ctx = opts->progress_ctx;
    nm_map_report mrep;
    if ((st = nm_map_train(ms, nok, D, &mo, &student, &mrep))) goto done;
    rep.select_matches = mrep.select_score;
    rep.select_gamma = mrep.select_gamma;

    /* 4. The start state, chosen on the training-p runs as `train` does. */
    if ((st = nm_map_choose_start(student, ms_train, ntrain_ok, &mo, x0, &srep))) goto done;
    rep.start_matches = srep.nmatch;
    rep.ntrain = ntrain_ok;

    /* 5. The model file: the teacher's, with the map replaced. */
    if ((st = nm_mf_encode(tmf, &buf, &len)) || (st = nm_mf_decode(buf, len, "distilled model", &mf))) goto done;
    double thr = nm_learned_threshold_mv(t);
    nm_mf_remove_section(mf, "map");
    nm_mf_remove_section(mf, "vhead");
    nm_mf_remove_section(mf, "distill");
    static const char *const stale[] = {"meta.start_regimes", "meta.command", "meta.seed"};
    for (size_t i = 0; i < sizeof stale / sizeof *stale; i++)
        if (nm_mf_has(mf, stale[i])) nm_mf_remove(mf, stale[i]);
    char regimes[2048] = "";
    for (size_t i = 0, l = 0; i < ntrain_ok && l + 1 < sizeof regimes; i++) {
        char a[48], b[48];
        nm_regime_format(&srep.truth[i], a, sizeof a);
        nm_regime_format(&srep.got[i], b, sizeof b);
        int w = snprintf(regimes + l, sizeof regimes - l, "%s%.6g %s %s %s", i ? "; " : "", ms_train[i].p, a,
                         srep.diverged[i] ? "diverged" : b, srep.match[i] ? "ok" : "missed");
        if (w < 0) break;
        l += (size_t)w;
    }
    double prange[2] = {pv[0], pv[0]};
    for (size_t i = 0; i < np; i++) {
        prange[0] = fmin(prange[0], pv[i]);
        prange[1] = fmax(prange[1], pv[i]);
    }
    if ((st = nm_map_to_mf(student, mf)) || (st = nm_mf_add_scalar_f64(mf, "map.dt_ms", dt)) ||
        (st = nm_mf_add_scalar_f64(mf, "map.threshold_mv", thr)) || (st = nm_mf_add_f64(mf, "map.x0", x0, D)) ||
        (st = nm_mf_add_scalar_f64(mf, "map.onestep_val_mse", mrep.onestep_loss)) ||
        (st = nm_mf_add_scalar_f64(mf, "map.rollout_mse", mrep.rollout_loss)) ||
        (st = nm_mf_add_scalar_i32(mf, "map.select_matches", mrep.select_score)) ||
        (st = nm_mf_add_scalar_i32(mf, "map.start_matches", (int32_t)srep.nmatch)) ||
        (st = nm_mf_add_scalar_f64(mf, "map.start_robust", srep.robust)) ||
        (mo.regime_max_k && (st = nm_mf_add_scalar_i32(mf, "map.regime_max_k", mo.regime_max_k))) ||
        (st = nm_mf_add_str(mf, "meta.start_regimes", regimes)) ||
        (st = nm_mf_add_scalar_u64(mf, "meta.seed", opts->seed)) ||
        (st = nm_mf_add_f64(mf, "distill.p_range", prange, 2)) ||
        (st = nm_mf_add_scalar_i32(mf, "distill.runs", (int32_t)nok)) ||
        (st = nm_mf_add_scalar_i32(mf, "distill.diverged", (int32_t)rep.ndiverged)) ||
        (st = nm_mf_add_scalar_f64(mf, "distill.duration_ms", (double)T * dt)) ||
        (st = nm_mf_add_scalar_i32(mf, "distill.teacher_members", (int32_t)nm_learned_map_part(t)->nmembers)) ||
        (st = nm_mf_add_scalar_u64(mf, "distill.teacher_macs", (uint64_t)nm_learned_step_macs(t))))
        goto done;
    if (nm_mf_has(tmf, "meta.command")) {
        const char *c = NULL;
        if (!nm_mf_get_str(tmf, "meta.command", &c) && (st = nm_mf_add_str(mf, "distill.teacher_command", c)))
            goto done;
    }
    if (driven && isfinite(mrep.select_gamma) && (st = nm_mf_add_scalar_f64(mf, "map.select_gamma", mrep.select_gamma)))
        goto done;
    if (driven && ((st = nm_mf_add_scalar_i32(mf, "distill.input_protocols", (int32_t)K)) ||
                   (st = nm_mf_add_scalar_f64(mf, "distill.input_tau_ms", opts->input_tau_ms))))
        goto done;
    if (opts->command && (st = nm_mf_add_str(mf, "meta.command", opts->command))) goto done;
    if (head && ((st = nm_vhead_to_mf(head, mf)) || (st = nm_mf_add_scalar_f64(mf, "vhead.rms_mv", rep.vhead_rms_mv)) ||
                 (st = nm_mf_add_scalar_f64(mf, "vhead.max_mv", rep.vhead_max_mv))))
        goto done;
    if ((st = nm_learned_from_mf(mf, "distilled model", out))) goto done;
    rep.macs = nm_learned_step_macs(*out);
    rep.teacher_macs = nm_learned_step_macs(t);
    if (report) *report = rep;
done:
    nm_map_start_report_free(&srep);
    if (runs)
        for (size_t i = 0; i < njobs; i++) {
            free(runs[i].x);
            free(runs[i].v);
            free(runs[i].u);
        }
    free(runs);
    free(ms);
    free(ms_train);
    free(pv);
    free(is_train);
    free(hx);
    free(buf);
    nm_map_free(student);
    nm_mlp_free(head);
    nm_mf_free(mf);
    return st;
}
