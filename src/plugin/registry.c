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

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Generations wrap before handle overflows an int (and stay exact in the
 * double a NEURON RANGE variable holds). */
#define PLUGIN_MAX_GENERATION ((INT_MAX - NM_PLUGIN_MAX_MODELS) / NM_PLUGIN_MAX_MODELS)

typedef struct plugin_slot {
    nm_learned *model;   /* NULL: slot free */
    char *path;          /* as given to the first acquire (for messages) */
    dev_t dev;           /* file identity: a model is shared only with */
    ino_t ino;           /* acquires of the same, unchanged file */
    off_t size;
    struct timespec mtime;
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

static int same_file(const plugin_slot *s, const struct stat *sb)
{
    return s->dev == sb->st_dev && s->ino == sb->st_ino && s->size == sb->st_size &&
           s->mtime.tv_sec == sb->st_mtim.tv_sec && s->mtime.tv_nsec == sb->st_mtim.tv_nsec;
}

/* Slot already holding this file, or -1 (caller holds the lock). */
static long find_file(const struct stat *sb)
{
    for (size_t i = 0; i < NM_PLUGIN_MAX_MODELS; i++)
        if (registry[i].model && same_file(&registry[i], sb)) return (long)i;
    return -1;
}

nm_status nm_plugin_acquire(const char *path, int *handle)
{
    if (!handle) return nm_fail(NM_EINVAL, "plugin: NULL handle");
    *handle = 0;
    if (!path || !*path) return nm_fail(NM_EINVAL, "plugin: empty model path");
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        /* nm_learned_load gives the precise message (no such file, a folder, ...). */
        nm_learned *probe = NULL;
        nm_status st = nm_learned_load(path, &probe);
        nm_learned_free(probe);
        return st ? st : nm_fail(NM_EIO, "%s: cannot stat the model file", path);
    }

    pthread_mutex_lock(&registry_lock);
    long slot = find_file(&sb);
    if (slot >= 0) {
        registry[slot].refs++;
        *handle = make_handle((size_t)slot);
        pthread_mutex_unlock(&registry_lock);
        return NM_OK;
    }
    pthread_mutex_unlock(&registry_lock);

    /* Load outside the lock (it reads and checks the whole file); another
     * thread may load the same file meanwhile: the first insert wins and the
     * other copy is freed below. */
    nm_learned *m = NULL;
    nm_status st = nm_learned_load(path, &m);
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
    slot = find_file(&sb);
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
        s->dev = sb.st_dev;
        s->ino = sb.st_ino;
        s->size = sb.st_size;
        s->mtime = sb.st_mtim;
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
