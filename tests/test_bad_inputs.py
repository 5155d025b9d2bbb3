"""Every mistake a user can make gets one line that names it: a table of bad inputs run through
the real ``econdl`` command.

Each case gives the arguments, the files it makes and the words its ``econdl: error:`` line must
hold.  Every case asserts a non-zero exit, no traceback, one error line naming the bad value, and
that an earlier run (checkpoints, logs, config) is left byte for byte as it was.  The commands run
concurrently once per session (they are mostly interpreter start-up), then each test reads its result.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

import pytest
import yaml

import forked
from helpers import CONFIGS, REPO, run_econdl

KINK_TINY = [
    "--data.x_size=64",
    "--data.val_size=16",
    "--data.test_size=16",
    "--trainer.max_epochs=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]


def idx(shape: list[int]) -> bytes:
    """An IDX file of unsigned bytes (zeros) of ``shape``."""
    dims = b"".join(d.to_bytes(4, "big") for d in shape)
    n = 1
    for d in shape:
        n *= d
    return bytes([0, 0, 8, len(shape)]) + dims + bytes(n)


def truncated_checkpoint() -> bytes:
    """The first half of a checkpoint file: its archive index points past the end."""
    import torch

    buffer = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(20_000)}, "epoch": 3}, buffer)
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


def csv(rows: list[str]) -> str:
    return "\n".join(rows) + "\n"


QUARTERS = [f"{y}-{m:02d}-01" for y in range(2000, 2010) for m in (1, 4, 7, 10)]


def png_bytes() -> bytes:
    """A 2 x 2 colour photo as PNG file bytes."""
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = png_bytes()
GOOD_CSV = csv(["DATE,GDPC1", *[f"{d},{100 + i}" for i, d in enumerate(QUARTERS)]])
SWEEP = yaml.safe_load((CONFIGS / "sweeps/kink_mlp.yaml").read_text())


def sweep_with(**changes: object) -> str:
    spec = {**SWEEP, "base_config": str(CONFIGS / "kink/mlp.yaml"), **changes}
    return yaml.safe_dump(spec)


@dataclass
class Case:
    """One bad input: ``args`` ({dir}: the case's folder, {ckpt}: the earlier run's checkpoint),
    the files it makes in {dir}, and the words the error line must contain."""

    id: str
    args: list[str]
    words: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)


G, K = str(CONFIGS / "gdp/mlp.yaml"), str(CONFIGS / "kink/mlp.yaml")
GAR, M, GEN, LIN = (
    str(CONFIGS / "gdp/ar.yaml"),
    str(CONFIGS / "mnist/mlp.yaml"),
    str(CONFIGS / "gender/mlp.yaml"),
    str(CONFIGS / "linear/sgd.yaml"),
)
GCSV = ["fit", "--config", GAR, "--data.source", "csv", "--data.path"]
MNIST_OK = {
    "train-labels-idx1-ubyte": idx([20]),
    "t10k-images-idx3-ubyte": idx([10, 28, 28]),
    "t10k-labels-idx1-ubyte": idx([10]),
}

CASES = [
    # a shipped config asked for outside the repository
    Case(
        "config-outside-the-repository",
        ["fit", "--config", "configs/kink/mlp.yaml"],
        ["configs/kink/mlp.yaml does not exist", "configs/ folder of its repository"],
    ),
    Case(
        "compare-with-a-time-limit",  # it tabled fits that the limit cut short as finished
        ["compare", str(CONFIGS / "kink"), "--trainer.max_time", "00:00:00:02"],
        ["--trainer.max_time 00:00:00:02", "--trainer.max_epochs"],
    ),
    # options and config values
    Case("gdp-negative-lags", ["fit", "--config", G, "--data.lags", "-1"], ["lags=-1"]),
    # a callback appended without its required argument: named with the option that gives it (the
    # message dumped every default callback's settings, kilobytes of them)
    Case(
        "callback-without-its-monitor",
        ["fit", "--config", K, "--trainer.callbacks+=econdl.callbacks.EarlyStopping", "--trainer.callbacks.patience=2"],
        [
            "--trainer.callbacks (econdl.callbacks.EarlyStopping): the following arguments are required: monitor; "
            "give each after it, e.g. --trainer.callbacks.monitor val/loss"
        ],
    ),
    # one value where a list is taken: the bracketed form is the fix
    Case(
        "gdp-one-level-without-brackets",
        ["fit", "--config", G, "--data.interval_levels", "95"],
        ["--data.interval_levels takes a list: write it in brackets, e.g. --data.interval_levels [95]"],
    ),
    Case(
        "gdp-one-exog-without-brackets",
        ["fit", "--config", G, "--data.exog", "unemp"],
        ["--data.exog takes a list: write it in brackets, e.g. --data.exog [unemp]"],
    ),
    Case("kink-zero-batch", ["fit", "--config", K, "--data.batch_size", "0"], ["batch_size=0"]),
    Case("kink-negative-size", ["fit", "--config", K, "--data.x_size", "-5"], ["x_size=-5"]),
    Case("kink-negative-noise", ["fit", "--config", K, "--data.noise", "-1"], ["noise=-1"]),
    Case(
        "kink-lr-beyond-float32",
        ["fit", "--config", K, *KINK_TINY, "--optimizer.init_args.lr", "1e300"],
        ["--optimizer.lr 1e+300", "float32"],
    ),
    Case(
        "optimizer-negative-lr",
        ["fit", "--config", K, *KINK_TINY, "--optimizer.lr", "-0.1"],
        ["--optimizer.lr", "-0.1"],
    ),
    Case(
        "optimizer-negative-weight-decay",
        ["fit", "--config", K, *KINK_TINY, "--optimizer.weight_decay", "-1"],
        ["--optimizer.weight_decay", "-1"],
    ),
    Case(
        "scheduler-factor-above-1",
        ["fit", "--config", K, *KINK_TINY, "--lr_scheduler.factor", "2"],
        ["--lr_scheduler.factor", "1.0"],
    ),
    Case(
        "float16-on-the-cpu",  # Lightning ran bf16-mixed instead, and the saved config said 16-mixed
        ["fit", "--config", K, *KINK_TINY, "--trainer.accelerator", "cpu", "--trainer.precision", "16-mixed"],
        ["16-mixed", "bf16-mixed"],
    ),
    Case(
        "float16-weights-on-the-cpu",  # NaN at every learning rate, and the guard advised a lower one
        ["fit", "--config", K, *KINK_TINY, "--trainer.accelerator", "cpu", "--trainer.precision", "16-true"],
        ["--trainer.precision 16-true", "bf16-mixed"],
    ),
    Case(
        "ddp-spawn",  # its processes gave back the weights only: metrics.csv lost its rows
        ["fit", "--config", K, *KINK_TINY, "--trainer.strategy", "ddp_spawn", "--trainer.devices", "2"],
        ["--trainer.strategy ddp_spawn", "--trainer.strategy ddp with --trainer.devices N"],
    ),
    Case(
        "logger-version-of-an-earlier-run",
        ["fit", "--config", K, *KINK_TINY, "--trainer.logger.init_args.version", "0"],
        ["logger version 0", "holds a run already", "--ckpt_path"],
    ),
    Case(
        "kink-drop-last-leaves-no-batch",
        ["fit", "--config", K, "--data.x_size", "50", "--data.drop_last", "true"],
        ["drop_last=true", "batch_size=256", "--data.batch_size"],
    ),
    Case("kink-bad-sampling", ["fit", "--config", K, "--data.sampling", "diagonal"], ["diagonal"]),
    Case("gdp-val-fraction-too-big", ["fit", "--config", G, "--data.val_size", "1.5"], ["val_size=1.5"]),
    Case("gdp-horizon-longer-than-data", ["fit", "--config", GAR, "--data.horizon", "300"], ["horizon=300"]),
    Case("gdp-test-size-rounds-to-zero", ["fit", "--config", G, "--data.test_size", "0.001"], ["test_size=0.001"]),
    Case("gdp-test-size-one-point-zero", ["fit", "--config", G, "--data.test_size", "1.0"], ["test_size=1.0"]),
    Case(
        "gdp-val-start-after-test-start",
        ["fit", "--config", GAR, "--data.val_start", "2000Q1", "--data.test_start", "1999Q1"],
        ["val_start=2000Q1", "test period's start, 1999Q1"],
    ),
    Case(
        "gdp-test-start-before-the-data", ["fit", "--config", GAR, "--data.test_start", "1950Q1"], ["test_start=1950Q1"]
    ),
    Case(
        "kink-batchnorm-batch-of-one",
        ["fit", "--config", K, "--data.batch_size", "1"],
        ["batch_size=1", "BatchNorm", "--data.batch_size 2"],
    ),
    Case("fit-ckpt-path-best", ["fit", "--config", K, "--ckpt_path", "best"], ["--ckpt_path best", "--ckpt_path last"]),
    Case("gdp-lags-longer-than-data", ["fit", "--config", GAR, "--data.lags", "500"], ["lags=500"]),
    Case("gdp-test-start-not-a-date", ["fit", "--config", G, "--data.test_start", "notadate"], ["notadate"]),
    Case("mnist-unknown-variant", ["fit", "--config", M, "--data.variant", "kmnist"], ["kmnist"]),
    Case("linear-bad-proportions", ["fit", "--config", LIN, "--data.proportions", "[0.5,0.5,0.5]"], ["proportions"]),
    Case("linear-negative-sigma", ["test", "--config", LIN, "--data.sigma", "-1"], ["sigma=-1"]),
    Case(  # the message named no size that holds: 8 is the least for these shares, 5 to 7 leave no test row
        "linear-too-few-rows",
        ["fit", "--config", LIN, "--data.n", "7"],
        ["n=7 is too small for proportions=[0.8, 0.1, 0.1]", "--data.n 8 or more"],
    ),
    Case(  # shares too small for any n under a million: the search for the least ended in a traceback
        "linear-shares-no-size-holds",
        ["fit", "--config", LIN, "--data.n", "100", "--data.proportions", "[0.99999998,0.00000001,0.00000001]"],
        ["n=100 is too small", "give larger shares to the small splits"],
    ),
    Case("gender-one-class", ["fit", "--config", GEN, "--data.classes", "[Male]"], ["classes"]),
    Case("run-name-outside-the-save-dir", ["fit", "--config", K, "--run_name", "../elsewhere"], ["../elsewhere"]),
    Case(
        "kink-second-checkpoint-on-the-same-metric",
        [
            "fit",
            "--config",
            K,
            *KINK_TINY,
            "--trainer.callbacks+=ModelCheckpoint",
            "--trainer.callbacks.monitor=val/loss",
        ],
        ["two ModelCheckpoint callbacks", "val/loss", "--trainer.callbacks.monitor"],
    ),
    Case(
        "unknown-model-class", ["fit", "--config", K, "--model.class_path", "econdl.tasks.Nope"], ["econdl.tasks.Nope"]
    ),
    Case("unknown-option", ["fit", "--config", K, "--trainer.max_epochz", "3"], ["max_epochz"]),
    Case("not-a-number", ["fit", "--config", K, "--trainer.max_epochs", "many"], ["max_epochs", "many"]),
    Case("missing-config-file", ["fit", "--config", "{dir}/nope.yaml"], ["nope.yaml"]),
    Case(
        "config-is-a-folder",
        ["fit", "--config", str(CONFIGS / "kink")],
        [f"--config {CONFIGS / 'kink'} is a folder", f"--config {CONFIGS / 'kink/chebyshev.yaml'}", "econdl compare"],
    ),
    Case(
        "config-names-missing-class",
        ["fit", "--config", "{dir}/bad.yaml"],
        ["econdl.nets.Nope"],
        {"bad.yaml": (Path(K).read_text().replace("econdl.nets.MLP", "econdl.nets.Nope"))},
    ),
    Case("unknown-command", ["frobnicate"], ["frobnicate"]),
    # checkpoints
    Case(
        "ckpt-not-a-checkpoint",
        ["test", "--config", G, "--ckpt_path", "{dir}/junk.ckpt"],
        ["junk.ckpt", "not an econdl/Lightning checkpoint"],
        {"junk.ckpt": "hello, I am text"},
    ),
    Case(
        "ckpt-of-kink-into-gdp",
        ["test", "--config", G, "--ckpt_path", "{ckpt}"],
        ["KinkDataModule", "GDPDataModule", "widths [100, 50]"],
    ),
    Case(
        "ckpt-truncated",
        ["test", "--config", K, "--ckpt_path", "{dir}/cut.ckpt"],
        ["cut.ckpt", "truncated or damaged"],
        {"cut.ckpt": truncated_checkpoint()},
    ),
    Case(
        "ckpt-missing",
        ["predict", "--config", K, "--ckpt_path", "{dir}/nope.ckpt"],
        ["nope.ckpt", "does not exist", "unless --trainer.default_root_dir", "or last or best"],
    ),
    Case("test-without-checkpoint", ["test", "--config", K], ["econdl test needs a fitted model", "--ckpt_path"]),
    Case("predict-closed-form-without-checkpoint", ["predict", "--config", GAR], ["predict needs a fitted model"]),
    Case(
        "ckpt-best-of-no-run",
        ["validate", "--config", str(CONFIGS / "kink/polynomial.yaml"), "--ckpt_path", "best"],
        ["--ckpt_path best", "kink/polynomial"],
    ),
    Case("ckpt-last-of-no-run", ["fit", "--config", G, "--ckpt_path", "last"], ["--ckpt_path last", "gdp/mlp"]),
    Case(
        "predict-on-two-processes",  # wrote only the first process's half of the rows
        [
            "predict",
            "--config",
            K,
            "--ckpt_path",
            "{ckpt}",
            *("--trainer.accelerator=cpu", "--trainer.devices=2"),
            "--trainer.strategy=ddp",
        ],
        ["econdl predict on 2 processes", "strategy ddp", "--trainer.devices 1"],
    ),
    Case(
        "ckpt-other-widths",
        ["test", "--config", K, "--ckpt_path", "{ckpt}", "--model.net.init_args.widths", "[8]"],
        ["widths [100, 50]", "widths [8]"],
    ),
    # CSV files (GDP)
    Case(  # a file where the runs' folder should be: named as such, with the fix
        "runs-folder-is-a-file",
        ["fit", "--config", K, *KINK_TINY, "--trainer.default_root_dir", "{dir}/runs"],
        ["runs is a file, where a folder is needed", "move the file, or write the runs to another folder"],
        {"runs": "not a folder"},
    ),
    Case("csv-missing", [*GCSV, "{dir}/GDPC1.csv"], ["GDPC1.csv"]),
    Case("csv-empty", [*GCSV, "{dir}/empty.csv"], ["empty.csv"], {"empty.csv": ""}),
    Case(
        "csv-header-only-with-frequency",  # the frequency given, the empty series reached a traceback
        [*GCSV, "{dir}/header.csv", "--data.frequency", "Q"],
        ["header.csv has 0 rows with a date and a value"],
        {"header.csv": "observation_date,GDPC1\n"},
    ),
    Case(
        "gdp-path-without-source-csv",  # read the bundled data instead, without a word
        ["fit", "--config", GAR, "--data.path", "{dir}/GDPC1.csv"],
        ["GDPC1.csv", "--data.source csv"],
    ),
    Case("csv-one-column", [*GCSV, "{dir}/one.csv"], ["one.csv"], {"one.csv": csv(["DATE", *QUARTERS])}),
    Case(
        "csv-semicolons",
        [*GCSV, "{dir}/semi.csv"],
        ["semi.csv", "separates its columns with ';'", "commas"],
        {"semi.csv": GOOD_CSV.replace(",", ";")},
    ),
    Case(
        "csv-unsorted-dates",
        [*GCSV, "{dir}/unsorted.csv"],
        ["not sorted"],
        {"unsorted.csv": csv(["DATE,GDPC1", *[f"{d},{100 + i}" for i, d in enumerate(QUARTERS[::-1])]])},
    ),
    Case(
        "csv-duplicated-dates",
        [*GCSV, "{dir}/dup.csv"],
        ["duplicated dates", "2001-01-01"],
        {"dup.csv": csv(["DATE,GDPC1", *[f"{d},{100 + i}" for i, d in enumerate(QUARTERS[:5] + QUARTERS[4:])]])},
    ),
    Case(
        "csv-missing-periods",
        [*GCSV, "{dir}/gap.csv"],
        ["no row for 2001Q1, 2001Q2"],
        {"gap.csv": csv(["DATE,GDPC1", *[f"{d},{100 + i}" for i, d in enumerate(QUARTERS[:4] + QUARTERS[6:])]])},
    ),
    Case("csv-unknown-column", [*GCSV, "{dir}/g.csv", "--data.value_column", "GDPX"], ["GDPX"], {"g.csv": GOOD_CSV}),
    Case(
        "csv-text-values",
        [*GCSV, "{dir}/text.csv"],
        ["text.csv", "non-numeric"],
        {"text.csv": GOOD_CSV.replace(",103\n", ",abc\n")},
    ),
    Case(
        "csv-value-columns-and-text",
        [*GCSV, "{dir}/t.csv"],
        ["t.csv has value columns ['GDPC1', 'UNRATE'] (and note, not numbers)", "--data.value_column"],
        {"t.csv": csv(["DATE,GDPC1,UNRATE,note", *[f"{d},{100 + i},5.0,rev" for i, d in enumerate(QUARTERS)]])},
    ),
    Case(
        "csv-thousands-separators",
        [*GCSV, "{dir}/t.csv"],
        ["t.csv", "as a thousands separator", "'2,100.5' on line 2", "(2100.5)"],
        {"t.csv": csv(["DATE,GDPC1", *[f'{d},"2,{100 + i}.5"' for i, d in enumerate(QUARTERS)]])},
    ),
    Case(  # a European export: the comma is the decimal mark, not thousands (the fix is not 271)
        "csv-decimal-commas",
        [*GCSV, "{dir}/t.csv"],
        ["t.csv", "'27,1' on line 3), a decimal comma", "with a decimal point (27.1)"],
        {
            "t.csv": csv(
                ["DATE,GDPC1", *[f'{d},"27,{(i % 8 + 1) * 111 if i % 2 == 0 else 1}"' for i, d in enumerate(QUARTERS)]]
            )
        },
    ),
    Case(  # three digits after one comma: either reading, so the message gives both files
        "csv-comma-either-way",
        [*GCSV, "{dir}/t.csv"],
        ["'27,103' on line 2", "27103 if the comma separates thousands, 27.103 if it is the decimal mark"],
        {"t.csv": csv(["DATE,GDPC1", *[f'{d},"27,{103 + i}"' for i, d in enumerate(QUARTERS)]])},
    ),
    Case(
        "csv-value-column-of-text",
        [*GCSV, "{dir}/t.csv"],
        ["t.csv", "column 'note' holds no number", "'rev' on line 2", "--data.value_column"],
        {"t.csv": csv(["DATE,note", *[f"{d},rev" for d in QUARTERS]])},
    ),
    Case(
        "csv-colon-quarters",
        [*GCSV, "{dir}/t.csv"],
        ["t.csv", "not dates on lines 2, 3", "(e.g. '2000:Q1')", "YYYY-MM-DD"],
        {"t.csv": csv(["DATE,GDPC1", *[f"{2000 + i // 4}:Q{i % 4 + 1},{100 + i}" for i in range(40)]])},
    ),
    # IDX files (MNIST)
    Case(
        "idx-count-mismatch",
        ["fit", "--config", M, "--data.data_dir", "{dir}"],
        ["do not match"],
        {"train-images-idx3-ubyte": idx([21, 28, 28]), **MNIST_OK},
    ),
    Case(
        "idx-truncated-gzip",
        ["fit", "--config", M, "--data.data_dir", "{dir}"],
        ["train-images-idx3-ubyte.gz"],
        {"train-images-idx3-ubyte.gz": gzip.compress(idx([20, 28, 28]))[:20], **MNIST_OK},
    ),
    Case("mnist-missing-folder", ["fit", "--config", M, "--data.data_dir", "{dir}/none"], ["none"]),
    Case(
        "mnist-predict-no-images",
        ["predict", "--config", M, "--data.data_dir", "{dir}", "--data.predict_dir", "{dir}/photos"],
        ["photos"],
        {"train-images-idx3-ubyte": idx([20, 28, 28]), **MNIST_OK, "photos/notes.txt": "no images here"},
    ),
    # photos (gender)
    Case("gender-missing-root", ["fit", "--config", GEN, "--data.root", "{dir}/nowhere"], ["nowhere"]),
    Case(
        "gender-manifest-absent-photos",
        ["fit", "--config", GEN, "--data.source", "manifest", "--data.path", "{dir}/photos.csv"],
        ["/no/such/dir/0.jpg"],
        {
            "photos.csv": csv(
                ["path,gender", *[f"/no/such/dir/{i}.jpg,{'Male' if i % 2 else 'Female'}" for i in range(8)]]
            )
        },
    ),
    Case(
        "gender-manifest-semicolons",
        ["fit", "--config", GEN, "--data.source", "manifest", "--data.path", "{dir}/photos.csv"],
        ["photos.csv separates its columns with ';'", "path,gender"],
        {"photos.csv": csv(["path;gender", *[f"{i}.jpg;{'Male' if i % 2 else 'Female'}" for i in range(8)]])},
    ),
    Case(
        "gender-class-folder-missing",
        ["fit", "--config", GEN, "--data.root", "{dir}/photos"],
        ["photos/Male does not exist", "(found ['Female'])"],
        {"photos/Female/0.png": PNG, "photos/.cache/0.png": PNG},
    ),
    # compare and sweep
    Case("compare-zero-seeds", ["compare", str(CONFIGS / "kink"), "--seeds", "0"], ["seeds"]),
    Case(
        "compare-data-relative-to-no-such-model",  # the ratio columns vanished without a word
        [
            "compare",
            str(CONFIGS / "gdp" / "ar.yaml"),
            str(CONFIGS / "gdp" / "mean.yaml"),
            "--workers",
            "1",
            "--data.relative_to",
            "foo",
        ],
        ["relative_to foo", "no such model"],
    ),
    Case("compare-missing-folder", ["compare", "{dir}/nothere"], ["nothere"]),
    Case(
        "compare-trial-run",  # the fits crashed on a one-batch prediction, after writing ./predictions.csv
        ["compare", str(CONFIGS / "kink"), "--trainer.fast_dev_run", "true"],
        ["--trainer.fast_dev_run true", "econdl fit"],
    ),
    Case(
        "compare-relative-to-no-such-model",  # refused only after every fit had run
        ["compare", str(CONFIGS / "gdp"), "--relative_to", "arr"],
        ["--relative_to arr", "no such model", "'ar'"],
    ),
    Case(
        "best-by-a-metric-the-model-does-not-log",
        ["fit", "--config", K, *KINK_TINY, "--best_by", "val/acc"],
        ["val/acc", "does not log", "--best_by val/loss"],
    ),
    Case(
        "plateau-schedule-with-validation-across-epochs",  # Lightning failed after the first epoch
        [
            *("fit", "--config", K, *KINK_TINY, "--data.batch_size=16"),  # 4 batches an epoch: 6 ends none of them
            *("--trainer.val_check_interval=6", "--trainer.check_val_every_n_epoch=null"),
        ],
        ["check_val_every_n_epoch null validates every 6 training batches", "ReduceLROnPlateau", "--lr_scheduler null"],
    ),
    Case(
        "plateau-schedule-without-validation",  # Lightning's "conditioned on metric val/loss which is not available"
        ["fit", "--config", K, *KINK_TINY, "--trainer.limit_val_batches=0"],
        ["--trainer.limit_val_batches 0 runs no validation", "val/loss", "--lr_scheduler.monitor train/loss"],
    ),
    Case(
        "sweep-unknown-key",
        ["sweep", "--config", "{dir}/sweep.yaml"],
        ["optimizer.init_args.lrr"],
        {"sweep.yaml": sweep_with(search_space={"optimizer.init_args.lrr": {"type": "float", "low": 0.1, "high": 1}})},
    ),
    Case("sweep-missing-config", ["sweep", "--config", "{dir}/no_sweep.yaml"], ["no_sweep.yaml"]),
    # these were tracebacks reported as econdl bugs, or a run that exited 0 having trained nothing
    Case("seed-negative", ["fit", "--config", K, "--seed_everything", "-1"], ["--seed_everything -1", "4,294,967,295"]),
    Case("seed-not-a-number", ["fit", "--config", K, "--seed_everything", "abc"], ["'abc': a seed is a whole number"]),
    Case("seed-beyond-32-bits", ["fit", "--config", K, "--seed_everything", "4294967296"], ["4294967296", "from 0"]),
    Case(  # argparse took a typo that begins a real option for it, and fitted 2 epochs without a word
        "trainer-option-abbreviated",
        ["fit", "--config", K, "--trainer.max_epoch", "2"],
        ["unrecognized arguments: --trainer.max_epoch 2", "did you mean --trainer.max_epochs?"],
    ),
    Case("ckpt-path-empty", ["fit", "--config", K, "--ckpt_path", ""], ["--ckpt_path '' is empty", "last"]),
    Case(
        "kink-val-size-beyond-memory",
        ["fit", "--config", K, "--data.val_size", "99999999999999999999999"],
        ["val_size=99,999,999,999,999,999,999,999", "GiB", "--data.val_size"],
    ),
    Case("max-epochs-zero", ["fit", "--config", K, "--trainer.max_epochs", "0"], ["max_epochs 0 trains nothing"]),
    Case(
        "max-epochs-zero-closed-form",  # it tested a polynomial with all-zero coefficients
        ["fit", "--config", str(CONFIGS / "kink/polynomial.yaml"), "--trainer.max_epochs", "0"],
        ["max_epochs 0 trains nothing"],
    ),
    Case(
        "csv-levels-beyond-float32",
        ["fit", "--config", G, "--data.source", "csv", "--data.path", "{dir}/huge.csv", "--data.transform", "levels"],
        ["targets' mean", "float32", "--data.transform log_diff"],
        {"huge.csv": csv(["DATE,GDPC1", *[f"{d},{1e308 if i == 5 else 100 + i}" for i, d in enumerate(QUARTERS)]])},
    ),
    Case(
        "gdp-val-size-form-suggests-no-count-beyond-the-data",  # it suggested 500 of 198 samples
        ["fit", "--config", G, "--data.val_size", "2.5"],
        ["val_size=2.5", "fewer than there are"],
    ),
    Case(
        "mnist-train-size-too-small-for-the-val-share",  # it named only val_size, which the user never set
        ["fit", "--config", M, "--data.data_dir", "{dir}", "--data.train_size", "2"],
        ["val_size=0.08333333333 of 2", "train_size=2 keeps", "a larger train_size"],
        {**MNIST_OK, "train-images-idx3-ubyte": idx([20, 28, 28])},
    ),
    Case(
        "gender-val-share-is-named-as-given",  # it was reported as val_size=1.0
        ["fit", "--config", GEN, "--data.root", "{dir}", "--data.val_share", "1.0"],
        ["val_share=1.0 is ambiguous"],
    ),
]


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return forked.run(args, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Run every case once (3 at a time) in a folder holding an earlier kink run."""
    work = tmp_path_factory.mktemp("bad_inputs")
    path = os.pathsep.join(filter(None, [str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]))
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": path}
    env.pop("ECONDL_DEBUG", None)
    env.pop("ECONDL_RUN_VERSION", None)
    earlier = run(["fit", "--config", K, *KINK_TINY], work, env)
    assert earlier.returncode == 0, earlier.stderr[-3000:]
    ckpt = next((work / "logs/kink/mlp").rglob("last.ckpt"))
    before = digest(work / "logs")
    jobs = {}
    for case in CASES:
        folder = work / "cases" / case.id
        folder.mkdir(parents=True)
        for name, content in case.files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
        jobs[case.id] = [a.replace("{dir}", str(folder)).replace("{ckpt}", str(ckpt)) for a in case.args]
    bug = [
        sys.executable,
        "-c",
        (
            "import sys, torch\n"
            "def broken(*a, **k): raise RuntimeError('injected bug in backward')\n"
            "torch.Tensor.backward = broken\n"
            "from econdl.main import main\n"
            f"sys.argv = ['econdl', 'fit', '--config', {K!r}, *{KINK_TINY!r}]\n"
            "main()\n"
        ),
    ]
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {key: pool.submit(run, args, work, env) for key, args in jobs.items()}
        futures["bug"] = pool.submit(
            lambda: subprocess.run(bug, cwd=work, env=env, capture_output=True, text=True, timeout=300)
        )
        done = {key: f.result() for key, f in futures.items()}
    done["unchanged"] = (before, digest(work / "logs"))
    return done


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_one_line_naming_it(case: Case, results: dict) -> None:
    result = results[case.id]
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert "Traceback" not in output, output[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("econdl: error: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    for word in case.words:
        assert word in lines[0], lines[0]


def test_no_earlier_file_changed(results: dict) -> None:
    before, after = results["unchanged"]
    assert before and {k: after.get(k) for k in before} == before


def test_a_bug_shows_its_traceback_and_asks_for_a_report(results: dict) -> None:
    result = results["bug"]
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "injected bug in backward" in result.stderr
    assert "econdl: error:" not in result.stderr
    assert "looks like a bug in econdl" in result.stderr and "econdl --version" in result.stderr


def test_enough_cases_over_every_task_and_command() -> None:
    joined = [" ".join(c.args) for c in CASES]
    assert len(CASES) >= 30
    for task in ("kink", "gdp", "mnist", "gender", "linear"):
        assert any(f"configs/{task}" in j for j in joined), task
    for command in ("fit", "test", "predict", "compare", "sweep"):
        assert any(c.args[0] == command for c in CASES), command


def test_a_read_only_or_forbidden_runs_folder_is_named_with_the_fix(tmp_path):
    """Writing a run where the file system is read-only or access is denied is the user's
    setting, not a bug: one line naming the folder and --trainer.default_root_dir."""
    import errno

    from econdl.diagnose import diagnose

    read_only = OSError(errno.EROFS, "Read-only file system", str(tmp_path / "logs/kink/mlp/version_0/.m.csv.1.tmp"))
    found = diagnose(RuntimeError("writing failed").with_traceback(None))
    assert found.kind == "bug"
    try:
        raise RuntimeError("logger failed") from read_only
    except RuntimeError as err:
        found = diagnose(err)
    assert found.kind == "user"
    assert found.message == (
        f"{tmp_path / 'logs/kink/mlp/version_0'} is on a read-only file system, where econdl cannot write; "
        "write the runs to another folder (--trainer.default_root_dir DIR)"
    )
    denied = diagnose(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "logs")))
    assert denied.kind == "user" and "logs: permission denied; give yourself access" in denied.message


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no folder can be made")
def test_a_runs_folder_that_cannot_be_created_is_named_with_the_fix():
    """It said only "/proc/out: No such file or directory", which reads as a missing input."""
    result = run_econdl("fit", "--config", K, "--trainer.default_root_dir", "/proc/econdl_out")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert (
        "cannot create the folder /proc/econdl_out in /proc (No such file or directory); write the runs to "
        "another folder (--trainer.default_root_dir DIR)" in result.stderr
    ), result.stderr


