/* bench_vae.c -- training throughput of the VAE trainer (nm_vae_train, the
 * real thing: embedding rows, shuffles, gathers, noise, loss, backward, Adam,
 * progress) on 1 and on 2 threads, next to OpenBLAS sgemm doing only the
 * matrix products of the same workload, in the same process.
 *
 *   build/bin/bench_vae [epochs [repeats]]      (default 4 epochs, 3 repeats)
 *
 * Workload (the standard case): SRK data (VS = -38 mV, sampled every
 * 5 ms, 100,031 samples -> exactly 100,000 delay vectors of De = 32),
 * encoder 32-128-128-6 and decoder 3-128-128-32 (tanh), D = 3, beta 1e-3,
 * batch 256, no validation split (every vector trains, so an epoch is
 * 100,000 samples).  Then the same with hidden width 64 (13.2k parameters):
 * the size of the "comparable 13k-parameter VAE" whose mainstream-framework
 * time the issue quotes (0.55 s per 100k-sample epoch on one core).
 *
 * Each repeat trains with threads = 1, then threads = 2 (same seed).  Epoch
 * time = wall time between two successive progress callbacks, epoch 2
 * onwards (epoch 1 also pays for the embedding and the initialisation); a
 * run's time is the median of its epochs, the table shows the median over
 * the repeats (and the process CPU time per epoch next to it).  The two
 * runs of a repeat must give the same parameters bit for bit (checked).
 * OpenBLAS runs on one thread (nm_vae_train makes sure of it).
 *
 * Not a test: prints numbers, asserts only the bit-for-bit identity.
 * Results: docs/vae.md. */
#define _POSIX_C_SOURCE 200809L
#include "learn/vae.h"
#include "nn/nn.h"
#include "rng.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { DE = 32, LAT = 3, BATCH = 256, NVEC = 100000 };
/* The reference: a mainstream framework, one core, a comparable
 * 13k-parameter VAE, 100k samples. */
static const double FRAMEWORK_S_PER_EPOCH = 0.55;

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { MAX_EPOCHS = 64, MAX_REPEATS = 15 };

typedef struct timing {
    double last_cpu, last_wall;
    double cpu[MAX_EPOCHS], wall[MAX_EPOCHS]; /* epochs 2.. */
    size_t n;
} timing;

static int on_epoch(const nm_train_progress *p, void *ctx)
{
    timing *t = ctx;
    double c = cpu_now(), w = wall_now();
    if (p->epoch >= 2 && t->n < MAX_EPOCHS) {
        t->cpu[t->n] = c - t->last_cpu;
        t->wall[t->n] = w - t->last_wall;
        t->n++;
    }
    t->last_cpu = c;
    t->last_wall = w;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *x, size_t n)
{
    qsort(x, n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* GEMM FLOPs of one batch of B rows: forward 2 B in out per layer; backward
 * dW 2 B in out per layer, dX 2 B in out per layer except the encoder's
 * first (its input gradient is never formed). */
static double batch_flops(const nm_mlp *enc, const nm_mlp *dec, size_t B)
{
    double f = 0;
    for (size_t l = 0; l < enc->nlayers; l++)
        f += 2.0 * (double)B * (double)(enc->layer[l].in * enc->layer[l].out) * (l == 0 ? 2 : 3);
    for (size_t l = 0; l < dec->nlayers; l++)
        f += 3 * 2.0 * (double)B * (double)(dec->layer[l].in * dec->layer[l].out);
    return f;
}

/* The sgemm calls of one training batch (same shapes, same transposes),
 * nothing else: the GEMM floor of the workload. */
static void gemm_batch(const nm_mlp *enc, const nm_mlp *dec, int B, float *A, float *C, float *D,
                       float *G)
{
    const nm_mlp *nets[2] = {enc, dec};
    for (int k = 0; k < 2; k++)
        for (size_t l = 0; l < nets[k]->nlayers; l++) {
            const nm_dense *L = &nets[k]->layer[l];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, (int)L->out, (int)L->in, 1.0f, A,
                        (int)L->in, nets[k]->params + L->w_off, (int)L->in, 0.0f, C, (int)L->out);
        }
    for (int k = 1; k >= 0; k--)
        for (size_t l = nets[k]->nlayers; l-- > 0;) {
            const nm_dense *L = &nets[k]->layer[l];
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)L->out, (int)L->in, B, 1.0f, C,
                        (int)L->out, A, (int)L->in, 1.0f, G + L->w_off, (int)L->in);
            if (k == 1 || l > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, (int)L->in, (int)L->out, 1.0f,
                            C, (int)L->out, nets[k]->params + L->w_off, (int)L->in, 0.0f, D, (int)L->in);
        }
}

