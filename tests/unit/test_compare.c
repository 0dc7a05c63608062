/* test_compare.c -- nm_compare (src/analysis/compare.c): the comparison of
 * `neuromap compare` as a library call, against the same computation done
 * here by hand from its parts (nm_model_sweep_points, nm_learned_sweep,
 * nm_regime_match, the metrics), in every mode (truth model, recorded
 * regimes, recorded truth series, truth alone), with a progress callback
 * (chunked sweeps: same results; stopping), and every bad argument. */
#include "nm_test.h"
#include "nm_test_model.h"

#include "neuromap.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define NP 9

static const double GRID[NP] = {-46, -44, -42, -40, -38, -36, -34, -32, -30};

/* A tiny model (about a second): what it learned does not matter, the
 * comparison must report it faithfully. */
static nm_learned *tiny_model(void)
{
    nm_learn_opts o;
    nm_test_small_opts(&o);
    return nm_test_tiny_model(30000, &o);
}

static void short_protocol(nm_compare_opts *o)
{
    nm_compare_opts_default(o);
    o->p = GRID;
    o->np = NP;
    o->duration_ms = 20000;
    o->transient_ms = 10000;
    o->bound_steps = 8000;
    o->nthreads = 2;
}

static int same_regime(const nm_regime *a, const nm_regime *b)
{
    return a->cls == b->cls && a->spikes_per_period == b->spikes_per_period && a->period_ms == b->period_ms &&
           a->nspikes == b->nspikes;
}

/* The regime options nm_compare must use: the model's max_k, the ISI slack
 * of the coarser step. */
static void expected_regime_opts(const nm_learned *lm, double truth_dt, nm_regime_opts *ro)
{
    nm_regime_opts_default(ro);
    int32_t k = 0;
    if (nm_mf_get_scalar_i32(nm_learned_mf(lm), "map.regime_max_k", &k) == NM_OK && k > 0) ro->max_k = k;
    nm_regime_opts_for_step(ro, fmax(truth_dt, nm_learned_dt_ms(lm)));
}

/* Two results of the same comparison must agree in every number. */
static void check_same_result(const nm_compare_result *a, const nm_compare_result *b)
{
    CHECK(a->np == b->np);
    for (size_t i = 0; i < a->np && i < b->np; i++) {
        const nm_compare_point *x = &a->points[i], *y = &b->points[i];
        CHECK_MSG(same_regime(&x->truth, &y->truth) && same_regime(&x->learned, &y->learned) &&
                  x->match == y->match && x->diverged == y->diverged && x->bounded == y->bounded &&
                  x->truth_nisi == y->truth_nisi && x->learned_nisi == y->learned_nisi,
                  "point %zu differs", i);
        for (size_t k = 0; k < x->learned_nisi && k < y->learned_nisi; k++)
            CHECK(x->learned_isi[k] == y->learned_isi[k]);
    }
    CHECK(a->matches == b->matches && a->bounded == b->bounded && a->diverged == b->diverged);
    CHECK(a->ntruth_transitions == b->ntruth_transitions && a->nlearned_transitions == b->nlearned_transitions);
    CHECK(a->nmetrics == b->nmetrics);
    for (size_t k = 0; k < a->nmetrics && k < b->nmetrics; k++) {
        const nm_compare_metric *x = &a->metrics[k], *y = &b->metrics[k];
        CHECK(x->p == y->p);
        CHECK((isnan(x->dstsp) && isnan(y->dstsp)) || x->dstsp == y->dstsp);
        CHECK((isnan(x->dh) && isnan(y->dh)) || x->dh == y->dh);
        CHECK((isnan(x->w1) && isnan(y->w1)) || x->w1 == y->w1);
    }
}

/* Labels of the change between two points, as the transitions name them. */
static int label_differs(const nm_regime *a, int da, const nm_regime *b, int db)
{
    if (da || db) return da != db;
    return a->cls != b->cls || (a->cls == NM_REGIME_PERIODIC && a->spikes_per_period != b->spikes_per_period);
}

typedef struct progress_log {
    size_t calls, last_epoch, stop_after;
    int monotone, on_stage_end[3];
    const char *stage;
} progress_log;

