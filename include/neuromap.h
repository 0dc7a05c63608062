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

/* Threads OpenBLAS may use inside one matrix product (process-wide, set
 * once at start-up).  The networks here are small: one thread is fastest and
 * leaves the cores to the caller's own threads; the `neuromap` command sets 1
 * unless OPENBLAS_NUM_THREADS is in the environment. */
void nm_set_blas_threads(int n);

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
    double *u;         /* [n] injected input at sample i (unit u_unit), or NULL: none
                        * (issue 11: x(n+1) = F(x(n), p, u(n))); freed by nm_series_free */
    char u_unit[16];   /* unit of u, e.g. "nA" or "uA/cm2" ("" when u is NULL) */
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
 * file and line.  So are files that are not regular files or are larger than
 * NM_SERIES_MAX_BYTES, NUL bytes, voltages outside +-NM_SERIES_MAX_ABS_MV
 * and times outside +-NM_SERIES_MAX_ABS_MS (docs/limits.md); a UTF-8
 * byte-order mark is skipped.  p is stored in the result as given. */
#define NM_SERIES_MAX_BYTES ((size_t)1 << 30) /* 1 GiB: ~60 M CSV rows */
#define NM_SERIES_MAX_ABS_MV 1e6              /* |V| of any real recording is < 1e3 mV */
#define NM_SERIES_MAX_ABS_MS 1e15             /* |t|: about 31,700 years */
nm_status nm_series_read(const char *path, double dt_ms, double p,
                         size_t min_samples, nm_series **out);

/* The injected input (issue 11; docs/input.md).  A CSV series may carry the
 * injected current as a third column after a header `t_ms,V_mV,I_<unit>`;
 * nm_series_read then fills s->u and s->u_unit (canonical unit), otherwise
 * s->u stays NULL.  Units: I_pA, I_nA, I_uA, I_uA_cm2 (or I_uA/cm2),
 * I_mA_cm2 (or I_mA/cm2) and I_1 (dimensionless, the unit of the hr
 * model).  Every value must be present and finite with |I| <=
 * NM_SERIES_MAX_ABS_INPUT in the file's unit (a guard against garbage: real
 * currents are below 1e4 of any of these units); messages name file and
 * line.  Positive = depolarising (current into the cell). */
#define NM_SERIES_MAX_ABS_INPUT 1e6
/* The canonical name of a unit spelling ("uA_cm2" -> "uA/cm2"; "nA" ->
 * "nA"), or NULL if the unit is not one of the above. */
const char *nm_input_unit_canonical(const char *unit);
/* Attach the input of a series from a 1-D float32/float64 .npy of exactly
 * s->n values in `unit` (any spelling above), replacing any s->u.  NaN/Inf,
 * |I| > NM_SERIES_MAX_ABS_INPUT, a length other than s->n and an unknown unit
 * are refused with a message naming the file (and element); s is unchanged
 * then. */
nm_status nm_series_read_input(nm_series *s, const char *npy_path, const char *unit);
/* Write s->u as a 1-D float64 .npy (atomically); NM_EINVAL if s->u is NULL. */
nm_status nm_series_write_input(const char *npy_path, const nm_series *s);

/* Write t_ms,V_mV CSV (with header; then I_<unit> when s->u is set, e.g.
 * I_nA or I_uA_cm2; and every recorded state as extra columns if
 * with_states) or, for a ".npy" name, V as a 1-D float64 array (the input,
 * if any, is not written there: nm_series_write_input).
 * Written to a temporary file in the same folder, then renamed: a failure
 * never leaves a partial file behind. */
nm_status nm_series_write(const char *path, const nm_series *s, int with_states,
                          const char *const *state_names);

/* Write len bytes to path atomically (temporary "<path>.tmp.<pid>.XXXXXX" in
 * the same folder, then rename): readers never see a partial file.  A
 * symlink is written through (the file it points to is replaced, keeping its
 * mode); a character device or FIFO is written in place; a directory, socket
 * or block device is refused.  docs/limits.md has the details. */
nm_status nm_file_write_atomic(const char *path, const void *data, size_t len);

/* Check, before any work, that path can be written the way the writers
 * above write it: its folder exists and is writable, and it is not a
 * directory, socket, block device or dangling symlink.  NM_EIO with a
 * message naming path otherwise. */
nm_status nm_output_check(const char *path);

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
extern const nm_model_type *const nm_model_srk_slow; /* the same with tauS = 35 s (bursts of 7-30) */
extern const nm_model_type *const nm_model_hh;  /* Hodgkin-Huxley 1952 squid axon, p = I (uA/cm2) */
extern const nm_model_type *const nm_model_ml1; /* Morris-Lecar class I (SNIC), p = I (uA/cm2) */
extern const nm_model_type *const nm_model_ml2; /* Morris-Lecar class II (Hopf), p = I (uA/cm2) */
extern const nm_model_type *const nm_model_hr;  /* Hindmarsh-Rose bursting (chaotic windows), p = I */

/* Look a model type up by name ("srk", "hh", "ml1", ...; case-insensitive); NULL (and an
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

/* Injected current (issue 11; docs/input.md).  A protocol is a list of
 * components whose currents are summed and injected into the V equation;
 * positive = depolarising (current into the cell, like NEURON's IClamp).
 * Currents are in the model's input unit (nm_model_input_unit): uA/cm2 for
 * hh, ml1, ml2; pA for srk and srk_slow (their equations are scaled by
 * tau = C/g_ref with C = NM_SRK_CM_PF, so an injected I enters as
 * dV/dt += I/C); dimensionless for hr (like its control I).  Conductances
 * (NM_INPUT_SYN) are in input unit per mV: mS/cm2, nS, 1/mV.  Times are
 * model time in ms from the start of the simulation (the t_ms of the
 * output, transient included). */
#define NM_SRK_CM_PF 5.3          /* srk membrane capacitance (pF): 5310 fF, Sherman et al. 1988 */
#define NM_INPUT_MAX_ABS 1e6      /* |amplitude|, |amp1|, sd, conductance (model units) */
#define NM_INPUT_MAX_RATE_HZ 1e5  /* event rate of one Poisson component */
#define NM_INPUT_MAX_COMPONENTS 1024
typedef enum nm_input_kind {
    NM_INPUT_STEP = 1,    /* level amp on [t0_ms, t1_ms) (t1_ms <= t0_ms: from t0_ms on), 0 elsewhere */
    NM_INPUT_RAMP = 2,    /* linear from amp at t0_ms to amp1 at t1_ms (> t0_ms), 0 outside [t0, t1) */
    NM_INPUT_OU = 3,      /* Ornstein-Uhlenbeck current, mean amp, SD sd, correlation time tau_ms;
                           * held constant over each sampling interval (updated exactly at the
                           * sample times, from the stationary law at t = 0) */
    NM_INPUT_POISSON = 4, /* current-based synaptic events at rate_hz (Poisson): each adds amp to a
                           * current that decays as exp(-t/tau_ms) */
    NM_INPUT_SYN = 5      /* conductance-based: each event adds amp (>= 0) to a conductance g decaying
                           * as exp(-t/tau_ms); the current is g (erev_mv - V) */
} nm_input_kind;
typedef struct nm_input {
    nm_input_kind kind;
    double t0_ms, t1_ms;  /* STEP, RAMP: the window (ms of model time) */
    double amp;           /* STEP level, RAMP start, OU mean, POISSON weight, SYN conductance weight */
    double amp1;          /* RAMP end value */
    double sd;            /* OU standard deviation, >= 0 */
    double tau_ms;        /* OU correlation time, POISSON / SYN decay time (ms), > 0 */
    double rate_hz;       /* POISSON / SYN event rate (1/s), 0 .. NM_INPUT_MAX_RATE_HZ */
    double erev_mv;       /* SYN reversal potential (mV) */
} nm_input;
/* The unit of injected current of model m ("pA", "uA/cm2", "1"). */
const char *nm_model_input_unit(const nm_model *m);

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
    double noise_tau_ms;   /* 0: white noise; > 0: Ornstein-Uhlenbeck (low-pass) noise with this
                            * correlation time (ms), still of SD noise_mv, exactly discretised:
                            * lag-1 autocorrelation exp(-dt_ms/noise_tau_ms) */
    const nm_input *input; /* [ninput] injected-current components, summed; NULL/0: none (default) */
    size_t ninput;
    uint64_t input_seed;   /* seed of the OU and Poisson components (not the noise's; default 1) */
} nm_sim_opts;

