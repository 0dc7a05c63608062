/* map.h -- the neural-network map x(n+1) = F(x(n), p) (private).
 *
 * F works in standardised units: every latent unit is shifted and scaled to
 * zero mean / unit variance over the training data (xs = (x - mean) / std) and
 * p is scaled so the training range maps to [-1, 1] (ps = (p - center) / half).
 * The network G: [xs (D), ps] -> [D] is a tanh MLP and the map is residual:
 *     xs(n+1) = xs(n) + G(xs(n), ps).
 * A map with an input channel (nu = 1, issue 11) also sees the input over
 * the step, scaled like p (us = (u - u_center) / u_half):
 *     xs(n+1) = xs(n) + G(xs(n), ps, us(n)).
 *
 * Training (nm_map_train) runs in stages, chosen by measurement (docs/map.md):
 *   1. one-step teacher forcing with Gaussian noise on the input state;
 *   2. back-propagation through free rollouts of K steps from noisy true
 *      states (one long stage of K = 10 by default; a curriculum of growing
 *      K is possible but biases bursts toward fewer spikes), global-norm
 *      gradient clipping, an EMA of the weights;
 *   3. checkpoint selection by short free runs at the TRAINING p values
 *      (training data only): the regime of each free run is compared with the
 *      regime of the training series at that p.
 */
#ifndef NM_MAP_H
#define NM_MAP_H

#include "neuromap.h"
#include "nn/nn.h"

#define NM_MAP_MAX_D 16
/* Most ensemble members (independently trained networks averaged per step). */
#define NM_MAP_MAX_ENSEMBLE 8

typedef struct nm_map {
    size_t D;
    nm_mlp *net;                       /* [D+1+nu] -> hidden... -> [D]: member 0 */
    size_t nmembers;                   /* ensemble size (>= 1) */
    nm_mlp *members[NM_MAP_MAX_ENSEMBLE]; /* members[0] == net; the step averages
                                             the members' outputs G */
    /* Latent coordinates of the map: y = A (x - x_mean), x = x_mean + A_inv y
     * (A, A_inv [D x D] row-major).  Plain standardisation has A =
     * diag(1/std); with slow-feature coordinates (see nm_map_opts.sfa) the
     * rows of A are the generalised eigenvectors of (Cov dx, Cov x). */
    double x_mean[NM_MAP_MAX_D];
    double A[NM_MAP_MAX_D * NM_MAP_MAX_D];
    double A_inv[NM_MAP_MAX_D * NM_MAP_MAX_D];
    double p_center, p_half;           /* ps = (p - p_center) / p_half */
    size_t nu;                         /* 0, or 1: the map has an input channel */
    double u_center, u_half;           /* us = (u - u_center) / u_half */
    double u_lo, u_hi;                 /* the input range seen in training (raw units) */
    double d_scale[NM_MAP_MAX_D];      /* xs' = xs + d_scale .* G(xs, ps) */
    double bound;                      /* max |xs| of a bounded run */
} nm_map;

/* One training series in latent space: T states [T x D] (row-major, raw
 * latent units) taken at constant control value p, consecutive in time. */
typedef struct nm_map_series {
    const double *x;
    size_t T;
    double p;
    const double *v;   /* optional [T] V (mV) of state t, e.g. decoded once by the
                          caller: the regime the selection aims at is read from
                          it, spikes with hysteresis_mv (NULL: decode x here) */
    const double *u;   /* optional [T] input over the step from state t to t+1
                          (raw units; u[T-1] unused).  If any series has one,
                          the map gets an input channel; series without one
                          are driven by u = 0 */
    size_t v_from;     /* the regime the selection aims at is read from states
                          v_from..T-1 (0 for recordings, which are stationary;
                          runs that start from the model's start state, as
                          distillation's teacher runs, skip the transient the
                          selection's own free runs skip) */
} nm_map_series;

/* Decode a latent state (raw units) to V in mV: used to detect spikes in free
 * runs during checkpoint selection. */
typedef double (*nm_map_decode_fn)(const double *x, void *ctx);

typedef struct nm_map_opts {
    size_t hidden[4];
    size_t nhidden;
    /* stage 1: one-step */
    size_t onestep_epochs;
    size_t batch;
    double lr;
    double noise;               /* std of input noise, standardised units */
    int sfa;                    /* 1: map in slow-feature coordinates: a linear
                                   change of the latent variables that
                                   separates slow from fast directions
                                   (Wiskott & Sejnowski 2002), so that
                                   delta_scaling can weight each time scale */
    int delta_scaling;          /* 1: G predicts each unit's step in units of the
                                   std of that unit's one-step change, so slow
                                   units are learned with the same relative
                                   accuracy as fast ones */
    /* stage 2: rollouts (curriculum) */
    size_t nstages;
    size_t rollout_len[6];
    size_t rollout_iters[6];
    size_t rollout_batch;
    double rollout_lr;
    double clip_norm;
    double ema_decay;           /* 0 = off */
    /* stage 3: selection */
    size_t select_every;        /* iterations between checkpoint evaluations (0 = off) */
    double select_transient_ms;
    double select_window_ms;
    double dt_ms;               /* time of one map step */
    double threshold_mv;        /* spike threshold of decoded V */
    double hysteresis_mv;       /* re-arm hysteresis for the recorded V (0: 2 mV) */
    int regime_max_k;           /* longest pattern the selection looks for
                                   (0: the classifier's default, 12) */
    nm_map_decode_fn decode;    /* NULL: selection off */
    void *decode_ctx;
    const double *select_x0;    /* raw latent start state [D] of every selection
                                   free run, the state the model will be run from
                                   (NULL: each series' own first state) */
    size_t ensemble;            /* members trained with seeds seed, seed+1, ... (>= 1) */
    int threads;                /* workers training members (0 = all cores) */
    uint64_t seed;
    nm_progress_fn progress;
    void *progress_ctx;
} nm_map_opts;

