"""``econdl compare``: fit several configs on the same data and put them in one table.

    econdl compare configs/kink/                       every *.yaml in the folder
    econdl compare configs/kink/mlp.yaml configs/kink/chebyshev.yaml
    econdl compare configs/mnist/ --data.data_dir DIR  overrides go to every fit
    econdl compare configs/gdp/ --seeds 5              5 seeds of each gradient-trained model

Each config is fitted exactly as ``econdl fit --config FILE`` would (its own run
directory, best checkpoint tested).  The models' test-set predictions are then
scored by the DataModule (``score``), so every row is measured the same way, and
the table is printed and written with a plot to ``logs/<task>/compare/version_N/`` (under
``--trainer.default_root_dir`` or a logger ``save_dir`` given on the command line, where the fits go).
"""

from __future__ import annotations

import argparse
import re
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import yaml

from econdl import interrupt
from econdl.api import make_callable
from econdl.argv import option_values
from econdl.attached import callbacks_of
from econdl.cli import cli_main, next_version
from econdl.diagnose import _argument_message, diagnose, one_line, suggest
from econdl.errors import ConfigError, ConfigFileNotFound, EcondlError, missing_config
from econdl.metrics import column_name
from econdl.nets import count_parameters
from econdl.report.console import Progress, planned_fits, print_comparison
from econdl.diagnose import unknown_trainer_option
from econdl.report.environment import command_line
from econdl.report.outputs import add_significance, finish_compare
from econdl.report.table import missing_as_none

USAGE = """usage: econdl compare PATH [PATH ...] [--out DIR] [--KEY VALUE ...]

PATH     a config file, or a folder whose *.yaml files are all fitted (in name order)
--out    a new or empty folder for table.csv, table.md and the plot (default
         logs/<task>/compare/version_N, or under --trainer.default_root_dir / a logger save_dir
         given here, beside the fits)
--seeds N     fit each gradient-trained config with seeds 0..N-1 (--seed_everything) and report
              the mean and standard deviation (_std) of the score columns; closed-form models fit once
--relative_to MODEL   add test RMSE / test RMSE of MODEL (default: the DataModule's relative_to)
--workers N   fits run at once in worker processes (default: one per CPU core, 1 with a GPU
              or several devices); the table equals a sequential run's (--workers 1)
--KEY VALUE   any `econdl fit` option, passed to every fit (e.g. --trainer.max_epochs 3)
"""


@dataclass
class Comparison:
    """The comparison table and where its files went."""

    table: pd.DataFrame
    out_dir: Path
    files: list[Path]
    #: extra tables contributed by callbacks (``comparison_block()``): title -> one block per model
    blocks: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: models whose fit failed on a mistake in the config or data: name -> the one-line reason
    failed: dict[str, str] = field(default_factory=dict)


class IncompleteComparison(EcondlError):
    """Some models of a comparison could not be fitted; the table of the others was written."""


def find_configs(paths: list[str]) -> list[Path]:
    """Expand folders into their YAML configs; fail naming any path that is not there."""
    configs: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
            if not found:
                raise ConfigFileNotFound(f"no *.yaml configs in folder {path}")
            configs.extend(found)
        elif path.is_file():
            configs.append(path)
        else:
            raise ConfigFileNotFound(missing_config(str(path)))
    return configs


def split_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """Separate config paths from the overrides passed to every fit (``--KEY VALUE``)."""
    paths: list[str] = []
    overrides: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in ("-h", "--help"):
            print(USAGE)
            sys.exit(0)
        if token.startswith("--"):
            overrides.append(token)
            if "=" not in token and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                overrides.append(argv[i + 1])
                i += 1
        else:
            paths.append(token)
        i += 1
    if not paths:
        raise ConfigError("econdl compare needs at least one config file or folder, e.g. configs/kink/")
    return paths, overrides


