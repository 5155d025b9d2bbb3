"""The MNIST configs driven as a user drives them: fit, test, predict, compare, errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from helpers import CONFIGS, run_econdl
from econdl.cli import cli_main
from econdl.main import main
from econdl.compare import compare_main
from test_mnist_data import digit_images, write_idx, write_idx_set


def fast(folder: Path, epochs: int = 3) -> list[str]:
    return [
        f"--data.init_args.data_dir={folder}",
        "--data.init_args.val_size=50",
        "--data.init_args.batch_size=32",
        f"--trainer.max_epochs={epochs}",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]


def test_fit_prints_the_table_then_test_and_predict_a_png_folder(tmp_path, capsys):
    folder = write_idx_set(tmp_path / "digits", gz=True)
    cli = cli_main(["fit", "--config", str(CONFIGS / "mnist/mlp.yaml"), *fast(folder, 4)])
    out = capsys.readouterr().out
    assert "Training Set" in out and "Test Set" in out
    run = tmp_path / "logs/mnist/mlp/version_0"
    table = pd.read_csv(run / "class_accuracy.csv", index_col=0)
    assert list(table.index) == ["Training Set", "Test Set"] and table.shape[1] == 11
    assert (run / "class_accuracy.md").is_file() and (run / "confusion_matrix.png").is_file()
    # the synthetic bars are learnable: far above chance (0.1)
    acc = float(cli.trainer.callback_metrics["test/acc"])
    assert acc > 0.8 and table.loc["Test Set", "All"] == pytest.approx(acc, abs=1e-6)
    metrics = pd.read_csv(run / "metrics.csv")
    assert {"test/acc_class_0", "test/acc_class_9", "val/acc", "train/loss"} <= set(metrics.columns)
    # the config's one-cycle schedule, sized by the trainer: up from max_lr / 25, then down
    lrs = metrics["lr-AdamW"].dropna().tolist()
    max_lr = yaml.safe_load((CONFIGS / "mnist/mlp.yaml").read_text())["lr_scheduler"]["init_args"]["max_lr"]
    assert lrs[0] == pytest.approx(max_lr / 25) and max(lrs) > 10 * lrs[0] and lrs[-1] < max(lrs)

    # `econdl predict` in a new process, on a different training split (other standardisation
    # statistics), uses the checkpoint's statistics and reproduces the test accuracy; `econdl
    # test` there is refused, as its Training Set row would score images the model never saw
    ckpt = next((run / "checkpoints").glob("best-*.ckpt"))
    stats = torch.load(ckpt, weights_only=False)["MNISTDataModule"]
    assert stats["mean"] == pytest.approx(float(cli.datamodule.split("train")[0].double().mean() / 255), abs=1e-6)
    other = [
        *fast(folder),
        "--data.init_args.split_seed=3",
        "--data.init_args.train_size=60",
        "--data.init_args.val_size=10",
    ]  # 50 other training images: other statistics
    refused = run_econdl("test", "--config", str(CONFIGS / "mnist/mlp.yaml"), *other, "--ckpt_path", str(ckpt))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "this run's training images are not those the checkpoint learnt from" in refused.stderr
    assert "(50 training images now, 350 in the fit, " in refused.stderr
    done = run_econdl("predict", "--config", str(CONFIGS / "mnist/mlp.yaml"), *other, "--ckpt_path", str(ckpt))
    assert done.returncode == 0, done.stderr
    fresh = re.search(r"with mean ([0-9.]+), std", done.stdout)
    assert fresh is not None and abs(float(fresh.group(1)) - stats["mean"]) > 2e-4  # 0.1718 against 0.1721
    assert f"the checkpoint's mean {stats['mean']:.4f}, std {stats['std']:.4f}" in done.stdout
    assert f"not this training split's {fresh.group(1)}" in done.stdout  # which of the two lines counts
    predicted = pd.read_csv(next((tmp_path / "logs/mnist/mlp").glob("version_*/predictions.csv")))
    assert (predicted["predicted"] == predicted["label"]).mean() == pytest.approx(acc, abs=1e-6)
    # the same probabilities as a predict on the fit's own split (whose statistics are the
    # checkpoint's): the 0.0003 between the two means moves them by far more than 1e-6
    cli_main(["predict", "--config", str(CONFIGS / "mnist/mlp.yaml"), *fast(folder), "--ckpt_path", str(ckpt)])
    own = pd.read_csv(max(run.parent.glob("version_*/predictions.csv"), key=lambda p: p.stat().st_mtime))
    columns = [f"prob_{d}" for d in range(10)]
    np.testing.assert_allclose(predicted[columns].to_numpy(), own[columns].to_numpy(), atol=1e-6)

    # predict a folder of PNG digits of other sizes, dark on light (inverted on reading)
    images, labels = digit_images(6, seed=5)
    pngs = tmp_path / "pngs"
    pngs.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(255 - img).resize((56, 56)).save(pngs / f"digit_{i}.png")
    (pngs / "notes.txt").write_text("not an image")
    (pngs / "scan.png").write_bytes(b"not a png")  # named in one line, not a Python warning
    capsys.readouterr()
    cli_main(
        [
            "predict",
            "--config",
            str(CONFIGS / "mnist/mlp.yaml"),
            *fast(folder),
            f"--data.init_args.predict_dir={pngs}",
            "--ckpt_path",
            str(ckpt),
        ]
    )
    said = capsys.readouterr()
    assert f"predict_dir {pngs}: skipped 1 unreadable file(s): {pngs / 'scan.png'} (" in said.out
    assert f"predict_dir {pngs}: inverted 6 of 6 image(s) with a light border" in said.out
    assert "UserWarning" not in said.err
    frame = pd.read_csv(max(run.parent.glob("version_*/predictions.csv"), key=lambda p: p.stat().st_mtime))
    assert list(frame["path"]) == [str(pngs / f"digit_{i}.png") for i in range(6)]
    probs = frame[[f"prob_{d}" for d in range(10)]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert (frame["predicted"].to_numpy() == probs.argmax(1)).all()
    assert (frame["predicted"].to_numpy() == labels).mean() >= 4 / 6


def test_compare_prints_one_block_per_model(tmp_path, capfd):
    folder = write_idx_set(tmp_path / "digits")
    configs = [str(CONFIGS / f"mnist/{m}.yaml") for m in ("naive_bayes", "lasso", "cnn")]
    result = compare_main([*configs, *fast(folder, 1), "--data.init_args.train_size=200"])
    out = capfd.readouterr().out  # the fits' worker processes included
    assert list(result.table.index) == ["naive_bayes", "lasso", "cnn"]
    assert result.table.loc["cnn", "params"] == 260_298
    assert {"test_acc", "fit_s", "params"} <= set(result.table.columns)
    blocks = result.blocks["accuracy per class"]
    assert list(blocks.index.unique(level=0)) == ["naive_bayes", "lasso", "cnn"]
    assert list(blocks.loc["lasso"].index) == ["Training Set", "Test Set"]
    for model in ("naive_bayes", "lasso", "cnn"):
        assert blocks.loc[(model, "Test Set"), "All"] == pytest.approx(result.table.loc[model, "test_acc"], abs=1e-6)
    assert blocks.loc[("naive_bayes", "Test Set"), "All"] > 0.8  # bars are easy for naive Bayes
    # each model's block once, in the comparison's output (not a second time as its fit ends)
    assert out.count("Training Set") == 3 and out.count("accuracy per class") == 1, out
    assert (result.out_dir / "accuracy_per_class.csv").is_file()


def test_wrong_data_dir_fails_with_a_clear_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(CONFIGS / "mnist/cnn.yaml"), f"--data.init_args.data_dir={tmp_path / 'nope'}"])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "mnist data not found" in err and str(tmp_path / "nope") in err
    assert "Traceback" not in err


def small_digit_images(n: int, seed: int, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Class-dependent ``size`` x ``size`` images: class k lights row k + 3, on salt noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n, size, size))
    for i, k in enumerate(labels):
        images[i, k + 3, 2 : size - 2] = rng.integers(180, 256, size=size - 4)
    return images.astype(np.uint8), labels.astype(np.uint8)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_digits_of_another_size_fit_test_and_predict_with_the_shipped_configs(tmp_path, capsys, model):
    """A digit set of 16 x 16 images: the shipped configs (written for 28 x 28) size their first
    dense layer to the data, say so, and a checkpoint tests and predicts with a fresh model
    built from the config, also without the training files at hand."""
    from test_mnist_data import write_idx

    folder = tmp_path / "digits16"
    folder.mkdir()
    for part, n, seed in (("train", 400, 0), ("t10k", 200, 1)):
        images, labels = small_digit_images(n, seed)
        write_idx(folder / f"{part}-images-idx3-ubyte", images, gz=True)
        write_idx(folder / f"{part}-labels-idx1-ubyte", labels, gz=True)
    config = str(CONFIGS / f"mnist/{model}.yaml")
    cli = cli_main(["fit", "--config", config, *fast(folder, 4)])
    out = capsys.readouterr().out
    config_features = {"mlp": 784, "cnn": 1600}[model]  # 28 x 28 pixels; 64 channels x 5 x 5
    assert f"(1 x 16 x 16) give its first dense layer 256 features, not the {config_features:,}" in out
    acc = float(cli.trainer.callback_metrics["test/acc"])
    assert acc > 0.8  # the rows are learnable at 16 x 16
    ckpt = tmp_path / f"logs/mnist/{model}/version_0/checkpoints/last.ckpt"  # best_by: last tests these weights

    tested = cli_main(["test", "--config", config, *fast(folder), "--ckpt_path", str(ckpt)])
    assert float(tested.trainer.callback_metrics["test/acc"]) == pytest.approx(acc, abs=1e-6)
    assert "give its first dense layer" not in capsys.readouterr().out  # the checkpoint's weights: no new layer

    # a folder of 32 x 32 PNGs, and no training files: read at the checkpoint's 16 x 16
    images, labels = small_digit_images(8, seed=5)
    pngs = tmp_path / "pngs"
    pngs.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).resize((32, 32), Image.NEAREST).save(pngs / f"digit_{i}.png")
    cli_main(
        [
            "predict",
            "--config",
            config,
            *fast(tmp_path / "nowhere"),
            f"--data.init_args.predict_dir={pngs}",
            "--data.init_args.predict_invert=false",
            "--ckpt_path",
            str(ckpt),
        ]
    )
    frame = pd.read_csv(next((tmp_path / f"logs/mnist/{model}").glob("version_*/predictions.csv")))
    assert len(frame) == 8 and (frame["predicted"].to_numpy() == labels).mean() >= 6 / 8

    # the 16 x 16 model tested on 28 x 28 digits: refused in one line naming both sizes
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["test", "--config", config, *fast(write_idx_set(tmp_path / "digits28")), "--ckpt_path", str(ckpt)])
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and "Traceback" not in err
    assert "this checkpoint's model was trained on 16 x 16 images, but the images in" in err and "are 28 x 28" in err


def test_validate_and_test_on_other_splits_are_refused_by_their_images(tmp_path):
    """Validation images the fit trained on are refused; the same validation images carved with
    other settings are not (the validation set is drawn before train_size subsamples the rest)."""
    folder = write_idx_set(tmp_path / "digits")
    config = ["--config", str(CONFIGS / "mnist/naive_bayes.yaml"), *fast(folder, epochs=1)]
    cli_main(["fit", *config])
    result = run_econdl("validate", *config, "--data.split_seed=1", "--ckpt_path=best")
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(
        r"([1-9]\d*) of this run's 50 validation images are among the 350 the checkpoint learnt", result.stderr
    )
    same = run_econdl("validate", *config, "--data.train_size=300", "--ckpt_path=best")
    assert same.returncode == 0 and "250 train / 50 val" in same.stdout, same.stdout + same.stderr
    assert run_econdl("test", *config, "--data.train_size=300", "--ckpt_path=best").returncode == 1
    # the test set is a file of its own, but a test also scores the training set (its Training Set row)
    tested = run_econdl("test", *config, "--data.val_size=0.5", "--ckpt_path=best")
    assert tested.returncode == 1, tested.stdout + tested.stderr
    assert "(200 training images now, 350 in the fit, 200 of them the same)" in tested.stderr
    assert "Training Set row" in tested.stderr and "econdl predict" in tested.stderr
    assert run_econdl("test", *config, "--ckpt_path=best").returncode == 0
    # other words for the same split: 1/8 of 400 images is the fit's 50
    assert run_econdl("test", *config, "--data.val_size=0.125", "--ckpt_path=best").returncode == 0


def test_test_and_validate_check_the_images_themselves_not_only_the_settings(tmp_path):
    """A training file that grew since the fit, with every setting as in the fit, carves other
    training and validation images (some the model learnt from): test, validate and a resume are
    refused, and nothing the fit wrote changes; images none of which the fit saw validate."""
    folder = write_idx_set(tmp_path / "digits")
    config = ["--config", str(CONFIGS / "mnist/mlp.yaml"), *fast(folder, epochs=1)]
    cli_main(["fit", *config])
    run = tmp_path / "logs/mnist/mlp/version_0"
    written = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    images, labels = digit_images(400, 0)
    more, more_labels = digit_images(40, 7)
    write_idx(folder / "train-images-idx3-ubyte", np.concatenate([images, more]), False)
    write_idx(folder / "train-labels-idx1-ubyte", np.concatenate([labels, more_labels]), False)
    tested = run_econdl("test", *config, "--ckpt_path=best")
    assert tested.returncode == 1, tested.stdout + tested.stderr
    assert "(390 training images now, 350 in the fit, 310 of them the same)" in tested.stderr
    validated = run_econdl("validate", *config, "--ckpt_path=best")
    assert validated.returncode == 1, validated.stdout + validated.stderr
    assert re.search(r"\b([1-9]\d*) of this run's 50 validation images are among the 350", validated.stderr)
    resumed = run_econdl("fit", *config, "--trainer.max_epochs=3", "--ckpt_path=last")
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert "the checkpoint's fit learnt from other images than this run would resume on" in resumed.stderr
    assert "split_seed, train_size, val_size)" in resumed.stderr  # the settings that carve the split
    assert [p.name for p, data in written.items() if p.read_bytes() != data] == []
    assert sorted(p for p in run.rglob("*") if p.is_file()) == sorted(written)  # no file added either
    # a digit set none of whose images the fit saw validates (and a test says it cannot score
    # its Training Set row)
    other = tmp_path / "other"
    other.mkdir()
    for part, n, seed in (("train", 300, 11), ("t10k", 100, 12)):
        a, b = digit_images(n, seed)
        write_idx(other / f"{part}-images-idx3-ubyte", a, False)
        write_idx(other / f"{part}-labels-idx1-ubyte", b, False)
    elsewhere = [c.replace(str(folder), str(other)) for c in config]
    assert run_econdl("validate", *elsewhere, "--ckpt_path=best").returncode == 0
    assert "0 of them the same" in run_econdl("test", *elsewhere, "--ckpt_path=best").stderr
    # the fit's training images as a test file: refused, where the fit's own test file tests
    leak = tmp_path / "leak"
    leak.mkdir()
    write_idx(leak / "train-images-idx3-ubyte", images, False)  # the fit's training file, as it was
    write_idx(leak / "train-labels-idx1-ubyte", labels, False)
    write_idx(leak / "t10k-images-idx3-ubyte", images[:60], False)
    write_idx(leak / "t10k-labels-idx1-ubyte", labels[:60], False)
    leaked = run_econdl("test", *[c.replace(str(folder), str(leak)) for c in config], "--ckpt_path=best")
    assert leaked.returncode == 1, leaked.stdout + leaked.stderr
    assert re.search(
        r"\b([1-9]\d*) of this run's 60 test images are among the 350 the checkpoint learnt", leaked.stderr
    )


def test_a_resume_reads_the_same_images_from_wherever_they_are_now(tmp_path):
    """The run's folder of digits moved and gzipped, the validation size given as the fraction
    that carves the same 50 images: the resume goes on (it was refused naming the settings, and
    the fix it named pointed at the old folder), and the run's config.yaml records the new place.
    A folder holding a file twice says how many validation and test images are such copies."""
    folder = write_idx_set(tmp_path / "digits")
    config = ["--config", str(CONFIGS / "mnist/mlp.yaml"), *fast(folder, epochs=1)]
    cli_main(["fit", *config])
    moved = write_idx_set(tmp_path / "moved", gz=True)
    resumed = run_econdl(
        "fit",
        *config,
        f"--data.data_dir={moved}",
        "--data.val_size=0.125",
        "--trainer.max_epochs=2",
        "--ckpt_path=last",
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    saved = yaml.safe_load((tmp_path / "logs/mnist/mlp/version_0/config.yaml").read_text())
    assert saved["data"]["init_args"]["data_dir"] == str(moved) and saved["trainer"]["max_epochs"] == 2
    refused = run_econdl("fit", *config, "--data.normalize=false", "--trainer.max_epochs=3", "--ckpt_path=last")
    assert refused.returncode == 1 and "normalize: True before, False now" in refused.stderr  # what it learns on
    # a checkpoint written without fingerprints (before econdl kept them): the settings decide
    last = tmp_path / "logs/mnist/mlp/version_0/checkpoints/last.ckpt"
    original = last.read_bytes()
    state = torch.load(last, weights_only=False)
    del state["MNISTDataModule"]["examples"]
    torch.save(state, last)
    older = run_econdl("fit", *config, "--data.split_seed=5", "--trainer.max_epochs=3", "--ckpt_path=last")
    assert older.returncode == 1 and "split_seed: 0 before, 5 now" in older.stderr, older.stdout + older.stderr
    last.write_bytes(original)
    # a test file of training images, swapped in by a resume, would then pass as the fit's own
    leak = tmp_path / "leak"
    images, labels = digit_images(400, 0)
    write_idx_set(leak)
    write_idx(leak / "t10k-images-idx3-ubyte", images[:60], False)
    write_idx(leak / "t10k-labels-idx1-ubyte", labels[:60], False)
    leaked = run_econdl("fit", *config, f"--data.data_dir={leak}", "--trainer.max_epochs=3", "--ckpt_path=last")
    assert leaked.returncode == 1, leaked.stdout + leaked.stderr
    assert re.search(r"\b[1-9]\d* of this run's 60 test images are among the 350 the checkpoint", leaked.stderr)
    # fewer of the same training images: the Training Set row would score only some it learnt from
    fewer = run_econdl("test", *config, "--data.val_size=60", "--ckpt_path=last")
    assert "would score only 340 of the 350 it learnt from" in fewer.stderr, fewer.stderr
    twice = tmp_path / "twice"
    write_idx_set(twice)
    write_idx(twice / "train-images-idx3-ubyte", np.concatenate([images, images[:100]]), False)
    write_idx(twice / "train-labels-idx1-ubyte", np.concatenate([labels, labels[:100]]), False)
    fitted = run_econdl("fit", "--config", str(CONFIGS / "mnist/naive_bayes.yaml"), *fast(twice, epochs=1))
    configs = tmp_path / "configs"
    configs.mkdir()
    for name in ("naive_bayes.yaml", "lasso.yaml"):
        (configs / name).write_text((CONFIGS / "mnist" / name).read_text())
    compared = run_econdl("compare", str(configs), *fast(twice, epochs=1)[:3])
    assert compared.returncode == 0 and compared.stdout.count("are copies of training images") == 1, compared.stdout
    assert re.search(
        r"mnist: ([1-9]\d*) of the 50 validation images are copies of training images \(the same pixels\)",
        fitted.stdout,
    ), fitted.stdout


def test_the_one_cycle_schedule_ends_at_its_last_optimizer_step_when_gradients_are_accumulated(tmp_path):
    """80 training images in batches of 20, gradients accumulated over 2 batches, 2 epochs: 4
    optimizer steps (by hand), so the schedule starts at max_lr / div_factor and its fourth step
    runs at max_lr / (div_factor * final_div_factor) (econdl.schedules.OneCycleLR's docstring)."""
    import lightning as L

    class Rates(L.Callback):
        def __init__(self) -> None:
            self.rates: list[float] = []

        def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
            self.rates.append(optimizer.param_groups[0]["lr"])

    folder = write_idx_set(tmp_path / "digits", n_train=100, n_test=20)
    rates = Rates()
    args = [
        *fast(folder, 2),
        "--data.init_args.val_size=20",
        "--data.init_args.batch_size=20",
        "--trainer.accumulate_grad_batches=2",
        "--test_after_fit=false",
    ]
    cli_main(["fit", "--config", str(CONFIGS / "mnist/mlp.yaml"), *args], trainer_defaults={"callbacks": [rates]})
    schedule = yaml.safe_load((CONFIGS / "mnist/mlp.yaml").read_text())["lr_scheduler"]["init_args"]
    max_lr = schedule["max_lr"]
    assert len(rates.rates) == 4
    assert rates.rates[0] == pytest.approx(max_lr / 25)  # OneCycleLR's defaults: div_factor 25, final 1e4
    assert rates.rates[-1] == pytest.approx(max_lr / 25 / 1e4)
    assert max(rates.rates) > rates.rates[0] > rates.rates[-1]
