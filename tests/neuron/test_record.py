"""python/neuromap/record.py: an hh soma recorded under IClamp for training.

Usage: /usr/bin/python3 test_record.py --pydir SRC/python --workdir DIR
           [--neuromap BUILD/bin/neuromap] [--bench SRC/bench/zoo_neuron_hh.py]

Checks (NEURON's built-in hh only; no mechanism library is loaded):
  * hh_soma is one compartment of 1000 um2 with hh, cm 1;
  * record_iclamp at a sub-threshold and a supra-threshold amplitude gives V
    at transient + k * dt_record (k = 0..duration/dt_record) with the fixed
    step and CVode; the sub-threshold one rests (no spike, V settled), the
    supra-threshold one fires at the rate of the same soma run directly in
    NEURON (a NetCon at 0 mV, no recorder), within one spike, and at the
    rate of the hh model (68.5 Hz at 0.1 nA = 10 uA/cm2, docs/models.md);
  * NEURON's integrator settings (CVode, dt, secondorder) and the cell are
    as before (no IClamp left behind);
  * write_series: files series_<amp>.csv, header t_ms,V_mV, the values
    (10 digits); with --neuromap, `neuromap analyze` reads them and finds
    the same spikes;
  * with --bench and --neuromap: zoo_neuron_hh.py writes noisy series of the
    requested SD (seeded: same seed, same file) and a truth table that
    `neuromap compare --truth-table` accepts;
  * bad inputs raise ValueError/TypeError naming the argument.
"""

import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srk_common as sc  # noqa: E402

check = sc.check
TestFailure = sc.TestFailure

DUR_MS, TRANS_MS, DT_REC = 1000.0, 200.0, 0.1
SUB_NA, SUPRA_NA = 0.03, 0.1
RATE_HZ_01 = 68.5      # hh sweep at 10 uA/cm2 (and NEURON's soma at 0.1 nA), 2 s window
THRESH_MV = 0.0


def spikes(t, v, thr=THRESH_MV, hyst=2.0):
    """Upward crossings of thr (interpolated), re-armed below thr - hyst."""
    out, armed = [], v[0] < thr - hyst
    for i in range(1, len(v)):
        if armed and v[i - 1] < thr <= v[i]:
            out.append(t[i - 1] + (thr - v[i - 1]) / (v[i] - v[i - 1]) * (t[i] - t[i - 1]))
            armed = False
        elif v[i] < thr - hyst:
            armed = True
    return np.array(out)


def direct_spikes(h, amp):
    """The same soma, run directly: IClamp, NetCon threshold 0, fixed step
    0.025 ms (Crank-Nicolson, as record_iclamp's default)."""
    from neuromap import record
    sec = record.hh_soma(name="direct")
    stim = h.IClamp(sec(0.5))
    stim.delay, stim.dur, stim.amp = 0.0, 1e9, amp
    nc = h.NetCon(sec(0.5)._ref_v, None, sec=sec)
    nc.threshold = THRESH_MV
    tv = h.Vector()
    nc.record(tv)
    h.dt = 0.025
    h.secondorder = 2
    h.finitialize(-65.0)
    h.continuerun(TRANS_MS + DUR_MS)
    h.secondorder = 0
    t = np.array(tv.to_python())
    return t[(t >= TRANS_MS) & (t <= TRANS_MS + DUR_MS)]


def test_soma(h, record):
    sec = record.hh_soma()
    check(abs(sec(0.5).area() - 1000.0) < 0.1, "hh_soma area %.3f um2 ~ 1000" % sec(0.5).area())
    check(sec.nseg == 1 and sec.cm == 1.0 and hasattr(sec(0.5), "hh")
          and abs(sec(0.5).hh.gnabar - 0.12) < 1e-12, "hh_soma: nseg 1, cm 1, hh")
    return sec


