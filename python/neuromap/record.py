"""Record a NEURON cell under constant current steps, for `neuromap train`.

The control parameter p of a learned model is here the amplitude (nA) of an
IClamp held constant for the whole run.  For each amplitude the cell is
initialised, run for a transient (dropped) and then recorded every
dt_record_ms for duration_ms; the series go to CSV files ``t_ms,V_mV`` that
``neuromap train --series FILE --p AMP`` reads (and ``neuromap analyze``).

    from neuron import h
    from neuromap import record
    soma = record.hh_soma()                            # or any section you built
    recs = record.record_iclamp(soma, [0.02, 0.1, 0.2], duration_ms=2000,
                                transient_ms=500, dt_record_ms=0.1)
    paths = record.write_series(recs, "data")          # data/series_0.02.csv, ...

Integration: ``method="fixed"`` (step ``dt_ms``, which must divide
dt_record_ms and transient_ms; Crank-Nicolson by default, secondorder=2) or
``"cvode"`` / ``"lvardt"`` (variable step, atol/rtol; V is taken at exactly
the recording times).  NEURON's global integrator settings (CVode on/off,
dt, secondorder) are restored after each run; ``h.celsius`` is used as it
is (hh depends on it; NEURON's default is 6.3 degC).

The current is injected at, and V recorded from, ``section(loc)``; other
stimuli of the cell stay as they are.  For a multi-compartment cell pass the
soma: the whole cell is integrated.  Use /usr/bin/python3 (Debian's NEURON
module); NEURON is imported on first use.
"""

import math
import os
from collections import namedtuple

import numpy as np

from . import neuron_support as _ns

__all__ = ["Recording", "HH_SOMA_DIAM_UM", "hh_soma", "record_iclamp", "write_series_csv",
           "write_series", "series_filename"]

# L = diam = 17.841 um: pi * d * L = 1000 um2 (1e-5 cm2), so 1 nA = 100 uA/cm2 and
# the hh soma's amplitudes are those of the textbook HH model (docs/models.md
# section 2) divided by 100.
HH_SOMA_DIAM_UM = 17.841

Recording = namedtuple("Recording", "amp_na t_ms v_mv")
Recording.__doc__ = """One recorded series: the IClamp amplitude (nA), the times (ms,
transient_ms + k * dt_record_ms, k = 0..n) and V (mV) at those times."""


def hh_soma(name="soma", diam_um=HH_SOMA_DIAM_UM):
    """The zoo's reference cell: one compartment with L = diam = diam_um (the
    default gives 1000 um2), NEURON's built-in ``hh`` (gnabar 0.12, gkbar
    0.036, gl 0.0003 S/cm2, el -54.3 mV), cm 1 uF/cm2, Ra default, nseg 1.
    Returns the Section.  Rest is -65 mV; at 6.3 degC repetitive firing
    starts near 0.0625 nA (docs/models.md section 9)."""
    if not (isinstance(diam_um, (int, float)) and math.isfinite(diam_um) and diam_um > 0):
        raise ValueError("hh_soma: diam_um must be a finite number > 0, not %r" % (diam_um,))
    h = _ns._h()
    sec = h.Section(name=name)
    sec.L = sec.diam = float(diam_um)
    sec.nseg = 1
    sec.cm = 1.0
    sec.insert("hh")
    return sec


def _number(name, x, low=None, low_open=False):
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise ValueError("record_iclamp: %s must be a number, not %r" % (name, x)) from None
    if not math.isfinite(x):
        raise ValueError("record_iclamp: %s must be finite, not %r" % (name, x))
    if low is not None and (x <= low if low_open else x < low):
        raise ValueError("record_iclamp: %s must be %s %g, not %g"
                         % (name, ">" if low_open else ">=", low, x))
    return x


def _multiple(name, x, step, step_name):
    k = x / step
    if abs(k - round(k)) > 1e-6 * max(1.0, k):
        raise ValueError("record_iclamp: %s (%g ms) must be a multiple of %s (%g ms) with "
                         "method='fixed'" % (name, x, step_name, step))
    return int(round(k))


def _check_section(section):
    h = _ns._h()
    h.load_file("stdrun.hoc")  # continuerun
    from neuron import nrn
    if isinstance(section, nrn.Segment):
        raise TypeError("record_iclamp: pass the section and loc=x, not the segment %s" % section)
    if not isinstance(section, nrn.Section):
        raise TypeError("record_iclamp: section must be a NEURON Section, not %r" % (section,))
    try:
        section.hname()
    except Exception as e:  # a deleted section
        raise ValueError("record_iclamp: the section is not valid (deleted?): %s" % e) from None
    return h


