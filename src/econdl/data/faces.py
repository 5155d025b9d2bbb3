"""Photos labelled by gender (the lecture's candidate photos): folder, manifest or CelebA.

    econdl fit --config configs/gender/cnn.yaml --data.root photos/            # photos/female, photos/male
    econdl fit --config configs/gender/cnn.yaml --data.source manifest --data.path photos.csv
    econdl fit --config configs/gender/cnn.yaml --data.source celeba --data.root data/ --data.max_images 40000

Images are decoded once (optionally in worker processes), converted to RGB, resized to
``image_size`` and kept in memory as uint8; batches are scaled to [0, 1] on the device.
The lecture's cleaning drops rows whose gender is missing or not a known code and
greyscale photos, and every rule's count is reported.  The split is a fixed random one
with the lecture's proportions (4,997 test photos of 40,932) and a validation share
taken from the rest.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from econdl.data.base import InMemoryDataModule, Splits, downloading, other_separator, resolve_count
from econdl.data.images import greyscale_mask, list_images, read_images
from econdl.data.loader import TensorBatches
from econdl.errors import ConfigError, DataError, DataFileNotFound

SOURCES = ("folder", "manifest", "celeba")
DEFAULT_CODES = {"F": "Female", "M": "Male"}
LECTURE_TEST_SHARE = 4_997 / 40_932  # 35,935 train / 4,997 test in the lecture
VAL_SIZE = 0.1  # the default validation share of the training photos


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def split_sizes(n: int, test_share: float, val_size: float | int, name: str = "val_size") -> tuple[int, int, int]:
    """(train, val, test) counts: ``test_share`` of ``n`` for testing, then ``val_size`` of
    the rest for validation (a fraction, at least one photo, so that the default holds on a
    handful of photos; or a count; 0: none), named ``name`` in messages; 40,932 photos and
    the defaults give the lecture's 4,997 test photos."""
    n_test = max(1, round(test_share * n))
    rest = n - n_test
    if val_size == 0:
        n_val = 0
    elif 0 < val_size < 1:
        n_val = max(1, round(val_size * rest))
    else:
        n_val = resolve_count(name, val_size, rest, "remaining photos")
    if n - n_test - n_val < 1:
        raise DataError(
            f"{n} photos leave none for training after test_share={test_share:g} ({n_test} photos) and "
            f"{name}={val_size:g} ({n_val}); lower --data.test_share or --data.{name}, or add photos"
        )
    return n - n_test - n_val, n_val, n_test