def fit_one(config: Path, overrides: list[str]) -> dict[str, Any]:
    """Fit one config as `econdl fit` does; return its model, data and test predictions."""
    quiet = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
    try:
        cli = cli_main(["fit", "--config", str(config), *overrides, *quiet], verbose_test=False)
    except argparse.ArgumentError as err:
        message = _argument_message(err)
        # an option this config does not take is said by these two; every other refusal is of the value
        # (a wrong type, a class path that is none: "Expected a dot import path string"), every config's
        if not re.search(r"Option '[^']+' is not accepted|unrecognized arguments", message):
            raise ConfigError(f"{suggest(message)} (config {config})") from None
        raise ConfigError(  # an option this config does not take: the others may
            f"{message} by {config}: econdl compare gives every option on its command line to "
            "every config; compare the configs that take it, or set it in a copy of this config"
        ) from None
    except EcondlError:  # already the user's one line, with its exit code and kind
        raise
    except (ValueError, TypeError) as err:  # a value a data module or model refused, wrapped by the parser:
        found = diagnose(err)  # the config's mistake, as `econdl fit` reports it, and not a traceback (nor,
        if found.kind != "user":  # from a worker process, an exception that lost its cause on the way)
            raise
        raise ConfigError(found.message) from None
    trainer, model, dm = cli.trainer, cli.model, cli.datamodule
    if hasattr(dm, "predict_split"):  # a DataModule whose `predict` forecasts beyond the test split
        dm.predict_split = "test"
    for callback in callbacks_of(trainer):  # one line per fit, not one per file
        if hasattr(callback, "quiet"):
            callback.quiet = True
    outputs = trainer.predict(model, datamodule=dm) or []
    batches = [b for b in outputs if isinstance(b, torch.Tensor)]
    if len(batches) != len(outputs):  # a list per dataloader, or non-tensor outputs
        raise TypeError(f"{config}: compare needs one predict dataloader whose predict_step returns a tensor")
    prediction = torch.cat([b.detach().cpu() for b in batches]) if batches else torch.empty(0)
    refit_s = None
    if hasattr(dm, "rolling_predictions"):  # rolling-origin evaluation, when the DataModule asks for it
        start = time.perf_counter()
        rolled = dm.rolling_predictions(trainer, model)
        if rolled is not None:
            prediction, refit_s = rolled, time.perf_counter() - start
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    return {
        "model": model,
        "data": dm,
        "prediction": prediction,
        "metrics": metrics,
        "fit_s": cli.fit_seconds,
        "refit_s": refit_s,
        "log_dir": trainer.log_dir,
        "blocks": callback_blocks(trainer),
    }


def callback_blocks(trainer: Any) -> list[tuple[str, pd.DataFrame]]:
    """Tables that callbacks offer to the comparison (e.g. accuracy per class), as (title, table)."""
    found = [cb.comparison_block() for cb in trainer.callbacks if hasattr(cb, "comparison_block")]
    return [b for b in found if b is not None]


def seed_mean_blocks(runs: list[dict[str, Any]]) -> list[tuple[str, pd.DataFrame]]:
    """The callbacks' tables of a model's first run; with several seeds, each cell is the mean
    over the seeds (as the score columns of the table are), e.g. accuracy per class."""
    blocks = []
    for title, block in runs[0].get("blocks", []):
        same = [b for run in runs for t, b in run.get("blocks", []) if t == title]
        blocks.append((title, sum(same[1:], same[0]) / len(same) if len(same) == len(runs) else block))
    return blocks


def write_blocks(
    per_title: dict[str, dict[str, pd.DataFrame]], out_dir: Path
) -> tuple[dict[str, pd.DataFrame], list[Path]]:
    """Stack each title's per-model tables (one block per model) and write CSV and Markdown."""
    blocks, files = {}, []
    for title, by_model in per_title.items():
        combined = pd.concat(by_model, names=["model", "set"])
        combined.columns.name = None
        slug = "_".join(title.lower().split())
        combined.to_csv(out_dir / f"{slug}.csv")
        md = [
            f"**{model}**\n\n{missing_as_none(block).to_markdown(floatfmt='.2f', missingval='-')}\n"
            for model, block in by_model.items()
        ]
        (out_dir / f"{slug}.md").write_text("\n".join(md))
        blocks[title] = combined
        files += [out_dir / f"{slug}.csv", out_dir / f"{slug}.md"]
    return blocks, files


def row_for(name: str, run: dict[str, Any]) -> dict[str, Any]:
    dm, model = run["data"], run["model"]
    row: dict[str, Any] = {"model": name}
    if hasattr(dm, "score"):
        row.update(dm.score(run["prediction"]))
    else:
        row.update({column_name(k): v for k, v in run["metrics"].items()})
    if hasattr(dm, "describe_model"):
        row.update(dm.describe_model(model))
    row["params"] = count_parameters(model)
    row["fit_s"] = round(run["fit_s"] or float("nan"), 2)
    if run.get("refit_s") is not None:
        row["refit_s"] = round(run["refit_s"], 2)
    return row


