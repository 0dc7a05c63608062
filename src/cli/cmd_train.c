/* cmd_train.c -- `neuromap train` (series -> model file) and `neuromap run`
 * (a learned model's free run -> V trace and spikes). */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* At most this many training series (each --series with its --p). */
#define TRAIN_MAX_SERIES 32

static void train_help(void)
{
    printf("Usage: neuromap train --series FILE --p VALUE [--series FILE --p VALUE ...] --out MODEL\n"
           "\n"
           "Learn a neuron's dynamics from voltage series recorded at constant control\n"
           "values p: normalise and delay-embed V, train a variational autoencoder (its\n"
           "encoder mean is the recovered state), then train the map x(n+1) = F(x(n), p)\n"
           "on consecutive states (one-step, then rollouts through free runs, then keep the\n"
           "checkpoint whose free runs reproduce the training regimes best).  All series\n"
           "must have one sampling step.  Settings not given as flags are chosen from the\n"
           "data (docs/settings.md): threshold, map step, De, rollout; each is printed with\n"
           "its reason (\"auto: ...\") and stored as meta.auto_*.  The model file is\n"
           "written atomically.  Same --seed, same model file.\n"
           "\n"
           "Data:\n"
           "  --series FILE      CSV (V, or t_ms,V_mV) or 1-D .npy; repeat for each series\n"
           "  --p VALUE          the control value of the preceding --series\n"
           "  --dt MS            sampling step for files without a time column\n"
           "  --resample N       average blocks of N samples: the map step is N x the data's\n"
           "                     (default: chosen from the spike width, docs/settings.md)\n"
           "  --map-dt MS        the same given as the map step (a multiple of the data's)\n"
           "  --out MODEL        the model file to write (required)\n"
           "Autoencoder:\n"
           "  --de N             delay-embedding length (default: 2.4 spike widths, 32 for\n"
           "                     SRK at 5 ms and HH at 0.1 ms)\n"
           "  --latent D         latent dimension (default 3; see `neuromap vae-scan`)\n"
           "  --hidden LIST      hidden widths, e.g. 128,128 (default)\n"
           "  --beta X           KL weight (default 3e-5: sharp states for the map)\n"
           "  --vae-epochs N     maximum epochs (default 100, early stopping)\n"
           "  --smooth STEPS     smooth the latent trajectories in time (Gaussian SD, map\n"
           "                     steps) before the map learns from them (default 0: off)\n"

           "  --vae MODEL        use the autoencoder of MODEL (from `train-vae` or `train`)\n"
           "                     instead of training one: trains only the map\n"
           "Map:\n"
           "  --map-hidden LIST  hidden widths (default 128,128)\n"
           "  --map-epochs N     one-step epochs (default 20)\n"
           "  --noise X          input noise, standardised units (default 0.002)\n"
           "  --rollout LIST     rollout lengths, a stage each (default: 10/32 of the data's\n"
           "                     De, 10 steps for SRK and HH; docs/map.md)\n"
           "  --rollout-iters N  iterations per rollout stage (default 3200)\n"
           "  --rollout-lr X     Adam step size of the rollout stages (default 0.001)\n"

           "  --rollout-batch N  free runs per rollout iteration (default 64)\n"
           "  --ensemble N       maps trained with seeds seed..seed+N-1 and averaged at\n"
           "                     every step (default 3; 1..8; trained on all cores)\n"
           "Other:\n"
           "  --p-name NAME      name of the control parameter p, stored in the model (default\n"
           "                     \"p\"; 1..32 of A-Z a-z 0-9 _ . -), e.g. VS or I\n"
           "  --p-unit UNIT      its unit (default none; up to 32 printable characters, no\n"
           "                     spaces), e.g. mV, nA, uA/cm2.  `info` shows both with p's\n"
           "                     default, the centre of the training range (NEURON cells start\n"
           "                     there)\n"
           "  --threshold MV     spike threshold stored in the model (default: midway between\n"
           "                     the 5%% quantile of V and the median spike peak)\n"
           "  --no-auto          choose nothing from the data: the paper's configuration\n"
           "                     (De 32, threshold -35, no resampling, rollout 10)\n"
           "  --seed N           seed of everything (default 1)\n"
           "  --threads N        worker threads of the VAE and of the map ensemble (default\n"
           "                     0 = all cores); the model does not depend on it\n"
           "  --quiet            no progress lines\n"
           "  -h, --help         this help\n"
           "\n"
           "Example:\n"
           "  for p in -42 -38 -36 -34.5 -31; do\n"
           "    neuromap simulate --model srk --p $p --duration 200000 --out s$p.csv; done\n"
           "  neuromap train --series s-42.csv --p -42 --series s-38.csv --p -38 \\\n"
           "    --series s-36.csv --p -36 --series s-34.5.csv --p -34.5 --series s-31.csv --p -31 \\\n"
           "    --out srk.nmap\n");
}

