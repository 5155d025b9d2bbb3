"""GDP growth: the lecture's GDPNet under econdl against a raw PyTorch loop, and AR(4).

raw     the same standardised lag matrix (US real GDP, 4 lags, the econdl split), MLP
        4 -> 16 -> 8 -> 1, Adam 1e-3, batch 32 shuffled, E epochs, plain PyTorch loop
econdl  econdl fit of configs/gdp/mlp.yaml for exactly E epochs (min_epochs = max_epochs),
        validation, checkpointing and logging included, as users run it
AR(4)   econdl fit of configs/gdp/ar.yaml (closed form, one pass) against statsmodels'
        AutoReg(trend="c") on the same training window

Test RMSE (percentage points) is of the final weights, measured outside the clocks.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import isolated, quiet_lightning

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "gdp"


def test_rmse(dm: Any, predict: Any) -> float:
    x, y = dm.split("test")[:2]
    with torch.no_grad():
        pred = predict(x)
    return float(((dm.unscale(pred.reshape(y.shape)) - dm.unscale(y)) ** 2).mean().sqrt())


def raw_loop(epochs: int, seed: int = 0) -> dict[str, Any]:
    from torch import nn

    from econdl.data import GDPDataModule

    dm = GDPDataModule()
    x, y = dm.split("train")[:2]
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for b in range(0, len(x), 32):
            rows = order[b : b + 32]
            opt.zero_grad()
            loss = loss_fn(net(x[rows]), y[rows])
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "steps": epochs * -(-len(x) // 32), "rmse": test_rmse(dm, net)}


def econdl_fit(config: str, overrides: list[str]) -> dict[str, Any]:
    import os
    import tempfile

    quiet_lightning()
    os.chdir(tempfile.mkdtemp())  # run directories go to a scratch folder
    from econdl.cli import cli_main

    cli = cli_main(["--config", config, "--trainer.enable_progress_bar=false",
                    "--trainer.enable_model_summary=false", "--seed_everything=0", *overrides], run=False)
    start = time.perf_counter()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    seconds = time.perf_counter() - start
    cli.model.eval()
    return {"seconds": seconds, "steps": cli.trainer.global_step, "rmse": test_rmse(cli.datamodule, cli.model)}


def statsmodels_ar() -> dict[str, Any]:
    from statsmodels.tsa.ar_model import AutoReg

    from econdl.data import GDPDataModule

    dm = GDPDataModule()
    dm.setup()
    window = dm.series.to_numpy()[: 4 + len(dm.split("train")[0])]
    start = time.perf_counter()
    fit = AutoReg(window, lags=4, trend="c").fit()
    seconds = time.perf_counter() - start
    x, y = dm.split("test")[:2]
    xs, ys = dm.unscale(x).double().numpy(), dm.unscale(y).double().numpy().reshape(-1)
    pred = fit.params[0] + xs @ fit.params[1:]
    return {"seconds": seconds, "rmse": float(((pred - ys) ** 2).mean() ** 0.5)}


def run(quick: bool) -> list[dict[str, Any]]:
    epochs = 20 if quick else 200
    raw, raw_mem = isolated(raw_loop, epochs)
    fixed = [f"--trainer.max_epochs={epochs}", f"--trainer.min_epochs={epochs}"]
    mlp, mlp_mem = isolated(econdl_fit, str(CONFIGS / "mlp.yaml"), fixed)
    ar, ar_mem = isolated(econdl_fit, str(CONFIGS / "ar.yaml"), [])
    sm, sm_mem = isolated(statsmodels_ar)
    return [
        {
            "benchmark": "GDP MLP",
            "what": f"same steps ({epochs} epochs x {raw['steps'] // epochs} batches of 32, Adam 1e-3)",
            "econdl_s": mlp["seconds"],
            "raw_s": raw["seconds"],
            "ratio": mlp["seconds"] / raw["seconds"],
            "throughput": f"{mlp['steps'] / mlp['seconds']:.0f} steps/s (raw {raw['steps'] / raw['seconds']:.0f})",
            "peak_mem_mb": f"{mlp_mem:.0f} (raw {raw_mem:.0f})",
            "result": f"test RMSE {mlp['rmse']:.3f} pp (raw {raw['rmse']:.3f})",
            "note": "tiny batches: Lightning's per-step and per-epoch (validation, checkpoint) overhead dominates",
        },
        {
            "benchmark": "GDP AR(4)",
            "what": "closed-form OLS fit vs statsmodels AutoReg",
            "econdl_s": ar["seconds"],
            "raw_s": sm["seconds"],
            "ratio": ar["seconds"] / sm["seconds"],
            "throughput": "",
            "peak_mem_mb": f"{ar_mem:.0f} (raw {sm_mem:.0f})",
            "result": f"test RMSE {ar['rmse']:.3f} pp (statsmodels {sm['rmse']:.3f})",
            "note": "econdl time is a whole Trainer.fit (one pass, validation, checkpoint)",
        },
    ]
