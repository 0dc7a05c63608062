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

p's default is the model's: a new cell's p is NaN, which means "not set",
and load() gives p the model's default p (pdefault: the centre of its
training range) unless p was set.  The rule: load() replaces p by the new
model's pdefault when p is NaN or still equals the pdefault of the model
loaded before (so a reload follows the model until p is assigned another
value); any other p is kept.  pname(strdef) and punit(strdef) give the
name and unit of p stored in the model (`neuromap train --p-name/--p-unit`;
"p" and "" for older files).

recordV(tvec, vvec) records the decoded V at every map step: at
finitialize both Vectors are emptied and get (t, V0), then every step
appends (its time, V), and a load() during a run appends (t_load, V0).  V
is constant between the recorded times.  It needs no section (the cell has
none; Vector.record of V needs a time vector in a model without sections)
and works under every integrator and with threads.  recordV() with no
argument stops recording.  Give each cell its own Vectors.

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

Input current (issue 11, docs/neuron.md "Input-driven cells"): for a model
with an input channel, x(n+1) = F(x(n), p, u(n)) with u(n) the MEAN current
over the step (t_n, t_(n+1)] in the model's unit.  A NetCon's second weight
wi (nA; nc.weight[1], kept at finitialize) goes into a current synapse,
i(t) = sum wi_j exp(-(t - t_j)/tau_syn) (tau_syn ms, default 2; 1e300 or
inf: a step), integrated exactly (closed form, libneuromap's
nm_plugin_syn_*: the offline reference runtime.syn_means is the same C
code); ibias (nA) is added.  iin is the step's mean (nA); u = iin * fin,
fin = nA -> the model's unit (nA 1, pA 1000, uA 1e-3, "1" 1, uA/cm2
1e5/area_um2, mA/cm2 100/area_um2: set area_um2 for those).  u outside the
trained range [umin, umax] is clamped to it and counted in nclamped (uin is
the value used); the cell goes on.  A model WITHOUT input ignores wi and
ibias: every step with a non-zero mean is counted in nignored and the first
prints one warning line; V is exactly that of the model without them.
Bad values: tau_syn <= 0 (NaN), ibias not finite, area_um2 needed and not
> 0: a hoc error at finitialize; during a run the cell stops at its next
step (err 1; errwhat 9 tau_syn, 10 ibias, 11 the input current not finite,
12 a NetCon wi not finite -- errt is the event's time --, 13 area_um2).

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

Invalid values (tau_drive <= 0 or NaN, hysteresis < 0 or not finite, thresh
not finite) are a hoc error at finitialize, and stop the cell at its next
map step when they are set during a run; so does a p, a drive or a p + drive
that is not finite (checked before the library is called, so the message
says "p is not finite", not "map diverged").  A stopped cell sets err = 1
(NM_EINVAL) or the library's status, errwhat/errval/errt say what, when and
which value, and errmsg(strdef) gives the message (Python: s = h.ref("");
cell.errmsg(s); s[0]).  It stays stopped until the next finitialize.  dim
and dt_map are the model's: finitialize reads them again.

load() during a run (after finitialize) is safe: the cell restarts from the
new model's start state at the current t (t_load): drive 0, step n at
t_load + n*dt_map.  The self-event already queued is kept and moved: if it
comes before t_load + dt_map the cell only waits; if it comes after (a new
model with a shorter dt_map) the first step is at that event and the
following ones dt_map apart.  A cell that is not stepping (stopped by an
error, or created after finitialize) stays so until the next finitialize:
load() keeps its err.

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
    RANGE errwhat, errval, errt, pending, pdefault
    RANGE tau_syn, ibias, area_um2, hasinput, umin, umax, fin, iin, uin, nclamped, nignored
    RANGE ssyn, everr, everrval, everrt
    RANGE wlate, wilate, tlate, haslate, bdone, bspike, tbd, tsched
    GLOBAL batch
    POINTER rect_, recv_
}

UNITS {
    (mV) = (millivolt)
    (nA) = (nanoamp)
}

