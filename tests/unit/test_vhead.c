/* test_vhead.c -- the V head (src/learn/vhead.h, issue 12 item 2): a small
 * network fitted to the cut decoder's V.
 *   - the fit on a real (tiny, trained here) decoder reaches a stated error
 *     in mV; the same seed gives the same bits, another seed other bits;
 *   - the model-file round trip keeps every bit; a learned model whose file
 *     holds a head decodes V with it everywhere: nm_learned_decode_v, runs
 *     and the batched step (bit for bit the unbatched step, also for widths
 *     that are not multiples of 8); nm_learned_decoder_v_part is still the
 *     cut decoder;
 *   - bad arguments (NM_EINVAL) and bad vhead.* entries (NM_EFORMAT naming
 *     the entry, the same message from the validation and the loader). */
#define _POSIX_C_SOURCE 200809L
#include "neuromap.h"
#include "nm_test.h"
#include "nm_test_model.h"

#include "learn/batch.h"
#include "learn/vae.h"
#include "learn/vhead.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The default head (3-32-32-1, 60 epochs at most) on the tiny model's free
 * runs (9000 states, a 3-32-32-3x32 decoder) reached a validation rms of
 * 0.083 mV, max 0.54 mV (seed 1), and 0.14 mV, max 0.77 mV (seed 2); the
 * bound leaves a margin of about 3x over the worse seed.  (On full-size
 * 3-128-128-32 decoders of trained SRK models: 0.009-0.025 mV rms, max
 * 0.1-0.5 mV.) */
#define VHEAD_RMS_TOL_MV 0.4

/* Latent states: free runs of the model at its training p (the states the
 * runtime decodes). */
#define RUN_STEPS 3000

static nm_learned *base_model;
static double *states;  /* [nstates x D] */
static size_t nstates, dimD;

static void make_states(void)
{
    size_t ntp = 0;
    const double *tp = nm_learned_train_p(base_model, &ntp);
    dimD = nm_learned_dim(base_model);
    states = malloc(ntp * RUN_STEPS * dimD * sizeof *states);
    double *v = malloc(RUN_STEPS * sizeof *v);
    nstates = 0;
    for (size_t k = 0; k < ntp; k++) {
        if (nm_learned_run(base_model, tp[k], NULL, RUN_STEPS, v, states + nstates * dimD) == NM_OK)
            nstates += RUN_STEPS;
    }
    free(v);
    CHECK(nstates >= RUN_STEPS);
}

/* Params bit for bit and the same shape. */
static int same_net(const nm_mlp *a, const nm_mlp *b)
{
    if (a->nlayers != b->nlayers || a->nparams != b->nparams) return 0;
    for (size_t l = 0; l < a->nlayers; l++)
        if (a->layer[l].in != b->layer[l].in || a->layer[l].out != b->layer[l].out || a->layer[l].act != b->layer[l].act)
            return 0;
    return memcmp(a->params, b->params, a->nparams * sizeof(float)) == 0;
}

static nm_mlp *head_default, *head_tails;
static nm_vhead_report rep_default;

