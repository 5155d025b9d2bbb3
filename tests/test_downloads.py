"""Downloads happen once per machine, in ``prepare_data``; ``setup`` only reads.

Lightning calls ``prepare_data`` on one process per node but ``setup`` in every process,
so a download in ``setup`` (or ``build``) would run in every DDP process into the same
folder at once.  Offline stand-ins for torchvision's datasets count their calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torchvision

from econdl.data import GenderImageDataModule, MNISTDataModule
from econdl.errors import DataError
from econdl.nets import MLP
from econdl.tasks import Classifier
from helpers import fixture_script


class FakeMNIST:
    """Stands in for ``torchvision.datasets.MNIST``: writes tiny IDX files where torchvision
    would (``root/MNIST/raw``) and records every call."""

    calls: list[tuple[str, bool, bool]] = []

    def __init__(self, root: str, train: bool = True, download: bool = False) -> None:
        FakeMNIST.calls.append((root, train, download))
        if download:
            fixture_script("mnist").make(Path(root) / "MNIST" / "raw")


def tiny_fit(dm: L.LightningDataModule, tmp: Path) -> None:
    model = Classifier(net=MLP(widths=[8], in_features=784, out_features=10, flatten=True))
    L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp,
    ).fit(model, datamodule=dm)


def test_mnist_downloads_once_in_prepare_data_and_setup_only_reads(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    monkeypatch.setattr(FakeMNIST, "calls", [])
    folder = tmp_path / "mnist"

    fresh = MNISTDataModule(data_dir=str(folder), download=True, val_size=10, batch_size=16)
    with pytest.raises(FileNotFoundError, match="prepare_data"):
        fresh.setup("fit")  # setup never downloads; it says the download has not run
    assert FakeMNIST.calls == []

    tiny_fit(MNISTDataModule(data_dir=str(folder), download=True, val_size=10, batch_size=16), tmp_path)
    assert FakeMNIST.calls == [(str(folder), True, True), (str(folder), False, True)]  # one download: both files

    tiny_fit(MNISTDataModule(data_dir=str(folder), download=True, val_size=10, batch_size=16), tmp_path)
    assert len(FakeMNIST.calls) == 2  # the files are there: nothing downloaded again


def test_mnist_downloads_when_only_some_of_the_four_files_are_there(tmp_path: Path, monkeypatch: Any) -> None:
    """prepare_data downloads unless all four IDX files are found: two of four are not enough."""
    from test_mnist_data import write_idx_set

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    monkeypatch.setattr(FakeMNIST, "calls", [])
    folder = write_idx_set(tmp_path / "mnist", n_train=20, n_test=10)
    (folder / "t10k-images-idx3-ubyte").unlink()
    (folder / "t10k-labels-idx1-ubyte").unlink()
    MNISTDataModule(data_dir=str(folder), download=True).prepare_data()
    assert FakeMNIST.calls == [(str(folder), True, True), (str(folder), False, True)]

    monkeypatch.setattr(FakeMNIST, "calls", [])  # the control: all four there, no download
    MNISTDataModule(data_dir=str(write_idx_set(tmp_path / "all", 20, 10)), download=True).prepare_data()
    assert FakeMNIST.calls == []


def test_celeba_downloads_in_prepare_data_only(tmp_path: Path, monkeypatch: Any) -> None:
    calls: list[bool] = []

    def fake_celeba(root: str, split: str, target_type: str, download: bool) -> None:
        calls.append(download)
        raise RuntimeError("Dataset not found or corrupted.")

    monkeypatch.setattr(torchvision.datasets, "CelebA", fake_celeba)
    dm = GenderImageDataModule(source="celeba", root=str(tmp_path), download=True)
    with pytest.raises(FileNotFoundError, match="prepare_data"):
        dm.setup("fit")
    assert calls == [False]  # setup only reads
    with pytest.raises(DataError, match=rf"could not download CelebA into {tmp_path} \(Dataset not found"):
        dm.prepare_data()  # the failure says what to fix, as one line
    assert calls == [False, True]


def test_a_download_without_network_names_the_folder_and_the_files_to_put_there(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """torchvision's own download code, with every connection refused as on a machine offline."""
    import urllib.error
    import urllib.request

    def offline(*args: Any, **kwargs: Any) -> Any:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    dm = MNISTDataModule(data_dir=str(tmp_path / "digits"), download=True)
    with pytest.raises(DataError) as caught:
        dm.prepare_data()
    message = str(caught.value)
    assert message.startswith(f"could not download mnist into {tmp_path / 'digits'} (Error downloading")
    assert "Name or service not known" in message and "check the internet connection" in message
    assert "train-images-idx3-ubyte.gz" in message and "run again without --data.download" in message
