"""MNIST models: parameter counts, baselines against scikit-learn, the class table by hand."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import BernoulliNB, GaussianNB

from econdl.callbacks import ClassAccuracyTable
from econdl.data import InMemoryDataModule, MNISTDataModule
from econdl.errors import ConfigError
from econdl.nets import MLP, DigitCNN, count_parameters
from econdl.tasks import Classifier, LassoLogit, NaiveBayes
from test_mnist_data import write_idx_set


def quiet_trainer(**kwargs) -> L.Trainer:
    defaults = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    return L.Trainer(**{**defaults, **kwargs})


def test_parameter_counts_match_the_lecture():
    mlp = MLP(in_features=784, widths=[128, 128, 128], out_features=10, flatten=True)
    assert count_parameters(mlp) == 134_794
    cnn = DigitCNN()
    assert count_parameters(cnn) == 260_298
    assert cnn(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


@pytest.fixture
def digits(tmp_path) -> MNISTDataModule:
    # raw [0, 1] pixels, as the baselines' configs set (Bernoulli naive Bayes binarises them)
    dm = MNISTDataModule(data_dir=str(write_idx_set(tmp_path / "digits")), val_size=50, batch_size=64, normalize=False)
    dm.setup("fit")
    return dm


def scaled(dm: MNISTDataModule, split: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = dm.split(split)
    return (x.reshape(len(x), -1).double() / 255).numpy(), y.numpy()


def test_bernoulli_naive_bayes_matches_sklearn(digits):
    model = NaiveBayes(kind="bernoulli", alpha=1.0, threshold=0.5)
    quiet_trainer(max_epochs=1).fit(model, digits)
    x, y = scaled(digits, "train")
    ref = BernoulliNB(alpha=1.0, binarize=0.5).fit(x, y)
    np.testing.assert_allclose(model.log_prior.detach().numpy(), ref.class_log_prior_, rtol=1e-10)
    xt, _ = scaled(digits, "test")
    ours = torch.softmax(model(torch.from_numpy(xt).float()).detach().double(), 1).numpy()
    np.testing.assert_allclose(ours, ref.predict_proba(xt), atol=1e-4)
    assert (ours.argmax(1) == ref.predict(xt)).all()


@pytest.mark.parametrize("var_smoothing", [None, 1e-2])  # the default, and one large enough to tell
def test_gaussian_naive_bayes_matches_sklearn(digits, var_smoothing):
    smoothing = {} if var_smoothing is None else {"var_smoothing": var_smoothing}
    model = NaiveBayes(kind="gaussian", **smoothing)
    quiet_trainer(max_epochs=1).fit(model, digits)
    x, y = scaled(digits, "train")
    ref = GaussianNB(**smoothing).fit(x, y)
    np.testing.assert_allclose(model.center.detach().numpy(), ref.theta_, rtol=1e-6)  # float32 pixels
    np.testing.assert_allclose(model.spread.detach().numpy(), ref.var_, rtol=1e-5)
    xt, _ = scaled(digits, "test")
    ours = model(torch.from_numpy(xt).float()).detach().double().numpy()
    np.testing.assert_allclose(ours, ref.predict_joint_log_proba(xt), rtol=1e-4)


class Blobs(InMemoryDataModule):
    """Three Gaussian classes in five dimensions, two of them irrelevant (a LASSO fixture)."""

    names = ("inputs", "labels")
    class_names = ["a", "b", "c"]

    def build(self):
        gen = self.generator()
        y = torch.arange(150) % 3
        x = torch.randn(150, 5, generator=gen)
        x[:, 0] += 1.5 * (y == 0)
        x[:, 1] += 1.5 * (y == 1) - 0.5 * (y == 2)
        return {"train": (x, y), "val": (x[:30], y[:30]), "test": (x[:30], y[:30])}


class FlatBlobs(Blobs):
    """Blobs whose last feature is 0 throughout class a (a border pixel of every digit)."""

    def build(self):
        splits = super().build()
        for x, y in splits.values():
            x[y == 0, 4] = 0.0
        return splits


class WithoutC(Blobs):
    """Blobs without a training example of class c."""

    def build(self):
        splits = super().build()
        x, y = splits["train"]
        splits["train"] = (x[y != 2], y[y != 2])
        return splits


def test_naive_bayes_without_smoothing_is_refused_only_where_it_divides_by_zero():
    """alpha 0 (var_smoothing 0) with a feature that never varies within a class, as a border
    pixel of digits, made log(0) (a zero variance): the guard stopped the fit with a NaN
    message that blamed the inputs and a polynomial basis.  It is refused naming the option.
    Where every feature varies within every class, no smoothing is the exact maximum-likelihood
    fit, as scikit-learn's."""
    for kind, option in (("bernoulli", "alpha"), ("gaussian", "var_smoothing")):
        refused = rf"{option}=0: 1 pixel\(s\) take|{option}=0: 1 pixel\(s\) are never on"
        with pytest.raises(ConfigError, match=refused) as error:
            quiet_trainer(max_epochs=1, limit_val_batches=0).fit(NaiveBayes(kind=kind, **{option: 0.0}), FlatBlobs())
        assert f"give --model.{option} above 0" in str(error.value)
    blobs = Blobs(batch_size=150)
    blobs.setup()
    x, y = (t.double().numpy() for t in blobs.split("train"))
    refs = {
        "bernoulli": BernoulliNB(alpha=0.0, force_alpha=True, binarize=0.5),
        "gaussian": GaussianNB(var_smoothing=0.0),
    }
    for kind, ref in refs.items():
        model = NaiveBayes(kind=kind, **({"alpha": 0.0} if kind == "bernoulli" else {"var_smoothing": 0.0}))
        quiet_trainer(max_epochs=1, limit_val_batches=0).fit(model, blobs)
        ref.fit(x, y.astype(int))
        ours = torch.softmax(model(torch.from_numpy(x).float()).detach().double(), 1).numpy()
        np.testing.assert_allclose(ours, ref.predict_proba(x), atol=1e-4)
    # a class without training images gives no division by zero either: fitted, never predicted
    for kind, option in (("bernoulli", "alpha"), ("gaussian", "var_smoothing")):
        model = NaiveBayes(kind=kind, **{option: 0.0})
        quiet_trainer(max_epochs=1, limit_val_batches=0).fit(model, WithoutC(batch_size=150))
        assert all(bool(torch.isfinite(t).all()) for t in (model.log_prior, model.center, model.spread)), kind
        assert not bool((model(torch.from_numpy(x).float()).argmax(1) == 2).any()), kind


