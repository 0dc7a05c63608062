/* test_nn_train.c -- the engine end to end: fit sin on [-pi, pi] and XOR with
 * Adam and shuffled minibatches; the same seed gives bit-identical weights;
 * validation split, early stopping and the best-params snapshot; the
 * Fisher-Yates shuffle is uniform; Xavier / He initialisation statistics; a trained network is evaluated from
 * several threads at once on the same read-only weights. */
#include "nm_test.h"
#include "nn/nn.h"
#include "rng.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The bar for "learned sin": mean squared error on a dense grid. */
#define SIN_MSE_MAX 1e-3

enum { SIN_N = 256, SIN_BATCH = 32, SIN_HIDDEN = 32, SIN_GRID = 1001 };

static const double PI = 3.14159265358979323846;

typedef struct sin_run {
    nm_mlp *m;
    double grid_mse;    /* on SIN_GRID points over [-pi, pi] */
    double best_val;    /* early stopping: best validation loss */
    size_t epochs;      /* epochs run */
} sin_run;

/* MSE of the network against sin on an evenly spaced grid. */
static double grid_mse(const nm_mlp *m)
{
    nm_mlp_ws *ws = nm_mlp_ws_alloc(m, SIN_GRID);
    float x[SIN_GRID], t[SIN_GRID];
    for (int i = 0; i < SIN_GRID; i++) {
        double u = -1.0 + 2.0 * i / (SIN_GRID - 1);
        x[i] = (float)u;
        t[i] = (float)sin(PI * u);
    }
    CHECK_OK(nm_mlp_forward(m, ws, SIN_GRID, x, NULL));
    double L = nm_nn_mse(SIN_GRID, nm_mlp_ws_output(ws), t, 1.0, NULL);
    nm_mlp_ws_free(ws);
    return L;
}

/* Fit y = sin(pi u), u in [-1, 1] (the input scaled to [-1, 1] as the real
 * pipeline will), 1-32-32-1 tanh, Adam, shuffled minibatches of 32, a random
 * 20% validation split with early stopping, then the best weights restored. */
