/* layout.c -- the precision-independent parts of the engine: activation
 * names, the layer table (offsets into the flat parameter block) and copies
 * between the float engine and its double twin. */
#include "nn/nn.h"

#include "internal.h"

#include <string.h>

static const char *const act_names[NM_ACT_COUNT] = {"identity", "tanh", "relu", "softplus",
                                                     "sigmoid"};

const char *nm_act_name(nm_act a)
{
    return ((unsigned)a < NM_ACT_COUNT) ? act_names[a] : NULL;
}

nm_status nm_act_parse(const char *name, nm_act *a)
{
    if (!name || !a) return nm_fail(NM_EINVAL, "nm_act_parse: NULL argument");
    for (unsigned i = 0; i < NM_ACT_COUNT; i++) {
        if (strcmp(name, act_names[i]) == 0) {
            *a = (nm_act)i;
            return NM_OK;
        }
    }
    return nm_fail(NM_ENOTFOUND,
                   "unknown activation '%s' (known: identity, tanh, relu, softplus, sigmoid)",
                   name);
}

size_t nm_mlp_count_params(size_t nlayers, const size_t *sizes)
{
    if (!sizes || nlayers == 0) return 0;
    size_t n = 0;
    for (size_t l = 0; l < nlayers; l++) {
        if (sizes[l] == 0 || sizes[l + 1] == 0) return 0;
        n += sizes[l + 1] * sizes[l] + sizes[l + 1];
    }
    return n;
}

/* Widths above this are refused: far beyond any network here, and it keeps
 * every product of two widths and a batch size far from size_t overflow. */
#define NM_MLP_MAX_WIDTH ((size_t)1 << 20)

nm_status nm_mlp_layout(size_t nlayers, const size_t *sizes, const nm_act *acts,
                        nm_dense *layer, size_t *nparams)
{
    if (!sizes || !acts || !layer || !nparams)
        return nm_fail(NM_EINVAL, "mlp layout: NULL argument");
    if (nlayers == 0) return nm_fail(NM_EINVAL, "mlp layout: an MLP needs at least one layer");
    size_t off = 0;
    for (size_t l = 0; l <= nlayers; l++) {
        if (sizes[l] == 0 || sizes[l] > NM_MLP_MAX_WIDTH)
            return nm_fail(NM_EINVAL, "mlp layout: width %zu of size table entry %zu is out of "
                                      "range (1..%zu)",
                           sizes[l], l, NM_MLP_MAX_WIDTH);
    }
    for (size_t l = 0; l < nlayers; l++) {
        if ((unsigned)acts[l] >= NM_ACT_COUNT)
            return nm_fail(NM_EINVAL, "mlp layout: layer %zu has unknown activation %d", l,
                           (int)acts[l]);
        layer[l].in = sizes[l];
        layer[l].out = sizes[l + 1];
        layer[l].act = acts[l];
        layer[l].w_off = off;
        off += sizes[l + 1] * sizes[l];
        layer[l].b_off = off;
        off += sizes[l + 1];
    }
    *nparams = off;
    return NM_OK;
}

static int same_widths(size_t na, const nm_dense *a, size_t nb, const nm_dense *b)
{
    if (na != nb) return 0;
    for (size_t l = 0; l < na; l++)
        if (a[l].in != b[l].in || a[l].out != b[l].out) return 0;
    return 1;
}

nm_status nm_mlp_params_to_f64(const nm_mlp *src, nm_mlp_f64 *dst)
{
    if (!src || !dst) return nm_fail(NM_EINVAL, "nm_mlp_params_to_f64: NULL argument");
    if (!same_widths(src->nlayers, src->layer, dst->nlayers, dst->layer))
        return nm_fail(NM_EINVAL, "nm_mlp_params_to_f64: networks have different widths");
    for (size_t i = 0; i < src->nparams; i++) dst->params[i] = (double)src->params[i];
    return NM_OK;
}

nm_status nm_mlp_params_from_f64(const nm_mlp_f64 *src, nm_mlp *dst)
{
    if (!src || !dst) return nm_fail(NM_EINVAL, "nm_mlp_params_from_f64: NULL argument");
    if (!same_widths(src->nlayers, src->layer, dst->nlayers, dst->layer))
        return nm_fail(NM_EINVAL, "nm_mlp_params_from_f64: networks have different widths");
    for (size_t i = 0; i < src->nparams; i++) dst->params[i] = (float)src->params[i];
    return NM_OK;
}
