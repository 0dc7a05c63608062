/* series_io.c -- reading and writing voltage series as CSV or .npy. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sampling is "uniform" when every step is within this relative deviation of
 * the mean step: generous enough for times printed with 6+ significant
 * digits, strict enough to catch a dropped or duplicated sample. */
#define NM_UNIFORM_RTOL 1e-3

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Split a CSV line in place at commas (or runs of blanks/semicolons/tabs);
 * returns the number of fields, at most maxf. */
static int split_fields(char *line, char **fields, int maxf)
{
    int nf = 0;
    char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        if (nf == maxf) return maxf + 1;
        fields[nf++] = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') p++;
        char *end = p;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == ',' || *p == ';') p++;
        *end = '\0';
    }
    return nf;
}

/* Units of the input column: spellings accepted in a header `I_<unit>` or
 * by nm_series_read_input, and the canonical name stored in u_unit. */
static const struct { const char *spelling, *canonical; } input_units[] = {
    {"pA", "pA"},         {"nA", "nA"},         {"uA", "uA"},         {"uA/cm2", "uA/cm2"},
    {"uA_cm2", "uA/cm2"}, {"mA/cm2", "mA/cm2"}, {"mA_cm2", "mA/cm2"}, {"1", "1"},
};
#define INPUT_UNITS_KNOWN "I_pA, I_nA, I_uA, I_uA_cm2 (or I_uA/cm2), I_mA_cm2 (or I_mA/cm2), I_1"

const char *nm_input_unit_canonical(const char *unit)
{
    if (!unit) return NULL;
    for (size_t i = 0; i < sizeof input_units / sizeof input_units[0]; i++)
        if (strcmp(unit, input_units[i].spelling) == 0) return input_units[i].canonical;
    return NULL;
}

/* Parse a whole field as a double; 0 on success, 1 if not a number. */
static int parse_number(const char *s, double *x)
{
    char *end;
    errno = 0;
    *x = nm_strtod(s, &end);
    if (end == s) return 1;
    while (isspace((unsigned char)*end)) end++;
    return *end != '\0' || errno == ERANGE ? 1 : 0;
}