static sin_run train_sin(uint64_t seed, size_t max_epochs)
{
    sin_run out = {NULL, INFINITY, INFINITY, 0};
    const size_t sizes[4] = {1, SIN_HIDDEN, SIN_HIDDEN, 1};
    const nm_act acts[3] = {NM_ACT_TANH, NM_ACT_TANH, NM_ACT_IDENTITY};
    nm_rng rng;
    nm_rng_seed(&rng, seed);
    nm_mlp *m = nm_mlp_alloc(3, sizes, acts);
    CHECK(m != NULL);
    if (!m) return out;
    CHECK_OK(nm_mlp_init(m, &rng, NM_INIT_AUTO));

    /* Data: SIN_N random points (drawn from the same seed). */
    float X[SIN_N], Y[SIN_N];
    for (int i = 0; i < SIN_N; i++) {
        double u = 2.0 * nm_rng_uniform(&rng) - 1.0;
        X[i] = (float)u;
        Y[i] = (float)sin(PI * u);
    }
    size_t idx[SIN_N], ntrain, nval;
    CHECK_OK(nm_nn_split(SIN_N, 0.2, &rng, idx, &ntrain, &nval));
    CHECK(ntrain + nval == SIN_N && nval == 51);
    float Xv[SIN_N], Yv[SIN_N];
    nm_nn_gather_rows(X, 1, idx + ntrain, nval, Xv);
    nm_nn_gather_rows(Y, 1, idx + ntrain, nval, Yv);
    size_t *order = idx; /* the first ntrain entries: the training set, reshuffled per epoch */

    nm_adam_opts o;
    nm_adam_opts_default(&o);
    o.lr = 1e-2;
    nm_adam *adam = nm_adam_alloc(m->nparams, &o);
    nm_early_stop *es = nm_early_stop_alloc(m->nparams, 50, 0.0);
    nm_mlp_ws *ws = nm_mlp_ws_alloc(m, SIN_BATCH);
    nm_mlp_ws *wv = nm_mlp_ws_alloc(m, nval);
    float xb[SIN_BATCH], yb[SIN_BATCH], dy[SIN_BATCH];
    size_t e = 0;
    for (; e < max_epochs; e++) {
        /* Learning-rate decay over the run: coarse fit first, then polish. */
        adam->o.lr = 1e-2 * pow(0.1, (double)e / (double)max_epochs);
        nm_nn_shuffle(&rng, ntrain, order);
        for (size_t s = 0; s < ntrain; s += SIN_BATCH) {
            size_t B = ntrain - s < SIN_BATCH ? ntrain - s : SIN_BATCH;
            nm_nn_gather_rows(X, 1, order + s, B, xb);
            nm_nn_gather_rows(Y, 1, order + s, B, yb);
            CHECK_OK(nm_mlp_forward(m, ws, B, xb, NULL));
            memset(dy, 0, sizeof dy);
            nm_nn_mse(B, nm_mlp_ws_output(ws), yb, 1.0, dy);
            nm_mlp_zero_grad(m);
            CHECK_OK(nm_mlp_backward(m, ws, dy, NULL, m->grads));
            CHECK_OK(nm_adam_step(adam, m->params, m->grads, NULL));
        }
        CHECK_OK(nm_mlp_forward(m, wv, nval, Xv, NULL));
        double val = nm_nn_mse(nval, nm_mlp_ws_output(wv), Yv, 1.0, NULL);
        if (nm_early_stop_update(es, val, m->params)) {
            e++;
            break;
        }
    }
    CHECK_OK(nm_early_stop_restore(es, m->params));
    /* The restored weights reproduce the best validation loss exactly. */
    CHECK_OK(nm_mlp_forward(m, wv, nval, Xv, NULL));
    CHECK(nm_nn_mse(nval, nm_mlp_ws_output(wv), Yv, 1.0, NULL) == es->best);

    out.m = m;
    out.grid_mse = grid_mse(m);
    out.best_val = es->best;
    out.epochs = e;
    nm_mlp_ws_free(ws);
    nm_mlp_ws_free(wv);
    nm_early_stop_free(es);
    nm_adam_free(adam);
    return out;
}

static void test_fit_sin_and_determinism(void)
{
    const size_t epochs = 400;
    sin_run a = train_sin(42, epochs), b = train_sin(42, epochs), c = train_sin(43, epochs);
    CHECK(a.m && b.m && c.m);
    if (!a.m || !b.m || !c.m) return;
    fprintf(stderr, "  sin fit: grid MSE %.3g (seed 42, %zu epochs), %.3g (seed 43)\n",
            a.grid_mse, a.epochs, c.grid_mse);
    CHECK_MSG(a.grid_mse < SIN_MSE_MAX, "grid MSE %.3g", a.grid_mse);
    CHECK_MSG(c.grid_mse < SIN_MSE_MAX, "grid MSE %.3g (seed 43)", c.grid_mse);
    /* Same seed: bit-identical parameters; another seed: different ones. */
    CHECK(memcmp(a.m->params, b.m->params, a.m->nparams * sizeof(float)) == 0);
    CHECK(a.epochs == b.epochs && a.best_val == b.best_val);
    CHECK(memcmp(a.m->params, c.m->params, a.m->nparams * sizeof(float)) != 0);
    nm_mlp_free(a.m);
    nm_mlp_free(b.m);
    nm_mlp_free(c.m);
}