def fit_seeds(
    config: Path, overrides: list[str], seeds: int, progress: Callable[..., None] | None = None
) -> list[dict[str, Any]]:
    """Fit ``config`` with seeds 0..seeds-1; a closed-form model (``exact_pass``) only once.
    ``progress(config, seed, seeds)`` is called before each fit (one line per fit)."""
    progress = progress or (lambda *args: None)
    progress(config, 0 if seeds > 1 else None, seeds)
    if seeds <= 1:
        return [fit_one(config, overrides)]
    runs = [fit_one(config, [*overrides, "--seed_everything=0"])]
    if getattr(runs[0]["model"], "exact_pass", False):
        return runs
    for seed in range(1, seeds):
        progress(config, seed, seeds)
        runs.append(fit_one(config, [*overrides, f"--seed_everything={seed}"]))
    return runs


def fit_in_parallel(
    configs: list[Path], overrides: list[str], seeds: int, workers: int | None, threads: int
) -> dict[Path, list[dict[str, Any]] | EcondlError] | None:
    """Every config's runs fitted in worker processes, or None when one process does it all."""
    from econdl import parallel

    jobs = len(parallel.plan(configs, seeds, parallel.cpu_slots()))
    n = parallel.default_workers(overrides, jobs) if workers is None else min(workers, jobs)
    if n <= 1:
        return None
    print(f"[compare] fitting {len(configs)} configs in {n} worker processes ...", flush=True)
    return parallel.fit_all(configs, overrides, seeds, n, fit_one, threads)


def summary_row(name: str, runs: list[dict[str, Any]], seeds: int) -> dict[str, Any]:
    """One table row: the run's scores, or over several seeds their mean and std (``_std``)."""
    rows = [row_for(name, run) for run in runs]
    if seeds <= 1:
        return rows[0]
    frame = pd.DataFrame(rows)
    dm = runs[0]["data"]
    scored = list(dm.score(runs[0]["prediction"])) if hasattr(dm, "score") else list(runs[0]["metrics"])
    row: dict[str, Any] = {}
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        row[col] = frame[col].mean() if numeric else frame[col].iloc[0]
        if numeric and column_name(col) in {column_name(k) for k in scored}:
            row[f"{col}_std"] = frame[col].std(ddof=1) if len(frame) > 1 else 0.0
    row["seeds"] = len(runs)
    return row


def add_relative(table: pd.DataFrame, reference: str | None, explicit: bool, column: str = "test_rmse") -> None:
    """Add ``rmse_vs_<reference>`` = each row's ``column`` / the reference row's (< 1: beats it)."""
    if reference is None or column not in table.columns:
        return
    if reference not in table.index:
        if explicit:
            raise ConfigError(
                f"--relative_to {reference}: no such model in the table; choose one of {list(table.index)}"
            )
        return
    at = table.columns.get_loc(f"{column}_std") if f"{column}_std" in table.columns else table.columns.get_loc(column)
    table.insert(at + 1, f"rmse_vs_{reference}", table[column] / table.loc[reference, column])


def pop_option(argv: list[str], name: str) -> tuple[str | None, list[str]]:
    """Remove ``--name VALUE`` (or ``--name=VALUE``) from argv; return VALUE and the rest."""
    rest, value, i = [], None, 0
    while i < len(argv):
        token = argv[i]
        if token == f"--{name}":
            if i + 1 >= len(argv):
                raise ConfigError(f"--{name} needs a value")
            value, i = argv[i + 1], i + 2
            continue
        if token.startswith(f"--{name}="):
            value = token.split("=", 1)[1]
        else:
            rest.append(token)
        i += 1
    return value, rest


def _option(overrides: list[str], name: str) -> str | None:
    """The last value the command-line ``overrides`` give ``--name`` (``--name=V`` or ``--name V``)."""
    values = option_values(overrides, f"--{name}")
    return values[-1] if values else None


def runs_root(overrides: list[str]) -> Path:
    """Where the fits of these overrides put their runs, so the comparison goes beside them: a
    logger save_dir given on the command line, else --trainer.default_root_dir, else logs."""
    chosen = _option(overrides, "trainer.logger.init_args.save_dir") or _option(overrides, "trainer.default_root_dir")
    return Path(chosen or "logs")


