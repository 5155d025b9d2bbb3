"""Read a run directory (compare, fit or sweep) into what the report template shows."""

from __future__ import annotations

import base64
import html
import io
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from econdl.checkpointing import BEST_PREFIX
from econdl.errors import ConfigError
from econdl.metrics import column_name
from econdl.report.environment import environment, read_run_info
from econdl.report.outputs import left_out
from econdl.report.table import format_table


@dataclass
class ReportContent:
    """Everything one report shows; ``kind`` is ``compare``, ``fit`` or ``sweep``."""

    kind: str
    title: str
    run_dir: Path
    table: pd.DataFrame | None = None
    #: per-class tables: title -> list of (model, table)
    blocks: dict[str, list[tuple[str, pd.DataFrame]]] = field(default_factory=dict)
    #: (caption, PNG file or PNG bytes)
    images: list[tuple[str, Path | bytes]] = field(default_factory=list)
    #: (name, resolved config YAML)
    configs: list[tuple[str, str]] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    notes: list[str] = field(default_factory=list)


def _holds_a_run(folder: Path) -> bool:
    try:
        kind_of(folder)
    except ConfigError:
        return False
    return True


def kind_of(run_dir: Path) -> str:
    """Which command made ``run_dir``, from the files it holds."""
    if (run_dir / "trials.csv").is_file():
        return "sweep"
    if (run_dir / "table.csv").is_file():
        return "compare"
    if (run_dir / "config.yaml").is_file() or (run_dir / "metrics.csv").is_file():
        return "fit"
    raise ConfigError(
        f"{run_dir} holds no run: give a folder made by econdl compare (table.csv), "
        "econdl sweep (trials.csv) or econdl fit (config.yaml, e.g. logs/kink/mlp/version_0)"
    )


def collect(run_dir: Path) -> ReportContent:
    """The content of the report of ``run_dir``."""
    run_dir = Path(run_dir)
    if run_dir.is_file():
        runs = [folder for folder in run_dir.parents if _holds_a_run(folder)]
        hint = f": econdl report {runs[0]}" if runs else " (a folder of a compare, fit or sweep run)"
        raise ConfigError(f"{run_dir} is a file; econdl report takes the run directory that holds it{hint}")
    if not run_dir.is_dir():
        raise ConfigError(f"run directory {run_dir} does not exist (e.g. logs/kink/compare/version_0)")
    kind = kind_of(run_dir)
    content = {"compare": _compare, "fit": _fit, "sweep": _sweep}[kind](run_dir)
    content.environment = content.environment or {**environment(), "note": "taken when the report was made"}
    return content


def _compare(run_dir: Path) -> ReportContent:
    info = read_run_info(run_dir)
    table = pd.read_csv(run_dir / "table.csv", index_col=0)
    task = info.get("task") or (run_dir.parent.parent.name if run_dir.parent.name == "compare" else run_dir.name)
    content = ReportContent("compare", f"Comparison: {task}", run_dir, table=table)
    content.environment = info.get("environment", {})
    content.command = info.get("command", "")
    for title, file in info.get("blocks", {}).items():
        combined = pd.read_csv(run_dir / file, index_col=[0, 1])
        content.blocks[title] = [(m, combined.loc[m].rename_axis(None)) for m in combined.index.unique(level=0)]
    # the plots the comparison drew (older run_info.json files do not list them: every PNG there)
    drawn = [run_dir / name for name in info["plots"]] if "plots" in info else sorted(run_dir.glob("*.png"))
    content.images += [(_caption(p), p) for p in drawn if p.is_file()]
    gone = []
    for model, dirs in info.get("runs", {}).items():
        first = Path(dirs[0]) if dirs else None
        if first is None or not first.is_dir():
            gone.append(f"{model} ({first})" if first else model)
            continue
        content.images += [(f"{model}: {_caption(p)}", p) for p in sorted(first.glob("*.png"))]
        if (first / "config.yaml").is_file():
            short = [str(Path(*Path(d).parts[-4:])) for d in dirs]  # logs/<task>/<model>/version_N
            seeds = f" (seed runs: {', '.join(short)})" if len(dirs) > 1 else f" ({short[0]})"
            content.configs.append((model + seeds, (first / "config.yaml").read_text()))
    if gone:
        content.notes.append(
            f"the run folders of {', '.join(gone)} are gone (moved or deleted), so their plots and configs are "
            "not shown; the table is complete"
        )
    content.notes += left_out(info.get("failed", {}))
    if not info:
        content.notes.append("run_info.json is missing: configs, environment and command were not recorded")
    return content


