"""The pipeline as library calls: simulate, train, compare and distill from Python.

Every computation is libneuromap's (ctypes over ``runtime.library()``):
``simulate`` is ``nm_simulate``, ``train`` is ``nm_autoset`` + ``nm_learn``
with the options mapped exactly as ``neuromap train`` maps its flags (same
data and seed, same model file), and ``compare`` is ``nm_compare``, the
computation behind ``neuromap compare``, and ``distill`` is ``nm_learned_distill``, what
``neuromap distill`` runs.  Nothing is re-implemented here.

    from neuromap import simulate, train, compare
    series = []
    for p in (-42, -38, -31):
        t, v = simulate("srk", p=p, duration_ms=30000)
        series.append((v, p, 5.0))
    model = train(series, out="m.nmap", seed=1)     # a runtime.LearnedModel
    res = compare(model, truth="srk", p_min=-46, p_max=-30, p_step=2)
    print(res.agreement, [pt.learned for pt in res.points])
    lean = distill(model, out="m_lean.nmap")         # .model, .macs, ...

Series are ``(v, p)`` or ``(v, p, dt_ms)``; ``v`` may be a numpy array, a
list or a NEURON ``h.Vector`` (anything with ``.to_python()`` or the buffer
protocol; NEURON is never imported here).  Progress: ``progress=True``
prints a line per epoch (or chunk of grid points) on standard error like
the command; a callable gets a ``Progress`` and may return True to stop;
Ctrl-C stops the library call at its next progress report and raises
KeyboardInterrupt.  Library failures raise ``runtime.NeuromapError`` with
the library's message.  docs/python.md has the details.

The ctypes structures below mirror include/neuromap.h field by field; the
first call checks their sizes against the library (``nm_abi_sizeof``) and
tests/python/test_pipeline_py.py checks every offset with a C compiler.
"""

import collections
import ctypes
import dataclasses
import math
import operator
import os
import sys
import tempfile
import threading

import numpy as np

from . import runtime
from .runtime import LearnedModel, NeuromapError

__all__ = ["simulate", "train", "compare", "distill", "Progress", "CompareResult", "ComparePoint",
           "CompareMetric", "DistillResult", "check_layouts", "STRUCTS"]

_c_int, _c_uint, _c_dbl, _c_size, _c_u64 = (ctypes.c_int, ctypes.c_uint, ctypes.c_double,
                                            ctypes.c_size_t, ctypes.c_uint64)
_c_str, _c_void = ctypes.c_char_p, ctypes.c_void_p
_DPTR = ctypes.POINTER(ctypes.c_double)


# ---- mirrors of include/neuromap.h (same field names, same order) ----------

class Series(ctypes.Structure):
    _c_name_ = "nm_series"
    _fields_ = [("n", _c_size), ("dt_ms", _c_dbl), ("t0_ms", _c_dbl), ("p", _c_dbl),
                ("v", _DPTR), ("nstates", _c_size), ("states", _DPTR), ("u", _DPTR),
                ("u_unit", ctypes.c_char * 16)]


class SimOpts(ctypes.Structure):
    _c_name_ = "nm_sim_opts"
    _fields_ = [("duration_ms", _c_dbl), ("dt_ms", _c_dbl), ("transient_ms", _c_dbl),
                ("y0", _DPTR), ("noise_mv", _c_dbl), ("seed", _c_u64), ("rtol", _c_dbl),
                ("atol", _c_dbl), ("record_states", _c_int), ("method", _c_int),
                ("noise_tau_ms", _c_dbl), ("input", _c_void), ("ninput", _c_size),
                ("input_seed", _c_u64)]


class Regime(ctypes.Structure):
    _c_name_ = "nm_regime"
    _fields_ = [("cls", _c_int), ("spikes_per_period", _c_int), ("period_ms", _c_dbl),
                ("nspikes", _c_size), ("rate_hz", _c_dbl), ("isi_min_ms", _c_dbl),
                ("isi_max_ms", _c_dbl), ("isi_mean_ms", _c_dbl)]


class RegimeOpts(ctypes.Structure):
    _c_name_ = "nm_regime_opts"
    _fields_ = [("max_k", _c_int), ("rel_tol", _c_dbl), ("abs_tol_ms", _c_dbl),
                ("min_repeats", _c_int), ("min_spikes", _c_size)]


class TrainProgress(ctypes.Structure):
    _c_name_ = "nm_train_progress"
    _fields_ = [("stage", _c_str), ("epoch", _c_size), ("epochs", _c_size), ("loss", _c_dbl),
                ("val_loss", _c_dbl), ("recon", _c_dbl), ("kl", _c_dbl), ("seconds", _c_dbl)]


PROGRESS_FN = ctypes.CFUNCTYPE(_c_int, ctypes.POINTER(TrainProgress), _c_void)


class VaeOpts(ctypes.Structure):
    _c_name_ = "nm_vae_opts"
    _fields_ = [("de", _c_size), ("latent_dim", _c_size), ("hidden", _c_size * 4),
                ("nhidden", _c_size), ("beta", _c_dbl), ("epochs", _c_size), ("batch", _c_size),
                ("lr", _c_dbl), ("val_frac", _c_dbl), ("patience", _c_size), ("seed", _c_u64),
                ("progress", PROGRESS_FN), ("progress_ctx", _c_void), ("threads", _c_int)]


_WHY = 200  # NM_AUTOSET_WHY_LEN


class AutosetOpts(ctypes.Structure):
    _c_name_ = "nm_autoset_opts"
    _fields_ = [("resample", _c_size), ("map_dt_ms", _c_dbl)]


class AutosetResult(ctypes.Structure):
    _c_name_ = "nm_autoset_result"
    _fields_ = [("low_mv", _c_dbl), ("peak_mv", _c_dbl), ("noise_mv", _c_dbl),
                ("spike_width_ms", _c_dbl), ("nspikes", _c_size), ("nspiking", _c_size),
                ("data_dt_ms", _c_dbl), ("threshold_mv", _c_dbl), ("hysteresis_mv", _c_dbl),
                ("resample", _c_size), ("map_dt_ms", _c_dbl), ("de", _c_size),
                ("rollout", _c_size), ("latent_dim", _c_size), ("smooth_steps", _c_dbl),
                ("coarse", _c_int), ("threshold_why", ctypes.c_char * _WHY),
                ("dt_why", ctypes.c_char * _WHY), ("de_why", ctypes.c_char * _WHY),
                ("rollout_why", ctypes.c_char * _WHY), ("latent_why", ctypes.c_char * _WHY),
                ("smooth_why", ctypes.c_char * _WHY)]