def test_recordings(h, record, sec):
    n = int(round(DUR_MS / DT_REC)) + 1
    want_t = TRANS_MS + DT_REC * np.arange(n)
    cv = h.CVode()
    h.dt, h.secondorder = 0.05, 0
    npp_before = len(list(h.List("IClamp")))
    res = {}
    for method in ("fixed", "cvode"):
        recs = record.record_iclamp(sec, [SUB_NA, SUPRA_NA], duration_ms=DUR_MS,
                                    transient_ms=TRANS_MS, dt_record_ms=DT_REC, method=method)
        check([r.amp_na for r in recs] == [SUB_NA, SUPRA_NA], "%s: one recording per amplitude"
              % method)
        for r in recs:
            check(len(r.t_ms) == n and len(r.v_mv) == n and np.allclose(r.t_ms, want_t, 0, 1e-9),
                  "%s, %g nA: %d samples at %g + k*%g ms" % (method, r.amp_na, n, TRANS_MS, DT_REC))
        sub, sup = recs
        check(len(spikes(sub.t_ms, sub.v_mv)) == 0 and sub.v_mv.max() < -55
              and np.ptp(sub.v_mv[-1000:]) < 0.01,
              "%s, %g nA: no spike, rests at %.3f mV (max %.2f)"
              % (method, SUB_NA, sub.v_mv[-1], sub.v_mv.max()))
        res[method] = (sub, sup, spikes(sup.t_ms, sup.v_mv))
    check(not cv.active() and h.dt == 0.05 and h.secondorder == 0,
          "integrator settings restored (CVode off, dt 0.05, secondorder 0)")
    check(len(list(h.List("IClamp"))) == npp_before, "no IClamp left on the cell")

    direct = direct_spikes(h, SUPRA_NA)
    for method in ("fixed", "cvode"):
        s = res[method][2]
        check(abs(len(s) - len(direct)) <= 1,
              "%s, %g nA: %d spikes, NEURON run directly %d" % (method, SUPRA_NA, len(s), len(direct)))
        rate = (len(s) - 1) / (s[-1] - s[0]) * 1000.0
        check(abs(rate - RATE_HZ_01) < 0.02 * RATE_HZ_01,
              "%s, %g nA: rate %.2f Hz (ISIs) within 2%% of %.1f" % (method, SUPRA_NA, rate, RATE_HZ_01))
    k = min(len(res["fixed"][2]), len(direct))
    dmax = np.max(np.abs(res["fixed"][2][:k] - direct[:k]))
    check(dmax < 0.05, "fixed step: spike times within %.3g ms (< 0.05) of the direct run" % dmax)
    return res["fixed"][:2]


def test_files(record, recs, work, neuromap):
    folder = os.path.join(work, "series")
    paths = record.write_series(recs, folder)
    check([os.path.basename(p) for p in paths] == ["series_0.03.csv", "series_0.1.csv"],
          "file names %s" % [os.path.basename(p) for p in paths])
    for p, r in zip(paths, recs):
        with open(p) as f:
            head = f.readline().strip()
        check(head == "t_ms,V_mV", "%s: header %r" % (os.path.basename(p), head))
        d = np.loadtxt(p, delimiter=",", skiprows=1)
        check(d.shape == (len(r.t_ms), 2) and np.allclose(d[:, 0], r.t_ms, 0, 1e-9)
              and np.allclose(d[:, 1], r.v_mv, 1e-9, 1e-9), "%s: the values (%d rows)"
              % (os.path.basename(p), len(d)))
    if neuromap:
        for p, r in zip(paths, recs):
            out = subprocess.run([neuromap, "analyze", "--threshold", "0", "--format", "csv", p],
                                 capture_output=True, text=True)
            check(out.returncode == 0, "neuromap analyze %s: %s" % (os.path.basename(p),
                                                                   out.stderr.strip() or "ok"))
            row = dict(zip(*[x.split(",") for x in out.stdout.strip().split("\n")[:2]]))
            ns = len(spikes(r.t_ms, r.v_mv))
            check(int(row["spikes"]) == ns and float(row["dt_ms"]) == DT_REC,
                  "analyze: %s spikes (here %d), dt %s" % (row["spikes"], ns, row["dt_ms"]))


