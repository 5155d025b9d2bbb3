"""One sweep worker: an Optuna study in a shared storage, each trial a normal ``econdl fit``.

Several workers (processes, machines) may run on the same study at once.  The budget
is ``n_trials`` trials that are complete, pruned or still running; failed trials do not
use it up (a replacement is run), and trials of a worker that died are failed through
Optuna's heartbeat, so its budget is taken up again.  Trial numbers come from the
storage, so they never repeat; a worker that creates a trial beyond the budget (two
workers asking at the same instant) marks it failed as ``surplus`` at once.  A worker
stopped by Ctrl+C or SIGTERM marks the trial it was running failed as ``interrupted``
(it uses no budget and counts against no ``max_failures``), so running the same command
again runs a new trial in its place at once rather than after the heartbeat's grace period.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import re
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import optuna
import sqlalchemy
from optuna.trial import TrialState

from econdl.cli import REPORTING_ONLY, cli_main, differences, flat_settings
from econdl.sweep.spec import Direction, SweepSpec
from econdl.diagnose import diagnose
from econdl.errors import ConfigError, EcondlError

INTERRUPTED = "interrupted (Ctrl+C or SIGTERM)"
BUDGET_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--test_after_fit=false"]


class ObjectiveCallback(L.Callback):
    """Reports the monitored metric to the trial after every validation and stops hopeless
    trials when the pruner says so (by ``trainer.should_stop``, so logs and checkpoints close
    normally); keeps the history so the objective is the best value reached."""

    def __init__(self, trial: optuna.Trial, metric: str, direction: str) -> None:
        self.trial, self.metric, self.direction = trial, metric, direction
        self.history: list[float] = []
        self.pruned = False

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.metric not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.metric])
        self.history.append(value)
        if not math.isfinite(value):
            return
        self.trial.report(value, step=len(self.history) - 1)
        if self.trial.should_prune():
            self.pruned = True
            trainer.should_stop = True

    def best(self) -> float:
        finite = [v for v in self.history if math.isfinite(v)]
        if not finite:
            return float("nan")
        return min(finite) if self.direction == "minimize" else max(finite)


class SweepFailed(EcondlError):
    """Too many trials failed on a mistake in the sampled values or the data: said in one line."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl+C or SIGTERM stopped a trial's fit: Optuna marks the trial failed and the worker stops."""


class TrialError(Exception):
    """A trial's fit failed (bad sampled value, diverged); the sweep goes on without it.
    ``kind`` is how ``econdl fit`` would have reported the failure (``diagnose``)."""

    def __init__(self, reason: str, kind: str = "user") -> None:
        super().__init__(reason)
        self.kind = kind


def _trial_failure_lines(record: logging.LogRecord) -> bool:
    """Optuna logs a failed trial with its traceback.  An interrupted trial is said in one line by
    the sweep, and a trial failed by a mistake in its values or by a resource (what ``econdl fit``
    says in one line) keeps Optuna's one line, which names its values and the reason; a bug's
    traceback stays."""
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, SweepInterrupted):
        return False
    if re.fullmatch(r"Trial \d+ failed with value None\.", record.getMessage()):
        return False  # follows the line that names the trial's values and reason
    if isinstance(error, TrialError) and error.kind != "bug":
        record.exc_info, record.exc_text = None, None
    return True


def postgres_driver() -> str:
    """``psycopg2`` or ``psycopg``, whichever is installed (the former by ``econdl[postgres]``)."""
    for module in ("psycopg2", "psycopg"):
        try:
            __import__(module)
            return module
        except ImportError:
            continue
    raise ConfigError("a postgresql:// storage needs a driver: pip install 'econdl[postgres]'")


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """An RDB storage with a heartbeat, so trials of a killed worker are failed and replaced."""
    engine: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith(("postgresql://", "postgres://")):
        # name the installed driver: SQLAlchemy 2.0 defaults to psycopg2, 2.1 to psycopg 3
        url = f"postgresql+{postgres_driver()}://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        engine = {"connect_args": {"timeout": 120}}  # workers wait for each other's writes
    try:
        with warnings.catch_warnings():  # the heartbeat is marked experimental since Optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=30, grace_period=120)
    except ImportError as err:
        raise ConfigError(f"storage {url}: {err}; for PostgreSQL run pip install 'econdl[postgres]'") from None


def open_study(url: str, name: str, direction: Direction, tries: int = 8) -> optuna.Study:
    """Create the study or join it; workers starting at the same instant may race to create
    the tables or the study, so the loser waits a moment and joins."""
    for attempt in range(tries):
        try:
            return optuna.create_study(
                study_name=name, storage=open_storage(url), direction=direction, load_if_exists=True
            )
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.DuplicatedStudyError):
            if attempt == tries - 1:
                raise
            time.sleep(0.3 + random.random())
    raise AssertionError("unreachable")


