/* model.c -- the generic side of the ground-truth models: lookup of a type
 * by name, allocation, and access to states and named parameters through
 * the type's table.  The equations live in srk.c, hh.c, ml.c and hr.c. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Every model type the library knows, for lookup by name. */
static const nm_model_type *model_types(size_t i)
{
    switch (i) {
    case 0: return nm_model_srk;
    case 1: return nm_model_srk_slow;
    case 2: return nm_model_hh;
    case 3: return nm_model_ml1;
    case 4: return nm_model_ml2;
    case 5: return nm_model_hr;
    default: return NULL;
    }
}

static int ascii_lower(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

static int equal_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b)) return 0;
    return *a == *b;
}

const nm_model_type *nm_model_type_find(const char *name)
{
    if (!name) {
        nm_fail(NM_EINVAL, "model name is NULL");
        return NULL;
    }
    char known[256];
    size_t used = 0;
    known[0] = '\0';
    for (size_t i = 0; model_types(i); i++) {
        if (equal_nocase(name, model_types(i)->name)) return model_types(i);
        int n = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                         model_types(i)->name);
        if (n > 0 && (size_t)n < sizeof known - used) used += (size_t)n;
    }
    nm_fail(NM_ENOTFOUND, "unknown model '%s' (known: %s)", name, known);
    return NULL;
}

nm_model *nm_model_alloc(const nm_model_type *type)
{
    if (!type) {
        nm_fail(NM_EINVAL, "model type is NULL");
        return NULL;
    }
    nm_model *m = nm_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->type = type;
    for (size_t i = 0; i < type->nparams; i++) m->par[i] = type->params[i].def;
    return m;
}

nm_model *nm_model_clone(const nm_model *m)
{
    if (!m) {
        nm_fail(NM_EINVAL, "model is NULL");
        return NULL;
    }
    nm_model *c = nm_malloc(sizeof *c);
    if (!c) return NULL;
    *c = *m;
    return c;
}

void nm_model_free(nm_model *m) { free(m); }

const char *nm_model_name(const nm_model *m) { return m ? m->type->name : NULL; }
const char *nm_model_description(const nm_model *m) { return m ? m->type->description : NULL; }
size_t nm_model_nstates(const nm_model *m) { return m ? m->type->nstates : 0; }

const char *nm_model_state_name(const nm_model *m, size_t i)
{
    return (m && i < m->type->nstates) ? m->type->state_names[i] : NULL;
}

void nm_model_default_state(const nm_model *m, double *y0)
{
    if (m && y0) m->type->default_state(m->par, y0);
}

size_t nm_model_nparams(const nm_model *m) { return m ? m->type->nparams : 0; }

const char *nm_model_param_name(const nm_model *m, size_t i)
{
    return (m && i < m->type->nparams) ? m->type->params[i].name : NULL;
}

const char *nm_model_param_unit(const nm_model *m, size_t i)
{
    return (m && i < m->type->nparams) ? m->type->params[i].unit : NULL;
}

int nm_model_param_index(const nm_model *m, const char *name)
{
    if (!m || !name) return -1;
    for (size_t i = 0; i < m->type->nparams; i++)
        if (strcmp(name, m->type->params[i].name) == 0) return (int)i;
    return -1;
}

/* "unknown parameter 'x' of model srk (known: gCa, gK, ...)" */
static nm_status unknown_param(const nm_model *m, const char *name)
{
    char known[512];
    size_t used = 0;
    known[0] = '\0';
    for (size_t i = 0; i < m->type->nparams && used + 1 < sizeof known; i++) {
        int n = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                         m->type->params[i].name);
        if (n < 0) break;
        used += (size_t)n;
    }
    return nm_fail(NM_ENOTFOUND, "unknown parameter '%s' of model %s (known: %s)", name,
                   m->type->name, known);
}

static nm_status set_index(nm_model *m, size_t i, double value)
{
    const nm_param_info *p = &m->type->params[i];
    if (!isfinite(value))
        return nm_fail(NM_EINVAL, "%s parameter %s must be finite (got %g)", m->type->name, p->name,
                       value);
    switch (p->domain) {
    case NM_DOMAIN_NONNEG:
        if (value < 0)
            return nm_fail(NM_EINVAL, "%s parameter %s must be >= 0 %s (got %g)", m->type->name,
                           p->name, p->unit, value);
        break;
    case NM_DOMAIN_POSITIVE:
        if (!(value > 0))
            return nm_fail(NM_EINVAL, "%s parameter %s must be > 0 %s (got %g)", m->type->name,
                           p->name, p->unit, value);
        break;
    case NM_DOMAIN_NONZERO:
        if (value == 0)
            return nm_fail(NM_EINVAL, "%s parameter %s must be nonzero (got %g)", m->type->name,
                           p->name, value);
        break;
    case NM_DOMAIN_ANY: break;
    }
    m->par[i] = value;
    return NM_OK;
}

nm_status nm_model_set_param(nm_model *m, const char *name, double value)
{
    if (!m || !name) return nm_fail(NM_EINVAL, "set_param: NULL model or name");
    int i = nm_model_param_index(m, name);
    if (i < 0) return unknown_param(m, name);
    return set_index(m, (size_t)i, value);
}

nm_status nm_model_get_param(const nm_model *m, const char *name, double *value)
{
    if (!m || !name || !value) return nm_fail(NM_EINVAL, "get_param: NULL model, name or output");
    int i = nm_model_param_index(m, name);
    if (i < 0) return unknown_param(m, name);
    *value = m->par[i];
    return NM_OK;
}

const char *nm_model_control_name(const nm_model *m)
{
    return m ? m->type->params[m->type->control].name : NULL;
}

nm_status nm_model_set_control(nm_model *m, double p)
{
    if (!m) return nm_fail(NM_EINVAL, "set_control: NULL model");
    return set_index(m, m->type->control, p);
}

double nm_model_control(const nm_model *m) { return m ? m->par[m->type->control] : NAN; }

const char *nm_model_input_unit(const nm_model *m) { return m ? m->type->input_unit : NULL; }

double nm_model_spike_threshold(const nm_model *m) { return m ? m->type->spike_threshold_mv : NAN; }

void nm_model_control_range(const nm_model *m, double *pmin, double *pmax)
{
    if (!m) return;
    if (pmin) *pmin = m->type->pmin;
    if (pmax) *pmax = m->type->pmax;
}

double nm_model_first_root(double (*f)(const double *par, double x), const double *par, double lo,
                           double hi, double step, double tol, double fallback)
{
    double a = lo, fa = f(par, a);
    for (size_t k = 1; a < hi; k++) {
        double b = lo + (double)k * step, fb = f(par, b);
        if ((fa < 0) != (fb < 0)) {
            while (b - a > tol) {
                double mid = 0.5 * (a + b), fm = f(par, mid);
                if (mid == a || mid == b) break; /* tol below the spacing of doubles */
                if ((fm < 0) == (fa < 0)) {
                    a = mid;
                    fa = fm;
                } else {
                    b = mid;
                }
            }
            return 0.5 * (a + b);
        }
        a = b;
        fa = fb;
    }
    return fallback;
}
