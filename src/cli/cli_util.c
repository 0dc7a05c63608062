/* cli_util.c -- option parsing and error reporting for the subcommands. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

int cli_double(const char *cmd, const char *opt, const char *text, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(x)) {
        cli_usage_error(cmd, "%s: '%s' is not a finite number", opt, text);
        return -1;
    }
    *out = x;
    return 0;
}

int cli_ulong(const char *cmd, const char *opt, const char *text, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (*text == '-') {
        cli_usage_error(cmd, "%s: '%s' must be a non-negative integer", opt, text);
        return -1;
    }
    unsigned long long x = strtoull(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE) {
        cli_usage_error(cmd, "%s: '%s' is not a non-negative integer", opt, text);
        return -1;
    }
    *out = x;
    return 0;
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