class LearnOpts(ctypes.Structure):
    _c_name_ = "nm_learn_opts"
    _fields_ = [("vae", VaeOpts), ("vae_pretrained", _c_void), ("map_hidden", _c_size * 4),
                ("map_nhidden", _c_size), ("map_onestep_epochs", _c_size), ("map_lr", _c_dbl),
                ("map_noise", _c_dbl), ("latent_smooth", _c_dbl), ("map_nstages", _c_size),
                ("map_rollout_len", _c_size * 6), ("map_rollout_iters", _c_size * 6),
                ("map_rollout_batch", _c_size), ("map_rollout_lr", _c_dbl),
                ("map_clip_norm", _c_dbl), ("map_ema_decay", _c_dbl),
                ("map_select_every", _c_size), ("map_ensemble", _c_size), ("threads", _c_int),
                ("threshold_mv", _c_dbl), ("hysteresis_mv", _c_dbl), ("seed", _c_u64),
                ("command", _c_str), ("p_name", _c_str), ("p_unit", _c_str),
                ("autoset", ctypes.POINTER(AutosetResult)), ("autoset_used", _c_uint),
                ("progress", PROGRESS_FN), ("progress_ctx", _c_void)]


class CompareOpts(ctypes.Structure):
    _c_name_ = "nm_compare_opts"
    _fields_ = [("p", _DPTR), ("np", _c_size), ("truth_regimes", ctypes.POINTER(Regime)),
                ("truth_series", ctypes.POINTER(ctypes.POINTER(Series))),
                ("ntruth_series", _c_size), ("duration_ms", _c_dbl), ("transient_ms", _c_dbl),
                ("dt_ms", _c_dbl), ("bound_steps", _c_size), ("max_k", _c_int),
                ("period_tol", _c_dbl), ("stsp_dim", _c_size), ("stsp_tau_ms", _c_dbl),
                ("dh_sigma_hz", _c_dbl), ("nthreads", _c_int), ("progress", PROGRESS_FN),
                ("progress_ctx", _c_void)]


class ComparePointC(ctypes.Structure):
    _c_name_ = "nm_compare_point"
    _fields_ = [("p", _c_dbl), ("truth", Regime), ("learned", Regime), ("diverged", _c_int),
                ("bounded", _c_int), ("match", _c_int), ("truth_v_end", _c_dbl),
                ("learned_v_end", _c_dbl), ("steps_run", _c_size), ("latent_max_abs", _c_dbl),
                ("message", ctypes.c_char * 160), ("truth_isi", _DPTR), ("truth_nisi", _c_size),
                ("learned_isi", _DPTR), ("learned_nisi", _c_size)]


class CompareTransition(ctypes.Structure):
    _c_name_ = "nm_compare_transition"
    _fields_ = [("p", _c_dbl), ("from", ctypes.c_char * 24), ("to", ctypes.c_char * 24)]


class CompareOffset(ctypes.Structure):
    _c_name_ = "nm_compare_offset"
    _fields_ = [("found", _c_int), ("dp", _c_dbl), ("learned", _c_size)]


class CompareMetricC(ctypes.Structure):
    _c_name_ = "nm_compare_metric"
    _fields_ = [("p", _c_dbl), ("recorded", _c_int), ("series", _c_size), ("truth", Regime),
                ("learned", Regime), ("diverged", _c_int), ("w1", _c_dbl), ("w1_rel", _c_dbl),
                ("dh", _c_dbl), ("dstsp", _c_dbl), ("why", ctypes.c_char * 160)]


class CompareResultC(ctypes.Structure):
    _c_name_ = "nm_compare_result"
    _fields_ = [("np", _c_size), ("points", ctypes.POINTER(ComparePointC)),
                ("has_model", _c_int), ("truth_recorded", _c_int), ("duration_ms", _c_dbl),
                ("transient_ms", _c_dbl), ("truth_dt_ms", _c_dbl), ("map_dt_ms", _c_dbl),
                ("regime", RegimeOpts), ("period_tol", _c_dbl), ("bound_steps", _c_size),
                ("run_steps", _c_size), ("matches", _c_size), ("agreement", _c_dbl),
                ("bounded", _c_size), ("diverged", _c_size), ("nperiod", _c_size),
                ("period_err_mean", _c_dbl), ("period_err_max", _c_dbl), ("nrest", _c_size),
                ("rest_err_mean", _c_dbl), ("rest_err_max", _c_dbl),
                ("ntruth_transitions", _c_size), ("nlearned_transitions", _c_size),
                ("truth_transitions", ctypes.POINTER(CompareTransition)),
                ("learned_transitions", ctypes.POINTER(CompareTransition)),
                ("offsets", ctypes.POINTER(CompareOffset)), ("onset_window", _c_dbl),
                ("nmetrics", _c_size), ("metrics", ctypes.POINTER(CompareMetricC)),
                ("stsp_dim", _c_size), ("stsp_tau_steps", _c_size), ("dh_sigma_hz", _c_dbl),
                ("truth_seconds", _c_dbl), ("learned_seconds", _c_dbl)]


class DistillOpts(ctypes.Structure):
    _c_name_ = "nm_distill_opts"
    _fields_ = [("map_hidden", _c_size * 4), ("map_nhidden", _c_size), ("np", _c_size),
                ("p_min", _c_dbl), ("p_max", _c_dbl), ("p_extend", _c_dbl), ("duration_ms", _c_dbl),
                ("rollout_iters", _c_size), ("vhead", _c_int), ("vhead_hidden", _c_size * 4),
                ("vhead_nhidden", _c_size), ("input_protocols", _c_size), ("input_tau_ms", _c_dbl),
                ("threads", _c_int), ("seed", _c_u64), ("command", _c_str),
                ("progress", PROGRESS_FN), ("progress_ctx", _c_void)]


class DistillReport(ctypes.Structure):
    _c_name_ = "nm_distill_report"
    _fields_ = [("nruns", _c_size), ("ndiverged", _c_size), ("ntrain", _c_size),
                ("select_matches", _c_int), ("select_gamma", _c_dbl), ("start_matches", _c_size),
                ("vhead_rms_mv", _c_dbl), ("vhead_max_mv", _c_dbl), ("macs", _c_size),
                ("teacher_macs", _c_size)]


# Every mirrored struct (the layout test walks this list).
STRUCTS = [Series, SimOpts, Regime, RegimeOpts, TrainProgress, VaeOpts, AutosetOpts,
           AutosetResult, LearnOpts, CompareOpts, ComparePointC, CompareTransition,
           CompareOffset, CompareMetricC, CompareResultC, DistillOpts, DistillReport]

_SERIES_P = ctypes.POINTER(Series)

# ---- the library ---------------------------------------------------------------

_declared = None
_declare_lock = threading.Lock()