void nm_sim_opts_default(nm_sim_opts *o);
/* The same, with the protocol suited to model m: SRK as above; HH 500 ms
 * transient, 2000 ms recorded, sampled every 0.025 ms (an HH spike lasts
 * ~2 ms, so 5 ms sampling would miss spikes). */
void nm_model_sim_opts_default(const nm_model *m, nm_sim_opts *o);

/* Integrate the model at its current parameters; *out gets a new series with
 * floor(duration_ms/dt_ms)+1 samples, t0_ms = transient_ms, p = control.
 * Noise (if any) is added to series->v only; recorded states are exact.
 * With an input protocol, series->u[i] is the mean injected current over
 * [t_i, t_i + dt_ms) (the charge delivered, integrated with V, over dt_ms)
 * and u_unit the model's input unit; the integration is restarted at every
 * discontinuity (step edges, OU updates, synaptic events), so events are
 * not smeared by the adaptive step.  Without one, u is NULL and the result
 * is what it was before inputs existed, bit for bit.
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

/* Spike coincidence factor Gamma (Kistler et al. 1997; the INCF single-neuron
 * competition's measure) of a predicted train against recorded spikes, both
 * in time order (ms) over a window of duration_ms: the share of coincidences
 * within +-delta_ms beyond chance, normalised so identical trains give 1 and
 * a Poisson train of the model's rate gives 0 on average.  Both trains empty
 * give 1.  NM_EDATA if the model's rate leaves no room for chance
 * (2 rate delta >= 1). */
typedef struct nm_coincidence {
    double gamma;
    size_t n_data, n_model, n_coinc;
    double delta_ms;
} nm_coincidence;
nm_status nm_coincidence_factor(const double *t_data, size_t n_data, const double *t_model, size_t n_model,
                                double delta_ms, double duration_ms, nm_coincidence *out);

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
/* Scale the absolute ISI tolerance with the sampling step of the trace the
 * spike times were read from: abs_tol_ms = min(2, 0.4 dt_ms) ms.  2 ms at the
 * 5 ms of the SRK reference (as the default); 0.04 ms at 0.1 ms, where 2 ms
 * would be a third of a 6 ms ISI and call a drifting train periodic. */
void nm_regime_opts_for_step(nm_regime_opts *o, double dt_ms);
/* The largest pattern (spikes per period) worth looking for in data whose
 * longest periodic pattern has kmax spikes: max(12, ceil(1.25 kmax)), at most
 * NM_REGIME_MAX_K_AUTO.  Models store it (map.regime_max_k) so `compare`
 * judges slow bursters with 13..30 spikes per burst as periodic. */
#define NM_REGIME_MAX_K_AUTO 64
int nm_regime_max_k_for(int kmax);

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

/* ------------------------------------------------------------------------ */
/* Embedding and variational autoencoder                                     */
/* ------------------------------------------------------------------------ */

/* Progress of a long training run, handed to a caller's callback once per
 * epoch (the library never prints).  Return non-zero from the callback to
 * stop training early (the best state so far is kept). */
typedef struct nm_train_progress {
    const char *stage;      /* "vae", "vae-scan D=3", "map", "map rollout 25", ... */
    size_t epoch, epochs;   /* 1-based epoch and the planned total */
    double loss, val_loss;  /* training / validation loss of the epoch */
    double recon, kl;       /* VAE parts (0 for the map) */
    double seconds;         /* wall time since the stage began */
} nm_train_progress;
typedef int (*nm_progress_fn)(const nm_train_progress *p, void *ctx);

/* VAE options; nm_vae_opts_default fills the reference configuration. */
typedef struct nm_vae_opts {
    size_t de;              /* delay-embedding length De (samples, delay 1) */
    size_t latent_dim;      /* D */
    size_t hidden[4];       /* encoder hidden widths (decoder mirrors them) */
    size_t nhidden;         /* number of hidden layers used (1..4) */
    double beta;            /* weight of the KL term */
    size_t epochs;          /* maximum epochs */
    size_t batch;           /* minibatch rows */
    double lr;              /* Adam step size */
    double val_frac;        /* share of each series held out (its end) for validation */
    size_t patience;        /* early stopping: epochs without improvement */
    uint64_t seed;          /* same seed, same model, byte for byte */
    nm_progress_fn progress;
    void *progress_ctx;
    int threads;            /* worker threads (0 = every online CPU); the model does
                               not depend on it, bit for bit (docs/vae.md, "Threads") */
} nm_vae_opts;
void nm_vae_opts_default(nm_vae_opts *o);

/* A trained VAE with the normalisation of V; read-only after training or
 * loading, so it may be shared between threads. */
typedef struct nm_vae nm_vae;

/* Per-training summary (final losses and per-unit KL in nats). */
typedef struct nm_vae_report {
    size_t epochs_run;
    double loss, val_loss, recon, val_recon, kl;
    double unit_kl[16];     /* per latent unit, mean over the data (nats) */
    double unit_var[16];    /* variance of the encoder mean mu_j over the data */
    size_t active_units;    /* units with var(mu_j) above NM_ACTIVE_UNIT_VAR */
} nm_vae_report;
/* A latent unit is "active" when the variance of its encoder mean across the
 * data exceeds this (Burda et al. 2016 use 1e-2). */
#define NM_ACTIVE_UNIT_VAR 1e-2

nm_status nm_vae_train(const nm_series *const *series, size_t nseries, const nm_vae_opts *o,
                       nm_vae **out, nm_vae_report *report);
void nm_vae_free(nm_vae *vae);
size_t nm_vae_latent_dim(const nm_vae *vae);
size_t nm_vae_embedding_len(const nm_vae *vae);
/* Sampling step (ms) of the training series: one delay, and one step of
 * the latent trajectory.  Series given to nm_vae_encode must match it. */
double nm_vae_dt_ms(const nm_vae *vae);

/* Encoder means mu(n) of every complete delay vector of a series:
 * *mu is malloc'ed [*rows x D], row r belongs to sample r + De - 1. */
nm_status nm_vae_encode(const nm_vae *vae, const nm_series *s, double **mu, size_t *rows);
/* Decode one latent vector to the newest component of the delay vector, V (mV). */
double nm_vae_decode_v(const nm_vae *vae, const double *z);

/* Store the VAE (sections "norm", "embed", "vae") in a model-file container /
 * load it back from one (every size validated). */
nm_status nm_vae_to_mf(const nm_vae *vae, nm_mf *mf);
nm_status nm_vae_from_mf(const nm_mf *mf, nm_vae **out);

/* The summary stored with a trained or loaded VAE. */
void nm_vae_get_report(const nm_vae *vae, nm_vae_report *report);