static void test_fit(void)
{
    const nm_mlp *dec = nm_learned_decoder_v_part(base_model);
    const nm_vae *vae = nm_learned_vae(base_model);
    CHECK(dec == nm_learned_dec_v_part(base_model)); /* no head yet */
    nm_vhead_opts o;
    nm_vhead_opts_default(&o);
    CHECK(o.nhidden == 2 && o.hidden[0] == 32 && o.hidden[1] == 32 && o.epochs == 60 && o.seed == 1);
    CHECK_OK(nm_vhead_fit(dec, vae, states, nstates, dimD, &o, &head_default, &rep_default));
    if (!head_default) return;
    fprintf(stderr, "  head %zu-32-32-1 on %zu states: validation rms %.4g mV, max %.4g mV, %zu epochs\n", dimD,
            nstates, rep_default.rms_mv, rep_default.max_mv, rep_default.epochs);
    CHECK(head_default->nlayers == 3 && head_default->layer[0].in == dimD && head_default->layer[0].out == 32 &&
          head_default->layer[1].out == 32 && head_default->layer[2].out == 1);
    CHECK(head_default->layer[0].act == NM_ACT_TANH && head_default->layer[1].act == NM_ACT_TANH &&
          head_default->layer[2].act == NM_ACT_IDENTITY);
    CHECK_MSG(rep_default.rms_mv < VHEAD_RMS_TOL_MV, "rms %g mV (tolerance %g)", rep_default.rms_mv,
              VHEAD_RMS_TOL_MV);
    CHECK(rep_default.max_mv >= rep_default.rms_mv && rep_default.epochs >= 1 && rep_default.epochs <= o.epochs);

    /* Over ALL states (training rows too), through the runtime's path
     * (nm_mlp_apply1 on float casts, de-normalised): the same order. */
    double ss = 0;
    for (size_t i = 0; i < nstates; i++) {
        float z[NM_VAE_MAX_LATENT], r[1];
        for (size_t j = 0; j < dimD; j++) z[j] = (float)states[i * dimD + j];
        CHECK_OK(nm_mlp_apply1(head_default, z, r));
        double e = nm_vae_denorm(vae, r[0]) - nm_learned_decode_v(base_model, states + i * dimD);
        ss += e * e;
    }
    double rms_all = sqrt(ss / (double)nstates);
    CHECK_MSG(rms_all < VHEAD_RMS_TOL_MV, "rms over all states %g mV", rms_all);

    /* Same seed: the same bits and report; another seed: other bits. */
    nm_mlp *again = NULL, *other = NULL;
    nm_vhead_report r2, r3;
    CHECK_OK(nm_vhead_fit(dec, vae, states, nstates, dimD, &o, &again, &r2));
    o.seed = 2;
    CHECK_OK(nm_vhead_fit(dec, vae, states, nstates, dimD, &o, &other, &r3));
    CHECK(again && same_net(head_default, again));
    CHECK(memcmp(&r2, &rep_default, sizeof r2) == 0);
    CHECK(other && !same_net(head_default, other));
    CHECK_MSG(r3.rms_mv < VHEAD_RMS_TOL_MV, "seed 2: rms %g mV", r3.rms_mv);
    fprintf(stderr, "  rms over all states %.4g mV; seed 2: validation rms %.4g mV, max %.4g mV\n", rms_all,
            r3.rms_mv, r3.max_mv);
    nm_mlp_free(again);
    nm_mlp_free(other);

    /* A head whose widths are not multiples of 8 (the batched kernel's
     * tails), three hidden layers, a few epochs. */
    nm_vhead_opts_default(&o);
    o.nhidden = 3;
    o.hidden[0] = 20;
    o.hidden[1] = 13;
    o.hidden[2] = 5;
    o.epochs = 4;
    CHECK_OK(nm_vhead_fit(dec, vae, states, nstates, dimD, &o, &head_tails, NULL));
    CHECK(head_tails && head_tails->nlayers == 4 && head_tails->layer[2].out == 5);
}

/* A copy of the base model's file with the head (and the fit's scalars). */
static nm_mf *mf_with_head(const nm_mlp *head)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    nm_mf *mf = NULL;
    CHECK_OK(nm_mf_encode(nm_learned_mf(base_model), &buf, &len));
    CHECK_OK(nm_mf_decode(buf, len, "copy", &mf));
    free(buf);
    if (!mf) return NULL;
    CHECK_OK(nm_vhead_to_mf(head, mf));
    CHECK_OK(nm_mf_add_scalar_f64(mf, "vhead.rms_mv", rep_default.rms_mv));
    CHECK_OK(nm_mf_add_scalar_f64(mf, "vhead.max_mv", rep_default.max_mv));
    return mf;
}

/* Batched steps of many cells against each cell stepped alone (as
 * test_learned_batch.c): states and V bit for bit. */
