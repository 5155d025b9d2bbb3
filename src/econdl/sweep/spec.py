"""The sweep file (``configs/sweeps/<name>.yaml``): what to search, how, and for how long.

    study_name: kink_mlp
    base_config: ../kink/mlp.yaml          # relative to this file (or to the working folder)
    n_trials: 12
    objective: {metric: val/loss, direction: minimize}
    sampler: {name: tpe, seed: null}       # tpe | random | grid (+ the sampler's own options)
    pruner: {name: median, n_warmup_steps: 5}   # none | median | percentile | hyperband | successive_halving
    storage: null                          # null: sqlite file in the output folder
    fixed: {trainer.max_epochs: 40}        # CLI keys set in every trial
    search_space:
      optimizer.init_args.lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
      data.init_args.batch_size: {type: categorical, choices: [64, 128, 256]}
      model.init_args.net.init_args.widths: {type: categorical, choices: [[32], [64, 32]]}

Every search-space key is a key of ``econdl fit`` (what ``--KEY VALUE`` accepts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from econdl.errors import ConfigError, ConfigFileNotFound
from econdl.yamlfile import read_yaml

Direction = Literal["minimize", "maximize"]

TOP_KEYS = {
    "study_name",
    "base_config",
    "n_trials",
    "objective",
    "sampler",
    "pruner",
    "storage",
    "fixed",
    "search_space",
    "max_failures",
}
TYPES = ("float", "int", "categorical")


def cli_value(value: Any) -> str:
    """A value as ``econdl fit`` reads it after ``--KEY=`` (lists and booleans as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


@dataclass
class Param:
    """One dimension of the search space, suggested through Optuna's trial API."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] = field(default_factory=list)

    @property
    def encoded(self) -> bool:
        """Optuna stores only scalars as categorical choices: lists are stored as JSON text."""
        return any(isinstance(c, (list, dict)) for c in self.choices)

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` of a numeric range; categorical parameters have none."""
        if self.low is None or self.high is None:
            raise ConfigError(f"search_space.{self.key}: a {self.type} parameter needs `low` and `high`")
        return self.low, self.high

    def optuna_choices(self) -> list[Any]:
        return [json.dumps(c) for c in self.choices] if self.encoded else list(self.choices)

    def decode(self, stored: Any) -> Any:
        """The value to pass to ``econdl fit`` from the value Optuna stored."""
        return json.loads(stored) if self.encoded and isinstance(stored, str) else stored

    def suggest(self, trial: Any) -> Any:
        if self.type == "categorical":
            return self.decode(trial.suggest_categorical(self.key, self.optuna_choices()))
        if self.type == "int":
            low, high = self.bounds
            return trial.suggest_int(self.key, int(low), int(high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, *self.bounds, step=self.step, log=self.log)

    def grid(self) -> list[Any]:
        """Every value of this dimension, for the grid sampler."""
        if self.type == "categorical":
            return self.optuna_choices()
        if self.step is None or self.log:
            raise ConfigError(
                f"search_space.{self.key}: the grid sampler needs `choices` or a `step` (without log) "
                f"for a {self.type} range"
            )
        low, high = self.bounds
        count = int(np.floor((high - low) / self.step + 1e-9)) + 1  # low, low + step, ... never past high
        values = [low + k * self.step for k in range(count)]
        return [int(v) for v in values] if self.type == "int" else [float(round(v, 12)) for v in values]

    def corners(self) -> list[Any]:
        """Values checked against the CLI before the first trial: the range ends, every choice."""
        if self.type == "categorical":
            return list(self.choices)
        cast = int if self.type == "int" else float
        return [cast(bound) for bound in self.bounds]


def parse_param(key: str, raw: Any) -> Param:
    """Check one search-space entry and return it as a Param."""
    where = f"search_space.{key}"
    if isinstance(raw, list):  # shorthand: a list is a categorical choice
        raw = {"type": "categorical", "choices": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping like {{type: float, low: 1e-4, high: 0.1, log: true}}")
    kind = raw.get("type", "categorical" if "choices" in raw else "float")
    if kind not in TYPES:
        raise ConfigError(f"{where}: type={kind!r} is not known; choose one of {list(TYPES)}")
    unknown = set(raw) - {"type", "low", "high", "log", "step", "choices"}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; use type, low, high, log, step, choices")
    if kind == "categorical":
        choices = raw.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: a categorical parameter needs a non-empty list `choices`")
        return Param(key, kind, choices=choices)
    if "low" not in raw or "high" not in raw:
        raise ConfigError(f"{where}: a {kind} parameter needs `low` and `high`")
    low, high = float(raw["low"]), float(raw["high"])
    if not low < high:
        raise ConfigError(f"{where}: low={low} must be below high={high}")
    log = bool(raw.get("log", False))
    if log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low > 0, got low={low}")
    step = raw.get("step")
    return Param(key, kind, low, high, log, None if step is None else float(step))


@dataclass
class SweepSpec:
    """A parsed sweep file; see the module docstring for its fields."""

    study_name: str
    base_config: Path
    n_trials: int
    metric: str
    direction: Direction
    sampler: dict[str, Any]
    pruner: dict[str, Any]
    storage: str | None
    fixed: list[str]
    params: list[Param]
    max_failures: int
    source: Path | None = None

    def fit_args(self, values: dict[str, Any] | None = None, extra: list[str] | None = None) -> list[str]:
        """``econdl fit`` arguments for one trial: base config, fixed keys, sampled values."""
        args = ["fit", "--config", str(self.base_config), *self.fixed, *(extra or [])]
        return args + [f"--{k}={cli_value(v)}" for k, v in (values or {}).items()]


def _resolve(path: str, folder: Path) -> Path:
    candidates = [folder / path, Path(path)] if not Path(path).is_absolute() else [Path(path)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigFileNotFound(
        f"base_config {path} not found (looked in {', '.join(str(c) for c in candidates)}); "
        "give a path relative to the sweep file"
    )


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a sweep file; errors name the bad field and the fix."""
    path = Path(path)
    if path.is_dir():  # a folder of sweep files: one sweep is run at a time
        inside = sorted(p.name for p in path.glob("*.y*ml"))
        raise ConfigFileNotFound(
            f"sweep file {path} is a folder; give one sweep file"
            + (
                f" in it, e.g. {path / inside[0]} (it holds {', '.join(inside)})"
                if inside
                else ", e.g. configs/sweeps/kink_mlp.yaml"
            )
        )
    if not path.is_file():
        raise ConfigFileNotFound(f"sweep file {path} does not exist (e.g. configs/sweeps/kink_mlp.yaml)")
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a YAML mapping with base_config, n_trials and search_space")
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; known keys are {sorted(TOP_KEYS)}")
    for needed in ("base_config", "search_space"):
        if needed not in raw:
            raise ConfigError(f"{path}: `{needed}` is missing")
    space = raw["search_space"]
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"{path}: search_space must map CLI keys (e.g. optimizer.init_args.lr) to ranges")
    objective = {"metric": "val/loss", "direction": "minimize", **(raw.get("objective") or {})}
    direction = objective["direction"]
    if direction not in ("minimize", "maximize"):
        raise ConfigError(f"objective.direction={direction!r} must be 'minimize' or 'maximize'")
    n_trials = int(raw.get("n_trials", 20))
    if n_trials < 1:
        raise ConfigError(f"n_trials={n_trials} must be at least 1")
    fixed = raw.get("fixed") or {}
    if isinstance(fixed, dict):
        fixed = [f"--{k}={cli_value(v)}" for k, v in fixed.items()]
    return SweepSpec(
        study_name=str(raw.get("study_name") or path.stem),
        base_config=_resolve(str(raw["base_config"]), path.parent),
        n_trials=n_trials,
        metric=str(objective["metric"]),
        direction=direction,
        sampler=dict(raw.get("sampler") or {"name": "tpe"}),
        pruner=dict(raw.get("pruner") or {"name": "none"}),
        storage=raw.get("storage"),
        fixed=[str(a) for a in fixed],
        params=[parse_param(str(k), v) for k, v in space.items()],
        max_failures=int(raw.get("max_failures", n_trials)),
        source=path.resolve(),
    )
