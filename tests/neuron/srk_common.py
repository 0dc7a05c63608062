"""Shared helpers of the NEURON tests for mod/srk.mod.

Runs with /usr/bin/python3 (the interpreter that has Debian's `neuron`).
Three things live here:
  * loading the compiled mechanisms the way a user does, with a real check
    that they loaded (neuron.load_mechanisms returns True even when dlopen
    failed);
  * one SRK section in NEURON, run with a chosen integrator and sampled on the
    same 5 ms grid as the C model's output;
  * the reference: libneuromap's nm_simulate, through the `neuromap simulate`
    command or through ctypes, or (development only) a scipy LSODA run.

Protocol everywhere (design.md, section 2): initial state (V, n, S) =
(-50 mV, 0, 0.4), 20 s transient dropped, spikes = upward crossings of -35 mV,
linearly interpolated between samples.
"""

import ctypes
import math
import os
import subprocess
import sys

import numpy as np

THRESHOLD_MV = -35.0      # design.md: spikes are upward crossings of -35 mV
V_INIT_MV = -50.0         # design.md initial state (V, n, S) = (-50, 0, 0.4)
N_INIT = 0.0
S_INIT = 0.4
TRANSIENT_MS = 20000.0    # design.md: 20 s transient dropped
SAMPLE_MS = 5.0           # design.md: V sampled every 5 ms resolves a spike

# Default parameters of mod/srk.mod and of the C model (design.md, section 2),
# used only by the LSODA development reference.
SRK_PARAMS = dict(gCa=3.6, gK=10.0, gS=4.0, VCa=25.0, VK=-75.0, Vm=-20.0, thetam=12.0,
                  Vn=-16.0, thetan=5.6, thetaS=10.0, tau=20.0, sigma=0.93, tauS=5000.0)


class TestFailure(Exception):
    pass


def check(cond, msg):
    """Assert that prints what was compared; raises TestFailure."""
    if not cond:
        raise TestFailure(msg)
    print("  ok: " + msg)


def neuron_h(mechdir):
    """Import NEURON, load the mechanisms in mechdir (the folder holding
    x86_64/) and return h.  Refuses to run from mechdir itself: NEURON
    auto-loads ./x86_64/.libs/libnrnmech.so from the working folder, and an
    explicit second load then fails with "user defined name already exists"."""
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    if os.path.exists(os.path.join(os.getcwd(), "x86_64")):
        raise TestFailure("run the NEURON tests from a scratch folder, not from %s" % os.getcwd())
    import neuron
    from neuron import h
    if hasattr(h, "srk"):
        raise TestFailure("srk exists before loading: something auto-loaded a mechanism library")
    neuron.load_mechanisms(mechdir)
    # load_mechanisms returns True even when dlopen failed: check the name.
    if not hasattr(h, "srk"):
        raise TestFailure("mechanism srk not defined after neuron.load_mechanisms(%r)" % mechdir)
    h.load_file("stdrun.hoc")
    return h


def srk_section(h, vs, cm=1.0, cmref=1.0, name="soma"):
    """One compartment with only the srk mechanism.  With cm == cmref (uF/cm2)
    tau dV/dt = -I_Ca - I_K - I_S holds exactly (mod/srk.mod); tests set them
    apart on purpose to show that the comparison notices."""
    sec = h.Section(name=name)
    sec.nseg = 1
    sec.L = sec.diam = math.sqrt(1000.0 / math.pi)  # area 1000 um2 (irrelevant here)
    sec.cm = cm
    sec.insert("srk")
    seg = sec(0.5)
    seg.srk.cmref = cmref
    seg.srk.Vs = vs
    seg.srk.n0 = N_INIT
    seg.srk.S0 = S_INIT
    return sec


def to_numpy(vec):
    """h.Vector -> float array (np.array(h.Vector()) fails on an empty one)."""
    return np.array(vec.to_python(), dtype=float)


def crossings(t, v, threshold=THRESHOLD_MV):
    """Upward crossings of threshold, linearly interpolated (ms)."""
    t = np.asarray(t, dtype=float)
    v = np.asarray(v, dtype=float)
    i = np.nonzero((v[:-1] < threshold) & (v[1:] >= threshold))[0]
    return t[i] + (threshold - v[i]) / (v[i + 1] - v[i]) * (t[i + 1] - t[i])