static void check_batch(const nm_learned *m, const char *what)
{
    enum { N = 37, STEPS = 120 };
    size_t D = nm_learned_dim(m);
    double pmin, pmax, p[N], vb[N];
    int st[N];
    nm_learned_p_range(m, &pmin, &pmax);
    double *xb = calloc(N * D, sizeof *xb), *xa = calloc(N * D, sizeof *xa);
    for (size_t k = 0; k < N; k++) {
        nm_learned_initial_state(m, xb + k * D);
        p[k] = pmin + (pmax - pmin) * (double)k / (N - 1);
    }
    memcpy(xa, xb, N * D * sizeof *xa);
    nm_learned_batch *b = nm_learned_batch_alloc(m);
    CHECK(b && nm_learned_batch_fits(b, m));
    size_t ndiff = 0, nok = 0;
    for (int s = 0; s < STEPS && b; s++) {
        nm_learned_step_batch(m, b, N, p, NULL, xb, xb, vb, st);
        for (size_t k = 0; k < N; k++) {
            double x1[NM_PLUGIN_MAX_DIM];
            nm_status s1 = nm_learned_step(m, p[k], xa + k * D, x1);
            if (s1 != (nm_status)st[k]) ndiff++;
            if (s1 != NM_OK) continue;
            double v1 = nm_learned_decode_v(m, x1);
            if (memcmp(x1, xb + k * D, D * sizeof *x1) || memcmp(&v1, &vb[k], sizeof v1)) ndiff++;
            memcpy(xa + k * D, x1, D * sizeof *x1);
            nok++;
        }
    }
    CHECK_MSG(ndiff == 0, "%s: %zu cell steps differ between batched and unbatched", what, ndiff);
    CHECK(nok > N * STEPS / 2);
    nm_learned_batch_free(b);
    free(xb);
    free(xa);
}

/* The model with a head decodes with it, bit for bit, everywhere. */
static void check_model_uses(const nm_learned *m, const nm_mlp *head, const char *what)
{
    const nm_vae *vae = nm_learned_vae(m);
    CHECK(same_net(nm_learned_dec_v_part(m), head));
    /* the cut decoder is still there, the same as the base model's */
    CHECK(same_net(nm_learned_decoder_v_part(m), nm_learned_decoder_v_part(base_model)));
    size_t ndiff = 0, nother = 0;
    for (size_t i = 0; i < nstates; i += 7) {
        const double *x = states + i * dimD;
        float z[NM_VAE_MAX_LATENT], r[1];
        for (size_t j = 0; j < dimD; j++) z[j] = (float)x[j];
        nm_mlp_apply1(head, z, r);
        double want = nm_vae_denorm(vae, r[0]), got = nm_learned_decode_v(m, x);
        if (memcmp(&want, &got, sizeof got)) ndiff++;
        if (got != nm_learned_decode_v(base_model, x)) nother++;
    }
    CHECK_MSG(ndiff == 0, "%s: %zu states decode otherwise than through the head", what, ndiff);
    CHECK_MSG(nother > 0, "%s: the head gives the decoder's V bit for bit (not used?)", what);
    /* a run's V is the head's V of the run's states */
    enum { S = 200 };
    double v[S], xt[S * NM_PLUGIN_MAX_DIM];
    CHECK_OK(nm_learned_run(m, nm_learned_p_default(m), NULL, S, v, xt));
    size_t nrun = 0;
    for (size_t k = 0; k < S; k++) {
        double d = nm_learned_decode_v(m, xt + k * dimD);
        nrun += memcmp(&d, &v[k], sizeof d) != 0;
    }
    CHECK(nrun == 0);
    check_batch(m, what);
}

