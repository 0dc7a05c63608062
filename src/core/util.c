/* util.c -- small platform helpers: CPU count, atomic file output, checks. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int nm_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

int nm_all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* ---- atomic output -------------------------------------------------------
 * Every open output is remembered (keyed by its FILE*) with what commit and
 * abort need: the temporary's and the real target's names (a symlink is
 * written through: the temporary sits next to the file it points to and is
 * renamed onto that file), the mode to give the result, and whether the
 * target is a character device or FIFO written in place (no temporary, no
 * rename: replacing /dev/null by a regular file is never right). */
typedef struct atomic_out {
    FILE *f;
    char *tmp;    /* NULL when direct */
    char *target; /* the real target (symlinks resolved) */
    int direct;
    int had_file; /* an existing regular file: keep its mode and owner */
    mode_t mode;
    uid_t uid;
    gid_t gid;
    struct atomic_out *next;
} atomic_out;

static pthread_mutex_t atomic_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_out *atomic_list;

static void atomic_push(atomic_out *a)
{
    pthread_mutex_lock(&atomic_lock);
    a->next = atomic_list;
    atomic_list = a;
    pthread_mutex_unlock(&atomic_lock);
}

static atomic_out *atomic_take(FILE *f)
{
    pthread_mutex_lock(&atomic_lock);
    atomic_out **pp = &atomic_list, *a = NULL;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->f == f) {
            a = *pp;
            *pp = a->next;
            break;
        }
    pthread_mutex_unlock(&atomic_lock);
    return a;
}

static void atomic_free(atomic_out *a)
{
    if (!a) return;
    free(a->tmp);
    free(a->target);
    free(a);
}

/* Folder part of path ("." when there is none); malloc'ed. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* Remove "<base>.tmp.<pid>.XXXXXX" files in dir left by a process that no
 * longer exists (killed between writing and renaming).  Temporaries of live
 * processes, of this process, and names of any other form are left alone. */
static void clean_stale_temps(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d) return;
    size_t bl = strlen(base);
    const pid_t self = getpid();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strncmp(n, base, bl) != 0 || strncmp(n + bl, ".tmp.", 5) != 0) continue;
        const char *q = n + bl + 5;
        if (*q < '1' || *q > '9') continue;
        char *end;
        errno = 0;
        unsigned long long pid = strtoull(q, &end, 10);
        if (errno || *end != '.' || strlen(end + 1) != 6 || pid > (unsigned long long)INT_MAX) continue;
        if ((pid_t)pid == self) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        size_t len = strlen(dir) + 1 + strlen(n) + 1;
        char *full = malloc(len);
        if (!full) break;
        snprintf(full, len, "%s/%s", dir, n);
        struct stat sb;
        if (lstat(full, &sb) == 0 && S_ISREG(sb.st_mode)) unlink(full);
        free(full);
    }
    closedir(d);
}

/* What kind of output target path is: fills *sb from stat (following
 * symlinks) and returns 0 (exists), 1 (does not exist, may be created) or
 * a status with the message set. */
static int classify_target(const char *path, struct stat *sb, nm_status *st)
{
    *st = NM_OK;
    if (stat(path, sb) == 0) {
        if (S_ISDIR(sb->st_mode)) *st = nm_fail(NM_EIO, "%s: is a directory, not a file to write", path);
        else if (S_ISSOCK(sb->st_mode)) *st = nm_fail(NM_EIO, "%s: is a socket; cannot write a result there", path);
        else if (S_ISBLK(sb->st_mode))
            *st = nm_fail(NM_EIO, "%s: is a block device; refusing to write a result onto it", path);
        return 0;
    }
    if (errno != ENOENT) {
        *st = nm_fail(NM_EIO, "cannot create %s: %s", path, strerror(errno));
        return 0;
    }
    struct stat lb;
    if (lstat(path, &lb) == 0 && S_ISLNK(lb.st_mode)) {
        *st = nm_fail(NM_EIO, "%s: is a symbolic link to a missing file; not writing through it", path);
        return 0;
    }
    return 1;
}

