/* cmd_sweep.c -- `neuromap sweep`: regimes of a built-in model over a p grid. */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *CMD = "sweep";

/* More grid points than this is surely a typo in --p-step. */
#define SWEEP_MAX_POINTS 100000

static void help(void)
{
    printf("Usage: neuromap sweep --model NAME --p-min A --p-max B --p-step S [OPTIONS]\n"
           "\n"
           "Simulate the model at every control value p = A, A+S, ..., B (from the same\n"
           "initial state, dropping a transient), detect spikes at the model's threshold and\n"
           "classify each regime: silent, periodic:K (K spikes per period) or irregular.\n"
           "Both CPU cores are used; results do not depend on the number of threads.\n"
           "\n"
           "Options:\n"
           "  --model NAME       srk, srk_slow, hh, ml1, ml2 or hr (docs/models.md)\n"
           "  --p-min A --p-max B --p-step S   the grid (B included)\n"
           "  --duration MS      analysed span per point (srk 60000, hh 2000)\n"
           "  --transient MS     dropped first (srk 20000, hh 500)\n"
           "  --dt MS            sampling step (srk 5, hh 0.025)\n"
           "  --param NAME=VAL   set a model parameter (repeatable)\n"
           "  --threads N        worker threads (default 0 = all cores)\n"
           "  --max-k N          longest pattern (spikes per period) looked for (default 12)\n"
           "  --format F         table (default, readable) or csv: p,regime,spikes_per_period,\n"
           "                     period_ms,spikes,rate_hz,isi_min_ms,isi_max_ms\n"
           "  --out FILE         write there (atomically) instead of standard output\n"
           "  --quiet            no timing line on standard error\n"
           "  -h, --help         this help\n"
           "\n"
           "Example:\n"
           "  neuromap sweep --model srk --p-min -46 --p-max -30 --p-step 0.25 --format csv\n");
}

static void print_table(FILE *f, const nm_model *m, const double *p, const nm_regime *r, size_t np)
{
    char reg[32];
    fprintf(f, "%10s  %-12s %8s %12s %7s %9s %11s\n", nm_model_control_name(m), "regime", "spikes/", "period",
            "spikes", "rate", "ISI range");
    fprintf(f, "%10s  %-12s %8s %12s %7s %9s %11s\n", "", "", "period", "(ms)", "", "(Hz)", "(ms)");
    for (size_t i = 0; i < np; i++) {
        nm_regime_format(&r[i], reg, sizeof reg);
        fprintf(f, "%10.4g  %-12s ", p[i], reg);
        if (r[i].cls == NM_REGIME_PERIODIC) fprintf(f, "%8d %12.1f ", r[i].spikes_per_period, r[i].period_ms);
        else fprintf(f, "%8s %12s ", "-", "-");
        fprintf(f, "%7zu %9.3f ", r[i].nspikes, r[i].rate_hz);
        if (r[i].nspikes >= 2) fprintf(f, "%5.0f..%-5.0f\n", r[i].isi_min_ms, r[i].isi_max_ms);
        else fprintf(f, "%11s\n", "-");
    }
    /* Ranges of equal regime: the shape of the bifurcation diagram at a glance. */
    fprintf(f, "\nregime ranges:\n");
    for (size_t i = 0; i < np;) {
        size_t j = i;
        while (j + 1 < np && r[j + 1].cls == r[i].cls && r[j + 1].spikes_per_period == r[i].spikes_per_period)
            j++;
        nm_regime_format(&r[i], reg, sizeof reg);
        fprintf(f, "  %8.4g .. %-8.4g %s\n", p[i], p[j], reg);
        i = j + 1;
    }
}

static void print_csv(FILE *f, const double *p, const nm_regime *r, size_t np)
{
    char reg[32];
    fprintf(f, "p,regime,spikes_per_period,period_ms,spikes,rate_hz,isi_min_ms,isi_max_ms\n");
    for (size_t i = 0; i < np; i++)
        fprintf(f, "%.10g,%s,%d,%.6g,%zu,%.6g,%.6g,%.6g\n", p[i], nm_regime_format(&r[i], reg, sizeof reg),
                r[i].spikes_per_period, r[i].period_ms, r[i].nspikes, r[i].rate_hz, r[i].isi_min_ms,
                r[i].isi_max_ms);
}

