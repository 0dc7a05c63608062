/* vae.c -- the variational autoencoder on delay vectors: training, encoding,
 * decoding and its model-file entries (public API in include/neuromap.h,
 * internals in vae.h, the choice of D in vae_scan.c, notes in docs/vae.md). */
#define _POSIX_C_SOURCE 200809L
#include "learn/vae.h"

#include "internal.h"
#include "learn/embed.h"
#include "rng.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* The loss, in both precisions (vae_loss_body.h)                            */
/* ------------------------------------------------------------------------ */

#define VL_R float
#define VL(name) nm_##name
#define VL_FN nm_vae_loss_rows
#define VL_PART nm_vae_loss_part
#include "learn/vae_loss_body.h"
#undef VL_R
#undef VL
#undef VL_FN
#undef VL_PART

#define VL_R double
#define VL(name) nm_##name##_f64
#define VL_FN nm_vae_loss_rows_f64
#define VL_PART nm_vae_loss_part_f64
#include "learn/vae_loss_body.h"
#undef VL_R
#undef VL
#undef VL_FN
#undef VL_PART

size_t nm_vae_loss_scratch(size_t B, size_t de, size_t dim) { return B * (de + 4 * dim); }

/* ------------------------------------------------------------------------ */
/* Object                                                                    */
/* ------------------------------------------------------------------------ */

/* Rows per forward pass when encoding or evaluating whole data sets: large
 * enough that sgemm runs at full speed, small enough to stay in cache-sized
 * workspaces (1024 rows x 128 floats = 512 KiB per layer). */
#define VAE_CHUNK 1024

/* Distinct seeds for the fixed noise of the evaluation passes, derived from
 * the training seed so that evaluation never consumes the training stream. */
#define VAE_SEED_VAL 0x5641452d56414cULL   /* "VAE-VAL" */
#define VAE_SEED_TRAIN 0x5641452d54524eULL /* "VAE-TRN" */

/* Sampling steps count as equal within this relative difference: the same
 * tolerance the series reader allows for a uniform time column. */
#define VAE_DT_RTOL 1e-3

void nm_vae_opts_default(nm_vae_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    /* The reference experiment (design.md section 7): De 32, 32-128-128-D
     * tanh, beta 1e-3, D = 3 on SRK data. */
    o->de = 32;
    o->latent_dim = 3;
    o->hidden[0] = 128;
    o->hidden[1] = 128;
    o->nhidden = 2;
    o->beta = 1e-3;
    o->epochs = 100;
    o->batch = 256;
    o->lr = 1e-3;
    o->val_frac = 0.1;
    o->patience = 10;
    o->seed = 1;
}

void nm_vae_free(nm_vae *vae)
{
    if (!vae) return;
    nm_mlp_free(vae->enc);
    nm_mlp_free(vae->dec);
    free(vae->params);
    free(vae->grads);
    free(vae);
}

size_t nm_vae_latent_dim(const nm_vae *vae) { return vae ? vae->dim : 0; }
size_t nm_vae_embedding_len(const nm_vae *vae) { return vae ? vae->de : 0; }
double nm_vae_dt_ms(const nm_vae *vae) { return vae ? vae->dt_ms : NAN; }

/* Layer widths and activations of the encoder and the decoder. */
static void vae_shapes(size_t de, size_t dim, size_t nh, const size_t *hidden, nm_act act,
                       size_t *esz, nm_act *eact, size_t *dsz, nm_act *dact)
{
    esz[0] = de;
    dsz[0] = dim;
    for (size_t l = 0; l < nh; l++) {
        esz[l + 1] = hidden[l];
        dsz[l + 1] = hidden[nh - 1 - l];
        eact[l] = act;
        dact[l] = act;
    }
    esz[nh + 1] = 2 * dim;
    dsz[nh + 1] = de;
    eact[nh] = NM_ACT_IDENTITY;
    dact[nh] = NM_ACT_IDENTITY;
}

nm_status nm_vae_alloc(size_t de, size_t dim, size_t nhidden, const size_t *hidden, nm_act act,
                       nm_vae **out)
{
    if (!out) return nm_fail(NM_EINVAL, "vae: NULL output");
    *out = NULL;
    if (de < 1) return nm_fail(NM_EINVAL, "vae: De must be >= 1 (got %zu)", de);
    if (dim < 1 || dim > NM_VAE_MAX_LATENT)
        return nm_fail(NM_EINVAL, "vae: latent dimension must be in 1..%d (got %zu)",
                       NM_VAE_MAX_LATENT, dim);
    if (nhidden < 1 || nhidden > NM_VAE_MAX_HIDDEN || !hidden)
        return nm_fail(NM_EINVAL, "vae: 1..%d hidden layers are needed (got %zu)",
                       NM_VAE_MAX_HIDDEN, nhidden);
    for (size_t l = 0; l < nhidden; l++)
        if (hidden[l] < 1) return nm_fail(NM_EINVAL, "vae: hidden layer %zu has width 0", l + 1);
    if (!nm_act_name(act)) return nm_fail(NM_EINVAL, "vae: unknown activation %d", (int)act);

    size_t esz[NM_VAE_MAX_HIDDEN + 2], dsz[NM_VAE_MAX_HIDDEN + 2];
    nm_act eact[NM_VAE_MAX_HIDDEN + 1], dact[NM_VAE_MAX_HIDDEN + 1];
    vae_shapes(de, dim, nhidden, hidden, act, esz, eact, dsz, dact);
    const size_t ne = nm_mlp_count_params(nhidden + 1, esz);
    const size_t nd = nm_mlp_count_params(nhidden + 1, dsz);
    if (ne == 0 || nd == 0) return nm_fail(NM_EINVAL, "vae: bad layer sizes");

    nm_vae *v = nm_calloc(1, sizeof *v);
    if (!v) return NM_ENOMEM;
    v->de = de;
    v->dim = dim;
    v->v_mean = 0;
    v->v_std = 1;
    v->dt_ms = 1;
    v->nhidden = nhidden;
    for (size_t l = 0; l < nhidden; l++) v->hidden[l] = hidden[l];
    v->act = act;
    v->nparams = ne + nd;
    v->params = nm_calloc(v->nparams, sizeof *v->params);
    v->grads = nm_calloc(v->nparams, sizeof *v->grads);
    if (!v->params || !v->grads) {
        nm_vae_free(v);
        return NM_ENOMEM;
    }
    v->enc = nm_mlp_alloc_view(nhidden + 1, esz, eact, v->params, v->grads);
    v->dec = nm_mlp_alloc_view(nhidden + 1, dsz, dact, v->params + ne, v->grads + ne);
    if (!v->enc || !v->dec) {
        nm_vae_free(v);
        return NM_ENOMEM;
    }
    *out = v;
    return NM_OK;
}

