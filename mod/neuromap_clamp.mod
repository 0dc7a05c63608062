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

handle is a PARAMETER (SaveState leaves it alone); x, V, Vnext, tk, drive,
armed, nstep are ASSIGNED and saved by SaveState.  If the map diverges the
clamp holds the last V, sets err and prints one line (see neuromap_cell.mod).
ENDCOMMENT

NEURON {
    THREADSAFE
    POINT_PROCESS NeuroMapClamp
    ELECTRODE_CURRENT i
    RANGE p, tau_drive, hysteresis, handle, rs, kp
    RANGE V0, V, Vnext, vc, i, x, dim, dt_map, thresh, drive, tdrive, peff, tk, armed, nstep
    RANGE tstart, err
    POINTER pin
}

UNITS {
    (mV) = (millivolt)
    (nA) = (nanoamp)
    (MOhm) = (megohm)
}

PARAMETER {
    p = -38           : control parameter (units of the model's p)
    tau_drive = 20 (ms) <1e-9, 1e300> : decay time constant of the NetCon drive
    hysteresis = 2 (mV) <0, 1e9>  : re-arm margin below thresh
    rs = 0.001 (MOhm) <1e-12, 1e9> : clamp series resistance
    kp = 0            : weight of *pin in p (units of p per unit of *pin)
    handle = 0        : registry handle set by load(); do not assign
}

ASSIGNED {
    v (mV)
    i (nA)
    vc (mV)           : clamp target now
    pin               : read through the POINTER when kp != 0
    V0 (mV)           : decoded V of the start state (set by load)
    V (mV)            : decoded V of the current sample (time tk)
    Vnext (mV)        : decoded V of the next sample (time tk + dt_map)
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
    err
}

VERBATIM
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
extern const char* nm_last_error(void);
#ifdef __cplusplus
}
#endif
ENDVERBATIM

INITIAL {
VERBATIM
    {
        char msg_[1200];
        if (handle <= 0) {
            hoc_execerror("NeuroMapClamp: no model loaded", "call load(\"model.nmap\") before finitialize");
        }
        if (nm_plugin_init((int)handle, x, &V) != 0) {
            snprintf(msg_, sizeof msg_, "NeuroMapClamp: %s", nm_last_error());
            hoc_execerror(msg_, (char*)0);
        }
    }
ENDVERBATIM
    drive = 0
    tdrive = t
    tk = t
    tstart = t
    nstep = 0
    err = 0
    armed = (V < thresh - hysteresis)
    Vnext = V
    lookahead()
    vc = V
    net_send(dt_map, 1)
}

BREAKPOINT {
    LOCAL f
    f = (t - tk)/dt_map
    if (f < 0) {
        f = 0
    } else if (f > 1) {
        f = 1
    }
    vc = V + (Vnext - V)*f
    i = (vc - v)/rs
}

NET_RECEIVE (w) {
    LOCAL vold
    if (flag == 1) {
        : the clamp has reached sample nstep + 1: look for a spike, then
        : compute the sample after it
        : tk from the step count, not t (see neuromap_cell.mod)
        vold = V
        V = Vnext
        nstep = nstep + 1
        tk = tstart + nstep*dt_map
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
    } else {
        drive = drive*exp(-(t - tdrive)/tau_drive) + w
        tdrive = t
    }
}

: x <- F(x, peff), Vnext <- its decoded V; on divergence hold V and set err.
PROCEDURE lookahead() {
    LOCAL st
    drive = drive*exp(-(tk - tdrive)/tau_drive)
    tdrive = tk
    peff = p + drive
    if (kp != 0) {
        peff = peff + kp*pin
    }
    st = 0
    if (err == 0) {
VERBATIM
        _lst = (double)nm_plugin_step((int)handle, peff, x, &Vnext);
        if (_lst != 0) {
            fprintf(stderr, "NeuroMapClamp: stopped at t = %g ms (p = %g): %s\n", tk, peff,
                    nm_last_error());
        }
ENDVERBATIM
    }
    if (st != 0) {
        err = st
    }
    if (err != 0) {
        Vnext = V
    }
}

: load("file.nmap"): load (or share) a model and reset the state to its start.
PROCEDURE load() {
VERBATIM
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
    }
ENDVERBATIM
    Vnext = V
    vc = V
    drive = 0
    tdrive = 0
    tk = 0
    tstart = 0
    nstep = 0
    err = 0
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

DESTRUCTOR {
VERBATIM
    if (handle > 0) {
        nm_plugin_release((int)handle);
        handle = 0;
    }
ENDVERBATIM
}
