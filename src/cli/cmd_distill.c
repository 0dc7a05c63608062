/* cmd_distill.c -- `neuromap distill`: a trained model -> a lean copy (one
 * narrower map and a small V head) that costs a fraction per step. */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD "distill"

static void distill_help(void)
{
    printf("Usage: neuromap distill TEACHER.nmap --out LEAN.nmap [options]\n"
           "\n"
           "Make a lean copy of a trained model for large networks: the teacher (by default\n"
           "an ensemble of three 128-128 maps and a 3-128-128 decoder, about 69k\n"
           "multiply-adds a step) is free-run from its start state at NP values of p\n"
           "across and beyond its training range, one map of the given widths is trained on\n"
           "those runs (one-step, rollouts, checkpoints chosen by the regimes of free runs\n"
           "against the teacher's at every p), and a small V head is fitted to the\n"
           "teacher's decoder.  The autoencoder and metadata are the teacher's; no data\n"
           "are needed.  A learned cell's cost in NEURON is its networks: docs/map.md\n"
           "\"Distillation\" has the agreement and the cost of the result.  Written\n"
           "atomically.  Same --seed and --threads, same file.\n"
           "\n"
           "  --out FILE         the lean model to write (required)\n"
           "  --map-hidden LIST  the student map's hidden widths (default 96,96)\n"
           "  --np N             p values of the teacher runs (default 89)\n"
           "  --p-min X --p-max X  their range (default: the training range widened by\n"
           "                     --p-extend of its width on each side)\n"
           "  --p-extend X       default 0.5\n"
           "  --duration MS      each teacher run, from the start state (default: the\n"
           "                     teacher's shortest training series, at most 40000; 40000\n"
           "                     for a model with an input channel)\n"
           "  --rollout-iters N  the student's rollout iterations (default 8000)\n"
           "  --vhead-hidden LIST  the V head's hidden widths (default 32,32)\n"
           "  --no-vhead         keep the teacher's decoder\n"
           "Models with an input channel (docs/input.md) are run at their training p under\n"
           "fluctuating input instead of a p grid (--np and the p range are not used):\n"
           "  --input-protocols K  Ornstein-Uhlenbeck inputs, means at k/(K+1) of the trained\n"
           "                     input range, SD a sixth of it (default 4)\n"
           "  --input-tau MS     their time constant (default 3)\n"
           "  --seed N           default 1\n"
           "  --threads N        worker threads (default: all cores)\n"
           "  --quiet            no progress lines\n"
           "  -h, --help\n"
           "\n"
           "Example:\n"
           "  neuromap distill out/srk.nmap --out out/srk_lean.nmap\n"
           "  neuromap compare out/srk_lean.nmap --truth srk --p-min -46 --p-max -30 --p-step 0.25\n");
}

/* "4-96-96-3 x 1" style shape of the networks, from the model file. */
static void shape(const nm_mf *mf, const char *name, char *buf, size_t cap)
{
    const int32_t *s = NULL;
    size_t n = 0, l = 0;
    buf[0] = '\0';
    if (nm_mf_get_i32(mf, name, NM_MF_ANY, &s, &n)) return;
    for (size_t i = 0; i < n && l + 1 < cap; i++) {
        int w = snprintf(buf + l, cap - l, "%s%d", i ? "-" : "", (int)s[i]);
        if (w < 0) break;
        l += (size_t)w;
    }
}

enum {
    O_OUT = 1000,
    O_MAP_HIDDEN,
    O_NP,
    O_PMIN,
    O_PMAX,
    O_PEXT,
    O_DUR,
    O_ITERS,
    O_VH_HIDDEN,
    O_NO_VHEAD,
    O_SEED,
    O_THREADS,
    O_QUIET,
    O_INPROT,
    O_INTAU
};

