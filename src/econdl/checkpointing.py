"""Checkpoints that survive a killed process, and finding the one to resume from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file beside its target, flushes it to disk, then
    renames it over the target (an atomic step on POSIX file systems).  A process killed
    mid-save leaves the previous good ``last.ckpt`` in place, never a truncated one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()


def latest_run_with_last(save_dir: Path, name: str) -> Path | None:
    """``save_dir/name/version_N`` with the highest N that holds ``checkpoints/last.ckpt``."""
    root = save_dir / name
    runs = [p for p in root.glob("version_*") if (p / "checkpoints" / "last.ckpt").is_file()]
    numbered = [(int(p.name.split("_", 1)[1]), p) for p in runs if p.name.split("_", 1)[1].isdigit()]
    return max(numbered)[1] if numbered else None
