"""python/neuromap/record.py: an hh soma recorded under an input protocol (issue 11).

Usage: /usr/bin/python3 test_record_input.py --pydir SRC/python --workdir DIR
           [--neuromap BUILD/bin/neuromap] [--libneuromap BUILD/lib/libneuromap.so]

Checks (NEURON's built-in hh only):
  * record_input under an OU current gives V and I of matching lengths at
    transient + k * dt_record; the recorded I (what the IClamp delivered,
    averaged over each interval) equals the played current exactly; its mean
    and SD are those asked for; the cell fires;
  * the same seed gives the same recording, another seed another;
  * a conductance synapse (ExpSyn, E = 0 mV) adds a current that is
    depolarising wherever V < E; a step is its staircase;
  * write_input_csv writes t_ms,V_mV,I_nA; `neuromap analyze` reads the file
    and finds the same spikes; libneuromap (nm_series_read) reads the I
    column into u with unit nA, equal to the recording to 10 digits;
  * NEURON's integrator settings are restored and no IClamp or ExpSyn is
    left on the cell; bad arguments raise ValueError/TypeError naming them.
"""

import argparse
import ctypes
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srk_common as sc  # noqa: E402
from test_record import expect_error, spikes  # noqa: E402

check = sc.check

DUR, TRANS, DT_REC, DT = 1000.0, 100.0, 0.1, 0.025
OU_MEAN, OU_SD, OU_TAU = 0.06, 0.03, 5.0   # nA; ms (hh soma: 1 nA = 100 uA/cm2)


def test_ou(h, record, sec):
    cv = h.CVode()
    h.dt, h.secondorder = 0.05, 0
    n_icl, n_syn = len(list(h.List("IClamp"))), len(list(h.List("ExpSyn")))
    proto = [record.ou(OU_MEAN, OU_SD, OU_TAU)]
    r = record.record_input(sec, proto, duration_ms=DUR, transient_ms=TRANS, dt_record_ms=DT_REC,
                            dt_ms=DT, seed=3)
    n = int(round(DUR / DT_REC)) + 1
    check(len(r.t_ms) == len(r.v_mv) == len(r.i_na) == n
          and np.allclose(r.t_ms, TRANS + DT_REC * np.arange(n), 0, 1e-9),
          "OU: %d samples of t, V and I at %g + k*%g ms" % (len(r.i_na), TRANS, DT_REC))
    # the played waveform, averaged over each recording interval
    first, stride = int(round(TRANS / DT)), int(round(DT_REC / DT))
    nsteps = first + stride * (n - 1) + stride
    w = record._played_current(proto, nsteps + 1, DT, first, stride, DT_REC, 3)
    want = np.array([w[k:k + stride].mean() for k in first + stride * np.arange(n)])
    err = np.max(np.abs(want - r.i_na))
    check(err < 1e-12, "OU: the recorded I equals the played current (max diff %.3g nA)" % err)
    m, sd = r.i_na.mean(), r.i_na.std()
    # 1 s = 200 correlation times: SE(mean) = sd sqrt(2 tau / T) = 0.003 nA
    check(abs(m - OU_MEAN) < 0.012 and abs(sd - OU_SD) < 0.008,
          "OU: mean %.4f nA (want %g), SD %.4f nA (want %g)" % (m, OU_MEAN, sd, OU_SD))
    ns = len(spikes(r.t_ms, r.v_mv))
    check(ns > 10, "OU: the soma fires (%d spikes)" % ns)
    again = record.record_input(sec, proto, duration_ms=DUR, transient_ms=TRANS, seed=3)
    other = record.record_input(sec, proto, duration_ms=DUR, transient_ms=TRANS, seed=4)
    check(np.array_equal(again.i_na, r.i_na) and np.array_equal(again.v_mv, r.v_mv),
          "the same seed, the same recording")
    check(not np.array_equal(other.i_na, r.i_na), "another seed, another current")
    check(not cv.active() and h.dt == 0.05 and h.secondorder == 0,
          "integrator settings restored (CVode off, dt 0.05, secondorder 0)")
    check(len(list(h.List("IClamp"))) == n_icl and len(list(h.List("ExpSyn"))) == n_syn,
          "no IClamp or ExpSyn left on the cell")
    return r


def test_syn_and_step(h, record, sec):
    n_syn = len(list(h.List("ExpSyn")))
    r = record.record_input(sec, [record.syn(100.0, 0.0005, 3.0, 0.0)], duration_ms=500,
                            transient_ms=50, seed=1)
    below = (r.v_mv[:-1] < -5) & (r.v_mv[1:] < -5)  # V below E over the whole interval
    check(r.i_na[:-1][below].min() >= 0 and r.i_na.mean() > 0.005,
          "syn (E = 0): the current is depolarising where V < E (mean %.4f nA, min %.3g; "
          "it reverses only at the spikes' overshoot)" % (r.i_na.mean(), r.i_na[:-1][below].min()))
    # about 100 Hz * 0.5 nS * 3 ms * 60 mV = 0.009 nA
    check(0.004 < r.i_na.mean() < 0.02, "syn: mean current %.4f nA ~ rate g tau (E - V)"
          % r.i_na.mean())
    check(len(list(h.List("ExpSyn"))) == n_syn, "no ExpSyn left")
    s = record.record_input(sec, [record.step([(60.0, 0.1), (80.0, 0.0)])], duration_ms=50,
                            transient_ms=50, seed=1)
    want = np.where((s.t_ms >= 60 - 1e-9) & (s.t_ms < 80 - 1e-9), 0.1, 0.0)
    check(np.max(np.abs(s.i_na - want)) < 1e-12, "step: the staircase 0, 0.1 nA on [60, 80), 0")