int cmd_distill(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, O_OUT},
                                         {"map-hidden", required_argument, 0, O_MAP_HIDDEN},
                                         {"np", required_argument, 0, O_NP},
                                         {"p-min", required_argument, 0, O_PMIN},
                                         {"p-max", required_argument, 0, O_PMAX},
                                         {"p-extend", required_argument, 0, O_PEXT},
                                         {"duration", required_argument, 0, O_DUR},
                                         {"rollout-iters", required_argument, 0, O_ITERS},
                                         {"vhead-hidden", required_argument, 0, O_VH_HIDDEN},
                                         {"no-vhead", no_argument, 0, O_NO_VHEAD},
                                         {"input-protocols", required_argument, 0, O_INPROT},
                                         {"input-tau", required_argument, 0, O_INTAU},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    nm_distill_opts o;
    nm_distill_opts_default(&o);
    const char *out = NULL;
    cli_progress_state prog = {0};
    unsigned long long u;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': distill_help(); return NM_EXIT_OK;
        case O_OUT: out = optarg; break;
        case O_MAP_HIDDEN:
            if (cli_size_list(CMD, "--map-hidden", optarg, o.map_hidden, 4, &o.map_nhidden, CLI_MAX_WIDTH))
                return NM_EXIT_USAGE;
            break;
        case O_NP:
            if (cli_ulong_max(CMD, "--np", optarg, 1000, &u)) return NM_EXIT_USAGE;
            if (u < 2) return cli_usage_error(CMD, "--np: %llu is out of range: the limit is 2 .. 1000", u);
            o.np = (size_t)u;
            break;
        case O_PMIN:
            if (cli_double(CMD, "--p-min", optarg, &o.p_min)) return NM_EXIT_USAGE;
            break;
        case O_PMAX:
            if (cli_double(CMD, "--p-max", optarg, &o.p_max)) return NM_EXIT_USAGE;
            break;
        case O_PEXT:
            if (cli_double_in(CMD, "--p-extend", optarg, 0, 10, &o.p_extend)) return NM_EXIT_USAGE;
            break;
        case O_DUR:
            if (cli_double_in(CMD, "--duration", optarg, 1e-3, CLI_MAX_TIME_MS, &o.duration_ms))
                return NM_EXIT_USAGE;
            break;
        case O_ITERS:
            if (cli_ulong_max(CMD, "--rollout-iters", optarg, CLI_MAX_ITERS, &u)) return NM_EXIT_USAGE;
            if (u < 1) return cli_usage_error(CMD, "--rollout-iters: 0 is out of range: the limit is 1 .. %llu",
                                              (unsigned long long)CLI_MAX_ITERS);
            o.rollout_iters = (size_t)u;
            break;
        case O_VH_HIDDEN:
            if (cli_size_list(CMD, "--vhead-hidden", optarg, o.vhead_hidden, 4, &o.vhead_nhidden, CLI_MAX_WIDTH))
                return NM_EXIT_USAGE;
            break;
        case O_NO_VHEAD: o.vhead = 0; break;
        case O_INPROT:
            if (cli_ulong_max(CMD, "--input-protocols", optarg, 100, &u)) return NM_EXIT_USAGE;
            if (u < 1) return cli_usage_error(CMD, "--input-protocols: 0 is out of range: the limit is 1 .. 100");
            o.input_protocols = (size_t)u;
            break;
        case O_INTAU:
            if (cli_double_in(CMD, "--input-tau", optarg, 1e-6, 1e6, &o.input_tau_ms)) return NM_EXIT_USAGE;
            break;
        case O_SEED:
            if (cli_ulong(CMD, "--seed", optarg, &u)) return NM_EXIT_USAGE;
            o.seed = u;
            break;
        case O_THREADS:
            if (cli_ulong_max(CMD, "--threads", optarg, 256, &u)) return NM_EXIT_USAGE;
            o.threads = (int)u;
            break;
        case O_QUIET: prog.quiet = 1; break;
        default: return cli_bad_option(CMD, argc, argv);
        }
    }
    if (optind >= argc) return cli_usage_error(CMD, "no teacher model given (neuromap distill MODEL --out FILE)");
    if (optind + 1 < argc) return cli_usage_error(CMD, "one teacher model expected, got also '%s'", argv[optind + 1]);
    if (!out) return cli_usage_error(CMD, "--out FILE is required");
    if (isnan(o.p_min) != isnan(o.p_max)) return cli_usage_error(CMD, "give both --p-min and --p-max, or neither");
    if (!isnan(o.p_min) && !(o.p_min < o.p_max))
        return cli_usage_error(CMD, "--p-min %g is not below --p-max %g", o.p_min, o.p_max);
    const char *teacher_path = argv[optind];
    int rc = cli_output_check(CMD, out);
    if (rc) return rc;

    nm_learned *t = NULL, *lean = NULL;
    char *command = NULL;
    nm_status st = nm_learned_load(teacher_path, &t);
    if (st) return cli_lib_fail(CMD, st);
    command = cli_join_args(argc, argv);
    o.command = command;
    o.progress = cli_progress;
    o.progress_ctx = &prog;
    double t0 = cli_now_s();
    nm_distill_report rep;
    st = nm_learned_distill(t, &o, &lean, &rep);
    if (!st) st = nm_learned_save(lean, out);
    if (st) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    if (!prog.quiet) {
        const nm_mf *tm = nm_learned_mf(t), *lm = nm_learned_mf(lean);
        char tmap[64], lmap[64], tdec[64], head[64] = "the teacher's decoder";
        int32_t tmem = 1;
        double pr[2] = {0, 0};
        const double *prp = NULL;
        shape(tm, "map.sizes", tmap, sizeof tmap);
        shape(lm, "map.sizes", lmap, sizeof lmap);
        shape(tm, "vae.dec.sizes", tdec, sizeof tdec);
        /* The runtime decodes V only: the decoder's last layer cut to one output. */
        char *last = strrchr(tdec, '-');
        if (last) snprintf(last, sizeof tdec - (size_t)(last - tdec), "-1");
        if (nm_mf_has(tm, "vhead.sizes")) shape(tm, "vhead.sizes", tdec, sizeof tdec);
        if (nm_mf_has(lm, "vhead.sizes")) {
            char s[48];
            shape(lm, "vhead.sizes", s, sizeof s);
            snprintf(head, sizeof head, "V head %s", s);
        }
        if (nm_mf_has(tm, "map.members")) nm_mf_get_scalar_i32(tm, "map.members", &tmem);
        if (!nm_mf_get_f64(lm, "distill.p_range", 2, &prp, NULL)) memcpy(pr, prp, sizeof pr);
        if (nm_learned_has_input(t))
            fprintf(stderr, "distilled in %.1f s: %zu teacher runs under fluctuating input (%zu protocols, tau %g ms) "
                            "at the training p (%zu diverged, left out)\n",
                    cli_now_s() - t0, rep.nruns, o.input_protocols, o.input_tau_ms, rep.ndiverged);
        else
            fprintf(stderr, "distilled in %.1f s: teacher runs at %zu p in %g .. %g (%zu diverged, left out)\n",
                    cli_now_s() - t0, rep.nruns, pr[0], pr[1], rep.ndiverged);
        fprintf(stderr, "teacher: %d map%s %s + V decoder %s: %zu multiply-adds a step\n", (int)tmem,
                tmem > 1 ? "s" : "", tmap, tdec, rep.teacher_macs);
        fprintf(stderr, "lean:    1 map %s + %s: %zu multiply-adds a step (%.1fx fewer)\n", lmap, head, rep.macs,
                rep.macs ? (double)rep.teacher_macs / (double)rep.macs : 0.0);
        if (nm_learned_has_input(t))
            fprintf(stderr, "driven runs against the teacher's on the held-out last 20%% of each run: mean gamma %.3f "
                            "(delta %g ms)\n",
                    rep.select_gamma, fmax(2.0, 2 * nm_learned_dt_ms(t)));
        else
            fprintf(stderr,
                    "the teacher's regime reproduced at %d of %zu p (best checkpoint), at %zu of %zu training p "
                    "from the stored start state\n",
                    rep.select_matches, rep.nruns, rep.start_matches, rep.ntrain);
        if (o.vhead)
            fprintf(stderr, "V head against the teacher's decoder on held-out states: rms %.3g mV, max %.3g mV\n",
                    rep.vhead_rms_mv, rep.vhead_max_mv);
    }
    printf("wrote %s\n", out);
done:
    free(command);
    nm_learned_free(t);
    nm_learned_free(lean);
    return rc;
}
