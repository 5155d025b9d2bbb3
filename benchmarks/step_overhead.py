"""Where the time of one optimizer step goes: the plain loop, Lightning's Trainer, econdl.

    python benchmarks/step_overhead.py                  # kink MLP, 25 epochs, 3 repeats
    python benchmarks/step_overhead.py --epochs 10 --repeats 5
    python benchmarks/step_overhead.py --write docs/benchmarks.md   # (make bench) its section there

Six ways to train the kink MLP (configs/kink/mlp.yaml: 40 batches of 256 a epoch, AdamW,
ReduceLROnPlateau on the validation loss, validation after every epoch), each in a fresh
process, alternating, with the same data, initial weights and thread count:

raw        the plain loop of benchmarks/bench_kink.py (tensor slicing, best weights kept in
           memory), with torch's default AdamW kernel (per-tensor on the CPU)
raw_fused  the same loop with the AdamW kernel the config asks for (fused)
fabric     the same loop through ``lightning.fabric`` (``fabric.setup`` of the network and
           optimizer, ``fabric.backward``): Lightning's thin layer, without the Trainer
lightning  a bare LightningModule around the same ``nn.Sequential`` and the config's AdamW
           kernel in a bare Trainer (no logger, checkpoint, progress bar or callback), fed by
           econdl's tensor-slicing loader, with Lightning's own hook dispatch and ``self.log``
manual     the same module with Lightning's manual optimization (``automatic_optimization =
           False``: the step calls ``manual_backward`` and the optimizer itself, and steps the
           schedule on the validation loss after each validation), Lightning's dispatch
fastpath   the same, with what econdl.fastpath removes from every econdl trainer (direct
           hook calls, no CUDA probe in each optimizer step of a CPU run, no move of a
           logged result to the device it is on, each hook's signature read once)
module     econdl's Regressor (its metrics and hooks) in the fastpath Trainer
shipped    econdl as users run it: the trainer defaults' callbacks, two loggers and checkpoints

The differences, per optimizer step, are the kernel's gain (raw - raw_fused), Fabric's layer
(fabric - raw_fused), Lightning's own share (lightning - raw_fused, of which lightning -
fabric is the Trainer's loop beyond Fabric), what manual optimization would save of it
(lightning - manual: the automatic loop's closure and its bookkeeping), what
econdl.fastpath removes of it (lightning - fastpath), econdl's model code (module -
fastpath) and econdl's run machinery (shipped - module).  Medians of the repeats, with
their min-max; nothing here is a target, it says where to cut.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import isolated, quiet_lightning  # noqa: E402

KINDS = ["raw", "raw_fused", "fabric", "lightning", "manual", "fastpath", "module", "shipped"]


def _bare_trainer(epochs: int) -> Any:
    import lightning as L

    return L.Trainer(
        max_epochs=epochs,
        min_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        accelerator="cpu",
        devices=1,
    )


def run(kind: str, epochs: int) -> tuple[float, int]:
    """Seconds of ``fit`` and optimizer steps for one way of training."""
    import lightning as L
    import torch

    from benchmarks import bench_kink
    from benchmarks.pair import econdl_fit, load_config

    quiet_lightning()
    fused = bool(load_config(bench_kink.CONFIG)["optimizer"]["init_args"].get("fused"))
    if kind in ("raw", "raw_fused"):
        out = bench_kink.raw_job(epochs, fused=kind == "raw_fused").fit()
        return out["seconds"], out["steps"]
    if kind == "fabric":
        out = fabric_fit(epochs, fused)[1]
        return out["seconds"], out["steps"]
    cli = bench_kink.econdl_side(epochs)
    if kind == "shipped":
        out = econdl_fit(cli)
        return out["seconds"], out["steps"]
    job = bench_kink.raw_job(epochs, fused=fused)  # the raw side's network, the config's optimizer and schedule
    if kind == "module":
        model: L.LightningModule = cli.model
    else:

        class Bare(L.LightningModule):
            def __init__(self) -> None:
                super().__init__()
                self.net = job.net
                self.automatic_optimization = kind != "manual"

            def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
                loss = job.loss_fn(self.net(batch[0]), batch[1])
                if not self.automatic_optimization:  # what Lightning's automatic loop does, by hand
                    opt = self.optimizers()
                    opt.zero_grad()
                    self.manual_backward(loss)
                    opt.step()
                return loss

            def validation_step(self, batch: Any, batch_idx: int) -> None:
                self.log("val/loss", job.loss_fn(self.net(batch[0]), batch[1]))

            def on_validation_epoch_end(self) -> None:
                if not self.automatic_optimization:  # manual optimization steps no schedule itself
                    self.lr_schedulers().step(self.trainer.callback_metrics["val/loss"])

            def configure_optimizers(self) -> Any:
                opt = torch.optim.AdamW(
                    self.parameters(), **{k: job.opt.defaults[k] for k in ("lr", "weight_decay", "fused")}
                )
                sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                    opt, mode=job.sched.mode, factor=job.sched.factor, patience=job.sched.patience
                )
                return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val/loss"}}

        model = Bare()
    trainer = _bare_trainer(epochs)  # the module keeps the config's optimizer and schedule
    from econdl.fastpath import fast

    with fast(trainer) if kind not in ("lightning", "manual") else lightnings_result_move():
        start = time.perf_counter()
        trainer.fit(model, datamodule=cli.datamodule)
        seconds = time.perf_counter() - start
    return seconds, trainer.global_step


def fabric_fit(epochs: int, fused: bool) -> tuple[Any, dict[str, Any]]:
    """The plain loop of the kink benchmark through ``lightning.fabric``: its job and result."""
    from lightning.fabric import Fabric

    from benchmarks import bench_kink

    fabric = Fabric(accelerator="cpu", devices=1, precision="32-true")
    job = bench_kink.raw_job(epochs, fused=fused)
    job.net, job.opt = fabric.setup(job.net, job.opt)  # the schedule steps the same optimizer inside
    return job, job.fit(backward=fabric.backward)


@contextlib.contextmanager
def result_move(fn: Any) -> Any:
    """``fn`` as ``_ResultMetric.to`` while the block runs, then whatever was there before."""
    from lightning.pytorch.trainer.connectors.logger_connector.result import _ResultMetric

    current = _ResultMetric.to
    _ResultMetric.to = fn  # type: ignore[method-assign]
    try:
        yield
    finally:
        _ResultMetric.to = current  # type: ignore[method-assign]


def lightnings_result_move() -> Any:
    """Lightning's own ``_ResultMetric.to`` while the block runs: building the data through
    ``EconCLI`` above has put econdl's in its place for the whole process."""
    from econdl import fastpath

    return result_move(fastpath._LIGHTNING_RESULT_TO)


