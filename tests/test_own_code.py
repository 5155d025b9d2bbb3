"""A user's own network or data module, in a file beside their config: found from the current
folder by the `econdl` command (as by `python -m econdl`), and its mistakes named in one line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from helpers import run_econdl

NETS = """
from torch import nn


class MyNet(nn.Module):
    def __init__(self, hidden: int = 8):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.layers(x)


class ThreeOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(1, 3)

    def forward(self, x):
        return self.out(x)


class NoWeights(nn.Module):
    def forward(self, x):
        return x


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(1, 1)

    def forward(self, x):
        return self.out(x).no_such_method()
"""

CONFIG = """
model:
  class_path: econdl.tasks.Regressor
  init_args:
    net:
      class_path: mynet.MyNet
data:
  class_path: econdl.data.KinkDataModule
  init_args: {x_size: 512, val_size: 128, test_size: 101}
trainer:
  max_epochs: 2
  enable_progress_bar: false
"""


@pytest.fixture
def own(tmp_path: Path) -> Path:
    (tmp_path / "mynet.py").write_text(NETS)
    (tmp_path / "wages").mkdir()
    config = tmp_path / "wages/mine.yaml"
    config.write_text(CONFIG)
    return config


def test_a_network_of_ones_own_in_the_current_folder_fits_and_tests(own, tmp_path):
    fit = run_econdl("fit", "--config", "wages/mine.yaml")
    assert fit.returncode == 0, fit.stderr[-2000:]
    run = tmp_path / "logs/wages/mine/version_0"
    assert (run / "checkpoints/last.ckpt").is_file()
    tested = run_econdl("test", "--config", "wages/mine.yaml", "--ckpt_path", "best")
    assert tested.returncode == 0 and "test/rmse" in tested.stdout, tested.stderr[-2000:]


@pytest.mark.parametrize(
    ("net", "words"),
    [
        ("ThreeOutputs", ["ThreeOutputs gives outputs of shape (", ", 3) for a batch of", "out_features=1"]),
        ("NoWeights", ["the model has no parameters to train", "--model.net ..."]),
    ],
)
def test_a_network_that_cannot_fit_the_targets_is_named_in_one_line(own, net, words):
    result = run_econdl("fit", "--config", "wages/mine.yaml", "--model.init_args.net.class_path", f"mynet.{net}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "bug in econdl" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("econdl: error: ")]
    for word in words:
        assert word in line, line


DATA = '''
import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset


class WageData(L.LightningDataModule):
    """A plain LightningDataModule: log wage on schooling and experience."""

    def setup(self, stage=None):
        g = torch.Generator().manual_seed(0)
        x = torch.rand(600, 2, generator=g)
        y = (0.8 * x[:, :1] + 0.3 * x[:, 1:] ** 2 + 0.05 * torch.randn(600, 1, generator=g)).float()
        self.sets = {"train": (x[:400], y[:400]), "val": (x[400:500], y[400:500]), "test": (x[500:], y[500:])}

    def loader(self, name, shuffle=False):
        return DataLoader(TensorDataset(*self.sets[name]), batch_size=50, shuffle=shuffle)

    def train_dataloader(self):
        return self.loader("train", shuffle=True)

    def val_dataloader(self):
        return self.loader("val")

    def test_dataloader(self):
        return self.loader("test")
'''


def wage_configs(tmp_path: Path) -> Path:
    (tmp_path / "mydata.py").write_text(DATA)
    folder = tmp_path / "wages"
    folder.mkdir()
    data = "data:\n  class_path: mydata.WageData\ntrainer:\n  max_epochs: 3\n  enable_progress_bar: false\n"
    net = "      class_path: econdl.nets.MLP\n      init_args: {widths: [16]}\n"  # in_features sized lazily
    (folder / "mlp.yaml").write_text(
        "model:\n  class_path: econdl.tasks.Regressor\n  init_args:\n    net:\n" + net + data
    )
    (folder / "polynomial.yaml").write_text("model:\n  class_path: econdl.tasks.PolynomialLS\n" + data)
    return folder


SUBCLASS = """
import torch

from econdl.data import RegressionDataModule


class Wages(RegressionDataModule):
    def build(self):
        g = torch.Generator().manual_seed(0)
        x = torch.rand(600, 2, generator=g)
        y = (0.8 * x[:, :1] + 0.3 * x[:, 1:] ** 2 + 0.05 * torch.randn(600, 1, generator=g)).float()
        return {"train": (x[:400], y[:400]), "val": (x[400:500], y[400:500]), "test": (x[500:], y[500:])}