/* Latent-dimension selection from a scan: reports[D-1] is the report of
 * nm_vae_train at latent_dim = D (D = 1..dmax, same data and options
 * otherwise).  The rule (measured and justified in docs/vae.md):
 *   k = active units of the largest D (surplus units collapse to the prior
 *       when there is room; the units that stay are the ones the data need);
 *   chosen D = k, unless D = k's validation reconstruction is worse than
 *       the best over all D by more than recon_rtol (relative): then the
 *       smallest D > k that is within it;
 *   k = dmax (no unit collapsed): dmax, with a warning that dmax may be too
 *       small; k = 0: 1, with a warning.
 * Reconstruction alone does not decide: a 1-D latent can trace a closed
 * curve with one cut and reconstruct a sine as well as D = 2.  *dim gets the
 * choice; reason (may be NULL) a one-paragraph explanation with the numbers. */
#define NM_VAE_SCAN_RECON_RTOL 0.25
nm_status nm_vae_select_dim(const nm_vae_report *reports, size_t dmax, double recon_rtol,
                            size_t *dim, char *reason, size_t reason_len);

/* ------------------------------------------------------------------------ */
/* Learned model runtime: the map x(n+1) = F(x(n), p) and the decoder         */
/* ------------------------------------------------------------------------ */

/* A complete learned model loaded from a model file (VAE + map).  Read-only
 * after loading: any number of threads (NEURON cells) may step it at once. */
typedef struct nm_learned nm_learned;

nm_status nm_learned_load(const char *path, nm_learned **out);
nm_status nm_learned_from_mf(const nm_mf *mf, const char *label, nm_learned **out);
void nm_learned_free(nm_learned *m);

/* The one validation of a model file's contents, made before anything is
 * allocated from its dimensions: every size against its range and against
 * what the file holds (parameter counts), the sections against each other
 * (De, D, layer sizes, map.dt_ms = embed.dt_ms, training p inside the p
 * scaling) and every value against its documented range (docs/model-format.md,
 * "Validation and fuzzing").  NM_MF_KIND_VAE: the autoencoder (sections norm,
 * embed, vae); NM_MF_KIND_LEARNED: that and the map, what nm_learned_from_mf
 * (so `run`, the NEURON registry, Python) requires -- it calls this first.
 * Messages start with label and name the entry and the limit. */
typedef enum nm_mf_kind { NM_MF_KIND_VAE = 1, NM_MF_KIND_LEARNED = 2 } nm_mf_kind;
nm_status nm_mf_validate(const nm_mf *mf, const char *label, nm_mf_kind kind);
/* NM_MF_KIND_LEARNED if the container has any entry of section "map", else
 * NM_MF_KIND_VAE. */
nm_mf_kind nm_mf_kind_of(const nm_mf *mf);
/* nm_mf_read, then nm_mf_validate as nm_mf_kind_of says (`neuromap info`,
 * Python's validate_model); *kind (may be NULL) gets the kind. */
nm_status nm_mf_check_file(const char *path, nm_mf_kind *kind);

size_t nm_learned_dim(const nm_learned *m);           /* latent dimension D */
double nm_learned_dt_ms(const nm_learned *m);         /* time of one map step (ms) */
double nm_learned_threshold_mv(const nm_learned *m);  /* spike threshold (mV) */
/* Range of p seen in training (the map extrapolates outside it). */
void nm_learned_p_range(const nm_learned *m, double *pmin, double *pmax);
/* The control parameter's name and unit (meta.p_name, meta.p_unit, set by
 * `neuromap train --p-name/--p-unit`; files without them: "p" and "") and
 * its default: the centre of the training range, (pmin + pmax) / 2, the p a
 * NEURON cell takes when its model is loaded unless p was set. */
const char *nm_learned_p_name(const nm_learned *m);
const char *nm_learned_p_unit(const nm_learned *m);
double nm_learned_p_default(const nm_learned *m);
/* Check a name and unit for p before they are stored: the name 1..NM_P_NAME_MAX
 * characters of [A-Za-z0-9_.-], the unit 0..NM_P_UNIT_MAX printable ASCII
 * characters without spaces (e.g. "mV", "nA", "uA/cm2").  NULL means the
 * default ("p", "").  NM_EINVAL with a message naming the value and the rule. */
#define NM_P_NAME_MAX 32
#define NM_P_UNIT_MAX 32
nm_status nm_learned_check_p_label(const char *name, const char *unit);
/* A start state (D values) on the training data: the encoder mean of a
 * training delay vector, stored in the model file. */
void nm_learned_initial_state(const nm_learned *m, double *x);

/* One map step: x_next = F(x, p) (D values each; may alias).  Thread-safe and
 * allocation-free.  NM_ENUMERIC if the result is not finite or leaves the
 * bounded region the training data spans (a diverged run), with a message. */
nm_status nm_learned_step(const nm_learned *m, double p, const double *x, double *x_next);
/* Decoded membrane potential (mV) of a latent state. */
double nm_learned_decode_v(const nm_learned *m, const double *x);
/* Free run of nsteps from x0 (NULL: nm_learned_initial_state) at constant p:
 * v[nsteps] gets the decoded V after each step, x_traj (NULL or
 * [nsteps x D]) the states.  Fails with NM_ENUMERIC on divergence. */
nm_status nm_learned_run(const nm_learned *m, double p, const double *x0, size_t nsteps,
                         double *v, double *x_traj);

/* Input-driven models (issue 11): a model trained on series that carry the
 * injected current (nm_series.u) has an input channel,
 *     x(n+1) = F(x(n), p, u(n)),
 * u(n) the mean input over the step (unit nm_learned_input_unit).  Models
 * without one ignore u.  Inputs outside the range seen in training
 * (nm_learned_input_range) are extrapolation: nm_learned_clamp_input clamps
 * to it and says whether it did (the NEURON cells and nm_learned_run_u clamp
 * and count). */
int nm_learned_has_input(const nm_learned *m);
const char *nm_learned_input_unit(const nm_learned *m);            /* "" without input */
void nm_learned_input_range(const nm_learned *m, double *umin, double *umax); /* 0, 0 without */
double nm_learned_clamp_input(const nm_learned *m, double u, int *clamped);
/* One step driven by input u (used as given, not clamped); NM_EINVAL for a
 * non-finite p or u, else as nm_learned_step. */
nm_status nm_learned_step_u(const nm_learned *m, double p, double u, const double *x, double *x_next);
/* Driven run: step k gets input u[k] clamped to the trained range (*nclamped,
 * may be NULL, counts the clamped steps); otherwise as nm_learned_run. */
nm_status nm_learned_run_u(const nm_learned *m, double p, const double *u, const double *x0, size_t nsteps,
                           double *v, double *x_traj, size_t *nclamped);

/* Batched stepping (issue 12): n cells of one model advanced together, every
 * layer one matrix-matrix product with the cells as columns.  Cell k has its
 * own p[k], u[k] (u NULL: 0; used as given, as nm_learned_step_u) and state
 * x[k*D .. k*D+D); x_next[k*D ..] gets its next state (x_next may be x) and
 * v[k] the decoded V (mV) of it.  BIT FOR BIT what nm_learned_step_u and
 * nm_learned_decode_v give for each cell alone (the same float operations in
 * the same order per cell; src/learn/batch.c).  A cell that fails (p or u not
 * finite: NM_EINVAL; the map left its bounded region: NM_ENUMERIC) keeps its
 * state (x_next row = x row), gets v NaN and status[k] = its code (status may
 * be NULL); the others are stepped.  Returns NM_OK, or the first failure's
 * code with a message naming the cell.  The workspace holds the tile buffers
 * (its size does not depend on n): one per thread, made for a model by
 * nm_learned_batch_alloc (NULL and a message on failure); it fits any model
 * whose layers are no wider and whose D is no larger (nm_learned_batch_fits). */
