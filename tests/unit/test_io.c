/* test_io.c -- CSV and .npy round trips and every bad input of the readers. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "nm_test.h"

#include <unistd.h>

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_csv_round_trip(void)
{
    char path[512];
    nm_test_path(path, sizeof path, "rt.csv");
    nm_series *s = nm_series_alloc(1000, 0);
    s->dt_ms = 5.0;
    s->t0_ms = 20000.0;
    for (size_t i = 0; i < s->n; i++) s->v[i] = -60.0 + 30.0 * sin(0.01 * (double)i) + 1e-7 * (double)i;
    CHECK_OK(nm_series_write(path, s, 0, NULL));
    nm_series *r = NULL;
    CHECK_OK(nm_series_read(path, 0.0, -38.0, 2, &r));
    if (r) {
        CHECK(r->n == s->n);
        CHECK_CLOSE(r->dt_ms, 5.0, 1e-12, 0);
        CHECK_CLOSE(r->t0_ms, 20000.0, 0, 1e-9);
        CHECK_CLOSE(r->p, -38.0, 0, 0);
        double maxerr = 0;
        for (size_t i = 0; i < s->n; i++) maxerr = fmax(maxerr, fabs(r->v[i] - s->v[i]));
        /* %.10g keeps 10 significant digits: |V| < 100 -> error < 1e-8. */
        CHECK(maxerr < 1e-8);
    }
    nm_series_free(r);
    nm_series_free(s);
}

static void test_npy_round_trip(void)
{
    char path[512];
    nm_test_path(path, sizeof path, "rt.npy");
    nm_series *s = nm_series_alloc(777, 0);
    s->dt_ms = 0.5;
    for (size_t i = 0; i < s->n; i++) s->v[i] = -65.0 + 0.123456789 * (double)i;
    CHECK_OK(nm_series_write(path, s, 0, NULL));
    nm_series *r = NULL;
    CHECK_OK(nm_series_read(path, 0.5, 3.0, 2, &r));
    if (r) {
        CHECK(r->n == 777);
        int same = 1;
        for (size_t i = 0; i < s->n; i++) same &= r->v[i] == s->v[i]; /* float64: exact */
        CHECK(same);
        CHECK(r->dt_ms == 0.5);
    }
    nm_series_free(r);
    /* 2-D with states. */
    nm_series *w = nm_series_alloc(10, 2);
    for (size_t i = 0; i < 10; i++) {
        w->v[i] = (double)i;
        w->states[2 * i] = 100.0 + (double)i;
        w->states[2 * i + 1] = 200.0 + (double)i;
    }
    CHECK_OK(nm_series_write(path, w, 1, NULL));
    double *d = NULL;
    size_t rows = 0, cols = 0;
    CHECK_OK(nm_npy_read(path, &d, &rows, &cols));
    CHECK(rows == 10 && cols == 3);
    if (d && rows == 10 && cols == 3) CHECK(d[3 * 4] == 4.0 && d[3 * 4 + 1] == 104.0 && d[3 * 4 + 2] == 204.0);
    free(d);
    nm_series_free(w);
    nm_series_free(s);
}

/* A float32 .npy written by hand (as numpy would: '<f4', shape (4,)). */
static void test_npy_float32(void)
{
    char path[512];
    nm_test_path(path, sizeof path, "f32.npy");
    FILE *f = fopen(path, "wb");
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }";
    size_t dl = strlen(dict), pad = (64 - (10 + dl + 1) % 64) % 64, hl = dl + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)hl, 0};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, dl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    float vals[4] = {-60.5f, -40.25f, 10.0f, 0.125f};
    fwrite(vals, 4, 4, f); /* the test machine is little-endian (x86_64) */
    fclose(f);
    nm_series *r = NULL;
    CHECK_OK(nm_series_read(path, 5.0, 0.0, 2, &r));
    if (r) {
        CHECK(r->n == 4);
        CHECK(r->v[0] == -60.5 && r->v[1] == -40.25 && r->v[3] == 0.125);
    }
    nm_series_free(r);
}

static void test_csv_variants(void)
{
    char path[512];
    nm_test_path(path, sizeof path, "var.csv");
    nm_series *r = NULL;
    /* One column, no header: dt must be given. */
    write_text(path, "-60\n-59\n-58\n");
    CHECK_FAILS(nm_series_read(path, 0.0, 0, 2, &r), NM_EINVAL, "sampling step");
    CHECK_OK(nm_series_read(path, 2.5, 0, 2, &r));
    if (r) CHECK(r->n == 3 && r->dt_ms == 2.5 && r->v[2] == -58);
    nm_series_free(r);
    r = NULL;
    /* Header, comments, blank lines, CRLF, whitespace separated. */
    write_text(path, "# recorded\r\nt_ms V_mV\r\n\r\n0 -60\r\n0.1 -61\r\n0.2 -62\r\n");
    CHECK_OK(nm_series_read(path, 0.0, 0, 2, &r));
    if (r) CHECK(r->n == 3 && fabs(r->dt_ms - 0.1) < 1e-12 && r->v[1] == -61);
    nm_series_free(r);
    r = NULL;
    /* Extra state columns after a t,V header (what `simulate --states` writes). */
    write_text(path, "t_ms,V_mV,n,S\n0,-60,0.1,0.4\n5,-61,0.1,0.4\n10,-62,0.1,0.4\n");
    CHECK_OK(nm_series_read(path, 5.0, 0, 2, &r));
    if (r) CHECK(r->n == 3 && r->v[2] == -62);
    nm_series_free(r);
}

