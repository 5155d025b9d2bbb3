"""``econdl sweep``: hyper-parameter search with Optuna, every trial a normal ``econdl fit``.

    econdl sweep --config configs/sweeps/kink_mlp.yaml
    econdl sweep --config configs/sweeps/kink_mlp.yaml --storage postgresql://user@host/econdl  # on each machine
    econdl sweep --config configs/sweeps/kink_mlp.yaml --trainer.max_epochs=5   # any fit key, every trial

Trials never touch the test data (``--test_after_fit=false``); the objective is the
monitored validation metric.  Results go to ``logs/sweeps/<study>/`` (``logs`` being
``--trainer.default_root_dir`` where one is given): ``trials.csv``,
``trials.md``, ``sweep.png`` and ``best_config.yaml`` (accepted by ``econdl fit --config``).
``--test_best`` fits that config once more and tests it.  See ``docs/sweep.md``.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import TrialState
import pandas as pd
import yaml

from econdl.sweep.parse import FitParser, check_search_space
from econdl.files import write_atomic
from econdl.sweep.results import best_config, importances, plot_sweep, trials_table
from econdl.sweep.spec import Param, SweepSpec, load_spec
from econdl.sweep.study import (
    SweepFailed,
    SweepInterrupted,
    Worker,
    check_same_settings,
    make_pruner,
    make_sampler,
    open_storage,
    open_study,
    trial_settings,
)
from econdl import interrupt
from econdl.compare import runs_root
from econdl.errors import ConfigError

__all__ = ["Param", "SweepResult", "SweepSpec", "load_spec", "run_sweep", "sweep_main"]


@dataclass
class SweepResult:
    """What one worker leaves: the trials table, the output folder and its files."""

    table: pd.DataFrame
    out_dir: Path
    best_config: Path | None
    ran: int
    files: list[Path] = field(default_factory=list)
    test_metrics: dict[str, float] = field(default_factory=dict)


def run_sweep(
    spec: SweepSpec,
    extra: list[str] | None = None,
    out: str | Path | None = None,
    test_best: bool = False,
) -> SweepResult:
    """Run trials of ``spec`` until its shared budget is used, then write the results."""
    extra = extra or []
    out_dir = Path(out) if out else runs_root(extra) / "sweeps" / spec.study_name
    if str(spec.sampler.get("name", "tpe")).lower() == "grid":  # a grid has so many points, no more
        points = math.prod(len(p.grid()) for p in spec.params)
        if spec.n_trials > points:
            print(f"[sweep] the grid has {points} points: n_trials {spec.n_trials} is cut to {points}")
            spec.n_trials = points
    if spec.storage is None:
        _refuse_another_study(out_dir, spec.study_name)
    parser = FitParser(spec.fit_args(extra=extra))
    base_config = check_search_space(spec, parser, extra)
    make_sampler(dict(spec.sampler), spec, seed_offset=0)  # their options checked before any file is made
    make_pruner(spec.pruner)
    if spec.storage is None:  # the study's sqlite file is made in it (a new one, which no check below refuses)
        out_dir.mkdir(parents=True, exist_ok=True)
    url = spec.storage or f"sqlite:///{(out_dir / 'study.db').resolve()}"
    direction = spec.direction
    study = open_study(url, spec.study_name, direction)
    if study.direction.name.lower() != direction:
        raise ConfigError(
            f"study {spec.study_name!r} in {url} was created to {study.direction.name.lower()}, "
            f"the sweep file says {direction}; use another study_name"
        )
    settings = trial_settings(yaml.safe_load(parser.dump(base_config)), spec)
    check_same_settings(study, settings, str(out_dir) if spec.storage is None else url)
    out_dir.mkdir(parents=True, exist_ok=True)  # after the checks: a refused sweep leaves no empty folder
    before = study.get_trials(deepcopy=False)
    if before:
        done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in before)
        of = f"{done} of {spec.n_trials}" if done <= spec.n_trials else f"{done} (a budget of {spec.n_trials})"
        print(f"[sweep] going on with study {spec.study_name!r}: {of} trials done")
    sampler_config = dict(spec.sampler)
    study.sampler = make_sampler(sampler_config, spec, seed_offset=len(study.get_trials(deepcopy=False)))
    study.pruner = make_pruner(spec.pruner)
    try:
        with interrupt.driving("sweep"), interrupt.stop_on_sigterm():  # the sweep says how to go on
            ran = Worker(spec, study, out_dir, extra).run()
    except SweepFailed:
        # the trials so far, each with its error, where the message says they are
        write_atomic(out_dir / "trials.csv", trials_table(study, spec).to_csv())
        raise
    except KeyboardInterrupt as stop:
        table = write_atomic(out_dir / "trials.csv", trials_table(study, spec).to_csv())
        done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
        during = (
            f" during trial {stop.args[0]} (marked failed as interrupted)" if isinstance(stop, SweepInterrupted) else ""
        )
        interrupt.tell(
            f"econdl sweep: stopped by {interrupt.stop_reason(stop) or 'SIGINT'}{during}; {done} of "
            f"{spec.n_trials} trials done, listed in {table}; run the same command again to run the rest"
        )
        raise SystemExit(1) from None

    table = trials_table(study, spec)
    files = [write_atomic(out_dir / "trials.csv", table.to_csv())]
    files.append(write_atomic(out_dir / "trials.md", table.to_markdown(floatfmt=".4g") + "\n"))
    files.append(plot_sweep(table, spec, importances(study), out_dir / "sweep.png"))
    text = best_config(study, spec, parser, extra)
    best_path = write_atomic(out_dir / "best_config.yaml", text) if text else None
    result = SweepResult(table, out_dir, best_path, ran, files)
    running = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))]
    if running:
        which = f"trial {running[0]} is" if len(running) == 1 else f"trials {', '.join(map(str, running))} are"
        print(
            f"[sweep] {which} still marked running: another worker runs it, or a worker that was killed held it "
            "(its trial is marked failed 2 minutes after the worker's last heartbeat, and the next run of this "
            "command runs a new trial in its place); run the same command again to refresh the results"
        )
    if test_best and best_path is not None:
        from econdl.cli import cli_main

        cli = cli_main(["fit", "--config", str(best_path), "--trainer.enable_progress_bar=false"])
        result.test_metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items() if k.startswith("test/")}
    return result


def _refuse_another_study(out_dir: Path, name: str) -> None:
    """A results folder holds one study: another one there would replace its tables, best config
    and report, and mix its trials' runs with the other's."""
    database = out_dir / "study.db"
    if not database.is_file():
        return
    others = [n for n in optuna.get_all_study_names(open_storage(f"sqlite:///{database.resolve()}")) if n != name]
    if others:
        raise ConfigError(
            f"{out_dir} holds the results of study {others[0]!r} (its study.db, trials.csv and best config); "
            f"give study {name!r} a folder of its own with another --out (or leave --out out: "
            f"logs/sweeps/{name})"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="econdl sweep",
        allow_abbrev=False,
        description="Hyper-parameter search over `econdl fit` with Optuna (see docs/sweep.md).",
        epilog="Any other --KEY VALUE is an `econdl fit` option given to every trial.",
    )
    parser.add_argument("--config", required=True, help="sweep file, e.g. configs/sweeps/kink_mlp.yaml")
    parser.add_argument("--n_trials", type=int, help="trial budget shared by all workers (overrides the file)")
    parser.add_argument("--study_name", help="study name (overrides the file; default: the file's name)")
    parser.add_argument("--storage", help="Optuna storage URL, e.g. postgresql://user@host:5432/econdl")
    parser.add_argument(
        "--out",
        help="folder for the results (default logs/sweeps/<study_name>, logs being --trainer.default_root_dir)",
    )
    parser.add_argument("--test_best", action="store_true", help="afterwards fit the best config once and test it")
    return parser


def sweep_main(argv: list[str]) -> SweepResult:
    """The ``econdl sweep`` subcommand."""
    args, extra = build_parser().parse_known_args(argv)
    spec = load_spec(args.config)
    if args.n_trials is not None:
        if args.n_trials < 1:
            raise ConfigError(f"--n_trials={args.n_trials} must be at least 1")
        spec.n_trials = args.n_trials
    spec.study_name = args.study_name or spec.study_name
    spec.storage = args.storage or spec.storage
    optuna.logging.set_verbosity(optuna.logging.INFO)
    result = run_sweep(spec, extra, args.out, args.test_best)
    from econdl.report import write_report
    from econdl.report.environment import command_line

    (result.out_dir / "command.txt").write_text(command_line("sweep", argv) + "\n")  # for the report
    result.files.append(write_report(result.out_dir))
    print(f"\n[sweep] {spec.study_name}: this worker ran {result.ran} trial(s)")
    with pd.option_context("display.width", 160, "display.max_columns", 30, "display.max_colwidth", 40):
        print(result.table.drop(columns=["error"], errors="ignore").to_string(float_format=lambda v: f"{v:.4g}"))
    if result.test_metrics:
        print("[sweep] best config tested: " + ", ".join(f"{k}={v:.4g}" for k, v in result.test_metrics.items()))
    print("written: " + ", ".join(str(f) for f in result.files))
    if result.best_config is None:
        print("no trial completed, so there is no best config", file=sys.stderr)
    else:
        print(f"best config: {result.best_config}")
    return result
