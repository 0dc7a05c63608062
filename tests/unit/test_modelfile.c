/* test_modelfile.c -- the model file container: exact bytes, round trips,
 * determinism, rejection of every truncation and of random corruption, a
 * structural fuzz (mutations with a recomputed CRC), lookups, the atomic
 * writer and concurrent reading. */
#define _POSIX_C_SOURCE 200809L
#include "neuromap.h"
#include "io/crc32.h"
#include "rng.h"
#include "nm_test.h"

#include <dirent.h>
#include <float.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

/* A small model with every type, shaped like what the VAE trainer writes. */
static nm_mf *make_small(void)
{
    nm_mf *mf = nm_mf_alloc();
    const int32_t sizes[] = {32, 16, 3};
    const float params[] = {0.5f, -1.25f, 3e-8f, -0.0f, 1e30f, 7.0f};
    const int64_t big[] = {INT64_MIN, -1, 0, INT64_MAX};
    CHECK_OK(nm_mf_add_scalar_f64(mf, "norm.mean", -45.25));
    CHECK_OK(nm_mf_add_scalar_f64(mf, "norm.std", 9.5));
    CHECK_OK(nm_mf_add_scalar_i32(mf, "embed.De", 32));
    CHECK_OK(nm_mf_add_i32(mf, "vae.enc.sizes", sizes, 3));
    CHECK_OK(nm_mf_add_f32(mf, "vae.enc.params", params, 6));
    CHECK_OK(nm_mf_add_i64(mf, "test.i64", big, 4));
    CHECK_OK(nm_mf_add_scalar_u64(mf, "meta.seed", UINT64_MAX - 1));
    CHECK_OK(nm_mf_add_str(mf, "meta.command", "neuromap train-vae --De 32 \xce\xb2=1e-3"));
    return mf;
}

static unsigned char *encode(const nm_mf *mf, size_t *len)
{
    unsigned char *b = NULL;
    CHECK_OK(nm_mf_encode(mf, &b, len));
    return b;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    *len = 0;
    if (!f) return NULL;
    unsigned char *b = malloc(1 << 16);
    *len = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

/* Offset of the first occurrence of needle in b, or len (memmem is not C11). */
static size_t find_bytes(const unsigned char *b, size_t len, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= len; i++)
        if (memcmp(b + i, needle, k) == 0) return i;
    return len;
}

static void spit(const char *path, const void *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(b, 1, len, f) == len);
    fclose(f);
}

static void set_crc(unsigned char *b, size_t len)
{
    if (len < 4) return;
    uint32_t c = nm_crc32(0, b, len - 4);
    for (int i = 0; i < 4; i++) b[len - 4 + i] = (unsigned char)(c >> (8 * i));
}

/* Entries of two containers are identical: names, types, counts, bits. */
static int same_entries(const nm_mf *a, const nm_mf *b)
{
    if (nm_mf_count(a) != nm_mf_count(b)) return 0;
    for (size_t i = 0; i < nm_mf_count(a); i++) {
        const char *na, *nb;
        nm_mf_type ta, tb;
        size_t ca, cb;
        const void *da, *db;
        if (nm_mf_entry(a, i, &na, &ta, &ca, &da) || nm_mf_entry(b, i, &nb, &tb, &cb, &db)) return 0;
        size_t es = ta == NM_MF_STR ? 1 : (ta == NM_MF_I32 || ta == NM_MF_F32) ? 4 : 8;
        if (strcmp(na, nb) || ta != tb || ca != cb || (ca && memcmp(da, db, ca * es))) return 0;
    }
    return 1;
}

/* A test-side writer of raw files, independent of the library's encoder,
 * following docs/model-format.md. */
typedef struct raw {
    unsigned char b[1024];
    size_t n;
} raw;

static void raw_le(raw *r, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++) r->b[r->n++] = (unsigned char)(v >> (8 * i));
}

static void raw_header(raw *r, int major, int minor, uint32_t count)
{
    memcpy(r->b, "NMAP\x1a", 5);
    r->n = 5;
    raw_le(r, (uint64_t)major, 1);
    raw_le(r, (uint64_t)minor, 1);
    raw_le(r, count, 4);
}

static void raw_entry(raw *r, const char *name, int type, uint64_t count, uint64_t nbytes,
                      const void *payload, size_t plen)
{
    raw_le(r, strlen(name), 1);
    memcpy(r->b + r->n, name, strlen(name));
    r->n += strlen(name);
    raw_le(r, (uint64_t)type, 1);
    raw_le(r, count, 8);
    raw_le(r, nbytes, 8);
    memcpy(r->b + r->n, payload, plen);
    r->n += plen;
}

