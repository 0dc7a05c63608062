#!/usr/bin/python3
"""A network of 100 bursting beta cells: all mechanistic, then half learned.

    /usr/bin/python3 examples/network_learned_vs_srk.py [MODEL.nmap] [--ncells 100]
        [--fanin 10] [--tstop 40000] [--seed 1] [--out out/examples/network.png]

The network: NCELLS cells with VS drawn uniformly from [-42, -36] mV (bursts
of 2 to 4 spikes when alone), each receiving FANIN excitatory synapses from
random other cells (delays 1-5 ms), plus its own weak Poisson background.
  A. every cell is an SRKCell (mod/srk.mod, ExpSyn tau 5 ms, e 0 mV,
     weight W_SYN uS), fixed step dt 0.025 ms, Crank-Nicolson;
  B. the same network, the same VS, connections and background, with every
     second cell replaced by a LearnedCell (NeuroMapCell) at p = VS.
Incoming events to a learned cell add to its drive (units of p), which
decays with tau_drive = TAU_DRIVE_MS = 1 s.  A learned cell has one input,
p (= VS), and VS acts through the slow variable S (tau_S = 5 s): a drive as
brief as an EPSP (20 ms) barely moves it, so the drive stands for the
recent mean input (w * rate * tau_drive).  The weight W_P (mV of p) is
calibrated at the start against SRK cells at CAL_NVS values of VS: the
candidate whose mean rate response to the same Poisson input (the
network's expected input rate) matches the SRK cells' best (printed).
Spikes from learned cells reach SRK cells through the same ExpSyns as
before.

Compared after a 10 s transient: rasters, firing rates per cell, burst
statistics (bursts = runs of spikes with ISIs <= 600 ms; the SRK
intra-burst ISIs are 100-250 ms and the gaps between bursts above 1 s),
for all cells, and for the replaced cells before (A) and after (B).
Figure to --out.  The model defaults to out/srk.nmap (scripts/demo.sh).

Input-driven learned cells (issue 11): with --input-model MODEL (a model
with an input channel in pA, e.g. examples/train_input_models.py's
srk_input.nmap) the learned cells take the network's synaptic input as a
current instead of a drive on p, and three networks are run for each seed
of --seeds: A all SRK, B half learned (every second cell), C all learned.
  --cell-input section (default): a LearnedSectionCell (NeuroMapClamp in a
     soma) with the network's ExpSyn (tau 5 ms, e 0 mV) in its soma; the
     clamp measures the current the synapses inject on the clamped V and
     uses it one map step late;
  --cell-input cell: a LearnedCell (NeuroMapCell) whose current synapse
     (tau_syn 5 ms) gets wi = g * DRIVE_MV per event (a fixed driving
     force instead of E - V).
The model's pA are those of the C model's 5.3 pF cell (docs/input.md),
SRKCell's soma has 10 pF: the same synapse moves V by 5.3/10 as much per pA
there, so learned cells get the conductances x CM_RATIO = 0.53.  Reported
per network (all cells, and the learned and SRK halves of B): mean rate,
spikes per burst, median burst interval; then mean and spread over the
seeds, and whether B and C are within 10% of A (the issue's target).
"""

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

VS_RANGE = (-42.0, -36.0)
W_SYN = 0.0001            # uS (0.1 nS) per recurrent synapse into an SRK cell
BG_RATE_HZ = 2.0          # Poisson background per cell
W_BG_SYN = 0.0001         # uS
TAU_DRIVE_MS = 1000.0     # drive time constant of the learned cells (see above)
TRANSIENT_MS = 10000.0
BURST_MAX_ISI_MS = 600.0
CAL_CELL_RATE_HZ = 2.5   # expected rate of a network cell: calibration input is
                          # fanin x this + the background
CAL_WEIGHTS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)   # candidate W_P (mV of p)
CAL_NVS = 6
CAL_MS = 40000.0
CM_RATIO = 5.3 / 10.0     # NM_SRK_CM_PF / SRKCell's capacitance (10 pF): model pA per NEURON pA
DRIVE_MV = 55.0           # --cell-input cell: E - V taken as fixed (V about -55 mV)
TARGET_REL = 0.10         # the target: within 10% of all-SRK


