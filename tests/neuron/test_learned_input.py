"""NetCon input and the POINTER feed change a learned cell's behaviour as
designed.

Usage: /usr/bin/python3 test_learned_input.py --mechdir BUILD/mod
           --model FIXTURE.nmap --pydir SRC/python      (from a scratch folder)

With p_silent / p_firing of the fixture model (offline scan):
  * one NetCon event of weight (p_firing - p_silent) at t_kick into a
    NeuroMapCell at p_silent with tau_drive = 1e300 ms (exp(-t/tau) rounds to
    exactly 1: a step of p) gives exactly the offline run with p switched
    from p_silent to p_silent + w at the first step after t_kick -- "the map
    sees p + drive".  t_kick is the latest of a few candidates after which
    the OFFLINE switched run fires (a learned map may be bistable and stay at
    rest once there; learned_common.find_switch_time);
  * the same with weight 0 stays silent; regular input (NetStim from t_kick)
    at the default tau_drive drives a silent cell into firing, and no spike
    comes before the first input;
  * drive decays with tau_drive: after one event of weight w at t_e the
    drive the map used at step time t is w*exp(-(t - t_e)/tau_drive);
  * NeuroMapClamp's POINTER: a silent LearnedSectionCell whose ExpSyn
    current feeds p (kp < 0) fires when the synapse is driven, stays silent
    with kp = 0.
"""

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import learned_common as lc  # noqa: E402

TSTOP_MS = 15002.5
TAU_STEP_MS = 1e300           # exp(-dt/tau) == 1.0 exactly: the drive is a step
DECAY_TAU_MS = 40.0
DECAY_W = 0.3
# |drive - w exp(-dt/tau)|: the mod computes exp in steps (drive*exp(-5/tau)
# per map step), the check in one go; rounding only (1e-15 relative per step).
DECAY_RTOL = 1e-12
STIM_INTERVAL_MS = 25.3


def test_step_input(h, ns, rt, cells, model, path, p_silent, p_firing, t_kick):
    w = p_firing - p_silent
    nsteps = int(np.floor(TSTOP_MS / model.dt_ms))
    v_off, _ = model.run_schedule(lc.switch_schedule(model, p_silent, p_silent + w, t_kick,
                                                     nsteps))
    v0 = model.decode_v(model.initial_state())
    want = rt.cell_spike_steps(v_off, v0, model.threshold_mv) * model.dt_ms

    kicked = cells.LearnedCell(path, p=p_silent, tau_drive=TAU_STEP_MS)
    control = cells.LearnedCell(path, p=p_silent, tau_drive=TAU_STEP_MS)
    stim = h.NetStim()
    stim.start = t_kick
    stim.number = 1
    ncs = [h.NetCon(stim, kicked.syn, 0, 0, w), h.NetCon(stim, control.syn, 0, 0, 0.0)]
    rk, rc = kicked.record_spikes(), control.record_spikes()
    for method in ("fixed", "cvode"):
        ns.run(TSTOP_MS, method=method, v_init=kicked.V0)
        got = lc.upto(rk.times(), TSTOP_MS)
        lc.check(len(want) > 0 and want[0] > t_kick and lc.same_times(got, want),
                 "%s: one event of weight %g at %g ms: %d spikes, all after it, identical to the "
                 "offline run with p = %g + %g from the next step"
                 % (method, w, t_kick, len(got), p_silent, w))
        lc.check(kicked.mech.peff == p_silent + w, "%s: the map saw p + drive = %.15g"
                 % (method, kicked.mech.peff))
        lc.check(len(rc.times()) == 0, "%s: the same event with weight 0: silent" % method)
    del ncs


