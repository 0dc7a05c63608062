"""Bad model files are errors, not crashes; cells share models by reference
count and release them; a diverging map stops one cell, not NEURON.

Usage: /usr/bin/python3 test_learned_errors.py --mechdir BUILD/mod
           --model FIXTURE.nmap --pydir SRC/python      (from a scratch folder)

Checks:
  * load() of a missing file, a folder, an empty file, a truncated file, a
    file with one flipped byte (checksum) and a file that is not a model
    raises RuntimeError carrying libneuromap's message (from the mod's
    hoc_execerror, through the Python class), for NeuroMapCell and
    NeuroMapClamp; load() without a string argument is a hoc error;
    finitialize with a cell that has no model is a hoc error; a cell whose
    reload failed keeps its old model; NEURON keeps running afterwards;
  * the registry: 20 cells of both kinds loading one file hold ONE model with
    20 references (nm_plugin_count / nm_plugin_refcount through ctypes and
    through the mechanism's nloaded()/refcount()); a copy of the file under
    another name is another model; reloading moves a reference; deleting
    every cell (and its NetCons) brings the count back to 0;
  * a p far outside the training range where the map diverges offline
    (nm_learned_step fails): the NEURON cell stops at the same step with
    err = NM_ENUMERIC, the other cells and the run go on, and
    neuron_support.check_cells reports it.
"""

import gc
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import learned_common as lc  # noqa: E402

NM_ENUMERIC = 6


