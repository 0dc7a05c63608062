TITLE neuromap_clamp.mod  A learned neuron driving a real section's v (POINT_PROCESS)

COMMENT
NeuroMapClamp puts a learned model (see neuromap_cell.mod) into a section:
the map runs on the same self-event clock as NeuroMapCell (a step every
dt_map ms after finitialize), and a stiff voltage clamp holds the section's
v on the decoded V, so a learned cell can have dendrites, gap junctions and
a recordable v.

    objref cl
    soma cl = new NeuroMapClamp(0.5)
    cl.load("srk.nmap")
    cl.p = -38
    finitialize(cl.V0)          // start v on the decoded start V (else it is pulled there in ~rs*C)

p's default is the model's, as in neuromap_cell.mod: NaN at creation, and
load() sets the model's pdefault (the centre of its training range) when p
is NaN or still equals the previous model's pdefault.  pname(strdef),
punit(strdef): the name and unit of p stored in the model.

The clamp (SEClamp-like, ELECTRODE_CURRENT):
    i = (vc(t) - v)/rs           nA, with rs in MOhm (default 0.001 MOhm = 1 kOhm)
The target vc(t) is the decoded V, linearly interpolated between map steps,
so v is continuous and the clamp current stays finite.  That needs V one
step ahead: at step time t_k the clamp already computes x(k+1) and V(k+1)
(Vnext) and ramps vc from V(k) to V(k+1) over [t_k, t_k + dt_map].  The map
step that NeuroMapCell takes at t_(k+1) with p(t_(k+1)) is therefore taken
here at t_k with p(t_k): at constant input both give the same V(k) at the
same times and the same spikes; a change of p or a NetCon input acts one map
step (dt_map) later than in NeuroMapCell.

Residual error of the clamp (v - vc), with C the section's capacitance:
  * every other current I flowing into the section (synapses, gap junctions,
    a dendrite) costs I*rs: 1 nA -> 0.001 mV at the default rs;
  * tracking lag: CVode follows vc with time constant rs*C (10 ns for a
    10 pF soma), an error of rs*C*dV/dt; NEURON's fixed step evaluates the
    current at t + dt/2, so v lags the ramp by about dt/2: dV/dt*dt/2, e.g.
    0.05 mV on a 4 mV/ms upstroke at dt = 0.025 ms.
Smaller rs makes the system stiffer, not less accurate for NEURON's implicit
methods; rs must be > 0.

Spikes: net_event at the step time at which the clamp reaches a sample V(k)
that crosses thresh from below (same re-arm rule and hysteresis as
NeuroMapCell), so NetCon(clamp, target) gives NeuroMapCell's spike times --
up to a rounding error: the time is tstart + k*dt_map from the step count,
but NEURON refuses an event before t, and under the fixed step a section's
point process can be delivered its self-event at a t 1e-12 ms later; the
spike then carries that t.  A NetCon watching v with the same threshold
fires a little earlier, on the ramp.

