"""econdl.rng: the random state a resumed fit restores (Python, NumPy, torch CPU and the
generators econdl's own code holds, submodules' included)."""

from __future__ import annotations

import random

import numpy as np
import torch

from econdl.rng import collect_rng_state, owned_generators, restore_rng_state


def test_restoring_the_global_states_replays_the_next_draws() -> None:
    """Collect, draw, restore: the next draw of each global generator equals the first."""
    state = collect_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(3))
    # draws after the first move every stream on: without the restore they would differ
    assert (random.random(), np.random.rand()) != first[:2]
    restore_rng_state(state)
    again = (random.random(), np.random.rand(), torch.rand(3))
    assert again[0] == first[0]
    assert again[1] == first[1]
    assert torch.equal(again[2], first[2])


def test_restoring_numpy_also_keeps_its_gaussian_cache() -> None:
    """NumPy's legacy normal draws come in pairs (the second cached): a state collected
    between them must give the cached value back."""
    np.random.seed(0)
    np.random.standard_normal()  # leaves the pair's second value cached
    state = collect_rng_state()
    first = np.random.standard_normal()
    np.random.standard_normal()
    restore_rng_state(state)
    assert np.random.standard_normal() == first


class Child(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.g = torch.Generator().manual_seed(7)


class Parent(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = torch.nn.Sequential(torch.nn.Linear(2, 2), Child())


def test_a_generator_held_by_a_submodule_is_found_saved_and_restored() -> None:
    model = Parent()
    gens = owned_generators(model, None)
    # keyed by the top module's class and the submodule's path
    assert list(gens) == ["Parent.block.1.g"]
    assert gens["Parent.block.1.g"] is model.block[1].g
    state = collect_rng_state(gens)
    first = torch.rand(4, generator=model.block[1].g)
    torch.rand(4, generator=model.block[1].g)
    assert restore_rng_state(state, gens) == []
    assert torch.equal(torch.rand(4, generator=model.block[1].g), first)


def test_a_generator_the_state_lacks_is_reported_not_restored() -> None:
    model = Parent()
    state = collect_rng_state({})
    missing = restore_rng_state(state, owned_generators(model))
    assert missing == ["generator Parent.block.1.g"]


def test_a_models_generators_are_found_when_the_fit_has_no_datamodule() -> None:
    """A fit on plain dataloaders has no DataModule: the owners begin with None, and the
    module's generators after it are still saved and restored."""
    model = Parent()
    gens = owned_generators(None, model)
    assert list(gens) == ["Parent.block.1.g"]
    state = collect_rng_state(gens)
    first = torch.rand(4, generator=model.block[1].g)
    assert restore_rng_state(state, gens) == []
    assert torch.equal(torch.rand(4, generator=model.block[1].g), first)
