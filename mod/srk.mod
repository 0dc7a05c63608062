TITLE srk.mod  Sherman-Rinzel-Keizer-type pancreatic beta-cell burster (mechanistic reference)

COMMENT
Minimal model of a bursting pancreatic beta cell: a fast Ca2+ current with
instantaneous activation minf(V), a delayed-rectifier K+ current with gating
variable n, and a slow K+ current with gating variable S that slowly follows V
and switches the fast subsystem between the silent and the spiking branch.

    tau  dV/dt = -gCa*minf(V)*(V - VCa) - gK*n*(V - VK) - gS*S*(V - VK)
    tau  dn/dt = sigma*(ninf(V) - n)
    tauS dS/dt = Sinf(V) - S
    winf(V)    = 1/(1 + exp((Vw - V)/thetaw)),  w in {m, n, S}

Type of model: A. Sherman, J. Rinzel and J. Keizer, "Emergence of organized
bursting in clusters of pancreatic beta-cells by channel sharing", Biophys. J.
54 (1988) 411-425; the reduced three-variable form as used by Kuptsov &
Stankevich, Chaos, Solitons & Fractals 191 (2025) 115818.  The parameter values
are the project's documented parameterisation (shared design.md, section 2):
gCa = 3.6, gK = 10, gS = 4 (dimensionless, in units of the
conductance scale below), VCa = 25 mV, VK = -75 mV, Vm = -20 mV, thetam = 12 mV,
Vn = -16 mV, thetan = 5.6 mV, thetaS = 10 mV, tau = 20 ms, sigma = 0.93,
tauS = 5 s (35 s is the classic slower variant).  The control parameter is
VS (mV); interesting range [-46, -30] (silent .. bursts of 2..5 .. tonic).
VS is spelled Vs here (Vs_srk in hoc) because VS is a reserved NMODL keyword
(the PLOT x VS t statement).

Units mapping (how a NEURON section reproduces tau exactly)
-----------------------------------------------------------
NEURON integrates, per unit membrane area,
    cm dv/dt = -1000 * sum(i)        cm in uF/cm2, v in mV, t in ms, i in mA/cm2
(1 uF/cm2 * 1 mV/ms = 1 uA/cm2 = 1e-3 mA/cm2).  Here every dimensionless
conductance g of the model is turned into a real one by the conductance scale
    gunit = cmref/tau       (uF/cm2 / ms = mS/cm2; default 1/20 = 0.05 mS/cm2)
and the currents are  i = 1e-3 * gunit * g * (v - E)  in mA/cm2.  Then
    cm dv/dt = -(cmref/tau) * [gCa*minf*(v-VCa) + gK*n*(v-VK) + gS*S*(v-VK)]
so with cm == cmref (both 1 uF/cm2 by default: do not change one without the
other) a section with only this mechanism (no pas, no other current) obeys
    tau dv/dt = -I_Ca - I_K - I_S
exactly, with tau = 20 ms.  The mechanism cannot read the section's cm, hence
the explicit cmref.  For a 1000 um2 cell (cm = 1 uF/cm2: 10 pF) gK = 10 is
5 nS; a point-process current of 1 pA then moves V by 0.1 mV/ms.

Numerics: n and S are linear in themselves at fixed v, so cnexp integrates
them exactly over a step.  The model is stiff only through S (tauS/tau = 250);
NEURON's implicit fixed step and CVode both handle it.

Initial state: n = n0 (default 0), S = S0 (default 0.4); v comes from
finitialize(v_init), conventionally -50 mV, matching the reference runs.
ENDCOMMENT

NEURON {
    THREADSAFE
    SUFFIX srk
    NONSPECIFIC_CURRENT iCa, iK, iS
    RANGE gCa, gK, gS, VCa, VK, Vm, thetam, Vn, thetan, Vs, thetaS
    RANGE tau, sigma, tauS, cmref, n0, S0
    RANGE gunit
}

UNITS {
    (mV) = (millivolt)
    (mA) = (milliamp)
    (mS) = (millisiemens)
    (uF) = (microfarad)
}

PARAMETER {
    gCa    = 3.6   (1)          <0, 1e9>   : Ca2+ conductance, in units of gunit
    gK     = 10    (1)          <0, 1e9>   : delayed-rectifier K+ conductance
    gS     = 4     (1)          <0, 1e9>   : slow K+ conductance
    VCa    = 25    (mV)                    : Ca2+ reversal potential
    VK     = -75   (mV)                    : K+ reversal potential
    Vm     = -20   (mV)                    : half-activation of minf
    thetam = 12    (mV)         <1e-9, 1e9>
    Vn     = -16   (mV)                    : half-activation of ninf
    thetan = 5.6   (mV)         <1e-9, 1e9>
    Vs     = -38   (mV)                    : half-activation of Sinf (VS): the control parameter
    thetaS = 10    (mV)         <1e-9, 1e9>
    tau    = 20    (ms)         <1e-9, 1e9>: membrane time constant (= cmref/gunit)
    sigma  = 0.93  (1)          <0, 1e9>   : n kinetics relative to tau (tau_n = tau/sigma)
    tauS   = 5000  (ms)         <1e-9, 1e9>: slow variable time constant
    cmref  = 1     (uF/cm2)     <1e-9, 1e9>: must equal the section's cm (see COMMENT)
    n0     = 0     (1)                     : initial n
    S0     = 0.4   (1)                     : initial S
}

ASSIGNED {
    v     (mV)
    iCa   (mA/cm2)
    iK    (mA/cm2)
    iS    (mA/cm2)
    gunit (mS/cm2)
}

STATE {
    n  (1)
    S  (1)
}

INITIAL {
    n = n0
    S = S0
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    gunit = cmref/tau
    : 1e-3 turns mS/cm2 * mV = uA/cm2 into mA/cm2
    iCa = (1e-3)*gunit*gCa*boltz(v, Vm, thetam)*(v - VCa)
    iK  = (1e-3)*gunit*gK*n*(v - VK)
    iS  = (1e-3)*gunit*gS*S*(v - VK)
}

DERIVATIVE states {
    n' = sigma*(boltz(v, Vn, thetan) - n)/tau
    S' = (boltz(v, Vs, thetaS) - S)/tauS
}

: Steady-state activation 1/(1 + exp((vhalf - v)/theta)).  For very negative
: arguments exp() overflows to inf and the result is a correct 0; no 0/0 can
: occur, so no guard is needed.
FUNCTION boltz(v (mV), vhalf (mV), theta (mV)) (1) {
    boltz = 1/(1 + exp((vhalf - v)/theta))
}
