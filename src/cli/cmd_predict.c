/* cmd_predict.c -- `neuromap predict`: a learned model under the input
 * recorded in a series, against the recorded V (nm_predict). */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void predict_help(void)
{
    printf("Usage: neuromap predict MODEL --series FILE [OPTIONS]\n"
           "\n"
           "Run a learned model under the input recorded in FILE and compare its V with the\n"
           "recorded V.  The series is resampled to the model's map step; the map starts\n"
           "from the encoder's state of the first De samples and is then driven only by\n"
           "the recorded input (docs/input.md).  Prints\n"
           "  gamma: X (delta D ms)     the spike coincidence factor (Kistler et al. 1997;\n"
           "                            1 = every spike within +-D ms, 0 = chance)\n"
           "and spike counts and rates, first-spike latencies after upward input steps,\n"
           "the sub-threshold V error, and how often the input left the trained range\n"
           "(it is clamped to it).  A model trained without input runs at constant p.\n"
           "\n"
           "Options:\n"
           "  --series FILE     CSV t_ms,V_mV,I_<unit> (docs/input.md), or a 1-D .npy of V\n"
           "                    with --dt and --input\n"
           "  --dt MS           sampling step of files without a time column\n"
           "  --input NPY       the input of a .npy series (1-D, same length) ...\n"
           "  --input-unit U    ... in unit U (nA, pA, uA_cm2, ...)\n"
           "  --p VALUE         control value (default: the centre of the training range)\n"
           "  --delta MS        coincidence window (default 2)\n"
           "  --hysteresis MV   spike re-arm hysteresis (default 2)\n"
           "  --out CSV         write t_ms,V_data_mV,V_model_mV,I_<unit> of the compared span\n"
           "  --plot PNG        draw both traces and the input (/usr/bin/python3, matplotlib)\n"
           "  -h, --help        this help\n"
           "\n"
           "Example:\n"
           "  neuromap predict hh_input.nmap --series heldout.csv --plot heldout.png\n");
}

/* t_ms,V_data_mV,V_model_mV,I_<unit> of the compared span, atomically. */
static int write_trace(const char *cmd, const char *path, const nm_predict_result *r, const char *unit)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return cli_fail(cmd, "out of memory");
    char u[32];
    snprintf(u, sizeof u, "%s", *unit ? unit : "1");
    for (char *c = u; *c; c++)
        if (*c == '/') *c = '_';
    fprintf(f, "t_ms,V_data_mV,V_model_mV,I_%s\n", u);
    for (size_t i = 0; i < r->n; i++)
        fprintf(f, "%.10g,%.9g,%.9g,%.9g\n", r->t0_ms + (double)i * r->dt_ms, r->v_data[i], r->v_model[i], r->u[i]);
    fclose(f);
    nm_status st = nm_file_write_atomic(path, buf, len);
    free(buf);
    return st ? cli_lib_fail(cmd, st) : 0;
}

