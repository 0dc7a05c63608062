/* bench_learned_batch.c -- the map step of a learned cell (map + decoder)
 * per cell: unbatched (nm_learned_step_u + nm_learned_decode_v, the step a
 * NeuroMapCell takes alone), batched (nm_learned_step_batch, every layer
 * one product with the cells as columns) and the FLOP floor: the networks'
 * multiply-adds at the sgemm rate measured here on the same shapes (every
 * layer of every map member and of the decoder as one cblas_sgemm with the
 * cells as rows), all in one process.
 *
 *   build/bin/bench_learned_batch MODEL.nmap [NCELLS [REPEATS]]   (1000, 5)
 *
 * Prints one line per quantity (us per cell per map step, medians over
 * REPEATS) and the ratios; with --machine a single "key value" line each
 * (bench/bench_neuron.py reads them).  CPU time of this process (one BLAS
 * thread), so other jobs on a shared machine disturb it little.  Not a test. */
#define _POSIX_C_SOURCE 200809L
#include "learn/batch.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Multiply-adds of one application of a network, and the sgemm time of its
 * layers for n rows (seconds, best of 3 calls). */
static double mlp_sgemm_s(const nm_mlp *net, size_t n, float *a, float *c)
{
    double t = 0;
    for (size_t l = 0; l < net->nlayers; l++) {
        const nm_dense *L = &net->layer[l];
        double best = 1e30;
        for (int r = 0; r < 3; r++) {
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)L->out, (int)L->in, 1.0f, a,
                        (int)L->in, net->params + L->w_off, (int)L->in, 0.0f, c, (int)L->out);
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        t += best;
    }
    return t;
}

int main(int argc, char **argv)
{
    int machine = 0;
    int ai = 1;
    if (ai < argc && !strcmp(argv[ai], "--machine")) {
        machine = 1;
        ai++;
    }
    if (ai >= argc) {
        fprintf(stderr, "usage: bench_learned_batch [--machine] MODEL.nmap [NCELLS [REPEATS]]\n");
        return 2;
    }
    const char *path = argv[ai];
    size_t n = ai + 1 < argc ? (size_t)atol(argv[ai + 1]) : 1000;
    size_t reps = ai + 2 < argc ? (size_t)atol(argv[ai + 2]) : 5;
    if (n < 1 || reps < 1 || reps > 100) {
        fprintf(stderr, "bench_learned_batch: NCELLS must be >= 1 and REPEATS 1..100\n");
        return 2;
    }
    nm_learned *m = NULL;
    if (nm_learned_load(path, &m)) {
        fprintf(stderr, "bench_learned_batch: %s\n", nm_last_error());
        return 1;
    }
    const nm_map *map = nm_learned_map_part(m);
    const nm_mlp *dec = nm_learned_dec_v_part(m);
    size_t D = nm_learned_dim(m), nmem = map->nmembers > 1 ? map->nmembers : 1;
    double pmin, pmax, umin, umax;
    nm_learned_p_range(m, &pmin, &pmax);
    nm_learned_input_range(m, &umin, &umax);
    double *x = malloc(n * D * sizeof *x), *xa = malloc(n * D * sizeof *x), *p = malloc(n * sizeof *p);
    double *u = malloc(n * sizeof *u), *v = malloc(n * sizeof *v);
    int *st = malloc(n * sizeof *st);
    for (size_t k = 0; k < n; k++) {
        nm_learned_initial_state(m, x + k * D);
        p[k] = pmin + (pmax - pmin) * (double)k / (double)(n > 1 ? n - 1 : 1);
        u[k] = 0.5 * (umin + umax);
    }
    memcpy(xa, x, n * D * sizeof *x);
    const double *uu = nm_learned_has_input(m) ? u : NULL;
    nm_learned_batch *b = nm_learned_batch_alloc(m);
    size_t steps = 20;
    double tb[100], tu[100], tf[100];
    float *a = calloc(n * 512, sizeof *a), *c = calloc(n * 512, sizeof *c);
    for (size_t r = 0; r < reps; r++) {
        double t0 = now();
        for (size_t s = 0; s < steps; s++) nm_learned_step_batch(m, b, n, p, uu, x, x, v, st);
        tb[r] = (now() - t0) / (double)(steps * n);
        t0 = now();
        for (size_t s = 0; s < steps; s++)
            for (size_t k = 0; k < n; k++) {
                double xn[NM_MAP_MAX_D];
                if (nm_learned_step_u(m, p[k], uu ? u[k] : 0, xa + k * D, xn) == NM_OK) {
                    v[k] = nm_learned_decode_v(m, xn);
                    memcpy(xa + k * D, xn, D * sizeof *xn);
                }
            }
        tu[r] = (now() - t0) / (double)(steps * n);
        double tg = mlp_sgemm_s(dec, n, a, c);
        for (size_t i = 0; i < nmem; i++) tg += mlp_sgemm_s(map->nmembers > 1 ? map->members[i] : map->net, n, a, c);
        tf[r] = tg / (double)n;
    }
    double macs = (double)nm_learned_step_macs(m);
    double mb = median(tb, reps), mu = median(tu, reps), mf = median(tf, reps);
    if (machine) {
        printf("cells %zu\nmacs %.0f\nbatched_us %.4f\nunbatched_us %.4f\nfloor_us %.4f\nsgemm_gflops %.2f\n", n,
               macs, 1e6 * mb, 1e6 * mu, 1e6 * mf, 2 * macs / mf * 1e-9);
    } else {
        printf("%s: %zu cells, %zu map member(s) + decoder, %.0f multiply-adds per cell step\n", path, n, nmem, macs);
        printf("  unbatched step   %8.3f us per cell (%.1f GFLOP/s)\n", 1e6 * mu, 2 * macs / mu * 1e-9);
        printf("  batched step     %8.3f us per cell (%.1f GFLOP/s)\n", 1e6 * mb, 2 * macs / mb * 1e-9);
        printf("  FLOP floor       %8.3f us per cell (sgemm on the same layers: %.1f GFLOP/s)\n", 1e6 * mf,
               2 * macs / mf * 1e-9);
        printf("  batched / floor %.2fx, unbatched / batched %.2fx (medians of %zu)\n", mb / mf, mu / mb, reps);
    }
    free(a);
    free(c);
    free(x);
    free(xa);
    free(p);
    free(u);
    free(v);
    free(st);
    nm_learned_batch_free(b);
    nm_learned_free(m);
    return 0;
}
