"""MNIST: the lecture's CNN and MLP under econdl against a raw PyTorch loop.

raw     the same uint8 images in memory, scaled to [0, 1] per batch, the same network,
        Adam 1e-3, batch 128 shuffled, E epochs, each followed by a pass over the
        validation split (as econdl validates every epoch), plain PyTorch
econdl  econdl fit of configs/mnist/{cnn,mlp}.yaml for exactly E epochs, validation,
        checkpointing and logging included, as users run it

Data: real Fashion-MNIST when ``ECONDL_MNIST_DIR`` (or the Debian package's
/usr/share/datasets/fashion-mnist) holds it, else synthetic IDX files of the same size.
Each variant runs in its own process (peak RSS of that process); test accuracy is of the
final weights, measured outside the clocks.  ``quick``: 6,000 training images, 1 epoch.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import isolated, quiet_lightning

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "mnist"
DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def data_source() -> tuple[str, str, str]:
    """(data_dir, variant, description): real files if present, else synthetic ones."""
    env = os.environ.get("ECONDL_MNIST_DIR")
    if env:
        return env, os.environ.get("ECONDL_MNIST_VARIANT", "mnist"), f"files in {env}"
    if (DEBIAN / "train-images-idx3-ubyte.gz").is_file():
        return str(DEBIAN), "fashion", "Fashion-MNIST (Debian package)"
    folder = Path(tempfile.mkdtemp()) / "synthetic"
    import sys

    sys.path.insert(0, str(REPO / "tests"))
    from test_mnist_data import write_idx_set

    write_idx_set(folder, n_train=60_000, n_test=10_000)
    return str(folder), "mnist", "synthetic bars (no real MNIST here)"


def make_dm(data_dir: str, variant: str, train_size: int | None, val_size: int) -> Any:
    from econdl.data import MNISTDataModule

    dm = MNISTDataModule(data_dir=data_dir, variant=variant, train_size=train_size, val_size=val_size, batch_size=128)
    dm.setup("fit")
    return dm


def accuracy(dm: Any, predict: Any) -> float:
    x, y = dm.split("test")
    with torch.no_grad():
        pred = torch.cat([predict(x[i : i + 1000].float() / 255).argmax(1) for i in range(0, len(x), 1000)])
    return float((pred == y).double().mean())


def make_net(model: str) -> torch.nn.Module:
    from econdl.nets import MLP, DigitCNN

    return DigitCNN() if model == "cnn" else MLP(in_features=784, widths=[128] * 3, out_features=10, flatten=True)


def raw_loop(model: str, data: tuple[str, str], train_size: int | None, val_size: int, epochs: int) -> dict[str, Any]:
    import torch.nn.functional as F

    dm = make_dm(*data, train_size, val_size)
    (x, y), (xv, yv) = dm.split("train"), dm.split("val")
    torch.manual_seed(0)
    net = make_net(model)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(x))
        for b in range(0, len(x), 128):
            rows = order[b : b + 128]
            opt.zero_grad()
            loss = F.cross_entropy(net(x[rows].float() / 255), y[rows])
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            for b in range(0, len(xv), 1000):
                F.cross_entropy(net(xv[b : b + 1000].float() / 255), yv[b : b + 1000])
    seconds = time.perf_counter() - start
    net.eval()
    return {"seconds": seconds, "images": epochs * len(x), "acc": accuracy(dm, net)}


def econdl_fit(model: str, data: tuple[str, str], train_size: int | None, val_size: int, epochs: int) -> dict[str, Any]:
    quiet_lightning()
    os.chdir(tempfile.mkdtemp())  # run directories go to a scratch folder
    from econdl.cli import cli_main

    subset = [f"--data.init_args.train_size={train_size}"] if train_size else []
    cli = cli_main(["--config", str(CONFIGS / f"{model}.yaml"), f"--data.init_args.data_dir={data[0]}",
                    f"--data.init_args.variant={data[1]}", f"--data.init_args.val_size={val_size}", *subset,
                    f"--trainer.max_epochs={epochs}", f"--trainer.min_epochs={epochs}",
                    "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
                    "--seed_everything=0"], run=False)
    cli.datamodule.setup("fit")  # load the files outside the clock, as the raw loop does
    start = time.perf_counter()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    seconds = time.perf_counter() - start
    cli.model.eval()
    return {"seconds": seconds, "images": epochs * len(cli.datamodule.split("train")[0]),
            "acc": accuracy(cli.datamodule, cli.model)}


def run(quick: bool) -> list[dict[str, Any]]:
    data_dir, variant, source = data_source()
    data = (data_dir, variant)
    train_size, val_size = (6000, 1000) if quick else (None, 5000)
    rows = []
    for model, epochs in (("mlp", 1 if quick else 3), ("cnn", 1)):
        raw, raw_mem = isolated(raw_loop, model, data, train_size, val_size, epochs)
        ours, our_mem = isolated(econdl_fit, model, data, train_size, val_size, epochs)
        rows.append({
            "benchmark": f"MNIST {model.upper()}",
            "what": f"{epochs} epoch(s) x {raw['images'] // epochs} images, batch 128, Adam 1e-3, validation each epoch; {source}",
            "econdl_s": ours["seconds"],
            "raw_s": raw["seconds"],
            "ratio": ours["seconds"] / raw["seconds"],
            "throughput": f"{ours['images'] / ours['seconds']:.0f} images/s (raw {raw['images'] / raw['seconds']:.0f})",
            "peak_mem_mb": f"{our_mem:.0f} (raw {raw_mem:.0f})",
            "result": f"test acc {ours['acc']:.4f} (raw {raw['acc']:.4f})",
            "note": "uint8 images in memory, scaled per batch in both; timings on a shared 2-core CPU",
        })
    return rows


if __name__ == "__main__":
    import json
    import sys

    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row, default=str))
