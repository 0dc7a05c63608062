/* model_check.c -- the one validation of a model file's contents
 * (nm_mf_validate), used by every reader of a learned model or autoencoder:
 * nm_learned_from_mf (so `run`, `compare`, `fixed-point`, the NEURON
 * registry and Python's LearnedModel), `neuromap info` and Python's
 * validate_model (nm_mf_check_file).
 *
 * The container reader (src/io/modelfile.c) has already checked the bytes:
 * structure, CRC, unique names, finite floats.  This checks what the entries
 * mean, in an order that never allocates from a dimension before that
 * dimension is checked against what the file actually holds:
 *   1. every size against its range (the runtime's and the trainer's limits);
 *   2. every layer-size list against the sizes it must follow from (De, D,
 *      the hidden widths), and every parameter array's length against the
 *      parameter count those layers imply -- so a network is only ever
 *      allocated for parameters the file contains;
 *   3. consistency between sections: map.D = vae.D, map.dt_ms = embed.dt_ms,
 *      the training p inside the map's p scaling, A times A_inv = I;
 *   4. plausible values (the ranges of docs/model-format.md, "Validation
 *      and fuzzing").
 * Every message starts with the label (the file name) and names the entry
 * and the limit. */
#include "internal.h"
#include "learn/map.h"
#include "learn/vae.h"
#include "nn/nn.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Ranges (docs/model-format.md lists them with their reasons). */
#define MC_MAX_DE_VAE ((int32_t)1 << 20)    /* nm_vae_from_mf's own limit */
#define MC_MAX_WIDTH_VAE ((int32_t)1 << 16) /* nm_vae_from_mf's own limit */
#define MC_MAX_MV 1e4                       /* |V| in mV: mean, threshold */
#define MC_MIN_STD_MV 1e-6                  /* std of V in mV */
#define MC_MIN_DT_MS 1e-6
#define MC_MAX_DT_MS 1e6
#define MC_DT_RTOL 1e-9                     /* map.dt_ms against embed.dt_ms */
#define MC_MAX_PARAM 1e6                    /* |weight| of any network */
#define MC_MAX_LATENT 1e6                   /* |latent| values, scales, bound */
#define MC_MAX_P 1e9                        /* |p|: p_center, p_half */
#define MC_MAX_BETA 1e6
#define MC_IDENTITY_TOL 1e-6                /* |A A_inv - I| entries */

typedef struct ck {
    const nm_mf *mf;
    const char *label;
} ck;

static nm_status bad(const ck *c, const char *fmt, ...) NM_PRINTF(2, 3);
static nm_status bad(const ck *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nm_fail(NM_EFORMAT, "%s: %s", c->label, msg);
}

/* A failed lookup: the container's message names its own label; make sure
 * the message starts with ours. */
static nm_status relabel(const ck *c, nm_status st)
{
    if (strncmp(nm_last_error(), c->label, strlen(c->label)) == 0) return st;
    return nm_fail_prefix(st, "%s", c->label);
}

static nm_status get_i32(const ck *c, const char *name, int32_t lo, int32_t hi, int32_t *out)
{
    int32_t x = 0;
    nm_status st = nm_mf_get_scalar_i32(c->mf, name, &x);
    if (st) return relabel(c, st);
    if (x < lo || x > hi) return bad(c, "entry '%s' = %d is out of range [%d, %d]", name, (int)x, (int)lo, (int)hi);
    *out = x;
    return NM_OK;
}

/* A finite f64 scalar in [lo, hi]. */
static nm_status get_f64(const ck *c, const char *name, double lo, double hi, double *out)
{
    double x = 0;
    nm_status st = nm_mf_get_scalar_f64(c->mf, name, &x);
    if (st) return relabel(c, st);
    if (!(x >= lo && x <= hi)) return bad(c, "entry '%s' = %g is out of range [%g, %g]", name, x, lo, hi);
    *out = x;
    return NM_OK;
}

