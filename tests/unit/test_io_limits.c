/* test_io_limits.c -- issue 13: the atomic writer on symlinks, devices, FIFOs
 * and modes, stale temporaries, the output check, the input limits of the
 * series reader, subnormals, and the VAE's batch limit and out-of-memory
 * path. */
#define _GNU_SOURCE
#include "internal.h"
#include "learn/vae.h"
#include "nm_test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[512];

static void path_in(char *out, size_t len, const char *name) { snprintf(out, len, "%s/%s", dir, name); }

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static size_t count_temps(const char *prefix)
{
    /* Files named prefix* other than prefix itself. */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -d '%s'.tmp.* 2>/dev/null | wc -l", prefix);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    if (p) {
        if (fscanf(p, "%zu", &n) != 1) n = 0;
        pclose(p);
    }
    return n;
}

static void test_symlink_written_through(void)
{
    char real[600], link[600], sub[600], link2[600];
    path_in(real, sizeof real, "real.txt");
    path_in(link, sizeof link, "link.txt");
    path_in(sub, sizeof sub, "sub");
    path_in(link2, sizeof link2, "sub/link2.txt");
    write_text(real, "old\n");
    chmod(real, 0640);
    unlink(link);
    CHECK(symlink("real.txt", link) == 0);
    CHECK_OK(nm_file_write_atomic(link, "new\n", 4));
    struct stat sb;
    CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode));
    CHECK(stat(real, &sb) == 0 && (sb.st_mode & 0777) == 0640 && sb.st_size == 4);
    mkdir(sub, 0755);
    unlink(link2);
    CHECK(symlink("../link.txt", link2) == 0); /* a chain of two links, relative, other folder */
    CHECK_OK(nm_file_write_atomic(link2, "newer\n", 6));
    CHECK(lstat(link2, &sb) == 0 && S_ISLNK(sb.st_mode));
    CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode));
    CHECK(stat(real, &sb) == 0 && (sb.st_mode & 0777) == 0640 && sb.st_size == 6);
    CHECK(count_temps(real) == 0);
    CHECK(count_temps(link2) == 0);
    /* A dangling link is refused, and nothing is created. */
    char dang[600];
    path_in(dang, sizeof dang, "dangling.txt");
    unlink(dang);
    CHECK(symlink("nowhere.txt", dang) == 0);
    CHECK_FAILS(nm_file_write_atomic(dang, "x", 1), NM_EIO, "symbolic link to a missing file");
    CHECK_FAILS(nm_output_check(dang), NM_EIO, "symbolic link to a missing file");
}

static void test_mode_kept_and_new_mode(void)
{
    char p[600], q[600];
    path_in(p, sizeof p, "mode.txt");
    write_text(p, "x");
    chmod(p, 0600);
    CHECK_OK(nm_file_write_atomic(p, "yy", 2));
    struct stat sb;
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    path_in(q, sizeof q, "fresh.txt");
    unlink(q);
    mode_t um = umask(022);
    CHECK_OK(nm_file_write_atomic(q, "z", 1));
    umask(um);
    CHECK(stat(q, &sb) == 0 && (sb.st_mode & 0777) == 0644);
}

static void test_fifo_and_device_in_place(void)
{
    char fifo[600];
    path_in(fifo, sizeof fifo, "out.fifo");
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    int rfd = open(fifo, O_RDONLY | O_NONBLOCK); /* a reader, so opening for writing does not block */
    CHECK(rfd >= 0);
    CHECK_OK(nm_file_write_atomic(fifo, "abc", 3));
    char buf[8] = {0};
    CHECK(read(rfd, buf, sizeof buf) == 3 && memcmp(buf, "abc", 3) == 0);
    close(rfd);
    struct stat sb;
    CHECK(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode));
    CHECK(count_temps(fifo) == 0);
    CHECK_OK(nm_output_check(fifo));

    char dev[600];
    path_in(dev, sizeof dev, "null");
    unlink(dev);
    if (mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0) {
        CHECK_OK(nm_file_write_atomic(dev, "abc", 3));
        CHECK(lstat(dev, &sb) == 0 && S_ISCHR(sb.st_mode));
        /* An aborted write must not remove the device. */
        char tmp[64];
        FILE *f = nm_atomic_open(dev, tmp, sizeof tmp);
        CHECK(f != NULL);
        if (f) nm_atomic_abort(f, tmp);
        CHECK(lstat(dev, &sb) == 0 && S_ISCHR(sb.st_mode));
        CHECK_OK(nm_output_check(dev));
    } else {
        fprintf(stderr, "note: mknod not permitted (%s): device checks skipped\n", strerror(errno));
    }
    CHECK_FAILS(nm_file_write_atomic(dir, "x", 1), NM_EIO, "is a directory");
}

