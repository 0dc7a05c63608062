/* metrics.c -- distances between a true and a generated (learned) voltage
 * trace, as used to score dynamical-systems reconstructions:
 *
 *   D_stsp  state-space divergence: KL divergence of binned occupancy
 *           (Koppe et al. 2019, PLoS Comput Biol 15:e1007263; Brenner et al.
 *           2022, ICML; Hess et al. 2023, ICML), here on a delay embedding
 *           of V because the learned latent and the true states live in
 *           different spaces;
 *   D_H     Hellinger distance between smoothed, normalised power spectra
 *           (Mikhaeil et al. 2022, NeurIPS; Hess et al. 2023);
 *   W1      1-D Wasserstein (earth mover's) distance between two samples,
 *           used for the inter-spike-interval distributions.
 *
 * Formulas and choices are documented in docs/evaluation.md and in the
 * public header (section "Evaluation"). */
#include "internal.h"

#include <gsl/gsl_fft_real.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* D_stsp                                                                    */
/* ------------------------------------------------------------------------ */

/* A true range narrower than this (relative to max(1, |V|)) is a constant
 * series: 1e-12 is far below any physical fluctuation yet far above the
 * rounding of a number that only looks constant. */
#define NM_DSTSP_MIN_REL_RANGE 1e-12

/* Histograms larger than this are refused: 64^3 doubles is 2 MiB, more than
 * any sensible binning of a few 10^4 points needs. */
#define NM_DSTSP_MAX_CELLS ((size_t)64 * 64 * 64)

/* Bin index of x in [lo, hi) split into `bins` equal cells; the top edge
 * (x == hi, the true maximum) goes into the last cell.  Returns bins for a
 * point outside [lo, hi]. */
static size_t bin_of(double x, double lo, double hi, size_t bins)
{
    if (x < lo || x > hi) return bins;
    size_t b = (size_t)((x - lo) / (hi - lo) * (double)bins);
    return b >= bins ? bins - 1 : b;
}

/* Occupancy counts of the delay vectors (v[n], v[n-tau], ...) of one
 * series.  Returns the number of vectors that fell outside the box. */
static size_t occupancy(const double *v, size_t n, size_t dim, size_t tau, size_t bins, double lo,
                        double hi, double *counts)
{
    size_t span = (dim - 1) * tau, outside = 0;
    for (size_t i = span; i < n; i++) {
        size_t cell = 0;
        int in = 1;
        for (size_t d = 0; d < dim; d++) {
            size_t b = bin_of(v[i - d * tau], lo, hi, bins);
            if (b == bins) {
                in = 0;
                break;
            }
            cell = cell * bins + b;
        }
        if (in) counts[cell] += 1.0;
        else outside++;
    }
    return outside;
}

