TITLE neuromap_cell.mod  A learned neuron (VAE + neural-network map) as an ARTIFICIAL_CELL

COMMENT
NeuroMapCell runs a model trained by `neuromap train` (libneuromap; Kuptsov &
Stankevich, Chaos, Solitons & Fractals 191 (2025) 115818): a latent state
x (dim <= 16 numbers) advanced by the learned map x(n+1) = F(x(n), p) once per
map time step dt_map (the sampling step of the training series, e.g. 5 ms),
and the membrane potential V decoded from x by the VAE decoder.

    objref c
    c = new NeuroMapCell()
    c.load("srk.nmap")       // hoc error (RuntimeError in Python) if it cannot be loaded
    c.p = -38                // control parameter (for the SRK model: VS, mV)

The cell steps on its own clock with self-events (net_send every dt_map, at
t = n*dt_map after finitialize), independent of dt, so fixed step, CVode,
local variable step and threads give the same spike times.  It costs nothing
between map steps.

Spikes: net_event at the map step whose decoded V first reaches `thresh`
(the model's, in mV) from below, with the re-arm rule of the library's spike
detector nm_spikes_detect_hyst: after a spike V must fall below
thresh - hysteresis (default 2 mV, as nm_spikes_detect) before the next
crossing counts; a run that starts above thresh - hysteresis is not armed.
The spike time is the step time tstart + nstep*dt_map, computed from the
step count (not interpolated, and not the t of the event delivery, which
can differ in the last bits between integrators): the library's
interpolated crossing lies in the preceding step.

Input: every NetCon event adds its weight (units of p) to a drive that
decays exponentially with tau_drive (ms); each map step sees p + drive(t).
p may be changed at any time (assignment, Vector.play); it is read at the
map steps.  peff is the value the last step used.

State: x[0..dim-1], V, armed, nstep (map steps since finitialize), drive and
tdrive (the time drive was last brought up to date) are ASSIGNED RANGE
variables owned by NEURON: INITIAL resets them (x to the model's start
state), SaveState saves and restores them (it keeps every ASSIGNED of a
mechanism with a NET_RECEIVE block) together with the pending self-event.
handle, the model's number in libneuromap's registry (include/neuromap.h,
"NEURON plugin support"), is a PARAMETER on purpose: SaveState does not touch
PARAMETERs, so restoring a state never overwrites which model a cell holds.
Do not assign it.  Models are shared: cells that load the same file hold
one copy, reference-counted, freed when the last cell is destroyed.

If the map leaves the bounded region of its training data (libneuromap's
NM_ENUMERIC) the cell stops stepping, keeps its last state, sets err to the
status code (6) and prints one line.  A hoc error there would unwind a
worker thread, so the run goes on; check err (the Python helpers do).

THREADSAFE: all state is per instance; the model is read-only and the
registry is mutex-protected.  The C prototypes below are declared without
parameter names because nocmodl #defines every mod variable name (p, x, V,
...) before VERBATIM code; they must match include/neuromap.h.
ENDCOMMENT

NEURON {
    THREADSAFE
    ARTIFICIAL_CELL NeuroMapCell
    RANGE p, tau_drive, hysteresis, handle
    RANGE V0, V, x, dim, dt_map, thresh, drive, tdrive, peff, armed, nstep, tstart, err
}

UNITS {
    (mV) = (millivolt)
}

PARAMETER {
    p = -38           : control parameter, in the units of the model's p (SRK: VS, mV)
    tau_drive = 20 (ms) <1e-9, 1e300> : decay time constant of the NetCon drive
    hysteresis = 2 (mV) <0, 1e9>  : re-arm margin below threshold (nm_spikes_detect)
    handle = 0        : registry handle set by load(); 0 = no model.  Do not assign.
}

ASSIGNED {
    V0 (mV)           : decoded V of the start state (set by load)
    V (mV)            : decoded membrane potential after the last map step
    x[16]             : latent state (dim values used)
    dim               : latent dimension of the model
    dt_map (ms)       : map time step
    thresh (mV)       : spike threshold (the model's; may be changed)
    drive             : NetCon drive at time tdrive (units of p)
    tdrive (ms)
    peff              : p + drive seen by the last map step
    armed             : 1 when the next upward crossing counts as a spike
    nstep             : map steps since finitialize
    tstart (ms)       : t at finitialize: step n is at tstart + n*dt_map
    err               : 0, or the libneuromap status that stopped the cell
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
            hoc_execerror("NeuroMapCell: no model loaded", "call load(\"model.nmap\") before finitialize");
        }
        if (nm_plugin_init((int)handle, x, &V) != 0) {
            snprintf(msg_, sizeof msg_, "NeuroMapCell: %s", nm_last_error());
            hoc_execerror(msg_, (char*)0);
        }
    }
ENDVERBATIM
    drive = 0
    tdrive = t
    peff = p
    nstep = 0
    tstart = t
    err = 0
    armed = (V < thresh - hysteresis)
    net_send(dt_map, 1)
}

NET_RECEIVE (w) {
    LOCAL vold, st, tstep
    if (flag == 1) {
        : a map step: bring the drive up to date, step, decode, look for a
        : spike.  Its time comes from the step count, not from t: t at
        : delivery may differ in the last bits between integrators.
        tstep = tstart + (nstep + 1)*dt_map
        drive = drive*exp(-(tstep - tdrive)/tau_drive)
        tdrive = tstep
        peff = p + drive
        vold = V
        st = 0
VERBATIM
        _lst = (double)nm_plugin_step((int)handle, peff, x, &V);
        if (_lst != 0) {
            fprintf(stderr, "NeuroMapCell: stopped at t = %g ms (p = %g): %s\n", _ltstep, peff,
                    nm_last_error());
        }
ENDVERBATIM
        if (st != 0) {
            err = st
        } else {
            nstep = nstep + 1
            if (armed) {
                if (vold < thresh && V >= thresh) {
                    : t is tstep exactly for an ARTIFICIAL_CELL (the delay
                    : sent is exact, Sterbenz), but NEURON refuses an event
                    : before t, so never risk it
                    if (tstep >= t) {
                        net_event(tstep)
                    } else {
                        net_event(t)
                    }
                    armed = 0
                }
            } else if (V < thresh - hysteresis) {
                armed = 1
            }
            : the next step at tstart + (nstep + 1)*dt_map: no drift from
            : adding dt_map to t over and over
            net_send(tstart + (nstep + 1)*dt_map - t, 1)
        }
    } else {
        drive = drive*exp(-(t - tdrive)/tau_drive) + w
        tdrive = t
    }
}

: load("file.nmap"): load (or share) a model and reset the state to its start.
PROCEDURE load() {
VERBATIM
    {
        int h_ = 0, d_ = 0;
        char msg_[1200];
        if (!ifarg(1) || !hoc_is_str_arg(1)) {
            hoc_execerror("NeuroMapCell.load", "needs the path of a model file");
        }
        if (nm_plugin_acquire(hoc_gargstr(1), &h_) != 0) {
            snprintf(msg_, sizeof msg_, "NeuroMapCell.load: %s", nm_last_error());
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
    drive = 0
    tdrive = 0
    peff = p
    nstep = 0
    tstart = 0
    err = 0
}

: Number of different model files loaded in the process (all cells).
FUNCTION nloaded() {
VERBATIM
    _lnloaded = (double)nm_plugin_count();
ENDVERBATIM
}

: References to this cell's model (cells sharing it); 0 without a model.
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