/* Epochs count the points done: increasing within a stage, ending at all. */
static int log_progress(const nm_train_progress *p, void *ctx)
{
    progress_log *l = ctx;
    static const char *stages[3] = {"compare truth", "compare learned", "compare metrics"};
    int same = l->stage && !strcmp(l->stage, p->stage);
    if (p->epoch == 0 || p->epoch > p->epochs || (same && p->epoch <= l->last_epoch)) l->monotone = 0;
    for (int s = 0; s < 3; s++)
        if (!strcmp(p->stage, stages[s]) && p->epoch == p->epochs) l->on_stage_end[s]++;
    l->stage = p->stage;
    l->last_epoch = p->epoch;
    l->calls++;
    return l->stop_after && l->calls >= l->stop_after;
}

/* The truth model: every number against the computation done by hand. */
static void test_against_parts(nm_learned *lm, nm_model *srk, nm_compare_result **keep)
{
    nm_compare_opts o;
    short_protocol(&o);
    nm_compare_result *r = NULL;
    CHECK_OK(nm_compare(lm, srk, &o, &r));
    if (!r) return;
    CHECK(r->np == NP && r->has_model && !r->truth_recorded);
    CHECK(r->duration_ms == 20000 && r->transient_ms == 10000 && r->bound_steps == 8000);
    CHECK(r->truth_dt_ms == 5 && r->map_dt_ms == nm_learned_dt_ms(lm));

    /* The sweeps by hand. */
    nm_sim_opts so;
    nm_model_sim_opts_default(srk, &so);
    so.duration_ms = 20000;
    so.transient_ms = 10000;
    nm_regime_opts ro;
    expected_regime_opts(lm, so.dt_ms, &ro);
    CHECK(r->regime.max_k == ro.max_k && r->regime.abs_tol_ms == ro.abs_tol_ms &&
          r->regime.rel_tol == ro.rel_tol && r->regime.min_repeats == ro.min_repeats);
    nm_regime tr[NP];
    CHECK_OK(nm_sweep(srk, GRID, NP, &so, &ro, 2, tr));
    nm_learned_sweep_opts lo;
    nm_learned_sweep_opts_default(&lo);
    lo.duration_ms = 20000;
    lo.transient_ms = 10000;
    lo.bound_steps = 8000;
    lo.regime = ro;
    nm_sweep_point lp[NP];
    CHECK_OK(nm_learned_sweep(lm, GRID, NP, &lo, lp));
    size_t matches = 0, bounded = 0, ntt = 0, nlt = 0;
    for (size_t i = 0; i < NP; i++) {
        const nm_compare_point *pt = &r->points[i];
        CHECK(pt->p == GRID[i]);
        CHECK_MSG(same_regime(&pt->truth, &tr[i]), "truth at %g", GRID[i]);
        CHECK_MSG(same_regime(&pt->learned, &lp[i].regime), "learned at %g", GRID[i]);
        CHECK(pt->diverged == lp[i].diverged && pt->bounded == lp[i].bounded);
        CHECK(pt->learned_nisi == lp[i].nisi);
        for (size_t k = 0; k < pt->learned_nisi && k < lp[i].nisi; k++) CHECK(pt->learned_isi[k] == lp[i].isi[k]);
        CHECK(pt->truth_nisi == (tr[i].nspikes ? tr[i].nspikes - 1 : 0));
        int m = !lp[i].diverged && nm_regime_match(&tr[i], &lp[i].regime, NM_MATCH_PERIOD_TOL);
        CHECK_MSG(pt->match == m, "match at %g", GRID[i]);
        matches += (size_t)m;
        bounded += (size_t)lp[i].bounded;
        if (i && label_differs(&tr[i - 1], 0, &tr[i], 0)) ntt++;
        if (i && label_differs(&lp[i - 1].regime, lp[i - 1].diverged, &lp[i].regime, lp[i].diverged)) nlt++;
    }
    CHECK(r->matches == matches && r->bounded == bounded);
    CHECK_CLOSE(r->agreement, (double)matches / NP, 0, 1e-15);
    CHECK(r->ntruth_transitions == ntt && r->nlearned_transitions == nlt);
    for (size_t k = 0; k < r->ntruth_transitions; k++) {
        const nm_compare_offset *off = &r->offsets[k];
        CHECK(off->found >= 0 && off->found <= 2);
        if (off->found) {
            CHECK(off->learned < r->nlearned_transitions);
            CHECK_CLOSE(off->dp, r->learned_transitions[off->learned].p - r->truth_transitions[k].p, 0, 1e-12);
            CHECK(!strcmp(r->learned_transitions[off->learned].to, r->truth_transitions[k].to));
        }
    }
    CHECK_CLOSE(r->onset_window, 0.1 * 16, 1e-12, 0);
    double ldt = nm_learned_dt_ms(lm);
    size_t run = (size_t)llround(10000 / ldt) + (size_t)llround(20000 / ldt);
    CHECK(r->run_steps == (run > 8000 ? run : 8000));

    /* The metrics at the training p values, by hand at one of them. */
    size_t ntp = 0;
    const double *tp = nm_learned_train_p(lm, &ntp);
    CHECK(r->nmetrics == ntp && ntp == 3);
    size_t tau = (size_t)lround(20.0 / ldt);
    CHECK(r->stsp_tau_steps == (tau < 1 ? 1 : tau) && r->stsp_dim == 3);
    for (size_t k = 0; k < r->nmetrics; k++) CHECK(r->metrics[k].p == tp[k] && !r->metrics[k].recorded);
    nm_sim_opts mso = so;
    mso.dt_ms = ldt;
    nm_sweep_point mt, ml;
    CHECK_OK(nm_model_sweep_points(srk, &tp[1], 1, &mso, &ro, 1, 1, &mt));
    nm_learned_sweep_opts mlo = lo;
    mlo.keep_v = 1;
    mlo.bound_steps = 0;
    CHECK_OK(nm_learned_sweep(lm, &tp[1], 1, &mlo, &ml));
    const nm_compare_metric *row = &r->metrics[1];
    CHECK(same_regime(&row->truth, &mt.regime) && same_regime(&row->learned, &ml.regime));
    if (!ml.diverged) {
        double d = NAN;
        if (nm_metric_dstsp(mt.v, mt.nv, ml.v, ml.nv, 3, tau < 1 ? 1 : tau, NM_DSTSP_BINS, &d) == NM_OK)
            CHECK_MSG(row->dstsp == d, "D_stsp %g, by hand %g", row->dstsp, d);
        else CHECK(isnan(row->dstsp) && strstr(row->why, "D_stsp"));
        if (nm_metric_dh(mt.v, mt.nv, ml.v, ml.nv, ldt, NM_DH_SIGMA_HZ, &d) == NM_OK) CHECK(row->dh == d);
        if (mt.nisi && ml.nisi && nm_metric_wasserstein1(mt.isi, mt.nisi, ml.isi, ml.nisi, &d) == NM_OK)
            CHECK(row->w1 == d);
    }
    nm_sweep_points_clear(&mt, 1);
    nm_sweep_points_clear(&ml, 1);
    nm_sweep_points_clear(lp, NP);
    *keep = r;
}

