/* test_learned_batch.c -- batched stepping (issue 12): nm_learned_step_batch
 * and nm_plugin_step_batch against the unbatched step (nm_learned_step_u +
 * nm_learned_decode_v, nm_plugin_step_u), BIT FOR BIT, for every cell of a
 * batch over a run of steps: per-cell p and u, batch sizes that are not a
 * multiple of the tile, in place and not, one-member and ensemble maps,
 * widths that are not multiples of 8 (the tails of the dot products), a
 * model with an input channel (clamped u) and one without; failures (p or u
 * not finite, a diverging cell) stop only their cell, whose state stays.
 *
 * Tiny models are trained here (what they learn does not matter). */
#define _POSIX_C_SOURCE 200809L
#include "neuromap.h"
#include "nm_test.h"
#include "nm_test_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCELLS 37
#define NSTEPS 150

static void small_opts(nm_learn_opts *o, uint64_t seed, size_t h0, size_t h1, size_t members)
{
    nm_test_fast_opts(o, seed);
    o->map_hidden[0] = h0;
    o->map_hidden[1] = h1;
    o->map_ensemble = members;
}

static double urand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (double)((*s >> 8) & 0xffffff) / 16777216.0;
}

/* A run of NSTEPS batched steps of NCELLS cells against each cell stepped
 * alone: same states and V bit for bit; same failures. */
static void check_model(const nm_learned *m, const char *what, int in_place)
{
    size_t D = nm_learned_dim(m);
    double pmin, pmax, umin, umax;
    nm_learned_p_range(m, &pmin, &pmax);
    nm_learned_input_range(m, &umin, &umax);
    int has = nm_learned_has_input(m);
    double *xb = calloc(NCELLS * D, sizeof *xb), *xn = calloc(NCELLS * D, sizeof *xn);
    double *xa = calloc(NCELLS * D, sizeof *xa);
    double p[NCELLS], u[NCELLS], vb[NCELLS];
    int st[NCELLS], alive[NCELLS];
    unsigned seed = 7;
    nm_learned_batch *b = nm_learned_batch_alloc(m);
    CHECK(b != NULL && nm_learned_batch_fits(b, m));
    for (size_t k = 0; k < NCELLS; k++) {
        nm_learned_initial_state(m, xb + k * D);
        /* spread over the training range; two cells start far outside the
         * bounded region (they "diverge" at their first step) */
        p[k] = pmin + (pmax - pmin) * (double)k / (NCELLS - 1);
        if (k == 5 || k == 30)
            for (size_t j = 0; j < D; j++) xb[k * D + j] += 1e4;
        alive[k] = 1;
    }
    memcpy(xa, xb, NCELLS * D * sizeof *xa);
    size_t ndiv = 0, nsteps_ok = 0;
    for (int n = 0; n < NSTEPS; n++) {
        for (size_t k = 0; k < NCELLS; k++) u[k] = umin + (umax - umin) * (1.4 * urand(&seed) - 0.2);
        /* p changes per step for some cells (p is per cell and per step) */
        for (size_t k = 0; k < NCELLS; k += 7)
            if (alive[k]) p[k] = pmin + (pmax - pmin) * urand(&seed);
        const double *uu = has ? u : NULL;
        nm_status sb;
        if (in_place) {
            sb = nm_learned_step_batch(m, b, NCELLS, p, uu, xb, xb, vb, st);
        } else {
            sb = nm_learned_step_batch(m, b, NCELLS, p, uu, xb, xn, vb, st);
        }
        int any_fail = 0;
        for (size_t k = 0; k < NCELLS; k++) {
            double x1[NM_PLUGIN_MAX_DIM];
            nm_status s1 = nm_learned_step_u(m, p[k], has ? u[k] : 0, xa + k * D, x1);
            CHECK(s1 == (nm_status)st[k]);
            const double *got = in_place ? xb + k * D : xn + k * D;
            if (s1 == NM_OK) {
                double v1 = nm_learned_decode_v(m, x1);
                if (memcmp(got, x1, D * sizeof *x1) != 0 || memcmp(&v1, &vb[k], sizeof v1) != 0) {
                    fprintf(stderr, "FAIL: %s: cell %zu step %d: batched x/V differ from the unbatched step "
                            "(V %.17g vs %.17g)\n", what, k, n, vb[k], v1);
                    nm_test_failures++;
                }
                memcpy(xa + k * D, x1, D * sizeof *x1);
                nsteps_ok++;
            } else {
                /* the cell's state is left as it was; V NaN */
                CHECK(memcmp(got, xa + k * D, D * sizeof *x1) == 0);
                CHECK(isnan(vb[k]));
                if (alive[k]) ndiv++;
                alive[k] = 0;
                any_fail = 1;
            }
        }
        CHECK((sb != NM_OK) == any_fail);
        if (!in_place) memcpy(xb, xn, NCELLS * D * sizeof *xb);
        /* halfway, the failed cells restart from the start state (a dead
         * cell fails again at every step meanwhile: status checked above) */
        for (size_t k = 0; k < NCELLS; k++)
            if (!alive[k] && n == NSTEPS / 2) {
                nm_learned_initial_state(m, xb + k * D);
                memcpy(xa + k * D, xb + k * D, D * sizeof *xa);
                p[k] = 0.5 * (pmin + pmax);
                alive[k] = 1;
            }
    }
    /* the two far-out cells failed */
    CHECK(ndiv >= 2);
    CHECK(nsteps_ok > NCELLS * NSTEPS / 2);
    nm_learned_batch_free(b);
    free(xb);
    free(xn);
    free(xa);
}