def test_bench(work, bench, neuromap):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proto = ["--duration", "300", "--transient", "100"]

    def run(*args):
        return subprocess.run([sys.executable, bench] + list(args), capture_output=True,
                              text=True, env=env)

    clean, noisy, again = (os.path.join(work, d) for d in ("b0", "b1", "b2"))
    r0 = run("series", "--p", "0.1", "--out", clean, *proto)
    r1 = run("series", "--p", "0.1", "--noise-mv", "1", "--seed", "7", "--out", noisy, *proto)
    r2 = run("series", "--p", "0.1", "--noise-mv", "1", "--seed", "7", "--out", again, *proto)
    check(r0.returncode == r1.returncode == r2.returncode == 0, "zoo_neuron_hh.py series: %s"
          % (r0.stderr + r1.stderr + r2.stderr).strip())
    a, b, c = (np.loadtxt(os.path.join(d, "series_0.1.csv"), delimiter=",", skiprows=1)
               for d in (clean, noisy, again))
    sd = np.std(b[:, 1] - a[:, 1])
    check(abs(sd - 1.0) < 0.05 and np.array_equal(b, c),
          "noise SD %.3f mV (want 1), same seed same series" % sd)
    tt = os.path.join(work, "truth.csv")
    r = run("truth", "--p-min", "0.03", "--p-max", "0.1", "--p-step", "0.07", "--out", tt,
            "--neuromap", neuromap, *proto)
    check(r.returncode == 0, "zoo_neuron_hh.py truth: %s" % (r.stderr.strip() or "ok"))
    rows = [x for x in open(tt).read().split("\n") if x and not x.startswith("#")]
    check(rows[0].startswith("p,regime,period_ms") and rows[1].startswith("0.03,silent,")
          and rows[2].startswith("0.1,periodic:1,"), "truth table %s" % rows)
    cmp_ = subprocess.run([neuromap, "compare", "--truth-table", tt, "--format", "csv", "--quiet"],
                          capture_output=True, text=True)
    check(cmp_.returncode == 0 and "0.1,periodic:1," in cmp_.stdout,
          "neuromap compare --truth-table reads it: %s" % (cmp_.stderr.strip() or "ok"))
    r = run("series", "--p", "0.1", "--noise-mv", "-1", "--out", clean)
    check(r.returncode == 2 and "--noise-mv must be >= 0" in r.stderr, "bench: bad --noise-mv")


def expect_error(exc, words, fn, *a, **k):
    try:
        fn(*a, **k)
    except exc as e:
        check(words in str(e), "%s: %s" % (exc.__name__, e))
        return
    except Exception as e:  # the wrong kind
        raise TestFailure("expected %s with %r, got %s: %s" % (exc.__name__, words,
                                                                type(e).__name__, e))
    raise TestFailure("expected %s with %r, nothing raised" % (exc.__name__, words))


def test_bad_inputs(h, record, sec):
    rec = record.record_iclamp
    expect_error(ValueError, "dt_record_ms must be > 0", rec, sec, [0.1], dt_record_ms=-0.1)
    expect_error(ValueError, "amps_na is empty", rec, sec, [])
    expect_error(ValueError, "amps_na must be a list of numbers", rec, sec, 0.1)
    expect_error(ValueError, "must be finite", rec, sec, [float("nan")])
    expect_error(ValueError, "duration_ms must be > 0", rec, sec, [0.1], duration_ms=0)
    expect_error(ValueError, "transient_ms must be >= 0", rec, sec, [0.1], transient_ms=-1)
    expect_error(ValueError, "must be a multiple of dt_ms", rec, sec, [0.1], dt_record_ms=0.03)
    expect_error(ValueError, "dt_ms must be > 0", rec, sec, [0.1], dt_ms=-0.025)
    expect_error(ValueError, "method must be", rec, sec, [0.1], method="euler")
    expect_error(ValueError, "loc must be in [0, 1]", rec, sec, [0.1], loc=1.5)
    expect_error(TypeError, "not the segment", rec, sec(0.5), [0.1])
    expect_error(TypeError, "must be a NEURON Section", rec, "soma", [0.1])
    expect_error(ValueError, "diam_um must be", record.hh_soma, diam_um=0)
    expect_error(ValueError, "must be 1-D of the same length", record.write_series_csv,
                 "x.csv", [0, 1], [1.0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pydir", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--neuromap")
    ap.add_argument("--bench")
    a = ap.parse_args()
    sys.path.insert(0, os.path.abspath(a.pydir))
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    work = os.path.join(os.path.abspath(a.workdir), "record")
    os.makedirs(work, exist_ok=True)
    from neuron import h
    h.load_file("stdrun.hoc")
    from neuromap import record
    sec = test_soma(h, record)
    recs = test_recordings(h, record, sec)
    test_files(record, recs, work, a.neuromap)
    if a.bench and a.neuromap:
        test_bench(work, a.bench, a.neuromap)
    test_bad_inputs(h, record, sec)


if __name__ == "__main__":
    sc.main_wrapper(main)