/* Chunked sweeps under a progress callback, one thread: the same result;
 * a callback that returns non-zero stops the comparison. */
static void test_progress(nm_learned *lm, nm_model *srk, const nm_compare_result *ref)
{
    nm_compare_opts o;
    short_protocol(&o);
    o.nthreads = 1;
    progress_log log = {0, 0, 0, 1, {0, 0, 0}, NULL};
    o.progress = log_progress;
    o.progress_ctx = &log;
    nm_compare_result *r = NULL;
    CHECK_OK(nm_compare(lm, srk, &o, &r));
    if (r && ref) check_same_result(r, ref);
    /* 9 points, one per chunk on one thread, in each stage; then the metrics once. */
    CHECK_MSG(log.calls == 9 + 9 + 1, "%zu progress calls", log.calls);
    CHECK(log.monotone);
    CHECK(log.on_stage_end[0] == 1 && log.on_stage_end[1] == 1 && log.on_stage_end[2] == 1);
    nm_compare_result_free(r);

    progress_log stop = {0, 0, 3, 1, {0, 0, 0}, NULL};
    o.progress_ctx = &stop;
    r = (nm_compare_result *)&stop; /* must be set to NULL */
    CHECK_FAILS(nm_compare(lm, srk, &o, &r), NM_EINVAL, "stopped by the progress callback");
    CHECK(r == NULL && stop.calls == 3);

    /* A failing point is named within the whole grid, not the chunk. */
    o.progress_ctx = &log;
    o.duration_ms = -5;
    CHECK_FAILS(nm_compare(lm, srk, &o, &r), NM_EINVAL, "(point 1 of 9)");
}

