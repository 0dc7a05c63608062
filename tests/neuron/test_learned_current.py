"""Input-driven learned cells in NEURON (issue 11 part 3): current synapse,
ibias, clamping, errors, and NeuroMapClamp's measured input.

Usage: /usr/bin/python3 test_learned_current.py --mechdir BUILD/mod
           --model FIXTURE.nmap --input-model INPUT.nmap --pydir SRC/python
       (from a scratch folder)

INPUT.nmap is the fixture with an input channel (HH, uA/cm2, dt_map 0.1 ms;
make_fixture_input_model.sh); FIXTURE.nmap the SRK one without input.

  * NeuroMapCell under NetCon wi events (three NetCons, random times and
    weights, some big enough to leave the trained range) + ibias, area 1000
    um2: V after every step and the spike times are BIT FOR BIT the library's
    offline driven run (runtime.syn_means -> the same C synapse code,
    * input_factor, LearnedModel.run_u = nm_learned_run_u), under the fixed
    step and CVode; the clamped steps are counted like nm_learned_run_u's
    (cell.input_clamped(), the hoc template's input_clamped(), and
    neuron_support.run issues an InputClampedWarning);
  * exact integration: one event mid-step: the library's mean is
    w tau/dt (1 - exp(-(t_(n+1) - t_k)/tau)) (1e-12 relative), and the
    cell's iin at that step is the library's bit for bit;
  * bad values: tau_syn <= 0, NaN ibias, a uA/cm2 model without area_um2 ->
    finitialize refused with the message; NaN wi and tau_syn < 0 during a run
    -> the cell stops (err 1) with its message, run() raises;
  * a model without input: wi/ibias are ignored (V bit for bit the free
    run), counted in input_ignored(), and run() warns;
  * NeuroMapClamp: an IClamp step into the soma of a LearnedSectionCell
    gives the spikes of a NeuroMapCell whose step current (wi, tau_syn =
    1e300) starts one map step later (the clamp's one-step lag), and its
    measured iother equals the IClamp's amplitude; an ExpSyn on the clamped
    soma: the measured input equals the step means of -ExpSyn.i.
"""

import math
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import learned_common as lc  # noqa: E402

AREA_UM2 = 1000.0         # 1 nA = 100 uA/cm2
TSTOP_MS = 300.0
IBIAS_NA = 0.06           # 6 uA/cm2: the middle of the HH fixture's training input
TAU_SYN_MS = 2.0
# three NetCons: (weight wi in nA, number of events); the 0.4 nA events push
# the step means above the trained range (about 21 uA/cm2 = 0.21 nA)
SOURCES = ((0.03, 120), (-0.02, 80), (0.4, 6))
SEED = 11
# NeuroMapClamp against NeuroMapCell: the measured input differs from the
# exact mean by the integrator's error (C dv - the clamp's charge): about
# 2e-9 nA under the fixed step, 2.4e-6 nA under CVode at atol = rtol = 1e-8.
# Spike times must then agree within dt_map (the map is the same, the inputs
# differ in the last digits); measured: identical.
MEASURE_ATOL_NA = {"fixed": 1e-7, "cvode": 2e-5}
# ExpSyn: the measured input against the ExpSyn's current as the fixed step
# applied it (rounding only: about 1e-9 nA)
EXPSYN_ATOL_NA = 1e-7


def events(rng, tstop):
    """Sorted (times, weights) of all sources, and per source its times."""
    per = []
    for w, n in SOURCES:
        t = np.sort(rng.uniform(1.0, tstop - 1.0, n))
        per.append((w, t))
    allt = np.concatenate([t for _, t in per])
    allw = np.concatenate([np.full(len(t), w) for w, t in per])
    order = np.argsort(allt, kind="stable")
    return allt[order], allw[order], per