void nm_map_opts_default(nm_map_opts *o);

typedef struct nm_map_report {
    double onestep_loss;        /* final one-step validation MSE (standardised) */
    double rollout_loss;        /* final rollout MSE */
    int select_score;           /* training p values whose free-run regime matched
                                   (of member 0; of the ensemble in ens_score) */
    int ens_score;
    size_t select_iter;         /* iteration of the kept checkpoint */
    double select_gamma;        /* maps with an input channel: mean coincidence factor of the
                                   kept checkpoint's driven runs on the held-out ends (NaN: none) */
    double seconds;
} nm_map_report;

nm_status nm_map_train(const nm_map_series *series, size_t nseries, size_t D, const nm_map_opts *o,
                       nm_map **out, nm_map_report *report);
void nm_map_free(nm_map *m);

/* One step in raw latent units; allocation-free, thread-safe.  NM_ENUMERIC
 * if the new state is not finite or leaves |xs| <= bound. */
nm_status nm_map_step(const nm_map *m, double p, const double *x, double *x_next);
/* The same driven by input u over the step (raw units; ignored by a map
 * without an input channel).  u is used as given: callers clamp it to
 * [u_lo, u_hi] if they want to stay inside the trained range. */
nm_status nm_map_step_u(const nm_map *m, double p, double u, const double *x, double *x_next);

/* The start state of a model: every training p is free-run from each
 * candidate (first states and later states of the training series) and
 * the candidate reproducing most training regimes is chosen (ties: the
 * earliest candidate, i.e. the first state of series 0).  The regime of
 * every training series (decoded, as the selection sees it) and of the free
 * run from the chosen start are returned per series, and over all
 * candidates the share of (start, p) runs that reach the training regime
 * (robustness to the start state).  o supplies dt, threshold, decoder,
 * selection windows and threads. */
typedef struct nm_map_start_report {
    size_t nmatch;              /* training p matched from the chosen start */
    size_t chosen;              /* index of the chosen candidate */
    size_t ncandidates;
    double robust;              /* share of all (candidate, p) runs that match */
    nm_regime *truth;           /* [nseries] regime of each training series */
    nm_regime *got;             /* [nseries] from the chosen start */
    int *diverged;              /* [nseries] the run from the chosen start diverged */
    int *match;                 /* [nseries] ... reached the series' regime */
} nm_map_start_report;
nm_status nm_map_choose_start(const nm_map *m, const nm_map_series *series, size_t nseries, const nm_map_opts *o,
                              double *x0, nm_map_start_report *rep);
void nm_map_start_report_free(nm_map_start_report *rep);

/* Store in / load from a model-file container (section "map"). */
nm_status nm_map_to_mf(const nm_map *m, nm_mf *mf);
nm_status nm_map_from_mf(const nm_mf *mf, nm_map **out);

/* Buffers of a K-step rollout of B rows (standardised units).  Fill x[0..B*D)
 * with start states, tgt [(K+1) x B x D] with the true states (row k*B + b),
 * ps [B] with scaled p; nm_map_rollout_loss then computes
 *     L = 1/K sum_{k=1..K} mean_{b,j} (x_k - tgt_k)^2
 * along the free run and, with_grad, ADDS dL/dparams into m->net->grads
 * (g[0] holds dL/dx_0 afterwards).  Exposed for the gradient check. */
typedef struct nm_map_rollout {
    size_t K, B, D;
    float *x;        /* [(K+1) x B x D] states along the run */
    float *in;       /* [K x B x (D+1+nu)] network inputs */
    float *g;        /* [(K+1) x B x D] dL/dx */
    float *tgt;      /* [(K+1) x B x D] true states */
    float *din;      /* [B x (D+1+nu)] */
    float *dout;     /* [B x D] */
    float *ps;       /* [B] scaled p of each row */
    size_t nu;       /* inputs per step (0 or 1, the map's nu) */
    float *us;       /* [K x B] scaled input of row b at step k (NULL when nu = 0) */
    nm_mlp_ws **ws;  /* [K] one tape per step */
} nm_map_rollout;
nm_status nm_map_rollout_alloc(nm_map_rollout *r, const nm_mlp *net, size_t K, size_t B, size_t D);
/* The same for a map with nu inputs per step (0 or 1). */
nm_status nm_map_rollout_alloc_u(nm_map_rollout *r, const nm_mlp *net, size_t K, size_t B, size_t D, size_t nu);
void nm_map_rollout_free(nm_map_rollout *r);
nm_status nm_map_rollout_loss(nm_map *m, nm_map_rollout *r, double *loss, int with_grad);

#endif