def _lib():
    """runtime.library() with the functions used here declared, after the
    layout check (once)."""
    global _declared
    if _declared is not None:
        return _declared
    with _declare_lock:
        if _declared is not None:
            return _declared
        lib = runtime.library()
        P = ctypes.POINTER
        sig = {
            "nm_abi_sizeof": (_c_size, [_c_str]),
            "nm_set_blas_threads": (None, [_c_int]),
            "nm_model_type_find": (_c_void, [_c_str]),
            "nm_model_alloc": (_c_void, [_c_void]),
            "nm_model_free": (None, [_c_void]),
            "nm_model_set_param": (_c_int, [_c_void, _c_str, _c_dbl]),
            "nm_model_set_control": (_c_int, [_c_void, _c_dbl]),
            "nm_model_sim_opts_default": (None, [_c_void, P(SimOpts)]),
            "nm_simulate": (_c_int, [_c_void, P(SimOpts), P(_SERIES_P)]),
            "nm_series_alloc": (_SERIES_P, [_c_size, _c_size]),
            "nm_series_free": (None, [_SERIES_P]),
            "nm_series_resample": (_c_int, [_SERIES_P, _c_size, P(_SERIES_P)]),
            "nm_resample_factor": (_c_int, [_c_dbl, _c_dbl, P(_c_size)]),
            "nm_autoset_opts_default": (None, [P(AutosetOpts)]),
            "nm_autoset": (_c_int, [P(_SERIES_P), _c_size, P(AutosetOpts), P(AutosetResult)]),
            "nm_learn_opts_default": (None, [P(LearnOpts)]),
            "nm_learn": (_c_int, [P(_SERIES_P), _c_size, P(LearnOpts), P(_c_void)]),
            "nm_learned_save": (_c_int, [_c_void, _c_str]),
            "nm_learned_free": (None, [_c_void]),
            "nm_mf_read": (_c_int, [_c_str, P(_c_void)]),
            "nm_mf_validate": (_c_int, [_c_void, _c_str, _c_int]),
            "nm_mf_free": (None, [_c_void]),
            "nm_vae_from_mf": (_c_int, [_c_void, P(_c_void)]),
            "nm_vae_embedding_len": (_c_size, [_c_void]),
            "nm_vae_free": (None, [_c_void]),
            "nm_regime_format": (_c_str, [P(Regime), _c_str, _c_size]),
            "nm_regime_parse": (_c_int, [_c_str, P(Regime)]),
            "nm_regime_table_read": (_c_int, [_c_str, P(_DPTR), P(P(Regime)), P(_c_size)]),
            "nm_compare_opts_default": (None, [P(CompareOpts)]),
            "nm_compare": (_c_int, [_c_void, _c_void, P(CompareOpts), P(P(CompareResultC))]),
            "nm_compare_result_free": (None, [P(CompareResultC)]),
            "nm_distill_opts_default": (None, [P(DistillOpts)]),
            "nm_learned_distill": (_c_int, [_c_void, P(DistillOpts), P(_c_void), P(DistillReport)]),
            "nm_learned_step_macs": (_c_size, [_c_void]),
        }
        for name, (res, args) in sig.items():
            fn = getattr(lib, name)
            fn.restype = res
            fn.argtypes = args
        _check_sizes(lib)
        _declared = lib
        return lib


def _check_sizes(lib):
    bad = []
    for s in STRUCTS:
        n = lib.nm_abi_sizeof(s._c_name_.encode())
        if n != ctypes.sizeof(s):
            bad.append("%s: library %d bytes, pipeline.py %d" % (s._c_name_, n, ctypes.sizeof(s)))
    if bad:
        raise NeuromapError("libneuromap (%s) does not match neuromap/pipeline.py's copy of "
                            "include/neuromap.h: %s; use the library of this source tree (or set "
                            "NEUROMAP_LIB)" % (runtime.find_library(), "; ".join(bad)))


def check_layouts():
    """Check the ctypes mirrors against the library's struct sizes
    (nm_abi_sizeof); raises NeuromapError on a mismatch."""
    _check_sizes(_lib())


def _fail(status, msg, what=None):
    raise NeuromapError("%s: %s" % (what, msg) if what else msg, status)


# ---- progress, Ctrl-C and the worker thread ------------------------------------

Progress = collections.namedtuple("Progress", "stage epoch epochs loss val_loss recon kl seconds")
Progress.__doc__ = """One progress report of the library (nm_train_progress): the stage
("vae", "map one-step", "map rollout 10", "compare truth", "compare learned",
"compare metrics", "teacher runs"), epoch (or grid points / teacher runs done) of epochs, the losses (0 for
compare and teacher runs), and the seconds since the stage began."""


class _Printer:
    """The command's progress lines (cli_progress) on standard error."""

    def __init__(self, stream=None):
        self.stream = stream
        self.stage = None
        self.start = 0.0

    def __call__(self, p):
        out = self.stream or sys.stderr
        if p.stage != self.stage:
            self.stage, self.start = p.stage, p.seconds
        el = p.seconds - self.start
        eta = el / p.epoch * (p.epochs - p.epoch) if p.epoch else 0.0
        if p.stage.startswith("compare"):
            # seconds count from the start of the stage
            eta = p.seconds / p.epoch * (p.epochs - p.epoch) if p.epoch else 0.0
            line = "%-18s %5d/%-5d points %6.1fs  ETA %5.1fs" % (p.stage, p.epoch, p.epochs,
                                                                p.seconds, eta)
        else:
            line = "%-18s %5d/%-5d loss %-10.4g val %-10.4g" % (p.stage, p.epoch, p.epochs, p.loss,
                                                                p.val_loss)
            if p.recon != 0 or p.kl != 0:
                line += " recon %-9.4g kl %-9.4g" % (p.recon, p.kl)
            line += " %6.1fs  ETA %5.1fs" % (p.seconds, eta)
        print(line, file=out, flush=True)
        return False


def _progress_target(progress):
    if progress is True:
        return _Printer()
    if progress is False or progress is None:
        return None
    if callable(progress):
        return progress
    raise TypeError("progress must be True, False or a callable taking a Progress")


class _Call:
    """A library call on a worker thread, so Ctrl-C on the caller's thread
    can ask it to stop: the progress callback (always installed) returns
    non-zero once stop is set or the user's callable asked for it or
    raised."""

    def __init__(self, progress):
        self.target = _progress_target(progress)
        self.stop = False
        self.error = None
        self.cfunc = PROGRESS_FN(self._callback)

    def _callback(self, pp, _ctx):
        if self.stop:
            return 1
        if self.target is None:
            return 0
        p = pp.contents
        rep = Progress(p.stage.decode(errors="replace") if p.stage else "", int(p.epoch),
                       int(p.epochs), p.loss, p.val_loss, p.recon, p.kl, p.seconds)
        try:
            if self.target(rep):
                self.stop = True
        except BaseException as e:  # noqa: B902 -- re-raised on the caller's thread
            self.error = e
            self.stop = True
        return 1 if self.stop else 0

    def run(self, fn):
        """fn() -> status on a worker thread; returns (status, message), the
        message read on the thread that failed (nm_last_error is per thread)."""
        box = {}
        done = threading.Event()

        def work():
            try:
                st = fn()
                box["st"] = st
                box["msg"] = runtime.last_error() if st else ""
            except BaseException as e:  # noqa: B902
                box["exc"] = e
            finally:
                done.set()

        t = threading.Thread(target=work, name="neuromap", daemon=True)
        t.start()
        interrupted = None
        # Wait on an Event, not on Thread.join: a join interrupted by Ctrl-C
        # can take the thread for finished while it still runs (CPython
        # bpo-45274's fix releases the thread's lock).
        while not done.is_set():
            try:
                done.wait(0.1)
            except KeyboardInterrupt as e:
                # The library stops at its next progress report.
                self.stop = True
                interrupted = interrupted or e
        t.join()
        if "exc" in box:
            raise box["exc"]
        if self.error is not None:
            raise self.error
        if interrupted is not None:
            raise interrupted
        return box["st"], box["msg"]