static void raw_finish(raw *r)
{
    r->n += 4;
    set_crc(r->b, r->n);
}

/* ---- tests -------------------------------------------------------------- */

static void test_crc32(void)
{
    CHECK(nm_crc32(0, "123456789", 9) == 0xCBF43926u); /* the standard check value */
    CHECK(nm_crc32(nm_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
    CHECK(nm_crc32(0, "", 0) == 0);
}

/* The exact bytes of a tiny file, written out by hand from the format
 * document; the CRC is Python's zlib.crc32 of the first 72 bytes. */
static void test_golden_bytes(void)
{
    static const unsigned char want[] = {
        'N', 'M', 'A', 'P', 0x1A, 1, 0, 2, 0, 0, 0,               /* header, 2 entries */
        1, 'a', 1, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, /* "a" i32 n=2 8 bytes */
        1, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF,                        /* 1, -2 */
        8, 'n', 'o', 'r', 'm', '.', 's', 't', 'd', 5,              /* "norm.std" f64 */
        1, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0xF8, 0x3F,                              /* 1.5 */
        0xED, 0x80, 0x7B, 0x45};                                   /* CRC-32 0x457B80ED */
    nm_mf *mf = nm_mf_alloc();
    const int32_t a[] = {1, -2};
    CHECK_OK(nm_mf_add_i32(mf, "a", a, 2));
    CHECK_OK(nm_mf_add_scalar_f64(mf, "norm.std", 1.5));
    size_t len;
    unsigned char *b = encode(mf, &len);
    CHECK(len == sizeof want);
    CHECK(b && len == sizeof want && memcmp(b, want, len) == 0);
    nm_mf *back = NULL;
    CHECK_OK(nm_mf_decode(want, sizeof want, "golden", &back));
    CHECK(back && same_entries(mf, back));
    free(b);
    nm_mf_free(back);
    nm_mf_free(mf);
}

static void test_roundtrip(void)
{
    char p1[512], p2[512];
    nm_test_path(p1, sizeof p1, "mf_round1.nmap");
    nm_test_path(p2, sizeof p2, "mf_round2.nmap");
    nm_mf *mf = make_small();
    /* Edge values: subnormals, extremes, signed zero, empty arrays and text. */
    const float f32[] = {FLT_MIN / 8, -FLT_MAX, FLT_MAX, -0.0f, FLT_EPSILON};
    const double f64[] = {DBL_MIN / 1024, -DBL_MAX, DBL_MAX, -0.0, 0.1};
    const uint64_t u64[] = {0, 1, UINT64_MAX};
    const int32_t i32[] = {INT32_MIN, INT32_MAX};
    CHECK_OK(nm_mf_add_f32(mf, "edge.f32", f32, 5));
    CHECK_OK(nm_mf_add_f64(mf, "edge.f64", f64, 5));
    CHECK_OK(nm_mf_add_u64(mf, "edge.u64", u64, 3));
    CHECK_OK(nm_mf_add_i32(mf, "edge.i32", i32, 2));
    CHECK_OK(nm_mf_add_f32(mf, "edge.empty", NULL, 0));
    CHECK_OK(nm_mf_add_str(mf, "edge.text", ""));
    CHECK_OK(nm_mf_write(mf, p1));
    nm_mf *back = NULL;
    CHECK_OK(nm_mf_read(p1, &back));
    CHECK(back && same_entries(mf, back));
    if (back) {
        const double *d;
        const float *f;
        const char *s;
        size_t n;
        double mean;
        uint64_t seed;
        CHECK_OK(nm_mf_get_f64(back, "edge.f64", 5, &d, &n));
        CHECK(n == 5 && d[0] == DBL_MIN / 1024 && d[2] == DBL_MAX && signbit(d[3]) && d[4] == 0.1);
        CHECK_OK(nm_mf_get_f32(back, "edge.f32", NM_MF_ANY, &f, &n));
        CHECK(n == 5 && f[0] == FLT_MIN / 8 && signbit(f[3]));
        CHECK_OK(nm_mf_get_scalar_f64(back, "norm.mean", &mean));
        CHECK(mean == -45.25);
        CHECK_OK(nm_mf_get_scalar_u64(back, "meta.seed", &seed));
        CHECK(seed == UINT64_MAX - 1);
        CHECK_OK(nm_mf_get_str(back, "meta.command", &s));
        CHECK(strcmp(s, "neuromap train-vae --De 32 \xce\xb2=1e-3") == 0);
        CHECK_OK(nm_mf_get_str(back, "edge.text", &s));
        CHECK(s && s[0] == '\0');
        CHECK_OK(nm_mf_get_f32(back, "edge.empty", 0, &f, &n));
        CHECK(n == 0);
        unsigned major, minor;
        size_t skipped;
        nm_mf_format(back, &major, &minor, &skipped);
        CHECK(major == NM_MF_VERSION_MAJOR && minor == NM_MF_VERSION_MINOR && skipped == 0);
        /* Re-writing what was read gives the same bytes. */
        CHECK_OK(nm_mf_write(back, p2));
        size_t l1, l2;
        unsigned char *b1 = slurp(p1, &l1), *b2 = slurp(p2, &l2);
        CHECK(b1 && b2 && l1 == l2 && l1 > 0 && memcmp(b1, b2, l1) == 0);
        free(b1);
        free(b2);
    }
    nm_mf_free(back);
    nm_mf_free(mf);
    remove(p1);
    remove(p2);
}

static void test_deterministic(void)
{
    char p1[512], p2[512];
    nm_test_path(p1, sizeof p1, "mf_det1.nmap");
    nm_test_path(p2, sizeof p2, "mf_det2.nmap");
    nm_mf *a = make_small(), *b = make_small();
    CHECK_OK(nm_mf_write(a, p1));
    CHECK_OK(nm_mf_write(b, p2));
    size_t l1, l2;
    unsigned char *b1 = slurp(p1, &l1), *b2 = slurp(p2, &l2);
    CHECK(b1 && b2 && l1 == l2 && memcmp(b1, b2, l1) == 0);
    /* Order is part of the content: the same entries in another order differ. */
    nm_mf *c = nm_mf_alloc();
    CHECK_OK(nm_mf_add_scalar_f64(c, "norm.std", 9.5));
    CHECK_OK(nm_mf_add_scalar_f64(c, "norm.mean", -45.25));
    size_t lc;
    unsigned char *bc = encode(c, &lc);
    CHECK(bc && memcmp(bc + 11, b1 + 11, 20) != 0);
    free(b1);
    free(b2);
    free(bc);
    nm_mf_free(a);
    nm_mf_free(b);
    nm_mf_free(c);
    remove(p1);
    remove(p2);
}

static void test_every_truncation(void)
{
    nm_mf *mf = make_small();
    size_t len;
    unsigned char *b = encode(mf, &len);
    char path[512];
    nm_test_path(path, sizeof path, "mf_trunc.nmap");
    int bad = 0;
    for (size_t L = 0; b && L < len; L++) {
        nm_mf *out = (nm_mf *)1;
        nm_clear_error();
        nm_status st = nm_mf_decode(b, L, "trunc.nmap", &out);
        if (st == NM_OK || out != NULL || !strstr(nm_last_error(), "trunc.nmap")) bad++;
        /* The same through a real file. */
        spit(path, b, L);
        nm_clear_error();
        st = nm_mf_read(path, &out);
        if (st == NM_OK || out != NULL || !strstr(nm_last_error(), path)) bad++;
    }
    CHECK_MSG(bad == 0, "%d of %zu truncations accepted or without a message", bad, 2 * len);
    /* A cut inside the parameter payload names the entry and the sizes. */
    size_t at = b ? find_bytes(b, len, "vae.enc.params") : len;
    CHECK(at < len);
    if (at < len) {
        size_t cut = at + 14 + 1 + 8 + 8 + 10; /* 10 of its 24 payload bytes */
        nm_mf *out = NULL;
        CHECK_FAILS(nm_mf_decode(b, cut, "m.nmap", &out), NM_EFORMAT,
                    "m.nmap: truncated in entry 'vae.enc.params' (needs 24 bytes, 6 remain)");
    }
    free(b);
    nm_mf_free(mf);
    remove(path);
}

/* With the CRC, any change of 1-4 bytes must be rejected (CRC-32 detects
 * every burst of up to 32 bits; wider random changes slip through with
 * probability 2^-32 per try). */
static void test_random_flips(void)
{
    nm_mf *mf = make_small();
    size_t len;
    unsigned char *b = encode(mf, &len), *m = malloc(len);
    nm_rng rng;
    nm_rng_seed(&rng, 20250101);
    int accepted = 0, nomsg = 0, by_code[16] = {0};
    const int trials = 5000;
    for (int t = 0; b && t < trials; t++) {
        memcpy(m, b, len);
        int nflip = 1 + (int)nm_rng_below(&rng, 4);
        for (int k = 0; k < nflip; k++)
            m[nm_rng_below(&rng, len)] ^= (unsigned char)(1 + nm_rng_below(&rng, 255));
        if (memcmp(m, b, len) == 0) continue; /* two flips cancelled */
        nm_mf *out = NULL;
        nm_clear_error();
        nm_status st = nm_mf_decode(m, len, "flip", &out);
        if (st == NM_OK) accepted++;
        else if (!*nm_last_error()) nomsg++;
        by_code[(unsigned)st & 15]++;
        nm_mf_free(out);
    }
    CHECK_MSG(accepted == 0, "%d corrupted files accepted", accepted);
    CHECK(nomsg == 0);
    fprintf(stderr, "  flips: %d format, %d checksum, %d version\n", by_code[NM_EFORMAT],
            by_code[NM_ECHECKSUM], by_code[NM_EVERSION]);
    free(b);
    free(m);
    nm_mf_free(mf);
}

/* Mutations with a recomputed CRC reach the structural checks.  Whatever is
 * accepted must be self-consistent: re-encoding it and decoding again gives
 * the same entries, and re-encoding is idempotent. */
static void test_fuzz_structure(void)
{
    nm_mf *mf = make_small();
    size_t len;
    unsigned char *b = encode(mf, &len);
    unsigned char *m = malloc(len + 64);
    nm_rng rng;
    nm_rng_seed(&rng, 7);
    int ok = 0, rejected = 0, wrong_code = 0, inconsistent = 0;
    const int trials = 20000;
    for (int t = 0; b && t < trials; t++) {
        memcpy(m, b, len);
        size_t ml = len;
        switch (nm_rng_below(&rng, 5)) {
        case 0: /* random bytes */
            for (int k = 0, nk = 1 + (int)nm_rng_below(&rng, 3); k < nk; k++)
                m[nm_rng_below(&rng, ml - 4)] = (unsigned char)nm_rng_u64(&rng);
            break;
        case 1: { /* a length-like field set to an extreme */
            size_t at = nm_rng_below(&rng, ml - 12), w = (size_t[]){1, 4, 8}[nm_rng_below(&rng, 3)];
            memset(m + at, nm_rng_below(&rng, 2) ? 0xFF : 0x00, w);
            break;
        }
        case 2: { /* small increment of one byte (off-by-one lengths) */
            m[nm_rng_below(&rng, ml - 4)] += (unsigned char)(nm_rng_below(&rng, 2) ? 1 : 255);
            break;
        }
        case 3: { /* delete a range */
            size_t at = nm_rng_below(&rng, ml - 4), k = 1 + nm_rng_below(&rng, 16);
            if (at + k > ml - 4) k = ml - 4 - at;
            memmove(m + at, m + at + k, ml - at - k);
            ml -= k;
            break;
        }
        default: { /* insert random bytes */
            size_t at = nm_rng_below(&rng, ml - 4), k = 1 + nm_rng_below(&rng, 16);
            memmove(m + at + k, m + at, ml - at);
            for (size_t i = 0; i < k; i++) m[at + i] = (unsigned char)nm_rng_u64(&rng);
            ml += k;
            break;
        }
        }
        set_crc(m, ml);
        nm_mf *out = NULL;
        nm_status st = nm_mf_decode(m, ml, "fuzz", &out);
        if (st == NM_OK) {
            ok++;
            size_t l2, l3;
            unsigned char *e2 = NULL, *e3 = NULL;
            nm_mf *again = NULL;
            int good = out && nm_mf_encode(out, &e2, &l2) == NM_OK &&
                       nm_mf_decode(e2, l2, "re", &again) == NM_OK && same_entries(out, again) &&
                       nm_mf_encode(again, &e3, &l3) == NM_OK && l2 == l3 && memcmp(e2, e3, l2) == 0;
            size_t skipped;
            nm_mf_format(out, NULL, NULL, &skipped);
            /* An accepted file re-encodes to the same bytes unless entries were skipped. */
            if (good && !skipped && m[6] == NM_MF_VERSION_MINOR) good = l2 == ml && memcmp(e2, m, ml) == 0;
            if (!good) inconsistent++;
            free(e2);
            free(e3);
            nm_mf_free(again);
        } else {
            rejected++;
            if (st != NM_EFORMAT && st != NM_EVERSION) wrong_code++;
            if (out) inconsistent++;
        }
        nm_mf_free(out);
    }
    fprintf(stderr, "  fuzz: %d accepted, %d rejected\n", ok, rejected);
    CHECK(ok + rejected == trials);
    CHECK(ok > 0 && rejected > 0); /* both paths were exercised */
    CHECK_MSG(wrong_code == 0, "%d rejections with a status other than EFORMAT/EVERSION", wrong_code);
    CHECK_MSG(inconsistent == 0, "%d accepted files not self-consistent", inconsistent);
    free(b);
    free(m);
    nm_mf_free(mf);
}

static void test_bad_files(void)
{
    nm_mf *out = NULL;
    raw r;
    const float one = 1.0f;
    const int32_t seven = 7;

    /* Magic, version. */
    CHECK_FAILS(nm_mf_decode("hello, world, this is text", 26, "t.txt", &out), NM_EFORMAT,
                "t.txt: not a neuromap model file");
    CHECK_FAILS(nm_mf_decode("NMA", 3, "s", &out), NM_EFORMAT, "s: truncated");
    raw_header(&r, 2, 0, 0);
    raw_finish(&r);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "v2", &out), NM_EVERSION, "v2: format version 2.0");
    raw_header(&r, 0, 9, 0);
    raw_finish(&r);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "v0", &out), NM_EVERSION, "format version 0.9");
    raw_header(&r, 1, 0, 0); /* an empty container is valid */
    raw_finish(&r);
    CHECK_OK(nm_mf_decode(r.b, r.n, "empty", &out));
    CHECK(out && nm_mf_count(out) == 0);
    nm_mf_free(out);
    out = NULL;

    /* A newer minor with an unknown entry type: skipped, the rest is read. */
    raw_header(&r, 1, NM_MF_VERSION_MINOR + 1, 2);
    raw_entry(&r, "future.thing", 0x7F, 3, 5, "abcde", 5);
    const unsigned char le7[] = {7, 0, 0, 0};
    raw_entry(&r, "embed.De", NM_MF_I32, 1, 4, le7, 4);
    raw_finish(&r);
    CHECK_OK(nm_mf_decode(r.b, r.n, "newer", &out));
    if (out) {
        int32_t de = 0;
        unsigned major, minor;
        size_t skipped;
        CHECK_OK(nm_mf_get_scalar_i32(out, "embed.De", &de));
        CHECK(de == seven);
        CHECK(!nm_mf_has(out, "future.thing"));
        nm_mf_format(out, &major, &minor, &skipped);
        CHECK(major == 1 && minor == NM_MF_VERSION_MINOR + 1 && skipped == 1);
    }
    nm_mf_free(out);
    out = NULL;
    /* The same unknown type in our own version is corruption. */
    r.b[6] = NM_MF_VERSION_MINOR;
    set_crc(r.b, r.n);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "same", &out), NM_EFORMAT,
                "entry 'future.thing' has unknown type code 127");

    /* Duplicate names. */
    raw_header(&r, 1, 0, 2);
    raw_entry(&r, "x.y", NM_MF_F32, 1, 4, &one, 4);
    raw_entry(&r, "x.y", NM_MF_F32, 1, 4, &one, 4);
    raw_finish(&r);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "dup", &out), NM_EFORMAT, "dup: duplicate entry 'x.y'");

    /* Absurd counts: entries, elements, bytes; count and bytes that disagree. */
    raw_header(&r, 1, 0, 0xFFFFFFFFu);
    raw_entry(&r, "x", NM_MF_F32, 1, 4, &one, 4);
    raw_finish(&r);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "cnt", &out), NM_EFORMAT, "entry count 4294967295 is impossible");
    raw_header(&r, 1, 0, 1);
    raw_entry(&r, "big", NM_MF_F32, UINT64_MAX / 4, UINT64_MAX - 3, &one, 4);
    raw_finish(&r);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "big", &out), NM_EFORMAT,
                "truncated in entry 'big' (needs 18446744073709551612 bytes, 4 remain)");
    raw_header(&r, 1, 0, 1);
    raw_entry(&r, "odd", NM_MF_F32, 2, 4, &one, 4);
    raw_finish(&r);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "odd", &out), NM_EFORMAT,
                "entry 'odd': 4 payload bytes do not hold 2 f32");

    /* Names: empty, bad characters. */
    raw_header(&r, 1, 0, 1);
    raw_entry(&r, "", NM_MF_F32, 1, 4, &one, 4);
    raw_finish(&r);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "nm", &out), NM_EFORMAT, "entry #1 has an empty name");
    raw_header(&r, 1, 0, 1);
    raw_entry(&r, "a b", NM_MF_F32, 1, 4, &one, 4);
    raw_finish(&r);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "nm", &out), NM_EFORMAT, "entry #1: invalid byte 0x20 in its name");

    /* NaN / Inf payloads and a NUL inside text, named by entry. */
    const float fnan = NAN;
    const double dinf = -INFINITY;
    raw_header(&r, 1, 0, 2);
    raw_entry(&r, "ok", NM_MF_F32, 1, 4, &one, 4);
    raw_entry(&r, "vae.dec.params", NM_MF_F32, 1, 4, &fnan, 4);
    raw_finish(&r);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "nan", &out), NM_EFORMAT,
                "nan: entry 'vae.dec.params': element 0 is not finite");
    raw_header(&r, 1, 0, 1);
    raw_entry(&r, "norm.std", NM_MF_F64, 1, 8, &dinf, 8);
    raw_finish(&r);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "inf", &out), NM_EFORMAT,
                "entry 'norm.std': element 0 is not finite (-inf)");
    raw_header(&r, 1, 0, 1);
    raw_entry(&r, "meta.command", NM_MF_STR, 3, 3, "a\0b", 3);
    raw_finish(&r);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "nul", &out), NM_EFORMAT,
                "entry 'meta.command': NUL byte at offset 1");

    /* Trailing garbage (with and without a matching CRC), a wrong CRC. */
    raw_header(&r, 1, 0, 1);
    raw_entry(&r, "x", NM_MF_F32, 1, 4, &one, 4);
    memcpy(r.b + r.n, "JUNK", 4);
    r.n += 4;
    raw_finish(&r);
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "tr", &out), NM_EFORMAT,
                "tr: 4 trailing bytes after the last entry");
    raw_header(&r, 1, 0, 1);
    raw_entry(&r, "x", NM_MF_F32, 1, 4, &one, 4);
    raw_finish(&r);
    CHECK_OK(nm_mf_decode(r.b, r.n, "x", &out));
    nm_mf_free(out);
    out = NULL;
    memcpy(r.b + r.n, "\0\0", 2);
    CHECK_FAILS(nm_mf_decode(r.b, r.n + 2, "tr2", &out), NM_EFORMAT, "2 trailing bytes");
    r.b[r.n - 1] ^= 0x40;
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "crc", &out), NM_ECHECKSUM, "crc: checksum mismatch");
    r.b[r.n - 1] ^= 0x40;
    r.b[r.n - 6] ^= 0x01; /* one bit of the float */
    CHECK_FAILS(nm_mf_decode(r.b, r.n, "crc", &out), NM_ECHECKSUM, "checksum mismatch");
    CHECK(out == NULL);

    /* Files: missing, a directory, empty, a FIFO. */
    char path[512], dir[512];
    nm_test_path(path, sizeof path, "mf_no_such_file.nmap");
    remove(path);
    CHECK_FAILS(nm_mf_read(path, &out), NM_EIO, "mf_no_such_file.nmap: cannot open");
    nm_test_path(dir, sizeof dir, "mf_a_dir.nmap");
    mkdir(dir, 0755);
    CHECK_FAILS(nm_mf_read(dir, &out), NM_EIO, "is a directory");
    rmdir(dir);
    nm_test_path(path, sizeof path, "mf_empty.nmap");
    spit(path, "", 0);
    CHECK_FAILS(nm_mf_read(path, &out), NM_EFORMAT, "mf_empty.nmap: empty file");
    remove(path);
    /* A FIFO without a writer must be refused, not block the reader. */
    nm_test_path(path, sizeof path, "mf_fifo.nmap");
    remove(path);
    CHECK(mkfifo(path, 0600) == 0);
    CHECK_FAILS(nm_mf_read(path, &out), NM_EIO, "mf_fifo.nmap: not a regular file");
    remove(path);
    CHECK_FAILS(nm_mf_read("", &out), NM_EINVAL, "empty");
    CHECK(out == NULL);
}

