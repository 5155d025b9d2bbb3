"""What a reader needs to rerun a result: versions, device, code commit, date, command."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import shlex
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

RUN_INFO = "run_info.json"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def device_name() -> str:
    """The accelerator fits ran on (the first GPU's name), or the CPU."""
    import torch

    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        return f"{torch.cuda.get_device_name(0)}" + (f" (x{count})" if count > 1 else "")
    import os

    return f"CPU ({platform.machine()}, {os.cpu_count()} cores)"


def git_commit() -> str | None:
    """The commit of the econdl source in use, ``+ local changes`` when the tree differs; None
    outside a git checkout (an installed wheel)."""
    src = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=src, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=src,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip() + (" + local changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    """Versions, device, commit and date (UTC) of this process."""
    return {
        "econdl": _version("econdl"),
        "torch": _version("torch"),
        "lightning": _version("lightning"),
        "python": platform.python_version(),
        "device": device_name(),
        "git commit": git_commit() or "not a git checkout",
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def command_line(program: str, argv: list[str]) -> str:
    """The shell command ``program argv...`` quoted so that it can be pasted back."""
    return " ".join(["econdl", program, *map(shlex.quote, argv)])


def write_run_info(
    out_dir: Path,
    command: str,
    runs: dict[str, list[str]],
    blocks: dict[str, str],
    failed: dict[str, str] | None = None,
    task: str | None = None,
    plots: list[str] | None = None,
) -> Path:
    """``run_info.json`` in a compare directory: the command, the environment, each model's
    run directories, the per-class table files, the models that could not be fitted (with
    why), the task and the plots the comparison drew, which ``econdl report`` reads later."""
    runs = {model: [str(Path(d).resolve()) for d in dirs] for model, dirs in runs.items()}
    info = {"command": command, "environment": environment(), "runs": runs, "blocks": blocks, "failed": failed or {}}
    info.update({"task": task} if task else {})
    info.update({"plots": plots} if plots is not None else {})
    path = out_dir / RUN_INFO
    path.write_text(json.dumps(info, indent=2) + "\n")
    (out_dir / "command.txt").write_text(command + "\n")
    return path


def read_run_info(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_INFO
    return json.loads(path.read_text()) if path.is_file() else {}
