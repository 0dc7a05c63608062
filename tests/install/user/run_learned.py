"""Python half of the install test (tests/install/test_install.sh), run by
/usr/bin/python3 from a folder outside the source tree with PYTHONPATH set
to the prefix's Python folder only (a temporary prefix is not on sys.path):

    PYTHONPATH=P/lib/python3.X/dist-packages /usr/bin/python3 run_learned.py PREFIX MODEL

Checks that the installed package finds the installed libneuromap and the
installed mechanisms by itself (neuromap/_install.py), that a LearnedCell in
NEURON fires, and that its spikes are the library's offline run's.  Prints
"PASS" or "FAIL: ..." (exit 1).
"""

import os
import sys

import numpy as np


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def under(path, prefix):
    return os.path.realpath(path).startswith(os.path.realpath(prefix) + os.sep)


def mapped(name):
    with open("/proc/self/maps") as f:
        return sorted({line.split()[-1] for line in f
                       if os.path.basename(line.split()[-1]).startswith(name)})


def main():
    prefix, model = sys.argv[1], sys.argv[2]
    for var in ("NEUROMAP_LIB", "NEUROMAP_MECHDIR"):
        if os.environ.get(var):
            fail("%s is set: the test must not rely on it" % var)
    import neuromap
    from neuromap import cells, neuron_support as ns, runtime as rt
    if not under(neuromap.__file__, prefix):
        fail("neuromap imported from %s, not from %s" % (neuromap.__file__, prefix))
    print("  ok: neuromap %s from %s" % (neuromap.__version__, os.path.dirname(neuromap.__file__)))
    lib = rt.find_library()
    if not under(lib, prefix):
        fail("runtime.find_library() = %s, not under %s" % (lib, prefix))
    mechdir = ns.find_mechdir()
    if not under(mechdir, prefix):
        fail("neuron_support.find_mechdir() = %s, not under %s" % (mechdir, prefix))
    if not under(ns.hoc_dir(), prefix) or not os.path.isfile(
            os.path.join(ns.hoc_dir(), "learned_cell.hoc")):
        fail("neuron_support.hoc_dir() = %s: no installed learned_cell.hoc" % ns.hoc_dir())
    print("  ok: library %s, mechanisms %s, hoc %s" % (lib, mechdir, ns.hoc_dir()))

    # Offline first (ctypes): the p with the most spikes of the training values.
    m = rt.LearnedModel(model)
    tstop = 10000.0
    nsteps = int(tstop / m.dt_ms)
    v0 = m.decode_v(m.initial_state())
    best = None
    for p in (-42, -38, -34.5, -31):
        v, _ = m.run(p, nsteps)
        t = m.cell_spike_times(v, v0)
        if best is None or len(t) > len(best[1]):
            best = (p, t)
    p, t_off = best
    if len(t_off) == 0:
        fail("the model does not fire offline at any training p")

    h = ns.load_mechanisms()
    c = cells.LearnedCell(model, p=p)
    rec = c.record_spikes()
    h.finitialize(-50)
    h.continuerun(tstop)
    t_nrn = np.asarray(rec.times(), dtype=float)
    c.check()
    print("  p = %g: %d spikes in NEURON, %d offline" % (p, len(t_nrn), len(t_off)))
    edge = tstop - 2 * m.dt_ms
    a, b = t_nrn[t_nrn < edge], t_off[t_off < edge]
    if len(a) == 0 or len(a) != len(b) or np.max(np.abs(a - b)) > 1e-6:
        fail("NEURON's spikes %s differ from the offline run's %s" % (a[:5], b[:5]))
    print("  ok: the LearnedCell fires as the offline run")
    for name in ("libneuromap.so", "libnrnmech.so"):
        paths = mapped(name)
        if not paths or not all(under(x, prefix) for x in paths):
            fail("%s mapped from %s, not only from %s" % (name, paths, prefix))
    print("  ok: libneuromap and libnrnmech mapped from the prefix only")
    print("PASS")


if __name__ == "__main__":
    main()