nm_status nm_metric_dstsp(const double *v_true, size_t n_true, const double *v_gen, size_t n_gen,
                          size_t dim, size_t tau, size_t bins, double *out)
{
    if (!out) return nm_fail(NM_EINVAL, "D_stsp: NULL output");
    *out = NAN;
    if (!v_true || !v_gen) return nm_fail(NM_EINVAL, "D_stsp: NULL series");
    if (dim < 1 || dim > NM_DSTSP_MAX_DIM)
        return nm_fail(NM_EINVAL, "D_stsp: embedding dimension must be 1..%d (got %zu)", NM_DSTSP_MAX_DIM,
                       dim);
    if (tau < 1) return nm_fail(NM_EINVAL, "D_stsp: delay must be >= 1 sample (got %zu)", tau);
    if (bins < 2) return nm_fail(NM_EINVAL, "D_stsp: need at least 2 bins per dimension (got %zu)", bins);
    size_t cells = 1;
    for (size_t d = 0; d < dim; d++) {
        if (cells > NM_DSTSP_MAX_CELLS / bins)
            return nm_fail(NM_EINVAL, "D_stsp: %zu bins in %zu dimensions is more than %zu cells", bins, dim,
                           NM_DSTSP_MAX_CELLS);
        cells *= bins;
    }
    size_t span = (dim - 1) * tau;
    if (n_true <= span || n_gen <= span)
        return nm_fail(NM_EDATA, "D_stsp: series too short for a %zu-D embedding with delay %zu "
                       "(true %zu, generated %zu samples)", dim, tau, n_true, n_gen);
    if (!nm_all_finite(v_true, n_true)) return nm_fail(NM_EDATA, "D_stsp: true series is not finite");
    if (!nm_all_finite(v_gen, n_gen)) return nm_fail(NM_EDATA, "D_stsp: generated series is not finite");

    /* The box is the range of the TRUE data in every delay coordinate (they
     * all see the same values, so one range serves every dimension). */
    double lo = v_true[0], hi = v_true[0];
    for (size_t i = 1; i < n_true; i++) {
        lo = fmin(lo, v_true[i]);
        hi = fmax(hi, v_true[i]);
    }
    if (!(hi - lo > NM_DSTSP_MIN_REL_RANGE * fmax(1.0, fmax(fabs(lo), fabs(hi)))))
        return nm_fail(NM_EDATA, "D_stsp: true series is constant (%g); its occupancy has no extent", lo);

    double *ct = nm_calloc(2 * cells, sizeof *ct);
    if (!ct) return NM_ENOMEM;
    double *cg = ct + cells;
    size_t out_t = occupancy(v_true, n_true, dim, tau, bins, lo, hi, ct);
    (void)out_t; /* 0 by construction: the box is the true range */
    occupancy(v_gen, n_gen, dim, tau, bins, lo, hi, cg);

    /* Laplace-smoothed probabilities over the cells plus one implicit
     * "outside the true range" cell.  Generated vectors outside the box keep
     * their share of the total (they are NOT dropped and renormalised, as the
     * reference implementations do), so a run that wanders off the true
     * attractor is penalised; the true data never visits that cell, so it
     * adds nothing to the sum.  KL(p_true || p_gen) in nats. */
    double nt = (double)(n_true - span), ng = (double)(n_gen - span);
    double a = NM_DSTSP_ALPHA, K = (double)cells;
    double kl = 0;
    for (size_t c = 0; c < cells; c++) {
        if (ct[c] == 0) continue; /* contributes alpha-smoothed p*log(p/q); see below */
        double p = (ct[c] + a) / (nt + a * K);
        double q = (cg[c] + a) / (ng + a * K);
        kl += p * log(p / q);
    }
    /* Cells the true data never visits still carry the smoothing mass
     * p0 = a/(nt + aK); they add p0*log(p0/q).  Summed exactly (not skipped)
     * so that D_stsp(x, x) == 0 to rounding and the sum is a proper KL. */
    double p0 = a / (nt + a * K);
    for (size_t c = 0; c < cells; c++) {
        if (ct[c] != 0) continue;
        double q = (cg[c] + a) / (ng + a * K);
        kl += p0 * log(p0 / q);
    }
    free(ct);
    /* Rounding can leave a tiny negative number for identical inputs. */
    *out = kl < 0 ? 0 : kl;
    return NM_OK;
}

/* ------------------------------------------------------------------------ */
/* D_H                                                                       */
/* ------------------------------------------------------------------------ */

/* Fewer samples than this make no spectrum worth comparing. */
#define NM_DH_MIN_SAMPLES 16
/* The Gaussian kernel is cut at 4 sigma (scipy.ndimage.gaussian_filter1d's
 * default truncate), which drops 6e-5 of its mass. */
#define NM_DH_TRUNCATE 4.0
/* Below 0.1 bin the kernel is a delta to double precision: skip it. */
#define NM_DH_MIN_SIGMA_BINS 0.1
#define NM_PI 3.14159265358979323846

/* Largest n' <= n of the form 2^a 3^b 5^c: GSL's mixed-radix real FFT has
 * fast kernels for the factors 2, 3, 4, 5 and falls back to O(n*f) for any
 * other prime factor f, so a prime length of 10^4 would cost ~10^8. */
static size_t smooth_len(size_t n)
{
    for (size_t m = n; m > 0; m--) {
        size_t r = m;
        while (r % 2 == 0) r /= 2;
        while (r % 3 == 0) r /= 3;
        while (r % 5 == 0) r /= 5;
        if (r == 1) return m;
    }
    return 0;
}