static void test_xor(void)
{
    /* 2-4-1, tanh / sigmoid, full batch of the 4 cases, MSE. */
    const size_t sizes[3] = {2, 4, 1};
    const nm_act acts[2] = {NM_ACT_TANH, NM_ACT_SIGMOID};
    const float X[8] = {0, 0, 0, 1, 1, 0, 1, 1}, T[4] = {0, 1, 1, 0};
    nm_rng rng;
    nm_rng_seed(&rng, 7);
    nm_mlp *m = nm_mlp_alloc(2, sizes, acts);
    nm_mlp_ws *ws = nm_mlp_ws_alloc(m, 4);
    CHECK_OK(nm_mlp_init(m, &rng, NM_INIT_AUTO));
    nm_adam_opts o;
    nm_adam_opts_default(&o);
    o.lr = 0.05;
    nm_adam *adam = nm_adam_alloc(m->nparams, &o);
    float dy[4];
    double L = 1;
    for (int it = 0; it < 2000; it++) {
        CHECK_OK(nm_mlp_forward(m, ws, 4, X, NULL));
        memset(dy, 0, sizeof dy);
        L = nm_nn_mse(4, nm_mlp_ws_output(ws), T, 1.0, dy);
        nm_mlp_zero_grad(m);
        CHECK_OK(nm_mlp_backward(m, ws, dy, NULL, m->grads));
        CHECK_OK(nm_adam_step(adam, m->params, m->grads, NULL));
    }
    CHECK_MSG(L < 1e-3, "XOR loss %.3g", L);
    /* Single-vector evaluation gives the right truth table. */
    nm_mlp_ws *w1 = nm_mlp_ws_alloc(m, 1);
    for (int i = 0; i < 4; i++) {
        float y;
        CHECK_OK(nm_mlp_forward1(m, w1, X + 2 * i, &y));
        CHECK_CLOSE(y, T[i], 0, 0.1);
    }
    nm_mlp_ws_free(w1);
    nm_mlp_ws_free(ws);
    nm_adam_free(adam);
    nm_mlp_free(m);
}

static void test_split(void)
{
    size_t idx[10], ntr, nv;
    /* No rng: the last 30% in order (a time-ordered validation block). */
    CHECK_OK(nm_nn_split(10, 0.3, NULL, idx, &ntr, &nv));
    CHECK(ntr == 7 && nv == 3);
    for (size_t i = 0; i < 10; i++) CHECK(idx[i] == i);
    /* Random split: a permutation. */
    nm_rng r;
    nm_rng_seed(&r, 3);
    CHECK_OK(nm_nn_split(10, 0.3, &r, idx, &ntr, &nv));
    int seen[10] = {0}, moved = 0;
    for (size_t i = 0; i < 10; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 10; i++) CHECK(seen[i] == 1);
    CHECK(moved > 0);
    /* A tiny positive fraction still leaves one validation sample. */
    CHECK_OK(nm_nn_split(10, 0.01, NULL, idx, &ntr, &nv));
    CHECK(nv == 1 && ntr == 9);
    CHECK_OK(nm_nn_split(10, 0.0, NULL, idx, &ntr, &nv));
    CHECK(nv == 0 && ntr == 10);
    CHECK_FAILS(nm_nn_split(1, 0.5, NULL, idx, &ntr, &nv), NM_EDATA, "too few");
    CHECK_FAILS(nm_nn_split(10, 1.0, NULL, idx, &ntr, &nv), NM_EINVAL, "[0, 1)");
}

static void test_shuffle_uniform(void)
{
    /* All 120 orders of 5 items, 24000 shuffles: chi-square with 119 degrees
     * of freedom has mean 119 and sd 15.4; 200 is 5 sd out.  The classic
     * bug (j drawn from 0..n-1 instead of 0..i) skews this to > 1000. */
    enum { N = 5, PERMS = 120, DRAWS = 24000 };
    int count[PERMS] = {0};
    nm_rng r;
    nm_rng_seed(&r, 2024);
    for (int d = 0; d < DRAWS; d++) {
        size_t p[N];
        nm_nn_iota(N, p);
        nm_nn_shuffle(&r, N, p);
        /* Lehmer code -> index 0..119 */
        int code = 0;
        for (int i = 0; i < N; i++) {
            int smaller = 0;
            for (int j = i + 1; j < N; j++) smaller += p[j] < p[i];
            code = code * (N - i) + smaller;
        }
        count[code]++;
    }
    double chi2 = 0, expect = (double)DRAWS / PERMS;
    for (int k = 0; k < PERMS; k++) chi2 += (count[k] - expect) * (count[k] - expect) / expect;
    CHECK_MSG(chi2 < 200, "shuffle chi-square %.1f over 119 dof", chi2);
}

