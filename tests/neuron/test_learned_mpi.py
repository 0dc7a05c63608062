"""Learned cells under ParallelContext and MPI (issue 14, part 3).

A small network -- NUM_LEARNED LearnedCells (NeuroMapCell) and NUM_HH
one-compartment `hh` sections, gids assigned round robin (gid % nhost ==
rank), connected both ways through pc.gid_connect (learned -> hh through an
ExpSyn, hh -> learned as drive), the hh cells driven by IClamps -- must give
exactly the same spikes (gid and time, bit for bit) when run

  * on 1 rank (mpiexec -n 1, Python),
  * on 2 ranks (mpiexec -n 2, Python),
  * on 1 rank with pc.nthread(2) (Python),
  * on 2 ranks from hoc (mpiexec -n 2 nrniv -mpi, hoc/learned_cell.hoc),

all under the fixed step.  The network is written once as a text file
(SPEC) that the Python and hoc workers both read.

Driver (CTest):  test_learned_mpi.py --mpiexec MPIEXEC --nrniv NRNIV --nrnmech LIB
                 --mechdir DIR --model M --pydir DIR --hocdir DIR --workdir DIR
Exit 77 (CTest SKIP_RETURN_CODE) with the reason when MPI cannot start 2
ranks here (e.g. NEURON built without MPI).

mpiexec runs as root only with --allow-run-as-root (and the OMPI_ALLOW_RUN_AS_ROOT
variables); --oversubscribe lets 2 ranks start where fewer slots are reported.
"""

import argparse
import os
import subprocess
import sys

NUM_LEARNED = 6
NUM_HH = 4
TSTOP = 3000.0            # ms
DT = 0.025                # ms, fixed step
SKIP = 77
MPI_TIMEOUT = 240         # s per run


def write_spec(path, p_default):
    """The network: L gid p / H gid amp_nA / C src tgt weight delay_ms."""
    lines = []
    for i in range(NUM_LEARNED):
        lines.append("L %d %.17g" % (i, p_default - 2.0 + 0.75 * i))
    for j in range(NUM_HH):
        gid = NUM_LEARNED + j
        lines.append("H %d %.17g" % (gid, 0.05 + 0.04 * j if j % 2 == 0 else 0.0))
    n = NUM_LEARNED + NUM_HH
    for src in range(n):
        for tgt in ((src + 1) % n, (src + 3) % n):
            if src < NUM_LEARNED and tgt >= NUM_LEARNED:
                w = 0.004            # uS into an ExpSyn
            elif src >= NUM_LEARNED and tgt < NUM_LEARNED:
                w = 1.5              # drive, units of p
            elif src < NUM_LEARNED:
                w = 0.5
            else:
                w = 0.003
            lines.append("C %d %d %.17g %.17g" % (src, tgt, w, 1.0 + 0.5 * ((src + tgt) % 4)))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def read_spec(path):
    learned, hh, conns = [], [], []
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "L":
            learned.append((int(f[1]), float(f[2])))
        elif f[0] == "H":
            hh.append((int(f[1]), float(f[2])))
        elif f[0] == "C":
            conns.append((int(f[1]), int(f[2]), float(f[3]), float(f[4])))
    return learned, hh, conns


def worker(args):
    """One rank of the Python network; writes OUT.<rank> with 'gid time' lines."""
    sys.path.insert(0, os.path.abspath(args.pydir))
    os.environ["NEUROMAP_MECHDIR"] = os.path.abspath(args.mechdir)
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    from neuron import h
    h.nrnmpi_init()
    from neuromap import neuron_support as ns
    from neuromap import cells
    ns.load_mechanisms(args.mechdir)
    pc = h.ParallelContext()
    rank, nhost = int(pc.id()), int(pc.nhost())
    if nhost != args.expect_nhost:
        print("FAIL: %d ranks, expected %d" % (nhost, args.expect_nhost))
        sys.exit(1)
    learned, hh, conns = read_spec(args.spec)
    keep, targets = [], {}
    for gid, p in learned:
        if gid % nhost != rank:
            continue
        c = cells.LearnedCell(args.model, p=p)
        pc.set_gid2node(gid, rank)
        pc.cell(gid, c.connect2target(None))
        keep.append(c)
        targets[gid] = c.syn
    for gid, amp in hh:
        if gid % nhost != rank:
            continue
        sec = h.Section(name="hh%d" % gid)
        sec.L = sec.diam = 17.841241161527712
        sec.insert("hh")
        syn = h.ExpSyn(sec(0.5))
        stim = h.IClamp(sec(0.5))
        stim.delay, stim.dur, stim.amp = 0.0, 1e9, amp
        nc = h.NetCon(sec(0.5)._ref_v, None, sec=sec)
        nc.threshold = 0.0
        pc.set_gid2node(gid, rank)
        pc.cell(gid, nc)
        keep += [sec, syn, stim, nc]
        targets[gid] = syn
    for src, tgt, w, d in conns:
        if tgt in targets:
            nc = pc.gid_connect(src, targets[tgt])
            nc.weight[0] = w
            nc.delay = d
            keep.append(nc)
    tvec, idvec = h.Vector(), h.Vector()
    pc.spike_record(-1, tvec, idvec)
    pc.nthread(args.nthread)
    h.dt = DT
    h.secondorder = 0
    pc.set_maxstep(10)
    h.finitialize(-65.0)
    pc.psolve(TSTOP)
    errs = ns.learned_cell_errors()
    with open("%s.%d" % (args.out, rank), "w") as f:
        for t, gid in zip(tvec, idvec):
            f.write("%d %.17g\n" % (int(gid), t))
    pc.barrier()
    if errs:
        print("FAIL: rank %d: learned cells stopped: %s" % (rank, "; ".join(map(str, errs))))
        sys.exit(1)
    pc.done()
    h.quit()