# ---- series in and out -------------------------------------------------------------

def _as_vector(v, what):
    """A 1-D float64 array from a numpy array, a list or a NEURON Vector."""
    if not isinstance(v, np.ndarray) and hasattr(v, "to_python"):
        v = v.to_python()
    a = np.ascontiguousarray(np.asarray(v, dtype=np.float64))
    if a.ndim != 1:
        raise ValueError("%s: V must be one-dimensional (got shape %s)" % (what, a.shape))
    return a


def _make_series(v, p, dt_ms, what):
    """A library nm_series holding a copy of v (free with nm_series_free)."""
    lib = _lib()
    a = _as_vector(v, what)
    if not len(a):
        raise ValueError("%s: V is empty" % what)
    s = lib.nm_series_alloc(len(a), 0)
    if not s:
        _fail(2, runtime.last_error() or "out of memory", what)
    ctypes.memmove(s.contents.v, a.ctypes.data, a.nbytes)
    s.contents.dt_ms = float(dt_ms)
    s.contents.t0_ms = 0.0
    s.contents.p = float(p)
    return s


def _series_list(series, dt_ms, what):
    """[(v, p, dt)] from (v, p) or (v, p, dt_ms) items."""
    out = []
    for i, item in enumerate(series):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError("%s[%d]: expected (v, p) or (v, p, dt_ms)" % (what, i))
        v, p = item[0], item[1]
        dt = item[2] if len(item) == 3 else dt_ms
        if dt is None:
            raise ValueError("%s[%d]: no sampling step: give (v, p, dt_ms) or dt_ms=" % (what, i))
        out.append((v, float(p), float(dt)))
    return out


# ---- simulate --------------------------------------------------------------------------

def simulate(model="srk", p=None, duration_ms=None, dt_ms=None, transient_ms=None, noise_mv=0.0,
             seed=1, noise_tau_ms=0.0, rtol=None, atol=None, **params):
    """Integrate a ground-truth model (nm_simulate), as ``neuromap simulate``:
    the model's own protocol (nm_model_sim_opts_default: for srk 20 s
    transient, 60 s recorded every 5 ms) with what is given laid over it;
    ``params`` set model parameters by name (``tauS=4000``).  p=None keeps
    the model's default control value.  Returns (t, v): the times (ms, from
    the end of the transient) and V (mV), numpy arrays."""
    lib = _lib()
    name = os.fspath(model)
    typ = lib.nm_model_type_find(name.encode())
    if not typ:
        _fail(9, runtime.last_error())
    m = lib.nm_model_alloc(typ)
    if not m:
        _fail(2, "out of memory")
    s = _SERIES_P()
    try:
        for k, val in params.items():
            st = lib.nm_model_set_param(m, k.encode(), float(val))
            if st:
                _fail(st, runtime.last_error(), "parameter %s" % k)
        so = SimOpts()
        lib.nm_model_sim_opts_default(m, ctypes.byref(so))
        for field, val in (("duration_ms", duration_ms), ("dt_ms", dt_ms),
                           ("transient_ms", transient_ms), ("rtol", rtol), ("atol", atol)):
            if val is not None:
                setattr(so, field, float(val))
        so.noise_mv = float(noise_mv)
        so.noise_tau_ms = float(noise_tau_ms)
        so.seed = int(seed)
        so.record_states = 0
        if p is not None:
            st = lib.nm_model_set_control(m, float(p))
            if st:
                _fail(st, runtime.last_error(), "p")
        st = lib.nm_simulate(m, ctypes.byref(so), ctypes.byref(s))
        if st:
            _fail(st, runtime.last_error())
        c = s.contents
        v = np.ctypeslib.as_array(c.v, shape=(c.n,)).copy()
        t = c.t0_ms + c.dt_ms * np.arange(c.n, dtype=np.float64)
        return t, v
    finally:
        if s:
            lib.nm_series_free(s)
        lib.nm_model_free(m)


# ---- train ------------------------------------------------------------------------------

# Options of train(), as `neuromap train` names its flags.
_TRAIN_OPTIONS = ("dt_ms", "resample", "map_dt_ms", "de", "latent", "hidden", "beta", "vae_epochs",
                  "smooth", "vae", "map_hidden", "map_epochs", "noise", "rollout", "rollout_iters",
                  "rollout_lr", "rollout_batch", "ensemble", "threshold", "no_auto", "threads",
                  "command", "p_name", "p_unit")


def _sizes(val, what, nmax):
    vals = [int(val)] if np.isscalar(val) else [int(x) for x in val]
    if not 1 <= len(vals) <= nmax:
        raise ValueError("%s: expected 1..%d integers, got %r" % (what, nmax, val))
    return vals


def _load_vae(lib, path):
    """The autoencoder of a model file (as `train --vae`: read, validate, load)."""
    path = os.fspath(path)
    mf = _c_void()
    st = lib.nm_mf_read(path.encode(), ctypes.byref(mf))
    if st:
        _fail(st, runtime.last_error())
    vae = _c_void()
    try:
        st = lib.nm_mf_validate(mf, path.encode(), 1)  # NM_MF_KIND_VAE
        if not st:
            st = lib.nm_vae_from_mf(mf, ctypes.byref(vae))
        if st:
            _fail(st, runtime.last_error(), path)
    finally:
        lib.nm_mf_free(mf)
    return vae


