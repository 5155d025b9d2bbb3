"""The LightningCLI behind ``econdl fit|validate|test|predict`` (the command itself is
``econdl.main``).

``econdl fit|validate|test|predict`` is a LightningCLI: the model and the
DataModule are chosen by class path in a YAML config (``--config
configs/kink/mlp.yaml``) and any key can be overridden on the command line
(``--trainer.max_epochs 3``).  The trainer defaults in
``configs/trainer/default.yaml`` are read before every config.

``econdl compare DIR`` fits every config in a folder and prints one table
(see ``econdl.compare``).
"""

from __future__ import annotations

import logging
import inspect
import os
import random
import re
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, cast

import torch
import yaml
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from lightning_utilities.core.rank_zero import log as rank_zero_log

from econdl.checkpoint_check import (
    SPECIAL_PATHS,
    check_fits,
    data_class,
    explain_load_failure,
    holds_examples,
    read_checkpoint,
)
from econdl.checkpointing import (
    AtomicCheckpointIO,
    best_by,
    follow_default_root_dir,
    BEST_PREFIX,
    DEFAULT_SAVE_DIR,
    keep_last_resume_callback,
    latest_run_with,
    run_folders,
    one_save_dir,
    run_checkpoint,
)
from econdl.fastpath import cuda_count_pinned, direct_hooks
from econdl.argv import option_values
from econdl.files import FolderLock, temp_path
from econdl.yamlfile import read_yaml
from econdl.errors import CheckpointNotFound, ConfigError, ConfigFileInvalid
from econdl.loggers import carry_rows

TRAINER_DEFAULTS = Path(__file__).parent / "configs" / "trainer_default.yaml"
SUBCOMMANDS = ("fit", "validate", "test", "predict")

# Expected situations, not problems: the CLI's optimizer replaces the model's fallback;
# in-memory data need no worker processes; lazy layers are sized before training.
for _pattern in (
    r".*configure_optimizers.*will be overridden.*",
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",
    r".*LightningCLI's args parameter is intended to run from within Python.*",
    r".*Couldn't infer the batch indices fetched from your dataloader.*",
    r".*does not have many workers.*",
    r".*Lazy modules are a new feature.*",
    r".*configure_optimizers` returned `None`, this fit will run with no optimizer.*",  # RandomWalk: nothing to fit
    r".*The number of training batches .* is smaller than the logging interval.*",
    # validate/test/predict open a run folder of their own; a resumed fit that moved follows
    # its files (checkpointing.follow_moved_run): the best-checkpoint state is not lost
    r".*The dirpath has changed from .* won't be reloaded.*",
    # a resumed fit writes on into its own folder; a new fit always gets a new one
    r".*Checkpoint directory .* exists and is not empty.*",
):
    warnings.filterwarnings("ignore", message=_pattern)


def _loggerless_root(config: Any) -> Path:
    """Where the runs of a trainer without file loggers go: ``<default_root_dir or logs>``."""
    return Path(config.trainer.get("default_root_dir") or DEFAULT_SAVE_DIR)


def _check_settings_fit_the_weights(optimizer: torch.optim.Optimizer, lr_scheduler: Any) -> None:
    """A setting of the optimizer or the schedule beyond the largest number the weights' dtype
    holds (lr 1e300 for float32 weights) would fail inside torch's update as a conversion error
    shown as a bug; refused here, naming the option."""
    dtypes = [p.dtype for group in optimizer.param_groups for p in group["params"] if p.is_floating_point()]
    if not dtypes:
        return
    largest = min(torch.finfo(d).max for d in dtypes)
    settings = [("optimizer", optimizer.defaults)]
    if lr_scheduler is not None:
        given = inspect.signature(type(lr_scheduler).__init__).parameters  # its options, not its running state
        settings.append(("lr_scheduler", {k: v for k, v in vars(lr_scheduler).items() if k in given}))
    for section, values in settings:
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not abs(value) <= largest:
                raise ConfigError(
                    f"--{section}.{key} {value:g} is beyond the largest number the "
                    f"{str(dtypes[0]).removeprefix('torch.')} weights can take ({largest:.3g}); give it an "
                    "ordinary value (learning rates are typically 1e-4 to 1e-1)"
                )


def _plateau_after_validation(trainer: Any, out: Any) -> None:
    """A ReduceLROnPlateau stepped once per epoch, where validation runs every N epochs
    (``--trainer.check_val_every_n_epoch N``): step it after the epochs that validate, on their
    fresh metric (Lightning's ``frequency``), rather than fail at the first epoch without one or
    step again on a stale value; and say so once."""
    config = out.get("lr_scheduler") if isinstance(out, dict) else None
    if not isinstance(config, dict):
        return
    scheduler, every = config.get("scheduler"), trainer.check_val_every_n_epoch
    if not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return
    if not str(config.get("monitor") or "").startswith("val") or not trainer.lightning_module.automatic_optimization:
        return  # a training metric is there every epoch; a model that steps its schedules itself decides
    if trainer.limit_val_batches == 0:
        raise ConfigError(
            f"--trainer.limit_val_batches {trainer.limit_val_batches:g} runs no validation, but "
            f"{type(scheduler).__name__} steps on {config.get('monitor')}, which only validation gives; validate "
            "(leave limit_val_batches out, or "
            "give it > 0), watch a training metric (--lr_scheduler.monitor train/loss), or train without the schedule "
            "(--lr_scheduler null)"
        )
    if every == 1:
        return
    if config.get("interval", "epoch") != "epoch" or config.get("frequency", 1) != 1:
        return  # the config chose when it steps
    if every is None:  # validation every val_check_interval batches, across epochs
        interval = trainer.val_check_interval
        _ = trainer.estimated_stepping_batches  # sets the training data up: its batches per epoch
        batches = trainer.num_training_batches
        if isinstance(interval, int) and isinstance(batches, int) and batches > 0:
            if batches % interval == 0:
                return  # every epoch ends with a validation
            if interval % batches == 0:
                every = interval // batches  # every this many epochs ends with one
    if every is None:
        raise ConfigError(
            f"--trainer.check_val_every_n_epoch null validates every {trainer.val_check_interval} training batches, "
            f"across epochs, but {type(scheduler).__name__} steps at the end of every epoch on "
            f"{config.get('monitor')}, which an epoch without a validation lacks; validate every N epochs instead "
            "(--trainer.check_val_every_n_epoch N, with --trainer.val_check_interval a fraction of an epoch or 1.0), "
            "or train without the schedule (--lr_scheduler null)"
        )
    config["frequency"] = every
    if trainer.is_global_zero:
        print(
            f"validation runs every {every} epochs, so {type(scheduler).__name__} on {config.get('monitor')} "
            f"steps after those epochs (its patience counts validations, not epochs)",
            flush=True,
        )


