/* cmd_simulate.c -- `neuromap simulate`: integrate a ground-truth model. */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *CMD = "simulate";

static void help(void)
{
    printf("Usage: neuromap simulate --model NAME --out FILE [OPTIONS]\n"
           "\n"
           "Integrate a built-in neuron model and write V sampled every --dt ms after a\n"
           "transient: CSV 't_ms,V_mV' with a header, or a 1-D float64 .npy when FILE ends\n"
           "in .npy.  The file is written to a temporary name and renamed when complete.\n"
           "\n"
           "Options:\n"
           "  --model NAME       srk (beta-cell bursting, p = VS in mV), srk_slow (the same,\n"
           "                     tauS = 35 s), hh (Hodgkin-Huxley 1952, p = I in uA/cm2), ml1 /\n"
           "                     ml2 (Morris-Lecar class I / II, p = I in uA/cm2) or hr\n"
           "                     (Hindmarsh-Rose bursting, p = I); docs/models.md\n"
           "  --p VALUE          control parameter (default: the model's default)\n"
           "  --duration MS      recorded duration after the transient (srk 60000, hh 2000)\n"
           "  --dt MS            sampling step (srk 5, hh 0.025)\n"
           "  --transient MS     simulated and dropped first (srk 20000, hh 500)\n"
           "  --noise-mv SD      Gaussian measurement noise on V (default 0)\n"
           "  --noise-tau MS     make that noise low-pass (Ornstein-Uhlenbeck, correlation\n"
           "                     time MS, same SD; default 0 = white)\n"
           "  --seed N           seed of the noise (default 1)\n"
           "  --param NAME=VAL   set any model parameter (repeatable); see --list-params\n"
           "  --y0 A,B,...       initial state (default: the model's)\n"
           "  --rtol X --atol X  integrator tolerances\n"
           "  --states           also write every state variable (extra columns)\n"
           "  --out FILE         output file (required)\n"
           "  --list-params      print the model's parameters and exit\n"
           "  -h, --help         this help\n"
           "\n"
           "Example:\n"
           "  neuromap simulate --model srk --p -38 --duration 60000 --dt 5 --out v.csv\n");
}

static int parse_state(const char *text, double *y, size_t n)
{
    const char *p = text;
    for (size_t i = 0; i < n; i++) {
        char *end;
        y[i] = strtod(p, &end);
        if (end == p) return -1;
        p = end;
        if (i + 1 < n) {
            if (*p != ',') return -1;
            p++;
        }
    }
    return *p == '\0' ? 0 : -1;
}

