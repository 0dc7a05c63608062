/* registry.c -- loaded learned models shared by integer handles (NEURON
 * plugin support, include/neuromap.h).
 *
 * NEURON cells keep their numbers in double-valued RANGE variables, so a cell
 * cannot hold a C pointer portably; it holds a handle instead.  This table is
 * the one deliberate piece of global mutable state in libneuromap: one mutex
 * guards every field below, and the models themselves are read-only after
 * loading, so cells on several NEURON threads step one model at once without
 * locking anything but the lookup.
 *
 * A handle encodes a slot and that slot's generation,
 *     handle = generation * NM_PLUGIN_MAX_MODELS + slot + 1,
 * so a handle kept after its model was freed (or a number typed by hand)
 * does not silently reach the model that reuses the slot: nm_plugin_get
 * returns NULL and nm_plugin_release fails with a message. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Generations wrap before handle overflows an int (and stay exact in the
 * double a NEURON RANGE variable holds). */
#define PLUGIN_MAX_GENERATION ((INT_MAX - NM_PLUGIN_MAX_MODELS) / NM_PLUGIN_MAX_MODELS)

/* What a model is shared by: the file's identity (device, inode), its size,
 * modification and status-change times, and the CRC-32 of its content (the
 * file's own trailer, docs/model-format.md).  Rewriting a file in place
 * changes its ctime (which no program can set back, unlike the mtime) and,
 * for any other content, its CRC: a changed file is never mistaken for the
 * loaded one. */
typedef struct file_key {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
    uint32_t crc;
} file_key;

typedef struct plugin_slot {
    nm_learned *model;   /* NULL: slot free */
    char *path;          /* as given to the first acquire (for messages) */
    file_key key;        /* shared only with acquires of the same, unchanged file */
    size_t refs;
    int generation;
} plugin_slot;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static plugin_slot registry[NM_PLUGIN_MAX_MODELS];

static int make_handle(size_t slot)
{
    return registry[slot].generation * NM_PLUGIN_MAX_MODELS + (int)slot + 1;
}

/* Slot of a live handle, or -1 (caller holds the lock). */
static long slot_of(int handle)
{
    if (handle <= 0) return -1;
    long slot = (long)((handle - 1) % NM_PLUGIN_MAX_MODELS);
    int gen = (handle - 1) / NM_PLUGIN_MAX_MODELS;
    if (!registry[slot].model || registry[slot].generation != gen) return -1;
    return slot;
}

static int same_key(const file_key *a, const file_key *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->crc == b->crc &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void key_from_stat(file_key *k, const struct stat *sb)
{
    memset(k, 0, sizeof *k);
    k->dev = sb->st_dev;
    k->ino = sb->st_ino;
    k->size = sb->st_size;
    k->mtime = sb->st_mtim;
    k->ctime = sb->st_ctim;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The key of the file as it is now: its status and its last four bytes
 * (the stored CRC).  0 on success; -1 if it cannot be read as a regular
 * file (the loader then gives the precise message). */
static int peek_key(const char *path, file_key *k)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat sb;
    unsigned char t[4];
    int ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 4 &&
             pread(fd, t, 4, sb.st_size - 4) == 4;
    close(fd);
    if (!ok) return -1;
    key_from_stat(k, &sb);
    k->crc = le32(t);
    return 0;
}

/* Read the whole file through one descriptor, with the key of exactly the
 * bytes read (its status before and after the read must agree: a file
 * rewritten meanwhile is read again).  0 on success; -1 if it cannot be read
 * as a regular model file of at most 1 GiB (the loader gives the message). */
static int read_keyed(const char *path, unsigned char **buf, size_t *len, file_key *k)
{
    *buf = NULL;
    *len = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) return -1;
        struct stat before, after;
        if (fstat(fd, &before) != 0 || !S_ISREG(before.st_mode) || before.st_size < 4 ||
            (uintmax_t)before.st_size > ((uintmax_t)1 << 30)) {
            close(fd);
            return -1;
        }
        size_t n = (size_t)before.st_size, got = 0;
        unsigned char *b = malloc(n);
        if (!b) {
            close(fd);
            return -1;
        }
        while (got < n) {
            ssize_t r = read(fd, b + got, n - got);
            if (r <= 0) break;
            got += (size_t)r;
        }
        int ok = got == n && fstat(fd, &after) == 0;
        close(fd);
        file_key kb, ka;
        if (ok) {
            key_from_stat(&kb, &before);
            key_from_stat(&ka, &after);
        }
        if (ok && same_key(&kb, &ka)) {
            *k = kb;
            k->crc = le32(b + n - 4);
            *buf = b;
            *len = n;
            return 0;
        }
        free(b);
    }
    return -1;
}