@pytest.mark.parametrize("main_fails_too", [False, True])
def test_a_background_writer_on_a_full_disk_is_one_line_not_a_thread_traceback(monkeypatch, capsys, main_fails_too):
    """TensorBoard writes its event file from a thread of its own: on a full disk that thread's
    failure is the command's one line (status 1), without Python's "Exception in thread" traceback,
    whether the command itself then fails on the same disk or goes on to its end."""
    import errno
    import threading

    from econdl import main as entry

    full = OSError(errno.ENOSPC, "No space left on device", "logs/kink/mlp/version_0/events.out.tfevents")

    def command(rest: list[str]) -> None:
        def write() -> None:
            raise full

        writer = threading.Thread(target=write)
        writer.start()
        writer.join()
        if main_fails_too:
            raise full

    monkeypatch.setitem(entry.COMMANDS, "test", command)
    seen: list[BaseException] = []  # what Python's own hook (or pytest's) would print
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    before = threading.excepthook
    with pytest.raises(SystemExit) as stop:
        entry.main(["test"])
    assert stop.value.code == 1
    assert seen == []
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[0] == (
        f"econdl: error: the disk is full while writing {full.filename}; free some space or write the runs "
        "elsewhere (--trainer.default_root_dir DIR)"
    )
    assert threading.excepthook is before  # given back after the command


