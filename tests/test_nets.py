"""econdl.nets: the layer order the docstrings promise, where dropout goes, and parameter counts."""

from __future__ import annotations

import pytest
from torch import nn

from econdl.errors import ConfigError
from econdl.nets import MLP, DigitCNN, count_parameters, make_activation


def layer_types(net: nn.Module) -> list[type[nn.Module]]:
    return [type(m) for m in net.layers]


def test_mlp_puts_batchnorm_before_the_activation_and_dropout_after_it():
    """MLP's docstring: "Linear -> [BatchNorm] -> activation, repeated, then Linear", with
    BatchNorm1d "after every hidden linear layer" and dropout "after every hidden activation"."""
    net = MLP(
        in_features=4, widths=[8, 6], out_features=2, batchnorm=True, activation="tanh", dropout=0.3, flatten=True
    )
    hidden = [nn.Linear, nn.BatchNorm1d, nn.Tanh, nn.Dropout]
    assert layer_types(net) == [nn.Flatten, *hidden, *hidden, nn.Linear]
    norms = [m for m in net.layers if isinstance(m, nn.BatchNorm1d)]
    assert [m.num_features for m in norms] == [8, 6]  # each normalises the linear layer just before it
    drops = [m for m in net.layers if isinstance(m, nn.Dropout)]
    assert [m.p for m in drops] == [0.3, 0.3]  # the dropout argument, not a default


def test_mlp_dropout_argument_adds_dropout_only_when_positive():
    assert layer_types(MLP(in_features=4, widths=[8], dropout=0.0)) == [nn.Linear, nn.ReLU, nn.Linear]
    with_dropout = MLP(in_features=4, widths=[8], dropout=0.5)
    assert layer_types(with_dropout) == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert with_dropout.layers[2].p == 0.5


def test_digit_cnn_puts_dropout_before_every_dense_layer_including_the_last():
    """DigitCNN's docstring: "dropout probability before every dense layer" (three of them)."""
    net = DigitCNN(dropout=0.25)
    conv = [nn.Conv2d, nn.ReLU, nn.MaxPool2d]
    dense = [nn.Dropout, nn.Linear, nn.ReLU]
    assert layer_types(net) == [*conv, *conv, nn.Flatten, *dense, *dense, nn.Dropout, nn.Linear]
    assert all(m.p == 0.25 for m in net.layers if isinstance(m, nn.Dropout))
    assert not any(isinstance(m, nn.Dropout) for m in DigitCNN().layers)  # dropout 0: none


def test_count_parameters_counts_frozen_weights_only_when_asked():
    # 4 -> 3 -> 2: (4*3 + 3) + (3*2 + 2) = 15 + 8 = 23 scalars
    net = MLP(in_features=4, widths=[3], out_features=2)
    assert count_parameters(net) == count_parameters(net, trainable_only=False) == 23
    for p in net.layers[0].parameters():
        p.requires_grad_(False)
    assert count_parameters(net) == 8  # only the unfrozen last layer
    assert count_parameters(net, trainable_only=True) == 8
    assert count_parameters(net, trainable_only=False) == 23


def test_count_parameters_skips_lazy_layers_not_yet_sized():
    net = MLP(widths=[3], out_features=2)  # in_features None: the first layer is lazy
    assert isinstance(net.layers[0].weight, nn.parameter.UninitializedParameter)
    assert count_parameters(net) == count_parameters(net, trainable_only=False) == 3 * 2 + 2


def test_activation_names_are_case_insensitive_and_each_builds_its_own_module():
    expected = {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "elu": nn.ELU,
        "gelu": nn.GELU,
        "silu": nn.SiLU,
        "leaky_relu": nn.LeakyReLU,
    }
    for name, module in expected.items():
        assert type(make_activation(name)) is module, name
        assert type(make_activation(name.upper())) is module, name
    assert layer_types(MLP(in_features=2, widths=[3], activation="Tanh")) == [nn.Linear, nn.Tanh, nn.Linear]


def test_digit_cnn_refuses_images_that_two_blocks_shrink_to_nothing():
    """6 x 6 pixels: conv 3x3 and pool 2 give 2 x 2, then 0 x 0; no flattened features."""
    with pytest.raises(ConfigError, match="image_size=6 is too small for 2 conv\\+pool blocks"):
        DigitCNN(image_size=6)
    assert DigitCNN(image_size=10, widths=[]).layers[-1].in_features == 64  # 10 -> 4 -> 1: 64 x 1 x 1