/* An f64 array of n elements (NM_MF_ANY: any), each |x| <= maxabs. */
static nm_status get_f64s(const ck *c, const char *name, size_t n, double maxabs, const double **x, size_t *nout)
{
    const double *d = NULL;
    size_t got = 0;
    nm_status st = nm_mf_get_f64(c->mf, name, n, &d, &got);
    if (st) return relabel(c, st);
    for (size_t i = 0; i < got; i++)
        if (!(fabs(d[i]) <= maxabs))
            return bad(c, "entry '%s': element %zu = %g is out of range [%g, %g]", name, i, d[i], -maxabs, maxabs);
    if (x) *x = d;
    if (nout) *nout = got;
    return NM_OK;
}

/* A network stored as <sizes> (nl+1 widths), <acts> (nl codes) and <params>
 * (f32): the sizes must be exactly want_sz, the activations want_act, and
 * params must hold exactly the parameters these layers have. */
static nm_status check_net(const ck *c, const char *sizes_name, const char *acts_name, const char *params_name,
                           size_t nl, const size_t *want_sz, const int32_t *want_act, const char *why)
{
    const int32_t *sz, *act;
    const float *p;
    size_t np = 0;
    nm_status st;
    if ((st = nm_mf_get_i32(c->mf, sizes_name, nl + 1, &sz, NULL))) return relabel(c, st);
    for (size_t l = 0; l <= nl; l++)
        if (sz[l] < 0 || (size_t)sz[l] != want_sz[l])
            return bad(c, "entry '%s': layer size %zu is %d, but %s require %zu", sizes_name, l, (int)sz[l], why,
                       want_sz[l]);
    if ((st = nm_mf_get_i32(c->mf, acts_name, nl, &act, NULL))) return relabel(c, st);
    for (size_t l = 0; l < nl; l++)
        if (act[l] != want_act[l])
            return bad(c, "entry '%s': activation %zu is %d, expected %d (%s)", acts_name, l, (int)act[l],
                       (int)want_act[l], nm_act_name((nm_act)want_act[l]));
    /* Widths are bounded (<= 2^20 each), so this cannot overflow. */
    size_t want = nm_mlp_count_params(nl, want_sz);
    if ((st = nm_mf_get_f32(c->mf, params_name, NM_MF_ANY, &p, &np))) return relabel(c, st);
    if (np != want)
        return bad(c, "entry '%s' has %zu parameters, but the layers %s require %zu", params_name, np,
                   sizes_name, want);
    for (size_t i = 0; i < np; i++)
        if (!(fabsf(p[i]) <= (float)MC_MAX_PARAM))
            return bad(c, "entry '%s': parameter %zu = %g is out of range [%g, %g]", params_name, i, (double)p[i],
                       -MC_MAX_PARAM, MC_MAX_PARAM);
    return NM_OK;
}