def run_neuron(h, vs, duration_ms, integrator, dt=0.025, atol=1e-8, rtol=1e-8, cm=1.0):
    """Run one srk section from (V, n, S) = (-50, 0, 0.4) for
    TRANSIENT_MS + duration_ms.  integrator: "cvode" (variable step, given
    tolerances, second-order threshold detection), "fixed1" (NEURON's default
    backward Euler, secondorder=0) or "fixed2" (Crank-Nicolson, secondorder=2).
    Returns (t, v) sampled every SAMPLE_MS from TRANSIENT_MS on, and the
    NetCon spike times (threshold -35 mV) after the transient.  cm (uF/cm2)
    is the section's capacitance; the mechanism's cmref stays 1."""
    sec = srk_section(h, vs, cm=cm)
    nc = h.NetCon(sec(0.5)._ref_v, None, sec=sec)
    nc.threshold = THRESHOLD_MV
    spikes = h.Vector()
    nc.record(spikes)
    vrec = h.Vector()
    vrec.record(sec(0.5)._ref_v, SAMPLE_MS)
    cv = h.CVode()
    if integrator == "cvode":
        cv.active(1)
        cv.atol(atol)
        cv.rtol(rtol)
        cv.condition_order(2)   # interpolate threshold crossings within a step
    elif integrator in ("fixed1", "fixed2"):
        cv.active(0)
        h.dt = dt
        h.secondorder = 0 if integrator == "fixed1" else 2
    else:
        raise ValueError(integrator)
    h.finitialize(V_INIT_MV)
    h.continuerun(TRANSIENT_MS + duration_ms)
    v = to_numpy(vrec)
    t = np.arange(len(v)) * SAMPLE_MS
    keep = t >= TRANSIENT_MS - 1e-9
    sp = to_numpy(spikes)
    # Leave NEURON's global state as found for the next run in this process.
    cv.active(0)
    h.secondorder = 0
    del nc, vrec, spikes, sec
    return t[keep], v[keep], sp[sp >= TRANSIENT_MS]


# ----------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------