PARAMETER {
    p = 0             : control parameter in the units of the model's p (SRK: VS, mV);
                      : NaN at creation (CONSTRUCTOR): load() sets the model's pdefault
    tau_drive = 20 (ms) <1e-9, 1e300> : decay time constant of the NetCon drive
    hysteresis = 2 (mV) <0, 1e9>  : re-arm margin below threshold (nm_spikes_detect)
    handle = 0        : registry handle set by load(); 0 = no model.  Do not assign.
    tau_syn = 2 (ms)  : decay time constant of the current synapse (NetCon weight wi, nA); > 0, inf: a step
    ibias = 0 (nA)    : constant input current (added to the mean of every step)
    area_um2 = 0      : membrane area (um2) for models whose input is in uA/cm2 or mA/cm2
    batch = 1         : GLOBAL: 1 cells of one model due at the same time step together (one
                      : matrix product per layer, bit for bit the same); 0 each cell alone
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
    err               : 0, or the libneuromap status that stopped the cell (1: an invalid value)
    errwhat           : what stopped it: 1 the map step, 2 p, 3 drive, 4 tau_drive, 5 hysteresis, 6 thresh,
                      : 9 tau_syn, 10 ibias, 11 input current, 12 wi, 13 area_um2
    errval            : the value that stopped it (p + drive for errwhat 1)
    errt (ms)         : the time it stopped
    pending           : 1 while a map-step self-event is queued
    pdefault          : the model's default p: the centre of its training range (set by load)
    rect_             : recordV storage (Vector objects), not a pointer into NEURON's data
    recv_
    hasinput          : 1 if the model has an input channel (set by load)
    umin              : the model's trained input range (model units; 0 0 without input)
    umax
    fin               : nA -> model units (nm_plugin_input_factor; 0 without input)
    iin (nA)          : mean input current of the last step: synapse + ibias
    uin               : the input the last step used (model units, after clamping; 0 without input)
    nclamped          : steps since finitialize whose input was outside the trained range (clamped)
    nignored          : steps since finitialize with a non-zero input into a model without input
    ssyn[3]           : current synapse: current (nA) at time ssyn[1] (ms), charge (nA ms) of the step
    everr             : 0, or what a bad wi event will stop the cell with at its next step (12: wi, 9: tau_syn)
    everrval
    everrt (ms)
    wlate             : NetCon drive (w) that came at a step time: added after that step
    wilate (nA)       : the same for the current synapse (wi)
    tlate (ms)        : that step time
    haslate           : 1 while wlate/wilate wait
    bdone             : 1: another cell's batch did this cell's step (at tbd); its own event finishes it
    bspike            : 1: that step crossed the threshold (the event sends the spike)
    tbd (ms)
    tsched (ms)       : time of the queued self-event
}

VERBATIM
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
extern int nm_plugin_step_batch(int, void**, size_t, const double*, const double*, double*, double*,
                                double*, int*, int*);
extern const char* nm_last_error(void);
#ifdef __cplusplus
}
#endif
/* "NeuroMapCell[3]": the hoc name of the cell, formatted here because
   hoc_object_name() uses one static buffer (not thread safe). */
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
        snprintf(buf_, n_, "NeuroMapCell");
    }
}
/* recordV: the two Vectors are kept as hoc Objects (referenced) in the
   storage of the POINTERs rect_ and recv_, as VecStim keeps its Vector. */
#define NMX_RECT_ (*((Object**)(&_p_rect_)))
#define NMX_RECV_ (*((Object**)(&_p_recv_)))
static void nmx_rec_append_(Object* ot_, Object* ov_, double t_, double v_) {
    IvocVect* tv_;
    IvocVect* vv_;
    int n_;
    if (!ot_ || !ov_) {
        return;
    }
    tv_ = (IvocVect*)ot_->u.this_pointer;
    vv_ = (IvocVect*)ov_->u.this_pointer;
    n_ = vector_capacity(tv_);
    vector_resize(tv_, n_ + 1);
    vector_vec(tv_)[n_] = t_;
    n_ = vector_capacity(vv_);
    vector_resize(vv_, n_ + 1);
    vector_vec(vv_)[n_] = v_;
}
static void nmx_rec_clear_(Object* ot_, Object* ov_) {
    if (ot_ && ov_) {
        vector_resize((IvocVect*)ot_->u.this_pointer, 0);
        vector_resize((IvocVect*)ov_->u.this_pointer, 0);
    }
}
/* What stopped a cell (errwhat).  The same codes and texts in neuromap_clamp.mod. */
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
/* ---- batched stepping (issue 12; docs/neuron.md "Batched stepping") ----
   Cells of one model on one NEURON thread that step at the same time are
   stepped together by the first of them whose self-event arrives: one
   nm_plugin_step_batch (every layer one product with the cells as columns,
   bit for bit each cell's own step).  Each cell's own self-event still
   arrives and does what is left: its spike (net_event) and its next
   self-event, so the event queue is exactly that of unbatched stepping.
   Per thread and model, a queue of slots (time, cells that sent their next
   self-event for that time) finds the cells due; a cell is stepped by
   another only if it is really due then (same thread and model, stepping,
   no error, its queued self-event at its regular step time, that time the
   batch's), so a stale entry is only skipped.  The lists are touched only
   by their own thread during a run, and by finitialize, load() and
   destructors (the hoc thread, workers idle) otherwise. */
#define NMX_TOL_ 1e-6          /* "the same time": within 1e-6 dt_map */
#define NMX_MAXTHREAD_ 256
typedef struct nmx_slot_ {
    double ts;
    int n, cap;
    Point_process** c;
} nmx_slot_;
typedef struct nmx_group_ {
    int hd;                    /* model handle */
    int head, nslot, capslot;  /* ring of slots, oldest at head */
    nmx_slot_* s;
    int bcap;                  /* batch scratch */
    Point_process** bc;
    double *bp, *bu, *bx, *bvv, *buu, *bvold, *bts;
    int *bcl, *bst;
    void* ws;
    double nby;                /* cells stepped by another cell's batch (statistics) */
    struct nmx_group_* next;
} nmx_group_;
static nmx_group_* nmx_groups_[NMX_MAXTHREAD_];