/* ------------------------------------------------------------------------ */
/* Encoding and decoding                                                     */
/* ------------------------------------------------------------------------ */

nm_status nm_vae_encode_rows(const nm_vae *vae, nm_mlp_ws *ws, size_t B, const float *x,
                             double *mu)
{
    if (!vae || !ws || (B > 0 && (!x || !mu))) return nm_fail(NM_EINVAL, "vae encode: NULL argument");
    const size_t de = vae->de, D = vae->dim;
    for (size_t r0 = 0; r0 < B; r0 += ws->max_batch) {
        size_t n = B - r0 < ws->max_batch ? B - r0 : ws->max_batch;
        nm_status st = nm_mlp_forward(vae->enc, ws, n, x + r0 * de, NULL);
        if (st) return st;
        const float *h = nm_mlp_ws_output(ws);
        for (size_t r = 0; r < n; r++)
            for (size_t j = 0; j < D; j++) mu[(r0 + r) * D + j] = h[r * 2 * D + j];
    }
    return NM_OK;
}

nm_status nm_vae_decode_v_rows(const nm_vae *vae, nm_mlp_ws *ws, size_t B, const float *z,
                               double *v)
{
    if (!vae || !ws || (B > 0 && (!z || !v))) return nm_fail(NM_EINVAL, "vae decode: NULL argument");
    const size_t de = vae->de, D = vae->dim;
    for (size_t r0 = 0; r0 < B; r0 += ws->max_batch) {
        size_t n = B - r0 < ws->max_batch ? B - r0 : ws->max_batch;
        nm_status st = nm_mlp_forward(vae->dec, ws, n, z + r0 * D, NULL);
        if (st) return st;
        const float *r = nm_mlp_ws_output(ws);
        for (size_t b = 0; b < n; b++) v[r0 + b] = nm_vae_denorm(vae, r[b * de]);
    }
    return NM_OK;
}

nm_status nm_vae_encode(const nm_vae *vae, const nm_series *s, double **mu, size_t *rows)
{
    if (!vae || !s || !mu || !rows) return nm_fail(NM_EINVAL, "vae encode: NULL argument");
    *mu = NULL;
    *rows = 0;
    if (!(fabs(s->dt_ms - vae->dt_ms) <= VAE_DT_RTOL * vae->dt_ms))
        return nm_fail(NM_EDATA,
                       "vae encode: the series is sampled every %g ms, the model was trained at "
                       "%g ms (one delay is one sample)",
                       s->dt_ms, vae->dt_ms);
    const nm_series *list[1] = {s};
    nm_embed *e = NULL;
    nm_status st = nm_embed_build(list, 1, vae->de, vae->v_mean, vae->v_std, &e);
    if (st) return nm_fail_prefix(st, "vae encode");
    nm_mlp_ws *ws = nm_mlp_ws_alloc(vae->enc, e->rows < VAE_CHUNK ? e->rows : VAE_CHUNK);
    double *m = nm_malloc(e->rows * vae->dim * sizeof *m);
    if (!ws || !m) st = NM_ENOMEM;
    if (!st) st = nm_vae_encode_rows(vae, ws, e->rows, e->x, m);
    if (!st) {
        *mu = m;
        *rows = e->rows;
        m = NULL;
    }
    free(m);
    nm_mlp_ws_free(ws);
    nm_embed_free(e);
    return st;
}

double nm_vae_decode_v(const nm_vae *vae, const double *z)
{
    if (!vae || !z) {
        nm_fail(NM_EINVAL, "vae decode: NULL argument");
        return NAN;
    }
    float zf[NM_VAE_MAX_LATENT];
    for (size_t j = 0; j < vae->dim; j++) zf[j] = (float)z[j];
    nm_mlp_ws *ws = nm_mlp_ws_alloc(vae->dec, 1);
    if (!ws) return NAN;
    double v = NAN;
    if (nm_vae_decode_v_rows(vae, ws, 1, zf, &v)) v = NAN;
    nm_mlp_ws_free(ws);
    return v;
}

/* ------------------------------------------------------------------------ */
/* Training                                                                  */
/* ------------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Buffers of one thread of a training run. */
typedef struct vae_work {
    size_t cap;          /* rows per pass */
    nm_mlp_ws *ws_enc, *ws_dec;
    float *xb;           /* [cap x De] gathered rows */
    float *scratch;      /* nm_vae_loss_scratch(cap, De, D) */
} vae_work;

/* Safe to call twice: the failure path of work_alloc frees, and so does the
 * caller's cleanup (issue 13: that was a double free). */
static void work_free(vae_work *w)
{
    nm_mlp_ws_free(w->ws_enc);
    nm_mlp_ws_free(w->ws_dec);
    free(w->xb);
    free(w->scratch);
    memset(w, 0, sizeof *w);
}

static nm_status work_alloc(const nm_vae *v, size_t cap, vae_work *w)
{
    memset(w, 0, sizeof *w);
    w->cap = cap;
    w->ws_enc = nm_mlp_ws_alloc(v->enc, cap);
    w->ws_dec = nm_mlp_ws_alloc(v->dec, cap);
    w->xb = nm_malloc(cap * v->de * sizeof *w->xb);
    w->scratch = nm_malloc(nm_vae_loss_scratch(cap, v->de, v->dim) * sizeof *w->scratch);
    if (!w->ws_enc || !w->ws_dec || !w->xb || !w->scratch) {
        work_free(w);
        return NM_ENOMEM;
    }
    return NM_OK;
}

