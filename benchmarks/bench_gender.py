"""Gender photos: is reading the images, or training, the bottleneck?

decode  econdl.data.images.read_images on a folder of generated 250 x 200 JPEG photos,
        resized to 135 x 110 uint8 (in the main process, then in 2 worker processes),
        against the lecture-style torchvision ImageFolder + DataLoader (Resize, ToTensor,
        float32, per-sample __getitem__)
train   one epoch of the lecture's CNN on the 135 x 110 photos already in memory: econdl's
        Classifier under a Trainer against a raw PyTorch loop (Adam 1e-3, batch 64)

Peak memory is each variant's own process (resident set, including the Python/torch baseline).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import isolated, quiet_lightning

SIZE = (135, 110)


def make_photos(folder: Path, n: int) -> Path:
    """``n`` colour JPEGs of 250 x 200 split between folder/Female and folder/Male."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for k in range(n):
        cls = ("Female", "Male")[k % 2]
        (folder / cls).mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 255, (25, 20, 3), dtype=np.uint8)  # smooth-ish, photo-like JPEG sizes
        img = Image.fromarray(base).resize((200, 250), Image.Resampling.BICUBIC)
        img.save(folder / cls / f"{k:05d}.jpg", quality=90)
    return folder


def econdl_decode(folder: str, workers: int) -> dict[str, Any]:
    from econdl.data.images import list_images, read_images

    paths = list_images(Path(folder) / "Female") + list_images(Path(folder) / "Male")
    start = time.perf_counter()
    images, kept, _ = read_images(paths, SIZE, workers=workers)
    return {"seconds": time.perf_counter() - start, "n": len(kept), "mb": images.numel() / 2**20}


def raw_decode(folder: str) -> dict[str, Any]:
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    # one intra-op thread: ToTensor's float conversion otherwise oversubscribes a busy machine
    # (measured 26 ms instead of 3 ms per photo on 2 loaded cores), which would flatter econdl
    torch.set_num_threads(1)
    data = datasets.ImageFolder(folder, transforms.Compose([transforms.Resize(SIZE), transforms.ToTensor()]))
    start = time.perf_counter()
    batches = [x for x, _ in DataLoader(data, batch_size=64)]
    images = torch.cat(batches)
    return {"seconds": time.perf_counter() - start, "n": len(images), "mb": images.numel() * 4 / 2**20}


def train_epoch(n: int, use_econdl: bool) -> dict[str, Any]:
    quiet_lightning()
    from econdl.nets import FaceCNN

    torch.manual_seed(0)
    x = torch.randint(0, 256, (n, 3, *SIZE), dtype=torch.uint8)
    y = torch.randint(0, 2, (n,))
    net = FaceCNN()
    if use_econdl:
        import lightning as L

        from econdl.data.loader import TensorBatches
        from econdl.tasks import Classifier

        class Data(L.LightningDataModule):
            class_names = ["Female", "Male"]

            def train_dataloader(self) -> TensorBatches:
                return TensorBatches((x, y), 64, shuffle=True)

            def on_after_batch_transfer(self, batch: Any, idx: int) -> Any:
                return (batch[0].float() / 255, batch[1])

            def example_input(self) -> torch.Tensor:
                return x[:2].float() / 255

        trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0)
        model = Classifier(net)
        start = time.perf_counter()
        trainer.fit(model, datamodule=Data())
        return {"seconds": time.perf_counter() - start}
    net(x[:2].float() / 255)  # size the lazy head
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    for idx in torch.randperm(n).split(64):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x[idx].float() / 255), y[idx])
        loss.backward()
        opt.step()
    return {"seconds": time.perf_counter() - start}


def run(quick: bool) -> list[dict[str, Any]]:
    n = 200 if quick else 2_000
    n_train = 256 if quick else 1_024
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = str(make_photos(Path(tmp) / "photos", n))
        raw, raw_mem = isolated(raw_decode, folder)
        for workers in (0, 2):
            ours, mem = isolated(econdl_decode, folder, workers)
            rows.append({
                "benchmark": "gender photos",
                "what": f"decode+resize {n} JPEGs 250x200 -> 135x110 ({'main process' if not workers else f'{workers} workers'})",
                "econdl_s": ours["seconds"],
                "raw_s": raw["seconds"],
                "ratio": ours["seconds"] / raw["seconds"],
                "throughput": f"{ours['n'] / ours['seconds']:.0f} images/s (raw {raw['n'] / raw['seconds']:.0f})",
                "peak_mem_mb": f"{mem:.0f} (raw {raw_mem:.0f})",
                "result": f"{ours['mb']:.0f} MB uint8 in memory (raw {raw['mb']:.0f} MB float32)",
                "note": "raw = torchvision ImageFolder + Resize + ToTensor through a DataLoader (1 torch thread)",
            })
    ours, mem = isolated(train_epoch, n_train, True)
    raw, raw_mem = isolated(train_epoch, n_train, False)
    rows.append({
        "benchmark": "gender photos",
        "what": f"CNN training, one epoch of {n_train} photos 135x110 in memory (batch 64)",
        "econdl_s": ours["seconds"],
        "raw_s": raw["seconds"],
        "ratio": ours["seconds"] / raw["seconds"],
        "throughput": f"{n_train / ours['seconds']:.0f} images/s (raw {n_train / raw['seconds']:.0f})",
        "peak_mem_mb": f"{mem:.0f} (raw {raw_mem:.0f})",
        "result": "decoding is the bottleneck only if its images/s fall below this row's",
        "note": "econdl = Classifier(FaceCNN) under a Trainer, no logging/checkpoints",
    })
    return rows


if __name__ == "__main__":
    import sys

    for row in run(quick="--quick" in sys.argv):
        print(row)