/* Power spectrum of v[0..n) with the mean removed and a Hann taper:
 * ps[k] = |X_k|^2 for k = 0..n/2 (nf = n/2 + 1 values), DC set to 0.
 * buf: n doubles of scratch. */
static nm_status power_spectrum(const double *v, size_t n, gsl_fft_real_wavetable *wt,
                                gsl_fft_real_workspace *ws, double *buf, double *ps)
{
    double mean = 0;
    for (size_t i = 0; i < n; i++) mean += v[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double w = 0.5 - 0.5 * cos(2.0 * NM_PI * (double)i / (double)n); /* periodic Hann */
        buf[i] = (v[i] - mean) * w;
    }
    if (gsl_fft_real_transform(buf, 1, n, wt, ws) != 0)
        return nm_fail(NM_ENUMERIC, "D_H: FFT of %zu samples failed", n);
    /* GSL half-complex order: buf[0] = Re X_0; buf[2k-1], buf[2k] = Re, Im
     * X_k for k < n/2; buf[n-1] = Re X_{n/2} when n is even. */
    size_t nf = n / 2 + 1;
    ps[0] = 0; /* the mean is excluded on purpose: D_H compares dynamics */
    for (size_t k = 1; k < nf; k++) {
        if (2 * k == n) {
            ps[k] = buf[n - 1] * buf[n - 1];
        } else {
            double re = buf[2 * k - 1], im = buf[2 * k];
            ps[k] = re * re + im * im;
        }
    }
    return NM_OK;
}

/* Gaussian smoothing of x[0..n) with sigma in bins (kernel truncated at
 * NM_DH_TRUNCATE sigma, edges reflected like scipy.ndimage's default), into
 * y; then scaled to unit mass.  Returns 0 if the spectrum has no mass. */
static int smooth_normalise(const double *x, size_t n, double sigma, double *y)
{
    if (sigma < NM_DH_MIN_SIGMA_BINS) {
        memcpy(y, x, n * sizeof *y);
    } else {
        long r = (long)ceil(NM_DH_TRUNCATE * sigma);
        long N = (long)n;
        double norm = 0;
        for (long j = -r; j <= r; j++) norm += exp(-0.5 * (double)(j * j) / (sigma * sigma));
        for (long i = 0; i < N; i++) {
            double s = 0;
            for (long j = -r; j <= r; j++) {
                long k = i + j;
                /* reflect (d c b a | a b c d | d c b a), repeatedly if r > n */
                while (k < 0 || k >= N) k = k < 0 ? -k - 1 : 2 * N - k - 1;
                s += exp(-0.5 * (double)(j * j) / (sigma * sigma)) * x[k];
            }
            y[i] = s / norm;
        }
    }
    double mass = 0;
    for (size_t i = 0; i < n; i++) mass += y[i];
    if (!(mass > 0) || !isfinite(mass)) return 0;
    for (size_t i = 0; i < n; i++) y[i] /= mass;
    return 1;
}