class OnHalves(Blobs):
    """Blobs rounded to halves: many inputs lie exactly on the threshold 0.5."""

    def build(self):
        return {name: ((x * 2).round() / 2, y) for name, (x, y) in super().build().items()}


def test_bernoulli_naive_bayes_counts_an_input_on_the_threshold_as_off():
    """scikit-learn's binarize: x > threshold is 1, x == threshold is 0."""
    blobs = OnHalves(batch_size=150)
    blobs.setup()
    x, y = (t.double().numpy() for t in blobs.split("train"))
    assert (x == 0.5).sum() > 50
    model = NaiveBayes(kind="bernoulli", threshold=0.5)
    quiet_trainer(max_epochs=1, limit_val_batches=0).fit(model, blobs)
    ref = BernoulliNB(alpha=1.0, binarize=0.5).fit(x, y.astype(int))
    p = np.exp(ref.feature_log_prob_)
    np.testing.assert_allclose(model.center.detach().numpy(), np.log(p) - np.log1p(-p), rtol=1e-10)


def test_naive_bayes_names_one_absent_class_in_the_singular(capsys):
    quiet_trainer(max_epochs=1, limit_val_batches=0).fit(NaiveBayes(kind="gaussian"), WithoutC(batch_size=150))
    assert "NaiveBayes: no training example of class(es) c; it never predicts it (prior probability 0)" in (
        capsys.readouterr().out
    )


