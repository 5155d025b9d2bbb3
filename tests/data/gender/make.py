"""Tiny photo-folder fixture for the gender task: ``Female/`` and ``Male/`` with 12 colour
PNGs each (24 x 20 pixels).  The classes differ in their dominant colour, so a network
separates them in an epoch or two; no image is greyscale (the cleaning would drop it).

    python tests/data/gender/make.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("Female", "Male")


def photo(label: int, seed: int, size: tuple[int, int] = (24, 20)) -> Image.Image:
    """One RGB image (height, width = ``size``): reddish for class 0, bluish for class 1."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 60, size=(*size, 3))
    pixels[..., 0 if label == 0 else 2] += 150
    return Image.fromarray(pixels.astype(np.uint8), mode="RGB")


def make(out: Path, per_class: int = 12) -> Path:
    """Write ``out/<class>/<i>.png`` and return ``out``."""
    for label, name in enumerate(CLASSES):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            photo(label, seed=100 * label + i).save(folder / f"{i}.png")
    return out


if __name__ == "__main__":
    print(make(Path(sys.argv[1] if len(sys.argv) > 1 else "gender-tiny")))
