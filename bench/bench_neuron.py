#!/usr/bin/python3
"""Benchmark (not a test): what a learned cell costs in NEURON against the
mechanistic cell it replaces.

    /usr/bin/python3 bench/bench_neuron.py [MODEL.nmap] [--ncells 1000]
        [--tstop 10000] [--rate 20] [--nthread 1] [--out docs/figures/neuron_bench.png]

Three networks of NCELLS cells, each run alone for TSTOP ms of simulated
time, every cell driven by its own Poisson input (a NetStim, RATE Hz, noise
1, seed per cell) through one NetCon:
  learned  NeuroMapCell (ARTIFICIAL_CELL): one map step per dt_map (5 ms for
           the SRK model) on self-events; input weight in units of p; run
           with the same fixed step dt = 0.025 ms as the others (NEURON still
           walks through every dt, though no cell has anything to integrate);
  learned-cvode  the same network under CVode: with only ARTIFICIAL_CELLs it
           jumps from event to event (identical spikes, see the tests);
  srk      one section with mod/srk.mod (SRKCell geometry) and an ExpSyn,
           fixed step dt = 0.025 ms (NEURON's default backward Euler);
  hh       one section with NEURON's hh (area 1000 um2) and an ExpSyn,
           fixed step dt = 0.025 ms.
The input NetStims are the same in all three (same count, rate, seeds), so
the differences are the cells.  Reported: wall time of the run (setup
excluded), cost per cell per simulated second, ratios, spikes, and the
map steps per second.  A bar chart goes to --out (PNG).

The model defaults to out/srk.nmap (what scripts/demo.sh writes).
Machine noise: on the shared 2-core machines of this project, repeated runs
differ by 10-20 %; ratios are more stable than absolute times.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

DT = 0.025                  # ms, the fixed step of the mechanistic networks
W_LEARNED = 0.3             # NetCon weight into a learned cell: mV of p (VS)
W_SYN_US = 0.0005           # ExpSyn weight into srk / hh cells: 0.5 nS
HH_AREA_DIAM = 17.841241161527712   # um: L = diam, area 1000 um2 (as SRKCell)


def build_inputs(h, targets, rate_hz, weight, seed0):
    """One Poisson NetStim per target (its own Random123 stream, seed0 + i)."""
    stims, ncs = [], []
    for i, tgt in enumerate(targets):
        s = h.NetStim()
        s.start = 0
        s.number = 1e9
        s.interval = 1000.0 / rate_hz
        s.noise = 1
        s.noiseFromRandom123(seed0, i, 0)
        stims.append(s)
        ncs.append(h.NetCon(s, tgt, 0, 1.0, weight))
    return stims, ncs


def run_network(h, kind, args, model):
    from neuromap import neuron_support as ns
    cells, targets, srcs = [], [], []
    if kind.startswith("learned"):
        lo, hi = -40.0, -34.0
        for i in range(args.ncells):
            c = h.NeuroMapCell()
            c.load(model)
            c.p = lo + (hi - lo) * i / max(args.ncells - 1, 1)
            cells.append(c)
            targets.append(c)
            srcs.append(h.NetCon(c, None))
        v_init = cells[0].V0
        weight = W_LEARNED
    else:
        for i in range(args.ncells):
            sec = h.Section(name="%s%d" % (kind, i))
            sec.L = sec.diam = HH_AREA_DIAM
            sec.nseg = 1
            if kind == "srk":
                sec.insert("srk")
                sec(0.5).srk.Vs = -40.0 + 6.0 * i / max(args.ncells - 1, 1)
            else:
                sec.insert("hh")
            syn = h.ExpSyn(sec(0.5))
            syn.tau = 5
            syn.e = 0
            nc = h.NetCon(sec(0.5)._ref_v, None, sec=sec)
            nc.threshold = -35 if kind == "srk" else -10
            cells.append((sec, syn))
            targets.append(syn)
            srcs.append(nc)
        v_init = -50.0 if kind == "srk" else -65.0
        weight = W_SYN_US
    stims, ncs = build_inputs(h, targets, args.rate, weight, 12345)
    tvec, idvec = h.Vector(), h.Vector()
    for i, nc in enumerate(srcs):
        nc.record(tvec, idvec, i)
    pc = h.ParallelContext()
    pc.nthread(args.nthread)
    h.CVode().active(1 if kind == "learned-cvode" else 0)
    h.dt = DT
    h.secondorder = 0
    h.finitialize(v_init)
    t0 = time.perf_counter()
    h.continuerun(args.tstop)
    wall = time.perf_counter() - t0
    h.CVode().active(0)
    pc.nthread(1)
    nspikes = int(tvec.size())
    nsteps = 0
    if kind.startswith("learned"):
        nsteps = int(sum(c.nstep for c in cells))
        ns.check_cells(cells)
    del ncs, stims, srcs, cells, targets
    return dict(kind=kind, wall=wall, spikes=nspikes, map_steps=nsteps)


def model_summary(path):
    """' (map 4-128-128-3 x 3 members, decoder ...)' from the model file, or ''."""
    try:
        from neuromap.modelfile import read_model
        e = read_model(path)

        def sizes(k):
            return "-".join(str(int(v)) for v in e[k])
        members = int(e["map.members"][0]) if "map.members" in e else 1
        return " (map %s x %d member%s, decoder %s)" % (sizes("map.sizes"), members,
                                                        "s" if members > 1 else "",
                                                        sizes("vae.dec.sizes"))
    except Exception:   # the summary is decoration; the benchmark does not need it
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default=os.path.join(ROOT, "out", "srk.nmap"))
    ap.add_argument("--ncells", type=int, default=1000)
    ap.add_argument("--tstop", type=float, default=10000.0, help="simulated ms")
    ap.add_argument("--rate", type=float, default=20.0, help="Poisson input per cell (Hz)")
    ap.add_argument("--nthread", type=int, default=1)
    ap.add_argument("--only", default="learned,learned-cvode,srk,hh")
    ap.add_argument("--out", default="", help="bar chart (PNG)")
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit("model %s not found: run scripts/demo.sh (writes out/srk.nmap) or pass a path"
                 % args.model)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from neuromap import neuron_support as ns
    h = ns.load_mechanisms()

    print("%d cells, %g s simulated, Poisson input %g Hz per cell, %d thread(s); model %s%s"
          % (args.ncells, args.tstop / 1000, args.rate, args.nthread, args.model,
             model_summary(args.model)))
    res = {}
    for kind in args.only.split(","):
        r = run_network(h, kind, args, args.model)
        res[kind] = r
        cell_s = args.ncells * args.tstop / 1000.0
        extra = ""
        if r["map_steps"]:
            extra = ", %d map steps, %.2f us per map step (all costs included)" % (
                r["map_steps"], 1e6 * r["wall"] / r["map_steps"])
        print("  %-13s wall %7.2f s   %7.1f us per cell per simulated ms   %6d spikes%s"
              % (kind, r["wall"], 1e6 * r["wall"] / (cell_s * 1000), r["spikes"], extra))
        sys.stdout.flush()
    for base in ("learned", "learned-cvode"):
        for kind in ("srk", "hh"):
            if base in res and kind in res:
                print("  %s / %s: %.1fx" % (kind, base, res[kind]["wall"] / res[base]["wall"]))
    if args.out and res:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        kinds = list(res)
        walls = [res[k]["wall"] for k in kinds]
        labels = {"learned": "learned\n(fixed dt 0.025)", "learned-cvode": "learned\n(CVode)",
                  "srk": "SRK\n(srk.mod, dt 0.025)", "hh": "HH\n(hh, dt 0.025)"}
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        bars = ax.bar([labels.get(k, k) for k in kinds], walls,
                      color=["tab:orange" if k.startswith("learned") else "tab:blue"
                             for k in kinds])
        for b, w in zip(bars, walls):
            ax.text(b.get_x() + b.get_width() / 2, w, "%.1f s" % w, ha="center", va="bottom")
        ax.set_ylabel("wall time (s)")
        ax.set_title("%d cells, %g s simulated, %g Hz Poisson input each"
                     % (args.ncells, args.tstop / 1000, args.rate), fontsize=9)
        ax.margins(y=0.15)
        fig.tight_layout()
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        fig.savefig(args.out, dpi=110)
        print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
