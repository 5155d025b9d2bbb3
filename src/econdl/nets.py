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
        raise ValueError(
            f"activation={name!r} is not known; choose one of {sorted(ACTIVATIONS)}"
        ) from None


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
            raise ValueError(f"widths={list(widths)} must all be positive integers")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout} must lie in [0, 1)")
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


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) scalar parameters; lazy parameters not yet sized count 0."""
    total = 0
    for p in module.parameters():
        if isinstance(p, nn.parameter.UninitializedParameter):
            continue
        if p.requires_grad or not trainable_only:
            total += p.numel()
    return total
