"""Helpers shared by the tests (fixtures live in conftest.py): where the repository and its
configs are, a fast set of overrides, and the real ``econdl`` command run as a user would."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import forked

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"

# Keeps CLI tests of the kink task fast: a small data set and few epochs, no progress bar.
FAST = [
    "--data.init_args.x_size=512",
    "--data.init_args.val_size=128",
    "--data.init_args.test_size=101",
    "--data.init_args.batch_size=64",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]


def econdl_env() -> dict[str, str]:
    """The environment a user's shell gives ``econdl``: warnings off, no debug tracebacks."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("ECONDL_DEBUG", None)
    return env


def run_econdl(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the `econdl` command as a user would, in the current folder, in a process of its own
    (forked from one that has imported econdl: ``tests/forked.py``)."""
    return forked.run(list(args), env=econdl_env(), timeout=timeout)


def fixture_script(task: str) -> ModuleType:
    """``tests/data/<task>/make.py`` as a module (the script that writes a task's tiny data)."""
    spec = importlib.util.spec_from_file_location(f"fixture_{task}", REPO / "tests" / "data" / task / "make.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_fixture(task: str, out: Path) -> Path:
    """Write ``task``'s tiny data set into ``out/<task>-fixture`` with its script; return that folder."""
    return fixture_script(task).make(out / f"{task}-fixture")


# Overrides that make any config of a task folder run on tiny data (generated, embedded or
# written by tests/data/<task>/make.py).  A new task folder under configs/ adds its entry.
TINY_DATA: dict[str, Callable[[Path], list[str]]] = {
    "kink": lambda tmp: ["--data.x_size=256", "--data.val_size=64", "--data.test_size=65", "--data.batch_size=64"],
    "linear": lambda tmp: ["--data.n=300"],
    "gdp": lambda tmp: [],  # the embedded US series: 203 quarters, small already
    "mnist": lambda tmp: [
        f"--data.data_dir={make_fixture('mnist', tmp)}",
        "--data.val_size=10",
        "--data.batch_size=16",
    ],
    "gender": lambda tmp: [
        f"--data.root={make_fixture('gender', tmp)}",
        "--data.image_size=[20, 16]",
        "--data.batch_size=8",
    ],
}


def tiny_data(folder: str, config: Path, tmp: Path) -> list[str]:
    """``TINY_DATA[folder]``, or a failure telling the config's author what to add."""
    if folder not in TINY_DATA:
        raise AssertionError(
            f"{config} is in a task folder the tests do not know, {folder!r}: add an entry "
            f"{folder!r}: lambda tmp: [...overrides...] to TINY_DATA in tests/helpers.py that makes its data "
            f"tiny (for data read from files, also a tests/data/{folder}/make.py that writes them; see CONTRIBUTING.md)"
        )
    return TINY_DATA[folder](tmp)


def printed_metric(stdout: str, name: str) -> float:
    """The value printed for metric ``name`` (e.g. ``test/rmse``) in Lightning's results table."""
    import re

    found = re.findall(rf"^[\s│|]*{re.escape(name)}[\s│|]+([-+0-9.eE]+|nan)[\s│|]*$", stdout, flags=re.MULTILINE)
    assert found, f"{name} is not printed in:\n{stdout[-2000:]}"
    return float(found[-1])


def quiet_trainer(tmp: Path, **kwargs: Any) -> Any:
    """A small CPU Trainer with nothing written or printed: 2 epochs of at most 4 batches,
    deterministic (``kwargs`` override any of it)."""
    import lightning as L

    options = dict(
        accelerator="cpu",
        devices=1,
        max_epochs=2,
        limit_train_batches=4,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp,
        deterministic=True,
    )
    return L.Trainer(**{**options, **kwargs})