def record_iclamp(section, amps_na, duration_ms=2000.0, transient_ms=500.0, dt_record_ms=0.1,
                  method="fixed", dt_ms=0.025, v_init=-65.0, loc=0.5, atol=1e-8, rtol=1e-8,
                  secondorder=2):
    """Record V at section(loc) under a constant IClamp of each amplitude in
    amps_na (nA), one run per amplitude from finitialize(v_init).  The run
    lasts transient_ms + duration_ms; V is kept at transient_ms + k *
    dt_record_ms for k = 0 .. duration_ms / dt_record_ms (rounded), the
    sampling `neuromap simulate` uses.  Returns a list of Recording(amp_na,
    t_ms, v_mv) in the order of amps_na.  Raises ValueError / TypeError with
    a message naming the bad argument."""
    h = _check_section(section)
    try:
        amps = [float(a) for a in amps_na]
    except (TypeError, ValueError):
        raise ValueError("record_iclamp: amps_na must be a list of numbers (nA), not %r"
                         % (amps_na,)) from None
    if not amps:
        raise ValueError("record_iclamp: amps_na is empty: give at least one amplitude (nA)")
    for a in amps:
        _number("an amplitude in amps_na", a)
    duration_ms = _number("duration_ms", duration_ms, 0.0, low_open=True)
    transient_ms = _number("transient_ms", transient_ms, 0.0)
    dt_record_ms = _number("dt_record_ms", dt_record_ms, 0.0, low_open=True)
    v_init = _number("v_init", v_init)
    loc = _number("loc", loc, 0.0)
    if loc > 1:
        raise ValueError("record_iclamp: loc must be in [0, 1], not %g" % loc)
    nrec = int(round(duration_ms / dt_record_ms))
    if nrec < 1:
        raise ValueError("record_iclamp: duration_ms (%g) is shorter than dt_record_ms (%g)"
                         % (duration_ms, dt_record_ms))
    t_out = transient_ms + dt_record_ms * np.arange(nrec + 1)
    tstop = float(t_out[-1])
    if method == "fixed":
        dt_ms = _number("dt_ms", dt_ms, 0.0, low_open=True)
        stride = _multiple("dt_record_ms", dt_record_ms, dt_ms, "dt_ms")
        first = _multiple("transient_ms", transient_ms, dt_ms, "dt_ms")
        idx = first + stride * np.arange(nrec + 1)
    elif method in ("cvode", "lvardt"):
        atol = _number("atol", atol, 0.0, low_open=True)
        rtol = _number("rtol", rtol, 0.0, low_open=True)
    else:
        raise ValueError("record_iclamp: method must be 'fixed', 'cvode' or 'lvardt', not %r"
                         % (method,))

    seg = section(loc)
    stim = h.IClamp(seg)
    stim.delay = 0.0
    stim.dur = 1e9
    out = []
    try:
        for a in amps:
            stim.amp = a
            if method == "fixed":
                t, v = _ns.record_v(seg._ref_v)  # every step
                # half a step more, so that the last sample is reached despite rounding of t
                _ns.run(tstop + 0.5 * dt_ms, method="fixed", dt=dt_ms, v_init=v_init,
                        secondorder=secondorder)
                tv, vv = _ns.to_numpy(t), _ns.to_numpy(v)
                if len(vv) <= idx[-1] or abs(tv[idx[-1]] - tstop) > 1e-6 * max(1.0, tstop):
                    raise RuntimeError("record_iclamp: the fixed-step run stopped at t = %g ms, "
                                       "before %g ms" % (tv[-1] if len(tv) else 0.0, tstop))
                vs = vv[idx]
            else:
                t, v = _ns.record_v(seg._ref_v, times=t_out)
                _ns.run(tstop + 0.5 * dt_record_ms, method=method, v_init=v_init, atol=atol,
                        rtol=rtol)
                vs = _ns.to_numpy(v)
                if len(vs) != len(t_out):
                    raise RuntimeError("record_iclamp: CVode recorded %d samples, expected %d"
                                       % (len(vs), len(t_out)))
            if not np.all(np.isfinite(vs)):
                raise RuntimeError("record_iclamp: V is not finite at amp = %g nA" % a)
            out.append(Recording(a, t_out.copy(), vs))
    finally:
        stim = None  # removes the IClamp from the cell
    return out


def series_filename(amp_na, prefix="series_"):
    """prefix + the amplitude as `repr` gives it (series_0.05.csv)."""
    return "%s%r.csv" % (prefix, float(amp_na))


def write_series_csv(path, t_ms, v_mv):
    """Write one series as CSV ``t_ms,V_mV`` (10 significant digits), as
    `neuromap simulate` does; atomically (a temporary file, then renamed)."""
    t = np.asarray(t_ms, dtype=float)
    v = np.asarray(v_mv, dtype=float)
    if t.ndim != 1 or t.shape != v.shape or len(t) < 2:
        raise ValueError("write_series_csv: t_ms and v_mv must be 1-D of the same length >= 2 "
                         "(got %s and %s)" % (t.shape, v.shape))
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v))):
        raise ValueError("write_series_csv: %s: t_ms or v_mv is not finite" % path)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "w") as f:
            f.write("t_ms,V_mV\n")
            f.writelines("%.10g,%.10g\n" % tv for tv in zip(t, v))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_series(recordings, folder, prefix="series_"):
    """Write each Recording to folder/<prefix><amp>.csv (folder is created).
    Returns the paths, in order."""
    os.makedirs(folder, exist_ok=True)
    return [write_series_csv(os.path.join(folder, series_filename(r.amp_na, prefix)), r.t_ms,
                             r.v_mv) for r in recordings]
