"""neuromap: learned neuron dynamics (delay embedding -> VAE -> neural-network
map), from Python.

Submodules (each standalone; import the one you need):

* ``neuromap.modelfile`` -- read a model file with numpy (``read_model``);
* ``neuromap.plots``     -- bifurcation diagrams from ``neuromap compare``
  (``python3 -m neuromap.plots ISIS.csv -o out.png``);
* ``neuromap.runtime``   -- run a learned model offline through libneuromap
  (ctypes: ``LearnedModel``, spike detection, regime classifier);
* ``neuromap.neuron_support`` -- ``load_mechanisms()`` (checked), recording
  and run helpers for NEURON (imports NEURON only when called);
* ``neuromap.cells``     -- ``LearnedCell``, ``LearnedSectionCell`` and
  ``SRKCell`` with one interface (docs/neuron.md);
* ``neuromap.record``    -- record any NEURON section under constant IClamp
  amplitudes into ``t_ms,V_mV`` CSV files for ``neuromap train``
  (``record_iclamp``, ``write_series``; ``hh_soma``, the zoo's reference
  cell).

This file stays light on purpose: importing the package loads neither
matplotlib nor NEURON.
"""

__version__ = "0.1.0"