static nmx_group_* nmx_group_get_(int tid_, int hd_) {
    nmx_group_* g_;
    if (tid_ < 0 || tid_ >= NMX_MAXTHREAD_ || hd_ <= 0) return (nmx_group_*)0;
    for (g_ = nmx_groups_[tid_]; g_; g_ = g_->next) {
        if (g_->hd == hd_) return g_;
    }
    g_ = (nmx_group_*)calloc(1, sizeof(nmx_group_));
    if (!g_) return (nmx_group_*)0;
    g_->hd = hd_;
    g_->next = nmx_groups_[tid_];
    nmx_groups_[tid_] = g_;
    return g_;
}
static nmx_slot_* nmx_slot_at_(nmx_group_* g_, int k_) {
    return &g_->s[(g_->head + k_) % g_->capslot];
}
/* A cell has sent its next self-event for its regular step time ts_. */
static void nmx_enqueue_(Point_process* pnt_, int tid_, int hd_, double ts_, double dtm_) {
    nmx_group_* g_ = nmx_group_get_(tid_, hd_);
    nmx_slot_* sl_;
    double tol_ = NMX_TOL_ * dtm_;
    if (!g_) return;
    if (g_->nslot > 0) {
        sl_ = nmx_slot_at_(g_, g_->nslot - 1);
        if (ts_ < sl_->ts - tol_) {
            g_->nslot = 0;     /* time went back (finitialize, SaveState restore) */
            g_->head = 0;
        }
    }
    if (g_->nslot == 0 || ts_ > nmx_slot_at_(g_, g_->nslot - 1)->ts + tol_) {
        if (g_->nslot == g_->capslot) {
            int nc_ = g_->capslot ? 2 * g_->capslot : 4, k_;
            nmx_slot_* ns_ = (nmx_slot_*)calloc((size_t)nc_, sizeof(nmx_slot_));
            if (!ns_) return;
            for (k_ = 0; k_ < g_->capslot; k_++) {
                ns_[k_] = g_->s[(g_->head + k_) % g_->capslot];
            }
            free(g_->s);
            g_->s = ns_;
            g_->head = 0;
            g_->capslot = nc_;
        }
        sl_ = nmx_slot_at_(g_, g_->nslot);
        g_->nslot++;
        sl_->ts = ts_;
        sl_->n = 0;
    }
    sl_ = nmx_slot_at_(g_, g_->nslot - 1);
    if (sl_->n == sl_->cap) {
        int nc_ = sl_->cap ? 2 * sl_->cap : 64;
        Point_process** nc2_ = (Point_process**)realloc(sl_->c, (size_t)nc_ * sizeof(Point_process*));
        if (!nc2_) return;
        sl_->c = nc2_;
        sl_->cap = nc_;
    }
    sl_->c[sl_->n++] = pnt_;
}
/* A destroyed cell leaves every list. */
static void nmx_forget_(Point_process* pnt_) {
    int i_, k_, j_;
    nmx_group_* g_;
    for (i_ = 0; i_ < NMX_MAXTHREAD_; i_++) {
        for (g_ = nmx_groups_[i_]; g_; g_ = g_->next) {
            for (k_ = 0; k_ < g_->nslot; k_++) {
                nmx_slot_* sl_ = nmx_slot_at_(g_, k_);
                for (j_ = 0; j_ < sl_->n; j_++) {
                    if (sl_->c[j_] == pnt_) sl_->c[j_] = (Point_process*)0;
                }
            }
        }
    }
}
static int nmx_batch_grow_(nmx_group_* g_, int n_) {
    if (n_ <= g_->bcap) return 0;
    {
        int nc_ = n_ < 64 ? 64 : n_ + n_ / 2;
        size_t d_ = (size_t)nc_;
        Point_process** bc_ = (Point_process**)realloc(g_->bc, d_ * sizeof(Point_process*));
        if (bc_) g_->bc = bc_;
#define NMX_GROW_(f_, ty_, k_) { ty_* q_ = (ty_*)realloc(g_->f_, d_ * (k_) * sizeof(ty_)); if (q_) g_->f_ = q_; else return 1; }
        if (!bc_) return 1;
        NMX_GROW_(bp, double, 1) NMX_GROW_(bu, double, 1) NMX_GROW_(bx, double, 16)
        NMX_GROW_(bvv, double, 1) NMX_GROW_(buu, double, 1) NMX_GROW_(bvold, double, 1)
        NMX_GROW_(bts, double, 1) NMX_GROW_(bcl, int, 1) NMX_GROW_(bst, int, 2)
#undef NMX_GROW_
        g_->bcap = nc_;
    }
    return 0;
}

