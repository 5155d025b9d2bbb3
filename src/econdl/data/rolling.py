"""Rolling-origin (expanding-window) evaluation of a forecasting model.

For each forecast origin o whose forecasts reach the test period the model is
re-fitted on every sample whose targets (all H of them) were observed by o
(training, validation and earlier test periods), then forecasts o+1..o+H.  Closed-form
models (``exact_pass``) refit exactly in one pass; gradient-trained models are
warm-started from their previous fit and trained ``refit_epochs`` more epochs
(no validation, hence no early stopping, inside the loop).  The standardisation
stays the one fitted on the training split (an affine rescaling leaves OLS fits
unchanged; for the MLP it only changes its input scale slightly).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor

from econdl.errors import ConfigError
from econdl.fastpath import fast

#: marks a trainer that goes on training a fitted network a few epochs on purpose (the refits
#: below): its fits draw no few-steps note (``econdl.tasks.sizing.few_steps_note``)
WARM_START = "_econdl_warm_start"


def _predict(model: L.LightningModule, x: Tensor) -> Tensor:
    model.eval()
    with torch.no_grad():
        return model.predict_step((x.to(model.device),), 0).detach().cpu().reshape(len(x), -1)


def expanding_window_forecasts(dm: Any, trainer: L.Trainer, model: L.LightningModule, refit_epochs: int) -> Tensor:
    """Forecasts on the DataModule's ``eval`` origins, in the data's units: every origin whose
    forecasts reach the test period (and the latest) from a model refitted on all samples
    whose H targets were observed by then; earlier origins from the model as fitted."""
    if refit_epochs < 0:
        raise ConfigError(f"refit_epochs={refit_epochs} must be zero or positive")
    saved = dict(dm.splits)
    x_all, y_all = saved["all"]
    x_eval = saved["eval"][0]
    horizon, first = dm.horizon, dm.layout["eval_from"]
    forecasts = _predict(model, x_eval)  # origins that only feed the validation period keep these
    epochs = 1 if getattr(model, "exact_pass", False) else refit_epochs
    accelerator = "gpu" if model.device.type == "cuda" else "cpu"
    try:
        for row in range(max(dm.layout["test_at"] - horizon + 1 - first, 0), len(x_eval)):
            known = first + row - horizon + 1  # samples whose every target precedes this origin's forecasts
            dm.splits = {**saved, "train": (x_all[:known], y_all[:known])}
            if epochs > 0:
                model.train()
                refit = L.Trainer(
                    accelerator=accelerator,
                    devices=1,
                    max_epochs=epochs,
                    logger=False,
                    enable_checkpointing=False,
                    enable_progress_bar=False,
                    enable_model_summary=False,
                    limit_val_batches=0,
                    num_sanity_val_steps=0,
                )
                setattr(refit, WARM_START, True)  # a few epochs on purpose: no few-steps note
                with fast(refit):  # as for the fit itself (econdl.fastpath)
                    refit.fit(model, datamodule=dm)
            forecasts[row] = _predict(model, x_eval[row : row + 1])[0]
    finally:
        dm.splits = saved
        dm.trainer = trainer
        model.trainer = trainer
    return forecasts