typedef struct nm_learned_batch nm_learned_batch;
nm_learned_batch *nm_learned_batch_alloc(const nm_learned *m);
void nm_learned_batch_free(nm_learned_batch *b);
int nm_learned_batch_fits(const nm_learned_batch *b, const nm_learned *m);
nm_status nm_learned_step_batch(const nm_learned *m, nm_learned_batch *b, size_t n, const double *p,
                                const double *u, const double *x, double *x_next, double *v, int *status);

/* A learned model under the input recorded in a series (`neuromap predict`):
 * the series is resampled to the map's step, the map starts from the
 * encoder's state of its first delay vector (De samples) and is driven by
 * its input (the mean over each step, as in training, clamped to the trained
 * range); the decoded V is compared with the recorded V from sample De on.
 * Spikes of both at the model's threshold with hysteresis_mv; Gamma within
 * +-delta_ms; first-spike latency after every upward input step of at least
 * step_frac of the input's range (until the next step); RMS V error below
 * threshold, at least spike_exclusion_ms away from every spike of either.
 * A model without an input channel runs at constant p (the input is
 * ignored).  NM_EINVAL when the model needs an input the series lacks or in
 * another unit; NM_ENUMERIC if the run diverges. */
typedef struct nm_predict_opts {
    double p;                   /* control value (NaN: the centre of the training range) */
    double delta_ms;            /* coincidence window (default 2 ms) */
    double hysteresis_mv;       /* spike re-arm hysteresis (default 2 mV) */
    double step_frac;           /* an input step: a jump >= this share of the range (0.25) */
    double spike_exclusion_ms;  /* sub-threshold error keeps this far from spikes (5 ms) */
} nm_predict_opts;
void nm_predict_opts_default(nm_predict_opts *o);

typedef struct nm_predict_result {
    size_t n;                   /* compared samples, at t0_ms + i dt_ms */
    double dt_ms, t0_ms, p, delta_ms;
    double *v_data, *v_model;   /* [n] recorded and predicted V (mV) */
    double *u;                  /* [n] the input (series' unit) */
    double *spikes_data, *spikes_model; /* spike times (ms) */
    size_t nspikes_data, nspikes_model;
    nm_coincidence coincidence; /* Gamma and the counts */
    size_t nsteps_input;        /* upward input steps found */
    double *step_t_ms;          /* [nsteps_input] their times */
    double *latency_data_ms, *latency_model_ms; /* first spike after each (NaN: none) */
    size_t latency_n;           /* steps where both spiked */
    size_t latency_missed;      /* steps where only one of them spiked */
    double latency_mean_err_ms, latency_max_err_ms; /* |model - data| over latency_n (NaN if 0) */
    double sub_rmse_mv;         /* sub-threshold V error (NaN if no such sample) */
    size_t sub_samples;
    size_t nclamped;            /* steps whose input was clamped to the trained range */
} nm_predict_result;
nm_status nm_predict(const nm_learned *m, const nm_series *s, const nm_predict_opts *o, nm_predict_result **out);
void nm_predict_result_free(nm_predict_result *r);

/* A fixed point of the map at p and its stability.  Starting from the state
 * after `settle` free-run steps from the initial state, Newton's method on
 * F(x, p) - x = 0 with a finite-difference Jacobian.  x (D values) gets the
 * fixed point, *v_mv its decoded V, eig_abs (D values, may be NULL) the
 * moduli of the Jacobian's eigenvalues in decreasing order: all < 1 means a
 * stable rest state.  NM_ENUMERIC if Newton does not converge (message says
 * how close it got). */
typedef struct nm_fixed_point {
    double x[16];
    double v_mv;
    double eig_abs[16];
    double residual;      /* |F(x) - x| in standardised units at the end */
    int iterations;
} nm_fixed_point;
nm_status nm_learned_fixed_point(const nm_learned *m, double p, size_t settle, nm_fixed_point *fp);

/* Training values of p stored in the model (n of them; may be NULL). */
const double *nm_learned_train_p(const nm_learned *m, size_t *n);
/* The VAE inside (for encoding series); owned by m. */
const nm_vae *nm_learned_vae(const nm_learned *m);
/* The model-file container behind m (for `neuromap info` and metadata). */
const nm_mf *nm_learned_mf(const nm_learned *m);

/* ------------------------------------------------------------------------ */
/* Settings chosen from the data (docs/settings.md)                          */
/* ------------------------------------------------------------------------ */

/* Average blocks of `factor` samples: out->v[k] = mean(v[k*f .. k*f+f-1])
 * (and the same for recorded states and the input u, if any), floor(n / f) samples every f*dt_ms,
 * t0_ms at the centre of the first block, p copied.  The block mean is the
 * anti-alias filter (a boxcar: it removes what the coarser step cannot
 * represent before decimating).  factor 1 is a copy.  NM_EINVAL for
 * factor 0 or fewer than factor samples. */
nm_status nm_series_resample(const nm_series *s, size_t factor, nm_series **out);
/* The resampling factor that turns steps of data_dt_ms into map_dt_ms:
 * NM_EINVAL unless map_dt_ms is an integer multiple (>= 1) of data_dt_ms
 * (relative tolerance 1e-6). */
nm_status nm_resample_factor(double data_dt_ms, double map_dt_ms, size_t *factor);

/* Rules of docs/settings.md, tuned on the reference cases (SRK sampled every
 * 5 ms, HH every 0.1 ms).  A spike is an excursion of V above the spike
 * level with re-arming hysteresis; its width is the time V stays above the
 * chosen threshold. */
#define NM_AUTOSET_SAMPLES_MIN 10.0    /* samples per spike width never resampled below */
#define NM_AUTOSET_SAMPLES_TARGET 14.0 /* samples per spike width aimed at when resampling */
#define NM_AUTOSET_WINDOW_WIDTHS 2.4   /* De covers this many spike widths */
#define NM_AUTOSET_MIN_SPIKE_MV 10.0   /* smallest spike amplitude (peak - low level) */

/* Choices the caller has already made; zero (nm_autoset_opts_default) means
 * "choose from the data". */
typedef struct nm_autoset_opts {
    size_t resample;        /* >0: use this resampling factor */
    double map_dt_ms;       /* >0: the map step; must be an integer multiple (>= 1)
                               of the series' step (relative tolerance 1e-6) */
} nm_autoset_opts;
void nm_autoset_opts_default(nm_autoset_opts *o);

#define NM_AUTOSET_WHY_LEN 200
typedef struct nm_autoset_result {
    /* measurements */
    double low_mv;          /* 5th percentile of V over the spiking series */
    double peak_mv;         /* median spike peak */
    double noise_mv;        /* white-noise SD estimated from second differences */
    double spike_width_ms;  /* median time above threshold per spike */
    size_t nspikes;         /* spikes counted at the threshold, all series */
    size_t nspiking;        /* series with at least one spike */
    double data_dt_ms;      /* sampling step of the series */
    /* choices */
    double threshold_mv;    /* midway between low_mv and peak_mv */
    double hysteresis_mv;   /* re-arm hysteresis used to count spikes: max(2, 6 noise) */
    size_t resample;        /* block-averaging factor (1 = keep the data's step) */
    double map_dt_ms;       /* data_dt_ms * resample */
    size_t de;              /* delay-embedding length (map steps) */
    size_t rollout;         /* rollout horizon (map steps) */
    size_t latent_dim;      /* latent dimension */
    double smooth_steps;    /* Gaussian SD (map steps) of the latent smoothing
                               against measurement noise; 0: clean data */
    int coarse;             /* 1: fewer than NM_AUTOSET_SAMPLES_MIN samples per spike */
    /* one short reason per choice (no trailing newline) */
    char threshold_why[NM_AUTOSET_WHY_LEN];
    char dt_why[NM_AUTOSET_WHY_LEN];
    char de_why[NM_AUTOSET_WHY_LEN];
    char rollout_why[NM_AUTOSET_WHY_LEN];
    char latent_why[NM_AUTOSET_WHY_LEN];
    char smooth_why[NM_AUTOSET_WHY_LEN];
} nm_autoset_result;

