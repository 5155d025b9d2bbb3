"""One engine for every benchmark pair: an econdl fit of a shipped config and the plain
PyTorch loop a careful user writes for the same job.

Both sides take the same in-memory tensors (the DataModule's splits, built before the
clock on both sides), draw batches by slicing them with one ``randperm`` per epoch seeded
like econdl's loader (seed + epoch), validate after every epoch with the same validation
batch size, and step the same optimizer and schedule on the same quantity.  ``settings``
of either side are read from the objects themselves (optimizer param_groups, scheduler
attributes, loader, trainer), so ``tests/test_bench_settings.py`` can compare them.
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from benchmarks.common import quiet_lightning

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SEED = 42  # configs/trainer/default.yaml's seed_everything: the econdl side's seed

_SCHEDULER_KEYS = (
    "mode",
    "factor",
    "patience",
    "threshold",
    "threshold_mode",
    "cooldown",
    "max_lr",
    "pct_start",
    "div_factor",
    "final_div_factor",
    "total_steps",
)


# How torch computes the update, not which update: a fused or for-each kernel gives the
# per-tensor loop's result up to float rounding.  econdl may win by a faster kernel; the
# benchmark tables name it (optimizer_kernel) and their "match" column shows the results agree.
KERNEL_KEYS = ("foreach", "fused")


def optimizer_settings(opt: torch.optim.Optimizer) -> dict[str, Any]:
    """Optimizer class and every hyper-parameter of its first param group (the kernel
    choice aside: see ``optimizer_kernel``)."""
    group = {k: v for k, v in opt.param_groups[0].items() if k not in ("params", "initial_lr", *KERNEL_KEYS)}
    return {"optimizer": type(opt).__name__, **{f"opt.{k}": v for k, v in sorted(group.items())}}


def optimizer_kernel(opt: torch.optim.Optimizer) -> str:
    """``fused`` or ``foreach`` where asked for; otherwise torch's default, which is a
    ``per-tensor`` loop on the CPU (for-each on a GPU: ``default (cuda)``)."""
    group = opt.param_groups[0]
    if group.get("fused") or group.get("foreach"):
        return "fused" if group.get("fused") else "foreach"
    device = group["params"][0].device.type
    return "per-tensor" if device == "cpu" else f"default ({device})"


def scheduler_settings(sched: Any, interval: str, monitor: str | None) -> dict[str, Any]:
    """Scheduler type (its torch class: Lightning's subclass counts as torch's), the
    quantity it watches, how often it steps, and its own hyper-parameters."""
    if sched is None:
        return {"scheduler": None}
    base = next(c for c in type(sched).__mro__ if c.__module__.startswith(("torch.", "econdl.")))
    out = {
        "scheduler": f"{base.__module__.split('.')[0]}.{base.__name__}",
        "sched.interval": interval,
        "sched.monitor": monitor,
    }
    out.update({f"sched.{k}": getattr(sched, k) for k in _SCHEDULER_KEYS if hasattr(sched, k)})
    return out


def precision_of(net: nn.Module) -> str:
    """Lightning's name for plain training in the parameters' dtype (no autocast here)."""
    return {torch.float32: "32-true", torch.float64: "64-true"}[next(net.parameters()).dtype]


def net_settings(net: nn.Module) -> dict[str, Any]:
    return {
        "net.shapes": [tuple(p.shape) for p in net.parameters()],
        # each layer with its settings (BatchNorm's momentum and eps, an activation's options)
        "net.layers": [repr(m) for m in net.modules() if not list(m.children())],
        "net.init": round(sum(float(p.detach().double().abs().sum()) for p in net.parameters()), 6),
    }


@dataclass
class RawJob:
    """The raw side of one benchmark: data, network, loss and recipe, all plain PyTorch."""

    train: tuple[Tensor, Tensor]
    val: tuple[Tensor, Tensor]
    net: nn.Module
    loss_fn: Callable[[Tensor, Tensor], Tensor]
    make_optimizer: Callable[[nn.Module, int], tuple[torch.optim.Optimizer, Any, str, str | None]]
    batch_size: int
    epochs: int
    inputs: Callable[[Tensor], Tensor] = lambda x: x  # per-batch input transform (uint8 -> float)
    val_batch_size: int = 0  # 0: four times the training batch, as econdl's DataModules default
    seed: int = SEED
    opt: Any = None
    sched: Any = None
    interval: str = "epoch"
    monitor: str | None = None  # what an epoch-interval schedule watches: "val/loss" or "train/loss"
    extra: dict[str, Any] = field(default_factory=dict)
    best_state: dict[str, Tensor] | None = None  # the best weights so far, as econdl's checkpoint keeps them

    def __post_init__(self) -> None:
        torch.set_num_threads(THREADS)
        # As in a plain PyTorch process: importing Lightning (done here to build the data)
        # sets this, and with it torch's Adam probes NVML on every step of a CPU run.
        os.environ.pop("PYTORCH_NVML_BASED_CUDA_CHECK", None)
        self.val_batch_size = self.val_batch_size or 4 * self.batch_size
        steps = self.epochs * -(-len(self.train[0]) // self.batch_size)
        self.opt, self.sched, self.interval, self.monitor = self.make_optimizer(self.net, steps)

    def settings(self) -> dict[str, Any]:
        return {
            **optimizer_settings(self.opt),
            **scheduler_settings(self.sched, self.interval, self.monitor),
            "batch_size": self.batch_size,
            "val_batch_size": self.val_batch_size,
            "epochs": self.epochs,
            "shuffle": "randperm(seed+epoch) per epoch",
            "n_train": len(self.train[0]),
            "validate_every": 1,
            "threads": torch.get_num_threads(),
            "precision": precision_of(self.net),
            **net_settings(self.net),
            **self.extra,
        }

    def fit(self, target: float | None = None, backward: Callable[[Tensor], None] | None = None) -> dict[str, Any]:
        """Train; the clock covers training, validation and keeping the best weights.
        ``backward``: what computes the gradients instead of ``loss.backward()`` (Fabric's)."""
        (x, y), (xv, yv), bs, net = self.train, self.val, self.batch_size, self.net
        n, vbs = len(x), self.val_batch_size
        curve: list[tuple[float, float]] = []
        best, steps = float("inf"), 0
        start = time.perf_counter()
        on_train_loss = self.monitor == "train/loss"  # the lecture's schedule: the epoch's mean training loss
        for epoch in range(self.epochs):
            net.train()
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + epoch))
            train_total, batches_run = 0.0, 0
            for i in range(0, n, bs):
                rows = perm[i : i + bs]
                loss = self.loss_fn(net(self.inputs(x[rows])), y[rows])
                self.opt.zero_grad()
                if backward is None:
                    loss.backward()
                else:
                    backward(loss)
                self.opt.step()
                steps += 1
                if on_train_loss:
                    train_total, batches_run = train_total + loss.item(), batches_run + 1
                if self.sched is not None and self.interval == "step":
                    self.sched.step()
            net.eval()
            with torch.no_grad():
                batches = [(xv[i : i + vbs], yv[i : i + vbs]) for i in range(0, len(xv), vbs)]
                total = sum(float(self.loss_fn(net(self.inputs(xb)), yb)) * len(yb) for xb, yb in batches)
            val = total / len(xv)
            if self.sched is not None and self.interval == "epoch":
                if self.monitor:
                    self.sched.step(train_total / batches_run if on_train_loss else val)
                else:
                    self.sched.step()
            if val < best:
                best, self.best_state = val, copy.deepcopy(net.state_dict())
            curve.append((time.perf_counter() - start, val))
            if target is not None and val <= target:
                break
        seconds = time.perf_counter() - start
        return {
            "seconds": seconds,
            "steps": steps,
            "curve": curve,
            "val_loss": curve[-1][1],
            "kernel": optimizer_kernel(self.opt),
        }


