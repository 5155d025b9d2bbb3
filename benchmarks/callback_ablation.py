"""Which of the shipped trainer's callbacks and loggers costs the kink MLP's steps their time.

    python benchmarks/callback_ablation.py                  # 25 epochs of 40 steps, 3 repeats
    python benchmarks/callback_ablation.py --epochs 10 --repeats 5

``benchmarks/step_overhead.py`` puts econdl's callbacks, loggers and checkpoints at a share of
each optimizer step (shipped - module); this script splits that share.  The shipped kink MLP
(configs/kink/mlp.yaml with the trainer defaults, as ``benchmarks/bench_kink.py`` builds it:
no progress bar, as the plain loop prints nothing)
is fitted with all of them, without one of them at a time, and without any, each variant in a
fresh process, the variants' order reversed every other repeat.  It prints, per variant, the
median milliseconds per optimizer step over the repeats, their min-max, and what leaving the
callback out saves against the shipped median.  A saving inside the shipped variant's own
min-max is noise.  Nothing is written; nothing here is a target.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import isolated, quiet_lightning  # noqa: E402

#: what each variant leaves out: a callback class name, ``loggers`` or ``all``
VARIANTS = [
    "shipped",
    "ModelCheckpoint",
    "ResumeCheckpoint",
    "EarlyStopping",
    "FiniteLossGuard",
    "LearningRateMonitor",
    "CSVPredictionWriter",
    "RunConfig",
    "loggers",
    "all",
]


def run(variant: str, epochs: int) -> tuple[float, list[str]]:
    """Milliseconds per optimizer step of the shipped fit without ``variant``; the callbacks it
    ran with (``Watch`` is the benchmark's clock, which every variant has)."""
    from benchmarks import bench_kink
    from benchmarks.pair import econdl_fit

    quiet_lightning()
    cli = bench_kink.econdl_side(epochs)
    trainer = cli.trainer
    drop = {variant}
    if variant in ("loggers", "all"):
        trainer.loggers = []
        drop = {"LearningRateMonitor"}  # it refuses a trainer without a logger
    keep = [c for c in trainer.callbacks if type(c).__name__ not in drop]
    if variant == "all":
        keep = []
    trainer.callbacks[:] = keep
    out = econdl_fit(cli)
    return out["seconds"] / out["steps"] * 1000, [type(c).__name__ for c in trainer.callbacks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for repeat in range(args.repeats):
        for variant in VARIANTS if repeat % 2 == 0 else VARIANTS[::-1]:
            (ms, _), _ = isolated(run, variant, args.epochs)
            times[variant].append(ms)
    shipped = statistics.median(times["shipped"])
    print(f"kink MLP, {args.epochs} epochs of 40 steps, {args.repeats} repeats; ms per optimizer step")
    print(f"{'left out':22s} {'median':>7s}  {'min-max':>13s}  {'saves':>7s}")
    for variant in VARIANTS:
        med = statistics.median(times[variant])
        spread = f"{min(times[variant]):.3f}-{max(times[variant]):.3f}"
        name = "(nothing)" if variant == "shipped" else variant
        print(f"{name:22s} {med:7.3f}  {spread:>13s}  {shipped - med:+7.3f}")


if __name__ == "__main__":
    main()
