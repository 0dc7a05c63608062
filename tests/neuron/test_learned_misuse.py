"""Misuse of the learned cells is an error or a defined behaviour, never a
crash, a NaN or a blow-up (issue 13, items 2, 14 and 16).

Usage: /usr/bin/python3 test_learned_misuse.py --mechdir BUILD/mod
           --model FIXTURE.nmap --pydir SRC/python      (from a scratch folder)

Checks, for NeuroMapCell (LearnedCell) and NeuroMapClamp (LearnedSectionCell):
  * load() during a run (after finitialize, at a t on and off the map grid,
    fixed step and CVode, 1 and 2 threads) used to abort NEURON ("net_send
    td-t = -995 SelfEvent", SIGABRT).  Now the new model starts from its start
    state at the load time t_load: its spikes are t_load + the spike times of
    an offline run from the start state (the library through ctypes), its
    latent state after N steps is the offline state bit for bit;
  * load() of a model with a shorter map step while the old self-event is
    queued after the new first step time: the first step is at that event,
    then dt_map apart; a longer map step: the cell waits for t_load + dt_map;
  * load() during a run into a stopped cell keeps it stopped (err and
    message kept) until finitialize, which starts it again;
  * invalid values at finitialize -- tau_drive 0, -20, NaN; hysteresis -1,
    NaN, inf; thresh NaN; and the clamp's rs 0, -1, NaN, inf -- are a hoc
    error; err = 1 (NM_EINVAL) and errmsg names the value; neuron_support.run
    raises RuntimeError with that message; a corrected value runs normally;
  * the same values set during a run stop the cell at its next map step
    (err 1, message, the map steps stop), with no NaN and no growth: clamp
    rs = 0 used to give NaN v with err = 0, tau_drive = -20 grew the drive to
    1e15 (then "map diverged"), tau_drive = 0 ignored the input;
  * p = NaN or inf (at the start or during a run), a NaN NetCon weight and
    the clamp's kp * pin = NaN are err 1 with "p is not finite" / "drive is
    not finite" / "kp * pin is not finite" -- not "map diverged" (err 6) --
    and the latent state is kept; check_cells reports the message;
  * dt_map assigned -1 (it is the model's) is read again at finitialize (it
    used to abort).
"""

import math
import os
import shutil
import struct
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import learned_common as lc  # noqa: E402

NM_EINVAL = 1
NM_ENUMERIC = 6
T_LOADS_MS = (1000.0, 1002.5)   # on and off the map grid (dt_map 5 ms)
AFTER_LOAD_MS = 3000.0
SHORT_DT_MS = 2.0                # the dt of the patched copy of the fixture


# ---- helpers ---------------------------------------------------------------

def set_integrator(h, method, nthread=1):
    pc = h.ParallelContext()
    cv = h.CVode()
    pc.nthread(nthread)
    cv.active(1 if method == "cvode" else 0)
    cv.use_local_dt(0)
    if method == "cvode":
        cv.atol(1e-8)
        cv.rtol(1e-8)
        # stdrun's flag too: continuerun(tstop) then stops exactly at tstop
        # (cvode.event) instead of at tstop - dt/2 with dt the last variable
        # step, which depends on the states in the model (NeuroMapClamp's
        # charge q, issue 11)
        h.using_cvode_ = 1
    else:
        h.dt = 0.025
        h.secondorder = 2


def reset_integrator(h):
    h.CVode().active(0)
    h.using_cvode_ = 0
    h.ParallelContext().nthread(1)
    h.secondorder = 0
    h.dt = 0.025


def patched_dt_copy(src, dst, dt_ms):
    """A copy of a model file with embed.dt_ms and map.dt_ms set to dt_ms and
    the CRC-32 trailer recomputed (docs/model-format.md): the same networks,
    another map time step."""
    data = bytearray(open(src, "rb").read())
    (count,) = struct.unpack_from("<I", data, 7)
    pos, found = 11, 0
    for _ in range(count):
        namelen = data[pos]
        name = bytes(data[pos + 1: pos + 1 + namelen]).decode("ascii")
        pos += 1 + namelen
        code = data[pos]
        (nbytes,) = struct.unpack_from("<Q", data, pos + 9)
        pos += 17
        if name in ("embed.dt_ms", "map.dt_ms"):
            if code != 5 or nbytes != 8:
                raise lc.TestFailure("%s: unexpected type %d / %d bytes" % (name, code, nbytes))
            struct.pack_into("<d", data, pos, dt_ms)
            found += 1
        pos += nbytes
    if found != 2:
        raise lc.TestFailure("%s: embed.dt_ms / map.dt_ms not found" % src)
    struct.pack_into("<I", data, len(data) - 4, zlib.crc32(bytes(data[:-4])) & 0xFFFFFFFF)
    with open(dst, "wb") as f:
        f.write(bytes(data))
    return dst