def reference_cli(neuromap, vs, duration_ms, workdir):
    """`neuromap simulate --model srk` -> (t, v) from its t_ms,V_mV CSV."""
    out = os.path.join(workdir, "srk_vs%g.csv" % vs)
    cmd = [neuromap, "simulate", "--model", "srk", "--p", repr(vs), "--duration",
           repr(duration_ms), "--dt", repr(SAMPLE_MS), "--transient", repr(TRANSIENT_MS),
           "--out", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise TestFailure("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    data = np.genfromtxt(out, delimiter=",", names=True, comments="#")
    names = data.dtype.names
    if names is None or len(names) < 2:
        raise TestFailure("%s: expected columns t_ms,V_mV" % out)
    return np.asarray(data[names[0]], float), np.asarray(data[names[1]], float)


class _SimOpts(ctypes.Structure):
    # Mirror of nm_sim_opts in include/neuromap.h (checked by the sanity
    # checks on the result below: a layout drift shows up as a wrong length,
    # t0 or p).
    _fields_ = [("duration_ms", ctypes.c_double), ("dt_ms", ctypes.c_double),
                ("transient_ms", ctypes.c_double), ("y0", ctypes.POINTER(ctypes.c_double)),
                ("noise_mv", ctypes.c_double), ("seed", ctypes.c_uint64),
                ("rtol", ctypes.c_double), ("atol", ctypes.c_double),
                ("record_states", ctypes.c_int)]


class _Series(ctypes.Structure):
    # Mirror of nm_series in include/neuromap.h.
    _fields_ = [("n", ctypes.c_size_t), ("dt_ms", ctypes.c_double), ("t0_ms", ctypes.c_double),
                ("p", ctypes.c_double), ("v", ctypes.POINTER(ctypes.c_double)),
                ("nstates", ctypes.c_size_t), ("states", ctypes.POINTER(ctypes.c_double))]


def lib_has_simulate(libpath):
    try:
        lib = ctypes.CDLL(libpath)
        return hasattr(lib, "nm_simulate") and hasattr(lib, "nm_model_type_find")
    except OSError:
        return False


def reference_lib(libpath, vs, duration_ms):
    """nm_simulate through ctypes, with nm_sim_opts_default's tolerances and
    the default initial state (-50, 0, 0.4)."""
    lib = ctypes.CDLL(libpath)
    lib.nm_model_type_find.restype = ctypes.c_void_p
    lib.nm_model_type_find.argtypes = [ctypes.c_char_p]
    lib.nm_model_alloc.restype = ctypes.c_void_p
    lib.nm_model_alloc.argtypes = [ctypes.c_void_p]
    lib.nm_model_free.argtypes = [ctypes.c_void_p]
    lib.nm_model_set_control.argtypes = [ctypes.c_void_p, ctypes.c_double]
    lib.nm_sim_opts_default.argtypes = [ctypes.POINTER(_SimOpts)]
    lib.nm_simulate.argtypes = [ctypes.c_void_p, ctypes.POINTER(_SimOpts),
                                ctypes.POINTER(ctypes.POINTER(_Series))]
    lib.nm_series_free.argtypes = [ctypes.POINTER(_Series)]
    lib.nm_last_error.restype = ctypes.c_char_p

    def fail(what):
        raise TestFailure("%s: %s" % (what, lib.nm_last_error().decode()))

    ty = lib.nm_model_type_find(b"srk")
    if not ty:
        fail("nm_model_type_find(srk)")
    m = lib.nm_model_alloc(ty)
    if not m:
        fail("nm_model_alloc")
    try:
        if lib.nm_model_set_control(m, ctypes.c_double(vs)) != 0:
            fail("nm_model_set_control")
        o = _SimOpts()
        lib.nm_sim_opts_default(ctypes.byref(o))
        o.duration_ms, o.dt_ms, o.transient_ms = duration_ms, SAMPLE_MS, TRANSIENT_MS
        o.y0 = None
        o.noise_mv = 0.0
        o.record_states = 0
        out = ctypes.POINTER(_Series)()
        if lib.nm_simulate(m, ctypes.byref(o), ctypes.byref(out)) != 0:
            fail("nm_simulate")
        try:
            s = out.contents
            nexp = int(math.floor(duration_ms / SAMPLE_MS + 1e-9)) + 1
            if s.n != nexp or abs(s.t0_ms - TRANSIENT_MS) > 1e-9 or abs(s.p - vs) > 1e-12:
                raise TestFailure("nm_series looks wrong (n=%d t0=%g p=%g): has the struct "
                                  "layout in neuromap.h changed?" % (s.n, s.t0_ms, s.p))
            v = np.ctypeslib.as_array(s.v, shape=(s.n,)).copy()
            t = s.t0_ms + np.arange(s.n) * s.dt_ms
        finally:
            lib.nm_series_free(out)
    finally:
        lib.nm_model_free(m)
    return t, v


def reference_lsoda(vs, duration_ms):
    """scipy LSODA (rtol 1e-10), evaluated by its dense output on the 5 ms
    grid.  Used only during development (--reference lsoda)."""
    from scipy.integrate import solve_ivp
    p = SRK_PARAMS

    def b(v, vh, th):
        return 1.0 / (1.0 + np.exp((vh - v) / th))

    def rhs(_t, y):
        V, n, S = y
        return [(-p["gCa"] * b(V, p["Vm"], p["thetam"]) * (V - p["VCa"])
                 - p["gK"] * n * (V - p["VK"]) - p["gS"] * S * (V - p["VK"])) / p["tau"],
                p["sigma"] * (b(V, p["Vn"], p["thetan"]) - n) / p["tau"],
                (b(V, vs, p["thetaS"]) - S) / p["tauS"]]

    tend = TRANSIENT_MS + duration_ms
    sol = solve_ivp(rhs, (0.0, tend), [V_INIT_MV, N_INIT, S_INIT], method="LSODA",
                    rtol=1e-10, atol=1e-12, max_step=SAMPLE_MS, dense_output=True)
    if not sol.success:
        raise TestFailure("LSODA: " + sol.message)
    t = TRANSIENT_MS + np.arange(int(math.floor(duration_ms / SAMPLE_MS + 1e-9)) + 1) * SAMPLE_MS
    return t, sol.sol(t)[0]


def reference(args, vs, duration_ms, workdir):
    """Pick the C model: the CLI if given and present, else libneuromap via
    ctypes; LSODA only when asked for by name.  Returns (name, t, v)."""
    if args.reference in ("auto", "cli") and args.neuromap and os.access(args.neuromap, os.X_OK):
        return "neuromap simulate (C model)", *reference_cli(args.neuromap, vs, duration_ms, workdir)
    if args.reference == "cli":
        raise TestFailure("neuromap binary not found: %r" % args.neuromap)
    if args.reference in ("auto", "lib") and args.libneuromap and lib_has_simulate(args.libneuromap):
        return "libneuromap nm_simulate via ctypes (C model)", *reference_lib(args.libneuromap, vs,
                                                                              duration_ms)
    if args.reference == "lib":
        raise TestFailure("libneuromap with nm_simulate not found: %r" % args.libneuromap)
    if args.reference == "lsoda":
        return "scipy LSODA rtol 1e-10 (NOT the C model)", *reference_lsoda(vs, duration_ms)
    raise TestFailure("no C model available (neuromap=%r, libneuromap=%r)"
                      % (args.neuromap, args.libneuromap))


def burst_sizes(spikes):
    """Spikes per burst for a bimodal ISI distribution: a gap longer than the
    midpoint of the shortest and longest ISI ends a burst.  The first and the
    last burst may be cut by the window and are dropped.  Tonic spiking (all
    ISIs within 10 %) gives [] (no bursts)."""
    isi = np.diff(spikes)
    if len(isi) < 2 or isi.max() < 1.1 * isi.min():
        return []
    gap = isi > 0.5 * (isi.min() + isi.max())
    ends = np.nonzero(gap)[0]          # burst k ends at spike ends[k]
    return list(np.diff(ends))


def main_wrapper(fn):
    try:
        fn()
    except TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
    print("PASS")
