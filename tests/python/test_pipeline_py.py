#!/usr/bin/python3
"""The pipeline as library calls (python/neuromap/pipeline.py) against the
command that does the same through the same library.

Usage: test_pipeline_py.py SCRATCH_DIR --lib LIBNEUROMAP.so
(the neuromap command is LIB/../../bin/neuromap, as CMake lays them out)

* layouts: every ctypes mirror against include/neuromap.h, field by field
  (sizeof and offsetof printed by a C program compiled here; skipped with a
  note when there is no C compiler), and the run-time size check
  (nm_abi_sizeof) refuses a mismatched library;
* simulate() gives `neuromap simulate`'s samples (srk with noise, seed and
  a parameter; hh with its own protocol);
* train() on three short SRK series with tiny settings gives the same model
  file, byte for byte, as `neuromap train` with the same data, options and
  seed (settings chosen from the data by nm_autoset on both sides); the same
  from lists and from an object with to_python() (a NEURON Vector's
  interface); progress reaches a callable;
* compare() gives the command's table (regimes, periods, match), its
  agreement and metric rows, with a built-in truth and a truth table;
* Ctrl-C stops a training within seconds (KeyboardInterrupt);
* bad inputs raise NeuromapError with the library's message (or ValueError /
  TypeError for Python-side shapes and names).
Exit status 0 when every check passes.
"""

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "python"))

failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL: %s" % what, flush=True)


def raises(exc, needle, fn, *args, **kw):
    """fn(*args, **kw) must raise exc whose message contains needle."""
    try:
        fn(*args, **kw)
    except exc as e:
        check(needle in str(e), "%s: message %r lacks %r" % (exc.__name__, str(e), needle))
        return e
    except Exception as e:  # noqa: BLE001
        check(False, "expected %s (%r), got %s: %s" % (exc.__name__, needle, type(e).__name__, e))
        return None
    check(False, "expected %s (%r), nothing raised" % (exc.__name__, needle))
    return None


def main():
    if len(sys.argv) != 4 or sys.argv[2] != "--lib":
        print(__doc__)
        return 2
    scratch, lib = sys.argv[1], os.path.abspath(sys.argv[3])
    nm = os.path.normpath(os.path.join(os.path.dirname(lib), "..", "bin", "neuromap"))
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    os.chdir(scratch)
    os.environ["NEUROMAP_LIB"] = lib
    import numpy as np
    from neuromap import NeuromapError, compare, simulate, train
    from neuromap import pipeline as pl

    t_start = time.time()
    test_layouts(pl)
    test_simulate(np, nm, simulate)
    model = test_train(np, nm, train, pl)
    test_compare(np, nm, compare, model)
    test_interrupt(np, train, compare, model)
    test_bad_inputs(np, simulate, train, compare, NeuromapError, model)
    print("test_pipeline_py: %d checks, %d failures (%.1f s)" % (checks, failures,
                                                                time.time() - t_start))
    return 1 if failures else 0


# ---- layouts ---------------------------------------------------------------------