/* Inputs that came at a step time (see NET_RECEIVE: an input at exactly a
   step time counts after that step) join the drive and the synapse at that
   time: when the next input or the next step comes. */
static void nmx_fold_(double* _p, Datum* _ppvar) {
    if (!(haslate != 0.0)) return;
    if (tau_drive > 0) {
        drive = drive * exp(-(tlate - tdrive) / tau_drive) + wlate;
    } else {
        drive = drive + wlate;
    }
    tdrive = tlate;
    if (wilate != 0.0 && everr == 0.0) {
        if (nm_plugin_syn_event(ssyn, tau_syn, tlate, wilate) != 0) {
            everr = (tau_syn > 0.0) ? NMX_WI : NMX_TAUSYN;
            everrval = (tau_syn > 0.0) ? wilate : tau_syn;
            everrt = tlate;
        }
    }
    wlate = 0;
    wilate = 0;
    haslate = 0;
}

/* Everything a step at ts_ does before the network: returns 0 and the
   inputs (*pe_, *ue_), or what stops the cell (NMX_*) and *bad_. */
static int nmx_prep_(double* _p, Datum* _ppvar, Point_process* pnt_, double ts_, double* pe_,
                     double* ue_, double* bad_) {
    int what_;
    double mean_ = 0.0;
    *bad_ = 0.0;
    *ue_ = 0.0;
    if (haslate != 0.0 && tlate < ts_ - NMX_TOL_ * dt_map) {
        nmx_fold_(_p, _ppvar);
    }
    what_ = nmx_params_(tau_drive, hysteresis, thresh, bad_);
    if (what_ != 0) return what_;
    drive = drive * exp(-(ts_ - tdrive) / tau_drive);
    tdrive = ts_;
    peff = p + drive;
    *pe_ = peff;
    if (!isfinite(p)) { *bad_ = p; return NMX_P; }
    if (!isfinite(drive) || !isfinite(peff)) { *bad_ = isfinite(drive) ? peff : drive; return NMX_DRIVE; }
    /* the input: the mean current over the step now ending (synapse +
       ibias, nA), in the model's unit */
    if (everr != 0.0) { *bad_ = everrval; return (int)everr; }
    if ((what_ = nmx_inparams_(tau_syn, ibias, bad_)) != 0) return what_;
    if (nm_plugin_syn_mean(ssyn, tau_syn, ts_, dt_map, ibias, &mean_) != 0) {
        *bad_ = ssyn[0] + ibias;
        return NMX_INPUT;
    }
    iin = mean_;
    if (hasinput) {
        if (nm_plugin_input_factor((int)handle, area_um2, &fin) != 0) { *bad_ = area_um2; return NMX_AREA; }
    } else if (mean_ != 0.0) {
        /* never silent: counted, and said once a run */
        nignored += 1;
        if (nignored == 1.0) {
            char name_[80];
            nmx_name_(pnt_, name_, sizeof name_);
            fprintf(stderr, "%s: warning: the model has no input channel: its input current "
                    "(NetCon wi, ibias) is ignored (first at t = %g ms, %g nA; steps counted "
                    "in nignored)\n", name_, ts_, mean_);
        }
    }
    *ue_ = iin * fin;
    return 0;
}

/* Everything a step at ts_ does after the network (what_: a stop found by
   nmx_prep_, st_: the library's status).  Returns -1 if the cell stopped,
   1 if it spiked, 0 otherwise. */
static int nmx_finish_(double* _p, Datum* _ppvar, Point_process* pnt_, double ts_, int what_, double bad_,
                       int st_, double vold_) {
    if (st_ != 0) {
        char name_[80];
        nmx_name_(pnt_, name_, sizeof name_);
        fprintf(stderr, "%s: stopped at t = %g ms (p + drive = %g): %s\n", name_, ts_, peff, nm_last_error());
        what_ = NMX_STEP;
        bad_ = peff;
    }
    if (what_ != 0) {
        /* stop: keep the state, queue no further step */
        err = st_ != 0 ? st_ : 1;
        errwhat = what_;
        errval = bad_;
        errt = what_ == NMX_WI ? everrt : ts_;
        pending = 0;
        if (st_ == 0) {
            char msg_[600], name_[80];
            nmx_name_(pnt_, name_, sizeof name_);
            nmx_text_(msg_, sizeof msg_, name_, what_, 1, bad_, ts_);
            fprintf(stderr, "%s\n", msg_);
        }
        return -1;
    }
    nstep = nstep + 1;
    nmx_rec_append_(NMX_RECT_, NMX_RECV_, ts_, V);
    if (armed != 0.0) {
        if (vold_ < thresh && V >= thresh) {
            armed = 0;
            return 1;
        }
    } else if (V < thresh - hysteresis) {
        armed = 1;
    }
    return 0;
}

