"""Gender photos CNN (configs/gender/cnn.yaml): one econdl epoch against the plain PyTorch
loop, same recipe, on generated photos.

Photos: colour JPEGs of 250 x 200 written to a scratch folder (Female/, Male/).  Both
sides decode and resize them to 135 x 110 uint8 with the GenderImageDataModule before the
clock, with the same number of decode workers (the config's), and take the same
train/validation split.  Inside the clock, both sides: batches of 64 sliced from one
``randperm`` per epoch, scaled to [0, 1] per batch; the lecture's CNN (two blocks of
3x3 convolution with 64 channels, ReLU, 2x2 max-pool; a linear head), seed 42; Adam lr
1e-3 (torch defaults otherwise), no schedule; cross-entropy; one epoch; validation after
it (batches of 256); float32; the same number of torch threads.  The raw loop keeps the
best weights in memory; econdl (as users run it) writes the best checkpoint, logs to CSV
and TensorBoard, and keeps last.ckpt.
"""

from __future__ import annotations

import tempfile
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
    close_losses,
    datamodule_from,
    econdl_cli,
    econdl_fit,
    econdl_settings,
    load_config,
    materialized,
)

CONFIG = str(REPO_CONFIGS / "gender" / "cnn.yaml")


def make_photos(folder: Path, n: int) -> str:
    """``n`` colour JPEGs of 250 x 200, alternately in folder/Female and folder/Male."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for k in range(n):
        cls = ("Female", "Male")[k % 2]
        (folder / cls).mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 255, (25, 20, 3), dtype=np.uint8)  # smooth-ish, photo-like JPEG sizes
        Image.fromarray(base).resize((200, 250), Image.Resampling.BICUBIC).save(
            folder / cls / f"{k:05d}.jpg", quality=90
        )
    return str(folder)


def raw_job(root: str, epochs: int = 1) -> tuple[RawJob, Any]:
    from econdl.nets import FaceCNN

    cfg = load_config(CONFIG)
    dm = datamodule_from(cfg, root=root)

    def inputs(x: torch.Tensor) -> torch.Tensor:
        return x.float() / 255

    torch.manual_seed(SEED)
    net = FaceCNN(**cfg["model"]["init_args"]["net"]["init_args"])
    x, y = dm.split("train")[:2]
    materialized(net, inputs(x[:2]))
    lr = cfg["optimizer"]["init_args"]["lr"]

    def recipe(net: nn.Module, steps: int) -> tuple[Any, None, str, None]:
        return torch.optim.Adam(net.parameters(), lr=lr), None, "epoch", None

    job = RawJob(
        (x, y),
        dm.split("val")[:2],
        net,
        nn.functional.cross_entropy,
        recipe,
        cfg["data"]["init_args"]["batch_size"],
        epochs,
        inputs=inputs,
    )
    return job, dm


def econdl_side(root: str, epochs: int = 1) -> Any:
    return econdl_cli(
        CONFIG, [f"--data.init_args.root={root}", f"--trainer.max_epochs={epochs}", f"--trainer.min_epochs={epochs}"]
    )


def settings(n: int = 40) -> dict[str, dict[str, Any]]:
    """Both sides' settings, read from their objects (a few tiny photos: nothing is timed)."""
    root = make_photos(Path(tempfile.mkdtemp()) / "photos", n)
    return {"raw": raw_job(root)[0].settings(), "econdl": econdl_settings(econdl_side(root))}


def run_raw(root: str) -> dict[str, Any]:
    job, dm = raw_job(root)
    out = job.fit()
    out["acc"] = accuracy(job.net, *dm.split("val")[:2], job.inputs)
    return out


def run_econdl(root: str) -> dict[str, Any]:
    cli = econdl_side(root)
    out = econdl_fit(cli)
    x, y = cli.datamodule.split("val")[:2]
    out["acc"] = accuracy(cli.model, x, y, lambda b: b.float() / 255)
    return out


def pairs(quick: bool) -> list[Pair]:
    n = 120 if quick else 1_500
    root = make_photos(Path(tempfile.mkdtemp(prefix="econdl-bench-")) / "photos", n)
    return [
        Pair(
            "gender CNN",
            f"1 epoch, {n} generated photos 135x110 (train/val/test split), batch 64",
            1.05,
            (run_raw, (root,)),
            (run_econdl, (root,)),
            same_result=close_losses,
        )
    ]
