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
           "Injected current (docs/input.md).  Options may be repeated and combined; their\n"
           "currents are summed.  Currents are in the model's unit: pA for srk/srk_slow\n"
           "(C = 5.3 pF), uA/cm2 for hh/ml1/ml2, dimensionless for hr; conductances in that\n"
           "unit per mV (nS, mS/cm2).  Positive = depolarising.  Times are the t_ms of the\n"
           "output (from the start of the run, transient included).  The output gets a\n"
           "third column I_<unit>: the mean current over each sampling interval.\n"
           "  --input-step T0:AMP[,T0:AMP...]  from each onset T0 (ms) on the current is\n"
           "                     AMP, until the next onset (a staircase; AMP 0 ends it)\n"
           "  --input-ramp T0:T1:A0:A1   linear from A0 at T0 to A1 at T1 (> T0), 0 outside\n"
           "  --input-ou MEAN:SD:TAU     Ornstein-Uhlenbeck current (TAU in ms > 0), held\n"
           "                     constant over each sampling interval\n"
           "  --input-poisson RATE:W:TAU current-based synaptic events at RATE Hz, each a\n"
           "                     jump of W decaying with TAU ms\n"
           "  --input-syn RATE:G:TAU:EREV conductance-based events: each adds G (>= 0) to\n"
           "                     a conductance decaying with TAU ms; current G(t)(EREV - V)\n"
           "  --input-seed N     seed of the OU and Poisson inputs (default 1; not --seed)\n"
           "  --input-out FILE.npy  the current as a second .npy (required when --out is .npy)\n"
           "  Limits: |amplitudes|, SD, G <= 1e6; RATE 0..1e5 Hz; 0 < TAU <= 1e7 ms;\n"
           "  |times| <= 1e7 ms; |EREV| <= 1000 mV; at most 1024 components.\n"
           "\n"
           "Examples:\n"
           "  neuromap simulate --model srk --p -38 --duration 60000 --dt 5 --out v.csv\n"
           "  neuromap simulate --model hh --p 0 --transient 0 --duration 1000 --dt 0.1 \\\n"
           "      --input-ou 6:3:5 --input-syn 20:0.1:3:0 --input-seed 2 --out vi.csv\n");
}

/* Limits of the --input-* values (docs/limits.md, docs/input.md). */
#define IN_MAX_TAU_MS CLI_MAX_TIME_MS
#define IN_MAX_EREV_MV 1000.0

/* Split "a:b:c" into exactly nf numbers, field j parsed with cli_double_in
 * against [lo[j], hi[j]] and reported as "OPT NAME_j". */
static int parse_fields(const char *opt, const char *text, size_t nf, const char *const *names,
                        const double *lo, const double *hi, double *out)
{
    char buf[256];
    if (strlen(text) >= sizeof buf) return cli_usage_error(CMD, "%s: '%s' is too long", opt, text), -1;
    strcpy(buf, text);
    size_t ncolon = 0;
    for (const char *c = buf; *c; c++) ncolon += *c == ':';
    if (ncolon + 1 != nf) {
        char want[128] = "";
        for (size_t k = 0; k < nf; k++) {
            strcat(want, k ? ":" : "");
            strcat(want, names[k]);
        }
        cli_usage_error(CMD, "%s: expected %s, got '%s'", opt, want, text);
        return -1;
    }
    char *p = buf;
    for (size_t j = 0; j < nf; j++) {
        char *colon = strchr(p, ':');
        if (colon) *colon = '\0';
        char label[96];
        snprintf(label, sizeof label, "%s %s", opt, names[j]);
        if (cli_double_in(CMD, label, p, lo[j], hi[j], &out[j])) return -1;
        if (colon) p = colon + 1;
    }
    return 0;
}

/* The time constant fields must be > 0 (cli_double_in checks >= 0). */
static int positive(const char *opt, const char *name, double x)
{
    if (x > 0) return 0;
    cli_usage_error(CMD, "%s %s: must be > 0 ms (got %g)", opt, name, x);
    return -1;
}

typedef struct input_list {
    nm_input c[NM_INPUT_MAX_COMPONENTS];
    size_t n;
} input_list;

static int add_input(input_list *l, const char *opt, nm_input in)
{
    if (l->n == NM_INPUT_MAX_COMPONENTS) {
        cli_usage_error(CMD, "%s: more than %d input components in all", opt, NM_INPUT_MAX_COMPONENTS);
        return -1;
    }
    l->c[l->n++] = in;
    return 0;
}

