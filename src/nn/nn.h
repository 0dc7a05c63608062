/* nn.h -- the neural-network engine of libneuromap (private: the VAE and the
 * neural-network map build on it; nothing here is in include/neuromap.h).
 *
 * What is here
 *   - nm_mlp: a stack of dense layers y = f(x W^T + b) with activations
 *     (identity, tanh, relu, softplus, sigmoid).  ALL parameters live in one
 *     contiguous float block (m->params, m->nparams floats) with gradients in
 *     a block of the same layout (m->grads); m->layer[l] is the table of
 *     offsets.  Layout, layer after layer (the model file stores exactly this):
 *         W_0 [out_0 x in_0] row-major, b_0 [out_0], W_1 [out_1 x in_1], b_1, ...
 *   - nm_mlp_ws: a workspace = the tape of ONE forward pass (a copy of the
 *     input and every layer's output, for up to max_batch rows) plus scratch
 *     for backward.  Weights and workspaces are separate objects:
 *       * many threads may run nm_mlp_forward on the SAME const nm_mlp at
 *         once, each with its own workspace (weights are only read);
 *       * one network applied several times (the map unrolled through time,
 *         the decoder applied to a sample) keeps one workspace per
 *         application, and each one can be back-propagated afterwards.
 *   - losses: MSE; for the VAE the Gaussian KL term and the
 *     reparameterisation z = mu + exp(logvar/2) * eps with its gradients;
 *   - Adam (bias-corrected, decoupled weight decay, global-norm clipping),
 *     EMA of weights, Xavier/He init, shuffled minibatches, validation split,
 *     early-stopping bookkeeping.
 *
 * Gradient convention (as PyTorch's .grad): EVERY gradient output of this
 * engine is ACCUMULATED (+=) -- parameter gradients, the input gradient dx of
 * nm_mlp_backward, the loss gradients.  Zero a buffer before its first
 * contribution (nm_mlp_zero_grad for parameters).  This is what makes
 * chaining cheap: in an unrolled map, backward of step t adds dL/dx[t] into
 * g[t], the same buffer that the loss on x[t] is added into.
 *
 * Back-propagation through an unrolled map (the rollout use case):
 *
 *     nm_mlp_ws *ws[T];                  // one tape per step, same network F
 *     x[0] = start state [B x n]
 *     for t in 0..T-1:  nm_mlp_forward(F, ws[t], B, x[t], x[t+1]);
 *     zero g[1..T]                       // g[t] = dL/dx[t], [B x n]
 *     for t in T-1..0:
 *         nm_nn_mse(B*n, x[t+1], target[t+1], w, g[t+1]);   // += loss at t+1
 *         nm_mlp_backward(F, ws[t], g[t+1], t ? g[t] : NULL, F->grads);
 *
 *   (g[t+1] is complete when step t is reached: it got the loss at t+1 and,
 *   from step t+1's backward, the gradient through all later steps.)
 *   A VAE is the same pattern across two networks: decoder backward returns
 *   dL/dz, nm_nn_reparam_backward turns it into dL/dmu, dL/dlogvar (the KL
 *   term adds its own), and the encoder's backward takes that with dx = NULL.
 *
 * Precision.  The engine is written once, in mlp_body.h, over a real type and
 * compiled twice: mlp_f32.c (float, cblas_sgemm, a fast rational tanh: the
 * engine that trains) and mlp_f64.c (double, cblas_dgemm, libm tanh: the
 * twin used by the finite-difference gradient checks, where float rounding
 * would swamp the comparison).  The double twin's names end in _f64
 * (nm_mlp_f64, nm_mlp_forward_f64, ...) and it behaves identically; its
 * declarations are at the end of this header.  Adam, EMA, batching and early
 * stopping are precision-independent bookkeeping and exist in float only.
 *
 * Threads.  No globals.  Forward and backward only read the nm_mlp; they
 * write the workspace and the gradient block they are given.  So: inference
 * from many threads = one workspace per thread (or nm_mlp_apply1, which
 * needs none, for single vectors); data-parallel training = one
 * workspace and one gradient block per thread, summed before the Adam step.
 * OpenBLAS may run its own threads inside sgemm: when the caller runs many
 * threads itself, set OPENBLAS_NUM_THREADS=1.
 *
 * Determinism.  Same seed, same machine, same OpenBLAS -> bit-identical
 * results (tests/unit/test_nn_train.c).  Our own loops use fixed summation
 * orders and no FMA contraction, and their run-time-selected SIMD variants
 * (nn_simd.h) give identical bits; sgemm's results may differ in the last
 * bits between CPU kernels that OpenBLAS selects on different machines.
 */
