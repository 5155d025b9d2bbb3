"""Training recipes for the MNIST CNN and MLP, searched with a plain PyTorch loop.

The shipped configs (configs/mnist/cnn.yaml, mlp.yaml) should train as well as a careful
PyTorch user would, at any data size.  This script is that user: the images already in
memory as tensors, inputs standardised with the training split's mean and std, the same
network (``econdl.nets``), batch 128, and a few optimiser/schedule recipes.  The data
split is the DataModule's own (same images as an ``econdl fit``), so the numbers compare
directly with ``econdl fit --config configs/mnist/cnn.yaml --data.train_size N``.

    python -m benchmarks.mnist_recipe --data-dir /usr/share/datasets/fashion-mnist \
        --variant fashion --train-size 8000 --model cnn --epochs 4 --recipes adam onecycle_adamw

Prints one JSON line per (model, recipe, seed): test accuracy of the final weights.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Recipe = Callable[[nn.Module, int], tuple[torch.optim.Optimizer, Any]]


def constant_adam(net: nn.Module, steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """The lecture's recipe: Adam 1e-3, no schedule."""
    return torch.optim.Adam(net.parameters(), lr=1e-3), None


def onecycle(opt_cls: type, max_lr: float, **kwargs: Any) -> Recipe:
    """An optimiser under econdl's one-cycle schedule (the one the configs name), sized to
    the run's total number of steps as the trainer sizes it."""

    def make(net: nn.Module, steps: int) -> tuple[torch.optim.Optimizer, Any]:
        from econdl.schedules import OneCycleLR

        opt = opt_cls(net.parameters(), lr=max_lr, **kwargs)
        return opt, OneCycleLR(opt, max_lr=max_lr, total_steps=steps)

    return make


def cosine_adamw(lr: float) -> Recipe:
    def make(net: nn.Module, steps: int) -> tuple[torch.optim.Optimizer, Any]:
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)

    return make


RECIPES: dict[str, Recipe] = {
    "adam": constant_adam,
    "onecycle_adamw_3e-3": onecycle(torch.optim.AdamW, 3e-3, weight_decay=0.01),
    "onecycle_adamw_5e-3": onecycle(torch.optim.AdamW, 5e-3, weight_decay=0.01),
    "onecycle_adamw_1e-2": onecycle(torch.optim.AdamW, 1e-2, weight_decay=0.01),
    "onecycle_adamw_1e-2_wd0.1": onecycle(torch.optim.AdamW, 1e-2, weight_decay=0.1),
    "onecycle_sgd_0.05": onecycle(torch.optim.SGD, 0.05, momentum=0.9, nesterov=True, weight_decay=5e-4),
    "cosine_adamw_2e-3": cosine_adamw(2e-3),
}


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Shift each image by up to ``max_shift`` pixels in each direction (zero fill)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dy, dx = (torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)).tolist()
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


def make_net(model: str) -> nn.Module:
    from econdl.nets import MLP, DigitCNN

    return DigitCNN() if model == "cnn" else MLP(in_features=784, widths=[128] * 3, out_features=10, flatten=True)


def train_once(
    model: str, recipe: str, data: dict[str, tuple[Tensor, Tensor]], epochs: int, seed: int, shift: int
) -> dict[str, Any]:
    (x, y), (xt, yt) = data["train"], data["test"]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = make_net(model)
    batch = 128
    steps = epochs * -(-len(x) // batch)
    opt, sched = RECIPES[recipe](net, steps)
    start = time.perf_counter()
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(x), generator=gen)
        for b in range(0, len(x), batch):
            rows = order[b : b + batch]
            xb = random_shift(x[rows], shift, gen) if shift else x[rows]
            loss = F.cross_entropy(net(xb), y[rows])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
    seconds = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(xt[i : i + 1000]).argmax(1) for i in range(0, len(xt), 1000)])
    acc = float((pred == yt).double().mean())
    return {
        "model": model,
        "recipe": recipe,
        "shift": shift,
        "epochs": epochs,
        "seed": seed,
        "train_images": len(x),
        "test_acc": round(acc, 4),
        "seconds": round(seconds, 1),
    }


def load(data_dir: str, variant: str, train_size: int | None) -> dict[str, tuple[Tensor, Tensor]]:
    """The DataModule's train and test splits as standardised float tensors in memory."""
    from econdl.data import MNISTDataModule

    dm = MNISTDataModule(data_dir=data_dir, variant=variant, train_size=train_size, normalize=True)
    dm.setup("fit")
    return {split: (dm.scale(dm.split(split)[0]), dm.split(split)[1]) for split in ("train", "test")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--variant", default="fashion")
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--model", choices=("cnn", "mlp"), default="cnn")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--shift", type=int, nargs="+", default=[0], help="max random shift in pixels (0: none)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    data = load(args.data_dir, args.variant, args.train_size)
    for recipe in args.recipes:
        for shift in args.shift:
            for seed in args.seeds:
                print(json.dumps(train_once(args.model, recipe, data, args.epochs, seed, shift)), flush=True)


if __name__ == "__main__":
    main()