/* Recorded truth: the regimes of the truth model give the same matches;
 * metrics only at given truth series. */
static void test_recorded(nm_learned *lm, nm_model *srk, const nm_compare_result *ref)
{
    nm_regime tr[NP];
    for (size_t i = 0; i < NP; i++) tr[i] = ref->points[i].truth;
    nm_compare_opts o;
    short_protocol(&o);
    o.truth_regimes = tr;
    nm_compare_result *r = NULL;
    CHECK_OK(nm_compare(lm, NULL, &o, &r));
    if (!r) return;
    CHECK(r->truth_recorded && r->truth_dt_ms == 0 && r->nmetrics == 0 && r->nrest == 0);
    for (size_t i = 0; i < NP; i++) {
        CHECK(r->points[i].match == ref->points[i].match && r->points[i].truth_isi == NULL);
        CHECK(isnan(r->points[i].truth_v_end));
    }
    CHECK(r->matches == ref->matches);
    nm_compare_result_free(r);

    /* ... and a recorded truth trace at -38 mV: one metric row, recorded. */
    nm_sim_opts so;
    nm_model_sim_opts_default(srk, &so);
    so.duration_ms = 20000;
    nm_series *s = NULL;
    CHECK_OK(nm_model_set_control(srk, -38));
    CHECK_OK(nm_simulate(srk, &so, &s));
    const nm_series *ser[1] = {s};
    o.truth_series = ser;
    o.ntruth_series = 1;
    CHECK_OK(nm_compare(lm, NULL, &o, &r));
    if (r) {
        CHECK(r->nmetrics == 1 && r->metrics[0].recorded && r->metrics[0].series == 0 && r->metrics[0].p == -38);
        CHECK(r->metrics[0].diverged || isfinite(r->metrics[0].dh));
        nm_compare_result_free(r);
    }
    /* NaN in the series: refused with the sample named. */
    if (s) {
        s->v[3] = NAN;
        CHECK_FAILS(nm_compare(lm, NULL, &o, &r), NM_EDATA, "truth_series[0] (p = -38): V[3] is not finite");
        CHECK(r == NULL);
        /* Without a model there is nothing to compare them with. */
        o.truth_regimes = NULL;
        CHECK_FAILS(nm_compare(NULL, srk, &o, &r), NM_EINVAL, "truth series need a learned model");
    }
    nm_series_free(s);
}

/* The truth alone. */
static void test_truth_only(nm_model *srk, const nm_compare_result *ref)
{
    nm_compare_opts o;
    short_protocol(&o);
    nm_compare_result *r = NULL;
    CHECK_OK(nm_compare(NULL, srk, &o, &r));
    if (!r) return;
    CHECK(!r->has_model && isnan(r->agreement) && r->matches == 0 && r->nmetrics == 0);
    CHECK(r->offsets == NULL && r->nlearned_transitions == 0 && r->ntruth_transitions == ref->ntruth_transitions);
    for (size_t i = 0; i < NP; i++) {
        CHECK(same_regime(&r->points[i].truth, &ref->points[i].truth));
        CHECK(r->points[i].bounded && !r->points[i].match && isnan(r->points[i].learned_v_end));
    }
    /* Without a model the ISI slack is the truth's step alone: 2 ms at 5 ms. */
    CHECK(r->regime.abs_tol_ms == 2.0);
    nm_compare_result_free(r);
}

