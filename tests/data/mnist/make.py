"""Tiny MNIST-layout fixture: the four IDX files with 80 training and 20 test images.

Each class k is a bright bar in its own rows of a 28 x 28 image plus a little noise, so
every model can learn it in one or two epochs; all ten classes appear in both files.

    python tests/data/mnist/make.py OUT_DIR
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np

NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file of unsigned bytes: magic 0x0000 08 <ndim>, big-endian sizes, the data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def images(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 28, 28) uint8 images and (n,) labels, classes interleaved."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(10), per_class)
    x = rng.integers(0, 40, size=(len(labels), 28, 28))
    for i, k in enumerate(labels):
        x[i, 2 + 2 * k : 4 + 2 * k, 4:24] = 230
    return x.astype(np.uint8), labels.astype(np.uint8)


def make(out: Path, train_per_class: int = 8, test_per_class: int = 2) -> Path:
    """Write the four files into ``out`` (created) and return it."""
    out.mkdir(parents=True, exist_ok=True)
    for part, per_class, seed in (("train", train_per_class, 0), ("test", test_per_class, 1)):
        x, y = images(per_class, seed)
        write_idx(out / NAMES[part][0], x)
        write_idx(out / NAMES[part][1], y)
    return out


if __name__ == "__main__":
    print(make(Path(sys.argv[1] if len(sys.argv) > 1 else "mnist-tiny")))
