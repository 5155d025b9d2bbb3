"""Rolling-origin (expanding-window) evaluation of a forecasting model.

For each test period t the model is re-fitted on every sample dated before t
(training, validation and earlier test periods), then forecasts t.  Closed-form
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


def expanding_window_forecasts(dm: Any, trainer: L.Trainer, model: L.LightningModule, refit_epochs: int) -> Tensor:
    """Test-period forecasts, in the data's units, each from a model refitted up to the period before."""
    if refit_epochs < 0:
        raise ValueError(f"refit_epochs={refit_epochs} must be zero or positive")
    saved = dict(dm.splits)
    x_all = torch.cat([saved[s][0] for s in ("train", "val", "test")])
    y_all = torch.cat([saved[s][1] for s in ("train", "val", "test")])
    start = len(saved["train"][0]) + len(saved["val"][0])
    epochs = 1 if getattr(model, "exact_pass", False) else refit_epochs
    accelerator = "gpu" if model.device.type == "cuda" else "cpu"
    forecasts = []
    try:
        for i in range(len(saved["test"][0])):
            dm.splits = {**saved, "train": (x_all[: start + i], y_all[: start + i])}
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
                refit.fit(model, datamodule=dm)
            model.eval()
            with torch.no_grad():
                x = saved["test"][0][i : i + 1].to(model.device)
                forecasts.append(model.predict_step((x,), 0).detach().cpu().reshape(1, -1))
    finally:
        dm.splits = saved
        dm.trainer = trainer
        model.trainer = trainer
    return torch.cat(forecasts)
