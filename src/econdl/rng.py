"""The random-number state of a training process, so a resumed fit draws what the
uninterrupted one drew: dropout masks, augmentation, shuffling.

Saved per process: under DDP every rank has its own generators (each rank seeds its own
dropout), so a checkpoint stores one entry per rank and each rank restores its own.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def owned_generators(*owners: Any) -> dict[str, torch.Generator]:
    """Every ``torch.Generator`` held as an attribute of ``owners`` (the DataModule, the
    LightningModule and its submodules), keyed by where it lives: the generators econdl's
    own code draws from, beside the global ones."""
    found: dict[str, torch.Generator] = {}
    for owner in owners:
        if owner is None:
            continue
        holders = [("", owner)]
        if isinstance(owner, torch.nn.Module):
            holders = [(f"{name}." if name else "", m) for name, m in owner.named_modules()]
        for prefix, holder in holders:
            for attr, value in vars(holder).items():
                if isinstance(value, torch.Generator):
                    found[f"{type(owner).__name__}.{prefix}{attr}"] = value
    return found


def _numpy_state() -> tuple:
    """NumPy's global state with its key as a tensor: checkpoints then load with
    ``torch.load(weights_only=True)``, which refuses NumPy arrays."""
    state = np.random.get_state(legacy=False)
    mt = state["state"]
    return (
        state["bit_generator"],
        torch.from_numpy(mt["key"].astype(np.int64)),
        int(mt["pos"]),
        int(state["has_gauss"]),
        float(state["gauss"]),
    )


def collect_rng_state(generators: dict[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Python, NumPy, torch CPU and every CUDA device's state, and ``generators``' states."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _numpy_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
    }
    return state


def restore_rng_state(state: dict[str, Any], generators: dict[str, torch.Generator] | None = None) -> list[str]:
    """Set the states saved by ``collect_rng_state``.  Returns what could not be restored
    (e.g. CUDA states saved on a machine with a different number of GPUs)."""
    missing: list[str] = []
    random.setstate(state["python"])
    kind, key, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda", [])
    if torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:
            missing.append(f"CUDA generators (saved for {len(cuda)} devices, {torch.cuda.device_count()} here)")
    saved = state.get("generators", {})
    for key, gen in (generators or {}).items():
        if key in saved:
            gen.set_state(saved[key])
        else:
            missing.append(f"generator {key}")
    return missing


#: (the seed seed_rank split the processes from, the seed it gave this process)
_split: tuple[int, int] | None = None


def seed_rank(rank: int) -> int:
    """Give data-parallel process ``rank`` its own random stream: Python, NumPy and torch
    seeded from ``(run seed, rank)`` through NumPy's ``SeedSequence``, so no process of one run
    replays another's stream, nor the stream of a neighbouring seed's run.

    Every process starts from the same seed (``seed_everything``'s, or torch's fixed default
    when none is given), which DDP needs while the network is built (its weights are then
    broadcast from rank 0 anyway); left there, every rank would draw the same dropout masks
    and the same augmentation for its different images.  Called once training starts (or
    when a resume cannot restore the saved states); returns the seed this process got.
    """
    global _split
    base = run_seed()
    seed = int(np.random.SeedSequence([base, rank]).generate_state(1)[0])
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # every CUDA device's generator too
    _split = (base, seed)
    return seed


def run_seed() -> int:
    """The seed the run started from, equal on every process: torch's initial seed, or, once
    ``seed_rank`` has split the processes (and nothing has reseeded torch since), the seed it
    split them from.  Shuffling draws from it, so every process cuts the same permutation."""
    current = torch.initial_seed()
    if _split is not None and current == _split[1]:
        return _split[0]
    return current