/* Slot already holding this content, or -1 (caller holds the lock). */
static long find_key(const file_key *k)
{
    for (size_t i = 0; i < NM_PLUGIN_MAX_MODELS; i++)
        if (registry[i].model && same_key(&registry[i].key, k)) return (long)i;
    return -1;
}

/* The precise message for a file that cannot be read as a model. */
static nm_status load_error(const char *path)
{
    nm_learned *probe = NULL;
    nm_status st = nm_learned_load(path, &probe);
    nm_learned_free(probe);
    return st ? st : nm_fail(NM_EIO, "%s: the model file changed while it was read", path);
}

nm_status nm_plugin_acquire(const char *path, int *handle)
{
    if (!handle) return nm_fail(NM_EINVAL, "plugin: NULL handle");
    *handle = 0;
    if (!path || !*path) return nm_fail(NM_EINVAL, "plugin: empty model path");
    file_key key;
    if (peek_key(path, &key) == 0) {
        pthread_mutex_lock(&registry_lock);
        long slot = find_key(&key);
        if (slot >= 0) {
            registry[slot].refs++;
            *handle = make_handle((size_t)slot);
            pthread_mutex_unlock(&registry_lock);
            return NM_OK;
        }
        pthread_mutex_unlock(&registry_lock);
    }

    /* Load outside the lock (it reads and checks the whole file); another
     * thread may load the same file meanwhile: the first insert wins and the
     * other copy is freed below.  The key is that of the bytes loaded. */
    unsigned char *buf = NULL;
    size_t len = 0;
    if (read_keyed(path, &buf, &len, &key) != 0) return load_error(path);
    nm_mf *mf = NULL;
    nm_learned *m = NULL;
    nm_status st = nm_mf_decode(buf, len, path, &mf);
    free(buf);
    if (!st) st = nm_learned_from_mf(mf, path, &m);
    nm_mf_free(mf);
    if (st) return st;
    if (nm_learned_dim(m) > NM_PLUGIN_MAX_DIM) {
        size_t dim = nm_learned_dim(m);
        nm_learned_free(m);
        return nm_fail(NM_EFORMAT, "%s: latent dimension %zu is more than the NEURON cells hold (%d)",
                       path, dim, NM_PLUGIN_MAX_DIM);
    }
    char *copy = nm_malloc(strlen(path) + 1);
    if (!copy) {
        nm_learned_free(m);
        return NM_ENOMEM;
    }
    strcpy(copy, path);

    pthread_mutex_lock(&registry_lock);
    long slot = find_key(&key);
    if (slot >= 0) {
        registry[slot].refs++;
        *handle = make_handle((size_t)slot);
        pthread_mutex_unlock(&registry_lock);
        nm_learned_free(m);
        free(copy);
        return NM_OK;
    }
    for (size_t i = 0; i < NM_PLUGIN_MAX_MODELS; i++) {
        plugin_slot *s = &registry[i];
        if (s->model) continue;
        s->model = m;
        s->path = copy;
        s->key = key;
        s->refs = 1;
        *handle = make_handle(i);
        pthread_mutex_unlock(&registry_lock);
        return NM_OK;
    }
    pthread_mutex_unlock(&registry_lock);
    nm_learned_free(m);
    free(copy);
    return nm_fail(NM_ENOMEM, "%s: %d different model files are already loaded (the registry's "
                   "limit NM_PLUGIN_MAX_MODELS)", path, NM_PLUGIN_MAX_MODELS);
}