/* Choose the spike threshold, map step (resampling factor), embedding
 * length, rollout horizon and latent dimension from series[0..n) (all with
 * one sampling step; silent series are used for nothing but the noise
 * estimate).  opts may be NULL.  NM_EINVAL for bad arguments, NM_EDATA for
 * empty series, NaN/Inf, constant V or no spikes in any series (the message
 * says which flags to give instead). */
nm_status nm_autoset(const nm_series *const *series, size_t n, const nm_autoset_opts *opts,
                     nm_autoset_result *out);

/* Add the choices as meta.auto_* entries (docs/settings.md) to a model-file
 * container.  Only the choices flagged in `used` (NM_AUTOSET_* bits; the
 * ones the caller did not override) are written as choices; the
 * measurements are always written. */
enum {
    NM_AUTOSET_THRESHOLD = 1,
    NM_AUTOSET_DT = 2,
    NM_AUTOSET_DE = 4,
    NM_AUTOSET_ROLLOUT = 8,
    NM_AUTOSET_LATENT = 16,
    NM_AUTOSET_SMOOTH = 32
};
nm_status nm_autoset_to_mf(const nm_autoset_result *r, unsigned used, nm_mf *mf);

/* ------------------------------------------------------------------------ */
/* The end-to-end trainer: series -> VAE -> latent trajectories -> map        */
/* ------------------------------------------------------------------------ */

typedef struct nm_learn_opts {
    nm_vae_opts vae;            /* the autoencoder (vae.latent_dim: D) */
    const nm_vae *vae_pretrained; /* non-NULL: use this trained autoencoder (copied;
                                     its sampling step must match the series)
                                     instead of training one; vae is ignored */
    size_t map_hidden[4];       /* the map network's hidden widths */
    size_t map_nhidden;
    size_t map_onestep_epochs;  /* stage 1: one-step teacher forcing */
    double map_lr;
    double map_noise;           /* input noise (standardised latent units) */
    double latent_smooth;       /* > 0: the latent trajectories the map learns from
                                   are smoothed in time by a zero-phase Gaussian of
                                   this SD (map steps): against measurement noise */
    size_t map_nstages;         /* stage 2: rollout curriculum */
    size_t map_rollout_len[6];
    size_t map_rollout_iters[6];
    size_t map_rollout_batch;
    double map_rollout_lr;
    double map_clip_norm;
    double map_ema_decay;
    size_t map_select_every;    /* stage 3: checkpoint selection by free runs (0 = off) */
    size_t map_ensemble;        /* maps trained with seeds seed, seed+1, ...; their
                                   outputs are averaged at every step (1..8) */
    int threads;                /* worker threads for the ensemble (0 = all cores) */
    double threshold_mv;        /* spike threshold stored in the model (mV) */
    double hysteresis_mv;       /* re-arm hysteresis for spikes of the recorded
                                   series (mV; 0: 2 mV; train: from the noise) */
    uint64_t seed;              /* one seed for everything (VAE and map) */
    const char *command;        /* stored as meta.command (NULL: none) */
    const char *p_name;         /* stored as meta.p_name (NULL: "p") */
    const char *p_unit;         /* stored as meta.p_unit (NULL: "") */
    const nm_autoset_result *autoset; /* settings chosen from the data: stored as
                                     meta.auto_* (NULL: none) */
    unsigned autoset_used;      /* NM_AUTOSET_* bits of the choices applied */
    nm_progress_fn progress;
    void *progress_ctx;
} nm_learn_opts;
void nm_learn_opts_default(nm_learn_opts *o);

/* Train a complete model on series taken at constant control values
 * (series[i]->p), all with the same sampling step (= the map time step). */
nm_status nm_learn(const nm_series *const *series, size_t nseries, const nm_learn_opts *o,
                   nm_learned **out);
/* Write the model file atomically. */
nm_status nm_learned_save(const nm_learned *m, const char *path);

/* Distillation (issue 12): a lean copy of a trained model.  The teacher is
 * free-run from its start state at np values of p (its training range
 * widened by p_extend of its width on each side, or [p_min, p_max]) plus its
 * training p, duration_ms each; one map of the given widths is trained on
 * those latent runs (one-step, rollouts, checkpoints selected by the
 * regimes of free runs against the teacher's at every p), and, with vhead,
 * a small network D-hidden-1 is fitted to the teacher's decoded V and stored
 * as vhead.* (the runtime decodes with it).  The autoencoder and metadata
 * are the teacher's.  A model with an input channel is run at its training p
 * under input_protocols fluctuating inputs instead of a p grid, and the
 * student gets an input channel too (selected by the Gamma of its driven runs
 * against the teacher's).  Deterministic for a seed and thread count. */
typedef struct nm_distill_opts {
    size_t map_hidden[4];       /* the student map's hidden widths (default 96, 96) */
    size_t map_nhidden;
    size_t np;                  /* p values on the grid (default 89, 2..1000) */
    double p_min, p_max;        /* NaN, NaN: the training range widened by p_extend */
    double p_extend;            /* default 0.5 (of the range's width, each side) */
    double duration_ms;         /* each teacher run (NaN, the default: the teacher's
                                   shortest training series, at most 40000 ms;
                                   40000 ms for a model with an input channel) */
    size_t rollout_iters;       /* the student's rollout stage (default 8000) */
    int vhead;                  /* 1 (default): fit a V head */
    size_t vhead_hidden[4];     /* its hidden widths (default 32, 32) */
    size_t vhead_nhidden;
    size_t input_protocols;     /* models with an input channel: teacher runs per
                                   training p, each under an Ornstein-Uhlenbeck input
                                   with its mean at k/(K+1) of the trained input range
                                   and SD a sixth of it (default 4); np, p_min, p_max
                                   and p_extend are not used for them */
    double input_tau_ms;        /* its time constant (default 3 ms) */
    int threads;                /* 0: all cores */
    uint64_t seed;              /* default 1 */
    const char *command;        /* stored as meta.command (NULL: none) */
    nm_progress_fn progress;
    void *progress_ctx;
} nm_distill_opts;
void nm_distill_opts_default(nm_distill_opts *o);
typedef struct nm_distill_report {
    size_t nruns, ndiverged;    /* teacher runs used / left out (diverged) */
    size_t ntrain;              /* of them at training p */
    int select_matches;         /* grid p whose regime the kept checkpoint matched
                                   (input channel: driven runs with Gamma >= 0.9) */
    double select_gamma;        /* input channel: mean Gamma of the kept checkpoint's
                                   driven runs against the teacher's on the held-out
                                   last 20% of each run (NaN without input) */
    size_t start_matches;       /* training p reached from the chosen start */
    double vhead_rms_mv, vhead_max_mv; /* the head against the decoder (held-out states) */
    size_t macs, teacher_macs;  /* multiply-adds of one step + V decode */
} nm_distill_report;
nm_status nm_learned_distill(const nm_learned *teacher, const nm_distill_opts *o, nm_learned **out,
                             nm_distill_report *report);
