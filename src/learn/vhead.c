/* vhead.c -- fitting, storing and loading the V head (vhead.h). */
#include "learn/vhead.h"

#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Epochs without a better validation loss before the fit stops. */
#define VHEAD_PATIENCE 8
/* Rows per forward pass when computing targets and validation errors (keeps
 * the workspaces small whatever n is). */
#define VHEAD_CHUNK 4096

void nm_vhead_opts_default(nm_vhead_opts *o)
{
    memset(o, 0, sizeof *o);
    o->nhidden = 2;
    o->hidden[0] = o->hidden[1] = 32;
    o->epochs = 60;
    o->batch = 256;
    o->lr = 3e-3;
    o->val_frac = 0.1;
    o->seed = 1;
}

static nm_status check_opts(const nm_vhead_opts *o)
{
    if (o->nhidden < 1 || o->nhidden > NM_VHEAD_MAX_HIDDEN)
        return nm_fail(NM_EINVAL, "vhead fit: %zu hidden layers (expected 1..%d)", o->nhidden,
                       NM_VHEAD_MAX_HIDDEN);
    for (size_t l = 0; l < o->nhidden; l++)
        if (o->hidden[l] < 1 || o->hidden[l] > NM_MLP_APPLY1_MAX_WIDTH)
            return nm_fail(NM_EINVAL, "vhead fit: hidden layer %zu is %zu wide (expected 1..%d: the runtime's limit)",
                           l, o->hidden[l], NM_MLP_APPLY1_MAX_WIDTH);
    if (o->epochs < 1) return nm_fail(NM_EINVAL, "vhead fit: epochs must be >= 1 (got 0)");
    if (o->batch < 1 || o->batch > NM_VAE_MAX_BATCH)
        return nm_fail(NM_EINVAL, "vhead fit: batch must be in 1..%d rows (got %zu)", NM_VAE_MAX_BATCH, o->batch);
    if (!(o->lr > 0 && o->lr <= 1)) return nm_fail(NM_EINVAL, "vhead fit: lr must be in (0, 1] (got %g)", o->lr);
    if (!(o->val_frac > 0 && o->val_frac <= 0.5))
        return nm_fail(NM_EINVAL, "vhead fit: val_frac must be in (0, 0.5] (got %g): the fit stops on the "
                       "validation rows", o->val_frac);
    return NM_OK;
}

/* Output 0 of net for rows idx[0..m) of X [* x in] (idx NULL: rows 0..m),
 * into y [m], VHEAD_CHUNK rows at a time through ws (max_batch >= chunk). */
static nm_status eval_rows(const nm_mlp *net, nm_mlp_ws *ws, const float *X, size_t in, const size_t *idx,
                           size_t m, float *rows, float *y)
{
    size_t out = net->layer[net->nlayers - 1].out;
    for (size_t r0 = 0; r0 < m; r0 += VHEAD_CHUNK) {
        size_t B = m - r0 < VHEAD_CHUNK ? m - r0 : VHEAD_CHUNK;
        const float *xb = X + r0 * in;
        if (idx) {
            nm_nn_gather_rows(X, in, idx + r0, B, rows);
            xb = rows;
        }
        nm_status st = nm_mlp_forward(net, ws, B, xb, NULL);
        if (st) return st;
        const float *o = nm_mlp_ws_output(ws);
        for (size_t b = 0; b < B; b++) y[r0 + b] = o[b * out];
    }
    return NM_OK;
}