#ifndef NM_NN_H
#define NM_NN_H

#include "neuromap.h"
#include "rng.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Activations                                                               */
/* ------------------------------------------------------------------------ */

/* The numeric values are stable: the model file stores them. */
typedef enum nm_act {
    NM_ACT_IDENTITY = 0,
    NM_ACT_TANH = 1,      /* the workhorse; float build: rational approx, rel. err < 1e-6 */
    NM_ACT_RELU = 2,
    NM_ACT_SOFTPLUS = 3,  /* log(1 + e^x) */
    NM_ACT_SIGMOID = 4    /* 1 / (1 + e^-x) */
} nm_act;
#define NM_ACT_COUNT 5

/* "identity", "tanh", ...; NULL for an unknown value. */
const char *nm_act_name(nm_act a);
/* Name -> value; NM_ENOTFOUND (with the list of names) if unknown. */
nm_status nm_act_parse(const char *name, nm_act *a);

/* ------------------------------------------------------------------------ */
/* The layer table (shared by both precisions)                               */
/* ------------------------------------------------------------------------ */

typedef struct nm_dense {
    size_t in, out;   /* input and output widths */
    nm_act act;       /* applied to x W^T + b */
    size_t w_off;     /* W [out x in], row-major, at params + w_off */
    size_t b_off;     /* b [out] at params + b_off */
} nm_dense;

/* Number of parameters of an MLP with widths sizes[0..nlayers] (0 if any
 * size is 0 or nlayers is 0). */
size_t nm_mlp_count_params(size_t nlayers, const size_t *sizes);

/* Fill the table layer[0..nlayers-1] (offsets in the layout above) and
 * return the parameter count; checks sizes and activations. */
nm_status nm_mlp_layout(size_t nlayers, const size_t *sizes, const nm_act *acts,
                        nm_dense *layer, size_t *nparams);

/* Weight initialisation (biases are set to 0). */
typedef enum nm_init {
    NM_INIT_AUTO = 0,           /* He normal for relu layers, Xavier uniform otherwise */
    NM_INIT_XAVIER_UNIFORM = 1, /* U(-a, a), a = sqrt(6 / (in + out))  (Glorot & Bengio 2010) */
    NM_INIT_XAVIER_NORMAL = 2,  /* N(0, 2 / (in + out)) */
    NM_INIT_HE_UNIFORM = 3,     /* U(-a, a), a = sqrt(6 / in)          (He et al. 2015) */
    NM_INIT_HE_NORMAL = 4       /* N(0, 2 / in) */
} nm_init;

/* ------------------------------------------------------------------------ */
/* MLP (float)                                                               */
/* ------------------------------------------------------------------------ */

typedef struct nm_mlp {
    size_t nlayers;
    nm_dense *layer;     /* [nlayers]: widths, activations, offsets */
    size_t nparams;      /* floats in params (and in grads) */
    size_t max_width;    /* max over sizes[0..nlayers] */
    float *params;       /* [nparams] */
    float *grads;        /* [nparams], same layout */
    int owns_blocks;     /* 1: params/grads allocated here; 0: a view */
} nm_mlp;

