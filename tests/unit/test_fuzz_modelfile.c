/* test_fuzz_modelfile.c -- the model file against hostile and careless
 * edits: structural mutations of a valid learned model WITH THE CHECKSUM
 * RECOMPUTED, so the content validation (nm_mf_validate, src/learn/
 * model_check.c) is exercised and not only the CRC.
 *
 * Every mutant must either load and run a few steps with finite output, or
 * be refused with a message naming the file; the one validation must agree
 * with the loader (same status, same message: `info` and `run` say the
 * same); nothing crashes (run under ASan+UBSan by scripts/test.sh); and no
 * single allocation exceeds a bound proportional to the file (malloc,
 * calloc, realloc and aligned_alloc are wrapped at link time: --wrap in
 * tests/CMakeLists.txt; requests above the bound are refused and counted).
 *
 * Mutations: every entry removed, duplicated, renamed into a copy section;
 * every element of the short arrays and the first/last of long ones set to
 * 0, 1, -1, huge, negative-as-unsigned, subnormal, NaN, ...; every entry's
 * name length, type, count and byte length changed; arrays grown and shrunk
 * consistently; whole sections removed and duplicated; the header's count
 * and version; truncations at every entry boundary; then random byte flips,
 * insertions and deletions.  NM_FUZZ_ITERS (default 5000) sets the number of
 * random mutants, NM_FUZZ_SEED (default 1) their seed: for a long local run,
 *     NM_FUZZ_ITERS=200000 NM_FUZZ_SEED=7 build-asan/tests/test_fuzz_modelfile
 * (docs/model-format.md, "Validation and fuzzing").  A failing mutant is
 * written to $NM_TEST_TMPDIR/fuzz_fail_<n>.nmap. */
#define _POSIX_C_SOURCE 200809L
#include "neuromap.h"
#include "nm_test.h"
#include "nm_test_model.h"

#include "io/crc32.h"
#include "learn/batch.h"
#include "learn/vhead.h"

#include <stdatomic.h>
#include <stdint.h>

/* ---- allocation accounting ---------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);

static atomic_size_t alloc_cap = SIZE_MAX; /* larger requests are refused */
static atomic_size_t alloc_max;            /* largest request since reset */
static atomic_size_t alloc_refused;

static int alloc_ok(size_t n)
{
    size_t m = atomic_load(&alloc_max);
    while (n > m && !atomic_compare_exchange_weak(&alloc_max, &m, n)) {
    }
    if (n > atomic_load(&alloc_cap)) {
        atomic_fetch_add(&alloc_refused, 1);
        return 0;
    }
    return 1;
}

void *__wrap_malloc(size_t n) { return alloc_ok(n) ? __real_malloc(n) : NULL; }
void *__wrap_realloc(void *p, size_t n) { return alloc_ok(n) ? __real_realloc(p, n) : NULL; }
void *__wrap_aligned_alloc(size_t a, size_t n) { return alloc_ok(n) ? __real_aligned_alloc(a, n) : NULL; }
void *__wrap_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return __real_calloc(n, size); /* fails by itself */
    return alloc_ok(n * size) ? __real_calloc(n, size) : NULL;
}

/* The bound for a file of len bytes: a few copies of the file (read buffer,
 * decoded container, the loader's private copy, parameters and gradients)
 * plus fixed-size workspaces. */
static size_t alloc_bound(size_t len) { return 4 * len + ((size_t)1 << 20); }

static void alloc_reset(size_t cap)
{
    atomic_store(&alloc_max, 0);
    atomic_store(&alloc_refused, 0);
    atomic_store(&alloc_cap, cap);
}

/* ---- the file as bytes -------------------------------------------------- */

typedef struct buf {
    unsigned char *b;
    size_t len, cap;
} buf;

static void buf_put(buf *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = 2 * (o->len + n) + 64;
        unsigned char *nb = realloc(o->b, cap);
        if (!nb) abort();
        o->b = nb;
        o->cap = cap;
    }
    if (n) memcpy(o->b + o->len, p, n);
    o->len += n;
}

