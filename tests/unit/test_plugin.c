/* test_plugin.c -- the NEURON plugin support: the registry of loaded models
 * shared by handles (nm_plugin_acquire/release/get/count/refcount) and the
 * scalar glue the mod files call (nm_plugin_info/init/step).
 *
 * A tiny model is trained here (well under a second; what it learned does
 * not matter), saved, and loaded through the registry. */
#define _POSIX_C_SOURCE 200809L
#include "neuromap.h"
#include "nm_test.h"
#include "nm_test_model.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char model_path[512], copy_path[512], other_path[512];

static nm_learned *tiny_model(uint64_t seed)
{
    nm_learn_opts o;
    nm_learn_opts_default(&o);
    o.vae.epochs = 3;
    o.vae.hidden[0] = o.vae.hidden[1] = 16;
    o.map_hidden[0] = o.map_hidden[1] = 16;
    o.map_onestep_epochs = 2;
    o.map_nstages = 1;
    o.map_rollout_len[0] = 5;
    o.map_rollout_iters[0] = 10;
    o.map_select_every = 0;
    o.seed = seed;
    return nm_test_tiny_model(20000, &o);
}

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    int ok = a && b;
    char buf[4096];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b) ok = fclose(b) == 0 && ok;
    return ok;
}

static void test_acquire_release(void)
{
    int h1 = 0, h2 = 0, h3 = 0;
    CHECK(nm_plugin_count() == 0);
    CHECK_OK(nm_plugin_acquire(model_path, &h1));
    CHECK_OK(nm_plugin_acquire(model_path, &h2));
    CHECK(h1 > 0 && h1 == h2);
    CHECK(nm_plugin_count() == 1 && nm_plugin_refcount(h1) == 2);
    const nm_learned *m = nm_plugin_get(h1);
    CHECK(m != NULL && nm_learned_dim(m) >= 1 && nm_learned_dim(m) <= NM_PLUGIN_MAX_DIM);

    /* A copy is another file (another inode): another model. */
    CHECK_OK(nm_plugin_acquire(copy_path, &h3));
    CHECK(h3 > 0 && h3 != h1 && nm_plugin_count() == 2 && nm_plugin_get(h3) != m);

    CHECK_OK(nm_plugin_release(h2));
    CHECK(nm_plugin_refcount(h1) == 1 && nm_plugin_get(h1) == m);
    CHECK_OK(nm_plugin_release(h1));
    CHECK(nm_plugin_refcount(h1) == 0 && nm_plugin_get(h1) == NULL && nm_plugin_count() == 1);
    /* A freed handle is refused, not mistaken for a later model in its slot. */
    CHECK_FAILS(nm_plugin_release(h1), NM_EINVAL, "not the handle");
    int h4 = 0;
    CHECK_OK(nm_plugin_acquire(model_path, &h4));
    CHECK(h4 > 0 && h4 != h1 && nm_plugin_get(h1) == NULL && nm_plugin_get(h4) != NULL);
    CHECK_OK(nm_plugin_release(h4));
    CHECK_OK(nm_plugin_release(h3));
    CHECK(nm_plugin_count() == 0);

    CHECK_FAILS(nm_plugin_release(0), NM_EINVAL, "not the handle");
    CHECK_FAILS(nm_plugin_release(-3), NM_EINVAL, "not the handle");
    CHECK(nm_plugin_get(0) == NULL && nm_plugin_get(12345) == NULL && nm_plugin_refcount(7) == 0);
}

static void test_bad_files(void)
{
    char path[512];
    int h = 7;
    CHECK_FAILS(nm_plugin_acquire(nm_test_path(path, sizeof path, "no-such-model.nmap"), &h),
                NM_EIO, "no-such-model.nmap");
    CHECK(h == 0);
    CHECK_FAILS(nm_plugin_acquire("", &h), NM_EINVAL, "empty");
    CHECK_FAILS(nm_plugin_acquire(NULL, &h), NM_EINVAL, "empty");
    CHECK_FAILS(nm_plugin_acquire(model_path, NULL), NM_EINVAL, "NULL");
    const char *tmpdir = getenv("NM_TEST_TMPDIR");
    CHECK(nm_plugin_acquire(tmpdir && *tmpdir ? tmpdir : "/tmp", &h) != NM_OK && h == 0);

    /* Truncated: the library's own message. */
    nm_test_path(path, sizeof path, "plugin_truncated.nmap");
    FILE *a = fopen(model_path, "rb"), *b = fopen(path, "wb");
    char buf[2000];
    size_t n = a ? fread(buf, 1, sizeof buf, a) : 0;
    if (b) fwrite(buf, 1, n, b);
    if (a) fclose(a);
    if (b) fclose(b);
    CHECK(nm_plugin_acquire(path, &h) != NM_OK && h == 0 && strstr(nm_last_error(), "plugin_truncated"));
    CHECK(nm_plugin_count() == 0);
    remove(path);
}

