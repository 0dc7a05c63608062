/* test_coincidence.c -- the spike coincidence factor Gamma (Kistler et al.
 * 1997) against values computed by hand, its chance level, and bad inputs. */
#include "internal.h"
#include "nm_test.h"
#include "rng.h"

#include <stdlib.h>

static void test_hand_values(void)
{
    nm_coincidence c;
    const double a[4] = {100, 200, 300, 400};
    /* Identical trains: 1. */
    CHECK_OK(nm_coincidence_factor(a, 4, a, 4, 2, 1000, &c));
    CHECK_CLOSE(c.gamma, 1.0, 1e-12, 0);
    CHECK(c.n_coinc == 4);
    /* Two of four model spikes within 2 ms, two 5 ms off; by hand:
     * nu = 4/1000 per ms, <Nc> = 2 * 0.004 * 2 * 4 = 0.064,
     * Gamma = (2 - 0.064) / 4 / (1 - 0.016) = 0.491870... */
    const double b[4] = {101.5, 198.0, 305, 395};
    CHECK_OK(nm_coincidence_factor(a, 4, b, 4, 2, 1000, &c));
    CHECK(c.n_coinc == 2);
    CHECK_CLOSE(c.gamma, (2 - 0.064) / 4.0 / (1 - 0.016), 1e-12, 0);
    /* A model spike is used once: two data spikes 1 ms apart, one model spike. */
    const double d2[2] = {500, 501}, m1[1] = {500.5};
    CHECK_OK(nm_coincidence_factor(d2, 2, m1, 1, 2, 1000, &c));
    CHECK(c.n_coinc == 1);
    /* Silence against silence: 1; spikes against silence: 0. */
    CHECK_OK(nm_coincidence_factor(NULL, 0, NULL, 0, 2, 1000, &c));
    CHECK(c.gamma == 1.0);
    CHECK_OK(nm_coincidence_factor(a, 4, NULL, 0, 2, 1000, &c));
    CHECK(c.gamma == 0.0);
    CHECK_OK(nm_coincidence_factor(NULL, 0, a, 4, 2, 1000, &c));
    CHECK(c.gamma == 0.0);
}

/* A Poisson train independent of the data scores 0 on average (the
 * normalisation's point): mean over 400 trials within 3 standard errors. */
static void test_chance_level(void)
{
    nm_rng rng;
    nm_rng_seed(&rng, 5);
    enum { N = 200 };
    double data[N], model[N];
    const double T = 20000; /* ms; 10 Hz */
    double sum = 0, sq = 0;
    const int trials = 400;
    for (int k = 0; k < trials; k++) {
        for (int i = 0; i < N; i++) data[i] = T * nm_rng_uniform(&rng);
        for (int i = 0; i < N; i++) model[i] = T * nm_rng_uniform(&rng);
        /* sort both (insertion sort; N is small) */
        for (int i = 1; i < N; i++)
            for (int j = i; j > 0 && data[j] < data[j - 1]; j--) {
                double t = data[j]; data[j] = data[j - 1]; data[j - 1] = t;
            }
        for (int i = 1; i < N; i++)
            for (int j = i; j > 0 && model[j] < model[j - 1]; j--) {
                double t = model[j]; model[j] = model[j - 1]; model[j - 1] = t;
            }
        nm_coincidence c;
        CHECK_OK(nm_coincidence_factor(data, N, model, N, 2, T, &c));
        sum += c.gamma;
        sq += c.gamma * c.gamma;
    }
    double mean = sum / trials, sd = sqrt(sq / trials - mean * mean);
    CHECK_MSG(fabs(mean) < 3 * sd / sqrt(trials) + 1e-3, "chance Gamma mean %.4f (SE %.4f)", mean,
              sd / sqrt(trials));
}

static void test_bad_inputs(void)
{
    nm_coincidence c;
    const double a[3] = {1, 2, 3}, unsorted[3] = {3, 1, 2}, nan3[3] = {1, NAN, 3};
    CHECK_FAILS(nm_coincidence_factor(a, 3, a, 3, 0, 100, &c), NM_EINVAL, "delta");
    CHECK_FAILS(nm_coincidence_factor(a, 3, a, 3, 2, -1, &c), NM_EINVAL, "duration");
    CHECK_FAILS(nm_coincidence_factor(unsorted, 3, a, 3, 2, 100, &c), NM_EINVAL, "time order");
    CHECK_FAILS(nm_coincidence_factor(a, 3, nan3, 3, 2, 100, &c), NM_EINVAL, "model spike 1");
    CHECK_FAILS(nm_coincidence_factor(NULL, 3, a, 3, 2, 100, &c), NM_EINVAL, "NULL");
    /* 3 spikes in 10 ms with +-2 ms: 2 * 0.3 * 2 >= 1, no room for chance. */
    CHECK_FAILS(nm_coincidence_factor(a, 3, a, 3, 2, 10, &c), NM_EDATA, "chance");
}

int main(void)
{
    NM_RUN(test_hand_values);
    NM_RUN(test_chance_level);
    NM_RUN(test_bad_inputs);
    return nm_test_report();
}
