/* vhead.h -- the V head of a learned model (private; issue 12, lean networks).
 *
 * At run time a learned cell needs, every map step, the decoded membrane
 * potential V(x) (mV) of its latent state x [D].  Without a head that is the
 * VAE decoder cut to its first output (learned.c, decoder_v_only: D -> 128
 * -> 128 -> 1 for the default VAE, about 16.9k multiply-adds), half the cost
 * of a lean cell.  A V head is a small network fitted to reproduce exactly
 * that cut decoder's output, e.g. D -> 32 -> 32 -> 1 (tanh hidden, identity
 * output, about 1.2k multiply-adds):
 *
 *     V = nm_vae_denorm(vae, head(float(x)))              (mV)
 *
 * It sees what the cut decoder sees -- the raw latent state as floats, no
 * input scaling -- and outputs what it outputs (normalised V), so it is a
 * drop-in replacement: a model file holding vhead.* entries is decoded with
 * the head everywhere at run time (nm_learned_decode_v, runs, the batched
 * step, NEURON); the VAE decoder stays in the file for training and
 * encoding.
 *
 * Model file (docs/model-format.md, "V head"): "vhead.sizes" (i32 [L+1]:
 * D, hidden..., 1), "vhead.acts" (i32 [L]: nn.h activation codes),
 * "vhead.params" (f32, the nm_mlp layout of nn.h), all three or none; the
 * caller (distillation) may add the fit's scalars "vhead.rms_mv" and
 * "vhead.max_mv" (mV, finite, >= 0), which `neuromap info` prints. */
#ifndef NM_LEARN_VHEAD_H
#define NM_LEARN_VHEAD_H

#include "learn/vae.h"
#include "nn/nn.h"

#include <stddef.h>
#include <stdint.h>

/* Hidden layers of a head: 1..NM_VHEAD_MAX_HIDDEN (so 2..5 layers). */
#define NM_VHEAD_MAX_HIDDEN 4

typedef struct nm_vhead_opts {
    size_t nhidden;            /* hidden layers, 1..4 (default 2) */
    size_t hidden[4];          /* widths, 1..NM_MLP_APPLY1_MAX_WIDTH (default 32, 32) */
    size_t epochs;             /* max epochs, >= 1 (default 60) */
    size_t batch;              /* minibatch rows, >= 1 (default 256) */
    double lr;                 /* Adam lr (default 3e-3), cosine-decayed to lr/10 at the last epoch */
    double val_frac;           /* validation share, in (0, 0.5] (default 0.1; random split with the seed) */
    uint64_t seed;             /* initial weights, split, minibatch order (default 1) */
} nm_vhead_opts;

void nm_vhead_opts_default(nm_vhead_opts *o);

typedef struct nm_vhead_report {
    double rms_mv, max_mv;     /* error of the head against dec_v on the validation rows, in mV
                                  (both outputs through nm_vae_denorm) */
    size_t epochs;             /* epochs run (early stop on the validation loss, patience 8) */
} nm_vhead_report;

/* Fit a small network to dec_v on n latent states x [n x D] (double,
 * row-major): inputs are the latent states exactly as dec_v gets them (float
 * casts of x), the target is dec_v's output 0 (normalised V), loss MSE.
 * dec_v is the cut decoder (nm_learned_decoder_v_part); a full decoder also
 * works (its output 0 is the same V).  Deterministic for a seed (OpenBLAS
 * runs on one thread meanwhile, nm_blas_single_begin).  The best weights on
 * the validation rows are kept.  *out: a new network with sizes D,
 * hidden..., 1 (tanh hidden, identity output); rep may be NULL.
 * NM_EINVAL for NULL, n < 2, D not the network's or the VAE's input, a
 * non-finite x (or one beyond float range), bad options; NM_ENUMERIC if
 * dec_v's output is not finite or training diverges. */
nm_status nm_vhead_fit(const nm_mlp *dec_v, const nm_vae *vae, const double *x, size_t n, size_t D,
                       const nm_vhead_opts *o, nm_mlp **out, nm_vhead_report *rep);

/* Store vh as "vhead.sizes", "vhead.acts", "vhead.params", replacing any
 * vhead.* entries mf had (the old head's vhead.rms_mv / max_mv too: they
 * described another network). */
nm_status nm_vhead_to_mf(const nm_mlp *vh, nm_mf *mf);

/* The head stored in mf: *out = NULL and NM_OK when the file has no vhead.*
 * entries.  Checks the entries on its own (all three present, 2..5 layers,
 * widths 1..NM_MLP_APPLY1_MAX_WIDTH, last width 1, known activations, the
 * exact parameter count); the caller checks sizes[0] against its D.
 * nm_mf_validate (model_check.c) makes the same checks and more. */
nm_status nm_vhead_from_mf(const nm_mf *mf, nm_mlp **out);

#endif