/* Settings chosen from the data (nm_autoset, docs/settings.md) for what the
 * flags did not set; prints "auto: ..." lines, resamples the series in
 * place and records the choices in lo (lo->autoset = res).  Returns an exit
 * code. */
static int train_auto(nm_series **series, size_t n, const char *const *files, const nm_autoset_opts *ao,
                      int no_auto, int have_vae, int thr_given, int de_given, int rollout_given, int latent_given,
                      int smooth_given,
                      int quiet, nm_learn_opts *lo, nm_autoset_result *res)
{
    static const char *CMD = "train";
    size_t factor = ao->resample;
    int dt_given = ao->resample || ao->map_dt_ms > 0 || have_vae;
    if (ao->map_dt_ms > 0 && nm_resample_factor(series[0]->dt_ms, ao->map_dt_ms, &factor))
        return cli_usage_error(CMD, "--map-dt: %s", nm_last_error());
    if (!no_auto && !(thr_given && de_given && rollout_given && dt_given && smooth_given)) {
        /* With --vae the step is the autoencoder's: the rollout is measured in it. */
        nm_autoset_opts a = *ao;
        if (have_vae && !a.resample && !(a.map_dt_ms > 0)) a.resample = 1;
        nm_status st = nm_autoset((const nm_series *const *)series, n, &a, res);
        if (st == NM_EDATA)
            return cli_fail(CMD, "%s (flags: --threshold, --de, --rollout, --resample; or --no-auto)",
                            nm_last_error());
        if (st) return cli_lib_fail(CMD, st);
        unsigned used = 0;
        /* Spikes of the recorded series are counted with the hysteresis the
         * noise calls for (the selection's aim at every training p). */
        lo->hysteresis_mv = res->hysteresis_mv;
        if (!thr_given) {
            lo->threshold_mv = res->threshold_mv;
            used |= NM_AUTOSET_THRESHOLD;
            if (!quiet) fprintf(stderr, "auto: threshold %.1f mV (%s)\n", res->threshold_mv, res->threshold_why);
        }
        if (!dt_given) {
            factor = res->resample;
            used |= NM_AUTOSET_DT;
            if (!quiet) fprintf(stderr, "auto: map step %g ms (%s)\n", res->map_dt_ms, res->dt_why);
        }
        if (!de_given) {
            lo->vae.de = res->de;
            used |= NM_AUTOSET_DE;
            if (!quiet) fprintf(stderr, "auto: De %zu (%s)\n", res->de, res->de_why);
        }
        if (!rollout_given) {
            lo->map_nstages = 1;
            lo->map_rollout_len[0] = res->rollout;
            used |= NM_AUTOSET_ROLLOUT;
            if (!quiet) fprintf(stderr, "auto: rollout %zu steps (%s)\n", res->rollout, res->rollout_why);
        }
        if (!latent_given) {
            lo->vae.latent_dim = res->latent_dim;
            used |= NM_AUTOSET_LATENT;
            if (!quiet) fprintf(stderr, "auto: latent D %zu (%s)\n", res->latent_dim, res->latent_why);
        }
        if (!smooth_given) {
            lo->latent_smooth = res->smooth_steps;
            used |= NM_AUTOSET_SMOOTH;
            if (!quiet) fprintf(stderr, "auto: latent smoothing %g steps (%s)\n", res->smooth_steps, res->smooth_why);
        }
        lo->autoset = res;
        lo->autoset_used = used;
    }
    if (factor > 1) {
        for (size_t i = 0; i < n; i++) {
            nm_series *r = NULL;
            nm_status st = nm_series_resample(series[i], factor, &r);
            if (st) return cli_fail(CMD, "%s: %s", files[i], nm_last_error());
            nm_series_free(series[i]);
            series[i] = r;
        }
        if (!quiet)
            fprintf(stderr, "resampled every series by block averages of %zu: one map step is %g ms\n", factor,
                    series[0]->dt_ms);
    }
    for (size_t i = 0; i < n; i++)
        if (series[i]->n < lo->vae.de + 200)
            return cli_fail(CMD, "%s: %zu samples%s, fewer than De + 200 = %zu (a few hundred delay vectors)",
                            files[i], series[i]->n, factor > 1 ? " after resampling" : "", lo->vae.de + 200);
    return NM_EXIT_OK;
}

