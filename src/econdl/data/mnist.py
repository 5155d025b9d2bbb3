"""MNIST handwritten digits (and Fashion-MNIST) as uint8 tensors in memory.

The four standard IDX files (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``) are read once into uint8 tensors
(60,000 x 1 x 28 x 28 is 47 MB); each batch is scaled to [0, 1] (and optionally
normalised) only after it is cut, so no float copy of the whole set exists.
"""

from __future__ import annotations

import gzip
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from econdl.data.base import InMemoryDataModule, Splits, downloading, fewest_to_split, resolve_count
from econdl.data.loader import TensorBatches
from econdl.errors import ConfigError, DataError, DataFileNotFound

if TYPE_CHECKING:  # pandas is imported where predictions are written, not when the package loads
    import pandas as pd

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
VARIANTS = {
    "mnist": ("MNIST", [str(d) for d in range(10)], "/usr/share/datasets/mnist"),
    "fashion": (
        "FashionMNIST",
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
        "/usr/share/datasets/fashion-mnist",
    ),
}
IDX_TYPES = {0x08: torch.uint8}
OTHER_IDX_TYPES = {0x09: "signed bytes", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}


def read_idx(path: Path) -> Tensor:
    """Read one IDX file (raw or gzip) into a uint8 tensor; a clear error if it is damaged."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"{path} is not a readable (gzip) IDX file ({err}); download it again") from None
    if len(raw) >= 4 and raw[:2] == b"\0\0" and raw[2] in OTHER_IDX_TYPES:
        raise DataError(
            f"{path} is an IDX file of {OTHER_IDX_TYPES[raw[2]]} (type 0x{raw[2]:02X}); econdl reads IDX files of "
            "unsigned bytes (type 0x08: pixel values 0-255, labels 0-9), as MNIST ships them: write the file "
            "as uint8 (e.g. numpy's astype('uint8') after scaling the pixels to 0-255)"
        )
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES or not 1 <= raw[3] <= 4:
        raise DataError(
            f"{path} is not an IDX file (bad header); download it again, or check that the path names an "
            "MNIST-format file"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated (incomplete header); download it again")
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(torch.tensor(shape).prod())
    if len(raw) != expected:
        raise DataError(
            f"{path} is truncated or corrupt: its header announces shape {shape} "
            f"({expected} bytes) but the file holds {len(raw)} bytes; download it again"
        )
    return torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8).reshape(shape)


def find_idx(folders: list[Path], stem: str) -> Path | None:
    """The first ``stem`` or ``stem.gz`` in ``folders`` (also the ``.`` -> ``-`` variant
    ``train-images.idx3-ubyte`` some mirrors use)."""
    names = [stem, stem.replace("-idx", ".idx")]
    for folder in folders:
        for name in names:
            for candidate in (folder / name, folder / f"{name}.gz"):
                if candidate.is_file():
                    return candidate
    return None


class MNISTDataModule(InMemoryDataModule):
    """MNIST or Fashion-MNIST: 60,000 training images (a validation split carved off with a
    fixed generator) and the official 10,000 test images, 1 x 28 x 28, labels 0-9.  Other
    digit sets in the same format work too, at any number of images and any image size (the
    training and test files must agree); the networks' first dense layer is sized to them
    (``econdl.tasks.sizing.fit_to_data``).

    Args:
        data_dir: folder holding the four IDX files (raw or ``.gz``); also searched:
            ``data_dir/raw`` and torchvision's ``data_dir/<MNIST|FashionMNIST>/raw``.
        variant: ``mnist`` or ``fashion``.
        download: fetch the files with torchvision into ``data_dir`` when missing.
        val_size: images of the training file held out for validation: a fraction in
            (0, 1) (default 1/12, the lecture's 5,000 of 60,000, at any data size) or a count.
        normalize: after scaling to [0, 1], standardise with the mean and std of the training
            split (kept in the DataModule's state, so checkpoints carry them to test/predict).
            Closed-form baselines that read raw pixels (Bernoulli naive Bayes) set it false.
        augment: small random affine shifts/rotations of training batches (for CNNs).
        train_size: use only a random subset of the training file (a fraction in (0, 1) or a
            count, drawn with the split generator), before the validation split; None = all.
        predict_dir: folder of image files (png/jpg/bmp, any size) that ``econdl predict``
            classifies instead of the test set; they are read as greyscale images of the
            size the model was trained on (28 x 28 for MNIST).
        predict_invert: invert the predict images (MNIST digits are light on dark);
            None inverts an image whose border (its outer two pixels) is light on average
            (a dark digit on white paper), and says how many it inverted.
        eval_batch_size: images per validation/test/predict batch (1000 here; None: 4 x batch_size).
        batch_size, split_seed, drop_last, data_on_device: see ``InMemoryDataModule``.
    """

    task = "mnist"
    unit = None  # build() prints the counts, with the split it used
    split_keys = {  # the test set is a file of its own; the training set is what the validation set leaves
        "validate": ("train_size", "val_size", "split_seed"),
        "test": (),
        "train": ("train_size", "val_size", "split_seed"),
    }
    names = ("images", "labels")
    fingerprints = True
    example_noun = "images"
    read_keys = ("data_dir", "download", "train_size", "val_size", "split_seed")

    def __init__(
        self,
        data_dir: str = "data/mnist",
        variant: str = "mnist",
        download: bool = False,
        val_size: int | float = 1 / 12,
        normalize: bool = True,
        augment: bool = False,
        train_size: int | float | None = None,
        predict_dir: str | None = None,
        predict_invert: bool | None = None,
        batch_size: int = 128,
        eval_batch_size: int | None = 1000,
        split_seed: int = 0,
        drop_last: bool = False,
        data_on_device: bool | None = None,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, split_seed, drop_last, data_on_device)
        if variant not in VARIANTS:
            raise ConfigError(f"variant={variant!r} is not known; choose one of {sorted(VARIANTS)}")
        resolve_count("val_size", val_size, None)  # fail early on 0, negatives, 1.0, 2.5
        if train_size is not None:
            resolve_count("train_size", train_size, None, allow_all=True)
        self.save_hyperparameters()
        self.data_dir = Path(data_dir).expanduser()
        self.variant, self.download = variant, download
        self.val_size, self.normalize, self.augment, self.train_size = val_size, normalize, augment, train_size
        self.predict_dir = Path(predict_dir).expanduser() if predict_dir else None
        if self.predict_dir is not None:
            self._predict_image_paths()  # a wrong folder fails now, before a model is built for it
        self.predict_invert = predict_invert
        self.predict_paths: list[Path] = []
        self._predict_images: Tensor | None = None
        self.class_names = list(VARIANTS[variant][1])
        # standardisation: identity until fitted on the training split or read from a checkpoint
        self.mean, self.std = 0.0, 1.0
        self.stats_source: str | None = None
        # (height, width) of the images the model learns from: read from the files, or from a checkpoint
        self.image_size: tuple[int, ...] | None = None

    # --- files ------------------------------------------------------------------------
    def folders(self) -> list[Path]:
        folder_name = VARIANTS[self.variant][0]
        return [self.data_dir, self.data_dir / "raw", self.data_dir / folder_name / "raw"]

    def prepare_data(self) -> None:
        """Download the files with torchvision when ``download`` is set and they are missing.

        Lightning calls this once per machine (not in every DDP process, which would all
        write into ``data_dir`` at once); ``setup`` then only reads."""
        if not self.download or all(find_idx(self.folders(), stem) for stem in FILES.values()):
            return
        import torchvision

        cls = torchvision.datasets.MNIST if self.variant == "mnist" else torchvision.datasets.FashionMNIST
        files = "the four IDX files (" + ", ".join(f"{stem}.gz" for stem in FILES.values()) + ")"
        with downloading(self.variant, self.data_dir, files):
            cls(str(self.data_dir), train=True, download=True)
            cls(str(self.data_dir), train=False, download=True)

    def locate(self) -> dict[str, Path]:
        """Paths of the four IDX files (read only: downloads happen in ``prepare_data``)."""
        found = {key: find_idx(self.folders(), stem) for key, stem in FILES.items()}
        paths = {key: path for key, path in found.items() if path is not None}
        if len(paths) == len(found):
            return paths
        missing = [FILES[k] + "[.gz]" for k, v in found.items() if v is None]
        where = ", ".join(str(f) for f in self.folders())
        package = VARIANTS[self.variant][2]
        fix = (
            "the download (prepare_data) did not write them: check the network and that data_dir is writable"
            if self.download
            else "Point --data.data_dir at a folder holding the four IDX files"
            + (f" (e.g. {package} after `apt-get install dataset-fashion-mnist`)" if self.variant == "fashion" else "")
            + ", or pass --data.download true to fetch them with torchvision"
        )
        raise DataFileNotFound(f"{self.variant} data not found: missing {', '.join(missing)} in {where}. {fix}")

    # --- data ---------------------------------------------------------------------------
    def build(self) -> Splits:
        files = self.locate()
        data = {key: read_idx(path) for key, path in files.items()}
        for part in ("train", "test"):
            images, labels = data[f"{part}_images"], data[f"{part}_labels"]
            if images.dim() != 3 or labels.dim() != 1 or len(images) != len(labels):
                raise DataError(
                    f"{files[part + '_images']} and {files[part + '_labels']} do not match: images of "
                    f"shape {list(images.shape)}, labels of shape {list(labels.shape)}"
                )
            if int(labels.max()) >= len(self.class_names):
                top, low = int(labels.max()), int(labels.min())
                shift = "; labels that run 1-10 need 1 subtracted" if (low, top) == (1, 10) else ""
                raise DataError(
                    f"{files[part + '_labels']} holds label {top}; the classes are 0-9 (labels {low}-{top} "
                    f"here){shift}: write the label file with the labels 0-9"
                )
        sizes = {part: tuple(data[f"{part}_images"].shape[1:]) for part in ("train", "test")}
        if sizes["train"] != sizes["test"]:
            raise DataError(
                f"the training images ({files['train_images'].name}) are {' x '.join(map(str, sizes['train']))} "
                f"pixels but the test images ({files['test_images'].name}) are "
                f"{' x '.join(map(str, sizes['test']))}; give both files images of one size"
            )
        self.image_size = sizes["train"]
        x, y = data["train_images"].unsqueeze(1), data["train_labels"].long()
        # one permutation gives the subset and then the validation split, so a given
        # (split_seed, train_size, val_size) always selects the same images
        order = torch.randperm(len(x), generator=self.generator())
        least = fewest_to_split(self.val_size, len(x))
        if self.train_size is not None:
            kept = resolve_count("train_size", self.train_size, len(x), "training images", allow_all=True, least=least)
            order = order[:kept]
        if self.train_size is not None and len(order) < 2:
            raise ConfigError(
                f"train_size={self.train_size} keeps {len(order)} training image, too few to hold one out for "
                f"validation; use a train_size of at least {max(least, 2)} (with val_size={self.val_size:g})"
            )
        try:
            n_val = resolve_count("val_size", self.val_size, len(order), "training images")
        except ConfigError as err:
            if self.train_size is None:
                raise
            # the subset is the user's choice as much as the held-out share: name both
            raise ConfigError(
                f"{err} (of the {len(order):,} images train_size={self.train_size:g} keeps; or a larger train_size)"
            ) from err
        val, train = order[:n_val], order[n_val:]
        if self.normalize and self.stats_source != "checkpoint":
            pixels = x[train].float() / 255.0
            self.mean, self.std = float(pixels.mean()), float(pixels.std())
            if not self.std > 0:
                raise DataError(
                    f"the {len(train):,} training images of {self.data_dir} are all one shade (pixel std 0): "
                    "there is nothing to learn from them, and standardising divides by zero; check that "
                    "data_dir holds the real images (or pass --data.normalize false to train on them anyway)"
                )
            self.stats_source = "training split"
        splits: dict[str, tuple[Tensor, ...]] = {
            "train": (x[train], y[train]),
            "val": (x[val], y[val]),
            "test": (data["test_images"].unsqueeze(1), data["test_labels"].long()),
        }
        if self._ranks()[0] == 0:
            counts = " / ".join(f"{len(splits[k][0]):,} {k}" for k in ("train", "val", "test"))
            stats = f"; inputs standardised with mean {self.mean:.4f}, std {self.std:.4f}" if self.normalize else ""
            print(f"{self.variant}: {counts} images (val_size={self.val_size:g} of {len(order):,}){stats}", flush=True)
        return splits

    def scale(self, images: Tensor, augment: bool = False) -> Tensor:
        """uint8 images -> float in [0, 1] (augmented there when asked, so shifted-in
        borders are background), standardised with the stored mean and std.

        A checkpoint's statistics win over ``normalize``: the model sees its inputs on the
        scale it was trained on (identity, 0 and 1, for a model trained without)."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        if augment:
            x = random_affine(x)
        if self.normalize and self.stats_source is None:
            self.setup()  # fit the statistics on the training split before the first batch
        return (x - self.mean) / self.std if (self.mean, self.std) != (0.0, 1.0) else x

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        trainer = self.trainer
        augment = self.augment and trainer is not None and trainer.training
        return (self.as_model_input(self.scale(batch[0], augment)), *batch[1:])

    # --- predict on a folder of images --------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if stage == "predict" and self.predict_dir is not None:
            # read with the first batch: the statistics and the image size come from the
            # checkpoint, which Lightning restores after setup (without one, from the training files)
            return
        super().setup(stage)

    def _predict_image_paths(self) -> list[Path]:
        from econdl.data.images import list_images

        assert self.predict_dir is not None
        paths = list_images(self.predict_dir)
        if not paths:
            raise DataFileNotFound(f"no png/jpg/bmp images in predict_dir {self.predict_dir}")
        return paths

    def _read_predict_images(self) -> None:
        from econdl.data.images import read_images

        paths = self._predict_image_paths()
        if self.image_size is None:
            try:  # no checkpoint told the size: the training files do, where they are at hand
                self.image_size = tuple(read_idx(self.locate()["train_images"]).shape[1:])
            except DataFileNotFound:
                self.image_size = (28, 28)
        height, width = self.image_size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # said below, in one line
            images, self.predict_paths, failed = read_images(paths, size=(height, width), mode="L")
        unread = "; ".join(f"{p} ({reason})" for p, reason in failed[:3]) + ("; ..." if len(failed) > 3 else "")
        if not self.predict_paths:
            raise DataError(f"none of the {len(paths)} images in {self.predict_dir} could be read: {unread}")
        if failed:
            print(f"predict_dir {self.predict_dir}: skipped {len(failed)} unreadable file(s): {unread}", flush=True)
        # dark ink on light paper has a light border; a light garment on black (Fashion-MNIST)
        # is light on average but its border is dark, as in the training images
        frame = torch.ones(images.shape[-2:], dtype=torch.bool)
        frame[2:-2, 2:-2] = False
        light = images[..., frame].float().mean(dim=(1, 2)) > 127
        invert = light if self.predict_invert is None else torch.full_like(light, self.predict_invert)
        images[invert] = 255 - images[invert]
        if self.predict_invert is None and bool(light.any()):
            print(
                f"predict_dir {self.predict_dir}: inverted {int(light.sum())} of {len(light)} image(s) with a light "
                "border (dark on light) to light on dark, as the training images are; --data.predict_invert false "
                "keeps them as they are",
                flush=True,
            )
        self._predict_images = images

    def predict_dataloader(self) -> TensorBatches:
        if self.predict_dir is None:
            return super().predict_dataloader()
        if self._predict_images is None:
            self._read_predict_images()
        assert self._predict_images is not None
        return TensorBatches((self._predict_images,), self.eval_batch_size)

    def prediction_frame(self, batches: list[Tensor]) -> pd.DataFrame:
        """One row per image: file path (or, on the test set, the image's position in the test
        IDX file, counted from 0, and its true label), predicted class, probability of each class."""
        import pandas as pd

        probs = torch.cat([b.detach().float().cpu() for b in batches])
        frame = pd.DataFrame({"predicted": [self.class_names[i] for i in probs.argmax(1).tolist()]})
        if self._predict_images is not None:
            frame.insert(0, "path", [str(p) for p in self.predict_paths])
        else:
            labels = self.test_targets()[: len(probs)].tolist()
            frame.insert(0, "label", [self.class_names[i] for i in labels])
            frame.insert(0, "test_image", range(len(probs)))  # joins back to the test file, row by row
        for k, name in enumerate(self.class_names):
            frame[f"prob_{name}"] = probs[:, k].numpy()
        return frame

    # --- comparison -------------------------------------------------------------------
    def score(self, pred: Tensor) -> dict[str, float]:
        """Test accuracy of predicted class probabilities (n, K)."""
        y = self.test_targets()
        return {"test_acc": float((pred.reshape(len(y), -1).argmax(dim=1) == y).double().mean())}

    def state_dict(self) -> dict[str, Any]:
        """The standardisation the model was trained with (0 and 1: none), saved in checkpoints."""
        return {"mean": self.mean, "std": self.std, "image_size": list(self.image_size or ()), **super().state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Use a checkpoint's statistics, whatever the current training split would give."""
        mean, std = float(state.get("mean", 0.0)), float(state.get("std", 1.0))
        trained = tuple(int(v) for v in state.get("image_size") or ())
        if trained and self.image_size and trained != tuple(self.image_size):
            raise DataError(
                f"this checkpoint's model was trained on {' x '.join(map(str, trained))} images, but the images in "
                f"{self.data_dir} are {' x '.join(map(str, self.image_size))}; test it on images of its size, "
                "or fit a model on these (econdl fit)"
            )
        super().load_state_dict(state)  # the examples, before the statistics they would explain
        # the same images give the same statistics up to float32 rounding, which depends on the
        # number of threads that summed them (a compare's worker against a later command)
        same = all(math.isclose(a, b, rel_tol=1e-5) for a, b in ((mean, self.mean), (std, self.std)))
        if not same and self._ranks()[0] == 0:
            ours = (
                f", not this training split's {self.mean:.4f} and {self.std:.4f}"
                if self.stats_source == "training split"
                else ""
            )
            print(
                f"{self.variant}: inputs standardised with the checkpoint's mean {mean:.4f}, std {std:.4f} "
                f"(those of the images it was trained on){ours}",
                flush=True,
            )
        self.mean, self.std, self.stats_source = mean, std, "checkpoint"
        if trained:
            self.image_size = trained


def random_affine(x: Tensor, max_shift: float = 2.0 / 28, max_degrees: float = 8.0) -> Tensor:
    """Shift each image by up to ~2 pixels and rotate it by up to 8 degrees (batched)."""
    n = len(x)
    angle = (torch.rand(n, device=x.device) * 2 - 1) * max_degrees * torch.pi / 180
    shift = (torch.rand(n, 2, device=x.device) * 2 - 1) * 2 * max_shift
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
