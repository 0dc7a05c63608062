/* cli_python.c -- running a module of the neuromap Python package (plots)
 * from a subcommand: find the package, spawn /usr/bin/python3 with it on
 * PYTHONPATH and a headless matplotlib, report what went wrong. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The plot modules exit with this when matplotlib is missing. */
#define CLI_PLOT_EXIT_NO_MATPLOTLIB 3

/* Is dir/neuromap/<module>.py there? */
static int has_module(const char *dir, const char *module)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/neuromap/%s.py", dir, module) >= (int)sizeof path) return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The folder holding the package: $NEUROMAP_PYTHONPATH, or relative to
 * this binary (installed: ../share/neuromap/python; a build folder inside
 * the source tree: ../../python), or the source tree this file was compiled
 * from. */
static int find_python_dir(const char *module, char *out, size_t len)
{
    const char *env = getenv("NEUROMAP_PYTHONPATH");
    if (env && *env) {
        if (!has_module(env, module)) return -1;
        snprintf(out, len, "%s", env);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        static const char *rel[] = {"/../share/neuromap/python", "/../python", "/../../python"};
        for (size_t k = 0; k < sizeof rel / sizeof rel[0]; k++) {
            char d[PATH_MAX];
            if (snprintf(d, sizeof d, "%s%s", exe, rel[k]) >= (int)sizeof d) continue;
            if (has_module(d, module)) {
                snprintf(out, len, "%s", d);
                return 0;
            }
        }
    }
    /* __FILE__ is .../src/cli/cli_python.c when CMake compiles it. */
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s", __FILE__);
    char *cut = strstr(src, "/src/cli/cli_python.c");
    if (cut) {
        snprintf(cut, sizeof src - (size_t)(cut - src), "/python");
        if (has_module(src, module)) {
            snprintf(out, len, "%s", src);
            return 0;
        }
    }
    return -1;
}

int cli_run_python_module(const char *cmd, const char *module, const char *const *args, const char *data_note)
{
    const char *python = getenv("NEUROMAP_PYTHON");
    if (!python || !*python) python = "/usr/bin/python3";
    char dir[PATH_MAX];
    if (find_python_dir(module, dir, sizeof dir)) {
        cli_fail(cmd, "cannot find the neuromap Python package (neuromap/%s.py); set NEUROMAP_PYTHONPATH to the "
                 "folder that holds it.  %s", module, data_note);
        return -1;
    }
    size_t ne = 0, na = 0;
    while (environ[ne]) ne++;
    while (args[na]) na++;
    char **env = calloc(ne + 3, sizeof *env);
    char **argv = calloc(na + 4, sizeof *argv);
    char *pp = NULL, *mpl = NULL, *modname = NULL;
    const char *old = getenv("PYTHONPATH");
    int ok = env && argv &&
             asprintf(&pp, "PYTHONPATH=%s%s%s", dir, old && *old ? ":" : "", old && *old ? old : "") >= 0 &&
             asprintf(&mpl, "MPLBACKEND=Agg") >= 0 && asprintf(&modname, "neuromap.%s", module) >= 0;
    int rc = ENOMEM;
    pid_t pid = 0;
    if (ok) {
        size_t k = 0;
        for (size_t i = 0; i < ne; i++)
            if (strncmp(environ[i], "PYTHONPATH=", 11) && strncmp(environ[i], "MPLBACKEND=", 11)) env[k++] = environ[i];
        env[k++] = pp;
        env[k++] = mpl;
        env[k] = NULL;
        /* posix_spawn takes char *const[]: give it writable copies. */
        static char a0[] = "python3", a1[] = "-m";
        argv[0] = a0;
        argv[1] = a1;
        argv[2] = modname;
        size_t copied = 0;
        for (; copied < na; copied++)
            if (!(argv[3 + copied] = strdup(args[copied]))) break;
        argv[3 + copied] = NULL;
        if (copied == na) rc = posix_spawn(&pid, python, NULL, NULL, argv, env);
        for (size_t i = 0; i < copied; i++) free(argv[3 + i]);
    }
    free(pp);
    free(mpl);
    free(modname);
    free(env);
    free(argv);
    if (rc != 0) {
        cli_fail(cmd, "cannot run %s (%s): no plot drawn.  %s", python, strerror(rc), data_note);
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            cli_fail(cmd, "waiting for %s failed: %s", python, strerror(errno));
            return -1;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == CLI_PLOT_EXIT_NO_MATPLOTLIB)
        cli_fail(cmd, "%s has no matplotlib: no plot drawn.  %s", python, data_note);
    else
        cli_fail(cmd, "the plot script failed (%s -m neuromap.%s, exit %d): no plot drawn.  %s", python, module,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, data_note);
    return -1;
}