def lasso_objective(w: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray, lam: float) -> float:
    scores = x @ w.T + b
    top = scores.max(1, keepdims=True)  # subtracted before exp so it cannot overflow
    logp = scores - top - np.log(np.exp(scores - top).sum(1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean() + lam * np.abs(w).sum())


def test_lasso_logit_matches_sklearn_l1_logistic_regression():
    lam = 0.02
    dm = Blobs(batch_size=150)  # one batch: proximal gradient descent proper
    model = LassoLogit(lam=lam)
    model.configure_optimizers = lambda: torch.optim.SGD(model.parameters(), lr=2.0)
    quiet_trainer(max_epochs=50, limit_val_batches=0, num_sanity_val_steps=0).fit(model, dm)
    x, y = (t.double().numpy() for t in dm.split("train"))
    y = y.astype(int)
    ref = LogisticRegression(l1_ratio=1.0, solver="saga", C=1 / (lam * len(y)), tol=1e-10, max_iter=20_000).fit(x, y)
    w, b = model.weight.detach().double().numpy(), model.bias.detach().double().numpy()
    ours, theirs = lasso_objective(w, b, x, y, lam), lasso_objective(ref.coef_, ref.intercept_, x, y, lam)
    assert ours <= theirs + 1e-5
    np.testing.assert_allclose(w, ref.coef_, atol=2e-3)
    # the same weights are exactly zero (soft-thresholding), as in scikit-learn's solution
    assert (w == 0).sum() >= 3
    np.testing.assert_array_equal(w == 0, np.abs(ref.coef_) < 1e-6)


# Constant-step minibatch proximal SGD (the shipped lasso.yaml: lr 0.1, batch 128) does not
# converge to the exact minimiser; it stalls in a noise band around it.  Measured on this
# fixture after 150 epochs (450 steps): objective 0.026 against scikit-learn's 0.013, all
# test predictions equal, 40% of the weights exactly zero.  Without the proximal step no
# weight is zero; a wrong gradient or threshold leaves the band.
LASSO_OBJECTIVE_GAP = 0.02


def test_shipped_lasso_config_reaches_sklearn_l1_logit_within_its_sgd_noise(tmp_path):
    from econdl.cli import cli_main
    from helpers import CONFIGS

    folder = write_idx_set(tmp_path / "digits")
    cli = cli_main(
        [
            "fit",
            "--config",
            str(CONFIGS / "mnist/lasso.yaml"),
            f"--data.init_args.data_dir={folder}",
            "--data.init_args.val_size=50",
            "--trainer.max_epochs=150",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            "--test_after_fit=false",
        ]
    )
    model, dm = cli.model, cli.datamodule
    assert isinstance(cli.trainer.optimizers[0], torch.optim.SGD) and dm.batch_size == 128  # the shipped recipe
    x, y = scaled(dm, "train")
    ref = LogisticRegression(l1_ratio=1.0, solver="saga", C=1 / (model.lam * len(y)), tol=1e-8, max_iter=5000).fit(x, y)
    w, b = model.weight.detach().double().numpy(), model.bias.detach().double().numpy()
    ours, theirs = lasso_objective(w, b, x, y, model.lam), lasso_objective(ref.coef_, ref.intercept_, x, y, model.lam)
    assert theirs <= ours <= theirs + LASSO_OBJECTIVE_GAP
    xt, _ = scaled(dm, "test")
    assert ((xt @ w.T + b).argmax(1) == ref.predict(xt)).mean() >= 0.98
    assert (w == 0).mean() >= 0.3  # soft-thresholding: exact zeros, as LASSO's solution has


def test_class_table_matches_a_hand_count(tmp_path, monkeypatch):
    """Every row of both tables, the plotted confusion matrix and the logged accuracies are
    counted again by hand, on the split each names."""
    from econdl.callbacks import class_table

    plotted: list[tuple[torch.Tensor, str]] = []
    draw = class_table.plot_confusion
    monkeypatch.setattr(class_table, "plot_confusion", lambda m, n, p, s: plotted.append((m, s)) or draw(m, n, p, s))
    # 203 test images: three digits have one more than the rest, so the accuracy over all
    # images and the mean of the per-digit accuracies differ wherever those do
    digits = MNISTDataModule(
        data_dir=str(write_idx_set(tmp_path / "uneven", n_test=203)), val_size=50, batch_size=64, normalize=False
    )
    model = Classifier(MLP(in_features=784, widths=[8], out_features=10, flatten=True))
    table_cb = ClassAccuracyTable(on_fit=True)
    trainer = quiet_trainer(max_epochs=2, callbacks=[table_cb], default_root_dir=str(tmp_path))
    trainer.fit(model, digits)

    def by_hand(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        model.eval()
        x, y = digits.split(split)
        with torch.no_grad():
            return model(x.float() / 255).argmax(1), y

    def assert_row(table, row: str, split: str) -> None:
        pred, y = by_hand(split)
        for k in range(10):
            hand = float((pred[y == k] == k).double().mean())
            assert table.loc[row, str(k)] == pytest.approx(hand, abs=1e-6), (row, k)
        assert table.loc[row, "All"] == pytest.approx(float((pred == y).double().mean()), abs=1e-6), row

    assert list(table_cb.table.index) == ["Training Set", "Validation Set"]
    assert_row(table_cb.table, "Training Set", "train")
    assert_row(table_cb.table, "Validation Set", "val")
    trainer.test(model, digits, verbose=False)
    table = table_cb.table
    assert list(table.index) == ["Training Set", "Test Set"]
    assert list(table.columns) == [str(d) for d in range(10)] + ["All"]
    for split, row in (("train", "Training Set"), ("test", "Test Set")):
        assert_row(table, row, split)
    # the confusion matrices drawn: the fit's on the validation split, the test's on the test split
    assert [s for _, s in plotted] == ["Validation Set", "Test Set"]
    for (matrix, _), split in zip(plotted, ("val", "test"), strict=True):
        pred, y = by_hand(split)
        hand = torch.zeros(10, 10, dtype=torch.long)
        hand.index_put_((y.long(), pred), torch.ones_like(y, dtype=torch.long), accumulate=True)
        assert torch.equal(matrix.long(), hand), split
    per_digit = table.loc["Test Set", [str(d) for d in range(10)]]
    assert abs(per_digit.mean() - table.loc["Test Set", "All"]) > 1e-4, per_digit  # the two averages differ here
    metrics = trainer.callback_metrics
    assert float(metrics["test/acc_class_3"]) == pytest.approx(table.loc["Test Set", "3"], abs=1e-6)
    assert float(metrics["train/acc"]) == pytest.approx(table.loc["Training Set", "All"], abs=1e-6)
    assert float(metrics["test/acc"]) == pytest.approx(table.loc["Test Set", "All"], abs=1e-6)  # not class-averaged


def test_one_cycle_schedule_is_sized_by_the_trainer_and_refuses_to_run_unsized():
    from econdl.schedules import OneCycleLR

    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = OneCycleLR(opt, max_lr=0.01, pct_start=0.25)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01 / 25)  # the start, before sizing
    sched.set_total_steps(101)
    lrs = []
    for _ in range(100):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert max(lrs) == pytest.approx(0.01) and lrs.index(max(lrs)) == 24  # peak at 25 of 100 steps
    assert lrs[-1] == pytest.approx(0.01 / 25 / 1e4)  # ends near zero
    unsized = OneCycleLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0))
    with pytest.raises(RuntimeError, match="does not know the run's length"):
        unsized.step()
    with pytest.raises(ValueError, match="set --trainer.max_epochs"):
        unsized.set_total_steps(float("inf"))