def offline(model, p, nsteps):
    """Offline run from the start state: (spike times relative to the start,
    final state)."""
    v, x = model.run(p, nsteps)
    v0 = model.decode_v(model.initial_state())
    return np.asarray(model.cell_spike_times(v, v0), float), np.asarray(x, float)[-1]


def after(times, t0):
    times = np.asarray(times, float)
    return times[times > t0]


# ---- load() during a run ---------------------------------------------------

def test_load_midrun(h, ns, rt, cells, path, model, p_fire):
    tstop_rel = AFTER_LOAD_MS
    nsteps = int(np.floor(tstop_rel / model.dt_ms))
    want_rel, x_want = offline(model, p_fire, nsteps)
    lc.check(len(want_rel) >= 3, "offline: %d spikes in %g ms at p = %g"
             % (len(want_rel), tstop_rel, p_fire))
    for t_load in T_LOADS_MS:
        for method, nthread in (("fixed", 1), ("cvode", 1), ("fixed", 2)):
            a = cells.LearnedCell(path, p=p_fire)
            s = cells.LearnedSectionCell(path, p=p_fire)
            ra, rs = a.record_spikes(), s.record_spikes()
            tv, vv = s.record_v()
            try:
                set_integrator(h, method, nthread)
                h.finitialize(s.V0)
                h.continuerun(t_load)
                before_a = len(lc.upto(ra.times(), t_load))
                # the new model starts at NEURON's t, which carries the
                # rounding of the steps that led there (1e-9 ms at 1000 ms)
                t_now = h.t
                a.load(path)
                s.load(path)
                tend = t_load + tstop_rel + 1.0    # the last step before tend
                h.continuerun(tend)
            finally:
                reset_integrator(h)
            what = "load() at t = %g (%s, %d thread%s)" % (t_load, method, nthread,
                                                          "s" if nthread > 1 else "")
            want = t_now + want_rel
            got_a = lc.upto(after(ra.times(), t_load), tend)
            got_s = lc.upto(after(rs.times(), t_load), tend)
            lc.check(lc.same_times(lc.upto(ra.times(), t_load), want_rel[want_rel <= t_load]) and
                     lc.same_times(got_a, want) and a.err == 0 and
                     int(a.mech.nstep) == nsteps and
                     np.array_equal(np.array(a.state()), x_want),
                     "NeuroMapCell %s: %d spikes before (as offline), %d after = t_load + offline, "
                     "%d steps, "
                     "state bit for bit" % (what, before_a, len(got_a), nsteps))
            lc.check(lc.same_times(got_s, want) and s.err == 0 and
                     int(s.mech.nstep) == nsteps and np.all(np.isfinite(ns.to_numpy(vv))),
                     "NeuroMapClamp %s: %d spikes = t_load + offline, %d samples, v finite"
                     % (what, len(got_s), nsteps))
            del a, s, ra, rs, tv, vv