def calibrate(h, ns, cells, model, seed, rate_hz):
    """W_P: the learned-cell weight whose mean spike-rate increase under
    Poisson input (rate_hz, the network's expected input) matches that of
    SRK cells given W_SYN, over CAL_NVS values of VS spread over VS_RANGE.
    Cell k of every kind gets the same input stream (common random numbers)."""
    vs = np.linspace(VS_RANGE[0], VS_RANGE[1], CAL_NVS)
    srk0 = [cells.SRKCell(p=v) for v in vs]
    srk1 = [cells.SRKCell(p=v) for v in vs]
    lrn = [[cells.LearnedCell(model, p=v, tau_drive=TAU_DRIVE_MS) for v in vs]
           for _ in range(len(CAL_WEIGHTS) + 1)]
    stims, ncs = [], []
    for k in range(CAL_NVS):
        s = h.NetStim()
        s.number, s.start, s.interval, s.noise = 1e9, 0, 1000.0 / rate_hz, 1
        s.noiseFromRandom123(seed, 1000000 + k, 0)
        stims.append(s)
        ncs.append(h.NetCon(s, srk1[k].syn, 0, 1.0, W_SYN))
        ncs += [h.NetCon(s, lrn[j + 1][k].syn, 0, 1.0, w) for j, w in enumerate(CAL_WEIGHTS)]
    groups = [srk0, srk1] + lrn
    recs = [[c.record_spikes() for c in g] for g in groups]
    ns.run(CAL_MS, method="fixed", secondorder=2, v_init=-50)
    rate = [np.mean([len(r.times()) for r in g]) / (CAL_MS / 1000) for g in recs]
    d_srk = rate[1] - rate[0]
    d_lrn = np.array(rate[3:]) - rate[2]
    best = int(np.argmin(np.abs(d_lrn - d_srk)))
    print("calibration, %d VS in [%g, %g], %g Hz Poisson input, %g s: SRK mean rate %.2f -> "
          "%.2f Hz with %g uS; learned (tau_drive %g ms) %.2f -> %s Hz with W_P = %s mV: "
          "W_P = %g" % (CAL_NVS, VS_RANGE[0], VS_RANGE[1], rate_hz, CAL_MS / 1000, rate[0],
                        rate[1], W_SYN, TAU_DRIVE_MS, rate[2],
                        ", ".join("%.2f" % r for r in rate[3:]),
                        ", ".join("%g" % w for w in CAL_WEIGHTS), CAL_WEIGHTS[best]))
    del ncs, recs, groups, srk0, srk1, lrn
    return CAL_WEIGHTS[best]


def build(h, cells, model, vs, pre, delays, learned_mask, w_p, seed):
    net = []
    for i, v in enumerate(vs):
        net.append(cells.LearnedCell(model, p=v, tau_drive=TAU_DRIVE_MS) if learned_mask[i]
                   else cells.SRKCell(p=v))
    ncs = []
    for i, c in enumerate(net):
        w = w_p if learned_mask[i] else W_SYN
        for j, d in zip(pre[i], delays[i]):
            ncs.append(net[j].connect2target(c.syn, weight=w, delay=d))
    stims = []
    for i, c in enumerate(net):
        s = h.NetStim()
        s.number, s.start, s.interval, s.noise = 1e9, 0, 1000.0 / BG_RATE_HZ, 1
        s.noiseFromRandom123(seed, i, 1)
        stims.append(s)
        w = w_p * W_BG_SYN / W_SYN if learned_mask[i] else W_BG_SYN
        ncs.append(h.NetCon(s, c.syn, 0, 1.0, w))
    recs = [c.record_spikes() for c in net]
    return dict(cells=net, ncs=ncs, stims=stims, recs=recs)


