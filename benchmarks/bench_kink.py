"""Kink MLP (configs/kink/mlp.yaml): econdl fit against the plain PyTorch loop, same recipe.

Both sides: the KinkDataModule's 10,000 training and 2,000 validation points in memory
(built before the clock); batches of 256 sliced from one ``randperm`` per epoch; KinkNet
1 -> 100 -> 50 -> 1 with BatchNorm and ReLU, seed 42, identical initial weights (econdl's
first layer is given in_features=1 instead of being sized lazily); AdamW lr 0.01, weight decay 1e-4
(torch defaults otherwise; econdl's config asks for torch's fused AdamW kernel, the raw loop
keeps torch's default per-tensor one, as a plain script does); ReduceLROnPlateau(mode min,
factor 0.5, patience 5) stepped once per epoch on the validation loss; validation after every epoch (batches of 1,024);
float32; the same number of torch threads.  The raw loop keeps the best weights in
memory; econdl (as users run it) also writes the best checkpoint, logs to CSV and
TensorBoard, and keeps last.ckpt.

same steps      E epochs on both sides (econdl: min_epochs = max_epochs = E)
time to target  the shipped config (up to 100 epochs, its early stopping) against the raw
                loop given the same recipe; each clock stops when that side's validation
                MSE first reaches TARGET (stopping decided on validation, not the test set)
time to target, the same shipped config against the raw loop given the lecture's recipe
lecture recipe  instead (everything else as above, up to 100 epochs): AdamW lr 1e-3
                (torch's default; the lecture passes its configured rate without showing
                it), weight decay 1e-4, ReduceLROnPlateau(mode min, patience 50, torch's
                factor 0.1) stepped once per epoch on the epoch's mean training loss
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
    both_reached,
    close_losses,
    datamodule_from,
    econdl_cli,
    econdl_fit,
    econdl_settings,
    load_config,
    time_to,
)

CONFIG = str(REPO_CONFIGS / "kink" / "mlp.yaml")
TARGET = 1e-3  # validation MSE: the raw loop reaches it in about 20 of its 100 epochs, then hovers near 8e-4


# The lecture's train_model: AdamW(lr, weight_decay=1e-4), ReduceLROnPlateau("min", patience=50)
# stepped on the epoch's mean training loss.
LECTURE: dict[str, Any] = {"lr": 1e-3, "weight_decay": 1e-4, "mode": "min", "patience": 50, "monitor": "train/loss"}


def raw_job(epochs: int, x_size: int | None = None, fused: bool = False, lecture: bool = False) -> RawJob:
    """The plain loop; ``fused`` gives its AdamW torch's fused kernel (benchmarks/step_overhead.py);
    ``lecture`` gives it the lecture's recipe (``LECTURE``) instead of the config's."""
    cfg = load_config(CONFIG)
    dm = datamodule_from(cfg, **({"x_size": x_size} if x_size else {}))
    opt_args, plateau = cfg["optimizer"]["init_args"], cfg["lr_scheduler"]["init_args"]
    torch.manual_seed(SEED)
    net = nn.Sequential(
        nn.Linear(1, 100),
        nn.BatchNorm1d(100),
        nn.ReLU(),
        nn.Linear(100, 50),
        nn.BatchNorm1d(50),
        nn.ReLU(),
        nn.Linear(50, 1),
    )

    def recipe(net: nn.Module, steps: int) -> tuple[Any, Any, str, str]:
        kernel: dict[str, Any] = {"fused": True} if fused else {}
        if lecture:
            opt = torch.optim.AdamW(net.parameters(), lr=LECTURE["lr"], weight_decay=LECTURE["weight_decay"], **kernel)
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, LECTURE["mode"], patience=LECTURE["patience"])
            return opt, sched, "epoch", LECTURE["monitor"]
        opt = torch.optim.AdamW(net.parameters(), lr=opt_args["lr"], weight_decay=opt_args["weight_decay"], **kernel)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=plateau["mode"], factor=plateau["factor"], patience=plateau["patience"]
        )
        return opt, sched, "epoch", plateau["monitor"]

    def mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(pred.reshape(y.shape), y)

    return RawJob(
        dm.split("train")[:2], dm.split("val")[:2], net, mse, recipe, cfg["data"]["init_args"]["batch_size"], epochs
    )


def econdl_side(epochs: int | None, x_size: int | None = None, exact: bool = True) -> Any:
    """The shipped config; ``epochs``: at most that many (exactly, with ``exact``)."""
    fixed = [f"--trainer.max_epochs={epochs}"] + ([f"--trainer.min_epochs={epochs}"] if exact else []) if epochs else []
    # in_features given, so the first layer is built (and initialised) with the others, as
    # in the raw loop, rather than sized lazily later from another point of the RNG stream
    return econdl_cli(
        CONFIG,
        [
            *fixed,
            *([f"--data.init_args.x_size={x_size}"] if x_size else []),
            "--model.init_args.net.init_args.in_features=1",
        ],
    )


def settings(epochs: int = 2, x_size: int = 512, lecture: bool = False) -> dict[str, dict[str, Any]]:
    """Both sides' settings, read from their objects (tiny data: nothing is timed); with
    ``lecture``, the raw side of the lecture-recipe pair."""
    raw = raw_job(epochs, x_size, lecture=lecture).settings()
    return {"raw": raw, "econdl": econdl_settings(econdl_side(epochs, x_size))}


def run_raw(epochs: int, target: float | None, lecture: bool = False) -> dict[str, Any]:
    out = raw_job(epochs, lecture=lecture).fit(target)
    out["to_target"] = time_to(out["curve"], target) if target else None
    return out


def run_econdl(epochs: int | None, target: float | None) -> dict[str, Any]:
    out = econdl_fit(econdl_side(epochs, exact=target is None), target)
    out["to_target"] = time_to(out["curve"], target) if target else None
    return out


def pairs(quick: bool) -> list[Pair]:
    epochs = 3 if quick else 100
    target = 1e-2 if quick else TARGET
    max_epochs = load_config(CONFIG)["trainer"]["max_epochs"]
    return [
        Pair(
            "kink MLP",
            f"same steps: {epochs} epochs x 40 batches of 256",
            1.1,
            (run_raw, (epochs, None)),
            (run_econdl, (epochs, None)),
            same_result=close_losses,
        ),
        Pair(
            "kink MLP",
            f"time to val MSE {target:g}, shipped recipe on both sides",
            1.0,
            (run_raw, (3 if quick else max_epochs, target)),
            (run_econdl, (3 if quick else None, target)),
            seconds_key="to_target",
            same_result=close_losses,
        ),
        Pair(
            "kink MLP",
            f"time to val MSE {target:g}, shipped recipe against the lecture's on the raw side",
            1.0,
            (run_raw, (3 if quick else max_epochs, target, True)),
            (run_econdl, (3 if quick else None, target)),
            seconds_key="to_target",
            same_result=both_reached(target),
        ),
    ]
