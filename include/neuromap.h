/*
 * neuromap.h -- the public C API of libneuromap.
 *
 * Reconstruction of neuron dynamics from one scalar time series
 * (Kuptsov & Stankevich, Chaos, Solitons & Fractals 191 (2025) 115818):
 * delay embedding -> variational autoencoder -> neural-network map.
 *
 * Conventions (in the style of GSL):
 *   - every object has an nm_X_alloc / nm_X_free pair; nm_X_free(NULL) is a no-op;
 *   - every fallible function returns an nm_status (NM_OK == 0);
 *   - on failure, nm_last_error() returns a message for the calling thread
 *     naming what was wrong; the library never prints and never exits;
 *   - no hidden global mutable state: the library is thread-safe as long as
 *     one object is not mutated from two threads at once.  Objects documented
 *     as read-only after load (models) may be shared between threads;
 *   - time is in ms and voltages in mV at every interface.
 */
#ifndef NEUROMAP_H
#define NEUROMAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NM_VERSION_MAJOR 0
#define NM_VERSION_MINOR 1
#define NM_VERSION_PATCH 0
const char *nm_version(void);

/* ------------------------------------------------------------------------ */
/* Status codes and errors                                                   */
/* ------------------------------------------------------------------------ */

typedef enum nm_status {
    NM_OK = 0,
    NM_EINVAL = 1,     /* invalid argument (out of range, wrong size, NULL) */
    NM_ENOMEM = 2,     /* allocation failed */
    NM_EIO = 3,        /* file could not be opened, read or written */
    NM_EFORMAT = 4,    /* malformed input file (bad header, bad number, ...) */
    NM_EDATA = 5,      /* well-formed but unusable data (NaN, too short, uneven) */
    NM_ENUMERIC = 6,   /* numerical failure (integrator, divergence, NaN) */
    NM_ECHECKSUM = 7,  /* model file checksum mismatch */
    NM_EVERSION = 8,   /* unsupported file format version */
    NM_ENOTFOUND = 9,  /* unknown name (model, parameter, section) */
    NM_ETHREAD = 10    /* thread creation failed */
} nm_status;

/* Short fixed description of a status code ("invalid argument", ...). */
const char *nm_strerror(nm_status status);

/* The message of the last failure on the calling thread ("" if none).
 * The pointer stays valid until the next library call on this thread. */
const char *nm_last_error(void);
void nm_clear_error(void);

/* ------------------------------------------------------------------------ */
/* Time series                                                               */
/* ------------------------------------------------------------------------ */

/* A uniformly sampled series: v[i] is the membrane potential (mV) at time
 * t0_ms + i*dt_ms.  If nstates > 0, states[i*nstates + j] holds state j of
 * the generating model at sample i (row-major, shape n x nstates). */
typedef struct nm_series {
    size_t n;          /* number of samples */
    double dt_ms;      /* sampling step (ms), > 0 */
    double t0_ms;      /* time of the first sample (ms) */
    double p;          /* control-parameter value the series was taken at */
    double *v;         /* [n] membrane potential (mV) */
    size_t nstates;    /* 0, or number of model states recorded */
    double *states;    /* [n*nstates] or NULL */
} nm_series;

/* Allocate a series of n samples (v zeroed); nstates may be 0. */
nm_series *nm_series_alloc(size_t n, size_t nstates);
void nm_series_free(nm_series *s);

/* ------------------------------------------------------------------------ */
/* Reading and writing series (CSV and NumPy .npy)                           */
/* ------------------------------------------------------------------------ */

/* Read a series from FILE.  Format by extension: ".npy" is a 1-D float32 or
 * float64 array of V (dt_ms must then be given, > 0); anything else is CSV
 * with either one column (V) or two (t_ms,V_mV), an optional header line and
 * '#' comment lines.  For two-column CSV the step is taken from the time
 * column, which must be uniform (relative deviation < 1e-3); if dt_ms > 0 is
 * also given it must agree.  NaN/Inf, empty files, fewer than min_samples
 * samples and uneven sampling are rejected with a message that names the
 * file and line.  p is stored in the result as given. */
