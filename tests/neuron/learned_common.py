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


def same_times(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return len(a) == len(b) and (len(a) == 0 or np.max(np.abs(a - b)) <= TIME_ATOL_MS)
