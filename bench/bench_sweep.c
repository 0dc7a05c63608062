/* bench_sweep.c -- time the SRK regime sweep of the design: 65 points
 * VS = -46 .. -30 step 0.25 mV, each 20 s transient + 60 s recorded at 5 ms
 * (80 s of model time per point), default integrator (RK8PD, rtol 1e-8).
 *
 *   bench_sweep [--threads N] [--repeats R] [--table] [--method rk8pd|msbdf]
 *
 * Prints the median wall time of R repeats (default 3, 2 threads) and, with
 * --table, the regime at every point.  The last line is machine-readable:
 *   RESULT seconds=<median> points=65 threads=N
 * bench/lsoda_baseline.py runs this binary and reports the speed ratio
 * against scipy's LSODA. */
#define _POSIX_C_SOURCE 200809L
#include "neuromap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NPOINTS 65
#define MAX_REPEATS 50

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int threads = 2, repeats = 3, table = 0;
    nm_sim_method method = NM_SIM_RK8PD;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (strcmp(argv[i], "--table") == 0)
            table = 1;
        else if (strcmp(argv[i], "--method") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            method = strcmp(m, "msbdf") == 0 ? NM_SIM_MSBDF : NM_SIM_RK8PD;
        } else {
            fprintf(stderr, "usage: %s [--threads N] [--repeats R] [--table] [--method rk8pd|msbdf]\n",
                    argv[0]);
            return 2;
        }
    }
    if (repeats < 1 || repeats > MAX_REPEATS || threads < 0) {
        fprintf(stderr, "bad --repeats or --threads\n");
        return 2;
    }

    nm_model *m = nm_model_alloc(nm_model_srk);
    if (!m) {
        fprintf(stderr, "%s\n", nm_last_error());
        return 1;
    }
    double p[NPOINTS];
    for (int i = 0; i < NPOINTS; i++) p[i] = -46.0 + 0.25 * i;
    nm_sim_opts o;
    nm_sim_opts_default(&o); /* 20 s transient, 60 s, 5 ms */
    o.method = method;
    nm_regime r[NPOINTS];
    double t[MAX_REPEATS];
    for (int k = 0; k < repeats; k++) {
        double t0 = now_s();
        if (nm_sweep(m, p, NPOINTS, &o, NULL, threads, r) != NM_OK) {
            fprintf(stderr, "sweep failed: %s\n", nm_last_error());
            nm_model_free(m);
            return 1;
        }
        t[k] = now_s() - t0;
    }
    double sorted[MAX_REPEATS];
    memcpy(sorted, t, sizeof(double) * (size_t)repeats);
    qsort(sorted, (size_t)repeats, sizeof(double), cmp_double);
    double med = sorted[repeats / 2];

    if (table) {
        printf("  VS (mV)  regime        spikes  period (ms)  ISI min..max (ms)\n");
        for (int i = 0; i < NPOINTS; i++) {
            char buf[32];
            printf("  %7.2f  %-12s  %6zu  %11.1f  %7.1f .. %7.1f\n", p[i], nm_regime_format(&r[i], buf, sizeof buf),
                   r[i].nspikes, r[i].period_ms, r[i].isi_min_ms, r[i].isi_max_ms);
        }
    }
    printf("SRK sweep: %d points x (%.0f s transient + %.0f s recorded), dt %.0f ms, rtol %g, %d thread(s)\n",
           NPOINTS, o.transient_ms / 1000, o.duration_ms / 1000, o.dt_ms, o.rtol, threads);
    printf("runs:");
    for (int k = 0; k < repeats; k++) printf(" %.3f", t[k]);
    printf(" s; median %.3f s = %.2f ms per point (wall)\n", med, 1000 * med / NPOINTS);
    printf("RESULT seconds=%.6f points=%d threads=%d\n", med, NPOINTS, threads);
    nm_model_free(m);
    return 0;
}
