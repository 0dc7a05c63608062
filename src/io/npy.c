/* npy.c -- NumPy .npy reader/writer for 1-D and 2-D float32/float64 arrays.
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 * magic "\x93NUMPY", version (1|2|3).0, header length (u16 LE for v1, u32 LE
 * otherwise), a Python dict literal padded with spaces and '\n', then data. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Headers of real files are < 200 bytes; bound what we are willing to read. */
#define NPY_MAX_HEADER 65536

static int host_is_little_endian(void)
{
    const uint16_t x = 1;
    return *(const unsigned char *)&x == 1;
}

/* Find 'key': in the header dict and return a pointer just past the colon. */
static const char *npy_find_key(const char *hdr, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(hdr, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

nm_status nm_npy_read(const char *path, double **data, size_t *rows, size_t *cols)
{
    if (!path || !data || !rows || !cols) return nm_fail(NM_EINVAL, "npy: NULL argument");
    *data = NULL;
    *rows = *cols = 0;
    nm_status ost;
    FILE *f = nm_open_input(path, "rb", NM_SERIES_MAX_BYTES, ".npy file", &ost);
    if (!f) return ost;

    nm_status st = NM_OK;
    char *hdr = NULL;
    double *out = NULL;
    unsigned char pre[10];
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        st = nm_fail(NM_EFORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    int major = pre[6];
    size_t hlen;
    if (major == 1) {
        if (fread(pre + 8, 1, 2, f) != 2) goto truncated;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        unsigned char b[4];
        if (fread(b, 1, 4, f) != 4) goto truncated;
        hlen = (size_t)b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16 | (size_t)b[3] << 24;
    } else {
        st = nm_fail(NM_EFORMAT, "%s: unsupported .npy version %d", path, major);
        goto done;
    }
    if (hlen == 0 || hlen > NPY_MAX_HEADER) {
        st = nm_fail(NM_EFORMAT, "%s: implausible .npy header length %zu", path, hlen);
        goto done;
    }
    hdr = nm_malloc(hlen + 1);
    if (!hdr) {
        st = NM_ENOMEM;
        goto done;
    }
    if (fread(hdr, 1, hlen, f) != hlen) goto truncated;
    hdr[hlen] = '\0';

    const char *d = npy_find_key(hdr, "descr");
    const char *fo = npy_find_key(hdr, "fortran_order");
    const char *sh = npy_find_key(hdr, "shape");
    if (!d || !fo || !sh) {
        st = nm_fail(NM_EFORMAT, "%s: .npy header lacks descr/fortran_order/shape", path);
        goto done;
    }
    size_t esize;
    int le = host_is_little_endian();
    if (strncmp(d, "'<f8'", 5) == 0 || (le && strncmp(d, "'=f8'", 5) == 0)) esize = 8;
    else if (strncmp(d, "'<f4'", 5) == 0 || (le && strncmp(d, "'=f4'", 5) == 0)) esize = 4;
    else {
        /* Quote the descr value whole (up to its closing quote). */
        char dt[40];
        size_t k = 0;
        if (*d == '\'' || *d == '"') {
            const char q = *d;
            dt[k++] = *d++;
            while (*d && *d != q && k < sizeof dt - 5) dt[k++] = *d++;
            if (*d == q) dt[k++] = q;
            else if (*d) k += (size_t)snprintf(dt + k, sizeof dt - k, "...");
        } else {
            while (*d && *d != ',' && *d != '}' && k < sizeof dt - 5) dt[k++] = *d++;
        }
        dt[k] = '\0';
        st = nm_fail(NM_EFORMAT, "%s: unsupported dtype %s (need little-endian float32 '<f4' or float64 '<f8')",
                     path, dt);
        goto done;
    }
    if (strncmp(fo, "False", 5) != 0) {
        st = nm_fail(NM_EFORMAT, "%s: Fortran-ordered arrays are not supported", path);
        goto done;
    }
    if (*sh != '(') {
        st = nm_fail(NM_EFORMAT, "%s: malformed shape in .npy header", path);
        goto done;
    }
    size_t dims[2] = {0, 1};
    int ndim = 0;
    const char *q = sh + 1;
    for (;;) {
        while (*q == ' ') q++;
        if (*q == ')') break;
        if (ndim == 2) {
            st = nm_fail(NM_EFORMAT, "%s: only 1-D or 2-D arrays are supported", path);
            goto done;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(q, &end, 10);
        if (end == q || errno) {
            st = nm_fail(NM_EFORMAT, "%s: malformed shape in .npy header", path);
            goto done;
        }
        dims[ndim++] = (size_t)v;
        q = end;
        while (*q == ' ') q++;
        if (*q == ',') q++;
    }
    if (ndim == 0) {
        st = nm_fail(NM_EFORMAT, "%s: 0-d (scalar) arrays are not a series", path);
        goto done;
    }
    size_t n = dims[0], m = ndim == 2 ? dims[1] : 1;
    if (m == 0 || n > SIZE_MAX / m / 8) {
        st = nm_fail(NM_EFORMAT, "%s: implausible shape %zu x %zu", path, n, m);
        goto done;
    }
    /* The data must be exactly the rest of the file (no huge allocation from
     * a corrupted shape). */
    long here = ftell(f);
    if (here < 0 || fseek(f, 0, SEEK_END) != 0) {
        st = nm_fail(NM_EIO, "%s: cannot seek", path);
        goto done;
    }
    long total = ftell(f);
    if (total < 0 || fseek(f, here, SEEK_SET) != 0) {
        st = nm_fail(NM_EIO, "%s: cannot seek", path);
        goto done;
    }
    size_t need = n * m * esize;
    if ((size_t)(total - here) != need) {
        st = nm_fail(NM_EFORMAT, "%s: data size %ld bytes does not match shape %zu x %zu of %zu-byte floats",
                     path, total - here, n, m, esize);
        goto done;
    }
    out = nm_malloc((n * m > 0 ? n * m : 1) * sizeof *out);
    if (!out) {
        st = NM_ENOMEM;
        goto done;
    }
    unsigned char buf[8];
    for (size_t i = 0; i < n * m; i++) {
        if (fread(buf, 1, esize, f) != esize) goto truncated;
        if (esize == 8) {
            uint64_t u = 0;
            for (int b = 7; b >= 0; b--) u = u << 8 | buf[b];
            double x;
            memcpy(&x, &u, 8);
            out[i] = x;
        } else {
            uint32_t u = 0;
            for (int b = 3; b >= 0; b--) u = u << 8 | buf[b];
            float x;
            memcpy(&x, &u, 4);
            out[i] = x;
        }
    }
    *data = out;
    *rows = n;
    *cols = m;
    out = NULL;
    goto done;
truncated:
    st = nm_fail(NM_EFORMAT, "%s: truncated .npy file", path);
done:
    free(hdr);
    free(out);
    fclose(f);
    return st;
}

nm_status nm_npy_write(const char *path, const double *data, size_t rows, size_t cols)
{
    if (!path || (!data && rows > 0)) return nm_fail(NM_EINVAL, "npy: NULL argument");
    if (cols == 0) return nm_fail(NM_EINVAL, "npy: cols must be >= 1");
    char dict[128];
    if (cols == 1)
        snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu,), }", rows);
    else
        snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu, %zu), }",
                 rows, cols);
    /* Pad so magic(6)+version(2)+len(2)+header is a multiple of 64, ending in '\n'. */
    size_t dl = strlen(dict);
    size_t total = 10 + dl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = dl + pad + 1;

    char tmp[4096];
    FILE *f = nm_atomic_open(path, tmp, sizeof tmp);
    if (!f) return NM_EIO;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, dl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    for (size_t i = 0; i < rows * cols; i++) {
        uint64_t u;
        memcpy(&u, &data[i], 8);
        unsigned char b[8];
        for (int k = 0; k < 8; k++) b[k] = (unsigned char)(u >> (8 * k));
        fwrite(b, 1, 8, f);
    }
    return nm_atomic_commit(f, tmp, path);
}