def test_one_cycle_schedule_follows_cosine_ramps_up_and_down():
    from econdl.schedules import OneCycleLR

    sched = OneCycleLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), max_lr=0.01, pct_start=0.25)
    sched.set_total_steps(101)
    share = np.arange(101) / 100
    low, high, final = 0.01 / 25, 0.01, 0.01 / 25 / 1e4
    up = high + (low - high) * (1 + np.cos(np.pi * share / 0.25)) / 2
    down = final + (high - final) * (1 + np.cos(np.pi * (share - 0.25) / 0.75)) / 2
    expected = np.where(share <= 0.25, up, down)
    np.testing.assert_allclose([sched.get_lr_at(step) for step in range(101)], expected, rtol=1e-9)


def test_a_class_absent_from_a_split_has_no_accuracy_rather_than_zero():
    """On a small data set a class can be missing from a split: its accuracy is undefined, so
    the tables show '-' (NaN in the CSV), while the overall accuracy counts what is there."""
    import pandas as pd

    from econdl.callbacks.class_table import accuracy_row
    from econdl.report.table import block_to_console, missing_as_none

    confusion = torch.tensor([[3, 1, 0], [0, 0, 0], [1, 0, 2]])  # no example of class "b"
    row = accuracy_row(confusion, ["a", "b", "c"])
    assert row["a"] == pytest.approx(0.75) and row["c"] == pytest.approx(2 / 3)
    assert row["b"] != row["b"] and row["All"] == pytest.approx(5 / 7)
    block = pd.DataFrame([row], index=["Training Set"])
    assert block_to_console("m", block).splitlines()[1].split() == ["Training", "Set", "0.75", "-", "0.67", "0.71"]
    assert "| -   |" in missing_as_none(block).to_markdown(floatfmt=".2f", missingval="-")
    from econdl.report import _block_html

    html = _block_html("m", block)
    assert "<td>-</td>" in html and "NaN" not in html


