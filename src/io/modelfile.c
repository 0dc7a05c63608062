/* modelfile.c -- the neuromap model file: a generic container of named,
 * typed arrays, its little-endian encoder/decoder and atomic file I/O.
 * The byte layout is documented in docs/model-format.md; keep both in step.
 *
 * Reading trusts nothing: every count and length is checked against the
 * bytes that remain before anything is allocated or copied, so a corrupted
 * or hostile file costs at most O(file size) memory and time. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "crc32.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const unsigned char MF_MAGIC[5] = {'N', 'M', 'A', 'P', 0x1A};
enum {
    MF_HEADER = 11,    /* magic(5) major(1) minor(1) entry count(4) */
    MF_TRAILER = 4,    /* CRC-32 of everything before it */
    MF_ENTRY_MIN = 19, /* name length(1) + 1-char name + type(1) + count(8) + bytes(8) */
    MF_MAX_ENTRIES = 65536
};
/* Upper bound on a file (and on one entry): model files are a few hundred kB
 * (the reference network has 42.7k parameters), so 1 GiB only stops runaway
 * allocations from a wrong path, never a real model. */
#define MF_MAX_BYTES ((size_t)1 << 30)

typedef struct mf_entry {
    char *name;      /* points into the same block as data */
    nm_mf_type type;
    size_t n;        /* elements */
    void *data;      /* n elements (strings: n bytes + NUL), host order */
} mf_entry;

struct nm_mf {
    mf_entry *e;
    size_t n, cap;
    unsigned major, minor; /* format version it was read from */
    size_t skipped;        /* entries of unknown type from a newer minor */
    char label[];          /* file name (or "model") for messages */
};

/* ---- helpers ------------------------------------------------------------ */

static size_t type_size(uint64_t t)
{
    switch (t) {
    case NM_MF_I32: case NM_MF_F32: return 4;
    case NM_MF_I64: case NM_MF_U64: case NM_MF_F64: return 8;
    case NM_MF_STR: return 1;
    }
    return 0; /* unknown */
}

const char *nm_mf_type_name(nm_mf_type t)
{
    static const char *const names[] = {"?", "i32", "i64", "u64", "f32", "f64", "str"};
    return type_size(t) ? names[t] : "?";
}

/* Index of the first byte of a name outside [A-Za-z0-9_.-], or len. */
static size_t name_bad_at(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        if (!ok) return i;
    }
    return len;
}

/* Index of the first NaN/Inf (floats) or NUL (strings), or n. */
static size_t first_bad_value(nm_mf_type t, const void *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((t == NM_MF_F32 && !isfinite(((const float *)d)[i])) ||
            (t == NM_MF_F64 && !isfinite(((const double *)d)[i])) ||
            (t == NM_MF_STR && ((const char *)d)[i] == '\0'))
            return i;
    }
    return n;
}

static nm_status bad_value_fail(nm_status code, const char *label, const char *name, nm_mf_type t,
                                const void *d, size_t i)
{
    if (t == NM_MF_STR)
        return nm_fail(code, "%s: entry '%s': NUL byte at offset %zu of the text", label, name, i);
    double v = t == NM_MF_F32 ? ((const float *)d)[i] : ((const double *)d)[i];
    return nm_fail(code, "%s: entry '%s': element %zu is not finite (%g)", label, name, i, v);
}

/* Little-endian integers of nbytes (1..8) bytes, independent of the host. */
static unsigned char *put_le(unsigned char *p, uint64_t v, size_t nbytes)
{
    for (size_t i = 0; i < nbytes; i++) p[i] = (unsigned char)(v >> (8 * i));
    return p + nbytes;
}

