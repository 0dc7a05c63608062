/* nm_test_model.h -- a tiny learned model for tests that need one (sweeps,
 * the plugin registry): three SRK series at VS = -42, -38, -31 mV of
 * duration_ms each, trained with the caller's (small) options.  What it
 * learns does not matter to those tests.  Include after nm_test.h. */
#ifndef NM_TEST_MODEL_H
#define NM_TEST_MODEL_H

#include "neuromap.h"

/* The small options of the sweep and comparison tests: 32-32 networks, 8
 * VAE epochs, 5 one-step epochs, one rollout stage of 60 iterations of 10
 * steps (a model in about a second on 30 s series). */
static inline void nm_test_small_opts(nm_learn_opts *o)
{
    nm_learn_opts_default(o);
    o->vae.epochs = 8;
    o->vae.hidden[0] = o->vae.hidden[1] = 32;
    o->map_hidden[0] = o->map_hidden[1] = 32;
    o->map_onestep_epochs = 5;
    o->map_nstages = 1;
    o->map_rollout_len[0] = 10;
    o->map_rollout_iters[0] = 60;
}

static inline nm_learned *nm_test_tiny_model(double duration_ms, const nm_learn_opts *o)
{
    const double ps[] = {-42.0, -38.0, -31.0};
    nm_series *s[3] = {NULL, NULL, NULL};
    nm_model *m = nm_model_alloc(nm_model_srk);
    nm_learned *lm = NULL;
    if (!m) return NULL;
    nm_sim_opts so;
    nm_sim_opts_default(&so);
    so.duration_ms = duration_ms;
    int ok = 1;
    for (size_t k = 0; k < 3 && ok; k++)
        ok = nm_model_set_control(m, ps[k]) == NM_OK && nm_simulate(m, &so, &s[k]) == NM_OK;
    if (ok) CHECK_OK(nm_learn((const nm_series *const *)s, 3, o, &lm));
    for (size_t k = 0; k < 3; k++) nm_series_free(s[k]);
    nm_model_free(m);
    return lm;
}

/* Faster still, for tests that only need a model with the right shapes
 * (batched stepping, the plugin's input): 16-16 networks, 3 VAE epochs, 2
 * one-step epochs, 10 rollout iterations of 5 steps, no selection. */
static inline void nm_test_fast_opts(nm_learn_opts *o, uint64_t seed)
{
    nm_learn_opts_default(o);
    o->vae.epochs = 3;
    o->vae.hidden[0] = o->vae.hidden[1] = 16;
    o->map_hidden[0] = o->map_hidden[1] = 16;
    o->map_onestep_epochs = 2;
    o->map_nstages = 1;
    o->map_rollout_len[0] = 5;
    o->map_rollout_iters[0] = 10;
    o->map_select_every = 0;
    o->seed = seed;
}

/* A model with an input channel: HH under OU current (uA/cm2, means 6 and
 * 8, SD 4, tau 3 ms, input seeds 1 and 2), two 400 ms series every 0.1 ms,
 * trained with o. */
static inline nm_learned *nm_test_input_model(const nm_learn_opts *o)
{
    nm_model *m = nm_model_alloc(nm_model_hh);
    if (!m) return NULL;
    nm_series *s[2] = {NULL, NULL};
    int ok = 1;
    for (int k = 0; k < 2 && ok; k++) {
        nm_input in = {.kind = NM_INPUT_OU, .amp = 6.0 + 2 * k, .sd = 4.0, .tau_ms = 3.0};
        nm_sim_opts so;
        nm_model_sim_opts_default(m, &so);
        so.duration_ms = 400;
        so.dt_ms = 0.1;
        so.input = &in;
        so.ninput = 1;
        so.input_seed = (uint64_t)k + 1;
        ok = nm_model_set_control(m, 0.0) == NM_OK && nm_simulate(m, &so, &s[k]) == NM_OK;
    }
    nm_learned *lm = NULL;
    if (ok) CHECK_OK(nm_learn((const nm_series *const *)s, 2, o, &lm));
    nm_series_free(s[0]);
    nm_series_free(s[1]);
    nm_model_free(m);
    return lm;
}

#endif
