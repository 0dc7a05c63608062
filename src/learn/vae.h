/* vae.h -- internals of the variational autoencoder (private to libneuromap).
 * The public face is in include/neuromap.h ("Embedding and variational
 * autoencoder"); this header is for code inside the library that needs the
 * networks themselves, e.g. the map trainer back-propagating a loss on the
 * decoded V through the frozen decoder.
 *
 * Shapes and conventions
 *   u = (V - v_mean) / v_std                       normalised V (v_mean, v_std in mV)
 *   R(n) = [u(n), u(n-1), ..., u(n-De+1)]          delay vector, NEWEST FIRST (embed.h)
 *   enc: De -> hidden[0] -> ... -> hidden[nh-1] -> 2D   (act on hidden, identity out)
 *        output row h[0..2D): mu = h[0..D), logvar = h[D..2D)
 *   dec: D -> hidden[nh-1] -> ... -> hidden[0] -> De    (mirrored; identity out)
 *        output row = reconstructed R in normalised units; its component 0 is
 *        the newest sample, so the decoded membrane potential is
 *            V = v_mean + v_std * dec_out[0]                         (mV)
 *   The encoder MEAN mu is the latent state (no sampling at use time).
 *
 * Parameters: encoder and decoder share ONE float block `params` (encoder
 * at offset 0, its nparams floats; the decoder right after), and likewise
 * `grads`; enc and dec are views into it (nm_mlp_alloc_view).  The model file
 * stores the two halves as "vae.enc.params" and "vae.dec.params".
 *
 * Back-propagating through the frozen decoder (map trainer):
 *     nm_mlp_ws *ws = nm_mlp_ws_alloc(vae->dec, B);          // one per application
 *     nm_mlp_forward(vae->dec, ws, B, z, NULL);               // z [B x D] float
 *     const float *r = nm_mlp_ws_output(ws);                  // [B x De]
 *     // V_b = v_mean + v_std * r[b*De + 0]; loss L(V); then
 *     // dy[b*De + 0] = dL/dV_b * v_std, other components 0 (dy [B x De], zeroed)
 *     nm_mlp_backward(vae->dec, ws, dy, dz, NULL);            // += dL/dz, grads NULL: frozen
 * The vae is never modified by this (weights only read), so it is safe to
 * share one nm_vae between threads each with its own workspaces.
 * nm_vae_decode_v_rows below packages the forward + V mapping.
 */
#ifndef NM_VAE_H
#define NM_VAE_H

#include "neuromap.h"
#include "nn/nn.h"

#include <stddef.h>

/* Largest latent dimension (the report arrays in neuromap.h hold 16). */
#define NM_VAE_MAX_LATENT 16
/* Largest number of hidden layers (nm_vae_opts.hidden[4]). */
#define NM_VAE_MAX_HIDDEN 4
/* Training limits (docs/limits.md): rows per gradient step (the workspace
 * grows with batch x width), hidden width, and the KL weight beta (default
 * 3e-5; above ~1 the KL term alone decides the latent space). */
#define NM_VAE_MAX_BATCH 65536
#define NM_VAE_MAX_WIDTH 4096
#define NM_VAE_MAX_BETA 1e3
/* Largest nm_vae_opts.threads accepted (a run uses at most one thread per
 * shard of a batch, VAE_MAX_SHARDS in vae.c; more are simply not started). */
#define NM_VAE_MAX_THREADS 1024

struct nm_vae {
    size_t de;                          /* De: delay-vector length (samples) */
    size_t dim;                         /* D: latent dimension */
    double v_mean, v_std;               /* normalisation of V (mV) */
    double dt_ms;                       /* sampling step of the training series (ms):
                                           one delay = one step = one map step */
    size_t nhidden;                     /* hidden layers per network (1..4) */
    size_t hidden[NM_VAE_MAX_HIDDEN];   /* encoder hidden widths; the decoder mirrors */
    nm_act act;                         /* activation of the hidden layers (tanh) */

    float *params;                      /* [nparams] = encoder block, then decoder block */
    float *grads;                       /* [nparams] same layout (training scratch) */
    size_t nparams;
    nm_mlp *enc;                        /* view: params + 0, enc->nparams floats */
    nm_mlp *dec;                        /* view: params + enc->nparams */

    double beta;                        /* KL weight it was trained with */
    nm_vae_report report;               /* final losses, per-unit KL, active units */
};