def test_a_one_cycle_schedule_resumed_into_a_longer_fit_says_its_extra_steps_run_at_its_final_rate(capsys):
    from econdl.schedules import OneCycleLR

    def schedule(total: int) -> OneCycleLR:
        sched = OneCycleLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), max_lr=0.01)
        sched.set_total_steps(total)
        return sched

    finished = schedule(10)
    for _ in range(10):
        finished.optimizer.step()
        finished.step()
    state = finished.state_dict()
    same = schedule(10)
    same.load_state_dict(state)
    assert capsys.readouterr().out == ""  # resuming the same fit: nothing to say
    shorter = schedule(5)
    shorter.load_state_dict(state)
    assert capsys.readouterr().out == ""  # a shorter fit: no steps beyond the schedule
    longer = schedule(25)
    longer.load_state_dict(state)
    printed = capsys.readouterr().out
    assert "spans 10 optimizer steps and this fit 25" in printed
    assert f"final learning rate ({0.01 / 25 / 1e4:.3g})" in printed
    assert longer.last_epoch == finished.last_epoch and longer.total_steps == 10  # resumed exactly


@pytest.mark.parametrize("kind", ["bernoulli", "gaussian"])
def test_naive_bayes_on_a_digit_set_of_some_digits_never_predicts_the_absent_ones(tmp_path, capsys, kind):
    """Training files that hold only the digits 1, 3 and 7 (and a 5 in the test file): the data
    say so, naive Bayes fits the three (as scikit-learn does on them) instead of failing on the
    other seven, and every parameter it saves is finite."""
    from test_mnist_data import digit_images, write_idx

    folder = tmp_path / "some"
    folder.mkdir()
    for part, n, seed, kept in (("train", 300, 0, [1, 3, 7]), ("t10k", 100, 1, [1, 3, 5, 7])):
        images, labels = digit_images(n, seed)
        keep = np.isin(labels, kept)
        write_idx(folder / f"{part}-images-idx3-ubyte", images[keep], gz=False)
        write_idx(folder / f"{part}-labels-idx1-ubyte", labels[keep], gz=False)
    dm = MNISTDataModule(data_dir=str(folder), val_size=20, batch_size=64, normalize=False)
    model = NaiveBayes(kind=kind)
    quiet_trainer(max_epochs=1).fit(model, dm)
    out = capsys.readouterr().out
    assert (
        "the training images hold 3 of the 10 classes (1, 3, 7); no model learns the others, and the test images of 5"
        in out
    )
    assert "NaiveBayes: no training example of class(es) 0, 2, 4, 5, 6, 8, 9; it never predicts them" in out
    assert all(torch.isfinite(p).all() for p in model.parameters())
    x, y = scaled(dm, "train")
    ref = (BernoulliNB(alpha=1.0, binarize=0.5) if kind == "bernoulli" else GaussianNB()).fit(x, y)
    xt, _ = scaled(dm, "test")
    ours = model(torch.from_numpy(xt).float()).detach().argmax(1).numpy()
    np.testing.assert_array_equal(ours, ref.predict(xt))
    assert set(ours) <= {1, 3, 7}