def test_a_background_thread_failing_for_another_reason_keeps_its_traceback(monkeypatch):
    import threading

    from econdl import main as entry

    def command(rest: list[str]) -> None:
        def fail() -> None:
            raise ValueError("a bug in a thread")

        thread = threading.Thread(target=fail)
        thread.start()
        thread.join()

    monkeypatch.setitem(entry.COMMANDS, "test", command)
    seen: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    entry.main(["test"])
    assert [str(e) for e in seen] == ["a bug in a thread"]  # printed by Python's hook, as before


@pytest.mark.parametrize("shares", [[0.8, 0.1, 0.1], [0.98, 0.01, 0.01], [0.995, 0.004, 0.001], [0.994, 0.004, 0.002]])
def test_the_least_n_the_linear_task_names_holds_at_every_larger_size(shares):
    """'use --data.n 501 or more' for [0.995, 0.004, 0.001] while 626 left the test split empty:
    the named size was only checked against the next hundred."""
    import re

    from econdl.data.linear import LinearDataModule
    from econdl.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--data\.n (\d+) or more") as refused:
        LinearDataModule(n=3, proportions=shares)
    least = int(re.search(r"--data\.n (\d+)", str(refused.value)).group(1))
    for n in range(least, 3 * least + 2000):
        LinearDataModule(n=n, proportions=shares)  # every size from the named one on holds
    with pytest.raises(ConfigError):
        LinearDataModule(n=least - 1, proportions=shares)  # and it is the least


