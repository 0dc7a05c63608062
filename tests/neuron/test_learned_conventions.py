"""NEURON conventions of the learned cells (issue 14, part 3), from Python.

1. p's default is the model's: a new cell's p is the centre of its model's
   training range (it used to be SRK's -38 for every model: an HH model
   diverged at t = 24 ms with p unset), unless p was given or set; the
   reload rule; the name and unit of p stored in the model (meta.p_name,
   meta.p_unit) read by the cells and by runtime.LearnedModel, with the
   defaults "p" and "" for files without them.
2. LearnedCell.record_V() in a model with no sections at all (it raised
   "Section access unspecified"; CVode recorded nothing): V at every map
   step, bit for bit the offline run, under fixed step, CVode, lvardt and
   2 threads; with a time vector too.
3. A cell that stops during a run is visible: cells.errors() /
   first_error() give the cell, its time and message (the earliest first),
   and neuron_support.run raises LearnedCellError naming them (it used to
   print one line and go on).

The model is the CTest fixture; a copy with p shifted by P_SHIFT (map.p_center
and meta.train_p moved together: the same map in shifted coordinates)
stands for a model whose training range is far from -38.
"""

import gc
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import learned_common as lc  # noqa: E402

check = lc.check
P_SHIFT = 100.0
RUN_MS = 2000.0
NM_ENUMERIC = 6


def test_p_default(h, ns, rt, cells, path, workdir):
    model = rt.LearnedModel(path)
    centre = 0.5 * (float(np.min(model.train_p)) + float(np.max(model.train_p)))
    check(model.p_default == centre and model.p_name == "p" and model.p_unit == "",
          "LearnedModel: p_default %r = centre of the training p %r; p_name %r, p_unit %r"
          % (model.p_default, centre, model.p_name, model.p_unit))

    raw = h.NeuroMapCell()
    check(math.isnan(raw.p), "a new NeuroMapCell's p is NaN (not set) before load: %r" % raw.p)
    raw.load(path)
    check(raw.p == centre and raw.pdefault == centre,
          "load() gives an unset p the model's default: p %r, pdefault %r" % (raw.p, raw.pdefault))
    raw2 = h.NeuroMapCell()
    raw2.p = -40.25
    raw2.load(path)
    check(raw2.p == -40.25, "a p set before load() is kept: %r" % raw2.p)
    del raw, raw2

    a = cells.LearnedCell(path)
    b = cells.LearnedCell(path, p=-40.25)
    check(a.p == centre and a.p_default == centre and b.p == -40.25,
          "LearnedCell(path): p %r (default %r); LearnedCell(path, p=-40.25): %r"
          % (a.p, a.p_default, b.p))
    check(a.p_name == "p" and a.p_unit == "", "LearnedCell p_name %r, p_unit %r"
          % (a.p_name, a.p_unit))
    s = h.ref("")
    a.hoc.pname(s)
    check(s[0] == "p" and a.hoc.getpdefault() == centre,
          "the template: pname %r, getpdefault() %r" % (s[0], a.hoc.getpdefault()))

    # A model trained far from -38 (p shifted by P_SHIFT), labelled.
    shifted = lc.edited_model(path, os.path.join(workdir, "conv_shifted.nmap"),
                              add_f64={"map.p_center": P_SHIFT, "meta.train_p": P_SHIFT},
                              set_str={"meta.p_name": "I", "meta.p_unit": "uA/cm2"})
    ms = rt.LearnedModel(shifted)
    check(ms.p_default == centre + P_SHIFT and ms.p_name == "I" and ms.p_unit == "uA/cm2",
          "shifted model: p_default %r, p_name %r, p_unit %r" % (ms.p_default, ms.p_name, ms.p_unit))
    c = cells.LearnedCell(shifted)
    check(c.p == centre + P_SHIFT and c.p_name == "I" and c.p_unit == "uA/cm2",
          "a cell of the shifted model starts at its centre %r (p %r), p_name %r, unit %r"
          % (centre + P_SHIFT, c.p, c.p_name, c.p_unit))
    # The reload rule: p still at the old default follows the new model; a
    # p given by the user stays.
    a.load(shifted)
    b.load(shifted)
    check(a.p == centre + P_SHIFT and b.p == -40.25,
          "reload: default p follows the model (%r), a set p stays (%r)" % (a.p, b.p))
    a.load(path)
    check(a.p == centre, "reload back: p back at the fixture's default (%r)" % a.p)

    # Without any p set, the shifted model runs exactly like the original
    # model at its centre (the same map): no divergence, same spikes.
    orig = cells.LearnedCell(path)
    ro, rc = orig.record_spikes(), c.record_spikes()
    del b
    gc.collect()
    ns.run(RUN_MS, v_init=orig.V0)
    so, sc = lc.upto(ro.times(), RUN_MS), lc.upto(rc.times(), RUN_MS)
    check(c.err == 0 and orig.err == 0 and lc.same_times(so, sc),
          "shifted model at its default p: err %d, %d spikes; original at its centre: %d spikes"
          % (c.err, len(sc), len(so)))

    # Files without meta.p_name / meta.p_unit (written before them) load
    # with the defaults; a bad name in a file is refused with the entry named.
    old = lc.edited_model(path, os.path.join(workdir, "conv_old.nmap"),
                          remove=("meta.p_name", "meta.p_unit"))
    mo = rt.LearnedModel(old)
    co = cells.LearnedCell(old)
    check(mo.p_name == "p" and mo.p_unit == "" and co.p_name == "p" and co.p == centre,
          "a file without meta.p_name/p_unit: %r %r (cell %r, p %r)"
          % (mo.p_name, mo.p_unit, co.p_name, co.p))
    badf = lc.edited_model(path, os.path.join(workdir, "conv_badname.nmap"),
                           set_str={"meta.p_name": "a b"})
    try:
        rt.LearnedModel(badf)
    except rt.NeuromapError as e:
        check("meta.p_name" in str(e) and "not allowed" in str(e),
              "a p name with a space is refused: %s" % e)
    else:
        raise lc.TestFailure("a model whose meta.p_name is 'a b' loaded")
    del a, c, orig, co, ro, rc
    gc.collect()


