"""The srk mechanism from Python (/usr/bin/python3 with Debian's neuron).

Usage: /usr/bin/python3 test_srk_python.py --mechdir BUILD/mod --hocdir SRC/hoc
(run from a scratch folder, not from BUILD/mod).

Checks:
  * neuron.load_mechanisms(mechdir) really defines srk (it returns True even
    when dlopen fails, so the name is checked);
  * the units mapping of mod/srk.mod: the first step of a section with
    cm == cmref reproduces tau dV/dt = -I_Ca - I_K - I_S with tau = 20 ms
    computed here from the formulas; with cm = 2 cmref V moves half as fast;
    n follows tau dn/dt = sigma (ninf - n) and S tauS dS/dt = Sinf - S;
  * THREADSAFE: two cells at different VS give identical spike times with
    one and with two threads;
  * the SRKCell template from Python: bursts of 3 at VS = -38 mV.
"""

import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srk_common as sc  # noqa: E402

P = sc.SRK_PARAMS
# One backward-Euler step of dt = DT_UNIT_MS: the relative error of
# (V1 - V0)/dt against the exact initial slope is about dt*|dfV/dV|/2 with
# |dfV/dV| < 1/ms here, i.e. < 1e-4; RATE_RTOL = 1e-3 leaves room for it.
DT_UNIT_MS = 1e-4
RATE_RTOL = 1e-3


def boltz(v, vh, th):
    return 1.0 / (1.0 + math.exp((vh - v) / th))


def dvdt_model(v, n, s, vs):
    """tau dV/dt = -I_Ca - I_K - I_S (design.md, section 2), in mV/ms."""
    return (-P["gCa"] * boltz(v, P["Vm"], P["thetam"]) * (v - P["VCa"])
            - P["gK"] * n * (v - P["VK"]) - P["gS"] * s * (v - P["VK"])) / P["tau"]


def first_step(h, vs, cm, cmref):
    sec = sc.srk_section(h, vs, cm=cm, cmref=cmref)
    h.CVode().active(0)
    h.secondorder = 0
    h.dt = DT_UNIT_MS
    h.finitialize(sc.V_INIT_MV)
    v0, n0, s0 = sec(0.5).v, sec(0.5).srk.n, sec(0.5).srk.S
    h.fadvance()
    out = (v0, n0, s0, sec(0.5).v, sec(0.5).srk.n, sec(0.5).srk.S)
    del sec
    return out


def test_units(h):
    vs = -38.0
    v0, n0, s0, v1, n1, s1 = first_step(h, vs, cm=1.0, cmref=1.0)
    sc.check(v0 == sc.V_INIT_MV and n0 == sc.N_INIT and s0 == sc.S_INIT,
             "finitialize(-50) gives (V, n, S) = (%g, %g, %g)" % (v0, n0, s0))
    want = dvdt_model(v0, n0, s0, vs)
    got = (v1 - v0) / DT_UNIT_MS
    sc.check(abs(got - want) <= RATE_RTOL * abs(want),
             "cm = cmref = 1: dV/dt = %.6f mV/ms, model %.6f mV/ms (rtol %g)"
             % (got, want, RATE_RTOL))
    # cnexp integrates n and S exactly at fixed v; NEURON advances them with
    # the new v (v1), staggered by half a step: compare with the exact update
    # at v1, well within RATE_RTOL of the change.
    ninf = boltz(v1, P["Vn"], P["thetan"])
    n_exact = ninf + (n0 - ninf) * math.exp(-P["sigma"] * DT_UNIT_MS / P["tau"])
    sc.check(abs((n1 - n0) - (n_exact - n0)) <= RATE_RTOL * abs(n_exact - n0),
             "n step %.4e, exact %.4e (tau/sigma = %.3f ms)"
             % (n1 - n0, n_exact - n0, P["tau"] / P["sigma"]))
    sinf = boltz(v1, vs, P["thetaS"])
    s_exact = sinf + (s0 - sinf) * math.exp(-DT_UNIT_MS / P["tauS"])
    sc.check(abs((s1 - s0) - (s_exact - s0)) <= RATE_RTOL * abs(s_exact - s0),
             "S step %.4e, exact %.4e (tauS = %g ms)" % (s1 - s0, s_exact - s0, P["tauS"]))

    # The section's cm and the mechanism's cmref must agree: cm = 2 uF/cm2
    # with cmref = 1 halves the speed; with cmref = 2 as well it is restored.
    v0, _, _, v1, _, _ = first_step(h, vs, cm=2.0, cmref=1.0)
    ratio = ((v1 - v0) / DT_UNIT_MS) / want
    sc.check(abs(ratio - 0.5) <= RATE_RTOL, "cm = 2, cmref = 1: V moves at %.5f of the model "
             "speed (0.5 expected)" % ratio)
    v0, _, _, v1, _, _ = first_step(h, vs, cm=2.0, cmref=2.0)
    ratio = ((v1 - v0) / DT_UNIT_MS) / want
    sc.check(abs(ratio - 1.0) <= RATE_RTOL, "cm = cmref = 2: V moves at %.5f of the model "
             "speed (1 expected)" % ratio)


