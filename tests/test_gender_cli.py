"""The gender task driven through `econdl` as a user would: fit, table, predict, compare, errors."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from helpers import CONFIGS, run_econdl
from econdl.cli import cli_main
from econdl.main import main
from econdl.compare import compare_main
from test_gender import photo, write_folder, write_manifest

QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
SMALL = ["--data.image_size=[40, 32]", "--data.batch_size=8", *QUIET]


def test_cnn_fits_a_photo_folder_prints_the_table_and_predicts_new_photos(tmp_path, capsys):
    root = write_folder(tmp_path / "photos", n=20)
    cli = cli_main(
        [
            "fit",
            "--config",
            str(CONFIGS / "gender/cnn.yaml"),
            "--data.root",
            str(root),
            "--trainer.max_epochs=4",
            *SMALL,
        ]
    )
    out = capsys.readouterr().out
    assert "dropped 1 unreadable image file" in out and "corrupt.jpg" in out
    assert re.search(r"Female +Male +All\nTraining Set .*\nTest Set ", out), out
    run = tmp_path / "logs/gender/cnn/version_0"
    table = pd.read_csv(run / "class_accuracy.csv", index_col=0)
    assert list(table.columns) == ["Female", "Male", "All"]
    assert list(table.index) == ["Training Set", "Test Set"]
    assert table.loc["Training Set", "All"] >= 0.9  # separable photos: far above chance
    metrics = cli.trainer.callback_metrics
    assert float(metrics["test/acc"]) >= 0.8 and "test/acc_class_Female" in metrics
    ckpt = next((run / "checkpoints").glob("best-*.ckpt"))

    new = tmp_path / "new"
    new.mkdir()
    truth = {}
    for i in range(6):
        photo(i % 2, 500 + i).save(new / f"n{i}.jpg")
        truth[f"n{i}.jpg"] = ["Female", "Male"][i % 2]
    (new / "unreadable.png").write_bytes(b"nope")
    # a new process, no training photos: the run's saved config and the checkpoint suffice
    result = run_econdl(
        "predict",
        "--config",
        str(run / "config.yaml"),
        "--ckpt_path",
        str(ckpt),
        "--data.root=/nonexistent",
        f"--data.predict_dir={new}",
        *QUIET,
    )
    assert result.returncode == 0, result.stderr
    assert "skipped 1 unreadable file" in result.stdout and "unreadable.png" in result.stdout
    written = re.search(r"predictions: 6 rows written to (\S+)", result.stdout)
    assert written, result.stdout
    frame = pd.read_csv(written.group(1))
    assert list(frame.columns) == ["path", "p_female", "p_male", "predicted"]
    assert len(frame) == 6
    assert ((frame.p_female + frame.p_male - 1).abs() < 1e-5).all()
    hits = sum(truth[p.rsplit("/", 1)[-1]] == lab for p, lab in zip(frame.path, frame.predicted, strict=True))
    assert hits >= 5


def test_compare_puts_mlp_and_cnn_side_by_side_on_a_cleaned_manifest(tmp_path, capsys):
    csv = write_manifest(tmp_path / "m")
    result = compare_main(
        [
            str(CONFIGS / "gender"),
            "--data.source",
            "manifest",
            "--data.path",
            str(csv),
            "--data.path_column=file",
            "--data.label_column=sex",
            "--trainer.max_epochs=3",
            "--data.image_size=[40, 32]",
            "--data.batch_size=8",
            "--workers",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert "dropped 3 greyscale images" in out and "dropped 5 rows with missing or uncoded gender" in out
    table = result.table
    assert list(table.index) == ["cnn", "mlp"]
    assert {"test_acc", "acc_Female", "acc_Male", "params"} <= set(table.columns)
    # the MLP's count at 40 x 32 photos: (3*40*32 + 1)*128 + 129*128 + 129*2
    assert table.loc["mlp", "params"] == (3 * 40 * 32 + 1) * 128 + 129 * 128 + 129 * 2
    # the two classes differ in their dominant colour channel, which both nets find in 3
    # epochs: every one of the 2 test photos (12% of the 20 kept) is classified right
    assert table["test_acc"].tolist() == [1.0, 1.0], table
    # the README's 95% interval and McNemar test of a classification table, as for digits
    assert {"test_acc_ci_low", "test_acc_ci_high", "p_vs_best"} <= set(table.columns), table.columns
    assert (table["test_acc_ci_low"] <= table["test_acc"]).all() and (
        table["test_acc"] <= table["test_acc_ci_high"]
    ).all()


def test_missing_photo_folder_fails_cleanly_naming_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(CONFIGS / "gender/mlp.yaml"), "--data.root", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert exit_.value.code == 1
    assert "nowhere does not exist" in err and "Traceback" not in err


def test_photos_too_small_for_the_cnn_are_refused_naming_the_size(tmp_path):
    """4 x 4 pixels vanish under the CNN's convolutions and pooling: one line naming the input
    shape and the option, not a traceback."""
    root = write_folder(tmp_path / "photos", n=12)
    result = run_econdl(
        "fit",
        "--config",
        str(CONFIGS / "gender/cnn.yaml"),
        "--data.root",
        str(root),
        "--data.image_size=[4, 4]",
        *QUIET,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "inputs of shape (3, 4, 4) are too small for FaceCNN" in result.stderr
    assert "--data.image_size" in result.stderr and "Traceback" not in result.stderr


def test_a_test_of_a_grown_photo_folder_is_refused_naming_the_photos_it_learnt_from(tmp_path):
    """With every setting as in the fit, a folder that gained photos carves other training and
    test photos, and its test set held photos the model was trained on (a test flattered by
    them ran with exit status 0); the same folder as at the fit tests."""
    root = write_folder(tmp_path / "photos", n=10, corrupt=False)
    args = ["--config", str(CONFIGS / "gender/mlp.yaml"), "--data.root", str(root), "--trainer.max_epochs=1", *SMALL]
    cli_main(["fit", *args])
    assert run_econdl("test", *args, "--ckpt_path=best").returncode == 0
    for c, name in enumerate(("Female", "Male")):
        for i in range(10, 13):
            photo(c, i).save(root / name / f"{i:02d}.jpg")
    refused = run_econdl("test", *args, "--ckpt_path=best")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "gender: this run's training photos are not those the checkpoint learnt from" in refused.stderr
    assert "econdl predict" in refused.stderr and "Traceback" not in refused.stderr
    assert "max_images, split_seed, test_share, val_size)" in refused.stderr and "train_size" not in refused.stderr