@pytest.mark.parametrize("dim", [False, True])
def test_bernoulli_naive_bayes_on_images_that_never_cross_its_threshold_says_so(tmp_path, dim):
    """Images written with pixel values 0-16 (as scikit-learn's digits come) all binarise to
    zero at the threshold 0.5 of [0, 1]: the fit stops naming the largest value and the fixes
    rather than scoring at chance; inverted images (all above it) likewise.  A threshold below
    the largest value fits as scikit-learn does."""
    from econdl.errors import DataError
    from test_mnist_data import digit_images, write_idx

    folder = tmp_path / "faint"
    folder.mkdir()
    for part, n, seed in (("train", 300, 0), ("t10k", 100, 1)):
        images, labels = digit_images(n, seed)
        images = (images.astype(np.float64) * 16 / 255).round().astype(np.uint8) if dim else 255 - images // 4
        write_idx(folder / f"{part}-images-idx3-ubyte", images, gz=False)
        write_idx(folder / f"{part}-labels-idx1-ubyte", labels, gz=False)
    dm = MNISTDataModule(data_dir=str(folder), val_size=20, batch_size=64, normalize=False)
    with pytest.raises(DataError) as err:
        quiet_trainer(max_epochs=1).fit(NaiveBayes(kind="bernoulli"), dm)
    if dim:
        assert "no training input is above threshold=0.5 (the largest is 0.06275" in str(err.value)
        assert "--model.threshold below 0.06275" in str(err.value)
        model = NaiveBayes(kind="bernoulli", threshold=0.03)
        quiet_trainer(max_epochs=1).fit(model, dm)
        x, y = scaled(dm, "train")
        xt, _ = scaled(dm, "test")
        ref = BernoulliNB(alpha=1.0, binarize=0.03).fit(x, y)
        np.testing.assert_array_equal(model(torch.from_numpy(xt).float()).detach().argmax(1).numpy(), ref.predict(xt))
        assert (ref.predict(xt) == dm.split("test")[1].numpy()).mean() > 0.5
    else:
        assert "every training input is above threshold=0.5 (the smallest is 0.7" in str(err.value)


def test_bernoulli_naive_bayes_fits_a_single_training_image(tmp_path):
    """One training image has every pixel constant across the training set; it was refused as
    "no training input is above threshold=0.5 (the largest is 1 ...)", a contradiction."""
    folder = write_idx_set(tmp_path / "digits")
    dm = MNISTDataModule(data_dir=str(folder), train_size=2, val_size=1, batch_size=64, normalize=False)
    model = NaiveBayes(kind="bernoulli")
    quiet_trainer(max_epochs=1).fit(model, dm)
    x, y = scaled(dm, "train")
    assert len(y) == 1
    xt, _ = scaled(dm, "test")
    ref = BernoulliNB(alpha=1.0, binarize=0.5).fit(x, y)
    np.testing.assert_array_equal(model(torch.from_numpy(xt).float()).detach().argmax(1).numpy(), ref.predict(xt))


def test_a_class_with_no_test_example_has_no_accuracy_not_zero(tmp_path):
    """A test set without any 9 (a small or filtered set): its accuracy is undefined, as the
    table's "-" says, not the 0.0 that torchmetrics gives, which reads as "every 9 missed"."""
    from test_mnist_data import digit_images, write_idx

    folder = write_idx_set(tmp_path / "digits")
    images, labels = digit_images(200, 1)
    keep = labels != 9
    write_idx(folder / "t10k-images-idx3-ubyte", images[keep], False)
    write_idx(folder / "t10k-labels-idx1-ubyte", labels[keep], False)
    dm = MNISTDataModule(data_dir=str(folder), val_size=50, batch_size=64, normalize=False)
    model = Classifier(MLP(in_features=784, widths=[8], out_features=10, flatten=True))
    table_cb = ClassAccuracyTable()
    trainer = quiet_trainer(max_epochs=1, callbacks=[table_cb], default_root_dir=str(tmp_path))
    trainer.fit(model, dm)
    trainer.test(model, dm, verbose=False)
    metrics, table = trainer.callback_metrics, table_cb.table
    assert np.isnan(table.loc["Test Set", "9"]) and torch.isnan(metrics["test/acc_class_9"])
    for k in range(9):
        assert float(metrics[f"test/acc_class_{k}"]) == pytest.approx(table.loc["Test Set", str(k)], abs=1e-6)


