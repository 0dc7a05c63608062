"""NEURON helpers: load the neuromap mechanisms (with a real check), record
spikes and voltages, run with a chosen integrator.

Use /usr/bin/python3 (Debian's NEURON module lives there).  NEURON is
imported on first use, not when this module is imported.

    from neuromap import neuron_support as ns
    h = ns.load_mechanisms()               # NEUROMAP_MECHDIR, the installed ones, or build/mod
    ...
    ns.run(10000, method="cvode")
"""

import collections
import os
import warnings

import numpy as np

__all__ = ["load_mechanisms", "find_mechdir", "hoc_dir", "load_templates", "SpikeRecorder",
           "record_spikes", "record_v", "to_numpy", "run", "check_cells", "error_message",
           "learned_errors", "learned_cell_errors", "CellError", "LearnedCellError", "burst_stats",
           "learned_input_warnings", "InputClampedWarning",
           "MECHANISMS"]

# The mechanisms libnrnmech.so must define (mod/*.mod).
MECHANISMS = ("NeuroMapCell", "NeuroMapClamp", "srk")

_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _installed(name):
    """A path from neuromap/_install.py (an installed package), or None."""
    try:
        from . import _install
    except ImportError:  # a source tree: no _install.py
        return None
    return getattr(_install, name, None)


def find_mechdir():
    """The folder holding x86_64/.libs/libnrnmech.so: NEUROMAP_MECHDIR if set,
    else the installed mechanisms (LIBDIR/neuromap, from neuromap/_install.py),
    else <source>/build/mod.  Raises OSError if it has no mechanism library."""
    mechdir = (os.environ.get("NEUROMAP_MECHDIR") or _installed("MECHDIR")
               or os.path.join(_SOURCE_ROOT, "build", "mod"))
    mechdir = os.path.abspath(mechdir)
    lib = os.path.join(mechdir, "x86_64", ".libs", "libnrnmech.so")
    if not os.path.exists(lib):
        raise OSError("%s not found: build the project (scripts/build.sh) or point "
                      "NEUROMAP_MECHDIR at the folder holding x86_64/" % lib)
    return mechdir


def hoc_dir():
    """The folder of the hoc templates (srk_cell.hoc, learned_cell.hoc):
    share/neuromap/hoc when installed, else <source>/hoc."""
    return _installed("HOCDIR") or os.path.join(_SOURCE_ROOT, "hoc")


def _h():
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    from neuron import h
    return h


def load_mechanisms(mechdir=None, templates=True):
    """Load the compiled mechanisms and return neuron.h.

    neuron.load_mechanisms returns True even when dlopen failed, so the
    mechanism names are checked on h afterwards; RuntimeError if they are
    missing.  Loading twice is harmless (the second call only checks).  If the
    working folder holds x86_64/ NEURON has already auto-loaded that library,
    and an explicit load of another copy would fail with "user defined name
    already exists": then what is loaded is only checked.  templates=True also
    loads stdrun.hoc and the cell templates (SRKCell, LearnedCell,
    LearnedSectionCell)."""
    h = _h()
    if not all(hasattr(h, m) for m in MECHANISMS):
        import neuron
        mechdir = find_mechdir() if mechdir is None else os.path.abspath(mechdir)
        neuron.load_mechanisms(mechdir)
        missing = [m for m in MECHANISMS if not hasattr(h, m)]
        if missing:
            raise RuntimeError("mechanisms %s not defined after neuron.load_mechanisms(%r): "
                               "is %s/x86_64/.libs/libnrnmech.so built and loadable?"
                               % (", ".join(missing), mechdir, mechdir))
    if templates:
        load_templates(h)
    return h


def load_templates(h=None):
    """stdrun.hoc and the templates in hoc/ (idempotent)."""
    h = h or _h()
    h.load_file("stdrun.hoc")
    for name, template in (("srk_cell.hoc", "SRKCell"), ("learned_cell.hoc", "LearnedCell")):
        if not hasattr(h, template):
            path = os.path.join(hoc_dir(), name)
            if not h.load_file(path):
                raise RuntimeError("cannot load %s" % path)
    return h


def to_numpy(vec):
    """h.Vector -> float array (np.array(h.Vector()) fails on an empty one)."""
    return np.array(vec.to_python(), dtype=float)