SETTINGS = "econdl_settings"  # the study's user attribute holding what its trials share
SETTINGS_SINCE = "econdl_settings_since_trial"  # the first trial run with them


def trial_settings(fit_config: dict[str, Any], spec: SweepSpec) -> dict[str, Any]:
    """What every trial of one study must share for their objectives to be ranked together: the
    fit's resolved config without the sampled values (base config, fixed keys, command-line
    options) and without the options that only say where and how it reports (``REPORTING_ONLY``),
    the search space and the objective, as flat ``key: value`` pairs."""
    searched = {p.key for p in spec.params}
    settings = {
        k: v for k, v in flat_settings(fit_config).items() if k not in searched and not k.startswith(REPORTING_ONLY)
    }
    for param in spec.params:
        space = dataclasses.asdict(param)
        del space["key"]
        settings[f"search_space.{param.key}"] = space
    settings["objective"] = f"{spec.direction} {spec.metric}"
    return settings


def _unchangeable(before: dict[str, Any], now: dict[str, Any]) -> str | None:
    """A search-space key whose change Optuna refuses within one study (another kind, other
    categorical choices, another log scale), or None."""
    for key in sorted(set(before) & set(now)):
        old, new = before[key], now[key]
        if not key.startswith("search_space.") or old == new:
            continue
        if old["type"] != new["type"] or old["type"] == "categorical" or old["log"] != new["log"]:
            return key.removeprefix("search_space.")
    return None


def check_same_settings(study: optuna.Study, settings: dict[str, Any], where: str) -> None:
    """Refuse to add trials to a study whose earlier trials were run with other settings (their
    objectives could not be ranked together); a study without a record, or without a trial that
    has or will have a result (only failed ones), takes this one's."""
    before = study.user_attrs.get(SETTINGS)
    ranked = study.get_trials(deepcopy=False, states=BUDGET_STATES)
    if not ranked and before is not None and before != settings:
        fixed = _unchangeable(before, settings)
        if fixed:
            raise ConfigError(
                f"study {study.study_name!r} in {where} was run with other values of {fixed} (its trials all "
                "failed), and Optuna keeps a parameter's choices (and its kind and log scale) for the whole "
                "study: start another one with --study_name NAME (and, where you give --out, another --out DIR)"
            )
    if before is None or (not ranked and before != settings):
        study.set_user_attr(SETTINGS, settings)
        study.set_user_attr(SETTINGS_SINCE, len(study.get_trials(deepcopy=False)))  # earlier failures: not these
        return
    changed = differences(before, settings)
    if not changed:
        return
    raise ConfigError(
        f"study {study.study_name!r} in {where} holds {len(ranked)} trial(s) run with other settings, which this "
        f"command's trials would be ranked against: {changed}. Give the same options to go on with "
        "that study, or start another one with --study_name NAME (and, where you give --out, another --out DIR)"
    )


def _built(section: str, name: str, cls: Any, *args: Any, **options: Any) -> Any:
    """``cls(*args, **options)``, with options it does not take, or lacks, named as the sweep
    file's mistake rather than a TypeError from inside Optuna."""
    import inspect

    try:
        inspect.signature(cls).bind(*args, **options)
    except TypeError as err:
        accepted = [p for p in inspect.signature(cls).parameters if p not in ("self", "search_space")]
        raise ConfigError(
            f"{section} {name!r} with options {options}: {err}; its options are {accepted} "
            f"(see optuna.{'samplers' if section == 'sampler' else 'pruners'}.{cls.__name__})"
        ) from None
    return cls(*args, **options)


def make_sampler(config: dict[str, Any], spec: SweepSpec, seed_offset: int) -> optuna.samplers.BaseSampler:
    options = {k: v for k, v in config.items() if k != "name"}
    name = str(config.get("name", "tpe")).lower()
    if options.get("seed") is not None:
        options["seed"] = int(options["seed"]) + seed_offset
    if name == "tpe":
        return _built("sampler", name, optuna.samplers.TPESampler, **options)
    if name == "random":
        return _built("sampler", name, optuna.samplers.RandomSampler, **options)
    if name == "grid":
        return _built("sampler", name, optuna.samplers.GridSampler, {p.key: p.grid() for p in spec.params}, **options)
    raise ConfigError(f"sampler.name={name!r} is not known; choose tpe, random or grid")


def make_pruner(config: dict[str, Any]) -> optuna.pruners.BasePruner:
    options = {k: v for k, v in config.items() if k != "name"}
    name = str(config.get("name", "none")).lower()
    pruners = {
        "none": optuna.pruners.NopPruner,
        "median": optuna.pruners.MedianPruner,
        "percentile": optuna.pruners.PercentilePruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    }
    if name not in pruners:
        raise ConfigError(f"pruner.name={name!r} is not known; choose one of {sorted(pruners)}")
    return _built("pruner", name, pruners[name], **options)