/* sizes[0..nlayers]: widths (input, hidden..., output); acts[0..nlayers-1]:
 * the activation of each layer.  Parameters and gradients are zeroed; call
 * nm_mlp_init.  NULL (and a message) on bad sizes or no memory. */
nm_mlp *nm_mlp_alloc(size_t nlayers, const size_t *sizes, const nm_act *acts);

/* The same, but params/grads point into caller-owned blocks of at least
 * nm_mlp_count_params(nlayers, sizes) floats, untouched here.  This is how
 * several networks share ONE block (the VAE: encoder at offset 0, decoder
 * right after it), so one Adam and one gradient norm see all of them. */
nm_mlp *nm_mlp_alloc_view(size_t nlayers, const size_t *sizes, const nm_act *acts,
                          float *params, float *grads);
void nm_mlp_free(nm_mlp *m);

/* A new owning MLP with the same shape and parameter values (grads zero):
 * e.g. to evaluate EMA-averaged weights next to the trained ones. */
nm_mlp *nm_mlp_clone(const nm_mlp *m);

void nm_mlp_zero_grad(nm_mlp *m);

/* Initialise weights from rng (deterministic: layer after layer, W in
 * row-major order); biases 0. */
nm_status nm_mlp_init(nm_mlp *m, nm_rng *rng, nm_init scheme);

/* The tape of one forward pass, for up to max_batch rows. */
typedef struct nm_mlp_ws {
    size_t max_batch;    /* capacity (rows) */
    size_t batch;        /* rows of the last forward; 0 before any */
    size_t nlayers;
    size_t *width;       /* [nlayers+1] widths it was made for */
    float **act;         /* [nlayers+1]: act[0] = copy of the input [batch x width[0]],
                            act[l+1] = output of layer l [batch x width[l+1]] */
    float *delta[2];     /* backward scratch, [max_batch x max_width] each */
    float *mem;          /* one allocation behind all of the above buffers */
} nm_mlp_ws;

/* A workspace fitting m (and any MLP of the same widths). */
nm_mlp_ws *nm_mlp_ws_alloc(const nm_mlp *m, size_t max_batch);
void nm_mlp_ws_free(nm_mlp_ws *ws);

/* Output of the last forward, [ws->batch x out]: valid until the next
 * forward on ws. */
static inline const float *nm_mlp_ws_output(const nm_mlp_ws *ws) { return ws->act[ws->nlayers]; }

/* x [B x in] row-major -> y [B x out] (y may be NULL: read nm_mlp_ws_output).
 * Records the tape in ws (x is copied, so x may be reused or may be another
 * workspace's output, e.g. the previous step of a rollout).
 * B <= ws->max_batch; B = 0 is a no-op.
 * Batches of NM_MLP_SMALL_BATCH rows or fewer take plain loops (a BLAS call
 * costs more than the arithmetic there); larger batches cblas_sgemm. */
nm_status nm_mlp_forward(const nm_mlp *m, nm_mlp_ws *ws, size_t B, const float *x, float *y);

/* One vector, plain loops: the free-run / NEURON step.  x [in] -> y [out].
 * Same tape as nm_mlp_forward with B = 1. */
nm_status nm_mlp_forward1(const nm_mlp *m, nm_mlp_ws *ws, const float *x, float *y);

/* One vector without a workspace (stack buffers, nothing recorded): the
 * step of a learned cell, where many cells on many threads share one
 * read-only network.  Bit-identical to nm_mlp_forward1.  x [in] and y [out]
 * must not overlap.  NM_EINVAL if a width exceeds NM_MLP_APPLY1_MAX_WIDTH. */
#define NM_MLP_APPLY1_MAX_WIDTH 512
nm_status nm_mlp_apply1(const nm_mlp *m, const float *x, float *y);

/* Back-propagate dy = dL/dy [ws->batch x out] through the pass recorded in
 * ws.  Adds dL/dparams into grads (usually m->grads; NULL: skip, e.g. a
 * frozen network), adds dL/dx [batch x in] into dx (NULL: skip, which also
 * saves the first layer's input-gradient GEMM).  ws is not modified except
 * for its scratch, so a pass may be back-propagated more than once. */