def build_input(h, cells, model, vs, pre, delays, learned_mask, seed, cell_input):
    """The network with input-driven learned cells (see the module doc): the
    same VS, connections, delays and background as build()."""
    net = []
    for i, v in enumerate(vs):
        if not learned_mask[i]:
            net.append(cells.SRKCell(p=v))
        elif cell_input == "section":
            net.append(cells.LearnedSectionCell(model, p=v))
        else:
            net.append(cells.LearnedCell(model, p=v, tau_syn=5.0))

    def target(i, g):
        """i's synapse and the NetCon weights that carry conductance g (uS)."""
        c = net[i]
        if not learned_mask[i]:
            return c.syn, (g,)
        if cell_input == "section":          # the soma's ExpSyn (tau 5, e 0; kp = 0)
            return c.esyn, (g * CM_RATIO,)
        return c.syn, (0.0, g * CM_RATIO * DRIVE_MV)   # weight[1] wi: uS * mV = nA

    def weigh(nc, w):
        for k, wk in enumerate(w):
            nc.weight[k] = wk
        return nc

    ncs = []
    for i in range(len(net)):
        tgt, w = target(i, W_SYN)
        for j, d in zip(pre[i], delays[i]):
            ncs.append(weigh(net[j].connect2target(tgt, delay=d), w))
    stims = []
    for i in range(len(net)):
        s = h.NetStim()
        s.number, s.start, s.interval, s.noise = 1e9, 0, 1000.0 / BG_RATE_HZ, 1
        s.noiseFromRandom123(seed, i, 1)
        stims.append(s)
        tgt, w = target(i, W_BG_SYN)
        ncs.append(weigh(h.NetCon(s, tgt, 0, 1.0, 0.0), w))
    recs = [c.record_spikes() for c in net]
    return dict(cells=net, ncs=ncs, stims=stims, recs=recs)


def stats_of(trains, idx, window_ms):
    """Mean rate (Hz), mean spikes per burst, median burst interval (ms)."""
    from neuromap import neuron_support as ns
    rates, sizes, ibi = [], [], []
    for i in idx:
        t = trains[i][trains[i] >= TRANSIENT_MS]
        rates.append(len(t) / (window_ms / 1000))
        b = ns.burst_stats(t, BURST_MAX_ISI_MS)
        sizes.extend(b["sizes"][1:-1])
        ibi.extend(b["ibi"])
    return dict(rate=float(np.mean(rates)) if rates else 0.0,
                spb=float(np.mean(sizes)) if sizes else 0.0,
                ibi=float(np.median(ibi)) if ibi else 0.0)