/* Multiply-adds of one map step plus one V decode of a model. */
size_t nm_learned_step_macs(const nm_learned *m);

/* ======================================================================== */
/* Evaluation: reconstruction metrics and sweeps with ISIs (docs/evaluation.md) */
/* ======================================================================== */

/* State-space divergence D_stsp (Koppe et al. 2019; Brenner et al. 2022;
 * Hess et al. 2023) between a true and a generated scalar series with the
 * same sampling step, on their delay embeddings
 * (v[n], v[n-tau], ..., v[n-(dim-1)tau]), dim 1..NM_DSTSP_MAX_DIM, tau >= 1
 * samples: KL(p_true || p_gen) in nats of the occupancy of `bins` equal
 * cells per dimension spanning the TRUE data's range [min v, max v].
 * Both distributions get Laplace smoothing: p_c = (count_c + alpha) /
 * (N + alpha*cells), alpha = NM_DSTSP_ALPHA.  Generated vectors outside the
 * true range are not dropped: they keep their share of N_gen (an "outside"
 * cell the truth never visits), so a run that leaves the attractor scores
 * worse.  0 for identical inputs; about log(N/alpha) when disjoint.
 * NM_EDATA for a constant true series or one shorter than the embedding. */
#define NM_DSTSP_BINS 30         /* bins per dimension (the literature's 30) */
#define NM_DSTSP_MAX_DIM 3       /* binning is used for D <= 3 only (the literature
                                    switches to a GMM estimate above) */
#define NM_DSTSP_ALPHA 1e-5      /* Laplace pseudo-count per cell (as in the DSR
                                    reference code) */
nm_status nm_metric_dstsp(const double *v_true, size_t n_true, const double *v_gen, size_t n_gen,
                          size_t dim, size_t tau, size_t bins, double *out);

/* Power-spectrum Hellinger distance D_H (Mikhaeil et al. 2022; Hess et al.
 * 2023) between two series sampled every dt_ms: both are cut to the same
 * length n (the largest 2^a 3^b 5^c <= min(n_true, n_gen), for the FFT),
 * their mean removed, a Hann taper applied; the periodograms |X_k|^2,
 * k = 1..n/2 (DC excluded), are smoothed with a Gaussian of sigma_hz (in Hz;
 * 0 = none; edges reflected) and scaled to unit mass; then
 * D_H = sqrt(1 - sum_k sqrt(P_k Q_k)), in [0, 1]: 0 for identical spectra,
 * near 1 for spectra without overlap.  NM_EDATA for a constant series. */
#define NM_DH_SIGMA_HZ 0.1       /* default smoothing: see docs/evaluation.md */
nm_status nm_metric_dh(const double *v_true, size_t n_true, const double *v_gen, size_t n_gen,
                       double dt_ms, double sigma_hz, double *out);

/* 1-D Wasserstein-1 (earth mover's) distance between two samples, in their
 * unit (ms for ISIs): the integral of |F_a - F_b| of the empirical CDFs.
 * Exact, O((na+nb) log).  NM_EDATA if a sample is empty or not finite. */
nm_status nm_metric_wasserstein1(const double *a, size_t na, const double *b, size_t nb,
                                 double *out);

/* One grid point of a sweep that keeps the spikes: the regime of the
 * analysed window, its ISIs, and optionally the window's V. */
typedef struct nm_sweep_point {
    double p;                /* control value */
    nm_regime regime;        /* of the analysed window (silent if diverged) */
    int diverged;            /* learned: the run failed (NM_ENUMERIC) before the window
                                ended, so there is no regime; 0 for the truth */
    int bounded;             /* learned: the whole run (incl. bound_steps) finished
                                without NM_ENUMERIC; 1 for the truth */
    size_t steps_run;        /* learned: map steps completed (transient + window + check) */
    double latent_max_abs;   /* learned: max |x_j| over the steps completed */
    char message[160];       /* learned: why it diverged ("" if it did not) */
    double v_end;            /* V (mV) at the end of the window: for a silent point,
                                the resting potential it settled at */
    double *isi;             /* [nisi] ISIs (ms) of the analysed window, malloc'ed */
    size_t nisi;
    double *v;               /* [nv] V (mV) of the window if requested, else NULL */
    size_t nv;
    double dt_ms;            /* sampling step of v */
} nm_sweep_point;
/* Free the arrays inside points[0..np) (not the array itself); NULL ok. */
void nm_sweep_points_clear(nm_sweep_point *points, size_t np);

/* Options of a learned-model sweep; nm_learned_sweep_opts_default gives the
 * SRK protocol of `neuromap sweep` (20 s transient, 60 s window). */
typedef struct nm_learned_sweep_opts {
    double transient_ms;     /* run then dropped (ms), >= 0 */
    double duration_ms;      /* analysed window (ms), > 0 */
    size_t bound_steps;      /* the run goes on to at least this many steps in
                                total, only to check boundedness (0: no extra) */
    int nthreads;            /* 0 = every online CPU; never more than np */
    int keep_v;              /* store each window's V in point.v */
    nm_regime_opts regime;   /* classifier options */
} nm_learned_sweep_opts;
void nm_learned_sweep_opts_default(nm_learned_sweep_opts *o);

/* Sweep a learned model over p[0..np): at each p a free run from
 * nm_learned_initial_state, transient then window (ms converted to map
 * steps with nm_learned_dt_ms, rounded), spikes at nm_learned_threshold_mv
 * (nm_spikes_detect), classified with nm_regime_classify.  A run that
 * diverges (NM_ENUMERIC) is recorded in its point (diverged / bounded,
 * message), not returned as an error; any other failure fails the call with
 * a message naming p.  The model is shared read-only; each thread has its
 * own buffers; results do not depend on nthreads.  On failure the points
 * hold no arrays. */
nm_status nm_learned_sweep(const nm_learned *m, const double *p, size_t np,
                           const nm_learned_sweep_opts *o, nm_sweep_point *points);

/* The same for a ground-truth model (like nm_sweep, which it agrees with
 * point for point), keeping the ISIs and, if keep_v, the windows. */
nm_status nm_model_sweep_points(const nm_model *m, const double *p, size_t np,
                                const nm_sim_opts *sim, const nm_regime_opts *ro, int nthreads,
                                int keep_v, nm_sweep_point *points);

/* Do two regimes agree?  Same class and, for periodic, the same number of
 * spikes per period K and |period_l - period_t| <= period_rel_tol *
 * period_t (a truth period of 0, i.e. unknown, compares K only).  `neuromap
 * compare` uses period_rel_tol = NM_MATCH_PERIOD_TOL. */
#define NM_MATCH_PERIOD_TOL 0.25
int nm_regime_match(const nm_regime *truth, const nm_regime *learned, double period_rel_tol);

/* Read a recorded sweep: CSV with a header naming at least the columns `p`
 * and `regime` (silent, periodic:K, irregular; "diverged" is refused) and
 * optionally `period_ms` (other columns ignored; '#' comments and blank
 * lines skipped) -- e.g. what `neuromap sweep --format csv` writes.  Rows
 * are returned sorted by p (duplicates refused); *p and *regimes are
 * malloc'ed.  Periods are 0 where not given.  Messages name file and line. */
nm_status nm_regime_table_read(const char *path, double **p, nm_regime **regimes, size_t *n);

/* ------------------------------------------------------------------------ */
/* The whole comparison of `neuromap compare` as one call                   */
/* ------------------------------------------------------------------------ */

