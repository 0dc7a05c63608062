/* util.c -- small platform helpers: CPU count, atomic file output, checks. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <errno.h>
#include <math.h>
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

FILE *nm_atomic_open(const char *path, char *tmp_path, size_t tmp_len)
{
    if (!path || !*path) {
        nm_fail(NM_EINVAL, "empty output file name");
        return NULL;
    }
    int len = snprintf(tmp_path, tmp_len, "%s.tmp.XXXXXX", path);
    if (len < 0 || (size_t)len >= tmp_len) {
        nm_fail(NM_EINVAL, "output file name too long: %s", path);
        return NULL;
    }
    int fd = mkstemp(tmp_path);
    if (fd < 0) {
        nm_fail(NM_EIO, "cannot create %s: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        nm_fail(NM_EIO, "cannot open %s: %s", tmp_path, strerror(errno));
        close(fd);
        unlink(tmp_path);
        return NULL;
    }
    return f;
}

nm_status nm_atomic_commit(FILE *f, const char *tmp_path, const char *path)
{
    int bad = ferror(f);
    if (fflush(f) != 0) bad = 1;
    if (!bad && fsync(fileno(f)) != 0 && errno != EINVAL) bad = 1;
    int err = errno;
    if (fclose(f) != 0) bad = 1;
    if (bad) {
        unlink(tmp_path);
        return nm_fail(NM_EIO, "writing %s failed: %s", path, strerror(err ? err : EIO));
    }
    /* mkstemp creates 0600; give the usual 0644 (minus umask) to results. */
    mode_t um = umask(0);
    umask(um);
    chmod(tmp_path, 0666 & ~um);
    if (rename(tmp_path, path) != 0) {
        err = errno;
        unlink(tmp_path);
        return nm_fail(NM_EIO, "cannot rename %s to %s: %s", tmp_path, path, strerror(err));
    }
    return NM_OK;
}

void nm_atomic_abort(FILE *f, const char *tmp_path)
{
    if (f) fclose(f);
    if (tmp_path && *tmp_path) unlink(tmp_path);
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
