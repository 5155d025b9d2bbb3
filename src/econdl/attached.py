"""Typed access to what Lightning attaches to a ``Trainer`` at run time.

Lightning's connectors set ``trainer.datamodule`` and ``trainer.callbacks`` as plain
attributes inside ``Trainer.__init__``'s helpers, so its ``Trainer`` class declares no
type for them and a type checker sees no such attributes.  These two functions are the
one place that says what they hold; the rest of econdl calls them instead.
"""

from __future__ import annotations

import lightning as L


def datamodule_of(trainer: L.Trainer | None) -> L.LightningDataModule | None:
    """The DataModule the trainer runs on, or ``None`` (no trainer, or plain dataloaders)."""
    if trainer is None:
        return None
    # set by Lightning's _DataConnector, not declared on Trainer
    return trainer.datamodule  # type: ignore[attr-defined]


def callbacks_of(trainer: L.Trainer) -> list[L.Callback]:
    """The trainer's callbacks, in the order Lightning calls them."""
    # set by Lightning's _CallbackConnector, not declared on Trainer
    return trainer.callbacks  # type: ignore[attr-defined]
