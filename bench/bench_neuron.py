#!/usr/bin/python3
"""Benchmark (not a test): what a learned cell costs in NEURON against the
mechanistic cell it replaces, batched and unbatched, and the FLOP floor.

    /usr/bin/python3 bench/bench_neuron.py [SRK_MODEL.nmap] [--hh-model HH_MODEL.nmap]
        [--ncells 1000] [--tstop 2000] [--tstop-hh 200] [--repeats 3] [--nthread 1]
        [--bench-batch build/bin/bench_learned_batch] [--out docs/figures/neuron_bench.png]

Networks of NCELLS cells, each cell driven by its own Poisson input (a
NetStim, RATE Hz, seed per cell), every network run alone under the fixed
step dt = 0.025 ms (NEURON walks through every dt even when no cell has
anything to integrate):
  learned-srk    NeuroMapCell with the SRK model (5 ms map steps), NetCon
                 weight in units of p; batch_NeuroMapCell = 1 (cells due at
                 the same time stepped together) ...
  learned-srk-1  ... and = 0 (every cell alone);
  srk            one section with mod/srk.mod (SRKCell geometry) and an ExpSyn;
  learned-hh     NeuroMapCell with an input model of the hh soma (0.1 ms map
                 steps: out/input_models/hh_input.nmap from
                 examples/train_input_models.py), NetCon wi into its current
                 synapse (nA) and ibias; batched ...
  learned-hh-1   ... and unbatched;
  hh             one section with NEURON's hh (area 1000 um2), an ExpSyn and an
                 IClamp of IBIAS (the learned HH cells' ibias).
The SRK networks run TSTOP ms, the HH ones TSTOP_HH ms (a learned HH cell
steps every 0.1 ms).  Each repeat runs every network once (interleaved, so
machine load hits all alike); reported: cost per cell per simulated ms
(median over repeats), the ratios within each repeat (median), and the FLOP
floor: the networks' multiply-adds at the sgemm rate measured on the same
layer shapes (bench_learned_batch, built with the library), per cell per
simulated ms, with the learned cells' all-included map-step cost against it.

The SRK model defaults to out/srk.nmap (what scripts/demo.sh writes).
Machine noise: on the shared 2-core machines of this project, repeated runs
differ by 10-20 %; ratios are more stable than absolute times.
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

DT = 0.025                  # ms, the fixed step of every network
W_LEARNED = 0.3             # NetCon weight into a learned SRK cell: mV of p (VS)
WI_LEARNED_NA = 0.03        # NetCon wi into a learned HH cell's synapse (nA)
IBIAS_NA = 0.06             # and its constant input (nA; 6 uA/cm2 at 1000 um2)
W_SYN_US = 0.0005           # ExpSyn weight into srk / hh cells: 0.5 nS
HH_AREA_DIAM = 17.841241161527712   # um: L = diam, area 1000 um2 (as SRKCell)
RATE_HZ = 20.0


def build_inputs(h, targets, rate_hz, weight, seed0, wi=0.0):
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
        nc = h.NetCon(s, tgt, 0, 1.0, weight)
        if wi:
            nc.weight[1] = wi
        ncs.append(nc)
    return stims, ncs


def run_network(h, kind, args):
    from neuromap import neuron_support as ns
    cells, targets, srcs, extra = [], [], [], []
    learned = kind.startswith("learned")
    hh = "hh" in kind
    tstop = args.tstop_hh if hh else args.tstop
    if learned:
        model = args.hh_model if hh else args.model
        lo, hi = -40.0, -34.0
        for i in range(args.ncells):
            c = h.NeuroMapCell()
            c.load(model)
            if hh:
                c.area_um2 = 1000.0
                c.ibias = IBIAS_NA
            else:
                c.p = lo + (hi - lo) * i / max(args.ncells - 1, 1)
            cells.append(c)
            targets.append(c)
            srcs.append(h.NetCon(c, None))
        weight = 0.0 if hh else W_LEARNED
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
                # The learned HH cells' constant input (ibias), so both fire
                # alike and pay alike for their spike events.
                bias = h.IClamp(sec(0.5))
                bias.delay, bias.dur, bias.amp = 0, 1e9, IBIAS_NA
                extra.append(bias)
            syn = h.ExpSyn(sec(0.5))
            syn.tau = 5
            syn.e = 0
            nc = h.NetCon(sec(0.5)._ref_v, None, sec=sec)
            nc.threshold = -35 if kind == "srk" else -10
            cells.append((sec, syn))
            targets.append(syn)
            srcs.append(nc)
        weight = W_SYN_US
    stims, ncs = build_inputs(h, targets, args.rate, weight, 12345,
                              WI_LEARNED_NA if (learned and hh) else 0.0)
    tvec, idvec = h.Vector(), h.Vector()
    for i, nc in enumerate(srcs):
        nc.record(tvec, idvec, i)
    pc = h.ParallelContext()
    pc.nthread(args.nthread)
    h.batch_NeuroMapCell = 0 if kind.endswith("-1") else 1
    h.CVode().active(0)
    h.dt = DT
    h.secondorder = 0
    h.finitialize(-65.0 if hh else -50.0)
    t0 = time.perf_counter()
    h.continuerun(tstop)
    wall = time.perf_counter() - t0
    pc.nthread(1)
    h.batch_NeuroMapCell = 1
    nspikes = int(tvec.size())
    nsteps = 0
    if learned:
        nsteps = int(sum(c.nstep for c in cells))
        ns.check_cells(cells)
    del ncs, stims, srcs, cells, targets, extra
    return dict(kind=kind, wall=wall, spikes=nspikes, map_steps=nsteps,
                us_cell_ms=1e6 * wall / (args.ncells * tstop))


def flop_floor(args, model):
    """bench_learned_batch --machine: per cell per map step (us)."""
    exe = args.bench_batch
    if not exe or not os.path.exists(exe):
        return None
    out = subprocess.run([exe, "--machine", model, str(args.ncells), "5"], capture_output=True,
                         text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if out.returncode != 0:
        return None
    return {k: float(v) for k, v in (ln.split() for ln in out.stdout.split("\n") if ln.strip())}


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def model_summary(path):
    """' (map 4-128-128-3 x 3 members, decoder ...)' from the model file, or ''."""
    try:
        from neuromap.modelfile import read_model
        e = read_model(path)

        def sizes(k):
            return "-".join(str(int(v)) for v in e[k])
        members = int(e["map.members"][0]) if "map.members" in e else 1
        dec = ("V head %s" % sizes("vhead.sizes")) if "vhead.sizes" in e else \
            ("decoder %s" % sizes("vae.dec.sizes"))
        return " (map %s x %d member%s, %s)" % (sizes("map.sizes"), members,
                                                "s" if members > 1 else "", dec)
    except Exception:   # the summary is decoration; the benchmark does not need it
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default=os.path.join(ROOT, "out", "srk.nmap"))
    ap.add_argument("--hh-model", default=os.path.join(ROOT, "out", "input_models", "hh_input.nmap"))
    ap.add_argument("--ncells", type=int, default=1000)
    ap.add_argument("--tstop", type=float, default=2000.0, help="simulated ms (SRK networks)")
    ap.add_argument("--tstop-hh", type=float, default=200.0, help="simulated ms (HH networks)")
    ap.add_argument("--rate", type=float, default=RATE_HZ, help="Poisson input per cell (Hz)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--nthread", type=int, default=1)
    ap.add_argument("--only", default="learned-srk,learned-srk-1,srk,learned-hh,learned-hh-1,hh")
    ap.add_argument("--bench-batch", default=os.path.join(ROOT, "build", "bin", "bench_learned_batch"),
                    help="bench_learned_batch of the build (the FLOP floor; skipped if missing)")
    ap.add_argument("--out", default="", help="bar chart (PNG)")
    args = ap.parse_args()
    kinds = args.only.split(",")
    for path, need in ((args.model, any("srk" in k for k in kinds)),
                       (args.hh_model, any(k.startswith("learned-hh") for k in kinds))):
        if need and not os.path.exists(path):
            sys.exit("model %s not found: run scripts/demo.sh (out/srk.nmap) and "
                     "examples/train_input_models.py (out/input_models/hh_input.nmap), or pass paths" % path)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from neuromap import neuron_support as ns
    h = ns.load_mechanisms()

    print("%d cells, SRK %g ms / HH %g ms simulated, Poisson input %g Hz per cell, %d thread(s), "
          "%d repeats, fixed dt %g ms" % (args.ncells, args.tstop, args.tstop_hh, args.rate,
                                          args.nthread, args.repeats, DT))
    print("  SRK model %s%s" % (args.model, model_summary(args.model)))
    if any("hh" in k for k in kinds):
        print("  HH model  %s%s" % (args.hh_model, model_summary(args.hh_model)))
    runs = {k: [] for k in kinds}
    for r in range(args.repeats):
        for kind in kinds:
            runs[kind].append(run_network(h, kind, args))
        print("  repeat %d: %s" % (r + 1, "  ".join("%s %.3g" % (k, runs[k][-1]["us_cell_ms"]) for k in kinds)))
        sys.stdout.flush()
    print("per cell per simulated ms (median of %d):" % args.repeats)
    for kind in kinds:
        rr = runs[kind]
        extra = ""
        if rr[0]["map_steps"]:
            extra = "   %.2f us per map step, all included" % median(
                [1e6 * x["wall"] / x["map_steps"] for x in rr])
        print("  %-13s %8.3f us   %6d spikes%s" % (kind, median([x["us_cell_ms"] for x in rr]),
                                                   rr[0]["spikes"], extra))
    floors = {}
    for tag, path in (("srk", args.model), ("hh", args.hh_model)):
        if not any(k.startswith("learned-" + tag) for k in kinds):
            continue
        f = flop_floor(args, path)
        if f is None:
            print("  FLOP floor (%s): bench_learned_batch not found (%s): build it" % (tag, args.bench_batch))
            continue
        from neuromap.runtime import LearnedModel
        dt_map = LearnedModel(path).dt_ms
        floors[tag] = f
        print("  FLOP floor %-3s %8.3f us   (%.0f multiply-adds per step at %.1f GFLOP/s sgemm = %.2f us per "
              "map step; library alone: batched %.2f us, unbatched %.2f us)"
              % (tag, f["floor_us"] / dt_map, f["macs"], f["sgemm_gflops"], f["floor_us"],
                 f["batched_us"], f["unbatched_us"]))
        for kind in ("learned-%s" % tag, "learned-%s-1" % tag):
            if kind in runs and runs[kind][0]["map_steps"]:
                step = median([1e6 * x["wall"] / x["map_steps"] for x in runs[kind]])
                print("    %-13s map step / floor: %.2fx" % (kind, step / f["floor_us"]))
    print("ratios (median over repeats of the ratio within a repeat; > 1: the learned cell is cheaper):")
    for base, learned in (("srk", "learned-srk"), ("srk", "learned-srk-1"), ("hh", "learned-hh"),
                          ("hh", "learned-hh-1"), ("learned-srk-1", "learned-srk"),
                          ("learned-hh-1", "learned-hh")):
        if base in runs and learned in runs:
            rat = median([b["us_cell_ms"] / l["us_cell_ms"] for b, l in zip(runs[base], runs[learned])])
            print("  %-13s / %-13s %6.2fx" % (base, learned, rat))
    if args.out and runs:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        vals = [median([x["us_cell_ms"] for x in runs[k]]) for k in kinds]
        fig, ax = plt.subplots(figsize=(6.5, 3.4))
        bars = ax.bar(kinds, vals, color=["tab:orange" if k.startswith("learned") else "tab:blue"
                                          for k in kinds])
        for b_, v_ in zip(bars, vals):
            ax.text(b_.get_x() + b_.get_width() / 2, v_, "%.2g" % v_, ha="center", va="bottom")
        ax.set_yscale("log")
        ax.set_ylabel("us per cell per simulated ms")
        ax.set_title("%d cells, fixed dt %g ms, %g Hz Poisson input each" % (args.ncells, DT, args.rate),
                     fontsize=9)
        fig.tight_layout()
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        fig.savefig(args.out, dpi=110)
        print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