def test_layouts(pl):
    import ctypes
    pl.check_layouts()
    check(True, "check_layouts")
    # The run-time check refuses a library whose sizes differ.
    class FakeLib:
        def nm_abi_sizeof(self, name):
            return 8 if name == b"nm_learn_opts" else ctypes.sizeof(
                next(s for s in pl.STRUCTS if s._c_name_.encode() == name))
    try:
        pl._check_sizes(FakeLib())
        check(False, "a mismatched nm_learn_opts was accepted")
    except pl.NeuromapError as e:
        check("nm_learn_opts: library 8 bytes" in str(e), "size mismatch message: %s" % e)

    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        print("note: no C compiler: offsets not checked against the header")
        return
    lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "neuromap.h"', 'int main(void) {']
    expect = {}
    for s in pl.STRUCTS:
        c = s._c_name_
        lines.append('printf("%s %%zu\\n", sizeof(%s));' % (c, c))
        expect[c] = ctypes.sizeof(s)
        for f in s._fields_:
            lines.append('printf("%s.%s %%zu %%zu\\n", offsetof(%s, %s), sizeof(((%s *)0)->%s));'
                         % (c, f[0], c, f[0], c, f[0]))
            expect["%s.%s" % (c, f[0])] = "%d %d" % (getattr(s, f[0]).offset,
                                                     getattr(s, f[0]).size)
        # every member of the C struct must be mirrored: the last field ends
        # where the struct (minus padding) ends, checked through sizeof above
    lines.append("return 0; }")
    with open("layout.c", "w") as f:
        f.write("\n".join(lines) + "\n")
    r = subprocess.run([cc, "-std=c11", "-I", os.path.join(SRC, "include"), "layout.c", "-o", "layout"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "layout program does not compile: %s" % r.stderr[-2000:])
    if r.returncode:
        return
    out = subprocess.run(["./layout"], capture_output=True, text=True, check=True).stdout
    seen = 0
    for line in out.splitlines():
        key, val = line.split(" ", 1)
        want = expect[key]
        got = int(val) if "." not in key else val
        check(got == want, "layout of %s: C %s, ctypes %s" % (key, got, want))
        seen += 1
    check(seen == len(expect), "layout lines: %d of %d" % (seen, len(expect)))


# ---- simulate --------------------------------------------------------------------

def read_csv(path):
    with open(path) as f:
        rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    return rows[0], rows[1:]


def test_simulate(np, nm, simulate):
    cases = [
        (["--model", "srk", "--p", "-38", "--duration", "5000", "--noise-mv", "1", "--seed", "7",
          "--param", "tauS=4000"],
         dict(model="srk", p=-38, duration_ms=5000, noise_mv=1, seed=7, tauS=4000)),
        (["--model", "hh", "--p", "10", "--duration", "100"], dict(model="hh", p=10, duration_ms=100)),
        (["--model", "srk", "--duration", "2000", "--dt", "2.5", "--transient", "100"],
         dict(duration_ms=2000, dt_ms=2.5, transient_ms=100)),
    ]
    for k, (args, kw) in enumerate(cases):
        subprocess.run([nm, "simulate"] + args + ["--out", "sim%d.csv" % k], check=True,
                       capture_output=True)
        _, rows = read_csv("sim%d.csv" % k)
        t, v = simulate(**kw)
        check(len(t) == len(rows), "simulate %s: %d samples, command %d" % (kw, len(t), len(rows)))
        # the command writes %.10g: the same text for every sample
        bad = [i for i, r in enumerate(rows[:len(t)])
               if r[0] != "%.10g" % t[i] or r[1] != "%.10g" % v[i]]
        check(not bad, "simulate %s: %d samples differ from the command's, first %s vs %r"
              % (kw, len(bad), rows[bad[0]] if bad else "", (t[bad[0]], v[bad[0]]) if bad else ""))


# ---- train -------------------------------------------------------------------------

TINY = ["--vae-epochs", "8", "--map-epochs", "5", "--rollout-iters", "60", "--hidden", "32,32",
        "--map-hidden", "32,32", "--threads", "2", "--seed", "3", "--quiet"]
TINY_KW = dict(vae_epochs=8, map_epochs=5, rollout_iters=60, hidden=(32, 32), map_hidden=[32, 32],
               threads=2)


class VectorLike:
    """What pipeline.py uses of a NEURON h.Vector: to_python()."""

    def __init__(self, v):
        self._v = list(v)

    def to_python(self):
        return list(self._v)


def test_train(np, nm, train, pl):
    from neuromap import simulate
    from neuromap.runtime import LearnedModel
    series, args = [], ["train"]
    for p in (-42, -38, -31):
        t, v = simulate("srk", p=p, duration_ms=30000)
        np.save("s%g.npy" % p, v)
        series.append((v, p, 5.0))
        args += ["--series", "s%g.npy" % p, "--p", "%g" % p]
    args += ["--dt", "5"] + TINY + ["--out", "cli.nmap"]
    t0 = time.time()
    r = subprocess.run([nm] + args, capture_output=True, text=True)
    check(r.returncode == 0, "neuromap train: %s" % r.stderr)
    t1 = time.time()
    reports = []
    m = train(series, out="py.nmap", seed=3, progress=reports.append, command=" ".join(args),
              **TINY_KW)
    t2 = time.time()
    print("train: command %.1f s, python %.1f s" % (t1 - t0, t2 - t1))
    a, b = open("cli.nmap", "rb").read(), open("py.nmap", "rb").read()
    check(a == b, "train: the model file differs from the command's (%d and %d bytes)" % (len(a), len(b)))
    check(isinstance(m, LearnedModel) and list(m.train_p) == [-42, -38, -31] and m.dt_ms == 5,
          "train returns the LearnedModel of the file")
    check(not [f for f in os.listdir(".") if ".tmp." in f], "temporary files left behind")
    stages = {p.stage for p in reports}
    check("vae" in stages and any(s.startswith("map") for s in stages),
          "progress stages: %s" % sorted(stages))
    check(all(isinstance(p, pl.Progress) and 1 <= p.epoch <= p.epochs for p in reports),
          "progress reports are Progress tuples with epoch in 1..epochs")
    # The same data as lists and as Vector-likes, without out: the same model.
    series2 = [(list(series[0][0]), -42, 5.0), (VectorLike(series[1][0]), -38, 5.0),
               (series[2][0].tolist(), -31)]
    m2 = train(series2, seed=3, progress=False, dt_ms=5.0, command=" ".join(args), **TINY_KW)
    check(m2.path == "(trained in memory)", "a model trained without out: path %r" % m2.path)
    x = m.run(-38, 500)[0]
    check(np.array_equal(x, m2.run(-38, 500)[0]), "lists / to_python() series give another model")
    # Options the command has but the data decides: the autoset lines are
    # printed with progress=True (standard error).
    return m


# ---- compare ------------------------------------------------------------------------

RUN = ["--duration", "20000", "--transient", "10000", "--bound-steps", "8000", "--quiet"]
RUN_KW = dict(duration_ms=20000, transient_ms=10000, bound_steps=8000)


def command_compare(nm, args):
    r = subprocess.run([nm, "compare"] + args + RUN + ["--format", "csv"], capture_output=True, text=True)
    check(r.returncode == 0, "neuromap compare %s: %s" % (args, r.stderr))
    rows = list(csv.reader(r.stdout.splitlines()))
    return rows[0], rows[1:], r.stderr


def same_table(res, rows, what):
    check(len(res.points) == len(rows), "%s: %d points, command %d" % (what, len(res.points), len(rows)))
    for pt, row in zip(res.points, rows):
        p, tr, tper, lr, lper, match = row
        ok = (float(p) == pt.p and tr == pt.truth and lr == pt.learned and int(match) == pt.match)
        if tper:
            ok = ok and "%.6g" % pt.truth_period_ms == tper
        if lper:
            ok = ok and "%.6g" % pt.learned_period_ms == lper
        check(ok, "%s at p = %s: command %s, python %s %s %s %g %g" % (what, p, row, pt.truth,
                                                                     pt.learned, pt.match,
                                                                     pt.truth_period_ms,
                                                                     pt.learned_period_ms))


def test_compare(np, nm, compare, model):
    header, rows, summary = command_compare(nm, ["cli.nmap", "--truth", "srk", "--p-min", "-46",
                                                 "--p-max", "-30", "--p-step", "2"])
    stages = []
    res = compare(model, truth="srk", p_min=-46, p_max=-30, p_step=2,
                  progress=lambda p: stages.append(p.stage), **RUN_KW)
    same_table(res, rows, "compare --truth srk")
    m = re.search(r"agreement: (\d+)/(\d+) = ([0-9.]+)%", summary)
    check(m and int(m.group(1)) == res.matches and int(m.group(2)) == len(res.points),
          "agreement: command %s, python %d/%d" % (m and m.group(0), res.matches, len(res.points)))
    check(m and "%.1f" % (100 * res.agreement) == m.group(3), "agreement percent")
    check(abs(res.agreement - res.matches / len(res.points)) < 1e-15, "agreement = matches / points")
    # metric rows: truth and learned regimes, W1/D_H/D_stsp as the command prints them
    for met in res.metrics:
        vals = ["n/a" if not np.isfinite(x) else fmt % x
                for x, fmt in ((met.w1, "%.2f"), (met.w1_rel, "%.3f"), (met.dh, "%.3f"),
                               (met.dstsp, "%.3f"))]
        pat = r"^ +%s +%s +%s +%s +%s +%s +%s +simulated$" % (
            re.escape("%.4g" % met.p), re.escape(met.truth), re.escape(met.learned),
            *[re.escape(v) for v in vals])
        check(re.search(pat, summary, re.M), "metric row at p = %g: %s not in\n%s" % (met.p, vals, summary))
    check(len(res.metrics) == 3, "metrics at the 3 training p: %d" % len(res.metrics))
    check({"compare truth", "compare learned", "compare metrics"} <= set(stages),
          "compare progress stages: %s" % sorted(set(stages)))
    bl = re.search(r"bounded runs: (\d+)/", summary)
    check(bl and int(bl.group(1)) == res.bounded, "bounded runs")

    # a truth table: the command's --truth-table and truth_table= agree
    subprocess.run([nm, "sweep", "--model", "srk", "--p-min", "-46", "--p-max", "-30", "--p-step", "2",
                    "--duration", "20000", "--transient", "10000", "--format", "csv", "--quiet",
                    "--out", "sweep.csv"], check=True)
    _, trows, tsum = command_compare(nm, ["cli.nmap", "--truth-table", "sweep.csv"])
    tres = compare("cli.nmap", truth=None, truth_table="sweep.csv", **RUN_KW)
    same_table(tres, trows, "compare --truth-table")
    check(tres.matches == res.matches and not tres.metrics, "truth table: same matches, no metrics")
    # the regimes given as labels (and periods) give the same
    lres = compare(model, truth=None, p=[pt.p for pt in res.points],
                   truth_regimes=[(pt.truth, pt.truth_period_ms) for pt in res.points], **RUN_KW)
    check([pt.match for pt in lres.points] == [pt.match for pt in res.points],
          "truth_regimes as (label, period) pairs")
    # truth alone
    alone = compare(None, truth="srk", p=[-38, -32], **RUN_KW)
    check(np.isnan(alone.agreement) and [pt.truth for pt in alone.points] == [r[1] for r in rows[4:8:3]],
          "truth alone: %s" % [pt.truth for pt in alone.points])
    # a recorded truth series: one metric row, recorded
    v = np.load("s-38.npy")
    rres = compare(model, truth=None, truth_table="sweep.csv", truth_series=[(v, -38, 5.0)], **RUN_KW)
    check(len(rres.metrics) == 1 and rres.metrics[0].recorded and rres.metrics[0].truth == "(recorded)",
          "truth series metrics")
    # a callable that asks to stop
    stop = raises(Exception, "stopped by the progress callback", compare, model, truth="srk",
                  p=[-40, -38, -36], progress=lambda p: True, **RUN_KW)
    check(stop is not None and type(stop).__name__ == "NeuromapError", "stop raises NeuromapError")


# ---- Ctrl-C ------------------------------------------------------------------------------

def test_interrupt(np, train, compare, model):
    series = [(np.load("s%g.npy" % p), p, 5.0) for p in (-42, -38, -31)]
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.time()
    timer.start()
    try:
        train(series, seed=3, progress=False, rollout_iters=10 ** 6, ensemble=1, hidden=(32, 32),
              map_hidden=(32, 32))
        check(False, "Ctrl-C did not stop train")
    except KeyboardInterrupt:
        dt = time.time() - t0
        check(dt < 30, "train stopped %.1f s after the start (Ctrl-C after 1 s)" % dt)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old)
    # the library is usable afterwards
    res = compare(model, truth="srk", p=[-38], **RUN_KW)
    check(len(res.points) == 1, "compare after an interrupted train")


# ---- bad inputs ----------------------------------------------------------------------------

def test_bad_inputs(np, simulate, train, compare, NeuromapError, model):
    raises(NeuromapError, "unknown model", simulate, "fitzhugh")
    raises(NeuromapError, "duration_ms must be finite and > 0", simulate, duration_ms=-5)
    raises(NeuromapError, "bogus", simulate, bogus=1)
    v = np.load("s-38.npy").copy()
    v[100] = np.nan
    raises(NeuromapError, "not finite", train, [(v, -38, 5.0)], progress=False)
    raises(ValueError, "no sampling step", train, [(v, -38)], progress=False)
    raises(ValueError, "expected (v, p)", train, [v], progress=False)
    raises(ValueError, "one-dimensional", train, [(np.zeros((4, 4)), -38, 5.0)], progress=False)
    raises(TypeError, "unknown option(s) epochs", train, [(v, -38, 5.0)], epochs=3)
    raises(NeuromapError, "p[1] is not finite", compare, model, truth="srk", p=[-40, float("nan")])
    raises(NeuromapError, "must increase", compare, model, truth="srk", p=[-38, -40])
    raises(NeuromapError, "no control values", compare, model, truth="srk", p=[])
    raises(NeuromapError, "stsp_dim must be 1..3 (got 4)", compare, model, truth="srk", p=[-38], stsp_dim=4)
    raises(NeuromapError, "unknown model", compare, model, truth="fitzhugh", p=[-38])
    raises(NeuromapError, "V[100] is not finite", compare, model, truth="srk", p=[-38],
           truth_series=[(v, -38, 5.0)], **RUN_KW)
    raises(ValueError, "2 truth regimes for 3 values of p", compare, model, truth=None, p=[-40, -38, -36],
           truth_regimes=["silent", "silent"])
    raises(NeuromapError, "truth_regimes[0] 'bursting'", compare, model, truth=None, p=[-40],
           truth_regimes=["bursting"])
    raises(NeuromapError, "cannot open", compare, "no-such.nmap", truth="srk", p=[-38])
    raises(ValueError, "no ground truth", compare, model, truth=None, p=[-38])


if __name__ == "__main__":
    sys.exit(main())