/* ---- data-parallel passes ------------------------------------------------
 * A pass over rows idx[0..n) is cut into PARTS whose number and bounds
 * depend on n alone, never on the thread count: a training step into
 * vae_nshards(B) shards of equal size (each with its own gradient block),
 * an evaluation into chunks of VAE_CHUNK rows.  Threads take parts one at a
 * time from a shared counter (a thread that the system does not schedule
 * holds nobody up: the others take its parts), each with its own
 * workspace; a part's arithmetic is the same whichever thread runs it, and
 * the parts' losses and gradient blocks are summed in part order by the
 * calling thread.  So the trained model is the same bit for bit for every
 * thread count (docs/vae.md, "Threads"). */

/* Rows per shard of a training step at most (a 256-row batch: 2 shards),
 * and the most shards a step is cut into (also the most threads a run
 * uses: one gradient block per shard). */
#define VAE_SHARD_ROWS 128
#define VAE_MAX_SHARDS 8

static size_t vae_nshards(size_t B)
{
    size_t s = (B + VAE_SHARD_ROWS - 1) / VAE_SHARD_ROWS;
    return s < 1 ? 1 : s > VAE_MAX_SHARDS ? VAE_MAX_SHARDS : s;
}

/* First row of part s: equal shares of n rows over S parts (training), or
 * chunks of `chunk` rows (evaluation: chunk > 0). */
static size_t part_start(size_t n, size_t S, size_t chunk, size_t s)
{
    if (chunk) return s * chunk < n ? s * chunk : n;
    return n / S * s + (s < n % S ? s : n % S);
}

typedef struct part_job {
    const nm_vae *v;
    const nm_embed *e;
    const size_t *idx;   /* rows of the pass */
    size_t n;            /* their number */
    size_t nparts;
    size_t chunk;        /* 0: training step (equal shards, means over n); else evaluation
                            chunks of this many rows (means over each chunk) */
    const float *eps;    /* [n x D] noise, row r for idx[r] */
    float **g;           /* [nparts] gradient blocks (training), NULL (evaluation) */
    double *l, *rc, *k;  /* [nparts] loss, recon and KL of each part */
    vae_work *w;         /* [threads] */
} part_job;

/* Part s of the pass on thread t. */
static void part_task(void *ctx, size_t s, size_t t)
{
    part_job *j = ctx;
    vae_work *w = &j->w[t];
    const nm_vae *v = j->v;
    const size_t ne = v->enc->nparams, D = v->dim, de = v->de;
    const size_t r0 = part_start(j->n, j->nparts, j->chunk, s);
    const size_t B = part_start(j->n, j->nparts, j->chunk, s + 1) - r0;
    nm_nn_gather_rows(j->e->x, de, j->idx + r0, B, w->xb);
    float *g = j->g ? j->g[s] : NULL;
    if (g) memset(g, 0, v->nparams * sizeof *g);
    j->l[s] = nm_vae_loss_part(v->enc, v->dec, w->ws_enc, w->ws_dec, B, j->chunk ? B : j->n, w->xb,
                               j->eps + r0 * D, v->beta, g, g ? g + ne : NULL, w->scratch, &j->rc[s],
                               &j->k[s]);
}

/* A fixed team: T - 1 helper threads plus the calling thread (index 0).
 * pool_run(fn, ctx, n) has fn(ctx, item, thread) called once for every
 * item 0..n-1, items taken in order from a counter by whichever thread is
 * free, and returns when all n are done.
 *
 * A helper waiting for the next task spins for VAE_SPIN_S, then sleeps
 * on a condition variable; the caller waits for the helpers' items by
 * spinning, then yielding the core.  Measured on the shared 2-core machine
 * under other people's load (bench_vae, 42.7k-parameter VAE, threads 2 /
 * threads 1): spinning 10 us 1.19-1.39x, 100 us 0.91-1.02x, 1 ms 0.61-1.19x:
 * a spinning helper takes the core from the caller when they share one, so
 * it sleeps almost at once. */
#ifndef VAE_SPIN_S
#define VAE_SPIN_S 1e-5
#endif

typedef void (*vae_task)(void *ctx, size_t item, size_t t);

/* gen is odd while a task is open.  The caller writes the task, opens it
 * (gen += 1), works, waits until every item is finished, closes it
 * (gen += 1) and waits until no helper is inside it; only then may it
 * write the next task.  A helper announces itself (inside += 1) BEFORE it
 * checks that the task it saw is still open, so either the caller's wait
 * sees it or it sees the task closed and stays out. */
typedef struct vae_pool {
    size_t nthreads;     /* team size including the caller (>= 1) */
    size_t started;      /* helpers running (nthreads - 1) */
    pthread_t tid[VAE_MAX_SHARDS];
    pthread_mutex_t lock;
    pthread_cond_t go;
    atomic_ulong gen;    /* task number x 2, + 1 while the task is open */
    atomic_int quit;
    atomic_size_t inside; /* helpers working on (or about to check) the open task */
    vae_task fn;         /* the current task ... */
    void *ctx;
    size_t nitems;
    atomic_size_t next, finished; /* ... the next item to take, the items done */
} vae_pool;

typedef struct pool_arg {
    vae_pool *p;
    size_t t;
} pool_arg;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Take and run items of the current task until none is left. */
static void pool_work(vae_pool *p, size_t t)
{
    const size_t n = p->nitems;
    for (;;) {
        const size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= n) return;
        p->fn(p->ctx, i, t);
        atomic_fetch_add(&p->finished, 1);
    }
}

/* A task this helper has not seen yet is open (or the pool stops). */
static int pool_news(vae_pool *p, unsigned long seen, unsigned long *g)
{
    *g = atomic_load(&p->gen);
    return ((*g & 1) && *g != seen) || atomic_load(&p->quit);
}

