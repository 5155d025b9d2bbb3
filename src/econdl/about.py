"""``econdl --version``: the versions a bug report needs."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import econdl

PACKAGES = ("torch", "lightning", "torchmetrics", "jsonargparse")


def versions() -> str:
    """One line per component: econdl, then torch, lightning (and the libraries the CLI rests
    on), then Python and the platform.  Read from package metadata, so nothing heavy is imported."""
    lines = [f"econdl {econdl.__version__}"]
    for name in PACKAGES:
        try:
            lines.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            lines.append(f"{name} not installed")
    lines.append(f"Python {platform.python_version()} ({platform.platform()})")
    return "\n".join(lines)