static nm_status read_csv(const char *path, double dt_ms, double **t_out, double **v_out,
                          double **u_out, char *u_unit, size_t *n_out, int *has_time)
{
    nm_status ost;
    FILE *f = nm_open_input(path, "r", NM_SERIES_MAX_BYTES, "series file", &ost);
    if (!f) return ost;
    enum { MAXF = 64 };
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    size_t lineno = 0, n = 0, cap = 0;
    double *t = NULL, *v = NULL, *u = NULL;
    int ncols = 0;      /* columns of the data rows, fixed by the first row */
    int vcol = 0, tcol = -1, icol = -1;
    char icol_name[64] = "";
    int header_seen = 0;
    nm_status st = NM_OK;
    (void)dt_ms;

    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            st = nm_fail(NM_EFORMAT, "%s:%zu: NUL byte in a text file", path, lineno);
            goto fail;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        char *s = line;
        if (lineno == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
            (unsigned char)s[2] == 0xBF)
            s += 3; /* a UTF-8 byte-order mark */
        while (isspace((unsigned char)*s)) s++;
        if (*s == '\0' || *s == '#') continue;
        char *fields[MAXF];
        int nf = split_fields(s, fields, MAXF);
        if (nf > MAXF) {
            st = nm_fail(NM_EFORMAT, "%s:%zu: too many columns", path, lineno);
            goto fail;
        }
        double x0;
        if (!header_seen && n == 0 && parse_number(fields[0], &x0) != 0) {
            /* A header line.  One column: V.  Two: t,V.  More: only if the
             * header names a time column and a voltage column first. */
            header_seen = 1;
            if (nf == 1) {
                ncols = 1;
            } else if (nf == 2) {
                ncols = 2;
                tcol = 0;
                vcol = 1;
            } else {
                if (tolower((unsigned char)fields[0][0]) != 't' ||
                    tolower((unsigned char)fields[1][0]) != 'v') {
                    st = nm_fail(NM_EFORMAT,
                                 "%s:%zu: %d columns; expected V, or t_ms,V_mV (extra columns only after a "
                                 "header that starts t...,V...)", path, lineno, nf);
                    goto fail;
                }
                ncols = nf;
                tcol = 0;
                vcol = 1;
                /* The injected input: a third column I_<unit>. */
                if (fields[2][0] == 'I' && (fields[2][1] == '_' || fields[2][1] == '\0')) {
                    const char *unit = nm_input_unit_canonical(fields[2][1] ? fields[2] + 2 : "");
                    if (!unit) {
                        st = nm_fail(NM_EFORMAT,
                                     "%s:%zu: input column '%s': unknown or missing unit (known: %s)", path,
                                     lineno, fields[2], INPUT_UNITS_KNOWN);
                        goto fail;
                    }
                    icol = 2;
                    snprintf(icol_name, sizeof icol_name, "%s", fields[2]);
                    snprintf(u_unit, 16, "%s", unit);
                }
            }
            continue;
        }
        if (ncols == 0) {
            if (nf > 2) {
                st = nm_fail(NM_EFORMAT,
                             "%s:%zu: %d columns; expected V, or t_ms,V_mV (an input column needs the header "
                             "t_ms,V_mV,I_<unit>)", path, lineno, nf);
                goto fail;
            }
            ncols = nf;
            if (nf == 2) {
                tcol = 0;
                vcol = 1;
            }
        }
        if (nf != ncols) {
            if (icol >= 0 && nf <= icol)
                st = nm_fail(NM_EFORMAT, "%s:%zu: %d columns, expected %d: the input value (%s) is missing", path,
                             lineno, nf, ncols, icol_name);
            else
                st = nm_fail(NM_EFORMAT, "%s:%zu: %d columns, expected %d like the rows before", path, lineno, nf,
                             ncols);
            goto fail;
        }
        for (int k = 0; k < nf; k++)
            if (fields[k][0] == '\0') {
                st = nm_fail(NM_EFORMAT, "%s:%zu: column %d is empty%s%s", path, lineno, k + 1,
                             k == icol ? ": the input value is missing for " : "", k == icol ? icol_name : "");
                goto fail;
            }
        double tv = 0, vv;
        if (parse_number(fields[vcol], &vv) != 0) {
            st = nm_fail(NM_EFORMAT, "%s:%zu: '%s' is not a number", path, lineno, fields[vcol]);
            goto fail;
        }
        if (tcol >= 0 && parse_number(fields[tcol], &tv) != 0) {
            st = nm_fail(NM_EFORMAT, "%s:%zu: '%s' is not a number", path, lineno, fields[tcol]);
            goto fail;
        }
        if (!isfinite(vv) || !isfinite(tv)) {
            st = nm_fail(NM_EDATA, "%s:%zu: value is NaN or infinite", path, lineno);
            goto fail;
        }
        if (fabs(vv) > NM_SERIES_MAX_ABS_MV) {
            st = nm_fail(NM_EDATA, "%s:%zu: V = %g mV is outside the plausible range +-%g mV", path, lineno, vv,
                         NM_SERIES_MAX_ABS_MV);
            goto fail;
        }
        if (fabs(tv) > NM_SERIES_MAX_ABS_MS) {
            st = nm_fail(NM_EDATA, "%s:%zu: t = %g ms is outside the plausible range +-%g ms", path, lineno, tv,
                         NM_SERIES_MAX_ABS_MS);
            goto fail;
        }
        double iv = 0;
        if (icol >= 0) {
            if (parse_number(fields[icol], &iv) != 0) {
                st = nm_fail(NM_EFORMAT, "%s:%zu: input %s '%s' is not a number", path, lineno, icol_name,
                             fields[icol]);
                goto fail;
            }
            if (!isfinite(iv)) {
                st = nm_fail(NM_EDATA, "%s:%zu: input %s is NaN or infinite", path, lineno, icol_name);
                goto fail;
            }
            if (fabs(iv) > NM_SERIES_MAX_ABS_INPUT) {
                st = nm_fail(NM_EDATA, "%s:%zu: input %s = %g is outside the plausible range +-%g %s", path,
                             lineno, icol_name, iv, NM_SERIES_MAX_ABS_INPUT, u_unit);
                goto fail;
            }
        }
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 4096;
            double *nt = realloc(t, ncap * sizeof *nt);
            if (!nt) goto oom;
            t = nt;
            double *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) goto oom;
            v = nv;
            if (icol >= 0) {
                double *nu = realloc(u, ncap * sizeof *nu);
                if (!nu) goto oom;
                u = nu;
            }
            cap = ncap;
        }
        t[n] = tv;
        v[n] = vv;
        if (u) u[n] = iv;
        n++;
        /* Uneven sampling is reported at the line where it happens. */
        if (tcol >= 0 && n >= 3) {
            double step0 = t[1] - t[0], step = t[n - 1] - t[n - 2];
            if (!(step0 > 0)) {
                st = nm_fail(NM_EDATA, "%s: time does not increase between the first two samples", path);
                goto fail;
            }
            if (fabs(step - step0) > NM_UNIFORM_RTOL * step0) {
                st = nm_fail(NM_EDATA, "%s:%zu: uneven sampling: step %g ms, expected %g ms", path, lineno,
                             step, step0);
                goto fail;
            }
        }
    }
    if (ferror(f)) {
        st = nm_fail(NM_EIO, "%s: read error", path);
        goto fail;
    }
    free(line);
    fclose(f);
    *t_out = t;
    *v_out = v;
    *u_out = u;
    *n_out = n;
    *has_time = tcol >= 0;
    return NM_OK;