def play_events(h, target, per):
    """One NetCon per source (weight[0] = 0: no drive; weight[1] = wi) and an
    FInitializeHandler that queues its event times."""
    ncs = []
    for w, times in per:
        nc = h.NetCon(None, target)
        nc.weight[0] = 0.0
        nc.weight[1] = w
        ncs.append((nc, times))

    def queue():
        for nc, times in ncs:
            for t in times:
                nc.event(float(t))
    fih = h.FInitializeHandler(1, queue)
    return ncs, fih


def test_bit_for_bit(h, ns, rt, cells, m_in, path_in):
    rng = np.random.default_rng(SEED)
    tev, wev, per = events(rng, TSTOP_MS)
    dt = m_in.dt_ms
    nsteps = int(math.floor(TSTOP_MS / dt + 1e-9)) - 1     # steps surely before tstop
    means = rt.syn_means(tev, wev, nsteps, dt, tau_ms=TAU_SYN_MS, ibias_na=IBIAS_NA)
    f = m_in.input_factor(AREA_UM2)
    lc.check(f == 100.0, "input factor nA -> uA/cm2 on 1000 um2: %g" % f)
    u = means * f
    v_off, x_off, nclamped_off = m_in.run_u(m_in.p_default, u)
    v0 = m_in.decode_v(m_in.initial_state())
    want = m_in.cell_spike_times(v_off, v0)
    lo, hi = m_in.input_range
    lc.check(nclamped_off > 0 and np.sum((u < lo) | (u > hi)) == nclamped_off,
             "offline: %d of %d steps outside [%g, %g] clamped" % (nclamped_off, nsteps, lo, hi))
    lc.check(len(want) >= 3, "offline: %d spikes under the input" % len(want))

    c = cells.LearnedCell(path_in, tau_syn=TAU_SYN_MS, ibias=IBIAS_NA, area_um2=AREA_UM2)
    lc.check(c.has_input and c.input_unit == "uA/cm2" and c.input_range == (lo, hi),
             "LearnedCell: has_input, input_unit %r, input_range %s" % (c.input_unit, c.input_range))
    ncs, fih = play_events(h, c.syn, per)
    rec = c.record_spikes()
    tv, vv = c.record_V()
    results = {}
    for method in ("fixed", "cvode"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ns.run(TSTOP_MS, method=method)
        t_got, v_got = ns.to_numpy(tv), ns.to_numpy(vv)
        n = min(nsteps, len(v_got) - 1)
        got = lc.upto(rec.times(), nsteps * dt + 1e-9)
        if not np.array_equal(v_got[1:n + 1], v_off[:n]):
            bad = np.nonzero(v_got[1:n + 1] != v_off[:n])[0]
            print("  first V difference at step %d (t %r): %r vs %r; iin %r" % (
                bad[0] + 1, t_got[bad[0] + 1], v_got[bad[0] + 1], v_off[bad[0]], c.iin))
        lc.check(n == nsteps and np.array_equal(v_got[1:n + 1], v_off[:n]) and v_got[0] == v0,
                 "%s: V after each of %d steps bit for bit the offline driven run" % (method, n))
        lc.check(lc.same_times(got, want), "%s: %d spikes = the offline run's %d"
                 % (method, len(got), len(want)))
        nc_cell = c.input_clamped()
        # steps after nsteps (up to tstop) may add clamped ones: count offline
        lc.check(nc_cell >= nclamped_off and c.hoc.input_clamped() == nc_cell and
                 c.input_ignored() == 0,
                 "%s: input_clamped() = %d (hoc %d), offline %d in the compared steps"
                 % (method, nc_cell, c.hoc.input_clamped(), nclamped_off))
        msgs = [str(w.message) for w in caught if issubclass(w.category, ns.InputClampedWarning)]
        lc.check(len(msgs) == 1 and "clamped" in msgs[0] and "NeuroMapCell" in msgs[0],
                 "%s: run() warned: %s" % (method, msgs))
        results[method] = got
    lc.check(lc.same_times(results["fixed"], results["cvode"]), "fixed step and CVode: same spikes")
    del ncs, fih


def test_exact_mean(h, ns, rt, cells, m_in, path_in):
    dt = m_in.dt_ms
    k = 100
    tk = k * dt + 0.37 * dt       # mid-step
    w, tau = 0.05, 1.7
    means = rt.syn_means([tk], [w], k + 3, dt, tau_ms=tau)
    want = w * tau / dt * (1 - math.exp(-((k + 1) * dt - tk) / tau))
    lc.check(means[k - 1] == 0 and abs(means[k] - want) <= 1e-12 * abs(want),
             "library: mean of the step holding the event %.17g, analytic %.17g" % (means[k], want))
    nxt = w * math.exp(-((k + 1) * dt - tk) / tau) * tau / dt * (1 - math.exp(-dt / tau))
    lc.check(abs(means[k + 1] - nxt) <= 1e-12 * nxt, "library: the next step's mean %.17g, analytic "
             "%.17g" % (means[k + 1], nxt))

    c = cells.LearnedCell(path_in, tau_syn=tau, area_um2=AREA_UM2)
    nc = h.NetCon(None, c.syn)
    nc.weight[0] = 0
    nc.weight[1] = w
    fih = h.FInitializeHandler(1, lambda: nc.event(tk))
    times = (np.arange(k - 1, k + 3) + 0.5) * dt
    tvec, ivec = ns.record_v(c.mech._ref_iin, times=times)
    ns.run((k + 4) * dt, method="fixed")
    got = ns.to_numpy(ivec)
    lc.check(np.array_equal(got, means[k - 2:k + 2]),
             "NeuroMapCell iin around the event %s = the library's %s" % (got, means[k - 2:k + 2]))
    del nc, fih


def expect_refused(h, ns, what, needle, setup):
    try:
        setup()
        ns.run(1.0)
    except RuntimeError as e:
        lc.check(needle in str(e), "%s: finitialize refused: %s" % (what, e))
    else:
        lc.check(False, "%s: finitialize accepted it" % what)


def test_bad_values(h, ns, cells, m_in, path_in, path_plain):
    c = cells.LearnedCell(path_in, area_um2=AREA_UM2)
    expect_refused(h, ns, "tau_syn = 0", "tau_syn = 0", lambda: setattr(c, "tau_syn", 0.0))
    c.tau_syn = TAU_SYN_MS
    expect_refused(h, ns, "ibias = NaN", "ibias = nan", lambda: setattr(c, "ibias", float("nan")))
    c.ibias = 0.0
    expect_refused(h, ns, "uA/cm2 model without area", "area_um2",
                   lambda: setattr(c, "area_um2", 0.0))
    c.area_um2 = AREA_UM2
    ns.run(1.0)       # valid again
    del c

    # during a run: a NaN wi, a negative tau_syn -> the cell stops at its next step
    for what, needle, go in (("NaN wi", "wi = nan", "wi"), ("tau_syn < 0", "tau_syn = -1", "tau")):
        c = cells.LearnedCell(path_in, area_um2=AREA_UM2)
        nc = h.NetCon(None, c.syn)
        nc.weight[0] = 0
        nc.weight[1] = float("nan") if go == "wi" else 0.01

        def queue(nc=nc, c=c, go=go):
            nc.event(5.03)
            if go == "tau":
                h.CVode().event(5.01, lambda: setattr(c, "tau_syn", -1.0))
        fih = h.FInitializeHandler(1, queue)
        try:
            ns.run(10.0)
        except ns.LearnedCellError as e:
            lc.check(c.err == 1 and needle in c.error_message() and needle in str(e) and
                     5.0 <= e.first.t_ms <= 5.2 and c.mech.pending == 0,
                     "%s during a run: the cell stopped at %g ms: %s" % (what, e.first.t_ms,
                                                                         c.error_message()))
        else:
            lc.check(False, "%s during a run: run() did not raise" % what)
        c.tau_syn = TAU_SYN_MS       # the CVode.event callback keeps the cell alive
        nc.weight[1] = 0.0
        del nc, fih, c

    # the plain fixture: without input wi and ibias are ignored, counted, warned
    m_plain = lc.rt_model(path_plain)
    c = cells.LearnedCell(path_plain, ibias=0.1)
    lc.check(not c.has_input and c.input_unit == "" and c.input_range == (0.0, 0.0),
             "a model without input: has_input False, unit '', range (0, 0)")
    tv, vv = c.record_V()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ns.run(200.0)
    v = ns.to_numpy(vv)
    v_off, _ = m_plain.run(c.p, len(v) - 1)
    msgs = [str(w.message) for w in caught if issubclass(w.category, ns.InputClampedWarning)]
    lc.check(np.array_equal(v[1:], v_off) and c.input_ignored() == len(v) - 1 and
             c.hoc.input_ignored() == c.input_ignored() and c.input_clamped() == 0 and
             len(msgs) == 1 and "ignored" in msgs[0],
             "a model without input: ibias ignored (V bit for bit the free run), counted in "
             "%d of %d steps, warned: %s" % (c.input_ignored(), len(v) - 1, msgs))
    del c


def spikes_of(rec, tmax):
    return lc.upto(rec.times(), tmax)


def test_clamp_iclamp(h, ns, cells, m_in, path_in):
    """IClamp step into a LearnedSectionCell vs a NeuroMapCell given the
    same step one map step later."""
    dt = m_in.dt_ms
    amp = 0.1                      # nA = 10 uA/cm2 on the 1000 um2 soma
    t_on = 50.05                   # on the 0.025 ms grid, mid map step
    tstop = 250.0
    results = {}
    for method in ("fixed", "cvode"):
        s = cells.LearnedSectionCell(path_in)
        s.mech.tau_syn = 2.0
        stim = h.IClamp(s.soma(0.5))
        stim.delay = t_on
        stim.dur = 1e9
        stim.amp = amp
        c = cells.LearnedCell(path_in, tau_syn=1e300, area_um2=s.area_um2)
        nc = h.NetCon(None, c.syn)
        nc.weight[0] = 0
        nc.weight[1] = amp
        fih = h.FInitializeHandler(1, lambda nc=nc: nc.event(t_on + dt))
        c0 = cells.LearnedCell(path_in, tau_syn=1e300, area_um2=s.area_um2)
        nc0 = h.NetCon(None, c0.syn)
        nc0.weight[0] = 0
        nc0.weight[1] = amp
        fih0 = h.FInitializeHandler(1, lambda nc=nc0: nc.event(t_on))
        rs, rc, rc0 = s.record_spikes(), c.record_spikes(), c0.record_spikes()
        ns.run(tstop, method=method, dt=0.025, secondorder=0, v_init=s.V0)
        a, b = spikes_of(rs, tstop - 2 * dt), spikes_of(rc, tstop - 2 * dt)
        diff = np.max(np.abs(a - b)) if len(a) == len(b) and len(a) else float("inf")
        lc.check(abs(s.area_um2 - AREA_UM2) < 1e-9 and abs(s.mech.iother - amp) <= MEASURE_ATOL_NA[method]
                 and s.input_clamped() == 0,
                 "%s: the clamp measured the IClamp's %g nA as %.12g nA (area %g um2)"
                 % (method, amp, s.mech.iother, s.area_um2))
        lc.check(len(a) >= 3 and len(a) == len(b) and diff <= dt,
                 "%s: IClamp %g nA from %g ms into NeuroMapClamp: %d spikes, those of NeuroMapCell "
                 "with the step from %g ms (the one-step lag) within %.3g ms (tolerance dt_map %g)"
                 % (method, amp, t_on, len(a), t_on + dt, diff, dt))
        # the check can fail: without the lag (the step at t_on) the spikes differ
        b0 = spikes_of(rc0, tstop - 2 * dt)
        lc.check(len(b0) != len(a) or np.max(np.abs(b0 - a)) > 1e-6,
                 "%s: control: NeuroMapCell with the step at %g ms (no lag) fires otherwise"
                 % (method, t_on))
        results[method] = a
        del s, stim, c, nc, fih, rs, rc, c0, nc0, fih0, rc0
    lc.check(len(results["fixed"]) == len(results["cvode"]),
             "NeuroMapClamp: fixed step and CVode give %d and %d spikes"
             % (len(results["fixed"]), len(results["cvode"])))


def test_clamp_expsyn(h, ns, cells, m_in, path_in):
    """An ExpSyn on the clamped soma: the measured input = the ExpSyn's
    current as NEURON's fixed step applied it (backward Euler: step n applies
    g_n (v_(n+1) - e), g_n the conductance after the step's events; cnexp
    decays g exactly, so g_n = g(t_(n+1)) exp(dt/tau))."""
    dt = m_in.dt_ms
    hdt = 0.025
    s = cells.LearnedSectionCell(path_in)
    syn = h.ExpSyn(s.soma(0.5))
    syn.tau = 3.0
    syn.e = 0.0
    nc = h.NetCon(None, syn)
    nc.weight[0] = 0.0005            # uS: about 0.03 nA at -60 mV
    t_ev = 30.0
    fih = h.FInitializeHandler(1, lambda: nc.event(t_ev))
    gvec, vvec = h.Vector(), h.Vector()
    gvec.record(syn._ref_g, hdt)
    vvec.record(s.soma(0.5)._ref_v, hdt)
    ks = np.arange(int(t_ev / dt) - 2, int(t_ev / dt) + 60)
    tvec, mvec = ns.record_v(s.mech._ref_iother, times=(ks + 0.5) * dt)
    ns.run(40.0 + 60 * dt, method="fixed", dt=hdt, secondorder=0, v_init=s.V0)
    g, v = ns.to_numpy(gvec), ns.to_numpy(vvec)
    inj = -(g[1:] * math.exp(hdt / syn.tau)) * (v[1:] - syn.e)     # step n: [n hdt, (n+1) hdt]
    per = int(round(dt / hdt))
    # iother at (k + 1/2) dt is the mean over [(k-1) dt, k dt]
    want = np.array([np.mean(inj[(k - 1) * per:k * per]) for k in ks])
    got = ns.to_numpy(mvec)
    peak = np.max(np.abs(want))
    err = np.max(np.abs(got - want))
    lc.check(peak > 0.005 and err <= EXPSYN_ATOL_NA,
             "ExpSyn on the clamped soma: measured input vs the ExpSyn's applied current, step "
             "means: max error %.3g nA, peak %.3g nA (tolerance %g nA)" % (err, peak, EXPSYN_ATOL_NA))
    del s, syn, nc, fih


def main():
    args = lc.parse_args(lambda ap: ap.add_argument("--input-model", required=True))
    h, neuromap, ns, rt, cells = lc.setup(args)
    m_in = rt.LearnedModel(args.input_model)
    lc.check(m_in.has_input and m_in.input_unit == "uA/cm2",
             "the input fixture has an input channel in uA/cm2 (%s)" % m_in.input_unit)
    lc.rt_model = rt.LearnedModel
    test_bit_for_bit(h, ns, rt, cells, m_in, args.input_model)
    test_exact_mean(h, ns, rt, cells, m_in, args.input_model)
    test_bad_values(h, ns, cells, m_in, args.input_model, args.model)
    test_clamp_iclamp(h, ns, cells, m_in, args.input_model)
    test_clamp_expsyn(h, ns, cells, m_in, args.input_model)


if __name__ == "__main__":
    lc.main_wrapper(main)
