"""Helpers shared by the input-driven examples (hh_soma_vs_learned.py,
hh_network_vs_learned.py): the coincidence factor Gamma from libneuromap
(nm_coincidence_factor, through ctypes: the same numbers as `neuromap
predict`), and the check that a model has the input channel an example needs.
"""

import ctypes
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))


class _Coinc(ctypes.Structure):
    _fields_ = [("gamma", ctypes.c_double), ("n_data", ctypes.c_size_t),
                ("n_model", ctypes.c_size_t), ("n_coinc", ctypes.c_size_t),
                ("delta_ms", ctypes.c_double)]


def coincidence(t_data, t_model, delta_ms, duration_ms):
    """Gamma (Kistler et al. 1997; include/neuromap.h nm_coincidence_factor)
    of t_model against t_data (ms, sorted) over duration_ms: a dict gamma,
    n_data, n_model, n_coinc.  gamma is NaN when the model's rate leaves no
    room for chance (2 rate delta >= 1)."""
    from neuromap import runtime as rt
    lib = rt.library()
    fn = lib.nm_coincidence_factor
    dp = ctypes.POINTER(ctypes.c_double)
    fn.restype = ctypes.c_int
    fn.argtypes = [dp, ctypes.c_size_t, dp, ctypes.c_size_t, ctypes.c_double, ctypes.c_double,
                   ctypes.POINTER(_Coinc)]
    a = np.ascontiguousarray(t_data, dtype=float)
    b = np.ascontiguousarray(t_model, dtype=float)
    out = _Coinc()
    st = fn(a.ctypes.data_as(dp), len(a), b.ctypes.data_as(dp), len(b), float(delta_ms),
            float(duration_ms), ctypes.byref(out))
    if st != 0:
        return dict(gamma=float("nan"), n_data=len(a), n_model=len(b), n_coinc=0,
                    error=rt.last_error())
    return dict(gamma=out.gamma, n_data=int(out.n_data), n_model=int(out.n_model),
                n_coinc=int(out.n_coinc))


def require_input_model(path, unit, hint):
    """Exit with a message unless `path` is a model with an input channel in
    `unit`; returns (lo, hi), its trained input range."""
    if not os.path.exists(path):
        sys.exit("model %s not found: %s" % (path, hint))
    from neuromap import runtime as rt
    m = rt.LearnedModel(path)
    try:
        if not m.has_input or m.input_unit != unit:
            sys.exit("%s: needs a model with an input channel in %s (%s); this one has %s"
                     % (path, unit, hint, ("input in " + m.input_unit) if m.has_input
                        else "no input channel"))
        return m.input_range
    finally:
        m.close()


def ou_current(seed, mean, sd, tau_ms, dt_ms, n):
    """An Ornstein-Uhlenbeck current (nA) sampled every dt_ms (exact update),
    stationary from the start; numpy's generator seeded by `seed`."""
    rng = np.random.default_rng([seed, 99])
    a = np.exp(-dt_ms / tau_ms)
    b = sd * np.sqrt(1.0 - a * a)
    x = np.empty(n)
    x[0] = mean + sd * rng.standard_normal()
    g = rng.standard_normal(n)
    for k in range(1, n):
        x[k] = mean + a * (x[k - 1] - mean) + b * g[k]
    return x
