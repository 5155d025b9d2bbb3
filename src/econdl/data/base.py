"""The shared DataModule: build tensors once, check them, cut batches from memory.

A task's DataModule subclasses ``InMemoryDataModule`` and implements ``build``,
which returns the train/val/test tensors.  Everything else (validation of the
tensors, DDP-aware batching, a predict split, the input size that lazy networks
read) lives here once.
"""

from __future__ import annotations

import errno
import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import lightning as L
import torch
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from econdl import interrupt
from econdl.data.loader import TensorBatches
from econdl.errors import CheckpointError, ConfigError, DataError
from econdl.rng import run_seed

if TYPE_CHECKING:  # pandas is imported where predictions are written, not when the package loads
    import pandas as pd

Splits = dict[str, tuple[Tensor, ...]]
SPLITS = ("train", "val", "test")


# a download that fails for one of these says so in diagnose's words (disk full, no permission)
_LOCAL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


@contextmanager
def downloading(what: str, folder: Path, files: str) -> Iterator[None]:
    """A download (torchvision's) that fails becomes one line naming the folder and the fix:
    torchvision prints each mirror's error and raises ``RuntimeError("Error downloading ...")``;
    urllib's errors are ``OSError``s."""
    try:
        yield
    except (RuntimeError, OSError) as err:
        if isinstance(err, OSError) and err.errno in _LOCAL_ERRNOS:
            raise
        reason = " ".join(str(err).split()) or type(err).__name__
        raise DataError(
            f"could not download {what} into {folder} ({reason}): check the internet connection (behind a "
            f"proxy, set HTTPS_PROXY), or put {files} in {folder} yourself and run again without "
            "--data.download"
        ) from err


def _rows(mask: Tensor, limit: int = 10) -> str:
    rows = torch.nonzero(mask).flatten().tolist()
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (f", ... ({len(rows)} rows in all)" if len(rows) > limit else "")


def check_finite(split: str, names: tuple[str, ...], tensors: tuple[Tensor, ...]) -> None:
    """Raise a ValueError naming the rows of ``split`` that hold NaN or infinite values."""
    # not strict: a split may hold inputs only (GDP's forecast origins have no targets yet)
    for name, t in zip(names, tensors, strict=False):
        if not t.is_floating_point():
            continue
        bad = ~torch.isfinite(t.reshape(len(t), -1)).all(dim=1)
        if bad.any():
            raise DataError(
                f"{split} {name} hold NaN or infinite values in rows {_rows(bad)}; "
                "drop or impute those rows before training"
            )


