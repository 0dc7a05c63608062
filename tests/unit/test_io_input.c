/* test_io_input.c -- the injected-input channel of a series (issue 11):
 * CSV t_ms,V_mV,I_<unit> and a second .npy, round trips, block averaging,
 * and every bad input column with a message naming file and line. */
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

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static nm_series *make_series(size_t n, const char *unit)
{
    nm_series *s = nm_series_alloc(n, 0);
    s->dt_ms = 0.1;
    s->t0_ms = 500.0;
    s->u = malloc(n * sizeof *s->u);
    snprintf(s->u_unit, sizeof s->u_unit, "%s", unit);
    for (size_t i = 0; i < n; i++) {
        s->v[i] = -65.0 + 20.0 * sin(0.05 * (double)i);
        s->u[i] = 3.0 * cos(0.031 * (double)i) - 0.5;
    }
    return s;
}

static void test_unit_names(void)
{
    CHECK(strcmp(nm_input_unit_canonical("nA"), "nA") == 0);
    CHECK(strcmp(nm_input_unit_canonical("pA"), "pA") == 0);
    CHECK(strcmp(nm_input_unit_canonical("uA_cm2"), "uA/cm2") == 0);
    CHECK(strcmp(nm_input_unit_canonical("uA/cm2"), "uA/cm2") == 0);
    CHECK(strcmp(nm_input_unit_canonical("mA_cm2"), "mA/cm2") == 0);
    CHECK(strcmp(nm_input_unit_canonical("1"), "1") == 0);
    CHECK(nm_input_unit_canonical("mV") == NULL);
    CHECK(nm_input_unit_canonical("NA") == NULL);
    CHECK(nm_input_unit_canonical("") == NULL);
    CHECK(nm_input_unit_canonical(NULL) == NULL);
}

static void test_csv_round_trip(void)
{
    char path[512];
    nm_test_path(path, sizeof path, "in_rt.csv");
    static const char *units[] = {"nA", "pA", "uA/cm2", "1"};
    static const char *headers[] = {"t_ms,V_mV,I_nA\n", "t_ms,V_mV,I_pA\n", "t_ms,V_mV,I_uA_cm2\n",
                                    "t_ms,V_mV,I_1\n"};
    for (size_t k = 0; k < 4; k++) {
        nm_series *s = make_series(400, units[k]);
        CHECK_OK(nm_series_write(path, s, 0, NULL));
        const char *text = read_text(path);
        CHECK_MSG(text && strncmp(text, headers[k], strlen(headers[k])) == 0, "header for %s: %.30s", units[k],
                  text ? text : "(none)");
        nm_series *r = NULL;
        CHECK_OK(nm_series_read(path, 0.0, 2.0, 2, &r));
        if (r) {
            CHECK(r->n == s->n && r->u != NULL);
            CHECK(strcmp(r->u_unit, units[k]) == 0);
            CHECK_CLOSE(r->dt_ms, 0.1, 1e-9, 0);
            double eu = 0, ev = 0;
            for (size_t i = 0; r->u && i < s->n; i++) {
                eu = fmax(eu, fabs(r->u[i] - s->u[i]));
                ev = fmax(ev, fabs(r->v[i] - s->v[i]));
            }
            CHECK(eu < 1e-8 && ev < 1e-8);
        }
        nm_series_free(r);
        nm_series_free(s);
    }
    /* With states: t_ms,V_mV,I_nA,a,b -- the input is still the third column. */
    nm_series *s = nm_series_alloc(50, 2);
    s->dt_ms = 1.0;
    s->u = calloc(50, sizeof *s->u);
    strcpy(s->u_unit, "nA");
    for (size_t i = 0; i < 50; i++) {
        s->v[i] = -60.0 + (double)i;
        s->u[i] = 0.01 * (double)i;
        s->states[2 * i] = 7.0;
        s->states[2 * i + 1] = 8.0;
    }
    const char *names[] = {"a", "b"};
    CHECK_OK(nm_series_write(path, s, 1, names));
    const char *text = read_text(path);
    CHECK(text && strncmp(text, "t_ms,V_mV,I_nA,a,b\n", 19) == 0);
    nm_series *r = NULL;
    CHECK_OK(nm_series_read(path, 0.0, 0.0, 2, &r));
    CHECK(r && r->u && r->u[49] == 0.49 && r->v[49] == -11.0);
    nm_series_free(r);
    nm_series_free(s);

    /* A slash in the header, and no input column at all. */
    write_text(path, "t_ms,V_mV,I_uA/cm2\n0,-65,1.5\n0.5,-64,2.5\n1,-63,-3\n");
    CHECK_OK(nm_series_read(path, 0.0, 0.0, 2, &r));
    CHECK(r && r->u && strcmp(r->u_unit, "uA/cm2") == 0 && r->u[2] == -3.0);
    nm_series_free(r);
    write_text(path, "t_ms,V_mV\n0,-65\n0.5,-64\n1,-63\n");
    CHECK_OK(nm_series_read(path, 0.0, 0.0, 2, &r));
    CHECK(r && r->u == NULL && r->u_unit[0] == '\0');
    nm_series_free(r);
    write_text(path, "t_ms,V_mV,V,n\n0,-65,1,2\n0.5,-64,1,2\n1,-63,1,2\n");
    CHECK_OK(nm_series_read(path, 0.0, 0.0, 2, &r));
    CHECK(r && r->u == NULL);
    nm_series_free(r);
    /* A series whose unit is unknown cannot be written. */
    s = make_series(10, "mV");
    CHECK_FAILS(nm_series_write(path, s, 0, NULL), NM_EINVAL, "input unit 'mV'");
    nm_series_free(s);
}