nm_status nm_series_read(const char *path, double dt_ms, double p,
                         size_t min_samples, nm_series **out);

/* Write t_ms,V_mV CSV (with header; and every recorded state as extra
 * columns if with_states) or, for a ".npy" name, V as a 1-D float64 array.
 * Written to a temporary file in the same folder, then renamed: a failure
 * never leaves a partial file behind. */
nm_status nm_series_write(const char *path, const nm_series *s, int with_states,
                          const char *const *state_names);

/* Write len bytes to path atomically (temporary file in the same folder,
 * then rename): readers never see a partial file. */
nm_status nm_file_write_atomic(const char *path, const void *data, size_t len);

/* Low-level .npy helpers (1-D or 2-D, float32/float64, C order). */
nm_status nm_npy_read(const char *path, double **data, size_t *rows, size_t *cols);
nm_status nm_npy_write(const char *path, const double *data, size_t rows, size_t cols);

/* ------------------------------------------------------------------------ */
/* Ground-truth neuron models (GSL odeiv2)                                   */
/* ------------------------------------------------------------------------ */

/* A model type is a const table, like gsl_odeiv2_step_type: pass a pointer
 * to pick a model.  State 0 of every model is the membrane potential V (mV). */
typedef struct nm_model_type nm_model_type;
extern const nm_model_type *const nm_model_srk; /* Sherman-Rinzel-Keizer-type beta cell, p = VS (mV) */
extern const nm_model_type *const nm_model_hh;  /* Hodgkin-Huxley 1952 squid axon, p = I (uA/cm2) */

/* Look a model type up by name ("srk", "hh"; case-insensitive); NULL (and an
 * NM_ENOTFOUND message listing the known names) if unknown. */
const nm_model_type *nm_model_type_find(const char *name);

/* A model instance: a type plus its current parameter values.  Parameters
 * change only through nm_model_set_param / nm_model_set_control;
 * nm_simulate only reads the model, so several threads may simulate one
 * model at once (or each its own nm_model_clone). */
typedef struct nm_model nm_model;

nm_model *nm_model_alloc(const nm_model_type *type);  /* default parameters */
nm_model *nm_model_clone(const nm_model *m);          /* same type and parameters */
void nm_model_free(nm_model *m);

const char *nm_model_name(const nm_model *m);
const char *nm_model_description(const nm_model *m);
size_t nm_model_nstates(const nm_model *m);
const char *nm_model_state_name(const nm_model *m, size_t i); /* NULL if i >= nstates */
/* Default initial state (length nstates): SRK (V,n,S) = (-50 mV, 0, 0.4);
 * HH the resting state at the current parameters with I = 0 (so a run at
 * I != 0 is a current step applied at t = 0). */
void nm_model_default_state(const nm_model *m, double *y0);

/* Named parameters ("gCa", "tauS", "VS", ...; case-sensitive).  The control
 * parameter is one of them; nm_model_control_name tells which.  Setting a
 * non-finite value, or one outside the parameter's domain (time constants
 * > 0, conductances >= 0, slope factors != 0), is NM_EINVAL; an unknown name
 * is NM_ENOTFOUND. */
size_t nm_model_nparams(const nm_model *m);
const char *nm_model_param_name(const nm_model *m, size_t i);   /* NULL if out of range */
const char *nm_model_param_unit(const nm_model *m, size_t i);   /* "mV", "ms", "1", ... */
nm_status nm_model_set_param(nm_model *m, const char *name, double value);
nm_status nm_model_get_param(const nm_model *m, const char *name, double *value);
const char *nm_model_control_name(const nm_model *m);
nm_status nm_model_set_control(nm_model *m, double p);
double nm_model_control(const nm_model *m);
/* Sensible spike threshold (mV) and control range of the model. */
double nm_model_spike_threshold(const nm_model *m);
void nm_model_control_range(const nm_model *m, double *pmin, double *pmax);