static void put_le(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Recompute the trailer: the CRC of everything before it. */
static void fix_crc(buf *o)
{
    if (o->len < 4) return;
    put_le(o->b + o->len - 4, nm_crc32(0, o->b, o->len - 4), 4);
}

/* One entry of the valid file. */
typedef struct ent {
    size_t off, end;      /* its bytes [off, end) */
    size_t namelen;
    char name[256];
    unsigned type;
    uint64_t n, nbytes;
    size_t payload;       /* offset of the payload */
} ent;

static unsigned char *base;
static size_t base_len;
static ent ents[256];
static size_t nents;

static size_t type_size(unsigned t)
{
    return t == 1 || t == 4 ? 4 : t == 2 || t == 3 || t == 5 ? 8 : t == 6 ? 1 : 0;
}

static int parse_base(void)
{
    size_t count = (size_t)get_le(base + 7, 4), pos = 11;
    if (count > 256) return 0;
    for (size_t i = 0; i < count; i++) {
        ent *e = &ents[i];
        e->off = pos;
        e->namelen = base[pos];
        memcpy(e->name, base + pos + 1, e->namelen);
        e->name[e->namelen] = 0;
        pos += 1 + e->namelen;
        e->type = base[pos];
        e->n = get_le(base + pos + 1, 8);
        e->nbytes = get_le(base + pos + 9, 8);
        e->payload = pos + 17;
        pos = e->payload + (size_t)e->nbytes;
        e->end = pos;
    }
    nents = count;
    return pos + 4 == base_len;
}

/* A copy of the file with bytes [from, to) replaced by rep[rlen] and the
 * entry count changed by dcount; CRC recomputed. */
static buf splice(size_t from, size_t to, const void *rep, size_t rlen, long dcount)
{
    buf o = {0};
    buf_put(&o, base, from);
    buf_put(&o, rep, rlen);
    buf_put(&o, base + to, base_len - to);
    put_le(o.b + 7, (uint64_t)((long)get_le(base + 7, 4) + dcount), 4);
    fix_crc(&o);
    return o;
}

static buf copy_base(void) { return splice(0, 0, NULL, 0, 0); }

/* ---- one mutant --------------------------------------------------------- */

static const char *LABEL = "fuzz.nmap";
static size_t nmutants, nloaded, nran, nrefused;
static char failed_what[256];

static void save_failure(const buf *o, const char *what)
{
    static int nsaved;
    if (nsaved >= 20 || strcmp(failed_what, what) == 0) return;
    snprintf(failed_what, sizeof failed_what, "%s", what);
    char name[64], path[512];
    snprintf(name, sizeof name, "fuzz_fail_%d.nmap", nsaved++);
    FILE *f = fopen(nm_test_path(path, sizeof path, name), "wb");
    if (f) {
        fwrite(o->b, 1, o->len, f);
        fclose(f);
        fprintf(stderr, "  mutant '%s' written to %s\n", what, path);
    }
}

#define MCHECK(cond, ...)                                                     \
    do {                                                                      \
        int before_ = nm_test_failures;                                       \
        CHECK_MSG(cond, __VA_ARGS__);                                         \
        if (nm_test_failures != before_) save_failure(o, what);              \
    } while (0)

static int finite_all(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

static void try_mutant(const buf *o, const char *what)
{
    nmutants++;
    const size_t bound = alloc_bound(o->len);
    alloc_reset(bound);
    nm_mf *mf = NULL;
    nm_clear_error();
    nm_status st = nm_mf_decode(o->b, o->len, LABEL, &mf);
    if (st) {
        nrefused++;
        MCHECK(st != NM_ENOMEM && strncmp(nm_last_error(), LABEL, strlen(LABEL)) == 0,
               "%s: container refused with %d '%s'", what, (int)st, nm_last_error());
        goto done;
    }
    /* The one validation and the loader agree, message and all. */
    char vmsg[512];
    nm_status sv = nm_mf_validate(mf, LABEL, NM_MF_KIND_LEARNED);
    snprintf(vmsg, sizeof vmsg, "%s", nm_last_error());
    nm_learned *lm = NULL;
    nm_status sl = nm_learned_from_mf(mf, LABEL, &lm);
    MCHECK(sv == sl && (sl == NM_OK || strcmp(vmsg, nm_last_error()) == 0),
           "%s: validate gave %d '%s', load gave %d '%s'", what, (int)sv, vmsg, (int)sl, nm_last_error());
    MCHECK(sl != NM_ENOMEM, "%s: load ran out of memory: %s", what, nm_last_error());
    if (sl) {
        nrefused++;
        MCHECK(strncmp(nm_last_error(), LABEL, strlen(LABEL)) == 0 && strlen(nm_last_error()) > strlen(LABEL) + 4,
               "%s: refusal without a message naming the file: '%s'", what, nm_last_error());
    } else {
        nloaded++;
        size_t ntp = 0;
        const double *tp = nm_learned_train_p(lm, &ntp);
        double ps[3] = {tp[0], tp[ntp - 1], 0.5 * (tp[0] + tp[ntp - 1]) + 1.0};
        enum { STEPS = 20 };
        double v[STEPS];
        for (size_t k = 0; k < 3; k++) {
            nm_clear_error();
            nm_status sr = nm_learned_run(lm, ps[k], NULL, STEPS, v, NULL);
            if (sr == NM_OK) {
                nran++;
                MCHECK(finite_all(v, STEPS), "%s: run at p = %g gave a non-finite V", what, ps[k]);
            } else {
                MCHECK(sr == NM_ENUMERIC && nm_last_error()[0], "%s: run at p = %g failed with %d '%s'", what,
                       ps[k], (int)sr, nm_last_error());
            }
        }
        double x[16], y[16];
        nm_learned_initial_state(lm, x);
        MCHECK(nm_learned_step(lm, NAN, x, y) == NM_EINVAL && strstr(nm_last_error(), "p is not finite"),
               "%s: NaN p gave '%s'", what, nm_last_error());
        nm_learned_free(lm);
    }
    /* The autoencoder alone (what `encode` and `train --vae` use): if the
     * validation accepts it, the VAE loader must too. */
    if (nm_mf_validate(mf, LABEL, NM_MF_KIND_VAE) == NM_OK) {
        nm_vae *vae = NULL;
        st = nm_vae_from_mf(mf, &vae);
        MCHECK(st == NM_OK, "%s: VAE validated but nm_vae_from_mf failed: %s", what, nm_last_error());
        nm_vae_free(vae);
    }
    nm_mf_free(mf);
done:
    MCHECK(atomic_load(&alloc_refused) == 0 && atomic_load(&alloc_max) <= bound,
           "%s: an allocation of %zu bytes for a %zu-byte file (bound %zu)", what, (size_t)atomic_load(&alloc_max),
           o->len, bound);
    alloc_reset(SIZE_MAX);
}

static void try_free(buf o, const char *what)
{
    try_mutant(&o, what);
    free(o.b);
}

/* ---- deterministic mutations --------------------------------------------- */

/* Element i of entry e set to the bit pattern bits (width of its type). */
static buf set_elem(const ent *e, size_t i, uint64_t bits)
{
    buf o = copy_base();
    size_t es = type_size(e->type);
    put_le(o.b + e->payload + i * es, bits, es);
    fix_crc(&o);
    return o;
}

static uint64_t f64_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    return u;
}

static uint64_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static void mutate_values(const ent *e)
{
    char what[400];
    size_t es = type_size(e->type);
    if (!es || e->type == 6 || e->n == 0) return;
    /* Short arrays (sizes, scalars, A): every element; long ones (network
     * parameters): the first and the last. */
    size_t idx[16], nidx = 0;
    if (e->n <= 16)
        for (size_t i = 0; i < e->n; i++) idx[nidx++] = i;
    else {
        idx[nidx++] = 0;
        idx[nidx++] = (size_t)e->n - 1;
    }
    for (size_t k = 0; k < nidx; k++) {
        size_t i = idx[k];
        uint64_t orig = get_le(base + e->payload + i * es, es);
        uint64_t vals[24];
        size_t nv = 0;
        if (e->type == 1) {
            int32_t o32 = (int32_t)(uint32_t)orig;
            const int64_t iv[] = {0, 1, -1, 2, 3, 16, 17, 512, 513, 65536, 65537, 1 << 20, (1 << 20) + 1,
                                  INT32_MAX, INT32_MIN, (int64_t)o32 + 1, (int64_t)o32 - 1, 2 * (int64_t)o32};
            for (size_t j = 0; j < sizeof iv / sizeof *iv; j++) vals[nv++] = (uint64_t)(uint32_t)(int32_t)iv[j];
        } else if (e->type == 2 || e->type == 3) {
            const uint64_t uv[] = {0, 1, UINT64_MAX, (uint64_t)1 << 63, orig + 1};
            for (size_t j = 0; j < sizeof uv / sizeof *uv; j++) vals[nv++] = uv[j];
        } else if (e->type == 5) {
            double od;
            memcpy(&od, &orig, 8);
            const double dv[] = {0.0, -0.0, 1.0, -1.0, 1e-320, 1e308, -1e308, 1e10, -1e10, NAN, INFINITY,
                                 2 * od, od * (1 + 1e-6), od + 1, -od, od * 1e-9, od * 1e9};
            for (size_t j = 0; j < sizeof dv / sizeof *dv; j++) vals[nv++] = f64_bits(dv[j]);
        } else if (e->type == 4) {
            float of;
            uint32_t ow = (uint32_t)orig;
            memcpy(&of, &ow, 4);
            const float fv[] = {0.0f, 1e38f, -1e38f, 1e7f, NAN, INFINITY, 2 * of, -of, 1e-40f};
            for (size_t j = 0; j < sizeof fv / sizeof *fv; j++) vals[nv++] = f32_bits(fv[j]);
        }
        for (size_t j = 0; j < nv; j++) {
            if (vals[j] == orig) continue;
            snprintf(what, sizeof what, "%s[%zu] bits 0x%llx", e->name, i, (unsigned long long)vals[j]);
            try_free(set_elem(e, i, vals[j]), what);
        }
    }
}

/* The entry re-written with another name length, type, count or byte
 * length (the payload unchanged), and resized consistently. */
static void mutate_header(const ent *e)
{
    char what[400];
    size_t nfield = e->off + 1 + e->namelen + 1;
    const uint64_t ns[] = {0, 1, e->n - 1, e->n + 1, (uint64_t)1 << 32, UINT64_MAX, (uint64_t)1 << 63};
    for (size_t j = 0; j < sizeof ns / sizeof *ns; j++) {
        if (ns[j] == e->n) continue;
        buf o = copy_base();
        put_le(o.b + nfield, ns[j], 8);
        fix_crc(&o);
        snprintf(what, sizeof what, "%s: n = %llu", e->name, (unsigned long long)ns[j]);
        try_free(o, what);
    }
    const uint64_t nbs[] = {0, e->nbytes - 1, e->nbytes + 1, UINT64_MAX, (uint64_t)base_len};
    for (size_t j = 0; j < sizeof nbs / sizeof *nbs; j++) {
        if (nbs[j] == e->nbytes) continue;
        buf o = copy_base();
        put_le(o.b + nfield + 8, nbs[j], 8);
        fix_crc(&o);
        snprintf(what, sizeof what, "%s: nbytes = %llu", e->name, (unsigned long long)nbs[j]);
        try_free(o, what);
    }
    for (unsigned t = 0; t <= 8; t++) {
        if (t == e->type) continue;
        buf o = copy_base();
        o.b[nfield - 1] = (unsigned char)t;
        fix_crc(&o);
        snprintf(what, sizeof what, "%s: type %u", e->name, t);
        try_free(o, what);
    }
    /* Same bytes, other element type of the same size and a matching count. */
    for (unsigned t = 1; t <= 6; t++) {
        size_t es = type_size(t);
        if (t == e->type || e->nbytes % es) continue;
        buf o = copy_base();
        o.b[nfield - 1] = (unsigned char)t;
        put_le(o.b + nfield, e->nbytes / es, 8);
        fix_crc(&o);
        snprintf(what, sizeof what, "%s: retyped as %u", e->name, t);
        try_free(o, what);
    }
    const size_t nls[] = {0, e->namelen - 1, e->namelen + 1, 255};
    for (size_t j = 0; j < sizeof nls / sizeof *nls; j++) {
        if (nls[j] == e->namelen) continue;
        buf o = copy_base();
        o.b[e->off] = (unsigned char)nls[j];
        fix_crc(&o);
        snprintf(what, sizeof what, "%s: namelen %zu", e->name, nls[j]);
        try_free(o, what);
    }
    /* Consistent resizes: n and nbytes agree, the payload grows or shrinks. */
    size_t es = type_size(e->type);
    if (!es) return;
    const uint64_t sizes[] = {0, 1, e->n ? e->n - 1 : 0, e->n + 1, 2 * e->n};
    for (size_t j = 0; j < sizeof sizes / sizeof *sizes; j++) {
        uint64_t n = sizes[j];
        if (n == e->n) continue;
        buf rep = {0};
        buf_put(&rep, base + e->off, 1 + e->namelen + 1);
        unsigned char hdr[16];
        put_le(hdr, n, 8);
        put_le(hdr + 8, n * es, 8);
        buf_put(&rep, hdr, 16);
        for (uint64_t k = 0; k < n; k++) {
            /* Old elements, then repeats of the last one (or zeros). */
            uint64_t src = e->n ? (k < e->n ? k : e->n - 1) : 0;
            if (e->n) buf_put(&rep, base + e->payload + src * es, es);
            else buf_put(&rep, "\0\0\0\0\0\0\0\0", es);
        }
        buf o = splice(e->off, e->end, rep.b, rep.len, 0);
        free(rep.b);
        snprintf(what, sizeof what, "%s resized to %llu elements", e->name, (unsigned long long)n);
        try_free(o, what);
    }
}

static void test_entries(void)
{
    char what[400];
    for (size_t i = 0; i < nents; i++) {
        const ent *e = &ents[i];
        snprintf(what, sizeof what, "%s removed", e->name);
        try_free(splice(e->off, e->end, NULL, 0, -1), what);
        snprintf(what, sizeof what, "%s duplicated", e->name);
        try_free(splice(e->end, e->end, base + e->off, e->end - e->off, 1), what);
        mutate_values(e);
        mutate_header(e);
    }
}

/* Whole sections: removed, duplicated as they are, copied under another
 * section name. */
static void test_sections(void)
{
    char what[400];
    for (size_t i = 0; i < nents; i++) {
        const char *dot = strchr(ents[i].name, '.');
        size_t sl = dot ? (size_t)(dot - ents[i].name) : ents[i].namelen;
        int seen = 0;
        for (size_t j = 0; j < i; j++) seen |= strncmp(ents[j].name, ents[i].name, sl) == 0 && ents[j].name[sl] == '.';
        if (seen || !dot) continue;
        buf keep = {0}, dup = {0}, ren = {0};
        long nsec = 0;
        buf_put(&keep, base, 11);
        for (size_t j = 0; j < nents; j++) {
            const ent *e = &ents[j];
            int in = strncmp(e->name, ents[i].name, sl) == 0 && e->name[sl] == '.';
            if (!in) {
                buf_put(&keep, base + e->off, e->end - e->off);
                continue;
            }
            nsec++;
            buf_put(&dup, base + e->off, e->end - e->off);
            unsigned char nl = (unsigned char)(e->namelen + 1);
            buf_put(&ren, &nl, 1);
            buf_put(&ren, "x", 1);
            buf_put(&ren, base + e->off + 1, e->end - e->off - 1);
        }
        size_t count = (size_t)get_le(base + 7, 4);
        /* removed */
        buf_put(&keep, "\0\0\0\0", 4);
        put_le(keep.b + 7, count - (size_t)nsec, 4);
        fix_crc(&keep);
        snprintf(what, sizeof what, "section %.*s removed", (int)sl, ents[i].name);
        try_free(keep, what);
        /* duplicated (names clash) and copied as "x<section>" */
        snprintf(what, sizeof what, "section %.*s duplicated", (int)sl, ents[i].name);
        try_free(splice(base_len - 4, base_len - 4, dup.b, dup.len, nsec), what);
        snprintf(what, sizeof what, "section %.*s copied as x%.*s", (int)sl, ents[i].name, (int)sl, ents[i].name);
        try_free(splice(base_len - 4, base_len - 4, ren.b, ren.len, nsec), what);
        free(dup.b);
        free(ren.b);
    }
}

static void test_header_and_cuts(void)
{
    char what[400];
    const uint64_t counts[] = {0, 1, nents - 1, nents + 1, 65536, 65537, UINT32_MAX};
    for (size_t j = 0; j < sizeof counts / sizeof *counts; j++) {
        buf o = copy_base();
        put_le(o.b + 7, counts[j], 4);
        fix_crc(&o);
        snprintf(what, sizeof what, "entry count %llu", (unsigned long long)counts[j]);
        try_free(o, what);
    }
    for (int k = 0; k < 4; k++) {
        buf o = copy_base();
        o.b[k < 2 ? 5 : 6] = (unsigned char)(k % 2 ? 255 : (k < 2 ? 0 : 1));
        fix_crc(&o);
        snprintf(what, sizeof what, "version byte %d = %u", k < 2 ? 5 : 6, o.b[k < 2 ? 5 : 6]);
        try_free(o, what);
    }
    /* Cuts (the trailer re-computed over what is left): the first 40 bytes,
     * and at every entry boundary and one byte either side. */
    size_t cuts[1024], ncut = 0;
    for (size_t c = 0; c < 40; c++) cuts[ncut++] = c;
    for (size_t i = 0; i < nents && ncut + 6 < 1024; i++) {
        cuts[ncut++] = ents[i].off - 1;
        cuts[ncut++] = ents[i].off + 1;
        cuts[ncut++] = ents[i].payload;
        cuts[ncut++] = ents[i].end - 1;
        cuts[ncut++] = ents[i].end;
        cuts[ncut++] = ents[i].end + 1;
    }
    for (size_t j = 0; j < ncut; j++) {
        size_t c = cuts[j];
        if (c >= base_len - 4) continue;
        buf o = {0};
        buf_put(&o, base, c);
        buf_put(&o, "\0\0\0\0", 4);
        fix_crc(&o);
        snprintf(what, sizeof what, "cut to %zu bytes + CRC", c);
        try_free(o, what);
    }
}

/* ---- random mutations ----------------------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void test_random(void)
{
    const char *it = getenv("NM_FUZZ_ITERS"), *sd = getenv("NM_FUZZ_SEED");
    size_t iters = it && *it ? (size_t)strtoull(it, NULL, 10) : 5000;
    uint64_t seed = sd && *sd ? strtoull(sd, NULL, 10) : 1;
    rng_state = seed;
    static const uint64_t interesting[] = {0, 1, 0xFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, (uint64_t)1 << 20,
                                           UINT64_MAX, (uint64_t)1 << 63};
    char what[400];
    for (size_t k = 0; k < iters; k++) {
        buf o = copy_base();
        size_t nops = 1 + (size_t)(rnd() % 4);
        int len = snprintf(what, sizeof what, "random #%zu (seed %llu):", k, (unsigned long long)seed);
        for (size_t j = 0; j < nops && o.len > 16; j++) {
            size_t body = o.len - 4; /* the trailer is recomputed anyway */
            size_t at = 7 + (size_t)(rnd() % (body - 7));
            unsigned op = (unsigned)(rnd() % 5);
            if (op == 0) {
                o.b[at] ^= (unsigned char)(1u << (rnd() % 8));
            } else if (op == 1) {
                o.b[at] = (unsigned char)rnd();
            } else if (op == 2) {
                unsigned char ins[8];
                size_t n = 1 + (size_t)(rnd() % 8);
                for (size_t q = 0; q < n; q++) ins[q] = (unsigned char)rnd();
                buf t = {0};
                buf_put(&t, o.b, at);
                buf_put(&t, ins, n);
                buf_put(&t, o.b + at, o.len - at);
                free(o.b);
                o = t;
            } else if (op == 3) {
                size_t n = 1 + (size_t)(rnd() % 16);
                if (at + n > body) n = body - at;
                memmove(o.b + at, o.b + at + n, o.len - at - n);
                o.len -= n;
            } else {
                size_t w = rnd() % 2 ? 4 : 8;
                if (at + w <= body) put_le(o.b + at, interesting[rnd() % (sizeof interesting / sizeof *interesting)], w);
            }
            if (len > 0 && (size_t)len < sizeof what)
                len += snprintf(what + len, sizeof what - (size_t)len, " op%u@%zu", op, at);
        }
        fix_crc(&o);
        try_free(o, what);
    }
}

