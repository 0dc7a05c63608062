/* test_vae_threads.c -- the VAE trainer on several threads (src/learn/vae.c,
 * "data-parallel passes"): the trained parameters, the report and every
 * epoch's losses are the same bit for bit for threads = 1, 2, 3 and 0 (all
 * CPUs) and on repeated runs; the shard losses and gradients add up to the
 * minibatch's (double twin, to rounding); OpenBLAS's own thread count does
 * not change the bits and is restored afterwards; bad thread counts are
 * refused.  Runs under TSan in scripts/test.sh (data races between the
 * workers would show there). */
#include "learn/vae.h"
#include "nm_test.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS's getter (cblas.h is not on the tests' include path). */
int openblas_get_num_threads(void);

#define TWO_PI 6.283185307179586476925
#define EPOCHS 6

/* Two series of a sine with a slower modulation: enough rows for batches
 * of several shards. */
static nm_series *wave(size_t n, double period, double phase)
{
    nm_series *s = nm_series_alloc(n, 0);
    s->dt_ms = 1.0;
    for (size_t i = 0; i < n; i++)
        s->v[i] = -50 + 20 * sin(TWO_PI * (double)i / period + phase) + 5 * sin(TWO_PI * (double)i / 311.0);
    return s;
}

typedef struct curve {
    double loss[EPOCHS], val[EPOCHS], recon[EPOCHS], kl[EPOCHS];
    size_t n;
    int blas_max;   /* most OpenBLAS threads seen during training */
} curve;

static int record(const nm_train_progress *p, void *ctx)
{
    curve *c = ctx;
    if (c->n < EPOCHS) {
        c->loss[c->n] = p->loss;
        c->val[c->n] = p->val_loss;
        c->recon[c->n] = p->recon;
        c->kl[c->n] = p->kl;
        c->n++;
    }
    int b = openblas_get_num_threads();
    if (b > c->blas_max) c->blas_max = b;
    return 0;
}

static void opts_w(nm_vae_opts *o, int threads, curve *c, size_t width, size_t batch);

/* Batch 300 cuts a full batch into 3 shards of 100 rows; the training rows
 * (2 x (1500 - 7 - 150 - 7) = 2672) end with a batch of 272 rows: 3 shards
 * of 91, 91 and 90. */
static void opts(nm_vae_opts *o, int threads, curve *c)
{
    opts_w(o, threads, c, 24, 300);
}

static void opts_w(nm_vae_opts *o, int threads, curve *c, size_t width, size_t batch)
{
    nm_vae_opts_default(o);
    o->de = 8;
    o->latent_dim = 2;
    o->hidden[0] = o->hidden[1] = width;
    o->nhidden = 2;
    o->batch = batch;
    o->epochs = EPOCHS;
    o->patience = EPOCHS;
    o->lr = 3e-3;
    o->seed = 11;
    o->threads = threads;
    o->progress = record;
    o->progress_ctx = c;
}

static nm_vae *train_w(const nm_series *const *list, int threads, curve *c, nm_vae_report *rep,
                       size_t width, size_t batch)
{
    nm_vae_opts o;
    memset(c, 0, sizeof *c);
    opts_w(&o, threads, c, width, batch);
    nm_vae *v = NULL;
    CHECK_OK(nm_vae_train(list, 2, &o, &v, rep));
    return v;
}

static nm_vae *train(const nm_series *const *list, int threads, curve *c, nm_vae_report *rep)
{
    return train_w(list, threads, c, rep, 24, 300);
}

static int same_bits(const nm_vae *a, const nm_vae_report *ra, const curve *ca, const nm_vae *b,
                     const nm_vae_report *rb, const curve *cb)
{
    return a && b && a->nparams == b->nparams &&
           !memcmp(a->params, b->params, a->nparams * sizeof *a->params) &&
           !memcmp(ra, rb, sizeof *ra) && ca->n == cb->n && !memcmp(ca, cb, sizeof *ca);
}

