/* learned_sweep.c -- sweeps that keep the spikes, for evaluation:
 *
 *   nm_learned_sweep       free runs of a learned map over a p grid;
 *   nm_model_sweep_points  the same for a ground-truth ODE model;
 *   nm_regime_table_read   a recorded sweep (p, regime[, period]) from CSV.
 *
 * Both run on the thread pool of nm_sweep (analysis/pool.h): point i is
 * computed from (model, p[i], options[, seed + i]) alone with the worker's
 * own buffers, so results do not depend on the number of threads, and the
 * first failing point (lowest index) is reported. */
#define _POSIX_C_SOURCE 200809L
#include "analysis/pool.h"
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Map steps per nm_learned_run call: bounds the scratch (CHUNK x D states)
 * whatever the run length (a boundedness check may be 10^5+ steps). */
#define NM_LSWEEP_CHUNK 4096

void nm_sweep_points_clear(nm_sweep_point *points, size_t np)
{
    if (!points) return;
    for (size_t i = 0; i < np; i++) {
        free(points[i].isi);
        free(points[i].v);
        points[i].isi = points[i].v = NULL;
        points[i].nisi = points[i].nv = 0;
    }
}

/* ------------------------------------------------------------------------ */
/* Sweeps of points on the shared pool (analysis/pool.h)                     */
/* ------------------------------------------------------------------------ */

/* A kind of sweep: a per-worker context (own model copy / buffers) and the
 * evaluation of one point with it. */
typedef struct pool_kind {
    void *(*worker_alloc)(const void *shared);  /* NULL + message on failure */
    void (*worker_free)(void *worker);
    nm_status (*point)(void *worker, const void *shared, double p, size_t i, nm_sweep_point *out);
    const char *label;                          /* "learned sweep" */
} pool_kind;

typedef struct points_run {
    const pool_kind *kind;
    const void *shared;
    const double *p;
    nm_sweep_point *points;
} points_run;

static void *points_worker_alloc(const void *run)
{
    const points_run *r = run;
    return r->kind->worker_alloc(r->shared);
}

/* One point: starts empty and bounded, then the kind fills it. */
static nm_status points_item(void *w, const void *run, size_t i)
{
    const points_run *r = run;
    nm_sweep_point *pt = &r->points[i];
    memset(pt, 0, sizeof *pt);
    pt->p = r->p[i];
    pt->bounded = 1;
    return r->kind->point(w, r->shared, r->p[i], i, pt);
}

static nm_status pool_run(const pool_kind *kind, const void *shared, const char *pname, const double *p,
                          size_t np, int nthreads, nm_sweep_point *points)
{
    /* Every point starts empty, so clearing after a failure is always safe. */
    memset(points, 0, np * sizeof *points);
    points_run run = {kind, shared, p, points};
    nm_pool_kind pk = {points_worker_alloc, kind->worker_free, points_item, kind->label};
    nm_status st = nm_pool_run(&pk, &run, pname, p, np, nthreads);
    if (st) nm_sweep_points_clear(points, np);
    return st;
}