/* The one-cell step (unbatched, or a batch of one). */
static int nmx_step1_(double* _p, Datum* _ppvar, Point_process* pnt_, double ts_) {
    double pe_ = 0.0, ue_ = 0.0, bad_ = 0.0, vold_ = V;
    int st_ = 0, what_ = nmx_prep_(_p, _ppvar, pnt_, ts_, &pe_, &ue_, &bad_);
    if (what_ == 0) {
        if (hasinput) {
            int c_ = 0;
            st_ = nm_plugin_step_u((int)handle, pe_, ue_, x, &V, &uin, &c_);
            if (st_ == 0) nclamped += c_;
        } else {
            st_ = nm_plugin_step((int)handle, pe_, x, &V);
        }
    }
    return nmx_finish_(_p, _ppvar, pnt_, ts_, what_, bad_, st_, vold_);
}

/* Is cell b due for a step at ts_ (within the tolerance), to be stepped by
   a batch of model hd_ on thread nt_? */
static int nmx_due_(Point_process* b_, NrnThread* nt_, int hd_, double ts_) {
    double* _p;
    double tn_, tol_;
    if (!b_ || b_->_vnt != (void*)nt_ || !b_->_prop) return 0;
    _p = b_->_prop->param;
    if ((int)handle != hd_ || !(pending != 0.0) || err != 0.0 || bdone != 0.0) return 0;
    tol_ = NMX_TOL_ * dt_map;
    tn_ = tstart + (nstep + 1) * dt_map;
    return fabs(tsched - tn_) <= tol_ && fabs(tn_ - ts_) <= tol_;
}

/* The step of cell a at ts_ with every other cell of its model on its
   thread that is due then.  Returns a's result (as nmx_finish_); the
   others get bdone = 1, their spike in bspike. */
static int nmx_step_batch_(Point_process* a_, NrnThread* nt_, double ts_) {
    double* _p = a_->_prop->param;
    Datum* _ppvar = a_->_prop->dparam;
    int hd_ = (int)handle, tid_ = nt_->_id, n_ = 0, m_ = 0, k_, r_a_ = 0, D_ = (int)dim;
    nmx_group_* g_ = nmx_group_get_(tid_, hd_);
    nmx_slot_* sl_ = (nmx_slot_*)0;
    double tol_ = NMX_TOL_ * dt_map;
    if (!g_) return nmx_step1_(_p, _ppvar, a_, ts_);
    /* drop slots before ts_ (their cells stepped alone or left) */
    while (g_->nslot > 0 && nmx_slot_at_(g_, 0)->ts < ts_ - tol_) {
        g_->head = (g_->head + 1) % g_->capslot;
        g_->nslot--;
    }
    if (g_->nslot > 0 && fabs(nmx_slot_at_(g_, 0)->ts - ts_) <= tol_) sl_ = nmx_slot_at_(g_, 0);
    if (!sl_ || sl_->n <= 1 || nmx_batch_grow_(g_, sl_->n + 1)) {
        return nmx_step1_(_p, _ppvar, a_, ts_);
    }
    /* a first, then the others due, in the order they queued */
    g_->bc[n_] = a_;
    g_->bts[n_++] = ts_;
    for (k_ = 0; k_ < sl_->n; k_++) {
        Point_process* b_ = sl_->c[k_];
        if (b_ == a_ || !nmx_due_(b_, nt_, hd_, ts_)) continue;
        _p = b_->_prop->param;
        bdone = 1;   /* marks it taken (a duplicate entry is skipped) */
        g_->nby += 1;
        g_->bc[n_] = b_;
        g_->bts[n_++] = tstart + (nstep + 1) * dt_map;
    }
    /* the slot is used up: pop it */
    g_->head = (g_->head + 1) % g_->capslot;
    g_->nslot--;
    if (n_ == 1) {
        _p = a_->_prop->param;
        return nmx_step1_(_p, _ppvar, a_, ts_);
    }
    /* before the network: each cell's inputs (cells stopped here are out) */
    for (k_ = 0; k_ < n_; k_++) {
        Point_process* b_ = g_->bc[k_];
        double pe_ = 0.0, ue_ = 0.0, bad_ = 0.0;
        int what_;
        _p = b_->_prop->param;
        _ppvar = b_->_prop->dparam;
        g_->bvold[k_] = V;
        what_ = nmx_prep_(_p, _ppvar, b_, g_->bts[k_], &pe_, &ue_, &bad_);
        if (what_ != 0) {
            g_->bst[k_] = -1;
            int r_ = nmx_finish_(_p, _ppvar, b_, g_->bts[k_], what_, bad_, 0, V);
            if (k_ == 0) r_a_ = r_;
            else bspike = 0;
            continue;
        }
        g_->bst[k_] = 0;
        g_->bp[m_] = pe_;
        g_->bu[m_] = ue_;
        memcpy(g_->bx + (size_t)m_ * (size_t)D_, x, (size_t)D_ * sizeof(double));
        m_++;
    }
    /* the network: one batch */
    if (m_ > 0) {
        int* bst2_ = g_->bst + g_->bcap;  /* the library's status of each stepped cell */
        int j_ = 0;
        for (j_ = 0; j_ < m_; j_++) bst2_[j_] = 1;
        j_ = 0;
        nm_plugin_step_batch(hd_, &g_->ws, (size_t)m_, g_->bp, g_->bu, g_->bx, g_->bvv, g_->buu, g_->bcl, bst2_);
        for (k_ = 0; k_ < n_; k_++) {
            Point_process* b_ = g_->bc[k_];
            int r_, st1_;
            if (g_->bst[k_] != 0) continue;
            _p = b_->_prop->param;
            _ppvar = b_->_prop->dparam;
            st1_ = bst2_[j_];
            if (st1_ == 0) {
                memcpy(x, g_->bx + (size_t)j_ * (size_t)D_, (size_t)D_ * sizeof(double));
                V = g_->bvv[j_];
                if (hasinput) {
                    uin = g_->buu[j_];
                    nclamped += g_->bcl[j_];
                }
            } else {
                /* the cell's own step, alone: for its message (x is unchanged
                   and the step fails the same way, bit for bit), or the
                   whole batch failed (no memory) */
                if (hasinput) {
                    int c_ = 0;
                    st1_ = nm_plugin_step_u(hd_, g_->bp[j_], g_->bu[j_], x, &V, &uin, &c_);
                    if (st1_ == 0) nclamped += c_;
                } else {
                    st1_ = nm_plugin_step(hd_, g_->bp[j_], x, &V);
                }
            }
            r_ = nmx_finish_(_p, _ppvar, b_, g_->bts[k_], 0, 0.0, st1_, g_->bvold[k_]);
            if (k_ == 0) {
                r_a_ = r_;
            } else {
                bspike = r_ == 1;
                tbd = g_->bts[k_];
            }
            j_++;
        }
    }
    return r_a_;
}
ENDVERBATIM