def train(series, out=None, seed=1, progress=True, **options):
    """Train a model (nm_learn) on voltage series taken at constant p.

    series: a list of (v, p) or (v, p, dt_ms), one sampling step for all.
    Options (the flags of ``neuromap train``, same defaults and the same
    choices from the data by nm_autoset for what is not given, so the same
    data and seed give the same model file): dt_ms (for (v, p) items),
    resample, map_dt_ms, de, latent, hidden, beta, vae_epochs, smooth,
    vae (a model file whose autoencoder is used), map_hidden, map_epochs,
    noise, rollout (int or list), rollout_iters, rollout_lr, rollout_batch,
    ensemble, threshold, no_auto, threads (the VAE's and the ensemble's worker
    threads, as --threads), command (stored as meta.command),
    p_name, p_unit.  Returns a runtime.LearnedModel; writes it to ``out``
    (atomically) if given.  Unless OPENBLAS_NUM_THREADS is set, OpenBLAS is
    set to one thread per product, as the command does."""
    unknown = sorted(set(options) - set(_TRAIN_OPTIONS))
    if unknown:
        raise TypeError("train: unknown option(s) %s; known: %s" % (", ".join(unknown),
                                                                    ", ".join(_TRAIN_OPTIONS)))
    lib = _lib()
    if not os.environ.get("OPENBLAS_NUM_THREADS"):
        lib.nm_set_blas_threads(1)
    items = _series_list(series, options.get("dt_ms"), "series")
    if not items:
        raise ValueError("train: give at least one series")
    call = _Call(progress)
    say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress is True else (lambda m: None)
    opt = options.get
    lo = LearnOpts()
    lib.nm_learn_opts_default(ctypes.byref(lo))
    ao = AutosetOpts()
    lib.nm_autoset_opts_default(ctypes.byref(ao))
    vae_flags = [k for k in ("de", "latent", "hidden", "beta", "vae_epochs") if opt(k) is not None]
    if opt("vae") is not None and vae_flags:
        raise ValueError("train: %s sets up a new autoencoder, but vae gives a trained one: use one "
                         "or the other" % vae_flags[0])
    if opt("de") is not None:
        lo.vae.de = int(opt("de"))
    if opt("latent") is not None:
        lo.vae.latent_dim = int(opt("latent"))
    if opt("hidden") is not None:
        h = _sizes(opt("hidden"), "hidden", 4)
        lo.vae.hidden[:len(h)] = h
        lo.vae.nhidden = len(h)
    if opt("beta") is not None:
        lo.vae.beta = float(opt("beta"))
    if opt("vae_epochs") is not None:
        lo.vae.epochs = int(opt("vae_epochs"))
    if opt("smooth") is not None:
        lo.latent_smooth = float(opt("smooth"))
    if opt("map_hidden") is not None:
        h = _sizes(opt("map_hidden"), "map_hidden", 4)
        lo.map_hidden[:len(h)] = h
        lo.map_nhidden = len(h)
    if opt("map_epochs") is not None:
        lo.map_onestep_epochs = int(opt("map_epochs"))
    if opt("noise") is not None:
        lo.map_noise = float(opt("noise"))
    if opt("rollout") is not None:
        r = _sizes(opt("rollout"), "rollout", 6)
        lo.map_rollout_len[:len(r)] = r
        lo.map_nstages = len(r)
    if opt("rollout_iters") is not None:
        lo.map_rollout_iters[:] = [int(opt("rollout_iters"))] * 6
    if opt("rollout_batch") is not None:
        lo.map_rollout_batch = int(opt("rollout_batch"))
    if opt("rollout_lr") is not None:
        lo.map_rollout_lr = float(opt("rollout_lr"))
    if opt("threshold") is not None:
        lo.threshold_mv = float(opt("threshold"))
    if opt("ensemble") is not None:
        lo.map_ensemble = int(opt("ensemble"))
    if opt("threads") is not None:
        # as --threads: the VAE's and the map ensemble's worker threads
        lo.threads = int(opt("threads"))
        lo.vae.threads = int(opt("threads"))
    if opt("resample") is not None:
        ao.resample = int(opt("resample"))
    if opt("map_dt_ms") is not None:
        ao.map_dt_ms = float(opt("map_dt_ms"))
    if ao.resample and ao.map_dt_ms > 0:
        raise ValueError("train: give resample or map_dt_ms, not both")
    lo.seed = int(seed)
    keep = []  # bytes objects the struct points into
    for field in ("command", "p_name", "p_unit"):
        if opt(field) is not None:
            b = str(opt(field)).encode()
            keep.append(b)
            setattr(lo, field, b)

    given = {k: opt(k) is not None for k in ("threshold", "de", "rollout", "latent", "smooth")}
    vae = _c_void()
    arr = (_SERIES_P * len(items))()
    model = _c_void()
    res = AutosetResult()
    try:
        if opt("vae") is not None:
            vae = _load_vae(lib, opt("vae"))
            lo.vae_pretrained = vae
            lo.vae.de = lib.nm_vae_embedding_len(vae)
            given["de"] = given["latent"] = True
        for i, (v, p, dt) in enumerate(items):
            arr[i] = _make_series(v, p, dt, "series[%d]" % i)
        _train_auto(lib, arr, len(items), ao, bool(opt("no_auto")), opt("vae") is not None, given,
                    lo, res, say)
        lo.progress = call.cfunc
        st, msg = call.run(lambda: lib.nm_learn(arr, len(items), ctypes.byref(lo),
                                                ctypes.byref(model)))
        if st:
            _fail(st, msg)
        return _save_learned(lib, model, out, "trained", say)
    finally:
        for i in range(len(items)):
            if arr[i]:
                lib.nm_series_free(arr[i])
        lib.nm_learned_free(model)
        if vae:
            lib.nm_vae_free(vae)


def _save_learned(lib, model, out, how, say):
    """The runtime.LearnedModel of a library nm_learned: written to out
    (atomically, nm_learned_save) and loaded from there, or, without out,
    through a temporary file (path "(HOW in memory)")."""
    tmpdir = None
    try:
        if out is None:
            tmpdir = tempfile.mkdtemp(prefix="neuromap-%s-" % how)
            path = os.path.join(tmpdir, "model.nmap")
        else:
            path = os.fspath(out)
        st = lib.nm_learned_save(model, path.encode())
        if st:
            _fail(st, runtime.last_error())
        learned = LearnedModel(path)
        if out is None:
            learned.path = "(%s in memory)" % how
        else:
            say("wrote %s" % path)
        return learned
    finally:
        if tmpdir:
            for f in os.listdir(tmpdir):
                os.unlink(os.path.join(tmpdir, f))
            os.rmdir(tmpdir)