/* The autoencoder: sections norm, embed, vae (entries of src/learn/vae.c). */
static nm_status check_vae(const ck *c, int runtime, int32_t *Dout, double *dt_out)
{
    /* A learned model's runtime decodes one vector at a time through
     * nm_mlp_apply1: De and every width at most NM_MLP_APPLY1_MAX_WIDTH. */
    const int32_t max_de = runtime ? NM_MLP_APPLY1_MAX_WIDTH : MC_MAX_DE_VAE;
    const int32_t max_w = runtime ? NM_MLP_APPLY1_MAX_WIDTH : MC_MAX_WIDTH_VAE;
    int32_t de = 0, D = 0, active = 0, epochs = 0;
    const int32_t *hid, *eacts;
    size_t nh = 0;
    double mean = 0, sd = 0, dt = 0, beta = 0;
    nm_status st;
    if ((st = get_i32(c, "embed.de", 1, max_de, &de)) || (st = get_i32(c, "vae.D", 1, NM_VAE_MAX_LATENT, &D)))
        return st;
    if ((st = nm_mf_get_i32(c->mf, "vae.hidden", NM_MF_ANY, &hid, &nh))) return relabel(c, st);
    if (nh < 1 || nh > NM_VAE_MAX_HIDDEN)
        return bad(c, "entry 'vae.hidden' has %zu layers, expected 1..%d", nh, NM_VAE_MAX_HIDDEN);
    for (size_t l = 0; l < nh; l++)
        if (hid[l] < 1 || hid[l] > max_w)
            return bad(c, "entry 'vae.hidden': width %d out of range [1, %d]", (int)hid[l], (int)max_w);
    if ((st = get_f64(c, "embed.dt_ms", MC_MIN_DT_MS, MC_MAX_DT_MS, &dt)) ||
        (st = get_f64(c, "norm.v_mean", -MC_MAX_MV, MC_MAX_MV, &mean)) ||
        (st = get_f64(c, "norm.v_std", MC_MIN_STD_MV, MC_MAX_MV, &sd)) ||
        (st = get_f64(c, "vae.beta", 0, MC_MAX_BETA, &beta)))
        return st;
    /* The hidden activation is the encoder's first; every hidden layer of
     * both networks has it, the output layers are linear. */
    if ((st = nm_mf_get_i32(c->mf, "vae.enc.acts", nh + 1, &eacts, NULL))) return relabel(c, st);
    if (eacts[0] < 0 || eacts[0] >= NM_ACT_COUNT)
        return bad(c, "entry 'vae.enc.acts': unknown activation %d", (int)eacts[0]);
    size_t esz[NM_VAE_MAX_HIDDEN + 2], dsz[NM_VAE_MAX_HIDDEN + 2];
    int32_t acts[NM_VAE_MAX_HIDDEN + 1];
    esz[0] = (size_t)de;
    dsz[0] = (size_t)D;
    for (size_t l = 0; l < nh; l++) {
        esz[l + 1] = (size_t)hid[l];
        dsz[l + 1] = (size_t)hid[nh - 1 - l];
        acts[l] = eacts[0];
    }
    esz[nh + 1] = 2 * (size_t)D;
    dsz[nh + 1] = (size_t)de;
    acts[nh] = NM_ACT_IDENTITY;
    if ((st = check_net(c, "vae.enc.sizes", "vae.enc.acts", "vae.enc.params", nh + 1, esz, acts,
                        "embed.de, vae.hidden and vae.D")) ||
        (st = check_net(c, "vae.dec.sizes", "vae.dec.acts", "vae.dec.params", nh + 1, dsz, acts,
                        "vae.D, vae.hidden and embed.de")))
        return st;
    if ((st = get_i32(c, "vae.epochs_run", 0, INT32_MAX, &epochs)) ||
        (st = get_f64s(c, "vae.losses", 5, INFINITY, NULL, NULL)) ||
        (st = get_f64s(c, "vae.unit_kl", (size_t)D, INFINITY, NULL, NULL)) ||
        (st = get_f64s(c, "vae.unit_var", (size_t)D, INFINITY, NULL, NULL)) ||
        (st = get_i32(c, "vae.active_units", 0, D, &active)))
        return st;
    *Dout = D;
    *dt_out = dt;
    return NM_OK;
}

/* The V head (src/learn/vhead.h), optional: vhead.sizes, vhead.acts and
 * vhead.params all or none; D -> hidden... -> 1 with every width within the
 * runtime's NM_MLP_APPLY1_MAX_WIDTH, known activations, the exact parameter
 * count; the fit's vhead.rms_mv / vhead.max_mv (mV), if stored, finite and
 * >= 0.  Checked for an autoencoder file too (the head decodes its latent
 * states). */
