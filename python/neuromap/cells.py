"""Learned and mechanistic cells in NEURON, from Python, with one interface.

    from neuromap.cells import LearnedCell, LearnedSectionCell, SRKCell
    a = LearnedCell("out/srk.nmap", p=-38)      # NeuroMapCell (ARTIFICIAL_CELL)
    b = SRKCell(p=-38)                          # one section with mod/srk.mod
    nc = a.connect2target(b.syn, weight=0.002, delay=1)
    rec = a.record_spikes()
    neuromap.neuron_support.run(20000)
    rec.times()

Each class wraps the hoc template of the same name (hoc/srk_cell.hoc,
hoc/learned_cell.hoc) in ``.hoc``, so hoc and Python build the same cells.
Common interface: ``p`` (property) / ``setp`` / ``getp``, ``syn`` (the
target of incoming NetCons), ``connect2target(target, weight=None,
delay=None)``, ``record_spikes()``, ``threshold``, ``is_art``.

Weights: for SRKCell, syn is an ExpSyn (weight in uS); for the learned cells
a NetCon weight is added to the drive the map sees (units of p: mV of VS for
an SRK model), decaying with ``tau_drive`` (ms).

p of a learned cell defaults to its model's (``p_default``: the centre of
the training range) unless given; ``p_name`` and ``p_unit`` are the name and
unit stored in the model (``neuromap train --p-name/--p-unit``).

Input-driven models (issue 11; docs/neuron.md, "Input-driven cells"): a
NetCon's second weight ``nc.weight[1]`` (wi, nA) goes into the cell's
current synapse (``tau_syn``, ms), ``ibias`` (nA) is a constant current, and
each map step is driven by the mean current over the step in the model's
unit (``input_unit``; LearnedCell needs ``area_um2`` for uA/cm2 models).
LearnedSectionCell also takes the current everything else injects into its
soma (one map step late).  Inputs outside the trained range are clamped and
counted (``input_clamped()``; ``neuron_support.run`` warns).

Constructing a cell loads the mechanisms (neuron_support.load_mechanisms).
A bad model path or a corrupted file raises RuntimeError with libneuromap's
message.  A cell that stops during a run (its map diverged, an invalid
value) is listed by ``errors()``; ``neuron_support.run`` raises
``LearnedCellError`` for it.
"""

from . import neuron_support as _ns
from . import runtime as _rt

__all__ = ["LearnedCell", "LearnedSectionCell", "SRKCell", "model_load_error", "errors",
           "first_error", "LearnedCellError"]

LearnedCellError = _ns.LearnedCellError


def errors():
    """Every learned cell (NeuroMapCell, NeuroMapClamp) stopped by an error
    since its finitialize, earliest first: CellError tuples (name, e.g.
    "NeuroMapCell[3]"; mech, the hoc object; t_ms; err; message).  See
    neuron_support.learned_cell_errors."""
    return _ns.learned_cell_errors()


def first_error():
    """The earliest of errors(), or None."""
    errs = _ns.learned_cell_errors()
    return errs[0] if errs else None


def model_load_error(path, exc):
    """RuntimeError for a failed load(path), with libneuromap's message when
    the library NEURON uses is the one ctypes sees (the usual case)."""
    try:
        msg = _rt.last_error()
    except OSError:
        msg = ""
    if not msg:
        msg = "%s (see NEURON's message above)" % exc
    return RuntimeError("cannot load the model %r: %s" % (path, msg))


class _Cell:
    hoc = None

    @property
    def p(self):
        return self.hoc.getp()

    @p.setter
    def p(self, value):
        self.hoc.setp(float(value))

    def setp(self, value):
        self.hoc.setp(float(value))

    def getp(self):
        return self.hoc.getp()

    @property
    def syn(self):
        return self.hoc.syn

    @property
    def threshold(self):
        return self.hoc.threshold

    @property
    def is_art(self):
        return bool(self.hoc.is_art())

    def connect2target(self, target, weight=None, delay=None):
        """NetCon from this cell's spikes to target (None: a recording-only
        NetCon).  weight, delay (ms) set if given."""
        nc = self.hoc.connect2target(target)
        if weight is not None:
            nc.weight[0] = weight
        if delay is not None:
            nc.delay = delay
        return nc

    def record_spikes(self):
        return _ns.SpikeRecorder(self.connect2target(None))


