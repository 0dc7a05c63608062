"""Run a learned model offline through libneuromap (ctypes).

The map and the decoder live in the C library only; this module calls them
(``nm_learned_load``, ``nm_learned_step``, ``nm_learned_run``, ...) and never
re-implements them, so an offline run here is bit for bit the run a NEURON
cell (mod/neuromap_cell.mod) makes with the same model, p and start state.

    from neuromap.runtime import LearnedModel
    m = LearnedModel("out/srk.nmap")
    v, x = m.run(p=-38, nsteps=4000)          # V (mV) after each map step, states
    t = m.dt_ms * np.arange(1, 4001)          # the times of v (ms)
    m.cell_spike_times(v, m.decode_v(m.initial_state()))   # NeuroMapCell's spikes

Which libneuromap: ``NEUROMAP_LIB`` if set; else the one already mapped into
this process (after ``neuron_support.load_mechanisms`` the mechanisms pull in
their copy: using the same copy means one model registry); else, for an
installed package, the installed library (``neuromap/_install.py``, written by
``cmake --install``); else ``<source>/build/lib/libneuromap.so``.  Needs
numpy; never imports NEURON.
"""

import ctypes
import os

import numpy as np

__all__ = ["NeuromapError", "library", "find_library", "LearnedModel", "validate_model", "last_error",
           "plugin_count", "plugin_refcount", "detect_spikes", "cell_spike_steps",
           "classify_regime", "syn_means", "unit_factor"]

# Default re-arm hysteresis of nm_spikes_detect and of the NEURON cells (mV).
DEFAULT_HYSTERESIS_MV = 2.0
# Largest latent dimension a NEURON cell holds (NM_PLUGIN_MAX_DIM).
PLUGIN_MAX_DIM = 16

_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class NeuromapError(RuntimeError):
    """A libneuromap call failed; the message is the library's."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def _mapped_library():
    """Path of a libneuromap already mapped into this process, or None."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if os.path.basename(path).startswith("libneuromap.so"):
                    return path
    except OSError:
        pass
    return None


def find_library():
    """Where libneuromap.so is (see the module doc); raises OSError if nowhere."""
    env = os.environ.get("NEUROMAP_LIB")
    if env:
        return env
    mapped = _mapped_library()
    if mapped:
        return mapped
    cands = []
    try:
        from . import _install
        cands.append(os.path.join(_install.LIBDIR, "libneuromap.so.0"))
    except ImportError:  # a source tree: no _install.py
        pass
    cands.append(os.path.join(_SOURCE_ROOT, "build", "lib", "libneuromap.so"))
    for cand in cands:
        if os.path.exists(cand):
            return cand
    raise OSError("libneuromap.so not found (looked at %s): build the project "
                  "(scripts/build.sh) or set NEUROMAP_LIB to its path" % ", ".join(cands))


_lib = None
_DPTR = ctypes.POINTER(ctypes.c_double)


class _Regime(ctypes.Structure):
    # Mirror of nm_regime in include/neuromap.h.
    _fields_ = [("cls", ctypes.c_int), ("spikes_per_period", ctypes.c_int),
                ("period_ms", ctypes.c_double), ("nspikes", ctypes.c_size_t),
                ("rate_hz", ctypes.c_double), ("isi_min_ms", ctypes.c_double),
                ("isi_max_ms", ctypes.c_double), ("isi_mean_ms", ctypes.c_double)]