def _train_auto(lib, arr, n, ao, no_auto, have_vae, given, lo, res, say):
    """What `neuromap train` does before nm_learn (cmd_train.c, train_auto):
    nm_autoset for the settings not given, block-average resampling, the
    length check.  Series in arr are replaced when resampled."""
    factor = ctypes.c_size_t(ao.resample)
    dt_given = bool(ao.resample) or ao.map_dt_ms > 0 or have_vae
    if ao.map_dt_ms > 0:
        st = lib.nm_resample_factor(arr[0].contents.dt_ms, ao.map_dt_ms, ctypes.byref(factor))
        if st:
            _fail(st, runtime.last_error(), "map_dt_ms")
    if not no_auto and not (given["threshold"] and given["de"] and given["rollout"] and dt_given
                            and given["smooth"]):
        a = AutosetOpts(ao.resample, ao.map_dt_ms)
        if have_vae and not a.resample and not a.map_dt_ms > 0:
            a.resample = 1
        st = lib.nm_autoset(arr, n, ctypes.byref(a), ctypes.byref(res))
        if st == 5:  # NM_EDATA
            _fail(st, runtime.last_error() + " (options: threshold, de, rollout, resample; or "
                  "no_auto=True)")
        if st:
            _fail(st, runtime.last_error())
        used = 0
        lo.hysteresis_mv = res.hysteresis_mv
        if not given["threshold"]:
            lo.threshold_mv = res.threshold_mv
            used |= 1
            say("auto: threshold %.1f mV (%s)" % (res.threshold_mv, res.threshold_why.decode()))
        if not dt_given:
            factor.value = res.resample
            used |= 2
            say("auto: map step %g ms (%s)" % (res.map_dt_ms, res.dt_why.decode()))
        if not given["de"]:
            lo.vae.de = res.de
            used |= 4
            say("auto: De %d (%s)" % (res.de, res.de_why.decode()))
        if not given["rollout"]:
            lo.map_nstages = 1
            lo.map_rollout_len[0] = res.rollout
            used |= 8
            say("auto: rollout %d steps (%s)" % (res.rollout, res.rollout_why.decode()))
        if not given["latent"]:
            lo.vae.latent_dim = res.latent_dim
            used |= 16
            say("auto: latent D %d (%s)" % (res.latent_dim, res.latent_why.decode()))
        if not given["smooth"]:
            lo.latent_smooth = res.smooth_steps
            used |= 32
            say("auto: latent smoothing %g steps (%s)" % (res.smooth_steps,
                                                          res.smooth_why.decode()))
        lo.autoset = ctypes.pointer(res)
        lo.autoset_used = used
    if factor.value > 1:
        for i in range(n):
            r = _SERIES_P()
            st = lib.nm_series_resample(arr[i], factor.value, ctypes.byref(r))
            if st:
                _fail(st, runtime.last_error(), "series[%d]" % i)
            lib.nm_series_free(arr[i])
            arr[i] = r
        say("resampled every series by block averages of %d: one map step is %g ms"
            % (factor.value, arr[0].contents.dt_ms))
    for i in range(n):
        if arr[i].contents.n < lo.vae.de + 200:
            raise NeuromapError("series[%d]: %d samples%s, fewer than De + 200 = %d (a few hundred "
                                "delay vectors)" % (i, arr[i].contents.n,
                                                    " after resampling" if factor.value > 1 else "",
                                                    lo.vae.de + 200), 5)


# ---- compare ----------------------------------------------------------------------------

def _regime_dict(lib, r):
    buf = ctypes.create_string_buffer(32)
    lib.nm_regime_format(ctypes.byref(r), buf, len(buf))
    return dict(name=buf.value.decode(), spikes_per_period=r.spikes_per_period,
                period_ms=r.period_ms, nspikes=int(r.nspikes), rate_hz=r.rate_hz,
                isi_min_ms=r.isi_min_ms, isi_max_ms=r.isi_max_ms, isi_mean_ms=r.isi_mean_ms)


def _array(ptr, n):
    return np.ctypeslib.as_array(ptr, shape=(n,)).copy() if n else np.zeros(0)


@dataclasses.dataclass
class ComparePoint:
    """One grid point of compare(): regimes as the command labels them
    ("silent", "periodic:K", "irregular"; learned also "diverged"), their
    periods (0 unless periodic), the match, and the regimes' ISI statistics
    (dicts as runtime.classify_regime), the ISIs and V at the window's end."""
    p: float
    truth: str
    learned: str
    match: bool
    truth_period_ms: float
    learned_period_ms: float
    diverged: bool
    bounded: bool
    truth_regime: dict
    learned_regime: dict
    truth_isi: np.ndarray
    learned_isi: np.ndarray
    truth_v_end: float
    learned_v_end: float
    message: str


@dataclasses.dataclass
class CompareMetric:
    """The metrics at one p: W1 of the ISIs (ms), W1 over the truth's mean
    ISI, D_H, D_stsp (NaN where undefined; why says why)."""
    p: float
    truth: str                 # "(recorded)" for a given truth series
    learned: str
    w1: float
    w1_rel: float
    dh: float
    dstsp: float
    recorded: bool
    series: int
    why: str


@dataclasses.dataclass
class CompareResult:
    """What nm_compare returns (docs/evaluation.md)."""
    points: list
    agreement: float           # matches / len(points); NaN without a model
    matches: int
    bounded: int
    diverged: int
    period_error_mean: float   # relative, over matched periodic points (NaN if none)
    period_error_max: float
    nperiod: int
    rest_error_mean_mv: float  # |V_learned - V_truth| where both are silent (NaN if none)
    rest_error_max_mv: float
    nrest: int
    truth_transitions: list    # (p, from, to)
    learned_transitions: list
    offsets: list              # per truth transition: (found, dp); found 0 none, 1 same, 2 onset
    metrics: list              # CompareMetric
    duration_ms: float
    transient_ms: float
    truth_dt_ms: float
    map_dt_ms: float
    regime_opts: dict
    run_steps: int
    stsp_tau_steps: int
    truth_seconds: float
    learned_seconds: float

    def regimes(self, side="learned"):
        """The labels of one side ("truth" or "learned") over the grid."""
        return [getattr(pt, side) for pt in self.points]


def _grid(p, p_min, p_max, p_step):
    if p is not None:
        if any(x is not None for x in (p_min, p_max, p_step)):
            raise ValueError("compare: give p or p_min/p_max/p_step, not both")
        return np.ascontiguousarray(np.atleast_1d(np.asarray(p, dtype=np.float64)))
    if any(x is None for x in (p_min, p_max, p_step)):
        return None
    # The command's grid (cli_grid): indices, not accumulation.
    if not p_step > 0:
        raise ValueError("compare: p_step must be > 0 (got %g)" % p_step)
    if p_max < p_min:
        raise ValueError("compare: p_max (%g) is below p_min (%g)" % (p_max, p_min))
    n = int(math.floor((p_max - p_min) / p_step + 1e-9)) + 1
    return p_min + np.arange(n, dtype=np.float64) * p_step