def compare(
    paths: list[str],
    overrides: list[str] | None = None,
    out: str | None = None,
    seeds: int = 1,
    relative_to: str | None = None,
    workers: int | None = None,
    command: str | None = None,
) -> Comparison:
    """Fit every config under ``paths`` (``seeds`` times for gradient-trained ones) and
    write the comparison table and plot.  ``workers`` fits run at once in separate
    processes (None: ``parallel.default_workers``; 1: all in this process, in order).
    ``command`` is recorded in the run directory as the way to reproduce it."""
    from econdl import parallel

    configs = find_configs(paths)
    overrides = overrides or []
    _check_out(out)  # before any fit: a comparison never writes over files already there
    typo = unknown_trainer_option(overrides)  # every config would refuse it, each in a fit of its own
    if typo:
        raise ConfigError(f"{typo}; nothing was fitted")
    _check_reference(configs, overrides, relative_to)  # before any fit, not after all of them
    _check_names_and_data(configs, overrides)
    trial = _option(overrides, "trainer.fast_dev_run")
    if trial is not None and trial.lower() not in ("false", "0", "none", "null"):
        raise ConfigError(
            f"--trainer.fast_dev_run {trial}: a trial run fits a batch or two without logs or checkpoints, "
            "so it has no results to compare; try a config with `econdl fit --config FILE --trainer.fast_dev_run "
            "true`, or shorten the comparison with --trainer.max_epochs or smaller data"
        )
    limit = _option(overrides, "trainer.max_time")
    if limit is not None and limit.lower() not in ("none", "null"):
        raise ConfigError(
            f"--trainer.max_time {limit}: a comparison tables its fits as finished, and a time limit would cut "
            "some short (each at another epoch, by the machine's speed); limit them with --trainer.max_epochs, "
            "or fit the config on its own with econdl fit --trainer.max_time and --ckpt_path last"
        )
    # every fit gets the same thread count, parallel or not, so --workers never changes a digit
    threads = parallel.fit_threads(overrides, len(parallel.plan(configs, seeds, parallel.cpu_slots())))
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with interrupt.driving("compare"), interrupt.stop_on_sigterm():  # a compare's fits start anew
            fitted = fit_in_parallel(configs, overrides, seeds, workers, threads)
            return _tabulate(configs, fitted, paths, overrides, out, seeds, relative_to, command)
    except (KeyboardInterrupt, SystemExit) as stop:
        name = interrupt.stop_reason(stop)
        if name is None:
            raise
        raise ComparisonStopped(
            f"econdl compare: stopped by {name} before the comparison was complete; no table was written, and "
            f"the runs of the fits done so far are kept in {runs_root(overrides)}; run the same command again "
            "to compare them all (its fits start anew)"
        ) from None
    finally:
        torch.set_num_threads(threads_before)


class ComparisonStopped(KeyboardInterrupt):
    """Ctrl+C or SIGTERM stopped a comparison; the message says what is kept and how to go on."""


def _check_out(out: str | None) -> None:
    """``--out`` must be a new or empty folder: a comparison written into a used one would replace
    its files (another comparison's table, a fit's predictions.csv) and mix its plots with theirs."""
    if out is None:
        return
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the comparison's table and report")
    held = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if held:
        shown = ", ".join(held[:4]) + (f" and {len(held) - 4} more" if len(held) > 4 else "")
        raise ConfigError(
            f"--out {out} already holds files ({shown}); nothing was fitted, and nothing there is replaced. "
            "Give a new folder, or leave --out out (each comparison gets a new logs/<task>/compare/version_N), "
            "or delete that folder first"
        )


def _check_reference(configs: list[Path], overrides: list[str], relative_to: str | None) -> None:
    """A reference model (``--relative_to`` or ``--data.relative_to``) must be one of the
    configs compared (a model is named after its config file)."""
    chosen = _option(overrides, "data.relative_to") or _option(overrides, "data.init_args.relative_to")
    for option, reference in (("--relative_to", relative_to), ("--data.relative_to", chosen)):
        names = [config.stem for config in configs]
        if reference is not None and reference not in names:
            raise ConfigError(f"{option} {reference}: no such model in the comparison; choose one of {names}")


def _data_class(config: Path, overrides: list[str]) -> str | None:
    """The data module's class path that ``config`` (with ``overrides``) names, if it names one."""
    chosen = _option(overrides, "data.class_path") or _option(overrides, "data")
    if chosen:
        return chosen
    try:
        data = (yaml.safe_load(config.read_text()) or {}).get("data")
    except (OSError, yaml.YAMLError, AttributeError):
        return None  # the fit names what is wrong with the file
    return str(data["class_path"]) if isinstance(data, dict) and data.get("class_path") else None


