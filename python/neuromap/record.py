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
stimuli of the cell stay as they are.

Recording under a time-varying input (issue 11; docs/input.md):
``record_input`` drives the section with a protocol -- steps, ramps, an
Ornstein-Uhlenbeck current, current-based Poisson synaptic events (all
played into one IClamp with Vector.play) and conductance-based events
(ExpSyn fed by a NetCon at seeded Poisson times) -- and records V and the
current actually injected; ``write_input_csv`` writes ``t_ms,V_mV,I_nA``
that `neuromap` reads (the third column is the input u of the series):

    rec = record.record_input(soma, [record.ou(0.06, 0.03, 5.0),
                                     record.syn(20.0, 0.001, 3.0, 0.0)],
                              duration_ms=2000, transient_ms=200, seed=1)
    record.write_input_csv("vi.csv", rec.t_ms, rec.v_mv, rec.i_na)

I_nA is positive when depolarising (current into the cell: IClamp's i,
minus ExpSyn's i) and is the mean over each recording interval.  For a multi-compartment cell pass the
soma: the whole cell is integrated.  Use /usr/bin/python3 (Debian's NEURON
module); NEURON is imported on first use.
"""

import math
import os
from collections import namedtuple

import numpy as np

from . import neuron_support as _ns

__all__ = ["Recording", "HH_SOMA_DIAM_UM", "hh_soma", "record_iclamp", "write_series_csv",
           "write_series", "series_filename", "InputRecording", "step", "ramp", "ou", "poisson",
           "syn", "record_input", "write_input_csv"]

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


def _check_section(section, fn="record_iclamp"):
    h = _ns._h()
    h.load_file("stdrun.hoc")  # continuerun
    from neuron import nrn
    if isinstance(section, nrn.Segment):
        raise TypeError("%s: pass the section and loc=x, not the segment %s" % (fn, section))
    if not isinstance(section, nrn.Section):
        raise TypeError("%s: section must be a NEURON Section, not %r" % (fn, section))
    try:
        section.hname()
    except Exception as e:  # a deleted section
        raise ValueError("%s: the section is not valid (deleted?): %s" % (fn, e)) from None
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
    return _write_csv_atomic(path, "t_ms,V_mV", (t, v))


def _write_csv_atomic(path, header, columns):
    """Write the columns (10 significant digits) under header to a temporary
    file, then rename it to path."""
    fmt = ",".join(["%.10g"] * len(columns)) + "\n"
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "w") as f:
            f.write(header + "\n")
            f.writelines(fmt % row for row in zip(*columns))
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


# ---------------------------------------------------------------------------
# Recording under a time-varying input (issue 11)
# ---------------------------------------------------------------------------

InputRecording = namedtuple("InputRecording", "t_ms v_mv i_na protocol seed")
InputRecording.__doc__ = """One series recorded under an input protocol: times (ms,
transient_ms + k * dt_record_ms), V (mV) at those times, and i_na[k], the mean
injected current (nA, positive = depolarising) over [t_k, t_k + dt_record_ms)."""

Step = namedtuple("Step", "levels")
Ramp = namedtuple("Ramp", "t0_ms t1_ms a0_na a1_na")
OU = namedtuple("OU", "mean_na sd_na tau_ms")
Poisson = namedtuple("Poisson", "rate_hz w_na tau_ms")
Syn = namedtuple("Syn", "rate_hz g_us tau_ms e_mv")

_MAX_NA = 1e6  # |amplitude| (nA), as NM_INPUT_MAX_ABS
_MAX_RATE_HZ = 1e5  # as NM_INPUT_MAX_RATE_HZ


def _num(fn, name, x, low=None, high=None, low_open=False):
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise ValueError("%s: %s must be a number, not %r" % (fn, name, x)) from None
    if not math.isfinite(x):
        raise ValueError("%s: %s must be finite, not %r" % (fn, name, x))
    if low is not None and (x <= low if low_open else x < low):
        raise ValueError("%s: %s must be %s %g, not %g" % (fn, name, ">" if low_open else ">=", low, x))
    if high is not None and x > high:
        raise ValueError("%s: %s must be <= %g, not %g" % (fn, name, high, x))
    return x


def step(levels):
    """A staircase: levels = [(t0_ms, amp_na), ...] with increasing onsets;
    from each onset on the current is amp_na until the next onset (0 before
    the first; end a pulse with a level 0), as `simulate --input-step`."""
    try:
        lv = [(float(t), float(a)) for t, a in levels]
    except (TypeError, ValueError):
        raise ValueError("step: levels must be a list of (t0_ms, amp_na) pairs, not %r"
                         % (levels,)) from None
    if not lv:
        raise ValueError("step: levels is empty")
    for t, a in lv:
        _num("step", "t0_ms", t)
        _num("step", "|amp_na|", abs(a), high=_MAX_NA)
    for (t0, _), (t1, _) in zip(lv, lv[1:]):
        if not t1 > t0:
            raise ValueError("step: onsets must increase (%g after %g)" % (t1, t0))
    return Step(lv)


def ramp(t0_ms, t1_ms, a0_na, a1_na):
    """Linear from a0_na at t0_ms to a1_na at t1_ms (> t0_ms), 0 outside."""
    t0, t1 = _num("ramp", "t0_ms", t0_ms), _num("ramp", "t1_ms", t1_ms)
    if not t1 > t0:
        raise ValueError("ramp: t1_ms (%g) must be > t0_ms (%g)" % (t1, t0))
    return Ramp(t0, t1, _num("ramp", "a0_na", a0_na, -_MAX_NA, _MAX_NA),
                _num("ramp", "a1_na", a1_na, -_MAX_NA, _MAX_NA))


def ou(mean_na, sd_na, tau_ms):
    """Ornstein-Uhlenbeck current (mean, SD in nA; correlation time in ms),
    updated exactly at the recording times and held in between."""
    return OU(_num("ou", "mean_na", mean_na, -_MAX_NA, _MAX_NA),
              _num("ou", "sd_na", sd_na, 0.0, _MAX_NA),
              _num("ou", "tau_ms", tau_ms, 0.0, low_open=True))


def poisson(rate_hz, w_na, tau_ms):
    """Current-based synaptic events at rate_hz (Poisson), each a jump of w_na
    decaying with tau_ms."""
    return Poisson(_num("poisson", "rate_hz", rate_hz, 0.0, _MAX_RATE_HZ),
                   _num("poisson", "w_na", w_na, -_MAX_NA, _MAX_NA),
                   _num("poisson", "tau_ms", tau_ms, 0.0, low_open=True))


def syn(rate_hz, g_us, tau_ms, e_mv):
    """Conductance-based events (an ExpSyn of time constant tau_ms and reversal
    e_mv) at rate_hz, each adding g_us (uS) to its conductance; the injected
    current is g (e_mv - V)."""
    return Syn(_num("syn", "rate_hz", rate_hz, 0.0, _MAX_RATE_HZ),
               _num("syn", "g_us", g_us, 0.0, _MAX_NA),
               _num("syn", "tau_ms", tau_ms, 0.0, low_open=True),
               _num("syn", "e_mv", e_mv, -1000.0, 1000.0))


def _event_times(rng, rate_hz, tstop):
    """Poisson event times in (0, tstop) (ms)."""
    if rate_hz <= 0:
        return np.zeros(0)
    mean = 1000.0 / rate_hz
    out, t = [], 0.0
    while True:
        t += rng.exponential(mean)
        if t >= tstop:
            return np.array(out)
        out.append(t)


def _played_current(protocol, nsteps, dt, first, stride, dt_record, seed):
    """The IClamp waveform: w[k] is the mean current (nA) of the step-, ramp-,
    OU- and current-based Poisson components over [k dt, (k+1) dt)."""
    w = np.zeros(nsteps)
    tk = dt * np.arange(nsteps + 1)  # step edges

    for idx, c in enumerate(protocol):
        rng = np.random.default_rng([int(seed), idx])
        if isinstance(c, Step):
            for j, (t0, a) in enumerate(c.levels):
                t1 = c.levels[j + 1][0] if j + 1 < len(c.levels) else math.inf
                cum = a * np.clip(tk - t0, 0.0, t1 - t0)  # integral from 0 to t
                w += np.diff(cum) / dt
        elif isinstance(c, Ramp):
            s = (c.a1_na - c.a0_na) / (c.t1_ms - c.t0_ms)
            u = np.clip(tk - c.t0_ms, 0.0, c.t1_ms - c.t0_ms)
            w += np.diff(c.a0_na * u + 0.5 * s * u * u) / dt
        elif isinstance(c, OU):
            # held over recording intervals: steps first + j*stride .. +stride-1
            jk = np.floor_divide(np.arange(nsteps) - first, stride)
            j0, j1 = int(jk.min()), int(jk.max())
            a = math.exp(-dt_record / c.tau_ms)
            b = c.sd_na * math.sqrt(-math.expm1(-2.0 * dt_record / c.tau_ms))
            vals = np.empty(j1 - j0 + 1)
            x = c.mean_na + c.sd_na * rng.standard_normal()
            for j in range(len(vals)):
                vals[j] = x
                x = c.mean_na + a * (x - c.mean_na) + b * rng.standard_normal()
            w += vals[jk - j0]
        elif isinstance(c, Poisson):
            ev = _event_times(rng, c.rate_hz, nsteps * dt)
            ed = math.exp(-dt / c.tau_ms)
            amp, e = 0.0, 0
            for k in range(nsteps):
                t1 = (k + 1) * dt
                q = amp * c.tau_ms * (1.0 - ed)  # charge of what was there
                amp *= ed
                while e < len(ev) and ev[e] < t1:
                    r = math.exp(-(t1 - ev[e]) / c.tau_ms)
                    q += c.w_na * c.tau_ms * (1.0 - r)
                    amp += c.w_na * r
                    e += 1
                w[k] += q / dt
    return w


def record_input(section, protocol, duration_ms=2000.0, transient_ms=500.0, dt_record_ms=0.1,
                 dt_ms=0.025, seed=1, v_init=-65.0, loc=0.5, secondorder=2):
    """Record V at section(loc) and the injected current under `protocol`, a
    list of step(...), ramp(...), ou(...), poisson(...) and syn(...)
    components whose currents add.  Times are from the start of the run
    (transient included), as in `neuromap simulate`.  One fixed-step run
    (step dt_ms, which must divide dt_record_ms and transient_ms;
    Crank-Nicolson by default) from finitialize(v_init); the random
    components are seeded from `seed` (numpy; the same seed, the same
    recording).  Returns InputRecording(t_ms, v_mv, i_na, protocol, seed):
    i_na[k] is the mean over the steps of [t_k, t_k + dt_record_ms) of the
    current the IClamp delivered plus the synaptic currents (-ExpSyn.i),
    positive = depolarising.  NEURON's integrator settings are restored;
    the IClamp, synapses and NetCons are removed afterwards."""
    h = _check_section(section, "record_input")
    items = list(protocol) if isinstance(protocol, (list, tuple)) else None
    if not items:
        raise ValueError("record_input: protocol must be a non-empty list of step(), ramp(), ou(), "
                         "poisson() and syn() components, not %r" % (protocol,))
    for c in items:
        if not isinstance(c, (Step, Ramp, OU, Poisson, Syn)):
            raise TypeError("record_input: %r is not a protocol component (use record.step, "
                            "record.ramp, record.ou, record.poisson or record.syn)" % (c,))
    fn = "record_input"
    duration_ms = _num(fn, "duration_ms", duration_ms, 0.0, low_open=True)
    transient_ms = _num(fn, "transient_ms", transient_ms, 0.0)
    dt_record_ms = _num(fn, "dt_record_ms", dt_record_ms, 0.0, low_open=True)
    dt_ms = _num(fn, "dt_ms", dt_ms, 0.0, low_open=True)
    v_init = _num(fn, "v_init", v_init)
    loc = _num(fn, "loc", loc, 0.0, 1.0)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError("record_input: seed must be an integer >= 0, not %r" % (seed,))
    nrec = int(round(duration_ms / dt_record_ms))
    if nrec < 1:
        raise ValueError("record_input: duration_ms (%g) is shorter than dt_record_ms (%g)"
                         % (duration_ms, dt_record_ms))
    try:
        stride = _multiple("dt_record_ms", dt_record_ms, dt_ms, "dt_ms")
        first = _multiple("transient_ms", transient_ms, dt_ms, "dt_ms")
    except ValueError as e:
        raise ValueError(str(e).replace("record_iclamp", "record_input")) from None
    t_out = transient_ms + dt_record_ms * np.arange(nrec + 1)
    idx = first + stride * np.arange(nrec + 1)
    nsteps = int(idx[-1]) + stride  # the last interval closes at t_out[-1] + dt_record_ms
    tstop = nsteps * dt_ms

    w = _played_current(items, nsteps + 1, dt_ms, first, stride, dt_record_ms, seed)
    seg = section(loc)
    stim = h.IClamp(seg)
    stim.delay, stim.dur, stim.amp = 0.0, 1e9, 0.0
    wv = h.Vector(w)
    wv.play(stim._ref_amp, dt_ms)
    irecs = [h.Vector().record(stim._ref_i)]
    syns, ncs, times = [], [], []
    for idx_c, c in enumerate(items):
        if isinstance(c, Syn):
            s = h.ExpSyn(seg)
            s.tau, s.e = c.tau_ms, c.e_mv
            nc = h.NetCon(None, s)
            nc.weight[0] = c.g_us
            rng = np.random.default_rng([int(seed), idx_c])
            syns.append(s)
            ncs.append(nc)
            times.append(_event_times(rng, c.rate_hz, tstop))
            irecs.append(h.Vector().record(s._ref_i))

    def deliver():
        for nc, ts in zip(ncs, times):
            for te in ts:
                nc.event(float(te))

    fih = h.FInitializeHandler(deliver) if ncs else None
    try:
        t, v = _ns.record_v(seg._ref_v)
        _ns.run(tstop + 0.5 * dt_ms, method="fixed", dt=dt_ms, v_init=v_init,
                secondorder=secondorder)
        tv, vv = _ns.to_numpy(t), _ns.to_numpy(v)
        if len(vv) <= nsteps or abs(tv[nsteps] - tstop) > 1e-6 * max(1.0, tstop):
            raise RuntimeError("record_input: the run stopped at t = %g ms, before %g ms"
                               % (tv[-1] if len(tv) else 0.0, tstop))
        # the current of step k (t_k .. t_k+1) is recorded at t_(k+1)
        total = _ns.to_numpy(irecs[0])[:nsteps + 1].copy()
        for r in irecs[1:]:
            total -= _ns.to_numpy(r)[:nsteps + 1]  # ExpSyn.i is outward: injected = -i
        per_step = total[1:]
        i_na = np.array([per_step[k:k + stride].mean() for k in idx])
        vs = vv[idx]
    finally:
        wv.play_remove()
        del fih  # kept alive for the run: it schedules the synaptic events
        ncs = syns = stim = None  # removes them from the cell
    if not (np.all(np.isfinite(vs)) and np.all(np.isfinite(i_na))):
        raise RuntimeError("record_input: V or the current is not finite")
    return InputRecording(t_out.copy(), vs, i_na, items, int(seed))


def write_input_csv(path, t_ms, v_mv, i_na):
    """Write ``t_ms,V_mV,I_nA`` (10 significant digits) atomically: the series
    and its injected current (nA), as `neuromap simulate --input-*` writes
    them (there in the model's unit)."""
    t, v, i = (np.asarray(x, dtype=float) for x in (t_ms, v_mv, i_na))
    if t.ndim != 1 or t.shape != v.shape or t.shape != i.shape or len(t) < 2:
        raise ValueError("write_input_csv: t_ms, v_mv and i_na must be 1-D of the same length >= 2 "
                         "(got %s, %s and %s)" % (t.shape, v.shape, i.shape))
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v)) and np.all(np.isfinite(i))):
        raise ValueError("write_input_csv: %s: t_ms, v_mv or i_na is not finite" % path)
    if np.any(np.abs(i) > _MAX_NA):
        raise ValueError("write_input_csv: %s: |I| > %g nA (the readers' limit)" % (path, _MAX_NA))
    return _write_csv_atomic(path, "t_ms,V_mV,I_nA", (t, v, i))
