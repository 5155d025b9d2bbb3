"""Small habits users notice: `--version`, `python -m econdl`, one metric naming rule, and
messages that name CLI keys the way users type them."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from econdl.metrics import column_name, logged_name, metric_label
from helpers import REPO, econdl_env, run_econdl


def test_version_names_econdl_torch_lightning_and_python() -> None:
    result = run_econdl("--version", timeout=120)
    assert result.returncode == 0, result.stderr
    for name in ("econdl", "torch", "lightning", "Python"):
        assert re.search(rf"^{name} \d+\.\d+", result.stdout, re.MULTILINE), result.stdout


def test_python_dash_m_econdl_works_like_econdl() -> None:
    module = subprocess.run(
        [sys.executable, "-m", "econdl", "--version"], capture_output=True, text=True, timeout=120, env=econdl_env()
    )
    assert module.returncode == 0 and module.stdout == run_econdl("--version", timeout=120).stdout
    for command in (["--help"], ["fit", "--help"]):  # a subcommand's usage said `__main__.py`
        usage = subprocess.run(
            [sys.executable, "-m", "econdl", *command], capture_output=True, text=True, timeout=120, env=econdl_env()
        )
        assert usage.returncode == 0 and usage.stdout.startswith("usage: econdl "), usage.stdout[:200]


@pytest.mark.parametrize(
    ("logged", "column"),
    [
        ("test/rmse", "test_rmse"),
        ("val/loss", "val_loss"),
        ("train/loss", "train_loss"),
        ("test/acc_class_T-shirt_top", "test_acc_class_T-shirt_top"),
        ("sparsity", "sparsity"),
        ("lr-AdamW", "lr-AdamW"),
    ],
)
def test_logged_names_and_table_columns_map_one_to_one(logged: str, column: str) -> None:
    assert column_name(logged) == column and logged_name(column) == logged


@pytest.mark.parametrize(
    ("name", "label"),
    [("T-shirt/top", "T-shirt_top"), ("Ankle boot", "Ankle_boot"), (3, "3"), ("(unknown)", "unknown"), ("??", "class")],
)
def test_class_names_become_metric_keys_with_underscores(name: object, label: str) -> None:
    """What test/acc_class_<label> is called: runs of other characters become one underscore."""
    assert metric_label(name) == label


def test_no_other_code_converts_metric_names_by_hand() -> None:
    hand_made = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted((REPO / "src" / "econdl").rglob("*.py"))
        if path.name != "metrics.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if 'replace("/", "_")' in line or 'replace("_", "/")' in line
    ]
    assert not hand_made, f"use econdl.metrics.column_name / logged_name instead: {hand_made}"


def test_messages_name_cli_keys_as_users_type_them() -> None:
    # `--data.data_dir`, as in the README and Makefile, not the long form `--data.init_args.data_dir`
    long_form = re.compile(r"--(?:data|model|optimizer|lr_scheduler)\.init_args\.")
    found = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in sorted((REPO / "src" / "econdl").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if long_form.search(line) and not line.lstrip().startswith("#")
    ]
    assert not found, "\n".join(found)


def test_a_reader_that_stops_early_is_not_reported_as_a_bug() -> None:
    """`econdl --help | head -1`: the pipe closes before econdl writes; that ends quietly."""
    from pathlib import Path

    exe = Path(sys.executable).with_name("econdl")
    for args in (["--help"], ["--version"]):
        proc = subprocess.Popen([str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=econdl_env())
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, err
        assert "looks like a bug" not in err and "Traceback" not in err, err


def test_the_table_names_the_metrics_a_fit_logs() -> None:
    """The comparison table's error columns are the logged test metrics under the one naming rule."""
    import torch

    from econdl.data import KinkDataModule

    dm = KinkDataModule(x_size=64, val_size=16, test_size=16)
    dm.setup()
    scored = dm.score(torch.zeros(len(dm.test_targets())))
    logged = {"test/rmse", "test/mae", "test/max_abs_err", "test/mse"}
    test_columns = {logged_name(column) for column in scored if column.startswith("test_")}
    assert test_columns <= logged  # every test_* column is a metric the fit logs, under the same name
    assert {"test/rmse", "test/max_abs_err"} <= {logged_name(column) for column in scored}