/* Non-finite p and u stop only their cell; NULL arguments; n = 0. */
static void check_errors(const nm_learned *m)
{
    size_t D = nm_learned_dim(m);
    double x[3 * NM_PLUGIN_MAX_DIM], x0[3 * NM_PLUGIN_MAX_DIM], p[3], u[3] = {0, 0, 0}, v[3];
    int st[3];
    nm_learned_batch *b = nm_learned_batch_alloc(m);
    for (int k = 0; k < 3; k++) {
        nm_learned_initial_state(m, x + k * D);
        p[k] = nm_learned_p_default(m);
    }
    memcpy(x0, x, sizeof x);
    p[1] = NAN;
    CHECK_FAILS(nm_learned_step_batch(m, b, 3, p, u, x, x, v, st), NM_EINVAL, "cell 1: p is not finite");
    CHECK(st[0] == NM_OK && st[1] == NM_EINVAL && st[2] == NM_OK && isnan(v[1]));
    CHECK(memcmp(x + D, x0 + D, D * sizeof *x) == 0);
    p[1] = p[0];
    u[2] = INFINITY;
    CHECK_FAILS(nm_learned_step_batch(m, b, 3, p, u, x, x, v, NULL), NM_EINVAL, "cell 2: the input u");
    CHECK_FAILS(nm_learned_step_batch(m, b, 3, NULL, u, x, x, v, st), NM_EINVAL, "NULL");
    CHECK_FAILS(nm_learned_step_batch(m, NULL, 3, p, u, x, x, v, st), NM_EINVAL, "NULL");
    CHECK_OK(nm_learned_step_batch(m, b, 0, NULL, NULL, NULL, NULL, NULL, NULL));
    nm_learned_batch_free(b);
    nm_learned_batch_free(NULL);
    CHECK(nm_learned_batch_alloc(NULL) == NULL);
}

/* The plugin's batch against nm_plugin_step_u, bit for bit, with clamping
 * and the workspace allocated and grown on demand. */