int cmd_train(int argc, char **argv)
{
    static const char *CMD = "train";
    enum { O_SERIES = 256, O_P, O_DT, O_OUT, O_DE, O_LATENT, O_HIDDEN, O_BETA, O_VEPOCHS, O_SMOOTH, O_MHIDDEN, O_MEPOCHS,
           O_NOISE, O_ROLLOUT, O_RITERS, O_THR, O_SEED, O_QUIET, O_ENS, O_VAE, O_RLR, O_RBATCH,
           O_RESAMPLE, O_MAPDT, O_NOAUTO, O_PNAME, O_PUNIT, O_THREADS };
    static const struct option opts[] = {
        {"series", required_argument, 0, O_SERIES}, {"p", required_argument, 0, O_P},
        {"dt", required_argument, 0, O_DT}, {"out", required_argument, 0, O_OUT},
        {"de", required_argument, 0, O_DE}, {"latent", required_argument, 0, O_LATENT},
        {"hidden", required_argument, 0, O_HIDDEN}, {"beta", required_argument, 0, O_BETA},
        {"vae-epochs", required_argument, 0, O_VEPOCHS}, {"smooth", required_argument, 0, O_SMOOTH}, {"map-hidden", required_argument, 0, O_MHIDDEN},
        {"map-epochs", required_argument, 0, O_MEPOCHS}, {"noise", required_argument, 0, O_NOISE},
        {"rollout", required_argument, 0, O_ROLLOUT}, {"rollout-iters", required_argument, 0, O_RITERS},
        {"threshold", required_argument, 0, O_THR}, {"seed", required_argument, 0, O_SEED},
        {"quiet", no_argument, 0, O_QUIET}, {"ensemble", required_argument, 0, O_ENS},
        {"vae", required_argument, 0, O_VAE}, {"rollout-lr", required_argument, 0, O_RLR},
        {"rollout-batch", required_argument, 0, O_RBATCH}, {"resample", required_argument, 0, O_RESAMPLE},
        {"map-dt", required_argument, 0, O_MAPDT}, {"no-auto", no_argument, 0, O_NOAUTO},
        {"p-name", required_argument, 0, O_PNAME}, {"p-unit", required_argument, 0, O_PUNIT},
        {"threads", required_argument, 0, O_THREADS}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *files[TRAIN_MAX_SERIES], *out = NULL, *vae_path = NULL, *vae_flag = NULL;
    double ps[TRAIN_MAX_SERIES], dt = 0, x;
    /* Settings given as flags (the rest is chosen from the data). */
    int thr_given = 0, de_given = 0, rollout_given = 0, latent_given = 0, smooth_given = 0, no_auto = 0;
    nm_autoset_opts ao;
    nm_autoset_opts_default(&ao);
    size_t nfiles = 0, nps = 0, n;
    unsigned long long u;
    nm_learn_opts lo;
    nm_learn_opts_default(&lo);
    cli_progress_state prog = {0};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': train_help(); return NM_EXIT_OK;
        case O_SERIES:
            if (nfiles == TRAIN_MAX_SERIES) return cli_usage_error(CMD, "at most %d series", TRAIN_MAX_SERIES);
            files[nfiles++] = optarg;
            break;
        case O_P:
            if (nps == TRAIN_MAX_SERIES) return cli_usage_error(CMD, "at most %d --p values", TRAIN_MAX_SERIES);
            if (cli_double(CMD, "--p", optarg, &ps[nps])) return NM_EXIT_USAGE;
            nps++;
            break;
        case O_DT:
            if (cli_double(CMD, "--dt", optarg, &dt)) return NM_EXIT_USAGE;
            if (!(dt > 0)) return cli_usage_error(CMD, "--dt must be > 0");
            break;
        case O_OUT: out = optarg; break;
        case O_VAE: vae_path = optarg; break;
        case O_DE:
            vae_flag = "--de";
            if (cli_ulong(CMD, "--de", optarg, &u)) return NM_EXIT_USAGE;
            if (u < 1 || u > 512) return cli_usage_error(CMD, "--de must be in 1..512");
            lo.vae.de = (size_t)u;
            de_given = 1;
            break;
        case O_LATENT:
            vae_flag = "--latent";
            if (cli_ulong(CMD, "--latent", optarg, &u)) return NM_EXIT_USAGE;
            if (u < 1 || u > 16) return cli_usage_error(CMD, "--latent must be in 1..16");
            lo.vae.latent_dim = (size_t)u;
            latent_given = 1;
            break;
        case O_HIDDEN:
            vae_flag = "--hidden";
            if (cli_size_list(CMD, "--hidden", optarg, lo.vae.hidden, 4, &lo.vae.nhidden, 512))
                return NM_EXIT_USAGE;
            break;
        case O_BETA:
            vae_flag = "--beta";
            if (cli_double_in(CMD, "--beta", optarg, 0, CLI_MAX_BETA, &lo.vae.beta)) return NM_EXIT_USAGE;
            break;
        case O_SMOOTH:
            if (cli_double_in(CMD, "--smooth", optarg, 0, 100, &lo.latent_smooth)) return NM_EXIT_USAGE;
            smooth_given = 1;
            break;
        case O_VEPOCHS:
            vae_flag = "--vae-epochs";
            if (cli_ulong_max(CMD, "--vae-epochs", optarg, CLI_MAX_EPOCHS, &u)) return NM_EXIT_USAGE;
            if (u < 1) return cli_usage_error(CMD, "--vae-epochs must be >= 1");
            lo.vae.epochs = (size_t)u;
            break;
        case O_MHIDDEN:
            if (cli_size_list(CMD, "--map-hidden", optarg, lo.map_hidden, 4, &lo.map_nhidden, 512))
                return NM_EXIT_USAGE;
            break;
        case O_MEPOCHS:
            if (cli_ulong_max(CMD, "--map-epochs", optarg, CLI_MAX_EPOCHS, &u)) return NM_EXIT_USAGE;
            lo.map_onestep_epochs = (size_t)u;
            break;
        case O_NOISE:
            if (cli_double(CMD, "--noise", optarg, &x)) return NM_EXIT_USAGE;
            if (x < 0) return cli_usage_error(CMD, "--noise must be >= 0");
            lo.map_noise = x;
            break;
        case O_ROLLOUT:
            if (cli_size_list(CMD, "--rollout", optarg, lo.map_rollout_len, 6, &n, 10000)) return NM_EXIT_USAGE;
            lo.map_nstages = n;
            rollout_given = 1;
            break;
        case O_RITERS:
            if (cli_ulong_max(CMD, "--rollout-iters", optarg, CLI_MAX_ITERS, &u)) return NM_EXIT_USAGE;
            for (size_t i = 0; i < 6; i++) lo.map_rollout_iters[i] = (size_t)u;
            break;
        case O_RBATCH:
            if (cli_ulong_max(CMD, "--rollout-batch", optarg, CLI_MAX_BATCH, &u)) return NM_EXIT_USAGE;
            if (u < 1 || u > 65536) return cli_usage_error(CMD, "--rollout-batch must be in 1..65536");
            lo.map_rollout_batch = (size_t)u;
            break;
        case O_RLR:
            if (cli_double_in(CMD, "--rollout-lr", optarg, -CLI_MAX_LR, CLI_MAX_LR, &x)) return NM_EXIT_USAGE;
            if (!(x > 0)) return cli_usage_error(CMD, "--rollout-lr must be > 0");
            lo.map_rollout_lr = x;
            break;
        case O_THR:
            if (cli_double(CMD, "--threshold", optarg, &lo.threshold_mv)) return NM_EXIT_USAGE;
            thr_given = 1;
            break;
        case O_SEED:
            if (cli_ulong(CMD, "--seed", optarg, &u)) return NM_EXIT_USAGE;
            lo.seed = u;
            break;
        case O_QUIET: prog.quiet = 1; break;
        case O_RESAMPLE:
            if (cli_ulong(CMD, "--resample", optarg, &u)) return NM_EXIT_USAGE;
            if (u < 1 || u > 100000) return cli_usage_error(CMD, "--resample must be in 1..100000");
            ao.resample = (size_t)u;
            break;
        case O_MAPDT:
            if (cli_double(CMD, "--map-dt", optarg, &ao.map_dt_ms)) return NM_EXIT_USAGE;
            if (!(ao.map_dt_ms > 0)) return cli_usage_error(CMD, "--map-dt must be > 0");
            break;
        case O_NOAUTO: no_auto = 1; break;
        case O_PNAME:
            if (nm_learned_check_p_label(optarg, NULL)) return cli_usage_error(CMD, "--p-name: %s", nm_last_error());
            lo.p_name = optarg;
            break;
        case O_PUNIT:
            if (nm_learned_check_p_label(NULL, optarg)) return cli_usage_error(CMD, "--p-unit: %s", nm_last_error());
            lo.p_unit = optarg;
            break;
        case O_THREADS:
            if (cli_ulong_max(CMD, "--threads", optarg, 256, &u)) return NM_EXIT_USAGE;
            lo.threads = (int)u;
            lo.vae.threads = (int)u;
            break;
        case O_ENS:
            if (cli_ulong(CMD, "--ensemble", optarg, &u)) return NM_EXIT_USAGE;
            if (u < 1 || u > 8) return cli_usage_error(CMD, "--ensemble must be in 1..8");
            lo.map_ensemble = (size_t)u;
            break;
        default: return cli_bad_option(CMD, argc, argv);
        }
    }
    if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (nfiles == 0) return cli_usage_error(CMD, "give at least one --series FILE --p VALUE");
    if (nfiles != nps)
        return cli_usage_error(CMD, "%zu --series but %zu --p: give one --p for every --series", nfiles, nps);
    if (!out) return cli_usage_error(CMD, "--out MODEL is required");
    if (vae_path && vae_flag)
        return cli_usage_error(CMD, "%s sets up a new autoencoder, but --vae gives a trained one: use one or the other",
                               vae_flag);
    if (ao.resample && ao.map_dt_ms > 0) return cli_usage_error(CMD, "give --resample or --map-dt, not both");
    /* Before the training: a bad --out should not cost minutes. */
    int orc = cli_output_check(CMD, out);
    if (orc) return orc;

    nm_series *series[TRAIN_MAX_SERIES] = {0};
    nm_learned *model = NULL;
    nm_vae *vae = NULL;
    char *command = NULL;
    int rc = NM_EXIT_OK;
    nm_status st;
    nm_autoset_result ares;
    if (vae_path) {
        if ((rc = cli_load_vae(CMD, vae_path, &vae))) goto done;
        lo.vae_pretrained = vae;
        lo.vae.de = nm_vae_embedding_len(vae);
        de_given = latent_given = 1;
    }
    for (size_t i = 0; i < nfiles; i++) {
        /* A series must hold at least a few hundred delay vectors (checked
         * again below once De and the map step are known). */
        st = nm_series_read(files[i], dt, ps[i], (de_given ? lo.vae.de : 8) + 200, &series[i]);
        if (st) {
            rc = cli_lib_fail(CMD, st);
            goto done;
        }
        if (!prog.quiet)
            fprintf(stderr, "series %zu: %s, p = %g, %zu samples every %g ms (%.1f s)\n", i + 1, files[i], ps[i],
                    series[i]->n, series[i]->dt_ms, (double)series[i]->n * series[i]->dt_ms / 1000.0);
    }
    if ((rc = train_auto(series, nfiles, files, &ao, no_auto, vae_path != NULL, thr_given, de_given, rollout_given,
                         latent_given, smooth_given, prog.quiet, &lo, &ares)))
        goto done;
    command = cli_join_args(argc, argv);
    lo.command = command;
    lo.progress = cli_progress;
    lo.progress_ctx = &prog;
    double t0 = cli_now_s();
    st = nm_learn((const nm_series *const *)series, nfiles, &lo, &model);
    if (st) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    st = nm_learned_save(model, out);
    if (st) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    if (!prog.quiet) {
        const nm_mf *mf = nm_learned_mf(model);
        double onestep = 0, roll = 0;
        int32_t matches = 0;
        nm_mf_get_scalar_f64(mf, "map.onestep_val_mse", &onestep);
        nm_mf_get_scalar_f64(mf, "map.rollout_mse", &roll);
        nm_mf_get_scalar_i32(mf, "map.select_matches", &matches);
        int32_t start_matches = 0;
        double robust = 0;
        const char *regimes = NULL;
        nm_mf_get_scalar_i32(mf, "map.start_matches", &start_matches);
        nm_mf_get_scalar_f64(mf, "map.start_robust", &robust);
        nm_mf_get_str(mf, "meta.start_regimes", &regimes);
        nm_vae_report vr;
        nm_vae_get_report(nm_learned_vae(model), &vr);
        fprintf(stderr,
                "trained in %.1f s: latent D = %zu (%zu active units), VAE val recon %.4g, map one-step val MSE "
                "%.3g, rollout MSE %.3g\n",
                cli_now_s() - t0, nm_learned_dim(model), vr.active_units, vr.val_recon, onestep, roll);
        if (!nm_learned_has_input(model))
            fprintf(stderr,
                    "training regimes reproduced by free runs from the stored start state: %d of %zu "
                    "(member 0 at its best checkpoint: %d; from %zu other start states: %.0f%% of runs)\n",
                    (int)start_matches, nfiles, (int)matches, 3 * nfiles, 100 * robust);
        else {
            /* Input-driven: judged by driven runs, not by free-run regimes. */
            double gamma = NAN, ulo, uhi;
            nm_mf_get_scalar_f64(mf, "map.select_gamma", &gamma);
            nm_learned_input_range(model, &ulo, &uhi);
            fprintf(stderr,
                    "input channel: %g..%g %s in training; driven runs on the held-out last 20%% of each series: "
                    "mean gamma %.3f (delta %g ms; `neuromap predict` for other recordings)\n",
                    ulo, uhi, nm_learned_input_unit(model), gamma, fmax(2.0, 2 * nm_learned_dt_ms(model)));
            regimes = NULL;
        }
        /* One line per training p: what the series does and what the model does. */
        for (const char *r = regimes; r && *r;) {
            const char *e = strstr(r, "; ");
            size_t len = e ? (size_t)(e - r) : strlen(r);
            char line[200], pv[40] = "", a[64] = "", b[64] = "", ok[16] = "";
            snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line - 1 ? len : sizeof line - 1), r);
            if (sscanf(line, "%39s %63s %63s %15s", pv, a, b, ok) == 4)
                fprintf(stderr, "  p = %-8s series %-22s model %-22s%s\n", pv, a, b,
                        strcmp(ok, "ok") == 0 ? "" : "  <- missed");
            r = e ? e + 2 : NULL;
        }
        fprintf(stderr, "wrote %s\n", out);
    }
