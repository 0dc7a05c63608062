#!/usr/bin/env python3
"""Input-driven reconstruction of a NEURON hh soma (issue 11): record, train, predict.

    /usr/bin/python3 bench/input_hh.py OUTDIR [--seeds 1,2] [--neuromap BIN] [-- TRAIN ARGS...]

1. Records an `hh` soma (1000 um2, NEURON, fixed step 0.025 ms) under
   Ornstein-Uhlenbeck current (tau 3 ms) at TRAIN_PROTOCOLS (mean, SD in nA),
   each 2 s after a 200 ms transient, with input seeds 1..4, and writes
   t_ms,V_mV,I_nA series.
2. Held-out recordings the training never sees: other seeds (101..) AND other
   means and SDs (HELDOUT_PROTOCOLS); current steps from rest (STEP_LEVELS);
   Poisson trains of current-based EPSCs from rest (EPSC_PROTOCOLS); constant
   currents for the f-I curve (FI_LEVELS).
3. For every training seed: `neuromap train` (model seed s) on the training
   series, then `neuromap predict` on every held-out recording.
Prints per recording gamma (delta 2 ms), spike counts, latency errors, and
per model the issue's target numbers: mean and worst gamma on held-out
fluctuating current, step latency error, EPSC spike-count error, f-I error.
Writes OUTDIR/results.csv (one row per model x recording).
"""
import argparse
import csv
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))

TRAIN_PROTOCOLS = [(0.02, 0.06), (0.05, 0.05), (0.08, 0.04), (0.0, 0.08)]
HELDOUT_PROTOCOLS = [(0.04, 0.05), (0.07, 0.03), (0.01, 0.07), (0.06, 0.065)]
STEP_LEVELS = [0.03, 0.06, 0.1]            # nA, from rest, 100 ms on, 100 ms off, repeated
EPSC_PROTOCOLS = [(100.0, 0.15, 2.0), (200.0, 0.1, 2.0), (400.0, 0.06, 2.0)]  # rate Hz, w nA, tau ms
FI_LEVELS = [0.03, 0.05, 0.08, 0.12]       # nA, constant
TAU_OU_MS = 3.0


def record_all(outdir):
    from neuron import h  # noqa: F401  (NEURON must be importable)
    from neuromap import record
    soma = record.hh_soma()
    files = {"train": [], "heldout": [], "step": [], "epsc": [], "fi": []}

    def rec(kind, name, protocol, seed, duration=2000.0):
        path = os.path.join(outdir, name + ".csv")
        if not os.path.exists(path):
            r = record.record_input(soma, protocol, duration_ms=duration, transient_ms=200.0,
                                    dt_record_ms=0.025, dt_ms=0.025, seed=seed)
            record.write_input_csv(path, r.t_ms, r.v_mv, r.i_na)
        files[kind].append(path)

    for i, (m, s) in enumerate(TRAIN_PROTOCOLS):
        rec("train", "train_%d" % (i + 1), [record.ou(m, s, TAU_OU_MS)], seed=i + 1)
    for i, (m, s) in enumerate(HELDOUT_PROTOCOLS):
        rec("heldout", "heldout_%d" % (i + 1), [record.ou(m, s, TAU_OU_MS)], seed=101 + i, duration=1000.0)
    for a in STEP_LEVELS:
        levels = []
        for k in range(5):
            t0 = 200.0 + 200.0 * k
            levels += [(t0, a), (t0 + 100.0, 0.0)]
        rec("step", "step_%g" % a, [record.step(levels)], seed=1, duration=1000.0)
    for i, (rate, w, tau) in enumerate(EPSC_PROTOCOLS):
        rec("epsc", "epsc_%d" % (i + 1), [record.poisson(rate, w, tau)], seed=201 + i, duration=1000.0)
    for a in FI_LEVELS:
        rec("fi", "fi_%g" % a, [record.step([(0.0, a)])], seed=1, duration=1000.0)
    return files


def parse(out):
    g = re.search(r"^gamma: (-?[0-9.]+)", out, re.M)
    sp = re.search(r"^spikes: data (\d+), model (\d+), coincident (\d+)", out, re.M)
    lat = re.search(r"mean \|error\| ([0-9.]+) ms, max ([0-9.]+) ms", out)
    return {"gamma": float(g.group(1)) if g else float("nan"),
            "n_data": int(sp.group(1)) if sp else -1, "n_model": int(sp.group(2)) if sp else -1,
            "lat_mean": float(lat.group(1)) if lat else float("nan"),
            "lat_max": float(lat.group(2)) if lat else float("nan")}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = []
    if "--" in argv:
        k = argv.index("--")
        argv, extra = argv[:k], argv[k + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--neuromap", default=os.path.join(os.path.dirname(HERE), "build", "bin", "neuromap"))
    a = ap.parse_args(argv)
    os.makedirs(a.outdir, exist_ok=True)
    files = record_all(a.outdir)
    rows = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        model = os.path.join(a.outdir, "model_s%d.nmap" % seed)
        args = [a.neuromap, "train"]
        for f in files["train"]:
            args += ["--series", f, "--p", "0"]
        args += ["--seed", str(seed), "--quiet", "--out", model] + extra
        subprocess.run(args, check=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        for kind in ("heldout", "step", "epsc", "fi"):
            for f in files[kind]:
                out = subprocess.run([a.neuromap, "predict", model, "--series", f], check=True,
                                     capture_output=True, text=True).stdout
                r = parse(out)
                r.update(seed=seed, kind=kind, series=os.path.basename(f))
                rows.append(r)
                print("seed %d %-8s %-14s gamma %6.3f spikes %4d/%4d latency err %s ms" % (
                    seed, kind, r["series"], r["gamma"], r["n_model"], r["n_data"],
                    "%.2f (max %.2f)" % (r["lat_mean"], r["lat_max"]) if r["lat_mean"] == r["lat_mean"] else "-"),
                    flush=True)
    with open(os.path.join(a.outdir, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["seed", "kind", "series", "gamma", "n_data", "n_model", "lat_mean", "lat_max"])
        w.writeheader()
        w.writerows(rows)
    print("\nper model (targets: gamma >= 0.9 on held-out fluctuating current; step latency within 1 ms; "
          "EPSC and f-I spike counts within 10% / 5%):")
    for seed in sorted({r["seed"] for r in rows}):
        rs = [r for r in rows if r["seed"] == seed]
        g = [r["gamma"] for r in rs if r["kind"] == "heldout"]
        lat = [r["lat_max"] for r in rs if r["kind"] == "step" and r["lat_max"] == r["lat_max"]]
        ep = [abs(r["n_model"] - r["n_data"]) / max(1, r["n_data"]) for r in rs if r["kind"] == "epsc"]
        fi = [abs(r["n_model"] - r["n_data"]) / max(1, r["n_data"]) for r in rs if r["kind"] == "fi"]
        print("seed %d: gamma mean %.3f worst %.3f | step latency max err %s ms | EPSC count err max %.0f%% | "
              "f-I count err max %.0f%%" % (seed, sum(g) / len(g), min(g),
                                            "%.2f" % max(lat) if lat else "-", 100 * max(ep), 100 * max(fi)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