BEGIN, END = "<!-- step_overhead: begin -->", "<!-- step_overhead: end -->"


def write_section(path: Path, text: str, name: str = "step_overhead") -> None:
    """Put ``text`` between the ``name`` section's markers in ``path`` (appended the first time)."""
    begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    old = path.read_text() if path.exists() else ""
    block = f"{begin}\n{text.rstrip()}\n{end}\n"
    if begin in old and end in old:
        new = old[: old.index(begin)] + block + old[old.index(end) + len(end) :].lstrip("\n")
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", type=Path, default=None, help="put the table in this Markdown file's section")
    args = parser.parse_args()
    per_step: dict[str, list[float]] = {k: [] for k in KINDS}
    for repeat in range(args.repeats):
        order = KINDS if repeat % 2 == 0 else KINDS[::-1]
        for kind in order:
            (seconds, steps), _ = isolated(run, kind, args.epochs)
            per_step[kind].append(1000 * seconds / steps)
            print(f"  repeat {repeat + 1} {kind:9s} {1000 * seconds / steps:.3f} ms/step ({steps} steps)", flush=True)
    med = {k: statistics.median(v) for k, v in per_step.items()}
    from benchmarks.run import machine

    lines = [
        "## Where a step's time goes (kink MLP)",
        "",
        f"`python benchmarks/step_overhead.py` ({args.epochs} epochs of 40 steps, validation after each, "
        f"{args.repeats} alternating repeats, each side in a fresh process; {time.strftime('%Y-%m-%d')}, "
        f"{machine()}).",
        "",
        "| side | ms per optimizer step (median) | min-max | vs raw |",
        "|---|---|---|---|",
    ]
    for kind in KINDS:
        values = per_step[kind]
        lines.append(
            f"| {kind} | {med[kind]:.3f} | {min(values):.3f}-{max(values):.3f} | {med[kind] / med['raw']:.2f} |"
        )
    lines += [
        "",
        f"Per step: the fused AdamW kernel saves {med['raw'] - med['raw_fused']:.3f} ms in the plain loop "
        "(raw - raw_fused; every side but raw uses it, as the config does); "
        f"Fabric's layer {med['fabric'] - med['raw_fused']:+.3f} ms (fabric - raw_fused); "
        f"Lightning's own loop {med['lightning'] - med['raw_fused']:+.3f} ms (lightning - raw_fused; "
        f"{med['lightning'] - med['fabric']:+.3f} ms beyond Fabric), of which manual optimization would save "
        f"{med['lightning'] - med['manual']:.3f} ms (lightning - manual) and "
        f"econdl.fastpath removes {med['lightning'] - med['fastpath']:.3f} ms (lightning - fastpath); econdl's "
        f"model code {med['module'] - med['fastpath']:+.3f} ms (module - fastpath), econdl's callbacks, "
        f"loggers and checkpoints {med['shipped'] - med['module']:+.3f} ms (shipped - module). "
        "A difference within the repeats' min-max (a negative one, for instance) is noise.",
    ]
    print("\n" + "\n".join(lines))
    if args.write:
        write_section(args.write, "\n".join(lines))
        print(f"written to {args.write}")


if __name__ == "__main__":
    main()
