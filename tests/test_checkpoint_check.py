"""checkpoint_check.mismatch: a checkpoint trained on another data module, or with another
network class, is refused before any weight is loaded, in a message naming both sides.

The checkpoints here are the dicts Lightning saves (``hyper_parameters`` and
``datamodule_hyper_parameters``, with ``_class_path`` as econdl's CLI writes it); the
configs are the ``class_path``/``init_args`` entries the CLI builds from."""

from __future__ import annotations

from typing import Any

from econdl.checkpoint_check import mismatch

MLP_NET = {"class_path": "econdl.nets.MLP", "init_args": {"widths": [8], "in_features": 1, "out_features": 1}}


def saved(model: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's hyper-parameters, as Lightning keeps them (weights are not compared)."""
    return {"state_dict": {}, "hyper_parameters": model, "datamodule_hyper_parameters": data}


def config(class_path: str, **init_args: Any) -> dict[str, Any]:
    return {"class_path": class_path, "init_args": init_args}


def test_same_model_and_data_is_no_mismatch() -> None:
    """The control for the two refusals below: identical sides give None."""
    ckpt = saved(
        {"_class_path": "econdl.tasks.Regressor", "net": MLP_NET},
        {"_class_path": "econdl.data.KinkDataModule", "m": 200},
    )
    model, data = config("econdl.tasks.Regressor", net=MLP_NET), config("econdl.data.KinkDataModule", m=200)
    assert mismatch(ckpt, model, data) is None


def test_a_checkpoint_of_another_data_module_is_refused_naming_both() -> None:
    """Same model hyper-parameters; the checkpoint was trained on KinkDataModule, the config
    builds LinearDataModule (no DATA_KEYS value differs: only the class does)."""
    ckpt = saved(
        {"_class_path": "econdl.tasks.Regressor", "net": MLP_NET},
        {"_class_path": "econdl.data.KinkDataModule"},
    )
    problem = mismatch(ckpt, config("econdl.tasks.Regressor", net=MLP_NET), config("econdl.data.LinearDataModule"))
    assert problem is not None
    assert "KinkDataModule" in problem and "LinearDataModule" in problem
    held, built = problem.split("the config builds")
    assert "KinkDataModule" in held and "LinearDataModule" in built  # each on its own side


def test_a_checkpoint_of_another_network_class_is_refused_naming_both() -> None:
    """Saved net MLP, config net DigitCNN, no MODEL_KEYS value differs (neither side sets one
    the other has with another value): only the net's class tells them apart."""
    ckpt = saved(
        {"_class_path": "econdl.tasks.Classifier", "net": {"class_path": "econdl.nets.MLP", "init_args": {}}},
        {"_class_path": "econdl.data.MNISTDataModule"},
    )
    cnn = {"class_path": "econdl.nets.DigitCNN", "init_args": {}}
    problem = mismatch(ckpt, config("econdl.tasks.Classifier", net=cnn), config("econdl.data.MNISTDataModule"))
    assert problem is not None
    held, built = problem.split("the config builds")
    assert "MLP" in held and "DigitCNN" in built