class _WithoutCloudLoggerTip(logging.Filter):
    """Drops Lightning's advertisements for its cloud logger and model registry ("Tip: For
    seamless cloud ..."), printed on every run: they say nothing about the run and hide the
    lines that do."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip: For seamless cloud" not in record.getMessage()


rank_zero_log.addFilter(_WithoutCloudLoggerTip())


#: what a run folder holds besides results: the command's config and logs
RECORDS = ("config.yaml", "hparams.yaml", "metrics.csv")


def next_version(root: Path) -> int:
    """The first N for which ``root/version_N`` does not exist yet."""
    found = [int(m.group(1)) for p in root.glob("version_*") if (m := re.fullmatch(r"version_(\d+)", p.name))]
    return max(found, default=-1) + 1


def reserve_version(root: Path) -> str:
    """Create ``root/version_N`` for the first free N and return its name.  Creating it at
    once (mkdir fails if it exists) keeps fits running side by side, e.g. the seeds of
    ``econdl compare --workers``, from choosing the same directory."""
    root.mkdir(parents=True, exist_ok=True)
    n = next_version(root)
    while True:
        try:
            (root / f"version_{n}").mkdir()
            return f"version_{n}"
        except FileExistsError:
            n += 1


def _names_a_model(path: Path) -> bool:
    """Whether a config file has a ``model:`` section (an unreadable one counts as having one)."""
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, yaml.YAMLError):
        return True
    return not isinstance(content, dict) or "model" in content


def _experiment_config(config: Any) -> Path | None:
    """The last config file given that is an experiment: not trainer defaults or a preset, and,
    where any given file names a model, one that does (``--config configs/kink/mlp.yaml
    --config my_trainer.yaml`` is a kink/mlp run, whatever the second file's name)."""
    files = [Path(str(c)) for c in (config.get("config") or [])]
    experiments = [f for f in files if f.parent.name not in ("trainer", "presets")]
    with_model = [f for f in experiments if _names_a_model(f)]
    chosen = with_model or experiments
    return chosen[-1] if chosen else None


def saved_run_of(config: Any) -> Path | None:
    """The run directory whose saved ``config.yaml`` is the last config file given, if it is one."""
    last = _experiment_config(config)
    if last is None:
        return None
    # a run folder: Lightning's version_N, or one renamed or copied (config.yaml beside checkpoints/)
    is_run = re.fullmatch(r"version_\d+", last.parent.name) or (
        last.name == "config.yaml" and (last.parent / "checkpoints").is_dir()
    )
    return last.parent if is_run else None


def run_name_from(config: Any) -> str:
    """``<task>/<model>`` from the last config file (``configs/kink/mlp.yaml`` -> ``kink/mlp``)."""
    last = _experiment_config(config)
    if last is not None:
        last = Path(os.path.abspath(last))  # `mlp.yaml` in the current folder: that folder is the task
        if saved_run_of(config) is not None:  # a saved run: logs/<task>/<model>/version_N/config.yaml
            task, model = last.parent.parent.parent.name, last.parent.parent.name
        else:
            task, model = last.parent.name, last.stem
        return f"{task}/{model}" if task else model  # a config in / has no folder name
    model = str(config.get("model", {}).get("class_path", "model")).rsplit(".", 1)[-1]
    data = str(config.get("data", {}).get("class_path", "data")).rsplit(".", 1)[-1]
    return f"{data.lower().removesuffix('datamodule')}/{model.lower()}"


def _strategy_name(strategy: Any) -> str:
    """The strategy as the user named it: its name, its class path, or its class's name."""
    if isinstance(strategy, str):
        return strategy
    class_path = strategy.get("class_path") if hasattr(strategy, "get") else None
    return str(class_path or type(strategy).__name__)


def drop_callbacks(trainer_config: Any, suffix: str) -> None:
    """Remove the config's callbacks whose class path ends with ``suffix``."""
    if trainer_config.get("callbacks"):
        trainer_config.callbacks = [c for c in trainer_config.callbacks if not str(c.class_path).endswith(suffix)]


def refuse_fused_clipping(config: Any, trainer: Any) -> None:
    """Mixed precision cannot clip the gradients of a fused optimizer (it unscales them
    itself, inside its step): say so before the fit, instead of Lightning's error at the
    first step."""
    optimizer = config.get("optimizer") or {}
    init_args = optimizer.get("init_args") or {}
    if init_args.get("fused") and trainer.gradient_clip_val and "mixed" in str(trainer.precision):
        raise ConfigError(
            f"--trainer.gradient_clip_val {trainer.gradient_clip_val} with --trainer.precision {trainer.precision}: "
            "the config's optimizer uses torch's fused kernel, whose gradients mixed precision cannot clip; "
            "add --optimizer.fused false (the same update, a little slower), or drop the clipping"
        )


#: print on the first process only: under DDP every process resolves the checkpoint
_say = rank_zero_only(print)


def _resume_note(run: Path, checkpoint: dict[str, Any], config: Any) -> str:
    """What ``--ckpt_path last`` is about to resume, where a user might take it for another run:
    newer runs of the same name that hold no last.ckpt (a fit killed before it wrote one, or a
    test or predict run), and a fit that is complete already (only its test runs again)."""
    notes = []
    numbered = re.fullmatch(r"version_(\d+)", run.name)  # a run folder renamed by hand has no number
    number = int(numbered.group(1)) if numbered else None
    folders = run_folders(run.parent.parent, run.parent.name) if number is not None else []
    newer = [
        f.name for f in folders if int(f.name.split("_", 1)[1]) > (number or 0) and run_checkpoint(f, "last") is None
    ]
    if newer:
        many = len(newer) > 1
        notes.append(
            f"{'runs' if many else 'run'} {', '.join(newer)} of {run.parent}, newer, {'hold' if many else 'holds'} "
            f"no last.ckpt (a fit stopped before it wrote one, or a test or predict run) and {'are' if many else 'is'} "
            "not resumed"
        )
    state = checkpoint.get("econdl_resume") or {}
    progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {}).get("total", {})
    done, limit = progress.get("completed"), config.trainer.get("max_epochs")
    if isinstance(done, int) and isinstance(limit, int) and 0 < limit < done:
        raise ConfigError(
            f"--trainer.max_epochs {limit}: the run in {run} has trained {done} epochs already; to go on, give "
            f"--trainer.max_epochs {done + 1} or more (to score it as it is: econdl test --ckpt_path last)"
        )
    if state.get("fit_done"):
        stopped = [
            v.get("stopped_epoch", 0)
            for k, v in checkpoint.get("callbacks", {}).items()
            if str(k).startswith("EarlyStopping") and isinstance(v, dict)
        ]
        why = (
            f"had stopped early (EarlyStopping, at epoch {max(stopped)})"
            if any(stopped)
            else "is complete (its model is fitted in one pass, or a callback ended it)"
        )
        notes.append(f"its fit {why}: nothing is trained, only the test runs again")
    elif isinstance(done, int) and isinstance(limit, int) and 0 <= limit <= done and state.get("boundary"):
        notes.append(
            f"its fit is complete ({done} of --trainer.max_epochs {limit} epochs): nothing is trained, only the "
            "test runs again (a larger --trainer.max_epochs trains on)"
        )
    return "".join(f"; {note}" for note in notes)


