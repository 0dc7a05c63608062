"""Learned cells give the same spikes under every integrator and thread
count, and SaveState restores a run.

Usage: /usr/bin/python3 test_learned_integrators.py --mechdir BUILD/mod
           --model FIXTURE.nmap --pydir SRC/python      (from a scratch folder)

A small network: NCELLS NeuroMapCells spread over p (silent to firing),
each driven by its own NetStim (regular, at times that do not fall on map
steps), connected in a ring (excitatory NetCon weights, delays 1.3 ms), plus
two LearnedSectionCells (NeuroMapClamp in a soma) in the ring.  Runs:
  fixed step dt 0.025 (secondorder 0 and 2), fixed dt 0.1, global CVode,
  local variable step (lvardt), and fixed step / CVode with 2 threads.
Every run must give exactly the same spike times for every NeuroMapCell:
the map steps on self-events and inputs arrive at exact event times, so
the integrator plays no part (design.md, section 5).  The LearnedSectionCells
agree to TIME_ATOL_MS (1e-9 ms): NEURON may deliver a section's point
process its self-event at a t one rounding error late under the fixed step,
and refuses a spike time before t (mod/neuromap_clamp.mod).  The NetCon weights make
the drive matter (checked: the driven network differs from an undriven one).

SaveState: run to T/2, save, run to T; restore, run to T again: the spikes
after T/2, every cell's latent state, V and drive are identical.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import learned_common as lc  # noqa: E402

NCELLS = 12
NSECTION = 2
TSTOP_MS = 8002.5          # not a multiple of the 5 ms map step
INPUT_START_MS = 101.3     # NetStim inputs: off the map-step grid
INPUT_INTERVAL_MS = 37.7
INPUT_WEIGHT = 0.4         # units of p (mV of VS): a noticeable push
RING_WEIGHT = 0.8
RING_DELAY_MS = 1.3
INPUT_DELAY_MS = 0.5      # > 0: threads need a positive minimum NetCon delay


class Net:
    def __init__(self, h, cells, model_path, p_lo, p_hi, driven=True, nsection=NSECTION):
        self.cells = []
        n = NCELLS + nsection
        for i in range(n):
            p = p_lo + (p_hi - p_lo) * i / (n - 1)
            cls = cells.LearnedSectionCell if i % 7 == 3 and \
                sum(isinstance(c, cells.LearnedSectionCell) for c in self.cells) < nsection \
                else cells.LearnedCell
            self.cells.append(cls(model_path, p=p, tau_drive=15.0))
        self.stims, self.ncs = [], []
        for i, c in enumerate(self.cells):
            s = h.NetStim()
            s.start = INPUT_START_MS + 3.1 * i
            s.interval = INPUT_INTERVAL_MS + 0.7 * i
            s.number = 1e9
            s.noise = 0
            self.stims.append(s)
            self.ncs.append(h.NetCon(s, c.syn, 0, INPUT_DELAY_MS, INPUT_WEIGHT if driven else 0.0))
            self.ncs.append(c.connect2target(self.cells[(i + 1) % n].syn,
                                             weight=RING_WEIGHT if driven else 0.0,
                                             delay=RING_DELAY_MS))
        self.recs = [c.record_spikes() for c in self.cells]

    def spikes(self):
        return [lc.upto(r.times(), TSTOP_MS) for r in self.recs]

    def nsection(self):
        return sum(not c.is_art for c in self.cells)

    def exact(self):
        return [c.is_art for c in self.cells]


def same(a, b, exact=None):
    """Spike trains equal, cell by cell: exactly where exact[i] (NeuroMapCells),
    else within lc.TIME_ATOL_MS (LearnedSectionCells: their event times may
    carry a rounding error of t, see mod/neuromap_clamp.mod)."""
    if len(a) != len(b):
        return False
    for i, (x, y) in enumerate(zip(a, b)):
        if exact is None or exact[i]:
            if not np.array_equal(x, y):
                return False
        elif not lc.same_times(x, y):
            return False
    return True


def test_integrators(h, ns, cells, model_path, p_lo, p_hi):
    net = Net(h, cells, model_path, p_lo, p_hi)
    lc.check(net.nsection() == NSECTION, "network: %d NeuroMapCells, %d LearnedSectionCells"
             % (len(net.cells) - NSECTION, NSECTION))
    v0 = net.cells[0].V0
    runs = [("fixed dt 0.025, secondorder 0", dict(method="fixed", secondorder=0)),
            ("fixed dt 0.025, secondorder 2", dict(method="fixed", secondorder=2)),
            ("fixed dt 0.1", dict(method="fixed", dt=0.1)),
            ("CVode", dict(method="cvode")),
            ("lvardt", dict(method="lvardt")),
            ("fixed, 2 threads", dict(method="fixed", nthread=2))]
    ref = None
    for name, kw in runs:
        ns.run(TSTOP_MS, v_init=v0, **kw)
        ns.check_cells(net.cells)
        sp = net.spikes()
        if ref is None:
            ref = sp
            counts = [len(s) for s in sp]
            lc.check(sum(counts) > 50 and min(counts) < max(counts),
                     "%s: %d spikes, per cell %s" % (name, sum(counts), counts))
        else:
            lc.check(same(sp, ref, net.exact()),
                     "%s: identical spike times in all %d cells (the %d section cells to %g ms)"
                     % (name, len(sp), NSECTION, lc.TIME_ATOL_MS))
    quiet = Net(h, cells, model_path, p_lo, p_hi, driven=False)
    del net
    ns.run(TSTOP_MS, v_init=v0)
    lc.check(not same(quiet.spikes(), ref),
             "the inputs matter: the undriven network spikes differently (%d vs %d spikes)"
             % (sum(len(s) for s in quiet.spikes()), sum(len(s) for s in ref)))
    del quiet

    # Global CVode with 2 threads: NeuroMapCells only.  With sections in the
    # network this combination is very slow on NEURON 8.2 (26 s instead of
    # 0.2 s with one thread, measured; shared/neuron-debian.md).
    art = Net(h, cells, model_path, p_lo, p_hi, nsection=0)
    ns.run(TSTOP_MS, v_init=v0, method="fixed")
    ref_art = art.spikes()
    for name, kw in (("CVode, 2 threads", dict(method="cvode", nthread=2)),
                     ("CVode, 1 thread", dict(method="cvode"))):
        ns.run(TSTOP_MS, v_init=v0, **kw)
        lc.check(same(art.spikes(), ref_art) and sum(len(s) for s in ref_art) > 50,
                 "NeuroMapCells only: %s identical to fixed step, 1 thread (%d spikes)"
                 % (name, sum(len(s) for s in ref_art)))


def snapshot(net):
    out = []
    for c in net.cells:
        m = c.mech
        out.append([m.x[i] for i in range(c.dim)] + [m.V, m.drive, m.tdrive, m.armed, m.nstep])
    return np.array(out)


def test_savestate(h, ns, cells, model_path, p_lo, p_hi, method):
    net = Net(h, cells, model_path, p_lo, p_hi)
    v0 = net.cells[0].V0
    cv = h.CVode()
    cv.active(1 if method == "cvode" else 0)
    h.dt = 0.025
    h.finitialize(v0)
    h.continuerun(TSTOP_MS / 2)
    ss = h.SaveState()
    ss.save()
    h.continuerun(TSTOP_MS)
    first = [s[s > TSTOP_MS / 2] for s in net.spikes()]
    state1 = snapshot(net)
    # NEURON's recipe (SaveState docs): restore, then bring the integrator up
    # to the restored state (re_init under CVode, else fcurrent).
    ss.restore()
    if method == "cvode":
        cv.re_init()
    else:
        h.fcurrent()
    h.frecord_init()
    for r in net.recs:
        r.vec.resize(0)
    h.continuerun(TSTOP_MS)
    second = net.spikes()
    state2 = snapshot(net)
    cv.active(0)
    lc.check(sum(len(s) for s in first) > 10 and same(first, second, net.exact()),
             "%s: SaveState at %g ms: the %d spikes after it are identical after restore"
             % (method, TSTOP_MS / 2, sum(len(s) for s in first)))
    if method == "cvode":
        # CVode's continuerun does not stop at one instant: past TSTOP by
        # up to an event-free stretch, and (seen with one fixture model) at
        # 8004.0 ms in the first run and at 8001.3 ms, an input's time, with
        # that input not yet delivered, after the restore.  The map's own
        # state (latent x, decoded V, armed, step count) is compared; the
        # synaptic drive (drive, tdrive), which depends on which inputs were
        # delivered before the stop, is not.
        cols = [i for i in range(state1.shape[1]) if i not in (state1.shape[1] - 4, state1.shape[1] - 3)]
        state1, state2 = state1[:, cols], state2[:, cols]
    lc.check(np.array_equal(state1, state2),
             "%s: latent states, V, %sarmed, step counts identical at %g ms"
             % (method, "" if method == "cvode" else "drive, ", TSTOP_MS))


def main():
    args = lc.parse_args()
    h, neuromap, ns, rt, cells = lc.setup(args)
    model = rt.LearnedModel(args.model)
    p_silent, p_firing = lc.find_regimes(model)
    p_lo, p_hi = p_silent - 1.0, model.p_range[1]
    print("p from %g (silent) to %g" % (p_lo, p_hi))
    test_integrators(h, ns, cells, args.model, p_lo, p_hi)
    for method in ("fixed", "cvode"):
        test_savestate(h, ns, cells, args.model, p_lo, p_hi, method)


if __name__ == "__main__":
    lc.main_wrapper(main)
