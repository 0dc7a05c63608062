/* cli_util.c -- option parsing and error reporting for the subcommands. */
#define _GNU_SOURCE
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

static int vreport(const char *cmd, int code, const char *fmt, va_list ap)
{
    fprintf(stderr, "neuromap %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return code;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, NM_EXIT_USAGE, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'neuromap %s --help'.\n", cmd);
    return NM_EXIT_USAGE;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vreport(cmd, NM_EXIT_FAIL, fmt, ap);
    va_end(ap);
    return r;
}

int cli_lib_fail(const char *cmd, nm_status st)
{
    const char *msg = nm_last_error();
    return cli_fail(cmd, "%s", *msg ? msg : nm_strerror(st));
}

int cli_double_in(const char *cmd, const char *opt, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    /* ERANGE with a finite result is underflow (a subnormal, or a value that
     * rounds to 0): the nearest double is the right reading. */
    if (errno == ERANGE && isfinite(x)) errno = 0;
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(x)) {
        cli_usage_error(cmd, "%s: '%s' is not a finite number", opt, text);
        return -1;
    }
    if (x < lo || x > hi) {
        if (lo == -hi)
            cli_usage_error(cmd, "%s: %s is out of range: the limit is %g in magnitude (docs/limits.md)", opt,
                            text, hi);
        else
            cli_usage_error(cmd, "%s: %s is out of range: the limit is %g .. %g (docs/limits.md)", opt, text, lo,
                            hi);
        return -1;
    }
    *out = x;
    return 0;
}

int cli_double(const char *cmd, const char *opt, const char *text, double *out)
{
    return cli_double_in(cmd, opt, text, -CLI_MAX_ABS, CLI_MAX_ABS, out);
}

int cli_ulong_max(const char *cmd, const char *opt, const char *text, unsigned long long max,
                  unsigned long long *out)
{
    char *end;
    errno = 0;
    if (*text == '-') {
        cli_usage_error(cmd, "%s: '%s' must be a non-negative integer", opt, text);
        return -1;
    }
    unsigned long long x = strtoull(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE) {
        cli_usage_error(cmd, "%s: '%s' is not a non-negative integer%s", opt, text,
                        errno == ERANGE ? " below 2^64" : "");
        return -1;
    }
    if (x > max) {
        cli_usage_error(cmd, "%s: %s is out of range: the limit is %llu (docs/limits.md)", opt, text, max);
        return -1;
    }
    *out = x;
    return 0;
}

int cli_ulong(const char *cmd, const char *opt, const char *text, unsigned long long *out)
{
    return cli_ulong_max(cmd, opt, text, ULLONG_MAX, out);
}

void cli_outputs_add(cli_outputs *o, const char *opt, const char *path)
{
    if (path && o->n < CLI_MAX_OUTPUTS) {
        o->opt[o->n] = opt;
        o->path[o->n++] = path;
    }
}

int cli_outputs_check(const char *cmd, cli_outputs *o)
{
    for (size_t i = 0; i < o->n; i++) {
        for (size_t j = 0; j < i; j++)
            if (!strcmp(o->path[i], o->path[j]))
                return cli_usage_error(cmd, "%s and %s name the same file %s", o->opt[j], o->opt[i], o->path[i]);
        if (nm_output_check(o->path[i]) != NM_OK) return cli_fail(cmd, "%s: %s", o->opt[i], nm_last_error());
        struct stat sb;
        o->existed[i] = lstat(o->path[i], &sb) == 0;
    }
    return NM_EXIT_OK;
}

void cli_outputs_undo(const cli_outputs *o)
{
    for (size_t i = 0; i < o->n; i++) {
        struct stat sb;
        if (!o->existed[i] && lstat(o->path[i], &sb) == 0 && S_ISREG(sb.st_mode)) unlink(o->path[i]);
    }
}

int cli_output_check(const char *cmd, const char *path)
{
    if (path && nm_output_check(path) != NM_OK) return cli_fail(cmd, "%s", nm_last_error());
    return NM_EXIT_OK;
}

int cli_model_param(const char *cmd, nm_model *m, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        cli_usage_error(cmd, "--param: expected NAME=VALUE, got '%s'", assignment);
        return -1;
    }
    char name[64];
    size_t len = (size_t)(eq - assignment);
    if (len >= sizeof name) {
        cli_usage_error(cmd, "--param: name too long in '%s'", assignment);
        return -1;
    }
    memcpy(name, assignment, len);
    name[len] = '\0';
    double value;
    if (cli_double(cmd, "--param", eq + 1, &value)) return -1;
    nm_status st = nm_model_set_param(m, name, value);
    if (st) {
        cli_usage_error(cmd, "--param %s: %s", name, nm_last_error());
        return -1;
    }
    return 0;
}