nm_status nm_vhead_fit(const nm_mlp *dec_v, const nm_vae *vae, const double *x, size_t n, size_t D,
                       const nm_vhead_opts *o, nm_mlp **out, nm_vhead_report *rep)
{
    if (!out) return nm_fail(NM_EINVAL, "vhead fit: NULL output");
    *out = NULL;
    if (rep) memset(rep, 0, sizeof *rep);
    if (!dec_v || !vae || (!x && n)) return nm_fail(NM_EINVAL, "vhead fit: NULL argument");
    nm_vhead_opts def;
    if (!o) {
        nm_vhead_opts_default(&def);
        o = &def;
    }
    nm_status st = check_opts(o);
    if (st) return st;
    if (n < 2)
        return nm_fail(NM_EINVAL, "vhead fit: %zu latent states (at least 2: training and validation rows)", n);
    if (D < 1 || D > NM_VAE_MAX_LATENT)
        return nm_fail(NM_EINVAL, "vhead fit: D = %zu (expected 1..%d)", D, NM_VAE_MAX_LATENT);
    if (dec_v->layer[0].in != D || vae->dim != D)
        return nm_fail(NM_EINVAL, "vhead fit: D = %zu, but the decoder takes %zu inputs and the VAE's latent "
                       "dimension is %zu", D, dec_v->layer[0].in, vae->dim);
    if (n > SIZE_MAX / sizeof(float) / (D + 1))
        return nm_fail(NM_EINVAL, "vhead fit: %zu latent states is too many", n);

    const size_t L = o->nhidden + 1;
    size_t sizes[NM_VHEAD_MAX_HIDDEN + 2];
    nm_act acts[NM_VHEAD_MAX_HIDDEN + 1];
    sizes[0] = D;
    for (size_t l = 0; l < o->nhidden; l++) {
        sizes[l + 1] = o->hidden[l];
        acts[l] = NM_ACT_TANH;
    }
    sizes[L] = 1;
    acts[L - 1] = NM_ACT_IDENTITY;

    nm_rng rng;
    nm_rng_seed(&rng, o->seed);
    nm_mlp *net = NULL;
    nm_mlp_ws *ws_dec = NULL, *ws_eval = NULL, *ws = NULL;
    nm_adam *adam = NULL;
    nm_early_stop *es = NULL;
    const size_t B = o->batch;
    float *X = nm_malloc(n * D * sizeof *X), *T = nm_malloc(n * sizeof *T);
    float *rows = nm_malloc(VHEAD_CHUNK * D * sizeof *rows), *yv = NULL, *tv = NULL;
    float *xb = nm_malloc(B * D * sizeof *xb), *tb = nm_malloc(B * sizeof *tb), *dy = nm_malloc(B * sizeof *dy);
    size_t *idx = nm_malloc(n * sizeof *idx);
    int single = 0;
    if (!X || !T || !rows || !xb || !tb || !dy || !idx) {
        st = NM_ENOMEM;
        goto done;
    }
    /* The inputs as the runtime casts them (decode_v: z[j] = (float)x[j]). */
    for (size_t i = 0; i < n * D; i++) {
        X[i] = (float)x[i];
        if (!isfinite(X[i])) {
            st = nm_fail(NM_EINVAL, "vhead fit: latent state %zu, unit %zu is not finite as a float (%g)", i / D,
                         i % D, x[i]);
            goto done;
        }
    }
    /* One BLAS thread: a 32-wide head gains nothing from more, and the bits
     * then do not depend on OPENBLAS_NUM_THREADS. */
    nm_blas_single_begin();
    single = 1;
    if (!(ws_dec = nm_mlp_ws_alloc(dec_v, VHEAD_CHUNK))) {
        st = NM_ENOMEM;
        goto done;
    }
    if ((st = eval_rows(dec_v, ws_dec, X, D, NULL, n, rows, T))) goto done;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(T[i])) {
            st = nm_fail(NM_ENUMERIC, "vhead fit: the decoder's output for latent state %zu is not finite", i);
            goto done;
        }
    nm_mlp_ws_free(ws_dec);
    ws_dec = NULL;

    if (!(net = nm_mlp_alloc(L, sizes, acts))) {
        st = NM_ENOMEM;
        goto done;
    }
    if ((st = nm_mlp_init(net, &rng, NM_INIT_AUTO))) goto done;
    size_t ntrain = 0, nval = 0;
    if ((st = nm_nn_split(n, o->val_frac, &rng, idx, &ntrain, &nval))) goto done;
    yv = nm_malloc(nval * sizeof *yv);
    tv = nm_malloc(nval * sizeof *tv);
    nm_adam_opts ao;
    nm_adam_opts_default(&ao);
    ao.lr = o->lr;
    adam = nm_adam_alloc(net->nparams, &ao);
    es = nm_early_stop_alloc(net->nparams, VHEAD_PATIENCE, 0.0);
    ws = nm_mlp_ws_alloc(net, B);
    ws_eval = nm_mlp_ws_alloc(net, VHEAD_CHUNK);
    if (!yv || !tv || !adam || !es || !ws || !ws_eval) {
        st = NM_ENOMEM;
        goto done;
    }
    nm_nn_gather_rows(T, 1, idx + ntrain, nval, tv);

    size_t e = 0;
    for (; e < o->epochs; e++) {
        /* Cosine decay from lr (first epoch) to lr/10 (last epoch). */
        double frac = o->epochs > 1 ? (double)e / (double)(o->epochs - 1) : 1.0;
        adam->o.lr = o->lr * (0.1 + 0.9 * 0.5 * (1.0 + cos(3.14159265358979323846 * frac)));
        nm_nn_shuffle(&rng, ntrain, idx);
        for (size_t s = 0; s < ntrain; s += B) {
            size_t nb = ntrain - s < B ? ntrain - s : B;
            nm_nn_gather_rows(X, D, idx + s, nb, xb);
            nm_nn_gather_rows(T, 1, idx + s, nb, tb);
            if ((st = nm_mlp_forward(net, ws, nb, xb, NULL))) goto done;
            memset(dy, 0, nb * sizeof *dy);
            nm_nn_mse(nb, nm_mlp_ws_output(ws), tb, 1.0, dy);
            nm_mlp_zero_grad(net);
            if ((st = nm_mlp_backward(net, ws, dy, NULL, net->grads))) goto done;
            if ((st = nm_adam_step(adam, net->params, net->grads, NULL))) {
                st = nm_fail_prefix(st, "vhead fit, epoch %zu", e + 1);
                goto done;
            }
        }
        if ((st = eval_rows(net, ws_eval, X, D, idx + ntrain, nval, rows, yv))) goto done;
        if (nm_early_stop_update(es, nm_nn_mse(nval, yv, tv, 1.0, NULL), net->params)) {
            e++;
            break;
        }
    }
    if (es->best_epoch == 0) {
        st = nm_fail(NM_ENUMERIC, "vhead fit: the validation loss was never finite (training diverged; try a "
                     "smaller lr than %g)", o->lr);
        goto done;
    }
    if ((st = nm_early_stop_restore(es, net->params))) goto done;
    if (rep) {
        if ((st = eval_rows(net, ws_eval, X, D, idx + ntrain, nval, rows, yv))) goto done;
        double ss = 0, mx = 0;
        for (size_t i = 0; i < nval; i++) {
            double err = fabs(nm_vae_denorm(vae, yv[i]) - nm_vae_denorm(vae, tv[i]));
            ss += err * err;
            if (err > mx) mx = err;
        }
        rep->rms_mv = sqrt(ss / (double)nval);
        rep->max_mv = mx;
        rep->epochs = e;
    }
    *out = net;
    net = NULL;