nm_status nm_mlp_backward(const nm_mlp *m, nm_mlp_ws *ws, const float *dy, float *dx,
                          float *grads);

/* Rows at or below which forward uses plain loops instead of sgemm.
 * Measured by bench_nn (docs/nn.md): on a 4-128-128-3 map net one row takes
 * 1.0 us with loops and 4.1 us through sgemm, two rows 1.0 and 2.3 us a row;
 * at 4 rows they are level (1.1 us). */
#define NM_MLP_SMALL_BATCH 2

/* OpenBLAS on one thread between begin and end (process-wide; nested and
 * concurrent pairs are counted, the setting found at the outermost begin
 * is restored at the last end).  Trainers that run their own threads use
 * it: a threaded sgemm inside each worker would oversubscribe the cores and
 * give other bits than the single-threaded one. */
void nm_blas_single_begin(void);
void nm_blas_single_end(void);

/* ------------------------------------------------------------------------ */
/* Activations, losses and the VAE pieces (float)                            */
/* ------------------------------------------------------------------------ */

/* x[i] = f(x[i]) in place. */
void nm_nn_act_apply(nm_act a, size_t n, float *x);
/* dy[i] *= f'(z_i), given the activation OUTPUTS y[i] = f(z_i) (every
 * activation here has its derivative as a function of its output). */
void nm_nn_act_grad(nm_act a, size_t n, const float *y, float *dy);

/* Mean squared error over n values: returns L = weight/n * sum (y - t)^2 and,
 * if dy != NULL, adds dL/dy = 2 weight/n (y - t).  (Mean over all elements,
 * like PyTorch's MSELoss; pass weight = out_width to get "sum over features,
 * mean over rows".) */
double nm_nn_mse(size_t n, const float *y, const float *t, double weight, float *dy);

/* KL(N(mu, exp(logvar)) || N(0, 1)) of B rows x D units:
 *     kl(b, j) = 0.5 (mu^2 + exp(logvar) - 1 - logvar),
 *     returns L = weight/B * sum_b sum_j kl(b, j)  (sum over units, mean over rows).
 * mu[b*ld + j], logvar[b*ld + j] (an encoder output [B x 2D] has mu = h,
 * logvar = h + D, ld = 2D).  If dmu/dlogvar != NULL (same stride ld) adds
 *     dL/dmu = weight/B mu,   dL/dlogvar = weight/B * 0.5 (exp(logvar) - 1).
 * If unit_kl != NULL adds sum_b kl(b, j) into unit_kl[j] (unweighted; divide
 * by the rows seen for the per-unit KL in nats used to count active units). */
double nm_nn_kl_gauss(size_t B, size_t D, const float *mu, const float *logvar, size_t ld,
                      double weight, float *dmu, float *dlogvar, double *unit_kl);

/* Reparameterisation: z[b*D + j] = mu + exp(0.5 logvar) * eps[b*D + j]
 * (mu, logvar with stride ld as above; eps, z dense [B x D]). */
void nm_nn_reparam_forward(size_t B, size_t D, const float *mu, const float *logvar,
                           size_t ld, const float *eps, float *z);
/* Given dz = dL/dz [B x D]: adds dL/dmu = dz and dL/dlogvar = dz * eps *
 * 0.5 exp(0.5 logvar) (stride ld). */
void nm_nn_reparam_backward(size_t B, size_t D, const float *logvar, size_t ld,
                            const float *eps, const float *dz, float *dmu, float *dlogvar);

/* n standard normal draws from rng. */
void nm_nn_gauss_fill(nm_rng *rng, size_t n, float *x);

/* ------------------------------------------------------------------------ */
/* Adam over a flat block                                                    */
/* ------------------------------------------------------------------------ */