"""


def test_a_subclass_of_econdls_data_module_serves_a_comparison_with_closed_form_baselines(tmp_path):
    folder = wage_configs(tmp_path)
    (tmp_path / "wagedata.py").write_text(SUBCLASS)
    for config in folder.glob("*.yaml"):
        config.write_text(config.read_text().replace("mydata.WageData", "wagedata.Wages"))
    compared = run_econdl("compare", "wages/", "--workers", "1")
    assert compared.returncode == 0, compared.stderr[-2000:]
    table = pd.read_csv(tmp_path / "logs/wages/compare/version_0/table.csv", index_col=0)
    assert list(table.index) == ["mlp", "polynomial"] and table["test_rmse"].notna().all()
    assert table.loc["polynomial", "test_rmse"] < 0.1  # the noise's sd is 0.05


def test_a_data_module_of_ones_own_fits_a_network_whose_first_layer_is_sized_from_it(tmp_path):
    wage_configs(tmp_path)
    fit = run_econdl("fit", "--config", "wages/mlp.yaml")
    assert fit.returncode == 0, fit.stderr[-2000:]
    assert "test/loss" in fit.stdout
    saved = torch.load(tmp_path / "logs/wages/mlp/version_0/checkpoints/last.ckpt", weights_only=False)["state_dict"]
    weights = [v for k, v in saved.items() if k.endswith("weight") and v.dim() == 2]
    assert [tuple(w.shape) for w in weights] == [(16, 2), (1, 16)]  # two inputs in the data, widths [16]


def test_what_needs_econdls_data_modules_says_so_before_fitting(tmp_path):
    """Closed-form baselines need all training rows at once, and a comparison the test targets
    of econdl's data modules: with a plain LightningDataModule each says what to subclass, in one
    line, before anything is fitted (a comparison fitted every config, then failed)."""
    wage_configs(tmp_path)
    compared = run_econdl("compare", "wages/")
    assert compared.returncode == 1 and "Traceback" not in compared.stderr
    assert "mydata.WageData, which is not one of econdl's data modules" in compared.stderr
    assert "subclass econdl.data.RegressionDataModule" in compared.stderr
    assert not (tmp_path / "logs").exists()  # nothing was fitted
    fitted = run_econdl("fit", "--config", "wages/polynomial.yaml")
    assert fitted.returncode == 1 and "Traceback" not in fitted.stderr and "bug in econdl" not in fitted.stderr
    assert "PolynomialLS" in fitted.stderr and "WageData has no split(): subclass" in fitted.stderr


CLASSES = '''
import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset


class Defaults(L.LightningDataModule):
    """A plain LightningDataModule of two classes: loans that default or not."""

    class_names = ["repaid", "default"]

    def setup(self, stage=None):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(600, 3, generator=g)
        y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
        self.sets = {"train": (x[:400], y[:400]), "val": (x[400:500], y[400:500]), "test": (x[500:], y[500:])}

    def train_dataloader(self):
        return DataLoader(TensorDataset(*self.sets["train"]), batch_size=50, shuffle=True)

    def val_dataloader(self):
        return DataLoader(TensorDataset(*self.sets["val"]), batch_size=100)

    def test_dataloader(self):
        return DataLoader(TensorDataset(*self.sets["test"]), batch_size=100)
'''


@pytest.mark.parametrize("outputs", [2, 3])
def test_a_classifier_on_a_data_module_of_ones_own_checks_its_scores_per_class(tmp_path, outputs):
    """Two classes: a network of two scores fits and tests; one of three was a torchmetrics
    traceback reported as an econdl bug, and is now one line naming the widths."""
    (tmp_path / "loans.py").write_text(CLASSES)
    config = tmp_path / "loans.yaml"
    config.write_text(
        "model:\n  class_path: econdl.tasks.Classifier\n  init_args:\n    net:\n"
        f"      class_path: econdl.nets.MLP\n      init_args: {{widths: [16], out_features: {outputs}}}\n"
        "data:\n  class_path: loans.Defaults\ntrainer:\n  max_epochs: 3\n  enable_progress_bar: false\n"
    )
    result = run_econdl("fit", "--config", "loans.yaml")
    if outputs == 2:
        assert result.returncode == 0, result.stderr[-2000:]
        assert "test/acc" in result.stdout
        return
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("econdl: error: ")]
    assert "MLP gives scores of shape (3,) per input, but the data have 2 classes (repaid, default)" in line


def test_an_error_in_ones_own_network_points_at_it_not_at_econdl(own, tmp_path):
    """A bug in the user's forward() was reported as a bug in econdl, asking for an issue."""
    result = run_econdl("fit", "--config", "wages/mine.yaml", "--model.init_args.net.class_path", "mynet.Broken")
    assert result.returncode == 1 and "bug in econdl" not in result.stderr
    assert "AttributeError: 'Tensor' object has no attribute 'no_such_method'" in result.stderr  # its traceback
    mynet = tmp_path / "mynet.py"
    line = next(i for i, text in enumerate(mynet.read_text().splitlines(), 1) if "no_such_method" in text)
    assert f"econdl: the error above was raised in your own code, {mynet}, line {line}, in forward" in result.stderr