def test_load_other_dt(h, ns, rt, cells, path, short_path, model, short, p_fire):
    """Old self-event after (shorter dt) or before (longer dt) the new first step."""
    tstop_rel = AFTER_LOAD_MS
    # 1. running the dt-5 model, load the dt-2 model at t = 1001: the queued
    # event (1005) is after the new first step time (1003): the first step is
    # at 1005, the following ones 2 ms apart.
    t_load, t_first = 1001.0, 1005.0
    n_short = int(np.floor((tstop_rel - (t_first - t_load)) / short.dt_ms)) + 1
    want_rel, x_want = offline(short, p_fire, n_short)
    a = cells.LearnedCell(path, p=p_fire)
    s = cells.LearnedSectionCell(path, p=p_fire)
    ra, rs = a.record_spikes(), s.record_spikes()
    tend = t_first + (n_short - 1) * short.dt_ms + 0.5
    ns.run(t_load, check=False, v_init=s.V0)
    a.load(short_path)
    s.load(short_path)
    h.continuerun(tend)
    want = (t_first - short.dt_ms) + want_rel
    got_a, got_s = after(ra.times(), t_load), after(rs.times(), t_load)
    lc.check(a.dt_map == SHORT_DT_MS and a.err == 0 and int(a.mech.nstep) == n_short and
             lc.same_times(got_a, want) and np.array_equal(np.array(a.state()), x_want),
             "NeuroMapCell: dt 5 -> 2 at t = %g: first step at the queued event (%g), then every "
             "2 ms: %d spikes as offline, %d steps, state bit for bit"
             % (t_load, t_first, len(got_a), n_short))
    lc.check(s.err == 0 and int(s.mech.nstep) == n_short and lc.same_times(got_s, want),
             "NeuroMapClamp: the same (%d spikes, %d samples)" % (len(got_s), n_short))
    del a, s, ra, rs
    # 2. running the dt-2 model, load the dt-5 model at t = 1000.5: the queued
    # event (1002) is before the new first step (1005.5): the cell waits.
    t_load = 1000.5
    nsteps = int(np.floor(tstop_rel / model.dt_ms))
    want_rel, x_want = offline(model, p_fire, nsteps)
    a = cells.LearnedCell(short_path, p=p_fire)
    s = cells.LearnedSectionCell(short_path, p=p_fire)
    ra, rs = a.record_spikes(), s.record_spikes()
    ns.run(t_load, check=False, v_init=s.V0)
    t_now = h.t
    a.load(path)
    s.load(path)
    h.continuerun(t_load + tstop_rel + 1.0)
    want = t_now + want_rel
    got_a, got_s = after(ra.times(), t_load), after(rs.times(), t_load)
    lc.check(a.err == 0 and int(a.mech.nstep) == nsteps and lc.same_times(got_a, want) and
             np.array_equal(np.array(a.state()), x_want),
             "NeuroMapCell: dt 2 -> 5 at t = %g: steps at t_load + n*5 (%d spikes as offline)"
             % (t_load, len(got_a)))
    lc.check(s.err == 0 and int(s.mech.nstep) == nsteps and lc.same_times(got_s, want),
             "NeuroMapClamp: the same (%d spikes)" % len(got_s))
    del a, s, ra, rs


def test_load_stopped(h, ns, cells, path, p_fire):
    a = cells.LearnedCell(path, p=float("nan"))
    ns.run(100.0, check=False, v_init=a.V0)
    msg = a.error_message()
    lc.check(a.err == NM_EINVAL and int(a.mech.nstep) == 0 and "p is not finite" in msg,
             "p = NaN stops the cell at its first step: %s" % msg)
    a.p = p_fire
    a.load(path)
    h.continuerun(200.0)
    lc.check(a.err == NM_EINVAL and int(a.mech.nstep) == 0 and a.error_message() == msg,
             "load() into a stopped cell during a run: still stopped, same err and message")
    ns.run(202.5, check=False, v_init=a.V0)
    lc.check(a.err == 0 and a.error_message() == "" and int(a.mech.nstep) == 40,
             "finitialize starts it again (40 steps, err 0, no message)")
    del a


# ---- invalid values --------------------------------------------------------

CELL_BAD = (("tau_drive", 0.0), ("tau_drive", -20.0), ("tau_drive", float("nan")),
            ("hysteresis", -1.0), ("hysteresis", float("nan")), ("hysteresis", float("inf")),
            ("thresh", float("nan")))
CLAMP_BAD = CELL_BAD + (("rs", 0.0), ("rs", -1.0), ("rs", float("nan")), ("rs", float("inf")))