def test_soft_threshold_shrinks_by_t_and_gives_exact_zeros_within_it():
    from econdl.tasks.lasso import soft_threshold

    out = soft_threshold(torch.tensor([-2.0, -0.5, 0.5, 2.0]), 1.0)
    assert torch.equal(out, torch.tensor([-1.0, 0.0, 0.0, 1.0]))  # exactly zero, not merely small
    assert torch.equal(soft_threshold(torch.tensor([-3.0, 0.25, 1.0]), 0.25), torch.tensor([-2.75, 0.0, 0.75]))


def one_step_lasso(lam: float, lr: float) -> tuple[LassoLogit, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """LassoLogit on Blobs (one batch of all 150 rows), started from fixed non-zero weights,
    after exactly one training step of plain SGD; also the starting weights and the data."""
    gen = torch.Generator().manual_seed(3)
    w0, b0 = 0.3 * torch.randn(3, 5, generator=gen), 0.1 * torch.randn(3, generator=gen)
    model = LassoLogit(lam=lam)
    model.weight.data, model.bias.data = w0.clone(), b0.clone()  # sized already: setup keeps them
    model.configure_optimizers = lambda: torch.optim.SGD(model.parameters(), lr=lr)
    dm = Blobs(batch_size=150)
    quiet_trainer(max_epochs=1, limit_val_batches=0, num_sanity_val_steps=0).fit(model, dm)
    x, y = (t.double().numpy() for t in dm.split("train"))
    return model, w0.double().numpy(), b0.double().numpy(), x, y.astype(int)


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_one_lasso_step_is_a_gradient_step_then_soft_thresholding_by_lr_times_lam():
    """The module docstring and docs/mnist.md: an SGD step on the mean cross-entropy, then the
    proximal map of the L1 term, soft-thresholding every weight by ``lr * lam``; the
    intercepts are not penalised.  Checked by hand with numpy on one full-batch step."""
    lam, lr = 0.1, 0.5  # threshold lr * lam = 0.05, lam alone would be 0.1
    model, w0, b0, x, y = one_step_lasso(lam, lr)
    resid = softmax_rows(x @ w0.T + b0) - np.eye(3)[y]  # d(mean cross-entropy)/d(scores) * n
    step_w = w0 - lr * resid.T @ x / len(y)
    step_b = b0 - lr * resid.mean(0)
    hand_w = np.sign(step_w) * np.clip(np.abs(step_w) - lr * lam, 0, None)
    # the case is telling: some weights lie between lr * lam and lam (kept here, zeroed by lam)
    # and some within lr * lam (exactly zero)
    between = (np.abs(step_w) > lr * lam + 1e-3) & (np.abs(step_w) < lam - 1e-3)
    assert between.any() and (np.abs(step_w) < lr * lam - 1e-3).any()
    w, b = model.weight.detach().double().numpy(), model.bias.detach().double().numpy()
    np.testing.assert_allclose(w, hand_w, atol=1e-6)
    np.testing.assert_array_equal(w == 0, hand_w == 0)
    np.testing.assert_allclose(b, step_b, atol=1e-6)  # the intercepts: a plain gradient step


@pytest.mark.parametrize("lr", [0.0, 0.5])
def test_logged_lasso_train_loss_is_the_penalised_objective(lr):
    """train/loss is the objective the module minimises (its docstring: mean cross-entropy plus
    ``lam * sum |W|``; docs/mnist.md calls it the penalised loss and says to watch it level
    off), at the weights the batch's loss was computed on, as a network's train/loss is: both
    terms at the starting weights, computed here by hand.  (The penalty was taken after the
    step, of weights the cross-entropy never saw; with lr 0 nothing moves.)"""
    lam = 0.05
    model, w0, b0, x, y = one_step_lasso(lam, lr=lr)
    moved = not np.array_equal(model.weight.detach().double().numpy(), w0)
    assert moved == (lr > 0)
    cross_entropy = lasso_objective(w0, b0, x, y, 0.0)
    penalty = lam * np.abs(w0).sum()
    assert penalty > 0.1  # large enough that leaving it out is seen
    if moved:  # and the penalty after the step differs enough to be told apart
        assert abs(lam * np.abs(model.weight.detach().double().numpy()).sum() - penalty) > 1e-3
    logged = float(model.trainer.callback_metrics["train/loss"])
    assert logged == pytest.approx(cross_entropy + penalty, abs=1e-5)


def test_a_lasso_checkpoint_loads_into_a_new_model_that_predicts_the_same(tmp_path):
    model, *_ = one_step_lasso(0.01, lr=0.5)
    path = tmp_path / "lasso.ckpt"
    model.trainer.save_checkpoint(path)
    loaded = LassoLogit.load_from_checkpoint(path)
    x = torch.randn(7, 5)
    assert torch.equal(loaded(x), model(x))


def test_a_lasso_of_lam_zero_is_the_plain_logit_and_a_negative_lam_is_refused():
    assert LassoLogit(lam=0.0).lam == 0.0
    with pytest.raises(ConfigError, match="lam=-0.1 must be zero or positive"):
        LassoLogit(lam=-0.1)


@pytest.mark.parametrize("plateau", [False, True])
def test_a_lasso_steps_its_epoch_schedule_once_an_epoch(plateau):
    """Manual optimization: the LASSO steps an epoch-level scheduler itself.  A ReduceLROnPlateau
    is stepped only on a validation loss (none here), never on a made-up one."""
    model = LassoLogit(lam=0.01)

    def optimizers():
        opt = torch.optim.SGD(model.parameters(), lr=0.8)
        if plateau:
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
            return {"optimizer": opt, "lr_scheduler": sched}
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)}

    model.configure_optimizers = optimizers
    trainer = quiet_trainer(max_epochs=3, limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(model, Blobs(batch_size=50))
    sched = trainer.lr_scheduler_configs[0].scheduler
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.8 if plateau else 0.8 / 2**3)
    assert (sched.last_epoch, sched.num_bad_epochs if plateau else 0) == ((0, 0) if plateau else (3, 0))