typedef struct nm_adam_opts {
    double lr;           /* step size (may be changed between steps: schedules) */
    double beta1;        /* first-moment decay */
    double beta2;        /* second-moment decay */
    double eps;          /* added to sqrt(v_hat) */
    double weight_decay; /* decoupled (AdamW): p -= lr*wd*p each step; 0 = off */
    double clip_norm;    /* scale the whole gradient to this global L2 norm if
                            larger (as torch clip_grad_norm_); 0 = off */
} nm_adam_opts;

/* lr 1e-3, betas 0.9 / 0.999, eps 1e-8, no decay, no clipping (Kingma & Ba 2015). */
void nm_adam_opts_default(nm_adam_opts *o);

typedef struct nm_adam {
    size_t n;            /* parameters */
    nm_adam_opts o;      /* options; o.lr may be changed between steps */
    uint64_t t;          /* steps taken */
    float *m, *v;        /* first and second moments [n] */
} nm_adam;

nm_adam *nm_adam_alloc(size_t n, const nm_adam_opts *o);
void nm_adam_free(nm_adam *a);
/* Forget the moments and the step count. */
void nm_adam_reset(nm_adam *a);

/* One step: params -= update(grads).  grads are only read (clipping is
 * applied on the fly).  *grad_norm (if not NULL) gets the global L2 norm of
 * grads before clipping.  A non-finite gradient is refused with NM_ENUMERIC
 * and leaves params, moments and t untouched. */
nm_status nm_adam_step(nm_adam *a, float *params, const float *grads, double *grad_norm);

/* ------------------------------------------------------------------------ */
/* Exponential moving average of weights                                     */
/* ------------------------------------------------------------------------ */

typedef struct nm_ema {
    size_t n;
    double decay;        /* shadow = decay * shadow + (1 - decay) * params */
    uint64_t updates;
    float *shadow;       /* [n] averaged parameters */
} nm_ema;

nm_ema *nm_ema_alloc(size_t n, double decay);   /* 0 <= decay < 1 */
void nm_ema_free(nm_ema *e);
/* Fold params in; the first update copies them. */
void nm_ema_update(nm_ema *e, const float *params);

/* ------------------------------------------------------------------------ */
/* Minibatches, validation split, early stopping                             */
/* ------------------------------------------------------------------------ */

/* idx[i] = i. */
void nm_nn_iota(size_t n, size_t *idx);
/* Fisher-Yates shuffle of idx[0..n-1] with rng (unbiased: nm_rng_below). */
void nm_nn_shuffle(nm_rng *rng, size_t n, size_t *idx);
/* dst row r = src row idx[r], rows of cols floats: a minibatch. */
void nm_nn_gather_rows(const float *src, size_t cols, const size_t *idx, size_t n, float *dst);

/* Split n samples: idx[0..ntrain-1] for training, idx[ntrain..n-1] for
 * validation, nval = round(n * val_frac) (at least 1 if val_frac > 0; at
 * least 1 training sample).  rng != NULL: a random split; rng == NULL: the
 * LAST nval samples in order -- for overlapping delay vectors of one series
 * a random split leaks neighbours of validation samples into training. */
nm_status nm_nn_split(size_t n, double val_frac, nm_rng *rng, size_t *idx, size_t *ntrain,
                      size_t *nval);

/* Early stopping: remembers the best validation loss and a snapshot of the
 * parameters that gave it; says "stop" after `patience` updates without an
 * improvement of more than min_delta. */
typedef struct nm_early_stop {
    size_t n;             /* parameters in a snapshot */
    size_t patience;
    double min_delta;     /* improvement must exceed this (absolute) */
    double best;          /* best loss so far (+inf before the first) */
    size_t epoch;         /* updates seen */
    size_t best_epoch;    /* 1-based update index of the best; 0 = none */
    size_t bad;           /* updates since the best */
    float *best_params;   /* [n] snapshot at the best */
} nm_early_stop;

