"""econdl: neural networks next to the classical methods economists trust.

A task is a LightningDataModule (``econdl.data``) plus models (``econdl.tasks``):
neural networks and closed-form baselines alike are LightningModules on the same
data, so one CLI fits any of them and ``econdl compare`` tabulates them together.

In Python (see ``econdl.api``): ``econdl.fit(config, **overrides)`` and
``econdl.compare(paths, overrides=..., seeds=...)``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["compare", "fit", "__version__"]


def __getattr__(name: str) -> Any:
    # Loaded on first use, so `import econdl` (and `econdl --help`) does not import torch.
    if name == "fit":
        from econdl.api import fit

        return fit
    if name == "compare":
        import importlib

        return importlib.import_module("econdl.compare")  # callable: econdl.api.compare
    raise AttributeError(f"module 'econdl' has no attribute {name!r}")