static void test_lookup_and_add_errors(void)
{
    nm_mf *mf = make_small();
    const float *f;
    const int32_t *i32;
    size_t n = 99;
    double x;
    CHECK_FAILS(nm_mf_get_f32(mf, "map.params", NM_MF_ANY, &f, &n), NM_ENOTFOUND, "no entry 'map.params'");
    CHECK_FAILS(nm_mf_get_f32(mf, "norm.mean", NM_MF_ANY, &f, &n), NM_EFORMAT,
                "entry 'norm.mean' is f64[1], expected f32");
    CHECK_FAILS(nm_mf_get_i32(mf, "vae.enc.sizes", 4, &i32, &n), NM_EFORMAT,
                "entry 'vae.enc.sizes' has 3 elements, expected 4");
    CHECK_FAILS(nm_mf_get_scalar_f64(mf, "embed.De", &x), NM_EFORMAT,
                "entry 'embed.De' is i32[1], expected f64");
    CHECK_OK(nm_mf_get_i32(mf, "vae.enc.sizes", 3, &i32, &n));
    CHECK(n == 3 && i32[0] == 32 && i32[2] == 3);
    CHECK(nm_mf_has(mf, "norm.std") && !nm_mf_has(mf, "norm") && !nm_mf_has(NULL, "norm.std"));
    CHECK_FAILS(nm_mf_entry(mf, 8, NULL, NULL, NULL, NULL), NM_EINVAL, "out of range");
    CHECK(strcmp(nm_mf_type_name(NM_MF_F32), "f32") == 0);
    CHECK(strcmp(nm_mf_type_name((nm_mf_type)42), "?") == 0);

    /* A read container names its file in lookup errors. */
    size_t len;
    unsigned char *b = encode(mf, &len);
    nm_mf *back = NULL;
    CHECK_OK(nm_mf_decode(b, len, "cell.nmap", &back));
    CHECK_FAILS(nm_mf_get_f64(back, "map.dt_ms", 1, NULL, NULL), NM_ENOTFOUND,
                "cell.nmap: no entry 'map.dt_ms'");
    nm_mf_free(back);
    free(b);

    const float bad[] = {1.0f, NAN};
    char longname[NM_MF_NAME_MAX + 2];
    memset(longname, 'a', NM_MF_NAME_MAX + 1);
    longname[NM_MF_NAME_MAX + 1] = '\0'; /* one character too many */
    CHECK_FAILS(nm_mf_add_f32(mf, "map.params", bad, 2), NM_EINVAL,
                "entry 'map.params': element 1 is not finite");
    CHECK_FAILS(nm_mf_add_f32(mf, "map params", bad, 1), NM_EINVAL,
                "invalid model entry name 'map params'");
    CHECK_FAILS(nm_mf_add_f32(mf, "", bad, 1), NM_EINVAL, "invalid model entry name");
    CHECK_FAILS(nm_mf_add_f32(mf, longname, bad, 1), NM_EINVAL, "invalid model entry name");
    CHECK_OK(nm_mf_add_f32(mf, longname + 1, bad, 1)); /* exactly NM_MF_NAME_MAX */
    CHECK_FAILS(nm_mf_add_scalar_f64(mf, "norm.mean", 0.0), NM_EINVAL, "duplicate model entry 'norm.mean'");
    CHECK_FAILS(nm_mf_add_f32(mf, "map.params", NULL, 3), NM_EINVAL, "NULL data");
    CHECK_FAILS(nm_mf_add(mf, "map.x", (nm_mf_type)9, bad, 1), NM_EINVAL, "unknown type code 9");
    CHECK_FAILS(nm_mf_add(mf, "meta.note", NM_MF_STR, "a\0b", 3), NM_EINVAL, "entry 'meta.note': NUL byte");
    CHECK(nm_mf_count(mf) == 9); /* 8 + the long name; failures added nothing */
    nm_mf_free(mf);
}