class _LearnedBase(_Cell):
    template = None

    def __init__(self, model, p=None, tau_drive=None, tau_syn=None, ibias=None, area_um2=None):
        """model: a model file.  p: the control parameter (default: the
        model's p_default, the centre of its training range).  tau_syn (ms),
        ibias (nA), area_um2 (LearnedCell only): the input (see the module
        doc)."""
        h = _ns.load_mechanisms()
        self.hoc = getattr(h, self.template)()
        self.mech = self.hoc.cell
        self.load(model)
        if p is not None:
            self.p = p
        if tau_drive is not None:
            self.mech.tau_drive = tau_drive
        if tau_syn is not None:
            self.mech.tau_syn = tau_syn
        if ibias is not None:
            self.mech.ibias = ibias
        if area_um2 is not None:
            self.area_um2 = area_um2

    def load(self, model):
        """Load (or share) a model file; the state resets to its start.  p
        becomes the new model's p_default unless it was set to another
        value than the previous model's default."""
        path = str(model)
        try:
            self.hoc.load(path)
        except RuntimeError as e:
            raise model_load_error(path, e) from None
        self.path = path

    @property
    def p_default(self):
        """The model's default p: the centre of its training range."""
        return self.mech.pdefault

    @property
    def p_name(self):
        """Name of p stored in the model ("p" for older files)."""
        s = _ns._h().ref("")
        self.mech.pname(s)
        return s[0]

    @property
    def p_unit(self):
        """Unit of p stored in the model ("" for none)."""
        s = _ns._h().ref("")
        self.mech.punit(s)
        return s[0]

    @property
    def tau_drive(self):
        return self.mech.tau_drive

    @tau_drive.setter
    def tau_drive(self, value):
        self.mech.tau_drive = value

    @property
    def dt_map(self):
        return self.mech.dt_map

    # ---- input (issue 11) ----
    @property
    def has_input(self):
        """True if the model has an input channel."""
        return bool(self.mech.hasinput)

    @property
    def input_unit(self):
        """The model's input unit ("nA", "uA/cm2", ...; "" without input)."""
        s = _ns._h().ref("")
        self.mech.inunit(s)
        return s[0]

    @property
    def input_range(self):
        """The trained input range (model units); (0, 0) without input."""
        return (self.mech.umin, self.mech.umax)

    @property
    def tau_syn(self):
        return self.mech.tau_syn

    @tau_syn.setter
    def tau_syn(self, value):
        self.mech.tau_syn = value

    @property
    def ibias(self):
        return self.mech.ibias

    @ibias.setter
    def ibias(self, value):
        self.mech.ibias = value

    @property
    def iin(self):
        """Mean input current (nA) of the last map step (LearnedSectionCell:
        of the next one: measured + synapse + ibias)."""
        return self.mech.iin

    @property
    def uin(self):
        """The input the last map step used (model units, after clamping)."""
        return self.mech.uin

    def input_clamped(self):
        """Map steps since finitialize whose input was outside the trained
        range and clamped to it."""
        return int(self.mech.nclamped)

    def input_ignored(self):
        """Map steps since finitialize with a non-zero input into a model
        without an input channel (ignored)."""
        return int(self.mech.nignored)

    @property
    def dim(self):
        return int(self.mech.dim)

    @property
    def V(self):
        """Decoded V (mV) of the current map state."""
        return self.mech.V

    @property
    def V0(self):
        """Decoded V (mV) of the model's start state."""
        return self.mech.V0

    def state(self):
        """The latent state x (dim values), owned by NEURON."""
        return [self.mech.x[i] for i in range(self.dim)]

    def refcount(self):
        """Cells (and other holders) sharing this cell's model."""
        return int(self.mech.refcount())

    @property
    def err(self):
        """0, or the status that stopped the cell: 1 an invalid value (p,
        drive, tau_drive, hysteresis, thresh, rs, kp*pin), 6 map diverged."""
        return int(self.mech.err)

    def error_message(self):
        """What stopped the cell ("" while err is 0)."""
        return _ns.error_message(self.mech)

    def check(self):
        """RuntimeError if the cell stopped (map diverged, an invalid value)."""
        _ns.check_cells([self])


class LearnedCell(_LearnedBase):
    """NeuroMapCell: an ARTIFICIAL_CELL stepping a learned map on self-events.
    record_V() records the decoded V at every map step."""
    template = "LearnedCell"

    @property
    def area_um2(self):
        """Membrane area (um2) converting nA into a uA/cm2 or mA/cm2 input."""
        return self.mech.area_um2

    @area_um2.setter
    def area_um2(self, value):
        self.mech.area_um2 = value

    def record_V(self, times=None):
        """(t, V) Vectors of the decoded V.  Without times: at every map step
        (the cell's own recorder, NeuroMapCell.recordV): t[0] is the
        finitialize time with V0, then each step's time and V; V is constant
        in between.  It needs no section and works under every integrator
        and with threads.  With times (ms): V at those times (Vector.record
        with a time vector).  V changes only at the map steps, so at a step
        time the value depends on the order of events: record at
        (k + 1/2)*dt_map for V after step k."""
        if times is not None:
            return _ns.record_v(self.mech._ref_V, times=times)
        h = _ns._h()
        t, v = h.Vector(), h.Vector()
        self.hoc.recordV(t, v)
        return t, v


class LearnedSectionCell(_LearnedBase):
    """NeuroMapClamp in a soma: the section's v follows the decoded V.
    ``soma``, ``clamp`` and ``esyn`` (an ExpSyn whose current feeds p with
    gain clamp.kp, 0 by default) are the hoc template's."""
    template = "LearnedSectionCell"

    @property
    def soma(self):
        return self.hoc.soma

    @property
    def clamp(self):
        return self.hoc.clamp

    @property
    def esyn(self):
        return self.hoc.esyn

    @property
    def area_um2(self):
        """The soma's area (um2), read by the clamp at finitialize."""
        return self.hoc.soma(0.5).area()

    @property
    def iother(self):
        """Mean current (nA) the soma's other mechanisms injected over the
        last map step (IClamp, synapses, gap junctions, dendrites)."""
        return self.mech.iother

    def record_v(self, dt_ms=None):
        return _ns.record_v(self.hoc.soma(0.5)._ref_v, dt_ms)


class SRKCell(_Cell):
    """The mechanistic SRK beta cell (hoc/srk_cell.hoc, mod/srk.mod): one
    section; spikes are upward crossings of -35 mV.  p is VS (mV)."""

    def __init__(self, p=None):
        h = _ns.load_mechanisms()
        self.hoc = h.SRKCell()
        if p is not None:
            self.p = p

    @property
    def soma(self):
        return self.hoc.soma

    def record_v(self, dt_ms=None):
        return _ns.record_v(self.hoc.soma(0.5)._ref_v, dt_ms)