def budget_used(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=BUDGET_STATES))


def failed_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials that failed on their values or data under the study's present settings (not
    those run under settings it had before, nor surplus or interrupted ones)."""
    since = int(study.user_attrs.get(SETTINGS_SINCE, 0))
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
        if t.number >= since and not (t.user_attrs.get("surplus") or t.user_attrs.get("interrupted"))
    ]


def failures(study: optuna.Study) -> int:
    return len(failed_trials(study))


class Worker:
    """Runs trials of ``spec`` on ``study`` until the shared budget is used up."""

    def __init__(self, spec: SweepSpec, study: optuna.Study, out_dir: Path, extra: list[str]) -> None:
        self.spec, self.study, self.out_dir, self.extra = spec, study, out_dir, extra
        self.ran: list[int] = []

    def objective(self, trial: optuna.Trial) -> float:
        ahead = [t for t in self.study.get_trials(deepcopy=False, states=BUDGET_STATES) if t.number < trial.number]
        if len(ahead) >= self.spec.n_trials:
            trial.set_user_attr("surplus", True)
            taken = f"surplus: the budget of {self.spec.n_trials} trials was taken by other workers"
            raise TrialError(taken, "surplus")
        self.ran.append(trial.number)
        values = {p.key: p.suggest(trial) for p in self.spec.params}
        run_name = str((self.out_dir / "trials" / f"trial_{trial.number:04d}").resolve())
        callback = ObjectiveCallback(trial, self.spec.metric, self.spec.direction)
        args = self.spec.fit_args(values, self.extra) + [*QUIET, f"--run_name={run_name}"]
        try:
            cli = cli_main(args, trainer_defaults={"callbacks": [callback]}, verbose_test=False)
        except (KeyboardInterrupt, SystemExit) as stop:  # Lightning ends a fit stopped by a signal with exit(1)
            trial.set_user_attr("interrupted", True)
            trial.set_user_attr("error", INTERRUPTED)
            raise SweepInterrupted(trial.number) from stop
        except Exception as err:  # a failed fit fails this trial only
            found = diagnose(err)  # a mistake in a sampled value reads as `econdl fit` would print it
            reason = found.message if found.kind != "bug" and found.message else f"{type(err).__name__}: {err}"
            trial.set_user_attr("error", reason[:500])
            trial.set_user_attr("error_kind", found.kind)
            raise TrialError(reason, found.kind) from err
        trial.set_user_attr("run_dir", str(cli.trainer.log_dir))
        trial.set_user_attr("epochs", int(cli.trainer.current_epoch))
        if not callback.history:
            logged = sorted(k for k in cli.trainer.callback_metrics if "/" in k)
            raise ConfigError(f"objective.metric={self.spec.metric!r} was never logged by the model; logged: {logged}")
        if callback.pruned:
            raise optuna.TrialPruned(f"pruned after {len(callback.history)} validations")
        return callback.best()

    def stop_when_done(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if budget_used(study) >= self.spec.n_trials or failures(study) >= self.spec.max_failures:
            study.stop()

    def run(self) -> int:
        """Run trials until the budget is used; return how many this worker ran."""
        with warnings.catch_warnings():  # a worker killed earlier gives its trials back
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(self.study)
        if budget_used(self.study) >= self.spec.n_trials:
            return 0
        for name in ("lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.WARNING)
        optuna.logging.get_logger("optuna.study._optimize").addFilter(_trial_failure_lines)
        try:
            self.study.optimize(self.objective, callbacks=[self.stop_when_done], catch=(TrialError,))
        except BaseException:  # a second Ctrl+C may land outside a trial's fit: give its trial back too
            for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if trial.number in self.ran:
                    # its reason, as a trial interrupted in its fit has
                    self.study._storage.set_trial_user_attr(trial._trial_id, "error", INTERRUPTED)
                    self.study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            raise
        if failures(self.study) >= self.spec.max_failures:
            failed = [t for t in failed_trials(self.study) if "error" in t.user_attrs]
            last = failed[-1] if failed else None
            text = f"{failures(self.study)} trials failed (max_failures={self.spec.max_failures}); " + (
                f"the last, trial {last.number} with {last.params}: {last.user_attrs['error']}"
                if last
                else "why is unknown"
            )
            if last is not None and last.user_attrs.get("error_kind") in ("user", "resource"):
                raise SweepFailed(
                    text
                    + f"; change that value in the search space (every trial so far: {self.out_dir / 'trials.csv'})"
                )
            raise RuntimeError(text)
        return len(self.ran)