INITIAL {
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
            hoc_execerror("NeuroMapCell: no model loaded", "call load(\"model.nmap\") before finitialize");
        }
        /* dim and dt_map are the model's: read again, whatever was assigned */
        if (nm_plugin_info((int)handle, &d_, &dt_map, &thr_) != 0 ||
            nm_plugin_init((int)handle, x, &V) != 0) {
            snprintf(msg_, sizeof msg_, "NeuroMapCell: %s", nm_last_error());
            hoc_execerror(msg_, (char*)0);
        }
        dim = d_;
        what_ = nmx_params_(tau_drive, hysteresis, thresh, &bad_);
        if (what_ == 0) {
            what_ = nmx_inparams_(tau_syn, ibias, &bad_);
        }
        {
            /* the input channel; nA -> model units (the area is needed for
               uA/cm2 and mA/cm2) */
            int has_ = 0;
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
            nmx_text_(msg_, sizeof msg_, "NeuroMapCell", what_, 1, bad_, t);
            hoc_execerror(msg_, (char*)0);
        }
    }
ENDVERBATIM
    drive = 0
    tdrive = t
    peff = p
    nstep = 0
    tstart = t
    armed = (V < thresh - hysteresis)
    iin = 0
    uin = 0
    nclamped = 0
    nignored = 0
    everr = 0
    everrval = 0
    everrt = t
    wlate = 0
    wilate = 0
    tlate = t
    haslate = 0
    bdone = 0
    bspike = 0
    tbd = t
    pending = 1
VERBATIM
    nm_plugin_syn_init(ssyn, t);
    nmx_rec_clear_(NMX_RECT_, NMX_RECV_);
    nmx_rec_append_(NMX_RECT_, NMX_RECV_, t, V);
ENDVERBATIM
    tsched = t + dt_map
    net_send(dt_map, 1)
VERBATIM
    if (batch != 0.0) {
        nmx_enqueue_((Point_process*)_ppvar[1]._pvoid, _nt->_id, (int)handle, tsched, dt_map);
    }
ENDVERBATIM
}