def test_bad_at_finitialize(h, ns, cells, path, p_fire):
    for cls, bad_values in ((cells.LearnedCell, CELL_BAD), (cells.LearnedSectionCell, CLAMP_BAD)):
        c = cls(path, p=p_fire)
        for name, value in bad_values:
            good = getattr(c.mech, name)
            setattr(c.mech, name, value)
            try:
                h.finitialize(c.V0)
            except RuntimeError:
                pass
            else:
                raise lc.TestFailure("%s: finitialize accepted %s = %g" % (cls.__name__, name,
                                                                          value))
            msg = c.error_message()
            lc.check(c.err == NM_EINVAL and ("%s = " % name) in msg and "must be" in msg,
                     "%s %s = %g: hoc error at finitialize, err 1: %s"
                     % (cls.__name__, name, value, msg))
            try:
                ns.run(50.0, check=False, v_init=c.V0)
            except RuntimeError as e:
                lc.check(msg in str(e), "neuron_support.run raises it: %s" % e)
            else:
                raise lc.TestFailure("neuron_support.run accepted %s = %g" % (name, value))
            setattr(c.mech, name, good)
        ns.run(52.5, check=False, v_init=c.V0)
        lc.check(c.err == 0 and int(c.mech.nstep) == 10,
                 "%s: with the values restored it runs (10 steps)" % cls.__name__)
        del c


def input_netcon(h, target, w, start=10.0, interval=10.0, number=100):
    stim = h.NetStim()
    stim.start, stim.interval, stim.number, stim.noise = start, interval, number, 0
    return stim, h.NetCon(stim, target, 0, 0, w)


def test_bad_during_run(h, ns, cells, path, p_fire, p_silent):
    t_set, tend = 502.5, 1500.0
    cases = [(cells.LearnedCell, "tau_drive", v) for v in (-20.0, 0.0, float("nan"))] + \
            [(cells.LearnedCell, "hysteresis", -1.0), (cells.LearnedCell, "thresh", float("nan"))] + \
            [(cells.LearnedSectionCell, "tau_drive", v) for v in (-20.0, 0.0)] + \
            [(cells.LearnedSectionCell, "rs", v) for v in (0.0, -1.0, float("nan"))]
    for cls, name, value in cases:
        c = cls(path, p=p_silent)
        stim, nc = input_netcon(h, c.syn, 1.0)
        tv = vv = None
        if cls is cells.LearnedSectionCell:
            tv, vv = c.record_v()
        td, dv = ns.record_v(c.mech._ref_drive, times=np.arange(1.25, tend, 2.5))
        ns.run(t_set, check=False, v_init=c.V0)
        steps_before = int(c.mech.nstep)
        lc.check(c.err == 0 and steps_before == 100, "%s: %d steps before the change"
                 % (cls.__name__, steps_before))
        setattr(c.mech, name, value)
        h.continuerun(tend)
        msg = c.error_message()
        drive = ns.to_numpy(dv)
        # NeuroMapCell stops stepping; NeuroMapClamp's samples go on, its map
        # holds V (Vnext == V)
        if cls is cells.LearnedCell:
            stopped = int(c.mech.nstep) == steps_before
        else:
            stopped = c.mech.Vnext == c.mech.V
        lc.check(c.err == NM_EINVAL and ("%s = " % name) in msg and stopped and
                 np.all(np.isfinite(drive)) and np.max(np.abs(drive)) <= 100.0,
                 "%s %s = %g during the run: map stopped (step %d), err 1, drive finite "
                 "(max |drive| %.3g): %s" % (cls.__name__, name, value, int(c.mech.nstep),
                                             np.max(np.abs(drive)), msg))
        if vv is not None:
            v = ns.to_numpy(vv)
            lc.check(np.all(np.isfinite(v)) and math.isfinite(c.mech.i),
                     "  the clamped v stays finite (%d samples, last %.4g mV)" % (len(v), v[-1]))
        try:
            ns.check_cells([c])
        except RuntimeError as e:
            lc.check(msg in str(e), "  check_cells reports it")
        else:
            raise lc.TestFailure("check_cells did not report %s = %g" % (name, value))
        del c, stim, nc, tv, vv, td, dv


def test_tau_drive_zero_was_ignored(h, ns, cells, path, p_silent):
    """tau_drive = 0 used to run on (err 0) with the input ignored."""
    c = cells.LearnedCell(path, p=p_silent)
    stim, nc = input_netcon(h, c.syn, 1.0)
    c.tau_drive = 0.0
    try:
        ns.run(200.0, check=False, v_init=c.V0)
    except RuntimeError as e:
        lc.check("tau_drive = 0" in str(e), "tau_drive = 0 with input: refused (%s)" % e)
    else:
        raise lc.TestFailure("tau_drive = 0 ran (err %d)" % c.err)
    del c, stim, nc