def test_regular_input(h, ns, cells, path, p_silent, t_start):
    c = cells.LearnedCell(path, p=p_silent)
    stim = h.NetStim()
    stim.start = t_start
    stim.interval = STIM_INTERVAL_MS
    stim.number = 1e9
    stim.noise = 0
    nc = h.NetCon(stim, c.syn, 0, 0.5, 1.0)
    rec = c.record_spikes()
    w_fire = None
    for w in (0.25, 0.5, 1.0, 2.0, 4.0):
        nc.weight[0] = w
        ns.run(TSTOP_MS, v_init=c.V0)
        sp = rec.times()
        if len(sp) >= 3:
            w_fire = w
            break
    lc.check(w_fire is not None and sp[0] > t_start,
             "regular input (every %g ms from %g ms, tau_drive %g ms) drives the silent cell "
             "(p = %g) into firing at weight %s: %d spikes, first at %.1f ms"
             % (STIM_INTERVAL_MS, t_start, c.tau_drive, p_silent, w_fire, len(sp),
                sp[0] if len(sp) else float("nan")))
    c.check()


def test_decay(h, ns, cells, path, p_silent, t_kick):
    c = cells.LearnedCell(path, p=p_silent, tau_drive=DECAY_TAU_MS)
    stim = h.NetStim()
    stim.start = t_kick
    stim.number = 1
    nc = h.NetCon(stim, c.syn, 0, 0, DECAY_W)
    worst = 0.0
    for k in range(1, 20):
        tstop = math.floor(t_kick / c.dt_map + k) * c.dt_map + 0.5 * c.dt_map
        ns.run(tstop, v_init=c.V0)
        tstep = c.mech.tdrive
        want = DECAY_W * math.exp(-(tstep - t_kick) / DECAY_TAU_MS)
        worst = max(worst, abs(c.mech.drive - want) / want)
        if abs(c.mech.peff - (p_silent + c.mech.drive)) > 1e-12:
            raise lc.TestFailure("peff %g != p + drive %g" % (c.mech.peff, p_silent + c.mech.drive))
    lc.check(worst < DECAY_RTOL, "drive after one event decays as w exp(-(t - t_e)/tau_drive) "
             "over 19 steps (worst relative error %.1e)" % worst)
    del nc


def test_pointer_feed(h, ns, cells, path, p_silent, t_start):
    fed = cells.LearnedSectionCell(path, p=p_silent)
    off = cells.LearnedSectionCell(path, p=p_silent)
    stim = h.NetStim()
    stim.start = t_start
    stim.interval = STIM_INTERVAL_MS
    stim.number = 1e9
    stim.noise = 0
    # ExpSyn at e = 0 mV on a soma held near -60 mV: 3 nS (0.003 uS) gives
    # about -0.18 nA at the peak of each event (decaying with 5 ms); kp in
    # mV of p per nA (negative: inward current raises p), increased until
    # the cell fires.
    ncs = [h.NetCon(stim, c.esyn, 0, 0.5, 0.003) for c in (fed, off)]
    off.clamp.kp = 0.0
    rf, ro = fed.record_spikes(), off.record_spikes()
    kp_fire = None
    for kp in (-10.0, -20.0, -50.0, -100.0):
        fed.clamp.kp = kp
        ns.run(TSTOP_MS, v_init=fed.V0)
        if len(rf.times()) >= 3:
            kp_fire = kp
            break
    lc.check(kp_fire is not None and rf.times()[0] > t_start and len(ro.times()) == 0,
             "POINTER feed: the synaptic current raises p (kp = %s mV/nA): %d spikes, first at "
             "%.1f ms; kp = 0: %d" % (kp_fire, len(rf.times()),
                                      rf.times()[0] if len(rf.times()) else -1, len(ro.times())))
    fed.check()
    del ncs


def main():
    args = lc.parse_args()
    h, neuromap, ns, rt, cells = lc.setup(args)
    model = rt.LearnedModel(args.model)
    p_silent, p_firing = lc.find_regimes(model)
    print("silent at p = %g, firing at p = %g" % (p_silent, p_firing))
    t_kick, _ = lc.find_switch_time(model, p_silent, p_firing, TSTOP_MS)
    print("p switched at %g ms" % t_kick)
    test_step_input(h, ns, rt, cells, model, args.model, p_silent, p_firing, t_kick)
    test_regular_input(h, ns, cells, args.model, p_silent, t_kick)
    test_decay(h, ns, cells, args.model, p_silent, t_kick)
    test_pointer_feed(h, ns, cells, args.model, p_silent, t_kick)


if __name__ == "__main__":
    lc.main_wrapper(main)
