/* cmd_analyze.c -- `neuromap analyze`: spikes, ISIs and regime of a series. */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *CMD = "analyze";

static void help(void)
{
    printf("Usage: neuromap analyze [OPTIONS] FILE\n"
           "\n"
           "Detect spikes (upward crossings of --threshold, interpolated between samples),\n"
           "summarise the inter-spike intervals and classify the regime of a voltage series:\n"
           "silent, periodic:K (the ISI sequence repeats with K spikes per period), or\n"
           "irregular.  FILE is CSV (V, or t_ms,V_mV) or a 1-D .npy (then give --dt).\n"
           "\n"
           "Options:\n"
           "  --dt MS           sampling step, needed when FILE has no time column\n"
           "  --threshold MV    spike threshold (default -35)\n"
           "  --hysteresis MV   V must fall this far below threshold between spikes (default 2)\n"
           "  --skip MS         ignore the first MS of the series (transient; default 0)\n"
           "  --spikes FILE     also write the spike times (CSV, one column t_ms)\n"
           "  --format F        text (default) or csv (one header line, one row)\n"
           "  -h, --help        this help\n"
           "\n"
           "Example:\n"
           "  neuromap simulate --model srk --p -38 --out v.csv && neuromap analyze v.csv\n");
}

int cmd_analyze(int argc, char **argv)
{
    enum { O_DT = 256, O_THR, O_HYST, O_SKIP, O_SPIKES, O_FORMAT };
    static const struct option opts[] = {
        {"dt", required_argument, 0, O_DT}, {"threshold", required_argument, 0, O_THR},
        {"hysteresis", required_argument, 0, O_HYST}, {"skip", required_argument, 0, O_SKIP},
        {"spikes", required_argument, 0, O_SPIKES}, {"format", required_argument, 0, O_FORMAT},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    double dt = 0, thr = -35, hyst = 2, skip = 0;
    const char *spikes_out = NULL, *format = "text";
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return NM_EXIT_OK;
        case O_DT:
            if (cli_double(CMD, "--dt", optarg, &dt)) return NM_EXIT_USAGE;
            if (!(dt > 0)) return cli_usage_error(CMD, "--dt must be > 0 (got %s)", optarg);
            break;
        case O_THR:
            if (cli_double(CMD, "--threshold", optarg, &thr)) return NM_EXIT_USAGE;
            break;
        case O_HYST:
            if (cli_double(CMD, "--hysteresis", optarg, &hyst)) return NM_EXIT_USAGE;
            if (hyst < 0) return cli_usage_error(CMD, "--hysteresis must be >= 0");
            break;
        case O_SKIP:
            if (cli_double_in(CMD, "--skip", optarg, -NM_SERIES_MAX_ABS_MS, NM_SERIES_MAX_ABS_MS, &skip))
                return NM_EXIT_USAGE;
            if (skip < 0) return cli_usage_error(CMD, "--skip must be >= 0");
            break;
        case O_SPIKES: spikes_out = optarg; break;
        case O_FORMAT: format = optarg; break;
        default: return cli_bad_option(CMD, argc, argv);
        }
    }
    if (strcmp(format, "text") && strcmp(format, "csv"))
        return cli_usage_error(CMD, "--format must be text or csv (got '%s')", format);
    if (optind >= argc) return cli_usage_error(CMD, "missing FILE");
    if (optind + 1 < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
    const char *path = argv[optind];
    int orc = cli_output_check(CMD, spikes_out);
    if (orc) return orc;

    nm_series *s = NULL;
    nm_status st = nm_series_read(path, dt, 0.0, 2, &s);
    if (st) return cli_lib_fail(CMD, st);
    /* Compared as doubles: skip / dt may exceed any size_t. */
    double firstd = ceil(skip / s->dt_ms);
    if (!(firstd < (double)(s->n - 1))) {
        double length = (double)(s->n - 1) * s->dt_ms;
        nm_series_free(s);
        return cli_usage_error(CMD, "--skip %g ms leaves no data (series is %g ms long)", skip, length);
    }
    size_t first = (size_t)firstd;
    size_t n = s->n - first;
    double t0 = s->t0_ms + (double)first * s->dt_ms;
    double duration = (double)(n - 1) * s->dt_ms;
    double *times = NULL;
    size_t ns = 0;
    int rc = NM_EXIT_OK;
    st = nm_spikes_detect_hyst(s->v + first, n, s->dt_ms, t0, thr, hyst, &times, &ns);
    if (st) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    nm_regime r;
    st = nm_regime_classify(times, ns, duration, NULL, &r);
    if (st) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    double vmin = INFINITY, vmax = -INFINITY;
    for (size_t i = first; i < s->n; i++) {
        vmin = fmin(vmin, s->v[i]);
        vmax = fmax(vmax, s->v[i]);
    }
    char reg[32];
    nm_regime_format(&r, reg, sizeof reg);
    if (!strcmp(format, "csv")) {
        printf("file,samples,dt_ms,duration_ms,v_min_mv,v_max_mv,spikes,rate_hz,isi_min_ms,isi_mean_ms,"
               "isi_max_ms,regime,spikes_per_period,period_ms\n");
        printf("%s,%zu,%g,%g,%.4f,%.4f,%zu,%.6g,%.6g,%.6g,%.6g,%s,%d,%.6g\n", path, n, s->dt_ms, duration, vmin,
               vmax, ns, r.rate_hz, r.isi_min_ms, r.isi_mean_ms, r.isi_max_ms, reg, r.spikes_per_period,
               r.period_ms);
    } else {
        printf("file:      %s (%zu samples, dt %g ms, %g ms analysed from t = %g ms)\n", path, n, s->dt_ms,
               duration, t0);
        printf("V range:   %.2f .. %.2f mV\n", vmin, vmax);
        printf("spikes:    %zu (upward crossings of %g mV), rate %.4g Hz\n", ns, thr, r.rate_hz);
        if (ns >= 2)
            printf("ISI:       min %.2f, mean %.2f, max %.2f ms\n", r.isi_min_ms, r.isi_mean_ms, r.isi_max_ms);
        if (r.cls == NM_REGIME_PERIODIC)
            printf("regime:    %s (%d spike%s per period, period %.2f ms)\n", reg, r.spikes_per_period,
                   r.spikes_per_period == 1 ? "" : "s", r.period_ms);
        else
            printf("regime:    %s\n", reg);
    }
    if (spikes_out) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
            rc = cli_fail(CMD, "out of memory");
            goto done;
        }
        fputs("t_ms\n", f);
        for (size_t i = 0; i < ns; i++) fprintf(f, "%.10g\n", times[i]);
        fclose(f);
        st = nm_file_write_atomic(spikes_out, buf, len);
        free(buf);
        if (st) rc = cli_lib_fail(CMD, st);
    }
done:
    free(times);
    nm_series_free(s);
    return rc;
}
