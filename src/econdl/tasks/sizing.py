"""Sizing a network to its data: the input size of its first dense layer and the width of
its last one are the two sizes that depend on the data rather than on the architecture.

A config written for one data set then serves another: the MNIST MLP's 784 inputs (28 x 28
pixels) and DigitCNN's 1,600 features (64 x 5 x 5 after two conv+pool blocks on 28 x 28) fit
16 x 16 digits too, a GDP net written for 4 lags fits 8, and a regression net with one
output fits several forecast horizons.  ``fit_to_data`` checks the network on a few of the
data's inputs before training and rebuilds what does not fit (saying so); a checkpoint of
such a network loads into the config's network through ``resize_to_checkpoint``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from econdl.data.rolling import WARM_START
from econdl.errors import ConfigError


def has_lazy_parameters(module: nn.Module) -> bool:
    return any(isinstance(p, nn.parameter.UninitializedParameter) for p in module.parameters())


def materialize(module: nn.Module, example: Tensor) -> None:
    """Run one forward pass in eval mode so lazy layers learn their input size."""
    if has_lazy_parameters(module):
        _run(module, example, check_first=False)


def first_inputs(dm: Any, n: int = 2) -> Tensor:
    """``n`` inputs of the first training batch of a data module of one's own (one without
    econdl's ``example_input``), for sizing and checking a network before the fit."""
    batch = next(iter(dm.train_dataloader()))
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    return x[:n]


def match_output_width(net: nn.Module, width: int) -> None:
    """Widen a network's last linear layer from 1 output to the ``width`` targets the data has
    (e.g. one forecast per horizon), so one config serves every target width."""
    last = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if not last or last[-1].out_features == width:
        return
    if last[-1].out_features != 1:
        raise ConfigError(
            f"the network has {last[-1].out_features} outputs but the data have {width} targets; "
            f"set out_features: {width} (or 1, widened to the data)"
        )
    _resize(last[-1], last[-1].in_features, width)


class _FirstLayerMismatch(Exception):
    """Raised by the check's hook: the first dense layer the data reach takes another size."""

    def __init__(self, layer: nn.Linear, got: int) -> None:
        super().__init__(f"{layer.in_features} != {got}")
        self.layer, self.got = layer, got


def _resize(layer: nn.Linear, in_features: int, out_features: int) -> None:
    """Give ``layer`` another shape, freshly initialised as a new ``nn.Linear`` of that shape
    would be, in place: its weight and bias stay the same Parameter objects.  The optimizer
    is built on the network's parameters before the fit sizes anything (LightningCLI builds
    it with the model), so a layer replaced by a new module would never be trained."""
    device, dtype = layer.weight.device, layer.weight.dtype
    with torch.no_grad():
        layer.weight.data = torch.empty(out_features, in_features, device=device, dtype=dtype)
        if layer.bias is not None:
            layer.bias.data = torch.empty(out_features, device=device, dtype=dtype)
    layer.in_features, layer.out_features = in_features, out_features
    layer.reset_parameters()


def _dense_layers(net: nn.Module) -> list[tuple[str, nn.Linear]]:
    """The sized linear layers of ``net``, in the order they are registered."""
    return [
        (name, m)
        for name, m in net.named_modules()
        if isinstance(m, nn.Linear) and not isinstance(m.weight, nn.parameter.UninitializedParameter)
    ]


def _run(net: nn.Module, example: Tensor, check_first: bool = True) -> Tensor:
    """One forward pass of ``example`` in eval mode (lazy layers learn their size); with
    ``check_first``, a first dense layer of another size raises ``_FirstLayerMismatch`` before
    it computes anything.  Images that the convolutions shrink to nothing are a ConfigError."""
    seen: list[nn.Module] = []

    def check(module: nn.Module, args: tuple[Any, ...]) -> None:
        if seen:
            return
        seen.append(module)
        got = int(args[0].shape[-1])
        if isinstance(module, nn.Linear) and got != module.in_features:
            raise _FirstLayerMismatch(module, got)

    handles = [m.register_forward_pre_hook(check) for _, m in _dense_layers(net)] if check_first else []
    # in the dtype of the weights already made (the precision's input dtype, float64 under
    # 64-true, comes only once Lightning converts the whole module after setup)
    made = [p for p in net.parameters() if not isinstance(p, nn.parameter.UninitializedParameter)]
    dtype = next((p.dtype for p in made if p.is_floating_point()), torch.get_default_dtype())
    was_training = net.training
    net.eval()  # no batch statistics updated, no dropout drawn: training is left as it was
    try:
        with torch.no_grad():
            return net(example.to(dtype) if example.is_floating_point() else example)
    except RuntimeError as err:
        if _shrunk_to_nothing(err):
            raise _unfit(net, tuple(example.shape[1:]), err) from err
        raise
    finally:
        net.train(was_training)
        for handle in handles:
            handle.remove()


