"""Helpers shared by the tests (fixtures live in conftest.py): where the repository and its
configs are, a fast set of overrides, and the real ``econdl`` command run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    """Run the `econdl` command as a user would, in the current folder."""
    exe = Path(sys.executable).with_name("econdl")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout, env=econdl_env())