def econdl_cli(config: str, overrides: list[str]) -> Any:
    """The shipped config as users run it (validation, checkpoints, loggers on), in a
    scratch folder, with the data built (outside the clock, as on the raw side)."""
    quiet_lightning()
    torch.set_num_threads(THREADS)
    os.chdir(tempfile.mkdtemp())
    from econdl.cli import cli_main

    cli = cli_main(
        ["--config", config, "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", *overrides],
        run=False,
    )
    cli.datamodule.setup("fit")
    return cli


def _record_settings(trainer: Any, module: Any) -> dict[str, Any]:
    cfg = trainer.lr_scheduler_configs[0] if trainer.lr_scheduler_configs else None
    loader = trainer.train_dataloader
    dm = trainer.datamodule
    return {
        **optimizer_settings(trainer.optimizers[0]),
        **scheduler_settings(
            cfg.scheduler if cfg else None, cfg.interval if cfg else "epoch", cfg.monitor if cfg else None
        ),
        "batch_size": loader.batch_size,
        "val_batch_size": dm.eval_batch_size,
        "epochs": trainer.max_epochs,
        "shuffle": "randperm(seed+epoch) per epoch" if loader.sampler.shuffle else "none",
        "n_train": loader.sampler.n,
        "validate_every": trainer.check_val_every_n_epoch,
        "threads": torch.get_num_threads(),
        "precision": trainer.precision,
        **net_settings(module.net),
    }