def test_the_logged_training_loss_is_each_epochs_own_mean_of_its_steps():
    from econdl.tasks.running import EpochMean

    logged: list[tuple[str, float]] = []

    class Module:
        def log(self, name, value, **kwargs):
            logged.append((name, float(value)))

    mean = EpochMean()
    epochs = [[1.0, 2.0, 6.0], [4.0, 8.0]]
    for losses in epochs:
        for loss in losses:
            mean.update(torch.tensor(loss))
        mean.log(Module(), "train/loss")
    mean.log(Module(), "train/loss")  # an epoch without steps logs nothing
    assert logged == [("train/loss", pytest.approx(np.mean(losses))) for losses in epochs]


def test_a_lam_too_large_for_any_gradient_keeps_every_weight_exactly_zero(digits):
    """Pixels lie in [0, 1] and softmax residuals in [-1, 1], so one SGD step (lr 0.1, the
    model's default optimizer) moves a weight by at most 0.1, less than the threshold
    lr * lam = 1: from the zero start every weight stays exactly zero, and the logged
    sparsity (share of exactly-zero weights) is 1."""
    model = LassoLogit(lam=10.0)
    quiet_trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=0, num_sanity_val_steps=0).fit(model, digits)
    assert model.weight.shape == (10, 784)
    assert bool((model.weight == 0).all())
    assert float(model.trainer.callback_metrics["sparsity"]) == 1.0
    # and lam 0 (plain softmax regression) leaves none at zero: the sparsity is the penalty's doing
    plain = LassoLogit(lam=0.0)
    quiet_trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=0, num_sanity_val_steps=0).fit(plain, digits)
    assert float(plain.trainer.callback_metrics["sparsity"]) < 0.5