class SpikeRecorder:
    """Spike times of one source (a NetCon with no target, recording)."""

    def __init__(self, netcon):
        h = _h()
        self.netcon = netcon
        self.vec = h.Vector()
        netcon.record(self.vec)

    def times(self):
        return to_numpy(self.vec)


def record_spikes(cells):
    """A SpikeRecorder per cell (objects with connect2target(None)); returns the list."""
    return [SpikeRecorder(c.connect2target(None)) for c in cells]


def record_v(ref, dt_ms=None, times=None):
    """Record a variable (e.g. sec(0.5)._ref_v or cell._ref_V) into a Vector:
    at the given times (ms; CVode stops there), every dt_ms, or at every
    step.  Returns (t_vector, v_vector)."""
    h = _h()
    v = h.Vector()
    if times is not None:
        t = h.Vector(np.asarray(times, dtype=float))
        v.record(ref, t)
    elif dt_ms is None:
        t = h.Vector()
        v.record(ref)
        t.record(h._ref_t)
    else:
        t = h.Vector()
        v.record(ref, dt_ms)
        t.record(h._ref_t, dt_ms)
    return t, v


def run(tstop, method="fixed", dt=0.025, nthread=1, v_init=-50.0, atol=1e-8, rtol=1e-8,
        secondorder=2, check=True):
    """finitialize(v_init) and run to tstop (ms).  method: "fixed" (dt,
    secondorder 2 = Crank-Nicolson by default), "cvode" (global variable step,
    atol/rtol) or "lvardt" (local variable step).  nthread threads.  NEURON's
    global integrator settings are restored afterwards.

    check=True: raise LearnedCellError if a learned cell stopped during the
    run (its map diverged, an invalid value; the run itself goes on to tstop
    as NEURON does): the message names the first cell, its time and message,
    and how many stopped.  check=False leaves that to learned_cell_errors()."""
    h = _h()
    pc = h.ParallelContext()
    cv = h.CVode()
    old = (cv.active(), cv.use_local_dt(), h.secondorder, h.dt)
    try:
        pc.nthread(int(nthread))
        if method == "fixed":
            cv.active(0)
            h.dt = dt
            h.secondorder = secondorder
        elif method in ("cvode", "lvardt"):
            cv.active(1)
            cv.use_local_dt(1 if method == "lvardt" else 0)
            cv.atol(atol)
            cv.rtol(rtol)
        else:
            raise ValueError("method must be fixed, cvode or lvardt, not %r" % method)
        try:
            h.finitialize(v_init)
        except RuntimeError as e:
            # NEURON's exception says only "hoc error"; an invalid value of a
            # learned cell (tau_drive, rs, ...) is in its errmsg.
            msgs = learned_errors()
            if msgs:
                raise RuntimeError("finitialize refused: " + "; ".join(msgs)) from e
            raise
        h.continuerun(tstop)
        for msg in learned_input_warnings():
            warnings.warn(msg, InputClampedWarning, stacklevel=2)
        if check:
            errs = learned_cell_errors()
            if errs:
                raise LearnedCellError(errs)
    finally:
        cv.use_local_dt(old[1])
        cv.active(old[0])
        h.secondorder = old[2]
        h.dt = old[3]
        pc.nthread(1)


def _mech(c):
    return getattr(c, "mech", None) or getattr(c, "cell", None) or c


def error_message(cell):
    """The message of what stopped a learned cell (its errmsg: an invalid
    value such as "p is not finite", or "map diverged"), "" while err = 0.
    cell: a wrapper, a template or the NeuroMapCell/NeuroMapClamp."""
    h = _h()
    mech = _mech(cell)
    s = h.ref("")
    mech.errmsg(s)
    return s[0]


def learned_errors():
    """Messages of every NeuroMapCell and NeuroMapClamp in NEURON whose err is
    set (see error_message), earliest first."""
    return ["%s (err %d)" % (e.message, e.err) for e in learned_cell_errors()]