static void test_round_trip(void)
{
    if (!head_default || !head_tails) return;
    nm_mf *mf = nm_mf_alloc();
    nm_mlp *back = NULL;
    CHECK_OK(nm_vhead_from_mf(mf, &back)); /* no head: NULL, OK */
    CHECK(back == NULL);
    CHECK_OK(nm_vhead_to_mf(head_tails, mf));
    CHECK_OK(nm_mf_add_scalar_f64(mf, "vhead.rms_mv", 1.0));
    /* storing again replaces the head (and the old fit's scalars) */
    CHECK_OK(nm_vhead_to_mf(head_default, mf));
    CHECK(!nm_mf_has(mf, "vhead.rms_mv"));
    CHECK_OK(nm_vhead_from_mf(mf, &back));
    CHECK(back && same_net(back, head_default));
    nm_mlp_free(back);
    nm_mf_free(mf);

    /* through a file: save, load, use */
    const nm_mlp *heads[2] = {head_default, head_tails};
    const char *names[2] = {"default head", "head 20-13-5"};
    for (int k = 0; k < 2; k++) {
        nm_mf *hm = mf_with_head(heads[k]);
        if (!hm) continue;
        char path[512];
        nm_test_path(path, sizeof path, k ? "vhead_tails.nmap" : "vhead_default.nmap");
        CHECK_OK(nm_mf_write(hm, path));
        nm_mf_free(hm);
        nm_mf_kind kind;
        CHECK_OK(nm_mf_check_file(path, &kind));
        CHECK(kind == NM_MF_KIND_LEARNED);
        nm_learned *m = NULL;
        CHECK_OK(nm_learned_load(path, &m));
        if (!m) continue;
        check_model_uses(m, heads[k], names[k]);
        /* saved again, the head stays */
        CHECK_OK(nm_learned_save(m, path));
        nm_learned *m2 = NULL;
        CHECK_OK(nm_learned_load(path, &m2));
        CHECK(m2 && same_net(nm_learned_dec_v_part(m2), heads[k]));
        nm_learned_free(m2);
        nm_learned_free(m);
        /* kept for `neuromap info` by hand when NM_KEEP is set */
        if (!getenv("NM_KEEP")) remove(path);
    }
}

static void test_bad_args(void)
{
    const nm_mlp *dec = nm_learned_decoder_v_part(base_model);
    const nm_vae *vae = nm_learned_vae(base_model);
    nm_vhead_opts o;
    nm_vhead_opts_default(&o);
    nm_mlp *h = (nm_mlp *)1;
    CHECK_FAILS(nm_vhead_fit(dec, vae, states, 0, dimD, &o, &h, NULL), NM_EINVAL, "0 latent states");
    CHECK(h == NULL);
    CHECK_FAILS(nm_vhead_fit(dec, vae, NULL, 10, dimD, &o, &h, NULL), NM_EINVAL, "NULL");
    CHECK_FAILS(nm_vhead_fit(NULL, vae, states, 10, dimD, &o, &h, NULL), NM_EINVAL, "NULL");
    CHECK_FAILS(nm_vhead_fit(dec, NULL, states, 10, dimD, &o, &h, NULL), NM_EINVAL, "NULL");
    CHECK_FAILS(nm_vhead_fit(dec, vae, states, 10, dimD, &o, NULL, NULL), NM_EINVAL, "NULL output");
    CHECK_FAILS(nm_vhead_fit(dec, vae, states, 10, dimD + 1, &o, &h, NULL), NM_EINVAL, "the decoder takes");
    CHECK_FAILS(nm_vhead_fit(dec, vae, states, 10, 0, &o, &h, NULL), NM_EINVAL, "D = 0");
    double *bad = malloc(10 * dimD * sizeof *bad);
    memcpy(bad, states, 10 * dimD * sizeof *bad);
    bad[4 * dimD + 1] = NAN;
    CHECK_FAILS(nm_vhead_fit(dec, vae, bad, 10, dimD, &o, &h, NULL), NM_EINVAL, "latent state 4, unit 1");
    bad[4 * dimD + 1] = 1e300; /* finite, but not as a float */
    CHECK_FAILS(nm_vhead_fit(dec, vae, bad, 10, dimD, &o, &h, NULL), NM_EINVAL, "not finite as a float");
    free(bad);
    o.nhidden = 0;
    CHECK_FAILS(nm_vhead_fit(dec, vae, states, 10, dimD, &o, &h, NULL), NM_EINVAL, "0 hidden layers (expected 1..4)");
    o.nhidden = 5;
    CHECK_FAILS(nm_vhead_fit(dec, vae, states, 10, dimD, &o, &h, NULL), NM_EINVAL, "5 hidden layers");
    nm_vhead_opts_default(&o);
    o.hidden[1] = 0;
    CHECK_FAILS(nm_vhead_fit(dec, vae, states, 10, dimD, &o, &h, NULL), NM_EINVAL, "hidden layer 1 is 0 wide");
    o.hidden[1] = NM_MLP_APPLY1_MAX_WIDTH + 1;
    CHECK_FAILS(nm_vhead_fit(dec, vae, states, 10, dimD, &o, &h, NULL), NM_EINVAL, "513 wide");
    nm_vhead_opts_default(&o);
    o.val_frac = 0;
    CHECK_FAILS(nm_vhead_fit(dec, vae, states, 10, dimD, &o, &h, NULL), NM_EINVAL, "val_frac");
    nm_vhead_opts_default(&o);
    o.epochs = 0;
    CHECK_FAILS(nm_vhead_fit(dec, vae, states, 10, dimD, &o, &h, NULL), NM_EINVAL, "epochs");
    nm_vhead_opts_default(&o);
    o.lr = NAN;
    CHECK_FAILS(nm_vhead_fit(dec, vae, states, 10, dimD, &o, &h, NULL), NM_EINVAL, "lr");
    CHECK(h == NULL);
    CHECK_FAILS(nm_vhead_to_mf(NULL, NULL), NM_EINVAL, "NULL");
    CHECK_FAILS(nm_vhead_from_mf(NULL, &h), NM_EINVAL, "NULL");
}