HOC_WORKER = r"""
// One rank of the hoc network (the same SPEC as the Python worker).
{load_file("stdrun.hoc")}
{load_file(HOCFILE)}
objref pc, f, cellsL, secs, syns, stims, ncs, targets, tvec, idvec, c, nc, nil, syn, stim, fo
strdef kind, fname
pc = new ParallelContext()
rank = pc.id()
nhost = pc.nhost()
cellsL = new List()
syns = new List()
stims = new List()
ncs = new List()
targets = new List()
objref tgid
tgid = new Vector()
create hhs[NHH]
nh = 0
f = new File()
{f.ropen(SPEC)}
while (f.scanstr(kind) != -1) {
    if (strcmp(kind, "L") == 0) {
        gid = f.scanvar()
        p = f.scanvar()
        if (gid % nhost == rank) {
            c = new LearnedCell(MODEL, p)
            cellsL.append(c)
            {pc.set_gid2node(gid, rank)}
            {pc.cell(gid, c.connect2target(nil))}
            targets.append(c.syn)
            tgid.append(gid)
        }
    } else if (strcmp(kind, "H") == 0) {
        gid = f.scanvar()
        amp = f.scanvar()
        if (gid % nhost == rank) {
            hhs[nh] {
                L = 17.841241161527712
                diam = 17.841241161527712
                insert hh
                syn = new ExpSyn(0.5)
                stim = new IClamp(0.5)
                stim.del = 0
                stim.dur = 1e9
                stim.amp = amp
                nc = new NetCon(&v(0.5), nil)
                nc.threshold = 0
            }
            syns.append(syn)
            stims.append(stim)
            {pc.set_gid2node(gid, rank)}
            {pc.cell(gid, nc)}
            ncs.append(nc)
            targets.append(syn)
            tgid.append(gid)
            nh += 1
        }
    } else if (strcmp(kind, "C") == 0) {
        src = f.scanvar()
        tgt = f.scanvar()
        w = f.scanvar()
        d = f.scanvar()
        i = tgid.indwhere("==", tgt)
        if (i >= 0) {
            nc = pc.gid_connect(src, targets.o(i))
            nc.weight[0] = w
            nc.delay = d
            ncs.append(nc)
        }
    }
}
{f.close()}
tvec = new Vector()
idvec = new Vector()
{pc.spike_record(-1, tvec, idvec)}
dt = DT
secondorder = 0
{pc.set_maxstep(10)}
finitialize(-65)
{pc.psolve(TSTOP)}
{sprint(fname, "%s.%d", OUT, rank)}
fo = new File()
{fo.wopen(fname)}
for i = 0, tvec.size - 1 {
    fo.printf("%d %.17g\n", idvec.x[i], tvec.x[i])
}
{fo.close()}
nerr = nm_error_count()
{pc.barrier()}
if (nerr > 0) {
    printf("FAIL: rank %d: %d learned cells stopped\n", rank, nerr)
}
{pc.done()}
quit()
"""


def read_spikes(prefix, nranks):
    spikes = []
    for r in range(nranks):
        path = "%s.%d" % (prefix, r)
        if not os.path.exists(path):
            raise RuntimeError("%s missing" % path)
        for line in open(path):
            g, t = line.split()
            spikes.append((int(g), float(t)))
    return sorted(spikes)