static void *pool_helper(void *arg)
{
    const pool_arg *a = arg;
    vae_pool *p = a->p;
    unsigned long seen = 0, g;
    for (;;) {
        /* Spin for a while, then sleep until the next task. */
        const double t0 = now_s();
        for (unsigned k = 1; !pool_news(p, seen, &g); k++) {
            cpu_relax();
            if (k % 256 == 0 && now_s() - t0 > VAE_SPIN_S) {
                pthread_mutex_lock(&p->lock);
                while (!pool_news(p, seen, &g)) pthread_cond_wait(&p->go, &p->lock);
                pthread_mutex_unlock(&p->lock);
                break;
            }
        }
        if (atomic_load(&p->quit)) return NULL;
        atomic_fetch_add(&p->inside, 1);
        if (atomic_load(&p->gen) == g) pool_work(p, a->t);
        atomic_fetch_sub(&p->inside, 1);
        seen = g;
    }
}

/* Start up to T - 1 helpers; if the system refuses a thread the team is
 * smaller (the results do not depend on its size). */
static void pool_start(vae_pool *p, pool_arg *args, size_t T)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->go, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->quit, 0);
    atomic_init(&p->inside, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->finished, 0);
    if (T > VAE_MAX_SHARDS) T = VAE_MAX_SHARDS;
    for (size_t t = 1; t < T; t++) {
        args[t].p = p;
        args[t].t = t;
        if (pthread_create(&p->tid[p->started], NULL, pool_helper, &args[t]) != 0) break;
        p->started++;
    }
    p->nthreads = p->started + 1;
}

/* Spin on a condition another thread will make true soon; after a while
 * give the core away between checks (a helper that the system has taken
 * off the CPU in the middle of an item needs it back to finish). */
#define SPIN_UNTIL(cond)                                                       \
    for (unsigned spin_k_ = 0; !(cond); spin_k_++) {                           \
        if (spin_k_ < 1024)                                                    \
            cpu_relax();                                                       \
        else                                                                   \
            sched_yield();                                                     \
    }

static void pool_run(vae_pool *p, vae_task fn, void *ctx, size_t n)
{
    if (p->started == 0 || n < 2) {
        for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    /* No helper is inside a task (the waits at the end of the previous
     * run), so the fields can be written; opening the task publishes them. */
    p->fn = fn;
    p->ctx = ctx;
    p->nitems = n;
    atomic_store(&p->next, 0);
    atomic_store(&p->finished, 0);
    atomic_fetch_add(&p->gen, 1); /* open */
    pthread_mutex_lock(&p->lock); /* wakes the helpers that went to sleep */
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->lock);
    pool_work(p, 0);
    SPIN_UNTIL(atomic_load(&p->finished) == n);
    atomic_fetch_add(&p->gen, 1); /* closed */
    SPIN_UNTIL(atomic_load(&p->inside) == 0);
}

static void pool_stop(vae_pool *p)
{
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->lock);
    for (size_t t = 0; t < p->started; t++) pthread_join(p->tid[t], NULL);
    pthread_cond_destroy(&p->go);
    pthread_mutex_destroy(&p->lock);
}

/* Loss, recon and KL (means over rows) of the rows idx[0..n) with the fixed
 * noise eps [n x D] (the same noise every epoch, so successive epochs are
 * compared on equal terms), in chunks of VAE_CHUNK rows on the pool. */
static nm_status eval_set(const nm_vae *v, const nm_embed *e, const size_t *idx, size_t n,
                          const float *eps, vae_pool *pool, vae_work *w, double *loss,
                          double *recon, double *kl)
{
    const size_t nc = (n + VAE_CHUNK - 1) / VAE_CHUNK;
    double *res = nm_malloc((3 * nc + 1) * sizeof *res);
    if (!res) return NM_ENOMEM;
    part_job j = {v, e, idx, n, nc, VAE_CHUNK, eps, NULL, res, res + nc, res + 2 * nc, w};
    pool_run(pool, part_task, &j, nc);
    double sl = 0, sr = 0, sk = 0;
    nm_status st = NM_OK;
    for (size_t c = 0; c < nc; c++) {
        const double B = (double)(part_start(n, nc, VAE_CHUNK, c + 1) - c * VAE_CHUNK);
        if (isnan(j.l[c])) st = NM_EINVAL;
        sl += j.l[c] * B;
        sr += j.rc[c] * B;
        sk += j.k[c] * B;
    }
    free(res);
    if (st) return st;
    *loss = n ? sl / (double)n : NAN;
    *recon = n ? sr / (double)n : NAN;
    *kl = n ? sk / (double)n : NAN;
    return NM_OK;
}

/* n * D standard normal draws from a fresh stream seeded with seed: the
 * fixed noise of an evaluation set (row after row, as drawn before the
 * passes were parallel). */
static float *fixed_noise(uint64_t seed, size_t n, size_t D)
{
    float *eps = nm_malloc((n * D + 1) * sizeof *eps);
    if (!eps) return NULL;
    nm_rng r;
    nm_rng_seed(&r, seed);
    nm_nn_gauss_fill(&r, n * D, eps);
    return eps;
}

/* Per-unit KL (nats, mean over rows) and variance of mu_j over all rows of
 * the embedding, into the report; counts the active units. */
static nm_status unit_stats(const nm_vae *v, const nm_embed *e, vae_work *w, nm_vae_report *rep)
{
    const size_t D = v->dim;
    double kl[NM_VAE_MAX_LATENT] = {0}, mean[NM_VAE_MAX_LATENT] = {0},
           m2[NM_VAE_MAX_LATENT] = {0};
    size_t count = 0;
    for (size_t r0 = 0; r0 < e->rows; r0 += w->cap) {
        size_t B = e->rows - r0 < w->cap ? e->rows - r0 : w->cap;
        nm_status st = nm_mlp_forward(v->enc, w->ws_enc, B, e->x + r0 * e->de, NULL);
        if (st) return st;
        const float *h = nm_mlp_ws_output(w->ws_enc);
        nm_nn_kl_gauss(B, D, h, h + D, 2 * D, 1.0, NULL, NULL, kl);
        /* Welford's update, in row order: deterministic and stable. */
        for (size_t b = 0; b < B; b++) {
            count++;
            for (size_t j = 0; j < D; j++) {
                double x = h[b * 2 * D + j], d = x - mean[j];
                mean[j] += d / (double)count;
                m2[j] += d * (x - mean[j]);
            }
        }
    }
    rep->active_units = 0;
    for (size_t j = 0; j < 16; j++) rep->unit_kl[j] = rep->unit_var[j] = 0;
    for (size_t j = 0; j < D; j++) {
        rep->unit_kl[j] = kl[j] / (double)count;
        rep->unit_var[j] = m2[j] / (double)count;
        if (rep->unit_var[j] > NM_ACTIVE_UNIT_VAR) rep->active_units++;
    }
    return NM_OK;
}