static void test_early_stop(void)
{
    /* patience 2: losses 5, 4, 4.5, 3, 3.2, 3.1, 3.05 -> best 3 at update 4,
     * updates 5 and 6 are "bad", the 7th (3 bad in a row) says stop. */
    const double loss[7] = {5, 4, 4.5, 3, 3.2, 3.1, 3.05};
    nm_early_stop *es = nm_early_stop_alloc(2, 2, 0.0);
    float p[2], restored[2] = {0, 0};
    CHECK_FAILS(nm_early_stop_restore(es, restored), NM_EINVAL, "no finite loss");
    int stop = 0, stopped_at = 0;
    for (int i = 0; i < 7 && !stop; i++) {
        p[0] = (float)i;
        p[1] = (float)(10 * i);
        stop = nm_early_stop_update(es, loss[i], p);
        if (stop) stopped_at = i + 1;
    }
    CHECK(stopped_at == 7);
    CHECK(es->best == 3 && es->best_epoch == 4);
    CHECK_OK(nm_early_stop_restore(es, restored));
    CHECK(restored[0] == 3 && restored[1] == 30);
    nm_early_stop_free(es);

    /* min_delta: improvements smaller than it do not count; NaN never does. */
    es = nm_early_stop_alloc(1, 1, 0.5);
    float q = 0;
    CHECK(nm_early_stop_update(es, NAN, &q) == 0);
    CHECK(es->best_epoch == 0);
    CHECK(nm_early_stop_update(es, 2.0, &q) == 0);
    CHECK(nm_early_stop_update(es, 1.8, &q) == 0); /* not better by 0.5: bad 1 */
    CHECK(nm_early_stop_update(es, 1.7, &q) == 1); /* bad 2 > patience 1 */
    CHECK(es->best == 2.0 && es->best_epoch == 2);
    nm_early_stop_free(es);
}

/* Weight statistics of every init scheme on a wide layer: variance
 * 2/(in+out) for Xavier, 2/in for He, uniform within +-sqrt(3 var), biases 0;
 * AUTO picks He for relu and Xavier otherwise.  With 60,000 weights the
 * sample variance has a relative standard error of sqrt(2/n) = 0.6%
 * (normal) or less (uniform): 4% is more than 6 standard errors. */
#define INIT_VAR_RTOL 0.04

static void check_init(nm_act act, nm_init scheme, double want_var, int uniform)
{
    const size_t sizes[2] = {200, 300};
    const nm_act acts[1] = {act};
    nm_mlp *m = nm_mlp_alloc(1, sizes, acts);
    nm_rng r;
    nm_rng_seed(&r, 5);
    m->params[m->layer[0].b_off] = 1.0f; /* must be reset */
    CHECK_OK(nm_mlp_init(m, &r, scheme));
    size_t nw = 200 * 300;
    double s = 0, s2 = 0, amax = 0;
    for (size_t i = 0; i < nw; i++) {
        double w = m->params[i];
        s += w;
        s2 += w * w;
        amax = fmax(amax, fabs(w));
    }
    double mean = s / nw, var = s2 / nw - mean * mean;
    CHECK_MSG(fabs(var - want_var) <= INIT_VAR_RTOL * want_var, "init %d: variance %.4g, want %.4g",
              (int)scheme, var, want_var);
    CHECK(fabs(mean) < 5 * sqrt(want_var / nw));
    if (uniform)
        CHECK(amax <= sqrt(3 * want_var) * (1 + 1e-6));
    else
        CHECK(amax > sqrt(3 * want_var)); /* a normal has tails beyond the uniform's edge */
    for (size_t o = 0; o < 300; o++) CHECK(m->params[m->layer[0].b_off + o] == 0.0f);
    nm_mlp_free(m);
}

