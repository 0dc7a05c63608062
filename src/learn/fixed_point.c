/* fixed_point.c -- rest states of a learned map: Newton's method on
 * F(x, p) - x = 0 and the eigenvalues of the Jacobian there. */
#include "internal.h"
#include "learn/map.h"

#include <gsl/gsl_complex_math.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The map computes in float: a central difference with a step of 1e-3 of a
 * coordinate's scale has a rounding error of about 1e-7/1e-3 = 1e-4, fine for
 * eigenvalue moduli (a stable rest state of SRK has |lambda| near 0.9-0.99). */
#define FP_FD_REL 1e-3
/* Newton stops when the step is below this (standardised units): float
 * evaluation noise is about 1e-6 there. */
#define FP_TOL 1e-5
#define FP_MAX_ITER 100
/* Largest Newton move of one coordinate (latent units, scale ~1). */
#define FP_MAX_STEP 2.0
/* Latent units come from a VAE with a N(0, 1) prior: their scale is about 1. */
#define FP_LATENT_SCALE 1.0

nm_status nm_learned_fixed_point(const nm_learned *m, double p, size_t settle, nm_fixed_point *fp)
{
    if (!m || !fp) return nm_fail(NM_EINVAL, "fixed point: NULL argument");
    if (!isfinite(p)) return nm_fail(NM_EINVAL, "fixed point: p is not finite");
    memset(fp, 0, sizeof *fp);
    size_t D = nm_learned_dim(m);
    double x[NM_MAP_MAX_D], y[NM_MAP_MAX_D], h[NM_MAP_MAX_D];
    nm_learned_initial_state(m, x);
    nm_status st;
    for (size_t k = 0; k < settle; k++)
        if ((st = nm_learned_step(m, p, x, x))) return nm_fail_prefix(st, "fixed point at p = %g", p);
    /* Difference steps relative to each coordinate's size. */
    for (size_t j = 0; j < D; j++) h[j] = FP_FD_REL * fmax(fabs(x[j]), FP_LATENT_SCALE);

    gsl_matrix *J = gsl_matrix_alloc(D, D), *G = gsl_matrix_alloc(D, D);
    gsl_vector *rhs = gsl_vector_alloc(D), *dx = gsl_vector_alloc(D);
    gsl_permutation *perm = gsl_permutation_alloc(D);
    gsl_vector_complex *eval = gsl_vector_complex_alloc(D);
    gsl_eigen_nonsymm_workspace *ew = gsl_eigen_nonsymm_alloc(D);
    if (!J || !G || !rhs || !dx || !perm || !eval || !ew) {
        st = nm_fail(NM_ENOMEM, "fixed point: out of memory");
        goto done;
    }
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    double step_norm = INFINITY;
    int it;
    for (it = 0; it < FP_MAX_ITER; it++) {
        /* Jacobian of F by central differences, column j. */
        for (size_t j = 0; j < D; j++) {
            double xp[NM_MAP_MAX_D], xm[NM_MAP_MAX_D], fp1[NM_MAP_MAX_D], fm1[NM_MAP_MAX_D];
            memcpy(xp, x, D * sizeof *x);
            memcpy(xm, x, D * sizeof *x);
            xp[j] += h[j];
            xm[j] -= h[j];
            if ((st = nm_learned_step(m, p, xp, fp1)) || (st = nm_learned_step(m, p, xm, fm1))) {
                gsl_set_error_handler(old);
                st = nm_fail_prefix(st, "fixed point at p = %g", p);
                goto done;
            }
            for (size_t i = 0; i < D; i++) gsl_matrix_set(J, i, j, (fp1[i] - fm1[i]) / (2 * h[j]));
        }
        if ((st = nm_learned_step(m, p, x, y))) {
            gsl_set_error_handler(old);
            st = nm_fail_prefix(st, "fixed point at p = %g", p);
            goto done;
        }
        /* Solve (J - I) dx = -(F(x) - x). */
        gsl_matrix_memcpy(G, J);
        for (size_t i = 0; i < D; i++) {
            gsl_matrix_set(G, i, i, gsl_matrix_get(G, i, i) - 1.0);
            gsl_vector_set(rhs, i, -(y[i] - x[i]));
        }
        int sgn;
        if (gsl_linalg_LU_decomp(G, perm, &sgn) || gsl_linalg_LU_solve(G, perm, rhs, dx)) {
            gsl_set_error_handler(old);
            st = nm_fail(NM_ENUMERIC, "fixed point at p = %g: J - I is singular", p);
            goto done;
        }
        /* Damped Newton: no coordinate moves more than FP_MAX_STEP at once,
         * so a far-off first guess cannot throw x out of the map's range. */
        double big = 0;
        for (size_t i = 0; i < D; i++) big = fmax(big, fabs(gsl_vector_get(dx, i)));
        if (big > FP_MAX_STEP) gsl_vector_scale(dx, FP_MAX_STEP / big);
        step_norm = 0;
        for (size_t i = 0; i < D; i++) {
            x[i] += gsl_vector_get(dx, i);
            step_norm = fmax(step_norm, fabs(gsl_vector_get(dx, i)) / (h[i] / FP_FD_REL));
        }
        if (step_norm < FP_TOL) break;
    }
    if (step_norm >= FP_TOL) {
        gsl_set_error_handler(old);
        st = nm_fail(NM_ENUMERIC, "fixed point at p = %g: Newton did not converge in %d iterations (last step %g)",
                     p, FP_MAX_ITER, step_norm);
        goto done;
    }
    /* Eigenvalues of the Jacobian at the fixed point (last J is at the
     * previous iterate, a step below FP_TOL away: close enough). */
    int rc = gsl_eigen_nonsymm(J, eval, ew);
    gsl_set_error_handler(old);
    if (rc) {
        st = nm_fail(NM_ENUMERIC, "fixed point at p = %g: eigenvalues failed (%s)", p, gsl_strerror(rc));
        goto done;
    }
    for (size_t i = 0; i < D; i++) fp->eig_abs[i] = gsl_complex_abs(gsl_vector_complex_get(eval, i));
    /* Decreasing order (insertion sort, D <= 16). */
    for (size_t i = 1; i < D; i++)
        for (size_t k = i; k > 0 && fp->eig_abs[k] > fp->eig_abs[k - 1]; k--) {
            double t = fp->eig_abs[k];
            fp->eig_abs[k] = fp->eig_abs[k - 1];
            fp->eig_abs[k - 1] = t;
        }
    if ((st = nm_learned_step(m, p, x, y))) goto done;
    fp->residual = 0;
    for (size_t i = 0; i < D; i++) fp->residual = fmax(fp->residual, fabs(y[i] - x[i]) / (h[i] / FP_FD_REL));
    memcpy(fp->x, x, D * sizeof *x);
    fp->v_mv = nm_learned_decode_v(m, x);
    fp->iterations = it + 1;
    st = NM_OK;
done:
    gsl_eigen_nonsymm_free(ew);
    gsl_vector_complex_free(eval);
    gsl_permutation_free(perm);
    gsl_vector_free(dx);
    gsl_vector_free(rhs);
    gsl_matrix_free(G);
    gsl_matrix_free(J);
    return st;
}
