"""MNISTDataModule on tiny IDX files written by the test: layouts, splits, scaling, errors.

``write_idx_set`` is imported by the other MNIST test files.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from econdl.data import MNISTDataModule
from econdl.data.mnist import read_idx


def write_idx(path: Path, array: np.ndarray, gz: bool) -> Path:
    """Write a uint8 array in the IDX format (big-endian dims after a 4-byte magic)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def digit_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class-dependent 28x28 uint8 images: class k lights rows 2k+3..2k+5 (a bar a model can
    find), plus salt noise so every pixel varies."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n, 28, 28))
    for i, k in enumerate(labels):
        images[i, 2 * k + 3 : 2 * k + 6, 4:24] = rng.integers(180, 256, size=(3, 20))
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_idx_set(folder: Path, n_train: int = 400, n_test: int = 200, gz: bool = False) -> Path:
    """The four standard MNIST files of synthetic digits in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for part, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = digit_images(n, seed)
        write_idx(folder / f"{part}-images-idx3-ubyte", images, gz)
        write_idx(folder / f"{part}-labels-idx1-ubyte", labels, gz)
    return folder


@pytest.mark.parametrize("gz", [False, True])
def test_reads_raw_and_gz_layouts_into_uint8_splits(tmp_path, gz):
    folder = write_idx_set(tmp_path / "digits", gz=gz)
    dm = MNISTDataModule(data_dir=str(folder), val_size=50)
    dm.setup("fit")
    (xt, yt), (xv, yv), (xs, ys) = dm.split("train"), dm.split("val"), dm.split("test")
    assert xt.dtype == torch.uint8 and xt.shape == (350, 1, 28, 28)
    assert len(xv) == 50 and len(xs) == 200 and yt.dtype == torch.long
    images, labels = digit_images(200, 1)
    assert torch.equal(xs[:, 0], torch.from_numpy(images)) and torch.equal(ys, torch.from_numpy(labels).long())
    # train + val are exactly the training file's rows, split by a fixed generator
    train_images, _ = digit_images(400, 0)
    all_rows = torch.cat([xt, xv])[:, 0].reshape(400, -1)
    assert sorted(map(tuple, all_rows.tolist())) == sorted(map(tuple, train_images.reshape(400, -1).tolist()))
    again = MNISTDataModule(data_dir=str(folder), val_size=50)
    assert torch.equal(again.split("val")[0], xv)
    # scaling per batch: float in [0, 1]
    x, y = dm.on_after_batch_transfer((xt[:8], yt[:8]), 0)
    assert x.dtype == torch.float32 and torch.allclose(x, xt[:8].float() / 255)


def test_torchvision_layout_and_normalisation(tmp_path):
    write_idx_set(tmp_path / "root" / "FashionMNIST" / "raw", gz=True)
    dm = MNISTDataModule(data_dir=str(tmp_path / "root"), variant="fashion", val_size=40, normalize=True)
    x = dm.on_after_batch_transfer(dm.split("train")[:2], 0)[0]
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3
    assert dm.class_names[0] == "T-shirt/top" and len(dm.class_names) == 10


def test_missing_files_say_where_and_how(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path / "nowhere"), variant="fashion")
    with pytest.raises(FileNotFoundError) as err:
        dm.setup("fit")
    msg = str(err.value)
    assert str(tmp_path / "nowhere") in msg and "train-images-idx3-ubyte" in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "download true" in msg
    digits = MNISTDataModule(data_dir=str(tmp_path / "nowhere"), variant="mnist")
    with pytest.raises(FileNotFoundError) as err:
        digits.setup("fit")
    assert "apt-get" not in str(err.value) and "download true" in str(err.value)  # Debian has no MNIST package


def test_truncated_and_corrupt_files_are_named(tmp_path):
    folder = write_idx_set(tmp_path / "digits", gz=False)
    bad = folder / "t10k-images-idx3-ubyte"
    bad.write_bytes(bad.read_bytes()[:-100])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte is truncated"):
        MNISTDataModule(data_dir=str(folder), val_size=50).setup("fit")
    gz_folder = write_idx_set(tmp_path / "gz", gz=True)
    broken = gz_folder / "train-labels-idx1-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[:20])
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz"):
        MNISTDataModule(data_dir=str(gz_folder), val_size=50).setup("fit")
    junk = tmp_path / "junk-idx3-ubyte"
    junk.write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(ValueError, match="bad header"):
        read_idx(junk)


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="variant='digits'"):
        MNISTDataModule(variant="digits")
    folder = write_idx_set(tmp_path / "digits")
    with pytest.raises(ValueError, match="val_size=400"):
        MNISTDataModule(data_dir=str(folder), val_size=400).setup("fit")


def test_augmentation_only_moves_training_batches(tmp_path):
    from econdl.data.mnist import random_affine

    torch.manual_seed(0)
    x = torch.rand(16, 1, 28, 28)
    moved = random_affine(x)
    assert moved.shape == x.shape and not torch.allclose(moved, x)
    # small transforms: most of the mass stays put
    assert float((moved - x).abs().mean()) < float(x.abs().mean())