/* The GSL odeiv2 stepper.  The default, RK8PD (explicit adaptive
 * Runge-Kutta-Prince-Dormand 8(9)), was measured to be ~6x faster than the
 * stiff BDF stepper on SRK and more accurate at equal tolerance
 * (docs/models.md).  MSBDF (variable-order BDF with the analytic Jacobian)
 * is there for stiffer parameter sets.  Note: GSL's BDF code may call GSL's
 * error handler on internal failures, which aborts unless the application
 * called gsl_set_error_handler_off(); RK8PD never does. */
typedef enum nm_sim_method {
    NM_SIM_RK8PD = 0,
    NM_SIM_MSBDF = 1
} nm_sim_method;

/* Simulation options; nm_sim_opts_default fills sensible values (the SRK
 * protocol of the design: 20 s transient, 60 s recorded, 5 ms sampling). */
typedef struct nm_sim_opts {
    double duration_ms;    /* recorded span after the transient (ms), > 0 */
    double dt_ms;          /* sampling step of the output (ms), 0 < dt <= duration */
    double transient_ms;   /* simulated then dropped (ms), >= 0 */
    const double *y0;      /* initial state (nstates) or NULL for the default */
    double noise_mv;       /* std of Gaussian measurement noise added to V (mV), >= 0 */
    uint64_t seed;         /* seed of the noise RNG (same seed, same noise) */
    double rtol;           /* integrator relative tolerance, in [1e-14, 0.1] */
    double atol;           /* integrator absolute tolerance (state units), > 0 */
    int record_states;     /* also record all states into series->states */
    nm_sim_method method;  /* GSL stepper */
} nm_sim_opts;

void nm_sim_opts_default(nm_sim_opts *o);

/* Integrate the model at its current parameters; *out gets a new series with
 * floor(duration_ms/dt_ms)+1 samples, t0_ms = transient_ms, p = control.
 * Noise (if any) is added to series->v only; recorded states are exact.
 * A diverging or non-finite solution is NM_ENUMERIC; *out is NULL on failure. */
nm_status nm_simulate(const nm_model *m, const nm_sim_opts *o, nm_series **out);

/* ------------------------------------------------------------------------ */
/* Analysis: spikes, ISIs, regimes, sweeps                                   */
/* ------------------------------------------------------------------------ */

/* Times (ms) of upward crossings of threshold_mv, linearly interpolated
 * between samples.  *times is malloc'ed (free with free()); may be NULL when
 * *nspikes == 0. */
nm_status nm_spikes_detect(const double *v, size_t n, double dt_ms, double t0_ms,
                           double threshold_mv, double **times, size_t *nspikes);
/* The same with an explicit re-arm hysteresis (mV): after a spike, V must fall
 * below threshold - hysteresis before the next crossing counts (noisy data).
 * nm_spikes_detect uses 2 mV. */
nm_status nm_spikes_detect_hyst(const double *v, size_t n, double dt_ms, double t0_ms,
                                double threshold_mv, double hysteresis_mv, double **times,
                                size_t *nspikes);

typedef enum nm_regime_class {
    NM_REGIME_SILENT = 0,
    NM_REGIME_PERIODIC = 1,
    NM_REGIME_IRREGULAR = 2
} nm_regime_class;

typedef struct nm_regime {
    nm_regime_class cls;
    int spikes_per_period;  /* k for periodic, else 0 */
    double period_ms;       /* period for periodic, else 0 */
    size_t nspikes;         /* spikes in the analysed window */
    double rate_hz;         /* nspikes / window */
    double isi_min_ms, isi_max_ms, isi_mean_ms; /* 0 if fewer than 2 spikes */
} nm_regime;

typedef struct nm_regime_opts {
    int max_k;              /* longest pattern looked for (spikes per period) */
    double rel_tol;         /* relative ISI tolerance for "repeats" */
    double abs_tol_ms;      /* absolute ISI tolerance (ms), e.g. sampling jitter */
    int min_repeats;        /* full periods that must be seen to call it periodic */
    size_t min_spikes;      /* fewer spikes than this: silent */
} nm_regime_opts;