static nm_status check_vhead(const ck *c, int32_t vae_D)
{
    static const char *const names[3] = {"vhead.sizes", "vhead.acts", "vhead.params"};
    static const char *const scalars[2] = {"vhead.rms_mv", "vhead.max_mv"};
    nm_status st;
    for (int k = 0; k < 2; k++) {
        double x;
        if (nm_mf_has(c->mf, scalars[k]) && (st = get_f64(c, scalars[k], 0, DBL_MAX, &x))) return st;
    }
    int have = -1;
    for (int k = 0; k < 3 && have < 0; k++)
        if (nm_mf_has(c->mf, names[k])) have = k;
    if (have < 0) return NM_OK;
    for (int k = 0; k < 3; k++)
        if (!nm_mf_has(c->mf, names[k]))
            return bad(c, "entry '%s' is present but '%s' is missing (a V head is stored as vhead.sizes, vhead.acts "
                       "and vhead.params together)", names[have], names[k]);
    const int32_t *sz, *act;
    size_t nsz = 0;
    if ((st = nm_mf_get_i32(c->mf, names[0], NM_MF_ANY, &sz, &nsz))) return relabel(c, st);
    if (nsz < 3 || nsz > 6)
        return bad(c, "entry 'vhead.sizes' has %zu entries, expected 3..6 (1..4 hidden layers)", nsz);
    size_t want[6];
    for (size_t l = 0; l < nsz; l++) {
        if (sz[l] < 1 || sz[l] > NM_MLP_APPLY1_MAX_WIDTH)
            return bad(c, "entry 'vhead.sizes': width %zu = %d is out of range [1, %d]", l, (int)sz[l],
                       NM_MLP_APPLY1_MAX_WIDTH);
        want[l] = (size_t)sz[l];
    }
    if (sz[0] != vae_D)
        return bad(c, "entry 'vhead.sizes' starts at %d, but the VAE's latent dimension vae.D is %d", (int)sz[0],
                   (int)vae_D);
    if (sz[nsz - 1] != 1)
        return bad(c, "entry 'vhead.sizes' ends at %d, but a V head has one output (V)", (int)sz[nsz - 1]);
    if ((st = nm_mf_get_i32(c->mf, names[1], nsz - 1, &act, NULL))) return relabel(c, st);
    for (size_t l = 0; l + 1 < nsz; l++)
        if (act[l] < 0 || act[l] >= NM_ACT_COUNT)
            return bad(c, "entry 'vhead.acts': activation %zu = %d is unknown (0..%d)", l, (int)act[l],
                       NM_ACT_COUNT - 1);
    /* Sizes and activations are the file's own (checked above); check_net
     * adds the parameter count and range. */
    return check_net(c, names[0], names[1], names[2], nsz - 1, want, act, "the widths");
}

/* The map (entries of src/learn/map.c and the map.* / meta.* entries that
 * src/learn/learned.c adds), against the autoencoder's D and dt. */