static void expect_bad(const char *name, const char *text, nm_status code, const char *needle)
{
    char path[512];
    nm_test_path(path, sizeof path, name);
    write_text(path, text);
    nm_series *r = (nm_series *)1;
    nm_status st = nm_series_read(path, 0.0, 0.0, 2, &r);
    CHECK_MSG(st == code && strstr(nm_last_error(), needle) && strstr(nm_last_error(), name) && r == NULL,
              "%s: got %d '%s', want %d with '%s'", name, (int)st, nm_last_error(), (int)code, needle);
}

static void test_csv_bad_input(void)
{
    const char *h = "t_ms,V_mV,I_nA\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s0,-65,0.1\n1,-64\n2,-63,0.1\n", h);
    expect_bad("in_missing.csv", buf, NM_EFORMAT, ":3: 2 columns, expected 3: the input value (I_nA) is missing");
    snprintf(buf, sizeof buf, "%s0,-65,0.1\n1,-64,\n2,-63,0.1\n", h);
    expect_bad("in_trailing.csv", buf, NM_EFORMAT, ":3: 2 columns, expected 3: the input value (I_nA)");
    snprintf(buf, sizeof buf, "%s0,-65,0.1\n1,-64,,\n", h);
    expect_bad("in_empty.csv", buf, NM_EFORMAT, ":3: column 3 is empty: the input value is missing for I_nA");
    snprintf(buf, sizeof buf, "%s0,-65,0.1\n1,-64,nan\n2,-63,0.1\n", h);
    expect_bad("in_nan.csv", buf, NM_EDATA, ":3: input I_nA is NaN or infinite");
    snprintf(buf, sizeof buf, "%s0,-65,0.1\n1,-64,0.1\n2,-63,-inf\n", h);
    expect_bad("in_inf.csv", buf, NM_EDATA, ":4: input I_nA is NaN or infinite");
    snprintf(buf, sizeof buf, "%s0,-65,0.1\n1,-64,abc\n", h);
    expect_bad("in_word.csv", buf, NM_EFORMAT, ":3: input I_nA 'abc' is not a number");
    snprintf(buf, sizeof buf, "%s0,-65,0.1\n1,-64,2e6\n", h);
    expect_bad("in_huge.csv", buf, NM_EDATA, ":3: input I_nA = 2e+06 is outside the plausible range +-1e+06 nA");
    expect_bad("in_unit.csv", "t_ms,V_mV,I_mV\n0,-65,1\n1,-64,1\n", NM_EFORMAT,
               ":1: input column 'I_mV': unknown or missing unit");
    expect_bad("in_nounit.csv", "t_ms,V_mV,I\n0,-65,1\n1,-64,1\n", NM_EFORMAT,
               ":1: input column 'I': unknown or missing unit");
    /* 2 then 3 columns, and 3 without a header. */
    expect_bad("in_mix.csv", "t_ms,V_mV\n0,-65\n1,-64,0.3\n", NM_EFORMAT, ":3: 3 columns, expected 2");
    expect_bad("in_nohdr.csv", "0,-65,0.1\n1,-64,0.1\n", NM_EFORMAT,
               ":1: 3 columns; expected V, or t_ms,V_mV (an input column needs the header");
}

