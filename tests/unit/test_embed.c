/* test_embed.c -- normalisation statistics and delay embedding
 * (src/learn/embed.c): rows by hand, series boundaries, bad inputs. */
#include "learn/embed.h"
#include "nm_test.h"

#include <math.h>

/* A float row is the double value rounded once: compare with float rtol. */
#define ROW_RTOL 1e-6

static nm_series *make_series(size_t n, const double *v, double dt, double p)
{
    nm_series *s = nm_series_alloc(n, 0);
    s->dt_ms = dt;
    s->p = p;
    for (size_t i = 0; i < n; i++) s->v[i] = v[i];
    return s;
}

static void test_rows_by_hand(void)
{
    const double v[5] = {1, 2, 3, 4, 5};
    nm_series *s = make_series(5, v, 1, 0);
    const nm_series *list[1] = {s};
    double mean = 0, sd = 0;
    CHECK_OK(nm_embed_stats(list, 1, &mean, &sd));
    CHECK_CLOSE(mean, 3.0, 1e-15, 0);
    CHECK_CLOSE(sd, sqrt(2.0), 1e-15, 0); /* population std of 1..5 */
    nm_embed *e = NULL;
    CHECK_OK(nm_embed_build(list, 1, 3, mean, sd, &e));
    if (e) {
        CHECK(e->rows == 3 && e->de == 3 && e->nseries == 1);
        CHECK(e->start[0] == 0 && e->start[1] == 3);
        /* Row r ends at sample r + De - 1, newest first: [v(i), v(i-1), v(i-2)]. */
        const double want[3][3] = {{3, 2, 1}, {4, 3, 2}, {5, 4, 3}};
        for (size_t r = 0; r < 3; r++)
            for (size_t j = 0; j < 3; j++)
                CHECK_CLOSE(e->x[r * 3 + j], (want[r][j] - 3.0) / sqrt(2.0), ROW_RTOL, 1e-7);
    }
    nm_embed_free(e);
    /* De = 1: every sample is a row; De = n: one row. */
    CHECK_OK(nm_embed_build(list, 1, 1, 0, 1, &e));
    CHECK(e && e->rows == 5 && e->x[4] == 5.0f);
    nm_embed_free(e);
    CHECK_OK(nm_embed_build(list, 1, 5, 0, 1, &e));
    CHECK(e && e->rows == 1 && e->x[0] == 5.0f && e->x[4] == 1.0f);
    nm_embed_free(e);
    nm_series_free(s);
}

static void test_series_boundaries(void)
{
    const double a[3] = {1, 2, 3}, b[4] = {10, 20, 30, 40};
    nm_series *sa = make_series(3, a, 5, -40), *sb = make_series(4, b, 5, -30);
    const nm_series *list[2] = {sa, sb};
    double mean = 0, sd = 0;
    CHECK_OK(nm_embed_stats(list, 2, &mean, &sd));
    /* Over all 7 samples: mean 106/7; population variance by hand. */
    const double m = 106.0 / 7.0;
    double ss = 0;
    for (int i = 0; i < 3; i++) ss += (a[i] - m) * (a[i] - m);
    for (int i = 0; i < 4; i++) ss += (b[i] - m) * (b[i] - m);
    CHECK_CLOSE(mean, m, 1e-15, 0);
    CHECK_CLOSE(sd, sqrt(ss / 7.0), 1e-14, 0);

    nm_embed *e = NULL;
    CHECK_OK(nm_embed_build(list, 2, 2, 0, 1, &e)); /* identity normalisation: raw values */
    if (e) {
        /* 2 rows from the first series, 3 from the second, none across. */
        CHECK(e->rows == 5 && e->start[0] == 0 && e->start[1] == 2 && e->start[2] == 5);
        const float want[5][2] = {{2, 1}, {3, 2}, {20, 10}, {30, 20}, {40, 30}};
        for (size_t r = 0; r < 5; r++)
            for (size_t j = 0; j < 2; j++) CHECK(e->x[r * 2 + j] == want[r][j]);
        size_t first, count;
        nm_embed_series_rows(e, 1, &first, &count);
        CHECK(first == 2 && count == 3);
        /* No row mixes the last sample of one series with the next. */
        for (size_t r = 0; r < e->rows; r++) CHECK(!(e->x[r * 2] == 10.0f && e->x[r * 2 + 1] == 3.0f));
    }
    nm_embed_free(e);
    nm_series_free(sa);
    nm_series_free(sb);
}

static void test_bad_inputs(void)
{
    const double v[4] = {1, 2, 3, 4}, c[4] = {-60, -60, -60, -60};
    nm_series *s = make_series(4, v, 1, 0);
    const nm_series *list[1] = {s};
    nm_embed *e = NULL;
    double mean, sd;
    CHECK_FAILS(nm_embed_build(list, 1, 0, 0, 1, &e), NM_EINVAL, "De must be >= 1");
    CHECK(e == NULL);
    CHECK_FAILS(nm_embed_build(list, 1, 5, 0, 1, &e), NM_EDATA, "fewer than De = 5");
    CHECK(e == NULL);
    CHECK_FAILS(nm_embed_build(list, 1, 2, 0, 0, &e), NM_EINVAL, "normalisation");
    CHECK_FAILS(nm_embed_build(list, 1, 2, NAN, 1, &e), NM_EINVAL, "normalisation");
    CHECK_FAILS(nm_embed_build(list, 0, 2, 0, 1, &e), NM_EINVAL, "no series");
    CHECK_FAILS(nm_embed_stats(list, 0, &mean, &sd), NM_EINVAL, "no series");
    const nm_series *nul[1] = {NULL};
    CHECK_FAILS(nm_embed_stats(nul, 1, &mean, &sd), NM_EINVAL, "NULL");

    s->v[2] = NAN;
    CHECK_FAILS(nm_embed_stats(list, 1, &mean, &sd), NM_EDATA, "V[2] is not finite");
    CHECK_FAILS(nm_embed_build(list, 1, 2, 0, 1, &e), NM_EDATA, "V[2] is not finite");
    s->v[2] = INFINITY;
    CHECK_FAILS(nm_embed_build(list, 1, 2, 0, 1, &e), NM_EDATA, "not finite");
    CHECK(e == NULL);

    nm_series *k = make_series(4, c, 1, 0);
    const nm_series *kl[1] = {k};
    CHECK_FAILS(nm_embed_stats(kl, 1, &mean, &sd), NM_EDATA, "constant");
    nm_series_free(k);

    nm_series *z = nm_series_alloc(0, 0);
    if (z) {
        const nm_series *zl[1] = {z};
        CHECK_FAILS(nm_embed_stats(zl, 1, &mean, &sd), NM_EDATA, "empty");
        nm_series_free(z);
    }
    nm_series_free(s);
}

int main(void)
{
    NM_RUN(test_rows_by_hand);
    NM_RUN(test_series_boundaries);
    NM_RUN(test_bad_inputs);
    return nm_test_report();
}
