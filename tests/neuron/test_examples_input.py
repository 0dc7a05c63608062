#!/usr/bin/python3
"""Smoke tests of the input-driven examples (issue 11): each runs with tiny
settings and models, must exit 0 and print its numbers in the documented
format.  The models' fidelity is not judged here (docs/input.md has the
measured numbers).

    test_examples_input.py CASE --python PY --root SRC --workdir DIR
        [--neuromap BIN] [--models DIR]

CASE: train (examples/train_input_models.py --quick into --models; the
fixture of the other cases), hh_soma, network, hh_network.
"""

import argparse
import os
import re
import subprocess
import sys
import time

NUM = r"(-?[0-9]+(?:\.[0-9]+)?|nan)"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(cmd, cwd, timeout=300):
    t0 = time.time()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    out = p.stdout + p.stderr
    print(out[-6000:])
    print("(%s: exit %d in %.1f s)" % (os.path.basename(cmd[1]), p.returncode, time.time() - t0))
    if p.returncode != 0:
        fail("%s exited with %d" % (" ".join(cmd[:2]), p.returncode))
    return p.stdout


def need(out, pattern, what, count=1):
    found = re.findall(pattern, out, re.M)
    if len(found) < count:
        fail("%s: expected %d line(s) matching %r, found %d" % (what, count, pattern, len(found)))
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=("train", "hh_soma", "network", "hh_network"))
    ap.add_argument("--python", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--neuromap")
    ap.add_argument("--models", required=True)
    a = ap.parse_args()
    ex = os.path.join(a.root, "examples")
    os.makedirs(a.workdir, exist_ok=True)
    srk, hh = (os.path.join(a.models, f) for f in ("srk_input.nmap", "hh_input.nmap"))

    if a.case == "train":
        for f in (srk, hh):
            if os.path.exists(f):
                os.remove(f)
        out = run([a.python, os.path.join(ex, "train_input_models.py"), a.models, "--quick",
                   "--neuromap", a.neuromap], a.workdir)
        # the training report of each model (neuromap train's own lines go to stderr)
        need(out, r"^trained .*srk_input\.nmap in [0-9]+ s$", "train")
        need(out, r"^trained .*hh_input\.nmap in [0-9]+ s$", "train")
        need(out, r"^recorded .*hh_train_\d\.csv: .* \d+ spikes, I " + NUM, "train")
        sys.path.insert(0, os.path.join(a.root, "python"))
        for f, unit in ((srk, "pA"), (hh, "nA")):
            info = subprocess.run([a.neuromap, "info", f], capture_output=True, text=True).stdout
            if not re.search(r"meta\.u_unit.*\b%s\b" % re.escape(unit), info):
                fail("%s: no input channel in %s (meta.u_unit): %s" % (f, unit, info[-500:]))
        print("ok: both models written with their input units")
        return 0

    for f in (srk, hh):
        if not os.path.exists(f):
            fail("fixture model %s missing (the train case makes it)" % f)

    if a.case == "hh_soma":
        png = os.path.join(a.workdir, "hh_soma_vs_learned.png")
        if os.path.exists(png):
            os.remove(png)
        out = run([a.python, os.path.join(ex, "hh_soma_vs_learned.py"), hh, "--seeds", "101",
                   "--duration", "300", "--out", png], a.workdir)
        rows = need(out, r"^  101\s+(noisy current|synaptic) .*?\s+(\d+)\s+(\d+)\s+(\d+)\s+" + NUM
                    + r"\s+(\d+)$", "hh_soma rows", 4)
        if sum(int(r[1]) for r in rows) == 0:
            fail("the hh somas never fired: the protocols do not drive them")
        need(out, r"^noisy: Gamma mean %s, worst %s; spike count error mean \d+%%" % (NUM, NUM),
             "hh_soma summary")
        need(out, r"^synaptic: Gamma mean %s, worst %s; spike count error mean \d+%%" % (NUM, NUM),
             "hh_soma summary")
        try:
            import matplotlib  # noqa: F401
            if not os.path.getsize(png) > 1000:
                fail("no figure at %s" % png)
        except ImportError:
            need(out, r"^matplotlib not available", "hh_soma figure")
    elif a.case == "network":
        png = os.path.join(a.workdir, "network_input.png")
        out = run([a.python, os.path.join(ex, "network_learned_vs_srk.py"), "--input-model", srk,
                   "--ncells", "6", "--fanin", "2", "--tstop", "11000", "--seeds", "1,2",
                   "--out", png], a.workdir)
        for net in ("A all SRK: all", "B half learned: all", "B half learned: learned",
                    "B half learned: SRK", "C all learned: all"):
            need(out, r"^  [12]\s+%s\s+%s\s+%s\s+%s ms\s+%s%%$" % (re.escape(net), NUM, NUM, NUM,
                                                                  NUM), "network rows", 2)
            need(out, r"^  %s\s+rate Hz %s \(%s\.\.%s\) ([+-]\d+%%|n/a) \| spikes/burst " % (
                re.escape(net), NUM, NUM, NUM), "network means")
        for net in ("B half learned", "C all learned"):
            need(out, r"^  %s within 10%% of A \(seed means\): rate (yes|NO), spb (yes|NO), "
                 r"ibi (yes|NO); in every seed: " % net, "network verdict")
        if not os.path.getsize(png) > 1000:
            fail("no figure at %s" % png)
    else:
        out = run([a.python, os.path.join(ex, "hh_network_vs_learned.py"), hh, "--ncells", "6",
                   "--fanin", "2", "--tstop", "500"], a.workdir)
        need(out, r"^  hh somas \(A\):\s+rate %s \+- %s Hz$" % (NUM, NUM), "hh_network")
        need(out, r"^  learned somas \(B\): rate %s \+- %s Hz \(mean [+-]?\S+%%; per cell" % (NUM, NUM),
             "hh_network")
        need(out, r"^  spike-time agreement, learned \(B\) vs hh \(A\): Gamma \(\+-2 ms\) mean %s"
             % NUM, "hh_network")
        need(out, r"^  spike-time agreement, hh with one extra event .*: Gamma \(\+-2 ms\) mean %s"
             % NUM, "hh_network")
        rate = float(re.search(r"hh somas \(A\):\s+rate (\S+)", out).group(1))
        if not rate > 0:
            fail("the hh network is silent: the example's drive does not reach threshold")
    print("ok: %s" % a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