static void test_init_statistics(void)
{
    const double xavier = 2.0 / 500, he = 2.0 / 200;
    check_init(NM_ACT_TANH, NM_INIT_XAVIER_UNIFORM, xavier, 1);
    check_init(NM_ACT_TANH, NM_INIT_XAVIER_NORMAL, xavier, 0);
    check_init(NM_ACT_RELU, NM_INIT_HE_UNIFORM, he, 1);
    check_init(NM_ACT_RELU, NM_INIT_HE_NORMAL, he, 0);
    check_init(NM_ACT_TANH, NM_INIT_AUTO, xavier, 1);
    check_init(NM_ACT_RELU, NM_INIT_AUTO, he, 0);
    nm_rng r;
    nm_rng_seed(&r, 1);
    const size_t sizes[2] = {2, 2};
    const nm_act acts[1] = {NM_ACT_TANH};
    nm_mlp *m = nm_mlp_alloc(1, sizes, acts);
    CHECK_FAILS(nm_mlp_init(m, &r, (nm_init)9), NM_EINVAL, "unknown scheme");
    nm_mlp_free(m);
}

/* ---- many threads, one read-only network ------------------------------------ */

enum { THREADS = 4, TB = 64, TIN = 4, TOUT = 3, REPS = 50 };

typedef struct thread_job {
    const nm_mlp *m;
    const float *x;          /* [TB x TIN] */
    const float *want;       /* [TB x TOUT] serial result */
    int mismatches;
    nm_status st;
} thread_job;

static void *thread_main(void *p)
{
    thread_job *j = p;
    nm_mlp_ws *ws = nm_mlp_ws_alloc(j->m, TB), *w1 = nm_mlp_ws_alloc(j->m, 1);
    if (!ws || !w1) {
        j->st = NM_ENOMEM;
        return NULL;
    }
    float y[TB * TOUT], y1[TOUT];
    for (int r = 0; r < REPS; r++) {
        /* a batch (sgemm) and single rows (plain loops, with and without a
         * workspace: the same bits) */
        if ((j->st = nm_mlp_forward(j->m, ws, TB, j->x, y)) != NM_OK) break;
        if (memcmp(y, j->want, sizeof y) != 0) j->mismatches++;
        size_t row = (size_t)r % TB;
        float y2[TOUT];
        if ((j->st = nm_mlp_forward1(j->m, w1, j->x + row * TIN, y1)) != NM_OK) break;
        if ((j->st = nm_mlp_apply1(j->m, j->x + row * TIN, y2)) != NM_OK) break;
        if (memcmp(y1, y2, sizeof y1) != 0) j->mismatches++;
    }
    nm_mlp_ws_free(ws);
    nm_mlp_ws_free(w1);
    return NULL;
}

static void test_threads_share_weights(void)
{
    const size_t sizes[4] = {TIN, 128, 128, TOUT};
    const nm_act acts[3] = {NM_ACT_TANH, NM_ACT_TANH, NM_ACT_IDENTITY};
    nm_mlp *m = nm_mlp_alloc(3, sizes, acts);
    nm_rng r;
    nm_rng_seed(&r, 99);
    CHECK_OK(nm_mlp_init(m, &r, NM_INIT_AUTO));
    float x[THREADS][TB * TIN], want[THREADS][TB * TOUT];
    nm_mlp_ws *ws = nm_mlp_ws_alloc(m, TB);
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < TB * TIN; i++) x[t][i] = (float)(2 * nm_rng_uniform(&r) - 1);
        CHECK_OK(nm_mlp_forward(m, ws, TB, x[t], want[t]));
    }
    nm_mlp_ws_free(ws);
    /* The weights are const from here on: the threads only read them. */
    const nm_mlp *shared = m;
    pthread_t th[THREADS];
    thread_job job[THREADS];
    for (int t = 0; t < THREADS; t++) {
        job[t] = (thread_job){shared, x[t], want[t], 0, NM_OK};
        CHECK(pthread_create(&th[t], NULL, thread_main, &job[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK_OK(job[t].st);
        CHECK_MSG(job[t].mismatches == 0, "thread %d: %d results differ from the serial ones", t,
                  job[t].mismatches);
    }
    nm_mlp_free(m);
}

int main(void)
{
    NM_RUN(test_fit_sin_and_determinism);
    NM_RUN(test_xor);
    NM_RUN(test_split);
    NM_RUN(test_shuffle_uniform);
    NM_RUN(test_early_stop);
    NM_RUN(test_init_statistics);
    NM_RUN(test_threads_share_weights);
    return nm_test_report();
}