/* ---- the cases of issue 13, by name --------------------------------------- */

static const ent *find_ent(const char *name)
{
    for (size_t i = 0; i < nents; i++)
        if (strcmp(ents[i].name, name) == 0) return &ents[i];
    return NULL;
}

/* Load a mutant through the loader; its status, message in msg. */
static nm_status load_mutant(buf o, char *msg, size_t msglen, size_t *max_alloc)
{
    nm_mf *mf = NULL;
    nm_learned *lm = NULL;
    alloc_reset(alloc_bound(o.len));
    nm_status st = nm_mf_decode(o.b, o.len, LABEL, &mf);
    if (!st) st = nm_learned_from_mf(mf, LABEL, &lm);
    snprintf(msg, msglen, "%s", st ? nm_last_error() : "");
    *max_alloc = atomic_load(&alloc_refused) ? SIZE_MAX : atomic_load(&alloc_max);
    alloc_reset(SIZE_MAX);
    nm_learned_free(lm);
    nm_mf_free(mf);
    free(o.b);
    return st;
}

static void test_issue_cases(void)
{
    char msg[512];
    size_t amax;
    const ent *de = find_ent("embed.de"), *mdt = find_ent("map.dt_ms"), *mean = find_ent("norm.v_mean"),
              *params = find_ent("map.params"), *mD = find_ent("map.D");
    CHECK(de && mdt && mean && params && mD);
    if (!de || !mdt || !mean || !params || !mD) return;

    /* Item 8: De = 2^20 in a small file: refused before any large allocation. */
    nm_status st = load_mutant(set_elem(de, 0, (uint64_t)1 << 20), msg, sizeof msg, &amax);
    CHECK_MSG(st == NM_EFORMAT && strstr(msg, "embed.de"), "embed.de = 2^20: %d '%s'", (int)st, msg);
    CHECK_MSG(amax <= alloc_bound(base_len), "embed.de = 2^20: allocated %zu bytes", amax);
    st = load_mutant(set_elem(de, 0, 512), msg, sizeof msg, &amax);
    CHECK_MSG(st == NM_EFORMAT && strstr(msg, "vae.enc.sizes"), "embed.de = 512: %d '%s'", (int)st, msg);
    CHECK_MSG(amax <= alloc_bound(base_len), "embed.de = 512: allocated %zu bytes", amax);

    /* Item 9: inconsistent time steps and absurd values. */
    st = load_mutant(set_elem(mdt, 0, f64_bits(1.0)), msg, sizeof msg, &amax);
    CHECK_MSG(st == NM_EFORMAT && strstr(msg, "map.dt_ms = 1 ms") && strstr(msg, "embed.dt_ms"), "map.dt_ms: '%s'",
              msg);
    st = load_mutant(set_elem(mean, 0, f64_bits(1.7e308)), msg, sizeof msg, &amax);
    CHECK_MSG(st == NM_EFORMAT && strstr(msg, "norm.v_mean") && strstr(msg, "10000"), "v_mean: '%s'", msg);

    /* Item 10: the validation (what `info` runs) refuses what the loader
     * (what `run` runs) refuses, with the same message. */
    buf cases[2] = {splice(params->off, params->end, NULL, 0, -1), set_elem(mD, 0, 2)};
    for (size_t k = 0; k < 2; k++) {
        nm_mf *mf = NULL;
        CHECK_OK(nm_mf_decode(cases[k].b, cases[k].len, LABEL, &mf));
        char vmsg[512];
        nm_status sv = nm_mf_validate(mf, LABEL, nm_mf_kind_of(mf));
        snprintf(vmsg, sizeof vmsg, "%s", nm_last_error());
        nm_mf_free(mf);
        st = load_mutant(cases[k], msg, sizeof msg, &amax);
        CHECK_MSG(sv != NM_OK && sv == st && strcmp(vmsg, msg) == 0, "case %zu: validate %d '%s', load %d '%s'", k,
                  (int)sv, vmsg, (int)st, msg);
    }
}