def test_not_finite_p(h, ns, cells, path, p_fire):
    nan, inf = float("nan"), float("inf")
    for cls in (cells.LearnedCell, cells.LearnedSectionCell):
        for value in (nan, inf, -inf):
            c = cls(path, p=value)
            x0 = c.state()
            ns.run(100.0, check=False, v_init=c.V0)
            msg = c.error_message()
            lc.check(c.err == NM_EINVAL and "p is not finite" in msg and "diverged" not in msg and
                     c.state() == x0,
                     "%s p = %g from the start: err 1 (not 6), state kept: %s"
                     % (cls.__name__, value, msg))
            del c
        c = cls(path, p=p_fire)
        ns.run(502.5, check=False, v_init=c.V0)
        x_mid = c.state()
        c.p = nan
        h.continuerun(1000.0)
        msg = c.error_message()
        lc.check(c.err == NM_EINVAL and "p is not finite" in msg and c.state() == x_mid,
                 "%s p = NaN during the run: err 1, state kept: %s" % (cls.__name__, msg))
        try:
            ns.check_cells([c])
        except RuntimeError as e:
            lc.check("p is not finite" in str(e) and "cell 0" in str(e),
                     "check_cells: %s" % e)
        else:
            raise lc.TestFailure("check_cells did not report p = NaN")
        del c
        # A NaN NetCon weight: the drive is not finite.
        c = cls(path, p=p_fire)
        stim, nc = input_netcon(h, c.syn, nan, start=101.0, number=1)
        ns.run(300.0, check=False, v_init=c.V0)
        msg = c.error_message()
        lc.check(c.err == NM_EINVAL and "drive is not finite" in msg,
                 "%s NaN NetCon weight: err 1: %s" % (cls.__name__, msg))
        del c, stim, nc
    # The clamp's POINTER feed: kp * pin not finite.
    s = cells.LearnedSectionCell(path, p=p_fire)
    s.clamp.kp = nan
    ns.run(100.0, check=False, v_init=s.V0)
    msg = s.error_message()
    lc.check(s.err == NM_EINVAL and "kp * pin is not finite" in msg,
             "NeuroMapClamp kp = NaN: err 1: %s" % msg)
    del s


def test_dt_map_assigned(h, ns, cells, path, model, p_fire):
    a = cells.LearnedCell(path, p=p_fire)
    s = cells.LearnedSectionCell(path, p=p_fire)
    a.mech.dt_map = -1.0
    s.mech.dt_map = -1.0
    ns.run(102.5, check=False, v_init=s.V0)
    lc.check(a.dt_map == model.dt_ms and s.dt_map == model.dt_ms and
             int(a.mech.nstep) == 20 and int(s.mech.nstep) == 20,
             "dt_map assigned -1 is read again from the model at finitialize (20 steps)")
    del a, s


def main():
    args = lc.parse_args()
    h, neuromap, ns, rt, cells = lc.setup(args)
    workdir = os.path.abspath("learned_misuse")
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "model.nmap")
    shutil.copyfile(args.model, path)
    short_path = patched_dt_copy(path, os.path.join(workdir, "short_dt.nmap"), SHORT_DT_MS)
    model = rt.LearnedModel(path)
    short = rt.LearnedModel(short_path)
    lc.check(short.dt_ms == SHORT_DT_MS, "a copy of the fixture with dt_ms = %g loads"
             % SHORT_DT_MS)
    p_silent, p_fire = lc.find_regimes(model)
    print("p_silent %g, p_firing %g" % (p_silent, p_fire))

    test_load_midrun(h, ns, rt, cells, path, model, p_fire)
    test_load_other_dt(h, ns, rt, cells, path, short_path, model, short, p_fire)
    test_load_stopped(h, ns, cells, path, p_fire)
    test_bad_at_finitialize(h, ns, cells, path, p_fire)
    test_bad_during_run(h, ns, cells, path, p_fire, p_silent)
    test_tau_drive_zero_was_ignored(h, ns, cells, path, p_silent)
    test_not_finite_p(h, ns, cells, path, p_fire)
    test_dt_map_assigned(h, ns, cells, path, model, p_fire)


if __name__ == "__main__":
    lc.main_wrapper(main)