def _check_names_and_data(configs: list[Path], overrides: list[str]) -> None:
    """Before any fit: every row gets its own name (the config's file name), and every config
    reads its data with one of econdl's data modules, the same for all (the table compares
    predictions of the same test set; which one is checked after the fits)."""
    import importlib

    from econdl.data.base import InMemoryDataModule

    seen: dict[str, Path] = {}
    for config in configs:
        if config.stem in seen:
            raise ConfigError(
                f"{seen[config.stem]} and {config} would both be the row {config.stem!r} of the table (rows are "
                "named by file name): compare a config once, and give configs of the same name other names "
                "(a copy under another name)"
            )
        seen[config.stem] = config
    first: tuple[Path, str, type] | None = None
    for config in configs:
        name = _data_class(config, overrides)
        if name is None:
            continue
        module, _, attr = name.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except Exception:
            continue  # a short class name, or one the fit will say cannot be imported
        if isinstance(cls, type) and not issubclass(cls, InMemoryDataModule):
            raise ConfigError(
                f"{config} reads its data with {name}, which is not one of econdl's data modules: econdl compare "
                "builds its table from the test targets and predictions that econdl's data modules give; "
                "subclass econdl.data.RegressionDataModule and return your tensors from its build() (README, "
                "'Your own data and networks'), or fit the config with econdl fit"
            )
        if not isinstance(cls, type):
            continue
        if first is not None and cls is not first[2]:  # one class under two paths is one class
            raise ConfigError(
                f"{config} reads its data with {name} and {first[0]} with {first[1]}: configs compared in one "
                "table must share their data (compare each task's configs on their own)"
            )
        first = first or (config, name, cls)


def _tabulate(
    configs: list[Path],
    fitted: dict[Path, list[dict[str, Any]] | EcondlError] | None,
    paths: list[str],
    overrides: list[str],
    out: str | None,
    seeds: int,
    relative_to: str | None,
    command: str | None,
) -> Comparison:
    """Fit what ``fitted`` does not hold yet, in this process, then build and write the table."""
    rows: list[dict[str, Any]] = []
    predictions: dict[str, torch.Tensor] = {}
    dm: Any = None  # the DataModule of the configs (they must share it), once one has run
    dm_config: Path | None = None  # the config it came from
    all_runs: dict[str, list[dict[str, Any]]] = {}
    run_dirs: dict[str, list[str]] = {}
    progress = Progress(planned_fits(configs, seeds))
    extra_blocks: dict[str, dict[str, pd.DataFrame]] = {}
    failed: dict[str, EcondlError] = {}
    for config in configs:
        name = config.stem
        try:
            runs = fit_seeds(config, overrides, seeds, progress) if fitted is None else fitted[config]
            if isinstance(runs, EcondlError):  # failed in a worker process
                raise runs
        except EcondlError as err:  # the config's or the data's mistake: the other models still count
            failed[name] = err
            print(f"      {name}: failed: {one_line(str(err))}", flush=True)
            continue
        run = runs[0]
        if (
            dm is not None
            and hasattr(dm, "test_targets")
            and not torch.equal(dm.test_targets(), run["data"].test_targets())
        ):
            raise ConfigError(
                f"{config} uses different test data from {dm_config}: configs compared together must make "
                "the same test set (the same data settings: sizes, seed, file, split fractions)"
            )
        dm, dm_config = run["data"], config
        rows.append(summary_row(name, runs, seeds))
        predictions[name] = run["prediction"]
        all_runs[name] = runs
        run_dirs[name] = [str(r["log_dir"]) for r in runs]
        for title, block in seed_mean_blocks(runs):
            extra_blocks.setdefault(title, {})[name] = block
        where = f"run in {run['log_dir']}"
        if len(runs) > 1:
            others = [str(Path(r["log_dir"]).name) for r in runs[1:]]
            where = f"runs in {run['log_dir']} (seed 0) and {', '.join(others)} beside it"
        print(f"      {name}: done in {rows[-1]['fit_s']:.1f} s, {where}", flush=True)

    if not rows:
        raise next(iter(failed.values()))  # nothing to compare: the first model's reason, as a fit gives it
    # the splits every model was fitted and tested on, and the copies of training examples in
    # them, said once (the fits do not)
    for note in (getattr(dm, "counts_note", None), getattr(dm, "copies_note", None)):
        if note is not None and (said := note()):
            print(f"{dm.label}: {said}", flush=True)
    table = pd.DataFrame(rows).set_index("model")
    chosen = _option(overrides, "data.relative_to") or _option(overrides, "data.init_args.relative_to")
    add_relative(
        table, relative_to or getattr(dm, "relative_to", None), explicit=relative_to is not None or chosen is not None
    )
    table = add_significance(table, {name: [r["prediction"] for r in runs] for name, runs in all_runs.items()}, dm)
    # beside the fits: logs/<task>/compare, <task> being the first fit's (its config's folder)
    compare_root = Path(next(iter(run_dirs.values()))[0]).parent.parent / "compare"
    out_dir = Path(out) if out else compare_root / f"version_{next_version(compare_root)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    forecast_files: list[Path] = []
    if hasattr(dm, "horizon_table"):  # forecasts: a row per model and horizon, tests against the reference
        reference = relative_to or getattr(dm, "relative_to", None)
        table, forecast_files = dm.horizon_table(table, all_runs, reference, relative_to is not None, out_dir)
    files = [out_dir / "table.csv"]
    table.to_csv(files[0])
    plot = dm.plot_predictions(predictions, out_dir / "predictions.png") if hasattr(dm, "plot_predictions") else None
    if plot is not None:
        files.append(plot)
    blocks, block_files = write_blocks(extra_blocks, out_dir)
    block_csvs = dict(zip(blocks, block_files[::2], strict=True))  # (csv, md) per title
    seeds_arg = ["--seeds", str(seeds)] if seeds > 1 else []
    command = command or command_line("compare", [*map(str, paths), *overrides, *seeds_arg])
    reasons = {name: one_line(str(err)) for name, err in failed.items()}
    plots = [f.name for f in [*files, *forecast_files] if f.suffix == ".png"]
    files += finish_compare(out_dir, table, run_dirs, block_csvs, command, reasons, compare_root.parent.name, plots)
    return Comparison(table, out_dir, files + forecast_files + block_files, blocks, reasons)