static void test_sections(void)
{
    nm_mf *mf = make_small();
    const float w[] = {1, 2, 3};
    CHECK_OK(nm_mf_add_f32(mf, "map.params", w, 3));
    CHECK_OK(nm_mf_add_scalar_f64(mf, "map.dt_ms", 5.0));
    CHECK_OK(nm_mf_add_scalar_f64(mf, "mapx.other", 1.0));
    CHECK(nm_mf_remove_section(mf, "ma") == 0); /* whole sections only */
    CHECK(nm_mf_remove_section(mf, "map") == 2);
    CHECK(nm_mf_has(mf, "mapx.other") && !nm_mf_has(mf, "map.params"));
    CHECK_OK(nm_mf_remove(mf, "mapx.other"));
    CHECK_FAILS(nm_mf_remove(mf, "mapx.other"), NM_ENOTFOUND, "no entry 'mapx.other'");
    /* After the removals the container encodes exactly like a fresh one. */
    nm_mf *fresh = make_small();
    size_t l1, l2;
    unsigned char *b1 = encode(mf, &l1), *b2 = encode(fresh, &l2);
    CHECK(b1 && b2 && l1 == l2 && memcmp(b1, b2, l1) == 0);
    const char *name = NULL;
    CHECK_OK(nm_mf_entry(mf, 4, &name, NULL, NULL, NULL));
    CHECK(name && strcmp(name, "vae.enc.params") == 0); /* order kept */
    free(b1);
    free(b2);
    nm_mf_free(fresh);
    nm_mf_free(mf);
}