def test_record_v(h, ns, rt, cells, path):
    check(sum(1 for _ in h.allsec()) == 0, "no sections in this part of the test")
    model = rt.LearnedModel(path)
    p_silent, p_fire = lc.find_regimes(model)
    nsteps = int(RUN_MS / model.dt_ms)
    v_off, _ = model.run(p_fire, nsteps)
    v0 = model.decode_v(model.initial_state())
    half = (np.arange(nsteps) + 0.5) * model.dt_ms    # V after step k (0: V0) at (k + 1/2) dt
    for method, nthread in (("fixed", 1), ("cvode", 1), ("lvardt", 1), ("fixed", 2)):
        c = cells.LearnedCell(path, p=p_fire)
        other = cells.LearnedCell(path, p=p_silent)     # a second cell, for the threads
        t, v = c.record_V()
        # NEURON cannot tie a time-vector record of an ARTIFICIAL_CELL to a
        # thread in a model without sections ("unable to associate a
        # PlayRecord item with a thread"): with threads, record_V() only.
        th, vh = c.record_V(times=half) if nthread == 1 else (None, None)
        ns.run(RUN_MS + 0.5 * model.dt_ms, method=method, nthread=nthread, v_init=c.V0)
        t, v = ns.to_numpy(t), ns.to_numpy(v)
        want_t = np.arange(nsteps + 1) * model.dt_ms
        ok = (len(t) == nsteps + 1 and np.max(np.abs(t - want_t)) <= lc.TIME_ATOL_MS and
              v[0] == v0 and np.array_equal(v[1:], v_off))
        check(ok, "%s, %d thread(s): record_V() without sections: %d samples at n*dt_map, V bit "
              "for bit the offline run" % (method, nthread, len(t)))
        if vh is not None:
            vh = ns.to_numpy(vh)
            check(len(vh) == nsteps and vh[0] == v0 and np.array_equal(vh[1:], v_off[:nsteps - 1]),
                  "%s: record_V(times) at (k + 1/2)*dt_map: %d samples equal the offline V"
                  % (method, len(vh)))
        del c, other, t, v, th, vh
        gc.collect()
    # The hoc template's recordV, and stopping.
    c = cells.LearnedCell(path, p=p_fire)
    tv, vv = h.Vector(), h.Vector()
    c.hoc.recordV(tv, vv)
    ns.run(52.5, v_init=c.V0)
    n1 = len(tv)
    c.mech.recordV()
    h.continuerun(100.0)
    check(n1 == int(52.5 // model.dt_ms) + 1 and len(tv) == n1 and len(vv) == n1,
          "hoc recordV: %d samples in 50 ms, none after recordV() (%d)" % (n1, len(tv)))
    try:
        c.mech.recordV(tv, tv)
    except RuntimeError:
        pass
    else:
        raise lc.TestFailure("recordV(tvec, tvec) accepted one Vector for both")
    del c
    gc.collect()


def test_errors(h, ns, rt, cells, path):
    model = rt.LearnedModel(path)
    p_div, k_fail, _ = lc.find_diverging_p(model)
    p_fire = lc.find_regimes(model)[1]
    good = cells.LearnedCell(path, p=p_fire)
    bad = cells.LearnedCell(path, p=p_div)
    tstop = (k_fail + 40) * model.dt_ms + 2.5
    t_fail = k_fail * model.dt_ms
    name = bad.mech.hname()
    check(cells.errors() == [] and cells.first_error() is None, "no errors before the run")
    try:
        ns.run(tstop, v_init=good.V0)
    except ns.LearnedCellError as e:
        msg = str(e)
        check(name in msg and "map diverged" in msg and ("t = %g ms" % t_fail) in msg and
              "more" not in msg and e.first.mech == bad.mech,
              "run() raises for the diverged cell: %s" % msg)
    else:
        raise lc.TestFailure("run() returned although %s diverged" % name)
    errs = cells.errors()
    check(len(errs) == 1 and errs[0].name == name and errs[0].t_ms == t_fail and
          errs[0].err == NM_ENUMERIC and "map diverged" in errs[0].message,
          "cells.errors(): %s" % [str(e) for e in errs])
    check(good.err == 0 and int(good.mech.nstep) == int(tstop // model.dt_ms),
          "the run went on to tstop for the other cell (%d steps)" % good.mech.nstep)
    # check=False: no exception, the errors stay readable.
    ns.run(tstop, v_init=good.V0, check=False)
    check(len(cells.errors()) == 1, "run(check=False) does not raise; errors() still lists it")

    # Two cells stop: the count, and the earliest first (a NaN p set on a
    # third cell 10 steps before the divergence: err 1, "p is not finite").
    bad2 = cells.LearnedCell(path, p=p_div)
    nan_cell = cells.LearnedCell(path, p=p_fire)
    t_nan = t_fail - 10 * model.dt_ms - 1.0
    h.finitialize(good.V0)
    h.continuerun(t_nan)
    nan_cell.p = float("nan")
    h.continuerun(tstop)
    errs = cells.errors()
    first = cells.first_error()
    check(len(errs) == 3 and first.mech == nan_cell.mech and first.err == 1 and
          "p is not finite" in first.message and first.t_ms == t_nan + 1.0 and
          {e.name for e in errs[1:]} == {name, bad2.mech.hname()},
          "three stopped cells, the NaN p first at %g ms: %s" % (t_nan + 1.0, [str(e) for e in errs]))
    nan_cell.p = p_fire
    try:
        ns.run(tstop, v_init=good.V0)
    except ns.LearnedCellError as e:
        check("1 more cell stopped" in str(e) and len(e.errors) == 2,
              "with two diverging cells the message counts the others: %s" % e)
    else:
        raise lc.TestFailure("run() returned although two cells diverged")
    # finitialize clears the errors (the cells start again).
    bad.p = bad2.p = p_fire
    ns.run(10.0, v_init=good.V0)
    check(cells.errors() == [], "after finitialize with valid p no error is listed")
    del good, bad, bad2, nan_cell
    gc.collect()


def test_section_cell(h, ns, rt, cells, path):
    """NeuroMapClamp: default p, label, and an error named in errors()."""
    model = rt.LearnedModel(path)
    s = cells.LearnedSectionCell(path)
    check(s.p == model.p_default and s.p_default == model.p_default and s.p_name == "p",
          "LearnedSectionCell: p %r = p_default %r, p_name %r" % (s.p, s.p_default, s.p_name))
    p_div, k_fail, _ = lc.find_diverging_p(model)
    s.p = p_div
    try:
        ns.run((k_fail + 5) * model.dt_ms, v_init=s.V0)
    except ns.LearnedCellError as e:
        check(e.first.name == s.clamp.hname() and "NeuroMapClamp[" in str(e),
              "a diverging LearnedSectionCell is named: %s" % e)
    else:
        raise lc.TestFailure("run() returned although the clamp's map diverged")
    del s
    gc.collect()


def main():
    ap_args = lc.parse_args(lambda ap: ap.add_argument("--workdir", required=True))
    h, neuromap, ns, rt, cells = lc.setup(ap_args)
    path = ap_args.model
    test_record_v(h, ns, rt, cells, path)       # first: no section may exist yet
    test_p_default(h, ns, rt, cells, path, ap_args.workdir)
    test_errors(h, ns, rt, cells, path)
    test_section_cell(h, ns, rt, cells, path)
    print("neuron_py_learned_conventions: all checks passed")


if __name__ == "__main__":
    lc.main_wrapper(main)