def test_files(record, r, work, neuromap, lib):
    path = os.path.join(work, "vi.csv")
    record.write_input_csv(path, r.t_ms, r.v_mv, r.i_na)
    with open(path) as f:
        head = f.readline().strip()
    check(head == "t_ms,V_mV,I_nA", "header %r" % head)
    d = np.loadtxt(path, delimiter=",", skiprows=1)
    check(d.shape == (len(r.t_ms), 3) and np.allclose(d[:, 2], r.i_na, 1e-9, 1e-12),
          "the file holds V and I (%s)" % (d.shape,))
    if neuromap:
        out = subprocess.run([neuromap, "analyze", "--threshold", "0", "--format", "csv", path],
                             capture_output=True, text=True)
        check(out.returncode == 0, "neuromap analyze: %s" % (out.stderr.strip() or "ok"))
        if out.returncode == 0:
            row = dict(zip(*[x.split(",") for x in out.stdout.strip().split("\n")[:2]]))
            ns = len(spikes(r.t_ms, r.v_mv))
            check(int(row["spikes"]) == ns, "analyze: %s spikes (here %d)" % (row["spikes"], ns))
    if lib:
        nm = ctypes.CDLL(lib)

        class Series(ctypes.Structure):
            _fields_ = [("n", ctypes.c_size_t), ("dt_ms", ctypes.c_double),
                        ("t0_ms", ctypes.c_double), ("p", ctypes.c_double),
                        ("v", ctypes.POINTER(ctypes.c_double)), ("nstates", ctypes.c_size_t),
                        ("states", ctypes.POINTER(ctypes.c_double)),
                        ("u", ctypes.POINTER(ctypes.c_double)), ("u_unit", ctypes.c_char * 16)]

        nm.nm_series_read.argtypes = [ctypes.c_char_p, ctypes.c_double, ctypes.c_double,
                                      ctypes.c_size_t, ctypes.POINTER(ctypes.POINTER(Series))]
        nm.nm_series_free.argtypes = [ctypes.POINTER(Series)]
        nm.nm_last_error.restype = ctypes.c_char_p
        sp = ctypes.POINTER(Series)()
        st = nm.nm_series_read(path.encode(), 0.0, 0.0, 2, ctypes.byref(sp))
        check(st == 0, "nm_series_read: %s" % nm.nm_last_error().decode())
        if st == 0:
            s = sp.contents
            u = np.ctypeslib.as_array(s.u, shape=(s.n,)).copy() if s.u else None
            check(s.n == len(r.i_na) and u is not None and s.u_unit == b"nA"
                  and np.allclose(u, r.i_na, 1e-9, 1e-12) and abs(s.dt_ms - DT_REC) < 1e-9,
                  "libneuromap reads u (%d values, unit %r)" % (s.n, s.u_unit))
            nm.nm_series_free(sp)


def test_bad_inputs(record, sec):
    rec = record.record_input
    ou = record.ou(0.0, 0.01, 1.0)
    expect_error(ValueError, "protocol must be a non-empty list", rec, sec, [])
    expect_error(TypeError, "is not a protocol component", rec, sec, [("ou", 1, 2, 3)])
    expect_error(ValueError, "dt_record_ms (0.03 ms) must be a multiple of dt_ms", rec, sec, [ou],
                 dt_record_ms=0.03)
    expect_error(ValueError, "duration_ms must be > 0", rec, sec, [ou], duration_ms=0)
    expect_error(ValueError, "seed must be an integer >= 0", rec, sec, [ou], seed=-1)
    expect_error(TypeError, "must be a NEURON Section", rec, "soma", [ou])
    expect_error(ValueError, "ou: tau_ms must be > 0", record.ou, 0, 1, 0)
    expect_error(ValueError, "ou: sd_na must be >= 0", record.ou, 0, -1, 1)
    expect_error(ValueError, "poisson: rate_hz must be <= 100000", record.poisson, 1e6, 1, 1)
    expect_error(ValueError, "syn: g_us must be >= 0", record.syn, 10, -1, 1, 0)
    expect_error(ValueError, "syn: e_mv must be finite", record.syn, 10, 1, 1, float("nan"))
    expect_error(ValueError, "ramp: t1_ms (1) must be > t0_ms (2)", record.ramp, 2, 1, 0, 1)
    expect_error(ValueError, "step: onsets must increase", record.step, [(5, 1), (5, 0)])
    expect_error(ValueError, "step: levels is empty", record.step, [])
    expect_error(ValueError, "must be 1-D of the same length", record.write_input_csv, "x.csv",
                 [0, 1], [1.0, 2.0], [0.0])
    expect_error(ValueError, "is not finite", record.write_input_csv, "x.csv", [0, 1], [1.0, 2.0],
                 [0.0, float("inf")])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pydir", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--neuromap")
    ap.add_argument("--libneuromap")
    ap.add_argument("--bench")  # accepted (the arguments of test_record.py), unused
    a = ap.parse_args()
    sys.path.insert(0, os.path.abspath(a.pydir))
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    work = os.path.join(os.path.abspath(a.workdir), "record_input")
    os.makedirs(work, exist_ok=True)
    from neuron import h
    h.load_file("stdrun.hoc")
    from neuromap import record
    sec = record.hh_soma(name="soma_input")
    r = test_ou(h, record, sec)
    test_syn_and_step(h, record, sec)
    test_files(record, r, work, a.neuromap, a.libneuromap)
    test_bad_inputs(record, sec)


if __name__ == "__main__":
    sc.main_wrapper(main)