class CellError(collections.namedtuple("CellError", "name mech t_ms err message")):
    """One stopped learned cell: name ("NeuroMapCell[3]", the mechanism's hoc
    name), mech (the hoc object), t_ms (when it stopped), err (1 an invalid
    value, 6 map diverged), message (its errmsg)."""
    __slots__ = ()

    def __str__(self):
        msg = self.message
        kind = self.name.split("[")[0]
        if msg.startswith(kind + ": "):
            msg = msg[len(kind) + 2:]
        return "%s: %s (err %d)" % (self.name, msg, self.err)


class LearnedCellError(RuntimeError):
    """Learned cells stopped during a run (neuron_support.run): .errors is
    the list of CellError, earliest first; .first the earliest."""

    def __init__(self, errors):
        self.errors = list(errors)
        self.first = self.errors[0]
        more = len(self.errors) - 1
        super().__init__("learned cell %s%s" % (
            self.first, "; %d more cell%s stopped" % (more, "s" if more > 1 else "") if more else ""))


def learned_cell_errors():
    """Every NeuroMapCell and NeuroMapClamp in NEURON (on this rank) stopped
    by an error since its finitialize, as CellError tuples, earliest first
    (ties in creation order).  A cell stops for good until the next
    finitialize and NEURON goes on, so check after a run (run() does)."""
    h = _h()
    found = []
    for name in ("NeuroMapCell", "NeuroMapClamp"):
        if hasattr(h, name):
            for mech in h.List(name):
                if mech.err:
                    found.append(CellError(mech.hname(), mech, float(mech.errt), int(mech.err),
                                           error_message(mech)))
    found.sort(key=lambda e: e.t_ms)
    return found


class InputClampedWarning(UserWarning):
    """Learned cells whose input left the trained range (clamped) or went
    into a model without an input channel (ignored) during a run."""


def learned_input_warnings():
    """One message per NeuroMapCell / NeuroMapClamp (on this rank) whose
    input was clamped to the model's trained range (nclamped > 0) or ignored
    by a model without input (nignored > 0) since finitialize.  run() issues
    them as InputClampedWarning: the cell went on, with the clamped input."""
    h = _h()
    out = []
    for name in ("NeuroMapCell", "NeuroMapClamp"):
        if hasattr(h, name):
            for mech in h.List(name):
                nc, ni = int(mech.nclamped), int(mech.nignored)
                if nc:
                    out.append("%s: the input of %d of %d map steps was outside the trained range "
                               "[%g, %g] and clamped to it" % (mech.hname(), nc, int(mech.nstep),
                                                               mech.umin, mech.umax))
                if ni:
                    out.append("%s: the model has no input channel: the input of %d of %d map "
                               "steps was ignored" % (mech.hname(), ni, int(mech.nstep)))
    return out


def check_cells(cells):
    """Raise RuntimeError if a learned cell stopped: its map diverged (err 6)
    or a value it uses was invalid (err 1: p, drive, tau_drive, hysteresis,
    thresh, rs, kp*pin; see mod/neuromap_cell.mod).  The message names each
    cell by its index in cells and gives its errmsg.  cells: wrappers or hoc
    objects."""
    bad = []
    for i, c in enumerate(cells):
        mech = _mech(c)
        err = getattr(mech, "err", 0)
        if err:
            bad.append("cell %d (err %d): %s" % (i, int(err), error_message(mech)))
    if bad:
        raise RuntimeError("learned cells stopped: " + "; ".join(bad))


def burst_stats(times, max_isi_ms):
    """Bursts of one spike train: runs of spikes whose ISIs are all <=
    max_isi_ms (a lone spike is a burst of 1).  Returns a dict: sizes (spikes
    per burst), starts (ms), intra_isi (ISIs inside bursts, ms), ibi (gaps
    between burst starts, ms)."""
    t = np.asarray(times, dtype=float)
    if len(t) == 0:
        return dict(sizes=np.zeros(0, int), starts=np.zeros(0), intra_isi=np.zeros(0),
                    ibi=np.zeros(0))
    isi = np.diff(t)
    breaks = np.nonzero(isi > max_isi_ms)[0]
    first = np.concatenate([[0], breaks + 1])
    last = np.concatenate([breaks, [len(t) - 1]])
    return dict(sizes=last - first + 1, starts=t[first], intra_isi=isi[isi <= max_isi_ms],
                ibi=np.diff(t[first]))