static void test_threads_same_bits(void)
{
    nm_series *s1 = wave(1500, 23.7, 0.0), *s2 = wave(1500, 31.1, 1.0);
    const nm_series *list[2] = {s1, s2};
    curve c1, c;
    nm_vae_report r1, r;
    nm_vae *ref = train(list, 1, &c1, &r1);
    CHECK(c1.n == EPOCHS && isfinite(r1.loss) && r1.loss < c1.loss[0]);
    const int counts[] = {2, 2, 3, 0, 8};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        nm_vae *v = train(list, counts[i], &c, &r);
        CHECK_MSG(same_bits(ref, &r1, &c1, v, &r, &c),
                  "threads = %d differs from threads = 1 (loss %.17g vs %.17g)", counts[i], r.loss,
                  r1.loss);
        nm_vae_free(v);
    }
    /* A different seed must give different bits (the comparison can fail). */
    nm_vae_opts o;
    opts(&o, 2, &c);
    memset(&c, 0, sizeof c);
    o.seed = 12;
    nm_vae *v = NULL;
    CHECK_OK(nm_vae_train(list, 2, &o, &v, &r));
    CHECK(v && memcmp(ref->params, v->params, ref->nparams * sizeof *v->params));
    nm_vae_free(v);
    nm_vae_free(ref);
    nm_series_free(s1);
    nm_series_free(s2);
}

static void test_blas_threads_no_effect(void)
{
    nm_series *s1 = wave(1500, 23.7, 0.0), *s2 = wave(1500, 31.1, 1.0);
    const nm_series *list[2] = {s1, s2};
    curve c1, c;
    nm_vae_report r1, r;
    /* Width 96 and shards of 128 rows: OpenBLAS would thread products of
     * these sizes (it keeps small ones, M N K <= 262144, on one thread). */
    nm_vae *ref = train_w(list, 1, &c1, &r1, 96, 256);
    CHECK(c1.blas_max == 1);
    /* The trainer runs OpenBLAS on one thread for its duration (our threads
     * do the parallel work; a threaded sgemm in each would oversubscribe
     * the cores, and on some CPU kernels it gives other bits) and restores
     * the caller's setting. */
    nm_set_blas_threads(2);
    int before = openblas_get_num_threads();
    CHECK(before == 2);
    nm_vae *v = train_w(list, 2, &c, &r, 96, 256);
    CHECK_MSG(c.blas_max == 1, "OpenBLAS ran on %d threads during training", c.blas_max);
    c.blas_max = c1.blas_max;
    CHECK(same_bits(ref, &r1, &c1, v, &r, &c));
    CHECK(openblas_get_num_threads() == before);
    nm_vae_free(v);
    v = train_w(list, 1, &c, &r, 96, 256);
    CHECK(c.blas_max == 1);
    c.blas_max = c1.blas_max;
    CHECK(same_bits(ref, &r1, &c1, v, &r, &c));
    CHECK(openblas_get_num_threads() == before);
    nm_set_blas_threads(1);
    nm_vae_free(v);
    nm_vae_free(ref);
    nm_series_free(s1);
    nm_series_free(s2);
}

/* The double twin: shards of 3 and 4 rows of a 7-row batch add up to the
 * whole batch's loss, parts and gradient (to rounding); Bnorm = B is the
 * whole-batch function bit for bit. */