nm_status nm_metric_dh(const double *v_true, size_t n_true, const double *v_gen, size_t n_gen,
                       double dt_ms, double sigma_hz, double *out)
{
    if (!out) return nm_fail(NM_EINVAL, "D_H: NULL output");
    *out = NAN;
    if (!v_true || !v_gen) return nm_fail(NM_EINVAL, "D_H: NULL series");
    if (!(dt_ms > 0) || !isfinite(dt_ms)) return nm_fail(NM_EINVAL, "D_H: dt_ms must be > 0 (got %g)", dt_ms);
    if (!(sigma_hz >= 0) || !isfinite(sigma_hz))
        return nm_fail(NM_EINVAL, "D_H: smoothing must be >= 0 Hz (got %g)", sigma_hz);
    size_t n = smooth_len(n_true < n_gen ? n_true : n_gen);
    if (n < NM_DH_MIN_SAMPLES)
        return nm_fail(NM_EDATA, "D_H: series too short (true %zu, generated %zu samples; need %d)", n_true,
                       n_gen, NM_DH_MIN_SAMPLES);
    if (!nm_all_finite(v_true, n)) return nm_fail(NM_EDATA, "D_H: true series is not finite");
    if (!nm_all_finite(v_gen, n)) return nm_fail(NM_EDATA, "D_H: generated series is not finite");

    size_t nf = n / 2 + 1;
    double *buf = nm_malloc((n + 4 * nf) * sizeof *buf);
    if (!buf) return NM_ENOMEM;
    double *pt = buf + n, *pg = pt + nf, *st = pg + nf, *sg = st + nf;
    gsl_fft_real_wavetable *wt = gsl_fft_real_wavetable_alloc(n);
    gsl_fft_real_workspace *ws = gsl_fft_real_workspace_alloc(n);
    nm_status status = NM_OK;
    if (!wt || !ws) {
        status = nm_fail(NM_ENOMEM, "D_H: cannot allocate an FFT of %zu samples", n);
        goto done;
    }
    if ((status = power_spectrum(v_true, n, wt, ws, buf, pt))) goto done;
    if ((status = power_spectrum(v_gen, n, wt, ws, buf, pg))) goto done;
    /* Frequency resolution 1/(n dt): sigma in bins = sigma_hz * n * dt_s. */
    double sigma_bins = sigma_hz * (double)n * dt_ms * 1e-3;
    if (!smooth_normalise(pt, nf, sigma_bins, st)) {
        status = nm_fail(NM_EDATA, "D_H: true series is constant; it has no power spectrum");
        goto done;
    }
    if (!smooth_normalise(pg, nf, sigma_bins, sg)) {
        status = nm_fail(NM_EDATA, "D_H: generated series is constant; it has no power spectrum");
        goto done;
    }
    /* 1 - sum sqrt(P Q) computed as 0.5 * sum (sqrt P - sqrt Q)^2 (equal
     * because both have unit mass): no cancellation, exactly 0 for equal
     * spectra, where sqrt(1 - BC) would turn rounding into ~1e-8. */
    double h2 = 0;
    for (size_t k = 0; k < nf; k++) {
        double d = sqrt(st[k]) - sqrt(sg[k]);
        h2 += d * d;
    }
    *out = sqrt(fmin(1.0, 0.5 * h2));
done:
    if (wt) gsl_fft_real_wavetable_free(wt);
    if (ws) gsl_fft_real_workspace_free(ws);
    free(buf);
    return status;
}

/* ------------------------------------------------------------------------ */
/* 1-D Wasserstein distance                                                  */
/* ------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

nm_status nm_metric_wasserstein1(const double *a, size_t na, const double *b, size_t nb, double *out)
{
    if (!out) return nm_fail(NM_EINVAL, "Wasserstein: NULL output");
    *out = NAN;
    if ((!a && na) || (!b && nb)) return nm_fail(NM_EINVAL, "Wasserstein: NULL sample");
    if (na == 0 || nb == 0)
        return nm_fail(NM_EDATA, "Wasserstein: empty sample (%zu and %zu values)", na, nb);
    if (!nm_all_finite(a, na) || !nm_all_finite(b, nb))
        return nm_fail(NM_EDATA, "Wasserstein: sample is not finite");
    double *x = nm_malloc((na + nb) * sizeof *x);
    if (!x) return NM_ENOMEM;
    double *y = x + na;
    memcpy(x, a, na * sizeof *x);
    memcpy(y, b, nb * sizeof *y);
    qsort(x, na, sizeof *x, cmp_double);
    qsort(y, nb, sizeof *y, cmp_double);
    /* W1 = integral |F_a(t) - F_b(t)| dt over the merged breakpoints: both
     * empirical CDFs are step functions, constant between consecutive
     * values of the merged sorted sample. */
    size_t i = 0, j = 0;
    double w = 0, prev = fmin(x[0], y[0]);
    while (i < na || j < nb) {
        double t = (j >= nb || (i < na && x[i] <= y[j])) ? x[i] : y[j];
        double fa = (double)i / (double)na, fb = (double)j / (double)nb;
        w += fabs(fa - fb) * (t - prev);
        prev = t;
        while (i < na && x[i] == t) i++;
        while (j < nb && y[j] == t) j++;
    }
    free(x);
    *out = w;
    return NM_OK;
}
