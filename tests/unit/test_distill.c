/* test_distill.c -- nm_learned_distill (issue 12, lean networks): a tiny
 * two-member teacher distilled into one narrower map with a V head.
 *   - the result is a complete model: one member, the asked widths, the
 *     head, fewer multiply-adds; it survives a save/load round trip bit for
 *     bit (free runs identical);
 *   - the student learned the teacher's dynamics: on the teacher's own
 *     trajectories its one-step error is a small fraction of the teacher's
 *     step (a map that learned nothing, x(n+1) = x(n), scores 1), and the V
 *     head agrees with the teacher's decoder;
 *   - same seed, same file; another seed, another map;
 *   - bad options are refused with a message;
 *   - a teacher with an input channel gives a student with one.
 * What the tiny teacher learns about SRK does not matter here. */
#define _POSIX_C_SOURCE 200809L
#include "neuromap.h"
#include "nm_test.h"
#include "nm_test_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static nm_learned *teacher;

static void small_distill(nm_distill_opts *o, uint64_t seed)
{
    nm_distill_opts_default(o);
    o->map_hidden[0] = o->map_hidden[1] = 24;
    o->np = 5;
    o->duration_ms = 10000; /* 2000 map steps of 5 ms */
    o->rollout_iters = 60;
    o->vhead_hidden[0] = o->vhead_hidden[1] = 12;
    o->seed = seed;
    o->threads = 1;
}

static unsigned char *encode(const nm_learned *m, size_t *len)
{
    unsigned char *buf = NULL;
    CHECK_OK(nm_mf_encode(nm_learned_mf(m), &buf, len));
    return buf;
}

static void test_result_is_a_lean_model(void)
{
    nm_distill_opts o;
    small_distill(&o, 3);
    nm_learned *lean = NULL;
    nm_distill_report rep;
    CHECK_OK(nm_learned_distill(teacher, &o, &lean, &rep));
    if (!lean) return;
    const nm_mf *mf = nm_learned_mf(lean);
    int32_t members = 0;
    CHECK_OK(nm_mf_get_scalar_i32(mf, "map.members", &members));
    CHECK(members == 1);
    const int32_t *sz = NULL;
    size_t nsz = 0;
    CHECK_OK(nm_mf_get_i32(mf, "map.sizes", NM_MF_ANY, &sz, &nsz));
    CHECK(nsz == 4 && sz[1] == 24 && sz[2] == 24 && sz[3] == (int32_t)nm_learned_dim(teacher));
    CHECK(nm_mf_has(mf, "vhead.params"));
    /* The 3 training p, then 5 grid p over -47.5..-25.5 (step 5.5: -42 and
     * -31 are training p already): 6 runs, all 3 training p among them. */
    CHECK_MSG(rep.nruns + rep.ndiverged == 6, "runs %zu + diverged %zu", rep.nruns, rep.ndiverged);
    CHECK(rep.ntrain == 3);
    CHECK(rep.start_matches <= rep.ntrain);
    CHECK(rep.macs == nm_learned_step_macs(lean) && rep.teacher_macs == nm_learned_step_macs(teacher));
    /* 2 x (4*32 + 32*32 + 32*3) + 3*32 + 32*32 + 32*1 for the teacher;
     * 4*24 + 24*24 + 24*3 + 3*12 + 12*12 + 12 for the student. */
    CHECK_MSG(rep.teacher_macs == 2 * (128 + 1024 + 96) + (96 + 1024 + 32), "teacher %zu", rep.teacher_macs);
    CHECK_MSG(rep.macs == (96 + 576 + 72) + (36 + 144 + 12), "lean %zu", rep.macs);
    double pmin, pmax, tmin, tmax;
    nm_learned_p_range(lean, &pmin, &pmax);
    nm_learned_p_range(teacher, &tmin, &tmax);
    CHECK(pmin == tmin && pmax == tmax); /* the training range is still the teacher's */
    const double *pr = NULL;
    CHECK_OK(nm_mf_get_f64(mf, "distill.p_range", 2, &pr, NULL));
    if (pr) {
        CHECK_CLOSE(pr[0], -42 - 0.5 * 11, 0, 1e-12);
        CHECK_CLOSE(pr[1], -31 + 0.5 * 11, 0, 1e-12);
    }

    /* Round trip: save, load, the same free run bit for bit. */
    char path[] = "/tmp/nm_test_distill_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK_OK(nm_learned_save(lean, path));
    nm_learned *back = NULL;
    CHECK_OK(nm_learned_load(path, &back));
    unlink(path);
    if (back) {
        double v1[400], v2[400];
        CHECK_OK(nm_learned_run(lean, -36, NULL, 400, v1, NULL));
        CHECK_OK(nm_learned_run(back, -36, NULL, 400, v2, NULL));
        CHECK(memcmp(v1, v2, sizeof v1) == 0);
    }
    nm_learned_free(back);
    nm_learned_free(lean);
}