/* The glue: the same numbers as the nm_learned_* calls. */
static void test_glue(void)
{
    int h = 0, dim = 0;
    double dt = 0, thr = 0;
    CHECK_OK(nm_plugin_acquire(model_path, &h));
    const nm_learned *m = nm_plugin_get(h);
    if (!m) return;
    CHECK_OK(nm_plugin_info(h, &dim, &dt, &thr));
    CHECK(dim == (int)nm_learned_dim(m) && dt == nm_learned_dt_ms(m) && thr == nm_learned_threshold_mv(m));
    CHECK_OK(nm_plugin_info(h, NULL, NULL, NULL));

    /* p: the default is the centre of the training range; the name and unit
     * are the model's ("p" and "" unless train was given --p-name/--p-unit),
     * cut to the buffer and terminated. */
    double pdef = 0, pmin = 0, pmax = 0, lo, hi;
    char name[8], unit[8], tiny[1] = {'x'};
    CHECK_OK(nm_plugin_p_info(h, &pdef, &pmin, &pmax));
    nm_learned_p_range(m, &lo, &hi);
    CHECK(pmin == lo && pmax == hi && pdef == 0.5 * (lo + hi) && pdef == nm_learned_p_default(m));
    CHECK_OK(nm_plugin_p_label(h, name, sizeof name, unit, sizeof unit));
    CHECK(strcmp(name, nm_learned_p_name(m)) == 0 && strcmp(unit, nm_learned_p_unit(m)) == 0);
    CHECK(strcmp(name, "p") == 0 && strcmp(unit, "") == 0);
    CHECK_OK(nm_plugin_p_label(h, tiny, sizeof tiny, NULL, 0));
    CHECK(tiny[0] == '\0');
    CHECK_OK(nm_learned_check_p_label("I_inj.1-x", "uA/cm2"));
    CHECK_FAILS(nm_learned_check_p_label("", NULL), NM_EINVAL, "it is empty");
    CHECK_FAILS(nm_learned_check_p_label("a/b", NULL), NM_EINVAL, "character 1 (byte 0x2F) is not allowed");
    CHECK_FAILS(nm_learned_check_p_label(NULL, "m V"), NM_EINVAL, "p unit 'm V'");
    CHECK_FAILS(nm_learned_check_p_label(NULL, "123456789012345678901234567890123"), NM_EINVAL,
                "33 characters (at most 32)");

    double x[NM_PLUGIN_MAX_DIM], y[NM_PLUGIN_MAX_DIM], v = 0;
    CHECK_OK(nm_plugin_init(h, x, &v));
    nm_learned_initial_state(m, y);
    CHECK(memcmp(x, y, (size_t)dim * sizeof *x) == 0 && v == nm_learned_decode_v(m, y));

    /* 200 glue steps == nm_learned_run, bit for bit. */
    enum { NSTEP = 200 };
    double vrun[NSTEP], xrun[NSTEP * NM_PLUGIN_MAX_DIM];
    CHECK_OK(nm_learned_run(m, -38.0, NULL, NSTEP, vrun, xrun));
    int same = 1;
    for (size_t k = 0; k < NSTEP; k++) {
        if (nm_plugin_step(h, -38.0, x, &v) != NM_OK) {
            same = 0;
            break;
        }
        same &= v == vrun[k] && memcmp(x, xrun + k * (size_t)dim, (size_t)dim * sizeof *x) == 0;
    }
    CHECK(same);

    /* Divergence (p far outside training): NM_ENUMERIC, and the state is
     * left as it was before the failing step. */
    CHECK_OK(nm_plugin_init(h, x, &v));
    nm_status st = NM_OK;
    double before[NM_PLUGIN_MAX_DIM];
    for (size_t k = 0; k < 100000 && st == NM_OK; k++) {
        memcpy(before, x, sizeof before);
        st = nm_plugin_step(h, 1e6, x, &v);
    }
    CHECK(st == NM_ENUMERIC && strstr(nm_last_error(), "diverged"));
    CHECK(memcmp(before, x, (size_t)dim * sizeof *x) == 0);

    CHECK_OK(nm_plugin_release(h));
    CHECK_FAILS(nm_plugin_info(h, &dim, &dt, &thr), NM_EINVAL, "not the handle");
    CHECK_FAILS(nm_plugin_init(h, x, &v), NM_EINVAL, "not the handle");
    CHECK_FAILS(nm_plugin_step(h, -38.0, x, &v), NM_EINVAL, "not the handle");
    CHECK_FAILS(nm_plugin_p_info(h, &pdef, NULL, NULL), NM_EINVAL, "not the handle");
    CHECK_FAILS(nm_plugin_p_label(h, name, sizeof name, NULL, 0), NM_EINVAL, "not the handle");
    CHECK(nm_plugin_count() == 0);
}