void nm_regime_opts_default(nm_regime_opts *o);

/* Classify a spike train observed over a window of duration_ms. */
nm_status nm_regime_classify(const double *times, size_t nspikes, double duration_ms,
                             const nm_regime_opts *o, nm_regime *out);

/* "silent", "periodic:3", "irregular" into buf; returns buf. */
char *nm_regime_format(const nm_regime *r, char *buf, size_t len);
/* Parse the format above ("periodic:3"); NM_EFORMAT if malformed. */
nm_status nm_regime_parse(const char *s, nm_regime *out);

/* Sweep the control parameter: simulate at each p[i] (sim: NULL for the
 * defaults), detect spikes at nm_model_spike_threshold and classify the
 * recorded window into regimes[i] (ro: NULL for the defaults).  Uses nthreads
 * worker threads (0 = number of online CPUs; never more than np); each thread
 * owns its own copy of the model, m is not modified.  Point i uses noise seed
 * sim->seed + i, so results are identical for every nthreads.  If any point
 * fails, the call fails with a message naming the first failing p. */
nm_status nm_sweep(const nm_model *m, const double *p, size_t np, const nm_sim_opts *sim,
                   const nm_regime_opts *ro, int nthreads, nm_regime *regimes);

/* ======================================================================== */
/* Learning (issue 3+): nn engine, embedding, VAE, model file.               */
/* ======================================================================== */

/* ------------------------------------------------------------------------ */
/* Model file                                                                */
/* ------------------------------------------------------------------------ */

/* A model file is a generic container of named, typed arrays (format:
 * docs/model-format.md).  Names are 1..NM_MF_NAME_MAX characters from
 * [A-Za-z0-9_.-], unique in a file; the text before the first '.' is the
 * entry's section ("norm.mean" is in section "norm"), so new sections (the
 * map, metadata) need no new format version.  Entries keep the order they
 * were added in, and the bytes written depend only on the entries (same
 * entries -> identical file).  A scalar is an array of one element.
 *
 * Loaded containers are read-only in use: any number of threads may look
 * entries up in one container at once; reading different (or the same) files
 * from several threads is safe. */
#define NM_MF_VERSION_MAJOR 1
#define NM_MF_VERSION_MINOR 0
#define NM_MF_NAME_MAX 255
#define NM_MF_ANY ((size_t)-1)   /* "any length" for nm_mf_get* */

typedef enum nm_mf_type {
    NM_MF_I32 = 1,   /* int32_t */
    NM_MF_I64 = 2,   /* int64_t */
    NM_MF_U64 = 3,   /* uint64_t (seeds) */
    NM_MF_F32 = 4,   /* float, finite (network parameters) */
    NM_MF_F64 = 5,   /* double, finite */
    NM_MF_STR = 6    /* text: n bytes, no NUL (UTF-8 by convention) */
} nm_mf_type;

typedef struct nm_mf nm_mf;

nm_mf *nm_mf_alloc(void);                 /* an empty container */
void nm_mf_free(nm_mf *mf);

/* Add a copy of data[0..n) as entry `name`.  NM_EINVAL (naming the entry) for
 * a bad or duplicate name, NaN/Inf in float data, a NUL inside a string, or
 * data == NULL with n > 0. */
nm_status nm_mf_add(nm_mf *mf, const char *name, nm_mf_type type, const void *data, size_t n);
nm_status nm_mf_add_i32(nm_mf *mf, const char *name, const int32_t *x, size_t n);
nm_status nm_mf_add_i64(nm_mf *mf, const char *name, const int64_t *x, size_t n);
nm_status nm_mf_add_u64(nm_mf *mf, const char *name, const uint64_t *x, size_t n);
nm_status nm_mf_add_f32(nm_mf *mf, const char *name, const float *x, size_t n);
nm_status nm_mf_add_f64(nm_mf *mf, const char *name, const double *x, size_t n);
nm_status nm_mf_add_str(nm_mf *mf, const char *name, const char *s);
nm_status nm_mf_add_scalar_i32(nm_mf *mf, const char *name, int32_t x);
nm_status nm_mf_add_scalar_u64(nm_mf *mf, const char *name, uint64_t x);
nm_status nm_mf_add_scalar_f64(nm_mf *mf, const char *name, double x);