static nm_status check_map(const ck *c, int32_t vae_D, double vae_dt)
{
    if (!nm_mf_has(c->mf, "map.D"))
        return bad(c, "it holds a VAE but no map (train one with `neuromap train`)");
    int32_t D, members = 1;
    const int32_t *sizes, *acts;
    size_t nsz = 0;
    nm_status st;
    if ((st = get_i32(c, "map.D", 1, NM_MAP_MAX_D, &D))) return st;
    if (D != vae_D) return bad(c, "map.D = %d but the VAE's latent dimension vae.D is %d", (int)D, (int)vae_D);
    if ((st = nm_mf_get_i32(c->mf, "map.sizes", NM_MF_ANY, &sizes, &nsz))) return relabel(c, st);
    if (nsz < 2 || nsz > 6) return bad(c, "entry 'map.sizes' has %zu entries, expected 2..6", nsz);
    size_t usz[6];
    for (size_t i = 0; i < nsz; i++) {
        if (sizes[i] < 1 || sizes[i] > NM_MLP_APPLY1_MAX_WIDTH)
            return bad(c, "entry 'map.sizes': width %zu = %d is out of range [1, %d]", i, (int)sizes[i],
                       NM_MLP_APPLY1_MAX_WIDTH);
        usz[i] = (size_t)sizes[i];
    }
    /* A map with an input channel (map.nu = 1, issue 11) takes [x, p, u]. */
    int32_t nu = 0;
    if (nm_mf_has(c->mf, "map.nu") && (st = get_i32(c, "map.nu", 0, 1, &nu))) return st;
    if (nu) {
        double uc, uh, ulo, uhi;
        if ((st = get_f64(c, "map.u_center", -MC_MAX_P, MC_MAX_P, &uc)) ||
            (st = get_f64(c, "map.u_half", DBL_MIN, MC_MAX_P, &uh)) ||
            (st = get_f64(c, "map.u_lo", -MC_MAX_P, MC_MAX_P, &ulo)) ||
            (st = get_f64(c, "map.u_hi", -MC_MAX_P, MC_MAX_P, &uhi)))
            return st;
        if (ulo > uhi) return bad(c, "entry 'map.u_lo' = %g is above 'map.u_hi' = %g", ulo, uhi);
    }
    if (usz[0] != (size_t)D + 1 + (size_t)nu || usz[nsz - 1] != (size_t)D)
        return bad(c, "entry 'map.sizes' runs %zu..%zu, but map.D = %d and map.nu = %d require %d..%d", usz[0],
                   usz[nsz - 1], (int)D, (int)nu, (int)(D + 1 + nu), (int)D);
    if ((st = nm_mf_get_i32(c->mf, "map.acts", nsz - 1, &acts, NULL))) return relabel(c, st);
    for (size_t i = 0; i + 1 < nsz; i++) {
        if (acts[i] < 0 || acts[i] >= NM_ACT_COUNT)
            return bad(c, "entry 'map.acts': activation %zu = %d is unknown (0..%d)", i, (int)acts[i],
                       NM_ACT_COUNT - 1);
    }
    /* Files written before ensembles have no map.members. */
    if (nm_mf_has(c->mf, "map.members") && (st = get_i32(c, "map.members", 1, NM_MAP_MAX_ENSEMBLE, &members)))
        return st;
    const size_t per = nm_mlp_count_params(nsz - 1, usz);
    const float *params;
    size_t np = 0;
    if ((st = nm_mf_get_f32(c->mf, "map.params", NM_MF_ANY, &params, &np))) return relabel(c, st);
    if (np != per * (size_t)members)
        return bad(c, "entry 'map.params' has %zu parameters, but map.sizes and map.members require %zu x %d = %zu",
                   np, per, (int)members, per * (size_t)members);
    for (size_t i = 0; i < np; i++)
        if (!(fabsf(params[i]) <= (float)MC_MAX_PARAM))
            return bad(c, "entry 'map.params': parameter %zu = %g is out of range [%g, %g]", i,
                       (double)params[i], -MC_MAX_PARAM, MC_MAX_PARAM);

    const size_t d = (size_t)D;
    const double *A, *Ainv, *dsc;
    double bound, pc, ph, dt, thr;
    if ((st = get_f64s(c, "map.x_mean", d, MC_MAX_LATENT, NULL, NULL)) ||
        (st = get_f64s(c, "map.A", d * d, INFINITY, &A, NULL)) ||
        (st = get_f64s(c, "map.A_inv", d * d, INFINITY, &Ainv, NULL)) ||
        (st = get_f64s(c, "map.d_scale", d, MC_MAX_LATENT, &dsc, NULL)) ||
        (st = get_f64(c, "map.bound", DBL_MIN, MC_MAX_LATENT, &bound)) ||
        (st = get_f64(c, "map.p_center", -MC_MAX_P, MC_MAX_P, &pc)) ||
        (st = get_f64(c, "map.p_half", DBL_MIN, MC_MAX_P, &ph)))
        return st;
    for (size_t j = 0; j < d; j++)
        if (!(dsc[j] > 0)) return bad(c, "entry 'map.d_scale': element %zu = %g must be > 0", j, dsc[j]);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0;
            for (size_t k = 0; k < d; k++) acc += A[i * d + k] * Ainv[k * d + j];
            if (!(fabs(acc - (i == j)) <= MC_IDENTITY_TOL))
                return bad(c, "map.A times map.A_inv is not the identity (entry %zu,%zu = %g, tolerance %g)", i, j,
                           acc, MC_IDENTITY_TOL);
        }
    if ((st = get_f64(c, "map.dt_ms", MC_MIN_DT_MS, MC_MAX_DT_MS, &dt))) return st;
    if (!(fabs(dt - vae_dt) <= MC_DT_RTOL * vae_dt))
        return bad(c, "map.dt_ms = %g ms but the VAE's samples are embed.dt_ms = %g ms apart: one map step must be "
                   "one sample", dt, vae_dt);
    if ((st = get_f64(c, "map.threshold_mv", -MC_MAX_MV, MC_MAX_MV, &thr)) ||
        (st = get_f64s(c, "map.x0", d, MC_MAX_LATENT, NULL, NULL)))
        return st;
    /* The map scales p as (p - p_center) / p_half from the training range:
     * every training p lies within p_center +- p_half. */
    const double *tp;
    size_t ntp = 0;
    if ((st = get_f64s(c, "meta.train_p", NM_MF_ANY, MC_MAX_P, &tp, &ntp))) return st;
    if (ntp == 0) return bad(c, "entry 'meta.train_p' is empty (a map is trained on at least one p)");
    const double tol = 1e-9 * (fabs(pc) + ph);
    for (size_t i = 0; i < ntp; i++)
        if (!(fabs(tp[i] - pc) <= ph + tol))
            return bad(c, "meta.train_p[%zu] = %g is outside the map's training range map.p_center +- map.p_half "
                       "= %g +- %g", i, tp[i], pc, ph);
    return NM_OK;
}