static void test_short_tmp_buffer(void)
{
    /* Callers may pass a buffer of strlen(path) + 16 (the model writer): the
     * temporary's name no longer fits, and commit must still work. */
    char p[600];
    path_in(p, sizeof p, "short.txt");
    char tmp[8];
    FILE *f = nm_atomic_open(p, tmp, sizeof tmp);
    CHECK(f != NULL);
    if (!f) return;
    fputs("hello", f);
    CHECK_OK(nm_atomic_commit(f, tmp, p));
    struct stat sb;
    CHECK(stat(p, &sb) == 0 && sb.st_size == 5);
    CHECK(count_temps(p) == 0);
    f = nm_atomic_open(p, tmp, sizeof tmp);
    CHECK(f != NULL);
    if (f) nm_atomic_abort(f, tmp);
    CHECK(count_temps(p) == 0);
    CHECK(stat(p, &sb) == 0 && sb.st_size == 5);
}

static void test_stale_temps(void)
{
    char p[600], stale[700], live[700];
    path_in(p, sizeof p, "stale.txt");
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0); /* a pid that no longer exists */
    snprintf(stale, sizeof stale, "%s.tmp.%ld.AbC123", p, (long)child);
    snprintf(live, sizeof live, "%s.tmp.%ld.XyZ789", p, (long)getppid());
    write_text(stale, "partial");
    write_text(live, "partial");
    CHECK_OK(nm_file_write_atomic(p, "ok", 2));
    CHECK(access(stale, F_OK) != 0);
    CHECK(access(live, F_OK) == 0);
    unlink(live);
}

static void test_output_check(void)
{
    char p[600];
    path_in(p, sizeof p, "no/such/dir/x.csv");
    CHECK_FAILS(nm_output_check(p), NM_EIO, "no/such/dir/x.csv");
    path_in(p, sizeof p, "new.csv");
    CHECK_OK(nm_output_check(p));
    CHECK(access(p, F_OK) != 0); /* checking creates nothing */
    CHECK_FAILS(nm_output_check(dir), NM_EIO, "is a directory");
    CHECK_FAILS(nm_output_check(""), NM_EINVAL, "empty");
}

static void test_reader_limits(void)
{
    nm_series *s = NULL;
    char p[600];
    path_in(p, sizeof p, "in.fifo");
    unlink(p);
    CHECK(mkfifo(p, 0600) == 0);
    CHECK_FAILS(nm_series_read(p, 5, 0, 2, &s), NM_EIO, "not a regular file");
    CHECK_FAILS(nm_series_read(dir, 5, 0, 2, &s), NM_EIO, "is a directory");
    path_in(p, sizeof p, "big.csv");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)NM_SERIES_MAX_BYTES + 1) == 0);
    if (fd >= 0) close(fd);
    CHECK_FAILS(nm_series_read(p, 5, 0, 2, &s), NM_EFORMAT, "larger than the limit");
    unlink(p);
    path_in(p, sizeof p, "huge.csv");
    write_text(p, "t_ms,V_mV\n0,-60\n5,-1e7\n10,-60\n");
    CHECK_FAILS(nm_series_read(p, 0, 0, 2, &s), NM_EDATA, "huge.csv:3: V = -1e+07 mV is outside");
    write_text(p, "t_ms,V_mV\n0,-60\n5,1e6\n10,-60\n"); /* at the limit */
    CHECK_OK(nm_series_read(p, 0, 0, 2, &s));
    nm_series_free(s);
    s = NULL;
    path_in(p, sizeof p, "nul.csv");
    FILE *f = fopen(p, "wb");
    fwrite("t_ms,V_mV\n0,-60\n5,-6\0" "1\n10,-60\n", 1, 30, f);
    fclose(f);
    CHECK_FAILS(nm_series_read(p, 0, 0, 2, &s), NM_EFORMAT, "nul.csv:3: NUL byte");
    path_in(p, sizeof p, "sub.csv");
    write_text(p, "\xef\xbb\xbfV_mV\n1e-320\n-4.9e-324\n-60\n");
    CHECK_OK(nm_series_read(p, 5, 0, 2, &s));
    if (s) CHECK(s->n == 3 && s->v[0] > 0 && s->v[0] < 1e-300);
    nm_series_free(s);
}