/* Entries of a folder whose name contains needle. */
static int count_in_dir(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, needle)) n++;
    closedir(d);
    return n;
}

static void test_atomic_writer(void)
{
    char dir[512], path[600], sub[600], missing[600];
    nm_test_path(dir, sizeof dir, "mf_atomic");
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/model.nmap", dir);
    snprintf(sub, sizeof sub, "%s/subdir", dir);
    snprintf(missing, sizeof missing, "%s/no/such/folder/model.nmap", dir);
    remove(path);
    rmdir(sub);
    nm_mf *mf = make_small();
    CHECK_OK(nm_mf_write(mf, path));
    CHECK(count_in_dir(dir, ".tmp") == 0);
    CHECK(count_in_dir(dir, "model.nmap") == 1);
    /* Overwriting replaces the content. */
    CHECK_OK(nm_mf_add_scalar_f64(mf, "map.dt_ms", 5.0));
    CHECK_OK(nm_mf_write(mf, path));
    nm_mf *back = NULL;
    CHECK_OK(nm_mf_read(path, &back));
    CHECK(back && nm_mf_has(back, "map.dt_ms"));
    nm_mf_free(back);
    /* Failures: a missing folder, and a target that is a folder (the rename
     * fails after the temp file was written) leave nothing behind. */
    CHECK_FAILS(nm_mf_write(mf, missing), NM_EIO, "no/such/folder/model.nmap");
    struct stat sb;
    CHECK(stat(missing, &sb) != 0);
    CHECK(mkdir(sub, 0755) == 0);
    CHECK_FAILS(nm_mf_write(mf, sub), NM_EIO, "subdir");
    CHECK(stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK(count_in_dir(dir, ".tmp") == 0);
    CHECK(count_in_dir(dir, "") == 4); /* ".", "..", model.nmap, subdir */
    nm_mf_free(mf);
    rmdir(sub);
    remove(path);
    rmdir(dir);
}

/* Several threads read files at once; each sees its own content and its
 * own error message. */
typedef struct reader_job {
    char path[512];
    double mean;   /* expected norm.mean, or NAN for the corrupt file */
    int failures;
} reader_job;

static void *reader(void *arg)
{
    reader_job *j = arg;
    for (int k = 0; k < 200; k++) {
        nm_mf *mf = NULL;
        nm_status st = nm_mf_read(j->path, &mf);
        double mean = 0;
        if (isnan(j->mean)) {
            if (st != NM_ECHECKSUM || !strstr(nm_last_error(), j->path)) j->failures++;
        } else if (st || nm_mf_get_scalar_f64(mf, "norm.mean", &mean) || mean != j->mean) {
            j->failures++;
        }
        nm_mf_free(mf);
    }
    return NULL;
}

static void test_threads(void)
{
    enum { NT = 4 };
    reader_job jobs[NT];
    pthread_t th[NT];
    for (int i = 0; i < NT; i++) {
        char name[64];
        snprintf(name, sizeof name, "mf_thread%d.nmap", i);
        nm_test_path(jobs[i].path, sizeof jobs[i].path, name);
        jobs[i].mean = i == NT - 1 ? NAN : -50.0 + i;
        jobs[i].failures = 0;
        nm_mf *mf = nm_mf_alloc();
        CHECK_OK(nm_mf_add_scalar_f64(mf, "norm.mean", i == NT - 1 ? 1.0 : jobs[i].mean));
        size_t len;
        unsigned char *b = encode(mf, &len);
        if (b && i == NT - 1) b[len - 1] ^= 1; /* corrupt the CRC */
        if (b) spit(jobs[i].path, b, len);
        free(b);
        nm_mf_free(mf);
    }
    for (int i = 0; i < NT; i++) CHECK(pthread_create(&th[i], NULL, reader, &jobs[i]) == 0);
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(jobs[i].failures == 0, "thread %d: %d failures", i, jobs[i].failures);
        remove(jobs[i].path);
    }
}

int main(void)
{
    NM_RUN(test_crc32);
    NM_RUN(test_golden_bytes);
    NM_RUN(test_roundtrip);
    NM_RUN(test_deterministic);
    NM_RUN(test_every_truncation);
    NM_RUN(test_random_flips);
    NM_RUN(test_fuzz_structure);
    NM_RUN(test_bad_files);
    NM_RUN(test_lookup_and_add_errors);
    NM_RUN(test_sections);
    NM_RUN(test_atomic_writer);
    NM_RUN(test_threads);
    return nm_test_report();
}