/* One-step error of the student on the teacher's trajectory, relative to
 * the teacher's own step, and the V head against the teacher's decoder. */
static void test_student_follows_teacher(void)
{
    nm_distill_opts o;
    small_distill(&o, 3);
    nm_learned *lean = NULL;
    nm_distill_report rep;
    CHECK_OK(nm_learned_distill(teacher, &o, &lean, &rep));
    if (!lean) return;
    size_t D = nm_learned_dim(teacher), T = 1000;
    double *x = malloc(T * D * sizeof *x), *v = malloc(T * sizeof *v);
    const double ps[] = {-42, -38, -31};
    double worst = 0, vrms = 0;
    size_t nv = 0;
    for (size_t k = 0; k < 3; k++) {
        CHECK_OK(nm_learned_run(teacher, ps[k], NULL, T, v, x));
        double err = 0, step = 0;
        for (size_t t = 0; t + 1 < T; t++) {
            double xs[16], xt[16];
            CHECK_OK(nm_learned_step(lean, ps[k], x + t * D, xs));
            CHECK_OK(nm_learned_step(teacher, ps[k], x + t * D, xt));
            for (size_t j = 0; j < D; j++) {
                err += (xs[j] - xt[j]) * (xs[j] - xt[j]);
                step += (xt[j] - x[t * D + j]) * (xt[j] - x[t * D + j]);
            }
            double dv = nm_learned_decode_v(lean, x + t * D) - nm_learned_decode_v(teacher, x + t * D);
            vrms += dv * dv;
            nv++;
        }
        double rel = sqrt(err / step);
        if (rel > worst) worst = rel;
    }
    vrms = sqrt(vrms / (double)nv);
    /* Measured 0.055 (seed 3) on this tiny teacher; 0.3 leaves room for
     * other OpenBLAS kernels while a student that learned nothing (1.0) or
     * the wrong p dependence fails. */
    CHECK_MSG(worst < 0.3, "student one-step error / teacher step = %.3f", worst);
    /* The 12-12 head against the decoder on the teacher's states: measured
     * 0.32 mV.  1.5 mV is still far below a spike's excursion (tens of mV)
     * and fails a head that learned only the mean V (the SD of V is ~10 mV). */
    CHECK_MSG(vrms < 1.5, "V head rms %.3f mV", vrms);
    CHECK(rep.vhead_rms_mv >= 0 && rep.vhead_rms_mv < 1.5 && rep.vhead_max_mv >= rep.vhead_rms_mv);
    free(x);
    free(v);
    nm_learned_free(lean);
}