int cli_bad_option(const char *cmd, int argc, char **argv)
{
    /* getopt_long leaves optind past the offending element. */
    const char *bad = (optind > 0 && optind <= argc) ? argv[optind - 1] : "?";
    if (optopt && optopt < 256 && optopt != '?')
        return cli_usage_error(cmd, "option '-%c' is unknown or needs a value", optopt);
    return cli_usage_error(cmd, "option '%s' is unknown or needs a value", bad);
}

void cli_sim_opts(const nm_model *m, const nm_sim_opts *user, nm_sim_opts *so)
{
    nm_model_sim_opts_default(m, so);
    if (!isnan(user->duration_ms)) so->duration_ms = user->duration_ms;
    if (!isnan(user->dt_ms)) so->dt_ms = user->dt_ms;
    if (!isnan(user->transient_ms)) so->transient_ms = user->transient_ms;
    if (!isnan(user->rtol)) so->rtol = user->rtol;
    if (!isnan(user->atol)) so->atol = user->atol;
    so->noise_mv = user->noise_mv;
    so->noise_tau_ms = user->noise_tau_ms;
    so->seed = user->seed;
    so->record_states = user->record_states;
}

int cli_size_list(const char *cmd, const char *opt, const char *text, size_t *out, size_t max_n, size_t *n,
                  size_t max_value)
{
    size_t k = 0;
    const char *p = text;
    for (;;) {
        if (k == max_n || !isdigit((unsigned char)*p)) break;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || v < 1 || v > max_value) break;
        out[k++] = (size_t)v;
        p = end;
        if (*p == '\0') {
            *n = k;
            return 0;
        }
        if (*p != ',') break;
        p++;
    }
    cli_usage_error(cmd, "%s: expected up to %zu comma-separated integers in 1..%zu, got '%s'", opt, max_n,
                    max_value, text);
    return -1;
}

int cli_progress(const nm_train_progress *p, void *ctx)
{
    cli_progress_state *s = ctx;
    if (!s || s->quiet) return 0;
    if (strncmp(s->stage, p->stage, sizeof s->stage) != 0) {
        snprintf(s->stage, sizeof s->stage, "%s", p->stage);
        s->stage_start = p->seconds;
    }
    double el = p->seconds - s->stage_start;
    double eta = p->epoch ? el / (double)p->epoch * (double)(p->epochs - p->epoch) : 0;
    fprintf(stderr, "%-18s %5zu/%-5zu loss %-10.4g val %-10.4g", p->stage, p->epoch, p->epochs, p->loss,
            p->val_loss);
    if (p->recon != 0 || p->kl != 0) fprintf(stderr, " recon %-9.4g kl %-9.4g", p->recon, p->kl);
    fprintf(stderr, " %6.1fs  ETA %5.1fs\n", p->seconds, eta);
    return 0;
}

double cli_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *cli_join_args(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = '\0';
    for (int i = 0; i < argc; i++) {
        if (i) strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

int cli_grid(const char *cmd, double pmin, double pmax, double pstep, size_t max_points, size_t *np)
{
    if (isnan(pmin) || isnan(pmax) || isnan(pstep)) {
        cli_usage_error(cmd, "--p-min, --p-max and --p-step are all required");
        return -1;
    }
    if (!(pstep > 0)) {
        cli_usage_error(cmd, "--p-step must be > 0 (got %g)", pstep);
        return -1;
    }
    if (pmax < pmin) {
        cli_usage_error(cmd, "--p-max (%g) is below --p-min (%g)", pmax, pmin);
        return -1;
    }
    double span = (pmax - pmin) / pstep;
    if (span + 1 > (double)max_points) {
        cli_usage_error(cmd, "the grid has more than %zu points", max_points);
        return -1;
    }
    *np = (size_t)floor(span + 1e-9) + 1;
    return 0;
}

int cli_load_vae(const char *cmd, const char *path, nm_vae **vae)
{
    /* The autoencoder of a model file (from train-vae or train). */
    nm_mf *mf = NULL;
    nm_status st = nm_mf_read(path, &mf);
    if (!st) {
        /* The one validation (issue 13): sizes checked against the file
         * before anything is allocated from them. */
        st = nm_mf_validate(mf, path, NM_MF_KIND_VAE);
        if (!st) st = nm_vae_from_mf(mf, vae);
        if (st) {
            /* Lookup messages name the entry; add the file. */
            const char *msg = nm_last_error();
            int rc = cli_fail(cmd, "%s: %s", path, *msg ? msg : nm_strerror(st));
            nm_mf_free(mf);
            return rc;
        }
    }
    nm_mf_free(mf);
    return st ? cli_lib_fail(cmd, st) : NM_EXIT_OK;
}
