"""neuromap: learned neuron dynamics (delay embedding -> VAE -> neural-network
map), from Python.

Submodules (each standalone; import the one you need):

* ``neuromap.modelfile`` -- read a model file with numpy (``read_model``);
* ``neuromap.plots``     -- bifurcation diagrams from ``neuromap compare``
  (``python3 -m neuromap.plots ISIS.csv -o out.png``).

This file stays light on purpose: importing the package loads neither
matplotlib nor NEURON.
"""

__version__ = "0.1.0"