/* A model file replaced on disk (a retrained model written by rename) is
 * loaded afresh; holders of the old one keep it. */
static void test_replaced_file(void)
{
    char path[512];
    nm_test_path(path, sizeof path, "plugin_replaced.nmap");
    CHECK(copy_file(model_path, path));
    int h_old = 0, h_new = 0;
    CHECK_OK(nm_plugin_acquire(path, &h_old));
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(copy_file(other_path, tmp) && rename(tmp, path) == 0);
    CHECK_OK(nm_plugin_acquire(path, &h_new));
    CHECK(h_new != h_old && nm_plugin_count() == 2);
    const nm_learned *a = nm_plugin_get(h_old), *b = nm_plugin_get(h_new);
    CHECK(a && b && a != b);
    CHECK_OK(nm_plugin_release(h_old));
    CHECK_OK(nm_plugin_release(h_new));
    CHECK(nm_plugin_count() == 0);
    remove(path);
}

/* Issue 13 item 15: a file rewritten in place (same inode) with other
 * content of the same size and its old modification time restored is not
 * shared as the model loaded before; the unchanged file still is. */
static void test_rewritten_in_place(void)
{
    char path[512], alt[512];
    nm_test_path(path, sizeof path, "plugin_inplace.nmap");
    nm_test_path(alt, sizeof alt, "plugin_inplace_alt.nmap");
    CHECK(copy_file(model_path, path));
    /* The other content: the same model with another start state (same
     * entries, same sizes, so the same file size). */
    nm_mf *mf = NULL, *mf2 = nm_mf_alloc();
    CHECK_OK(nm_mf_read(model_path, &mf));
    for (size_t k = 0; mf && mf2 && k < nm_mf_count(mf); k++) {
        const char *name;
        nm_mf_type type;
        size_t n;
        const void *data;
        CHECK_OK(nm_mf_entry(mf, k, &name, &type, &n, &data));
        if (strcmp(name, "map.x0") == 0) {
            double x0[16];
            memcpy(x0, data, n * sizeof *x0);
            x0[0] += 0.25;
            CHECK_OK(nm_mf_add_f64(mf2, name, x0, n));
        } else {
            CHECK_OK(nm_mf_add(mf2, name, type, data, n));
        }
    }
    CHECK_OK(nm_mf_write(mf2, alt));
    nm_mf_free(mf);
    nm_mf_free(mf2);

    int h_old = 0, h_same = 0, h_new = 0;
    CHECK_OK(nm_plugin_acquire(path, &h_old));
    CHECK_OK(nm_plugin_acquire(path, &h_same));
    CHECK(h_old > 0 && h_same == h_old);
    struct stat before, after;
    CHECK(stat(path, &before) == 0);

    /* Rewrite the bytes through the same inode, then restore the times. */
    FILE *a = fopen(alt, "rb"), *b = fopen(path, "r+b");
    char buf[1 << 16];
    size_t n = a ? fread(buf, 1, sizeof buf, a) : 0;
    CHECK(a && b && n == (size_t)before.st_size && feof(a));
    if (b) {
        CHECK(fwrite(buf, 1, n, b) == n);
        fclose(b);
    }
    if (a) fclose(a);
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    CHECK(utimensat(AT_FDCWD, path, times, 0) == 0);
    CHECK(stat(path, &after) == 0);
    CHECK(after.st_ino == before.st_ino && after.st_size == before.st_size &&
          after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);

    CHECK_OK(nm_plugin_acquire(path, &h_new));
    CHECK(h_new > 0 && h_new != h_old && nm_plugin_count() == 2);
    const nm_learned *mo = nm_plugin_get(h_old), *mn = nm_plugin_get(h_new);
    if (mo && mn) {
        double xo[NM_PLUGIN_MAX_DIM], xn[NM_PLUGIN_MAX_DIM];
        nm_learned_initial_state(mo, xo);
        nm_learned_initial_state(mn, xn);
        CHECK_CLOSE(xn[0] - xo[0], 0.25, 1e-12, 1e-12); /* the new content, not the old */
    }
    /* Acquired again unchanged: shared with the new one. */
    int h_again = 0;
    CHECK_OK(nm_plugin_acquire(path, &h_again));
    CHECK(h_again == h_new && nm_plugin_refcount(h_new) == 2);
    CHECK_OK(nm_plugin_release(h_again));
    CHECK_OK(nm_plugin_release(h_new));
    CHECK_OK(nm_plugin_release(h_same));
    CHECK_OK(nm_plugin_release(h_old));
    CHECK(nm_plugin_count() == 0);
    remove(path);
    remove(alt);
}

