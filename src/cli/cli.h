/* cli.h -- shared helpers of the `neuromap` command's subcommands.
 * The command is a thin face over libneuromap: parse flags, call the
 * library, print results; every failure prints one line naming the problem
 * and returns a non-zero exit status. */
#ifndef NM_CLI_H
#define NM_CLI_H

#include "neuromap.h"

#include <stdio.h>

/* Exit statuses: 0 ok, 1 failure while working (bad data, I/O), 2 usage error. */
enum { NM_EXIT_OK = 0, NM_EXIT_FAIL = 1, NM_EXIT_USAGE = 2 };

typedef struct nm_cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} nm_cli_command;

/* Print "neuromap CMD: message" to stderr; returns NM_EXIT_USAGE / _FAIL. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report the library's last error after a failed call. */
int cli_lib_fail(const char *cmd, nm_status st);

/* Limits of option values (docs/limits.md lists them and why). */
#define CLI_MAX_ABS 1e9          /* any real-valued option without a narrower limit */
#define CLI_MAX_TIME_MS 1e7      /* --duration, --transient, --stsp-tau: 2.8 h of model time */
#define CLI_MAX_STEPS 1000000000ULL /* map steps of one free run (--bound-steps) */
#define CLI_MAX_EPOCHS 1000000ULL   /* --epochs, --vae-epochs, --map-epochs, --patience */
#define CLI_MAX_ITERS 10000000ULL   /* --rollout-iters */
#define CLI_MAX_BATCH 65536ULL      /* --batch, --rollout-batch (rows per gradient step) */
#define CLI_MAX_DE (1ULL << 20)     /* train-vae --de: what a model file may hold */
#define CLI_MAX_WIDTH 4096          /* --hidden widths */
#define CLI_MAX_BETA 1e3            /* --beta: KL weight (default 3e-5) */
#define CLI_MAX_LR 1.0              /* --lr, --rollout-lr */

/* Parse a finite double in [lo, hi] / a non-negative integer <= max for
 * option OPT; on failure print "neuromap CMD: --opt: 'text' is not a finite
 * number" or "--opt: TEXT is out of range: the limit is lo .. hi" and return
 * -1.  cli_double is cli_double_in with +-CLI_MAX_ABS; cli_ulong takes any
 * 64-bit value (seeds). */
int cli_double_in(const char *cmd, const char *opt, const char *text, double lo, double hi, double *out);
int cli_double(const char *cmd, const char *opt, const char *text, double *out);
int cli_ulong_max(const char *cmd, const char *opt, const char *text, unsigned long long max,
                  unsigned long long *out);
int cli_ulong(const char *cmd, const char *opt, const char *text, unsigned long long *out);

/* Outputs of one command (issue 13): every location is checked before any
 * work (folder exists and is writable, not a directory, ...; two options
 * naming the same file are refused), and if the command fails after writing
 * some of them, the files it created are removed again (files that existed
 * before are left: their old content is gone either way).  NULL paths are
 * skipped.  cli_outputs_check prints the error and returns an exit code. */
#define CLI_MAX_OUTPUTS 20
typedef struct cli_outputs {
    const char *path[CLI_MAX_OUTPUTS];
    const char *opt[CLI_MAX_OUTPUTS];
    int existed[CLI_MAX_OUTPUTS];
    size_t n;
} cli_outputs;
int cli_outputs_check(const char *cmd, cli_outputs *o);
void cli_outputs_add(cli_outputs *o, const char *opt, const char *path);
void cli_outputs_undo(const cli_outputs *o);
/* The one-output case: 0, or the exit code after printing the error. */
int cli_output_check(const char *cmd, const char *path);

/* Apply "--param NAME=VALUE" to a model. */
int cli_model_param(const char *cmd, nm_model *m, const char *assignment);

/* The model's own simulation protocol with every option the user gave
 * (non-NaN duration/dt/transient/rtol/atol; noise, seed, record_states) laid
 * over it. */
void cli_sim_opts(const nm_model *m, const nm_sim_opts *user, nm_sim_opts *so);

/* Print the message for an unknown option / missing argument that getopt
 * reported (optopt / argv) with a pointer to --help. */
int cli_bad_option(const char *cmd, int argc, char **argv);

/* A grid of control values p_i = pmin + i*pstep, i = 0..np-1, pmax included
 * when (pmax - pmin)/pstep is an integer up to rounding (indices, not
 * accumulation).  Checks that all three were given (not NaN), pstep > 0,
 * pmax >= pmin and at most max_points points; prints the usage error and
 * returns -1 otherwise. */
int cli_grid(const char *cmd, double pmin, double pmax, double pstep, size_t max_points, size_t *np);

/* Parse "128,128" into out[0..*n) (each 1..max_value, at most max_n). */
int cli_size_list(const char *cmd, const char *opt, const char *text, size_t *out, size_t max_n, size_t *n,
                  size_t max_value);

/* A progress callback for training (nm_progress_fn): one line per call on
 * stderr with the stage, epoch/total, losses, elapsed time and an ETA for the
 * stage.  ctx: a cli_progress_state (quiet suppresses everything). */
typedef struct cli_progress_state {
    int quiet;
    char stage[64];
    double stage_start;
} cli_progress_state;
int cli_progress(const nm_train_progress *p, void *ctx);

/* Monotonic wall time in seconds (for "trained in X s" lines). */
double cli_now_s(void);

/* The command line joined with spaces (malloc'ed): stored in model files. */
char *cli_join_args(int argc, char **argv);

/* Run /usr/bin/python3 (or $NEUROMAP_PYTHON) -m neuromap.MODULE ARGS...
 * (args NULL-terminated) with the package on PYTHONPATH and MPLBACKEND=Agg;
 * 0 on success, else a message ending with data_note (where the data are)
 * has been printed and -1 is returned. */
int cli_run_python_module(const char *cmd, const char *module, const char *const *args, const char *data_note);

/* Registered subcommands (defined in their own files). */
int cmd_simulate(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_train_vae(int argc, char **argv);
int cmd_vae_scan(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_fixed_point(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_distill(int argc, char **argv);

/* Load the autoencoder of a model file; prints the error, returns an exit code. */
int cli_load_vae(const char *cmd, const char *path, nm_vae **vae);

#endif
