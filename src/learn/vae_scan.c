/* vae_scan.c -- choosing the latent dimension from a scan D = 1..Dmax
 * (nm_vae_select_dim in include/neuromap.h; the measurements behind the rule
 * are in docs/vae.md). */
#include "neuromap.h"

#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Append formatted text to buf (bounded; silently truncates). */
static void cat(char *buf, size_t len, size_t *used, const char *fmt, ...) NM_PRINTF(4, 5);
static void cat(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    if (!buf || *used + 1 >= len) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used = *used + (size_t)n < len ? *used + (size_t)n : len - 1;
}

nm_status nm_vae_select_dim(const nm_vae_report *reports, size_t dmax, double recon_rtol,
                            size_t *dim, char *reason, size_t reason_len)
{
    if (!reports || !dim) return nm_fail(NM_EINVAL, "select D: NULL argument");
    if (dmax < 1 || dmax > 16) return nm_fail(NM_EINVAL, "select D: dmax must be in 1..16 (got %zu)", dmax);
    if (!(recon_rtol >= 0) || !isfinite(recon_rtol))
        return nm_fail(NM_EINVAL, "select D: recon tolerance must be finite and >= 0 (got %g)", recon_rtol);
    if (reason && reason_len) reason[0] = '\0';
    size_t best = 0;
    for (size_t d = 0; d < dmax; d++) {
        if (!isfinite(reports[d].val_recon))
            return nm_fail(NM_EINVAL, "select D: D = %zu has no finite validation reconstruction", d + 1);
        if (reports[d].active_units > d + 1)
            return nm_fail(NM_EINVAL, "select D: D = %zu reports %zu active units", d + 1,
                           reports[d].active_units);
        if (reports[d].val_recon < reports[best].val_recon) best = d;
    }
    const double best_recon = reports[best].val_recon;
    const double limit = best_recon * (1 + recon_rtol);
    const size_t k = reports[dmax - 1].active_units;
    size_t used = 0;
    size_t chosen;

    cat(reason, reason_len, &used, "D = %zu keeps %zu active unit%s (var(mu_j) > %g; per-unit KL",
        dmax, k, k == 1 ? "" : "s", NM_ACTIVE_UNIT_VAR);
    for (size_t j = 0; j < dmax; j++) cat(reason, reason_len, &used, " %.3g", reports[dmax - 1].unit_kl[j]);
    cat(reason, reason_len, &used, " nats)");
    if (k == 0) {
        chosen = 1;
        cat(reason, reason_len, &used,
            ": every unit collapsed to the prior, so the data carry no structure the VAE keeps at "
            "this beta (noise, or beta too large); D = 1 is a placeholder.");
    } else if (k == dmax) {
        chosen = dmax;
        cat(reason, reason_len, &used,
            ": no unit collapsed, so the data may need more than %zu dimensions; scan a larger "
            "Dmax (or raise beta).",
            dmax);
    } else {
        chosen = k;
        cat(reason, reason_len, &used, ", the other %zu collapsed to the prior", dmax - k);
        /* The D = k model must itself reconstruct about as well as the best. */
        while (chosen < dmax && reports[chosen - 1].val_recon > limit) chosen++;
        if (chosen == k)
            cat(reason, reason_len, &used,
                "; D = %zu keeps %zu of its units active and its validation reconstruction %.4g is "
                "within %.0f%% of the best (%.4g at D = %zu): D = %zu.",
                k, reports[k - 1].active_units, reports[k - 1].val_recon, 100 * recon_rtol,
                best_recon, best + 1, k);
        else
            cat(reason, reason_len, &used,
                "; but D = %zu reconstructs worse (%.4g) than the best (%.4g at D = %zu) by more "
                "than %.0f%%, so the smallest D within it is taken: D = %zu.",
                k, reports[k - 1].val_recon, best_recon, best + 1, 100 * recon_rtol, chosen);
    }
    /* Say so when reconstruction alone would have picked a smaller D. */
    size_t by_recon = 1;
    while (by_recon < dmax && reports[by_recon - 1].val_recon > limit) by_recon++;
    if (by_recon < chosen)
        cat(reason, reason_len, &used,
            " (Reconstruction alone is already within %.0f%% of the best at D = %zu, but a "
            "smaller latent than the number of units the data keep is not chosen.)",
            100 * recon_rtol, by_recon);
    *dim = chosen;
    return NM_OK;
}