Input: NetCon weight -> drive (units of p) decaying with tau_drive, as in
NeuroMapCell; and, optionally, a variable read through POINTER pin (e.g. a
synapse's current), scaled by kp (units of p per unit of *pin).  The map sees
    peff = p + drive(t_k) + kp * (*pin)(t_k)
pin is read only when kp != 0.  For an ExpSyn (i > 0 is outward), kp < 0
makes an excitatory (inward, i < 0) current raise p.

Input current (issue 11, docs/neuron.md "Input-driven cells"): for a model
with an input channel the clamp is a drop-in soma: the current that
everything else injects into its section (IClamp, ExpSyn/Exp2Syn acting
with their reversal potential on the clamped v, gap junctions, attached
dendrites) becomes the learned cell's input.  The clamp integrates its own
current into the STATE q (nA ms; exact for the fixed step, backward Euler
and Crank-Nicolson, and for CVode), and at each sample t_k
    iother = (cnode*(v(t_k) - v(t_(k-1))) - (q(t_k) - q(t_(k-1))))/dt_map
(nA; cnode = cmem * area, cmem the section's cm in uF/cm2 -- the templates
set it from cm, default 1 --, area the segment's, read at finitialize).
Add the current synapse (NetCon wi, tau_syn) and ibias as in
neuromap_cell.mod: iin = iother + synapse mean + ibias, u = iin * fin
(uA/cm2 and mA/cm2 use the segment's area).  ONE-STEP LAG: the clamp
computes V(k+1) at t_k, so it uses the input of [t_(k-1), t_k], not of
[t_k, t_(k+1)] as NeuroMapCell does: the clamp answers an input one map step
(dt_map) later than a NeuroMapCell given the same current (tested: an IClamp
step gives the spikes of NeuroMapCell with the step dt_map later).  The
first step uses ibias only.  The section must have NO ion channels or pas
(remove hh: the learned cell replaces them): their currents would count as
input.  Counters and errors as in neuromap_cell.mod (nclamped, uin,
nignored: |iin| > 1e-6 nA, since the measurement has rounding noise; errwhat
9-13, and 14 cmem not > 0).

handle is a PARAMETER (SaveState leaves it alone); x, V, Vnext, Vfrom, tk,
drive, armed, nstep are ASSIGNED and saved by SaveState.  If the map diverges the
clamp holds the last V, sets err and prints one line (see neuromap_cell.mod).

Invalid values are refused as in neuromap_cell.mod (tau_drive, hysteresis,
thresh; p, drive, and here also rs <= 0 or not finite, and kp * pin not
finite): a hoc error at finitialize, and during a run the map stops at the
next sample with err = 1 (NM_EINVAL), errwhat/errval/errt and
errmsg(strdef) saying what; the clamp then holds the last V.  An invalid rs
is also caught at once in BREAKPOINT: the clamp injects no current (the
section's v is left to the other currents) instead of dividing by it.  The
clamp's self-events go on after an error (they only look for spikes), so
load() during a run always restarts the map.

load() during a run (after finitialize) is safe: the map restarts from the
new model's start state at the current t (t_load), sample n at t_load +
n*dt_map, with the queued self-event moved as in neuromap_cell.mod.  The
target stays continuous: it ramps from its value at t_load (Vfrom) to the
new model's first sample, so CVode needs no re_init.  The first spike test
compares the new V0 with that sample, as in NeuroMapCell.
ENDCOMMENT

NEURON {
    THREADSAFE
    POINT_PROCESS NeuroMapClamp
    ELECTRODE_CURRENT i
    RANGE p, tau_drive, hysteresis, handle, rs, kp
    RANGE V0, V, Vnext, Vfrom, vc, i, x, dim, dt_map, thresh, drive, tdrive, peff, tk, armed, nstep
    RANGE tstart, err, errwhat, errval, errt, pending, pdefault
    RANGE tau_syn, ibias, cmem, area_um2, cnode, hasinput, umin, umax, fin, iin, iother, uin
    RANGE nclamped, nignored, ssyn, everr, everrval, everrt, vprev, qprev, tprev, measure0
    RANGE inerr, inerrval, vsamp, dtm
    POINTER pin
}

UNITS {
    (mV) = (millivolt)
    (nA) = (nanoamp)
    (MOhm) = (megohm)
    (uF) = (microfarad)
    (nF) = (nanofarad)
    (um) = (micron)
}

PARAMETER {
    p = 0             : control parameter (units of the model's p); NaN at creation
                      : (CONSTRUCTOR): load() sets the model's pdefault
    tau_drive = 20 (ms) <1e-9, 1e300> : decay time constant of the NetCon drive
    hysteresis = 2 (mV) <0, 1e9>  : re-arm margin below thresh
    rs = 0.001 (MOhm) <1e-12, 1e9> : clamp series resistance
    kp = 0            : weight of *pin in p (units of p per unit of *pin)
    handle = 0        : registry handle set by load(); do not assign
    tau_syn = 2 (ms)  : decay time constant of the current synapse (NetCon weight wi, nA)
    ibias = 0 (nA)    : constant input current added to the measured one
    cmem = 1 (uF/cm2) : the section's specific capacitance (the templates set it from cm)
}

STATE {
    q (nA ms)         : charge delivered by the clamp current since finitialize
}

ASSIGNED {
    v (mV)
    i (nA)
    vc (mV)           : clamp target now
    pin               : read through the POINTER when kp != 0
    V0 (mV)           : decoded V of the start state (set by load)
    V (mV)            : decoded V of the current sample (time tk)
    Vnext (mV)        : decoded V of the next sample (time tk + dt_map)
    Vfrom (mV)        : where the ramp to Vnext starts: V, or vc at a load() during a run
    x[16]             : latent state of the next sample
    dim
    dt_map (ms)
    thresh (mV)
    drive
    tdrive (ms)
    peff
    tk (ms)           : time of the current sample
    armed
    nstep             : samples reached since finitialize
    tstart (ms)       : t at finitialize: sample n is at tstart + n*dt_map
    err               : 0, or the libneuromap status that stopped the map (1: an invalid value)
    errwhat           : what stopped it: 1 the map step, 2 p, 3 drive, 4 tau_drive, 5 hysteresis,
                      : 6 thresh, 7 rs, 8 kp * pin
    errval            : the value that stopped it (p + drive for errwhat 1)
    errt (ms)         : the time it stopped
    pending           : 1 after finitialize (the self-events run on)
    pdefault          : the model's default p: the centre of its training range (set by load)
    area_um2          : the segment's membrane area (um2, read at finitialize)
    cnode (nF)        : its capacitance cmem * area
    hasinput          : 1 if the model has an input channel (set by load)
    umin              : the model's trained input range (model units; 0 0 without input)
    umax
    fin               : nA -> model units (0 without input)
    iother (nA)       : mean current the section's other mechanisms injected over the last step
    iin (nA)          : the input of the next map step: iother + synapse + ibias
    uin               : the input the last map step used (model units, after clamping)
    nclamped          : map steps since finitialize whose input was clamped to the trained range
    nignored          : map steps with a non-zero input into a model without input
    ssyn[3]           : current synapse (see neuromap_cell.mod)
    everr             : 0, or what a bad wi event stops the map with at its next step
    everrval
    everrt (ms)
    inerr             : 0, or what the last input measurement found wrong (NMX_* code)
    inerrval
    vprev (mV)        : v at the last sample
    qprev (nA ms)     : q at the last sample
    tprev (ms)        : the last sample's time
    vsamp (mV)        : v at this sample
    dtm (ms)          : this sample's interval
    measure0          : 1: the next sample only starts the measurement (after a load)
    vcb (mV)          : vc used by the last current evaluation
    vb (mV)           : v at the last current evaluation
    gq (/MOhm)        : 1/rs, 0 while rs is invalid
    cnw               : 0.5 under Crank-Nicolson (secondorder), else 0
}

VERBATIM
#include <math.h>
#include <stdio.h>
#ifdef __cplusplus
extern "C" {
#endif
/* include/neuromap.h, "NEURON plugin support" (nm_status is an int enum). */
extern int nm_plugin_acquire(const char*, int*);
extern int nm_plugin_release(int);
extern size_t nm_plugin_count(void);
extern size_t nm_plugin_refcount(int);
extern int nm_plugin_info(int, int*, double*, double*);
extern int nm_plugin_init(int, double*, double*);
extern int nm_plugin_step(int, double, double*, double*);
extern int nm_plugin_p_info(int, double*, double*, double*);
extern int nm_plugin_p_label(int, char*, size_t, char*, size_t);
extern int nm_plugin_syn_init(double*, double);
extern int nm_plugin_syn_event(double*, double, double, double);
extern int nm_plugin_syn_mean(double*, double, double, double, double, double*);
extern int nm_plugin_input_factor(int, double, double*);
extern int nm_plugin_input_info(int, int*, double*, double*, char*, size_t);
extern int nm_plugin_step_u(int, double, double, double*, double*, double*, int*);
extern const char* nm_last_error(void);
#ifdef __cplusplus
}
#endif
/* "NeuroMapClamp[3]": the hoc name, formatted here because hoc_object_name()
   uses one static buffer (not thread safe). */
#ifdef __cplusplus
#define NMX_TEMPLATE_(ob) ((ob)->ctemplate)
#else
#define NMX_TEMPLATE_(ob) ((ob)->template)
#endif
static void nmx_name_(Point_process* pnt_, char* buf_, size_t n_) {
    Object* ob_ = pnt_ ? pnt_->ob : (Object*)0;
    if (ob_ && NMX_TEMPLATE_(ob_) && NMX_TEMPLATE_(ob_)->sym) {
        snprintf(buf_, n_, "%s[%d]", NMX_TEMPLATE_(ob_)->sym->name, ob_->index);
    } else {
        snprintf(buf_, n_, "NeuroMapClamp");
    }
}
/* What stopped a cell (errwhat).  The same codes and texts as in neuromap_cell.mod. */
#define NMX_STEP 1
#define NMX_P 2
#define NMX_DRIVE 3
#define NMX_TAU 4
#define NMX_HYST 5
#define NMX_THRESH 6
#define NMX_RS 7
#define NMX_PIN 8
#define NMX_TAUSYN 9
#define NMX_IBIAS 10
#define NMX_INPUT 11
#define NMX_WI 12
#define NMX_AREA 13
#define NMX_CM 14
/* |input| (nA) above which a model without input counts it as ignored:
   the measurement of the section's other currents has rounding noise
   (1e-13 .. 1e-9 nA) when nothing is injected */
#define NMX_IGNORE_TOL 1e-6
/* The input parameters: 0 if valid, else NMX_* and the bad value. */
static int nmx_inparams_(double tau_syn_, double ibias_, double* bad_) {
    if (!(tau_syn_ > 0.0)) { *bad_ = tau_syn_; return NMX_TAUSYN; }
    if (!isfinite(ibias_)) { *bad_ = ibias_; return NMX_IBIAS; }
    return 0;
}
/* The parameters a step needs: 0 if valid, else NMX_* and the bad value. */
static int nmx_params_(double tau_, double hyst_, double thr_, double* bad_) {
    if (!(tau_ > 0.0)) { *bad_ = tau_; return NMX_TAU; }
    if (!(hyst_ >= 0.0) || !isfinite(hyst_)) { *bad_ = hyst_; return NMX_HYST; }
    if (!isfinite(thr_)) { *bad_ = thr_; return NMX_THRESH; }
    return 0;
}
static void nmx_text_(char* buf_, size_t n_, const char* who_, int what_, int code_, double val_,
                      double when_) {
    switch (what_) {
    case NMX_STEP:
        if (code_ == 6) {
            snprintf(buf_, n_, "%s: map diverged at t = %g ms (p + drive = %g)", who_, when_, val_);
        } else {
            snprintf(buf_, n_, "%s: the map step failed at t = %g ms (p + drive = %g, libneuromap "
                     "status %d)", who_, when_, val_, code_);
        }
        break;
    case NMX_P:
        snprintf(buf_, n_, "%s: p is not finite (%g) at t = %g ms", who_, val_, when_);
        break;
    case NMX_DRIVE:
        snprintf(buf_, n_, "%s: the NetCon drive is not finite (%g) at t = %g ms: a NetCon weight "
                 "is NaN or infinite, or p + drive overflows", who_, val_, when_);
        break;
    case NMX_TAU:
        snprintf(buf_, n_, "%s: tau_drive = %g at t = %g ms: it must be > 0 (ms)", who_, val_, when_);
        break;
    case NMX_HYST:
        snprintf(buf_, n_, "%s: hysteresis = %g at t = %g ms: it must be >= 0 and finite (mV)", who_,
                 val_, when_);
        break;
    case NMX_THRESH:
        snprintf(buf_, n_, "%s: thresh = %g at t = %g ms: it must be finite (mV)", who_, val_, when_);
        break;
    case NMX_RS:
        snprintf(buf_, n_, "%s: rs = %g at t = %g ms: it must be > 0 and finite (MOhm)", who_, val_,
                 when_);
        break;
    case NMX_PIN:
        snprintf(buf_, n_, "%s: kp * pin is not finite (%g) at t = %g ms", who_, val_, when_);
        break;
    case NMX_TAUSYN:
        snprintf(buf_, n_, "%s: tau_syn = %g at t = %g ms: it must be > 0 (ms; inf: a step current)", who_,
                 val_, when_);
        break;
    case NMX_IBIAS:
        snprintf(buf_, n_, "%s: ibias = %g at t = %g ms: it must be finite (nA)", who_, val_, when_);
        break;
    case NMX_INPUT:
        snprintf(buf_, n_, "%s: the input current is not finite (%g nA) at t = %g ms", who_, val_, when_);
        break;
    case NMX_WI:
        snprintf(buf_, n_, "%s: a NetCon weight wi = %g at t = %g ms: it must be finite (nA)", who_, val_,
                 when_);
        break;
    case NMX_AREA:
        snprintf(buf_, n_, "%s: area_um2 = %g at t = %g ms: the model's input is per area (uA/cm2 or "
                 "mA/cm2): set area_um2, the membrane area in um2 (> 0 and finite)", who_, val_, when_);
        break;
    case NMX_CM:
        snprintf(buf_, n_, "%s: cm = %g at t = %g ms: it must be > 0 and finite (uF/cm2)", who_, val_,
                 when_);
        break;
    default:
        snprintf(buf_, n_, "%s: stopped at t = %g ms (err %d)", who_, when_, code_);
        break;
    }
}
ENDVERBATIM

INITIAL {
    q = 0
    pending = 0
    err = 0
    errwhat = 0
    errval = 0
    errt = t
VERBATIM
    {
        char msg_[1200];
        int d_ = 0, what_;
        double thr_ = 0.0, bad_ = 0.0;
        if (handle <= 0) {
            hoc_execerror("NeuroMapClamp: no model loaded", "call load(\"model.nmap\") before finitialize");
        }
        /* dim and dt_map are the model's: read again, whatever was assigned */
        if (nm_plugin_info((int)handle, &d_, &dt_map, &thr_) != 0 ||
            nm_plugin_init((int)handle, x, &V) != 0) {
            snprintf(msg_, sizeof msg_, "NeuroMapClamp: %s", nm_last_error());
            hoc_execerror(msg_, (char*)0);
        }
        dim = d_;
        what_ = nmx_params_(tau_drive, hysteresis, thresh, &bad_);
        if (what_ == 0 && (!(rs > 0.0) || !isfinite(rs))) {
            what_ = NMX_RS;
            bad_ = rs;
        }
        if (what_ == 0) {
            what_ = nmx_inparams_(tau_syn, ibias, &bad_);
        }
        if (what_ == 0 && (!(cmem > 0.0) || !isfinite(cmem))) {
            what_ = NMX_CM;
            bad_ = cmem;
        }
        {
            /* the segment's area: capacitance, and nA -> uA/cm2 or mA/cm2 */
            int has_ = 0;
            area_um2 = _nd_area;
            cnode = cmem * area_um2 * 1e-5;
            nm_plugin_input_info((int)handle, &has_, &umin, &umax, (char*)0, 0);
            hasinput = has_;
            fin = 0.0;
            if (what_ == 0 && has_ && nm_plugin_input_factor((int)handle, area_um2, &fin) != 0) {
                what_ = NMX_AREA;
                bad_ = area_um2;
            }
        }
        if (what_ != 0) {
            err = 1;
            errwhat = what_;
            errval = bad_;
            nmx_text_(msg_, sizeof msg_, "NeuroMapClamp", what_, 1, bad_, t);
            hoc_execerror(msg_, (char*)0);
        }
    }
ENDVERBATIM
    drive = 0
    tdrive = t
    tk = t
    tstart = t
    nstep = 0
    armed = (V < thresh - hysteresis)
    Vnext = V
    Vfrom = V
    : the input of the first map step: nothing measured yet, ibias only
    iother = 0
    iin = ibias
    uin = 0
    nclamped = 0
    nignored = 0
    everr = 0
    everrval = 0
    everrt = t
    inerr = 0
    inerrval = 0
    vprev = v
    qprev = 0
    tprev = t
    measure0 = 0
    vcb = V
    vb = v
    gq = 1/rs
    cnw = 0
VERBATIM
    nm_plugin_syn_init(ssyn, t);
ENDVERBATIM
    lookahead()
    vc = V
    pending = 1
    net_send(dt_map, 1)
}

BREAKPOINT {
    LOCAL f
    SOLVE charge METHOD cnexp
    f = (t - tk)/dt_map
    if (f < 0) {
        f = 0
    } else if (f > 1) {
        f = 1
    }
    vc = Vfrom + (Vnext - Vfrom)*f
    : what the charge integration needs to integrate exactly the current
    : the solver applies: the target and v of this evaluation, and under
    : Crank-Nicolson (secondorder > 0) v is the mean of the step's ends
    vcb = vc
    vb = v
VERBATIM
    cnw = secondorder ? 0.5 : 0.0;
ENDVERBATIM
    if (rs > 0 && rs < 1e308) {
        gq = 1/rs
        i = (vc - v)/rs
    } else {
        gq = 0
        : rs <= 0, NaN or infinite: no current (never NaN); stop the map once
        i = 0
        if (err == 0) {
            err = 1
            errwhat = 7
            errt = t
VERBATIM
            errval = rs;
            {
                char msg_[600], name_[80];
                nmx_name_((Point_process*)_ppvar[1]._pvoid, name_, sizeof name_);
                nmx_text_(msg_, sizeof msg_, name_, NMX_RS, 1, rs, t);
                fprintf(stderr, "%s\n", msg_);
            }
ENDVERBATIM
        }
    }
}

: q' = the clamp current as the integrator applied it: under CVode v = vb
: (one evaluation), fixed step: i at the new v (backward Euler) or at the
: mean of the old and new v (Crank-Nicolson)
DERIVATIVE charge {
    q' = gq*(vcb - (1 - cnw)*v - cnw*vb)
}

NET_RECEIVE (w, wi (nA)) {
    LOCAL vold, tnext, wl
    INITIAL {
        : keep wi: without this block NEURON sets the NetCon weights after
        : the first to 0 at finitialize
    }
    if (flag == 1) {
        tnext = tstart + (nstep + 1)*dt_map
        if (t < tnext - 1e-6*dt_map) {
            : a self-event queued before a load() during the run: wait for
            : the new model's next sample
            net_send(tnext - t, 1)
        } else {
            if (t > tnext + 1e-6*dt_map) {
                : queued before a load() for a time after the new model's
                : next sample (a shorter dt_map): the sample is now
                tstart = t - (nstep + 1)*dt_map
            }
            : the clamp has reached sample nstep + 1: look for a spike, then
            : compute the sample after it
            : tk from the step count, not t (see neuromap_cell.mod)
            vold = V
            V = Vnext
            Vfrom = V
            nstep = nstep + 1
            tk = tstart + nstep*dt_map
            measure()
            if (armed) {
                if (vold < thresh && V >= thresh) {
                    : NEURON refuses an event time before t, and a section's
                    : point process may see t a rounding error (1e-12 ms) after
                    : tk under the fixed step: then the spike is at t.
                    if (tk >= t) {
                        net_event(tk)
                    } else {
                        net_event(t)
                    }
                    armed = 0
                }
            } else if (V < thresh - hysteresis) {
                armed = 1
            }
            lookahead()
            net_send(tstart + (nstep + 1)*dt_map - t, 1)
        }
    } else {
        : an invalid tau_drive stops the map at its next sample; until then
        : the input only adds up
        if (tau_drive > 0) {
            drive = drive*exp(-(t - tdrive)/tau_drive) + w
        } else {
            drive = drive + w
        }
        tdrive = t
        : wi (nA) into the current synapse (see neuromap_cell.mod)
        wl = wi
VERBATIM
        if (_lwl != 0.0 && everr == 0.0) {
            if (nm_plugin_syn_event(ssyn, tau_syn, t, _lwl) != 0) {
                everr = (tau_syn > 0.0) ? NMX_WI : NMX_TAUSYN;
                everrval = (tau_syn > 0.0) ? _lwl : tau_syn;
                everrt = t;
            }
        }
ENDVERBATIM
    }
}

: At sample tk: the mean current the section's other mechanisms injected
: over [tprev, tk] (C dv - clamp charge), plus the synapse and ibias:
: the input of the map step computed now (one step late, see the COMMENT).
PROCEDURE measure() {
VERBATIM
    vsamp = NODEV(((Point_process*)_ppvar[1]._pvoid)->node);
ENDVERBATIM
    dtm = tk - tprev
    inerr = 0
    inerrval = 0
    if (measure0 || dtm <= 0) {
        iother = 0
        measure0 = 0
    } else {
        iother = (cnode*(vsamp - vprev) - (q - qprev))/dtm
    }
    vprev = vsamp
    qprev = q
VERBATIM
    {
        double mean_ = 0.0;
        if (everr != 0.0) {
            inerr = everr;
            inerrval = everrval;
        } else if ((inerr = nmx_inparams_(tau_syn, ibias, &inerrval)) != 0) {
            /* tau_syn or ibias */
        } else if (dtm <= 0.0) {
            iin = ibias + iother;
        } else if (nm_plugin_syn_mean(ssyn, tau_syn, tk, dtm, ibias, &mean_) != 0) {
            inerr = NMX_INPUT;
            inerrval = ssyn[0] + ibias;
        } else {
            iin = mean_ + iother;
            if (!isfinite(iin)) {
                inerr = NMX_INPUT;
                inerrval = iin;
            }
        }
    }
ENDVERBATIM
    tprev = tk
}

: x <- F(x, peff), Vnext <- its decoded V; the values it uses are checked
: first.  On an error (an invalid value, divergence) hold V and set err.
PROCEDURE lookahead() {
    LOCAL st, what, bad, pk
    st = 0
    what = 0
    bad = 0
    if (err == 0) {
VERBATIM
        _lwhat = (double)nmx_params_(tau_drive, hysteresis, thresh, &_lbad);
        if (_lwhat == 0 && (!(rs > 0.0) || !isfinite(rs))) {
            _lwhat = NMX_RS;
            _lbad = rs;
        }
ENDVERBATIM
        if (what == 0) {
            drive = drive*exp(-(tk - tdrive)/tau_drive)
            tdrive = tk
            pk = 0
            if (kp != 0) {
                pk = kp*pin
            }
            peff = p + drive + pk
VERBATIM
            if (!isfinite(p)) {
                _lwhat = NMX_P;
                _lbad = p;
            } else if (!isfinite(drive)) {
                _lwhat = NMX_DRIVE;
                _lbad = drive;
            } else if (!isfinite(_lpk)) {
                _lwhat = NMX_PIN;
                _lbad = _lpk;
            } else if (!isfinite(peff)) {
                _lwhat = NMX_DRIVE;
                _lbad = peff;
            } else if (inerr != 0.0) {
                _lwhat = inerr;
                _lbad = inerrval;
            } else if (hasinput && nm_plugin_input_factor((int)handle, area_um2, &fin) != 0) {
                _lwhat = NMX_AREA;
                _lbad = area_um2;
            } else if (!hasinput && fabs(iin) > NMX_IGNORE_TOL) {
                nignored += 1;
                if (nignored == 1.0) {
                    char name_[80];
                    nmx_name_((Point_process*)_ppvar[1]._pvoid, name_, sizeof name_);
                    fprintf(stderr, "%s: warning: the model has no input channel: its input current (the "
                            "section's other currents, NetCon wi, ibias) is ignored (first at t = %g ms, "
                            "%g nA; steps counted in nignored)\n", name_, tk, iin);
                }
            }
ENDVERBATIM
        }
        if (what == 0) {
VERBATIM
            if (hasinput) {
                int c_ = 0;
                _lst = (double)nm_plugin_step_u((int)handle, peff, iin * fin, x, &Vnext, &uin, &c_);
                if (_lst == 0) {
                    nclamped += c_;
                }
            } else {
                _lst = (double)nm_plugin_step((int)handle, peff, x, &Vnext);
            }
            if (_lst != 0) {
                char name_[80];
                nmx_name_((Point_process*)_ppvar[1]._pvoid, name_, sizeof name_);
                fprintf(stderr, "%s: stopped at t = %g ms (p + drive = %g): %s\n", name_, tk, peff,
                        nm_last_error());
            }
ENDVERBATIM
            if (st != 0) {
                what = 1
                bad = peff
            }
        }
        if (what != 0) {
            if (st != 0) {
                err = st
            } else {
                err = 1
            }
            errwhat = what
            errval = bad
            errt = tk
VERBATIM
            if (_lst == 0) {
                char msg_[600], name_[80];
                nmx_name_((Point_process*)_ppvar[1]._pvoid, name_, sizeof name_);
                nmx_text_(msg_, sizeof msg_, name_, (int)_lwhat, 1, _lbad, tk);
                fprintf(stderr, "%s\n", msg_);
            }
ENDVERBATIM
        }
    }
    if (err != 0) {
        Vnext = V
    }
}

: load("file.nmap"): load (or share) a model and reset the state to its start.
PROCEDURE load() {
VERBATIM
    /* hoc's t (a clamp not yet initialized has no thread: _nt is NULL), and
       the target at that t on the current ramp, where the new ramp starts */
    double tnow_ = _nt ? _nt->_t : nrn_threads[0]._t;
    double vnow_ = vc;
    if (pending && dt_map > 0.0) {
        double f_ = (tnow_ - tk)/dt_map;
        f_ = f_ < 0.0 ? 0.0 : (f_ > 1.0 ? 1.0 : f_);
        vnow_ = Vfrom + (Vnext - Vfrom)*f_;
    }
    {
        int h_ = 0, d_ = 0;
        char msg_[1200];
        if (!ifarg(1) || !hoc_is_str_arg(1)) {
            hoc_execerror("NeuroMapClamp.load", "needs the path of a model file");
        }
        if (nm_plugin_acquire(hoc_gargstr(1), &h_) != 0) {
            snprintf(msg_, sizeof msg_, "NeuroMapClamp.load: %s", nm_last_error());
            hoc_execerror(msg_, (char*)0);
        }
        if (handle > 0) {
            nm_plugin_release((int)handle);
        }
        handle = h_;
        nm_plugin_info(h_, &d_, &dt_map, &thresh);
        dim = d_;
        nm_plugin_init(h_, x, &V);
        V0 = V;
        /* p follows the model's default until it is set */
        {
            double pd_ = 0.0;
            nm_plugin_p_info(h_, &pd_, (double*)0, (double*)0);
            if (isnan(p) || p == pdefault) {
                p = pd_;
            }
            pdefault = pd_;
        }
        {
            int has_ = 0;
            nm_plugin_input_info(h_, &has_, &umin, &umax, (char*)0, 0);
            hasinput = has_;
        }
    }
ENDVERBATIM
    : the new model from its start state at the current t; during a run
    : (pending) the next sample at t + dt_map is computed now, and the
    : queued self-event is moved (see NET_RECEIVE).  The ramp to the new
    : model's next sample starts from the target at t: continuous
VERBATIM
    tdrive = tnow_;
    tk = tnow_;
    tstart = tnow_;
    Vfrom = pending ? vnow_ : V;
    vc = Vfrom;
ENDVERBATIM
    Vnext = V
    drive = 0
    nstep = 0
    err = 0
    errwhat = 0
    errval = 0
    armed = (V < thresh - hysteresis)
    if (pending) {
        : the new model's first step: ibias only; the measurement starts
        : again at the next sample
        iin = ibias
        inerr = 0
        measure0 = 1
        lookahead()
    }
}

: inunit(strdef): the unit of the model's input ("" without an input channel)
PROCEDURE inunit() {
VERBATIM
    {
        char s_[32];
        s_[0] = '\0';
        if (!ifarg(1) || !hoc_is_str_arg(1)) {
            hoc_execerror("NeuroMapClamp.inunit", "needs a strdef (Python: h.ref(\"\"))");
        }
        if (handle > 0) {
            nm_plugin_input_info((int)handle, (int*)0, (double*)0, (double*)0, s_, sizeof s_);
        }
        hoc_assign_str(hoc_pgargstr(1), s_);
    }
ENDVERBATIM
}

: errmsg(strdef): the message of what stopped the map ("" while err = 0).
: Python: s = h.ref(""); clamp.errmsg(s); s[0]
PROCEDURE errmsg() {
VERBATIM
    {
        char msg_[600];
        msg_[0] = '\0';
        if (!ifarg(1) || !hoc_is_str_arg(1)) {
            hoc_execerror("NeuroMapClamp.errmsg", "needs a strdef (Python: h.ref(\"\"))");
        }
        if (err != 0) {
            nmx_text_(msg_, sizeof msg_, "NeuroMapClamp", (int)errwhat, (int)err, errval, errt);
        }
        hoc_assign_str(hoc_pgargstr(1), msg_);
    }
ENDVERBATIM
}

: pname(strdef), punit(strdef): the name and unit of the model's p
PROCEDURE pname() {
VERBATIM
    {
        char s_[64];
        s_[0] = '\0';
        if (!ifarg(1) || !hoc_is_str_arg(1)) {
            hoc_execerror("NeuroMapClamp.pname", "needs a strdef (Python: h.ref(\"\"))");
        }
        if (handle > 0) {
            nm_plugin_p_label((int)handle, s_, sizeof s_, (char*)0, 0);
        }
        hoc_assign_str(hoc_pgargstr(1), s_);
    }
ENDVERBATIM
}

PROCEDURE punit() {
VERBATIM
    {
        char s_[64];
        s_[0] = '\0';
        if (!ifarg(1) || !hoc_is_str_arg(1)) {
            hoc_execerror("NeuroMapClamp.punit", "needs a strdef (Python: h.ref(\"\"))");
        }
        if (handle > 0) {
            nm_plugin_p_label((int)handle, (char*)0, 0, s_, sizeof s_);
        }
        hoc_assign_str(hoc_pgargstr(1), s_);
    }
ENDVERBATIM
}

FUNCTION nloaded() {
VERBATIM
    _lnloaded = (double)nm_plugin_count();
ENDVERBATIM
}

FUNCTION refcount() {
VERBATIM
    _lrefcount = handle > 0 ? (double)nm_plugin_refcount((int)handle) : 0.0;
ENDVERBATIM
}

CONSTRUCTOR {
VERBATIM
    /* p not set: load() gives it the model's default */
    p = NAN;
    pdefault = NAN;
ENDVERBATIM
}

DESTRUCTOR {
VERBATIM
    if (handle > 0) {
        nm_plugin_release((int)handle);
        handle = 0;
    }
ENDVERBATIM
}