def bad_files(model_path, workdir):
    data = open(model_path, "rb").read()
    files = {}

    def put(name, content):
        path = os.path.join(workdir, name)
        with open(path, "wb") as f:
            f.write(content)
        files[name] = path

    put("empty.nmap", b"")
    put("truncated.nmap", data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0x5A
    put("flipped.nmap", bytes(flipped))
    put("text.nmap", b"t_ms,V_mV\n0,-50\n5,-49\n")
    files["missing.nmap"] = os.path.join(workdir, "no-such-dir", "missing.nmap")
    folder = os.path.join(workdir, "a-folder.nmap")
    os.makedirs(folder, exist_ok=True)
    files["a-folder.nmap"] = folder
    return files


def test_bad_files(h, ns, rt, cells, model_path, workdir):
    files = bad_files(model_path, workdir)
    for cls in (cells.LearnedCell, cells.LearnedSectionCell):
        for name, path in files.items():
            try:
                cls(path)
            except RuntimeError as e:
                msg = str(e)
                lc.check(path in msg and len(msg) > len(path) + 30,
                         "%s(%s): RuntimeError: %s" % (cls.__name__, name, msg.split(": ", 1)[1]))
            else:
                raise lc.TestFailure("%s(%s) loaded without an error" % (cls.__name__, name))
    # The library's own message, for the record: the checksum and truncation cases.
    for name, needle in (("flipped.nmap", "checksum"), ("truncated.nmap", "truncated"),
                         ("empty.nmap", ""), ("missing.nmap", "")):
        try:
            rt.LearnedModel(files[name])
        except rt.NeuromapError as e:
            try:
                cells.LearnedCell(files[name])
            except RuntimeError as e2:
                lc.check(str(e) in str(e2) and needle in str(e2).lower(),
                         "%s: the cell's error carries the library's message %r" % (name, str(e)))

    # load() with a wrong argument, finitialize without a model.
    raw = h.NeuroMapCell()
    for bad in ((), (3.0,)):
        try:
            raw.load(*bad)
        except RuntimeError:
            lc.check(True, "NeuroMapCell.load%s: hoc error" % (bad,))
        else:
            raise lc.TestFailure("NeuroMapCell.load%s accepted" % (bad,))
    try:
        h.finitialize(-60)
    except RuntimeError:
        lc.check(True, "finitialize with an unloaded NeuroMapCell: hoc error")
    else:
        raise lc.TestFailure("finitialize ran with an unloaded NeuroMapCell")
    del raw
    clamp_sec = h.Section(name="unloaded")
    raw_clamp = h.NeuroMapClamp(clamp_sec(0.5))
    try:
        h.finitialize(-60)
    except RuntimeError:
        lc.check(True, "finitialize with an unloaded NeuroMapClamp: hoc error")
    else:
        raise lc.TestFailure("finitialize ran with an unloaded NeuroMapClamp")
    del raw_clamp, clamp_sec

    # A failed reload keeps the old model; NEURON still runs.
    c = cells.LearnedCell(model_path, p=lc.find_regimes(rt.LearnedModel(model_path))[1])
    handle, refs = c.mech.handle, c.refcount()
    try:
        c.load(files["flipped.nmap"])
    except RuntimeError:
        pass
    lc.check(c.mech.handle == handle and c.refcount() == refs,
             "a failed reload keeps the cell's model (handle %d, %d reference)" % (handle, refs))
    rec = c.record_spikes()
    ns.run(10002.5, v_init=c.V0)
    lc.check(len(rec.times()) > 0, "NEURON runs on after the errors (%d spikes)" % len(rec.times()))
    del c, rec
    gc.collect()


def test_registry(h, ns, rt, cells, model_path, workdir):
    gc.collect()
    lc.check(rt.plugin_count() == 0, "no model loaded at the start (%d)" % rt.plugin_count())
    group = [cells.LearnedCell(model_path) for _ in range(12)] + \
            [cells.LearnedSectionCell(model_path) for _ in range(8)]
    recs = [c.record_spikes() for c in group]
    syns = [group[i].connect2target(group[(i + 1) % 20].syn, 0.1, 1.0) for i in range(20)]
    refs = {c.refcount() for c in group}
    lc.check(rt.plugin_count() == 1 and group[0].mech.nloaded() == 1 and refs == {20},
             "20 cells, one file: 1 model (ctypes %d, mechanism %d), refcount %s"
             % (rt.plugin_count(), group[0].mech.nloaded(), sorted(refs)))
    lc.check(rt.plugin_refcount(int(group[0].mech.handle)) == 20,
             "nm_plugin_refcount through ctypes: %d"
             % rt.plugin_refcount(int(group[0].mech.handle)))
    copy = os.path.join(workdir, "copy.nmap")
    shutil.copyfile(model_path, copy)
    other = cells.LearnedCell(copy)
    lc.check(rt.plugin_count() == 2 and other.refcount() == 1 and
             other.mech.handle != group[0].mech.handle,
             "a copy under another name is a second model (count %d)" % rt.plugin_count())
    group[0].load(copy)
    lc.check(other.refcount() == 2 and group[1].refcount() == 19,
             "reloading moves a reference (copy %d, original %d)"
             % (other.refcount(), group[1].refcount()))
    ns.run(2002.5, v_init=group[0].V0)
    old_handle = int(group[1].mech.handle)
    del group, recs, syns, other
    gc.collect()
    lc.check(rt.plugin_count() == 0, "deleting every cell and NetCon frees both models (count %d)"
             % rt.plugin_count())
    lc.check(rt.plugin_refcount(old_handle) == 0, "a freed model's handle is no longer live")
    probe = h.NeuroMapCell()
    lc.check(probe.nloaded() == 0 and probe.refcount() == 0,
             "the mechanism sees 0 models too")
    del probe


def test_divergence(h, ns, rt, cells, model_path):
    model = rt.LearnedModel(model_path)
    p_div, k_fail, x_last = lc.find_diverging_p(model)
    p_ok = lc.find_regimes(model)[1]
    bad = cells.LearnedCell(model_path, p=p_div)
    good = cells.LearnedCell(model_path, p=p_ok)
    tstop = (k_fail + 40) * model.dt_ms + 2.5
    # run() goes on to tstop, then raises for the stopped cell (issue 14)
    try:
        ns.run(tstop, v_init=good.V0)
    except ns.LearnedCellError as e:
        lc.check(e.first.mech == bad.mech and bad.mech.hname() in str(e) and
                 "map diverged" in str(e), "run() raises naming the stopped cell: %s" % e)
    else:
        raise lc.TestFailure("run() returned although a cell diverged")
    lc.check(bad.mech.err == NM_ENUMERIC and int(bad.mech.nstep) == k_fail - 1 and
             np.array_equal(np.array(bad.state()), x_last),
             "p = %g: the cell stops where the offline run diverges (step %d), err = %d, state "
             "kept" % (p_div, k_fail, bad.mech.err))
    nsteps = int(tstop // model.dt_ms)
    lc.check(int(good.mech.nstep) == nsteps and good.mech.err == 0,
             "the other cell ran on to the end (%d map steps)" % good.mech.nstep)
    try:
        ns.check_cells([good, bad])
    except RuntimeError as e:
        lc.check("cell 1" in str(e), "check_cells reports it: %s" % e)
    else:
        raise lc.TestFailure("check_cells did not report the stopped cell")
    del bad, good


def main():
    args = lc.parse_args()
    h, neuromap, ns, rt, cells = lc.setup(args)
    workdir = os.path.abspath("learned_errors")
    os.makedirs(workdir, exist_ok=True)
    test_bad_files(h, ns, rt, cells, args.model, workdir)
    test_registry(h, ns, rt, cells, args.model, workdir)
    test_divergence(h, ns, rt, cells, args.model)
    gc.collect()
    lc.check(rt.plugin_count() == 0, "at the end no model is loaded (%d)" % rt.plugin_count())


if __name__ == "__main__":
    lc.main_wrapper(main)
