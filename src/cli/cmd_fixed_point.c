/* cmd_fixed_point.c -- `neuromap fixed-point`: rest states of a learned map
 * and their stability, optionally next to the ground truth's resting V. */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *CMD = "fixed-point";

/* Each point runs a settling free run and Newton: keep grids modest. */
#define FIXED_POINT_MAX_POINTS 10000

static void help(void)
{
    printf("Usage: neuromap fixed-point MODEL --p-min A --p-max B --p-step S [--truth NAME]\n"
           "\n"
           "At each p, settle the learned map by a free run, find its fixed point x* =\n"
           "F(x*, p) by Newton's method, and print the decoded V there and the moduli of\n"
           "the Jacobian's eigenvalues (all below 1: a stable rest state).  With --truth,\n"
           "also the built-in model's V at the end of its standard run and whether it rests.\n"
           "\n"
           "Options:\n"
           "  --p-min A --p-max B --p-step S   the grid (B included)\n"
           "  --settle N       free-run steps before Newton (default 20000)\n"
           "  --truth NAME     srk, srk_slow, hh, ml1, ml2 or hr: compare with its resting\n"
           "                   potential (if it rests)\n"
           "  -h, --help       this help\n"
           "\n"
           "Example:\n"
           "  neuromap fixed-point srk.nmap --p-min -46 --p-max -44 --p-step 0.5 --truth srk\n");
}

int cmd_fixed_point(int argc, char **argv)
{
    enum { O_PMIN = 256, O_PMAX, O_PSTEP, O_SETTLE, O_TRUTH };
    static const struct option opts[] = {
        {"p-min", required_argument, 0, O_PMIN}, {"p-max", required_argument, 0, O_PMAX},
        {"p-step", required_argument, 0, O_PSTEP}, {"settle", required_argument, 0, O_SETTLE},
        {"truth", required_argument, 0, O_TRUTH}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    double pmin = NAN, pmax = NAN, pstep = NAN;
    unsigned long long settle = 20000;
    const char *truth = NULL;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return NM_EXIT_OK;
        case O_PMIN:
            if (cli_double(CMD, "--p-min", optarg, &pmin)) return NM_EXIT_USAGE;
            break;
        case O_PMAX:
            if (cli_double(CMD, "--p-max", optarg, &pmax)) return NM_EXIT_USAGE;
            break;
        case O_PSTEP:
            if (cli_double(CMD, "--p-step", optarg, &pstep)) return NM_EXIT_USAGE;
            break;
        case O_SETTLE:
            if (cli_ulong(CMD, "--settle", optarg, &settle)) return NM_EXIT_USAGE;
            if (settle > 100000000ULL) return cli_usage_error(CMD, "--settle is too large");
            break;
        case O_TRUTH: truth = optarg; break;
        default: return cli_bad_option(CMD, argc, argv);
        }
    }
    if (optind >= argc) return cli_usage_error(CMD, "missing MODEL");
    if (optind + 1 < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
    size_t np;
    if (cli_grid(CMD, pmin, pmax, pstep, FIXED_POINT_MAX_POINTS, &np)) return NM_EXIT_USAGE;
    nm_model *tm = NULL;
    if (truth) {
        const nm_model_type *type = nm_model_type_find(truth);
        if (!type) return cli_usage_error(CMD, "%s", nm_last_error());
        if (!(tm = nm_model_alloc(type))) return cli_fail(CMD, "out of memory");
    }
    nm_learned *m = NULL;
    nm_status st = nm_learned_load(argv[optind], &m);
    if (st) {
        nm_model_free(tm);
        return cli_lib_fail(CMD, st);
    }
    size_t D = nm_learned_dim(m);
    printf("%10s  %10s  %-24s %-7s", "p", "V* (mV)", "|eigenvalues|", "stable");
    if (tm) printf("  %-12s %12s %9s", "truth", "V rest (mV)", "dV (mV)");
    putchar('\n');
    int rc = NM_EXIT_OK;
    for (size_t i = 0; i < np; i++) {
        double p = pmin + (double)i * pstep;
        nm_fixed_point fp;
        st = nm_learned_fixed_point(m, p, (size_t)settle, &fp);
        printf("%10.4g  ", p);
        if (st) {
            printf("%s\n", nm_last_error());
            continue;
        }
        char eig[64] = "";
        size_t off = 0;
        for (size_t j = 0; j < D && off < sizeof eig; j++)
            off += (size_t)snprintf(eig + off, sizeof eig - off, j ? ",%.3f" : "%.3f", fp.eig_abs[j]);
        printf("%10.2f  %-24s %-7s", fp.v_mv, eig, fp.eig_abs[0] < 1 ? "yes" : "no");
        if (tm) {
            nm_sim_opts so;
            nm_model_sim_opts_default(tm, &so);
            nm_series *s = NULL;
            if (nm_model_set_control(tm, p) || nm_simulate(tm, &so, &s)) {
                printf("  truth failed: %s\n", nm_last_error());
                rc = NM_EXIT_FAIL;
                continue;
            }
            double *t = NULL;
            size_t ns = 0;
            nm_spikes_detect(s->v, s->n, s->dt_ms, s->t0_ms, nm_model_spike_threshold(tm), &t, &ns);
            free(t);
            double vend = s->v[s->n - 1];
            printf("  %-12s %12.2f", ns ? "spiking" : "silent", vend);
            if (!ns) printf(" %9.2f", fp.v_mv - vend);
            nm_series_free(s);
        }
        putchar('\n');
    }
    nm_learned_free(m);
    nm_model_free(tm);
    return rc;
}