def resolve_count(
    name: str, value: float | int, n: int | None, what: str = "images", allow_all: bool = False, least: int = 1
) -> int:
    """A split size given as a fraction in (0, 1) of ``n`` or as a whole count, as a count
    in [1, n - 1] (``allow_all``: [1, n]); a ValueError naming ``name``, the value and the fix
    otherwise.  With ``n=None`` (the data not read yet) only the form is checked (returns 0).

    ``1.0`` is refused as ambiguous (all of the data, or one item?).  The values the
    message suggests are valid for ``n``, and at least ``least`` (the fewest a later split of
    them needs, e.g. a training subset that must leave one image for validation)."""
    top: int | None
    fraction: float | None
    example: int | None
    if n is None:  # the number of items is not known yet: no count to suggest
        top, example, fraction = None, None, 0.1
    else:
        top = n if allow_all else n - 1
        if top < 1:
            have = f"there are no {what}" if n == 0 else f"only {n:,} of the {what}, too few to hold one out"
            raise ConfigError(f"{name}={value!r} cannot be met: {have}; use at least {2 - allow_all} {what}")
        example = max(least, min(500, n // 10, top)) if least <= top else None
        fraction = next((f for f in (0.1, 0.2, 0.25, 0.5) if least <= round(f * n) <= top), None)
    count_hint = (
        f"a whole count of {what} such as {example}" if example else f"a whole count of {what}, fewer than there are"
    )
    hint = (
        f"pass a fraction in (0, 1) such as {fraction:g}, or {count_hint}"
        if fraction is not None
        else f"pass {count_hint}"
    )
    if allow_all and n is not None:
        hint = f"{hint}, or leave {name} out (all {n:,})" if example else f"leave {name} out (all {n:,} {what})"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError(f"{name}={value!r} is not a number; {hint}")
    if isinstance(value, float) and value == 1.0:
        total = f"all the {what}" if n is None else f"all {n:,} {what}"
        raise ConfigError(f"{name}=1.0 is ambiguous ({total}, or one?); {hint}")
    if 0 < value < 1:
        if n is None:
            return 0
        count = round(value * n)
        assert top is not None
        if not 1 <= count <= top:
            raise ConfigError(f"{name}={value:.10g} of {n:,} {what} rounds to {count}, outside 1..{top}; {hint}")
        return count
    if value <= 0 or value != int(value):
        raise ConfigError(f"{name}={value} must be a fraction in (0, 1) or a whole count >= 1; {hint}")
    if n is None:
        return 0
    assert top is not None
    if value > top:
        limit = f"at most the {n:,} {what} available" if allow_all else f"smaller than the {n:,} {what} available"
        raise ConfigError(f"{name}={int(value)} must be {limit}; {hint}")
    return int(value)


def fewest_to_split(val_size: float | int, most: int) -> int:
    """The fewest items (2 to ``most``) of which ``val_size`` holds out at least one and leaves
    at least one to train on; ``most + 1`` where no number up to ``most`` works."""
    if isinstance(val_size, bool) or not isinstance(val_size, (int, float)) or not val_size > 0:
        return most + 1  # no valid size: resolve_count says why
    if val_size >= 1:
        return int(val_size) + 1
    start = max(2, int(0.5 / val_size))  # below it the fraction rounds to no item
    for n in range(start, min(most, start + 10_000) + 1):
        if 1 <= round(val_size * n) <= n - 1:
            return n
    return most + 1


def other_separator(columns: list[str]) -> str | None:
    """The separator of a file that pandas read as one column (``;``, tab or ``|``), or None:
    econdl reads comma-separated files, and says so rather than that the columns are missing."""
    return next((sep for sep in (";", "\t", "|") if len(columns) == 1 and sep in str(columns[0])), None)


def classes_note(names: list[str], train: Tensor, test: Tensor) -> str | None:
    """For an image classifier of ``names``: a line when the training images do not hold every
    class (a digit set of some digits, a few photos), or None."""
    seen = set(torch.unique(train).tolist())
    if len(seen) == len(names):
        return None
    text = (
        f"the training images hold {len(seen)} of the {len(names)} classes "
        f"({', '.join(names[i] for i in sorted(seen))}); no model learns the other{'s' * (len(names) - len(seen) > 1)}"
    )
    unseen = sorted(set(torch.unique(test).tolist()) - seen)
    if unseen:
        text += f", and the test images of {', '.join(names[i] for i in unseen)} count as errors"
    return text


def _shared(keys: Tensor, among: Tensor) -> int:
    """How many of ``keys`` (sorted) are in ``among`` (sorted)."""
    if not len(keys) or not len(among):
        return 0
    at = torch.searchsorted(among, keys).clamp_max(len(among) - 1)
    return int((among[at] == keys).sum())


def examples_mismatch(dm: InMemoryDataModule, saved: dict[str, Tensor], stage: str) -> str | None:
    """Why ``dm``'s examples cannot serve a checkpoint whose fit learnt from ``saved`` (the
    fingerprints of its training, validation and test examples) at ``stage`` (fit: a resume,
    validate, test), or None.  A resume needs the very same training and validation examples;
    a test of a classifier also scores its training set (the Training Set row), so it needs
    the fit's; a validation or test set other than the fit's may not hold an example the fit
    trained on (the fit's own may: it said so, counting the copies in its data)."""
    unit = dm.example_noun
    fit_train, fit_val, fit_test = saved["train"], saved["val"], saved.get("test")  # no test: an older checkpoint
    train, val, test = dm.example_keys("train"), dm.example_keys("val"), dm.example_keys("test")
    settings = sorted({k for keys in type(dm).split_keys.values() for k in keys})
    fix = (
        "use the data of the fit (its run folder's config.yaml has the data settings: the files"
        + "".join(f", {k}" for k in settings)
        + ")"
    )

    def differs(now: Tensor, then: Tensor, what: str) -> str:
        common = _shared(now, then)
        return f"{len(now):,} {what} {unit} now, {len(then):,} in the fit, {common:,} of them the same"

    def learnt(keys: Tensor, what: str) -> str | None:  # a set other than the fit's holding examples it learnt from
        seen = _shared(keys, fit_train)
        if not seen:
            return None
        return (
            f"{seen:,} of this run's {len(keys):,} {what} {unit} are among the {len(fit_train):,} the checkpoint "
            f"learnt from, which would flatter its scores"
        )

    other_test = fit_test is not None and not torch.equal(test, fit_test)
    if stage == "fit":
        if not torch.equal(train, fit_train) or not torch.equal(val, fit_val):
            which = (
                differs(train, fit_train, "training")
                if not torch.equal(train, fit_train)
                else differs(val, fit_val, "validation")
            )
            return (
                f"the checkpoint's fit learnt from other {unit} than this run would resume on ({which}): the "
                f"data files or split changed since; {fix}, or start a new fit without --ckpt_path"
            )
        leak = learnt(test, "test") if other_test else None  # the fit ends with a test
        return f"{leak}; resume with test {unit} it never saw, or {fix}" if leak else None
    if stage == "test" and not torch.equal(train, fit_train):
        common = _shared(train, fit_train)
        row = (
            f"only {len(train):,} of the {len(fit_train):,} it learnt from"
            if common == len(train)
            else f"{len(train) - common:,} {unit} the model never saw"
        )
        leak = learnt(test, "test")
        return (
            f"this run's training {unit} are not those the checkpoint learnt from "
            f"({differs(train, fit_train, 'training')}): the test's Training Set row (train/acc) would score {row}"
            f"{'; ' + leak if leak else ''}; {fix}; to score other {unit}, `econdl predict` writes each one's "
            "predicted class"
        )
    if stage == "test" and other_test and (leak := learnt(test, "test")):
        return f"{leak}; test on {unit} it never saw, or {fix}"
    if stage == "validate" and not torch.equal(val, fit_val) and (leak := learnt(val, "validation")):
        return f"{leak}; {fix}"
    return None


class InMemoryDataModule(L.LightningDataModule):
    """Base class: subclasses implement ``build()`` and set ``task`` and ``names``.

    Args:
        batch_size: rows per training batch.
        eval_batch_size: rows per validation/test/predict batch (default: 4 x batch_size).
        split_seed: seed of the data's own random generator (sampling and splits),
            kept apart from the training seed so a model change never changes the data.
        drop_last: drop the last incomplete training batch of gradient-trained models;
            closed-form models always see every row.  A last batch of one row is dropped
            anyway when the network has BatchNorm (which fails on one row), with a note.
        data_on_device: keep the whole data set on the GPU when training there (no copy per
            batch). None (default): when it takes at most a quarter of the free GPU memory.
    """

    task: ClassVar[str] = "task"
    #: what a row of the splits is, in the line counting them at setup (None: the module
    #: prints its own line while it builds the splits)
    unit: ClassVar[str | None] = "rows"
    names: ClassVar[tuple[str, ...]] = ("inputs", "targets")
    #: the settings that decide which examples form the validation and the test set: a
    #: checkpoint validated or tested with other values would be scored on examples it may
    #: have been trained on, which ``econdl validate``/``test`` refuse.  A ``"train"`` entry
    #: names those that carve the training set, where a test also scores it (a classifier's
    #: Training Set row): ``econdl test`` refuses other values of those too
    split_keys: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: split keys whose larger values still carve sets apart from the fit's training examples
    split_grows: ClassVar[tuple[str, ...]] = ()
    #: old option names still accepted, to the option each stands for
    aliases: ClassVar[dict[str, str]] = {}
    #: keep a fingerprint of every training, validation and test example in checkpoints (data read
    #: from the user's files: digits, photos), so ``validate``, ``test`` and a resumed fit check
    #: the examples themselves rather than the settings that carved them
    fingerprints: ClassVar[bool] = False
    #: what an example is, in those checks' messages
    example_noun: ClassVar[str] = "examples"
    #: with ``fingerprints``: the settings that only say where and how the examples are read
    #: and split, which a resume may change when the examples stay the same (a moved folder)
    read_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        batch_size: int = 256,
        eval_batch_size: int | None = None,
        split_seed: int = 0,
        drop_last: bool = False,
        data_on_device: bool | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size} must be a positive integer")
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or 4 * batch_size
        self.split_seed = split_seed
        self.drop_last = drop_last
        self.data_on_device = data_on_device
        self.splits: Splits | None = None
        self._device_cache: dict[tuple[str, str], tuple[Tensor, ...]] = {}
        self._told_drop = False
        self._keys: dict[str, Tensor] = {}
        self._fit_examples: dict[str, Tensor] | None = None  # a checkpoint's fingerprints, before the data are read

    # --- to implement -----------------------------------------------------------------
    def build(self) -> Splits:
        """Return ``{"train": (x, y), "val": (x, y), "test": (x, y)}`` (more tensors allowed)."""
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------
    def generator(self) -> torch.Generator:
        """A fresh generator seeded with ``split_seed``: the data's own randomness."""
        return torch.Generator().manual_seed(self.split_seed)

    def setup(self, stage: str | None = None) -> None:
        if self.splits is None:
            self._read(stage)
        # a checkpoint's fingerprints, loaded before the data were read (perhaps first to size a model)
        if self._fit_examples is not None and stage in ("validate", "test"):
            self._refuse_other_examples(self._fit_examples, stage)

    def _read(self, stage: str | None) -> None:
        """Build and check the splits, and say what they hold."""
        splits = self.build()
        for split in SPLITS:
            if split not in splits:
                raise ValueError(f"{type(self).__name__}.build() returned no {split!r} split")
            if len(splits[split][0]) == 0:
                raise DataError(f"the {split} split of {type(self).__name__} is empty")
        for split, tensors in splits.items():
            check_finite(split, self.names, tensors)
        self.splits = splits
        copies = None
        if self.fingerprints:  # with reading the data (77 ms for 60,000 digits), not in a fit's first checkpoint
            for split in SPLITS:
                self.example_keys(split)
            copies = self.copies_note() if stage != "predict" and interrupt.driver() is None else None
        names: list[str] = getattr(self, "class_names", None) or []
        # which classes no model fitted here can learn: said where models are fitted on these
        # splits, not to a test or predict (whose checkpoint may have learnt from other data)
        fitted = bool(names) and stage in (None, "fit")
        classes = classes_note(names, splits["train"][1], splits["test"][1]) if fitted else None
        # compare and sweep fit several models on the same splits: they say the counts once
        counts = self.counts_note() if interrupt.driver() is None else None
        if self._ranks()[0] == 0:
            for note in filter(None, (counts, classes, copies)):
                sys.stdout.write(f"{self.label}: {note}\n")  # one write: lines of parallel workers stay whole
                sys.stdout.flush()

    @property
    def label(self) -> str:
        """The name that begins the data's lines on the console (the task, or the digit set)."""
        return str(getattr(self, "variant", self.task))

    def counts_note(self) -> str | None:
        """How many rows each split holds (printed once the splits are built), or None."""
        if self.unit is None or self.splits is None:
            return None
        return " / ".join(f"{len(self.splits[k][0]):,} {k}" for k in SPLITS) + f" {self.unit}"

    def split(self, name: str) -> tuple[Tensor, ...]:
        """The tensors of one split (building the data on first use)."""
        self.setup()
        assert self.splits is not None
        if name not in self.splits:
            raise ValueError(f"split={name!r} is not one of {sorted(self.splits)}")
        return self.splits[name]

    def test_targets(self) -> Tensor:
        """The test split's targets (a classifier's class indices), in the order of its rows."""
        return self.split("test")[1]

    # --- which examples a checkpoint learnt from ----------------------------------------------
    def example_keys(self, split: str) -> Tensor:
        """A 64-bit fingerprint of each example's inputs in ``split``, sorted (int64): equal
        images give equal keys, whatever file or position they come from."""
        if split not in self._keys:
            x = self.split(split)[0]
            rows = x.reshape(len(x), -1).contiguous().cpu().numpy()
            keys = [int.from_bytes(hashlib.blake2b(row, digest_size=8).digest(), "little", signed=True) for row in rows]
            self._keys[split] = torch.tensor(sorted(keys), dtype=torch.int64)
        return self._keys[split]

    def copies_note(self) -> str | None:
        """How many validation and test examples are copies of training ones (the same inputs:
        a file twice in a folder), which flatter the scores on them; None when none are (or the
        module keeps no fingerprints)."""
        if not self.fingerprints or self.splits is None:
            return None
        train = self.example_keys("train")
        shared = {split: _shared(self.example_keys(split), train) for split in ("val", "test")}
        if not any(shared.values()):
            return None
        said = " and ".join(
            f"{k:,} of the {len(self.example_keys(split)):,} {name} {self.example_noun}"
            for split, name in (("val", "validation"), ("test", "test"))
            if (k := shared[split])
        )
        return (
            f"{said} are copies of training {self.example_noun} (the same pixels), so the scores on them are "
            f"flattered; remove the copies from the data to score only {self.example_noun} the models never saw"
        )

    def state_dict(self) -> dict[str, Any]:
        """Saved in every checkpoint: with ``fingerprints``, those of the training, validation and
        test examples (8 bytes each)."""
        if not self.fingerprints:
            return {}
        if self.splits is None:  # a checkpoint's, until this module has read its data
            return {"examples": self._fit_examples} if self._fit_examples is not None else {}
        return {"examples": {split: self.example_keys(split) for split in SPLITS}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """A checkpoint restored to validate, test or resume: refuse examples that would score it
        on images it learnt from, or resume it on others (see ``examples_mismatch``)."""
        saved = state.get("examples")
        if saved is None:
            return
        if self.splits is None:  # load_from_checkpoint: checked when the data are read to validate or test
            self._fit_examples = saved
            return
        trainer = self.trainer
        if trainer is not None:
            fn = trainer.state.fn
            self._refuse_other_examples(saved, str(getattr(fn, "value", fn)))

    def _refuse_other_examples(self, saved: dict[str, Tensor], stage: str) -> None:
        problem = examples_mismatch(self, saved, stage)
        if problem:
            raise CheckpointError(f"{self.label}: {problem}")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.split("train")[0].shape[1:])

    @property
    def input_dim(self) -> int:
        return int(torch.tensor(self.input_shape).prod())

    def example_input(self, n: int = 2) -> Tensor:
        """A few training inputs, as the model sees them (after ``on_after_batch_transfer``)."""
        batch = tuple(t[:n] for t in self.split("train"))
        return self.on_after_batch_transfer(batch, 0)[0]

    def _ranks(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 0, 1
        return trainer.global_rank, trainer.world_size

    def as_model_input(self, x: Tensor) -> Tensor:
        """A batch's inputs made floating here (images kept as uint8 until they reach the
        device), in the dtype that the trainer's precision gives floating inputs: Lightning
        converts a batch before ``on_after_batch_transfer``, so under ``64-true`` the float32
        made afterwards met float64 weights."""
        trainer = getattr(self, "trainer", None)
        plugin = getattr(trainer, "precision_plugin", None)
        return plugin.convert_input(x) if plugin is not None else x

    def _exact_pass(self) -> bool:
        """Whether the model being fitted needs every training row exactly once per epoch
        (closed-form models set ``exact_pass = True``): no padding, no dropped rows."""
        model = self.trainer.lightning_module if self.trainer is not None else None
        return bool(getattr(model, "exact_pass", False))

    def _on_device(self, split: str) -> tuple[Tensor, ...]:
        """The split's tensors on the training device: moved there once and kept, when the
        device is an accelerator with room for them, so no batch is copied host-to-device."""
        tensors = self.split(split)
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        if device.type == "cpu" or self.data_on_device is False:
            return tensors
        if self.data_on_device is None and device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            if sum(t.numel() * t.element_size() for t in tensors) > free // 4:
                return tensors  # too large to keep resident: batches are copied as usual
        cached = self._device_cache.get((split, str(device)))
        if cached is None:
            cached = tuple(t.to(device, non_blocking=True) for t in tensors)
            self._device_cache[(split, str(device))] = cached
        return cached

    def _batchnorm(self) -> bool:
        """Whether the model being fitted normalises over the batch (BatchNorm layers), which
        fails on a training batch of one row."""
        model = self.trainer.lightning_module if self.trainer is not None else None
        return model is not None and any(isinstance(m, _BatchNorm) for m in model.modules())

    def _drop_last(self, batches: TensorBatches) -> bool:
        """Whether to drop the last incomplete training batch: when asked (``drop_last``), and
        when it would hold one row for a model with BatchNorm.  Refuses a setting that leaves
        no training batch at all, naming the sizes and the fix."""
        sampler, bs = batches.sampler, batches.batch_size
        rows = len(sampler)
        where = f" per process (of {sampler.n}, over {sampler.world_size})" if sampler.world_size > 1 else ""
        if bs == 1 and self._batchnorm():
            raise ConfigError(
                "batch_size=1 gives batches of one row, on which the network's BatchNorm layers cannot "
                "train; pass --data.batch_size 2 or more, or a net without BatchNorm"
            )
        if self.drop_last:
            if rows < bs:
                raise ConfigError(
                    f"drop_last=true with batch_size={bs} drops all {rows} training rows{where}; "
                    f"pass --data.batch_size {rows} or smaller, or --data.drop_last false"
                )
            return True
        if rows % bs == 1 and self._batchnorm():
            if rows == 1:
                raise ConfigError(
                    f"the training split has 1 row{where}, and the network's BatchNorm layers cannot "
                    "train on one row; use more data (e.g. a larger x_size or train_size)"
                )
            if not self._told_drop and (self.trainer is None or self.trainer.is_global_zero):
                self._told_drop = True
                print(
                    f"{rows} training rows{where} in batches of {bs} leave a last batch of 1 row, "
                    "which BatchNorm cannot train on: it is dropped each epoch (a different row each "
                    "time, as the order is shuffled)",
                    flush=True,
                )
            return True
        return False

    def loader(self, split: str, train: bool = False) -> TensorBatches:
        """Batches of ``split``: shuffled and padded across ranks when ``train``."""
        rank, world = self._ranks()
        exact = train and self._exact_pass()
        # --trainer.overfit_batches trains on the same few batches every epoch (Lightning says it
        # turns shuffling off, which it can do only for a torch DataLoader)
        overfit = bool(getattr(self.trainer, "overfit_batches", 0))
        batches = TensorBatches(
            self._on_device(split),
            self.batch_size if train else self.eval_batch_size,
            shuffle=train and not exact and not overfit,
            seed=run_seed() % 2**31,  # equal on every process, even after seed_rank
            rank=rank,
            world_size=world,
            pad=train and not exact,
        )
        batches.drop_last = train and not exact and self._drop_last(batches)
        return batches

    def train_dataloader(self) -> TensorBatches:
        return self.loader("train", train=True)

    def val_dataloader(self) -> TensorBatches:
        return self.loader("val")

    def test_dataloader(self) -> TensorBatches:
        return self.loader("test")

    def predict_dataloader(self) -> TensorBatches:
        return self.loader("test")

    def prediction_frame(self, batches: list[Tensor]) -> pd.DataFrame:
        """The predict split's inputs (when few) beside the model's predictions, for predictions.csv."""
        import pandas as pd

        from econdl.data.frames import default_frame

        frame = default_frame(batches)
        x = self.split("test")[0]
        if x.dim() == 2 and x.shape[1] <= 10 and len(x) == len(frame):
            inputs = pd.DataFrame(x.numpy(), columns=[f"x_{j}" for j in range(x.shape[1])])
            frame = pd.concat([inputs, frame], axis=1)
        return frame

    def plot_predictions(self, predictions: dict[str, Tensor], path: Path) -> Path | None:
        """Draw every model's test predictions into ``path``; None when the task has no plot."""
        return None


class RegressionDataModule(InMemoryDataModule):
    """A DataModule whose targets are real numbers.

    Targets may be stored standardised (``(y - target_loc) / target_scale``, the
    statistics fitted on the training split); models train on that scale and report
    in the original units.  ``score`` gives the comparison table's columns for one
    model's test predictions (in original units).
    """

    target_loc: float = 0.0
    target_scale: float = 1.0

    def unscale(self, y: Tensor) -> Tensor:
        return y * self.target_scale + self.target_loc

    def test_targets(self) -> Tensor:
        """Test targets in original units, shape (n, outputs)."""
        return self.unscale(self.split("test")[1])

    def score(self, pred: Tensor) -> dict[str, float]:
        """Test-set errors of ``pred`` (original units): MSE, RMSE, MAE, max |error|."""
        y = self.test_targets()
        err = (pred.reshape(y.shape).double() - y.double()).abs()
        mse = float((err**2).mean())
        return {
            "test_mse": mse,
            "test_rmse": mse**0.5,
            "test_mae": float(err.mean()),
            "test_max_abs_err": float(err.max()),
        }
