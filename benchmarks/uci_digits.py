"""A second real digit set, small, in MNIST's IDX format: scikit-learn's copy of the UCI
handwritten digits (1,797 images of 8 x 8 pixels, grey levels 0-16, written by 13 people).

Each image is scaled to 20 x 20 pixels (bilinear) and centred in a 28 x 28 frame, as MNIST's
digits are; after a fixed shuffle 1,438 images form the training file and 359 (20%) the test
file.  The same writers appear in both, so accuracy here is higher than on new writers.
With the default validation share (1/12) a fit trains on 1,318 images: a check that the
MNIST configs hold far from MNIST's 60,000.

    python -m benchmarks.uci_digits data/uci-digits
    econdl compare configs/mnist/ --data.data_dir data/uci-digits
"""

from __future__ import annotations

import argparse
import gzip
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """One gzipped IDX file of unsigned bytes (images: n x 28 x 28, labels: n)."""
    dims = array.shape
    with gzip.open(path, "wb") as handle:
        handle.write(struct.pack(">HBB", 0, 0x08, len(dims)))
        handle.write(struct.pack(f">{len(dims)}I", *dims))
        handle.write(array.astype(np.uint8).tobytes())


def digits_as_mnist(test_share: float = 0.2, seed: int = 0) -> dict[str, np.ndarray]:
    import torch
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    x = torch.nn.functional.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)
    x = torch.nn.functional.pad(x, (4, 4, 4, 4))
    images = (x[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return split_train_test(images, digits.target.astype(np.uint8), test_share, seed)


def split_train_test(images: np.ndarray, labels: np.ndarray, test_share: float, seed: int) -> dict[str, np.ndarray]:
    """A fixed shuffle (``seed``), then ``test_share`` of the images for the test file."""
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = round(test_share * len(labels))
    train, test = order[n_test:], order[:n_test]
    return {"train_x": images[train], "train_y": labels[train], "test_x": images[test], "test_y": labels[test]}


def write_folder(out: Path, data: dict[str, np.ndarray]) -> None:
    """The four files MNISTDataModule reads (train-images-idx3-ubyte.gz, ...) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        write_idx(out / f"{prefix}-images-idx3-ubyte.gz", data[f"{split}_x"])
        write_idx(out / f"{prefix}-labels-idx1-ubyte.gz", data[f"{split}_y"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="folder for the four IDX files")
    args = parser.parse_args(argv)
    data = digits_as_mnist()
    write_folder(args.out, data)
    print(f"{len(data['train_y'])} training and {len(data['test_y'])} test images written to {args.out}")


if __name__ == "__main__":
    main()
