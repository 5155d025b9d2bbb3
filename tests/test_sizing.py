"""econdl.tasks.sizing: a network checked against its data before training; the two
data-dependent sizes (first dense layer's inputs, last layer's outputs) fitted, all else refused."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from econdl.errors import ConfigError
from econdl.nets import MLP, DigitCNN
from econdl.tasks.sizing import check_output_width, fit_to_data, resize_to_checkpoint
from helpers import CONFIGS
from econdl.cli import cli_main
from test_mnist_data import digit_images, write_idx


def assert_every_parameter_trained(cli) -> None:
    """Every parameter of the fitted model is one the optimizer updated, at every step: a layer
    that the sizing replaced after the optimizer was built would keep its initial weights."""
    opt = cli.trainer.optimizers[0]
    tracked = {id(p) for group in opt.param_groups for p in group["params"]}
    assert cli.trainer.global_step > 0
    for name, p in cli.model.named_parameters():
        assert id(p) in tracked, f"{name} {tuple(p.shape)} is not among the optimizer's parameters"
        assert int(opt.state[p]["step"]) == cli.trainer.global_step, name


def test_a_network_that_fits_its_data_is_left_exactly_as_it_was():
    torch.manual_seed(0)
    net = DigitCNN(dropout=0.25)  # a training-mode pass would draw dropout masks
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    params = list(net.parameters())
    example = torch.randn(2, 1, 28, 28)
    rng = torch.get_rng_state()
    assert fit_to_data(net, example) is None
    assert torch.equal(torch.get_rng_state(), rng)  # nothing drawn: a run's results do not move
    assert list(net.parameters()) == params and net.training
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])


@pytest.mark.parametrize(
    ("net", "shape", "config_features", "got"),
    [
        (lambda: MLP(in_features=784, widths=[32], out_features=10, flatten=True), (1, 16, 16), 784, 256),
        (lambda: DigitCNN(), (1, 20, 20), 1600, 64 * 3 * 3),
        (lambda: MLP(in_features=4, widths=[16, 8]), (8,), 4, 8),
    ],
)
def test_the_first_dense_layer_is_sized_to_the_data_and_the_line_says_so(net, shape, config_features, got):
    net = net()
    last_before = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    note = fit_to_data(net, torch.randn(2, *shape))
    first = [m for m in net.modules() if isinstance(m, nn.Linear)][0]
    assert first.in_features == got
    assert note is not None and f"{got:,} features, not the {config_features:,} of the config" in note
    assert [m for m in net.modules() if isinstance(m, nn.Linear)][-1] is last_before  # only that layer
    assert net(torch.randn(3, *shape)).shape[0] == 3


def test_a_mismatch_past_the_first_dense_layer_is_refused_naming_the_data_shape():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(5, 1))  # 8 -> 5: broken inside
    with pytest.raises(ConfigError, match=re.escape("Sequential cannot take the data's inputs of shape (4,)")):
        fit_to_data(net, torch.randn(2, 4))
    conv = DigitCNN(in_channels=1)
    with pytest.raises(ConfigError, match=r"shape \(3, 28, 28\).*in_channels"):
        fit_to_data(conv, torch.randn(2, 3, 28, 28))


def test_a_classifier_with_the_wrong_number_of_scores_names_the_classes_and_the_fix():
    net = MLP(in_features=4, widths=[8], out_features=10)
    with pytest.raises(
        ConfigError,
        match=r"3 classes \(a, b, c\); set the network's out_features to 3, e\.g\. "
        r"--model\.net\.out_features 3",
    ):
        check_output_width(net, torch.randn(2, 4), ["a", "b", "c"])
    check_output_width(MLP(in_features=4, widths=[8], out_features=3), torch.randn(2, 4), ["a", "b", "c"])


def test_a_checkpoint_of_a_resized_network_loads_into_the_config_network():
    fitted = MLP(in_features=784, widths=[32, 16], out_features=10, flatten=True)
    fit_to_data(fitted, torch.randn(2, 1, 16, 16))
    state = {f"net.{k}": v for k, v in fitted.state_dict().items()}
    fresh = MLP(in_features=784, widths=[32, 16], out_features=10, flatten=True)
    resize_to_checkpoint(fresh, state)
    fresh.load_state_dict(fitted.state_dict())
    x = torch.randn(3, 1, 16, 16)
    assert torch.equal(fresh(x), fitted(x))
    # a hidden layer of another width is not the data's doing: left for load_state_dict to refuse
    other = MLP(in_features=784, widths=[64, 16], out_features=10, flatten=True)
    resize_to_checkpoint(other, state)
    assert [m.out_features for m in other.modules() if isinstance(m, nn.Linear)][0] == 64
    with pytest.raises(RuntimeError, match="size mismatch"):
        other.load_state_dict(fitted.state_dict())


def test_a_gdp_net_written_for_4_lags_fits_8(tmp_path, capsys):
    cli = cli_main(
        [
            "fit",
            "--config",
            str(CONFIGS / "gdp/mlp.yaml"),
            "--model.init_args.net.init_args.in_features=4",
            "--data.init_args.lags=8",
            "--trainer.max_epochs=2",
            "--trainer.enable_progress_bar=false",
        ]
    )
    assert (
        "the data's inputs (8) give its first dense layer 8 features, not the 4 of the config"
        in capsys.readouterr().out
    )
    assert [m for m in cli.model.net.modules() if isinstance(m, nn.Linear)][0].in_features == 8
    assert torch.isfinite(cli.trainer.callback_metrics["test/rmse"])
    assert_every_parameter_trained(cli)


def test_a_one_output_gdp_net_widened_to_two_horizons_trains_its_widened_layer(tmp_path):
    cli = cli_main(
        [
            "fit",
            "--config",
            str(CONFIGS / "gdp/mlp.yaml"),
            "--data.init_args.horizon=2",
            "--trainer.max_epochs=2",
            "--trainer.enable_progress_bar=false",
        ]
    )
    assert [m for m in cli.model.net.modules() if isinstance(m, nn.Linear)][-1].out_features == 2
    assert_every_parameter_trained(cli)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_digits_of_another_size_train_the_resized_first_dense_layer(tmp_path, capsys, model):
    """14 x 14 digits: the MNIST configs' first dense layer (784 or 1,600 inputs) is sized to
    the images, and that layer learns like every other."""
    folder = tmp_path / "digits14"
    folder.mkdir()
    for part, n, seed in (("train", 240, 0), ("t10k", 60, 1)):
        images, labels = digit_images(n, seed)
        small = images.reshape(n, 14, 2, 14, 2).mean(axis=(2, 4)).astype("uint8")
        write_idx(folder / f"{part}-images-idx3-ubyte", small, gz=False)
        write_idx(folder / f"{part}-labels-idx1-ubyte", labels, gz=False)
    cli = cli_main(
        [
            "fit",
            "--config",
            str(CONFIGS / f"mnist/{model}.yaml"),
            f"--data.init_args.data_dir={folder}",
            "--data.init_args.batch_size=32",
            "--trainer.max_epochs=1",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
        ]
    )
    assert "that layer now takes" in capsys.readouterr().out
    assert_every_parameter_trained(cli)


def test_images_too_small_for_the_convolutions_name_the_shape_and_both_fixes():
    with pytest.raises(
        ConfigError, match=r"inputs of shape \(1, 8, 8\) are too small for DigitCNN.*--model\.net\.channels"
    ):
        fit_to_data(DigitCNN(), torch.randn(2, 1, 8, 8))
    assert fit_to_data(DigitCNN(channels=[64]), torch.randn(2, 1, 8, 8)) is not None  # one block fits 8 x 8


def test_a_fit_of_few_optimizer_steps_says_so_with_the_epochs_that_give_a_few_hundred():
    """The MNIST CNN config (12 epochs, batches of 128) on 46 images took 12 optimizer steps
    and tested at 0.48 without a word; 60 epochs of 2 batches (120 steps) took it to 0.94."""
    from types import SimpleNamespace

    from econdl.tasks.sizing import FEW_STEPS, few_steps_note

    def trainer(epochs: int, batches: int, **kwargs):
        base = dict(max_steps=-1, limit_train_batches=1.0, fast_dev_run=False, max_epochs=epochs)
        return SimpleNamespace(
            **{**base, **kwargs}, num_training_batches=batches, estimated_stepping_batches=epochs * batches
        )

    note = few_steps_note(trainer(12, 1))
    assert note is not None and "takes 12 optimizer steps in all (12 epochs of 1)" in note
    assert f"--trainer.max_epochs {3 * FEW_STEPS}" in note
    assert f"--trainer.max_epochs {-(-3 * FEW_STEPS // 4)}" in few_steps_note(trainer(20, 4))
    assert few_steps_note(trainer(25, 4)) is None  # 100 steps: enough not to say anything
    assert few_steps_note(trainer(12, 1, max_steps=12)) is None  # limited on purpose
    assert few_steps_note(trainer(12, 1, limit_train_batches=0.5)) is None
    assert few_steps_note(trainer(12, 1, fast_dev_run=True)) is None


def test_a_fit_limited_to_one_batch_per_epoch_by_an_integer_is_not_second_guessed():
    """Lightning reads ``limit_train_batches=1`` (an int) as one batch per epoch and ``1.0`` (a
    float) as all of them: only the float is an unlimited fit.  A fit limited on purpose to one
    batch draws no note, though 1 == 1.0 in Python."""
    from types import SimpleNamespace

    from econdl.tasks.sizing import few_steps_note

    def trainer(limit):
        return SimpleNamespace(
            max_steps=-1,
            limit_train_batches=limit,
            fast_dev_run=False,
            max_epochs=12,
            num_training_batches=1,
            estimated_stepping_batches=12,
        )

    assert few_steps_note(trainer(1.0)) is not None  # the whole data: 12 steps, said
    assert few_steps_note(trainer(1)) is None  # one batch on purpose: not said
    assert few_steps_note(trainer(3)) is None
