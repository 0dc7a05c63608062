/* app.c -- a user's program against the installed libneuromap
 * (tests/install/test_install.sh builds it with pkg-config and with
 * find_package(neuromap)).  Simulates the SRK model at VS = -38 mV and counts
 * spikes; with a model file argument also runs the learned map.  Prints
 * "app: ok ..." and exits 0, or prints the problem and exits 1. */
#include <neuromap.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", NM_VERSION_MAJOR, NM_VERSION_MINOR, NM_VERSION_PATCH);
    if (strcmp(nm_version(), want) != 0) {
        printf("app: header says %s, library %s\n", want, nm_version());
        return 1;
    }
    nm_model *m = nm_model_alloc(nm_model_srk);
    if (!m || nm_model_set_control(m, -38.0) != NM_OK) {
        printf("app: model: %s\n", nm_last_error());
        return 1;
    }
    nm_sim_opts o;
    nm_model_sim_opts_default(m, &o);
    o.transient_ms = 2000;
    o.duration_ms = 20000;
    nm_series *s = NULL;
    if (nm_simulate(m, &o, &s) != NM_OK) {
        printf("app: simulate: %s\n", nm_last_error());
        return 1;
    }
    int spikes = 0;
    for (size_t i = 1; i < s->n; i++) {
        spikes += s->v[i - 1] < -35.0 && s->v[i] >= -35.0;
    }
    printf("app: srk at VS = -38: %zu samples, %d spikes\n", s->n, spikes);
    nm_series_free(s);
    nm_model_free(m);
    if (spikes < 5) {
        printf("app: expected bursts at VS = -38\n");
        return 1;
    }
    if (argc > 1) {
        nm_learned *l = NULL;
        if (nm_learned_load(argv[1], &l) != NM_OK) {
            printf("app: %s\n", nm_last_error());
            return 1;
        }
        double pmin, pmax, vmin = INFINITY, vmax = -INFINITY;
        nm_learned_p_range(l, &pmin, &pmax);
        size_t n = 2000;
        double *v = malloc(n * sizeof *v);
        if (!v || nm_learned_run(l, 0.5 * (pmin + pmax), NULL, n, v, NULL) != NM_OK) {
            printf("app: learned run: %s\n", v ? nm_last_error() : "out of memory");
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            vmin = v[i] < vmin ? v[i] : vmin;  /* no libm: the program links -lneuromap only */
            vmax = v[i] > vmax ? v[i] : vmax;
        }
        free(v);
        nm_learned_free(l);
        printf("app: learned map: V in [%.1f, %.1f] mV\n", vmin, vmax);
        if (!(vmax > vmin) || !isfinite(vmin) || !isfinite(vmax)) {
            printf("app: the learned map's V does not move\n");
            return 1;
        }
    }
    printf("app: ok %s\n", nm_version());
    return 0;
}