NET_RECEIVE (w, wi (nA)) {
    LOCAL tstep, r, wl, tl, tn, tol
    INITIAL {
        : keep wi: without this block NEURON sets the NetCon weights after
        : the first to 0 at finitialize
    }
    if (flag == 1) {
        if (bdone) {
            : the batch of another cell did this step (at tbd, this time):
            : what is left is the spike and the next self-event, sent here as
            : unbatched stepping sends them, so the event queue is the same
            bdone = 0
            if (bspike) {
                bspike = 0
                if (tbd >= t) {
                    net_event(tbd)
                } else {
                    net_event(t)
                }
            }
            if (pending) {
                tsched = tstart + (nstep + 1)*dt_map
                net_send(tstart + (nstep + 1)*dt_map - t, 1)
VERBATIM
                if (batch != 0.0) {
                    nmx_enqueue_(_pnt, _nt->_id, (int)handle, tsched, dt_map);
                }
ENDVERBATIM
            }
        } else {
        tstep = tstart + (nstep + 1)*dt_map
        if (t < tstep - 1e-6*dt_map) {
            : a self-event queued before a load() during the run: the new
            : model's first step is later, wait for it
            tsched = tstep
            net_send(tstep - t, 1)
VERBATIM
            if (batch != 0.0) {
                nmx_enqueue_(_pnt, _nt->_id, (int)handle, tsched, dt_map);
            }
ENDVERBATIM
        } else {
            if (t > tstep + 1e-6*dt_map) {
                : queued before a load() for a time after the new model's
                : first step (a shorter dt_map): step now, then every dt_map
                tstart = t - (nstep + 1)*dt_map
                tstep = t
            }
            : a map step (nmx_prep_, the network, nmx_finish_): check the
            : values it uses, bring the drive and the synapse up to date, step,
            : decode, look for a spike; with batch, every cell of the model on
            : this thread due now too.  Its time comes from the step count,
            : not from t: t at delivery may differ in the last bits between
            : integrators.
VERBATIM
            if (batch != 0.0 && _nt && _nt->_id >= 0 && _nt->_id < NMX_MAXTHREAD_) {
                _lr = (double)nmx_step_batch_(_pnt, _nt, _ltstep);
            } else {
                _lr = (double)nmx_step1_(_p, _ppvar, _pnt, _ltstep);
            }
ENDVERBATIM
            if (r >= 0) {
                if (r == 1) {
                    : t is tstep exactly for an ARTIFICIAL_CELL (the delay
                    : sent is exact, Sterbenz), but NEURON refuses an event
                    : before t, so never risk it
                    if (tstep >= t) {
                        net_event(tstep)
                    } else {
                        net_event(t)
                    }
                }
                : the next step at tstart + (nstep + 1)*dt_map: no drift from
                : adding dt_map to t over and over
                tsched = tstart + (nstep + 1)*dt_map
                net_send(tstart + (nstep + 1)*dt_map - t, 1)
VERBATIM
                if (batch != 0.0) {
                    nmx_enqueue_(_pnt, _nt->_id, (int)handle, tsched, dt_map);
                }
ENDVERBATIM
            }
        }
        }
    } else {
        : an input.  One rule for an input at a step time (within 1e-6
        : dt_map of the last step or of the next one): it counts AFTER that
        : step, whether it is delivered before or after the step's
        : self-event (and so whether or not a batch stepped the cell
        : already): it waits in wlate/wilate and joins drive and synapse at
        : that time when the next input or step comes.
        tol = 1e-6*dt_map
        tl = tstart + nstep*dt_map
        tn = tstart + (nstep + 1)*dt_map
        wl = wi
        : (no fabs: modlunit wants its argument dimensionless)
        if (pending && ((t - tn <= tol && tn - t <= tol) || (t - tl <= tol && tl - t <= tol))) {
            if (t - tn <= tol && tn - t <= tol) {
                tl = tn
            }
VERBATIM
            if (haslate != 0.0 && fabs(tlate - _ltl) > _ltol) {
                nmx_fold_(_p, _ppvar);
            }
            if (_lwl != 0.0 && everr == 0.0 && !(tau_syn > 0.0 && isfinite(_lwl))) {
                everr = (tau_syn > 0.0) ? NMX_WI : NMX_TAUSYN;
                everrval = (tau_syn > 0.0) ? _lwl : tau_syn;
                everrt = t;
            }
ENDVERBATIM
            wlate = wlate + w
            if (everr == 0) {
                wilate = wilate + wl
            }
            tlate = tl
            haslate = 1
        } else {
VERBATIM
        nmx_fold_(_p, _ppvar);
ENDVERBATIM
        : an invalid tau_drive (<= 0, NaN) stops the cell at its next step;
        : until then the input only adds up
        if (tau_drive > 0) {
            drive = drive*exp(-(t - tdrive)/tau_drive) + w
        } else {
            drive = drive + w
        }
        tdrive = t
        : wi (nA) into the current synapse; a bad wi or tau_syn stops the
        : cell at its next step
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
        /* p follows the model's default until it is set (see the comment
           at the top): NaN (a new cell) or the previous model's default */
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
    : the new model from its start state at the current t (a queued
    : self-event is moved, see NET_RECEIVE); a cell that is not stepping
    : keeps its err until finitialize
VERBATIM
    /* hoc's t; a cell not yet initialized has no thread (_nt is NULL) */
    tdrive = _nt ? _nt->_t : nrn_threads[0]._t;
    tstart = tdrive;
ENDVERBATIM
VERBATIM
    /* inputs waiting at a step time: the drive restarts at 0, the synapse
       goes on with them */
    if (haslate != 0.0) {
        wlate = 0;
        nmx_fold_(_p, _ppvar);
    }
ENDVERBATIM
    drive = 0
    peff = p
    nstep = 0
    bdone = 0
    bspike = 0
    armed = (V < thresh - hysteresis)
    if (pending) {
        err = 0
        errwhat = 0
        errval = 0
VERBATIM
        nmx_rec_append_(NMX_RECT_, NMX_RECV_, tstart, V);
        /* the synapse goes on; the new model's first step counts the
           charge from t_load */
        if (tau_syn > 0.0) {
            double m_;
            nm_plugin_syn_mean(ssyn, tau_syn, tstart, 1.0, 0.0, &m_);
        }
ENDVERBATIM
    }
}

: inunit(strdef): the unit of the model's input ("" without an input channel)
PROCEDURE inunit() {
VERBATIM
    {
        char s_[32];
        s_[0] = '\0';
        if (!ifarg(1) || !hoc_is_str_arg(1)) {
            hoc_execerror("NeuroMapCell.inunit", "needs a strdef (Python: h.ref(\"\"))");
        }
        if (handle > 0) {
            nm_plugin_input_info((int)handle, (int*)0, (double*)0, (double*)0, s_, sizeof s_);
        }
        hoc_assign_str(hoc_pgargstr(1), s_);
    }
ENDVERBATIM
}

: pname(strdef), punit(strdef): the name and unit of the model's p
: ("p" and "" for files written before they were stored; "" without a model).
PROCEDURE pname() {
VERBATIM
    {
        char s_[64];
        s_[0] = '\0';
        if (!ifarg(1) || !hoc_is_str_arg(1)) {
            hoc_execerror("NeuroMapCell.pname", "needs a strdef (Python: h.ref(\"\"))");
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
            hoc_execerror("NeuroMapCell.punit", "needs a strdef (Python: h.ref(\"\"))");
        }
        if (handle > 0) {
            nm_plugin_p_label((int)handle, (char*)0, 0, s_, sizeof s_);
        }
        hoc_assign_str(hoc_pgargstr(1), s_);
    }
ENDVERBATIM
}

: recordV(tvec, vvec): record (t, V) at every map step (see the top);
: recordV() stops.  Called during a run, it empties the Vectors and
: starts them with the current (t, V).
PROCEDURE recordV() {
VERBATIM
    {
        Object* ot_ = (Object*)0;
        Object* ov_ = (Object*)0;
        if (ifarg(1)) {
            if (!ifarg(2) || !is_vector_arg(1) || !is_vector_arg(2)) {
                hoc_execerror("NeuroMapCell.recordV", "needs two Vectors (times, V), or none to stop");
            }
            ot_ = *hoc_objgetarg(1);
            ov_ = *hoc_objgetarg(2);
            if (ot_ == ov_) {
                hoc_execerror("NeuroMapCell.recordV", "needs two different Vectors (times, V)");
            }
            hoc_obj_ref(ot_);
            hoc_obj_ref(ov_);
        }
        hoc_obj_unref(NMX_RECT_);
        hoc_obj_unref(NMX_RECV_);
        NMX_RECT_ = ot_;
        NMX_RECV_ = ov_;
        if (pending) {
            double tnow_ = _nt ? _nt->_t : nrn_threads[0]._t;
            nmx_rec_clear_(ot_, ov_);
            nmx_rec_append_(ot_, ov_, tnow_, V);
        }
    }
ENDVERBATIM
}

: errmsg(strdef): the message of what stopped the cell ("" while err = 0).
: Python: s = h.ref(""); cell.errmsg(s); s[0]
PROCEDURE errmsg() {
VERBATIM
    {
        char msg_[600];
        msg_[0] = '\0';
        if (!ifarg(1) || !hoc_is_str_arg(1)) {
            hoc_execerror("NeuroMapCell.errmsg", "needs a strdef (Python: h.ref(\"\"))");
        }
        if (err != 0) {
            nmx_text_(msg_, sizeof msg_, "NeuroMapCell", (int)errwhat, (int)err, errval, errt);
        }
        hoc_assign_str(hoc_pgargstr(1), msg_);
    }
ENDVERBATIM
}

: Number of different model files loaded in the process (all cells).
FUNCTION nloaded() {
VERBATIM
    _lnloaded = (double)nm_plugin_count();
ENDVERBATIM
}

: Cells stepped so far by another cell's batch, all threads and models
: (statistics for tests and benchmarks; read it between runs).
FUNCTION nbatched() {
VERBATIM
    {
        int i_;
        nmx_group_* g_;
        double s_ = 0.0;
        for (i_ = 0; i_ < NMX_MAXTHREAD_; i_++) {
            for (g_ = nmx_groups_[i_]; g_; g_ = g_->next) s_ += g_->nby;
        }
        _lnbatched = s_;
    }
ENDVERBATIM
}

: References to this cell's model (cells sharing it); 0 without a model.
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
    NMX_RECT_ = (Object*)0;
    NMX_RECV_ = (Object*)0;
ENDVERBATIM
}

DESTRUCTOR {
VERBATIM
    nmx_forget_((Point_process*)_ppvar[1]._pvoid);
    hoc_obj_unref(NMX_RECT_);
    hoc_obj_unref(NMX_RECV_);
    NMX_RECT_ = (Object*)0;
    NMX_RECV_ = (Object*)0;
    if (handle > 0) {
        nm_plugin_release((int)handle);
        handle = 0;
    }
ENDVERBATIM
}
