"""Which constructor arguments a model's checkpoint keeps, so it rebuilds the model alone."""

from __future__ import annotations

# Private to Lightning, but the one place that says whether LightningCLI is building the
# model: it then hands over the config itself (class paths and init args) as the
# hyper-parameters, instead of the objects built from it.
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters


def unsaved_module_args(*names: str) -> list[str]:
    """The arguments among ``names`` (``nn.Module`` arguments, e.g. ``net``) to leave out of
    ``save_hyperparameters``.

    Built from a config, a network argument is its ``class_path`` and ``init_args``: kept,
    so ``Model.load_from_checkpoint(path)`` rebuilds the network without the YAML.  Built
    in Python, it is an object, which the checkpoint's ``state_dict`` already holds: left
    out (pass ``net=`` to ``load_from_checkpoint``), rather than pickled a second time.
    """
    given = _given_hyperparameters.get()
    return [name for name in names if not (isinstance(given, dict) and isinstance(given.get(name), dict))]
