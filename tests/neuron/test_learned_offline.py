"""NeuroMapCell / NeuroMapClamp against libneuromap's offline free run.

Usage: /usr/bin/python3 test_learned_offline.py --mechdir BUILD/mod
           --model FIXTURE.nmap --pydir SRC/python      (from a scratch folder)

Checks, at a silent and a firing p of the fixture model and one between:
  * the decoded V of a NeuroMapCell after every map step is bit for bit the V
    of nm_learned_run (ctypes) at the same step, and the latent state at the
    end is the offline state: NEURON does the same C calls;
  * the cell's spike times are exactly the steps the offline trace gives
    under the cell's definition (the step whose V first reaches threshold,
    nm_spikes_detect_hyst's re-arm rule), and each one is the step that ends
    the interval holding the library's interpolated crossing (same count);
  * LearnedCell and LearnedSectionCell (hoc templates, through the Python
    classes) give the same spike times, and the clamped soma's v follows
    the offline V, linearly interpolated between steps, to within the
    clamp's residual (CLAMP_TOL_MV);
  * p played with Vector.play (a step from silent to firing between two map
    steps, at the latest time after which the offline run fires: see
    learned_common.find_switch_time), or assigned at that time (from a
    CVode.event callback; between two continueruns under the fixed step),
    gives exactly the offline run with p switched at that step.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import learned_common as lc  # noqa: E402

TSTOP_MS = 20002.5    # not a multiple of dt_map: no step falls on tstop
# Clamped v against the interpolated offline V (mediated by NEURON's fixed
# step: v lags the ramp by dt/2, |dV/dt| * dt/2 = 0.05 mV at 4 mV/ms and
# dt = 0.025 ms; mod/neuromap_clamp.mod) and under CVode (rs*C*dV/dt, tiny).
CLAMP_TOL_MV = 0.1


def run_cell(h, ns, cells, model_path, p, method="fixed"):
    c = cells.LearnedCell(model_path, p=p)
    rec = c.record_spikes()
    # V after step k is held over [k dt_map, (k+1) dt_map): sample mid-way.
    nsteps = int(np.floor(TSTOP_MS / c.dt_map))
    tv, vv = c.record_V(times=(np.arange(1, nsteps + 1) + 0.5) * c.dt_map)
    ns.run(TSTOP_MS + c.dt_map, method=method, v_init=c.V0)
    c.check()
    out = dict(spikes=lc.upto(rec.times(), TSTOP_MS), t=ns.to_numpy(tv), V=ns.to_numpy(vv),
               x=c.state(), nstep=int(c.mech.nstep))
    return out


def test_against_offline(h, ns, rt, cells, model, model_path, p):
    nsteps = int(np.floor(TSTOP_MS / model.dt_ms))
    v_off, x_off = model.run(p, nsteps)
    v0 = model.decode_v(model.initial_state())
    steps = rt.cell_spike_steps(v_off, v0, model.threshold_mv)
    interp = rt.detect_spikes(np.concatenate([[v0], v_off]), model.dt_ms, 0.0, model.threshold_mv)

    r = run_cell(h, ns, cells, model_path, p)
    v_nrn = r["V"]
    x_end = np.array(r["x"])
    # The run went one step further (to record the last V mid-step).
    v_more, x_more = model.run(p, nsteps + 1)
    lc.check(r["nstep"] == nsteps + 1, "p = %g: %d map steps in %g ms"
             % (p, r["nstep"], TSTOP_MS + model.dt_ms))
    lc.check(np.array_equal(v_nrn, v_off),
             "p = %g: V after each of %d steps identical to nm_learned_run (max |diff| %g mV)"
             % (p, nsteps, np.max(np.abs(v_nrn - v_off)) if len(v_nrn) == len(v_off) else np.inf))
    lc.check(np.array_equal(x_end, x_more[-1]),
             "p = %g: final latent state identical to the offline state" % p)
    want = steps * model.dt_ms
    got = r["spikes"]
    lc.check(lc.same_times(got, want),
             "p = %g: %d spikes at the offline steps (NEURON %d)" % (p, len(want), len(got)))
    lc.check(len(interp) == len(want) and np.all(interp <= want + lc.TIME_ATOL_MS)
             and np.all(want - interp < model.dt_ms),
             "p = %g: each spike is the step after the library's interpolated crossing "
             "(nm_spikes_detect_hyst: %d)" % (p, len(interp)))
    return r, v_off


def test_templates(h, ns, rt, cells, model, model_path, p, ref):
    sec_cell = cells.LearnedSectionCell(model_path, p=p)
    art = cells.LearnedCell(model_path, p=p)
    lc.check(sec_cell.is_art is False and art.is_art is True, "is_art: section 0, artificial 1")
    lc.check(art.threshold == model.threshold_mv and sec_cell.threshold == model.threshold_mv,
             "templates take the model's threshold (%g mV)" % model.threshold_mv)
    r_sec = sec_cell.record_spikes()
    r_art = art.record_spikes()
    tv, vv = sec_cell.record_v(1.0)
    v_off = ref[1]
    v0 = model.decode_v(model.initial_state())
    for method, order in (("fixed", 2), ("fixed", 0), ("cvode", 0)):
        ns.run(TSTOP_MS, method=method, secondorder=order, v_init=sec_cell.V0)
        if method == "fixed":
            method = "fixed step, secondorder %d" % order
        lc.check(lc.same_times(lc.upto(r_sec.times(), TSTOP_MS), ref[0]["spikes"]) and
                 lc.same_times(lc.upto(r_art.times(), TSTOP_MS), ref[0]["spikes"]),
                 "%s: LearnedSectionCell and LearnedCell spike like the NeuroMapCell run (%d)"
                 % (method, len(ref[0]["spikes"])))
        grid = np.arange(len(v_off) + 1) * model.dt_ms
        t = ns.to_numpy(tv)
        v = ns.to_numpy(vv)[t <= grid[-1]]
        t = t[t <= grid[-1]]
        target = np.interp(t, grid, np.concatenate([[v0], v_off]))
        err = np.max(np.abs(v - target))
        lc.check(err < CLAMP_TOL_MV, "%s: clamped soma v within %.2g mV of the offline V "
                 "interpolated between steps (tolerance %g)" % (method, err, CLAMP_TOL_MV))


def test_play(h, ns, rt, cells, model, model_path, p_silent, p_firing):
    switch, want = lc.find_switch_time(model, p_silent, p_firing, TSTOP_MS)
    c = cells.LearnedCell(model_path, p=p_silent)
    rec = c.record_spikes()
    tvec = h.Vector([0.0, switch])
    pvec = h.Vector([p_silent, p_firing])
    pvec.play(c.mech._ref_p, tvec, 0)   # discrete: p holds each value from its time on
    for method in ("fixed", "cvode"):
        ns.run(TSTOP_MS, method=method, v_init=c.V0)
        got = lc.upto(rec.times(), TSTOP_MS)
        lc.check(len(want) > 0 and want[0] > switch and lc.same_times(got, want),
                 "%s: Vector.play p %g -> %g at %g ms: %d spikes, all after the switch, "
                 "identical to the offline run with p switched at that step"
                 % (method, p_silent, p_firing, switch, len(got)))
    pvec.play_remove()
    # The same by assignment: from a CVode.event callback at the switch time
    # (fixed step and CVode), and between two continueruns (fixed step only:
    # under CVode a network of ARTIFICIAL_CELLs has no states to integrate,
    # and continuerun(T) may stop at, and deliver, the next event after T).
    def assign():
        c.p = p_firing

    for method in ("fixed", "cvode", "fixed, two continueruns"):
        h.CVode().active(1 if method == "cvode" else 0)
        h.dt = 0.025
        c.p = p_silent
        h.finitialize(c.V0)
        if method == "fixed, two continueruns":
            h.continuerun(switch)
            c.p = p_firing
        else:
            h.CVode().event(switch, assign)
        h.continuerun(TSTOP_MS)
        h.CVode().active(0)
        got = lc.upto(rec.times(), TSTOP_MS)
        lc.check(lc.same_times(got, want), "%s: assignment c.p = %g at %g ms: the same %d spikes"
                 % (method, p_firing, switch, len(got)))


def main():
    args = lc.parse_args()
    h, neuromap, ns, rt, cells = lc.setup(args)
    model = rt.LearnedModel(args.model)
    p_silent, p_firing = lc.find_regimes(model)
    print("fixture model: dim %d, dt_map %g ms, threshold %g mV, silent at p = %g, firing at "
          "p = %g" % (model.dim, model.dt_ms, model.threshold_mv, p_silent, p_firing))
    refs = {}
    for p in (p_silent, p_firing, 0.5 * (model.p_range[0] + model.p_range[1])):
        refs[p] = test_against_offline(h, ns, rt, cells, model, args.model, p)
    lc.check(len(refs[p_silent][0]["spikes"]) == 0 and len(refs[p_firing][0]["spikes"]) > 0,
             "silent at p = %g, firing at p = %g in NEURON too" % (p_silent, p_firing))
    test_templates(h, ns, rt, cells, model, args.model, p_firing, refs[p_firing])
    test_play(h, ns, rt, cells, model, args.model, p_silent, p_firing)


if __name__ == "__main__":
    lc.main_wrapper(main)