nm_status nm_plugin_release(int handle)
{
    nm_learned *gone = NULL;
    char *gone_path = NULL;
    pthread_mutex_lock(&registry_lock);
    long slot = slot_of(handle);
    if (slot < 0) {
        pthread_mutex_unlock(&registry_lock);
        return nm_fail(NM_EINVAL, "plugin: %d is not the handle of a loaded model", handle);
    }
    plugin_slot *s = &registry[slot];
    if (--s->refs == 0) {
        gone = s->model;
        gone_path = s->path;
        s->model = NULL;
        s->path = NULL;
        s->generation = s->generation >= PLUGIN_MAX_GENERATION ? 0 : s->generation + 1;
    }
    pthread_mutex_unlock(&registry_lock);
    nm_learned_free(gone);
    free(gone_path);
    return NM_OK;
}

const nm_learned *nm_plugin_get(int handle)
{
    pthread_mutex_lock(&registry_lock);
    long slot = slot_of(handle);
    const nm_learned *m = slot >= 0 ? registry[slot].model : NULL;
    pthread_mutex_unlock(&registry_lock);
    return m;
}

size_t nm_plugin_count(void)
{
    size_t n = 0;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < NM_PLUGIN_MAX_MODELS; i++) n += registry[i].model != NULL;
    pthread_mutex_unlock(&registry_lock);
    return n;
}

size_t nm_plugin_refcount(int handle)
{
    pthread_mutex_lock(&registry_lock);
    long slot = slot_of(handle);
    size_t refs = slot >= 0 ? registry[slot].refs : 0;
    pthread_mutex_unlock(&registry_lock);
    return refs;
}

/* ---- scalar glue for mod files ------------------------------------------ */

/* The model behind a handle, or NM_EINVAL with a message naming the caller. */
static nm_status get_or_fail(int handle, const char *what, const nm_learned **m)
{
    *m = nm_plugin_get(handle);
    if (!*m) return nm_fail(NM_EINVAL, "%s: %d is not the handle of a loaded model", what, handle);
    return NM_OK;
}

nm_status nm_plugin_info(int handle, int *dim, double *dt_ms, double *threshold_mv)
{
    const nm_learned *m;
    nm_status st = get_or_fail(handle, "plugin info", &m);
    if (st) return st;
    if (dim) *dim = (int)nm_learned_dim(m);
    if (dt_ms) *dt_ms = nm_learned_dt_ms(m);
    if (threshold_mv) *threshold_mv = nm_learned_threshold_mv(m);
    return NM_OK;
}

nm_status nm_plugin_init(int handle, double *x, double *v)
{
    const nm_learned *m;
    nm_status st = get_or_fail(handle, "plugin init", &m);
    if (st) return st;
    if (!x) return nm_fail(NM_EINVAL, "plugin init: NULL state");
    nm_learned_initial_state(m, x);
    if (v) *v = nm_learned_decode_v(m, x);
    return NM_OK;
}

nm_status nm_plugin_step(int handle, double p, double *x, double *v)
{
    const nm_learned *m;
    nm_status st = get_or_fail(handle, "plugin step", &m);
    if (st) return st;
    if (!x) return nm_fail(NM_EINVAL, "plugin step: NULL state");
    /* Through a copy: on failure the caller's state stays as it was. */
    double next[NM_PLUGIN_MAX_DIM];
    if ((st = nm_learned_step(m, p, x, next))) return st;
    double vn = nm_learned_decode_v(m, next);
    if (!isfinite(vn)) return nm_fail(NM_ENUMERIC, "plugin step at p = %g: the decoded V is not finite", p);
    memcpy(x, next, nm_learned_dim(m) * sizeof *x);
    if (v) *v = vn;
    return NM_OK;
}

nm_status nm_plugin_p_info(int handle, double *p_default, double *pmin, double *pmax)
{
    const nm_learned *m;
    nm_status st = get_or_fail(handle, "plugin p info", &m);
    if (st) return st;
    if (p_default) *p_default = nm_learned_p_default(m);
    nm_learned_p_range(m, pmin, pmax);
    return NM_OK;
}

nm_status nm_plugin_p_label(int handle, char *name, size_t nname, char *unit, size_t nunit)
{
    const nm_learned *m;
    nm_status st = get_or_fail(handle, "plugin p label", &m);
    if (st) return st;
    if (name && nname) snprintf(name, nname, "%s", nm_learned_p_name(m));
    if (unit && nunit) snprintf(unit, nunit, "%s", nm_learned_p_unit(m));
    return NM_OK;
}
