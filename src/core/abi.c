/* abi.c -- nm_abi_sizeof: the sizes of the public structs, so bindings that
 * mirror them (python/neuromap/pipeline.py, ctypes) can refuse a library
 * whose header differs from their copy instead of corrupting memory. */
#include "internal.h"

#include <string.h>

#define NM_ABI_ENTRY(T) {#T, sizeof(T)}

static const struct {
    const char *name;
    size_t size;
} nm_abi_table[] = {
    NM_ABI_ENTRY(nm_series),          NM_ABI_ENTRY(nm_sim_opts),
    NM_ABI_ENTRY(nm_regime),          NM_ABI_ENTRY(nm_regime_opts),
    NM_ABI_ENTRY(nm_train_progress),  NM_ABI_ENTRY(nm_vae_opts),
    NM_ABI_ENTRY(nm_vae_report),      NM_ABI_ENTRY(nm_fixed_point),
    NM_ABI_ENTRY(nm_autoset_opts),    NM_ABI_ENTRY(nm_autoset_result),
    NM_ABI_ENTRY(nm_learn_opts),      NM_ABI_ENTRY(nm_sweep_point),
    NM_ABI_ENTRY(nm_learned_sweep_opts), NM_ABI_ENTRY(nm_compare_opts),
    NM_ABI_ENTRY(nm_compare_point),   NM_ABI_ENTRY(nm_compare_transition),
    NM_ABI_ENTRY(nm_compare_offset),  NM_ABI_ENTRY(nm_compare_metric),
    NM_ABI_ENTRY(nm_compare_result),  NM_ABI_ENTRY(nm_distill_opts),
    NM_ABI_ENTRY(nm_distill_report),
};

size_t nm_abi_sizeof(const char *type_name)
{
    if (!type_name) return 0;
    for (size_t i = 0; i < sizeof nm_abi_table / sizeof nm_abi_table[0]; i++)
        if (!strcmp(nm_abi_table[i].name, type_name)) return nm_abi_table[i].size;
    return 0;
}