/* A learned model m against the ground truth over a grid of control values
 * (docs/evaluation.md): both sides swept (nm_model_sweep_points,
 * nm_learned_sweep), the regimes matched point by point (nm_regime_match,
 * period_tol), the agreement, period errors, resting V, transitions and
 * their offsets, and at the training p values (or at given truth traces)
 * the metrics W1 of the ISIs, D_H and D_stsp.  The ground truth is either a
 * model (truth != NULL; simulated at every p) or recorded regimes
 * (opts->truth_regimes, e.g. from nm_regime_table_read; then there is no
 * truth trace and the metrics need opts->truth_series).  m may be NULL: the
 * truth alone.  Nothing is random (the truth is simulated without noise);
 * the results do not depend on nthreads or on the progress callback. */
#define NM_COMPARE_BOUND_STEPS 100000 /* default boundedness check (map steps per run) */
#define NM_COMPARE_STSP_DIM 3         /* default D_stsp embedding dimension */
#define NM_COMPARE_STSP_TAU_MS 20.0   /* default D_stsp delay: a third of an SRK spike */
#define NM_COMPARE_ONSET_WINDOW 0.1   /* transition offsets: onsets within this share of the grid */
#define NM_COMPARE_MAX_POINTS 1000000 /* grid points at most */
#define NM_COMPARE_MAX_SERIES 32      /* truth traces at most */

typedef struct nm_compare_opts {
    const double *p;              /* [np] the grid: finite, strictly increasing */
    size_t np;                    /* 1..NM_COMPARE_MAX_POINTS */
    const nm_regime *truth_regimes; /* [np] recorded truth at p (only without a truth model) */
    const nm_series *const *truth_series; /* [ntruth_series] recorded V of the truth at
                                     truth_series[k]->p: the metrics are taken there
                                     instead of at the training p (needs m) */
    size_t ntruth_series;         /* 0..NM_COMPARE_MAX_SERIES */
    double duration_ms;           /* analysed window; NaN: the truth model's protocol (60 s
                                     for srk); recorded truth: the model's shortest training
                                     series (meta.train_min_span_ms), at most 60 s */
    double transient_ms;          /* dropped first; NaN: the model's (20 s for srk); recorded
                                     truth: half the default window */
    double dt_ms;                 /* sampling step of the truth; NaN: the model's */
    size_t bound_steps;           /* learned runs go on to this many map steps (0: window only) */
    int max_k;                    /* longest pattern looked for, 1..1000; 0: the model's
                                     map.regime_max_k, else the classifier's default */
    double period_tol;            /* periodic match: |T_l - T_t| <= period_tol T_t (>= 0) */
    size_t stsp_dim;              /* D_stsp embedding dimension 1..NM_DSTSP_MAX_DIM */
    double stsp_tau_ms;           /* its delay (> 0; rounded to map steps, at least 1) */
    double dh_sigma_hz;           /* D_H spectral smoothing (>= 0) */
    int nthreads;                 /* 0 = every online CPU */
    nm_progress_fn progress;      /* NULL, or called on the calling thread after every
                                     chunk of points: stage "compare truth", "compare
                                     learned", "compare metrics"; epoch/epochs = points
                                     done/all; non-zero return stops (NM_EINVAL) */
    void *progress_ctx;
} nm_compare_opts;
void nm_compare_opts_default(nm_compare_opts *o);

/* One grid point. */
typedef struct nm_compare_point {
    double p;
    nm_regime truth;              /* recorded truth: class, K and period only */
    nm_regime learned;            /* zero without a model or when diverged */
    int diverged;                 /* the learned run failed before the window ended */
    int bounded;                  /* the learned run finished every step (1 without a model) */
    int match;                    /* nm_regime_match(truth, learned, period_tol), 0 if diverged */
    double truth_v_end;           /* V at the end of the truth's window (NaN if recorded) */
    double learned_v_end;         /* the same for the learned run (NaN if none/diverged) */
    size_t steps_run;             /* learned map steps completed */
    double latent_max_abs;        /* learned: max |x_j| over them */
    char message[160];            /* learned: why it diverged ("" if it did not) */
    const double *truth_isi;      /* [truth_nisi] ISIs (ms) of the truth's window (NULL if recorded) */
    size_t truth_nisi;
    const double *learned_isi;    /* [learned_nisi] ISIs of the learned window */
    size_t learned_nisi;
} nm_compare_point;

/* A change of regime between consecutive grid points, at their midpoint;
 * labels as nm_regime_format, or "diverged". */
typedef struct nm_compare_transition {
    double p;
    char from[24], to[24];
} nm_compare_transition;

/* For truth transition A -> B: the nearest learned transition with the same
 * change (found 1), else the nearest learned onset of B within onset_window
 * (found 2), else none (found 0); dp = learned - truth. */
typedef struct nm_compare_offset {
    int found;
    double dp;
    size_t learned;               /* index into learned_transitions (when found) */
} nm_compare_offset;

/* Metrics at one p (a training p, or a truth series). */
typedef struct nm_compare_metric {
    double p;
    int recorded;                 /* the truth is truth_series[series] (else simulated) */
    size_t series;
    nm_regime truth;              /* the simulated truth's regime (zero if recorded) */
    nm_regime learned;
    int diverged;                 /* the learned run diverged: no metrics */
    double w1, w1_rel, dh, dstsp; /* W1 of the ISIs (ms), W1 / truth's mean ISI, D_H, D_stsp;
                                     NaN where undefined (why says why) */
    char why[160];
} nm_compare_metric;

typedef struct nm_compare_result {
    size_t np;
    nm_compare_point *points;     /* [np] */
    int has_model;                /* m was given */
    int truth_recorded;           /* opts->truth_regimes was the truth */
    /* the protocol used */
    double duration_ms, transient_ms;
    double truth_dt_ms;           /* the truth model's sampling step (0 if recorded) */
    double map_dt_ms;             /* the learned model's step (0 without a model) */
    nm_regime_opts regime;        /* the classifier's options, both sides */
    double period_tol;
    size_t bound_steps;
    size_t run_steps;             /* map steps of every learned run: transient + window, or more */
    /* the summary */
    size_t matches;               /* agreement = matches / np */
    double agreement;
    size_t bounded, diverged;
    size_t nperiod;               /* matched periodic points with a truth period */
    double period_err_mean, period_err_max;   /* relative */
    size_t nrest;                 /* points where both sides are silent */
    double rest_err_mean, rest_err_max;       /* |V_learned - V_truth| at the window's end (mV) */
    size_t ntruth_transitions, nlearned_transitions;
    nm_compare_transition *truth_transitions, *learned_transitions;
    nm_compare_offset *offsets;   /* [ntruth_transitions] (NULL without a model) */
    double onset_window;          /* NM_COMPARE_ONSET_WINDOW x the grid's span (p units) */
    size_t nmetrics;
    nm_compare_metric *metrics;   /* [nmetrics] */
    size_t stsp_dim, stsp_tau_steps;
    double dh_sigma_hz;
    double truth_seconds, learned_seconds; /* wall time of the two grid sweeps */
} nm_compare_result;

/* Run the comparison; *out gets a new result (free with
 * nm_compare_result_free), NULL on failure.  NM_EINVAL for bad arguments
 * (no truth or two kinds of it, a grid that is empty, too long, not finite
 * or not increasing, truth regimes or series without what they need,
 * options out of range) with a message naming the option and the limit;
 * failures of the sweeps and metrics as those report them. */
nm_status nm_compare(const nm_learned *m, const nm_model *truth, const nm_compare_opts *opts,
                     nm_compare_result **out);
void nm_compare_result_free(nm_compare_result *r);