static nm_status check_opts(const nm_vae_opts *o)
{
    if (!o) return nm_fail(NM_EINVAL, "vae: NULL options");
    if (o->de < 1) return nm_fail(NM_EINVAL, "vae: De must be >= 1 (got %zu)", o->de);
    if (o->latent_dim < 1 || o->latent_dim > NM_VAE_MAX_LATENT)
        return nm_fail(NM_EINVAL, "vae: latent dimension must be in 1..%d (got %zu)",
                       NM_VAE_MAX_LATENT, o->latent_dim);
    if (o->nhidden < 1 || o->nhidden > NM_VAE_MAX_HIDDEN)
        return nm_fail(NM_EINVAL, "vae: 1..%d hidden layers (got %zu)", NM_VAE_MAX_HIDDEN,
                       o->nhidden);
    for (size_t l = 0; l < o->nhidden; l++)
        if (o->hidden[l] < 1 || o->hidden[l] > NM_VAE_MAX_WIDTH)
            return nm_fail(NM_EINVAL, "vae: hidden layer %zu has width %zu, not in 1..%d", l + 1, o->hidden[l],
                           NM_VAE_MAX_WIDTH);
    if (!(o->beta >= 0 && o->beta <= NM_VAE_MAX_BETA))
        return nm_fail(NM_EINVAL, "vae: beta must be in 0..%g (got %g)", NM_VAE_MAX_BETA, o->beta);
    if (o->epochs < 1) return nm_fail(NM_EINVAL, "vae: epochs must be >= 1");
    if (o->batch < 1 || o->batch > NM_VAE_MAX_BATCH)
        return nm_fail(NM_EINVAL, "vae: batch must be in 1..%d (got %zu)", NM_VAE_MAX_BATCH, o->batch);
    if (!(o->lr > 0) || !isfinite(o->lr))
        return nm_fail(NM_EINVAL, "vae: learning rate must be > 0 (got %g)", o->lr);
    if (o->threads < 0 || o->threads > NM_VAE_MAX_THREADS)
        return nm_fail(NM_EINVAL, "vae: threads must be in 0..%d (0 = every CPU; got %d)",
                       NM_VAE_MAX_THREADS, o->threads);
    if (!(o->val_frac >= 0 && o->val_frac <= 0.5))
        return nm_fail(NM_EINVAL, "vae: validation fraction must be in [0, 0.5] (got %g)",
                       o->val_frac);
    return NM_OK;
}

/* Training and validation rows.  Validation takes the END of each series
 * (val_frac of its rows); the De - 1 rows before it are dropped, so no
 * training vector shares a sample with a validation vector (overlapping
 * neighbours would leak the validation data into training). */
static nm_status split_rows(const nm_embed *e, double val_frac, size_t *tr, size_t *ntr,
                            size_t *va, size_t *nva)
{
    *ntr = *nva = 0;
    for (size_t k = 0; k < e->nseries; k++) {
        size_t first, nr;
        nm_embed_series_rows(e, k, &first, &nr);
        size_t nv = 0, gap = 0;
        if (val_frac > 0) {
            nv = (size_t)llround((double)nr * val_frac);
            if (nv == 0) nv = 1;
            gap = e->de - 1;
        }
        if (nr < nv + gap + 1)
            return nm_fail(NM_EDATA,
                           "vae: series %zu gives %zu delay vectors, too few for a validation "
                           "part of %zu and a gap of %zu (De - 1) with at least one training "
                           "vector",
                           k + 1, nr, nv, gap);
        const size_t nt = nr - nv - gap;
        for (size_t i = 0; i < nt; i++) tr[(*ntr)++] = first + i;
        for (size_t i = 0; i < nv; i++) va[(*nva)++] = first + nr - nv + i;
    }
    return NM_OK;
}