static int parse_input(input_list *l, int which, const char *text)
{
    const double A = NM_INPUT_MAX_ABS, T = CLI_MAX_TIME_MS;
    double f[4];
    switch (which) {
    case NM_INPUT_STEP: {
        /* T0:AMP[,T0:AMP...]: each level holds until the next onset */
        static const char *const nm[] = {"T0", "AMP"};
        const double lo[] = {-T, -A}, hi[] = {T, A};
        char buf[4096];
        if (strlen(text) >= sizeof buf)
            return cli_usage_error(CMD, "--input-step: the list is too long (%zu characters)", strlen(text)), -1;
        strcpy(buf, text);
        size_t first = l->n;
        char *save = NULL;
        if (!*buf) return cli_usage_error(CMD, "--input-step: expected T0:AMP[,T0:AMP...], got ''"), -1;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (parse_fields("--input-step", tok, 2, nm, lo, hi, f)) return -1;
            if (l->n > first && !(f[0] > l->c[l->n - 1].t0_ms))
                return cli_usage_error(CMD, "--input-step: onsets must increase (%g after %g)", f[0],
                                       l->c[l->n - 1].t0_ms), -1;
            if (l->n > first) l->c[l->n - 1].t1_ms = f[0];
            if (add_input(l, "--input-step", (nm_input){.kind = NM_INPUT_STEP, .t0_ms = f[0], .t1_ms = f[0],
                                                          .amp = f[1]}))
                return -1;
        }
        return 0;
    }
    case NM_INPUT_RAMP: {
        static const char *const nm[] = {"T0", "T1", "A0", "A1"};
        const double lo[] = {-T, -T, -A, -A}, hi[] = {T, T, A, A};
        if (parse_fields("--input-ramp", text, 4, nm, lo, hi, f)) return -1;
        if (!(f[1] > f[0]))
            return cli_usage_error(CMD, "--input-ramp: T1 (%g) must be > T0 (%g)", f[1], f[0]), -1;
        return add_input(l, "--input-ramp", (nm_input){.kind = NM_INPUT_RAMP, .t0_ms = f[0], .t1_ms = f[1],
                                                         .amp = f[2], .amp1 = f[3]});
    }
    case NM_INPUT_OU: {
        static const char *const nm[] = {"MEAN", "SD", "TAU"};
        const double lo[] = {-A, 0, 0}, hi[] = {A, A, IN_MAX_TAU_MS};
        if (parse_fields("--input-ou", text, 3, nm, lo, hi, f) || positive("--input-ou", "TAU", f[2])) return -1;
        return add_input(l, "--input-ou",
                         (nm_input){.kind = NM_INPUT_OU, .amp = f[0], .sd = f[1], .tau_ms = f[2]});
    }
    case NM_INPUT_POISSON: {
        static const char *const nm[] = {"RATE", "W", "TAU"};
        const double lo[] = {0, -A, 0}, hi[] = {NM_INPUT_MAX_RATE_HZ, A, IN_MAX_TAU_MS};
        if (parse_fields("--input-poisson", text, 3, nm, lo, hi, f) || positive("--input-poisson", "TAU", f[2]))
            return -1;
        return add_input(l, "--input-poisson", (nm_input){.kind = NM_INPUT_POISSON, .rate_hz = f[0],
                                                            .amp = f[1], .tau_ms = f[2]});
    }
    case NM_INPUT_SYN: {
        static const char *const nm[] = {"RATE", "G", "TAU", "EREV"};
        const double lo[] = {0, 0, 0, -IN_MAX_EREV_MV}, hi[] = {NM_INPUT_MAX_RATE_HZ, A, IN_MAX_TAU_MS,
                                                              IN_MAX_EREV_MV};
        if (parse_fields("--input-syn", text, 4, nm, lo, hi, f) || positive("--input-syn", "TAU", f[2])) return -1;
        return add_input(l, "--input-syn", (nm_input){.kind = NM_INPUT_SYN, .rate_hz = f[0], .amp = f[1],
                                                        .tau_ms = f[2], .erev_mv = f[3]});
    }
    }
    return -1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
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
           O_STATES, O_OUT, O_LIST, O_NOISE_TAU, O_IN_STEP, O_IN_RAMP, O_IN_OU, O_IN_POISSON, O_IN_SYN,
           O_IN_SEED, O_IN_OUT };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"p", required_argument, 0, O_P},
        {"duration", required_argument, 0, O_DUR}, {"dt", required_argument, 0, O_DT},
        {"transient", required_argument, 0, O_TRANS}, {"noise-mv", required_argument, 0, O_NOISE},
        {"seed", required_argument, 0, O_SEED}, {"param", required_argument, 0, O_PARAM},
        {"y0", required_argument, 0, O_Y0}, {"rtol", required_argument, 0, O_RTOL},
        {"atol", required_argument, 0, O_ATOL}, {"states", no_argument, 0, O_STATES},
        {"out", required_argument, 0, O_OUT}, {"list-params", no_argument, 0, O_LIST},
        {"noise-tau", required_argument, 0, O_NOISE_TAU}, {"help", no_argument, 0, 'h'},
        {"input-step", required_argument, 0, O_IN_STEP}, {"input-ramp", required_argument, 0, O_IN_RAMP},
        {"input-ou", required_argument, 0, O_IN_OU}, {"input-poisson", required_argument, 0, O_IN_POISSON},
        {"input-syn", required_argument, 0, O_IN_SYN}, {"input-seed", required_argument, 0, O_IN_SEED},
        {"input-out", required_argument, 0, O_IN_OUT},
        {0, 0, 0, 0}};

    const char *model_name = NULL, *out = NULL, *y0_text = NULL, *input_out = NULL;
    unsigned long long input_seed = 1;
    int have_input_seed = 0;
    cli_outputs outs = {0};
    /* Large (1024 components): static, not on the stack (one command per
     * process). */
    static input_list inputs_store;
    input_list *inputs = &inputs_store;
    inputs->n = 0;
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
        case O_IN_STEP:
            if (parse_input(inputs, NM_INPUT_STEP, optarg)) return NM_EXIT_USAGE;
            break;
        case O_IN_RAMP:
            if (parse_input(inputs, NM_INPUT_RAMP, optarg)) return NM_EXIT_USAGE;
            break;
        case O_IN_OU:
            if (parse_input(inputs, NM_INPUT_OU, optarg)) return NM_EXIT_USAGE;
            break;
        case O_IN_POISSON:
            if (parse_input(inputs, NM_INPUT_POISSON, optarg)) return NM_EXIT_USAGE;
            break;
        case O_IN_SYN:
            if (parse_input(inputs, NM_INPUT_SYN, optarg)) return NM_EXIT_USAGE;
            break;
        case O_IN_SEED:
            if (cli_ulong(CMD, "--input-seed", optarg, &input_seed)) return NM_EXIT_USAGE;
            have_input_seed = 1;
            break;
        case O_IN_OUT: input_out = optarg; break;
        case O_OUT: out = optarg; break;
        case O_LIST: list = 1; break;
        default: return cli_bad_option(CMD, argc, argv);
        }
    }
    if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!model_name) return cli_usage_error(CMD, "--model is required (srk, srk_slow, hh, ml1, ml2 or hr)");
    if (user.noise_tau_ms > 0 && !(user.noise_mv > 0))
        return cli_usage_error(CMD, "--noise-tau needs --noise-mv SD > 0");
    if ((have_input_seed || input_out) && inputs->n == 0)
        return cli_usage_error(CMD, "%s needs an --input-* protocol", input_out ? "--input-out" : "--input-seed");
    const nm_model_type *type = nm_model_type_find(model_name);
    if (!type) return cli_usage_error(CMD, "%s", nm_last_error());
    nm_model *m = nm_model_alloc(type);
    if (!m) return cli_lib_fail(CMD, NM_ENOMEM);
    cli_sim_opts(m, &user, &so);
    so.input = inputs->n ? inputs->c : NULL;
    so.ninput = inputs->n;
    so.input_seed = input_seed;
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
    if (inputs->n && ends_with(out, ".npy") && !input_out) {
        rc = cli_usage_error(CMD, "--out %s is a .npy of V only: give --input-out FILE.npy for the injected "
                             "current (or write CSV)", out);
        goto done;
    }
    if (input_out && !ends_with(input_out, ".npy")) {
        rc = cli_usage_error(CMD, "--input-out %s: expected a .npy name", input_out);
        goto done;
    }
    if (!input_out) {
        if ((rc = cli_output_check(CMD, out))) goto done;
    } else {
        cli_outputs_add(&outs, "--out", out);
        cli_outputs_add(&outs, "--input-out", input_out);
        if ((rc = cli_outputs_check(CMD, &outs))) goto done;
    }
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
    if (!st && input_out) {
        st = nm_series_write_input(input_out, s);
        if (st) cli_outputs_undo(&outs); /* no half of a pair */
    }
    if (st) rc = cli_lib_fail(CMD, st);
done:
    nm_series_free(s);
    nm_model_free(m);
    return rc;
}