def spikes_two_cells(h, nthread):
    """Two cells (VS = -38 and -32) in one run with nthread threads; 10 s (the first spike comes
    at about 5.6 s, once S has decayed from 0.4).
    Cells are split between threads by the ParallelContext."""
    pc = h.ParallelContext()
    secs = [sc.srk_section(h, vs, name="cell%d" % i) for i, vs in enumerate((-38.0, -32.0))]
    recs = []
    ncs = []
    for sec in secs:
        nc = h.NetCon(sec(0.5)._ref_v, None, sec=sec)
        nc.threshold = sc.THRESHOLD_MV
        vec = h.Vector()
        nc.record(vec)
        ncs.append(nc)
        recs.append(vec)
    pc.nthread(nthread)
    h.CVode().active(0)
    h.dt = 0.025
    h.finitialize(sc.V_INIT_MV)
    h.continuerun(10000)
    out = [sc.to_numpy(v) for v in recs]
    pc.nthread(1)
    del ncs, recs, secs
    return out


def test_threads(h):
    one = spikes_two_cells(h, 1)
    two = spikes_two_cells(h, 2)
    sc.check(all(len(a) > 3 for a in one), "both cells fire in 10 s (%s spikes)"
             % [len(a) for a in one])
    same = all(len(a) == len(b) and np.array_equal(a, b) for a, b in zip(one, two))
    sc.check(same, "spike times with 2 threads identical to 1 thread")


def test_template(h, hocdir):
    if not h.load_file(os.path.join(hocdir, "srk_cell.hoc")):
        raise sc.TestFailure("cannot load %s/srk_cell.hoc" % hocdir)
    cell = h.SRKCell(-38)
    sc.check(cell.getp() == -38, "SRKCell(-38).getp() = -38")
    nc = cell.connect2target(None)
    times = h.Vector()
    nc.record(times)
    h.CVode().active(0)
    h.dt = 0.025
    h.finitialize(sc.V_INIT_MV)
    h.continuerun(sc.TRANSIENT_MS + 15000)
    sp = sc.to_numpy(times)
    sizes = sc.burst_sizes(sp[sp > sc.TRANSIENT_MS])
    sc.check(len(sizes) >= 6 and set(sizes) == {3},
             "SRKCell at VS = -38 from Python: %d complete bursts, sizes %s"
             % (len(sizes), sorted(set(sizes))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mechdir", required=True)
    ap.add_argument("--hocdir", required=True)
    args = ap.parse_args()
    h = sc.neuron_h(args.mechdir)
    sc.check(True, "neuron.load_mechanisms(%s) defined srk" % args.mechdir)
    test_units(h)
    test_threads(h)
    test_template(h, args.hocdir)


if __name__ == "__main__":
    sc.main_wrapper(main)
