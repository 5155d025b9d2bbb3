"""Plain ``nn.Module`` networks.  They know nothing of training; the generic
``Regressor`` and ``Classifier`` LightningModules wrap them.

Input sizes may be left out (``in_features=None``): the first layer is then a
lazy layer whose size is read from the data the first time the model sees it
(``Regressor.setup`` does that before training, so parameter counts and
checkpoints are complete).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from econdl.errors import ConfigError

__all__ = ["ACTIVATIONS", "MLP", "DigitCNN", "FaceCNN", "count_parameters", "make_activation"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


def make_activation(name: str) -> nn.Module:
    """Activation module by name (``relu``, ``tanh``, ...), with an error listing the choices."""
    try:
        return ACTIVATIONS[name.lower()]()
    except KeyError:
        raise ConfigError(f"activation={name!r} is not known; choose one of {sorted(ACTIVATIONS)}") from None


def _linear(in_features: int | None, out_features: int) -> nn.Module:
    return nn.LazyLinear(out_features) if in_features is None else nn.Linear(in_features, out_features)


class MLP(nn.Module):
    """Multilayer perceptron: Linear -> [BatchNorm] -> activation, repeated, then Linear.

    The lecture's KinkNet is ``MLP(widths=[100, 50], batchnorm=True)``; its GDPNet is
    ``MLP(in_features=4, widths=[16, 8])``; the MNIST MLP is
    ``MLP(in_features=784, widths=[128, 128, 128], out_features=10)``.

    Args:
        widths: sizes of the hidden layers, in order.
        out_features: size of the output (1 for a scalar regression).
        in_features: size of the input; None reads it from the data on first use.
        batchnorm: add ``BatchNorm1d`` after every hidden linear layer.
        activation: name of the hidden activation (see ``ACTIVATIONS``).
        dropout: dropout probability after every hidden activation (0 = none).
        flatten: flatten every input to ``(batch, -1)`` first (images).
    """

    def __init__(
        self,
        widths: Sequence[int] = (100, 50),
        out_features: int = 1,
        in_features: int | None = None,
        batchnorm: bool = False,
        activation: str = "relu",
        dropout: float = 0.0,
        flatten: bool = False,
    ) -> None:
        super().__init__()
        if any(w < 1 for w in widths):
            raise ConfigError(f"widths={list(widths)} must all be positive integers")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout={dropout} must lie in [0, 1)")
        make_activation(activation)  # fail early with the list of choices
        layers: list[nn.Module] = [nn.Flatten()] if flatten else []
        size = in_features
        for width in widths:
            layers.append(_linear(size, width))
            if batchnorm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(make_activation(activation))
            if dropout:
                layers.append(nn.Dropout(dropout))
            size = width
        layers.append(_linear(size, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class FaceCNN(nn.Module):
    """The lecture's gender CNN: [conv 3x3 (no padding) -> activation -> 2x2 max-pool] per
    entry of ``channels``, flatten, one linear layer to ``out_features`` scores.

    On 3 x 135 x 110 photos with the defaults: 64 x 66 x 54 after the first block,
    64 x 32 x 26 = 53,248 features after the second, 2 x (53,248 + 1) weights in the head.

    Args:
        channels: output channels of each convolution block.
        out_features: number of classes.
        in_channels: channels of the input images (3 for RGB).
        in_features: size of the flattened features before the head; None reads it
            from the data on first use (any image size works).
        activation: name of the activation (see ``ACTIVATIONS``).
    """

    def __init__(
        self,
        channels: Sequence[int] = (64, 64),
        out_features: int = 2,
        in_channels: int = 3,
        in_features: int | None = None,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if not channels or any(c < 1 for c in channels):
            raise ConfigError(f"channels={list(channels)} must be one or more positive integers")
        layers: list[nn.Module] = []
        for c in channels:
            layers += [nn.Conv2d(in_channels, c, kernel_size=3), make_activation(activation), nn.MaxPool2d(2)]
            in_channels = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), _linear(in_features, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class DigitCNN(nn.Module):
    """The lecture's MNIST CNN: conv 3x3 x64, ReLU, max-pool 2, conv 3x3 x64, ReLU, max-pool 2,
    flatten (64 x 5 x 5 = 1,600 for 28 x 28 inputs), dense 128, dense 128, dense 10, ReLU
    between the dense layers: 260,298 parameters for one input channel and 10 classes.

    Args:
        in_channels: image channels (1 for greyscale digits).
        channels: filters of each convolution.
        widths: hidden dense layers after the convolutions.
        out_features: number of classes.
        image_size: input height (= width) in pixels, which fixes the flattened size.
        dropout: dropout probability before every dense layer (0 = none).
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (64, 64),
        widths: Sequence[int] = (128, 128),
        out_features: int = 10,
        image_size: int = 28,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size, prev = image_size, in_channels
        for ch in channels:
            layers += [nn.Conv2d(prev, ch, kernel_size=3), nn.ReLU(), nn.MaxPool2d(2)]
            size, prev = (size - 2) // 2, ch
        if size < 1:
            raise ConfigError(f"image_size={image_size} is too small for {len(channels)} conv+pool blocks")
        layers.append(nn.Flatten())
        features = prev * size * size
        for width in widths:
            layers += [nn.Dropout(dropout)] if dropout else []
            layers += [nn.Linear(features, width), nn.ReLU()]
            features = width
        layers += [nn.Dropout(dropout)] if dropout else []
        layers.append(nn.Linear(features, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) scalar parameters; lazy parameters not yet sized count 0."""
    total = 0
    for p in module.parameters():
        if isinstance(p, nn.parameter.UninitializedParameter):
            continue
        if p.requires_grad or not trainable_only:
            total += p.numel()
    return total
