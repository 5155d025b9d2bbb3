"""A callback for DDP tests, named on the command line (``--trainer.callbacks+=ddp_probe.RankWeights``).

After every optimizer step it gathers every rank's parameters and records on rank 0 the
largest difference between ranks; DDP's gradient all-reduce keeps that at exactly zero.
At the first step it also gathers one draw of each rank's torch generator (where dropout
and augmentation draw from): the ranks must draw apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch


class RankWeights(L.Callback):
    """Writes ``{"steps": k, "max_rank_diff": d, "ranks_draw_apart": b}`` to ``path`` at the
    end of the fit (rank 0)."""

    def __init__(self, path: str = "rank_weights.json") -> None:
        self.path, self.steps, self.max_diff = Path(path), 0, 0.0
        self.draws_apart: bool | None = None

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: object) -> None:
        if self.draws_apart is None:
            draws = pl_module.all_gather(torch.rand(4, device=pl_module.device)).reshape(trainer.world_size, -1)
            self.draws_apart = bool((draws[1:] != draws[0]).all())

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: object) -> None:
        flat = torch.cat([p.detach().flatten() for p in pl_module.parameters()])
        gathered = pl_module.all_gather(flat).reshape(trainer.world_size, -1)
        self.steps += 1
        self.max_diff = max(self.max_diff, float((gathered - gathered[0]).abs().max()))

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_rank == 0:
            self.path.write_text(
                json.dumps({"steps": self.steps, "max_rank_diff": self.max_diff, "ranks_draw_apart": self.draws_apart})
            )
