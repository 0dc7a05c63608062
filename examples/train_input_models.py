#!/usr/bin/python3
"""Train the input-driven models the input examples use (issue 11).

    /usr/bin/python3 examples/train_input_models.py OUTDIR [--neuromap BIN]
        [--only srk|hh] [--seed 1] [--quick] [-- EXTRA TRAIN ARGS]

Writes OUTDIR/srk_input.nmap and OUTDIR/hh_input.nmap and prints each
training report (`neuromap train` without --quiet: its progress lines and
choices).  The training protocols are never used by the examples to judge
the models (other seeds, other kinds of input there):

SRK (`neuromap simulate --model srk`, input in pA of the C model's 5.3 pF
cell): VS = -42, -40, -38, -36 mV (the network's VS range), 200 s each after
the 20 s transient, sampled every 5 ms, under the sum of
  * conductance synapses like the network's: Poisson events at 20 Hz, each
    adding G = 0.053 nS (tau 5 ms, E 0 mV).  The network's ExpSyns carry
    0.1 nS into SRKCell's 1000 um2 soma (10 pF); on the 5.3 pF cell of the
    C model the same voltage change needs 0.53 x the current, so 0.053 nS
    here is 0.1 nS there (docs/input.md, "Units of the models");
  * a random staircase: a new level every 0.2-3 s (exponential, mean
    0.8 s), 0 with probability 0.4, else uniform in 0..1.2 pA -- the slow
    part of the network's input (EPSCs of about 13 fC; measured in the
    100-cell all-SRK network, C-model equivalent: mean 0.29 pA, SD 0.70 pA
    at 5 ms, 500-ms means up to 1.1 pA);
  * an Ornstein-Uhlenbeck current, mean 0, SD 0.3 pA, tau 10 ms.
  Input seeds 11..14.  Threshold -35 mV (SRKCell's).

HH (NEURON's `hh` in record.hh_soma(), 1000 um2, recorded with
neuromap.record.record_input, input in nA): five series of 2 s after a
200 ms transient at dt 0.025 ms:
  OU (mean, SD nA; tau 3 ms): (0.02, 0.06), (0.05, 0.05), (0.08, 0.04);
  ExpSyn (tau 3 ms, E 0 mV) at 150 Hz x 2 nS + OU (0, 0.02);
  ExpSyn at 300 Hz x 1 nS + OU (0.01, 0.02).  Record seeds 1..5.

--srk-weak: the variant measured second in docs/input.md: VS also -34.5,
synapses at 10 Hz, staircase 0..1.0 pA with zeros at probability 0.6, OU SD
0.2 pA (written to the same file name).
--quick: tiny series and a short training (the smoke tests; seconds).
Training uses `neuromap train`'s defaults (settings chosen from the data)
and --seed; a few minutes each on 2 cores.
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

SRK_VS = (-42.0, -40.0, -38.0, -36.0)
SRK_SYN = "20:0.053:5:0"          # RATE:G(nS):TAU:EREV, C-model units (see the doc)
SRK_OU = "0:0.3:10"               # MEAN:SD(pA):TAU
SRK_STAIR_MAX_PA = 1.2
SRK_STAIR_P0 = 0.4
HH_PROTOCOLS = (                  # (OU mean, SD nA, tau ms; syn rate Hz, g uS) -- syn None: none
    ((0.02, 0.06, 3.0), None),
    ((0.05, 0.05, 3.0), None),
    ((0.08, 0.04, 3.0), None),
    ((0.0, 0.02, 3.0), (150.0, 0.002)),
    ((0.01, 0.02, 3.0), (300.0, 0.001)),
)


def staircase(seed, t_end_ms, max_pa):
    """T0:AMP levels of a random staircase from t = 0 to t_end_ms."""
    rng = np.random.default_rng([seed, 7])
    t, out = 0.0, []
    while t < t_end_ms:
        a = 0.0 if rng.random() < SRK_STAIR_P0 else rng.uniform(0.0, max_pa)
        out.append("%g:%.3f" % (round(t), a))
        t += float(np.clip(rng.exponential(800.0), 200.0, 3000.0))
    return ",".join(out)


def run(cmd, **kw):
    print("+ " + " ".join(cmd if len(" ".join(cmd)) < 400 else cmd[:12] + ["..."]), flush=True)
    subprocess.run(cmd, check=True, **kw)


def train(nm, series, out, seed, extra, quick):
    cmd = [nm, "train"]
    for path, p in series:
        cmd += ["--series", path, "--p", "%g" % p]
    if quick:
        cmd += ["--vae-epochs", "8", "--map-epochs", "3", "--rollout-iters", "150",
                "--ensemble", "1"]
    cmd += ["--seed", str(seed), "--out", out] + extra
    t0 = time.time()
    run(cmd)
    print("trained %s in %.0f s" % (out, time.time() - t0), flush=True)
    run([nm, "info", out], stdout=subprocess.DEVNULL)


def srk(nm, outdir, seed, extra, quick, weak=False):
    global SRK_SYN, SRK_OU, SRK_STAIR_MAX_PA, SRK_STAIR_P0
    vs_list = SRK_VS
    if weak:
        vs_list = SRK_VS + (-34.5,)
        SRK_SYN, SRK_OU, SRK_STAIR_MAX_PA, SRK_STAIR_P0 = "10:0.053:5:0", "0:0.2:10", 1.0, 0.6
    dur = 20000.0 if quick else 200000.0
    series = []
    for k, vs in enumerate(vs_list if not quick else vs_list[::3]):
        path = os.path.join(outdir, "srk_train_%g.csv" % vs)
        run([nm, "simulate", "--model", "srk", "--p", "%g" % vs, "--duration", "%g" % dur,
             "--dt", "5", "--input-syn", SRK_SYN, "--input-ou", SRK_OU,
             "--input-step", staircase(11 + k, 20000.0 + dur, SRK_STAIR_MAX_PA),
             "--input-seed", str(11 + k), "--out", path])
        series.append((path, vs))
    train(nm, series, os.path.join(outdir, "srk_input.nmap"), seed,
          ["--threshold", "-35", "--p-name", "VS", "--p-unit", "mV"] + extra, quick)


def hh(nm, outdir, seed, extra, quick):
    from neuromap import record
    soma = record.hh_soma()
    dur = 300.0 if quick else 2000.0
    series = []
    for k, (o, s) in enumerate(HH_PROTOCOLS if not quick else HH_PROTOCOLS[1:4:2]):
        prot = [record.ou(*o)]
        if s is not None:
            prot.append(record.syn(s[0], s[1], 3.0, 0.0))
        r = record.record_input(soma, prot, duration_ms=dur, transient_ms=200.0,
                                dt_record_ms=0.025, dt_ms=0.025, seed=k + 1)
        path = os.path.join(outdir, "hh_train_%d.csv" % (k + 1))
        record.write_input_csv(path, r.t_ms, r.v_mv, r.i_na)
        nsp = int(np.sum((r.v_mv[1:] >= 0) & (r.v_mv[:-1] < 0)))
        print("recorded %s: %s, seed %d, %d spikes, I %.3f +- %.3f nA"
              % (path, prot, k + 1, nsp, r.i_na.mean(), r.i_na.std()), flush=True)
        series.append((path, 0.0))
    train(nm, series, os.path.join(outdir, "hh_input.nmap"), seed,
          ["--threshold", "0", "--p-name", "I0", "--p-unit", "nA"] + extra, quick)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = []
    if "--" in argv:
        k = argv.index("--")
        argv, extra = argv[:k], argv[k + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--neuromap", default=None,
                    help="the neuromap command (default: build/bin/neuromap, else PATH)")
    ap.add_argument("--only", choices=("srk", "hh"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--srk-weak", action="store_true")
    a = ap.parse_args(argv)
    nm = a.neuromap or os.path.join(ROOT, "build", "bin", "neuromap")
    if not os.path.exists(nm):
        nm = "neuromap"
    os.makedirs(a.outdir, exist_ok=True)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if a.only in (None, "srk"):
        srk(nm, a.outdir, a.seed, extra, a.quick, a.srk_weak)
    if a.only in (None, "hh"):
        hh(nm, a.outdir, a.seed, extra, a.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