static void test_bad_inputs(void)
{
    char path[512], dir[512];
    nm_test_path(path, sizeof path, "bad.csv");
    nm_series *r = NULL;
    CHECK_FAILS(nm_series_read("/nonexistent/x.csv", 5, 0, 2, &r), NM_EIO, "/nonexistent/x.csv");
    CHECK(r == NULL);
    write_text(path, "");
    CHECK_FAILS(nm_series_read(path, 5, 0, 2, &r), NM_EDATA, "no samples");
    write_text(path, "t,V\n0,-60\n5,nan\n10,-60\n");
    CHECK_FAILS(nm_series_read(path, 0, 0, 2, &r), NM_EDATA, "bad.csv:3");
    write_text(path, "t,V\n0,-60\n5,inf\n");
    CHECK_FAILS(nm_series_read(path, 0, 0, 2, &r), NM_EDATA, "NaN or infinite");
    write_text(path, "t,V\n0,-60\n5,abc\n");
    CHECK_FAILS(nm_series_read(path, 0, 0, 2, &r), NM_EFORMAT, "bad.csv:3: 'abc' is not a number");
    write_text(path, "0,-60\n5,-61,7\n");
    CHECK_FAILS(nm_series_read(path, 0, 0, 2, &r), NM_EFORMAT, "bad.csv:2: 3 columns");
    write_text(path, "0,-60,1\n5,-61,7\n");
    CHECK_FAILS(nm_series_read(path, 0, 0, 2, &r), NM_EFORMAT, "3 columns");
    write_text(path, "a,b,c\n0,-60,1\n");
    CHECK_FAILS(nm_series_read(path, 0, 0, 2, &r), NM_EFORMAT, "bad.csv:1");
    write_text(path, "t,V\n0,-60\n5,-61\n10,-62\n16,-63\n");
    CHECK_FAILS(nm_series_read(path, 0, 0, 2, &r), NM_EDATA, "bad.csv:5: uneven sampling");
    write_text(path, "t,V\n0,-60\n0,-61\n0,-62\n");
    CHECK_FAILS(nm_series_read(path, 0, 0, 2, &r), NM_EDATA, "does not increase");
    write_text(path, "t,V\n0,-60\n5,-61\n10,-62\n");
    CHECK_FAILS(nm_series_read(path, 2.0, 0, 2, &r), NM_EDATA, "was given");
    CHECK_FAILS(nm_series_read(path, 5.0, 0, 100, &r), NM_EDATA, "need at least 100");
    CHECK_FAILS(nm_series_read(path, 5.0, NAN, 2, &r), NM_EINVAL, "not finite");
    CHECK(r == NULL);
    nm_test_path(dir, sizeof dir, "");
    CHECK(nm_series_read(dir, 5, 0, 2, &r) != NM_OK);

    /* .npy: bad magic, truncated data, wrong dtype, 2-D as a series. */
    nm_test_path(path, sizeof path, "bad.npy");
    write_text(path, "not numpy at all");
    CHECK_FAILS(nm_series_read(path, 5, 0, 2, &r), NM_EFORMAT, "bad magic");
    double d[6] = {1, 2, 3, 4, 5, 6};
    CHECK_OK(nm_npy_write(path, d, 6, 1));
    CHECK_FAILS(nm_series_read(path, 0, 0, 2, &r), NM_EINVAL, "sampling step");
    CHECK(truncate(path, 128 + 20) == 0);
    CHECK_FAILS(nm_series_read(path, 5, 0, 2, &r), NM_EFORMAT, "does not match shape");
    CHECK_OK(nm_npy_write(path, d, 3, 2));
    CHECK_FAILS(nm_series_read(path, 5, 0, 2, &r), NM_EFORMAT, "1-D");
    d[2] = NAN;
    CHECK_OK(nm_npy_write(path, d, 6, 1));
    CHECK_FAILS(nm_series_read(path, 5, 0, 2, &r), NM_EDATA, "element 2");
    CHECK(r == NULL);
}

static void test_atomic_write(void)
{
    nm_series *s = nm_series_alloc(10, 0);
    s->dt_ms = 1;
    /* A folder that does not exist: error, and nothing is created. */
    CHECK_FAILS(nm_series_write("/nonexistent-dir/out.csv", s, 0, NULL), NM_EIO, "out.csv");
    CHECK(access("/nonexistent-dir/out.csv", F_OK) != 0);
    CHECK_FAILS(nm_series_write("/nonexistent-dir/out.npy", s, 0, NULL), NM_EIO, "out.npy");
    /* Success leaves no temp file in the folder. */
    char path[512], cmd[1200];
    nm_test_path(path, sizeof path, "atomic.csv");
    CHECK_OK(nm_series_write(path, s, 0, NULL));
    snprintf(cmd, sizeof cmd, "ls '%s'.tmp.* >/dev/null 2>&1", path);
    CHECK(system(cmd) != 0);
    nm_series_free(s);
}

int main(void)
{
    NM_RUN(test_csv_round_trip);
    NM_RUN(test_npy_round_trip);
    NM_RUN(test_npy_float32);
    NM_RUN(test_csv_variants);
    NM_RUN(test_bad_inputs);
    NM_RUN(test_atomic_write);
    return nm_test_report();
}