def _fit(run_dir: Path) -> ReportContent:
    versioned = run_dir.name.startswith("version_")
    name = f"{run_dir.parent.parent.name}/{run_dir.parent.name}" if versioned else run_dir.name
    content = ReportContent("fit", f"Fit: {name}", run_dir)
    metrics = run_dir / "metrics.csv"
    if metrics.is_file():
        frame = pd.read_csv(metrics)
        tested = [c for c in frame.columns if c.startswith("test/") and frame[c].notna().any()]
        tested.sort(key=lambda c: FIT_ORDER.index(c) if c in FIT_ORDER else len(FIT_ORDER))  # scores first
        last = {column_name(c): frame[c].dropna().iloc[-1] for c in tested}
        loss, rmse = last.get("test_loss"), last.get("test_rmse")
        if loss is not None and rmse is not None and not math.isclose(loss, rmse**2, rel_tol=1e-3):
            # a loss on standardised targets (GDP) beside errors in the data's units: say which is which
            last = {("test loss (standardised units)" if k == "test_loss" else k): v for k, v in last.items()}
        if last:
            content.table = pd.DataFrame([last], index=pd.Index([name], name="model"))
        curve = loss_curve(frame)
        if curve is not None:
            content.images.append(("training and validation loss by epoch", curve))
    content.images += [(_caption(p), p) for p in sorted(run_dir.glob("*.png"))]
    table_file = run_dir / "class_accuracy.csv"
    if table_file.is_file():
        content.blocks["accuracy per class"] = [(name, pd.read_csv(table_file, index_col=0).rename_axis(None))]
    config = run_dir / "config.yaml"
    if config.is_file():
        content.configs.append((name, config.read_text()))
        content.command = f"econdl fit --config {shlex.quote(str(config))}"
    predictions = run_dir / "predictions.csv"
    if not metrics.is_file() and predictions.is_file():  # an `econdl predict` run
        rows = len(pd.read_csv(predictions))
        content.kind, content.title = "predict", f"Predictions: {name}"
        content.notes.append(
            f"an econdl predict run: {rows:,} prediction{'s are' if rows != 1 else ' is'} in {predictions} (a "
            "prediction has no score; `econdl test` scores the checkpoint on the test set)"
        )
    elif not metrics.is_file():
        content.notes.append(
            "no metrics.csv: the run had no CSV logger (--trainer.logger false), or it ended before it "
            "wrote a row, so there are no results to show"
        )
    elif content.table is None:
        content.notes.append(_untested(run_dir, config))
    return content


#: the order of a fit report's scores (others follow in metrics.csv's order)
FIT_ORDER = ["test/acc", "test/rmse", "test/mae", "test/max_abs_err", "test/loss"]


def _untested(run_dir: Path, config: Path) -> str:
    """What a fit report without test results says: why there are none, and how to get them."""
    note = (
        "no test results: the fit ended before its test (stopped by Ctrl+C, SIGTERM or a kill, or run with "
        "test_after_fit false)"
    )
    last = run_dir / "checkpoints" / "last.ckpt"
    note += _how_far(run_dir, last)
    quoted = shlex.quote(str(config))
    commands = []
    if config.is_file() and last.is_file():
        commands.append(f"`econdl fit --config {quoted} --ckpt_path last` finishes an unfinished fit and tests it")
    if config.is_file() and list((run_dir / "checkpoints").glob(f"{BEST_PREFIX}*.ckpt")):
        commands.append(
            f"`econdl test --config {quoted} --ckpt_path best` tests the best checkpoint so far (into a run "
            "folder of its own)"
        )
    return note + (f"; {', and '.join(commands)}" if commands else "")


def _how_far(run_dir: Path, last: Path) -> str:
    """How far an unfinished fit got: the last epoch metrics.csv holds, and last.ckpt's."""
    from econdl.checkpoint_check import read_checkpoint
    from econdl.errors import CheckpointError

    parts: list[str] = []
    try:
        epochs = pd.read_csv(run_dir / "metrics.csv")["epoch"].dropna()
        if len(epochs):
            parts.append(f"metrics.csv holds {_epochs(int(epochs.max()) + 1)}")
    except (OSError, KeyError, ValueError, pd.errors.ParserError):
        pass
    if last.is_file():
        try:
            loops = read_checkpoint(last).get("loops") or {}
            done = loops.get("fit_loop", {}).get("epoch_progress", {}).get("current", {}).get("completed")
            parts += [f"last.ckpt holds {_epochs(done)} done"] if isinstance(done, int) else []
        except CheckpointError:
            parts.append("last.ckpt cannot be read")
    else:
        parts.append("no last.ckpt was written (a fit killed before its first one starts anew)")
    return f" ({'; '.join(parts)})" if parts else ""


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' * (n != 1)}"


def _sweep(run_dir: Path) -> ReportContent:
    trials = pd.read_csv(run_dir / "trials.csv", index_col=0)
    trials.index.name = "trial"
    content = ReportContent("sweep", f"Sweep: {run_dir.name}", run_dir, table=trials)
    content.images += [(_caption(p), p) for p in sorted(run_dir.glob("*.png"))]
    best = run_dir / "best_config.yaml"
    if best.is_file():
        content.configs.append(("best trial", best.read_text()))
        content.command = f"econdl fit --config {shlex.quote(str(best))}"
    command = run_dir / "command.txt"
    if command.is_file():
        content.command = command.read_text().strip() + (f"\n{content.command}" if content.command else "")
    return content


def _caption(path: Path) -> str:
    return path.stem.replace("_", " ")


def loss_curve(metrics: pd.DataFrame) -> bytes | None:
    """PNG of train/val loss by epoch from a run's metrics.csv (None when not logged)."""
    cols = [c for c in ("train/loss", "val/loss") if c in metrics.columns and metrics[c].notna().sum() > 1]
    if not cols or "epoch" not in metrics.columns:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogFormatterSciNotation, MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for col in cols:
        series = metrics[["epoch", col]].dropna().groupby("epoch")[col].last()
        ax.plot(series.index, series.values, marker=".", label=col)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    if (metrics[cols].min() > 0).all():
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def data_uri(image: Path | bytes) -> str:
    """A PNG as a ``data:`` URI, so the report needs no other file."""
    raw = image if isinstance(image, bytes) else Path(image).read_bytes()
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def table_html(table: pd.DataFrame) -> tuple[str, list[str]]:
    """The formatted table as HTML (best values in <strong>) and its caption lines."""
    formatted = format_table(table)
    formatted.cells = formatted.cells.map(html.escape)  # "<0.001" is text, not markup
    formatted.cells.index = [html.escape(str(i)) for i in formatted.cells.index]
    formatted.best.index = formatted.cells.index
    cells = formatted.marked(("<strong>", "</strong>"))
    cells.index.name = None
    cells.columns.name = table.index.name or "model"
    return cells.to_html(escape=False, classes="results", border=0), formatted.caption