nm_early_stop *nm_early_stop_alloc(size_t nparams, size_t patience, double min_delta);
void nm_early_stop_free(nm_early_stop *es);
/* Record one validation loss (NaN never improves); snapshots params on an
 * improvement.  Returns 1 when training should stop, else 0. */
int nm_early_stop_update(nm_early_stop *es, double val_loss, const float *params);
/* Copy the best snapshot into params; NM_EINVAL if there is none yet. */
nm_status nm_early_stop_restore(const nm_early_stop *es, float *params);

/* ------------------------------------------------------------------------ */
/* The double twin (mlp_f64.c): same semantics as the float functions above  */
/* ------------------------------------------------------------------------ */

typedef struct nm_mlp_f64 {
    size_t nlayers;
    nm_dense *layer;
    size_t nparams;
    size_t max_width;
    double *params;
    double *grads;
    int owns_blocks;
} nm_mlp_f64;

typedef struct nm_mlp_ws_f64 {
    size_t max_batch;
    size_t batch;
    size_t nlayers;
    size_t *width;
    double **act;
    double *delta[2];
    double *mem;
} nm_mlp_ws_f64;

nm_mlp_f64 *nm_mlp_alloc_f64(size_t nlayers, const size_t *sizes, const nm_act *acts);
nm_mlp_f64 *nm_mlp_alloc_view_f64(size_t nlayers, const size_t *sizes, const nm_act *acts,
                                  double *params, double *grads);
void nm_mlp_free_f64(nm_mlp_f64 *m);
nm_mlp_f64 *nm_mlp_clone_f64(const nm_mlp_f64 *m);
void nm_mlp_zero_grad_f64(nm_mlp_f64 *m);
nm_status nm_mlp_init_f64(nm_mlp_f64 *m, nm_rng *rng, nm_init scheme);
nm_mlp_ws_f64 *nm_mlp_ws_alloc_f64(const nm_mlp_f64 *m, size_t max_batch);
void nm_mlp_ws_free_f64(nm_mlp_ws_f64 *ws);
static inline const double *nm_mlp_ws_output_f64(const nm_mlp_ws_f64 *ws)
{
    return ws->act[ws->nlayers];
}
nm_status nm_mlp_forward_f64(const nm_mlp_f64 *m, nm_mlp_ws_f64 *ws, size_t B, const double *x,
                             double *y);
nm_status nm_mlp_forward1_f64(const nm_mlp_f64 *m, nm_mlp_ws_f64 *ws, const double *x,
                              double *y);
nm_status nm_mlp_apply1_f64(const nm_mlp_f64 *m, const double *x, double *y);
nm_status nm_mlp_backward_f64(const nm_mlp_f64 *m, nm_mlp_ws_f64 *ws, const double *dy,
                              double *dx, double *grads);
void nm_nn_act_apply_f64(nm_act a, size_t n, double *x);
void nm_nn_act_grad_f64(nm_act a, size_t n, const double *y, double *dy);
double nm_nn_mse_f64(size_t n, const double *y, const double *t, double weight, double *dy);
double nm_nn_kl_gauss_f64(size_t B, size_t D, const double *mu, const double *logvar, size_t ld,
                          double weight, double *dmu, double *dlogvar, double *unit_kl);
void nm_nn_reparam_forward_f64(size_t B, size_t D, const double *mu, const double *logvar,
                               size_t ld, const double *eps, double *z);
void nm_nn_reparam_backward_f64(size_t B, size_t D, const double *logvar, size_t ld,
                                const double *eps, const double *dz, double *dmu,
                                double *dlogvar);
void nm_nn_gauss_fill_f64(nm_rng *rng, size_t n, double *x);

/* Copy between precisions (same widths required): float weights -> a double
 * twin for checks, or back. */
nm_status nm_mlp_params_to_f64(const nm_mlp *src, nm_mlp_f64 *dst);
nm_status nm_mlp_params_from_f64(const nm_mlp_f64 *src, nm_mlp *dst);

#endif
