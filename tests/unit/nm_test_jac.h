/* nm_test_jac.h -- check a model type's analytic Jacobian against central
 * differences of its right-hand side, and that both refuse a non-finite
 * state.  For tests that reach the type tables (models/model.h); include
 * after nm_test.h. */
#ifndef NM_TEST_JAC_H
#define NM_TEST_JAC_H

#include "models/model.h"

#include <gsl/gsl_errno.h>

/* Central differences with step 1e-6 * max(1, |y|): ~1e-8 relative accuracy
 * for these smooth right-hand sides; 1e-5 leaves room. */
#define JAC_FD_STEP 1e-6
#define JAC_RTOL 1e-5
#define JAC_ATOL 1e-9

static inline void check_jacobian(const nm_model *m, const double *y)
{
    const nm_model_type *T = m->type;
    size_t n = T->nstates;
    double J[NM_MODEL_MAX_STATES * NM_MODEL_MAX_STATES], dfdt[NM_MODEL_MAX_STATES];
    double par[NM_MODEL_MAX_PARAMS];
    memcpy(par, m->par, sizeof par);
    CHECK(T->jac(0.0, y, J, dfdt, par) == 0);
    for (size_t j = 0; j < n; j++) {
        double yp[NM_MODEL_MAX_STATES], ym[NM_MODEL_MAX_STATES], fp[NM_MODEL_MAX_STATES],
            fm[NM_MODEL_MAX_STATES];
        memcpy(yp, y, n * sizeof *y);
        memcpy(ym, y, n * sizeof *y);
        double h = JAC_FD_STEP * fmax(1.0, fabs(y[j]));
        yp[j] += h;
        ym[j] -= h;
        T->rhs(0.0, yp, fp, par);
        T->rhs(0.0, ym, fm, par);
        for (size_t i = 0; i < n; i++) {
            double fd = (fp[i] - fm[i]) / (2 * h);
            CHECK_MSG(fabs(J[i * n + j] - fd) <= JAC_ATOL + JAC_RTOL * fabs(fd),
                      "%s: J[%zu][%zu] = %.10g, central difference %.10g", T->name, i, j,
                      J[i * n + j], fd);
        }
    }
    for (size_t i = 0; i < n; i++) CHECK(dfdt[i] == 0.0);
    /* A non-finite state is refused by both. */
    double bad[NM_MODEL_MAX_STATES], f[NM_MODEL_MAX_STATES];
    memcpy(bad, y, n * sizeof *y);
    bad[n - 1] = NAN;
    CHECK(T->rhs(0.0, bad, f, par) == GSL_EBADFUNC);
    CHECK(T->jac(0.0, bad, J, dfdt, par) == GSL_EBADFUNC);
}

#endif
