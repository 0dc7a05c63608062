#!/usr/bin/python3
"""The zoo's NEURON case: an `hh` soma under IClamp, recorded through the
Python package (python/neuromap/record.py).  p is the IClamp amplitude (nA).

    PYTHONPATH=python /usr/bin/python3 bench/zoo_neuron_hh.py series --p 0.02,0.1 --out DIR \
        [--noise-mv SD --seed S]
    PYTHONPATH=python /usr/bin/python3 bench/zoo_neuron_hh.py truth --p-min 0 --p-max 0.3 \
        --p-step 0.005 --out truth.csv [--neuromap build/bin/neuromap]

series: one CSV `t_ms,V_mV` per amplitude, DIR/series_<p>.csv with <p> as
  given, for `neuromap train --series FILE --p <p>`.  With --noise-mv SD,
  white Gaussian measurement noise of that SD (mV) is added to the written V
  only (as `neuromap simulate --noise-mv`), series i drawing from seed S + i
  (numpy's default_rng); the recording itself does not depend on the seed.
truth: the regime at every p of the grid A, A+S, ..., B (B included): the
  soma is recorded with the same protocol and each series classified by
  `neuromap analyze --threshold T --format csv`; writes FILE with the columns
  p,regime,period_ms (plus spikes,rate_hz) that `neuromap compare MODEL
  --truth-table FILE` reads, after a '#' line naming the protocol.
Protocol (both): --dt (recording step, default 0.1 ms), --duration (2000 ms
  recorded), --transient (500 ms dropped), --method fixed|cvode|lvardt,
  --sim-dt (fixed step, 0.025 ms), --celsius (6.3), --diam (17.841 um: 1000
  um2).  Bad arguments: one line naming the problem, exit status 2.
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")

from neuromap import record  # noqa: E402


def fail(msg, status=2):
    print("zoo_neuron_hh.py: %s" % msg, file=sys.stderr)
    sys.exit(status)


def finite(name):
    def conv(s):
        try:
            x = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError("%s: '%s' is not a number" % (name, s)) from None
        if not math.isfinite(x):
            raise argparse.ArgumentTypeError("%s: '%s' is not finite" % (name, s))
        return x
    return conv


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="zoo_neuron_hh.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dt", type=finite("--dt"), default=0.1, help="recording step (ms)")
    common.add_argument("--duration", type=finite("--duration"), default=2000.0,
                        help="recorded span (ms)")
    common.add_argument("--transient", type=finite("--transient"), default=500.0,
                        help="dropped first (ms)")
    common.add_argument("--method", choices=("fixed", "cvode", "lvardt"), default="fixed")
    common.add_argument("--sim-dt", type=finite("--sim-dt"), default=0.025,
                        help="fixed integration step (ms)")
    common.add_argument("--celsius", type=finite("--celsius"), default=6.3)
    common.add_argument("--diam", type=finite("--diam"), default=record.HH_SOMA_DIAM_UM,
                        help="L = diam of the soma (um)")
    common.add_argument("--out", required=True)
    s = sub.add_parser("series", parents=[common], help="training series")
    s.add_argument("--p", required=True, help="comma-separated amplitudes (nA)")
    s.add_argument("--noise-mv", type=finite("--noise-mv"), default=0.0)
    s.add_argument("--seed", type=int, default=1)
    t = sub.add_parser("truth", parents=[common], help="regime table over a grid")
    t.add_argument("--p-min", type=finite("--p-min"), required=True)
    t.add_argument("--p-max", type=finite("--p-max"), required=True)
    t.add_argument("--p-step", type=finite("--p-step"), required=True)
    t.add_argument("--threshold", type=finite("--threshold"), default=0.0,
                   help="spike threshold (mV)")
    t.add_argument("--neuromap", default=os.path.join(HERE, "..", "build", "bin", "neuromap"),
                   help="the neuromap command (for analyze)")
    a = ap.parse_args(argv)
    if a.cmd == "series" and a.noise_mv < 0:
        fail("--noise-mv must be >= 0 (got %g)" % a.noise_mv)
    return a


def record_all(a, amps):
    from neuron import h
    h.celsius = a.celsius
    soma = record.hh_soma(diam_um=a.diam)
    try:
        return record.record_iclamp(soma, amps, duration_ms=a.duration, transient_ms=a.transient,
                                    dt_record_ms=a.dt, method=a.method, dt_ms=a.sim_dt)
    except (ValueError, TypeError) as e:
        fail(str(e))


def cmd_series(a):
    labels = [x.strip() for x in a.p.split(",")]
    try:
        amps = [float(x) for x in labels]
    except ValueError:
        fail("--p: '%s' is not a comma-separated list of numbers" % a.p)
    if not all(math.isfinite(x) for x in amps):
        fail("--p: '%s' has a value that is not finite" % a.p)
    os.makedirs(a.out, exist_ok=True)
    for i, (lab, r) in enumerate(zip(labels, record_all(a, amps))):
        v = r.v_mv
        if a.noise_mv > 0:
            v = v + np.random.default_rng(a.seed + i).normal(0.0, a.noise_mv, len(v))
        path = os.path.join(a.out, "series_%s.csv" % lab)
        record.write_series_csv(path, r.t_ms, v)
        print(path)


def analyze(neuromap, path, threshold):
    r = subprocess.run([neuromap, "analyze", "--threshold", repr(threshold), "--format", "csv",
                        path], capture_output=True, text=True)
    if r.returncode != 0:
        fail("neuromap analyze %s failed: %s" % (path, r.stderr.strip()), 1)
    head, row = r.stdout.strip().split("\n")[:2]
    return dict(zip(head.split(","), row.split(",")))


def cmd_truth(a):
    if a.p_step <= 0:
        fail("--p-step must be > 0 (got %g)" % a.p_step)
    if a.p_max < a.p_min:
        fail("--p-max %g is below --p-min %g" % (a.p_max, a.p_min))
    n = int(math.floor((a.p_max - a.p_min) / a.p_step + 1e-9)) + 1
    if n > 10000:
        fail("the grid has %d points, more than 10000" % n)
    if not (os.path.isfile(a.neuromap) and os.access(a.neuromap, os.X_OK)):
        fail("--neuromap: no executable at %s" % a.neuromap)
    grid = [float("%.10g" % (a.p_min + i * a.p_step)) for i in range(n)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="zoo_nhh_") as tmp:
        for r in record_all(a, grid):
            path = os.path.join(tmp, "v.csv")
            record.write_series_csv(path, r.t_ms, r.v_mv)
            x = analyze(a.neuromap, path, a.threshold)
            rows.append("%.10g,%s,%s,%s,%s" % (r.amp_na, x["regime"], x["period_ms"], x["spikes"],
                                               x["rate_hz"]))
    tmp_out = "%s.tmp.%d" % (a.out, os.getpid())
    with open(tmp_out, "w") as f:
        f.write("# neuron hh soma (diam %g um, %g degC), IClamp amp p (nA); dt %g ms, duration %g "
                "ms, transient %g ms, method %s (sim dt %g ms), threshold %g mV\n"
                % (a.diam, a.celsius, a.dt, a.duration, a.transient, a.method, a.sim_dt,
                   a.threshold))
        f.write("p,regime,period_ms,spikes,rate_hz\n")
        f.write("\n".join(rows) + "\n")
    os.replace(tmp_out, a.out)
    print(a.out)


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if a.cmd == "series":
        cmd_series(a)
    else:
        cmd_truth(a)


if __name__ == "__main__":
    main()