done:
    if (single) nm_blas_single_end();
    nm_mlp_free(net);
    nm_mlp_ws_free(ws_dec);
    nm_mlp_ws_free(ws_eval);
    nm_mlp_ws_free(ws);
    nm_adam_free(adam);
    nm_early_stop_free(es);
    free(X);
    free(T);
    free(rows);
    free(yv);
    free(tv);
    free(xb);
    free(tb);
    free(dy);
    free(idx);
    return st;
}

/* ---- model file -------------------------------------------------------- */

static const char *const VHEAD_ENTRIES[3] = {"vhead.sizes", "vhead.acts", "vhead.params"};

nm_status nm_vhead_to_mf(const nm_mlp *vh, nm_mf *mf)
{
    if (!vh || !mf) return nm_fail(NM_EINVAL, "vhead store: NULL argument");
    size_t L = vh->nlayers;
    if (L < 2 || L > NM_VHEAD_MAX_HIDDEN + 1 || vh->layer[L - 1].out != 1)
        return nm_fail(NM_EINVAL, "vhead store: a head has 2..%d layers and one output (got %zu layers, %zu outputs)",
                       NM_VHEAD_MAX_HIDDEN + 1, L, vh->layer[L - 1].out);
    int32_t sizes[NM_VHEAD_MAX_HIDDEN + 2], acts[NM_VHEAD_MAX_HIDDEN + 1];
    sizes[0] = (int32_t)vh->layer[0].in;
    for (size_t l = 0; l < L; l++) {
        sizes[l + 1] = (int32_t)vh->layer[l].out;
        acts[l] = (int32_t)vh->layer[l].act;
    }
    nm_mf_remove_section(mf, "vhead");
    nm_status st;
    if ((st = nm_mf_add_i32(mf, VHEAD_ENTRIES[0], sizes, L + 1)) || (st = nm_mf_add_i32(mf, VHEAD_ENTRIES[1], acts, L)) ||
        (st = nm_mf_add_f32(mf, VHEAD_ENTRIES[2], vh->params, vh->nparams)))
        return st;
    return NM_OK;
}