/* An untrained VAE of the given shape: parameters zero, v_mean 0, v_std 1,
 * report zeroed.  NM_EINVAL for de < 1, dim not in 1..NM_VAE_MAX_LATENT,
 * nhidden not in 1..NM_VAE_MAX_HIDDEN, a zero width or an unknown act. */
nm_status nm_vae_alloc(size_t de, size_t dim, size_t nhidden, const size_t *hidden, nm_act act,
                       nm_vae **out);

/* Normalise / de-normalise one value of V. */
static inline double nm_vae_norm(const nm_vae *vae, double v_mv)
{
    return (v_mv - vae->v_mean) / vae->v_std;
}
static inline double nm_vae_denorm(const nm_vae *vae, double u)
{
    return vae->v_mean + vae->v_std * u;
}

/* Encoder means of B normalised delay vectors x [B x De] (float) into
 * mu [B x D] (double).  ws must come from nm_mlp_ws_alloc(vae->enc, >= B)
 * (B may exceed its capacity: the rows are processed in chunks). */
nm_status nm_vae_encode_rows(const nm_vae *vae, nm_mlp_ws *ws, size_t B, const float *x,
                             double *mu);

/* Decoded V (mV) of B latent vectors z [B x D] (float) into v [B];
 * ws from nm_mlp_ws_alloc(vae->dec, >= B).  Leaves the tape in ws for a
 * following nm_mlp_backward when B <= ws->max_batch (see above). */
nm_status nm_vae_decode_v_rows(const nm_vae *vae, nm_mlp_ws *ws, size_t B, const float *z,
                               double *v);

/* The VAE loss of B rows x [B x De] (normalised delay vectors) with fixed
 * noise eps [B x D], on the float engine (training uses it):
 *     L = recon + beta * kl,
 *     recon = 1/(B De) sum_b sum_i (xhat_bi - x_bi)^2  (mean over rows AND the De
 *                                                       components, normalised units)
 *     kl    = (1/B) sum_b sum_j KL_bj                  (sum over the D units, mean over rows)
 * (the reduction under which beta has the meaning of the reference
 * experiment: measured in docs/vae.md)
 * with z = mu + exp(logvar/2) eps and xhat = dec(z).  Returns L; recon and kl
 * (may be NULL) get the parts.  If enc_grads / dec_grads are not NULL, adds
 * dL/dparams of each network into them (zero them first; vae->grads is the
 * usual place: enc->grads, dec->grads).  ws_enc / ws_dec (from
 * nm_mlp_ws_alloc on enc / dec) hold >= B rows; scratch must hold
 * nm_vae_loss_scratch(B, De, D) = B * (De + 4 D) reals.  Returns NaN on bad arguments (a
 * message is set). */
size_t nm_vae_loss_scratch(size_t B, size_t de, size_t dim);
double nm_vae_loss_rows(const nm_mlp *enc, const nm_mlp *dec, nm_mlp_ws *ws_enc,
                        nm_mlp_ws *ws_dec, size_t B, const float *x, const float *eps,
                        double beta, float *enc_grads, float *dec_grads, float *scratch,
                        double *recon, double *kl);
/* One shard of a minibatch (data-parallel training): B rows of a minibatch
 * of Bnorm >= B rows.  Returns these rows' share of the minibatch's loss
 * (both means divided by Bnorm) and adds their share of its gradient, so
 * the sums over shards that partition the minibatch are its loss and
 * gradient (up to rounding).  Bnorm = B is nm_vae_loss_rows, bit for bit. */
double nm_vae_loss_part(const nm_mlp *enc, const nm_mlp *dec, nm_mlp_ws *ws_enc,
                        nm_mlp_ws *ws_dec, size_t B, size_t Bnorm, const float *x,
                        const float *eps, double beta, float *enc_grads, float *dec_grads,
                        float *scratch, double *recon, double *kl);
/* The same on the double twin (finite-difference gradient checks). */
double nm_vae_loss_part_f64(const nm_mlp_f64 *enc, const nm_mlp_f64 *dec, nm_mlp_ws_f64 *ws_enc,
                            nm_mlp_ws_f64 *ws_dec, size_t B, size_t Bnorm, const double *x,
                            const double *eps, double beta, double *enc_grads,
                            double *dec_grads, double *scratch, double *recon, double *kl);
double nm_vae_loss_rows_f64(const nm_mlp_f64 *enc, const nm_mlp_f64 *dec, nm_mlp_ws_f64 *ws_enc,
                            nm_mlp_ws_f64 *ws_dec, size_t B, const double *x,
                            const double *eps, double beta, double *enc_grads,
                            double *dec_grads, double *scratch, double *recon, double *kl);

#endif