int cmd_sweep(int argc, char **argv)
{
    enum { O_MODEL = 256, O_PMIN, O_PMAX, O_PSTEP, O_DUR, O_TRANS, O_DT, O_PARAM, O_THREADS, O_FORMAT, O_OUT,
           O_QUIET, O_MAXK };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"p-min", required_argument, 0, O_PMIN},
        {"p-max", required_argument, 0, O_PMAX}, {"p-step", required_argument, 0, O_PSTEP},
        {"duration", required_argument, 0, O_DUR}, {"transient", required_argument, 0, O_TRANS},
        {"dt", required_argument, 0, O_DT}, {"param", required_argument, 0, O_PARAM},
        {"threads", required_argument, 0, O_THREADS}, {"format", required_argument, 0, O_FORMAT},
        {"out", required_argument, 0, O_OUT}, {"quiet", no_argument, 0, O_QUIET},
        {"max-k", required_argument, 0, O_MAXK}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model_name = NULL, *format = "table", *out = NULL;
    double pmin = NAN, pmax = NAN, pstep = NAN;
    unsigned long long threads = 0, max_k = 0;
    int quiet = 0;
    /* Flags are parsed into `user` (NaN = not given) and laid over the
     * model's own protocol (nm_model_sim_opts_default) once the model is
     * known: HH needs a much finer sampling step than SRK. */
    nm_sim_opts so, user;
    nm_sim_opts_default(&user);
    user.duration_ms = user.dt_ms = user.transient_ms = NAN;
    const char *params[64];
    size_t nparams = 0;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return NM_EXIT_OK;
        case O_MODEL: model_name = optarg; break;
        case O_PMIN:
            if (cli_double(CMD, "--p-min", optarg, &pmin)) return NM_EXIT_USAGE;
            break;
        case O_PMAX:
            if (cli_double(CMD, "--p-max", optarg, &pmax)) return NM_EXIT_USAGE;
            break;
        case O_PSTEP:
            if (cli_double(CMD, "--p-step", optarg, &pstep)) return NM_EXIT_USAGE;
            break;
        case O_DUR:
            if (cli_double_in(CMD, "--duration", optarg, -CLI_MAX_TIME_MS, CLI_MAX_TIME_MS, &user.duration_ms))
                return NM_EXIT_USAGE;
            break;
        case O_TRANS:
            if (cli_double_in(CMD, "--transient", optarg, -CLI_MAX_TIME_MS, CLI_MAX_TIME_MS, &user.transient_ms))
                return NM_EXIT_USAGE;
            break;
        case O_DT:
            if (cli_double(CMD, "--dt", optarg, &user.dt_ms)) return NM_EXIT_USAGE;
            break;
        case O_PARAM:
            if (nparams == sizeof params / sizeof params[0])
                return cli_usage_error(CMD, "too many --param options");
            params[nparams++] = optarg;
            break;
        case O_THREADS:
            if (cli_ulong(CMD, "--threads", optarg, &threads)) return NM_EXIT_USAGE;
            if (threads > 256) return cli_usage_error(CMD, "--threads %llu is too many", threads);
            break;
        case O_FORMAT: format = optarg; break;
        case O_MAXK:
            if (cli_ulong_max(CMD, "--max-k", optarg, 1000, &max_k)) return NM_EXIT_USAGE;
            if (max_k < 1) return cli_usage_error(CMD, "--max-k must be in 1..1000 (got 0)");
            break;
        case O_OUT: out = optarg; break;
        case O_QUIET: quiet = 1; break;
        default: return cli_bad_option(CMD, argc, argv);
        }
    }
    if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!model_name) return cli_usage_error(CMD, "--model is required (srk, srk_slow, hh, ml1, ml2 or hr)");
    if (strcmp(format, "table") && strcmp(format, "csv"))
        return cli_usage_error(CMD, "--format must be table or csv (got '%s')", format);
    size_t np;
    if (cli_grid(CMD, pmin, pmax, pstep, SWEEP_MAX_POINTS, &np)) return NM_EXIT_USAGE;
    int orc = cli_output_check(CMD, out);
    if (orc) return orc;

    const nm_model_type *type = nm_model_type_find(model_name);
    if (!type) return cli_usage_error(CMD, "%s", nm_last_error());
    nm_model *m = nm_model_alloc(type);
    if (!m) return cli_lib_fail(CMD, NM_ENOMEM);
    cli_sim_opts(m, &user, &so);
    int rc = NM_EXIT_OK;
    double *p = malloc(np * sizeof *p);
    nm_regime *r = malloc(np * sizeof *r);
    char *buf = NULL;
    if (!p || !r) {
        rc = cli_fail(CMD, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nparams; i++)
        if (cli_model_param(CMD, m, params[i])) {
            rc = NM_EXIT_USAGE;
            goto done;
        }
    for (size_t i = 0; i < np; i++) p[i] = pmin + (double)i * pstep;
    nm_regime_opts ro;
    nm_regime_opts_default(&ro);
    nm_regime_opts_for_step(&ro, so.dt_ms);
    if (max_k) ro.max_k = (int)max_k;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nm_status st = nm_sweep(m, p, np, &so, &ro, (int)threads, r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "neuromap sweep: %zu points of %g ms (+%g ms transient) in %.2f s\n", np, so.duration_ms,
                so.transient_ms, (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    size_t len = 0;
    FILE *f = out ? open_memstream(&buf, &len) : stdout;
    if (!f) {
        rc = cli_fail(CMD, "out of memory");
        goto done;
    }
    if (!strcmp(format, "csv")) print_csv(f, p, r, np);
    else print_table(f, m, p, r, np);
    if (out) {
        fclose(f);
        st = nm_file_write_atomic(out, buf, len);
        if (st) rc = cli_lib_fail(CMD, st);
    }
done:
    free(buf);
    free(p);
    free(r);
    nm_model_free(m);
    return rc;
}