nm_status nm_vhead_from_mf(const nm_mf *mf, nm_mlp **out)
{
    if (!out) return nm_fail(NM_EINVAL, "vhead load: NULL output");
    *out = NULL;
    if (!mf) return nm_fail(NM_EINVAL, "vhead load: NULL container");
    int have = 0;
    for (int k = 0; k < 3; k++) have += nm_mf_has(mf, VHEAD_ENTRIES[k]) != 0;
    if (have == 0) return NM_OK;
    for (int k = 0; k < 3; k++)
        if (!nm_mf_has(mf, VHEAD_ENTRIES[k]))
            return nm_fail(NM_EFORMAT, "the V head is incomplete: '%s' is missing (vhead.sizes, vhead.acts and "
                           "vhead.params come together)", VHEAD_ENTRIES[k]);
    const int32_t *sz, *ac;
    const float *p;
    size_t nsz = 0, np = 0;
    nm_status st;
    if ((st = nm_mf_get_i32(mf, VHEAD_ENTRIES[0], NM_MF_ANY, &sz, &nsz))) return st;
    if (nsz < 3 || nsz > NM_VHEAD_MAX_HIDDEN + 2)
        return nm_fail(NM_EFORMAT, "entry 'vhead.sizes' has %zu entries, expected 3..%d (1..%d hidden layers)", nsz,
                       NM_VHEAD_MAX_HIDDEN + 2, NM_VHEAD_MAX_HIDDEN);
    size_t L = nsz - 1, sizes[NM_VHEAD_MAX_HIDDEN + 2];
    nm_act acts[NM_VHEAD_MAX_HIDDEN + 1];
    for (size_t l = 0; l < nsz; l++) {
        if (sz[l] < 1 || sz[l] > NM_MLP_APPLY1_MAX_WIDTH)
            return nm_fail(NM_EFORMAT, "entry 'vhead.sizes': width %zu = %d is out of range [1, %d]", l, (int)sz[l],
                           NM_MLP_APPLY1_MAX_WIDTH);
        sizes[l] = (size_t)sz[l];
    }
    if (sizes[L] != 1)
        return nm_fail(NM_EFORMAT, "entry 'vhead.sizes': the last width is %zu, but a V head has one output",
                       sizes[L]);
    if ((st = nm_mf_get_i32(mf, VHEAD_ENTRIES[1], L, &ac, NULL))) return st;
    for (size_t l = 0; l < L; l++) {
        if (ac[l] < 0 || ac[l] >= NM_ACT_COUNT)
            return nm_fail(NM_EFORMAT, "entry 'vhead.acts': activation %zu = %d is unknown (0..%d)", l, (int)ac[l],
                           NM_ACT_COUNT - 1);
        acts[l] = (nm_act)ac[l];
    }
    size_t want = nm_mlp_count_params(L, sizes);
    if ((st = nm_mf_get_f32(mf, VHEAD_ENTRIES[2], NM_MF_ANY, &p, &np))) return st;
    if (np != want)
        return nm_fail(NM_EFORMAT, "entry 'vhead.params' has %zu parameters, but the layers vhead.sizes require %zu",
                       np, want);
    nm_mlp *h = nm_mlp_alloc(L, sizes, acts);
    if (!h) return NM_ENOMEM;
    memcpy(h->params, p, np * sizeof *p);
    *out = h;
    return NM_OK;
}
