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


def test_a_setting_given_on_one_side_only_is_no_mismatch_and_another_value_is() -> None:
    """in_features saved by the fit but left to the data by the config (None) is no difference;
    other widths are, named on both sides."""
    kink = {"_class_path": "econdl.data.KinkDataModule"}
    ckpt = saved({"_class_path": "econdl.tasks.Regressor", "net": MLP_NET}, kink)
    lazy = {"class_path": "econdl.nets.MLP", "init_args": {"widths": [8], "out_features": 1}}
    data = config("econdl.data.KinkDataModule")
    assert mismatch(ckpt, config("econdl.tasks.Regressor", net=lazy), data) is None
    wider = {"class_path": "econdl.nets.MLP", "init_args": {"widths": [16], "out_features": 1}}
    problem = mismatch(ckpt, config("econdl.tasks.Regressor", net=wider), data)
    assert problem is not None
    held, built = problem.split("the config builds")
    assert "MLP widths [8]" in held and "MLP widths [16]" in built


def test_a_checkpoint_without_data_settings_is_compared_by_its_model_alone() -> None:
    """A data module built in Python saves no datamodule hyper-parameters: nothing to compare."""
    ckpt = {"state_dict": {}, "hyper_parameters": {"_class_path": "econdl.tasks.Regressor", "net": MLP_NET}}
    model = config("econdl.tasks.Regressor", net=MLP_NET)
    assert mismatch(ckpt, model, config("econdl.data.KinkDataModule")) is None


def test_a_larger_x_size_validates_on_new_points_and_a_smaller_one_is_refused() -> None:
    """KinkDataModule draws validation points after the training points: a smaller x_size makes
    some of the fit's training points validation ones, a larger one does not."""
    from econdl.checkpoint_check import split_mismatch

    ckpt = saved(
        {"_class_path": "econdl.tasks.Regressor"}, {"_class_path": "econdl.data.KinkDataModule", "x_size": 500}
    )
    assert split_mismatch(ckpt, config("econdl.data.KinkDataModule", x_size=1000), "validate") is None
    refused = split_mismatch(ckpt, config("econdl.data.KinkDataModule", x_size=200), "validate")
    assert refused is not None and "validation set" in refused and "x_size 500 in the fit, 200 now" in refused


def test_a_load_that_fails_on_a_shape_names_the_checkpoints_shape_and_the_models() -> None:
    import pytest
    import torch

    from econdl.checkpoint_check import explain_load_failure

    with pytest.raises(RuntimeError) as failed:
        torch.nn.Linear(2, 3).load_state_dict(torch.nn.Linear(2, 4).state_dict())  # 4 outputs saved, 3 built
    explained = str(explain_load_failure("run.ckpt", failed.value))
    assert "run.ckpt does not fit the model the config builds: " in explained
    assert "weight is [4, 2] in the checkpoint but [3, 2] in the model this data builds" in explained
    assert explain_load_failure("run.ckpt", RuntimeError("something else")) is None