static void check_plugin(const char *path, const char *what)
{
    int h = 0;
    CHECK_OK(nm_plugin_acquire(path, &h));
    int dim = 0;
    CHECK_OK(nm_plugin_info(h, &dim, NULL, NULL));
    size_t D = (size_t)dim;
    double pd, umin, umax;
    nm_plugin_p_info(h, &pd, NULL, NULL);
    int has = 0;
    nm_plugin_input_info(h, &has, &umin, &umax, NULL, 0);
    void *ws = NULL;
    for (size_t n = 1; n <= 40; n += 13) {
        double *xb = calloc(n * D, sizeof *xb), *xa = calloc(n * D, sizeof *xa);
        double *p = calloc(n, sizeof *p), *u = calloc(n, sizeof *u), *v = calloc(n, sizeof *v);
        double *uu = calloc(n, sizeof *uu);
        int *st = calloc(n, sizeof *st), *cl = calloc(n, sizeof *cl);
        unsigned seed = (unsigned)n;
        for (size_t k = 0; k < n; k++) {
            CHECK_OK(nm_plugin_init(h, xb + k * D, NULL));
            p[k] = pd;
        }
        memcpy(xa, xb, n * D * sizeof *xa);
        long nclamped = 0;
        for (int s = 0; s < 60; s++) {
            for (size_t k = 0; k < n; k++) u[k] = umin + (umax - umin) * (1.6 * urand(&seed) - 0.3);
            CHECK_OK(nm_plugin_step_batch(h, &ws, n, p, u, xb, v, uu, cl, st));
            for (size_t k = 0; k < n; k++) {
                double v1, u1;
                int c1;
                CHECK_OK(nm_plugin_step_u(h, p[k], u[k], xa + k * D, &v1, &u1, &c1));
                if (memcmp(xa + k * D, xb + k * D, D * sizeof *xa) || memcmp(&v1, &v[k], sizeof v1) ||
                    memcmp(&u1, &uu[k], sizeof u1) || c1 != cl[k] || st[k] != NM_OK) {
                    fprintf(stderr, "FAIL: %s plugin batch, n %zu, cell %zu, step %d differs\n", what, n, k, s);
                    nm_test_failures++;
                }
                nclamped += cl[k];
            }
        }
        CHECK(!has || nclamped > 0);
        free(xb); free(xa); free(p); free(u); free(v); free(uu); free(st); free(cl);
    }
    CHECK_FAILS(nm_plugin_step_batch(h + 1, &ws, 1, &pd, NULL, (double[NM_PLUGIN_MAX_DIM]){0},
                                     (double[1]){0}, NULL, NULL, (int[1]){0}), NM_EINVAL, "not the handle");
    nm_plugin_batch_free(ws);
    nm_plugin_batch_free(NULL);
    CHECK_OK(nm_plugin_release(h));
}

int main(void)
{
    nm_learn_opts o;
    small_opts(&o, 11, 20, 13, 3);   /* ensemble of 3, widths 20 and 13: tails */
    nm_learned *ens = nm_test_tiny_model(20000, &o);
    small_opts(&o, 12, 16, 16, 1);   /* one member */
    nm_learned *one = nm_test_tiny_model(20000, &o);
    small_opts(&o, 3, 24, 16, 3);
    nm_learned *inp = nm_test_input_model(&o);
    CHECK(ens && one && inp);
    if (!ens || !one || !inp) return nm_test_report();
    CHECK(!nm_learned_has_input(ens) && nm_learned_has_input(inp));

    check_model(ens, "ensemble", 0);
    check_model(ens, "ensemble in place", 1);
    check_model(one, "one member", 0);
    check_model(inp, "input model", 1);
    check_errors(inp);

    /* a workspace made for the narrow model does not fit a wider one */
    nm_learned_batch *b = nm_learned_batch_alloc(one);
    CHECK(nm_learned_batch_fits(b, one));
    CHECK(nm_learned_batch_fits(b, inp) == 0);
    double x[NM_PLUGIN_MAX_DIM], pp = 0, v;
    nm_learned_initial_state(inp, x);
    CHECK_FAILS(nm_learned_step_batch(inp, b, 1, &pp, &pp, x, x, &v, NULL), NM_EINVAL, "smaller model");
    nm_learned_batch_free(b);

    char ens_path[512], inp_path[512];
    nm_test_path(ens_path, sizeof ens_path, "batch_ens.nmap");
    nm_test_path(inp_path, sizeof inp_path, "batch_inp.nmap");
    CHECK_OK(nm_learned_save(ens, ens_path));
    CHECK_OK(nm_learned_save(inp, inp_path));
    check_plugin(ens_path, "ensemble");
    check_plugin(inp_path, "input model");

    nm_learned_free(ens);
    nm_learned_free(one);
    nm_learned_free(inp);
    return nm_test_report();
}