/* Remove one entry (NM_ENOTFOUND if absent) or every entry of a section
 * (returns how many were removed), e.g. before re-training the map. */
nm_status nm_mf_remove(nm_mf *mf, const char *name);
size_t nm_mf_remove_section(nm_mf *mf, const char *section);

/* Look entry `name` up, requiring its type and, unless n_expected is
 * NM_MF_ANY, its element count.  *data points into the container (valid until
 * it is changed or freed; strings are NUL-terminated); n may be NULL.
 * NM_ENOTFOUND if absent, NM_EFORMAT for a wrong type or length; the message
 * names the file and the entry. */
int nm_mf_has(const nm_mf *mf, const char *name);
nm_status nm_mf_get(const nm_mf *mf, const char *name, nm_mf_type type, size_t n_expected,
                    const void **data, size_t *n);
nm_status nm_mf_get_i32(const nm_mf *mf, const char *name, size_t n_expected,
                        const int32_t **x, size_t *n);
nm_status nm_mf_get_i64(const nm_mf *mf, const char *name, size_t n_expected,
                        const int64_t **x, size_t *n);
nm_status nm_mf_get_u64(const nm_mf *mf, const char *name, size_t n_expected,
                        const uint64_t **x, size_t *n);
nm_status nm_mf_get_f32(const nm_mf *mf, const char *name, size_t n_expected,
                        const float **x, size_t *n);
nm_status nm_mf_get_f64(const nm_mf *mf, const char *name, size_t n_expected,
                        const double **x, size_t *n);
nm_status nm_mf_get_str(const nm_mf *mf, const char *name, const char **s);
/* One-element entries. */
nm_status nm_mf_get_scalar_i32(const nm_mf *mf, const char *name, int32_t *x);
nm_status nm_mf_get_scalar_u64(const nm_mf *mf, const char *name, uint64_t *x);
nm_status nm_mf_get_scalar_f64(const nm_mf *mf, const char *name, double *x);

/* Listing (for `neuromap info`): entry i in file order; out-pointers may be
 * NULL.  NM_EINVAL if i >= nm_mf_count(mf). */
size_t nm_mf_count(const nm_mf *mf);
nm_status nm_mf_entry(const nm_mf *mf, size_t i, const char **name, nm_mf_type *type,
                      size_t *n, const void **data);
const char *nm_mf_type_name(nm_mf_type type);   /* "f32", ...; "?" if unknown */
/* Format version of the file it was read from (the current one for a new
 * container) and how many entries of unknown type (from a newer minor
 * version) were skipped on reading. */
void nm_mf_format(const nm_mf *mf, unsigned *major, unsigned *minor, size_t *nskipped);

/* Write atomically (temporary file in the same folder, then rename): a
 * failure never leaves a partial file or a temporary behind. */
nm_status nm_mf_write(const nm_mf *mf, const char *path);
/* Read and validate a whole file (size, magic, version, every length, names,
 * types, NaN/Inf, trailing bytes, CRC-32); *out is NULL on failure.  Status:
 * NM_EIO (cannot open/read, not a regular file), NM_EFORMAT (malformed),
 * NM_EVERSION (other major version), NM_ECHECKSUM; the message names the
 * file and, where it applies, the entry. */
nm_status nm_mf_read(const char *path, nm_mf **out);
/* The same in memory: the encoded bytes (malloc'ed, free with free()) and
 * decoding a buffer (label names it in messages; NULL -> "<memory>"). */
nm_status nm_mf_encode(const nm_mf *mf, unsigned char **buf, size_t *len);
nm_status nm_mf_decode(const void *buf, size_t len, const char *label, nm_mf **out);

#ifdef __cplusplus
}
#endif

#endif /* NEUROMAP_H */
