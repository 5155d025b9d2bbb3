"""Reading image files into uint8 tensors: shared by the image tasks (gender, MNIST predict).

    paths = list_images(Path("photos/new"))
    images, kept, failed = read_images(paths, size=(135, 110))   # (N, 3, 135, 110) uint8

Every image is decoded once, converted to ``mode`` and resized to ``size`` (height,
width); the result stays uint8 in memory (a quarter of float32) and is scaled to
[0, 1] per batch by the DataModule.  JPEGs are decoded at reduced scale when they are
much larger than ``size`` (PIL's ``draft``), which is most of the cost saved on big
photos.  ``workers > 0`` decodes in that many processes, so a large folder does not
keep the accelerator waiting on one CPU core.
"""

from __future__ import annotations

import os
import multiprocessing as mp
import sys
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from econdl.errors import ConfigError, DataError, DataFileNotFound

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
MODES = {"RGB": 3, "L": 1}
ON_ERROR = ("skip", "raise")


def list_images(folder: Path | str) -> list[Path]:
    """Image files (jpg/jpeg/png/bmp, any case) in ``folder`` and its subfolders, as
    torchvision's ImageFolder reads a class folder, sorted by their path inside ``folder``.
    Hidden files and folders (``.ipynb_checkpoints``, ``._photo.jpg``) are left out.

    Raises FileNotFoundError naming ``folder`` when it does not exist or is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFileNotFound(f"image folder {folder} does not exist (or is not a folder)")
    found = []
    for parent, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(parent) / f for f in files if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


EXIF_ORIENTATION = 0x0112  # the tag cameras and phones write instead of turning the pixels


def decode_image(path: Path | str, size: tuple[int, int], mode: str = "RGB") -> np.ndarray:
    """One image as a uint8 array of shape (C, H, W), upright as a viewer shows it (a phone
    photo's EXIF orientation tag applied); raises on unreadable files."""
    from PIL import Image, ImageOps

    height, width = size
    with Image.open(path) as img:
        turned = img.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8)  # stored a quarter turn off
        if img.format == "JPEG":
            # decode at 1/2, 1/4 or 1/8 scale when large (the stored sides, before turning)
            img.draft(mode, (height, width) if turned else (width, height))
        img = _eight_bit_on_white(ImageOps.exif_transpose(img)).convert(mode)
        if img.size != (width, height):
            img = img.resize((width, height), Image.Resampling.BILINEAR)
        array = np.asarray(img, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _eight_bit_on_white(img: Any) -> Any:
    """A 16-bit image scaled to 8 bits (PIL's convert clips it at 255, leaving a silhouette),
    and a transparent one laid on white (convert drops the alpha channel, so ink drawn in it
    vanishes), as a viewer shows them."""
    from PIL import Image

    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        values = np.asarray(img, dtype=np.float64)
        scale = 257.0 if values.max() > 255 else 1.0  # a 16-bit range, or 8-bit values stored wide
        return Image.fromarray(np.clip(np.round(values / scale), 0, 255).astype(np.uint8), "L")
    if "A" in img.getbands() or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return img


def _decode_or_reason(job: tuple[str, tuple[int, int], str]) -> tuple[np.ndarray | None, str | None]:
    path, size, mode = job
    try:
        return decode_image(path, size, mode), None
    except Exception as err:  # PIL raises many types (OSError, SyntaxError, ValueError, ...)
        return None, f"{type(err).__name__}: {err}".strip()


def read_images(
    paths: Sequence[Path | str],
    size: tuple[int, int],
    mode: str = "RGB",
    on_error: str = "skip",
    workers: int = 0,
) -> tuple[Tensor, list[Path], list[tuple[Path, str]]]:
    """Decode and resize image files into one uint8 tensor.

    Args:
        paths: image files.
        size: (height, width) of every output image.
        mode: ``RGB`` (3 channels) or ``L`` (1 channel, greyscale).
        on_error: ``skip`` leaves unreadable files out (with a warning naming them);
            ``raise`` fails with a ValueError naming the first unreadable file.
        workers: decode in this many processes (0: in this process).

    Returns:
        ``(images, kept, failed)``: images of shape (N, C, H, W) uint8, the paths of
        those N images in order, and ``(path, reason)`` for every file left out.
    """
    if mode not in MODES:
        raise ConfigError(f"mode={mode!r} is not supported; choose one of {sorted(MODES)}")
    if on_error not in ON_ERROR:
        raise ConfigError(f"on_error={on_error!r} must be one of {list(ON_ERROR)}")
    height, width = int(size[0]), int(size[1])
    if height < 1 or width < 1:
        raise ConfigError(f"size={tuple(size)} must be two positive integers (height, width)")
    files = [Path(p) for p in paths]
    jobs = [(str(p), (height, width), mode) for p in files]
    if workers > 0 and len(jobs) > 1:
        # fork: workers start at once and need no re-import (they only run PIL and numpy);
        # a spawned process that inherited "spawn" would otherwise re-import torch per worker
        methods = mp.get_all_start_methods()
        context = mp.get_context("fork" if "fork" in methods and sys.platform == "linux" else None)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = list(pool.map(_decode_or_reason, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
    else:
        results = [_decode_or_reason(job) for job in jobs]

    out = np.empty((len(files), MODES[mode], height, width), dtype=np.uint8)
    kept: list[Path] = []
    failed: list[tuple[Path, str]] = []
    for path, (array, reason) in zip(files, results, strict=True):
        if array is None:
            if on_error == "raise":
                raise DataError(
                    f"cannot read image {path} ({reason}); remove or replace the file, "
                    "or set on_error='skip' to leave unreadable files out"
                )
            failed.append((path, str(reason)))
            continue
        out[len(kept)] = array
        kept.append(path)
    if failed:
        shown = "; ".join(f"{p} ({r})" for p, r in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        warnings.warn(f"skipped {len(failed)} unreadable image file(s): {shown}{more}", stacklevel=2)
    return torch.from_numpy(out[: len(kept)]), kept, failed


def greyscale_mask(images: Tensor, tolerance: int = 2) -> Tensor:
    """True for every image of a (N, 3, H, W) uint8 batch whose three channels agree
    everywhere to within ``tolerance`` levels: single-channel files read as RGB, and
    RGB files holding a grey picture (JPEG compression leaves differences of a level or two).
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"greyscale_mask needs (N, 3, H, W) images, got shape {tuple(images.shape)}")
    x = images.to(torch.int16)
    diff = torch.maximum((x[:, 0] - x[:, 1]).abs(), (x[:, 1] - x[:, 2]).abs())
    return diff.flatten(1).amax(dim=1) <= tolerance
