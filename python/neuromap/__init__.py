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
* ``neuromap.pipeline``  -- the pipeline as library calls: ``simulate``,
  ``train``, ``compare`` and ``distill`` (also importable from ``neuromap`` itself,
  loaded on first use; docs/python.md);
* ``neuromap.record``    -- record any NEURON section under constant IClamp
  amplitudes into ``t_ms,V_mV`` CSV files for ``neuromap train``
  (``record_iclamp``, ``write_series``; ``hh_soma``, the zoo's reference
  cell).

This file stays light on purpose: importing the package loads neither
matplotlib nor NEURON.
"""

__version__ = "0.1.0"

# neuromap.simulate / train / compare / distill (and the classes they return) come
# from neuromap.pipeline, imported on first use (PEP 562) so that
# `import neuromap` stays light.
_PIPELINE = ("simulate", "train", "compare", "distill", "Progress", "CompareResult",
             "ComparePoint", "CompareMetric", "DistillResult", "NeuromapError", "LearnedModel")
__all__ = list(_PIPELINE)


def __getattr__(name):
    if name in _PIPELINE:
        from . import pipeline
        return getattr(pipeline, name)
    raise AttributeError("module 'neuromap' has no attribute %r" % name)


def __dir__():
    return sorted(list(globals()) + list(_PIPELINE))