nm_status nm_vae_train(const nm_series *const *series, size_t nseries, const nm_vae_opts *o,
                       nm_vae **out, nm_vae_report *report)
{
    if (!out) return nm_fail(NM_EINVAL, "vae train: NULL output");
    *out = NULL;
    nm_status st = check_opts(o);
    if (st) return st;
    const double t0 = now_s();
    double mean, sd;
    if ((st = nm_embed_stats(series, nseries, &mean, &sd))) return st;
    /* One delay is one sample: every series must share the sampling step. */
    for (size_t k = 0; k < nseries; k++) {
        const double dt = series[k]->dt_ms, dt0 = series[0]->dt_ms;
        if (!(dt > 0) || !isfinite(dt))
            return nm_fail(NM_EDATA, "vae: series %zu has sampling step %g ms", k + 1, dt);
        if (fabs(dt - dt0) > VAE_DT_RTOL * dt0)
            return nm_fail(NM_EDATA,
                           "vae: series %zu is sampled every %g ms but series 1 every %g ms; "
                           "resample them to one step (one delay is one sample)",
                           k + 1, dt, dt0);
    }
    nm_embed *e = NULL;
    if ((st = nm_embed_build(series, nseries, o->de, mean, sd, &e))) return st;

    /* Threads: never more than the shards of a full batch (each shard is
     * computed by one thread); the model does not depend on the count. */
    const size_t S_full = vae_nshards(o->batch);
    size_t T = o->threads > 0 ? (size_t)o->threads : (size_t)nm_cpu_count();
    if (T > S_full) T = S_full;

    nm_vae *v = NULL;
    nm_adam *adam = NULL;
    nm_early_stop *es = NULL;
    vae_work w[VAE_MAX_SHARDS];
    memset(w, 0, sizeof w);
    float *gmem = NULL, *g[VAE_MAX_SHARDS] = {0}, *eps = NULL, *eps_val = NULL, *eps_tr = NULL;
    vae_pool pool;
    pool_arg pargs[VAE_MAX_SHARDS];
    int pool_on = 0;
    /* One BLAS thread for the whole run: our threads do the parallel work,
     * and the bits must not depend on OpenBLAS's own thread count. */
    nm_blas_single_begin();
    size_t *tr = nm_malloc(e->rows * sizeof *tr), *va = nm_malloc(e->rows * sizeof *va);
    size_t ntr = 0, nva = 0;
    if (!tr || !va) {
        st = NM_ENOMEM;
        goto done;
    }
    if ((st = split_rows(e, o->val_frac, tr, &ntr, va, &nva))) goto done;
    if ((st = nm_vae_alloc(o->de, o->latent_dim, o->nhidden, o->hidden, NM_ACT_TANH, &v))) goto done;
    v->v_mean = mean;
    v->v_std = sd;
    v->dt_ms = series[0]->dt_ms;
    v->beta = o->beta;

    /* One stream drives, in this order: encoder init, decoder init, then per
     * epoch the shuffle and the noise of every batch.  Same seed, same
     * stream, same parameters (for every thread count, docs/vae.md). */
    nm_rng rng;
    nm_rng_seed(&rng, o->seed);
    if ((st = nm_mlp_init(v->enc, &rng, NM_INIT_AUTO)) || (st = nm_mlp_init(v->dec, &rng, NM_INIT_AUTO)))
        goto done;
    nm_adam_opts ao;
    nm_adam_opts_default(&ao);
    ao.lr = o->lr;
    adam = nm_adam_alloc(v->nparams, &ao);
    es = nm_early_stop_alloc(v->nparams, o->patience, 0.0);
    /* Gradient blocks: shard 0 writes v->grads, shards 1.. their own. */
    if (S_full > 1) gmem = nm_malloc((S_full - 1) * v->nparams * sizeof *gmem);
    eps = nm_malloc(o->batch * v->dim * sizeof *eps);
    if (nva) eps_val = fixed_noise(o->seed ^ VAE_SEED_VAL, nva, v->dim);
    if (!adam || !es || (S_full > 1 && !gmem) || !eps || (nva && !eps_val)) {
        st = NM_ENOMEM;
        goto done;
    }
    g[0] = v->grads;
    for (size_t s = 1; s < S_full; s++) g[s] = gmem + (s - 1) * v->nparams;
    /* Per thread: a shard of a full batch, or an evaluation chunk. */
    {
        const size_t shard = (o->batch + S_full - 1) / S_full;
        const size_t cap = shard > VAE_CHUNK ? shard : VAE_CHUNK;
        for (size_t t = 0; t < T; t++)
            if ((st = work_alloc(v, cap, &w[t]))) goto done;
    }
    pool_start(&pool, pargs, T);
    pool_on = 1;

    const size_t np = v->nparams;
    double part[3 * VAE_MAX_SHARDS];
    size_t epoch = 0;
    for (epoch = 1; epoch <= o->epochs; epoch++) {
        nm_nn_shuffle(&rng, ntr, tr);
        double sl = 0, sr = 0, sk = 0;
        for (size_t r0 = 0; r0 < ntr; r0 += o->batch) {
            const size_t B = ntr - r0 < o->batch ? ntr - r0 : o->batch, S = vae_nshards(B);
            nm_nn_gauss_fill(&rng, B * v->dim, eps);
            part_job j = {v, e, tr + r0, B, S, 0, eps, g, part, part + S, part + 2 * S, w};
            pool_run(&pool, part_task, &j, S);
            double l = 0, rc = 0, k = 0;
            for (size_t s = 0; s < S; s++) {
                l += j.l[s];
                rc += j.rc[s];
                k += j.k[s];
            }
            /* The minibatch's gradient: the shards' blocks in shard order. */
            for (size_t s = 1; s < S; s++) {
                float *restrict a = g[0];
                const float *restrict b = g[s];
                for (size_t i = 0; i < np; i++) a[i] += b[i];
            }
            if (!isfinite(l)) {
                st = nm_fail(NM_ENUMERIC, "vae: the loss became %g in epoch %zu (lower --lr?)", l, epoch);
                goto done;
            }
            if ((st = nm_adam_step(adam, v->params, v->grads, NULL))) {
                nm_fail_prefix(st, "vae: epoch %zu", epoch);
                goto done;
            }
            sl += l * (double)B;
            sr += rc * (double)B;
            sk += k * (double)B;
        }
        const double tl = sl / (double)ntr;
        double vl = tl, vr, vk;
        if (nva && (st = eval_set(v, e, va, nva, eps_val, &pool, w, &vl, &vr, &vk))) goto done;
        int stop = nm_early_stop_update(es, vl, v->params);
        if (o->progress) {
            nm_train_progress p = {0};
            p.stage = "vae";
            p.epoch = epoch;
            p.epochs = o->epochs;
            p.loss = tl;
            p.val_loss = vl;
            p.recon = sr / (double)ntr;
            p.kl = sk / (double)ntr;
            p.seconds = now_s() - t0;
            if (o->progress(&p, o->progress_ctx)) stop = 1;
        }
        if (stop) break;
    }
    if (epoch > o->epochs) epoch = o->epochs;
    if ((st = nm_early_stop_restore(es, v->params))) goto done;

    /* Final report, with the restored (best) parameters and fixed noise. */
    nm_vae_report rep;
    memset(&rep, 0, sizeof rep);
    rep.epochs_run = epoch;
    if (!(eps_tr = fixed_noise(o->seed ^ VAE_SEED_TRAIN, ntr, v->dim))) {
        st = NM_ENOMEM;
        goto done;
    }
    if ((st = eval_set(v, e, tr, ntr, eps_tr, &pool, w, &rep.loss, &rep.recon, &rep.kl)))
        goto done;
    if (nva) {
        double vk;
        if ((st = eval_set(v, e, va, nva, eps_val, &pool, w, &rep.val_loss, &rep.val_recon, &vk)))
            goto done;
    } else {
        rep.val_loss = rep.loss;
        rep.val_recon = rep.recon;
    }
    if ((st = unit_stats(v, e, &w[0], &rep))) goto done;
    v->report = rep;
    if (report) *report = rep;
    memset(v->grads, 0, v->nparams * sizeof *v->grads);
    *out = v;
    v = NULL;
done:
    if (pool_on) pool_stop(&pool);
    nm_blas_single_end();
    for (size_t t = 0; t < VAE_MAX_SHARDS; t++) work_free(&w[t]);
    free(gmem);
    free(eps);
    free(eps_val);
    free(eps_tr);
    nm_early_stop_free(es);
    nm_adam_free(adam);
    nm_vae_free(v);
    free(tr);
    free(va);
    nm_embed_free(e);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Model file                                                                */
/* ------------------------------------------------------------------------ */

/* Entry names (docs/vae.md lists them with their meaning). */
#define E_MEAN "norm.v_mean"
#define E_STD "norm.v_std"
#define E_DE "embed.de"
#define E_DT "embed.dt_ms"
#define E_D "vae.D"
#define E_HIDDEN "vae.hidden"
#define E_ENC_SIZES "vae.enc.sizes"
#define E_ENC_ACTS "vae.enc.acts"
#define E_ENC_PARAMS "vae.enc.params"
#define E_DEC_SIZES "vae.dec.sizes"
#define E_DEC_ACTS "vae.dec.acts"
#define E_DEC_PARAMS "vae.dec.params"
#define E_BETA "vae.beta"
#define E_EPOCHS "vae.epochs_run"
#define E_LOSSES "vae.losses"     /* f64 [5]: loss, val_loss, recon, val_recon, kl */
#define E_UNIT_KL "vae.unit_kl"
#define E_UNIT_VAR "vae.unit_var"
#define E_ACTIVE "vae.active_units"

static nm_status add_net(nm_mf *mf, const nm_mlp *m, const char *sizes_name,
                         const char *acts_name, const char *params_name)
{
    int32_t sz[NM_VAE_MAX_HIDDEN + 2], act[NM_VAE_MAX_HIDDEN + 1];
    sz[0] = (int32_t)m->layer[0].in;
    for (size_t l = 0; l < m->nlayers; l++) {
        sz[l + 1] = (int32_t)m->layer[l].out;
        act[l] = (int32_t)m->layer[l].act;
    }
    nm_status st;
    if ((st = nm_mf_add_i32(mf, sizes_name, sz, m->nlayers + 1))) return st;
    if ((st = nm_mf_add_i32(mf, acts_name, act, m->nlayers))) return st;
    return nm_mf_add_f32(mf, params_name, m->params, m->nparams);
}

nm_status nm_vae_to_mf(const nm_vae *vae, nm_mf *mf)
{
    if (!vae || !mf) return nm_fail(NM_EINVAL, "vae to model file: NULL argument");
    if (vae->de > INT32_MAX || vae->hidden[0] > INT32_MAX)
        return nm_fail(NM_EINVAL, "vae to model file: sizes do not fit in 32 bits");
    /* Replace whatever VAE the container held: the sections are ours. */
    nm_mf_remove_section(mf, "norm");
    nm_mf_remove_section(mf, "embed");
    nm_mf_remove_section(mf, "vae");
    const nm_vae_report *r = &vae->report;
    int32_t hid[NM_VAE_MAX_HIDDEN];
    for (size_t l = 0; l < vae->nhidden; l++) hid[l] = (int32_t)vae->hidden[l];
    const double losses[5] = {r->loss, r->val_loss, r->recon, r->val_recon, r->kl};
    nm_status st;
    if ((st = nm_mf_add_scalar_f64(mf, E_MEAN, vae->v_mean)) ||
        (st = nm_mf_add_scalar_f64(mf, E_STD, vae->v_std)) ||
        (st = nm_mf_add_scalar_i32(mf, E_DE, (int32_t)vae->de)) ||
        (st = nm_mf_add_scalar_f64(mf, E_DT, vae->dt_ms)) ||
        (st = nm_mf_add_scalar_i32(mf, E_D, (int32_t)vae->dim)) ||
        (st = nm_mf_add_i32(mf, E_HIDDEN, hid, vae->nhidden)) ||
        (st = add_net(mf, vae->enc, E_ENC_SIZES, E_ENC_ACTS, E_ENC_PARAMS)) ||
        (st = add_net(mf, vae->dec, E_DEC_SIZES, E_DEC_ACTS, E_DEC_PARAMS)) ||
        (st = nm_mf_add_scalar_f64(mf, E_BETA, vae->beta)) ||
        (st = nm_mf_add_scalar_i32(mf, E_EPOCHS, (int32_t)r->epochs_run)) ||
        (st = nm_mf_add_f64(mf, E_LOSSES, losses, 5)) ||
        (st = nm_mf_add_f64(mf, E_UNIT_KL, r->unit_kl, vae->dim)) ||
        (st = nm_mf_add_f64(mf, E_UNIT_VAR, r->unit_var, vae->dim)) ||
        (st = nm_mf_add_scalar_i32(mf, E_ACTIVE, (int32_t)r->active_units)))
        return nm_fail_prefix(st, "vae to model file");
    return NM_OK;
}

/* A positive int32 scalar within [lo, hi]. */
static nm_status get_size(const nm_mf *mf, const char *name, size_t lo, size_t hi, size_t *out)
{
    int32_t x;
    nm_status st = nm_mf_get_scalar_i32(mf, name, &x);
    if (st) return st;
    if (x < 0 || (size_t)x < lo || (size_t)x > hi)
        return nm_fail(NM_EFORMAT, "model entry '%s' = %d is out of range [%zu, %zu]", name,
                       (int)x, lo, hi);
    *out = (size_t)x;
    return NM_OK;
}

/* Check a stored network against the widths and activations it must have
 * and copy its parameters into m. */
static nm_status load_net(const nm_mf *mf, nm_mlp *m, const char *sizes_name,
                          const char *acts_name, const char *params_name)
{
    const int32_t *sz, *act;
    const float *p;
    nm_status st;
    if ((st = nm_mf_get_i32(mf, sizes_name, m->nlayers + 1, &sz, NULL))) return st;
    if ((st = nm_mf_get_i32(mf, acts_name, m->nlayers, &act, NULL))) return st;
    for (size_t l = 0; l <= m->nlayers; l++) {
        size_t want = l == 0 ? m->layer[0].in : m->layer[l - 1].out;
        if (sz[l] < 0 || (size_t)sz[l] != want)
            return nm_fail(NM_EFORMAT,
                           "model entry '%s': layer size %zu is %d, but De, D and vae.hidden "
                           "require %zu",
                           sizes_name, l, (int)sz[l], want);
    }
    for (size_t l = 0; l < m->nlayers; l++)
        if (act[l] != (int32_t)m->layer[l].act)
            return nm_fail(NM_EFORMAT, "model entry '%s': activation %zu is %d, expected %d (%s)",
                           acts_name, l, (int)act[l], (int)m->layer[l].act,
                           nm_act_name(m->layer[l].act));
    if ((st = nm_mf_get_f32(mf, params_name, m->nparams, &p, NULL))) return st;
    memcpy(m->params, p, m->nparams * sizeof *p);
    return NM_OK;
}

nm_status nm_vae_from_mf(const nm_mf *mf, nm_vae **out)
{
    if (!mf || !out) return nm_fail(NM_EINVAL, "vae from model file: NULL argument");
    *out = NULL;
    size_t de = 0, D = 0, nh = 0;
    const int32_t *hid, *eacts;
    nm_status st;
    /* Largest De accepted: a delay window of 2^20 samples is far beyond any
     * sensible use and keeps every size product far from overflow. */
    if ((st = get_size(mf, E_DE, 1, (size_t)1 << 20, &de)) ||
        (st = get_size(mf, E_D, 1, NM_VAE_MAX_LATENT, &D)) ||
        (st = nm_mf_get_i32(mf, E_HIDDEN, NM_MF_ANY, &hid, &nh)))
        return st;
    if (nh < 1 || nh > NM_VAE_MAX_HIDDEN)
        return nm_fail(NM_EFORMAT, "model entry '%s' has %zu layers, expected 1..%d", E_HIDDEN, nh,
                       NM_VAE_MAX_HIDDEN);
    size_t hidden[NM_VAE_MAX_HIDDEN];
    for (size_t l = 0; l < nh; l++) {
        if (hid[l] < 1 || hid[l] > (1 << 16))
            return nm_fail(NM_EFORMAT, "model entry '%s': width %d out of range [1, 65536]",
                           E_HIDDEN, (int)hid[l]);
        hidden[l] = (size_t)hid[l];
    }
    /* The hidden activation is read from the encoder's first layer; load_net
     * then requires it on every hidden layer of both networks. */
    if ((st = nm_mf_get_i32(mf, E_ENC_ACTS, nh + 1, &eacts, NULL))) return st;
    if (eacts[0] < 0 || eacts[0] >= NM_ACT_COUNT)
        return nm_fail(NM_EFORMAT, "model entry '%s': unknown activation %d", E_ENC_ACTS,
                       (int)eacts[0]);
    double mean, sd, beta, dt;
    if ((st = nm_mf_get_scalar_f64(mf, E_MEAN, &mean)) || (st = nm_mf_get_scalar_f64(mf, E_STD, &sd)) ||
        (st = nm_mf_get_scalar_f64(mf, E_DT, &dt)) || (st = nm_mf_get_scalar_f64(mf, E_BETA, &beta)))
        return st;
    if (!(sd > 0)) return nm_fail(NM_EFORMAT, "model entry '%s' = %g must be > 0", E_STD, sd);
    if (!(dt > 0)) return nm_fail(NM_EFORMAT, "model entry '%s' = %g must be > 0", E_DT, dt);
    if (!(beta >= 0)) return nm_fail(NM_EFORMAT, "model entry '%s' = %g must be >= 0", E_BETA, beta);

    nm_vae *v = NULL;
    if ((st = nm_vae_alloc(de, D, nh, hidden, (nm_act)eacts[0], &v))) return st;
    v->v_mean = mean;
    v->v_std = sd;
    v->dt_ms = dt;
    v->beta = beta;
    const double *losses, *ukl, *uvar;
    size_t epochs = 0, active = 0;
    if ((st = load_net(mf, v->enc, E_ENC_SIZES, E_ENC_ACTS, E_ENC_PARAMS)) ||
        (st = load_net(mf, v->dec, E_DEC_SIZES, E_DEC_ACTS, E_DEC_PARAMS)) ||
        (st = get_size(mf, E_EPOCHS, 0, INT32_MAX, &epochs)) ||
        (st = nm_mf_get_f64(mf, E_LOSSES, 5, &losses, NULL)) ||
        (st = nm_mf_get_f64(mf, E_UNIT_KL, D, &ukl, NULL)) ||
        (st = nm_mf_get_f64(mf, E_UNIT_VAR, D, &uvar, NULL)) ||
        (st = get_size(mf, E_ACTIVE, 0, D, &active))) {
        nm_vae_free(v);
        return st;
    }
    nm_vae_report *r = &v->report;
    r->epochs_run = epochs;
    r->loss = losses[0];
    r->val_loss = losses[1];
    r->recon = losses[2];
    r->val_recon = losses[3];
    r->kl = losses[4];
    for (size_t j = 0; j < D; j++) {
        r->unit_kl[j] = ukl[j];
        r->unit_var[j] = uvar[j];
    }
    r->active_units = active;
    *out = v;
    return NM_OK;
}

void nm_vae_get_report(const nm_vae *vae, nm_vae_report *report)
{
    if (!report) return;
    if (!vae) {
        memset(report, 0, sizeof *report);
        return;
    }
    *report = vae->report;
}