static void test_strtod_subnormal(void)
{
    char *end;
    double x = nm_strtod("1e-320", &end);
    CHECK(errno == 0 && *end == '\0' && x > 0);
    x = nm_strtod("1e-400", &end);
    CHECK(errno == 0 && x == 0);
    x = nm_strtod("1e400", &end);
    CHECK(errno == ERANGE && isinf(x));
}

static nm_series *sine(size_t n)
{
    nm_series *s = nm_series_alloc(n, 0);
    s->dt_ms = 1;
    for (size_t i = 0; i < n; i++) s->v[i] = -50 + 20 * sin(0.1 * (double)i);
    return s;
}

/* One epoch of a small VAE (De 8, D 2, one hidden layer of `width`). */
static void small_vae_opts(nm_vae_opts *o, size_t width, size_t batch)
{
    nm_vae_opts_default(o);
    o->de = 8;
    o->latent_dim = 2;
    o->nhidden = 1;
    o->hidden[0] = width;
    o->epochs = 1;
    o->batch = batch;
}

static void test_vae_batch_limit(void)
{
    /* Before the limit a batch of 2^40 rows went to the allocator, whose
     * failure freed the workspace twice. */
    nm_series *s = sine(400);
    const nm_series *list[1] = {s};
    nm_vae_opts o;
    small_vae_opts(&o, 8, (size_t)1 << 40);
    nm_vae *v = NULL;
    CHECK_FAILS(nm_vae_train(list, 1, &o, &v, NULL), NM_EINVAL, "batch must be in 1..65536");
    o.batch = 64;
    o.beta = 1e300;
    CHECK_FAILS(nm_vae_train(list, 1, &o, &v, NULL), NM_EINVAL, "beta must be in 0..1000");
    o.beta = 1e-3;
    o.hidden[0] = NM_VAE_MAX_WIDTH + 1;
    CHECK_FAILS(nm_vae_train(list, 1, &o, &v, NULL), NM_EINVAL, "width 4097");
    CHECK(v == NULL);
    nm_series_free(s);
}

static void test_vae_oom_path(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* Both runtimes reserve terabytes of shadow memory at start-up. */
    fprintf(stderr, "note: the address-space limit of the out-of-memory test does not work under ASan or TSan: "
                    "skipped\n");
#else
    /* The workspace allocation fails under an address-space limit; the
     * failure must come back as NM_ENOMEM (it was a double free: SIGSEGV). */
    pid_t pid = fork();
    if (pid == 0) {
        nm_series *s = sine(400);
        const nm_series *list[1] = {s};
        nm_vae_opts o;
        small_vae_opts(&o, NM_VAE_MAX_WIDTH, NM_VAE_MAX_BATCH); /* 1 GiB per activation buffer */
        long pages = 0, page = sysconf(_SC_PAGESIZE);
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%ld", &pages) != 1) _exit(3);
        fclose(f);
        struct rlimit rl = {(rlim_t)pages * (rlim_t)page + ((rlim_t)512 << 20),
                            (rlim_t)pages * (rlim_t)page + ((rlim_t)512 << 20)};
        if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(3);
        nm_vae *v = NULL;
        nm_status st = nm_vae_train(list, 1, &o, &v, NULL);
        _exit(st == NM_ENOMEM ? 0 : st == NM_OK ? 4 : 5);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %s %d",
              WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
#endif
}

int main(void)
{
    const char *base = getenv("NM_TEST_TMPDIR");
    snprintf(dir, sizeof dir, "%s/io_limits", base ? base : "/tmp");
    mkdir(dir, 0755);
    NM_RUN(test_symlink_written_through);
    NM_RUN(test_mode_kept_and_new_mode);
    NM_RUN(test_fifo_and_device_in_place);
    NM_RUN(test_short_tmp_buffer);
    NM_RUN(test_stale_temps);
    NM_RUN(test_output_check);
    NM_RUN(test_reader_limits);
    NM_RUN(test_strtod_subnormal);
    NM_RUN(test_vae_batch_limit);
    NM_RUN(test_vae_oom_path);
    return nm_test_report();
}
