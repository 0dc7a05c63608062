#!/usr/bin/python3
"""neuromap.pipeline.distill (nm_learned_distill from Python) against
`neuromap distill`.

Usage: test_distill_py.py SCRATCH_DIR --lib LIBNEUROMAP.so
(the neuromap command is LIB/../../bin/neuromap, as CMake lays them out)

* the mirrors DistillOpts / DistillReport are in pipeline.STRUCTS (so the
  size check and test_pipeline_py's offset check cover them) and match the
  library's sizes;
* a tiny SRK teacher (trained by train()) distilled with small settings gives
  the same file, byte for byte, as `neuromap distill` with the same settings
  and command line; without a command, the same entries except meta.command;
  the same seed twice gives the same file; from a LearnedModel and from a path;
* the lean file loads in runtime.LearnedModel and runs (finite V), has a V head
  and the 16-16 map; the report is sane (runs >= 1, macs < teacher_macs,
  V head error >= 0); compare() takes the lean model; progress reaches a
  callable ("teacher runs" stage); a callable returning True and Ctrl-C stop it;
* bad arguments raise with messages naming them.
Exit status 0 when every check passes.
"""

import ctypes
import os
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


# The small settings, as the command's flags and as distill()'s arguments.
SMALL = ["--np", "5", "--duration", "10000", "--rollout-iters", "30", "--map-hidden", "16,16",
         "--vhead-hidden", "8,8", "--threads", "1", "--seed", "1"]