/* Item 16 (library part): a NaN or infinite p is the caller's error, not a
 * diverged map -- through nm_learned_step and the NEURON glue. */
static void test_p_not_finite(void)
{
    char path[512];
    nm_test_path(path, sizeof path, "fuzz_base.nmap");
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(base, 1, base_len, f) == base_len);
    if (f) fclose(f);
    int h = 0;
    CHECK_OK(nm_plugin_acquire(path, &h));
    const nm_learned *m = nm_plugin_get(h);
    if (m) {
        double x[NM_PLUGIN_MAX_DIM], y[NM_PLUGIN_MAX_DIM], v = 0;
        CHECK_OK(nm_plugin_init(h, x, &v));
        memcpy(y, x, sizeof y);
        CHECK_FAILS(nm_learned_step(m, NAN, x, y), NM_EINVAL, "p is not finite");
        CHECK_FAILS(nm_plugin_step(h, NAN, x, &v), NM_EINVAL, "p is not finite");
        CHECK_FAILS(nm_plugin_step(h, -INFINITY, x, &v), NM_EINVAL, "p is not finite");
        CHECK(memcmp(x, y, nm_learned_dim(m) * sizeof *x) == 0); /* state untouched */
        CHECK_OK(nm_plugin_step(h, -38.0, x, &v));
        CHECK(isfinite(v));
    }
    CHECK_OK(nm_plugin_release(h));
    remove(path);
}