static uint64_t get_le(const unsigned char *p, size_t nbytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < nbytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Element i of a 4- or 8-byte array as its bit pattern (int32_t and IEEE
 * float share the layout of uint32_t; 8-byte types that of uint64_t). */
static uint64_t elem_bits(const void *data, size_t i, size_t es)
{
    if (es == 4) {
        uint32_t w;
        memcpy(&w, (const unsigned char *)data + 4 * i, 4);
        return w;
    }
    uint64_t w;
    memcpy(&w, (const unsigned char *)data + 8 * i, 8);
    return w;
}

static void set_elem_bits(void *data, size_t i, size_t es, uint64_t bits)
{
    if (es == 4) {
        uint32_t w = (uint32_t)bits;
        memcpy((unsigned char *)data + 4 * i, &w, 4);
    } else {
        memcpy((unsigned char *)data + 8 * i, &bits, 8);
    }
}

/* ---- the container ------------------------------------------------------ */

static nm_mf *mf_new(const char *label, size_t cap)
{
    nm_mf *mf = nm_calloc(1, sizeof *mf + strlen(label) + 1);
    if (!mf) return NULL;
    strcpy(mf->label, label);
    mf->major = NM_MF_VERSION_MAJOR;
    mf->minor = NM_MF_VERSION_MINOR;
    if (cap) {
        mf->e = nm_malloc(cap * sizeof *mf->e);
        if (!mf->e) {
            free(mf);
            return NULL;
        }
        mf->cap = cap;
    }
    return mf;
}

nm_mf *nm_mf_alloc(void) { return mf_new("model", 0); }

void nm_mf_free(nm_mf *mf)
{
    if (!mf) return;
    for (size_t i = 0; i < mf->n; i++) free(mf->e[i].data);
    free(mf->e);
    free(mf);
}

/* Append an entry with room for n elements (contents left to the caller).
 * Data and name share one block; data first, so it keeps malloc's alignment. */
static mf_entry *mf_push(nm_mf *mf, const char *name, size_t namelen, nm_mf_type type, size_t n)
{
    if (mf->n == mf->cap) {
        size_t cap = mf->cap ? 2 * mf->cap : 16;
        mf_entry *e = realloc(mf->e, cap * sizeof *e);
        if (!e) {
            nm_fail(NM_ENOMEM, "out of memory growing the model to %zu entries", cap);
            return NULL;
        }
        mf->e = e;
        mf->cap = cap;
    }
    size_t bytes = n * type_size(type) + (type == NM_MF_STR);
    unsigned char *block = nm_malloc(bytes + namelen + 1);
    if (!block) return NULL;
    mf_entry *e = &mf->e[mf->n++];
    e->data = block;
    e->name = (char *)block + bytes;
    memcpy(e->name, name, namelen);
    e->name[namelen] = '\0';
    if (type == NM_MF_STR) ((char *)block)[n] = '\0';
    e->type = type;
    e->n = n;
    return e;
}

static const mf_entry *mf_find(const nm_mf *mf, const char *name)
{
    for (size_t i = 0; i < mf->n; i++)
        if (strcmp(mf->e[i].name, name) == 0) return &mf->e[i];
    return NULL;
}

nm_status nm_mf_add(nm_mf *mf, const char *name, nm_mf_type type, const void *data, size_t n)
{
    if (!mf || !name) return nm_fail(NM_EINVAL, "nm_mf_add: NULL model or name");
    size_t len = strlen(name), es = type_size(type);
    if (len == 0 || len > NM_MF_NAME_MAX || name_bad_at(name, len) < len)
        return nm_fail(NM_EINVAL, "invalid model entry name '%s' (1..%d characters from A-Z a-z 0-9 _ . -)",
                       name, NM_MF_NAME_MAX);
    if (!es) return nm_fail(NM_EINVAL, "entry '%s': unknown type code %d", name, (int)type);
    if (n > 0 && !data) return nm_fail(NM_EINVAL, "entry '%s': NULL data for %zu elements", name, n);
    if (n > MF_MAX_BYTES / es) return nm_fail(NM_EINVAL, "entry '%s': %zu elements is too large", name, n);
    if (mf->n >= MF_MAX_ENTRIES)
        return nm_fail(NM_EINVAL, "entry '%s': a model holds at most %d entries", name, MF_MAX_ENTRIES);
    if (mf_find(mf, name)) return nm_fail(NM_EINVAL, "duplicate model entry '%s'", name);
    size_t bad = first_bad_value(type, data, n);
    if (bad < n) return bad_value_fail(NM_EINVAL, mf->label, name, type, data, bad);
    mf_entry *e = mf_push(mf, name, len, type, n);
    if (!e) return NM_ENOMEM;
    if (n) memcpy(e->data, data, n * es);
    return NM_OK;
}

nm_status nm_mf_add_i32(nm_mf *mf, const char *name, const int32_t *x, size_t n)
{
    return nm_mf_add(mf, name, NM_MF_I32, x, n);
}

nm_status nm_mf_add_i64(nm_mf *mf, const char *name, const int64_t *x, size_t n)
{
    return nm_mf_add(mf, name, NM_MF_I64, x, n);
}

nm_status nm_mf_add_u64(nm_mf *mf, const char *name, const uint64_t *x, size_t n)
{
    return nm_mf_add(mf, name, NM_MF_U64, x, n);
}

nm_status nm_mf_add_f32(nm_mf *mf, const char *name, const float *x, size_t n)
{
    return nm_mf_add(mf, name, NM_MF_F32, x, n);
}

nm_status nm_mf_add_f64(nm_mf *mf, const char *name, const double *x, size_t n)
{
    return nm_mf_add(mf, name, NM_MF_F64, x, n);
}

nm_status nm_mf_add_scalar_i32(nm_mf *mf, const char *name, int32_t x)
{
    return nm_mf_add(mf, name, NM_MF_I32, &x, 1);
}

nm_status nm_mf_add_scalar_u64(nm_mf *mf, const char *name, uint64_t x)
{
    return nm_mf_add(mf, name, NM_MF_U64, &x, 1);
}

nm_status nm_mf_add_scalar_f64(nm_mf *mf, const char *name, double x)
{
    return nm_mf_add(mf, name, NM_MF_F64, &x, 1);
}


nm_status nm_mf_add_str(nm_mf *mf, const char *name, const char *s)
{
    if (!s) return nm_fail(NM_EINVAL, "entry '%s': NULL string", name ? name : "");
    return nm_mf_add(mf, name, NM_MF_STR, s, strlen(s));
}

static void mf_remove_at(nm_mf *mf, size_t i)
{
    free(mf->e[i].data);
    memmove(&mf->e[i], &mf->e[i + 1], (mf->n - i - 1) * sizeof *mf->e);
    mf->n--;
}

nm_status nm_mf_remove(nm_mf *mf, const char *name)
{
    if (!mf || !name) return nm_fail(NM_EINVAL, "nm_mf_remove: NULL model or name");
    const mf_entry *e = mf_find(mf, name);
    if (!e) return nm_fail(NM_ENOTFOUND, "%s: no entry '%s'", mf->label, name);
    mf_remove_at(mf, (size_t)(e - mf->e));
    return NM_OK;
}

size_t nm_mf_remove_section(nm_mf *mf, const char *section)
{
    if (!mf || !section) return 0;
    size_t len = strlen(section), removed = 0;
    for (size_t i = mf->n; i-- > 0;) {
        if (strncmp(mf->e[i].name, section, len) == 0 && mf->e[i].name[len] == '.') {
            mf_remove_at(mf, i);
            removed++;
        }
    }
    return removed;
}

/* ---- lookup and listing ------------------------------------------------- */

int nm_mf_has(const nm_mf *mf, const char *name) { return mf && name && mf_find(mf, name); }

nm_status nm_mf_get(const nm_mf *mf, const char *name, nm_mf_type type, size_t n_expected,
                    const void **data, size_t *n)
{
    if (!mf || !name) return nm_fail(NM_EINVAL, "nm_mf_get: NULL model or name");
    const mf_entry *e = mf_find(mf, name);
    if (!e) return nm_fail(NM_ENOTFOUND, "%s: no entry '%s'", mf->label, name);
    if (e->type != type)
        return nm_fail(NM_EFORMAT, "%s: entry '%s' is %s[%zu], expected %s", mf->label, name,
                       nm_mf_type_name(e->type), e->n, nm_mf_type_name(type));
    if (n_expected != NM_MF_ANY && e->n != n_expected)
        return nm_fail(NM_EFORMAT, "%s: entry '%s' has %zu elements, expected %zu", mf->label, name,
                       e->n, n_expected);
    if (data) *data = e->data;
    if (n) *n = e->n;
    return NM_OK;
}

#define NM_MF_GETTER(fn, T, code)                                                    \
    nm_status fn(const nm_mf *mf, const char *name, size_t n_expected, const T **x, size_t *n) \
    {                                                                                \
        const void *d = NULL;                                                        \
        nm_status st = nm_mf_get(mf, name, code, n_expected, &d, n);                 \
        if (x) *x = d;                                                               \
        return st;                                                                   \
    }
NM_MF_GETTER(nm_mf_get_i32, int32_t, NM_MF_I32)
NM_MF_GETTER(nm_mf_get_i64, int64_t, NM_MF_I64)
NM_MF_GETTER(nm_mf_get_u64, uint64_t, NM_MF_U64)
NM_MF_GETTER(nm_mf_get_f32, float, NM_MF_F32)
NM_MF_GETTER(nm_mf_get_f64, double, NM_MF_F64)
#undef NM_MF_GETTER

nm_status nm_mf_get_str(const nm_mf *mf, const char *name, const char **s)
{
    const void *d = NULL;
    nm_status st = nm_mf_get(mf, name, NM_MF_STR, NM_MF_ANY, &d, NULL);
    if (s) *s = d;
    return st;
}

nm_status nm_mf_get_scalar_i32(const nm_mf *mf, const char *name, int32_t *x)
{
    const void *d;
    nm_status st = nm_mf_get(mf, name, NM_MF_I32, 1, &d, NULL);
    if (!st && x) memcpy(x, d, sizeof *x);
    return st;
}

nm_status nm_mf_get_scalar_u64(const nm_mf *mf, const char *name, uint64_t *x)
{
    const void *d;
    nm_status st = nm_mf_get(mf, name, NM_MF_U64, 1, &d, NULL);
    if (!st && x) memcpy(x, d, sizeof *x);
    return st;
}

nm_status nm_mf_get_scalar_f64(const nm_mf *mf, const char *name, double *x)
{
    const void *d;
    nm_status st = nm_mf_get(mf, name, NM_MF_F64, 1, &d, NULL);
    if (!st && x) memcpy(x, d, sizeof *x);
    return st;
}

size_t nm_mf_count(const nm_mf *mf) { return mf ? mf->n : 0; }

nm_status nm_mf_entry(const nm_mf *mf, size_t i, const char **name, nm_mf_type *type,
                      size_t *n, const void **data)
{
    if (!mf || i >= mf->n)
        return nm_fail(NM_EINVAL, "model entry index %zu out of range (%zu entries)", i, mf ? mf->n : 0);
    const mf_entry *e = &mf->e[i];
    if (name) *name = e->name;
    if (type) *type = e->type;
    if (n) *n = e->n;
    if (data) *data = e->data;
    return NM_OK;
}

void nm_mf_format(const nm_mf *mf, unsigned *major, unsigned *minor, size_t *nskipped)
{
    if (major) *major = mf ? mf->major : NM_MF_VERSION_MAJOR;
    if (minor) *minor = mf ? mf->minor : NM_MF_VERSION_MINOR;
    if (nskipped) *nskipped = mf ? mf->skipped : 0;
}

/* ---- encoding ----------------------------------------------------------- */

nm_status nm_mf_encode(const nm_mf *mf, unsigned char **buf, size_t *len)
{
    if (!mf || !buf || !len) return nm_fail(NM_EINVAL, "nm_mf_encode: NULL argument");
    *buf = NULL;
    *len = 0;
    size_t total = MF_HEADER + MF_TRAILER;
    for (size_t i = 0; i < mf->n; i++) {
        size_t sz = 1 + strlen(mf->e[i].name) + 1 + 8 + 8 + mf->e[i].n * type_size(mf->e[i].type);
        if (sz > MF_MAX_BYTES - total)
            return nm_fail(NM_EINVAL, "%s: model larger than %zu bytes", mf->label, MF_MAX_BYTES);
        total += sz;
    }
    unsigned char *b = nm_malloc(total), *p = b;
    if (!b) return NM_ENOMEM;
    memcpy(p, MF_MAGIC, sizeof MF_MAGIC);
    p += sizeof MF_MAGIC;
    *p++ = NM_MF_VERSION_MAJOR;
    *p++ = NM_MF_VERSION_MINOR;
    p = put_le(p, mf->n, 4);
    for (size_t i = 0; i < mf->n; i++) {
        const mf_entry *e = &mf->e[i];
        size_t nl = strlen(e->name), es = type_size(e->type);
        *p++ = (unsigned char)nl;
        memcpy(p, e->name, nl);
        p += nl;
        *p++ = (unsigned char)e->type;
        p = put_le(p, e->n, 8);
        p = put_le(p, (uint64_t)e->n * es, 8);
        if (e->type == NM_MF_STR) {
            memcpy(p, e->data, e->n);
            p += e->n;
        } else {
            for (size_t j = 0; j < e->n; j++) p = put_le(p, elem_bits(e->data, j, es), es);
        }
    }
    put_le(p, nm_crc32(0, b, total - MF_TRAILER), 4);
    *buf = b;
    *len = total;
    return NM_OK;
}

/* ---- decoding: a bounded cursor ----------------------------------------- */

typedef struct rd {
    const unsigned char *p;
    size_t left;                    /* bytes before the CRC trailer */
    const char *label;
    char where[NM_MF_NAME_MAX + 32]; /* "header", "entry #3", "entry 'name'" */
} rd;

static nm_status rd_take(rd *r, uint64_t n, const unsigned char **out)
{
    if (n > r->left)
        return nm_fail(NM_EFORMAT, "%s: truncated in %s (needs %llu bytes, %zu remain)", r->label,
                       r->where, (unsigned long long)n, r->left);
    *out = r->p;
    r->p += n;
    r->left -= (size_t)n;
    return NM_OK;
}

static nm_status rd_uint(rd *r, size_t nbytes, uint64_t *v)
{
    const unsigned char *q = NULL;
    nm_status st = rd_take(r, nbytes, &q);
    if (!st) *v = get_le(q, nbytes);
    return st;
}

/* Entry i (0-based): structure only; values are checked after the CRC. */
static nm_status rd_entry(rd *r, nm_mf *mf, size_t i)
{
    const unsigned char *q = NULL;
    uint64_t nl = 0, type = 0, n = 0, nbytes = 0;
    nm_status st;
    snprintf(r->where, sizeof r->where, "entry #%zu", i + 1);
    if ((st = rd_uint(r, 1, &nl))) return st;
    if (nl == 0) return nm_fail(NM_EFORMAT, "%s: entry #%zu has an empty name", r->label, i + 1);
    if ((st = rd_take(r, nl, &q))) return st;
    const char *name = (const char *)q;
    size_t bad = name_bad_at(name, (size_t)nl);
    if (bad < nl)
        return nm_fail(NM_EFORMAT, "%s: entry #%zu: invalid byte 0x%02X in its name", r->label, i + 1,
                       q[bad]);
    snprintf(r->where, sizeof r->where, "entry '%.*s'", (int)nl, name);
    if ((st = rd_uint(r, 1, &type)) || (st = rd_uint(r, 8, &n)) || (st = rd_uint(r, 8, &nbytes)) ||
        (st = rd_take(r, nbytes, &q)))
        return st;
    size_t es = type_size(type);
    if (!es) {
        /* A newer minor version may add types; every entry carries its byte
         * length, so unknown ones are skipped.  Within our own version an
         * unknown type can only be corruption. */
        if (mf->minor > NM_MF_VERSION_MINOR) {
            mf->skipped++;
            return NM_OK;
        }
        return nm_fail(NM_EFORMAT, "%s: %s has unknown type code %u", r->label, r->where, (unsigned)type);
    }
    if (nbytes % es != 0 || n != nbytes / es)
        return nm_fail(NM_EFORMAT, "%s: %s: %llu payload bytes do not hold %llu %s elements", r->label,
                       r->where, (unsigned long long)nbytes, (unsigned long long)n,
                       nm_mf_type_name((nm_mf_type)type));
    mf_entry *e = mf_push(mf, name, (size_t)nl, (nm_mf_type)type, (size_t)n);
    if (!e) return NM_ENOMEM;
    if (type == NM_MF_STR) memcpy(e->data, q, (size_t)n);
    else
        for (size_t j = 0; j < n; j++) set_elem_bits(e->data, j, es, get_le(q + j * es, es));
    return NM_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Duplicate names, found by sorting (a hostile file may hold 50k entries). */
static nm_status check_unique(const nm_mf *mf)
{
    if (mf->n < 2) return NM_OK;
    const char **names = nm_malloc(mf->n * sizeof *names);
    if (!names) return NM_ENOMEM;
    for (size_t i = 0; i < mf->n; i++) names[i] = mf->e[i].name;
    qsort(names, mf->n, sizeof *names, cmp_names);
    nm_status st = NM_OK;
    for (size_t i = 1; i < mf->n && !st; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            st = nm_fail(NM_EFORMAT, "%s: duplicate entry '%s'", mf->label, names[i]);
    free(names);
    return st;
}

/* Order of checks: header, then structure (every length against what
 * remains), trailing bytes, CRC, and only then content (duplicates,
 * NaN/Inf, NUL in text), so corruption is reported as corruption. */
nm_status nm_mf_decode(const void *buf, size_t len, const char *label, nm_mf **out)
{
    if (!out) return nm_fail(NM_EINVAL, "nm_mf_decode: NULL output");
    *out = NULL;
    if (!label) label = "<memory>";
    if (!buf && len) return nm_fail(NM_EINVAL, "%s: NULL buffer", label);
    const unsigned char *b = buf;
    if (len == 0) return nm_fail(NM_EFORMAT, "%s: empty file", label);
    if (memcmp(b, MF_MAGIC, len < sizeof MF_MAGIC ? len : sizeof MF_MAGIC) != 0)
        return nm_fail(NM_EFORMAT, "%s: not a neuromap model file (bad magic number)", label);
    if (len < MF_HEADER + MF_TRAILER)
        return nm_fail(NM_EFORMAT, "%s: truncated (%zu bytes; a model file has at least %d)", label, len,
                       MF_HEADER + MF_TRAILER);
    if (b[5] != NM_MF_VERSION_MAJOR)
        return nm_fail(NM_EVERSION, "%s: format version %u.%u is not supported (this reader reads %d.x)",
                       label, b[5], b[6], NM_MF_VERSION_MAJOR);
    if (len > MF_MAX_BYTES)
        return nm_fail(NM_EFORMAT, "%s: %zu bytes is larger than any model file (%zu)", label, len,
                       MF_MAX_BYTES);

    rd r = {b + 7, len - 7 - MF_TRAILER, label, "header"};
    uint64_t count = 0;
    nm_status st = rd_uint(&r, 4, &count);
    if (st) return st;
    if (count > MF_MAX_ENTRIES || count > r.left / MF_ENTRY_MIN)
        return nm_fail(NM_EFORMAT,
                       "%s: entry count %llu is impossible (%zu bytes hold at most %zu entries)", label,
                       (unsigned long long)count, r.left, r.left / MF_ENTRY_MIN);
    nm_mf *mf = mf_new(label, (size_t)count);
    if (!mf) return NM_ENOMEM;
    mf->minor = b[6];
    for (size_t i = 0; i < count && !st; i++) st = rd_entry(&r, mf, i);
    if (!st && r.left)
        st = nm_fail(NM_EFORMAT, "%s: %zu trailing bytes after the last entry", label, r.left);
    if (!st) {
        uint32_t stored = (uint32_t)get_le(b + len - MF_TRAILER, 4);
        uint32_t computed = nm_crc32(0, b, len - MF_TRAILER);
        if (stored != computed)
            st = nm_fail(NM_ECHECKSUM,
                         "%s: checksum mismatch (stored 0x%08X, computed 0x%08X): the file is corrupted", label,
                         (unsigned)stored, (unsigned)computed);
    }
    if (!st) st = check_unique(mf);
    for (size_t i = 0; i < mf->n && !st; i++) {
        const mf_entry *e = &mf->e[i];
        size_t bad = first_bad_value(e->type, e->data, e->n);
        if (bad < e->n) st = bad_value_fail(NM_EFORMAT, label, e->name, e->type, e->data, bad);
    }
    if (st) {
        nm_mf_free(mf);
        return st;
    }
    *out = mf;
    return NM_OK;
}

/* ---- files -------------------------------------------------------------- */

static const char *errno_text(int err, char *buf, size_t len)
{
    if (strerror_r(err, buf, len) != 0) snprintf(buf, len, "error %d", err);
    return buf;
}

nm_status nm_mf_read(const char *path, nm_mf **out)
{
    if (!out) return nm_fail(NM_EINVAL, "nm_mf_read: NULL output");
    *out = NULL;
    if (!path || !*path) return nm_fail(NM_EINVAL, "empty model file name");
    char eb[128];
    struct stat sb;
    /* Check the kind before opening: opening a FIFO would block. */
    if (stat(path, &sb) != 0)
        return nm_fail(NM_EIO, "%s: cannot open: %s", path, errno_text(errno, eb, sizeof eb));
    if (S_ISDIR(sb.st_mode)) return nm_fail(NM_EIO, "%s: is a directory, not a model file", path);
    if (!S_ISREG(sb.st_mode)) return nm_fail(NM_EIO, "%s: not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return nm_fail(NM_EIO, "%s: cannot open: %s", path, errno_text(errno, eb, sizeof eb));
    nm_status st = NM_OK;
    unsigned char *buf = NULL;
    size_t len = 0;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode))
        st = nm_fail(NM_EIO, "%s: cannot stat as a regular file", path);
    else if ((uintmax_t)sb.st_size > MF_MAX_BYTES)
        st = nm_fail(NM_EFORMAT, "%s: %jd bytes is larger than any model file (%zu)", path,
                     (intmax_t)sb.st_size, MF_MAX_BYTES);
    else {
        len = (size_t)sb.st_size;
        buf = nm_malloc(len);
        if (!buf) st = NM_ENOMEM;
        else if (len && fread(buf, 1, len, f) != len)
            st = nm_fail(NM_EIO, "%s: read failed: %s", path,
                         ferror(f) ? errno_text(errno, eb, sizeof eb) : "file shrank while reading");
    }
    fclose(f);
    if (!st) st = nm_mf_decode(buf, len, path, out);
    free(buf);
    return st;
}

nm_status nm_mf_write(const nm_mf *mf, const char *path)
{
    if (!mf || !path || !*path) return nm_fail(NM_EINVAL, "nm_mf_write: NULL model or empty file name");
    unsigned char *buf;
    size_t len;
    nm_status st = nm_mf_encode(mf, &buf, &len);
    if (st) return st;
    size_t tl = strlen(path) + 16;
    char *tmp = nm_malloc(tl);
    FILE *f = tmp ? nm_atomic_open(path, tmp, tl) : NULL;
    if (!tmp) st = NM_ENOMEM;
    else if (!f) st = NM_EIO; /* message set by nm_atomic_open */
    else if (fwrite(buf, 1, len, f) != len) {
        char eb[128];
        st = nm_fail(NM_EIO, "%s: write failed: %s", path, errno_text(errno, eb, sizeof eb));
        nm_atomic_abort(f, tmp);
    } else
        st = nm_atomic_commit(f, tmp, path);
    free(tmp);
    free(buf);
    return st;
}