done:
    for (size_t i = 0; i < nfiles; i++) nm_series_free(series[i]);
    nm_learned_free(model);
    nm_vae_free(vae);
    free(command);
    return rc;
}

static void run_help(void)
{
    printf("Usage: neuromap run MODEL --p VALUE --duration MS --out FILE [OPTIONS]\n"
           "\n"
           "Free-run a learned model at a constant control value: iterate the map from the\n"
           "model's start state, decode V after every step, and write t_ms,V_mV (CSV, or\n"
           "1-D .npy by extension).  Spikes are upward crossings of the model's threshold.\n"
           "\n"
           "Options:\n"
           "  --p VALUE          control value (required)\n"
           "  --duration MS      recorded span (required)\n"
           "  --transient MS     run and drop first (default 0)\n"
           "  --out FILE         V trace (required)\n"
           "  --spikes FILE      spike times (CSV t_ms)\n"
           "  --states FILE      latent states (CSV x1..xD, or .npy)\n"
           "  -h, --help         this help\n"
           "\n"
           "Example:\n"
           "  neuromap run srk.nmap --p -38 --duration 60000 --out learned.csv\n");
}

int cmd_run(int argc, char **argv)
{
    static const char *CMD = "run";
    enum { O_P = 256, O_DUR, O_TRANS, O_OUT, O_SPIKES, O_STATES };
    static const struct option opts[] = {
        {"p", required_argument, 0, O_P}, {"duration", required_argument, 0, O_DUR},
        {"transient", required_argument, 0, O_TRANS}, {"out", required_argument, 0, O_OUT},
        {"spikes", required_argument, 0, O_SPIKES}, {"states", required_argument, 0, O_STATES},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    double p = NAN, dur = NAN, trans = 0;
    const char *out = NULL, *spikes = NULL, *states = NULL;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': run_help(); return NM_EXIT_OK;
        case O_P:
            if (cli_double(CMD, "--p", optarg, &p)) return NM_EXIT_USAGE;
            break;
        case O_DUR:
            if (cli_double_in(CMD, "--duration", optarg, -CLI_MAX_TIME_MS, CLI_MAX_TIME_MS, &dur))
                return NM_EXIT_USAGE;
            break;
        case O_TRANS:
            if (cli_double_in(CMD, "--transient", optarg, -CLI_MAX_TIME_MS, CLI_MAX_TIME_MS, &trans))
                return NM_EXIT_USAGE;
            break;
        case O_OUT: out = optarg; break;
        case O_SPIKES: spikes = optarg; break;
        case O_STATES: states = optarg; break;
        default: return cli_bad_option(CMD, argc, argv);
        }
    }
    if (optind >= argc) return cli_usage_error(CMD, "missing MODEL");
    if (optind + 1 < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
    if (isnan(p)) return cli_usage_error(CMD, "--p VALUE is required");
    if (isnan(dur)) return cli_usage_error(CMD, "--duration MS is required");
    if (!(dur > 0)) return cli_usage_error(CMD, "--duration must be > 0");
    if (trans < 0) return cli_usage_error(CMD, "--transient must be >= 0");
    if (!out) return cli_usage_error(CMD, "--out FILE is required");
    /* Every output is checked first; a failure later removes what was written. */
    cli_outputs outs = {0};
    cli_outputs_add(&outs, "--out", out);
    cli_outputs_add(&outs, "--spikes", spikes);
    cli_outputs_add(&outs, "--states", states);
    int rc = cli_outputs_check(CMD, &outs);
    if (rc) return rc;

    nm_learned *m = NULL;
    nm_status st = nm_learned_load(argv[optind], &m);
    if (st) return cli_lib_fail(CMD, st);
    double h = nm_learned_dt_ms(m);
    size_t D = nm_learned_dim(m);
    size_t ntr = (size_t)llround(trans / h), nrec = (size_t)llround(dur / h) + 1;
    if ((double)(ntr + nrec) > 1e9) {
        nm_learned_free(m);
        return cli_usage_error(CMD, "more than 1e9 map steps requested");
    }
    double *v = malloc((ntr + nrec) * sizeof *v), *xs = malloc((ntr + nrec) * D * sizeof *xs);
    nm_series *s = nm_series_alloc(nrec, 0);
    double *times = NULL;
    char *buf = NULL;
    if (!v || !xs || !s) {
        rc = cli_fail(CMD, "out of memory");
        goto done;
    }
    st = nm_learned_run(m, p, NULL, ntr + nrec, v, xs);
    if (st) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    memcpy(s->v, v + ntr, nrec * sizeof *v);
    s->dt_ms = h;
    s->t0_ms = (double)(ntr + 1) * h;
    s->p = p;
    if ((st = nm_series_write(out, s, 0, NULL))) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    size_t ns = 0;
    if ((st = nm_spikes_detect(s->v, nrec, h, s->t0_ms, nm_learned_threshold_mv(m), &times, &ns))) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    size_t len = 0;
    FILE *f;
    if (spikes) {
        if (!(f = open_memstream(&buf, &len))) goto oom;
        fputs("t_ms\n", f);
        for (size_t i = 0; i < ns; i++) fprintf(f, "%.10g\n", times[i]);
        fclose(f);
        if ((st = nm_file_write_atomic(spikes, buf, len))) {
            rc = cli_lib_fail(CMD, st);
            goto done;
        }
        free(buf);
        buf = NULL;
    }
    if (states) {
        size_t sl = strlen(states);
        if (sl > 4 && strcmp(states + sl - 4, ".npy") == 0) {
            st = nm_npy_write(states, xs + ntr * D, nrec, D);
        } else {
            if (!(f = open_memstream(&buf, &len))) goto oom;
            for (size_t j = 0; j < D; j++) fprintf(f, j ? ",x%zu" : "x%zu", j + 1);
            fputc('\n', f);
            for (size_t i = ntr; i < ntr + nrec; i++)
                for (size_t j = 0; j < D; j++) fprintf(f, "%.9g%c", xs[i * D + j], j + 1 < D ? ',' : '\n');
            fclose(f);
            st = nm_file_write_atomic(states, buf, len);
        }
        if (st) {
            rc = cli_lib_fail(CMD, st);
            goto done;
        }
    }
    nm_regime r;
    if (nm_regime_classify(times, ns, dur, NULL, &r) == NM_OK) {
        char reg[32];
        fprintf(stderr, "p = %g: %zu spikes in %g ms, regime %s", p, ns, dur, nm_regime_format(&r, reg, sizeof reg));
        if (r.cls == NM_REGIME_PERIODIC) fprintf(stderr, ", period %.1f ms", r.period_ms);
        fputc('\n', stderr);
    }
    goto done;
oom:
    rc = cli_fail(CMD, "out of memory");
done:
    if (rc) cli_outputs_undo(&outs);
    free(buf);
    free(times);
    free(v);
    free(xs);
    nm_series_free(s);
    nm_learned_free(m);
    return rc;
}