def input_mode(args, h, cells, ns):
    """Networks A (all SRK), B (half learned), C (all learned) with
    input-driven learned cells, for every seed; the table and the target."""
    from neuromap import runtime as rt
    m = rt.LearnedModel(args.input_model)
    if not m.has_input or m.input_unit != "pA":
        sys.exit("%s: needs a model with an input channel in pA (trained on `neuromap simulate "
                 "--model srk --input-...` series; examples/train_input_models.py); this one has "
                 "%s" % (args.input_model, ("input in " + m.input_unit) if m.has_input
                         else "no input channel"))
    lo, hi = m.input_range
    m.close()
    n = args.ncells
    window = args.tstop - TRANSIENT_MS
    seeds = [int(x) for x in args.seeds.split(",")]
    configs = (("A all SRK", lambda n: np.zeros(n, bool)),
               ("B half learned", lambda n: np.arange(n) % 2 == 1),
               ("C all learned", lambda n: np.ones(n, bool)))
    keys = ("rate", "spb", "ibi")
    rows = {}            # (config, part) -> list over seeds of stats
    rasters = {}
    print("input-driven learned cells (%s, %s; trained input %.3g..%.3g pA), %d cells, fan-in %d, "
          "W_SYN %g uS (learned: x %.2f), %g s after a %g s transient, seeds %s"
          % (os.path.basename(args.input_model), args.cell_input, lo, hi, n, args.fanin, W_SYN,
             CM_RATIO, window / 1000, TRANSIENT_MS / 1000, args.seeds))
    print("  %-6s %-30s %8s %14s %16s %9s" % ("seed", "network: cells", "rate Hz", "spikes/burst",
                                            "burst interval", "clamped"))
    for seed in seeds:
        rng = np.random.default_rng(seed)
        vs = rng.uniform(*VS_RANGE, size=n)
        pre = [rng.choice(np.delete(np.arange(n), i), size=args.fanin, replace=False)
               for i in range(n)]
        delays = [rng.uniform(1.0, 5.0, size=args.fanin) for _ in range(n)]
        for name, maskf in configs:
            mask = maskf(n)
            net = build_input(h, cells, args.input_model, vs, pre, delays, mask, seed,
                              args.cell_input)
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # clamped input: counted below
                ns.run(args.tstop, method="fixed", secondorder=2, v_init=-50.0)
            learned = [c for c in net["cells"] if not isinstance(c, cells.SRKCell)]
            ns.check_cells(learned)
            steps = args.tstop / learned[0].dt_map if learned else 1
            clamped = (np.mean([c.input_clamped() for c in learned]) / steps) if learned else 0.0
            trains = [r.times() for r in net["recs"]]
            if seed == seeds[0]:
                rasters[name] = (trains, mask)
            parts = [("all", range(n))]
            if 0 < mask.sum() < n:
                parts += [("learned", np.nonzero(mask)[0]), ("SRK", np.nonzero(~mask)[0])]
            for part, idx in parts:
                st = stats_of(trains, idx, window)
                rows.setdefault((name, part), []).append(st)
                print("  %-6d %-30s %8.2f %14.2f %13.0f ms %8.1f%%"
                      % (seed, "%s: %s" % (name, part), st["rate"], st["spb"], st["ibi"],
                         100 * clamped if part != "SRK" and mask.any() else 0.0), flush=True)
            del net, learned
    print("mean (min..max) over %d seed(s), and the relative difference of the means from A "
          "(target: within %d%%):" % (len(seeds), round(100 * TARGET_REL)))
    ref = {k: np.mean([r[k] for r in rows[("A all SRK", "all")]]) for k in keys}
    verdict = {}
    for (name, part), lst in rows.items():
        cells_ = []
        for k in keys:
            vals = np.array([r[k] for r in lst])
            rel = (vals.mean() - ref[k]) / ref[k] if ref[k] else float("nan")
            worst = np.max(np.abs(vals - ref[k])) / ref[k] if ref[k] else float("nan")
            cells_.append("%s %.2f (%.2f..%.2f) %s" % (
                {"rate": "rate Hz", "spb": "spikes/burst", "ibi": "burst interval s"}[k],
                vals.mean() / (1000 if k == "ibi" else 1), vals.min() / (1000 if k == "ibi" else 1),
                vals.max() / (1000 if k == "ibi" else 1),
                "%+.0f%%" % (100 * rel) if np.isfinite(rel) else "n/a"))
            if part == "all" and name != "A all SRK":
                verdict.setdefault(name, []).append((k, abs(rel) <= TARGET_REL,
                                                      worst <= TARGET_REL))
        print("  %-24s %s" % ("%s: %s" % (name, part), " | ".join(cells_)))
    for name, v in verdict.items():
        print("  %s within %d%% of A (seed means): %s; in every seed: %s" % (
            name, round(100 * TARGET_REL),
            ", ".join("%s %s" % (k, "yes" if ok else "NO") for k, ok, _ in v),
            ", ".join("%s %s" % (k, "yes" if ok else "NO") for k, _, ok in v)))
    return rasters