static void test_deterministic(void)
{
    nm_distill_opts o;
    small_distill(&o, 5);
    nm_learned *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(nm_learned_distill(teacher, &o, &a, NULL));
    CHECK_OK(nm_learned_distill(teacher, &o, &b, NULL));
    /* The selection's free runs on 2 threads: the same file, bit for bit. */
    nm_learned *b2 = NULL;
    o.threads = 2;
    CHECK_OK(nm_learned_distill(teacher, &o, &b2, NULL));
    if (a && b2) {
        size_t la, lb;
        unsigned char *ea = encode(a, &la), *eb = encode(b2, &lb);
        CHECK_MSG(la == lb && ea && eb && memcmp(ea, eb, la) == 0, "threads 1 and 2 give different models");
        free(ea);
        free(eb);
    }
    nm_learned_free(b2);
    o.threads = 1;
    o.seed = 6;
    CHECK_OK(nm_learned_distill(teacher, &o, &c, NULL));
    if (a && b && c) {
        size_t la, lb, lc;
        unsigned char *ea = encode(a, &la), *eb = encode(b, &lb), *ec = encode(c, &lc);
        CHECK(la == lb && ea && eb && memcmp(ea, eb, la) == 0);
        const float *pa = NULL, *pc = NULL;
        size_t na = 0, nc = 0;
        CHECK_OK(nm_mf_get_f32(nm_learned_mf(a), "map.params", NM_MF_ANY, &pa, &na));
        CHECK_OK(nm_mf_get_f32(nm_learned_mf(c), "map.params", NM_MF_ANY, &pc, &nc));
        CHECK(na == nc && pa && pc && memcmp(pa, pc, na * sizeof *pa) != 0);
        free(ea);
        free(eb);
        free(ec);
    }
    nm_learned_free(a);
    nm_learned_free(b);
    nm_learned_free(c);
}

/* Default duration: the teacher's shortest training series (30 s here),
 * at most 40 s. */
static void test_auto_duration(void)
{
    nm_distill_opts o;
    small_distill(&o, 2);
    o.duration_ms = NAN;
    nm_learned *lean = NULL;
    CHECK_OK(nm_learned_distill(teacher, &o, &lean, NULL));
    if (!lean) return;
    double span = 0, dur = 0;
    CHECK_OK(nm_mf_get_scalar_f64(nm_learned_mf(teacher), "meta.train_min_span_ms", &span));
    CHECK_OK(nm_mf_get_scalar_f64(nm_learned_mf(lean), "distill.duration_ms", &dur));
    CHECK_MSG(span > 20000 && span < 40000, "teacher's shortest series %g ms", span);
    CHECK_CLOSE(dur, span, 0, nm_learned_dt_ms(teacher));
    nm_learned_free(lean);
}