def _recorded(saved: Path, key: str) -> Any:
    """A top-level setting of a saved config.yaml (None where the file or the key is missing)."""
    try:
        return yaml.safe_load(saved.read_text()).get(key)
    except (OSError, AttributeError, yaml.YAMLError):
        return None


def _recorded_ckpt_path(saved: Path) -> str | None:
    """The checkpoint a saved config.yaml records (the one its test or predict run scored)."""
    value = _recorded(saved, "ckpt_path")
    return str(value) if value else None


def flat_settings(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A loaded config as flat ``key: value`` pairs (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``); lists
    are values."""
    if not isinstance(tree, dict) or not tree:
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flat_settings(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def differences(before: dict[str, Any], now: dict[str, Any], shown: int = 4) -> str:
    """The keys whose values differ between two flat settings, as ``key: A before, B now; ...``
    (the first ``shown`` of them, and how many more); empty when none do."""
    missing = "(not set)"
    changed = [k for k in sorted(set(before) | set(now)) if before.get(k, missing) != now.get(k, missing)]
    text = "; ".join(f"{k}: {before.get(k, missing)} before, {now.get(k, missing)} now" for k in changed[:shown])
    return text + (f" (and {len(changed) - shown} more)" if len(changed) > shown else "")


# trainer options that change where and how a fit reports, not what it computes
REPORTING_ONLY = (
    "trainer.default_root_dir",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "trainer.logger",
    "trainer.log_every_n_steps",
)
# what a resume may change: how long it trains, where and on what it runs, what it reports
_RESUME_MAY_CHANGE = (
    *REPORTING_ONLY,
    "ckpt_path",
    "run_name",
    "test_after_fit",
    "trainer.max_epochs",
    "trainer.min_epochs",
    "trainer.max_steps",
    "trainer.min_steps",
    "trainer.max_time",
    "trainer.callbacks",
    "trainer.enable_checkpointing",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.num_nodes",
    "trainer.strategy",
    "trainer.precision",
    "trainer.plugins",
    "trainer.profiler",
    "trainer.num_sanity_val_steps",  # validation batches before training, only to find bugs: nothing learnt
)


def refuse_other_settings(saved: Path, parser: Any, config: Any, checkpoint: Any = None) -> None:
    """A fit resumed in its run's folder goes on with the run as it was fitted (weights, optimizer
    and schedule come from its last.ckpt): refuse settings other than the ones the run saved,
    which it would not train with although its config.yaml would then say so."""
    if not saved.is_file():
        return
    try:
        loaded = yaml.safe_load(saved.read_text())
    except yaml.YAMLError:
        return
    if not isinstance(loaded, dict) or not loaded:  # emptied by a kill amid its write (before it was atomic)
        return  # nothing to compare with: the resume writes it afresh
    before = flat_settings(loaded)
    now = flat_settings(yaml.safe_load(parser.dump(config, skip_validation=True, skip_none=False)) or {})
    may_change: tuple[str, ...] = _RESUME_MAY_CHANGE
    data = data_class(now.get("data.class_path", ""))
    if data is not None and data.fingerprints and checkpoint and holds_examples(checkpoint, data):
        may_change += tuple(f"data.init_args.{k}" for k in data.read_keys)  # where and how the examples are read:
        # the checkpoint's fingerprints of them decide (one written without them: these settings do)

    def kept(settings: dict[str, Any]) -> dict[str, Any]:  # a None is a key left unset
        return {k: v for k, v in settings.items() if v is not None and not k.startswith(may_change)}

    changed = differences(kept(before), kept(now))
    if changed:
        raise ConfigError(
            f"this resume's settings differ from those its run was fitted with ({changed}): a resume goes on with "
            "the run as it was fitted (its weights, optimizer and schedule come from last.ckpt), so give the "
            f"options the run was fitted with, or resume with the run's own config: econdl fit --config {saved} "
            "--ckpt_path last (with a larger --trainer.max_epochs to train longer)"
        )


def repeatable(config: Any, subcommand: str | None) -> Any:
    """The config a run saves as its ``config.yaml``: a fit's without the checkpoint it resumed
    from, so that ``econdl fit --config <it>`` repeats the run from the start in a new folder
    rather than going on in this one (validate/test/predict keep the checkpoint they scored)."""
    if subcommand != "fit" or config.get("ckpt_path") is None:
        return config
    config = config.clone()
    config.ckpt_path = None
    return config


class _ParsedSave:
    """The CLI's parser, saving a config without validating it again: the config was validated
    when it was parsed, and the second check is about two thirds of the ~30 ms a save takes
    inside every fit's clock.  The file is the same (``tests/test_cli.py``).  It is written
    beside its place and renamed over it, as the checkpoints and metrics.csv are: a resume
    rewrites the run's config.yaml, and a kill amid that write left it empty, after which the
    run could not be resumed."""

    def __init__(self, parser: Any) -> None:
        self._parser = parser

    def save(self, cfg: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        tmp = temp_path(path)
        kwargs["overwrite"] = True  # the temporary file; whether `path` may be replaced was decided before
        try:
            self._parser.save(cfg, str(tmp), *args, skip_validation=True, **kwargs)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


class RunConfig(SaveConfigCallback):
    """Lightning's config writer, writing :func:`repeatable`'s config (validated once, when parsed).
    A resumed fit writes it once its checkpoint is restored (``on_fit_start``): a resume refused
    while restoring (other training examples, for one) leaves the run's config.yaml as it was."""

    _resumed: bool = False

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        checkpoint = self.config.get("ckpt_path")
        self._resumed = stage == "fit" and checkpoint is not None
        self.config = repeatable(self.config, stage if stage == "fit" else None)
        if self._resumed:  # in the run's own folder, whose config.yaml says how it was fitted
            saved = Path(trainer.log_dir or ".") / self.config_filename
            refuse_other_settings(saved, self.parser, self.config, checkpoint)
            return
        self._write(trainer, pl_module, stage)

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self._resumed:
            self._resumed = False
            self._write(trainer, pl_module, "fit")

    def _write(self, trainer: Any, pl_module: Any, stage: str) -> None:
        parser, self.parser = self.parser, cast(Any, _ParsedSave(self.parser))
        try:
            super().setup(trainer, pl_module, stage)
        finally:
            self.parser = parser


