"""Write `econdl predict` output as a CSV file in the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import BasePredictionWriter

from econdl.attached import datamodule_of
from econdl.data.frames import default_frame


class CSVPredictionWriter(BasePredictionWriter):
    """After a predict pass, asks the DataModule to turn the predictions into a table
    (``prediction_frame``) and writes it to ``<run dir>/predictions.csv`` (or ``path``).

    Args:
        path: output file; default ``predictions.csv`` in the run's log directory.
        quiet: write without printing where (``econdl compare`` lists its files at the end).
    """

    def __init__(self, path: str | None = None, quiet: bool = False) -> None:
        super().__init__(write_interval="epoch")
        self.path = path
        self.quiet = quiet
        self.written: Path | None = None

    def write_on_epoch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, predictions: Any, batch_indices: Any
    ) -> None:
        log_dir = trainer.log_dir  # every rank asks: under DDP it is a collective broadcast
        if not trainer.is_global_zero or not predictions:
            return
        batches = predictions[0] if isinstance(predictions[0], list) else predictions
        dm = datamodule_of(trainer)
        if dm is not None and hasattr(dm, "prediction_frame"):
            frame = dm.prediction_frame(batches)
        else:
            frame = default_frame(batches)
        path = Path(self.path) if self.path else Path(log_dir or ".") / "predictions.csv"
        _refuse_non_finite(frame, trainer, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
        self.written = path
        rows = f"{len(frame)} row" + ("" if len(frame) == 1 else "s")
        if not self.quiet:
            print(f"\npredictions: {rows} written to {path}")


def _refuse_non_finite(frame: Any, trainer: L.Trainer, path: Path) -> None:
    """Predictions that are NaN or infinite (finite weights whose outputs overflow on these
    inputs) fail the command rather than fill predictions.csv with them."""
    import numpy as np

    from econdl.callbacks.guards import NonFiniteLossError, overflow_causes

    # every floating column but what may be missing or unbounded by design: a forecast's actual
    # (none yet for the periods ahead) and its interval bounds (infinite where the data are few)
    columns = [
        c
        for c in frame.columns
        if frame[c].dtype.kind == "f" and not (str(c) == "actual" or str(c).startswith(("lower", "upper")))
    ]
    if not columns:
        return
    values = frame[columns].to_numpy(dtype=float)
    bad = int((~np.isfinite(values)).any(axis=1).sum())
    if bad:
        weights = f"{trainer.ckpt_path}'s weights" if trainer.ckpt_path else "the weights"
        raise NonFiniteLossError(
            f"{bad} of {len(frame)} predictions are NaN or infinite: the model's outputs on these inputs overflow "
            f"({weights}), so {path} was not written. Likely causes: {overflow_causes(trainer.lightning_module)}"
        )