def plot_input(rasters, args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(rasters), figsize=(4 * len(rasters), 4), sharey=True)
    show = (TRANSIENT_MS, min(args.tstop, TRANSIENT_MS + 15000.0))
    for ax, (label, (trains, m)) in zip(np.atleast_1d(axes), rasters.items()):
        for i, t in enumerate(trains):
            t = t[(t >= show[0]) & (t <= show[1])]
            ax.plot((t - TRANSIENT_MS) / 1000, np.full(len(t), i), "|", ms=3,
                    color="#c0392b" if m[i] else "#1f3b73")
        ax.set_title(label + (" (red: learned)" if m.any() else ""), fontsize=9)
        ax.set_xlabel("time after the transient (s)")
        ax.set_xlim(0, (show[1] - show[0]) / 1000)
    np.atleast_1d(axes)[0].set_ylabel("cell")
    fig.suptitle("%d SRK cells; learned cells driven by the synaptic current (%s, %s)"
                 % (len(next(iter(rasters.values()))[0]), os.path.basename(args.input_model),
                    args.cell_input), fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print("wrote %s" % args.out)


def spikes_of(net):
    return [r.times() for r in net["recs"]]


def summarize(name, trains, idx, window_ms):
    from neuromap import neuron_support as ns
    rates, sizes, intra, ibi = [], [], [], []
    for i in idx:
        t = trains[i][trains[i] >= TRANSIENT_MS]
        rates.append(len(t) / (window_ms / 1000))
        b = ns.burst_stats(t, BURST_MAX_ISI_MS)
        sizes.extend(b["sizes"][1:-1])          # first and last may be cut by the window
        intra.extend(b["intra_isi"])
        ibi.extend(b["ibi"])
    s = dict(rates=np.array(rates), sizes=np.array(sizes, int), intra=np.array(intra),
             ibi=np.array(ibi))
    print("  %-34s rate %5.2f +- %4.2f Hz   spikes/burst %4.2f   intra-burst ISI %5.0f ms   "
          "burst interval %5.0f ms" % (name, s["rates"].mean(), s["rates"].std(),
                                      s["sizes"].mean() if len(s["sizes"]) else 0,
                                      np.median(s["intra"]) if len(s["intra"]) else 0,
                                      np.median(s["ibi"]) if len(s["ibi"]) else 0))
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default=os.path.join(ROOT, "out", "srk.nmap"))
    ap.add_argument("--ncells", type=int, default=100)
    ap.add_argument("--fanin", type=int, default=10)
    ap.add_argument("--tstop", type=float, default=40000.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "examples", "network.png"))
    ap.add_argument("--input-model", help="a model with an input channel (pA): run the "
                    "input-driven comparison (A all SRK, B half, C all learned) instead")
    ap.add_argument("--cell-input", choices=("section", "cell"), default="section",
                    help="input-driven learned cell: LearnedSectionCell with the ExpSyns in its "
                    "soma (default) or LearnedCell with wi")
    ap.add_argument("--seeds", default="1,2", help="network seeds of the input-driven mode")
    args = ap.parse_args()
    if args.input_model:
        if not os.path.exists(args.input_model):
            sys.exit("input model %s not found: examples/train_input_models.py OUTDIR writes "
                     "OUTDIR/srk_input.nmap" % args.input_model)
        from neuromap import cells, neuron_support as ns
        h = ns.load_mechanisms()
        plot_input(input_mode(args, h, cells, ns), args)
        return
    if not os.path.exists(args.model):
        sys.exit("model %s not found: run scripts/demo.sh (writes out/srk.nmap) or pass a path"
                 % args.model)
    from neuromap import cells, neuron_support as ns
    h = ns.load_mechanisms()

    rng = np.random.default_rng(args.seed)
    n = args.ncells
    vs = rng.uniform(*VS_RANGE, size=n)
    pre = [rng.choice(np.delete(np.arange(n), i), size=args.fanin, replace=False) for i in range(n)]
    delays = [rng.uniform(1.0, 5.0, size=args.fanin) for _ in range(n)]
    w_p = calibrate(h, ns, cells, args.model, args.seed,
                    args.fanin * CAL_CELL_RATE_HZ + BG_RATE_HZ)
    window = args.tstop - TRANSIENT_MS

    results = {}
    for label, mask in (("A: all SRK", np.zeros(n, bool)),
                        ("B: half learned", np.arange(n) % 2 == 1)):
        net = build(h, cells, args.model, vs, pre, delays, mask, w_p, args.seed)
        ns.run(args.tstop, method="fixed", secondorder=2, v_init=-50.0)
        ns.check_cells([c for c in net["cells"] if not isinstance(c, cells.SRKCell)])
        results[label] = (spikes_of(net), mask)
        del net

    print("network of %d cells, fan-in %d, W_SYN %g uS, learned W_P %g mV (calibrated), "
          "%g s after a %g s transient:" % (n, args.fanin, W_SYN, w_p, window / 1000,
                                           TRANSIENT_MS / 1000))
    sa, _ = results["A: all SRK"]
    sb, mask = results["B: half learned"]
    odd, even = np.nonzero(mask)[0], np.nonzero(~mask)[0]
    stats = {
        "A all": summarize("A: all SRK, all cells", sa, range(n), window),
        "B all": summarize("B: half learned, all cells", sb, range(n), window),
        "A repl": summarize("A: the cells replaced in B (SRK)", sa, odd, window),
        "B repl": summarize("B: the replaced cells (learned)", sb, odd, window),
        "A kept": summarize("A: the cells kept in B (SRK)", sa, even, window),
        "B kept": summarize("B: the kept cells (SRK)", sb, even, window),
    }

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(10, 7))
    gs = fig.add_gridspec(2, 3, height_ratios=(1.3, 1))
    top = gs[0, :].subgridspec(1, 2)
    show = (TRANSIENT_MS, min(args.tstop, TRANSIENT_MS + 15000.0))
    for k, (label, (trains, m)) in enumerate(results.items()):
        ax = fig.add_subplot(top[0, k])
        for i, t in enumerate(trains):
            t = t[(t >= show[0]) & (t <= show[1])]
            ax.plot((t - TRANSIENT_MS) / 1000, np.full(len(t), i), "|", ms=3,
                    color="#c0392b" if m[i] else "#1f3b73")
        ax.set_title(label + (" (red: learned)" if m.any() else ""), fontsize=9)
        ax.set_xlabel("time after the transient (s)")
        ax.set_ylabel("cell")
        ax.set_xlim(0, (show[1] - show[0]) / 1000)
    ax = fig.add_subplot(gs[1, 0])
    bins = np.linspace(0, max(s["rates"].max() for s in stats.values()) + 0.5, 20)
    ax.hist(stats["A repl"]["rates"], bins, alpha=0.6, color="#1f3b73", label="SRK (A)")
    ax.hist(stats["B repl"]["rates"], bins, alpha=0.6, color="#c0392b", label="learned (B)")
    ax.set_xlabel("rate of the replaced cells (Hz)")
    ax.legend(fontsize=7)
    ax = fig.add_subplot(gs[1, 1])
    most = max([s["sizes"].max() for s in stats.values() if len(s["sizes"])] + [1])
    bins = np.arange(0.5, most + 1.5)
    for key, color, lab in (("A repl", "#1f3b73", "SRK (A)"), ("B repl", "#c0392b", "learned (B)")):
        if len(stats[key]["sizes"]):
            ax.hist(stats[key]["sizes"], bins, alpha=0.6, color=color, label=lab, density=True)
    ax.set_xlabel("spikes per burst (replaced cells)")
    ax.legend(fontsize=7)
    ax = fig.add_subplot(gs[1, 2])
    keys = ["A all", "B all", "A kept", "B kept", "A repl", "B repl"]
    ax.bar(range(len(keys)), [stats[k]["rates"].mean() for k in keys],
           yerr=[stats[k]["rates"].std() for k in keys],
           color=["#1f3b73" if k.startswith("A") else "#7f8c8d" for k in keys])
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(["A\nall", "B\nall", "A\nkept", "B\nkept", "A\nrepl.", "B\nrepl."],
                       fontsize=7)
    ax.set_ylabel("mean rate (Hz)")
    fig.suptitle("%d SRK beta cells, random excitatory synapses: all mechanistic (A) vs half "
                 "learned (B)" % n, fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
