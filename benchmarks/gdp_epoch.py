"""Where the time of the GDP MLP's fit goes, per part of Lightning's loop (the GDP pair of
`make bench` misses its target; this says why).

    python benchmarks/gdp_epoch.py               # 200 epochs, 3 repeats of each variant
    python benchmarks/gdp_epoch.py --epochs 100 --repeats 5

Two views of the econdl side of benchmarks/bench_gdp.py (configs/gdp/mlp.yaml as users run
it, the data built before the clock):

parts     one fit with a clock around Lightning's training step, evaluation loop, best
          checkpoint writes, loggers and econdl's guard (the seconds each took in all, and per
          call); the parts overlap where one calls another (the checkpoint inside the epoch end)
without   the whole fit with one piece left out, alternating with the default fit: no
          loggers, no best checkpoint, no guard, no validation (and so no best checkpoint);
          the median seconds over the repeats and their min-max

The raw loop's median over the same repeats is printed for scale.  Nothing here is a target.
"""

from __future__ import annotations

import argparse
import collections
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_gdp  # noqa: E402
from benchmarks.pair import econdl_cli, econdl_fit  # noqa: E402


def side(epochs: int, extra: list[str] | None = None) -> Any:
    args = [f"--trainer.max_epochs={epochs}", f"--trainer.min_epochs={epochs}"]
    args += ["--model.init_args.net.init_args.in_features=4", *(extra or [])]
    return econdl_cli(bench_gdp.CONFIG, args)


def without(*names: str) -> Callable[[Any], None]:
    def drop(cli: Any) -> None:
        cli.trainer.callbacks[:] = [c for c in cli.trainer.callbacks if type(c).__name__ not in names]

    return drop


VARIANTS: dict[str, tuple[list[str], Callable[[Any], None] | None]] = {
    "default": ([], None),
    "no loggers": (["--trainer.logger=false"], None),
    "no best checkpoint": ([], without("ModelCheckpoint")),
    "no guard": ([], without("FiniteLossGuard")),
    "no validation": (["--trainer.check_val_every_n_epoch=100000"], without("ModelCheckpoint", "EarlyStopping")),
}


def parts(epochs: int) -> list[tuple[str, float, int]]:
    """(part, seconds in all, calls) of one fit, each part timed around its Lightning function."""
    import lightning.pytorch as pl
    from lightning.pytorch.loops.evaluation_loop import _EvaluationLoop
    from lightning.pytorch.loops.training_epoch_loop import _TrainingEpochLoop

    from econdl import loggers
    from econdl.callbacks.guards import FiniteLossGuard
    from econdl.checkpointing import AtomicCheckpointIO

    spent: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    timed = [
        (_TrainingEpochLoop, "advance", "training step (with its batch)"),
        (_EvaluationLoop, "run", "validation (loop and step)"),
        (_EvaluationLoop, "_evaluation_step", "  of which the validation step"),
        (pl.Trainer, "save_checkpoint", "checkpoint writes (best, last)"),
        (AtomicCheckpointIO, "save_checkpoint", "  of which torch.save, fsync, rename"),
        (loggers.TensorBoardLogger, "log_metrics", "TensorBoard logger"),
        (loggers.CSVLogger, "log_metrics", "CSV logger"),
        (FiniteLossGuard, "on_validation_end", "guard: weights after validation"),
        (FiniteLossGuard, "on_save_checkpoint", "guard: weights before a checkpoint"),
    ]
    originals = []
    for cls, name, label in timed:
        original = getattr(cls, name)
        originals.append((cls, name, original))

        def clocked(*args: Any, _f: Any = original, _label: str = label, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_label] += time.perf_counter() - start
                calls[_label] += 1

        setattr(cls, name, functools.wraps(original)(clocked))
    try:
        total = econdl_fit(side(epochs))["seconds"]
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)
    return [("whole fit", total, 1), *[(label, spent[label], calls[label]) for _, _, label in timed]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    econdl_fit(side(5))  # imports and first-call costs outside every clock
    print(f"GDP MLP, {args.epochs} epochs (econdl side of benchmarks/bench_gdp.py)\n")
    print(f"{'part':42s} {'seconds':>8s} {'calls':>6s} {'ms a call':>10s}")
    for label, seconds, n in parts(args.epochs):
        print(f"{label:42s} {seconds:8.3f} {n:6d} {1e3 * seconds / max(n, 1):10.3f}")
    times: dict[str, list[float]] = {name: [] for name in [*VARIANTS, "raw loop"]}
    for _ in range(args.repeats):
        for name, (extra, change) in VARIANTS.items():
            cli = side(args.epochs, extra)
            if change is not None:
                change(cli)
            times[name].append(econdl_fit(cli)["seconds"])
        times["raw loop"].append(bench_gdp.run_raw(args.epochs)["seconds"])
    print(f"\n{'fit':22s} {'median s':>9s}  min-max ({args.repeats} repeats, alternating)")
    for name, values in times.items():
        print(f"{name:22s} {statistics.median(values):9.3f}  {min(values):.3f}-{max(values):.3f}")


if __name__ == "__main__":
    main()
