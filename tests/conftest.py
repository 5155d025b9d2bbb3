"""Shared fixtures: every test runs in its own temporary folder so run outputs
(logs/) never mix, and the repository's configs are reachable as CONFIGS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ECONDL_RUN_VERSION", raising=False)
    return tmp_path


def run_econdl(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the `econdl` command as a user would, in the current folder."""
    exe = Path(sys.executable).with_name("econdl")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("ECONDL_DEBUG", None)
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout, env=env)


# Keeps CLI tests fast: a small data set and few epochs, no progress bar.
FAST = [
    "--data.init_args.x_size=512",
    "--data.init_args.val_size=128",
    "--data.init_args.test_size=101",
    "--data.init_args.batch_size=64",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]
