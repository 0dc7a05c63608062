/* test_nn_adam.c -- Adam (one and three steps, weight decay, clipping) and
 * the EMA of weights against numbers worked out by hand.
 *
 * The reference update (Kingma & Ba 2015, with PyTorch's AdamW decay and
 * clip_grad_norm_ scaling), per element, step t = 1, 2, ...:
 *     g = grad * s,  s = min(1, clip / (||grad|| + 1e-6))   (clipping on)
 *     m = 0.9 m + 0.1 g,   v = 0.999 v + 0.001 g^2
 *     p = p (1 - lr wd) - lr (m / (1 - 0.9^t)) / (sqrt(v / (1 - 0.999^t)) + 1e-8)
 *
 * One step by hand: m/(1-0.9) = g and v/(1-0.999) = g^2, so
 * p1 = p0 - lr g / (|g| + 1e-8): a step of exactly lr against the sign of g
 * (less 1e-8/|g| of it), and no step where g = 0.  With p0 = (1, -2, 0.5, 0),
 * g = (0.1, -0.2, 3, 0), lr = 0.1:  p1 = (0.90000001, -1.900000005, 0.4, 0).
 *
 * Three steps: the same recurrence evaluated in double precision with a
 * throwaway Python script (the numbers below, to 9 decimals).  Element 4 by
 * hand as a spot check (g = 0, 1e-3, -1e-3, lr = 0.01): after step 2,
 * m_hat = 1e-4/0.19, sqrt(v_hat) = sqrt(1e-9/0.001999), p = -0.0074408;
 * step 3: m = -1e-5, v = 1.999e-9, p = -0.0074408 + 0.0004519 = -0.0069894.
 */
#include "nm_test.h"
#include "nn/nn.h"

#include <math.h>

/* The optimiser works in float: each update carries a relative rounding
 * error of a few float epsilons (6e-8) of a step of size lr; over 3 steps on
 * parameters of size <= 2 that is well under 1e-6.  ATOL gives 10x margin. */
#define ADAM_ATOL 2e-6

static const float P0[4] = {1.0f, -2.0f, 0.5f, 0.0f};
static const float G[3][4] = {
    {0.1f, -0.2f, 3.0f, 0.0f},
    {-0.05f, 0.4f, 1.0f, 1e-3f},
    {0.2f, 0.1f, -2.0f, -1e-3f},
};

static void run_adam(const nm_adam_opts *o, int steps, float *p)
{
    nm_adam *a = nm_adam_alloc(4, o);
    CHECK(a != NULL);
    if (!a) return;
    for (int i = 0; i < 4; i++) p[i] = P0[i];
    for (int s = 0; s < steps; s++) CHECK_OK(nm_adam_step(a, p, G[s], NULL));
    CHECK(a->t == (uint64_t)steps);
    nm_adam_free(a);
}

static void test_defaults(void)
{
    nm_adam_opts o;
    nm_adam_opts_default(&o);
    CHECK(o.lr == 1e-3 && o.beta1 == 0.9 && o.beta2 == 0.999 && o.eps == 1e-8);
    CHECK(o.weight_decay == 0.0 && o.clip_norm == 0.0);
}

static void test_one_step(void)
{
    nm_adam_opts o;
    nm_adam_opts_default(&o);
    o.lr = 0.1;
    float p[4];
    run_adam(&o, 1, p);
    const double want[4] = {0.900000010, -1.900000005, 0.400000000, 0.0};
    for (int i = 0; i < 4; i++) CHECK_CLOSE(p[i], want[i], 0, ADAM_ATOL);
    CHECK(p[3] == 0.0f); /* zero gradient: exactly no step */
}

static void test_three_steps(void)
{
    nm_adam_opts o;
    nm_adam_opts_default(&o);
    o.lr = 0.01;
    float p[4];
    run_adam(&o, 3, p);
    const double want[4] = {0.980755515, -1.997817547, 0.479017108, -0.006989446};
    for (int i = 0; i < 4; i++) CHECK_CLOSE(p[i], want[i], 0, ADAM_ATOL);
}

static void test_weight_decay(void)
{
    nm_adam_opts o;
    nm_adam_opts_default(&o);
    o.lr = 0.01;
    o.weight_decay = 0.1;
    float p[4];
    run_adam(&o, 3, p);
    const double want[4] = {0.977781168, -1.991839874, 0.477547308, -0.006982005};
    for (int i = 0; i < 4; i++) CHECK_CLOSE(p[i], want[i], 0, ADAM_ATOL);
}