class GenderImageDataModule(InMemoryDataModule):
    """Labelled photos for a two-class (by default Female/Male) image classifier.

    Args:
        source: ``folder`` (``root/<class>/*.jpg|png``), ``manifest`` (a CSV at ``path``)
            or ``celeba`` (torchvision's CelebA under ``root``, label = ``Male`` attribute).
        root: the image folder (folder) or the folder holding ``celeba/`` (celeba).
        path: the manifest CSV (manifest); image paths in it are relative to the CSV.
        path_column, label_column: the manifest's image-path and gender columns.
        classes: class names, in label order; folder names are matched case-insensitively.
            For celeba the first class is Male = 0 and the second Male = 1.
        codes: extra manifest codes (case-insensitive) mapped to a class (default: F ->
            Female, M -> Male); the class names themselves are always recognised.
            Other values, and empty cells, count as uncoded.
        image_size: (height, width) every photo is resized to.
        test_share: share of the cleaned photos held out for testing.
        val_size: photos held out for validation from those left after the test split: a
            fraction in (0, 1) or a count (0: validate on the test photos).
        val_share: deprecated name of ``val_size`` (a fraction).
        drop_greyscale: drop single-channel photos and RGB photos with equal channels.
        on_error: ``skip`` (warn, naming the files) or ``raise`` on unreadable images.
        flip: random horizontal flips of training batches (augmentation).
        workers: processes that decode images (0: decode in the main process).
        max_images: use a fixed random subset of at most this many photos (e.g. CelebA).
        download: let torchvision download CelebA into ``root`` when it is missing.
        predict_dir: a folder of new photos that ``econdl predict`` labels (instead of the
            test split); unreadable files there are skipped and counted.
        batch_size, eval_batch_size, split_seed, drop_last, data_on_device: see ``InMemoryDataModule``.
    """

    task = "gender"
    unit = None  # build() prints the counts, with the split it used
    split_keys = {
        "validate": ("max_images", "test_share", "val_size", "split_seed"),
        "test": ("max_images", "test_share", "split_seed"),
        "train": ("max_images", "test_share", "val_size", "split_seed"),
    }
    aliases = {"val_share": "val_size"}  # an old option name: the split checks read it as the new one
    names = ("images", "labels")
    fingerprints = True
    example_noun = "photos"
    read_keys = (  # not label_column, codes: the same photos with other labels are another fit
        *("source", "root", "path", "path_column", "drop_greyscale", "on_error", "workers", "download"),
        *("max_images", "test_share", "val_size", "val_share", "split_seed"),
    )

    def __init__(
        self,
        source: str = "folder",
        root: str | None = None,
        path: str | None = None,
        path_column: str = "path",
        label_column: str = "gender",
        classes: list[str] = ["Female", "Male"],  # noqa: B006 (jsonargparse needs a literal default)
        codes: dict[str, str] | None = None,
        image_size: tuple[int, int] = (135, 110),
        test_share: float = LECTURE_TEST_SHARE,
        val_size: int | float = VAL_SIZE,
        val_share: float | None = None,
        drop_greyscale: bool = True,
        on_error: str = "skip",
        flip: bool = False,
        workers: int = 0,
        max_images: int | None = None,
        download: bool = False,
        predict_dir: str | None = None,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        split_seed: int = 0,
        drop_last: bool = False,
        data_on_device: bool | None = None,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, split_seed, drop_last, data_on_device)
        self.save_hyperparameters()
        if source not in SOURCES:
            raise ConfigError(f"source={source!r} is not known; choose one of {list(SOURCES)}")
        if source in ("folder", "celeba") and not root:
            raise ConfigError(f"source={source!r} needs a folder: pass --data.root DIR")
        if source == "manifest" and not path:
            raise ConfigError("source='manifest' needs the CSV file: pass --data.path FILE.csv")
        if len(classes) < 2 or len({c.lower() for c in classes}) != len(classes):
            raise ConfigError(f"classes={list(classes)} must name at least two different classes")
        lookup = {c.lower(): c for c in classes}
        if codes is None:  # the lecture's F/M, for whichever of Female/Male are classes
            codes = {k: v for k, v in DEFAULT_CODES.items() if v.lower() in lookup}
        for code, cls in codes.items():
            if cls.lower() not in lookup:
                raise ConfigError(f"codes maps {code!r} to {cls!r}, which is not one of classes={list(classes)}")
        if val_share is not None:  # the old name: one vocabulary with the other DataModules
            if val_size not in (VAL_SIZE, val_share):
                raise ConfigError(
                    f"val_share={val_share} and val_size={val_size} both set the validation split (val_share is "
                    f"the old name of val_size); give only --data.val_size"
                )
            # FutureWarning, which Python shows (a DeprecationWarning is hidden outside __main__)
            warnings.warn(
                f"val_share is deprecated; pass --data.val_size {val_share} instead", FutureWarning, stacklevel=2
            )
            val_size = val_share
        self.val_name = "val_share" if val_share is not None else "val_size"  # the option messages name
        if not 0 < test_share < 1:
            raise ConfigError(f"test_share={test_share} must lie in (0, 1), e.g. 0.12 for 12% of the photos")
        if val_size != 0:
            resolve_count(self.val_name, val_size, None, "photos")  # 0 is allowed here: no validation split
        if on_error not in ("skip", "raise"):
            raise ConfigError(f"on_error={on_error!r} must be 'skip' or 'raise'")
        if max_images is not None and max_images < 2 * len(classes):
            raise ConfigError(
                f"max_images={max_images} must be a count of photos, at least {2 * len(classes)} for "
                f"{len(classes)} classes (e.g. 1000), or null for all of them"
            )
        self.source, self.root, self.path = source, root, path
        self.path_column, self.label_column = path_column, label_column
        self.class_names = list(classes)
        # class names and extra codes, lower-cased, to the class index
        self.codes = {c.lower(): i for i, c in enumerate(classes)}
        for code, cls in codes.items():
            self.codes[code.strip().lower()] = self.class_names.index(lookup[cls.lower()])
        if len(image_size) != 2 or min(int(v) for v in image_size) < 1:
            raise ConfigError(
                f"image_size={list(image_size)} must be two positive whole numbers, height and width, e.g. [135, 110]"
            )
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.test_share, self.val_size = test_share, val_size
        self.drop_greyscale, self.on_error, self.flip = drop_greyscale, on_error, flip
        self.workers, self.max_images, self.download = workers, max_images, download
        self.predict_dir = predict_dir
        self.report: dict[str, int] = {}
        self.left_out: dict[str, int] = {}  # photo folders beside the class folders that are not a class
        self.paths: dict[str, list[Path]] = {}
        self.failed: list[tuple[Path, str]] = []
        self.class_counts: dict[str, int] = {}
        self.predict_images: tuple[Tensor, list[Path], list[tuple[Path, str]]] | None = None

    def _given(self, value: str | None, key: str) -> Path:
        """A path that __init__ requires for this source (or for predicting), as a Path."""
        if not value:
            raise ConfigError(f"source={self.source!r} needs --data.{key}")
        return Path(value)

    # --- the three sources: (image paths, class indices) and counts of rows dropped ---------
    def _from_folder(self) -> tuple[list[Path], list[int]]:
        root = self._given(self.root, "root")
        if not root.is_dir():
            raise DataFileNotFound(f"image root {root} does not exist; give the folder holding one subfolder per class")
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        paths, labels = [], []
        for k, name in enumerate(self.class_names):
            matches = [p for p in folders if p.name.lower() == name.lower()]
            if len(matches) > 1:  # Male/ and male/: one of them would be left out without a word
                raise DataError(
                    f"class {name!r} matches {len(matches)} folders of {root}, "
                    f"{', '.join(p.name + '/' for p in matches)} (class folders are matched case-insensitively); "
                    "move their photos into one of them"
                )
            folder = matches[0] if matches else None
            if folder is None:
                present = [p.name for p in folders]
                raise DataFileNotFound(
                    f"class folder {root / name} does not exist; lay photos out as "
                    f"{root}/<class>/*.jpg for classes {self.class_names} (found {present})"
                )
            found = list_images(folder)
            if not found:
                raise DataError(f"class folder {folder} holds no .jpg/.jpeg/.png/.bmp images")
            paths += found
            labels += [k] * len(found)
        self.report["rows"] = len(paths)
        # a folder of photos that is not a class (a third label, a misspelt class) is left out, and said
        wanted = {name.lower() for name in self.class_names}
        others = {p.name: len(list_images(p)) for p in folders if p.name.lower() not in wanted}
        self.left_out = {name: n for name, n in others.items() if n}
        return paths, labels

    def _from_manifest(self) -> tuple[list[Path], list[int]]:
        csv = self._given(self.path, "path")
        if not csv.is_file():
            raise DataFileNotFound(f"manifest {csv} does not exist")
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        missing = [c for c in (self.path_column, self.label_column) if c not in frame.columns]
        separator = other_separator(list(frame.columns))
        if missing and separator is not None:
            raise DataError(
                f"manifest {csv} separates its columns with {separator!r} (header {frame.columns[0]!r}); econdl reads "
                f"comma-separated files: save it as CSV with commas (e.g. {self.path_column},{self.label_column})"
            )
        if missing:
            raise DataError(
                f"manifest {csv} has no column(s) {missing} (columns: {list(frame.columns)}); "
                "name them with --data.path_column / --data.label_column"
            )
        codes = frame[self.label_column].str.strip().str.lower().map(self.codes)
        self.report["rows"] = len(frame)
        self.report["uncoded"] = int(codes.isna().sum())
        kept = frame[codes.notna()]
        paths = [Path(p) if Path(p).is_absolute() else csv.parent / p for p in kept[self.path_column]]
        return paths, [int(c) for c in codes[codes.notna()]]

    def prepare_data(self) -> None:
        """Download CelebA when ``download`` is set.  Lightning calls this once per machine,
        not in every DDP process (which would all write into ``root`` at once)."""
        if self.source == "celeba" and self.download:
            from torchvision.datasets import CelebA

            files = "celeba/ with img_align_celeba/ and the list_*.txt and identity_CelebA.txt files"
            root = self._given(self.root, "root")
            with downloading("CelebA", root, files):
                CelebA(str(root), split="all", target_type="attr", download=True)

    def _from_celeba(self) -> tuple[list[Path], list[int]]:
        from torchvision.datasets import CelebA

        root = self._given(self.root, "root")
        try:  # read only: the download, if asked for, ran in prepare_data
            data = CelebA(str(root), split="all", target_type="attr", download=False)
        except (RuntimeError, OSError) as err:
            fix = (
                "the download (prepare_data) did not complete: check the network and that the folder is writable"
                if self.download
                else "download them there, or pass --data.download true"
            )
            raise DataFileNotFound(
                f"CelebA is missing or incomplete in {root / 'celeba'} ({err}); it needs img_align_celeba/ and "
                "list_attr_celeba.txt, list_eval_partition.txt, identity_CelebA.txt, list_bbox_celeba.txt, "
                f"list_landmarks_align_celeba.txt: {fix}"
            ) from None
        if len(self.class_names) != 2:
            raise ConfigError(f"source='celeba' has two classes (Male = 0, 1), got classes={self.class_names}")
        male = data.attr[:, data.attr_names.index("Male")]
        folder = root / "celeba" / "img_align_celeba"
        self.report["rows"] = len(data.filename)
        return [folder / name for name in data.filename], [int(v) for v in male]

    # --- building the splits -------------------------------------------------------------
    def load(self) -> tuple[Tensor, Tensor, list[Path]]:
        """All cleaned photos: uint8 images (N, 3, H, W), class indices (N,), their paths."""
        self.report, self.left_out = {}, {}
        paths, labels = self._once(*getattr(self, f"_from_{self.source}")())
        listed = set(labels)  # the classes the source has, before a subset is drawn
        if self.max_images is not None and len(paths) > self.max_images:
            keep = torch.randperm(len(paths), generator=self.generator())[: self.max_images].sort().values
            paths, labels = [paths[i] for i in keep], [labels[i] for i in keep]
            self.report["subset"] = len(paths)
        label_of = dict(zip(paths, labels, strict=True))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # reported below, with the other counts
            images, kept, failed = read_images(paths, self.image_size, "RGB", self.on_error, self.workers)
        self.report["unreadable"], self.failed = len(failed), failed
        y = torch.tensor([label_of[p] for p in kept], dtype=torch.long)
        if self.drop_greyscale and len(kept):
            grey = greyscale_mask(images)
            self.report["greyscale"] = int(grey.sum())
            images, y = images[~grey], y[~grey]
            kept = [p for p, g in zip(kept, grey.tolist(), strict=True) if not g]
        self.report["kept"] = len(kept)
        self.class_counts = {name: int((y == k).sum()) for k, name in enumerate(self.class_names)}
        print(self.describe_cleaning(), flush=True)
        empty = [name for name, count in self.class_counts.items() if count == 0]
        if empty:
            greyscale = " (or keep greyscale photos: --data.drop_greyscale false)" if self.drop_greyscale else ""
            fix = f"add photos of every class{greyscale}"
            drawn = set(label_of.values())
            if all(self.class_names.index(n) in listed - drawn for n in empty):
                # the source has the class, the subset max_images drew has not a photo of it
                fix = f"raise max_images={self.max_images} (or leave it null for all the photos)"
            raise DataError(f"no usable {empty} photos are left in {self._where()} ({self.describe_cleaning()}); {fix}")
        return images, y, kept

    def _once(self, paths: list[Path], labels: list[int]) -> tuple[list[Path], list[int]]:
        """Each photo once: a file listed again (the same row twice, another path to it, a link
        to it) would be trained on twice or land in training and test at once.  A photo listed
        with different classes is dropped, every row of it: which one is right is unknown."""
        seen: dict[str, list[int]] = {}
        first: dict[str, Path] = {}
        for path, label in zip(paths, labels, strict=True):
            key = os.path.realpath(path)
            seen.setdefault(key, []).append(label)
            first.setdefault(key, path)
        conflicting = [key for key, given in seen.items() if len(set(given)) > 1]
        repeated = sum(len(given) - 1 for key, given in seen.items() if key not in conflicting)
        self.conflicting = [str(first[key]) for key in conflicting]
        self.report.update({"repeated": repeated} if repeated else {})
        self.report.update({"conflicting": len(conflicting)} if conflicting else {})
        kept = [(first[key], given[0]) for key, given in seen.items() if key not in conflicting]
        return [p for p, _ in kept], [label for _, label in kept]

    def _where(self) -> str:
        """The photos' source as the user gave it: the manifest's path, or the folder."""
        return str(self.path if self.source == "manifest" and self.path else self.root or self.path)

    def describe_cleaning(self) -> str:
        """The cleaning report in words, e.g. ``...; dropped 6 greyscale images; kept 40 (Female 21, Male 19)``."""
        r = self.report
        unit = "row" if self.source == "manifest" else "image"
        parts = [f"{self.source} {self._where()}: {_plural(r.get('rows', 0), unit)}"]
        if self.left_out:
            shown = ", ".join(f"{name}/ ({_plural(n, 'image')})" for name, n in self.left_out.items())
            parts[0] += (
                f" in the class folders; left out {shown}, not one of classes {self.class_names} "
                "(to train on it, add its name to --data.classes)"
            )
        if "uncoded" in r:
            uncoded = _plural(r["uncoded"], "row")
            parts.append(f"dropped {uncoded} with missing or uncoded gender (column {self.label_column!r})")
        if r.get("repeated"):
            parts.append(
                f"dropped {_plural(r['repeated'], unit)} listing a photo again (the same file, by another path or link)"
            )
        if r.get("conflicting"):
            shown = ", ".join(self.conflicting[:3]) + (", ..." if len(self.conflicting) > 3 else "")
            parts.append(f"dropped {_plural(r['conflicting'], 'photo')} listed with different classes ({shown})")
        if "subset" in r:
            parts.append(f"kept a random subset of {r['subset']} (max_images)")
        if r.get("unreadable"):
            shown = ", ".join(str(p) for p, _ in self.failed[:5]) + (", ..." if len(self.failed) > 5 else "")
            parts.append(f"dropped {_plural(r['unreadable'], 'unreadable image file')} ({shown})")
        if "greyscale" in r:
            parts.append(f"dropped {_plural(r['greyscale'], 'greyscale image')}")
        counts = ", ".join(f"{name} {n}" for name, n in getattr(self, "class_counts", {}).items())
        parts.append(f"kept {r.get('kept', 0)}" + (f" ({counts})" if counts else ""))
        return "; ".join(parts)

    def build(self) -> Splits:
        images, y, paths = self.load()
        n = len(y)
        n_train, n_val, n_test = split_sizes(n, self.test_share, self.val_size, self.val_name)
        if self._ranks()[0] == 0:
            print(
                f"gender: {n_train:,} train / {n_val:,} val / {n_test:,} test photos "
                f"(test_share={self.test_share:.4g}, val_size={self.val_size:g})",
                flush=True,
            )
        order = torch.randperm(n, generator=self.generator())
        parts = {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}
        if n_val == 0:  # no validation share: validate on the test photos
            parts["val"] = parts["test"]
        self.paths = {k: [paths[i] for i in idx.tolist()] for k, idx in parts.items()}
        absent = [name for k, name in enumerate(self.class_names) if not bool((y[parts["test"]] == k).any())]
        if absent and self._ranks()[0] == 0:  # a random split of few photos, or of one class's few
            print(
                f"gender: the test set holds no {' or '.join(absent)} photo, so its accuracy for "
                f"{'them' if len(absent) > 1 else 'it'} is not measured; add photos of "
                f"{'those classes' if len(absent) > 1 else 'that class'}, or raise --data.test_share "
                f"(now {self.test_share:g})",
                flush=True,
            )
        return {k: (images[idx], y[idx]) for k, idx in parts.items()}

    # --- batches, prediction ----------------------------------------------------------------
    def on_after_batch_transfer(self, batch: tuple[Tensor, ...], dataloader_idx: int) -> tuple[Tensor, ...]:
        x = batch[0].float().div_(255.0)
        if self.flip and self.trainer is not None and self.trainer.training:
            flipped = torch.rand(len(x), device=x.device) < 0.5
            x = torch.where(flipped[:, None, None, None], x.flip(-1), x)
        return (self.as_model_input(x), *batch[1:])

    def setup(self, stage: str | None = None) -> None:
        if stage == "predict" and self.predict_dir:
            self._load_predict_dir()  # new photos only: the training photos need not be present
            return
        super().setup(stage)

    def _load_predict_dir(self) -> tuple[Tensor, list[Path], list[tuple[Path, str]]]:
        """The readable photos in ``predict_dir`` (read once), their paths, and the files skipped."""
        if self.predict_images is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                paths = list_images(self._given(self.predict_dir, "predict_dir"))
                self.predict_images = read_images(paths, self.image_size, "RGB", "skip", self.workers)
            images, kept, failed = self.predict_images
            msg = f"predict: {_plural(len(kept), 'photo')} in {self.predict_dir}"
            if failed:
                msg += f"; skipped {_plural(len(failed), 'unreadable file')}: " + ", ".join(str(p) for p, _ in failed)
            grey = int(greyscale_mask(images).sum()) if self.drop_greyscale and len(kept) else 0
            if grey:  # labelled as asked, though training (drop_greyscale) showed the model no photo like them
                msg += (
                    f"; {grey} of them greyscale, a kind the model was not trained on (drop_greyscale): "
                    "their labels are less reliable"
                )
            print(msg, flush=True)
            if not kept:
                raise DataError(f"predict_dir {self.predict_dir} holds no readable .jpg/.jpeg/.png/.bmp images")
        return self.predict_images

    def example_input(self, n: int = 2) -> Tensor:
        if self.splits is None and self.predict_images is not None:
            return self.on_after_batch_transfer((self.predict_images[0][:n],), 0)[0]
        return super().example_input(n)

    def predict_dataloader(self) -> TensorBatches:
        if not self.predict_dir:
            return super().predict_dataloader()
        return TensorBatches((self._load_predict_dir()[0],), self.eval_batch_size)

    def prediction_frame(self, batches: list[Tensor]) -> pd.DataFrame:
        """path, P(class) per class, predicted class (and the true class on the test split)."""
        probs = torch.cat([b.detach().float().cpu().reshape(len(b), -1) for b in batches])
        if self.predict_dir:
            paths, truth = self._load_predict_dir()[1], None
        else:
            paths, truth = self.paths["test"], self.split("test")[1]
        frame = pd.DataFrame({"path": [str(p) for p in paths]})
        for k, name in enumerate(self.class_names):
            frame[f"p_{name.lower()}"] = probs[:, k].numpy()
        frame["predicted"] = [self.class_names[k] for k in probs.argmax(1).tolist()]
        if truth is not None:
            frame["label"] = [self.class_names[k] for k in truth.tolist()]
        return frame

    def score(self, pred: Tensor) -> dict[str, float]:
        """Test accuracy overall and per class of predicted probabilities (n, K)."""
        y = self.split("test")[1]
        hit = pred.reshape(len(y), -1).argmax(1) == y
        scores = {"test_acc": float(hit.float().mean())}
        for k, name in enumerate(self.class_names):
            scores[f"acc_{name}"] = float(hit[y == k].float().mean()) if (y == k).any() else float("nan")
        return scores