static void test_bad_inputs(nm_learned *lm, nm_model *srk)
{
    nm_compare_opts o;
    short_protocol(&o);
    nm_compare_result *r = NULL;
    CHECK_FAILS(nm_compare(lm, srk, &o, NULL), NM_EINVAL, "result pointer is NULL");
    CHECK_FAILS(nm_compare(lm, srk, NULL, &r), NM_EINVAL, "options are NULL");
    CHECK_FAILS(nm_compare(lm, NULL, &o, &r), NM_EINVAL, "no ground truth");
    CHECK_FAILS(nm_compare(NULL, NULL, &o, &r), NM_EINVAL, "no ground truth");
    nm_regime tr[NP];
    memset(tr, 0, sizeof tr);
    o.truth_regimes = tr;
    CHECK_FAILS(nm_compare(lm, srk, &o, &r), NM_EINVAL, "not both");
    tr[4].cls = (nm_regime_class)7;
    CHECK_FAILS(nm_compare(lm, NULL, &o, &r), NM_EINVAL, "truth_regimes[4]: class 7");
    tr[4].cls = NM_REGIME_PERIODIC;
    CHECK_FAILS(nm_compare(lm, NULL, &o, &r), NM_EINVAL, "truth_regimes[4]: periodic with 0 spikes");
    o.truth_regimes = NULL;

    nm_compare_opts b = o;
    b.np = 0;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "no control values");
    b = o;
    b.p = NULL;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "opts->p is NULL");
    b.p = GRID;
    b.np = (size_t)NM_COMPARE_MAX_POINTS + 1;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "the limit is 1000000");
    double pn[3] = {-40, NAN, -38};
    b = o;
    b.p = pn;
    b.np = 3;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "p[1] is not finite");
    pn[1] = -36;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "must increase: p[2] = -38 after p[1] = -36");
    pn[1] = -40;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "must increase");

    b = o;
    b.stsp_dim = 4;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "stsp_dim must be 1..3 (got 4)");
    b = o;
    b.stsp_tau_ms = 0;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "stsp_tau_ms must be finite and > 0");
    b.stsp_tau_ms = 1e300;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "more than 1e15 map steps");
    b = o;
    b.dh_sigma_hz = -1;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "dh_sigma_hz");
    b = o;
    b.period_tol = NAN;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "period_tol");
    b = o;
    b.max_k = 1001;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "max_k must be 1..1000");
    b = o;
    b.nthreads = -1;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "nthreads must be >= 0");
    b = o;
    b.duration_ms = INFINITY;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "duration_ms is infinite");
    b = o;
    b.ntruth_series = NM_COMPARE_MAX_SERIES + 1;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "the limit is 32");
    b.ntruth_series = 1;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "truth_series is NULL");
    const nm_series *none[1] = {NULL};
    b.truth_series = none;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "truth_series[0] is NULL");
    /* Failures of the sweeps come through as they report them. */
    b = o;
    b.duration_ms = -5;
    CHECK_FAILS(nm_compare(lm, srk, &b, &r), NM_EINVAL, "sweep at VS = -46 (point 1 of 9)");
    CHECK(r == NULL);
    nm_compare_result_free(NULL);
}

static void test_all(void)
{
    nm_learned *lm = tiny_model();
    nm_model *srk = nm_model_alloc(nm_model_srk);
    CHECK(lm != NULL && srk != NULL);
    if (!lm || !srk) {
        nm_learned_free(lm);
        nm_model_free(srk);
        return;
    }
    nm_compare_result *ref = NULL;
    test_against_parts(lm, srk, &ref);
    if (ref) {
        test_progress(lm, srk, ref);
        test_recorded(lm, srk, ref);
        test_truth_only(srk, ref);
    }
    test_bad_inputs(lm, srk);
    nm_compare_result_free(ref);
    nm_learned_free(lm);
    nm_model_free(srk);
}

static void test_abi_sizeof(void)
{
    CHECK(nm_abi_sizeof("nm_compare_result") == sizeof(nm_compare_result));
    CHECK(nm_abi_sizeof("nm_learn_opts") == sizeof(nm_learn_opts));
    CHECK(nm_abi_sizeof("nm_series") == sizeof(nm_series));
    CHECK(nm_abi_sizeof("nm_distill_opts") == sizeof(nm_distill_opts));
    CHECK(nm_abi_sizeof("nm_distill_report") == sizeof(nm_distill_report));
    CHECK(nm_abi_sizeof("nm_no_such_type") == 0);
    CHECK(nm_abi_sizeof(NULL) == 0);
}

int main(void)
{
    NM_RUN(test_all);
    NM_RUN(test_abi_sizeof);
    return nm_test_report();
}
