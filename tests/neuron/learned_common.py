"""Shared helpers of the learned-cell NEURON tests (mod/neuromap_cell.mod,
mod/neuromap_clamp.mod, hoc/learned_cell.hoc, python/neuromap).

Every test gets --mechdir BUILD/mod, --model FIXTURE.nmap (the small model
the CTest fixture neuron_model trains), --pydir SRC/python and runs from a
scratch folder.  The reference for every learned-cell check is libneuromap
itself through ctypes (neuromap.runtime: nm_learned_run, nm_learned_step,
nm_spikes_detect_hyst), never a re-implementation of the map.

The fixture model is small and not faithful; the tests only use behaviour
they can check: they look for a silent and a firing p of THIS model with
offline free runs first (find_regimes).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srk_common as sc  # noqa: E402  (check, TestFailure, main_wrapper)

check = sc.check
TestFailure = sc.TestFailure
main_wrapper = sc.main_wrapper

# Offline scan for silent / firing p: a run this long (ms) with no spike is
# "silent", with at least MIN_FIRING_SPIKES "firing".
SCAN_MS = 20000.0
MIN_FIRING_SPIKES = 5
# Candidate p values, relative to the training range [pmin, pmax]: the SRK
# fixture's silent range lies below its lowest training value (-42 mV).
SCAN_BELOW = 12.0
SCAN_STEP = 0.5
# Spike times of two NEURON runs agree exactly; against the offline run they
# agree up to how t accumulates in NEURON (t + ((n+1)*dt_map - t), a few ulps
# of t: 1e-11 ms at t = 20 s); 1e-9 ms is far below any step (5 ms).
TIME_ATOL_MS = 1e-9


def parse_args(extra=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--mechdir", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--pydir", required=True)
    if extra:
        extra(ap)
    return ap.parse_args()


def setup(args):
    """Import the neuromap package from --pydir, load the mechanisms from
    --mechdir (checked) and return (h, neuromap modules)."""
    sys.path.insert(0, os.path.abspath(args.pydir))
    os.environ["NEUROMAP_MECHDIR"] = os.path.abspath(args.mechdir)
    if os.path.exists(os.path.join(os.getcwd(), "x86_64")):
        raise TestFailure("run from a scratch folder, not from %s" % os.getcwd())
    import neuromap
    if "neuron" in sys.modules:
        raise TestFailure("importing the neuromap package imported neuron")
    from neuromap import neuron_support as ns
    from neuromap import runtime as rt
    from neuromap import cells
    h = ns.load_mechanisms(args.mechdir)
    for name in ("NeuroMapCell", "NeuroMapClamp", "LearnedCell", "LearnedSectionCell", "SRKCell"):
        if not hasattr(h, name):
            raise TestFailure("%s not defined after load_mechanisms" % name)
    # The library ctypes uses must be the copy the mechanisms use (one registry).
    lib = os.path.realpath(rt.find_library())
    check(lib.endswith(".so") or ".so." in lib, "libneuromap in use: %s" % lib)
    return h, neuromap, ns, rt, cells


def offline_spikes(model, p, nsteps):
    """Offline free run from the start state: (v, step numbers of the
    NeuroMapCell spikes, interpolated spike times of nm_spikes_detect_hyst)."""
    v, _ = model.run(p, nsteps)
    v0 = model.decode_v(model.initial_state())
    steps = model.cell_spike_times(v, v0) / model.dt_ms
    full = np.concatenate([[v0], v])
    from neuromap import runtime as rt
    interp = rt.detect_spikes(full, model.dt_ms, 0.0, model.threshold_mv)
    return v, np.rint(steps).astype(int), interp


def find_regimes(model):
    """(p_silent, p_firing): the largest scanned p with no spike in SCAN_MS,
    below the smallest p with >= MIN_FIRING_SPIKES (offline runs)."""
    nsteps = int(round(SCAN_MS / model.dt_ms))
    pmin, pmax = model.p_range
    grid = np.arange(pmin - SCAN_BELOW, pmax + 1e-9, SCAN_STEP)
    silent = None
    for p in grid:
        try:
            _, steps, _ = offline_spikes(model, p, nsteps)
        except Exception:  # a diverging p is neither
            continue
        if len(steps) == 0:
            silent = p
        elif len(steps) >= MIN_FIRING_SPIKES and silent is not None:
            return float(silent), float(p)
    raise TestFailure("the fixture model has no silent p below a firing p in [%g, %g]"
                      % (grid[0], grid[-1]))


# p values far outside the training range, tried in turn until the offline
# map diverges (NM_ENUMERIC) within MAX_DIVERGE_STEPS steps.
DIVERGE_CANDIDATES = (1e6, -1e6, 1e9, -1e9, 1e3, -1e3)
MAX_DIVERGE_STEPS = 20000


def find_diverging_p(model):
    """(p, k, x): the first DIVERGE_CANDIDATES p whose offline free run
    from the start state fails at step k (1-based), and the last state
    before it (what a stopped NeuroMapCell keeps)."""
    from neuromap import runtime as rt
    for p in DIVERGE_CANDIDATES:
        x = model.initial_state()
        for k in range(1, MAX_DIVERGE_STEPS + 1):
            try:
                x = model.step(x, p)
            except rt.NeuromapError:
                return p, k, x
    raise TestFailure("no p in %s makes the fixture map diverge offline" % (DIVERGE_CANDIDATES,))


# Times (ms) at which a test may switch p (or kick the drive) from silent to
# firing, latest first, all between map steps.  A learned map can be
# bistable: once it has settled at rest, p_firing may not move it (the
# fixture of one trainer version stayed at rest even at p = +26 mV), so the
# tests take the latest switch after which the OFFLINE run fires and then
# require NEURON to do exactly the same.
SWITCH_CANDIDATES_MS = (3001.7, 1001.7, 201.7, 51.7, 11.7, 2.7)


def switch_schedule(model, p_from, p_to, t_switch, nsteps):
    """p per map step (step k+1 at (k+1)*dt_ms uses entry k): p_from before
    t_switch, p_to from the first step after it."""
    tsteps = model.dt_ms * np.arange(1, nsteps + 1)
    return np.where(tsteps < t_switch, p_from, p_to)


def find_switch_time(model, p_from, p_to, tstop_ms, min_spikes=1):
    """(t_switch, offline spike times): the latest SWITCH_CANDIDATES_MS for
    which the offline run switched from p_from to p_to there fires at least
    min_spikes times, none before the switch."""
    nsteps = int(np.floor(tstop_ms / model.dt_ms))
    v0 = model.decode_v(model.initial_state())
    for t_switch in SWITCH_CANDIDATES_MS:
        if t_switch >= tstop_ms:
            continue
        v, _ = model.run_schedule(switch_schedule(model, p_from, p_to, t_switch, nsteps))
        times = model.cell_spike_times(v, v0)
        if len(times) >= min_spikes and times[0] > t_switch:
            return t_switch, times
    raise TestFailure("the fixture model does not fire after a switch of p from %g to %g at any "
                      "of %s ms" % (p_from, p_to, SWITCH_CANDIDATES_MS))


def upto(times, tstop):
    """Spike times <= tstop.  Under CVode a network of ARTIFICIAL_CELLs has no
    states, and continuerun(tstop) may deliver the next event after tstop
    (NEURON 8.2), so runs are compared up to tstop."""
    times = np.asarray(times, float)
    return times[times <= tstop]


def same_times(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return len(a) == len(b) and (len(a) == 0 or np.max(np.abs(a - b)) <= TIME_ATOL_MS)


# ---- Edited copies of a model file (docs/model-format.md) -------------------
# Type codes of the container and their struct formats.
_MF_FMT = {1: "<i", 2: "<q", 3: "<Q", 4: "<f", 5: "<d"}
MF_F64, MF_STR = 5, 6


def read_entries(path):
    """The entries of a model file as a list of [name, code, n, payload]."""
    import struct
    data = open(path, "rb").read()
    (count,) = struct.unpack_from("<I", data, 7)
    pos, ents = 11, []
    for _ in range(count):
        nl = data[pos]
        name = data[pos + 1:pos + 1 + nl].decode("ascii")
        pos += 1 + nl
        code = data[pos]
        n, nb = struct.unpack_from("<QQ", data, pos + 1)
        pos += 17
        ents.append([name, code, n, bytes(data[pos:pos + nb])])
        pos += nb
    return ents


def write_entries(path, ents):
    """Write entries as a model file (format 1.0) with the CRC-32 trailer."""
    import struct
    import zlib
    out = bytearray(b"NMAP\x1a\x01\x00") + struct.pack("<I", len(ents))
    for name, code, n, payload in ents:
        out += bytes([len(name)]) + name.encode("ascii") + bytes([code]) + \
            struct.pack("<QQ", n, len(payload)) + payload
    with open(path, "wb") as f:
        f.write(bytes(out) + struct.pack("<I", zlib.crc32(bytes(out)) & 0xFFFFFFFF))
    return path


def edited_model(src, dst, set_str=None, remove=(), add_f64=None):
    """A copy of model file src written to dst: set_str {name: text} sets (or
    adds) str entries, remove drops entries, add_f64 {name: delta} adds delta
    to every element of f64 entries; the CRC is recomputed."""
    import struct
    ents = [e for e in read_entries(src) if e[0] not in remove]
    for name, text in (set_str or {}).items():
        raw = text.encode()
        for e in ents:
            if e[0] == name:
                e[1:] = [MF_STR, len(raw), raw]
                break
        else:
            ents.append([name, MF_STR, len(raw), raw])
    for name, delta in (add_f64 or {}).items():
        e = next(e for e in ents if e[0] == name)
        if e[1] != MF_F64:
            raise TestFailure("%s: not an f64 entry" % name)
        vals = struct.unpack("<%dd" % e[2], e[3])
        e[3] = struct.pack("<%dd" % e[2], *[v + delta for v in vals])
    return write_entries(dst, ents)
