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

/* Parse a finite double / a non-negative integer for option OPT; on failure
 * print "neuromap CMD: --opt: 'text' is not a number" and return -1. */
int cli_double(const char *cmd, const char *opt, const char *text, double *out);
int cli_ulong(const char *cmd, const char *opt, const char *text, unsigned long long *out);

/* Apply "--param NAME=VALUE" to a model. */
int cli_model_param(const char *cmd, nm_model *m, const char *assignment);

/* Print the message for an unknown option / missing argument that getopt
 * reported (optopt / argv) with a pointer to --help. */
int cli_bad_option(const char *cmd, int argc, char **argv);

/* Registered subcommands (defined in their own files). */
int cmd_simulate(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_sweep(int argc, char **argv);

#endif
