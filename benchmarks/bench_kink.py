"""Kink MLP: econdl against the lecture-style raw PyTorch loop, in one run.

raw     per-sample Dataset + DataLoader (batch 256, shuffled), KinkNet with BatchNorm,
        AdamW lr 1e-3 (weight decay 1e-4), ReduceLROnPlateau on the epoch loss, E epochs
same    econdl fit of configs/kink/mlp.yaml with the same optimizer settings and E epochs
        (validation, checkpointing and logging included, as users run it)
default econdl fit of configs/kink/mlp.yaml as shipped; the clock stops when its test MSE
        first reaches the raw loop's final test MSE

Test MSE is measured after every epoch on the 2,001-point test grid; that evaluation is
excluded from every clock.  The same-steps pair runs three times, alternating, and each
side's fastest run is kept: on a shared virtual machine single timings vary by +-30%.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

from benchmarks.common import isolated, quiet_lightning

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "kink" / "mlp.yaml"


def raw_loop(epochs: int, seed: int = 0) -> dict[str, Any]:
    from torch import nn
    from torch.utils.data import DataLoader, Dataset

    from econdl.data import KinkDataModule

    torch.manual_seed(seed)
    dm = KinkDataModule()
    x, y = dm.split("train")
    xt, yt = dm.split("test")

    class Points(Dataset):
        def __len__(self) -> int:
            return len(x)

        def __getitem__(self, i: int):
            return x[i], y[i]

    loader = DataLoader(Points(), batch_size=256, shuffle=True)
    net = nn.Sequential(nn.Linear(1, 100), nn.BatchNorm1d(100), nn.ReLU(), nn.Linear(100, 50),
                        nn.BatchNorm1d(50), nn.ReLU(), nn.Linear(50, 1))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, "min", patience=50)
    loss_fn = nn.MSELoss()
    curve, clock = [], 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        net.train()
        total = 0.0
        for bx, by in loader:
            opt.zero_grad()
            loss = loss_fn(net(bx), by)
            loss.backward()
            opt.step()
            total += loss.item()
        sched.step(total / len(loader))
        clock += time.perf_counter() - start
        net.eval()
        with torch.no_grad():
            curve.append((clock, float(loss_fn(net(xt), yt))))
    return {"seconds": clock, "curve": curve, "steps": epochs * len(loader)}


class TestCurve(L.Callback):
    """Records (fit seconds so far, test MSE) after every epoch, its own evaluation time
    excluded; stops the fit once the test MSE reaches ``target``."""

    def __init__(self, target: float | None) -> None:
        self.target, self.curve, self.excluded = target, [], 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        now = time.perf_counter()
        xt, yt = trainer.datamodule.split("test")
        was = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            mse = float(((pl_module(xt) - yt) ** 2).mean())
        pl_module.train(was)
        self.curve.append((now - self.start - self.excluded, mse))
        self.excluded += time.perf_counter() - now
        if self.target is not None and mse <= self.target:
            trainer.should_stop = True


def econdl_fit(overrides: list[str], target: float | None) -> dict[str, Any]:
    import os
    import tempfile

    quiet_lightning()
    os.chdir(tempfile.mkdtemp())  # run directories go to a scratch folder
    from econdl.cli import cli_main

    cli = cli_main(["--config", str(CONFIG), "--trainer.enable_progress_bar=false",
                    "--trainer.enable_model_summary=false", *overrides], run=False)
    curve = TestCurve(target)
    cli.trainer.callbacks.append(curve)
    start = time.perf_counter()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    seconds = time.perf_counter() - start - curve.excluded
    return {"seconds": seconds, "curve": curve.curve, "steps": cli.trainer.global_step}


def first_time_at(curve: list[tuple[float, float]], target: float) -> float | None:
    return next((t for t, mse in curve if mse <= target), None)


def run(quick: bool) -> list[dict[str, Any]]:
    epochs, repeats = (10, 1) if quick else (100, 3)
    same_steps = ["--optimizer.init_args.lr=0.001", "--lr_scheduler.init_args.patience=50",
                  f"--trainer.max_epochs={epochs}", f"--trainer.min_epochs={epochs}"]
    raws, sames = [], []
    for _ in range(repeats):  # alternate the two, keep each one's fastest run (timings here are noisy)
        raws.append(isolated(raw_loop, epochs))
        sames.append(isolated(econdl_fit, same_steps, None))
    (raw, raw_mem), (same, same_mem) = (min(runs, key=lambda r: r[0]["seconds"]) for runs in (raws, sames))
    target = raw["curve"][-1][1]
    default, _ = isolated(econdl_fit, [], target)
    raw_to_target = first_time_at(raw["curve"], target)
    default_to_target = first_time_at(default["curve"], target)
    same_mse = same["curve"][-1][1]
    rows = [
        {
            "benchmark": "kink MLP",
            "what": f"same steps ({epochs} epochs x 40 batches of 256, AdamW 1e-3)",
            "econdl_s": same["seconds"],
            "raw_s": raw["seconds"],
            "ratio": same["seconds"] / raw["seconds"],
            "throughput": f"{same['steps'] * 256 / same['seconds']:.0f} samples/s (raw {raw['steps'] * 256 / raw['seconds']:.0f})",
            "peak_mem_mb": f"{same_mem:.0f} (raw {raw_mem:.0f})",
            "result": f"test MSE {same_mse:.3g} (raw {target:.3g})",
            "note": f"fastest of {repeats} alternating runs each; econdl time includes per-epoch validation, "
            "checkpointing and CSV/TensorBoard logging",
        },
        {
            "benchmark": "kink MLP",
            "what": "time to the raw loop's final test MSE, default config",
            "econdl_s": default_to_target if default_to_target is not None else float("nan"),
            "raw_s": raw_to_target,
            "ratio": (default_to_target / raw["seconds"]) if default_to_target is not None else float("nan"),
            "throughput": "",
            "peak_mem_mb": "",
            "result": f"target test MSE {target:.3g}; econdl reached "
            f"{min(m for _, m in default['curve']):.3g} in {len(default['curve'])} epochs",
            "note": "ratio = econdl time to target / raw loop's total time"
            + ("" if default_to_target is not None else "; econdl did NOT reach the target"),
        },
    ]
    return rows