/* One training run; returns the VAE, median epoch wall and CPU time. */
static nm_vae *train_once(const nm_series *s, size_t hid, size_t epochs, int threads, double *wall,
                          double *cpu)
{
    nm_vae_opts o;
    nm_vae_opts_default(&o);
    o.de = DE;
    o.latent_dim = LAT;
    o.hidden[0] = o.hidden[1] = hid;
    o.nhidden = 2;
    o.batch = BATCH;
    o.epochs = epochs;
    o.patience = epochs;
    o.val_frac = 0;
    o.seed = 1;
    o.threads = threads;
    timing t;
    memset(&t, 0, sizeof t);
    o.progress = on_epoch;
    o.progress_ctx = &t;
    const nm_series *list[1] = {s};
    nm_vae *v = NULL;
    t.last_cpu = cpu_now();
    t.last_wall = wall_now();
    if (nm_vae_train(list, 1, &o, &v, NULL)) {
        fprintf(stderr, "bench_vae: training failed: %s\n", nm_last_error());
        exit(1);
    }
    *wall = median(t.wall, t.n);
    *cpu = median(t.cpu, t.n);
    return v;
}

static void run(const nm_series *s, size_t hid, size_t epochs, size_t repeats)
{
    printf("\nVAE %d-%zu-%zu-%d / %d-%zu-%zu-%d tanh, batch %d, %d vectors an epoch, %zu epochs x %zu "
           "repeats\n",
           DE, hid, hid, 2 * LAT, LAT, hid, hid, DE, BATCH, NVEC, epochs, repeats);
    double w1[MAX_REPEATS], w2[MAX_REPEATS], c1[MAX_REPEATS], c2[MAX_REPEATS], ratio[MAX_REPEATS];
    nm_vae *v = NULL;
    for (size_t r = 0; r < repeats; r++) {
        nm_vae *a = train_once(s, hid, epochs, 1, &w1[r], &c1[r]);
        nm_vae *b = train_once(s, hid, epochs, 2, &w2[r], &c2[r]);
        ratio[r] = w1[r] / w2[r];
        int same = a->nparams == b->nparams && !memcmp(a->params, b->params, a->nparams * sizeof *a->params);
        printf("    repeat %zu: threads 1 %.3f s/epoch (CPU %.3f), threads 2 %.3f s/epoch (CPU %.3f), "
               "ratio %.2f, parameters %s\n",
               r + 1, w1[r], c1[r], w2[r], c2[r], ratio[r], same ? "identical" : "DIFFER");
        if (!same) {
            fprintf(stderr, "bench_vae: threads 1 and 2 gave different parameters\n");
            exit(1);
        }
        nm_vae_free(a);
        if (v) nm_vae_free(v);
        v = b;
    }
    const nm_mlp *enc = v->enc, *dec = v->dec;
    double flops = 0;
    for (size_t r = 0; r < NVEC; r += BATCH) flops += batch_flops(enc, dec, NVEC - r < BATCH ? NVEC - r : BATCH);

    /* The GEMM floor of one core: the same calls for a whole epoch, best of 3. */
    float *A = calloc((size_t)BATCH * hid, sizeof *A), *C = calloc((size_t)BATCH * hid, sizeof *C);
    float *D = calloc((size_t)BATCH * hid, sizeof *D), *G = calloc(v->nparams, sizeof *G);
    for (size_t i = 0; i < (size_t)BATCH * hid; i++) A[i] = C[i] = (float)((i % 13) * 0.01);
    double gbest = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        double c0 = cpu_now();
        for (size_t r = 0; r < NVEC; r += BATCH) {
            int B = (int)(NVEC - r < BATCH ? NVEC - r : BATCH);
            gemm_batch(enc, dec, B, A, C, D, G);
        }
        double dc = cpu_now() - c0;
        if (dc < gbest) gbest = dc;
    }
    /* sgemm on the largest shape alone: 256 x 128 x 128 (hidden-to-hidden). */
    double c0 = cpu_now();
    const int reps = 2000;
    for (int i = 0; i < reps; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, (int)hid, (int)hid, 1.0f, A,
                    (int)hid, enc->params + enc->layer[1].w_off, (int)hid, 0.0f, C, (int)hid);
    double big = 2.0 * BATCH * (double)hid * (double)hid * reps / (cpu_now() - c0) * 1e-9;

    const double t1 = median(w1, repeats), t2 = median(w2, repeats), rr = median(ratio, repeats);
    const double cc1 = median(c1, repeats), cc2 = median(c2, repeats);
    printf("  parameters %zu, GEMM work %.2f GFLOP an epoch\n", v->nparams, flops * 1e-9);
    printf("  threads 1:  %.3f s an epoch (wall; CPU %.3f s), %.0f samples/s, %.1f GFLOP/s\n", t1, cc1,
           NVEC / t1, flops / t1 * 1e-9);
    printf("  threads 2:  %.3f s an epoch (wall; CPU %.3f s), %.0f samples/s, %.1f GFLOP/s\n", t2, cc2,
           NVEC / t2, flops / t2 * 1e-9);
    printf("  speed-up threads 2 / threads 1: %.2fx (median of the repeats' ratios; of the medians %.2fx)\n",
           rr, t1 / t2);
    printf("  sgemm only, one core: %.3f s an epoch, %.1f GFLOP/s (same calls, nothing else)\n", gbest,
           flops / gbest * 1e-9);
    printf("  sgemm %dx%zux%zu alone: %.1f GFLOP/s\n", BATCH, hid, hid, big);
    printf("  threads 1 / one-core GEMM floor: %.2f;  threads 2 / one-core GEMM floor: %.2f\n", t1 / gbest,
           t2 / gbest);
    printf("  framework %.2f s (one core) / threads 2 %.3f s = %.1fx\n", FRAMEWORK_S_PER_EPOCH, t2,
           FRAMEWORK_S_PER_EPOCH / t2);
    free(A);
    free(C);
    free(D);
    free(G);
    nm_vae_free(v);
}