int cmd_simulate(int argc, char **argv)
{
    enum { O_MODEL = 256, O_P, O_DUR, O_DT, O_TRANS, O_NOISE, O_SEED, O_PARAM, O_Y0, O_RTOL, O_ATOL,
           O_STATES, O_OUT, O_LIST, O_NOISE_TAU };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"p", required_argument, 0, O_P},
        {"duration", required_argument, 0, O_DUR}, {"dt", required_argument, 0, O_DT},
        {"transient", required_argument, 0, O_TRANS}, {"noise-mv", required_argument, 0, O_NOISE},
        {"seed", required_argument, 0, O_SEED}, {"param", required_argument, 0, O_PARAM},
        {"y0", required_argument, 0, O_Y0}, {"rtol", required_argument, 0, O_RTOL},
        {"atol", required_argument, 0, O_ATOL}, {"states", no_argument, 0, O_STATES},
        {"out", required_argument, 0, O_OUT}, {"list-params", no_argument, 0, O_LIST},
        {"noise-tau", required_argument, 0, O_NOISE_TAU}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};

    const char *model_name = NULL, *out = NULL, *y0_text = NULL;
    double p = 0, v;
    int have_p = 0, list = 0;
    unsigned long long seed;
    /* Flags are parsed into `user` (NaN = not given) and laid over the
     * model's own protocol (nm_model_sim_opts_default) once the model is
     * known: HH needs a much finer sampling step than SRK. */
    nm_sim_opts so, user;
    nm_sim_opts_default(&user);
    user.duration_ms = user.dt_ms = user.transient_ms = NAN;
    user.rtol = user.atol = NAN;
    const char *params[64];
    size_t nparams = 0;

    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return NM_EXIT_OK;
        case O_MODEL: model_name = optarg; break;
        case O_P:
            if (cli_double(CMD, "--p", optarg, &p)) return NM_EXIT_USAGE;
            have_p = 1;
            break;
        case O_DUR:
            if (cli_double_in(CMD, "--duration", optarg, -CLI_MAX_TIME_MS, CLI_MAX_TIME_MS, &user.duration_ms))
                return NM_EXIT_USAGE;
            break;
        case O_DT:
            if (cli_double(CMD, "--dt", optarg, &user.dt_ms)) return NM_EXIT_USAGE;
            break;
        case O_TRANS:
            if (cli_double_in(CMD, "--transient", optarg, -CLI_MAX_TIME_MS, CLI_MAX_TIME_MS, &user.transient_ms))
                return NM_EXIT_USAGE;
            break;
        case O_NOISE:
            if (cli_double(CMD, "--noise-mv", optarg, &user.noise_mv)) return NM_EXIT_USAGE;
            break;
        case O_NOISE_TAU:
            if (cli_double(CMD, "--noise-tau", optarg, &user.noise_tau_ms)) return NM_EXIT_USAGE;
            if (!(user.noise_tau_ms >= 0))
                return cli_usage_error(CMD, "--noise-tau must be >= 0 ms (got '%s')", optarg);
            break;
        case O_SEED:
            if (cli_ulong(CMD, "--seed", optarg, &seed)) return NM_EXIT_USAGE;
            user.seed = seed;
            break;
        case O_PARAM:
            if (nparams == sizeof params / sizeof params[0])
                return cli_usage_error(CMD, "too many --param options");
            params[nparams++] = optarg;
            break;
        case O_Y0: y0_text = optarg; break;
        case O_RTOL:
            if (cli_double(CMD, "--rtol", optarg, &v)) return NM_EXIT_USAGE;
            user.rtol = v;
            break;
        case O_ATOL:
            if (cli_double(CMD, "--atol", optarg, &v)) return NM_EXIT_USAGE;
            user.atol = v;
            break;
        case O_STATES: user.record_states = 1; break;
        case O_OUT: out = optarg; break;
        case O_LIST: list = 1; break;
        default: return cli_bad_option(CMD, argc, argv);
        }
    }
    if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!model_name) return cli_usage_error(CMD, "--model is required (srk, srk_slow, hh, ml1, ml2 or hr)");
    if (user.noise_tau_ms > 0 && !(user.noise_mv > 0))
        return cli_usage_error(CMD, "--noise-tau needs --noise-mv SD > 0");
    const nm_model_type *type = nm_model_type_find(model_name);
    if (!type) return cli_usage_error(CMD, "%s", nm_last_error());
    nm_model *m = nm_model_alloc(type);
    if (!m) return cli_lib_fail(CMD, NM_ENOMEM);
    cli_sim_opts(m, &user, &so);
    int rc = NM_EXIT_OK;
    double y0[16];
    nm_series *s = NULL;
    if (list) {
        printf("%s: %s\ncontrol parameter: %s\n\n%-10s %-12s %s\n", nm_model_name(m), nm_model_description(m),
               nm_model_control_name(m), "name", "value", "unit");
        for (size_t i = 0; i < nm_model_nparams(m); i++) {
            double x = 0;
            nm_model_get_param(m, nm_model_param_name(m, i), &x);
            printf("%-10s %-12g %s\n", nm_model_param_name(m, i), x, nm_model_param_unit(m, i));
        }
        goto done;
    }
    if (!out) {
        rc = cli_usage_error(CMD, "--out FILE is required");
        goto done;
    }
    if ((rc = cli_output_check(CMD, out))) goto done;
    for (size_t i = 0; i < nparams; i++)
        if (cli_model_param(CMD, m, params[i])) {
            rc = NM_EXIT_USAGE;
            goto done;
        }
    if (have_p && nm_model_set_control(m, p) != NM_OK) {
        rc = cli_usage_error(CMD, "--p: %s", nm_last_error());
        goto done;
    }
    if (y0_text) {
        size_t ns = nm_model_nstates(m);
        if (ns > 16 || parse_state(y0_text, y0, ns)) {
            rc = cli_usage_error(CMD, "--y0: expected %zu comma-separated numbers, got '%s'", ns, y0_text);
            goto done;
        }
        so.y0 = y0;
    }
    nm_status st = nm_simulate(m, &so, &s);
    if (st) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    const char *names[16];
    for (size_t i = 0; i < nm_model_nstates(m) && i < 16; i++) names[i] = nm_model_state_name(m, i);
    st = nm_series_write(out, s, so.record_states, names);
    if (st) rc = cli_lib_fail(CMD, st);
done:
    nm_series_free(s);
    nm_model_free(m);
    return rc;
}