/* Spikes of a window -> regime and ISIs of the point. */
static nm_status classify_window(const double *v, size_t n, double dt_ms, double t0_ms, double threshold_mv,
                                 const nm_regime_opts *ro, nm_sweep_point *pt)
{
    double *times = NULL;
    size_t ns = 0;
    /* t0 as nm_sweep uses it, so the rounding of spike times (and hence of
     * periods) is identical. */
    nm_status st = nm_spikes_detect(v, n, dt_ms, t0_ms, threshold_mv, &times, &ns);
    if (st) return st;
    /* The analysed window is (n-1) sampling steps long, as in nm_sweep. */
    st = nm_regime_classify(times, ns, (double)(n - 1) * dt_ms, ro, &pt->regime);
    if (!st && ns >= 2) {
        pt->isi = nm_malloc((ns - 1) * sizeof *pt->isi);
        if (!pt->isi) st = NM_ENOMEM;
        else {
            for (size_t k = 0; k + 1 < ns; k++) pt->isi[k] = times[k + 1] - times[k];
            pt->nisi = ns - 1;
        }
    }
    free(times);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Ground-truth model                                                        */
/* ------------------------------------------------------------------------ */

typedef struct truth_shared {
    const nm_model *model;
    const nm_sim_opts *sim;
    const nm_regime_opts *ro;
    int keep_v;
} truth_shared;

static void *truth_worker_alloc(const void *shared)
{
    return nm_model_clone(((const truth_shared *)shared)->model);
}

static void truth_worker_free(void *w)
{
    nm_model_free(w);
}

static nm_status truth_point(void *w, const void *shared, double p, size_t i, nm_sweep_point *pt)
{
    const truth_shared *s = shared;
    nm_model *m = w;
    nm_status st = nm_model_set_control(m, p);
    if (st) return st;
    nm_sim_opts o = *s->sim;
    o.seed = s->sim->seed + (uint64_t)i; /* the seeds nm_sweep uses */
    nm_series *ser = NULL;
    if ((st = nm_simulate(m, &o, &ser))) return st;
    pt->v_end = ser->v[ser->n - 1];
    st = classify_window(ser->v, ser->n, ser->dt_ms, ser->t0_ms, nm_model_spike_threshold(m), s->ro, pt);
    if (!st && s->keep_v) {
        /* Hand the series' V buffer over instead of copying it. */
        pt->v = ser->v;
        pt->nv = ser->n;
        ser->v = NULL;
    }
    pt->dt_ms = ser->dt_ms;
    nm_series_free(ser);
    return st;
}

static const pool_kind truth_kind = {truth_worker_alloc, truth_worker_free, truth_point, "sweep"};

nm_status nm_model_sweep_points(const nm_model *m, const double *p, size_t np, const nm_sim_opts *sim,
                                const nm_regime_opts *ro, int nthreads, int keep_v, nm_sweep_point *points)
{
    if (!m) return nm_fail(NM_EINVAL, "sweep: model is NULL");
    if (!p || !points) return nm_fail(NM_EINVAL, "sweep: NULL control values or output");
    if (np == 0) return nm_fail(NM_EINVAL, "sweep: no control values");
    if (nthreads < 0) return nm_fail(NM_EINVAL, "sweep: nthreads must be >= 0 (got %d)", nthreads);
    nm_sim_opts defaults;
    if (!sim) {
        nm_sim_opts_default(&defaults);
        sim = &defaults;
    }
    nm_regime_opts rdef;
    if (!ro) {
        nm_regime_opts_default(&rdef);
        ro = &rdef;
    }
    for (size_t i = 0; i < np; i++)
        if (!isfinite(p[i]))
            return nm_fail(NM_EINVAL, "sweep: %s value %zu is not finite (%g)", nm_model_control_name(m), i,
                           p[i]);
    truth_shared s = {m, sim, ro, keep_v};
    return pool_run(&truth_kind, &s, nm_model_control_name(m), p, np, nthreads, points);
}

int nm_regime_match(const nm_regime *t, const nm_regime *l, double period_rel_tol)
{
    if (!t || !l || t->cls != l->cls) return 0;
    if (t->cls != NM_REGIME_PERIODIC) return 1;
    if (t->spikes_per_period != l->spikes_per_period) return 0;
    if (t->period_ms <= 0) return 1;
    return fabs(l->period_ms - t->period_ms) <= period_rel_tol * t->period_ms;
}

/* ------------------------------------------------------------------------ */
/* Recorded sweep (CSV)                                                      */
/* ------------------------------------------------------------------------ */

typedef struct table_row {
    double p;
    nm_regime r;
    size_t line;
} table_row;

static int cmp_row(const void *a, const void *b)
{
    double x = ((const table_row *)a)->p, y = ((const table_row *)b)->p;
    return (x > y) - (x < y);
}

/* Trim spaces, tabs and a trailing CR in place; returns the start. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = '\0';
    return s;
}

/* Split line at commas into at most max fields (pointers into line). */
static size_t split_csv(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *s = line;
    for (;;) {
        char *c = strchr(s, ',');
        if (c) *c = '\0';
        if (n < max) fields[n] = trim(s);
        n++;
        if (!c) break;
        s = c + 1;
    }
    return n;
}

#define NM_TABLE_MAX_COLS 64

static nm_status parse_number(const char *path, size_t line, const char *col, const char *text, double *x)
{
    char *end;
    errno = 0;
    *x = nm_strtod(text, &end);
    if (!*text || *end || errno == ERANGE || !isfinite(*x))
        return nm_fail(NM_EFORMAT, "%s:%zu: column '%s': '%s' is not a finite number", path, line, col, text);
    return NM_OK;
}

nm_status nm_regime_table_read(const char *path, double **p_out, nm_regime **r_out, size_t *n_out)
{
    if (!path || !p_out || !r_out || !n_out) return nm_fail(NM_EINVAL, "regime table: NULL argument");
    *p_out = NULL;
    *r_out = NULL;
    *n_out = 0;
    nm_status ost;
    FILE *f = nm_open_input(path, "r", NM_SERIES_MAX_BYTES, "regime table", &ost);
    if (!f) return ost;
    char *line = NULL;
    size_t cap = 0, lineno = 0, nrows = 0, rcap = 0;
    table_row *rows = NULL;
    long cp = -1, cr = -1, cper = -1;
    int have_header = 0;
    nm_status st = NM_OK;
    char *fields[NM_TABLE_MAX_COLS];
    ssize_t len;
    while ((len = getline(&line, &cap, f)) != -1) {
        lineno++;
        if ((size_t)len != strlen(line)) {
            st = nm_fail(NM_EFORMAT, "%s:%zu: NUL byte in a text file", path, lineno);
            goto done;
        }
        char *t = line;
        if (lineno == 1 && (unsigned char)t[0] == 0xEF && (unsigned char)t[1] == 0xBB &&
            (unsigned char)t[2] == 0xBF)
            t += 3; /* a UTF-8 byte-order mark */
        t = trim(t);
        if (!*t || *t == '#') continue;
        size_t nf = split_csv(t, fields, NM_TABLE_MAX_COLS);
        if (nf > NM_TABLE_MAX_COLS) {
            st = nm_fail(NM_EFORMAT, "%s:%zu: more than %d columns", path, lineno, NM_TABLE_MAX_COLS);
            goto done;
        }
        if (!have_header) {
            for (size_t k = 0; k < nf; k++) {
                if (!strcmp(fields[k], "p") && cp < 0) cp = (long)k;
                else if (!strcmp(fields[k], "regime") && cr < 0) cr = (long)k;
                else if (!strcmp(fields[k], "period_ms") && cper < 0) cper = (long)k;
            }
            if (cp < 0 || cr < 0) {
                st = nm_fail(NM_EFORMAT, "%s:%zu: the header must name the columns 'p' and 'regime' "
                             "(optional 'period_ms'); missing '%s'", path, lineno, cp < 0 ? "p" : "regime");
                goto done;
            }
            have_header = 1;
            continue;
        }
        long need = cp > cr ? cp : cr;
        if (cper > need) need = cper;
        if ((long)nf <= need) {
            st = nm_fail(NM_EFORMAT, "%s:%zu: %zu columns, the header has more (need column %ld)", path, lineno,
                         nf, need + 1);
            goto done;
        }
        if (nrows == rcap) {
            size_t nc = rcap ? 2 * rcap : 128;
            table_row *nr = realloc(rows, nc * sizeof *nr);
            if (!nr) {
                st = nm_fail(NM_ENOMEM, "%s: out of memory", path);
                goto done;
            }
            rows = nr;
            rcap = nc;
        }
        table_row *row = &rows[nrows];
        row->line = lineno;
        if ((st = parse_number(path, lineno, "p", fields[cp], &row->p))) goto done;
        if (!strcmp(fields[cr], "diverged")) {
            st = nm_fail(NM_EDATA, "%s:%zu: regime 'diverged' cannot serve as ground truth", path, lineno);
            goto done;
        }
        if (nm_regime_parse(fields[cr], &row->r)) {
            st = nm_fail(NM_EFORMAT, "%s:%zu: column 'regime': '%s' is not silent, periodic:K or irregular",
                         path, lineno, fields[cr]);
            goto done;
        }
        if (cper >= 0 && *fields[cper]) {
            double per;
            if ((st = parse_number(path, lineno, "period_ms", fields[cper], &per))) goto done;
            if (per < 0) {
                st = nm_fail(NM_EFORMAT, "%s:%zu: column 'period_ms': %g is negative", path, lineno, per);
                goto done;
            }
            if (row->r.cls == NM_REGIME_PERIODIC) row->r.period_ms = per;
        }
        nrows++;
    }
    if (ferror(f)) {
        st = nm_fail(NM_EIO, "reading %s failed", path);
        goto done;
    }
    if (!have_header) {
        st = nm_fail(NM_EFORMAT, "%s: empty (expected a header naming the columns p and regime)", path);
        goto done;
    }
    if (nrows == 0) {
        st = nm_fail(NM_EDATA, "%s: no rows after the header", path);
        goto done;
    }
    qsort(rows, nrows, sizeof *rows, cmp_row);
    for (size_t i = 1; i < nrows; i++)
        if (rows[i].p == rows[i - 1].p) {
            st = nm_fail(NM_EDATA, "%s:%zu: p = %g appears twice (also line %zu)", path, rows[i].line, rows[i].p,
                         rows[i - 1].line);
            goto done;
        }
    *p_out = nm_malloc(nrows * sizeof **p_out);
    *r_out = nm_malloc(nrows * sizeof **r_out);
    if (!*p_out || !*r_out) {
        free(*p_out);
        free(*r_out);
        *p_out = NULL;
        *r_out = NULL;
        st = NM_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < nrows; i++) {
        (*p_out)[i] = rows[i].p;
        (*r_out)[i] = rows[i].r;
    }
    *n_out = nrows;
done:
    free(line);
    free(rows);
    fclose(f);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Learned model                                                             */
/* ------------------------------------------------------------------------ */

void nm_learned_sweep_opts_default(nm_learned_sweep_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    /* The protocol of `neuromap sweep` on the truth, so both sides of a
     * comparison are judged on the same span. */
    o->transient_ms = 20000;
    o->duration_ms = 60000;
    o->bound_steps = 0;
    o->nthreads = 0;
    o->keep_v = 0;
    nm_regime_opts_default(&o->regime);
}

typedef struct learned_shared {
    const nm_learned *m;
    const nm_learned_sweep_opts *o;
    size_t D, ntrans, nwin, ntotal;
    double dt_ms;
} learned_shared;

typedef struct learned_worker {
    double *x;       /* [D] current state */
    double *xbuf;    /* [CHUNK x D] states of one chunk */
    double *vbuf;    /* [CHUNK] V of one chunk outside the window */
    double *win;     /* [nwin] V of the analysed window */
} learned_worker;

static void learned_worker_free(void *wp)
{
    learned_worker *w = wp;
    if (!w) return;
    free(w->x);
    free(w->xbuf);
    free(w->vbuf);
    free(w->win);
    free(w);
}

static void *learned_worker_alloc(const void *shared)
{
    const learned_shared *s = shared;
    learned_worker *w = nm_calloc(1, sizeof *w);
    if (!w) return NULL;
    w->x = nm_malloc(s->D * sizeof *w->x);
    w->xbuf = nm_malloc(NM_LSWEEP_CHUNK * s->D * sizeof *w->xbuf);
    w->vbuf = nm_malloc(NM_LSWEEP_CHUNK * sizeof *w->vbuf);
    w->win = nm_malloc(s->nwin * sizeof *w->win);
    if (!w->x || !w->xbuf || !w->vbuf || !w->win) {
        learned_worker_free(w);
        return NULL;
    }
    return w;
}

/* Run steps [from, to) of the free run, V into v (NULL: scratch).  Returns
 * NM_OK, NM_ENUMERIC on divergence (pt->message, pt->steps_run set) or
 * another failure. */
static nm_status learned_span(const learned_shared *s, learned_worker *w, double p, size_t from, size_t to,
                              double *v, nm_sweep_point *pt)
{
    for (size_t k = from; k < to; k += NM_LSWEEP_CHUNK) {
        size_t c = to - k < NM_LSWEEP_CHUNK ? to - k : NM_LSWEEP_CHUNK;
        nm_status st = nm_learned_run(s->m, p, w->x, c, v ? v + (k - from) : w->vbuf, w->xbuf);
        if (st == NM_ENUMERIC) {
            /* The runtime does not say at which step of the chunk: the chunk
             * start is a lower bound. */
            pt->steps_run = k;
            snprintf(pt->message, sizeof pt->message, "%s", nm_last_error());
            nm_clear_error();
            return st;
        }
        if (st) return st;
        for (size_t q = 0; q < c * s->D; q++) pt->latent_max_abs = fmax(pt->latent_max_abs, fabs(w->xbuf[q]));
        memcpy(w->x, w->xbuf + (c - 1) * s->D, s->D * sizeof *w->x);
        pt->steps_run = k + c;
    }
    return NM_OK;
}

static nm_status learned_point(void *wp, const void *shared, double p, size_t i, nm_sweep_point *pt)
{
    (void)i;
    const learned_shared *s = shared;
    learned_worker *w = wp;
    nm_learned_initial_state(s->m, w->x);
    pt->dt_ms = s->dt_ms;
    nm_status st = learned_span(s, w, p, 0, s->ntrans, NULL, pt);
    if (!st) st = learned_span(s, w, p, s->ntrans, s->ntrans + s->nwin, w->win, pt);
    if (st == NM_ENUMERIC) {
        /* Diverged before the window ended: no regime to report. */
        pt->diverged = 1;
        pt->bounded = 0;
        pt->regime = (nm_regime){.cls = NM_REGIME_SILENT};
        return NM_OK;
    }
    if (st) return st;
    pt->v_end = w->win[s->nwin - 1];
    if ((st = classify_window(w->win, s->nwin, s->dt_ms, (double)(s->ntrans + 1) * s->dt_ms,
                                 nm_learned_threshold_mv(s->m), &s->o->regime, pt)))
        return st;
    if (s->o->keep_v) {
        pt->v = nm_malloc(s->nwin * sizeof *pt->v);
        if (!pt->v) return NM_ENOMEM;
        memcpy(pt->v, w->win, s->nwin * sizeof *pt->v);
        pt->nv = s->nwin;
    }
    /* Keep going, only to see whether the state stays bounded. */
    st = learned_span(s, w, p, s->ntrans + s->nwin, s->ntotal, NULL, pt);
    if (st == NM_ENUMERIC) {
        pt->bounded = 0;
        return NM_OK;
    }
    return st;
}

static const pool_kind learned_kind = {learned_worker_alloc, learned_worker_free, learned_point,
                                       "learned sweep"};

/* Longest run accepted: 10^9 steps is hours per point, surely a typo; the
 * analysed window is kept in memory (8 bytes a step per thread), so it is
 * held to 10^7 steps (80 MB). */
#define NM_LSWEEP_MAX_STEPS 1000000000.0
#define NM_LSWEEP_MAX_WINDOW 10000000.0

nm_status nm_learned_sweep(const nm_learned *m, const double *p, size_t np, const nm_learned_sweep_opts *o,
                           nm_sweep_point *points)
{
    if (!m) return nm_fail(NM_EINVAL, "learned sweep: model is NULL");
    if (!p || !points) return nm_fail(NM_EINVAL, "learned sweep: NULL control values or output");
    if (np == 0) return nm_fail(NM_EINVAL, "learned sweep: no control values");
    nm_learned_sweep_opts def;
    if (!o) {
        nm_learned_sweep_opts_default(&def);
        o = &def;
    }
    if (o->nthreads < 0) return nm_fail(NM_EINVAL, "learned sweep: nthreads must be >= 0 (got %d)", o->nthreads);
    double dt = nm_learned_dt_ms(m);
    if (!(dt > 0) || !isfinite(dt)) return nm_fail(NM_EINVAL, "learned sweep: the model's step is %g ms", dt);
    if (!(o->transient_ms >= 0) || !isfinite(o->transient_ms))
        return nm_fail(NM_EINVAL, "learned sweep: transient must be >= 0 ms (got %g)", o->transient_ms);
    if (!(o->duration_ms > 0) || !isfinite(o->duration_ms))
        return nm_fail(NM_EINVAL, "learned sweep: duration must be > 0 ms (got %g)", o->duration_ms);
    double ntr = round(o->transient_ms / dt), nwi = round(o->duration_ms / dt);
    if (nwi < 2)
        return nm_fail(NM_EINVAL, "learned sweep: a window of %g ms is less than 2 map steps of %g ms",
                       o->duration_ms, dt);
    if (nwi > NM_LSWEEP_MAX_WINDOW)
        return nm_fail(NM_EINVAL, "learned sweep: a window of %g ms is more than %.0f map steps of %g ms",
                       o->duration_ms, NM_LSWEEP_MAX_WINDOW, dt);
    if (ntr + nwi > NM_LSWEEP_MAX_STEPS || (double)o->bound_steps > NM_LSWEEP_MAX_STEPS)
        return nm_fail(NM_EINVAL, "learned sweep: more than %.0f map steps per point", NM_LSWEEP_MAX_STEPS);
    for (size_t i = 0; i < np; i++)
        if (!isfinite(p[i])) return nm_fail(NM_EINVAL, "learned sweep: p value %zu is not finite (%g)", i, p[i]);
    learned_shared s = {.m = m, .o = o, .D = nm_learned_dim(m), .ntrans = (size_t)ntr, .nwin = (size_t)nwi,
                        .dt_ms = dt};
    if (s.D == 0) return nm_fail(NM_EINVAL, "learned sweep: the model has no latent state");
    s.ntotal = s.ntrans + s.nwin;
    if (o->bound_steps > s.ntotal) s.ntotal = o->bound_steps;
    return pool_run(&learned_kind, &s, "p", p, np, o->nthreads, points);
}
