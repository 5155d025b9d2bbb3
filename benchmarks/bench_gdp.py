"""GDP growth MLP (configs/gdp/mlp.yaml): econdl fit against the plain PyTorch loop.

Both sides: the GDPDataModule's standardised 4-lag matrix of US real GDP growth
(statsmodels macrodata, the same train/validation split), built before the clock;
batches of 32 sliced from one ``randperm`` per epoch; GDPNet 4 -> 16 -> 8 -> 1 with ReLU,
seed 42, identical initial weights (econdl's first layer is given in_features=4 instead of
being sized lazily); Adam lr 1e-3 (torch defaults otherwise), no schedule; validation after every
epoch (batches of 128); float32; the same number of torch threads; E epochs on both
sides (econdl: min_epochs = max_epochs = E, so its early stopping cannot end the run).
The raw loop keeps the best weights in memory; econdl (as users run it) writes the best
checkpoint, logs to CSV and TensorBoard, and keeps last.ckpt.  With 4 batches per epoch
the per-epoch work (validation, logging, checkpoints) weighs as much as training here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from benchmarks.pair import (
    REPO_CONFIGS,
    SEED,
    Pair,
    RawJob,
    close_losses,
    datamodule_from,
    econdl_cli,
    econdl_fit,
    econdl_settings,
    load_config,
)

CONFIG = str(REPO_CONFIGS / "gdp" / "mlp.yaml")


def raw_job(epochs: int) -> RawJob:
    cfg = load_config(CONFIG)
    dm = datamodule_from(cfg)
    torch.manual_seed(SEED)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 1))

    def recipe(net: nn.Module, steps: int) -> tuple[Any, None, str, None]:
        return torch.optim.Adam(net.parameters(), lr=cfg["optimizer"]["init_args"]["lr"]), None, "epoch", None

    def mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(pred.reshape(y.shape), y)

    return RawJob(
        dm.split("train")[:2], dm.split("val")[:2], net, mse, recipe, cfg["data"]["init_args"]["batch_size"], epochs
    )


def econdl_side(epochs: int) -> Any:
    # in_features given (4 lags), so the first layer is initialised in line with the raw loop's
    return econdl_cli(
        CONFIG,
        [
            f"--trainer.max_epochs={epochs}",
            f"--trainer.min_epochs={epochs}",
            "--model.init_args.net.init_args.in_features=4",
        ],
    )


def settings(epochs: int = 2) -> dict[str, dict[str, Any]]:
    """Both sides' settings, read from their objects (nothing is timed)."""
    return {"raw": raw_job(epochs).settings(), "econdl": econdl_settings(econdl_side(epochs))}


def run_raw(epochs: int) -> dict[str, Any]:
    return raw_job(epochs).fit()


def run_econdl(epochs: int) -> dict[str, Any]:
    return econdl_fit(econdl_side(epochs))


def pairs(quick: bool) -> list[Pair]:
    epochs = 5 if quick else 200
    return [
        Pair(
            "GDP MLP",
            f"same steps: {epochs} epochs, batches of 32",
            2.0,
            (run_raw, (epochs,)),
            (run_econdl, (epochs,)),
            same_result=close_losses,
        )
    ]