static void test_shard_sums(void)
{
    const size_t de = 5, D = 2, B = 7, hs[2] = {6, 4};
    size_t esz[4] = {de, hs[0], hs[1], 2 * D}, dsz[4] = {D, hs[1], hs[0], de};
    nm_act acts[3] = {NM_ACT_TANH, NM_ACT_TANH, NM_ACT_IDENTITY};
    nm_mlp_f64 *enc = nm_mlp_alloc_f64(3, esz, acts), *dec = nm_mlp_alloc_f64(3, dsz, acts);
    nm_rng rng;
    nm_rng_seed(&rng, 5);
    CHECK_OK(nm_mlp_init_f64(enc, &rng, NM_INIT_AUTO));
    CHECK_OK(nm_mlp_init_f64(dec, &rng, NM_INIT_AUTO));
    nm_mlp_ws_f64 *we = nm_mlp_ws_alloc_f64(enc, B), *wd = nm_mlp_ws_alloc_f64(dec, B);
    double x[7 * 5], eps[7 * 2];
    nm_nn_gauss_fill_f64(&rng, B * de, x);
    nm_nn_gauss_fill_f64(&rng, B * D, eps);
    double *scratch = malloc(nm_vae_loss_scratch(B, de, D) * sizeof *scratch);
    const size_t ne = enc->nparams, nd = dec->nparams;
    double *gw = calloc(ne + nd, sizeof *gw), *gs = calloc(ne + nd, sizeof *gs);
    const double beta = 0.3;
    double rw, kw, r0, k0, r1, k1;
    double Lw = nm_vae_loss_rows_f64(enc, dec, we, wd, B, x, eps, beta, gw, gw + ne, scratch, &rw, &kw);
    double L0 = nm_vae_loss_part_f64(enc, dec, we, wd, 3, B, x, eps, beta, gs, gs + ne, scratch, &r0, &k0);
    double L1 = nm_vae_loss_part_f64(enc, dec, we, wd, 4, B, x + 3 * de, eps + 3 * D, beta, gs, gs + ne,
                                     scratch, &r1, &k1);
    CHECK_CLOSE(L0 + L1, Lw, 1e-13, 0);
    CHECK_CLOSE(r0 + r1, rw, 1e-13, 0);
    CHECK_CLOSE(k0 + k1, kw, 1e-13, 0);
    /* A shard's share is not the whole batch's (the weights matter). */
    CHECK(fabs(L0 - Lw) > 1e-3 * Lw);
    double gmax = 0, dmax = 0;
    for (size_t i = 0; i < ne + nd; i++) {
        if (fabs(gw[i]) > gmax) gmax = fabs(gw[i]);
        if (fabs(gs[i] - gw[i]) > dmax) dmax = fabs(gs[i] - gw[i]);
    }
    CHECK_MSG(gmax > 0 && dmax <= 1e-13 * gmax, "gradient of the shards off by %g (max %g)", dmax, gmax);
    /* Bnorm = B: the whole-batch function, bit for bit. */
    memset(gs, 0, (ne + nd) * sizeof *gs);
    double Lp = nm_vae_loss_part_f64(enc, dec, we, wd, B, B, x, eps, beta, gs, gs + ne, scratch, NULL, NULL);
    CHECK(Lp == Lw && !memcmp(gs, gw, (ne + nd) * sizeof *gs));
    /* A shard larger than its batch is refused. */
    CHECK(isnan(nm_vae_loss_part_f64(enc, dec, we, wd, 5, 4, x, eps, beta, NULL, NULL, scratch, NULL, NULL)));
    free(gw);
    free(gs);
    free(scratch);
    nm_mlp_ws_free_f64(we);
    nm_mlp_ws_free_f64(wd);
    nm_mlp_free_f64(enc);
    nm_mlp_free_f64(dec);
}

static void test_bad_threads(void)
{
    nm_series *s1 = wave(1500, 23.7, 0.0), *s2 = wave(1500, 31.1, 1.0);
    const nm_series *list[2] = {s1, s2};
    curve c;
    nm_vae_opts o;
    opts(&o, -1, &c);
    nm_vae *v = NULL;
    CHECK_FAILS(nm_vae_train(list, 2, &o, &v, NULL), NM_EINVAL, "threads must be in 0..1024");
    o.threads = NM_VAE_MAX_THREADS + 1;
    CHECK_FAILS(nm_vae_train(list, 2, &o, &v, NULL), NM_EINVAL, "got 1025");
    CHECK(v == NULL);
    nm_series_free(s1);
    nm_series_free(s2);
}

int main(void)
{
    NM_RUN(test_threads_same_bits);
    NM_RUN(test_blas_threads_no_effect);
    NM_RUN(test_shard_sums);
    NM_RUN(test_bad_threads);
    return nm_test_report();
}