static void test_npy_input(void)
{
    char vpath[512], upath[512], bad[512];
    nm_test_path(vpath, sizeof vpath, "in_v.npy");
    nm_test_path(upath, sizeof upath, "in_u.npy");
    nm_test_path(bad, sizeof bad, "in_bad.npy");
    nm_series *s = make_series(300, "pA");
    CHECK_OK(nm_series_write(vpath, s, 0, NULL));
    CHECK_OK(nm_series_write_input(upath, s));
    nm_series *r = NULL;
    CHECK_OK(nm_series_read(vpath, 0.1, 1.0, 2, &r));
    if (!r) return;
    CHECK(r->u == NULL);
    CHECK_OK(nm_series_read_input(r, upath, "pA"));
    int same = r->u != NULL && strcmp(r->u_unit, "pA") == 0;
    for (size_t i = 0; same && i < s->n; i++) same = r->u[i] == s->u[i]; /* float64: exact */
    CHECK(same);
    /* the unit's other spelling; replaces the input */
    CHECK_OK(nm_series_read_input(r, upath, "uA_cm2"));
    CHECK(strcmp(r->u_unit, "uA/cm2") == 0);

    /* Bad inputs leave the series as it was. */
    double *keep = r->u;
    CHECK_FAILS(nm_series_read_input(r, upath, "mV"), NM_EINVAL, "unknown input unit 'mV'");
    CHECK_FAILS(nm_series_read_input(r, upath, NULL), NM_EINVAL, "unknown input unit");
    double d[301];
    for (size_t i = 0; i < 301; i++) d[i] = 0.5;
    CHECK_OK(nm_npy_write(bad, d, 299, 1));
    CHECK_FAILS(nm_series_read_input(r, bad, "nA"), NM_EDATA, "299 input values, but the series has 300 samples");
    CHECK_OK(nm_npy_write(bad, d, 301, 1));
    CHECK_FAILS(nm_series_read_input(r, bad, "nA"), NM_EDATA, "in_bad.npy: 301 input values");
    d[17] = NAN;
    CHECK_OK(nm_npy_write(bad, d, 300, 1));
    CHECK_FAILS(nm_series_read_input(r, bad, "nA"), NM_EDATA, "in_bad.npy: element 17 of the input is NaN");
    d[17] = INFINITY;
    CHECK_OK(nm_npy_write(bad, d, 300, 1));
    CHECK_FAILS(nm_series_read_input(r, bad, "nA"), NM_EDATA, "element 17 of the input is NaN or infinite");
    d[17] = -3e6;
    CHECK_OK(nm_npy_write(bad, d, 300, 1));
    CHECK_FAILS(nm_series_read_input(r, bad, "nA"), NM_EDATA,
                "element 17: input -3e+06 nA is outside the plausible range +-1e+06 nA");
    CHECK_OK(nm_npy_write(bad, d, 150, 2));
    CHECK_FAILS(nm_series_read_input(r, bad, "nA"), NM_EFORMAT, "expected a 1-D array of the input");
    CHECK_FAILS(nm_series_read_input(r, "/nonexistent/u.npy", "nA"), NM_EIO, "/nonexistent/u.npy");
    CHECK(r->u == keep && strcmp(r->u_unit, "uA/cm2") == 0);
    nm_series *none = nm_series_alloc(5, 0);
    CHECK_FAILS(nm_series_write_input(bad, none), NM_EINVAL, "no input");
    nm_series_free(none);
    nm_series_free(r);
    nm_series_free(s);
}

static void test_resample_input(void)
{
    nm_series *s = make_series(103, "nA");
    nm_series *r = NULL;
    CHECK_OK(nm_series_resample(s, 4, &r));
    if (!r) return;
    CHECK(r->n == 25 && r->u != NULL && strcmp(r->u_unit, "nA") == 0);
    double err = 0;
    for (size_t k = 0; r->u && k < r->n; k++) {
        double m = 0;
        for (size_t j = 0; j < 4; j++) m += s->u[4 * k + j];
        err = fmax(err, fabs(r->u[k] - m / 4));
    }
    CHECK(err < 1e-14);
    nm_series_free(r);
    /* without input: none */
    nm_series *w = nm_series_alloc(10, 0);
    CHECK_OK(nm_series_resample(w, 2, &r));
    CHECK(r && r->u == NULL);
    nm_series_free(r);
    nm_series_free(w);
    nm_series_free(s);
}

int main(void)
{
    NM_RUN(test_unit_names);
    NM_RUN(test_csv_round_trip);
    NM_RUN(test_csv_bad_input);
    NM_RUN(test_npy_input);
    NM_RUN(test_resample_input);
    return nm_test_report();
}