def test_running_out_of_open_files_in_the_system_is_a_resource_with_its_fix():
    import errno

    from econdl.diagnose import diagnose

    for code in (errno.EMFILE, errno.ENFILE):  # this process's limit, and the whole system's
        found = diagnose(OSError(code, os.strerror(code)))
        assert (found.kind, found.exit_code) == ("resource", 1)
        assert found.message.startswith("too many open files; raise the limit (`ulimit -n 4096`)")


def test_an_unlogged_best_by_metric_suggests_a_validation_metric_the_model_logs():
    from econdl.diagnose import diagnose

    err = RuntimeError(
        "`ModelCheckpoint(monitor='val/acc')` could not find the monitored key in the returned metrics: "
        "['train/loss', 'val/loss', 'val/rmse', 'epoch', 'step']. HINT: Did you call `log('val/acc', value)`?"
    )
    found = diagnose(err)
    assert found.kind == "user" and "which this model does not log; it logs val/loss, val/rmse: " in found.message
    assert "(e.g. --best_by val/loss)" in found.message


def test_two_early_stopping_callbacks_on_one_metric_are_explained_with_the_defaults():
    from econdl.diagnose import diagnose

    found = diagnose(RuntimeError("Found more than one stateful callback of type `EarlyStopping`. In the ..."))
    assert found.message.startswith("two EarlyStopping callbacks watch the same metric the same way")
    assert "configs/trainer/default.yaml" in found.message
    other = diagnose(RuntimeError("Found more than one stateful callback of type `LearningRateFinder`. In ..."))
    assert other.message.startswith("two LearningRateFinder callbacks with the same settings")