def econdl_fit(cli: Any, target: float | None = None) -> dict[str, Any]:
    """Fit ``cli``'s model; record its settings at the start and, after each validation,
    (seconds so far, val/loss); stop once val/loss <= ``target``."""
    import lightning as L

    out: dict[str, Any] = {"curve": []}

    class Watch(L.Callback):
        def on_train_start(self, trainer: Any, module: Any) -> None:
            out["settings"] = _record_settings(trainer, module)

        def on_validation_end(self, trainer: Any, module: Any) -> None:
            if trainer.sanity_checking or "val/loss" not in trainer.callback_metrics:
                return
            val = float(trainer.callback_metrics["val/loss"])
            out["curve"].append((time.perf_counter() - start, val))
            if target is not None and val <= target:
                trainer.should_stop = True

    from econdl.fastpath import cuda_count_pinned

    cli.trainer.callbacks.append(Watch())
    with cuda_count_pinned(cli.trainer):  # as `econdl fit` runs it (EconCLI._run_subcommand)
        start = time.perf_counter()
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        out["seconds"] = time.perf_counter() - start
    out["steps"] = cli.trainer.global_step
    out["kernel"] = optimizer_kernel(cli.trainer.optimizers[0]) if cli.trainer.optimizers else "none"
    out["val_loss"] = out["curve"][-1][1] if out["curve"] else float("nan")
    return out


def time_to(curve: list[tuple[float, float]], target: float) -> float | None:
    """Seconds until the validation loss first reached ``target`` (None: never)."""
    return next((t for t, v in curve if v <= target), None)


THREADS = int(os.environ.get("ECONDL_BENCH_THREADS", os.cpu_count() or 1))  # equal on both sides


class _SettingsRead(Exception):
    """Raised once the econdl side's settings are read: no training needed for them."""


def econdl_settings(cli: Any) -> dict[str, Any]:
    """Settings of the econdl side, read from the Trainer's own objects when training starts."""
    import lightning as L

    out: dict[str, Any] = {}

    class Read(L.Callback):
        def on_train_start(self, trainer: Any, module: Any) -> None:
            out.update(_record_settings(trainer, module))
            raise _SettingsRead

    cli.trainer.callbacks.append(Read())
    with contextlib.suppress(_SettingsRead):  # raised on purpose once the settings are read
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return out


def load_config(path: str) -> dict[str, Any]:
    """A shipped config as a dict: the raw side reads its recipe from the same file."""
    import yaml

    with open(path) as f:
        return yaml.safe_load(f)


def datamodule_from(config: dict[str, Any], **overrides: Any) -> Any:
    """The config's DataModule (same data, same split) for the raw side, built up front."""
    import importlib

    module, name = config["data"]["class_path"].rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    dm = cls(**{**config["data"].get("init_args", {}), **overrides})
    dm.setup("fit")
    return dm


def materialized(net: nn.Module, example: Tensor) -> nn.Module:
    """Size lazy layers with one forward pass, as econdl's tasks do before training."""
    with torch.no_grad():
        net(example)
    return net


@dataclass
class Pair:
    """One benchmark row: how to run each side (module-level functions, run in fresh
    processes), the target ratio econdl/raw, and how to compare the two sides' results."""

    benchmark: str
    what: str
    target: float
    raw: tuple[Callable[..., dict[str, Any]], tuple]
    econdl: tuple[Callable[..., dict[str, Any]], tuple]
    seconds_key: str = "seconds"  # or "to_target"
    same_result: Callable[[dict[str, Any], dict[str, Any]], tuple[str, bool]] | None = None


def close_losses(econdl: dict[str, Any], raw: dict[str, Any], tol: float = 1.5) -> tuple[str, bool]:
    """Final validation losses within a factor ``tol`` of each other."""
    a, b = econdl["val_loss"], raw["val_loss"]
    ok = a == a and b == b and max(a, b) <= tol * max(min(a, b), 1e-12)
    return f"val loss {a:.3g} (raw {b:.3g})", ok


def both_reached(target: float) -> Callable[[dict[str, Any], dict[str, Any]], tuple[str, bool]]:
    """For a time-to-target pair of different recipes: both sides reached ``target`` (their
    final losses need not be close, each stops at its own first epoch at or under it)."""

    def compare(econdl: dict[str, Any], raw: dict[str, Any]) -> tuple[str, bool]:
        a, b = econdl["val_loss"], raw["val_loss"]
        return f"val loss {a:.3g} (raw {b:.3g}), target {target:g}", a <= target and b <= target

    return compare


def close_accuracy(econdl: dict[str, Any], raw: dict[str, Any], pp: float = 0.015) -> tuple[str, bool]:
    """Test accuracies within ``pp`` (absolute) of each other."""
    a, b = econdl["acc"], raw["acc"]
    return f"test acc {a:.4f} (raw {b:.4f})", abs(a - b) <= pp


def accuracy(net: nn.Module, x: Tensor, y: Tensor, inputs: Callable[[Tensor], Tensor]) -> float:
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(inputs(x[i : i + 1000])).argmax(1) for i in range(0, len(x), 1000)])
    return float((pred == y).double().mean())