oom:
    st = nm_fail(NM_ENOMEM, "%s: out of memory after %zu samples", path, n);
fail:
    free(line);
    free(t);
    free(v);
    free(u);
    u_unit[0] = '\0';
    fclose(f);
    return st;
}

nm_status nm_series_read(const char *path, double dt_ms, double p, size_t min_samples, nm_series **out)
{
    if (!out) return nm_fail(NM_EINVAL, "series read: NULL output");
    *out = NULL;
    if (!path || !*path) return nm_fail(NM_EINVAL, "series read: empty file name");
    if (!isfinite(p)) return nm_fail(NM_EINVAL, "%s: control value p is not finite", path);
    if (dt_ms < 0 || !isfinite(dt_ms))
        return nm_fail(NM_EINVAL, "%s: sampling step must be > 0 ms (got %g)", path, dt_ms);
    if (min_samples < 2) min_samples = 2;

    double *t = NULL, *v = NULL, *u = NULL;
    char u_unit[16] = "";
    size_t n = 0;
    int has_time = 0;
    double t0 = 0.0, step = dt_ms;
    nm_status st;
    if (ends_with(path, ".npy")) {
        size_t rows, cols;
        st = nm_npy_read(path, &v, &rows, &cols);
        if (st) return st;
        if (cols != 1) {
            free(v);
            return nm_fail(NM_EFORMAT, "%s: expected a 1-D array of V, got shape %zu x %zu", path, rows, cols);
        }
        n = rows;
        for (size_t i = 0; i < n; i++)
            if (!isfinite(v[i])) {
                free(v);
                return nm_fail(NM_EDATA, "%s: element %zu is NaN or infinite", path, i);
            } else if (fabs(v[i]) > NM_SERIES_MAX_ABS_MV) {
                double x = v[i];
                free(v);
                return nm_fail(NM_EDATA, "%s: element %zu: V = %g mV is outside the plausible range +-%g mV",
                               path, i, x, NM_SERIES_MAX_ABS_MV);
            }
        if (!(dt_ms > 0)) {
            free(v);
            return nm_fail(NM_EINVAL, "%s: a .npy series carries no time: give its sampling step (--dt)", path);
        }
    } else {
        st = read_csv(path, dt_ms, &t, &v, &u, u_unit, &n, &has_time);
        if (st) return st;
        if (n == 0) {
            free(t);
            free(v);
            free(u);
            return nm_fail(NM_EDATA, "%s: no samples", path);
        }
        if (has_time && n >= 2) {
            double mean_step = (t[n - 1] - t[0]) / (double)(n - 1);
            t0 = t[0];
            if (dt_ms > 0 && fabs(mean_step - dt_ms) > NM_UNIFORM_RTOL * dt_ms) {
                free(t);
                free(v);
                free(u);
                return nm_fail(NM_EDATA, "%s: time column has step %g ms but %g ms was given", path, mean_step,
                               dt_ms);
            }
            step = mean_step;
        } else if (!has_time && !(dt_ms > 0)) {
            free(t);
            free(v);
            free(u);
            return nm_fail(NM_EINVAL, "%s: one-column CSV carries no time: give its sampling step (--dt)", path);
        }
    }
    free(t);
    if (n == 0) {
        free(v);
        free(u);
        return nm_fail(NM_EDATA, "%s: no samples", path);
    }
    if (n < min_samples) {
        free(v);
        free(u);
        return nm_fail(NM_EDATA, "%s: only %zu samples, need at least %zu", path, n, min_samples);
    }
    nm_series *s = nm_calloc(1, sizeof *s);
    if (!s) {
        free(v);
        free(u);
        return NM_ENOMEM;
    }
    s->n = n;
    s->v = v;
    s->u = u;
    if (u) memcpy(s->u_unit, u_unit, sizeof s->u_unit);
    s->dt_ms = step;
    s->t0_ms = t0;
    s->p = p;
    *out = s;
    return NM_OK;
}

