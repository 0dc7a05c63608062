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

#include <pthread.h>
#include <stdio.h>
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
    NM_RUN(test_threads);
    remove(model_path);
    remove(copy_path);
    remove(other_path);
    return nm_test_report();
}