def fit_to_data(net: nn.Module, example: Tensor) -> str | None:
    """Check that ``net`` takes the data's inputs (``example``: a few of them, as the model
    sees them) and size what depends on the data.

    Lazy layers learn their size in the same pass.  If the first dense layer the inputs reach
    takes another number of features than they have, it is rebuilt with that number (freshly
    initialised) and the returned line says so; None when nothing changed.  Any other failure
    of the forward pass is a ConfigError naming the data's shape."""
    shape = tuple(example.shape[1:])
    try:
        _run(net, example)
        return None
    except _FirstLayerMismatch as mismatch:
        layer, configured = mismatch.layer, mismatch.layer.in_features
        _resize(layer, mismatch.got, layer.out_features)
        note = (
            f"{type(net).__name__}: the data's inputs ({' x '.join(map(str, shape))}) give its first dense "
            f"layer {mismatch.got:,} features, not the {configured:,} of the config; that layer now "
            f"takes {mismatch.got:,} (freshly initialised)"
        )
    except RuntimeError as err:
        raise _unfit(net, shape, err) from err
    try:
        _run(net, example)  # the rest of the network must take the new layer's output as before
    except (_FirstLayerMismatch, RuntimeError) as err:
        raise _unfit(net, shape, err) from err
    return note


def _shrunk_to_nothing(err: BaseException) -> bool:
    """torch's words for an image that convolutions and pooling shrank below one pixel."""
    return any(words in str(err) for words in ("Kernel size", "Output size is too small"))


def _unfit(net: nn.Module, shape: tuple[int, ...], err: BaseException) -> ConfigError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if _shrunk_to_nothing(err):
        return ConfigError(
            f"inputs of shape {shape} are too small for {type(net).__name__}: its convolutions and pooling "
            f"shrink them to nothing ({first}); give larger images (digit files written at a larger size; "
            "photo folders take --data.image_size), or a network with fewer convolution blocks "
            "(e.g. --model.net.channels [64])"
        )
    return ConfigError(
        f"{type(net).__name__} cannot take the data's inputs of shape {shape} ({first}); check the "
        "network's sizes against the data (in_channels, image_size, in_features; in_features: null "
        "reads the size from the data)"
    )


def check_output_width(net: nn.Module, example: Tensor, classes: list[str]) -> None:
    """A classifier's network must give one score per class."""
    scores = _run(net, example)
    width = int(scores.shape[-1]) if scores.dim() > 1 else 1
    if scores.dim() != 2 or width != len(classes):
        shown = ", ".join(map(str, classes[:12])) + (", ..." if len(classes) > 12 else "")
        raise ConfigError(
            f"{type(net).__name__} gives scores of shape {tuple(scores.shape[1:])} per input, but the data have "
            f"{len(classes)} classes ({shown}); set the network's out_features to {len(classes)}, e.g. "
            f"--model.net.out_features {len(classes)}"
        )


def resize_to_checkpoint(net: nn.Module, state: dict[str, Any], prefix: str = "net.") -> None:
    """Give the first and last dense layers of ``net`` the sizes a checkpoint's weights have
    (``fit_to_data`` and ``match_output_width`` may have changed them when the checkpoint's
    network was fitted), so the checkpoint loads into the network its config builds, also
    where no training data are at hand (``econdl predict`` on a folder of images)."""
    dense = _dense_layers(net)
    if not dense:
        return
    first, last = dense[0][1], dense[-1][1]
    for name, layer in dict([dense[0], dense[-1]]).items():
        weight = state.get(f"{prefix}{name}.weight")
        if not isinstance(weight, Tensor) or weight.dim() != 2:
            continue
        rows, cols = int(weight.shape[0]), int(weight.shape[1])
        # the first layer's inputs and the last layer's outputs depend on the data; nothing else
        if (rows != layer.out_features and layer is not last) or (cols != layer.in_features and layer is not first):
            continue
        if (rows, cols) != (layer.out_features, layer.in_features):
            _resize(layer, cols, rows)


#: fewer optimizer steps than this in a whole fit draw a note (a network rarely learns much in fewer)
FEW_STEPS = 100


def few_steps_note(trainer: Any) -> str | None:
    """A line for a fit whose epochs give a network fewer than ``FEW_STEPS`` optimizer steps in
    all (a small data set under a config written for a large one: 12 epochs of 46 images are 12
    steps), with the epochs that would give it a few hundred; None otherwise.  Fits limited on
    purpose (``max_steps``, ``limit_train_batches``, ``fast_dev_run``, warm-started refits) are not
    second-guessed."""
    limit = trainer.limit_train_batches
    if (
        getattr(trainer, WARM_START, False)
        or trainer.max_steps != -1
        or getattr(trainer, "fast_dev_run", False)
        or not (limit == 1.0 and isinstance(limit, float))
    ):
        return None
    epochs, batches = trainer.max_epochs, trainer.num_training_batches
    if not isinstance(epochs, int) or epochs < 1 or not isinstance(batches, int) or batches < 1:
        return None
    steps = trainer.estimated_stepping_batches
    if not isinstance(steps, (int, float)) or steps >= FEW_STEPS:
        return None
    per_epoch = max(1, round(steps / epochs))
    enough = -(-3 * FEW_STEPS // per_epoch)
    return (
        f"note: this fit takes {int(steps)} optimizer step{'s' if steps != 1 else ''} in all ({epochs} epoch"
        f"{'s' if epochs != 1 else ''} of {per_epoch}), too few for a "
        f"network to learn much: for a few hundred, give --trainer.max_epochs {enough} (or a smaller --data.batch_size)"
    )