/* Replace an i32 entry by a copy with element i set to val (n_new elements:
 * one fewer drops the last). */
static void set_i32(nm_mf *mf, const char *name, size_t i, int32_t val)
{
    const int32_t *src;
    size_t n = 0;
    CHECK_OK(nm_mf_get_i32(mf, name, NM_MF_ANY, &src, &n));
    int32_t tmp[16];
    memcpy(tmp, src, n * sizeof *tmp);
    tmp[i] = val;
    CHECK_OK(nm_mf_remove(mf, name));
    CHECK_OK(nm_mf_add_i32(mf, name, tmp, n));
}

/* The validation and the loader refuse mf with NM_EFORMAT, the same
 * message, naming needle. */
static void refused(nm_mf *mf, const char *needle, const char *needle2, const char *what)
{
    nm_status sv = nm_mf_validate(mf, "bad.nmap", NM_MF_KIND_LEARNED);
    char vmsg[512];
    snprintf(vmsg, sizeof vmsg, "%s", nm_last_error());
    nm_learned *m = NULL;
    nm_status sl = nm_learned_from_mf(mf, "bad.nmap", &m);
    CHECK_MSG(sv == NM_EFORMAT && sl == NM_EFORMAT && strcmp(vmsg, nm_last_error()) == 0 &&
                  strncmp(vmsg, "bad.nmap: ", 10) == 0 && strstr(vmsg, needle) && (!needle2 || strstr(vmsg, needle2)),
              "%s: validate %d '%s', load %d '%s'", what, (int)sv, vmsg, (int)sl, nm_last_error());
    nm_learned_free(m);
    nm_mf_free(mf);
}

