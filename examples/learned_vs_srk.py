#!/usr/bin/python3
"""One learned cell beside one mechanistic SRK section, at several VS.

    /usr/bin/python3 examples/learned_vs_srk.py [MODEL.nmap] [--vs=-44,-40,-38,-36,-34.5,-32]
        [--window 20000] [--out out/examples/learned_vs_srk.png]

For each VS (the SRK control parameter, mV) the same NEURON run holds
  * SRKCell: one section with mod/srk.mod (the mechanistic model the learned
    one was trained on), from (V, n, S) = (-50 mV, 0, 0.4), CVode
    (rtol = atol = 1e-8, docs/neuron.md: converged spike times);
  * LearnedCell: a NeuroMapCell running the model file (map step 5 ms) from
    the model's start state, with p = VS.
Both drop a 20 s transient; the next --window ms are compared: spike
counts, the regime (libneuromap's classifier, through ctypes), ISIs, and
the V traces (figure: one row per VS, SRK and learned overlaid).

The model defaults to out/srk.nmap (what scripts/demo.sh writes).  The
learned model's fidelity is whatever its training gave; this example shows
it honestly, including the VS values where it is wrong.
"""

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

TRANSIENT_MS = 20000.0   # design.md: 20 s transient dropped
SHOW_MS = 10000.0        # how much of the window the figure shows
COLORS = {"srk": "#1f3b73", "learned": "#c0392b"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default=os.path.join(ROOT, "out", "srk.nmap"))
    ap.add_argument("--vs", default="-44,-40,-38,-36,-34.5,-32",
                    help="comma-separated VS values (mV)")
    ap.add_argument("--window", type=float, default=20000.0, help="compared span after the "
                    "transient (ms)")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "examples", "learned_vs_srk.png"))
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit("model %s not found: run scripts/demo.sh (writes out/srk.nmap) or pass a path"
                 % args.model)
    vs_list = [float(v) for v in args.vs.split(",")]

    from neuromap import cells, neuron_support as ns, runtime as rt
    ns.load_mechanisms()
    tstop = TRANSIENT_MS + args.window
    pairs = []
    for vs in vs_list:
        srk = cells.SRKCell(p=vs)
        lrn = cells.LearnedCell(args.model, p=vs)
        pairs.append(dict(vs=vs, srk=srk, lrn=lrn, srk_sp=srk.record_spikes(),
                          lrn_sp=lrn.record_spikes(), srk_v=srk.record_v(1.0),
                          lrn_v=lrn.record_V()))
    # One run for all pairs: CVode steps the SRK sections, the learned cells
    # step on their own events (the integrator does not matter to them).
    ns.run(tstop, method="cvode", v_init=-50.0)
    ns.check_cells([p["lrn"] for p in pairs])

    print("VS (mV) | SRK: spikes  regime        mean ISI | learned: spikes  regime        mean ISI")
    rows = []
    for p in pairs:
        out = {}
        for side in ("srk", "lrn"):
            sp = p[side + "_sp"].times()
            sp = sp[sp >= TRANSIENT_MS]
            reg = rt.classify_regime(sp - TRANSIENT_MS, args.window)
            out[side] = (sp, reg)
        rows.append((p, out))
        print("%7g | %11d  %-12s %7.0f ms | %15d  %-12s %7.0f ms"
              % (p["vs"], len(out["srk"][0]), out["srk"][1]["name"], out["srk"][1]["isi_mean_ms"],
                 len(out["lrn"][0]), out["lrn"][1]["name"], out["lrn"][1]["isi_mean_ms"]))
    agree = sum(o["srk"][1]["name"] == o["lrn"][1]["name"] for _, o in rows)
    print("same regime at %d of %d VS values" % (agree, len(rows)))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 1.6 * len(rows) + 0.6), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, (p, out) in zip(axes, rows):
        t, v = (ns.to_numpy(x) for x in p["srk_v"])
        keep = (t >= TRANSIENT_MS) & (t <= TRANSIENT_MS + SHOW_MS)
        ax.plot((t[keep] - TRANSIENT_MS) / 1000, v[keep], color=COLORS["srk"], lw=0.8,
                label="SRK (srk.mod)")
        t, v = (ns.to_numpy(x) for x in p["lrn_v"])
        keep = (t >= TRANSIENT_MS) & (t <= TRANSIENT_MS + SHOW_MS)
        ax.step((t[keep] - TRANSIENT_MS) / 1000, v[keep], where="post", color=COLORS["learned"],
                lw=0.8, alpha=0.85, label="learned (NeuroMapCell)")
        ax.set_ylabel("V (mV)")
        ax.text(1.005, 0.5, "VS = %g\nSRK %s\nlearned %s" % (p["vs"], out["srk"][1]["name"],
                                                          out["lrn"][1]["name"]),
                transform=ax.transAxes, fontsize=7, va="center")
    axes[0].legend(loc="upper left", fontsize=7, ncol=2)
    axes[-1].set_xlabel("time after the %g s transient (s)" % (TRANSIENT_MS / 1000))
    fig.suptitle("learned cell beside the mechanistic SRK cell in NEURON (%s)"
                 % os.path.basename(args.model), fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.88, 1))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
