#!/usr/bin/python3
"""A network of hh somas against the same network of learned somas (issue 11).

    /usr/bin/python3 examples/hh_network_vs_learned.py [MODEL.nmap] [--ncells 30]
        [--fanin 5] [--tstop 2000] [--seed 1] [--delta 2]

MODEL: a model with an input channel in nA learned from NEURON's hh soma
(examples/train_input_models.py OUTDIR writes OUTDIR/hh_input.nmap; default
out/input_models/hh_input.nmap).

The network: NCELLS one-compartment somas, each with an excitatory ExpSyn
(tau 3 ms, E 0 mV) receiving FANIN random other cells (G_REC uS, delays
1-3 ms) and its own Poisson background (BG_RATE_HZ x G_BG uS, Random123
streams seeded by --seed).
  A. every soma is record.hh_soma() (NEURON's hh, 1000 um2);
  B. every soma is a LearnedSectionCell (NeuroMapClamp, 1000 um2, no
     channels) with the same ExpSyn in it: the clamp turns the synaptic
     current on its clamped V into the map's input.
Same connections, delays, weights and background events in both; fixed step
0.025 ms.  After a 200 ms transient: mean rate (and per-cell rate error),
and per cell the coincidence factor Gamma (+-delta ms, libneuromap) of B's
spikes against A's; as a reference, Gamma of A against A with one extra
background event at the start in cell 0 (how fast the network itself
forgets spike times).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import input_common as ic  # noqa: E402

ROOT = ic.ROOT
DT = 0.025
TRANSIENT_MS = 200.0
TAU_SYN_MS = 3.0
G_REC = 0.0005      # uS (0.5 nS) per recurrent connection
BG_RATE_HZ = 150.0
G_BG = 0.002        # uS (2 nS) per background event


def build(h, cells, record, model, n, pre, delays, seed, learned, kick=False):
    somas, syns, recs, keep = [], [], [], []
    for i in range(n):
        if learned:
            c = cells.LearnedSectionCell(model)
            sec = c.soma
            keep.append(c)
            recs.append(c.record_spikes())
        else:
            sec = record.hh_soma(name="hh%d" % i)
            tv = h.Vector()
            nc = h.NetCon(sec(0.5)._ref_v, None, sec=sec)
            nc.threshold = 0.0
            nc.record(tv)
            keep.append(nc)
            recs.append(tv)
        syn = h.ExpSyn(sec(0.5))
        syn.tau, syn.e = TAU_SYN_MS, 0.0
        somas.append(sec)
        syns.append(syn)
    for i in range(n):
        for j, d in zip(pre[i], delays[i]):
            src = keep[j] if learned else None
            if learned:
                nc = src.connect2target(syns[i], weight=G_REC, delay=d)
            else:
                nc = h.NetCon(somas[j](0.5)._ref_v, syns[i], 0.0, d, G_REC, sec=somas[j])
            keep.append(nc)
        stim = h.NetStim()
        stim.number, stim.start, stim.interval, stim.noise = 1e9, 0.0, 1000.0 / BG_RATE_HZ, 1
        stim.noiseFromRandom123(seed, i, 3)
        keep += [stim, h.NetCon(stim, syns[i], 0, 0.5, G_BG)]
    if kick:
        nc = h.NetCon(None, syns[0])
        nc.weight[0] = G_BG
        keep += [nc, h.FInitializeHandler(lambda: nc.event(TRANSIENT_MS))]
    return dict(somas=somas, syns=syns, recs=recs, keep=keep)


def trains_of(net, ns):
    out = []
    for r in net["recs"]:
        t = r.times() if hasattr(r, "times") else ns.to_numpy(r)
        out.append(t[t >= TRANSIENT_MS])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?",
                    default=os.path.join(ROOT, "out", "input_models", "hh_input.nmap"))
    ap.add_argument("--ncells", type=int, default=30)
    ap.add_argument("--fanin", type=int, default=5)
    ap.add_argument("--tstop", type=float, default=2000.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--delta", type=float, default=2.0)
    args = ap.parse_args()
    if not (2 <= args.ncells and 1 <= args.fanin < args.ncells and args.tstop > TRANSIENT_MS):
        sys.exit("need --ncells >= 2, 1 <= --fanin < --ncells and --tstop > %g" % TRANSIENT_MS)
    from neuromap import cells, record, neuron_support as ns
    h = ns.load_mechanisms()
    ic.require_input_model(args.model, "nA", "examples/train_input_models.py OUTDIR writes "
                           "OUTDIR/hh_input.nmap")
    rng = np.random.default_rng(args.seed)
    n = args.ncells
    pre = [rng.choice(np.delete(np.arange(n), i), size=args.fanin, replace=False) for i in range(n)]
    delays = [rng.uniform(1.0, 3.0, size=args.fanin) for _ in range(n)]
    window = args.tstop - TRANSIENT_MS

    results = {}
    clamped = 0
    for label, learned, kick in (("A", False, False), ("A'", False, True), ("B", True, False)):
        net = build(h, cells, record, args.model, n, pre, delays, args.seed, learned, kick)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # clamped input: counted below
            ns.run(args.tstop, method="fixed", dt=DT, secondorder=2, v_init=-65.0)
        if learned:
            lc = [c for c in net["keep"] if isinstance(c, cells.LearnedSectionCell)]
            ns.check_cells(lc)
            clamped = sum(c.input_clamped() for c in lc) / (len(lc) * args.tstop / lc[0].dt_map)
        results[label] = trains_of(net, ns)
        del net

    def rates(tr):
        return np.array([len(t) for t in tr]) / (window / 1000)

    ra, rb = rates(results["A"]), rates(results["B"])
    print("network of %d somas, fan-in %d x %g nS, background %g Hz x %g nS, %g ms after a %g ms "
          "transient (model %s; %.2f%% of the learned cells' map steps clamped):"
          % (n, args.fanin, 1000 * G_REC, BG_RATE_HZ, 1000 * G_BG, window, TRANSIENT_MS,
             os.path.basename(args.model), 100 * clamped))
    print("  hh somas (A):      rate %.1f +- %.1f Hz" % (ra.mean(), ra.std()))
    print("  learned somas (B): rate %.1f +- %.1f Hz (mean %+.0f%%; per cell |error| mean %.0f%%, "
          "worst %.0f%%)" % (rb.mean(), rb.std(), 100 * (rb.mean() - ra.mean()) / max(ra.mean(), 1e-9),
                             100 * np.mean(np.abs(rb - ra) / np.maximum(ra, 1e-9)),
                             100 * np.max(np.abs(rb - ra) / np.maximum(ra, 1e-9))))
    for key, name in (("B", "learned (B) vs hh (A)"),
                      ("A'", "hh with one extra event (A') vs hh (A), the reference")):
        g = np.array([ic.coincidence(a, b, args.delta, window)["gamma"]
                      for a, b in zip(results["A"], results[key])])
        print("  spike-time agreement, %s: Gamma (+-%g ms) mean %.3f, worst cell %.3f, best %.3f"
              % (name, args.delta, np.nanmean(g), np.nanmin(g), np.nanmax(g)))


if __name__ == "__main__":
    main()
