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

#endif