static void test_bad_files(void)
{
    if (!head_default) return;
    nm_mf *mf;
    /* vhead.sizes[0] != D (and as stored by someone: a consistent head of
     * the wrong input width, params adjusted) */
    if ((mf = mf_with_head(head_default))) {
        set_i32(mf, "vhead.sizes", 0, (int32_t)dimD + 1);
        refused(mf, "'vhead.sizes' starts at", "vae.D", "sizes[0] = D + 1");
    }
    {
        const size_t sz[4] = {dimD + 1, 8, 8, 1};
        const nm_act ac[3] = {NM_ACT_TANH, NM_ACT_TANH, NM_ACT_IDENTITY};
        nm_mlp *wrong = nm_mlp_alloc(3, sz, ac);
        if (wrong && (mf = mf_with_head(wrong))) refused(mf, "'vhead.sizes' starts at", NULL, "head of D + 1 inputs");
        nm_mlp_free(wrong);
    }
    if ((mf = mf_with_head(head_default))) {
        set_i32(mf, "vhead.sizes", 3, 2);
        refused(mf, "'vhead.sizes' ends at 2", "one output", "last size 2");
    }
    if ((mf = mf_with_head(head_default))) {
        set_i32(mf, "vhead.sizes", 1, 0);
        refused(mf, "'vhead.sizes': width 1 = 0", NULL, "width 0");
    }
    if ((mf = mf_with_head(head_default))) {
        set_i32(mf, "vhead.acts", 2, 9);
        refused(mf, "'vhead.acts': activation 2 = 9", NULL, "activation 9");
    }
    if ((mf = mf_with_head(head_default))) { /* params one short */
        const float *p;
        size_t np = 0;
        CHECK_OK(nm_mf_get_f32(mf, "vhead.params", NM_MF_ANY, &p, &np));
        float *cp = malloc(np * sizeof *cp);
        memcpy(cp, p, np * sizeof *cp);
        CHECK_OK(nm_mf_remove(mf, "vhead.params"));
        CHECK_OK(nm_mf_add_f32(mf, "vhead.params", cp, np - 1));
        free(cp);
        char want[64];
        snprintf(want, sizeof want, "has %zu parameters", np - 1);
        refused(mf, "'vhead.params'", want, "params one short");
    }
    if ((mf = mf_with_head(head_default))) { /* a parameter out of range */
        const float *p;
        size_t np = 0;
        CHECK_OK(nm_mf_get_f32(mf, "vhead.params", NM_MF_ANY, &p, &np));
        float *cp = malloc(np * sizeof *cp);
        memcpy(cp, p, np * sizeof *cp);
        cp[3] = 1e30f;
        CHECK_OK(nm_mf_remove(mf, "vhead.params"));
        CHECK_OK(nm_mf_add_f32(mf, "vhead.params", cp, np));
        free(cp);
        refused(mf, "'vhead.params': parameter 3", NULL, "param 1e30");
    }
    /* some of the three entries */
    static const char *const ent[3] = {"vhead.sizes", "vhead.acts", "vhead.params"};
    for (int k = 0; k < 3; k++) {
        if (!(mf = mf_with_head(head_default))) continue;
        CHECK_OK(nm_mf_remove(mf, ent[k]));
        char want[64];
        snprintf(want, sizeof want, "but '%s' is missing", ent[k]);
        refused(mf, want, NULL, ent[k]);
        /* only this one left */
        if (!(mf = mf_with_head(head_default))) continue;
        for (int j = 0; j < 3; j++)
            if (j != k) CHECK_OK(nm_mf_remove(mf, ent[j]));
        snprintf(want, sizeof want, "entry '%s' is present", ent[k]);
        refused(mf, want, "is missing", ent[k]);
    }
    /* the fit's scalars */
    if ((mf = mf_with_head(head_default))) {
        CHECK_OK(nm_mf_remove(mf, "vhead.rms_mv"));
        CHECK_OK(nm_mf_add_scalar_f64(mf, "vhead.rms_mv", -0.5));
        refused(mf, "'vhead.rms_mv' = -0.5", NULL, "rms < 0");
    }
    if ((mf = mf_with_head(head_default))) {
        CHECK_OK(nm_mf_remove(mf, "vhead.max_mv"));
        /* (a non-finite value never gets this far: the container refuses it) */
        CHECK_FAILS(nm_mf_add_scalar_f64(mf, "vhead.max_mv", INFINITY), NM_EINVAL, "not finite");
        CHECK_OK(nm_mf_add_str(mf, "vhead.max_mv", "0.5"));
        refused(mf, "vhead.max_mv", NULL, "max as a string");
    }
    /* the loader on its own (no validation) also refuses a partial head */
    if ((mf = mf_with_head(head_default))) {
        nm_mlp *h = NULL;
        CHECK_OK(nm_mf_remove(mf, "vhead.acts"));
        CHECK_FAILS(nm_vhead_from_mf(mf, &h), NM_EFORMAT, "'vhead.acts' is missing");
        CHECK(h == NULL);
        nm_mf_free(mf);
    }
}

int main(void)
{
    nm_learn_opts o;
    nm_test_small_opts(&o);
    o.map_ensemble = 1;
    base_model = nm_test_tiny_model(20000, &o);
    CHECK(base_model != NULL);
    if (!base_model) return nm_test_report();
    make_states();
    NM_RUN(test_fit);
    NM_RUN(test_round_trip);
    NM_RUN(test_bad_args);
    NM_RUN(test_bad_files);
    nm_mlp_free(head_default);
    nm_mlp_free(head_tails);
    free(states);
    nm_learned_free(base_model);
    return nm_test_report();
}