def _declare(lib):
    c_int, c_dbl, c_size, c_void, c_str = (ctypes.c_int, ctypes.c_double, ctypes.c_size_t,
                                           ctypes.c_void_p, ctypes.c_char_p)
    sig = {
        "nm_last_error": (c_str, []),
        "nm_learned_load": (c_int, [c_str, ctypes.POINTER(c_void)]),
        "nm_mf_check_file": (c_int, [c_str, ctypes.POINTER(c_int)]),
        "nm_learned_free": (None, [c_void]),
        "nm_learned_dim": (c_size, [c_void]),
        "nm_learned_dt_ms": (c_dbl, [c_void]),
        "nm_learned_threshold_mv": (c_dbl, [c_void]),
        "nm_learned_p_range": (None, [c_void, _DPTR, _DPTR]),
        "nm_learned_p_name": (c_str, [c_void]),
        "nm_learned_p_unit": (c_str, [c_void]),
        "nm_learned_p_default": (c_dbl, [c_void]),
        "nm_learned_initial_state": (None, [c_void, _DPTR]),
        "nm_learned_step": (c_int, [c_void, c_dbl, _DPTR, _DPTR]),
        "nm_learned_decode_v": (c_dbl, [c_void, _DPTR]),
        "nm_learned_run": (c_int, [c_void, c_dbl, _DPTR, c_size, _DPTR, _DPTR]),
        "nm_learned_train_p": (_DPTR, [c_void, ctypes.POINTER(c_size)]),
        "nm_spikes_detect_hyst": (c_int, [_DPTR, c_size, c_dbl, c_dbl, c_dbl, c_dbl,
                                          ctypes.POINTER(_DPTR), ctypes.POINTER(c_size)]),
        "nm_regime_classify": (c_int, [_DPTR, c_size, c_dbl, c_void, ctypes.POINTER(_Regime)]),
        "nm_regime_format": (ctypes.c_char_p, [ctypes.POINTER(_Regime), ctypes.c_char_p, c_size]),
        "nm_learned_has_input": (c_int, [c_void]),
        "nm_learned_input_unit": (c_str, [c_void]),
        "nm_learned_input_range": (None, [c_void, _DPTR, _DPTR]),
        "nm_learned_run_u": (c_int, [c_void, c_dbl, _DPTR, _DPTR, c_size, _DPTR, _DPTR,
                                     ctypes.POINTER(c_size)]),
        "nm_plugin_syn_means": (c_int, [c_dbl, c_dbl, c_dbl, c_dbl, _DPTR, _DPTR, c_size, c_size,
                                        _DPTR]),
        "nm_plugin_unit_factor": (c_int, [c_str, c_dbl, _DPTR]),
        "nm_plugin_count": (c_size, []),
        "nm_plugin_refcount": (c_size, [c_int]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


def library():
    """The loaded libneuromap (ctypes.CDLL), loaded on first use."""
    global _lib
    if _lib is None:
        _lib = _declare(ctypes.CDLL(find_library()))
        _lib_free = ctypes.CDLL(None).free
        _lib_free.argtypes = [ctypes.c_void_p]
        _lib_free.restype = None
        _lib.c_free = _lib_free
    return _lib


def last_error():
    """libneuromap's message for the last failure on this thread."""
    return library().nm_last_error().decode(errors="replace")


def _check(status, what):
    if status != 0:
        raise NeuromapError("%s: %s" % (what, last_error()) if what else last_error(), status)


def plugin_count():
    """Models loaded in the NEURON-plugin registry (nm_plugin_count)."""
    return int(library().nm_plugin_count())


def plugin_refcount(handle):
    """References to a registry handle (0 if the handle is not live)."""
    return int(library().nm_plugin_refcount(int(handle)))


# nm_mf_kind
_KINDS = {1: "vae", 2: "learned"}


def validate_model(path):
    """The library's one validation of a model file (nm_mf_check_file): the
    checks ``neuromap info`` makes, which for a file with a map are exactly
    those of ``neuromap run``, the NEURON cells and ``LearnedModel`` (sizes
    against what the file holds, the sections against each other, every value
    in its range; docs/model-format.md, "Validation and fuzzing").

    Returns ``"learned"`` (autoencoder and map) or ``"vae"`` (an autoencoder
    without a map, as ``train-vae`` writes); raises NeuromapError with the
    library's message (the one ``run`` prints) otherwise."""
    kind = ctypes.c_int(0)
    _check(library().nm_mf_check_file(os.fspath(path).encode(), ctypes.byref(kind)), None)
    return _KINDS.get(kind.value, "?")


def _as_dptr(a):
    return a.ctypes.data_as(_DPTR)


class LearnedModel:
    """A learned model loaded through libneuromap (nm_learned_load).

    Read-only; the C object is freed by close() or when this is collected."""

    def __init__(self, path):
        lib = library()
        self.path = os.fspath(path)
        self._m = ctypes.c_void_p()
        _check(lib.nm_learned_load(self.path.encode(), ctypes.byref(self._m)), None)
        self._lib = lib
        self.dim = int(lib.nm_learned_dim(self._m))
        self.dt_ms = float(lib.nm_learned_dt_ms(self._m))
        self.threshold_mv = float(lib.nm_learned_threshold_mv(self._m))
        lo, hi = ctypes.c_double(), ctypes.c_double()
        lib.nm_learned_p_range(self._m, ctypes.byref(lo), ctypes.byref(hi))
        self.p_range = (lo.value, hi.value)
        # meta.p_name / meta.p_unit ("p" and "" for older files) and the
        # default p of a NEURON cell: the centre of the training range
        self.p_name = lib.nm_learned_p_name(self._m).decode(errors="replace")
        self.p_unit = lib.nm_learned_p_unit(self._m).decode(errors="replace")
        self.p_default = float(lib.nm_learned_p_default(self._m))
        # the input channel (issue 11): unit and trained range; none: "" and (0, 0)
        self.has_input = bool(lib.nm_learned_has_input(self._m))
        self.input_unit = lib.nm_learned_input_unit(self._m).decode(errors="replace")
        lo, hi = ctypes.c_double(), ctypes.c_double()
        lib.nm_learned_input_range(self._m, ctypes.byref(lo), ctypes.byref(hi))
        self.input_range = (lo.value, hi.value)
        n = ctypes.c_size_t()
        tp = lib.nm_learned_train_p(self._m, ctypes.byref(n))
        self.train_p = np.array([tp[i] for i in range(n.value)]) if n.value else np.zeros(0)

    def close(self):
        if getattr(self, "_m", None):
            self._lib.nm_learned_free(self._m)
            self._m = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _live(self):
        if not self._m:
            raise ValueError("%s: model closed" % self.path)
        return self._m

    def initial_state(self):
        """The model's start state (dim values)."""
        x = np.zeros(self.dim)
        self._lib.nm_learned_initial_state(self._live(), _as_dptr(x))
        return x

    def _state(self, x):
        x = np.ascontiguousarray(x, dtype=float)
        if x.shape != (self.dim,):
            raise ValueError("a state has %d values, got shape %s" % (self.dim, x.shape))
        return x

    def step(self, x, p):
        """x(n+1) = F(x(n), p) (nm_learned_step); NeuromapError on divergence."""
        x = self._state(x)
        out = np.zeros(self.dim)
        _check(self._lib.nm_learned_step(self._live(), float(p), _as_dptr(x), _as_dptr(out)),
               "step at p = %g" % p)
        return out

    def decode_v(self, x):
        """Decoded membrane potential (mV) of a latent state."""
        return float(self._lib.nm_learned_decode_v(self._live(), _as_dptr(self._state(x))))

    def run(self, p, nsteps, x0=None):
        """Free run at constant p (nm_learned_run): returns (v, x) with v[k] the
        decoded V after step k+1, at time (k+1)*dt_ms, and x[k] its state
        ([nsteps x dim]).  x0=None starts from initial_state()."""
        nsteps = int(nsteps)
        v = np.zeros(nsteps)
        x = np.zeros((nsteps, self.dim))
        x0p = _as_dptr(self._state(x0)) if x0 is not None else None
        _check(self._lib.nm_learned_run(self._live(), float(p), x0p, nsteps, _as_dptr(v),
                                        _as_dptr(x)), None)
        return v, x

    def run_u(self, p, u, x0=None):
        """Driven run (nm_learned_run_u): step k+1 gets the input u[k] (the
        mean input over the step, model units), clamped to input_range.
        Returns (v, x, nclamped): v[k] the decoded V after step k+1, x[k] its
        state, nclamped the number of clamped steps.  A model without input
        ignores u.  This is what a NeuroMapCell does with the same inputs,
        bit for bit (NEURON's u: syn_means(...) * input_factor(area))."""
        u = np.ascontiguousarray(u, dtype=float)
        if u.ndim != 1:
            raise ValueError("u must be 1-D, got shape %s" % (u.shape,))
        nsteps = len(u)
        v = np.zeros(nsteps)
        x = np.zeros((nsteps, self.dim))
        nc = ctypes.c_size_t()
        x0p = _as_dptr(self._state(x0)) if x0 is not None else None
        _check(self._lib.nm_learned_run_u(self._live(), float(p), _as_dptr(u), x0p, nsteps,
                                          _as_dptr(v), _as_dptr(x), ctypes.byref(nc)), None)
        return v, x, int(nc.value)

    def input_factor(self, area_um2=0.0):
        """nA -> this model's input unit (u = factor * I_nA); 0 without input.
        uA/cm2 and mA/cm2 need the membrane area (um2): NeuromapError if not set."""
        if not self.has_input:
            return 0.0
        return unit_factor(self.input_unit, area_um2)

    def run_schedule(self, p_of_step, x0=None):
        """Free run with a p per step (p_of_step[k] is used for step k+1):
        several nm_learned_run calls of one step each.  Returns (v, x)."""
        p_of_step = np.asarray(p_of_step, dtype=float)
        x = self.initial_state() if x0 is None else self._state(x0)
        vs = np.zeros(len(p_of_step))
        xs = np.zeros((len(p_of_step), self.dim))
        for k, p in enumerate(p_of_step):
            v, xn = self.run(p, 1, x)
            vs[k], xs[k] = v[0], xn[0]
            x = xn[0]
        return vs, xs

    def cell_spike_times(self, v, v0, t0_ms=0.0, hysteresis_mv=DEFAULT_HYSTERESIS_MV,
                         threshold_mv=None):
        """Spike times of NeuroMapCell for the decoded series v (v[k] at
        t0 + (k+1)*dt_ms) that starts from V = v0 at t0: see cell_spike_steps."""
        thr = self.threshold_mv if threshold_mv is None else threshold_mv
        steps = cell_spike_steps(v, v0, thr, hysteresis_mv)
        return t0_ms + steps * self.dt_ms


def syn_means(event_times_ms, weights_na, nsteps, dt_ms, tau_ms=2.0, ibias_na=0.0, t0_ms=0.0):
    """Mean input current (nA) over each map step of a NeuroMapCell that gets
    NetCon events with weights wi (nA) at event_times_ms (sorted) into its
    current synapse (tau_syn = tau_ms, +inf: steps) plus ibias_na: entry k is
    the mean over [t0 + k*dt, t0 + (k+1)*dt], the input of step k+1.  The
    library's nm_plugin_syn_means: the same C code the cell runs, so the
    numbers are the cell's (iin) bit for bit."""
    lib = library()
    t = np.ascontiguousarray(event_times_ms, dtype=float)
    w = np.ascontiguousarray(weights_na, dtype=float)
    if t.shape != w.shape or t.ndim != 1:
        raise ValueError("event times and weights must be 1-D of one length")
    out = np.zeros(int(nsteps))
    _check(lib.nm_plugin_syn_means(float(tau_ms), float(ibias_na), float(t0_ms), float(dt_ms),
                                   _as_dptr(t), _as_dptr(w), len(t), len(out), _as_dptr(out)), None)
    return out


def unit_factor(unit, area_um2=0.0):
    """nA -> unit (nm_plugin_unit_factor): 1 for nA and "1", 1000 for pA,
    1e-3 for uA, 1e5/area for uA/cm2, 100/area for mA/cm2 (area in um2)."""
    f = ctypes.c_double()
    _check(library().nm_plugin_unit_factor(str(unit).encode(), float(area_um2), ctypes.byref(f)),
           None)
    return f.value


def detect_spikes(v, dt_ms, t0_ms, threshold_mv, hysteresis_mv=DEFAULT_HYSTERESIS_MV):
    """The library's spike detector (nm_spikes_detect_hyst): upward crossings
    of threshold, linearly interpolated, re-armed below threshold - hysteresis;
    v[i] is at t0 + i*dt.  Returns the times (ms)."""
    lib = library()
    v = np.ascontiguousarray(v, dtype=float)
    times = _DPTR()
    n = ctypes.c_size_t()
    _check(lib.nm_spikes_detect_hyst(_as_dptr(v), len(v), float(dt_ms), float(t0_ms),
                                     float(threshold_mv), float(hysteresis_mv),
                                     ctypes.byref(times), ctypes.byref(n)), "spike detection")
    try:
        return np.array([times[i] for i in range(n.value)])
    finally:
        lib.c_free(ctypes.cast(times, ctypes.c_void_p))


def classify_regime(times, duration_ms):
    """The library's regime classifier (nm_regime_classify, default options)
    for spike times observed over a window of duration_ms.  Returns a dict:
    name ("silent", "periodic:K", "irregular"), spikes_per_period,
    period_ms, nspikes, rate_hz, isi_min_ms / isi_max_ms / isi_mean_ms."""
    lib = library()
    t = np.ascontiguousarray(times, dtype=float)
    r = _Regime()
    _check(lib.nm_regime_classify(_as_dptr(t) if len(t) else None, len(t), float(duration_ms),
                                  None, ctypes.byref(r)), "regime")
    buf = ctypes.create_string_buffer(64)
    lib.nm_regime_format(ctypes.byref(r), buf, len(buf))
    return dict(name=buf.value.decode(), spikes_per_period=r.spikes_per_period,
                period_ms=r.period_ms, nspikes=int(r.nspikes), rate_hz=r.rate_hz,
                isi_min_ms=r.isi_min_ms, isi_max_ms=r.isi_max_ms, isi_mean_ms=r.isi_mean_ms)


def cell_spike_steps(v, v0, threshold_mv, hysteresis_mv=DEFAULT_HYSTERESIS_MV):
    """Map steps at which NeuroMapCell emits a spike, for decoded V values
    v[0..n) after steps 1..n starting from V = v0: step k+1 is a spike when
    the cell is armed, v[k-1] < threshold <= v[k] (v[-1] = v0); a spike
    disarms, and V < threshold - hysteresis re-arms; the start is armed when
    v0 < threshold - hysteresis.  This is the rule of nm_spikes_detect_hyst
    (the same crossings), reported at the step that reaches threshold instead
    of the interpolated time.  Returns 1-based step numbers (int array)."""
    v = np.asarray(v, dtype=float)
    armed = v0 < threshold_mv - hysteresis_mv
    prev = v0
    out = []
    for k, vk in enumerate(v):
        if armed:
            if prev < threshold_mv <= vk:
                out.append(k + 1)
                armed = False
        elif vk < threshold_mv - hysteresis_mv:
            armed = True
        prev = vk
    return np.array(out, dtype=int)