SMALL_KW = dict(np=5, duration_ms=10000, rollout_iters=30, map_hidden=(16, 16), vhead_hidden=(8, 8),
                threads=1, seed=1)


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
    import neuromap
    from neuromap import NeuromapError, compare, distill, simulate, train
    from neuromap import pipeline as pl
    from neuromap.modelfile import read_model
    from neuromap.runtime import LearnedModel

    t_start = time.time()
    # ---- mirrors
    check(pl.DistillOpts in pl.STRUCTS and pl.DistillReport in pl.STRUCTS,
          "DistillOpts / DistillReport are not in pipeline.STRUCTS")
    pl.check_layouts()
    lib_ = pl._lib()
    for s in (pl.DistillOpts, pl.DistillReport):
        n = lib_.nm_abi_sizeof(s._c_name_.encode())
        check(n == ctypes.sizeof(s), "%s: library %d bytes, ctypes %d" % (s._c_name_, n,
                                                                          ctypes.sizeof(s)))
    check(neuromap.distill is distill and "distill" in neuromap.__all__, "neuromap.distill export")

    # ---- a tiny teacher (the smallest training of test_pipeline_py)
    series = []
    for p in (-42, -38, -31):
        t, v = simulate("srk", p=p, duration_ms=30000)
        series.append((v, p, 5.0))
    teacher = train(series, out="teacher.nmap", seed=3, progress=False, vae_epochs=8, map_epochs=5,
                    rollout_iters=60, hidden=(32, 32), map_hidden=(32, 32), threads=2)
    t1 = time.time()
    print("teacher trained in %.1f s" % (t1 - t_start))

    # ---- the command and distill(), same settings and command line
    # (the teacher last: getopt moves it there in the command line the command stores)
    args = ["distill", "--out", "cli.nmap"] + SMALL + ["--quiet", "teacher.nmap"]
    r = subprocess.run([nm] + args, capture_output=True, text=True)
    check(r.returncode == 0, "neuromap distill: %s" % r.stderr)
    t2 = time.time()
    reports = []
    res = distill(teacher, out="py.nmap", progress=reports.append, command=" ".join(args),
                  **SMALL_KW)
    t3 = time.time()
    print("distill: command %.1f s, python %.1f s" % (t2 - t1, t3 - t2))
    a, b = open("cli.nmap", "rb").read(), open("py.nmap", "rb").read()
    check(a == b, "distill: the model file differs from the command's (%d and %d bytes)"
          % (len(a), len(b)))
    check(not [f for f in os.listdir(".") if ".tmp." in f], "temporary files left behind")
    check(teacher.run(-38, 10)[0].shape == (10,),
          "the teacher given as a LearnedModel is left open")

    # the result: the lean model and the report
    check(isinstance(res, pl.DistillResult), "distill returns a DistillResult")
    m = res.model
    check(isinstance(m, LearnedModel) and m.path == "py.nmap",
          "res.model is the file's LearnedModel")
    v, x = m.run(-38, 400)
    check(v.shape == (400,) and np.all(np.isfinite(v)), "the lean model runs (finite V)")
    check(res.runs >= 1 and res.train_runs >= 1 and res.diverged >= 0,
          "report runs: %d used, %d diverged, %d at training p" % (res.runs, res.diverged,
                                                                   res.train_runs))
    check(0 < res.macs < res.teacher_macs, "macs %d not below the teacher's %d"
          % (res.macs, res.teacher_macs))
    check(res.vhead_rms_mv >= 0 and res.vhead_max_mv >= res.vhead_rms_mv,
          "V head error rms %g max %g" % (res.vhead_rms_mv, res.vhead_max_mv))
    check(0 <= res.select_matches <= res.runs and res.start_matches <= res.train_runs,
          "select_matches %d, start_matches %d" % (res.select_matches, res.start_matches))
    check(res.macs == pl._lib().nm_learned_step_macs(m._live()),
          "report macs %d is not nm_learned_step_macs of the lean model" % res.macs)
    ents = read_model("py.nmap")
    check("vhead.sizes" in ents and list(ents["map.sizes"])[1:3] == [16, 16],
          "the lean file: V head and a 16-16 map (map.sizes %s)" % list(ents.get("map.sizes", [])))
    check(ents.get("meta.command") == " ".join(args), "meta.command: %r" % ents.get("meta.command"))
    stages = {p.stage for p in reports}
    check("teacher runs" in stages and any(s.startswith("map") for s in stages),
          "progress stages: %s" % sorted(stages))

    # from the path, without command: everything but meta.command is the command's
    res2 = distill("teacher.nmap", out="py2.nmap", progress=False, **SMALL_KW)
    e2 = read_model("py2.nmap")
    c1 = {k: v for k, v in read_model("cli.nmap").items() if k != "meta.command"}
    c2 = {k: v for k, v in e2.items() if k != "meta.command"}
    same = list(c1) == list(c2) and all(
        (c1[k] == c2[k]) if isinstance(c1[k], str) else np.array_equal(c1[k], c2[k], equal_nan=True)
        for k in c1)
    check(same, "distill without command: entries differ from the command's: %s"
          % sorted(k for k in set(c1) | set(c2) if k not in c1 or k not in c2
                   or not np.array_equal(c1[k], c2[k])))
    check("meta.command" not in e2 or not e2["meta.command"], "meta.command stored without command")
    check(repr(res2[1:]) == repr(res[1:]), "the same seed twice: another report")
    # same seed twice, in memory: the same runs
    res3 = distill("teacher.nmap", progress=False, **SMALL_KW)
    check(res3.model.path == "(distilled in memory)", "in memory: path %r" % res3.model.path)
    check(np.array_equal(res3.model.run(-38, 400)[0], v), "the same seed twice: another lean model")
    res2.model.close()
    res3.model.close()
    # compare takes the lean model
    cr = compare(m, truth="srk", p=[-38], duration_ms=20000, transient_ms=10000, bound_steps=8000)
    check(len(cr.points) == 1 and cr.points[0].learned != "", "compare on the lean model")

    # ---- stopping: a callable returning True, and Ctrl-C (the defaults take ~18 s here)
    raises(NeuromapError, "stopped by the progress callback", distill, "teacher.nmap",
           out="stopped.nmap", progress=lambda pr: pr.stage == "teacher runs", **SMALL_KW)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.time()
    timer.start()
    try:
        distill("teacher.nmap", out="stopped.nmap", progress=False, map_hidden=(16, 16),
                vhead_hidden=(8, 8), threads=1)
        check(False, "Ctrl-C did not stop distill")
    except KeyboardInterrupt:
        dt = time.time() - t0
        check(dt < 10, "distill stopped %.1f s after the start (Ctrl-C after 1 s)" % dt)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old)
    check(not os.path.exists("stopped.nmap"), "a stopped distill wrote its output")

    # ---- bad arguments
    raises(NeuromapError, "np = 1 is not in 2..1000", distill, "teacher.nmap", out="bad.nmap",
           progress=False, **dict(SMALL_KW, np=1))
    raises(ValueError, "np must be >= 0", distill, "teacher.nmap", progress=False,
           **dict(SMALL_KW, np=-1))
    raises(TypeError, "np must be an integer", distill, "teacher.nmap", progress=False,
           **dict(SMALL_KW, np=5.5))
    raises(ValueError, "map_hidden[0] must be >= 1 (got 0)", distill, "teacher.nmap",
           progress=False, **dict(SMALL_KW, map_hidden=(0,)))
    raises(ValueError, "map_hidden: expected 1..4 hidden widths", distill, "teacher.nmap",
           progress=False, **dict(SMALL_KW, map_hidden=(8, 8, 8, 8, 8)))
    raises(ValueError, "vhead_hidden[1] must be >= 1", distill, "teacher.nmap", progress=False,
           **dict(SMALL_KW, vhead_hidden=(8, -2)))
    raises(NeuromapError, "no-such.nmap", distill, "no-such.nmap", progress=False, **SMALL_KW)
    raises(ValueError, "give both p_min and p_max", distill, "teacher.nmap", progress=False,
           p_min=-40, **SMALL_KW)
    raises(ValueError, "p_min (-30) is not below p_max (-40)", distill, "teacher.nmap",
           progress=False, p_min=-30, p_max=-40, **SMALL_KW)
    raises(NeuromapError, "p_extend = -1 is not in 0..10", distill, "teacher.nmap", progress=False,
           p_extend=-1, **SMALL_KW)
    raises(NeuromapError, "duration", distill, "teacher.nmap", progress=False,
           **dict(SMALL_KW, duration_ms=1))
    raises(TypeError, "model must be a runtime.LearnedModel or a model file", distill, 3,
           progress=False)
    raises(TypeError, "progress must be", distill, "teacher.nmap", progress="yes", **SMALL_KW)
    check(not os.path.exists("bad.nmap"), "a failed distill wrote its output")

    print("test_distill_py: %d checks, %d failures (%.1f s)" % (checks, failures,
                                                               time.time() - t_start))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
