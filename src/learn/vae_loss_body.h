/* vae_loss_body.h -- the VAE loss and its gradient, written once over a real
 * type and included twice by vae.c (float: training; double: the twin the
 * finite-difference gradient check compares against, as src/nn/mlp_body.h).
 *
 * Before including, define:
 *   VL_R        the real type (float / double)
 *   VL(name)    name mangling of the nn engine (nm_##name / nm_##name##_f64)
 *   VL_FN       the function's name (whole batch: Bnorm = B)
 *   VL_PART     the name of the shard version (explicit Bnorm, below)
 *
 * Shapes (B rows):  x [B x De],  encoder output h [B x 2D] (mu = h[:, :D],
 * logvar = h[:, D:], ld = 2D),  eps, z [B x D],  xhat [B x De].
 * Scratch layout: z [B*D] | gx = dL/dxhat [B*De] | gz = dL/dz [B*D] |
 * gh = dL/dh [B*2D]  -> B * (De + 4D) reals (nm_vae_loss_scratch).
 *
 * Shards (data-parallel training, vae.c): VL_PART takes B rows of a
 * minibatch of Bnorm >= B rows and returns their share of the minibatch's
 * loss, i.e. the means are divided by Bnorm instead of B (row weight
 * B / Bnorm on both terms), and adds their share of the gradient.  Summed
 * over shards that partition the minibatch, this is the minibatch's loss and
 * gradient up to rounding.  With Bnorm = B the weight is exactly 1 and every
 * operation is that of VL_FN. */

double VL_PART(const VL(mlp) *enc, const VL(mlp) *dec, VL(mlp_ws) *ws_enc, VL(mlp_ws) *ws_dec,
               size_t B, size_t Bnorm, const VL_R *x, const VL_R *eps, double beta,
               VL_R *enc_grads, VL_R *dec_grads, VL_R *scratch, double *recon, double *kl)
{
    if (!enc || !dec || !ws_enc || !ws_dec || !x || !eps || !scratch || B == 0 || Bnorm < B) {
        nm_fail(NM_EINVAL, "vae loss: NULL argument, empty batch or a shard larger than its batch");
        return NAN;
    }
    /* The share of these rows in the minibatch's means (1 for a whole batch). */
    const double wrow = (double)B / (double)Bnorm;
    const size_t de = enc->layer[0].in, D = dec->layer[0].in;
    if (enc->layer[enc->nlayers - 1].out != 2 * D || dec->layer[dec->nlayers - 1].out != de) {
        nm_fail(NM_EINVAL, "vae loss: encoder %zu -> %zu and decoder %zu -> %zu do not fit", de,
                enc->layer[enc->nlayers - 1].out, D, dec->layer[dec->nlayers - 1].out);
        return NAN;
    }
    const size_t ld = 2 * D;
    VL_R *z = scratch, *gx = z + B * D, *gz = gx + B * de, *gh = gz + B * D;
    const int grad = enc_grads || dec_grads;

    if (VL(mlp_forward)(enc, ws_enc, B, x, NULL)) return NAN;
    const VL_R *h = ws_enc->act[ws_enc->nlayers];
    const VL_R *mu = h, *logvar = h + D;
    VL(nn_reparam_forward)(B, D, mu, logvar, ld, eps, z);
    if (VL(mlp_forward)(dec, ws_dec, B, z, NULL)) return NAN;
    const VL_R *xhat = ws_dec->act[ws_dec->nlayers];

    /* Mean over all B*De elements (PyTorch's MSELoss default): with the KL
     * summed over units and averaged over rows, this is the reduction under
     * which beta = 1e-3 reproduces the reference experiment's per-unit KL
     * (docs/vae.md, "Loss reduction"). */
    if (grad) memset(gx, 0, B * de * sizeof *gx);
    const double rec = VL(nn_mse)(B * de, xhat, x, wrow, grad ? gx : NULL);
    /* KL with weight 1 (the row share) for the reported value (sum over
     * units, mean over rows). */
    const double k = VL(nn_kl_gauss)(B, D, mu, logvar, ld, wrow, NULL, NULL, NULL);
    if (recon) *recon = rec;
    if (kl) *kl = k;
    if (!grad) return rec + beta * k;

    /* Decoder: dL/dz (its parameter gradient only if wanted). */
    memset(gz, 0, B * D * sizeof *gz);
    if (VL(mlp_backward)(dec, ws_dec, gx, gz, dec_grads)) return NAN;
    if (enc_grads) {
        /* z -> (mu, logvar), plus the KL term's own gradient (weight beta). */
        memset(gh, 0, B * ld * sizeof *gh);
        VL(nn_reparam_backward)(B, D, logvar, ld, eps, gz, gh, gh + D);
        if (beta != 0) VL(nn_kl_gauss)(B, D, mu, logvar, ld, beta * wrow, gh, gh + D, NULL);
        if (VL(mlp_backward)(enc, ws_enc, gh, NULL, enc_grads)) return NAN;
    }
    return rec + beta * k;
}

double VL_FN(const VL(mlp) *enc, const VL(mlp) *dec, VL(mlp_ws) *ws_enc, VL(mlp_ws) *ws_dec,
             size_t B, const VL_R *x, const VL_R *eps, double beta, VL_R *enc_grads,
             VL_R *dec_grads, VL_R *scratch, double *recon, double *kl)
{
    return VL_PART(enc, dec, ws_enc, ws_dec, B, B, x, eps, beta, enc_grads, dec_grads, scratch,
                   recon, kl);
}