def compare_main(argv: list[str]) -> Comparison:
    """The ``econdl compare`` subcommand."""
    command = command_line("compare", argv)
    seeds_arg, argv = pop_option(argv, "seeds")
    relative_to, argv = pop_option(argv, "relative_to")
    out, argv = pop_option(argv, "out")
    workers_arg, argv = pop_option(argv, "workers")
    try:
        workers = None if workers_arg is None else int(workers_arg)
    except ValueError:
        raise ConfigError(f"--workers {workers_arg}: give a whole number of processes, e.g. --workers 2") from None
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers} must be at least 1 (1 fits everything in this process)")
    try:
        seeds = int(seeds_arg or 1)
    except ValueError:
        raise ConfigError(f"--seeds {seeds_arg}: give a whole number of seeds, e.g. --seeds 5") from None
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds} must be at least 1")
    paths, overrides = split_args(argv)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with interrupt.stop_on_sigterm():
        try:
            result = compare(paths, overrides, out, seeds, relative_to, workers, command=command)
        except KeyboardInterrupt as stop:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping: a second Ctrl+C must not cut it short
            interrupt.tell(
                str(stop)
                if isinstance(stop, ComparisonStopped)
                else f"econdl compare: stopped by {interrupt.stop_reason(stop) or 'SIGINT'} before the comparison "
                "was complete; run the same command again to compare them all"
            )
            raise SystemExit(1) from None
        try:
            print_comparison(result)
        except KeyboardInterrupt as stop:  # the comparison is written; only its printing was cut short
            interrupt.tell(
                f"econdl compare: stopped by {interrupt.stop_reason(stop) or 'SIGINT'} while printing the table; "
                f"the comparison is complete, its table and report are in {result.out_dir}"
            )
            raise SystemExit(1) from None
    if result.failed:
        for name, reason in result.failed.items():
            print(f"failed: {name}: {reason}", flush=True)
        done = ", ".join(result.table.index.unique())
        raise IncompleteComparison(
            f"{len(result.failed)} of {len(result.failed) + result.table.index.nunique()} models could not be fitted "
            f"({', '.join(result.failed)}; the reasons are above); the table of the others ({done}) is in "
            f"{result.out_dir}. Fix those configs or the data for them, or leave them out of the comparison"
        )
    return result


# `econdl.compare(paths, ...)` is the Python API although this module has the same name.
make_callable(sys.modules[__name__])