/* Many threads acquiring, stepping and releasing at once: the counts must
 * come out exact (the mutex), and the sanitizer build sees the memory. */
enum { NTHREADS = 4, NROUNDS = 40 };
typedef struct { int failures; } worker_result;

static void *worker(void *arg)
{
    worker_result *r = arg;
    for (int k = 0; k < NROUNDS; k++) {
        int h = 0;
        const char *path = (k % 2) ? model_path : copy_path;
        if (nm_plugin_acquire(path, &h) != NM_OK) {
            r->failures++;
            continue;
        }
        double x[NM_PLUGIN_MAX_DIM], v;
        if (nm_plugin_init(h, x, &v) != NM_OK) r->failures++;
        for (int s = 0; s < 20; s++)
            if (nm_plugin_step(h, -38.0, x, &v) != NM_OK) r->failures++;
        if (nm_plugin_release(h) != NM_OK) r->failures++;
    }
    return NULL;
}

static void test_threads(void)
{
    int hold = 0;
    CHECK_OK(nm_plugin_acquire(model_path, &hold)); /* keeps one model alive throughout */
    pthread_t t[NTHREADS];
    worker_result r[NTHREADS];
    memset(r, 0, sizeof r);
    int started = 0;
    for (int i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, worker, &r[i]) == 0) started++;
    CHECK(started == NTHREADS);
    int failures = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
        failures += r[i].failures;
    }
    CHECK_MSG(failures == 0, "%d failures in the threads", failures);
    CHECK(nm_plugin_refcount(hold) == 1 && nm_plugin_count() == 1);
    CHECK_OK(nm_plugin_release(hold));
    CHECK(nm_plugin_count() == 0);
}

int main(void)
{
    nm_learned *a = tiny_model(1), *b = tiny_model(2);
    CHECK(a && b);
    if (!a || !b) {
        nm_learned_free(a);
        nm_learned_free(b);
        return nm_test_report();
    }
    nm_test_path(model_path, sizeof model_path, "plugin_model.nmap");
    nm_test_path(copy_path, sizeof copy_path, "plugin_model_copy.nmap");
    nm_test_path(other_path, sizeof other_path, "plugin_other.nmap");
    CHECK_OK(nm_learned_save(a, model_path));
    CHECK_OK(nm_learned_save(a, copy_path));
    CHECK_OK(nm_learned_save(b, other_path));
    nm_learned_free(a);
    nm_learned_free(b);

    NM_RUN(test_acquire_release);
    NM_RUN(test_bad_files);
    NM_RUN(test_glue);
    NM_RUN(test_replaced_file);
    NM_RUN(test_rewritten_in_place);
    NM_RUN(test_threads);
    remove(model_path);
    remove(copy_path);
    remove(other_path);
    return nm_test_report();
}
