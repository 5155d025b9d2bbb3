"""econdl: neural networks next to the classical methods economists trust.

A task is a LightningDataModule (``econdl.data``) plus models (``econdl.tasks``):
neural networks and closed-form baselines alike are LightningModules on the same
data, so one CLI fits any of them and ``econdl compare`` tabulates them together.
"""

__version__ = "0.1.0"