nm_status nm_series_write(const char *path, const nm_series *s, int with_states,
                          const char *const *state_names)
{
    if (!path || !*path) return nm_fail(NM_EINVAL, "series write: empty file name");
    if (!s || (!s->v && s->n)) return nm_fail(NM_EINVAL, "series write: NULL series");
    if (ends_with(path, ".npy")) {
        if (with_states && s->nstates && s->states) {
            /* Columns: V then every state, row-major [n x (1 + nstates)]. */
            size_t c = 1 + s->nstates;
            double *buf = nm_malloc(s->n * c * sizeof *buf);
            if (!buf) return NM_ENOMEM;
            for (size_t i = 0; i < s->n; i++) {
                buf[i * c] = s->v[i];
                memcpy(buf + i * c + 1, s->states + i * s->nstates, s->nstates * sizeof *buf);
            }
            nm_status st = nm_npy_write(path, buf, s->n, c);
            free(buf);
            return st;
        }
        return nm_npy_write(path, s->v, s->n, 1);
    }
    char ucol[32] = "";
    if (s->u) {
        const char *unit = nm_input_unit_canonical(s->u_unit);
        if (!unit)
            return nm_fail(NM_EINVAL, "%s: the series' input unit '%s' is not one of %s", path, s->u_unit,
                           INPUT_UNITS_KNOWN);
        snprintf(ucol, sizeof ucol, ",I_%s", unit);
        for (char *c = ucol; *c; c++)
            if (*c == '/') *c = '_'; /* I_uA_cm2: a column name without a slash */
    }
    char tmp[4096];
    FILE *f = nm_atomic_open(path, tmp, sizeof tmp);
    if (!f) return NM_EIO;
    int states = with_states && s->nstates && s->states;
    fputs("t_ms,V_mV", f);
    fputs(ucol, f);
    if (states)
        for (size_t j = 0; j < s->nstates; j++) {
            if (state_names && state_names[j]) fprintf(f, ",%s", state_names[j]);
            else fprintf(f, ",state%zu", j);
        }
    fputc('\n', f);
    for (size_t i = 0; i < s->n; i++) {
        fprintf(f, "%.10g,%.10g", s->t0_ms + (double)i * s->dt_ms, s->v[i]);
        if (s->u) fprintf(f, ",%.10g", s->u[i]);
        if (states)
            for (size_t j = 0; j < s->nstates; j++) fprintf(f, ",%.10g", s->states[i * s->nstates + j]);
        fputc('\n', f);
    }
    return nm_atomic_commit(f, tmp, path);
}

nm_status nm_series_read_input(nm_series *s, const char *npy_path, const char *unit)
{
    if (!s) return nm_fail(NM_EINVAL, "series input: NULL series");
    if (!npy_path || !*npy_path) return nm_fail(NM_EINVAL, "series input: empty file name");
    const char *canon = nm_input_unit_canonical(unit);
    if (!canon)
        return nm_fail(NM_EINVAL, "%s: unknown input unit '%s' (known: %s)", npy_path, unit ? unit : "(null)",
                       "pA, nA, uA, uA/cm2 (or uA_cm2), mA/cm2 (or mA_cm2), 1");
    double *u = NULL;
    size_t rows = 0, cols = 0;
    nm_status st = nm_npy_read(npy_path, &u, &rows, &cols);
    if (st) return st;
    if (cols != 1) {
        free(u);
        return nm_fail(NM_EFORMAT, "%s: expected a 1-D array of the input, got shape %zu x %zu", npy_path, rows,
                       cols);
    }
    if (rows != s->n) {
        free(u);
        return nm_fail(NM_EDATA, "%s: %zu input values, but the series has %zu samples", npy_path, rows, s->n);
    }
    for (size_t i = 0; i < rows; i++) {
        if (!isfinite(u[i])) {
            free(u);
            return nm_fail(NM_EDATA, "%s: element %zu of the input is NaN or infinite", npy_path, i);
        }
        if (fabs(u[i]) > NM_SERIES_MAX_ABS_INPUT) {
            double x = u[i];
            free(u);
            return nm_fail(NM_EDATA, "%s: element %zu: input %g %s is outside the plausible range +-%g %s",
                           npy_path, i, x, canon, NM_SERIES_MAX_ABS_INPUT, canon);
        }
    }
    free(s->u);
    s->u = u;
    snprintf(s->u_unit, sizeof s->u_unit, "%s", canon);
    return NM_OK;
}

nm_status nm_series_write_input(const char *npy_path, const nm_series *s)
{
    if (!npy_path || !*npy_path) return nm_fail(NM_EINVAL, "series input write: empty file name");
    if (!s || !s->u) return nm_fail(NM_EINVAL, "%s: the series has no input to write", npy_path);
    return nm_npy_write(npy_path, s->u, s->n, 1);
}