def run(cmd, env, what):
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=MPI_TIMEOUT)
    except subprocess.TimeoutExpired:
        print("FAIL: %s: no result in %d s" % (what, MPI_TIMEOUT))
        sys.exit(1)
    if r.returncode != 0 or "FAIL:" in r.stdout:
        print("FAIL: %s exited %d:\n%s\n%s" % (what, r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        sys.exit(1)
    return r


def driver(args):
    env = dict(os.environ)
    # OpenMPI refuses to run as root without these (CI machines run as root).
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               NEURON_MODULE_OPTIONS="-nogui", OPENBLAS_NUM_THREADS="1",
               PYTHONDONTWRITEBYTECODE="1")
    mpi = [args.mpiexec, "--allow-run-as-root", "--oversubscribe"]
    os.makedirs(args.workdir, exist_ok=True)
    py = sys.executable
    # Can MPI start 2 ranks of NEURON here?
    probe = ("from neuron import h\nh.nrnmpi_init()\npc = h.ParallelContext()\n"
             "print('NHOST', int(pc.nhost()))\npc.done()\nh.quit()\n")
    try:
        r = subprocess.run(mpi + ["-n", "2", py, "-c", probe], env=env, capture_output=True, text=True,
                           timeout=MPI_TIMEOUT)
        ok = r.returncode == 0 and r.stdout.count("NHOST 2") == 2
        why = "exit %d: %s" % (r.returncode, (r.stdout + r.stderr)[-500:])
    except (OSError, subprocess.TimeoutExpired) as e:
        ok, why = False, str(e)
    if not ok:
        print("SKIP: mpiexec -n 2 does not give NEURON 2 ranks here (NEURON without MPI, or MPI "
              "cannot start): %s" % why)
        sys.exit(SKIP)

    sys.path.insert(0, os.path.abspath(args.pydir))
    from neuromap import runtime as rt
    spec = os.path.join(args.workdir, "mpi_net.txt")
    write_spec(spec, rt.LearnedModel(args.model).p_default)
    me = os.path.abspath(__file__)
    common = ["--worker", "--spec", spec, "--model", args.model, "--mechdir", args.mechdir,
              "--pydir", args.pydir]
    runs = {}
    for tag, nranks, nthread in (("py_1rank", 1, 1), ("py_2ranks", 2, 1), ("py_1rank_2threads", 1, 2)):
        out = os.path.join(args.workdir, "mpi_" + tag)
        for r in range(2):
            if os.path.exists("%s.%d" % (out, r)):
                os.remove("%s.%d" % (out, r))
        run(mpi + ["-n", str(nranks), py, me] + common +
            ["--out", out, "--expect-nhost", str(nranks), "--nthread", str(nthread)], env, tag)
        runs[tag] = read_spikes(out, nranks)
    hoc = os.path.join(args.workdir, "mpi_net.hoc")
    with open(hoc, "w") as f:
        f.write(HOC_WORKER)
    out = os.path.join(args.workdir, "mpi_hoc_2ranks")
    hoc_args = ["-c", "strdef HOCFILE, SPEC, MODEL, OUT",
                "-c", 'HOCFILE = "%s"' % os.path.join(args.hocdir, "learned_cell.hoc"),
                "-c", 'SPEC = "%s"' % spec, "-c", 'MODEL = "%s"' % args.model,
                "-c", 'OUT = "%s"' % out, "-c", "NHH = %d" % NUM_HH,
                "-c", "TSTOP = %r" % TSTOP, "-c", "DT = %r" % DT]
    run(mpi + ["-n", "2", args.nrniv, "-mpi", "-nogui", "-nobanner", "-dll", args.nrnmech] + hoc_args + [hoc],
        env, "hoc_2ranks")
    runs["hoc_2ranks"] = read_spikes(out, 2)

    ref = runs["py_1rank"]
    n_learned = sum(1 for g, _ in ref if g < NUM_LEARNED)
    n_hh = len(ref) - n_learned
    fired = {g for g, _ in ref}
    print("1 rank: %d spikes (%d learned, %d hh) from %d of %d cells"
          % (len(ref), n_learned, n_hh, len(fired), NUM_LEARNED + NUM_HH))
    fails = 0
    if n_learned < 5 or n_hh < 5:
        print("FAIL: the network hardly fires (%d learned, %d hh spikes): nothing to compare"
              % (n_learned, n_hh))
        fails += 1
    for tag in ("py_2ranks", "py_1rank_2threads", "hoc_2ranks"):
        got = runs[tag]
        same = got == ref
        print("  %s: %s: %d spikes%s" % ("ok" if same else "FAIL", tag, len(got),
                                        ", identical to 1 rank (gid and time, bit for bit)" if same else
                                        " differ from 1 rank's %d (first: %s)" % (
                                            len(ref), next(((a, b) for a, b in zip(ref, got) if a != b),
                                                           "length"))))
        fails += not same
    if fails:
        sys.exit(1)
    print("PASS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--spec")
    ap.add_argument("--out")
    ap.add_argument("--expect-nhost", type=int, default=1)
    ap.add_argument("--nthread", type=int, default=1)
    ap.add_argument("--mpiexec")
    ap.add_argument("--nrniv")
    ap.add_argument("--nrnmech")
    ap.add_argument("--hocdir")
    ap.add_argument("--workdir")
    ap.add_argument("--mechdir", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--pydir", required=True)
    args = ap.parse_args()
    if args.worker:
        worker(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
