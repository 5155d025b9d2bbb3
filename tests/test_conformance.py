"""One conformance suite over every model the shipped configs build, on tiny data.

Each experiment config (``configs/<task>/<model>.yaml``) is built the way ``econdl`` builds
it (LightningCLI, no subcommand), fitted on CPU with a small trainer, and must show:

- a checkpoint round trip: the class's ``load_from_checkpoint`` and the DataModule's rebuild
  the model from the checkpoint alone (no YAML), with equal predictions and test metrics;
  standardisation statistics, class names and closed-form coefficients travel in it;
- ``predict`` on a batch of one and with a last partial batch gives the same rows;
- the same seed gives bit-identical parameters;
- a model with nothing to fit takes no optimizer step;
- the parameter count the docs quote.

``test_every_exported_model_is_in_the_suite`` fails when ``econdl.tasks`` or ``econdl.nets``
exports a class that no config builds: add a config (and, for a new task folder, its tiny
data in ``helpers.TINY_DATA``).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from torch import nn

import econdl.nets
import econdl.tasks
from econdl.cli import cli_main
from econdl.nets import count_parameters
from econdl.tasks.sizing import materialize
from helpers import CONFIGS, REPO, tiny_data
from helpers import quiet_trainer as trainer

EXPERIMENTS = sorted(p for p in CONFIGS.glob("*/*.yaml") if p.parent.name not in ("trainer", "sweeps"))
IDS = [str(p.relative_to(CONFIGS)) for p in EXPERIMENTS]

# Classes exported for others to build on, not models a config names.
BASES = {"ClassificationModel", "RegressionModel", "LeastSquares"}

# Parameter counts quoted in README.md and docs/, with the input that sizes lazy layers
# (the configs' own data, not the tiny fixtures).
DOC_COUNTS: dict[str, tuple[int, tuple[int, ...]]] = {
    "kink/mlp.yaml": (5_601, (2, 1)),
    "gdp/mlp.yaml": (225, (2, 4)),
    "mnist/mlp.yaml": (134_794, (2, 1, 28, 28)),
    "mnist/cnn.yaml": (260_298, (2, 1, 28, 28)),
    "gender/mlp.yaml": (5_719_298, (2, 3, 135, 110)),
    "gender/cnn.yaml": (145_218, (2, 3, 135, 110)),
}


def build(config: Path, tmp: Path) -> tuple[L.LightningModule, L.LightningDataModule]:
    """Model and DataModule as ``econdl fit --config CONFIG`` builds them, on tiny data."""
    cli = cli_main(["--config", str(config), *tiny_data(config.parent.name, config, tmp)], run=False)
    return cli.model, cli.datamodule


def predictions(t: L.Trainer, model: L.LightningModule, dm: L.LightningDataModule) -> torch.Tensor:
    return torch.cat([p.reshape(len(p), -1) for p in t.predict(model, datamodule=dm)])


class Fitted:
    """One config built, fitted, checkpointed, tested and predicted (cached per config)."""

    def __init__(self, config: Path, tmp: Path) -> None:
        self.model, self.dm = build(config, tmp)
        self.trainer = trainer(tmp)
        self.trainer.fit(self.model, datamodule=self.dm)
        self.ckpt = tmp / "fitted.ckpt"
        self.trainer.save_checkpoint(self.ckpt)
        self.metrics = self.trainer.test(self.model, datamodule=self.dm, verbose=False)[0]
        self.pred = predictions(self.trainer, self.model, self.dm)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cache: dict[Path, Fitted] = {}

    def get(config: Path) -> Fitted:
        if config not in cache:
            cache[config] = Fitted(config, tmp_path_factory.mktemp(config.stem))
        return cache[config]

    return get


def same_state(a: Any, b: Any) -> bool:
    """Equal states, tensors (a data module's example fingerprints) compared by value."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    return bool(a == b)


@pytest.mark.parametrize("config", EXPERIMENTS, ids=IDS)
def test_checkpoint_alone_rebuilds_model_and_data(config: Path, fitted: Any, tmp_path: Path) -> None:
    run = fitted(config)
    checkpoint = torch.load(run.ckpt, map_location="cpu", weights_only=False)
    hparams = checkpoint.get("hyper_parameters", {})
    arguments = [a for a in inspect.signature(type(run.model)).parameters if a not in ("args", "kwargs")]
    assert set(arguments) <= set(hparams), f"the checkpoint does not record {sorted(set(arguments) - set(hparams))}"
    assert not [k for k, v in hparams.items() if isinstance(v, nn.Module)], "modules pickled into hparams"
    if hasattr(run.model, "net"):  # the network's config travels, so no YAML is needed
        assert hparams["net"]["class_path"].endswith(type(run.model.net).__name__)
    if getattr(run.model, "class_names", None):
        assert checkpoint["class_names"] == run.model.class_names
    for name in ("coef", "y_loc", "y_scale"):
        if name in checkpoint["state_dict"]:
            assert torch.equal(checkpoint["state_dict"][name], run.model.state_dict()[name])
    state = run.dm.state_dict()
    if state:  # fitted data statistics (e.g. standardisation) travel with the model
        assert same_state(checkpoint[type(run.dm).__qualname__], state)

    model = type(run.model).load_from_checkpoint(run.ckpt, map_location="cpu")
    dm = type(run.dm).load_from_checkpoint(run.ckpt, map_location="cpu")
    assert same_state(dm.state_dict(), state)  # from the checkpoint, before any data are read

    def scalars(m: L.LightningModule) -> dict[str, Any]:  # not LightningCLI's keys; the net by its shapes below
        return {k: v for k, v in m.hparams.items() if not k.startswith("_") and k != "net"}

    assert type(model) is type(run.model) and scalars(model) == scalars(run.model)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert shapes == {k: v.shape for k, v in run.model.state_dict().items()}
    t = trainer(tmp_path)
    metrics = t.test(model, datamodule=dm, verbose=False)[0]
    assert metrics == run.metrics
    assert torch.equal(predictions(t, model, dm), run.pred)


@pytest.mark.parametrize("config", EXPERIMENTS, ids=IDS)
def test_predict_on_a_batch_of_one_and_a_partial_last_batch(config: Path, fitted: Any, tmp_path: Path) -> None:
    run = fitted(config)
    n = len(run.pred)
    size = next(b for b in range(2, n) if n % b)  # the last batch is partial
    run.dm.eval_batch_size = size
    assert torch.allclose(predictions(run.trainer, run.model, run.dm), run.pred, rtol=1e-5, atol=1e-6)
    first = next(iter(run.dm.predict_dataloader()))
    batch = run.dm.on_after_batch_transfer(tuple(t[:1] for t in first), 0)
    run.model.eval()
    with torch.no_grad():
        one = run.model.predict_step(batch, 0)
    assert one.reshape(1, -1).shape == run.pred[:1].shape
    assert torch.allclose(one.reshape(1, -1), run.pred[:1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("config", EXPERIMENTS, ids=IDS)
def test_same_seed_gives_bit_identical_parameters(config: Path, fitted: Any, tmp_path: Path) -> None:
    first = fitted(config).model.state_dict()
    model, dm = build(config, tmp_path)  # the config's seed_everything, as in `econdl fit`
    trainer(tmp_path).fit(model, datamodule=dm)
    second = model.state_dict()
    assert first.keys() == second.keys()
    different = [k for k in first if not torch.equal(first[k], second[k])]
    assert not different, f"parameters differ between two fits with the same seed: {different}"


@pytest.mark.parametrize("config", EXPERIMENTS, ids=IDS)
def test_a_model_with_nothing_to_fit_takes_no_step(config: Path, fitted: Any) -> None:
    run = fitted(config)
    nothing = count_parameters(run.model) == 0
    assert (run.trainer.global_step == 0) == nothing, (
        f"{type(run.model).__name__}: {count_parameters(run.model)} parameters, {run.trainer.global_step} steps"
    )


@pytest.mark.parametrize("config", sorted(DOC_COUNTS), ids=sorted(DOC_COUNTS))
def test_parameter_count_is_the_one_the_docs_quote(config: str) -> None:
    count, shape = DOC_COUNTS[config]
    docs = " ".join(p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))])
    assert f"{count:,}" in docs, f"the docs no longer quote {count:,} parameters for {config}"
    cli = cli_main(["--config", str(CONFIGS / config)], run=False)  # the config's own sizes
    materialize(cli.model, torch.zeros(shape))
    assert count_parameters(cli.model) == count


def exported_classes(module: Any, base: type) -> set[str]:
    return {n for n in module.__all__ if inspect.isclass(getattr(module, n)) and issubclass(getattr(module, n), base)}


def test_every_exported_model_is_in_the_suite() -> None:
    named = set()
    for config in EXPERIMENTS:
        named |= set(re.findall(r"class_path:\s*econdl\.(?:tasks|nets)\.(\w+)", config.read_text()))
    exported = exported_classes(econdl.tasks, L.LightningModule) | exported_classes(econdl.nets, nn.Module)
    missing = exported - BASES - named
    assert not missing, (
        f"{sorted(missing)} are exported but no config under configs/ builds them, so the conformance "
        "suite does not check them: add a config (see CONTRIBUTING.md)"
    )
