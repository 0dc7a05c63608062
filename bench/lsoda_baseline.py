#!/usr/bin/python3
"""Baseline for bench_sweep: the same SRK protocol with scipy's LSODA.

The design's reference table was made with LSODA at rtol 1e-8; this script
times that on a subset of the 65-point grid and scales per point:

    /usr/bin/python3 bench/lsoda_baseline.py [--points 9] [--repeats 3]
                                             [--c-bench build/bin/bench_sweep]
    /usr/bin/python3 bench/lsoda_baseline.py --table    # the 65-point truth

--table prints the regime at every grid point, classified like
nm_regime_classify's defaults (ISIs within 3% + 2 ms of their phase mean for
some k <= 12 seen 3 times; fewer than 3 spikes: silent); this is the
independent check of tests/unit/test_regime_table.c (about 25 s).

Each point: initial state (V, n, S) = (-50, 0, 0.4), 80 s of model time (20 s
transient + 60 s), V sampled every 5 ms after the transient (t_eval), LSODA
rtol 1e-8, atol 1e-10 (the C defaults).  The right-hand side is scalar Python
with math.exp (faster than numpy for 3 states).  Per repeat, the time of the
subset is scaled to 65 points; the median of the repeats is reported.  With
--c-bench, the C sweep (65 points, 2 threads, median of 3) is run too and
the ratio printed.  Needs scipy (Debian python3-scipy).
"""
import argparse
import math
import statistics
import subprocess
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

# design.md section 2, time in ms
P = dict(gCa=3.6, gK=10.0, gS=4.0, VCa=25.0, VK=-75.0, Vm=-20.0, thetam=12.0, Vn=-16.0,
         thetan=5.6, thetaS=10.0, tau=20.0, sigma=0.93, tauS=5000.0)
TRANSIENT_MS, DURATION_MS, DT_MS = 20000.0, 60000.0, 5.0
GRID = [-46.0 + 0.25 * i for i in range(65)]


def rhs(t, y, vs):
    v, n, s = y
    minf = 1.0 / (1.0 + math.exp((P['Vm'] - v) / P['thetam']))
    ninf = 1.0 / (1.0 + math.exp((P['Vn'] - v) / P['thetan']))
    sinf = 1.0 / (1.0 + math.exp((vs - v) / P['thetaS']))
    dv = (-P['gCa'] * minf * (v - P['VCa']) - P['gK'] * n * (v - P['VK'])
          - P['gS'] * s * (v - P['VK'])) / P['tau']
    return [dv, P['sigma'] * (ninf - n) / P['tau'], (sinf - s) / P['tauS']]


def simulate(vs):
    t_eval = TRANSIENT_MS + DT_MS * np.arange(int(DURATION_MS / DT_MS) + 1)
    sol = solve_ivp(rhs, (0.0, TRANSIENT_MS + DURATION_MS), [-50.0, 0.0, 0.4], method='LSODA',
                    rtol=1e-8, atol=1e-10, t_eval=t_eval, args=(vs,))
    if not sol.success:
        raise RuntimeError(f'LSODA failed at VS={vs}: {sol.message}')
    return sol.y[0]


def spike_times(t, v, th=-35.0):
    i = np.where((v[:-1] < th) & (v[1:] >= th))[0]
    return t[i] + (th - v[i]) / (v[i + 1] - v[i]) * (t[i + 1] - t[i])


def classify(sp, max_k=12, rel=0.03, abs_ms=2.0, repeats=3, min_spikes=3):
    """(regime, mean period over complete periods) as nm_regime_classify."""
    if len(sp) < max(2, min_spikes):
        return 'silent', 0.0
    isi = np.diff(sp)
    m = len(isi)
    for k in range(1, max_k + 1):
        if m < k * repeats:
            break
        means = np.array([isi[j::k].mean() for j in range(k)])
        mu = means[np.arange(m) % k]
        if np.all(np.abs(isi - mu) <= abs_ms + rel * mu):
            periods = m // k
            return f'periodic:{k}', (sp[periods * k] - sp[0]) / periods
    return 'irregular', 0.0


def table():
    t = TRANSIENT_MS + DT_MS * np.arange(int(DURATION_MS / DT_MS) + 1)
    print('  VS (mV)  regime        spikes  period (ms)  ISI min..max (ms)')
    for vs in GRID:
        sp = spike_times(t, simulate(vs))
        reg, per = classify(sp)
        isi = np.diff(sp) if len(sp) > 1 else np.zeros(1)
        print(f'  {vs:7.2f}  {reg:<12s}  {len(sp):6d}  {per:11.1f}  {isi.min():7.1f} .. {isi.max():7.1f}',
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--points', type=int, default=9, help='subset size (evenly spread over the grid)')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--c-bench', help='path of the bench_sweep binary, to print the ratio')
    ap.add_argument('--table', action='store_true', help='print the 65-point regime table and exit')
    a = ap.parse_args()
    if a.table:
        table()
        return
    step = max(1, (len(GRID) - 1) // max(1, a.points - 1))
    subset = GRID[::step][:a.points]
    per65 = []
    for r in range(a.repeats):
        t0 = time.perf_counter()
        for vs in subset:
            simulate(vs)
        el = time.perf_counter() - t0
        per65.append(el / len(subset) * len(GRID))
        print(f'repeat {r + 1}: {len(subset)} points in {el:.2f} s -> {per65[-1]:.2f} s per 65 points',
              flush=True)
    base = statistics.median(per65)
    print(f'scipy LSODA (rtol 1e-8), 65 points x 80 s, one thread: median {base:.2f} s '
          f'({1000 * base / len(GRID):.0f} ms per point)')
    if a.c_bench:
        out = subprocess.run([a.c_bench, '--threads', '2', '--repeats', '3'], check=True,
                             capture_output=True, text=True).stdout
        sys.stdout.write(out)
        line = [x for x in out.splitlines() if x.startswith('RESULT')][-1]
        csec = float(dict(kv.split('=') for kv in line.split()[1:])['seconds'])
        print(f'RATIO scipy/C = {base / csec:.1f}x  (scipy one thread {base:.2f} s; '
              f'C 2 threads {csec:.3f} s; per thread-second {base / (2 * csec):.1f}x)')


if __name__ == '__main__':
    main()