/* The rules of nm_learned_check_p_label for one string; NULL if it passes,
 * else what is wrong. */
static const char *p_label_problem(const char *s, int is_name, char *buf, size_t nbuf)
{
    size_t n = strlen(s), max = is_name ? NM_P_NAME_MAX : NM_P_UNIT_MAX;
    if (is_name && n == 0) return "it is empty";
    if (n > max) {
        snprintf(buf, nbuf, "it has %zu characters (at most %zu)", n, max);
        return buf;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int ok = is_name ? ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                            ch == '_' || ch == '.' || ch == '-')
                         : (ch > 0x20 && ch < 0x7f);
        if (!ok) {
            snprintf(buf, nbuf, "character %zu (byte 0x%02X) is not allowed (%s)", i, ch,
                     is_name ? "letters, digits, '_', '.', '-'" : "printable ASCII without spaces");
            return buf;
        }
    }
    return NULL;
}

nm_status nm_learned_check_p_label(const char *name, const char *unit)
{
    char buf[128];
    const char *why;
    if (name && (why = p_label_problem(name, 1, buf, sizeof buf)))
        return nm_fail(NM_EINVAL, "p name '%.40s': %s", name, why);
    if (unit && (why = p_label_problem(unit, 0, buf, sizeof buf)))
        return nm_fail(NM_EINVAL, "p unit '%.40s': %s", unit, why);
    return NM_OK;
}

/* meta.p_name and meta.p_unit, optional (older files: "p" and ""). */
static nm_status check_p_label(const ck *c)
{
    static const char *const names[2] = {"meta.p_name", "meta.p_unit"};
    for (int k = 0; k < 2; k++) {
        if (!nm_mf_has(c->mf, names[k])) continue;
        const char *s = NULL, *why;
        char buf[128];
        nm_status st = nm_mf_get_str(c->mf, names[k], &s);
        if (st) return relabel(c, st);
        if ((why = p_label_problem(s, k == 0, buf, sizeof buf)))
            return bad(c, "entry '%s' = '%.40s': %s", names[k], s, why);
    }
    return NM_OK;
}

nm_status nm_mf_validate(const nm_mf *mf, const char *label, nm_mf_kind kind)
{
    if (!label) label = "<model>";
    if (!mf) return nm_fail(NM_EINVAL, "%s: NULL model container", label);
    if (kind != NM_MF_KIND_VAE && kind != NM_MF_KIND_LEARNED)
        return nm_fail(NM_EINVAL, "%s: unknown kind of model %d", label, (int)kind);
    ck c = {mf, label};
    int32_t D = 0;
    double dt = 0;
    nm_status st = check_vae(&c, kind == NM_MF_KIND_LEARNED, &D, &dt);
    if (!st) st = check_vhead(&c, D);
    if (!st && kind == NM_MF_KIND_LEARNED) st = check_map(&c, D, dt);
    if (!st && kind == NM_MF_KIND_LEARNED) st = check_p_label(&c);
    return st;
}

nm_mf_kind nm_mf_kind_of(const nm_mf *mf)
{
    for (size_t i = 0; i < nm_mf_count(mf); i++) {
        const char *name = NULL;
        if (nm_mf_entry(mf, i, &name, NULL, NULL, NULL) == NM_OK && strncmp(name, "map.", 4) == 0)
            return NM_MF_KIND_LEARNED;
    }
    return NM_MF_KIND_VAE;
}

nm_status nm_mf_check_file(const char *path, nm_mf_kind *kind)
{
    nm_mf *mf = NULL;
    nm_status st = nm_mf_read(path, &mf);
    if (st) return st;
    nm_mf_kind k = nm_mf_kind_of(mf);
    if (kind) *kind = k;
    st = nm_mf_validate(mf, path, k);
    nm_mf_free(mf);
    return st;
}