int cmd_predict(int argc, char **argv)
{
    static const char *CMD = "predict";
    enum { O_SERIES = 256, O_DT, O_INPUT, O_UNIT, O_P, O_DELTA, O_HYST, O_OUT, O_PLOT };
    static const struct option opts[] = {
        {"series", required_argument, 0, O_SERIES}, {"dt", required_argument, 0, O_DT},
        {"input", required_argument, 0, O_INPUT},   {"input-unit", required_argument, 0, O_UNIT},
        {"p", required_argument, 0, O_P},           {"delta", required_argument, 0, O_DELTA},
        {"hysteresis", required_argument, 0, O_HYST}, {"out", required_argument, 0, O_OUT},
        {"plot", required_argument, 0, O_PLOT},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    nm_predict_opts po;
    nm_predict_opts_default(&po);
    const char *series = NULL, *input = NULL, *unit = NULL, *out = NULL, *plot = NULL;
    double dt = 0;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': predict_help(); return NM_EXIT_OK;
        case O_SERIES: series = optarg; break;
        case O_DT:
            if (cli_double_in(CMD, "--dt", optarg, 1e-6, CLI_MAX_TIME_MS, &dt)) return NM_EXIT_USAGE;
            break;
        case O_INPUT: input = optarg; break;
        case O_UNIT: unit = optarg; break;
        case O_P:
            if (cli_double(CMD, "--p", optarg, &po.p)) return NM_EXIT_USAGE;
            break;
        case O_DELTA:
            if (cli_double_in(CMD, "--delta", optarg, 1e-6, 1e4, &po.delta_ms)) return NM_EXIT_USAGE;
            break;
        case O_HYST:
            if (cli_double_in(CMD, "--hysteresis", optarg, 0, 1e3, &po.hysteresis_mv)) return NM_EXIT_USAGE;
            break;
        case O_OUT: out = optarg; break;
        case O_PLOT: plot = optarg; break;
        default: return cli_bad_option(CMD, argc, argv);
        }
    }
    if (optind >= argc) return cli_usage_error(CMD, "missing MODEL");
    if (optind + 1 < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
    if (!series) return cli_usage_error(CMD, "--series FILE is required");
    if (!!input != !!unit) return cli_usage_error(CMD, "--input NPY and --input-unit U go together");
    cli_outputs outs = {0};
    cli_outputs_add(&outs, "--out", out);
    cli_outputs_add(&outs, "--plot", plot);
    int rc = cli_outputs_check(CMD, &outs);
    if (rc) return rc;

    nm_learned *m = NULL;
    nm_series *s = NULL;
    nm_predict_result *r = NULL;
    char *tmpcsv = NULL;
    nm_status st = nm_learned_load(argv[optind], &m);
    if (st) return cli_lib_fail(CMD, st);
    if ((st = nm_series_read(series, dt, 0, 16, &s)) || (input && (st = nm_series_read_input(s, input, unit))) ||
        (st = nm_predict(m, s, &po, &r))) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    const char *uu = nm_learned_has_input(m) ? nm_learned_input_unit(m) : (s->u ? s->u_unit : "");
    double dur = (double)r->n * r->dt_ms;
    printf("gamma: %.3f (delta %g ms)\n", r->coincidence.gamma, r->delta_ms);
    printf("spikes: data %zu, model %zu, coincident %zu in %g ms\n", r->nspikes_data, r->nspikes_model,
           r->coincidence.n_coinc, dur);
    printf("rate: data %.3f Hz, model %.3f Hz", 1e3 * (double)r->nspikes_data / dur,
           1e3 * (double)r->nspikes_model / dur);
    if (r->nspikes_data) printf(" (%+.1f%%)", 100.0 * ((double)r->nspikes_model / (double)r->nspikes_data - 1));
    printf("\n");
    if (r->nsteps_input) {
        printf("latency after %zu input steps: ", r->nsteps_input);
        if (r->latency_n)
            printf("mean |error| %.3f ms, max %.3f ms over %zu with spikes in both", r->latency_mean_err_ms,
                   r->latency_max_err_ms, r->latency_n);
        else
            printf("no step with a spike in both");
        printf(", %zu with a spike in one only\n", r->latency_missed);
    }
    if (r->sub_samples) printf("sub-threshold V error: RMS %.3f mV over %zu samples\n", r->sub_rmse_mv, r->sub_samples);
    if (!nm_learned_has_input(m)) printf("note: the model has no input channel: it ran at p = %g\n", r->p);
    if (r->nclamped) {
        double lo, hi;
        nm_learned_input_range(m, &lo, &hi);
        printf("input clamped to the trained range %g..%g %s on %zu of %zu steps\n", lo, hi, uu, r->nclamped, r->n);
    }
    if (out && (rc = write_trace(CMD, out, r, uu))) goto done;
    if (plot) {
        const char *csv = out;
        if (!csv) {
            if (asprintf(&tmpcsv, "%s.trace.csv", plot) < 0) {
                tmpcsv = NULL;
                rc = cli_fail(CMD, "out of memory");
                goto done;
            }
            if ((rc = write_trace(CMD, tmpcsv, r, uu))) goto done;
            csv = tmpcsv;
        }
        char title[512];
        snprintf(title, sizeof title, "%s: gamma %.3f (delta %g ms)", series, r->coincidence.gamma, r->delta_ms);
        const char *args[] = {csv, "-o", plot, "--title", title, NULL};
        if (cli_run_python_module(CMD, "plot_predict", args, out ? "The traces are in the --out file." : "")) {
            rc = NM_EXIT_FAIL;
            goto done;
        }
    }
done:
    if (tmpcsv) {
        remove(tmpcsv);
        free(tmpcsv);
    }
    if (rc) cli_outputs_undo(&outs);
    nm_predict_result_free(r);
    nm_series_free(s);
    nm_learned_free(m);
    return rc;
}