FILE *nm_atomic_open(const char *path, char *tmp_path, size_t tmp_len)
{
    if (tmp_path && tmp_len) tmp_path[0] = '\0';
    if (!path || !*path) {
        nm_fail(NM_EINVAL, "empty output file name");
        return NULL;
    }
    struct stat sb;
    nm_status st;
    int missing = classify_target(path, &sb, &st);
    if (st) return NULL;
    atomic_out *a = calloc(1, sizeof *a);
    if (!a) {
        nm_fail(NM_ENOMEM, "out of memory opening %s", path);
        return NULL;
    }
    mode_t um = umask(0);
    umask(um);
    a->mode = 0666 & ~um;
    if (!missing && !S_ISREG(sb.st_mode)) {
        /* A character device or a FIFO: written in place. */
        int fd = open(path, O_WRONLY | O_NOCTTY);
        if (fd < 0) {
            nm_fail(NM_EIO, "cannot open %s: %s", path, strerror(errno));
            free(a);
            return NULL;
        }
        a->direct = 1;
        a->target = strdup(path);
        a->f = a->target ? fdopen(fd, "wb") : NULL;
        if (!a->f) {
            nm_fail(NM_EIO, "cannot open %s: %s", path, strerror(errno));
            close(fd);
            atomic_free(a);
            return NULL;
        }
        atomic_push(a);
        return a->f;
    }
    if (!missing) {
        /* An existing regular file, perhaps behind symlinks: replace the
         * file itself, keeping its mode and owner. */
        a->target = realpath(path, NULL);
        if (!a->target) {
            nm_fail(NM_EIO, "cannot resolve %s: %s", path, strerror(errno));
            free(a);
            return NULL;
        }
        a->had_file = 1;
        a->mode = sb.st_mode & 0777;
        a->uid = sb.st_uid;
        a->gid = sb.st_gid;
    } else if (!(a->target = strdup(path))) {
        nm_fail(NM_ENOMEM, "out of memory opening %s", path);
        free(a);
        return NULL;
    }
    size_t tl = strlen(a->target) + 40;
    a->tmp = malloc(tl);
    char *dir = dir_of(a->target);
    if (!a->tmp || !dir) {
        nm_fail(NM_ENOMEM, "out of memory opening %s", path);
        free(dir);
        atomic_free(a);
        return NULL;
    }
    const char *base = strrchr(a->target, '/');
    base = base ? base + 1 : a->target;
    clean_stale_temps(dir, base);
    free(dir);
    snprintf(a->tmp, tl, "%s.tmp.%ld.XXXXXX", a->target, (long)getpid());
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        nm_fail(NM_EIO, "cannot create %s: %s", path, strerror(errno));
        atomic_free(a);
        return NULL;
    }
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        nm_fail(NM_EIO, "cannot open %s: %s", a->tmp, strerror(errno));
        close(fd);
        unlink(a->tmp);
        atomic_free(a);
        return NULL;
    }
    if (tmp_path && strlen(a->tmp) < tmp_len) memcpy(tmp_path, a->tmp, strlen(a->tmp) + 1);
    atomic_push(a);
    return a->f;
}

nm_status nm_atomic_commit(FILE *f, const char *tmp_path, const char *path)
{
    atomic_out *a = atomic_take(f);
    int bad = ferror(f);
    if (fflush(f) != 0) bad = 1;
    int err = bad ? errno : 0;
    if (!bad && (!a || !a->direct) && fsync(fileno(f)) != 0 && errno != EINVAL) {
        bad = 1;
        err = errno;
    }
    if (!bad && a && !a->direct) {
        /* mkstemp creates 0600: give the result the old file's mode (and,
         * when allowed, its owner) or the usual 0666 minus umask. */
        if (a->had_file && fchown(fileno(f), a->uid, a->gid) != 0) { /* not ours to give: keep ours */ }
        fchmod(fileno(f), a->mode);
    }
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    const char *tmp = a ? a->tmp : tmp_path;
    const char *target = a ? a->target : path;
    if (bad) {
        if (tmp) unlink(tmp);
        atomic_free(a);
        return nm_fail(NM_EIO, "writing %s failed: %s", path, strerror(err ? err : EIO));
    }
    if (a && a->direct) {
        atomic_free(a);
        return NM_OK;
    }
    if (!a) {
        mode_t um = umask(0);
        umask(um);
        chmod(tmp, 0666 & ~um);
    }
    if (rename(tmp, target) != 0) {
        err = errno;
        unlink(tmp);
        nm_status st = nm_fail(NM_EIO, "cannot rename %s to %s: %s", tmp, target, strerror(err));
        atomic_free(a);
        return st;
    }
    atomic_free(a);
    return NM_OK;
}