def compare(model, truth="srk", p=None, p_min=None, p_max=None, p_step=None, truth_table=None,
            truth_regimes=None, truth_series=None, params=None, duration_ms=None,
            transient_ms=None, dt_ms=None, bound_steps=100000, max_k=0, period_tol=0.25,
            stsp_dim=3, stsp_tau_ms=20.0, dh_sigma_hz=0.1, threads=0, progress=False):
    """A learned model against the ground truth over a grid of p (nm_compare,
    what ``neuromap compare`` computes and prints).

    model: a runtime.LearnedModel, a model file, or None (the truth alone).
    truth: a built-in model name (with params, a dict of its parameters),
    or None with truth_table (a CSV as ``neuromap sweep --format csv``
    writes: its p column is the grid) or truth_regimes (labels such as
    "periodic:3", one per p; or (label, period_ms) pairs).  The grid: p (a
    sequence) or p_min, p_max, p_step as the command's.  truth_series:
    recorded V of the truth, (v, p) or (v, p, dt_ms) items, where the metrics
    are taken instead of at the training p.  duration_ms / transient_ms /
    dt_ms: None for the defaults (the command's).  Returns a CompareResult."""
    lib = _lib()
    owned = None
    if model is not None and not isinstance(model, LearnedModel):
        owned = model = LearnedModel(model)
    tmodel = None
    grid = _grid(p, p_min, p_max, p_step)
    regs = None
    table_p = _DPTR()
    table_r = ctypes.POINTER(Regime)()
    series_arr = None
    nseries = 0
    try:
        if truth is not None and (truth_table is not None or truth_regimes is not None):
            raise ValueError("compare: give truth, truth_table or truth_regimes, one of them")
        if truth is not None:
            typ = lib.nm_model_type_find(os.fspath(truth).encode())
            if not typ:
                _fail(9, runtime.last_error(), "truth")
            tmodel = lib.nm_model_alloc(typ)
            for k, val in (params or {}).items():
                st = lib.nm_model_set_param(tmodel, k.encode(), float(val))
                if st:
                    _fail(st, runtime.last_error(), "parameter %s" % k)
        elif truth_table is not None:
            if grid is not None:
                raise ValueError("compare: with truth_table the grid is the table's p column")
            n = _c_size()
            st = lib.nm_regime_table_read(os.fspath(truth_table).encode(), ctypes.byref(table_p),
                                          ctypes.byref(table_r), ctypes.byref(n))
            if st:
                _fail(st, runtime.last_error())
            grid = np.ctypeslib.as_array(table_p, shape=(n.value,)).copy()
            regs = (Regime * n.value)()
            ctypes.memmove(regs, table_r, ctypes.sizeof(regs))
        elif truth_regimes is not None:
            if grid is None:
                raise ValueError("compare: truth_regimes need the grid p")
            if len(truth_regimes) != len(grid):
                raise ValueError("compare: %d truth regimes for %d values of p"
                                 % (len(truth_regimes), len(grid)))
            regs = (Regime * len(grid))()
            for i, item in enumerate(truth_regimes):
                label, period = (item, 0.0) if isinstance(item, str) else item
                st = lib.nm_regime_parse(str(label).encode(), ctypes.byref(regs[i]))
                if st:
                    _fail(st, runtime.last_error(), "truth_regimes[%d] %r" % (i, label))
                if regs[i].cls == 1:
                    regs[i].period_ms = float(period or 0.0)
        else:
            raise ValueError("compare: no ground truth: give truth, truth_table or truth_regimes")
        if grid is None:
            raise ValueError("compare: give the grid: p, or p_min, p_max and p_step")

        o = CompareOpts()
        lib.nm_compare_opts_default(ctypes.byref(o))
        o.p = grid.ctypes.data_as(_DPTR)
        o.np = len(grid)
        if regs is not None:
            o.truth_regimes = regs
        if truth_series:
            items = _series_list(truth_series, None, "truth_series")
            nseries = len(items)
            series_arr = (_SERIES_P * nseries)()
            for i, (v, sp, sdt) in enumerate(items):
                series_arr[i] = _make_series(v, sp, sdt, "truth_series[%d]" % i)
            o.truth_series = series_arr
            o.ntruth_series = nseries
        for field, val in (("duration_ms", duration_ms), ("transient_ms", transient_ms),
                           ("dt_ms", dt_ms)):
            if val is not None:
                setattr(o, field, float(val))
        o.bound_steps = int(bound_steps)
        o.max_k = int(max_k)
        o.period_tol = float(period_tol)
        o.stsp_dim = int(stsp_dim)
        o.stsp_tau_ms = float(stsp_tau_ms)
        o.dh_sigma_hz = float(dh_sigma_hz)
        o.nthreads = int(threads)
        call = _Call(progress)
        o.progress = call.cfunc
        res = ctypes.POINTER(CompareResultC)()
        mptr = model._live() if model is not None else None
        st, msg = call.run(lambda: lib.nm_compare(mptr, tmodel, ctypes.byref(o), ctypes.byref(res)))
        if st:
            _fail(st, msg)
        try:
            return _result(lib, res.contents)
        finally:
            lib.nm_compare_result_free(res)
    finally:
        if series_arr is not None:
            for i in range(nseries):
                if series_arr[i]:
                    lib.nm_series_free(series_arr[i])
        if table_p:
            runtime.library().c_free(ctypes.cast(table_p, _c_void))
        if table_r:
            runtime.library().c_free(ctypes.cast(table_r, _c_void))
        if tmodel:
            lib.nm_model_free(tmodel)
        if owned is not None:
            owned.close()


def _result(lib, r):
    points = []
    for i in range(r.np):
        c = r.points[i]
        tr, lr = _regime_dict(lib, c.truth), _regime_dict(lib, c.learned)
        learned = "diverged" if c.diverged else (lr["name"] if r.has_model else "")
        points.append(ComparePoint(
            p=c.p, truth=tr["name"], learned=learned, match=bool(c.match),
            truth_period_ms=c.truth.period_ms if c.truth.cls == 1 else 0.0,
            learned_period_ms=c.learned.period_ms if c.learned.cls == 1 and not c.diverged else 0.0,
            diverged=bool(c.diverged), bounded=bool(c.bounded), truth_regime=tr,
            learned_regime=lr if r.has_model else {}, truth_isi=_array(c.truth_isi, c.truth_nisi),
            learned_isi=_array(c.learned_isi, c.learned_nisi), truth_v_end=c.truth_v_end,
            learned_v_end=c.learned_v_end, message=c.message.decode(errors="replace")))

    def transitions(ptr, n):
        return [(ptr[k].p, getattr(ptr[k], "from").decode(), ptr[k].to.decode()) for k in range(n)]

    metrics = []
    for k in range(r.nmetrics):
        m = r.metrics[k]
        metrics.append(CompareMetric(
            p=m.p, truth="(recorded)" if m.recorded else _regime_dict(lib, m.truth)["name"],
            learned="diverged" if m.diverged else _regime_dict(lib, m.learned)["name"],
            w1=m.w1, w1_rel=m.w1_rel, dh=m.dh, dstsp=m.dstsp, recorded=bool(m.recorded),
            series=int(m.series), why=m.why.decode(errors="replace")))
    ro = r.regime
    return CompareResult(
        points=points, agreement=r.agreement, matches=int(r.matches), bounded=int(r.bounded),
        diverged=int(r.diverged), period_error_mean=r.period_err_mean,
        period_error_max=r.period_err_max, nperiod=int(r.nperiod),
        rest_error_mean_mv=r.rest_err_mean, rest_error_max_mv=r.rest_err_max, nrest=int(r.nrest),
        truth_transitions=transitions(r.truth_transitions, r.ntruth_transitions),
        learned_transitions=transitions(r.learned_transitions, r.nlearned_transitions),
        offsets=[(r.offsets[k].found, r.offsets[k].dp) for k in range(r.ntruth_transitions)]
        if r.has_model else [],
        metrics=metrics, duration_ms=r.duration_ms, transient_ms=r.transient_ms,
        truth_dt_ms=r.truth_dt_ms, map_dt_ms=r.map_dt_ms,
        regime_opts=dict(max_k=ro.max_k, rel_tol=ro.rel_tol, abs_tol_ms=ro.abs_tol_ms,
                         min_repeats=ro.min_repeats, min_spikes=int(ro.min_spikes)),
        run_steps=int(r.run_steps), stsp_tau_steps=int(r.stsp_tau_steps),
        truth_seconds=r.truth_seconds, learned_seconds=r.learned_seconds)