def test_a_config_folder_lists_six_of_its_configs_then_dots(tmp_path):
    from econdl.diagnose import config_folder

    for name in "abcdefg":
        (tmp_path / f"{name}.yaml").write_text("model: {}\n")
    said = config_folder(str(tmp_path))
    assert "(it holds a.yaml, b.yaml, c.yaml, d.yaml, e.yaml, f.yaml, ...)" in said
    (tmp_path / "g.yaml").unlink()
    assert "(it holds a.yaml, b.yaml, c.yaml, d.yaml, e.yaml, f.yaml): " in config_folder(str(tmp_path))


def test_a_file_econdl_may_not_open_is_the_users_one_line():
    import errno

    from econdl.diagnose import diagnose

    found = diagnose(PermissionError(errno.EPERM, "Operation not permitted", "/data/locked.csv"))
    assert (found.kind, found.message, found.exit_code) == ("user", "/data/locked.csv: Operation not permitted", 1)


def test_an_option_the_parser_refuses_exits_with_status_2_and_a_suggestion():
    import argparse

    from econdl.diagnose import diagnose

    found = diagnose(argparse.ArgumentError(None, "unrecognized arguments: --trainer.max_epoch 2"))
    assert (found.kind, found.exit_code) == ("user", 2)
    assert found.message.endswith(
        "did you mean --trainer.max_epochs? (`econdl fit --config FILE --print_config` lists every key)"
    )
