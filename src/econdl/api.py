"""The Python API, for notebooks: the ``econdl fit`` and ``econdl compare`` commands as functions.

    import econdl
    run = econdl.fit("configs/kink/mlp.yaml", trainer__max_epochs=5)
    run.metrics["test/mse"], run.model, run.datamodule

    result = econdl.compare("configs/gdp/", seeds=3, trainer__max_epochs=50)
    result.table            # the comparison table (pandas)
    result.figures          # the run's plots (matplotlib figures)
    result                  # in Jupyter: the HTML report

Overrides are the command line's keys, in either of two spellings: a dict of dotted keys,
``overrides={"trainer.max_epochs": 5}``, or keyword arguments with ``__`` for each dot,
``trainer__max_epochs=5``.  Values are Python values (numbers, strings, booleans, None,
lists and dicts).
"""

from __future__ import annotations

import argparse
import json
import logging
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from econdl.errors import ConfigError, EcondlError


def cli_args(overrides: dict[str, Any] | None = None, **kwargs: Any) -> list[str]:
    """``{"trainer.max_epochs": 5}`` and ``trainer__max_epochs=5`` as ``["--trainer.max_epochs=5"]``."""
    if overrides is not None and not isinstance(overrides, dict):
        raise ConfigError(
            f"overrides={overrides!r} must be a dict of dotted keys, e.g. {{'trainer.max_epochs': 5}} "
            "(or keyword arguments: trainer__max_epochs=5)"
        )
    merged = dict(overrides or {})
    merged.update({key.replace("__", "."): value for key, value in kwargs.items()})
    args = []
    for key, value in merged.items():
        if key.startswith("-"):
            raise ConfigError(f"override {key!r}: give the key without dashes, e.g. 'trainer.max_epochs'")
        args.append(f"--{key}={_cli_value(value)}")
    return args


def _cli_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


@dataclass
class FitResult:
    """A fitted model, its data module, and the test metrics of its best checkpoint."""

    model: Any
    datamodule: Any
    metrics: dict[str, float]
    log_dir: Path | None
    trainer: Any = field(repr=False, default=None)


def fit(config: str | Path, overrides: dict[str, Any] | None = None, **kwargs: Any) -> FitResult:
    """Fit ``config`` as ``econdl fit --config CONFIG`` does (then test the best checkpoint)."""
    from econdl.cli import cli_main

    if Path(config).is_dir():
        raise ConfigError(
            f"config {config} is a folder: give econdl.fit one YAML file (e.g. configs/kink/mlp.yaml), or fit "
            f"every config in the folder with econdl.compare({str(config)!r})"
        )
    if not Path(config).is_file():
        raise FileNotFoundError(f"config {config} does not exist (give a YAML file, e.g. configs/kink/mlp.yaml)")
    with _one_line_errors():
        cli = cli_main(["fit", "--config", str(config), *cli_args(overrides, **kwargs)])
    trainer = cli.trainer
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    log_dir = Path(trainer.log_dir).resolve() if trainer.log_dir else None  # a notebook may change folder
    return FitResult(cli.model, cli.datamodule, metrics, log_dir, trainer)


class ComparisonResult:
    """What ``econdl.compare`` returns: ``table`` (pandas), ``figures`` (matplotlib), the per-class
    tables (``blocks``), the run directory (``out_dir``) and its ``report.html`` (``report``).
    Jupyter shows it as the HTML report."""

    def __init__(self, comparison: Any) -> None:
        self.comparison = comparison
        self.table: pd.DataFrame = comparison.table
        self.blocks: dict[str, pd.DataFrame] = comparison.blocks
        self.out_dir: Path = Path(comparison.out_dir)
        self.report: Path = self.out_dir / "report.html"
        self._figures: dict[str, Any] | None = None

    @property
    def figures(self) -> dict[str, Any]:
        """Every plot of the run (comparison plots and each model's), caption -> Figure."""
        if self._figures is None:
            from econdl.report.collect import collect

            self._figures = {caption: _png_figure(image) for caption, image in collect(self.out_dir).images}
        return self._figures

    def __str__(self) -> str:
        from econdl.report.console import comparison_text

        return comparison_text(self.table, self.blocks)

    def __repr__(self) -> str:
        return f"<econdl comparison of {len(self.table)} models in {self.out_dir}>"

    def _repr_html_(self) -> str:
        from econdl.report import render_body
        from econdl.report.collect import collect

        return render_body(collect(self.out_dir))


def _png_figure(image: Path | bytes) -> Any:
    """A matplotlib Figure showing a saved plot at its own size."""
    import io

    import matplotlib.pyplot as plt

    pixels = plt.imread(io.BytesIO(image) if isinstance(image, bytes) else image, format="png")
    dpi = 100
    fig = plt.figure(figsize=(pixels.shape[1] / dpi, pixels.shape[0] / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(pixels)
    ax.set_axis_off()
    plt.close(fig)  # shown when asked for, not once more at the end of the cell
    return fig


def compare(
    paths: str | Path | list[str | Path],
    overrides: dict[str, Any] | None = None,
    seeds: int = 1,
    out: str | Path | None = None,
    relative_to: str | None = None,
    workers: int | None = None,
    **kwargs: Any,
) -> ComparisonResult:
    """Fit every config under ``paths`` and compare them, as ``econdl compare`` does (same
    files, same ``report.html``); overrides go to every fit."""
    from econdl.compare import compare as run_compare
    from econdl.report.environment import command_line

    for name, value, least in (("seeds", seeds, 1), ("workers", workers, 1)):
        if value is None and name == "workers":
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{name}={value!r} must be a whole number, e.g. {name}={max(least, 2)}")
        if value < least:
            raise ConfigError(f"{name}={value} must be at least {least}")
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise ConfigError("compare needs at least one config file or folder, e.g. compare('configs/kink/')")
    args = cli_args(overrides, **kwargs)
    options = [*(["--seeds", str(seeds)] if seeds > 1 else []), *(["--out", str(out)] if out else [])]
    options += ["--relative_to", relative_to] if relative_to else []
    options += ["--workers", str(workers)] if workers else []
    command = command_line("compare", [*map(str, paths), *args, *options])
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:  # the fits' progress lines, not Lightning's for every one
            logger.setLevel(logging.WARNING)
        with _one_line_errors():
            result = run_compare(
                [str(p) for p in paths], args, str(out) if out else None, seeds, relative_to, workers, command=command
            )
    finally:  # the session's later calls log as before
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    return ComparisonResult(result)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """A mistake in the options raises ConfigError with the one line that ``econdl`` prints for
    it (the parser's own errors are trees of nested reasons); anything else passes unchanged."""
    from econdl.diagnose import diagnose

    try:
        yield
    except (argparse.ArgumentError, ValueError, TypeError) as err:
        if isinstance(err, EcondlError):
            raise
        found = diagnose(err)
        if found.kind != "user":
            raise
        raise ConfigError(found.message) from err


class _CallableModule(types.ModuleType):
    """The module ``econdl.compare`` that can also be called as ``econdl.compare(...)``.

    Importing the submodule ``econdl.compare`` (the command's code) sets the package attribute
    ``econdl.compare`` to the module, replacing any function of that name; a module that calls
    the API function keeps ``econdl.compare(paths, ...)`` working whichever came first."""

    def __call__(self, *args: Any, **kwargs: Any) -> ComparisonResult:
        return compare(*args, **kwargs)


def make_callable(module: Any) -> None:
    """Let ``module`` be called as ``econdl.api.compare`` (see ``_CallableModule``)."""
    module.__class__ = _CallableModule