int main(void)
{
    nm_learn_opts o;
    nm_learn_opts_default(&o);
    o.vae.epochs = 3;
    o.vae.de = 16;
    o.vae.hidden[0] = o.vae.hidden[1] = 8;
    o.map_hidden[0] = o.map_hidden[1] = 8;
    o.map_onestep_epochs = 2;
    o.map_nstages = 1;
    o.map_rollout_len[0] = 5;
    o.map_rollout_iters[0] = 5;
    o.map_select_every = 0;
    o.map_ensemble = 2;
    nm_learned *lm = nm_test_tiny_model(10000, &o);
    CHECK(lm != NULL);
    if (!lm) return nm_test_report();
    /* With a V head (vhead.*, src/learn/vhead.h) and its fit's scalars, so
     * their validation is fuzzed too: an 8-8 head, a few epochs on a free
     * run's states (how well it fits does not matter here). */
    {
        enum { S = 400 };
        size_t D = nm_learned_dim(lm);
        double v[S], *xs = malloc(S * D * sizeof *xs);
        nm_vhead_opts ho;
        nm_vhead_opts_default(&ho);
        ho.hidden[0] = ho.hidden[1] = 8;
        ho.epochs = 3;
        nm_mlp *head = NULL;
        nm_vhead_report hr;
        unsigned char *b0 = NULL;
        size_t l0 = 0;
        nm_mf *mf = NULL;
        CHECK_OK(nm_learned_run(lm, nm_learned_p_default(lm), NULL, S, v, xs));
        CHECK_OK(nm_vhead_fit(nm_learned_decoder_v_part(lm), nm_learned_vae(lm), xs, S, D, &ho, &head, &hr));
        CHECK_OK(nm_mf_encode(nm_learned_mf(lm), &b0, &l0));
        CHECK_OK(nm_mf_decode(b0, l0, LABEL, &mf));
        CHECK(head && mf);
        if (head && mf) {
            CHECK_OK(nm_vhead_to_mf(head, mf));
            CHECK_OK(nm_mf_add_scalar_f64(mf, "vhead.rms_mv", hr.rms_mv));
            CHECK_OK(nm_mf_add_scalar_f64(mf, "vhead.max_mv", hr.max_mv));
            CHECK_OK(nm_mf_encode(mf, &base, &base_len));
        }
        nm_mf_free(mf);
        nm_mlp_free(head);
        free(b0);
        free(xs);
    }
    nm_learned_free(lm);
    CHECK(base && parse_base());
    if (!base || !nents) return nm_test_report();
    CHECK(find_ent("vhead.sizes") && find_ent("vhead.acts") && find_ent("vhead.params") && find_ent("vhead.rms_mv"));

    /* The wrapper sees the library's allocations (the largest entry is
     * copied into the decoded container). */
    {
        size_t largest = 0;
        for (size_t i = 0; i < nents; i++) largest = ents[i].nbytes > largest ? (size_t)ents[i].nbytes : largest;
        nm_mf *mf = NULL;
        alloc_reset(SIZE_MAX);
        CHECK_OK(nm_mf_decode(base, base_len, LABEL, &mf));
        CHECK_MSG(atomic_load(&alloc_max) >= largest, "largest allocation seen %zu, largest entry %zu",
                  (size_t)atomic_load(&alloc_max), largest);
        nm_mf_free(mf);
    }
    /* The base file itself: valid, loads, runs. */
    {
        buf b = copy_base();
        size_t before = nloaded;
        try_mutant(&b, "unmodified");
        CHECK(nloaded == before + 1);
        free(b.b);
    }
    NM_RUN(test_issue_cases);
    NM_RUN(test_p_not_finite);
    NM_RUN(test_entries);
    NM_RUN(test_sections);
    NM_RUN(test_header_and_cuts);
    NM_RUN(test_random);
    fprintf(stderr, "%zu mutants of a %zu-byte model (%zu entries): %zu refused, %zu loaded, %zu runs finite\n",
            nmutants, base_len, nents, nrefused, nloaded, nran);
    free(base);
    return nm_test_report();
}
