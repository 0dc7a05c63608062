/* cmd_vae.c -- `neuromap train-vae`, `vae-scan`, `encode` and `info`:
 * the variational autoencoder on delay vectors and the model file. */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* A growing text buffer (CSV output is built in memory and written          */
/* atomically: nothing half-written is ever left behind).                    */
/* ------------------------------------------------------------------------ */

typedef struct textbuf {
    char *s;
    size_t len, cap;
    int failed;
} textbuf;

/* train-vae and vae-scan score the objective `train` uses: its KL weight
 * (3e-5, nm_learn_opts_default; the VAE's own default 1e-3 reproduces the
 * reference experiment's per-unit KL, docs/vae.md, and is one --beta away). */
static double train_beta(void)
{
    nm_learn_opts lo;
    nm_learn_opts_default(&lo);
    return lo.vae.beta;
}

static void tb_printf(textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(textbuf *b, const char *fmt, ...)
{
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->len + (size_t)n) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static int tb_write(const char *cmd, textbuf *b, const char *path)
{
    if (b->failed) return cli_fail(cmd, "%s: out of memory while formatting", path);
    nm_status st = nm_file_write_atomic(path, b->s ? b->s : "", b->len);
    return st ? cli_lib_fail(cmd, st) : NM_EXIT_OK;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ------------------------------------------------------------------------ */
/* Options shared by train-vae and vae-scan                                  */
/* ------------------------------------------------------------------------ */

#define MAX_SERIES 256

typedef struct train_args {
    const char *series[MAX_SERIES];
    double p[MAX_SERIES];
    size_t nseries, np;
    double dt_ms;           /* for .npy / one-column CSV; 0 = from the file */
    const char *out;        /* model (train-vae) or output prefix (vae-scan) */
    const char *curves;     /* vae-scan: learning curves CSV */
    const char *table;      /* vae-scan: final table CSV */
    const char *models;     /* vae-scan: save each model as PREFIX_D<n>.nmap */
    unsigned long long dmax;
    int quiet;
    nm_vae_opts o;
} train_args;

enum { O_SERIES = 256, O_P, O_DT, O_OUT, O_DE, O_LATENT, O_HIDDEN, O_BETA, O_EPOCHS, O_BATCH,
       O_LR, O_SEED, O_VALFRAC, O_PATIENCE, O_QUIET, O_DMAX, O_CURVES, O_TABLE, O_MODELS, O_THREADS };

/* Parse the command line; returns -1 when the caller should exit with
 * *rc (help printed or a usage error), else 0. */
static int parse_train_args(const char *cmd, int argc, char **argv, int scan, void (*help)(void),
                            train_args *a, int *rc)
{
    static const struct option opts[] = {
        {"series", required_argument, 0, O_SERIES}, {"p", required_argument, 0, O_P},
        {"dt", required_argument, 0, O_DT}, {"out", required_argument, 0, O_OUT},
        {"de", required_argument, 0, O_DE}, {"latent", required_argument, 0, O_LATENT},
        {"hidden", required_argument, 0, O_HIDDEN}, {"beta", required_argument, 0, O_BETA},
        {"epochs", required_argument, 0, O_EPOCHS}, {"batch", required_argument, 0, O_BATCH},
        {"lr", required_argument, 0, O_LR}, {"seed", required_argument, 0, O_SEED},
        {"val-frac", required_argument, 0, O_VALFRAC}, {"patience", required_argument, 0, O_PATIENCE},
        {"quiet", no_argument, 0, O_QUIET}, {"dmax", required_argument, 0, O_DMAX},
        {"curves", required_argument, 0, O_CURVES}, {"table", required_argument, 0, O_TABLE},
        {"save-models", required_argument, 0, O_MODELS}, {"threads", required_argument, 0, O_THREADS},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    nm_vae_opts_default(&a->o);
    a->o.beta = train_beta();
    a->dmax = 5;
    unsigned long long u;
    opterr = 0;
    optind = 1;
    int c;
    *rc = NM_EXIT_USAGE;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        int scan_only = c == O_DMAX || c == O_CURVES || c == O_TABLE || c == O_MODELS;
        if ((scan_only && !scan) || (scan && c == O_LATENT)) {
            /* Name the option itself (argv[optind - 1] may be its value). */
            const char *name = "?";
            for (const struct option *o = opts; o->name; o++)
                if (o->val == c) name = o->name;
            if (scan)
                cli_usage_error(cmd, "--%s is not an option of %s: it trains D = 1..--dmax (did you mean --dmax?)",
                                name, cmd);
            else
                cli_usage_error(cmd, "--%s is not an option of %s (it is one of vae-scan)", name, cmd);
            return -1;
        }
        switch (c) {
        case 'h':
            help();
            *rc = NM_EXIT_OK;
            return -1;
        case O_SERIES:
            if (a->nseries == MAX_SERIES) {
                cli_usage_error(cmd, "at most %d --series", MAX_SERIES);
                return -1;
            }
            a->series[a->nseries++] = optarg;
            break;
        case O_P:
            if (a->np == MAX_SERIES) {
                cli_usage_error(cmd, "at most %d --p", MAX_SERIES);
                return -1;
            }
            if (cli_double(cmd, "--p", optarg, &a->p[a->np])) return -1;
            a->np++;
            break;
        case O_DT:
            if (cli_double(cmd, "--dt", optarg, &a->dt_ms)) return -1;
            if (!(a->dt_ms > 0)) {
                cli_usage_error(cmd, "--dt: must be > 0 (got %s)", optarg);
                return -1;
            }
            break;
        case O_OUT: a->out = optarg; break;
        case O_CURVES: a->curves = optarg; break;
        case O_TABLE: a->table = optarg; break;
        case O_MODELS: a->models = optarg; break;
        case 'q':
        case O_QUIET: a->quiet = 1; break;
        case O_HIDDEN:
            if (cli_size_list(cmd, "--hidden", optarg, a->o.hidden, 4, &a->o.nhidden, CLI_MAX_WIDTH))
                return -1;
            break;
        case O_BETA:
            if (cli_double_in(cmd, "--beta", optarg, 0, CLI_MAX_BETA, &a->o.beta)) return -1;
            break;
        case O_LR:
            if (cli_double_in(cmd, "--lr", optarg, -CLI_MAX_LR, CLI_MAX_LR, &a->o.lr)) return -1;
            break;
        case O_VALFRAC:
            if (cli_double(cmd, "--val-frac", optarg, &a->o.val_frac)) return -1;
            break;
        case O_SEED:
            if (cli_ulong(cmd, "--seed", optarg, &u)) return -1;
            a->o.seed = u;
            break;
        case O_THREADS:
            if (cli_ulong_max(cmd, "--threads", optarg, 256, &u)) return -1;
            a->o.threads = (int)u;
            break;
        case O_DE:
        case O_LATENT:
        case O_EPOCHS:
        case O_BATCH:
        case O_PATIENCE:
        case O_DMAX: {
            const char *opt = c == O_DE ? "--de" : c == O_LATENT ? "--latent" : c == O_EPOCHS ? "--epochs"
                              : c == O_BATCH ? "--batch" : c == O_PATIENCE ? "--patience" : "--dmax";
            /* --latent and --dmax get their 1..16 messages further on. */
            const unsigned long long max = c == O_DE ? CLI_MAX_DE : c == O_BATCH ? CLI_MAX_BATCH : CLI_MAX_EPOCHS;
            if (cli_ulong_max(cmd, opt, optarg, max, &u)) return -1;
            if (c == O_DE) a->o.de = (size_t)u;
            if (c == O_LATENT) a->o.latent_dim = (size_t)u;
            if (c == O_EPOCHS) a->o.epochs = (size_t)u;
            if (c == O_BATCH) a->o.batch = (size_t)u;
            if (c == O_PATIENCE) a->o.patience = (size_t)u;
            if (c == O_DMAX) a->dmax = u;
            break;
        }
        default: *rc = cli_bad_option(cmd, argc, argv); return -1;
        }
    }
    if (optind < argc) {
        cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (a->nseries == 0) {
        cli_usage_error(cmd, "at least one --series FILE --p VALUE is required");
        return -1;
    }
    if (a->np != a->nseries) {
        cli_usage_error(cmd,
                        "%zu --series but %zu --p: give each series its control value, in the "
                        "same order",
                        a->nseries, a->np);
        return -1;
    }
    if (!a->out && !scan) {
        cli_usage_error(cmd, "--out MODEL is required");
        return -1;
    }
    if (scan && !a->curves && !a->table && !a->models) {
        cli_usage_error(cmd, "give at least one of --curves FILE, --table FILE, --save-models PREFIX");
        return -1;
    }
    if (scan && (a->dmax < 1 || a->dmax > 16)) {
        cli_usage_error(cmd, "--dmax: must be in 1..16 (got %llu)", a->dmax);
        return -1;
    }
    *rc = NM_EXIT_OK;
    return 0;
}

static int read_all(const char *cmd, const train_args *a, nm_series **s)
{
    for (size_t i = 0; i < a->nseries; i++) {
        nm_status st = nm_series_read(a->series[i], a->dt_ms, a->p[i], a->o.de > 0 ? a->o.de : 1, &s[i]);
        if (st) return cli_lib_fail(cmd, st);
    }
    return NM_EXIT_OK;
}

/* Per-epoch progress on stderr, in the format of `neuromap train`
 * (cli_progress); vae-scan adds the latent dimension to the stage name. */
typedef struct progress_ctx {
    const char *label;   /* "" or " D=3" */
    cli_progress_state cp;
    /* vae-scan: the learning curves, appended as CSV rows. */
    textbuf *curves;
    size_t dim;
} progress_ctx;

static int on_progress(const nm_train_progress *p, void *ctx_)
{
    progress_ctx *ctx = ctx_;
    if (ctx->curves)
        tb_printf(ctx->curves, "%zu,%zu,%.9g,%.9g,%.9g,%.9g\n", ctx->dim, p->epoch, p->loss,
                  p->val_loss, p->recon, p->kl);
    char stage[64];
    snprintf(stage, sizeof stage, "%s%s", p->stage, ctx->label);
    nm_train_progress q = *p;
    q.stage = stage;
    return cli_progress(&q, &ctx->cp);
}

static void print_report(FILE *f, const char *indent, size_t dim, const nm_vae_report *r)
{
    fprintf(f, "%sepochs %zu  loss %.5f  val_loss %.5f  recon %.5f  val_recon %.5f  KL %.4f nats\n",
            indent, r->epochs_run, r->loss, r->val_loss, r->recon, r->val_recon, r->kl);
    fprintf(f, "%sper-unit KL (nats):", indent);
    for (size_t j = 0; j < dim; j++) fprintf(f, " %.4f", r->unit_kl[j]);
    fprintf(f, "\n%svar(mu_j):         ", indent);
    for (size_t j = 0; j < dim; j++) fprintf(f, " %.4f", r->unit_var[j]);
    fprintf(f, "\n%sactive units: %zu of %zu (var(mu_j) > %g)\n", indent, r->active_units, dim,
            NM_ACTIVE_UNIT_VAR);
}

/* The VAE plus training metadata ("meta.vae_*") into a model file. */
static int write_model(const char *cmd, const nm_vae *vae, const train_args *a, int argc,
                       char **argv, const char *path)
{
    nm_mf *mf = nm_mf_alloc();
    char *line = cli_join_args(argc, argv);
    nm_status st = (!mf || !line) ? NM_ENOMEM : NM_OK;
    if (!st) st = nm_vae_to_mf(vae, mf);
    if (!st) st = nm_mf_add_str(mf, "meta.vae_command", line);
    if (!st) st = nm_mf_add_scalar_u64(mf, "meta.vae_seed", a->o.seed);
    if (!st) st = nm_mf_add_f64(mf, "meta.vae_train_p", a->p, a->nseries);
    if (!st) st = nm_mf_write(mf, path);
    int rc = st ? cli_lib_fail(cmd, st) : NM_EXIT_OK;
    free(line);
    nm_mf_free(mf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* train-vae                                                                 */
/* ------------------------------------------------------------------------ */

static void help_train(void)
{
    nm_vae_opts o;
    nm_vae_opts_default(&o);
    o.beta = train_beta();
    printf("Usage: neuromap train-vae --series FILE --p VALUE [--series FILE --p VALUE ...]\n"
           "                          --out MODEL [OPTIONS]\n"
           "\n"
           "Train the variational autoencoder on delay vectors of one or more voltage series\n"
           "(V normalised by the mean and std of all series; R(n) = [V(n), ..., V(n-De+1)];\n"
           "delay vectors never straddle two series) and write a model file holding the\n"
           "normalisation, De, the encoder and the decoder (sections norm, embed, vae) and\n"
           "metadata (meta.vae_command, meta.vae_seed, meta.vae_train_p).  The end of each\n"
           "series (--val-frac of it) is held out for validation and early stopping.\n"
           "The --p values are stored for the map trainer; the VAE itself ignores them.\n"
           "\n"
           "Options:\n"
           "  --series FILE      a series: CSV (t_ms,V_mV or V) or 1-D .npy (repeatable)\n"
           "  --p VALUE          control value of the series at the same position (repeatable)\n"
           "  --dt MS            sampling step for .npy / one-column CSV files\n"
           "  --out MODEL        model file to write (required)\n"
           "  --de N             delay-embedding length De (default %zu)\n"
           "  --latent D         latent dimension (default %zu)\n"
           "  --hidden W1,W2     encoder hidden widths, the decoder mirrors them (default %zu,%zu)\n"
           "  --beta X           weight of the KL term (default %g)\n"
           "  --epochs N         maximum epochs (default %zu)\n"
           "  --batch N          minibatch rows (default %zu)\n"
           "  --lr X             Adam step size (default %g)\n"
           "  --val-frac X       share of each series' end held out (default %g)\n"
           "  --patience N       early stopping: epochs without improvement (default %zu)\n"
           "  --seed N           seed (default %llu); the same seed and data give an identical\n"
           "                     model file (for every --threads; docs/vae.md)\n"
           "  --threads N        worker threads (default 0 = all cores); the model does not\n"
           "                     depend on it\n"
           "  -q, --quiet        no per-epoch progress on stderr\n"
           "  -h, --help         this help\n"
           "\n"
           "Example:\n"
           "  neuromap simulate --model srk --p -38 --duration 200000 --out v38.csv\n"
           "  neuromap train-vae --series v38.csv --p -38 --latent 3 --out srk.nmap\n",
           o.de, o.latent_dim, o.hidden[0], o.hidden[1], o.beta, o.epochs, o.batch, o.lr,
           o.val_frac, o.patience, (unsigned long long)o.seed);
}

int cmd_train_vae(int argc, char **argv)
{
    static const char *CMD = "train-vae";
    train_args a;
    int rc;
    if (parse_train_args(CMD, argc, argv, 0, help_train, &a, &rc)) return rc;
    if ((rc = cli_output_check(CMD, a.out))) return rc;
    nm_series *s[MAX_SERIES] = {0};
    nm_vae *vae = NULL;
    if ((rc = read_all(CMD, &a, s))) goto done;
    progress_ctx pc = {"", {a.quiet, "", 0}, NULL, a.o.latent_dim};
    a.o.progress = on_progress;
    a.o.progress_ctx = &pc;
    nm_vae_report r;
    nm_status st = nm_vae_train((const nm_series *const *)s, a.nseries, &a.o, &vae, &r);
    if (st) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    if ((rc = write_model(CMD, vae, &a, argc, argv, a.out))) goto done;
    if (!a.quiet) print_report(stderr, "", a.o.latent_dim, &r);
done:
    nm_vae_free(vae);
    for (size_t i = 0; i < a.nseries; i++) nm_series_free(s[i]);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* vae-scan                                                                  */
/* ------------------------------------------------------------------------ */

static void help_scan(void)
{
    printf("Usage: neuromap vae-scan --series FILE --p VALUE [...] [--dmax N]\n"
           "                         [--curves FILE] [--table FILE] [--save-models PREFIX]\n"
           "\n"
           "Train the VAE at latent dimension D = 1..Dmax on the same data (every option of\n"
           "train-vae except --latent), print a table of final losses, per-unit KL and\n"
           "active units (var(mu_j) > %g), and name the chosen D with the reason:\n"
           "k = active units at D = Dmax (surplus units collapse to the prior); D = k unless\n"
           "its validation reconstruction is more than %.0f%% worse than the best, then the\n"
           "smallest D within it (docs/vae.md).\n"
           "\n"
           "The KL weight is train's (--beta, default 3e-5), so the scan scores the\n"
           "autoencoder train would build; --beta 1e-3 is the reference experiment's.\n"
           "\n"
           "Options (besides those of train-vae):\n"
           "  --dmax N             largest D (default 5, at most 16)\n"
           "  --curves FILE        learning curves, CSV D,epoch,loss,val_loss,recon,kl\n"
           "  --table FILE         final table, CSV D,epochs,loss,val_loss,recon,val_recon,kl,\n"
           "                       active_units,kl_1..kl_Dmax,var_1..var_Dmax\n"
           "  --save-models PREFIX also write each model as PREFIX_D<n>.nmap\n"
           "\n"
           "The chosen D is printed last on stdout as 'chosen D = N'.\n"
           "\n"
           "Example:\n"
           "  neuromap vae-scan --series v38.csv --p -38 --series v31.csv --p -31 \\\n"
           "      --dmax 5 --curves curves.csv --table table.csv\n",
           NM_ACTIVE_UNIT_VAR, 100 * NM_VAE_SCAN_RECON_RTOL);
}

int cmd_vae_scan(int argc, char **argv)
{
    static const char *CMD = "vae-scan";
    train_args a;
    int rc;
    if (parse_train_args(CMD, argc, argv, 1, help_scan, &a, &rc)) return rc;
    nm_series *s[MAX_SERIES] = {0};
    nm_vae_report rep[16];
    textbuf curves = {0}, table = {0};
    /* Every output is checked before the trainings; a failure removes what
     * this run wrote. */
    char *model_path[16] = {0};
    cli_outputs outs = {0};
    cli_outputs_add(&outs, "--curves", a.curves);
    cli_outputs_add(&outs, "--table", a.table);
    for (size_t d = 1; a.models && d <= (size_t)a.dmax; d++) {
        size_t len = strlen(a.models) + 32;
        if (!(model_path[d - 1] = malloc(len))) {
            rc = cli_fail(CMD, "out of memory");
            goto done;
        }
        snprintf(model_path[d - 1], len, "%s_D%zu.nmap", a.models, d);
        cli_outputs_add(&outs, "--save-models", model_path[d - 1]);
    }
    if ((rc = cli_outputs_check(CMD, &outs))) goto done;
    if ((rc = read_all(CMD, &a, s))) goto done;
    tb_printf(&curves, "D,epoch,loss,val_loss,recon,kl\n");
    const size_t dmax = (size_t)a.dmax;
    for (size_t d = 1; d <= dmax; d++) {
        char label[32];
        snprintf(label, sizeof label, " D=%zu", d);
        progress_ctx pc = {label, {a.quiet, "", 0}, &curves, d};
        nm_vae_opts o = a.o;
        o.latent_dim = d;
        o.progress = on_progress;
        o.progress_ctx = &pc;
        nm_vae *vae = NULL;
        nm_status st = nm_vae_train((const nm_series *const *)s, a.nseries, &o, &vae, &rep[d - 1]);
        if (st) {
            fprintf(stderr, "neuromap %s: D = %zu: ", CMD, d);
            rc = cli_lib_fail(CMD, st);
            goto done;
        }
        if (a.models) {
            a.o.latent_dim = d;
            rc = write_model(CMD, vae, &a, argc, argv, model_path[d - 1]);
        }
        nm_vae_free(vae);
        if (rc) goto done;
    }
    /* The table: stdout (readable) and --table (CSV). */
    tb_printf(&table, "D,epochs,loss,val_loss,recon,val_recon,kl,active_units");
    for (size_t j = 1; j <= dmax; j++) tb_printf(&table, ",kl_%zu", j);
    for (size_t j = 1; j <= dmax; j++) tb_printf(&table, ",var_%zu", j);
    tb_printf(&table, "\n");
    printf("%3s %6s %10s %10s %10s %10s %8s %6s  per-unit KL (nats)\n", "D", "epochs", "loss",
           "val_loss", "recon", "val_recon", "KL", "active");
    for (size_t d = 1; d <= dmax; d++) {
        const nm_vae_report *r = &rep[d - 1];
        tb_printf(&table, "%zu,%zu,%.9g,%.9g,%.9g,%.9g,%.9g,%zu", d, r->epochs_run, r->loss,
                  r->val_loss, r->recon, r->val_recon, r->kl, r->active_units);
        for (size_t j = 0; j < dmax; j++) tb_printf(&table, ",%.9g", j < d ? r->unit_kl[j] : 0.0);
        for (size_t j = 0; j < dmax; j++) tb_printf(&table, ",%.9g", j < d ? r->unit_var[j] : 0.0);
        tb_printf(&table, "\n");
        printf("%3zu %6zu %10.5f %10.5f %10.5f %10.5f %8.4f %6zu ", d, r->epochs_run, r->loss,
               r->val_loss, r->recon, r->val_recon, r->kl, r->active_units);
        for (size_t j = 0; j < d; j++) printf(" %.3f", r->unit_kl[j]);
        printf("\n");
    }
    size_t chosen = 0;
    char reason[1024];
    nm_status st = nm_vae_select_dim(rep, dmax, NM_VAE_SCAN_RECON_RTOL, &chosen, reason, sizeof reason);
    if (st) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    if (a.curves && (rc = tb_write(CMD, &curves, a.curves))) goto done;
    if (a.table && (rc = tb_write(CMD, &table, a.table))) goto done;
    printf("\n%s\nchosen D = %zu\n", reason, chosen);
done:
    if (rc) cli_outputs_undo(&outs);
    for (size_t d = 0; d < 16; d++) free(model_path[d]);
    free(curves.s);
    free(table.s);
    for (size_t i = 0; i < a.nseries; i++) nm_series_free(s[i]);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* encode                                                                    */
/* ------------------------------------------------------------------------ */

static void help_encode(void)
{
    printf("Usage: neuromap encode MODEL SERIES --out FILE [--dt MS]\n"
           "\n"
           "Write the encoder means mu(n) (the recovered latent state) of every complete\n"
           "delay vector of SERIES: CSV with header mu1,...,muD, or a [rows x D] float64\n"
           ".npy when FILE ends in .npy.  Row r belongs to sample r + De - 1 of the series.\n"
           "The series must be sampled at the model's step (--dt for .npy / one-column CSV;\n"
           "default: the model's).\n"
           "\n"
           "Example:\n"
           "  neuromap encode srk.nmap v38.csv --out mu38.csv\n");
}

int cmd_encode(int argc, char **argv)
{
    static const char *CMD = "encode";
    enum { E_OUT = 256, E_DT };
    static const struct option opts[] = {{"out", required_argument, 0, E_OUT},
                                         {"dt", required_argument, 0, E_DT},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    double dt = 0;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help_encode(); return NM_EXIT_OK;
        case E_OUT: out = optarg; break;
        case E_DT:
            if (cli_double(CMD, "--dt", optarg, &dt)) return NM_EXIT_USAGE;
            if (!(dt > 0)) return cli_usage_error(CMD, "--dt: must be > 0 (got %s)", optarg);
            break;
        default: return cli_bad_option(CMD, argc, argv);
        }
    }
    if (argc - optind != 2) return cli_usage_error(CMD, "expected MODEL and SERIES (got %d arguments)", argc - optind);
    if (!out) return cli_usage_error(CMD, "--out FILE is required");
    int orc = cli_output_check(CMD, out);
    if (orc) return orc;
    const char *model = argv[optind], *series = argv[optind + 1];
    nm_vae *vae = NULL;
    nm_series *s = NULL;
    double *mu = NULL;
    size_t rows = 0;
    int rc = cli_load_vae(CMD, model, &vae);
    if (rc) return rc;
    const size_t D = nm_vae_latent_dim(vae);
    nm_status st = nm_series_read(series, dt > 0 ? dt : nm_vae_dt_ms(vae), 0, nm_vae_embedding_len(vae), &s);
    if (!st) st = nm_vae_encode(vae, s, &mu, &rows);
    if (st) {
        rc = cli_lib_fail(CMD, st);
        goto done;
    }
    if (has_suffix(out, ".npy")) {
        if ((st = nm_npy_write(out, mu, rows, D))) rc = cli_lib_fail(CMD, st);
    } else {
        textbuf b = {0};
        for (size_t j = 0; j < D; j++) tb_printf(&b, "%smu%zu", j ? "," : "", j + 1);
        tb_printf(&b, "\n");
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < D; j++) tb_printf(&b, "%.9g%c", mu[r * D + j], j + 1 < D ? ',' : '\n');
        rc = tb_write(CMD, &b, out);
        free(b.s);
    }
done:
    free(mu);
    nm_series_free(s);
    nm_vae_free(vae);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* info                                                                      */
/* ------------------------------------------------------------------------ */

static void help_info(void)
{
    printf("Usage: neuromap info MODEL\n"
           "\n"
           "Check a model file (the checksum, every size, the sections against each other,\n"
           "every value against its range: the checks `run` makes, or for a file without a\n"
           "map those `encode` makes) and print its contents: a summary of the VAE (De, D,\n"
           "layers, losses, per-unit KL), then every entry with its type, length and values\n"
           "(short arrays in full, long ones as count, min, max, mean).  A file that fails\n"
           "the checks is listed, and the exit status is 1 with the message `run` gives.\n"
           "\n"
           "Example:\n"
           "  neuromap info srk.nmap\n");
}

/* Element i of a numeric entry as a double. */
static double elem(nm_mf_type t, const void *data, size_t i)
{
    switch (t) {
    case NM_MF_I32: return ((const int32_t *)data)[i];
    case NM_MF_I64: return (double)((const int64_t *)data)[i];
    case NM_MF_U64: return (double)((const uint64_t *)data)[i];
    case NM_MF_F32: return ((const float *)data)[i];
    case NM_MF_F64: return ((const double *)data)[i];
    default: return NAN;
    }
}

/* Entries with at most this many elements are printed in full. */
#define INFO_SHORT 8
/* Strings longer than this are cut in the listing. */
#define INFO_STR_MAX 160

static void print_entry(const char *name, nm_mf_type t, size_t n, const void *data)
{
    printf("  %-24s %-4s %8zu  ", name, nm_mf_type_name(t), n);
    if (t == NM_MF_STR) {
        const char *s = data;
        size_t show = n < INFO_STR_MAX ? n : INFO_STR_MAX;
        printf("\"");
        for (size_t i = 0; i < show; i++) putchar(s[i] == '\n' ? ' ' : s[i]);
        printf("\"%s\n", n > show ? "..." : "");
        return;
    }
    if (n <= INFO_SHORT) {
        for (size_t i = 0; i < n; i++) {
            if (t == NM_MF_I32) printf("%s%d", i ? " " : "", (int)((const int32_t *)data)[i]);
            else if (t == NM_MF_I64) printf("%s%lld", i ? " " : "", (long long)((const int64_t *)data)[i]);
            else if (t == NM_MF_U64) printf("%s%llu", i ? " " : "", (unsigned long long)((const uint64_t *)data)[i]);
            else printf("%s%.6g", i ? " " : "", elem(t, data, i));
        }
        printf("\n");
        return;
    }
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; i++) {
        double x = elem(t, data, i);
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
        sum += x;
    }
    printf("min %.4g  max %.4g  mean %.4g\n", lo, hi, sum / (double)n);
}

/* Names of the activation codes stored in the model file (src/nn/nn.h). */
static const char *act_name(int32_t a)
{
    static const char *const names[] = {"identity", "tanh", "relu", "softplus", "sigmoid"};
    return a >= 0 && a < 5 ? names[a] : "?";
}

static void print_vae_header(const nm_vae *vae, const nm_mf *mf)
{
    nm_vae_report r;
    nm_vae_get_report(vae, &r);
    const size_t D = nm_vae_latent_dim(vae);
    printf("VAE\n  De %zu samples at %g ms (window %g ms), latent D %zu\n", nm_vae_embedding_len(vae),
           nm_vae_dt_ms(vae), nm_vae_dt_ms(vae) * (double)nm_vae_embedding_len(vae), D);
    const char *nets[2][2] = {{"vae.enc.sizes", "vae.enc.acts"}, {"vae.dec.sizes", "vae.dec.acts"}};
    for (int k = 0; k < 2; k++) {
        const int32_t *sz, *act;
        size_t n;
        if (nm_mf_get_i32(mf, nets[k][0], NM_MF_ANY, &sz, &n) ||
            nm_mf_get_i32(mf, nets[k][1], n - 1, &act, NULL))
            continue;
        printf("  %s ", k ? "decoder" : "encoder");
        for (size_t i = 0; i < n; i++) printf("%s%d", i ? "-" : "", (int)sz[i]);
        printf(" (");
        for (size_t i = 0; i + 1 < n; i++) printf("%s%s", i ? "," : "", act_name(act[i]));
        printf(")\n");
    }
    double mean = 0, sd = 0, beta = 0;
    nm_mf_get_scalar_f64(mf, "norm.v_mean", &mean);
    nm_mf_get_scalar_f64(mf, "norm.v_std", &sd);
    nm_mf_get_scalar_f64(mf, "vae.beta", &beta);
    printf("  normalisation: V mean %.4g mV, std %.4g mV; beta %g\n", mean, sd, beta);
    print_report(stdout, "  ", D, &r);
}

/* The V head (src/learn/vhead.h), if the file has one: its shape, and the
 * fit's error against the decoder when stored (vhead.rms_mv / vhead.max_mv). */
static void print_vhead(const nm_mf *mf)
{
    const int32_t *sz, *act;
    size_t n;
    if (nm_mf_get_i32(mf, "vhead.sizes", NM_MF_ANY, &sz, &n) || n < 2 ||
        nm_mf_get_i32(mf, "vhead.acts", n - 1, &act, NULL))
        return;
    printf("V head: ");
    for (size_t i = 0; i < n; i++) printf("%s%d", i ? "-" : "", (int)sz[i]);
    printf(" (");
    for (size_t i = 0; i + 1 < n; i++) printf("%s%s", i ? "," : "", act_name(act[i]));
    printf("; replaces the decoder at run time");
    double rms, mx;
    if (nm_mf_get_scalar_f64(mf, "vhead.rms_mv", &rms) == NM_OK) printf("; fitted rms %.3g mV", rms);
    if (nm_mf_get_scalar_f64(mf, "vhead.max_mv", &mx) == NM_OK) printf(", max %.3g mV", mx);
    printf(")\n");
}

int cmd_info(int argc, char **argv)
{
    static const char *CMD = "info";
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help_info(); return NM_EXIT_OK;
        default: return cli_bad_option(CMD, argc, argv);
        }
    }
    if (argc - optind != 1) return cli_usage_error(CMD, "expected one MODEL file (got %d arguments)", argc - optind);
    const char *path = argv[optind];
    nm_mf *mf = NULL;
    nm_status st = nm_mf_read(path, &mf);
    if (st) return cli_lib_fail(CMD, st);
    unsigned major, minor;
    size_t skipped;
    nm_mf_format(mf, &major, &minor, &skipped);
    printf("%s: neuromap model file, format %u.%u, %zu entries", path, major, minor, nm_mf_count(mf));
    if (skipped) printf(" (%zu of a newer minor version skipped)", skipped);
    printf("\n");
    int rc = NM_EXIT_OK;
    /* The library's one validation: for a file with a map exactly what `run`
     * checks (same message), for an autoencoder what `encode` needs.  A bad
     * file is still listed, but refused. */
    nm_mf_kind kind = nm_mf_kind_of(mf);
    st = nm_mf_validate(mf, path, kind);
    if (st) {
        rc = cli_lib_fail(CMD, st);
    } else {
        nm_vae *vae = NULL;
        if (nm_vae_from_mf(mf, &vae) == NM_OK) print_vae_header(vae, mf);
        nm_vae_free(vae);
        print_vhead(mf);
        nm_learned *lm = NULL;
        if (kind == NM_MF_KIND_LEARNED && nm_learned_from_mf(mf, path, &lm) == NM_OK) {
            /* meta.p_name / meta.p_unit (defaults for older files) and the
             * default p of a NEURON cell: the centre of the training range */
            double pmin, pmax;
            const char *unit = nm_learned_p_unit(lm);
            nm_learned_p_range(lm, &pmin, &pmax);
            printf("Control parameter\n  p name %s, unit %s; trained at %g..%g; default p %g (the centre of the "
                   "training range)\n", nm_learned_p_name(lm), *unit ? unit : "(none)", pmin, pmax,
                   nm_learned_p_default(lm));
        }
        nm_learned_free(lm);
        printf(kind == NM_MF_KIND_LEARNED ? "Valid learned model (autoencoder and map): `run` can use it\n"
                                          : "Valid autoencoder without a map: `encode` and `train --vae` can use "
                                            "it, `run` needs a map (`neuromap train`)\n");
    }
    printf("Entries (name, type, length, values):\n");
    for (size_t i = 0; i < nm_mf_count(mf); i++) {
        const char *name;
        nm_mf_type t;
        size_t n;
        const void *data;
        if (nm_mf_entry(mf, i, &name, &t, &n, &data) == NM_OK) print_entry(name, t, n, data);
    }
    nm_mf_free(mf);
    return rc;
}
