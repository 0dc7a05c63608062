#!/usr/bin/python3
"""An hh soma and its learned replacement side by side, under noisy current
and under synaptic input (issue 11).

    /usr/bin/python3 examples/hh_soma_vs_learned.py [MODEL.nmap] [--seeds 101,102]
        [--duration 2000] [--delta 2] [--out out/examples/hh_soma_vs_learned.png]

MODEL: a model with an input channel in nA learned from NEURON's hh soma
(examples/train_input_models.py OUTDIR writes OUTDIR/hh_input.nmap; default
out/input_models/hh_input.nmap).  For every seed and protocol one NEURON run
(fixed step 0.025 ms, Crank-Nicolson) holds two cells given the same input:
  * hh: neuromap.record.hh_soma() (1000 um2, NEURON's `hh`), from -65 mV;
  * learned: a LearnedSectionCell (NeuroMapClamp in a soma of 1000 um2 with
    no channels): the clamp measures the current the IClamp or the ExpSyn
    injects on its clamped V and drives the map with it (one map step late).
Protocols (none of them is a training recording: other generators, seeds,
means and rates):
  noisy current: an IClamp playing an Ornstein-Uhlenbeck current (tau 3 ms)
    with mean/SD (nA) 0.04/0.05 and 0.07/0.03, seeded by the seed;
  synaptic: an ExpSyn (tau 3 ms, E 0 mV) fed by a Poisson NetStim
    (Random123 seeded by the seed) at 250 Hz x 1.5 nS and 120 Hz x 3 nS.
After a 200 ms transient: spike counts (hh: upward crossings of 0 mV;
learned: the model's threshold) and the coincidence factor Gamma within
+-delta ms (libneuromap's nm_coincidence_factor, as `neuromap predict`).
A figure (V of both cells, one row per protocol, first seed) goes to --out
when matplotlib is available.
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
OU_PROTOCOLS = ((0.04, 0.05), (0.07, 0.03))      # mean, SD (nA); tau 3 ms
SYN_PROTOCOLS = ((250.0, 0.0015), (120.0, 0.003))  # rate (Hz), g (uS); tau 3 ms, E 0
TAU_MS = 3.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?",
                    default=os.path.join(ROOT, "out", "input_models", "hh_input.nmap"))
    ap.add_argument("--seeds", default="101,102")
    ap.add_argument("--duration", type=float, default=2000.0, help="compared span (ms)")
    ap.add_argument("--delta", type=float, default=2.0, help="coincidence window (ms)")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "examples",
                                                  "hh_soma_vs_learned.png"))
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]

    from neuromap import cells, record, neuron_support as ns
    h = ns.load_mechanisms()
    ic.require_input_model(args.model, "nA", "examples/train_input_models.py OUTDIR writes "
                           "OUTDIR/hh_input.nmap")
    tstop = TRANSIENT_MS + args.duration
    nsteps = int(round(tstop / DT)) + 2
    pairs = []
    keep = []
    for seed in seeds:
        prots = [("noisy current %g+-%g nA" % (m, s), ("ou", m, s)) for m, s in OU_PROTOCOLS]
        prots += [("synaptic %g Hz x %g nS" % (r, 1000 * g), ("syn", r, g))
                  for r, g in SYN_PROTOCOLS]
        for k, (name, prot) in enumerate(prots):
            hh = record.hh_soma(name="hh_%d_%d" % (seed, k))
            lrn = cells.LearnedSectionCell(args.model)
            pair = dict(seed=seed, name=name, hh=hh, lrn=lrn)
            if prot[0] == "ou":
                w = h.Vector(ic.ou_current(seed * 10 + k, prot[1], prot[2], TAU_MS, DT, nsteps))
                for sec in (hh, lrn.soma):
                    st = h.IClamp(sec(0.5))
                    st.delay, st.dur, st.amp = 0.0, 1e9, 0.0
                    w.play(st._ref_amp, DT)
                    keep.append(st)
                keep.append(w)
            else:
                stim = h.NetStim()
                stim.number, stim.start, stim.interval, stim.noise = 1e9, 0.0, 1000.0 / prot[1], 1
                stim.noiseFromRandom123(seed, k, 7)
                keep.append(stim)
                for sec in (hh, lrn.soma):
                    syn = h.ExpSyn(sec(0.5))
                    syn.tau, syn.e = TAU_MS, 0.0
                    keep += [syn, h.NetCon(stim, syn, 0, 0.0, prot[2])]
            tv = h.Vector()
            nc = h.NetCon(hh(0.5)._ref_v, None, sec=hh)
            nc.threshold = 0.0
            nc.record(tv)
            keep.append(nc)
            pair.update(hh_sp=tv, lrn_sp=lrn.record_spikes(), hh_v=ns.record_v(hh(0.5)._ref_v, 0.1),
                        lrn_v=lrn.record_v(0.1))
            pairs.append(pair)
    import warnings
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        ns.run(tstop, method="fixed", dt=DT, secondorder=2, v_init=-65.0)
    ns.check_cells([p["lrn"] for p in pairs])

    print("hh soma vs learned replacement (%s, LearnedSectionCell), %g ms after a %g ms "
          "transient, Gamma within +-%g ms:" % (os.path.basename(args.model), args.duration,
                                               TRANSIENT_MS, args.delta))
    print("  %-5s %-28s %9s %9s %9s %7s %8s" % ("seed", "protocol", "hh", "learned", "coinc.",
                                              "Gamma", "clamped"))
    by_kind = {"noisy": [], "synaptic": []}
    for p in pairs:
        a = ns.to_numpy(p["hh_sp"])
        b = p["lrn_sp"].times()
        a, b = a[a >= TRANSIENT_MS], b[b >= TRANSIENT_MS]
        c = ic.coincidence(a, b, args.delta, args.duration)
        p["c"] = c
        by_kind[p["name"].split()[0]].append(c)
        print("  %-5d %-28s %9d %9d %9d %7.3f %7d" % (p["seed"], p["name"], len(a), len(b),
                                                    c["n_coinc"], c["gamma"],
                                                    p["lrn"].input_clamped()))
    for kind, cs in by_kind.items():
        g = np.array([c["gamma"] for c in cs])
        err = np.array([abs(c["n_model"] - c["n_data"]) / max(1, c["n_data"]) for c in cs])
        print("%s: Gamma mean %.3f, worst %.3f; spike count error mean %.0f%%, worst %.0f%% "
              "(%d runs)" % (kind, np.nanmean(g), np.nanmin(g), 100 * err.mean(), 100 * err.max(),
                             len(cs)))
    for w in warned:
        if "clamp" in str(w.message).lower():
            print("note: %s" % str(w.message).splitlines()[0])
            break

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not available: no figure")
        return
    first = [p for p in pairs if p["seed"] == seeds[0]]
    fig, axes = plt.subplots(len(first), 1, figsize=(9, 1.7 * len(first) + 0.5), sharex=True)
    show = (TRANSIENT_MS, TRANSIENT_MS + min(args.duration, 500.0))
    for ax, p in zip(np.atleast_1d(axes), first):
        for key, color, label in (("hh_v", "#1f3b73", "hh soma"),
                                  ("lrn_v", "#c0392b", "learned (NeuroMapClamp)")):
            t, v = (ns.to_numpy(x) for x in p[key])
            sel = (t >= show[0]) & (t <= show[1])
            ax.plot(t[sel], v[sel], color=color, lw=0.8, label=label)
        ax.set_ylabel("V (mV)")
        ax.set_title("%s: Gamma %.2f (%d vs %d spikes)" % (p["name"], p["c"]["gamma"],
                                                           p["c"]["n_data"], p["c"]["n_model"]),
                     fontsize=8)
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="upper right")
    np.atleast_1d(axes)[-1].set_xlabel("t (ms)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