void nm_atomic_abort(FILE *f, const char *tmp_path)
{
    atomic_out *a = f ? atomic_take(f) : NULL;
    if (f) fclose(f);
    if (a) {
        if (!a->direct && a->tmp) unlink(a->tmp);
        atomic_free(a);
    } else if (tmp_path && *tmp_path)
        unlink(tmp_path);
}

nm_status nm_output_check(const char *path)
{
    if (!path || !*path) return nm_fail(NM_EINVAL, "empty output file name");
    struct stat sb;
    nm_status st;
    int missing = classify_target(path, &sb, &st);
    if (st) return st;
    if (!missing && !S_ISREG(sb.st_mode)) {
        if (access(path, W_OK) != 0) return nm_fail(NM_EIO, "cannot write %s: %s", path, strerror(errno));
        return NM_OK;
    }
    char *real = missing ? strdup(path) : realpath(path, NULL);
    char *dir = real ? dir_of(real) : NULL;
    if (!dir) {
        free(real);
        return nm_fail(NM_EIO, "cannot resolve %s: %s", path, strerror(errno));
    }
    st = NM_OK;
    struct stat db;
    if (stat(dir, &db) != 0) st = nm_fail(NM_EIO, "cannot create %s: %s", path, strerror(errno));
    else if (!S_ISDIR(db.st_mode)) st = nm_fail(NM_EIO, "cannot create %s: %s is not a directory", path, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        st = nm_fail(NM_EIO, "cannot create %s: folder %s: %s", path, dir, strerror(errno));
    free(dir);
    free(real);
    return st;
}

nm_status nm_file_write_atomic(const char *path, const void *data, size_t len)
{
    if (!data && len) return nm_fail(NM_EINVAL, "atomic write: NULL data");
    char tmp[4096];
    FILE *f = nm_atomic_open(path, tmp, sizeof tmp);
    if (!f) return NM_EIO;
    if (len && fwrite(data, 1, len, f) != len) {
        nm_atomic_abort(f, tmp);
        return nm_fail(NM_EIO, "writing %s failed", path);
    }
    return nm_atomic_commit(f, tmp, path);
}

/* ---- input files --------------------------------------------------------- */

FILE *nm_open_input(const char *path, const char *mode, size_t max_bytes, const char *what, nm_status *st)
{
    struct stat sb;
    *st = NM_OK;
    /* The kind first: opening a FIFO would block, /dev/zero never ends. */
    if (stat(path, &sb) != 0) {
        *st = nm_fail(NM_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(sb.st_mode)) {
        *st = nm_fail(NM_EIO, "%s: is a directory, not a %s", path, what);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        *st = nm_fail(NM_EIO, "%s: not a regular file (a %s must be a regular file)", path, what);
        return NULL;
    }
    /* Non-blocking open, so a FIFO swapped in after the stat cannot hang
     * us; the descriptor is made blocking again once it is known to be a
     * regular file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        *st = nm_fail(NM_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    FILE *f = NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ||
        !(f = fdopen(fd, mode))) {
        *st = nm_fail(NM_EIO, "%s: cannot open as a regular file", path);
        close(fd);
        return NULL;
    }
    if ((uintmax_t)sb.st_size > (uintmax_t)max_bytes) {
        *st = nm_fail(NM_EFORMAT, "%s: %jd bytes is larger than the limit for a %s (%zu bytes, docs/limits.md)",
                      path, (intmax_t)sb.st_size, what, max_bytes);
        fclose(f);
        return NULL;
    }
    return f;
}

double nm_strtod(const char *s, char **end)
{
    errno = 0;
    double x = strtod(s, end);
    /* ERANGE on underflow (a subnormal, or a value that rounds to zero) is
     * not an error: the result is the nearest double.  Overflow gives
     * +-HUGE_VAL, which callers reject as not finite. */
    if (errno == ERANGE && isfinite(x)) errno = 0;
    return x;
}