# ---- distill ----------------------------------------------------------------------------

DistillResult = collections.namedtuple(
    "DistillResult", "model runs diverged train_runs select_matches select_gamma start_matches "
    "vhead_rms_mv vhead_max_mv macs teacher_macs")
DistillResult.__doc__ = """What distill() returns: the lean model (a runtime.LearnedModel, as
train returns) and nm_distill_report: teacher runs used (runs), left out
because they diverged (diverged), of them at training p (train_runs); the
grid p whose regime the kept checkpoint matched (select_matches; input
models: driven runs with Gamma >= 0.9) and the mean Gamma of its driven runs
(select_gamma, NaN without input); training p reached from the stored start
state (start_matches); the V head against the teacher's decoder on held-out
states (vhead_rms_mv, vhead_max_mv; 0 without a head); multiply-adds of one
step plus V decode, lean (macs) and teacher (teacher_macs)."""


def _count(val, what, lo=0):
    """An integer >= lo (ctypes would wrap a negative size_t silently)."""
    if isinstance(val, bool):
        raise TypeError("distill: %s must be an integer (got %r)" % (what, val))
    try:
        n = operator.index(val)
    except TypeError:
        raise TypeError("distill: %s must be an integer (got %r)" % (what, val)) from None
    if n < lo:
        raise ValueError("distill: %s must be >= %d (got %d)" % (what, lo, n))
    return n


def _widths(val, what):
    vals = [val] if np.isscalar(val) else list(val)
    if not 1 <= len(vals) <= 4:
        raise ValueError("distill: %s: expected 1..4 hidden widths, got %r" % (what, val))
    return [_count(x, "%s[%d]" % (what, i), 1) for i, x in enumerate(vals)]


def distill(model, out=None, map_hidden=(96, 96), np=89, p_min=None, p_max=None, p_extend=0.5,
            duration_ms=None, rollout_iters=8000, vhead=True, vhead_hidden=(32, 32),
            input_protocols=4, input_tau_ms=3.0, seed=1, threads=0, progress=True, command=None):
    """A lean copy of a trained model (nm_learned_distill, what ``neuromap
    distill`` computes): one map of widths map_hidden trained on free runs of
    the teacher at np values of p (the training range widened by p_extend of
    its width on each side, or p_min .. p_max, both or neither), duration_ms
    each (None: the teacher's shortest training series, at most 40000 ms),
    rollout_iters rollout iterations; with vhead a small V head
    (vhead_hidden) fitted to the teacher's decoder.  A model with an input
    channel is run at its training p under input_protocols Ornstein-Uhlenbeck
    inputs of time constant input_tau_ms instead (np and the p range are not
    used).  The defaults are the library's (nm_distill_opts_default) and the
    command's; threads 0 uses all cores; the same seed and threads give the
    same model.  command is stored as meta.command (the command stores its
    command line; None: none).

    model: a runtime.LearnedModel (what train returns) or a model file.
    Returns a DistillResult: .model is the lean runtime.LearnedModel (usable
    by compare, LearnedCell, ...), the other fields the report.  Writes the
    lean model to ``out`` (atomically) if given.  Progress as train's.
    Unless OPENBLAS_NUM_THREADS is set, OpenBLAS is set to one thread per
    product, as the command does."""
    n_p = np  # the argument shadows numpy here
    lib = _lib()
    o = DistillOpts()
    lib.nm_distill_opts_default(ctypes.byref(o))
    h = _widths(map_hidden, "map_hidden")
    o.map_hidden[:len(h)] = h
    o.map_nhidden = len(h)
    o.np = _count(n_p, "np")
    if (p_min is None) != (p_max is None):
        raise ValueError("distill: give both p_min and p_max, or neither (got p_min=%r, p_max=%r)"
                         % (p_min, p_max))
    if p_min is not None:
        o.p_min, o.p_max = float(p_min), float(p_max)
        if not o.p_min < o.p_max:
            raise ValueError("distill: p_min (%g) is not below p_max (%g)" % (o.p_min, o.p_max))
    o.p_extend = float(p_extend)
    if duration_ms is not None:
        o.duration_ms = float(duration_ms)
    o.rollout_iters = _count(rollout_iters, "rollout_iters")
    o.vhead = 1 if vhead else 0
    h = _widths(vhead_hidden, "vhead_hidden")
    o.vhead_hidden[:len(h)] = h
    o.vhead_nhidden = len(h)
    o.input_protocols = _count(input_protocols, "input_protocols")
    o.input_tau_ms = float(input_tau_ms)
    o.threads = _count(threads, "threads")
    o.seed = _count(seed, "seed")
    cmd = None
    if command is not None:
        cmd = str(command).encode()
        o.command = cmd
    if not os.environ.get("OPENBLAS_NUM_THREADS"):
        lib.nm_set_blas_threads(1)
    call = _Call(progress)
    o.progress = call.cfunc
    owned = None
    if not isinstance(model, LearnedModel):
        if not isinstance(model, (str, bytes, os.PathLike)):
            raise TypeError("distill: model must be a runtime.LearnedModel or a model file "
                            "(got %r)" % (model,))
        owned = model = LearnedModel(model)
    say = ((lambda msg: print(msg, file=sys.stderr, flush=True)) if progress is True
           else (lambda m: None))
    lean = _c_void()
    rep = DistillReport()
    try:
        teacher = model._live()
        st, msg = call.run(lambda: lib.nm_learned_distill(teacher, ctypes.byref(o),
                                                          ctypes.byref(lean), ctypes.byref(rep)))
        if st:
            _fail(st, msg)
        learned = _save_learned(lib, lean, out, "distilled", say)
        return DistillResult(model=learned, runs=int(rep.nruns), diverged=int(rep.ndiverged),
                             train_runs=int(rep.ntrain), select_matches=int(rep.select_matches),
                             select_gamma=rep.select_gamma, start_matches=int(rep.start_matches),
                             vhead_rms_mv=rep.vhead_rms_mv, vhead_max_mv=rep.vhead_max_mv,
                             macs=int(rep.macs), teacher_macs=int(rep.teacher_macs))
    finally:
        lib.nm_learned_free(lean)
        if owned is not None:
            owned.close()