int main(int argc, char **argv)
{
    size_t epochs = argc > 1 ? strtoul(argv[1], NULL, 10) : 4;
    size_t repeats = argc > 2 ? strtoul(argv[2], NULL, 10) : 3;
    if (epochs < 2) epochs = 2;
    if (epochs > MAX_EPOCHS) epochs = MAX_EPOCHS;
    if (repeats < 1) repeats = 1;
    if (repeats > MAX_REPEATS) repeats = MAX_REPEATS;
    openblas_set_num_threads(1);
    printf("bench_vae: OpenBLAS %s, 1 thread inside each of ours (core %s); %d CPUs online\n",
           openblas_get_config(), openblas_get_corename(), (int)sysconf(_SC_NPROCESSORS_ONLN));

    nm_model *m = nm_model_alloc(nm_model_srk);
    nm_sim_opts so;
    nm_sim_opts_default(&so);
    so.dt_ms = 5;
    so.duration_ms = 5.0 * (NVEC + DE - 2); /* floor(duration/dt) + 1 = NVEC + DE - 1 samples */
    nm_series *s = NULL;
    double w0 = wall_now();
    if (!m || nm_model_set_control(m, -38) || nm_simulate(m, &so, &s)) {
        fprintf(stderr, "bench_vae: simulation failed: %s\n", nm_last_error());
        return 1;
    }
    printf("SRK VS = -38 mV, %zu samples at 5 ms (simulated in %.1f s wall)\n", s->n, wall_now() - w0);
    run(s, 128, epochs, repeats);
    run(s, 64, epochs, repeats);
    nm_series_free(s);
    nm_model_free(m);
    return 0;
}
