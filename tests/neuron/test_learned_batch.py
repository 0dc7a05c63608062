"""Batched stepping of NeuroMapCells (issue 12): the same spikes and states,
bit for bit, with batch_NeuroMapCell = 1 (cells of one model due at the same
time stepped together by one matrix product per layer) as with 0 (every cell
alone), under the fixed step and CVode, with 1 and 2 threads; and the rule
for an input at exactly a step time.

Usage: /usr/bin/python3 test_learned_batch.py --mechdir BUILD/mod
           --model FIXTURE.nmap --input-model INPUT.nmap --pydir SRC/python
       (from a scratch folder)

The network (52 cells): 40 cells of the SRK fixture (no input channel, p
spread from silent to firing, 5 ms steps) and 12 of the input fixture (HH,
uA/cm2, 0.1 ms steps, ibias and NetCon wi into the current synapse).  Inputs:
a Poisson NetStim per cell (weights w and wi); NetStims whose events arrive
exactly at map-step times (start + delay on the step grid); a chain of SRK
cells connected with delay = dt_map, so a spike at a step time arrives at the
next step time.  Several inputs then arrive at one step time, delivered
before and after the step's self-events: the rule (docs/neuron.md, "Batched
stepping") makes them count after that step either way.

Checks:
  * every run gives the spikes (cell, time), final latent states, V, nstep,
    drive and input counters of the reference run (batch 0, one thread,
    fixed step), bit for bit;
  * with batch 1 cells were really stepped by other cells' batches
    (NeuroMapCell.nbatched() grew), with batch 0 not;
  * the rule: an input at exactly step k's time leaves V after step k as
    without it and changes a later V, batched or not; the same input 1 us
    earlier changes V after step k.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import learned_common as lc  # noqa: E402

NSRK = 40
NIN = 12
TSTOP_MS = 1000.05    # off both step grids (5 and 0.1 ms): CVode and the fixed step end alike
AREA_UM2 = 1000.0
IBIAS_NA = 0.06
W_DRIVE = 0.4          # units of p (mV of VS) into the SRK cells
W_CHAIN = 0.6
WI_NA = 0.03           # into the input cells' synapse


def build(h, model, in_model, pmin, pmax, exact_inputs=True):
    cells, stims, ncs = [], [], []
    for i in range(NSRK):
        c = h.NeuroMapCell()
        c.load(model)
        c.p = (pmin - 3.0) + (pmax - pmin + 3.0) * i / (NSRK - 1)
        c.tau_drive = 15.0
        cells.append(c)
    for i in range(NIN):
        c = h.NeuroMapCell()
        c.load(in_model)
        c.area_um2 = AREA_UM2
        c.ibias = IBIAS_NA
        c.tau_syn = 2.0
        cells.append(c)
    for i, c in enumerate(cells):
        s = h.NetStim()
        s.start = 0
        s.number = 1e9
        s.interval = 25.0 if i < NSRK else 4.0
        s.noise = 1
        s.noiseFromRandom123(77, i, 0)
        stims.append(s)
        ncs.append(h.NetCon(s, c, 0, 0.5, W_DRIVE if i < NSRK else 0.0))
        ncs[-1].weight[1] = 0.0 if i < NSRK else WI_NA
    if exact_inputs:
        # arrivals on the step grids: 49.5 + 0.5 = 50, then every 15 ms
        # (SRK, 5 ms steps); 0.5 + 0.5 = 1, then every 0.3 ms (input cells)
        for start, interval, lo, hi, w, wi in ((49.5, 15.0, 0, NSRK, W_DRIVE, 0.0),
                                               (0.5, 0.3, NSRK, NSRK + NIN, 0.0, WI_NA)):
            s = h.NetStim()
            s.start = start
            s.number = 1e9
            s.interval = interval
            s.noise = 0
            stims.append(s)
            for i in range(lo, hi):
                nc = h.NetCon(s, cells[i], 0, 0.5, w)
                nc.weight[1] = wi
                ncs.append(nc)
        # a chain with delay = dt_map: a spike at a step time arrives at the
        # next step time of the target
        for i in range(NSRK - 1):
            ncs.append(h.NetCon(cells[i], cells[i + 1], 0, cells[i].dt_map, W_CHAIN))
    tv, idv = h.Vector(), h.Vector()
    recs = []
    for i, c in enumerate(cells):
        nc = h.NetCon(c, None)
        nc.record(tv, idv, i)
        recs.append(nc)
    return cells, stims, ncs, recs, tv, idv


def run(h, setup, batch, nthread, method):
    cells, _, _, _, tv, idv = setup
    pc = h.ParallelContext()
    h.batch_NeuroMapCell = batch
    pc.nthread(nthread)
    h.CVode().active(1 if method == "cvode" else 0)
    h.dt = 0.025
    before = cells[0].nbatched()
    h.finitialize(-65)
    h.continuerun(TSTOP_MS)
    nb = cells[0].nbatched() - before
    h.CVode().active(0)
    pc.nthread(1)
    h.batch_NeuroMapCell = 1
    for i, c in enumerate(cells):
        lc.check(c.err == 0, "cell %d still steps (err %g) in batch %d, %d threads, %s" % (i, c.err, batch, nthread,
                                                                                       method))
    spikes = sorted(zip([int(x) for x in idv], list(tv)))
    state = [tuple([c.x[j] for j in range(int(c.dim))] + [c.V, c.nstep, c.drive, c.nclamped, c.iin, c.uin])
             for c in cells]
    return spikes, state, nb


def test_same(h, model, in_model, pmin, pmax):
    setup = build(h, model, in_model, pmin, pmax)
    ref_sp, ref_st, nb0 = run(h, setup, 0, 1, "fixed")
    lc.check(nb0 == 0, "batch 0 stepped no cell through another's batch (%g)" % nb0)
    nsrk_sp = sum(1 for i, _ in ref_sp if i < NSRK)
    nin_sp = sum(1 for i, _ in ref_sp if i >= NSRK)
    lc.check(nsrk_sp >= 20 and nin_sp >= 5, "the network fires (%d SRK, %d input-cell spikes)"
             % (nsrk_sp, nin_sp))
    for batch, nthread, method in ((1, 1, "fixed"), (0, 2, "fixed"), (1, 2, "fixed"), (1, 1, "cvode"),
                                   (0, 1, "cvode"), (1, 2, "cvode")):
        sp, st, nb = run(h, setup, batch, nthread, method)
        what = "batch %d, %d thread(s), %s" % (batch, nthread, method)
        lc.check(sp == ref_sp, "%s: the spikes equal unbatched stepping's (%d and %d spikes)"
                 % (what, len(sp), len(ref_sp)))
        for i, (a, b) in enumerate(zip(st, ref_st)):
            lc.check(a == b, "%s: cell %d's final state equals unbatched stepping's: %r and %r" % (what, i, a, b))
        # every step time of a population is shared by all its cells: all but
        # the first cell of a thread's group at a time are stepped by its batch
        nsteps = sum(s[len(s) - 5] for s in st)
        if batch:
            lc.check(nb > 0.5 * nsteps, "%s: %g of %g cell steps batched" % (what, nb, nsteps))
        else:
            lc.check(nb == 0, "%s: no cell batched (%g)" % (what, nb))
        print("%s: %d spikes, %d of %d cell steps in batches: identical" % (what, len(sp), nb, nsteps))
    # the exact-time inputs and the chain matter (otherwise the test would
    # not test the rule)
    plain = build(h, model, in_model, pmin, pmax, exact_inputs=False)
    sp, _, _ = run(h, plain, 1, 1, "fixed")
    lc.check(sp != ref_sp, "the inputs at step times change the spikes")


def test_rule(h, model, p_fire):
    """An input at exactly step k's time counts after step k."""
    for batch in (0, 1):
        h.batch_NeuroMapCell = batch
        cells, vecs, keep = [], [], []
        # cell 0 no input, cell 1 at exactly 50 ms (49.5 + 0.5), cell 2 at
        # 49.999 ms, cells 3.. (undriven) fill a batch
        for k in range(6):
            c = h.NeuroMapCell()
            c.load(model)
            c.p = p_fire
            tv, vv = h.Vector(), h.Vector()
            c.recordV(tv, vv)
            cells.append(c)
            vecs.append((tv, vv))
        for k, start in ((1, 49.5), (2, 49.499)):
            s = h.NetStim()
            s.start = start
            s.number = 1
            s.noise = 0
            keep += [s, h.NetCon(s, cells[k], 0, 0.5, 2.0)]
        h.finitialize(-65)
        h.continuerun(200)
        v0, v1, v2 = (np.array(vecs[k][1]) for k in range(3))
        t0 = np.array(vecs[0][0])
        k50 = int(np.argmin(abs(t0 - 50.0)))
        lc.check(abs(t0[k50] - 50.0) < 1e-9, "step 10 at 50 ms")
        lc.check(np.array_equal(v1[:k50 + 1], v0[:k50 + 1]),
                 "batch %d: an input at exactly 50 ms leaves V up to the step at 50 ms unchanged" % batch)
        lc.check(not np.array_equal(v1, v0), "batch %d: ... and changes a later V" % batch)
        lc.check(np.array_equal(v2[:k50], v0[:k50]) and v2[k50] != v0[k50],
                 "batch %d: an input 1 us before 50 ms changes V after the step at 50 ms" % batch)
        del cells, vecs, keep
    h.batch_NeuroMapCell = 1


def main():
    args = lc.parse_args(lambda ap: ap.add_argument("--input-model", required=True))
    h, neuromap, ns, rt, cells = lc.setup(args)
    m = rt.LearnedModel(args.model)
    pmin, pmax = m.p_range
    lc.check(h.batch_NeuroMapCell == 1, "batching is on by default")
    test_same(h, args.model, args.input_model, pmin, pmax)
    _, p_fire = lc.find_regimes(m)
    test_rule(h, args.model, p_fire)


if __name__ == "__main__":
    lc.main_wrapper(main)
