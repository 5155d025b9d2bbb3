"""Fashion-MNIST MLP and CNN (configs/mnist/{mlp,cnn}.yaml): econdl fit against the plain
PyTorch loop, same recipe.

Both sides: the MNISTDataModule's uint8 images in memory (the same train/validation
split, built before the clock), scaled to [0, 1] and standardised with the training
split's mean and std per batch; batches of 128 sliced from one ``randperm`` per epoch;
the same network (MLP 784 -> 128 -> 128 -> 128 -> 10, or DigitCNN with 64-64 channels
and a 128-128 head), seed 42; AdamW (the config's lr and weight decay; the MLP config
asks for torch's fused kernel, the raw loop keeps torch's default per-tensor one) under
econdl.schedules.OneCycleLR (the config's max_lr, sized to the run's steps, stepped
after every optimizer step); cross-entropy; validation after every epoch (batches of
1,000); float32; the same number of torch threads.  The raw loop keeps the best weights in
memory; econdl (as users run it) writes the best checkpoint, logs to CSV and TensorBoard,
and keeps last.ckpt.  Results: test accuracy of the final weights, outside the clocks.

MLP  3 epochs of the 55,000 training images
CNN  1 epoch of the 55,000 training images

Needs the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, or
ECONDL_MNIST_DIR); without it the benchmark is skipped with a note.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmarks.pair import (
    REPO_CONFIGS,
    SEED,
    Pair,
    RawJob,
    accuracy,
    close_accuracy,
    datamodule_from,
    econdl_cli,
    econdl_fit,
    econdl_settings,
    load_config,
    materialized,
)

DATA = Path(os.environ.get("ECONDL_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))


def config(model: str) -> str:
    return str(REPO_CONFIGS / "mnist" / f"{model}.yaml")


def data_args(train_size: int | None) -> dict[str, Any]:
    return {"data_dir": str(DATA), "variant": "fashion", **({"train_size": train_size} if train_size else {})}


def skip_reason() -> str | None:
    """Why the benchmark cannot run here, or None."""
    if not (DATA / "train-images-idx3-ubyte.gz").is_file() and not (DATA / "train-images-idx3-ubyte").is_file():
        return f"skipped: no Fashion-MNIST in {DATA} (apt-get install -y dataset-fashion-mnist)"
    return None


def raw_job(model: str, epochs: int, train_size: int | None) -> tuple[RawJob, Any]:
    from econdl.nets import DigitCNN
    from econdl.schedules import OneCycleLR

    cfg = load_config(config(model))
    dm = datamodule_from(cfg, **data_args(train_size))
    mean, std = dm.mean, dm.std

    def inputs(x: torch.Tensor) -> torch.Tensor:
        return (x.float() / 255 - mean) / std

    torch.manual_seed(SEED)
    if model == "mlp":
        net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 128),
            nn.ReLU(),
            nn.Linear(128, 128),
            nn.ReLU(),
            nn.Linear(128, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
    else:
        net = DigitCNN(**cfg["model"]["init_args"]["net"]["init_args"])
    x, y = dm.split("train")[:2]
    materialized(net, inputs(x[:2]))
    opt_args, cycle = cfg["optimizer"]["init_args"], cfg["lr_scheduler"]["init_args"]

    def recipe(net: nn.Module, steps: int) -> tuple[Any, Any, str, None]:
        opt = torch.optim.AdamW(net.parameters(), lr=opt_args["lr"], weight_decay=opt_args["weight_decay"])
        return opt, OneCycleLR(opt, max_lr=cycle["max_lr"], total_steps=steps), "step", None

    job = RawJob(
        (x, y),
        dm.split("val")[:2],
        net,
        nn.functional.cross_entropy,
        recipe,
        cfg["data"]["init_args"]["batch_size"],
        epochs,
        inputs=inputs,
        val_batch_size=1000,
    )
    return job, dm


def econdl_side(model: str, epochs: int, train_size: int | None) -> Any:
    args = [f"--data.init_args.{k}={v}" for k, v in data_args(train_size).items()]
    return econdl_cli(config(model), [*args, f"--trainer.max_epochs={epochs}", f"--trainer.min_epochs={epochs}"])


def settings(model: str = "mlp", epochs: int = 1, train_size: int = 512) -> dict[str, dict[str, Any]]:
    """Both sides' settings, read from their objects (tiny data: nothing is timed)."""
    return {
        "raw": raw_job(model, epochs, train_size)[0].settings(),
        "econdl": econdl_settings(econdl_side(model, epochs, train_size)),
    }


def run_raw(model: str, epochs: int, train_size: int | None) -> dict[str, Any]:
    job, dm = raw_job(model, epochs, train_size)
    out = job.fit()
    out["acc"] = accuracy(job.net, *dm.split("test")[:2], job.inputs)
    return out


def run_econdl(model: str, epochs: int, train_size: int | None) -> dict[str, Any]:
    cli = econdl_side(model, epochs, train_size)
    out = econdl_fit(cli)
    dm = cli.datamodule
    out["acc"] = accuracy(cli.model, *dm.split("test")[:2], lambda x: dm.scale(x))
    return out


def pairs(quick: bool) -> list[Pair]:
    if skip_reason():
        return []
    mlp = (1, 2000) if quick else (3, None)
    cnn = (1, 1000) if quick else (1, None)
    return [
        Pair(
            "Fashion-MNIST MLP",
            f"{mlp[0]} epoch(s), {mlp[1] or 'all'} training images, batch 128",
            1.2,
            (run_raw, ("mlp", *mlp)),
            (run_econdl, ("mlp", *mlp)),
            same_result=close_accuracy,
        ),
        Pair(
            "Fashion-MNIST CNN",
            f"{cnn[0]} epoch, {cnn[1] or 'all'} training images, batch 128",
            1.05,
            (run_raw, ("cnn", *cnn)),
            (run_econdl, ("cnn", *cnn)),
            same_result=close_accuracy,
        ),
    ]