static void test_clipping(void)
{
    /* Gradient norms 3.008, 1.078, 2.012: all three steps are clipped to
     * norm 1, each by a different factor, which changes the moments' mix. */
    nm_adam_opts o;
    nm_adam_opts_default(&o);
    o.lr = 0.01;
    o.clip_norm = 1.0;
    float p[4];
    run_adam(&o, 3, p);
    const double want[4] = {0.987431525, -2.001686970, 0.477566295, -0.009493028};
    for (int i = 0; i < 4; i++) CHECK_CLOSE(p[i], want[i], 0, ADAM_ATOL);

    /* The reported norm is the one before clipping. */
    nm_adam *a = nm_adam_alloc(4, &o);
    float q[4] = {0, 0, 0, 0};
    double norm = 0;
    CHECK_OK(nm_adam_step(a, q, G[0], &norm));
    CHECK_CLOSE(norm, sqrt(0.01 + 0.04 + 9.0), 1e-6, 0);
    nm_adam_free(a);
}

static void test_refuses_nonfinite(void)
{
    nm_adam *a = nm_adam_alloc(4, NULL);
    float p[4] = {1, 2, 3, 4};
    const float bad[4] = {0.1f, NAN, 0.0f, 0.0f};
    CHECK_FAILS(nm_adam_step(a, p, bad, NULL), NM_ENUMERIC, "not finite");
    CHECK(p[0] == 1 && p[1] == 2 && p[2] == 3 && p[3] == 4);
    CHECK(a->t == 0 && a->m[0] == 0.0f && a->v[0] == 0.0f);
    /* Reset forgets the moments. */
    CHECK_OK(nm_adam_step(a, p, G[0], NULL));
    CHECK(a->t == 1 && a->m[0] != 0.0f);
    nm_adam_reset(a);
    CHECK(a->t == 0 && a->m[0] == 0.0f && a->v[2] == 0.0f);
    nm_adam_free(a);

    nm_adam_opts o;
    nm_adam_opts_default(&o);
    o.beta1 = 1.0;
    CHECK(nm_adam_alloc(4, &o) == NULL);
    CHECK(strstr(nm_last_error(), "beta1") != NULL);
    CHECK(nm_adam_alloc(0, NULL) == NULL);
}

static void test_ema(void)
{
    /* decay 0.5: the first update copies, then shadow = (shadow + p) / 2.
     * p = 1, 3, 0  ->  1, 2, 1;  p = -4 -> -1.5. */
    nm_ema *e = nm_ema_alloc(2, 0.5);
    CHECK(e != NULL);
    const float p1[2] = {1, 10}, p2[2] = {3, 20}, p3[2] = {0, 30}, p4[2] = {-4, 40};
    nm_ema_update(e, p1);
    CHECK(e->shadow[0] == 1.0f && e->shadow[1] == 10.0f);
    nm_ema_update(e, p2);
    CHECK(e->shadow[0] == 2.0f && e->shadow[1] == 15.0f);
    nm_ema_update(e, p3);
    CHECK(e->shadow[0] == 1.0f && e->shadow[1] == 22.5f);
    nm_ema_update(e, p4);
    CHECK(e->shadow[0] == -1.5f && e->shadow[1] == 31.25f);
    CHECK(e->updates == 4);
    nm_ema_free(e);

    /* decay 0.995 (the map training's value): after k updates of a constant
     * step from 0 to 1 the shadow is 1 - 0.995^(k-1). */
    e = nm_ema_alloc(1, 0.995);
    const float zero = 0.0f, one = 1.0f;
    nm_ema_update(e, &zero);
    for (int k = 0; k < 100; k++) nm_ema_update(e, &one);
    CHECK_CLOSE(e->shadow[0], 1.0 - pow(0.995, 100), 1e-5, 0);
    nm_ema_free(e);
    CHECK(nm_ema_alloc(3, 1.0) == NULL);
}

int main(void)
{
    NM_RUN(test_defaults);
    NM_RUN(test_one_step);
    NM_RUN(test_three_steps);
    NM_RUN(test_weight_decay);
    NM_RUN(test_clipping);
    NM_RUN(test_refuses_nonfinite);
    NM_RUN(test_ema);
    return nm_test_report();
}