class _Without(logging.Filter):
    """Drops the log records whose message starts with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


class EconCLI(LightningCLI):
    """LightningCLI with econdl's defaults: subclass mode for model and data, the shared
    trainer config, run directories ``logs/<task>/<model>/version_N/``, and ``fit``
    followed by a test of the best checkpoint."""

    def __init__(self, *args: Any, verbose_test: bool = True, **kwargs: Any) -> None:
        self.verbose_test = verbose_test
        self._folder_lock = FolderLock()  # the run folder a fit holds (_hold_run_folder)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("save_config_callback", RunConfig)
        # exit_on_error=False: a rejected option raises ArgumentError, which `econdl` prints as one line
        # allow_abbrev=False: argparse would take a typo that starts a real option (--trainer.max_epoch) for it
        defaults = {"default_config_files": [str(TRAINER_DEFAULTS)], "exit_on_error": False, "allow_abbrev": False}
        if kwargs.get("run", True):
            kwargs.setdefault(
                "parser_kwargs", {"exit_on_error": False, "allow_abbrev": False, **{c: defaults for c in SUBCOMMANDS}}
            )
        else:  # no subcommand: one parser, built for driving the trainer from Python
            kwargs.setdefault("parser_kwargs", defaults)
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("subclass_mode_data", True)
        self.fit_seconds: float | None = None
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            self._folder_lock.release()  # a command that failed holds no run folder (a notebook keeps it alive)
            raise

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument(
            "--run_name",
            type=str | None,
            default=None,
            help="Run directory under the loggers' save_dir, e.g. kink/mlp (default: from the config path); "
            "an absolute path is the run's own folder.",
        )
        parser.add_argument(
            "--best_by",
            type=str | None,
            default=None,
            help="Validation metric that picks the best checkpoint, the one tested after fit "
            "(default: the trainer config's, val/loss); e.g. val/acc (accuracy is maximised), "
            "or last: no choice, the final epoch's weights are tested.",
        )
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=True,
            help="After fit, test the best checkpoint (fit only).",
        )

    def _set_seed(self) -> None:
        from lightning.fabric.utilities.seed import max_seed_value, min_seed_value

        seed = self._get(self.config, "seed_everything")
        if not isinstance(seed, bool) and isinstance(seed, int) and not min_seed_value <= seed <= max_seed_value:
            raise ConfigError(
                f"--seed_everything {seed}: a seed is a whole number from {min_seed_value} to {max_seed_value:,} "
                "(or true for a random one, false for none)"
            )
        self._drawn_seed: int | None = None
        if seed is True:  # Lightning's seed_everything() without a seed takes 0, not a random one
            # a rank that the first process started under DDP takes the seed that process drew
            inherited = os.environ.get("PL_GLOBAL_SEED") if os.environ.get("LOCAL_RANK", "0") != "0" else None
            seed = int(inherited) if inherited else random.SystemRandom().randint(min_seed_value, max_seed_value)
            resuming = self.subcommand == "fit" and self._config().get("ckpt_path") is not None
            if inherited is None and resuming:
                self._drawn_seed = seed  # a resume keeps its run's seed: _keep_the_runs_seed says which
            elif inherited is None:
                print(f"--seed_everything true: random seed {seed} (recorded in the run's config.yaml)", flush=True)
            if self.subcommand:
                self.config[self.subcommand]["seed_everything"] = seed
            else:
                self.config["seed_everything"] = seed
            if self._drawn_seed is not None:  # seeded quietly: the seed the run goes on with is said later
                from lightning.fabric.utilities.seed import seed_everything

                seed_everything(seed, workers=True, verbose=False)
                return
        super()._set_seed()

    def before_instantiate_classes(self) -> None:
        config = self._config()
        name = config.get("run_name")
        if name and not Path(name).is_absolute() and ".." in Path(name).parts:  # absolute: the run's own folder
            raise ConfigError(
                f"--run_name {name!r} must name folders inside the save_dir, e.g. kink/wide (no '..'); to "
                "write elsewhere, set --trainer.default_root_dir"
            )
        # a save_dir the user gave one file logger first (the others follow it), then the
        # default_root_dir for loggers still at the default; both before looking for last.ckpt
        one_save_dir(config.trainer)
        follow_default_root_dir(config.trainer)
        keep_last_resume_callback(config.trainer)
        best_by(config.trainer, config.get("best_by"))
        self._resume_version = self._resolve_named_checkpoint(config)
        self._keep_the_runs_seed(config)
        if config.trainer.get("logger") in (False, []):
            drop_callbacks(config.trainer, "LearningRateMonitor")  # no logger for it to write to
        if config.trainer.get("enable_progress_bar") is False:
            drop_callbacks(config.trainer, "ProgressBar")  # the option wins over the default config's bar
        if config.trainer.get("enable_checkpointing") is False:  # and over its checkpoints (best, last.ckpt)
            drop_callbacks(config.trainer, ".ModelCheckpoint")
            drop_callbacks(config.trainer, ".ResumeCheckpoint")

    def _keep_the_runs_seed(self, config: Any) -> None:
        """``fit --seed_everything true --ckpt_path ...``: the command that started the run, given
        again to resume it, goes on with the seed the run drew (its config.yaml records it; the
        random-number states come from last.ckpt), rather than draw another and be refused as a
        change of settings.  A checkpoint of no run folder keeps the seed drawn now."""
        drawn = getattr(self, "_drawn_seed", None)
        if drawn is None:
            return
        ckpt = Path(str(config.get("ckpt_path")))
        # only a run that goes on (its own last.ckpt); a fit from another checkpoint is a new run
        goes_on = self._resume_version is not None and ckpt.parent.name == "checkpoints"
        saved = ckpt.parent.parent / "config.yaml" if goes_on else None
        recorded = _recorded(saved, "seed_everything") if saved else None
        if isinstance(recorded, bool) or not isinstance(recorded, int) or recorded == drawn:
            print(f"--seed_everything true: random seed {drawn} (recorded in the run's config.yaml)", flush=True)
            return
        from lightning.fabric.utilities.seed import seed_everything

        config.seed_everything = recorded
        seed_everything(recorded, workers=True, verbose=False)
        said = f"the resumed run keeps the seed it was fitted with, {recorded} ({saved})"
        print(f"--seed_everything true: {said}", flush=True)

    def _resolve_named_checkpoint(self, config: Any) -> str | None:
        """``--ckpt_path last`` (or ``best``, outside ``fit``) in a new process: the newest run of
        the same name that has such a checkpoint.  ``fit`` resumes from its ``last.ckpt``,
        writing on into that run's directory, and gets the run's version back; ``validate``,
        ``test`` and ``predict`` load its ``last.ckpt`` or best checkpoint."""
        which = config.get("ckpt_path")
        if self.subcommand == "fit" and which == "best":
            raise ConfigError(
                "--ckpt_path best: `econdl fit` resumes from a run's last.ckpt (--ckpt_path last), which "
                "holds the whole training state; `best` is for validate, test and predict"
            )
        if which is None:
            return None
        if not str(which).strip():
            raise ConfigError(
                f"--ckpt_path {which!r} is empty: give a checkpoint's path, or last (the newest run's last.ckpt)"
                + ("" if self.subcommand == "fit" else " or best (its best checkpoint)")
                + ("; leave it out to start a new fit" if self.subcommand == "fit" else "")
            )
        name = config.get("run_name") or run_name_from(config)
        save_dirs = {
            Path(lg.init_args.save_dir)
            for lg in (config.trainer.logger if isinstance(config.trainer.get("logger"), list) else [])
            if "save_dir" in getattr(lg, "init_args", {})
        } or {_loggerless_root(config)}
        if which not in ("last", "best"):
            return self._resumed_run(Path(str(which)), name, save_dirs) if self.subcommand == "fit" else None
        runs = [r for d in sorted(save_dirs) if (r := latest_run_with(d, name, which)) is not None]
        saved = saved_run_of(config)
        if saved is not None and run_checkpoint(saved, which) is not None:
            runs = [saved]  # `--config logs/<task>/<model>/version_N/config.yaml`: that run, not the newest
        elif saved is not None:  # that run has none (a test or predict run): not another run's
            recorded = _recorded_ckpt_path(saved / "config.yaml")
            if which == "best" and run_checkpoint(saved, "last") is not None:
                raise CheckpointNotFound(
                    f"--ckpt_path best: {saved} holds last.ckpt but no best checkpoint: its fit chose no epoch on "
                    "validation data (a model with nothing to fit, or a fit that ended before its first "
                    "validation); use --ckpt_path last"
                )
            raise CheckpointNotFound(
                f"--ckpt_path {which}: {saved}, the run whose config.yaml this is, holds no {which} checkpoint"
                + (f" (it scored {recorded}: pass --ckpt_path {recorded})" if recorded else "")
                + "; give the config.yaml of the fit that made the checkpoint, or the checkpoint's path"
            )
        if not runs:
            pattern = "last.ckpt" if which == "last" else f"{BEST_PREFIX}*.ckpt"
            only_last = [r for d in sorted(save_dirs) if (r := latest_run_with(d, name, "last")) is not None]
            if which == "best" and only_last:
                raise CheckpointNotFound(
                    f"--ckpt_path best: {only_last[0]} (the newest run of {name}) holds last.ckpt but no "
                    f"{pattern}: its fit chose no epoch on validation data (a model with nothing to fit, or a "
                    "fit that ended before its first validation); use --ckpt_path last"
                )
            folders = [f for d in sorted(save_dirs) for f in run_folders(d, name)]
            if which == "last" and folders:
                raise CheckpointNotFound(
                    f"--ckpt_path last: no run of {name} holds a last.ckpt: the newest, {folders[-1]}, has none, so "
                    "its fit stopped before its first last.ckpt (written at the end of an epoch once "
                    "ResumeCheckpoint's every_seconds, 300 by default, have passed, at the end of the fit, and on "
                    "Ctrl+C or SIGTERM); nothing of it can be resumed: run the same command without --ckpt_path to "
                    "start the fit again"
                )
            raise CheckpointNotFound(
                f"--ckpt_path {which}: no {'/'.join(['<save_dir>', name, 'version_*', 'checkpoints', pattern])} "
                f"found under {', '.join(map(str, sorted(save_dirs)))}; run `econdl fit` first (with the same "
                "config, or the same --run_name), or give the checkpoint's path"
            )
        ckpt = run_checkpoint(runs[0], which)
        assert ckpt is not None  # latest_run_with found it
        config.ckpt_path = str(ckpt)
        if self.subcommand == "fit":
            self._hold(runs[0])  # before the checkpoint is read or a word is said about it
        saved_state = read_checkpoint(ckpt)
        check_fits(
            ckpt, saved_state, config.get("model"), config.get("data"), self.subcommand == "fit", self.subcommand
        )
        self._checked = str(ckpt)  # _check_checkpoint need not read it again
        if self.subcommand == "fit":
            if not any((d / name).resolve() == runs[0].parent.resolve() for d in save_dirs):
                # the config.yaml of a run copied or moved away from the config's runs: it goes on
                # where it is (writing on under its version in the runs folder would overwrite
                # another run's files)
                return self._resumed_run(ckpt, name, save_dirs)
            _say(f"resuming from {ckpt}{_resume_note(runs[0], saved_state, config)}")
            return runs[0].name
        _say(f"{self.subcommand}: {ckpt}")
        return None

    def _resumed_run(self, ckpt: Path, name: str, save_dirs: set[Path]) -> str | None:
        """``fit --ckpt_path RUN/checkpoints/last.ckpt``: the run's own last.ckpt, given by its
        path.  The run goes on in RUN, as with ``--ckpt_path last``, so its best checkpoint is
        chosen over all its epochs: in the config's runs folder (``<save_dir>/<name>/version_N``)
        or wherever RUN was moved or copied to (its file loggers are pointed at RUN, see
        ``after_instantiate_classes``); any other checkpoint starts a new run."""
        run = ckpt.parent.parent
        own_last = run_checkpoint(run, "last") if ckpt.parent.name == "checkpoints" else None
        if own_last is None or own_last.resolve() != ckpt.resolve():
            return None
        self._hold(run)
        if not any((d / name).resolve() == run.parent.resolve() for d in save_dirs):
            self._resume_dir = run  # a run moved or copied out of the config's runs: it goes on where it is
            self._say_unused_places(run)
        _say(f"resuming from {ckpt}: the run goes on in {run}")
        return run.name

    def _say_unused_places(self, run: Path) -> None:
        """The options that name where a run goes, given with a run that goes on where it is."""
        config = self._config()
        given = [f"--run_name {config.run_name}"] if config.get("run_name") else []
        if config.trainer.get("default_root_dir"):
            given.append(f"--trainer.default_root_dir {config.trainer.default_root_dir}")
        loggers = config.trainer.logger if isinstance(config.trainer.get("logger"), list) else []
        given += [
            f"logger version {v}"
            for v in {str(lg.init_args.get("version")) for lg in loggers if lg.init_args.get("version") is not None}
        ]
        if given:
            _say(
                f"note: {', '.join(given)} {'does' if len(given) == 1 else 'do'} not move a resumed run: it goes on "
                f"in {run}"
            )

    @staticmethod
    def configure_optimizers(lightning_module: Any, optimizer: Any, lr_scheduler: Any = None) -> Any:
        """As LightningCLI's, except that a per-step schedule (``econdl.schedules``) is sized
        from the trainer's total of optimizer steps and stepped after each of them, so a
        config's one-cycle schedule fits any data size, batch size or number of devices."""
        from econdl.schedules import StepSchedule

        _check_settings_fit_the_weights(optimizer, lr_scheduler)
        if isinstance(lr_scheduler, StepSchedule):
            lr_scheduler.set_total_steps(lightning_module.trainer.estimated_stepping_batches)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": lr_scheduler, "interval": "step"}}
        out = LightningCLI.configure_optimizers(lightning_module, optimizer, lr_scheduler)
        _plateau_after_validation(lightning_module.trainer, out)
        return out

    def _parse_ckpt_path(self) -> None:
        """Check ``--ckpt_path`` before Lightning reads the model's hyper-parameters from it."""
        self._check_checkpoint()
        super()._parse_ckpt_path()

    def _check_checkpoint(self) -> None:
        """A missing file, a file that is no checkpoint, or a checkpoint of another model or
        data set fails here, in the user's terms, before any weight is loaded."""
        if not self.config.get("subcommand"):
            return
        config = self.config[self.config.subcommand]
        path = config.get("ckpt_path")
        if not path or str(path) in SPECIAL_PATHS or "://" in str(path) or str(path).startswith("registry"):
            return
        if str(path) == getattr(self, "_checked", None):
            return
        resume = self.config.subcommand == "fit"
        stage = self.config.subcommand
        check_fits(path, read_checkpoint(path), config.get("model"), config.get("data"), resume, stage)

    def _refuse_unfitted(self) -> None:
        """``validate``, ``test`` and ``predict`` of a model that learns need its weights: without
        ``--ckpt_path`` they would score the untrained model."""
        config = self._config()
        if self.subcommand == "fit" or config.get("ckpt_path") or not getattr(self.model, "needs_fit", True):
            return
        name = config.get("run_name") or run_name_from(config)
        raise ConfigError(
            f"econdl {self.subcommand} needs a fitted model: pass --ckpt_path with a checkpoint file, or "
            f"`last` or `best` for the newest run of {name} (`econdl fit` tests its best checkpoint "
            "by itself at the end)"
        )

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            self._run_and_explain(subcommand)
        except BaseException:
            self._keep_failed_config()
            if subcommand != "fit":
                self._drop_unused_run_folder()
            raise
        finally:
            self._folder_lock.release()

    def _hold(self, folder: Path) -> None:
        """Hold ``folder`` for this fit (not in DDP's other processes, on any node: the first
        process holds it for them)."""
        other = int(os.environ.get("LOCAL_RANK", "0")) > 0 or getattr(rank_zero_only, "rank", 0) > 0
        if other or not folder.is_dir():
            return
        self._folder_lock.take(
            folder,
            f"{folder} is being written by another `econdl fit` that is still running (that run, or a resume of "
            "it); two fits in one run folder would write over each other's checkpoints and metrics.csv rows: wait "
            "until it has ended, then resume with --ckpt_path last, or leave --ckpt_path out to start a run of its "
            "own",
        )

    def _hold_run_folder(self) -> None:
        """A fit holds its run folder from here until the command ends: a second fit into the
        same folder (a resume of a run that is still being fitted, or of one being resumed
        already; a new run given the same logger version) is refused before it reads or writes
        anything there, rather than both writing over each other's checkpoints and metrics.csv
        rows.  The launching process holds it for DDP's other processes."""
        folder = self._run_folder()
        if folder is None or "://" in str(folder):
            return
        folder.mkdir(parents=True, exist_ok=True)  # a logger version given, not made yet
        self._hold(folder)  # a resume holds it already

    def _run_folder(self) -> Path | None:
        """The folder this command writes its run to (its file loggers', or the loggerless run's)."""
        for logger in self.trainer.loggers:
            if isinstance(logger, (CSVLogger, TensorBoardLogger)):
                return Path(logger.log_dir)
        return None if self.trainer.loggers else Path(self.trainer.default_root_dir)

    def _keep_failed_config(self) -> None:
        """A command that failed before Lightning saved its config (bad data, say) leaves the
        config it ran with in its run folder, beside whatever else it wrote."""
        try:
            folder = Path(self.trainer.log_dir or "")
            if not self.trainer.is_global_zero or not folder.is_dir() or (folder / "config.yaml").exists():
                return
            config = repeatable(self._config(), self.subcommand)
            self._parser(self.subcommand).save(config, folder / "config.yaml", skip_none=False)
        except Exception:  # noqa: BLE001 - never hide the failure being reported
            return

    def _drop_unused_run_folder(self) -> None:
        """An evaluation (validate, test, predict) that failed before writing a result leaves
        no run folder behind: the one it made holds nothing but its own config and logs (the
        scores of a refused test), and would only stand between the user and the runs in
        ``logs/``.  A fit's folder stays (its config is the record of what failed), as does any
        folder this command did not make."""
        folder = getattr(self, "_made_folder", None)
        if folder is None or not self.trainer.is_global_zero or not folder.is_dir():
            return
        files = [p for p in folder.rglob("*") if not p.is_dir()]
        if all(p.parent == folder and (p.name in RECORDS or p.name.startswith("events.out.tfevents.")) for p in files):
            shutil.rmtree(folder, ignore_errors=True)

    def _run_and_explain(self, subcommand: str) -> None:
        try:
            with cuda_count_pinned(self.trainer):  # econdl.fastpath: no CUDA probe in each CPU step
                super()._run_subcommand(subcommand)
        except RuntimeError as err:  # weights that do not fit the network this data sizes
            path = self._config().get("ckpt_path")
            explained = explain_load_failure(path, err) if path else None
            if explained is None:
                raise
            raise explained from err

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        if self.subcommand == "fit":
            kwargs.update(self._options_that_do_not_apply())
        if not self._get(self.config_init, "trainer", default={}).get("plugins"):
            kwargs.setdefault("plugins", [AtomicCheckpointIO()])  # a kill mid-save keeps the old file
        settings = self._get(self.config_init, "trainer", default={})
        precision = str(settings.get("precision"))
        with warnings.catch_warnings():
            # on the CPU Lightning would say it uses bf16-mixed instead, and econdl then refuses (below)
            warnings.filterwarnings("ignore", message=r".*AMP with fp16 is not supported on CPU")
            info = logging.getLogger("lightning.pytorch.utilities.rank_zero")
            fallback = _Without("Using bfloat16 Automatic Mixed Precision")  # the line that goes with it
            if precision in ("16-mixed", "16"):
                info.addFilter(fallback)
            try:
                trainer = super().instantiate_trainer(**kwargs)
            finally:
                info.removeFilter(fallback)
        on_cpu = trainer.accelerator.__class__.__name__ == "CPUAccelerator"
        if precision in ("16-mixed", "16") and on_cpu:
            # Lightning falls back to bf16-mixed with a warning; the saved config would say 16-mixed
            raise ConfigError(
                f"--trainer.precision {precision} needs a CUDA GPU (float16 autocast) and this run is on the "
                "CPU: use --trainer.precision bf16-mixed on the CPU, or run where a GPU is (--trainer.accelerator gpu)"
            )
        if precision == "16-true" and on_cpu and self.subcommand == "fit":
            # float16 weights and optimizer state on the CPU, without a loss scaler: the loss or
            # the weights become NaN within steps, whatever the learning rate
            raise ConfigError(
                "--trainer.precision 16-true keeps the weights and the optimizer's state in float16, which "
                "overflows to NaN on the CPU whatever the learning rate: use --trainer.precision bf16-mixed "
                "(16-bit arithmetic, 32-bit weights), bf16-true or 32-true"
            )
        if self.subcommand == "fit" and (trainer.max_epochs == 0 or trainer.max_steps == 0):
            option = "max_epochs" if trainer.max_epochs == 0 else "max_steps"
            raise ConfigError(
                f"--trainer.{option} 0 trains nothing; give 1 or more (to score a fitted model: econdl test "
                "--ckpt_path)"
            )
        start = getattr(trainer.strategy, "_start_method", None)
        if start in ("spawn", "fork", "forkserver"):
            # the fit runs in processes Lightning starts from this one, and only the weights come back
            raise ConfigError(
                f"--trainer.strategy {_strategy_name(settings.get('strategy'))} (processes started by {start}) is "
                "not supported: "
                "the run's metrics.csv rows, checkpoint states and random-number states do not come back from "
                "its processes intact; use --trainer.strategy ddp with --trainer.devices N (econdl then starts "
                "one process per device, and resumes and logs exactly)"
            )
        direct_hooks(trainer)  # econdl.fastpath: callbacks' no-op hooks are not called
        return trainer

    def _options_that_do_not_apply(self) -> dict[str, Any]:
        """Trainer options that a baseline has no use for, reset for its fit, with one line
        saying so (an ``econdl compare`` passes the same options to every model of a table).

        A closed-form model (``exact_pass``) is solved from all training rows in one pass:
        validating part-way (``val_check_interval``), stopping early (``max_steps``) or reading
        part of the data (``limit_train_batches``, ``overfit_batches``) would solve it on some
        of the rows, and validating every k-th epoch would never validate it.  A model that
        takes its own steps (manual optimization: these, and LassoLogit's proximal steps) has
        no gradients for Lightning to clip or accumulate, which Lightning refuses."""
        trainer = self._get(self.config_init, "trainer", default={})
        neutral: dict[str, Any] = {}
        if getattr(self.model, "exact_pass", False):
            neutral.update(
                val_check_interval=1.0,
                check_val_every_n_epoch=1,
                max_steps=-1,
                limit_train_batches=1.0,
                overfit_batches=0.0,
            )
        if not getattr(self.model, "automatic_optimization", True):
            neutral.update(gradient_clip_val=None, accumulate_grad_batches=1)
        unset = {"val_check_interval": None, "limit_train_batches": None, "max_steps": None, "gradient_clip_val": 0}
        reset = {
            key: value
            for key, value in neutral.items()
            if trainer.get(key, value) not in (value, unset.get(key, value))
        }
        if reset and getattr(rank_zero_only, "rank", 0) == 0:
            given = ", ".join(f"--trainer.{key} {trainer.get(key)}" for key in reset)
            how = (
                "is solved from all training rows in one pass"
                if getattr(self.model, "exact_pass", False)
                else "takes its own optimizer steps"
            )
            verbs = "does not apply to it and is" if len(reset) == 1 else "do not apply to it and are"
            print(f"{type(self.model).__name__} {how}: {given} {verbs} left out of its fit")
        return reset

    def after_instantiate_classes(self) -> None:
        """Point every file logger left unnamed at one run directory, logs/<task>/<model>/version_N.

        Done on the logger objects, not in the config, so the saved config.yaml keeps
        ``name: null`` and fitting it again opens a new version rather than reusing this one.
        """
        if self.subcommand is None:
            return
        self._refuse_unfitted()  # before a run directory is made for it
        config = self._config()
        name = config.get("run_name") or run_name_from(config)
        # DDP worker processes (LOCAL_RANK > 0) reuse the directory their launcher chose.
        worker = int(os.environ.get("LOCAL_RANK", "0")) > 0
        version = os.environ.get("ECONDL_RUN_VERSION") if worker else getattr(self, "_resume_version", None)
        if version is None and not worker:
            version = self._explicit_version(name)  # the other loggers follow it: one folder
        moved = getattr(self, "_resume_dir", None)  # a run resumed outside the config's runs, where it is
        for logger in self.trainer.loggers:
            if not isinstance(logger, (CSVLogger, TensorBoardLogger)) or logger._name:
                continue
            if moved is not None:  # <save_dir>/<name>/<version> is the run's folder: name "" adds no level
                logger._root_dir = str(moved.parent)  # TensorBoard's save_dir (and fabric CSV's root)
                if isinstance(logger, CSVLogger):
                    logger._save_dir = str(moved.parent)  # Lightning CSV's save_dir
                logger._name, logger._version = "", moved.name
                continue
            logger._name = name
            if logger._version is None:
                if version is None:
                    version = reserve_version(Path(logger.save_dir) / name)
                    self._made_folder = Path(logger.save_dir) / name / version
                # version_N as the number N: the same folder, and the progress bar shows v_num=N
                # (Lightning shows a name's last four characters, "on_1")
                numbered = re.fullmatch(r"version_(\d+)", version)
                logger._version = int(numbered.group(1)) if numbered else version
        if not self.trainer.loggers and "://" not in str(config.trainer.get("default_root_dir") or ""):
            # `--trainer.logger false`: Lightning would put every run's checkpoints and config in
            # one folder, a later fit overwriting an earlier one's; the run gets its own instead
            root = _loggerless_root(config) / name if moved is None else moved.parent
            if version is None:
                version = reserve_version(root)
                self._made_folder = root / version
            self.trainer._default_root_dir = str(root / version)  # type: ignore[attr-defined]
        if version is not None:
            os.environ["ECONDL_RUN_VERSION"] = version
        if self.subcommand == "fit" and not worker:
            self._hold_run_folder()  # before anything reads or writes the folder
        if getattr(self, "_resume_version", None) and self.trainer.is_global_zero:
            for logger in self.trainer.loggers:
                if isinstance(logger, CSVLogger):
                    carry_rows(logger)  # the resumed run writes on into its metrics.csv

    def _explicit_version(self, name: str) -> Any:
        """The version a config or the command line gave an unnamed file logger, if any (the
        other loggers take it too, so the run stays in one folder).  A folder that holds a run
        already is refused, unless ``fit`` resumes from a checkpoint inside it: a new run would
        write over that run's checkpoints and rows."""
        loggers = [lg for lg in self.trainer.loggers if isinstance(lg, (CSVLogger, TensorBoardLogger)) and not lg._name]
        given = [lg for lg in loggers if lg._version is not None]
        if not given or len({str(lg._version) for lg in given}) > 1:
            return None
        version = given[0]._version
        folder = Path(given[0].save_dir) / name / (version if isinstance(version, str) else f"version_{version}")
        held = sorted(p.name for p in (*folder.glob("checkpoints/*.ckpt"), folder / "metrics.csv") if p.is_file())
        ckpt = self._config().get("ckpt_path")
        inside = ckpt is not None and folder.resolve() in Path(str(ckpt)).resolve().parents
        if held and not (self.subcommand == "fit" and inside):
            raise ConfigError(
                f"logger version {version!r}: {folder} holds a run already ({', '.join(held[:3])}), which this "
                f"`econdl {self.subcommand}` would write over; leave the version unset (the run gets the next free "
                f"version_N), name a version not taken yet, or continue that run with "
                f"`econdl fit ... --ckpt_path {folder / 'checkpoints' / 'last.ckpt'}`"
            )
        return folder.name

    def _config(self) -> Any:
        return self.config[self.subcommand] if self.subcommand else self.config

    def before_fit(self) -> None:
        refuse_fused_clipping(self._config(), self.trainer)
        self._fit_start = time.perf_counter()

    def before_predict(self) -> None:
        """Each process of a multi-process predict gets its share of the rows, and only the
        first process writes predictions.csv: refused, rather than write half the rows."""
        if self.trainer.world_size > 1:
            strategy = _strategy_name(self._config().trainer.strategy)
            raise ConfigError(
                f"econdl predict on {self.trainer.world_size} processes (--trainer.devices {self.trainer.num_devices}, "
                f"strategy {strategy}) would write only the first process's share of the predictions; predict in one "
                "process (--trainer.devices 1): a fitted model's predictions need no second one"
            )

    def after_fit(self) -> None:
        self.fit_seconds = time.perf_counter() - self._fit_start
        if not self._config().get("test_after_fit", True) or self.trainer.interrupted:
            return
        # the path itself, not "best": a config may add ModelCheckpoints of its own
        callback = self.trainer.checkpoint_callback
        ckpt = getattr(callback, "best_model_path", "") or None
        monitor = getattr(callback, "monitor", None)
        if ckpt is None and monitor and monitor not in self.trainer.callback_metrics and self.trainer.is_global_zero:
            print(
                f"the fit ended (step {self.trainer.global_step}) before any validation, so no checkpoint was "
                f"chosen by {monitor}; testing the final weights"
            )
        elif callback is None and self.trainer.is_global_zero:
            print("no checkpoint was kept (--trainer.enable_checkpointing false): testing the final weights")
        elif monitor is None and self._config().get("best_by") != "last" and self.trainer.is_global_zero:
            print(  # a config's trainer.callbacks replaces the default list, best checkpoint included
                "no checkpoint watches a validation metric (a trainer.callbacks list replaces econdl's defaults, "
                "among them the best checkpoint by val/loss): testing the final weights; to test the best epoch, "
                "list a lightning.pytorch.callbacks.ModelCheckpoint with monitor: val/loss among the callbacks "
                "(--best_by last says the final weights are meant)"
            )
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=ckpt, verbose=self.verbose_test)
        self._stop_if_terminated()

    def _stop_if_terminated(self) -> None:
        """Lightning notes a SIGTERM during validate/test/predict and stops only between two
        batches: one that came during the last batch would end the command with status 0."""
        if getattr(self.trainer, "received_sigterm", False):
            from lightning.pytorch.utilities.exceptions import SIGTERMException

            raise SIGTERMException

    def after_validate(self) -> None:
        self._stop_if_terminated()

    def after_test(self) -> None:
        self._stop_if_terminated()

    def after_predict(self) -> None:
        self._stop_if_terminated()