/* For bindings (Python ctypes) that mirror public structs: sizeof of the
 * struct named type_name ("nm_compare_opts", "nm_learn_opts", ...), or 0
 * for a name not in the list (docs/python.md). */
size_t nm_abi_sizeof(const char *type_name);

/* ======================================================================== */
/* NEURON plugin support (mod/neuromap_cell.mod, mod/neuromap_clamp.mod)      */
/* ======================================================================== */

/* A registry of loaded learned models, shared by integer handles.  NEURON
 * cells keep their numbers in double-valued RANGE variables and cannot hold a
 * C pointer portably, so they refer to a model by a handle.  This registry is
 * the ONE deliberate piece of global mutable state in libneuromap: every
 * function below is thread-safe (one mutex), and the models are read-only
 * after loading, so cells on several NEURON threads step one model at once.
 *
 * nm_plugin_acquire loads a model file, or, if the same unchanged file (same
 * device, inode, size and modification time) is already loaded, adds a
 * reference to it; a file replaced on disk (e.g. retrained: written by
 * rename, a new inode) is loaded afresh while cells holding the old one keep
 * it.  nm_plugin_release drops one reference and frees the model when the
 * last one goes.  Handles are > 0 (0 means "none"); a handle whose model was
 * freed is refused, not mistaken for the model that reuses its slot. */
#define NM_PLUGIN_MAX_MODELS 1024  /* different model files loaded at once */
#define NM_PLUGIN_MAX_DIM 16       /* latent dimension a NEURON cell can hold */

nm_status nm_plugin_acquire(const char *path, int *handle);
nm_status nm_plugin_release(int handle);     /* NM_EINVAL if not a live handle */
const nm_learned *nm_plugin_get(int handle); /* NULL if not a live handle */
size_t nm_plugin_count(void);                /* models loaded now */
size_t nm_plugin_refcount(int handle);       /* references to it (0 if not live) */

/* The glue the mod files call (ints, doubles and double arrays only, so a
 * mod file can declare them without including this header, whose parameter
 * and member names clash with the macros nocmodl defines).  Each fails with
 * NM_EINVAL for a handle that is not live.
 *   info: latent dimension, map time step (ms), spike threshold (mV);
 *   init: x[dim] <- the model's start state, *v <- its decoded V (mV);
 *   step: x[dim] <- F(x, p), *v <- decoded V; on failure (NM_ENUMERIC: the
 *         run left the bounded region) x is left unchanged.
 * Pointers for outputs not wanted may be NULL (except x). */
nm_status nm_plugin_info(int handle, int *dim, double *dt_ms, double *threshold_mv);
nm_status nm_plugin_init(int handle, double *x, double *v);
nm_status nm_plugin_step(int handle, double p, double *x, double *v);
/* The model's control parameter: its default (nm_learned_p_default) and
 * training range; and its name and unit copied into name[nname] and
 * unit[nunit] (cut to fit, always terminated; either may be NULL). */
nm_status nm_plugin_p_info(int handle, double *p_default, double *pmin, double *pmax);
nm_status nm_plugin_p_label(int handle, char *name, size_t nname, char *unit, size_t nunit);

/* Input-driven cells (issue 11, docs/neuron.md "Input-driven cells").
 *
 * A current-based synapse integrated exactly: its state is
 * NM_PLUGIN_SYN_SIZE doubles, s[0] the current i (nA) at time s[1] (ms),
 * s[2] the charge (nA ms) delivered since the last mean.  Between events
 * i(t) = i(t_j) exp(-(t - t_j)/tau) and its integral is accumulated in
 * closed form (tau*(1 - exp(-d/tau)) via expm1; tau = +inf: a constant
 * current).  The NEURON cells and the offline reference (syn_means) call
 * these same functions, so both get the same numbers bit for bit.
 *   syn_init:  i = 0, charge 0, time t;
 *   syn_event: bring i and the charge up to t, then i += w (nA).  w = 0 does
 *              nothing at all.  NM_EINVAL (state unchanged) for tau not > 0
 *              (NaN), w or t not finite;
 *   syn_mean:  bring them up to t, *mean = charge/dt + ibias (nA, the mean
 *              current over the step of dt ms ending at t), charge <- 0.
 *              NM_EINVAL for tau not > 0, dt not > 0 or not finite, ibias or
 *              the mean not finite (state unchanged).
 * An event or a mean at a time before s[1] (by rounding) counts at s[1].
 * syn_means: the per-step means of a whole run: steps k = 1..nsteps at
 * t0 + k*dt, events (tev[j], wev[j]) sorted by time, each applied before the
 * first step at or after it (an event exactly at a step time gives the same
 * means either way); mean_na[nsteps]. */
#define NM_PLUGIN_SYN_SIZE 3
nm_status nm_plugin_syn_init(double *s, double t_ms);
nm_status nm_plugin_syn_event(double *s, double tau_ms, double t_ms, double w_na);
nm_status nm_plugin_syn_mean(double *s, double tau_ms, double t_ms, double dt_ms, double ibias_na,
                             double *mean_na);
nm_status nm_plugin_syn_means(double tau_ms, double ibias_na, double t0_ms, double dt_ms, const double *tev_ms,
                              const double *wev_na, size_t nev, size_t nsteps, double *mean_na);
/* nA -> a model's input unit: *factor such that u = factor * I_nA.  "nA" 1,
 * "pA" 1000, "uA" 1e-3, "1" 1 (a dimensionless input takes the nA as they
 * are), "uA/cm2" 1e5/area_um2 and "mA/cm2" 100/area_um2 (need the membrane
 * area: NM_EINVAL naming the unit when area_um2 is not > 0 and finite; it is
 * ignored otherwise), "" (a model without input) 0.  NM_EINVAL for another
 * unit.  input_factor: the same for a loaded model's unit. */
nm_status nm_plugin_unit_factor(const char *unit, double area_um2, double *factor);
nm_status nm_plugin_input_factor(int handle, double area_um2, double *factor);
/* A model's input channel: *has_input 0/1, the trained range (0, 0 without),
 * the unit copied into unit[nunit] ("" without; any output may be NULL). */
nm_status nm_plugin_input_info(int handle, int *has_input, double *umin, double *umax, char *unit,
                               size_t nunit);
/* One step driven by u (model units): u is clamped to the trained range
 * (nm_learned_clamp_input; *clamped 1 if it was), *u_used the value used;
 * then as nm_plugin_step, x unchanged on failure.  A model without input
 * ignores u (*u_used 0, *clamped 0: exactly nm_plugin_step).  NM_EINVAL for
 * a u that is not finite.  u_used and clamped may be NULL.  Bit for bit the
 * step nm_learned_run_u takes. */
nm_status nm_plugin_step_u(int handle, double p, double u, double *x, double *v, double *u_used,
                           int *clamped);
/* n cells of one model stepped together (nm_learned_step_batch): cell k as
 * nm_plugin_step_u(handle, p[k], u[k], x + k*dim, v + k, u_used + k,
 * clamped + k) would step it alone, bit for bit (u NULL: none; u_used and
 * clamped may be NULL); status[k] (required) its code, x rows of failed cells
 * unchanged.  *ws is the caller's workspace (one per thread; NULL at first):
 * allocated, or replaced when it does not fit the model, here; free it with
 * nm_plugin_batch_free.  Returns NM_OK or the first failure (message names
 * the cell). */
nm_status nm_plugin_step_batch(int handle, void **ws, size_t n, const double *p, const double *u, double *x,
                               double *v, double *u_used, int *clamped, int *status);
void nm_plugin_batch_free(void *ws);

#ifdef __cplusplus
}
#endif

#endif /* NEUROMAP_H */