static void expect_einval(const nm_distill_opts *o, const char *what, const char *needle)
{
    nm_learned *out = (nm_learned *)1;
    nm_status st = nm_learned_distill(teacher, o, &out, NULL);
    CHECK_MSG(st == NM_EINVAL, "%s: status %d", what, (int)st);
    CHECK_MSG(out == NULL, "%s: output not cleared", what);
    CHECK_MSG(strstr(nm_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what, nm_last_error(), needle);
}

static void test_bad_options(void)
{
    nm_distill_opts o;
    small_distill(&o, 1);
    o.np = 1;
    expect_einval(&o, "np 1", "np = 1");
    small_distill(&o, 1);
    o.map_hidden[1] = 0;
    expect_einval(&o, "width 0", "map hidden width 2 is 0");
    small_distill(&o, 1);
    o.map_nhidden = 5;
    expect_einval(&o, "5 layers", "1..4 hidden layers");
    small_distill(&o, 1);
    o.p_min = -30;
    o.p_max = -40;
    expect_einval(&o, "inverted range", "not an increasing");
    small_distill(&o, 1);
    o.p_min = -30;
    expect_einval(&o, "one end", "both ends");
    small_distill(&o, 1);
    o.duration_ms = 100; /* 20 map steps */
    expect_einval(&o, "short runs", "duration 100 ms");
    small_distill(&o, 1);
    o.vhead_hidden[0] = 0;
    expect_einval(&o, "head width 0", "V head hidden width 1 is 0");
    small_distill(&o, 1);
    o.p_extend = NAN;
    expect_einval(&o, "NaN extend", "p_extend");
    CHECK(nm_learned_distill(NULL, &o, &(nm_learned *){NULL}, NULL) == NM_EINVAL);
    CHECK(nm_learned_distill(teacher, &o, NULL, NULL) == NM_EINVAL);
}

/* A teacher with an input channel (HH under OU current): distilled at its
 * training p under input protocols; the student has an input channel over
 * (within) the teacher's input range and is selected by driven runs. */
static void test_input_teacher(void)
{
    nm_learn_opts lo;
    nm_test_fast_opts(&lo, 2);
    nm_learned *in = nm_test_input_model(&lo);
    CHECK(in != NULL);
    if (!in) return;
    nm_distill_opts o;
    small_distill(&o, 1);
    o.duration_ms = 100 * nm_learned_dt_ms(in) * 10; /* 1000 map steps */
    o.input_protocols = 3;
    nm_learned *out = NULL;
    nm_distill_report rep;
    CHECK_OK(nm_learned_distill(in, &o, &out, &rep));
    if (out) {
        CHECK(nm_learned_has_input(out));
        CHECK(strcmp(nm_learned_input_unit(out), nm_learned_input_unit(in)) == 0);
        size_t ntp;
        const double *tp = nm_learned_train_p(in, &ntp);
        size_t distinct = 0;
        for (size_t i = 0; i < ntp; i++) {
            int seen = 0;
            for (size_t j = 0; j < i; j++) seen |= tp[j] == tp[i];
            distinct += !seen;
        }
        CHECK_MSG(rep.nruns + rep.ndiverged == 3 * distinct, "runs %zu + %zu for %zu distinct p", rep.nruns,
                  rep.ndiverged, distinct);
        CHECK(isfinite(rep.select_gamma) && rep.select_gamma >= -1 && rep.select_gamma <= 1);
        double ulo, uhi, tlo, thi;
        nm_learned_input_range(out, &ulo, &uhi);
        nm_learned_input_range(in, &tlo, &thi);
        CHECK(ulo >= tlo && uhi <= thi && ulo < uhi);
        int32_t k = 0;
        CHECK_OK(nm_mf_get_scalar_i32(nm_learned_mf(out), "distill.input_protocols", &k));
        CHECK(k == 3);
        double u[200], v[200];
        for (size_t n = 0; n < 200; n++) u[n] = 0.5 * (tlo + thi);
        CHECK_OK(nm_learned_run_u(out, tp[0], u, NULL, 200, v, NULL, NULL));
    }
    nm_learned_free(out);
    small_distill(&o, 1);
    o.input_protocols = 0;
    nm_learned *bad = NULL;
    CHECK(nm_learned_distill(in, &o, &bad, NULL) == NM_EINVAL && strstr(nm_last_error(), "input_protocols"));
    small_distill(&o, 1);
    o.input_tau_ms = 0;
    CHECK(nm_learned_distill(in, &o, &bad, NULL) == NM_EINVAL && strstr(nm_last_error(), "input_tau_ms"));
    CHECK(bad == NULL);
    nm_learned_free(in);
}

int main(void)
{
    nm_learn_opts lo;
    nm_test_small_opts(&lo);
    lo.map_ensemble = 2;
    lo.threads = 1;
    lo.vae.threads = 1;
    teacher = nm_test_tiny_model(30000, &lo);
    CHECK(teacher != NULL);
    if (!teacher) return nm_test_report();
    NM_RUN(test_result_is_a_lean_model);
    NM_RUN(test_student_follows_teacher);
    NM_RUN(test_deterministic);
    NM_RUN(test_auto_duration);
    NM_RUN(test_bad_options);
    NM_RUN(test_input_teacher);
    nm_learned_free(teacher);
    return nm_test_report();
}