def check_yaml(path: str | Path) -> None:
    """A config file that is not valid YAML, gives a key twice or holds no config sections:
    ConfigFileInvalid naming the file, the line and the likely fix."""
    content = read_yaml(path)
    if content is None or not isinstance(content, dict):
        held = "nothing" if content is None else f"a {type(content).__name__}"
        raise ConfigFileInvalid(
            f"{path} holds {held}, where a config holds sections such as model:, data: and trainer: "
            "(e.g. configs/kink/mlp.yaml)"
        )
    if "search_space" in content and "base_config" in content:
        raise ConfigFileInvalid(
            f"{path} is a sweep config (search_space, base_config): run it with `econdl sweep --config {path}`, "
            f"or fit its base config, {content['base_config']} (relative to {Path(path).parent})"
        )


def check_config_files(args: list[str]) -> None:
    """Refuse, with the file, line and fix, any config file that ``--config``/``-c`` names in
    ``args`` and that is not a valid config (see :func:`check_yaml`)."""
    for path in option_values(args, "--config", "-c"):
        if Path(path).is_file():
            check_yaml(path)


def cli_main(args: list[str] | None = None, **kwargs: Any) -> EconCLI:
    """Run the LightningCLI part of ``econdl`` (``args`` as on the command line)."""
    check_config_files(args or [])
    return EconCLI(args=args, **kwargs)
